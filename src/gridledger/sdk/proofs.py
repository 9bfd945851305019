"""Checking proofs from the API without a node.

A proof from ``GET /v1/state/{key}/proof`` or ``GET /v1/txs/{hash}/proof`` carries the block
header it was made against. Checking one takes these steps, each a function here:

1. the record is in the header: :func:`verify_state_proof` (sparse Merkle tree, against
   ``state_root``) or :func:`verify_tx_proof` (RFC 6962 audit path, against ``tx_root``);
2. the header is the one it claims to be: its canonical hash equals ``block_hash``;
3. the header was signed by the proposing organisation's node key:
   :func:`verify_header_signature` (pass ``node_key=`` to the functions above to do it there);
4. with the consortium keys file (``keys=``, :mod:`gridledger.sdk.consortium_keys`), the
   header is signed by the key its proposer had at that height, the attestations beside it
   are checked, and a ``"final": true`` claim must be backed by more than two thirds of the
   organisations allowed to propose then: :func:`verify_finality`, :func:`proof_finality`
   (``docs/formats.md`` §6b).

Node keys come from the consortium (``genesis.json``, a keys file), not from the node being
checked; trusting the node's own answer for them would prove nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from gridledger.contracts.metering import keys as metering_keys
from gridledger.core import crypto
from gridledger.core.crypto import sha256
from gridledger.core.encoding import canonical
from gridledger.core.merkle import InvalidInclusionProof, verify_inclusion
from gridledger.core.types import Attestation, BlockHeader, Transaction
from gridledger.sdk.consortium_keys import ConsortiumKeys, as_keys
from gridledger.sdk.errors import FinalityError, ProofError
from gridledger.state.tree import InvalidStateProof, StateProof, verify_proof

KeysLike = ConsortiumKeys | Mapping[str, Any]
"""A checked :class:`ConsortiumKeys`, or a decoded keys file (checked when used)."""

T = TypeVar("T")


def _field(obj: Mapping[str, Any], name: str, kind: type[T]) -> T:
    value = obj.get(name) if isinstance(obj, Mapping) else None
    # bool is an int to Python, but never a valid index or size
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProofError(f"the proof lacks a valid {name!r} ({kind.__name__})")
    return value


def _hex(value: str, what: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ProofError(f"{what} is not hex") from None
    if raw.hex() != value:
        raise ProofError(f"{what} must be lower-case hex")
    return raw


def header_from_json(obj: Mapping[str, Any] | BlockHeader) -> BlockHeader:
    """A block header from its JSON form (as the API returns it).

    Raises:
        ProofError: the object is not a well-formed header.
    """
    if isinstance(obj, BlockHeader):
        return obj
    try:
        return msgspec.convert(dict(obj), BlockHeader, strict=True)
    except (msgspec.ValidationError, TypeError, ValueError) as exc:
        raise ProofError(f"not a block header: {exc}") from None


def verify_header_signature(
    header: Mapping[str, Any] | BlockHeader, signature: str, node_key: str
) -> None:
    """Check that ``signature`` over ``header`` was made with ``node_key``.

    Args:
        header: the header (JSON form or :class:`BlockHeader`).
        signature: ``"ed25519:<hex>"`` as the API returns it beside the header.
        node_key: the proposing organisation's node key, from a source you trust.

    Raises:
        ProofError: the signature does not match.
    """
    hdr = header_from_json(header)
    if not crypto.verify(node_key, hdr.signing_bytes(), signature):
        raise ProofError(
            f"the signature of block {hdr.height} does not match the node key {node_key}"
        )


def _checked_header(
    proof: Mapping[str, Any],
    trusted: Mapping[str, Any] | BlockHeader | None,
    node_key: str | None,
    keys: KeysLike | None = None,
) -> BlockHeader:
    if node_key is not None and keys is not None:
        raise ValueError("give node_key or keys, not both")
    hdr = header_from_json(_field(proof, "header", dict))
    if hdr.hash().hex() != _field(proof, "block_hash", str):
        raise ProofError("the header does not hash to the proof's block_hash")
    if "height" in proof and proof["height"] != hdr.height:
        raise ProofError("the proof's height differs from its header's")
    if trusted is not None and header_from_json(trusted).hash() != hdr.hash():
        raise ProofError("the proof was made against another block than the trusted header")
    if node_key is not None:
        verify_header_signature(hdr, _field(proof, "signature", str), node_key)
    if keys is not None:
        proof_finality(proof, keys)
    return hdr


# finality (docs/formats.md section 6b) ----------------------------------------------------------
def quorum(n: int) -> int:
    """The fewest organisations that are more than two thirds of ``n``: ``n * 2 // 3 + 1``
    (1 of 1, 2 of 2, 3 of 3, 3 of 4, 4 of 5, 5 of 7)."""
    return n * 2 // 3 + 1


_ATTESTATION_FIELDS = {"block_hash", "chain_id", "height", "org", "signature", "state_root"}


@dataclass(frozen=True)
class RejectedAttestation:
    """An attestation that does not count, and why.

    Attributes:
        index: its position in the list given.
        org: the organisation it names (``None`` when it names none readable).
        reason: the rule it breaks: ``malformed``, ``wrong_chain``, ``wrong_height``,
            ``wrong_block``, ``wrong_state_root``, ``not_a_proposer``, ``bad_signature`` or
            ``duplicate``.
        message: the same for people.
    """

    index: int
    org: str | None
    reason: str
    message: str


@dataclass(frozen=True)
class FinalityResult:
    """What a block's signature and attestations prove about its finality.

    Attributes:
        height: the block's height.
        block_hash: its hash (hex).
        proposers: the organisations allowed to propose at ``height`` (the keys file's).
        quorum: how many of them must stand behind the block: more than two thirds.
        attested: the distinct organisations that do, sorted: the proposer by its valid block
            signature, and every organisation with a valid attestation.
        proposer_signed: whether the proposer counts by its block signature.
        rejected: the attestations that do not count, in list order.
        final: ``len(attested) >= quorum``.
        keys_up_to_height: the keys file's ``up_to_height``.
    """

    height: int
    block_hash: str
    proposers: list[str]
    quorum: int
    attested: list[str]
    proposer_signed: bool
    rejected: list[RejectedAttestation]
    final: bool
    keys_up_to_height: int

    @property
    def beyond_keys(self) -> bool:
        """The block is above the keys file's ``up_to_height``: the result assumes no key
        rotation or membership change since the file was taken."""
        return self.height > self.keys_up_to_height

    def to_json(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "block_hash": self.block_hash,
            "final": self.final,
            "attested": self.attested,
            "quorum": self.quorum,
            "proposers": self.proposers,
            "proposer_signed": self.proposer_signed,
            "rejected": [
                {"index": r.index, "org": r.org, "reason": r.reason, "message": r.message}
                for r in self.rejected
            ],
            "keys_up_to_height": self.keys_up_to_height,
            "beyond_keys": self.beyond_keys,
        }


def _attestation_problem(
    att: Any, hdr: BlockHeader, block_hash: str, keys: ConsortiumKeys, proposers: list[str]
) -> tuple[str, str] | None:
    """``(reason, message)`` of the first rule ``att`` breaks, or ``None`` when it is valid
    (the duplicate rule is the caller's)."""
    if (
        not isinstance(att, Mapping)
        or set(att) != _ATTESTATION_FIELDS
        or type(att["height"]) is not int
        or att["height"] < 0
        or not all(isinstance(att[f], str) for f in _ATTESTATION_FIELDS - {"height"})
    ):
        return "malformed", "not an attestation: six fields, height an integer, others strings"
    org = att["org"]
    if att["chain_id"] != hdr.chain_id:
        return "wrong_chain", f"{org} attested a block of chain {att['chain_id']!r}"
    if att["height"] != hdr.height:
        return "wrong_height", f"{org} attested height {att['height']}, not {hdr.height}"
    if att["block_hash"] != block_hash:
        return "wrong_block", f"{org} attested another block ({att['block_hash'][:16]}…)"
    if att["state_root"] != hdr.state_root:
        return "wrong_state_root", f"{org} attested another state root than the header's"
    if org not in proposers:
        return "not_a_proposer", f"{org} is not allowed to propose at height {hdr.height}"
    # a checked keys file gives every proposer a key at every height it proposes
    node_key = keys.node_key_at(org, hdr.height) or ""
    signed = Attestation(hdr.chain_id, hdr.height, block_hash, hdr.state_root, org)
    if not crypto.verify(node_key, signed.signing_bytes(), att["signature"]):
        return (
            "bad_signature",
            f"the attestation is not signed by {org}'s node key at height {hdr.height}",
        )
    return None


def verify_finality(
    header: Mapping[str, Any] | BlockHeader,
    block_hash: str,
    attestations: list[Any],
    keys: KeysLike,
    *,
    signature: str | None = None,
) -> FinalityResult:
    """Check which organisations stand behind a block and whether they make it final.

    The rule (``docs/formats.md`` §6b): the block at height ``h`` is final when at least
    ``quorum(n)`` distinct organisations of the ``n`` allowed to propose at ``h`` stand
    behind its hash: the proposer by its block signature (when ``signature`` is given), and
    each organisation by a valid attestation. An organisation counts once however often it
    appears; attestations that break a rule are listed in ``rejected`` and do not count.

    Args:
        header: the block header (JSON form or :class:`BlockHeader`).
        block_hash: the hash the header must have (hex).
        attestations: the attestations given with it (JSON objects), in any order.
        keys: the consortium keys file: who may propose at ``h`` and every node key by height.
        signature: the proposer's block signature; given, it must be valid.

    Returns:
        The organisations counted, the quorum, ``final``, and every rejected attestation.

    Raises:
        FinalityError: the keys are for another chain, the header does not hash to
            ``block_hash``, it is the genesis block (unsigned), or the block signature is
            given and its proposer was not allowed or did not make it.
        KeysFileError: ``keys`` is a decoded file that breaks the format.
    """
    keys = as_keys(keys)
    hdr = header_from_json(header)
    if hdr.chain_id != keys.chain_id:
        raise FinalityError(
            "other_chain",
            f"the keys file is for chain {keys.chain_id!r}, the block of chain {hdr.chain_id!r}",
        )
    if hdr.hash().hex() != block_hash:
        raise FinalityError("header_hash", "the header does not hash to the block hash given")
    height = hdr.height
    if height == 0:
        raise FinalityError(
            "genesis",
            "block 0 is the genesis block: it is not signed; compare its hash with the "
            "genesis header of the chain's genesis document instead",
        )
    proposers = keys.proposers_at(height)
    counted: set[str] = set()
    if signature is not None:
        if hdr.proposer not in proposers:
            raise FinalityError(
                "proposer_not_allowed",
                f"{hdr.proposer} is not allowed to propose block {height} (per the keys file)",
            )
        node_key = keys.node_key_at(hdr.proposer, height) or ""
        if not crypto.verify(node_key, hdr.signing_bytes(), signature):
            raise FinalityError(
                "bad_block_signature",
                f"block {height} is not signed by {hdr.proposer}'s node key at that height "
                f"({node_key})",
            )
        counted.add(hdr.proposer)
    seen: set[str] = set()
    rejected = []
    for index, att in enumerate(attestations):
        problem = _attestation_problem(att, hdr, block_hash, keys, proposers)
        named = att.get("org") if isinstance(att, Mapping) else None
        org = named if isinstance(named, str) else None
        if problem is None and org in seen:
            problem = ("duplicate", f"{org} attested already earlier in the list")
        if problem is not None or org is None:
            rejected.append(RejectedAttestation(index, org, *(problem or ("malformed", ""))))
            continue
        seen.add(org)
        counted.add(org)
    need = quorum(len(proposers))
    return FinalityResult(
        height=height,
        block_hash=block_hash,
        proposers=proposers,
        quorum=need,
        attested=sorted(counted),
        proposer_signed=signature is not None,
        rejected=rejected,
        final=len(counted) >= need,
        keys_up_to_height=keys.up_to_height,
    )


def proof_finality(proof: Mapping[str, Any], keys: KeysLike) -> FinalityResult:
    """Check the header, block signature, attestations and ``final`` claim of a proof file
    (a state, reading or transaction proof; or a block or header view, whose hash is
    ``hash``) with the consortium keys file.

    Raises:
        FinalityError: as :func:`verify_finality`; ``malformed`` when ``final`` is not a
            boolean or ``attestations`` not a list; ``final_without_quorum`` when the proof
            claims ``"final": true`` and its attestations do not make it final.
        ProofError: the proof lacks its header, hash or signature.
    """
    hash_field = "block_hash" if "block_hash" in proof else "hash"
    block_hash = _field(proof, hash_field, str)
    attestations = proof.get("attestations", [])
    if not isinstance(attestations, list):
        raise FinalityError("malformed", "the proof's attestations are not a list")
    claim = proof.get("final")
    if claim is not None and not isinstance(claim, bool):
        raise FinalityError("malformed", "the proof's final is not true or false")
    result = verify_finality(
        _field(proof, "header", dict),
        block_hash,
        attestations,
        keys,
        signature=_field(proof, "signature", str),
    )
    if claim is True and not result.final:
        raise FinalityError(
            "final_without_quorum",
            f"the proof claims block {result.height} is final, but only "
            f"{len(result.attested)} of the {len(result.proposers)} organisations allowed to "
            f"propose it stand behind it ({', '.join(result.attested) or 'none'}); "
            f"{result.quorum} are needed",
        )
    return result


def verify_tx_proof(
    proof: Mapping[str, Any],
    *,
    header: Mapping[str, Any] | BlockHeader | None = None,
    node_key: str | None = None,
    keys: KeysLike | None = None,
) -> Transaction:
    """Check a transaction inclusion proof (``GET /v1/txs/{hash}/proof``).

    Args:
        proof: the proof as the API returned it.
        header: a header you already trust; the proof must be against that block.
        node_key: also check the header's signature with this organisation node key.
        keys: instead, check the header's signature, its attestations and its ``final``
            claim with the consortium keys file (:func:`proof_finality`).

    Returns:
        The proven transaction.

    Raises:
        ProofError: any part does not check out.
    """
    leaf = _hex(_field(proof, "tx_hex", str), "tx_hex")
    if sha256(leaf).hex() != _field(proof, "hash", str):
        raise ProofError("the transaction bytes do not hash to the proof's hash")
    try:
        tx = msgspec.json.decode(leaf, type=Transaction)
    except msgspec.DecodeError as exc:
        raise ProofError(f"the proven bytes are not a transaction: {exc}") from None
    if "tx" in proof and proof["tx"] != msgspec.json.decode(leaf):
        raise ProofError("the transaction shown differs from the proven bytes")
    hdr = _checked_header(proof, header, node_key, keys)
    tree_size = _field(proof, "tree_size", int)
    if tree_size != hdr.tx_count:
        raise ProofError(f"tree_size {tree_size} differs from the header's tx_count")
    path = [_hex(p, "an audit path entry") for p in _field(proof, "audit_path", list)]
    try:
        verify_inclusion(
            leaf, _field(proof, "index", int), tree_size, path, _hex(hdr.tx_root, "tx_root")
        )
    except InvalidInclusionProof as exc:
        raise ProofError(f"inclusion proof: {exc}") from None
    return tx


def verify_state_proof(
    proof: Mapping[str, Any],
    *,
    header: Mapping[str, Any] | BlockHeader | None = None,
    node_key: str | None = None,
    keys: KeysLike | None = None,
) -> bytes | None:
    """Check a state proof (``GET /v1/state/{key}/proof``) against its header's state root.

    Args:
        proof: the proof as the API returned it.
        header: a header you already trust; the proof must be against that block.
        node_key: also check the header's signature with this organisation node key.
        keys: instead, check the header's signature, its attestations and its ``final``
            claim with the consortium keys file (:func:`proof_finality`).

    Returns:
        The proven value of the key, or ``None`` when the proof shows the key is absent.

    Raises:
        ProofError: any part does not check out.
    """
    key = _field(proof, "key", str).encode()
    value_hex = proof.get("value_hex")
    value = None if value_hex is None else _hex(_field(proof, "value_hex", str), "value_hex")
    if "value" in proof:
        shown: Any = None
        if value is not None:
            try:
                shown = msgspec.json.decode(value)
            except msgspec.DecodeError:
                shown = None
        if proof["value"] != shown:
            raise ProofError("the value shown differs from the proven bytes")
    hdr = _checked_header(proof, header, node_key, keys)
    proven_key, proven_value = key, value
    if proof.get("log") is not None:
        proven_key, proven_value = verify_log_entry(key, value, _field(proof, "log", dict))
    try:
        state_proof = StateProof.from_json(_field(proof, "proof", dict))
        verify_proof(_hex(hdr.state_root, "state_root"), proven_key, proven_value, state_proof)
    except InvalidStateProof as exc:
        raise ProofError(f"state proof: {exc}") from None
    except ValueError as exc:  # malformed hex inside the proof's levels
        raise ProofError(f"state proof is malformed: {exc}") from None
    return value


def verify_log_entry(
    key: bytes, value: bytes | None, log: Mapping[str, Any]
) -> tuple[bytes, bytes]:
    """Check a readings-log entry against its block's seal (``docs/formats.md`` §5a); the
    seal's key and bytes, which the state proof must then prove.

    The log proves that a key holds a value, never that it is absent.
    """
    if value is None:
        raise ProofError("a log proof proves a value: value_hex must be given")
    height = _field(log, "height", int)
    index = _field(log, "index", int)
    count = _field(log, "count", int)
    seal_key = _field(log, "seal_key", str)
    if seal_key.encode() != metering_keys.log_seal(height):
        raise ProofError(f"the seal key {seal_key!r} is not that of block {height}")
    seal = _hex(_field(log, "seal_hex", str), "seal_hex")
    try:
        sealed = msgspec.json.decode(seal, type=_Seal)
    except msgspec.MsgspecError as exc:
        raise ProofError(f"the seal does not decode: {exc}") from None
    if canonical(sealed) != seal:
        raise ProofError("the seal is not in canonical form")
    if sealed.count != count:
        raise ProofError(f"the seal holds {sealed.count} entries, the proof says {count}")
    path = [_hex(h, "audit_path") for h in _field(log, "audit_path", list)]
    if any(len(h) != 32 for h in path):
        raise ProofError("audit path hashes are 32 bytes")
    entry = len(key).to_bytes(2, "big") + key + value
    try:
        verify_inclusion(entry, index, count, path, _hex(sealed.root, "seal root"))
    except InvalidInclusionProof as exc:
        raise ProofError(f"log proof: {exc}") from None
    return seal_key.encode(), seal


class _Seal(msgspec.Struct, forbid_unknown_fields=True):
    count: int
    root: str
