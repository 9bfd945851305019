"""What the offline proof-file verifiers share: the per-format error, the header and finality
checks, and the ``records`` list of state-proven key/value entries (``docs/formats.md``).

Each format keeps its own error class (``card.<reason>``, ``product.<reason>``, ...) and its
own rules; the helpers here take that class and raise it, so every format keeps its codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec

from gridledger.core.types import BlockHeader
from gridledger.sdk.consortium_keys import ConsortiumKeys
from gridledger.sdk.errors import FinalityError, ProofError
from gridledger.sdk.proofs import FinalityResult, header_from_json, proof_finality
from gridledger.state.tree import InvalidStateProof, StateProof, verify_proof

RECORD_FIELDS = frozenset({"key", "value", "proof"})
MAX_RECORDS = 10_000


class ProofFileError(ProofError):
    """A proof file that does not check out; ``code`` is ``<prefix>.<reason>``.

    Attributes:
        reason: the rule it breaks, as the format's test vectors name it.
    """

    prefix: ClassVar[str] = "proof"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = f"{self.prefix}.{reason}"
        self.reason = reason
        self.args = (f"{self.code}: {message}",)


def checked_header(proof: Mapping[str, Any], error: type[ProofFileError]) -> BlockHeader:
    """The file's ``header``, hashing to its ``block_hash``, at its ``height``.

    Raises:
        error: ``malformed`` or ``header_hash``.
    """
    header_obj = proof["header"]
    if not isinstance(header_obj, dict):
        raise error("malformed", "the header is not an object")
    try:
        header = header_from_json(header_obj)
    except ProofError as exc:
        raise error("malformed", exc.message) from None
    if not isinstance(proof["block_hash"], str) or header.hash().hex() != proof["block_hash"]:
        raise error("header_hash", "the header does not hash to the file's block_hash")
    if type(proof["height"]) is not int or proof["height"] != header.height:
        raise error("malformed", "the file's height is not its header's")
    return header


def checked_finality(
    proof: Mapping[str, Any], keys: ConsortiumKeys, error: type[ProofFileError]
) -> FinalityResult:
    """:func:`gridledger.sdk.proofs.proof_finality`, its failures raised as ``error`` (the
    finality rule's reason, or ``malformed``)."""
    try:
        return proof_finality(proof, keys)
    except FinalityError as exc:
        raise error(exc.reason, exc.message) from None
    except ProofError as exc:
        raise error("malformed", exc.message) from None


def proven_records(
    proof: Mapping[str, Any], root: bytes, error: type[ProofFileError]
) -> dict[str, bytes]:
    """The file's ``records``, each proven in the state with ``root``; value bytes by key.

    Raises:
        error: ``malformed`` (not 1-10,000 entries of exactly key, value and proof, or a key
            given twice) or ``state_proof``.
    """
    entries = proof["records"]
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_RECORDS:
        raise error("malformed", f"records is a list of 1-{MAX_RECORDS} entries")
    out: dict[str, bytes] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or set(entry) != RECORD_FIELDS:
            raise error("malformed", "each record entry has exactly key, value and proof")
        key, value, raw = entry["key"], entry["value"], entry["proof"]
        if not isinstance(key, str) or not isinstance(value, str) or not isinstance(raw, Mapping):
            raise error("malformed", "a record's key and value are strings, its proof an object")
        if key in out:
            raise error("malformed", f"the record {key} is given twice")
        try:
            state_proof = StateProof.from_json(raw)
            verify_proof(root, key.encode(), value.encode(), state_proof)
        except (InvalidStateProof, ValueError, TypeError, KeyError) as exc:
            raise error(
                "state_proof", f"the record {key} is not in the block's state ({exc})"
            ) from None
        out[key] = value.encode()
    return out


def decode_record(
    records: Mapping[str, bytes],
    key: str,
    type_: type[Any],
    what: str,
    error: type[ProofFileError],
) -> Any:
    """The record under ``key`` decoded as ``type_``.

    Raises:
        error: ``missing_record`` or ``record_malformed``.
    """
    raw = records.get(key)
    if raw is None:
        raise error("missing_record", f"the file lacks the {what} ({key})")
    try:
        return msgspec.json.decode(raw, type=type_)
    except msgspec.DecodeError:  # ValidationError is one
        raise error("record_malformed", f"the {what} record does not decode") from None
