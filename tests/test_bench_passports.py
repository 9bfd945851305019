"""``gridledger bench passports`` on a small run: every phase commits, the roll-up runs
through every level, the proof files check out, and the CLI prints the figures as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gridledger.bench.passports import run_passports_bench
from gridledger.cli.main import app


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("bench-passports") / "home"
    return run_passports_bench(events=200, orgs=4, makers=3, batches=250, levels=5, fan_in=3,
                               hours=4, home=home, workers=1)  # fmt: skip


def test_custody_events_commit_and_are_compared_with_one_core(result: dict[str, Any]) -> None:
    assert result["events"] == 200
    assert result["phases"]["ship"]["txs"] == result["phases"]["receive"]["txs"] == 100
    assert result["events_per_s"] > 0
    rate = result["ed25519_verify_per_s_one_core"]
    assert result["events_ratio"] == pytest.approx(result["events_per_s"] / rate, abs=2e-3)


def test_the_roll_up_and_the_proofs(result: dict[str, Any]) -> None:
    assert (result["batches"], result["levels"], result["metered_hours_per_batch"]) == (250, 5, 4)
    assert 0 < result["rollup_ms_p50"] <= result["rollup_ms_p99"] <= result["rollup_ms_max"]
    assert result["passport_verify_ms"] > 0
    assert result["passport_proof_bytes"] > 1000
    assert result["item_events"] == 3  # registered, shipped, received


def test_the_cli_prints_json(tmp_path: Path) -> None:
    args = ["bench", "passports", "--events", "20", "--orgs", "2", "--makers", "2",
            "--batches", "10", "--hours", "1", "--workers", "0", "--json",
            "--home", str(tmp_path / "h")]  # fmt: skip
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    figures = json.loads(out.stdout)
    assert figures["events"] == 20
    assert figures["batches"] == 10
