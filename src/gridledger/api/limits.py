"""Bounded resources: how much a node reads from clients, for how long, and how much at once.

Request bodies are the one thing a client can make a node hold in memory, so they are read
under a shared budget: at most ``max_bodies`` bodies being read or held at once and at most
``max_bytes`` of them in total; a request over either is refused at once with
``503 api.busy`` (and ``Retry-After``) rather than queued, so slow or huge uploads cannot pile
up. A body must keep arriving: a pause longer than ``idle_s`` between chunks, or a body that
takes longer than ``total_s`` in all, ends the request with ``408 api.body_timeout``. Headers
have their own deadline in :mod:`gridledger.api.protocol`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import Request

from gridledger.api.errors import BodyTimeout, InvalidRequest, ServerBusy

MAX_BODIES = 64
"""Request bodies read or held at once."""
MAX_BODY_BYTES = 32 * 1024 * 1024
"""Bytes of request bodies held at once (a full 16 MiB batch fits, with room for more)."""
BODY_IDLE_S = 15.0
BODY_TOTAL_S = 120.0


@dataclass
class BodyLimits:
    max_bodies: int = MAX_BODIES
    max_bytes: int = MAX_BODY_BYTES
    idle_s: float = BODY_IDLE_S
    total_s: float = BODY_TOTAL_S


class BodyBudget:
    """The bodies and bytes a node holds for its clients (one per API server; event-loop only,
    so no lock is needed)."""

    def __init__(self, limits: BodyLimits | None = None) -> None:
        self.limits = limits or BodyLimits()
        self.bodies = 0
        self.bytes = 0
        self.peak_bytes = 0
        self.refused = 0

    def _reserve(self, n: int) -> None:
        if self.bytes + n > self.limits.max_bytes:
            self.refused += 1
            raise ServerBusy(
                f"the node holds {self.bytes} bytes of request bodies already (at most "
                f"{self.limits.max_bytes}); retry shortly"
            )
        self.bytes += n
        self.peak_bytes = max(self.peak_bytes, self.bytes)

    @asynccontextmanager
    async def read(
        self,
        request: Request,
        limit: int,
        too_large: Exception,
        total_s: float | None = None,
    ) -> AsyncIterator[bytearray]:
        """The request body, refused with ``too_large`` as soon as it passes ``limit`` bytes;
        its bytes count against the budget until the block ends. It is handed over in the
        buffer it was read into (no copy: decoders read a bytearray as they read bytes).
        ``total_s`` shortens the time the whole body may take (small forms need seconds, not
        the budget's ``total_s``)."""
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise InvalidRequest("Content-Length must be a decimal number of bytes")
            if int(declared) > limit:
                raise too_large
        if self.bodies >= self.limits.max_bodies:
            self.refused += 1
            raise ServerBusy(f"the node reads {self.bodies} request bodies already; retry shortly")
        # A declared length is reserved before reading, so large uploads are turned away at
        # once instead of holding a place while their bytes trickle in.
        held = 0 if declared is None else int(declared)
        self._reserve(held)
        self.bodies += 1
        try:
            buf = bytearray()
            total = self.limits.total_s if total_s is None else min(total_s, self.limits.total_s)
            deadline = time.monotonic() + total
            stream = request.stream().__aiter__()
            while True:
                left = min(self.limits.idle_s, deadline - time.monotonic())
                try:
                    chunk = await asyncio.wait_for(stream.__anext__(), max(left, 0.0))
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise BodyTimeout(
                        f"the body stopped arriving for {self.limits.idle_s:g} s, or took over "
                        f"{total:g} s in all"
                    ) from None
                if len(buf) + len(chunk) > limit:
                    raise too_large
                if len(buf) + len(chunk) > held:  # no length declared, or more than declared
                    extra = len(buf) + len(chunk) - held
                    self._reserve(extra)
                    held += extra
                buf += chunk
            yield buf
        finally:
            self.bodies -= 1
            self.bytes -= held
