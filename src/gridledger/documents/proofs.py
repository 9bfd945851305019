"""A certificate bundle's proof file, from a node's committed state.

The bundle record and its device's registry record are proven against the same block (the
tip when asked), with that block's header, hash, signature, the attestations the node kept and
whether it holds the block final: everything :func:`gridledger.sdk.certificate_proofs.
verify_certificate_proof` checks with the consortium keys alone.
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
