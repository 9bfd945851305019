"""``gridledger bench certificates`` end to end on a small community.

No timing is asserted (the figures belong in docs/benchmarks.md); what is asserted is that the
run issued, moved and claimed what it says, that its figures agree with each other, that the
proofs it measured check out and grow slower than the number of certificates, and that the
chain it leaves behind is intact.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from gridledger.bench.certificates import run_certificates_bench
from gridledger.bench.ledger import PASSPHRASE
from gridledger.contracts import certificates
from gridledger.contracts.certificates import Bundle
from gridledger.node.chainverify import verify_chain
from gridledger.node.home import open_node

PLANTS, DAYS, TXS = 6, 2, 150


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("gridledger")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gridledger.cli"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    home = tmp_path_factory.mktemp("bench-certificates") / "home"
    result = run_certificates_bench(
        plants=PLANTS, days=DAYS, txs=TXS, consumers=40, certifiers=7, home=home, workers=0
    )
    return result, home


def test_the_month_and_every_phase_were_committed(run: tuple[dict[str, Any], Path]) -> None:
    result, home = run
    bundles = PLANTS * DAYS * 24
    assert result["bundles"] == bundles
    # the issue phase's hours come after the month: 150 one-hour issues over 6 plants
    assert result["readings"] == PLANTS * (DAYS * 24 + TXS // PLANTS)
    assert result["meter_interval_s"] == 3600
    assert result["certified_wh"] >= bundles * 1000  # every reading is 1,000-40,000 Wh
    phases = result["phases"]
    assert phases["month"]["txs"] == PLANTS
    for name in ("issue", "transfer", "cancel", "claim"):
        assert phases[name]["txs"] == TXS, name
        assert phases[name]["blocks"] >= 1
    for name, phase in phases.items():
        assert phase["cpu_s"] > 0, name
        assert phase["other_processes_cores"] >= 0, name
    assert result["signers"] == {"certifiers": 7, "producers": PLANTS, "consumers": 40}
    assert result["height"] >= 1 + sum(p["blocks"] for p in phases.values())
    report = verify_chain(home, workers=0)
    assert report.ok, report.problem
    node = open_node(home, PASSPHRASE)
    try:
        stored = [
            msgspec.json.decode(v, type=Bundle)
            for _, v in node.state.view.scan(certificates.keys.bundles())
        ]
    finally:
        node.close()
    assert len(stored) == bundles + TXS
    claimed = [b for b in stored if b.status == "claimed"]
    assert len(claimed) == TXS
    for bundle in claimed:
        assert bundle.cancellation is not None
        assert bundle.owner == bundle.cancellation.beneficiary
        assert bundle.owner.startswith("consumer-")
    assert sum(b.quantity_wh for b in stored) >= result["certified_wh"]


def test_the_figures_agree_with_each_other(run: tuple[dict[str, Any], Path]) -> None:
    result, _home = run
    phases = result["phases"]
    assert result["issue_s"] == phases["month"]["elapsed_s"] > 0
    # issue_s is rounded to the millisecond
    assert result["bundles"] / result["issue_bundles_per_s"] == pytest.approx(
        result["issue_s"], abs=1e-3
    )
    for name in ("issue", "transfer", "cancel", "claim"):
        assert result[f"{name}_tx_per_s"] == phases[name]["tx_per_s"] > 0
    rate = result["ed25519_verify_per_s_one_core"]
    assert rate > 0
    for name in ("issue", "transfer", "claim"):
        assert result[f"{name}_ratio"] == pytest.approx(result[f"{name}_tx_per_s"] / rate, abs=2e-3)
    # a claim counts its cancel too, so the claim rate is below both transactions' rates
    both_s = phases["cancel"]["elapsed_s"] + phases["claim"]["elapsed_s"]
    assert TXS / result["claim_per_s"] == pytest.approx(both_s, abs=2e-3)
    assert result["claim_per_s"] < min(result["cancel_tx_per_s"], result["claim_tx_per_s"])


def test_proofs_check_out_and_grow_slower_than_the_certificates(
    run: tuple[dict[str, Any], Path],
) -> None:
    result, _home = run
    assert result["proof_samples"] > 0
    assert 0 < result["proof_verify_ms"] <= result["proof_verify_signed_ms"]
    # the document carries the record, the header and its signature beside the path
    assert result["proof_document_bytes"] > result["proof_bytes"] > 0
    scaling = result["proof_scaling"]
    counts = [s["certificates"] for s in scaling]
    assert counts == sorted(set(counts))
    assert counts[-1] == result["bundles"] + TXS  # the month's bundles and the hourly issues
    first, last = scaling[0], scaling[-1]
    assert first["levels"] < last["levels"]
    assert first["proof_bytes"] < last["proof_bytes"]
    growth = last["proof_bytes"] / first["proof_bytes"]
    assert growth < last["certificates"] / first["certificates"]
    # the node's state holds readings and registries besides: its proofs are no shallower
    assert result["proof_levels"] >= last["levels"]


def test_the_command_prints_one_json_object_and_checks_its_options() -> None:
    out = subprocess.run(
        [*_cli(), "bench", "certificates", "--plants", "3", "--days", "1", "--txs", "30",
         "--consumers", "10", "--certifiers", "3", "--meter-interval", "900", "--json"],
        capture_output=True, check=True, timeout=300,
    )  # fmt: skip
    result = json.loads(out.stdout)
    asked = ("issue_s", "claim_per_s", "proof_bytes", "proof_verify_ms", "issue_tx_per_s",
             "transfer_tx_per_s", "claim_tx_per_s", "ed25519_verify_per_s_one_core")  # fmt: skip
    for key in asked:
        assert result[key] > 0, key
    assert result["bundles"] == 72
    # quarter-hour meters: four readings for each of the day's and the ten extra hours
    assert (result["meter_interval_s"], result["readings"]) == (900, 3 * (24 + 10) * 4)
    bad = subprocess.run(
        [*_cli(), "bench", "certificates", "--plants", "2", "--days", "1", "--txs", "49",
         "--json"],
        check=False, capture_output=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode != 0
    error = json.loads(bad.stdout)["error"]
    assert error["code"] == "bench.usage"
    assert "48" in error["message"]
