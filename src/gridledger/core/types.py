"""The chain's records: transactions, receipts, block headers and blocks.

All are msgspec Structs, so decoding untrusted JSON is typed and fast; their canonical bytes
(:func:`gridledger.core.encoding.canonical`) are what is signed and hashed. Field units are given
in each docstring. ``docs/formats.md`` describes the same records for other implementations.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from gridledger.core.crypto import DOMAIN_ATTESTATION, DOMAIN_BLOCK, DOMAIN_TX, sha256
from gridledger.core.encoding import INT_MAX, canonical
from gridledger.core.errors import MalformedTransaction

NonNegInt = Annotated[int, msgspec.Meta(ge=0, le=INT_MAX)]


class Transaction(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=False):
    """A signed request to change state.

    Attributes:
        chain_id: the chain this transaction is for; stops replays on other chains.
        kind: ``"<contract>.<action>"``, e.g. ``"funds.transfer"``.
        sender: the registered account that signs.
        nonce: any integer above the sender's last used nonce (gaps are allowed).
        body: the action's parameters; integers only (Wh, gCO2e, minor currency units).
        signature: ``"ed25519:<hex>"`` over :meth:`signing_bytes`.
    """

    chain_id: str
    kind: str
    sender: str
    nonce: NonNegInt
    body: dict[str, Any]
    signature: str = ""

    def unsigned(self) -> dict[str, Any]:
        return {
            "body": self.body,
            "chain_id": self.chain_id,
            "kind": self.kind,
            "nonce": self.nonce,
            "sender": self.sender,
        }

    def signing_bytes(self) -> bytes:
        """What the sender signs: the domain tag and the canonical transaction sans signature."""
        return DOMAIN_TX + canonical(self.unsigned())

    def encode(self) -> bytes:
        """Canonical bytes of the signed transaction (stored in blocks, hashed for its id)."""
        return canonical(self)

    def hash(self) -> bytes:
        return sha256(self.encode())


_tx_decoder = msgspec.json.Decoder(Transaction)


def decode_tx(raw: bytes) -> Transaction:
    """A transaction from its JSON bytes (raises :class:`MalformedTransaction` saying why).

    Whatever the bytes, this raises nothing else: invalid UTF-8 and nesting deeper than the
    decoder follows are malformed transactions too.
    """
    try:
        return _tx_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise MalformedTransaction(f"not a transaction: {exc}") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise MalformedTransaction(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise MalformedTransaction("not a transaction: nested too deeply") from None


class Receipt(msgspec.Struct, forbid_unknown_fields=True):
    """What executing one transaction did.

    Attributes:
        tx_hash: hex SHA-256 of the transaction's canonical bytes.
        status: ``"ok"`` or ``"failed"``; a failed transaction changed nothing but its nonce.
        code: the error code when failed (see ``gridledger.core.errors``), else ``None``.
        message: the error message when failed, else ``None``.
        events: what happened, in order: ``{"type": ..., ...}`` records with integer amounts.
    """

    tx_hash: str
    status: str
    code: str | None = None
    message: str | None = None
    events: list[dict[str, Any]] = msgspec.field(default_factory=list)

    def encode(self) -> bytes:
        return canonical(self)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class BlockHeader(msgspec.Struct, forbid_unknown_fields=True):
    """The hashed summary of a block; its hash is the block's id.

    Attributes:
        chain_id: the chain.
        height: 0 for genesis, then +1 per block.
        prev_hash: hex hash of the previous header (64 zeros for genesis).
        time: block time in milliseconds since the Unix epoch (UTC); never decreases.
        tx_root: hex RFC 6962 root over the block's canonical transactions.
        receipt_root: hex RFC 6962 root over the canonical receipts, in the same order.
        state_root: hex root of the sparse Merkle tree over the state after the block.
        proposer: the organisation whose node proposed the block.
        tx_count: the number of transactions in the block.
    """

    chain_id: str
    height: NonNegInt
    prev_hash: str
    time: NonNegInt
    tx_root: str
    receipt_root: str
    state_root: str
    proposer: str
    tx_count: NonNegInt

    def encode(self) -> bytes:
        return canonical(self)

    def hash(self) -> bytes:
        return sha256(self.encode())

    def signing_bytes(self) -> bytes:
        return DOMAIN_BLOCK + self.hash()


class Block(msgspec.Struct, forbid_unknown_fields=True):
    """A header, its transactions in execution order, and the proposer's signature of the header."""

    header: BlockHeader
    txs: list[Transaction]
    signature: str


class Attestation(msgspec.Struct, forbid_unknown_fields=True):
    """An organisation's signed statement of what it computed for a block.

    Every organisation's node signs one after importing (or proposing) a block; a block is
    final when more than two thirds of the organisations allowed to propose at its height
    attested its hash and state root.

    Attributes:
        chain_id: the chain.
        height: the block's height.
        block_hash: hex hash of the block's header.
        state_root: hex state root the organisation computed after the block.
        org: the attesting organisation.
        signature: ``"ed25519:<hex>"`` by the organisation's node key valid at ``height``,
            over :meth:`signing_bytes`.
    """

    chain_id: str
    height: NonNegInt
    block_hash: str
    state_root: str
    org: str
    signature: str = ""

    def unsigned(self) -> dict[str, Any]:
        return {
            "block_hash": self.block_hash,
            "chain_id": self.chain_id,
            "height": self.height,
            "org": self.org,
            "state_root": self.state_root,
        }

    def signing_bytes(self) -> bytes:
        """What the organisation signs: the domain tag and the canonical attestation sans
        signature."""
        return DOMAIN_ATTESTATION + canonical(self.unsigned())

    def encode(self) -> bytes:
        return canonical(self)
