"""Passkeys and passwords in a real browser: Chromium's virtual authenticator (WebAuthn through
the DevTools protocol) stands in for a phone's fingerprint reader.

The operator signs in with the token, issues an enrolment link on the custody page; the member
opens it, registers a passkey, is signed in and switches their power with one click; signs out
and back in with the passkey (naming the account, and without: a discoverable passkey), in
English and in Chinese. A password member signs in on the Chinese page. Passkeys need a host
name, so these pages are opened at ``localhost``; at ``127.0.0.1`` the page says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from gridledger.contracts import market
from gridledger.node.members import Members
from web_support import WebSite, password_of, shot

ACCOUNT = "house-006"
HASH_IN_URL = re.compile(r".*\?tx=[0-9a-f]{64}$")
AT_ACCOUNT = re.compile(rf"^https?://[^/]+/consumer/{ACCOUNT}$")


def _localhost(site: WebSite) -> str:
    return site.url.replace("127.0.0.1", "localhost")


@pytest.fixture
def tab(browser: Any, web_site: WebSite) -> Iterator[Any]:
    """A page at localhost with a virtual authenticator that verifies its user."""
    context = browser.new_context(base_url=_localhost(web_site), locale="en-US")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable", {"enableUI": False})
        added = cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        page.authenticator = (cdp, added["authenticatorId"])
        yield page
    finally:
        context.close()


def _issue_link_as_operator(browser: Any, web_site: WebSite) -> str:
    """The operator signs in with the token and issues an enrolment link on the custody page."""
    context = browser.new_context(base_url=web_site.url, locale="en-US")
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto("/operator/members")
        assert page.locator('[data-code="auth.operator_required"]').is_visible()
        page.goto("/login")
        page.locator("#operator summary").click()
        page.get_by_label("Operator token").fill(web_site.summary["logins"]["operator_token"])
        page.get_by_role("button", name="Sign in as operator").click()
        page.wait_for_url("**/operator/members")
        row = page.locator(f'tr[data-account="{ACCOUNT}"]')
        row.get_by_role("button", name="New enrolment link").click()
        page.wait_for_load_state()
        issued = page.locator(f'[data-issued="{ACCOUNT}"]')
        assert issued.is_visible()
        shot(page, "operator-members-issued")
        assert page.locator(f'tr[data-account="{ACCOUNT}"] [data-field="state"]').inner_text() == (
            "Link issued"
        )
        link = str(issued.locator('[data-field="link"]').inner_text())
    finally:
        context.close()
    # the operator's node is on loopback, so the link names localhost (passkeys need a name)
    assert link.startswith(_localhost(web_site) + "/enrol?code=")
    return link


def test_passkey_enrolment_sign_in_and_one_click_choice(
    browser: Any, tab: Any, web_site: WebSite
) -> None:
    link = _issue_link_as_operator(browser, web_site)
    tab.goto(link)
    assert tab.locator(f'[data-enrol-account="{ACCOUNT}"]').is_visible()
    shot(tab, "enrol-passkey")
    tab.get_by_role("button", name="Register a passkey").click()
    tab.wait_for_url(AT_ACCOUNT)
    cdp, authenticator = tab.authenticator
    (credential,) = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})[
        "credentials"
    ]
    assert credential["rpId"] == "localhost"
    stored = Members(web_site.home).passkeys_of(ACCOUNT)
    assert [k.rp_id for k in stored] == ["localhost"]
    assert Members(web_site.home).login_state(ACCOUNT).state == "enrolled"
    # signed in: the member switches with one click, signed by the node
    assert tab.locator("[data-viewer]").inner_text() == f"Signed in as {ACCOUNT}"
    (pref,) = market.preferences_of(web_site.node.state.view, ACCOUNT)
    other = "grid" if pref.choice == "clean" else "clean"
    label = {"clean": "Choose clean power", "grid": "Switch to grid power"}
    tab.get_by_role("button", name=label[other]).click()
    tab.wait_for_url(HASH_IN_URL)
    assert tab.locator('[data-outcome="ok"]').is_visible()
    (pref,) = market.preferences_of(web_site.node.state.view, ACCOUNT)
    assert pref.choice == other
    # the link worked once
    tab.goto(link)
    assert tab.locator('[data-code="auth.enrolment_invalid"]').is_visible()
    # out, and back in with the passkey, naming the account
    tab.goto(f"/consumer/{ACCOUNT}")
    tab.get_by_role("button", name="Sign out").click()
    tab.goto(f"/consumer/{ACCOUNT}")
    tab.get_by_role("link", name="Sign in to choose").click()
    tab.get_by_label("Account id (optional").fill(ACCOUNT)
    tab.get_by_role("button", name="Sign in with a passkey").click()
    tab.wait_for_url(AT_ACCOUNT)
    assert tab.locator("[data-choose]").count() == 1
    count = Members(web_site.home).passkeys_of(ACCOUNT)[0].sign_count
    # and in Chinese, without naming the account: the passkey knows it
    tab.get_by_role("button", name="Sign out").click()
    tab.goto("/login?lang=zh-CN")
    assert tab.locator("html").get_attribute("lang") == "zh-CN"
    shot(tab, "login-zh")
    tab.get_by_role("button", name="用通行密钥登录").click()
    tab.wait_for_url(AT_ACCOUNT)
    assert tab.locator("[data-viewer]").inner_text() == f"已登录：{ACCOUNT}"
    assert tab.get_by_role("button", name="退出登录").is_visible()
    assert Members(web_site.home).passkeys_of(ACCOUNT)[0].sign_count >= count


def test_a_passkey_of_another_site_or_none_signs_nobody_in(tab: Any, web_site: WebSite) -> None:
    # this authenticator holds no passkey of this node: nothing to sign in with
    tab.goto("/login")
    tab.get_by_role("button", name="Sign in with a passkey").click()
    error = tab.locator('#passkey-status [data-outcome="error"]')
    error.wait_for()
    assert tab.locator("[data-viewer]").count() == 0
    # and at an IP address the page says passkeys need a name
    tab.goto(web_site.url + "/login")
    tab.get_by_role("button", name="Sign in with a passkey").click()
    assert tab.get_by_text("Passkeys need the node to be opened by name").is_visible()


def test_password_sign_in_on_the_chinese_page(page: Any, web_site: WebSite) -> None:
    account = "house-001"
    page.goto("/login?lang=zh-CN")
    form = page.locator('form[action="/login/password"]')
    form.get_by_label("账户 ID").fill(account)
    form.get_by_label("密码").fill("不是这个密码-not the password")
    form.get_by_role("button", name="登录", exact=True).click()
    assert page.get_by_text("账户或密码错误。").is_visible()
    shot(page, "login-refused-zh")
    page.goto("/login?lang=zh-CN")
    form = page.locator('form[action="/login/password"]')
    form.get_by_label("账户 ID").fill(account)
    form.get_by_label("密码").fill(password_of(web_site, account))
    form.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_url(re.compile(rf"^http://[^/]+/consumer/{account}$"))
    assert page.locator("[data-viewer]").inner_text() == f"已登录：{account}"
    assert page.get_by_role("heading", name="我的用电").is_visible()
    shot(page, "consumer-signed-in-zh")
