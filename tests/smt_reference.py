"""A slow reference model of the state commitment, written from its definition alone.

It shares no code with ``gridledger.state.tree``: it recomputes everything from the list of
(key, value) pairs on each call, recursively by nibble, exactly as ``docs/formats.md`` and the
docstring of ``state/tree.py`` define the tree:

* a key's path is SHA-256(key), read as 64 nibbles, most significant first;
* leaf hash = SHA-256(0x00 || path || value); internal = SHA-256(0x01 || 16 child hashes);
* an empty subtree hashes to 32 zero bytes; a subtree of exactly one leaf is that leaf.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

EMPTY = bytes(32)

Leaf = tuple[bytes, bytes]
"""(path, value)"""


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def path_of(key: bytes) -> bytes:
    return sha256(key)


def nibble(path: bytes, depth: int) -> int:
    byte = path[depth // 2]
    return byte >> 4 if depth % 2 == 0 else byte & 0x0F


def leaf_hash(path: bytes, value: bytes) -> bytes:
    return sha256(b"\x00" + path + value)


def _below(leaves: list[Leaf], depth: int, slot: int) -> list[Leaf]:
    return [leaf for leaf in leaves if nibble(leaf[0], depth) == slot]


def subtree_hash(leaves: list[Leaf], depth: int) -> bytes:
    """Hash of the subtree at ``depth`` holding exactly ``leaves``."""
    if not leaves:
        return EMPTY
    if len(leaves) == 1:
        return leaf_hash(*leaves[0])
    children = [subtree_hash(_below(leaves, depth, slot), depth + 1) for slot in range(16)]
    return sha256(b"\x01" + b"".join(children))


def root(items: Mapping[bytes, bytes]) -> bytes:
    """The state root of ``items`` (key -> value)."""
    return subtree_hash([(path_of(k), v) for k, v in items.items()], 0)


@dataclass(frozen=True)
class RefProof:
    """The proof the definition implies: 16 child hashes per level, then where the path ends."""

    levels: list[list[bytes | None]]
    terminal: tuple[bytes, bytes] | None
    """(path, leaf hash) of the leaf the path ends at, or None for an empty slot."""
    terminal_value: bytes | None
    """The value of that leaf when it belongs to another key (absence)."""


def proof(items: Mapping[bytes, bytes], key: bytes) -> RefProof:
    """Walk from the root along ``key``'s path while the subtree holds two or more leaves."""
    path = path_of(key)
    leaves = [(path_of(k), v) for k, v in items.items()]
    levels: list[list[bytes | None]] = []
    depth = 0
    while len(leaves) >= 2:
        own = nibble(path, depth)
        row: list[bytes | None] = []
        for slot in range(16):
            sub = _below(leaves, depth, slot)
            row.append(None if slot == own or not sub else subtree_hash(sub, depth + 1))
        levels.append(row)
        leaves = _below(leaves, depth, own)
        depth += 1
    if not leaves:
        return RefProof(levels, None, None)
    leaf_path, value = leaves[0]
    other_value = None if leaf_path == path else value
    return RefProof(levels, (leaf_path, leaf_hash(leaf_path, value)), other_value)
