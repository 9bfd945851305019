"""The record card vectors (``cards.json``): record card proof files, genuine and refused.

Written by ``generate.py`` beside the other vectors, deterministic like them. The chain is the
certificate vectors' (``certificate_vectors.py``): after block 4 house-b (a consumer of the
``households`` organisation) holds the first 1,000 Wh of pv-a's 2025-06-01 10:00 UTC bundle,
cancelled for its flat ``home-b`` and claimed; tuv-shenzhen (``TÜV Shenzhen``) issued it. That
chain records no factor set, so the card avoids 0 g. Files are made after block 4 with the
proposer's signature and two attestations (final), in the zone ``Asia/Shanghai``.

Each refused file is a genuine one changed in one way, or a hostile proposer's: the state after
block 4 with one record rewritten, its root in block 4's header re-signed with the proposer's
key (no attestations), so its Merkle proofs hold and only the verifier's own rules refuse it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
from certificate_vectors import NODES, _attest, _chain, key_of
from tampering import edited, refusals

from gridledger.contracts.certificates import keys as cert_keys
from gridledger.contracts.registry import keys as registry_keys
from gridledger.core.types import BlockHeader
from gridledger.sdk.card_proofs import (
    CARD_PROOF_FORMAT,
    CardProofError,
    month_window,
    verify_card_proof,
)
from gridledger.state.tree import SparseMerkleTree

ZONE = "Asia/Shanghai"


def card_file(header: BlockHeader, signature: str, items: dict[bytes, bytes],
              tree: SparseMerkleTree, attesters: list[str], account: str,
              month: str) -> dict[str, Any]:  # fmt: skip
    """A record card proof file as a node writes it (no factor set in this chain)."""
    start, end = month_window(month, ZONE)
    wanted = [registry_keys.account(account)]
    prefix = cert_keys.claims_of(account)
    low, high = prefix + cert_keys.time_part(start), prefix + cert_keys.time_part(end)
    for key in sorted(k for k in items if low <= k < high):
        wanted.append(key)
        bundle_id = key[len(prefix) + 11 :].decode()
        device, first = bundle_id.rsplit(":", 1)
        bundle = json.loads(items[cert_keys.bundle(device, int(first))])
        wanted += [cert_keys.bundle(device, int(first)),
                   registry_keys.organisation(bundle["issuing_body"]),
                   registry_keys.site(bundle["cancellation"]["site"])]  # fmt: skip
    return {
        "format": CARD_PROOF_FORMAT,
        "account": account,
        "month": month,
        "time_zone": ZONE,
        "height": header.height,
        "block_hash": header.hash().hex(),
        "header": msgspec.to_builtins(header),
        "signature": signature,
        "final": bool(attesters),
        "attestations": [_attest(header, org) for org in attesters],
        "records": [
            {"key": k.decode(), "value": items[k].decode(), "proof": tree.prove(k).to_json()}
            for k in sorted(set(wanted))
        ],
    }


def _genuine(built: dict[str, Any], account: str, month: str) -> dict[str, Any]:
    items, block = built["state4"]
    tree = SparseMerkleTree.from_items(items.items())
    assert tree.root.hex() == block.header.state_root
    attesters = [o for o in NODES if o != block.header.proposer][:2]
    return card_file(block.header, block.signature, items, tree, attesters, account, month)


def _forged(built: dict[str, Any], key: bytes, edit: Callable[[bytes], bytes]) -> dict[str, Any]:
    items, block = built["state4"]
    items = dict(items)
    items[key] = edit(items[key])
    tree = SparseMerkleTree.from_items(items.items())
    header = msgspec.structs.replace(block.header, state_root=tree.root.hex())
    signature = key_of(NODES[header.proposer]).sign(header.signing_bytes())
    return card_file(header, signature, items, tree, [], "house-b", "2025-06")


def _json_edit(change: Callable[[dict[str, Any]], None]) -> Callable[[bytes], bytes]:
    def edit(raw: bytes) -> bytes:
        record = json.loads(raw)
        change(record)
        return json.dumps(record, separators=(",", ":"), sort_keys=True,
                          ensure_ascii=False).encode()  # fmt: skip

    return edit


def _refused(built: dict[str, Any], card: dict[str, Any]) -> list[dict[str, Any]]:
    items, _block = built["state4"]
    tree = SparseMerkleTree.from_items(items.items())
    bundle_key = cert_keys.bundle("pv-a", 1)
    claim_key = next(k for k in items if k.startswith(cert_keys.claims_of("house-b")))
    device_key = registry_keys.device("pv-a")
    device = {"key": device_key.decode(), "value": items[device_key].decode(),
              "proof": tree.prove(device_key).to_json()}  # fmt: skip

    def bundle_at(f: dict[str, Any]) -> dict[str, Any]:
        return next(r for r in f["records"] if r["key"] == bundle_key.decode())

    cases: list[tuple[str, dict[str, Any]]] = [
        ("another format", edited(card, lambda f: f.update(format="gridledger/x/v1"))),
        ("a field added", edited(card, lambda f: f.update(note="x"))),
        ("a month spelt 2025-6", edited(card, lambda f: f.update(month="2025-6"))),
        ("an unknown time zone", edited(card, lambda f: f.update(time_zone="Mars/Olympus"))),
        ("the header changed", edited(card, lambda f: f["header"].update(tx_count=9))),
        ("final claimed without attestations", edited(card, lambda f: f.update(attestations=[]))),
        ("the bundle's value changed", edited(card, lambda f: bundle_at(f).update(
            value=bundle_at(f)["value"].replace('"quantity_wh":1000', '"quantity_wh":9000')))),
        ("the certifier's record left out", edited(card, lambda f: f.update(records=[
            r for r in f["records"] if not r["key"].startswith("registry/org/")]))),
        ("a record the card does not use", edited(card, lambda f: f["records"].append(device))),
        ("a record given twice", edited(card, lambda f: f["records"].append(f["records"][0]))),
        ("another month than the claim's", edited(card, lambda f: f.update(month="2025-07"))),
        ("another account's file", edited(card, lambda f: f.update(account="house-a"))),
        ("forged: the bundle claimed for another beneficiary", _forged(
            built, bundle_key, _json_edit(lambda r: r["cancellation"].update(
                beneficiary="house-a")))),
        ("forged: the bundle's fields changed, its hash kept", _forged(
            built, bundle_key, _json_edit(lambda r: r.update(technology="wind")))),
        ("forged: a claim entry holding 2", _forged(built, claim_key, lambda raw: b"2")),
    ]  # fmt: skip
    return refusals(cases, lambda file: verify_card_proof(file, built["keys"]), CardProofError)


def card_vectors() -> dict[str, Any]:
    built = _chain()
    genuine = {
        "june": _genuine(built, "house-b", "2025-06"),
        "may_without_claims": _genuine(built, "house-b", "2025-05"),
    }
    not_household = _genuine(built, "tuv-1", "2025-06")
    try:
        verify_card_proof(not_household, built["keys"])
    except CardProofError as exc:
        if exc.reason != "not_household":
            raise AssertionError(f"a certifier's card: {exc.reason}") from None
    else:
        raise AssertionError("a certifier's card checks out")
    expect = {}
    for name, file in genuine.items():
        shown = verify_card_proof(file, built["keys"]).to_json()
        expect[name] = {k: shown[k] for k in ("final", "claimed_wh", "hours", "avoided_g",
                                              "bundles", "certifiers", "factors")}  # fmt: skip
    refused = _refused(built, genuine["june"])
    refused.append({"name": "a certifier's account", "file": not_household,
                    "reason": "not_household"})  # fmt: skip
    return {
        "description": (
            "Record card proof files (docs/formats.md section 6f): genuine files with the "
            "figures they prove, and refused files with the reason; checked with the "
            "consortium keys file 'keys'."
        ),
        "keys": built["keys"],
        "genuine": {name: {"file": file, "expect": expect[name]} for name, file in genuine.items()},
        "refused": refused,
    }
