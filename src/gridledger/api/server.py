"""Serving the API with uvicorn: in the foreground (``gridledger node``) or in a thread.

Either way the app learns where it is served (:class:`gridledger.api.site.Site`): the bind
address, TLS (a certificate and key, from the arguments or ``node.json``), a reverse proxy
named in ``node.json``, and the names a request's ``Host`` may carry.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType

import uvicorn

from gridledger.api.app import create_app
from gridledger.api.auth import Clock
from gridledger.api.context import MAX_BATCH_BYTES
from gridledger.api.limits import BodyLimits
from gridledger.api.memory import return_large_buffers
from gridledger.api.protocol import HEADER_TIMEOUT_S, GuardedH11Protocol
from gridledger.api.site import Site, SiteError, SiteSettings
from gridledger.node.node import Node

GRACEFUL_SHUTDOWN_S = 5
"""How long open requests (event streams, receipt waits) may run on after a stop request."""


MAX_CONNECTIONS = 2048
"""Open connections (and requests in progress) at once; uvicorn answers 503 beyond."""


@dataclass(frozen=True)
class Tls:
    """A certificate (chain) and its private key, both PEM files."""

    cert: Path
    key: Path


def site_of(
    node: Node, host: str, port: int, tls: Tls | None = None, names: tuple[str, ...] = ()
) -> tuple[Site, Tls | None]:
    """Where ``node`` is served on ``host:port``: with ``tls``, else the certificate named in
    its home's ``node.json`` (if any).

    Raises:
        SiteError: a serving setting of ``node.json`` is not valid, or a TLS file is missing.
    """
    settings = SiteSettings.of_home(node.config.home)
    if tls is None and settings.tls_cert is not None and settings.tls_key is not None:
        tls = Tls(settings.tls_cert, settings.tls_key)
    if tls is not None:
        for path in (tls.cert, tls.key):
            if not Path(path).is_file():
                raise SiteError(f"the TLS file {path} does not exist")
    return Site.serving(host, port, tls=tls is not None, settings=settings, names=names), tls


def _config(
    node: Node,
    host: str,
    port: int,
    log_level: str,
    access_log: bool,
    header_timeout_s: float = HEADER_TIMEOUT_S,
    body_limits: BodyLimits | None = None,
    tls: Tls | None = None,
    names: tuple[str, ...] = (),
    clock: Clock | None = None,
) -> uvicorn.Config:
    site, tls = site_of(node, host, port, tls, names)
    config = uvicorn.Config(
        create_app(node, body_limits=body_limits, site=site, clock=clock),
        ssl_certfile=None if tls is None else str(tls.cert),
        ssl_keyfile=None if tls is None else str(tls.key),
        host=host,
        port=port,
        # None: uvicorn leaves logging alone, so its records reach the caller's handlers
        log_config=None,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        server_header=False,
        http=GuardedH11Protocol,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=5,
    )
    config.header_timeout_s = header_timeout_s  # type: ignore[attr-defined]
    config.max_body_bytes = MAX_BATCH_BYTES  # type: ignore[attr-defined]
    return config


def serve(
    node: Node,
    host: str,
    port: int,
    *,
    log_level: str = "info",
    access_log: bool = True,
    tls: Tls | None = None,
    names: tuple[str, ...] = (),
    before_exit: Callable[[], None] | None = None,
) -> None:
    """Serve the API for ``node`` until SIGINT or SIGTERM; the caller closes the node after.

    uvicorn handles the signals while it runs and re-raises them once it has stopped, so the
    caller should install its own handlers first (``gridledger node`` does). ``before_exit``
    runs on the first signal while the API still answers (e.g. stopping a client of the API
    in the same process, so it never finds the server gone mid-request); the server stops
    when it returns.
    """
    config = _config(node, host, port, log_level, access_log, tls=tls, names=names)
    return_large_buffers()
    # compile the web pages' templates before the first visitor rather than during its request
    from gridledger.web.render import warm  # noqa: PLC0415

    warm()
    _Server(config, before_exit).run()


class _Server(uvicorn.Server):
    """uvicorn's server, running ``before_exit`` (on a thread, so the event loop goes on
    answering) before it begins its shutdown on the first signal."""

    def __init__(self, config: uvicorn.Config, before_exit: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._before_exit = before_exit
        self._exiting = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._before_exit is None or self._exiting:
            super().handle_exit(sig, frame)
            return
        self._exiting = True
        before_exit = self._before_exit

        def run() -> None:
            try:
                before_exit()
            finally:
                super(_Server, self).handle_exit(sig, frame)

        threading.Thread(target=run, name="before-exit", daemon=True).start()


class ApiServer:
    """The API on a background thread, e.g. beside a simulation or in tests.

    The listening socket is bound in the constructor (port 0 picks a free port), so :attr:`url`
    is known and the port cannot be taken by someone else before the server starts::

        with ApiServer(node) as server:
            httpx.get(server.url + "/v1/status")
    """

    def __init__(
        self,
        node: Node,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_level: str = "warning",
        header_timeout_s: float = HEADER_TIMEOUT_S,
        body_limits: BodyLimits | None = None,
        tls: Tls | None = None,
        names: tuple[str, ...] = (),
        clock: Clock | None = None,
    ) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # with the protocol named, asyncio recognises the socket as TCP and sets TCP_NODELAY on
        # every connection; without it, small responses wait ~40 ms for delayed ACKs
        self._sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        try:  # the app is told the port it is reached on (its enrolment links name it)
            config = _config(
                node,
                host,
                self.port,
                log_level,
                False,
                header_timeout_s,
                body_limits,
                tls,
                names,
                clock,
            )
        except BaseException:
            self._sock.close()
            raise
        self.tls = config.ssl_certfile is not None
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Start serving; returns once the server accepts connections."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="api", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the API server failed to start; see the log")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the API server did not start within {timeout} s")
            time.sleep(0.01)

    def stop(self, timeout: float = GRACEFUL_SHUTDOWN_S + 5) -> None:
        """Stop serving (open streams get the graceful-shutdown period) and free the port."""
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout)
            self._thread = None
        self._sock.close()

    def __enter__(self) -> ApiServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
