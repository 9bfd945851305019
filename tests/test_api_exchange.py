"""The exchange's endpoints, SDK calls and CLI commands on a real node.

The node is :mod:`carbon_api_node`'s. As in ``test_api_credits``, ``sun``'s onshore wind farm
``wind-1`` earns 1 t of credits for 2025-01..2025-02
(``GLR-VER-CN-1-20250101-20250228-1-1-1``, instrument ``credits:wind_onshore:2025``); the
regulator opens ``ets-x`` and gives ann 10 t. ann, ben and dan hold funds from the market
fixture.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from carbon_api_node import MAR, REGULATOR, VERIFIER, carbon_chain
from cert_node import JAN, CertChain
from fixtures_node import check
from gridledger.api import create_app
from gridledger.api.routes.exchange import DepthModel, InstrumentList, OrderList, TradeList
from gridledger.api.schemas import ErrorResponse
from gridledger.sdk import Client, InvalidInput
from market_node import node_cli

pytestmark = [
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`"),
    pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument"),
]

SERIAL = "GLR-VER-CN-1-20250101-20250228-1-1-1"
ALW = "allowances:ets-x"
CRED = "credits:wind_onshore:2025"
JAN_2030 = 1_893_456_000


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CertChain]:
    with carbon_chain(tmp_path_factory.mktemp("exchange-api") / "home") as c:
        c.commit("sun", "credits.register_project",
                 {"id": "wind", "name": "Wind farm 1", "device": "wind-1",
                  "methodology": "CDM ACM0002", "baseline": "CN-GD grid electricity",
                  "monitoring_plan": "MP-1"})  # fmt: skip
        c.commit(VERIFIER, "credits.verify_period",
                 {"project": "wind", "id": "2025-q1", "start_s": JAN, "end_s": MAR})  # fmt: skip
        c.commit(VERIFIER, "credits.issue", {"project": "wind", "period": "2025-q1"})
        c.commit(REGULATOR, "allowances.open_period",
                 {"id": "ets-x", "start_s": JAN, "end_s": MAR, "deadline_s": JAN_2030})  # fmt: skip
        c.commit(REGULATOR, "allowances.allocate",
                 {"period": "ets-x", "to": "ann", "method": "free", "quantity_t": 10})  # fmt: skip
        yield c


@pytest.fixture(scope="module")
def http(chain: CertChain) -> Iterator[httpx.Client]:
    from starlette.testclient import TestClient

    with TestClient(create_app(chain.node, web=False)) as c:
        yield c


def test_orders_trade_and_show_in_the_book(chain: CertChain, http: httpx.Client) -> None:
    with node_cli(chain, ("ann", "ben", "dan", "sun")) as cli:
        client: Client = cli.client
        events = cli.events("exchange", "place", "--from", "ann", "--instrument", ALW,
                            "--side", "sell", "--price", "5000", "--quantity", "4")  # fmt: skip
        assert events[-1]["status"] == "open"
        done = client.exchange.place(chain.keys["ben"], "ben", instrument=ALW, side="buy",
                                     price_fen_per_t=5_500, quantity_t=3)  # fmt: skip
        assert done.ok
        book = check(DepthModel, http.get(f"/v1/exchange/book/{ALW}"))
        assert (book["bids"], book["asks"]) == ([], [
            {"price_fen_per_t": 5_000, "quantity_t": 1, "orders": 1}])  # fmt: skip
        assert (book["last_price_fen_per_t"], book["volume_t"]) == (5_000, 3)
        assert client.exchange.book(ALW) == book

        client.exchange.place(chain.keys["sun"], "sun", instrument=CRED, side="sell",
                              price_fen_per_t=9, quantity_t=1)  # fmt: skip
        cli.events("exchange", "place", "--from", "dan", "--instrument", CRED, "--side", "buy",
                   "--price", "9", "--quantity", "1", "--ioc")  # fmt: skip
        trades = check(TradeList, http.get("/v1/exchange/trades", params={"instrument": CRED}))
        (trade,) = trades["trades"]
        assert (trade["buyer"], trade["seller"], trade["serials"]) == ("dan", "sun", [SERIAL])
        assert client.credits.holdings("dan")["blocks"][0]["serial"] == SERIAL
        listed = check(InstrumentList, http.get("/v1/exchange/instruments"))["instruments"]
        assert [(i["id"], i["volume_t"]) for i in listed] == [(ALW, 3), (CRED, 1)]
        assert client.exchange.trades()["volume_t"] == 4

        (ask,) = check(OrderList, http.get("/v1/exchange/orders?account=ann&status=open"))["orders"]
        assert client.exchange.order(ask["id"]) == ask
        code = cli.failed("exchange", "cancel", "--from", "ben", "--order", ask["id"])
        assert code == "exchange.not_your_order"
        cli.events("exchange", "cancel", "--from", "ann", "--order", ask["id"])
        assert client.exchange.orders("ann", "open")["orders"] == []
        code = cli.failed("exchange", "place", "--from", "ben", "--instrument", ALW, "--side",
                          "buy", "--price", "1000000000", "--quantity", "1000")  # fmt: skip
        assert code == "exchange.insufficient_funds"
        with pytest.raises(InvalidInput) as refused:
            client.exchange.place(chain.keys["ben"], "ben", instrument=ALW, side="buy",
                                  price_fen_per_t=0, quantity_t=1)  # fmt: skip
        assert refused.value.code == "exchange.bad_price"
        shown = cli.run("exchange", "book", ALW).stdout
        assert '"asks": []' in shown


def test_unknown_instruments_and_orders(http: httpx.Client) -> None:
    for path in (
        "/v1/exchange/book/allowances:nope",
        "/v1/exchange/book/credits:coal:2025",
        "/v1/exchange/trades?instrument=allowances:nope",
        "/v1/exchange/orders/999",
    ):
        body = check(ErrorResponse, http.get(path), 404)
        assert body["error"]["code"] == "not_found", path
    assert http.get("/v1/exchange/book/bonds").status_code == 400
