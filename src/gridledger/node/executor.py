"""Block execution: run each transaction through its contract, deterministically.

A transaction whose sender is unknown or suspended, or whose nonce is not above the sender's
last, is refused with a failed receipt and changes nothing. Any other transaction consumes its
nonce, even when its contract refuses it, so a refused transaction can never be replayed later
when it would succeed; the contract's own writes are rolled back on refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from gridledger.contracts import registry
from gridledger.contracts.base import Body, Context, Kind, get_kind
from gridledger.core.crypto import DOMAIN_TX, sha256
from gridledger.core.encoding import canonical
from gridledger.core.errors import (
    Forbidden,
    InvalidTransaction,
    MalformedTransaction,
    NonceReplayed,
    SenderSuspended,
    UnknownSender,
)
from gridledger.core.types import Receipt, Transaction
from gridledger.state.state import State, StateReader


class ContractError(InvalidTransaction):
    code = "contract.internal_error"
    default_message = "the contract failed unexpectedly; the transaction changed nothing"


def nonce_key(account: str) -> bytes:
    return b"nonce/" + account.encode()


@dataclass(slots=True)
class Prepared:
    """A decoded transaction with what execution needs, computed once at admission."""

    tx: Transaction
    raw: bytes
    """Canonical bytes of the signed transaction."""
    hash: bytes
    kind: Kind[Any]
    body: Body

    def signing_bytes(self) -> bytes:
        """What the sender signed, cut from the canonical bytes instead of encoding again.

        ``signature`` sorts last among the transaction's keys, so the canonical transaction is
        the canonical unsigned transaction with ``,"signature":"<sig>"`` before its final
        brace. Valid once the signature has parsed as ``alg:hex`` (nothing to escape).
        """
        cut = len(self.tx.signature) + len(',"signature":""}')
        return DOMAIN_TX + self.raw[:-cut] + b"}"


def prepare(tx: Transaction) -> Prepared:
    """Decode the body of ``tx`` into its kind's type (raises ``InvalidTransaction``)."""
    k = get_kind(tx.kind)
    body = k.parse_body(tx.body)
    raw = tx.encode()
    return Prepared(tx, raw, sha256(raw), k, body)


def check_sender(
    state: StateReader, tx: Transaction, roles: tuple[str, ...]
) -> registry.AccountSummary:
    """The sender's account, after checking it exists, is active, may act, and the nonce."""
    acct = registry.account_summary(state, tx.sender)
    if acct is None:
        raise UnknownSender(f"no account {tx.sender!r}; the operator registers accounts first")
    if acct.suspended:
        raise SenderSuspended(f"account {tx.sender!r} is suspended")
    if roles and not any(r in acct.roles for r in roles):
        raise Forbidden(f"{tx.kind} needs one of the roles {', '.join(roles)}")
    last = state.get_int(nonce_key(tx.sender))
    if tx.nonce <= last:
        raise NonceReplayed(f"nonce {tx.nonce} is not above the last nonce {last}")
    return acct


def precheck(
    view: StateReader, p: Prepared, acct: registry.AccountSummary, height: int, now: int
) -> None:
    """The kind's admission-time checks against committed state; raises why it would fail.

    Only facts that cannot be undone by pending transactions are checked here (an account that
    does not exist yet); balances and the like are checked at execution.
    """
    if p.kind.precheck is None:
        return
    ctx = Context(height, now, p.tx.sender, acct.roles, p.hash.hex())
    try:
        p.kind.precheck(view, ctx, p.body)
    except InvalidTransaction:
        raise
    except Exception as exc:
        raise ContractError(f"{type(exc).__name__}: {exc}") from None


def execute_tx(state: State, p: Prepared, height: int, block_time: int) -> Receipt:
    """Apply one prepared transaction to ``state`` and return its receipt."""
    tx = p.tx
    tx_hash = p.hash.hex()
    try:
        acct = check_sender(state, tx, ())
    except InvalidTransaction as exc:
        return Receipt(tx_hash, "failed", exc.code, exc.message)
    state.set_int(nonce_key(tx.sender), tx.nonce)
    ctx = Context(height, block_time, tx.sender, acct.roles, tx_hash)
    state.begin()
    try:
        roles = p.kind.roles
        if roles and not any(r in ctx.sender_roles for r in roles):
            raise Forbidden(f"{tx.kind} needs one of the roles {', '.join(roles)}")
        # Admission ran the stateless rules; a block proposed elsewhere may carry a
        # transaction that skipped them, so every execution runs them again.
        p.body.check()
        p.kind.apply(state, ctx, p.body)
    except InvalidTransaction as exc:
        state.rollback_tx()
        return Receipt(tx_hash, "failed", exc.code, exc.message)
    except Exception as exc:
        state.rollback_tx()
        err = ContractError(f"{type(exc).__name__}: {exc}")
        return Receipt(tx_hash, "failed", err.code, err.message)
    state.commit_tx()
    return Receipt(tx_hash, "ok", None, None, ctx.events)


def execute_block(state: State, txs: list[Prepared], height: int, block_time: int) -> list[Receipt]:
    """Execute ``txs`` in order on ``state`` (changes stay in the block layer)."""
    return [execute_tx(state, p, height, block_time) for p in txs]


def decode_stored_tx(raw: bytes) -> Transaction:
    try:
        return msgspec.json.decode(raw, type=Transaction)
    except msgspec.DecodeError as exc:
        raise MalformedTransaction(str(exc)) from None


def receipt_bytes(receipts: list[Receipt]) -> list[bytes]:
    return [canonical(r) for r in receipts]
