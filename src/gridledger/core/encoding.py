"""Canonical encoding: the one byte form of every signed or hashed object.

GridLedger canonical JSON (documented in ``docs/formats.md``, vectors in ``tests/vectors``):

* UTF-8 JSON with no insignificant whitespace;
* object keys sorted by code point, each key once;
* integers only, in decimal, within the signed 64-bit range; floats are never allowed;
* strings escape ``"``, ``\\`` and control characters, everything else is literal UTF-8;
* byte strings travel as lower-case hex strings; ``null``, ``true`` and ``false`` as usual.

msgspec produces exactly this form with ``order="sorted"``; what this module adds is the
rejection of floats and out-of-range integers, so that a value that encodes here encodes the
same way in any other language.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gridledger.core.errors import IntegerOutOfRange, NonIntegerNumber

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1

_encoder = msgspec.json.Encoder(order="sorted")


def canonical(obj: Any) -> bytes:
    """Return the canonical bytes of ``obj`` (dicts, lists, str, int, bool, None, Structs).

    Callers that accept untrusted values run :func:`check_values` first; values built by the
    code itself are trusted to hold integers only.
    """
    return _encoder.encode(obj)


def check_values(obj: Any, path: str = "$") -> None:
    """Raise if ``obj`` holds a float or an integer outside the signed 64-bit range.

    Walks with an explicit stack, so no nesting depth can exhaust Python's recursion limit.

    Raises:
        NonIntegerNumber: a float anywhere in ``obj``.
        IntegerOutOfRange: an integer below ``INT_MIN`` or above ``INT_MAX``.
    """
    stack: list[tuple[Any, str]] = [(obj, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        if isinstance(value, int):
            if value < INT_MIN or value > INT_MAX:
                raise IntegerOutOfRange(f"integer at {where} is outside the signed 64-bit range")
            continue
        if isinstance(value, float):
            raise NonIntegerNumber(
                f"{where} is {value!r}: numbers are integers (Wh, gCO2e, minor currency units)"
            )
        if isinstance(value, dict):
            stack.extend((v, f"{where}.{k}") for k, v in reversed(value.items()))
        elif isinstance(value, list | tuple):
            stack.extend((v, f"{where}[{i}]") for i, v in reversed(list(enumerate(value))))


def decode_json(data: bytes | str) -> Any:
    """Decode JSON into plain Python values (no type checks)."""
    return msgspec.json.decode(data)
