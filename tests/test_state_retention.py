"""A node's state on disk: proofs at old heights, pruning, opening without reading the state,
converting a home from before, and a full disk.

The full-disk test puts the home on a small tmpfs it mounts itself (root only: skipped
elsewhere), fills it with blocks until SQLite reports the disk full, checks the node stopped
with a clear message and nothing half-written, grows the filesystem, and sees the node go on.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gridledger.contracts import funds, registry
from gridledger.core.crypto import SigningKey
from gridledger.core.errors import HeightNotRetained, NodeHalted
from gridledger.node.chainverify import verify_chain
from gridledger.node.home import init_home, key_path, load_key, open_node
from gridledger.node.node import DB_NAME, STATE_LAYOUT, Node
from gridledger.state import store as store_module
from gridledger.state.tree import verify_proof
from support import (
    CHAIN_ID,
    GENESIS_TIME_MS,
    PASSPHRASE,
    household_accounts,
    households,
    signed,
    transfer,
)

HOUSES = households(4)
WAIT_S = 20.0


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("template") / "home"
    init_home(
        home,
        PASSPHRASE,
        chain_id=CHAIN_ID,
        genesis_time=GENESIS_TIME_MS,
        accounts=household_accounts(4, 10**9, org="operator"),
    )
    return home


def _home(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest)
    return dest


def _open(home: Path, **kw: Any) -> Node:
    return open_node(home, PASSPHRASE, verify_workers=0, block_interval_ms=10, **kw)


def _blocks(node: Node, count: int, per_block: int = 3) -> None:
    """``count`` more blocks of transfers between the households (one block per submit)."""
    for _ in range(count):
        raws = []
        for i in range(per_block):
            sender, to = HOUSES[i % 4], HOUSES[(i + 1) % 4]
            raws.append(transfer(sender, node.next_nonce(sender), to, 1 + i).encode())
        target = node.tip.height + 1
        results = node.submit_many(raws)
        assert all(isinstance(r, bytes) for r in results), results
        deadline = time.monotonic() + WAIT_S
        while (node.pending or node.tip.height < target) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert node.pending == 0


def _balances(node: Node) -> dict[str, int]:
    return {h: funds.balance_of(node.state.view, h) for h in HOUSES}


def test_every_height_proves_its_own_state_on_an_archive_node(
    template: Path, tmp_path: Path
) -> None:
    node = _open(_home(template, tmp_path / "home"))
    node.start()
    try:
        seen: dict[int, dict[str, int]] = {0: _balances(node)}
        for _ in range(12):
            _blocks(node, 1)
            seen[node.tip.height] = _balances(node)
        assert node.status()["oldest_provable_height"] == 0
        for height, balances in seen.items():
            for house, balance in balances.items():
                key = b"funds/balance/" + house.encode()
                header, value, proof = node.prove_state(key, height)
                assert header.height == height
                assert int(value or b"0") == balance
                verify_proof(bytes.fromhex(header.state_root), key, value, proof)
        with pytest.raises(HeightNotRetained):
            node.prove_state(b"funds/balance/" + HOUSES[0].encode(), node.tip.height + 5)
    finally:
        node.close()


def test_a_pruned_node_keeps_its_window_and_prunes_in_the_background(
    template: Path, tmp_path: Path
) -> None:
    keep = 16
    node = _open(_home(template, tmp_path / "home"), prune_keep=keep)
    node.start()
    try:
        _blocks(node, 70)
        deadline = time.monotonic() + WAIT_S
        while node.disk.horizon() == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        horizon = node.disk.horizon()
        assert 0 < horizon <= node.tip.height - keep + 1
        oldest = node.oldest_retained()
        assert node.status()["oldest_provable_height"] == oldest >= horizon
        key = b"funds/balance/" + HOUSES[1].encode()
        for height in range(oldest, node.tip.height + 1):
            header, value, proof = node.prove_state(key, height)
            verify_proof(bytes.fromhex(header.state_root), key, value, proof)
        with pytest.raises(HeightNotRetained):
            node.prove_state(key, oldest - 1)
        conn = sqlite3.connect(node.store.path)
        undo_below = conn.execute(
            "SELECT count(*) FROM state_undo WHERE height <= ?", (horizon,)
        ).fetchone()[0]
        conn.close()
        assert undo_below == 0
        _blocks(node, 2)  # blocks go on after pruning
    finally:
        node.close()
    report = verify_chain(node.config.home, workers=0)
    assert report.ok, report.problem


def test_opening_a_home_reads_none_of_its_state(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Start-up looks values and nodes up by key; it never reads a state table whole."""
    home = _home(template, tmp_path / "home")
    node = _open(home)
    node.start()
    _blocks(node, 5, per_block=4)
    root, tip = node.state.root, node.tip_hash
    node.close()
    statements: list[str] = []
    connect = store_module.BlockStore._connect

    def traced(self: store_module.BlockStore) -> sqlite3.Connection:
        conn = connect(self)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(store_module.BlockStore, "_connect", traced)
    again = _open(home)
    try:
        assert (again.state.root, again.tip_hash) == (root, tip)
    finally:
        again.close()
    state_reads = [
        s
        for s in statements
        if any(t in s for t in ("state_values", "tree_nodes", "state_diff", "state_snapshot"))
        and s.lstrip().upper().startswith("SELECT")
    ]
    assert state_reads, "the trace saw no reads at all"
    for sql in state_reads:
        # a look-up by key or path, or a range of keys under a prefix (bounded both ways)
        point = "key = " in sql or "path = " in sql
        ranged = "key >= x'" in sql and "key < x'" in sql and "key >= x''" not in sql
        # or the blocks after the last checkpoint, at most a checkpoint interval of them
        replay = re.search(r"state_diff WHERE height > (\d+) AND height <= (\d+)", sql)
        if replay is not None:
            after, upto = map(int, replay.groups())
            assert upto - after <= again.config.checkpoint_every, sql
            continue
        assert point or ranged, sql


def test_a_home_from_before_is_converted_once(template: Path, tmp_path: Path) -> None:
    """A home whose state lived only in its diffs gets its state tables written at the next
    start, with the same root; heights below the conversion are not provable."""
    home = _home(template, tmp_path / "home")
    node = _open(home)
    node.start()
    _blocks(node, 4)
    root, tip = node.state.root, node.tip.height
    node.close()
    conn = sqlite3.connect(home / DB_NAME)
    for table in ("state_values", "state_undo", "state_tombstones", "tree_nodes"):
        conn.execute(f"DELETE FROM {table}")
    conn.execute("DELETE FROM meta WHERE key = ?", (STATE_LAYOUT,))
    conn.commit()
    conn.close()
    again = _open(home)
    try:
        assert again.state.root == root
        assert again.oldest_retained() == tip
        with pytest.raises(HeightNotRetained):
            again.prove_state(b"funds/balance/" + HOUSES[0].encode(), tip - 1)
        again.start()
        _blocks(again, 2)
    finally:
        again.close()
    report = verify_chain(home, workers=0)
    assert report.ok, report.problem


# a full disk -------------------------------------------------------------------------------------
def _can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    if not _can_mount():
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_stops_blocks_cleanly_and_they_resume_with_room(
    template: Path, small_fs: Path
) -> None:
    home = _home(template, small_fs / "home")
    node = _open(home)
    node.start()
    try:
        acknowledged: list[int] = []
        node.add_listener(lambda event: acknowledged.append(event.height))
        sender, to = HOUSES[0], HOUSES[1]
        nonce = node.next_nonce(sender)
        deadline = time.monotonic() + 60
        while node.halted is None and time.monotonic() < deadline:
            memo = "x" * 200
            raws = [transfer(sender, nonce + i, to, 1, memo=memo).encode() for i in range(40)]
            nonce += 40
            try:
                node.submit_many(raws)
            except NodeHalted:
                break
            time.sleep(0.01)
        assert node.halted is not None, "the disk never filled"
        assert node.halted.startswith("disk full"), node.halted
        assert str(node.store.path) in node.halted
        stuck = node.tip.height
        time.sleep(0.5)
        assert node.tip.height == stuck  # nothing commits without room
        assert acknowledged
        assert max(acknowledged) == stuck
        subprocess.run(["mount", "-o", "remount,size=64m", str(small_fs)], check=True)
        deadline = time.monotonic() + WAIT_S
        while (node.halted is not None or node.pending) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert node.halted is None
        assert node.pending == 0
        assert node.tip.height > stuck
        tip = node.tip.height
    finally:
        node.close()
    again = _open(home)
    try:
        assert again.tip.height == tip
        assert again.state.root.hex() == again.tip.state_root
    finally:
        again.close()
    report = verify_chain(home, workers=0)
    assert report.ok, report.problem


def test_accounts_of_an_organisation_come_from_an_index(template: Path, tmp_path: Path) -> None:
    """An organisation's accounts are found through the index of accounts by organisation,
    the same before and after a checkpoint, page by page; the query plan says so."""
    home = _home(template, tmp_path / "home")
    operator = load_key(key_path(home, "operator"), PASSPHRASE)
    node = _open(home, checkpoint_every=4)
    node.start()
    try:
        view = node.state.view
        before = registry.list_accounts(view, org="operator").items
        assert {a.id for a in before} >= set(HOUSES)
        raws = []
        for i in range(12):
            org = ("operator", "households")[i % 2]
            body = {"account": f"extra-{i:02d}", "org": org,
                    "public_key": SigningKey.generate().public_key}  # fmt: skip
            raws.append(
                signed(
                    "operator",
                    node.next_nonce("operator") + i,
                    "registry.add_account",
                    body,
                    signer=operator,
                ).encode()
            )
        target = node.tip.height + 1
        assert all(isinstance(r, bytes) for r in node.submit_many(raws))
        deadline = time.monotonic() + WAIT_S
        while (node.pending or node.tip.height < target) and time.monotonic() < deadline:
            time.sleep(0.01)
        for _ in range(2):  # in the overlay, then written at a checkpoint
            everyone = registry.list_accounts(view).items
            for org in ("operator", "households"):
                expected = [a for a in everyone if a.org == org]
                assert registry.list_accounts(view, org=org).items == expected
                paged, after = [], None
                while True:
                    page = registry.list_accounts(view, after, 3, org=org)
                    paged += page.items
                    if page.next is None:
                        break
                    after = page.next
                assert paged == expected
            _blocks(node, 4)
        assert node.disk.checkpoint >= target
        conn = sqlite3.connect(node.store.path)
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT key, value FROM state_values WHERE key >= x'"
            + registry.keys.accounts().hex()
            + "' AND key < x'"
            + (registry.keys.accounts()[:-1] + b"0").hex()
            + "' AND "
            "json_extract(CAST(value AS TEXT), '$.org') = 'operator' AND key >= x'' ORDER BY key"
        ).fetchall()
        conn.close()
        assert "USING INDEX state_by_" in str(plan), plan
    finally:
        node.close()
