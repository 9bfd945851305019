"""JSON views of stored records, and the response class that sends them.

Stored transactions, receipts and headers are canonical JSON already; they are decoded here so a
damaged row surfaces as :class:`~gridledger.state.store.StoreCorrupt` instead of being passed on.
Responses are encoded with msgspec, which is several times faster than the standard library for
the large bodies of blocks and batches.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import JSONResponse

from gridledger.core.crypto import sha256
from gridledger.node.node import CommittedBlock, Node
from gridledger.state.store import StoreCorrupt, StoredBlock, StoredTx

_encode = msgspec.json.Encoder().encode


class JSONBytes(JSONResponse):
    """A JSON response encoded with msgspec (no pydantic pass over the content).

    A JSONResponse, so the OpenAPI document shows each route's ``response_model``.
    """

    def render(self, content: Any) -> bytes:
        return _encode(content)


def decode_stored(raw: bytes, what: str) -> Any:
    """Decode a stored canonical JSON record, reporting damage as :class:`StoreCorrupt`."""
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise StoreCorrupt(f"stored {what} does not decode: {exc}") from None


def finality_view(node: Node, height: int) -> dict[str, Any]:
    """Whether block ``height`` is final and the organisations' attestations kept for it."""
    return {
        "final": node.block_final(height),
        "attestations": [
            decode_stored(raw, f"attestation of block {height}")
            for raw in node.store.attestations(height)
        ],
    }


def header_view(blk: StoredBlock, node: Node | None = None) -> dict[str, Any]:
    """A block's header with its hash and the proposer's signature (and, given the node,
    whether it is final, with its attestations)."""
    view = {
        "height": blk.height,
        "hash": blk.hash.hex(),
        "header": decode_stored(blk.header, f"header of block {blk.height}"),
        "signature": blk.signature,
    }
    if node is not None:
        view.update(finality_view(node, blk.height))
    return view


def block_summary(blk: StoredBlock, node: Node | None = None) -> dict[str, Any]:
    view = {**header_view(blk), "tx_count": blk.tx_count}
    if node is not None:
        view["final"] = node.block_final(blk.height)
    return view


def tx_entry(stx: StoredTx) -> dict[str, Any]:
    """One transaction of a block with its receipt."""
    return {
        "hash": sha256(stx.raw).hex(),
        "index": stx.index,
        "tx": decode_stored(stx.raw, f"transaction {stx.index} of block {stx.height}"),
        "receipt": decode_stored(stx.receipt, f"receipt {stx.index} of block {stx.height}"),
    }


def block_view(blk: StoredBlock, node: Node | None = None) -> dict[str, Any]:
    """The whole block: header, hash, signature, and every transaction with its receipt."""
    return {
        **header_view(blk, node),
        "tx_count": blk.tx_count,
        "txs": [tx_entry(stx) for stx in blk.txs()],
    }


def committed_view(stx: StoredTx, node: Node | None = None) -> dict[str, Any]:
    """Where a committed transaction sits, what its receipt says and whether its block is
    final."""
    view = {
        "hash": sha256(stx.raw).hex(),
        "height": stx.height,
        "index": stx.index,
        "receipt": decode_stored(stx.receipt, f"receipt {stx.index} of block {stx.height}"),
    }
    if node is not None:
        view["final"] = node.block_final(stx.height)
    return view


def event_from_commit(blk: CommittedBlock) -> dict[str, Any]:
    """The event-stream record of a block the node has just committed."""
    return {
        "height": blk.height,
        "hash": blk.hash,
        "time": blk.header.time,
        "tx_count": len(blk.tx_hashes),
        "txs": [{"hash": h, "status": s} for h, s in zip(blk.tx_hashes, blk.statuses, strict=True)],
    }


def event_from_stored(blk: StoredBlock) -> dict[str, Any]:
    """The same record for a block read back from the store (replay after a reconnect)."""
    header = decode_stored(blk.header, f"header of block {blk.height}")
    txs = []
    for stx in blk.txs():
        receipt = decode_stored(stx.receipt, f"receipt {stx.index} of block {stx.height}")
        txs.append({"hash": sha256(stx.raw).hex(), "status": receipt.get("status")})
    return {
        "height": blk.height,
        "hash": blk.hash.hex(),
        "time": header.get("time"),
        "tx_count": blk.tx_count,
        "txs": txs,
    }
