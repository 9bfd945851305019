"""Crash safety: SIGKILL a loaded node again and again; no acknowledged block may be lost.

``crash_load.py`` runs a node in a subprocess and prints ``COMMITTED <height> <hash>`` for each
block once its SQLite transaction has committed: those blocks were acknowledged. After each
SIGKILL (at a different moment each round) the home is reopened in this process and must hold
every acknowledged block with the same hash, a contiguous chain without any half-written
block, and a chain that ``verify_chain`` accepts. The next round continues on the same home.
"""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgspec
import pytest

from gridledger.core.types import BlockHeader
from gridledger.node.chainverify import verify_chain
from gridledger.node.home import init_home, open_node
from gridledger.node.node import DB_NAME
from support import CHAIN_ID, GENESIS_TIME_MS, PASSPHRASE, household_accounts

LOAD_SCRIPT = Path(__file__).with_name("crash_load.py")
ROUNDS = [
    # (blocks acknowledged in this run before the kill, extra delay before the kill in s)
    (1, 0.0),
    (4, 0.007),
    (8, 0.019),
    (5, 0.033),
    (2, 0.003),
    (6, 0.011),
    (3, 0.027),
    (7, 0.045),
]
LINE_TIMEOUT_S = 30.0


class LoadProcess:
    """The load script as a subprocess, its stdout read line by line on a thread."""

    def __init__(self, home: Path, stderr_path: Path) -> None:
        self._stderr = stderr_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(LOAD_SCRIPT), str(home)],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self) -> str:
        try:
            line = self.lines.get(timeout=LINE_TIMEOUT_S)
        except queue.Empty:
            pytest.fail("the load process went silent")
        if line is None:
            pytest.fail(f"the load process exited early: {self.stderr()}")
        return line

    def kill(self) -> list[str]:
        """SIGKILL the process; returns the lines it printed that were not read yet."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reader.join(timeout=30)
        self._stderr.close()
        rest: list[str] = []
        while (line := self.lines.get_nowait()) is not None:
            rest.append(line)
        return rest

    def stderr(self) -> str:
        self._stderr.flush()
        return Path(self._stderr.name).read_text()[-2000:]


def _acknowledged(line: str) -> tuple[int, str] | None:
    parts = line.split()
    if len(parts) == 3 and parts[0] == "COMMITTED":
        return int(parts[1]), parts[2]
    return None


def _check_store(home: Path, acked: dict[int, str]) -> int:
    """Every acknowledged block is stored unchanged; no block is partial. Returns the tip."""
    node = open_node(home, PASSPHRASE, verify_workers=0)  # checks state against the tip's root
    try:
        store = node.store
        tip = store.tip_height()
        assert tip >= max(acked, default=0)
        for height, block_hash in acked.items():
            blk = store.block(height)
            assert blk is not None, f"acknowledged block {height} is gone"
            assert blk.hash.hex() == block_hash
        blocks = store.blocks(0, tip + 1)
        assert [b.height for b in blocks] == list(range(tip + 1))
        for blk in blocks:
            header = msgspec.json.decode(blk.header, type=BlockHeader)
            assert header.tx_count == blk.tx_count == len(blk.txs())
        assert node.state.root.hex() == node.tip.state_root
    finally:
        node.close()
    conn = sqlite3.connect(home / DB_NAME)
    try:
        index = dict(conn.execute("SELECT height, count(*) FROM tx_index GROUP BY height"))
        counts = dict(conn.execute("SELECT height, tx_count FROM blocks WHERE tx_count > 0"))
        assert index == counts
        diffs = [h for (h,) in conn.execute("SELECT height FROM state_diff ORDER BY height")]
        assert diffs == list(range(tip + 1))
    finally:
        conn.close()
    return tip


@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_block(tmp_path: Path) -> None:
    """Repeated SIGKILLs mid-load: acknowledged blocks survive, the chain stays whole."""
    home = tmp_path / "home"
    init_home(
        home,
        PASSPHRASE,
        chain_id=CHAIN_ID,
        genesis_time=GENESIS_TIME_MS,
        accounts=household_accounts(4, 10**12, org="operator"),
    )
    acked: dict[int, str] = {}
    started = time.monotonic()
    tip = 0
    for round_, (wanted, delay) in enumerate(ROUNDS):
        load = LoadProcess(home, tmp_path / f"load-{round_}.err")
        try:
            ready = load.next_line()
            assert ready == f"READY {tip}", ready
            seen = 0
            while seen < wanted:
                ack = _acknowledged(load.next_line())
                if ack is not None:
                    acked[ack[0]] = ack[1]
                    seen += 1
            time.sleep(delay)
        finally:
            rest = load.kill()
        for line in rest:
            ack = _acknowledged(line)
            if ack is not None:
                acked[ack[0]] = ack[1]
        assert max(acked) > tip, "the load made no progress"
        tip = _check_store(home, acked)
        report = verify_chain(home, workers=0)
        assert report.ok, report.problem
        assert report.height == tip
    assert time.monotonic() - started < 60


def test_signature_workers_die_with_a_killed_node(tmp_path: Path) -> None:
    """SIGKILL of a node with worker processes leaves no orphans: each worker notices its
    parent is gone and exits (within a second or so)."""
    import psutil

    from fixtures_node import free_port

    home = tmp_path / "home"
    port = free_port()
    init_home(home, PASSPHRASE, chain_id=CHAIN_ID, genesis_time=GENESIS_TIME_MS,
              api=f"127.0.0.1:{port}")  # fmt: skip
    script = Path(sys.executable).with_name("gridledger")
    proc = subprocess.Popen(
        [str(script), "node", "--home", str(home), "--workers", "2"],
        env={**os.environ, "GRIDLEDGER_PASSPHRASE": PASSPHRASE},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        node = psutil.Process(proc.pid)
        deadline = time.monotonic() + 30
        workers: list[psutil.Process] = []
        while time.monotonic() < deadline:
            workers = [c for c in node.children(recursive=True) if "spawn_main" in
                       " ".join(c.cmdline())]  # fmt: skip
            if len(workers) >= 2:
                break
            time.sleep(0.1)
        assert len(workers) >= 2, [c.cmdline() for c in node.children(recursive=True)]
        others = node.children(recursive=True)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    gone, alive = psutil.wait_procs(others, timeout=10)
    assert alive == [], [p.cmdline() for p in alive]
    assert len(gone) >= 2
