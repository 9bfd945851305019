"""Vectors of the readings log (``docs/formats.md`` §5a): entries, seals, and log proofs.

Three blocks append readings; each block's seal is the count and RFC 6962 root of its entries
in key order, written to the state under ``metering/log/<height>``. The cases are log proofs
of entries (genuine and tampered) with the state proof of their block's seal against the
state root, and what a verifier must conclude. A genesis document that keeps readings in the
log, its hash and its layout entry come first.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import msgspec

from gridledger.contracts.genesis import Genesis, GenesisOrganisation
from gridledger.contracts.metering import keys as metering_keys
from gridledger.core.crypto import SigningKey, sha256
from gridledger.node.transition import genesis_writes
from gridledger.sdk import ProofError, verify_log_entry
from gridledger.state.state import log_entry, log_proof, log_seal
from gridledger.state.tree import InvalidStateProof, SparseMerkleTree, StateProof, verify_proof

CHAIN_ID = "gridledger-vectors"


def _reading(energy_wh: int, height: int) -> bytes:
    doc = {"energy_wh": energy_wh, "gateway": "gw-1", "height": height, "length_s": 3600}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _blocks() -> list[tuple[int, list[tuple[bytes, bytes]]]]:
    """Three blocks' readings: (height, [(key, value)] in key order)."""
    hour = 1_767_225_600
    out = []
    for height, meters in ((2, ["m-a", "m-b", "m-c"]), (3, ["m-a"]), (5, ["m-a", "m-b"])):
        entries = sorted(
            (metering_keys.reading(m, hour + 3600 * height), _reading(100 * height + j, height))
            for j, m in enumerate(meters)
        )
        out.append((height, entries))
    return out


def _case(
    name: str,
    key: bytes,
    value: bytes | None,
    log: dict[str, Any],
    proof: dict[str, Any],
    root: bytes,
) -> dict[str, Any]:
    try:
        seal_key, seal = verify_log_entry(key, value, log)
        verify_proof(root, seal_key, seal, StateProof.from_json(proof))
    except ProofError as exc:
        expect: dict[str, Any] = {"valid": False, "error": f"log: {exc}"}
    except InvalidStateProof as exc:
        expect = {"valid": False, "error": f"state: {exc}"}
    else:
        expect = {"valid": True}
    return {
        "name": name,
        "key": key.decode(),
        "value_hex": None if value is None else value.hex(),
        "log": log,
        "proof": proof,
        "expect": expect,
    }


def log_vectors() -> dict[str, Any]:
    node = SigningKey.from_seed(sha256(b"gridledger-vector-key/node")).public_key
    genesis = Genesis(
        chain_id=CHAIN_ID,
        genesis_time=1_767_225_600_000,
        organisations=[
            GenesisOrganisation(id="operator", name="Operator", roles=["operator"], node_key=node)
        ],
        accounts=[],
        readings_log=True,
    )
    writes = genesis_writes(genesis)
    state: dict[bytes, bytes] = dict(writes)
    state[b"funds/balance/house-a"] = b"1200"
    blocks = []
    for height, entries in _blocks():
        seal = log_seal(entries)
        state[metering_keys.log_seal(height)] = seal
        blocks.append({
            "height": height,
            "entries": [[k.decode(), v.decode()] for k, v in entries],
            "entry_hex": [log_entry(k, v).hex() for k, v in entries],
            "seal_key": metering_keys.log_seal(height).decode(),
            "seal": seal.decode(),
        })  # fmt: skip
    tree = SparseMerkleTree.from_items(state.items())
    root = tree.root
    cases = []
    for height, entries in _blocks():
        seal_key = metering_keys.log_seal(height)
        proof = tree.prove(seal_key).to_json()
        for key, value in entries:
            entry = msgspec.to_builtins(log_proof(entries, key, height))
            log = {**entry, "seal_key": seal_key.decode(), "seal_hex": state[seal_key].hex()}
            cases.append(_case(f"block {height}: {key.decode()}", key, value, log, proof, root))
    # tampered: every part a verifier must check
    height, entries = _blocks()[0]
    key, value = entries[1]
    seal_key = metering_keys.log_seal(height)
    good = {
        **msgspec.to_builtins(log_proof(entries, key, height)),
        "seal_key": seal_key.decode(),
        "seal_hex": state[seal_key].hex(),
    }
    proof = tree.prove(seal_key).to_json()
    other_seal = metering_keys.log_seal(3)
    bad_path = copy.deepcopy(good)
    bad_path["audit_path"][0] = "00" * 32
    tampered: list[tuple[str, bytes, bytes | None, dict[str, Any], dict[str, Any]]] = [
        ("another value", key, _reading(1, height), good, proof),
        ("no value (the log never proves absence)", key, None, good, proof),
        ("another index", key, value, {**good, "index": 0}, proof),
        ("a count the seal does not hold", key, value, {**good, "count": 4}, proof),
        ("a changed audit path", key, value, bad_path, proof),
        ("an audit path one hash short", key, value,
         {**good, "audit_path": good["audit_path"][:-1]}, proof),
        ("the seal key of another block", key, value,
         {**good, "seal_key": other_seal.decode()}, proof),
        ("the proof of another block's seal", key, value, good,
         tree.prove(other_seal).to_json()),
        ("a seal not in canonical form", key, value,
         {**good, "seal_hex": state[seal_key].replace(b":", b": ", 1).hex()}, proof),
        ("a seal with another root", key, value, {**good, "seal_hex": json.dumps(
            {"count": 3, "root": "00" * 32}, separators=(",", ":")).encode().hex()}, proof),
    ]  # fmt: skip
    for name, k, v, log, p in tampered:
        cases.append(_case(name, k, v, log, p, root))
    return {
        "description": "The readings log: entries, block seals and log proofs (formats.md 5a).",
        "genesis": {
            "document": json.loads(genesis.encode()),
            "hash": genesis.hash().hex(),
            "layout_entry": [k.decode() for k in writes if k.startswith(b"chain/layout/")],
        },
        "blocks": blocks,
        "state": {k.decode(): v.decode() for k, v in sorted(state.items())},
        "state_root": root.hex(),
        "cases": cases,
    }
