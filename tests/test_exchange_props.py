"""Property tests of the exchange: random limit orders and cancellations by three accounts on
an allowances and a credits instrument, each run through the executor, against a brute-force
reference book.

After every step:

* the trades made are the reference's: the best price first, the earliest order first within
  a price, at the resting order's price (price-time priority), and an order that would meet
  the sender's own resting order is refused whole;
* every account's funds, allowances and credits (free and locked) are the reference's, so
  trades conserve all three (:func:`exchange_support.check_exchange` also checks the
  escrows, the locks, the credit registry and that no book is crossed);
* a refused step changes nothing but its sender's nonce.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from exchange_support import (
    ALLOCATED,
    ALLOWANCES,
    CREDITS,
    FEN,
    HOUSES,
    ExchangeLedger,
    check_exchange,
    order,
)
from gridledger.contracts import exchange
from ledger_support import PRODUCER

ISSUED_T = 1294
"""The wind farm's active May credits, all house-00's at first."""


@dataclass
class Resting:
    id: int
    instrument: str
    account: str
    side: str
    price: int
    remaining: int


@dataclass
class Reference:
    """The obvious book: lists sorted on every match, holdings as plain dicts."""

    fen: dict[str, int] = field(default_factory=lambda: dict.fromkeys(HOUSES, FEN))
    assets: dict[str, dict[str, int]] = field(default_factory=lambda: {
        ALLOWANCES: dict.fromkeys(HOUSES, ALLOCATED),
        CREDITS: {h: ISSUED_T if h == PRODUCER else 0 for h in HOUSES},
    })  # fmt: skip
    book: list[Resting] = field(default_factory=list)
    orders: int = 0
    trades: list[tuple[int, int, str, str, int, int]] = field(default_factory=list)

    def place(self, account: str, instrument: str, side: str, price: int,
              quantity: int, ioc: bool) -> str | None:  # fmt: skip
        """Apply the order; the refusal code if it is refused (nothing changed then)."""
        if side == "buy" and self.fen[account] < price * quantity:
            return "exchange.insufficient_funds"
        if side == "sell" and self.assets[instrument][account] < quantity:
            return ("exchange.insufficient_allowances" if instrument == ALLOWANCES
                    else "exchange.insufficient_credits")  # fmt: skip
        other = [r for r in self.book if r.instrument == instrument and r.side != side]
        crossing = [r for r in other if (r.price <= price if side == "buy" else r.price >= price)]
        crossing.sort(key=lambda r: (r.price if side == "buy" else -r.price, r.id))
        left = quantity
        fills = []
        for r in crossing:
            if left == 0:
                break
            if r.account == account:
                return "exchange.self_trade"
            n = min(left, r.remaining)
            fills.append((r, n))
            left -= n
        self.orders += 1
        if side == "buy":
            self.fen[account] -= price * quantity
        else:
            self.assets[instrument][account] -= quantity
        for r, n in fills:
            buyer, seller = (account, r.account) if side == "buy" else (r.account, account)
            self.fen[seller] += r.price * n
            if side == "buy":
                self.fen[buyer] += (price - r.price) * n
            self.assets[instrument][buyer] += n
            r.remaining -= n
            buy_id, sell_id = (self.orders, r.id) if side == "buy" else (r.id, self.orders)
            self.trades.append((r.price, n, buyer, seller, buy_id, sell_id))
        self.book = [r for r in self.book if r.remaining]
        if left and not ioc:
            self.book.append(Resting(self.orders, instrument, account, side, price, left))
        elif left:
            self.cancel(Resting(self.orders, instrument, account, side, price, left))
        return None

    def cancel(self, r: Resting) -> None:
        if r.side == "buy":
            self.fen[r.account] += r.price * r.remaining
        else:
            self.assets[r.instrument][r.account] += r.remaining
        self.book = [o for o in self.book if o.id != r.id]


class Exchange(RuleBasedStateMachine):
    led: ExchangeLedger
    ref: Reference

    @initialize()
    def start(self) -> None:
        self.led = ExchangeLedger().market()
        self.ref = Reference()

    @rule(account=st.sampled_from(HOUSES), instrument=st.sampled_from((ALLOWANCES, CREDITS)),
          side=st.sampled_from(("buy", "sell")), price=st.integers(95, 105),
          quantity=st.integers(1, 700), ioc=st.booleans())  # fmt: skip
    def place(self, account: str, instrument: str, side: str, price: int, quantity: int,
              ioc: bool) -> None:  # fmt: skip
        price *= 1_000
        body = order(instrument, side, price, quantity, time_in_force="ioc" if ioc else "gtc")
        code = self.ref.place(account, instrument, side, price, quantity, ioc)
        if code is None:
            self.led.ok(account, "exchange.place", body)
        else:
            self.led.refuse(account, "exchange.place", body, code)

    @rule(index=st.integers(0, 20))
    def cancel(self, index: int) -> None:
        if not self.ref.book:
            return
        r = self.ref.book[index % len(self.ref.book)]
        self.led.ok(r.account, "exchange.cancel", {"order": r.id})
        self.ref.cancel(r)

    @invariant()
    def agrees(self) -> None:
        got = [(t.price_fen_per_t, t.quantity_t, t.buyer, t.seller, t.buy_order, t.sell_order)
               for t in exchange.trades(self.led.state, limit=10_000)]  # fmt: skip
        assert got[::-1] == self.ref.trades
        for h in HOUSES:
            assert self.led.fen(h)[0] == self.ref.fen[h]
            assert self.led.allowances(h)[0] == self.ref.assets[ALLOWANCES][h]
            assert self.led.credit_units(h)[0] == self.ref.assets[CREDITS][h]
        assert sum(sum(self.led.fen(h)) for h in HOUSES) == FEN * len(HOUSES)
        assert sum(sum(self.led.allowances(h)) for h in HOUSES) == ALLOCATED * len(HOUSES)
        assert sum(sum(self.led.credit_units(h)) for h in HOUSES) == ISSUED_T
        state = self.led.state
        open_ids = sorted(o.id for h in HOUSES for o in exchange.orders_of(state, h, "open"))
        assert open_ids == sorted(r.id for r in self.ref.book)
        check_exchange(self.led.state)


Exchange.TestCase.settings = settings(max_examples=40, stateful_step_count=15, deadline=None)
TestExchange = Exchange.TestCase
