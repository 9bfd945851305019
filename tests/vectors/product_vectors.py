"""The product vectors (``products.json``): product proof files, genuine and refused.

Written by ``generate.py`` beside the other vectors, deterministic like them. The chain is the
certificate vectors' genesis (``gridledger-certificates``: four proposing organisations,
quorum 3; the ``households`` organisation with house-a, the certification body ``tuv-shenzhen``
with tuv-1). Block 1 registers house-a's works ``works-a``, the aluminium ingot type (kg) and
starts batch ``L1``; block 2 completes it (1,000 kg), records its footprint from two default
inputs, registers the rim type (9 kg pieces) and the rims ``S1`` and ``S2`` and ships ``S1``
to tuv-shenzhen; block 3 has tuv-1 receive ``S1`` and house-a recall ``S2``. Proof files are
made after block 3 with the proposer's signature and two attestations (final).

Each refused file is a genuine one changed in one way, or a hostile proposer's: the state
after block 3 with one record rewritten, its root in block 3's header re-signed with the
proposer's key (no attestations), so its Merkle proofs hold and only the verifier's own rules
refuse it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
from certificate_vectors import CHAIN_ID, GENESIS_MS, NODES, _attest, _genesis, _tx, key_of
from tampering import edited, refusals

from gridledger.contracts import chain, consortium
from gridledger.contracts.products import keys as product_keys
from gridledger.contracts.products.gs1 import check_digit
from gridledger.core.types import BlockHeader
from gridledger.node.executor import prepare
from gridledger.node.transition import genesis_header, genesis_state, propose_block
from gridledger.sdk.consortium_keys import build_keys
from gridledger.sdk.product_proofs import (
    PRODUCT_PROOF_FORMAT,
    ProductProofError,
    verify_product_proof,
)
from gridledger.state.tree import SparseMerkleTree

INGOT = "0695000000001" + str(check_digit("0695000000001"))
RIM = "0695000000002" + str(check_digit("0695000000002"))
DEFAULTS = [
    {"id": "alumina", "description": "alumina, CN 28182000, default values", "mass_g": 1_930_000,
     "direct_g_per_kg": 80, "indirect_g_per_kg": 520, "gas": "CO2", "source": "test defaults"},
    {"id": "anode", "description": "pre-baked anode, default values", "mass_g": 420_000,
     "direct_g_per_kg": 1_600, "indirect_g_per_kg": 0, "gas": "CO2", "source": "test defaults"},
]  # fmt: skip

BLOCKS: list[tuple[str, int, list[tuple[str, int, str, dict[str, Any]]]]] = [
    ("operator", GENESIS_MS + 12 * 3_600_000, [
        ("house-a", 1, "registry.register_site", {
            "site": "works-a", "name": "Smelter works A", "country": "CN",
            "grid_region": "CN-GD", "max_wh_per_hour": 100_000_000}),
        ("house-a", 2, "products.register_type", {"gtin": INGOT, "name": "Aluminium ingot",
                                                  "unit": "kg", "cn_code": "76011000"}),
        ("house-a", 3, "products.register_batch", {"gtin": INGOT, "lot": "L1",
                                                   "site": "works-a"}),
    ]),
    ("utility-b", GENESIS_MS + 20 * 3_600_000, [
        ("house-a", 4, "products.complete_batch", {"gtin": INGOT, "lot": "L1",
                                                   "quantity": 1000}),
        ("house-a", 5, "products.record_footprint", {"gtin": INGOT, "lot": "L1",
                                                     "defaults": DEFAULTS}),
        ("house-a", 6, "products.register_type", {"gtin": RIM, "name": "Wheel rim",
                                                  "unit": "unit", "unit_mass_g": 9000}),
        ("house-a", 7, "products.register_items", {"gtin": RIM, "serials": ["S1", "S2"]}),
        ("house-a", 8, "products.ship", {"gtin": RIM, "serial": "S1", "to": "tuv-shenzhen"}),
    ]),
    ("utility-c", GENESIS_MS + 21 * 3_600_000, [
        ("tuv-1", 1, "products.receive", {"gtin": RIM, "serial": "S1"}),
        ("house-a", 9, "products.recall", {"gtin": RIM, "serial": "S2",
                                           "reason": "porosity in the casting"}),
    ]),
]  # fmt: skip


def _chain() -> dict[str, Any]:
    genesis = _genesis()
    state = genesis_state(genesis)
    state.compute_root()
    state.finish_block()
    parent = genesis_header(genesis, state.root)
    block = None
    for proposer, time_ms, body in BLOCKS:
        txs = [prepare(_tx(*t)) for t in body]
        proposal = propose_block(state, chain.rules_at(state.view, parent.height + 1), parent,
                                 txs, time_ms, proposer, key_of(NODES[proposer]).sign)  # fmt: skip
        failed = [(r.code, r.message) for r in proposal.result.receipts if not r.ok]
        if proposal.dropped or failed:
            raise AssertionError(f"block {parent.height + 1} did not run cleanly: {failed}")
        state.finish_block()
        block = proposal.block
        parent = block.header
    assert block is not None
    view = state.view
    histories = [msgspec.to_builtins(h) for h in consortium.node_keys(view)]
    keys = build_keys(
        CHAIN_ID, block.header.height + 1, histories,
        lambda h, view=view: chain.rules_at(view, h).proposers,
        [u.height for u in chain.upgrades(view)],
    ).to_json()  # fmt: skip
    return {"items": dict(state.committed), "block": block, "keys": keys}


def subject_keys(items: dict[bytes, bytes], gtin: str, lot: str | None,
                 serial: str | None) -> list[bytes]:  # fmt: skip
    """The keys a node proves for a subject (``documents.passport.product_proof``)."""
    product = json.loads(items[product_keys.product_type(gtin)])
    out = [product_keys.product_type(gtin), b"registry/org/" + product["org"].encode()]
    if lot is not None:
        batch = json.loads(items[product_keys.batch(gtin, lot)])
        return [*out, product_keys.batch(gtin, lot), b"registry/site/" + batch["site"].encode(),
                product_keys.footprint(gtin, lot)]  # fmt: skip
    assert serial is not None
    item = json.loads(items[product_keys.item(gtin, serial)])
    out += [product_keys.item(gtin, serial)]
    out += [product_keys.event(gtin, serial, n) for n in range(1, item["events"] + 1)]
    return out


def proof_file(header: BlockHeader, signature: str, items: dict[bytes, bytes],
               tree: SparseMerkleTree, attesters: list[str], gtin: str, lot: str | None = None,
               serial: str | None = None) -> dict[str, Any]:  # fmt: skip
    subject = {"gtin": gtin, "lot": lot} if lot is not None else {"gtin": gtin, "serial": serial}
    return {
        "format": PRODUCT_PROOF_FORMAT,
        "subject": subject,
        "height": header.height,
        "block_hash": header.hash().hex(),
        "header": msgspec.to_builtins(header),
        "signature": signature,
        "final": bool(attesters),
        "attestations": [_attest(header, org) for org in attesters],
        "records": [
            {"key": k.decode(), "value": items[k].decode(), "proof": tree.prove(k).to_json()}
            for k in sorted(subject_keys(items, gtin, lot, serial))
        ],
    }


SUBJECTS = {"batch": (INGOT, "L1", None), "item": (RIM, None, "S1"), "recalled": (RIM, None, "S2")}


def _genuine(built: dict[str, Any]) -> dict[str, dict[str, Any]]:
    items, block = built["items"], built["block"]
    tree = SparseMerkleTree.from_items(items.items())
    assert tree.root.hex() == block.header.state_root
    attesters = [o for o in NODES if o != block.header.proposer][:2]
    return {
        name: proof_file(block.header, block.signature, items, tree, attesters, *subject)
        for name, subject in SUBJECTS.items()
    }


def _forged(built: dict[str, Any], subject: str, key: bytes,
            edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:  # fmt: skip
    items = dict(built["items"])
    record = json.loads(items[key])
    edit(record)
    items[key] = json.dumps(record, separators=(",", ":"), sort_keys=True).encode()
    tree = SparseMerkleTree.from_items(items.items())
    header = msgspec.structs.replace(built["block"].header, state_root=tree.root.hex())
    signature = key_of(NODES[header.proposer]).sign(header.signing_bytes())
    return proof_file(header, signature, items, tree, [], *SUBJECTS[subject])


def _refused(built: dict[str, Any], genuine: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    batch, item = genuine["batch"], genuine["item"]
    fp_key = product_keys.footprint(INGOT, "L1")
    cases: list[tuple[str, dict[str, Any]]] = [
        ("another format", edited(batch, lambda f: f.update(format="gridledger/x/v1"))),
        ("a GTIN with a wrong check digit", edited(
            batch, lambda f: f["subject"].update(gtin=INGOT[:-1] + "0"))),
        ("the header changed", edited(batch, lambda f: f["header"].update(tx_count=9))),
        ("final claimed without attestations", edited(batch, lambda f: f.update(attestations=[]))),
        ("a record's value changed", edited(batch, lambda f: f["records"][2].update(
            value=f["records"][2]["value"].replace("1000", "1001")))),
        ("a record left out", edited(batch, lambda f: f["records"].pop(1))),
        ("a custody event left out", edited(item, lambda f: f.update(
            records=[r for r in f["records"] if not r["key"].endswith("/000002")]))),
        ("a record given twice", edited(batch, lambda f: f["records"].append(f["records"][0]))),
        ("forged: a footprint whose totals are not its parts'", _forged(
            built, "batch", fp_key, lambda r: r.update(total_market_g=1))),
        ("forged: a batch still in production", _forged(
            built, "batch", product_keys.batch(INGOT, "L1"),
            lambda r: r.update(status="in_production"))),
    ]  # fmt: skip
    return refusals(
        cases, lambda file: verify_product_proof(file, built["keys"]), ProductProofError
    )


def product_vectors() -> dict[str, Any]:
    built = _chain()
    genuine = _genuine(built)
    expect = {}
    for name, file in genuine.items():
        seen_at = "tuv-shenzhen" if name != "batch" else None
        summary = verify_product_proof(file, built["keys"], seen_at=seen_at).to_json()
        expect[name] = {
            "seen_at": seen_at,
            "verdict": summary.get("verdict"),
            "reasons": summary.get("reasons"),
            "final": summary["final"],
            "footprint": summary["footprint"],
        }
    two = verify_product_proof(genuine["item"], built["keys"], seen_at="households").to_json()
    return {
        "description": (
            "Product proof files (docs/formats.md section 6d): genuine files with what they "
            "prove (verdicts judged at the block's time, seen at the named organisation), and "
            "refused files with the reason; checked with the consortium keys file 'keys'."
        ),
        "keys": built["keys"],
        "genuine": {name: {"file": file, "expect": expect[name]} for name, file in genuine.items()},
        "seen_elsewhere": {
            "file": "item",
            "seen_at": "households",
            "verdict": two["verdict"],
            "reasons": two["reasons"],
        },
        "refused": _refused(built, genuine),
    }
