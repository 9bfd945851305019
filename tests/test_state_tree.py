"""The state commitment (``state/tree.py``) against a slow model recomputed from its definition.

The reference (``smt_reference``) recomputes the root and the proofs from the full key/value set
on every call, recursively by nibble; the fast tree updates incrementally. A hypothesis state
machine drives both with inserts, updates, deletes and batches, and compares roots and proofs
after every step; tampered and forged proofs must be refused.
"""

from __future__ import annotations

import itertools
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

import smt_reference as ref
from gridledger.state.tree import (
    EMPTY,
    InvalidStateProof,
    SparseMerkleTree,
    StateProof,
    key_path,
    leaf_hash_of,
    verify_proof,
)

keys = st.binary(min_size=0, max_size=6)
values = st.binary(min_size=0, max_size=12)
key_values = st.dictionaries(keys, values, max_size=40)


def _ref_proof_matches(proof: StateProof, expected: ref.RefProof) -> bool:
    levels = [list(level) for level in proof.levels]
    return (
        levels == expected.levels
        and proof.terminal == expected.terminal
        and proof.terminal_value == expected.terminal_value
    )


def _items_sharing_prefix(nibbles: int, count: int) -> dict[bytes, bytes]:
    """``count`` keys whose paths share their first ``nibbles`` nibbles (found by search)."""
    by_prefix: dict[str, list[bytes]] = {}
    for i in itertools.count():
        k = b"shared-%d" % i
        prefix = key_path(k).hex()[:nibbles]
        group = by_prefix.setdefault(prefix, [])
        group.append(k)
        if len(group) == count:
            return {k: b"value of " + k for k in group}
    raise AssertionError("unreachable")


def _tamperings(proof: StateProof, key: bytes) -> list[StateProof]:
    """Every single-point change of ``proof`` that must make it fail for the same claim."""
    out: list[StateProof] = []
    levels = [list(level) for level in proof.levels]
    path = key_path(key)
    for d in range(len(levels)):
        filled = [list(lv) for lv in levels]
        filled[d][ref.nibble(path, d)] = EMPTY  # the key's own slot must stay left out
        out.append(StateProof(tuple(map(tuple, filled)), proof.terminal, proof.terminal_value))
    for d, level in enumerate(levels):
        for slot, h in enumerate(level):
            if h is None:
                continue
            changed = [list(lv) for lv in levels]
            changed[d][slot] = bytes([h[0] ^ 1]) + h[1:]
            out.append(StateProof(tuple(map(tuple, changed)), proof.terminal, proof.terminal_value))
            emptied = [list(lv) for lv in levels]
            emptied[d][slot] = None
            out.append(StateProof(tuple(map(tuple, emptied)), proof.terminal, proof.terminal_value))
            break  # one occupied slot per level is enough
    if levels:
        out.append(StateProof(tuple(map(tuple, levels[1:])), proof.terminal, proof.terminal_value))
        out.append(StateProof(tuple(map(tuple, levels[:-1])), proof.terminal, proof.terminal_value))
    out.append(
        StateProof((*map(tuple, levels), (None,) * 16), proof.terminal, proof.terminal_value)
    )
    if proof.terminal is None:
        stray = (bytes(31) + b"\x01", leaf_hash_of(bytes(31) + b"\x01", b"x"))
        out.append(StateProof(proof.levels, stray, b"x"))
    else:
        path, leaf = proof.terminal
        out.append(StateProof(proof.levels, None, None))
        out.append(StateProof(proof.levels, (path, bytes([leaf[0] ^ 1]) + leaf[1:]), None))
        if proof.terminal_value is not None:
            out.append(StateProof(proof.levels, proof.terminal, proof.terminal_value + b"!"))
    return out


def _refused(root: bytes, key: bytes, value: bytes | None, proof: StateProof) -> bool:
    try:
        verify_proof(root, key, value, proof)
    except InvalidStateProof:
        return True
    return False


# definition --------------------------------------------------------------------------------------
def test_empty_tree_root_is_32_zero_bytes() -> None:
    """The empty state commits to 32 zero bytes, by definition."""
    assert SparseMerkleTree().root == EMPTY == bytes(32)
    assert SparseMerkleTree.from_items([]).root == EMPTY


def test_single_leaf_is_the_root() -> None:
    """A tree of one pair is that pair's leaf: SHA-256(0x00 || SHA-256(key) || value)."""
    tree = SparseMerkleTree()
    root = tree.update({b"k": b"v"})
    assert root == ref.sha256(b"\x00" + ref.sha256(b"k") + b"v")


def test_leaf_hash_does_not_depend_on_depth() -> None:
    """Two keys diverging deep in their paths still hash their leaves without the depth."""
    items = _items_sharing_prefix(3, 2)
    tree = SparseMerkleTree.from_items(items.items())
    assert tree.root == ref.root(items)
    a, b = (key_path(k).hex() for k in items)
    shared = next(i for i in range(64) if a[i] != b[i])
    assert shared >= 3
    for k in items:
        proof = tree.prove(k)
        assert len(proof.levels) == shared + 1  # one level per shared nibble, then the split
        assert proof.terminal == (key_path(k), leaf_hash_of(key_path(k), items[k]))


@given(key_values)
def test_from_items_matches_reference(items: dict[bytes, bytes]) -> None:
    """A tree built in one pass commits to the root the definition gives."""
    assert SparseMerkleTree.from_items(items.items()).root == ref.root(items)


@given(key_values, st.randoms(use_true_random=False))
def test_root_is_independent_of_update_order(items: dict[bytes, bytes], rnd: Random) -> None:
    """Inserting the same pairs one by one in any order gives the from_items root."""
    order = list(items.items())
    rnd.shuffle(order)
    tree = SparseMerkleTree()
    for k, v in order:
        tree.update({k: v})
    assert tree.root == SparseMerkleTree.from_items(items.items()).root == ref.root(items)


@given(key_values, key_values, st.randoms(use_true_random=False))
def test_delete_restores_the_root_without_the_key(
    base: dict[bytes, bytes],
    extra: dict[bytes, bytes],
    rnd: Random,
) -> None:
    """Adding pairs and deleting them again (in any order) collapses back to the same tree."""
    added = {k: v for k, v in extra.items() if k not in base}
    tree = SparseMerkleTree.from_items(base.items())
    before = tree.root
    tree.update(added)
    doomed = list(added)
    rnd.shuffle(doomed)
    for k in doomed:
        tree.update({k: None})
    assert tree.root == before == ref.root(base)


def test_collapse_after_delete_deep_pair() -> None:
    """Deleting one of two leaves that share five nibbles lifts the other to the top again."""
    items = _items_sharing_prefix(2, 3)
    tree = SparseMerkleTree.from_items(items.items())
    first, *rest = sorted(items)
    tree.update({first: None})
    remaining = {k: items[k] for k in rest}
    assert tree.root == ref.root(remaining)
    tree.update({rest[0]: None})
    assert tree.root == ref.leaf_hash(key_path(rest[1]), items[rest[1]])
    tree.update({rest[1]: None})
    assert tree.root == EMPTY


@given(key_values, keys)
def test_proofs_match_reference_and_verify(items: dict[bytes, bytes], probe: bytes) -> None:
    """prove() returns exactly the proof the definition implies, and it verifies."""
    tree = SparseMerkleTree.from_items(items.items())
    root = tree.root
    for k in [*items, probe]:
        proof = tree.prove(k)
        assert _ref_proof_matches(proof, ref.proof(items, k))
        verify_proof(root, k, items.get(k), proof)


@given(key_values.filter(bool), keys, st.data())
def test_false_claims_and_tampered_proofs_fail(
    items: dict[bytes, bytes], probe: bytes, data: st.DataObject
) -> None:
    """No proof establishes a wrong value, a present key as absent, or survives tampering."""
    tree = SparseMerkleTree.from_items(items.items())
    root = tree.root
    present = data.draw(st.sampled_from(sorted(items)))
    proof = tree.prove(present)
    assert _refused(root, present, items[present] + b"?", proof)
    assert _refused(root, present, None, proof)
    for bad in _tamperings(proof, present):
        assert _refused(root, present, items[present], bad)
    if probe not in items:
        absent = tree.prove(probe)
        assert _refused(root, probe, b"", absent)
        for bad in _tamperings(absent, probe):
            assert _refused(root, probe, None, bad)
    assert _refused(
        bytes(32) if root != bytes(32) else b"\x01" * 32, present, items[present], proof
    )


# forged proofs -----------------------------------------------------------------------------------
def _deep_key(tree: SparseMerkleTree, items: dict[bytes, bytes], depth: int) -> bytes:
    for k in sorted(items):
        if len(tree.prove(k).levels) >= depth:
            return k
    raise AssertionError("no key deep enough")


def test_internal_node_cannot_pose_as_absence_terminal() -> None:
    """An absence proof may not end at an internal node's hash dressed up as another leaf.

    The forger cuts a real inclusion proof one level short and presents the hash of the
    internal node there as the "other key's leaf" on the path: it must be refused, with or
    without a made-up value for that leaf.
    """
    items = {b"account-%d" % i: b"%d" % i for i in range(400)}
    tree = SparseMerkleTree.from_items(items.items())
    root = tree.root
    victim = _deep_key(tree, items, 3)
    proof = tree.prove(victim)
    path = key_path(victim)
    # hash of the internal node at the last level of the real proof
    last = proof.levels[-1]
    own = ref.nibble(path, len(proof.levels) - 1)
    assert proof.terminal is not None
    children = [proof.terminal[1] if i == own else (h or EMPTY) for i, h in enumerate(last)]
    internal = ref.sha256(b"\x01" + b"".join(children))
    decoy_path = path[:-1] + bytes([path[-1] ^ 1])
    for value in (None, b"", items[victim]):
        forged = StateProof(proof.levels[:-1], (decoy_path, internal), value)
        assert _refused(root, victim, None, forged)
        assert _refused(root, victim, None, StateProof.from_json(forged.to_json()))


def test_level_hashes_of_other_lengths_are_refused() -> None:
    """Children of a length other than 32 bytes cannot shift a real node under the key's slot.

    The forger takes a real internal node on the key's path with an empty child in another
    slot and re-splits its 16 children into entries of uneven lengths so that the empty child
    lands in the key's own slot: that would "prove" a present key absent.
    """
    items = {b"meter-%d" % i: b"reading %d" % i for i in range(60)}
    tree = SparseMerkleTree.from_items(items.items())
    root = tree.root
    forged_any = False
    for victim in sorted(items):
        proof = tree.prove(victim)
        path = key_path(victim)
        for d in range(len(proof.levels)):
            own = ref.nibble(path, d)
            child = _node_hash(proof.levels[d + 1 :], proof.terminal, path, d + 1)
            real = [child if i == own else (h or EMPTY) for i, h in enumerate(proof.levels[d])]
            empty = [i for i, h in enumerate(real) if h == EMPTY and i != own]
            if own == 0 or not empty:
                continue  # nothing can be put before slot 0, or there is no empty child
            e = empty[0]
            head, tail = b"".join(real[:e]), b"".join(real[e + 1 :])
            if tail and own == 15:
                continue  # nothing can follow slot 15
            entries: list[bytes | None] = [b""] * 16
            entries[0] = head
            entries[own] = None
            if tail:
                entries[own + 1] = tail
            joined = b"".join(EMPTY if i == own else (h or b"") for i, h in enumerate(entries))
            assert joined == b"".join(real)  # the forged level hashes to the real node
            forged = StateProof((*proof.levels[:d], tuple(entries)), None)
            assert _refused(root, victim, None, forged)
            forged_any = True
    assert forged_any


def _node_hash(
    levels: tuple[tuple[bytes | None, ...], ...] | list[tuple[bytes | None, ...]],
    terminal: tuple[bytes, bytes] | None,
    path: bytes,
    depth: int,
) -> bytes:
    """The hash of the node at ``depth`` on ``path`` that the rest of a proof commits to."""
    node = EMPTY if terminal is None else terminal[1]
    for offset in range(len(levels) - 1, -1, -1):
        own = ref.nibble(path, depth + offset)
        children = [node if i == own else (h or EMPTY) for i, h in enumerate(levels[offset])]
        node = ref.sha256(b"\x01" + b"".join(children))
    return node


def test_proof_deeper_than_the_tree_is_refused() -> None:
    """A proof of more than 64 levels cannot describe any tree."""
    proof = StateProof(((None,) * 16,) * 65, None)
    assert _refused(EMPTY, b"k", None, proof)


# JSON form ---------------------------------------------------------------------------------------
@given(key_values, keys)
def test_proof_json_round_trip(items: dict[bytes, bytes], probe: bytes) -> None:
    """to_json / from_json is lossless, and the parsed proof still verifies."""
    tree = SparseMerkleTree.from_items(items.items())
    for k in [*items, probe]:
        proof = tree.prove(k)
        doc = proof.to_json()
        again = StateProof.from_json(doc)
        assert again == proof
        assert again.to_json() == doc
        verify_proof(tree.root, k, items.get(k), again)


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"levels": "nope", "terminal": None},
        {"levels": [[None] * 15], "terminal": None},
        {"levels": [["zz"] + [None] * 15], "terminal": None},
        {"levels": [["00" * 31] + [None] * 15], "terminal": None},
        {"levels": [], "terminal": "leaf"},
        {"levels": [], "terminal": {"path": "00" * 32}},
        {"levels": [], "terminal": {"path": "00" * 31, "leaf_hash": "00" * 32}},
        {"levels": [], "terminal": {"path": "00" * 32, "leaf_hash": "00" * 33}},
        {"levels": [], "terminal": {"path": "00" * 32, "leaf_hash": "00" * 32, "value": "x"}},
    ],
)
def test_malformed_proof_json_is_refused(doc: dict[str, object]) -> None:
    """A malformed proof document raises InvalidStateProof, never another exception."""
    with pytest.raises(InvalidStateProof):
        StateProof.from_json(doc)


# the state machine -------------------------------------------------------------------------------
class TreeAgainstReference(RuleBasedStateMachine):
    """The incremental tree and the recomputed reference agree after every operation."""

    def __init__(self) -> None:
        super().__init__()
        self.tree = SparseMerkleTree()
        self.model: dict[bytes, bytes] = {}

    @initialize(start=key_values)
    def start(self, start: dict[bytes, bytes]) -> None:
        self.tree = SparseMerkleTree.from_items(start.items())
        self.model = dict(start)

    @rule(k=keys, v=values)
    def insert_or_update(self, k: bytes, v: bytes) -> None:
        self.tree.update({k: v})
        self.model[k] = v

    @precondition(lambda self: self.model)
    @rule(data=st.data(), v=values)
    def update_existing(self, data: st.DataObject, v: bytes) -> None:
        k = data.draw(st.sampled_from(sorted(self.model)))
        self.tree.update({k: v})
        self.model[k] = v

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete_existing(self, data: st.DataObject) -> None:
        k = data.draw(st.sampled_from(sorted(self.model)))
        self.tree.update({k: None})
        del self.model[k]

    @rule(k=keys)
    def delete_absent_is_a_no_op(self, k: bytes) -> None:
        if k in self.model:
            return
        before = self.tree.root
        assert self.tree.update({k: None}) == before

    @rule(changes=st.dictionaries(keys, st.none() | values, max_size=12))
    def batch_update(self, changes: dict[bytes, bytes | None]) -> None:
        root = self.tree.update(changes)
        for k, v in changes.items():
            if v is None:
                self.model.pop(k, None)
            else:
                self.model[k] = v
        assert root == ref.root(self.model)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def proof_of_present_key(self, data: st.DataObject) -> None:
        k = data.draw(st.sampled_from(sorted(self.model)))
        proof = self.tree.prove(k)
        assert _ref_proof_matches(proof, ref.proof(self.model, k))
        root = self.tree.root
        verify_proof(root, k, self.model[k], proof)
        assert _refused(root, k, None, proof)
        assert _refused(root, k, self.model[k] + b"x", proof)
        for bad in _tamperings(proof, k):
            assert _refused(root, k, self.model[k], bad)

    @rule(k=keys)
    def proof_of_absent_key(self, k: bytes) -> None:
        if k in self.model:
            return
        proof = self.tree.prove(k)
        assert _ref_proof_matches(proof, ref.proof(self.model, k))
        root = self.tree.root
        verify_proof(root, k, None, proof)
        assert _refused(root, k, b"", proof)
        for bad in _tamperings(proof, k):
            assert _refused(root, k, None, bad)

    @invariant()
    def root_matches_reference(self) -> None:
        assert self.tree.root == ref.root(self.model)

    @invariant()
    def rebuilt_tree_has_the_same_root(self) -> None:
        assert SparseMerkleTree.from_items(self.model.items()).root == self.tree.root


TreeAgainstReference.TestCase.settings = settings(settings.default, stateful_step_count=40)
test_tree_against_reference = TreeAgainstReference.TestCase
