"""Faults on a consortium of real processes: etcd members and nodes started by ``network up``.

Every test runs a steady load of signed transactions (pinned senders, one sender that sends
each transaction to every node) while it kills, pauses or cuts off parts of the network, then
proves with :func:`~network_faults_support.check_final` that every acknowledged transaction is
final exactly once on every honest node, on one chain (see tests/network_faults_support.py).

- one network on loopback is shared by :class:`TestOneNetwork` (each test starts by bringing
  back whatever is down, and rebuilds the network if a node halted); its window is small
  (20 log entries, pruned every 5 positions) so a paused node really falls behind the log;
- a node running a tampered contract gets a network of its own;
- partitions run each organisation's member and node in its own network namespace on a
  bridge (root only), in :class:`TestPartitions`.

Every wait has a deadline, and fixtures stop every process (and remove every namespace) however
a test ends. The in-process network tests are in tests/test_network.py.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec
import pytest

from etcd_support import running_cluster
from gridledger.core.types import Attestation
from gridledger.network import deploy
from gridledger.network.log import EtcdLog, EtcdUnavailable
from netns_support import NetnsLab, netns_lab
from network_faults_support import (
    Ack,
    Faults,
    Load,
    ProcessNetwork,
    check_final,
    status_inside,
    submit,
    wait_for,
    wait_quiet,
)
from network_support import endpoints_of

pytestmark = pytest.mark.slow

ORGS = ["org-1", "org-2", "org-3", "org-4"]
TAMPERED_NODE = Path(__file__).with_name("tampered_node.py")
WINDOW, PRUNE_EVERY = 20, 5


def others(*orgs: str) -> list[str]:
    return [o for o in ORGS if o not in orgs]


def plan(broadcast: str, **pinned_to: str) -> dict[str, str | None]:
    """Each organisation's operator sends to its own node, ``broadcast`` to every node, and
    ``pinned_to`` moves a sender (``org_1="org-3"``) to another node."""
    moved = {k.replace("_", "-"): v for k, v in pinned_to.items()}
    return {o: None if o == broadcast else moved.get(o, o) for o in ORGS}


# -- one network for several tests ----------------------------------------------------------------


class SharedNetwork:
    """Hands each test a running network with no halted node, rebuilding it when needed."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory = factory
        self.net: ProcessNetwork | None = None

    def healthy(self) -> ProcessNetwork:
        net = self.net
        if net is not None:
            net.resume_all()
            try:
                net.up(timeout_s=30)
                states = net.statuses()
                if all(s is not None and not s["halted"] for s in states.values()):
                    wait_quiet(net, net.orgs, timeout_s=30)
                    return net
            except (AssertionError, RuntimeError, TimeoutError):
                pass
            net.close()
        self.net = ProcessNetwork.create(
            self.factory.mktemp("net"), window=WINDOW, prune_every=PRUNE_EVERY
        )
        self.net.up()
        return self.net

    def close(self) -> None:
        if self.net is not None:
            self.net.close()


@pytest.fixture(scope="class")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedNetwork]:
    holder = SharedNetwork(tmp_path_factory)
    try:
        yield holder
    finally:
        holder.close()


@pytest.fixture
def net(shared: SharedNetwork) -> ProcessNetwork:
    return shared.healthy()


class TestOneNetwork:
    def test_a_killed_node_restarts_and_catches_up(self, net: ProcessNetwork) -> None:
        victim = "org-2"
        faults = Faults()
        with Load(net, plan(broadcast="org-4")) as load:
            net.wait_progress(ORGS, 3)
            pids = {o: net.pid(o, "node") for o in others(victim)}
            faults.crash(victim, net.kill(victim, "node"))
            died = faults.crashed[victim][-1]
            # three of four organisations are a quorum: blocks go on being final
            net.wait_progress(others(victim), 5)
            wait_for(
                lambda: load.acked_count(since=died, orgs=others(victim)) >= 20,
                timeout_s=30,
                what="transactions acknowledged while the node is down",
            )
            assert net.status(victim, timeout_s=0.5) is None
            net.up()  # restarts what is down, and only that
            assert {o: net.pid(o, "node") for o in others(victim)} == pids
            target = max(h or 0 for h in net.heights(others(victim)).values())
            wait_for(
                lambda: (net.heights([victim])[victim] or 0) >= target,
                timeout_s=30,
                what="the restarted node catching up",
                details=net.describe,
            )
            net.wait_progress(ORGS, 3)
        verdict = check_final(net, load, faults)
        assert verdict.required > 50
        # it acknowledged transactions after its restart, and those were not lost
        restarted = [a for a in load.acks.values() if a.by.get(victim, 0) > died]
        assert restarted
        assert verdict.final_height > target

    def test_a_node_paused_past_the_window_catches_up_from_a_peer(
        self, net: ProcessNetwork
    ) -> None:
        victim = "org-3"
        log = net.etcd_log("org-1")
        with Load(net, plan(broadcast="org-1")) as load:
            net.wait_progress(ORGS, 3)
            status = net.status(victim)
            assert status is not None
            position = status["network"]["position"]
            net.signal(victim, "node", signal.SIGSTOP)
            try:
                # the others go on, and prune the log past the paused node's position
                net.wait_progress(others(victim), 5)

                def pruned_past() -> bool:
                    try:
                        first = log.first_position()
                    except EtcdUnavailable:
                        return False
                    return first is not None and first > position + 2 * PRUNE_EVERY

                wait_for(
                    pruned_past,
                    timeout_s=40,
                    what="the log pruned past the paused node",
                    details=net.describe,
                )
                first = log.first_position()
                assert first is not None
                assert first > position + WINDOW // 2
            finally:
                net.signal(victim, "node", signal.SIGCONT)
            target = max(h or 0 for h in net.heights(others(victim)).values())
            wait_for(
                lambda: (net.heights([victim])[victim] or 0) >= target,
                timeout_s=30,
                what="the resumed node catching up",
                details=net.describe,
            )
            net.wait_progress(ORGS, 3)
        verdict = check_final(net, load)
        assert verdict.required > 50
        assert verdict.lost_excused == 0
        status = net.status(victim)
        assert status is not None
        assert status["halted"] is None
        assert status["network"]["position"] > first

    def test_the_same_transaction_sent_to_every_node_runs_once(self, net: ProcessNetwork) -> None:
        sender = "org-1.operator"
        with net.client("org-2") as http:
            before = http.get(f"/v1/accounts/{sender}").raise_for_status().json()
        tx = net.mint("org-1", amount=7)
        raw = tx.encode()
        clients = {o: net.client(o) for o in ORGS}
        try:
            with ThreadPoolExecutor(len(ORGS)) as pool:
                answers = dict(
                    zip(ORGS, pool.map(lambda o: submit(clients[o], raw), ORGS), strict=True)
                )
            ack = Ack(tx.hash().hex(), sender, tx.nonce)
            for org, answer in answers.items():
                assert answer is not None, f"{org} did not answer"
                if answer.status_code == 202:
                    assert answer.json()["hash"] == ack.tx_hash
                    ack.by[org] = time.monotonic()
                else:  # it arrived after the block carrying it was committed there
                    assert answer.status_code == 409, answer.text
                    assert answer.json()["error"]["code"] == "tx.duplicate"
            assert len(ack.by) >= 2, answers  # queued by several nodes at once
            verdict = check_final(net, [ack])
            assert verdict.required == 1
            # one index entry, the same everywhere; executed once
            locations = set()
            for http in clients.values():
                got = http.get(f"/v1/txs/{ack.tx_hash}").raise_for_status().json()
                locations.add((got["height"], got["index"], got["block_hash"]))
                assert got["receipt"]["status"] == "ok", got["receipt"]
                account = http.get(f"/v1/accounts/{sender}").raise_for_status().json()
                assert account["balance"] == before["balance"] + 7
                assert account["nonce"] == tx.nonce
            assert len(locations) == 1
            # sent again it is a duplicate everywhere; its nonce cannot be used again either
            replay = net.mint("org-1", nonce=tx.nonce, amount=8)
            for org, http in clients.items():
                again = submit(http, raw)
                assert again is not None
                assert again.status_code == 409, (org, again.text)
                assert again.json()["error"]["code"] == "tx.duplicate"
                reused = submit(http, replay.encode())
                assert reused is not None
                assert reused.status_code == 409, (org, reused.text)
                assert reused.json()["error"]["code"] == "tx.nonce_replayed"
        finally:
            for c in clients.values():
                c.close()

    def test_the_chain_goes_on_when_the_etcd_leader_is_killed(self, net: ProcessNetwork) -> None:
        with Load(net, plan(broadcast="org-2")) as load:
            net.wait_progress(ORGS, 3)
            leader = wait_for(net.etcd_leader, timeout_s=10, what="an etcd leader")
            net.kill(leader, "etcd")
            killed = time.monotonic()

            def new_leader() -> str | None:
                now = net.etcd_leader(others(leader))
                return now if now not in (None, leader) else None

            elected = wait_for(new_leader, timeout_s=20, what="a new etcd leader")
            assert elected != leader
            # every node goes on, the one whose own member died by failing over
            net.wait_progress(ORGS, 5)
            wait_for(
                lambda: load.acked_count(since=killed) >= 20,
                timeout_s=30,
                what="transactions acknowledged without the old leader",
            )
            net.up()
            wait_for(lambda: net.pid(leader, "etcd"), timeout_s=5, what="the member restarted")
            net.wait_progress(ORGS, 3)
        verdict = check_final(net, load)
        assert verdict.lost_excused == 0
        assert all(s is not None and s["network"]["etcd_ok"] for s in net.statuses().values())

    def test_a_minority_of_etcd_members_down_goes_on_a_majority_stalls_without_forking(
        self, net: ProcessNetwork
    ) -> None:
        with Load(net, plan(broadcast="org-3")) as load:
            net.wait_progress(ORGS, 3)
            leader = wait_for(net.etcd_leader, timeout_s=10, what="an etcd leader")
            follower = next(o for o in reversed(ORGS) if o != leader)
            net.kill(follower, "etcd")  # 1 of 4: the other 3 are a quorum
            net.wait_progress(ORGS, 5)
            # 3 of 4 down (quorum is 3): nothing can be ordered
            for org in [o for o in ORGS if o != follower][:2]:
                net.kill(org, "etcd")
            time.sleep(2.0)  # a block in flight lands or fails
            stalled = net.heights()
            stalled_at = time.monotonic()

            def all_see_etcd_down() -> bool:
                states = net.statuses()
                return all(
                    st is not None and not st["network"]["etcd_ok"] for st in states.values()
                )

            wait_for(all_see_etcd_down, timeout_s=20, what="every node reporting etcd down")
            time.sleep(max(0.0, stalled_at + 4.0 - time.monotonic()))
            assert net.heights() == stalled, "blocks were committed without an etcd quorum"
            states = net.statuses()
            for org, st in states.items():
                assert st is not None, f"{org}'s node stopped answering"
                assert st["halted"] is None, st["halted"]
            # nodes still queue what they are sent, for when the cluster is back
            queued = load.acked_count(since=stalled_at, orgs=ORGS)
            net.up()
            net.wait_progress(ORGS, 3, timeout_s=40)
        verdict = check_final(net, load)
        assert queued > 5
        assert verdict.lost_excused == 0  # nothing acknowledged was lost


# -- a node that fell behind the log ---------------------------------------------------------------


def test_an_offer_behind_the_end_of_the_log_is_refused_even_where_it_was_pruned(
    tmp_path: Path,
) -> None:
    # what a node paused in the middle of proposing does when it wakes up: it offers its block
    # for the position it was at, long taken and pruned since (a create-if-absent would win it)
    with running_cluster(tmp_path / "etcd") as cluster:
        log = EtcdLog(endpoints_of(cluster), "behind")
        assert [log.offer(p, b"block %d" % p) for p in range(4)] == [True] * 4
        assert log.offer(3, b"block 3")  # a retried offer finds its own write
        log.prune(2, 0)
        assert log.first_position() == 2
        assert not log.offer(0, b"stale")
        assert not log.offer(1, b"stale")
        assert not log.offer(3, b"stale")
        assert log.offer(4, b"block 4")
        assert log.offer(6, b"ahead")  # a gap reads as pruned: nobody offers behind it
        assert not log.offer(5, b"late")
        assert [p for p, _ in log.entries(0)] == [2, 3, 4, 6]


# -- a tampered node ------------------------------------------------------------------------------


def test_a_node_running_a_tampered_contract_halts_and_the_honest_quorum_goes_on(
    tmp_path: Path,
) -> None:
    tampered = "org-2"
    honest = others(tampered)
    net = ProcessNetwork.create(tmp_path / "net")
    try:
        # the cluster and the tampered node alone first: it orders, commits and attests a
        # block of its own, with the root its tampered contract gives
        for org in ORGS:
            deploy.start_member(net.root, org)
        net.wait_etcd_healthy()
        net.start_node_with(
            tampered,
            [
                sys.executable,
                str(TAMPERED_NODE),
                "node",
                "--home",
                str(net.home(tampered)),
                "--log-level",
                "warning",
                "--workers",
                "0",
            ],
        )
        wait_for(lambda: net.status(tampered), timeout_s=30, what="the tampered node serving")
        with net.client(tampered) as http:
            for _ in range(3):
                answer = submit(http, net.mint(tampered).encode())
                assert answer is not None
                assert answer.status_code == 202, answer.text
        wait_for(
            lambda: (net.status(tampered) or {}).get("height", 0) >= 1,
            timeout_s=30,
            what="the tampered node's own block",
            details=net.describe,
        )
        own = net.etcd_log("org-1").attestations(1)
        assert own, "the tampered node attested its block"

        net.up()  # the honest nodes (the rest runs already)
        faults = Faults(dishonest={tampered})
        # its operator now sends to an honest node; the broadcast sender reaches it too
        with Load(net, plan(broadcast="org-4", org_2="org-1")) as load:

            def halted() -> str | None:
                st = net.status(tampered)
                return None if st is None else st["halted"]

            why = wait_for(
                halted, timeout_s=40, what="the tampered node halting", details=net.describe
            )
            assert "fork detected" in why
            net.wait_progress(honest, 15)
        verdict = check_final(net, load, faults, honest=honest)
        assert verdict.required > 40
        st = net.status(tampered)
        assert st is not None
        assert "fork detected" in st["halted"]
        assert st["height"] >= 1
        assert st["final_height"] == 0  # nothing it committed was ever final
        # the honest nodes refused its block (another state root), and finalised theirs
        # without any attestation of the tampered organisation
        for org, status in net.statuses(honest).items():
            assert status is not None
            assert status["network"]["skipped"] >= 1, org
        honest_hashes = {}
        with net.client("org-1") as http:
            for height in range(1, verdict.final_height + 1):
                view = http.get(f"/v1/blocks/{height}/header").raise_for_status().json()
                honest_hashes[height] = view["hash"]
                assert view["final"] is True
                orgs = {a["org"] for a in view["attestations"]}
                assert tampered not in orgs
                assert len(orgs) >= 3
        # what it attested is on the board, and never a block of the honest chain
        board = [
            msgspec.json.decode(raw, type=Attestation)
            for raw in net.etcd_log("org-1").attestations(1, limit=100_000)
        ]
        theirs = [a for a in board if a.org == tampered]
        assert theirs
        assert all(honest_hashes.get(a.height) != a.block_hash for a in theirs)
    finally:
        net.close()


# -- partitions -----------------------------------------------------------------------------------


class PartitionedNetwork:
    def __init__(self, lab: NetnsLab, net: ProcessNetwork) -> None:
        self.lab = lab
        self.net = net
        self.ns = {org: lab.namespaces[i].name for i, org in enumerate(ORGS)}

    def status_inside(self, org: str) -> dict[str, Any]:
        """``org``'s node status asked from inside its namespace (reachable when cut off)."""
        got = status_inside(self.ns[org], self.net.ports(org).api_url, self.net.ca())
        assert got is not None, f"{org}'s node does not answer inside its namespace"
        return got


@pytest.fixture(scope="class")
def partitioned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PartitionedNetwork]:
    with netns_lab(len(ORGS)) as lab:
        net = ProcessNetwork.create(
            tmp_path_factory.mktemp("netns"),
            hosts=[ns.ip for ns in lab.namespaces],
            netns=[ns.name for ns in lab.namespaces],
        )
        try:
            net.up()
            yield PartitionedNetwork(lab, net)
        finally:
            net.close()


class TestPartitions:
    def test_processes_run_in_their_organisations_namespaces(
        self, partitioned: PartitionedNetwork
    ) -> None:
        for org in ORGS:
            inside = partitioned.lab.pids(partitioned.ns[org])
            assert partitioned.net.pid(org, "node") in inside
            assert partitioned.net.pid(org, "etcd") in inside

    def test_a_cut_organisation_stops_committing_and_catches_up_when_healed(
        self, partitioned: PartitionedNetwork
    ) -> None:
        net, lab = partitioned.net, partitioned.lab
        cut = "org-4"
        with Load(net, plan(broadcast="org-3")) as load:
            net.wait_progress(ORGS, 3)
            lab.cut(partitioned.ns[cut])
            try:
                time.sleep(1.0)  # a read already answered lands
                first = partitioned.status_inside(cut)
                net.wait_progress(others(cut), 5)
                later = partitioned.status_inside(cut)
                assert later["height"] == first["height"], "the cut node committed blocks"
                assert later["halted"] is None
                majority = net.heights(others(cut))
                assert all((h or 0) > first["height"] for h in majority.values())
            finally:
                lab.heal(partitioned.ns[cut])
            target = max(h or 0 for h in net.heights(others(cut)).values())
            wait_for(
                lambda: (net.heights([cut])[cut] or 0) >= target,
                timeout_s=40,
                what="the healed node catching up",
                details=net.describe,
            )
            net.wait_progress(ORGS, 3, timeout_s=40)
        verdict = check_final(net, load)
        assert verdict.lost_excused == 0
        assert verdict.required > 50

    def test_a_split_without_an_etcd_majority_stalls_and_resumes(
        self, partitioned: PartitionedNetwork
    ) -> None:
        net, lab = partitioned.net, partitioned.lab
        side = ["org-1", "org-2"]  # 2 of 4 on each side: quorum is 3
        with Load(net, plan(broadcast="org-2")) as load:
            net.wait_progress(ORGS, 3)
            lab.split([partitioned.ns[o] for o in side])
            try:
                time.sleep(2.0)
                before = {o: partitioned.status_inside(o)["height"] for o in side}
                before |= net.heights(others(*side))
                time.sleep(4.0)
                after = {o: partitioned.status_inside(o) for o in side}
                far = net.statuses(others(*side))
                assert {o: s["height"] for o, s in after.items()} | {
                    o: None if s is None else s["height"] for o, s in far.items()
                } == before, "blocks were committed without an etcd majority"
                for org, st in [*after.items(), *far.items()]:
                    assert st is not None
                    assert st["halted"] is None, (org, st["halted"])
            finally:
                lab.join([partitioned.ns[o] for o in side])
            net.wait_progress(ORGS, 3, timeout_s=40)
        verdict = check_final(net, load)
        assert verdict.lost_excused == 0
