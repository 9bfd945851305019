"""The consumer and producer pages against the ledger, in a real browser.

A household's member signs in and switches with one click (signed by the node, which keeps the
community's keys); a visitor not signed in gets a sign-in link instead of the button; a
household signs its own switch in the browser with WebCrypto Ed25519; a wrong key is refused
before anything is sent. The figures the pages show (choice,
pairings, clean share, payments; generation, sales, buyers) are checked against the ledger.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from typer.testing import CliRunner

from gridledger.cli.main import app
from gridledger.contracts import funds, market
from gridledger.core.crypto import SigningKey
from gridledger.core.keystore import load_key
from gridledger.node.home import key_path, local_time
from gridledger.readmodels import market as totals
from gridledger.web.render import kwh, money, permille
from gridledger.web.views.market import DAY_S, latest_day
from web_support import PASSPHRASE, WebSite, password_of, shot

TIMING = re.compile(r"render;dur=(\d+(?:\.\d+)?)")
HASH_IN_URL = re.compile(r".*[?&]tx=[0-9a-f]{64}$")


def _choice(site: WebSite, account: str) -> str:
    (pref,) = market.preferences_of(site.node.state.view, account)
    return pref.choice


def _field(page: Any, name: str, within: str = "") -> str:
    return str(page.locator(f'{within} [data-field="{name}"]'.strip()).first.inner_text()).strip()


def test_one_click_clean_power_signed_by_the_node(page: Any, web_site: WebSite) -> None:
    account = "house-003"  # the demo gave its member a password
    page.goto(f"/consumer/{account}")
    # nobody signed in: no button, a way to sign in instead
    assert page.locator("[data-choose]").count() == 0
    page.get_by_role("link", name="Sign in to choose").first.click()
    page.wait_for_url(re.compile(r".*/login\?next=/consumer/house-003$"))
    form = page.locator('form[action="/login/password"]')
    form.get_by_label("Account id").fill(account)
    form.get_by_label("Password").fill(password_of(web_site, account))
    form.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(rf"^http://[^/]+/consumer/{account}$"))
    assert page.locator("[data-viewer]").inner_text() == f"Signed in as {account}"
    label = {"clean": "Choose clean power", "grid": "Switch to grid power"}
    if _choice(web_site, account) == "clean":  # start from grid power
        page.get_by_role("button", name=label["grid"]).click()
        page.wait_for_url(HASH_IN_URL)
    assert _field(page, "choice") == "Grid power"
    shot(page, "consumer-grid-before")
    nonce = web_site.node.next_nonce(account)
    page.get_by_role("button", name=label["clean"]).click()
    page.wait_for_url(HASH_IN_URL)
    assert page.locator('[data-outcome="ok"]').is_visible()
    assert _choice(web_site, account) == "clean"
    assert web_site.node.next_nonce(account) == nonce + 1
    assert _field(page, "choice") == "Clean power"
    shot(page, "consumer-clean-custodial")
    # signed in as house-003, the page of house-002 offers no button
    page.goto("/consumer/house-002")
    assert page.locator("[data-choose]").count() == 0
    assert page.locator('[data-custody="other"]').is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/$"))
    page.goto(f"/consumer/{account}")
    assert page.locator("[data-choose]").count() == 0


def test_browser_signing_with_the_members_own_key(page: Any, web_site: WebSite) -> None:
    account = "house-001"  # the demo saves this household's key in the home
    key = load_key(key_path(web_site.home, account), PASSPHRASE)
    # what the member pastes is what `gridledger keys export` prints
    exported = CliRunner().invoke(
        app,
        ["keys", "export", account, "--home", str(web_site.home)],
        env={"GRIDLEDGER_PASSPHRASE": PASSPHRASE},
    )
    assert exported.exit_code == 0, exported.output
    seed = exported.stdout.strip()
    assert seed == key.seed.hex()
    page.goto(f"/consumer/{account}?sign=browser")
    start = _choice(web_site, account)
    other = "grid" if start == "clean" else "clean"
    page.get_by_text("Your key (for signing in this browser)").click()
    page.get_by_label("Private key (64 hex digits)").fill(seed)
    page.get_by_role("button", name="Use this key").click()
    assert page.get_by_text("Key ready for this tab.").is_visible()
    label = {"clean": "Choose clean power", "grid": "Switch to grid power"}
    page.get_by_role("button", name=label[other]).click()
    page.wait_for_url(HASH_IN_URL)
    assert page.locator('[data-outcome="ok"]').is_visible()
    assert _choice(web_site, account) == other
    # the page stays in browser-signing mode: back to where it was with the key of the tab
    assert "sign=browser" in page.url
    assert page.locator('form[data-sign="browser"]').count() >= 1
    first = page.url
    page.get_by_role("button", name=label[start]).click()
    page.wait_for_url(lambda url: url != first and HASH_IN_URL.match(url) is not None)
    assert _choice(web_site, account) == start
    shot(page, "consumer-browser-signed")


def test_a_wrong_key_is_refused_before_anything_is_sent(page: Any, web_site: WebSite) -> None:
    account = "house-002"
    view = web_site.node.state.view
    before = (market.preferences_of(view, account), web_site.node.next_nonce(account))
    page.goto(f"/consumer/{account}?sign=browser")
    page.get_by_text("Your key (for signing in this browser)").click()
    page.get_by_label("Private key (64 hex digits)").fill("zz")
    page.get_by_role("button", name="Use this key").click()
    assert page.get_by_text("A key is 64 hexadecimal digits").is_visible()
    page.get_by_label("Private key (64 hex digits)").fill(SigningKey.generate().seed.hex())
    page.get_by_role("button", name="Use this key").click()
    # checked at once against the account's public key, and not kept
    error = page.locator('[data-outcome="error"]')
    error.wait_for()
    assert "does not belong to house-002" in error.inner_text()
    assert page.evaluate("sessionStorage.getItem('gridledger.seed.house-002')") is None
    page.locator('[data-site] button[type="submit"]').first.click()
    assert "Paste your account's key first" in page.locator("#sign-status").inner_text()
    shot(page, "consumer-wrong-key")
    time.sleep(0.2)
    view = web_site.node.state.view
    assert (market.preferences_of(view, account), web_site.node.next_nonce(account)) == before


def test_consumer_figures_match_the_ledger(page: Any, web_site: WebSite) -> None:
    account = "house-004"
    view = web_site.node.state.view
    page.goto(f"/consumer/{account}")
    stats = totals.account_totals(web_site.node.readmodels.reader(), account)
    assert stats is not None
    assert _field(page, "balance") == money(funds.balance_of(view, account))
    assert _field(page, "escrow") == money(funds.escrow_of(view, account))
    assert _field(page, "clean_paid") == money(stats.clean_paid_fen)
    assert _field(page, "grid_paid") == money(stats.grid_paid_fen)
    assert _field(page, "clean_share") == permille(stats.clean_share_permille)
    assert _field(page, "arrears") == money(0)
    # the latest day's pairings, one row each
    day = latest_day(view, local_time(web_site.home))
    assert day is not None
    conn = web_site.node.readmodels.reader()
    today = [
        p
        for p in totals.account_pairings(conn, view, account, day, day + DAY_S)
        if p.consumer == account
    ]
    assert today, "a clean-power household is paired on a sunny day"
    rows = page.locator('table[data-table="today"] tbody tr')
    assert rows.count() == len(today)
    first = today[0]
    row = page.locator(f'tr[data-id="{first.id}"]')
    delivered_cell = row.locator('[data-field="delivered_wh"]')
    assert delivered_cell.get_attribute("data-wh") == str(first.delivered_wh)
    assert delivered_cell.inner_text() == kwh(first.delivered_wh, 3)
    # clean share per day: the delivered energy of that day's pairings
    row = page.locator(f'table[data-table="daily"] tr[data-day="{day}"]')
    delivered = sum(p.delivered_wh or 0 for p in today)
    assert row.locator('[data-field="clean"]').inner_text() == kwh(delivered)
    shot(page, "consumer-figures")


def test_producer_figures_match_the_ledger(page: Any, web_site: WebSite) -> None:
    view = web_site.node.state.view
    page.goto("/producer")
    page.get_by_role("link", name="owner-01").click()
    page.wait_for_url("**/producer/owner-01")
    conn = web_site.node.readmodels.reader()
    stats = totals.account_totals(conn, "owner-01")
    assert stats is not None
    for name in ("generated_wh", "sold_wh", "exported_wh"):
        assert _field(page, name) == kwh(getattr(stats, name))
    assert _field(page, "clean_revenue") == money(stats.clean_revenue_fen)
    assert _field(page, "feed_in_revenue") == money(stats.feed_in_revenue_fen)
    plant = totals.plant_totals(conn, "pv-01")
    assert plant is not None
    buyers = page.locator('[data-plant="pv-01"] table[data-table="buyers"] tbody tr')
    assert buyers.count() == len(plant.buyers)
    for buyer in plant.buyers:
        row = page.locator(f'[data-plant="pv-01"] tr[data-consumer="{buyer.consumer}"]')
        assert row.locator('[data-field="delivered_wh"]').inner_text() == kwh(buyer.delivered_wh, 3)
        assert row.locator('[data-field="amount_fen"]').inner_text() == money(buyer.amount_fen)
    day = latest_day(view, local_time(web_site.home))
    assert day is not None
    sold = sum(
        p.delivered_wh or 0
        for p in totals.account_pairings(conn, view, "owner-01", day, day + DAY_S)
        if p.device == "pv-01"
    )
    cells = page.locator('[data-plant="pv-01"] table[data-table="hours"] [data-field="sold"]')
    assert sum(int(c.get_attribute("data-wh")) for c in cells.all()) == sold
    shot(page, "producer-owner-01")


def test_chinese_pages_and_translated_not_found(page: Any, web_site: WebSite) -> None:
    page.goto("/consumer/house-001?lang=zh-CN")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_role("heading", name="我的用电").is_visible()
    assert page.get_by_role("heading", name="付款").is_visible()
    shot(page, "consumer-zh")
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto("/producer/owner-01")
    assert page.get_by_role("heading", name="发电方 owner-01").is_visible()
    shot(page, "producer-zh-phone")
    with httpx.Client(base_url=web_site.url) as http:
        for lang, text in (("en", "Nothing on the ledger matches"), ("zh-CN", "账本")):
            for path in ("/consumer/nobody", "/producer/nobody", "/consumer/Bad%20Id"):
                answer = http.get(path, params={"lang": lang})
                assert answer.status_code == 404
                assert text in answer.text


def test_pages_render_within_budget_and_keyboard_reaches_the_switch(
    page: Any, web_site: WebSite
) -> None:
    with httpx.Client(base_url=web_site.url) as http:
        for path in ("/consumer", "/consumer/house-001", "/producer", "/producer/owner-01"):
            http.get(path)  # templates compile once
            answer = http.get(path)
            timing = TIMING.match(answer.headers["server-timing"])
            assert timing is not None
            assert float(timing.group(1)) < 300, (path, answer.headers["server-timing"])
    page.goto("/consumer/house-001?sign=browser")
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.getAttribute('data-choose')")
        if focused:
            break
    assert focused in ("clean", "grid")
