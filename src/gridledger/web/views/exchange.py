"""Web view: the exchange (see :mod:`gridledger.web`).

``/exchange``: every instrument that has had an order with its last price and volume, and
one instrument's order book (``?instrument=``, by default the first with a trade, else the
first): the depth by price level on each side, best first, the last price and the latest
trades. Pages read the committed state through the ``exchange`` contract's queries and do
bounded work: at most :data:`LEVELS` levels a side and :data:`TRADES` trades.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gridledger.api.context import ApiContext
from gridledger.contracts import exchange
from gridledger.core.errors import InvalidTransaction
from gridledger.web.render import render
from gridledger.web.views.market import not_found, now_s

LEVELS = 20
"""Price levels shown a side."""
TRADES = 30
"""Latest trades shown."""


def _default(instruments: list[exchange.Instrument]) -> str | None:
    traded = [i for i in instruments if i.trades]
    chosen = traded or instruments
    return chosen[0].id if chosen else None


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    node = ctx.node

    @r.get("/exchange", response_class=HTMLResponse)
    def overview(request: Request) -> HTMLResponse:
        view = node.state.view
        instruments = exchange.list_instruments(view)
        asked = request.query_params.get("instrument")
        chosen = asked or _default(instruments)
        book = None
        trades: list[exchange.Trade] = []
        if chosen is not None:
            try:
                exchange.instruments.require(view, chosen)
            except InvalidTransaction:
                return not_found(request, node, "exchange", chosen[:80])
            book = exchange.depth(view, chosen, LEVELS, now_s(node))
            trades = exchange.trades(view, chosen, TRADES)
        levels = [] if book is None else book.bids + book.asks
        most = max((lv.quantity_t for lv in levels), default=0)
        return render(
            request,
            node,
            "exchange/overview.html",
            "exchange",
            instruments=instruments,
            chosen=chosen,
            book=book,
            most=most,
            trades=trades,
        )

    return r
