"""``gridledger bench carbon`` end to end on a few sites.

No timing is asserted (the figures belong in docs/benchmarks.md). What is asserted: both
chains committed every reading, the figures agree with each other, and the report's and the
inventory's totals are what the chain's stored readings and the factor sets in force give when
recomputed without the carbon read model (metering's own measurement and the contract's factor
lookup).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gridledger.bench.carbon import run_carbon_bench
from gridledger.bench.ledger import PASSPHRASE
from gridledger.contracts import carbon, metering, registry
from gridledger.node.chainverify import verify_chain
from gridledger.node.home import open_node

SITES, DAYS, ORGS = 30, 2, 3


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("gridledger")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gridledger.cli"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    home = tmp_path_factory.mktemp("bench-carbon") / "chains"
    result = run_carbon_bench(
        sites=SITES, days=DAYS, orgs=ORGS, gateways=4, batch=25, queries=3, home=home, workers=0
    )
    return result, home


def test_both_chains_committed_every_reading(run: tuple[dict[str, Any], Path]) -> None:
    result, home = run
    readings = SITES * DAYS * 24
    assert result["readings"] == readings
    for side in ("off", "on"):
        figures = result["sides"][side]
        assert figures["readings"] == readings, side
        assert figures["blocks"] >= 1
        assert figures["readings_per_s"] > 0
        report = verify_chain(home / side, workers=0)
        assert report.ok, report.problem
    # the same set-up and the same signed batches: the chains are equally high at the end
    assert result["sides"]["on"]["height"] == result["sides"]["off"]["height"]
    assert result["readings_per_s_on"] == result["sides"]["on"]["readings_per_s"]
    assert result["readings_per_s_off"] == result["sides"]["off"]["readings_per_s"]
    on, off = result["readings_per_s_on"], result["readings_per_s_off"]
    assert result["accounting_ratio"] == pytest.approx(on / off, abs=0.001)
    cpu_on, cpu_off = (result["sides"][s]["cpu_us_per_reading"] for s in ("on", "off"))
    assert result["accounting_cpu_ratio"] == pytest.approx(cpu_off / cpu_on, abs=0.001)


def test_the_report_matches_the_stored_readings_and_factors(
    run: tuple[dict[str, Any], Path],
) -> None:
    result, home = run
    month_s, month_end_s = carbon.month_bounds(result["month"])
    node = open_node(home / "on", PASSPHRASE, verify_workers=0)
    try:
        view = node.state.view
        sites = registry.list_sites(view).items
        wh = grams = 0
        fallbacks = set()
        for site in sites:
            measured = metering.measured_wh(view, "site", site.id, month_s, month_end_s)
            found = carbon.factor_for(view, site.grid_region, month_s)
            wh += measured.energy_wh
            grams += measured.energy_wh * found.set.grid_average.g_per_mwh // 1_000_000
            if found.fallback:
                fallbacks.add(f"{site.grid_region} -> {found.path[-1]}")
    finally:
        node.close()
    assert len(sites) == SITES
    assert result["report_sites"] == SITES
    assert result["report_readings"] == SITES * DAYS * 24
    assert result["report_consumption_wh"] == wh == result["readings_energy_wh"]
    assert result["report_scope2_location_g"] == grams
    assert result["report_fallbacks"] == sorted(fallbacks) == ["CN-HI -> CN"]
    # no certificate is claimed: both market-based figures price everything at the residual
    assert result["report_scope2_market_volume_g"] == result["report_scope2_market_hourly_g"]
    assert result["report_s"] >= 0


def test_the_inventory_is_the_organisations_whole_year(
    run: tuple[dict[str, Any], Path],
) -> None:
    result, home = run
    first, last = result["inventory_period"].split("..")
    year_s, _ = carbon.month_bounds(first)
    _, end_s = carbon.month_bounds(last)
    node = open_node(home / "on", PASSPHRASE, verify_workers=0)
    try:
        view = node.state.view
        own = registry.list_sites(view, owner_org=result["inventory_org"]).items
        wh = sum(metering.measured_wh(view, "site", s.id, year_s, end_s).energy_wh for s in own)
    finally:
        node.close()
    assert len(own) == result["inventory_sites"] == SITES // ORGS
    # twelve months: the eleven from the daily meters, then the measured month
    assert result["inventory_site_months"] == len(own) * 12
    assert result["inventory_consumption_wh"] == wh
    assert result["inventory_queries"] == 3
    assert 0 < result["inventory_query_ms_p50"] <= result["inventory_query_ms_p99"]


def test_bad_sizes_are_refused_before_anything_is_built(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one organisation per site"):
        run_carbon_bench(sites=2, orgs=3, home=tmp_path / "x")
    with pytest.raises(ValueError, match="days 1-31"):
        run_carbon_bench(sites=2, days=32, home=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_the_command_prints_one_json_object() -> None:
    out = subprocess.run(
        [*_cli(), "bench", "carbon", "--sites", "12", "--days", "1", "--orgs", "2",
         "--queries", "2", "--workers", "0", "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    for name in ("readings_per_s_on", "readings_per_s_off", "accounting_ratio",
                 "inventory_query_ms_p99", "report_s"):  # fmt: skip
        assert name in result, name
    assert result["readings"] == 12 * 24
    assert result["report_sites"] == 12
