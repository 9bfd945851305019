"""``gridledger demo`` end to end: a small community on a simulated clock, its summary checked
against itself and against the ledger (certificates included), the home rules, and ``--serve``
on the real clock.

The four carbon figures are checked against the energy and the factors behind them. The window
is pinned (``--last-day 2025-06-21``, a sunny-season day in Shenzhen) so the run does not
depend on the date it happens on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from fixtures_node import PASSPHRASE, free_port
from gridledger import factors
from gridledger.cli.main import app
from gridledger.contracts import (
    carbon,
    certificates,
    claims,
    credits,
    exchange,
    market,
    products,
    registry,
)
from gridledger.contracts.genesis import load as load_genesis
from gridledger.core.keystore import load_key
from gridledger.documents.passport import product_proof
from gridledger.documents.proofs import claim_proof
from gridledger.node.chainverify import verify_chain
from gridledger.node.home import init_home, key_path, open_node
from gridledger.node.members import Members
from gridledger.sdk import Client, keys_from_genesis
from gridledger.sdk.claim_proofs import verify_claim_proof
from gridledger.sdk.product_proofs import verify_product_proof
from gridledger.sim.community import DemoConfig, build_community, window
from gridledger.sim.summary import ledger_summary
from gridledger.sim.supply_chain import CAR, INGOT, RIM, SITES
from test_cli import gridledger_command

ENV = {"GRIDLEDGER_PASSPHRASE": PASSPHRASE, "GRIDLEDGER_HOME": None, "GRIDLEDGER_NODE": None}
LAST_DAY = "2025-06-21"
PLANTS, HOUSEHOLDS = 3, 12
SMALL = ["--plants", str(PLANTS), "--households", str(HOUSEHOLDS), "--days", "1"]
FIGURES = (
    "generation_wh",
    "consumption_wh",
    "paired_wh",
    "delivered_wh",
    "grid_import_wh",
    "grid_export_wh",
    "clean_share",
    "clean_share_clean_households",
    "pairings",
    "clearing_price",
    "payments",
    "intervals",
    "certified_wh",
    "claimed_wh",
    "hourly_matched_share",
)


def demo(*args: str | Path, code: int = 0) -> Any:
    argv = ["demo", "--last-day", LAST_DAY, "--port", str(free_port()), *map(str, args)]
    result = CliRunner().invoke(app, [*argv, "--json"], env=ENV)
    assert result.exit_code == code, (result.output, result.exception)
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    home = tmp_path_factory.mktemp("demo") / "home"
    return home, demo(*SMALL, "--seed", "7", "--home", home)


def offered_hours() -> list[int]:
    """The interval starts of the run's day that some plant's forecast offers energy in."""
    start, _ = window(1, dt.date.fromisoformat(LAST_DAY))
    community = build_community(
        DemoConfig(plants=PLANTS, households=HOUSEHOLDS, days=1, seed=7), start
    )
    return [
        start + h * 3600
        for h in range(24)
        if any(community.forecast[p.device][h] for p in community.plants)
    ]


def check_energy(f: dict[str, Any]) -> None:
    """Every Wh consumed came from a plant or the grid; every Wh generated went to a household
    or into the grid."""
    assert f["delivered_wh"] + f["grid_import_wh"] == f["consumption_wh"]
    assert f["delivered_wh"] + f["grid_export_wh"] == f["generation_wh"]
    assert 0 <= f["delivered_wh"] <= f["paired_wh"]
    assert 0 <= f["clean_share"] <= f["clean_share_clean_households"] <= 1


def test_summary_is_consistent(run: tuple[Path, dict[str, Any]]) -> None:
    _, s = run
    check_energy(s)
    assert s["clean_share"] > 0
    assert s["clean_share"] == round(s["delivered_wh"] / s["consumption_wh"], 4)
    assert s["pairings"] > 0
    # only the hours some plant offered into are cleared (and all of them settled): at night
    # there is nothing to clear
    sunny = len(offered_hours())
    assert 8 <= sunny < 24
    assert s["intervals"] == {"total": 24, "cleared": sunny, "settled": sunny, "missing_data": 0}
    assert len(s["days"]) == 1
    day = s["days"][0]
    assert day["date"] == LAST_DAY
    check_energy(day)
    for name in FIGURES:
        assert day[name] == s[name], name
    # the ledger holds exactly what the simulator metered, every reading accepted
    assert s["simulated"] == {
        "generation_wh": s["generation_wh"],
        "consumption_wh": s["consumption_wh"],
    }
    readings = s["readings"]
    assert readings["refused"] == 0
    assert readings["submitted"] == readings["accepted"] == readings["on_chain"]
    assert readings["on_chain"] == (PLANTS + HOUSEHOLDS) * 24
    # the market's participants balance too, and the accounts' totals match the intervals'
    m = s["market"]
    assert m["delivered_wh"] + m["grid_import_wh"] == m["consumption_wh"]
    assert m["delivered_wh"] + m["grid_export_wh"] == m["generation_wh"]
    consumers, producers = s["accounts"]["consumers"], s["accounts"]["producers"]
    assert consumers["consumed_wh"] == m["consumption_wh"]
    assert consumers["clean_wh"] == producers["sold_wh"] == s["delivered_wh"]
    assert consumers["grid_import_wh"] == m["grid_import_wh"]
    assert consumers["clean_paid_fen"] == producers["clean_revenue_fen"] == s["payments"]["clean"]
    assert consumers["grid_paid_fen"] == s["payments"]["grid"]
    assert producers["generated_wh"] == m["generation_wh"]
    assert producers["exported_wh"] == m["grid_export_wh"]
    assert producers["feed_in_revenue_fen"] == s["payments"]["feed_in"]
    assert s["payments"]["unpaid"] == 0
    # money is conserved and no bid keeps anything locked once every interval is settled
    assert s["money"]["balances"] + s["money"]["escrow"] == s["money"]["supply"]
    assert s["money"]["escrow"] == 0
    # prices stay between what the grid pays and what it charges
    tariffs = s["community"]["tariffs"]
    prices = s["clearing_price"]
    assert tariffs["feed_in_price"] < prices["min"] <= prices["mean"] <= prices["max"]
    assert prices["max"] <= tariffs["sell_price"]
    # the households and the community hall, which the grid supplies without a choice
    assert s["households"]["total"] == HOUSEHOLDS + 1
    assert s["households"]["none"] == 1
    assert s["households"]["clean"] + s["households"]["grid"] == HOUSEHOLDS
    assert s["households"]["clean"] > 0
    assert s["plants"]["total"] == PLANTS
    assert s["chain"]["failed_txs"] == 0
    # the certifier's keeper issued every hour whose data was final (all but the last, which
    # is after dark), and each settled pairing's delivery was claimed for its household
    assert s["certified_wh"] == s["generation_wh"] > 0
    assert s["claimed_wh"] == s["delivered_wh"]
    assert s["certificates"]["hourly_matched_wh"] == s["claimed_wh"]
    assert s["hourly_matched_share"] == s["clean_share"]
    assert s["certificates"]["withdrawn_wh"] == 0
    check_carbon(s)


def check_carbon(s: dict[str, Any]) -> None:
    """The four carbon figures against the energy behind them and the factors in force: each
    flat's month is rounded down once, so a total is within a gram per flat of the product."""
    c = s["carbon"]
    assert c["period"] == {"start": LAST_DAY[:7], "end": LAST_DAY[:7]}
    # the flats and the community hall (metered in May only: nothing in June)
    assert (c["gas"], c["sites"], c["fallbacks"]) == ("CO2", HOUSEHOLDS + 1, [])
    (grid,) = [f["g_per_mwh"] for f in c["factors"] if f["role"] == "grid_average"]
    (residual,) = [f["g_per_mwh"] for f in c["factors"] if f["role"] != "grid_average"]

    def rounded(grams: int, wh: int, g_per_mwh: int, parts: int) -> bool:
        return 0 <= wh * g_per_mwh // 1_000_000 - grams < parts

    assert c["consumption_wh"] == s["consumption_wh"]
    assert c["plants_generation_wh"] == s["generation_wh"]
    # every claim came from a delivery in its own hour: volume and hourly matching agree
    assert c["claimed_wh"] == c["matched_hourly_wh"] == c["covered_volume_wh"] == s["claimed_wh"]
    location = s["scope2_location_gco2e"]
    assert rounded(location, c["consumption_wh"], grid, HOUSEHOLDS)
    hourly = s["scope2_market_hourly_gco2e"]
    unmatched = c["consumption_wh"] - c["matched_hourly_wh"]
    assert rounded(hourly, unmatched, residual, HOUSEHOLDS)
    assert s["scope2_market_gco2e"] == hourly
    assert rounded(s["avoided_gco2e"], c["claimed_wh"], grid, HOUSEHOLDS)
    assert rounded(c["plants_avoided_g"], c["plants_generation_wh"], grid, PLANTS)
    assert min(location, hourly, s["avoided_gco2e"]) > 0
    assert (c["scope2_location_g"], c["scope2_market_volume_g"], c["avoided_g"]) == (
        location, s["scope2_market_gco2e"], s["avoided_gco2e"],
    )  # fmt: skip
    # the clean energy claimed lowers the market-based figure below the residual mix's
    assert hourly < c["consumption_wh"] * residual // 1_000_000


def test_summary_matches_the_ledger(run: tuple[Path, dict[str, Any]]) -> None:
    home, s = run
    start, end = window(1, dt.date.fromisoformat(LAST_DAY))
    assert (s["community"]["start"], s["community"]["end"]) == (start, end)
    assert verify_chain(home, workers=0).ok
    node = open_node(home, PASSPHRASE, verify_workers=0)
    try:
        state = node.state.view
        again = ledger_summary(state, node.readmodels.reader(), start, end, exclude_sites=SITES)
        assert again.pop("readings") == {"on_chain": s["readings"]["on_chain"]}
        for name, value in again.items():
            assert s[name] == value, name
        records = market.intervals(state, start, end)
        assert [r.start_s for r in records] == offered_hours()
        assert {r.status for r in records} == {"settled"}
        # no escrow is held for any interval: every bid paid or gave its escrow back
        assert s["money"]["escrow"] == 0
        assert all(r.pairings for r in records)
        assert node.tip.height == s["chain"]["height"]
        # certificates: what the summary counts is on the ledger, held by the households
        # (the rim works' claims are the supply chain's, not the community's)
        claimed = [
            b
            for device in ("pv-01", "pv-02", "pv-03")
            for b in certificates.bundles_of_device(state, device, limit=None).items
            if b.status == "claimed" and b.cancellation and b.cancellation.site not in SITES
        ]
        assert sum(b.quantity_wh for b in claimed) == s["claimed_wh"]
        assert {b.owner for b in claimed} <= {f"house-{i:03d}" for i in range(1, 13)}
        assert {b.issuer for b in claimed} == {"certifier"}
        # the regulator put Guangdong's factors from the shipped library in force
        found = carbon.factor_for(state, "CN-GD", start)
        assert (found.path, found.set.recorded_by, found.set.gas) == (["CN-GD"], "regulator", "CO2")
        library = factors.load(found.set.library_version)
        grid = found.set.grid_average
        published = factors.lookup(library, "CN-GD", grid.source.year, gas="CO2").factor
        assert (grid.g_per_mwh, grid.source.factor_id) == (published.value, published.id)
        assert carbon.region_map(state).provinces["CN-GD"] == "CN-SOUTH"
        # the simulated clock ended where the window did: nothing is left in the future
        assert node.tip.time == end * 1000
    finally:
        node.close()
    marker = json.loads((home / "demo.json").read_text())
    assert marker["summary"]["delivered_wh"] == s["delivered_wh"]


def test_the_plants_earn_credits_that_make_the_hall_carbon_neutral(
    run: tuple[Path, dict[str, Any]],
) -> None:
    home, s = run
    story = s["neutrality"]
    # the window is 2025-06-21 in Shanghai: the carbon month is April, the last UTC month that
    # ended before the local June began (UTC May ends at 08:00 on 1 June in Shanghai)
    assert (story["month"], story["claim"], story["status"]) == ("2025-04", "hall-2025-04",
                                                                 "verified")  # fmt: skip
    assert story["credits_issued_t"] >= story["retired_t"] >= 1
    node = open_node(home, PASSPHRASE, verify_workers=0)
    try:
        view = node.state.view
        claim = claims.get_claim(view, "hall-2025-04")
        assert claim is not None
        assert claim.statement is not None
        assert (claim.org, claim.sites, claim.statement.org) == ("community", ["hall"], "auditors")
        assert claim.required_t <= claim.retired_t == story["retired_t"]
        (month,) = claim.inventory.months
        assert month.consumption_wh > 0
        for r in claim.retirements:
            assert credits.get_retirement(view, r.id).beneficiary == "community"  # type: ignore[union-attr]
        for project in story["projects"]:
            (period,) = credits.periods_of(view, project)
            assert (period.id, period.months[0].certified_wh) == ("2025-04", 0)
        # the association bought the owners' credits on the exchange, delivered against payment
        traded = exchange.trades(view, "credits:solar_pv:2025")
        assert traded
        assert all(t.buyer == "community" for t in traded)
        bought = sum(t.quantity_t for t in traded)
        assert bought == story["credits_issued_t"] - sum(
            credits.require_project(view, p).buffer_t for p in story["projects"]
        )
        assert all(t.price_fen_per_t == 6_000 for t in traded)
        assert exchange.resting_orders(view, "credits:solar_pv:2025", "buy") == []
        assert exchange.resting_orders(view, "credits:solar_pv:2025", "sell") == []
        # its proof file holds with the chain's keys alone
        proof = claim_proof(node, "hall-2025-04")
        keys = keys_from_genesis(load_genesis((home / "genesis.json").read_bytes()))
        assert verify_claim_proof(proof, keys).claim["residual_g"] == story["residual_g"]
    finally:
        node.close()


def test_the_clean_rims_lower_the_cars_footprint(run: tuple[Path, dict[str, Any]]) -> None:
    """The supply chain on the community's metered energy: the rim works' clean hour is
    covered by the plants' surplus certificates, which lowers the clean car's market-based
    footprint by what the clean rims saved; the car's passport holds with the chain's keys."""
    home, s = run
    story = s["supply_chain"]
    fps = story["footprints"]
    grey_rims, clean_rims = fps[f"{RIM}/R-GREY"], fps[f"{RIM}/R-CLEAN"]
    assert 0 < clean_rims["covered_wh"] == story["clean_hour_certificates_wh"] <= 40_000
    assert grey_rims["covered_wh"] == 0
    assert clean_rims["electricity_market_g"] < grey_rims["electricity_market_g"]
    grey_car, clean_car = fps[f"{CAR}/C-GREY"], fps[f"{CAR}/C-CLEAN"]
    saved = grey_rims["total_market_g"] - clean_rims["total_market_g"]
    assert story["car_saving_market_g"] == (
        grey_car["total_market_g"] - clean_car["total_market_g"]) == saved > 0  # fmt: skip
    assert grey_car["total_location_g"] == clean_car["total_location_g"] > 0
    assert fps[f"{INGOT}/L1"]["total_location_g"] > 0
    # the works are metered through the community's gateway, yet no households
    assert s["households"]["total"] == HOUSEHOLDS + 1
    node = open_node(home, PASSPHRASE, verify_workers=0)
    try:
        view = node.state.view
        for site in SITES:
            (meter,) = [m for m in registry.list_meters(view).items if m.site == site]
            assert meter.gateway == "gw-shekou"
        fp = products.get_footprint(view, CAR, "C-CLEAN")
        assert fp is not None
        assert fp.total_market_g == clean_car["total_market_g"]
        proof = product_proof(node, CAR, lot="C-CLEAN")
        keys = keys_from_genesis(load_genesis((home / "genesis.json").read_bytes()))
        summary = verify_product_proof(proof, keys)
        assert summary.footprint.total_market_g == clean_car["total_market_g"]
    finally:
        node.close()


def test_home_rules(run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    home, _ = run
    tiny = ["--plants", "1", "--households", "2", "--days", "1"]
    refused = demo(*tiny, "--home", home, code=1)
    assert refused["error"]["code"] == "demo.home_exists"
    other = tmp_path / "node"
    init_home(other, PASSPHRASE, chain_id="not-a-demo")
    for extra in ([], ["--reset"]):
        result = demo(*tiny, "--home", other, *extra, code=1)
        assert result["error"]["code"] == "demo.home_in_use"
    assert (other / "genesis.json").exists()
    assert not (other / "demo.json").exists()


def test_reset_and_serve_on_the_real_clock(tmp_path: Path) -> None:
    home = tmp_path / "served"
    tiny = ["--plants", "1", "--households", "2", "--days", "1"]
    # an earlier demo chain in the home, which --reset replaces
    init_home(home, PASSPHRASE, chain_id="earlier-demo")
    (home / "demo.json").write_text("{}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    served_ms = time.time_ns() // 1_000_000
    proc = subprocess.Popen(
        [*gridledger_command(), "demo", *tiny, "--last-day", LAST_DAY, "--home", str(home),
         "--port", str(port), "--reset", "--serve", "--json"],
        env={**os.environ, "GRIDLEDGER_PASSPHRASE": PASSPHRASE},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[1].decode()
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the demo did not start serving"
            time.sleep(0.2)
        start, end = window(1, dt.date.fromisoformat(LAST_DAY))
        with Client(url) as client:
            # the simulated chain ends at the end of its last day; anything after it (the
            # market keeper may already act) is stamped by the real clock
            height = client.status()["height"]
            while (time_ms := client.header(height)["header"]["time"]) > end * 1000:
                assert time_ms >= served_ms - 1000
                height -= 1
            assert time_ms == end * 1000
            interval = client.state(f"market/interval/{start + 12 * 3600:010d}")
            assert interval["value"]["status"] == "settled"
            assert interval["value"]["settlement"]["delivered_wh"] > 0
            # a household's saved key still acts, in a block stamped by the real clock
            key = load_key(key_path(home, "house-001"), PASSPHRASE)
            before_ms = time.time_ns() // 1_000_000
            result = client.send(key, "house-001", "funds.transfer", {"to": "grid", "amount": 1})
            assert result.ok, result.message
            assert client.header(result.height)["header"]["time"] >= before_ms - 1000
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    summary = json.loads(out)
    assert 8 <= summary["intervals"]["settled"] == summary["intervals"]["cleared"] < 24
    assert summary["chain"]["chain_id"] != "earlier-demo"
    # the demo's sign-in passwords and operator token are printed once, kept only as hashes
    logins = summary.pop("logins")
    assert json.loads((home / "demo.json").read_text())["summary"] == summary
    assert logins["url"] == f"http://localhost:{port}/login"
    assert [m["account"] for m in logins["members"]] == ["house-001", "house-002"]
    home_text = "".join(p.read_text() for p in home.glob("*.json"))
    for secret in [m["password"] for m in logins["members"]] + [logins["operator_token"]]:
        assert secret not in home_text
    members = Members(home)
    first = logins["members"][0]
    assert members.check_password(first["account"], first["password"])
    assert members.operator_for(logins["operator_token"]) == "operator"


def test_community_is_seeded_and_plausible() -> None:
    start, _ = window(1, dt.date.fromisoformat(LAST_DAY))
    config = DemoConfig(plants=4, households=40, days=1, seed=7)
    one, two = build_community(config, start), build_community(config, start)
    assert (one.plants, one.households, one.generation, one.load, one.forecast) == (
        two.plants, two.households, two.generation, two.load, two.forecast,
    )  # fmt: skip
    other = build_community(dataclasses.replace(config, seed=8), start)
    assert other.load != one.load
    choices = [h.choice for h in one.households]
    assert choices.count("grid") == 6
    for h in one.households:
        assert max(one.load[h.site]) <= h.profile.max_wh_per_hour
        assert (h.quantity_wh is None) == (h.choice == "grid")
        assert h.price_cap is None or h.price_cap < config.sell_price
        assert set(h.preferred) <= {p.device for p in one.plants}
    for p in one.plants:
        assert max(one.generation[p.device]) <= p.pv.capacity_w
        assert config.feed_in_price < p.floor_price < config.sell_price
        assert p.commissioned < dt.date.fromisoformat(LAST_DAY)
        # the window starts at local midnight: nothing generated nor offered at night
        for hour in (*range(5), *range(20, 24)):
            assert one.generation[p.device][hour] == one.forecast[p.device][hour] == 0
        assert sum(one.forecast[p.device]) > 0


def _serving(proc: subprocess.Popen[bytes], url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        assert proc.poll() is None, proc.communicate()[1].decode()
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the demo did not start serving"
        time.sleep(0.2)


def test_the_served_community_lives_on(tmp_path: Path) -> None:
    """Served without --last-day, the community runs up to now and goes on living at
    ``--speed``: readings through the gateway, offers, clearing and settlement of hours
    after the start, no interval cleared with nothing to clear, no escrow held for bids
    that found nothing."""
    home = tmp_path / "live"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [*gridledger_command(), "demo", "--plants", "2", "--households", "4", "--days", "1",
         "--home", str(home), "--port", str(port), "--reset", "--serve", "--speed", "3600",
         "--json"],
        env={**os.environ, "GRIDLEDGER_PASSPHRASE": PASSPHRASE},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _serving(proc, url)
        served_s = time.time_ns() // 1_000_000_000
        with Client(url) as client:
            # an hour a second: within a day of community life some hours after the start
            # have been offered into, cleared and settled (at night nothing is)
            deadline = time.monotonic() + 90
            live: list[dict[str, Any]] = []
            while len(live) < 3:
                assert time.monotonic() < deadline, "no hour after the start was settled"
                time.sleep(1)
                found = httpx.get(
                    f"{url}/v1/market/intervals", params={"from": served_s, "limit": 500}
                ).json()["intervals"]
                live = [i for i in found if i["status"] == "settled"]
            readings = client.readings("m-flat-001", start=served_s)["readings"]
            assert len(readings) >= 3
            assert client.status()["tip_time"] > (served_s + 3 * 3600) * 1000
            page = httpx.get(f"{url}/v1/market/intervals", params={"limit": 500}).json()
            everything = page["intervals"]
            for record in everything:
                if record["status"] == "open":
                    continue
                assert record["offers"] > 0, record  # nothing cleared without offers
                book = httpx.get(f"{url}/v1/market/intervals/{record['start_s']}").json()
                if record["pairings"] == 0:
                    assert all(b["escrow_fen"] == 0 for b in book["bids"]), book
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    # the community waited for the API before its gateway sent anything: no retries logged
    assert "unreachable" not in err.decode()
