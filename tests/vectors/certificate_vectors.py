"""The certificate vectors (``certificates.json``): proof files, tampered ones, and QR payloads.

Written by ``generate.py`` beside the other vectors (``GENERATORS``), deterministic like them:
keys from fixed seeds (``SHA-256("gridledger-vectors/" + name)``), fixed block times.

The chain (``gridledger-certificates``) has four proposing organisations (quorum 3) and a
certification body. Block 1 registers house-a's 10 kW PV plant ``pv-a`` with its meter and
house-b's flat; block 2 brings eight quarter-hour readings of 2025-06-01 10:00-12:00 UTC;
block 3 (13:00) issues a bundle per hour; block 4 moves the first 1000 Wh of the 10:00 bundle
to house-b, who cancels and claims them for its flat; block 5 withdraws the 11:00 bundle.
Proof files are made after blocks 3, 4 and 5, with the proposer's signature and two
attestations (3 of 4 organisations: final).

Forged files come from a hostile proposer: the state after block 4 with one record replaced,
its root in a header signed with the proposer's real key. Their Merkle proofs hold, so only the
verifier's own checks of the records (key, quantity, hash, device) can refuse them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
from tampering import delta_of, edited

from gridledger.contracts import chain, consortium
from gridledger.contracts.certificates import keys as cert_keys
from gridledger.contracts.genesis import Genesis, GenesisAccount, GenesisOrganisation
from gridledger.contracts.registry import keys as registry_keys
from gridledger.core.crypto import SigningKey, sha256
from gridledger.core.types import Attestation, BlockHeader, Transaction
from gridledger.node.executor import prepare
from gridledger.node.transition import genesis_header, genesis_state, propose_block
from gridledger.sdk.certificate_proofs import (
    CERTIFICATE_PROOF_FORMAT,
    IMMUTABLE_FIELDS,
    CertificateProofError,
    bundle_hash_of,
    qr_payload_of,
    verify_certificate_proof,
    verify_qr_payload,
)
from gridledger.sdk.consortium_keys import build_keys
from gridledger.state.tree import SparseMerkleTree

CHAIN_ID = "gridledger-certificates"
GENESIS_MS = 1_748_736_000_000  # 2025-06-01T00:00:00Z
H1 = GENESIS_MS // 1000 + 10 * 3600  # 10:00 UTC
H2 = H1 + 3600
ALL_ROLES = ["operator", "producer", "consumer", "certifier", "carbon_verifier",
             "grid_operator", "regulator"]  # fmt: skip
NODES = {"operator": "node", "utility-b": "node-b", "utility-c": "node-c", "utility-d": "node-d"}
READINGS_WH = [2101, 2230, 2345, 2402, 2398, 2280, 2150, 1987]
"""Quarter hours from 10:00 to 12:00: 9078 Wh in the first hour, 8815 in the second."""


def key_of(name: str) -> SigningKey:
    return SigningKey.from_seed(sha256(b"gridledger-vectors/" + name.encode()))


def _genesis() -> Genesis:
    orgs = [
        GenesisOrganisation(id="operator", name="Network operator", roles=ALL_ROLES,
                            node_key=key_of("node").public_key),
        *(GenesisOrganisation(id=org, name=f"Utility {org[-1].upper()}", roles=["operator"],
                              node_key=key_of(node).public_key)
          for org, node in list(NODES.items())[1:]),
        GenesisOrganisation(id="tuv-shenzhen", name="TÜV Shenzhen", roles=["certifier"]),
        GenesisOrganisation(id="households", name="Households", roles=["consumer", "producer"]),
    ]  # fmt: skip
    accounts = [
        ("operator", "operator", ["operator"]),
        ("grid", "operator", ["grid_operator"]),
        ("gw-1", "operator", []),
        ("tuv-1", "tuv-shenzhen", ["certifier"]),
        ("house-a", "households", ["consumer", "producer"]),
        ("house-b", "households", ["consumer"]),
    ]
    return Genesis(
        chain_id=CHAIN_ID,
        genesis_time=GENESIS_MS,
        organisations=orgs,
        accounts=[
            GenesisAccount(id=a, org=o, public_key=key_of(a).public_key, roles=r)
            for a, o, r in accounts
        ],
    )


def _tx(sender: str, nonce: int, kind: str, body: dict[str, Any]) -> Transaction:
    tx = Transaction(chain_id=CHAIN_ID, kind=kind, sender=sender, nonce=nonce, body=body)
    tx.signature = key_of(sender).sign(tx.signing_bytes())
    return tx


PV_A = {
    "device": "pv-a", "name": "Shekou rooftop PV, Building A", "technology": "solar_pv",
    "fuel": "solar", "capacity_w": 10_000, "commissioned": "2024-03-01", "country": "CN",
    "grid_region": "CN-GD", "latitude_udeg": 22_482_000, "longitude_udeg": 113_914_000,
    "support": "none",
}  # fmt: skip
HOME_B = {"site": "home-b", "name": "Flat 7, Sea View", "country": "CN",
          "grid_region": "CN-GD", "max_wh_per_hour": 6_000}  # fmt: skip
HOUR_2_ID = f"pv-a:{sum(READINGS_WH[:4]) + 1}"

BLOCKS: list[tuple[str, int, list[tuple[str, int, str, dict[str, Any]]]]] = [
    ("operator", GENESIS_MS + 12 * 3_600_000, [
        ("house-a", 1, "registry.register_device", PV_A),
        ("grid", 1, "registry.register_meter", {"meter": "m-a", "kind": "generation",
                                                "device": "pv-a", "gateway": "gw-1",
                                                "interval_s": 900}),
        ("house-b", 1, "registry.register_site", HOME_B),
    ]),
    ("utility-b", GENESIS_MS + 12 * 3_600_000 + 1000, [
        ("gw-1", 1, "metering.submit", {"readings": [
            {"meter": "m-a", "start": H1 + 900 * i, "length_s": 900, "energy_wh": wh}
            for i, wh in enumerate(READINGS_WH)]}),
    ]),
    ("utility-c", GENESIS_MS + 13 * 3_600_000, [
        ("tuv-1", 1, "certificates.issue", {"device": "pv-a", "to": "house-a",
                                            "starts": [H1, H2]}),
    ]),
    ("utility-d", GENESIS_MS + 13 * 3_600_000 + 1000, [
        ("house-a", 2, "certificates.transfer", {"bundle": "pv-a:1", "to": "house-b",
                                                 "quantity_wh": 1000}),
        ("house-b", 2, "certificates.cancel", {"bundle": "pv-a:1", "beneficiary": "house-b",
                                               "site": "home-b", "period_start_s": H1,
                                               "period_end_s": H1 + 3600}),
        ("house-b", 3, "certificates.claim", {"bundle": "pv-a:1"}),
    ]),
    ("operator", GENESIS_MS + 13 * 3_600_000 + 2000, [
        ("tuv-1", 2, "certificates.withdraw", {"bundle": HOUR_2_ID,
                                               "reason": "meter fault under review"}),
    ]),
]  # fmt: skip


def _attest(header: BlockHeader, org: str, **change: Any) -> dict[str, Any]:
    att = Attestation(CHAIN_ID, header.height, header.hash().hex(), header.state_root, org)
    att = msgspec.structs.replace(att, **change)
    att.signature = key_of(NODES[org]).sign(att.signing_bytes())
    return msgspec.to_builtins(att)


def _record(items: dict[bytes, bytes], tree: SparseMerkleTree, key: bytes) -> dict[str, Any]:
    return {"key": key.decode(), "value": items[key].decode(), "proof": tree.prove(key).to_json()}


def proof_file(
    bundle_id: str,
    header: BlockHeader,
    signature: str,
    items: dict[bytes, bytes],
    tree: SparseMerkleTree,
    attesters: list[str],
    *,
    bundle_key: bytes | None = None,
) -> dict[str, Any]:
    """A certificate proof file as a node writes it, from the state's items and tree."""
    device, start = bundle_id.rsplit(":", 1)
    return {
        "format": CERTIFICATE_PROOF_FORMAT,
        "bundle_id": bundle_id,
        "height": header.height,
        "block_hash": header.hash().hex(),
        "header": msgspec.to_builtins(header),
        "signature": signature,
        "final": bool(attesters),
        "attestations": [_attest(header, org) for org in attesters],
        "bundle": _record(items, tree, bundle_key or cert_keys.bundle(device, int(start))),
        "device": _record(items, tree, registry_keys.device(device)),
    }


def _chain() -> dict[str, Any]:
    genesis = _genesis()
    state = genesis_state(genesis)
    state.compute_root()
    state.finish_block()
    parent = genesis_header(genesis, state.root)
    out: dict[str, Any] = {"blocks": []}
    for proposer, time_ms, body in BLOCKS:
        txs = [prepare(_tx(*t)) for t in body]
        proposal = propose_block(state, chain.rules_at(state.view, parent.height + 1), parent,
                                 txs, time_ms, proposer, key_of(NODES[proposer]).sign)  # fmt: skip
        receipts = proposal.result.receipts
        if proposal.dropped or any(not r.ok for r in receipts):
            failed = [(r.code, r.message) for r in receipts if not r.ok]
            raise AssertionError(f"block {parent.height + 1} did not run cleanly: {failed}")
        state.finish_block()
        block = proposal.block
        parent = block.header
        out["blocks"].append(block)
        if block.header.height in (3, 4):
            out[f"state{block.header.height}"] = (dict(state.committed), block)
        if block.header.height == 5:
            out["state5"] = (dict(state.committed), block)
            view = state.view
            histories = [msgspec.to_builtins(h) for h in consortium.node_keys(view)]
            out["keys"] = build_keys(
                CHAIN_ID, 6, histories,
                lambda h, view=view: chain.rules_at(view, h).proposers,
                [u.height for u in chain.upgrades(view)],
            ).to_json()  # fmt: skip
    return out


def _proofs(built: dict[str, Any]) -> dict[str, Any]:
    proofs = {}
    for name, bundle_id, height in (
        ("issued", "pv-a:1", 3), ("claimed", "pv-a:1", 4), ("active", HOUR_2_ID, 4),
        ("withdrawn", HOUR_2_ID, 5),
    ):  # fmt: skip
        items, block = built[f"state{height}"]
        tree = SparseMerkleTree.from_items(items.items())
        assert tree.root.hex() == block.header.state_root
        attesters = [o for o in NODES if o != block.header.proposer][:2]
        proofs[name] = proof_file(bundle_id, block.header, block.signature, items, tree, attesters)
    return proofs


# tampering ---------------------------------------------------------------------------------
def _flip_hex(text: str, at: int = 10) -> str:
    return text[:at] + ("0" if text[at] != "0" else "1") + text[at + 1 :]


def _value(entry: str, edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """Change a field of the record ``entry`` (bundle or device) inside its value text."""

    def change(proof: dict[str, Any]) -> None:
        record = json.loads(proof[entry]["value"])
        edit(record)
        proof[entry]["value"] = json.dumps(record, separators=(",", ":"), sort_keys=True,
                                           ensure_ascii=False)  # fmt: skip

    return change


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(proof: dict[str, Any]) -> None:
        node: Any = proof
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value(node[path[-1]]) if callable(value) else value

    return change


def _first_sibling(proof: dict[str, Any]) -> None:
    level = proof["bundle"]["proof"]["levels"][0]
    i = next(i for i, h in enumerate(level) if h is not None)
    level[i] = _flip_hex(level[i])


def _resign(node: str) -> Callable[[dict[str, Any]], None]:
    def change(proof: dict[str, Any]) -> None:
        header = msgspec.convert(proof["header"], BlockHeader)
        proof["signature"] = key_of(node).sign(header.signing_bytes())

    return change


def _state_root_rehashed(proof: dict[str, Any]) -> None:
    proof["header"]["state_root"] = "00" * 32
    proof["block_hash"] = msgspec.convert(proof["header"], BlockHeader).hash().hex()


def _forged(
    built: dict[str, Any], bundle_id: str, writes: Callable[[dict[bytes, bytes]], None],
    *, bundle_key: bytes | None = None, **header_changes: Any,
) -> dict[str, Any]:  # fmt: skip
    """A hostile proposer's file: the state after block 4 with ``writes`` applied, its root in
    block 4's header (with ``header_changes``) signed by its proposer, with no attestations."""
    items, block = built["state4"]
    items = dict(items)
    writes(items)
    tree = SparseMerkleTree.from_items(items.items())
    header = msgspec.structs.replace(block.header, state_root=tree.root.hex(), **header_changes)
    signature = key_of(NODES[header.proposer]).sign(header.signing_bytes())
    return proof_file(bundle_id, header, signature, items, tree, [], bundle_key=bundle_key)


def _rewrite(key: bytes, edit: Callable[[dict[str, Any]], None], rehash: bool) -> Callable[
        [dict[bytes, bytes]], None]:  # fmt: skip
    def writes(items: dict[bytes, bytes]) -> None:
        record = json.loads(items[key])
        edit(record)
        if rehash:
            record["hash"] = bundle_hash_of(record)
        items[key] = json.dumps(record, separators=(",", ":"), sort_keys=True,
                                ensure_ascii=False).encode()  # fmt: skip

    return writes


def _cases(built: dict[str, Any], proofs: dict[str, Any]) -> list[dict[str, Any]]:
    keys = built["keys"]
    claimed, active, withdrawn = proofs["claimed"], proofs["active"], proofs["withdrawn"]
    bundle1 = cert_keys.bundle("pv-a", 1)
    bundle2 = cert_keys.bundle("pv-a", int(HOUR_2_ID.split(":")[1]))
    other_keys = {**keys, "chain_id": "another-chain"}
    wrong_d = edited(keys, _set(["organisations"], lambda orgs: [
        {**o, "node_keys": [{"from_height": 0, "node_key": key_of("node-x").public_key}]}
        if o["org"] == "utility-d" else o for o in orgs]))  # fmt: skip
    one_att = edited(claimed, _set(["attestations"], lambda a: a[:1]))
    bad_att = edited(
        claimed, _set(["attestations"], lambda a: [a[0], {**a[1], "signature": a[0]["signature"]}])
    )
    cases: list[tuple[str, dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]] = [
        ("a claimed split certificate, final", claimed, None, None),
        ("an active certificate, final", active, None, None),
        ("the same without attestations, not claiming final", edited(
            active, lambda p: p.update({"final": False, "attestations": []})), None, None),
        ("an active certificate and a later file of the same bundle, withdrawn since",
         active, withdrawn, None),
        ("a withdrawn certificate", withdrawn, None, None),
        ("a certificate as issued, and a later file showing it split and claimed since",
         proofs["issued"], claimed, None),
        ("a later file of another bundle", claimed, withdrawn, None),
        ("a 'later' file of the same block", active, active, None),
        ("a later file that does not check out", active,
         edited(withdrawn, _set(["signature"], lambda s: _flip_hex(s, 20))), None),
        ("the bundle's quantity changed in its value", edited(claimed, _value(
            "bundle", lambda r: r.update({"quantity_wh": 100000}))), None, None),
        ("the bundle's owner changed in its value", edited(claimed, _value(
            "bundle", lambda r: r.update({"owner": "house-a"}))), None, None),
        ("the device's capacity changed in its value", edited(claimed, _value(
            "device", lambda r: r.update({"capacity_w": 50_000}))), None, None),
        ("a Merkle sibling hash changed", edited(claimed, _first_sibling), None, None),
        ("the leaf hash changed", edited(claimed, _set(["bundle", "proof", "terminal", "leaf_hash"],
                                                       _flip_hex)), None, None),
        ("the header's state root changed", edited(claimed, _set(["header", "state_root"],
                                                                 _flip_hex)), None, None),
        ("the header's state root changed and the block hash recomputed",
         edited(claimed, _state_root_rehashed), None, None),
        ("the block hash changed", edited(claimed, _set(["block_hash"], _flip_hex)), None, None),
        ("the block signature changed", edited(claimed, _set(["signature"],
                                                             lambda s: _flip_hex(s, 30))),
         None, None),
        ("the block signed by another organisation's key", edited(claimed, _resign("node-c")),
         None, None),
        ("final claimed with one attestation (2 of 4)", one_att, None, None),
        ("final claimed with a forged attestation", bad_att, None, None),
        ("keys of another chain", claimed, None, other_keys),
        ("keys giving the proposer another node key", claimed, None, wrong_d),
        ("the bundle entry holds another bundle's key and record", edited(
            claimed, lambda p: p.update({"bundle": active["bundle"]})), None, None),
        ("the bundle id names another bundle", edited(claimed, _set(["bundle_id"], HOUR_2_ID)),
         None, None),
        ("a bundle id with a leading zero", edited(claimed, _set(["bundle_id"], "pv-a:01")),
         None, None),
        ("the bundle and device entries swapped", edited(claimed, lambda p: p.update(
            {"bundle": p["device"], "device": p["bundle"]})), None, None),
        ("another format", edited(claimed, _set(["format"], "gridledger/certificate-proof/v2")),
         None, None),
        ("an unknown field", edited(claimed, lambda p: p.update({"note": "trust me"})), None,
         None),
        ("no device entry", edited(claimed, lambda p: p.pop("device")), None, None),
        ("the height is not the header's", edited(claimed, _set(["height"], 5)), None, None),
        ("forged: the bundle's hash does not cover its fields", _forged(
            built, "pv-a:1", _rewrite(bundle1, lambda r: r.update({"fuel": "wind"}), False)),
         None, None),
        ("forged: a quantity that is not its range", _forged(
            built, "pv-a:1", _rewrite(bundle1, lambda r: r.update({"quantity_wh": 1001}), True)),
         None, None),
        ("forged: the record under the key is another bundle's", _forged(
            built, "pv-a:1", lambda items: items.update({bundle1: items[bundle2]})), None, None),
        ("forged: the device's attributes differ from the bundle's", _forged(
            built, "pv-a:1", _rewrite(registry_keys.device("pv-a"),
                                      lambda r: r.update({"capacity_w": 50_000}), False)),
         None, None),
        ("forged: the bundle record is not JSON", _forged(
            built, "pv-a:1", lambda items: items.update({bundle1: b"not json"})), None, None),
        ("a later file, signed by a hostile proposer, showing the bundle expired", active,
         _forged(built, HOUR_2_ID, _rewrite(bundle2, lambda r: r.update(
             {"expires_s": r["issued_s"]}), True), height=5, proposer="operator"), None),
        ("forged: an active bundle past its expiry", _forged(
            built, HOUR_2_ID, _rewrite(bundle2, lambda r: r.update(
                {"expires_s": r["issued_s"]}), True)), None, None),
    ]  # fmt: skip
    out = []
    for name, file, later, case_keys in cases:
        entry: dict[str, Any] = {
            "name": name,
            "file": delta_of(proofs, file),
            "later": None if later is None else delta_of(proofs, later),
        }
        if case_keys is not None:
            entry["keys"] = case_keys
        entry["expect"] = _expect_file(file, later, case_keys or keys)
        out.append(entry)
    return out


SUMMARY_FIELDS = (
    "bundle_id", "hash", "parent_hash", "device", "range_start", "range_end", "quantity_wh",
    "production_start_s", "production_end_s", "status", "owner", "beneficiary", "issuing_body",
    "height", "block_hash", "proposer", "final",
)  # fmt: skip


def _expect_file(file: Any, later: Any, keys: dict[str, Any]) -> dict[str, Any]:
    try:
        summary = verify_certificate_proof(file, keys, later=later)
    except CertificateProofError as exc:
        return {"valid": False, "reason": exc.reason}
    shown = summary.to_json()
    expect: dict[str, Any] = {"valid": True, **{f: shown[f] for f in SUMMARY_FIELDS}}
    expect["attested"] = summary.finality.attested
    if summary.later is not None:
        expect["later"] = {"height": summary.later.height, "status": summary.later.status,
                           "split_since": summary.later.split_since}  # fmt: skip
    return expect


def _qr_cases(built: dict[str, Any], proofs: dict[str, Any]) -> list[dict[str, Any]]:
    keys = built["keys"]
    claimed = proofs["claimed"]
    payload = qr_payload_of(claimed).text()
    fields = payload.removeprefix("GLC1:").split("/")

    def with_field(i: int, value: str) -> str:
        changed = list(fields)
        changed[i] = value
        return "GLC1:" + "/".join(changed)

    other_sig = qr_payload_of(proofs["withdrawn"]).text().split("/")[-1]
    # the claims are not signed: a payload naming another bundle still verifies alone
    cases = [
        ("the payload of the claimed certificate", payload, None),
        ("the payload checked against its proof file", payload, "claimed"),
        ("the payload checked against another certificate's proof file", payload, "active"),
        ("another bundle hash: alone it still verifies (a claim)", with_field(6, fields[7]), None),
        ("another bundle hash, checked against the proof file", with_field(6, fields[7]),
         "claimed"),
        ("the block hash changed", with_field(7, fields[6]), None),
        ("the signature changed", with_field(8, other_sig), None),
        ("another proposer named", with_field(2, "utility-b"), None),
        ("a proposer that is no organisation of the keys", with_field(2, "households"), None),
        ("height 0", with_field(5, "0"), None),
        ("another chain id", with_field(0, "another-chain"), None),
        ("a field missing", "GLC1:" + "/".join(fields[:-1]), None),
        ("another prefix", "GLC2:" + "/".join(fields), None),
        ("a hash in non-canonical base64url", with_field(6, fields[6][:-1] + "B"), None),
        ("a quantity with a leading zero", with_field(3, "0" + fields[3]), None),
    ]  # fmt: skip
    out = []
    for name, text, proof_name in cases:
        proof = None if proof_name is None else proofs[proof_name]
        try:
            result = verify_qr_payload(text, keys, proof=proof)
        except CertificateProofError as exc:
            expect: dict[str, Any] = {"valid": False, "reason": exc.reason}
        else:
            shown = result.to_json()
            expect = {"valid": True, "proven": shown["proven"], "claims": shown["claims"],
                      "claims_checked": shown["claims_checked"]}  # fmt: skip
        out.append({"name": name, "payload": text, "proof": proof_name, "expect": expect})
    return out


def certificate_vectors() -> dict[str, Any]:
    built = _chain()
    proofs = _proofs(built)
    record = json.loads(proofs["claimed"]["bundle"]["value"])
    immutable = {f: record.get(f) for f in IMMUTABLE_FIELDS}
    hashed = (
        b"gridledger/certificate/v1\n"
        + json.dumps(immutable, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert bundle_hash_of(record) == record["hash"] == sha256(hashed).hex()
    payload = qr_payload_of(proofs["claimed"]).text()
    return {
        "description": (
            "Certificate proof files and QR payloads (docs/formats.md, 'Certificates as "
            "documents'). 'keys' is the consortium keys file of chain gridledger-certificates "
            "(four proposers, quorum 3); 'proofs' holds four genuine proof files: bundle "
            "pv-a:1 as issued after block 3, its first 1000 Wh split off, transferred, "
            "cancelled and claimed after block 4 ('claimed', still id pv-a:1), the active "
            "11:00 bundle after block 4, and that bundle withdrawn after block 5. "
            "'bundle_hash' shows the bytes a bundle's hash covers. Each of 'cases' checks "
            "'file' (with the 'later' file when not null) with 'keys' (or the case's own "
            "'keys'); each file is the genuine proof file 'base' with the top-level fields of "
            "'change' set (replacing any there) and those of 'remove' taken out: 'expect' is "
            "valid with the summary's fields, or the reason it is refused. Each of 'qr' checks "
            "'payload' with 'keys', alone or against the named proof file: valid with what it "
            "proves and what it only claims, or the reason."
        ),
        "chain_id": CHAIN_ID,
        "keys": built["keys"],
        "node_keys": {name: key_of(name).public_key for name in sorted(NODES.values())},
        "proofs": proofs,
        "bundle_hash": {
            "record": proofs["claimed"]["bundle"]["value"],
            "hashed_text": hashed.decode(),
            "hash": record["hash"],
        },
        "qr_payload": {"text": payload, "characters": len(payload)},
        "cases": _cases(built, proofs),
        "qr": _qr_cases(built, proofs),
    }
