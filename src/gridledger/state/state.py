"""The key-value state that contracts read and write, with nested rollback.

Three layers: the committed state (after the last block), the block's pending changes, and the
current transaction's changes. A failing transaction drops its layer; a finished block hands its
changes to the tree (for the root) and to the store (for disk) in sorted key order.
"""

from __future__ import annotations

import heapq
import threading
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from itertools import islice
from typing import Any, TypeVar

import msgspec
from sortedcontainers import SortedList

from gridledger.core import merkle
from gridledger.core.encoding import canonical, decode_json
from gridledger.state.disk import DiskState, field_of
from gridledger.state.tree import SparseMerkleTree, StateProof

_DELETED = None

R = TypeVar("R", bound=msgspec.Struct)


@cache
def _decoder(record_type: type[R]) -> msgspec.json.Decoder[R]:
    return msgspec.json.Decoder(record_type)


def decode_record(raw: bytes, record_type: type[R]) -> R:
    """A stored record's bytes as its typed struct (raises ``msgspec.DecodeError`` if the bytes
    are not one)."""
    record: R = _decoder(record_type).decode(raw)
    return record


class StateReader:
    """Read access shared by the live state and the committed-only view."""

    def get(self, key: bytes) -> bytes | None:
        raise NotImplementedError

    def prefetch(self, keys: Iterable[bytes]) -> None:
        """A hint that ``keys`` are about to be read: a state on disk reads them in one go
        (many keys a block is likely to find absent, such as new readings)."""

    def get_json(self, key: bytes) -> Any:
        raw = self.get(key)
        return None if raw is None else decode_json(raw)

    def get_record(self, key: bytes, record_type: type[R]) -> R | None:
        """The typed record stored under ``key``, or ``None``."""
        raw = self.get(key)
        return None if raw is None else decode_record(raw, record_type)

    def get_int(self, key: bytes) -> int:
        raw = self.get(key)
        return 0 if raw is None else int(raw)

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Current (key, value) pairs under ``prefix`` in sorted key order (queries only)."""
        raise NotImplementedError

    def scan_where(
        self, prefix: bytes, field: str, value: str, start: bytes = b"", limit: int | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Pairs under ``prefix`` (rest of key from ``start``) whose JSON record has ``field``
        equal to ``value``, sorted, at most ``limit``. A state on disk answers through an index
        when one is kept for ``(prefix, field)`` (:data:`gridledger.contracts.layout.
        FIELD_INDEXES`), never by reading the other records."""
        found = ((k, v) for k, v in self.scan_range(prefix, start) if field_of(v, field) == value)
        return islice(found, limit)

    def scan_range(
        self,
        prefix: bytes,
        start: bytes = b"",
        end: bytes | None = None,
        limit: int | None = None,
        *,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Pairs under ``prefix`` whose rest of key is in ``[start, end)``, sorted (last first
        when ``reverse``), at most ``limit``."""
        pairs: Iterable[tuple[bytes, bytes]] = (
            (k, v)
            for k, v in self.scan(prefix)
            if k[len(prefix) :] >= start and (end is None or k[len(prefix) :] < end)
        )
        if reverse:
            pairs = list(pairs)[::-1]
        return islice(pairs, limit)


class KeyIndex:
    """The committed keys in sorted order, so a prefix scan costs O(log n + matches).

    Queries (readings of a meter over a period, accounts of an organisation) scan by prefix;
    a lock keeps a scan and a block's updates from interleaving.
    """

    def __init__(self, keys: Iterable[bytes]) -> None:
        self._keys = SortedList(keys)
        self._lock = threading.Lock()

    def update(self, added: list[bytes], removed: list[bytes]) -> None:
        with self._lock:
            for k in removed:
                self._keys.discard(k)
            for k in added:
                self._keys.add(k)

    def range(
        self,
        prefix: bytes,
        start: bytes = b"",
        end: bytes | None = None,
        limit: int | None = None,
        *,
        reverse: bool = False,
    ) -> list[bytes]:
        """Keys under ``prefix`` from ``prefix + start`` up to (excluding) ``prefix + end``,
        at most ``limit`` of them (a page costs its own size, not the whole range's);
        ``reverse`` gives the last ones first (the latest readings of a meter)."""
        upper = prefix + end if end is not None else prefix + b"\xff" * 8
        with self._lock:
            keys = self._keys.irange(
                prefix + start, upper, inclusive=(True, False), reverse=reverse
            )
            return list(islice(keys, limit))


class _LayerKeys:
    """The keys of a write layer in sorted order, for prefix scans during execution.

    A layer only ever gains keys (a deletion is stored as a ``None`` value) and a dict keeps
    its keys in the order they were first written, so the keys written since the last scan are
    the layer's last ones: a scan after new writes sorts only those and merges them into the
    sorted list, then searches it. The merged list is a new one, so a scan still being read
    never sees keys move under it.
    """

    def __init__(self) -> None:
        self._layer: dict[bytes, bytes | None] | None = None
        self._size = 0
        self._keys: list[bytes] = []

    def under(
        self, layer: dict[bytes, bytes | None], prefix: bytes, start: bytes | None = None
    ) -> Iterator[bytes]:
        """The layer's keys under ``prefix`` (from ``start``, a key under it, when given), in
        order."""
        size = len(layer)
        if layer is not self._layer or size < self._size:
            self._keys = sorted(layer)
            self._layer = layer
        elif size > self._size:
            fresh = sorted(islice(layer, self._size, None))
            if len(fresh) * 16 < len(self._keys):
                merged = self._keys.copy()
                for key in fresh:
                    insort(merged, key)
            else:  # two sorted runs: the sort merges them in one pass
                merged = self._keys + fresh
                merged.sort()
            self._keys = merged
        self._size = size
        keys = self._keys
        for i in range(bisect_left(keys, prefix if start is None else start), len(keys)):
            if not keys[i].startswith(prefix):
                return
            yield keys[i]


def _overlay(
    base: Iterator[tuple[bytes, bytes]], written: dict[bytes, bytes | None]
) -> Iterator[tuple[bytes, bytes]]:
    """Sorted pairs of ``base`` with ``written`` laid over them (``None`` deletes); when
    nothing under the prefix was written, ``base`` as it is."""
    if not written:
        return base
    merged: dict[bytes, bytes | None] = dict(base)
    merged.update(written)
    return ((k, v) for k in sorted(merged) if (v := merged[k]) is not None)


class CommittedView(StateReader):
    """The state as of the last committed block, safe to read while a block executes."""

    def __init__(self, committed: dict[bytes, bytes], index: KeyIndex | None = None) -> None:
        self._committed = committed
        self._index = index

    def get(self, key: bytes) -> bytes | None:
        return self._committed.get(key)

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return self.scan_range(prefix)

    def scan_range(
        self,
        prefix: bytes,
        start: bytes = b"",
        end: bytes | None = None,
        limit: int | None = None,
        *,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Committed pairs under ``prefix`` whose rest of key is in ``[start, end)``, sorted
        (last first when ``reverse``); with the key index a page costs its own size."""
        if self._index is None:
            upper = prefix + end if end is not None else None
            keys = sorted(
                (
                    k
                    for k in list(self._committed)
                    if k.startswith(prefix) and k >= prefix + start and (upper is None or k < upper)
                ),
                reverse=reverse,
            )
        else:
            keys = self._index.range(prefix, start, end, limit, reverse=reverse)
        for k in keys[:limit] if limit is not None else keys:
            v = self._committed.get(k)
            if v is not None:
                yield k, v


class StateWriter(StateReader):
    """What contracts use: reads plus writes (``set``/``delete``) and typed helpers."""

    def set(self, key: bytes, value: bytes) -> None:
        raise NotImplementedError

    def delete(self, key: bytes) -> None:
        raise NotImplementedError

    def set_json(self, key: bytes, value: Any) -> None:
        self.set(key, canonical(value))

    def set_int(self, key: bytes, value: int) -> None:
        self.set(key, str(value).encode())

    def put(self, key: bytes, record: msgspec.Struct) -> None:
        """Store a typed record in its canonical form."""
        self.set(key, canonical(record))


class Scratch(StateWriter):
    """Writes kept aside over a read-only base: for dry runs at admission, thrown away after."""

    def __init__(self, base: StateReader) -> None:
        self._base = base
        self._layer: dict[bytes, bytes | None] = {}
        self._layer_keys = _LayerKeys()

    def get(self, key: bytes) -> bytes | None:
        if key in self._layer:
            return self._layer[key]
        return self._base.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        self._layer[key] = value

    def delete(self, key: bytes) -> None:
        self._layer[key] = None

    def writes(self) -> dict[bytes, bytes | None]:
        """Everything written so far (``None`` for deletions)."""
        return self._layer

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        written = {k: self._layer[k] for k in self._layer_keys.under(self._layer, prefix)}
        return _overlay(self._base.scan(prefix), written)


@dataclass(frozen=True)
class AppendLog:
    """Keys kept out of the state tree, committed block by block instead (the readings log).

    A key under one of ``prefixes`` is written once and never changed or deleted. Instead of a
    leaf per key, each block that appends such keys gets one state entry under
    ``seal_key(height)``: the count and RFC 6962 root of the block's entries in key order
    (``entry`` gives an entry's bytes). The values stay readable like any other (``get``,
    scans) and a key's proof is its audit path in its block's log plus the state proof of that
    block's seal (``docs/formats.md`` §5a).
    """

    prefixes: tuple[bytes, ...]
    seal_key: Callable[[int], bytes]

    def holds(self, key: bytes) -> bool:
        return key.startswith(self.prefixes)


def log_entry(key: bytes, value: bytes) -> bytes:
    """A log entry's bytes: the key's length (2 bytes, big-endian), the key, the value."""
    return len(key).to_bytes(2, "big") + key + value


def log_seal(entries: list[tuple[bytes, bytes]]) -> bytes:
    """The seal of a block's entries (in key order): canonical ``{"count", "root"}``."""
    hashes = [merkle.leaf_hash(log_entry(k, v)) for k, v in entries]
    root = merkle.root_from_leaf_hashes(hashes)
    return canonical({"count": len(entries), "root": root.hex()})


class LogProof(msgspec.Struct, frozen=True):
    """Where a log entry sits: its block, its index among the block's entries, their count,
    and the audit path (RFC 6962) from the entry to the block's log root."""

    height: int
    index: int
    count: int
    audit_path: list[str]


def log_proof(entries: list[tuple[bytes, bytes]], key: bytes, height: int) -> LogProof:
    """The proof of ``key`` among a block's log ``entries`` (in key order)."""
    keys = [k for k, _ in entries]
    index = bisect_left(keys, key)
    if index == len(keys) or keys[index] != key:
        raise KeyError(key)
    hashes = [merkle.leaf_hash(log_entry(k, v)) for k, v in entries]
    path = merkle.inclusion_proof(hashes, index)
    return LogProof(height, index, len(entries), [h.hex() for h in path])


class MemoryCommitted:
    """Committed state held in memory: a dict, its tree and a sorted key index (genesis
    building, dry runs and tests; a node keeps its state on disk, :mod:`.disk`)."""

    def __init__(self, committed: dict[bytes, bytes]) -> None:
        self.values = committed
        self.tree = SparseMerkleTree.from_items(committed.items())
        self.index = KeyIndex(committed)
        self.view = CommittedView(committed, self.index)

    def get(self, key: bytes) -> bytes | None:
        return self.values.get(key)

    def scan_range(
        self,
        prefix: bytes,
        start: bytes = b"",
        end: bytes | None = None,
        limit: int | None = None,
        *,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        return self.view.scan_range(prefix, start, end, limit, reverse=reverse)

    @property
    def root(self) -> bytes:
        return self.tree.root

    def stage(self, changes: Mapping[bytes, bytes | None]) -> bytes:
        return self.tree.update(changes)

    def commit(self, height: int, changes: Mapping[bytes, bytes | None]) -> None:  # noqa: ARG002
        committed = self.values
        added: list[bytes] = []
        removed: list[bytes] = []
        for k, v in changes.items():
            if v is None:
                if committed.pop(k, None) is not None:
                    removed.append(k)
            else:
                if k not in committed:
                    added.append(k)
                committed[k] = v
        if added or removed:
            self.index.update(added, removed)

    def discard_staged(self, changes: Mapping[bytes, bytes | None]) -> None:
        # The root depends only on the set of pairs: putting the committed values of the same
        # keys back returns it to the committed root at the cost of the block's own update.
        committed = self.values
        self.tree.update({k: committed.get(k) for k in changes})

    def prove(self, key: bytes, height: int | None = None) -> tuple[bytes | None, StateProof]:
        if height is not None:
            raise ValueError("an in-memory state keeps only its last block")
        return self.values.get(key), self.tree.prove(key)


class DiskView(StateReader):
    """The committed state on disk, for queries on any thread: each scan is one statement, so
    it sees one committed block."""

    def __init__(self, disk: DiskState) -> None:
        self._disk = disk

    def get(self, key: bytes) -> bytes | None:
        return self._disk.get(key)

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return self._disk.scan_range(prefix)

    def scan_range(
        self,
        prefix: bytes,
        start: bytes = b"",
        end: bytes | None = None,
        limit: int | None = None,
        *,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        return self._disk.scan_range(prefix, start, end, limit, reverse=reverse)

    def count(self, prefix: bytes) -> int:
        return self._disk.count(prefix)

    def scan_where(
        self, prefix: bytes, field: str, value: str, start: bytes = b"", limit: int | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        if (prefix, field) in self._disk.field_indexes:
            return self._disk.scan_where(prefix, field, value, start, limit)
        return super().scan_where(prefix, field, value, start, limit)


class _CommittedMapping(Mapping[bytes, bytes]):
    """The committed values as a read-only mapping (streams from disk for a disk state)."""

    def __init__(self, backend: MemoryCommitted | DiskState) -> None:
        self._backend = backend

    def __getitem__(self, key: bytes) -> bytes:
        value = self._backend.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[bytes]:
        return (k for k, _ in self._backend.scan_range(b""))

    def __len__(self) -> int:
        b = self._backend
        return len(b.values) if isinstance(b, MemoryCommitted) else b.count()


class State(StateWriter):
    """A block layer and a transaction layer over the committed state (in memory, or on disk
    for a node: ``State(disk=...)``)."""

    def __init__(
        self, committed: dict[bytes, bytes] | None = None, *, disk: DiskState | None = None
    ) -> None:
        self.backend: MemoryCommitted | DiskState
        self.view: StateReader
        if disk is not None:
            self.backend, self.view = disk, DiskView(disk)
        else:
            memory = MemoryCommitted({} if committed is None else committed)
            self.backend, self.view = memory, memory.view
        self._block: dict[bytes, bytes | None] = {}
        self._tx: dict[bytes, bytes | None] | None = None
        self._block_keys = _LayerKeys()
        self._tx_keys = _LayerKeys()
        self._staged = False
        """Whether the tree holds the block layer's changes (see :meth:`discard_block`)."""
        self._height = -1
        """The height of the block being built (set when it is sealed or written)."""
        self._split: tuple[Mapping[bytes, bytes | None], Mapping[bytes, bytes]] | None = None
        """The block's tree changes and log entries, once :meth:`seal_log` set them apart."""
        self.log: AppendLog | None = None
        """The keys kept in the append-only log instead of the tree (set from the chain's
        layout before a block runs; ``None``: every key is a leaf)."""

    @property
    def committed(self) -> Mapping[bytes, bytes]:
        """The committed values (a plain dict for an in-memory state)."""
        b = self.backend
        return b.values if isinstance(b, MemoryCommitted) else _CommittedMapping(b)

    # reading and writing -------------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        if self._tx is not None and key in self._tx:
            return self._tx[key]
        if key in self._block:
            return self._block[key]
        return self.backend.get(key)

    def prefetch(self, keys: Iterable[bytes]) -> None:
        backend = self.backend
        if isinstance(backend, DiskState):
            tx, block = self._tx or {}, self._block
            backend.prefetch([k for k in keys if k not in tx and k not in block])

    def set(self, key: bytes, value: bytes) -> None:
        layer = self._tx if self._tx is not None else self._block
        layer[key] = value

    def delete(self, key: bytes) -> None:
        layer = self._tx if self._tx is not None else self._block
        layer[key] = _DELETED

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        written: dict[bytes, bytes | None] = {}
        for layer, keys in ((self._block, self._block_keys), (self._tx, self._tx_keys)):
            if layer:
                written.update({k: layer[k] for k in keys.under(layer, prefix)})
        return _overlay(self.backend.scan_range(prefix), written)

    def scan_range(
        self,
        prefix: bytes,
        start: bytes = b"",
        end: bytes | None = None,
        limit: int | None = None,
        *,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Pairs under ``prefix`` whose rest of key is in ``[start, end)``, sorted (last first
        when ``reverse``), at most ``limit``. Forward, the layers and the committed state are
        merged lazily and the committed state is read a page at a time, so the first pairs of
        a long range (the best orders of a book) cost about what they hold, not the range."""
        if reverse:
            return super().scan_range(prefix, start, end, limit, reverse=True)
        return islice(self._forward(prefix, start, end), limit)

    def _forward(
        self, prefix: bytes, start: bytes, end: bytes | None
    ) -> Iterator[tuple[bytes, bytes]]:
        lo, hi = prefix + start, None if end is None else prefix + end
        tx = self._tx
        block = self._block
        runs = [
            keys.under(layer, prefix, lo)
            for layer, keys in ((block, self._block_keys), (tx, self._tx_keys))
            if layer
        ]
        written = heapq.merge(*runs)
        committed = self._committed_pages(prefix, start, end)
        w, c = next(written, None), next(committed, None)
        if w is not None and hi is not None and w >= hi:
            w = None
        while w is not None or c is not None:
            if w is not None and (c is None or w <= c[0]):
                if c is not None and w == c[0]:
                    c = next(committed, None)
                value = tx[w] if tx is not None and w in tx else block[w]
                if value is not None:
                    yield w, value
                following = next(written, None)
                while following is not None and following == w:  # in both layers
                    following = next(written, None)
                w = following if following is None or hi is None or following < hi else None
            else:
                assert c is not None
                yield c
                c = next(committed, None)

    def _committed_pages(
        self, prefix: bytes, start: bytes, end: bytes | None
    ) -> Iterator[tuple[bytes, bytes]]:
        page_size = 16
        while True:
            page = list(self.backend.scan_range(prefix, start, end, page_size))
            yield from page
            if len(page) < page_size:
                return
            start = page[-1][0][len(prefix) :] + b"\x00"
            page_size = min(page_size * 4, 4096)

    # transactions within a block -------------------------------------------------------------
    def begin(self) -> None:
        self._tx = {}

    def commit_tx(self) -> None:
        assert self._tx is not None
        self._block.update(self._tx)
        self._tx = None

    def rollback_tx(self) -> None:
        self._tx = None

    # blocks ----------------------------------------------------------------------------------
    def block_changes(self) -> dict[bytes, bytes | None]:
        """The block's net changes, in sorted key order (deterministic for storage)."""
        return {k: self._block[k] for k in sorted(self._block)}

    def seal_log(self, height: int) -> None:
        """Set the block's log entries apart and write their seal (if the block appended any)
        as a state entry; without a log every change goes to the tree.

        Raises:
            ValueError: a log key was deleted (contracts only ever append; a second write of
                a key already in the log fails when the block is written).
        """
        log = self.log
        block = self._block
        self._height = height
        if log is None:
            self._split = (block, {})
            return
        prefixes = log.prefixes
        kept: dict[bytes, bytes | None] = {}
        appended: dict[bytes, bytes] = {}
        for k in sorted(block):
            v = block[k]
            if k.startswith(prefixes):
                if v is None:
                    raise ValueError(f"log key {k!r} was deleted: log entries are only appended")
                appended[k] = v
            else:
                kept[k] = v
        if appended:
            seal = log.seal_key(height)
            block[seal] = kept[seal] = log_seal(list(appended.items()))
        self._split = (kept, appended)

    def _tree_changes(self) -> Mapping[bytes, bytes | None]:
        if self._split is None:
            return self._block
        return self._split[0]

    def compute_root(self) -> bytes:
        """Fold the block's changes (but its log entries, see :meth:`seal_log`) into the tree
        and return the new state root.

        The committed values are not touched until :meth:`finish_block`, so a failed commit
        can be undone with :meth:`discard_block`.
        """
        self._staged = True
        return self.backend.stage(self._tree_changes())

    def write_block(self, conn: Any, height: int) -> None:
        """Write the block's state (values, undo rows, tree nodes) in the block's SQLite
        transaction (a disk state; an in-memory one has nothing to write)."""
        self._height = height
        if isinstance(self.backend, DiskState):
            disk = self.backend
            log = self.log
            disk.log_prefixes = () if log is None else log.prefixes
            if self._split is None:
                disk.write(conn, height, self.block_changes())
                return
            kept, appended = self._split
            disk.write(conn, height, kept, appended)

    def finish_block(self) -> None:
        self.backend.commit(self._height, self._block)
        self._block = {}
        self._split = None
        self._staged = False

    def discard_block(self) -> None:
        """Forget the block's changes (a failed commit, or a block refused after execution)."""
        touched = self._tree_changes()
        self._block = {}
        self._split = None
        self._tx = None
        if self._staged:
            self.backend.discard_staged(touched)
            self._staged = False

    @property
    def root(self) -> bytes:
        return self.backend.root

    def prove(self, key: bytes, height: int | None = None) -> tuple[bytes | None, StateProof]:
        """The committed value of ``key`` and its proof (``height``: as of a retained height)."""
        return self.backend.prove(key, height)

    @property
    def tree(self) -> SparseMerkleTree:
        """The in-memory tree of an in-memory state."""
        assert isinstance(self.backend, MemoryCommitted)
        return self.backend.tree

    @property
    def index(self) -> KeyIndex:
        assert isinstance(self.backend, MemoryCommitted)
        return self.backend.index
