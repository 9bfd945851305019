"""The community page and consent to its ranking, in a real browser, in English and Chinese,
375 px wide: a household opts in under a pseudonym from its record page, signed by the node
for its signed-in member; the ranking shows only households that consented, by pseudonym,
and drops one from the first page served after its revocation's block."""

from __future__ import annotations

import re
from typing import Any

from gridledger.contracts import community, registry
from gridledger.readmodels.carbon import zone_of
from gridledger.readmodels.green_record import community_month, plant_contributions
from gridledger.web.render import kwh
from web_support import LAST_DAY, WebSite, csrf_of, password_of, shot, signed_in_client

PHONE = {"width": 375, "height": 740}
MONTH = f"{LAST_DAY:%Y-%m}"
TX_IN_URL = re.compile(r".*[?&]tx=[0-9a-f]{64}$")


def _pseudonyms(page: Any) -> list[str]:
    page.goto(f"/community?month={MONTH}")
    cells = page.locator('[data-table="ranking"] [data-field="pseudonym"]')
    return [c.strip() for c in cells.all_inner_texts()]


def _sign_in(page: Any, web_site: WebSite, account: str) -> None:
    page.goto(f"/login?next=/consumer/{account}/record")
    form = page.locator('form[action="/login/password"]')
    form.locator('input[name="account"]').fill(account)
    form.locator('input[name="password"]').fill(password_of(web_site, account))
    form.locator('button[type="submit"]').click()
    page.wait_for_url(re.compile(rf".*/consumer/{account}/record$"))


def test_ranking_shows_only_consenting_households_and_drops_a_revoked_one(
    browser: Any, web_site: WebSite
) -> None:
    view = web_site.node.state.view
    assert community.ranked(view) == []
    context = browser.new_context(base_url=web_site.url, viewport=PHONE, locale="zh-CN")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        assert _pseudonyms(page) == []
        assert page.locator('[data-empty="ranking"]').inner_text() == "还没有家庭参与排行。"
        # house-001 opts in from its record page, in Chinese
        _sign_in(page, web_site, "house-001")
        page.locator("#pseudonym").fill("绿色阳台")
        page.locator('[data-form="opt-in"] button').click()
        page.wait_for_url(TX_IN_URL)
        assert page.locator('[data-outcome="ok"]').is_visible()
        assert "绿色阳台" in page.locator('[data-consent="granted"]').inner_text()
        # house-002 opts in too, from another browser; house-003 never does
        with signed_in_client(web_site, "house-002") as http:
            token = csrf_of(http.get("/consumer/house-002/record").text)
            answer = http.post(
                "/consumer/house-002/consent",
                data={"csrf": token, "action": "opt_in", "pseudonym": "Sunny Balcony"},
                headers={"Origin": web_site.url},
            )
            assert answer.status_code == 303
            taken = http.post(
                "/consumer/house-002/consent",
                data={"csrf": token, "action": "opt_in", "pseudonym": "1 bad!"},
                headers={"Origin": web_site.url},
            )
            assert taken.status_code == 400
        shown = _pseudonyms(page)
        assert sorted(shown) == ["Sunny Balcony", "绿色阳台"]
        table = page.locator('[data-table="ranking"]').inner_text()
        assert "house-00" not in table
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
        shot(page, "community-ranking-zh-CN")
        # revoking takes effect with its block: the next page no longer shows it
        page.goto("/consumer/house-001/record")
        page.locator('[data-form="revoke"] button').click()
        page.wait_for_url(TX_IN_URL)
        assert page.locator('[data-consent="none"]').is_visible()
        assert _pseudonyms(page) == ["Sunny Balcony"]
        assert "绿色阳台" not in page.content()
    finally:
        context.close()
        with signed_in_client(web_site, "house-002") as http:
            token = csrf_of(http.get("/consumer/house-002/record").text)
            http.post(
                "/consumer/house-002/consent",
                data={"csrf": token, "action": "revoke"},
                headers={"Origin": web_site.url},
            )
    assert community.ranked(web_site.node.state.view) == []


def test_community_totals_and_plants_in_english(page: Any, web_site: WebSite) -> None:
    node = web_site.node
    conn = node.readmodels.reader()
    local = zone_of(conn)
    totals = community_month(conn, node.state.view, MONTH, local)
    plants = plant_contributions(conn, node.state.view, MONTH, local)
    assert totals.households > 0
    assert totals.matched_wh > 0
    page.set_viewport_size(PHONE)
    page.goto(f"/community?month={MONTH}&lang=en")
    assert page.locator("h1").inner_text() == "Our community's clean power"
    assert page.locator('[data-field="households"]').inner_text() == str(totals.households)
    assert page.locator('[data-field="matched"]').inner_text() == kwh(totals.matched_wh)
    assert page.locator('[data-table="plants"] tbody tr').count() == len(plants)
    served = {p.device: p.households for p in plants}
    assert any(served.values()), "some plant served a household"
    for device, n in served.items():
        row = page.locator(f'tr[data-plant="{device}"] [data-field="served"]')
        assert row.inner_text() == str(n)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    shot(page, "community-en")
    # a plant owner sees on its own page how many households its generation served
    device, n = max(served.items(), key=lambda item: item[1])
    owner = next(
        a
        for a in registry.list_accounts(node.state.view, role="producer").items
        if any(
            d.id == device for d in registry.list_devices(node.state.view, owner_org=a.org).items
        )
    )
    page.goto(f"/producer/{owner.id}?lang=en")
    nudge = page.locator('[data-nudge="served"]')
    assert nudge.get_attribute("data-households") == str(n)
    assert f"{device}'s clean power has served {n} households" in nudge.inner_text()


def test_a_member_sets_the_share_its_streak_counts(web_site: WebSite) -> None:
    with signed_in_client(web_site, "house-003") as http:
        token = csrf_of(http.get("/consumer/house-003/record").text)
        answer = http.post(
            "/consumer/house-003/consent",
            data={"csrf": token, "action": "share", "percent": "80"},
            headers={"Origin": web_site.url},
        )
        assert answer.status_code == 303
        setting = community.get_setting(web_site.node.state.view, "house-003")
        assert setting is not None
        assert setting.share_permille == 800
        assert "80.0 %" in http.get("/consumer/house-003/record").text
        # nobody acts for another: house-003's session cannot post for house-002
        token = csrf_of(http.get("/consumer/house-003/record").text)
        other = http.post(
            "/consumer/house-002/consent",
            data={"csrf": token, "action": "revoke"},
            headers={"Origin": web_site.url},
        )
        assert other.status_code == 403
