"""The HTTP/1.1 protocol the node serves with: uvicorn's h11 protocol with a header deadline.

uvicorn has no deadline for a request's headers: a client that opens a connection and sends
a header line now and then (or nothing at all) holds it for ever, and enough of them exhaust
the node. Here every request's headers must be complete within ``header_timeout_s`` of the
connection opening or of the previous response; otherwise the connection is closed. And a
request answered before its body was read (refused as too large, or the node busy) ends its
connection instead of having the rest of its body read and thrown away; one that declares a
body larger than any endpoint takes is answered 413 before any application code runs.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0
LINGER_S = 0.5
LINGER_BYTES = 256 * 1024
"""After answering a request whose body it will not read, the node reads on and throws away
at most this much (for at most ``LINGER_S``) before closing: a client still sending its body
then sees the answer instead of a reset connection ("lingering close", as web servers do)."""


class _LingeringTransport:
    """The connection's transport as uvicorn sees it: closing it while the client is still
    sending a body lingers first (see :data:`LINGER_BYTES`). It lets go of its protocol when
    the connection is lost, so neither waits for the cyclic garbage collector (which a node
    runs rarely)."""

    def __init__(self, real: asyncio.Transport, protocol: GuardedH11Protocol) -> None:
        self._real = real
        self._protocol: GuardedH11Protocol | None = protocol

    def close(self) -> None:
        if self._protocol is None:
            self._real.close()
        else:
            self._protocol.close_soon()

    def release(self) -> None:
        self._protocol = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _GuardedConnection(h11.Connection):
    """h11's server connection, stopping at a request that declares too large a body: its
    parser answers PAUSED and keeps the verdict (no reference back to the protocol)."""

    def __init__(self, max_body_bytes: int, max_incomplete_event_size: int) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=max_incomplete_event_size)
        self.max_body_bytes = max_body_bytes
        self.oversize = False

    def next_event(self) -> Any:
        event = super().next_event()
        if isinstance(event, h11.Request):
            for name, value in event.headers:
                if name == b"content-length":
                    if value.isdigit() and int(value) > self.max_body_bytes:
                        self.oversize = True
                        return h11.PAUSED  # ends uvicorn's event loop for this connection
                    break
        return event


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request headers come too slowly."""

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.header_timeout_s: float = getattr(config, "header_timeout_s", HEADER_TIMEOUT_S)
        self.max_body_bytes: int | None = getattr(config, "max_body_bytes", None)
        self._header_timer: asyncio.TimerHandle | None = None
        self._drained: int | None = None
        """Bytes thrown away since the connection began to close; None while it is open."""
        if self.max_body_bytes is not None:
            self.conn = _GuardedConnection(
                self.max_body_bytes,
                config.h11_max_incomplete_event_size or 16 * 1024,  # h11's own default
            )

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._real_transport = transport
        self._wrapper = _LingeringTransport(transport, self)
        self.transport = cast(asyncio.Transport, self._wrapper)
        self._arm_header_timer()

    def close_soon(self) -> None:
        """Close the connection; if the client is still sending a request body, first read on
        and throw away up to :data:`LINGER_BYTES` for up to :data:`LINGER_S`, so it can read
        the answer it was given instead of meeting a reset connection."""
        if self.conn.their_state is h11.SEND_BODY and self._drained is None:
            self._linger_then_close()
        elif self._drained is None:
            self._real_transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)
        self._wrapper.release()

    def data_received(self, data: bytes) -> None:
        if self._drained is not None:
            self._drained += len(data)
            if self._drained > LINGER_BYTES:
                self._real_transport.close()
            return
        super().data_received(data)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if isinstance(self.conn, _GuardedConnection) and self.conn.oversize:
            self._refuse_oversize()
        if self._drained is not None:
            self.flow.resume_reading()  # keep draining what the client still sends
            return
        if self.cycle is not cycle and self.cycle is not None:
            self._cancel_header_timer()  # a request's headers are in

    def on_response_complete(self) -> None:
        if self.conn.their_state is h11.SEND_BODY:
            # Answered before its body was read (too large, the node busy): reading the rest
            # to the end would let a client make the node swallow any number of bytes, so the
            # connection ends after a short linger.
            self.server_state.total_requests += 1
            self.close_soon()
            return
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()  # the next request on this connection gets the same

    def _refuse_oversize(self) -> None:
        """Answer 413 and end the connection before any application code runs: a flood of
        huge uploads then costs the node a header parse each."""
        body = (
            b'{"error":{"code":"api.body_too_large","message":"no endpoint takes a body of '
            b'more than %d bytes"}}' % (self.max_body_bytes or 0)
        )
        self._cancel_header_timer()
        self._real_transport.write(
            b"HTTP/1.1 413 Content Too Large\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
        )
        self._linger_then_close()

    def _linger_then_close(self) -> None:
        if self._drained is None and not self._real_transport.is_closing():
            self._drained = 0
            # what the parser holds of the body goes now, not when the connection ends
            self.conn = h11.Connection(h11.SERVER)
            self.loop.call_later(LINGER_S, self._real_transport.close)
            self.flow.resume_reading()

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered: its body has deadlines of its own
        if not self.transport.is_closing():
            self.transport.close()
