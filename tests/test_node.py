"""The embedded node: admission, block cutting, commit, restart, compaction and ``verify``.

Admission refusals are checked for their code and for leaving no trace (nothing pending, nothing
stored, the same state root). ``verify_chain`` is checked on an intact chain and on chains
damaged on disk, where it must name the first bad height.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import psutil
import pytest

from gridledger.contracts import chain, funds
from gridledger.contracts.genesis import load as load_genesis
from gridledger.contracts.rules import Rules
from gridledger.core import merkle
from gridledger.core.crypto import SigningKey, sha256
from gridledger.core.errors import GridLedgerError
from gridledger.core.keystore import load_key
from gridledger.core.types import Block, BlockHeader, Receipt, Transaction, decode_tx
from gridledger.node.chainverify import verify_chain
from gridledger.node.executor import prepare
from gridledger.node.home import init_home, key_path, open_node
from gridledger.node.node import DB_NAME, GENESIS_NAME, CommittedBlock, Node
from gridledger.node.transition import apply_block, genesis_state
from gridledger.state.tree import InvalidStateProof, StateProof, verify_proof
from support import (
    CHAIN_ID,
    GENESIS_TIME_MS,
    PASSPHRASE,
    household_accounts,
    households,
    key,
    signed,
    transfer,
)

HOUSE_A, HOUSE_B, HOUSE_C, HOUSE_D = households(4)
OPENING = 1_000_000
MAX_TX_BYTES = 4096
WAIT_S = 15.0


@pytest.fixture(scope="module")
def template_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with four funded households; tests copy it instead of deriving keys again."""
    home = tmp_path_factory.mktemp("template") / "home"
    init_home(
        home,
        PASSPHRASE,
        chain_id=CHAIN_ID,
        genesis_time=GENESIS_TIME_MS,
        accounts=household_accounts(4, OPENING, org="operator"),
        rules=Rules(max_tx_bytes=MAX_TX_BYTES),
    )
    return home


@pytest.fixture(scope="module")
def operator_key(template_home: Path) -> SigningKey:
    return load_key(key_path(template_home, "operator"), PASSPHRASE)


def copy_home(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest)
    return dest


def open_test_node(home: Path, **overrides: Any) -> Node:
    opts: dict[str, Any] = {"verify_workers": 0, "block_interval_ms": 20, **overrides}
    return open_node(home, PASSPHRASE, **opts)


@pytest.fixture
def home(template_home: Path, tmp_path: Path) -> Path:
    return copy_home(template_home, tmp_path / "home")


@pytest.fixture
def node(home: Path) -> Iterator[Node]:
    n = open_test_node(home)
    yield n
    n.close()


def stored_receipts(n: Node, height: int) -> list[Receipt]:
    blk = n.store.block(height)
    assert blk is not None
    return [msgspec.json.decode(t.receipt, type=Receipt) for t in blk.txs()]


def submit_and_commit(n: Node, txs: list[Transaction]) -> None:
    """Admit ``txs`` on a started node and wait until none is pending."""
    results = n.submit_many([t.encode() for t in txs])
    assert all(isinstance(r, bytes) for r in results), results
    deadline = time.monotonic() + WAIT_S
    while n.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert n.pending == 0


# admission ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def idle_node(template_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A node that admits but does not produce blocks by itself (its producer is not started)."""
    n = open_test_node(copy_home(template_home, tmp_path_factory.mktemp("idle") / "home"))
    yield n
    n.close()


def _fingerprint(n: Node) -> tuple[object, ...]:
    return (
        n.pending,
        len(n.ordering),  # type: ignore[arg-type]
        n.state.root,
        n.tip_hash,
        n.store.tip_height(),
        n.store.tx_count(),
        dict(n.state.committed),
    )


def _next(n: Node, sender: str) -> int:
    return n.next_nonce(sender)


RawMaker = Callable[[Node, SigningKey], bytes]


def _tx(sender: str, nonce: int, kind: str, body: dict[str, Any], **kw: Any) -> bytes:
    return signed(sender, nonce, kind, body, **kw).encode()


def _unsigned(n: Node) -> bytes:
    tx = Transaction(
        chain_id=CHAIN_ID,
        kind="funds.transfer",
        sender=HOUSE_A,
        nonce=_next(n, HOUSE_A),
        body={"to": HOUSE_B, "amount": 1},
    )
    return tx.encode()


def _without_signature_field(n: Node) -> bytes:
    doc = msgspec.json.decode(_unsigned(n))
    del doc["signature"]
    return msgspec.json.encode(doc)


def _flipped_signature(n: Node) -> bytes:
    tx = transfer(HOUSE_A, _next(n, HOUSE_A), HOUSE_B, 1)
    sig = tx.signature
    tx.signature = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    return tx.encode()


def _lone_surrogate(n: Node) -> bytes:
    raw = transfer(HOUSE_A, _next(n, HOUSE_A), HOUSE_B, 1, memo="SURROGATE").encode()
    return raw.replace(b"SURROGATE", b"\\ud800")


def _with_signature(n: Node, signature: str) -> bytes:
    tx = transfer(HOUSE_A, _next(n, HOUSE_A), HOUSE_B, 1)
    tx.signature = signature
    return tx.encode()


ADMISSION_REFUSALS: list[tuple[str, RawMaker, str]] = [
    ("malformed JSON", lambda n, op: b'{"chain_id": "gridledger-test", "kind": ', "tx.malformed"),
    ("not JSON at all", lambda n, op: b"\xff\xfe transfer please", "tx.malformed"),
    ("JSON array", lambda n, op: b"[1, 2, 3]", "tx.malformed"),
    ("JSON string", lambda n, op: b'"funds.transfer"', "tx.malformed"),
    (
        "unknown top-level field",
        lambda n, op: (
            _tx(HOUSE_A, _next(n, HOUSE_A), "funds.transfer", {"to": HOUSE_B, "amount": 1})[:-1]
            + b',"fee":1}'
        ),
        "tx.malformed",
    ),
    (
        "nonce beyond 64 bits",
        lambda n, op: _tx(HOUSE_A, 2**64, "funds.transfer", {"to": HOUSE_B, "amount": 1}),
        "tx.malformed",
    ),
    (
        "wrong chain id",
        lambda n, op: _tx(
            HOUSE_A,
            _next(n, HOUSE_A),
            "funds.transfer",
            {"to": HOUSE_B, "amount": 1},
            chain_id="gridledger-other",
        ),
        "tx.wrong_chain",
    ),
    (
        "signed by another key",
        lambda n, op: _tx(
            HOUSE_A,
            _next(n, HOUSE_A),
            "funds.transfer",
            {"to": HOUSE_B, "amount": 1},
            signer=key(HOUSE_B),
        ),
        "tx.bad_signature",
    ),
    ("signature altered", lambda n, op: _flipped_signature(n), "tx.bad_signature"),
    (
        "signature in upper-case hex",
        lambda n, op: _with_signature(n, "ed25519:" + "AB" * 64),
        "tx.bad_signature",
    ),
    (
        "signature too short",
        lambda n, op: _with_signature(n, "ed25519:" + "ab" * 63),
        "tx.bad_signature",
    ),
    ("signature without a tag", lambda n, op: _with_signature(n, "ab" * 64), "tx.bad_signature"),
    ("empty signature", lambda n, op: _unsigned(n), "tx.missing_signature"),
    ("no signature field", lambda n, op: _without_signature_field(n), "tx.missing_signature"),
    (
        "unsupported algorithm",
        lambda n, op: _with_signature(n, "sm2:" + "ab" * 64),
        "tx.unsupported_algorithm",
    ),
    (
        "unknown kind",
        lambda n, op: _tx(HOUSE_A, _next(n, HOUSE_A), "funds.burn", {"amount": 1}),
        "tx.unknown_kind",
    ),
    (
        "oversize",
        lambda n, op: _tx(
            HOUSE_A,
            _next(n, HOUSE_A),
            "funds.transfer",
            {"to": HOUSE_B, "amount": 1, "memo": "m" * MAX_TX_BYTES},
        ),
        "tx.oversize",
    ),
    (
        "negative amount",
        lambda n, op: _tx(
            HOUSE_A, _next(n, HOUSE_A), "funds.transfer", {"to": HOUSE_B, "amount": -5}
        ),
        "funds.invalid_amount",
    ),
    (
        "zero amount",
        lambda n, op: _tx(
            HOUSE_A, _next(n, HOUSE_A), "funds.transfer", {"to": HOUSE_B, "amount": 0}
        ),
        "funds.invalid_amount",
    ),
    (
        "fractional amount",
        lambda n, op: _tx(
            HOUSE_A, _next(n, HOUSE_A), "funds.transfer", {"to": HOUSE_B, "amount": 1.5}
        ),
        "tx.non_integer_number",
    ),
    (
        "amount beyond 64 bits",
        lambda n, op: _tx(
            HOUSE_A, _next(n, HOUSE_A), "funds.transfer", {"to": HOUSE_B, "amount": 2**64}
        ),
        "tx.integer_out_of_range",
    ),
    (
        "amount as a string",
        lambda n, op: _tx(
            HOUSE_A, _next(n, HOUSE_A), "funds.transfer", {"to": HOUSE_B, "amount": "5"}
        ),
        "tx.invalid_body",
    ),
    ("lone surrogate in a string", lambda n, op: _lone_surrogate(n), "tx.malformed"),
    (
        "memo too long",
        lambda n, op: _tx(
            HOUSE_A,
            _next(n, HOUSE_A),
            "funds.transfer",
            {"to": HOUSE_B, "amount": 1, "memo": "m" * 257},
        ),
        "funds.memo_too_long",
    ),
    (
        "unknown sender",
        lambda n, op: _tx("house-99", 1, "funds.transfer", {"to": HOUSE_B, "amount": 1}),
        "tx.unknown_sender",
    ),
    (
        "unknown recipient",
        lambda n, op: _tx(
            HOUSE_A, _next(n, HOUSE_A), "funds.transfer", {"to": "house-99", "amount": 1}
        ),
        "registry.unknown_account",
    ),
    (
        "mint to unknown recipient",
        lambda n, op: _tx(
            "operator",
            _next(n, "operator"),
            "funds.mint",
            {"to": "house-99", "amount": 1},
            signer=op,
        ),
        "registry.unknown_account",
    ),
    (
        "household mints",
        lambda n, op: _tx(HOUSE_A, _next(n, HOUSE_A), "funds.mint", {"to": HOUSE_A, "amount": 1}),
        "auth.forbidden",
    ),
    (
        "household adds an account",
        lambda n, op: _tx(
            HOUSE_A,
            _next(n, HOUSE_A),
            "registry.add_account",
            {"account": "x", "org": "households", "public_key": key("x").public_key},
        ),
        "auth.forbidden",
    ),
    (
        "nonce zero",
        lambda n, op: _tx(HOUSE_A, 0, "funds.transfer", {"to": HOUSE_B, "amount": 1}),
        "tx.nonce_replayed",
    ),
]


@pytest.mark.parametrize(
    ("make", "code"),
    [(m, c) for _, m, c in ADMISSION_REFUSALS],
    ids=[name for name, _, _ in ADMISSION_REFUSALS],
)
def test_admission_refusal_leaves_no_trace(
    idle_node: Node, operator_key: SigningKey, make: RawMaker, code: str
) -> None:
    """The refusal carries its code; nothing is pending or stored and the root is unchanged."""
    before = _fingerprint(idle_node)
    raw = make(idle_node, operator_key)
    with pytest.raises(GridLedgerError) as info:
        idle_node.submit(raw)
    assert info.value.code == code, info.value.message
    (batch_result,) = idle_node.submit_many([raw])
    assert isinstance(batch_result, GridLedgerError)
    assert batch_result.code == code
    assert _fingerprint(idle_node) == before


def test_replayed_nonce_pending_and_committed(idle_node: Node) -> None:
    """Another transaction with a nonce already pending or committed is refused as a replay;
    the very same transaction again, pending or committed, as a duplicate."""
    nonce = idle_node.next_nonce(HOUSE_C)
    first = transfer(HOUSE_C, nonce, HOUSE_D, 10)
    idle_node.submit_tx(first)
    pending_cases = [
        (first, "tx.duplicate"),
        (transfer(HOUSE_C, nonce, HOUSE_D, 11), "tx.nonce_replayed"),
        (transfer(HOUSE_C, nonce - 1, HOUSE_D, 1), "tx.nonce_replayed"),
    ]
    committed_cases = [
        (first, "tx.duplicate"),
        (transfer(HOUSE_C, nonce, HOUSE_D, 12), "tx.nonce_replayed"),
    ]
    for cases_, commit_first in ((pending_cases, False), (committed_cases, True)):
        if commit_first:
            idle_node.produce_block(idle_node.ordering.next_batch(10_000, 0))
            assert idle_node.store.tx(first.hash()) is not None
        before = _fingerprint(idle_node)
        for again, code in cases_:
            with pytest.raises(GridLedgerError) as info:
                idle_node.submit_tx(again)
            assert info.value.code == code, info.value.message
        assert _fingerprint(idle_node) == before


def test_forged_transaction_does_not_reserve_the_nonce(idle_node: Node) -> None:
    """A transaction with a bad signature must not block the owner's real one with that nonce."""
    nonce = idle_node.next_nonce(HOUSE_D)
    forged = signed(
        HOUSE_D, nonce, "funds.transfer", {"to": HOUSE_A, "amount": 999}, signer=key("thief")
    )
    real = transfer(HOUSE_D, nonce, HOUSE_B, 5)
    results = idle_node.submit_many([forged.encode(), real.encode()])
    assert isinstance(results[0], GridLedgerError)
    assert results[0].code == "tx.bad_signature"
    assert results[1] == real.hash()


def test_any_json_spelling_is_admitted_and_stored_canonically(idle_node: Node) -> None:
    """Whitespace and key order do not matter on the wire; the chain keeps canonical bytes."""
    tx = transfer(HOUSE_B, idle_node.next_nonce(HOUSE_B), HOUSE_C, 3)
    doc = msgspec.json.decode(tx.encode())
    spelled = (
        "{\n  "
        + ",\n  ".join(
            f'"{k}": {msgspec.json.encode(v).decode()}' for k, v in reversed(doc.items())
        )
        + "\n}"
    ).encode()
    assert spelled != tx.encode()
    assert idle_node.submit(spelled) == tx.hash()
    idle_node.produce_block(idle_node.ordering.next_batch(10_000, 0))
    stored = idle_node.store.tx(tx.hash())
    assert stored is not None
    assert stored.raw == tx.encode()


# blocks ------------------------------------------------------------------------------------------
def test_blocks_are_cut_by_size(home: Path) -> None:
    """With a full queue, blocks hold block_max_txs transactions each, the rest in the last."""
    n = open_test_node(home, block_max_txs=4)
    try:
        txs = [transfer(HOUSE_A, i, HOUSE_B, 1) for i in range(1, 11)]
        assert all(isinstance(r, bytes) for r in n.submit_many([t.encode() for t in txs]))
        n.start()
        assert n.wait_for_height(3, WAIT_S)
        counts = [n.store.block(h).tx_count for h in (1, 2, 3)]  # type: ignore[union-attr]
        assert counts == [4, 4, 2]
        stored = [t.raw for h in (1, 2, 3) for t in n.store.block(h).txs()]  # type: ignore[union-attr]
        assert stored == [t.encode() for t in txs]  # first admitted, first in the chain
    finally:
        n.close()


def test_blocks_are_cut_by_interval(home: Path) -> None:
    """A lone transaction is not kept waiting for a full block: the interval cuts it."""
    n = open_test_node(home, block_max_txs=1000, block_interval_ms=20)
    events: list[CommittedBlock] = []
    n.add_listener(events.append)
    n.start()
    try:
        t0 = time.monotonic()
        n.submit_tx(transfer(HOUSE_A, 1, HOUSE_B, 1))
        assert n.wait_for_height(1, WAIT_S)
        first_latency = time.monotonic() - t0
        time.sleep(0.1)
        n.submit_tx(transfer(HOUSE_A, 2, HOUSE_B, 1))
        assert n.wait_for_height(2, WAIT_S)
        assert [e.header.tx_count for e in events] == [1, 1]
        assert [e.height for e in events] == [1, 2]
        assert first_latency < 5.0
        assert events[1].header.prev_hash == events[0].hash
        assert events[1].header.time >= events[0].header.time
    finally:
        n.close()


def test_failing_transaction_still_commits_the_block_deterministically(home: Path) -> None:
    """A refused transaction gets a failed receipt in its block; re-executing the stored block
    on a fresh genesis state reproduces the header byte for byte."""
    n = open_test_node(home)
    try:
        n.start()
        txs = [
            transfer(HOUSE_A, 1, HOUSE_B, 600_000),
            transfer(HOUSE_A, 2, HOUSE_B, 600_000),  # 400 000 left: refused at execution
            transfer(HOUSE_A, 3, HOUSE_C, 400_000),
        ]
        submit_and_commit(n, txs)
        height = n.tip.height
        assert height == 1
        receipts = stored_receipts(n, 1)
        assert [r.status for r in receipts] == ["ok", "failed", "ok"]
        assert receipts[1].code == "funds.insufficient_balance"
        assert funds.balance_of(n.state, HOUSE_A) == 0
        assert n.state.get_int(b"nonce/" + HOUSE_A.encode()) == 3
        blk = n.store.block(1)
        genesis_blk = n.store.block(0)
        assert blk is not None
        assert genesis_blk is not None
        header = msgspec.json.decode(blk.header, type=BlockHeader)
        parent = msgspec.json.decode(genesis_blk.header, type=BlockHeader)
        fresh = genesis_state(load_genesis((Path(n.config.home) / GENESIS_NAME).read_bytes()))
        fresh.compute_root()
        fresh.finish_block()
        block = Block(header, [decode_tx(t.raw) for t in blk.txs()], blk.signature)
        _, again = apply_block(
            fresh, chain.rules_at(fresh.view, 1), parent, block, now_ms=header.time
        )
        assert again.state_root == header.state_root
        assert again.receipt_bytes == [t.receipt for t in blk.txs()]
    finally:
        n.close()
    assert verify_chain(home, workers=0).ok


def _make_chain(n: Node, blocks: int, per_block: int = 3) -> None:
    """Commit ``blocks`` blocks of transfers, each transfer with a distinct memo."""
    n.start()
    nonce = n.next_nonce(HOUSE_A)
    for b in range(blocks):
        txs = []
        for i in range(per_block):
            to = (HOUSE_B, HOUSE_C, HOUSE_D)[i % 3]
            txs.append(transfer(HOUSE_A, nonce, to, 10 + i, memo=f"block {b} transfer {i}"))
            nonce += 1
        height = n.tip.height
        submit_and_commit(n, txs)
        assert n.wait_for_height(height + 1, WAIT_S)


def test_restart_resumes_at_the_last_block(home: Path) -> None:
    """Closing and reopening gives the same tip, hash and state; the chain then continues."""
    n = open_test_node(home)
    try:
        _make_chain(n, 4)
        status = n.status()
        committed = dict(n.state.committed)
    finally:
        n.close()
    n = open_test_node(home)
    try:
        assert n.status() == status
        assert n.state.committed == committed
        assert n.state.root.hex() == status["state_root"]
        n.start()
        submit_and_commit(n, [transfer(HOUSE_A, n.next_nonce(HOUSE_A), HOUSE_B, 1)])
        assert n.tip.height == status["height"] + 1
        assert n.tip.prev_hash == status["tip_hash"]
    finally:
        n.close()
    assert verify_chain(home, workers=0).ok


def test_the_stored_diffs_replay_to_the_state_on_disk(home: Path) -> None:
    """The blocks' state diffs (what read models and old homes are rebuilt from) add up to the
    state tables, before and after a restart."""
    n = open_test_node(home)
    try:
        _make_chain(n, 3)
        assert n.store.load_state() == dict(n.state.committed)
        root = n.state.root
    finally:
        n.close()
    n = open_test_node(home)
    try:
        assert n.state.root == root
        assert n.store.load_state() == dict(n.state.committed)
    finally:
        n.close()


def _mixed_batch() -> list[bytes]:
    """About a hundred submissions: valid transfers and every kind of refusal, interleaved."""
    raws: list[bytes] = []
    nonces = dict.fromkeys(households(4), 0)
    for i in range(100):
        sender = households(4)[i % 4]
        to = households(4)[(i + 1) % 4]
        nonces[sender] += 1
        tx = transfer(sender, nonces[sender], to, 1 + i)
        if i % 10 == 3:
            tx.signature = key("thief").sign(tx.signing_bytes())  # bad signature
            nonces[sender] -= 1
        elif i % 10 == 7:
            tx = transfer(sender, nonces[sender] - 1 or 1, to, 7)  # replay
            nonces[sender] -= 1
        elif i % 17 == 5:
            raws.append(b"{not json")
            nonces[sender] -= 1
            continue
        raws.append(tx.encode())
    return raws


def _verifier_processes() -> int:
    """Worker processes (spawned, so their command line runs multiprocessing's spawn_main)."""
    return sum(
        "spawn_main" in " ".join(child.cmdline())
        for child in psutil.Process().children(recursive=True)
    )


def test_verifier_pool_admits_exactly_like_inline(template_home: Path, tmp_path: Path) -> None:
    """A batch admitted with two verifier processes gives the same results as inline checks,
    and both nodes end with the same state root."""
    raws = _mixed_batch()
    inline = open_test_node(copy_home(template_home, tmp_path / "inline"), verify_workers=0)
    pooled = open_test_node(copy_home(template_home, tmp_path / "pooled"), verify_workers=2)
    try:
        pooled.start()
        verifier = pooled._verifier
        assert verifier is not None
        assert verifier.workers == 2
        pooled_results = pooled.submit_many(raws)
        assert _verifier_processes() >= 1, "the batch was not checked in worker processes"
        inline_results = inline.submit_many(raws)
        as_codes = [r if isinstance(r, bytes) else r.code for r in inline_results]
        assert as_codes == [r if isinstance(r, bytes) else r.code for r in pooled_results]
        assert {c for c in as_codes if isinstance(c, str)} == {
            "tx.bad_signature",
            "tx.nonce_replayed",
            "tx.malformed",
        }
        assert sum(isinstance(c, bytes) for c in as_codes) >= 64
        inline.start()
        for n in (inline, pooled):
            deadline = time.monotonic() + WAIT_S
            while n.pending and time.monotonic() < deadline:
                time.sleep(0.01)
            assert n.pending == 0
        assert inline.state.root == pooled.state.root
        assert inline.state.committed == pooled.state.committed
    finally:
        inline.close()
        pooled.close()


# verify ------------------------------------------------------------------------------------------
BAD_HEIGHT = 3


@pytest.fixture(scope="module")
def chain_home(template_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed home with six blocks of three transfers each, its WAL checkpointed."""
    home = copy_home(template_home, tmp_path_factory.mktemp("chain") / "home")
    n = open_test_node(home)
    try:
        _make_chain(n, 6)
        assert n.tip.height == 6
    finally:
        n.close()
    _checkpoint(home)
    return home


def _checkpoint(home: Path) -> None:
    conn = sqlite3.connect(home / DB_NAME)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
    finally:
        conn.close()


def _sql(home: Path, statement: str, *params: object) -> None:
    conn = sqlite3.connect(home / DB_NAME)
    try:
        with conn:
            conn.execute(statement, params)
    finally:
        conn.close()


@pytest.fixture
def damaged(chain_home: Path, tmp_path: Path) -> Path:
    return copy_home(chain_home, tmp_path / "damaged")


def test_verify_passes_on_an_intact_chain(chain_home: Path) -> None:
    """An undamaged chain verifies to its tip, every transaction re-executed."""
    report = verify_chain(chain_home, workers=0)
    assert report.ok, report.problem
    assert report.height == 6
    assert report.txs == 18
    assert report.bad_height is None


def test_verify_finds_one_flipped_byte_of_a_stored_transaction(damaged: Path) -> None:
    """One byte of one transaction, changed in the database file itself, is found at its block."""
    from gridledger.state.store import BlockStore

    store = BlockStore(damaged / DB_NAME)
    try:
        blk = store.block(BAD_HEIGHT)
        assert blk is not None
        raw = blk.txs()[1].raw
    finally:
        store.close()
    _checkpoint(damaged)
    tx = decode_tx(raw)
    needle = tx.signature.split(":")[1][:40].encode()
    data = bytearray((damaged / DB_NAME).read_bytes())
    at = data.find(needle)
    assert at >= 0
    assert data.find(needle, at + 1) == -1, "the byte string must be unique in the file"
    pos = at + 10
    data[pos] = ord("0") if data[pos] != ord("0") else ord("1")
    with (damaged / DB_NAME).open("r+b") as f:
        f.seek(pos)
        f.write(bytes([data[pos]]))
    report = verify_chain(damaged, workers=0)
    assert not report.ok
    assert report.bad_height == BAD_HEIGHT
    assert report.height == BAD_HEIGHT - 1
    assert report.code == "block.bad_tx_signature"
    assert "house-00" in (report.problem or "")


def test_verify_finds_an_altered_header(damaged: Path) -> None:
    """A header rewritten in place no longer hashes to its block hash."""
    conn = sqlite3.connect(damaged / DB_NAME)
    (header,) = conn.execute("SELECT header FROM blocks WHERE height = ?", (BAD_HEIGHT,)).fetchone()
    conn.close()
    doc = msgspec.json.decode(header)
    doc["time"] += 1
    _sql(
        damaged,
        "UPDATE blocks SET header = ? WHERE height = ?",
        msgspec.json.encode(doc),
        BAD_HEIGHT,
    )
    report = verify_chain(damaged, workers=0)
    assert (report.ok, report.bad_height) == (False, BAD_HEIGHT)
    assert report.code == "block.stored_badly"
    assert "hash" in (report.problem or "")


def test_verify_finds_a_rehashed_header_without_the_proposer_signature(damaged: Path) -> None:
    """A forger who rewrites a header and its hash still lacks the proposer's signature."""
    conn = sqlite3.connect(damaged / DB_NAME)
    (header,) = conn.execute("SELECT header FROM blocks WHERE height = ?", (BAD_HEIGHT,)).fetchone()
    conn.close()
    forged = msgspec.json.decode(header, type=BlockHeader)
    forged.time += 1
    _sql(
        damaged,
        "UPDATE blocks SET header = ?, hash = ? WHERE height = ?",
        forged.encode(),
        forged.hash(),
        BAD_HEIGHT,
    )
    report = verify_chain(damaged, workers=0)
    assert (report.ok, report.bad_height) == (False, BAD_HEIGHT)
    assert report.code == "block.bad_signature"


def test_verify_finds_an_altered_state_diff(damaged: Path) -> None:
    """A stored state change that re-execution does not produce is reported at its block."""
    conn = sqlite3.connect(damaged / DB_NAME)
    (blob,) = conn.execute(
        "SELECT changes FROM state_diff WHERE height = ?", (BAD_HEIGHT,)
    ).fetchone()
    conn.close()
    changes = msgspec.msgpack.decode(blob)
    k, v = changes[0]
    assert v is not None
    changes[0] = [k, v + b"0"]
    _sql(
        damaged,
        "UPDATE state_diff SET changes = ? WHERE height = ?",
        msgspec.msgpack.encode(changes),
        BAD_HEIGHT,
    )
    report = verify_chain(damaged, workers=0)
    assert (report.ok, report.bad_height) == (False, BAD_HEIGHT)
    assert report.code == "block.stored_badly"
    assert "state changes" in (report.problem or "")


@pytest.mark.parametrize("missing", [BAD_HEIGHT, 0, 1])
def test_verify_reports_a_deleted_block_as_the_first_bad_height(
    damaged: Path, missing: int
) -> None:
    """A block deleted from the chain is reported missing at its own height (never a crash)."""
    _sql(damaged, "DELETE FROM blocks WHERE height = ?", missing)
    report = verify_chain(damaged, workers=0)
    assert not report.ok
    assert report.bad_height == missing
    assert report.height == missing - 1
    assert report.code == "block.missing"


def test_verify_reports_a_deleted_tip(damaged: Path) -> None:
    """Deleting the last block leaves its transactions and state behind: not a valid chain."""
    _sql(damaged, "DELETE FROM blocks WHERE height = 6")
    report = verify_chain(damaged, workers=0)
    assert not report.ok
    assert report.bad_height == 6


# proofs ------------------------------------------------------------------------------------------
def test_state_and_transaction_proofs_verify_against_headers(home: Path) -> None:
    """prove_state and prove_tx give proofs a verifier checks with the header alone."""
    n = open_test_node(home)
    try:
        _make_chain(n, 3)
        keys = [funds.keys.balance(h) for h in households(4)]
        keys += [b"funds/supply", b"nonce/" + HOUSE_A.encode(), b"no/such/key", b""]
        for k in keys:
            header, value, proof = n.prove_state(k)
            assert value == n.state.committed.get(k)
            root = bytes.fromhex(header.state_root)
            verify_proof(root, k, value, StateProof.from_json(proof.to_json()))
            with pytest.raises(InvalidStateProof):
                verify_proof(root, k, b"forged" if value is None else None, proof)
        blk = n.store.block(2)
        assert blk is not None
        header = msgspec.json.decode(blk.header, type=BlockHeader)
        for i, stored in enumerate(blk.txs()):
            found = n.prove_tx(sha256(stored.raw))
            assert found is not None
            at, index, path = found
            assert (at.height, index) == (2, i)
            merkle.verify_inclusion(
                stored.raw, index, header.tx_count, path, bytes.fromhex(header.tx_root)
            )
        assert n.prove_tx(bytes(32)) is None
    finally:
        n.close()


def test_state_proofs_match_their_header_while_blocks_commit(home: Path) -> None:
    """Proofs taken while the node commits blocks always verify against the header returned
    with them (the tree is never read half-updated), and block production never trips."""
    n = open_test_node(home, block_interval_ms=5, block_max_txs=50)
    n.add_listener(lambda event: time.sleep(0.001))  # listeners do I/O (event streams, logs)
    n.start()
    stop = threading.Event()

    def load() -> None:
        nonce = 1
        while not stop.is_set():
            txs = [transfer(h, nonce, HOUSE_A, 1) for h in (HOUSE_B, HOUSE_C, HOUSE_D)]
            n.submit_many([t.encode() for t in txs])
            nonce += 1
            time.sleep(0.001)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    keys = [funds.keys.balance(HOUSE_A), b"nonce/" + HOUSE_B.encode(), b"no/such/key"]
    checked = 0
    try:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            for k in keys:
                header, value, proof = n.prove_state(k)
                verify_proof(bytes.fromhex(header.state_root), k, value, proof)
                checked += 1
    finally:
        stop.set()
        loader.join(timeout=10)
        height, halted = n.tip.height, n.halted
        n.close()
    assert halted is None
    assert height >= 10
    assert checked > 100


def test_failed_commit_halts_without_changing_state(home: Path) -> None:
    """If the disk refuses a block, nothing of it stays in memory, the node stops producing and
    refuses new work, and a restart resumes at the last committed block."""
    n = open_test_node(home)
    try:
        _make_chain(n, 1)
        before = (n.tip_hash, n.state.root, dict(n.state.committed))

        def disk_full(*args: Any, **kwargs: Any) -> None:
            raise OSError(28, "No space left on device")

        n.store.commit_block = disk_full  # type: ignore[method-assign]
        n.submit_tx(transfer(HOUSE_B, 1, HOUSE_C, 5))
        deadline = time.monotonic() + WAIT_S
        while n.halted is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert n.halted is not None
        assert "No space left" in n.halted
        assert (n.tip_hash, n.state.root, n.state.committed) == before
        assert n.state.root.hex() == n.tip.state_root
        with pytest.raises(GridLedgerError) as info:
            n.submit_tx(transfer(HOUSE_B, 2, HOUSE_C, 5))
        assert info.value.code == "node.halted"
    finally:
        n.close()
    n = open_test_node(home)
    try:
        assert (n.tip_hash, n.state.root) == before[:2]
    finally:
        n.close()


def test_proposer_leaves_out_a_sender_registered_in_the_same_block(
    home: Path, operator_key: SigningKey
) -> None:
    """Signatures are checked against keys registered before the block, so a transaction whose
    sender is registered earlier in the same block cannot be in it: the proposer's own checks
    leave it out (``block.unknown_sender``) and the chain verifies. A hostile proposer's block
    that carries it is refused: see ``test_blocks.py``."""
    n = open_test_node(home)
    try:
        mallory = key("mallory")
        add = signed(
            "operator",
            1,
            "registry.add_account",
            {
                "account": "mallory",
                "org": "operator",
                "public_key": mallory.public_key,
                "roles": ["operator"],
            },
            signer=operator_key,
        )
        forged = signed(
            "mallory", 1, "funds.mint", {"to": "mallory", "amount": 10**9}, signer=key("anyone")
        )
        event = n.produce_block([prepare(add), prepare(forged)])
        assert event.statuses == ["ok"]
        assert event.tx_hashes == [add.hash().hex()]
        assert event.dropped == [(forged.hash().hex(), "block.unknown_sender", event.dropped[0][2])]
        assert "mallory" in event.dropped[0][2]
        assert funds.balance_of(n.state.view, "mallory") == 0
    finally:
        n.close()
    assert verify_chain(home, workers=0).ok


def test_verify_runs_beside_a_node_that_keeps_committing(node: Node, home: Path) -> None:
    """verify reads one snapshot, so blocks committed while it runs cannot make it report a
    mismatch; it checks the chain up to the height it saw."""
    node.start()
    stop = False

    def keep_committing() -> None:
        while not stop:
            nonce = node.next_nonce(HOUSE_A)
            node.submit_tx(transfer(HOUSE_A, nonce, HOUSE_B, 1))
            time.sleep(0.005)

    worker = threading.Thread(target=keep_committing)
    worker.start()
    try:
        assert node.wait_for_height(node.tip.height + 3, WAIT_S)
        for _ in range(8):
            report = verify_chain(home, workers=0)
            assert report.ok, report.problem
            assert report.height <= node.tip.height
    finally:
        stop = True
        worker.join()
