"""The market's read model on a running node: its tables hold what the market's records say,
a rebuild from genesis gives the same rows, a restart keeps them, a new version rebuilds them,
and no rule reads them.

One module-scoped chain trades three hours (see :func:`traded`): the first cleared and settled
with a shortfall (dan's balance cannot cover its grid import) and both a grid import and an
export; the second cleared from standing choices and settled; the third cleared only, so its
pairings are listed before they have delivered anything.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fixtures_node import PASSPHRASE
from gridledger.cli.main import app
from gridledger.contracts import market
from gridledger.node.home import open_node
from gridledger.node.node import DB_NAME
from gridledger.readmodels import market as totals
from gridledger.readmodels.carbon import CarbonTotals
from gridledger.readmodels.certificates import CertificateIndex
from gridledger.readmodels.credits import CreditTotals
from gridledger.readmodels.market import MarketTotals
from market_node import FEED_IN, GATE_S, HOUR, SELL, MarketChain, market_chain
from market_support import Rows, reference_rows, table_rows


@dataclass(frozen=True)
class Traded:
    home: Path
    hours: tuple[int, int, int]
    rows: Rows
    """The read model's rows when the node closed."""
    reference: Rows
    """The same worked out from the records in state."""
    tip: int


def _clear(chain: MarketChain, start: int) -> None:
    chain.clock.set(start - GATE_S)
    chain.commit("grid", "market.clear", {"interval": start})


def _settle(chain: MarketChain, start: int, energy: dict[str, int]) -> None:
    chain.clock.set(start + HOUR)
    chain.readings(start, energy)
    chain.commit("grid", "market.settle", {"interval": start})


@pytest.fixture(scope="module")
def traded(tmp_path_factory: pytest.TempPathFactory) -> Traded:
    home = tmp_path_factory.mktemp("readmodel") / "home"
    with market_chain(home) as chain:
        h1 = chain.hour
        h2, h3 = h1 + HOUR, h1 + 2 * HOUR
        chain.commit("grid", "market.set_tariffs", {"sell_price": SELL, "feed_in_price": FEED_IN})
        for account, site, wh, price in (("ann", "s-ann", 3000, 80), ("ben", "s-ben", 2000, 50),
                                         ("dan", "s-dan", 100, 50)):  # fmt: skip
            body = {"interval": h1, "site": site, "quantity_wh": wh, "price": price}
            chain.commit(account, "market.place_bid", body)
        for device, wh, price in (("pv-1", 2500, 40), ("pv-2", 4000, 45)):
            body = {"interval": h1, "device": device, "quantity_wh": wh, "price": price}
            chain.commit("sun", "market.place_offer", body)
        choice = {"site": "s-ann", "choice": "clean", "price_cap": 70, "quantity_wh": 1500}
        chain.commit("ann", "market.set_preference", choice)
        standing = {"device": "pv-1", "floor_price": 35, "quantity_wh": 3000}
        chain.commit("sun", "market.set_standing_offer", standing)
        _clear(chain, h1)
        _clear(chain, h2)
        _settle(chain, h1, {"pv-1": 2000, "pv-2": 3000, "s-ann": 3500, "s-ben": 1000,
                            "s-dan": 2000})  # fmt: skip
        _clear(chain, h3)
        _settle(chain, h2, {"pv-1": 1000, "s-ann": 1200})
        node = chain.node
        view = node.state.view
        assert market.arrears_of(view, "dan")  # the shortfall became arrears
        rows, reference = table_rows(node.readmodels.reader()), reference_rows(view)
        tip = node.tip.height
    return Traded(home, (h1, h2, h3), rows, reference, tip)


def stored_rows(home: Path) -> Rows:
    conn = sqlite3.connect(home / DB_NAME)
    try:
        return table_rows(conn)
    finally:
        conn.close()


def readmodels(*args: str, home: Path) -> Any:
    result = CliRunner().invoke(
        app, ["readmodels", *args, "--home", str(home), "--json"],
        env={"GRIDLEDGER_PASSPHRASE": PASSPHRASE},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_tables_hold_what_the_records_say(traded: Traded) -> None:
    assert traded.rows == traded.reference
    h1, h2, h3 = traded.hours
    accounts = {row[0]: row for row in traded.rows["market_account_totals"]}
    assert set(accounts) == {"ann", "ben", "dan", "sun"}
    pairings = traded.rows["market_account_pairings"]
    assert {start for _, start, _ in pairings} == {h1, h2, h3}  # the cleared hour is listed
    assert ("ann", h2, 0) in pairings  # from the standing choices
    assert ("ann", h3, 0) in pairings
    assert ("sun", h3, 0) in pairings


def test_a_rebuild_from_genesis_gives_the_same_rows(traded: Traded, tmp_path: Path) -> None:
    home = tmp_path / "copy"
    shutil.copytree(traded.home, home)
    with sqlite3.connect(home / DB_NAME) as conn:  # rows a rebuild must not keep
        conn.execute("DELETE FROM market_account_totals WHERE account = 'ann'")
        conn.execute("UPDATE market_plant_buyers SET amount_fen = 0")
    conn.close()
    assert stored_rows(home) != traded.rows
    rebuilt = readmodels("rebuild", home=home)
    assert rebuilt["blocks"] == traded.tip + 1
    assert rebuilt["models"] == [
        {"name": "market", "version": MarketTotals.version,
         "stored_version": MarketTotals.version, "height": traded.tip},
        {"name": "certificates", "version": CertificateIndex.version,
         "stored_version": CertificateIndex.version, "height": traded.tip},
        {"name": "carbon", "version": CarbonTotals.version,
         "stored_version": CarbonTotals.version, "height": traded.tip},
        {"name": "credits", "version": CreditTotals.version,
         "stored_version": CreditTotals.version, "height": traded.tip},
    ]  # fmt: skip
    assert stored_rows(home) == traded.rows


def test_a_restart_keeps_the_rows_and_a_new_version_rebuilds(
    traded: Traded, tmp_path: Path
) -> None:
    home = tmp_path / "copy"
    shutil.copytree(traded.home, home)
    node = open_node(home, PASSPHRASE, verify_workers=0)
    try:
        assert node.readmodels.status()[0]["height"] == traded.tip
        assert table_rows(node.readmodels.reader()) == traded.rows
    finally:
        node.close()

    class Next(MarketTotals):
        version = MarketTotals.version + 1

    model = Next()
    with sqlite3.connect(home / DB_NAME) as conn:  # rows a rebuild must not keep
        conn.execute("UPDATE market_account_totals SET consumed_wh = consumed_wh + 1")
    conn.close()
    assert stored_rows(home) != traded.rows
    node = open_node(home, PASSPHRASE, verify_workers=0, readmodels=[model])
    try:
        assert node.readmodels.status()[0] == {
            "name": "market", "version": model.version, "stored_version": model.version,
            "height": traded.tip,
        }  # fmt: skip
        assert table_rows(node.readmodels.reader()) == traded.rows
    finally:
        node.close()


def test_no_rule_reads_the_tables(tmp_path: Path) -> None:
    """A node that keeps no read model clears and settles the same (the tables are part of no
    rule, ``settlement_ready`` included); opened later with the model, it catches up to the
    rows the records say."""
    home = tmp_path / "home"
    with market_chain(home, readmodels=[]) as chain:
        h1 = chain.hour
        chain.commit("grid", "market.set_tariffs", {"sell_price": SELL, "feed_in_price": FEED_IN})
        bid = {"interval": h1, "site": "s-ann", "quantity_wh": 1000, "price": 80}
        chain.commit("ann", "market.place_bid", bid)
        offer = {"interval": h1, "device": "pv-1", "quantity_wh": 800, "price": 40}
        chain.commit("sun", "market.place_offer", offer)
        _clear(chain, h1)
        chain.clock.set(h1 + HOUR)
        chain.readings(h1, {"pv-1": 900, "s-ann": 1000})
        assert market.settlement_ready(chain.node.state.view, h1, chain.clock.ms)
        chain.commit("grid", "market.settle", {"interval": h1})
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            totals.account_totals(chain.node.readmodels.reader(), "ann")
        reference = reference_rows(chain.node.state.view)
    node = open_node(home, PASSPHRASE, verify_workers=0)
    try:
        assert table_rows(node.readmodels.reader()) == reference
        ann = totals.account_totals(node.readmodels.reader(), "ann")
        assert ann is not None
        assert (ann.consumed_wh, ann.clean_wh, ann.clean_share_permille) == (1000, 800, 800)
    finally:
        node.close()
