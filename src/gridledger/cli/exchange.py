"""``gridledger exchange``: limit orders for allowances and carbon credits (``docs/cli.md``,
rules in ``docs/credits.md``, "Trading").

gridledger exchange place --instrument I --side buy|sell --price FEN --quantity T
                          [--ioc] [--expires-s S]
gridledger exchange cancel --order N
gridledger exchange instruments | book INSTRUMENT [--levels N]
gridledger exchange orders --account A [--status S] | trades [--instrument I] [--limit N]

Transactions sign and submit as every ``tx`` command does (:mod:`gridledger.cli.signing`:
``--from``, ``--key``, ``--wait``, ``--node``, ``--json``). Views print the API's answer as
JSON. Prices are fen per tonne, quantities whole tonnes; an instrument is
``allowances:<period>`` or ``credits:<technology>:<year>``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from gridledger.cli.common import HomeOpt, NodeOpt, call_node, print_json
from gridledger.cli.signing import Body, signed_command
from gridledger.node.home import DEFAULT_HOME

app = typer.Typer(
    help="The exchange: limit orders for allowances and credits, the book, trades.",
    no_args_is_help=True,
)

InstrumentArg = Annotated[
    str, typer.Argument(help="allowances:<period> or credits:<technology>:<year>.")
]


@app.command("instruments")
def instruments(home: HomeOpt = DEFAULT_HOME, node: NodeOpt = None) -> None:
    """Every instrument that has had an order, with last price and volume."""
    print_json(call_node(home, node, True, lambda c: c.exchange.instruments()))


@app.command("book")
def book(
    instrument: InstrumentArg,
    levels: Annotated[int | None, typer.Option("--levels", min=1, max=500)] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """An instrument's order book by price level, best first."""
    print_json(call_node(home, node, True, lambda c: c.exchange.book(instrument, levels)))


@app.command("orders")
def orders(
    account: Annotated[str, typer.Option("--account", help="The account.")],
    status: Annotated[
        Literal["open", "filled", "cancelled", "expired"] | None, typer.Option("--status")
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """The orders an account placed, oldest first."""
    print_json(call_node(home, node, True, lambda c: c.exchange.orders(account, status)))


@app.command("trades")
def trades(
    instrument: Annotated[str | None, typer.Option("--instrument")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, max=1000)] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """The latest trades (of an instrument), newest first, with last price and volume."""
    print_json(call_node(home, node, True, lambda c: c.exchange.trades(instrument, limit)))


@signed_command(app, "place", "exchange.place")
def place(
    instrument: Annotated[str, typer.Option("--instrument", help="The instrument's id.")],
    side: Annotated[Literal["buy", "sell"], typer.Option("--side")],
    price: Annotated[int, typer.Option("--price", min=1, help="Limit, fen per tonne.")],
    quantity: Annotated[int, typer.Option("--quantity", min=1, help="Whole tonnes.")],
    ioc: Annotated[
        bool, typer.Option("--ioc", help="Immediate or cancel: nothing rests in the book.")
    ] = False,
    expires_s: Annotated[
        int | None, typer.Option("--expires-s", min=1, help="Block time (Unix s) it expires.")
    ] = None,
) -> Body:
    """Place a limit order (exchange.place): it trades with what it crosses at once."""
    return {"instrument": instrument, "side": side, "price_fen_per_t": price,
            "quantity_t": quantity, "time_in_force": "ioc" if ioc else "gtc",
            "expires_s": expires_s}  # fmt: skip


@signed_command(app, "cancel", "exchange.cancel")
def cancel(
    order: Annotated[int, typer.Option("--order", min=1, help="The order's number.")],
) -> Body:
    """Cancel an open order of --from's (exchange.cancel); its locks are given back."""
    return {"order": order}
