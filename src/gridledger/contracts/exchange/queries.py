"""Reading the exchange: instruments, an instrument's book by price level, an account's
orders, trades."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from gridledger.contracts.exchange import keys
from gridledger.contracts.exchange.orders import get_order
from gridledger.contracts.exchange.records import Depth, Instrument, Level, Order, Side, Trade
from gridledger.state.state import StateReader, decode_record


def list_instruments(view: StateReader) -> list[Instrument]:
    """Every instrument that has had an order, by id."""
    return [decode_record(v, Instrument) for _, v in view.scan(keys.instruments())]


def get_instrument(view: StateReader, instrument_id: str) -> Instrument | None:
    return view.get_record(keys.instrument(instrument_id), Instrument)


def _side(view: StateReader, instrument_id: str, side: Side) -> Iterator[Order]:
    for k, _ in view.scan(keys.side_of(instrument_id, side)):
        found = get_order(view, keys.number_of(k))
        if found is not None:
            yield found


def resting_orders(view: StateReader, instrument_id: str, side: Side) -> list[Order]:
    """The open orders of one side of the book, best price first, then oldest."""
    return list(_side(view, instrument_id, side))


def _levels(orders: Iterable[Order], levels: int, time_s: int | None) -> list[Level]:
    out: list[Level] = []
    for o in orders:
        if time_s is not None and o.expires_s is not None and o.expires_s <= time_s:
            continue
        if out and out[-1].price_fen_per_t == o.price_fen_per_t:
            out[-1].quantity_t += o.remaining_t
            out[-1].orders += 1
        elif len(out) == levels:
            break
        else:
            out.append(Level(price_fen_per_t=o.price_fen_per_t, quantity_t=o.remaining_t,
                             orders=1))  # fmt: skip
    return out


def depth(view: StateReader, instrument_id: str, levels: int = 50,
          time_s: int | None = None) -> Depth:  # fmt: skip
    """The book of ``instrument_id`` aggregated by price, at most ``levels`` a side (the
    orders past the last level are not read); orders expired by ``time_s`` (the latest
    block's time, when given) left out."""
    found = get_instrument(view, instrument_id)
    return Depth(
        instrument=instrument_id,
        bids=_levels(_side(view, instrument_id, "buy"), levels, time_s),
        asks=_levels(_side(view, instrument_id, "sell"), levels, time_s),
        last_price_fen_per_t=None if found is None else found.last_price_fen_per_t,
        volume_t=0 if found is None else found.volume_t,
        trades=0 if found is None else found.trades,
    )


def orders_of(view: StateReader, account: str, status: str | None = None) -> list[Order]:
    """Every order ``account`` placed (with ``status`` only, when given), oldest first."""
    out = []
    for k, _ in view.scan(keys.of_account(account)):
        found = get_order(view, keys.number_of(k))
        if found is not None and (status is None or found.status == status):
            out.append(found)
    return out


def get_trade(view: StateReader, n: int) -> Trade | None:
    return view.get_record(keys.trade(n), Trade)


def trades(view: StateReader, instrument_id: str | None = None, limit: int = 100) -> list[Trade]:
    """The latest ``limit`` trades (of one instrument, when given), newest first."""
    if instrument_id is None:
        pairs = view.scan_range(keys.trades(), b"", limit=limit, reverse=True)
        return [decode_record(v, Trade) for _, v in pairs]
    out = []
    for k, _ in view.scan_range(keys.trades_of(instrument_id), b"", limit=limit, reverse=True):
        found = get_trade(view, keys.number_of(k))
        if found is not None:
            out.append(found)
    return out
