"""The claim vectors (``claims.json``): claim proof files, tampered ones, and verdicts.

Written by ``generate.py`` beside the other vectors (``GENERATORS``), deterministic like them.
The chain (``gridledger-claims``) is the one ``gridledger bench claims`` checks
(:mod:`gridledger.bench.claims`): block 4 retires 1 t of an offshore wind farm's May 2025
credits for the households and makes claim ``home-b-2025-05``; block 5 records the
verifier's statement; block 6 withdraws the claim. Proof files are made after each.

Forged files come from a hostile proposer: the state after block 5 with one record
replaced, its root in a header signed with the proposer's real key. Their Merkle proofs hold,
so only the verifier's own checks of the records (figures, coverage, retirements) can refuse
them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
from tampering import delta_of, edited

from gridledger.bench.claims import CHAIN_ID, CLAIM_ID, NODES, build_chain, key_of, proof_file
from gridledger.contracts.claims import keys as claim_keys
from gridledger.contracts.credits import keys as credit_keys
from gridledger.sdk.claim_proofs import ClaimProofError, verify_claim_proof
from gridledger.state.tree import SparseMerkleTree

RETIREMENT = credit_keys.retirement(1)
BLOCK = credit_keys.block(1, 1)
CLAIM = claim_keys.claim(CLAIM_ID)


def _value(where: Callable[[dict[str, Any]], dict[str, Any]],
           edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:  # fmt: skip
    """Edit the decoded value of the entry ``where`` picks, re-encoded as the node writes it."""

    def change(proof: dict[str, Any]) -> None:
        entry = where(proof)
        record = json.loads(entry["value"])
        edit(record)
        entry["value"] = json.dumps(record, separators=(",", ":"), sort_keys=True,
                                    ensure_ascii=False)  # fmt: skip

    return change


def _forged(built: dict[str, Any], key: bytes, edit: Callable[[dict[str, Any]], None],
            **header_changes: Any) -> dict[str, Any]:  # fmt: skip
    """A hostile proposer's file: the state after block 5 with the record at ``key`` edited,
    its root in block 5's header signed by its proposer, with no attestations."""
    items = dict(built["states"][5])
    record = json.loads(items[key])
    edit(record)
    items[key] = json.dumps(record, separators=(",", ":"), sort_keys=True,
                            ensure_ascii=False).encode()  # fmt: skip
    block = built["blocks"][4]
    root = SparseMerkleTree.from_items(items.items()).root.hex()
    header = msgspec.structs.replace(block.header, state_root=root, **header_changes)
    signature = key_of(NODES[header.proposer]).sign(header.signing_bytes())
    return proof_file(CLAIM_ID, header, signature, items, [])


Edit = Callable[[dict[str, Any]], None]


def _forged_records(built: dict[str, Any], edits: dict[bytes, Edit]) -> dict[str, Any]:
    """:func:`_forged` with several records edited, so they agree with each other."""
    items = dict(built["states"][5])
    for key, edit in edits.items():
        record = json.loads(items[key])
        edit(record)
        items[key] = json.dumps(record, separators=(",", ":"), sort_keys=True,
                                ensure_ascii=False).encode()  # fmt: skip
    block = built["blocks"][4]
    root = SparseMerkleTree.from_items(items.items()).root.hex()
    header = msgspec.structs.replace(block.header, state_root=root)
    signature = key_of(NODES[header.proposer]).sign(header.signing_bytes())
    return proof_file(CLAIM_ID, header, signature, items, [])


def _claimed(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set ``name`` of the claim's copy of its first retirement."""

    def edit(record: dict[str, Any]) -> None:
        record["retirements"][0][name] = value

    return edit


def _set(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(record: dict[str, Any]) -> None:
        record[name] = value

    return change


def _cases(built: dict[str, Any], proofs: dict[str, Any]) -> list[dict[str, Any]]:
    verified = proofs["verified"]
    claim = json.loads(verified["claim"]["value"])

    def inventory(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        def edit(record: dict[str, Any]) -> None:
            change(record["inventory"])

        return edit

    def residual_up(record: dict[str, Any]) -> None:
        # scope 3 raised so the residual needs 2 t: every figure consistent, not covered
        record["inventory"]["scope3_g"] += 1_000_000
        record["residual_g"] += 1_000_000
        record["required_t"] = -(-record["residual_g"] // 1_000_000)
        record["reduction_g"] -= 1_000_000

    def month_scope2(record: dict[str, Any]) -> None:
        record["inventory"]["months"][0]["scope2_market_g"] -= 1
        record["inventory"]["scope2_market_g"] -= 1
        record["residual_g"] -= 1
        record["reduction_g"] += 1

    def not_retired(record: dict[str, Any]) -> None:
        record["status"] = "active"
        record.pop("retirement", None)

    files: list[tuple[str, dict[str, Any]]] = [
        ("the claim as made (no statement yet)", proofs["made"]),
        ("the claim with the verifier's statement", verified),
        ("the withdrawn claim", proofs["withdrawn"]),
        ("another format", edited(verified, lambda p: p.update(
            format="gridledger/claim-proof/v2"))),
        ("a field removed", {k: v for k, v in verified.items() if k != "blocks"}),
        ("an unknown field", {**verified, "note": "trust me"}),
        ("a claim id that is not one", {**verified, "claim_id": "Home B"}),
        ("the header's time changed", edited(verified, lambda p: p["header"].update(
            time=p["header"]["time"] + 1))),
        ("the signature of another node",
         {**verified, "signature": proofs["made"]["signature"]}),
        ("final without the attestations", {**verified, "attestations": []}),
        ("the claim's scope 3 lowered (its state proof fails)",
         edited(verified, _value(lambda p: p["claim"], inventory(_set("scope3_g", 0))))),
        ("the retirement's beneficiary changed (its state proof fails)",
         edited(verified, _value(lambda p: p["retirements"][0], _set("beneficiary", "x")))),
        ("the claim under another key",
         edited(verified, lambda p: p["claim"].update(key="claims/claim/other"))),
        ("the block's entry swapped for the retirement's",
         edited(verified, lambda p: p.update(blocks=[p["retirements"][0]]))),
        ("one retirement too few", {**verified, "retirements": []}),
        ("forged: a scope 2 figure that is not Wh x factor",
         _forged(built, CLAIM, month_scope2)),
        ("forged: the residual needs 2 t, 1 t retired", _forged(built, CLAIM, residual_up)),
        ("forged: retirement for another beneficiary",
         _forged(built, RETIREMENT, _set("beneficiary", "someone else"))),
        ("forged: a compliance surrender",
         _forged(built, RETIREMENT, _set("compliance_period", "ets-2024"))),
        ("forged: a claim period the retirement does not cover",
         _forged(built, RETIREMENT, _set("claim_end_s", claim["end_s"] - 86_400))),
        ("forged: retired 13 months after the period", _forged_records(built, {
            RETIREMENT: _set("time_s", claim["end_s"] + 400 * 86_400),
            CLAIM: _claimed("time_s", claim["end_s"] + 400 * 86_400)})),
        ("forged: a block no longer retired", _forged(built, BLOCK, not_retired)),
        ("forged: the block's issuance is not the claim's copy",
         _forged(built, BLOCK, _set("issued_height", 9))),
        ("forged: credits issued after their retirement", _forged_records(built, {
            BLOCK: _set("issued_height", 5), CLAIM: _claimed("issued_height", 5)})),
        ("forged: credits in CO2e", _forged(built, BLOCK, _set("gas", "CO2e"))),
    ]  # fmt: skip
    out = []
    for name, file in files:
        entry: dict[str, Any] = {"name": name, **delta_of(proofs, file)}
        entry["expect"] = _expect(file, built["keys"])
        out.append(entry)
    return out


SUMMARY_FIELDS = ("claim_id", "org", "status", "residual_g", "required_t", "retired_t",
                  "height", "block_hash", "proposer", "final", "opinion")  # fmt: skip


def _expect(file: Any, keys: dict[str, Any]) -> dict[str, Any]:
    try:
        summary = verify_claim_proof(file, keys)
    except ClaimProofError as exc:
        return {"valid": False, "reason": exc.reason}
    shown = summary.to_json()
    return {"valid": True, **{f: shown[f] for f in SUMMARY_FIELDS}}


def claim_vectors() -> dict[str, Any]:
    built = build_chain()
    proofs = built["proofs"]
    return {
        "description": (
            "Claim proof files (docs/formats.md, 'Claim proof files'). 'keys' is the "
            "consortium keys file of chain gridledger-claims (four proposers, quorum 3); "
            "'proofs' holds three genuine proof files of claim home-b-2025-05: as made after "
            "block 4, with the verifier's statement after block 5, and withdrawn after block "
            "6. Each of 'cases' checks a file with 'keys'; each file is the genuine proof file "
            "'base' with the top-level fields of 'change' set (replacing any there) and those "
            "of 'remove' taken out: 'expect' is valid with the summary's fields, or the reason "
            "it is refused."
        ),
        "chain_id": CHAIN_ID,
        "keys": built["keys"],
        "proofs": proofs,
        "cases": _cases(built, proofs),
    }
