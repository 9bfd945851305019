"""Checking proofs from the API without a node.

A proof from ``GET /v1/state/{key}/proof`` or ``GET /v1/txs/{hash}/proof`` carries the block
header it was made against. Checking one takes three steps, each a function here:

1. the record is in the header: :func:`verify_state_proof` (sparse Merkle tree, against
   ``state_root``) or :func:`verify_tx_proof` (RFC 6962 audit path, against ``tx_root``);
2. the header is the one it claims to be: its canonical hash equals ``block_hash``;
3. the header was signed by the proposing organisation's node key:
   :func:`verify_header_signature` (pass ``node_key=`` to the functions above to do it there).

The node key comes from the consortium (``genesis.json`` or an out-of-band list), not from
the node being checked; trusting the node's own answer for it would prove nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from gridledger.core import crypto
from gridledger.core.crypto import sha256
from gridledger.core.merkle import InvalidInclusionProof, verify_inclusion
from gridledger.core.types import BlockHeader, Transaction
from gridledger.sdk.errors import ProofError
from gridledger.state.tree import InvalidStateProof, StateProof, verify_proof

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
) -> BlockHeader:
    hdr = header_from_json(_field(proof, "header", dict))
    if hdr.hash().hex() != _field(proof, "block_hash", str):
        raise ProofError("the header does not hash to the proof's block_hash")
    if "height" in proof and proof["height"] != hdr.height:
        raise ProofError("the proof's height differs from its header's")
    if trusted is not None and header_from_json(trusted).hash() != hdr.hash():
        raise ProofError("the proof was made against another block than the trusted header")
    if node_key is not None:
        verify_header_signature(hdr, _field(proof, "signature", str), node_key)
    return hdr


def verify_tx_proof(
    proof: Mapping[str, Any],
    *,
    header: Mapping[str, Any] | BlockHeader | None = None,
    node_key: str | None = None,
) -> Transaction:
    """Check a transaction inclusion proof (``GET /v1/txs/{hash}/proof``).

    Args:
        proof: the proof as the API returned it.
        header: a header you already trust; the proof must be against that block.
        node_key: also check the header's signature with this organisation node key.

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
    hdr = _checked_header(proof, header, node_key)
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
) -> bytes | None:
    """Check a state proof (``GET /v1/state/{key}/proof``) against its header's state root.

    Args:
        proof: the proof as the API returned it.
        header: a header you already trust; the proof must be against that block.
        node_key: also check the header's signature with this organisation node key.

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
    hdr = _checked_header(proof, header, node_key)
    try:
        state_proof = StateProof.from_json(_field(proof, "proof", dict))
        verify_proof(_hex(hdr.state_root, "state_root"), key, value, state_proof)
    except InvalidStateProof as exc:
        raise ProofError(f"state proof: {exc}") from None
    except ValueError as exc:  # malformed hex inside the proof's levels
        raise ProofError(f"state proof is malformed: {exc}") from None
    return value
