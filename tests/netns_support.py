"""Network namespaces on a bridge, for partition tests that cut real links.

A :class:`NetnsLab` makes, in the root namespace, a bridge with the address ``10.213.X.254/24``
(so this process reaches every namespace) and ``size`` namespaces, each with loopback up and a
veth pair whose outer end is a bridge port and whose inner end holds ``10.213.X.<i>/24``
(``i`` from 1). ``X`` is picked so no route of this machine overlaps. :meth:`NetnsLab.cut`
takes a namespace's bridge port down (its link loses carrier: a real partition, for this
process too) and :meth:`NetnsLab.heal` brings it back. :meth:`NetnsLab.split` moves some
namespaces' ports to a second bridge (``glsb<tag>``, without an address): they reach each
other but neither the rest nor this process, until :meth:`NetnsLab.join`.

Names carry a random tag (``glbr<tag>``, ``gl<tag>h<i>``, ``gl-<tag>-<i>``), so labs of
concurrent runs never meet. Everything a lab made goes on :meth:`NetnsLab.close`: processes left
in its namespaces are killed, then namespaces (and with them the veth pairs) and the bridge are
deleted. Guards for a run that dies before that: an ``atexit`` hook, and a record per lab in
``/run/gridledger-netns/<pid>-<tag>.json`` that the next lab sweeps once ``pid`` is gone.

Needs root and iproute2 (``ip netns``); :func:`require_netns` skips the test otherwise.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

IP = shutil.which("ip") or "/usr/sbin/ip"
RECORDS = Path("/run/gridledger-netns")
SUPERNET = "10.213"

_labs: set[NetnsLab] = set()
_labs_lock = threading.Lock()


def _ip(*args: str, check: bool = True, namespace: str | None = None) -> str:
    argv = [IP, *(["-n", namespace] if namespace else []), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


def require_netns() -> None:
    """Skip the calling test unless this process may create network namespaces."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if not Path(IP).exists():
        pytest.skip("iproute2 (ip) is not installed")
    probe = f"gl-probe-{secrets.token_hex(3)}"
    done = subprocess.run([IP, "netns", "add", probe], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"ip netns unavailable: {done.stderr.strip()}")
    _ip("netns", "del", probe, check=False)


@dataclass(frozen=True)
class Namespace:
    """One namespace of a lab: where a member runs and the address it is reached at."""

    name: str
    ip: str
    host_veth: str
    """The veth end on the bridge; down means cut."""
    inner_veth: str


class NetnsLab:
    """A bridge and ``size`` namespaces on it; see the module docstring."""

    def __init__(self, size: int) -> None:
        if not 1 <= size <= 200:
            raise ValueError("a lab has 1 to 200 namespaces")
        self.tag = secrets.token_hex(3)
        self.bridge = f"glbr{self.tag}"
        self.side_bridge = f"glsb{self.tag}"
        """The other side of a :meth:`split`, made on first use."""
        self.subnet = _pick_subnet()
        self.host_ip = str(self.subnet.network_address + 254)
        self.namespaces = [
            Namespace(
                name=f"gl-{self.tag}-{i}",
                ip=str(self.subnet.network_address + i),
                host_veth=f"gl{self.tag}h{i}",
                inner_veth=f"gl{self.tag}n{i}",
            )
            for i in range(1, size + 1)
        ]
        self._record = RECORDS / f"{os.getpid()}-{self.tag}.json"
        self._closed = False

    # making and removing --------------------------------------------------------------------

    def create(self) -> NetnsLab:
        """Make the bridge and the namespaces (undoing everything made if a step fails)."""
        sweep_stale_labs()
        RECORDS.mkdir(parents=True, exist_ok=True)
        self._record.write_text(
            json.dumps(
                {
                    "bridge": self.bridge,
                    "side_bridge": self.side_bridge,
                    "namespaces": [ns.name for ns in self.namespaces],
                    "veths": [ns.host_veth for ns in self.namespaces],
                }
            )
        )
        with _labs_lock:
            _labs.add(self)
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.host_ip}/{self.subnet.prefixlen}", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for ns in self.namespaces:
                _ip("netns", "add", ns.name)
                _ip("link", "set", "lo", "up", namespace=ns.name)
                _ip(
                    "link", "add", ns.host_veth, "type", "veth",
                    "peer", "name", ns.inner_veth, "netns", ns.name,
                )  # fmt: skip
                _ip("link", "set", ns.host_veth, "master", self.bridge)
                _ip("link", "set", ns.host_veth, "up")
                _ip(
                    "addr", "add", f"{ns.ip}/{self.subnet.prefixlen}", "dev", ns.inner_veth,
                    namespace=ns.name,
                )  # fmt: skip
                _ip("link", "set", ns.inner_veth, "up", namespace=ns.name)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Remove everything the lab made; safe to call twice, never raises for leftovers."""
        if self._closed:
            return
        self._closed = True
        _remove(
            [ns.name for ns in self.namespaces],
            [ns.host_veth for ns in self.namespaces],
            self.bridge,
        )
        _ip("link", "del", self.side_bridge, check=False)
        self._record.unlink(missing_ok=True)
        with _labs_lock:
            _labs.discard(self)

    # using -------------------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Namespace:
        for ns in self.namespaces:
            if ns.name == name:
                return ns
        raise KeyError(name)

    def cut(self, name: str) -> None:
        """Partition namespace ``name``: its bridge port goes down."""
        _ip("link", "set", self[name].host_veth, "down")

    def heal(self, name: str) -> None:
        """Undo :meth:`cut`."""
        _ip("link", "set", self[name].host_veth, "up")

    def split(self, names: Sequence[str]) -> None:
        """Partition the lab in two: namespaces ``names`` on one side (on the side bridge),
        the others and this process on the other."""
        if not Path(f"/sys/class/net/{self.side_bridge}").exists():
            _ip("link", "add", self.side_bridge, "type", "bridge")
            _ip("link", "set", self.side_bridge, "up")
        for name in names:
            _ip("link", "set", self[name].host_veth, "master", self.side_bridge)

    def join(self, names: Sequence[str]) -> None:
        """Undo :meth:`split` for ``names``: their ports go back on the lab's bridge."""
        for name in names:
            _ip("link", "set", self[name].host_veth, "master", self.bridge)

    def exec_argv(self, name: str, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside namespace ``name``."""
        return [IP, "netns", "exec", self[name].name, *argv]

    def run(
        self, name: str, argv: Sequence[str], *, timeout_s: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside namespace ``name`` and wait for it (output captured as text)."""
        return subprocess.run(
            self.exec_argv(name, argv),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def pids(self, name: str) -> list[int]:
        """Processes running inside namespace ``name``."""
        return _pids(name)


def _pick_subnet() -> ipaddress.IPv4Network:
    """A ``10.213.X.0/24`` that no address or route of this machine overlaps."""
    taken = _ip("-4", "route", "show", "table", "all") + _ip("-4", "addr", "show")
    used = set()
    for token in taken.split():
        with contextlib.suppress(ValueError):
            used.add(ipaddress.ip_network(token, strict=False))
    candidates = list(range(256))
    random.shuffle(candidates)
    for third in candidates:
        subnet = ipaddress.IPv4Network(f"{SUPERNET}.{third}.0/24")
        if not any(subnet.overlaps(net) for net in used if net.version == 4 and net.prefixlen):
            return subnet
    raise RuntimeError(f"every {SUPERNET}.X.0/24 is in use on this machine")


def _pids(namespace: str) -> list[int]:
    out = _ip("netns", "pids", namespace, check=False)
    return [int(pid) for pid in out.split() if pid.isdigit()]


def _remove(namespaces: Sequence[str], veths: Sequence[str], bridge: str) -> None:
    """Kill what runs in ``namespaces``, delete them, the ``veths`` and the ``bridge``."""
    for namespace in namespaces:
        for pid in _pids(namespace):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while _pids(namespace) and time.monotonic() < deadline:
            time.sleep(0.02)
        _ip("netns", "del", namespace, check=False)
    for veth in veths:  # gone with its namespace, unless the move into it never happened
        _ip("link", "del", veth, check=False)
    _ip("link", "del", bridge, check=False)


def sweep_stale_labs() -> None:
    """Remove labs recorded by processes that no longer exist (a run killed mid-test)."""
    if not RECORDS.is_dir():
        return
    for record in RECORDS.glob("*.json"):
        pid = int(record.name.split("-", 1)[0])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            pass
        else:
            continue  # its owner still runs and cleans up itself
        with contextlib.suppress(OSError, ValueError, KeyError):
            made = json.loads(record.read_text())
            _remove(made["namespaces"], made["veths"], made["bridge"])
            if "side_bridge" in made:
                _ip("link", "del", made["side_bridge"], check=False)
        record.unlink(missing_ok=True)


@atexit.register
def _close_all_labs() -> None:
    with _labs_lock:
        labs = list(_labs)
    for lab in labs:
        lab.close()


@contextlib.contextmanager
def netns_lab(size: int) -> Iterator[NetnsLab]:
    """A created lab, removed on exit whatever happened (skips unless netns are available)."""
    require_netns()
    lab = NetnsLab(size)
    try:
        yield lab.create()
    finally:
        lab.close()


@pytest.fixture
def lab3() -> Iterator[NetnsLab]:
    """Three namespaces on a bridge, removed after the test even when it fails."""
    with netns_lab(3) as lab:
        yield lab
