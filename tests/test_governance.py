"""Consortium governance: proposals, approvals by more than two thirds of the organisations,
and their effects from the next height (membership, node keys, rule upgrades).

Blocks are built and signed as a node builds them (:func:`support.propose`), each proposer
signing with the key :func:`consortium.node_key_at` names for its height, so every test also
checks that the key history agrees with block import. Every refusal is checked for its code
and for leaving everything but the sender's nonce as it was.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from gridledger.contracts import chain, consortium, registry
from gridledger.contracts.base import ROLES
from gridledger.contracts.genesis import (
    Genesis,
    GenesisAccount,
    GenesisNetwork,
    GenesisOrganisation,
)
from gridledger.contracts.rules import Rules
from gridledger.core.crypto import SigningKey, verify
from gridledger.core.errors import InvalidBlock, InvalidTransaction
from gridledger.core.types import BlockHeader, Receipt, Transaction
from gridledger.node.executor import prepare
from gridledger.node.transition import genesis_header, validate_header
from gridledger.state.state import State
from support import (
    CHAIN_ID,
    GENESIS_TIME_MS,
    committed_genesis_state,
    domain_state,
    key,
    propose,
    signed,
)

DAY_S = 86_400
OBSERVER = "observer"
HOUSE = "house-00"


def org(i: int) -> str:
    return f"org-{i}"


def op(i: int) -> str:
    """The operator account of ``org(i)``."""
    return f"op-{i}"


def node_key(name: str) -> SigningKey:
    return key(f"node-{name}")


def consortium_genesis(n: int, rules: dict[str, Any] | None = None) -> Genesis:
    """``n`` organisations running nodes (org-0 ...), each with an operator account (op-0 ...);
    an organisation with an operator but no node (observer) and a household."""
    orgs = [
        GenesisOrganisation(
            id=org(i), name=f"Utility {i}", roles=list(ROLES), node_key=node_key(org(i)).public_key
        )
        for i in range(n)
    ]
    orgs += [
        GenesisOrganisation(id=OBSERVER, name="Regulator", roles=["operator", "regulator"]),
        GenesisOrganisation(id="households", name="Households", roles=["consumer"]),
    ]
    accounts = [
        GenesisAccount(id=op(i), org=org(i), public_key=key(op(i)).public_key, roles=["operator"])
        for i in range(n)
    ]
    accounts += [
        GenesisAccount(
            id="op-observer",
            org=OBSERVER,
            public_key=key("op-observer").public_key,
            roles=["operator"],
        ),
        GenesisAccount(
            id=HOUSE, org="households", public_key=key(HOUSE).public_key, roles=["consumer"]
        ),
    ]
    return Genesis(
        chain_id=CHAIN_ID,
        genesis_time=GENESIS_TIME_MS,
        organisations=orgs,
        accounts=accounts,
        rules=Rules(**(rules or {})),
    )


class Net:
    """A chain of ``n`` organisations, one block at a time, each proposed and signed by an
    organisation allowed to propose it with the key the key history names."""

    def __init__(self, n: int, rules: dict[str, Any] | None = None) -> None:
        genesis = consortium_genesis(n, rules)
        self.state: State = committed_genesis_state(genesis)
        self.parent: BlockHeader = genesis_header(genesis, self.state.root)
        self.headers: list[tuple[BlockHeader, str]] = []
        self.nonces: dict[str, int] = {}
        self.signers = {node_key(org(i)).public_key: node_key(org(i)) for i in range(n)}
        self.time_ms = GENESIS_TIME_MS

    @property
    def height(self) -> int:
        """The height of the next block."""
        return self.parent.height + 1

    @property
    def time_s(self) -> int:
        return self.time_ms // 1000

    def tx(self, sender: str, kind: str, body: dict[str, Any]) -> Transaction:
        self.nonces[sender] = self.nonces.get(sender, 0) + 1
        return signed(sender, self.nonces[sender], kind, body)

    def learn(self, signer: SigningKey) -> None:
        self.signers[signer.public_key] = signer

    def block(
        self,
        *txs: Transaction,
        proposer: str | None = None,
        after_s: int = 1,
        signer: SigningKey | None = None,
    ) -> list[Receipt]:
        """Commit ``txs`` as the next block, ``after_s`` seconds after the last one."""
        height = self.height
        proposer = proposer or chain.rules_at(self.state, height).proposers[0]
        if signer is None:
            public = consortium.node_key_at(self.state, proposer, height)
            assert public is not None
            signer = self.signers[public]
        time_ms = self.time_ms + 1000 * after_s
        proposal = propose(self.state, self.parent, list(txs), time_ms, proposer, signer)
        assert proposal.dropped == []
        self.state.finish_block()
        self.parent = proposal.block.header
        self.headers.append((proposal.block.header, proposal.block.signature))
        self.time_ms = time_ms
        return proposal.result.receipts

    def run(self, sender: str, kind: str, body: dict[str, Any], **block: Any) -> Receipt:
        (receipt,) = self.block(self.tx(sender, kind, body), **block)
        return receipt

    def propose(self, sender: str, action: dict[str, Any], **extra: Any) -> Receipt:
        return self.run(sender, "consortium.propose", {"action": action, **extra})

    def approve(self, sender: str, proposal: int, **block: Any) -> Receipt:
        return self.run(sender, "consortium.approve", {"proposal": proposal}, **block)

    def refused(self, sender: str, kind: str, body: dict[str, Any], code: str) -> Receipt:
        """Run one transaction that must fail with ``code``, changing nothing but its nonce."""
        before = domain_state(self.state)
        receipt = self.run(sender, kind, body)
        assert (receipt.status, receipt.code) == ("failed", code), receipt.message
        assert receipt.message
        assert receipt.events == []
        assert domain_state(self.state) == before
        return receipt

    def proposal(self, proposal_id: int) -> consortium.Proposal:
        found = consortium.get_proposal(self.state, proposal_id)
        assert found is not None
        return found

    def proposers(self, height: int | None = None) -> list[str]:
        return chain.rules_at(self.state, self.height if height is None else height).proposers


def upgrade(height: int, **changes: Any) -> dict[str, Any]:
    return {
        "type": "schedule_upgrade",
        "height": height,
        "changes": changes or {"block_max_txs": 7},
    }


def add_org(org_id: str, /, **extra: Any) -> dict[str, Any]:
    return {
        "type": "add_organisation",
        "org": org_id,
        "name": f"New {org_id}",
        "roles": ["operator", "producer"],
        "node_key": node_key(org_id).public_key,
        "etcd_peer_url": f"https://{org_id}.example:2380",
        "etcd_client_url": f"https://{org_id}.example:2379",
        "api_url": f"https://{org_id}.example:8080",
        **extra,
    }


def executed(receipt: Receipt) -> bool:
    return any(e["type"] == "consortium.executed" for e in receipt.events)


# thresholds --------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", range(1, 11))
def test_approvals_needed_is_the_least_count_above_two_thirds(n: int) -> None:
    needed = consortium.approvals_needed(n)
    assert needed * 3 > n * 2
    assert (needed - 1) * 3 <= n * 2


@pytest.mark.parametrize(("n", "needed"), [(1, 1), (3, 3), (4, 3), (7, 5)])
def test_an_action_executes_with_the_approval_that_passes_two_thirds(n: int, needed: int) -> None:
    """The proposer's vote counts first; each later approval is recorded until the one that
    reaches the threshold, which schedules the upgrade in its own block."""
    net = Net(n)
    at = 1000
    receipt = net.propose(op(0), upgrade(at))
    assert receipt.ok, receipt.message
    assert receipt.events[0] == {
        "type": "consortium.proposed",
        "proposal": 1,
        "action": "schedule_upgrade",
        "org": org(0),
        "threshold": needed,
        "expires_at_s": net.time_s + 7 * DAY_S,
    }
    for voter in range(1, needed):
        assert not executed(receipt)
        assert chain.upgrades(net.state) == []
        assert net.proposal(1).status == "open"
        receipt = net.approve(op(voter), 1)
        assert receipt.ok, receipt.message
    assert executed(receipt)
    assert [u.height for u in chain.upgrades(net.state)] == [at]
    proposal = net.proposal(1)
    assert proposal.status == "executed"
    assert proposal.closed_height == net.height - 1
    assert proposal.threshold == needed
    assert [a.org for a in proposal.approvals] == [org(i) for i in range(needed)]
    assert proposal.electorate == [org(i) for i in range(n)]
    # an executed proposal takes nothing more
    if needed < n:
        net.refused(op(needed), "consortium.approve", {"proposal": 1}, "governance.proposal_closed")
    net.refused(op(0), "consortium.withdraw", {"proposal": 1}, "governance.proposal_closed")


def test_proposal_record_is_canonical_json() -> None:
    net = Net(4)
    net.propose(op(2), upgrade(500, max_future_ms=20_000))
    raw = net.state.get(consortium.keys.proposal(1))
    t = GENESIS_TIME_MS // 1000 + 1
    assert raw == (
        b'{"action":{"changes":{"max_future_ms":20000},"height":500,"type":"schedule_upgrade"},'
        b'"approvals":[{"account":"op-2","height":1,"org":"org-2"}],"closed_height":null,'
        b'"electorate":["org-0","org-1","org-2","org-3"],"expires_at_s":%d,"id":1,'
        b'"org":"org-2","proposed_at_s":%d,"proposed_by":"op-2","proposed_height":1,'
        b'"status":"open","threshold":3}' % (t + 7 * DAY_S, t)
    )
    assert net.state.get(b"consortium/seq") == b"1"
    assert consortium.list_proposals(net.state) == [net.proposal(1)]
    assert consortium.list_proposals(net.state, after=1) == []


# one vote each, expiry, withdrawal -------------------------------------------------------------
def test_an_organisation_approves_once() -> None:
    net = Net(4)
    net.propose(op(0), upgrade(900))
    net.refused(op(0), "consortium.approve", {"proposal": 1}, "governance.already_approved")
    assert net.approve(op(1), 1).ok
    net.refused(op(1), "consortium.approve", {"proposal": 1}, "governance.already_approved")
    assert len(net.proposal(1).approvals) == 2
    assert net.proposal(1).status == "open"


def test_a_proposal_expires_seven_days_after_it_was_made() -> None:
    """Block time at expires_at_s still counts; one second later nothing does."""
    net = Net(4)
    net.propose(op(0), upgrade(900))
    expires = net.proposal(1).expires_at_s
    assert expires == net.time_s + consortium.DEFAULT_LIFETIME_S
    assert net.approve(op(1), 1, after_s=expires - net.time_s).ok
    assert net.time_s == expires
    assert consortium.list_proposals(net.state, open_at_s=expires) == [net.proposal(1)]
    net.refused(op(2), "consortium.approve", {"proposal": 1}, "governance.proposal_expired")
    assert net.time_s == expires + 1
    assert net.proposal(1).state_at(net.time_s) == "expired"
    net.refused(op(0), "consortium.withdraw", {"proposal": 1}, "governance.proposal_expired")
    assert chain.upgrades(net.state) == []
    assert consortium.list_proposals(net.state, open_at_s=net.time_s) == []


def test_expiry_can_be_chosen_within_ninety_days() -> None:
    net = Net(3)
    for offset in (0, -5, consortium.MAX_LIFETIME_S + 1):
        now = net.time_s + 1  # the next block's time
        net.refused(
            op(0),
            "consortium.propose",
            {"action": upgrade(900), "expires_at_s": now + offset},
            "governance.invalid_expiry",
        )
    now = net.time_s + 1
    latest = now + consortium.MAX_LIFETIME_S
    assert net.propose(op(0), upgrade(900), expires_at_s=latest).ok
    assert net.propose(op(0), upgrade(950), expires_at_s=now + 1 + 60).ok
    assert net.proposal(1).expires_at_s == latest
    net.block(after_s=61)
    net.refused(op(1), "consortium.approve", {"proposal": 2}, "governance.proposal_expired")
    assert net.approve(op(1), 1).ok


def test_withdrawal_by_the_proposing_organisation_only() -> None:
    net = Net(4)
    net.propose(op(1), upgrade(900))
    net.refused(op(2), "consortium.withdraw", {"proposal": 1}, "governance.not_proposing_org")
    receipt = net.run(op(1), "consortium.withdraw", {"proposal": 1})
    assert receipt.ok
    assert receipt.events == [{"type": "consortium.withdrawn", "proposal": 1, "org": org(1)}]
    assert net.proposal(1).status == "withdrawn"
    net.refused(op(0), "consortium.approve", {"proposal": 1}, "governance.proposal_closed")
    net.refused(op(1), "consortium.withdraw", {"proposal": 1}, "governance.proposal_closed")
    net.refused(op(1), "consortium.approve", {"proposal": 7}, "governance.unknown_proposal")


# who takes part ---------------------------------------------------------------------------------
def test_only_operators_of_proposing_organisations_take_part() -> None:
    net = Net(4)
    net.refused(HOUSE, "consortium.propose", {"action": upgrade(900)}, "auth.forbidden")
    net.refused(
        "op-observer", "consortium.propose", {"action": upgrade(900)}, "governance.not_a_proposer"
    )
    net.propose(op(0), upgrade(900))
    net.refused(HOUSE, "consortium.approve", {"proposal": 1}, "auth.forbidden")
    net.refused("op-observer", "consortium.approve", {"proposal": 1}, "governance.not_a_proposer")
    net.refused(HOUSE, "consortium.withdraw", {"proposal": 1}, "auth.forbidden")


def test_an_organisation_added_later_does_not_vote_on_older_proposals() -> None:
    net = Net(3)
    net.propose(op(0), upgrade(900))
    net.propose(op(0), add_org("utility-x"))
    net.approve(op(1), 2)
    assert executed(net.approve(op(2), 2))
    net.run(
        op(0),
        "registry.add_account",
        {
            "account": "op-x",
            "org": "utility-x",
            "public_key": key("op-x").public_key,
            "roles": ["operator"],
        },
    )
    net.refused("op-x", "consortium.approve", {"proposal": 1}, "governance.not_in_electorate")
    assert net.propose("op-x", upgrade(990)).ok
    assert net.proposal(3).electorate == [org(0), org(1), org(2), "utility-x"]
    assert net.proposal(3).threshold == 3
    assert net.proposal(3).org == "utility-x"


# membership -------------------------------------------------------------------------------------
def test_an_added_organisation_proposes_from_exactly_the_next_height() -> None:
    net = Net(3)
    net.propose(op(0), add_org("utility-x"))
    net.approve(op(1), 1)
    receipt = net.approve(op(2), 1)
    h = net.height - 1  # the block that executed it
    assert [e["type"] for e in receipt.events] == [
        "consortium.approved",
        "consortium.executed",
        "chain.proposers_changed",
        "consortium.organisation_added",
    ]
    assert receipt.events[-1] == {
        "type": "consortium.organisation_added",
        "org": "utility-x",
        "from_height": h + 1,
    }
    assert net.proposers(h) == [org(0), org(1), org(2)]
    assert net.proposers(h + 1) == [org(0), org(1), org(2), "utility-x"]
    record = registry.get_organisation(net.state, "utility-x")
    assert record is not None
    assert record.node_key == node_key("utility-x").public_key
    assert record.roles == ["operator", "producer"]
    assert net.state.get(b"registry/org/utility-x") == (
        b'{"id":"utility-x","name":"New utility-x","node_key":"'
        + node_key("utility-x").public_key.encode()
        + b'","roles":["operator","producer"]}'
    )
    assert consortium.org_network(net.state, "utility-x") == consortium.OrgNetwork(
        org="utility-x",
        etcd_peer_url="https://utility-x.example:2380",
        etcd_client_url="https://utility-x.example:2379",
        api_url="https://utility-x.example:8080",
        set_height=h,
    )
    assert consortium.node_key_at(net.state, "utility-x", h) is None
    assert consortium.node_key_at(net.state, "utility-x", h + 1) == record.node_key
    # the new organisation signs block h + 1
    net.learn(node_key("utility-x"))
    net.block(proposer="utility-x")
    assert net.parent.proposer == "utility-x"
    assert net.parent.height == h + 1


def test_an_organisation_cannot_propose_in_the_block_that_adds_it() -> None:
    """The block that executes the addition is still checked against the old proposers."""
    net = Net(1)
    tx = net.tx(op(0), "consortium.propose", {"action": add_org("utility-x")})
    with pytest.raises(InvalidBlock) as err:
        propose(net.state, net.parent, [tx], net.time_ms + 1000, "utility-x", node_key("utility-x"))
    assert err.value.code == "block.bad_proposer"
    assert net.state.block_changes() == {}


def test_adding_an_organisation_refusals() -> None:
    net = Net(4)
    net.refused(
        op(0), "consortium.propose", {"action": add_org(org(3))}, "registry.organisation_exists"
    )
    net.refused(
        op(0),
        "consortium.propose",
        {"action": add_org("utility-y", node_key=node_key(org(2)).public_key)},
        "governance.key_in_use",
    )
    # two proposals to add the same organisation: the second fails when it would execute
    net.propose(op(0), add_org("utility-x"))
    net.propose(op(1), add_org("utility-x", node_key=node_key("other").public_key))
    net.approve(op(1), 1)
    assert executed(net.approve(op(2), 1))
    net.approve(op(0), 2)
    before = net.proposal(2)
    receipt = net.approve(op(2), 2)
    assert receipt.code == "registry.organisation_exists"
    assert net.proposal(2) == before


@pytest.mark.parametrize(
    ("action", "code"),
    [
        (add_org("utility-x", etcd_peer_url="10.0.0.1:2380"), "governance.invalid_action"),
        (add_org("utility-x", api_url="ftp://x.example"), "governance.invalid_action"),
        (
            add_org("utility-x", etcd_client_url="https://x.example:99999"),
            "governance.invalid_action",
        ),
        (add_org("utility-x", api_url="https://user@x.example"), "governance.invalid_action"),
        (add_org("utility-x", roles=["producer"]), "governance.invalid_action"),
        (add_org("utility-x", roles=["king", "operator"]), "registry.invalid_role"),
        (add_org("Utility X"), "registry.invalid_id"),
        (add_org("utility-x", name=""), "governance.invalid_action"),
        (add_org("utility-x", node_key="ed25519:00"), "registry.invalid_key"),
        ({**add_org("utility-x"), "extra": 1}, "tx.invalid_body"),
        ({"type": "dissolve"}, "tx.invalid_body"),
        ({"type": "rotate_node_key", "org": "org-1", "node_key": "x"}, "registry.invalid_key"),
        (upgrade(900, proposers=["org-0"]), "governance.proposers_by_membership"),
        ({"type": "schedule_upgrade", "height": 900, "changes": {}}, "chain.invalid_rules"),
        (upgrade(900, block_max_txs=0), "tx.invalid_body"),
        (upgrade(900, block_max_txs=1.5), "tx.non_integer_number"),
    ],
)
def test_malformed_actions_are_refused_before_a_block(action: dict[str, Any], code: str) -> None:
    tx = Transaction(
        chain_id=CHAIN_ID, kind="consortium.propose", sender=op(0), nonce=1, body={"action": action}
    )
    with pytest.raises(InvalidTransaction) as err:
        prepare(tx)
    assert err.value.code == code


def test_accepted_urls() -> None:
    from gridledger.contracts.consortium.records import check_url

    for url in (
        "http://10.0.0.1:2380",
        "https://[fd00::1]:2379",
        "https://node.example/api/v1",
        "https://node-b.example.org",
    ):
        check_url(url, "url")


def test_removal_takes_effect_at_the_next_height_and_keeps_the_record() -> None:
    net = Net(4)
    net.propose(op(0), {"type": "remove_organisation", "org": org(3)})
    net.approve(op(1), 1)
    receipt = net.approve(op(3), 1)  # an organisation may vote for its own removal
    h = net.height - 1
    assert receipt.events[-1] == {
        "type": "consortium.organisation_removed",
        "org": org(3),
        "from_height": h + 1,
    }
    assert net.proposers(h) == [org(0), org(1), org(2), org(3)]
    assert net.proposers(h + 1) == [org(0), org(1), org(2)]
    record = registry.get_organisation(net.state, org(3))
    assert record is not None
    assert record.removed_height == h + 1
    assert record.node_key == node_key(org(3)).public_key  # kept to check its old blocks
    assert b'"removed_height":%d' % (h + 1) in (net.state.get(b"registry/org/org-3") or b"")
    # it may no longer propose a block, nor vote
    tx = net.tx(op(0), "funds.mint", {"to": op(0), "amount": 1})
    with pytest.raises(InvalidBlock) as err:
        propose(net.state, net.parent, [tx], net.time_ms + 1000, org(3), node_key(org(3)))
    assert err.value.code == "block.bad_proposer"
    net.nonces[op(0)] -= 1
    net.propose(op(0), upgrade(900))
    assert net.proposal(2).electorate == [org(0), org(1), org(2)]
    assert net.proposal(2).threshold == 3
    net.refused(op(3), "consortium.approve", {"proposal": 2}, "governance.not_a_proposer")
    net.refused(
        op(0),
        "consortium.propose",
        {"action": {"type": "remove_organisation", "org": org(3)}},
        "governance.not_a_member",
    )


def test_the_last_proposer_cannot_be_removed() -> None:
    net = Net(1)
    remove_self = {"action": {"type": "remove_organisation", "org": org(0)}}
    net.refused(op(0), "consortium.propose", remove_self, "governance.last_proposer")
    # two organisations proposing to remove each other: the second removal would leave none
    net = Net(2)
    for i in (0, 1):
        net.propose(op(i), {"type": "remove_organisation", "org": org(1 - i)})
    assert executed(net.approve(op(1), 1))  # org-1 leaves from the next height
    assert net.proposers() == [org(0)]
    net.refused(op(0), "consortium.approve", {"proposal": 2}, "governance.last_proposer")
    assert net.proposers() == [org(0)]


def test_removal_in_the_same_block_as_the_last_one_is_refused() -> None:
    net = Net(2)
    net.propose(op(0), {"type": "remove_organisation", "org": org(1)})
    net.propose(op(1), {"type": "remove_organisation", "org": org(0)})
    receipts = net.block(
        net.tx(op(1), "consortium.approve", {"proposal": 1}),
        net.tx(op(0), "consortium.approve", {"proposal": 2}),
    )
    assert [r.code for r in receipts] == [None, "governance.last_proposer"]
    assert net.proposers() == [org(0)]


# node keys --------------------------------------------------------------------------------------
def test_a_rotated_key_signs_from_the_next_height_and_history_checks_old_blocks() -> None:
    net = Net(4)
    old, new = node_key(org(1)), key("node-org-1-2026")
    net.learn(new)
    net.block(proposer=org(1))  # height 1, signed with the old key
    net.propose(op(0), {"type": "rotate_node_key", "org": org(1), "node_key": new.public_key})
    net.approve(op(2), 1)
    receipt = net.approve(op(3), 1, proposer=org(1))
    h = net.height - 1  # org-1 signed the block that rotated its key with the old one
    assert receipt.events[-1] == {
        "type": "consortium.node_key_rotated",
        "org": org(1),
        "node_key": new.public_key,
        "from_height": h + 1,
    }
    assert consortium.node_key_at(net.state, org(1), 0) == old.public_key
    assert consortium.node_key_at(net.state, org(1), h) == old.public_key
    assert consortium.node_key_at(net.state, org(1), h + 1) == new.public_key
    assert consortium.node_key_at(net.state, org(1), 10**9) == new.public_key
    assert consortium.node_key_at(net.state, "nobody", 1) is None
    history = consortium.key_history(net.state, org(1))
    assert history == consortium.NodeKeyHistory(
        org=org(1),
        keys=[
            consortium.KeyPeriod(node_key=old.public_key, from_height=0),
            consortium.KeyPeriod(node_key=new.public_key, from_height=h + 1),
        ],
    )
    assert net.state.get(b"consortium/node_keys/org-1") == (
        b'{"keys":[{"from_height":0,"node_key":"%s"},{"from_height":%d,"node_key":"%s"}],'
        b'"org":"org-1"}' % (old.public_key.encode(), h + 1, new.public_key.encode())
    )
    assert [hist.org for hist in consortium.node_keys(net.state)] == [org(i) for i in range(4)]
    # block h + 1 with the old key is refused; with the new one it imports
    tx = net.tx(op(0), "funds.mint", {"to": op(0), "amount": 1})
    with pytest.raises(InvalidBlock) as err:
        propose(net.state, net.parent, [tx], net.time_ms + 1000, org(1), old)
    assert err.value.code == "block.bad_signature"
    net.block(tx, proposer=org(1))
    assert net.parent.height == h + 1
    # an offline verifier with only the latest state checks every signature of the chain
    view = net.state
    for header, signature in net.headers:
        public = consortium.node_key_at(view, header.proposer, header.height)
        assert public is not None
        assert verify(public, header.signing_bytes(), signature), header.height


def test_node_key_at_agrees_with_block_import() -> None:
    """validate_header given the key history's key accepts exactly what it accepts today."""
    net = Net(2)
    new = key("node-org-0-b")
    net.learn(new)
    net.propose(op(0), {"type": "rotate_node_key", "org": org(0), "node_key": new.public_key})
    net.approve(op(1), 1)
    rules = chain.rules_at(net.state, net.height)
    parent = net.parent
    header = BlockHeader(
        chain_id=CHAIN_ID,
        height=net.height,
        prev_hash=parent.hash().hex(),
        time=parent.time,
        tx_root="00" * 32,
        receipt_root="00" * 32,
        state_root="00" * 32,
        proposer=org(0),
        tx_count=0,
    )
    public = consortium.node_key_at(net.state, org(0), header.height)
    org_record = registry.get_organisation(net.state, org(0))
    assert org_record is not None
    assert public == org_record.node_key == new.public_key
    validate_header(rules, parent, header, new.sign(header.signing_bytes()), net.state, None)


def test_rotation_refusals() -> None:
    net = Net(3)
    used = node_key(org(2)).public_key
    net.refused(
        op(0),
        "consortium.propose",
        {"action": {"type": "rotate_node_key", "org": org(1), "node_key": used}},
        "governance.key_in_use",
    )
    net.refused(
        op(0),
        "consortium.propose",
        {"action": {"type": "rotate_node_key", "org": OBSERVER, "node_key": key("x").public_key}},
        "governance.not_a_member",
    )
    # a key an organisation had before is never used again
    fresh = key("node-org-1-new").public_key
    net.propose(op(0), {"type": "rotate_node_key", "org": org(1), "node_key": fresh})
    net.approve(op(1), 1)
    net.learn(key("node-org-1-new"))
    assert executed(net.approve(op(2), 1))
    net.refused(
        op(0),
        "consortium.propose",
        {
            "action": {
                "type": "rotate_node_key",
                "org": org(0),
                "node_key": node_key(org(1)).public_key,
            }
        },
        "governance.key_in_use",
    )


# upgrades ---------------------------------------------------------------------------------------
def test_direct_upgrades_are_refused_in_a_chain_of_several_proposers() -> None:
    net = Net(3)
    body = {"height": 900, "changes": {"block_max_txs": 9}}
    net.refused(op(0), "chain.schedule_upgrade", body, "governance.proposal_required")
    net.propose(op(0), upgrade(900))
    net.approve(op(1), 1)
    net.approve(op(2), 1)
    net.refused(op(0), "chain.cancel_upgrade", {"height": 900}, "governance.proposal_required")
    # cancelling takes a proposal too
    net.propose(op(1), {"type": "cancel_upgrade", "height": 900})
    net.approve(op(0), 2)
    receipt = net.approve(op(2), 2)
    assert receipt.events[-1] == {"type": "chain.upgrade_cancelled", "height": 900}
    assert chain.upgrades(net.state) == []


def test_a_single_organisation_keeps_the_direct_kinds() -> None:
    net = Net(1)
    assert net.run(
        op(0), "chain.schedule_upgrade", {"height": 900, "changes": {"block_max_txs": 9}}
    ).ok
    assert net.run(op(0), "chain.cancel_upgrade", {"height": 900}).ok
    # once an addition has executed, the next height has two proposers: no more direct changes
    receipts = net.block(
        net.tx(op(0), "consortium.propose", {"action": add_org("utility-x")}),
        net.tx(op(0), "chain.schedule_upgrade", {"height": 900, "changes": {"block_max_txs": 9}}),
    )
    assert [r.code for r in receipts] == [None, "governance.proposal_required"]


def test_a_chain_without_governance_kinds_keeps_the_direct_kinds() -> None:
    """A multi-organisation chain created before governance (its kinds lack the consortium's)
    upgrades directly, for instance to allow them."""
    from gridledger.contracts.base import KINDS

    old_kinds = sorted(k for k in KINDS if not k.startswith("consortium."))
    net = Net(3, {"kinds": old_kinds})
    receipt = net.run(
        op(0), "chain.schedule_upgrade", {"height": 3, "changes": {"kinds": sorted(KINDS)}}
    )
    assert receipt.ok, receipt.message
    net.block()
    assert net.height == 3
    net.refused(
        op(0),
        "chain.schedule_upgrade",
        {"height": 900, "changes": {"block_max_txs": 9}},
        "governance.proposal_required",
    )


def test_a_governed_chain_keeps_its_governance_kinds() -> None:
    from gridledger.contracts.base import KINDS

    net = Net(3)
    kinds = sorted(k for k in KINDS if k != "consortium.approve")
    net.propose(op(0), upgrade(900, kinds=kinds))
    net.approve(op(1), 1)
    receipt = net.approve(op(2), 1)
    assert receipt.code == "chain.invalid_rules"
    assert "consortium.approve" in (receipt.message or "")


def test_upgrade_actions_are_checked_when_proposed() -> None:
    net = Net(3)
    net.refused(op(0), "consortium.propose", {"action": upgrade(1)}, "chain.upgrade_not_in_future")
    net.refused(
        op(0),
        "consortium.propose",
        {"action": {"type": "cancel_upgrade", "height": 77}},
        "chain.unknown_upgrade",
    )
    # an upgrade whose height passes before the last approval fails then, and stays open
    net.propose(op(0), upgrade(net.height + 2))
    net.block()
    net.approve(op(1), 1)
    receipt = net.approve(op(2), 1)
    assert receipt.code == "chain.upgrade_not_in_future"
    assert net.proposal(1).status == "open"


def test_membership_changes_merge_into_upgrades_at_and_after_the_next_height() -> None:
    """An upgrade already at the next height keeps its other changes; a later upgrade that
    sets proposers gets the same membership change."""
    net = Net(1)
    receipts = net.block(
        net.tx(op(0), "chain.schedule_upgrade", {"height": 3, "changes": {"block_max_txs": 50}}),
        net.tx(
            op(0),
            "chain.schedule_upgrade",
            {"height": 900, "changes": {"proposers": [org(0)], "max_future_ms": 9000}},
        ),
    )
    assert all(r.ok for r in receipts)
    receipts = net.block(
        net.tx(op(0), "consortium.propose", {"action": add_org("utility-x")}),
        net.tx(op(0), "consortium.propose", {"action": add_org("utility-y")}),
    )
    assert all(r.ok for r in receipts)
    by_height = {u.height: u for u in chain.upgrades(net.state)}
    everyone = [org(0), "utility-x", "utility-y"]
    assert by_height[3].changes.block_max_txs == 50
    assert by_height[3].changes.proposers == everyone
    assert by_height[3].scheduled_by == op(0)
    assert by_height[900].changes.proposers == everyone
    assert by_height[900].changes.max_future_ms == 9000
    assert net.proposers(2) == [org(0)]
    assert net.proposers(3) == everyone
    assert net.proposers(900) == everyone
    assert chain.rules_at(net.state, 3).block_max_txs == 50
    # an upgrade that sets proposers is not cancelled: membership proposals change them
    net.refused(
        op(0),
        "consortium.propose",
        {"action": {"type": "cancel_upgrade", "height": 900}},
        "governance.proposers_by_membership",
    )


def test_an_action_that_can_no_longer_execute_records_nothing() -> None:
    """A key rotation for an organisation removed meanwhile fails with the last approval;
    the approval is not recorded and the proposal stays open."""
    net = Net(4)
    fresh = key("node-org-3-new").public_key
    net.propose(op(0), {"type": "rotate_node_key", "org": org(3), "node_key": fresh})
    net.approve(op(1), 1)
    net.propose(op(0), {"type": "remove_organisation", "org": org(3)})
    net.approve(op(1), 2)
    assert executed(net.approve(op(2), 2))
    before = domain_state(net.state)
    receipt = net.approve(op(2), 1)
    assert receipt.code == "governance.not_a_member"
    assert domain_state(net.state) == before
    assert [a.org for a in net.proposal(1).approvals] == [org(0), org(1)]


def test_unknown_proposal_queries() -> None:
    net = Net(2)
    assert consortium.get_proposal(net.state, 1) is None
    assert consortium.get_proposal(net.state, -1) is None
    assert consortium.last_proposal_id(net.state) == 0
    assert consortium.org_networks(net.state) == []
    assert consortium.members(net.state, 1) == [org(0), org(1)]


# properties -------------------------------------------------------------------------------------
ACTS = ["approve"] * 6 + ["withdraw", "wait"]
vote = st.tuples(st.sampled_from(ACTS), st.integers(0, 7))
"""An approval or a withdrawal by organisation ``n`` (the observer from the electorate's size
on), or a wait of ``n`` days."""


@given(st.integers(1, 7), st.integers(0, 6), st.lists(vote, max_size=14))
def test_an_action_executes_at_most_once_and_only_past_two_thirds(
    n: int, first: int, votes: list[tuple[str, int]]
) -> None:
    """Whatever approvals, withdrawals and waits from whichever organisations (the observer
    included), the upgrade is scheduled at most once, exactly when approvals from distinct
    electorate organisations first exceed two thirds, never after withdrawal or expiry; each
    receipt is what a plain model predicts."""
    net = Net(n)
    proposer = first % n
    at = 5000
    receipts = [net.propose(op(proposer), upgrade(at))]
    approvals = {proposer}
    status = "executed" if 2 * n < 3 else "open"
    expires = net.proposal(1).expires_at_s
    for what, who in votes:
        if what == "wait":
            net.time_ms += who * DAY_S * 1000
            continue
        sender = op(who) if who < n else "op-observer"
        before = dict(net.state.committed)
        receipt = net.run(sender, f"consortium.{what}", {"proposal": 1})
        receipts.append(receipt)
        if status != "open":
            expected = "governance.proposal_closed"
        elif net.time_s > expires:
            expected = "governance.proposal_expired"
        elif what == "withdraw":
            expected = None if who == proposer else "governance.not_proposing_org"
        elif who >= n:
            expected = "governance.not_a_proposer"
        elif who in approvals:
            expected = "governance.already_approved"
        else:
            expected = None
        assert receipt.code == expected, (what, who, receipt.message)
        if expected is not None:
            changed = {
                k
                for k in set(before) | set(net.state.committed)
                if before.get(k) != net.state.committed.get(k)
            }
            assert changed == {chain.nonce_key(sender)}
            continue
        if what == "withdraw":
            status = "withdrawn"
            continue
        approvals.add(who)
        assert executed(receipt) == (len(approvals) * 3 > 2 * n)
        if executed(receipt):
            status = "executed"
    event(f"proposal {status}")
    executions = [r for r in receipts if executed(r)]
    assert len(executions) <= 1
    assert (status == "executed") == (len(executions) == 1)
    assert [u.height for u in chain.upgrades(net.state)] == ([at] if executions else [])
    proposal = net.proposal(1)
    assert proposal.status == status
    if status == "executed":
        assert len(proposal.approvals) * 3 > 2 * n
        assert (len(proposal.approvals) - 1) * 3 <= 2 * n
        assert len({a.org for a in proposal.approvals}) == len(proposal.approvals)


# the CLI's bodies -------------------------------------------------------------------------------
def test_cli_bodies_are_valid_transactions(tmp_path: Any) -> None:
    """What ``gridledger tx consortium`` builds passes every stateless rule (wired into the
    CLI by ``cli/tx.py``)."""
    import json

    from gridledger.cli import consortium as cli

    keyfile = tmp_path / "node.json"
    keyfile.write_text(json.dumps({"public_key": node_key("utility-z").public_key}))
    bodies = [
        (
            "consortium.propose",
            cli.propose_add_org(
                org="utility-z",
                name="Utility Z",
                node_key=str(keyfile),
                etcd_peer_url="https://z.example:2380",
                etcd_client_url="https://z.example:2379",
                api_url="https://z.example:8080",
                expires_at=1_800_000_000,
            ),
        ),
        ("consortium.propose", cli.propose_remove_org(org="org-1")),
        ("consortium.propose", cli.propose_rotate_key(org="org-1", node_key=key("n").public_key)),
        (
            "consortium.propose",
            cli.propose_upgrade(
                height=90, block_max_txs=9, kind=["funds.transfer", "chain.schedule_upgrade"]
            ),
        ),
        ("consortium.propose", cli.propose_cancel_upgrade(height=90)),
        ("consortium.approve", cli.approve(proposal_id=3)),
        ("consortium.withdraw", cli.withdraw(proposal_id=3)),
    ]
    for kind, body in bodies:
        assert isinstance(body, dict)
        prepare(Transaction(chain_id=CHAIN_ID, kind=kind, sender=op(0), nonce=1, body=body))
    (_, add), *_ = bodies
    assert isinstance(add, dict)
    assert add["action"]["node_key"] == node_key("utility-z").public_key
    assert add["action"]["roles"] == list(ROLES)


def test_the_genesis_names_the_founding_members_etcd_and_node_addresses() -> None:
    plain = consortium_genesis(3)
    with_network = consortium_genesis(3)
    for i, o in enumerate(with_network.organisations[:3]):
        o.network = GenesisNetwork(
            etcd_peer_url=f"https://10.0.0.{i + 1}:2380",
            etcd_client_url=f"https://10.0.0.{i + 1}:2379",
            api_url=f"https://10.0.0.{i + 1}:8700",
        )
    # a document without addresses has no "network" member at all: older documents keep
    # their bytes and hash
    assert b'"network"' not in plain.encode()
    assert b'"network":{"api_url":"https://10.0.0.1:8700"' in with_network.encode()
    assert plain.hash() != with_network.hash()
    state = committed_genesis_state(with_network)
    nets = consortium.org_networks(state.view)
    assert [(n.org, n.etcd_client_url, n.set_height) for n in nets] == [
        (o.id, f"https://10.0.0.{i + 1}:2379", 0)
        for i, o in enumerate(with_network.organisations[:3])
    ]
    assert consortium.org_networks(committed_genesis_state(plain).view) == []
