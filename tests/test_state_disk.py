"""The state on disk (``state/disk.py``, ``state/disktree.py``) against the reference model.

A hypothesis state machine drives the on-disk state (values, tree nodes and their history in a
real SQLite file, with caches far smaller than the state so most reads go to disk) with blocks
of inserts, updates and deletes, blocks dropped before they were written, pruning and reopening,
and checks after every step: the root is the reference model's, proofs at the tip and at every
retained height are exactly the reference's proofs and verify, values at old heights are the
ones the model had then, and scans agree with a sorted dict.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import smt_reference as ref
from gridledger.contracts.metering import keys as metering_keys
from gridledger.core.errors import HeightNotRetained
from gridledger.sdk import verify_log_entry
from gridledger.state.disk import STATE_SCHEMA, DiskState
from gridledger.state.disktree import Leaf, Node, TreeCorrupt, decode, encode
from gridledger.state.state import AppendLog, State, log_proof, log_seal
from gridledger.state.tree import EMPTY, SparseMerkleTree, verify_proof

keys = st.binary(min_size=1, max_size=3)
values = st.binary(min_size=0, max_size=8)
changes = st.dictionaries(keys, st.one_of(st.none(), values), max_size=25)


class _Db:
    """A state file with a writer and a reader connection, as a node has."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer = sqlite3.connect(path, isolation_level=None)
        self.writer.execute("PRAGMA journal_mode=WAL")
        self.writer.executescript(STATE_SCHEMA)
        self.reader = sqlite3.connect(path, isolation_level=None)
        self.blocks: dict[int, dict[bytes, bytes | None]] = {}
        """Each block's changes, as the block store keeps them (``state_diff``)."""

    def diffs(self, after: int, upto: int) -> Iterator[tuple[int, dict[bytes, bytes | None]]]:
        return ((h, self.blocks[h]) for h in sorted(self.blocks) if after < h <= upto)

    def state(self, cache: int = 64, every: int = 3) -> DiskState:
        """The state as a node opens it: the last checkpoint, then the blocks after it."""
        disk = DiskState(
            lambda: self.reader, cache_values=cache, cache_nodes=cache, checkpoint_every=every
        )
        disk.diffs = self.diffs
        disk.replay(self.diffs(disk.checkpoint, max(self.blocks, default=0)))
        return disk

    def write(
        self, disk: DiskState, height: int, block: dict[bytes, bytes | None], force: bool = False
    ) -> None:
        self.writer.execute("BEGIN")
        disk.write(self.writer, height, block, force=force)
        self.writer.execute("COMMIT")
        self.blocks[height] = dict(block)
        disk.commit(height, block)

    def close(self) -> None:
        self.writer.close()
        self.reader.close()


def _snapshot(db: _Db) -> Iterator[None]:
    db.reader.execute("BEGIN")
    db.reader.execute("SELECT 1 FROM state_values LIMIT 1").fetchall()
    try:
        yield
    finally:
        db.reader.execute("COMMIT")


def _prove_at(db: _Db, disk: DiskState, key: bytes, height: int | None):  # type: ignore[no-untyped-def]
    if height is None:
        return disk.prove(key)
    gen = _snapshot(db)
    next(gen)
    try:
        return disk.prove(key, height)
    finally:
        next(gen, None)


class DiskStateMachine(RuleBasedStateMachine):
    """Blocks against the reference: roots, proofs now and then, values then, scans."""

    def __init__(self) -> None:
        super().__init__()
        self._dir = tempfile.TemporaryDirectory()
        self.db = _Db(Path(self._dir.name) / "state.sqlite")
        self.disk = self.db.state()
        self.db.write(self.disk, 0, {}, force=True)  # genesis is always a checkpoint
        self.model: dict[bytes, bytes] = {}
        self.history: dict[int, dict[bytes, bytes]] = {0: {}}
        self.height = 0
        self.horizon = 0
        self.probes: set[bytes] = {b"\x00", b"absent"}

    def teardown(self) -> None:
        self.db.close()
        self._dir.cleanup()

    @rule(block=changes)
    def commit_block(self, block: dict[bytes, bytes | None]) -> None:
        block = dict(sorted(block.items()))
        root = self.disk.stage(block)
        self.height += 1
        self.db.write(self.disk, self.height, block)
        for k, v in block.items():
            self.probes.add(k)
            if v is None:
                self.model.pop(k, None)
            else:
                self.model[k] = v
        self.history[self.height] = dict(self.model)
        assert root == ref.root(self.model)

    @rule(block=changes)
    def drop_block(self, block: dict[bytes, bytes | None]) -> None:
        """A block executed (its root computed) but never written leaves nothing behind."""
        self.disk.stage(dict(sorted(block.items())))
        self.disk.discard_staged({})

    @precondition(lambda self: self.height > 2)
    @rule(data=st.data())
    def prune(self, data: st.DataObject) -> None:
        horizon = data.draw(st.integers(self.horizon, self.height), label="horizon")
        conn = sqlite3.connect(self.db.path, isolation_level=None)
        try:
            while self.disk.prune(conn, horizon, batch=3):
                pass
            for lo, hi in ((b"", b"\x00"), (b"\x00", b"\x08"), (b"\x08", None)):
                self.disk.prune_nodes(conn, horizon, lo, hi)
        finally:
            conn.close()
        self.horizon = horizon

    @rule()
    def reopen(self) -> None:
        """A new process opens the same file: nothing is read but the root node."""
        self.disk = self.db.state()

    @invariant()
    def root_matches_reference(self) -> None:
        assert self.disk.root == ref.root(self.model)

    @invariant()
    def proofs_match_reference_at_the_tip(self) -> None:
        root = self.disk.root
        for k in sorted(self.probes)[:12]:
            value, proof = self.disk.prove(k)
            assert value == self.model.get(k)
            expected = ref.proof(self.model, k)
            assert [list(level) for level in proof.levels] == expected.levels
            assert proof.terminal == expected.terminal
            assert proof.terminal_value == expected.terminal_value
            verify_proof(root, k, value, proof)

    @invariant()
    def retained_heights_prove_their_own_values(self) -> None:
        for h in sorted(self.history)[-4:]:
            if h < self.horizon:
                continue
            then = self.history[h]
            root = ref.root(then)
            for k in sorted(self.probes)[:6]:
                value, proof = _prove_at(self.db, self.disk, k, h)
                assert value == then.get(k)
                verify_proof(root, k, value, proof)

    @invariant()
    def scans_match_a_sorted_dict(self) -> None:
        assert list(self.disk.scan_range(b"")) == sorted(self.model.items())
        for prefix in (b"\x00", b"a"):
            got = list(self.disk.scan_range(prefix, limit=3, reverse=True))
            want = sorted(((k, v) for k, v in self.model.items() if k.startswith(prefix)))
            assert got == want[::-1][:3]
            for limit in (0, 1, 2, 5):  # a forward page reads the overlay up to its end only
                assert list(self.disk.scan_range(prefix, limit=limit)) == want[:limit]


TestDiskState = DiskStateMachine.TestCase
TestDiskState.settings = settings(
    max_examples=40,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# the same roots as the in-memory tree, at scale ---------------------------------------------------
def test_disk_tree_roots_and_proofs_equal_the_memory_tree(tmp_path: Path) -> None:
    """Ten thousand keys over 40 blocks with a cache of 64 nodes: every block's root is the
    in-memory tree's, and so is every proof."""
    db = _Db(tmp_path / "s.sqlite")
    disk = db.state(cache=64)
    memory = SparseMerkleTree()
    for height in range(1, 41):
        block: dict[bytes, bytes | None] = {
            b"key-%d" % ((height * 7919 + i * 104729) % 10_000): (
                None if i % 11 == 0 else b"v%d-%d" % (height, i)
            )
            for i in range(400)
        }
        block = dict(sorted(block.items()))
        assert disk.stage(block) == memory.update(block)
        db.write(disk, height, block)
    for i in range(0, 10_000, 97):
        k = b"key-%d" % i
        value, proof = disk.prove(k)
        assert proof == memory.prove(k)
        verify_proof(memory.root, k, value, proof)
    db.close()


def test_blocks_between_checkpoints_are_written_once_at_the_next(tmp_path: Path) -> None:
    """A key changed by every block between two checkpoints gets one row and one undo row
    per checkpoint, and the tables hold nothing of the blocks after the last one (they are
    replayed from the diffs)."""
    db = _Db(tmp_path / "s.sqlite")
    disk = db.state(every=4)
    for height in range(1, 11):
        block: dict[bytes, bytes | None] = {b"counter": b"%d" % height}
        disk.stage(block)
        db.write(disk, height, block)
    checkpoints = [h for (h,) in db.reader.execute("SELECT height FROM state_checkpoints")]
    assert checkpoints == [3, 7]
    undo = db.reader.execute("SELECT height, value FROM state_undo ORDER BY height").fetchall()
    assert undo == [(7, b"3")]
    stored = db.reader.execute(
        "SELECT value FROM state_values WHERE key = ?", (b"counter",)
    ).fetchone()
    assert stored == (b"7",)
    assert disk.get(b"counter") == b"10"
    assert db.state(every=4).get(b"counter") == b"10"
    db.close()


def test_pruned_heights_are_refused_and_kept_ones_still_prove(tmp_path: Path) -> None:
    db = _Db(tmp_path / "s.sqlite")
    disk = db.state()
    roots = {}
    for height in range(1, 21):
        block: dict[bytes, bytes | None] = {b"counter": b"%d" % height, b"h%d" % height: b"x"}
        if height % 3 == 0:
            block[b"h%d" % (height - 1)] = None
        disk.stage(block)
        db.write(disk, height, dict(sorted(block.items())))
        roots[height] = disk.root
    before = db.reader.execute("SELECT count(*) FROM state_undo").fetchone()[0]
    conn = sqlite3.connect(db.path, isolation_level=None)
    while disk.prune(conn, 15):
        pass
    disk.prune_nodes(conn, 15, b"", None)
    conn.close()
    after = db.reader.execute("SELECT count(*) FROM state_undo").fetchone()[0]
    assert after < before
    for height in range(15, 21):
        value, proof = _prove_at(db, disk, b"counter", height)
        assert value == b"%d" % height
        verify_proof(roots[height], b"counter", value, proof)
    with pytest.raises(HeightNotRetained):
        _prove_at(db, disk, b"counter", 3)
    db.close()


def test_node_bodies_round_trip_and_damage_is_reported() -> None:
    leaf = Leaf(ref.path_of(b"k"), b"k", ref.leaf_hash(ref.path_of(b"k"), b"v"))
    node = Node([None] * 16, {}, None)
    node.hashes[3] = leaf.hash
    node.leaves[3] = b"k"
    node.hashes[9] = bytes(range(32))
    node.rehash()
    again = decode(encode(node))
    assert isinstance(again, Node)
    assert (again.hashes, again.leaves, again.hash) == (node.hashes, node.leaves, node.hash)
    root_leaf = decode(encode(leaf))
    assert isinstance(root_leaf, Leaf)
    assert (root_leaf.key, root_leaf.hash, root_leaf.path) == (leaf.key, leaf.hash, leaf.path)
    for bad in (b"", b"X", encode(node)[:-1], encode(node) + b"\x00", b"L" + bytes(10)):
        with pytest.raises(TreeCorrupt):
            decode(bad)


def test_a_damaged_node_row_is_caught_on_the_way_down(tmp_path: Path) -> None:
    db = _Db(tmp_path / "s.sqlite")
    disk = db.state(cache=64)
    block: dict[bytes, bytes | None] = {b"k%d" % i: b"v" for i in range(300)}
    disk.stage(block)
    db.write(disk, 1, block, force=True)
    path, height, body = db.reader.execute(
        "SELECT path, height, body FROM tree_nodes WHERE length(path) = 1 LIMIT 1"
    ).fetchone()
    damaged = bytearray(body)
    damaged[6] ^= 1  # a child hash
    db.writer.execute(
        "UPDATE tree_nodes SET body = ? WHERE path = ? AND height = ?",
        (bytes(damaged), path, height),
    )
    fresh = db.state(cache=64)
    assert fresh.root != EMPTY
    under = next(k for k in block if ref.path_of(k)[0] >> 4 == path[0])
    with pytest.raises(TreeCorrupt):
        fresh.prove(under)
    db.close()


# the readings log --------------------------------------------------------------------------------
LOG = AppendLog(prefixes=(b"log/",), seal_key=metering_keys.log_seal)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(keys, values, max_size=12), min_size=1, max_size=6))
def test_log_keys_stay_out_of_the_tree_in_memory_and_on_disk(
    blocks: list[dict[bytes, bytes]],
) -> None:
    """Blocks mixing appended log keys and ordinary keys give the same root in memory and on
    disk: the ordinary keys and one seal per block that appended, never a leaf per log key;
    every appended key reads back and its log proof leads to its block's seal."""
    with tempfile.TemporaryDirectory() as tmp:
        db = _Db(Path(tmp) / "s.sqlite")
        disk_state = State(disk=db.state())
        memory = State()
        expected: dict[bytes, bytes] = {}
        appended: set[bytes] = set()
        for height, block in enumerate(blocks, start=1):
            entries = []
            for state in (memory, disk_state):
                state.log = LOG
                for k, v in block.items():
                    key = (b"log/" if k[0] % 2 else b"kv/") + k
                    if key.startswith(b"log/") and key in appended:
                        continue  # a log key is written once
                    state.set(key, v)
                state.seal_log(height)
            for k, v in block.items():
                key = (b"log/" if k[0] % 2 else b"kv/") + k
                if key.startswith(b"log/"):
                    if key not in appended:
                        entries.append((key, v))
                else:
                    expected[key] = v
            entries.sort()
            if entries:
                expected[LOG.seal_key(height)] = log_seal(entries)
                appended.update(k for k, _ in entries)
            root = memory.compute_root()
            assert disk_state.compute_root() == root == ref.root(expected)
            db.writer.execute("BEGIN")
            disk_state.write_block(db.writer, height)
            db.writer.execute("COMMIT")
            memory.finish_block()
            disk_state.finish_block()
            for key, value in entries:
                assert disk_state.get(key) == value == memory.get(key)
                proof = log_proof(entries, key, height)
                seal_key, seal = verify_log_entry(
                    key,
                    value,
                    {**msgspec.to_builtins(proof), "seal_key": LOG.seal_key(height).decode(),
                     "seal_hex": expected[LOG.seal_key(height)].hex()},
                )  # fmt: skip
                assert seal_key == LOG.seal_key(height)
                _, tree_proof = disk_state.prove(seal_key)
                verify_proof(root, seal_key, seal, tree_proof)
        db.close()


def test_a_deleted_log_key_is_refused() -> None:
    state = State({b"log/a": b"1"})
    state.log = LOG
    state.delete(b"log/a")
    with pytest.raises(ValueError, match="only appended"):
        state.seal_log(1)
