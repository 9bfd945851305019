"""``gridledger bench abuse``: a node under abusive clients, against itself when left in peace.

A node runs as its own process (``gridledger node`` on a fresh chain, loopback only). Honest
clients submit signed transfers one request at a time and time each answer, first with the
node to themselves (the quiet run), then while an attacker process throws at it large uploads
(``uploads`` clients each sending a body of ``upload_mb`` MB to ``/v1/txs/batch`` at full
speed, again and again) and slow clients (``slow`` connections sending a header line now and
then, never finishing). The node's resident memory is sampled throughout.

Figures: ``idle_rss_mb`` (the node before any load), ``abuse_peak_rss_mb`` (its peak during the
abuse), ``honest_p99_ms_quiet`` / ``honest_p99_ms_abuse`` and their ratio
``honest_p99_ratio``; the targets are a peak under twice the idle memory and a ratio under 3.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

from gridledger.bench.ledger import PASSPHRASE, account_id, bench_key
from gridledger.contracts.genesis import GenesisAccount
from gridledger.core.types import Transaction
from gridledger.node.home import init_home

CHAIN_ID = "gridledger-bench-abuse"
HONEST = 4
"""Honest clients, each with its own account."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


class _RssSampler:
    """Samples a process's resident memory every 20 ms on a thread."""

    def __init__(self, pid: int) -> None:
        self._proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self._proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _honest_run(url: str, txs: list[list[Transaction]]) -> list[float]:
    """Each honest client submits its transactions one after another; latencies in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []

    def client(mine: list[Transaction]) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for tx in mine:
                t0 = time.perf_counter()
                answer = http.post("/v1/txs", content=tx.encode())
                took = (time.perf_counter() - t0) * 1000
                if answer.status_code != 202:
                    errors.append(f"{answer.status_code} {answer.text[:200]}")
                with lock:
                    latencies.append(took)

    threads = [threading.Thread(target=client, args=(m,)) for m in txs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"honest requests were refused: {errors[0]}")
    return latencies


def run_abuse_bench(
    uploads: int = 50,
    upload_mb: int = 60,
    slow: int = 500,
    requests: int = 400,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Start a node, measure honest latency quiet and under abuse, and its memory."""
    tmp = tempfile.mkdtemp(prefix="gridledger-abuse-")
    home = Path(tmp) / "home"
    port = _free_port()
    keys = [bench_key(i) for i in range(HONEST)]
    init_home(
        home,
        PASSPHRASE,
        chain_id=CHAIN_ID,
        api=f"127.0.0.1:{port}",
        accounts=[
            GenesisAccount(
                id=account_id(i), org="operator", public_key=k.public_key, balance=10**12
            )
            for i, k in enumerate(keys)
        ],
    )
    per_client = max(requests // HONEST, 1)

    def signed(round_: int) -> list[list[Transaction]]:
        out = []
        for i, k in enumerate(keys):
            mine = []
            for n in range(per_client):
                nonce = round_ * per_client + n + 1
                tx = Transaction(CHAIN_ID, "funds.transfer", account_id(i), nonce,
                                 {"to": account_id((i + 1) % HONEST), "amount": 1})  # fmt: skip
                tx.signature = k.sign(tx.signing_bytes())
                mine.append(tx)
            out.append(mine)
        return out

    quiet_txs, abuse_txs = signed(0), signed(1)
    script = Path(sys.executable).with_name("gridledger")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "gridledger.cli"]
    node = subprocess.Popen(
        [*command, "node", "--home", str(home), "--workers", "1", "--log-level", "warning"],
        env={**os.environ, "GRIDLEDGER_PASSPHRASE": PASSPHRASE},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if node.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the benchmark's node did not start")
            time.sleep(0.1)
        time.sleep(1.0)
        idle = psutil.Process(node.pid).memory_info().rss
        if progress:
            progress("quiet", 0, 2)
        quiet = _honest_run(url, quiet_txs)
        if progress:
            progress("abuse", 1, 2)
        window = 60.0
        attacker = subprocess.Popen(
            [sys.executable, "-m", "gridledger.bench.attacker", "127.0.0.1", str(port),
             str(uploads), str(upload_mb), str(slow), str(window)],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            time.sleep(3.0)  # let the uploads and slow clients pile up first
            with _RssSampler(node.pid) as rss:
                abused = _honest_run(url, abuse_txs)
                time.sleep(2.0)
        finally:
            attacker.send_signal(signal.SIGTERM)
            out, _ = attacker.communicate(timeout=30)
        counts = [int(x) for x in out.split()] if out.strip() else [0, 0, 0]
        alive = node.poll() is None
    finally:
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(timeout=30)
        except subprocess.TimeoutExpired:
            node.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    if progress:
        progress("abuse", 2, 2)
    p99_quiet, p99_abuse = _p99(quiet), _p99(abused)
    mb = 1024 * 1024
    return {
        "honest_requests": len(abused),
        "uploads": uploads,
        "upload_mb": upload_mb,
        "slow_clients": slow,
        "idle_rss_mb": round(idle / mb, 1),
        "abuse_peak_rss_mb": round(rss.peak / mb, 1),
        "abuse_peak_rss_vs_idle": round(rss.peak / idle, 2),
        "honest_p99_ms_quiet": round(p99_quiet, 2),
        "honest_p99_ms_abuse": round(p99_abuse, 2),
        "honest_p99_ratio": round(p99_abuse / p99_quiet, 2),
        "honest_p50_ms_quiet": round(sorted(quiet)[len(quiet) // 2], 2),
        "honest_p50_ms_abuse": round(sorted(abused)[len(abused) // 2], 2),
        "attack_uploads_finished": counts[0],
        "attack_uploads_refused": counts[1],
        "attack_slow_connections_cut": counts[2],
        "node_survived": alive,
    }
