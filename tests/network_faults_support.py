"""A consortium of real processes for fault tests: a steady load and a checker.

- :class:`ProcessNetwork`: a network laid out by ``gridledger network init`` (library calls of
  :mod:`gridledger.network.deploy`), its etcd members and nodes running as background processes
  (``up`` starts whatever is down), with helpers to signal a node or a member (SIGKILL,
  SIGSTOP, SIGCONT to its whole process group), to find the etcd leader, and to ask the nodes'
  APIs over TLS. :meth:`ProcessNetwork.close` always stops everything, however a test ended.
- :class:`Load`: one thread per sender, each signing ``funds.mint`` transactions (an operator
  minting to itself) with rising nonces. A *pinned* sender sends each transaction to one node
  (so its nonces rise through that node's queue); a *broadcast* sender sends each one to every
  node at once and waits until it is committed before sending its next (so no node ever holds
  a later nonce of it before an earlier one is settled). Every acknowledged submission (HTTP
  202 or 200 with the transaction's hash) is recorded with the nodes that acknowledged it and
  when.
- :func:`check_final`: once the load stopped and the network is quiet, proves that every
  acknowledged transaction is final exactly once on every honest node: ``GET /v1/txs/{hash}``
  gives the same height, index and block hash everywhere, ``GET /v1/blocks/{h}/header`` says
  ``final: true`` with that hash, every node holds the same blocks up to the common final
  height with the same state root there, and no transaction hash appears twice in the chain.

An acknowledgement only promises that the node queued the transaction. A node's queue lives in
its memory: a transaction acknowledged by a node that was SIGKILLed afterwards (or by a node
that is not honest) may be lost, and is then excused, but if it was committed anywhere it must
be committed alike everywhere. Every other acknowledged transaction must be final.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from gridledger.core.crypto import SigningKey
from gridledger.core.keystore import load_key
from gridledger.core.types import Transaction
from gridledger.network import deploy
from gridledger.network import etcd as etcd_mod
from gridledger.network.config import read_config, tls_context, write_config
from gridledger.network.log import Endpoint, EtcdLog
from gridledger.network.pki import TlsFiles
from gridledger.node.home import key_path

PASSPHRASE = "fault-test passphrase"
KINDS = ("node", "etcd")
T = TypeVar("T")

_open: set[Path] = set()
"""Roots of the networks this process created and has not closed yet."""


@atexit.register
def _close_left_open() -> None:
    """Stop the processes of any network a run left behind (interrupted, or a fixture that
    never got to its teardown); a process killed outright leaves them running, see
    ``gridledger network down``."""
    for root in list(_open):
        with contextlib.suppress(Exception):
            deploy.down(root, grace_s=1.0)


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout_s: float,
    what: str,
    interval_s: float = 0.1,
    details: Callable[[], str] | None = None,
) -> T:
    """Call ``probe`` until it returns something true; raise AssertionError after
    ``timeout_s`` naming ``what`` (with ``details()`` to say what the network looked like)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = "" if details is None else "\n" + details()
            raise AssertionError(f"{what}: not within {timeout_s:.0f} s{extra}")
        time.sleep(interval_s)


def free_base_port(orgs: int, host: str = "127.0.0.1") -> int:
    """A base port whose organisation ports (base+10i, +1, +2 for i in 1..orgs) are all free on
    ``host`` now, below the kernel's ephemeral range."""
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    span = 10 * orgs + 3
    bases = list(range(20_000, low - span, 10 * orgs + 10))
    start = os.getpid() % len(bases)  # concurrent runs start at different places
    for base in bases[start:] + bases[:start]:
        ports = [base + 10 * i + k for i in range(1, orgs + 1) for k in range(3)]
        if all(_port_free(host, p) for p in ports):
            return base
    raise RuntimeError("no free block of ports for a network")


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


# -- the network ----------------------------------------------------------------------------------


@dataclass
class ProcessNetwork:
    """A consortium whose members and nodes run as processes (see the module docstring)."""

    root: Path
    consortium: deploy.Consortium
    keys: dict[str, SigningKey]
    """Each operator's key (``org-N.operator``)."""
    nonces: dict[str, int] = field(default_factory=dict)
    """The last nonce each sender used, so loads of successive tests keep rising."""
    checked_height: int = 0
    """Blocks up to here were checked by an earlier :func:`check_final`."""
    chain_txs: dict[str, int] = field(default_factory=dict)
    """Transaction hash to height, of every block checked so far."""
    started: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(
        cls,
        root: Path,
        orgs: int = 4,
        *,
        window: int | None = None,
        prune_every: int | None = None,
        hosts: Sequence[str] | None = None,
        netns: Sequence[str] | None = None,
    ) -> ProcessNetwork:
        """``network init`` in ``root``, then each organisation's ``network.json`` edited for
        the given pruning window (as an operator would)."""
        # a namespace of its own gives each organisation all its ports
        base = free_base_port(orgs) if netns is None else 24_000
        consortium = deploy.init_network(
            root, orgs, PASSPHRASE, base_port=base, hosts=hosts, netns=netns
        )
        for org in consortium.orgs:
            home = root / org.id
            config = read_config(home)
            assert config is not None
            if window is not None:
                config.window = window
            if prune_every is not None:
                config.prune_every = prune_every
            write_config(home, config)
        _open.add(root)
        keys = {
            o.id: load_key(key_path(root / o.id, f"{o.id}.operator"), PASSPHRASE)
            for o in consortium.orgs
        }
        return cls(root, consortium, keys)

    # where things are ---------------------------------------------------------------------------
    @property
    def orgs(self) -> list[str]:
        return [o.id for o in self.consortium.orgs]

    @property
    def chain_id(self) -> str:
        return self.consortium.chain_id

    def ports(self, org: str) -> deploy.OrgPorts:
        return next(o for o in self.consortium.orgs if o.id == org)

    def home(self, org: str) -> Path:
        return self.root / org

    def ca(self) -> str:
        return str(self.root / self.orgs[0] / "tls" / "ca.crt")

    def tls(self, org: str) -> TlsFiles:
        tls = self.home(org) / "tls"
        return TlsFiles(tls / "ca.crt", tls / f"{org}.crt", tls / f"{org}.key")

    def client(self, org: str, timeout_s: float = 3.0) -> httpx.Client:
        """An HTTPS client for ``org``'s node API (the consortium CA alone is trusted)."""
        return httpx.Client(
            base_url=self.ports(org).api_url,
            verify=tls_context(self.ca()),
            timeout=httpx.Timeout(timeout_s, connect=1.0),
            trust_env=False,
        )

    def log_tail(self, org: str, kind: str = "node", chars: int = 3000) -> str:
        try:
            return (self.home(org) / f"{kind}.log").read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    # processes ----------------------------------------------------------------------------------
    def up(self, timeout_s: float = 60.0) -> None:
        """``network up``: start every member and node that is not running; wait for the APIs."""
        deploy.up(self.root, PASSPHRASE, timeout_s=timeout_s)

    def pid(self, org: str, kind: str) -> int | None:
        return deploy._alive(self.home(org) / f"{kind}.pid")

    def signal(self, org: str, kind: str, sig: signal.Signals) -> None:
        """Send ``sig`` to the process group of ``org``'s node or member (it leads one)."""
        pid = self.pid(org, kind)
        assert pid is not None, f"{org} {kind} is not running"
        os.killpg(pid, sig)

    def kill(self, org: str, kind: str) -> float:
        """SIGKILL ``org``'s node or member (its whole group); returns when it is gone (the
        monotonic time it was certainly dead)."""
        pid = self.pid(org, kind)
        assert pid is not None, f"{org} {kind} is not running"
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # ours (started by up): reap it
            if deploy._alive(self.home(org) / f"{kind}.pid") is None:
                return time.monotonic()
            time.sleep(0.02)
        raise AssertionError(f"{org} {kind} (pid {pid}) survived SIGKILL")

    def close(self) -> None:
        """Stop everything, whatever state it is in (paused processes are resumed first)."""
        for org in self.orgs:
            for kind in KINDS:
                pid = self.pid(org, kind)
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGCONT)
        with contextlib.suppress(Exception):
            deploy.down(self.root, grace_s=2.0)
        for org in self.orgs:  # anything down left behind (it SIGKILLs by group, but check)
            for kind in KINDS:
                pid = self.pid(org, kind)
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGKILL)
        for proc in [p for procs in self.started.values() for p in procs]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        _open.discard(self.root)

    def resume_all(self) -> None:
        """SIGCONT to every running process (a test that failed may have left one stopped)."""
        for org in self.orgs:
            for kind in KINDS:
                pid = self.pid(org, kind)
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGCONT)

    def start_node_with(self, org: str, argv: list[str]) -> int:
        """Start ``org``'s node from ``argv`` (a variant of ``gridledger node``) as ``up``
        would: its own session, logs in node.log, pid in node.pid (so ``down`` stops it)."""
        home = self.home(org)
        env = {**os.environ, "GRIDLEDGER_PASSPHRASE": PASSPHRASE}
        with (home / "node.log").open("ab") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        (home / "node.pid").write_text(str(proc.pid))
        self.started.setdefault(org, []).append(proc)
        return proc.pid

    # asking the nodes -------------------------------------------------------------------------
    def status(self, org: str, timeout_s: float = 2.0) -> dict[str, Any] | None:
        """``GET /v1/status`` of ``org``'s node, None when it does not answer."""
        try:
            with self.client(org, timeout_s) as http:
                got: dict[str, Any] = http.get("/v1/status").raise_for_status().json()
                return got
        except (httpx.HTTPError, ValueError):
            return None

    def statuses(self, orgs: Iterable[str] | None = None) -> dict[str, dict[str, Any] | None]:
        chosen = list(self.orgs if orgs is None else orgs)
        with ThreadPoolExecutor(len(chosen)) as pool:
            return dict(zip(chosen, pool.map(self.status, chosen), strict=True))

    def heights(self, orgs: Iterable[str] | None = None) -> dict[str, int | None]:
        """Each node's committed height (None when it does not answer)."""
        return {o: None if s is None else s["height"] for o, s in self.statuses(orgs).items()}

    def final_heights(self, orgs: Iterable[str] | None = None) -> dict[str, int | None]:
        return {o: None if s is None else s["final_height"] for o, s in self.statuses(orgs).items()}

    def describe(self, orgs: Iterable[str] | None = None) -> str:
        """What each node says about itself, and the end of its log: for failure messages."""
        lines = []
        for org, st in self.statuses(orgs).items():
            brief = (
                None
                if st is None
                else {
                    k: st.get(k) for k in ("height", "final_height", "pending", "halted", "network")
                }
            )
            lines.append(f"{org}: {brief}")
        for org in self.orgs if orgs is None else orgs:
            tail = self.log_tail(org, chars=1500).strip()
            if tail:
                lines.append(f"--- {org} node.log (end) ---\n{tail}")
        return "\n".join(lines)

    def wait_progress(self, orgs: Sequence[str], blocks: int, timeout_s: float = 30.0) -> None:
        """Until each of ``orgs`` finalised ``blocks`` more blocks than it had now."""
        start = self.final_heights(orgs)
        assert all(h is not None for h in start.values()), start

        def moved() -> bool:
            now = self.final_heights(orgs)
            return all((now[o] or 0) >= (start[o] or 0) + blocks for o in orgs)

        wait_for(
            moved,
            timeout_s=timeout_s,
            what=f"{blocks} more final blocks on {orgs}",
            interval_s=0.2,
            details=lambda: self.describe(orgs),
        )

    # etcd ---------------------------------------------------------------------------------------
    def member_client(self, org: str, timeout_s: float = 2.0) -> etcd_mod.FailoverClient:
        """A client of ``org``'s member alone, with ``org``'s certificate."""
        return etcd_mod.FailoverClient(
            [self.ports(org).client_url], tls=self.tls(org), timeout_s=timeout_s
        )

    def etcd_leader(self, orgs: Iterable[str] | None = None) -> str | None:
        """The leader's name as the members asked see it (the answer of the highest term)."""
        best: tuple[int, int] | None = None
        names: dict[int, str] = {}
        for org in self.orgs if orgs is None else orgs:
            if self.pid(org, "etcd") is None:
                continue
            client = self.member_client(org)
            try:
                answer = etcd_mod.status(client)
                names = names or etcd_mod.member_ids(client)
            except Exception:
                continue
            finally:
                client.session.close()
            term, leader = int(answer.get("raftTerm", 0)), int(answer.get("leader", 0))
            if leader and (best is None or term > best[0]):
                best = (term, leader)
        return None if best is None else names.get(best[1])

    def etcd_healthy(self, org: str) -> bool:
        client = self.member_client(org)
        try:
            return etcd_mod.health(client, timeout_s=1.0)
        finally:
            client.session.close()

    def wait_etcd_healthy(self, timeout_s: float = 30.0) -> None:
        """Until every member reports healthy (it has a leader and answers a read)."""
        wait_for(
            lambda: all(self.etcd_healthy(o) for o in self.orgs),
            timeout_s=timeout_s,
            what="every etcd member healthy",
        )

    def etcd_log(self, org: str) -> EtcdLog:
        """The chain's ordering log as ``org`` reaches it (its own member first)."""
        config = read_config(self.home(org))
        assert config is not None
        tls = self.tls(org)
        endpoints = [
            Endpoint(m.url, str(tls.ca_cert), str(tls.cert), str(tls.key)) for m in config.etcd
        ]
        return EtcdLog(endpoints, self.chain_id, prefix=config.prefix)

    # transactions -----------------------------------------------------------------------------
    def mint(self, org: str, nonce: int | None = None, amount: int = 1) -> Transaction:
        """A signed ``funds.mint`` of ``amount`` by ``org``'s operator to itself."""
        sender = f"{org}.operator"
        with self._lock:
            if nonce is None:
                nonce = self.nonces.get(sender, 0) + 1
            self.nonces[sender] = max(self.nonces.get(sender, 0), nonce)
        tx = Transaction(
            chain_id=self.chain_id,
            kind="funds.mint",
            sender=sender,
            nonce=nonce,
            body={"to": sender, "amount": amount},
        )
        tx.signature = self.keys[org].sign(tx.signing_bytes())
        return tx


# -- the load ------------------------------------------------------------------------------------


@dataclass
class Ack:
    """A transaction some node acknowledged."""

    tx_hash: str
    sender: str
    nonce: int
    by: dict[str, float] = field(default_factory=dict)
    """Organisation whose node acknowledged it, to the monotonic time the answer came."""


def submit(http: httpx.Client, raw: bytes) -> httpx.Response | None:
    """POST a transaction; None when the node did not answer (refused, timed out)."""
    try:
        return http.post("/v1/txs", content=raw, headers={"content-type": "application/json"})
    except httpx.HTTPError:
        return None


class Load:
    """Senders submitting signed transactions until stopped (see the module docstring).

    ``plan`` maps each sending organisation (its operator signs) to the node it sends to, or
    to ``None`` for a broadcast sender.
    """

    def __init__(
        self, net: ProcessNetwork, plan: dict[str, str | None], interval_s: float = 0.12
    ) -> None:
        self.net = net
        self.plan = plan
        self.interval_s = interval_s
        self.acks: dict[str, Ack] = {}
        self.refused: list[tuple[str, int, str]] = []
        """(organisation, HTTP status, body) of answers that were not acknowledgements."""
        self.unanswered = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    # running ---------------------------------------------------------------------------------
    def start(self) -> Load:
        for sender, target in self.plan.items():
            run = self._pinned if target is not None else self._broadcast
            t = threading.Thread(
                target=self._guard, args=(run, sender, target), name=f"load-{sender}", daemon=True
            )
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=15)
        alive = [t.name for t in self._threads if t.is_alive()]
        assert not alive, f"load threads did not stop: {alive}"
        if self.errors:
            raise AssertionError(f"a load thread failed: {self.errors[0]!r}") from self.errors[0]

    def __enter__(self) -> Load:
        return self.start()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.stop()
            return
        with contextlib.suppress(AssertionError):  # the test's own failure says more
            self.stop()

    def _guard(
        self, run: Callable[[str, str | None], None], sender: str, target: str | None
    ) -> None:
        try:
            run(sender, target)
        except BaseException as exc:  # reported by stop()
            self.errors.append(exc)

    def _record(self, org: str, tx: Transaction, response: httpx.Response | None) -> bool:
        at = time.monotonic()
        with self._lock:
            if response is None:
                self.unanswered += 1
                return False
            if response.status_code in (200, 202):
                tx_hash = response.json()["hash"]
                assert tx_hash == tx.hash().hex(), (tx_hash, tx.hash().hex())
                ack = self.acks.setdefault(tx_hash, Ack(tx_hash, tx.sender, tx.nonce))
                ack.by[org] = at
                return True
            self.refused.append((org, response.status_code, response.text[:300]))
            return False

    def _pinned(self, sender: str, target: str | None) -> None:
        assert target is not None
        with self.net.client(target, timeout_s=2.0) as http:
            while not self._stop.is_set():
                tx = self.net.mint(sender)
                self._record(target, tx, submit(http, tx.encode()))
                self._stop.wait(self.interval_s)

    def _broadcast(self, sender: str, _target: str | None) -> None:
        orgs = self.net.orgs
        clients = {o: self.net.client(o, timeout_s=2.0) for o in orgs}
        try:
            with ThreadPoolExecutor(len(orgs)) as pool:
                while not self._stop.is_set():
                    tx = self.net.mint(sender)
                    raw = tx.encode()
                    answers = list(pool.map(lambda o, raw=raw: submit(clients[o], raw), orgs))
                    acked = [
                        o for o, r in zip(orgs, answers, strict=True) if self._record(o, tx, r)
                    ]
                    if acked:
                        self._await_commit(tx.hash().hex(), [clients[o] for o in acked])
                    self._stop.wait(self.interval_s)
        finally:
            for c in clients.values():
                c.close()

    def _await_commit(self, tx_hash: str, clients: list[httpx.Client]) -> None:
        """Until one of the nodes that took ``tx_hash`` says it is committed (or the load
        stops): the next nonce waits for this one to be settled."""
        i = 0
        while not self._stop.is_set():
            http = clients[i % len(clients)]
            i += 1
            try:
                got = http.get(f"/v1/txs/{tx_hash}/receipt", params={"wait": 1})
                if got.status_code == 200:
                    return
            except httpx.HTTPError:
                self._stop.wait(0.2)

    # what happened -----------------------------------------------------------------------------
    def acked_count(self, since: float = 0.0, orgs: Iterable[str] | None = None) -> int:
        """Transactions acknowledged after ``since`` (by one of ``orgs``, any by default)."""
        chosen = set(self.net.orgs if orgs is None else orgs)
        with self._lock:
            return sum(
                1
                for a in self.acks.values()
                if any(o in chosen and t > since for o, t in a.by.items())
            )


# -- the checker ---------------------------------------------------------------------------------


@dataclass
class Faults:
    """What the test did that may excuse a lost acknowledgement."""

    crashed: dict[str, list[float]] = field(default_factory=dict)
    """Organisation to the times its node was SIGKILLed (monotonic, once certainly dead)."""
    dishonest: set[str] = field(default_factory=set)

    def crash(self, org: str, at: float) -> None:
        self.crashed.setdefault(org, []).append(at)

    def durable(self, org: str, acked_at: float) -> bool:
        """Whether an acknowledgement by ``org`` at ``acked_at`` must not be lost."""
        if org in self.dishonest:
            return False
        return not any(at > acked_at for at in self.crashed.get(org, []))


@dataclass
class Verdict:
    acked: int
    required: int
    lost_excused: int
    final_height: int
    blocks_checked: int
    txs_in_chain: int


Location = tuple[int, int, str]
"""(height, index, block hash) of a committed transaction."""


def wait_quiet(net: ProcessNetwork, honest: Sequence[str], timeout_s: float = 45.0) -> int:
    """Until the honest nodes agree on the tip, every block is final and nothing is pending;
    returns that height. No node may halt meanwhile."""

    def quiet() -> int | None:
        states = net.statuses(honest)
        for org, st in states.items():
            if st is not None and st.get("halted"):
                raise AssertionError(f"{org} halted: {st['halted']}\n{net.describe()}")
        if any(st is None for st in states.values()):
            return None
        heights = {st["height"] for st in states.values() if st is not None}
        if len(heights) != 1:
            return None
        if any(
            st["pending"] or st["final_height"] != st["height"]
            for st in states.values()
            if st is not None
        ):
            return None
        return heights.pop() or None

    return wait_for(
        quiet,
        timeout_s=timeout_s,
        what=f"{honest} quiet (same final tip, no pending transactions)",
        interval_s=0.2,
        details=lambda: net.describe(honest),
    )


def check_final(
    net: ProcessNetwork,
    acked: Load | Iterable[Ack],
    faults: Faults | None = None,
    honest: Sequence[str] | None = None,
    timeout_s: float = 45.0,
) -> Verdict:
    """Prove every acknowledged transaction (of a load, or given) final exactly once on every
    honest node (see the module docstring); returns what was checked."""
    faults = faults or Faults()
    honest = list(net.orgs if honest is None else honest)
    top = wait_quiet(net, honest, timeout_s)
    acks = list(acked.acks.values() if isinstance(acked, Load) else acked)

    # every acknowledged transaction, asked of every honest node
    def locate_all(org: str) -> dict[str, Location | None]:
        found: dict[str, Location | None] = {}
        with net.client(org, timeout_s=5.0) as http:
            for ack in acks:
                got = http.get(f"/v1/txs/{ack.tx_hash}")
                if got.status_code == 404:
                    found[ack.tx_hash] = None
                    continue
                got.raise_for_status()
                body = got.json()
                found[ack.tx_hash] = (body["height"], body["index"], body["block_hash"])
        return found

    with ThreadPoolExecutor(len(honest)) as pool:
        located = dict(zip(honest, pool.map(locate_all, honest), strict=True))

    required = 0
    lost = 0
    heights: dict[int, str] = {}
    for ack in acks:
        must = any(faults.durable(o, t) for o, t in ack.by.items())
        required += must
        where = {org: located[org][ack.tx_hash] for org in honest}
        places = set(where.values())
        if places == {None}:
            assert not must, (
                f"transaction {ack.tx_hash} ({ack.sender} nonce {ack.nonce}) was acknowledged "
                f"by {sorted(ack.by)} and is committed on no honest node"
            )
            lost += 1
            continue
        assert len(places) == 1, f"transaction {ack.tx_hash} is located differently: {where}"
        height, _index, block_hash = places.pop()  # type: ignore[misc]
        assert height <= top
        assert heights.setdefault(height, block_hash) == block_hash

    # the blocks holding them are final, with the same hash, on every node
    def headers(org: str) -> dict[int, dict[str, Any]]:
        with net.client(org, timeout_s=5.0) as http:
            return {
                h: http.get(f"/v1/blocks/{h}/header").raise_for_status().json() for h in heights
            }

    with ThreadPoolExecutor(len(honest)) as pool:
        for org, views in zip(honest, pool.map(headers, honest), strict=True):
            for h, view in views.items():
                assert view["final"] is True, f"block {h} is not final on {org}"
                assert view["hash"] == heights[h], f"block {h} differs on {org}"

    # the same chain everywhere, each transaction in it once
    start = net.checked_height + 1

    def blocks(org: str) -> list[dict[str, Any]]:
        with net.client(org, timeout_s=5.0) as http:
            return [
                http.get(f"/v1/blocks/{h}").raise_for_status().json() for h in range(start, top + 1)
            ]

    with ThreadPoolExecutor(len(honest)) as pool:
        chains = dict(zip(honest, pool.map(blocks, honest), strict=True))
    reference = chains[honest[0]]
    for org, chain in chains.items():
        assert [b["hash"] for b in chain] == [b["hash"] for b in reference], (
            f"{org} holds other blocks than {honest[0]} between {start} and {top}"
        )
        assert all(b["final"] for b in chain), f"{org} has blocks up to {top} not final"
        for b in chain:
            seen: set[str] = set()
            for entry in b["txs"]:
                assert entry["hash"] not in seen, f"{entry['hash']} twice in block {b['height']}"
                seen.add(entry["hash"])
    if reference:
        roots = {chains[o][-1]["header"]["state_root"] for o in honest}
        assert len(roots) == 1, f"state roots differ at height {top}: {roots}"
    for b in reference:
        for entry in b["txs"]:
            earlier = net.chain_txs.get(entry["hash"])
            assert earlier is None or earlier == b["height"], (
                f"transaction {entry['hash']} is in block {earlier} and in block {b['height']}"
            )
            net.chain_txs[entry["hash"]] = b["height"]
    for ack in acks:
        loc = located[honest[0]][ack.tx_hash]
        if loc is not None:
            assert net.chain_txs[ack.tx_hash] == loc[0]
    net.checked_height = top
    return Verdict(
        acked=len(acks),
        required=required,
        lost_excused=lost,
        final_height=top,
        blocks_checked=len(reference),
        txs_in_chain=sum(len(b["txs"]) for b in reference),
    )


def status_inside(netns: str, url: str, ca: str, timeout_s: float = 10.0) -> dict[str, Any] | None:
    """A node's ``/v1/status`` asked from inside network namespace ``netns`` (where this
    process cannot reach once the namespace is cut off)."""
    script = (
        "import json, sys, httpx\n"
        "from gridledger.network.config import tls_context\n"
        "try:\n"
        f"    r = httpx.get({url!r} + '/v1/status', verify=tls_context({ca!r}), timeout=3,"
        " trust_env=False)\n"
        "    print(r.text)\n"
        "except httpx.HTTPError as exc:\n"
        "    print(json.dumps({'unreachable': str(exc)}))\n"
    )
    done = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"status inside {netns} failed: {done.stderr[-1000:]}")
    got: dict[str, Any] = json.loads(done.stdout)
    return None if "unreachable" in got else got
