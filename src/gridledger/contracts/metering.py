"""Metering: interval readings signed by meters' gateways, checked before they count.

State keys (values are canonical JSON):

* ``metering/reading/<meter>/<start, 10 digits>`` ``{"energy_wh", "length_s", "gateway",
  "height"}``: one reading per meter and interval, never overwritten;
* ``metering/correction/<meter>/<start, 10 digits>`` ``{"energy_wh", "original_wh", "reason",
  "by", "height"}``: a grid operator's correction; the original reading stays as it was;
* ``metering/params`` ``{"generation_margin_pct", "degradation_permille_per_year"}``.

``metering.submit`` (the meter's gateway): ``{"readings": [{"meter", "start", "length_s",
"energy_wh"}, ...]}``, 1 to 5,000 readings under one signature. Each reading is checked on its
own: the meter exists and reports through the sender; ``length_s`` is the meter's interval; the
interval is aligned (``start % length_s == 0``, starts in Unix seconds UTC) and has ended by
block time and, for a generation meter, does not start before its device's commissioning day;
the meter has no reading for it yet, nor does the batch; ``energy_wh >= 0``; and it is
plausible. A refused reading changes nothing; the others are stored. The receipt is ``ok``
and its events say, reading by reading, what was refused and why
(``metering.reading_refused`` with the reading's index, meter, start, code and message) and
how much was accepted (``metering.readings_accepted`` with count and energy).

Plausibility, in integers (the D-REC model: nameplate, degradation with age, a margin):

* generation: ``energy_wh <= capacity_w * length_s / 3600 * margin_pct / 100 *
  (1000 - degradation_permille * age_years) / 1000`` (floored), age from the commissioning date
  to block time;
* consumption: ``energy_wh <= max_wh_per_hour * length_s / 3600`` of the meter's site.

``metering.correct`` (grid operator): ``{"meter", "start", "energy_wh", "reason"}`` records a
corrected value beside an existing reading. ``metering.set_params`` (operator) sets the
plausibility parameters.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.devices import (
    INTERVALS_S,
    commissioning_days,
    get_device,
    get_meter,
    get_site,
)
from gridledger.core.encoding import canonical, decode_json
from gridledger.core.errors import InvalidBody, InvalidTransaction
from gridledger.state.state import StateReader, StateWriter

MAX_READINGS = 5000
PARAMS_KEY = b"metering/params"
DEFAULT_PARAMS = {"generation_margin_pct": 110, "degradation_permille_per_year": 5}
_MS_PER_DAY = 86_400_000


class ReadingRefused(InvalidTransaction):
    code = "metering.refused"
    default_message = "the reading was refused"


class UnknownMeter(ReadingRefused):
    code = "metering.unknown_meter"
    default_message = "no such meter"


class NotGateway(ReadingRefused):
    code = "metering.not_gateway"
    default_message = "the sender is not the gateway bound to this meter"


class WrongIntervalLength(ReadingRefused):
    code = "metering.wrong_interval_length"
    default_message = "length_s differs from the meter's registered interval"


class Misaligned(ReadingRefused):
    code = "metering.misaligned"
    default_message = "the interval start is not a multiple of its length (UTC)"


class FutureInterval(ReadingRefused):
    code = "metering.future_interval"
    default_message = "the interval has not ended yet at block time"


class BeforeCommissioning(ReadingRefused):
    code = "metering.before_commissioning"
    default_message = "the interval starts before the device's commissioning date"


class DuplicateReading(ReadingRefused):
    code = "metering.duplicate_reading"
    default_message = "the meter already has a reading for this interval"


class DuplicateInBatch(ReadingRefused):
    code = "metering.duplicate_in_batch"
    default_message = "the batch holds two readings of this meter and interval"


class NegativeEnergy(ReadingRefused):
    code = "metering.negative_energy"
    default_message = "energy_wh is negative"


class Implausible(ReadingRefused):
    code = "metering.implausible"
    default_message = "energy_wh exceeds what the device or site can produce or draw"


class UnknownReading(InvalidTransaction):
    code = "metering.unknown_reading"
    default_message = "no reading for this meter and interval"


class InvalidParams(InvalidTransaction):
    code = "metering.invalid_params"
    default_message = "margin 100-200 %, degradation 0-100 per mille a year"


def reading_key(meter: str, start: int) -> bytes:
    return f"metering/reading/{meter}/{start:010d}".encode()


def correction_key(meter: str, start: int) -> bytes:
    return f"metering/correction/{meter}/{start:010d}".encode()


def params(state: StateReader) -> dict[str, int]:
    value: dict[str, int] | None = state.get_json(PARAMS_KEY)
    return value if value is not None else dict(DEFAULT_PARAMS)


def generation_limit_wh(
    capacity_w: int, length_s: int, age_days: int, margin_pct: int, degradation_permille: int
) -> int:
    """Most energy a plant of ``capacity_w`` can plausibly deliver in ``length_s`` seconds."""
    age_years = max(age_days, 0) // 365
    derate = max(1000 - degradation_permille * age_years, 0)
    return capacity_w * length_s * margin_pct * derate // (3600 * 100 * 1000)


def consumption_limit_wh(max_wh_per_hour: int, length_s: int) -> int:
    return max_wh_per_hour * length_s // 3600


# submitting readings -------------------------------------------------------------------------
class Reading(msgspec.Struct, forbid_unknown_fields=True):
    meter: str
    start: Int64
    """Interval start, Unix seconds UTC."""
    length_s: Int64
    """900, 3600 or 86400."""
    energy_wh: Int64
    """Energy in the interval, Wh (generated or consumed, by the meter's kind)."""


class Submit(Body):
    readings: list[Reading]

    def check(self) -> None:
        if not 1 <= len(self.readings) <= MAX_READINGS:
            raise InvalidBody(f"a batch holds 1 to {MAX_READINGS} readings")


class _Limits:
    """Per-batch cache of what a meter may report (batches repeat the same meters)."""

    def __init__(self, state: StateReader, block_time_ms: int) -> None:
        self.state = state
        self.today = block_time_ms // _MS_PER_DAY
        self.params = params(state)
        self.meters: dict[str, dict[str, Any] | None] = {}
        self.earliest: dict[str, int] = {}

    def meter(self, meter_id: str) -> dict[str, Any] | None:
        if meter_id not in self.meters:
            self.meters[meter_id] = get_meter(self.state, meter_id)
        return self.meters[meter_id]

    def earliest_start(self, meter: dict[str, Any]) -> int:
        """First Unix second a generation meter can have produced: its device's commissioning
        day (UTC); 0 for consumption meters."""
        if meter["kind"] != "generation":
            return 0
        device = get_device(self.state, meter["device"])
        return 0 if device is None else commissioning_days(device["commissioned"]) * 86_400

    def limit_wh(self, meter: dict[str, Any], length_s: int) -> int:
        if meter["kind"] == "generation":
            device = get_device(self.state, meter["device"])
            if device is None:
                return 0
            age = self.today - commissioning_days(device["commissioned"])
            p = self.params
            return generation_limit_wh(
                device["capacity_w"],
                length_s,
                age,
                p["generation_margin_pct"],
                p["degradation_permille_per_year"],
            )
        site = get_site(self.state, meter["site"])
        return 0 if site is None else consumption_limit_wh(site["max_wh_per_hour"], length_s)


def _accept(
    state: StateWriter,
    ctx: Context,
    limits: _Limits,
    limit_cache: dict[tuple[str, int], int],
    seen: set[tuple[str, int]],
    r: Reading,
) -> None:
    meter = limits.meter(r.meter)
    if meter is None:
        raise UnknownMeter(f"no meter {r.meter!r}")
    if meter["gateway"] != ctx.sender:
        raise NotGateway(f"meter {r.meter!r} reports through {meter['gateway']!r}")
    if r.length_s != meter["interval_s"]:
        raise WrongIntervalLength(
            f"meter {r.meter!r} reports {meter['interval_s']} s intervals, not {r.length_s}"
        )
    if r.start < 0 or r.start % r.length_s:
        raise Misaligned(f"start {r.start} is not aligned to {r.length_s} s")
    if (r.start + r.length_s) * 1000 > ctx.time_ms:
        raise FutureInterval(f"interval {r.start}+{r.length_s}s ends after block time")
    earliest = limits.earliest.get(r.meter)
    if earliest is None:
        earliest = limits.earliest[r.meter] = limits.earliest_start(meter)
    if r.start < earliest:
        raise BeforeCommissioning(f"interval {r.start} starts before commissioning ({earliest})")
    if (r.meter, r.start) in seen:
        raise DuplicateInBatch(f"meter {r.meter!r} interval {r.start} appears twice")
    key = reading_key(r.meter, r.start)
    if state.get(key) is not None:
        raise DuplicateReading(f"meter {r.meter!r} already has a reading for {r.start}")
    if r.energy_wh < 0:
        raise NegativeEnergy(f"energy_wh {r.energy_wh} is negative")
    limit = limit_cache.get((r.meter, r.length_s))
    if limit is None:
        limit = limits.limit_wh(meter, r.length_s)
        limit_cache[(r.meter, r.length_s)] = limit
    if r.energy_wh > limit:
        raise Implausible(f"{r.energy_wh} Wh exceeds the plausible {limit} Wh")
    seen.add((r.meter, r.start))
    state.set(
        key,
        canonical(
            {
                "energy_wh": r.energy_wh,
                "gateway": ctx.sender,
                "height": ctx.height,
                "length_s": r.length_s,
            }
        ),
    )


@kind("metering.submit", Submit)
def apply_submit(state: StateWriter, ctx: Context, body: Submit) -> None:
    """Store a gateway's batch of readings, reading by reading; report each refusal."""
    limits = _Limits(state, ctx.time_ms)
    limit_cache: dict[tuple[str, int], int] = {}
    seen: set[tuple[str, int]] = set()
    accepted = 0
    energy = 0
    for i, r in enumerate(body.readings):
        try:
            _accept(state, ctx, limits, limit_cache, seen, r)
        except ReadingRefused as exc:
            ctx.emit(
                "metering.reading_refused",
                index=i,
                meter=r.meter,
                start=r.start,
                code=exc.code,
                message=exc.message,
            )
            continue
        accepted += 1
        energy += r.energy_wh
    ctx.emit("metering.readings_accepted", count=accepted, energy_wh=energy)


# corrections and parameters ------------------------------------------------------------------
class Correct(Body):
    meter: str
    start: Int64
    energy_wh: Int64
    reason: str

    def check(self) -> None:
        if self.energy_wh < 0:
            raise NegativeEnergy(f"energy_wh {self.energy_wh} is negative")
        if not 1 <= len(self.reason) <= 256:
            raise InvalidBody("a correction gives a reason of 1-256 characters")


@kind("metering.correct", Correct, roles=("grid_operator",))
def apply_correct(state: StateWriter, ctx: Context, body: Correct) -> None:
    """Record a corrected value beside a reading, keeping the original (grid operators)."""
    original = state.get_json(reading_key(body.meter, body.start))
    if original is None:
        raise UnknownReading(f"meter {body.meter!r} has no reading for {body.start}")
    state.set_json(
        correction_key(body.meter, body.start),
        {
            "by": ctx.sender,
            "energy_wh": body.energy_wh,
            "height": ctx.height,
            "original_wh": original["energy_wh"],
            "reason": body.reason,
        },
    )
    ctx.emit(
        "metering.reading_corrected",
        meter=body.meter,
        start=body.start,
        energy_wh=body.energy_wh,
        original_wh=original["energy_wh"],
    )


class SetParams(Body):
    generation_margin_pct: Int64
    degradation_permille_per_year: Int64

    def check(self) -> None:
        if not 100 <= self.generation_margin_pct <= 200:
            raise InvalidParams
        if not 0 <= self.degradation_permille_per_year <= 100:
            raise InvalidParams


@kind("metering.set_params", SetParams, roles=("operator",))
def apply_set_params(state: StateWriter, ctx: Context, body: SetParams) -> None:
    """Set the plausibility parameters (operators)."""
    value = {
        "degradation_permille_per_year": body.degradation_permille_per_year,
        "generation_margin_pct": body.generation_margin_pct,
    }
    state.set_json(PARAMS_KEY, value)
    ctx.emit("metering.params_set", **value)


# queries -------------------------------------------------------------------------------------
def readings(
    state: StateReader, meter: str, start: int = 0, end: int | None = None, limit: int = 10_000
) -> list[dict[str, Any]]:
    """Readings of ``meter`` with ``start <= interval start < end``, oldest first, with any
    correction beside the original (``corrected_wh``, ``correction``)."""
    prefix = f"metering/reading/{meter}/".encode()
    lo = f"{max(start, 0):010d}".encode()
    hi = None if end is None else f"{max(end, 0):010d}".encode()
    out = []
    for k, v in state.scan_range(prefix, lo, hi, limit):
        rec = decode_json(v)
        at = int(k[len(prefix) :])
        rec.update({"meter": meter, "start": at})
        corr = state.get_json(correction_key(meter, at))
        if corr is not None:
            rec["correction"] = corr
            rec["corrected_wh"] = corr["energy_wh"]
        out.append(rec)
    return out


def effective_wh(rec: dict[str, Any]) -> int:
    """A reading's energy after any correction."""
    return int(rec.get("corrected_wh", rec["energy_wh"]))


def totals(
    state: StateReader, meters: list[str], start: int, end: int, interval_s: int = 3600
) -> list[dict[str, int]]:
    """Energy per aligned interval of ``interval_s`` over ``meters`` (corrections applied)."""
    if interval_s not in INTERVALS_S:
        raise InvalidBody("interval_s must be 900, 3600 or 86400")
    sums: dict[int, int] = {}
    for meter in sorted(set(meters)):
        for rec in readings(state, meter, start, end, limit=1_000_000):
            bucket = rec["start"] - rec["start"] % interval_s
            sums[bucket] = sums.get(bucket, 0) + effective_wh(rec)
    return [{"start": b, "energy_wh": sums[b]} for b in sorted(sums)]
