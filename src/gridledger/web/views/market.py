"""Web view: the market (see :mod:`gridledger.web`).

``/market``: the rules and tariffs, clearing price and volume per interval over the recent days
(charts and a table), and the order book of the open interval (the next one not yet past its
gate closure). ``/market/{start}``: one interval's record, its order book and its pairings,
paginated. Pages read the committed state and do bounded work: at most :data:`MAX_DAYS` days
of intervals, :data:`BOOK_DEPTH` orders per side, :data:`PAIRINGS_PAGE` pairings per page.

The helpers here (the latest interval with data, day windows) serve the participants' pages too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gridledger.api.context import ApiContext
from gridledger.contracts import market
from gridledger.core.localtime import UTC, LocalTime
from gridledger.node.node import Node
from gridledger.state.state import StateReader
from gridledger.web.charts import Series, bars, lines
from gridledger.web.i18n import Translator, pick_lang
from gridledger.web.render import render

DAY_S = 86_400
MAX_DAYS = 7
"""The most days of intervals the market page charts."""
DEFAULT_DAYS = 2
BOOK_DEPTH = 50
"""Orders per side shown in an order book."""
PAIRINGS_PAGE = 100
MAX_START = 9_999_999_999


def day_of(seconds: int, local: LocalTime = UTC) -> int:
    """The start of the local day holding ``seconds`` (the chain's time zone)."""
    return local.day_of(seconds)


def latest_day(view: StateReader, local: LocalTime = UTC) -> int | None:
    """The local day of the latest cleared interval: the market's "today" with data."""
    record = market.latest_cleared(view)
    return None if record is None else local.day_of(record.start_s)


def days_back(last_day: int, days: int, local: LocalTime = UTC) -> list[int]:
    """``days`` local day starts ending with ``last_day``, oldest first."""
    return local.days_back(last_day, days)


def now_s(node: Node) -> int:
    """Block time as the node would stamp the next block, in seconds."""
    return max(node.config.clock(), node.tip.time) // 1000


def open_interval(view: StateReader, now: int) -> int:
    """The first interval whose gate closure has not passed at ``now``."""
    rules = market.params(view)
    length, gate = rules.interval_s, rules.gate_closure_s
    start = (now + gate) // length * length + length
    while start - gate <= now:
        start += length
    return start


def clamp(value: str | None, low: int, high: int, default: int) -> int:
    """A query parameter as an integer within ``[low, high]``; ``default`` if not a number."""
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return min(max(number, low), high)


def not_found(
    request: Request, node: Node, nav: str, what: str, roles: list[str] | None = None
) -> HTMLResponse:
    """The translated 404 page; ``roles``: ``what`` is an account, but without the role this
    page is for, and these are the roles it has."""
    return render(
        request, node, "participants/not_found.html", nav, status_code=404, what=what,
        roles=roles,
    )  # fmt: skip


def _book(view: StateReader, start: int) -> dict[str, Any]:
    book = market.order_book(view, start)
    return {
        "interval": book.interval,
        "bids": book.bids[:BOOK_DEPTH],
        "offers": book.offers[:BOOK_DEPTH],
        "bid_count": len(book.bids),
        "offer_count": len(book.offers),
    }


def _hours(records: list[market.Interval], local: LocalTime) -> Iterator[str]:
    for record in records:
        yield local.format(record.start_s, "%d %H:%M")


def _charts(t: Translator, records: list[market.Interval], local: LocalTime) -> dict[str, str]:
    labels = list(_hours(records, local))
    prices = [r.clearing_price_fen_per_kwh for r in records]
    sell = [None if r.tariffs is None else r.tariffs.sell_price_fen_per_kwh for r in records]
    feed = [None if r.tariffs is None else r.tariffs.feed_in_price_fen_per_kwh for r in records]
    volume = [(r.volume_wh or 0) / 1000 for r in records]
    delivered = [0 if r.settlement is None else r.settlement.delivered_wh / 1000 for r in records]
    return {
        "price": lines(
            t("market.chart.price"),
            t("market.chart.price_desc"),
            labels,
            [
                Series(t("market.clearing_price"), prices, "var(--clean)"),
                Series(t("market.sell_price"), sell, "var(--grid)"),
                Series(t("market.feed_in_price"), feed, "var(--warn)"),
            ],
            times=[r.start_s for r in records],
        ),
        "volume": bars(
            t("market.chart.volume"),
            t("market.chart.volume_desc"),
            labels,
            [
                Series(t("market.volume"), volume, "var(--clean)"),
                Series(t("market.delivered"), delivered, "var(--grid)"),
            ],
            times=[r.start_s for r in records],
        ),
    }


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    node = ctx.node

    @r.get("/market", response_class=HTMLResponse)
    def overview(request: Request) -> HTMLResponse:
        view = node.state.view
        days = clamp(request.query_params.get("days"), 1, MAX_DAYS, DEFAULT_DAYS)
        local = ctx.local
        last = latest_day(view, local)
        chosen = request.query_params.get("day", "")
        if chosen:
            try:
                last, days = local.parse_day(chosen), 1
            except ValueError:
                return not_found(request, node, "market", chosen[:32])
        records: list[market.Interval] = []
        if last is not None:
            first = local.days_back(last, days)[0]
            end = local.next_day(last)
            records = [
                rec
                for rec in market.intervals(view, first, end, limit=days * 24 * 4)
                if rec.status != "open"
            ]
        t = Translator(pick_lang(request))
        upcoming = open_interval(view, now_s(node))
        return render(
            request,
            node,
            "market/overview.html",
            "market",
            params=market.params(view),
            tariffs=market.tariffs(view),
            days=days,
            max_days=MAX_DAYS,
            chosen_day=local.format(last, "%Y-%m-%d") if last is not None else "",
            today=local.format(now_s(node), "%Y-%m-%d"),
            records=records,
            latest=records[-1] if records else None,
            charts=_charts(t, records, local) if records else None,
            book=_book(view, upcoming),
            standing_clean=sum(p.choice == "clean" for p in market.preferences(view)),
            standing_offers=len(market.standing_offers(view)),
        )

    @r.get("/market/{start}", response_class=HTMLResponse)
    def interval(request: Request, start: str) -> HTMLResponse:
        view = node.state.view
        if not start.isdigit() or int(start) > MAX_START:
            return not_found(request, node, "market", start)
        at = int(start)
        record = market.get_interval(view, at)
        if record is None:
            return not_found(request, node, "market", start)
        page = clamp(request.query_params.get("page"), 1, 1_000_000, 1)
        rows = market.pairings(view, at, (page - 1) * PAIRINGS_PAGE, PAIRINGS_PAGE + 1)
        length = record.interval_s
        return render(
            request,
            node,
            "market/interval.html",
            "market",
            record=record,
            book=_book(view, at),
            pairings=rows[:PAIRINGS_PAGE],
            page=page,
            more=len(rows) > PAIRINGS_PAGE,
            previous=at - length,
            following=at + length,
        )

    return r
