"""RFC 6962 Merkle trees (``core/merkle.py``) against pymerkle 7, an independent implementation.

pymerkle's defaults already are RFC 6962's: SHA-256, leaf hash SHA-256(0x00 || data) and node
hash SHA-256(0x01 || left || right) (its "security" mode, on unless ``disable_security=True``),
the empty tree's root SHA-256(""), and the left subtree of n leaves holding the largest power of
two below n. No setting is changed; :func:`test_oracle_is_configured_as_rfc6962` pins that.
pymerkle counts leaves from one and starts an inclusion path with the leaf's own hash, followed
by the audit path bottom-up, which is our path.

A third, literal transcription of RFC 6962 section 2.1 (MTH and PATH, recursive) checks both.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymerkle import InclusionProof, InmemoryTree, InvalidProof

from gridledger.core import merkle

leaf_lists = st.lists(st.binary(max_size=24), max_size=40)
distinct_leaf_lists = st.lists(st.binary(max_size=24), min_size=1, max_size=40, unique=True)


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (RFC 6962 2.1), for n > 1."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 6962 2.1 writes it."""
    if not leaves:
        return _sha(b"")
    if len(leaves) == 1:
        return _sha(b"\x00" + leaves[0])
    k = _split(len(leaves))
    return _sha(b"\x01" + rfc_mth(leaves[:k]) + rfc_mth(leaves[k:]))


def rfc_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) exactly as RFC 6962 2.1.1 writes it."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*rfc_path(m, leaves[:k]), rfc_mth(leaves[k:])]
    return [*rfc_path(m - k, leaves[k:]), rfc_mth(leaves[:k])]


def oracle_tree(leaves: list[bytes]) -> InmemoryTree:
    tree = InmemoryTree(algorithm="sha256")
    for leaf in leaves:
        tree.append_entry(leaf)
    return tree


def oracle_accepts(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """pymerkle's verdict on the claim "leaf sits at index of the tree of size with root"."""
    if not 0 <= index < size:
        return False
    rule = oracle_tree([b""] * size).prove_inclusion(index + 1).rule  # layout depends on sizes
    base = merkle.leaf_hash(leaf)
    proof = InclusionProof("sha256", True, size, index + 1, rule, [base, *path])
    try:
        proof.verify(base, root)
    except InvalidProof:
        return False
    return True


def ours_accepts(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    try:
        merkle.verify_inclusion(leaf, index, size, path, root)
    except merkle.InvalidInclusionProof:
        return False
    return True


def test_oracle_is_configured_as_rfc6962() -> None:
    """The oracle hashes with SHA-256 and RFC 6962's 0x00 / 0x01 domain prefixes."""
    tree = InmemoryTree(algorithm="sha256")
    assert tree.algorithm == "sha256"
    assert tree.security is True
    assert tree.leaf_prefix == b"\x00"
    assert tree.node_prefix == b"\x01"
    assert tree.get_root() == _sha(b"") == merkle.EMPTY_ROOT
    tree.append_entry(b"a")
    tree.append_entry(b"b")
    assert tree.get_root() == _sha(b"\x01" + _sha(b"\x00a") + _sha(b"\x00b"))


@pytest.mark.parametrize("size", range(18))
def test_every_small_tree_and_every_path(size: int) -> None:
    """For 0..17 leaves: roots and every audit path equal pymerkle's and RFC 6962's."""
    leaves = [b"leaf %d" % i for i in range(size)]
    root = merkle.root(leaves)
    assert root == rfc_mth(leaves)
    assert root == oracle_tree(leaves).get_root()
    hashes = [merkle.leaf_hash(x) for x in leaves]
    assert merkle.root_from_leaf_hashes(hashes) == root
    oracle = oracle_tree(leaves)
    for i in range(size):
        path = merkle.inclusion_proof(hashes, i)
        assert path == rfc_path(i, leaves)
        assert path == oracle.prove_inclusion(i + 1).path[1:]
        merkle.verify_inclusion(leaves[i], i, size, path, root)


@given(leaf_lists)
def test_root_matches_pymerkle(leaves: list[bytes]) -> None:
    """Roots agree with pymerkle for any leaf list, duplicates and empty leaves included."""
    assert merkle.root(leaves) == oracle_tree(leaves).get_root() == rfc_mth(leaves)


@given(distinct_leaf_lists, st.data())
def test_inclusion_proofs_match_pymerkle_both_ways(
    leaves: list[bytes], data: st.DataObject
) -> None:
    """Our audit path equals pymerkle's, and each side verifies the other's proof."""
    index = data.draw(st.integers(0, len(leaves) - 1))
    hashes = [merkle.leaf_hash(x) for x in leaves]
    root = merkle.root(leaves)
    ours = merkle.inclusion_proof(hashes, index)
    theirs = oracle_tree(leaves).prove_inclusion(index + 1)
    assert ours == theirs.path[1:]
    merkle.verify_inclusion(leaves[index], index, len(leaves), theirs.path[1:], root)
    assert oracle_accepts(leaves[index], index, len(leaves), ours, root)


@given(distinct_leaf_lists, st.data())
def test_tampered_proofs_fail(leaves: list[bytes], data: st.DataObject) -> None:
    """Wrong index, wrong sibling, truncated or extended path, or another leaf: refused."""
    n = len(leaves)
    index = data.draw(st.integers(0, n - 1))
    hashes = [merkle.leaf_hash(x) for x in leaves]
    root = merkle.root(leaves)
    path = merkle.inclusion_proof(hashes, index)
    assert ours_accepts(leaves[index], index, n, path, root)
    if n > 1:
        other = data.draw(st.integers(0, n - 1).filter(lambda i: i != index))
        assert not ours_accepts(leaves[index], other, n, path, root)
        assert not ours_accepts(leaves[other], index, n, path, root)
        pos = data.draw(st.integers(0, len(path) - 1))
        bad = list(path)
        bad[pos] = bytes([bad[pos][0] ^ 0x80]) + bad[pos][1:]
        assert not ours_accepts(leaves[index], index, n, bad, root)
        assert not ours_accepts(leaves[index], index, n, path[:-1], root)
        swapped = [path[pos], *path[:pos], *path[pos + 1 :]]
        if swapped != path:
            assert not ours_accepts(leaves[index], index, n, swapped, root)
    assert not ours_accepts(leaves[index], index, n, [*path, hashes[0]], root)
    assert not ours_accepts(leaves[index] + b"x", index, n, path, root)
    assert not ours_accepts(leaves[index], index, n, path, _sha(root))
    assert not ours_accepts(leaves[index], n, n, path, root)
    assert not ours_accepts(leaves[index], -1, n, path, root)


@given(distinct_leaf_lists, st.data())
def test_claimed_size_is_judged_like_pymerkle(leaves: list[bytes], data: st.DataObject) -> None:
    """A proof checked against another tree size: our verdict equals pymerkle's.

    RFC 6962 roots do not commit to the size (the signed tree head pairs them), so a path can
    fit two sizes whose audit paths have the same shape; both implementations must then agree.
    """
    n = len(leaves)
    index = data.draw(st.integers(0, n - 1))
    claimed = data.draw(st.integers(0, 2 * n + 2))
    path = merkle.inclusion_proof([merkle.leaf_hash(x) for x in leaves], index)
    root = merkle.root(leaves)
    assert ours_accepts(leaves[index], index, claimed, path, root) == oracle_accepts(
        leaves[index], index, claimed, path, root
    )


@pytest.mark.parametrize(
    ("size", "index", "claimed"),
    [(5, 4, 8), (5, 4, 4), (8, 7, 5), (16, 0, 17), (17, 16, 16), (3, 2, 2)],
)
def test_wrong_size_with_another_path_shape_fails(size: int, index: int, claimed: int) -> None:
    """Sizes whose audit paths differ in length or shape from the real one are refused."""
    leaves = [b"tx %d" % i for i in range(size)]
    path = merkle.inclusion_proof([merkle.leaf_hash(x) for x in leaves], index)
    root = merkle.root(leaves)
    assert not ours_accepts(leaves[index], index, claimed, path, root)
    assert not oracle_accepts(leaves[index], index, claimed, path, root)


def test_index_outside_the_tree() -> None:
    """Building a proof for a missing leaf raises; checking one reports an invalid proof."""
    hashes = [merkle.leaf_hash(b"a")]
    with pytest.raises(IndexError):
        merkle.inclusion_proof(hashes, 1)
    with pytest.raises(IndexError):
        merkle.inclusion_proof([], 0)
    with pytest.raises(merkle.InvalidInclusionProof):
        merkle.verify_inclusion(b"a", 0, 0, [], merkle.EMPTY_ROOT)
