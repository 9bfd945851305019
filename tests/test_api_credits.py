"""The credit and allowance endpoints, SDK calls and CLI commands on a real node.

The node is :mod:`carbon_api_node`'s. ``sun`` registers ``wind-1`` (2 MW onshore wind in
CN-GD) as project ``wind``; the verifier confirms 2025-01..2025-02: 1,500,000 Wh metered in
each month, none certified, at CN-GD's 2023 factor (441,900 g/MWh): 662,850 g a month,
1,325,700 g together, so 1 t verified, issued as ``GLR-VER-CN-1-20250101-20250228-1-1-1``
(the 2 % buffer of 1 t rounds down to none). The regulator opens ``ets-2025q1`` (emissions of
2025-01..2025-02), gives ben 2 t free and records ben's verified 1,500,000 g: an obligation
of 2 t, open until 2030.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from carbon_api_node import MAR, REGULATOR, VERIFIER, carbon_chain
from cert_node import JAN, CertChain
from fixtures_node import check
from gridledger.api import create_app
from gridledger.api.routes.credits import (
    BlockList,
    PeriodList,
    PeriodView,
    ProjectList,
    ProjectView,
    RetirementList,
    StatusList,
)
from gridledger.api.schemas import ErrorResponse
from gridledger.sdk import Client, InvalidInput
from market_node import PARTIES, node_cli

pytestmark = [
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`"),
    pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument"),
]

SERIAL = "GLR-VER-CN-1-20250101-20250228-1-1-1"
JAN_2030 = 1_893_456_000


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CertChain]:
    with carbon_chain(tmp_path_factory.mktemp("credits-api") / "home") as c:
        c.commit(
            "sun",
            "credits.register_project",
            {
                "id": "wind",
                "name": "Wind farm 1",
                "device": "wind-1",
                "methodology": "CDM ACM0002",
                "baseline": "CN-GD grid electricity",
                "monitoring_plan": "MP-1",
            },
        )
        c.commit(
            VERIFIER,
            "credits.verify_period",
            {"project": "wind", "id": "2025-q1", "start_s": JAN, "end_s": MAR},
        )
        c.commit(VERIFIER, "credits.issue", {"project": "wind", "period": "2025-q1"})
        c.commit(
            REGULATOR,
            "allowances.open_period",
            {"id": "ets-2025q1", "start_s": JAN, "end_s": MAR, "deadline_s": JAN_2030},
        )
        c.commit(
            REGULATOR,
            "allowances.allocate",
            {"period": "ets-2025q1", "to": "ben", "method": "free", "quantity_t": 2},
        )
        c.commit(
            REGULATOR,
            "allowances.record_emissions",
            {"period": "ets-2025q1", "holder": "ben", "emissions_g": 1_500_000},
        )
        yield c


@pytest.fixture(scope="module")
def http(chain: CertChain) -> Iterator[httpx.Client]:
    from starlette.testclient import TestClient

    with TestClient(create_app(chain.node, web=False)) as c:
        yield c


@pytest.fixture(scope="module")
def client(http: httpx.Client) -> Client:
    return Client(str(http.base_url).rstrip("/"), http=http)


def test_projects_and_their_verified_periods(http: httpx.Client, client: Client) -> None:
    found = check(ProjectList, http.get("/v1/credits/projects", params={"org": "solar"}))
    assert [p["id"] for p in found["projects"]] == ["wind"]
    assert check(ProjectList, http.get("/v1/credits/projects?org=homes"))["projects"] == []
    view = check(ProjectView, http.get("/v1/credits/projects/wind"))
    (period,) = view["periods"]
    assert [m["reduction_g"] for m in period["months"]] == [662_850, 662_850]
    assert (period["reduction_g"], period["verified_t"], period["issued_t"]) == (1_325_700, 1, 1)
    assert view["totals"]["issued_t"] == 1
    assert client.credits.project("wind") == view
    blocks = check(BlockList, http.get("/v1/credits/projects/wind/blocks"))["blocks"]
    assert [(b["serial"], b["quantity_t"], b["holder"]) for b in blocks] == [(SERIAL, 1, "sun")]
    assert client.credits.holdings("sun")["blocks"] == blocks
    assert client.credits.serial(SERIAL)["blocks"] == blocks


def test_unknown_records_are_404(http: httpx.Client) -> None:
    for path in (
        "/v1/credits/projects/nope",
        "/v1/credits/projects/nope/blocks",
        "/v1/credits/serials/GLR-VER-CN-9-20250101-20250228-1-1-1",
        "/v1/credits/retirements/99",
        "/v1/allowances/periods/nope",
        "/v1/allowances/compliance?period=nope",
    ):
        body = check(ErrorResponse, http.get(path), 404)
        assert body["error"]["code"] == "not_found", path


def test_compliance_status(http: httpx.Client, client: Client, chain: CertChain) -> None:
    periods = check(PeriodList, http.get("/v1/allowances/periods"))["periods"]
    assert [(p["id"], p["credit_quota_ppm"], p["allocated_t"]) for p in periods] == [
        ("ets-2025q1", 50_000, 2)
    ]
    view = check(PeriodView, http.get("/v1/allowances/periods/ets-2025q1"))
    assert view["balances"] == {"ben": 2}
    found = check(StatusList, http.get("/v1/allowances/compliance?period=ets-2025q1"))
    (status,) = found["statuses"]
    assert (status["holder"], status["status"], status["obligation_t"]) == ("ben", "open", 2)
    assert client.allowances.compliance("ets-2025q1", "ann")["statuses"][0]["status"] == (
        "no_emissions"
    )
    with pytest.raises(InvalidInput) as refused:
        client.allowances.surrender(chain.keys["ben"], "ben", period="ets-2025q1", quantity_t=0)
    assert refused.value.code == "allowances.bad_quantity"


def retire(beneficiary: str, reason: str) -> tuple[str, ...]:
    """``gridledger credits retire`` of SERIAL by sun for January 2025."""
    return ("credits", "retire", "--from", "sun", "--serial", SERIAL,
            "--beneficiary", beneficiary, "--reason", reason,
            "--claim-first-day", "2025-01-01", "--claim-last-day", "2025-01-31")  # fmt: skip


def test_the_cli_retires_and_surrenders(
    chain: CertChain, client: Client, http: httpx.Client
) -> None:
    with node_cli(chain, (*PARTIES, REGULATOR)) as cli:
        shown = json.loads(cli.run("credits", "serial", SERIAL).stdout)
        assert [(b["serial"], b["status"]) for b in shown["blocks"]] == [(SERIAL, "active")]
        events = cli.events(*retire("Shekou community", "2025 events"))
        assert events[0]["type"] == "credits.retired"
        (retirement,) = client.credits.retirements(beneficiary="Shekou community")["retirements"]
        assert (retirement["serial"], retirement["claim_start_s"], retirement["claim_end_s"]) == (
            SERIAL,
            JAN,
            JAN + 31 * 86_400,
        )
        assert client.credits.retirement(retirement["id"]) == retirement
        listed = check(RetirementList, http.get("/v1/credits/retirements"))
        assert listed["retirements"] == [retirement]
        code = cli.failed(*retire("x", "again"))
        assert code == "credits.already_retired"
        cli.events(
            "allowances", "surrender", "--from", "ben", "--period", "ets-2025q1", "--quantity", "2"
        )
        (status,) = client.allowances.compliance("ets-2025q1", "ben")["statuses"]
        assert (status["status"], status["allowances_t"], status["balance_t"]) == (
            "compliant",
            2,
            0,
        )
        cli.events("credits", "set-params", "--from", REGULATOR, "--buffer-ppm", "30000")
        refused = cli.run("credits", "set-params", "--from", "ben", "--buffer-ppm", "1", code=1)
        assert "auth.forbidden" in refused.output
