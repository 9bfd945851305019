"""Balances, escrow and supply: what other contracts read and move (the market holds a bid's
cost in escrow and pays from it), and the totals pages show."""

from __future__ import annotations

from gridledger.contracts.funds import keys
from gridledger.contracts.funds.errors import InsufficientBalance
from gridledger.state.state import StateReader, StateWriter


def balance_of(view: StateReader, account: str) -> int:
    """Balance of ``account`` in minor units (0 for an account that never held funds)."""
    return view.get_int(keys.balance(account))


def escrow_of(view: StateReader, account: str) -> int:
    """Minor units ``account`` has locked for open bids."""
    return view.get_int(keys.escrow(account))


def total_supply(view: StateReader) -> int:
    """Minor units minted so far (genesis balances included)."""
    return view.get_int(keys.supply())


def total_balances(view: StateReader) -> int:
    """The sum of every balance, minor units (with :func:`total_escrow`: the supply)."""
    return sum(int(v) for _, v in view.scan(keys.balances()))


def total_escrow(view: StateReader) -> int:
    """The sum of every escrow, minor units."""
    return sum(int(v) for _, v in view.scan(keys.escrows()))


def credit(state: StateWriter, account: str, amount: int) -> None:
    """Add ``amount`` to a balance (callers keep the supply in step)."""
    key = keys.balance(account)
    state.set_int(key, state.get_int(key) + amount)


def debit(state: StateWriter, account: str, amount: int) -> None:
    """Take ``amount`` from a balance, refusing to go below zero."""
    key = keys.balance(account)
    bal = state.get_int(key)
    if bal < amount:
        raise InsufficientBalance(f"{account} holds {bal}, needs {amount} (minor units)")
    state.set_int(key, bal - amount)


def hold(state: StateWriter, account: str, amount: int) -> None:
    """Move ``amount`` from the balance into escrow, refusing when the balance is short."""
    debit(state, account, amount)
    key = keys.escrow(account)
    state.set_int(key, state.get_int(key) + amount)


def release(state: StateWriter, account: str, amount: int, pay_to: str | None = None) -> None:
    """Take ``amount`` out of escrow: back to the balance, or to ``pay_to``'s balance."""
    if amount == 0:
        return
    key = keys.escrow(account)
    held = state.get_int(key)
    if held < amount:  # the market locks what it later releases; this is a bug, not input
        raise InsufficientBalance(f"{account} has {held} in escrow, {amount} to release")
    if held == amount:
        state.delete(key)
    else:
        state.set_int(key, held - amount)
    credit(state, account if pay_to is None else pay_to, amount)


def add_supply(state: StateWriter, amount: int) -> None:
    """Record ``amount`` more minor units as minted (genesis balances, ``funds.mint``)."""
    state.set_int(keys.supply(), total_supply(state) + amount)
