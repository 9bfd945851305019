"""Registry and funds contracts, run through the block executor on a genesis state.

Every refusal is checked for its code and for what it leaves behind: a contract refusal changes
no domain state and only consumes the sender's nonce (so the refused transaction can never be
replayed later, when it might succeed); a refusal of the sender itself (unknown, suspended,
replayed nonce) changes nothing at all. Property tests run random mint/transfer sequences
against a plain-dict model of the funds contract.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridledger.contracts import funds, registry
from gridledger.contracts.base import Body, Context, Kind, get_kind
from gridledger.contracts.chain import nonce_key
from gridledger.core.crypto import sha256
from gridledger.core.encoding import INT_MAX, canonical
from gridledger.core.errors import GridLedgerError, InvalidTransaction, all_error_classes
from gridledger.core.types import Receipt, Transaction
from gridledger.node.executor import Prepared, execute_block, prepare
from gridledger.node.transition import genesis_header
from gridledger.state.state import State, StateWriter
from support import (
    HOUSEHOLDS_ORG,
    OPERATOR,
    committed_genesis_state,
    domain_state,
    households,
    key,
    make_genesis,
    mint,
    prepared,
    propose,
    signed,
    transfer,
)

HOUSE_A, HOUSE_B, HOUSE_C = households(3)
OPENING = 1_000
BLOCK_TIME = 1_700_000_100_000


@pytest.fixture
def state() -> State:
    return committed_genesis_state(make_genesis(accounts=3, balance=OPENING))


def run(state: State, *txs: Transaction | Prepared, height: int = 1) -> list[Receipt]:
    """Execute ``txs`` as one block and commit it; returns the receipts."""
    batch = [t if isinstance(t, Prepared) else prepare(t) for t in txs]
    receipts = execute_block(state, batch, height, BLOCK_TIME)
    state.compute_root()
    state.finish_block()
    return receipts


def unchecked(tx: Transaction) -> Prepared:
    """Prepare ``tx`` without its kind's stateless checks, as a damaged or hostile proposer
    could include it: execution must refuse it by itself."""
    kind = get_kind(tx.kind)
    body = msgspec.convert(tx.body, kind.body_type, strict=True)
    raw = tx.encode()
    return Prepared(tx, raw, sha256(raw), kind, body)


def assert_refused(
    state: State, tx: Transaction | Prepared, code: str, *, consumes_nonce: bool = True
) -> Receipt:
    """Run ``tx`` alone; it fails with ``code`` and leaves the domain state as it was."""
    inner = tx.tx if isinstance(tx, Prepared) else tx
    domain_before = domain_state(state)
    nonces_before = {k: v for k, v in state.committed.items() if k.startswith(b"nonce/")}
    root_before = state.root
    (receipt,) = run(state, tx)
    assert receipt.status == "failed"
    assert receipt.code == code, receipt.message
    assert receipt.message
    assert receipt.events == []
    assert domain_state(state) == domain_before
    nonces_after = {k: v for k, v in state.committed.items() if k.startswith(b"nonce/")}
    if consumes_nonce:
        expected = {**nonces_before, nonce_key(inner.sender): str(inner.nonce).encode()}
        assert nonces_after == expected
    else:
        assert nonces_after == nonces_before
        assert state.root == root_before
    return receipt


# funds: happy paths ------------------------------------------------------------------------------
def test_mint_credits_the_recipient_and_the_supply(state: State) -> None:
    """funds.mint adds to one balance and to funds/supply by the same amount."""
    (receipt,) = run(state, mint(1, HOUSE_A, 500))
    assert receipt.ok
    assert receipt.events == [{"type": "funds.minted", "to": HOUSE_A, "amount": 500}]
    assert funds.balance_of(state, HOUSE_A) == OPENING + 500
    assert funds.total_supply(state) == 3 * OPENING + 500
    assert state.get(b"funds/supply") == str(3 * OPENING + 500).encode()
    assert state.get(nonce_key(OPERATOR)) == b"1"


def test_transfer_moves_value_and_keeps_the_supply(state: State) -> None:
    """funds.transfer debits the sender, credits the recipient, leaves the supply alone."""
    (receipt,) = run(state, transfer(HOUSE_A, 7, HOUSE_B, 300, memo="June settlement"))
    assert receipt.ok
    assert receipt.events == [
        {"type": "funds.transferred", "sender": HOUSE_A, "to": HOUSE_B, "amount": 300}
    ]
    assert funds.balance_of(state, HOUSE_A) == OPENING - 300
    assert funds.balance_of(state, HOUSE_B) == OPENING + 300
    assert funds.total_supply(state) == 3 * OPENING
    assert state.get(b"funds/balance/" + HOUSE_A.encode()) == b"700"
    assert state.get(nonce_key(HOUSE_A)) == b"7"


def test_transfer_of_the_whole_balance_and_to_oneself(state: State) -> None:
    """A balance may reach exactly zero; a transfer to oneself changes no balance."""
    receipts = run(
        state, transfer(HOUSE_A, 1, HOUSE_A, OPENING), transfer(HOUSE_A, 2, HOUSE_B, OPENING)
    )
    assert [r.status for r in receipts] == ["ok", "ok"]
    assert funds.balance_of(state, HOUSE_A) == 0
    assert funds.balance_of(state, HOUSE_B) == 2 * OPENING


def test_nonces_may_skip_but_not_repeat(state: State) -> None:
    """Any nonce above the last one is accepted (gaps allowed); the same one again is not."""
    receipts = run(state, transfer(HOUSE_A, 5, HOUSE_B, 1), transfer(HOUSE_A, 100, HOUSE_B, 1))
    assert [r.status for r in receipts] == ["ok", "ok"]
    assert_refused(
        state, transfer(HOUSE_A, 100, HOUSE_B, 1), "tx.nonce_replayed", consumes_nonce=False
    )
    assert_refused(
        state, transfer(HOUSE_A, 99, HOUSE_B, 1), "tx.nonce_replayed", consumes_nonce=False
    )


# registry: happy paths ---------------------------------------------------------------------------
def test_add_organisation_and_account_store_canonical_records(state: State) -> None:
    """The registry writes exactly the documented records, in canonical JSON."""
    new_key = key("solar-coop-1").public_key
    receipts = run(
        state,
        signed(
            OPERATOR,
            1,
            "registry.add_organisation",
            {"org": "solar-coop", "name": "Solar Co-op", "roles": ["producer", "consumer"]},
        ),
        signed(
            OPERATOR,
            2,
            "registry.add_account",
            {
                "account": "coop-1",
                "org": "solar-coop",
                "public_key": new_key,
                "roles": ["producer"],
            },
        ),
    )
    assert [r.status for r in receipts] == ["ok", "ok"]
    assert state.get(b"registry/org/solar-coop") == (
        b'{"id":"solar-coop","name":"Solar Co-op","node_key":null,"roles":["consumer","producer"]}'
    )
    assert state.get(b"registry/account/coop-1") == (
        b'{"id":"coop-1","org":"solar-coop","public_key":"'
        + new_key.encode()
        + b'","roles":["producer"],"suspended":false}'
    )
    assert receipts[1].events == [
        {"type": "registry.account_added", "account": "coop-1", "org": "solar-coop"}
    ]


def test_new_account_can_receive_and_spend(state: State) -> None:
    """An account added by the operator takes part in funds at once."""
    pk = key("house-new").public_key
    receipts = run(
        state,
        signed(
            OPERATOR,
            1,
            "registry.add_account",
            {"account": "house-new", "org": HOUSEHOLDS_ORG, "public_key": pk},
        ),
        transfer(HOUSE_A, 1, "house-new", 40),
        transfer("house-new", 1, HOUSE_B, 15),
    )
    assert [r.status for r in receipts] == ["ok", "ok", "ok"]
    assert funds.balance_of(state, "house-new") == 25


def test_grant_and_revoke_role(state: State) -> None:
    """grant_role adds a role the organisation holds; revoke_role takes it away again."""
    run(
        state, signed(OPERATOR, 1, "registry.revoke_role", {"account": HOUSE_A, "role": "producer"})
    )
    assert registry.require_account(state, HOUSE_A).roles == ["consumer"]
    (receipt,) = run(
        state,
        signed(OPERATOR, 2, "registry.grant_role", {"account": HOUSE_A, "role": "producer"}),
        height=2,
    )
    assert receipt.ok
    assert registry.require_account(state, HOUSE_A).roles == ["consumer", "producer"]


# refusals at execution ---------------------------------------------------------------------------
REFUSALS: list[tuple[str, Callable[[], Transaction | Prepared], str]] = [
    ("overdraw", lambda: transfer(HOUSE_A, 1, HOUSE_B, OPENING + 1), "funds.insufficient_balance"),
    ("transfer to unknown", lambda: transfer(HOUSE_A, 1, "nobody", 5), "registry.unknown_account"),
    ("mint to unknown", lambda: mint(1, "nobody", 5), "registry.unknown_account"),
    (
        "grant to unknown",
        lambda: signed(
            OPERATOR, 1, "registry.grant_role", {"account": "nobody", "role": "consumer"}
        ),
        "registry.unknown_account",
    ),
    (
        "revoke from unknown",
        lambda: signed(
            OPERATOR, 1, "registry.revoke_role", {"account": "nobody", "role": "consumer"}
        ),
        "registry.unknown_account",
    ),
    ("household mints", lambda: mint(1, HOUSE_A, 5, sender=HOUSE_A), "auth.forbidden"),
    (
        "household adds account",
        lambda: signed(
            HOUSE_A,
            1,
            "registry.add_account",
            {"account": "x1", "org": HOUSEHOLDS_ORG, "public_key": key("x1").public_key},
        ),
        "auth.forbidden",
    ),
    (
        "household adds org",
        lambda: signed(
            HOUSE_A, 1, "registry.add_organisation", {"org": "x", "name": "X", "roles": []}
        ),
        "auth.forbidden",
    ),
    (
        "household grants",
        lambda: signed(HOUSE_A, 1, "registry.grant_role", {"account": HOUSE_A, "role": "consumer"}),
        "auth.forbidden",
    ),
    (
        "role the org lacks",
        lambda: signed(
            OPERATOR,
            1,
            "registry.add_account",
            {
                "account": "x2",
                "org": HOUSEHOLDS_ORG,
                "public_key": key("x2").public_key,
                "roles": ["certifier"],
            },
        ),
        "registry.role_not_held_by_org",
    ),
    (
        "grant role the org lacks",
        lambda: signed(
            OPERATOR, 1, "registry.grant_role", {"account": HOUSE_A, "role": "certifier"}
        ),
        "registry.role_not_held_by_org",
    ),
    (
        "account exists",
        lambda: signed(
            OPERATOR,
            1,
            "registry.add_account",
            {"account": HOUSE_B, "org": HOUSEHOLDS_ORG, "public_key": key("y").public_key},
        ),
        "registry.account_exists",
    ),
    (
        "unknown organisation",
        lambda: signed(
            OPERATOR,
            1,
            "registry.add_account",
            {"account": "x3", "org": "nope", "public_key": key("x3").public_key},
        ),
        "registry.unknown_organisation",
    ),
    (
        "organisation exists",
        lambda: signed(
            OPERATOR,
            1,
            "registry.add_organisation",
            {"org": HOUSEHOLDS_ORG, "name": "again", "roles": []},
        ),
        "registry.organisation_exists",
    ),
    (
        "self demotion",
        lambda: signed(
            OPERATOR, 1, "registry.revoke_role", {"account": OPERATOR, "role": "operator"}
        ),
        "registry.self_demotion",
    ),
    ("supply overflow", lambda: mint(1, HOUSE_A, INT_MAX), "funds.supply_overflow"),
    (
        "zero amount past admission",
        lambda: unchecked(transfer(HOUSE_A, 1, HOUSE_B, 0)),
        "funds.invalid_amount",
    ),
    (
        "negative mint past admission",
        lambda: unchecked(mint(1, HOUSE_A, -5)),
        "funds.invalid_amount",
    ),
    (
        "unknown role past admission",
        lambda: unchecked(
            signed(
                OPERATOR,
                1,
                "registry.add_account",
                {
                    "account": "x4",
                    "org": HOUSEHOLDS_ORG,
                    "public_key": key("x4").public_key,
                    "roles": ["king"],
                },
            )
        ),
        "registry.invalid_role",
    ),
    (
        "bad id past admission",
        lambda: unchecked(
            signed(
                OPERATOR,
                1,
                "registry.add_account",
                {"account": "Bad Id", "org": HOUSEHOLDS_ORG, "public_key": key("x5").public_key},
            )
        ),
        "registry.invalid_id",
    ),
    (
        "bad key past admission",
        lambda: unchecked(
            signed(
                OPERATOR,
                1,
                "registry.add_account",
                {"account": "x6", "org": HOUSEHOLDS_ORG, "public_key": "ed25519:00"},
            )
        ),
        "registry.invalid_key",
    ),
]


@pytest.mark.parametrize(
    ("make", "code"),
    [(make, code) for _, make, code in REFUSALS],
    ids=[name for name, _, _ in REFUSALS],
)
def test_contract_refusal_changes_nothing_but_the_nonce(
    state: State, make: Callable[[], Transaction | Prepared], code: str
) -> None:
    """Each refusal gives a failed receipt with its code; only the sender's nonce moves."""
    assert_refused(state, make(), code)


def test_refused_transaction_cannot_be_replayed(state: State) -> None:
    """A refused transaction consumed its nonce: the same bytes fail again as a replay even
    once they would succeed (here, after the sender received enough funds)."""
    overdraw = transfer(HOUSE_A, 1, HOUSE_B, OPENING + 10)
    assert_refused(state, overdraw, "funds.insufficient_balance")
    run(state, transfer(HOUSE_C, 1, HOUSE_A, 500), height=2)
    assert_refused(state, overdraw, "tx.nonce_replayed", consumes_nonce=False)


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: transfer("ghost", 1, HOUSE_A, 1), "tx.unknown_sender"),
        (lambda: transfer(HOUSE_A, 0, HOUSE_B, 1), "tx.nonce_replayed"),
    ],
    ids=["unknown sender", "nonce zero"],
)
def test_sender_refusal_changes_nothing_at_all(
    state: State, make: Callable[[], Transaction], code: str
) -> None:
    """Refusals of the sender itself do not even consume a nonce."""
    assert_refused(state, make(), code, consumes_nonce=False)


def test_suspended_sender_is_refused(state: State) -> None:
    """A suspended account's transactions fail without touching state."""
    record = registry.require_account(state, HOUSE_A)
    state.put(registry.keys.account(HOUSE_A), msgspec.structs.replace(record, suspended=True))
    state.compute_root()
    state.finish_block()
    assert_refused(
        state, transfer(HOUSE_A, 1, HOUSE_B, 1), "tx.sender_suspended", consumes_nonce=False
    )


def test_partial_writes_of_a_refused_contract_are_rolled_back(state: State) -> None:
    """A contract that writes and then refuses (or crashes) leaves no write behind."""

    class Nothing(Body):
        pass

    def write_then_refuse(st_: StateWriter, ctx: Context, body: Nothing) -> None:
        funds.credit(st_, ctx.sender, 1_000_000)
        st_.set(b"scratch/marker", b"1")
        raise funds.InsufficientBalance("refused after writing")

    def write_then_crash(st_: StateWriter, ctx: Context, body: Nothing) -> None:
        funds.credit(st_, ctx.sender, 1_000_000)
        raise ZeroDivisionError("boom")

    for nonce, (apply, code) in enumerate(
        [
            (write_then_refuse, "funds.insufficient_balance"),
            (write_then_crash, "contract.internal_error"),
        ],
        start=1,
    ):
        kind: Kind[Nothing] = Kind("test.partial", Nothing, (), apply)
        tx = Transaction(chain_id="c", kind="test.partial", sender=HOUSE_A, nonce=nonce, body={})
        raw = tx.encode()
        receipt = assert_refused(state, Prepared(tx, raw, sha256(raw), kind, Nothing()), code)
        assert state.get(b"scratch/marker") is None
        if code == "contract.internal_error":
            assert receipt.message == "ZeroDivisionError: boom"


def test_failed_and_ok_transactions_mix_in_one_block(state: State) -> None:
    """Within a block a refusal does not disturb the transactions around it."""
    receipts = run(
        state,
        transfer(HOUSE_A, 1, HOUSE_B, 600),
        transfer(HOUSE_A, 2, HOUSE_B, 600),  # only 400 left
        transfer(HOUSE_A, 3, HOUSE_C, 400),
    )
    assert [r.status for r in receipts] == ["ok", "failed", "ok"]
    assert receipts[1].code == "funds.insufficient_balance"
    assert [funds.balance_of(state, h) for h in (HOUSE_A, HOUSE_B, HOUSE_C)] == [0, 1600, 1400]
    assert state.get(nonce_key(HOUSE_A)) == b"3"


# refusals before execution (admission and re-verification run prepare) ---------------------------
@pytest.mark.parametrize(
    ("kind", "body", "code"),
    [
        ("funds.transfer", {"to": HOUSE_B, "amount": 0}, "funds.invalid_amount"),
        ("funds.transfer", {"to": HOUSE_B, "amount": -3}, "funds.invalid_amount"),
        ("funds.mint", {"to": HOUSE_B, "amount": 0}, "funds.invalid_amount"),
        ("funds.transfer", {"to": HOUSE_B, "amount": 1.5}, "tx.non_integer_number"),
        ("funds.transfer", {"to": HOUSE_B, "amount": 2**63}, "tx.integer_out_of_range"),
        ("funds.transfer", {"to": HOUSE_B, "amount": -(2**63) - 1}, "tx.integer_out_of_range"),
        ("funds.transfer", {"to": HOUSE_B, "amount": 5, "memo": "x" * 257}, "funds.memo_too_long"),
        ("funds.transfer", {"to": HOUSE_B}, "tx.invalid_body"),
        ("funds.transfer", {"to": HOUSE_B, "amount": "5"}, "tx.invalid_body"),
        ("funds.transfer", {"to": HOUSE_B, "amount": True}, "tx.invalid_body"),
        ("funds.transfer", {"to": HOUSE_B, "amount": 5, "extra": 1}, "tx.invalid_body"),
        (
            "registry.add_account",
            {"account": "a", "org": "o", "public_key": key("a").public_key, "roles": ["king"]},
            "registry.invalid_role",
        ),
        (
            "registry.add_account",
            {
                "account": "a",
                "org": "o",
                "public_key": key("a").public_key,
                "roles": ["consumer", "consumer"],
            },
            "registry.invalid_role",
        ),
        (
            "registry.add_account",
            {"account": "UPPER", "org": "o", "public_key": key("a").public_key},
            "registry.invalid_id",
        ),
        (
            "registry.add_account",
            {"account": "a", "org": "o", "public_key": "sm2:" + "00" * 32},
            "registry.invalid_key",
        ),
        (
            "registry.add_organisation",
            {"org": "-lead", "name": "x", "roles": []},
            "registry.invalid_id",
        ),
        ("registry.grant_role", {"account": "a", "role": "admin"}, "registry.invalid_role"),
        ("funds.burn", {"amount": 1}, "tx.unknown_kind"),
    ],
)
def test_stateless_refusals_at_prepare(kind: str, body: dict[str, Any], code: str) -> None:
    """Schema and stateless rules refuse a transaction before it can reach a block."""
    tx = Transaction(chain_id="c", kind=kind, sender=HOUSE_A, nonce=1, body=body)
    with pytest.raises(InvalidTransaction) as info:
        prepare(tx)
    assert info.value.code == code


# properties --------------------------------------------------------------------------------------
N_ACCOUNTS = 4
ACCOUNTS = households(N_ACCOUNTS)

op = st.one_of(
    st.tuples(st.just("mint"), st.sampled_from(ACCOUNTS), st.integers(1, 5_000)),
    st.tuples(
        st.just("transfer"),
        st.sampled_from(ACCOUNTS),
        st.sampled_from(ACCOUNTS),
        st.integers(1, 3_000),
    ),
    st.tuples(st.just("replay"), st.sampled_from([OPERATOR, *ACCOUNTS])),
)
blocks_of_ops = st.lists(st.lists(op, min_size=1, max_size=8), min_size=1, max_size=8)


def _build_blocks(blocks: list[list[tuple[Any, ...]]]) -> list[list[Transaction]]:
    """Signed transactions for the op lists; "replay" resends the account's last transaction."""
    nonces: dict[str, int] = {}
    last: dict[str, Transaction] = {}
    out: list[list[Transaction]] = []
    for ops in blocks:
        txs: list[Transaction] = []
        for o in ops:
            if o[0] == "mint":
                nonces[OPERATOR] = nonces.get(OPERATOR, 0) + 1
                tx = mint(nonces[OPERATOR], o[1], o[2])
            elif o[0] == "transfer":
                nonces[o[1]] = nonces.get(o[1], 0) + 1
                tx = transfer(o[1], nonces[o[1]], o[2], o[3])
            elif o[1] in last:
                tx = last[o[1]]
            else:
                continue
            last[tx.sender] = tx
            txs.append(tx)
        out.append(txs)
    return out


def _replay(blocks: list[list[Transaction]]) -> tuple[State, list[list[Receipt]], list[bytes]]:
    genesis = make_genesis(accounts=N_ACCOUNTS, balance=OPENING)
    state = committed_genesis_state(genesis)
    parent = genesis_header(genesis, state.root)
    receipts: list[list[Receipt]] = []
    headers: list[bytes] = []
    for txs in blocks:
        proposal = propose(state, parent, prepared(*txs), BLOCK_TIME)
        state.finish_block()
        receipts.append(proposal.result.receipts)
        headers.append(proposal.block.header.encode())
        parent = proposal.block.header
    return state, receipts, headers


@given(blocks_of_ops)
def test_funds_invariants_against_a_model(blocks: list[list[tuple[Any, ...]]]) -> None:
    """Random mints, transfers and replays, checked block by block against a dict model.

    Guards: receipts as the model predicts; no negative balance; sum of balances equals
    funds/supply; transfers conserve the total; nonces never repeat (a replay always fails and
    changes nothing).
    """
    signed_blocks = _build_blocks(blocks)
    genesis = make_genesis(accounts=N_ACCOUNTS, balance=OPENING)
    state = committed_genesis_state(genesis)
    model = dict.fromkeys(ACCOUNTS, OPENING)
    supply = OPENING * N_ACCOUNTS
    used: dict[str, set[int]] = {}
    for height, txs in enumerate(signed_blocks, start=1):
        receipts = run(state, *txs, height=height)
        for tx, receipt in zip(txs, receipts, strict=True):
            seen = used.setdefault(tx.sender, set())
            if tx.nonce in seen or tx.nonce <= max(seen, default=0):
                assert receipt.code == "tx.nonce_replayed"
                continue
            seen.add(tx.nonce)
            amount = tx.body["amount"]
            if tx.kind == "funds.mint":
                assert receipt.ok
                model[tx.body["to"]] += amount
                supply += amount
            elif model[tx.sender] >= amount:
                assert receipt.ok
                model[tx.sender] -= amount
                model[tx.body["to"]] += amount
            else:
                assert receipt.code == "funds.insufficient_balance"
        balances = {a: funds.balance_of(state, a) for a in ACCOUNTS}
        assert balances == model
        assert min(balances.values()) >= 0
        assert sum(balances.values()) == funds.total_supply(state) == supply
        for sender, nonces in used.items():
            if nonces:
                assert state.get_int(nonce_key(sender)) == max(nonces)


@given(blocks_of_ops)
def test_replaying_blocks_is_deterministic(blocks: list[list[tuple[Any, ...]]]) -> None:
    """The same blocks on a fresh genesis state give byte-identical receipts, headers, roots."""
    signed_blocks = _build_blocks(blocks)
    first_state, first_receipts, first_headers = _replay(signed_blocks)
    second_state, second_receipts, second_headers = _replay(signed_blocks)
    assert first_headers == second_headers
    assert [[canonical(r) for r in rs] for rs in first_receipts] == [
        [canonical(r) for r in rs] for rs in second_receipts
    ]
    assert first_state.root == second_state.root
    assert first_state.committed == second_state.committed
    # and a state rebuilt from the committed values (a restart) commits to the same root
    assert State(dict(first_state.committed)).root == first_state.root


def test_error_codes_are_unique() -> None:
    """Every error class has its own code: clients branch on codes, so none may be shared."""
    codes = [cls.code for cls in all_error_classes() if cls is not GridLedgerError]
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)
