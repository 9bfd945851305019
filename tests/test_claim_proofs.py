"""Claim proof files against their vectors (``tests/vectors/claims.json``), the verifier
against the contract (the chain the vectors come from runs the real contract), the PDF, and
the benchmark command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gridledger.bench.claims import build_chain
from gridledger.cli.main import app
from gridledger.documents.claim_pdf import render_claim_pdf
from gridledger.sdk.claim_proofs import ClaimProofError, check_claim_records, verify_claim_proof

VECTORS = Path(__file__).parent / "vectors" / "claims.json"


def vectors() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(VECTORS.read_text())
    return loaded


def file_of(delta: dict[str, Any]) -> dict[str, Any]:
    file = {**vectors()["proofs"][delta["base"]], **delta["change"]}
    for name in delta["remove"]:
        file.pop(name, None)
    return file


@pytest.mark.parametrize("case", vectors()["cases"], ids=lambda c: c["name"])
def test_claim_vector(case: dict[str, Any]) -> None:
    keys = vectors()["keys"]
    expect = case["expect"]
    if not expect["valid"]:
        with pytest.raises(ClaimProofError) as err:
            verify_claim_proof(file_of(case), keys)
        assert err.value.reason == expect["reason"]
        assert err.value.code == f"claim.{expect['reason']}"
        return
    shown = verify_claim_proof(file_of(case), keys).to_json()
    assert {k: shown[k] for k in expect if k != "valid"} == {
        k: v for k, v in expect.items() if k != "valid"
    }


def test_the_vectors_are_the_chain_s_files() -> None:
    built = build_chain()
    assert json.loads(json.dumps(built["proofs"])) == vectors()["proofs"]
    claim = verify_claim_proof(built["proofs"]["verified"], built["keys"]).claim
    # the contract's figures, as the independent checker recomputes them
    (month,) = claim["inventory"]["months"]
    assert month["consumption_wh"] == sum(1500 + 10 * i for i in range(24))
    assert claim["residual_g"] == month["scope2_market_g"] + 150_000
    assert (claim["required_t"], claim["retired_t"], claim["status"]) == (1, 1, "verified")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_pdf_renders_a_good_file_and_refuses_a_bad_one(lang: str) -> None:
    proofs = vectors()["proofs"]
    pdf = render_claim_pdf(proofs["verified"], "zh" if lang == "zh" else "en")
    assert pdf.startswith(b"%PDF")
    assert render_claim_pdf(proofs["verified"], "en") == render_claim_pdf(proofs["verified"])
    bad = {**proofs["verified"], "retirements": []}
    with pytest.raises(ClaimProofError):
        render_claim_pdf(bad)
    assert check_claim_records(proofs["withdrawn"]).claim["status"] == "withdrawn"


def test_bench_claims_prints_the_verify_time() -> None:
    result = CliRunner().invoke(app, ["bench", "claims", "--json", "--samples", "5"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert 0 < shown["claim_verify_ms"] < 50
    assert shown["samples"] == 5
