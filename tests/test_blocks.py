"""The one block import path against a hostile proposer, and the chain rules by height.

Each test builds an honest block on a real node's state, breaks one rule (re-signing the
header with the node key where the rule is not the signature itself, so the broken rule is the
only thing wrong), and checks three things: ``Node.import_block`` refuses it with the rule's
own ``block.*`` code, state and tip are exactly as before, and once the block is written into
the store behind the node's back, ``gridledger verify`` reports the same code at that height.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from gridledger.contracts import chain, funds
from gridledger.contracts.rules import Rules
from gridledger.core.crypto import SigningKey, sha256
from gridledger.core.errors import GridLedgerError, InvalidBlock
from gridledger.core.keystore import load_key
from gridledger.core.types import Block, BlockHeader, Transaction
from gridledger.node.chainverify import verify_chain
from gridledger.node.executor import prepare
from gridledger.node.home import init_home, key_path, open_node
from gridledger.node.node import Node
from gridledger.node.transition import propose_block
from support import CHAIN_ID, GENESIS_TIME_MS, PASSPHRASE, household_accounts, households, key

HOUSE_A, HOUSE_B = households(2)
RULES = Rules(max_tx_bytes=4096, block_max_bytes=16384, block_max_txs=8)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("blocks") / "home"
    init_home(
        home,
        PASSPHRASE,
        chain_id=CHAIN_ID,
        genesis_time=GENESIS_TIME_MS,
        accounts=household_accounts(2, 1_000_000, org="operator"),
        rules=RULES,
    )
    return home


@pytest.fixture(scope="module")
def operator_key(template: Path) -> SigningKey:
    return load_key(key_path(template, "operator"), PASSPHRASE)


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "home"
    shutil.copytree(template, dest)
    return dest


@pytest.fixture
def node(home: Path) -> Iterator[Node]:
    n = open_node(home, PASSPHRASE, verify_workers=0)
    yield n
    n.close()


class Chain:
    """Signs transactions with nonces counted here and commits honest blocks on ``node``."""

    def __init__(self, node: Node, operator: SigningKey) -> None:
        self.node = node
        self.keys = {"operator": operator, HOUSE_A: key(HOUSE_A), HOUSE_B: key(HOUSE_B)}
        self.nonces: dict[str, int] = {}

    def tx(self, sender: str, kind: str, body: dict[str, Any], **fields: Any) -> Transaction:
        nonce = fields.pop("nonce", self.nonces.get(sender, 0) + 1)
        self.nonces[sender] = max(nonce, self.nonces.get(sender, 0))
        tx = Transaction(chain_id=fields.pop("chain_id", CHAIN_ID), kind=kind, sender=sender,
                         nonce=nonce, body=body)  # fmt: skip
        tx.signature = fields.pop("signer", self.keys[sender]).sign(tx.signing_bytes())
        return tx

    def transfer(self, amount: int = 1, memo: str = "", **fields: Any) -> Transaction:
        body: dict[str, Any] = {"to": HOUSE_B, "amount": amount}
        if memo:
            body["memo"] = memo
        return self.tx(HOUSE_A, "funds.transfer", body, **fields)

    def commit(self, *txs: Transaction) -> None:
        event = self.node.produce_block([prepare(t) for t in txs])
        assert event.dropped == []
        assert all(s == "ok" for s in event.statuses)

    def honest(self, *txs: Transaction, time_ms: int | None = None) -> Block:
        """A valid next block of ``txs`` (built and signed as the node would, not committed)."""
        n = self.node
        state = n.state
        parent = n.tip
        rules = chain.rules_at(state.view, parent.height + 1)
        at = parent.time + 1000 if time_ms is None else time_ms
        proposal = propose_block(state, rules, parent, [prepare(t) for t in txs], at,
                                 n.config.org, n.config.node_key.sign)  # fmt: skip
        state.discard_block()
        assert proposal.dropped == []
        return proposal.block

    def resign(self, block: Block, signer: SigningKey | None = None, **header: Any) -> Block:
        """``block`` with header fields changed and signed again (by the node key)."""
        changed = msgspec.structs.replace(block.header, **header)
        sig = (signer or self.node.config.node_key).sign(changed.signing_bytes())
        return Block(changed, block.txs, sig)


@pytest.fixture
def ch(node: Node, operator_key: SigningKey) -> Chain:
    c = Chain(node, operator_key)
    c.commit(c.transfer(5), c.transfer(7))
    return c


def refused(ch: Chain, home: Path, block: Block, code: str, raws: list[bytes] | None = None) -> str:
    """Import ``block``: refused with ``code``, state untouched; then verify says the same."""
    n = ch.node
    before = (dict(n.state.committed), n.state.root, n.tip, n.state.block_changes())
    with pytest.raises(InvalidBlock) as err:
        n.import_block(block, raws)
    assert err.value.code == code, err.value.message
    assert err.value.message
    assert (dict(n.state.committed), n.state.root, n.tip, n.state.block_changes()) == before
    assert n.store.tip_height() == n.tip.height
    # the same block stored behind the node's back: verify names the same rule at its height
    height = block.header.height
    raw_txs = raws if raws is not None else [t.encode() for t in block.txs]
    rows = [(sha256(raw), raw, b"{}") for raw in raw_txs]
    n.store.commit_block(height, block.header.hash(), block.header.encode(), block.signature,
                         rows, {})  # fmt: skip
    report = verify_chain(Path(n.config.home), workers=0)
    assert (report.ok, report.bad_height, report.code) == (False, height, code), report
    return err.value.message


# the honest path ----------------------------------------------------------------------------------
def test_an_honest_block_imports_and_verifies(ch: Chain, home: Path) -> None:
    block = ch.honest(ch.transfer(3))
    event = ch.node.import_block(block)
    assert event.header == block.header
    assert funds.balance_of(ch.node.state.view, HOUSE_B) == 1_000_000 + 15
    ch.node.close()
    assert verify_chain(home, workers=0).ok


def test_a_follower_imports_every_block_a_proposer_built(
    ch: Chain, template: Path, tmp_path: Path
) -> None:
    """A second node with the same genesis imports the proposer's blocks through apply_block
    and reaches the same state root at every height."""
    ch.commit(ch.transfer(1), ch.tx("operator", "funds.mint", {"to": HOUSE_A, "amount": 50}))
    ch.commit()
    ch.commit(ch.tx(HOUSE_B, "funds.transfer", {"to": HOUSE_A, "amount": 9}))
    follower_home = tmp_path / "follower"
    shutil.copytree(template, follower_home)
    follower = open_node(follower_home, PASSPHRASE, verify_workers=0)
    try:
        for height in range(1, ch.node.tip.height + 1):
            blk = ch.node.store.block(height)
            assert blk is not None
            header = msgspec.json.decode(blk.header, type=BlockHeader)
            raws = [t.raw for t in blk.txs()]
            txs = [msgspec.json.decode(r, type=Transaction) for r in raws]
            event = follower.import_block(Block(header, txs, blk.signature), raws)
            assert event.header.state_root == follower.state.root.hex() == header.state_root
        assert follower.state.committed == ch.node.state.committed
    finally:
        follower.close()
    assert verify_chain(follower_home, workers=0).ok


# the header ---------------------------------------------------------------------------------------
def test_wrong_parent(ch: Chain, home: Path) -> None:
    block = ch.resign(ch.honest(ch.transfer()), prev_hash="ab" * 32)
    assert "prev_hash" in refused(ch, home, block, "block.bad_parent")


def test_wrong_height(ch: Chain, home: Path) -> None:
    block = ch.honest(ch.transfer())
    forged = ch.resign(block, height=block.header.height + 1)
    with pytest.raises(InvalidBlock) as err:
        ch.node.import_block(forged)
    assert err.value.code == "block.bad_height"


def test_wrong_chain(ch: Chain, home: Path) -> None:
    block = ch.resign(ch.honest(ch.transfer()), chain_id="elsewhere")
    refused(ch, home, block, "block.wrong_chain")


def test_time_going_backwards(ch: Chain, home: Path) -> None:
    block = ch.resign(ch.honest(ch.transfer()), time=ch.node.tip.time - 1)
    assert "before the parent" in refused(ch, home, block, "block.time_backwards")


def test_time_too_far_ahead_of_the_importer_clock(ch: Chain, home: Path) -> None:
    now = ch.node.config.clock()
    block = ch.honest(ch.transfer(), time_ms=now + RULES.max_future_ms + 60_000)
    refused(ch, home, block, "block.time_in_future")


def test_time_a_little_ahead_is_taken(ch: Chain) -> None:
    """Clocks drift: a block up to max_future_ms ahead imports."""
    now = ch.node.config.clock()
    ch.node.import_block(ch.honest(ch.transfer(), time_ms=now + RULES.max_future_ms // 2))


def test_proposer_not_an_organisation(ch: Chain, home: Path) -> None:
    block = ch.resign(ch.honest(ch.transfer()), proposer="nobody")
    assert "nobody" in refused(ch, home, block, "block.bad_proposer")


def test_proposer_an_organisation_the_rules_do_not_list(
    ch: Chain, home: Path, operator_key: SigningKey
) -> None:
    """An organisation registered later with a node key may not propose until the rules say
    so (an upgrade)."""
    other = key("other-node")
    ch.commit(ch.tx("operator", "registry.add_organisation",
                    {"org": "other", "name": "Other", "roles": ["producer"],
                     "node_key": other.public_key}))  # fmt: skip
    block = ch.resign(ch.honest(ch.transfer()), signer=other, proposer="other")
    refused(ch, home, block, "block.bad_proposer")


def test_header_signed_by_another_key(ch: Chain, home: Path) -> None:
    block = ch.resign(ch.honest(ch.transfer()), signer=key("forger"))
    refused(ch, home, block, "block.bad_signature")


# roots --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("root", "code"),
    [
        ("tx_root", "block.bad_tx_root"),
        ("receipt_root", "block.bad_receipt_root"),
        ("state_root", "block.bad_state_root"),
    ],
)
def test_wrong_roots(ch: Chain, home: Path, root: str, code: str) -> None:
    block = ch.resign(ch.honest(ch.transfer()), **{root: "cd" * 32})
    message = refused(ch, home, block, code)
    assert "cd" * 32 in message


def test_state_root_of_a_different_execution(ch: Chain, home: Path) -> None:
    """A proposer that executed a transfer of 3 but ships a transfer of 4 under its roots."""
    three = ch.honest(ch.transfer(3, nonce=ch.nonces[HOUSE_A] + 1))
    four = ch.transfer(4, nonce=ch.nonces[HOUSE_A])
    block = Block(three.header, [four], three.signature)
    # tx_root is over the transactions: the swap shows there first
    refused(ch, home, block, "block.bad_tx_root")


def test_tx_count_differs(ch: Chain, home: Path) -> None:
    block = ch.honest(ch.transfer())
    forged = ch.resign(block, tx_count=2)
    with pytest.raises(InvalidBlock) as err:
        ch.node.import_block(forged)
    assert err.value.code == "block.bad_tx_count"


# transactions, as admission checks them -----------------------------------------------------------
def _with_txs(ch: Chain, txs: list[Transaction]) -> Block:
    """An otherwise honest header over ``txs`` (roots left as the honest empty block's)."""
    empty = ch.honest()
    return ch.resign(Block(empty.header, txs, ""), tx_count=len(txs))


def test_unsigned_transaction(ch: Chain, home: Path) -> None:
    tx = ch.transfer()
    tx.signature = ""
    refused(ch, home, _with_txs(ch, [tx]), "block.unsigned_tx")


def test_badly_signed_transaction(ch: Chain, home: Path) -> None:
    tx = ch.transfer(signer=key("forger"))
    refused(ch, home, _with_txs(ch, [tx]), "block.bad_tx_signature")


def test_transaction_signed_then_altered(ch: Chain, home: Path) -> None:
    tx = ch.transfer(1)
    tx.body = {"to": HOUSE_B, "amount": 900_000}
    refused(ch, home, _with_txs(ch, [tx]), "block.bad_tx_signature")


def test_replayed_nonce_from_history(ch: Chain, home: Path) -> None:
    again = ch.transfer(6, nonce=1)  # house-00 used nonce 1 in block 1
    assert "nonce 1" in refused(ch, home, _with_txs(ch, [again]), "block.replayed_nonce")


def test_replayed_nonce_within_the_block(ch: Chain, home: Path) -> None:
    first = ch.transfer(1)
    second = ch.transfer(2, nonce=first.nonce)
    refused(ch, home, _with_txs(ch, [first, second]), "block.replayed_nonce")


def test_sender_registered_in_the_same_block(ch: Chain, home: Path) -> None:
    """Signatures count against keys registered before the block: registering an account and
    spending from it in one block is refused, whatever the second transaction carries."""
    mallory = key("mallory")
    add = ch.tx("operator", "registry.add_account",
                {"account": "mallory", "org": "operator", "public_key": mallory.public_key,
                 "roles": ["operator"]})  # fmt: skip
    ch.keys["mallory"] = mallory
    mint = ch.tx("mallory", "funds.mint", {"to": "mallory", "amount": 10**9})
    refused(ch, home, _with_txs(ch, [add, mint]), "block.unknown_sender")


def test_oversize_transaction(ch: Chain, home: Path) -> None:
    big = ch.tx("operator", "registry.add_organisation",
                {"org": "big", "name": "n" * 4200, "roles": []})  # fmt: skip
    assert len(big.encode()) > RULES.max_tx_bytes
    refused(ch, home, _with_txs(ch, [big]), "block.oversize_tx")


def test_oversize_block(ch: Chain, home: Path) -> None:
    txs = [
        ch.tx("operator", "registry.add_organisation",
              {"org": f"org-{i}", "name": "n" * 3500, "roles": []})
        for i in range(6)
    ]  # fmt: skip
    assert all(len(t.encode()) <= RULES.max_tx_bytes for t in txs)
    assert sum(len(t.encode()) for t in txs) > RULES.block_max_bytes
    refused(ch, home, _with_txs(ch, txs), "block.oversize")


def test_too_many_transactions(ch: Chain, home: Path) -> None:
    txs = [ch.transfer(1) for _ in range(RULES.block_max_txs + 1)]
    refused(ch, home, _with_txs(ch, txs), "block.too_many_txs")


def test_transaction_for_another_chain(ch: Chain, home: Path) -> None:
    tx = ch.transfer(chain_id="elsewhere")
    refused(ch, home, _with_txs(ch, [tx]), "block.tx_wrong_chain")


def test_transaction_breaking_its_schema(ch: Chain, home: Path) -> None:
    tx = ch.tx(HOUSE_A, "funds.transfer", {"to": HOUSE_B, "amount": -5})
    message = refused(ch, home, _with_txs(ch, [tx]), "block.invalid_tx_body")
    assert "funds.invalid_amount" in message


def test_unknown_kind(ch: Chain, home: Path) -> None:
    tx = ch.tx(HOUSE_A, "funds.steal", {"from": HOUSE_B})
    refused(ch, home, _with_txs(ch, [tx]), "block.kind_not_allowed")


def test_transaction_not_in_canonical_form(ch: Chain, home: Path) -> None:
    tx = ch.transfer()
    block = _with_txs(ch, [tx])
    spaced = tx.encode().replace(b'"kind":', b'"kind": ')
    refused(ch, home, block, "block.malformed_tx", raws=[spaced])


def test_transaction_that_is_not_json(ch: Chain, home: Path) -> None:
    block = _with_txs(ch, [ch.transfer()])
    with pytest.raises(InvalidBlock) as err:
        ch.node.import_block(block, [b"\xff\xfe not json"])
    assert err.value.code == "block.malformed_tx"


# rules by height ----------------------------------------------------------------------------------
def _upgrade(ch: Chain, at: int, **changes: Any) -> None:
    ch.commit(ch.tx("operator", "chain.schedule_upgrade", {"height": at, "changes": changes}))


def test_a_rule_change_keeps_history_valid_and_refuses_the_old_rule_after_it(
    ch: Chain, home: Path
) -> None:
    """max_tx_bytes drops from 4096 to 400 at height H: a 481-byte transfer is fine before H
    and refused after it (by admission, and in a block); verify passes across the change."""
    tip = ch.node.tip.height
    at = tip + 3
    _upgrade(ch, at, max_tx_bytes=400, block_max_bytes=4096)
    assert chain.rules_at(ch.node.state.view, at - 1).max_tx_bytes == 4096
    assert chain.rules_at(ch.node.state.view, at).max_tx_bytes == 400
    before = ch.transfer(memo="m" * 200)
    assert len(before.encode()) > 400
    ch.commit(before)  # height H - 1: the old rule
    assert ch.node.tip.height == at - 1
    assert ch.node.rules.max_tx_bytes == 400
    ch.commit(ch.transfer(2))  # height H: the new rule, a small transaction
    ch.node.close()
    assert verify_chain(home, workers=0).ok
    n = open_node(home, PASSPHRASE, verify_workers=0)
    ch.node = n
    try:
        after = ch.transfer(memo="m" * 200)
        with pytest.raises(GridLedgerError) as err:  # admission refuses it at once
            n.submit_tx(after)
        assert err.value.code == "tx.oversize"
        refused(ch, home, _with_txs(ch, [after]), "block.oversize_tx")
    finally:
        n.close()


def test_a_kind_removed_by_an_upgrade(ch: Chain, home: Path) -> None:
    rules = ch.node.rules
    at = ch.node.tip.height + 3
    kinds = [k for k in rules.kinds if k != "funds.mint"]
    _upgrade(ch, at, kinds=kinds)
    mint = ch.tx("operator", "funds.mint", {"to": HOUSE_A, "amount": 5})
    ch.commit(mint)  # at - 1: still allowed
    assert ch.node.tip.height == at - 1
    again = ch.tx("operator", "funds.mint", {"to": HOUSE_A, "amount": 5})
    with pytest.raises(GridLedgerError) as err:
        ch.node.submit_tx(again)
    assert err.value.code == "tx.kind_not_enabled"
    refused(ch, home, _with_txs(ch, [again]), "block.kind_not_allowed")


def test_proposer_leaves_out_what_an_upgrade_refuses(ch: Chain) -> None:
    """A transaction admitted under the old rules but cut into a block after the upgrade is
    left out by the proposer (never a block the chain would refuse)."""
    at = ch.node.tip.height + 3
    kinds = [k for k in ch.node.rules.kinds if k != "funds.mint"]
    _upgrade(ch, at, kinds=kinds)
    ch.commit()
    mint = ch.tx("operator", "funds.mint", {"to": HOUSE_A, "amount": 5})
    event = ch.node.produce_block([prepare(mint), prepare(ch.transfer(1))])
    assert event.height == at
    assert [code for _, code, _ in event.dropped] == ["block.kind_not_allowed"]
    assert len(event.tx_hashes) == 1


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"max_tx_bytes": 17000}, "chain.invalid_rules"),  # above block_max_bytes
        ({"proposers": []}, "chain.invalid_rules"),
        ({"proposers": ["nobody"]}, "chain.invalid_rules"),
        ({"kinds": ["funds.transfer"]}, "chain.invalid_rules"),  # cannot upgrade again
        ({"kinds": ["chain.schedule_upgrade", "funds.steal"]}, "chain.invalid_rules"),
        ({}, "chain.invalid_rules"),
    ],
)
def test_upgrades_that_would_stop_the_chain_are_refused(
    ch: Chain, changes: dict[str, Any], code: str
) -> None:
    at = ch.node.tip.height + 5
    tx = ch.tx("operator", "chain.schedule_upgrade", {"height": at, "changes": changes})
    before = dict(ch.node.state.committed)
    if changes == {}:
        with pytest.raises(GridLedgerError) as err:  # stateless: admission refuses it
            ch.node.submit_tx(tx)
        assert err.value.code == code
        return
    event = ch.node.produce_block([prepare(tx)])
    assert event.receipts[0].code == code
    after = dict(ch.node.state.committed)
    nonce = chain.nonce_key("operator")
    assert {k: v for k, v in after.items() if k != nonce} == {
        k: v for k, v in before.items() if k != nonce
    }


def test_upgrade_scheduling_rules(ch: Chain) -> None:
    tip = ch.node.tip.height

    def run(kind: str, body: dict[str, Any], sender: str = "operator") -> tuple[str, str | None]:
        event = ch.node.produce_block([prepare(ch.tx(sender, kind, body))])
        return event.receipts[0].status, event.receipts[0].code

    change = {"block_max_txs": 4}
    # the scheduling block is at tip + 1: an upgrade must take effect after it
    assert run("chain.schedule_upgrade", {"height": tip + 1, "changes": change}) == (
        "failed", "chain.upgrade_not_in_future")  # fmt: skip
    assert run("chain.schedule_upgrade", {"height": tip + 50, "changes": change}) == ("ok", None)
    assert run("chain.schedule_upgrade", {"height": tip + 50, "changes": change}) == (
        "failed", "chain.upgrade_exists")  # fmt: skip
    assert run("chain.schedule_upgrade", {"height": tip + 90, "changes": change}, HOUSE_A) == (
        "failed", "auth.forbidden")  # fmt: skip
    assert [u.height for u in chain.upgrades(ch.node.state.view)] == [tip + 50]
    assert run("chain.cancel_upgrade", {"height": tip + 6}) == ("failed", "chain.unknown_upgrade")
    assert run("chain.cancel_upgrade", {"height": tip + 50}) == ("ok", None)
    assert chain.upgrades(ch.node.state.view) == []
    assert chain.rules_at(ch.node.state.view, tip + 50).block_max_txs == RULES.block_max_txs


def test_block_size_rule_cuts_the_proposer_blocks(ch: Chain) -> None:
    """The node cuts blocks at the chain's block_max_txs, whatever its own setting."""
    assert ch.node.block_max_txs == RULES.block_max_txs


def test_proposer_rechecks_a_sender_whose_key_was_rotated_since_admission(ch: Chain) -> None:
    """Admitted under the old key, cut into a block after the sender rotated it: the proposer
    checks the signature again (the sender's record changed) and leaves the transaction out,
    while a transaction whose sender did not change is taken without a second look."""
    n = ch.node
    old = ch.transfer(1)
    other = ch.tx(HOUSE_B, "funds.transfer", {"to": HOUSE_A, "amount": 2})
    n.submit_tx(old)
    n.submit_tx(other)
    new_key = key("house-00-new")
    ch.commit(ch.tx("operator", "registry.rotate_key",
                    {"account": HOUSE_A, "public_key": new_key.public_key}))  # fmt: skip
    pending = n.ordering.next_batch(10, 0.01)
    assert [p.hash for p in pending] == [old.hash(), other.hash()]
    event = n.produce_block(pending)
    assert event.tx_hashes == [other.hash().hex()]
    assert [(h, code) for h, code, _ in event.dropped] == [
        (old.hash().hex(), "block.bad_tx_signature")
    ]
    n.close()
    assert verify_chain(Path(n.config.home), workers=0).ok
