"""``gridledger tx market`` and ``gridledger query market`` against a node whose clock the test
moves (the node runs in this process, its API on 127.0.0.1; commands run through typer's
runner as a user would type them).

The first hour is the one ``test_api_market.py`` works out by hand (same orders and meter
readings, placed here by CLI commands): clearing price 47, deliveries of 2000, 500, 1000 and
100 Wh paying 94, 23, 47 and 4, and dan 108 short for the grid.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import msgspec
import pytest

from gridledger.contracts import market
from gridledger.readmodels import market as totals
from market_node import (
    FEED_IN,
    GATE_S,
    HOUR,
    PARTIES,
    SELL,
    MarketChain,
    NodeCli,
    market_chain,
    node_cli,
)

Cli = NodeCli[MarketChain]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    home = tmp_path_factory.mktemp("market-cli") / "home"
    with market_chain(home) as chain, node_cli(chain, PARTIES) as cli:
        yield cli


def iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def test_a_market_from_the_command_line(cli: Cli) -> None:
    """Tariffs, orders, clearing after gate closure, readings, settlement, then every query;
    arrears paid, standing choices, rule changes."""
    chain = cli.chain
    view = chain.node.state.view
    h1 = chain.hour
    tariffs = cli.events("tx", "market", "tariffs", "--from", "grid", "--sell-price", SELL,
                         "--feed-in-price", FEED_IN)  # fmt: skip
    assert tariffs[0]["type"] == "market.tariffs_set"
    assert cli.json("query", "market", "tariffs") == msgspec.to_builtins(market.tariffs(view))
    assert "grid account" in cli.run("query", "market", "tariffs").stdout

    # orders: the interval by ISO time or Unix seconds; ben's second bid is cancelled
    bid = cli.events("tx", "market", "bid", "--from", "ann", "--interval", iso(h1),
                     "--site", "s-ann", "--quantity-wh", 3000, "--price", 80,
                     "--prefer", "pv-1")  # fmt: skip
    assert bid == [{"type": "market.bid_placed", "interval": h1, "order": 1, "account": "ann",
                    "site": "s-ann", "quantity_wh": 3000, "price": 80, "escrow": 240}]  # fmt: skip
    shown = cli.run("tx", "market", "bid", "--from", "ben", "--interval", h1, "--site", "s-ben",
                    "--quantity-wh", 2000, "--price", 50).stdout  # fmt: skip
    assert "market.bid_placed" in shown
    for device, wh, price in (("pv-1", 2500, 40), ("pv-2", 4000, 45)):
        cli.events("tx", "market", "offer", "--from", "sun", "--interval", h1,
                   "--device", device, "--quantity-wh", wh, "--price", price)  # fmt: skip
    cli.events("tx", "market", "bid", "--from", "dan", "--interval", h1, "--site", "s-dan",
               "--quantity-wh", 100, "--price", 50)  # fmt: skip
    extra = cli.events("tx", "market", "bid", "--from", "ben", "--interval", h1,
                       "--site", "s-ben", "--quantity-wh", 500, "--price", 70)  # fmt: skip
    cancelled = cli.events("tx", "market", "cancel", "--from", "ben", "--interval", h1,
                           "--order", extra[0]["order"])  # fmt: skip
    assert (cancelled[0]["order"], cancelled[0]["released"]) == (6, 35)

    book = cli.json("query", "market", "book", h1)
    assert book["interval"] == msgspec.to_builtins(
        market.Interval(start_s=h1, interval_s=HOUR, status="open")
    )
    assert [(o["seq"], o["account"], o["price_fen_per_kwh"]) for o in book["bids"]] == [
        (1, "ann", 80), (2, "ben", 50), (5, "dan", 50)]  # fmt: skip
    assert [(o["seq"], o["asset"], o["price_fen_per_kwh"]) for o in book["offers"]] == [
        (3, "pv-1", 40), (4, "pv-2", 45)]  # fmt: skip
    assert book["bids"] == [msgspec.structs.asdict(o) for o in market.order_book(view, h1).bids]
    table = cli.run("query", "market", "book", iso(h1), "--depth", 1).stdout
    assert "bids (3)" in table
    assert "2 more bids: raise --depth" in table
    assert "s-ann" in table
    assert "s-ben" not in table

    # clearing: refused before gate closure (a failed receipt, exit 1), then done
    early = cli.json("tx", "market", "clear", "--from", "ann", "--interval", h1, code=1)
    assert early["receipt"]["code"] == "market.cutoff_not_reached"
    chain.clock.set(h1 - GATE_S)
    cleared = cli.events("tx", "market", "clear", "--from", "ann", "--interval", h1)
    assert cleared == [{"type": "market.cleared", "interval": h1, "mechanism": "pay_as_clear",
                        "clearing_price": 47, "volume_wh": 5100, "pairings": 4,
                        "escrow_released": 0}]  # fmt: skip
    pending = cli.json("query", "market", "pairings", "--interval", h1)
    assert [p["delivered_wh"] for p in pending["pairings"]] == [None] * 4

    # the hour ends, the gateway reports, anyone settles
    chain.clock.set(h1 + HOUR)
    energy = {"pv-1": 2000, "pv-2": 3000, "s-ann": 3500, "s-ben": 1000, "s-dan": 2000}
    readings = chain.home / "readings.json"
    readings.write_text(json.dumps([{"meter": f"m-{a}", "start": h1, "length_s": HOUR,
                                     "energy_wh": wh} for a, wh in energy.items()]))  # fmt: skip
    cli.events("tx", "submit-readings", readings, "--from", "gw")
    settled = cli.events("tx", "market", "settle", "--from", "ben", "--interval", h1)
    assert settled[0]["delivered_wh"] == 3600

    pairings = cli.json("query", "market", "pairings", "--interval", h1)
    assert pairings["status"] == "settled"
    assert [(p["consumer"], p["device"], p["energy_wh"], p["delivered_wh"], p["amount_fen"],
             p["price_fen_per_kwh"]) for p in pairings["pairings"]] == [
        ("ann", "pv-1", 2500, 2000, 94, 47), ("ann", "pv-2", 500, 500, 23, 47),
        ("ben", "pv-2", 2000, 1000, 47, 47), ("dan", "pv-2", 100, 100, 4, 47),
    ]  # fmt: skip
    assert pairings["pairings"] == [msgspec.structs.asdict(p) for p in market.pairings(view, h1)]
    page = cli.run("query", "market", "pairings", "--interval", h1, "--limit", 3).stdout
    assert f"more: --after {h1}-00000002" in page
    ann_pairings = cli.json("query", "market", "pairings", "--account", "ann", "--limit", 1)
    assert [p["id"] for p in ann_pairings["pairings"]] == [f"{h1}-00000000", f"{h1}-00000001"]
    assert ann_pairings["next"] == h1 + 1
    ann_all = totals.account_pairings(chain.node.readmodels.reader(), view, "ann")
    assert ann_pairings["pairings"] == [msgspec.structs.asdict(p) for p in ann_all]
    assert "more: --from" in cli.run("query", "market", "pairings", "--account", "ann",
                                     "--limit", 1).stdout  # fmt: skip
    window = cli.json("query", "market", "pairings", "--account", "sun", "--from", h1 + 1)
    assert window["pairings"] == []

    stats = cli.json("query", "market", "stats", "ann")
    assert stats == {
        "account": "ann", "consumed_wh": 3500, "clean_wh": 2500, "grid_import_wh": 1000,
        "clean_paid_fen": 117, "grid_paid_fen": 60, "generated_wh": 0, "sold_wh": 0,
        "exported_wh": 0, "clean_revenue_fen": 0, "feed_in_revenue_fen": 0,
        "clean_share_permille": 714, "clean_share": "0.714",
    }  # fmt: skip
    ann = totals.account_totals(chain.node.readmodels.reader(), "ann")
    assert stats == {**msgspec.structs.asdict(ann), "clean_share": "0.714"}
    shown = cli.run("query", "market", "stats", "ann").stdout
    assert "clean share" in shown
    assert "0.714" in shown
    sun = cli.json("query", "market", "stats", "sun")
    assert (sun["generated_wh"], sun["sold_wh"], sun["clean_revenue_fen"],
            sun["feed_in_revenue_fen"]) == (
        5000, 3600, 168, 42)  # fmt: skip

    grid = cli.json("query", "market", "grid", h1)
    assert [(s["asset"], s["direction"], s["energy_wh"], s["amount_fen"], s["unpaid_fen"])
            for s in grid["settlements"]] == [
        ("pv-1", "export", 0, 0, 0), ("pv-2", "export", 1400, 42, 0),
        ("s-ann", "import", 1000, 60, 0), ("s-ben", "import", 0, 0, 0),
        ("s-dan", "import", 1900, 114, 108),
    ]  # fmt: skip
    assert "settled interval" in cli.run("query", "market", "grid", h1).stdout

    plant = cli.json("query", "market", "plant", "pv-2")
    assert plant["buyers"] == [
        {"consumer": "ann", "amount_fen": 23, "delivered_wh": 500},
        {"consumer": "ben", "amount_fen": 47, "delivered_wh": 1000},
        {"consumer": "dan", "amount_fen": 4, "delivered_wh": 100},
    ]
    assert (plant["generated_wh"], plant["exported_wh"]) == (3000, 1400)
    assert "buyers" in cli.run("query", "market", "plant", "pv-2").stdout

    intervals = cli.json("query", "market", "intervals")
    assert [(i["start_s"], i["status"]) for i in intervals["intervals"]] == [(h1, "settled")]
    listed = cli.run("query", "market", "intervals", "--from", iso(h1)).stdout
    assert iso(h1) in listed
    assert "settled" in listed
    assert "3600" in listed  # delivered Wh

    # dan pays its arrears once it has the money
    owed = cli.json("query", "market", "arrears", "dan")
    assert owed == {"account": "dan", "arrears": [{"creditor": "grid", "amount_fen": 108}],
                    "total_fen": 108}  # fmt: skip
    broke = cli.json("tx", "market", "pay-arrears", "--from", "dan", "--creditor", "grid",
                     code=1)  # fmt: skip
    assert broke["receipt"]["code"] == "funds.insufficient_balance"
    cli.events("tx", "mint", "--to", "dan", "--amount", 50)
    paid = cli.events("tx", "market", "pay-arrears", "--from", "dan", "--creditor", "grid")
    assert paid == [{"type": "market.arrears_paid", "creditor": "grid", "amount": 50, "left": 58}]
    assert "total 58" in cli.run("query", "market", "arrears", "dan").stdout

    # standing choices, and rule changes that keep what they do not name
    cli.events("tx", "market", "prefer", "--from", "ann", "--site", "s-ann", "--choice", "clean",
               "--price-cap", 70, "--quantity-wh", 1500,
               "--prefer", "pv-1", "--prefer", "pv-2")  # fmt: skip
    (pref,) = cli.json("query", "market", "preferences", "ann")["preferences"]
    assert (pref["choice"], pref["price_cap_fen_per_kwh"], pref["quantity_wh"],
            pref["preferred"]) == (
        "clean", 70, 1500, ["pv-1", "pv-2"])  # fmt: skip
    assert "s-ann" in cli.run("query", "market", "preferences", "ann").stdout

    cli.events("tx", "market", "standing-offer", "--from", "sun", "--device", "pv-1",
               "--floor-price", 35, "--quantity-wh", 3000)  # fmt: skip
    cli.events("tx", "market", "standing-offer", "--from", "sun", "--device", "pv-2",
               "--floor-price", 44)  # fmt: skip
    stopped = cli.events("tx", "market", "standing-offer", "--from", "sun", "--device", "pv-2",
                         "--stop")  # fmt: skip
    assert stopped[0]["active"] is False
    offers = cli.json("query", "market", "standing-offers")["standing_offers"]
    assert [(o["device"], o["floor_price_fen_per_kwh"], o["quantity_wh"]) for o in offers] == [
        ("pv-1", 35, 3000)]  # fmt: skip
    assert "pv-1" in cli.run("query", "market", "standing-offers").stdout

    cli.events("tx", "market", "params", "--gate-closure-s", 600)
    cli.events("tx", "market", "params", "--mechanism", "pay_as_bid")
    rules = cli.json("query", "market", "params")
    assert rules == msgspec.to_builtins(market.params(view))
    assert market.params(view) == market.Params(gate_closure_s=600, mechanism="pay_as_bid")
    assert "pay_as_bid" in cli.run("query", "market", "params").stdout


@pytest.mark.parametrize(
    "args",
    [
        ("tx", "market", "bid", "--from", "ann", "--interval", 3600, "--site", "s-ann",
         "--quantity-wh", 10, "--price", 0),
        ("tx", "market", "bid", "--from", "ann", "--interval", "tomorrow", "--site", "s-ann",
         "--quantity-wh", 10, "--price", 5),
        ("tx", "market", "offer", "--from", "sun", "--interval", 3600, "--device", "pv-1",
         "--quantity-wh", 1.5, "--price", 5),
        ("tx", "market", "standing-offer", "--from", "sun", "--device", "pv-1"),
        ("tx", "market", "params"),
        ("tx", "market", "clear"),
        ("query", "market", "pairings"),
        ("query", "market", "pairings", "--interval", 3600, "--account", "ann"),
        ("query", "market", "pairings", "--interval", 3600, "--from", 0),
        ("query", "market", "pairings", "--account", "ann", "--after", "3600-00000000"),
        ("query", "market", "book", "next-week"),
        ("query", "market", "intervals", "--limit", 0),
    ],
)  # fmt: skip
def test_usage_errors_exit_2(cli: Cli, args: tuple[str | int, ...]) -> None:
    cli.run(*args, code=2)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("query", "market", "stats", "nobody"), "not_found"),
        (("query", "market", "plant", "pv-404"), "not_found"),
        (("query", "market", "book", 1800), "api.invalid_request"),
        (("query", "market", "arrears", "Bad Id"), "api.invalid_request"),
        (("tx", "market", "tariffs", "--from", "ann", "--sell-price", 1, "--feed-in-price", 1),
         "auth.forbidden"),
        (("tx", "market", "bid", "--from", "carol", "--interval", 3600, "--site", "s-ann",
          "--quantity-wh", 10, "--price", 5), "keys.not_found"),
        (("tx", "market", "prefer", "--from", "ann", "--site", "s-ann", "--choice", "cheap"),
         "market.invalid_preference"),
    ],
)  # fmt: skip
def test_refusals_exit_1_with_their_code(cli: Cli, args: tuple[str | int, ...], code: str) -> None:
    assert cli.json(*args, code=1)["error"]["code"] == code


def test_a_failed_market_transaction_prints_its_receipt(cli: Cli) -> None:
    late = cli.run("tx", "market", "bid", "--from", "ann", "--interval", 3600, "--site", "s-ann",
                   "--quantity-wh", 10, "--price", 5, code=1)  # fmt: skip
    assert "market.interval_past" in late.stdout
    assert "transaction failed" in late.output
