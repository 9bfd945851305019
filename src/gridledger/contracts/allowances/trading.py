"""Allowances in exchange sell orders: the exchange contract locks a seller's allowances of a
vintage apart from its balance (so they are neither transferred nor surrendered), delivers
them to buyers and gives back what is left when an order ends.

Every function refuses nothing the exchange could not have checked: :func:`lock` raises
:class:`~.errors.Insufficient` like a transfer would; the others move only what was locked.
"""

from __future__ import annotations

from gridledger.contracts.allowances import keys
from gridledger.contracts.allowances.allocation import balance, debit
from gridledger.state.state import StateReader, StateWriter


def locked(view: StateReader, period_id: str, account: str) -> int:
    """The account's allowances of the vintage locked in open sell orders, tonnes."""
    return view.get_int(keys.locked(period_id, account))


def locked_all(view: StateReader, period_id: str) -> dict[str, int]:
    """Every holder's locked allowances of the vintage, by account."""
    prefix = keys.locked_of(period_id)
    return {k[len(prefix) :].decode(): int(v) for k, v in view.scan(prefix)}


def _add(state: StateWriter, key: bytes, quantity: int) -> None:
    now = state.get_int(key) + quantity
    if now:
        state.set_int(key, now)
    else:
        state.delete(key)


def lock(state: StateWriter, period_id: str, account: str, quantity_t: int) -> None:
    """Move ``quantity_t`` of the account's allowances of the vintage into its locked total.

    Raises:
        Insufficient: it holds fewer.
    """
    debit(state, period_id, account, quantity_t)
    _add(state, keys.locked(period_id, account), quantity_t)


def _take_locked(state: StateWriter, period_id: str, account: str, quantity_t: int) -> None:
    held = locked(state, period_id, account)
    if held < quantity_t:  # the exchange locks what it later moves; this is a bug, not input
        raise AssertionError(f"{account} has {held} t of {period_id} locked, not {quantity_t}")
    _add(state, keys.locked(period_id, account), -quantity_t)


def unlock(state: StateWriter, period_id: str, account: str, quantity_t: int) -> None:
    """Give ``quantity_t`` locked allowances back to the account's balance."""
    deliver(state, period_id, account, quantity_t, account)


def deliver(state: StateWriter, period_id: str, seller: str, quantity_t: int, to: str) -> None:
    """Move ``quantity_t`` of the seller's locked allowances to ``to``'s balance."""
    if quantity_t == 0:
        return
    _take_locked(state, period_id, seller, quantity_t)
    state.set_int(keys.balance(period_id, to), balance(state, period_id, to) + quantity_t)
