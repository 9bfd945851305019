"""Catching up: import the blocks a peer has and this node lacks, through the one import path.

A node that was stopped (or a new organisation's node) fetches each missing block from a peer's
API and imports it with :meth:`~gridledger.node.node.Node.import_block`, so every block is
checked exactly as a follower checks it (header, proposer, signatures, every transaction,
re-execution, every root) and nothing a peer sends is taken on trust. The first block that
fails stops the catch-up with its ``block.*`` code; everything before it stays committed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from gridledger.core.errors import InvalidBlock, MalformedTx
from gridledger.core.types import Block, BlockHeader, Transaction
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
        block, raws = block_from_api(fetch(height))
        if block.header.height != height:
            raise InvalidBlock(f"asked for block {height}, the peer sent {block.header.height}")
        node.import_block(block, raws)
        imported += 1
        txs += len(raws)
        if progress is not None:
            progress(height, to_height)
    return CatchUp(imported, node.tip.height, txs)
