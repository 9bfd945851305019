"""What the gateway tests share: a node with its API on 127.0.0.1, registered meters, and a
real mosquitto broker on a free loopback port.

The node runs in process (:func:`fixtures_node.running_chain`, 20 ms blocks) with its API on
uvicorn in a thread, so gateways talk to it over HTTP exactly as in production.
"""

from __future__ import annotations

import getpass
import secrets
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from fixtures_node import Chain, derived_key, free_port, running_chain
from gridledger.api.server import ApiServer
from gridledger.contracts import metering
from gridledger.core.crypto import SigningKey
from gridledger.sdk import Client

MOSQUITTO = "/usr/sbin/mosquitto"
DEVICE = "plant-1"
SITE = "site-1"
CAPACITY_W = 5_000_000
"""Large enough that every test reading is plausible (15 min: up to 1.375 GWh)."""
SITE_WH_PER_HOUR = 20_000
"""A consumption site's ceiling: hourly readings above 20 kWh are implausible."""

T = TypeVar("T")


def wait_for(
    check: Callable[[], T | None], timeout: float = 15.0, what: str = "the condition"
) -> T:
    """Poll ``check`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Ledger:
    """A running chain, its API, and an operator client that can register meters."""

    chain: Chain
    url: str
    client: Client
    keys: dict[str, SigningKey] = field(default_factory=dict)

    def send(self, kind: str, body: dict[str, Any], sender: str = "operator") -> None:
        key = self.chain.keys.get(sender) or self.keys[sender]
        self.client.send(key, sender, kind, body).raise_for_status()

    def add_gateway(self, name: str) -> SigningKey:
        """A gateway account (no role needed) with a key derived from its name."""
        key = derived_key(name)
        self.keys[name] = key
        self.send(
            "registry.add_account",
            {"account": name, "org": "operator", "public_key": key.public_key},
        )
        return key

    def add_meter(self, meter: str, gateway: str, interval_s: int = 900) -> None:
        """A generation meter on the plant (15 min) or, hourly, a consumption meter on the site."""
        body: dict[str, Any] = {"meter": meter, "gateway": gateway, "interval_s": interval_s}
        if interval_s == 900:
            body.update(kind="generation", device=DEVICE)
        else:
            body.update(kind="consumption", site=SITE)
        self.send("registry.register_meter", body)

    def stored(self, meter: str, start: int) -> dict[str, Any] | None:
        """The reading on the chain for ``(meter, start)``, or None."""
        value: dict[str, Any] | None = self.chain.node.state.view.get_json(
            metering.keys.reading(meter, start)
        )
        return value

    def state_root(self) -> str:
        root: str = self.client.status()["state_root"]
        return root

    def nonce(self, account: str) -> int:
        return int(self.client.account(account)["nonce"])


@contextmanager
def running_ledger(home: Path) -> Iterator[Ledger]:
    """A chain whose operator may register devices and meters, with a plant and a site."""
    with (
        running_chain(home) as chain,
        ApiServer(chain.node) as server,
        Client(server.url, timeout=30) as client,
    ):
        ledger = Ledger(chain, server.url, client)
        for role in ("grid_operator", "producer"):
            ledger.send("registry.grant_role", {"account": "operator", "role": role})
        ledger.send(
            "registry.register_device",
            {"device": DEVICE, "name": "Rooftop plant", "technology": "solar_pv",
             "fuel": "solar", "capacity_w": CAPACITY_W, "commissioned": "2026-01-01",
             "country": "CN", "grid_region": "CN-GD"},
        )  # fmt: skip
        ledger.send(
            "registry.register_site",
            {"site": SITE, "name": "Flat 417", "country": "CN", "grid_region": "CN-GD",
             "max_wh_per_hour": SITE_WH_PER_HOUR},
        )  # fmt: skip
        yield ledger


class Broker:
    """A mosquitto on 127.0.0.1 with persistence, restartable on the same port and data."""

    def __init__(self, workdir: Path, extra: str = "allow_anonymous true\n") -> None:
        """``extra``: configuration after the plain listener on :attr:`port` (authentication,
        more listeners; listener options apply to the ``listener`` line above them)."""
        if not Path(MOSQUITTO).is_file():
            # not a skip: make install provides it, and a skipped test would hide its absence
            pytest.fail(
                f"{MOSQUITTO} is missing; run: bash scripts/ensure-system-packages.sh mosquitto"
            )
        self.port = free_port()
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = self.dir / "mosquitto.conf"
        self.log = self.dir / "mosquitto.log"
        # run as the current user: started as root, mosquitto would switch to the "mosquitto"
        # user, which cannot write the persistence file into this directory
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "persistence true\n"
            f"persistence_location {self.dir}/\n"
            "max_queued_messages 0\n"
            f"user {getpass.getuser()}\n" + extra
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_for(self._listening, 10, "mosquitto to listen")

    def _listening(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail("mosquitto exited: " + self.log.read_text())
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        """SIGTERM: mosquitto saves its persistent sessions and queued messages."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@dataclass(frozen=True)
class Certs:
    """A throw-away CA, a broker certificate for 127.0.0.1 and a client certificate (PEM)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_certs(workdir: Path) -> Certs:
    """Generate :class:`Certs` in ``workdir`` with the ``openssl`` command (EC P-256 keys)."""
    workdir.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str | Path) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)

    def key(name: str) -> Path:
        path = workdir / f"{name}.key"
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
        return path

    ca_key, ca = key("ca"), workdir / "ca.crt"
    openssl("req", "-x509", "-new", "-key", ca_key, "-out", ca, "-days", "2", "-subj",
            "/CN=GridLedger test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip

    def leaf(name: str, extensions: str) -> tuple[Path, Path]:
        leaf_key, csr, cert = key(name), workdir / f"{name}.csr", workdir / f"{name}.crt"
        ext = workdir / f"{name}.ext"
        ext.write_text(f"basicConstraints=CA:FALSE\n{extensions}\n")
        openssl("req", "-new", "-key", leaf_key, "-out", csr, "-subj", f"/CN={name}")
        serial = str(secrets.randbits(63))
        openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-out", cert,
                "-days", "2", "-set_serial", serial, "-extfile", ext)  # fmt: skip
        return cert, leaf_key

    server_cert, server_key = leaf(
        "broker", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"
    )
    client_cert, client_key = leaf("gateway", "extendedKeyUsage=clientAuth")
    return Certs(ca, server_cert, server_key, client_cert, client_key)
