"""Serving a node's API until SIGINT or SIGTERM, with optional market and certificate keepers
beside it."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Protocol

from gridledger.cli.common import fail
from gridledger.core.crypto import SigningKey
from gridledger.core.keystore import KeystoreError, load_key
from gridledger.node.cert_keeper import CertificateKeeper
from gridledger.node.home import key_path
from gridledger.node.keeper import MarketKeeper
from gridledger.node.node import Node

if TYPE_CHECKING:
    from gridledger.api.server import Tls
    from gridledger.network.runner import NetworkNode

log = logging.getLogger("gridledger.cli")


class Companion(Protocol):
    """Something that runs beside a served node (the demo's living community)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def keeper_key(
    home: Path, account: str, passphrase: str, what: str = "market keeper"
) -> SigningKey:
    """The key a keeper signs with: ``account``'s, from the home's keystore."""
    path = key_path(home, account)
    if not path.is_file():
        fail("keeper.no_key", f"no key of {account!r} in {home / 'keys'} for the {what}")
    try:
        return load_key(path, passphrase)
    except KeystoreError as exc:
        fail("keeper.bad_key", f"the key of {account!r} cannot be opened: {exc}")


def serve_until_stopped(
    chain: Node,
    host: str,
    port: int,
    *,
    log_level: str = "info",
    access_log: bool = True,
    keeper: MarketKeeper | None = None,
    cert_keeper: CertificateKeeper | None = None,
    started: Callable[[], None] | None = None,
    tls: Tls | None = None,
    names: tuple[str, ...] = (),
    network: NetworkNode | None = None,
    companions: Sequence[Companion] = (),
) -> None:
    """Start ``chain`` (and its keepers), serve its API, and close everything on a signal.

    In a consortium network, ``network`` runs the chain (reads the ordering log, proposes,
    attests) instead of the embedded block thread. ``companions`` start after the keepers and
    stop before them."""
    # imported here: the web stack is only needed when serving, and is slow to import
    from gridledger.api.server import serve  # noqa: PLC0415

    # uvicorn takes over SIGINT/SIGTERM while serving and re-raises them when it stops; these
    # handlers receive them then, so the node is closed below instead of the process dying.
    received: list[int] = []

    def remember(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, remember) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if network is not None:
            network.start()
        else:
            chain.start()
        if keeper is not None:
            keeper.start()
        if cert_keeper is not None:
            cert_keeper.start()
        for companion in companions:
            companion.start()
        if started is not None:
            started()
        if not received:
            serve(
                chain,
                host,
                port,
                log_level=log_level,
                access_log=access_log,
                tls=tls,
                names=names,
                # companions use the API: they stop while it still answers
                before_exit=(lambda: _stop_all(companions)) if companions else None,
            )
    finally:
        _stop_all(companions)
        if cert_keeper is not None:
            cert_keeper.stop()
        if keeper is not None:
            keeper.stop()
        if network is not None:
            network.stop()
        chain.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("node stopped", extra={"height": chain.tip.height})


def _stop_all(companions: Sequence[Companion]) -> None:
    """Stop every companion (stopping one twice does nothing more)."""
    for companion in companions:
        companion.stop()
