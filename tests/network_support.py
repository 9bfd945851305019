"""Consortium nodes in the test process, ordered by a real etcd cluster (mutual TLS).

Each organisation gets its own home and :class:`~gridledger.network.runner.NetworkNode`; they
share one genesis naming every organisation with its node key, an operator account per
organisation, and household accounts with funds. Signature checks run inline (no worker
processes), so a test with four nodes stays light.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridledger.api.render import block_view
from gridledger.contracts.base import ROLES
from gridledger.contracts.genesis import Genesis, GenesisAccount, GenesisOrganisation
from gridledger.contracts.rules import Rules
from gridledger.core.crypto import SigningKey
from gridledger.core.types import Attestation, Transaction
from gridledger.network.etcd import Cluster
from gridledger.network.log import Endpoint, EtcdLog
from gridledger.network.runner import NetworkNode, NetworkSettings, WakingOrdering
from gridledger.node.node import GENESIS_NAME, Node, NodeConfig
from gridledger.node.sync import catch_up
from support import CHAIN_ID, GENESIS_TIME_MS, HOUSEHOLD_ROLES, household_accounts, key, signed

HOUSEHOLDS = 8


def org_ids(n: int) -> list[str]:
    return [f"org-{i}" for i in range(1, n + 1)]


def network_genesis(orgs: list[str], rules: Rules | None = None) -> Genesis:
    return Genesis(
        chain_id=CHAIN_ID,
        genesis_time=GENESIS_TIME_MS,
        organisations=[
            *(
                GenesisOrganisation(
                    id=o, name=o, roles=list(ROLES), node_key=key(f"node-{o}").public_key
                )
                for o in orgs
            ),
            GenesisOrganisation(id="households", name="Households", roles=HOUSEHOLD_ROLES),
        ],
        accounts=[
            *(
                GenesisAccount(
                    id=f"{o}.operator",
                    org=o,
                    public_key=key(f"{o}.operator").public_key,
                    roles=["operator"],
                )
                for o in orgs
            ),
            *household_accounts(HOUSEHOLDS, 1_000_000, "households"),
        ],
        rules=rules or Rules(),
    )


def endpoints_of(cluster: Cluster, first: int = 0) -> list[Endpoint]:
    """The cluster's members as a node's endpoints, member ``first`` first."""
    tls = cluster.client_tls
    assert tls is not None
    specs = list(cluster.specs.values())
    specs = specs[first % len(specs) :] + specs[: first % len(specs)]
    return [Endpoint(s.client_url, str(tls.ca_cert), str(tls.cert), str(tls.key)) for s in specs]


@dataclass
class Consortium:
    root: Path
    cluster: Cluster
    genesis: Genesis
    orgs: list[str]
    settings: Callable[[str], NetworkSettings]
    nodes: dict[str, NetworkNode] = field(default_factory=dict)
    prefix: str = "/test/"
    keys: dict[str, SigningKey] = field(default_factory=dict)
    """Node keys that replace the genesis ones (after a rotation)."""

    def open(self, org: str, node_type: type[Node] = Node, start: bool = True) -> NetworkNode:
        """Open (or reopen, after :meth:`stop`) ``org``'s node and start it."""
        home = self.root / org
        if not home.exists():
            home.mkdir(parents=True)
            (home / GENESIS_NAME).write_bytes(self.genesis.encode())
        etcd = EtcdLog(
            endpoints_of(self.cluster, self.orgs.index(org)), CHAIN_ID, prefix=self.prefix
        )
        node = node_type(
            NodeConfig(
                home=home,
                org=org,
                node_key=self.keys.get(org) or key(f"node-{org}"),
                verify_workers=0,
            ),
            ordering=WakingOrdering(etcd.poke),
        )
        net = NetworkNode(node, etcd, self.settings(org))
        if start:
            net.start()
        self.nodes[org] = net
        return net

    def stop(self, org: str) -> None:
        net = self.nodes.pop(org)
        net.stop()
        net.node.close()

    def close(self) -> None:
        for org in list(self.nodes):
            self.stop(org)

    def live(self) -> list[NetworkNode]:
        return [self.nodes[o] for o in sorted(self.nodes)]

    def submit(self, tx: Transaction, *orgs: str) -> bytes:
        """Send ``tx`` to the nodes of ``orgs`` (every running one when none is named)."""
        for org in orgs or sorted(self.nodes):
            try:
                self.nodes[org].node.submit_tx(tx)
            except Exception as exc:  # a copy another node already took is refused
                if "already" not in str(exc):
                    raise
        return tx.hash()

    def wait_all_final(
        self, tx_hashes: list[bytes], timeout_s: float = 30, orgs: tuple[str, ...] = ()
    ) -> None:
        """Until every transaction is committed in a final block on every running node (or
        on those of ``orgs``)."""
        deadline = time.monotonic() + timeout_s
        nets = [self.nodes[o] for o in orgs] if orgs else self.live()
        while time.monotonic() < deadline:
            if all(
                (loc := net.node.store.locate_tx(h)) is not None and loc[0] <= net.node.final_height
                for net in nets
                for h in tx_hashes
            ):
                return
            time.sleep(0.05)
        report = {o: n.status() | {"tip": n.node.tip.height} for o, n in self.nodes.items()}
        raise AssertionError(f"not final everywhere within {timeout_s} s: {report}")

    def peer_catch_up(self, source: str) -> Callable[[Node], int]:
        """Catch up from ``source``'s store, as a node would from its block API."""

        def run(node: Node) -> int:
            peer = self.nodes[source].node

            def fetch(height: int) -> dict[str, Any]:
                stored = peer.store.block(height)
                assert stored is not None
                return block_view(stored)

            catch_up(node, fetch, peer.tip.height)
            return node.tip.height

        return run


@contextmanager
def consortium(
    root: Path,
    cluster: Cluster,
    n: int = 4,
    settings: Callable[[str], NetworkSettings] | None = None,
    prefix: str = "/test/",
) -> Iterator[Consortium]:
    orgs = org_ids(n)
    c = Consortium(
        root,
        cluster,
        network_genesis(orgs),
        orgs,
        settings or (lambda org: NetworkSettings()),
        prefix=prefix,
    )
    try:
        for org in orgs:
            c.open(org)
        yield c
    finally:
        c.close()


def transfers(count: int, start_nonce: int = 1) -> list[Transaction]:
    """``count`` transfers from every household to the next, nonces from ``start_nonce``."""
    return [
        signed(f"house-{i:02d}", start_nonce + k, "funds.transfer",
               {"to": f"house-{(i + 1) % HOUSEHOLDS:02d}", "amount": 1 + k})
        for k in range(count)
        for i in range(HOUSEHOLDS)
    ]  # fmt: skip


def attestations_of(node: Node, height: int) -> list[Attestation]:
    import msgspec

    return [msgspec.json.decode(raw, type=Attestation) for raw in node.store.attestations(height)]
