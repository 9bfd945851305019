"""``gridledger bench carbon``: what carbon accounting costs the node, and how fast its
inventories and reports answer.

Two chains are built in one run, the same way, and receive the same signed readings: one node
keeps every default read model (:func:`gridledger.readmodels.default_models`), the other every
one but the carbon model (:class:`~gridledger.readmodels.carbon.CarbonTotals`), through the
node's ``readmodels`` setting. The chain without carbon accounting runs first.

Set-up, not timed, on each chain: ``orgs`` organisations, ``sites`` household sites (owned by
the organisations in equal contiguous shares, spread over five provinces, a ceiling of 10,000
Wh per hour), an hourly consumption meter per site reported by one of ``gateways`` gateway
accounts, a daily consumption meter on each site of the first organisation (for its year), and
the factors a regulator puts in force from the shipped factor library
(:mod:`gridledger.factors`): China's 2023 national grid average and residual mix, and the 2023
grid averages of four of the five provinces; the fifth (CN-HI) has none and falls back to the
national set through its regional grid (CN-SOUTH), as reports disclose. The readings are
signed once, before either chain exists, in batches of ``batch`` readings (one signature per
batch): ``days`` days of hourly readings per site, starting on the first of the latest whole
month that has ended and holds ``days`` days.

Timed, on each chain, from the first submission to the last commit (admission with signature
checks in the node's worker processes, ordering, execution of every per-reading rule, state
root, the SQLite commit with the read models' fold): every reading. ``readings_per_s_on`` and
``readings_per_s_off`` count readings accepted and committed; ``accounting_ratio`` is on over
off. Each side also gives the CPU time this process and its signature workers spent per
reading (``cpu_us_per_reading``), the cores they used and the cores everything else on the
machine used meanwhile (``other_processes_cores``: a busy machine skews the ratio of rates);
``accounting_cpu_ratio`` is the CPU per reading off over on, which other load moves less.

Then, on the chain with carbon accounting only:

* the first organisation's daily meters receive a reading for every day of the eleven months
  before the month (not timed), so its year has twelve monthly totals per site;
* ``inventory_query_ms_p50`` / ``_p99``: :func:`~gridledger.readmodels.carbon_inventory.
  org_inventory` of that organisation over the twelve months ending with the month, ``queries``
  times after one warm-up, against the node's read model connection and committed state;
* ``report_s``: the month's inventory of every site, one
  :func:`~gridledger.readmodels.carbon_inventory.site_inventory` per site, in site order; the
  report's totals are in the output, and ``report_consumption_wh`` equals the energy of the
  readings the benchmark signed.
"""

from __future__ import annotations

import datetime as dt
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from gridledger.bench.ledger import (
    PASSPHRASE,
    bench_key,
    commit_all,
    commit_timed,
    cpu_seconds,
)
from gridledger.contracts.genesis import GenesisAccount
from gridledger.contracts.rules import Rules
from gridledger.core.crypto import SigningKey
from gridledger.core.types import Transaction
from gridledger.factors import library
from gridledger.node.home import init_home, open_node
from gridledger.node.node import CommittedBlock, Node
from gridledger.readmodels import default_models
from gridledger.readmodels.carbon import CarbonTotals
from gridledger.readmodels.carbon_inventory import org_inventory, site_inventory

Progress = Callable[[str, int, int], None]

CHAIN_ID = "gridledger-bench-carbon"
HOUR_S = 3600
DAY_S = 86_400
CEILING_WH_PER_HOUR = 10_000
FEEDERS = 4
YEAR_MONTHS = 12
FACTOR_YEAR = 2023
PROVINCES = ("CN-GD", "CN-JS", "CN-ZJ", "CN-SD", "CN-HI")
"""Where the sites are, in turn; the last one has no factor set of its own."""
PROVINCIAL_SETS = ("CN-GD", "CN-JS", "CN-ZJ", "CN-SD")


def _noop(_phase: str, _done: int, _total: int) -> None:
    return None


def _gateway(i: int) -> str:
    return f"gw-{i:03d}"


def _org(i: int) -> str:
    return f"org-{i:02d}"


def _site(i: int) -> str:
    return f"site-{i:05d}"


def _hourly_meter(i: int) -> str:
    return f"mh-{i:05d}"


def _daily_meter(i: int) -> str:
    return f"md-{i:05d}"


def _energy_wh(site: int, hour: int) -> int:
    """A household's consumption in an hour: 200-3,199 Wh, spread by site and hour."""
    return 200 + (site * 7919 + hour * 104_729) % 3000


def _month_start(time_s: int) -> int:
    at = dt.datetime.fromtimestamp(time_s, dt.UTC)
    return int(dt.datetime(at.year, at.month, 1, tzinfo=dt.UTC).timestamp())


def _months_back(month_s: int, n: int) -> int:
    """The first second of the month ``n`` months before the month starting at ``month_s``."""
    at = month_s
    for _ in range(n):
        at = _month_start(at - 1)
    return at


def _month_days(month_s: int) -> int:
    return (_month_start(month_s + 32 * DAY_S) - month_s) // DAY_S


def _text(month_s: int) -> str:
    return dt.datetime.fromtimestamp(month_s, dt.UTC).strftime("%Y-%m")


def measured_month(now_s: int, days: int) -> int:
    """The first second of the latest month that has ended and holds ``days`` days."""
    month = _months_back(_month_start(now_s), 1)
    while _month_days(month) < days:
        month = _months_back(month, 1)
    return month


class _Signer:
    """Signs each account's transactions with nonces counting up from 1."""

    def __init__(self, keys: dict[str, SigningKey]) -> None:
        self.keys = keys
        self.nonces: dict[str, int] = {}

    def sign(self, sender: str, kind: str, body: dict[str, Any]) -> bytes:
        nonce = self.nonces.get(sender, 0) + 1
        self.nonces[sender] = nonce
        tx = Transaction(CHAIN_ID, kind, sender, nonce, body)
        tx.signature = self.keys[sender].sign(tx.signing_bytes())
        return tx.encode()


def _electricity(factor: library.Factor) -> dict[str, Any]:
    return {
        "g_per_mwh": factor.value,
        "gas": factor.gas,
        "boundary": factor.boundary,
        "source": {
            "factor_id": factor.id,
            "publisher": factor.publisher,
            "document": factor.document,
            "year": factor.year,
            "geography": factor.geography,
        },
    }


def factor_txs(keys: dict[str, SigningKey], start_s: int, end_s: int) -> list[bytes]:
    """The regulator's region map and factor sets from the shipped library, in force from
    ``start_s`` to ``end_s``: ``keys["regulator"]`` signs them with nonces 1, 2, ..."""
    return _factor_txs(_Signer(keys), start_s, end_s)


def _factor_txs(signer: _Signer, start_s: int, end_s: int) -> list[bytes]:
    """The regulator's region map and factor sets, from the shipped library."""
    lib = library.load()
    parents = {g.code: g.parent for g in lib.geographies}
    provinces = {p: parents[p] for p in PROVINCES if parents.get(p)}
    txs = [signer.sign("regulator", "carbon.set_region_map", {"provinces": provinces})]
    national = library.lookup(lib, "CN", FACTOR_YEAR, gas="CO2")
    residual = library.lookup(lib, "CN", FACTOR_YEAR, "residual_mix", gas="CO2")
    sets = [("CN", national.factor, residual.factor)] + [
        (p, library.lookup(lib, p, FACTOR_YEAR, gas="CO2").factor, None) for p in PROVINCIAL_SETS
    ]
    for region, grid, mix in sets:
        body: dict[str, Any] = {
            "id": f"{region}-{FACTOR_YEAR}-bench", "region": region, "start_s": start_s,
            "end_s": end_s, "library_version": lib.version, "gas": "CO2",
            "grid_average": _electricity(grid),
        }  # fmt: skip
        if mix is not None:
            body["residual_mix"] = _electricity(mix)
        txs.append(signer.sign("regulator", "carbon.record_factor_set", body))
    return txs


class _Plan:
    """Everything signed before either chain exists (the same bytes go to both)."""

    def __init__(
        self, sites: int, days: int, orgs: int, gateways: int, batch: int, now_s: int,
        progress: Progress,
    ) -> None:  # fmt: skip
        self.sites, self.days, self.orgs, self.gateways = sites, days, orgs, gateways
        self.org_sites = sites // orgs
        self.month_s = measured_month(now_s, days)
        self.year_s = _months_back(self.month_s, YEAR_MONTHS - 1)
        self.month_end_s = _month_start(self.month_s + 32 * DAY_S)
        keys = {
            "grid": bench_key(7_000_000), "regulator": bench_key(7_000_001),
            "admin": bench_key(7_000_002),
            **{_gateway(g): bench_key(7_100_000 + g) for g in range(gateways)},
        }  # fmt: skip
        self.keys = keys
        signer = _Signer(keys)
        self.organisations = [
            signer.sign("admin", "registry.add_organisation",
                        {"org": _org(o), "name": f"organisation {o}", "roles": ["consumer"]})
            for o in range(orgs)
        ]  # fmt: skip
        self.factors = _factor_txs(signer, self.year_s, self.month_end_s)
        grid: list[bytes] = []
        for i in range(sites):
            grid.append(
                signer.sign(
                    "grid",
                    "registry.register_site",
                    {
                        "site": _site(i),
                        "name": f"household {i}",
                        "country": "CN",
                        "grid_region": PROVINCES[i % len(PROVINCES)],
                        "max_wh_per_hour": CEILING_WH_PER_HOUR,
                        "owner_org": _org(self.org_of(i)),
                    },
                )
            )
            grid.append(
                signer.sign(
                    "grid",
                    "registry.register_meter",
                    {
                        "meter": _hourly_meter(i),
                        "kind": "consumption",
                        "site": _site(i),
                        "gateway": _gateway(i % gateways),
                        "interval_s": HOUR_S,
                    },
                )
            )
            if i < self.org_sites:
                grid.append(signer.sign("grid", "registry.register_meter", {
                    "meter": _daily_meter(i), "kind": "consumption", "site": _site(i),
                    "gateway": _gateway(i % gateways), "interval_s": DAY_S}))  # fmt: skip
        self.registry = grid
        # the month: each gateway's meters, hour by hour, in batches
        hours = days * 24
        self.readings = sites * hours
        self.energy_wh = 0
        self.month_parts: list[list[bytes]] = [[] for _ in range(FEEDERS)]
        for g in range(gateways):
            mine = range(g, sites, gateways)
            rows: list[dict[str, Any]] = []
            for h in range(hours):
                start = self.month_s + h * HOUR_S
                for i in mine:
                    wh = _energy_wh(i, h)
                    self.energy_wh += wh
                    rows.append({"meter": _hourly_meter(i), "start": start,
                                 "length_s": HOUR_S, "energy_wh": wh})  # fmt: skip
            self.month_parts[g % FEEDERS].extend(
                signer.sign(_gateway(g), "metering.submit", {"readings": rows[k : k + batch]})
                for k in range(0, len(rows), batch)
            )
            progress("sign", (g + 1) * self.readings // gateways, self.readings)
        # the eleven months before, daily, for the first organisation's sites
        history_days = (self.month_s - self.year_s) // DAY_S
        self.history_readings = self.org_sites * history_days
        self.history_parts: list[list[bytes]] = [[] for _ in range(FEEDERS)]
        for g in range(min(gateways, self.org_sites)):
            rows = [
                {"meter": _daily_meter(i), "start": self.year_s + d * DAY_S, "length_s": DAY_S,
                 "energy_wh": 24 * _energy_wh(i, d)}
                for d in range(history_days)
                for i in range(g, self.org_sites, gateways)
            ]  # fmt: skip
            self.history_parts[g % FEEDERS].extend(
                signer.sign(_gateway(g), "metering.submit", {"readings": rows[k : k + batch]})
                for k in range(0, len(rows), batch)
            )

    def org_of(self, site: int) -> int:
        return min(site // self.org_sites, self.orgs - 1)


def _machine_busy_s() -> float:
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0))


def _open(plan: _Plan, home: Path, carbon: bool, workers: int | None) -> Node:
    init_home(
        home,
        PASSPHRASE,
        chain_id=CHAIN_ID,
        accounts=[
            GenesisAccount(id="grid", org="operator", public_key=plan.keys["grid"].public_key,
                           roles=["grid_operator"]),
            GenesisAccount(id="regulator", org="operator",
                           public_key=plan.keys["regulator"].public_key, roles=["regulator"]),
            GenesisAccount(id="admin", org="operator", public_key=plan.keys["admin"].public_key,
                           roles=["operator"]),
            *(GenesisAccount(id=_gateway(g), org="operator",
                             public_key=plan.keys[_gateway(g)].public_key)
              for g in range(plan.gateways)),
        ],
        rules=Rules(block_max_txs=2000),
    )  # fmt: skip
    models = default_models()
    if not carbon:
        models = [m for m in models if m.name != CarbonTotals.name]
    node = open_node(
        home, PASSPHRASE, verify_workers=workers, tune_gc=True, block_interval_ms=50,
        readmodels=models,
    )  # fmt: skip
    node.start()
    return node


def _readings(node: Node, parts: list[list[bytes]], expected: int, phase: str,
              progress: Progress) -> dict[str, Any]:  # fmt: skip
    """Commit signed reading batches; the rate and the cores used, from first to last commit."""
    counts = {"accepted": 0, "refused": 0}

    def count(blk: CommittedBlock) -> None:
        for receipt in blk.receipts:
            for event in receipt.events:
                if event["type"] == "metering.readings_accepted":
                    counts["accepted"] += event["count"]
                elif event["type"] == "metering.reading_refused":
                    counts["refused"] += 1
                elif event["type"] == "metering.batch_refused":
                    counts["refused"] += event["count"]
        progress(phase, counts["accepted"] + counts["refused"], expected)

    me = psutil.Process()
    own0, machine0 = sum(cpu_seconds(me)), _machine_busy_s()
    run = commit_timed(node, parts, phase=phase, on_block=count, timeout_s=7200)
    own1, machine1 = sum(cpu_seconds(me)), _machine_busy_s()
    if run.committed < run.txs or run.failed:
        raise RuntimeError(
            f"{phase}: {run.committed} of {run.txs} batches committed, {run.failed} failed"
            f"{f', e.g. {run.first_failure}' if run.first_failure else ''}"
        )
    if counts["accepted"] != expected or counts["refused"]:
        raise RuntimeError(
            f"{phase}: {counts['accepted']} readings accepted, {counts['refused']} refused, "
            f"{expected} sent"
        )
    own, other = own1 - own0, max(0.0, (machine1 - machine0) - (own1 - own0))
    return {
        "readings": counts["accepted"],
        "elapsed_s": round(run.elapsed_s, 3),
        "readings_per_s": round(counts["accepted"] / run.elapsed_s, 1),
        "blocks": len(run.commit_ms),
        "block_commit_ms_p50": round(statistics.median(run.commit_ms), 1),
        "block_commit_ms_max": round(max(run.commit_ms), 1),
        "cpu_us_per_reading": round(own / counts["accepted"] * 1e6, 2),
        "cores_used": round(own / run.elapsed_s, 2),
        "other_processes_cores": round(other / run.elapsed_s, 2),
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _queries(node: Node, plan: _Plan, queries: int) -> dict[str, Any]:
    """The first organisation's year, ``queries`` times after a warm-up."""
    conn = node.readmodels.reader()
    view = node.state.view
    start, end = _text(plan.year_s), _text(plan.month_s)
    first = org_inventory(conn, view, _org(0), start, end)
    times: list[float] = []
    for _ in range(queries):
        t0 = time.perf_counter()
        org_inventory(conn, view, _org(0), start, end)
        times.append((time.perf_counter() - t0) * 1000)
    history_wh = sum(
        24 * _energy_wh(i, d)
        for i in range(plan.org_sites)
        for d in range((plan.month_s - plan.year_s) // DAY_S)
    )
    month_wh = sum(_energy_wh(i, h) for i in range(plan.org_sites) for h in range(plan.days * 24))
    if first.consumption_wh != history_wh + month_wh:
        raise RuntimeError(
            f"the organisation's year counts {first.consumption_wh} Wh, not {history_wh + month_wh}"
        )
    return {
        "inventory_org": _org(0),
        "inventory_sites": plan.org_sites,
        "inventory_period": f"{start}..{end}",
        "inventory_site_months": len(first.months),
        "inventory_consumption_wh": first.consumption_wh,
        "inventory_scope2_location_g": first.scope2_location_g,
        "inventory_queries": queries,
        "inventory_query_ms_p50": round(statistics.median(times), 2),
        "inventory_query_ms_p99": round(_percentile(times, 0.99), 2),
    }


def _report(node: Node, plan: _Plan) -> dict[str, Any]:
    """The month's inventory of every site, timed."""
    conn = node.readmodels.reader()
    view = node.state.view
    month = _text(plan.month_s)
    totals = {"consumption_wh": 0, "location_g": 0, "market_volume_g": 0, "market_hourly_g": 0,
              "readings": 0}  # fmt: skip
    fallbacks: set[str] = set()
    t0 = time.perf_counter()
    for i in range(plan.sites):
        inv = site_inventory(conn, view, _site(i), month, month)
        totals["consumption_wh"] += inv.consumption_wh
        totals["location_g"] += inv.scope2_location_g
        totals["market_volume_g"] += inv.scope2_market_volume_g
        totals["market_hourly_g"] += inv.scope2_market_hourly_g
        totals["readings"] += inv.readings
        fallbacks.update(inv.fallbacks)
    report_s = time.perf_counter() - t0
    return {
        "report_month": month,
        "report_sites": plan.sites,
        "report_s": round(report_s, 3),
        "report_readings": totals["readings"],
        "report_consumption_wh": totals["consumption_wh"],
        "report_scope2_location_g": totals["location_g"],
        "report_scope2_market_volume_g": totals["market_volume_g"],
        "report_scope2_market_hourly_g": totals["market_hourly_g"],
        "report_fallbacks": sorted(fallbacks),
    }


def run_carbon_bench(
    sites: int = 10_000,
    days: int = 30,
    orgs: int = 10,
    gateways: int = 100,
    batch: int = 1000,
    queries: int = 200,
    home: Path | None = None,
    workers: int | None = None,
    progress: Progress = _noop,
) -> dict[str, Any]:
    """Build both chains, push the month through each, then query and report (see the
    module's docstring). ``home``: a new directory to keep both chains in (``off/``, ``on/``)."""
    if sites < 1 or not 1 <= days <= 31 or orgs < 1 or gateways < 1 or queries < 1:
        raise ValueError("sites, orgs, gateways and queries must be positive; days 1-31")
    if orgs > sites:
        raise ValueError("at most one organisation per site")
    if not 1 <= batch <= 5000:
        raise ValueError("batch is 1-5000 readings")
    tmp = None
    if home is None:
        tmp = tempfile.TemporaryDirectory(prefix="gridledger-bench-carbon-")
        home = Path(tmp.name)
    t_setup = time.perf_counter()
    plan = _Plan(sites, days, orgs, gateways, batch, int(time.time()), progress)
    sign_s = time.perf_counter() - t_setup
    sides: dict[str, dict[str, Any]] = {}
    out: dict[str, Any] = {}
    setup_s = 0.0
    for side, carbon in (("off", False), ("on", True)):
        t0 = time.perf_counter()
        node = _open(plan, home / side, carbon, workers)
        try:
            commit_all(node, plan.organisations + plan.factors)
            commit_all(node, plan.registry)
            setup_s += time.perf_counter() - t0
            sides[side] = _readings(node, plan.month_parts, plan.readings, side, progress)
            sides[side]["height"] = node.tip.height
            if carbon:
                t1 = time.perf_counter()
                _readings(node, plan.history_parts, plan.history_readings, "history", progress)
                setup_s += time.perf_counter() - t1
                progress("queries", 0, 2)
                out.update(_queries(node, plan, queries))
                progress("queries", 1, 2)
                out.update(_report(node, plan))
                progress("queries", 2, 2)
        finally:
            node.close()
    if out["report_consumption_wh"] != plan.energy_wh:
        raise RuntimeError(
            f"the report counts {out['report_consumption_wh']} Wh; {plan.energy_wh} were sent"
        )
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if tmp is not None:
        tmp.cleanup()
    on, off = sides["on"]["readings_per_s"], sides["off"]["readings_per_s"]
    return {
        "sites": sites,
        "days": days,
        "month": _text(plan.month_s),
        "readings": plan.readings,
        "readings_energy_wh": plan.energy_wh,
        "organisations": orgs,
        "gateways": gateways,
        "batch": batch,
        "readings_per_s_on": on,
        "readings_per_s_off": off,
        "accounting_ratio": round(on / off, 3),
        "accounting_cpu_ratio": round(
            sides["off"]["cpu_us_per_reading"] / sides["on"]["cpu_us_per_reading"], 3
        ),
        **out,
        "sides": sides,
        "verify_workers": workers if workers is not None else "one per core",
        "sign_s": round(sign_s, 1),
        "setup_s": round(setup_s, 1),
        "peak_rss_mb": round(peak_rss, 1),
    }
