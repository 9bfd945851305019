"""A ledger for the exchange tests: allowances of ``ets-2024`` and the wind farm's May 2025
credits to sell, funds to buy with.

On top of :class:`credits_support.CreditLedger`: period ``ets-2024`` opened, 1,000 t of its
allowances allocated to each of house-00, house-01 and house-02; the wind farm's May credits
issued to house-00 (units 1-1,294 of project ``wf`` active, 26 in the buffer pool); each
house minted 10,000,000 fen (100,000 yuan).

:func:`check_exchange` recomputes from the stored records what the exchange promises: funds
balances and escrow sum to the supply and escrow is exactly the open bids' price times
remaining; allowances allocated = held + locked + surrendered, locked = the open asks'
remaining; every credit unit is in one block, a locked block is in its order's index and
nothing else is, an open credit ask locks exactly its remaining tonnes; and no instrument's
best bid is at or above its best ask.
"""

from __future__ import annotations

from typing import Any

from carbon_support import JUNE, MAY, REGULATOR
from credits_support import CreditLedger, check_registry
from gridledger.contracts import allowances, credits, exchange, funds
from gridledger.contracts.credits import keys as credit_keys
from gridledger.contracts.credits.records import SerialBlock
from gridledger.core.types import Receipt
from gridledger.state.state import StateReader, decode_record
from ledger_support import CONSUMER, OTHER_HOUSE, PRODUCER
from support import OPERATOR

PERIOD = "ets-2024"
ALLOWANCES = "allowances:ets-2024"
CREDITS = "credits:wind_offshore:2025"
HOUSES = (PRODUCER, CONSUMER, OTHER_HOUSE)
FEN = 10_000_000
ALLOCATED = 1000
JAN_2024 = 1_704_067_200
JAN_2025 = 1_735_689_600
DEC_31_2025 = 1_767_225_600 - 86_400


def order(instrument: str, side: str, price: int, quantity: int, **extra: Any) -> dict[str, Any]:
    return {"instrument": instrument, "side": side, "price_fen_per_t": price,
            "quantity_t": quantity, **extra}  # fmt: skip


class ExchangeLedger(CreditLedger):
    def market(self) -> ExchangeLedger:
        self.guangdong().farm()
        self.windy(3)
        self.project()
        self.verify("2025-05", MAY, JUNE)
        self.issue_credits("2025-05")
        period = {"id": PERIOD, "start_s": JAN_2024, "end_s": JAN_2025, "deadline_s": DEC_31_2025}
        self.ok(REGULATOR, "allowances.open_period", period)
        for house in HOUSES:
            free = {"period": PERIOD, "to": house, "method": "free", "quantity_t": ALLOCATED}
            self.ok(REGULATOR, "allowances.allocate", free)
            self.ok(OPERATOR, "funds.mint", {"to": house, "amount": FEN})
        return self

    def place(self, sender: str, instrument: str, side: str, price: int, quantity: int,
              **extra: Any) -> Receipt:  # fmt: skip
        return self.ok(sender, "exchange.place", order(instrument, side, price, quantity, **extra))

    def last_order(self) -> exchange.Order:
        n = self.state.get_int(exchange.keys.order_count())
        found = exchange.get_order(self.state, n)
        assert found is not None
        return found

    def fen(self, account: str) -> tuple[int, int]:
        return funds.balance_of(self.state, account), funds.escrow_of(self.state, account)

    def allowances(self, account: str) -> tuple[int, int]:
        return (allowances.balance(self.state, PERIOD, account),
                allowances.trading.locked(self.state, PERIOD, account))  # fmt: skip

    def credit_units(self, account: str) -> tuple[int, int]:
        """Active and locked credit tonnes of ``account``."""
        blocks = [b for b in self.blocks() if b.holder == account]
        return (sum(b.quantity_t for b in blocks if b.status == "active"),
                sum(b.quantity_t for b in blocks if b.status == "locked"))  # fmt: skip


def check_exchange(view: StateReader) -> None:
    """The exchange's invariants (see the module docstring), from the stored records."""
    assert funds.total_balances(view) + funds.total_escrow(view) == funds.total_supply(view)
    open_orders = [decode_record(v, exchange.Order) for _, v in view.scan(exchange.keys.orders())]
    open_orders = [o for o in open_orders if o.status == "open"]
    escrow: dict[str, int] = {}
    locked: dict[str, int] = {}
    for o in open_orders:
        assert o.remaining_t > 0
        if o.side == "buy":
            escrow[o.account] = escrow.get(o.account, 0) + o.price_fen_per_t * o.remaining_t
        elif o.instrument == ALLOWANCES:
            locked[o.account] = locked.get(o.account, 0) + o.remaining_t
        else:
            blocks = credits.trading.locked_in(view, o.id)
            assert sum(b.quantity_t for b in blocks) == o.remaining_t
            assert all(b.holder == o.account and b.order == o.id for b in blocks)
    assert {a: funds.escrow_of(view, a) for a in escrow} == escrow
    assert funds.total_escrow(view) == sum(escrow.values())
    period = allowances.get_period(view, PERIOD)
    if period is not None:
        held = allowances.balances(view, PERIOD)
        assert allowances.trading.locked_all(view, PERIOD) == locked
        assert period.allocated_t == sum(held.values()) + sum(locked.values()) + (
            period.surrendered_t
        )
    check_registry(view)
    index = {k for k, _ in view.scan(credit_keys.locks())}
    expected = set()
    for _, raw in view.scan(credit_keys.blocks()):
        b = decode_record(raw, SerialBlock)
        assert (b.status == "locked") == (b.order is not None)
        if b.status == "locked":
            assert b.order is not None
            expected.add(credit_keys.locked(b.order, b.number, b.first))
    assert index == expected
    for inst in exchange.list_instruments(view):
        book = exchange.depth(view, inst.id)
        if book.bids and book.asks:
            assert book.bids[0].price_fen_per_t < book.asks[0].price_fen_per_t


__all__ = [
    "ALLOCATED",
    "ALLOWANCES",
    "CREDITS",
    "FEN",
    "HOUSES",
    "PERIOD",
    "ExchangeLedger",
    "check_exchange",
    "order",
]
