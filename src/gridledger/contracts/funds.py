"""Funds: the settlement currency, in integer minor units (fen, cents).

State keys:

* ``funds/balance/<account>`` the account's balance in minor units (decimal integer)
* ``funds/escrow/<account>``  what the account has locked for open market bids (minor units)
* ``funds/supply``            total minted, in minor units

Invariants (property-tested): no balance or escrow is ever negative, and the sum of all balances
and escrows equals the supply; transfers, holds and releases move value and never create or
destroy it.
"""

from __future__ import annotations

from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.registry import require_exists
from gridledger.core.encoding import INT_MAX
from gridledger.core.errors import InvalidTransaction
from gridledger.state.state import StateReader, StateWriter

SUPPLY_KEY = b"funds/supply"


class InvalidAmount(InvalidTransaction):
    code = "funds.invalid_amount"
    default_message = "amounts are positive integers in minor currency units"


class InsufficientBalance(InvalidTransaction):
    code = "funds.insufficient_balance"
    default_message = "the balance is lower than the amount"


class SupplyOverflow(InvalidTransaction):
    code = "funds.supply_overflow"
    default_message = "minting this would take the supply beyond the 64-bit range"


class MemoTooLong(InvalidTransaction):
    code = "funds.memo_too_long"
    default_message = "a memo is at most 256 characters"


def balance_key(account: str) -> bytes:
    return b"funds/balance/" + account.encode()


def balance_of(state: StateReader, account: str) -> int:
    """Balance of ``account`` in minor units (0 for an account that never held funds)."""
    return state.get_int(balance_key(account))


def escrow_key(account: str) -> bytes:
    return b"funds/escrow/" + account.encode()


def escrow_of(state: StateReader, account: str) -> int:
    """Minor units ``account`` has locked for open bids."""
    return state.get_int(escrow_key(account))


def hold(state: StateWriter, account: str, amount: int) -> None:
    """Move ``amount`` from the balance into escrow, refusing when the balance is short."""
    debit(state, account, amount)
    key = escrow_key(account)
    state.set_int(key, state.get_int(key) + amount)


def release(state: StateWriter, account: str, amount: int, pay_to: str | None = None) -> None:
    """Take ``amount`` out of escrow: back to the balance, or to ``pay_to``'s balance."""
    if amount == 0:
        return
    key = escrow_key(account)
    held = state.get_int(key)
    if held < amount:  # the market locks what it later releases; this is a bug, not input
        raise InsufficientBalance(f"{account} has {held} in escrow, {amount} to release")
    if held == amount:
        state.delete(key)
    else:
        state.set_int(key, held - amount)
    credit(state, account if pay_to is None else pay_to, amount)


def total_supply(state: StateReader) -> int:
    return state.get_int(SUPPLY_KEY)


def _check_amount(amount: int) -> None:
    if amount <= 0:
        raise InvalidAmount(f"amount {amount} must be a positive integer of minor units")


def credit(state: StateWriter, account: str, amount: int) -> None:
    """Add ``amount`` to a balance (callers keep the supply in step)."""
    key = balance_key(account)
    state.set_int(key, state.get_int(key) + amount)


def debit(state: StateWriter, account: str, amount: int) -> None:
    """Take ``amount`` from a balance, refusing to go below zero."""
    key = balance_key(account)
    bal = state.get_int(key)
    if bal < amount:
        raise InsufficientBalance(f"{account} holds {bal}, needs {amount} (minor units)")
    state.set_int(key, bal - amount)


class Mint(Body):
    to: str
    amount: Int64
    """Minor units."""

    def check(self) -> None:
        _check_amount(self.amount)


def _recipient_exists(state: StateReader, _ctx: Context, body: Mint | Transfer) -> None:
    require_exists(state, body.to)


@kind("funds.mint", Mint, roles=("operator",), precheck=_recipient_exists)
def apply_mint(state: StateWriter, ctx: Context, body: Mint) -> None:
    """Create ``amount`` minor units in ``to``'s balance (operator only)."""
    require_exists(state, body.to)
    supply = total_supply(state)
    if supply + body.amount > INT_MAX:
        raise SupplyOverflow
    state.set_int(SUPPLY_KEY, supply + body.amount)
    credit(state, body.to, body.amount)
    ctx.emit("funds.minted", to=body.to, amount=body.amount)


class Transfer(Body):
    to: str
    amount: Int64
    """Minor units."""
    memo: str = ""

    def check(self) -> None:
        _check_amount(self.amount)
        if len(self.memo) > 256:
            raise MemoTooLong


@kind("funds.transfer", Transfer, precheck=_recipient_exists)
def apply_transfer(state: StateWriter, ctx: Context, body: Transfer) -> None:
    """Move ``amount`` minor units from the sender to ``to``."""
    require_exists(state, body.to)
    debit(state, ctx.sender, body.amount)
    credit(state, body.to, body.amount)
    ctx.emit("funds.transferred", sender=ctx.sender, to=body.to, amount=body.amount)
