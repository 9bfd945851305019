"""Replay every checked-in test vector against the code, and keep the vectors from drifting.

The vectors (``tests/vectors/*.json``, written by ``tests/vectors/generate.py``) are what other
implementations check themselves against. Each file is replayed here against the code, and
wherever an independent oracle exists the vector is also checked against it: Python's ``json``
for canonical encoding, RFC 8032's published test vectors for Ed25519, ``hashlib`` for hashes,
pymerkle for RFC 6962 and the recomputing model of ``smt_reference`` for the state tree.
Regenerating the vectors must reproduce the checked-in files byte for byte.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import pytest
from pymerkle import InmemoryTree

import smt_reference as ref
from gridledger.contracts import chain, consortium, market
from gridledger.contracts.genesis import load as load_genesis
from gridledger.contracts.metering import ReadingRefused
from gridledger.core import merkle
from gridledger.core.crypto import (
    DOMAIN_BLOCK,
    DOMAIN_TX,
    SigningKey,
    parse_public_key,
    parse_signature,
    sha256,
    verify,
    verify_raw,
)
from gridledger.core.encoding import canonical, check_values, decode_json
from gridledger.core.errors import GridLedgerError, InvalidBlock, all_error_classes
from gridledger.core.types import Block, BlockHeader, Transaction
from gridledger.node.executor import execute_block, prepare
from gridledger.node.transition import apply_block, genesis_header, genesis_state
from gridledger.state.state import State
from gridledger.state.tree import SparseMerkleTree, StateProof, verify_proof

VECTORS = Path(__file__).with_name("vectors")
GENERATOR = VECTORS / "generate.py"
FILES = [
    "canonical_encoding.json",
    "ed25519.json",
    "transactions.json",
    "genesis.json",
    "blocks.json",
    "invalid_blocks.json",
    "merkle_log.json",
    "state_tree.json",
    "contracts.json",
    "metering.json",
    "carbon.json",
    "credits.json",
    "market.json",
    "governance.json",
    "attestations.json",
    "certificates.json",
    "claims.json",
    "readings_log.json",
    "products.json",  # replayed in test_product_proofs.py
    "product_transitions.json",
    "cards.json",  # replayed in test_card_proofs.py
]
TRANSITION_FILES = [
    "contracts.json",
    "metering.json",
    "carbon.json",
    "credits.json",
    "product_transitions.json",
]
"""Files of contract transitions: pre-state, transaction, receipt and post-state (or error)."""

# RFC 8032 section 7.1, TESTS 1-3: (secret key, public key, message, signature), from the RFC.
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@cache
def vector(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def cases(name: str, key: str = "cases") -> list[Any]:
    return list(vector(name)[key])


def json_oracle(value: Any) -> str:
    """Canonical JSON as the standard library writes it: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def state_bytes(items: dict[str, str]) -> dict[bytes, bytes]:
    return {k.encode(): v.encode() for k, v in items.items()}


# the files themselves ----------------------------------------------------------------------------
def test_every_vector_file_is_replayed() -> None:
    """No vector file is written without a replay test here (and none is missing)."""
    assert sorted(p.name for p in VECTORS.glob("*.json")) == sorted(FILES)


def test_regenerating_reproduces_the_files_byte_for_byte(tmp_path: Path) -> None:
    """The generator is deterministic and the checked-in vectors are what it writes today."""
    subprocess.run([sys.executable, str(GENERATOR), str(tmp_path)], check=True, timeout=120)
    fresh = sorted(p.name for p in tmp_path.glob("*.json"))
    assert fresh == sorted(FILES)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (VECTORS / name).read_bytes(), (
            f"{name} drifted: run 'python tests/vectors/generate.py' and review the diff"
        )


# canonical encoding ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", cases("canonical_encoding.json", "valid"), ids=lambda c: c["name"])
def test_canonical_encoding_vector(case: dict[str, str]) -> None:
    """The code and the json module both produce the vector's canonical text."""
    value = decode_json(case["input"])
    check_values(value)
    out = canonical(value)
    assert out.decode("utf-8") == case["canonical"]
    assert out.hex() == case["canonical_hex"]
    assert json_oracle(json.loads(case["input"])) == case["canonical"]
    assert canonical(decode_json(out)) == out  # canonical bytes are a fixed point


@pytest.mark.parametrize(
    "case", cases("canonical_encoding.json", "rejected"), ids=lambda c: c["name"]
)
def test_rejected_encoding_vector(case: dict[str, str]) -> None:
    """Floats and integers outside the signed 64-bit range are refused with their code."""
    with pytest.raises(GridLedgerError) as info:
        check_values(decode_json(case["input"]))
    assert info.value.code == case["error"]
    numbers = _numbers(json.loads(case["input"]))
    # the json module agrees: the input holds a float or an integer beyond 64 bits
    assert any(isinstance(n, float) or not -(2**63) <= n < 2**63 for n in numbers)


def _numbers(value: Any) -> list[int | float]:
    """Every number in a decoded JSON value (booleans are not numbers)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return []


# Ed25519 -----------------------------------------------------------------------------------------
def test_rfc8032_vectors_are_in_the_file() -> None:
    """The file's first cases are RFC 8032's, byte for byte as the RFC publishes them."""
    for (secret, public, message, signature), case in zip(
        RFC8032, cases("ed25519.json"), strict=False
    ):
        assert (case["seed"], case["public_key"], case["message_hex"], case["signature"]) == (
            secret,
            public,
            message,
            signature,
        )


@pytest.mark.parametrize("case", cases("ed25519.json"), ids=lambda c: c["name"])
def test_ed25519_vector(case: dict[str, str]) -> None:
    """Seed -> key -> signature as in the vector; the signature verifies and only for it."""
    key = SigningKey.from_seed(bytes.fromhex(case["seed"]))
    message = bytes.fromhex(case["message_hex"])
    assert key.public_key_raw.hex() == case["public_key"]
    assert key.public_key == case["public_key_tagged"] == "ed25519:" + case["public_key"]
    assert key.sign_raw(message).hex() == case["signature"]
    assert key.sign(message) == case["signature_tagged"] == "ed25519:" + case["signature"]
    pk, sig = bytes.fromhex(case["public_key"]), bytes.fromhex(case["signature"])
    assert verify_raw(pk, message, sig)
    assert verify(case["public_key_tagged"], message, case["signature_tagged"])
    assert not verify_raw(pk, message + b"\x00", sig)
    assert not verify_raw(pk, message, sig[:-1] + bytes([sig[-1] ^ 1]))


def test_signature_domains() -> None:
    """The domain prefixes in the vectors are the ones the code signs with."""
    assert vector("ed25519.json")["domains"] == {
        "tx": DOMAIN_TX.decode(),
        "block": DOMAIN_BLOCK.decode(),
    }


@pytest.mark.parametrize("case", cases("ed25519.json", "parse"), ids=lambda c: c["value"][:24])
def test_tagged_string_vector(case: dict[str, Any]) -> None:
    """Tagged keys and signatures parse, or fail with the vector's code."""
    parser = parse_public_key if case["kind"] == "public_key" else parse_signature
    if case["error"] is None:
        raw = parser(case["value"])
        assert case["value"] == "ed25519:" + raw.hex()
    else:
        with pytest.raises(GridLedgerError) as info:
            parser(case["value"])
        assert info.value.code == case["error"]


# transactions ------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", cases("transactions.json"), ids=lambda c: c["name"])
def test_transaction_vector(case: dict[str, str]) -> None:
    """Signing bytes, signature, canonical signed form and hash of each transaction."""
    fields = decode_json(case["unsigned_canonical"])
    tx = Transaction(**fields)
    signing = tx.signing_bytes()
    assert signing.hex() == case["signing_bytes_hex"]
    assert signing == DOMAIN_TX + case["unsigned_canonical"].encode()
    key = SigningKey.from_seed(bytes.fromhex(case["sender_seed"]))
    tx.signature = key.sign(signing)
    assert tx.signature == case["signature"]
    assert tx.encode().decode() == case["signed_canonical"]
    assert json_oracle(json.loads(case["signed_canonical"])) == case["signed_canonical"]
    assert tx.hash().hex() == case["tx_hash"] == sha256(case["signed_canonical"].encode()).hex()
    decoded = msgspec.json.decode(case["signed_canonical"], type=Transaction)
    assert decoded == tx
    assert prepare(decoded).signing_bytes() == signing


# genesis and blocks ------------------------------------------------------------------------------
def test_genesis_vector() -> None:
    """Genesis document -> hash, state, state root and genesis header."""
    v = vector("genesis.json")
    genesis = load_genesis(v["genesis_canonical"].encode())
    assert genesis.encode().decode() == v["genesis_canonical"]
    assert genesis.hash().hex() == v["genesis_hash"] == sha256(genesis.encode()).hex()
    state = genesis_state(genesis)
    state.compute_root()
    state.finish_block()
    assert state.committed == state_bytes(v["state"])
    assert state.root.hex() == v["state_root"] == ref.root(state_bytes(v["state"])).hex()
    header = genesis_header(genesis, state.root)
    assert header.encode().decode() == v["header_canonical"]
    assert header.hash().hex() == v["header_hash"]


def test_block_vectors() -> None:
    """Re-executing the blocks on the vector genesis reproduces headers, roots, signatures."""
    genesis = load_genesis(vector("genesis.json")["genesis_canonical"].encode())
    v = vector("blocks.json")
    node_key = SigningKey.from_seed(bytes.fromhex(v["node_seed"]))
    assert genesis.organisations[0].node_key == node_key.public_key
    state = genesis_state(genesis)
    state.compute_root()
    state.finish_block()
    parent = genesis_header(genesis, state.root)
    parent_hash = parent.hash()
    assert parent_hash.hex() == v["genesis_header_hash"]
    for blk in v["blocks"]:
        header = msgspec.json.decode(blk["header_canonical"], type=BlockHeader)
        assert header.encode().decode() == blk["header_canonical"]
        assert header.hash().hex() == blk["header_hash"]
        assert sha256(blk["header_canonical"].encode()).hex() == blk["header_hash"]
        assert bytes.fromhex(blk["signing_bytes_hex"]) == DOMAIN_BLOCK + header.hash()
        assert node_key.sign(header.signing_bytes()) == blk["signature"]
        assert verify(node_key.public_key, header.signing_bytes(), blk["signature"])
        assert header.prev_hash == parent_hash.hex()
        assert header.tx_count == len(blk["txs"])
        tx_bytes = [t.encode() for t in blk["txs"]]
        receipt_bytes = [r.encode() for r in blk["receipts"]]
        assert header.tx_root == _oracle_root(tx_bytes)
        assert header.receipt_root == _oracle_root(receipt_bytes)
        txs = [msgspec.json.decode(t, type=Transaction) for t in tx_bytes]
        rules = chain.rules_at(state.view, header.height)
        _, result = apply_block(
            state, rules, parent, Block(header, txs, blk["signature"]), now_ms=header.time
        )
        state.finish_block()
        assert result.receipt_bytes == receipt_bytes
        assert state.root.hex() == blk["state_root_after"] == header.state_root
        assert ref.root(state.committed).hex() == header.state_root
        parent, parent_hash = header, header.hash()


def _state_after_vector_blocks() -> tuple[State, BlockHeader]:
    """The state after blocks.json's three blocks, replayed through apply_block."""
    genesis = load_genesis(vector("genesis.json")["genesis_canonical"].encode())
    state = genesis_state(genesis)
    state.compute_root()
    state.finish_block()
    parent = genesis_header(genesis, state.root)
    for blk in vector("blocks.json")["blocks"]:
        header = msgspec.json.decode(blk["header_canonical"], type=BlockHeader)
        txs = [msgspec.json.decode(t, type=Transaction) for t in blk["txs"]]
        rules = chain.rules_at(state.view, header.height)
        apply_block(state, rules, parent, Block(header, txs, blk["signature"]), now_ms=None)
        state.finish_block()
        parent = header
    return state, parent


def _vector_block(case: dict[str, Any]) -> tuple[Block, list[bytes]]:
    header = msgspec.json.decode(case["header_canonical"], type=BlockHeader)
    raws = [t.encode() for t in case["txs"]]
    txs = []
    for raw in raws:
        try:
            txs.append(msgspec.json.decode(raw, type=Transaction))
        except msgspec.MsgspecError:
            continue
    return Block(header, txs, case["signature"]), raws


def test_invalid_block_vectors() -> None:
    """Block 4 broken one rule at a time is refused with that rule's code and changes
    nothing; the same block unbroken imports."""
    v = vector("invalid_blocks.json")
    state, parent = _state_after_vector_blocks()
    committed, root = dict(state.committed), state.root
    codes = []
    for case in v["cases"]:
        block, raws = _vector_block(case)
        rules = chain.rules_at(state.view, block.header.height)
        with pytest.raises(InvalidBlock) as err:
            apply_block(state, rules, parent, block, now_ms=v["now_ms"], raws=raws)
        assert err.value.code == case["code"], (case["name"], err.value.message)
        assert state.committed == committed
        assert state.root == root
        assert state.block_changes() == {}
        codes.append(case["code"])
    assert len(set(codes)) == len(codes) == 20
    block, raws = _vector_block(v["honest"])
    rules = chain.rules_at(state.view, block.header.height)
    _, result = apply_block(state, rules, parent, block, now_ms=v["now_ms"], raws=raws)
    assert result.state_root == block.header.state_root


def _oracle_root(leaves: list[bytes]) -> str:
    tree = InmemoryTree(algorithm="sha256")
    for leaf in leaves:
        tree.append_entry(leaf)
    return str(tree.get_root().hex())


# RFC 6962 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "tree", cases("merkle_log.json", "trees"), ids=lambda t: f"size {t['size']}"
)
def test_merkle_log_vector(tree: dict[str, Any]) -> None:
    """Roots and audit paths of trees of 0-17 leaves, against the code and pymerkle."""
    leaves = [bytes.fromhex(x) for x in tree["leaves_hex"]]
    assert len(leaves) == tree["size"]
    assert merkle.root(leaves).hex() == tree["root"] == _oracle_root(leaves)
    hashes = [merkle.leaf_hash(x) for x in leaves]
    oracle = InmemoryTree(algorithm="sha256")
    for leaf in leaves:
        oracle.append_entry(leaf)
    for proof in tree["proofs"]:
        path = [bytes.fromhex(h) for h in proof["path"]]
        i = proof["index"]
        assert merkle.inclusion_proof(hashes, i) == path
        assert oracle.prove_inclusion(i + 1).path[1:] == path
        merkle.verify_inclusion(leaves[i], i, len(leaves), path, bytes.fromhex(tree["root"]))


# sparse Merkle tree ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", cases("state_tree.json"), ids=lambda c: c["name"])
def test_state_tree_vector(case: dict[str, Any]) -> None:
    """Roots and proofs of the state tree, against the code and the recomputing model."""
    items = {bytes.fromhex(k): bytes.fromhex(v) for k, v in case["items"]}
    tree = SparseMerkleTree.from_items(items.items())
    root = bytes.fromhex(case["root"])
    assert tree.root == root == ref.root(items)
    for entry in case["proofs"]:
        k = bytes.fromhex(entry["key_hex"])
        value = None if entry["value_hex"] is None else bytes.fromhex(entry["value_hex"])
        assert value == items.get(k)
        assert tree.prove(k).to_json() == entry["proof"]
        proof = StateProof.from_json(entry["proof"])
        verify_proof(root, k, value, proof)
        expected = ref.proof(items, k)
        assert [list(level) for level in proof.levels] == expected.levels
        assert proof.terminal == expected.terminal
        assert proof.terminal_value == expected.terminal_value


def test_state_tree_sequence_vector() -> None:
    """Applying the batches in order gives each listed root (deletes collapse the tree)."""
    tree = SparseMerkleTree()
    model: dict[bytes, bytes] = {}
    for step in vector("state_tree.json")["sequence"]:
        changes = {
            bytes.fromhex(k): None if v is None else bytes.fromhex(v) for k, v in step["changes"]
        }
        for k, v in changes.items():
            if v is None:
                model.pop(k, None)
            else:
                model[k] = v
        assert tree.update(changes).hex() == step["root"] == ref.root(model).hex()
    assert model == {}
    assert tree.root == bytes(32)


# contracts ---------------------------------------------------------------------------------------
def test_contract_vectors_start_from_the_genesis_state() -> None:
    """The contract cases' pre-state is the genesis vector's state."""
    v = vector("contracts.json")
    assert v["pre"] == vector("genesis.json")["state"]
    assert v["pre_root"] == ref.root(state_bytes(v["pre"])).hex()


def test_metering_vectors_start_from_their_setup_block() -> None:
    """The metering cases' pre-state is the genesis vector's state with the setup block on it."""
    v = vector("metering.json")
    state = State(state_bytes(vector("genesis.json")["state"]))
    setup = [prepare(msgspec.json.decode(t, type=Transaction)) for t in v["setup"]]
    receipts = execute_block(state, setup, v["height"] - 1, v["block_time"])
    assert [r.code for r in receipts] == [None] * len(setup)
    state.compute_root()
    state.finish_block()
    assert state.committed == state_bytes(v["pre"])
    assert state.root.hex() == v["pre_root"] == ref.root(state_bytes(v["pre"])).hex()


def test_metering_vectors_refuse_a_reading_for_every_code() -> None:
    """One batch refuses a reading for each refusal code, in the order the rules apply."""
    (batch,) = [c for c in cases("metering.json") if c["name"] == "batch with every refusal"]
    events = json.loads(batch["receipt"])["events"]
    refused = [e["code"] for e in events if e["type"] == "metering.reading_refused"]
    codes = sorted(
        c.code
        for c in all_error_classes()
        if issubclass(c, ReadingRefused) and c is not ReadingRefused
    )
    assert sorted(refused) == codes
    assert refused == [
        "metering.unknown_meter",
        "metering.not_gateway",
        "metering.wrong_interval_length",
        "metering.misaligned",
        "metering.future_interval",
        "metering.before_commissioning",
        "metering.duplicate_in_batch",
        "metering.duplicate_reading",
        "metering.negative_energy",
        "metering.implausible",
    ]


def replay(state: State, case: dict[str, Any], height: int, block_time: int) -> Transaction | None:
    """Run a case's transaction alone as block ``height`` on ``state`` (committed after) and
    check its refusal before execution, or its receipt; the transaction when it executed."""
    tx = msgspec.json.decode(case["tx"], type=Transaction)
    assert tx.encode().decode() == case["tx"]
    if case["stage"] == "prepare":
        with pytest.raises(GridLedgerError) as info:
            prepare(tx)
        assert info.value.code == case["error"]
        return None
    (receipt,) = execute_block(state, [prepare(tx)], height, block_time)
    state.compute_root()
    state.finish_block()
    assert canonical(receipt).decode() == case["receipt"]
    assert receipt.code == case["error"]
    assert receipt.status == ("ok" if case["error"] is None else "failed")
    assert receipt.tx_hash == tx.hash().hex()
    return tx


@pytest.mark.parametrize(
    ("name", "case"),
    [(name, c) for name in TRANSITION_FILES for c in cases(name)],
    ids=lambda x: x["name"] if isinstance(x, dict) else x.removesuffix(".json"),
)
def test_contract_vector(name: str, case: dict[str, Any]) -> None:
    """pre-state + transaction -> receipt and post-state (or the refusal before execution)."""
    v = vector(name)
    state = State(state_bytes(v["pre"]))
    assert state.root.hex() == v["pre_root"]
    tx = replay(state, case, v["height"], v["block_time"])
    if tx is None:
        return
    assert state.committed == state_bytes(case["post"])
    assert state.root.hex() == case["post_root"] == ref.root(state_bytes(case["post"])).hex()
    changed = {
        k for k in set(v["pre"]) | set(case["post"]) if v["pre"].get(k) != case["post"].get(k)
    }
    if case["error"] is not None and case["error"].startswith("tx."):
        assert changed == set()  # the sender itself was refused: nothing moves
    elif case["error"] is not None:
        assert changed == {"nonce/" + tx.sender}  # a refused contract only consumes the nonce


# the market and governance -----------------------------------------------------------------------
NAMED_STATE_FILES = ["market.json", "governance.json"]
"""Files of named states (each a block on its parent) and cases run alone on one of them."""


def named_state(file: str, name: str) -> dict[bytes, bytes]:
    if name == "genesis":
        return state_bytes(vector("genesis.json")["state"])
    return state_bytes(vector(file)["states"][name]["state"])


@pytest.mark.parametrize("file", NAMED_STATE_FILES)
def test_named_states_follow_from_their_blocks(file: str) -> None:
    """Each named state is its block, every receipt ok, on its parent state."""
    for name, s in vector(file)["states"].items():
        state = State(named_state(file, s["parent"]))
        txs = [prepare(msgspec.json.decode(t, type=Transaction)) for t in s["txs"]]
        receipts = execute_block(state, txs, s["height"], s["block_time"])
        assert [r.code for r in receipts] == [None] * len(txs), name
        state.compute_root()
        state.finish_block()
        assert state.committed == named_state(file, name), name
        assert state.root.hex() == s["root"] == ref.root(state.committed).hex(), name


def test_market_vectors_refuse_with_every_market_code() -> None:
    codes = {c["error"] for c in cases("market.json")}
    market_codes = {
        c.code for c in all_error_classes() if c.__module__.startswith(market.__name__ + ".")
    }
    assert len(market_codes) == 21
    assert market_codes <= codes
    assert {"auth.forbidden", "funds.insufficient_balance"} <= codes


def test_market_vectors_clear_under_every_mechanism_with_standing_orders() -> None:
    cleared = {}
    for c in cases("market.json"):
        if c["name"].startswith("clear ") and c["error"] is None:
            (event,) = [e for e in json.loads(c["receipt"])["events"]
                        if e["type"] == "market.cleared"]  # fmt: skip
            cleared[event["mechanism"]] = c
            events = [e["type"] for e in json.loads(c["receipt"])["events"]]
            assert "market.standing_bid_skipped" in events
            orders = [v for k, v in c["changes"].items() if k.startswith("market/order/")]
            assert any('"standing"' in (v or "") for v in orders)
    assert set(cleared) == set(market.MECHANISMS)


@pytest.mark.parametrize(
    ("file", "case"),
    [(file, c) for file in NAMED_STATE_FILES for c in cases(file)],
    ids=lambda x: x["name"] if isinstance(x, dict) else x.removesuffix(".json"),
)
def test_named_state_vector(file: str, case: dict[str, Any]) -> None:
    """pre-state + transaction -> receipt, changed keys and root (or the refusal before
    execution); a refused transaction moves only its sender's nonce."""
    before = named_state(file, case["pre"])
    state = State(dict(before))
    tx = replay(state, case, case["height"], case["block_time"])
    if tx is None:
        return
    after = dict(before)
    for k, v in case["changes"].items():
        if v is None:
            del after[k.encode()]
        else:
            after[k.encode()] = v.encode()
    assert state.committed == after
    assert state.root.hex() == case["post_root"] == ref.root(after).hex()
    if case["error"] is not None:
        assert set(case["changes"]) == {"nonce/" + tx.sender}


def test_governance_vectors_show_effects_from_the_next_height() -> None:
    """In the vectors, two organisations added at height 1 propose from height 2, and the
    rotation executed at height 4 makes the new key sign from height 5, the old one staying
    in the history for the heights before."""
    v = vector("governance.json")
    three = State(named_state("governance.json", "three_orgs"))
    assert chain.rules_at(three, 1).proposers == ["operator"]
    assert chain.rules_at(three, 2).proposers == ["operator", "utility-b", "utility-c"]
    (rotated,) = [c for c in v["cases"] if c["name"].endswith("rotates the key")]
    state = State(named_state("governance.json", rotated["pre"]))
    replay(state, rotated, rotated["height"], rotated["block_time"])
    h = rotated["height"]
    old = consortium.node_key_at(state, "utility-b", h)
    new = consortium.node_key_at(state, "utility-b", h + 1)
    assert old is not None
    assert new is not None
    assert old != new
    assert consortium.node_key_at(state, "utility-b", 1) is None  # added at 1, signs from 2
    assert consortium.node_key_at(state, "utility-b", 2) == old
    codes = {c["error"] for c in v["cases"]} - {None}
    assert {"governance.already_approved", "governance.proposal_expired",
            "governance.proposal_closed", "governance.proposal_required",
            "governance.last_proposer", "governance.not_proposing_org"} <= codes  # fmt: skip


# attestations and finality -----------------------------------------------------------------------
def _oracle_verify(public_key: str, message: bytes, signature: Any) -> bool:
    """Ed25519 by the ``cryptography`` package (not PyNaCl, which the code uses)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not isinstance(signature, str) or not signature.startswith("ed25519:"):
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key.removeprefix("ed25519:")))
        key.verify(bytes.fromhex(signature.removeprefix("ed25519:")), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _oracle_finality(case: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
    """docs/formats.md section 6b read literally: hashlib, the json module and ``cryptography``
    decide who stands behind the block (no gridledger code)."""
    import hashlib

    header, block_hash = case["header"], case["block_hash"]
    height = header["height"]
    if keys["chain_id"] != header["chain_id"]:
        return {"error": "other_chain"}
    if hashlib.sha256(json_oracle(header).encode()).hexdigest() != block_hash:
        return {"error": "header_hash"}
    if height == 0:
        return {"error": "genesis"}

    def key_at(org: str) -> str | None:
        periods = next((o["node_keys"] for o in keys["organisations"] if o["org"] == org), [])
        return next((p["node_key"] for p in reversed(periods) if p["from_height"] <= height), None)

    proposers = next(p["orgs"] for p in reversed(keys["proposers"]) if p["from_height"] <= height)
    counted = set()
    if case["signature"] is not None:
        org = header["proposer"]
        if org not in proposers:
            return {"error": "proposer_not_allowed"}
        key = key_at(org)
        if key is None:
            return {"error": "proposer_no_key"}
        message = b"gridledger/block/v1\n" + bytes.fromhex(block_hash)
        if not _oracle_verify(key, message, case["signature"]):
            return {"error": "bad_block_signature"}
        counted.add(org)
    fields = {"block_hash", "chain_id", "height", "org", "signature", "state_root"}
    seen: set[str] = set()
    rejected = []
    for i, att in enumerate(case["attestations"]):
        reason = None
        if not (isinstance(att, dict) and set(att) == fields and type(att["height"]) is int
                and all(isinstance(att[f], str) for f in fields - {"height"})):  # fmt: skip
            reason = "malformed"
        elif att["chain_id"] != header["chain_id"]:
            reason = "wrong_chain"
        elif att["height"] != height:
            reason = "wrong_height"
        elif att["block_hash"] != block_hash:
            reason = "wrong_block"
        elif att["state_root"] != header["state_root"]:
            reason = "wrong_state_root"
        elif att["org"] not in proposers:
            reason = "not_a_proposer"
        elif key_at(att["org"]) is None:
            reason = "no_node_key"
        else:
            unsigned = {k: v for k, v in att.items() if k != "signature"}
            message = b"gridledger/attestation/v1\n" + json_oracle(unsigned).encode()
            if not _oracle_verify(str(key_at(att["org"])), message, att["signature"]):
                reason = "bad_signature"
            elif att["org"] in seen:
                reason = "duplicate"
        if reason is not None:
            rejected.append({"index": i, "reason": reason})
            continue
        seen.add(att["org"])
        counted.add(att["org"])
    need = len(proposers) * 2 // 3 + 1
    return {
        "final": len(counted) >= need,
        "attested": sorted(counted),
        "quorum": need,
        "proposers": proposers,
        "proposer_signed": case["signature"] is not None,
        "rejected": rejected,
        "beyond_keys": height > keys["up_to_height"],
    }


def test_attestation_vector_keys_file_and_blocks() -> None:
    """The keys file parses and names, for every block, the key that signed it; every file
    in 'keys_invalid' is refused whole."""
    from gridledger.sdk import KeysFileError, parse_keys

    v = vector("attestations.json")
    keys = parse_keys(v["keys"])
    assert keys.up_to_height == 5
    assert keys.proposers_at(1) == ["operator"]
    assert keys.proposers_at(4) == ["operator", "utility-b", "utility-c", "utility-d"]
    for block in v["blocks"]:
        header = json.loads(block["header_canonical"])
        assert sha256(block["header_canonical"].encode()).hex() == block["block_hash"]
        signer = v["node_keys"][block["signed_with"]]
        message = DOMAIN_BLOCK + bytes.fromhex(block["block_hash"])
        assert verify(signer, message, block["signature"])
        assert _oracle_verify(signer, message, block["signature"])
        assert keys.node_key_at(header["proposer"], header["height"]) == signer
    assert keys.node_key_at("utility-b", 3) == v["node_keys"]["node-b"]
    assert keys.node_key_at("utility-b", 4) == v["node_keys"]["node-b-2"]
    for case in v["keys_invalid"]:
        with pytest.raises(KeysFileError):
            parse_keys(case["keys"])


@pytest.mark.parametrize("case", cases("attestations.json"), ids=lambda c: c["name"])
def test_attestation_vector(case: dict[str, Any]) -> None:
    """The SDK and a literal reading of the formats with independent libraries both find
    what the vector expects."""
    from gridledger.sdk import FinalityError, verify_finality

    keys = case.get("keys", vector("attestations.json")["keys"])
    assert _oracle_finality(case, keys) == case["expect"]
    args = (case["header"], case["block_hash"], case["attestations"], keys)
    if "error" in case["expect"]:
        with pytest.raises(FinalityError) as err:
            verify_finality(*args, signature=case["signature"])
        assert case["expect"] == {"error": err.value.reason}
        return
    result = verify_finality(*args, signature=case["signature"])
    assert {
        "final": result.final,
        "attested": result.attested,
        "quorum": result.quorum,
        "proposers": result.proposers,
        "proposer_signed": result.proposer_signed,
        "rejected": [{"index": r.index, "reason": r.reason} for r in result.rejected],
        "beyond_keys": result.beyond_keys,
    } == case["expect"]


@pytest.mark.parametrize("case", cases("attestations.json", "proofs"), ids=lambda c: c["name"])
def test_attestation_proof_vector(case: dict[str, Any]) -> None:
    from gridledger.sdk import ProofError, verify_state_proof, verify_tx_proof

    v = vector("attestations.json")
    proof = {**v["proof_files"][case["base"]], **case["change"]}
    verify = verify_tx_proof if case["base"] == "tx" else verify_state_proof
    # without keys the proof still checks as before: the Merkle part and the header hash
    verify({k: val for k, val in proof.items() if k not in ("final", "attestations")})
    if case["expect"]["valid"]:
        verify(proof, keys=v["keys"])
        return
    with pytest.raises(ProofError) as err:
        verify(proof, keys=v["keys"])
    assert getattr(err.value, "reason", None) == case["expect"]["error"]


def test_attestation_vectors_cover_every_reason() -> None:
    v = vector("attestations.json")
    reasons = {r["reason"] for c in v["cases"] for r in c["expect"].get("rejected", [])}
    assert reasons == {
        "malformed", "wrong_chain", "wrong_height", "wrong_block", "wrong_state_root",
        "not_a_proposer", "bad_signature", "duplicate",
    }  # fmt: skip
    errors = {c["expect"].get("error") for c in v["cases"]} - {None}
    assert errors == {"other_chain", "proposer_not_allowed", "bad_block_signature", "genesis"}
    proofs = {c["expect"].get("error") for c in v["proofs"]} - {None}
    assert proofs == {"final_without_quorum", "bad_block_signature", "malformed"}


# the readings log (formats.md §5a) -------------------------------------------------------------
def test_readings_log_seals_and_genesis() -> None:
    """Each block's seal is the count and RFC 6962 root of its entries in key order; the
    state with those seals has the stated root; a genesis that keeps readings in the log says
    so in one state entry and in its document (so its hash differs from one that does not)."""
    from gridledger.contracts.genesis import load as load_genesis
    from gridledger.node.transition import genesis_writes
    from gridledger.state.state import log_entry, log_seal

    doc = vector("readings_log.json")
    genesis = load_genesis(json.dumps(doc["genesis"]["document"]).encode())
    assert genesis.readings_log is True
    assert genesis.hash().hex() == doc["genesis"]["hash"]
    assert [k.decode() for k in genesis_writes(genesis) if k.startswith(b"chain/layout/")] == (
        doc["genesis"]["layout_entry"]
    )
    without = msgspec.structs.replace(genesis, readings_log=None)
    assert b"readings_log" not in without.encode()
    for blk in doc["blocks"]:
        entries = [(k.encode(), v.encode()) for k, v in blk["entries"]]
        assert entries == sorted(entries)
        assert [log_entry(k, v).hex() for k, v in entries] == blk["entry_hex"]
        assert log_seal(entries).decode() == blk["seal"]
        assert doc["state"][blk["seal_key"]] == blk["seal"]
    tree = SparseMerkleTree.from_items(state_bytes(doc["state"]).items())
    assert tree.root.hex() == doc["state_root"]


@pytest.mark.parametrize("case", cases("readings_log.json"), ids=lambda c: c["name"])
def test_readings_log_proofs(case: dict[str, Any]) -> None:
    """Each log proof, genuine or tampered, is judged as the vector says."""
    from gridledger.sdk import ProofError, verify_log_entry
    from gridledger.state.tree import InvalidStateProof

    root = bytes.fromhex(vector("readings_log.json")["state_root"])
    value = None if case["value_hex"] is None else bytes.fromhex(case["value_hex"])
    try:
        seal_key, seal = verify_log_entry(case["key"].encode(), value, case["log"])
        verify_proof(root, seal_key, seal, StateProof.from_json(case["proof"]))
    except (ProofError, InvalidStateProof):
        valid = False
    else:
        valid = True
    assert valid is case["expect"]["valid"]
