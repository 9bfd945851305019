"""The benchmarks run end to end on small sizes and report what they promise.

Throughput figures are not asserted (they belong in docs/benchmarks.md, not in tests); what is
asserted is that every transaction or reading was committed and accepted, and that the chain a
benchmark keeps is intact.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gridledger.bench.ingest import run_ingest_bench
from gridledger.bench.ledger import run_scale_bench
from gridledger.bench.market import build_state, run_one
from gridledger.node.chainverify import verify_chain
from market_reference import best_volume


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("gridledger")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gridledger.cli"]


def test_ingest_bench_commits_every_reading_and_keeps_an_intact_chain(tmp_path: Path) -> None:
    home = tmp_path / "ingest"
    result = run_ingest_bench(readings=3000, meters=120, gateways=6, batch=250, home=home)
    assert result["accepted"] == 3000
    assert result["refused"] == 0
    assert result["txs"] == sum(-(-n // 250) for n in [500] * 6)
    assert result["readings_per_s"] > 0
    assert result["peak_rss_mb"] > 0
    report = verify_chain(home, workers=0)
    assert report.ok, report.problem


def test_ingest_bench_command_prints_one_json_object() -> None:
    out = subprocess.run(
        [*_cli(), "bench", "ingest", "--readings", "500", "--meters", "50", "--gateways", "5",
         "--batch", "100", "--json"],
        capture_output=True,
        check=True,
        timeout=300,
    )  # fmt: skip
    result = json.loads(out.stdout)
    assert {"readings_per_s", "peak_rss_mb", "accepted", "readings"} <= set(result)
    assert result["accepted"] == 500


def test_scale_bench_reports_both_runs_and_their_ratio() -> None:
    result = run_scale_bench(txs=600, small=50, large=400, workers=0)
    small, large = result["small"], result["large"]
    assert (small["accounts"], large["accounts"]) == (50, 400)
    assert small["committed"] == large["committed"] == 600
    assert small["failed_receipts"] == large["failed_receipts"] == 0
    assert result["scale_ratio"] == round(
        large["committed_tx_per_s"] / small["committed_tx_per_s"], 3
    )


def test_market_bench_clears_and_settles_the_book_it_built() -> None:
    _kv, bids, offers = build_state(500, "pay_as_clear", seed=3)
    result = run_one(500, "pay_as_clear", seed=3)
    assert (result["bids"], result["offers"]) == (len(bids), len(offers)) == (400, 100)
    assert result["volume_wh"] == best_volume(bids, offers) > 0
    assert result["pairings"] > 0
    assert 0 < result["delivered_wh"] <= result["volume_wh"]
    assert result["clear_writes"] > result["pairings"]  # pairings, parties' index, interval


def test_market_bench_command_prints_figures_and_scaling() -> None:
    out = subprocess.run(
        [*_cli(), "bench", "market", "--orders", "300", "--scaling", "100,1000",
         "--mechanism", "preferred_first", "--json"],
        capture_output=True,
        check=True,
        timeout=300,
    )  # fmt: skip
    result = json.loads(out.stdout)
    assert {"orders", "clear_s", "settle_s", "scaling", "growth"} <= set(result)
    assert result["orders"] == 300
    assert result["mechanism"] == "preferred_first"
    assert [r["orders"] for r in result["scaling"]] == [100, 1000]
    assert [(g["from"], g["to"]) for g in result["growth"]] == [(100, 1000)]
    bad = subprocess.run(
        [*_cli(), "bench", "market", "--mechanism", "lottery", "--json"],
        check=False,
        capture_output=True,
        timeout=60,
    )
    assert bad.returncode != 0
    assert json.loads(bad.stdout)["error"]["code"] == "bench.usage"


def test_abuse_bench_command_reports_memory_and_latency() -> None:
    """A small abuse run: the node survives, every honest request was admitted (the run
    fails otherwise), the attack was refused, and the figures the issue asks for are there."""
    out = subprocess.run(
        [*_cli(), "bench", "abuse", "--uploads", "3", "--upload-mb", "20", "--slow", "10",
         "--requests", "40", "--json"],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    result = json.loads(out.stdout)
    assert result["node_survived"] is True
    assert result["honest_requests"] == 40
    assert result["attack_uploads_refused"] > 0
    for key in ("idle_rss_mb", "abuse_peak_rss_mb", "honest_p99_ms_quiet", "honest_p99_ratio"):
        assert result[key] > 0, key


@pytest.mark.slow
def test_network_bench_command_compares_two_orgs_with_the_embedded_node() -> None:
    """Two organisations for three seconds: the figures are there, every transfer sent became
    final and succeeded, and the ratio is the one the printed figures give."""
    out = subprocess.run(
        [*_cli(), "bench", "network", "--orgs", "2", "--seconds", "3", "--accounts", "200",
         "--embedded-txs", "2000", "--inflight", "600", "--batch", "100", "--json"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    result = json.loads(out.stdout)
    assert (result["orgs"], result["seconds"]) == (2, 3.0)
    assert result["sent"] >= result["final_in_window"] > 0
    assert result["final_after_drain"] == result["sent"]
    assert result["not_final"] == result["failed_receipts"] == 0
    assert result["final_tx_per_s"] == round(result["final_in_window"] / 3, 1)
    assert result["embedded"]["txs"] == 2000
    assert result["embedded_tx_per_s"] == result["embedded"]["tx_per_s"] > 0
    assert result["replication_efficiency"] == round(
        result["final_tx_per_s"] * 2 / result["embedded_tx_per_s"], 3
    )
    assert 0 < result["finality_p50_s"] <= result["finality_p99_s"] <= result["finality_max_s"]
    assert result["commit_p50_s"] <= result["finality_p50_s"]
    assert result["blocks"] > 0
    nodes = result["nodes"]
    assert [n["org"] for n in nodes] == ["org-1", "org-2"]
    for node in nodes:
        assert node["halted"] is None
        assert node["final_height"] == node["height"] > 0
        assert node["lost_positions"] >= 0
        assert node["skipped"] == 0
    assert result["etcd"]["raft_writes_per_block"] > 0


def test_state_bench_command_reports_rates_memory_restart_and_old_proofs() -> None:
    """A small run: every reading committed; the restarted node served its status at the
    tip; fifty readings proven as of an old height and verified against its header, later
    ones shown absent there; every figure and target the command promises is printed."""
    out = subprocess.run(
        [*_cli(), "bench", "state", "--readings", "20000", "--meters", "200", "--json"],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    result = json.loads(out.stdout)
    assert (result["readings"], result["meters"]) == (20000, 200)
    assert result["accepted"] == 20000
    assert result["window_readings"] == 2000
    for key in ("readings_per_s", "early_readings_per_s", "late_readings_per_s",
                "late_vs_early_ratio", "rss_mb_running", "rss_mb_after_restart", "restart_s",
                "old_proof_ms", "db_mb", "blocks"):  # fmt: skip
        assert result[key] > 0, key
    ratio = result["late_readings_per_s"] / result["early_readings_per_s"]
    assert result["late_vs_early_ratio"] == pytest.approx(ratio, abs=0.01)
    assert 0 < result["old_height"] < result["height"]
    assert result["old_proofs_verified"] == 50
    assert result["later_keys_absent"] == 5
    assert result["restart_s"] < 60
    assert set(result["targets"]) == {
        "rss_mb_running", "rss_mb_after_restart", "restart_s", "late_vs_early_ratio",
    }  # fmt: skip
    for target in result["targets"].values():
        assert isinstance(target["met"], bool)
