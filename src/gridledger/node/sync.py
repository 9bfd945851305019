"""Catching up: import the blocks a peer has and this node lacks, through the one import path.

A node that was stopped (or a new organisation's node) fetches each missing block from a peer's
API and imports it with :meth:`~gridledger.node.node.Node.import_block`, so every block is
checked exactly as a follower checks it (header, proposer, signatures, every transaction,
re-execution, every root) and nothing a peer sends is taken on trust. The first block that
fails stops the catch-up with its ``block.*`` code; everything before it stays committed.
In a consortium, the attestations sent with each block are checked against the
organisations' node keys at its height and kept; a quorum of them makes the block final here
too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from gridledger.core.errors import InvalidBlock, MalformedTx
from gridledger.core.types import Attestation, Block, BlockHeader, Transaction
from gridledger.node.finality import attesting, block_final
from gridledger.node.node import Node


@dataclass
class CatchUp:
    imported: int
    """Blocks imported."""
    height: int
    """This node's tip afterwards."""
    txs: int


def block_from_api(view: dict[str, Any]) -> tuple[Block, list[bytes]]:
    """A block and its canonical transactions from the API's block view (``GET
    /v1/blocks/{height}``). The API sends transactions as JSON objects; their canonical
    encoding is the stored form, so re-encoding gives back the signed bytes.

    Raises:
        InvalidBlock: the view does not hold a well-formed header or transactions.
    """
    try:
        header = msgspec.convert(view["header"], BlockHeader, strict=True)
        txs = [msgspec.convert(t["tx"], Transaction, strict=True) for t in view["txs"]]
        signature = str(view["signature"])
    except (KeyError, TypeError, msgspec.ValidationError) as exc:
        raise MalformedTx(f"the peer's block view is not a block: {exc}") from None
    return Block(header, txs, signature), [tx.encode() for tx in txs]


def keep_attestations(node: Node, height: int, views: object) -> int:
    """Check the attestations a peer sent with block ``height`` (the organisations' signed
    statements of its hash and state root) against their node keys at that height, keep the
    valid ones, and advance the final height when they are a quorum. Returns how many were
    valid; invalid or malformed ones are dropped (a peer cannot make a block final)."""
    if not isinstance(views, list) or not views:
        return 0
    atts = []
    for v in views:
        try:
            atts.append(msgspec.convert(v, Attestation, strict=True))
        except msgspec.ValidationError:
            continue
    stored = node.store.block(height)
    if stored is None:
        return 0
    view = node.state.view
    header = msgspec.json.decode(stored.header, type=BlockHeader)
    valid = attesting(view, node.chain_id, height, stored.hash.hex(), header.state_root, atts)
    final = None
    own = block_final(view, height, header.proposer, header.state_root, list(valid.values()))
    if own and height > node.store.final_height():
        final = height
    rows = [(height, org, stored.hash, att.encode()) for org, att in sorted(valid.items())]
    if rows or final is not None:
        node.store.add_attestations(rows, final)
    return len(valid)


def catch_up(
    node: Node,
    fetch: Callable[[int], dict[str, Any]],
    to_height: int,
    progress: Callable[[int, int], None] | None = None,
) -> CatchUp:
    """Import blocks ``node.tip + 1 .. to_height`` fetched with ``fetch(height)``.

    Raises:
        InvalidBlock: a block the peer sent breaks a rule (``code`` says which); the blocks
            before it are committed.
    """
    imported = txs = 0
    while node.tip.height < to_height:
        height = node.tip.height + 1
        view_of = fetch(height)
        block, raws = block_from_api(view_of)
        if block.header.height != height:
            raise InvalidBlock(f"asked for block {height}, the peer sent {block.header.height}")
        node.import_block(block, raws)
        keep_attestations(node, block.header.height, view_of.get("attestations"))
        imported += 1
        txs += len(raws)
        if progress is not None:
            progress(height, to_height)
    return CatchUp(imported, node.tip.height, txs)
