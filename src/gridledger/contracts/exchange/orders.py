"""Placing and cancelling limit orders; matching on placement; delivery versus payment.

* ``exchange.place`` (any account): ``{"instrument", "side", "price_fen_per_t",
  "quantity_t", "time_in_force"?, "expires_s"?}``. The order first locks what it offers (a
  buy ``price_fen_per_t * quantity_t`` fen in funds escrow; a sell its allowances or credits:
  :mod:`.instruments`), then trades with the best resting orders of the other side while
  they cross (a buy's limit at or above the ask, a sell's at or below the bid): best price
  first, the earliest placed first within a price (price-time priority), each trade at the
  **resting** order's price and for the smaller remaining quantity. A buy that trades below
  its limit gets the difference back from escrow at once. What is left rests in the book
  (``gtc``, until cancelled or ``expires_s``) or is cancelled (``ioc``).
* ``exchange.cancel`` (the order's account): ``{"order"}``: closes an open order and gives
  back what it still locks.

Each trade settles both legs in the placing transaction: the seller's locked allowances or
credits go to the buyer, the buyer's escrowed fen to the seller. Any refusal (not enough
funds, allowances or credits; an order that would trade with the sender's own resting order)
rolls the whole transaction back: no leg, no lock, no trade.

A resting order whose ``expires_s`` has passed is closed as ``expired`` (and its locks given
back) when an incoming order reaches it; until then it stays in the book, which never holds
a bid at or above an ask, since every order trades through whatever crosses it.
"""

from __future__ import annotations

from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.exchange import instruments, keys
from gridledger.contracts.exchange.errors import (
    BadExpiry,
    BadPrice,
    BadQuantity,
    NotYourOrder,
    OrderClosed,
    SelfTrade,
    UnknownOrder,
)
from gridledger.contracts.exchange.records import (
    Instrument,
    Order,
    OrderStatus,
    Side,
    TimeInForce,
    Trade,
)
from gridledger.contracts.funds import release as release_fen
from gridledger.core.encoding import INT_MAX
from gridledger.state.state import StateReader, StateWriter


class Place(Body):
    instrument: str
    side: Side
    price_fen_per_t: Int64
    quantity_t: Int64
    time_in_force: TimeInForce = "gtc"
    expires_s: Int64 | None = None

    def check(self) -> None:
        instruments.parse(self.instrument)
        if self.price_fen_per_t <= 0:
            raise BadPrice(f"price_fen_per_t {self.price_fen_per_t}: a positive number of fen")
        if self.quantity_t <= 0:
            raise BadQuantity(f"quantity_t {self.quantity_t}: a positive number of tonnes")
        if self.quantity_t > INT_MAX // self.price_fen_per_t:
            raise BadQuantity("price_fen_per_t * quantity_t exceeds the 64-bit range")
        if self.expires_s is not None and self.expires_s <= 0:
            raise BadExpiry(f"expires_s {self.expires_s}: a positive Unix time")


def get_order(view: StateReader, n: int) -> Order | None:
    return view.get_record(keys.order(n), Order)


def _other(side: Side) -> Side:
    return "sell" if side == "buy" else "buy"


def _crosses(incoming: Order, resting: Order) -> bool:
    if incoming.side == "buy":
        return resting.price_fen_per_t <= incoming.price_fen_per_t
    return resting.price_fen_per_t >= incoming.price_fen_per_t


def _best(state: StateWriter, instrument_id: str, side: Side) -> Order | None:
    """The best live order of one side, found from the side's head (see :mod:`.keys`), which
    moves up to it."""
    prefix = keys.side_of(instrument_id, side)
    head = state.get(keys.head(instrument_id, side)) or b""
    for k, _ in state.scan_range(prefix, head, limit=1):
        if k[len(prefix) :] != head:
            state.set(keys.head(instrument_id, side), k[len(prefix) :])
        return get_order(state, keys.number_of(k))
    return None


def _rest(state: StateWriter, order: Order) -> None:
    """Put ``order`` in the book, moving its side's head back to it if it is the best."""
    key = keys.resting(order.instrument, order.side, order.price_fen_per_t, order.id)
    state.set(key, b"1")
    rest = key[len(keys.side_of(order.instrument, order.side)) :]
    head = state.get(keys.head(order.instrument, order.side))
    if head is None or rest < head:
        state.set(keys.head(order.instrument, order.side), rest)


def _close(state: StateWriter, ctx: Context, spec: Instrument, order: Order,
           status: OrderStatus) -> None:  # fmt: skip
    """Close ``order`` (stored afterwards by the caller when it is the incoming one): out of
    the book, its locks given back."""
    state.delete(keys.resting(order.instrument, order.side, order.price_fen_per_t, order.id))
    if order.remaining_t:
        instruments.release(state, spec, order)
    order.status = status
    order.closed_height = ctx.height
    state.put(keys.order(order.id), order)


def _settle(state: StateWriter, ctx: Context, spec: Instrument, incoming: Order,
            resting: Order) -> None:  # fmt: skip
    """Trade the smaller remaining quantity at the resting order's price, both legs."""
    quantity = min(incoming.remaining_t, resting.remaining_t)
    price = resting.price_fen_per_t
    buy, sell = (incoming, resting) if incoming.side == "buy" else (resting, incoming)
    amount = price * quantity
    release_fen(state, buy.account, amount, pay_to=sell.account)
    if buy.price_fen_per_t > price:  # the buy locked its own, higher limit for these tonnes
        release_fen(state, buy.account, (buy.price_fen_per_t - price) * quantity)
    serials = instruments.deliver(state, spec, sell, quantity, buy.account)
    incoming.remaining_t -= quantity
    resting.remaining_t -= quantity
    if resting.remaining_t == 0:
        _close(state, ctx, spec, resting, "filled")
    else:
        state.put(keys.order(resting.id), resting)
    n = state.get_int(keys.trade_count()) + 1
    state.set_int(keys.trade_count(), n)
    state.put(keys.trade(n), Trade(
        id=n, instrument=spec.id, price_fen_per_t=price, quantity_t=quantity, amount_fen=amount,
        buy_order=buy.id, sell_order=sell.id, buyer=buy.account, seller=sell.account,
        taker=incoming.side, height=ctx.height, time_ms=ctx.time_ms, serials=serials,
    ))  # fmt: skip
    state.set(keys.instrument_trade(spec.id, n), b"1")
    spec.trades += 1
    spec.volume_t += quantity
    spec.turnover_fen += amount
    spec.last_price_fen_per_t = price
    spec.last_trade_height = ctx.height
    ctx.emit("exchange.traded", trade=n, instrument=spec.id, price_fen_per_t=price,
             quantity_t=quantity, buyer=buy.account, seller=sell.account)  # fmt: skip


def match(state: StateWriter, ctx: Context, spec: Instrument, incoming: Order) -> None:
    """Trade ``incoming`` against the other side of the book while it crosses."""
    other = _other(incoming.side)
    while incoming.remaining_t:
        resting = _best(state, spec.id, other)
        if resting is None or not _crosses(incoming, resting):
            return
        if resting.expires_s is not None and resting.expires_s <= ctx.time_s:
            _close(state, ctx, spec, resting, "expired")
            ctx.emit("exchange.expired", order=resting.id)
            continue
        if resting.account == incoming.account:
            raise SelfTrade(f"order {resting.id} of {resting.account} rests at "
                            f"{resting.price_fen_per_t} fen/t")  # fmt: skip
        _settle(state, ctx, spec, incoming, resting)


@kind("exchange.place", Place)
def apply_place(state: StateWriter, ctx: Context, body: Place) -> None:
    """Place a limit order: lock what it offers, trade with the crossing resting orders in
    price-time priority, rest (gtc) or cancel (ioc) the remainder."""
    spec = instruments.require(state, body.instrument)
    if body.expires_s is not None and body.expires_s <= ctx.time_s:
        raise BadExpiry(f"expires_s {body.expires_s} is not after block time {ctx.time_s}")
    n = state.get_int(keys.order_count()) + 1
    state.set_int(keys.order_count(), n)
    order = Order(
        id=n, instrument=spec.id, account=ctx.sender, side=body.side,
        price_fen_per_t=body.price_fen_per_t, quantity_t=body.quantity_t,
        remaining_t=body.quantity_t, status="open", time_in_force=body.time_in_force,
        placed_height=ctx.height, placed_time_ms=ctx.time_ms, expires_s=body.expires_s,
    )  # fmt: skip
    instruments.lock(state, spec, order)
    spec.orders += 1
    match(state, ctx, spec, order)
    state.set(keys.account_order(ctx.sender, n), b"1")
    if order.remaining_t == 0:
        order.status = "filled"
        order.closed_height = ctx.height
    elif order.time_in_force == "ioc":
        instruments.release(state, spec, order)
        order.status = "cancelled"
        order.closed_height = ctx.height
    else:
        _rest(state, order)
    state.put(keys.order(n), order)
    state.put(keys.instrument(spec.id), spec)
    ctx.emit("exchange.placed", order=n, instrument=spec.id, side=order.side,
             price_fen_per_t=order.price_fen_per_t, quantity_t=order.quantity_t,
             remaining_t=order.remaining_t, status=order.status)  # fmt: skip


class Cancel(Body):
    order: Int64


@kind("exchange.cancel", Cancel)
def apply_cancel(state: StateWriter, ctx: Context, body: Cancel) -> None:
    """Cancel an open order and give back what it locks (the account that placed it)."""
    order = get_order(state, body.order)
    if order is None:
        raise UnknownOrder(f"no order {body.order}")
    if order.account != ctx.sender:
        raise NotYourOrder(f"order {order.id} is {order.account}'s")
    if order.status != "open":
        raise OrderClosed(f"order {order.id} is {order.status}")
    spec = instruments.require(state, order.instrument)
    _close(state, ctx, spec, order, "cancelled")
    ctx.emit("exchange.cancelled", order=order.id, remaining_t=order.remaining_t)
