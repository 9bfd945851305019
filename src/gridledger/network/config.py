"""A network node's settings (``<home>/network.json``) and opening a node with them.

``network.json`` (written by ``gridledger network init``; paths relative to the home)::

    {
      "prefix": "/gridledger/",
      "etcd": [{"url": "https://127.0.0.1:23790", "ca": "tls/ca.crt",
                "cert": "tls/org.crt", "key": "tls/org.key"}, ...],
      "peers": {"org-2": "https://127.0.0.1:8702", ...},
      "peer_ca": "tls/ca.crt",
      "observer": false,
      "window": 2000,
      "prune_every": 64
    }

``etcd`` lists the cluster's members, this organisation's own first; ``peers`` the other
organisations' node APIs, from which a node that missed pruned log entries catches up.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Any

import httpx
import msgspec

from gridledger.core.errors import GridLedgerError
from gridledger.network.log import Endpoint, EtcdLog
from gridledger.network.runner import NetworkNode, NetworkSettings, WakingOrdering
from gridledger.node.home import open_node
from gridledger.node.node import Node
from gridledger.node.sync import catch_up

log = logging.getLogger("gridledger.network")

NETWORK_NAME = "network.json"


class EtcdMemberConfig(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    ca: str | None = None
    cert: str | None = None
    key: str | None = None


class NetworkConfig(msgspec.Struct, forbid_unknown_fields=True):
    etcd: list[EtcdMemberConfig]
    prefix: str = "/gridledger/"
    peers: dict[str, str] = msgspec.field(default_factory=dict)
    peer_ca: str | None = None
    observer: bool = False
    window: int = 2_000
    prune_every: int = 64
    turn_grace_ms: int = 150
    fill_ms: int = 50


def read_config(home: Path) -> NetworkConfig | None:
    """The home's network settings, or None for an embedded node."""
    path = home / NETWORK_NAME
    if not path.is_file():
        return None
    return msgspec.json.decode(path.read_bytes(), type=NetworkConfig)


def write_config(home: Path, config: NetworkConfig) -> None:
    (home / NETWORK_NAME).write_bytes(msgspec.json.format(msgspec.json.encode(config)) + b"\n")


def _path(home: Path, name: str | None) -> str | None:
    if name is None:
        return None
    p = Path(name)
    return str(p if p.is_absolute() else home / p)


def endpoints(home: Path, config: NetworkConfig) -> list[Endpoint]:
    return [
        Endpoint(m.url, _path(home, m.ca), _path(home, m.cert), _path(home, m.key))
        for m in config.etcd
    ]


def tls_context(ca: str | None, cert: str | None = None, key: str | None = None) -> ssl.SSLContext:
    """A client TLS context that trusts ``ca`` alone (the system's CAs without one) and
    presents ``cert``/``key`` when given (httpx ignores a separate ``cert=`` when ``verify``
    is a path, so the context carries both)."""
    context = ssl.create_default_context(cafile=ca)
    if cert and key:
        context.load_cert_chain(cert, key)
    return context


def peer_catch_up(peers: list[str], verify: ssl.SSLContext) -> Any:
    """A catch-up function over the peers' block APIs: from the first peer that answers,
    every block it has and this node lacks, each checked like any imported block."""

    def run(node: Node) -> int:
        for url in peers:
            try:
                with httpx.Client(base_url=url, verify=verify, timeout=10, trust_env=False) as http:
                    status = http.get("/v1/status").raise_for_status().json()
                    if status.get("genesis_hash") != node.genesis_hash.hex():
                        log.warning("peer serves another chain", extra={"peer": url})
                        continue

                    def fetch(height: int, http: httpx.Client = http) -> dict[str, Any]:
                        got: dict[str, Any] = (
                            http.get(f"/v1/blocks/{height}").raise_for_status().json()
                        )
                        return got

                    catch_up(node, fetch, int(status["height"]))
                    return node.tip.height
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                log.warning("catch-up from peer failed", extra={"peer": url, "reason": str(exc)})
            except GridLedgerError as exc:
                log.warning("peer sent a bad block", extra={"peer": url, "code": exc.code,
                                                             "reason": exc.message})  # fmt: skip
        return node.tip.height

    return run


def peer_attestations(peers: list[str], verify: ssl.SSLContext) -> Any:
    """A function giving the attestations the first answering peer kept for a height."""

    def run(height: int) -> list[bytes]:
        for url in peers:
            try:
                with httpx.Client(base_url=url, verify=verify, timeout=5, trust_env=False) as http:
                    view = http.get(f"/v1/blocks/{height}/header").raise_for_status().json()
                return [msgspec.json.encode(a) for a in view.get("attestations", [])]
            except (httpx.HTTPError, ValueError, AttributeError) as exc:
                log.debug("peer attestations failed", extra={"peer": url, "reason": str(exc)})
        return []

    return run


def open_network_node(home: Path, passphrase: str, **overrides: Any) -> NetworkNode:
    """Open the node in ``home`` as one organisation of its network (``network.json``)."""
    config = read_config(home)
    if config is None:
        raise FileNotFoundError(f"{home} has no {NETWORK_NAME}")
    etcd = EtcdLog(endpoints(home, config), _chain_id(home), prefix=config.prefix)
    node = open_node(home, passphrase, ordering=WakingOrdering(etcd.poke), **overrides)
    first = config.etcd[0] if config.etcd else None
    context = tls_context(
        _path(home, config.peer_ca),
        None if first is None else _path(home, first.cert),
        None if first is None else _path(home, first.key),
    )
    peers = [url for _, url in sorted(config.peers.items())]
    settings = NetworkSettings(
        turn_grace_s=config.turn_grace_ms / 1000,
        fill_s=config.fill_ms / 1000,
        window=config.window,
        prune_every=config.prune_every,
        observer=config.observer,
        catch_up=peer_catch_up(peers, context),
        fetch_attestations=peer_attestations(peers, context),
    )
    return NetworkNode(node, etcd, settings)


class _ChainId(msgspec.Struct):
    chain_id: str


def _chain_id(home: Path) -> str:
    return msgspec.json.decode((home / "genesis.json").read_bytes(), type=_ChainId).chain_id
