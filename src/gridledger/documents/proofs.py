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

from collections.abc import Iterator
from typing import Any

import msgspec

from gridledger.contracts import carbon
from gridledger.contracts.carbon import keys as carbon_keys
from gridledger.contracts.certificates import keys as cert_keys
from gridledger.contracts.certificates.records import Bundle
from gridledger.contracts.registry import ID_RE as ACCOUNT_ID_RE
from gridledger.contracts.registry import keys as registry_keys
from gridledger.contracts.registry.records import Account, Site
from gridledger.core.errors import GridLedgerError, NodeError, NotFound
from gridledger.node.node import Node
from gridledger.sdk.card_proofs import CARD_PROOF_FORMAT, CardProofError, month_window
from gridledger.sdk.card_proofs import MONTH_RE as CARD_MONTH_RE
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
from gridledger.state.state import StateReader
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


def card_proof(node: Node, account: str, month: str, time_zone: str) -> dict[str, Any]:
    """The record card proof file (``gridledger/record-card/v1``) of household ``account``
    for local month ``month`` of ``time_zone`` at the node's tip: the account, every claim
    entry of the month with its bundle, the bundles' sites and certifier organisations, and
    the factor set (with the region map when the lookup fell back) of each site, all proven
    against the same block.

    Raises:
        CardProofError: ``bad_subject``: not an account id or a month.
        NotFound: no consumer account ``account``.
        StoreCorrupt: the block is missing (a damaged store).
    """
    if not isinstance(account, str) or not ACCOUNT_ID_RE.fullmatch(account):
        raise CardProofError("bad_subject", f"{account[:64]!r} is not an account id")
    if not CARD_MONTH_RE.fullmatch(month):
        raise CardProofError("bad_subject", f"{month[:16]!r} is not a month YYYY-MM")
    header, value, proof = node.prove_state(registry_keys.account(account))
    if value is None or "consumer" not in msgspec.json.decode(value, type=Account).roles:
        raise NotFound(f"no household account {account!r}")
    height = header.height
    entries = {registry_keys.account(account): _entry(
        registry_keys.account(account).decode(), value, proof.to_json())}  # fmt: skip
    holder = msgspec.json.decode(value, type=Account)
    start_s, end_s = month_window(month, time_zone)
    view = node.state.view
    prefix = cert_keys.claims_of(account)
    wanted: list[bytes] = []
    sites: set[str] = set()
    for key, _v in view.scan_range(prefix, cert_keys.time_part(start_s),
                                   cert_keys.time_part(end_s)):  # fmt: skip
        wanted.append(key)
    for key in wanted:
        _h, claim_value, claim_proof = node.prove_state(key, height)
        if claim_value is None:  # claimed after the block proven
            continue
        bundle_id = key[len(prefix) + 11 :].decode()
        device, first = bundle_id.rsplit(":", 1)
        bundle_key = cert_keys.bundle(device, int(first))
        _h, bundle_value, bundle_proof = node.prove_state(bundle_key, height)
        if bundle_value is None:
            raise StoreCorrupt(f"claim entry {key.decode()} names a bundle the state lacks")
        bundle = msgspec.json.decode(bundle_value, type=Bundle)
        if bundle.cancellation is None:
            raise StoreCorrupt(f"claimed bundle {bundle_id} holds no cancellation")
        entries[key] = _entry(key.decode(), claim_value, claim_proof.to_json())
        entries[bundle_key] = _entry(bundle_key.decode(), bundle_value, bundle_proof.to_json())
        entries.setdefault(registry_keys.organisation(bundle.issuing_body), {})
        sites.add(bundle.cancellation.site)
    factor_time = carbon.month_bounds(month)[0]
    at_height = _ProvenView(node, height)
    for site_id in sorted(sites):
        site_key = registry_keys.site(site_id)
        entries[site_key] = at_height.entry(site_key)
        site = msgspec.json.decode(entries[site_key]["value"], type=Site)
        if site.owner_org != holder.org:
            continue
        try:
            lookup = carbon.factor_for(at_height, site.grid_region, factor_time)
        except GridLedgerError:
            continue
        set_key = carbon_keys.factor_set(lookup.set.region, lookup.set.start_s)
        entries[set_key] = at_height.entry(set_key)
        if lookup.fallback:
            entries[carbon_keys.regions()] = at_height.entry(carbon_keys.regions())
    for key, entry in list(entries.items()):
        if not entry:
            entries[key] = at_height.entry(key)
    blk = node.store.block(height)
    if blk is None:
        raise StoreCorrupt(f"block {height} is not stored")
    return {
        "format": CARD_PROOF_FORMAT,
        "account": account,
        "month": month,
        "time_zone": time_zone,
        "height": height,
        "block_hash": blk.hash.hex(),
        "header": msgspec.json.decode(blk.header),
        "signature": blk.signature,
        "final": node.block_final(height),
        "attestations": [msgspec.json.decode(raw) for raw in node.store.attestations(height)],
        "records": [entries[k] for k in sorted(entries)],
    }


class _ProvenView(StateReader):
    """The state at one height, read through the node's proofs (so whatever the factor lookup
    reads is what the file proves)."""

    def __init__(self, node: Node, height: int) -> None:
        self._node, self._height = node, height

    def get(self, key: bytes) -> bytes | None:
        return self._node.prove_state(key, self._height)[1]

    def entry(self, key: bytes) -> dict[str, Any]:
        _h, value, proof = self._node.prove_state(key, self._height)
        if value is None:
            raise StoreCorrupt(f"{key.decode()} is not in the state at {self._height}")
        return _entry(key.decode(), value, proof.to_json())

    def scan_range(
        self,
        prefix: bytes,
        start: bytes = b"",
        end: bytes | None = None,
        limit: int | None = None,
        *,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        # factor sets are never removed, so the tip's keys cover the height's
        for key, _v in self._node.state.view.scan_range(prefix, start, end, None, reverse=reverse):
            value = self.get(key)
            if value is None:
                continue
            yield key, value
            if limit is not None:
                limit -= 1
                if limit <= 0:
                    return
