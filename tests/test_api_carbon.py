"""The carbon endpoints and SDK calls on a real node, in process (ASGI) and over TCP.

The node is :mod:`carbon_api_node`'s. Worked out by hand for ``homes`` over 2025-01..2025-03
(g = Wh x g/MWh // 1,000,000 per site and month; CN-GD's 2023 factor 441,900 g/MWh with no
residual mix in January and February; March falls back CN-GD -> CN-SOUTH -> CN to China's
530,600 g/MWh and its residual mix 609,600):

    site   month  Wh    claimed hourly covered  location  market  hourly  avoided
    s-ann  01     5000  5000    4000   5000     2209      0       441     2209
    s-ben  01     4000  0       0      0        1767      1767    1767    0      (corrected)
    s-ann  02     4000  0       0      0        1767      1767    1767    0
    s-ann  03     1000  0       0      0        530       609     609     0
    total         14000 5000    4000   5000     6273      4143    4584    2209

s-ann's hours in January: 3000 Wh against 2500 claimed, 2000 against 1500, nothing against
1000: hourly matching covers 4000 Wh, annual matching all 5000 claimed. Scope 1: natural gas
10 GJ x 56,100 g/GJ = 561,000 g confirmed; gas/diesel oil 20 GJ x 74,100 = 1,482,000 g
reported, unconfirmed; LPG rejected. Intervals: 5 readings, 1 corrected. ``solar`` over
2025-01..2025-02 avoided pv-1's 5000 Wh (2209 g) and wind-1's 2 x 1,500,000 Wh (662,850 g
each): 1,327,909 g.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from carbon_api_node import CO2E_SET, MAR, REGULATOR, carbon_chain
from cert_node import JAN, CertChain
from fixtures_node import check
from gridledger import factors
from gridledger.api import ApiServer, create_app
from gridledger.api.routes.carbon import (
    ActivityList,
    FactorLookupView,
    FactorSetList,
    FactorSetModel,
    GhgModel,
    InventoryModel,
    ReportModel,
)
from gridledger.api.schemas import ErrorResponse
from gridledger.contracts import carbon
from gridledger.documents.carbon_report import (
    CSV_FIELDS,
    decode_report,
    disclosures,
    render_report_pdf,
)
from gridledger.readmodels.carbon_inventory import org_inventory
from gridledger.sdk import ApiError, Client, InvalidInput
from gridledger.sdk.carbon import carbon_body, factor_set_body, region_map_body
from test_certificate_proofs import _content, _texts

pytestmark = [
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`"),
    pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument"),
]

PERIOD = {"org": "homes", "start": "2025-01", "end": "2025-03"}
CN_GD = 441_900
CN = 530_600
CN_RESIDUAL = 609_600
MEE_2023 = "公告 2025年第47号"
"""The document of China's 2023 grid factors (the Ministry of Ecology and Environment's)."""
# site, month: Wh, claimed, hourly matched, covered (annual), location g, market g, hourly g
MONTHS = {
    ("s-ann", "2025-01"): (5000, 5000, 4000, 5000, 2209, 0, 441),
    ("s-ben", "2025-01"): (4000, 0, 0, 0, 1767, 1767, 1767),
    ("s-ann", "2025-02"): (4000, 0, 0, 0, 1767, 1767, 1767),
    ("s-ann", "2025-03"): (1000, 0, 0, 0, 530, 609, 609),
}


def refused(response: httpx.Response, status: int, code: str) -> str:
    """Assert a refusal's status and code (in the one error format); return its message."""
    body = check(ErrorResponse, response, status)
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    assert message
    return message


def month_of(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m")


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CertChain]:
    with carbon_chain(tmp_path_factory.mktemp("carbon-api") / "home") as c:
        yield c


@pytest.fixture(scope="module")
def server(chain: CertChain) -> Iterator[ApiServer]:
    with ApiServer(chain.node) as s:
        yield s


class CarbonSuite:
    """Every carbon endpoint's answers and refusals; subclasses say how requests travel."""

    @pytest.fixture(scope="class")
    @classmethod
    def http(cls, chain: CertChain, server: ApiServer) -> Iterator[httpx.Client]:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def client(cls, http: httpx.Client) -> Client:
        return Client(str(http.base_url).rstrip("/"), http=http)

    # factor sets -----------------------------------------------------------------------------
    def test_factor_sets(self, http: httpx.Client, chain: CertChain) -> None:
        found = check(FactorSetList, http.get("/v1/carbon/factor-sets"))
        assert found["time_s"] == chain.node.tip.time // 1000
        assert [(s["id"], s["region"], s["in_force"]) for s in found["factor_sets"]] == [
            ("cn-2024-co2e", "CN", False),
            ("cn-2025", "CN", True),
            ("cn-gd-2025q1", "CN-GD", False),
        ]
        assert found["region_map"]["CN-GD"] == "CN-SOUTH"
        assert found["region_map"] == region_map_body()["provinces"]
        by_id = {s["id"]: s for s in found["factor_sets"]}
        # the values and sources are the shipped library's, as published
        library = factors.load()
        gd = factors.lookup(library, "CN-GD", 2023, gas="CO2").factor
        assert by_id["cn-gd-2025q1"]["grid_average"] == {
            "g_per_mwh": CN_GD,
            "gas": "CO2",
            "boundary": "combustion",
            "source": {
                "factor_id": gd.id,
                "publisher": gd.publisher,
                "document": MEE_2023,
                "year": 2023,
                "geography": "CN-GD",
            },
        }
        assert "residual_mix" not in by_id["cn-gd-2025q1"]
        assert by_id["cn-2025"]["residual_mix"]["g_per_mwh"] == CN_RESIDUAL
        assert by_id["cn-2025"]["library_version"] == library.version
        fuels = {f["fuel"]: f for f in by_id["cn-2025"]["fuels"]}
        assert (fuels["natural_gas"]["unit"], fuels["natural_gas"]["g_per_unit"]) == ("GJ", 56_100)
        assert fuels["natural_gas"]["source"]["document"].startswith("2006 IPCC Guidelines")
        # every recorded set is what the state holds
        for set_id, row in by_id.items():
            stored = carbon.get_set(chain.node.state.view, set_id)
            assert stored is not None
            assert {k: v for k, v in row.items() if k != "in_force"} == msgspec.to_builtins(stored)
        only = check(FactorSetList, http.get("/v1/carbon/factor-sets", params={"region": "CN-GD"}))
        assert [s["id"] for s in only["factor_sets"]] == ["cn-gd-2025q1"]
        refused(
            http.get("/v1/carbon/factor-sets", params={"region": "cn"}), 400, "api.invalid_request"
        )

    def test_one_factor_set(self, http: httpx.Client, chain: CertChain) -> None:
        found = check(FactorSetModel, http.get("/v1/carbon/factor-sets/cn-2025"))
        assert found == msgspec.to_builtins(carbon.get_set(chain.node.state.view, "cn-2025"))
        assert (found["start_s"], found["recorded_by"]) == (MAR, REGULATOR)
        refused(http.get("/v1/carbon/factor-sets/nope"), 404, "not_found")

    def test_lookup(self, http: httpx.Client) -> None:
        march = check(
            FactorLookupView, http.get("/v1/carbon/lookup", params={"region": "CN-GD", "time": MAR})
        )
        assert (march["set"]["id"], march["path"], march["fallback"]) == (
            "cn-2025",
            ["CN-GD", "CN-SOUTH", "CN"],
            True,
        )
        jan = check(
            FactorLookupView, http.get("/v1/carbon/lookup", params={"region": "CN-GD", "time": JAN})
        )
        assert (jan["set"]["id"], jan["path"], jan["fallback"]) == (
            "cn-gd-2025q1",
            ["CN-GD"],
            False,
        )
        # a month's last second still finds the month's set; the next second does not
        end = check(
            None, http.get("/v1/carbon/lookup", params={"region": "CN-GD", "time": MAR - 1})
        )
        assert end["set"]["id"] == "cn-gd-2025q1"
        message = refused(
            http.get("/v1/carbon/lookup", params={"region": "US", "time": JAN}),
            400,
            "carbon.no_factor",
        )
        assert "US" in message
        refused(
            http.get("/v1/carbon/lookup", params={"region": "CN-GD", "time": JAN - 86_400}),
            400,
            "carbon.no_factor",
        )
        bad_queries: list[dict[str, str | int]] = [
            {"region": "CN-GD"},
            {"region": "cn-gd", "time": JAN},
            {"region": "CN-GD", "time": -1},
            {"region": "CN/GD", "time": JAN},
        ]
        for bad in bad_queries:
            refused(http.get("/v1/carbon/lookup", params=bad), 400, "api.invalid_request")

    # inventories -----------------------------------------------------------------------------
    def test_organisation_inventory(self, http: httpx.Client, chain: CertChain) -> None:
        inv = check(InventoryModel, http.get("/v1/carbon/inventory", params=PERIOD))
        rows = {(m["site"], m["month"]): m for m in inv["months"]}
        assert set(rows) == set(MONTHS)
        for key, (wh, claimed, hourly, covered, location, market, market_h) in MONTHS.items():
            m = rows[key]
            assert (
                m["consumption_wh"],
                m["claimed_wh"],
                m["matched_hourly_wh"],
                m["covered_volume_wh"],
                m["location_g"],
                m["market_volume_g"],
                m["market_hourly_g"],
            ) == (wh, claimed, hourly, covered, location, market, market_h), key
            # location-based = consumption x the grid factor, whatever was claimed
            assert m["location_g"] == wh * m["grid"]["g_per_mwh"] // 1_000_000
        assert rows[("s-ben", "2025-01")]["corrected"] == 1
        assert (
            inv["consumption_wh"],
            inv["claimed_wh"],
            inv["matched_hourly_wh"],
            inv["covered_volume_wh"],
        ) == (14_000, 5000, 4000, 5000)
        assert (
            inv["scope2_location_g"],
            inv["scope2_market_volume_g"],
            inv["scope2_market_hourly_g"],
            inv["avoided_g"],
        ) == (6273, 4143, 4584, 2209)
        assert (
            inv["scope1"]["confirmed_g"],
            inv["scope1"]["reported_g"],
            inv["scope1"]["rejected"],
        ) == (561_000, 1_482_000, 1)
        assert (inv["readings"], inv["corrected"], inv["gas"]) == (5, 1, "CO2")
        assert inv["fallbacks"] == ["CN-GD -> CN"]
        assert {(f["set"], f["role"], f["g_per_mwh"]) for f in inv["factors"]} == {
            ("cn-gd-2025q1", "grid_average", CN_GD),
            ("cn-gd-2025q1", "residual_is_grid_average", CN_GD),
            ("cn-2025", "grid_average", CN),
            ("cn-2025", "residual_mix", CN_RESIDUAL),
        }
        # the answer is the read model's inventory at the same state
        node = chain.node
        direct = org_inventory(
            node.readmodels.reader(), node.state.view, "homes", "2025-01", "2025-03"
        )
        assert inv == msgspec.to_builtins(direct)

    def test_plants_avoided(self, http: httpx.Client) -> None:
        inv = check(
            InventoryModel,
            http.get(
                "/v1/carbon/inventory",
                params={"org": "solar", "start": "2025-01", "end": "2025-02"},
            ),
        )
        assert inv["months"] == []
        assert [
            (p["device"], p["month"], p["generation_wh"], p["avoided_g"]) for p in inv["plants"]
        ] == [
            ("pv-1", "2025-01", 5000, 2209),
            ("wind-1", "2025-01", 1_500_000, 662_850),
            ("wind-1", "2025-02", 1_500_000, 662_850),
        ]
        assert (inv["plants_avoided_g"], inv["avoided_g"]) == (1_327_909, 0)
        assert inv["scope2_location_g"] == inv["scope2_market_volume_g"] == 0

    def test_report_of_a_producer(self, http: httpx.Client) -> None:
        """An organisation with plants and no sites: avoided emissions only, in every form."""
        window = {"org": "solar", "start": "2025-01", "end": "2025-02"}
        report = check(ReportModel, http.get("/v1/carbon/report", params=window))
        assert (report["avoided_by_plants_g"], report["avoided_by_claims_g"]) == (1_327_909, 0)
        assert report["organisation"]["plants"] == 5  # pv-1, pv-2, pv-3, bat-1, wind-1
        quality = report["data_quality"]
        assert (quality["intervals"], quality["measured_ppm"], quality["plant_intervals"]) == (
            0,
            1_000_000,
            5,
        )
        assert report["instruments"]["bundles"] == 0
        rows = list(
            csv.DictReader(
                io.StringIO(http.get("/v1/carbon/report", params={**window, "format": "csv"}).text)
            )
        )
        assert [
            (r["record"], r["device"], r["generation_wh"], r["avoided_g"], r["plants_avoided_g"])
            for r in rows
        ] == [
            ("plant_month", "pv-1", "5000", "2209", ""),
            ("plant_month", "wind-1", "1500000", "662850", ""),
            ("plant_month", "wind-1", "1500000", "662850", ""),
            ("total", "", "3005000", "0", "1327909"),
        ]
        pdf = http.get("/v1/carbon/report", params={**window, "format": "pdf"}).content
        text = _texts(pdf, _content(pdf))
        assert "Plants by month" in text
        assert "662,850" in text

    def test_site_inventory(self, http: httpx.Client) -> None:
        ann = check(
            InventoryModel,
            http.get(
                "/v1/carbon/inventory",
                params={"site": "s-ann", "start": "2025-01", "end": "2025-01"},
            ),
        )
        assert (ann["subject"], ann["id"]) == ("site", "s-ann")
        assert (
            ann["consumption_wh"],
            ann["scope2_location_g"],
            ann["scope2_market_volume_g"],
            ann["scope2_market_hourly_g"],
        ) == (5000, 2209, 0, 441)
        # scope 1 of the site only: ben's LPG at s-ben is not here
        assert [a["id"] for a in ann["scope1"]["activities"]] == ["gas-jan"]
        assert ann["scope1"]["confirmed_g"] == 561_000

    def test_inventory_of_an_open_month(self, http: httpx.Client, chain: CertChain) -> None:
        """An inventory may include the month still running (a report may not)."""
        window = {"org": "homes", "start": month_of(chain.h0), "end": month_of(chain.start_s)}
        inv = check(InventoryModel, http.get("/v1/carbon/inventory", params=window))
        assert inv["consumption_wh"] == 600 + 1400  # s-ann's hours in cert_node
        assert inv["scope2_location_g"] == sum(
            m["consumption_wh"] * CN // 1_000_000 for m in inv["months"]
        )

    def test_inventory_refusals(self, http: httpx.Client, chain: CertChain) -> None:
        root = chain.node.tip.state_root

        def inventory(**params: str) -> httpx.Response:
            return http.get("/v1/carbon/inventory", params=params)

        period = {"start": "2025-01", "end": "2025-03"}
        refused(inventory(**period), 400, "api.invalid_request")  # neither org nor site
        refused(inventory(org="homes", site="s-ann", **period), 400, "api.invalid_request")
        refused(inventory(org="nobody", **period), 404, "not_found")
        refused(inventory(site="s-nobody", **period), 404, "not_found")
        for start, end in (("2025-13", "2025-03"), ("2025-1", "2025-03"), ("25-01", "2025-03")):
            refused(inventory(org="homes", start=start, end=end), 400, "api.invalid_request")
        refused(inventory(org="homes", start="2025-03", end="2025-01"), 400, "carbon.bad_period")
        refused(inventory(org="homes", start="2015-01", end="2025-01"), 400, "carbon.bad_period")
        # s-dan's 2024-01 has no factor set on any region of its path
        message = refused(
            inventory(site="s-dan", start="2024-01", end="2024-01"), 400, "carbon.no_factor"
        )
        assert "CN-GD -> CN-SOUTH -> CN" in message
        refused(inventory(org="homes", start="2024-01", end="2025-03"), 400, "carbon.no_factor")
        # 2024-06 is in CO2e, 2025 in CO2: never summed
        refused(inventory(org="homes", start="2024-06", end="2025-01"), 400, "carbon.mixed_gas")
        assert chain.node.tip.state_root == root

    # reports ---------------------------------------------------------------------------------
    def test_report_json(self, http: httpx.Client, chain: CertChain) -> None:
        response = http.get("/v1/carbon/report", params=PERIOD)
        report = check(ReportModel, response)
        assert response.headers["content-type"] == "application/json"
        assert report["format"] == "gridledger/carbon-report/v1"
        assert report["organisation"] == {
            "id": "homes",
            "name": "Households",
            "sites": 3,
            "plants": 0,
        }
        inventory = check(InventoryModel, http.get("/v1/carbon/inventory", params=PERIOD))
        assert report["inventory"] == inventory
        tip = chain.node.tip
        assert report["as_of"] == {
            "chain_id": tip.chain_id,
            "height": tip.height,
            "time_s": tip.time // 1000,
            "block_hash": tip.hash().hex(),
            "state_root": tip.state_root,
        }
        assert (report["avoided_by_claims_g"], report["avoided_by_plants_g"]) == (2209, 0)
        assert report["instruments"] == {
            "type": "energytag_granular_certificate",
            "scheme": "energytag-gc/2024",
            "production_g_per_mwh": 0,
            "bundles": 3,
            "beneficiaries": 1,
            "claimed_wh": 5000,
            "covered_volume_wh": 5000,
            "matched_hourly_wh": 4000,
            "covered_volume_ppm": 5000 * 1_000_000 // 14_000,
            "matched_hourly_ppm": 4000 * 1_000_000 // 14_000,
        }
        assert report["data_quality"] == {
            "intervals": 5,
            "measured_intervals": 4,
            "estimated_intervals": 1,
            "measured_ppm": 800_000,
            "plant_intervals": 0,
            "activities_confirmed": 1,
            "activities_reported": 1,
            "activities_rejected": 1,
            "fallback_factors": 1,
            "residual_is_grid_average": True,
        }
        assert [
            (f["set"], f["fuel"], f["unit"], f["g_per_unit"]) for f in report["fuel_factors"]
        ] == [
            ("cn-2025", "lpg", "GJ", 63_100),
            ("cn-gd-2025q1", "gas_diesel_oil", "GJ", 74_100),
            ("cn-gd-2025q1", "natural_gas", "GJ", 56_100),
        ]
        text = "\n".join(report["disclosures"])
        for shown in (
            "CN-GD -> CN-SOUTH -> CN",
            "cn-2025",
            "cn-gd-2025q1 has no residual-mix",
            "1,482,000 g of scope 1",
            "1 of 5 metered consumption intervals",
            "3 granular certificate bundle(s)",
            "no offsets are netted",
            "Factor set cn-2025 applies data of 2023 to months of 2025.",
            "Factor set cn-gd-2025q1 applies data of 2023 to months of 2025.",
        ):
            assert shown in text, shown
        # a factor published for another geography than its set's region is disclosed too
        decoded = decode_report(response.content)
        assert not any("published for" in d for d in report["disclosures"])
        moved = msgspec.structs.replace(
            decoded.inventory.factors[0],
            source=msgspec.structs.replace(decoded.inventory.factors[0].source, geography="CN-X"),
        )
        other = msgspec.structs.replace(
            decoded,
            inventory=msgspec.structs.replace(
                decoded.inventory, factors=[moved, *decoded.inventory.factors[1:]]
            ),
        )
        assert (
            f"Factor set cn-2025 (for CN) uses {moved.source.factor_id}, which was published "
            "for CN-X." in disclosures(other, "en")
        )
        assert any("系为 CN-X 发布" in d for d in disclosures(other, "zh"))
        # the JSON is the report: decoded, it renders the PDF the node sends
        pdf = http.get("/v1/carbon/report", params={**PERIOD, "format": "pdf", "lang": "zh"})
        assert render_report_pdf(decoded, "zh") == pdf.content

    def test_report_csv(self, http: httpx.Client) -> None:
        response = http.get("/v1/carbon/report", params={**PERIOD, "format": "csv"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert (
            'filename="carbon-homes-2025-01-2025-03.csv"' in response.headers["content-disposition"]
        )
        assert response.content.count(b"\r\n") == 1 + 4 + 3 + 1
        rows = list(csv.reader(io.StringIO(response.text)))
        assert (
            rows[0]
            == list(CSV_FIELDS)
            == [
                "record",
                "site",
                "device",
                "month",
                "gas",
                "consumption_wh",
                "claimed_wh",
                "covered_volume_wh",
                "matched_hourly_wh",
                "generation_wh",
                "intervals_measured",
                "intervals_estimated",
                "scope1_confirmed_g",
                "scope1_reported_g",
                "scope2_location_g",
                "scope2_market_annual_g",
                "scope2_market_hourly_g",
                "avoided_g",
                "plants_avoided_g",
                "activity",
                "fuel",
                "quantity",
                "unit",
                "status",
                "factor_set",
                "factor_path",
                "factor",
                "factor_unit",
                "factor_source",
                "residual_basis",
                "residual_factor",
                "residual_source",
            ]
        )
        records = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
        assert [r["record"] for r in records] == ["site_month"] * 4 + ["activity"] * 3 + ["total"]
        sites = {(r["site"], r["month"]): r for r in records[:4]}
        for key, (wh, claimed, hourly, covered, location, market, market_h) in MONTHS.items():
            r = sites[key]
            assert [
                int(r[f])
                for f in (
                    "consumption_wh",
                    "claimed_wh",
                    "matched_hourly_wh",
                    "covered_volume_wh",
                    "scope2_location_g",
                    "scope2_market_annual_g",
                    "scope2_market_hourly_g",
                )
            ] == [wh, claimed, hourly, covered, location, market, market_h]
        march = sites[("s-ann", "2025-03")]
        assert (
            march["factor_set"],
            march["factor_path"],
            march["factor"],
            march["factor_unit"],
            march["residual_basis"],
            march["residual_factor"],
        ) == (
            "cn-2025",
            "CN-GD -> CN-SOUTH -> CN",
            str(CN),
            "gCO2/MWh",
            "residual_mix",
            str(CN_RESIDUAL),
        )
        assert MEE_2023 in march["factor_source"]
        assert "mee-nbs:grid_average:CN:2023" in march["factor_source"]
        january = sites[("s-ann", "2025-01")]
        assert (january["residual_basis"], january["residual_factor"]) == (
            "grid_average",
            str(CN_GD),
        )
        ben = sites[("s-ben", "2025-01")]
        assert (ben["intervals_measured"], ben["intervals_estimated"]) == ("0", "1")
        activities = {r["activity"]: r for r in records if r["record"] == "activity"}
        assert (
            activities["gas-jan"]["status"],
            activities["gas-jan"]["scope1_confirmed_g"],
            activities["gas-jan"]["scope1_reported_g"],
        ) == ("confirmed", "561000", "")
        assert activities["diesel-feb"]["scope1_reported_g"] == "1482000"
        assert activities["lpg-mar"]["status"] == "rejected"
        assert (activities["gas-jan"]["factor"], activities["gas-jan"]["factor_unit"]) == (
            "56100",
            "gCO2/GJ",
        )
        assert "2006 IPCC Guidelines" in activities["gas-jan"]["factor_source"]
        total = records[-1]
        assert (
            total["month"],
            total["scope2_location_g"],
            total["scope2_market_annual_g"],
            total["scope2_market_hourly_g"],
            total["scope1_confirmed_g"],
            total["scope1_reported_g"],
            total["intervals_measured"],
            total["intervals_estimated"],
        ) == ("2025-01..2025-03", "6273", "4143", "4584", "561000", "1482000", "4", "1")
        # every total is the sum of its rows
        for column in (
            "consumption_wh",
            "scope2_location_g",
            "scope2_market_annual_g",
            "scope2_market_hourly_g",
        ):
            assert int(total[column]) == sum(int(r[column]) for r in records[:4])

    def test_report_ghg(self, http: httpx.Client) -> None:
        ghg = check(GhgModel, http.get("/v1/carbon/report", params={**PERIOD, "format": "ghg"}))
        assert ghg["format"] == "gridledger/ghg-protocol-report/v1"
        assert "Scope 2 Guidance" in ghg["standard"]
        assert (ghg["company"], ghg["company_name"], ghg["period_start"], ghg["period_end"]) == (
            "homes",
            "Households",
            "2025-01-01",
            "2025-03-31",
        )
        assert ghg["boundary"]["sites"] == 3
        assert (ghg["gas"], ghg["gases_included"]) == ("CO2", ["CO2"])
        s1 = ghg["scope_1"]
        assert (s1["total"], s1["unverified"]) == (
            {"g": 561_000, "t": "0.561000"},
            {"g": 1_482_000, "t": "1.482000"},
        )
        assert s1["sources"] == [
            {
                "fuel": "natural_gas",
                "quantity": 10,
                "unit": "GJ",
                "emissions": {"g": 561_000, "t": "0.561000"},
            }
        ]
        assert {f["fuel"] for f in s1["emission_factors"]} == {
            "natural_gas",
            "gas_diesel_oil",
            "lpg",
        }
        location = ghg["scope_2_location_based"]
        assert (location["total"], location["consumption_mwh"]) == (
            {"g": 6273, "t": "0.006273"},
            "0.014000",
        )
        assert sorted(
            (
                f["factor_set"],
                f["answered_by"],
                f["g_per_mwh"],
                f["kg_per_kwh"],
                f["document"],
                f["geography"],
            )
            for f in location["emission_factors"]
        ) == [
            ("cn-2025", "CN", CN, "0.5306", MEE_2023, "CN"),
            ("cn-gd-2025q1", "CN-GD", CN_GD, "0.4419", MEE_2023, "CN-GD"),
        ]
        assert all(f["publisher"].startswith("生态环境部") for f in location["emission_factors"])
        assert ghg["scope_2_market_based"] == {
            "total": {"g": 4143, "t": "0.004143"},
            "matching": "annual",
            "covered_mwh": "0.005000",
        }
        assert ghg["scope_2_market_based_hourly"] == {
            "total": {"g": 4584, "t": "0.004584"},
            "matching": "hourly",
            "covered_mwh": "0.004000",
        }
        instruments = ghg["contractual_instruments"]
        assert (
            instruments["type"],
            instruments["bundles"],
            instruments["claimed_mwh"],
            instruments["emission_rate_g_per_mwh"],
            instruments["share_of_consumption_annual_ppm"],
        ) == ("energytag_granular_certificate", 3, "0.005000", 0, 357_142)
        assert instruments["quality_criteria"]
        residual = ghg["residual_mix"]
        assert (residual["used"], residual["grid_average_instead"]) == (False, True)
        assert sorted(
            (f["basis"], f["factor_set"], f["g_per_mwh"]) for f in residual["emission_factors"]
        ) == [
            ("grid_average_as_residual", "cn-gd-2025q1", CN_GD),
            ("residual_mix", "cn-2025", CN_RESIDUAL),
        ]
        assert ghg["avoided_emissions"] == {"g": 2209, "t": "0.002209"}
        assert ghg["avoided_by_plants"]["g"] == 0  # the households own no plant
        assert "grid-average factor" in ghg["avoided_methodology"]
        assert ghg["offsets"] == "none netted into any scope"
        assert ghg["scope_3"] == "not included"
        assert set(ghg["methodologies"]) == {
            "scope_1",
            "scope_2_location_based",
            "scope_2_market_based",
            "scope_2_market_based_hourly",
        }
        assert ghg["fallbacks"] == ["CN-GD -> CN"]
        assert ghg["data_quality"]["estimated_intervals"] == 1

    @pytest.mark.parametrize("lang", ["en", "zh"])
    def test_report_pdf(self, http: httpx.Client, lang: str) -> None:
        response = http.get("/v1/carbon/report", params={**PERIOD, "format": "pdf", "lang": lang})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        assert (
            f'filename="carbon-homes-2025-01-2025-03-{lang}.pdf"'
            in response.headers["content-disposition"]
        )
        pdf = response.content
        assert pdf.startswith(b"%PDF-1.")
        assert pdf.rstrip().endswith(b"%%EOF")
        # the sources are Chinese: the CJK font is embedded whatever the page's language
        assert b"STSong-Light" in pdf
        text = _texts(pdf, _content(pdf))
        for shown in (
            MEE_2023,
            "mee-nbs:grid_average:CN-GD:2023",
            "mee-nbs:residual_mix:CN:2023",
            "ipcc-2006:fuel_default:natural_gas",
            "2006 IPCC Guidelines",
            "CN-GD -> CN-SOUTH -> CN",
            "6,273",
            "4,143",
            "4,584",
            "561,000",
            "0.006273",
            "s-ben",
            "cn-gd-2025q1",
            "scope2_location_g",
        ):
            assert shown in text, shown
        if lang == "zh":
            for shown in (
                "碳排放核算报告",
                "范围二，基于位置法",
                "范围二，基于市场法（逐时匹配）",
                "排放因子及其来源",
                "数据质量",
                "已确认",
                "生态环境部",
            ):
                assert shown in text, shown
        else:
            for shown in (
                "Carbon inventory report",
                "Scope 2, location-based",
                "Scope 2, market-based (hourly matching)",
                "Emission factors and their sources",
                "1 estimated",
                "confirmed",
            ):
                assert shown in text, shown

    def test_report_refusals(self, http: httpx.Client, chain: CertChain) -> None:
        root = chain.node.tip.state_root
        now = month_of(chain.node.tip.time // 1000)

        def report(**params: str) -> httpx.Response:
            return http.get("/v1/carbon/report", params={**PERIOD, **params})

        for fmt in ("json", "csv", "ghg", "pdf"):
            message = refused(report(end=now, format=fmt), 400, "carbon.period_open")
            assert now in message
        refused(report(start="2099-01", end="2099-01"), 400, "carbon.period_open")
        refused(report(start="2025-03", end="2025-01"), 400, "carbon.bad_period")
        refused(report(start="2025-13"), 400, "api.invalid_request")
        refused(report(org="nobody"), 404, "not_found")
        refused(report(org="No Body"), 400, "api.invalid_request")
        refused(report(format="xml"), 400, "api.invalid_request")
        refused(report(format="pdf", lang="fr"), 400, "api.invalid_request")
        refused(report(start="2024-01", end="2024-01"), 400, "carbon.no_factor")
        refused(report(start="2024-06", end="2025-01"), 400, "carbon.mixed_gas")
        assert chain.node.tip.state_root == root

    # activity data ---------------------------------------------------------------------------
    def test_activities(self, http: httpx.Client, chain: CertChain) -> None:
        found = check(ActivityList, http.get("/v1/carbon/activities", params={"org": "homes"}))
        assert found["org"] == "homes"
        assert [
            (
                a["id"],
                a["site"],
                a["month"],
                a["fuel"],
                a["quantity"],
                a["unit"],
                a["emissions_g"],
                a["status"],
                a.get("verifier"),
                a.get("verifier_note"),
            )
            for a in found["activities"]
        ] == [
            (
                "diesel-feb",
                "s-ann",
                "2025-02",
                "gas_diesel_oil",
                20,
                "GJ",
                1_482_000,
                "reported",
                None,
                None,
            ),
            (
                "gas-jan",
                "s-ann",
                "2025-01",
                "natural_gas",
                10,
                "GJ",
                561_000,
                "confirmed",
                "verifier",
                None,
            ),
            (
                "lpg-mar",
                "s-ben",
                "2025-03",
                "lpg",
                5,
                "GJ",
                315_500,
                "rejected",
                "verifier",
                "no fuel receipts",
            ),
        ]
        lpg = found["activities"][2]
        assert (lpg["factor_set"], lpg["factor_path"], lpg["reported_by"]) == (
            "cn-2025",
            ["CN-GD", "CN-SOUTH", "CN"],
            "ben",
        )
        assert found["activities"] == [
            msgspec.structs.asdict(a) for a in carbon.activities_of(chain.node.state.view, "homes")
        ]
        none = check(ActivityList, http.get("/v1/carbon/activities", params={"org": "solar"}))
        assert none["activities"] == []
        refused(http.get("/v1/carbon/activities", params={"org": "nobody"}), 404, "not_found")
        refused(http.get("/v1/carbon/activities"), 400, "api.invalid_request")

    # the SDK ---------------------------------------------------------------------------------
    def test_sdk_reads(self, client: Client, http: httpx.Client) -> None:
        carbon_api = client.carbon
        assert carbon_api.factor_sets() == http.get("/v1/carbon/factor-sets").json()
        assert carbon_api.factor_set("cn-2025")["region"] == "CN"
        assert carbon_api.lookup("CN-GD", MAR)["path"] == ["CN-GD", "CN-SOUTH", "CN"]
        assert (
            carbon_api.inventory(org="homes", start="2025-01", end="2025-03")[
                "scope2_market_hourly_g"
            ]
            == 4584
        )
        assert (
            carbon_api.inventory(site="s-ann", start="2025-02", end="2025-02")["consumption_wh"]
            == 4000
        )
        report = carbon_api.report("homes", "2025-01", "2025-03")
        assert report["inventory"]["scope2_location_g"] == 6273
        assert carbon_api.ghg_report("homes", "2025-01", "2025-03")["scope_1"]["total"]["g"] == (
            561_000
        )
        raw = carbon_api.report_file("homes", "2025-01", "2025-03", "json")
        assert json.loads(raw) == report
        assert carbon_api.report_file("homes", "2025-01", "2025-03", "pdf", lang="zh").startswith(
            b"%PDF-"
        )
        assert carbon_api.report_file("homes", "2025-01", "2025-03", "csv").startswith(b"record,")
        assert [a["id"] for a in carbon_api.activities("homes")["activities"]] == [
            "diesel-feb",
            "gas-jan",
            "lpg-mar",
        ]
        with pytest.raises(ApiError) as err:
            carbon_api.report("homes", "2025-01", month_of(client.status()["tip_time"] // 1000))
        assert (err.value.code, err.value.status) == ("carbon.period_open", 400)
        with pytest.raises(ApiError) as err:
            carbon_api.factor_set("nope")
        assert (err.value.code, err.value.status) == ("not_found", 404)


class TestInProcess(CarbonSuite):
    """Requests go straight into the ASGI app (starlette's TestClient)."""

    @pytest.fixture(scope="class")
    @classmethod
    def http(cls, chain: CertChain, server: ApiServer) -> Iterator[httpx.Client]:
        from starlette.testclient import TestClient

        with TestClient(create_app(chain.node)) as c:
            yield c


class TestLiveServer(CarbonSuite):
    """Requests go over TCP to uvicorn on a free port of 127.0.0.1."""

    @pytest.fixture(scope="class")
    @classmethod
    def http(cls, chain: CertChain, server: ApiServer) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            yield c


# building transactions with the SDK (after the suites: these commit transactions) ------------
def test_sdk_builds_bodies_from_the_library() -> None:
    body = factor_set_body("CN-GD", 2022, "2026-01", "2027-01", "cn-gd-2026")
    assert (body["region"], body["start_s"], body["end_s"]) == (
        "CN-GD",
        1_767_225_600,
        1_798_761_600,
    )
    assert body["grid_average"]["g_per_mwh"] == 440_300  # CN-GD's 2022 factor
    assert body["grid_average"]["source"]["factor_id"] == "mee-nbs:grid_average:CN-GD:2022"
    # the region has no residual mix of its own: its country's, naming where it comes from
    assert body["residual_mix"]["source"]["geography"] == "CN"
    assert "residual_mix" not in factor_set_body(
        "CN-GD", 2022, "2026-01", "2027-01", "x", residual=False
    )
    ets = factor_set_body("CN", 2022, "2026-01", "2027-01", "ets", basis="ets_reporting")
    assert ets["grid_average"]["g_per_mwh"] == 570_300
    assert all(f["unit"] == "GJ" and f["gas"] == "CO2" for f in body["fuels"])

    def code(call: Any) -> str:
        with pytest.raises(InvalidInput) as err:
            call()
        return err.value.code

    # Tibet has no factor of its own: record its regional grid's set and let the lookup fall back
    assert code(lambda: factor_set_body("CN-XZ", 2023, "2026-01", "2027-01", "x")) == (
        "carbon.library_fallback"
    )
    assert code(lambda: factor_set_body("CN-GD", 2019, "2026-01", "2027-01", "x")) == (
        "factors.no_factor"
    )
    assert code(lambda: factor_set_body("XX-YY", 2023, "2026-01", "2027-01", "x")) == (
        "factors.unknown_geography"
    )
    # the library's CO2e figures are life-cycle ones: no CO2e combustion factor to take
    assert code(lambda: factor_set_body("CN", 2023, "2026-01", "2027-01", "x", gas="CO2e")) == (
        "factors.no_factor"
    )
    assert code(lambda: factor_set_body("CN", 2023, "2026-13", "2027-01", "x")) == (
        "carbon.bad_period"
    )
    assert code(lambda: factor_set_body("CN", 2023, "2027-01", "2026-01", "x")) == (
        "carbon.bad_period"
    )
    assert (
        code(lambda: factor_set_body("CN", 2023, "2026-01", "2027-01", "x", basis="fossil_only"))
        == "factors.invalid_query"
    )
    mixed = {**body, "residual_mix": {**body["residual_mix"], "gas": "CO2e"}}
    assert code(lambda: carbon_body("carbon.record_factor_set", mixed)) == "carbon.gas_mismatch"
    life = {**body, "grid_average": {**body["grid_average"], "boundary": "life_cycle"}}
    assert code(lambda: carbon_body("carbon.record_factor_set", life)) == (
        "carbon.boundary_mismatch"
    )
    assert code(lambda: carbon_body("market.clear", {"interval": 0})) == "tx.unknown_kind"


def test_sdk_transactions(chain: CertChain, server: ApiServer) -> None:
    """Refusals the contract makes, through the SDK: each a failed receipt naming its code."""
    keys = chain.keys
    with Client(server.url) as client:
        c = client.carbon
        overlap = factor_set_body("CN", 2023, "2025-06", "2025-07", "cn-overlap")
        result = c.record_factor_set(keys[REGULATOR], REGULATOR, overlap)
        assert (result.ok, result.code) == (False, "carbon.factor_overlap")
        result = c.record_factor_set(keys[REGULATOR], REGULATOR, {**CO2E_SET})
        assert (result.ok, result.code) == (False, "carbon.factor_set_exists")
        with pytest.raises(ApiError) as err:  # a household is no regulator
            c.record_factor_set(
                keys["ann"], "ann", factor_set_body("CN", 2023, "2031-01", "2032-01", "by-ann")
            )
        assert err.value.code == "auth.forbidden"
        result = c.report_activity(
            keys["ann"],
            "ann",
            activity_id="coal",
            site="s-ann",
            month="2025-01",
            fuel="natural_gas",
            quantity=3,
            unit="t",
        )
        assert (result.ok, result.code) == (False, "carbon.wrong_unit")
        result = c.report_activity(
            keys["ann"],
            "ann",
            activity_id="gas-mar",
            site="s-ann",
            month="2025-03",
            fuel="natural_gas",
            quantity=2,
            unit="GJ",
        )
        assert result.ok, result.message
        result = c.confirm_activity(
            keys["verifier"],
            "verifier",
            org="homes",
            activity_id="gas-mar",
            note="meter bills checked",
        )
        assert result.ok, result.message
        result = c.reject_activity(
            keys["verifier"], "verifier", org="homes", activity_id="gas-mar", note="late"
        )
        assert (result.ok, result.code) == (False, "carbon.already_verified")
        # the confirmed report counts in the next report: March's 2 GJ x 56,100 g/GJ
        report = c.report("homes", "2025-01", "2025-03")
        assert report["inventory"]["scope1"]["confirmed_g"] == 561_000 + 2 * 56_100
        with pytest.raises(InvalidInput) as refused_map:  # a province maps into its country
            c.set_region_map(keys[REGULATOR], REGULATOR, {"CN-GD": "US-WEST"})
        assert refused_map.value.code == "carbon.invalid_region_map"


def test_the_openapi_document_lists_the_carbon_endpoints(chain: CertChain) -> None:
    from starlette.testclient import TestClient

    with TestClient(create_app(chain.node, web=False)) as http:
        paths = http.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/carbon/factor-sets",
        "/v1/carbon/factor-sets/{set_id}",
        "/v1/carbon/lookup",
        "/v1/carbon/inventory",
        "/v1/carbon/report",
        "/v1/carbon/activities",
    ):
        assert path in paths, path
