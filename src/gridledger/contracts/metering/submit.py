"""``metering.submit``: a gateway's signed batch of interval readings, checked reading by
reading before they count.

Each reading is checked on its own: the meter exists and reports through the sender;
``length_s`` is the meter's interval; the interval is aligned (``start % length_s == 0``,
starts in Unix seconds UTC) and has ended by block time and, for a generation meter, does not
start before its device's commissioning day; the meter has no reading for it yet, nor does the
batch; ``energy_wh >= 0``; and it is plausible. A refused reading changes nothing; the others
are stored. The receipt is ``ok`` and its events say, reading by reading, what was refused and
why (``metering.reading_refused`` with the reading's index, meter, start, code and message) and
how much was accepted (``metering.readings_accepted`` with count and energy).

Plausibility, in integers (the D-REC model: nameplate, degradation with age, a margin):

* generation: ``energy_wh <= capacity_w * length_s / 3600 * margin_pct / 100 *
  (1000 - degradation_permille * age_years) / 1000`` (floored), age from the commissioning date
  to block time;
* consumption: ``energy_wh <= max_wh_per_hour * length_s / 3600`` of the meter's site.
"""

from __future__ import annotations

import msgspec

from gridledger.contracts import registry
from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.metering import keys
from gridledger.contracts.metering.errors import (
    BeforeCommissioning,
    DuplicateInBatch,
    DuplicateReading,
    FutureInterval,
    Implausible,
    Misaligned,
    NegativeEnergy,
    NotGateway,
    ReadingRefused,
    ReportsNoMeter,
    UnknownMeter,
    WrongIntervalLength,
)
from gridledger.contracts.metering.params import params
from gridledger.contracts.metering.records import Reading
from gridledger.contracts.rules import Rules
from gridledger.core.errors import InvalidBody
from gridledger.state.state import StateReader, StateWriter

MAX_READINGS = 5000
"""The schema's ceiling on a batch, whatever the chain rules allow
(``Rules.max_readings_per_batch`` may only lower it)."""
_MS_PER_DAY = 86_400_000


def generation_limit_wh(
    capacity_w: int, length_s: int, age_days: int, margin_pct: int, degradation_permille: int
) -> int:
    """Most energy a plant of ``capacity_w`` can plausibly deliver in ``length_s`` seconds."""
    age_years = max(age_days, 0) // 365
    derate = max(1000 - degradation_permille * age_years, 0)
    return capacity_w * length_s * margin_pct * derate // (3600 * 100 * 1000)


def consumption_limit_wh(max_wh_per_hour: int, length_s: int) -> int:
    """Most energy a site of ``max_wh_per_hour`` can plausibly draw in ``length_s`` seconds."""
    return max_wh_per_hour * length_s // 3600


class SubmittedReading(msgspec.Struct, forbid_unknown_fields=True):
    """One reading of a ``metering.submit`` body (the signed input; stored as a
    :class:`~gridledger.contracts.metering.records.Reading`)."""

    meter: str
    start: Int64
    """Interval start, Unix seconds UTC."""
    length_s: Int64
    """900, 3600 or 86400."""
    energy_wh: Int64
    """Energy in the interval, Wh (generated or consumed, by the meter's kind)."""


def _check_size(count: int, most: int) -> None:
    if not 1 <= count <= most:
        raise InvalidBody(f"a batch holds 1 to {most} readings")


class Submit(Body):
    readings: list[SubmittedReading]

    def check(self) -> None:
        _check_size(len(self.readings), MAX_READINGS)

    def check_rules(self, rules: Rules) -> None:
        _check_size(len(self.readings), min(rules.max_readings_per_batch, MAX_READINGS))


class _Limits:
    """Per-batch cache of what a meter may report (batches repeat the same meters)."""

    def __init__(self, view: StateReader, block_time_ms: int) -> None:
        self.view = view
        self.today = block_time_ms // _MS_PER_DAY
        self.params = params(view)
        self.meters: dict[str, registry.Meter | None] = {}
        self.earliest: dict[str, int] = {}

    def meter(self, meter_id: str) -> registry.Meter | None:
        if meter_id not in self.meters:
            self.meters[meter_id] = registry.get_meter(self.view, meter_id)
        return self.meters[meter_id]

    def earliest_start(self, meter: registry.Meter) -> int:
        """First Unix second a generation meter can have produced: its device's commissioning
        day (UTC); 0 for consumption meters."""
        if meter.device is None:
            return 0
        device = registry.get_device(self.view, meter.device)
        return 0 if device is None else device.commissioning_day() * 86_400

    def limit_wh(self, meter: registry.Meter, length_s: int) -> int:
        if meter.device is not None:
            device = registry.get_device(self.view, meter.device)
            if device is None:
                return 0
            p = self.params
            return generation_limit_wh(
                device.capacity_w,
                length_s,
                self.today - device.commissioning_day(),
                p.generation_margin_pct,
                p.degradation_permille_per_year,
            )
        site = registry.get_site(self.view, meter.site or "")
        return 0 if site is None else consumption_limit_wh(site.max_wh_per_hour, length_s)


def _accept(
    state: StateWriter,
    ctx: Context,
    limits: _Limits,
    limit_cache: dict[tuple[str, int], int],
    seen: set[tuple[str, int]],
    r: SubmittedReading,
) -> None:
    meter = limits.meter(r.meter)
    if meter is None:
        raise UnknownMeter(f"no meter {r.meter!r}")
    if meter.gateway != ctx.sender:
        raise NotGateway(f"meter {r.meter!r} reports through {meter.gateway!r}")
    if r.length_s != meter.interval_s:
        raise WrongIntervalLength(
            f"meter {r.meter!r} reports {meter.interval_s} s intervals, not {r.length_s}"
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
    key = keys.reading(r.meter, r.start)
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
    state.put(
        key,
        Reading(energy_wh=r.energy_wh, length_s=r.length_s, gateway=ctx.sender, height=ctx.height),
    )


def _reports_a_meter(view: StateReader, ctx: Context, body: Submit) -> None:
    """Admission: the sender reports at least one meter of the batch. A batch of readings
    for meters it does not report would only be refused reading by reading, and filling
    blocks with such batches costs the sender nothing else."""
    for meter_id in dict.fromkeys(r.meter for r in body.readings):
        meter = registry.get_meter(view, meter_id)
        if meter is not None and meter.gateway == ctx.sender:
            return
    raise ReportsNoMeter(f"{ctx.sender!r} is the gateway of none of the batch's meters")


@kind("metering.submit", Submit, precheck=_reports_a_meter)
def apply_submit(state: StateWriter, ctx: Context, body: Submit) -> None:
    """Store a gateway's batch of readings, reading by reading; report each refusal.

    When every reading of a batch of two or more is refused, the receipt carries one
    ``metering.batch_refused`` event (counts by code, and the first refused reading) instead
    of one event per reading, so a refused batch costs the chain little beyond its own bytes.
    """
    # one look-up for the whole batch of whether each reading was reported already
    state.prefetch(keys.reading(r.meter, r.start) for r in body.readings)
    limits = _Limits(state, ctx.time_ms)
    limit_cache: dict[tuple[str, int], int] = {}
    seen: set[tuple[str, int]] = set()
    accepted = 0
    energy = 0
    refused: list[tuple[int, SubmittedReading, ReadingRefused]] = []
    for i, r in enumerate(body.readings):
        try:
            _accept(state, ctx, limits, limit_cache, seen, r)
        except ReadingRefused as refusal:
            refused.append((i, r, refusal))
            continue
        accepted += 1
        energy += r.energy_wh
    if len(refused) > 1 and not accepted:
        counts: dict[str, int] = {}
        for _, _, why in refused:
            counts[why.code] = counts.get(why.code, 0) + 1
        first, reading, exc = refused[0]
        ctx.emit(
            "metering.batch_refused",
            count=len(refused),
            codes=[[code, counts[code]] for code in sorted(counts)],
            index=first,
            meter=reading.meter,
            start=reading.start,
            code=exc.code,
            message=exc.message,
        )
    else:
        for i, r, why in refused:
            ctx.emit(
                "metering.reading_refused",
                index=i,
                meter=r.meter,
                start=r.start,
                code=why.code,
                message=why.message,
            )
    ctx.emit("metering.readings_accepted", count=accepted, energy_wh=energy)
