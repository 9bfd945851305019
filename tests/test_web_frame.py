"""The web interface's frame: catalogues, language choice, the page shell, offline assets.

Both languages hold the same keys, every key a template asks for exists, pages carry their
``Server-Timing``, and a real browser (chromium) shows the home page in both languages with no
request leaving the node.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from gridledger.web.i18n import LANGS, catalogue
from web_support import WebSite, shot

TEMPLATES = Path(__file__).resolve().parent.parent / "src" / "gridledger" / "web" / "templates"
T_CALL = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']""")


def test_both_languages_hold_the_same_keys_and_templates_use_only_those() -> None:
    english, chinese = (catalogue(lang) for lang in LANGS)
    assert set(english) == set(chinese)
    assert all(text.strip() for text in [*english.values(), *chinese.values()])
    used = {key for path in TEMPLATES.rglob("*.html") for key in T_CALL.findall(path.read_text())}
    assert used, "templates use the catalogue"
    prefixes = {key for key in used if key.endswith(".")}  # t("nav." ~ name): a key family
    assert used - prefixes - set(english) == set()
    assert all(any(key.startswith(p) for key in english) for p in prefixes)


def test_language_from_query_cookie_and_header(web_site: WebSite) -> None:
    with httpx.Client(base_url=web_site.url) as http:
        plain = http.get("/")
        assert plain.status_code == 200
        assert plain.headers["content-language"] == "en"
        assert re.match(r"render;dur=\d+(\.\d+)?$", plain.headers["server-timing"])
        chinese = http.get("/", headers={"accept-language": "zh-CN,zh;q=0.9"})
        assert chinese.headers["content-language"] == "zh-CN"
        assert '<html lang="zh-CN">' in chinese.text
        chosen = http.get("/", params={"lang": "zh-CN"})
        assert chosen.cookies.get("lang") == "zh-CN"
        assert http.get("/").headers["content-language"] == "zh-CN"  # the cookie sticks


def test_the_home_page_in_a_browser_offline(page: Any, web_site: WebSite) -> None:
    outside: list[str] = []
    page.on(
        "request",
        lambda req: None if req.url.startswith(web_site.url) else outside.append(req.url),
    )
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("navigation").is_visible()
    page.get_by_role("link", name="简体中文").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    shot(page, "frame-home-zh")
    assert outside == []
