"""Reading meter data: a meter's readings over a window, energy totals per bucket, and the
energy measured over a window with what is still missing, which the market (and later
certificates and carbon accounting) read instead of decoding readings themselves."""

from __future__ import annotations

from typing import Literal

import msgspec

from gridledger.contracts import registry
from gridledger.contracts.metering import keys
from gridledger.contracts.metering.records import (
    Correction,
    Measured,
    MeterReading,
    MissingReadings,
    Reading,
    TotalsBucket,
)
from gridledger.core.errors import InvalidBody
from gridledger.state.state import StateReader, decode_record

MeasuredKind = Literal["meter", "site", "device"]


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
    meter adds its day to the bucket of its start), unlike :func:`measured_wh`."""
    if interval_s not in registry.INTERVALS_S:
        raise InvalidBody("interval_s must be 900, 3600 or 86400")
    sums: dict[int, int] = {}
    for meter in sorted(set(meters)):
        for r in readings(view, meter, start_s, end_s, limit=1_000_000):
            bucket = r.start_s - r.start_s % interval_s
            sums[bucket] = sums.get(bucket, 0) + r.effective_wh()
    return [TotalsBucket(start_s=b, energy_wh=sums[b]) for b in sorted(sums)]


class _Energy(msgspec.Struct):
    """The one field a measurement needs of a reading or a correction (decoding stops there)."""

    energy_wh: int


_energy = msgspec.json.Decoder(_Energy).decode


def _meter_wh(
    view: StateReader, meter: str, interval_s: int, start_s: int, end_s: int
) -> tuple[int, MissingReadings | None]:
    """Wh of one meter's readings whose interval lies in ``[start_s, end_s)``, corrected, and
    its shortfall if it has fewer readings than intervals fit."""
    first = -(-start_s // interval_s) * interval_s
    total = have = expected = 0
    for at in range(first, end_s - interval_s + 1, interval_s):
        expected += 1
        raw = view.get(keys.correction(meter, at)) or view.get(keys.reading(meter, at))
        if raw is not None:
            total += _energy(raw).energy_wh
            have += 1
    short = None if have == expected else MissingReadings(meter=meter, have=have, expected=expected)
    return total, short


def measured_wh(
    view: StateReader, asset_kind: MeasuredKind, asset: str, start_s: int, end_s: int
) -> Measured:
    """Energy a meter, or the meters of a site or device, measured in ``[start_s, end_s)``,
    corrections applied, and which meters lack readings.

    A reading counts when its whole interval lies in the window, so a meter whose interval is
    finer than the window is summed over it (four quarter hours make an hour) and a coarser one
    counts nothing (it cannot tell what part of its interval fell in the window).

    Raises:
        UnknownMeter, UnknownSite, UnknownDevice (registry): no such ``asset``.
    """
    if asset_kind == "meter":
        found = registry.get_meter(view, asset)
        if found is None:
            raise registry.UnknownMeter(f"no meter {asset!r}")
        meters = [found]
    elif asset_kind == "site":
        if registry.get_site(view, asset) is None:
            raise registry.UnknownSite(f"no site {asset!r}")
        meters = registry.meters_of(view, "site", asset)
    else:
        if registry.get_device(view, asset) is None:
            raise registry.UnknownDevice(f"no device {asset!r}")
        meters = registry.meters_of(view, "device", asset)
    total = 0
    missing = []
    for m in meters:
        wh, short = _meter_wh(view, m.id, m.interval_s, start_s, end_s)
        total += wh
        if short is not None:
            missing.append(short)
    return Measured(energy_wh=total, missing=missing)
