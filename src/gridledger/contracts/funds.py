"""Funds: the settlement currency, in integer minor units (fen, cents).

State keys:

* ``funds/balance/<account>`` the account's balance in minor units (decimal integer)
* ``funds/supply``            total minted, in minor units

Invariants (property-tested): no balance is ever negative, and the sum of all balances equals
the supply; transfers move value and never create or destroy it.
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
