"""The exchange's stored records.

Units: prices in fen per tonne (``_fen_per_t``: the chain currency's minor unit), amounts in
fen (``_fen``), quantities in whole tonnes (``_t``: allowances or credit units), block time
in milliseconds (``_ms``) or seconds (``_s``) since the Unix epoch, UTC.
"""

from __future__ import annotations

from typing import Literal

from gridledger.contracts.base import Record

Side = Literal["buy", "sell"]
OrderStatus = Literal["open", "filled", "cancelled", "expired"]
"""``open``: resting in the book with ``remaining_t`` left; ``filled``: nothing left;
``cancelled``: by its account, or an IOC order's remainder; ``expired``: its expiry passed
before it filled (noticed when an order reached it in the book)."""
TimeInForce = Literal["gtc", "ioc"]
"""``gtc``: good till cancelled (or ``expires_s``); ``ioc``: immediate or cancel, what does
not trade on placement is cancelled at once."""


class Order(Record, omit_defaults=True):
    """A limit order (``exchange/order/<n>``).

    Attributes:
        id: Its number (1, 2, ...): placement order, the time in price-time priority.
        instrument: The instrument's id (``allowances:<period>`` or
            ``credits:<technology>:<year>``).
        account: The account that placed it.
        side: buy or sell.
        price_fen_per_t: The limit: the most a buy pays, the least a sell accepts.
        quantity_t: Tonnes ordered.
        remaining_t: Tonnes not yet traded (locked while open: a buy's
            ``price_fen_per_t * remaining_t`` fen in funds escrow, a sell's tonnes).
        status: open, filled, cancelled or expired.
        time_in_force: gtc or ioc.
        placed_height: The block that placed it.
        placed_time_ms: That block's time.
        expires_s: Block time from which it no longer trades, if any.
        closed_height: The block that filled, cancelled or expired it.
    """

    id: int
    instrument: str
    account: str
    side: Side
    price_fen_per_t: int
    quantity_t: int
    remaining_t: int
    status: OrderStatus
    time_in_force: TimeInForce
    placed_height: int
    placed_time_ms: int
    expires_s: int | None = None
    closed_height: int | None = None


class Trade(Record, omit_defaults=True):
    """A trade (``exchange/trade/<n>``): both legs settled in the transaction that made it.

    Attributes:
        id: Its number (1, 2, ...).
        instrument: The instrument's id.
        price_fen_per_t: The resting order's price.
        quantity_t: Tonnes delivered.
        amount_fen: ``price_fen_per_t * quantity_t``, paid from the buyer's escrow to the
            seller's balance.
        buy_order: The buy order's number.
        sell_order: The sell order's number.
        buyer: The buying account.
        seller: The selling account.
        taker: The side of the incoming order (the other one was resting).
        height: The block.
        time_ms: The block's time.
        serials: The credit serial blocks delivered (credits; none for allowances).
    """

    id: int
    instrument: str
    price_fen_per_t: int
    quantity_t: int
    amount_fen: int
    buy_order: int
    sell_order: int
    buyer: str
    seller: str
    taker: Side
    height: int
    time_ms: int
    serials: list[str] = []


class Instrument(Record, omit_defaults=True):
    """An instrument with its trading totals (``exchange/instrument/<id>``), written with its
    first order.

    Attributes:
        id: ``allowances:<period>`` or ``credits:<technology>:<year>``.
        asset: allowances or credits.
        period: The allowances' compliance period (their vintage).
        technology: The credits' project technology (the project's device's).
        year: The credits' vintage year (the year their monitoring period starts in, UTC).
        orders: Orders placed.
        trades: Trades made.
        volume_t: Tonnes traded.
        turnover_fen: Fen paid.
        last_price_fen_per_t: The last trade's price.
        last_trade_height: The block of the last trade.
    """

    id: str
    asset: Literal["allowances", "credits"]
    period: str | None = None
    technology: str | None = None
    year: int | None = None
    orders: int = 0
    trades: int = 0
    volume_t: int = 0
    turnover_fen: int = 0
    last_price_fen_per_t: int | None = None
    last_trade_height: int | None = None


class Level(Record):
    """One price level of a side of the book.

    Attributes:
        price_fen_per_t: The price.
        quantity_t: Tonnes resting at it.
        orders: Orders resting at it.
    """

    price_fen_per_t: int
    quantity_t: int
    orders: int


class Depth(Record):
    """An instrument's book aggregated by price: bids best (highest) first, asks best
    (lowest) first.

    Attributes:
        instrument: The instrument's id.
        bids: Buy levels.
        asks: Sell levels.
        last_price_fen_per_t: The last trade's price, if any.
        volume_t: Tonnes traded so far.
        trades: Trades so far.
    """

    instrument: str
    bids: list[Level]
    asks: list[Level]
    last_price_fen_per_t: int | None
    volume_t: int
    trades: int
