"""Checking a certificate without a node: its proof file and the QR payload printed on it.

A **certificate proof file** (``gridledger/certificate-proof/v1``, ``docs/formats.md``
"Certificate proof files") holds a bundle record and its device's registry record, each with
its state inclusion proof, and the block they were proven against: header, block hash, the
proposer's signature, the organisations' attestations and the node's ``final`` claim.
:func:`verify_certificate_proof` checks one with the consortium keys file alone:

1. the file's shape, and the bundle id it names;
2. the header hashes to ``block_hash``; its signature, attestations and ``final`` claim hold
   with the keys (:func:`gridledger.sdk.proofs.proof_finality`);
3. each record is under the key its id gives and in the header's state (sparse Merkle proof);
4. the bundle is well formed: its id, ``quantity_wh = range_end - range_start + 1``, and its
   ``hash`` recomputed from the immutable fields; the device record agrees with the
   attributes the bundle carries;
5. the bundle is neither withdrawn nor expired at the block's time;
6. given a **later** proof file of the same bundle id, that one checks out the same way, is of
   a later block, and does not show the certificate withdrawn or expired since.

The **QR payload** (:class:`QrPayload`, ``GLC1:...``) is a compact digest small enough to scan
from paper. Alone, it proves one thing: that the organisation it names signed, with the node
key the keys file gives it at the height it names, the block hash it carries
(:func:`verify_qr_payload`). The bundle id, hash, quantity and production start are claims
that hold only once checked against a proof file (``proof=``) or a node's answer.

The bundle hash rule is written out here from the documentation (not imported from the
contract), so this verifier is a second implementation of it; the tests check the two agree.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import msgspec

from gridledger.contracts.certificates.keys import bundle as bundle_key
from gridledger.contracts.registry.keys import device as device_key
from gridledger.core import crypto
from gridledger.core.crypto import DOMAIN_BLOCK, sha256
from gridledger.core.encoding import INT_MAX, canonical
from gridledger.core.errors import GridLedgerError
from gridledger.sdk.consortium_keys import ConsortiumKeys, as_keys
from gridledger.sdk.proof_files import ProofFileError, checked_finality, checked_header
from gridledger.sdk.proofs import FinalityResult, KeysLike
from gridledger.state.tree import InvalidStateProof, StateProof, verify_proof

if TYPE_CHECKING:
    from gridledger.sdk.client import Client

CERTIFICATE_PROOF_FORMAT = "gridledger/certificate-proof/v1"
DOMAIN_CERTIFICATE = b"gridledger/certificate/v1\n"
"""The bytes before the canonical immutable fields in a bundle's hash."""
IMMUTABLE_FIELDS = (
    "id",
    "issuance",
    "bundle_type",
    "device",
    "range_start",
    "range_end",
    "quantity_wh",
    "production_start_s",
    "production_end_s",
    "technology",
    "fuel",
    "capacity_w",
    "commissioned",
    "support",
    "country",
    "grid_zone",
    "issuing_body",
    "issuer",
    "scheme",
    "issued_s",
    "issued_height",
    "expires_s",
    "origin",
    "parent_hash",
)
"""What a bundle's ``hash`` covers (``docs/formats.md``; ``origin`` and ``parent_hash`` null
when the record leaves them out)."""
STATUSES = (
    "active",
    "locked",
    "cancelled",
    "claimed",
    "withdrawn",
    "expired",
    "storage_charged",
    "gec_exported",
)
LIVE = ("active", "locked")
PROOF_FIELDS = frozenset(
    {
        "format",
        "bundle_id",
        "height",
        "block_hash",
        "header",
        "signature",
        "final",
        "attestations",
        "bundle",
        "device",
    }
)
RECORD_FIELDS = frozenset({"key", "value", "proof"})
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,18})$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_LOWER_HEX = re.compile(r"^(?:[0-9a-f]{2})*$")

_STR, _INT, _OPT_STR, _OPT_INT, _OPT_OBJ = "str", "int", "str?", "int?", "obj?"
BUNDLE_FIELDS: dict[str, str] = {
    "id": _STR,
    "issuance": _STR,
    "bundle_type": _STR,
    "device": _STR,
    "range_start": _INT,
    "range_end": _INT,
    "quantity_wh": _INT,
    "production_start_s": _INT,
    "production_end_s": _INT,
    "technology": _STR,
    "fuel": _STR,
    "capacity_w": _INT,
    "commissioned": _STR,
    "support": _STR,
    "country": _STR,
    "grid_zone": _STR,
    "issuing_body": _STR,
    "issuer": _STR,
    "scheme": _STR,
    "issued_s": _INT,
    "issued_height": _INT,
    "expires_s": _INT,
    "origin": _OPT_STR,
    "parent_hash": _OPT_STR,
    "hash": _STR,
    "owner": _STR,
    "status": _STR,
    "updated_height": _INT,
    "locked_for": _OPT_STR,
    "cancellation": _OPT_OBJ,
    "claimed_height": _OPT_INT,
    "withdrawal": _OPT_OBJ,
}
"""The bundle record's fields and their JSON types (``?``: may be left out or null)."""
DEVICE_FIELDS: dict[str, str] = {
    "id": _STR,
    "name": _STR,
    "owner_org": _STR,
    "technology": _STR,
    "fuel": _STR,
    "capacity_w": _INT,
    "commissioned": _STR,
    "country": _STR,
    "grid_region": _STR,
    "support": _STR,
}
"""The device record's fields a verifier reads (the record has more: coordinates, height)."""
DEVICE_ATTRIBUTES = (
    ("technology", "technology"),
    ("fuel", "fuel"),
    ("capacity_w", "capacity_w"),
    ("commissioned", "commissioned"),
    ("support", "support"),
    ("country", "country"),
    ("grid_zone", "grid_region"),
)
"""(bundle field, device field) pairs that must agree: issuance copies them from the device,
and a device's attributes never change."""


class CertificateProofError(ProofFileError):
    """A certificate proof file, or a QR payload, that does not check out.

    Attributes:
        reason: the rule it breaks (``docs/formats.md`` "Checking a certificate"), e.g.
            ``state_proof``, ``bundle_hash``, ``withdrawn``, ``bad_block_signature``; the
            error's ``code`` is ``certificate.<reason>``.
    """

    prefix = "certificate"


def _fail(reason: str, message: str) -> CertificateProofError:
    return CertificateProofError(reason, message)


# the bundle hash and ids --------------------------------------------------------------------
def bundle_hash_of(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of ``DOMAIN_CERTIFICATE`` followed by the canonical JSON object of the
    record's :data:`IMMUTABLE_FIELDS` (absent ``origin`` / ``parent_hash`` as null)."""
    fields = {name: record.get(name) for name in IMMUTABLE_FIELDS}
    return sha256(DOMAIN_CERTIFICATE + canonical(fields)).hex()


def parse_bundle_id(value: Any) -> tuple[str, int]:
    """``(device, range_start)`` of a bundle id ``<device>:<range_start>``.

    Raises:
        CertificateProofError: ``bad_id``, when it is not one (a device id, a colon, and a
            decimal from 1 to 2^63-1 without leading zeros).
    """
    if not isinstance(value, str):
        raise _fail("bad_id", "the bundle id is not a string")
    device, sep, start = value.rpartition(":")
    if not sep or not ID_RE.match(device) or not _DECIMAL.match(start):
        raise _fail("bad_id", f"{value!r} is not a bundle id '<device>:<range_start>'")
    first = int(start)
    if not 1 <= first <= INT_MAX:
        raise _fail("bad_id", f"{value!r}: the range start is 1 to 2^63-1")
    return device, first


def bundle_state_key(bundle_id: str) -> str:
    """The state key of a bundle id: ``certificates/bundle/<device>/<range_start, 19 digits>``."""
    device, first = parse_bundle_id(bundle_id)
    return bundle_key(device, first).decode()


def device_state_key(device: str) -> str:
    """The state key of a device's registry record: ``registry/device/<device>``."""
    return device_key(device).decode()


# reading the file ---------------------------------------------------------------------------
def _typed(obj: Mapping[str, Any], spec: Mapping[str, str], what: str) -> None:
    for name, kind in spec.items():
        value = obj.get(name)
        if kind.endswith("?") and value is None:
            continue
        base = kind.rstrip("?")
        ok = (
            (base == "str" and isinstance(value, str))
            or (base == "int" and type(value) is int and -(2**63) <= value <= INT_MAX)
            or (base == "obj" and isinstance(value, dict))
        )
        if not ok:
            raise _fail("record_malformed", f"the {what} record's {name!r} is not a {base}")


def _record_value(entry: Any, what: str) -> tuple[str, bytes, StateProof]:
    """``(key, value bytes, proof)`` of a record entry ``{"key", "value", "proof"}``."""
    if not isinstance(entry, Mapping) or set(entry) != RECORD_FIELDS:
        raise _fail("malformed", f"the {what} entry must have exactly key, value and proof")
    key, value = entry["key"], entry["value"]
    if not isinstance(key, str) or not isinstance(value, str):
        raise _fail("malformed", f"the {what} entry's key and value are strings")
    proof = entry["proof"]
    if not isinstance(proof, Mapping):
        raise _fail("malformed", f"the {what} entry's proof is not an object")
    _strict_hex(proof, what)
    try:
        state_proof = StateProof.from_json(proof)
    except (InvalidStateProof, ValueError) as exc:
        raise _fail("malformed", f"the {what} entry's proof is malformed: {exc}") from None
    return key, value.encode(), state_proof


def _strict_hex(proof: Mapping[str, Any], what: str) -> None:
    """Every hash of a state proof in lower-case hex, as written: upper case or spaces would be
    other bytes proving the same thing, and a file is refused when any byte of it changed."""
    levels, terminal = proof.get("levels"), proof.get("terminal")
    hashes = (
        [h for level in levels if isinstance(level, list) for h in level if h is not None]
        if isinstance(levels, list)
        else []
    )
    if isinstance(terminal, Mapping):
        hashes += [terminal.get("path"), terminal.get("leaf_hash")]
        value = terminal.get("value")
        if value is not None and not (isinstance(value, str) and _LOWER_HEX.match(value)):
            raise _fail("malformed", f"the {what} proof's terminal value is not lower-case hex")
    for h in hashes:
        if not isinstance(h, str) or not _HEX64.match(h):
            raise _fail(
                "malformed", f"the {what} proof holds a hash that is not 64 lower-case hex digits"
            )


def _proven(root: bytes, key: str, value: bytes, proof: StateProof, what: str) -> None:
    try:
        verify_proof(root, key.encode(), value, proof)
    except InvalidStateProof as exc:
        raise _fail(
            "state_proof",
            f"the {what} record is not in the state of the proof's block ({exc})",
        ) from None
    except ValueError as exc:
        raise _fail("state_proof", f"the {what} record's proof is malformed: {exc}") from None


def _decoded(value: bytes, what: str) -> dict[str, Any]:
    try:
        obj = msgspec.json.decode(value)
    except msgspec.DecodeError:
        obj = None
    if not isinstance(obj, dict):
        raise _fail("record_malformed", f"the {what} record is not a JSON object")
    return obj


@dataclass(frozen=True)
class CheckedRecords:
    """What a certificate proof file's records prove, before keys and status are applied.

    Attributes:
        bundle: the bundle record (decoded JSON object).
        device: the device's registry record (decoded JSON object).
        height: the block the records were proven against.
        block_hash: its hash (hex).
        header: its header (JSON object).
    """

    bundle: dict[str, Any]
    device: dict[str, Any]
    height: int
    block_hash: str
    header: dict[str, Any]

    @property
    def time_s(self) -> int:
        """The block's time, Unix seconds (its ``time`` is in milliseconds)."""
        return int(self.header["time"]) // 1000


@dataclass(frozen=True)
class _Shape:
    bundle_id: str
    device_id: str
    first: int
    header: dict[str, Any]
    state_root: bytes
    height: int
    block_hash: str


def _shape(proof: Any) -> _Shape:
    """Step 1: the file's fields, the bundle id, the header hashing to ``block_hash``."""
    if not isinstance(proof, Mapping):
        raise _fail("malformed", "a certificate proof file is a JSON object")
    if proof.get("format") != CERTIFICATE_PROOF_FORMAT:
        raise _fail(
            "malformed",
            f"not a certificate proof file: 'format' must be {CERTIFICATE_PROOF_FORMAT}",
        )
    if set(proof) != PROOF_FIELDS:
        missing, extra = sorted(PROOF_FIELDS - set(proof)), sorted(set(proof) - PROOF_FIELDS)
        raise _fail(
            "malformed",
            "a certificate proof file has exactly the fields "
            f"{', '.join(sorted(PROOF_FIELDS))} (missing: {', '.join(missing) or '-'}; "
            f"unknown: {', '.join(extra) or '-'})",
        )
    bundle_id = proof["bundle_id"]
    device_id, first = parse_bundle_id(bundle_id)
    header = checked_header(proof, CertificateProofError)
    header_obj, block_hash = proof["header"], proof["block_hash"]
    if not _HEX64.match(header.state_root):
        raise _fail("malformed", "the header's state_root is not 64 hex digits")
    for what in ("bundle", "device"):
        entry = proof[what]
        if not isinstance(entry, Mapping) or set(entry) != RECORD_FIELDS:
            raise _fail("malformed", f"the {what} entry must have exactly key, value and proof")
    return _Shape(
        bundle_id,
        device_id,
        first,
        header_obj,
        bytes.fromhex(header.state_root),
        header.height,
        block_hash,
    )


def check_records(proof: Any) -> CheckedRecords:
    """Steps 1, 3 and 4 of :func:`verify_certificate_proof`, without the keys file: the file's
    shape, the header's hash, both records in the header's state, the bundle's id, quantity and
    hash, and the device's attributes. What a document renderer needs before it prints fields;
    it proves nothing about who signed the block.

    Raises:
        CertificateProofError: the first rule broken.
    """
    return _records(proof, _shape(proof))


def _records(proof: Mapping[str, Any], shape: _Shape) -> CheckedRecords:
    """Steps 3 and 4: the records under their keys, in the state, agreeing with each other."""
    bundle_id, device_id, first, root = (
        shape.bundle_id,
        shape.device_id,
        shape.first,
        shape.state_root,
    )
    key, value, state_proof = _record_value(proof["bundle"], "bundle")
    expected = bundle_key(device_id, first).decode()
    if key != expected:
        raise _fail("wrong_key", f"bundle {bundle_id} is stored under {expected}, not {key}")
    _proven(root, key, value, state_proof, "bundle")
    bundle = _decoded(value, "bundle")
    _typed(bundle, BUNDLE_FIELDS, "bundle")
    if bundle["id"] != bundle_id or bundle["device"] != device_id or bundle["range_start"] != first:
        raise _fail(
            "record_mismatch",
            f"the record under {key} is bundle {bundle['id']!r} of device "
            f"{bundle['device']!r} from Wh id {bundle['range_start']}, not {bundle_id}",
        )
    if bundle["status"] not in STATUSES:
        raise _fail("record_malformed", f"the bundle's status {bundle['status']!r} is unknown")
    start, end, quantity = bundle["range_start"], bundle["range_end"], bundle["quantity_wh"]
    if end < start or quantity != end - start + 1:
        raise _fail(
            "bad_quantity",
            f"bundle {bundle_id} holds Wh ids {start}..{end}, which is {end - start + 1} Wh, "
            f"not its quantity_wh {quantity}",
        )
    recomputed = bundle_hash_of(bundle)
    if recomputed != bundle["hash"]:
        raise _fail(
            "bundle_hash",
            f"bundle {bundle_id}'s immutable fields hash to {recomputed}, not to its hash "
            f"{bundle['hash']}",
        )

    key, value, state_proof = _record_value(proof["device"], "device")
    expected = device_key(device_id).decode()
    if key != expected:
        raise _fail("wrong_key", f"device {device_id} is stored under {expected}, not {key}")
    _proven(root, key, value, state_proof, "device")
    device = _decoded(value, "device")
    _typed(device, DEVICE_FIELDS, "device")
    if device["id"] != device_id:
        raise _fail("record_mismatch", f"the record under {key} is device {device['id']!r}")
    for ours, theirs in DEVICE_ATTRIBUTES:
        if bundle[ours] != device[theirs]:
            raise _fail(
                "device_mismatch",
                f"the bundle's {ours} {bundle[ours]!r} is not device {device_id}'s {theirs} "
                f"{device[theirs]!r}",
            )
    return CheckedRecords(bundle, device, shape.height, shape.block_hash, shape.header)


# the whole check ----------------------------------------------------------------------------
@dataclass(frozen=True)
class LaterState:
    """What a later proof file of the same bundle id shows.

    Attributes:
        height: its block.
        status: the bundle's status there (``expired`` once past its expiry at that block).
        hash: the bundle's hash there (another when it was split since).
        split_since: the later record is a split child of the checked one.
        final: whether that block is final by the keys.
    """

    height: int
    status: str
    hash: str
    split_since: bool
    final: bool


@dataclass(frozen=True)
class CertificateSummary:
    """A certificate proof file that checks out: what it proves.

    Attributes:
        bundle: the bundle record as proven.
        device: the device's registry record as proven.
        height: the block it is proven against.
        block_hash: that block's hash.
        chain_id: the chain.
        proposer: the organisation that signed the block.
        block_time_s: the block's time, Unix seconds.
        status: the bundle's status at that block (``expired`` past its expiry).
        finality: who stands behind the block, with the keys file.
        later: what a later proof file showed, when one was given.
    """

    bundle: dict[str, Any]
    device: dict[str, Any]
    height: int
    block_hash: str
    chain_id: str
    proposer: str
    block_time_s: int
    status: str
    finality: FinalityResult
    later: LaterState | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.finality.final

    def to_json(self) -> dict[str, Any]:
        """The summary ``gridledger cert verify --json`` prints."""
        b = self.bundle
        cancellation = b.get("cancellation") or {}
        withdrawal = b.get("withdrawal") or {}
        return {
            "valid": True,
            "bundle_id": b["id"],
            "hash": b["hash"],
            "parent_hash": b.get("parent_hash"),
            "issuance": b["issuance"],
            "bundle_type": b["bundle_type"],
            "device": b["device"],
            "device_name": self.device.get("name"),
            "device_owner": self.device.get("owner_org"),
            "technology": b["technology"],
            "fuel": b["fuel"],
            "capacity_w": b["capacity_w"],
            "country": b["country"],
            "grid_zone": b["grid_zone"],
            "range_start": b["range_start"],
            "range_end": b["range_end"],
            "quantity_wh": b["quantity_wh"],
            "production_start_s": b["production_start_s"],
            "production_end_s": b["production_end_s"],
            "status": self.status,
            "owner": b["owner"],
            "beneficiary": cancellation.get("beneficiary"),
            "site": cancellation.get("site"),
            "period_start_s": cancellation.get("period_start_s"),
            "period_end_s": cancellation.get("period_end_s"),
            "withdrawal_reason": withdrawal.get("reason"),
            "issuing_body": b["issuing_body"],
            "issuer": b["issuer"],
            "scheme": b["scheme"],
            "issued_height": b["issued_height"],
            "expires_s": b["expires_s"],
            "chain_id": self.chain_id,
            "height": self.height,
            "block_hash": self.block_hash,
            "block_time_s": self.block_time_s,
            "proposer": self.proposer,
            "final": self.final,
            "finality": self.finality.to_json(),
            "later": None
            if self.later is None
            else {
                "height": self.later.height,
                "status": self.later.status,
                "hash": self.later.hash,
                "split_since": self.later.split_since,
                "final": self.later.final,
            },
            "notes": self.notes,
        }


def status_at(bundle: Mapping[str, Any], time_s: int) -> str:
    """The bundle's status at ``time_s``: a live bundle at or past ``expires_s`` is expired."""
    status = str(bundle["status"])
    if status in LIVE and time_s >= int(bundle["expires_s"]):
        return "expired"
    return status


def _finality(proof: Mapping[str, Any], keys: ConsortiumKeys) -> FinalityResult:
    return checked_finality(proof, keys, CertificateProofError)


def _checked(proof: Any, keys: ConsortiumKeys) -> tuple[CheckedRecords, FinalityResult]:
    shape = _shape(proof)
    finality = _finality(proof, keys)
    return _records(proof, shape), finality


def verify_certificate_proof(
    proof: Any, keys: KeysLike, *, later: Any | None = None
) -> CertificateSummary:
    """Check a certificate proof file with the consortium keys file alone.

    Args:
        proof: the decoded proof file (``GET /v1/certificates/{id}/proof``,
            ``gridledger cert export --json``).
        keys: the consortium keys file (:mod:`gridledger.sdk.consortium_keys`), from a source
            you trust, never from the node that made the proof.
        later: a proof file of the same bundle id at a later block: refused if it shows the
            certificate withdrawn or expired since.

    Returns:
        What the file proves: the records, the block, the status, who stands behind it.

    Raises:
        CertificateProofError: the first rule broken, with its ``reason``: ``malformed``,
            ``bad_id``, ``header_hash``, the finality reasons (``other_chain``, ``genesis``,
            ``proposer_not_allowed``, ``bad_block_signature``, ``final_without_quorum``),
            ``wrong_key``, ``state_proof``, ``record_malformed``, ``record_mismatch``,
            ``bad_quantity``, ``bundle_hash``, ``device_mismatch``, ``withdrawn``,
            ``expired``; with ``later``: ``later_invalid``, ``later_mismatch``,
            ``later_not_later``, ``withdrawn_later``, ``expired_later``.
        KeysFileError: ``keys`` is a decoded keys file that breaks its format.
    """
    checked_keys = as_keys(keys)
    records, finality = _checked(proof, checked_keys)
    bundle = records.bundle
    status = status_at(bundle, records.time_s)
    if status == "withdrawn":
        withdrawal = bundle.get("withdrawal") or {}
        raise _fail(
            "withdrawn",
            f"bundle {bundle['id']} was withdrawn at height {withdrawal.get('height', '?')}: "
            f"{withdrawal.get('reason', 'no reason given')}",
        )
    if status == "expired":
        raise _fail(
            "expired", f"bundle {bundle['id']} expired at {bundle['expires_s']} (Unix seconds)"
        )
    header = records.header
    notes = []
    if finality.beyond_keys:
        notes.append(
            f"the keys describe the chain up to height {finality.keys_up_to_height} only; a key "
            "rotation or membership change since would not be known"
        )
    later_state = None if later is None else _later(records, later, checked_keys)
    return CertificateSummary(
        bundle=bundle,
        device=records.device,
        height=records.height,
        block_hash=records.block_hash,
        chain_id=str(header["chain_id"]),
        proposer=str(header["proposer"]),
        block_time_s=records.time_s,
        status=status,
        finality=finality,
        later=later_state,
        notes=notes,
    )


def _later(records: CheckedRecords, later: Any, keys: ConsortiumKeys) -> LaterState:
    try:
        newer, finality = _checked(later, keys)
    except CertificateProofError as exc:
        raise _fail(
            "later_invalid",
            f"the later proof file does not check out ({exc.reason}): {exc.message}",
        ) from None
    ours, theirs = records.bundle, newer.bundle
    if theirs["id"] != ours["id"] or theirs["issuance"] != ours["issuance"]:
        raise _fail(
            "later_mismatch",
            f"the later proof file is of bundle {theirs['id']} (issuance {theirs['issuance']}), "
            f"not {ours['id']} (issuance {ours['issuance']})",
        )
    if newer.height <= records.height:
        raise _fail(
            "later_not_later",
            f"the later proof file is of block {newer.height}, not after block {records.height}",
        )
    status = status_at(theirs, newer.time_s)
    if status == "withdrawn":
        withdrawal = theirs.get("withdrawal") or {}
        raise _fail(
            "withdrawn_later",
            f"bundle {ours['id']} was withdrawn at height {withdrawal.get('height', '?')} "
            f"({withdrawal.get('reason', 'no reason given')}), as block {newer.height} shows",
        )
    if status == "expired":
        raise _fail(
            "expired_later",
            f"bundle {ours['id']} expired at {theirs['expires_s']}, as block {newer.height} shows",
        )
    return LaterState(
        height=newer.height,
        status=status,
        hash=str(theirs["hash"]),
        split_since=theirs["hash"] != ours["hash"] and theirs.get("parent_hash") == ours["hash"],
        final=finality.final,
    )


# the QR payload -----------------------------------------------------------------------------
QR_PREFIX = "GLC1:"
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str, size: int, what: str) -> bytes:
    length = -(-size * 8 // 6)
    if len(text) != length or not _B64URL.match(text):
        raise _fail("qr_malformed", f"the {what} is not {length} characters of base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise _fail("qr_malformed", f"the {what} is not base64url") from None
    if _b64(raw) != text:  # unused low bits set: another spelling of the same bytes
        raise _fail("qr_malformed", f"the {what} is not canonical base64url")
    return raw


def _decimal(text: str, what: str) -> int:
    if not _DECIMAL.match(text) or int(text) > INT_MAX:
        raise _fail("qr_malformed", f"the {what} is not a decimal from 0 to 2^63-1")
    return int(text)


@dataclass(frozen=True)
class QrPayload:
    """The digest printed as a QR code on a certificate.

    Text: ``GLC1:<chain_id>/<bundle_id>/<proposer>/<quantity_wh>/<production_start_s>/
    <height>/<bundle hash>/<block hash>/<block signature>``, the hashes and the signature's 64
    bytes in unpadded base64url (RFC 4648 section 5); about 250 characters, a version 11 QR
    code at error correction level M.

    Attributes:
        chain_id: the chain.
        bundle_id: the certificate bundle's id (a claim).
        proposer: the organisation that signed the block.
        quantity_wh: the bundle's Wh (a claim).
        production_start_s: its production start, Unix seconds (a claim).
        height: the block's height (a claim: the signature covers the block hash only).
        bundle_hash: the bundle's hash, hex (a claim).
        block_hash: the block's hash, hex: what the signature covers.
        signature: the proposer's block signature, ``ed25519:<hex>``.
    """

    chain_id: str
    bundle_id: str
    proposer: str
    quantity_wh: int
    production_start_s: int
    height: int
    bundle_hash: str
    block_hash: str
    signature: str

    def text(self) -> str:
        """The payload as printed and scanned."""
        fields = (
            self.chain_id,
            self.bundle_id,
            self.proposer,
            str(self.quantity_wh),
            str(self.production_start_s),
            str(self.height),
            _b64(bytes.fromhex(self.bundle_hash)),
            _b64(bytes.fromhex(self.block_hash)),
            _b64(crypto.parse_signature(self.signature)),
        )
        return QR_PREFIX + "/".join(fields)


def parse_qr_payload(text: str) -> QrPayload:
    """Read a QR payload (surrounding whitespace ignored).

    Raises:
        CertificateProofError: ``qr_malformed``, naming the field.
    """
    text = text.strip()
    if not text.startswith(QR_PREFIX):
        raise _fail("qr_malformed", f"a certificate QR payload starts with {QR_PREFIX}")
    parts = text[len(QR_PREFIX) :].split("/")
    if len(parts) != 9:
        raise _fail("qr_malformed", f"a certificate QR payload has 9 fields, not {len(parts)}")
    chain_id, bundle_id, proposer, quantity, start, height, bhash, blk, sig = parts
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", chain_id):
        raise _fail("qr_malformed", "the chain id is not 1-64 of A-Z a-z 0-9 . _ -")
    try:
        parse_bundle_id(bundle_id)
    except CertificateProofError as exc:
        raise _fail("qr_malformed", exc.message) from None
    if not ID_RE.match(proposer):
        raise _fail("qr_malformed", "the proposer is not an organisation id")
    return QrPayload(
        chain_id=chain_id,
        bundle_id=bundle_id,
        proposer=proposer,
        quantity_wh=_decimal(quantity, "quantity"),
        production_start_s=_decimal(start, "production start"),
        height=_decimal(height, "height"),
        bundle_hash=_unb64(bhash, 32, "bundle hash").hex(),
        block_hash=_unb64(blk, 32, "block hash").hex(),
        signature="ed25519:" + _unb64(sig, 64, "signature").hex(),
    )


def qr_payload_of(proof: Any) -> QrPayload:
    """The QR payload of a certificate proof file (its records checked, not its keys).

    Raises:
        CertificateProofError: the file does not check out (:func:`check_records`), or its
            chain id cannot be written in a payload.
    """
    records = check_records(proof)
    bundle, header = records.bundle, records.header
    signature = proof["signature"]
    try:
        crypto.parse_signature(signature)
    except GridLedgerError:
        raise _fail("malformed", "the file's block signature is not ed25519:<128 hex>") from None
    chain_id = str(header["chain_id"])
    if "/" in chain_id or not chain_id:
        raise _fail("qr_malformed", f"chain id {chain_id!r} cannot be written in a payload")
    return QrPayload(
        chain_id=chain_id,
        bundle_id=str(bundle["id"]),
        proposer=str(header["proposer"]),
        quantity_wh=int(bundle["quantity_wh"]),
        production_start_s=int(bundle["production_start_s"]),
        height=records.height,
        bundle_hash=str(bundle["hash"]),
        block_hash=records.block_hash,
        signature=str(signature),
    )


@dataclass(frozen=True)
class QrResult:
    """What a QR payload proves, and what it only claims.

    Attributes:
        payload: the payload read.
        node_key: the proposer's node key at the payload's height (the keys file's), which
            signed the block hash.
        beyond_keys: the height is above the keys file's ``up_to_height``.
        proof: the proof file's summary, when one was given and matched the claims.
    """

    payload: QrPayload
    node_key: str
    beyond_keys: bool
    proof: CertificateSummary | None = None

    @property
    def claims_checked(self) -> bool:
        return self.proof is not None

    def to_json(self) -> dict[str, Any]:
        p = self.payload
        return {
            "valid": True,
            "kind": "qr",
            "chain_id": p.chain_id,
            "proven": {
                "proposer": p.proposer,
                "block_hash": p.block_hash,
                "node_key": self.node_key,
                "statement": f"{p.proposer}'s node key at height {p.height} signed block "
                f"{p.block_hash}",
            },
            "claims": {
                "bundle_id": p.bundle_id,
                "bundle_hash": p.bundle_hash,
                "quantity_wh": p.quantity_wh,
                "production_start_s": p.production_start_s,
                "height": p.height,
            },
            "claims_checked": self.claims_checked,
            "beyond_keys": self.beyond_keys,
            "proof": None if self.proof is None else self.proof.to_json(),
        }


def verify_qr_payload(
    text: str, keys: KeysLike, *, proof: Any | None = None, later: Any | None = None
) -> QrResult:
    """Check a certificate's QR payload with the consortium keys file.

    Alone it proves that the named proposer's node key at the named height (per the keys)
    signed the block hash. With ``proof`` (a certificate proof file, checked in full) the
    claims are checked too: the same bundle id, hash, quantity and production start, and at
    the payload's height the same block.

    Raises:
        CertificateProofError: ``qr_malformed``, ``other_chain``, ``genesis``,
            ``proposer_not_allowed``, ``bad_block_signature``; with ``proof``, any reason of
            :func:`verify_certificate_proof`, or ``qr_mismatch`` when the claims differ.
        KeysFileError: ``keys`` is a decoded keys file that breaks its format.
    """
    payload = parse_qr_payload(text)
    checked = as_keys(keys)
    if payload.chain_id != checked.chain_id:
        raise _fail(
            "other_chain",
            f"the keys file is for chain {checked.chain_id!r}, the payload of chain "
            f"{payload.chain_id!r}",
        )
    if payload.height == 0:
        raise _fail("genesis", "block 0 is the genesis block: it is not signed")
    if payload.proposer not in checked.proposers_at(payload.height):
        raise _fail(
            "proposer_not_allowed",
            f"{payload.proposer} is not allowed to propose block {payload.height} (per the "
            "keys file)",
        )
    node_key = checked.node_key_at(payload.proposer, payload.height) or ""
    message = DOMAIN_BLOCK + bytes.fromhex(payload.block_hash)
    if not crypto.verify(node_key, message, payload.signature):
        raise _fail(
            "bad_block_signature",
            f"the payload's signature is not {payload.proposer}'s node key at height "
            f"{payload.height} ({node_key}) over its block hash",
        )
    summary = None
    if proof is not None:
        summary = verify_certificate_proof(proof, checked, later=later)
        _same_claims(payload, summary)
    return QrResult(payload, node_key, payload.height > checked.up_to_height, summary)


def _same_claims(payload: QrPayload, summary: CertificateSummary) -> None:
    b = summary.bundle
    differ = [
        name
        for name, ours, theirs in (
            ("bundle id", payload.bundle_id, b["id"]),
            ("bundle hash", payload.bundle_hash, b["hash"]),
            ("quantity", payload.quantity_wh, b["quantity_wh"]),
            ("production start", payload.production_start_s, b["production_start_s"]),
        )
        if ours != theirs
    ]
    if payload.height == summary.height:
        differ += [
            name
            for name, ours, theirs in (
                ("block hash", payload.block_hash, summary.block_hash),
                ("proposer", payload.proposer, summary.proposer),
            )
            if ours != theirs
        ]
    if differ:
        raise _fail(
            "qr_mismatch",
            f"the payload and the proof file differ in: {', '.join(differ)}",
        )


def fetch_certificate_proof(client: Client, bundle_id: str) -> dict[str, Any]:
    """A bundle's proof file from a node (``GET /v1/certificates/{id}/proof``), unchecked:
    check it with :func:`verify_certificate_proof` and keys from elsewhere.

    Raises:
        CertificateProofError: ``bad_id``, before asking.
        ApiError: the node refused (``not_found`` for an unknown bundle).
        TransportError: the node could not be reached.
    """
    parse_bundle_id(bundle_id)
    path = f"/v1/certificates/{quote(bundle_id, safe=':')}/proof"
    found: dict[str, Any] = client._get(path)
    return found


__all__ = [
    "CERTIFICATE_PROOF_FORMAT",
    "DOMAIN_CERTIFICATE",
    "IMMUTABLE_FIELDS",
    "QR_PREFIX",
    "CertificateProofError",
    "CertificateSummary",
    "CheckedRecords",
    "LaterState",
    "QrPayload",
    "QrResult",
    "bundle_hash_of",
    "bundle_state_key",
    "check_records",
    "device_state_key",
    "fetch_certificate_proof",
    "parse_bundle_id",
    "parse_qr_payload",
    "qr_payload_of",
    "status_at",
    "verify_certificate_proof",
    "verify_qr_payload",
]
