"""The clean-power market: its rules and tariffs, intervals with their order books, pairings and
grid settlements, and what each account and plant traded.

Everything here reads the committed state, except what each account and plant traded and an
account's pairings, which come from the market's read model beside the chain
(:mod:`gridledger.readmodels.market`); orders and every other market action are
transactions (``POST /v1/txs``, kinds ``market.*``). Times are Unix seconds (UTC) and an
interval is named by its start. An interval nobody has traded in yet has no record: its order
book reads as an empty open interval, and its pairings and grid settlements as empty lists.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from gridledger.api.context import ApiContext
from gridledger.api.errors import InvalidRequest
from gridledger.api.render import JSONBytes
from gridledger.api.routes.assets import DeviceId, require_account, require_device
from gridledger.api.routes.readings import MAX_START
from gridledger.api.routes.state import AccountId
from gridledger.api.schemas import (
    ERROR_RESPONSES,
    AccountPairings,
    Arrears,
    GridSettlements,
    IntervalPage,
    IntervalPairings,
    MarketParams,
    MarketPreferences,
    MarketStats,
    MarketTariffs,
    OrderBook,
    PlantStats,
    StandingOffers,
)
from gridledger.contracts import market
from gridledger.core.errors import NotFound
from gridledger.readmodels import market as totals
from gridledger.state.state import StateReader

MAX_PAGE = 1000
"""Intervals, pairings or orders per side in one answer."""
MAX_WHOLE_INTERVAL = 100_000
"""The most pairings of one account in one interval that a page returns whole."""
PAIRING_ID = re.compile(r"^(\d{1,10})-(\d{8})$")

Start = Annotated[
    int, Path(ge=0, le=MAX_START, description="Interval start, Unix seconds UTC (aligned).")
]
From = Annotated[
    int, Query(alias="from", ge=0, le=MAX_START, description="First interval start, Unix s.")
]
To = Annotated[
    int | None, Query(ge=0, le=MAX_START, description="Interval starts before this, Unix s.")
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"1 to {MAX_PAGE} per page.")]


def _window(start: int, end: int | None) -> None:
    if end is not None and end <= start:
        raise InvalidRequest(f"query.to: {end} must be after from ({start})")


def _interval(view: StateReader, start: int) -> market.Interval:
    """The interval's record, or the open record it would get; refuses a start that is not
    aligned to the market interval."""
    record = market.get_interval(view, start)
    if record is not None:
        return record
    record = market.open_interval(start, market.params(view))
    if start % record.interval_s:
        raise InvalidRequest(
            f"path.start: {start} is not the start of a market interval "
            f"(a multiple of {record.interval_s} s, UTC)"
        )
    return record


def objects(records: list[market.Order] | list[market.Pairing]) -> list[dict[str, Any]]:
    """Orders or pairings as the API sends them: objects (they are stored as arrays), every
    field present (a pairing's ``delivered_wh`` and ``amount_fen`` null until settled)."""
    return [msgspec.structs.asdict(r) for r in records]


def permille_text(permille: int) -> str:
    """Per mille as an exact decimal fraction: 714 -> ``"0.714"``."""
    return f"{permille // 1000}.{permille % 1000:03d}"


def account_pairings_page(
    conn: sqlite3.Connection,
    view: StateReader,
    account: str,
    start: int,
    end: int | None,
    limit: int,
) -> tuple[list[market.Pairing], int | None]:
    """An account's pairings from ``start``, at most ``limit`` unless one interval holds more,
    and the ``from`` of the next page. A page never splits one interval's pairings."""
    rows = totals.account_pairings(conn, view, account, start, end, limit + 1)
    if len(rows) <= limit:
        return rows, None
    cut = rows[limit].interval_start_s
    taken = [r for r in rows[:limit] if r.interval_start_s < cut]
    if taken:
        return taken, cut
    whole = totals.account_pairings(conn, view, account, cut, cut + 1, MAX_WHOLE_INTERVAL)
    nxt = cut + 1
    return whole, None if end is not None and nxt >= end else nxt


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    r = APIRouter(prefix="/v1/market", tags=["market"])

    @r.get("/params", response_model=MarketParams, summary="Market rules")
    def get_params() -> Response:
        """Interval length, clearing mechanism, gate closure, horizon and data deadline."""
        return JSONBytes(market.params(node.state.view))

    @r.get(
        "/tariffs", response_model=MarketTariffs, responses=ERROR_RESPONSES, summary="Grid tariffs"
    )
    def get_tariffs() -> Response:
        """The grid's selling and feed-in prices; ``404 not_found`` until a grid operator
        sets them (no interval can be cleared before)."""
        found = market.tariffs(node.state.view)
        if found is None:
            raise NotFound("no grid tariffs yet: a grid operator sets them with market.set_tariffs")
        return JSONBytes(found)

    @r.get(
        "/intervals", response_model=IntervalPage, responses=ERROR_RESPONSES, summary="Intervals"
    )
    def list_intervals(from_: From = 0, to: To = None, limit: Limit = 100) -> Response:
        """Interval records with ``from <= start < to``, oldest first: every interval that
        took an order or was cleared. ``next`` is the ``from`` of the next page."""
        _window(from_, to)
        found = market.intervals(node.state.view, from_, to, limit + 1)
        nxt = found[limit].start_s if len(found) > limit else None
        return JSONBytes({"intervals": found[:limit], "next": nxt})

    @r.get(
        "/intervals/{start}",
        response_model=OrderBook,
        responses=ERROR_RESPONSES,
        summary="An interval's order book",
    )
    def order_book(
        start: Start,
        depth: Annotated[
            int, Query(ge=1, le=MAX_PAGE, description=f"Orders per side, 1 to {MAX_PAGE}.")
        ] = 100,
    ) -> Response:
        """The interval's record and its orders, best first: bids by highest price, offers by
        lowest, then oldest first. Cleared and settled intervals keep their orders (standing
        ones included). An interval without a record is open and empty."""
        view = node.state.view
        _interval(view, start)
        book = market.order_book(view, start)
        return JSONBytes(
            {
                "interval": book.interval,
                "bids": objects(book.bids[:depth]),
                "offers": objects(book.offers[:depth]),
                "bid_count": len(book.bids),
                "offer_count": len(book.offers),
            }
        )

    @r.get(
        "/intervals/{start}/pairings",
        response_model=IntervalPairings,
        responses=ERROR_RESPONSES,
        summary="An interval's pairings",
    )
    def interval_pairings(
        start: Start,
        after: Annotated[
            str | None, Query(description="Start after this pairing id (the previous `next`).")
        ] = None,
        limit: Limit = 1000,
    ) -> Response:
        """Who buys how much from whom at what price, in clearing order; once settled, with
        what each pairing delivered and cost. Empty before clearing."""
        view = node.state.view
        record = _interval(view, start)
        first = 0
        if after is not None:
            m = PAIRING_ID.match(after)
            if m is None or int(m.group(1)) != start:
                raise InvalidRequest(f"query.after: {after!r} is not a pairing id of {start}")
            first = int(m.group(2)) + 1
        rows = market.pairings(view, start, first, limit + 1)
        nxt = rows[limit - 1].id if len(rows) > limit else None
        return JSONBytes(
            {
                "interval": start,
                "status": record.status,
                "pairings": objects(rows[:limit]),
                "next": nxt,
            }
        )

    @r.get(
        "/intervals/{start}/grid",
        response_model=GridSettlements,
        responses=ERROR_RESPONSES,
        summary="An interval's grid settlements",
    )
    def grid(start: Start) -> Response:
        """What each site with a bid bought from the grid and each device with an offer fed
        into it, at the interval's tariffs. Empty until the interval is settled."""
        view = node.state.view
        record = _interval(view, start)
        return JSONBytes(
            {
                "interval": start,
                "status": record.status,
                "settlements": market.grid_settlements(view, start),
            }
        )

    @r.get(
        "/accounts/{account}/pairings",
        response_model=AccountPairings,
        responses=ERROR_RESPONSES,
        summary="An account's pairings",
    )
    def account_pairings(
        account: AccountId, from_: From = 0, to: To = None, limit: Limit = 100
    ) -> Response:
        """The account's pairings as consumer or producer with ``from <= interval < to``,
        oldest first. A page never splits one interval; ``next`` is the next page's ``from``."""
        view = node.state.view
        _window(from_, to)
        require_account(view, account)
        rows, nxt = account_pairings_page(node.readmodels.reader(), view, account, from_, to, limit)
        return JSONBytes({"account": account, "pairings": objects(rows), "next": nxt})

    @r.get(
        "/accounts/{account}/stats",
        response_model=MarketStats,
        responses=ERROR_RESPONSES,
        summary="An account's market totals",
    )
    def account_stats(account: AccountId) -> Response:
        """Settled totals: energy consumed, clean and from the grid, and what it cost; energy
        generated, sold and exported, and what it earned. Zeros for an account that has not
        settled anything yet."""
        require_account(node.state.view, account)
        found = totals.account_totals(node.readmodels.reader(), account)
        stats = found or totals.AccountTotals(account=account)
        share = permille_text(stats.clean_share_permille)
        return JSONBytes({**msgspec.structs.asdict(stats), "clean_share": share})

    @r.get(
        "/accounts/{account}/preferences",
        response_model=MarketPreferences,
        responses=ERROR_RESPONSES,
        summary="An account's standing choices",
    )
    def preferences(account: AccountId) -> Response:
        """The account's choice of clean or grid power per site (``market.set_preference``)."""
        view = node.state.view
        require_account(view, account)
        return JSONBytes({"account": account, "preferences": market.preferences_of(view, account)})

    @r.get(
        "/accounts/{account}/arrears",
        response_model=Arrears,
        responses=ERROR_RESPONSES,
        summary="What an account owes",
    )
    def arrears(account: AccountId) -> Response:
        """What settlements left the account owing, per creditor (``market.pay_arrears``)."""
        view = node.state.view
        require_account(view, account)
        owed = market.arrears_of(view, account)
        total = sum(a.amount_fen for a in owed)
        return JSONBytes({"account": account, "arrears": owed, "total_fen": total})

    @r.get(
        "/plants/{device}",
        response_model=PlantStats,
        responses=ERROR_RESPONSES,
        summary="A plant's market totals",
    )
    def plant(device: DeviceId) -> Response:
        """A registered device's settled totals and what each consumer bought from it; zeros
        before its first settlement."""
        require_device(node.state.view, device)
        found = totals.plant_totals(node.readmodels.reader(), device)
        return JSONBytes(found or totals.PlantTotals(device=device))

    @r.get("/standing-offers", response_model=StandingOffers, summary="Standing offers")
    def standing_offers() -> Response:
        """Plants offered every interval at a floor price (``market.set_standing_offer``)."""
        return JSONBytes({"standing_offers": market.standing_offers(node.state.view)})

    return r
