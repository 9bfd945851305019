"""The one block import path: :func:`validate_header`, then :func:`apply_block`.

Modelled on execution-specs' ``state_transition`` and py-evm's ``import_block``: every block,
whoever proposed it, enters state through these functions. A node following blocks proposed
elsewhere, a node catching up from a peer, and ``gridledger verify`` call :func:`apply_block`;
the local proposer builds its block with :func:`propose_block`, which runs the same
transaction checks and the same :func:`apply_body`, then :func:`validate_header` on the header
it signed (executing twice to compare roots it has just computed would only cost time).

:func:`apply_block` checks, in this order, and raises :class:`~gridledger.core.errors.InvalidBlock`
with the code of the first rule broken (``block.*``), leaving state as it was:

1. the header against its parent (:func:`validate_header`): chain, height, ``prev_hash``, time
   not before the parent's nor more than ``rules.max_future_ms`` after the importer's clock,
   a proposer the rules allow at this height, and its signature;
2. the body against the rules: transaction count and total size;
3. every transaction as admission checks it (:func:`judge_transactions`): size, canonical
   form, chain id, kind allowed at this height, body schema and stateless rules, sender
   registered before the block, signature against that sender's key, nonce above the sender's
   last (earlier transactions of the block included);
4. execution (:func:`apply_body`, time taken only from the header), then ``tx_root``,
   ``receipt_root`` and ``state_root`` against the header.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gridledger.contracts import chain, consortium, layout, registry
from gridledger.contracts.genesis import Genesis, apply_genesis
from gridledger.contracts.rules import Rules
from gridledger.core import merkle
from gridledger.core.crypto import ZERO_HASH, parse_signature, verify
from gridledger.core.encoding import canonical
from gridledger.core.errors import (
    BadBlockSignature,
    BadHeight,
    BadParent,
    BadProposer,
    BadReceiptRoot,
    BadStateRoot,
    BadTxCount,
    BadTxRoot,
    BadTxSignature,
    BlockWrongChain,
    GridLedgerError,
    InvalidBlock,
    InvalidTxBody,
    KindNotAllowed,
    MalformedTx,
    OversizeBlock,
    OversizeTx,
    ReplayedNonce,
    TimeBackwards,
    TimeInFuture,
    TooManyTxs,
    TxWrongChain,
    UnknownKind,
    UnknownTxSender,
    UnsignedTx,
)
from gridledger.core.types import Block, BlockHeader, Receipt, decode_tx
from gridledger.node.executor import Prepared, execute_block, prepare
from gridledger.node.verifier import Item, Verifier
from gridledger.state.state import CommittedView, Scratch, State, StateReader


@dataclass
class BlockResult:
    """What executing a block's body produced (the header's roots come from here)."""

    receipts: list[Receipt]
    receipt_bytes: list[bytes]
    changes: dict[bytes, bytes | None]
    """The block's net state changes in sorted key order (``None`` deletes)."""
    tx_root: str
    receipt_root: str
    state_root: str


# genesis -------------------------------------------------------------------------------------
def genesis_state(genesis: Genesis) -> State:
    """The state at height 0: the genesis document applied to an empty state.

    The writes are collected first and the tree is built from them in one pass, which is far
    cheaper than inserting a large genesis (a million accounts) key by key.
    """
    return State(dict(genesis_writes(genesis)))


def genesis_writes(genesis: Genesis) -> dict[bytes, bytes]:
    """The genesis document's state writes, in key order."""
    scratch = Scratch(CommittedView({}))
    apply_genesis(scratch, genesis)
    return {k: v for k, v in sorted(scratch.writes().items()) if v is not None}


def genesis_header(genesis: Genesis, state_root: bytes) -> BlockHeader:
    proposer = genesis.organisations[0].id if genesis.organisations else ""
    return BlockHeader(
        chain_id=genesis.chain_id,
        height=0,
        prev_hash=ZERO_HASH.hex(),
        time=genesis.genesis_time,
        tx_root=merkle.EMPTY_ROOT.hex(),
        receipt_root=merkle.EMPTY_ROOT.hex(),
        state_root=state_root.hex(),
        proposer=proposer,
        tx_count=0,
    )


# the header ----------------------------------------------------------------------------------
def validate_header(
    rules: Rules,
    parent: BlockHeader,
    header: BlockHeader,
    signature: str,
    view: StateReader,
    now_ms: int | None,
) -> None:
    """Check ``header`` as the child of ``parent`` under ``rules`` (``view``: the parent's state).

    ``now_ms`` is the importer's clock; ``None`` skips the check that the block is not from
    the future (a verifier re-reading history checks order, not the wall clock).

    Raises:
        InvalidBlock: a ``block.*`` leaf naming the first rule broken.
    """
    if header.chain_id != parent.chain_id:
        raise BlockWrongChain(f"header names chain {header.chain_id!r}, not {parent.chain_id!r}")
    if header.height != parent.height + 1:
        raise BadHeight(f"height {header.height} does not follow the parent's {parent.height}")
    parent_hash = parent.hash().hex()
    if header.prev_hash != parent_hash:
        raise BadParent(
            f"prev_hash {header.prev_hash} is not the parent's hash {parent_hash} "
            f"(block {parent.height})"
        )
    if header.time < parent.time:
        raise TimeBackwards(f"time {header.time} ms is before the parent's {parent.time} ms")
    if now_ms is not None and header.time > now_ms + rules.max_future_ms:
        raise TimeInFuture(
            f"time {header.time} ms is {header.time - now_ms} ms after this node's clock "
            f"(at most {rules.max_future_ms} ms allowed)"
        )
    if header.proposer not in rules.proposers:
        raise BadProposer(
            f"{header.proposer!r} may not propose at height {header.height} "
            f"(proposers: {', '.join(rules.proposers)})"
        )
    # the key valid at this height: a rotation takes effect from the block after it
    node_key = consortium.node_key_at(view, header.proposer, header.height)
    if not isinstance(node_key, str):
        raise BadProposer(f"proposer {header.proposer!r} has no registered node key")
    if not verify(node_key, header.signing_bytes(), signature):
        raise BadBlockSignature(
            f"the signature of block {header.height} is not {header.proposer!r}'s node key's"
        )


# the transactions ----------------------------------------------------------------------------
def check_body_size(rules: Rules, header: BlockHeader, raws: list[bytes]) -> None:
    """The block's transaction count and total size against the rules and the header."""
    if len(raws) != header.tx_count:
        raise BadTxCount(f"{len(raws)} transactions, the header says {header.tx_count}")
    if len(raws) > rules.block_max_txs:
        raise TooManyTxs(f"{len(raws)} transactions; the rules allow {rules.block_max_txs}")
    size = sum(len(raw) for raw in raws)
    if size > rules.block_max_bytes:
        raise OversizeBlock(
            f"{size} bytes of transactions; the rules allow {rules.block_max_bytes}"
        )


def prepare_stateless(rules: Rules, chain_id: str, i: int, raw: bytes) -> Prepared:
    """Transaction ``i`` of a block, decoded and checked without state (as admission does).

    Raises:
        InvalidBlock: ``block.oversize_tx``, ``block.malformed_tx``, ``block.tx_wrong_chain``,
            ``block.kind_not_allowed``, ``block.invalid_tx_body`` or ``block.unsigned_tx``.
    """
    if len(raw) > rules.max_tx_bytes:
        raise OversizeTx(f"tx {i}: {len(raw)} bytes; the rules allow {rules.max_tx_bytes}")
    try:
        tx = decode_tx(raw)
    except GridLedgerError as exc:
        raise MalformedTx(f"tx {i}: {exc.message}") from None
    if tx.chain_id != chain_id:
        raise TxWrongChain(f"tx {i} is signed for chain {tx.chain_id!r}, not {chain_id!r}")
    if not rules.allows_kind(tx.kind):
        raise KindNotAllowed(f"tx {i}: kind {tx.kind!r} is not in the rules at this height")
    try:
        p = prepare(tx, rules)
    except UnknownKind:
        raise KindNotAllowed(f"tx {i}: no contract handles kind {tx.kind!r}") from None
    except GridLedgerError as exc:
        raise InvalidTxBody(f"tx {i} ({exc.code}): {exc.message}") from None
    if p.raw != raw:
        raise MalformedTx(f"tx {i} is not in canonical form")
    try:
        parse_signature(tx.signature)
    except GridLedgerError as exc:
        raise UnsignedTx(f"tx {i}: {exc.message}") from None
    return p


Verdict = Prepared | InvalidBlock
"""A transaction that passed, or why it must not be in the block."""


def judge_transactions(
    rules: Rules,
    chain_id: str,
    view: StateReader,
    txs: Sequence[Prepared | bytes],
    verifier: Verifier | None = None,
    sender_unchanged: Callable[[Prepared], bool] | None = None,
) -> list[Verdict]:
    """Judge each transaction of a block as admission would, against the parent's state.

    ``txs`` are raw canonical transactions (a block from elsewhere) or transactions this node
    admitted (the proposer's batch: their signatures were checked at admission against
    ``verified_key`` and are checked again only if the sender's key changed since; when
    ``sender_unchanged`` says the sender's registry record has not changed since admission,
    the account is not even looked up again). Senders' nonces must rise through the block; a
    refused transaction does not advance its sender's.
    """
    allowed = frozenset(rules.kinds)
    verdicts: list[Verdict] = []
    for i, t in enumerate(txs):
        try:
            verdicts.append(prepare_stateless(rules, chain_id, i, t) if isinstance(t, bytes) else t)
        except InvalidBlock as exc:
            verdicts.append(exc)
    # signatures against the keys registered before the block, checked in one batch
    items: list[Item] = []
    where: list[int] = []
    for i, v in enumerate(verdicts):
        if isinstance(v, InvalidBlock):
            continue
        if isinstance(txs[i], Prepared):  # the proposer's own: re-check the stateless rules
            try:
                _recheck(rules, allowed, chain_id, i, v)
            except InvalidBlock as exc:
                verdicts[i] = exc
                continue
            if v.verified_key is not None and sender_unchanged is not None and sender_unchanged(v):
                continue
        acct = registry.account_summary(view, v.tx.sender)
        if acct is None:
            verdicts[i] = UnknownTxSender(
                f"tx {i}: sender {v.tx.sender!r} is not registered before the block"
            )
            continue
        if v.verified_key == acct.public_key:
            continue
        items.append((acct.public_key, v.signing_bytes(), parse_signature(v.tx.signature)))
        where.append(i)
    results = (verifier or Verifier(0)).verify_many(items) if items else []
    for (public_key, _, _), i, ok in zip(items, where, results, strict=True):
        v = verdicts[i]
        assert isinstance(v, Prepared)
        if ok:
            v.verified_key = public_key
        else:
            verdicts[i] = BadTxSignature(
                f"tx {i} ({v.hash.hex()}) is not signed by {v.tx.sender!r}'s registered key"
            )
    last: dict[str, int] = {}
    for i, v in enumerate(verdicts):
        if isinstance(v, InvalidBlock):
            continue
        sender = v.tx.sender
        before = last.get(sender)
        if before is None:
            before = chain.nonce_of(view, sender)
        if v.tx.nonce <= before:
            verdicts[i] = ReplayedNonce(
                f"tx {i}: nonce {v.tx.nonce} of {sender!r} is not above its last, {before}"
            )
            continue
        last[sender] = v.tx.nonce
    return verdicts


def _recheck(rules: Rules, allowed: frozenset[str], chain_id: str, i: int, p: Prepared) -> None:
    """The rules-dependent stateless checks of an admitted transaction (the rules may have
    changed since it was admitted)."""
    if len(p.raw) > rules.max_tx_bytes:
        raise OversizeTx(f"tx {i}: {len(p.raw)} bytes; the rules allow {rules.max_tx_bytes}")
    if p.tx.chain_id != chain_id:
        raise TxWrongChain(f"tx {i} is signed for chain {p.tx.chain_id!r}")
    if p.tx.kind not in allowed:
        raise KindNotAllowed(f"tx {i}: kind {p.tx.kind!r} is not in the rules at this height")
    try:
        p.body.check_rules(rules)
    except GridLedgerError as exc:
        raise InvalidTxBody(f"tx {i} ({exc.code}): {exc.message}") from None


# execution -----------------------------------------------------------------------------------
def apply_body(
    state: State, rules: Rules, height: int, time_ms: int, txs: list[Prepared]
) -> BlockResult:
    """Execute ``txs`` in order at ``height`` and block time ``time_ms``; compute the roots.

    The changes stay in the state's block layer: the caller commits them
    (``state.finish_block()``) once the block is durable, or drops them
    (``state.discard_block()``).
    """
    state.log = layout.append_log(state.view)
    receipts = execute_block(state, txs, height, time_ms, rules)
    receipt_raw = [canonical(r) for r in receipts]
    state.seal_log(height)
    changes = state.block_changes()
    state_root = state.compute_root()
    return BlockResult(
        receipts,
        receipt_raw,
        changes,
        merkle.root([p.raw for p in txs]).hex(),
        merkle.root(receipt_raw).hex(),
        state_root.hex(),
    )


def apply_block(
    state: State,
    rules: Rules,
    parent: BlockHeader,
    block: Block,
    *,
    now_ms: int | None,
    verifier: Verifier | None = None,
    raws: list[bytes] | None = None,
) -> tuple[list[Prepared], BlockResult]:
    """Import ``block`` on top of ``parent``: check it, execute it, compare every root.

    ``rules`` are those in force at the block's height (:func:`gridledger.contracts.chain.
    rules_at` on the parent's state); ``raws`` the block's transactions as stored or received,
    when the caller has them (otherwise their canonical encoding). On success the changes wait
    in the state's block layer for the caller to commit.

    Raises:
        InvalidBlock: the block breaks a rule (its ``code`` says which); state is unchanged.
    """
    header = block.header
    view = state.view
    validate_header(rules, parent, header, block.signature, view, now_ms)
    raw_txs = raws if raws is not None else [tx.encode() for tx in block.txs]
    check_body_size(rules, header, raw_txs)
    prepared: list[Prepared] = []
    for v in judge_transactions(rules, header.chain_id, view, raw_txs, verifier):
        if isinstance(v, InvalidBlock):
            raise v
        prepared.append(v)
    tx_root = merkle.root(raw_txs).hex()
    if tx_root != header.tx_root:
        raise BadTxRoot(f"tx_root is {tx_root}, the header says {header.tx_root}")
    result = apply_body(state, rules, header.height, header.time, prepared)
    try:
        _compare(header, result)
    except InvalidBlock:
        state.discard_block()
        raise
    return prepared, result


def _compare(header: BlockHeader, result: BlockResult) -> None:
    if result.receipt_root != header.receipt_root:
        raise BadReceiptRoot(
            f"re-execution gives receipt_root {result.receipt_root}, "
            f"the header says {header.receipt_root}"
        )
    if result.state_root != header.state_root:
        raise BadStateRoot(
            f"re-execution gives state_root {result.state_root}, "
            f"the header says {header.state_root}"
        )


# proposing -----------------------------------------------------------------------------------
@dataclass
class Proposal:
    block: Block
    txs: list[Prepared]
    """The transactions of the block, in order."""
    result: BlockResult
    dropped: list[tuple[Prepared, InvalidBlock]]
    """Admitted transactions left out because they no longer pass (e.g. the sender's key
    was rotated, or an upgrade removed their kind, since admission)."""


def propose_block(
    state: State,
    rules: Rules,
    parent: BlockHeader,
    batch: list[Prepared],
    time_ms: int,
    proposer: str,
    sign: Callable[[bytes], str],
    verifier: Verifier | None = None,
    sender_unchanged: Callable[[Prepared], bool] | None = None,
) -> Proposal:
    """Build, execute and sign the block after ``parent`` from admitted transactions.

    Transactions are judged as :func:`apply_block` judges them (those that fail are dropped
    and reported), executed with :func:`apply_body`, and the signed header is checked with
    :func:`validate_header`, so a block this node proposes imports anywhere.

    Raises:
        InvalidBlock: the header this node would sign breaks a rule (this organisation may not
            propose at this height); state is unchanged.
    """
    view = state.view
    txs: list[Prepared] = []
    dropped: list[tuple[Prepared, InvalidBlock]] = []
    verdicts = judge_transactions(rules, parent.chain_id, view, batch, verifier, sender_unchanged)
    for p, v in zip(batch, verdicts, strict=True):
        if isinstance(v, InvalidBlock):
            dropped.append((p, v))
        else:
            txs.append(v)
    result = apply_body(state, rules, parent.height + 1, time_ms, txs)
    header = BlockHeader(
        chain_id=parent.chain_id,
        height=parent.height + 1,
        prev_hash=parent.hash().hex(),
        time=time_ms,
        tx_root=result.tx_root,
        receipt_root=result.receipt_root,
        state_root=result.state_root,
        proposer=proposer,
        tx_count=len(txs),
    )
    signature = sign(header.signing_bytes())
    try:
        validate_header(rules, parent, header, signature, view, time_ms)
        check_body_size(rules, header, [p.raw for p in txs])
    except InvalidBlock:
        state.discard_block()
        raise
    return Proposal(Block(header, [p.tx for p in txs], signature), txs, result, dropped)


def rules_for(view: StateReader, height: int) -> Rules:
    """The rules for the block at ``height``, read from the parent's state."""
    return chain.rules_at(view, height)


__all__ = [
    "BlockResult",
    "Proposal",
    "apply_block",
    "apply_body",
    "genesis_header",
    "genesis_state",
    "judge_transactions",
    "propose_block",
    "rules_for",
    "validate_header",
]
