"""Meter readings on the client side: build, sign and submit ``metering.submit`` batches.

A gateway (the one account a meter's registry record names) signs many readings under one
signature::

    from gridledger.sdk import Client, submit_readings

    with Client(url) as client:
        result = submit_readings(
            client, key, "gateway-1",
            [{"meter": "m-1", "start": 1750500000, "length_s": 900, "energy_wh": 1250}],
        )
        for event in result.events:   # one metering.reading_refused per refused reading
            ...                       # (or one metering.batch_refused if all were)

The receipt is ``ok`` once the batch was processed; which readings were refused, and why, is
in its events (``docs/formats.md``, "Meter data"): one ``metering.reading_refused`` per
refused reading, or, when every reading of a batch of two or more was refused, a single
``metering.batch_refused`` with the counts by code and the first refused reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from gridledger.core.crypto import SigningKey
from gridledger.core.types import Transaction
from gridledger.sdk.client import Client, Committed
from gridledger.sdk.errors import InvalidInput
from gridledger.sdk.tx import sign_tx

SUBMIT_KIND = "metering.submit"
MAX_READINGS = 5000
"""Most readings one ``metering.submit`` transaction may carry."""
READING_FIELDS = ("meter", "start", "length_s", "energy_wh")

ReadingLike = Mapping[str, Any] | msgspec.Struct


def readings_body(readings: Iterable[ReadingLike]) -> dict[str, Any]:
    """The ``metering.submit`` body for ``readings`` (mappings or msgspec Structs).

    Only the four reading fields are taken, so records that carry more (a row number, say)
    can be passed as they are.

    Raises:
        InvalidInput: no readings, more than :data:`MAX_READINGS`, or a field missing.
    """
    out: list[dict[str, Any]] = []
    for reading in readings:
        plain = msgspec.to_builtins(reading) if isinstance(reading, msgspec.Struct) else reading
        try:
            out.append({name: plain[name] for name in READING_FIELDS})
        except KeyError as exc:
            raise InvalidInput(
                "tx.invalid_body", f"reading {len(out)} has no {exc.args[0]!r} field"
            ) from None
    if not 1 <= len(out) <= MAX_READINGS:
        raise InvalidInput(
            "tx.invalid_body", f"a batch holds 1 to {MAX_READINGS} readings, not {len(out)}"
        )
    return {"readings": out}


def sign_readings(
    key: SigningKey,
    chain_id: str,
    gateway: str,
    nonce: int,
    readings: Iterable[ReadingLike],
) -> Transaction:
    """A signed ``metering.submit`` transaction of ``readings`` from ``gateway``.

    Raises:
        InvalidInput: as :func:`readings_body`, or a float or out-of-range number.
    """
    return sign_tx(key, chain_id, SUBMIT_KIND, gateway, nonce, readings_body(readings))


def submit_readings(
    client: Client,
    key: SigningKey,
    gateway: str,
    readings: Iterable[ReadingLike],
    wait: float = 10.0,
    *,
    nonce: int | None = None,
) -> Committed:
    """Sign ``readings`` as ``gateway``, submit them as one transaction, wait for the receipt.

    Args:
        client: the node's API.
        key: the gateway's signing key.
        gateway: the gateway's account id (the one its meters' records name).
        readings: ``{"meter", "start", "length_s", "energy_wh"}`` each (start in Unix seconds
            UTC, energy in Wh, integers only).
        wait: seconds to wait for the receipt (at most 60).
        nonce: the nonce to use; default the account's ``next_nonce``.

    Returns:
        The committed receipt: ``ok`` once processed; its events list each refused reading
        (``metering.reading_refused``) and the accepted total (``metering.readings_accepted``).

    Raises:
        ApiError: refused at admission (``tx.oversize``, ``tx.unknown_sender``...).
        ReceiptTimeout: admitted but not committed within ``wait``; its ``tx_hash`` tells
            which receipt to look up later.
        InvalidInput: a malformed reading or batch, caught before sending.
    """
    tx = sign_readings(
        key,
        client.chain_id,
        gateway,
        client.next_nonce(gateway) if nonce is None else nonce,
        readings,
    )
    return client.submit_and_wait(tx, wait)
