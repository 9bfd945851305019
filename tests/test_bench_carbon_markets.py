"""``gridledger bench carbon-markets`` end to end, small.

No timing is asserted (the figures belong in docs/benchmarks.md). What is asserted: every
serial block was issued and then retired, every order committed without a failed receipt,
orders traded and left a book that does not cross, and the command prints one JSON object.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gridledger.bench.carbon_markets import run_carbon_markets_bench


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("gridledger")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gridledger.cli"]


def test_blocks_are_issued_and_retired_and_orders_trade(tmp_path: Path) -> None:
    result = run_carbon_markets_bench(blocks=300, orders=400, traders=20, claim_samples=5,
                                      home=tmp_path / "orders", workers=0)  # fmt: skip
    assert (result["serial_blocks"], result["retired_t"]) == (300, 300)
    assert result["credit_failed_receipts"] == 0
    assert result["issue_per_s"] > 0
    assert result["retire_per_s"] > 0
    assert (result["orders_committed"], result["orders_failed_receipts"]) == (400, 0)
    assert 0 < result["orders_traded"] < 400
    assert result["book_bids"] > 0
    assert result["book_asks"] > 0
    assert result["claim_verify_samples"] == 5
    assert 0 < result["claim_verify_ms"] < 1000
    assert result["claim_proof_bytes"] > 0
    assert result["orders_ratio"] == pytest.approx(
        result["orders_per_s"] / result["ed25519_verify_per_s_one_core"], abs=0.001
    )


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="two orders"):
        run_carbon_markets_bench(blocks=1, orders=1)


def test_the_command_prints_one_json_object(tmp_path: Path) -> None:
    out = subprocess.run(
        [*_cli(), "bench", "carbon-markets", "--blocks", "50", "--orders", "60", "--traders",
         "4", "--workers", "0", "--home", str(tmp_path / "h"), "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    for name in ("issue_per_s", "retire_per_s", "orders_per_s", "ed25519_verify_per_s_one_core"):
        assert name in result, name
    assert result["blocks"] == 50
