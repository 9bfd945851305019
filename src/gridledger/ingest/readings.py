"""Meter readings as gateways receive them: the record, and turning raw input into it.

Devices and files spell readings loosely (ISO 8601 or Unix seconds, interval lengths in
seconds or minutes, numbers as JSON or as CSV text); the chain takes exactly one form. Every
function here either returns a :class:`Reading` in that form or raises :class:`ReadingError`
with a code and a message that says what to fix. Nothing here knows about networks.

Codes (``ingest.*``: the reading was never sent):

=============================  ======================================================
``ingest.malformed_json``      the message is not JSON
``ingest.not_a_reading``       the message (or an item of its list) is not an object
``ingest.empty_message``       an empty list
``ingest.missing_field``       a field is absent or empty
``ingest.invalid_meter``       not a meter id (``a-z 0-9 . _ -``, 1-64 characters)
``ingest.invalid_start``       not Unix seconds or an ISO 8601 time with its UTC offset
``ingest.invalid_length``      not 900/3600/86400 s (15/60/1440 min), or two that differ
``ingest.misaligned``          the start is not a multiple of the length (UTC)
``ingest.non_integer_energy``  energy with a fraction or decimal point (wrong units?)
``ingest.negative_energy``     energy below zero
``ingest.invalid_energy``      energy that is not a number, or too large
=============================  ======================================================
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from gridledger.contracts.registry import ID_RE
from gridledger.core.encoding import INT_MAX

INTERVALS_S = (900, 3600, 86400)
"""Interval lengths a meter may report, in seconds (15 minutes, an hour, a day)."""
MINUTES_TO_S = {15: 900, 60: 3600, 1440: 86400}
MAX_START = 9_999_999_999
"""Latest interval start: the chain keys readings by a ten-digit start (the year 2286)."""

_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+)$")


class Reading(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One interval reading of one meter, as ``metering.submit`` carries it."""

    meter: str
    """The meter's registered id."""
    start: int
    """Interval start, Unix seconds UTC, a multiple of ``length_s``."""
    length_s: int
    """Interval length in seconds: 900, 3600 or 86400."""
    energy_wh: int
    """Energy in the interval, whole Wh, >= 0."""

    @property
    def end(self) -> int:
        """Interval end, Unix seconds UTC (exclusive)."""
        return self.start + self.length_s

    @property
    def key(self) -> tuple[str, int]:
        """What the chain keeps one reading per: ``(meter, start)``."""
        return (self.meter, self.start)

    def start_iso(self) -> str:
        """The start as ISO 8601 UTC, e.g. ``2026-06-21T10:00:00Z``."""
        return iso_utc(self.start)


class ReadingError(ValueError):
    """Raw input that is not a valid reading: a stable ``code`` and a ``message`` to act on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ParsedMessage:
    """What one device message held: its valid readings and, by item, what was wrong."""

    readings: list[Reading]
    errors: list[tuple[int, ReadingError]]
    """``(index of the item in the message, error)``; index 0 for a single object."""


def iso_utc(seconds: int) -> str:
    """Unix seconds as ISO 8601 UTC with a ``Z``."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_meter(value: Any) -> str:
    """A meter id (the registry's id rule)."""
    if _missing(value):
        raise ReadingError("ingest.missing_field", "meter is missing")
    if not isinstance(value, str) or not ID_RE.match(value.strip()):
        raise ReadingError(
            "ingest.invalid_meter",
            f"meter {value!r} is not a meter id (1-64 of a-z 0-9 . _ -, starting a-z or 0-9)",
        )
    return value.strip()


def parse_start(value: Any, field: str = "start") -> int:
    """Interval start as Unix seconds UTC, from seconds or from ISO 8601 with a UTC offset.

    Datetime objects (Parquet timestamp columns) must carry a time zone: a naive time could be
    local time anywhere, and a wrong guess would shift every reading by hours.
    """
    if _missing(value):
        raise ReadingError("ingest.missing_field", f"{field} is missing")
    if isinstance(value, bool):
        raise ReadingError("ingest.invalid_start", f"{field} {value!r} is not a time")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, float):
        raise ReadingError(
            "ingest.invalid_start", f"{field} {value!r} is not whole Unix seconds (an integer)"
        )
    elif isinstance(value, dt.datetime):
        seconds = _datetime_seconds(value, field, repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if _INTEGER.match(text):
            seconds = int(text)
        else:
            try:
                parsed = dt.datetime.fromisoformat(text)
            except ValueError:
                raise ReadingError(
                    "ingest.invalid_start",
                    f"{field} {text!r} is neither Unix seconds nor ISO 8601 "
                    "(e.g. 2026-06-21T10:00:00Z)",
                ) from None
            seconds = _datetime_seconds(parsed, field, repr(text))
    else:
        raise ReadingError("ingest.invalid_start", f"{field} {value!r} is not a time")
    if not 0 <= seconds <= MAX_START:
        raise ReadingError(
            "ingest.invalid_start", f"{field} {seconds} is out of range (1970 to 2286)"
        )
    return seconds


def _datetime_seconds(value: dt.datetime, field: str, shown: str) -> int:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ReadingError(
            "ingest.invalid_start",
            f"{field} {shown} has no UTC offset; write it in UTC, e.g. 2026-06-21T10:00:00Z",
        )
    if value.microsecond:
        raise ReadingError("ingest.invalid_start", f"{field} {shown} has a fraction of a second")
    return int(value.timestamp())


def _whole_number(value: Any, what: str, code: str) -> int:
    """An integer from JSON, Parquet or CSV text (bools and floats refused)."""
    if isinstance(value, bool):
        raise ReadingError(code, f"{what} {value!r} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.match(value.strip()):
        return int(value.strip())
    raise ReadingError(code, f"{what} {value!r} is not a whole number")


def parse_length(length_s: Any = None, interval_minutes: Any = None) -> int:
    """Interval length in seconds, from ``length_s`` or ``interval_minutes`` (or both, equal)."""
    given = []
    if not _missing(length_s):
        seconds = _whole_number(length_s, "length_s", "ingest.invalid_length")
        if seconds not in INTERVALS_S:
            raise ReadingError(
                "ingest.invalid_length", f"length_s {seconds} is not 900, 3600 or 86400"
            )
        given.append(seconds)
    if not _missing(interval_minutes):
        minutes = _whole_number(interval_minutes, "interval_minutes", "ingest.invalid_length")
        if minutes not in MINUTES_TO_S:
            raise ReadingError(
                "ingest.invalid_length", f"interval_minutes {minutes} is not 15, 60 or 1440"
            )
        given.append(MINUTES_TO_S[minutes])
    if not given:
        raise ReadingError("ingest.missing_field", "length_s (or interval_minutes) is missing")
    if len(given) == 2 and given[0] != given[1]:
        raise ReadingError(
            "ingest.invalid_length",
            f"length_s {given[0]} and interval_minutes {given[1] // 60} disagree",
        )
    return given[0]


def parse_energy(value: Any) -> int:
    """Energy in whole Wh, >= 0.

    A value with a decimal point or a fraction is refused rather than rounded: it most
    likely is kWh, and rounding 1.25 kWh to 1 Wh would store a reading 1,250 times too small.
    """
    if _missing(value):
        raise ReadingError("ingest.missing_field", "energy_wh is missing")
    text = value.strip() if isinstance(value, str) else None
    if isinstance(value, float) or (text is not None and _DECIMAL.match(text)):
        raise ReadingError(
            "ingest.non_integer_energy",
            f"energy_wh {value!r} is not a whole number of Wh (wrong units? "
            "1.25 kWh is 1250 Wh; write integers without a decimal point)",
        )
    energy = _whole_number(value, "energy_wh", "ingest.invalid_energy")
    if energy < 0:
        raise ReadingError("ingest.negative_energy", f"energy_wh {energy} is negative")
    if energy > INT_MAX:
        raise ReadingError("ingest.invalid_energy", f"energy_wh {energy} is out of range")
    return energy


def make_reading(
    meter: Any, start: Any, length_s: int, energy_wh: Any, start_field: str
) -> Reading:
    """A reading from its parts, checked, with the start aligned to the length."""
    reading = Reading(
        meter=parse_meter(meter),
        start=parse_start(start, start_field),
        length_s=length_s,
        energy_wh=parse_energy(energy_wh),
    )
    if reading.start % reading.length_s:
        raise ReadingError(
            "ingest.misaligned",
            f"start {reading.start_iso()} is not aligned to {reading.length_s} s intervals "
            "(UTC): readings cover whole intervals such as 10:00-10:15",
        )
    return reading


def parse_record(record: Any) -> Reading:
    """A reading from a device's JSON object.

    Fields: ``meter``, ``start`` (or ``interval_start``), ``length_s`` (or
    ``interval_minutes``), ``energy_wh``. Other fields are ignored, so devices may add their own.
    """
    if not isinstance(record, Mapping):
        raise ReadingError(
            "ingest.not_a_reading", f"expected a JSON object, got {type(record).__name__}"
        )
    start_field = "start" if "start" in record else "interval_start"
    length = parse_length(record.get("length_s"), record.get("interval_minutes"))
    return make_reading(
        record.get("meter"), record.get(start_field), length, record.get("energy_wh"), start_field
    )


def parse_message(payload: bytes) -> ParsedMessage:
    """The readings of one device message: a JSON object, or a JSON list of objects.

    A bad item does not spoil the others: each is checked on its own.
    """
    try:
        doc = msgspec.json.decode(payload)
    except msgspec.DecodeError as exc:
        error = ReadingError("ingest.malformed_json", f"the message is not JSON: {exc}")
        return ParsedMessage([], [(0, error)])
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        return ParsedMessage([], [(0, ReadingError("ingest.empty_message", "an empty list"))])
    readings: list[Reading] = []
    errors: list[tuple[int, ReadingError]] = []
    for i, item in enumerate(items):
        try:
            readings.append(parse_record(item))
        except ReadingError as exc:
            errors.append((i, exc))
    return ParsedMessage(readings, errors)
