"""The transaction kinds of funds: minting (operators) and transfers (anyone)."""

from __future__ import annotations

from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.funds.errors import InvalidAmount, MemoTooLong, SupplyOverflow
from gridledger.contracts.funds.ledger import add_supply, credit, debit, total_supply
from gridledger.contracts.registry import require_exists
from gridledger.core.encoding import INT_MAX
from gridledger.state.state import StateReader, StateWriter


def _check_amount(amount: int) -> None:
    if amount <= 0:
        raise InvalidAmount(f"amount {amount} must be a positive integer of minor units")


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
    if total_supply(state) + body.amount > INT_MAX:
        raise SupplyOverflow
    add_supply(state, body.amount)
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
