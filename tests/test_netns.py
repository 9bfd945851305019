"""Partitions that cut real links: one etcd member per network namespace, on a bridge.

Each organisation's member listens on its namespace's address only, with mutual TLS and a
certificate naming that address. Taking a namespace's bridge port down cuts it off from the
other members and from this process; only a client inside the namespace still reaches it.
What the ordering relies on: the majority side keeps accepting writes (electing a new leader
when the leader was cut off), the cut-off member accepts none, and once healed it catches up.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from etcd_support import poll, put_eventually
from gridledger.network.etcd import Cluster, FailoverClient, MemberSpec, wait_for_leader
from gridledger.network.pki import OrgCredentials, issue, make_ca
from netns_support import NetnsLab, lab3

__all__ = ["lab3"]  # fixture, used by name

pytestmark = pytest.mark.slow

ETCDCTL = "/usr/bin/etcdctl"
CLIENT_PORT, PEER_PORT = 2379, 2380


@dataclass
class PartitionedNetwork:
    """A lab whose namespaces each run one member of ``cluster``."""

    lab: NetnsLab
    cluster: Cluster
    credentials: dict[str, OrgCredentials]
    namespace_of: dict[str, str]
    """Member name to namespace name."""

    def majority_client(self, without: str) -> FailoverClient:
        rest = [n for n in self.cluster.names if n != without]
        return self.cluster.client(rest, timeout_s=2.0)

    def etcdctl_inside(self, member: str, *args: str) -> subprocess.CompletedProcess[str]:
        """etcdctl run in ``member``'s namespace against ``member`` itself, as its node would."""
        tls = self.credentials[member].tls
        argv = [
            ETCDCTL,
            f"--endpoints={self.cluster.specs[member].client_url}",
            f"--cacert={tls.ca_cert}",
            f"--cert={tls.cert}",
            f"--key={tls.key}",
            "--dial-timeout=1s",
            "--command-timeout=2s",
            *args,
        ]
        return self.lab.run(self.namespace_of[member], argv, timeout_s=20)

    def local_read(self, member: str, key: str) -> str | None:
        """``member``'s own copy of ``key`` (a serializable read, served without quorum)."""
        done = self.etcdctl_inside(member, "get", key, "--consistency=s", "--print-value-only")
        assert done.returncode == 0, done.stderr
        return done.stdout.strip() or None


@pytest.fixture
def partitioned(lab3: NetnsLab, tmp_path: Path) -> Iterator[PartitionedNetwork]:
    """Three members, one per namespace of ``lab3``, mutual TLS on the namespaces' addresses."""
    if not Path(ETCDCTL).exists():
        pytest.skip("etcdctl (Debian etcd-client) is not installed")
    ca = make_ca(tmp_path / "pki", "consortium")
    specs, credentials, namespace_of = [], {}, {}
    for i, ns in enumerate(lab3.namespaces, start=1):
        name = f"org{i}"
        credentials[name] = issue(ca, name, tmp_path / "pki", [ns.ip, "127.0.0.1", "localhost"])
        namespace_of[name] = ns.name
        specs.append(
            MemberSpec(
                name=name,
                data_dir=tmp_path / name,
                client_url=f"https://{ns.ip}:{CLIENT_PORT}",
                peer_url=f"https://{ns.ip}:{PEER_PORT}",
                tls=credentials[name].tls,
                netns=ns.name,
            )
        )
    cluster = Cluster(specs, client_tls=credentials["org1"].tls, die_with_parent=True)
    try:
        cluster.start(timeout_s=30)
        yield PartitionedNetwork(lab3, cluster, credentials, namespace_of)
    finally:
        cluster.close()


def test_a_cut_follower_leaves_a_writable_majority_and_catches_up(
    partitioned: PartitionedNetwork,
) -> None:
    cluster, lab = partitioned.cluster, partitioned.lab
    for name, member in cluster.members.items():  # each member really is in its namespace
        assert member.pid in lab.pids(partitioned.namespace_of[name])
        assert os.readlink(f"/proc/{member.pid}/ns/net") != os.readlink("/proc/self/ns/net")
    leader = wait_for_leader(cluster)
    follower = next(n for n in cluster.names if n != leader)
    lab.cut(partitioned.namespace_of[follower])
    majority = partitioned.majority_client(follower)
    for i in range(10):
        put_eventually(majority, f"cut/{i}", str(i))
    assert majority.get("cut/9") == [b"9"]
    assert not cluster.health(follower, timeout_s=1.0)  # unreachable from here
    assert partitioned.local_read(follower, "cut/9") is None  # it never heard of the writes

    lab.heal(partitioned.namespace_of[follower])
    poll(
        lambda: partitioned.local_read(follower, "cut/9") == "9",
        timeout_s=20,
        what="the healed follower catching up",
    )
    cluster.wait_healthy(timeout_s=20)


def test_a_cut_leader_is_replaced_refuses_its_own_client_and_rejoins(
    partitioned: PartitionedNetwork,
) -> None:
    cluster, lab = partitioned.cluster, partitioned.lab
    old = wait_for_leader(cluster)
    rest = [n for n in cluster.names if n != old]
    majority = partitioned.majority_client(old)
    put_eventually(majority, "leader-cut/before", "b")
    lab.cut(partitioned.namespace_of[old])

    def new_leader() -> str | None:
        leader = cluster.leader(rest)
        return leader if leader != old else None

    new, elected_s = poll(new_leader, timeout_s=20, what="a leader among the majority")
    assert new in rest

    writable_s = put_eventually(majority, "leader-cut/during/0", "0", timeout_s=20)
    for i in range(1, 5):
        put_eventually(majority, f"leader-cut/during/{i}", str(i))

    # the old leader's own node, inside its namespace, can write nothing
    own = partitioned.etcdctl_inside(old, "put", "leader-cut/own", "from the cut side")
    assert own.returncode != 0, own.stdout
    assert partitioned.local_read(old, "leader-cut/during/4") is None
    assert partitioned.local_read(old, "leader-cut/before") == "b"

    lab.heal(partitioned.namespace_of[old])
    poll(
        lambda: partitioned.local_read(old, "leader-cut/during/4") == "4",
        timeout_s=20,
        what="the healed old leader catching up",
    )
    cluster.wait_healthy(timeout_s=20)
    # its refused write was never committed: not on the majority, not in its own copy
    assert cluster.client().get("leader-cut/own") == []
    assert partitioned.local_read(old, "leader-cut/own") is None
    assert elected_s < 20
    assert writable_s < 20
