"""Admission's stateless half: what worker processes check before the node looks at state.

Everything that needs no state runs in a worker, next to the signature check that dominates
its cost: decoding, the chain id, the kind, the body schema and its stateless rules, the
canonical re-encoding and hash, and the signature itself (against the public key the node
looked up for the claimed sender). The node then checks sender, nonce and the kind's
admission rule against committed state, in that order, and reports a bad signature last.
"""

from __future__ import annotations

from functools import cache

import msgspec

from gridledger.contracts.rules import Rules
from gridledger.core.crypto import parse_signature, verify_raw
from gridledger.core.errors import (
    GridLedgerError,
    KindNotEnabled,
    WrongChain,
    all_error_classes,
)
from gridledger.core.types import decode_tx
from gridledger.node.executor import prepare

Checked = tuple[bytes, bytes, bool | None] | tuple[str, str]
"""``(canonical tx, tx hash, signature ok or None when no key was given)`` when the
transaction passed, or ``(error code, message)`` when it was refused."""


class _Head(msgspec.Struct):
    """The one field the node needs before the workers run: who claims to sign."""

    sender: str


_head_decoder = msgspec.json.Decoder(_Head)


def claimed_sender(raw: bytes) -> str | None:
    """The ``sender`` of a transaction's bytes, or ``None`` if they are not a transaction."""
    try:
        return _head_decoder.decode(raw).sender
    except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
        return None


def check_stateless(chain_id: str, rules: Rules, raw: bytes, public_key: bytes | None) -> Checked:
    """All of admission that needs no state, for one transaction, under the ``rules`` of the
    next block."""
    try:
        tx = decode_tx(raw)
        if tx.chain_id != chain_id:
            raise WrongChain(f"signed for chain {tx.chain_id!r}, this is {chain_id!r}")
        p = prepare(tx, rules)
        if not rules.allows_kind(tx.kind):
            raise KindNotEnabled(f"kind {tx.kind!r} is not in this chain's rules")
        sig = parse_signature(tx.signature)
    except GridLedgerError as exc:
        return (exc.code, exc.message)
    ok = None if public_key is None else verify_raw(public_key, p.signing_bytes(), sig)
    return (p.raw, p.hash, ok)


def check_chunk(
    chain_id: str, rules: Rules, items: list[tuple[bytes, bytes | None]]
) -> list[Checked]:
    """:func:`check_stateless` over a slice of a batch (the unit of work of a worker)."""
    return [check_stateless(chain_id, rules, raw, pk) for raw, pk in items]


@cache
def _errors_by_code() -> dict[str, type[GridLedgerError]]:
    return {cls.code: cls for cls in all_error_classes()}


def error_from(code: str, message: str) -> GridLedgerError:
    """Rebuild the error a worker reported (by its stable code)."""
    cls = _errors_by_code().get(code, GridLedgerError)
    err = cls(message)
    if cls is GridLedgerError:
        err.code = code  # type: ignore[misc]
    return err
