"""Claims end to end on a real node: made through the SDK, a verifier's statement and the
proof file through the CLI, the proof checked offline (and refused once tampered), the PDF,
and the claims endpoints.

The node is :mod:`carbon_api_node`'s (credits as in ``test_api_credits``: ``sun``'s project
``wind`` issued 1 t, ``GLR-VER-CN-1-20250101-20250228-1-1-1``). The claim is ``homes``' for
site ``s-ann`` over the last whole month before the node's latest block (block time is the
clock's, and credits count only if retired within 12 months of a claim period's end): ann's
site metered nothing then, so scope 1 and 2 are zero and the declared scope 3, 600,000 g,
needs the 1 t that ``sun`` retires for ``homes``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from carbon_api_node import JAN, VERIFIER, carbon_chain
from cert_node import CertChain
from fixtures_node import check
from gridledger.api import create_app
from gridledger.api.routes.claims import ClaimList
from gridledger.contracts.genesis import load as load_genesis
from gridledger.sdk import Client, keys_from_genesis
from gridledger.sdk.claim_proofs import ClaimProofError, verify_claim_proof
from market_node import node_cli

pytestmark = [
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`"),
    pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument"),
]

SERIAL = "GLR-VER-CN-1-20250101-20250228-1-1-1"
MAR = 1_740_787_200


def last_month(time_ms: int) -> tuple[int, int]:
    at = dt.datetime.fromtimestamp(time_ms // 1000, dt.UTC)
    end = dt.datetime(at.year, at.month, 1, tzinfo=dt.UTC)
    start = dt.datetime(end.year - (end.month == 1), (end.month - 2) % 12 + 1, 1, tzinfo=dt.UTC)
    return int(start.timestamp()), int(end.timestamp())


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CertChain]:
    with carbon_chain(tmp_path_factory.mktemp("claims-api") / "home") as c:
        project = {"id": "wind", "name": "Wind farm 1", "device": "wind-1",
                   "methodology": "CDM ACM0002", "baseline": "CN-GD grid electricity",
                   "monitoring_plan": "MP-1"}  # fmt: skip
        c.commit("sun", "credits.register_project", project)
        c.commit(VERIFIER, "credits.verify_period",
                 {"project": "wind", "id": "2025-q1", "start_s": JAN, "end_s": MAR})  # fmt: skip
        c.commit(VERIFIER, "credits.issue", {"project": "wind", "period": "2025-q1"})
        yield c


@pytest.fixture(scope="module")
def http(chain: CertChain) -> Iterator[httpx.Client]:
    from starlette.testclient import TestClient

    with TestClient(create_app(chain.node, web=False)) as c:
        yield c


def claim_body(start: int, end: int, claim_id: str = "ann-home") -> dict[str, Any]:
    return {
        "id": claim_id,
        "subject": {"type": "site", "id": "s-ann", "name": "Ann's home"},
        "boundary": "electricity and fuels at s-ann, and declared commuting (scope 3)",
        "start_s": start,
        "end_s": end,
        "baseline_ref": "2024 footprint",
        "baseline_g": 2_000_000,
        "plan_ref": "CNMP-ann-1",
        "retirements": [1],
        "scope3_g": 600_000,
    }


def test_a_claim_round_trip(chain: CertChain, http: httpx.Client, tmp_path: Path) -> None:
    client = Client(str(http.base_url).rstrip("/"), http=http)
    start, end = last_month(chain.node.tip.time)
    retire = {"serial": SERIAL, "beneficiary": "homes", "reason": "ann's home neutral",
              "claim_start_s": start, "claim_end_s": end}  # fmt: skip
    chain.commit("sun", "credits.retire", retire)
    made = client.claims.make(chain.keys["ann"], "ann", claim_body(start, end))
    assert made.ok, made
    claim = client.claims.get("ann-home")
    inventory = claim["inventory"]
    assert claim["residual_g"] == 600_000 + inventory["scope1_g"] + inventory["scope2_market_g"]
    assert (claim["org"], claim["required_t"], claim["retired_t"]) == ("homes", 1, 1)
    listed = check(ClaimList, http.get("/v1/claims", params={"org": "homes"}))
    assert [c["id"] for c in listed["claims"]] == ["ann-home"]
    assert http.get("/v1/claims/nope").status_code == 404
    assert http.get("/v1/claims/nope/proof").status_code == 404
    assert http.get("/v1/claims/Bad%20Id").status_code in (400, 422)
    # refused: the retirement is used
    again = client.claims.make(chain.keys["ann"], "ann", claim_body(start, end, "again"))
    assert (again.ok, again.code) == (False, "claims.retirement_used")

    genesis = chain.home / "genesis.json"
    with node_cli(chain, ("ann", VERIFIER)) as cli:
        cli.events("carbon", "claim", "statement", "--from", VERIFIER, "--claim", "ann-home",
                   "--opinion", "limited", "--text", "VS-1: limited assurance")  # fmt: skip
        proof_path = tmp_path / "claim.json"
        cli.run("carbon", "claim", "export", "ann-home", "--json", "--out", proof_path)
        shown = cli.json("carbon", "claim", "verify", proof_path, "--keys", genesis)
        assert (shown["valid"], shown["opinion"], shown["retired_t"]) == (True, "limited", 1)
        pdf_path = tmp_path / "claim.pdf"
        cli.run("carbon", "claim", "export", "ann-home", "--out", pdf_path, "--lang", "zh")
        assert pdf_path.read_bytes().startswith(b"%PDF")
        listed_cli = cli.json("carbon", "claim", "list", "--org", "homes")
        assert [c["id"] for c in listed_cli["claims"]] == ["ann-home"]

        proof = json.loads(proof_path.read_text())
        keys = keys_from_genesis(load_genesis(genesis.read_bytes()))
        assert verify_claim_proof(proof, keys).claim["status"] == "verified"
        # tampered: a figure in the claim record, the state proof no longer holds
        value = msgspec.json.decode(proof["claim"]["value"])
        value["scope3_g"] = 0
        bad = {**proof, "claim": {**proof["claim"], "value": msgspec.json.encode(value).decode()}}
        with pytest.raises(ClaimProofError) as err:
            verify_claim_proof(bad, keys)
        assert err.value.reason == "state_proof"
        bad_path = tmp_path / "bad.json"
        bad_path.write_text(json.dumps(bad))
        refused = cli.json("carbon", "claim", "verify", bad_path, "--keys", genesis, code=1)
        assert refused["error"]["code"] == "claim.state_proof"

    pdf = http.get("/v1/claims/ann-home/pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert http.get("/v1/claims/ann-home/proof").json()["format"] == "gridledger/claim-proof/v1"
