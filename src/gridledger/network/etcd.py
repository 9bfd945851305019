"""Real etcd members as subprocesses, a cluster helper, maintenance calls and a failover client.

What runs: Debian's etcd 3.4 (``/usr/bin/etcd``), one member per organisation, each started
with mutual TLS on both its client and its peer side when its :class:`MemberSpec` carries
:class:`~gridledger.network.pki.TlsFiles` (``--client-cert-auth``/``--peer-client-cert-auth``:
a client or peer without a certificate from the consortium CA is refused at the handshake).
Every member runs in its own process group (its own session), optionally inside a network
namespace (``ip netns exec NS``): signals sent to the group reach the member and nothing else,
and a Ctrl-C meant for the caller does not stop the cluster behind its back. A registry kills
every member this process started when the interpreter exits, and ``die_with_parent`` adds
``PR_SET_PDEATHSIG`` (through util-linux ``setpriv``) so a member dies even when its parent is
killed outright. Logs go to ``<data dir>.log``.

Clients talk to etcd's HTTP/JSON gateway with ``etcd3gw``. ``etcd3gw.Etcd3Client`` knows one
endpoint; :class:`FailoverClient` (a subclass, so it is an ``Etcd3Client``) knows all of them:

- a request that could not even be sent (connection refused, connect timeout) goes to the next
  member at once, so a dead member costs one connection attempt;
- any other transport failure (a read timeout, a reset) and etcd's own "unavailable" (HTTP 503:
  no leader, request timed out) are raised to the caller, and the next request starts at the
  next member. They are not re-sent: the write may have been applied, and re-sending a
  compare-and-swap would then report a loss for a write that won. A caller that must know
  reads the key back (for a ``create``: compare the value it finds with its own);
- a watch (``watch``/``watch_prefix``) streams from the member current when it starts and is
  not moved; on error, re-create it from the last revision seen.

It also ignores ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE`` and proxy variables: requests lets
those override a session's own CA, which breaks a plain ``Etcd3Client`` on machines that set
them (this one does).

Maintenance (health, status, leader, defragment, alarms, compaction) are plain functions over a
client aimed at one member, and :class:`Cluster` methods that take a member's name.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from etcd3gw import exceptions as etcd_errors
from etcd3gw.client import Etcd3Client
from etcd3gw.types import StatusResponse
from urllib3.exceptions import MaxRetryError, NewConnectionError

from gridledger.network.pki import CertificateAuthority, OrgCredentials, TlsFiles, issue, make_ca

ETCD_BINARY = "/usr/bin/etcd"
DEFAULT_MAX_REQUEST_BYTES = 1_572_864
"""etcd's own default (1.5 MiB): the largest request, so the largest block proposal."""
DEFAULT_QUOTA_BACKEND_BYTES = 2 * 1024**3
"""etcd's own default (2 GiB); 8 GiB is etcd's suggested maximum."""
CLIENT_TIMEOUT_S = 5.0
"""A request's read timeout; etcd itself gives up on a write after 5 s + 2 election timeouts."""
CONNECT_TIMEOUT_S = 1.0
"""Connecting to a member: far above a loopback or bridge round trip, short enough to fail over."""

MemberState = Literal["new", "existing"]


class EtcdError(Exception):
    """A member or cluster did not do what was asked of it."""


class MemberExited(EtcdError):
    """A member's process ended on its own (a bad flag, a port in use, a corrupt data dir)."""

    def __init__(self, name: str, returncode: int | None, log_tail: str) -> None:
        super().__init__(f"etcd member {name} exited with {returncode}; its log ends:\n{log_tail}")
        self.name = name
        self.returncode = returncode
        self.log_tail = log_tail


class ClusterNotHealthy(EtcdError):
    """Members did not all report healthy within the time allowed."""


@dataclass(frozen=True)
class Tuning:
    """The knobs a consortium tunes; the defaults suit members on one machine or one bridge."""

    heartbeat_interval_ms: int = 50
    """Leader heartbeat (``--heartbeat-interval``); about the round trip between members."""
    election_timeout_ms: int = 500
    """A follower's wait before calling an election (``--election-timeout``); ~10 heartbeats."""
    quota_backend_bytes: int = DEFAULT_QUOTA_BACKEND_BYTES
    """Backend size that raises the NOSPACE alarm and stops writes (``--quota-backend-bytes``)."""
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    """Largest request a member accepts (``--max-request-bytes``)."""
    auto_compaction_retention_revisions: int = 1000
    """Revisions of history kept (``--auto-compaction-mode=revision``)."""
    log_level: str = "warn"
    """``--log-level`` of etcd's zap logger."""


@dataclass(frozen=True)
class MemberSpec:
    """Everything needed to start one etcd member."""

    name: str
    """The member's name in the cluster (an organisation id)."""
    data_dir: Path
    """Its write-ahead log and backend; a restart with the same directory rejoins as before."""
    client_url: str
    """``https://host:port`` clients reach it at (listened on and advertised)."""
    peer_url: str
    """``https://host:port`` the other members reach it at (listened on and advertised)."""
    tls: TlsFiles | None = None
    """Mutual TLS on both sides: the member's certificate and key, and the CA it trusts for
    clients and peers. ``None`` runs plain HTTP (``http://`` URLs), for experiments only."""
    netns: str | None = None
    """A network namespace to run in (``ip netns exec``); ``None`` for the current one."""
    tuning: Tuning = field(default_factory=Tuning)

    def command(
        self, initial_cluster: str, cluster_token: str, state: MemberState = "new"
    ) -> list[str]:
        """The etcd command line; ``initial_cluster``/``state`` matter only on first start."""
        tuning = self.tuning
        argv = [
            ETCD_BINARY,
            f"--name={self.name}",
            f"--data-dir={self.data_dir}",
            f"--listen-client-urls={self.client_url}",
            f"--advertise-client-urls={self.client_url}",
            f"--listen-peer-urls={self.peer_url}",
            f"--initial-advertise-peer-urls={self.peer_url}",
            f"--initial-cluster={initial_cluster}",
            f"--initial-cluster-state={state}",
            f"--initial-cluster-token={cluster_token}",
            "--logger=zap",
            f"--log-level={tuning.log_level}",
            f"--heartbeat-interval={tuning.heartbeat_interval_ms}",
            f"--election-timeout={tuning.election_timeout_ms}",
            "--auto-compaction-mode=revision",
            f"--auto-compaction-retention={tuning.auto_compaction_retention_revisions}",
            f"--quota-backend-bytes={tuning.quota_backend_bytes}",
            f"--max-request-bytes={tuning.max_request_bytes}",
        ]
        if self.tls is not None:
            if self.tls.cert is None or self.tls.key is None:
                raise ValueError(f"member {self.name}: mutual TLS needs a certificate and a key")
            argv += [
                "--client-cert-auth",
                f"--trusted-ca-file={self.tls.ca_cert}",
                f"--cert-file={self.tls.cert}",
                f"--key-file={self.tls.key}",
                "--peer-client-cert-auth",
                f"--peer-trusted-ca-file={self.tls.ca_cert}",
                f"--peer-cert-file={self.tls.cert}",
                f"--peer-key-file={self.tls.key}",
            ]
        return argv


def initial_cluster(specs: Iterable[MemberSpec]) -> str:
    """``--initial-cluster``: ``name=peer_url`` for every member, comma-separated."""
    return ",".join(f"{spec.name}={spec.peer_url}" for spec in specs)


# -- processes ---------------------------------------------------------------------------------

_live: dict[int, Member] = {}
"""Every member process this interpreter started and has not reaped, by pid."""
_live_lock = threading.Lock()


def _kill_all_at_exit() -> None:
    with _live_lock:
        members = list(_live.values())
    for member in members:
        member.kill()


atexit.register(_kill_all_at_exit)


class Member:
    """One etcd member's process: start, stop, kill, pause, resume.

    Signals go to the member's process group (it leads its own session). A member is not
    restarted by anyone but its caller.
    """

    def __init__(
        self,
        spec: MemberSpec,
        *,
        initial_cluster: str,
        cluster_token: str,
        die_with_parent: bool = False,
    ) -> None:
        """Prepare, without starting.

        Parameters:
            spec: the member.
            initial_cluster: ``--initial-cluster`` (see :func:`initial_cluster`).
            cluster_token: ``--initial-cluster-token``; unique per cluster, so members of two
                clusters never join each other even when ports are reused.
            die_with_parent: kill the member when the thread that started it dies (Linux
                ``PR_SET_PDEATHSIG``); for tests, where no member may outlive a killed run.
                Start such members from a thread that lives as long as they should.
        """
        self.spec = spec
        self.initial_cluster = initial_cluster
        self.cluster_token = cluster_token
        self.die_with_parent = die_with_parent
        self.log_path = spec.data_dir.with_name(spec.data_dir.name + ".log")
        self._process: subprocess.Popen[bytes] | None = None
        self._paused = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int | None:
        """The running process's id, ``None`` when not running."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether the process exists (a paused member is running)."""
        return self._process is not None and self._process.poll() is None

    @property
    def paused(self) -> bool:
        return self._paused and self.running

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def start(self, state: MemberState = "new") -> None:
        """Start the process (no-op when running); returns before it serves requests."""
        if self.running:
            return
        self.spec.data_dir.parent.mkdir(parents=True, exist_ok=True)
        argv = self.spec.command(self.initial_cluster, self.cluster_token, state)
        if self.die_with_parent:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                raise EtcdError("die_with_parent needs util-linux setpriv")
            argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
        if self.spec.netns is not None:
            argv = [shutil.which("ip") or "/usr/sbin/ip", "netns", "exec", self.spec.netns, *argv]
        # etcd reads ETCD_* variables as flags: only ours count
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ETCD_", "ETCDCTL_"))}
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self._paused = False
        with _live_lock:
            _live[self._process.pid] = self

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM (etcd flushes and leaves cleanly), then SIGKILL after ``timeout_s``."""
        if not self.running:
            self._reap()
            return
        self.terminate()
        try:
            self._wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
        self._reap()

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed beyond what etcd already fsynced."""
        if self.running:
            self._signal(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._wait(10.0)
        self._reap()

    def terminate(self) -> None:
        """SIGTERM without waiting (see :meth:`stop`); a paused member is resumed to handle it."""
        if self.running:
            self._signal(signal.SIGTERM)
            if self._paused:
                self._signal(signal.SIGCONT)
                self._paused = False

    def pause(self) -> None:
        """SIGSTOP: the process freezes with its connections open (a stall, not a crash)."""
        self._signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        self._signal(signal.SIGCONT)
        self._paused = False

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the member's log, for error messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        """Raise :class:`MemberExited` when the process ended."""
        if self._process is not None and self._process.poll() is not None:
            raise MemberExited(self.name, self._process.returncode, self.log_tail())

    def _signal(self, sig: signal.Signals) -> None:
        if self._process is None or self._process.poll() is not None:
            raise EtcdError(f"etcd member {self.name} is not running")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, sig)

    def _wait(self, timeout_s: float) -> None:
        assert self._process is not None
        self._process.wait(timeout_s)

    def _reap(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            with _live_lock:
                _live.pop(self._process.pid, None)
            self._paused = False


# -- clients -------------------------------------------------------------------------------------


def _split_url(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"an etcd client URL needs a host and a port: {url!r}")
    return parts.scheme, parts.hostname, parts.port


def _never_sent(exc: requests.exceptions.RequestException) -> bool:
    """Whether the request certainly did not reach the server (no connection was made)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
        reason = exc.args[0]
        return isinstance(reason, MaxRetryError) and isinstance(reason.reason, NewConnectionError)
    return False


def _raise_for_response(resp: requests.Response) -> Any:
    """etcd3gw's mapping of gateway answers to its exceptions, for :class:`FailoverClient`."""
    code = resp.status_code
    if code == requests.codes["ok"]:
        return resp.json()
    if code == requests.codes["service_unavailable"]:
        raise etcd_errors.ConnectionFailedError(resp.text, resp.reason)
    if code in (requests.codes["request_timeout"], requests.codes["gateway_timeout"]):
        raise etcd_errors.ConnectionTimeoutError(resp.text, resp.reason)
    if code == requests.codes["internal_server_error"]:
        raise etcd_errors.InternalServerError(resp.text, resp.reason)
    if code == requests.codes["precondition_failed"]:
        raise etcd_errors.PreconditionFailedError(resp.text, resp.reason)
    raise etcd_errors.Etcd3Exception(resp.text, resp.reason)


class FailoverClient(Etcd3Client):
    """An ``Etcd3Client`` over several members; see the module docstring for what fails over.

    Safe to share between threads (``requests.Session`` pools connections per member); after
    any failure, every thread's next request starts at the next member.
    """

    def __init__(
        self,
        client_urls: Sequence[str],
        *,
        tls: TlsFiles | None,
        timeout_s: float = CLIENT_TIMEOUT_S,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        """
        Parameters:
            client_urls: the members' client URLs, the preferred (own organisation's) first.
            tls: the CA to trust and, for mutual TLS, the client's certificate and key.
            timeout_s: how long to wait for an answer once connected.
            connect_timeout_s: how long to wait for a connection before trying the next member.
        """
        if not client_urls:
            raise ValueError("a client needs at least one etcd member URL")
        self.endpoints = [_split_url(url) for url in client_urls]
        protocol, host, port = self.endpoints[0]
        super().__init__(
            host=host,
            port=port,
            protocol=protocol,
            ca_cert=None if tls is None else str(tls.ca_cert),
            cert_key=None if tls is None or tls.key is None else str(tls.key),
            cert_cert=None if tls is None or tls.cert is None else str(tls.cert),
            timeout=timeout_s,
            api_path="/v3/",  # etcd >= 3.4; no discovery round trip
        )
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override session.verify (and routes
        # through *_PROXY): with either set, the consortium CA would be ignored and every
        # handshake fail. Only what this client was given counts.
        self.session.trust_env = False
        self.connect_timeout_s = connect_timeout_s
        self._current = 0
        self._lock = threading.Lock()

    @property
    def client_url(self) -> str:
        """The member the next request goes to first."""
        return self.base_url

    def _advance(self, failed: int) -> None:
        """Move on from endpoint ``failed`` (unless another thread already did)."""
        with self._lock:
            if self._current == failed:
                self._current = (failed + 1) % len(self.endpoints)
                self.protocol, self.host, self.port = self.endpoints[self._current]

    def post(self, url: str, *args: Any, json: Any = None, **kwargs: Any) -> Any:
        if args:
            raise TypeError("FailoverClient.post takes its body as json= or data=")
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        read_timeout = self.timeout
        last: Exception | None = None
        for _ in range(len(self.endpoints)):
            with self._lock:
                index = self._current
                base = self.base_url
            try:
                resp = self.session.post(
                    base + path,
                    json=json,
                    timeout=(self.connect_timeout_s, read_timeout),
                    **kwargs,
                )
            except requests.exceptions.RequestException as exc:
                self._advance(index)
                error_type = (
                    etcd_errors.ConnectionTimeoutError
                    if isinstance(exc, requests.exceptions.Timeout)
                    else etcd_errors.ConnectionFailedError
                )
                message = f"{base}: {exc}"
                last = error_type(message, message)
                last.__cause__ = exc
                if _never_sent(exc):
                    continue
                raise last from exc
            if resp.status_code == requests.codes["service_unavailable"]:
                self._advance(index)
            return _raise_for_response(resp)
        assert last is not None
        raise last


# -- maintenance -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alarm:
    """A raised etcd alarm: writes stop (NOSPACE) or the member stops serving (CORRUPT)."""

    member_id: int
    kind: str
    """``"NOSPACE"`` (backend over quota) or ``"CORRUPT"``."""


def health(client: Etcd3Client, timeout_s: float = 1.0) -> bool:
    """``GET /health`` on the client's member: it has a leader, no alarm, and answers a read."""
    try:
        resp = client.session.get(client.base_url + "/health", timeout=timeout_s)
        return resp.status_code == requests.codes["ok"] and resp.json().get("health") == "true"
    except (requests.exceptions.RequestException, ValueError):
        return False


def status(client: Etcd3Client) -> StatusResponse:
    """``POST /v3/maintenance/status``: the member's view (its id, leader, term, db size)."""
    return client.status()


def member_ids(client: Etcd3Client) -> dict[int, str]:
    """Member id to member name, from ``POST /v3/cluster/member/list``."""
    return {int(member["ID"]): member.get("name", "") for member in client.members()}


def defragment(client: Etcd3Client) -> None:
    """``POST /v3/maintenance/defragment`` on the client's member only (one member at a time:
    a member blocks reads and writes while it rewrites its backend)."""
    client.post(client.get_url("/maintenance/defragment"), json={})


def compact(client: Etcd3Client, revision: int, *, physical: bool = True) -> None:
    """``POST /v3/kv/compaction``: forget history before ``revision`` (the space it held is
    reused, and returned to the file system by :func:`defragment`)."""
    client.post(client.get_url("/kv/compaction"), json={"revision": revision, "physical": physical})


def alarms(client: Etcd3Client) -> list[Alarm]:
    """Every alarm raised in the cluster (``POST /v3/maintenance/alarm``, action GET)."""
    result = client.post(
        client.get_url("/maintenance/alarm"),
        json={"action": "GET", "memberID": 0, "alarm": "NONE"},
    )
    return [
        Alarm(int(item.get("memberID", 0)), str(item.get("alarm", "NONE")))
        for item in result.get("alarms", [])
    ]


def disarm(client: Etcd3Client, alarm: Alarm) -> None:
    """Clear ``alarm`` (fix its cause first: for NOSPACE, compact and defragment)."""
    client.post(
        client.get_url("/maintenance/alarm"),
        json={"action": "DEACTIVATE", "memberID": alarm.member_id, "alarm": alarm.kind},
    )


# -- clusters --------------------------------------------------------------------------------------

_ports_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now, never handed out before by this process.

    Taken below the kernel's ephemeral range, so the kernel does not give it to someone's
    outgoing connection or ``bind(0)`` between now and etcd binding it. Someone else may still
    bind it meanwhile: :meth:`Cluster.loopback` retries with new ports when a member finds its
    port taken.
    """
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    lowest = 10_000 if low > 12_000 else 1024
    for _ in range(200):
        port = random.randrange(lowest, low)  # spreading, not secrecy
        with _ports_lock:
            if port in _ports_handed_out:
                continue
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
        with _ports_lock:
            _ports_handed_out.add(port)
        return port
    raise EtcdError(f"no free TCP port found on {host}")


class Cluster:
    """Members started and stopped together, with clients and maintenance by member name.

    Use :meth:`loopback` for a cluster on this machine (certificates made, ports picked), or
    build :class:`MemberSpec` s yourself (a member per network namespace) and call :meth:`start`.
    Close it (or use it as a context manager): every member stops, SIGKILL after a grace period.
    """

    def __init__(
        self,
        specs: Sequence[MemberSpec],
        *,
        client_tls: TlsFiles | None = None,
        token: str | None = None,
        die_with_parent: bool = False,
    ) -> None:
        """
        Parameters:
            specs: the members, in their preferred client order.
            client_tls: what :meth:`client` and the maintenance calls present to members.
            token: ``--initial-cluster-token`` (a random one by default).
            die_with_parent: see :class:`Member`.
        """
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"member names must be unique and at least one: {names}")
        self.specs = {spec.name: spec for spec in specs}
        self.client_tls = client_tls
        self.token = token or f"gridledger-{secrets.token_hex(8)}"
        cluster = initial_cluster(specs)
        self.members = {
            spec.name: Member(
                spec,
                initial_cluster=cluster,
                cluster_token=self.token,
                die_with_parent=die_with_parent,
            )
            for spec in specs
        }
        self.ca: CertificateAuthority | None = None
        """The CA that issued the members' certificates, when :meth:`loopback` made it."""
        self.credentials: dict[str, OrgCredentials] = {}
        """Each member's certificate, when :meth:`loopback` made them."""
        self._ids: dict[int, str] = {}
        self._single: dict[str, FailoverClient] = {}

    @classmethod
    def loopback(
        cls,
        directory: Path,
        size: int = 3,
        *,
        tls: bool = True,
        tuning: Tuning | None = None,
        die_with_parent: bool = False,
        start_timeout_s: float = 20.0,
        attempts: int = 3,
    ) -> Cluster:
        """Start ``size`` members on free 127.0.0.1 ports under ``directory`` and wait until all
        are healthy.

        With ``tls`` a CA (``directory/pki/consortium.*``) and a certificate per member
        (``org1`` … ``orgN``, SANs ``127.0.0.1`` and ``localhost``) are made and mutual TLS is
        on everywhere; clients present ``org1``'s certificate. When a member finds its port
        taken, the attempt is abandoned and repeated on new ports (``attempts`` in all).

        Raises:
            MemberExited: a member exited, for another reason than a port in use.
            ClusterNotHealthy: not all members healthy within ``start_timeout_s``.
        """
        names = [f"org{i}" for i in range(1, size + 1)]
        ca = None
        credentials: dict[str, OrgCredentials] = {}
        if tls:
            pki_dir = directory / "pki"
            ca = make_ca(pki_dir, "consortium")
            credentials = {
                name: issue(ca, name, pki_dir, ["127.0.0.1", "localhost"]) for name in names
            }
        scheme = "https" if tls else "http"
        for attempt in range(1, attempts + 1):
            specs = [
                MemberSpec(
                    name=name,
                    data_dir=directory / f"try{attempt}" / name,
                    client_url=f"{scheme}://127.0.0.1:{free_port()}",
                    peer_url=f"{scheme}://127.0.0.1:{free_port()}",
                    tls=credentials[name].tls if tls else None,
                    tuning=tuning or Tuning(),
                )
                for name in names
            ]
            cluster = cls(
                specs,
                client_tls=credentials[names[0]].tls if tls else None,
                die_with_parent=die_with_parent,
            )
            cluster.ca, cluster.credentials = ca, credentials
            try:
                cluster.start(timeout_s=start_timeout_s)
            except MemberExited as exc:
                cluster.close()
                if "address already in use" not in exc.log_tail or attempt == attempts:
                    raise
                continue
            except BaseException:
                cluster.close()
                raise
            return cluster
        raise AssertionError("unreachable")  # pragma: no cover

    # lifecycle -----------------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self.members)

    def start(self, timeout_s: float = 20.0) -> None:
        """Start every member not running and wait until all are healthy."""
        for member in self.members.values():
            member.start()
        self.wait_healthy(timeout_s=timeout_s)

    def start_member(self, name: str) -> None:
        """Start (or restart, from its data dir) one member; returns before it is healthy."""
        self.members[name].start()

    def stop(self, name: str) -> None:
        self.members[name].stop()

    def kill(self, name: str) -> None:
        self.members[name].kill()

    def pause(self, name: str) -> None:
        self.members[name].pause()

    def resume(self, name: str) -> None:
        self.members[name].resume()

    def wait_healthy(self, names: Iterable[str] | None = None, *, timeout_s: float = 20.0) -> None:
        """Poll ``/health`` of each member (all by default) until all answer healthy.

        Raises:
            MemberExited: one of them exited meanwhile.
            ClusterNotHealthy: not all healthy within ``timeout_s``.
        """
        waiting = list(names if names is not None else self.members)
        deadline = time.monotonic() + timeout_s
        while True:
            for name in waiting:
                self.members[name].check_alive()
            # etcd answers /health only after up to 1 s without a leader; ask again sooner
            waiting = [name for name in waiting if not self.health(name, timeout_s=0.3)]
            if not waiting:
                return
            if time.monotonic() > deadline:
                tails = "\n".join(f"{n}: {self.members[n].log_tail(5)}" for n in waiting)
                raise ClusterNotHealthy(f"not healthy after {timeout_s} s: {waiting}\n{tails}")
            time.sleep(0.05)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop every member: SIGTERM, then SIGKILL to any left after ``timeout_s``.

        Followers go first. A leader told to stop hands its leadership to the peer connected
        longest and waits for it (up to 5 s and two election timeouts): stopped together with
        the others, it would wait for a peer that is stopping too. Once its peers are gone it
        has none to hand over to and stops at once.
        """
        leader = None
        with contextlib.suppress(EtcdError, etcd_errors.Etcd3Exception, requests.RequestException):
            leader = self.leader()
        deadline = time.monotonic() + timeout_s
        for last in (False, True):
            group = [m for m in self.members.values() if (m.name == leader) == last]
            for member in group:
                with contextlib.suppress(EtcdError):
                    member.terminate()
            for member in group:
                member.stop(timeout_s=max(0.1, deadline - time.monotonic()))
        for client in self._single.values():
            client.session.close()
        self._single.clear()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # clients -------------------------------------------------------------------------------------

    def client(
        self,
        members: str | Sequence[str] | None = None,
        tls: TlsFiles | None = None,
        *,
        timeout_s: float = CLIENT_TIMEOUT_S,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> FailoverClient:
        """A client for one member (a name), several (names, in order of preference) or all.

        ``tls`` defaults to the cluster's client TLS; pass ``TlsFiles(ca_cert=...)`` alone for a
        client that presents no certificate.
        """
        if members is None:
            names = self.names
        elif isinstance(members, str):
            names = [members]
        else:
            names = list(members)
        if not names:
            raise EtcdError("no member to talk to (none is running)")
        return FailoverClient(
            [self.specs[name].client_url for name in names],
            tls=tls if tls is not None else self.client_tls,
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
        )

    def _member_client(self, name: str) -> FailoverClient:
        client = self._single.get(name)
        if client is None:
            client = self._single[name] = self.client(name, timeout_s=2.0)
        return client

    # maintenance ---------------------------------------------------------------------------------

    def health(self, name: str, timeout_s: float = 1.0) -> bool:
        """Whether member ``name`` reports healthy within ``timeout_s`` (never raises)."""
        if not self.members[name].running or self.members[name].paused:
            return False
        return health(self._member_client(name), timeout_s)

    def status(self, name: str) -> StatusResponse:
        return status(self._member_client(name))

    def member_ids(self) -> dict[int, str]:
        """Member id to name (asked once of any member that answers; ids never change)."""
        if not self._ids:
            for name in self._answering():
                with contextlib.suppress(etcd_errors.Etcd3Exception):
                    self._ids = member_ids(self._member_client(name))
                    break
        return dict(self._ids)

    def leader(self, names: Iterable[str] | None = None) -> str | None:
        """The leader's name as seen by the members asked (all running ones by default).

        Each answering member reports the leader of its latest term; the answer of the highest
        term wins, since an isolated member may still believe in an old leader. ``None`` when
        no member asked knows a leader (an election under way, or no quorum).
        """
        best: tuple[int, int] | None = None
        for name in self._answering(names):
            try:
                answer = self.status(name)
            except etcd_errors.Etcd3Exception:
                continue
            term, leader_id = int(answer.get("raftTerm", 0)), int(answer.get("leader", 0))
            if leader_id and (best is None or term > best[0]):
                best = (term, leader_id)
        if best is None:
            return None
        return self.member_ids().get(best[1])

    def defragment(self, name: str) -> None:
        """Defragment member ``name``'s backend (it blocks while it does)."""
        defragment(self._member_client(name))

    def compact(self, revision: int) -> None:
        """Compact the cluster's history up to ``revision`` (a cluster-wide operation)."""
        compact(self.client(self._answering()), revision)

    def alarms(self) -> list[Alarm]:
        """The cluster's raised alarms."""
        return alarms(self.client(self._answering()))

    def disarm(self, alarm: Alarm) -> None:
        disarm(self.client(self._answering()), alarm)

    def _answering(self, names: Iterable[str] | None = None) -> list[str]:
        """Members worth asking: running and not paused."""
        chosen = list(names) if names is not None else self.names
        return [n for n in chosen if self.members[n].running and not self.members[n].paused]


def wait_for_leader(
    cluster: Cluster, names: Iterable[str] | None = None, *, timeout_s: float = 10.0
) -> str:
    """Poll :meth:`Cluster.leader` until one is known; raise :class:`ClusterNotHealthy` if not."""
    asked = list(names) if names is not None else None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        leader = cluster.leader(asked)
        if leader is not None:
            return leader
        time.sleep(0.05)
    raise ClusterNotHealthy(f"no leader among {asked or cluster.names} after {timeout_s} s")
