"""Checking a carbon-neutrality claim without a node: its proof file.

A **claim proof file** (``gridledger/claim-proof/v1``, ``docs/formats.md`` "Claim proof
files") holds a claim record and, for each credit retirement it lists, the retirement record
and the retired serial block, each with its state inclusion proof, all against one block:
its header, hash, the proposer's signature, the organisations' attestations and the node's
``final`` claim. :func:`verify_claim_proof` checks one with the consortium keys file alone:

1. the file's shape and the claim id it names;
2. the header hashes to ``block_hash``; its signature, attestations and ``final`` claim hold
   with the keys (:func:`gridledger.sdk.proofs.proof_finality`);
3. every record is under the key its id gives and in the header's state;
4. the claim's figures add up: each site-month's scope 2 from its Wh and factors, the
   scopes summed, ``residual_g``, ``required_t``, ``reduction_g`` and ``retired_t``, which
   reaches ``required_t``;
5. each retirement agrees with the claim, is for the claimant organisation, is no
   compliance surrender, covers the claim's period and was retired no later than 12 months
   after it ended; its block is retired by it, has the serial it names, is in the
   inventory's gas, and was issued no later than it was retired, which was no later than
   the claim was made;
6. the claim is not withdrawn.

The rules are written out here from the documentation (not imported from the contract), so
this verifier is a second implementation of them; the tests check the two agree.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from gridledger.contracts.claims import keys as claim_keys
from gridledger.contracts.credits import keys as credit_keys
from gridledger.sdk.certificate_proofs import (
    CertificateProofError,
    _decoded,
    _proven,
    _record_value,
    _typed,
)
from gridledger.sdk.consortium_keys import as_keys
from gridledger.sdk.proof_files import ProofFileError, checked_finality, checked_header
from gridledger.sdk.proofs import FinalityResult, KeysLike

if TYPE_CHECKING:
    from gridledger.sdk.client import Client

CLAIM_PROOF_FORMAT = "gridledger/claim-proof/v1"
QR_PREFIX = "GLCM1:"
PROOF_FIELDS = frozenset(
    {"format", "claim_id", "height", "block_hash", "header", "signature", "final",
     "attestations", "claim", "retirements", "blocks"}
)  # fmt: skip
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
G_PER_T = 1_000_000
WH_PER_MWH = 1_000_000

_STR, _INT, _OPT_STR, _OPT_OBJ, _LIST, _OBJ = "str", "int", "str?", "obj?", "list", "obj"
CLAIM_FIELDS = {
    "id": _STR, "org": _STR, "claimant": _STR, "subject": _OBJ, "boundary": _STR,
    "start_s": _INT, "end_s": _INT, "inventory": _OBJ, "residual_g": _INT, "required_t": _INT,
    "baseline_ref": _STR, "baseline_g": _INT, "reduction_g": _INT, "plan_ref": _STR,
    "retired_t": _INT, "status": _STR, "height": _INT, "time_s": _INT, "statement": _OPT_OBJ,
    "withdrawn_reason": _OPT_STR,
}  # fmt: skip
INVENTORY_FIELDS = {"gas": _STR, "scope1_g": _INT, "scope2_location_g": _INT,
                    "scope2_market_g": _INT, "scope3_g": _INT}  # fmt: skip
MONTH_FIELDS = {"site": _STR, "month": _STR, "consumption_wh": _INT, "covered_wh": _INT,
                "grid_g_per_mwh": _INT, "market_g_per_mwh": _INT, "factor_set": _STR,
                "scope1_g": _INT, "scope2_location_g": _INT, "scope2_market_g": _INT}  # fmt: skip
CLAIMED_FIELDS = {"id": _INT, "serial": _STR, "project": _STR, "quantity_t": _INT,
                  "time_s": _INT, "issued_height": _INT}  # fmt: skip
RETIREMENT_FIELDS = {"id": _INT, "serial": _STR, "project": _STR, "quantity_t": _INT,
                     "holder": _STR, "beneficiary": _STR, "reason": _STR,
                     "claim_start_s": _INT, "claim_end_s": _INT, "time_s": _INT,
                     "height": _INT, "compliance_period": _OPT_STR}  # fmt: skip
BLOCK_FIELDS = {"project": _STR, "number": _INT, "country": _STR, "period": _STR,
                "vintage_start": _STR, "vintage_end": _STR, "batch": _INT, "first": _INT,
                "last": _INT, "gas": _STR, "status": _STR, "issued_height": _INT}  # fmt: skip


class ClaimProofError(ProofFileError):
    """A claim proof file that does not check out.

    Attributes:
        reason: the rule it breaks (``docs/formats.md`` "Checking a claim"), e.g.
            ``state_proof``, ``figures``, ``not_covered``; the error's ``code`` is
            ``claim.<reason>``.
    """

    prefix = "claim"


def _fail(reason: str, message: str) -> ClaimProofError:
    return ClaimProofError(reason, message)


# keys ----------------------------------------------------------------------------------------
def claim_state_key(claim_id: str) -> str:
    """``claims/claim/<id>``."""
    return claim_keys.claim(claim_id).decode()


def retirement_state_key(n: int) -> str:
    """``credits/retirement/<n, 12 digits>``."""
    return credit_keys.retirement(n).decode()


def block_state_key(number: int, first: int) -> str:
    """``credits/block/<project number, 8 digits>/<first unit, 12 digits>``."""
    return credit_keys.block(number, first).decode()


def serial_of(block: Mapping[str, Any]) -> str:
    """A serial block's serial: ``GLR-VER-{country}-{number}-{vintage_start}-{vintage_end}-
    {batch}-{first}-{last}``."""
    parts = ("GLR", "VER", block["country"], block["number"], block["vintage_start"],
             block["vintage_end"], block["batch"], block["first"], block["last"])  # fmt: skip
    return "-".join(str(p) for p in parts)


def parse_serial(serial: str) -> tuple[int, int, int]:
    """``(project number, first, last)`` of a serial.

    Raises:
        ClaimProofError: ``record_malformed``: not a serial.
    """
    parts = serial.split("-")
    digits = [parts[i] for i in (3, 7, 8)] if len(parts) == 9 else []
    if parts[:2] != ["GLR", "VER"] or not all(p.isascii() and p.isdigit() for p in digits):
        raise _fail("record_malformed", f"{serial!r} is not a credit serial")
    return int(digits[0]), int(digits[1]), int(digits[2])


def months_after(time_s: int, months: int) -> int:
    """The first second of the month ``months`` after the month that starts at ``time_s``."""
    at = dt.datetime.fromtimestamp(time_s, dt.UTC)
    index = at.year * 12 + at.month - 1 + months
    return int(dt.datetime(index // 12, index % 12 + 1, 1, tzinfo=dt.UTC).timestamp())


# the check -----------------------------------------------------------------------------------
def _typed_as(obj: Any, spec: Mapping[str, str], what: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _fail("record_malformed", f"the {what} is not an object")
    flat = {k: v for k, v in spec.items() if v not in (_LIST, _OBJ)}
    try:
        _typed(obj, flat, what)
    except CertificateProofError as exc:
        raise _fail(exc.reason, exc.message) from None
    for name, kind in spec.items():
        if kind == _OBJ and not isinstance(obj.get(name), dict):
            raise _fail("record_malformed", f"the {what}'s {name!r} is not an object")
    return obj


def _entry(entry: Any, key: str, root: bytes, what: str) -> dict[str, Any]:
    try:
        found_key, value, state_proof = _record_value(entry, what)
        if found_key != key:
            raise _fail("wrong_key", f"the {what} is stored under {key}, not {found_key}")
        _proven(root, key, value, state_proof, what)
        return _decoded(value, what)
    except CertificateProofError as exc:
        raise _fail(exc.reason, exc.message) from None


@dataclass(frozen=True)
class ClaimSummary:
    """A claim proof file that checks out: what it proves.

    Attributes:
        claim: the claim record as proven.
        retirements: the retirement records, in the claim's order.
        blocks: the retired serial blocks, in the same order.
        height: the block it is proven against; block_hash: its hash.
        chain_id, proposer, block_time_s: of that block.
        finality: who stands behind the block, with the keys file.
    """

    claim: dict[str, Any]
    retirements: list[dict[str, Any]]
    blocks: list[dict[str, Any]]
    height: int
    block_hash: str
    chain_id: str
    proposer: str
    block_time_s: int
    finality: FinalityResult
    notes: list[str] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.finality.final

    def to_json(self) -> dict[str, Any]:
        """The summary ``gridledger carbon claim verify --json`` prints."""
        c = self.claim
        inv = c["inventory"]
        statement = c.get("statement") or {}
        return {
            "valid": True,
            "claim_id": c["id"],
            "org": c["org"],
            "subject": c["subject"],
            "boundary": c["boundary"],
            "start_s": c["start_s"],
            "end_s": c["end_s"],
            "status": c["status"],
            "gas": inv["gas"],
            "scope1_g": inv["scope1_g"],
            "scope2_location_g": inv["scope2_location_g"],
            "scope2_market_g": inv["scope2_market_g"],
            "scope3_g": inv["scope3_g"],
            "residual_g": c["residual_g"],
            "required_t": c["required_t"],
            "retired_t": c["retired_t"],
            "reduction_g": c["reduction_g"],
            "baseline_ref": c["baseline_ref"],
            "plan_ref": c["plan_ref"],
            "retirements": [
                {
                    "id": r["id"],
                    "serial": r["serial"],
                    "quantity_t": r["quantity_t"],
                    "time_s": r["time_s"],
                    "beneficiary": r["beneficiary"],
                }
                for r in self.retirements
            ],
            "verifier": statement.get("verifier"),
            "opinion": statement.get("opinion"),
            "chain_id": self.chain_id,
            "height": self.height,
            "block_hash": self.block_hash,
            "block_time_s": self.block_time_s,
            "proposer": self.proposer,
            "final": self.final,
            "finality": self.finality.to_json(),
            "notes": self.notes,
        }


def _shape(proof: Any) -> tuple[str, bytes, int, str, dict[str, Any]]:
    """Step 1 and the header's hash: ``(claim id, state root, height, block hash, header)``."""
    if not isinstance(proof, Mapping) or proof.get("format") != CLAIM_PROOF_FORMAT:
        raise _fail("malformed", f"not a claim proof file: 'format' must be {CLAIM_PROOF_FORMAT}")
    if set(proof) != PROOF_FIELDS:
        missing, extra = sorted(PROOF_FIELDS - set(proof)), sorted(set(proof) - PROOF_FIELDS)
        raise _fail(
            "malformed",
            f"a claim proof file has exactly the fields {', '.join(sorted(PROOF_FIELDS))} "
            f"(missing: {', '.join(missing) or '-'}; unknown: {', '.join(extra) or '-'})",
        )
    claim_id = proof["claim_id"]
    if not isinstance(claim_id, str) or not ID_RE.match(claim_id):
        raise _fail("bad_id", f"{claim_id!r} is not a claim id")
    header = checked_header(proof, ClaimProofError)
    header_obj, block_hash = proof["header"], proof["block_hash"]
    if not _HEX64.match(header.state_root):
        raise _fail("malformed", "the header's state_root is not 64 hex digits")
    if not isinstance(proof["retirements"], list) or not isinstance(proof["blocks"], list):
        raise _fail("malformed", "retirements and blocks are lists")
    return claim_id, bytes.fromhex(header.state_root), header.height, block_hash, header_obj


def _figures(claim: dict[str, Any]) -> None:
    """Step 4: the claim's figures add up."""
    inv = _typed_as(claim["inventory"], INVENTORY_FIELDS, "inventory")
    months = inv.get("months")
    if not isinstance(months, list):
        raise _fail("record_malformed", "the inventory's months are not a list")
    sums = {"scope1_g": 0, "scope2_location_g": 0, "scope2_market_g": 0}
    for m in months:
        _typed_as(m, MONTH_FIELDS, "inventory month")
        used, covered = m["consumption_wh"], m["covered_wh"]
        if not 0 <= covered <= used:
            raise _fail("figures", f"{m['site']} {m['month']}: covered Wh beyond consumption")
        if (
            m["scope2_location_g"] != used * m["grid_g_per_mwh"] // WH_PER_MWH
            or m["scope2_market_g"] != (used - covered) * m["market_g_per_mwh"] // WH_PER_MWH
        ):
            raise _fail("figures", f"{m['site']} {m['month']}: scope 2 is not Wh x factor")
        for name in sums:
            sums[name] += m[name]
    for name, total in sums.items():
        if inv[name] != total:
            raise _fail("figures", f"the inventory's {name} is not its months' sum")
    residual = inv["scope1_g"] + inv["scope2_market_g"] + inv["scope3_g"]
    if claim["residual_g"] != residual:
        raise _fail("figures", "residual_g is not scope 1 + market-based scope 2 + scope 3")
    if claim["required_t"] != -(-residual // G_PER_T):
        raise _fail("figures", "required_t is not the residual's tonnes rounded up")
    if claim["reduction_g"] != claim["baseline_g"] - residual:
        raise _fail("figures", "reduction_g is not baseline_g - residual_g")


def _retirement_checks(claim: dict[str, Any], claimed: dict[str, Any],
                       r: dict[str, Any], b: dict[str, Any]) -> None:  # fmt: skip
    """Step 5 for one retirement."""
    n = claimed["id"]
    for name in ("id", "serial", "project", "quantity_t", "time_s"):
        if r[name] != claimed[name]:
            raise _fail("record_mismatch", f"retirement {n}'s {name} is not the claim's")
    if r.get("compliance_period") is not None:
        raise _fail("compliance_retirement", f"retirement {n} was surrendered for compliance")
    if r["beneficiary"] != claim["org"]:
        raise _fail("wrong_beneficiary", f"retirement {n} is for {r['beneficiary']!r}")
    if not r["claim_start_s"] <= claim["start_s"] < claim["end_s"] <= r["claim_end_s"]:
        raise _fail("retirement_period", f"retirement {n} does not cover the claim's period")
    if r["time_s"] > months_after(claim["end_s"], 12):
        raise _fail("retired_too_late", f"retirement {n} came over 12 months after the period")
    if serial_of(b) != r["serial"] or b["last"] - b["first"] + 1 != r["quantity_t"]:
        raise _fail("record_mismatch", f"retirement {n}'s block is not {r['serial']}")
    if b["status"] != "retired" or b.get("retirement") != n:
        raise _fail("record_mismatch", f"block {r['serial']} is not retired by retirement {n}")
    if b["issued_height"] != claimed["issued_height"]:
        raise _fail("record_mismatch", f"block {r['serial']}'s issuance is not the claim's")
    if not b["issued_height"] <= r["height"] <= claim["height"]:
        raise _fail("order", f"retirement {n}: issued, retired and claimed out of order")
    if b["gas"] != claim["inventory"]["gas"]:
        raise _fail("mixed_gas", f"block {r['serial']} is of {b['gas']} credits")


@dataclass(frozen=True)
class ClaimRecords:
    """What a claim proof file's records prove, before the keys are applied.

    Attributes:
        claim: the claim record; retirements, blocks: in the claim's order.
        height, block_hash, header: the block they were proven against.
    """

    claim: dict[str, Any]
    retirements: list[dict[str, Any]]
    blocks: list[dict[str, Any]]
    height: int
    block_hash: str
    header: dict[str, Any]


def check_claim_records(proof: Any) -> ClaimRecords:
    """Steps 1 and 3-6 of :func:`verify_claim_proof`, without the keys file: what a document
    renderer needs before it prints fields; it proves nothing about who signed the block.

    Raises:
        ClaimProofError: the first rule broken.
    """
    claim_id, root, height, block_hash, header = _shape(proof)
    return _records(proof, claim_id, root, height, block_hash, header)


def _records(proof: Mapping[str, Any], claim_id: str, root: bytes, height: int,
             block_hash: str, header: dict[str, Any]) -> ClaimRecords:  # fmt: skip
    claim = _entry(proof["claim"], claim_state_key(claim_id), root, "claim")
    _typed_as(claim, CLAIM_FIELDS, "claim")
    if claim["id"] != claim_id:
        raise _fail("record_mismatch", f"the claim record is {claim['id']!r}, not {claim_id}")
    _figures(claim)
    claimed_list = claim.get("retirements")
    if not isinstance(claimed_list, list) or not claimed_list:
        raise _fail("record_malformed", "the claim lists no retirements")
    if len(proof["retirements"]) != len(claimed_list) or len(proof["blocks"]) != len(claimed_list):
        raise _fail("malformed", "the file proves one retirement and one block per retirement")
    retirements, blocks = [], []
    for i, claimed in enumerate(claimed_list):
        _typed_as(claimed, CLAIMED_FIELDS, "claimed retirement")
        n = claimed["id"]
        r = _entry(proof["retirements"][i], retirement_state_key(n), root,
                   f"retirement {n}")  # fmt: skip
        _typed_as(r, RETIREMENT_FIELDS, f"retirement {n}")
        number, first, _last = parse_serial(r["serial"])
        b = _entry(proof["blocks"][i], block_state_key(number, first), root,
                   f"block of retirement {n}")  # fmt: skip
        _typed_as(b, BLOCK_FIELDS, f"block of retirement {n}")
        _retirement_checks(claim, claimed, r, b)
        retirements.append(r)
        blocks.append(b)
    if len({c["id"] for c in claimed_list}) != len(claimed_list):
        raise _fail("record_malformed", "the claim lists a retirement twice")
    retired = sum(r["quantity_t"] for r in retirements)
    if claim["retired_t"] != retired:
        raise _fail("figures", "retired_t is not the retirements' tonnes")
    if retired < claim["required_t"]:
        raise _fail("not_covered", f"{retired} t retired for {claim['required_t']} t required")
    return ClaimRecords(claim, retirements, blocks, height, block_hash, header)


def verify_claim_proof(proof: Any, keys: KeysLike) -> ClaimSummary:
    """Check a claim proof file with the consortium keys file alone.

    Args:
        proof: the decoded proof file (``GET /v1/claims/{id}/proof``,
            ``gridledger carbon claim export --json``).
        keys: the consortium keys file, from a source you trust, never from the node that
            made the proof.

    Raises:
        ClaimProofError: the first rule broken, with its ``reason``: ``malformed``,
            ``bad_id``, ``header_hash``, the finality reasons, ``wrong_key``,
            ``state_proof``, ``record_malformed``, ``record_mismatch``, ``figures``,
            ``not_covered``, ``compliance_retirement``, ``wrong_beneficiary``,
            ``retirement_period``, ``retired_too_late``, ``order``, ``mixed_gas``,
            ``withdrawn``.
        KeysFileError: ``keys`` is a decoded keys file that breaks its format.
    """
    checked_keys = as_keys(keys)
    claim_id, root, height, block_hash, header = _shape(proof)
    finality = checked_finality(proof, checked_keys, ClaimProofError)
    records = _records(proof, claim_id, root, height, block_hash, header)
    claim = records.claim
    if claim["status"] == "withdrawn":
        raise _fail("withdrawn", f"claim {claim_id} was withdrawn: {claim.get('withdrawn_reason')}")
    notes = []
    if finality.beyond_keys:
        notes.append(
            f"the keys describe the chain up to height {finality.keys_up_to_height} only; a key "
            "rotation or membership change since would not be known"
        )
    if claim.get("statement") is None:
        notes.append("no carbon verifier has given a statement on this claim yet")
    return ClaimSummary(
        claim=claim, retirements=records.retirements, blocks=records.blocks, height=height,
        block_hash=block_hash, chain_id=str(header["chain_id"]),
        proposer=str(header["proposer"]), block_time_s=int(header["time"]) // 1000,
        finality=finality, notes=notes,
    )  # fmt: skip


def qr_text(proof: Mapping[str, Any]) -> str:
    """What a claim's PDF QR code carries: ``GLCM1:<chain>/<claim id>/<height>/<block hash>``,
    a pointer to the proof file (it proves nothing by itself)."""
    return (f"{QR_PREFIX}{proof['header']['chain_id']}/{proof['claim_id']}/{proof['height']}/"
            f"{proof['block_hash']}")  # fmt: skip


def fetch_claim_proof(client: Client, claim_id: str) -> dict[str, Any]:
    """A claim's proof file from a node (``GET /v1/claims/{id}/proof``), unchecked: check it
    with :func:`verify_claim_proof` and keys from elsewhere.

    Raises:
        ClaimProofError: ``bad_id``, before asking.
        ApiError: the node refused (``not_found`` for an unknown claim).
    """
    if not ID_RE.match(claim_id):
        raise _fail("bad_id", f"{claim_id!r} is not a claim id")
    found: dict[str, Any] = client._get(f"/v1/claims/{quote(claim_id)}/proof")
    return found


__all__ = [
    "CLAIM_PROOF_FORMAT",
    "QR_PREFIX",
    "ClaimProofError",
    "ClaimRecords",
    "ClaimSummary",
    "block_state_key",
    "check_claim_records",
    "claim_state_key",
    "fetch_claim_proof",
    "months_after",
    "parse_serial",
    "qr_text",
    "retirement_state_key",
    "serial_of",
    "verify_claim_proof",
]
