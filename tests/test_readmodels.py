"""Read models beside the chain: folded in the block's own SQLite transaction, caught up and
rebuilt from the stored state diffs, never part of the state root.

The model here is a small one of the tests' own (a balance history per account), so these
tests check the machinery; each contract's read models have tests of their own.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from gridledger.contracts import funds
from gridledger.node.chainverify import verify_chain
from gridledger.node.executor import prepare
from gridledger.node.home import init_home, open_node
from gridledger.node.node import DB_NAME, Node
from gridledger.state.readmodels import BlockFacts, ReadModels
from gridledger.state.store import BlockStore
from support import CHAIN_ID, GENESIS_TIME_MS, PASSPHRASE, household_accounts, households, transfer

HOUSE_A, HOUSE_B = households(2)


class BalanceHistory:
    """Every balance each account held, by height (from the funds keys' changes)."""

    name = "test_balances"
    table_names = ("test_balances",)
    tables = (
        "CREATE TABLE IF NOT EXISTS test_balances (account TEXT, height INTEGER, "
        "balance INTEGER, PRIMARY KEY (account, height))",
    )

    def __init__(self, version: int = 1) -> None:
        self.version = version
        self.applied = 0

    def apply(self, conn: sqlite3.Connection, facts: BlockFacts) -> None:
        self.applied += 1
        prefix = funds.keys.balances()
        conn.executemany(
            "INSERT INTO test_balances VALUES (?, ?, ?)",
            [
                (k[len(prefix) :].decode(), facts.height, int(v))
                for k, v in facts.changes.items()
                if k.startswith(prefix) and v is not None
            ],
        )


def rows(home: Path) -> list[tuple[str, int, int]]:
    with sqlite3.connect(home / DB_NAME) as conn:
        out = conn.execute("SELECT * FROM test_balances ORDER BY account, height").fetchall()
    conn.close()
    return [tuple(r) for r in out]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    init_home(home, PASSPHRASE, chain_id=CHAIN_ID, genesis_time=GENESIS_TIME_MS,
              accounts=household_accounts(2, 1000, org="operator"))  # fmt: skip
    return home


def open_with(home: Path, model: BalanceHistory) -> Node:
    return open_node(home, PASSPHRASE, verify_workers=0, readmodels=[model])


def test_rows_follow_each_block_and_rebuild_gives_the_same(home: Path) -> None:
    model = BalanceHistory()
    n = open_with(home, model)
    try:
        root_before = n.state.root
        n.produce_block([prepare(transfer(HOUSE_A, 1, HOUSE_B, 10))])
        n.produce_block([prepare(transfer(HOUSE_B, 1, HOUSE_A, 3))])
        assert n.state.root != root_before
        live = rows(home)
        assert (HOUSE_A, 0, 1000) in live  # the genesis block is folded in too
        assert (HOUSE_A, 1, 990) in live
        assert (HOUSE_B, 2, 1007) in live
        assert (HOUSE_A, 2, 993) in live
        assert n.readmodels.status()[0]["height"] == 2
    finally:
        n.close()
    models = ReadModels(BlockStore(home / DB_NAME), [BalanceHistory()])
    try:
        assert models.rebuild() == 3
    finally:
        models.store.close()
    assert rows(home) == live
    assert verify_chain(home, workers=0).ok  # the tables are not state


def test_a_new_version_rebuilds_and_a_model_behind_catches_up(home: Path) -> None:
    n = open_with(home, BalanceHistory())
    n.produce_block([prepare(transfer(HOUSE_A, 1, HOUSE_B, 10))])
    n.close()
    live = rows(home)
    # blocks committed by a node that did not keep the model: the model catches up on open
    n = open_node(home, PASSPHRASE, verify_workers=0, readmodels=[])
    n.produce_block([prepare(transfer(HOUSE_A, 2, HOUSE_B, 5))])
    n.close()
    assert rows(home) == live
    model = BalanceHistory()
    n = open_with(home, model)
    try:
        assert model.applied == 1  # only block 2 was folded in
        assert (HOUSE_A, 2, 985) in rows(home)
    finally:
        n.close()
    newer = BalanceHistory(version=2)
    n = open_with(home, newer)
    try:
        assert newer.applied == 3  # dropped and rebuilt from genesis
        assert n.readmodels.status()[0] == {
            "name": "test_balances", "version": 2, "stored_version": 2, "height": 2,
        }  # fmt: skip
    finally:
        n.close()


def test_a_failed_block_commit_leaves_no_rows(home: Path, tmp_path: Path) -> None:
    """The rows are written in the block's own SQLite transaction: when the block fails to
    commit, neither the block nor its rows are there."""

    class Failing(BalanceHistory):
        def apply(self, conn: sqlite3.Connection, facts: BlockFacts) -> None:
            super().apply(conn, facts)
            if facts.height == 2:
                raise OSError("disk full")

    n = open_with(home, Failing())
    try:
        n.produce_block([prepare(transfer(HOUSE_A, 1, HOUSE_B, 10))])
        before = (n.tip, n.state.root, rows(home))
        with pytest.raises(OSError, match="disk full"):
            n.produce_block([prepare(transfer(HOUSE_A, 2, HOUSE_B, 5))])
        assert (n.tip, n.state.root, rows(home)) == before
        assert n.store.tip_height() == 1
    finally:
        n.close()
    copy = tmp_path / "copy"
    shutil.copytree(home, copy)
    assert verify_chain(copy, workers=0).ok
