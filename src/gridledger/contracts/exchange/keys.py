"""Every state key of the exchange. Nothing else builds them: other code calls these.

* ``exchange/order/<n>``: the :class:`~.records.Order` numbered ``n`` (12 digits);
* ``exchange/orders``: how many orders were placed (the last number handed out);
* ``exchange/book/<instrument>/<side>/<price>/<n>``: ``1`` while order ``n`` rests in the
  book. ``<side>`` is ``b`` (bids) or ``s`` (asks); ``<price>`` is 19 digits: the ask's
  price, or ``2^63 - 1`` minus the bid's, so each side scans best price first and, within a
  price, in order of placement (price-time priority);
* ``exchange/head/<instrument>/<side>``: the rest of key (``<price>/<n>``) of an order that
  rested in that side of the book at or before the best live one: every live order of the
  side is at or after it, so the best-order lookup starts there and never steps again over
  the orders filled before it;
* ``exchange/account/<account>/<n>``: ``1`` for every order the account placed;
* ``exchange/instrument/<instrument>``: the :class:`~.records.Instrument` (created with its
  first order): last price, volume;
* ``exchange/trade/<n>``: the :class:`~.records.Trade` numbered ``n`` (12 digits);
* ``exchange/trades``: how many trades were recorded;
* ``exchange/trades_of/<instrument>/<n>``: ``1`` for every trade of the instrument.
"""

from __future__ import annotations

from typing import Literal

from gridledger.core.encoding import INT_MAX

Side = Literal["buy", "sell"]


def _n(n: int) -> bytes:
    return b"%012d" % n


def order(n: int) -> bytes:
    return orders() + _n(n)


def orders() -> bytes:
    """Prefix of every order, in the order they were placed."""
    return b"exchange/order/"


def order_count() -> bytes:
    return b"exchange/orders"


def side_of(instrument: str, side: Side) -> bytes:
    """Prefix of one side of an instrument's book, best price first, then oldest."""
    return b"exchange/book/" + instrument.encode() + (b"/b/" if side == "buy" else b"/s/")


def resting(instrument: str, side: Side, price_fen_per_t: int, n: int) -> bytes:
    rank = INT_MAX - price_fen_per_t if side == "buy" else price_fen_per_t
    return side_of(instrument, side) + b"%019d/" % rank + _n(n)


def head(instrument_id: str, side: Side) -> bytes:
    return b"exchange/head/" + instrument_id.encode() + (b"/b" if side == "buy" else b"/s")


def of_account(account: str) -> bytes:
    """Prefix of every order an account placed, oldest first."""
    return b"exchange/account/" + account.encode() + b"/"


def account_order(account: str, n: int) -> bytes:
    return of_account(account) + _n(n)


def instrument(instrument_id: str) -> bytes:
    return instruments() + instrument_id.encode()


def instruments() -> bytes:
    """Prefix of every instrument traded or ordered, by id."""
    return b"exchange/instrument/"


def trade(n: int) -> bytes:
    return trades() + _n(n)


def trades() -> bytes:
    """Prefix of every trade, oldest first."""
    return b"exchange/trade/"


def trade_count() -> bytes:
    return b"exchange/trades"


def trades_of(instrument_id: str) -> bytes:
    """Prefix of an instrument's trades, oldest first."""
    return b"exchange/trades_of/" + instrument_id.encode() + b"/"


def instrument_trade(instrument_id: str, n: int) -> bytes:
    return trades_of(instrument_id) + _n(n)


def number_of(key: bytes) -> int:
    """The order or trade number a book, account or trades index key ends with."""
    return int(key[-12:])
