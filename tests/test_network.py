"""A consortium on a real etcd cluster: ordering, attestations, finality, catch-up, forks.

The nodes run in the test process (see tests/network_support.py); the fault tests with real
node processes, SIGKILL and partitions are in tests/test_network_faults.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from etcd_support import etcd_cluster, fresh_etcd_cluster, poll  # noqa: F401
from gridledger.api.render import block_view
from gridledger.contracts import consortium as consortium_q
from gridledger.contracts.funds import balance_of
from gridledger.core.crypto import verify
from gridledger.core.types import Block, BlockHeader
from gridledger.network.etcd import Cluster
from gridledger.network.log import EtcdLog, encode_block
from gridledger.network.runner import NetworkNode, NetworkSettings, WakingOrdering, quorum
from gridledger.node.node import GENESIS_NAME, Node, NodeConfig
from gridledger.node.sync import catch_up
from network_support import attestations_of, consortium, endpoints_of, transfers
from support import CHAIN_ID, key, signed


def _same_chain(nodes: list[Node]) -> int:
    """Every node holds the same blocks up to the lowest tip; returns that tip."""
    top = min(n.tip.height for n in nodes)
    for height in range(top + 1):
        hashes = {n.store.block(height).hash for n in nodes}  # type: ignore[union-attr]
        assert len(hashes) == 1, f"nodes differ at height {height}"
    roots = {n.store.block(top).header for n in nodes}  # type: ignore[union-attr]
    assert len(roots) == 1
    return top


def test_quorum_is_more_than_two_thirds() -> None:
    assert [quorum(n) for n in (1, 2, 3, 4, 5, 6, 7, 10)] == [1, 2, 3, 3, 4, 5, 5, 7]


def test_four_organisations_agree_and_finalise(tmp_path: Path, etcd_cluster: Cluster) -> None:  # noqa: F811
    with consortium(tmp_path, etcd_cluster, prefix="/agree/") as net:
        txs = transfers(5)
        hashes = []
        for tx in txs:
            # each household sends to one node, two of them to every node (each copy of a
            # transaction must execute once): a sender's nonces rise through one queue
            n = int(tx.sender[-2:])
            orgs = () if n % 4 == 0 else (net.orgs[n % 4],)
            hashes.append(net.submit(tx, *orgs))
        net.wait_all_final(hashes)
        nodes = [n.node for n in net.live()]
        top = _same_chain(nodes)
        # each transaction is in exactly one block, on every node
        for node in nodes:
            assert node.store.tx_count() == len(txs)
        # the first household paid 1+2+3+4+5 and received as much from the last one
        assert balance_of(nodes[0].state.view, "house-00") == 1_000_000
        # final blocks carry a quorum of valid attestations of their hash
        for height in range(1, top + 1):
            block_hash = nodes[0].store.block(height).hash.hex()  # type: ignore[union-attr]
            atts = attestations_of(nodes[0], height)
            assert len(atts) >= quorum(4)
            for att in atts:
                assert att.block_hash == block_hash
                assert att.height == height
                assert verify(key(f"node-{att.org}").public_key, att.signing_bytes(),
                              att.signature)  # fmt: skip
        assert all(n.final_height == n.tip.height for n in nodes)


def test_racing_proposers_lose_nothing_and_run_nothing_twice(
    tmp_path: Path,
    etcd_cluster: Cluster,  # noqa: F811
) -> None:
    # no turns: every node offers a block as soon as it has transactions
    def eager(org: str) -> NetworkSettings:
        return NetworkSettings(turn_grace_s=0.0, fill_s=0.0)

    with consortium(tmp_path, etcd_cluster, settings=eager, prefix="/race/") as net:
        txs = transfers(6)
        hashes: list[bytes] = []

        def send(org: str) -> None:
            for tx in txs:
                net.submit(tx, org)

        threads = [threading.Thread(target=send, args=(org,)) for org in net.orgs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        hashes = [tx.hash() for tx in txs]
        net.wait_all_final(hashes)
        nodes = [n.node for n in net.live()]
        _same_chain(nodes)
        assert all(n.store.tx_count() == len(txs) for n in nodes)
        assert all(n.pending == 0 for n in nodes)


def test_a_lost_position_requeues_what_the_winner_did_not_carry(
    tmp_path: Path,
    etcd_cluster: Cluster,  # noqa: F811
) -> None:
    def no_turns(org: str) -> NetworkSettings:
        return NetworkSettings(turn_grace_s=0.0, fill_s=0.0)

    with consortium(tmp_path, etcd_cluster, settings=no_turns, prefix="/lost/") as net:
        net.stop("org-2")
        late = net.open("org-2", start=False)  # opened, but not reading the log
        late.node.start(produce=False)
        shared, own = transfers(1)[:2]
        net.submit(shared, "org-2")
        net.submit(own, "org-2")
        # org-1's block takes position 0
        net.wait_all_final([net.submit(shared, "org-1")], orgs=("org-1", "org-3", "org-4"))
        assert late.position == 0
        assert late.node.tip.height == 0
        # org-2 offers its block for position 0 too, built on genesis: it loses, imports the
        # winner (which carried the shared transaction) and queues only its own again
        assert late._propose()
        assert late.lost_positions == 1
        assert late.node.tip.height == 1
        assert late.node.pending == 1
        late.start()
        net.wait_all_final([shared.hash(), own.hash()])
        nodes = [n.node for n in net.live()]
        _same_chain(nodes)
        assert all(n.store.tx_count() == 2 for n in nodes)


def test_a_restarted_node_catches_up_from_the_log(
    tmp_path: Path,
    etcd_cluster: Cluster,  # noqa: F811
) -> None:
    with consortium(tmp_path, etcd_cluster, prefix="/restart/") as net:
        first = transfers(2)
        net.wait_all_final([net.submit(tx, "org-1") for tx in first])
        net.stop("org-4")
        second = transfers(2, start_nonce=3)
        # three of four organisations are still a quorum: blocks go on being final
        net.wait_all_final([net.submit(tx, "org-2") for tx in second])
        net.open("org-4")
        net.wait_all_final([tx.hash() for tx in first + second])
        _same_chain([n.node for n in net.live()])


def test_a_node_behind_the_pruned_log_catches_up_from_a_peer(
    tmp_path: Path,
    etcd_cluster: Cluster,  # noqa: F811
) -> None:
    peers: list[Callable[[Node], int]] = []

    def from_peer(node: Node) -> int:
        return peers[0](node)  # set once the consortium is up

    def small_window(org: str) -> NetworkSettings:
        s = NetworkSettings(window=4, prune_every=2, defragment_every=2, fill_s=0.0)
        if org == "org-3":
            s.catch_up = from_peer
        return s

    with consortium(tmp_path, etcd_cluster, settings=small_window, prefix="/prune/") as net:
        peers.append(net.peer_catch_up("org-1"))
        net.stop("org-3")
        # one block per round: the log moves well past the window while org-3 is away
        for round_ in range(12):
            net.wait_all_final([net.submit(tx, "org-1") for tx in transfers(1, round_ + 1)[:2]])
        log = net.nodes["org-1"].etcd
        first = poll(log.first_position, timeout_s=10, what="the log pruned")[0]
        assert first > 1
        net.open("org-3")
        last = transfers(1, 20)
        net.wait_all_final([net.submit(tx, "org-2") for tx in last])
        _same_chain([n.node for n in net.live()])


class _Tampered(Node):
    """A node whose contracts write one thing more than everyone else's: its roots differ."""

    def _tamper(self) -> None:
        self.state.set(b"tampered", self.tip.height.to_bytes(8, "big"))

    def import_block(self, block: Block, raws: list[bytes] | None = None):  # type: ignore[no-untyped-def]
        with self._block_lock:
            self._tamper()
        return super().import_block(block, raws)

    def produce_block(self, batch, publish=None):  # type: ignore[no-untyped-def]
        with self._block_lock:
            self._tamper()
        return super().produce_block(batch, publish)


def test_a_tampered_node_is_detected_and_the_honest_quorum_goes_on(
    tmp_path: Path,
    fresh_etcd_cluster: Cluster,  # noqa: F811
) -> None:
    with consortium(tmp_path, fresh_etcd_cluster, prefix="/tamper/") as net:
        net.stop("org-2")
        tampered = net.open("org-2", node_type=_Tampered)
        # the tampered node proposes too (its own households' transactions)
        net.submit(transfers(1)[0], "org-2")
        honest = transfers(3, start_nonce=2)
        hashes = [net.submit(tx, "org-1") for tx in honest]
        poll(lambda: tampered.node.halted, timeout_s=20, what="the tampered node halts")
        assert "fork detected" in str(tampered.node.halted)
        net.nodes.pop("org-2")
        tampered.stop()
        tampered.node.close()
        net.wait_all_final(hashes)
        nodes = [n.node for n in net.live()]
        top = _same_chain(nodes)
        # the honest blocks are final without the tampered organisation
        assert all(n.final_height == n.tip.height == top for n in nodes)
        for height in range(1, top + 1):
            orgs = {a.org for a in attestations_of(nodes[0], height)}
            assert "org-2" not in orgs


def test_an_invalid_block_in_the_log_is_skipped_by_everyone(
    tmp_path: Path,
    etcd_cluster: Cluster,  # noqa: F811
) -> None:
    with consortium(tmp_path, etcd_cluster, prefix="/invalid/") as net:
        a = net.nodes["org-1"]
        net.wait_all_final([net.submit(transfers(1)[0], "org-1")])
        tip = a.node.tip
        # a block signed by a key that is no organisation's, at the next position
        forged = BlockHeader(
            chain_id=tip.chain_id, height=tip.height + 1, prev_hash=tip.hash().hex(),
            time=tip.time + 1, tx_root=tip.tx_root, receipt_root=tip.receipt_root,
            state_root=tip.state_root, proposer="org-1", tx_count=0,
        )  # fmt: skip
        signature = key("intruder").sign(forged.signing_bytes())
        at = a.position  # the node reads on meanwhile
        assert a.etcd.offer(at, encode_block(Block(forged, [], signature), []))
        assert a.etcd.offer(at + 1, b"not a block at all")
        # and one from an organisation that is no member of the consortium
        stranger = msgspec.structs.replace(forged, proposer="intruders")
        assert a.etcd.offer(
            at + 2,
            encode_block(Block(stranger, [], key("intruder").sign(stranger.signing_bytes())), []),
        )
        # and a gap: nothing at at + 3, an entry after it
        assert a.etcd.offer(at + 4, b"after a gap")
        hashes = [net.submit(tx, "org-3") for tx in transfers(1, 2)]
        net.wait_all_final(hashes)
        nodes = [n.node for n in net.live()]
        _same_chain(nodes)
        assert all(
            {code for _, code, _ in n.skipped}
            >= {"block.bad_signature", "block.malformed_tx", "block.bad_proposer", "block.missing"}
            for n in net.live()
        )
        assert all(n.halted is None for n in nodes)


@pytest.mark.parametrize("orgs", [1, 3])
def test_smaller_consortia(tmp_path: Path, etcd_cluster: Cluster, orgs: int) -> None:  # noqa: F811
    with consortium(tmp_path, etcd_cluster, n=orgs, prefix=f"/small{orgs}/") as net:
        hashes = [net.submit(tx, net.orgs[0]) for tx in transfers(2)]
        net.wait_all_final(hashes)
        _same_chain([n.node for n in net.live()])


def _governance(net: object, sender: str, kind: str, body: dict[str, object], nonce: int) -> bytes:
    from network_support import Consortium

    assert isinstance(net, Consortium)
    tx = signed(sender, nonce, kind, body)
    return net.submit(tx, sender.split(".", maxsplit=1)[0])


def test_membership_and_node_keys_change_by_two_thirds_of_the_organisations(
    tmp_path: Path,
    etcd_cluster: Cluster,  # noqa: F811
) -> None:
    with consortium(tmp_path, etcd_cluster, prefix="/govern/") as net:
        nodes = lambda: [n.node for n in net.live()]  # noqa: E731
        # org-4 rotates its node key: org-1 proposes, org-2 approves (2 of 4: not yet)
        new_key = key("node-org-4-rotated")
        rotate = {"type": "rotate_node_key", "org": "org-4", "node_key": new_key.public_key}
        net.wait_all_final([_governance(net, "org-1.operator", "consortium.propose",
                                        {"action": rotate}, 1)])  # fmt: skip
        net.wait_all_final([_governance(net, "org-2.operator", "consortium.approve",
                                        {"proposal": 1}, 1)])  # fmt: skip
        assert (
            consortium_q.node_key_at(nodes()[0].state.view, "org-4", 10_000)
            == key("node-org-4").public_key
        )
        # the third approval executes it: from the next height org-4 signs with the new key
        approved = _governance(net, "org-3.operator", "consortium.approve", {"proposal": 1}, 1)
        net.wait_all_final([approved])
        height = nodes()[0].store.locate_tx(approved)[0]  # type: ignore[index]
        view = nodes()[0].state.view
        assert consortium_q.node_key_at(view, "org-4", height) == key("node-org-4").public_key
        assert consortium_q.node_key_at(view, "org-4", height + 1) == new_key.public_key
        # org-4's node still holds the old key: its attestations no longer count, yet three
        # organisations are a quorum and blocks stay final
        after = [net.submit(tx, "org-2") for tx in transfers(1)]
        net.wait_all_final(after)
        top = nodes()[0].tip.height
        assert "org-4" not in {a.org for a in attestations_of(nodes()[0], top)}
        # restarted with its new key, org-4 attests again
        net.stop("org-4")
        net.keys["org-4"] = new_key
        net.open("org-4")
        again = [net.submit(tx, "org-4") for tx in transfers(1, 2)]
        net.wait_all_final(again)
        top = nodes()[0].tip.height
        poll(lambda: "org-4" in {a.org for a in attestations_of(nodes()[0], top)},
             timeout_s=10, what="org-4 attests with its new key")  # fmt: skip
        _same_chain(nodes())


def test_an_added_organisation_joins_syncs_and_counts_in_the_quorum(
    tmp_path: Path,
    etcd_cluster: Cluster,  # noqa: F811
) -> None:
    with consortium(tmp_path, etcd_cluster, prefix="/join/") as net:
        add = {
            "type": "add_organisation", "org": "org-5", "name": "A fifth organisation",
            "roles": ["operator", "producer"], "node_key": key("node-org-5").public_key,
            "etcd_peer_url": "https://127.0.0.1:2380", "etcd_client_url": "https://127.0.0.1:2379",
            "api_url": "https://127.0.0.1:8705",
        }  # fmt: skip
        net.wait_all_final([_governance(net, "org-1.operator", "consortium.propose",
                                        {"action": add}, 1)])  # fmt: skip
        net.wait_all_final([_governance(net, "org-2.operator", "consortium.approve",
                                        {"proposal": 1}, 1)])  # fmt: skip
        approved = _governance(net, "org-3.operator", "consortium.approve", {"proposal": 1}, 1)
        net.wait_all_final([approved])
        node = net.nodes["org-1"].node
        height = node.store.locate_tx(approved)[0]  # type: ignore[index]
        view = node.state.view
        assert "org-5" not in consortium_q.members(view, height)
        assert "org-5" in consortium_q.members(view, height + 1)
        # its node starts from genesis, imports every block from the log and then attests;
        # with five organisations a block needs four attestations
        net.orgs.append("org-5")
        net.open("org-5")
        later = [net.submit(tx, "org-2") for tx in transfers(1)]
        net.wait_all_final(later)
        nodes = [n.node for n in net.live()]
        top = _same_chain(nodes)
        poll(lambda: "org-5" in {a.org for a in attestations_of(nodes[0], top)},
             timeout_s=10, what="org-5 attests")  # fmt: skip
        assert all(n.final_height == top for n in nodes)
        assert quorum(len(consortium_q.members(view, top))) == 4


def test_an_observer_syncs_from_a_peer_checking_every_block_and_attestation(
    tmp_path: Path,
    etcd_cluster: Cluster,  # noqa: F811
) -> None:
    with consortium(tmp_path / "net", etcd_cluster, prefix="/observe/") as net:
        for round_ in range(3):  # a block each
            net.wait_all_final([net.submit(tx, "org-1") for tx in transfers(1, round_ + 1)])
        peer = net.nodes["org-1"].node
        home = tmp_path / "observer"
        home.mkdir()
        (home / GENESIS_NAME).write_bytes(net.genesis.encode())
        observer = Node(NodeConfig(home=home, org="auditor", node_key=key("auditor"),
                                   verify_workers=0))  # fmt: skip
        forged_at = 1

        def fetch(height: int) -> dict[str, Any]:
            view = block_view(peer.store.block(height), peer)  # type: ignore[arg-type]
            if height == forged_at:  # a peer cannot vouch for others: forged ones are dropped
                view["attestations"] = [
                    {**a, "signature": key("intruder").sign(b"x")} for a in view["attestations"]
                ]
            return view

        try:
            done = catch_up(observer, fetch, peer.tip.height)
            assert done.height == peer.tip.height
            assert peer.tip.height >= 3
            # the forged block's own attestations are dropped; the later blocks' quorum makes
            # the whole chain final (each attests its parent through prev_hash)
            assert observer.final_height == peer.final_height == peer.tip.height
            assert attestations_of(observer, forged_at) == []
            for height in range(forged_at + 1, peer.tip.height + 1):
                assert len(attestations_of(observer, height)) >= quorum(4)
        finally:
            observer.close()


def test_a_node_that_cannot_catch_up_proposes_nothing_until_it_has(
    tmp_path: Path,
    etcd_cluster: Cluster,  # noqa: F811
) -> None:
    peers: list[Callable[[Node], int]] = []

    def from_peer(node: Node) -> int:
        return peers[0](node) if peers else node.tip.height  # no peer answers, at first

    def small_window(org: str) -> NetworkSettings:
        s = NetworkSettings(window=4, prune_every=2, fill_s=0.0)
        if org == "org-3":
            s.catch_up = from_peer
        return s

    with consortium(tmp_path, etcd_cluster, settings=small_window, prefix="/behind/") as net:
        net.stop("org-3")
        for round_ in range(12):
            net.wait_all_final([net.submit(tx, "org-1") for tx in transfers(1, round_ + 1)[:2]])
        poll(lambda: net.nodes["org-1"].etcd.first_position() > 1, timeout_s=10,
             what="the log pruned")  # fmt: skip
        behind = net.open("org-3")
        mine = transfers(1, 30)[2]  # house-02, sent to org-3 alone
        net.submit(mine, "org-3")
        # org-3 sees blocks built on heights it lacks and cannot fetch: it offers nothing
        poll(lambda: behind.behind_height > 0, timeout_s=10, what="org-3 knows it is behind")
        net.wait_all_final([net.submit(tx, "org-2") for tx in transfers(1, 31)[:2]],
                           orgs=("org-1", "org-2", "org-4"))  # fmt: skip
        assert behind.node.tip.height == 0
        assert behind.node.halted is None
        # a peer answers again: it catches up, then its transaction goes through
        peers.append(net.peer_catch_up("org-1"))
        net.wait_all_final([mine.hash()])
        _same_chain([n.node for n in net.live()])
        assert all(n.node.halted is None for n in net.live())


def test_an_observer_follows_checks_and_knows_what_is_final_without_taking_part(
    tmp_path: Path,
    etcd_cluster: Cluster,  # noqa: F811
) -> None:
    with consortium(tmp_path, etcd_cluster, n=3, prefix="/auditor/") as net:
        home = tmp_path / "auditor"
        home.mkdir()
        (home / GENESIS_NAME).write_bytes(net.genesis.encode())
        etcd = EtcdLog(endpoints_of(etcd_cluster, 2), CHAIN_ID, prefix="/auditor/")
        node = Node(
            NodeConfig(home=home, org="auditor", node_key=key("auditor"), verify_workers=0),
            ordering=WakingOrdering(etcd.poke),
        )
        auditor = NetworkNode(node, etcd, NetworkSettings(observer=True))
        auditor.start()
        try:
            hashes = [net.submit(tx, "org-1") for tx in transfers(2)]
            net.wait_all_final(hashes)
            top = net.nodes["org-1"].node.tip.height
            poll(lambda: auditor.finality.final_height >= top, timeout_s=10,
                 what="the auditor sees the blocks final")  # fmt: skip
            _same_chain([node, *(n.node for n in net.live())])
            # it neither proposed nor attested
            assert all(node.store.block(h).header.find(b'"proposer":"auditor"') < 0  # type: ignore[union-attr]
                       for h in range(1, top + 1))  # fmt: skip
            assert "auditor" not in {a.org for a in attestations_of(net.nodes["org-1"].node, top)}
            assert node.block_final(top)
        finally:
            auditor.stop()
            node.close()
