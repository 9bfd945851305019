"""``gridledger bench claims``: how long checking one claim proof file takes.

A small chain is built in memory, deterministically (keys from fixed seeds, fixed block
times), the way a node builds blocks (:func:`~gridledger.node.transition.propose_block`):
four proposing organisations (quorum 3), a carbon verifier's organisation and a households
organisation. Block 1 registers house-a's offshore wind farm ``wf-1`` with its daily meter,
house-b's flat ``home-b`` with its hourly meter and CN-GD's factor set for May-June 2025;
block 2 brings three days of May at 1 GWh and 24 hours of the flat's consumption; block 3
registers project ``wf``, verifies May and issues its credits; block 4 retires 1 t for the
households and makes claim ``home-b-2025-05``; block 5 records the verifier's statement;
block 6 withdraws the claim. Proof files are made after blocks 4, 5 and 6 with the
proposer's signature and two attestations (final).

``claim_verify_ms`` is the median time :func:`~gridledger.sdk.claim_proofs.
verify_claim_proof` takes on the verified claim's file, from its bytes (decoding included),
with the consortium keys file; the target is under 1 ms. The test vectors of claim proof
files (``tests/vectors/claims.json``) are made from the same chain.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import msgspec

from gridledger.contracts import chain, consortium
from gridledger.contracts.claims import keys as claim_keys
from gridledger.contracts.credits import keys as credit_keys
from gridledger.contracts.genesis import Genesis, GenesisAccount, GenesisOrganisation
from gridledger.core.crypto import SigningKey, sha256
from gridledger.core.types import Attestation, Block, BlockHeader, Transaction
from gridledger.node.executor import prepare
from gridledger.node.transition import genesis_header, genesis_state, propose_block
from gridledger.sdk.claim_proofs import CLAIM_PROOF_FORMAT, verify_claim_proof
from gridledger.sdk.consortium_keys import build_keys
from gridledger.state.tree import SparseMerkleTree

CHAIN_ID = "gridledger-claims"
GENESIS_MS = 1_749_513_600_000  # 2025-06-10T00:00:00Z
MAY = 1_746_057_600
JUNE = 1_748_736_000
JULY = 1_751_328_000
DAY_S = 86_400
ALL_ROLES = ["operator", "producer", "consumer", "certifier", "carbon_verifier",
             "grid_operator", "regulator"]  # fmt: skip
NODES = {"operator": "node", "utility-b": "node-b", "utility-c": "node-c", "utility-d": "node-d"}
CLAIM_ID = "home-b-2025-05"


def key_of(name: str) -> SigningKey:
    """The deterministic key of ``name`` (the vectors' rule)."""
    return SigningKey.from_seed(sha256(b"gridledger-vectors/" + name.encode()))


def _genesis() -> Genesis:
    orgs = [
        GenesisOrganisation(id="operator", name="Network operator", roles=ALL_ROLES,
                            node_key=key_of("node").public_key),
        *(GenesisOrganisation(id=org, name=f"Utility {org[-1].upper()}", roles=["operator"],
                              node_key=key_of(node).public_key)
          for org, node in list(NODES.items())[1:]),
        GenesisOrganisation(id="auditors", name="Carbon auditors", roles=["carbon_verifier"]),
        GenesisOrganisation(id="households", name="Households", roles=["consumer", "producer"]),
    ]  # fmt: skip
    accounts = [
        ("operator", "operator", ["operator"]),
        ("grid", "operator", ["grid_operator"]),
        ("gw-1", "operator", []),
        ("reg", "operator", ["regulator"]),
        ("verifier-1", "auditors", ["carbon_verifier"]),
        ("house-a", "households", ["consumer", "producer"]),
        ("house-b", "households", ["consumer"]),
    ]
    return Genesis(
        chain_id=CHAIN_ID,
        genesis_time=GENESIS_MS,
        organisations=orgs,
        accounts=[GenesisAccount(id=a, org=o, public_key=key_of(a).public_key, roles=r)
                  for a, o, r in accounts],
    )  # fmt: skip


def _tx(sender: str, nonce: int, kind: str, body: dict[str, Any]) -> Transaction:
    tx = Transaction(chain_id=CHAIN_ID, kind=kind, sender=sender, nonce=nonce, body=body)
    tx.signature = key_of(sender).sign(tx.signing_bytes())
    return tx


SOURCE = {"factor_id": "cn-gd-2022", "publisher": "MEE", "document": "2024 No. 33",
          "year": 2022, "geography": "CN-GD"}  # fmt: skip
FACTOR_SET = {
    "id": "cn-gd-2025", "region": "CN-GD", "start_s": MAY, "end_s": JULY,
    "library_version": "2025.1", "gas": "CO2",
    "grid_average": {"g_per_mwh": 441_900, "gas": "CO2", "boundary": "combustion",
                     "source": SOURCE},
    "fuels": [],
}  # fmt: skip
FARM = {
    "device": "wf-1", "name": "Offshore wind farm, Yangjiang", "technology": "wind_offshore",
    "fuel": "wind", "capacity_w": 100_000_000, "commissioned": "2024-03-01", "country": "CN",
    "grid_region": "CN-GD", "latitude_udeg": 21_700_000, "longitude_udeg": 111_900_000,
    "support": "none",
}  # fmt: skip
HOME_B = {"site": "home-b", "name": "Flat 7, Sea View", "country": "CN",
          "grid_region": "CN-GD", "max_wh_per_hour": 6_000}  # fmt: skip
PROJECT = {"id": "wf", "name": "Offshore wind farm, Yangjiang", "device": "wf-1",
           "methodology": "CDM ACM0002", "baseline": "CN-GD grid electricity",
           "monitoring_plan": "MP-2025-001"}  # fmt: skip
SERIAL = "GLR-VER-CN-1-20250501-20250531-1-1-1299"
CLAIM = {
    "id": CLAIM_ID,
    "subject": {"type": "site", "id": "home-b", "name": "Flat 7, Sea View"},
    "boundary": "electricity used at home-b (scope 2) and declared commuting (scope 3)",
    "start_s": MAY, "end_s": JUNE,
    "baseline_ref": "2024 footprint, report HB-2024", "baseline_g": 2_500_000,
    "plan_ref": "CNMP-HB-2025", "retirements": [1], "scope3_g": 150_000,
}  # fmt: skip
STATEMENT = {"claim": CLAIM_ID, "opinion": "reasonable",
             "statement": "VS-2025-031: fairly stated (ISO 14064-3)"}  # fmt: skip

BLOCKS: list[tuple[str, int, list[tuple[str, int, str, dict[str, Any]]]]] = [
    ("operator", GENESIS_MS + 3_600_000, [
        ("house-a", 1, "registry.register_device", FARM),
        ("grid", 1, "registry.register_meter", {"meter": "m-wf", "kind": "generation",
                                                "device": "wf-1", "gateway": "gw-1",
                                                "interval_s": DAY_S}),
        ("house-b", 1, "registry.register_site", HOME_B),
        ("grid", 2, "registry.register_meter", {"meter": "m-b", "kind": "consumption",
                                                "site": "home-b", "gateway": "gw-1",
                                                "interval_s": 3600}),
        ("reg", 1, "carbon.record_factor_set", FACTOR_SET),
    ]),
    ("utility-b", GENESIS_MS + 3_601_000, [
        ("gw-1", 1, "metering.submit", {"readings": [
            *({"meter": "m-wf", "start": MAY + DAY_S * i, "length_s": DAY_S,
               "energy_wh": 1_000_000_000} for i in range(3)),
            *({"meter": "m-b", "start": MAY + 3600 * i, "length_s": 3600,
               "energy_wh": 1500 + 10 * i} for i in range(24)),
        ]}),
    ]),
    ("utility-c", GENESIS_MS + 3_602_000, [
        ("house-a", 2, "credits.register_project", PROJECT),
        ("verifier-1", 1, "credits.verify_period", {"project": "wf", "id": "2025-05",
                                                    "start_s": MAY, "end_s": JUNE}),
        ("verifier-1", 2, "credits.issue", {"project": "wf", "period": "2025-05"}),
    ]),
    ("utility-d", GENESIS_MS + 3_603_000, [
        ("house-a", 3, "credits.retire", {"serial": SERIAL, "quantity_t": 1,
                                          "beneficiary": "households",
                                          "reason": "home-b carbon neutral, May 2025",
                                          "claim_start_s": MAY, "claim_end_s": JUNE}),
        ("house-b", 2, "claims.make", CLAIM),
    ]),
    ("operator", GENESIS_MS + 3_604_000, [
        ("verifier-1", 3, "claims.verify", STATEMENT),
    ]),
    ("utility-b", GENESIS_MS + 3_605_000, [
        ("house-b", 3, "claims.withdraw", {"claim": CLAIM_ID, "reason": "boundary restated"}),
    ]),
]  # fmt: skip


def attestation(header: BlockHeader, org: str, **change: Any) -> dict[str, Any]:
    """``org``'s node's attestation of ``header`` (fields replaced by ``change``, then signed)."""
    att = Attestation(CHAIN_ID, header.height, header.hash().hex(), header.state_root, org)
    att = msgspec.structs.replace(att, **change)
    att.signature = key_of(NODES[org]).sign(att.signing_bytes())
    shown: dict[str, Any] = msgspec.to_builtins(att)
    return shown


def _entry(items: dict[bytes, bytes], tree: SparseMerkleTree, key: bytes) -> dict[str, Any]:
    return {"key": key.decode(), "value": items[key].decode(), "proof": tree.prove(key).to_json()}


def proof_file(claim_id: str, header: BlockHeader, signature: str, items: dict[bytes, bytes],
               attesters: list[str]) -> dict[str, Any]:  # fmt: skip
    """A claim proof file as a node writes it, from a state's items."""
    tree = SparseMerkleTree.from_items(items.items())
    claim = msgspec.json.decode(items[claim_keys.claim(claim_id)])
    retirements, blocks = [], []
    for claimed in claim["retirements"]:
        retirements.append(_entry(items, tree, credit_keys.retirement(claimed["id"])))
        parts = claimed["serial"].split("-")
        blocks.append(_entry(items, tree, credit_keys.block(int(parts[3]), int(parts[7]))))
    return {
        "format": CLAIM_PROOF_FORMAT,
        "claim_id": claim_id,
        "height": header.height,
        "block_hash": header.hash().hex(),
        "header": msgspec.to_builtins(header),
        "signature": signature,
        "final": bool(attesters),
        "attestations": [attestation(header, org) for org in attesters],
        "claim": _entry(items, tree, claim_keys.claim(claim_id)),
        "retirements": retirements,
        "blocks": blocks,
    }


def build_chain() -> dict[str, Any]:
    """The chain of the module docstring: ``blocks``, ``states`` (height -> committed items
    after blocks 4, 5, 6), ``keys`` (the consortium keys file) and ``proofs`` (``made``,
    ``verified``, ``withdrawn``)."""
    genesis = _genesis()
    state = genesis_state(genesis)
    state.compute_root()
    state.finish_block()
    parent = genesis_header(genesis, state.root)
    blocks: list[Block] = []
    states: dict[int, dict[bytes, bytes]] = {}
    for proposer, time_ms, body in BLOCKS:
        txs = [prepare(_tx(*t)) for t in body]
        proposal = propose_block(state, chain.rules_at(state.view, parent.height + 1), parent,
                                 txs, time_ms, proposer, key_of(NODES[proposer]).sign)  # fmt: skip
        failed = [(r.code, r.message) for r in proposal.result.receipts if not r.ok]
        if proposal.dropped or failed:
            raise RuntimeError(f"block {parent.height + 1} did not run cleanly: {failed}")
        state.finish_block()
        parent = proposal.block.header
        blocks.append(proposal.block)
        if parent.height >= 4:
            states[parent.height] = dict(state.committed)
    view = state.view
    histories = [msgspec.to_builtins(h) for h in consortium.node_keys(view)]
    keys = build_keys(
        CHAIN_ID, len(blocks) + 1, histories,
        lambda h: chain.rules_at(view, h).proposers,
        [u.height for u in chain.upgrades(view)],
    ).to_json()  # fmt: skip
    proofs = {}
    for name, height in (("made", 4), ("verified", 5), ("withdrawn", 6)):
        block = blocks[height - 1]
        attesters = [o for o in NODES if o != block.header.proposer][:2]
        proofs[name] = proof_file(CLAIM_ID, block.header, block.signature, states[height],
                                  attesters)  # fmt: skip
    return {"blocks": blocks, "states": states, "keys": keys, "proofs": proofs}


def run_claims_bench(samples: int = 200) -> dict[str, Any]:
    """``{"claim_verify_ms", "claim_proof_bytes", "samples"}`` (see the module docstring)."""
    built = build_chain()
    raw = msgspec.json.encode(built["proofs"]["verified"])
    keys = built["keys"]
    verify_claim_proof(msgspec.json.decode(raw), keys)  # warm up, and it must hold
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        verify_claim_proof(msgspec.json.decode(raw), keys)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "claim_verify_ms": round(statistics.median(times), 3),
        "claim_proof_bytes": len(raw),
        "samples": samples,
    }
