"""Proof files of certificate bundles and carbon-neutrality claims, from a node's committed
state.

The bundle record and its device's registry record are proven against the same block (the
tip when asked), with that block's header, hash, signature, the attestations the node kept and
whether it holds the block final: everything :func:`gridledger.sdk.certificate_proofs.
verify_certificate_proof` checks with the consortium keys alone. A claim's file proves the
claim, its retirements and their serial blocks against one block in the same way
(:func:`gridledger.sdk.claim_proofs.verify_claim_proof`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from gridledger.core.errors import NodeError, NotFound
from gridledger.node.node import Node
from gridledger.sdk.certificate_proofs import (
    CERTIFICATE_PROOF_FORMAT,
    bundle_state_key,
    device_state_key,
    parse_bundle_id,
)
from gridledger.sdk.claim_proofs import (
    CLAIM_PROOF_FORMAT,
    ClaimProofError,
    block_state_key,
    claim_state_key,
    parse_serial,
    retirement_state_key,
)
from gridledger.sdk.claim_proofs import ID_RE as CLAIM_ID_RE
from gridledger.state.store import StoreCorrupt

TRIES = 20
"""Proving two keys takes two looks at the tip; a block may land between them. Each retry is
a few milliseconds, and a node cuts a block at most every few milliseconds."""


def _entry(key: str, value: bytes, proof: dict[str, object]) -> dict[str, Any]:
    return {"key": key, "value": value.decode("utf-8"), "proof": proof}


def certificate_proof(node: Node, bundle_id: str) -> dict[str, Any]:
    """The proof file (``gridledger/certificate-proof/v1``) of ``bundle_id`` at the node's tip.

    Raises:
        CertificateProofError: ``bad_id``: ``bundle_id`` is not ``<device>:<range_start>``.
        NotFound: no bundle has that id.
        NodeError: blocks kept landing between the two proofs (retry).
        StoreCorrupt: the node's state holds the bundle but not its device, or the block is
            missing (a damaged store).
    """
    device, _first = parse_bundle_id(bundle_id)
    bundle_key, device_key = bundle_state_key(bundle_id), device_state_key(device)
    for _ in range(TRIES):
        header, bundle_value, bundle_proof = node.prove_state(bundle_key.encode())
        if bundle_value is None:
            raise NotFound(f"no certificate bundle {bundle_id!r}")
        again, device_value, device_proof = node.prove_state(device_key.encode())
        if again.height == header.height:
            break
    else:
        raise NodeError(f"blocks kept coming while proving {bundle_id}; retry shortly")
    if device_value is None:
        raise StoreCorrupt(f"bundle {bundle_id} names device {device}, which is not in the state")
    blk = node.store.block(header.height)
    if blk is None:
        raise StoreCorrupt(f"block {header.height} is not stored")
    return {
        "format": CERTIFICATE_PROOF_FORMAT,
        "bundle_id": bundle_id,
        "height": header.height,
        "block_hash": blk.hash.hex(),
        "header": msgspec.json.decode(blk.header),
        "signature": blk.signature,
        "final": node.block_final(header.height),
        "attestations": [
            msgspec.json.decode(raw) for raw in node.store.attestations(header.height)
        ],
        "bundle": _entry(bundle_key, bundle_value, bundle_proof.to_json()),
        "device": _entry(device_key, device_value, device_proof.to_json()),
    }


def claim_proof(node: Node, claim_id: str) -> dict[str, Any]:
    """The proof file (``gridledger/claim-proof/v1``) of claim ``claim_id`` at the node's tip:
    the claim record, and for each retirement it lists the retirement record and its retired
    serial block, all proven against the same block.

    Raises:
        ClaimProofError: ``bad_id``: not a claim id.
        NotFound: no claim has that id.
        StoreCorrupt: the claim names a retirement or block the state lacks, or the block is
            missing (a damaged store).
    """
    if not CLAIM_ID_RE.match(claim_id):
        raise ClaimProofError("bad_id", f"{claim_id!r} is not a claim id")
    claim_key = claim_state_key(claim_id)
    header, claim_value, claim_proof_ = node.prove_state(claim_key.encode())
    if claim_value is None:
        raise NotFound(f"no claim {claim_id!r}")
    height = header.height
    claim = msgspec.json.decode(claim_value)
    retirements, blocks = [], []
    for claimed in claim["retirements"]:
        n = int(claimed["id"])
        key = retirement_state_key(n)
        _h, value, proof = node.prove_state(key.encode(), height)
        if value is None:
            raise StoreCorrupt(f"claim {claim_id} names retirement {n}, which is not in the state")
        retirements.append(_entry(key, value, proof.to_json()))
        number, first, _last = parse_serial(str(claimed["serial"]))
        key = block_state_key(number, first)
        _h, value, proof = node.prove_state(key.encode(), height)
        if value is None:
            raise StoreCorrupt(f"retirement {n}'s block {claimed['serial']} is not in the state")
        blocks.append(_entry(key, value, proof.to_json()))
    blk = node.store.block(height)
    if blk is None:
        raise StoreCorrupt(f"block {height} is not stored")
    return {
        "format": CLAIM_PROOF_FORMAT,
        "claim_id": claim_id,
        "height": height,
        "block_hash": blk.hash.hex(),
        "header": msgspec.json.decode(blk.header),
        "signature": blk.signature,
        "final": node.block_final(height),
        "attestations": [msgspec.json.decode(raw) for raw in node.store.attestations(height)],
        "claim": _entry(claim_key, claim_value, claim_proof_.to_json()),
        "retirements": retirements,
        "blocks": blocks,
    }
