"""Every state key of metering. Nothing else builds them: other code calls these.

* ``metering/reading/<meter>/<start>``: a :class:`~.records.Reading`, one per meter and
  interval, never overwritten;
* ``metering/correction/<meter>/<start>``: a grid operator's :class:`~.records.Correction`
  beside the reading of the same meter and start (which stays as it was);
* ``metering/params``: the plausibility :class:`~.records.Params`;
* ``metering/log/<height>``: on a chain that keeps readings in the log, the seal (count and
  root) of the readings a block appended (``contracts/layout.py``).

``<start>`` is the interval start in Unix seconds (UTC), zero-padded to 10 digits, so a meter's
keys sort in time order and a window of readings is one range of keys.
"""

from __future__ import annotations

START_DIGITS = 10
MAX_START_S = 10**START_DIGITS - 1
"""The last interval start a key can hold (the year 2286)."""


def start_part(start_s: int) -> bytes:
    """The key suffix of an interval start."""
    return b"%010d" % start_s


def window(start_s: int, end_s: int | None) -> tuple[bytes, bytes | None]:
    """The key suffix range of the interval starts ``start_s <= start < end_s`` (``None``:
    no end), for a range scan under :func:`readings`."""
    return start_part(max(start_s, 0)), None if end_s is None else start_part(max(end_s, 0))


def reading(meter: str, start_s: int) -> bytes:
    return readings(meter) + start_part(start_s)


def readings(meter: str) -> bytes:
    """Prefix of one meter's readings."""
    return all_readings() + meter.encode() + b"/"


def all_readings() -> bytes:
    """Prefix of every reading."""
    return b"metering/reading/"


def log_seal(height: int) -> bytes:
    """The seal of the readings the block at ``height`` appended to the log."""
    return b"metering/log/%020d" % height


def correction(meter: str, start_s: int) -> bytes:
    return b"metering/correction/" + meter.encode() + b"/" + start_part(start_s)


def params() -> bytes:
    return b"metering/params"
