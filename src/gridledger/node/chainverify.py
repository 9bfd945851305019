"""``gridledger verify``: re-execute the stored chain from genesis and check everything.

Every block goes through the one block import path (:func:`~gridledger.node.transition.
apply_block`), exactly as a node following the chain would import it: header, proposer and
signature, every transaction as admission checks it, re-execution under the rules in force at
its height, and every root. What only a stored chain can get wrong is checked around it: the
header is stored in canonical form under its own hash and height, the stored receipts and state
changes are those re-execution produced, the transaction index points at every transaction,
and the stored state (snapshot plus diffs) equals the re-executed state.

The first failure is reported with its height and the ``block.*`` code of the rule broken (the
same code a node importing that block would refuse it with).
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from gridledger.contracts import chain
from gridledger.contracts.genesis import Genesis
from gridledger.contracts.genesis import load as load_genesis
from gridledger.core.crypto import sha256
from gridledger.core.errors import (
    BlockMissing,
    BlockStoredBadly,
    GridLedgerError,
    InvalidBlock,
    MalformedTx,
)
from gridledger.core.types import Block, BlockHeader, Transaction, decode_tx
from gridledger.node.node import DB_NAME, GENESIS_NAME, wall_clock_ms
from gridledger.node.transition import apply_block, genesis_header, genesis_writes
from gridledger.node.verifier import Verifier
from gridledger.state.disk import STATE_SCHEMA, DiskState
from gridledger.state.disktree import TreeCorrupt
from gridledger.state.state import State
from gridledger.state.store import BlockStore, StoreCorrupt, StoredBlock
from gridledger.state.tree import key_path, leaf_hash_of


@dataclass
class VerifyReport:
    ok: bool
    height: int
    """The last height checked (the tip when ``ok``)."""
    txs: int
    bad_height: int | None = None
    problem: str | None = None
    code: str | None = None
    """The ``block.*`` code of the first rule broken."""


def verify_chain(
    home: Path,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    now_ms: int | None = None,
) -> VerifyReport:
    """Check the chain in ``home``; never raises for a damaged chain, reports instead.

    ``now_ms`` is the clock blocks must not be ahead of (by the chain's ``max_future_ms``);
    the wall clock by default.
    """
    store = BlockStore(home / DB_NAME)
    verifier = Verifier(workers)
    try:
        # one snapshot for the whole check, so a node may keep committing while it runs
        with (
            tempfile.TemporaryDirectory(prefix=".verify-", dir=home) as scratch,
            store.read_snapshot(),
        ):
            conn = _scratch_db(Path(scratch) / "state.sqlite")
            try:
                return _verify(home, store, verifier, progress, wall_clock_ms() if now_ms
                               is None else now_ms, conn)  # fmt: skip
            finally:
                conn.close()
    finally:
        verifier.close()
        store.close()


def _scratch_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.executescript(STATE_SCHEMA)
    return conn


def _write(state: State, conn: sqlite3.Connection, height: int) -> None:
    conn.execute("BEGIN")
    state.write_block(conn, height)
    conn.execute("COMMIT")
    state.finish_block()


def _bad(height: int, txs: int, exc: GridLedgerError | StoreCorrupt) -> VerifyReport:
    if isinstance(exc, StoreCorrupt):
        return VerifyReport(False, height - 1, txs, height, str(exc), BlockStoredBadly.code)
    return VerifyReport(False, height - 1, txs, height, exc.message, exc.code)


def _verify(
    home: Path,
    store: BlockStore,
    verifier: Verifier,
    progress: Callable[[int, int], None] | None,
    now_ms: int,
    scratch: sqlite3.Connection,
) -> VerifyReport:
    tip = store.tip_height()
    if tip < 0:
        return VerifyReport(False, -1, 0, 0, "the store holds no blocks", BlockMissing.code)
    stored_genesis = store.get_meta("genesis")
    try:
        genesis: Genesis = load_genesis(stored_genesis or b"")
    except msgspec.MsgspecError as exc:
        return VerifyReport(
            False, -1, 0, 0, f"stored genesis document is unreadable: {exc}", BlockStoredBadly.code
        )
    home_genesis = home / GENESIS_NAME
    if home_genesis.exists() and home_genesis.read_bytes() != stored_genesis:
        return VerifyReport(
            False, -1, 0, 0, "genesis.json differs from the stored genesis", BlockStoredBadly.code
        )
    state = State(disk=DiskState(lambda: scratch, cache_values=50_000, cache_nodes=50_000))
    genesis_changes: dict[bytes, bytes | None] = dict(genesis_writes(genesis))
    for key, value in genesis_changes.items():
        state.set(key, value or b"")
    state.compute_root()
    _write(state, scratch, 0)
    parent: BlockHeader | None = None
    txs_checked = 0
    height = -1
    for blk in store.iter_blocks(0):
        if blk.height != height + 1:
            # A gap (even at genesis): the first missing height is the first bad one.
            missing = height + 1
            return VerifyReport(
                False,
                height,
                txs_checked,
                missing,
                f"block {missing} is missing",
                BlockMissing.code,
            )
        height = blk.height
        try:
            header = _stored_header(blk)
            if parent is None:
                _expect(
                    header == genesis_header(genesis, state.root),
                    "genesis block does not match genesis.json",
                )
                _expect(
                    store.state_changes(0) == genesis_changes,
                    "stored genesis state differs from genesis.json",
                )
            else:
                txs_checked += _import(store, state, verifier, parent, header, blk, now_ms,
                                       scratch)  # fmt: skip
        except (GridLedgerError, StoreCorrupt) as exc:
            return _bad(blk.height, txs_checked, exc)
        parent = header
        if progress is not None:
            progress(blk.height, tip)
    if height != tip:
        return VerifyReport(
            False, height, txs_checked, height + 1, "blocks are missing", BlockMissing.code
        )
    if store.tx_count() != txs_checked:
        for tx_hash, at_height, _ in store.iter_tx_index():
            if at_height > tip:
                return VerifyReport(False, tip, txs_checked, at_height,
                                    f"tx index entry {tx_hash.hex()} is wrong",
                                    BlockStoredBadly.code)  # fmt: skip
        return VerifyReport(
            False, tip, txs_checked, tip, "tx index misses transactions", BlockStoredBadly.code
        )
    problem = _stored_state_problem(store, state, parent)
    if problem is not None:
        return VerifyReport(False, tip, txs_checked, tip, problem, BlockStoredBadly.code)
    return VerifyReport(True, tip, txs_checked)


def _expect(cond: bool, problem: str) -> None:
    if not cond:
        raise BlockStoredBadly(problem)


def _stored_header(blk: StoredBlock) -> BlockHeader:
    """The stored header, which must be canonical and hash to the stored block hash."""
    try:
        header = msgspec.json.decode(blk.header, type=BlockHeader)
    except msgspec.MsgspecError as exc:
        raise BlockStoredBadly(f"header does not decode: {exc}") from None
    _expect(header.encode() == blk.header, "header is not in canonical form")
    _expect(sha256(blk.header) == blk.hash, "header does not hash to the stored block hash")
    _expect(header.height == blk.height, "header height differs from its position")
    _expect(header.tx_count == blk.tx_count, "tx_count differs from the stored count")
    return header


def _import(
    store: BlockStore,
    state: State,
    verifier: Verifier,
    parent: BlockHeader,
    header: BlockHeader,
    blk: StoredBlock,
    now_ms: int,
    scratch: sqlite3.Connection,
) -> int:
    """Import one stored block through :func:`apply_block`, then check what was stored."""
    stored = blk.txs()
    raws = [stx.raw for stx in stored]
    txs: list[Transaction] = []
    for i, raw in enumerate(raws):
        try:
            txs.append(decode_tx(raw))
        except GridLedgerError as exc:
            raise MalformedTx(f"tx {i}: {exc.message}") from None
    rules = chain.rules_at(state.view, header.height)
    prepared, result = apply_block(
        state, rules, parent, Block(header, txs, blk.signature), now_ms=now_ms,
        verifier=verifier, raws=raws,
    )  # fmt: skip
    try:
        for i, (stx, rb) in enumerate(zip(stored, result.receipt_bytes, strict=True)):
            _expect(stx.receipt == rb, f"stored receipt of tx {i} differs from re-execution")
        _expect(
            store.state_changes(blk.height) == result.changes,
            "stored state changes differ from re-execution",
        )
    except InvalidBlock:
        state.discard_block()
        raise
    for i, p in enumerate(prepared):
        if store.locate_tx(p.hash) != (blk.height, i):
            state.discard_block()
            raise BlockStoredBadly(f"tx index entry of tx {i} ({p.hash.hex()}) is wrong")
    _write(state, scratch, blk.height)
    return len(prepared)


def _stored_state_problem(store: BlockStore, state: State, tip: BlockHeader | None) -> str | None:
    """What is wrong with the node's stored state (values and tree), if anything: it must
    hold exactly the re-executed values, and its tree must hash every one of them up to the
    tip's state root."""
    stored = DiskState(store.reader, cache_values=1000, cache_nodes=50_000)
    stored.log_prefixes = () if state.log is None else state.log.prefixes
    if tip is not None:
        stored.replay(store.diffs(stored.checkpoint, tip.height))
    if tip is not None and stored.root.hex() != tip.state_root:
        return "stored state tree does not hash to the tip's state root"
    mine = _pairs(state)
    for key, value in stored.items():
        if next(mine, None) != (key, value):
            return f"stored state differs from re-executed state at key {key!r}"
    if next(mine, None) is not None:
        return "stored state misses keys of the re-executed state"
    leaves = 0
    try:
        for key, leaf_hash in stored.tree.iter_leaves():
            leaves += 1
            found = stored.get(key)
            if found is None or leaf_of(key, found) != leaf_hash:
                return f"stored state tree disagrees with the value of {key!r}"
    except TreeCorrupt as exc:
        return str(exc)
    logged = sum(stored.count(p) for p in (state.log.prefixes if state.log else ()))
    if leaves != stored.count() - logged:
        return "stored state tree does not hold every stored value"
    return None


def _pairs(state: State) -> Iterator[tuple[bytes, bytes]]:
    backend = state.backend
    assert isinstance(backend, DiskState)
    return backend.items()


def leaf_of(key: bytes, value: bytes) -> bytes:
    return leaf_hash_of(key_path(key), value)
