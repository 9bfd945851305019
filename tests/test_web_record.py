"""A household's clean-power record in a real browser, in English and Chinese, 375 px wide:
the streak, the month view and the year view show exactly what
:mod:`gridledger.readmodels.green_record` computes from the ledger."""

from __future__ import annotations

from typing import Any

import httpx

from gridledger.contracts import registry
from gridledger.readmodels.carbon import zone_of
from gridledger.readmodels.green_record import household_record
from gridledger.web.render import kwh, permille
from gridledger.web.views.record import threshold_of
from web_support import LAST_DAY, WebSite, shot

PHONE = {"width": 375, "height": 740}


def _household(web_site: WebSite) -> tuple[str, Any]:
    """A household with clean days on the ledger, and its record."""
    node = web_site.node
    view = node.state.view
    conn = node.readmodels.reader()
    local = zone_of(conn)
    for account in registry.list_accounts(view, role="consumer").items:
        rec = household_record(conn, view, account.org, threshold_of(view, account.id), local)
        if rec.matched_wh and rec.streak:
            return account.id, rec
    raise AssertionError("no household has a clean day")


def _no_sideways_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1


def test_record_month_and_year_views_in_both_languages(browser: Any, web_site: WebSite) -> None:
    account, rec = _household(web_site)
    month = f"{LAST_DAY:%Y-%m}"
    figures = rec.month(month)
    assert figures is not None
    for lang, streak_label in (("en", "Clean-day streak"), ("zh-CN", "连续绿电日")):
        context = browser.new_context(base_url=web_site.url, viewport=PHONE)
        try:
            page = context.new_page()
            page.goto(f"/consumer/{account}?lang={lang}")
            page.locator('[data-link="record"]').click()
            page.wait_for_url(f"**/consumer/{account}/record")
            assert streak_label in page.locator('[data-cards="record"]').inner_text()
            assert page.locator('[data-field="streak"]').inner_text() == str(rec.streak)
            assert (
                int(page.locator('[data-field="matched"]').get_attribute("data-wh"))
                == rec.matched_wh
            )
            assert page.locator('[data-field="month-share"]').inner_text() == permille(
                figures.share_permille
            )
            assert page.locator('[data-field="month-matched"]').inner_text() == kwh(
                figures.matched_wh
            )
            rows = page.locator('[data-table="days"] tbody tr')
            assert rows.count() == figures.days
            assert (
                page.locator('[data-milestone="first_clean_day"]').get_attribute("data-reached")
                == "yes"
            )
            _no_sideways_scroll(page)
            shot(page, f"record-month-{lang}")
            page.locator('[data-view="year"]').click()
            row = page.locator(f'[data-table="months"] tr[data-month="{month}"]')
            assert permille(figures.share_permille) in row.inner_text()
            _no_sideways_scroll(page)
            shot(page, f"record-year-{lang}")
        finally:
            context.close()


def test_record_of_an_unknown_household_is_404(web_site: WebSite) -> None:
    assert httpx.get(f"{web_site.url}/consumer/nobody/record").status_code == 404
    assert httpx.get(f"{web_site.url}/consumer/plant-owner-01/record").status_code == 404


def test_odd_queries_never_fail(web_site: WebSite) -> None:
    account, _ = _household(web_site)
    for query in (
        "view=month&month=0001-01",
        "view=month&month=9999-12",
        "view=year&year=0000",
        "view=year&year=9999",
        "view=decade",
        "month=2025-13",
        "month=%00",
    ):
        for path in (f"/consumer/{account}/record?{query}", f"/community?{query}"):
            answer = httpx.get(f"{web_site.url}{path}")
            assert answer.status_code == 200, (path, answer.status_code)
