"""The key-value state that contracts read and write, with nested rollback.

Three layers: the committed state (after the last block), the block's pending changes, and the
current transaction's changes. A failing transaction drops its layer; a finished block hands its
changes to the tree (for the root) and to the store (for disk) in sorted key order.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from functools import cache
from itertools import islice
from typing import Any, TypeVar

import msgspec
from sortedcontainers import SortedList

from gridledger.core.encoding import canonical, decode_json
from gridledger.state.tree import SparseMerkleTree

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

    def under(self, layer: dict[bytes, bytes | None], prefix: bytes) -> Iterator[bytes]:
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
        for i in range(bisect_left(keys, prefix), len(keys)):
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


class State(StateWriter):
    """In-memory state with a block layer and a transaction layer over the committed values."""

    def __init__(self, committed: dict[bytes, bytes] | None = None) -> None:
        self.committed: dict[bytes, bytes] = committed if committed is not None else {}
        self._block: dict[bytes, bytes | None] = {}
        self._tx: dict[bytes, bytes | None] | None = None
        self._block_keys = _LayerKeys()
        self._tx_keys = _LayerKeys()
        self.tree = SparseMerkleTree.from_items(self.committed.items())
        self._tree_changed = False
        """Whether the tree holds the block layer's changes (see :meth:`discard_block`)."""
        self.index = KeyIndex(self.committed)
        self.view = CommittedView(self.committed, self.index)

    # reading and writing -------------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        if self._tx is not None and key in self._tx:
            return self._tx[key]
        if key in self._block:
            return self._block[key]
        return self.committed.get(key)

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
        return _overlay(self.view.scan_range(prefix), written)

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

    def compute_root(self) -> bytes:
        """Fold the block's changes into the tree and return the new state root.

        The committed dict is not touched until :meth:`finish_block`, so a failed commit can be
        undone with :meth:`discard_block` (the tree is rebuilt from the committed values).
        """
        self._tree_changed = True
        return self.tree.update(self._block)

    def finish_block(self) -> None:
        committed = self.committed
        added: list[bytes] = []
        removed: list[bytes] = []
        for k, v in self._block.items():
            if v is None:
                if committed.pop(k, None) is not None:
                    removed.append(k)
            else:
                if k not in committed:
                    added.append(k)
                committed[k] = v
        if added or removed:
            self.index.update(added, removed)
        self._block = {}
        self._tree_changed = False

    def discard_block(self) -> None:
        """Forget the block's changes (a failed commit, or a block refused after execution).

        If the tree took the changes already, the committed values of the same keys are put
        back: the root depends only on the set of pairs, so it returns to the committed root
        at the cost of the block's own update, not of a rebuild.
        """
        touched = self._block
        self._block = {}
        self._tx = None
        if self._tree_changed:
            committed = self.committed
            self.tree.update({k: committed.get(k) for k in touched})
            self._tree_changed = False

    @property
    def root(self) -> bytes:
        return self.tree.root
