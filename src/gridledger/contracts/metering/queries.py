"""Reading meter data: a meter's readings over a window, and energy totals per bucket."""

from __future__ import annotations

import msgspec

from gridledger.contracts import registry
from gridledger.contracts.metering import keys
from gridledger.contracts.metering.records import Correction, MeterReading, Reading, TotalsBucket
from gridledger.core.errors import InvalidBody
from gridledger.state.state import StateReader, decode_record


def readings(
    view: StateReader,
    meter: str,
    start_s: int = 0,
    end_s: int | None = None,
    limit: int = 10_000,
    *,
    newest_first: bool = False,
) -> list[MeterReading]:
    """Readings of ``meter`` with ``start_s <= interval start < end_s``, oldest first (or
    newest first), at most ``limit``, each with its correction if there is one."""
    prefix = keys.readings(meter)
    lo, hi = keys.window(start_s, end_s)
    out = []
    for k, raw in view.scan_range(prefix, lo, hi, limit, reverse=newest_first):
        at = int(k[len(prefix) :])
        reading = decode_record(raw, Reading)
        correction = view.get_record(keys.correction(meter, at), Correction)
        out.append(
            MeterReading(
                **msgspec.structs.asdict(reading),
                meter=meter,
                start_s=at,
                correction=correction,
                corrected_wh=None if correction is None else correction.energy_wh,
            )
        )
    return out


def latest_reading(view: StateReader, meter: str) -> MeterReading | None:
    """The meter's reading with the latest interval start."""
    found = readings(view, meter, limit=1, newest_first=True)
    return found[0] if found else None


def totals(
    view: StateReader, meters: list[str], start_s: int, end_s: int, interval_s: int = 3600
) -> list[TotalsBucket]:
    """Energy per aligned bucket of ``interval_s`` over ``meters`` (corrections applied), for
    readings starting in ``[start_s, end_s)``; buckets without readings are left out.

    A reading counts in the bucket its start falls in, whatever its own length (a daily
    meter adds its day to the bucket of its start)."""
    if interval_s not in registry.INTERVALS_S:
        raise InvalidBody("interval_s must be 900, 3600 or 86400")
    sums: dict[int, int] = {}
    for meter in sorted(set(meters)):
        for r in readings(view, meter, start_s, end_s, limit=1_000_000):
            bucket = r.start_s - r.start_s % interval_s
            sums[bucket] = sums.get(bucket, 0) + r.effective_wh()
    return [TotalsBucket(start_s=b, energy_wh=sums[b]) for b in sorted(sums)]
