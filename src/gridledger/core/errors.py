"""The error tree.

Every error a user can meet is a leaf of this tree with a stable ``code`` (a dotted, lower-case
string that never changes once released) and a message that says what to do. Receipts, API
responses and the CLI all carry ``code`` and ``message``; clients branch on the code, people read
the message.

    GridLedgerError
    ├── InvalidTransaction        refused at admission, or a failed receipt at execution
    │   ├── MalformedTransaction  tx.malformed          bytes are not a transaction
    │   ├── OversizeTransaction   tx.oversize           larger than the node accepts
    │   ├── WrongChain            tx.wrong_chain        signed for another chain
    │   ├── MissingSignature      tx.missing_signature
    │   ├── BadSignature          tx.bad_signature
    │   ├── UnsupportedAlgorithm  tx.unsupported_algorithm
    │   ├── UnknownKind           tx.unknown_kind
    │   ├── KindNotEnabled        tx.kind_not_enabled   not in the chain rules at this height
    │   ├── InvalidBody           tx.invalid_body       schema violation in the body
    │   ├── NonIntegerNumber      tx.non_integer_number a float where an integer is required
    │   ├── IntegerOutOfRange     tx.integer_out_of_range
    │   ├── UnknownSender         tx.unknown_sender
    │   ├── SenderSuspended       tx.sender_suspended
    │   ├── NonceReplayed         tx.nonce_replayed     nonce not above the last one used
    │   ├── DuplicateTransaction  tx.duplicate          the same transaction is already known
    │   ├── RateLimited           tx.rate_limited       over the sender's admission quota
    │   ├── Forbidden             auth.forbidden        the sender lacks the role
    │   └── contract errors       <contract>.<reason>   (defined beside each contract)
    ├── InvalidBlock              block.*               a block that must not be imported
    │   (block.bad_state_root, block.bad_proposer, block.unsigned_tx, ...: one leaf per rule)
    └── NodeError                 node.*                the node cannot take work right now
        ├── NodeHalted            node.halted           block production stopped after an error
        └── MempoolFull           node.mempool_full
"""

from __future__ import annotations

from typing import ClassVar


class GridLedgerError(Exception):
    """Root of every error with a stable code."""

    code: ClassVar[str] = "error"
    default_message: ClassVar[str] = "error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def to_dict(self) -> dict[str, str]:
        """The wire form used by receipts and API responses."""
        return {"code": self.code, "message": self.message}


class InvalidTransaction(GridLedgerError):
    """A transaction that must not change state."""

    code = "tx.invalid"
    default_message = "the transaction is invalid"


class MalformedTransaction(InvalidTransaction):
    code = "tx.malformed"
    default_message = "the bytes are not a well-formed transaction"


class OversizeTransaction(InvalidTransaction):
    code = "tx.oversize"
    default_message = "the transaction is larger than this node accepts"


class WrongChain(InvalidTransaction):
    code = "tx.wrong_chain"
    default_message = "the transaction was signed for another chain"


class MissingSignature(InvalidTransaction):
    code = "tx.missing_signature"
    default_message = "the transaction carries no signature; sign it with the sender's key"


class BadSignature(InvalidTransaction):
    code = "tx.bad_signature"
    default_message = "the signature does not match the transaction and the sender's key"


class UnsupportedAlgorithm(InvalidTransaction):
    code = "tx.unsupported_algorithm"
    default_message = "the key or signature algorithm is not supported by this chain"


class UnknownKind(InvalidTransaction):
    code = "tx.unknown_kind"
    default_message = "no contract handles this transaction kind"


class KindNotEnabled(InvalidTransaction):
    code = "tx.kind_not_enabled"
    default_message = "the chain's rules do not allow this transaction kind (yet, or any more)"


class InvalidBody(InvalidTransaction):
    code = "tx.invalid_body"
    default_message = "the transaction body does not match the schema of its kind"


class NonIntegerNumber(InvalidTransaction):
    code = "tx.non_integer_number"
    default_message = (
        "numbers in transactions are integers (Wh, gCO2e, minor currency units); "
        "fractions are not allowed"
    )


class IntegerOutOfRange(InvalidTransaction):
    code = "tx.integer_out_of_range"
    default_message = "an integer is outside the signed 64-bit range"


class UnknownSender(InvalidTransaction):
    code = "tx.unknown_sender"
    default_message = "the sender is not a registered account"


class SenderSuspended(InvalidTransaction):
    code = "tx.sender_suspended"
    default_message = "the sender's account is suspended"


class NonceReplayed(InvalidTransaction):
    code = "tx.nonce_replayed"
    default_message = "the nonce is not above the sender's last nonce; use a higher nonce"


class DuplicateTransaction(InvalidTransaction):
    code = "tx.duplicate"
    default_message = "this transaction is already pending or committed"


class RateLimited(InvalidTransaction):
    code = "tx.rate_limited"
    default_message = "the sender has used its admission quota for now; retry shortly"


class Forbidden(InvalidTransaction):
    code = "auth.forbidden"
    default_message = "the sender lacks the role this action requires"


class InvalidBlock(GridLedgerError):
    """A block that does not follow from its parent, or whose roots do not match.

    Raised by the one block import path (:mod:`gridledger.node.transition`) for a block proposed
    here or elsewhere, and reported by ``gridledger verify`` at the first bad height; the leaf
    codes below say which rule the block breaks and the message names what differs.
    """

    code = "block.invalid"
    default_message = "the block is invalid"


# the header ---------------------------------------------------------------------------------
class BlockWrongChain(InvalidBlock):
    code = "block.wrong_chain"
    default_message = "the header names another chain"


class BadHeight(InvalidBlock):
    code = "block.bad_height"
    default_message = "the block's height is not its parent's plus one"


class BadParent(InvalidBlock):
    code = "block.bad_parent"
    default_message = "prev_hash is not the hash of the parent header"


class TimeBackwards(InvalidBlock):
    code = "block.time_backwards"
    default_message = "the block's time is before its parent's"


class TimeInFuture(InvalidBlock):
    code = "block.time_in_future"
    default_message = "the block's time is too far after this node's clock"


class BadProposer(InvalidBlock):
    code = "block.bad_proposer"
    default_message = "the proposer is not an organisation allowed to propose at this height"


class BadBlockSignature(InvalidBlock):
    code = "block.bad_signature"
    default_message = "the proposer's signature does not match the header"


class BadTxCount(InvalidBlock):
    code = "block.bad_tx_count"
    default_message = "tx_count differs from the number of transactions in the block"


class OversizeBlock(InvalidBlock):
    code = "block.oversize"
    default_message = "the block's transactions exceed the chain's block size rule"


class TooManyTxs(InvalidBlock):
    code = "block.too_many_txs"
    default_message = "the block holds more transactions than the chain's rule allows"


# its transactions, checked as admission checks them -----------------------------------------
class OversizeTx(InvalidBlock):
    code = "block.oversize_tx"
    default_message = "a transaction exceeds the chain's transaction size rule"


class MalformedTx(InvalidBlock):
    code = "block.malformed_tx"
    default_message = "a transaction does not decode, or is not in canonical form"


class TxWrongChain(InvalidBlock):
    code = "block.tx_wrong_chain"
    default_message = "a transaction was signed for another chain"


class KindNotAllowed(InvalidBlock):
    code = "block.kind_not_allowed"
    default_message = "a transaction's kind is not in the chain's rules at this height"


class InvalidTxBody(InvalidBlock):
    code = "block.invalid_tx_body"
    default_message = "a transaction's body breaks its kind's schema or stateless rules"


class UnknownTxSender(InvalidBlock):
    code = "block.unknown_sender"
    default_message = "a transaction's sender was not registered before the block"


class UnsignedTx(InvalidBlock):
    code = "block.unsigned_tx"
    default_message = "a transaction carries no usable signature"


class BadTxSignature(InvalidBlock):
    code = "block.bad_tx_signature"
    default_message = "a transaction's signature does not match its sender's key"


class ReplayedNonce(InvalidBlock):
    code = "block.replayed_nonce"
    default_message = "a transaction's nonce is not above its sender's last"


# what execution computed ---------------------------------------------------------------------
class BadTxRoot(InvalidBlock):
    code = "block.bad_tx_root"
    default_message = "tx_root does not match the block's transactions"


class BadReceiptRoot(InvalidBlock):
    code = "block.bad_receipt_root"
    default_message = "receipt_root does not match the receipts of re-execution"


class BadStateRoot(InvalidBlock):
    code = "block.bad_state_root"
    default_message = "state_root does not match the state after re-execution"


# what only a stored chain can get wrong (``gridledger verify``) ------------------------------
class BlockMissing(InvalidBlock):
    code = "block.missing"
    default_message = "a block is missing from the store"


class BlockStoredBadly(InvalidBlock):
    code = "block.stored_badly"
    default_message = "the stored block differs from what its header and re-execution say"


class NodeError(GridLedgerError):
    code = "node.error"
    default_message = "the node cannot take this request now"


class NodeHalted(NodeError):
    code = "node.halted"
    default_message = "the node stopped producing blocks after an error; see its logs"


class MempoolFull(NodeError):
    code = "node.mempool_full"
    default_message = "the node's mempool is full; retry shortly"


class NotFound(GridLedgerError):
    code = "not_found"
    default_message = "no such record"


class HeightNotRetained(GridLedgerError):
    """A proof asked for a height this node does not keep (pruned, or not reached yet)."""

    code = "state.height_not_retained"
    default_message = "this node does not keep the state of that height"


def all_error_classes() -> list[type[GridLedgerError]]:
    """Every error class defined so far (the core's and the contracts'), for docs and tests."""
    seen: list[type[GridLedgerError]] = []
    stack: list[type[GridLedgerError]] = [GridLedgerError]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return sorted(seen, key=lambda c: c.code)
