"""What a block's net state changes say about carbon accounting, for the read model beside
the chain (:mod:`gridledger.readmodels.carbon`), decoded here because only contracts know
their keys: meters, sites and devices registered, readings stored, corrections recorded, and
the running totals of certificates claimed per site and hour (or per longer production
period).

Readings are written once and never overwritten; a correction is written beside its reading
(and may be written again); the claimed totals are running sums, so a block's change carries
the new total.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping
from typing import NamedTuple

import msgspec

from gridledger.contracts.certificates import keys as cert_keys
from gridledger.contracts.metering import keys as metering_keys
from gridledger.contracts.metering.records import Correction, Reading
from gridledger.contracts.registry import keys as registry_keys
from gridledger.contracts.registry.records import Device, Meter, Site

_reading = msgspec.json.Decoder(Reading).decode
_correction = msgspec.json.Decoder(Correction).decode
_meter = msgspec.json.Decoder(Meter).decode
_site = msgspec.json.Decoder(Site).decode
_device = msgspec.json.Decoder(Device).decode


class WrittenReading(NamedTuple):
    meter: str
    start_s: int
    energy_wh: int
    length_s: int


class WrittenCorrection(NamedTuple):
    meter: str
    start_s: int
    energy_wh: int
    original_wh: int


class ClaimedTotal(NamedTuple):
    site: str
    start_s: int
    """The production hour (or, for a longer period, its start)."""
    total_wh: int
    hourly: bool
    """Whether it counts in hourly matching (production of at most an hour)."""


class Written(NamedTuple):
    meters: list[Meter]
    sites: list[Site]
    devices: list[Device]
    readings: list[WrittenReading]
    corrections: list[WrittenCorrection]
    claimed: list[ClaimedTotal]


def _under(
    changes: Mapping[bytes, bytes | None], ordered: list[bytes], prefix: bytes
) -> Iterator[tuple[bytes, bytes]]:
    """The (key, value) pairs written under ``prefix`` (deletions skipped), in key order."""
    at = bisect_left(ordered, prefix)
    while at < len(ordered) and ordered[at].startswith(prefix):
        key = ordered[at]
        value = changes[key]
        if value is not None:
            yield key, value
        at += 1


def _meter_start(rest: bytes) -> tuple[str, int]:
    meter, _, start = rest.rpartition(b"/")
    return meter.decode(), int(start)


def written(changes: Mapping[bytes, bytes | None]) -> Written:
    """The records of a block's net changes carbon accounting folds (``changes`` in key order,
    as a block's are)."""
    ordered = list(changes)
    out = Written([], [], [], [], [], [])
    for _, v in _under(changes, ordered, registry_keys.meters()):
        out.meters.append(_meter(v))
    for _, v in _under(changes, ordered, registry_keys.sites()):
        out.sites.append(_site(v))
    for _, v in _under(changes, ordered, registry_keys.devices()):
        out.devices.append(_device(v))
    prefix = metering_keys.readings("")[:-1]  # every meter's readings
    n = len(prefix)
    for k, v in _under(changes, ordered, prefix):
        meter, start = _meter_start(k[n:])
        r = _reading(v)
        out.readings.append(WrittenReading(meter, start, r.energy_wh, r.length_s))
    prefix = metering_keys.correction("", 0)[: -len(metering_keys.start_part(0)) - 1]
    n = len(prefix)
    for k, v in _under(changes, ordered, prefix):
        meter, start = _meter_start(k[n:])
        c = _correction(v)
        out.corrections.append(WrittenCorrection(meter, start, c.energy_wh, c.original_wh))
    for prefix, hourly in ((cert_keys.claimed_of("")[:-1], True),
                           (cert_keys.claimed_long_of("")[:-1], False)):  # fmt: skip
        n = len(prefix)
        for k, v in _under(changes, ordered, prefix):
            site, start = _meter_start(k[n:])
            out.claimed.append(ClaimedTotal(site, start, int(v), hourly))
    return out
