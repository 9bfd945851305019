"""``gridledger tx market`` and ``gridledger query market``: the clean-power market.

Transactions sign and submit as every ``tx`` command does (:mod:`gridledger.cli.signing`);
queries read the node's ``/v1/market`` endpoints and print tables, or the API's answer with
``--json``. Energy is in Wh, prices in fen per kWh, money in fen; interval starts are Unix
seconds or ISO 8601 times (UTC).
"""

from __future__ import annotations

from typing import Annotated

import typer

from gridledger.cli.common import (
    HomeOpt,
    JsonOpt,
    NodeOpt,
    call_node,
    console,
    kv_table,
    optional_seconds,
    print_fields,
    print_json,
    print_more,
    rows_table,
    unix_seconds,
    utc_time,
)
from gridledger.cli.signing import Body, BodyOrRead, signed_command
from gridledger.node.home import DEFAULT_HOME

tx_app = typer.Typer(
    help="Market transactions: orders, standing choices, clearing, settlement, rules, tariffs.",
    no_args_is_help=True,
)
query_app = typer.Typer(
    help="Read the market: rules, tariffs, intervals, order books, pairings, totals.",
    no_args_is_help=True,
)

IntervalOpt = Annotated[
    str, typer.Option("--interval", help="Interval start: Unix seconds or ISO 8601 (UTC).")
]
SiteOpt = Annotated[str, typer.Option("--site", help="The consumption site.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="The generating plant (device id).")]
QuantityOpt = Annotated[int, typer.Option("--quantity-wh", min=1, help="Energy, Wh.")]
PriceOpt = Annotated[int, typer.Option("--price", min=1, help="Minor units per kWh.")]
PreferOpt = Annotated[
    list[str] | None,
    typer.Option("--prefer", help="A preferred plant (device id); repeat, first choice first."),
]


def _start(value: str, option: str = "--interval") -> int:
    return unix_seconds(value, option)


# transactions --------------------------------------------------------------------------------
@signed_command(tx_app, "bid", "market.place_bid")
def bid(
    interval: IntervalOpt,
    site: SiteOpt,
    quantity_wh: QuantityOpt,
    price: Annotated[int, typer.Option("--price", min=1, help="The most to pay per kWh.")],
    prefer: PreferOpt = None,
) -> Body:
    """Bid for clean power for a site in one interval; its cost at --price is escrowed until
    settlement (market.place_bid; consumer)."""
    return {
        "interval": _start(interval),
        "site": site,
        "quantity_wh": quantity_wh,
        "price": price,
        "preferred": prefer or [],
    }


@signed_command(tx_app, "offer", "market.place_offer")
def offer(
    interval: IntervalOpt,
    device: DeviceOpt,
    quantity_wh: QuantityOpt,
    price: Annotated[int, typer.Option("--price", min=1, help="The least to take per kWh.")],
) -> Body:
    """Offer a plant's energy in one interval at a floor price (market.place_offer;
    producer)."""
    return {
        "interval": _start(interval),
        "device": device,
        "quantity_wh": quantity_wh,
        "price": price,
    }


@signed_command(tx_app, "cancel", "market.cancel_order")
def cancel(
    interval: IntervalOpt,
    order: Annotated[int, typer.Option("--order", min=1, help="The order number (seq).")],
) -> Body:
    """Withdraw an order before gate closure; a bid's escrow returns (market.cancel_order; the
    account that placed it)."""
    return {"interval": _start(interval), "order": order}


@signed_command(tx_app, "prefer", "market.set_preference")
def prefer(
    site: SiteOpt,
    choice: Annotated[
        str, typer.Option("--choice", help="clean: bid every interval; grid: grid supply only.")
    ],
    price_cap: Annotated[
        int | None,
        typer.Option("--price-cap", min=1, help="Most to pay per kWh. Default: grid price."),
    ] = None,
    quantity_wh: Annotated[
        int | None,
        typer.Option("--quantity-wh", min=1, help="Wh per interval. Default: site ceiling."),
    ] = None,
    preferred: PreferOpt = None,
) -> Body:
    """Choose clean or grid power for a site once; a bid follows at every clearing
    (market.set_preference; consumer)."""
    return {
        "site": site,
        "choice": choice,
        "price_cap": price_cap,
        "quantity_wh": quantity_wh,
        "preferred": preferred or [],
    }


@signed_command(tx_app, "standing-offer", "market.set_standing_offer")
def standing_offer(
    device: DeviceOpt,
    floor_price: Annotated[
        int | None, typer.Option("--floor-price", min=1, help="The least to take per kWh.")
    ] = None,
    quantity_wh: Annotated[
        int | None,
        typer.Option("--quantity-wh", min=1, help="Wh per interval. Default: nameplate output."),
    ] = None,
    stop: Annotated[bool, typer.Option("--stop", help="Withdraw the standing offer.")] = False,
) -> Body:
    """Offer a plant's output at every clearing at --floor-price, or --stop doing so
    (market.set_standing_offer; producer)."""
    if stop:
        # the transaction carries a floor price even to withdraw; any valid one will do
        return {"device": device, "floor_price": floor_price or 1, "active": False}
    if floor_price is None:
        raise typer.BadParameter("give --floor-price (or --stop)")
    return {"device": device, "floor_price": floor_price, "quantity_wh": quantity_wh}


@signed_command(tx_app, "clear", "market.clear")
def clear(interval: IntervalOpt) -> Body:
    """Clear an interval once its gate closure has passed: standing orders, matching,
    pairings (market.clear; anyone)."""
    return {"interval": _start(interval)}


@signed_command(tx_app, "settle", "market.settle")
def settle(interval: IntervalOpt) -> Body:
    """Settle a cleared interval against its meter data once it has ended (market.settle;
    anyone)."""
    return {"interval": _start(interval)}


@signed_command(tx_app, "pay-arrears", "market.pay_arrears")
def pay_arrears(
    creditor: Annotated[str, typer.Option("--creditor", help="The account owed.")],
) -> Body:
    """Pay what settlements left --from owing --creditor, as far as the balance covers
    (market.pay_arrears)."""
    return {"creditor": creditor}


@signed_command(tx_app, "params", "market.set_params")
def params(
    interval_s: Annotated[
        int | None, typer.Option("--interval-s", help="Interval length: 900, 3600 or 86400 s.")
    ] = None,
    mechanism: Annotated[
        str | None,
        typer.Option("--mechanism", help="pay_as_clear, pay_as_bid or preferred_first."),
    ] = None,
    gate_closure_s: Annotated[
        int | None, typer.Option("--gate-closure-s", help="Orders close this long before, s.")
    ] = None,
    horizon_s: Annotated[
        int | None, typer.Option("--horizon-s", help="Orders may be placed this far ahead, s.")
    ] = None,
    data_deadline_s: Annotated[
        int | None,
        typer.Option("--data-deadline-s", help="Settlement waits this long for meter data, s."),
    ] = None,
    clear_window_s: Annotated[
        int | None,
        typer.Option("--clear-window-s", help="Intervals may be cleared this long after, s."),
    ] = None,
) -> BodyOrRead:
    """Change market rules; the ones not given stay as they are (market.set_params;
    operator)."""
    given = {
        "interval_s": interval_s,
        "mechanism": mechanism,
        "gate_closure_s": gate_closure_s,
        "horizon_s": horizon_s,
        "data_deadline_s": data_deadline_s,
        "clear_window_s": clear_window_s,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes:
        raise typer.BadParameter("give at least one rule to change")
    return lambda client: {**client.market.params(), **changes}


@signed_command(tx_app, "tariffs", "market.set_tariffs")
def tariffs(
    sell_price: Annotated[
        int, typer.Option("--sell-price", min=1, help="What the grid charges per kWh.")
    ],
    feed_in_price: Annotated[
        int, typer.Option("--feed-in-price", min=0, help="What the grid pays per kWh fed in.")
    ],
) -> Body:
    """Set the grid's prices; --from becomes the grid account that settles imports and
    exports (market.set_tariffs; grid_operator)."""
    return {"sell_price": sell_price, "feed_in_price": feed_in_price}


# queries -------------------------------------------------------------------------------------
StartArg = Annotated[
    str, typer.Argument(metavar="START", help="Interval start: Unix seconds or ISO 8601 (UTC).")
]
AccountArg = Annotated[str, typer.Argument(metavar="ACCOUNT", help="The account id.")]
FromTime = Annotated[
    str | None,
    typer.Option("--from", help="First interval start: Unix seconds or ISO 8601 (UTC)."),
]
ToTime = Annotated[
    str | None,
    typer.Option("--to", help="Interval starts before this: Unix seconds or ISO 8601 (UTC)."),
]
LimitOpt = Annotated[int, typer.Option("--limit", min=1, max=1000, help="Records per page.")]


@query_app.command("params")
def show_params(
    home: HomeOpt = DEFAULT_HOME, node: NodeOpt = None, json_out: JsonOpt = False
) -> None:
    """The market's rules: interval, mechanism, gate closure, horizon, data deadline."""
    print_fields(call_node(home, node, json_out, lambda c: c.market.params()), json_out)


@query_app.command("tariffs")
def show_tariffs(
    home: HomeOpt = DEFAULT_HOME, node: NodeOpt = None, json_out: JsonOpt = False
) -> None:
    """The grid's selling and feed-in prices (fen per kWh) and its account."""
    print_fields(call_node(home, node, json_out, lambda c: c.market.tariffs()), json_out)


INTERVAL_COLUMNS = [
    ("start (UTC)", "start_s"),
    ("status", "status"),
    ("orders", "orders"),
    ("volume_wh", "volume_wh"),
    ("price_fen_per_kwh", "clearing_price_fen_per_kwh"),
    ("delivered_wh", "delivered_wh"),
]


@query_app.command("intervals")
def intervals(
    start: FromTime = None,
    end: ToTime = None,
    limit: LimitOpt = 100,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Intervals that took orders, oldest first, with their clearing and settlement."""
    first, last = optional_seconds(start, "--from"), optional_seconds(end, "--to")
    found = call_node(home, node, json_out, lambda c: c.market.intervals(first, last, limit))
    if json_out:
        print_json(found)
        return
    rows = [
        {
            **r,
            "orders": f"{r['bids']} / {r['offers']}" if r["bids"] is not None else None,
            "delivered_wh": (r.get("settlement") or {}).get("delivered_wh"),
        }
        for r in found["intervals"]
    ]
    console.print(rows_table(rows, INTERVAL_COLUMNS))
    print_more(found["next"], "--from")


ORDER_COLUMNS = [
    ("seq", "seq"),
    ("account", "account"),
    ("asset", "asset"),
    ("energy_wh", "energy_wh"),
    ("price_fen_per_kwh", "price_fen_per_kwh"),
    ("preferred", "preferred"),
    ("source", "source"),
]


@query_app.command("book")
def book(
    start: StartArg,
    depth: Annotated[int, typer.Option("--depth", min=1, max=1000, help="Orders per side.")] = 100,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """An interval's status and its order book: bids highest price first, offers lowest."""
    at = _start(start, "START")
    found = call_node(home, node, json_out, lambda c: c.market.book(at, depth))
    if json_out:
        print_json(found)
        return
    record = found["interval"]
    summary = [
        (
            "interval",
            f"{utc_time(record['start_s'])} ({record['start_s']}, {record['interval_s']} s)",
        ),
        ("status", record["status"]),
    ]
    if record.get("clearing_price_fen_per_kwh") is not None:
        summary.append(("clearing price fen per kwh", record["clearing_price_fen_per_kwh"]))
    if record.get("volume_wh") is not None:
        summary.append(("volume_wh", record["volume_wh"]))
    console.print(kv_table(summary))
    for side, count in (("bids", "bid_count"), ("offers", "offer_count")):
        shown = found[side]
        console.print(rows_table(shown, ORDER_COLUMNS, f"{side} ({found[count]})"))
        if found[count] > len(shown):
            console.print(f"{found[count] - len(shown)} more {side}: raise --depth")


PAIRING_COLUMNS = [
    ("interval (UTC)", "interval_start_s"),
    ("#", "n"),
    ("consumer", "consumer"),
    ("site", "site"),
    ("producer", "producer"),
    ("device", "device"),
    ("energy_wh", "energy_wh"),
    ("price_fen_per_kwh", "price_fen_per_kwh"),
    ("delivered_wh", "delivered_wh"),
    ("amount_fen", "amount_fen"),
]


@query_app.command("pairings")
def pairings(
    interval: Annotated[
        str | None, typer.Option("--interval", help="An interval's pairings (its start).")
    ] = None,
    account: Annotated[
        str | None, typer.Option("--account", help="An account's pairings, oldest first.")
    ] = None,
    after: Annotated[
        str | None, typer.Option("--after", help="With --interval: after this pairing id.")
    ] = None,
    start: FromTime = None,
    end: ToTime = None,
    limit: LimitOpt = 100,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Who buys how much from whom at what price; once settled, what was delivered and paid.
    Give --interval START, or --account ID (with --from and --to)."""
    if (interval is None) == (account is None):
        raise typer.BadParameter("give exactly one of --interval and --account")
    if interval is not None:
        if start is not None or end is not None:
            raise typer.BadParameter("--from and --to go with --account")
        at = _start(interval)
        found = call_node(home, node, json_out, lambda c: c.market.pairings(at, after, limit))
        next_option = "--after"
    else:
        if after is not None:
            raise typer.BadParameter("--after goes with --interval")
        who = str(account)
        first, last = optional_seconds(start, "--from"), optional_seconds(end, "--to")
        found = call_node(
            home, node, json_out, lambda c: c.market.account_pairings(who, first, last, limit)
        )
        next_option = "--from"
    if json_out:
        print_json(found)
        return
    rows = [{**p, "n": int(p["id"].rsplit("-", 1)[1])} for p in found["pairings"]]
    # one interval's pairings all share its start: the table leaves it out
    columns = PAIRING_COLUMNS if interval is None else PAIRING_COLUMNS[1:]
    console.print(rows_table(rows, columns))
    print_more(found["next"], next_option)


@query_app.command("grid")
def grid(
    start: StartArg,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """What each site bought from the grid and each plant fed in, once the interval settled."""
    at = _start(start, "START")
    found = call_node(home, node, json_out, lambda c: c.market.grid(at))
    if json_out:
        print_json(found)
        return
    names = ("asset", "account", "direction", "energy_wh", "measured_wh", "amount_fen",
             "unpaid_fen")  # fmt: skip
    columns = [(name, name) for name in names]
    console.print(rows_table(found["settlements"], columns, f"{found['status']} interval"))


@query_app.command("stats")
def stats(
    account: AccountArg,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """An account's settled totals: energy consumed (clean share), generated, sold; money."""
    found = call_node(home, node, json_out, lambda c: c.market.stats(account))
    print_fields(found, json_out)


@query_app.command("plant")
def plant(
    device: Annotated[str, typer.Argument(metavar="DEVICE", help="The device id.")],
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A plant's settled totals and what each consumer bought from it."""
    found = call_node(home, node, json_out, lambda c: c.market.plant(device))
    if json_out:
        print_json(found)
        return
    print_fields({k: v for k, v in found.items() if k != "buyers"}, json_out)
    columns = [("consumer", "consumer"), ("delivered_wh", "delivered_wh"),
               ("amount_fen", "amount_fen")]  # fmt: skip
    console.print(rows_table(found["buyers"], columns, "buyers"))


@query_app.command("preferences")
def preferences(
    account: AccountArg,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """An account's standing choice of clean or grid power per site."""
    found = call_node(home, node, json_out, lambda c: c.market.preferences(account))
    if json_out:
        print_json({"account": account, "preferences": found})
        return
    columns = [("site", "site"), ("choice", "choice"),
               ("price_cap_fen_per_kwh", "price_cap_fen_per_kwh"),
               ("quantity_wh", "quantity_wh"), ("preferred", "preferred"),
               ("since (UTC)", "since_s")]  # fmt: skip
    console.print(rows_table(found, columns))


@query_app.command("arrears")
def arrears(
    account: AccountArg,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """What settlements left an account owing, per creditor (fen)."""
    found = call_node(home, node, json_out, lambda c: c.market.arrears(account))
    if json_out:
        print_json(found)
        return
    columns = [("creditor", "creditor"), ("amount_fen", "amount_fen")]
    console.print(rows_table(found["arrears"], columns))
    console.print(f"total {found['total_fen']} fen")


@query_app.command("standing-offers")
def standing_offers(
    home: HomeOpt = DEFAULT_HOME, node: NodeOpt = None, json_out: JsonOpt = False
) -> None:
    """Plants offered at every clearing, with their floor prices."""
    found = call_node(home, node, json_out, lambda c: c.market.standing_offers())
    if json_out:
        print_json({"standing_offers": found})
        return
    names = ("device", "account", "floor_price_fen_per_kwh", "quantity_wh", "height")
    columns = [(n, n) for n in names]
    console.print(rows_table(found, columns))
