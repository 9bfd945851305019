"""Privacy by design, against the served demo community: its members' names, addresses and
contacts live in the node's personal database only; no public page (every page reachable by
following links from the explorer, signed out, in both languages) shows any of them; a member,
signed in, sees, downloads and erases its own details in a real browser (Chinese, 375 px);
nobody else may, but the operator."""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from gridledger.node.personal import PersonalStore
from gridledger.sim.community import demo_details
from web_support import WebSite, csrf_of, password_of, shot, signed_in_client

PHONE = {"width": 375, "height": 740}
HREF = re.compile(r'href="([^"#]*)')
MAX_PAGES = 600
SKIP = ("/static/", "/logout", "/docs", "/openapi", "/redoc", "/v1/events")


def _public_pages(base: str, lang: str) -> dict[str, str]:
    """Every page a visitor reaches from ``/`` by links, signed out (up to MAX_PAGES)."""
    seen: dict[str, str] = {}
    queue = deque(["/", "/community", "/consumer", "/producer", "/carbon", "/grid", "/market"])
    with httpx.Client(base_url=base, timeout=30, cookies={"lang": lang}) as http:
        while queue and len(seen) < MAX_PAGES:
            path = queue.popleft()
            if path in seen or any(path.startswith(s) for s in SKIP):
                continue
            answer = http.get(path)
            text = (
                answer.text
                if "text" in answer.headers.get("content-type", "")
                or "json" in answer.headers.get("content-type", "")
                else ""
            )
            seen[path] = text
            for href in HREF.findall(text):
                target = urlsplit(urljoin(base + path, href.replace("&amp;", "&")))
                if target.netloc != urlsplit(base).netloc:
                    continue
                link = target.path + (f"?{target.query}" if target.query else "")
                if link not in seen:
                    queue.append(link)
    return seen


def test_no_public_page_shows_a_members_personal_details(web_site: WebSite) -> None:
    store = PersonalStore(web_site.home)
    secrets = store.every_value()
    store.close()
    first = demo_details(0)
    assert first.name in secrets, "the demo keeps its members' details"
    assert first.address in secrets
    for lang in ("en", "zh-CN"):
        pages = _public_pages(web_site.url, lang)
        assert len(pages) > 40, sorted(pages)
        assert any(p.startswith("/consumer/house-001") for p in pages)
        assert any(p.startswith("/accounts/") for p in pages)
        for path, text in pages.items():
            for value in secrets:
                assert value not in text, (path, value)
            # nor pieces of them: the family name in Chinese, the street
            assert "Haiyue Garden" not in text, path
            assert "李华" not in text, path


def test_a_member_exports_and_erases_its_details_in_the_browser(
    browser: Any, web_site: WebSite
) -> None:
    account = "house-002"
    details = demo_details(1)
    context = browser.new_context(
        base_url=web_site.url, viewport=PHONE, locale="zh-CN", accept_downloads=True
    )
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        # signed out: the page shows nothing of the household
        page.goto(f"/consumer/{account}/personal")
        assert details.name not in page.content()
        page.goto(f"/login?next=/consumer/{account}/personal")
        form = page.locator('form[action="/login/password"]')
        form.locator('input[name="account"]').fill(account)
        form.locator('input[name="password"]').fill(password_of(web_site, account))
        form.locator('button[type="submit"]').click()
        page.wait_for_url(re.compile(rf".*/consumer/{account}/personal$"))
        assert page.locator("h1").inner_text() == f"{account} 的个人信息"
        assert page.locator("#pd-name").input_value() == details.name
        assert page.locator("#pd-address").input_value() == details.address
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
        shot(page, "personal-zh-CN")
        with page.expect_download() as download:
            page.locator('[data-link="export"]').click()
        exported = json.loads(download.value.path().read_text(encoding="utf-8"))
        assert exported["account"] == account
        assert exported["details"]["name"] == details.name
        assert exported["details"]["phone"] == details.phone
        page.locator('[data-form="erase"] button').click()
        page.wait_for_url(re.compile(r".*\?done=erase$"))
        assert page.locator('[data-kept="no"]').is_visible()
        assert page.locator("#pd-name").input_value() == ""
    finally:
        context.close()
    store = PersonalStore(web_site.home)
    try:
        assert store.get(account) is None
        assert details.name not in store.every_value()
    finally:
        store.close()


def test_only_the_member_or_the_operator_reaches_the_details(web_site: WebSite) -> None:
    account = "house-003"
    url = f"{web_site.url}/v1/personal/{account}"
    assert httpx.get(url).status_code == 401
    assert httpx.delete(url).status_code == 401
    with signed_in_client(web_site, "house-001") as http:
        assert http.get(f"/v1/personal/{account}").status_code == 403
        assert http.get(f"/consumer/{account}/personal").status_code == 403
    with signed_in_client(web_site, account) as http:
        assert http.get(f"/v1/personal/{account}").json()["details"]["name"] == demo_details(2).name
        token = csrf_of(http.get(f"/consumer/{account}/personal").text)
        # a change needs the page's origin and CSRF token
        assert http.put(f"/v1/personal/{account}", json={"name": "Wang"}).status_code == 403
        changed = http.put(
            f"/v1/personal/{account}",
            json={"name": "Wang Fang 王芳", "phone": "+86 139 0000 0003"},
            headers={"Origin": web_site.url, "X-CSRF-Token": token},
        )
        assert changed.status_code == 200, changed.text
        assert http.get(f"/v1/personal/{account}").json()["details"]["phone"] == "+86 139 0000 0003"
    operator = {"Authorization": f"Bearer {web_site.summary['logins']['operator_token']}"}
    assert httpx.get(url, headers=operator).json()["kept"] is True
    erased = httpx.delete(url, headers=operator)
    assert erased.json() == {"account": account, "erased": True}
    assert httpx.get(url, headers=operator).json()["kept"] is False
    assert httpx.get(f"{web_site.url}/v1/personal/nobody", headers=operator).status_code == 404
