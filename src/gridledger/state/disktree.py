"""The state commitment kept on disk: the tree of ``tree.py``, node by node in SQLite.

Written by hand, like ``tree.py`` (no maintained Python library keeps an incremental,
versioned sparse Merkle tree on disk). The tree and its hashes are exactly those of
:mod:`gridledger.state.tree` (same root for the same pairs, same proofs); only where the nodes
live differs:

* an internal node is one row of ``tree_nodes``, keyed by its **nibble path** from the root
  (one byte per nibble, the root's path is empty) and the **height** of the block that wrote
  it. A block that changes a node writes a new row; the old one stays for proofs at older
  heights until pruning. A node that disappears (a subtree collapsed into a leaf, or emptied)
  gets a row with a ``NULL`` body. The node at a path as of height ``H`` is the row with the
  greatest height ``<= H``;
* a leaf is not a row: its parent holds its key and leaf hash (only a tree of one key has a
  leaf at the root, stored as the root row);
* a node's body: kind byte ``N``, a 16-bit mask of present children, a 16-bit mask of those
  that are leaves, the present children's 32-byte hashes in nibble order, then each leaf
  child's key (16-bit length + bytes). A root leaf: ``L``, its hash, its key.

Decoded nodes live in a bounded cache. A block's changes are computed against the committed
tree and held as **pending**; a committed block's nodes become **dirty** (:meth:`DiskTree.
commit`): committed but not written yet. The state writes every dirty node at its next
checkpoint (:meth:`DiskTree.rows`, then :meth:`DiskTree.flush`), so a node changed by many
blocks between two checkpoints is written once. A block that is not committed is dropped
(:meth:`DiskTree.discard`).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from typing import Union

from gridledger.state.tree import EMPTY, StateProof

_sha = hashlib.sha256

TREE_SCHEMA = """
CREATE TABLE IF NOT EXISTS tree_nodes (
    path BLOB NOT NULL,
    height INTEGER NOT NULL,
    body BLOB,
    PRIMARY KEY (path, height)
) WITHOUT ROWID;
"""


class TreeCorrupt(Exception):
    """A stored node does not decode, or the tree's rows contradict each other."""


class Leaf:
    __slots__ = ("hash", "key", "path")

    def __init__(self, path: bytes, key: bytes, leaf_hash: bytes) -> None:
        self.path = path
        self.key = key
        self.hash = leaf_hash


class Node:
    """An internal node: 16 child hashes (``None`` when empty), the leaf children's keys."""

    __slots__ = ("hash", "hashes", "leaves")

    def __init__(
        self, hashes: list[bytes | None], leaves: dict[int, bytes], node_hash: bytes | None
    ) -> None:
        self.hashes = hashes
        self.leaves = leaves
        self.hash = node_hash

    def copy(self) -> Node:
        return Node(self.hashes.copy(), self.leaves.copy(), None)

    def rehash(self) -> bytes:
        h = _sha(b"\x01" + b"".join([c or EMPTY for c in self.hashes])).digest()
        self.hash = h
        return h


Sub = Union[Node, Leaf, None]  # noqa: UP007 (a runtime alias)


def nibble(path: bytes, depth: int) -> int:
    byte = path[depth >> 1]
    return byte >> 4 if depth & 1 == 0 else byte & 0x0F


def encode(sub: Node | Leaf) -> bytes:
    if type(sub) is Leaf:
        return b"L" + sub.hash + sub.key
    assert type(sub) is Node
    present = 0
    leafmask = 0
    hashes = []
    for n, h in enumerate(sub.hashes):
        if h is not None:
            present |= 1 << n
            hashes.append(h)
    tail = []
    for n in sorted(sub.leaves):
        leafmask |= 1 << n
        key = sub.leaves[n]
        tail.append(len(key).to_bytes(2, "big") + key)
    return (
        b"N" + present.to_bytes(2, "big") + leafmask.to_bytes(2, "big") + b"".join(hashes)
    ) + b"".join(tail)


def decode(body: bytes) -> Node | Leaf:
    try:
        if body[:1] == b"L":
            key = body[33:]
            if len(body) < 33:
                raise ValueError("short leaf")
            return Leaf(_sha(key).digest(), key, body[1:33])
        if body[:1] != b"N":
            raise ValueError("unknown node kind")
        present = int.from_bytes(body[1:3], "big")
        leafmask = int.from_bytes(body[3:5], "big")
        hashes: list[bytes | None] = [None] * 16
        pos = 5
        for n in range(16):
            if present >> n & 1:
                h = body[pos : pos + 32]
                if len(h) != 32:
                    raise ValueError("short hash")
                hashes[n] = h
                pos += 32
        leaves: dict[int, bytes] = {}
        for n in range(16):
            if leafmask >> n & 1:
                size = int.from_bytes(body[pos : pos + 2], "big")
                leaves[n] = body[pos + 2 : pos + 2 + size]
                pos += 2 + size
        if pos != len(body) or leafmask & ~present:
            raise ValueError("node body has the wrong length")
    except (ValueError, IndexError) as exc:
        raise TreeCorrupt(f"tree node does not decode: {exc}") from None
    node = Node(hashes, leaves, None)
    node.rehash()
    return node


_LOAD = "SELECT body FROM tree_nodes WHERE path = ? ORDER BY height DESC LIMIT 1"
_LOAD_AT = "SELECT body FROM tree_nodes WHERE path = ? AND height <= ? ORDER BY height DESC LIMIT 1"


class DiskTree:
    """The hexary sparse Merkle tree with its nodes in SQLite and a bounded cache.

    ``conn`` returns the calling thread's read connection (reads see committed rows only).
    Updates run on one thread at a time (the block's); proofs at the tip take the caller's
    lock against them (the node's tree lock).
    """

    def __init__(
        self,
        conn: Callable[[], sqlite3.Connection],
        cache_nodes: int = 200_000,
        at: int | None = None,
    ) -> None:
        self._conn = conn
        self._at = at
        """Read the rows as of this height (a scratch tree for a proof at an old height)."""
        self._cache: dict[bytes, Sub] = {}
        self._cache_max = max(cache_nodes, 64)
        self._dirty: dict[bytes, Sub] = {}
        self._pending: dict[bytes, Sub] = {}
        self._root: Sub = self._fetch(b"")
        self._committed_root = self._root

    # reading nodes ---------------------------------------------------------------------------
    def _fetch(self, path: bytes) -> Sub:
        if self._at is None:
            row = self._conn().execute(_LOAD, (path,)).fetchone()
        else:
            row = self._conn().execute(_LOAD_AT, (path, self._at)).fetchone()
        return None if row is None or row[0] is None else decode(bytes(row[0]))

    def _node(self, path: bytes) -> Sub:
        """The subtree root at ``path``: pending changes first, then committed ones."""
        if path in self._pending:
            return self._pending[path]
        return self._committed_node(path)

    def _remember(self, path: bytes, sub: Sub) -> None:
        cache = self._cache
        cache[path] = sub
        if len(cache) > self._cache_max:
            # Drop the oldest tenth, deep nodes first in practice (the top ones are re-read
            # by every block and come straight back).
            drop = len(cache) - self._cache_max * 9 // 10
            for k in list(cache)[:drop]:
                if len(k) > 2:
                    del cache[k]

    def _child(self, node: Node, path: bytes, n: int) -> Sub:
        h = node.hashes[n]
        if h is None:
            return None
        key = node.leaves.get(n)
        if key is not None:
            return Leaf(_sha(key).digest(), key, h)
        child = self._node(path + bytes((n,)))
        if type(child) is not Node or child.hash != h:
            raise TreeCorrupt(f"node at {path.hex()}/{n:x} does not match its parent's hash")
        return child

    # updating --------------------------------------------------------------------------------
    @property
    def root(self) -> bytes:
        return _hash_of(self._root)

    def update(self, changes: Mapping[bytes, bytes | None]) -> bytes:
        """Apply ``key -> value`` (``None`` deletes) on top of any pending changes; the new root.

        Nothing is written: :meth:`rows` gives the rows to store with the block.
        """
        if not changes:
            return self.root
        items = sorted(
            (p := _sha(k).digest(), k, None if v is None else _sha(b"\x00" + p + v).digest())
            for k, v in changes.items()
        )
        self._root = self._apply(b"", 0, self._root, items)
        self._pending[b""] = self._root
        return self.root

    def _apply(
        self, path: bytes, depth: int, cur: Sub, items: list[tuple[bytes, bytes, bytes | None]]
    ) -> Sub:
        if type(cur) is not Node:
            leaves: dict[bytes, Leaf] = {}
            if cur is not None:
                assert type(cur) is Leaf
                leaves[cur.path] = cur
            for p, k, h in items:
                if h is None:
                    leaves.pop(p, None)
                else:
                    leaves[p] = Leaf(p, k, h)
            return self._build(path, depth, sorted(leaves.values(), key=_leaf_path))
        node = cur.copy()
        hashes, leaf_keys = node.hashes, node.leaves
        half, low = depth >> 1, depth & 1
        i = 0
        total = len(items)
        while i < total:
            b = items[i][0][half]
            n = b & 15 if low else b >> 4
            j = i + 1
            while j < total:
                b = items[j][0][half]
                if (b & 15 if low else b >> 4) != n:
                    break
                j += 1
            h = hashes[n]
            leaf_key = leaf_keys.get(n)
            if j == i + 1 and (h is None or leaf_key is not None):
                # one change in this slot, which is empty or holds a leaf: most updates
                _, k, lh = items[i]
                if h is None:  # an empty slot: a new leaf (or the delete of nothing)
                    if lh is not None:
                        hashes[n] = lh
                        leaf_keys[n] = k
                    i = j
                    continue
                if leaf_key == k:  # the key's own leaf: a new value, or gone
                    if lh is None:
                        hashes[n] = None
                        del leaf_keys[n]
                    else:
                        hashes[n] = lh
                    i = j
                    continue
            new = self._apply(path + bytes((n,)), depth + 1, self._child(cur, path, n), items[i:j])
            _place(node, n, new)
            i = j
        present = 16 - hashes.count(None)
        if not present:
            self._pending[path] = None
            return None
        if present == 1 and node.leaves:
            ((n, key),) = node.leaves.items()
            self._pending[path] = None
            h = node.hashes[n]
            assert h is not None
            return Leaf(_sha(key).digest(), key, h)
        node.rehash()
        self._pending[path] = node
        return node

    def _build(self, path: bytes, depth: int, leaves: list[Leaf]) -> Sub:
        """The subtree at ``path`` of ``leaves`` (sorted by path), where no node was before."""
        if not leaves:
            return None
        if len(leaves) == 1:
            return leaves[0]
        node = Node([None] * 16, {}, None)
        start = 0
        total = len(leaves)
        while start < total:
            n = nibble(leaves[start].path, depth)
            end = start + 1
            while end < total and nibble(leaves[end].path, depth) == n:
                end += 1
            _place(node, n, self._build(path + bytes((n,)), depth + 1, leaves[start:end]))
            start = end
        node.rehash()
        self._pending[path] = node
        return node

    def rows(self, height: int) -> list[tuple[bytes, int, bytes | None]]:
        """The dirty and pending nodes as ``tree_nodes`` rows written at ``height``.

        Only the root may be a leaf row; elsewhere a leaf lives in its parent and a path that
        holds a leaf now but held a node before gets a ``NULL`` row (it was set so above).
        """
        out: list[tuple[bytes, int, bytes | None]] = []
        for path, sub in sorted({**self._dirty, **self._pending}.items()):
            if sub is None or (type(sub) is Leaf and path):
                out.append((path, height, None))
            else:
                out.append((path, height, encode(sub)))
        return out

    def commit(self) -> None:
        """The block was committed: its nodes are the committed tree now (dirty until the next
        checkpoint writes them)."""
        dirty = self._dirty
        for path, sub in self._pending.items():
            dirty[path] = None if (type(sub) is Leaf and path) else sub
        self._pending = {}
        self._committed_root = self._root

    def flush(self) -> None:
        """The dirty nodes were written (a checkpoint): they move to the cache."""
        self.commit()
        for path, sub in self._dirty.items():
            self._remember(path, sub)
        self._dirty = {}

    def discard(self) -> None:
        """Forget the pending changes (the block was not written)."""
        self._pending = {}
        self._root = self._committed_root

    # proofs ----------------------------------------------------------------------------------
    def prove(self, key: bytes, *, pending: bool = False) -> tuple[StateProof, bytes | None]:
        """The proof for ``key`` against the committed root (``pending``: against the root with
        the pending changes, for a scratch tree), and the key of the other leaf an absence
        proof ends at (its value goes in the proof: the caller reads it)."""
        path = _sha(key).digest()
        if pending:
            load: Callable[[bytes], Sub] = self._node
            cur = self._root
        else:
            load = self._committed_node
            cur = self._committed_root
        levels: list[tuple[bytes | None, ...]] = []
        node_path = b""
        depth = 0
        while type(cur) is Node:
            own = nibble(path, depth)
            levels.append(tuple(None if i == own else h for i, h in enumerate(cur.hashes)))
            h = cur.hashes[own]
            if h is None:
                return StateProof(tuple(levels), None), None
            leaf_key = cur.leaves.get(own)
            if leaf_key is not None:
                cur = Leaf(_sha(leaf_key).digest(), leaf_key, h)
                break
            node_path += bytes((own,))
            cur = load(node_path)
            depth += 1
            if type(cur) is not Node or cur.hash != h:
                raise TreeCorrupt(f"node at {node_path.hex()} does not match its parent")
        if cur is None:
            return StateProof(tuple(levels), None), None
        assert type(cur) is Leaf
        other = None if cur.path == path else cur.key
        return StateProof(tuple(levels), (cur.path, cur.hash), None), other

    def _committed_node(self, path: bytes) -> Sub:
        if path in self._dirty:
            return self._dirty[path]
        try:
            return self._cache[path]
        except KeyError:
            pass
        sub = self._fetch(path)
        self._remember(path, sub)
        return sub

    def iter_leaves(self) -> Iterator[tuple[bytes, bytes]]:
        """Every committed ``(key, leaf hash)``, depth first, each node checked against the
        hash its parent holds (for verification)."""
        stack: list[tuple[bytes, Sub]] = [(b"", self._committed_root)]
        while stack:
            path, sub = stack.pop()
            if sub is None:
                continue
            if type(sub) is Leaf:
                yield sub.key, sub.hash
                continue
            assert type(sub) is Node
            for n in range(15, -1, -1):
                h = sub.hashes[n]
                if h is None:
                    continue
                key = sub.leaves.get(n)
                if key is not None:
                    yield key, h
                    continue
                child = self._committed_node(path + bytes((n,)))
                if type(child) is not Node or child.hash != h:
                    raise TreeCorrupt(f"node at {path.hex()}/{n:x} does not match its parent")
                stack.append((path + bytes((n,)), child))


def _leaf_path(leaf: Leaf) -> bytes:
    return leaf.path


def _hash_of(sub: Sub) -> bytes:
    if sub is None:
        return EMPTY
    if type(sub) is Leaf:
        return sub.hash
    assert type(sub) is Node
    return sub.hash or sub.rehash()


def _place(node: Node, n: int, sub: Sub) -> None:
    if sub is None:
        node.hashes[n] = None
        node.leaves.pop(n, None)
    elif type(sub) is Leaf:
        node.hashes[n] = sub.hash
        node.leaves[n] = sub.key
    else:
        node.hashes[n] = _hash_of(sub)
        node.leaves.pop(n, None)
