"""Reading the market: intervals, order books, pairings, standing choices, grid settlements and
arrears, as typed records.

Queries take any :class:`~gridledger.state.state.StateReader` (a node's committed view, or the
state a transaction executes on). Intervals come oldest first unless asked otherwise, pairings
in clearing order, the rest in id order.
"""

from __future__ import annotations

from collections.abc import Collection

from gridledger.contracts.market import keys
from gridledger.contracts.market.intervals import get_interval, open_interval
from gridledger.contracts.market.keys import Direction
from gridledger.contracts.market.parameters import params
from gridledger.contracts.market.records import (
    Arrear,
    GridSettlement,
    Interval,
    Order,
    OrderBook,
    Pairing,
    Preference,
    StandingOffer,
)
from gridledger.contracts.registry import list_sites
from gridledger.state.state import StateReader, decode_record


def intervals(
    view: StateReader,
    start_s: int = 0,
    end_s: int | None = None,
    limit: int | None = 1000,
    *,
    newest_first: bool = False,
) -> list[Interval]:
    """Interval records with ``start_s <= start < end_s``, oldest (or newest) first, at most
    ``limit``."""
    lo, hi = keys.window(start_s, end_s)
    found = view.scan_range(keys.intervals(), lo, hi, limit, reverse=newest_first)
    return [decode_record(v, Interval) for _, v in found]


def latest_cleared(view: StateReader) -> Interval | None:
    """The latest interval that was cleared (settled ones included), or ``None``.

    Records are decoded from the newest back until one is not open (open records exist only
    for intervals that have taken orders, so few are passed over)."""
    for _, raw in view.scan_range(keys.intervals(), reverse=True):
        record = decode_record(raw, Interval)
        if record.status != "open":
            return record
    return None


def interval_orders(view: StateReader, start_s: int) -> list[Order]:
    """Every order of the interval, in placement order."""
    return [decode_record(v, Order) for _, v in view.scan(keys.orders(start_s))]


def order_book(view: StateReader, start_s: int) -> OrderBook:
    """The interval's record (or the open one it would get) and its orders by side, best
    first: bids by highest price, offers by lowest, then by placement (time priority)."""
    orders = interval_orders(view, start_s)
    bids = sorted(
        (o for o in orders if o.side == "bid"), key=lambda o: (-o.price_fen_per_kwh, o.seq)
    )
    offers = sorted(
        (o for o in orders if o.side == "offer"), key=lambda o: (o.price_fen_per_kwh, o.seq)
    )
    record = get_interval(view, start_s) or open_interval(start_s, params(view))
    return OrderBook(interval=record, bids=bids, offers=offers)


def pairings(
    view: StateReader, start_s: int, first: int = 0, limit: int | None = 100_000
) -> list[Pairing]:
    """The interval's pairings in clearing order from number ``first``, at most ``limit``."""
    found = view.scan_range(keys.pairings(start_s), keys.pairing_number(first), None, limit)
    return [decode_record(v, Pairing) for _, v in found]


def get_pairing(view: StateReader, start_s: int, n: int) -> Pairing | None:
    """Pairing number ``n`` of the interval."""
    return view.get_record(keys.pairing(start_s, n), Pairing)


def preferences_of(view: StateReader, account: str) -> list[Preference]:
    """An account's standing choices, by site."""
    return [decode_record(v, Preference) for _, v in view.scan(keys.preferences_of(account))]


def preferences(view: StateReader) -> list[Preference]:
    """Every consumer's standing choices, by account and site."""
    return [decode_record(v, Preference) for _, v in view.scan(keys.preferences())]


def household_choices(view: StateReader, exclude: Collection[str] = ()) -> dict[str, int]:
    """Consumption sites (households) by standing choice: ``total``, ``clean`` (the market
    bids for them), ``grid`` (plain grid supply by choice) and ``none`` (no choice made: plain
    grid supply too). The grid company supplies all of them; pages and summaries count them
    with this one function so they agree. Sites in ``exclude`` (works, not households) are
    left out."""
    sites = [s.id for s in list_sites(view).items if s.id not in exclude]
    choice = {p.site: p.choice for p in preferences(view)}
    clean = sum(choice.get(s) == "clean" for s in sites)
    grid = sum(choice.get(s) == "grid" for s in sites)
    return {"total": len(sites), "clean": clean, "grid": grid, "none": len(sites) - clean - grid}


def standing_offers(view: StateReader) -> list[StandingOffer]:
    """Every standing offer, by device."""
    return [decode_record(v, StandingOffer) for _, v in view.scan(keys.standing_offers())]


def standing_offer(view: StateReader, device: str) -> StandingOffer | None:
    return view.get_record(keys.standing_offer(device), StandingOffer)


def grid_settlements(
    view: StateReader, start_s: int, limit: int | None = None
) -> list[GridSettlement]:
    """What each site bought from and each device sold to the grid in the interval, imports
    after exports (by direction, then asset id), at most ``limit``; empty until settled."""
    found = view.scan_range(keys.grid_settlements(start_s), limit=limit)
    return [decode_record(v, GridSettlement) for _, v in found]


def grid_settlement(
    view: StateReader, start_s: int, direction: Direction, asset: str
) -> GridSettlement | None:
    return view.get_record(keys.grid_settlement(start_s, direction, asset), GridSettlement)


def arrears_of(view: StateReader, debtor: str) -> list[Arrear]:
    """What ``debtor`` owes, by creditor."""
    prefix = keys.arrears_of(debtor)
    return [
        Arrear(creditor=k[len(prefix) :].decode(), amount_fen=int(v)) for k, v in view.scan(prefix)
    ]
