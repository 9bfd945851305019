"""``gridledger bench ledger``: committed throughput of the embedded node vs raw Ed25519.

One run measures both figures on the same machine, so their ratio is meaningful:

* ``ed25519_verify_per_s_one_core``: PyNaCl verifications per second in one thread, on messages
  of the same size as the benchmark's signed transfers;
* ``committed_tx_per_s``: signed ``funds.transfer`` transactions per second through the whole
  node (admission with signature checks, local ordering, execution, state root, SQLite commit
  with fsync per block), from the first submission to the last commit.

Transactions are signed before the clock starts (signing is the clients' work, not the node's).
With more accounts than signers (``--accounts 1000000``) the extra accounts exist in state
with balances and receive transfers; they never sign, so their registered public keys are
derived placeholders instead of freshly generated key pairs, which would only slow set-up.
"""

from __future__ import annotations

import os
import random
import resource
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import psutil

from gridledger.contracts.genesis import GenesisAccount
from gridledger.contracts.rules import Rules
from gridledger.core.crypto import SigningKey, format_public_key, sha256, verify_raw
from gridledger.core.errors import GridLedgerError
from gridledger.core.types import Transaction
from gridledger.node.home import init_home, open_node
from gridledger.node.node import CommittedBlock, Node

PASSPHRASE = "bench"
MAX_SIGNERS = 10_000
OPENING_BALANCE = 10**12


def bench_key(i: int) -> SigningKey:
    return SigningKey.from_seed(sha256(b"gridledger-bench-key-%d" % i))


def account_id(i: int) -> str:
    return f"acct-{i:07d}"


def verify_rate_one_core(message: bytes, seconds: float = 1.5) -> float:
    """Ed25519 verifications per second in this thread for ``message``."""
    key = bench_key(0)
    sig = key.sign_raw(message)
    pk = key.public_key_raw
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            verify_raw(pk, message, sig)
        n += 200
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def commit_all(node: Node, raws: list[bytes], chunk: int = 2000) -> None:
    """Submit ``raws`` in order and wait until all are committed (set-up work, not timed).

    Raises:
        RuntimeError: one was refused at admission, or not committed within 10 minutes.
    """
    last = b""
    for i in range(0, len(raws), chunk):
        for r in node.submit_many(raws[i : i + chunk]):
            if isinstance(r, GridLedgerError):
                raise RuntimeError(f"set-up transaction refused: {r.code}: {r.message}")
            last = r
    stored = node.wait_receipt(last, timeout=600)
    if stored is None:
        raise RuntimeError("set-up transactions were not committed in time")


@dataclass
class CommitRun:
    """Transactions pushed through a node, from the first submission to the last commit."""

    txs: int
    """Transactions submitted."""
    elapsed_s: float = 0.0
    committed: int = 0
    failed: int = 0
    """Committed with a failed receipt."""
    first_failure: str | None = None
    """``code: message`` of the first failed receipt."""
    commit_ms: list[float] = field(default_factory=list)
    """Each block's build-and-commit time."""

    @property
    def tx_per_s(self) -> float:
        return self.committed / self.elapsed_s if self.elapsed_s > 0 else 0.0


def commit_timed(
    node: Node,
    parts: list[list[bytes]],
    *,
    phase: str = "commit",
    progress: Callable[[str, int, int], None] | None = None,
    on_block: Callable[[CommittedBlock], None] | None = None,
    chunk: int = 1000,
    timeout_s: float | None = None,
) -> CommitRun:
    """Submit every part of signed transactions from a thread of its own (a sender's
    transactions in one part, in nonce order) to a started node, and wait until all are
    committed or ``timeout_s`` passed (default: 10 minutes, or longer for many).

    Raises:
        RuntimeError: a transaction was refused at admission.
    """
    run = CommitRun(txs=sum(len(p) for p in parts))
    done = threading.Event()

    def committed(blk: CommittedBlock) -> None:
        run.commit_ms.append(blk.commit_ms)
        run.committed += len(blk.tx_hashes)
        for receipt in blk.receipts:
            if receipt.status != "ok":
                run.failed += 1
                if run.first_failure is None:
                    run.first_failure = f"{receipt.code}: {receipt.message}"
        if on_block is not None:
            on_block(blk)
        if progress:
            progress(phase, run.committed, run.txs)
        if run.committed >= run.txs:
            done.set()

    refused: list[str] = []

    def feed(part: list[bytes]) -> None:
        for i in range(0, len(part), chunk):
            for r in node.submit_many(part[i : i + chunk]):
                if isinstance(r, GridLedgerError):
                    refused.append(f"{r.code}: {r.message}")

    node.add_listener(committed)
    try:
        start = time.perf_counter()
        threads = [threading.Thread(target=feed, args=(part,)) for part in parts if part]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if refused:
            raise RuntimeError(
                f"{len(refused)} transactions refused at admission, e.g. {refused[0]}"
            )
        done.wait(timeout=timeout_s if timeout_s is not None else max(600.0, run.txs / 100))
        run.elapsed_s = time.perf_counter() - start
    finally:
        node.remove_listener(committed)
    return run


def cpu_seconds(proc: psutil.Process) -> tuple[float, float]:
    """CPU time of this process, and of its live children (the admission workers)."""
    own = float(sum(proc.cpu_times()[:2]))
    workers = 0.0
    for child in proc.children(recursive=True):
        try:
            workers += float(sum(child.cpu_times()[:2]))
        except psutil.NoSuchProcess:
            continue
    return own, workers


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    idx = min(len(ordered) - 1, round(q * (len(ordered) - 1)))
    return ordered[idx]


def run_ledger_bench(
    txs: int = 50_000,
    accounts: int = 10_000,
    home: Path | None = None,
    workers: int | None = None,
    block_max_txs: int = 2000,
    seed: int = 1,
    feeders: int = 4,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Build a chain of ``accounts`` funded accounts, push ``txs`` transfers, and measure."""
    if accounts < 2:
        raise ValueError("the benchmark needs at least 2 accounts")
    rng = random.Random(seed)
    tmp = None
    if home is None:
        tmp = tempfile.TemporaryDirectory(prefix="gridledger-bench-")
        home = Path(tmp.name) / "home"
    signers = min(accounts, MAX_SIGNERS)
    keys = [bench_key(i) for i in range(signers)]
    genesis_accounts = [
        GenesisAccount(
            id=account_id(i),
            org="operator",
            public_key=keys[i].public_key
            if i < signers
            else format_public_key(sha256(b"passive-%d" % i)),
            balance=OPENING_BALANCE,
        )
        for i in range(accounts)
    ]
    t_setup = time.perf_counter()
    genesis = init_home(
        home,
        PASSPHRASE,
        chain_id="gridledger-bench",
        accounts=genesis_accounts,
        rules=Rules(block_max_txs=block_max_txs),
    )
    del genesis_accounts
    node = open_node(home, PASSPHRASE, verify_workers=workers, tune_gc=True, block_interval_ms=50)
    setup_s = time.perf_counter() - t_setup

    # sign every transfer before the clock starts
    nonces = [0] * signers
    raws: list[list[bytes]] = [[] for _ in range(feeders)]
    for k in range(txs):
        s = k % signers
        nonces[s] += 1
        to = rng.randrange(accounts - 1)
        to = to + 1 if to >= s else to
        tx = Transaction(
            genesis.chain_id,
            "funds.transfer",
            account_id(s),
            nonces[s],
            {"to": account_id(to), "amount": rng.randrange(1, 10_000)},
        )
        tx.signature = keys[s].sign(tx.signing_bytes())
        raws[s % feeders].append(tx.encode())
        if progress and k % 5000 == 0:
            progress("sign", k, txs)
    sample_msg = msgspec.json.decode(raws[0][0], type=Transaction).signing_bytes()
    verify_before = verify_rate_one_core(sample_msg)

    me = psutil.Process()
    rss = {"node": 0, "workers": 0}
    blocks = 0

    def sample_rss() -> None:
        rss["node"] = max(rss["node"], me.memory_info().rss)
        workers_now = 0
        for child in me.children(recursive=True):
            try:
                workers_now += child.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        rss["workers"] = max(rss["workers"], workers_now)

    def on_block(_blk: CommittedBlock) -> None:
        nonlocal blocks
        blocks += 1
        if blocks % 5 == 1:
            sample_rss()

    node.start()
    cpu0 = cpu_seconds(me)
    try:
        run = commit_timed(node, raws, progress=progress, on_block=on_block)
    except RuntimeError:
        node.close()
        raise
    elapsed, committed, failed, commit_ms = run.elapsed_s, run.committed, run.failed, run.commit_ms
    cpu1 = cpu_seconds(me)
    node_cpu, worker_cpu = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    height = node.tip.height
    # measured before and after the run; the higher figure is the machine's one-core
    # capability, which keeps the ratio conservative on a machine with background load
    verify_rate = max(verify_before, verify_rate_one_core(sample_msg))
    node.close()
    sample_rss()
    # ru_maxrss covers set-up too (building the genesis of many accounts is the peak)
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if tmp is not None:
        tmp.cleanup()
    committed_rate = committed / elapsed
    return {
        "txs": txs,
        "accounts": accounts,
        "signers": signers,
        "committed": committed,
        "failed_receipts": failed,
        "blocks": len(commit_ms),
        "height": height,
        "elapsed_s": round(elapsed, 3),
        "committed_tx_per_s": round(committed_rate, 1),
        "ed25519_verify_per_s_one_core": round(verify_rate, 1),
        "ratio": round(committed_rate / verify_rate, 3),
        "block_commit_ms_p50": round(statistics.median(commit_ms), 2) if commit_ms else 0.0,
        "block_commit_ms_p99": round(_percentile(commit_ms, 0.99), 2),
        "block_max_txs": block_max_txs,
        "feeders": feeders,
        "verify_workers": workers if workers is not None else "one per core",
        "cpu_utilisation": round((node_cpu + worker_cpu) / (elapsed * (os.cpu_count() or 1)), 3),
        "node_process_cpu_us_per_tx": round(node_cpu / max(committed, 1) * 1e6, 1),
        "worker_cpu_us_per_tx": round(worker_cpu / max(committed, 1) * 1e6, 1),
        "peak_rss_mb": round(self_rss, 1),
        "node_rss_during_run_mb": round(rss["node"] / 2**20, 1),
        "workers_rss_during_run_mb": round(rss["workers"] / 2**20, 1),
        "setup_s": round(setup_s, 1),
    }


def run_scale_bench(
    txs: int = 50_000,
    small: int = 10_000,
    large: int = 1_000_000,
    workers: int | None = None,
    block_max_txs: int = 2000,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """The ledger benchmark with ``small`` and then ``large`` accounts in state, in one run.

    ``scale_ratio`` is the large run's committed throughput over the small run's; each run
    measures its own one-core verification rate, so both ratios are in the output too.
    """
    first = run_ledger_bench(
        txs, small, workers=workers, block_max_txs=block_max_txs, progress=progress
    )
    second = run_ledger_bench(
        txs, large, workers=workers, block_max_txs=block_max_txs, progress=progress
    )
    return {
        "txs": txs,
        "small_accounts": small,
        "large_accounts": large,
        "small": first,
        "large": second,
        "scale_ratio": round(second["committed_tx_per_s"] / first["committed_tx_per_s"], 3),
    }
