"""Accessibility basics on every page the navigation reaches, and a few pages they link to.

The pages are found, not listed: the header's navigation links of the home page, then on each
of those pages the first links of a few kinds in its main content. A navigation link that
answers 404 is a view not served yet and is skipped; any other page must answer 200. On each
page: ``lang`` is set, there is one ``h1``, every form control has an accessible name, every
image and SVG has a text alternative, Tab from the top reaches the skip link and then the
navigation links in order, the skip link moves focus to the content, and at 375 x 740 CSS
pixels the document does not scroll sideways (tables scroll inside ``.table-wrap``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError

from web_support import WebSite, shot

LINKS_PER_PAGE = 4
"""Linked pages checked per navigation page, one per kind of path."""
PHONE = {"width": 375, "height": 740}

_UNNAMED_CONTROLS = """() => {
  const named = (el) => {
    if ((el.getAttribute('aria-label') || '').trim()) return true;
    const by = el.getAttribute('aria-labelledby');
    const text = (id) => (document.getElementById(id)?.textContent || '').trim();
    if (by && by.split(/\\s+/).some(text)) return true;
    if (el.labels && [...el.labels].some((l) => l.textContent.trim())) return true;
    if ((el.getAttribute('title') || '').trim()) return true;
    if (el.tagName === 'BUTTON') return el.textContent.trim() !== '';
    if (el.tagName === 'INPUT' && ['submit', 'reset', 'button'].includes(el.type)) {
      return (el.value || '').trim() !== '';
    }
    return false;
  };
  return [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
    .filter((el) => !named(el)).map((el) => el.outerHTML.slice(0, 120));
}"""

_UNNAMED_IMAGES = """() => {
  const bad = [];
  for (const img of document.querySelectorAll('img')) {
    if (!img.hasAttribute('alt')) bad.push(img.outerHTML.slice(0, 120));
  }
  for (const svg of document.querySelectorAll('svg')) {
    if (svg.closest('[aria-hidden="true"]')) continue;
    const title = svg.querySelector(':scope > title');
    const label = (svg.getAttribute('aria-label') || '').trim()
      || (title?.textContent || '').trim();
    if (svg.getAttribute('role') !== 'img' || !label) bad.push(svg.outerHTML.slice(0, 120));
  }
  return bad;
}"""

_FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  return {tag: el.tagName, href: el.getAttribute('href'), cls: el.className || '',
          nav: !!el.closest('header nav'), id: el.id};
}"""


def _kind(path: str) -> str:
    """A path with its id-like segments blanked: ``/block/12`` and ``/block/13`` are one kind."""
    return "/".join("*" if re.search(r"\d", seg) else seg for seg in path.split("/"))


def _nav_paths(page: Any) -> list[str]:
    return [
        str(h)
        for h in page.locator("header nav a").evaluate_all(
            "a => a.map(x => x.getAttribute('href'))"
        )
    ]


def _pages(web_site: WebSite, page: Any) -> Iterator[str]:
    """Every navigation page that is served, then a few pages linked from each."""
    page.goto("/?lang=en")
    nav = _nav_paths(page)
    assert nav, "the header has navigation links"
    served: list[str] = []
    with httpx.Client(base_url=web_site.url) as http:
        for path in nav:
            status = http.get(path).status_code
            if status == 404:
                continue  # that view is not served yet
            assert status == 200, f"{path} answered {status}"
            served.append(path)
        assert {"/", "/operator", "/grid"} <= set(served)
        seen = {_kind(p) for p in served}
        linked: list[str] = []
        for path in served:
            page.goto(path)
            hrefs = page.locator("main a[href]").evaluate_all(
                "a => a.map(x => x.getAttribute('href'))"
            )
            taken = 0
            for href in hrefs:
                parts = urlsplit(href)
                if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                    continue
                if parts.path.startswith(("/v1/", "/static/")) or "lang=" in parts.query:
                    continue
                kind = _kind(parts.path)
                if kind in seen:
                    continue
                seen.add(kind)
                target = parts.path + (f"?{parts.query}" if parts.query else "")
                assert http.get(target, follow_redirects=True).status_code == 200, (
                    f"{path} links to {target}, which is not served"
                )
                linked.append(target)
                taken += 1
                if taken == LINKS_PER_PAGE:
                    break
    yield from served
    yield from linked


@pytest.fixture(scope="module")
def site_pages(browser: Any, web_site: WebSite) -> list[str]:
    context = browser.new_context(base_url=web_site.url, locale="en-US")
    try:
        return list(_pages(web_site, context.new_page()))
    finally:
        context.close()


def _check(page: Any, path: str, nav: list[str]) -> list[str]:
    problems: list[str] = []
    page.goto(path)
    if not (page.locator("html").get_attribute("lang") or "").strip():
        problems.append("no lang on <html>")
    if (h1 := page.locator("h1").count()) != 1:
        problems.append(f"{h1} h1 elements")
    problems += [f"control without a name: {c}" for c in page.evaluate(_UNNAMED_CONTROLS)]
    problems += [f"image without a text alternative: {i}" for i in page.evaluate(_UNNAMED_IMAGES)]
    # keyboard: from the top, the skip link first, then the navigation links in order
    order: list[dict[str, Any] | None] = []
    for _ in range(len(nav) + 4):
        page.keyboard.press("Tab")
        order.append(page.evaluate(_FOCUSED))
    first = order[0]
    if not first or "skip" not in str(first["cls"]).split():
        problems.append(f"Tab reaches {first} first, not the skip link")
    navs = [i for i, f in enumerate(order) if f and f["nav"]]
    reached = [str(order[i]["href"]) for i in navs]  # type: ignore[index]
    if reached[: len(nav)] != nav:
        problems.append(f"Tab reaches the navigation as {reached}, expected {nav}")
    elif navs[0] > 2 or navs[: len(nav)] != list(range(navs[0], navs[0] + len(nav))):
        # only the brand link may come between the skip link and the navigation
        problems.append(f"Tab does not reach the navigation links one after another: {order}")
    page.goto(path)  # focus starts from the top again
    page.keyboard.press("Tab")
    if "skip" in str((page.evaluate(_FOCUSED) or {}).get("cls", "")).split():
        page.keyboard.press("Enter")
    if page.evaluate("() => document.activeElement?.id") != "main":
        problems.append("the skip link does not move focus to the content")
    return problems


def test_every_page_passes_the_basic_checks(
    browser: Any, web_site: WebSite, site_pages: list[str]
) -> None:
    assert len(site_pages) >= 3
    context = browser.new_context(base_url=web_site.url, locale="en-US")
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto("/")
        nav = _nav_paths(page)
        failures = {}
        for path in site_pages:
            try:
                found = _check(page, path, nav)
            except PlaywrightError as exc:
                found = [f"the page could not be checked: {exc.message.splitlines()[0]}"]
            if found:
                failures[path] = found
    finally:
        context.close()
    assert failures == {}


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_every_page_fits_a_phone_screen(
    browser: Any, web_site: WebSite, site_pages: list[str], lang: str
) -> None:
    context = browser.new_context(
        base_url=web_site.url, viewport=PHONE, locale=lang, is_mobile=True, has_touch=True
    )
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        wide: dict[str, tuple[int, int]] = {}
        for path in site_pages:
            page.goto(path + ("&" if "?" in path else "?") + f"lang={lang}")
            width, inner = page.evaluate(
                "() => [document.scrollingElement.scrollWidth, window.innerWidth]"
            )
            if width > inner + 1:
                wide[path] = (width, inner)
        page.goto(f"/operator?lang={lang}")
        shot(page, f"phone-operator-{lang}")
        page.goto(f"/grid?lang={lang}")
        shot(page, f"phone-grid-{lang}")
    finally:
        context.close()
    assert wide == {}
