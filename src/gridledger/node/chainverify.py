"""``gridledger verify``: re-execute the stored chain from genesis and check everything.

For every block: the header decodes and hashes to the stored hash, links to its parent, keeps
time monotonic, and carries the proposer organisation's signature; every transaction is stored
in canonical form, hashes to its stored hash and carries a valid signature; re-executing the
block reproduces the stored receipts, the stored state changes and every root in the header.
Finally the stored state (snapshot plus diffs) must equal the re-executed state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from gridledger.contracts import registry
from gridledger.contracts.genesis import Genesis
from gridledger.contracts.genesis import load as load_genesis
from gridledger.core import crypto
from gridledger.core.crypto import sha256
from gridledger.core.errors import GridLedgerError
from gridledger.core.types import BlockHeader
from gridledger.node.chain import genesis_header, genesis_state, run_block
from gridledger.node.executor import Prepared, decode_stored_tx, prepare
from gridledger.node.node import DB_NAME, GENESIS_NAME
from gridledger.node.verifier import Item, Verifier
from gridledger.state.state import StateReader
from gridledger.state.store import BlockStore, StoreCorrupt, StoredBlock, StoredTx


@dataclass
class VerifyReport:
    ok: bool
    height: int
    """The last height checked (the tip when ``ok``)."""
    txs: int
    bad_height: int | None = None
    problem: str | None = None


class _Bad(Exception):
    pass


def _expect(cond: bool, problem: str) -> None:
    if not cond:
        raise _Bad(problem)


def verify_chain(
    home: Path,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Check the chain in ``home``; never raises for a damaged chain, reports instead."""
    store = BlockStore(home / DB_NAME)
    verifier = Verifier(workers)
    try:
        # one snapshot for the whole check, so a node may keep committing while it runs
        with store.read_snapshot():
            return _verify(home, store, verifier, progress)
    finally:
        verifier.close()
        store.close()


def _verify(
    home: Path,
    store: BlockStore,
    verifier: Verifier,
    progress: Callable[[int, int], None] | None,
) -> VerifyReport:
    tip = store.tip_height()
    if tip < 0:
        return VerifyReport(False, -1, 0, 0, "the store holds no blocks")
    stored_genesis = store.get_meta("genesis")
    try:
        genesis: Genesis = load_genesis(stored_genesis or b"")
    except msgspec.MsgspecError as exc:
        return VerifyReport(False, -1, 0, 0, f"stored genesis document is unreadable: {exc}")
    home_genesis = home / GENESIS_NAME
    if home_genesis.exists() and home_genesis.read_bytes() != stored_genesis:
        return VerifyReport(False, -1, 0, 0, "genesis.json differs from the stored genesis")
    state = genesis_state(genesis)
    genesis_changes: dict[bytes, bytes | None] = dict(state.committed)
    root = state.root
    parent: BlockHeader | None = None
    parent_hash = b""
    txs_checked = 0
    located: dict[bytes, tuple[int, int]] = {}
    height = -1
    for blk in store.iter_blocks(0):
        if blk.height != height + 1:
            # A gap (even at genesis): the first missing height is the first bad one.
            missing = height + 1
            return VerifyReport(False, height, txs_checked, missing, f"block {missing} is missing")
        height = blk.height
        try:
            txs = blk.txs()
            header = _check_header(blk, genesis, parent, parent_hash)
            if blk.height == 0:
                expected = genesis_header(genesis, root)
                _expect(header == expected, "genesis block does not match genesis.json")
                _expect(
                    store.state_changes(0) == genesis_changes,
                    "stored genesis state differs from genesis.json",
                )
            else:
                assert parent is not None
                _check_signature(state.view, header, blk)
                prepared = _check_txs(state.view, header, txs, verifier)
                result = run_block(
                    state,
                    genesis.chain_id,
                    parent,
                    parent_hash,
                    header.time,
                    header.proposer,
                    prepared,
                )
                for i, (stx, rb) in enumerate(zip(txs, result.receipt_bytes, strict=True)):
                    _expect(stx.receipt == rb, f"receipt of tx {i} differs from re-execution")
                _expect(result.header.tx_root == header.tx_root, "tx_root does not match")
                _expect(
                    result.header.receipt_root == header.receipt_root,
                    "receipt_root does not match",
                )
                _expect(
                    store.state_changes(blk.height) == result.changes,
                    "stored state changes differ from re-execution",
                )
                _expect(
                    result.header.state_root == header.state_root,
                    "state_root does not match re-execution",
                )
                state.finish_block()
                txs_checked += len(txs)
                for i, p in enumerate(prepared):
                    located[p.hash] = (blk.height, i)
        except (_Bad, GridLedgerError, StoreCorrupt) as exc:
            msg = exc.message if isinstance(exc, GridLedgerError) else str(exc)
            return VerifyReport(False, blk.height - 1, txs_checked, blk.height, msg)
        parent, parent_hash = header, blk.hash
        if progress is not None:
            progress(blk.height, tip)
    if height != tip:
        return VerifyReport(False, height, txs_checked, height + 1, "blocks are missing")
    indexed = 0
    for tx_hash, at_height, at_index in store.iter_tx_index():
        indexed += 1
        if located.get(tx_hash) != (at_height, at_index):
            return VerifyReport(
                False, tip, txs_checked, at_height, f"tx index entry {tx_hash.hex()} is wrong"
            )
    if indexed != len(located):
        return VerifyReport(False, tip, txs_checked, tip, "tx index misses transactions")
    if store.load_state() != state.committed:
        return VerifyReport(
            False, tip, txs_checked, tip, "stored state differs from re-executed state"
        )
    return VerifyReport(True, tip, txs_checked)


def _check_header(
    blk: StoredBlock, genesis: Genesis, parent: BlockHeader | None, parent_hash: bytes
) -> BlockHeader:
    try:
        header = msgspec.json.decode(blk.header, type=BlockHeader)
    except msgspec.MsgspecError as exc:
        raise _Bad(f"header does not decode: {exc}") from None
    _expect(header.encode() == blk.header, "header is not in canonical form")
    _expect(sha256(blk.header) == blk.hash, "header does not hash to the stored block hash")
    _expect(header.height == blk.height, "header height differs from its position")
    _expect(header.chain_id == genesis.chain_id, "header names another chain")
    _expect(header.tx_count == blk.tx_count, "tx_count differs from the stored count")
    if parent is not None:
        _expect(header.height == parent.height + 1, "heights are not consecutive")
        _expect(header.prev_hash == parent_hash.hex(), "prev_hash does not link to the parent")
        _expect(header.time >= parent.time, "block time went backwards")
    return header


def _check_signature(view: StateReader, header: BlockHeader, blk: StoredBlock) -> None:
    org = registry.get_organisation(view, header.proposer)
    _expect(org is not None, f"proposer {header.proposer!r} is not a registered organisation")
    assert org is not None
    node_key = org.node_key
    _expect(isinstance(node_key, str), f"proposer {header.proposer!r} has no node key")
    assert isinstance(node_key, str)
    _expect(
        crypto.verify(node_key, header.signing_bytes(), blk.signature),
        "the proposer's signature does not match the header",
    )


def _check_txs(
    view: StateReader, header: BlockHeader, txs: list[StoredTx], verifier: Verifier
) -> list[Prepared]:
    """Decode, re-encode and re-hash every transaction, and check every signature.

    A signature is checked against the sender's key as registered before the block. A sender
    unknown then cannot have been admitted, so the block is bad: otherwise a proposer could
    register an account and spend from it in the same block with no valid signature.
    """
    _expect(
        len(txs) == header.tx_count,
        f"{len(txs)} transactions stored, header says {header.tx_count}",
    )
    prepared: list[Prepared] = []
    items: list[Item] = []
    where: list[int] = []
    for i, stx in enumerate(txs):
        try:
            tx = decode_stored_tx(stx.raw)
            p = prepare(tx)
        except GridLedgerError as exc:
            raise _Bad(f"tx {i} is not a valid transaction: {exc.message}") from None
        _expect(p.raw == stx.raw, f"tx {i} is not stored in canonical form")
        _expect(tx.chain_id == header.chain_id, f"tx {i} names another chain")
        prepared.append(p)
        acct = registry.get_account(view, tx.sender)
        _expect(acct is not None, f"tx {i} sender {tx.sender!r} is not registered before the block")
        assert acct is not None
        try:
            sig = crypto.parse_signature(tx.signature)
        except GridLedgerError as exc:
            raise _Bad(f"tx {i} signature: {exc.message}") from None
        items.append((crypto.parse_public_key(acct.public_key), p.signing_bytes(), sig))
        where.append(i)
    for i, ok in zip(where, verifier.verify_many(items), strict=True):
        _expect(ok, f"tx {i} ({prepared[i].hash.hex()}) has a bad signature")
    return prepared
