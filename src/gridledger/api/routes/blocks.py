"""Blocks: pages of headers, the latest block, one block with its transactions, one header."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from gridledger.api.context import ApiContext
from gridledger.api.render import JSONBytes, block_summary, block_view, header_view
from gridledger.api.schemas import ERROR_RESPONSES, BlockPage, BlockView, HeaderView
from gridledger.core.encoding import INT_MAX
from gridledger.core.errors import NotFound
from gridledger.state.store import StoredBlock

MAX_PAGE = 100

Height = Annotated[int, Path(ge=0, le=INT_MAX, description="Block height (0 is genesis).")]


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    store = node.store
    r = APIRouter(prefix="/v1/blocks", tags=["blocks"])

    def stored(height: int) -> StoredBlock:
        blk = store.block(height) if height <= node.tip.height else None
        if blk is None:
            raise NotFound(f"no block at height {height}; the tip is {node.tip.height}")
        return blk

    @r.get("", response_model=BlockPage, responses=ERROR_RESPONSES, summary="Pages of blocks")
    def list_blocks(
        from_: Annotated[
            int | None,
            Query(alias="from", ge=0, le=INT_MAX, description="First height of the page."),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
        order: Annotated[Literal["desc", "asc"], Query(description="Newest first by default.")] = (
            "desc"
        ),
    ) -> Response:
        """Block headers (without transactions), ``limit`` per page, from ``from``.

        ``next`` is the ``from`` of the following page, or null after the last one.
        """
        tip = node.tip.height
        if order == "desc":
            top = tip if from_ is None else min(from_, tip)
            low = max(0, top - limit + 1)
            blocks = store.blocks(low, top + 1)[::-1]
            nxt = low - 1 if low > 0 else None
        else:
            start = 0 if from_ is None else from_
            end = min(start + limit, tip + 1)
            blocks = store.blocks(start, end) if start <= tip else []
            nxt = end if end <= tip else None
        return JSONBytes({"blocks": [block_summary(b, node) for b in blocks], "next": nxt})

    @r.get("/latest", response_model=BlockView, summary="The latest block")
    def latest_block() -> Response:
        """The last committed block with its transactions and receipts."""
        return JSONBytes(block_view(stored(node.tip.height), node))

    @r.get("/{height}", response_model=BlockView, responses=ERROR_RESPONSES, summary="A block")
    def get_block(height: Height) -> Response:
        """Header, hash, proposer signature, and every transaction with its receipt."""
        return JSONBytes(block_view(stored(height), node))

    @r.get(
        "/{height}/header",
        response_model=HeaderView,
        responses=ERROR_RESPONSES,
        summary="A block header",
    )
    def get_header(height: Height) -> Response:
        """The header alone, with its hash and the proposer's signature."""
        return JSONBytes(header_view(stored(height), node))

    return r
