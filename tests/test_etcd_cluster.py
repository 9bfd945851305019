"""Real etcd 3.4 members with mutual TLS, as the network's ordering runs on them.

What the ordering relies on, shown against the real thing: only holders of a consortium
certificate get in; a create-if-absent transaction has exactly one winner however many race;
a dead leader is replaced and writes go on; a cluster without quorum acknowledges nothing and
loses nothing it acknowledged; a watch delivers every change in order; defragmentation and the
NOSPACE alarm behave as the operators' runbook says.
"""

from __future__ import annotations

import base64
import datetime as dt
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from etcd3gw.exceptions import Etcd3Exception
from etcd3gw.types import Event

from etcd_support import etcd_cluster, fresh_etcd_cluster, poll, put_eventually, running_cluster
from gridledger.network.etcd import Cluster, FailoverClient, Tuning, wait_for_leader
from gridledger.network.pki import TlsFiles, issue, make_ca

__all__ = ["etcd_cluster", "fresh_etcd_cluster"]  # fixtures, used by name

pytestmark = pytest.mark.slow


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _create_txn(key: str, value: str) -> dict[str, Any]:
    """Put ``key`` only if it was never created; on failure, read what is there."""
    return {
        "compare": [
            {"key": _b64(key), "result": "EQUAL", "target": "CREATE", "create_revision": 0}
        ],
        "success": [{"request_put": {"key": _b64(key), "value": _b64(value)}}],
        "failure": [{"request_range": {"key": _b64(key)}}],
    }


def _revision(client: FailoverClient) -> int:
    return int(client.status()["header"]["revision"])


# -- certificates ----------------------------------------------------------------------------------


def test_an_issued_certificate_serves_as_etcd_server_peer_and_client(tmp_path: Path) -> None:
    ca = make_ca(tmp_path / "pki", "consortium")
    org = issue(ca, "org7", tmp_path / "pki", ["127.0.0.1", "localhost", "10.213.7.7"])
    cert = org.certificate
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == "secp256r1"
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == [
        "127.0.0.1",
        "10.213.7.7",
    ]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert cert.issuer == ca.certificate.subject
    cert.verify_directly_issued_by(ca.certificate)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=729) < lifetime < dt.timedelta(days=731)
    for key in (ca.key_path, org.key_path):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(org.cert_path.stat().st_mode) & 0o044  # certificates are public


def test_validity_is_configurable_and_never_outlives_the_ca(tmp_path: Path) -> None:
    ca = make_ca(tmp_path, "short-ca", validity=dt.timedelta(days=30))
    week = issue(ca, "week", tmp_path, ["127.0.0.1"], validity=dt.timedelta(days=7))
    assert week.certificate.not_valid_after_utc < ca.certificate.not_valid_after_utc
    long = issue(ca, "long", tmp_path, ["127.0.0.1"], validity=dt.timedelta(days=3650))
    assert long.certificate.not_valid_after_utc == ca.certificate.not_valid_after_utc
    with pytest.raises(ValueError, match="host"):
        issue(ca, "nameless", tmp_path, [])


# -- TLS -------------------------------------------------------------------------------------------


def test_put_and_get_over_mutual_tls_on_every_member(etcd_cluster: Cluster) -> None:
    etcd_cluster.client().put("tls/greeting", "hello")
    for name in etcd_cluster.names:
        client = etcd_cluster.client(name)
        assert client.client_url.startswith("https://127.0.0.1:")
        assert client.get("tls/greeting") == [b"hello"]


def test_a_client_without_a_certificate_is_refused(etcd_cluster: Cluster) -> None:
    assert etcd_cluster.client_tls is not None
    anonymous = etcd_cluster.client(tls=TlsFiles(ca_cert=etcd_cluster.client_tls.ca_cert))
    with pytest.raises(Etcd3Exception):
        anonymous.put("tls/anonymous", "should not land")
    with pytest.raises(Etcd3Exception):
        anonymous.get("tls/greeting")
    assert etcd_cluster.client().get("tls/anonymous") == []


def test_a_certificate_from_another_ca_is_refused(etcd_cluster: Cluster, tmp_path: Path) -> None:
    assert etcd_cluster.client_tls is not None
    rogue_ca = make_ca(tmp_path, "rogue")
    rogue = issue(rogue_ca, "org1", tmp_path, ["127.0.0.1", "localhost"])  # a stolen name
    intruder = etcd_cluster.client(
        tls=TlsFiles(
            ca_cert=etcd_cluster.client_tls.ca_cert, cert=rogue.cert_path, key=rogue.key_path
        )
    )
    with pytest.raises(Etcd3Exception):
        intruder.put("tls/rogue", "should not land")
    assert etcd_cluster.client().get("tls/rogue") == []


# -- compare-and-swap ------------------------------------------------------------------------------


def test_create_succeeds_once_per_key(etcd_cluster: Cluster) -> None:
    client = etcd_cluster.client()
    assert client.create("cas/once", "first") is True
    assert client.create("cas/once", "second") is False
    assert client.get("cas/once") == [b"first"]


def test_create_transaction_tells_the_loser_who_won(etcd_cluster: Cluster) -> None:
    """The raw transaction the ordering log sends: compare create_revision == 0, else read."""
    client = etcd_cluster.client()
    won = client.transaction(_create_txn("cas/txn", "winner"))
    assert won.get("succeeded") is True
    lost = client.transaction(_create_txn("cas/txn", "loser"))
    assert lost.get("succeeded", False) is False
    [read] = lost["responses"]
    [kv] = read["response_range"]["kvs"]
    assert base64.b64decode(kv["value"]) == b"winner"


def test_eight_racing_creators_have_exactly_one_winner(etcd_cluster: Cluster) -> None:
    writers, rounds = 8, 6
    names = etcd_cluster.names
    # each writer its own client, starting at a different member: the race spans members
    clients = [etcd_cluster.client(names[i % 3 :] + names[: i % 3]) for i in range(writers)]
    for round_ in range(rounds):
        key = f"cas/race/{round_}"
        start = threading.Barrier(writers)
        results: list[bool | None] = [None] * writers

        def write(
            i: int,
            key: str = key,
            start: threading.Barrier = start,
            results: list[bool | None] = results,
        ) -> None:
            start.wait()
            mine = f"writer-{i}"
            try:
                results[i] = clients[i].create(key, mine)
            except Etcd3Exception:
                # no answer (an election under load): the create may have landed; read back
                results[i] = _read_eventually(clients[i], key) == [mine.encode()]

        threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert None not in results, "a writer did not finish"
        assert results.count(True) == 1, results
        winner = results.index(True)
        assert etcd_cluster.client().get(key) == [f"writer-{winner}".encode()]


# -- watch -----------------------------------------------------------------------------------------


def test_a_prefix_watch_delivers_every_put_in_order(etcd_cluster: Cluster) -> None:
    client = etcd_cluster.client()
    client.put("other/before", "not watched")
    start = _revision(client) + 1
    events, cancel = client.watch_prefix("watch/blocks/", start_revision=start)
    received: list[Event] = []
    expected = 40

    def consume() -> None:
        for event in events:
            received.append(event)
            if len(received) == expected:
                return

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    try:
        for i in range(expected):
            client.put(f"watch/blocks/{i:04d}", f"block {i}")
            if i % 10 == 0:
                client.put("other/noise", str(i))  # outside the prefix: never delivered
        reader.join(timeout=10)
    finally:
        cancel()
    assert len(received) == expected
    assert [e["kv"]["key"] for e in received] == [
        f"watch/blocks/{i:04d}".encode() for i in range(expected)
    ]
    assert [e["kv"]["value"] for e in received] == [f"block {i}".encode() for i in range(expected)]
    revisions = [int(e["kv"]["mod_revision"]) for e in received]
    assert revisions == sorted(revisions)
    assert len(set(revisions)) == expected
    assert revisions[0] >= start


# -- maintenance -----------------------------------------------------------------------------------


def test_defragment_returns_compacted_space_to_the_file_system(etcd_cluster: Cluster) -> None:
    client = etcd_cluster.client()
    client.put("defrag-kept", "kept")
    filler = "x" * 4096
    for i in range(300):
        client.put(f"defrag/{i:04d}", filler)
    client.delete_prefix("defrag/")
    etcd_cluster.compact(_revision(client))
    for name in etcd_cluster.names:
        before = int(etcd_cluster.status(name)["dbSize"])
        assert before > 300 * 4096

        def shrunk(name: str = name, before: int = before) -> bool:
            # compaction reaches each member through Raft; until it ran there, nothing to free
            etcd_cluster.defragment(name)
            return int(etcd_cluster.status(name)["dbSize"]) < before // 10

        poll(shrunk, timeout_s=10, what=f"defragmenting {name}")
        assert etcd_cluster.client(name).get("defrag-kept", serializable=True) == [b"kept"]
    assert etcd_cluster.alarms() == []
    client.put("defrag/after", "still writable")
    assert client.get("defrag/after") == [b"still writable"]


def test_nospace_alarm_stops_writes_until_space_is_freed_and_it_is_disarmed(
    tmp_path: Path,
) -> None:
    with running_cluster(tmp_path, size=1, tuning=Tuning(quota_backend_bytes=512 * 1024)) as small:
        client = small.client()
        written, refused = _fill_until_refused(client, "y" * 32 * 1024)
        assert "space exceeded" in (refused.detail_text or "")
        [alarm] = small.alarms()
        assert alarm.kind == "NOSPACE"
        assert alarm.member_id in small.member_ids()
        with pytest.raises(Etcd3Exception):
            client.put("fill/more", "x")  # the alarm holds until disarmed
        client.delete_prefix("fill/")  # deletes are allowed under NOSPACE
        small.compact(_revision(client))
        small.defragment("org1")
        small.disarm(alarm)
        assert small.alarms() == []
        client.put("fill/after", "fits again")
        assert client.get("fill/after") == [b"fits again"]
        assert written > 5  # the quota, not a bad request, stopped the writes


# -- faults ----------------------------------------------------------------------------------------


def test_killing_the_leader_elects_another_and_writes_go_on(fresh_etcd_cluster: Cluster) -> None:
    cluster = fresh_etcd_cluster
    old = wait_for_leader(cluster)
    cluster.client().put("faults/before", "1")
    cluster.kill(old)
    rest = [n for n in cluster.names if n != old]
    survivors = cluster.client(rest, timeout_s=1.0)

    def new_leader() -> str | None:
        leader = cluster.leader(rest)
        return leader if leader != old else None

    new, elected_s = poll(new_leader, timeout_s=10, what="a new leader")
    assert new in rest

    writable_s = put_eventually(survivors, "faults/after", "2")
    assert elected_s < 10
    assert writable_s < 10
    assert survivors.get("faults/before") == [b"1"]
    # the old leader comes back as a follower and catches up
    cluster.start_member(old)
    cluster.wait_healthy([old], timeout_s=20)
    local = cluster.client(old)
    poll(
        lambda: local.get("faults/after", serializable=True) == [b"2"],
        timeout_s=10,
        what="the restarted member catching up",
    )


def test_without_quorum_nothing_is_acknowledged_and_nothing_acknowledged_is_lost(
    fresh_etcd_cluster: Cluster,
) -> None:
    cluster = fresh_etcd_cluster
    client = cluster.client()
    acknowledged = {f"quorum/{i}": f"v{i}" for i in range(20)}
    for key, value in acknowledged.items():
        assert client.put(key, value)
    survivor, *dead = cluster.names
    for name in dead:
        cluster.kill(name)
    alone = cluster.client(survivor, timeout_s=1.0)
    with pytest.raises(Etcd3Exception):
        alone.put("quorum/lost", "no quorum")
    with pytest.raises(Etcd3Exception):
        alone.create("quorum/cas", "no quorum")
    assert not cluster.health(survivor, timeout_s=0.5)
    # a serializable read is the member's own possibly stale copy, served without quorum
    assert alone.get("quorum/0", serializable=True) == [b"v0"]

    for name in dead:
        cluster.start_member(name)
    cluster.wait_healthy(timeout_s=20)
    put_eventually(client, "quorum/back", "yes")
    stored = {kv["key"].decode(): value.decode() for value, kv in client.get_prefix("quorum/")}
    assert {k: stored[k] for k in acknowledged} == acknowledged
    assert stored["quorum/back"] == "yes"


def test_a_paused_follower_does_not_stop_the_cluster(fresh_etcd_cluster: Cluster) -> None:
    cluster = fresh_etcd_cluster
    leader = wait_for_leader(cluster)
    follower = next(n for n in cluster.names if n != leader)
    cluster.pause(follower)
    try:
        others = cluster.client([n for n in cluster.names if n != follower], timeout_s=2.0)
        for i in range(5):
            put_eventually(others, f"pause/{i}", str(i))
        assert not cluster.health(follower)
    finally:
        cluster.resume(follower)
    cluster.wait_healthy([follower], timeout_s=20)
    local = cluster.client(follower)
    poll(
        lambda: local.get("pause/4", serializable=True) == [b"4"],
        timeout_s=10,
        what="the resumed follower catching up",
    )


def test_a_client_fails_over_from_a_dead_member(fresh_etcd_cluster: Cluster) -> None:
    cluster = fresh_etcd_cluster
    leader = wait_for_leader(cluster)
    first, *rest = [n for n in cluster.names if n != leader] + [leader]
    client = cluster.client([first, *rest])  # prefers a follower, which dies
    client.put("failover/a", "1")
    cluster.kill(first)
    # refused connection: the request never left, so it goes to the next member at once
    assert client.put("failover/b", "2")
    assert client.client_url != cluster.specs[first].client_url
    assert client.get("failover/a") == [b"1"]


def _fill_until_refused(client: FailoverClient, value: str) -> tuple[int, Etcd3Exception]:
    """Put ``value`` under new keys until etcd refuses; how many fitted, and the refusal."""
    for written in range(200):
        try:
            client.put(f"fill/{written:04d}", value)
        except Etcd3Exception as refused:
            return written, refused
    raise AssertionError("200 puts of 32 KiB fitted in a 512 KiB quota")


def _read_eventually(client: FailoverClient, key: str) -> list[bytes]:
    """A linearizable read of ``key``, retried while the cluster has no answer."""

    def attempt() -> list[bytes] | None:
        try:
            return client.get(key)
        except Etcd3Exception:
            return None

    value, _ = poll(attempt, timeout_s=10, what=f"a read of {key}")
    return value
