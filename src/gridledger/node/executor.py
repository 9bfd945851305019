"""Transaction execution: run each transaction through its contract, deterministically.

Block import (:mod:`gridledger.node.transition`) has checked every transaction as admission
does before it runs here. A transaction whose sender was suspended earlier in the block (or
whose sender or nonce is wrong, should a caller skip those checks) gets a failed receipt and
changes nothing. Any other transaction consumes its nonce, even when its contract refuses it,
so a refused transaction can never be replayed later when it would succeed; the contract's own
writes are rolled back on refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gridledger.contracts import chain, registry
from gridledger.contracts.base import Body, Context, Kind, get_kind
from gridledger.contracts.rules import Rules
from gridledger.core.crypto import DOMAIN_TX, sha256
from gridledger.core.errors import (
    Forbidden,
    InvalidTransaction,
    NonceReplayed,
    SenderSuspended,
    UnknownSender,
)
from gridledger.core.types import Receipt, Transaction
from gridledger.state.state import State, StateReader


class ContractError(InvalidTransaction):
    code = "contract.internal_error"
    default_message = "the contract failed unexpectedly; the transaction changed nothing"


@dataclass(slots=True)
class Prepared:
    """A decoded transaction with what execution needs, computed once at admission."""

    tx: Transaction
    raw: bytes
    """Canonical bytes of the signed transaction."""
    hash: bytes
    kind: Kind[Any]
    body: Body
    verified_key: bytes | None = None
    """The sender's public key this node checked the signature against (at admission or
    block import); ``None`` until checked."""
    admitted_height: int = -1
    """The tip height when this node admitted it (-1: not admitted here)."""

    def signing_bytes(self) -> bytes:
        """What the sender signed, cut from the canonical bytes instead of encoding again.

        ``signature`` sorts last among the transaction's keys, so the canonical transaction is
        the canonical unsigned transaction with ``,"signature":"<sig>"`` before its final
        brace. Valid once the signature has parsed as ``alg:hex`` (nothing to escape).
        """
        cut = len(self.tx.signature) + len(',"signature":""}')
        return DOMAIN_TX + self.raw[:-cut] + b"}"


def prepare(tx: Transaction, rules: Rules | None = None) -> Prepared:
    """Decode the body of ``tx`` into its kind's type and run its stateless rules, with those
    that depend on the chain rules when ``rules`` are given (raises ``InvalidTransaction``)."""
    k = get_kind(tx.kind)
    body = k.parse_body(tx.body, rules)
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
    last = chain.nonce_of(state, tx.sender)
    if tx.nonce <= last:
        raise NonceReplayed(f"nonce {tx.nonce} is not above the last nonce {last}")
    return acct


def precheck(
    view: StateReader,
    p: Prepared,
    acct: registry.AccountSummary,
    height: int,
    now_ms: int,
    rules: Rules,
) -> None:
    """The kind's admission-time checks against committed state; raises why it would fail.

    Only facts that cannot be undone by pending transactions are checked here (an account that
    does not exist yet); balances and the like are checked at execution.
    """
    if p.kind.precheck is None:
        return
    ctx = Context(height, now_ms, p.tx.sender, acct.roles, p.hash.hex(), rules)
    try:
        p.kind.precheck(view, ctx, p.body)
    except InvalidTransaction:
        raise
    except Exception as exc:
        raise ContractError(f"{type(exc).__name__}: {exc}") from None


def execute_tx(state: State, p: Prepared, height: int, time_ms: int, rules: Rules) -> Receipt:
    """Apply one prepared transaction to ``state`` at block time ``time_ms``; its receipt."""
    tx = p.tx
    tx_hash = p.hash.hex()
    try:
        acct = check_sender(state, tx, ())
    except InvalidTransaction as exc:
        return Receipt(tx_hash, "failed", exc.code, exc.message)
    chain.use_nonce(state, tx.sender, tx.nonce)
    ctx = Context(height, time_ms, tx.sender, acct.roles, tx_hash, rules)
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


def execute_block(
    state: State, txs: list[Prepared], height: int, time_ms: int, rules: Rules | None = None
) -> list[Receipt]:
    """Execute ``txs`` in order on ``state`` (changes stay in the block layer)."""
    in_force = rules if rules is not None else Rules()
    return [execute_tx(state, p, height, time_ms, in_force) for p in txs]
