"""The credit registry, retirements and compliance pages against the ledger, in a real browser.

The chain is :mod:`carbon_api_node`'s (UTC) with ``wind-1`` (``sun``'s 2 MW wind farm in CN-GD)
metered for 19.5 MWh in each of January and February 2025 and registered as project
``wind`` (number 1). The verifier confirms 2025-01..2025-02 at CN-GD's 2023 factor
(441,900 g/MWh): 8,617,050 g a month, 17 t verified; with a 10 % buffer share the issuance
gives ``sun`` units 1-16 and the buffer pool unit 17. ``sun`` retires 5 t for the Shekou
community, the verifier cancels one, ``sun`` transfers 3 t to ``ann``, who retires 1 t for
herself: 9 t active, 1 in the buffer, 6 retired, 1 cancelled.

The regulator opens ``ets-2025q1`` with a deadline ten minutes on: ``ben`` (2 t obligation)
surrenders 2 allowances and is compliant; ``ann`` (3 t, 1 allowance allocated) surrenders
nothing and is non-compliant once the clock passes the deadline.

Every page is opened in English and Chinese, at desktop width and 375 px wide.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from carbon_api_node import MAR, REGULATOR, VERIFIER, carbon_chain
from cert_node import FEB, JAN, CertChain
from gridledger.api.server import ApiServer
from gridledger.contracts import credits
from gridledger.readmodels import credits as credit_totals
from gridledger.web.i18n import catalogue
from market_node import HOUR
from web_support import shot

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
VIEWS = [("en", DESKTOP), ("zh-CN", DESKTOP), ("en", PHONE), ("zh-CN", PHONE)]
SERIAL = "GLR-VER-CN-1-20250101-20250228-1-1-16"
"""The owner's block as issued (split since)."""
MONTH_WH = 1_500_000 + 10 * 1_800_000
MONTH_G = MONTH_WH * 441_900 // 1_000_000
COMMUNITY = "Shekou community"


@dataclass
class Served:
    chain: CertChain
    url: str
    deadline_s: int


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with carbon_chain(tmp_path_factory.mktemp("web-credits") / "home") as c:
        windy = [
            {"meter": "m-wind-1", "start": month + h * HOUR, "length_s": HOUR,
             "energy_wh": 1_800_000}
            for month in (JAN, FEB) for h in range(1, 11)
        ]  # fmt: skip
        c.commit("gw", "metering.submit", {"readings": windy})
        c.commit(REGULATOR, "credits.set_params", {"buffer_ppm": 100_000})
        c.commit("sun", "credits.register_project", {
            "id": "wind", "name": "Wind farm 1", "device": "wind-1",
            "methodology": "CDM ACM0002", "baseline": "CN-GD grid electricity",
            "monitoring_plan": "MP-1"})  # fmt: skip
        c.commit(VERIFIER, "credits.verify_period",
                 {"project": "wind", "id": "2025-q1", "start_s": JAN, "end_s": MAR,
                  "note": "site visit"})  # fmt: skip
        c.commit(VERIFIER, "credits.issue", {"project": "wind", "period": "2025-q1"})
        c.commit("sun", "credits.retire", {
            "serial": SERIAL, "beneficiary": COMMUNITY, "reason": "Community events 2025",
            "claim_start_s": JAN, "claim_end_s": MAR, "quantity_t": 5})  # fmt: skip
        c.commit(VERIFIER, "credits.cancel", {
            "serial": "GLR-VER-CN-1-20250101-20250228-1-6-16", "reason": "reading corrected",
            "quantity_t": 1})  # fmt: skip
        c.commit(
            "sun",
            "credits.transfer",
            {"serial": "GLR-VER-CN-1-20250101-20250228-1-7-16", "to": "ann", "quantity_t": 3},
        )
        c.commit("ann", "credits.retire", {
            "serial": "GLR-VER-CN-1-20250101-20250228-1-7-9", "beneficiary": "ann",
            "reason": "my flat, January", "claim_start_s": JAN, "claim_end_s": FEB,
            "quantity_t": 1})  # fmt: skip
        deadline = c.clock.ms // 1000 + 600
        c.commit(
            REGULATOR,
            "allowances.open_period",
            {"id": "ets-2025q1", "start_s": JAN, "end_s": MAR, "deadline_s": deadline},
        )
        for holder, allocated, emissions in (("ben", 2, 1_500_000), ("ann", 1, 3_000_000)):
            c.commit(REGULATOR, "allowances.allocate", {
                "period": "ets-2025q1", "to": holder, "method": "free",
                "quantity_t": allocated})  # fmt: skip
            c.commit(
                REGULATOR,
                "allowances.record_emissions",
                {"period": "ets-2025q1", "holder": holder, "emissions_g": emissions},
            )
        c.commit("ben", "allowances.surrender", {"period": "ets-2025q1", "quantity_t": 2})
        c.clock.set(deadline + 60)
        c.commit(
            "sun",
            "credits.split",
            {"serial": "GLR-VER-CN-1-20250101-20250228-1-10-16", "quantity_t": 2},
        )
        with ApiServer(c.node, "127.0.0.1", 0) as server:
            yield Served(c, server.url, deadline)


@pytest.fixture
def tab(browser: Any, served: Served) -> Iterator[Any]:
    context = browser.new_context(base_url=served.url, locale="en-US")
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        yield page
    finally:
        context.close()


def _views(tab: Any) -> Iterator[tuple[str, dict[str, str]]]:
    """Each language at each width, with that language's catalogue."""
    for lang, size in VIEWS:
        tab.set_viewport_size(size)
        yield lang, catalogue(lang)


def _fits(tab: Any) -> None:
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= tab.viewport_size["width"] + 1, (tab.url, width)


def _iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cells(row: Any, *fields: str) -> list[str]:
    return [row.locator(f'[data-field="{f}"]').inner_text().strip() for f in fields]


def test_the_registry_and_a_project(tab: Any, served: Served) -> None:
    for lang, t in _views(tab):
        tab.goto(f"/credits?lang={lang}")
        assert tab.locator("h1").inner_text() == t["credits.registry.title"]
        assert tab.locator('nav.tabs [data-tab="registry"]').get_attribute("aria-current")
        row = tab.locator('table[data-table="projects"] tr[data-project="wind"]')
        assert _cells(row, "number", "methodology", "verified_t", "issued_t", "active_t",
                      "buffer_t", "retired_t", "cancelled_t") == [
            "1", "CDM ACM0002", "17", "17", "9", "1", "6", "1"]  # fmt: skip
        _fits(tab)
        shot(tab, f"credits-registry-{lang}-{tab.viewport_size['width']}")
        row.get_by_role("link", name="Wind farm 1").click()
        tab.wait_for_url("**/credits/projects/wind")
        assert tab.locator("h1").inner_text() == t["credits.project.title"].format(
            name="Wind farm 1"
        )
        totals = tab.locator("[data-totals]")
        assert _cells(totals, "issued_t", "active_t", "buffer_t", "retired_t",
                      "cancelled_t") == ["17", "9", "1", "6", "1"]  # fmt: skip
        period = tab.locator('section[data-period="2025-q1"]')
        assert "2025-01-01 – 2025-02-28" in period.locator("h3").inner_text()
        for month in ("2025-01", "2025-02"):
            cells = period.locator(f'tr[data-month="{month}"]')
            measured = cells.locator('[data-field="measured_wh"]')
            assert int(measured.get_attribute("data-wh")) == MONTH_WH
            reduction = cells.locator('[data-field="reduction_g"]')
            assert int(reduction.get_attribute("data-g")) == MONTH_G
        assert _cells(period, "verified_t", "issued_t") == ["17 t", "17 t"]
        blocks = tab.locator('table[data-table="blocks"] tbody tr')
        shown = [
            (r.get_attribute("data-serial").rsplit("-", 2)[-2:],
             r.locator("[data-status]").get_attribute("data-status"),
             r.locator('[data-field="holder"]').inner_text())
            for r in blocks.all()
        ]  # fmt: skip
        assert shown == [
            (["1", "5"], "retired", "sun"), (["6", "6"], "cancelled", "sun"),
            (["7", "7"], "retired", "ann"), (["8", "9"], "active", "ann"),
            (["10", "11"], "active", "sun"), (["12", "16"], "active", "sun"),
            (["17", "17"], "buffer", t["credits.nobody"]),
        ]  # fmt: skip
        _fits(tab)
        shot(tab, f"credits-project-{lang}-{tab.viewport_size['width']}")


def test_retirements_and_a_serial_from_the_search_box(tab: Any, served: Served) -> None:
    view = served.chain.node.state.view
    first, second = credits.list_retirements(view)
    for lang, t in _views(tab):
        tab.goto(f"/credits/retirements?lang={lang}")
        assert tab.locator("h1").inner_text() == t["credits.retirements.title"]
        rows = tab.locator('table[data-table="retirements"] tbody tr')
        assert rows.count() == 2
        row = tab.locator(f'tr[data-retirement="{first.id}"]')
        assert _cells(row, "serial", "quantity_t", "beneficiary", "reason", "holder") == [
            "GLR-VER-CN-1-20250101-20250228-1-1-5", "5", COMMUNITY, "Community events 2025",
            "sun"]  # fmt: skip
        assert _cells(row, "claim") == ["2025-01-01 – 2025-02-28"]
        when = row.locator('[data-field="time"] time')
        assert when.get_attribute("title").endswith(" UTC")
        assert when.get_attribute("datetime") == _iso(first.time_s)
        _fits(tab)
        shot(tab, f"credits-retirements-{lang}-{tab.viewport_size['width']}")
    # a beneficiary's retirements, through the filter form
    tab.set_viewport_size(DESKTOP)
    tab.goto("/credits/retirements?lang=en")
    tab.get_by_label("Beneficiary").fill("ann")
    tab.get_by_label("Beneficiary").press("Enter")
    tab.wait_for_url("**beneficiary=ann**")
    assert [r.get_attribute("data-retirement") for r in rows.all()] == [str(second.id)]
    # a serial typed in the search box (lower case) finds the blocks now holding its units
    tab.locator("#q").fill(SERIAL.lower())
    tab.locator("#q").press("Enter")
    tab.wait_for_url(f"**/credits/serials/{SERIAL}")
    serials = [
        r.get_attribute("data-serial")
        for r in tab.locator('table[data-table="blocks"] tbody tr').all()
    ]
    assert serials == [b.serial() for b in credits.lookup_serial(view, SERIAL)]
    assert len(serials) == 6
    # an unknown serial is a 404, a malformed one a 400, both translated
    missing = tab.goto("/credits/serials/GLR-VER-CN-9-20250101-20250228-1-1-1?lang=zh-CN")
    assert missing is not None
    assert missing.status == 404
    bad = tab.goto("/credits/serials?serial=nope&lang=zh-CN")
    assert bad is not None
    assert bad.status == 400
    assert tab.locator("[data-error]").get_attribute("data-error") == "credits.error.bad_serial"


def test_compliance_for_the_regulator_and_a_holder(tab: Any, served: Served) -> None:
    for lang, t in _views(tab):
        tab.goto(f"/carbon/regulator?lang={lang}")
        tab.locator('[data-link="compliance"]').click()
        tab.wait_for_url("**/credits/compliance")
        assert tab.locator("h1").inner_text() == t["credits.compliance.title"]
        assert tab.locator("[data-period]").get_attribute("data-period") == "ets-2025q1"
        deadline = tab.locator('[data-field="deadline"] time')
        assert deadline.get_attribute("datetime") == _iso(served.deadline_s)
        fields = ("status", "obligation_t", "allowances_t", "credits_t", "credit_limit_t",
                  "shortfall_t", "balance_t")  # fmt: skip
        ben = tab.locator('tr[data-holder="ben"]')
        assert ben.get_attribute("data-status") == "compliant"
        assert _cells(ben, *fields) == [
            t["credits.compliance.status.compliant"], "2", "2", "0", "0", "0", "0"]  # fmt: skip
        ann = tab.locator('tr[data-holder="ann"]')
        assert ann.get_attribute("data-status") == "non_compliant"
        assert _cells(ann, *fields) == [
            t["credits.compliance.status.non_compliant"], "3", "0", "0", "0", "3", "1"]  # fmt: skip
        _fits(tab)
        shot(tab, f"credits-compliance-{lang}-{tab.viewport_size['width']}")
        # the holder's own view: its standing and the credits it holds
        ann.get_by_role("link", name="ann").click()
        tab.wait_for_url("**/credits/holder/ann")
        own = tab.locator('table[data-table="standing"] tr[data-period="ets-2025q1"]')
        assert own.get_attribute("data-status") == "non_compliant"
        assert _cells(own, "shortfall_t") == ["3"]
        held = tab.locator('table[data-table="blocks"] tbody tr')
        assert [r.get_attribute("data-serial") for r in held.all()] == [
            "GLR-VER-CN-1-20250101-20250228-1-8-9"
        ]
        _fits(tab)
    # a household and a producer reach their own view from their dashboards
    tab.goto("/consumer/ann?lang=en")
    tab.locator('[data-link="credits"]').click()
    tab.wait_for_url("**/credits/holder/ann")
    tab.goto("/producer/sun?lang=en")
    tab.locator('[data-link="credits"]').click()
    tab.wait_for_url("**/credits/holder/sun")
    assert tab.locator('table[data-table="standing"]').count() == 0
    assert tab.locator('[data-list="projects"]').inner_text().startswith("Wind farm 1")


def test_filtered_retirements_and_projects_come_from_indexes(served: Served) -> None:
    """Retirements by beneficiary or project and projects by organisation are read through
    the state's field indexes, page by page, and agree with a full scan; SQLite's plan for
    the indexed query uses the index. The read model's tonnes by state agree with the
    blocks."""
    node = served.chain.node
    view = node.state.view
    everything = credits.list_retirements(view)
    assert len(everything) == 2
    for prefix, field in (
        (credits.keys.retirements(), "beneficiary"),
        (credits.keys.retirements(), "project"),
        (credits.keys.projects(), "org"),
    ):
        assert (prefix, field) in node.disk.field_indexes
    for phase in ("overlay", "checkpoint"):
        if phase == "checkpoint":
            # later blocks (March readings, which no credit counts) until a checkpoint has
            # written every retirement to the state's tables
            hour = MAR
            while node.disk.checkpoint < max(r.height for r in everything):
                served.chain.commit("gw", "metering.submit", {"readings": [
                    {"meter": "m-wind-1", "start": hour, "length_s": HOUR,
                     "energy_wh": 1}]})  # fmt: skip
                hour += HOUR
        for who in (COMMUNITY, "ann", "nobody"):
            expected = [r for r in everything if r.beneficiary == who]
            assert credits.list_retirements(view, beneficiary=who) == expected, phase
            assert credits.list_retirements(view, beneficiary=who, project="other") == []
        assert credits.list_retirements(view, project="wind") == everything
        assert credits.list_retirements(view, project="wind", limit=1) == everything[:1]
        assert (
            credits.list_retirements(view, project="wind", after=everything[0].id)
            == (everything[1:])
        )
        assert [p.id for p in credits.list_projects(view, org="solar").items] == ["wind"]
        assert credits.list_projects(view, org="homes").items == []
    # the pages' tonnes by state come from the read model, which agrees with the blocks
    conn = node.readmodels.reader()
    assert credit_totals.project_totals(conn, "wind") == credits.project_totals(view, "wind")
    assert credit_totals.project_totals(conn, "nope").issued_t == 0
    prefix = credits.keys.retirements()
    conn = sqlite3.connect(node.store.path)
    try:
        for field in ("beneficiary", "project"):
            plan = conn.execute(
                "EXPLAIN QUERY PLAN SELECT key, value FROM state_values WHERE key >= x'"
                + prefix.hex() + "' AND key < x'" + (prefix[:-1] + b"0").hex() + "' AND "
                f"json_extract(CAST(value AS TEXT), '$.{field}') = 'ann' AND key >= x'' "
                "ORDER BY key"
            ).fetchall()  # fmt: skip
            assert "USING INDEX state_by_" in str(plan), plan
    finally:
        conn.close()


def test_bad_queries_get_a_translated_page_never_a_crash(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=30) as http:
        for path, status in (
            ("/credits?after=%00", 400),
            ("/credits?after=zzz", 200),
            ("/credits/projects/nope", 404),
            ("/credits/projects/Wind%20farm", 404),
            ("/credits/projects/wind?after=-1", 400),
            ("/credits/projects/wind?after=99999999999999999999", 400),
            ("/credits/projects/wind?after=999999999999", 200),
            ("/credits/serials/GLR-VER-CN-1-x", 400),
            ("/credits/serials?serial=" + "9" * 5000, 400),
            ("/credits/retirements?project=NOPE", 400),
            ("/credits/retirements?beneficiary=" + "b" * 129, 400),
            ("/credits/retirements?after=1e3", 400),
            ("/credits/retirements?beneficiary=%E6%B7%B1%E5%9C%B3", 200),
            ("/credits/compliance?period=nope", 404),
            ("/credits/compliance?period=ets-2025q1&after=%FF", 400),
            ("/credits/holder/nobody", 404),
            ("/credits/holder/%E2%80%AE", 404),
        ):
            for lang in ("en", "zh-CN"):
                answer = http.get(path + ("&" if "?" in path else "?") + f"lang={lang}")
                assert answer.status_code == status, (path, answer.status_code)
                assert answer.headers["content-language"] == lang
        # the search box routes a serial (any case) and a project id
        found = http.get("/search", params={"q": " " + SERIAL.lower() + " "})
        assert (found.status_code, found.headers["location"]) == (
            303, f"/credits/serials/{SERIAL}")  # fmt: skip
        found = http.get("/search", params={"q": "wind"})
        assert (found.status_code, found.headers["location"]) == (303, "/credits/projects/wind")
