"""Transactions: submit one or a batch, look one up, wait for its receipt, prove its inclusion."""

from __future__ import annotations

import re
from functools import partial
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gridledger.api.context import MAX_WAIT_S, ApiContext, TxHash, hash_bytes
from gridledger.api.errors import BatchTooLarge, BodyTooLarge, InvalidRequest
from gridledger.api.render import JSONBytes, committed_view, decode_stored, finality_view
from gridledger.api.schemas import (
    ERROR_RESPONSES,
    Accepted,
    BatchItem,
    Committed,
    ErrorResponse,
    TransactionIn,
    TxProof,
    TxView,
)
from gridledger.core.errors import NotFound, OversizeTransaction

_batch_decoder = msgspec.json.Decoder(list[msgspec.Raw])
# a JSON string (escapes included) or one structural character: enough to find the top-level
# items of an array without decoding them
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},]')


def split_batch(raw: bytes | bytearray) -> list[bytes]:
    """The items of a batch body (a JSON array), each as its own bytes, so that one item that
    does not decode (invalid UTF-8, nesting too deep) is refused alone, not the whole batch.

    Raises:
        InvalidRequest: the body is not a JSON array.
    """
    try:
        return [bytes(item) for item in _batch_decoder.decode(raw)]
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        pass  # some item is bad: find the items by their brackets and let each be judged
    body = bytes(raw).strip()
    if not body.startswith(b"[") or not body.endswith(b"]"):
        raise InvalidRequest("the body must be a JSON array of transactions")
    items: list[bytes] = []
    depth = 0
    start = 1
    for m in _TOKEN.finditer(body):
        tok = m.group()
        if tok in (b"[", b"{"):
            depth += 1
        elif tok in (b"]", b"}"):
            depth -= 1
            if depth == 0 and m.end() == len(body):
                items.append(body[start : m.start()])
        elif tok == b"," and depth == 1:
            items.append(body[start : m.start()])
            start = m.end()
        if depth < 0:
            raise InvalidRequest("the body must be a JSON array of transactions")
    if depth != 0:
        raise InvalidRequest("the body must be a JSON array of transactions")
    items = [item.strip() for item in items]
    if items == [b""]:
        return []
    if any(not item for item in items):
        raise InvalidRequest("the batch array has an empty item")
    return items


_TX_SCHEMA = TransactionIn.model_json_schema()
_TX_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _TX_SCHEMA}},
    }
}
_BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": _TX_SCHEMA, "maxItems": 10_000}
            }
        },
    }
}
_SUBMIT_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    403: {"model": ErrorResponse, "description": "The sender lacks the role (auth.forbidden)"},
    409: {"model": ErrorResponse, "description": "Nonce replayed or duplicate transaction"},
    413: {"model": ErrorResponse, "description": "Transaction or body too large"},
}

Wait = Annotated[
    float,
    Query(ge=0, le=MAX_WAIT_S, description="Seconds to wait for the receipt (at most 60)."),
]


def _not_committed(tx_hash: str) -> NotFound:
    return NotFound(f"no committed transaction {tx_hash}; it may still be pending, retry later")


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    store = node.store
    r = APIRouter(prefix="/v1/txs", tags=["transactions"])

    @r.post(
        "",
        status_code=202,
        response_model=Accepted,
        responses={
            200: {"model": Committed, "description": "Committed within `wait`"},
            **_SUBMIT_ERRORS,
        },
        openapi_extra=_TX_BODY,
        summary="Submit a signed transaction",
    )
    async def submit(request: Request, wait: Wait = 0.0) -> Response:
        """Admit one transaction (decoded, checked and signature-verified by the node).

        202 with its hash once admitted; with ``wait`` > 0, 200 with the receipt and location
        if it commits in time (else still 202). A refusal is 4xx and changes nothing.
        """
        limit = node.max_tx_bytes
        too_large = OversizeTransaction(f"the body is over the {limit} bytes allowed")
        async with ctx.bodies.read(request, limit, too_large) as raw:
            tx_hash = await run_in_threadpool(node.submit, bytes(raw))
        if wait > 0:
            stored = await ctx.waiters.wait(tx_hash, wait)
            if stored is not None:
                return JSONBytes(committed_view(stored, node))
        return JSONBytes({"hash": tx_hash.hex()}, status_code=202)

    @r.post(
        "/batch",
        response_model=list[BatchItem],
        responses=_SUBMIT_ERRORS,
        openapi_extra=_BATCH_BODY,
        summary="Submit up to 10,000 signed transactions",
    )
    async def submit_batch(request: Request) -> Response:
        """Admit a JSON array of transactions; one result per item, in order.

        Each result is ``{"hash": ...}`` (admitted) or ``{"error": {"code", "message"}}``.
        Items are independent: a refused item does not stop the others.
        """
        too_large = BodyTooLarge(f"a batch body is at most {ctx.max_batch_bytes} bytes; split it")
        async with ctx.bodies.read(request, ctx.max_batch_bytes, too_large) as raw:
            items = split_batch(raw)
            if len(items) > ctx.max_batch:
                raise BatchTooLarge(
                    f"{len(items)} transactions; a batch holds at most {ctx.max_batch}, split it"
                )
            results = await run_in_threadpool(node.submit_many, items)
        return JSONBytes(
            [
                {"hash": res.hex()} if isinstance(res, bytes) else {"error": res.to_dict()}
                for res in results
            ]
        )

    @r.get("/{tx_hash}", response_model=TxView, responses=ERROR_RESPONSES, summary="A transaction")
    def get_tx(tx_hash: TxHash) -> Response:
        """A committed transaction with its receipt, block height, index and block hash."""
        loc = store.locate_tx(hash_bytes(tx_hash))
        blk = None if loc is None else store.block(loc[0])
        if loc is None or blk is None:
            raise _not_committed(tx_hash)
        stx = blk.txs()[loc[1]]
        return JSONBytes(
            {
                "hash": tx_hash,
                "height": blk.height,
                "index": stx.index,
                "block_hash": blk.hash.hex(),
                "tx": decode_stored(stx.raw, f"transaction {stx.index} of block {blk.height}"),
                "receipt": decode_stored(stx.receipt, f"receipt {stx.index} of {blk.height}"),
            }
        )

    @r.get(
        "/{tx_hash}/receipt",
        response_model=Committed,
        responses=ERROR_RESPONSES,
        summary="A transaction's receipt",
    )
    async def get_receipt(tx_hash: TxHash, wait: Wait = 0.0) -> Response:
        """The receipt and location; with ``wait``, waits up to that many seconds for it."""
        stored = await ctx.waiters.wait(hash_bytes(tx_hash), wait)
        if stored is None:
            raise _not_committed(tx_hash)
        return JSONBytes(committed_view(stored, node))

    @r.get(
        "/{tx_hash}/proof",
        response_model=TxProof,
        responses=ERROR_RESPONSES,
        summary="Inclusion proof of a transaction",
    )
    async def get_tx_proof(tx_hash: TxHash) -> Response:
        """The RFC 6962 audit path from the transaction to its block header's ``tx_root``.

        Check it without a node with :func:`gridledger.sdk.proofs.verify_tx_proof`.
        """
        found = await run_in_threadpool(partial(node.prove_tx, hash_bytes(tx_hash)))
        if found is None:
            raise _not_committed(tx_hash)
        blk, index, path = found
        txs = blk.txs()
        stx = txs[index]
        return JSONBytes(
            {
                "hash": tx_hash,
                "height": blk.height,
                "index": index,
                "tree_size": len(txs),
                "audit_path": [p.hex() for p in path],
                "tx": decode_stored(stx.raw, f"transaction {index} of block {blk.height}"),
                "tx_hex": stx.raw.hex(),
                "block_hash": blk.hash.hex(),
                "header": decode_stored(blk.header, f"header of block {blk.height}"),
                "signature": blk.signature,
                **finality_view(node, blk.height),
            }
        )

    return r
