"""The certificate registry's API endpoints and SDK calls, on a node whose clock the test moves.

A module fixture runs the certificates' life through the SDK over HTTP (``cert_node`` gives the
readings): the certifier issues pv-1's hours h0 (2000 Wh) and h1 (1500) and pv-2's h0 (3000);
sun splits pv-1:1 into 500 + 1500 and transfers pv-1:501 to ann, who cancels 1000 Wh of it for
her site s-ann and claims them; sun cancels pv-1:1 for ben (not claimed) and locks 1000 Wh of
pv-2:1 for ben; the certifier withdraws 300 Wh of pv-1:2001; sun charges the battery with
pv-2:1001 (2000 Wh) and the certifier issues its discharge at h2 (1500 Wh, 200 lost); a China
GEC of wind-1's January is recorded, traded to ann and converted; wind-1's February is issued
and exported as one whole MWh, 500 kWh carried; the operator shortens expiry to a day, pv-2's
h1 is issued under it and the clock moves two days on.

Worked out by hand, the bundles in id order (holder, status now, Wh):

    bat-1:1           sun  active          1500   storage discharge, h2
    pv-1:1            sun  cancelled        500   for ben at s-ben
    pv-1:501          ann  claimed         1000   for ann at s-ann
    pv-1:1501         ann  active           500
    pv-1:2001         sun  withdrawn        300   h1
    pv-1:2301         sun  active          1200   h1
    pv-2:1            sun  locked          1000   for ben
    pv-2:1001         sun  storage_charged 2000
    pv-2:3001         sun  expired         2500   h1, stored active
    wind-1:1          sun  gec_exported 1000000   February
    wind-1:1000001    sun  active        500000   February
    wind-1:1500001    ann  active       1000000   January (GEC conversion)

s-ann consumed 600 Wh in h0 and 1400 in h1 against the 1000 Wh produced in h0 and claimed for
it: hour by hour min(600, 1000) + min(1400, 0) = 600 of 2000 (24/7 score 0.3), by volume
min(1000, 2000) = 1000 (0.5). Every view is checked against this table, against the ledger's
own records, and against a brute-force filter of every bundle in the state; in process (ASGI)
and over TCP.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from cert_node import FEB, JAN, WIND_WH, CertChain, cert_chain
from fixtures_node import check, ok
from gridledger.api import ApiServer, create_app
from gridledger.api.routes.certificates import (
    AcceptanceView,
    CertificatePage,
    CertificateTotals,
    CertificateView,
    DeviceIssuances,
    ExportPage,
    GecPage,
    MatchingView,
    StatementView,
    StorageView,
)
from gridledger.api.schemas import ErrorResponse
from gridledger.contracts import certificates
from gridledger.contracts.certificates import bundle_hash, get_bundle, keys, status_at
from gridledger.documents import energytag
from gridledger.readmodels import certificates as index
from gridledger.sdk import ApiError, Client, InvalidInput
from gridledger.sdk.certificates import certificate_body, sign_certificate_tx
from market_node import HOUR

pytestmark = [
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`"),
    pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument"),
]

DAY = 86_400
GEC_ID = "GEC-2025-01-0001"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CertChain]:
    with cert_chain(tmp_path_factory.mktemp("cert-api") / "home") as c:
        yield c


@pytest.fixture(scope="module")
def server(chain: CertChain) -> Iterator[ApiServer]:
    with ApiServer(chain.node) as s:
        yield s


@pytest.fixture(scope="module")
def flow(chain: CertChain, server: ApiServer) -> CertChain:
    """The certificates' life of the module docstring, through the SDK over HTTP."""
    k = chain.keys
    h0, h1, h2 = chain.h0, chain.h1, chain.h2
    with Client(server.url) as client:
        c = client.certificates
        issued = ok(c.issue(k["cert"], "cert", device="pv-1", to="sun", starts=[h1, h0]))
        assert issued == [{"type": "certificates.issued", "device": "pv-1", "to": "sun",
                           "intervals": 2, "quantity_wh": 3500}]  # fmt: skip
        ok(c.issue(k["cert"], "cert", device="pv-2", to="sun", starts=[h0]))
        split = ok(c.split(k["sun"], "sun", bundle="pv-1:1", quantities=[500, 1500]))
        assert split[0]["into"] == ["pv-1:1", "pv-1:501"]
        ok(c.transfer(k["sun"], "sun", bundle="pv-1:501", to="ann"))
        cancelled = ok(c.cancel(k["ann"], "ann", bundle="pv-1:501", beneficiary="ann",
                                site="s-ann", period_start_s=h0, period_end_s=h0 + HOUR,
                                quantity_wh=1000))  # fmt: skip
        assert (cancelled[0]["bundle"], cancelled[0]["quantity_wh"]) == ("pv-1:501", 1000)
        ok(c.claim(k["ann"], "ann", bundle="pv-1:501"))
        ok(c.cancel(k["sun"], "sun", bundle="pv-1:1", beneficiary="ben", site="s-ben",
                    period_start_s=h0, period_end_s=h0 + HOUR))  # fmt: skip
        ok(c.lock(k["sun"], "sun", bundle="pv-2:1", for_account="ben", quantity_wh=1000))
        ok(c.withdraw(k["cert"], "cert", bundle="pv-1:2001", reason="audit", quantity_wh=300))
        ok(c.set_acceptance(k["ben"], "ben", mode="listed", senders=["sun"]))
        refused = c.transfer(k["ann"], "ann", bundle="pv-1:1501", to="ben")
        assert (refused.ok, refused.code) == (False, "certificates.transfer_refused")

        charged = ok(c.charge_storage(k["sun"], "sun", storage="bat-1", bundles=["pv-2:1001"]))
        assert charged[0]["quantity_wh"] == 2000
        out = ok(c.discharge_storage(k["cert"], "cert", storage="bat-1", start=h2, to="sun",
                                     losses_wh=200))  # fmt: skip
        assert (out[0]["bundle"], out[0]["quantity_wh"]) == ("bat-1:1", 1500)

        ok(c.record_gec(k["cert"], "cert", gec=GEC_ID, project="Wind farm 1", device="wind-1",
                        month="2025-01", tradable=True, owner="sun"))  # fmt: skip
        ok(c.issue(k["cert"], "cert", device="wind-1", to="sun", starts=[FEB]))
        exported = ok(c.export_gec(k["sun"], "sun", device="wind-1", month="2025-02"))
        assert (exported[0]["mwh"], exported[0]["carried_wh"]) == (1, 500_000)
        ok(c.transfer_gec(k["sun"], "sun", gec=GEC_ID, to="ann"))
        converted = ok(c.cancel_gec(k["ann"], "ann", gec=GEC_ID))
        assert converted[0]["bundle"] == "wind-1:1500001"

        params = c.params()
        ok(c.set_params(k["operator"], "operator", **{**params, "expiry_s": DAY}))
        ok(c.issue(k["cert"], "cert", device="pv-2", to="sun", starts=[h1]))
        chain.clock.set(chain.start_s + 2 * DAY)
        ok(c.set_acceptance(k["ben"], "ben", mode="listed", senders=["sun", "solar"]))
    return chain


# id: (holder, status now, Wh, production start offset from h0 or a month, beneficiary)
def expected(flow: CertChain) -> dict[str, tuple[str, str, int, int, str | None]]:
    h0, h1, h2 = flow.h0, flow.h1, flow.h2
    return {
        "bat-1:1": ("sun", "active", 1500, h2, None),
        "pv-1:1": ("sun", "cancelled", 500, h0, "ben"),
        "pv-1:501": ("ann", "claimed", 1000, h0, "ann"),
        "pv-1:1501": ("ann", "active", 500, h0, None),
        "pv-1:2001": ("sun", "withdrawn", 300, h1, None),
        "pv-1:2301": ("sun", "active", 1200, h1, None),
        "pv-2:1": ("sun", "locked", 1000, h0, None),
        "pv-2:1001": ("sun", "storage_charged", 2000, h0, None),
        "pv-2:3001": ("sun", "expired", 2500, h1, None),
        "wind-1:1": ("sun", "gec_exported", 1_000_000, FEB, None),
        "wind-1:1000001": ("sun", "active", 500_000, FEB, None),
        "wind-1:1500001": ("ann", "active", 1_000_000, JAN, None),
    }


def summary(b: dict[str, Any]) -> tuple[str, str, int, int, str | None]:
    return (b["owner"], b["current_status"], b["quantity_wh"], b["production_start_s"],
            (b.get("cancellation") or {}).get("beneficiary"))  # fmt: skip


def every_bundle(flow: CertChain) -> list[certificates.Bundle]:
    """The reference: every bundle in the state, by (device, range start)."""
    view = flow.node.state.view
    found = [certificates.bundles.decode(v) for _, v in view.scan(keys.bundles())]
    return sorted(found, key=lambda b: (b.device, b.range_start))


FILTERS: list[dict[str, Any]] = [
    {"device": "pv-1"},
    {"owner": "ann"},
    {"owner": "sun", "device": "pv-2"},
    {"beneficiary": "ben"},
    {"beneficiary": "ann"},
    *({"status": s} for s in certificates.LIVE + certificates.FINAL),
    {"status": "cancelled"},
    {"status": "active", "owner": "sun"},
    {"status": "expired", "owner": "sun"},
    {"start": "h1"},
    {"end": "h1"},
    {"start": "h0", "end": "h1", "device": "pv-1"},
    {"start": "h2", "owner": "sun", "status": "active"},
]
"""Filters the views are checked with against a full scan (``h0``.. stand for the hours)."""


def reference(flow: CertChain, filters: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The filters' query parameters, and the ids of every bundle in the state they match,
    filtered in Python."""
    times = {"h0": flow.h0, "h1": flow.h1, "h2": flow.h2}
    params = {k: times.get(v, v) for k, v in filters.items()}
    now = flow.node.tip.time // 1000

    def keep(b: certificates.Bundle) -> bool:
        beneficiary = None if b.cancellation is None else b.cancellation.beneficiary
        return all(
            (name != "device" or b.device == v) and (name != "owner" or b.owner == v)
            and (name != "beneficiary" or beneficiary == v)
            and (name != "status" or status_at(b, now) == v)
            and (name != "start" or b.production_start_s >= v)
            and (name != "end" or b.production_start_s < v)
            for name, v in params.items()
        )  # fmt: skip

    return params, [b.id for b in every_bundle(flow) if keep(b)]


class CertificateSuite:
    """Every certificate endpoint's answers and refusals; subclasses say how requests travel."""

    @pytest.fixture(scope="class")
    @classmethod
    def http(cls, flow: CertChain, server: ApiServer) -> Iterator[httpx.Client]:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def client(cls, http: httpx.Client) -> Client:
        return Client(str(http.base_url).rstrip("/"), http=http)

    def test_every_bundle(self, http: httpx.Client, client: Client, flow: CertChain) -> None:
        page = check(CertificatePage, http.get("/v1/certificates"))
        assert page["next"] is None
        assert {b["id"]: summary(b) for b in page["certificates"]} == expected(flow)
        assert [b["id"] for b in page["certificates"]] == list(expected(flow))
        view = flow.node.state.view
        now = flow.node.tip.time // 1000
        for b in page["certificates"]:
            record = get_bundle(view, b["id"])
            assert record is not None
            assert b == {**msgspec.to_builtins(record), "current_status": status_at(record, now)}
            assert b["hash"] == bundle_hash(record)
        assert page["certificates"][8]["status"] == "active"  # pv-2:3001: stored, not marked
        assert list(client.certificates.iter(page_size=5)) == page["certificates"]

    def test_one_bundle(self, http: httpx.Client, client: Client, flow: CertChain) -> None:
        claimed = check(CertificateView, http.get("/v1/certificates/pv-1:501"))
        assert claimed["cancellation"] == {
            "beneficiary": "ann", "site": "s-ann", "period_start_s": flow.h0,
            "period_end_s": flow.h0 + HOUR, "height": claimed["cancellation"]["height"],
        }  # fmt: skip
        assert claimed["claimed_height"] >= claimed["cancellation"]["height"]
        parent = client.certificates.get("pv-1:1")
        assert claimed["parent_hash"] is not None
        assert claimed["issuance"] == parent["issuance"] == f"pv-1:{flow.h0}"
        assert (claimed["range_start"], claimed["range_end"]) == (501, 1500)
        withdrawn = client.certificates.get("pv-1:2001")
        assert withdrawn["withdrawal"]["reason"] == "audit"
        discharged = client.certificates.get("bat-1:1")
        assert (discharged["bundle_type"], discharged["origin"]) == (
            "storage_discharge", "1/pv-2:1001/1500")  # fmt: skip
        gec = client.certificates.get("wind-1:1500001")
        assert (gec["bundle_type"], gec["origin"], gec["production_end_s"]) == (
            "gec_conversion", f"gec:{GEC_ID}", FEB)  # fmt: skip
        assert client.certificates.get("pv-2:1")["locked_for"] == "ben"

    @pytest.mark.parametrize("filters", FILTERS)
    def test_filters_match_a_full_scan(
        self, http: httpx.Client, client: Client, flow: CertChain, filters: dict[str, Any]
    ) -> None:
        """Each filter (through the index, or a device's own keys) against every bundle in the
        state filtered in Python; page by page with limit 2 as well."""
        params, want = reference(flow, filters)
        page = check(CertificatePage, http.get("/v1/certificates", params=params))
        assert [b["id"] for b in page["certificates"]] == want
        assert want, "every filter here matches something"
        paged = [b["id"] for b in client.certificates.iter(page_size=2, **params)]
        assert paged == want

    def test_filters_by_hand(self, client: Client, flow: CertChain) -> None:
        c = client.certificates
        ids = lambda **f: [b["id"] for b in c.list(**f)["certificates"]]  # noqa: E731
        assert ids(owner="ann") == ["pv-1:501", "pv-1:1501", "wind-1:1500001"]
        assert ids(beneficiary="ben") == ["pv-1:1"]
        assert ids(status="expired") == ["pv-2:3001"]
        assert ids(status="locked") == ["pv-2:1"]
        assert ids(status="active", device="pv-2") == []
        assert ids(device="pv-3") == []
        assert ids(start=JAN, end=FEB) == ["wind-1:1500001"]
        first = c.list(device="pv-1", limit=2)
        assert ([b["id"] for b in first["certificates"]], first["next"]) == (
            ["pv-1:1", "pv-1:501"], "pv-1:501")  # fmt: skip
        rest = c.list(device="pv-1", after="pv-1:501", limit=2)
        assert [b["id"] for b in rest["certificates"]] == ["pv-1:1501", "pv-1:2001"]
        assert c.list(owner="sun", after="pv-2:3001")["certificates"][0]["id"] == "wind-1:1"

    def test_totals(self, http: httpx.Client, client: Client, flow: CertChain) -> None:
        sun = check(CertificateTotals, http.get("/v1/certificates/totals", params={"owner": "sun"}))
        assert sun["time_s"] == flow.node.tip.time // 1000
        assert {t["status"]: (t["bundles"], t["quantity_wh"]) for t in sun["statuses"]} == {
            "active": (3, 1500 + 1200 + 500_000), "cancelled": (1, 500), "expired": (1, 2500),
            "gec_exported": (1, 1_000_000), "locked": (1, 1000), "storage_charged": (1, 2000),
            "withdrawn": (1, 300),
        }  # fmt: skip
        everything = client.certificates.totals()
        assert everything["quantity_wh"] == sum(v[2] for v in expected(flow).values())
        assert client.certificates.totals(beneficiary="ann")["statuses"] == [
            {"status": "claimed", "bundles": 1, "quantity_wh": 1000}]  # fmt: skip

    def test_matching(self, http: httpx.Client, client: Client, flow: CertChain) -> None:
        window = {"site": "s-ann", "start": flow.h0, "end": flow.h0 + 2 * HOUR}
        found = check(MatchingView, http.get("/v1/certificates/matching", params=window))
        assert found == {
            "site": "s-ann", "start_s": flow.h0, "end_s": flow.h0 + 2 * HOUR,
            "consumption_wh": 2000, "claimed_wh": 1000, "hourly_matched_wh": 600,
            "hourly_score_ppm": 300_000, "volume_matched_wh": 1000, "volume_score_ppm": 500_000,
            "hours": [
                {"start_s": flow.h0, "consumption_wh": 600, "claimed_wh": 1000,
                 "matched_wh": 600},
                {"start_s": flow.h1, "consumption_wh": 1400, "claimed_wh": 0, "matched_wh": 0},
            ],
            "hourly_score": "0.300000", "volume_score": "0.500000",
        }  # fmt: skip
        # widened to whole hours; only h1: nothing produced then was claimed
        h1 = client.certificates.matching("s-ann", flow.h1 + 60, flow.h1 + 120)
        assert (h1["start_s"], h1["end_s"], h1["hourly_score"], h1["volume_score"]) == (
            flow.h1, flow.h2, "0.000000", "0.000000")  # fmt: skip
        nothing = client.certificates.matching("s-dan", flow.h0, flow.h2)
        assert (nothing["consumption_wh"], nothing["hourly_score_ppm"], nothing["hours"]) == (
            0, 0, [])  # fmt: skip

    def test_statements(self, http: httpx.Client, client: Client, flow: CertChain) -> None:
        window = {"beneficiary": "ann", "start": flow.h0, "end": flow.h2}
        ann = check(StatementView, http.get("/v1/certificates/statement", params=window))
        assert (ann["claimed_wh"], ann["by_site"]) == (1000, {"s-ann": 1000})
        assert [b["id"] for b in ann["bundles"]] == ["pv-1:501"]
        assert ann["bundles"][0] == client.certificates.get("pv-1:501")
        # cancelled for ben, never claimed: nothing on his statement
        ben = client.certificates.statement("ben", flow.h0, flow.h2)
        assert (ben["claimed_wh"], ben["by_site"], ben["bundles"]) == (0, {}, [])
        before = client.certificates.statement("ann", flow.h1, flow.h2)
        assert before["bundles"] == []

    def test_device_issuances(self, http: httpx.Client, client: Client, flow: CertChain) -> None:
        window = {"start": flow.h0, "end": flow.h2}
        found = check(DeviceIssuances, http.get("/v1/devices/pv-1/issuances", params=window))
        assert found == {
            "device": "pv-1",
            "ledger": {"last_id": 3500, "issued_wh": 3500, "withdrawn_wh": 300, "intervals": 2},
            "issuances": [
                {"start_s": flow.h0, "length_s": HOUR, "range_start": 1, "quantity_wh": 2000,
                 "metered_wh": 2000, "withdrawn_wh": 0, "reissued_wh": 0, "reissues": []},
                {"start_s": flow.h1, "length_s": HOUR, "range_start": 2001, "quantity_wh": 1500,
                 "metered_wh": 1500, "withdrawn_wh": 300, "reissued_wh": 0, "reissues": []},
            ],
        }  # fmt: skip
        only_h1 = client.certificates.issuances("pv-1", flow.h1, flow.h2)["issuances"]
        assert [i["start_s"] for i in only_h1] == [flow.h1]
        fresh = client.certificates.issuances("pv-3", flow.h0, flow.h2)
        assert fresh["ledger"] == {"last_id": 0, "issued_wh": 0, "withdrawn_wh": 0,
                                   "intervals": 0}  # fmt: skip

    def test_storage(self, http: httpx.Client, client: Client, flow: CertChain) -> None:
        found = check(StorageView, http.get("/v1/certificates/storage/bat-1"))
        assert found["ledger"] == {"charged_wh": 2000, "discharged_wh": 1500, "losses_wh": 200,
                                   "next_seq": 2, "head_seq": 1}  # fmt: skip
        assert found["left_wh"] == 300
        [charge] = found["charges"]
        assert (charge["seq"], charge["owner"], charge["charged_wh"], charge["remaining_wh"]) == (
            1, "sun", 2000, 300)  # fmt: skip
        pv2 = get_bundle(flow.node.state.view, "pv-2:1001")
        assert pv2 is not None
        assert charge["slices"] == [{"bundle": "pv-2:1001", "hash": pv2.hash,
                                     "quantity_wh": 2000, "remaining_wh": 300}]  # fmt: skip
        assert found["next"] is None
        assert client.certificates.storage("bat-1", after=1)["charges"] == []

    def test_gecs(self, http: httpx.Client, client: Client, flow: CertChain) -> None:
        gec = client.certificates.gec(GEC_ID)
        assert {k: gec[k] for k in ("project", "device", "month", "tradable", "owner",
                                    "status", "bundle", "recorded_by")} == {
            "project": "Wind farm 1", "device": "wind-1", "month": "2025-01", "tradable": True,
            "owner": "ann", "status": "converted", "bundle": "wind-1:1500001",
            "recorded_by": "cert"}  # fmt: skip
        page = check(GecPage, http.get("/v1/gec"))
        assert (page["gecs"], page["next"]) == ([gec], None)
        assert client.certificates.gecs(after=GEC_ID)["gecs"] == []
        month = client.certificates.gec_export("wind-1", "2025-02")
        assert {k: month[k] for k in ("owner", "available_wh", "mwh", "carried_wh")} == {
            "owner": "sun", "available_wh": WIND_WH, "mwh": 1, "carried_wh": 500_000}  # fmt: skip

    def test_params_and_acceptance(
        self, http: httpx.Client, client: Client, flow: CertChain
    ) -> None:
        params = http.get("/v1/certificates/params").json()
        assert params == {"scheme": "energytag-gc/2024", "bundle_s": 3600, "expiry_s": DAY,
                          "finality_s": 3600}  # fmt: skip
        ben = check(AcceptanceView, http.get("/v1/certificates/acceptance/ben"))
        assert ben == {"account": "ben",
                       "acceptance": {"mode": "listed", "senders": ["solar", "sun"]}}  # fmt: skip
        assert client.certificates.acceptance("ann")["acceptance"] == {
            "mode": "anyone", "senders": []}  # fmt: skip

    def test_exports(self, http: httpx.Client, client: Client, flow: CertChain) -> None:
        """CSV and JSON exports: EnergyTag field names, one row per bundle, the same values."""
        response = http.get("/v1/certificates/export.csv")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert "x-next-after" not in response.headers
        rows = list(csv.reader(io.StringIO(response.text)))
        header = rows[0]
        assert header[: len(energytag.ENERGYTAG_FIELDS)] == [
            "issuance_id", "hash", "certificate_bundle_status", "account_id",
            "certificate_bundle_id_range_start", "certificate_bundle_id_range_end",
            "bundle_quantity", "beneficiary", "energy_carrier", "energy_source", "face_value",
            "issuance_post_energy_carrier_conversion", "device_id", "device_name",
            "device_technology_type", "device_production_start_date", "device_capacity",
            "device_location", "device_type", "production_starting_interval",
            "production_ending_interval", "expiry_datestamp", "is_storage",
            "discharging_start_datetime", "discharging_end_datetime", "country_of_issuance",
            "connected_grid_identification", "issuing_body", "support_received",
            "quality_scheme_reference", "issue_market_zone",
        ]  # fmt: skip
        assert all(h.startswith("gridledger_") for h in header[len(energytag.ENERGYTAG_FIELDS) :])
        assert response.text.endswith("\r\n")
        by_id = {r[header.index("gridledger_bundle_id")]: dict(zip(header, r, strict=True))
                 for r in rows[1:]}  # fmt: skip
        assert list(by_id) == list(expected(flow))
        claimed = by_id["pv-1:501"]
        assert {k: claimed[k] for k in (
            "issuance_id", "certificate_bundle_status", "account_id",
            "certificate_bundle_id_range_start", "certificate_bundle_id_range_end",
            "bundle_quantity", "beneficiary", "energy_source", "face_value", "device_id",
            "device_name", "device_location", "device_type", "is_storage",
            "gridledger_status", "gridledger_consumption_site")} == {
            "issuance_id": f"pv-1:{flow.h0}", "certificate_bundle_status": "Claimed",
            "account_id": "ann", "certificate_bundle_id_range_start": "501",
            "certificate_bundle_id_range_end": "1500", "bundle_quantity": "1000",
            "beneficiary": "ann", "energy_source": "solar", "face_value": "1",
            "device_id": "pv-1", "device_name": "Roof PV pv-1",
            "device_location": "0.000000,0.000000",
            "device_type": "production", "is_storage": "false", "gridledger_status": "claimed",
            "gridledger_consumption_site": "s-ann",
        }  # fmt: skip
        assert by_id["pv-2:1"]["certificate_bundle_status"] == "Reserved"
        assert by_id["pv-2:3001"]["certificate_bundle_status"] == "Expired"
        battery = by_id["bat-1:1"]
        assert (battery["device_type"], battery["is_storage"], battery["device_location"]) == (
            "storage", "true", "22.543096,113.934528")  # fmt: skip
        assert battery["discharging_start_datetime"] == battery["production_starting_interval"]

        exported = check(ExportPage, http.get("/v1/certificates/export.json"))
        assert exported["fields"] == header
        assert [r["gridledger_bundle_id"] for r in exported["certificates"]] == list(by_id)
        for row in exported["certificates"]:
            as_text = by_id[row["gridledger_bundle_id"]]
            assert {k: energytag._csv_value(v) for k, v in row.items()} == as_text
        assert exported["certificates"][0]["is_storage"] is True

        text, nxt = client.certificates.export_csv(owner="ann", limit=2)
        assert nxt == "pv-1:1501"
        assert len(text.splitlines()) == 3
        text, nxt = client.certificates.export_csv(owner="ann", after=nxt)
        assert (len(text.splitlines()), nxt) == (2, None)
        one = client.certificates.export_json(status="expired")
        assert [r["gridledger_bundle_id"] for r in one["certificates"]] == ["pv-2:3001"]

    def test_openapi_documents_the_certificates(self, http: httpx.Client) -> None:
        paths = http.get("/openapi.json").json()["paths"]
        for path, model in [
            ("/v1/certificates", "CertificatePage"),
            ("/v1/certificates/{bundle_id}", "CertificateView"),
            ("/v1/certificates/totals", "CertificateTotals"),
            ("/v1/certificates/export.json", "ExportPage"),
            ("/v1/certificates/matching", "MatchingView"),
            ("/v1/certificates/statement", "StatementView"),
            ("/v1/certificates/params", "CertificateParams"),
            ("/v1/certificates/acceptance/{account}", "AcceptanceView"),
            ("/v1/certificates/storage/{device}", "StorageView"),
            ("/v1/devices/{device}/issuances", "DeviceIssuances"),
            ("/v1/devices/{device}/gec-exports/{month}", "GecExport"),
            ("/v1/gec", "GecPage"),
            ("/v1/gec/{gec_id}", "GecRecord"),
        ]:
            answer = paths[path]["get"]["responses"]["200"]["content"]["application/json"]
            assert answer["schema"]["$ref"] == f"#/components/schemas/{model}", path
            assert paths[path]["get"]["tags"] == ["certificates"]
        assert "text/csv" in paths["/v1/certificates/export.csv"]["get"]["responses"]["200"][
            "content"]  # fmt: skip

    @pytest.mark.parametrize(
        ("url", "status", "code"),
        [
            ("/v1/certificates?limit=0", 400, "api.invalid_request"),
            ("/v1/certificates?limit=1001", 400, "api.invalid_request"),
            ("/v1/certificates?limit=99999999999999999999999999", 400, "api.invalid_request"),
            ("/v1/certificates?start=-1", 400, "api.invalid_request"),
            ("/v1/certificates?end=10000000000", 400, "api.invalid_request"),
            ("/v1/certificates?start=7200&end=3600", 400, "api.invalid_request"),
            ("/v1/certificates?start=soon", 400, "api.invalid_request"),
            ("/v1/certificates?status=valid", 400, "api.invalid_request"),
            ("/v1/certificates?device=PV-1", 400, "api.invalid_request"),
            ("/v1/certificates?device=pv-404", 404, "not_found"),
            ("/v1/certificates?owner=nobody", 404, "not_found"),
            ("/v1/certificates?beneficiary=nobody", 404, "not_found"),
            ("/v1/certificates?after=pv-1", 400, "api.invalid_request"),
            ("/v1/certificates?after=pv-1:x", 400, "api.invalid_request"),
            ("/v1/certificates?after=PV:1", 400, "api.invalid_request"),
            ("/v1/certificates?device=pv-1&after=pv-2:1", 400, "api.invalid_request"),
            (f"/v1/certificates?after={'a' * 200}:1", 400, "api.invalid_request"),
            ("/v1/certificates/pv-1", 400, "api.invalid_request"),
            ("/v1/certificates/pv-1:-5", 400, "api.invalid_request"),
            ("/v1/certificates/pv-1:99999999999999999999", 400, "api.invalid_request"),
            (f"/v1/certificates/{'x' * 300}", 400, "api.invalid_request"),
            ("/v1/certificates/pv-1:2", 404, "not_found"),
            ("/v1/certificates/pv-404:1", 404, "not_found"),
            ("/v1/certificates/totals?owner=nobody", 404, "not_found"),
            ("/v1/certificates/totals?start=5&end=5", 400, "api.invalid_request"),
            ("/v1/certificates/export.csv?limit=10001", 400, "api.invalid_request"),
            ("/v1/certificates/export.csv?status=void", 400, "api.invalid_request"),
            ("/v1/certificates/export.json?owner=nobody", 404, "not_found"),
            ("/v1/certificates/matching?start=0&end=3600", 400, "api.invalid_request"),
            ("/v1/certificates/matching?site=s-ann&start=0", 400, "api.invalid_request"),
            ("/v1/certificates/matching?site=s-404&start=0&end=3600", 404, "not_found"),
            ("/v1/certificates/matching?site=s-ann&start=-3600&end=3600", 400,
             "api.invalid_request"),
            ("/v1/certificates/matching?site=s-ann&start=3600&end=0", 400,
             "api.invalid_request"),
            (f"/v1/certificates/matching?site=s-ann&start=0&end={367 * DAY}", 400,
             "api.invalid_request"),
            ("/v1/certificates/statement?beneficiary=nobody&start=0&end=1", 404, "not_found"),
            ("/v1/certificates/statement?beneficiary=ann&start=9&end=9", 400,
             "api.invalid_request"),
            ("/v1/certificates/statement?beneficiary=ann", 400, "api.invalid_request"),
            ("/v1/certificates/acceptance/nobody", 404, "not_found"),
            ("/v1/certificates/acceptance/No%20One", 400, "api.invalid_request"),
            ("/v1/certificates/storage/pv-1", 404, "not_found"),
            ("/v1/certificates/storage/bat-404", 404, "not_found"),
            ("/v1/certificates/storage/bat-1?after=-1", 400, "api.invalid_request"),
            ("/v1/certificates/storage/bat-1?limit=5000", 400, "api.invalid_request"),
            ("/v1/devices/pv-404/issuances?start=0&end=1", 404, "not_found"),
            ("/v1/devices/pv-1/issuances?start=0", 400, "api.invalid_request"),
            (f"/v1/devices/pv-1/issuances?start=0&end={400 * DAY}", 400, "api.invalid_request"),
            ("/v1/devices/pv-1/gec-exports/2025-13", 400, "api.invalid_request"),
            ("/v1/devices/pv-1/gec-exports/2025-02", 404, "not_found"),
            ("/v1/gec/GEC-404", 404, "not_found"),
            (f"/v1/gec/{'9' * 65}", 400, "api.invalid_request"),
            ("/v1/gec?limit=0", 400, "api.invalid_request"),
            ("/v1/certificates", 405, "api.method_not_allowed"),
        ],
    )  # fmt: skip
    def test_refusals(
        self, http: httpx.Client, flow: CertChain, url: str, status: int, code: str
    ) -> None:
        method = "POST" if status == 405 else "GET"
        body = check(ErrorResponse, http.request(method, url), status)
        assert body["error"]["code"] == code
        assert body["error"]["message"]

    def test_refusals_through_the_sdk(self, client: Client, flow: CertChain) -> None:
        with pytest.raises(ApiError) as err:
            client.certificates.get("pv-1:2")
        assert (err.value.code, err.value.status) == ("not_found", 404)
        with pytest.raises(ApiError) as err:
            client.certificates.list(status="everything")
        assert (err.value.code, err.value.status) == ("api.invalid_request", 400)
        assert "status" in err.value.message


class TestInProcess(CertificateSuite):
    """Requests go straight into the ASGI app (starlette's TestClient)."""

    @pytest.fixture(scope="class")
    @classmethod
    def http(cls, flow: CertChain, server: ApiServer) -> Iterator[httpx.Client]:
        from starlette.testclient import TestClient

        with TestClient(create_app(flow.node)) as c:
            yield c


class TestLiveServer(CertificateSuite):
    """Requests go over TCP to uvicorn on a free port of 127.0.0.1."""

    @pytest.fixture(scope="class")
    @classmethod
    def http(cls, flow: CertChain, server: ApiServer) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=server.url, timeout=15) as c:
            yield c


# transactions the ledger refuses, and the SDK's own checks -----------------------------------
def test_failed_certificate_transactions_change_nothing(flow: CertChain, server: ApiServer) -> None:
    """Committed but failed: the contract's code; the registry's views do not move."""
    k = flow.keys
    with Client(server.url) as client:
        c = client.certificates
        before = c.list()
        theirs = c.transfer(k["sun"], "sun", bundle="pv-1:501", to="ben")
        assert (theirs.ok, theirs.code) == (False, "certificates.not_owner")
        again = c.claim(k["ann"], "ann", bundle="pv-1:501")
        assert (again.ok, again.code) == (False, "certificates.not_cancelled")
        uneven = c.split(k["sun"], "sun", bundle="pv-1:2301", quantities=[1, 2])
        assert (uneven.ok, uneven.code) == (False, "certificates.bad_split")
        twice = c.issue(k["cert"], "cert", device="pv-1", to="sun", starts=[flow.h0])
        assert (twice.ok, twice.code) == (False, "certificates.already_issued")
        assert c.list() == before
        with pytest.raises(ApiError) as err:  # refused at admission: sun is no certifier
            c.issue(k["sun"], "sun", device="pv-1", to="sun", starts=[flow.h2])
        assert err.value.code == "auth.forbidden"


@pytest.mark.parametrize(
    ("kind", "body", "code"),
    [
        ("certificates.split", {"bundle": "pv-1:1", "quantities": [5]}, "certificates.bad_split"),
        ("certificates.split", {"bundle": "pv-1:1", "quantities": [5, 0]},
         "certificates.bad_split"),
        ("certificates.transfer", {"bundle": "pv-1:1", "to": "ann", "quantity_wh": -1},
         "certificates.bad_quantity"),
        ("certificates.cancel", {"bundle": "b", "beneficiary": "a", "site": "s",
                                 "period_start_s": 10, "period_end_s": 10},
         "certificates.bad_period"),
        ("certificates.issue", {"device": "d", "to": "a", "starts": [1800]},
         "certificates.misaligned"),
        ("certificates.issue", {"device": "d", "to": "a", "starts": [3600, 3600]},
         "certificates.duplicate_interval"),
        ("certificates.claim", {"bundle": 5}, "tx.invalid_body"),
        ("certificates.withdraw", {"bundle": "b", "reason": ""}, "certificates.invalid_reason"),
        ("certificates.set_acceptance", {"mode": "listed"}, "certificates.bad_acceptance"),
        ("certificates.steal", {}, "tx.unknown_kind"),
        ("market.clear", {"interval": 0}, "tx.unknown_kind"),
    ],
)  # fmt: skip
def test_certificate_body_refuses_what_the_node_would(
    kind: str, body: dict[str, Any], code: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        certificate_body(kind, body)
    assert err.value.code == code


def test_signing_offline(flow: CertChain, server: ApiServer) -> None:
    """A transaction built and signed without the client's help commits like any other."""
    k = flow.keys
    tx = sign_certificate_tx(k["ann"], "gridledger-test", "certificates.set_acceptance", "ann",
                             flow.node.next_nonce("ann"), {"mode": "nobody"})  # fmt: skip
    with Client(server.url) as client:
        ok(client.submit_and_wait(tx))
        assert client.certificates.acceptance("ann")["acceptance"]["mode"] == "nobody"
        ok(client.certificates.set_acceptance(k["ann"], "ann", mode="anyone"))
        assert client.certificates.acceptance("ann")["acceptance"]["mode"] == "anyone"
    with pytest.raises(InvalidInput):
        sign_certificate_tx(k["ann"], "gridledger-test", "certificates.split", "ann", 1,
                            {"bundle": "pv-1:1", "quantities": [1]})  # fmt: skip


def test_an_empty_registry(tmp_path: Path) -> None:
    """Before any issuance: empty pages, zero totals, default parameters."""
    from starlette.testclient import TestClient

    from fixtures_node import running_chain

    with (
        running_chain(tmp_path / "home", start=False) as chain,
        TestClient(create_app(chain.node)) as http,
    ):
        client = Client("http://testserver", http=http)
        c = client.certificates
        assert c.list() == {"certificates": [], "next": None}
        assert c.list(status="active", owner="alice") == {"certificates": [], "next": None}
        assert c.totals()["statuses"] == []
        assert c.params() == msgspec.to_builtins(certificates.SchemeParams())
        assert c.gecs() == {"gecs": [], "next": None}
        text, nxt = c.export_csv()
        assert (text, nxt) == (",".join(energytag.FIELDS) + "\r\n", None)


def test_the_index_folds_every_bundle_write(flow: CertChain) -> None:
    """The read model's rows equal the state's bundles, key for key."""
    conn = flow.node.readmodels.reader()
    rows = conn.execute(
        "SELECT device, range_start, owner, status, beneficiary, quantity_wh "
        "FROM certificates_bundles ORDER BY device, range_start"
    ).fetchall()
    text = lambda v: v.decode() if isinstance(v, bytes) else v  # noqa: E731
    assert [tuple(text(v) for v in r) for r in rows] == [
        (b.device, b.range_start, b.owner, b.status,
         None if b.cancellation is None else b.cancellation.beneficiary, b.quantity_wh)
        for b in every_bundle(flow)
    ]  # fmt: skip
    assert len(rows) == len(expected(flow))


@pytest.mark.parametrize("filters", FILTERS)
def test_the_index_answers_like_a_full_scan(flow: CertChain, filters: dict[str, Any]) -> None:
    """The read model alone (the API checks what it finds against the state again)."""
    params, want = reference(flow, filters)
    status = params.get("status")
    f = index.BundleFilter(
        device=params.get("device"), owner=params.get("owner"),
        beneficiary=params.get("beneficiary"), statuses=None if status is None else (status,),
        start_s=params.get("start"), end_s=params.get("end"),
        time_s=flow.node.tip.time // 1000,
    )  # fmt: skip
    conn = flow.node.readmodels.reader()
    assert index.bundle_ids(conn, f) == want
    assert index.bundle_ids(conn, f, limit=1) == want[:1]
    if len(want) > 1:
        device, _, start = want[0].rpartition(":")
        assert index.bundle_ids(conn, f, after=(device, int(start))) == want[1:]
