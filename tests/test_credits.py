"""Carbon credits through the executor: projects, verified monitoring periods, issuance in
serial blocks with a buffer pool share, transfer, split, retirement and cancellation.

Every refusal runs alone in a block and must leave every key but the sender's nonce as it
was (``CarbonLedger.refuse``), with its own error code. Expected reductions are computed
from the factor set the ledger stored, with the documented rounding (down, once per month).
"""

from __future__ import annotations

from typing import Any

import pytest

from carbon_support import (
    AUGUST,
    CERTIFIER,
    CONSUMER,
    DAY,
    JULY,
    JUNE,
    MAY,
    OTHER_HOUSE,
    PRODUCER,
    REGULATOR,
    VERIFIER,
    factor_set_body,
)
from credits_support import (
    DAY_WH,
    FARM,
    PROJECT,
    CreditLedger,
    check_registry,
    project_body,
)
from gridledger.contracts import credits
from gridledger.contracts.credits.errors import SerialOverlap
from gridledger.core.errors import InvalidTransaction, all_error_classes
from gridledger.node.cert_keeper import examine
from ledger_support import GRID, device_body
from support import OPERATOR, OPERATOR_ORG, key

OP_PRODUCER = "op-producer"
OP_VERIFIER = "op-verifier"


@pytest.fixture
def led() -> CreditLedger:
    """Guangdong's factors, the wind farm metered on three days of May, project ``wf``."""
    ledger = CreditLedger().guangdong().farm()
    ledger.windy(3)
    return ledger.project()


@pytest.fixture
def issued(led: CreditLedger) -> CreditLedger:
    """``led`` with May verified and all of it issued (1,320 t: 1,294 to house-00, 26 in the
    buffer pool at the default 2 %)."""
    led.verify("2025-05", MAY, JUNE)
    led.issue_credits("2025-05")
    return led


def retire_body(serial: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"serial": serial, "beneficiary": "Shekou community centre",
                            "reason": "operations of 2025 carbon neutral",
                            "claim_start_s": MAY, "claim_end_s": JUNE}  # fmt: skip
    body.update(changes)
    return body


def add_account(led: CreditLedger, account: str, roles: list[str]) -> None:
    led.ok(OPERATOR, "registry.add_account", {"account": account, "org": OPERATOR_ORG,
                                              "public_key": key(account).public_key,
                                              "roles": roles})  # fmt: skip


# projects ----------------------------------------------------------------------------------------
def test_a_project_is_registered_under_a_methodology_with_the_next_number(
    led: CreditLedger,
) -> None:
    found = credits.get_project(led.state, PROJECT)
    assert found is not None
    assert (found.number, found.owner, found.org, found.device) == (1, PRODUCER, "households", FARM)
    assert (found.methodology, found.country, found.grid_region) == ("CDM ACM0002", "CN", "CN-GD")
    assert found.baseline.startswith("grid electricity")
    led.ok(PRODUCER, "registry.register_device", device_body("pv-2"))
    led.ok(PRODUCER, "credits.register_project", project_body("pv", device="pv-2"))
    second = credits.get_project(led.state, "pv")
    assert second is not None
    assert second.number == 2
    assert credits.project_by_number(led.state, 2) == second
    assert [p.id for p in credits.list_projects(led.state).items] == ["pv", PROJECT]


def test_bad_projects_are_refused(led: CreditLedger) -> None:
    register = "credits.register_project"
    led.refuse(PRODUCER, register, project_body(), "credits.project_exists")
    led.refuse(PRODUCER, register, project_body("x", device="nope"), "credits.unknown_device")
    led.refuse(PRODUCER, register, project_body("x"), "credits.device_in_project")
    led.refuse(PRODUCER, register, project_body("x", methodology=""), "credits.invalid_project")
    led.refuse(PRODUCER, register, project_body("X Y"), "registry.invalid_id")
    led.refuse(GRID, register, project_body("x"), "auth.forbidden")
    led.storage()
    led.refuse(PRODUCER, register, project_body("x", device="bat-1"), "credits.ineligible_device")
    add_account(led, OP_PRODUCER, ["producer"])
    led.refuse(OP_PRODUCER, register, project_body("x"), "credits.foreign_device")


# verification ------------------------------------------------------------------------------------
def test_a_period_s_reductions_are_metered_generation_times_the_grid_factor(
    led: CreditLedger,
) -> None:
    led.verify("2025-05", MAY, JUNE)
    (period,) = credits.periods_of(led.state, PROJECT)
    factor = led.factor_set("cn-gd-2025-05").grid_average.g_per_mwh
    (month,) = period.months
    assert (month.month, month.measured_wh, month.certified_wh) == ("2025-05", 3 * DAY_WH, 0)
    assert month.missing_intervals == 31 - 3
    assert month.reduction_g == 3 * DAY_WH * factor // 1_000_000
    assert period.verified_t == month.reduction_g // 1_000_000
    assert (period.gas, period.verifier, period.issued_t) == ("CO2", VERIFIER, 0)
    project = credits.get_project(led.state, PROJECT)
    assert project is not None
    assert project.verified_t == period.verified_t


def test_two_months_use_each_month_s_factor_set(led: CreditLedger) -> None:
    led.windy(2, start=JUNE)
    # June has not ended at block time: verify both months a month later
    body = {"project": PROJECT, "id": "may-june", "start_s": MAY, "end_s": JULY}
    led.ok(VERIFIER, "credits.verify_period", body, block_time_ms=JULY * 1000)
    (period,) = credits.periods_of(led.state, PROJECT)
    may, june = period.months
    assert (may.factor_set, june.factor_set) == ("cn-gd-2025-05", "cn-gd-2025-06")
    assert june.reduction_g == 2 * DAY_WH * june.g_per_mwh // 1_000_000
    assert period.verified_t == (may.reduction_g + june.reduction_g) // 1_000_000


def test_bad_verifications_are_refused(led: CreditLedger) -> None:
    verify = "credits.verify_period"
    body = {"project": PROJECT, "id": "p", "start_s": MAY, "end_s": JUNE}
    led.refuse(PRODUCER, verify, body, "auth.forbidden")
    led.refuse(REGULATOR, verify, body, "auth.forbidden")
    led.refuse(VERIFIER, verify, {**body, "project": "nope"}, "credits.unknown_project")
    led.refuse(VERIFIER, verify, {**body, "start_s": MAY + DAY}, "credits.bad_period")
    led.refuse(VERIFIER, verify, {**body, "end_s": MAY}, "credits.bad_period")
    led.refuse(VERIFIER, verify, {**body, "start_s": JUNE, "end_s": JULY}, "credits.period_open")
    led.ok(VERIFIER, verify, body)
    led.refuse(VERIFIER, verify, body, "credits.period_exists")
    later = {**body, "id": "p2", "end_s": AUGUST}
    led.refuse(VERIFIER, verify, later, "credits.period_overlap", block_time_ms=AUGUST * 1000)


def test_a_verifier_never_verifies_or_issues_for_its_own_organisation(led: CreditLedger) -> None:
    add_account(led, OP_PRODUCER, ["producer"])
    add_account(led, OP_VERIFIER, ["carbon_verifier"])
    led.ok(OP_PRODUCER, "registry.register_device", device_body("op-pv"))
    led.ok(OP_PRODUCER, "credits.register_project", project_body("op", device="op-pv"))
    body = {"project": "op", "id": "p", "start_s": MAY, "end_s": JUNE}
    led.refuse(OP_VERIFIER, "credits.verify_period", body, "credits.self_verification")
    led.verify("p", MAY, JUNE, project="op")
    led.refuse(OP_VERIFIER, "credits.issue", {"project": "op", "period": "p"},
               "credits.self_verification")  # fmt: skip


def test_no_factor_set_for_the_plant_s_region_refuses_verification(led: CreditLedger) -> None:
    body = device_body("kr-wind", technology="wind_onshore", fuel="wind", country="KR",
                       grid_region="KR")  # fmt: skip
    led.ok(PRODUCER, "registry.register_device", body)
    led.ok(PRODUCER, "credits.register_project", project_body("kr", device="kr-wind"))
    body = {"project": "kr", "id": "p", "start_s": MAY, "end_s": JUNE}
    led.refuse(VERIFIER, "credits.verify_period", body, "carbon.no_factor")


# issuance ----------------------------------------------------------------------------------------
def test_issuance_makes_a_serial_batch_with_the_buffer_share_apart(issued: CreditLedger) -> None:
    period = credits.periods_of(issued.state, PROJECT)[0]
    owner, buffer = issued.blocks()
    assert owner.serial() == "GLR-VER-CN-1-20250501-20250531-1-1-1294"
    assert buffer.serial() == "GLR-VER-CN-1-20250501-20250531-1-1295-1320"
    assert period.verified_t == 1320
    assert (owner.status, owner.holder, buffer.status, buffer.holder) == (
        "active", PRODUCER, "buffer", None,
    )  # fmt: skip
    assert buffer.quantity_t == 1320 * 20_000 // 1_000_000
    assert issued.held(PRODUCER) == [owner]
    assert credits.find(issued.state, owner.serial()) == owner
    project = credits.get_project(issued.state, PROJECT)
    assert project is not None
    assert (project.issued_t, project.buffer_t, project.batches, project.last_unit) == (
        1320, 26, 1, 1320,
    )  # fmt: skip
    check_registry(issued.state)


def test_partial_issuances_continue_the_serials_in_new_batches(led: CreditLedger) -> None:
    led.ok(REGULATOR, "credits.set_params", {"buffer_ppm": 100_000})
    led.verify("2025-05", MAY, JUNE)
    led.issue_credits("2025-05", quantity_t=1000, first=1)
    led.issue_credits("2025-05", first=1001)
    serials = [b.serial() for b in led.blocks()]
    assert serials == [
        "GLR-VER-CN-1-20250501-20250531-1-1-900",
        "GLR-VER-CN-1-20250501-20250531-1-901-1000",
        "GLR-VER-CN-1-20250501-20250531-2-1001-1288",
        "GLR-VER-CN-1-20250501-20250531-2-1289-1320",
    ]
    check_registry(led.state)


def test_issuance_beyond_verified_reductions_or_over_issued_serials_is_refused(
    led: CreditLedger,
) -> None:
    issue = "credits.issue"
    body = {"project": PROJECT, "period": "2025-05"}
    led.refuse(VERIFIER, issue, body, "credits.unknown_period")
    led.verify("2025-05", MAY, JUNE)
    led.refuse(PRODUCER, issue, body, "auth.forbidden")
    led.refuse(REGULATOR, issue, body, "auth.forbidden")
    led.refuse(VERIFIER, issue, {**body, "quantity_t": 1321}, "credits.exceeds_verified")
    led.refuse(VERIFIER, issue, {**body, "quantity_t": 0}, "credits.bad_quantity")
    led.refuse(VERIFIER, issue, {**body, "first": 2}, "credits.serial_gap")
    led.issue_credits("2025-05", quantity_t=1300)
    led.refuse(VERIFIER, issue, {**body, "quantity_t": 21}, "credits.exceeds_verified")
    message = led.refuse(VERIFIER, issue, {**body, "first": 1300}, "credits.serial_overlap")
    assert "1300" in message
    led.issue_credits("2025-05")
    led.refuse(VERIFIER, issue, body, "credits.exceeds_verified")
    check_registry(led.state)


# transfer, split, retire, cancel -----------------------------------------------------------------
def test_transfer_of_part_of_a_block_splits_it(issued: CreditLedger) -> None:
    serial = issued.active_serial(PRODUCER)
    issued.ok(PRODUCER, "credits.transfer", {"serial": serial, "to": CONSUMER, "quantity_t": 100})
    (theirs,) = issued.held(CONSUMER)
    (mine,) = issued.held(PRODUCER)
    assert theirs.serial() == "GLR-VER-CN-1-20250501-20250531-1-1-100"
    assert mine.serial() == "GLR-VER-CN-1-20250501-20250531-1-101-1294"
    assert [b.serial() for b in credits.lookup_serial(issued.state, serial)] == [
        theirs.serial(), mine.serial(),
    ]  # fmt: skip
    issued.ok(CONSUMER, "credits.transfer", {"serial": theirs.serial(), "to": OTHER_HOUSE})
    assert issued.held(CONSUMER) == []
    assert [b.quantity_t for b in issued.held(OTHER_HOUSE)] == [100]
    check_registry(issued.state)


def test_split_keeps_both_parts(issued: CreditLedger) -> None:
    serial = issued.active_serial(PRODUCER)
    issued.ok(PRODUCER, "credits.split", {"serial": serial, "quantity_t": 10})
    assert [b.quantity_t for b in issued.held(PRODUCER)] == [10, 1284]
    check_registry(issued.state)


def test_retirement_records_beneficiary_reason_and_claim_period(issued: CreditLedger) -> None:
    serial = issued.active_serial(PRODUCER)
    issued.ok(PRODUCER, "credits.retire", retire_body(serial, quantity_t=5))
    retirement = credits.get_retirement(issued.state, 1)
    assert retirement is not None
    assert retirement.serial == "GLR-VER-CN-1-20250501-20250531-1-1-5"
    assert (retirement.quantity_t, retirement.holder) == (5, PRODUCER)
    assert retirement.beneficiary == "Shekou community centre"
    assert (retirement.claim_start_s, retirement.claim_end_s) == (MAY, JUNE)
    block = credits.find(issued.state, retirement.serial)
    assert (block.status, block.retirement, block.holder) == ("retired", 1, PRODUCER)
    assert credits.list_retirements(issued.state, beneficiary="Shekou community centre") == [
        retirement
    ]
    assert [b.quantity_t for b in issued.held(PRODUCER)] == [1289]
    check_registry(issued.state)


def test_holders_cannot_use_credits_they_do_not_hold_or_that_are_final(
    issued: CreditLedger,
) -> None:
    serial = issued.active_serial(PRODUCER)
    buffer = issued.blocks()[-1].serial()
    transfer = {"serial": serial, "to": CONSUMER}
    issued.refuse(CONSUMER, "credits.transfer", transfer, "credits.not_holder")
    issued.refuse(CONSUMER, "credits.retire", retire_body(serial), "credits.not_holder")
    issued.refuse(CONSUMER, "credits.split", {"serial": serial, "quantity_t": 1},
                  "credits.not_holder")  # fmt: skip
    issued.refuse(PRODUCER, "credits.transfer", {**transfer, "serial": buffer}, "credits.in_buffer")
    issued.refuse(PRODUCER, "credits.transfer", {**transfer, "to": "nobody"},
                  "registry.unknown_account")  # fmt: skip
    issued.refuse(PRODUCER, "credits.transfer", {**transfer, "quantity_t": 1295},
                  "credits.bad_quantity")  # fmt: skip
    issued.refuse(PRODUCER, "credits.split", {"serial": serial, "quantity_t": 1294},
                  "credits.bad_quantity")  # fmt: skip
    issued.refuse(PRODUCER, "credits.retire", retire_body(serial, reason=""),
                  "credits.invalid_retirement")  # fmt: skip
    issued.refuse(PRODUCER, "credits.retire", retire_body(serial, claim_end_s=MAY),
                  "credits.invalid_retirement")  # fmt: skip
    issued.refuse(PRODUCER, "credits.transfer", {**transfer, "serial": "GLR-VER-CN-1-x"},
                  "credits.unknown_serial")  # fmt: skip
    issued.ok(PRODUCER, "credits.retire", retire_body(serial, quantity_t=4))
    # the old serial names no block any more: its parts have serials of their own
    issued.refuse(PRODUCER, "credits.retire", retire_body(serial), "credits.unknown_serial")
    retired = credits.lookup_serial(issued.state, serial)[0].serial()
    issued.refuse(PRODUCER, "credits.retire", retire_body(retired), "credits.already_retired")
    issued.refuse(PRODUCER, "credits.transfer", {**transfer, "serial": retired},
                  "credits.already_retired")  # fmt: skip
    issued.refuse(VERIFIER, "credits.cancel", {"serial": retired, "reason": "double counted"},
                  "credits.already_retired")  # fmt: skip
    check_registry(issued.state)


def test_a_verifier_cancels_with_a_reason_apart_from_retirement(issued: CreditLedger) -> None:
    serial = issued.active_serial(PRODUCER)
    buffer = issued.blocks()[-1].serial()
    cancel = {"serial": serial, "reason": "meter m-wf over-read in May", "quantity_t": 50}
    issued.refuse(PRODUCER, "credits.cancel", cancel, "auth.forbidden")
    issued.refuse(VERIFIER, "credits.cancel", {**cancel, "reason": ""},
                  "credits.invalid_cancellation")  # fmt: skip
    issued.ok(VERIFIER, "credits.cancel", cancel)
    gone = credits.lookup_serial(issued.state, serial)[0]
    assert (gone.status, gone.cancelled_by, gone.quantity_t) == ("cancelled", VERIFIER, 50)
    assert gone.cancel_reason == "meter m-wf over-read in May"
    assert credits.list_retirements(issued.state) == []
    issued.refuse(PRODUCER, "credits.retire", retire_body(gone.serial()),
                  "credits.already_cancelled")  # fmt: skip
    # a reversal is drawn from the buffer pool
    issued.ok(VERIFIER, "credits.cancel", {"serial": buffer, "reason": "reversal", "quantity_t": 6})
    totals = credits.project_totals(issued.state, PROJECT)
    assert (totals.issued_t, totals.active_t, totals.buffer_t, totals.retired_t,
            totals.cancelled_t) == (1320, 1244, 20, 0, 56)  # fmt: skip
    check_registry(issued.state)


def test_parameters_are_the_regulator_s(led: CreditLedger) -> None:
    assert credits.params(led.state).buffer_ppm == 20_000
    led.refuse(PRODUCER, "credits.set_params", {"buffer_ppm": 0}, "auth.forbidden")
    led.refuse(REGULATOR, "credits.set_params", {"buffer_ppm": 500_001}, "credits.invalid_params")
    led.ok(REGULATOR, "credits.set_params", {"buffer_ppm": 0})
    led.verify("2025-05", MAY, JUNE)
    led.issue_credits("2025-05")
    assert [b.status for b in led.blocks()] == ["active"]


def test_every_credits_code_is_its_own() -> None:
    codes = [c.code for c in all_error_classes() if c.code.startswith("credits.")]
    assert len(codes) == len(set(codes)) >= 20
    assert issubclass(SerialOverlap, InvalidTransaction)


# certificates and credits never count the same energy --------------------------------------
def test_certified_energy_earns_no_credit_and_credited_months_no_certificates() -> None:
    led = CreditLedger().guangdong()
    led.plant()  # pv-1, house-00's 10 kW PV with the 15-minute meter m-gen
    noon = MAY + 14 * DAY + 12 * 3600
    led.generate("m-gen", noon, [2000] * 4)
    led.generate("m-gen", noon + 3600, [1500] * 4)
    led.issue("pv-1", [noon])
    led.ok(PRODUCER, "credits.register_project", project_body("pv", device="pv-1"))
    led.verify("2025-05", MAY, JUNE, project="pv")
    (month,) = credits.periods_of(led.state, "pv")[0].months
    assert (month.measured_wh, month.certified_wh, month.credited_wh) == (14_000, 8_000, 6_000)
    issue = {"device": "pv-1", "to": PRODUCER, "starts": [noon + 3600]}
    led.refuse(CERTIFIER, "certificates.issue", issue, "certificates.credited_month")
    gec = {"gec": "gec-1", "project": "p", "device": "pv-1", "month": "2025-05",
           "tradable": True, "owner": PRODUCER}  # fmt: skip
    led.refuse(CERTIFIER, "certificates.record_gec", gec, "certificates.credited_month")
    # a certifier's keeper does not offer the month either
    (interval,) = examine(led.state, "pv-1", [noon + 3600], 3600)
    assert interval.state == "credited"
    led.generate("m-gen", JUNE + 12 * 3600, [1000] * 4)
    led.issue("pv-1", [JUNE + 12 * 3600])  # June was not credited


def test_a_period_whose_factor_sets_mix_gases_is_refused(led: CreditLedger) -> None:
    co2e = factor_set_body("cn-gd-2025-08", "CN-GD", AUGUST, AUGUST + 31 * DAY, gas="CO2e",
                           fuels=[])  # fmt: skip
    co2e["grid_average"] = {**co2e["grid_average"], "gas": "CO2e"}
    led.record_set(co2e)
    body = {"project": PROJECT, "id": "q3", "start_s": JULY, "end_s": AUGUST + 31 * DAY}
    led.refuse(VERIFIER, "credits.verify_period", body, "credits.mixed_gas",
               block_time_ms=(AUGUST + 31 * DAY) * 1000)  # fmt: skip
