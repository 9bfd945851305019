"""A running node with a market on it, for the market's API, SDK and CLI tests.

On top of :mod:`fixtures_node`'s genesis: the organisations ``homes`` (consumer) and ``solar``
(producer); the consumers ``ann`` and ``ben`` (100,000 minor units each) and ``dan`` (10) with
the sites ``s-ann``, ``s-ben`` and ``s-dan``; the producer ``sun`` with the plants ``pv-1``
(10 kW), ``pv-2`` (20 kW) and ``pv-3`` (no meter, so it never trades). In the operator's
organisation, ``grid`` (grid_operator, 1,000,000) registers an hourly meter ``m-<asset>`` for
every site and metered plant, reported by the gateway ``gw``. Tariffs are not set: the tests
set them through the interface they test. Every key derives from its account's name.

The node takes block time from :class:`Clock`, which only the test moves (forward): orders
go in before an interval's gate closure, ``market.clear`` after it, readings and
``market.settle`` after the interval's end, all without waiting.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from typer.testing import CliRunner, Result

from fixtures_node import PASSPHRASE, Chain, derived_key, make_home
from gridledger.api import ApiServer
from gridledger.cli.main import app
from gridledger.core.keystore import save_key
from gridledger.node.home import key_path, open_node
from gridledger.node.node import wall_clock_ms
from gridledger.sdk import Client

HOUR = 3600
GATE_S = 300
"""The default gate closure: orders close 5 minutes before an interval starts."""
SELL, FEED_IN = 60, 30
"""The grid's tariffs in the tests: sells at 60, pays 30 minor units per kWh."""
CONSUMERS = {"ann": 100_000, "ben": 100_000, "dan": 10}
SITES = {"s-ann": "ann", "s-ben": "ben", "s-dan": "dan"}
PLANTS = {"pv-1": 10_000, "pv-2": 20_000, "pv-3": 5_000}
METERED = ("pv-1", "pv-2")
GRID_FUNDS = 1_000_000
PARTIES = ("ann", "ben", "dan", "sun", "grid", "gw")


class Clock:
    """Block time for the node, in ms; moved by the test, never backwards."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms

    def set(self, seconds: int) -> None:
        assert seconds * 1000 >= self.ms, "the clock only moves forward"
        self.ms = seconds * 1000


@dataclass
class MarketChain(Chain):
    clock: Clock
    hour: int
    """The first interval start whose gate closure is more than an hour away at setup."""

    def commit(self, sender: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """Submit a transaction as ``sender``, wait for it, and require status ok."""
        stored = self.node.wait_receipt(
            self.node.submit(self.sign(sender, kind, body).encode()), 10
        )
        assert stored is not None, f"{kind} did not commit"
        receipt: dict[str, Any] = json.loads(stored.receipt)
        assert receipt["status"] == "ok", receipt
        return receipt

    def readings(self, start: int, energy_wh: dict[str, int]) -> None:
        """One hourly reading per asset (meter ``m-<asset>``), reported by ``gw``."""
        batch = [
            {"meter": f"m-{asset}", "start": start, "length_s": HOUR, "energy_wh": wh}
            for asset, wh in sorted(energy_wh.items())
        ]
        receipt = self.commit("gw", "metering.submit", {"readings": batch})
        assert receipt["events"][-1]["count"] == len(batch), receipt["events"]


def _participants(chain: MarketChain) -> None:
    for name in PARTIES:
        chain.keys[name] = derived_key(name)
    chain.commit("operator", "registry.add_organisation",
                 {"org": "homes", "name": "Households", "roles": ["consumer"]})  # fmt: skip
    chain.commit("operator", "registry.add_organisation",
                 {"org": "solar", "name": "Solar Co", "roles": ["producer"]})  # fmt: skip
    accounts = [
        *((name, "homes", ["consumer"]) for name in CONSUMERS),
        ("sun", "solar", ["producer"]),
        ("grid", "operator", ["grid_operator"]),
        ("gw", "operator", []),
    ]
    for account, org, roles in accounts:
        body = {"account": account, "org": org, "public_key": chain.keys[account].public_key,
                "roles": roles}  # fmt: skip
        chain.commit("operator", "registry.add_account", body)
    for account, amount in [*CONSUMERS.items(), ("grid", GRID_FUNDS)]:
        chain.commit("operator", "funds.mint", {"to": account, "amount": amount})
    for device, capacity in PLANTS.items():
        body = {"device": device, "name": f"Roof PV {device}", "technology": "solar_pv",
                "fuel": "solar", "capacity_w": capacity, "commissioned": "2024-01-01",
                "country": "CN", "grid_region": "CN-GD"}  # fmt: skip
        chain.commit("sun", "registry.register_device", body)
    for site, owner in SITES.items():
        body = {"site": site, "name": f"Flat of {owner}", "country": "CN",
                "grid_region": "CN-GD", "max_wh_per_hour": 8_000}  # fmt: skip
        chain.commit(owner, "registry.register_site", body)
    for asset in [*METERED, *SITES]:
        binding = {"kind": "generation", "device": asset} if asset in PLANTS else {
            "kind": "consumption", "site": asset}  # fmt: skip
        body = {"meter": f"m-{asset}", "gateway": "gw", "interval_s": HOUR, **binding}
        chain.commit("grid", "registry.register_meter", body)


@contextmanager
def market_chain(home: Path, **options: Any) -> Iterator[MarketChain]:
    """A started node (inline signature checks, 20 ms blocks; ``options`` for the rest of its
    configuration) on a fresh home, driven by a :class:`Clock` that starts at the wall clock,
    with the participants registered."""
    keys = make_home(home)
    clock = Clock(wall_clock_ms())
    node = open_node(
        home, PASSPHRASE, verify_workers=0, block_interval_ms=20, clock=clock, **options
    )
    try:
        node.start()
        hour = (clock.ms // 1000 // HOUR + 2) * HOUR
        chain = MarketChain(home, node, keys, clock, hour)
        _participants(chain)
        yield chain
    finally:
        node.close()


C = TypeVar("C", bound=MarketChain)


@dataclass
class NodeCli(Generic[C]):
    """Runs ``gridledger`` commands against the test node with the test home's keys."""

    chain: C
    env: dict[str, str | None]
    client: Client
    group: tuple[str, ...] = ()
    """The command group :meth:`events` and :meth:`failed` run under (``("cert",)``)."""

    def run(self, *args: str | int | Path, code: int = 0) -> Result:
        result = CliRunner().invoke(app, [str(a) for a in args], env=self.env)
        assert result.exit_code == code, (result.output, result.exception)
        return result

    def json(self, *args: str | int | Path, code: int = 0) -> Any:
        return json.loads(self.run(*args, "--json", code=code).stdout)

    def events(self, *args: str | int) -> list[dict[str, Any]]:
        """Run a transaction command that must succeed; return its receipt's events."""
        committed = self.json(*self.group, *args)
        assert committed["receipt"]["status"] == "ok", committed
        events: list[dict[str, Any]] = committed["receipt"]["events"]
        return events

    def failed(self, *args: str | int) -> str:
        """Run a transaction command that commits but fails (exit 1); return its code."""
        committed = self.json(*self.group, *args, code=1)
        assert committed["receipt"]["status"] == "failed", committed
        code: str = committed["receipt"]["code"]
        return code


@contextmanager
def node_cli(chain: C, keys: Iterable[str], group: tuple[str, ...] = ()) -> Iterator[NodeCli[C]]:
    """``chain``'s API served on 127.0.0.1, the keys of the accounts ``keys`` saved in its home,
    and a :class:`NodeCli` that runs commands against it."""
    with ApiServer(chain.node) as server:
        for name in keys:
            save_key(key_path(chain.home, name), name, chain.keys[name], PASSPHRASE)
        env: dict[str, str | None] = {
            "GRIDLEDGER_PASSPHRASE": PASSPHRASE,
            "GRIDLEDGER_HOME": str(chain.home),
            "GRIDLEDGER_NODE": server.url,
        }
        with Client(server.url) as client:
            yield NodeCli(chain, env, client, group)
