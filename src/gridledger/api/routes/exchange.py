"""The exchange: instruments, an instrument's book by price level, orders and trades.

Everything is read from the committed state through the ``exchange`` contract's queries; an
order is placed or cancelled by a transaction (``POST /v1/txs``, kinds ``exchange.place`` and
``exchange.cancel``). The rules are in ``docs/credits.md``, "Trading". Prices are fen per
tonne (``_fen_per_t``), amounts fen, quantities whole tonnes. An instrument id is
``allowances:<period>`` or ``credits:<technology>:<year>``; one that names no opened period
or eligible technology is ``404 not_found``, as is an unknown order.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from gridledger.api.context import ApiContext
from gridledger.api.render import JSONBytes
from gridledger.api.schemas import ERROR_RESPONSES, model_of
from gridledger.contracts import exchange, registry
from gridledger.core.errors import InvalidTransaction, NotFound
from gridledger.state.state import StateReader

ID = registry.ID_RE.pattern
INSTRUMENT = r"^(allowances:[a-z0-9][a-z0-9._-]{0,63}|credits:[a-z_]{1,32}:[0-9]{4})$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


InstrumentModel = model_of(exchange.Instrument, "ExchangeInstrument")
OrderModel = model_of(exchange.Order, "ExchangeOrder")
TradeModel = model_of(exchange.Trade, "ExchangeTrade")
DepthModel = model_of(exchange.Depth, "ExchangeBook")


class InstrumentList(_Strict):
    instruments: list[InstrumentModel] = Field(  # type: ignore[valid-type]
        description="Every instrument that has had an order, by id."
    )


class OrderList(_Strict):
    orders: list[OrderModel] = Field(description="Oldest first.")  # type: ignore[valid-type]


class TradeList(_Strict):
    instrument: str | None = Field(description="The instrument asked for, if any.")
    last_price_fen_per_t: int | None = Field(
        description="The instrument's last trade price (of any instrument without one)."
    )
    volume_t: int = Field(description="Tonnes the instrument traded so far (all, without one).")
    trades: list[TradeModel] = Field(description="Newest first.")  # type: ignore[valid-type]


def _instrument(view: StateReader, instrument: str) -> exchange.Instrument:
    try:
        return exchange.instruments.require(view, instrument)
    except InvalidTransaction as exc:
        raise NotFound(exc.message) from None


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    r = APIRouter(tags=["exchange"])

    @r.get(
        "/v1/exchange/instruments",
        response_model=InstrumentList,
        responses=ERROR_RESPONSES,
        summary="Instruments",
    )
    def instruments() -> Response:
        """Every instrument that has had an order: orders, trades, volume, turnover and last
        price."""
        return JSONBytes({"instruments": exchange.list_instruments(node.state.view)})

    @r.get(
        "/v1/exchange/book/{instrument}",
        response_model=DepthModel,
        responses=ERROR_RESPONSES,
        summary="An instrument's order book",
    )
    def book(
        instrument: Annotated[str, Path(pattern=INSTRUMENT, description="The instrument's id.")],
        levels: Annotated[int, Query(ge=1, le=500, description="Price levels a side.")] = 50,
    ) -> Response:
        """The book aggregated by price: bids highest first, asks lowest first, each level's
        tonnes and orders (orders expired by the latest block's time left out), with the last
        price and the volume traded."""
        view = node.state.view
        _instrument(view, instrument)
        time_s = node.tip.time // 1000
        return JSONBytes(exchange.depth(view, instrument, levels, time_s))

    @r.get(
        "/v1/exchange/orders",
        response_model=OrderList,
        responses=ERROR_RESPONSES,
        summary="An account's orders",
    )
    def orders(
        account: Annotated[str, Query(pattern=ID, description="The account's id.")],
        status: Annotated[
            Literal["open", "filled", "cancelled", "expired"] | None,
            Query(description="Only orders in this state."),
        ] = None,
    ) -> Response:
        """Every order ``account`` placed (in ``status``), oldest first, with what is left."""
        return JSONBytes({"orders": exchange.orders_of(node.state.view, account, status)})

    @r.get(
        "/v1/exchange/orders/{n}",
        response_model=OrderModel,
        responses=ERROR_RESPONSES,
        summary="An order",
    )
    def order(
        n: Annotated[int, Path(ge=1, le=2**62, description="The order's number.")],
    ) -> Response:
        """One order by its number."""
        found = exchange.get_order(node.state.view, n)
        if found is None:
            raise NotFound(f"no order {n}")
        return JSONBytes(found)

    @r.get(
        "/v1/exchange/trades",
        response_model=TradeList,
        responses=ERROR_RESPONSES,
        summary="Trades",
    )
    def trades(
        instrument: Annotated[
            str | None, Query(pattern=INSTRUMENT, description="Only this instrument's.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
    ) -> Response:
        """The latest trades (of ``instrument``), newest first: price, tonnes, both orders and
        accounts, the credit serials delivered; with the last price and the volume."""
        view = node.state.view
        found = exchange.trades(view, instrument, limit)
        if instrument is None:
            listed = exchange.list_instruments(view)
            last = found[0].price_fen_per_t if found else None
            volume = sum(i.volume_t for i in listed)
        else:
            spec = _instrument(view, instrument)
            last, volume = spec.last_price_fen_per_t, spec.volume_t
        return JSONBytes({"instrument": instrument, "last_price_fen_per_t": last,
                          "volume_t": volume, "trades": found})  # fmt: skip

    return r
