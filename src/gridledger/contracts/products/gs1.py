"""GS1 identifiers: GTIN check digits, batch/lot and serial numbers, GS1 Digital Link URIs.

* A **GTIN** is kept in its 14-digit form (GTIN-14): a GTIN-8, -12 or -13 is the same number
  with leading zeros (:func:`gtin14`). Its last digit is the GS1 check digit
  (:func:`check_digit`, the GS1 General Specifications' mod-10 rule: from the right, the
  digits before it are weighted 3, 1, 3, 1, ...; the check digit brings the sum to a multiple
  of ten).
* A **batch/lot** (application identifier 10) and a **serial** (AI 21) are 1-20 characters
  of ``A-Z a-z 0-9 . _ -``: a subset of GS1's character set 82 that needs no escaping in a
  URI path or a state key.
* A **GS1 Digital Link** URI (GS1 Digital Link standard 1.2, uncompressed form):
  ``<base>/01/<gtin14>/10/<lot>`` for a batch, ``<base>/01/<gtin14>/21/<serial>`` for a
  serialised item; ``https://id.gs1.org`` is the resolver base unless another is given.
"""

from __future__ import annotations

import re

GTIN_LENGTHS = (8, 12, 13, 14)
_DIGITS = re.compile(r"^[0-9]+$")
_PART = re.compile(r"^[A-Za-z0-9._-]{1,20}$")
RESOLVER = "https://id.gs1.org"


def check_digit(digits: str) -> int:
    """The GS1 check digit of ``digits`` (a GTIN without its last digit)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def valid_gtin(value: str) -> bool:
    """Whether ``value`` is a GTIN-8, -12, -13 or -14 with a right check digit."""
    if len(value) not in GTIN_LENGTHS or not _DIGITS.match(value) or not value.isascii():
        return False
    return check_digit(value[:-1]) == int(value[-1])


def gtin14(value: str) -> str:
    """The 14-digit form of a valid GTIN (``ValueError`` if it is not one)."""
    if not valid_gtin(value):
        raise ValueError(f"{value!r} is not a GTIN")
    return value.rjust(14, "0")


def valid_part(value: str) -> bool:
    """Whether ``value`` is a lot or serial this ledger takes (1-20 of A-Z a-z 0-9 . _ -)."""
    return bool(_PART.match(value)) and value.isascii()


def digital_link(gtin: str, lot: str | None = None, serial: str | None = None,
                 base: str = RESOLVER) -> str:  # fmt: skip
    """The GS1 Digital Link URI of a product, a batch (``lot``) or an item (``serial``)."""
    uri = f"{base.rstrip('/')}/01/{gtin14(gtin)}"
    if serial is not None:
        return f"{uri}/21/{serial}"
    if lot is not None:
        return f"{uri}/10/{lot}"
    return uri


def parse_digital_link(uri: str) -> tuple[str, str | None, str | None]:
    """``(gtin14, lot, serial)`` of a GS1 Digital Link URI (any resolver base, query string
    ignored); ``ValueError`` when it holds no valid GTIN or a bad lot or serial."""
    path = uri.split("?", 1)[0].split("#", 1)[0]
    parts = path.rstrip("/").split("/")
    try:
        at = len(parts) - 1 - parts[::-1].index("01")
    except ValueError:
        raise ValueError(f"{uri!r} has no /01/<gtin>") from None
    rest = parts[at + 1 :]
    if not rest:
        raise ValueError(f"{uri!r} has no GTIN after /01/")
    gtin = gtin14(rest[0])
    lot = serial = None
    pairs = rest[1:]
    if len(pairs) % 2:
        raise ValueError(f"{uri!r}: an application identifier without a value")
    for ai, value in zip(pairs[::2], pairs[1::2], strict=True):
        if not valid_part(value):
            raise ValueError(f"{uri!r}: {value!r} is not a lot or serial this ledger takes")
        if ai == "10":
            lot = value
        elif ai == "21":
            serial = value
        else:
            raise ValueError(f"{uri!r}: application identifier {ai} is not supported")
    return gtin, lot, serial
