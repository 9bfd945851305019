"""The state commitment: a compact, hexary sparse Merkle tree over the key-value state.

Written by hand (no maintained Python library offers an incremental sparse Merkle tree with
absence proofs). The definition, which ``docs/formats.md`` repeats for other implementers:

* a key's path is SHA-256(key) read as 64 nibbles (4 bits each), most significant first;
* leaf hash      = SHA-256(0x00 || SHA-256(key) || value);
* internal hash  = SHA-256(0x01 || child_0 || child_1 || ... || child_15), 16 children;
* the empty subtree hashes to 32 zero bytes;
* a subtree holding exactly one leaf *is* that leaf (hashes to the leaf hash at any depth).

So the root depends only on the set of (key, value) pairs, never on the order of updates.
Sixteen children per node (as in Ethereum's state trie) keep the tree about five levels deep at
a million accounts, so a block's batch of updates rehashes few nodes: each changed path is
walked once and only the nodes it touched are rehashed, once per block.

A proof lists, for each level from the root down to where the key's path ends, the 16 child
hashes of that node with the key's own slot left out (``None``; empty children are ``None``
too). The path ends at the key's own leaf (inclusion), at an empty slot, or at another key's
leaf (both absence); for another key's leaf the proof also carries that leaf's value, so the
verifier recomputes the leaf hash (a bare hash could be an internal node's, hiding the key).
:func:`verify_proof` checks a proof against a root without any node.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_sha = hashlib.sha256
EMPTY = bytes(32)


class InvalidStateProof(Exception):
    """The proof does not tie the claimed value to the root."""


def key_path(key: bytes) -> bytes:
    return _sha(key).digest()


def leaf_hash_of(path: bytes, value: bytes) -> bytes:
    # the path has a fixed length, so path || value is unambiguous without hashing the value
    return _sha(b"\x00" + path + value).digest()


class _Leaf:
    __slots__ = ("bits", "hash", "path", "value")

    def __init__(self, path: bytes, leaf_hash: bytes, value: bytes) -> None:
        self.path = path
        self.bits = int.from_bytes(path, "big")
        self.hash = leaf_hash
        self.value = value  # shared with the state's dict; absence proofs reveal it


# An internal node is a list of 19 items: 16 children (None, _Leaf or node); its hash, None while
# stale; a buffer 0x01 || 16 child hashes, the preimage of its hash; and a bit mask of children
# whose hash in the buffer is stale. Rehashing a node then copies only the changed children's
# hashes, which keeps a block's rehash proportional to what it changed. Plain lists keep a tree
# of millions of nodes compact and fast to walk.
_FANOUT = 16
_HASH = 16
_BUF = 17
_STALE = 18
_LEVELS = 64


def _nibble(bits: int, depth: int) -> int:
    return (bits >> (252 - 4 * depth)) & 0xF


def _new_node() -> list[Any]:
    node: list[Any] = [None] * 16
    node.extend((None, bytearray(b"\x01" + bytes(512)), 0))
    return node


def _set_child(node: list[Any], n: int, child: object) -> None:
    node[n] = child
    node[_HASH] = None
    node[_STALE] |= 1 << n


def _join(a: _Leaf, b: _Leaf, depth: int) -> list[Any]:
    """The subtree at ``depth`` that holds exactly the two leaves ``a`` and ``b``."""
    top = node = _new_node()
    while True:
        na, nb = _nibble(a.bits, depth), _nibble(b.bits, depth)
        if na != nb:
            _set_child(node, na, a)
            _set_child(node, nb, b)
            return top
        child = _new_node()
        _set_child(node, na, child)
        node = child
        depth += 1


def _delete(node: Any, depth: int, bits: int) -> Any:
    if node is None:
        return None
    if type(node) is _Leaf:
        return None if node.bits == bits else node
    n = _nibble(bits, depth)
    _set_child(node, n, _delete(node[n], depth + 1, bits))
    children = [c for c in node[:_FANOUT] if c is not None]
    # Keep the "one leaf is the subtree" rule: a node left with a single leaf becomes the leaf.
    if not children:
        return None
    if len(children) == 1 and type(children[0]) is _Leaf:
        return children[0]
    return node


def _hash(node: Any) -> bytes:
    if node is None:
        return EMPTY
    if type(node) is _Leaf:
        return node.hash
    h = node[_HASH]
    if h is None:
        buf = node[_BUF]
        stale = node[_STALE]
        while stale:
            low = stale & -stale
            n = low.bit_length() - 1
            stale ^= low
            c = node[n]
            if c is None:
                ch = EMPTY
            elif type(c) is _Leaf:
                ch = c.hash
            else:
                ch = c[_HASH] or _hash(c)
            start = 1 + 32 * n
            buf[start : start + 32] = ch
        node[_STALE] = 0
        h = _sha(buf).digest()
        node[_HASH] = h
    return h  # type: ignore[no-any-return]


def _build(leaves: list[_Leaf], depth: int) -> Any:
    """Build the subtree of ``leaves`` (sorted by path) at ``depth`` in one pass."""
    if not leaves:
        return None
    if len(leaves) == 1:
        return leaves[0]
    node = _new_node()
    start = 0
    total = len(leaves)
    while start < total:
        nib = _nibble(leaves[start].bits, depth)
        end = start + 1
        while end < total and _nibble(leaves[end].bits, depth) == nib:
            end += 1
        _set_child(node, nib, _build(leaves[start:end], depth + 1))
        start = end
    return node


@dataclass(frozen=True)
class StateProof:
    """The 16 child hashes per level from the root down, and what the key's path ends at.

    In ``levels`` each entry is a tuple of 16 hashes or ``None`` (empty, or the key's own slot).
    ``terminal`` is ``None`` when the path ends in an empty slot; otherwise the path and leaf
    hash of the leaf found there (the key's own leaf for inclusion, another key's for absence).
    ``terminal_value`` is that other key's value (absence only), from which the verifier
    recomputes its leaf hash.
    """

    levels: tuple[tuple[bytes | None, ...], ...]
    terminal: tuple[bytes, bytes] | None
    terminal_value: bytes | None = None

    def to_json(self) -> dict[str, object]:
        terminal: dict[str, str] | None = None
        if self.terminal is not None:
            terminal = {"path": self.terminal[0].hex(), "leaf_hash": self.terminal[1].hex()}
            if self.terminal_value is not None:
                terminal["value"] = self.terminal_value.hex()
        return {
            "levels": [[None if h is None else h.hex() for h in lvl] for lvl in self.levels],
            "terminal": terminal,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, object]) -> StateProof:
        """Parse the JSON form; raises :class:`InvalidStateProof` on any malformed part."""
        try:
            levels = obj["levels"]
            terminal = obj["terminal"]
            if not isinstance(levels, list):
                raise InvalidStateProof("levels must be a list")
            parsed = []
            for lvl in levels:
                if not isinstance(lvl, list) or len(lvl) != _FANOUT:
                    raise InvalidStateProof("each level lists 16 child hashes")
                parsed.append(tuple(None if h is None else _hash32(h) for h in lvl))
            term: tuple[bytes, bytes] | None = None
            value: bytes | None = None
            if terminal is not None:
                if not isinstance(terminal, dict):
                    raise InvalidStateProof("terminal must be an object or null")
                term = (_hash32(terminal["path"]), _hash32(terminal["leaf_hash"]))
                if terminal.get("value") is not None:
                    value = bytes.fromhex(terminal["value"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidStateProof(f"malformed proof: {exc}") from None
        return cls(tuple(parsed), term, value)


def _hash32(hexed: str) -> bytes:
    raw = bytes.fromhex(hexed)
    if len(raw) != 32:
        raise InvalidStateProof("hashes and paths are 32 bytes")
    return raw


def verify_proof(root: bytes, key: bytes, value: bytes | None, proof: StateProof) -> None:
    """Check that ``key`` maps to ``value`` (``None``: is absent) in the state with ``root``.

    Raises:
        InvalidStateProof: the proof does not establish the claim.
    """
    path = key_path(key)
    bits = int.from_bytes(path, "big")
    depth = len(proof.levels)
    if depth > _LEVELS:
        raise InvalidStateProof("proof deeper than the tree")
    if value is not None:
        if proof.terminal is None or proof.terminal[0] != path:
            raise InvalidStateProof("an inclusion proof must end at the key's own leaf")
        node = leaf_hash_of(path, value)
        if node != proof.terminal[1]:
            raise InvalidStateProof("the value does not match the leaf")
    elif proof.terminal is None:
        node = EMPTY
    else:
        other_path, other_hash = proof.terminal
        if other_path == path:
            raise InvalidStateProof("the proof shows the key present, not absent")
        # Recompute the other leaf: a bare hash could be an internal node holding the key.
        if (
            len(other_path) != 32
            or proof.terminal_value is None
            or leaf_hash_of(other_path, proof.terminal_value) != other_hash
        ):
            raise InvalidStateProof("the terminal is not the leaf of another key")
        shift = 256 - 4 * depth
        # The other leaf must share the prefix walked so far, or it could not sit there.
        if (int.from_bytes(other_path, "big") >> shift) != (bits >> shift):
            raise InvalidStateProof("the terminal leaf does not lie on the key's path")
        node = other_hash
    for d in range(depth - 1, -1, -1):
        level = proof.levels[d]
        if len(level) != _FANOUT:
            raise InvalidStateProof("each level lists 16 child hashes")
        own = _nibble(bits, d)
        if level[own] is not None:
            raise InvalidStateProof("the key's own slot must be left out of the proof")
        # Fixed-size children, or uneven ones could shift a real child into the key's slot.
        if any(h is not None and len(h) != 32 for h in level):
            raise InvalidStateProof("child hashes are 32 bytes")
        parts = [b"\x01"]
        for i, h in enumerate(level):
            parts.append(node if i == own else (EMPTY if h is None else h))
        node = _sha(b"".join(parts)).digest()
    if node != root:
        raise InvalidStateProof("proof does not lead to the expected root")


class SparseMerkleTree:
    """The in-memory commitment over the state; values live elsewhere (the state store)."""

    def __init__(self) -> None:
        self._root: Any = None
        self._leaves: dict[bytes, _Leaf] = {}
        """Each present key's leaf, so an update skips hashing the key and finding the leaf."""

    @classmethod
    def from_items(cls, items: Iterable[tuple[bytes, bytes]]) -> SparseMerkleTree:
        """Build the tree of many pairs at once (start-up), in O(n log n)."""
        tree = cls()
        by_key = tree._leaves
        for key, value in items:
            path = _sha(key).digest()
            by_key[key] = _Leaf(path, _sha(b"\x00" + path + value).digest(), value)
        leaves = sorted(by_key.values(), key=lambda leaf: leaf.bits)
        tree._root = _build(leaves, 0)
        return tree

    def _upsert(self, leaf: _Leaf) -> None:
        """Insert a leaf for a key not yet in the tree."""
        node = self._root
        bits = leaf.bits
        if node is None:
            self._root = leaf
            return
        if type(node) is _Leaf:
            self._root = _join(node, leaf, 0)
            return
        shift = 252
        while True:
            n = (bits >> shift) & 0xF
            child = node[n]
            node[_HASH] = None
            node[_STALE] |= 1 << n
            if child is None:
                node[n] = leaf
                return
            if type(child) is _Leaf:
                node[n] = _join(child, leaf, (256 - shift) // 4)
                return
            node = child
            shift -= 4

    def _touch(self, leaf: _Leaf) -> None:
        """Mark every node above an existing ``leaf`` stale (its hash changed in place)."""
        node = self._root
        bits = leaf.bits
        shift = 252
        while type(node) is list:
            n = (bits >> shift) & 0xF
            node[_HASH] = None
            node[_STALE] |= 1 << n
            node = node[n]
            shift -= 4

    def update(self, changes: Mapping[bytes, bytes | None]) -> bytes:
        """Apply ``key -> value`` (``None`` deletes) and return the new root."""
        leaves = self._leaves
        for key, value in changes.items():
            leaf = leaves.get(key)
            if value is None:
                if leaf is not None:
                    del leaves[key]
                    self._root = _delete(self._root, 0, leaf.bits)
            elif leaf is not None:
                leaf.hash = _sha(b"\x00" + leaf.path + value).digest()
                leaf.value = value
                self._touch(leaf)
            else:
                path = _sha(key).digest()
                leaf = _Leaf(path, _sha(b"\x00" + path + value).digest(), value)
                leaves[key] = leaf
                self._upsert(leaf)
        return _hash(self._root)

    @property
    def root(self) -> bytes:
        return _hash(self._root)

    def prove(self, key: bytes) -> StateProof:
        """Inclusion or absence proof for ``key`` against the current root."""
        _hash(self._root)
        bits = int.from_bytes(key_path(key), "big")
        levels: list[tuple[bytes | None, ...]] = []
        node = self._root
        depth = 0
        while isinstance(node, list):
            own = _nibble(bits, depth)
            levels.append(
                tuple(
                    None if (i == own or c is None) else _hash(c)
                    for i, c in enumerate(node[:_FANOUT])
                )
            )
            node = node[own]
            depth += 1
        if node is None:
            return StateProof(tuple(levels), None)
        assert isinstance(node, _Leaf)
        other = None if node.bits == bits else node.value
        return StateProof(tuple(levels), (node.path, node.hash), other)
