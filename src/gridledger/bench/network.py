"""``gridledger bench network``: a consortium's final throughput and finality latency, against
one embedded node doing the same work, on one machine in one run (loopback only).

What runs, every node as its own process (``gridledger node``, serving HTTPS with its
organisation's certificate, as ``gridledger network up`` starts it):

1. **the embedded node**: a one-organisation chain whose home has no ``network.json``, so the
   node orders its own blocks (its default 200 ms block interval, signature workers one per
   core). The load generator sends it ``embedded_txs`` transfers; ``embedded_tx_per_s`` is the
   committed transactions per second from the first submission until the last one is committed
   (an embedded node's block is final once committed);
2. **the network**: ``orgs`` organisations laid out by
   :func:`~gridledger.network.deploy.init_network` (an etcd member and a node each) and started
   by :func:`~gridledger.network.deploy.up`. The load runs for ``seconds``; then the run waits
   (at most ``drain_s``) for everything sent to become final, reads each node's and etcd
   member's figures, and :func:`~gridledger.network.deploy.down` stops every process, also
   after an error, Ctrl-C or SIGTERM.

The load generator is the same in both: ``orgs`` sender threads; sender ``g`` owns the accounts
``g, g + orgs, …`` and sends only through one node (``org-<g+1>``; in step 1 all through the
embedded node), as ``POST /v1/txs/batch`` of ``batch`` signed ``funds.transfer``s between
accounts funded in the genesis, to random recipients. Both chains share a chain id, so one
pool of transfers, signed before any clock starts, serves both. The load is closed-loop: a
sender keeps at most ``inflight / orgs`` transactions sent and not yet final, so no backlog
grows without bound (not even of blocks some nodes have not imported yet) and latency measures
the system, not a queue the generator built. The embedded run uses ``embedded_inflight``
(large: it measures the node's capacity).

Measurement, kept cheap for the nodes: one server-sent event stream (``/v1/events``) from the
first node maps each transaction to its block height; a thread polls that node's
``GET /v1/status`` every ``poll_ms`` and notes when ``final_height`` first covers each height.
A transaction's finality latency runs from the start of the POST that carried it to that poll's
answer (admission, ordering, execution on every node, attestations, and up to ``poll_ms`` of
polling). ``final_tx_per_s`` counts the transactions final by the end of the ``seconds``
window, over ``seconds``. ``replication_efficiency`` is ``final_tx_per_s * orgs /
embedded_tx_per_s``: every organisation executes (and checks the signature of) every
transaction, so 1.0 means the network costs nothing beyond that N-fold work.

Also reported, to find what limits the network: CPU time per role over the window (nodes with
their signature workers, etcd members, the load generator, everything else on the machine)
and per final transaction (``cpu_us_per_final_tx``, against the embedded node's
``node_cpu_us_per_tx``), etcd requests and fsyncs per block from the members' own
``/metrics``, each node's mean block commit time (``gridledger_block_commit_seconds``), and
each node's ``network`` status (``position``, ``lost_positions``, ``skipped``).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import signal
import socket
import ssl
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import msgspec
import psutil

from gridledger.bench.ledger import OPENING_BALANCE, PASSPHRASE, account_id, bench_key
from gridledger.contracts.genesis import GenesisAccount
from gridledger.core.crypto import sha256
from gridledger.core.types import Transaction
from gridledger.network import deploy
from gridledger.network.config import (
    NETWORK_NAME,
    NetworkConfig,
    read_config,
    tls_context,
    write_config,
)

Progress = Callable[[str, int, int], None]

EMBEDDED_RATE_HEADROOM = 2.0
"""The network's pool holds this many times the transfers the embedded rate divided among the
organisations would need (a network more efficient than that would run the pool dry, which
the result reports as ``pool_exhausted``)."""
STREAM_READ_TIMEOUT_S = 2.0
"""The event stream is re-opened (from the next height) after this long without a line."""


# the pool of signed transfers ---------------------------------------------------------------
class _Pool:
    """Signed transfers per sender, in the order that sender sends them."""

    def __init__(self, chain_id: str, accounts: int, senders: int, seed: int) -> None:
        self.chain_id = chain_id
        self.accounts = accounts
        self.keys = [bench_key(i) for i in range(accounts)]
        self.members = [list(range(g, accounts, senders)) for g in range(senders)]
        self.nonces = [0] * accounts
        self.turn = [0] * senders
        self.raws: list[list[bytes]] = [[] for _ in range(senders)]
        self.hashes: list[list[str]] = [[] for _ in range(senders)]
        self.rng = random.Random(seed)

    def genesis_accounts(self, org: str) -> list[GenesisAccount]:
        return [
            GenesisAccount(
                id=account_id(i), org=org, public_key=k.public_key, balance=OPENING_BALANCE
            )
            for i, k in enumerate(self.keys)
        ]

    def fill(self, per_sender: int, progress: Progress | None) -> None:
        """Sign until every sender has ``per_sender`` transfers (each account's nonces rise
        through its one sender's list)."""
        todo = sum(max(0, per_sender - len(r)) for r in self.raws)
        done = 0
        for g, members in enumerate(self.members):
            raws, hashes = self.raws[g], self.hashes[g]
            while len(raws) < per_sender:
                sender = members[self.turn[g] % len(members)]
                self.turn[g] += 1
                self.nonces[sender] += 1
                to = self.rng.randrange(self.accounts - 1)
                to = to + 1 if to >= sender else to
                tx = Transaction(
                    self.chain_id,
                    "funds.transfer",
                    account_id(sender),
                    self.nonces[sender],
                    {"to": account_id(to), "amount": self.rng.randrange(1, 10_000)},
                )
                tx.signature = self.keys[sender].sign(tx.signing_bytes())
                raw = tx.encode()
                raws.append(raw)
                hashes.append(sha256(raw).hex())
                done += 1
                if progress and done % 2000 == 0:
                    progress("sign", done, todo)
        if progress:
            progress("sign", todo, todo)


# one load run --------------------------------------------------------------------------------
class _TxEvent(msgspec.Struct):
    hash: str
    status: str | None = None


class _BlockEvent(msgspec.Struct):
    height: int
    txs: list[_TxEvent]


class _Item(msgspec.Struct):
    hash: str | None = None
    error: dict[str, Any] | None = None


class _Status(msgspec.Struct):
    height: int
    final_height: int


_block_event = msgspec.json.Decoder(_BlockEvent).decode
_batch_result = msgspec.json.Decoder(list[_Item]).decode
_status = msgspec.json.Decoder(_Status).decode
_JSON = {"content-type": "application/json"}


@dataclass
class _Load:
    """What one load run sent and saw; times are ``time.perf_counter()`` seconds."""

    start: float = 0.0
    end: float = 0.0
    """End of the sending window (the last answer, for a run of a fixed number of transfers)."""
    sent: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Transaction hash → (sender, start of the POST that carried it)."""
    height_of: dict[str, int] = field(default_factory=dict)
    committed_at: dict[int, float] = field(default_factory=dict)
    """Height → when the observed node's event stream delivered the block."""
    block_txs: dict[int, int] = field(default_factory=dict)
    final_at: dict[int, float] = field(default_factory=dict)
    """Height → the answer of the first status poll whose ``final_height`` covered it."""
    final_height: int = 0
    top_height: int = 0
    """The highest block that carried one of the transfers sent."""
    failed_receipts: int = 0
    refused: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    exhausted: bool = False

    def finality_s(self) -> list[float]:
        out = []
        for tx_hash, (_, sent_at) in self.sent.items():
            height = self.height_of.get(tx_hash)
            if height is not None and height in self.final_at:
                out.append(self.final_at[height] - sent_at)
        return out

    def commit_s(self) -> list[float]:
        return [
            self.committed_at[self.height_of[h]] - t
            for h, (_, t) in self.sent.items()
            if h in self.height_of
        ]

    def final_by(self, deadline: float) -> int:
        return sum(
            1
            for h in self.sent
            if h in self.height_of and self.final_at.get(self.height_of[h], math.inf) <= deadline
        )

    def all_final(self) -> bool:
        return len(self.height_of) == len(self.sent) and self.top_height <= self.final_height


class _Driver:
    """Runs the senders, the event stream and the status poller of one load run."""

    def __init__(
        self,
        urls: list[str],
        observer: str,
        verify: ssl.SSLContext,
        pool: _Pool,
        inflight: int,
        batch: int,
        poll_s: float,
    ) -> None:
        self.urls = urls
        self.observer = observer
        self.verify = verify
        self.pool = pool
        self.window = max(1, inflight // len(urls))
        self.batch = max(1, min(batch, self.window))
        self.poll_s = poll_s
        self.load = _Load()
        self.outstanding = [0] * len(urls)
        """Per sender: transactions sent and not yet final."""
        self.waiting: dict[int, list[int]] = {}
        """Height → per sender, its transactions in that block (until the block is final)."""
        self.cond = threading.Condition()
        self.stop_sending = threading.Event()
        self.closing = threading.Event()

    def _client(self, url: str, read_timeout_s: float = 60.0) -> httpx.Client:
        # trust_env off: REQUESTS_CA_BUNDLE and proxies from the environment stay out of it
        return httpx.Client(
            base_url=url,
            verify=self.verify,
            trust_env=False,
            timeout=httpx.Timeout(10.0, read=read_timeout_s),
        )

    # senders -----------------------------------------------------------------------------------
    def send(self, g: int, limit: int) -> None:
        load = self.load
        raws, hashes = self.pool.raws[g], self.pool.hashes[g]
        limit = min(limit, len(raws))
        i = 0
        with self._client(self.urls[g]) as http:
            while i < limit and not self.stop_sending.is_set():
                # top the sender's share up to its window, in pieces of at least a quarter batch
                least = min(max(1, self.batch // 4), limit - i)
                with self.cond:
                    while (
                        self.window - self.outstanding[g] < least and not self.stop_sending.is_set()
                    ):
                        self.cond.wait(0.1)
                    if self.stop_sending.is_set():
                        return
                    n = min(self.batch, limit - i, self.window - self.outstanding[g])
                    sent_at = time.perf_counter()
                    for tx_hash in hashes[i : i + n]:
                        load.sent[tx_hash] = (g, sent_at)
                    self.outstanding[g] += n
                body = b"[" + b",".join(raws[i : i + n]) + b"]"
                try:
                    answer = http.post("/v1/txs/batch", content=body, headers=_JSON)
                    answer.raise_for_status()
                    items = _batch_result(answer.content)
                except (httpx.HTTPError, msgspec.DecodeError) as exc:
                    with self.cond:
                        for tx_hash in hashes[i : i + n]:
                            load.sent.pop(tx_hash, None)
                        self.outstanding[g] -= n
                        load.errors.append(f"{self.urls[g]}: {type(exc).__name__}: {exc}")
                    self.stop_sending.set()
                    return
                refused = [(k, item.error) for k, item in enumerate(items) if item.error]
                if refused:
                    with self.cond:
                        for k, error in refused:
                            load.sent.pop(hashes[i + k], None)
                            self.outstanding[g] -= 1
                            load.refused.append(str(error.get("code")))
                i += n
                load.end = max(load.end, time.perf_counter())
        if i >= len(raws):
            load.exhausted = True

    # observing ---------------------------------------------------------------------------------
    def stream_blocks(self) -> None:
        """Map transactions to heights from the observed node's event stream."""
        next_height = 1
        with self._client(self.observer, STREAM_READ_TIMEOUT_S) as http:
            while not self.closing.is_set():
                try:
                    with http.stream(
                        "GET", "/v1/events", params={"from_height": next_height}
                    ) as answer:
                        answer.raise_for_status()
                        event = ""
                        for line in answer.iter_lines():
                            if line.startswith("event:"):
                                event = line[6:].strip()
                            elif line.startswith("data:") and event == "block":
                                block = _block_event(line[5:])
                                self._committed(block, time.perf_counter())
                                next_height = block.height + 1
                            if self.closing.is_set():
                                return
                except (httpx.HTTPError, msgspec.DecodeError):
                    # a quiet stream timed out (or the node is going away): open it again
                    if not self.closing.is_set():
                        time.sleep(0.05)

    def _committed(self, block: _BlockEvent, now: float) -> None:
        load = self.load
        with self.cond:
            load.committed_at.setdefault(block.height, now)
            load.block_txs[block.height] = len(block.txs)
            waiting = self.waiting.setdefault(block.height, [0] * len(self.urls))
            for tx in block.txs:
                got = load.sent.get(tx.hash)
                if got is None or tx.hash in load.height_of:
                    continue
                load.height_of[tx.hash] = block.height
                load.top_height = max(load.top_height, block.height)
                waiting[got[0]] += 1
                if tx.status != "ok":
                    load.failed_receipts += 1
            if block.height <= load.final_height:
                self._release(block.height)
            self.cond.notify_all()

    def _release(self, height: int) -> None:
        """Free the senders' places taken by the transactions of ``height``, now final."""
        for g, n in enumerate(self.waiting.pop(height, ())):
            self.outstanding[g] -= n

    def poll_finality(self) -> None:
        """Note when the observed node's final height first covers each height."""
        load = self.load
        with self._client(self.observer, 10.0) as http:
            while not self.closing.is_set():
                asked = time.perf_counter()
                try:
                    status = _status(http.get("/v1/status").content)
                except (httpx.HTTPError, msgspec.DecodeError):
                    time.sleep(self.poll_s)
                    continue
                now = time.perf_counter()
                final = min(status.final_height, status.height)
                if final > load.final_height:
                    with self.cond:
                        for height in range(load.final_height + 1, final + 1):
                            load.final_at[height] = now
                            self._release(height)
                        load.final_height = final
                        self.cond.notify_all()
                time.sleep(max(0.0, self.poll_s - (time.perf_counter() - asked)))

    # a run -------------------------------------------------------------------------------------
    def run(
        self,
        per_sender: int,
        seconds: float | None,
        drain_s: float,
        phase: str,
        progress: Progress | None,
        at_start: Callable[[], None] | None = None,
        at_end: Callable[[], None] | None = None,
        at_final: Callable[[], None] | None = None,
    ) -> _Load:
        """Send ``per_sender`` transfers per sender (for ``seconds`` at most, if given), then
        wait up to ``drain_s`` for everything sent to become final. ``at_start`` runs just
        before the first transfer is sent, ``at_end`` when sending stopped, ``at_final`` when
        everything sent was final (or the drain timed out)."""
        load = self.load
        observers = [
            threading.Thread(target=self.stream_blocks, name="bench-events", daemon=True),
            threading.Thread(target=self.poll_finality, name="bench-finality", daemon=True),
        ]
        for t in observers:
            t.start()
        senders = [
            threading.Thread(target=self.send, args=(g, per_sender), name=f"bench-send-{g}",
                             daemon=True)
            for g in range(len(self.urls))
        ]  # fmt: skip
        try:
            if at_start is not None:
                at_start()
            load.start = load.end = time.perf_counter()
            for t in senders:
                t.start()
            total = per_sender * len(self.urls)
            while any(t.is_alive() for t in senders):
                elapsed = time.perf_counter() - load.start
                if seconds is not None and elapsed >= seconds:
                    break
                if progress:
                    if seconds is None:
                        progress(phase, len(load.height_of), total)
                    else:
                        progress(phase, int(elapsed), int(seconds))
                time.sleep(0.1)
            self.stop_sending.set()
            if seconds is not None:
                load.end = load.start + seconds
            if at_end is not None:
                at_end()
            with self.cond:
                self.cond.notify_all()
            for t in senders:
                t.join()
            deadline = time.perf_counter() + drain_s
            while time.perf_counter() < deadline:
                with self.cond:
                    if load.all_final():
                        break
                time.sleep(0.02)
            if at_final is not None:
                at_final()
        finally:
            self.stop_sending.set()
            self.closing.set()
            for t in [*senders, *observers]:
                if t.ident is not None:
                    t.join(timeout=STREAM_READ_TIMEOUT_S + 1)
        return load


# the machine's processes ---------------------------------------------------------------------
def _cpu_s(pids: list[int], children: bool) -> float:
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            procs = [proc, *(proc.children(recursive=True) if children else [])]
            for p in procs:
                try:
                    t = p.cpu_times()
                    total += t.user + t.system
                except psutil.Error:
                    continue
        except psutil.Error:
            continue
    return total


class _CpuMeter:
    """CPU seconds of the nodes (with their signature workers), the etcd members, this
    process and the whole machine, between two readings."""

    def __init__(self, nodes: list[int], members: list[int]) -> None:
        self.nodes = nodes
        self.members = members
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        me = psutil.Process()
        mine = me.cpu_times()
        machine = psutil.cpu_times()
        return {
            "nodes": _cpu_s(self.nodes, children=True),
            "etcd": _cpu_s(self.members, children=False),
            "load_generator": mine.user + mine.system,
            # guest time is already inside user time; steal and I/O wait are nobody's work here
            "machine": machine.user
            + machine.nice
            + machine.system
            + getattr(machine, "irq", 0.0)
            + getattr(machine, "softirq", 0.0),
            "wall": time.perf_counter(),
        }

    def start(self) -> None:
        self.first = self._read()

    def stop(self) -> None:
        self.last = self._read()

    def seconds(self, role: str) -> float:
        """CPU seconds ``role`` used over the interval."""
        if not self.first or not self.last:
            return 0.0
        return self.last[role] - self.first[role]

    def cores(self) -> dict[str, float]:
        """Each role's average number of busy cores over the interval."""
        if not self.first or not self.last:
            return {}
        wall = max(self.last["wall"] - self.first["wall"], 1e-9)
        used = {k: (self.last[k] - self.first[k]) / wall for k in self.first if k != "wall"}
        ours = used["nodes"] + used["etcd"] + used["load_generator"]
        return {
            "nodes": round(used["nodes"], 2),
            "etcd": round(used["etcd"], 2),
            "load_generator": round(used["load_generator"], 2),
            "other_processes": round(max(0.0, used["machine"] - ours), 2),
            "machine_busy_fraction": round(used["machine"] / (os.cpu_count() or 1), 3),
        }


def _pid(path: Path) -> list[int]:
    try:
        return [int(path.read_text())]
    except (OSError, ValueError):
        return []


def _prometheus(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        with contextlib.suppress(ValueError):
            out[name] = float(value)
    return out


def _scrape(url: str, verify: ssl.SSLContext) -> dict[str, float]:
    try:
        with httpx.Client(verify=verify, trust_env=False, timeout=5) as http:
            return _prometheus(http.get(url).raise_for_status().text)
    except httpx.HTTPError:
        return {}


_ETCD_COUNTERS = (
    "etcd_mvcc_range_total",
    "etcd_mvcc_put_total",
    "etcd_mvcc_delete_total",
    "etcd_server_proposals_committed_total",
    "etcd_disk_wal_fsync_duration_seconds_count",
    "etcd_disk_wal_fsync_duration_seconds_sum",
    "etcd_disk_backend_commit_duration_seconds_count",
)


def _etcd_counters(consortium: deploy.Consortium, verify: ssl.SSLContext) -> list[dict[str, float]]:
    rows = []
    for org in consortium.orgs:
        got = _scrape(f"{org.client_url}/metrics", verify)
        rows.append({name: got.get(name, 0.0) for name in _ETCD_COUNTERS})
    return rows


def _etcd_per_block(
    before: list[dict[str, float]], after: list[dict[str, float]], blocks: int
) -> dict[str, float]:
    """etcd's work over the window per block: reads served (summed over the members, each
    serves its own organisation's node), writes agreed by Raft (the same on every member; the
    first member's count), and one member's WAL fsyncs and their mean duration."""
    if not before or not after:
        return {}
    per = max(blocks, 1)

    def delta(name: str, member: int) -> float:
        return after[member][name] - before[member][name]

    reads = sum(delta("etcd_mvcc_range_total", m) for m in range(len(after)))
    writes = delta("etcd_server_proposals_committed_total", 0)
    fsyncs = delta("etcd_disk_wal_fsync_duration_seconds_count", 0)
    fsync_s = delta("etcd_disk_wal_fsync_duration_seconds_sum", 0)
    return {
        "reads_per_block": round(reads / per, 1),
        "raft_writes_per_block": round(writes / per, 1),
        "puts_per_block": round(delta("etcd_mvcc_put_total", 0) / per, 1),
        "wal_fsyncs_per_block": round(fsyncs / per, 1),
        "wal_fsync_ms_mean": round(fsync_s / fsyncs * 1000, 2) if fsyncs else 0.0,
    }


# set-up --------------------------------------------------------------------------------------
def _ports_free(ports: list[int]) -> bool:
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def _ephemeral_low() -> int:
    """The lowest port the kernel hands out to outgoing connections (32768 by default)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_base_port(orgs: int, rng: random.Random | None = None) -> int:
    """A base port under which every port :func:`~gridledger.network.deploy.init_network`
    gives ``orgs`` organisations (etcd client and peer, API) is free on loopback now. The
    range lies below the kernel's ephemeral ports, so no outgoing connection takes one of
    them between this check and the processes binding them."""
    rng = rng or random.Random()
    top = max(_ephemeral_low(), 12_000) - 10 * (orgs + 1)
    for _ in range(200):
        base = rng.randrange(10_000, top, 10)
        ports = [base + 10 * i + k for i in range(1, orgs + 1) for k in range(3)]
        if _ports_free(ports):
            return base
    raise RuntimeError("found no free range of loopback ports for the network")


def _client_tls(root: Path, org: str) -> ssl.SSLContext:
    tls = root / org / "tls"
    return tls_context(str(tls / "ca.crt"), str(tls / f"{org}.crt"), str(tls / f"{org}.key"))


def _wait_api(
    url: str, verify: ssl.SSLContext, log: Path, pid_path: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(verify=verify, trust_env=False, timeout=2) as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                http.get(f"{url}/v1/status").raise_for_status()
                return
            pids = _pid(pid_path)
            if not pids or not psutil.pid_exists(pids[0]):
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"the embedded node exited:\n{tail}")
            time.sleep(0.2)
    raise RuntimeError(f"the embedded node did not answer within {timeout_s:.0f} s")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt here (on the main thread), so the network is torn
    down as after Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _tune(root: Path, consortium: deploy.Consortium, settings: dict[str, int]) -> None:
    for org in consortium.orgs:
        home = root / org.id
        config = read_config(home)
        assert config is not None
        for name, value in settings.items():
            setattr(config, name, value)
        write_config(home, config)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _latencies(values: list[float]) -> dict[str, float]:
    return {
        "p50_s": round(_percentile(values, 0.5), 3),
        "p99_s": round(_percentile(values, 0.99), 3),
        "max_s": round(max(values), 3) if values else 0.0,
    }


def _blocks_in(load: _Load, start: float, end: float) -> list[int]:
    return sorted(h for h, t in load.committed_at.items() if start <= t <= end)


# the two runs --------------------------------------------------------------------------------
def _embedded_run(
    base: Path,
    pool: _Pool,
    txs: int,
    inflight: int,
    batch: int,
    poll_s: float,
    drain_s: float,
    progress: Progress | None,
) -> dict[str, Any]:
    root = base / "embedded"
    senders = len(pool.raws)
    deploy.init_network(
        root, 1, PASSPHRASE, chain_id=pool.chain_id, base_port=free_base_port(1),
        accounts=pool.genesis_accounts("org-1"),
    )  # fmt: skip
    # without network.json the node orders its own blocks: an embedded node
    (root / "org-1" / NETWORK_NAME).unlink()
    consortium = deploy.read_consortium(root)
    url = consortium.orgs[0].api_url
    verify = _client_tls(root, "org-1")
    try:
        deploy.start_node(root, "org-1", PASSPHRASE)
        home = root / "org-1"
        _wait_api(url, verify, home / "node.log", home / "node.pid", 60)
        meter = _CpuMeter(_pid(home / "node.pid"), [])
        driver = _Driver([url] * senders, url, verify, pool, inflight, batch, poll_s)
        load = driver.run(math.ceil(txs / senders), None, drain_s, "embedded", progress,
                          at_start=meter.start, at_final=meter.stop)  # fmt: skip
    finally:
        deploy.down(root)
    if load.errors:
        raise RuntimeError(f"the embedded node failed a request: {load.errors[0]}")
    if load.refused:
        raise RuntimeError(f"{len(load.refused)} transfers refused, e.g. {load.refused[0]}")
    if not load.final_at or not load.all_final():
        raise RuntimeError("the embedded node did not commit every transfer in time")
    elapsed = load.final_at[load.top_height] - load.start
    blocks = sorted(set(load.height_of.values()))
    return {
        "tx_per_s": round(len(load.sent) / elapsed, 1),
        "txs": len(load.sent),
        "elapsed_s": round(elapsed, 3),
        "inflight": inflight,
        "blocks": len(blocks),
        "txs_per_block_mean": round(statistics.mean(load.block_txs[h] for h in blocks), 1)
        if blocks
        else 0.0,
        "latency": _latencies(load.finality_s()),
        "failed_receipts": load.failed_receipts,
        "cpu_cores": meter.cores(),
        "node_cpu_us_per_tx": round(meter.seconds("nodes") / len(load.sent) * 1e6, 1),
    }


def _network_run(
    base: Path,
    pool: _Pool,
    orgs: int,
    seconds: float,
    per_sender: int,
    inflight: int,
    batch: int,
    poll_s: float,
    drain_s: float,
    settings: dict[str, int],
    progress: Progress | None,
) -> tuple[_Load, dict[str, Any]]:
    root = base / "network"
    consortium = deploy.init_network(
        root, orgs, PASSPHRASE, chain_id=pool.chain_id, base_port=free_base_port(orgs),
        accounts=pool.genesis_accounts("org-1"),
    )  # fmt: skip
    if settings:
        _tune(root, consortium, settings)
    urls = [o.api_url for o in consortium.orgs]
    verify = _client_tls(root, consortium.orgs[0].id)
    extra: dict[str, Any] = {}
    try:
        try:
            deploy.up(root, PASSPHRASE, timeout_s=60 + 10 * orgs)
        except TimeoutError as exc:
            raise RuntimeError(str(exc)) from None
        meter = _CpuMeter(
            [p for o in consortium.orgs for p in _pid(root / o.id / "node.pid")],
            [p for o in consortium.orgs for p in _pid(root / o.id / "etcd.pid")],
        )
        etcd_before: list[dict[str, float]] = []
        etcd_after: list[dict[str, float]] = []

        def at_start() -> None:
            etcd_before.extend(_etcd_counters(consortium, verify))
            meter.start()

        def at_end() -> None:
            meter.stop()
            etcd_after.extend(_etcd_counters(consortium, verify))

        driver = _Driver(urls, urls[0], verify, pool, inflight, batch, poll_s)
        load = driver.run(per_sender, seconds, drain_s, "network", progress, at_start, at_end)
        blocks = len(_blocks_in(load, load.start, load.end))
        extra["cpu_cores"] = meter.cores()
        final = max(load.final_by(load.end), 1)
        extra["cpu_us_per_final_tx"] = {
            role: round(meter.seconds(role) / final * 1e6, 1) for role in ("nodes", "etcd")
        }
        extra["etcd"] = _etcd_per_block(etcd_before, etcd_after, blocks)
        nodes: list[dict[str, Any]] = []
        for row in deploy.status(root)["orgs"]:
            metrics = _scrape(f"{consortium.orgs[len(nodes)].api_url}/metrics", verify)
            count = metrics.get("gridledger_block_commit_seconds_count", 0.0)
            total = metrics.get("gridledger_block_commit_seconds_sum", 0.0)
            network = row.get("network") or {}
            nodes.append(
                {
                    "org": row["org"],
                    "height": row.get("height"),
                    "final_height": row.get("final_height"),
                    "halted": row.get("halted"),
                    "position": network.get("position"),
                    "lost_positions": network.get("lost_positions"),
                    "skipped": network.get("skipped"),
                    "block_commit_ms_mean": round(total / count * 1000, 1) if count else 0.0,
                }
            )
        extra["nodes"] = nodes
    finally:
        deploy.down(root)
    return load, extra


def run_network_bench(
    orgs: int = 4,
    seconds: float = 30.0,
    accounts: int = 2000,
    batch: int = 200,
    inflight: int = 2000,
    embedded_txs: int = 40_000,
    embedded_inflight: int = 8000,
    turn_grace_ms: int | None = None,
    fill_ms: int | None = None,
    window: int | None = None,
    poll_ms: int = 25,
    drain_s: float = 30.0,
    home: Path | None = None,
    seed: int = 1,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Measure an embedded node, then a network of ``orgs`` organisations under a steady
    load for ``seconds``, and compare them (see the module's documentation)."""
    if orgs < 1:
        raise ValueError("a network has at least one organisation")
    if accounts < 2 * orgs:
        raise ValueError("give at least two accounts per organisation")
    if seconds <= 0 or embedded_txs < 1 or inflight < orgs or batch < 1:
        raise ValueError("seconds, embedded transfers, in-flight and batch must be positive")
    settings = {
        name: value
        for name, value in (("turn_grace_ms", turn_grace_ms), ("fill_ms", fill_ms),
                            ("window", window))
        if value is not None
    }  # fmt: skip
    tmp = None
    if home is None:
        tmp = tempfile.TemporaryDirectory(prefix="gridledger-bench-net-")
        base = Path(tmp.name)
    else:
        base = home
        base.mkdir(parents=True, exist_ok=True)
    poll_s = poll_ms / 1000
    try:
        with _sigterm_as_interrupt():
            pool = _Pool(f"gridledger-bench-net-{os.urandom(4).hex()}", accounts, orgs, seed)
            pool.fill(math.ceil(embedded_txs / orgs), progress)
            embedded = _embedded_run(base, pool, embedded_txs, embedded_inflight, batch,
                                     poll_s, drain_s, progress)  # fmt: skip
            # enough for the network to be EMBEDDED_RATE_HEADROOM times as efficient as the
            # embedded node, plus what is in flight when the window closes
            need = EMBEDDED_RATE_HEADROOM * embedded["tx_per_s"] * seconds / orgs + inflight
            per_sender = math.ceil(need / orgs)
            pool.fill(per_sender, progress)
            load, extra = _network_run(base, pool, orgs, seconds, per_sender, inflight, batch,
                                       poll_s, drain_s, settings, progress)  # fmt: skip
    finally:
        if tmp is not None:
            tmp.cleanup()
    if load.errors:
        raise RuntimeError(f"a node failed a request: {load.errors[0]}")
    if load.refused:
        raise RuntimeError(f"{len(load.refused)} transfers refused, e.g. {load.refused[0]}")
    final_tx_per_s = round(load.final_by(load.end) / seconds, 1)
    embedded_tx_per_s = embedded["tx_per_s"]
    finality = load.finality_s()
    commit = load.commit_s()
    blocks = _blocks_in(load, load.start, load.end)
    per_block = [load.block_txs[h] for h in blocks]
    defaults = NetworkConfig(etcd=[])
    config = {"turn_grace_ms": defaults.turn_grace_ms, "fill_ms": defaults.fill_ms,
              "window": defaults.window, **settings}  # fmt: skip
    return {
        "orgs": orgs,
        "seconds": seconds,
        "final_tx_per_s": final_tx_per_s,
        "finality_p50_s": round(_percentile(finality, 0.5), 3),
        "finality_p99_s": round(_percentile(finality, 0.99), 3),
        "embedded_tx_per_s": embedded_tx_per_s,
        "replication_efficiency": round(final_tx_per_s * orgs / embedded_tx_per_s, 3),
        "sent": len(load.sent),
        "final_in_window": load.final_by(load.end),
        "final_after_drain": len(finality),
        "not_final": len(load.sent) - len(finality),
        "failed_receipts": load.failed_receipts,
        "pool_exhausted": load.exhausted,
        "finality_max_s": round(max(finality), 3) if finality else 0.0,
        "commit_p50_s": round(_percentile(commit, 0.5), 3),
        "commit_p99_s": round(_percentile(commit, 0.99), 3),
        "blocks": len(blocks),
        "txs_per_block_mean": round(statistics.mean(per_block), 1) if per_block else 0.0,
        "block_interval_ms_mean": round(seconds / len(blocks) * 1000, 1) if blocks else 0.0,
        "nodes": extra.get("nodes", []),
        "etcd": extra.get("etcd", {}),
        "cpu_cores": extra.get("cpu_cores", {}),
        "cpu_us_per_final_tx": extra.get("cpu_us_per_final_tx", {}),
        "embedded": embedded,
        "load": {
            "accounts": accounts,
            "batch": min(batch, max(1, inflight // orgs)),
            "inflight": inflight,
            "poll_ms": poll_ms,
        },
        "network_settings": config,
    }
