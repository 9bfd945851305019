"""The node: admission, ordering, block production and import, commit, and notification.

One organisation's node on one machine. Transactions are admitted (decoded, checked, signature
verified) and handed to the ordering backend; a block thread takes ordered batches, builds and
executes each block through the one block import path (:mod:`gridledger.node.transition`),
commits it in one SQLite transaction, and tells listeners (the API's event stream, receipt
waiters, metrics). Blocks proposed elsewhere enter through :meth:`Node.import_block`, which
runs :func:`~gridledger.node.transition.apply_block` on them.
"""

from __future__ import annotations

import gc
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import msgspec

from gridledger.contracts import chain, layout, registry
from gridledger.contracts.base import get_kind
from gridledger.contracts.genesis import Genesis
from gridledger.contracts.genesis import load as load_genesis
from gridledger.contracts.rules import Rules
from gridledger.core import merkle
from gridledger.core.crypto import SigningKey, sha256
from gridledger.core.errors import (
    BadSignature,
    DuplicateTransaction,
    GridLedgerError,
    HeightNotRetained,
    InvalidTransaction,
    MempoolFull,
    NodeError,
    NodeHalted,
    NonceReplayed,
    NotFound,
    OversizeTransaction,
)
from gridledger.core.localtime import DEFAULT_ZONE
from gridledger.core.types import Block, BlockHeader, Receipt, Transaction, decode_tx
from gridledger.node.admission import Checked, check_chunk, claimed_sender, error_from
from gridledger.node.executor import Prepared, check_sender, precheck
from gridledger.node.finality import block_final, decode_attestation
from gridledger.node.metrics import NodeMetrics
from gridledger.node.ordering import LocalOrdering, OrderingBackend
from gridledger.node.quotas import AdmissionQuotas
from gridledger.node.transition import (
    BlockResult,
    apply_block,
    genesis_header,
    genesis_writes,
    propose_block,
)
from gridledger.node.verifier import INLINE_BELOW, Verifier
from gridledger.readmodels import default_models
from gridledger.state.disk import DiskState
from gridledger.state.readmodels import BlockFacts, ReadModel, ReadModels
from gridledger.state.state import LogProof, State, log_proof
from gridledger.state.store import BlockStore, StoredBlock
from gridledger.state.tree import StateProof

log = logging.getLogger("gridledger.node")

DB_NAME = "chain.db"
VERIFY_SLICE = 256
"""Signatures per task handed to a verifier process: small enough to start verifying while
the rest of a batch is still being decoded, large enough to amortise the round trip."""
GENESIS_NAME = "genesis.json"


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def tune_gc() -> None:
    """Keep the garbage collector off the long-lived state: freeze what exists (the state
    loaded at start) and collect the young generation every 50,000 allocations instead of 700,
    so a block that creates many short-lived objects is not slowed by rescans."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


@dataclass(frozen=True)
class CommittedBlock:
    """What listeners hear after each commit."""

    height: int
    hash: str
    header: BlockHeader
    tx_hashes: list[str]
    statuses: list[str]
    commit_ms: float
    receipts: list[Receipt] = field(default_factory=list)
    """The block's receipts, in order (listeners must not change them)."""
    dropped: list[tuple[str, str, str]] = field(default_factory=list)
    """Admitted transactions this node left out of its block because they no longer passed
    the block's checks: ``(tx hash, code, message)``; their senders may send them again."""


@dataclass
class NodeConfig:
    home: Path
    org: str
    """The organisation this node proposes for."""
    node_key: SigningKey
    verify_workers: int | None = None
    """Processes for signature checks: None = one per core, 0 = check in the calling thread."""
    max_pending: int = 200_000
    clock: Callable[[], int] = wall_clock_ms
    """Block time source in ms since the epoch; a simulation passes its own clock."""
    block_max_txs: int | None = None
    """Cut blocks at this many transactions (never above the chain rule's ``block_max_txs``)."""
    block_interval_ms: int = 200
    """How long the first admitted transaction waits for others to fill its block."""
    tune_gc: bool = False
    """Freeze the objects of the opened chain out of the cyclic garbage collector and collect
    less often: the state tree is millions of long-lived lists that a full collection would
    walk again and again. For processes whose main job is the node (CLI, benchmarks)."""
    readmodels: list[ReadModel] | None = None
    """The read models to keep beside the chain; every default one when None."""
    prune_keep: int | None = None
    """Keep the state of the last this many heights provable and prune older versions in the
    background; None keeps every version (an archive node)."""
    cache_values: int = 200_000
    """Committed state values kept decoded in memory (the rest is read from disk)."""
    cache_nodes: int = 200_000
    """State tree nodes kept decoded in memory."""
    checkpoint_every: int = 32
    """Write the state tables every this many blocks (a key changed by several blocks in
    between is written once; a restart replays at most this many blocks' diffs)."""
    extra: dict[str, Any] = field(default_factory=dict)


STATE_LAYOUT = "state_layout"
LAYOUT_DISK = b"disk-1"
"""The state lives in the state tables (``state/disk.py``); homes without it are converted."""
STATE_FLOOR = "state_floor"
"""The lowest height whose state the tables can show (a converted home's conversion height)."""
DISK_FULL = "disk full"
DISK_RETRY_S = 2.0
"""How often a node whose disk is full tries its block again."""


class _TreeWriting:
    """Holds the node's tree lock while a block rewrites the state tree, so proofs always
    match the tip's root; released once the block is committed or discarded."""

    def __init__(self, node: Node) -> None:
        self._lock = node._tree_lock

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


class Node:
    """A running chain: call :meth:`start` to produce blocks, :meth:`stop` to end."""

    def __init__(self, config: NodeConfig, ordering: OrderingBackend | None = None) -> None:
        self.config = config
        home = Path(config.home)
        genesis: Genesis = load_genesis((home / GENESIS_NAME).read_bytes())
        genesis_bytes = genesis.encode()
        self.genesis_hash = sha256(genesis_bytes)
        self.chain_id = genesis.chain_id
        self.block_interval_ms = config.block_interval_ms
        self.store = BlockStore(home / DB_NAME)
        self.metrics = NodeMetrics()
        self.ordering: OrderingBackend = ordering or LocalOrdering()
        self._lock = threading.Lock()
        # Held while a block rewrites the state tree, so proofs always match the tip's root.
        self._tree_lock = threading.Lock()
        self._pending_nonce: dict[str, int] = {}
        self._pending_count = 0
        self._pending_hashes: set[bytes] = set()
        self._listeners: list[Callable[[CommittedBlock], None]] = []
        self._commit_cond = threading.Condition()
        self._running = False
        self._thread: threading.Thread | None = None
        self._verifier: Verifier | None = None
        self.halted: str | None = None
        self.network_status: Callable[[], dict[str, Any]] | None = None
        """In a network, this node's place in it (shown by ``status``)."""
        self.final_height_of: Callable[[], int] | None = None
        """In a network, where the final height comes from (attestations); an embedded node's
        blocks are final once committed (its one organisation is the whole quorum)."""
        # One block at a time enters state, whether built here or imported.
        self._block_lock = threading.Lock()
        self._account_changed_at: dict[str, int] = {}
        """Accounts whose registry record changed while this node ran, and the height it last
        did: a transaction admitted after that needs no second look at its sender's key."""
        self.quotas = AdmissionQuotas()
        self._pruner: threading.Thread | None = None
        self._closing = threading.Event()
        self._pruned_to = 0
        self._open_chain(genesis, genesis_bytes)
        zone = genesis.time_zone or DEFAULT_ZONE
        # A genesis can hold a million accounts: keep only what the node needs from it.
        del genesis, genesis_bytes
        models = default_models(zone) if config.readmodels is None else config.readmodels
        self.readmodels = ReadModels(self.store, models)
        rebuilt = self.readmodels.open()
        if rebuilt:
            log.info("read models brought up to the tip", extra={"models": rebuilt})

    # start-up and recovery -----------------------------------------------------------------
    def _open_chain(self, genesis: Genesis, genesis_bytes: bytes) -> None:
        """Open the state on disk at the last committed block (reading none of it), writing
        genesis first on a new chain; a home from before the state moved to disk is converted
        once."""
        tip = self.store.tip_height()
        self.state = self._disk_state()
        if tip < 0:
            changes: dict[bytes, bytes | None] = dict(genesis_writes(genesis))
            root = self.state.backend.stage(changes)
            header = genesis_header(genesis, root)
            self.store.commit_block(
                0,
                header.hash(),
                header.encode(),
                "",
                [],
                changes,
                meta={
                    "genesis": genesis_bytes,
                    "chain_id": self.chain_id.encode(),
                    STATE_LAYOUT: LAYOUT_DISK,
                },
                also=lambda conn: self.disk.write(conn, 0, changes, force=True),
            )
            self.state.backend.commit(0, changes)
            tip = 0
            log.info("genesis written", extra={"chain_id": self.chain_id, "root": root.hex()})
        else:
            stored = self.store.get_meta("genesis")
            if stored != genesis_bytes:
                raise NodeError("genesis.json does not match the chain in this home")
            if self.store.get_meta(STATE_LAYOUT) != LAYOUT_DISK:
                self._convert_state(tip)
        self.state.log = layout.append_log(self.state.view)
        self.disk.log_prefixes = () if self.state.log is None else self.state.log.prefixes
        for prefix, field_name in layout.FIELD_INDEXES:
            self.disk.ensure_index(self.store.write_connection(), prefix, field_name)
        # the blocks after the last checkpoint: at most a checkpoint interval of them
        replayed = self.disk.replay(self.store.diffs(self.disk.checkpoint, tip))
        if replayed:
            log.info("state brought up to the tip", extra={"blocks": replayed})
        blk = self.store.block(tip)
        assert blk is not None
        self.tip = msgspec.json.decode(blk.header, type=BlockHeader)
        self.tip_hash = blk.hash
        if self.state.root.hex() != self.tip.state_root:
            raise NodeError(
                f"stored state does not match block {tip}'s state root; run 'gridledger verify'"
            )
        self.rules = chain.rules_at(self.state.view, tip + 1)
        self.quotas.update(chain.quotas(self.state.view))
        self.metrics.height.set(tip)
        log.info("chain opened", extra={"height": tip, "chain_id": self.chain_id})

    def _disk_state(self) -> State:
        cfg = self.config
        self.disk = DiskState(
            self.store.reader,
            cache_values=cfg.cache_values,
            cache_nodes=cfg.cache_nodes,
            checkpoint_every=cfg.checkpoint_every,
        )
        self.disk.diffs = self.store.diffs
        return State(disk=self.disk)

    def _convert_state(self, tip: int) -> None:
        """Write the state of a home whose state lived only in its diffs and snapshot (before
        it moved to disk) into the state tables, as of ``tip``, once."""
        values = self.store.load_state()
        changes: dict[bytes, bytes | None] = dict(sorted(values.items()))
        del values
        self.state.backend.stage(changes)
        conn = self.store.write_connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            self.disk.write(conn, tip, changes, force=True)
            conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(STATE_LAYOUT, LAYOUT_DISK), (STATE_FLOOR, str(tip).encode())],
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # a failed COMMIT (disk full) rolled back already
                conn.execute("ROLLBACK")
            self.state.discard_block()
            raise
        self.state.backend.commit(tip, changes)
        log.info("state moved to disk", extra={"height": tip, "keys": len(changes)})

    @property
    def max_tx_bytes(self) -> int:
        """The largest transaction the next block may carry (a chain rule)."""
        return self.rules.max_tx_bytes

    @property
    def block_max_txs(self) -> int:
        """Transactions per block this node cuts at: its own setting within the chain rule."""
        limit = self.rules.block_max_txs
        return min(self.config.block_max_txs or limit, limit)

    def rules_at(self, height: int) -> Rules:
        """The chain rules in force at ``height`` as committed state knows them (upgrades
        scheduled later may still change the rules of a future height)."""
        return chain.rules_at(self.state.view, height)

    # admission -------------------------------------------------------------------------------
    def _check_nonce(self, tx: Transaction) -> None:
        last = max(
            chain.nonce_of(self.state.view, tx.sender), self._pending_nonce.get(tx.sender, 0)
        )
        if tx.nonce <= last:
            raise NonceReplayed(f"nonce {tx.nonce} is not above the last nonce {last}")

    def _refuse_resubmission(self, tx_hash: bytes) -> None:
        """Tell a resent transaction (same hash) from a new one that reuses a nonce."""
        if tx_hash in self._pending_hashes or self.store.locate_tx(tx_hash) is not None:
            raise DuplicateTransaction(
                f"transaction {tx_hash.hex()} is already pending or committed"
            ) from None

    def _check_stateful(self, canonical_raw: bytes, tx_hash: bytes, rules: Rules) -> Prepared:
        """Sender, nonce and the kind's admission rule against committed state."""
        tx = decode_tx(canonical_raw)
        kind = get_kind(tx.kind)
        p = Prepared(tx, canonical_raw, tx_hash, kind, kind.parse_body(tx.body, rules))
        view = self.state.view
        try:
            acct = check_sender(view, tx, kind.roles)
            self._check_nonce(tx)
        except NonceReplayed:
            self._refuse_resubmission(tx_hash)
            raise
        now = max(self.config.clock(), self.tip.time)
        precheck(view, p, acct, self.tip.height + 1, now, rules)
        return p

    def submit(self, raw: bytes) -> bytes:
        """Admit one transaction; return its hash or raise the reason it was refused."""
        result = self.submit_many([raw])[0]
        if isinstance(result, GridLedgerError):
            raise result
        return result

    def submit_tx(self, tx: Transaction) -> bytes:
        return self.submit(tx.encode())

    def submit_many(self, raws: list[bytes]) -> list[bytes | GridLedgerError]:
        """Admit a batch: each entry is the hash of an admitted tx or the error that refused it.

        The stateless checks and signatures run in worker processes, slice by slice while the
        batch is still being read (see :mod:`gridledger.node.admission`); the stateful checks
        follow here, and the nonce is reserved only once the signature is known good, so a
        forged transaction can never take someone's nonce.
        """
        if self.halted:
            raise NodeHalted(f"the node halted and takes no transactions: {self.halted}")
        results: list[bytes | GridLedgerError | None] = [None] * len(raws)
        verifier = self._verifier or Verifier(0)
        inline = self._verifier is None or len(raws) < INLINE_BELOW
        view = self.state.view
        rules = self.rules
        positions: list[int] = []
        keys: list[bytes | None] = []
        waits = []
        items: list[tuple[bytes, bytes | None]] = []
        for i, raw in enumerate(raws):
            if len(raw) > rules.max_tx_bytes:
                results[i] = OversizeTransaction(
                    f"{len(raw)} bytes; this chain accepts at most {rules.max_tx_bytes}"
                )
                continue
            sender = claimed_sender(raw)
            acct = None if sender is None else registry.account_summary(view, sender)
            positions.append(i)
            keys.append(None if acct is None else acct.public_key)
            items.append((raw, keys[-1]))
            if len(items) == VERIFY_SLICE:
                waits.append(self._check_slice(verifier, rules, items, inline))
                items = []
        if items:
            waits.append(self._check_slice(verifier, rules, items, inline))
        checked = [c for wait in waits for c in wait()]
        passed: list[tuple[int, Prepared]] = []
        for i, public_key, c in zip(positions, keys, checked, strict=True):
            if len(c) == 2:
                results[i] = error_from(c[0], c[1])
                continue
            canonical_raw, tx_hash, sig_ok = c
            try:
                p = self._check_stateful(canonical_raw, tx_hash, rules)
            except GridLedgerError as exc:
                results[i] = exc
                continue
            if not sig_ok:
                results[i] = BadSignature()
                continue
            p.verified_key = public_key
            p.admitted_height = self.tip.height
            passed.append((i, p))
        admitted: list[Prepared] = []
        now = time.monotonic()
        with self._lock:
            for i, p in passed:
                if self._pending_count + len(admitted) >= self.config.max_pending:
                    results[i] = MempoolFull()
                    continue
                try:
                    try:
                        self._check_nonce(p.tx)
                    except NonceReplayed:
                        self._refuse_resubmission(p.hash)
                        raise
                    if self.quotas.active:
                        acct = registry.account_summary(view, p.tx.sender)
                        roles = () if acct is None else acct.roles
                        self.quotas.take(p.tx.sender, roles, len(p.raw), now)
                except InvalidTransaction as exc:
                    results[i] = exc
                    continue
                self._pending_nonce[p.tx.sender] = p.tx.nonce
                self._pending_hashes.add(p.hash)
                admitted.append(p)
                results[i] = p.hash
            self._pending_count += len(admitted)
            if admitted:
                self.ordering.submit(admitted)
        self.metrics.mempool.set(self._pending_count)
        self.metrics.admitted.inc(len(admitted))
        return [r for r in results if r is not None]

    def _check_slice(
        self,
        verifier: Verifier,
        rules: Rules,
        items: list[tuple[bytes, bytes | None]],
        inline: bool,
    ) -> Callable[[], list[Checked]]:
        if inline:
            done = check_chunk(self.chain_id, rules, items)
            return lambda: done
        return verifier.run(check_chunk, self.chain_id, rules, items)

    @property
    def pending(self) -> int:
        return self._pending_count

    def next_nonce(self, account: str) -> int:
        """The smallest nonce the account can use next (above committed and pending ones)."""
        with self._lock:
            return (
                max(chain.nonce_of(self.state.view, account), self._pending_nonce.get(account, 0))
                + 1
            )

    def still_pending(self, txs: list[Prepared]) -> list[Prepared]:
        """Those of ``txs`` no block has settled yet (to offer again after a lost position)."""
        with self._lock:
            return [p for p in txs if p.hash in self._pending_hashes]

    # block production ------------------------------------------------------------------------
    def start(self, produce: bool = True) -> None:
        """Start the signature workers and, unless a network runner proposes the blocks
        (``produce=False``), the block thread."""
        if self._running or self._verifier is not None:
            return
        self._verifier = Verifier(self.config.verify_workers)
        if self.config.tune_gc:
            tune_gc()
        if not produce:
            return
        self._running = True
        self._thread = threading.Thread(target=self._run, name="block-producer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        self.ordering.wake()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self._verifier is not None:
            self._verifier.close()
            self._verifier = None

    def close(self) -> None:
        self.stop()
        self._closing.set()
        if self._pruner is not None:
            self._pruner.join(timeout=30)
        self.store.close()

    def _run(self) -> None:
        interval = self.block_interval_ms / 1000
        while self._running:
            batch = self.ordering.next_batch(
                self.block_max_txs, interval, self.rules.block_max_bytes
            )
            if not batch:
                continue
            while self._running:
                try:
                    self.produce_block(batch)
                except sqlite3.OperationalError as exc:
                    if not _disk_full(exc):
                        self._halt(exc)
                        return
                    # Nothing was written (the block's transaction rolled back) and state is
                    # unchanged: wait for room and offer the same batch again.
                    if self.halted is None:
                        log.error(
                            "disk full: no block can be written; waiting for space",
                            extra={"height": self.tip.height + 1, "db": str(self.store.path)},
                        )
                    self.halted = (
                        f"{DISK_FULL}: block {self.tip.height + 1} could not be written to "
                        f"{self.store.path} ({exc}); the node resumes when there is room"
                    )
                    time.sleep(DISK_RETRY_S)
                    continue
                except Exception as exc:
                    self._halt(exc)
                    return
                if self.halted is not None and self.halted.startswith(DISK_FULL):
                    log.warning("disk has room again: producing blocks")
                    self.halted = None
                break

    def _halt(self, exc: Exception) -> None:
        # The block was not committed and state is unchanged. Stop producing so an operator
        # can look (an I/O error); the batch gets no receipts, so its senders (who wait for
        # receipts) know to submit again after a restart.
        self.halted = f"{type(exc).__name__}: {exc}"
        log.exception("block production halted", extra={"height": self.tip.height + 1})
        self._running = False

    # retention ---------------------------------------------------------------------------------
    def _prune_due(self) -> None:
        """On a pruned node, start a background pass when the kept window moved on enough."""
        keep = self.config.prune_keep
        if keep is None:
            return
        horizon = self.tip.height - keep + 1
        if horizon - self._pruned_to < max(keep // 4, PRUNE_EVERY):
            return
        if self._pruner is not None and self._pruner.is_alive():
            return
        self._pruner = threading.Thread(
            target=self.prune, args=(horizon,), name="state-pruner", daemon=True
        )
        self._pruner.start()

    def prune(self, horizon: int) -> int:
        """Remove state versions that no height ``>= horizon`` needs, in small transactions
        on a connection of its own (blocks keep committing between them); rows removed."""
        disk = self.disk
        conn = self.store.extra_connection()
        removed = 0
        try:
            while not self._closing.is_set():
                done = disk.prune(conn, horizon)
                removed += done
                if not done:
                    break
            for lo, hi in _path_chunks():
                if self._closing.is_set():
                    break
                removed += disk.prune_nodes(conn, horizon, lo, hi)
            else:
                self._pruned_to = horizon
        except sqlite3.Error:
            log.exception("state pruning stopped; it runs again after later blocks")
        finally:
            conn.close()
        log.info("state pruned", extra={"below": horizon, "rows": removed})
        return removed

    @overload
    def produce_block(self, batch: list[Prepared]) -> CommittedBlock: ...

    @overload
    def produce_block(
        self, batch: list[Prepared], publish: Callable[[Block, list[bytes]], bool]
    ) -> CommittedBlock | None: ...

    def produce_block(
        self,
        batch: list[Prepared],
        publish: Callable[[Block, list[bytes]], bool] | None = None,
    ) -> CommittedBlock | None:
        """Build the next block from ``batch`` and commit it durably.

        Transactions that no longer pass the block's checks (see
        :func:`~gridledger.node.transition.propose_block`) are left out and reported in
        :attr:`CommittedBlock.dropped`. In a network, ``publish`` offers the executed, signed
        block for ordering before anything is stored: when it returns False (another block
        took the height) the block is dropped, state is unchanged and None is returned; the
        batch stays pending for the caller to offer again.

        Raises:
            InvalidBlock: this node may not propose at this height (state is unchanged).
        """
        with self._block_lock:
            t0 = time.perf_counter()
            time_ms = max(self.config.clock(), self.tip.time)
            height = self.tip.height + 1
            rules = chain.rules_at(self.state.view, height)
            with self._tree_writing():
                proposal = propose_block(
                    self.state,
                    rules,
                    self.tip,
                    batch,
                    time_ms,
                    self.config.org,
                    self.config.node_key.sign,
                    self._verifier,
                    self._sender_unchanged,
                )
                if publish is not None:
                    try:
                        published = publish(proposal.block, [p.raw for p in proposal.txs])
                    except BaseException:
                        self.state.discard_block()
                        raise
                    if not published:
                        self.state.discard_block()
                        return None
                self._persist(proposal.block, proposal.txs, proposal.result)
            dropped = [(p.hash.hex(), err.code, err.message) for p, err in proposal.dropped]
            for tx_hash, code, message in dropped:
                log.warning(
                    "admitted transaction left out of the block",
                    extra={"tx": tx_hash, "code": code, "reason": message},
                )
            return self._committed(proposal.block, proposal.txs, batch, proposal.result, t0,
                                   dropped)  # fmt: skip

    def import_block(self, block: Block, raws: list[bytes] | None = None) -> CommittedBlock:
        """Import a block proposed elsewhere (a follower, or catch-up from a peer) through
        :func:`~gridledger.node.transition.apply_block`, and commit it.

        Raises:
            InvalidBlock: the block breaks a rule; nothing was stored and state is unchanged.
        """
        with self._block_lock:
            t0 = time.perf_counter()
            height = self.tip.height + 1
            rules = chain.rules_at(self.state.view, height)
            with self._tree_writing():
                prepared, result = apply_block(
                    self.state,
                    rules,
                    self.tip,
                    block,
                    now_ms=self.config.clock(),
                    verifier=self._verifier,
                    raws=raws,
                )
                self._persist(block, prepared, result)
            # Its transactions may be pending here too (sent to several nodes): forget them.
            mine = [p for p in prepared if p.hash in self._pending_hashes]
            return self._committed(block, prepared, mine, result, t0, [])

    def _sender_unchanged(self, p: Prepared) -> bool:
        """Whether ``p``'s sender's registry record is as it was when this node admitted it."""
        return (
            p.admitted_height >= 0
            and self._account_changed_at.get(p.tx.sender, -1) <= p.admitted_height
        )

    def _tree_writing(self) -> _TreeWriting:
        return _TreeWriting(self)

    def _persist(self, block: Block, txs: list[Prepared], result: BlockResult) -> None:
        """Write the block in one SQLite transaction and make its state the committed one."""
        header = block.header
        rows = [(p.hash, p.raw, rb) for p, rb in zip(txs, result.receipt_bytes, strict=True)]
        try:
            facts = BlockFacts(header.height, header.time, result.changes)
            fold = self.readmodels.folder(facts)

            def also(conn: sqlite3.Connection) -> None:
                self.state.write_block(conn, header.height)
                fold(conn)

            self.store.commit_block(
                header.height, header.hash(), header.encode(), block.signature, rows,
                result.changes, also=also,
            )  # fmt: skip
        except BaseException:
            self.state.discard_block()
            raise
        self.state.finish_block()
        for account in registry.changed_accounts(result.changes):
            self._account_changed_at[account] = header.height
        rules = chain.rules_at(self.state.view, header.height + 1)
        self.quotas.update(chain.quotas(self.state.view))
        with self._lock:  # still under the tree lock: a proof never sees a root without its tip
            self.tip = header
            self.tip_hash = header.hash()
            self.rules = rules

    def _committed(
        self,
        block: Block,
        txs: list[Prepared],
        settled: list[Prepared],
        result: BlockResult,
        t0: float,
        dropped: list[tuple[str, str, str]],
    ) -> CommittedBlock:
        """Advance the tip past a durable block, release the pending transactions it settled
        (included or dropped), and tell the listeners."""
        header = block.header
        block_hash = self.tip_hash
        with self._lock:
            self._pending_count -= len(settled)
            for p in settled:
                self._pending_hashes.discard(p.hash)
                sender = p.tx.sender
                if self._pending_nonce.get(sender, 0) <= p.tx.nonce:
                    self._pending_nonce.pop(sender, None)
        commit_ms = (time.perf_counter() - t0) * 1000
        self.metrics.block_committed(header.height, len(txs), commit_ms / 1000, self.pending)
        event = CommittedBlock(
            header.height,
            block_hash.hex(),
            header,
            [p.hash.hex() for p in txs],
            [r.status for r in result.receipts],
            commit_ms,
            result.receipts,
            dropped,
        )
        log.info(
            "block committed",
            extra={"height": header.height, "txs": len(txs), "commit_ms": round(commit_ms, 2)},
        )
        self._prune_due()
        with self._commit_cond:
            self._commit_cond.notify_all()
        for listener in self._listeners:  # replaced, never changed in place
            try:
                listener(event)
            except Exception:
                log.exception("block listener failed")
        return event

    # queries with proofs --------------------------------------------------------------------
    @property
    def final_height(self) -> int:
        """The highest block that is final: attested by the quorum in a consortium (followed
        by a network runner, or synced from peers with their attestations); the tip on a
        chain of one proposing organisation, whose signature is the whole quorum."""
        source = self.final_height_of
        if source is not None:
            return min(source(), self.tip.height)
        if len(self.rules.proposers) > 1:
            return min(self.store.final_height(), self.tip.height)
        return self.tip.height

    def block_final(self, height: int) -> bool:
        """Whether block ``height`` is final by its own evidence, as an outside verifier
        judges it (``docs/formats.md``, "Attestations and finality"): its proposer and the
        organisations whose attestations this node kept, more than two thirds of the
        proposers at its height. Genesis is final; a one-organisation chain's every block."""
        if height == 0:
            return True
        if height > self.tip.height:
            return False
        blk = self.store.block(height)
        if blk is None:
            return False
        header = msgspec.json.decode(blk.header, type=BlockHeader)
        atts = [a for raw in self.store.attestations(height)
                if (a := decode_attestation(raw)) is not None]  # fmt: skip
        return block_final(self.state.view, height, header.proposer, header.state_root, atts)

    def status(self) -> dict[str, Any]:
        tip = self.tip
        return {
            "final_height": self.final_height,
            "oldest_provable_height": self.oldest_retained(),
            "prune_keep": self.config.prune_keep,
            "chain_id": self.chain_id,
            "height": tip.height,
            "tip_hash": self.tip_hash.hex(),
            "tip_time": tip.time,
            "state_root": tip.state_root,
            "pending": self._pending_count,
            "org": self.config.org,
            "genesis_hash": self.genesis_hash.hex(),
            "halted": self.halted,
            "network": None if self.network_status is None else self.network_status(),
        }

    def prove_state(
        self, key: bytes, height: int | None = None
    ) -> tuple[BlockHeader, bytes | None, StateProof]:
        """The value of ``key`` (or ``None``) with its proof against the tip header, or as of
        a retained ``height`` against that height's header.

        Raises:
            HeightNotRetained: ``height`` is above the tip or below what this node keeps.
        """
        if height is None or height == self.tip.height:
            with self._tree_lock:
                header = self.tip
                value, proof = self.state.prove(key)
            return header, value, proof
        oldest = self.oldest_retained()
        if height < oldest or height > self.tip.height:
            raise HeightNotRetained(
                f"height {height} is not kept here: this node proves heights {oldest} to "
                f"{self.tip.height}"
                + (
                    ""
                    if self.config.prune_keep is None
                    else f" (it keeps the last {self.config.prune_keep})"
                )
            )
        blk = self.store.block(height)
        if blk is None:
            raise HeightNotRetained(f"block {height} is not stored")
        header = msgspec.json.decode(blk.header, type=BlockHeader)
        with self.store.read_snapshot():
            value, proof = self.state.prove(key, height)
        return header, value, proof

    def in_log(self, key: bytes) -> bool:
        """Whether ``key`` is kept in the append-only readings log (not a tree leaf)."""
        log = self.state.log
        return log is not None and log.holds(key)

    def prove_log_entry(
        self, key: bytes, height: int | None = None
    ) -> tuple[BlockHeader, bytes, LogProof, bytes, bytes, StateProof]:
        """A key of the readings log with its proof: its block's log audit path and the state
        proof of that block's seal against the tip header (or a retained ``height``'s).

        Returns ``(header, value, log proof, seal key, seal, seal's state proof)``.

        Raises:
            NotFound: the log holds no such key (as of ``height``); the log proves what it
                holds, never what it lacks.
            HeightNotRetained: ``height`` is not kept.
        """
        log = self.state.log
        assert log is not None
        created = self.disk.created_at(key)
        if created is None or (height is not None and created > height):
            raise NotFound(f"the readings log holds no {key.decode(errors='replace')!r}")
        seal_key = log.seal_key(created)
        header, seal, seal_proof = self.prove_state(seal_key, height)
        if seal is None:
            raise NotFound(f"block {created} has no seal as of height {header.height}")
        entries = [
            (k, v)
            for k, v in self.store.state_changes(created).items()
            if v is not None and log.holds(k)
        ]
        proof = log_proof(entries, key, created)
        return header, entries[proof.index][1], proof, seal_key, seal, seal_proof

    def oldest_retained(self) -> int:
        """The lowest height whose state this node can still prove (0 for an archive node)."""
        keep = self.config.prune_keep
        floor = max(int(self.store.get_meta(STATE_FLOOR) or b"0"), self.disk.horizon())
        if keep is None:
            return floor
        return max(floor, self.tip.height - keep + 1, 0)

    def prove_tx(self, tx_hash: bytes) -> tuple[StoredBlock, int, list[bytes]] | None:
        """The block holding ``tx_hash``, its index, and the RFC 6962 audit path to tx_root."""
        loc = self.store.locate_tx(tx_hash)
        if loc is None:
            return None
        blk = self.store.block(loc[0])
        if blk is None:
            return None
        leaves = [merkle.leaf_hash(t.raw) for t in blk.txs()]
        return blk, loc[1], merkle.inclusion_proof(leaves, loc[1])

    # listening and waiting ---------------------------------------------------------------------
    def add_listener(self, fn: Callable[[CommittedBlock], None]) -> None:
        """Call ``fn`` on the block thread after each commit; keep it quick (hand work off)."""
        with self._lock:
            self._listeners = [*self._listeners, fn]

    def remove_listener(self, fn: Callable[[CommittedBlock], None]) -> None:
        with self._lock:
            self._listeners = [f for f in self._listeners if f != fn]

    def wait_for_height(self, height: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._commit_cond:
            while self.tip.height < height:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._commit_cond.wait(left)
        return True

    def wait_receipt(self, tx_hash: bytes, timeout: float) -> Any:
        """The stored transaction with its receipt, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            stored = self.store.tx(tx_hash)
            if stored is not None:
                return stored
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            with self._commit_cond:
                self._commit_cond.wait(min(left, 0.5))


PRUNE_EVERY = 16
"""A pruned node prunes when its kept window moved on by this many heights (or a quarter of it)."""


def _disk_full(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code == 13 or "full" in str(exc).lower()  # SQLITE_FULL


def _path_chunks() -> list[tuple[bytes, bytes | None]]:
    """Tree paths in 257 ranges (the root, then by their first two nibbles), so one pruning
    transaction holds the write lock only briefly."""
    out: list[tuple[bytes, bytes | None]] = [(b"", b"\x00")]
    for a in range(16):
        for b in range(16):
            lo = bytes((a,)) if b == 0 else bytes((a, b))
            hi = bytes((a, b + 1)) if b < 15 else (bytes((a + 1,)) if a < 15 else None)
            out.append((lo, hi))
    return out
