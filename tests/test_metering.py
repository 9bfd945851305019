"""Metering: readings checked one by one, plausibility limits, corrections, parameters.

Through the block executor. A batch's receipt is ``ok`` however many readings it refused; the
refused ones change nothing and are listed in its events with index, code and message. The
plausibility limits are recomputed here with exact fractions from the formula in the
contract's documentation, and each is checked at its boundary (limit accepted, limit + 1
refused). A property test runs random batches against a brute-force model of the rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridledger.contracts import metering
from gridledger.contracts.base import get_kind
from gridledger.contracts.chain import nonce_key
from gridledger.contracts.rules import Rules
from gridledger.core.encoding import decode_json
from gridledger.core.errors import InvalidTransaction
from gridledger.core.types import Receipt, Transaction
from gridledger.node.executor import prepare
from ledger_support import (
    BLOCK_TIME_MS,
    BLOCK_TIME_S,
    CONSUMER,
    GRID,
    GW1,
    GW2,
    PRODUCER,
    Ledger,
    days_before,
    device_body,
    meter_body,
    reading,
    site_body,
    unchecked,
)
from support import OPERATOR

QUARTER = 900
HOUR = 3600
DAY = 86400
T0 = BLOCK_TIME_S - 8 * QUARTER
"""Two hours before block time, aligned to every interval length but a day."""


def expected_generation_limit(
    capacity_w: int, length_s: int, age_days: int, margin_pct: int = 110, permille: int = 5
) -> int:
    """The documented formula with exact fractions, floored once at the end."""
    age_years = max(age_days, 0) // 365
    derate = Fraction(max(1000 - permille * age_years, 0), 1000)
    return math.floor(Fraction(capacity_w * length_s, 3600) * Fraction(margin_pct, 100) * derate)


PV1_AGE_DAYS = 1111  # 2022-06-01 to 2025-06-16
GEN_LIMIT = expected_generation_limit(10_000, QUARTER, PV1_AGE_DAYS)
CON_LIMIT = 5_000  # m-con: one hour at the site's 5,000 Wh/h


@pytest.fixture
def ledger() -> Ledger:
    return Ledger().with_assets()


def submit(ledger: Ledger, sender: str, *readings: dict[str, Any], **run: Any) -> Receipt:
    (receipt,) = ledger.run(
        ledger.tx(sender, "metering.submit", {"readings": list(readings)}), **run
    )
    assert receipt.ok, (receipt.code, receipt.message)
    return receipt


def refusals(receipt: Receipt) -> list[tuple[int, str]]:
    """(index, code) of every refused reading. A batch refused whole reports counts by code
    and its first refused reading: when every reading was refused for one reason, that
    reason is each reading's; with several reasons only the first reading's is known, and the
    others are listed as ``(-1, code)`` by their count."""
    out = [
        (e["index"], e["code"]) for e in receipt.events if e["type"] == "metering.reading_refused"
    ]
    for e in receipt.events:
        if e["type"] != "metering.batch_refused":
            continue
        assert out == [], "a batch is reported whole or reading by reading, not both"
        assert sum(n for _, n in e["codes"]) == e["count"] > 1
        assert e["index"] == 0
        if len(e["codes"]) == 1:
            out = [(i, e["code"]) for i in range(e["count"])]
        else:
            others = [(-1, c) for c, n in e["codes"] for _ in range(n - (c == e["code"]))]
            out = [(0, e["code"]), *sorted(others)]
    return out


def accepted(receipt: Receipt) -> dict[str, Any]:
    (summary,) = [e for e in receipt.events if e["type"] == "metering.readings_accepted"]
    return summary


def stored(ledger: Ledger, meter: str, start: int) -> Any:
    return ledger.json(metering.keys.reading(meter, start))


def all_readings(ledger: Ledger) -> dict[bytes, dict[str, Any]]:
    return {k: decode_json(v) for k, v in ledger.state.scan(b"metering/reading/")}


def changed_keys(before: dict[bytes, bytes], ledger: Ledger) -> set[bytes]:
    after = ledger.state.committed
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


# happy path --------------------------------------------------------------------------------------
def test_readings_are_stored_as_documented(ledger: Ledger) -> None:
    receipt = submit(
        ledger,
        GW1,
        reading("m-gen", T0, 1_250),
        reading("m-gen", T0 + QUARTER, 0),
        reading("m-con", T0, 4_321, HOUR),
    )
    assert receipt.events == [
        {"type": "metering.readings_accepted", "count": 3, "energy_wh": 5_571}
    ]
    assert ledger.state.get(b"metering/reading/m-gen/1750024800") == (
        b'{"energy_wh":1250,"gateway":"gw-1","height":5,"length_s":900}'
    )
    assert stored(ledger, "m-gen", T0 + QUARTER)["energy_wh"] == 0
    assert stored(ledger, "m-con", T0) == {
        "energy_wh": 4_321,
        "gateway": GW1,
        "height": 5,
        "length_s": HOUR,
    }
    assert metering.keys.reading("m-1", 900) == b"metering/reading/m-1/0000000900"
    assert metering.keys.correction("m-1", 900) == b"metering/correction/m-1/0000000900"


def test_a_mixed_batch_stores_exactly_the_good_readings(ledger: Ledger) -> None:
    """Each refused reading is named by index, code and message; the rest are stored."""
    submit(ledger, GW1, reading("m-gen", T0, 10))  # already on chain
    batch = [
        reading("m-gen", T0 + QUARTER, 100),  # 0 ok
        reading("m-404", T0, 5),  # 1 unknown meter
        reading("m-gen", T0 + 2 * QUARTER + 60, 5),  # 2 misaligned
        reading("m-gen", T0 + 2 * QUARTER, 5, HOUR),  # 3 wrong length
        reading("m-gen", BLOCK_TIME_S, 5),  # 4 ends after block time
        reading("m-gen", T0 + QUARTER, 100),  # 5 twice in the batch
        reading("m-gen", T0, 10),  # 6 on chain already
        reading("m-gen", T0 + 3 * QUARTER, -1),  # 7 negative
        reading("m-gen", T0 + 4 * QUARTER, GEN_LIMIT + 1),  # 8 implausible
        reading("m-con", T0, CON_LIMIT + 1, HOUR),  # 9 above the site's ceiling
        reading("m-con", T0 + HOUR, CON_LIMIT, HOUR),  # 10 ok
        reading("m-gen", T0 + 4 * QUARTER, GEN_LIMIT),  # 11 ok (8 was refused)
    ]
    before = dict(ledger.state.committed)
    receipt = submit(ledger, GW1, *batch)
    assert refusals(receipt) == [
        (1, "metering.unknown_meter"),
        (2, "metering.misaligned"),
        (3, "metering.wrong_interval_length"),
        (4, "metering.future_interval"),
        (5, "metering.duplicate_in_batch"),
        (6, "metering.duplicate_reading"),
        (7, "metering.negative_energy"),
        (8, "metering.implausible"),
        (9, "metering.implausible"),
    ]
    for event in receipt.events[:-1]:
        r = batch[event["index"]]
        assert (event["meter"], event["start"]) == (r["meter"], r["start"])
        assert event["message"]
    implausible = receipt.events[7]  # batch index 8
    assert implausible["message"] == f"{GEN_LIMIT + 1} Wh exceeds the plausible {GEN_LIMIT} Wh"
    assert receipt.events[-1] == {
        "type": "metering.readings_accepted",
        "count": 3,
        "energy_wh": 100 + CON_LIMIT + GEN_LIMIT,
    }
    assert changed_keys(before, ledger) == {
        nonce_key(GW1),
        *(metering.keys.reading(batch[i]["meter"], batch[i]["start"]) for i in (0, 10, 11)),
    }
    assert stored(ledger, "m-gen", T0)["energy_wh"] == 10


BAD_READINGS: list[tuple[str, str, dict[str, Any], str]] = [
    ("unknown meter", GW1, reading("m-404", T0, 1), "metering.unknown_meter"),
    ("another gateway's meter", GW2, reading("m-gen", T0, 1), "metering.not_gateway"),
    ("the producer itself", PRODUCER, reading("m-gen", T0, 1), "metering.not_gateway"),
    ("misaligned start", GW1, reading("m-gen", T0 + 1, 1), "metering.misaligned"),
    ("negative start", GW1, reading("m-gen", -QUARTER, 1), "metering.misaligned"),
    ("hour on a quarter meter", GW1, reading("m-gen", T0, 1, HOUR),
     "metering.wrong_interval_length"),
    ("quarter on an hour meter", GW1, reading("m-con", T0, 1, QUARTER),
     "metering.wrong_interval_length"),
    ("interval not over", GW1, reading("m-gen", BLOCK_TIME_S, 1), "metering.future_interval"),
    ("interval next year", GW1, reading("m-gen", BLOCK_TIME_S + 365 * DAY, 1),
     "metering.future_interval"),
    ("negative energy", GW1, reading("m-gen", T0, -1), "metering.negative_energy"),
    ("above nameplate", GW1, reading("m-gen", T0, GEN_LIMIT + 1), "metering.implausible"),
    ("far above nameplate", GW1, reading("m-gen", T0, 2**62), "metering.implausible"),
    ("above the ceiling", GW1, reading("m-con", T0, CON_LIMIT + 1, HOUR), "metering.implausible"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("sender", "bad", "code"),
    [(s, r, c) for _, s, r, c in BAD_READINGS],
    ids=[name for name, *_ in BAD_READINGS],
)
def test_each_refused_reading_changes_nothing(
    ledger: Ledger, sender: str, bad: dict[str, Any], code: str
) -> None:
    before = dict(ledger.state.committed)
    receipt = submit(ledger, sender, bad)
    assert receipt.events == [
        {
            "type": "metering.reading_refused",
            "index": 0,
            "meter": bad["meter"],
            "start": bad["start"],
            "code": code,
            "message": receipt.events[0]["message"],
        },
        {"type": "metering.readings_accepted", "count": 0, "energy_wh": 0},
    ]
    assert receipt.events[0]["message"]
    assert changed_keys(before, ledger) == {nonce_key(sender)}


def test_a_duplicate_on_chain_keeps_the_original(ledger: Ledger) -> None:
    submit(ledger, GW1, reading("m-gen", T0, 700))
    original = ledger.state.get(metering.keys.reading("m-gen", T0))
    again = submit(ledger, GW1, reading("m-gen", T0, 900))
    assert refusals(again) == [(0, "metering.duplicate_reading")]
    assert ledger.state.get(metering.keys.reading("m-gen", T0)) == original
    assert stored(ledger, "m-gen", T0) == {
        "energy_wh": 700,
        "gateway": GW1,
        "height": 5,
        "length_s": QUARTER,
    }


def test_a_duplicate_in_the_batch_counts_once(ledger: Ledger) -> None:
    """The first of two readings of one interval wins; one refused first does not block."""
    receipt = submit(
        ledger,
        GW1,
        reading("m-gen", T0, -5),
        reading("m-gen", T0, 40),
        reading("m-gen", T0, 40),
    )
    assert refusals(receipt) == [
        (0, "metering.negative_energy"),
        (2, "metering.duplicate_in_batch"),
    ]
    assert accepted(receipt) == {"type": "metering.readings_accepted", "count": 1, "energy_wh": 40}


def test_future_is_judged_by_block_time(ledger: Ledger) -> None:
    """An interval counts as over once block time (not anyone's clock) reaches its end."""
    last = reading("m-gen", BLOCK_TIME_S - QUARTER, 5)
    early = submit(ledger, GW1, last, block_time_ms=BLOCK_TIME_MS - 1)
    assert refusals(early) == [(0, "metering.future_interval")]
    on_time = submit(ledger, GW1, last, block_time_ms=BLOCK_TIME_MS)
    assert refusals(on_time) == []
    # a chain whose block time runs far ahead of today's clock takes that era's readings
    later = BLOCK_TIME_MS + 80 * 365 * DAY * 1000
    ahead = submit(ledger, GW1, reading("m-gen", later // 1000 - QUARTER, 0), block_time_ms=later)
    assert refusals(ahead) == []


def test_moving_a_meter_moves_who_may_report_it(ledger: Ledger) -> None:
    ledger.ok(GRID, "registry.set_meter_gateway", {"meter": "m-gen", "gateway": GW2})
    old = submit(ledger, GW1, reading("m-gen", T0, 1))
    assert refusals(old) == [(0, "metering.not_gateway")]
    assert refusals(submit(ledger, GW2, reading("m-gen", T0, 1))) == []


# plausibility ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plant:
    capacity_w: int
    age_days: int
    interval_s: int = QUARTER
    margin_pct: int = 110
    permille: int = 5


PLANTS = [
    Plant(10_000, PV1_AGE_DAYS),
    Plant(10_000, 1),  # commissioned the day before the block: no degradation yet
    Plant(10_000, 364),
    Plant(10_000, 365),
    Plant(10_000, 730, HOUR),
    Plant(2_500_000, 3_652, DAY),
    Plant(7, 1_000),  # a limit of a few Wh: rounding matters
    Plant(10_000, 250 * 365),  # degraded to nothing: only 0 Wh is plausible
    Plant(10_000, 400, margin_pct=100, permille=0),
    Plant(10_000, 4_000, margin_pct=200, permille=100),
    Plant(3_333, 800, HOUR, margin_pct=137, permille=13),
]


@pytest.mark.parametrize("plant", PLANTS, ids=repr)
def test_generation_limit_boundary(plant: Plant) -> None:
    """Nameplate x duration x margin x (1 - degradation x whole years): exactly the limit is
    accepted, one Wh more is refused."""
    ledger = Ledger()
    if (plant.margin_pct, plant.permille) != (110, 5):
        params = {
            "generation_margin_pct": plant.margin_pct,
            "degradation_permille_per_year": plant.permille,
        }
        ledger.ok(OPERATOR, "metering.set_params", params)
    commissioned = days_before(BLOCK_TIME_MS, plant.age_days)
    device = device_body("pv-x", capacity_w=plant.capacity_w, commissioned=commissioned)
    ledger.ok(PRODUCER, "registry.register_device", device)
    ledger.ok(
        GRID,
        "registry.register_meter",
        meter_body("m-x", device="pv-x", interval_s=plant.interval_s),
    )
    limit = expected_generation_limit(
        plant.capacity_w, plant.interval_s, plant.age_days, plant.margin_pct, plant.permille
    )
    assert limit == metering.generation_limit_wh(
        plant.capacity_w, plant.interval_s, plant.age_days, plant.margin_pct, plant.permille
    )
    first = BLOCK_TIME_S - 2 * plant.interval_s
    receipt = submit(
        ledger,
        GW1,
        reading("m-x", first, limit, plant.interval_s),
        reading("m-x", first + plant.interval_s, limit + 1, plant.interval_s),
    )
    assert refusals(receipt) == [(1, "metering.implausible")]
    assert stored(ledger, "m-x", first)["energy_wh"] == limit


@pytest.mark.parametrize("age_days", [0, -30])
def test_generation_before_commissioning_is_refused(age_days: int) -> None:
    """A plant cannot have produced before its commissioning day (UTC): such readings are
    refused, even when the energy would be plausible, and nothing is stored."""
    ledger = Ledger()
    commissioned = days_before(BLOCK_TIME_MS, age_days)
    ledger.ok(PRODUCER, "registry.register_device", device_body("pv-y", commissioned=commissioned))
    ledger.ok(GRID, "registry.register_meter", meter_body("m-y", device="pv-y", interval_s=HOUR))
    first = BLOCK_TIME_S - 2 * HOUR
    receipt = submit(
        ledger, GW1, reading("m-y", first, 0, HOUR), reading("m-y", first + HOUR, 1, HOUR)
    )
    assert refusals(receipt) == [
        (0, "metering.before_commissioning"),
        (1, "metering.before_commissioning"),
    ]
    assert ledger.state.get(metering.keys.reading("m-y", first)) is None


def test_consumption_ceiling_boundary_and_change(ledger: Ledger) -> None:
    """max_wh_per_hour x hours of the interval (floored); a new ceiling applies at once."""
    ledger.ok(GRID, "registry.set_site_ceiling", {"site": "home-1", "max_wh_per_hour": 4_999})
    ledger.ok(
        GRID,
        "registry.register_meter",
        meter_body("m-q", kind="consumption", site="home-1"),
    )
    quarter_limit = 4_999 * QUARTER // HOUR  # 1249.75 -> 1249
    receipt = submit(
        ledger,
        GW1,
        reading("m-q", T0, quarter_limit),
        reading("m-q", T0 + QUARTER, quarter_limit + 1),
        reading("m-con", T0, 4_999, HOUR),
        reading("m-con", T0 + HOUR, 5_000, HOUR),
    )
    assert refusals(receipt) == [(1, "metering.implausible"), (3, "metering.implausible")]
    ledger.ok(GRID, "registry.set_site_ceiling", {"site": "home-1", "max_wh_per_hour": 5_000})
    assert refusals(submit(ledger, GW1, reading("m-con", T0 + HOUR, 5_000, HOUR))) == []


def test_new_parameters_apply_to_later_batches(ledger: Ledger) -> None:
    receipt = ledger.ok(
        OPERATOR,
        "metering.set_params",
        {"generation_margin_pct": 100, "degradation_permille_per_year": 0},
    )
    assert receipt.events == [
        {
            "type": "metering.params_set",
            "degradation_permille_per_year": 0,
            "generation_margin_pct": 100,
        }
    ]
    assert ledger.state.get(b"metering/params") == (
        b'{"degradation_permille_per_year":0,"generation_margin_pct":100}'
    )
    assert metering.params(ledger.state) == metering.Params(
        generation_margin_pct=100, degradation_permille_per_year=0
    )
    nameplate = 10_000 * QUARTER // HOUR
    got = submit(
        ledger, GW1, reading("m-gen", T0, nameplate), reading("m-gen", T0 + QUARTER, nameplate + 1)
    )
    assert refusals(got) == [(1, "metering.implausible")]


def test_default_parameters() -> None:
    assert metering.params(Ledger().state) == metering.Params(
        generation_margin_pct=110, degradation_permille_per_year=5
    )


# corrections -------------------------------------------------------------------------------------
def test_correction_keeps_the_original_visible(ledger: Ledger) -> None:
    submit(ledger, GW1, reading("m-gen", T0, 700), reading("m-gen", T0 + QUARTER, 300))
    original = ledger.state.get(metering.keys.reading("m-gen", T0))
    body = {"meter": "m-gen", "start": T0, "energy_wh": 650, "reason": "CT ratio fixed"}
    receipt = ledger.ok(GRID, "metering.correct", body)
    assert receipt.events == [
        {
            "type": "metering.reading_corrected",
            "meter": "m-gen",
            "start": T0,
            "energy_wh": 650,
            "original_wh": 700,
        }
    ]
    assert ledger.state.get(metering.keys.reading("m-gen", T0)) == original
    assert ledger.state.get(metering.keys.correction("m-gen", T0)) == (
        b'{"by":"grid","energy_wh":650,"height":6,"original_wh":700,"reason":"CT ratio fixed"}'
    )
    # a second correction replaces the first; original_wh is still the meter's own value
    ledger.ok(GRID, "metering.correct", {**body, "energy_wh": 640, "reason": "again"})
    correction = ledger.json(metering.keys.correction("m-gen", T0))
    assert (correction["energy_wh"], correction["original_wh"], correction["height"]) == (
        640,
        700,
        7,
    )

    rows = metering.readings(ledger.state, "m-gen")
    assert [(r.start_s, r.energy_wh, r.corrected_wh) for r in rows] == [
        (T0, 700, 640),
        (T0 + QUARTER, 300, None),
    ]
    assert rows[0].correction is not None
    assert msgspec.to_builtins(rows[0].correction) == correction
    assert rows[1].correction is None
    assert [r.effective_wh() for r in rows] == [640, 300]


CORRECTION = {"meter": "m-gen", "start": T0, "energy_wh": 650, "reason": "CT ratio fixed"}


@pytest.mark.parametrize(
    ("sender", "body", "code"),
    [
        (OPERATOR, CORRECTION, "auth.forbidden"),
        (GW1, CORRECTION, "auth.forbidden"),
        (PRODUCER, CORRECTION, "auth.forbidden"),
        (GRID, {**CORRECTION, "start": T0 + QUARTER}, "metering.unknown_reading"),
        (GRID, {**CORRECTION, "meter": "m-404"}, "metering.unknown_reading"),
        (GRID, {**CORRECTION, "start": T0 + 1}, "metering.unknown_reading"),
    ],
    ids=["operator", "gateway", "producer", "no reading there", "unknown meter", "misaligned"],
)
def test_correction_refusals(ledger: Ledger, sender: str, body: dict[str, Any], code: str) -> None:
    submit(ledger, GW1, reading("m-gen", T0, 700))
    ledger.refused(ledger.tx(sender, "metering.correct", body), code)


# stateless rules ---------------------------------------------------------------------------------
STATELESS: list[tuple[str, dict[str, Any], str]] = [
    ("metering.submit", {"readings": []}, "tx.invalid_body"),
    ("metering.submit", {"readings": [reading("m", 0, 1)] * 5001}, "tx.invalid_body"),
    ("metering.submit", {"readings": [{**reading("m", 0, 1), "quality": 1}]}, "tx.invalid_body"),
    ("metering.submit", {"readings": [reading("m", 0, 1.5)]}, "tx.non_integer_number"),
    ("metering.submit", {"readings": [reading("m", 0, 2**63)]}, "tx.integer_out_of_range"),
    ("metering.submit", {"readings": [reading("m", 0, 1, 2**63)]}, "tx.integer_out_of_range"),
    ("metering.submit", {"readings": [reading("m", 2**64, 1)]}, "tx.integer_out_of_range"),
    ("metering.correct", {**CORRECTION, "energy_wh": -1}, "metering.negative_energy"),
    ("metering.correct", {**CORRECTION, "reason": ""}, "tx.invalid_body"),
    ("metering.correct", {**CORRECTION, "reason": "r" * 257}, "tx.invalid_body"),
    ("metering.set_params", {"generation_margin_pct": 99, "degradation_permille_per_year": 5},
     "metering.invalid_params"),
    ("metering.set_params", {"generation_margin_pct": 201, "degradation_permille_per_year": 5},
     "metering.invalid_params"),
    ("metering.set_params", {"generation_margin_pct": 110, "degradation_permille_per_year": -1},
     "metering.invalid_params"),
    ("metering.set_params", {"generation_margin_pct": 110, "degradation_permille_per_year": 101},
     "metering.invalid_params"),
    ("metering.set_params", {"generation_margin_pct": 2**63, "degradation_permille_per_year": 5},
     "tx.integer_out_of_range"),
    ("metering.set_params", {"generation_margin_pct": 110}, "tx.invalid_body"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "body", "code"), STATELESS)
def test_stateless_rules_refuse_at_admission(kind: str, body: dict[str, Any], code: str) -> None:
    tx = Transaction(chain_id="c", kind=kind, sender=GW1, nonce=1, body=body)
    with pytest.raises(InvalidTransaction) as info:
        prepare(tx)
    assert info.value.code == code, info.value.message


@pytest.mark.parametrize(
    ("sender", "kind", "body", "code"),
    [
        (GW1, "metering.submit", {"readings": []}, "tx.invalid_body"),
        (GW1, "metering.submit", {"readings": [reading("m-gen", T0, 0)] * 5001}, "tx.invalid_body"),
        (GRID, "metering.correct", {**CORRECTION, "energy_wh": -1}, "metering.negative_energy"),
        (GRID, "metering.correct", {**CORRECTION, "reason": ""}, "tx.invalid_body"),
        (
            OPERATOR,
            "metering.set_params",
            {"generation_margin_pct": 1000, "degradation_permille_per_year": 5},
            "metering.invalid_params",
        ),
    ],
    ids=["empty batch", "oversize batch", "negative correction", "no reason", "margin 1000 %"],
)
def test_stateless_rules_hold_at_execution(
    ledger: Ledger, sender: str, kind: str, body: dict[str, Any], code: str
) -> None:
    submit(ledger, GW1, reading("m-gen", T0, 700))
    ledger.refused(unchecked(ledger.tx(sender, kind, body)), code)


@pytest.mark.parametrize(
    ("margin", "permille"), [(100, 0), (200, 100), (100, 100), (200, 0)], ids=repr
)
def test_parameter_bounds_are_inclusive(margin: int, permille: int) -> None:
    ledger = Ledger()
    body = {"generation_margin_pct": margin, "degradation_permille_per_year": permille}
    ledger.ok(OPERATOR, "metering.set_params", body)
    assert msgspec.to_builtins(metering.params(ledger.state)) == body


def test_only_an_operator_sets_parameters(ledger: Ledger) -> None:
    body = {"generation_margin_pct": 150, "degradation_permille_per_year": 5}
    ledger.refused(ledger.tx(GRID, "metering.set_params", body), "auth.forbidden")
    ledger.refused(ledger.tx(GW1, "metering.set_params", body), "auth.forbidden")


# queries -----------------------------------------------------------------------------------------
def test_readings_and_totals_queries(ledger: Ledger) -> None:
    ledger.ok(CONSUMER, "registry.register_site", site_body("home-2", max_wh_per_hour=50_000))
    ledger.ok(
        GRID, "registry.register_meter", meter_body("m-con2", kind="consumption", site="home-2")
    )
    quarters = [reading("m-gen", T0 + i * QUARTER, 100 + i) for i in range(8)]
    submit(ledger, GW1, *quarters, reading("m-con", T0, 1_000, HOUR), reading("m-con2", T0, 7))
    ledger.ok(
        GRID, "metering.correct", {"meter": "m-gen", "start": T0, "energy_wh": 50, "reason": "x"}
    )

    window = metering.readings(ledger.state, "m-gen", T0 + QUARTER, T0 + 3 * QUARTER)
    assert [r.start_s for r in window] == [T0 + QUARTER, T0 + 2 * QUARTER]
    assert window[0] == metering.MeterReading(
        meter="m-gen",
        start_s=T0 + QUARTER,
        energy_wh=101,
        length_s=QUARTER,
        gateway=GW1,
        height=7,
        correction=None,
        corrected_wh=None,
    )
    newest = metering.readings(ledger.state, "m-gen", limit=2, newest_first=True)
    assert [r.start_s for r in newest] == [T0 + 7 * QUARTER, T0 + 6 * QUARTER]
    assert metering.latest_reading(ledger.state, "m-gen") == newest[0]
    assert metering.latest_reading(ledger.state, "m-404") is None
    assert len(metering.readings(ledger.state, "m-gen", limit=3)) == 3
    assert metering.readings(ledger.state, "m-gen", T0 + 8 * QUARTER) == []
    assert metering.readings(ledger.state, "m-404") == []
    # "m-con" is a prefix of "m-con2": its readings stay its own
    assert [r.meter for r in metering.readings(ledger.state, "m-con")] == ["m-con"]

    hourly = metering.totals(ledger.state, ["m-gen", "m-con"], T0, T0 + 2 * HOUR, HOUR)
    assert msgspec.to_builtins(hourly) == [
        {"start_s": T0, "energy_wh": 50 + 101 + 102 + 103 + 1_000},
        {"start_s": T0 + HOUR, "energy_wh": 104 + 105 + 106 + 107},
    ]
    quarter = metering.totals(ledger.state, ["m-gen", "m-gen"], T0, T0 + 2 * QUARTER, QUARTER)
    assert quarter == [
        metering.TotalsBucket(start_s=T0, energy_wh=50),
        metering.TotalsBucket(start_s=T0 + QUARTER, energy_wh=101),
    ]
    daily = metering.totals(ledger.state, ["m-gen", "m-con", "m-con2"], 0, BLOCK_TIME_S, DAY)
    assert daily == [
        metering.TotalsBucket(
            start_s=BLOCK_TIME_S - DAY, energy_wh=50 + sum(range(101, 108)) + 1_007
        )
    ]
    with pytest.raises(InvalidTransaction):
        metering.totals(ledger.state, ["m-gen"], T0, T0 + HOUR, 60)


def test_measured_wh_sums_corrected_readings_and_names_what_is_missing(ledger: Ledger) -> None:
    """A meter finer than the window is summed over it, corrections applied; a meter short of
    readings is named with how many it has of how many; a coarser one counts nothing."""
    ledger.ok(GRID, "registry.register_meter", meter_body("m-day", device="pv-1", interval_s=DAY))
    submit(
        ledger,
        GW1,
        *(reading("m-gen", T0 + i * QUARTER, 100 + i) for i in range(7)),  # the 8th is missing
        reading("m-con", T0, 1_000, HOUR),
        reading("m-day", BLOCK_TIME_S - DAY, 20_000, DAY),
    )
    ledger.ok(
        GRID, "metering.correct", {"meter": "m-gen", "start": T0, "energy_wh": 50, "reason": "x"}
    )

    first_hour = metering.measured_wh(ledger.state, "meter", "m-gen", T0, T0 + HOUR)
    assert first_hour == metering.Measured(energy_wh=50 + 101 + 102 + 103, missing=[])
    assert first_hour.complete
    second = metering.measured_wh(ledger.state, "device", "pv-1", T0 + HOUR, T0 + 2 * HOUR)
    # m-day's reading covers a whole day: it cannot say what fell in this hour
    assert second.energy_wh == 104 + 105 + 106
    assert second.missing == [metering.MissingReadings(meter="m-gen", have=3, expected=4)]
    assert second.missing[0].describe() == "meter 'm-gen' has 3 of 4 readings"
    day = metering.measured_wh(ledger.state, "device", "pv-1", BLOCK_TIME_S - DAY, BLOCK_TIME_S)
    assert day.energy_wh == 20_000 + 50 + sum(range(101, 107))
    assert day.missing == [metering.MissingReadings(meter="m-gen", have=7, expected=96)]
    site = metering.measured_wh(ledger.state, "site", "home-1", T0, T0 + 2 * HOUR)
    assert site == metering.Measured(
        energy_wh=1_000, missing=[metering.MissingReadings(meter="m-con", have=1, expected=2)]
    )
    # a window that holds no whole interval of the meter expects nothing of it
    assert metering.measured_wh(ledger.state, "meter", "m-con", T0, T0 + QUARTER).complete
    for kind, unknown, code in (
        ("meter", "m-404", "registry.unknown_meter"),
        ("site", "pv-1", "registry.unknown_site"),
        ("device", "home-1", "registry.unknown_device"),
    ):
        with pytest.raises(InvalidTransaction) as info:
            metering.measured_wh(ledger.state, kind, unknown, T0, T0 + HOUR)  # type: ignore[arg-type]
        assert info.value.code == code


def test_measured_wh_tells_a_site_from_a_device_with_the_same_id(ledger: Ledger) -> None:
    """``x`` is a plant and a flat: each measurement reads only its own meters."""
    ledger.ok(PRODUCER, "registry.register_device", device_body("x"))
    ledger.ok(CONSUMER, "registry.register_site", site_body("x"))
    ledger.ok(GRID, "registry.register_meter", meter_body("m-x-pv", device="x", interval_s=HOUR))
    ledger.ok(
        GRID,
        "registry.register_meter",
        meter_body("m-x-flat", kind="consumption", site="x", interval_s=HOUR),
    )
    submit(ledger, GW1, reading("m-x-pv", T0, 2_000, HOUR), reading("m-x-flat", T0, 300, HOUR))
    assert metering.measured_wh(ledger.state, "device", "x", T0, T0 + HOUR).energy_wh == 2_000
    assert metering.measured_wh(ledger.state, "site", "x", T0, T0 + HOUR).energy_wh == 300


def test_batch_size_follows_the_chain_rules() -> None:
    """The rules in force may lower the batch ceiling; 5,000 is the schema's whatever they say."""
    submit_kind = get_kind("metering.submit")
    batch = {"readings": [reading("m-gen", T0 + i * QUARTER, 1) for i in range(4)]}
    submit_kind.parse_body(batch, Rules(max_readings_per_batch=4))
    with pytest.raises(InvalidTransaction) as info:
        submit_kind.parse_body(batch, Rules(max_readings_per_batch=3))
    assert (info.value.code, info.value.message) == (
        "tx.invalid_body",
        "a batch holds 1 to 3 readings",
    )
    most = {"readings": [reading("m-gen", T0, 1)] * metering.MAX_READINGS}
    assert len(submit_kind.parse_body(most, Rules(max_readings_per_batch=10_000)).readings) == 5000
    with pytest.raises(InvalidTransaction) as info:
        submit_kind.parse_body(
            {"readings": most["readings"] * 2}, Rules(max_readings_per_batch=10_000)
        )
    assert info.value.message == "a batch holds 1 to 5000 readings"
    # without the rules of a height (as the executor runs it), the schema's ceiling alone
    assert len(submit_kind.parse_body(most).readings) == 5000


# property: random batches against a brute-force model ------------------------------------------
METERS = {
    # meter: (gateway, interval_s, limit in Wh per interval)
    "m-gen": (GW1, QUARTER, GEN_LIMIT),
    "m-con": (GW1, HOUR, CON_LIMIT),
    "m-day": (GW2, DAY, expected_generation_limit(10_000, DAY, PV1_AGE_DAYS)),
}

draw_reading = st.tuples(
    st.sampled_from([*METERS, "m-404"]),
    st.sampled_from([None, None, None, QUARTER, HOUR]),  # None: the meter's own interval
    st.integers(-1, 6),  # intervals before block time (0: the one ending after it)
    st.sampled_from([0, 0, 0, 0, 1, 450]),  # seconds off the grid
    st.one_of(st.integers(-2, 3_000), st.sampled_from(["limit", "limit+1", "limit-1"])),
)
draw_tx = st.tuples(st.sampled_from([GW1, GW2]), st.lists(draw_reading, min_size=1, max_size=8))
draw_blocks = st.lists(st.lists(draw_tx, min_size=1, max_size=3), min_size=1, max_size=4)


def _materialise(
    draw: tuple[str, int | None, int, int, int | str], block_time_s: int
) -> dict[str, Any]:
    meter, length, back, offset, energy = draw
    own_length, own_limit = METERS.get(meter, (GW1, QUARTER, 0))[1:]
    length = length or own_length
    if isinstance(energy, str):
        energy = own_limit + {"limit": 0, "limit+1": 1, "limit-1": -1}[energy]
    start = (block_time_s // length - back) * length + offset
    return reading(meter, start, energy, length)


def _model(
    sender: str,
    readings: list[dict[str, Any]],
    block_time_ms: int,
    chain: dict[tuple[str, int], int],
) -> list[str | None]:
    """Each reading's fate under the documented rules (None: accepted, stored into chain)."""
    out: list[str | None] = []
    batch: set[tuple[str, int]] = set()
    for r in readings:
        meter, start, length, energy = r["meter"], r["start"], r["length_s"], r["energy_wh"]
        slot = (meter, start)
        code: str | None = None
        if meter not in METERS:
            code = "unknown_meter"
        elif METERS[meter][0] != sender:
            code = "not_gateway"
        elif length != METERS[meter][1]:
            code = "wrong_interval_length"
        elif start < 0 or start % length != 0:
            code = "misaligned"
        elif (start + length) * 1000 > block_time_ms:
            code = "future_interval"
        elif slot in batch:
            code = "duplicate_in_batch"
        elif slot in chain:
            code = "duplicate_reading"
        elif energy < 0:
            code = "negative_energy"
        elif energy > METERS[meter][2]:
            code = "implausible"
        else:
            batch.add(slot)
            chain[slot] = energy
        out.append(None if code is None else f"metering.{code}")
    return out


def _property_ledger() -> Ledger:
    ledger = Ledger().with_assets()
    ledger.ok(
        GRID,
        "registry.register_meter",
        meter_body("m-day", device="pv-1", gateway=GW2, interval_s=DAY),
    )
    return ledger


@given(draw_blocks)
def test_random_batches_match_the_model(blocks: list[list[tuple[str, list[Any]]]]) -> None:
    """Accepted set and refusal codes as the model says; nothing accepted twice; the energy
    stored is the sum of what the receipts accepted."""
    ledger = _property_ledger()
    chain: dict[tuple[str, int], int] = {}
    accepted_total = accepted_count = 0
    for b, txs in enumerate(blocks):
        block_time_ms = BLOCK_TIME_MS + b * QUARTER * 1000
        batches = [
            (sender, [_materialise(d, block_time_ms // 1000) for d in draws])
            for sender, draws in txs
        ]
        signed = [ledger.tx(s, "metering.submit", {"readings": rs}) for s, rs in batches]
        receipts = ledger.run(*signed, block_time_ms=block_time_ms)
        for (sender, readings), receipt in zip(batches, receipts, strict=True):
            assert receipt.ok
            before = dict(chain)
            fate = _model(sender, readings, block_time_ms, chain)
            expected = [(i, c) for i, c in enumerate(fate) if c is not None]
            got = refusals(receipt)
            if len(expected) == len(fate) > 1 and len({c for _, c in expected}) > 1:
                # refused whole for several reasons: the first reading's and the counts
                assert got[0] == expected[0]
                assert sorted(c for _, c in got) == sorted(c for _, c in expected)
            else:
                assert got == expected
            summary = accepted(receipt)
            new = {k: v for k, v in chain.items() if k not in before}
            assert summary["count"] == len(new) == fate.count(None)
            assert summary["energy_wh"] == sum(new.values())
            accepted_count += summary["count"]
            accepted_total += summary["energy_wh"]
    on_chain = all_readings(ledger)
    assert {k: v["energy_wh"] for k, v in on_chain.items()} == {
        metering.keys.reading(m, s): e for (m, s), e in chain.items()
    }
    assert accepted_count == len(on_chain)
    assert sum(v["energy_wh"] for v in on_chain.values()) == accepted_total == sum(chain.values())
