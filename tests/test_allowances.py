"""Allowances through the executor: compliance periods, allocation (free, benchmark,
auction), transfers, verified emissions, surrender of allowances and of credits within the
regulator's quota, deadlines by block time, banking, and compliance status.

Every refusal runs alone in a block and must leave every key but the sender's nonce as it
was, with its own error code.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbon_support import CONSUMER, JUNE, MAY, OTHER_HOUSE, PRODUCER, REGULATOR
from credits_support import CreditLedger
from gridledger.contracts import allowances, credits
from gridledger.core.errors import all_error_classes
from ledger_support import BLOCK_TIME_MS
from support import OPERATOR, OPERATOR_ORG, key

JAN_2024 = 1_704_067_200
JAN_2025 = 1_735_689_600
JAN_2026 = 1_767_225_600
DEC_31_2025 = JAN_2026 - 86_400
EMITTER = "power-co"
"""A compliance entity of the operator's organisation (so the wind farm's credits are
eligible for it)."""
AFTER_DEADLINE_MS = JAN_2026 * 1000


def period_body(period: str = "ets-2024", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": period, "start_s": JAN_2024, "end_s": JAN_2025,
                            "deadline_s": DEC_31_2025}  # fmt: skip
    body.update(changes)
    return body


def free(to: str, quantity: int, period: str = "ets-2024") -> dict[str, Any]:
    return {"period": period, "to": to, "method": "free", "quantity_t": quantity}


class EtsLedger(CreditLedger):
    def emitter(self) -> EtsLedger:
        self.ok(OPERATOR, "registry.add_account", {"account": EMITTER, "org": OPERATOR_ORG,
                                                   "public_key": key(EMITTER).public_key,
                                                   "roles": []})  # fmt: skip
        return self

    def status(self, holder: str = EMITTER, period: str = "ets-2024",
               time_s: int = BLOCK_TIME_MS // 1000) -> allowances.ComplianceStatus:  # fmt: skip
        return allowances.status(self.state, period, holder, time_s)

    def credits_for_emitter(self) -> str:
        """The wind farm's May credits issued, 300 t of them transferred to the emitter;
        their serial."""
        self.guangdong().farm()
        self.windy(3)
        self.project()
        self.verify("2025-05", MAY, JUNE)
        self.issue_credits("2025-05")
        serial = self.active_serial(PRODUCER)
        self.ok(PRODUCER, "credits.transfer", {"serial": serial, "to": EMITTER, "quantity_t": 300})
        return self.active_serial(EMITTER)


@pytest.fixture
def led() -> EtsLedger:
    """Period ets-2024 open (5 % credit quota, banking), the emitter given 1,000 t free and
    its verified 2024 emissions recorded: 1,000.5 t, an obligation of 1,001 t."""
    ledger = EtsLedger().emitter()
    ledger.ok(REGULATOR, "allowances.open_period", period_body())
    ledger.ok(REGULATOR, "allowances.allocate", free(EMITTER, 1000))
    body = {"period": "ets-2024", "holder": EMITTER, "emissions_g": 1_000_500_000}
    ledger.ok(REGULATOR, "allowances.record_emissions", body)
    return ledger


def test_periods_are_opened_by_the_regulator_with_a_5_percent_default_quota() -> None:
    ledger = EtsLedger()
    ledger.refuse(PRODUCER, "allowances.open_period", period_body(), "auth.forbidden")
    for bad in ({"end_s": JAN_2024}, {"deadline_s": JAN_2025 - 1},
                {"credit_quota_ppm": 1_000_001}):  # fmt: skip
        ledger.refuse(REGULATOR, "allowances.open_period", period_body(**bad),
                      "allowances.invalid_period")  # fmt: skip
    ledger.ok(REGULATOR, "allowances.open_period", period_body())
    ledger.refuse(REGULATOR, "allowances.open_period", period_body(), "allowances.period_exists")
    found = allowances.get_period(ledger.state, "ets-2024")
    assert found is not None
    assert (found.credit_quota_ppm, found.banking) == (50_000, True)


def test_allocation_free_by_benchmark_or_auction(led: EtsLedger) -> None:
    bench = {"period": "ets-2024", "to": CONSUMER, "method": "benchmark",
             "activity": 2_000, "benchmark_g_per_unit": 877_500}  # fmt: skip
    led.ok(REGULATOR, "allowances.allocate", bench)
    auction = {"period": "ets-2024", "to": CONSUMER, "method": "auction", "quantity_t": 50,
               "price_fen_per_t": 9_850}  # fmt: skip
    led.ok(REGULATOR, "allowances.allocate", auction)
    assert allowances.balance(led.state, "ets-2024", CONSUMER) == 2_000 * 877_500 // 10**6 + 50
    assert allowances.balances(led.state, "ets-2024") == {CONSUMER: 1805, EMITTER: 1000}
    period = allowances.get_period(led.state, "ets-2024")
    assert period is not None
    assert (period.allocated_t, period.allocations) == (2805, 3)


def test_bad_allocations_are_refused(led: EtsLedger) -> None:
    allocate = "allowances.allocate"
    led.refuse(PRODUCER, allocate, free(CONSUMER, 10), "auth.forbidden")
    led.refuse(REGULATOR, allocate, free(CONSUMER, 10, "nope"), "allowances.unknown_period")
    led.refuse(REGULATOR, allocate, free("nobody", 10), "registry.unknown_account")
    led.refuse(REGULATOR, allocate, free(CONSUMER, 0), "allowances.invalid_allocation")
    led.refuse(REGULATOR, allocate, {**free(CONSUMER, 5), "method": "auction"},
               "allowances.invalid_allocation")  # fmt: skip
    led.refuse(REGULATOR, allocate, {**free(CONSUMER, 5), "method": "benchmark"},
               "allowances.invalid_allocation")  # fmt: skip
    led.refuse(REGULATOR, allocate, free(CONSUMER, 10), "allowances.deadline_passed",
               block_time_ms=AFTER_DEADLINE_MS)  # fmt: skip


def test_verified_emissions_are_recorded_once_after_the_period(led: EtsLedger) -> None:
    record = "allowances.record_emissions"
    body = {"period": "ets-2024", "holder": EMITTER, "emissions_g": 5}
    led.refuse(PRODUCER, record, body, "auth.forbidden")
    led.refuse(REGULATOR, record, body, "allowances.emissions_recorded")
    led.refuse(REGULATOR, record, {**body, "holder": CONSUMER, "emissions_g": -1},
               "allowances.invalid_emissions")  # fmt: skip
    later = period_body("ets-2025", start_s=JAN_2025, end_s=JAN_2026, deadline_s=JAN_2026)
    led.ok(REGULATOR, "allowances.open_period", later)
    led.refuse(REGULATOR, record, {**body, "period": "ets-2025"}, "allowances.period_open")
    compliance = allowances.get_compliance(led.state, "ets-2024", EMITTER)
    assert compliance is not None
    assert compliance.obligation_t == 1001


def test_surrendering_allowances_until_compliant(led: EtsLedger) -> None:
    assert led.status().status == "open"
    assert led.status().shortfall_t == 1001
    led.ok(EMITTER, "allowances.surrender", {"period": "ets-2024", "quantity_t": 1000})
    status = led.status()
    assert (status.status, status.shortfall_t, status.balance_t) == ("open", 1, 0)
    assert led.status(time_s=DEC_31_2025).status == "non_compliant"
    led.ok(REGULATOR, "allowances.allocate", free(EMITTER, 1))
    led.ok(EMITTER, "allowances.surrender", {"period": "ets-2024", "quantity_t": 1})
    assert led.status().status == "compliant"
    assert led.status(time_s=DEC_31_2025).status == "compliant"
    assert led.status(CONSUMER).status == "no_emissions"
    period = allowances.get_period(led.state, "ets-2024")
    assert period is not None
    assert (period.allocated_t, period.surrendered_t) == (1001, 1001)
    assert [s.holder for s in allowances.statuses(led.state, "ets-2024", 0)] == [EMITTER]


def test_bad_surrenders_are_refused(led: EtsLedger) -> None:
    surrender = "allowances.surrender"
    body = {"period": "ets-2024", "quantity_t": 10}
    led.refuse(CONSUMER, surrender, body, "allowances.no_verified_emissions")
    led.refuse(EMITTER, surrender, {**body, "quantity_t": 1001}, "allowances.insufficient")
    led.refuse(EMITTER, surrender, body, "allowances.deadline_passed",
               block_time_ms=AFTER_DEADLINE_MS)  # fmt: skip
    led.refuse(EMITTER, surrender, {**body, "quantity_t": 0}, "allowances.bad_quantity")
    led.ok(REGULATOR, "allowances.allocate", free(EMITTER, 10))
    led.ok(EMITTER, surrender, {**body, "quantity_t": 1001})
    led.refuse(EMITTER, surrender, {**body, "quantity_t": 1}, "allowances.over_surrender")


def test_banking_forward_but_never_borrowing(led: EtsLedger) -> None:
    led.ok(REGULATOR, "allowances.open_period",
           period_body("ets-2025", start_s=JAN_2025, end_s=JUNE, deadline_s=JAN_2026))  # fmt: skip
    led.ok(REGULATOR, "allowances.open_period",
           period_body("ets-2023", start_s=JAN_2024 - 31_536_000, end_s=JAN_2024,
                       deadline_s=JAN_2026, banking=False))  # fmt: skip
    led.ok(REGULATOR, "allowances.allocate", free(EMITTER, 50, "ets-2025"))
    led.ok(REGULATOR, "allowances.allocate", free(EMITTER, 50, "ets-2023"))
    body = {"period": "ets-2024", "quantity_t": 5}
    led.refuse(EMITTER, "allowances.surrender", {**body, "vintage": "ets-2025"},
               "allowances.borrowing")  # fmt: skip
    led.refuse(EMITTER, "allowances.surrender", {**body, "vintage": "ets-2023"},
               "allowances.banking_not_allowed")  # fmt: skip
    led.refuse(EMITTER, "allowances.surrender", {**body, "vintage": "nope"},
               "allowances.unknown_period")  # fmt: skip
    led.ok(REGULATOR, "allowances.record_emissions",
           {"period": "ets-2025", "holder": EMITTER, "emissions_g": 60_000_000})  # fmt: skip
    led.ok(EMITTER, "allowances.surrender", {"period": "ets-2025", "quantity_t": 10,
                                             "vintage": "ets-2024"})  # fmt: skip
    assert allowances.balance(led.state, "ets-2024", EMITTER) == 990
    assert led.status(period="ets-2025").allowances_t == 10


def test_credits_cover_the_obligation_up_to_the_quota(led: EtsLedger) -> None:
    serial = led.credits_for_emitter()
    limit = led.status().credit_limit_t
    assert limit == 1001 * 50_000 // 1_000_000 == 50
    body = {"period": "ets-2024", "serial": serial, "quantity_t": 51}
    led.refuse(EMITTER, "allowances.surrender_credits", body, "allowances.credit_quota_exceeded")
    led.refuse(EMITTER, "allowances.surrender_credits", {**body, "quantity_t": 10},
               "allowances.deadline_passed", block_time_ms=AFTER_DEADLINE_MS)  # fmt: skip
    led.ok(EMITTER, "allowances.surrender_credits", {**body, "quantity_t": 40})
    serial = led.active_serial(EMITTER)
    led.refuse(EMITTER, "allowances.surrender_credits", {**body, "serial": serial,
                                                         "quantity_t": 11},
               "allowances.credit_quota_exceeded")  # fmt: skip
    led.ok(EMITTER, "allowances.surrender_credits", {**body, "serial": serial, "quantity_t": 10})
    (first, second) = credits.list_retirements(led.state)
    assert (first.quantity_t, first.compliance_period, first.beneficiary) == (40, "ets-2024",
                                                                             EMITTER)  # fmt: skip
    assert (first.claim_start_s, first.claim_end_s) == (JAN_2024, JAN_2025)
    status = led.status()
    assert (status.credits_t, status.shortfall_t) == (50, 951)
    compliance = allowances.get_compliance(led.state, "ets-2024", EMITTER)
    assert compliance is not None
    assert compliance.retirements == [first.id, second.id]
    retired = credits.find(led.state, first.serial)
    led.refuse(EMITTER, "allowances.surrender_credits", {**body, "serial": retired.serial()},
               "credits.already_retired")  # fmt: skip


def test_credits_of_others_or_of_the_holder_s_own_projects_are_refused(led: EtsLedger) -> None:
    serial = led.credits_for_emitter()
    led.ok(REGULATOR, "allowances.record_emissions",
           {"period": "ets-2024", "holder": PRODUCER, "emissions_g": 10**9})  # fmt: skip
    body = {"period": "ets-2024", "serial": serial, "quantity_t": 1}
    led.refuse(PRODUCER, "allowances.surrender_credits", body, "credits.not_holder")
    own = {**body, "serial": led.active_serial(PRODUCER)}
    led.refuse(PRODUCER, "allowances.surrender_credits", own, "allowances.ineligible_credit")


def test_transfers_move_allowances_of_a_vintage(led: EtsLedger) -> None:
    body = {"period": "ets-2024", "to": OTHER_HOUSE, "quantity_t": 400}
    led.ok(EMITTER, "allowances.transfer", body)
    led.refuse(EMITTER, "allowances.transfer", {**body, "quantity_t": 601},
               "allowances.insufficient")  # fmt: skip
    led.refuse(EMITTER, "allowances.transfer", {**body, "to": "nobody"},
               "registry.unknown_account")  # fmt: skip
    led.refuse(EMITTER, "allowances.transfer", {**body, "quantity_t": -1},
               "allowances.bad_quantity")  # fmt: skip
    assert allowances.balances(led.state, "ets-2024") == {EMITTER: 600, OTHER_HOUSE: 400}


HOLDERS = (EMITTER, CONSUMER, OTHER_HOUSE)
# fmt: off
step = st.one_of(
    st.tuples(st.just("allocate"), st.sampled_from(HOLDERS), st.integers(1, 500)),
    st.tuples(st.just("transfer"), st.sampled_from(HOLDERS), st.sampled_from(HOLDERS),
              st.integers(1, 800)),
    st.tuples(st.just("surrender"), st.integers(1, 800)),
)
# fmt: on


@settings(max_examples=25, deadline=None)
@given(steps=st.lists(step, max_size=10))
def test_allowances_are_conserved(steps: list[tuple[Any, ...]]) -> None:
    """Allocated = held + surrendered, and balances follow a model, whatever happens."""
    ledger = EtsLedger().emitter()
    ledger.ok(REGULATOR, "allowances.open_period", period_body())
    ledger.ok(REGULATOR, "allowances.record_emissions",
              {"period": "ets-2024", "holder": EMITTER, "emissions_g": 900_000_000})  # fmt: skip
    model = dict.fromkeys(HOLDERS, 0)
    owed = 900
    for s in steps:
        if s[0] == "allocate":
            ledger.ok(REGULATOR, "allowances.allocate", free(s[1], s[2]))
            model[s[1]] += s[2]
        elif s[0] == "transfer":
            body = {"period": "ets-2024", "to": s[2], "quantity_t": s[3]}
            if model[s[1]] >= s[3]:
                ledger.ok(s[1], "allowances.transfer", body)
                model[s[1]] -= s[3]
                model[s[2]] += s[3]
            else:
                ledger.refuse(s[1], "allowances.transfer", body, "allowances.insufficient")
        else:
            body = {"period": "ets-2024", "quantity_t": s[1]}
            if s[1] > owed:
                ledger.refuse(EMITTER, "allowances.surrender", body, "allowances.over_surrender")
            elif s[1] > model[EMITTER]:
                ledger.refuse(EMITTER, "allowances.surrender", body, "allowances.insufficient")
            else:
                ledger.ok(EMITTER, "allowances.surrender", body)
                model[EMITTER] -= s[1]
                owed -= s[1]
        period = allowances.get_period(ledger.state, "ets-2024")
        assert period is not None
        held = allowances.balances(ledger.state, "ets-2024")
        assert held == {h: n for h, n in model.items() if n}
        assert period.allocated_t == sum(held.values()) + period.surrendered_t
        assert ledger.status().shortfall_t == owed


def test_every_allowances_code_is_its_own() -> None:
    codes = [c.code for c in all_error_classes() if c.code.startswith("allowances.")]
    assert len(codes) == len(set(codes)) >= 15
