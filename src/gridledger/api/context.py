"""What every route needs: the node, the commit waiters, and the request limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Path, Request

from gridledger.api.errors import InvalidRequest
from gridledger.api.schemas import HEX64
from gridledger.api.waiting import CommitWaiters
from gridledger.node.node import Node

MAX_BATCH = 10_000
"""Transactions per ``POST /v1/txs/batch``."""
MAX_BATCH_BYTES = 64 * 1024 * 1024
"""Bytes per batch body; read before parsing, so a client cannot make the node buffer more."""
MAX_WAIT_S = 60.0
"""The longest a request may wait for a receipt."""

TxHash = Annotated[
    str,
    Path(pattern=HEX64, description="Transaction hash: 64 lower-case hex digits (SHA-256)."),
]


@dataclass(frozen=True)
class ApiContext:
    node: Node
    waiters: CommitWaiters
    max_batch: int = MAX_BATCH
    max_batch_bytes: int = MAX_BATCH_BYTES


async def read_body(request: Request, limit: int, too_large: Exception) -> bytes:
    """The request body, refusing with ``too_large`` as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidRequest("Content-Length must be a decimal number of bytes")
        if int(declared) > limit:
            raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def hash_bytes(tx_hash: str) -> bytes:
    """Raw bytes of a hash already checked against :data:`HEX64` by the path parameter."""
    return bytes.fromhex(tx_hash)
