"""Carbon-neutrality claims through the executor: the inventory recomputed from the ledger,
coverage by retired credits, every refusal with its own code, the verifier's statement and
withdrawal, and the property that a retirement counts for at most one claim.

Every refusal runs alone in a block and must leave every key but the sender's nonce as it
was (``CarbonLedger.refuse``).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbon_support import (
    AUGUST,
    HOUR,
    JULY,
    JUNE,
    MAY,
    OTHER_HOUSE,
    PRODUCER,
    REGULATOR,
    VERIFIER,
    factor_set_body,
)
from claims_support import HOUR_WH, HOURS, ORG, SITE, ClaimLedger, claim_body
from gridledger.contracts import claims
from gridledger.contracts.claims import keys
from gridledger.core.errors import all_error_classes
from ledger_support import CONSUMER, GRID, meter_body, site_body
from support import OPERATOR, OPERATOR_ORG, key

OP_CONSUMER = "op-consumer"
OP_VERIFIER = "op-verifier"
JUNE_2026 = 1_780_272_000
"""2026-06-01 00:00 UTC: 12 months after May 2025 ended."""


@pytest.fixture
def led() -> ClaimLedger:
    return ClaimLedger().setup()


def add_account(led: ClaimLedger, account: str, roles: list[str]) -> None:
    led.ok(OPERATOR, "registry.add_account", {"account": account, "org": OPERATOR_ORG,
                                              "public_key": key(account).public_key,
                                              "roles": roles})  # fmt: skip


def make(led: ClaimLedger, sender: str = CONSUMER, **changes: Any) -> claims.Claim:
    body = claim_body(**changes)
    led.ok(sender, "claims.make", body)
    found = claims.get_claim(led.state, body["id"])
    assert found is not None
    return found


def test_a_claim_records_the_ledger_s_inventory_and_the_retirements(led: ClaimLedger) -> None:
    n = led.retire(1)
    claim = make(led, retirements=[n], scope3_g=100_000)
    grid = led.factor_set("cn-gd-2025-05").grid_average.g_per_mwh
    (month,) = claim.inventory.months
    used = HOURS * HOUR_WH
    assert (month.site, month.month, month.consumption_wh, month.covered_wh) == (
        SITE, "2025-05", used, 0)  # fmt: skip
    # the CN-GD set of May has no residual mix: the grid average stands in
    assert month.scope2_location_g == month.scope2_market_g == used * grid // 1_000_000
    inv = claim.inventory
    assert (inv.gas, inv.scope1_g, inv.scope3_g) == ("CO2", 0, 100_000)
    assert claim.residual_g == month.scope2_market_g + 100_000
    assert claim.required_t == 1
    assert claim.reduction_g == 500_000 - claim.residual_g
    assert (claim.org, claim.claimant, claim.sites, claim.status) == (ORG, CONSUMER, [SITE], "made")
    (r,) = claim.retirements
    assert (r.id, r.quantity_t, r.project) == (n, 1, "wf")
    assert r.serial.startswith("GLR-VER-CN-1-20250501-20250531-1-1-1")
    assert r.issued_height < led.height
    assert claims.claim_of_retirement(led.state, n) == claim.id
    assert [c.id for c in claims.list_claims(led.state, org=ORG).items] == [claim.id]
    assert claims.list_claims(led.state, org="auditors").items == []


def test_scope_1_counts_confirmed_activity_only(led: ClaimLedger) -> None:
    activity = {"id": "gas-may", "site": SITE, "month": "2025-05", "fuel": "natural_gas",
                "quantity": 10, "unit": "GJ"}  # fmt: skip
    led.ok(CONSUMER, "carbon.report_activity", activity)
    n = led.retire(1)
    led.ok(VERIFIER, "carbon.confirm_activity", {"org": ORG, "id": "gas-may"})
    claim = make(led, retirements=[n])
    g_per_gj = next(f.g_per_unit for f in led.factor_set("cn-gd-2025-05").fuels
                    if f.fuel == "natural_gas")  # fmt: skip
    assert claim.inventory.scope1_g == 10 * g_per_gj
    assert claim.residual_g == 10 * g_per_gj + claim.inventory.scope2_market_g


def test_an_organisation_claim_covers_every_site_and_a_product_its_listed_ones(
    led: ClaimLedger,
) -> None:
    led.site("home-2", "m-con2", region="CN-GD", owner=OTHER_HOUSE)
    a, b = led.retire(1), led.retire(1)
    whole = make(led, claim_id="org", retirements=[a],
                 subject={"type": "organisation", "id": ORG, "name": "Households"})  # fmt: skip
    assert whole.sites == [SITE, "home-2"]
    event = make(led, claim_id="fair", retirements=[b], sites=["home-2"],
                 subject={"type": "event", "id": "fair-2025", "name": "Spring fair"})  # fmt: skip
    assert event.sites == ["home-2"]
    assert event.inventory.scope2_market_g == 0


def test_bad_claims_are_refused_each_with_its_code(led: ClaimLedger) -> None:
    n = led.retire(1)
    bad = [
        (claim_body(plan_ref=""), "claims.invalid_claim"),
        (claim_body(retirements=[]), "claims.invalid_claim"),
        (claim_body(retirements=[n, n]), "claims.invalid_claim"),
        (claim_body(baseline_g=-1), "claims.invalid_claim"),
        (claim_body(sites=[SITE]), "claims.invalid_subject"),
        (claim_body(subject={"type": "product", "id": "p", "name": "P"}), "claims.invalid_subject"),
        (
            claim_body(subject={"type": "organisation", "id": "auditors", "name": "A"}),
            "claims.invalid_subject",
        ),
        (claim_body(subject={"type": "site", "id": "nope", "name": "N"}), "claims.unknown_site"),
        (claim_body(start_s=MAY + 1), "claims.bad_period"),
        (claim_body(start_s=JUNE, end_s=MAY), "claims.bad_period"),
        (claim_body(end_s=JULY), "claims.period_open"),
        (claim_body(retirements=[99]), "claims.unknown_retirement"),
        (claim_body(retirements=[n], scope3_g=5_000_000), "claims.not_covered"),
        (claim_body(id="Bad Id"), "registry.invalid_id"),
    ]
    for body, code in bad:
        led.refuse(CONSUMER, "claims.make", body, code)
    make(led, retirements=[n])
    led.refuse(CONSUMER, "claims.make", claim_body(retirements=[n]), "claims.claim_exists")
    led.refuse(CONSUMER, "claims.make", claim_body("again", retirements=[n]),
               "claims.retirement_used")  # fmt: skip


def test_retirements_must_be_the_claimant_s_for_the_period_in_time(led: ClaimLedger) -> None:
    other = led.retire(1, beneficiary="Shekou community centre")
    led.refuse(CONSUMER, "claims.make", claim_body(retirements=[other]), "claims.wrong_beneficiary")
    june = led.retire(1, claim_start_s=JUNE, claim_end_s=JULY)
    led.refuse(CONSUMER, "claims.make", claim_body(retirements=[june]), "claims.retirement_period")
    year = led.retire(1, claim_start_s=MAY, claim_end_s=AUGUST)
    led.refuse(CONSUMER, "claims.make", claim_body(retirements=[year], start_s=MAY, end_s=AUGUST),
               "claims.period_open")  # fmt: skip
    on_time = led.retire(1, block_time_ms=JUNE_2026 * 1000)
    late = led.retire(1, block_time_ms=(JUNE_2026 + 1) * 1000)
    led.refuse(CONSUMER, "claims.make", claim_body(retirements=[late]), "claims.retired_too_late",
               block_time_ms=(JUNE_2026 + 2) * 1000)  # fmt: skip
    led.ok(CONSUMER, "claims.make", claim_body(retirements=[on_time]),
           block_time_ms=(JUNE_2026 + 2) * 1000)  # fmt: skip


def test_foreign_sites_compliance_retirements_and_other_gases_do_not_count(
    led: ClaimLedger,
) -> None:
    add_account(led, OP_CONSUMER, ["consumer"])
    led.ok(OP_CONSUMER, "registry.register_site", site_body("op-site"))
    n = led.retire(1)
    led.refuse(CONSUMER, "claims.make",
               claim_body(retirements=[n], subject={"type": "site", "id": "op-site", "name": "O"}),
               "claims.foreign_site")  # fmt: skip
    # an emissions trading surrender retires credits too, but for an obligation
    serial = led.active_serial(PRODUCER)
    led.ok(PRODUCER, "credits.transfer", {"serial": serial, "to": OP_CONSUMER, "quantity_t": 5})
    period = {"id": "ets-2024", "start_s": MAY - 365 * 86_400, "end_s": MAY, "deadline_s": JULY}
    led.ok(REGULATOR, "allowances.open_period", period)
    led.ok(REGULATOR, "allowances.record_emissions",
           {"period": "ets-2024", "holder": OP_CONSUMER, "emissions_g": 100_000_000})  # fmt: skip
    surrender = {"period": "ets-2024", "serial": led.active_serial(OP_CONSUMER), "quantity_t": 5}
    led.ok(OP_CONSUMER, "allowances.surrender_credits", surrender)
    surrendered = n + 1
    op_claim = claim_body(retirements=[surrendered],
                          subject={"type": "site", "id": "op-site", "name": "O"})  # fmt: skip
    led.refuse(OP_CONSUMER, "claims.make", op_claim, "claims.compliance_retirement")
    # a CO2e factor set for home-2's region: its inventory is not in the credits' gas
    co2e = {"g_per_mwh": 600_000, "gas": "CO2e", "boundary": "combustion",
            "source": {"factor_id": "x", "publisher": "test", "document": "t-1", "year": 2023,
                       "geography": "CN-GZ"}}  # fmt: skip
    led.record_set(factor_set_body("gz-e", "CN-GZ", MAY, JUNE, gas="CO2e", grid_average=co2e,
                                   fuels=[]))  # fmt: skip
    led.site("home-2", "m-con2", region="CN-GZ", owner=OTHER_HOUSE)
    led.refuse(CONSUMER, "claims.make",
               claim_body(retirements=[n], subject={"type": "site", "id": "home-2", "name": "H"}),
               "claims.mixed_gas")  # fmt: skip


def test_a_verifier_of_another_organisation_states_its_opinion_once(led: ClaimLedger) -> None:
    claim = make(led, retirements=[led.retire(1)])
    statement = {"claim": claim.id, "opinion": "reasonable",
                 "statement": "VS-2025-07: fairly stated, ISO 14064-3"}  # fmt: skip
    led.refuse(CONSUMER, "claims.verify", statement, "auth.forbidden")
    led.refuse(VERIFIER, "claims.verify", {**statement, "claim": "nope"}, "claims.unknown_claim")
    led.refuse(VERIFIER, "claims.verify", {**statement, "statement": ""},
               "claims.invalid_statement")  # fmt: skip
    led.ok(VERIFIER, "claims.verify", statement)
    found = claims.get_claim(led.state, claim.id)
    assert found is not None
    assert found.statement is not None
    assert (found.status, found.statement.verifier, found.statement.org) == (
        "verified", VERIFIER, "auditors")  # fmt: skip
    led.refuse(VERIFIER, "claims.verify", statement, "claims.already_verified")


def test_own_verifiers_do_not_verify_and_withdrawn_claims_keep_their_retirements(
    led: ClaimLedger,
) -> None:
    add_account(led, OP_CONSUMER, ["consumer"])
    add_account(led, OP_VERIFIER, ["carbon_verifier"])
    led.ok(OP_CONSUMER, "registry.register_site", site_body("op-site"))
    n = led.retire(1, beneficiary=OPERATOR_ORG)
    body = claim_body("op", retirements=[n], subject={"type": "site", "id": "op-site", "name": "O"})
    led.ok(OP_CONSUMER, "claims.make", body)
    statement = {"claim": "op", "opinion": "limited", "statement": "seen"}
    led.refuse(OP_VERIFIER, "claims.verify", statement, "claims.self_verification")
    withdraw = {"claim": "op", "reason": "boundary left out the canteen"}
    led.refuse(CONSUMER, "claims.withdraw", withdraw, "claims.not_claimant")
    led.refuse(OP_CONSUMER, "claims.withdraw", {**withdraw, "reason": ""}, "claims.invalid_claim")
    led.ok(OP_CONSUMER, "claims.withdraw", withdraw)
    led.refuse(OP_CONSUMER, "claims.withdraw", withdraw, "claims.withdrawn")
    led.refuse(VERIFIER, "claims.verify", statement, "claims.withdrawn")
    found = claims.get_claim(led.state, "op")
    assert found is not None
    assert (found.status, found.withdrawn_reason) == ("withdrawn", withdraw["reason"])
    led.refuse(OP_CONSUMER, "claims.make", {**body, "id": "op-2"}, "claims.retirement_used")


def test_every_claims_error_has_a_documented_code() -> None:
    codes = {c.code for c in all_error_classes() if c.code.startswith("claims.")}
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "claims.md").read_text()
    assert codes
    assert all(f"`{code}`" in doc for code in codes), sorted(c for c in codes if c not in doc)


# a retirement counts for at most one claim -----------------------------------------------------
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.integers(1, 4), min_size=1, max_size=3, unique=True),
                min_size=1, max_size=5))  # fmt: skip
def test_a_retirement_is_used_by_at_most_one_claim(attempts: list[list[int]]) -> None:
    led = ClaimLedger().setup()
    for _ in range(4):
        led.retire(1)
    for i, retirements in enumerate(attempts):
        led.run(led.tx(CONSUMER, "claims.make", claim_body(f"c{i}", retirements=retirements)))
    made = claims.list_claims(led.state).items
    used = [r.id for c in made for r in c.retirements]
    assert len(used) == len(set(used))
    index = {int(k[len(keys.uses()) :]): v.decode() for k, v in led.state.scan(keys.uses())}
    assert index == {r.id: c.id for c in made for r in c.retirements}
    # every attempt whose retirements were all free succeeded
    free: set[int] = {1, 2, 3, 4}
    expected = []
    for i, retirements in enumerate(attempts):
        if free.issuperset(retirements):
            free -= set(retirements)
            expected.append(f"c{i}")
    assert sorted(c.id for c in made) == sorted(expected)


_ = (GRID, HOUR, meter_body)
