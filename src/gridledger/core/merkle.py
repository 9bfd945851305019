"""RFC 6962 Merkle trees for the transaction and receipt roots of a block.

Written by hand because no maintained library offers both building and proof checking in a
form we can pin down byte for byte; it follows RFC 6962 section 2.1 exactly and is tested against
pymerkle (an independent implementation) in ``tests/test_merkle_log.py``.

* leaf hash  = SHA-256(0x00 || leaf bytes)
* node hash  = SHA-256(0x01 || left || right)
* the tree of n leaves splits at k, the largest power of two below n (RFC 6962 2.1)
* the root of the empty tree is SHA-256 of the empty string
"""

from __future__ import annotations

import hashlib

_sha = hashlib.sha256
EMPTY_ROOT = _sha(b"").digest()


class InvalidInclusionProof(Exception):
    """The audit path does not lead from the leaf to the root."""


def leaf_hash(data: bytes) -> bytes:
    return _sha(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha(b"\x01" + left + right).digest()


def root_from_leaf_hashes(hashes: list[bytes]) -> bytes:
    """Root over already-hashed leaves, bottom-up (equal to RFC 6962's recursive definition).

    Level by level, pairs are combined and an odd last node is carried up unchanged, which is
    what the largest-power-of-two split produces.
    """
    if not hashes:
        return EMPTY_ROOT
    level = hashes
    while len(level) > 1:
        nxt = [
            _sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root(leaves: list[bytes]) -> bytes:
    """Merkle tree hash (MTH) of raw leaf data."""
    return root_from_leaf_hashes([leaf_hash(x) for x in leaves])


def inclusion_proof(hashes: list[bytes], index: int) -> list[bytes]:
    """Audit path (RFC 6962 2.1.1) for leaf ``index`` among the leaf hashes, bottom-up."""
    n = len(hashes)
    if not 0 <= index < n:
        raise IndexError("leaf index out of range")
    path: list[bytes] = []
    level = hashes
    i = index
    while len(level) > 1:
        sibling = i ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        nxt = [
            _sha(b"\x01" + level[j] + level[j + 1]).digest() for j in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
        i //= 2
    return path


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: list[bytes], expected_root: bytes
) -> None:
    """Check that ``leaf`` (raw data) sits at ``index`` of a tree of ``tree_size`` leaves.

    Follows the verification algorithm of RFC 9162 section 2.1.3.2.

    Raises:
        InvalidInclusionProof: the proof does not reproduce ``expected_root``.
    """
    if not 0 <= index < tree_size:
        raise InvalidInclusionProof("index outside the tree")
    fn, sn = index, tree_size - 1
    r = leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            raise InvalidInclusionProof("proof longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidInclusionProof("proof shorter than the tree is deep")
    if r != expected_root:
        raise InvalidInclusionProof("proof does not lead to the expected root")
