"""The market's API endpoints and SDK calls, on a node whose clock the test moves.

A module fixture runs one market through the SDK over HTTP: tariffs; orders for the first
hour (one cancelled); clearing after gate closure; meter readings; settlement, which leaves
``dan`` in arrears, paid in part; standing choices and new rules; a second hour cleared from
standing orders alone; a third still open. The read suite then checks every endpoint against
values worked out by hand and against the ledger state, in process (ASGI) and over TCP.

Worked out by hand, first hour (pay-as-clear): bids ann 3000 Wh @ 80, ben 2000 @ 50, dan 100 @
50; offers pv-1 2500 @ 40, pv-2 4000 @ 45. The merit walk pairs ann-pv-1 2500, ann-pv-2 500,
ben-pv-2 2000 and dan-pv-2 100; the last bid and offer prices are 50 and 45, so all pay 47.
Meters: pv-1 2000 Wh, pv-2 3000, s-ann 3500, s-ben 1000, s-dan 2000. pv-1 delivers 2000 of
ann's 2500; ben's site consumed only 1000; so deliveries are 2000, 500, 1000 and 100 Wh, paid
94, 23, 47 and 4 (Wh x 47 // 1000). The grid sells ann 1000 Wh (60) and dan 1900 Wh (114, of
which dan's balance covers 6), and buys pv-2's 1400 Wh left over (42).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from fixtures_node import check, ok, running_chain
from gridledger.api import ApiServer, create_app
from gridledger.api.schemas import (
    AccountPairings,
    Arrears,
    ErrorResponse,
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
from gridledger.contracts import funds, market
from gridledger.readmodels import market as totals
from gridledger.sdk import ApiError, Client, InvalidInput, market_body, submit_readings
from market_node import FEED_IN, GATE_S, GRID_FUNDS, HOUR, SELL, MarketChain, market_chain
from market_support import reference_rows, table_rows

pytestmark = [
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`"),
    pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument"),
]

NEW_GATE_S = 600
"""The gate closure the operator sets after the first hour."""


@dataclass(frozen=True)
class Flow:
    chain: MarketChain
    h1: int
    """Settled: cleared from single orders, then settled against the meters."""
    h2: int
    """Cleared from standing orders only; not settled."""
    h3: int
    """Open, with two bids and two offers."""
    tariffs_height: int
    choices_at: int
    """Block time (Unix seconds) when the standing choices were made."""


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MarketChain]:
    with market_chain(tmp_path_factory.mktemp("market-api") / "home") as c:
        yield c


@pytest.fixture(scope="module")
def server(chain: MarketChain) -> Iterator[ApiServer]:
    with ApiServer(chain.node) as s:
        yield s


@pytest.fixture(scope="module")
def flow(chain: MarketChain, server: ApiServer) -> Flow:
    """Three hours of market, driven through the SDK over HTTP (see the module docstring)."""
    k = chain.keys
    h1 = chain.hour
    h2, h3 = h1 + 3 * HOUR, h1 + 4 * HOUR
    with Client(server.url) as client:
        m = client.market
        tariffs = m.set_tariffs(k["grid"], "grid", sell_price=SELL, feed_in_price=FEED_IN)
        assert ok(tariffs)[0]["grid_account"] == "grid"
        placed = m.place_bid(k["ann"], "ann", interval=h1, site="s-ann", quantity_wh=3000,
                             price=80, preferred=["pv-1"])  # fmt: skip
        assert (ok(placed)[0]["order"], ok(placed)[0]["escrow"]) == (1, 3000 * 80 // 1000)
        ok(m.place_bid(k["ben"], "ben", interval=h1, site="s-ben", quantity_wh=2000, price=50))
        extra = m.place_bid(k["ben"], "ben", interval=h1, site="s-ben", quantity_wh=500, price=70)
        cancelled = m.cancel_order(k["ben"], "ben", interval=h1, order=ok(extra)[0]["order"])
        assert ok(cancelled)[0]["released"] == 35
        ok(m.place_bid(k["dan"], "dan", interval=h1, site="s-dan", quantity_wh=100, price=50))
        ok(m.place_offer(k["sun"], "sun", interval=h1, device="pv-1", quantity_wh=2500, price=40))
        ok(m.place_offer(k["sun"], "sun", interval=h1, device="pv-2", quantity_wh=4000, price=45))

        early = m.clear(k["ann"], "ann", interval=h1)
        assert (early.ok, early.code) == (False, "market.cutoff_not_reached")
        chain.clock.set(h1 - GATE_S)
        cleared = ok(m.clear(k["ann"], "ann", interval=h1))[0]
        assert (cleared["clearing_price"], cleared["volume_wh"], cleared["pairings"]) == (
            47, 5100, 4)  # fmt: skip

        chain.clock.set(h1 + HOUR)
        meters = {"pv-1": 2000, "pv-2": 3000, "s-ann": 3500, "s-ben": 1000, "s-dan": 2000}
        readings = [{"meter": f"m-{a}", "start": h1, "length_s": HOUR, "energy_wh": wh}
                    for a, wh in meters.items()]  # fmt: skip
        assert ok(submit_readings(client, k["gw"], "gw", readings))[-1]["count"] == 5
        settled = ok(m.settle(k["ben"], "ben", interval=h1))[0]
        assert (settled["delivered_wh"], settled["grid_import_wh"]) == (3600, 2900)
        ok(client.send(k["operator"], "operator", "funds.mint", {"to": "dan", "amount": 50}))
        assert ok(m.pay_arrears(k["dan"], "dan", creditor="grid"))[0]["left"] == 58

        ok(m.set_preference(k["ann"], "ann", site="s-ann", choice="clean", price_cap=70,
                            preferred=["pv-1"], quantity_wh=1500))  # fmt: skip
        ok(m.set_preference(k["ben"], "ben", site="s-ben", choice="grid"))
        ok(m.set_standing_offer(k["sun"], "sun", device="pv-1", floor_price=35, quantity_wh=3000))
        ok(m.set_standing_offer(k["sun"], "sun", device="pv-2", floor_price=44))
        ok(m.set_standing_offer(k["sun"], "sun", device="pv-2", floor_price=44, active=False))
        assert ok(m.set_params(k["operator"], "operator", gate_closure_s=NEW_GATE_S))[0] == {
            "type": "market.params_set",
            **msgspec.structs.asdict(market.Params()),
            "gate_closure_s": NEW_GATE_S,
        }

        ok(m.place_bid(k["ann"], "ann", interval=h3, site="s-ann", quantity_wh=200, price=65))
        ok(m.place_bid(k["ben"], "ben", interval=h3, site="s-ben", quantity_wh=800, price=55))
        ok(m.place_offer(k["sun"], "sun", interval=h3, device="pv-2", quantity_wh=1000, price=50))
        ok(m.place_offer(k["sun"], "sun", interval=h3, device="pv-1", quantity_wh=500, price=48))

        chain.clock.set(h2 - NEW_GATE_S)
        standing = ok(m.clear(k["sun"], "sun", interval=h2))[0]
        assert (standing["clearing_price"], standing["volume_wh"]) == ((70 + 35) // 2, 1500)
    return Flow(chain, h1, h2, h3, tariffs.height, h1 + HOUR)


def pairing(flow: Flow, n: int, **fields: Any) -> dict[str, Any]:
    """A pairing of the first hour, all paying 47, from the sun's plants."""
    start = flow.h1
    return {"id": f"{start}-{n:08d}", "interval_start_s": start, "price_fen_per_kwh": 47,
            "producer": "sun", "stage": "auction", **fields}  # fmt: skip


def h1_pairings(flow: Flow) -> list[dict[str, Any]]:
    return [
        pairing(flow, 0, bid=1, offer=5, consumer="ann", site="s-ann", device="pv-1",
                energy_wh=2500, delivered_wh=2000, amount_fen=94),
        pairing(flow, 1, bid=1, offer=6, consumer="ann", site="s-ann", device="pv-2",
                energy_wh=500, delivered_wh=500, amount_fen=23),
        pairing(flow, 2, bid=2, offer=6, consumer="ben", site="s-ben", device="pv-2",
                energy_wh=2000, delivered_wh=1000, amount_fen=47),
        pairing(flow, 3, bid=4, offer=6, consumer="dan", site="s-dan", device="pv-2",
                energy_wh=100, delivered_wh=100, amount_fen=4),
    ]  # fmt: skip


def h2_pairing(flow: Flow) -> dict[str, Any]:
    return {"id": f"{flow.h2}-00000000", "interval_start_s": flow.h2, "bid": 11, "offer": 12,
            "consumer": "ann", "site": "s-ann", "producer": "sun", "device": "pv-1",
            "energy_wh": 1500, "price_fen_per_kwh": 52, "stage": "auction", "delivered_wh": None,
            "amount_fen": None}  # fmt: skip


def open_interval(start: int) -> dict[str, Any]:
    """An open interval's record as the API sends it: the clearing and settlement fields
    null."""
    return msgspec.to_builtins(market.Interval(start_s=start, interval_s=HOUR, status="open"))


def zeros(*names: str) -> dict[str, int]:
    return dict.fromkeys(names, 0)


CONSUMED = ("consumed_wh", "clean_wh", "grid_import_wh", "clean_paid_fen", "grid_paid_fen")
GENERATED = ("generated_wh", "sold_wh", "exported_wh", "clean_revenue_fen", "feed_in_revenue_fen")


class MarketSuite:
    """Every market endpoint's answers and refusals; subclasses say how requests travel."""

    @pytest.fixture(scope="class")
    @classmethod
    def http(cls, flow: Flow, server: ApiServer) -> Iterator[httpx.Client]:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def client(cls, http: httpx.Client) -> Client:
        return Client(str(http.base_url).rstrip("/"), http=http)

    def test_params_and_tariffs(self, http: httpx.Client, client: Client, flow: Flow) -> None:
        params = check(MarketParams, http.get("/v1/market/params"))
        assert params == {"interval_s": 3600, "mechanism": "pay_as_clear",
                          "gate_closure_s": NEW_GATE_S, "horizon_s": 7 * 86_400,
                          "data_deadline_s": 86_400, "clear_window_s": 7 * 86_400}  # fmt: skip
        assert client.market.params() == params
        tariffs = check(MarketTariffs, http.get("/v1/market/tariffs"))
        assert tariffs == {"grid_account": "grid", "sell_price_fen_per_kwh": SELL,
                           "feed_in_price_fen_per_kwh": FEED_IN,
                           "height": flow.tariffs_height}  # fmt: skip
        assert client.market.tariffs() == tariffs

    def test_intervals(self, http: httpx.Client, client: Client, flow: Flow) -> None:
        page = check(IntervalPage, http.get("/v1/market/intervals"))
        assert [(i["start_s"], i["status"]) for i in page["intervals"]] == [
            (flow.h1, "settled"), (flow.h2, "cleared"), (flow.h3, "open")]  # fmt: skip
        assert page["next"] is None
        first = page["intervals"][0]
        assert (first["clearing_price_fen_per_kwh"], first["volume_wh"], first["pairings"]) == (
            47, 5100, 4)  # fmt: skip
        assert (first["bids"], first["offers"], first["demand_wh"], first["supply_wh"]) == (
            3, 2, 5100, 6500)  # fmt: skip
        assert first["tariffs"] == {"feed_in_price_fen_per_kwh": FEED_IN, "grid_account": "grid",
                                    "sell_price_fen_per_kwh": SELL}  # fmt: skip
        assert (first["cleared_at_s"], first["settled_at_s"]) == (flow.h1 - GATE_S, flow.h1 + HOUR)
        assert first["missing_data"] == []
        assert first["settlement"] == {
            "clean_paid_fen": 94 + 23 + 47 + 4, "consumption_wh": 3500 + 1000 + 2000,
            "delivered_wh": 3600, "feed_in_paid_fen": 42, "generation_wh": 5000,
            "grid_export_wh": 1400, "grid_import_wh": 2900, "grid_paid_fen": 60 + 114,
            "unpaid_fen": 108,
        }  # fmt: skip
        assert page["intervals"][2] == open_interval(flow.h3)

        one = check(IntervalPage, http.get("/v1/market/intervals", params={"limit": 1}))
        assert ([i["start_s"] for i in one["intervals"]], one["next"]) == ([flow.h1], flow.h2)
        window = {"from": flow.h1 + 1, "to": flow.h3}
        middle = check(IntervalPage, http.get("/v1/market/intervals", params=window))
        assert [i["start_s"] for i in middle["intervals"]] == [flow.h2]
        assert list(client.market.iter_intervals(page_size=1)) == page["intervals"]
        assert client.market.intervals(flow.h3 + 1)["intervals"] == []

    def test_order_books(self, http: httpx.Client, client: Client, flow: Flow) -> None:
        book = check(OrderBook, http.get(f"/v1/market/intervals/{flow.h3}"))
        assert book["interval"] == open_interval(flow.h3)
        assert [(o["seq"], o["account"], o["asset"], o["energy_wh"], o["price_fen_per_kwh"],
                 o["escrow_fen"])
                for o in book["bids"]] == [
            (7, "ann", "s-ann", 200, 65, 13), (8, "ben", "s-ben", 800, 55, 44)]  # fmt: skip
        assert [(o["seq"], o["asset"], o["price_fen_per_kwh"]) for o in book["offers"]] == [
            (10, "pv-1", 48), (9, "pv-2", 50)]  # fmt: skip
        assert (book["bid_count"], book["offer_count"]) == (2, 2)
        assert book["offers"][0] == {
            "seq": 10, "side": "offer", "account": "sun", "asset": "pv-1",
            "interval_start_s": flow.h3, "energy_wh": 500, "price_fen_per_kwh": 48,
            "preferred": [], "escrow_fen": 0, "meters": ["m-pv-1"], "source": "single",
            "height": book["offers"][0]["height"],
        }  # fmt: skip
        top = check(OrderBook, http.get(f"/v1/market/intervals/{flow.h3}", params={"depth": 1}))
        assert [o["seq"] for o in top["bids"] + top["offers"]] == [7, 10]
        assert (top["bid_count"], top["offer_count"]) == (2, 2)
        assert client.market.book(flow.h3) == book

        settled = client.market.book(flow.h1)  # the cancelled order is gone, the rest stays
        assert settled["interval"]["status"] == "settled"
        assert [o["seq"] for o in settled["bids"]] == [1, 2, 4]  # ben before dan: older
        assert settled["bids"][0]["preferred"] == ["pv-1"]
        standing = client.market.book(flow.h2)
        assert [(o["side"], o["seq"], o["asset"], o["energy_wh"], o["price_fen_per_kwh"],
                 o["source"])
                for o in standing["bids"] + standing["offers"]] == [
            ("bid", 11, "s-ann", 1500, 70, "standing"),
            ("offer", 12, "pv-1", 3000, 35, "standing")]  # fmt: skip

        later = flow.h3 + HOUR  # nobody has traded in it: open and empty
        empty = check(OrderBook, http.get(f"/v1/market/intervals/{later}"))
        assert empty == {"interval": open_interval(later),
                         "bids": [], "offers": [], "bid_count": 0, "offer_count": 0}  # fmt: skip

    def test_interval_pairings(self, http: httpx.Client, client: Client, flow: Flow) -> None:
        url = f"/v1/market/intervals/{flow.h1}/pairings"
        page = check(IntervalPairings, http.get(url))
        assert page == {"interval": flow.h1, "status": "settled", "pairings": h1_pairings(flow),
                        "next": None}  # fmt: skip
        first = check(IntervalPairings, http.get(url, params={"limit": 3}))
        assert first["pairings"] == h1_pairings(flow)[:3]
        assert first["next"] == f"{flow.h1}-00000002"
        rest = check(IntervalPairings, http.get(url, params={"after": first["next"]}))
        assert (rest["pairings"], rest["next"]) == (h1_pairings(flow)[3:], None)
        assert list(client.market.iter_pairings(flow.h1, page_size=2)) == h1_pairings(flow)

        cleared = client.market.pairings(flow.h2)  # not settled: nothing delivered yet
        assert (cleared["status"], cleared["pairings"]) == ("cleared", [h2_pairing(flow)])
        assert client.market.pairings(flow.h3) == {
            "interval": flow.h3, "status": "open", "pairings": [], "next": None}  # fmt: skip

    def test_grid_settlements(self, http: httpx.Client, client: Client, flow: Flow) -> None:
        grid = check(GridSettlements, http.get(f"/v1/market/intervals/{flow.h1}/grid"))
        assert grid["status"] == "settled"
        assert grid["settlements"] == [
            {"asset": "pv-1", "account": "sun", "direction": "export", "energy_wh": 0,
             "measured_wh": 2000, "amount_fen": 0, "unpaid_fen": 0},
            {"asset": "pv-2", "account": "sun", "direction": "export", "energy_wh": 1400,
             "measured_wh": 3000, "amount_fen": 42, "unpaid_fen": 0},
            {"asset": "s-ann", "account": "ann", "direction": "import", "energy_wh": 1000,
             "measured_wh": 3500, "amount_fen": 60, "unpaid_fen": 0},
            {"asset": "s-ben", "account": "ben", "direction": "import", "energy_wh": 0,
             "measured_wh": 1000, "amount_fen": 0, "unpaid_fen": 0},
            {"asset": "s-dan", "account": "dan", "direction": "import", "energy_wh": 1900,
             "measured_wh": 2000, "amount_fen": 114, "unpaid_fen": 108},
        ]  # fmt: skip
        assert client.market.grid(flow.h1) == grid
        assert client.market.grid(flow.h2) == {
            "interval": flow.h2, "status": "cleared", "settlements": []}  # fmt: skip

    def test_account_pairings(self, http: httpx.Client, client: Client, flow: Flow) -> None:
        ann = check(AccountPairings, http.get("/v1/market/accounts/ann/pairings"))
        assert ann == {"account": "ann", "pairings": [*h1_pairings(flow)[:2], h2_pairing(flow)],
                       "next": None}  # fmt: skip
        # a page never splits an interval: the first hour's two pairings come whole
        one = check(AccountPairings,
                    http.get("/v1/market/accounts/ann/pairings", params={"limit": 1}))  # fmt: skip
        assert (one["pairings"], one["next"]) == (h1_pairings(flow)[:2], flow.h1 + 1)
        two = client.market.account_pairings("ann", limit=2)
        assert (two["pairings"], two["next"]) == (h1_pairings(flow)[:2], flow.h2)
        assert client.market.account_pairings("ann", start=flow.h2)["pairings"] == [
            h2_pairing(flow)]  # fmt: skip
        assert list(client.market.iter_account_pairings("ann", page_size=1)) == ann["pairings"]
        sun = client.market.account_pairings("sun")
        assert sun["pairings"] == [*h1_pairings(flow), h2_pairing(flow)]
        only_h1 = client.market.account_pairings("sun", end=flow.h2)
        assert only_h1["pairings"] == h1_pairings(flow)
        assert client.market.account_pairings("dan")["pairings"] == h1_pairings(flow)[3:]
        assert client.market.account_pairings("carol") == {
            "account": "carol", "pairings": [], "next": None}  # fmt: skip

    def test_account_and_plant_totals(self, http: httpx.Client, client: Client, flow: Flow) -> None:
        ann = check(MarketStats, http.get("/v1/market/accounts/ann/stats"))
        assert ann == {
            "account": "ann", **zeros(*GENERATED), "consumed_wh": 3500, "clean_wh": 2500,
            "grid_import_wh": 1000, "clean_paid_fen": 117, "grid_paid_fen": 60,
            "clean_share_permille": 714, "clean_share": "0.714",
        }  # fmt: skip
        ben = client.market.stats("ben")
        assert (ben["clean_wh"], ben["consumed_wh"], ben["clean_share"]) == (1000, 1000, "1.000")
        dan = client.market.stats("dan")
        assert (dan["grid_import_wh"], dan["grid_paid_fen"], dan["clean_share_permille"],
                dan["clean_share"]) == (1900, 114, 50, "0.050")  # fmt: skip
        sun = check(MarketStats, http.get("/v1/market/accounts/sun/stats"))
        assert sun == {
            "account": "sun", **zeros(*CONSUMED), "generated_wh": 5000, "sold_wh": 3600,
            "exported_wh": 1400, "clean_revenue_fen": 168, "feed_in_revenue_fen": 42,
            "clean_share_permille": 0, "clean_share": "0.000",
        }  # fmt: skip
        carol = check(MarketStats, http.get("/v1/market/accounts/carol/stats"))
        assert carol == {"account": "carol", **zeros(*CONSUMED, *GENERATED),
                         "clean_share_permille": 0, "clean_share": "0.000"}  # fmt: skip

        pv2 = check(PlantStats, http.get("/v1/market/plants/pv-2"))
        assert pv2 == {
            "device": "pv-2", "generated_wh": 3000, "sold_wh": 1600, "exported_wh": 1400,
            "clean_revenue_fen": 23 + 47 + 4, "feed_in_revenue_fen": 42,
            "buyers": [{"consumer": "ann", "delivered_wh": 500, "amount_fen": 23},
                       {"consumer": "ben", "delivered_wh": 1000, "amount_fen": 47},
                       {"consumer": "dan", "delivered_wh": 100, "amount_fen": 4}],
        }  # fmt: skip
        pv1 = client.market.plant("pv-1")
        assert (pv1["sold_wh"], pv1["buyers"]) == (
            2000, [{"consumer": "ann", "delivered_wh": 2000, "amount_fen": 94}])  # fmt: skip
        assert client.market.plant("pv-3") == {"device": "pv-3", **zeros(*GENERATED),
                                               "buyers": []}  # fmt: skip

    def test_choices_and_arrears(self, http: httpx.Client, client: Client, flow: Flow) -> None:
        prefs = check(MarketPreferences, http.get("/v1/market/accounts/ann/preferences"))
        (pref,) = prefs["preferences"]
        assert pref == {"account": "ann", "site": "s-ann", "choice": "clean",
                        "price_cap_fen_per_kwh": 70, "preferred": ["pv-1"], "quantity_wh": 1500,
                        "since_s": flow.choices_at, "height": pref["height"]}  # fmt: skip
        (grid_only,) = client.market.preferences("ben")
        assert (grid_only["choice"], grid_only["price_cap_fen_per_kwh"],
                grid_only["quantity_wh"]) == (
            "grid", None, None)  # fmt: skip
        assert client.market.preferences("dan") == []

        offers = check(StandingOffers, http.get("/v1/market/standing-offers"))
        (offer,) = offers["standing_offers"]  # pv-2's was withdrawn
        assert offer == {"account": "sun", "device": "pv-1", "floor_price_fen_per_kwh": 35,
                         "quantity_wh": 3000, "since_s": flow.choices_at,
                         "height": offer["height"]}  # fmt: skip
        assert client.market.standing_offers() == offers["standing_offers"]

        owed = check(Arrears, http.get("/v1/market/accounts/dan/arrears"))
        assert owed == {"account": "dan", "arrears": [{"creditor": "grid", "amount_fen": 58}],
                        "total_fen": 58}  # fmt: skip
        assert client.market.arrears("ann") == {"account": "ann", "arrears": [], "total_fen": 0}

    def test_answers_match_the_ledger(self, client: Client, flow: Flow) -> None:
        view = flow.chain.node.state.view
        for record in client.market.iter_intervals():
            start = record["start_s"]
            assert record == msgspec.to_builtins(market.get_interval(view, start))
            for p in client.market.iter_pairings(start):
                stored = market.get_pairing(view, start, int(p["id"].rsplit("-", 1)[1]))
                assert stored is not None
                assert p == msgspec.structs.asdict(stored)
        node = flow.chain.node
        assert table_rows(node.readmodels.reader()) == reference_rows(view)
        for account in ("ann", "ben", "dan", "sun", "grid"):
            stats = client.market.stats(account)
            found = totals.account_totals(node.readmodels.reader(), account)
            stored = totals.AccountTotals(account=account) if found is None else found
            assert stats == {**msgspec.structs.asdict(stored), "clean_share": stats["clean_share"]}
        # escrow stays locked until settlement: ann's standing bid of the cleared second hour
        # (1500 Wh at 70: 105) and the open third hour's bids (ann 13, ben 44)
        expected = {"ann": (99_823 - 13 - 105, 13 + 105), "ben": (99_953 - 44, 44), "dan": (0, 0),
                    "sun": (94 + 23 + 47 + 4 + 42, 0),
                    "grid": (GRID_FUNDS + 60 + 6 - 42 + 50, 0)}  # fmt: skip
        for account, (balance, escrow) in expected.items():
            assert client.account(account)["balance"] == balance == funds.balance_of(view, account)
            assert funds.escrow_of(view, account) == escrow
        held = sum(
            int(v) for k, v in view.scan(b"funds/") if k.startswith((b"funds/balance/",
                                                                      b"funds/escrow/"))
        )  # fmt: skip
        assert held == funds.total_supply(view)

    def test_openapi_documents_the_market(self, http: httpx.Client) -> None:
        spec = http.get("/openapi.json").json()
        paths = spec["paths"]
        for path, model in [
            ("/v1/market/params", "MarketParams"),
            ("/v1/market/tariffs", "MarketTariffs"),
            ("/v1/market/intervals", "IntervalPage"),
            ("/v1/market/intervals/{start}", "OrderBook"),
            ("/v1/market/intervals/{start}/pairings", "IntervalPairings"),
            ("/v1/market/intervals/{start}/grid", "GridSettlements"),
            ("/v1/market/accounts/{account}/pairings", "AccountPairings"),
            ("/v1/market/accounts/{account}/stats", "MarketStats"),
            ("/v1/market/accounts/{account}/preferences", "MarketPreferences"),
            ("/v1/market/accounts/{account}/arrears", "Arrears"),
            ("/v1/market/plants/{device}", "PlantStats"),
            ("/v1/market/standing-offers", "StandingOffers"),
        ]:
            answer = paths[path]["get"]["responses"]["200"]["content"]["application/json"]
            assert answer["schema"]["$ref"] == f"#/components/schemas/{model}", path
            assert paths[path]["get"]["tags"] == ["market"]
        assert "clean_share" in spec["components"]["schemas"]["MarketStats"]["required"]

    @pytest.mark.parametrize(
        ("url", "status", "code"),
        [
            ("/v1/market/intervals?from=-1", 400, "api.invalid_request"),
            ("/v1/market/intervals?from=soon", 400, "api.invalid_request"),
            ("/v1/market/intervals?to=10000000000", 400, "api.invalid_request"),
            ("/v1/market/intervals?from=7200&to=3600", 400, "api.invalid_request"),
            ("/v1/market/intervals?limit=0", 400, "api.invalid_request"),
            ("/v1/market/intervals?limit=1001", 400, "api.invalid_request"),
            ("/v1/market/intervals/1800", 400, "api.invalid_request"),  # not aligned
            ("/v1/market/intervals/-3600", 400, "api.invalid_request"),
            ("/v1/market/intervals/later", 400, "api.invalid_request"),
            ("/v1/market/intervals/3600?depth=0", 400, "api.invalid_request"),
            ("/v1/market/intervals/3600?depth=1001", 400, "api.invalid_request"),
            ("/v1/market/intervals/1800/pairings", 400, "api.invalid_request"),
            ("/v1/market/intervals/3600/pairings?after=3600", 400, "api.invalid_request"),
            ("/v1/market/intervals/3600/pairings?after=0-00000001", 400, "api.invalid_request"),
            ("/v1/market/intervals/3600/pairings?limit=0", 400, "api.invalid_request"),
            ("/v1/market/intervals/1800/grid", 400, "api.invalid_request"),
            ("/v1/market/accounts/nobody/stats", 404, "not_found"),
            ("/v1/market/accounts/nobody/pairings", 404, "not_found"),
            ("/v1/market/accounts/nobody/preferences", 404, "not_found"),
            ("/v1/market/accounts/nobody/arrears", 404, "not_found"),
            ("/v1/market/accounts/Not%20An%20Id/stats", 400, "api.invalid_request"),
            ("/v1/market/accounts/ann/pairings?from=3600&to=3600", 400, "api.invalid_request"),
            ("/v1/market/accounts/ann/pairings?limit=5000", 400, "api.invalid_request"),
            ("/v1/market/accounts/ann/pairings?from=x", 400, "api.invalid_request"),
            ("/v1/market/plants/pv-404", 404, "not_found"),
            ("/v1/market/plants/PV-1", 400, "api.invalid_request"),
            ("/v1/market/orders", 404, "api.not_found"),
        ],
    )
    def test_refusals(
        self, http: httpx.Client, flow: Flow, url: str, status: int, code: str
    ) -> None:
        body = check(ErrorResponse, http.get(url), status)
        assert body["error"]["code"] == code
        assert body["error"]["message"]

    def test_refusals_name_the_parameter(self, http: httpx.Client, flow: Flow) -> None:
        unaligned = check(ErrorResponse, http.get(f"/v1/market/intervals/{flow.h1 + 60}"), 400)
        assert "not the start of a market interval" in unaligned["error"]["message"]
        wrong = check(ErrorResponse, http.post("/v1/market/params"), 405)
        assert wrong["error"]["code"] == "api.method_not_allowed"
        with pytest.raises(ApiError) as err:
            Client(str(http.base_url).rstrip("/"), http=http).market.stats("nobody")
        assert (err.value.code, err.value.status) == ("not_found", 404)


class TestInProcess(MarketSuite):
    """Requests go straight into the ASGI app (starlette's TestClient)."""

    @pytest.fixture(scope="class")
    @classmethod
    def http(cls, flow: Flow, server: ApiServer) -> Iterator[httpx.Client]:
        from starlette.testclient import TestClient

        with TestClient(create_app(flow.chain.node)) as c:
            yield c


class TestLiveServer(MarketSuite):
    """Requests go over TCP to uvicorn on a free port of 127.0.0.1."""

    @pytest.fixture(scope="class")
    @classmethod
    def http(cls, flow: Flow, server: ApiServer) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=server.url, timeout=15) as c:
            yield c


# the SDK's own checks and failures -----------------------------------------------------------
def test_failed_market_transactions_are_receipts(flow: Flow, server: ApiServer) -> None:
    """Committed but failed: the contract's code, and only the nonce moves."""
    k = flow.chain.keys
    with Client(server.url) as client:
        m = client.market
        before = client.market.book(flow.h3)
        late = m.place_bid(k["ann"], "ann", interval=flow.h2, site="s-ann", quantity_wh=10,
                           price=50)  # fmt: skip
        assert (late.ok, late.code) == (False, "market.interval_closed")
        foreign = m.place_offer(k["sun"], "sun", interval=flow.h3, device="pv-9",
                                quantity_wh=10, price=50)  # fmt: skip
        assert (foreign.ok, foreign.code) == (False, "market.unknown_asset")
        theirs = m.cancel_order(k["ann"], "ann", interval=flow.h3, order=8)
        assert (theirs.ok, theirs.code) == (False, "market.not_order_owner")
        again = m.clear(k["ann"], "ann", interval=flow.h1)
        assert (again.ok, again.code) == (False, "market.already_cleared")
        unsettled = m.settle(k["ann"], "ann", interval=flow.h3)
        assert (unsettled.ok, unsettled.code) == (False, "market.not_cleared")
        nothing_owed = m.pay_arrears(k["ann"], "ann", creditor="grid")
        assert (nothing_owed.ok, nothing_owed.code) == (False, "market.no_arrears")
        assert client.market.book(flow.h3) == before
        with pytest.raises(ApiError) as err:  # refused at admission: the role is missing
            m.set_tariffs(k["ann"], "ann", sell_price=1, feed_in_price=1)
        assert err.value.code == "auth.forbidden"


@pytest.mark.parametrize(
    ("kind", "body", "code"),
    [
        ("market.place_bid", {"interval": 0, "site": "s", "quantity_wh": 0, "price": 5},
         "market.invalid_quantity"),
        ("market.place_bid", {"interval": 0, "site": "s", "quantity_wh": 5, "price": 10**8},
         "market.invalid_price"),
        ("market.place_bid", {"interval": 0, "site": "s", "quantity_wh": 5, "price": 5,
                              "preferred": ["a", "a"]}, "market.invalid_preference"),
        ("market.place_bid", {"interval": 0, "site": "s", "quantity_wh": 1.5, "price": 5},
         "tx.non_integer_number"),
        ("market.place_offer", {"interval": 0, "device": "d", "quantity_wh": 5},
         "tx.invalid_body"),
        ("market.set_preference", {"site": "s", "choice": "cheap"}, "market.invalid_preference"),
        ("market.set_params", {"interval_s": 60}, "market.invalid_params"),
        ("market.set_tariffs", {"sell_price": 60, "feed_in_price": -1}, "market.invalid_price"),
        ("market.steal", {}, "tx.unknown_kind"),
        ("funds.transfer", {"to": "bob", "amount": 1}, "tx.unknown_kind"),
    ],
)  # fmt: skip
def test_market_body_refuses_what_the_node_would(
    kind: str, body: dict[str, Any], code: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        market_body(kind, body)
    assert err.value.code == code


def test_sdk_checks_bodies_before_sending() -> None:
    """Nothing listens on the client's URL: a request would fail with sdk.unreachable."""
    from fixtures_node import derived_key, free_port

    with Client(f"http://127.0.0.1:{free_port()}") as client:
        with pytest.raises(InvalidInput) as err:
            client.market.place_bid(derived_key("ann"), "ann", interval=3600, site="s-ann",
                                    quantity_wh=10, price=0)  # fmt: skip
        assert err.value.code == "market.invalid_price"
        with pytest.raises(InvalidInput) as err:
            client.market.set_standing_offer(derived_key("sun"), "sun", device="pv-1",
                                             floor_price=0)  # fmt: skip
        assert err.value.code == "market.invalid_price"
    assert market_body("market.set_preference", {"site": "s", "choice": "grid",
                                                 "price_cap": None}) == {
        "site": "s", "choice": "grid"}  # fmt: skip


def test_an_empty_market(tmp_path: Path) -> None:
    """Before anyone trades: default rules, no tariffs, open empty intervals, zero totals."""
    from starlette.testclient import TestClient

    with (
        running_chain(tmp_path / "home", start=False) as chain,
        TestClient(create_app(chain.node)) as http,
    ):
        client = Client("http://testserver", http=http)
        assert check(MarketParams, http.get("/v1/market/params")) == msgspec.to_builtins(
            market.Params()
        )
        missing = check(ErrorResponse, http.get("/v1/market/tariffs"), 404)
        assert missing["error"]["code"] == "not_found"
        assert "market.set_tariffs" in missing["error"]["message"]
        assert client.market.intervals() == {"intervals": [], "next": None}
        book = client.market.book(7200)
        assert (book["interval"]["status"], book["bids"], book["offers"]) == ("open", [], [])
        assert client.market.standing_offers() == []
        stats = client.market.stats("alice")
        assert (stats["consumed_wh"], stats["clean_share"]) == (0, "0.000")
        assert client.market.arrears("carol")["total_fen"] == 0
        check(ErrorResponse, http.get("/v1/market/intervals/7201"), 400)
