"""The carbon pages against the ledger, in a real browser, in English and Chinese.

The demo community's regulator put Guangdong's factors in force from the shipped factor
library, so every household's footprint can be computed. A household reaches its footprint
from its power page and sees scope 2 by the location-based method and the market-based method
with annual and with hourly matching side by side, the CO2 its clean choice avoided, the
factors with their sources and what must be disclosed about them; the community page adds up
every household and shows each plant's avoided emissions; the regulator's page lists the sets
recorded. Every figure is checked against :mod:`gridledger.readmodels.carbon_inventory` for the
same site and months, bad queries get a translated error page, and every page is usable
375 px wide with no sideways scrolling.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx

from gridledger.contracts import carbon, registry
from gridledger.core.localtime import LocalTime
from gridledger.factors import load, lookup
from gridledger.readmodels.carbon_inventory import Inventory, org_inventory, site_inventory
from gridledger.sim.carbon import factor_year
from gridledger.sim.community import GRID_REGION, REGULATOR
from gridledger.sim.summary import carbon_summary
from gridledger.web.render import kwh, utc
from gridledger.web.views.carbon import kg, kg_per_kwh, report_link
from web_support import LAST_DAY, WebSite, shot

PHONE = {"width": 375, "height": 740}
TIMING = re.compile(r"render;dur=(\d+(?:\.\d+)?)")
YEAR_TO_DATE = (f"{LAST_DAY.year}-01", f"{LAST_DAY:%Y-%m}")
"""The pages' default period: the year up to the latest month with metered consumption."""
LOCAL = LocalTime("Asia/Shanghai")
"""The demo community's time zone (its genesis names it)."""


def _grams(locator: Any) -> int:
    return int(locator.get_attribute("data-g"))


def _card(page: Any, name: str) -> Any:
    return page.locator(f'.cards [data-field="{name}"]')


def _household_with_claims(web_site: WebSite) -> tuple[str, str]:
    """A household that chose clean power and has certificates claimed for its flat, and its
    flat."""
    view = web_site.node.state.view
    conn = web_site.node.readmodels.reader()
    for account in registry.list_accounts(view, role="consumer").items:
        (site,) = registry.list_sites(view, owner_org=account.org).items
        if site_inventory(conn, view, site.id, *YEAR_TO_DATE).claimed_wh:
            return account.id, site.id
    raise AssertionError("no household has claimed certificates on a sunny day")


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, (page.url, width)


def _check_figures(row: Any, inventory: Inventory) -> None:
    """A row or card block shows the inventory's scope 2, avoided and consumption exactly."""
    for field, grams in (
        ("location", inventory.scope2_location_g),
        ("market", inventory.scope2_market_volume_g),
        ("market_hourly", inventory.scope2_market_hourly_g),
        ("avoided", inventory.avoided_g),
    ):
        cell = row.locator(f'[data-field="{field}"]')
        assert _grams(cell) == grams, field
        assert cell.inner_text().strip() == kg(grams), field
    consumption = row.locator('[data-field="consumption"]')
    assert int(consumption.get_attribute("data-wh")) == inventory.consumption_wh
    assert consumption.inner_text().strip() == kwh(inventory.consumption_wh)


def test_a_household_sees_its_footprint_by_both_methods(page: Any, web_site: WebSite) -> None:
    node = web_site.node
    account, site = _household_with_claims(web_site)
    page.goto(f"/consumer/{account}")
    page.get_by_role(
        "link", name="Your carbon footprint and the CO2 your clean choice avoided"
    ).click()
    page.wait_for_url(f"**/carbon/household/{account}")
    assert page.get_by_role("heading", level=1).inner_text() == f"Carbon footprint of {account}"
    assert (page.get_by_label("From month").input_value(),
            page.get_by_label("To month").input_value()) == YEAR_TO_DATE  # fmt: skip
    view, conn = node.state.view, node.readmodels.reader()
    inventory = site_inventory(conn, view, site, *YEAR_TO_DATE)
    assert inventory.claimed_wh > 0
    assert inventory.fallbacks == []
    # the three scope 2 figures side by side, the avoided CO2: the site's inventory, exactly
    _check_figures(page.locator(".cards"), inventory)
    assert int(_card(page, "claimed").get_attribute("data-wh")) == inventory.claimed_wh
    # per site and per month, the same
    _check_figures(page.locator(f'table[data-table="sites"] tr[data-site="{site}"]'), inventory)
    (month,) = inventory.months
    assert month.month == f"{LAST_DAY:%Y-%m}"
    _check_figures(page.locator(f'table[data-table="months"] tr[data-month="{month.month}"]'),
                   inventory)  # fmt: skip
    # what the figures are: consumption x the grid factor in force; certificates are claimed
    # only from deliveries, so they are all matched in their hour, and the rest counts at the
    # residual mix; the claimed energy avoided what the grid would have emitted
    grid, residual = month.grid, month.residual
    assert inventory.scope2_location_g == inventory.consumption_wh * grid.g_per_mwh // 10**6
    assert inventory.matched_hourly_wh == inventory.covered_volume_wh == inventory.claimed_wh
    unmatched = inventory.consumption_wh - inventory.matched_hourly_wh
    assert inventory.scope2_market_hourly_g == unmatched * residual.g_per_mwh // 10**6
    assert inventory.scope2_market_volume_g == inventory.scope2_market_hourly_g
    assert inventory.avoided_g == inventory.claimed_wh * grid.g_per_mwh // 10**6
    # the factors, with their sources, are the library's, and what to disclose is disclosed
    library = load()
    data_year = factor_year(library, GRID_REGION, LAST_DAY.year)
    published = lookup(library, GRID_REGION, data_year, gas="CO2").factor
    assert (grid.g_per_mwh, grid.source.factor_id) == (published.value, published.id)
    assert published.geography == GRID_REGION, "Guangdong's own provincial factor"
    mix = lookup(library, GRID_REGION, data_year, "residual_mix", gas="CO2").factor
    assert (residual.role, residual.g_per_mwh, residual.source.factor_id) == (
        "residual_mix", mix.value, mix.id,
    )  # fmt: skip
    rows = page.locator('table[data-table="factors"] tbody tr')
    assert rows.count() == len(inventory.factors) == 2
    for f in inventory.factors:
        row = page.locator(f'tr[data-set="{f.set}"][data-role="{f.role}"]')
        cell = row.locator('[data-field="g_per_mwh"]')
        assert int(cell.get_attribute("data-value")) == f.g_per_mwh
        assert cell.inner_text().startswith(f"{kg_per_kwh(f.g_per_mwh)} kgCO2/kWh")
        assert f.source.document in row.inner_text()
        assert f.source.factor_id in row.inner_text()
        # a year without a published factor yet: the latest data year stands in, disclosed
        year = row.locator('[data-disclosure="year"]')
        if data_year == LAST_DAY.year:
            assert year.count() == 0
        else:
            assert year.inner_text() == (
                f"The latest published data year ({data_year}) stands in for {LAST_DAY.year}."
            )
        # a figure of another geography (China publishes its residual mix nationally)
        other = row.locator('[data-disclosure="geography"]')
        if f.source.geography == GRID_REGION:
            assert other.count() == 0
        else:
            assert other.inner_text() == (
                f"A figure published for {f.source.geography}: the factor library has none of "
                f"this kind for {GRID_REGION}."
            )
    # the data's quality and the charts
    assert page.locator('[data-block="quality"] [data-field="readings"]').inner_text() == str(
        inventory.readings
    )
    assert page.locator('[data-block="quality"] [data-field="corrected"]').inner_text() == "0"
    assert page.locator('figure[data-chart="months"] svg[role=img]').count() == 1
    assert page.locator('figure[data-chart="days"] svg[role=img]').count() == 1
    # the days and months are the chain's (Asia/Shanghai), UTC on hover: the demo's two
    # local days are two rows (they touch three UTC days), holding every hour of the month's
    # consumption; each is rounded down apart
    assert inventory.time_zone == LOCAL.name == "Asia/Shanghai"
    days = page.locator('table[data-table="days"] tbody tr')
    assert days.count() == 2
    first_day = int(days.first.get_attribute("data-day"))
    assert LOCAL.format(first_day, "%H:%M") == "00:00"
    cell = days.first.locator("td time")
    assert cell.inner_text() == LOCAL.format(first_day, "%Y-%m-%d")
    assert cell.get_attribute("title") == f"{utc(first_day, '%Y-%m-%d')} UTC"
    # the daily chart, drawn by the chart library the node serves, labels its axis with the
    # same local days
    plot = page.locator('figure[data-chart="days"] .plot.plotted')
    plot.wait_for()
    day_starts = [int(d) for d in days.evaluate_all("rows => rows.map(r => r.dataset.day)")]
    assert plot.get_attribute("data-ticks").split("|") == [
        LOCAL.format(d, "%m-%d") for d in sorted(day_starts)
    ]
    month_cell = page.locator(f'tr[data-month="{month.month}"] td time')
    start_s = LOCAL.month_start(month.month)
    assert month_cell.get_attribute("title").startswith(f"{utc(start_s)} – ")
    assert page.locator('th:has-text("Month (Asia/Shanghai)")').count() == 1
    # the month's figures are what the API gives for the same local month
    with httpx.Client(base_url=web_site.url, timeout=60) as http:
        answer = http.get(
            "/v1/carbon/inventory", params={"site": site, "start": month.month, "end": month.month}
        )
    assert answer.status_code == 200, answer.text
    api = answer.json()
    assert api["time_zone"] == "Asia/Shanghai"
    assert (api["consumption_wh"], api["scope2_location_g"], api["scope2_market_hourly_g"]) == (
        month.consumption_wh, month.location_g, month.market_hourly_g,
    )  # fmt: skip

    def column(field: str, unit: str) -> list[int]:
        cells = days.locator(f'[data-field="{field}"]')
        return [int(v) for v in cells.evaluate_all(f"cs => cs.map(c => c.dataset.{unit})")]

    assert sum(column("consumption", "wh")) == inventory.consumption_wh
    assert sum(column("matched", "wh")) == inventory.matched_hourly_wh
    assert 0 <= inventory.scope2_location_g - sum(column("location", "g")) < days.count()
    assert 0 <= inventory.scope2_market_hourly_g - sum(column("market_hourly", "g")) < days.count()
    # the PDF report of the period's months that have ended, from the API
    link = report_link(account, *YEAR_TO_DATE, "en", node.tip.time // 1000, LOCAL)
    pdf = page.locator('[data-doc="pdf"]')
    assert pdf.get_attribute("href") == link["url"]
    with httpx.Client(base_url=web_site.url, timeout=60) as http:
        answer = http.get(link["url"])
    assert answer.status_code == 200, answer.text
    assert answer.content.startswith(b"%PDF-")
    shot(page, "carbon-household")
    # and on to the community
    page.get_by_role("link", name="The community's carbon").first.click()
    page.wait_for_url(re.compile(r".*/carbon\?start=.*"))
    assert page.get_by_role("heading", level=1).inner_text() == "The community's carbon"


def test_the_community_adds_up_every_household(page: Any, web_site: WebSite) -> None:
    node = web_site.node
    page.goto("/")
    page.get_by_role("link", name="Carbon", exact=True).click()
    page.wait_for_url("**/carbon")
    assert (
        page.get_by_role("link", name="Carbon", exact=True).get_attribute("aria-current") == "page"
    )
    view, conn = node.state.view, node.readmodels.reader()
    sites = registry.list_sites(view).items
    households = sorted({s.owner_org for s in sites})
    rows = page.locator('table[data-table="households"] tbody tr')
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.household)") == households
    totals = {"location": 0, "market": 0, "market_hourly": 0, "avoided": 0, "consumption": 0}
    for org in households:
        inventory = org_inventory(conn, view, org, *YEAR_TO_DATE)
        _check_figures(page.locator(f'tr[data-household="{org}"]'), inventory)
        totals["location"] += inventory.scope2_location_g
        totals["market"] += inventory.scope2_market_volume_g
        totals["market_hourly"] += inventory.scope2_market_hourly_g
        totals["avoided"] += inventory.avoided_g
        totals["consumption"] += inventory.consumption_wh
    for field in ("location", "market", "market_hourly", "avoided"):
        assert _grams(_card(page, field)) == totals[field], field
    assert int(_card(page, "consumption").get_attribute("data-wh")) == totals["consumption"]
    # the same totals as the demo's summary computes over the page's months (the window's,
    # and May, when the demo's plants earned credits and the community hall was metered)
    devices = registry.list_devices(view).items
    _, window_end = _window_of(web_site)
    year_start = int(dt.datetime(LAST_DAY.year, 1, 1, tzinfo=dt.UTC).timestamp())
    summary = carbon_summary(view, conn, [s.id for s in sites], devices, year_start, window_end)
    assert summary["scope2_location_g"] == totals["location"]
    assert summary["scope2_market_volume_g"] == totals["market"]
    assert summary["scope2_market_hourly_g"] == totals["market_hourly"]
    assert summary["avoided_g"] == totals["avoided"]
    # every plant's avoided emissions, from its owner's inventory
    plants_g = 0
    for device in devices:
        # a row per month with generation (the credit projects' plants were metered in May too)
        avoided = sum(
            p.avoided_g
            for p in org_inventory(conn, view, device.owner_org, *YEAR_TO_DATE).plants
            if p.device == device.id
        )
        cell = page.locator(f'tr[data-plant="{device.id}"] [data-field="avoided"]')
        assert _grams(cell) == avoided > 0
        plants_g += avoided
    assert _grams(_card(page, "plants_avoided")) == plants_g == summary["plants_avoided_g"]
    assert page.locator('figure[data-chart="households"] svg[role=img]').count() == 1
    shot(page, "carbon-community")
    page.get_by_role("link", name=households[1], exact=True).click()
    page.wait_for_url(re.compile(rf".*/carbon/household/{households[1]}\?start=.*"))
    assert (
        page.get_by_role("heading", level=1).inner_text() == f"Carbon footprint of {households[1]}"
    )


def _window_of(web_site: WebSite) -> tuple[int, int]:
    community = web_site.summary["community"]
    return community["start"], community["end"]


def test_the_regulators_factor_sets(page: Any, web_site: WebSite) -> None:
    node = web_site.node
    view = node.state.view
    page.goto("/carbon")
    page.get_by_role("link", name="Emission factors in force").first.click()
    page.wait_for_url("**/carbon/regulator")
    assert page.locator('[data-list="regulators"]').inner_text().startswith(REGULATOR)
    start, _ = _window_of(web_site)
    found = carbon.factor_for(view, GRID_REGION, start)
    assert found.path == [GRID_REGION]
    s = found.set
    assert (s.id, s.recorded_by, s.gas) == (f"{GRID_REGION}-{LAST_DAY.year}", REGULATOR, "CO2")
    section = page.locator(f'section[data-set="{s.id}"]')
    in_force = s.start_s <= node.tip.time // 1000 < s.end_s
    assert section.get_attribute("data-in-force") == ("yes" if in_force else "no")
    assert (
        section.locator('[data-field="period"]')
        .inner_text()
        .startswith(f"{LAST_DAY.year}-01 – {LAST_DAY.year}-12")
    )
    grid = section.locator('[data-field="grid_average"]')
    assert int(grid.get_attribute("data-value")) == s.grid_average.g_per_mwh
    g_per_mwh = s.grid_average.g_per_mwh
    assert grid.inner_text().startswith(f"{kg_per_kwh(g_per_mwh)} kgCO2/kWh ({g_per_mwh:,} g/MWh)")
    assert s.residual_mix is not None
    assert int(section.locator('[data-field="residual_mix"]').get_attribute("data-value")) == (
        s.residual_mix.g_per_mwh
    )
    section.locator("summary").click()
    fuels = section.locator('table[data-table="fuels"] tbody tr')
    assert fuels.evaluate_all("rows => rows.map(r => r.dataset.fuel)") == [f.fuel for f in s.fuels]
    region = page.locator('table[data-table="regions"] tr[data-province="CN-GD"] td')
    assert region.all_inner_texts() == ["CN-GD", "CN-SOUTH"]
    assert carbon.region_map(view).provinces["CN-GD"] == "CN-SOUTH"
    shot(page, "carbon-regulator")
    # one region's sets through the form; a region with none says so
    form = page.locator('form[data-form="region"]')
    form.get_by_label("Region").fill("CN-SOUTH")
    form.get_by_role("button", name="Show").click()
    page.wait_for_url("**/carbon/regulator?region=CN-SOUTH*")
    assert page.locator('[data-empty="sets"]').is_visible()


def test_chinese_pages_on_a_phone(browser: Any, web_site: WebSite) -> None:
    node = web_site.node
    account, site = _household_with_claims(web_site)
    context = browser.new_context(base_url=web_site.url, locale="zh-CN", viewport=PHONE)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"/consumer/{account}")
        page.get_by_role("link", name="您的碳足迹及绿电选择减少的二氧化碳").click()
        page.wait_for_url(f"**/carbon/household/{account}")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert page.get_by_role("heading", level=1).inner_text() == f"{account} 的碳足迹"
        inventory = site_inventory(node.readmodels.reader(), node.state.view, site, *YEAR_TO_DATE)
        _check_figures(page.locator(".cards"), inventory)
        assert page.get_by_text("基于市场（逐小时匹配）").first.is_visible()
        assert page.get_by_role("heading", name="使用的排放因子").is_visible()
        _no_sideways_scroll(page)
        shot(page, "carbon-household-zh-phone")
        for path, heading, name in (
            ("/carbon", "社区碳排放", "carbon-community-zh-phone"),
            ("/carbon/regulator", "生效的排放因子", "carbon-regulator-zh-phone"),
        ):
            page.goto(path)
            assert page.get_by_role("heading", level=1).inner_text() == heading
            assert (
                page.get_by_role("link", name="碳排放", exact=True).get_attribute("aria-current")
                == "page"
            )
            _no_sideways_scroll(page)
            shot(page, name)
        page.goto("/carbon?start=2025-13")
        assert page.get_by_role("heading", level=1).inner_text() == "请求无效"
        _no_sideways_scroll(page)
        shot(page, "carbon-bad-query-zh-phone")
    finally:
        context.close()


def test_bad_queries_get_a_translated_page(web_site: WebSite) -> None:
    account, _ = _household_with_claims(web_site)
    household = f"/carbon/household/{account}"
    with httpx.Client(base_url=web_site.url) as http:
        for path, en, zh in (
            ("/carbon?start=2025-13", "Not a month: 2025-13.", "不是月份：2025-13"),
            (f"{household}?end=June", "Not a month: June.", "不是月份：June"),
            (f"{household}?start=2025-06&end=2025-01", "The first month comes after the last",
             "起始月份晚于截止月份"),
            ("/carbon?start=2000-01&end=2025-06", "A period covers at most 120 months",
             "一个期间最多 120 个月"),
            ("/carbon?after=No%20Such", "Not a household id: No Such.", "不是住户编号"),
            ("/carbon/regulator?region=guangdong", "Not a region: guangdong.", "不是地区"),
        ):  # fmt: skip
            for lang, text in (("en", en), ("zh-CN", zh)):
                answer = http.get(f"{path}&lang={lang}")
                assert answer.status_code == 400, (path, lang)
                assert text in answer.text, (path, lang)
        # a producer, an unknown id and a malformed one are not households
        for path in (
            "/carbon/household/owner-01",
            "/carbon/household/nobody",
            "/carbon/household/Not%20an%20id",
        ):
            for lang, text in (("en", "Nothing on the ledger matches"), ("zh-CN", "账本")):
                answer = http.get(path, params={"lang": lang})
                assert answer.status_code == 404, path
                assert text in answer.text, path
        # months without metered data: zero figures, nothing refused
        empty = http.get(household, params={"start": "2024-01", "end": "2024-12"})
        assert empty.status_code == 200
        assert 'data-empty="footprint"' in empty.text
        # bounded work: each page within the render budget
        for path in ("/carbon", household, "/carbon/regulator"):
            http.get(path)  # templates compile once
            timing = TIMING.match(http.get(path).headers["server-timing"])
            assert timing is not None
            assert float(timing.group(1)) < 300, path
