"""``GET /v1/events``: committed blocks as server-sent events.

Each event is ``event: block``, ``id: <height>`` and one ``data`` line of JSON
``{"height", "hash", "time", "tx_count", "txs": [{"hash", "status"}]}``. A client that reconnects
with ``Last-Event-ID`` (browsers do so on their own) or ``?from_height=`` first gets the blocks
it missed, read back from the store, then the live ones, with no gap and no repeat.

The node announces blocks on its block thread; each stream subscribes with its own listener
that hands the block to the stream's event loop (``call_soon_threadsafe``) and removes itself
when the client goes away. A client too slow to keep up gets an ``error`` event
(``events.lagged``) and the stream ends, instead of the node buffering without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from gridledger.api.context import ApiContext
from gridledger.api.errors import InvalidRequest
from gridledger.api.render import event_from_commit, event_from_stored
from gridledger.api.schemas import ERROR_RESPONSES
from gridledger.core.encoding import INT_MAX
from gridledger.node.node import CommittedBlock, Node

QUEUE_BLOCKS = 1024
"""Blocks a stream may fall behind by before it is dropped (about 3 minutes at 5 blocks/s)."""
REPLAY_CHUNK = 50
PING_S = 15


def _sse(payload: dict[str, Any]) -> ServerSentEvent:
    data = json.dumps(payload, separators=(",", ":"))
    return ServerSentEvent(data=data, event="block", id=str(payload["height"]))


def _replay(node: Node, start: int, end: int) -> list[dict[str, Any]]:
    return [event_from_stored(blk) for blk in node.store.blocks(start, end)]


async def block_events(node: Node, from_height: int | None) -> AsyncIterator[ServerSentEvent]:
    """Stored blocks from ``from_height`` (if given), then each block as it commits."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[CommittedBlock] = asyncio.Queue(QUEUE_BLOCKS)
    lagged = False

    def deliver(blk: CommittedBlock) -> None:
        nonlocal lagged
        if lagged:
            return
        try:
            queue.put_nowait(blk)
        except asyncio.QueueFull:
            lagged = True

    def listener(blk: CommittedBlock) -> None:
        # RuntimeError: the stream's loop has closed; its finally block removes this listener
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, blk)

    # Subscribe before reading the tip, so a block committed meanwhile is replayed or queued.
    node.add_listener(listener)
    try:
        next_height = node.tip.height + 1 if from_height is None else from_height
        while next_height <= node.tip.height:
            end = min(node.tip.height + 1, next_height + REPLAY_CHUNK)
            replayed = await to_thread.run_sync(partial(_replay, node, next_height, end))
            if not replayed:
                break
            for payload in replayed:
                yield _sse(payload)
                next_height = payload["height"] + 1
        while True:
            # A lagging stream's queue is full, so this is seen before the next get.
            if lagged:
                message = (
                    "the client fell too far behind; reconnect with "
                    f"from_height={next_height} to resume"
                )
                yield ServerSentEvent(
                    data=json.dumps({"code": "events.lagged", "message": message}),
                    event="error",
                )
                return
            committed = await queue.get()
            if committed.height < next_height:
                continue  # already sent from the store
            yield _sse(event_from_commit(committed))
            next_height = committed.height + 1
    finally:
        node.remove_listener(listener)


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    r = APIRouter(prefix="/v1", tags=["events"])

    @r.get(
        "/events",
        response_class=EventSourceResponse,
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "Block events"},
            **ERROR_RESPONSES,
        },
        summary="Stream of committed blocks (SSE)",
    )
    async def events(
        from_height: Annotated[
            int | None,
            Query(ge=0, le=INT_MAX, description="Replay stored blocks from this height first."),
        ] = None,
        last_event_id: Annotated[
            str | None, Header(description="Resume after this block height (SSE reconnect).")
        ] = None,
    ) -> EventSourceResponse:
        """Server-sent events, one per committed block; see the module docs for the format."""
        start = from_height
        if last_event_id is not None and start is None:
            if not last_event_id.isdigit() or int(last_event_id) >= INT_MAX:
                raise InvalidRequest("Last-Event-ID must be a block height")
            start = int(last_event_id) + 1
        return EventSourceResponse(block_events(node, start), ping=PING_S)

    return r
