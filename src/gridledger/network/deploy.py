"""A whole consortium on one machine: ``gridledger network init|up|status|down``.

``init`` lays out one directory per organisation, as each would have on its own machine::

    <dir>/consortium.json          the organisations, their ports and the chain id
    <dir>/pki/consortium.crt|key   the consortium's certificate authority (keep the key offline)
    <dir>/<org>/                   the organisation's node home: genesis.json, node.json,
                                   network.json, keys/ (node and operator keys, encrypted),
                                   tls/ (its certificate and key, the CA certificate),
                                   etcd/ (its etcd member's data), logs and pid files

``up`` starts every etcd member and then every node (each serving its API over TLS with the
organisation's certificate) as background processes; ``status`` asks each node and member how
it is; ``down`` stops them (SIGTERM, SIGKILL after a grace period).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec

from gridledger.contracts.base import ROLES
from gridledger.contracts.genesis import (
    Genesis,
    GenesisAccount,
    GenesisNetwork,
    GenesisOrganisation,
    resolved_rules,
)
from gridledger.contracts.rules import Rules
from gridledger.core.crypto import SigningKey
from gridledger.core.keystore import save_key
from gridledger.network import etcd as etcd_mod
from gridledger.network.config import EtcdMemberConfig, NetworkConfig, tls_context, write_config
from gridledger.network.pki import TlsFiles, issue, make_ca
from gridledger.node.home import key_path
from gridledger.node.node import GENESIS_NAME, wall_clock_ms

CONSORTIUM = "consortium.json"
CA_NAME = "consortium"


class OrgPorts(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    id: str
    name: str
    host: str
    etcd_client: int
    etcd_peer: int
    api: int
    netns: str | None = None
    """A network namespace the organisation's etcd member and node run in (``ip netns
    exec``), for partition tests; ``None`` runs them in the current one."""

    @property
    def client_url(self) -> str:
        return f"https://{self.host}:{self.etcd_client}"

    @property
    def peer_url(self) -> str:
        return f"https://{self.host}:{self.etcd_peer}"

    @property
    def api_url(self) -> str:
        return f"https://{self.host}:{self.api}"


class Consortium(msgspec.Struct, forbid_unknown_fields=True):
    chain_id: str
    orgs: list[OrgPorts]
    cluster_token: str


def read_consortium(root: Path) -> Consortium:
    path = root / CONSORTIUM
    if not path.is_file():
        raise FileNotFoundError(f"{root} holds no network; run 'gridledger network init'")
    return msgspec.json.decode(path.read_bytes(), type=Consortium)


def init_network(
    root: Path,
    orgs: int,
    passphrase: str,
    *,
    chain_id: str | None = None,
    host: str = "127.0.0.1",
    base_port: int = 24000,
    rules: Rules | None = None,
    accounts: Sequence[GenesisAccount] = (),
    hosts: Sequence[str] | None = None,
    netns: Sequence[str | None] | None = None,
) -> Consortium:
    """Create the consortium's CA, each organisation's keys, certificate and node home, and
    one genesis naming the founding organisations and their node keys.

    ``accounts`` are added to the genesis after the organisations' operators (e.g. funded
    accounts for a benchmark); each names one of the organisations ``org-1`` … ``org-<orgs>``.
    Every organisation listens on ``host`` unless ``hosts`` gives one address per organisation;
    ``netns`` names, per organisation, a network namespace its member and node run in."""
    if (root / CONSORTIUM).exists():
        raise FileExistsError(f"{root} already holds a network ({CONSORTIUM} exists)")
    if not 1 <= orgs <= 50:
        raise ValueError("a network has 1 to 50 organisations")
    for given, what in ((hosts, "hosts"), (netns, "netns")):
        if given is not None and len(given) != orgs:
            raise ValueError(f"{what} needs one entry per organisation ({orgs})")
    root.mkdir(parents=True, exist_ok=True)
    ports = [
        OrgPorts(
            id=f"org-{i}",
            name=f"Organisation {i}",
            host=host if hosts is None else hosts[i - 1],
            etcd_client=base_port + 10 * i,
            etcd_peer=base_port + 10 * i + 1,
            api=base_port + 10 * i + 2,
            netns=None if netns is None else netns[i - 1],
        )
        for i in range(1, orgs + 1)
    ]
    ca = make_ca(root / "pki", CA_NAME)
    node_keys = {o.id: SigningKey.generate() for o in ports}
    operator_keys = {o.id: SigningKey.generate() for o in ports}
    genesis = Genesis(
        chain_id=chain_id or f"gridledger-net-{os.urandom(4).hex()}",
        genesis_time=wall_clock_ms(),
        organisations=[
            GenesisOrganisation(
                id=o.id,
                name=o.name,
                roles=list(ROLES),
                node_key=node_keys[o.id].public_key,
                network=GenesisNetwork(
                    etcd_peer_url=o.peer_url, etcd_client_url=o.client_url, api_url=o.api_url
                ),
            )
            for o in ports
        ],
        accounts=[
            *(
                GenesisAccount(
                    id=f"{o.id}.operator",
                    org=o.id,
                    public_key=operator_keys[o.id].public_key,
                    roles=["operator"],
                )
                for o in ports
            ),
            *accounts,
        ],
        rules=rules or Rules(),
        readings_log=True,
    )
    genesis.rules = resolved_rules(genesis)
    genesis_bytes = genesis.encode()
    for o in ports:
        home = root / o.id
        (home / "tls").mkdir(parents=True, exist_ok=True)
        creds = issue(ca, o.id, home / "tls", [o.host, "localhost"])
        shutil.copy(ca.cert_path, home / "tls" / "ca.crt")
        save_key(key_path(home, "node"), "node", node_keys[o.id], passphrase)
        operator = f"{o.id}.operator"
        save_key(key_path(home, operator), operator, operator_keys[o.id], passphrase)
        (home / GENESIS_NAME).write_bytes(genesis_bytes)
        (home / "node.json").write_text(
            json.dumps(
                {
                    "org": o.id,
                    "api": f"{o.host}:{o.api}",
                    "tls_cert": str(creds.cert_path.relative_to(home)),
                    "tls_key": str(creds.key_path.relative_to(home)),
                },
                indent=2,
            )
        )
        tls = {"ca": "tls/ca.crt", "cert": f"tls/{o.id}.crt", "key": f"tls/{o.id}.key"}
        members = [o, *[p for p in ports if p.id != o.id]]  # its own member first
        write_config(
            home,
            NetworkConfig(
                etcd=[EtcdMemberConfig(url=m.client_url, **tls) for m in members],
                peers={p.id: p.api_url for p in ports if p.id != o.id},
                peer_ca="tls/ca.crt",
            ),
        )
    consortium = Consortium(genesis.chain_id, ports, f"gridledger-{genesis.chain_id}")
    (root / CONSORTIUM).write_bytes(msgspec.json.format(msgspec.json.encode(consortium)) + b"\n")
    return consortium


# processes -------------------------------------------------------------------------------------
def _member_spec(root: Path, org: OrgPorts) -> etcd_mod.MemberSpec:
    tls = root / org.id / "tls"
    return etcd_mod.MemberSpec(
        name=org.id,
        data_dir=root / org.id / "etcd",
        client_url=org.client_url,
        peer_url=org.peer_url,
        tls=TlsFiles(tls / "ca.crt", tls / f"{org.id}.crt", tls / f"{org.id}.key"),
        netns=org.netns,
    )


def _in_netns(org: OrgPorts, argv: list[str]) -> list[str]:
    """``argv`` run in the organisation's namespace, if it has one (``ip netns exec`` execs
    the command in place, so the pid is the command's)."""
    if org.netns is None:
        return argv
    return [shutil.which("ip") or "/usr/sbin/ip", "netns", "exec", org.netns, *argv]


def _spawn(argv: list[str], log_path: Path, pid_path: Path, env: dict[str, str] | None) -> int:
    with log_path.open("ab") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env,
        )  # fmt: skip
    pid_path.write_text(str(proc.pid))
    return proc.pid


def _alive(pid_path: Path) -> int | None:
    try:
        pid = int(pid_path.read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    # a zombie of ours is not alive
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return None
    except (OSError, IndexError):
        pass
    return pid


def start_member(root: Path, org_id: str) -> int:
    consortium = read_consortium(root)
    org = next(o for o in consortium.orgs if o.id == org_id)
    home = root / org.id
    existing = _alive(home / "etcd.pid")
    if existing:
        return existing
    spec = _member_spec(root, org)
    cluster = etcd_mod.initial_cluster([_member_spec(root, o) for o in consortium.orgs])
    restart = (home / "etcd" / "member").is_dir()
    argv = spec.command(cluster, consortium.cluster_token, "existing" if restart else "new")
    return _spawn(_in_netns(org, argv), home / "etcd.log", home / "etcd.pid", None)


def start_node(root: Path, org_id: str, passphrase: str) -> int:
    org = next(o for o in read_consortium(root).orgs if o.id == org_id)
    home = root / org_id
    existing = _alive(home / "node.pid")
    if existing:
        return existing
    env = {**os.environ, "GRIDLEDGER_PASSPHRASE": passphrase}
    argv = [sys.executable, "-m", "gridledger.cli", "node", "--home", str(home),
            "--log-level", "warning"]  # fmt: skip
    return _spawn(_in_netns(org, argv), home / "node.log", home / "node.pid", env)


def up(root: Path, passphrase: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """Start every member and node not running; wait until every node answers."""
    consortium = read_consortium(root)
    for org in consortium.orgs:
        start_member(root, org.id)
    for org in consortium.orgs:
        start_node(root, org.id, passphrase)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        report = status(root)
        if all(n["api"] for n in report["orgs"]):
            return report
        for org in consortium.orgs:
            if _alive(root / org.id / "node.pid") is None:
                tail = (root / org.id / "node.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the node of {org.id} exited:\n{tail}")
        time.sleep(0.5)
    raise TimeoutError(f"not every node answered within {timeout_s:.0f} s")


@dataclass
class _Stop:
    pid_path: Path
    pid: int


def down(root: Path, grace_s: float = 10.0) -> list[str]:
    """Stop every node, then every etcd member; returns what was stopped."""
    consortium = read_consortium(root)
    stopped = []
    for kind in ("node", "etcd"):
        running = []
        for org in consortium.orgs:
            pid_path = root / org.id / f"{kind}.pid"
            pid = _alive(pid_path)
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
                running.append(_Stop(pid_path, pid))
                stopped.append(f"{org.id} {kind}")
        deadline = time.monotonic() + grace_s
        while running and time.monotonic() < deadline:
            running = [s for s in running if _alive(s.pid_path) is not None]
            time.sleep(0.1)
        for s in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(s.pid, signal.SIGKILL)
        for org in consortium.orgs:
            (root / org.id / f"{kind}.pid").unlink(missing_ok=True)
    return stopped


def status(root: Path) -> dict[str, Any]:
    """Each organisation's node (height, final height, lag, halted) and etcd member health."""
    consortium = read_consortium(root)
    rows = []
    for org in consortium.orgs:
        home = root / org.id
        tls = home / "tls"
        context = tls_context(str(tls / "ca.crt"), str(tls / f"{org.id}.crt"),
                              str(tls / f"{org.id}.key"))  # fmt: skip
        row: dict[str, Any] = {
            "org": org.id,
            "node_running": _alive(home / "node.pid") is not None,
            "etcd_running": _alive(home / "etcd.pid") is not None,
            "api": False,
        }
        try:
            with httpx.Client(verify=context, timeout=2, trust_env=False) as http:
                st = http.get(f"{org.api_url}/v1/status").raise_for_status().json()
            row.update(
                api=True,
                height=st["height"],
                final_height=st.get("final_height", st["height"]),
                halted=st.get("halted"),
                network=st.get("network"),
            )
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        try:
            with httpx.Client(verify=context, timeout=2, trust_env=False) as http:
                health = http.get(f"{org.client_url}/health").json()
            row["etcd_healthy"] = str(health.get("health")) == "true"
        except (httpx.HTTPError, ValueError):
            row["etcd_healthy"] = False
        rows.append(row)
    top = max((r.get("height", 0) for r in rows), default=0)
    for r in rows:
        if "height" in r:
            r["lag"] = top - r["height"]
    return {"chain_id": consortium.chain_id, "orgs": rows}
