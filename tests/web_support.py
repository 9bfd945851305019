"""The web interface's test bed: the demo community served by a real node, and a real browser.

``web_site`` (once per test session) runs a small demo community (3 plants, 12 households, 2
days, fixed last day) into a temporary home, opens that chain in a node with block time from the
real clock, and serves its API and web interface on a free loopback port. ``browser`` launches
Debian's chromium (``/usr/bin/chromium``, headless; Playwright never downloads a browser) and
``page`` gives each test a fresh page, with ``shot(page, name)`` saving a screenshot under
``test-artifacts/screenshots/`` for people to look at (CI keeps the folder as an artifact).

The demo enrols a few households' members with a password (``web_site.summary["logins"]``):
``password_of(web_site, account)`` gives one, ``signed_in_client(web_site, account)`` an httpx
client signed in with it.

Loaded by ``conftest.py`` as a plugin, so any test may ask for these fixtures.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("GRIDLEDGER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
PASSPHRASE = "web test passphrase"
LAST_DAY = dt.date(2025, 6, 21)
"""A sunny June day in Shenzhen: every household that chose clean power gets some."""


@dataclass
class WebSite:
    url: str
    home: Path
    node: Any
    """The serving :class:`gridledger.node.node.Node` (its state is what pages must show)."""
    summary: dict[str, Any]
    """What ``gridledger demo --json`` printed for this community."""


@pytest.fixture(scope="session")
def web_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebSite]:
    # imported here: only the web tests pay for the demo and the web stack
    from gridledger.api.server import ApiServer
    from gridledger.node.home import open_node
    from gridledger.sim.community import DemoConfig, run_demo

    home = tmp_path_factory.mktemp("web") / "demo"
    config = DemoConfig(plants=3, households=12, days=2, last_day=LAST_DAY)
    summary = run_demo(config, home, PASSPHRASE)
    node = open_node(home, PASSPHRASE, verify_workers=0, block_interval_ms=20)
    try:
        node.start()
        with ApiServer(node, "127.0.0.1", 0) as server:
            yield WebSite(server.url, home, node, summary)
    finally:
        node.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, web_site: WebSite) -> Iterator[Any]:
    """A fresh page (its own cookies) whose relative URLs go to the served site."""
    context = browser.new_context(base_url=web_site.url, locale="en-US")
    try:
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        yield tab
    finally:
        context.close()


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as ``test-artifacts/screenshots/<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def verify_page_dropper(
    page: Any, keys: dict[str, Any], tmp_path: Path
) -> Callable[[str, dict[str, Any]], str]:
    """Open the Verify page with ``keys`` as its consortium keys file; a function that drops
    a JSON file ``(name, content)`` on it and answers the outcome (``verified``, ``failed``)
    shown in ``#check-result``."""
    path = tmp_path / "consortium-keys.json"
    path.write_text(json.dumps(keys))
    page.goto("/verify")
    page.get_by_label("Check with a consortium keys file").set_input_files(path)
    page.locator("[data-keys-source][data-source=file]").wait_for()
    result = page.locator("#check-result")

    def drop(name: str, content: dict[str, Any]) -> str:
        result.evaluate("el => { delete el.dataset.outcome; }")
        page.evaluate(
            """([name, text]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([text], name, {type: "application/json"}));
            const zone = document.querySelector("[data-drop-zone]");
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true,
                                                      cancelable: true}));
        }""",
            [name, json.dumps(content)],
        )
        page.locator("#check-result[data-outcome]").wait_for()
        return str(result.get_attribute("data-outcome"))

    return drop


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def password_of(site: WebSite, account: str) -> str:
    """The password the demo gave ``account``'s member."""
    for member in site.summary["logins"]["members"]:
        if member["account"] == account:
            return str(member["password"])
    raise AssertionError(f"the demo enrolled no password for {account}")


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page carries a CSRF token"
    return found.group(1)


@contextmanager
def signed_in_client(site: WebSite, account: str, url: str | None = None) -> Iterator[httpx.Client]:
    """An httpx client (a browser of its own) signed in as ``account``'s member, at ``url``
    (default: the site's)."""
    base = url or site.url
    with httpx.Client(base_url=base, timeout=30) as http:
        token = csrf_of(http.get("/login").text)
        answer = http.post(
            "/login/password",
            data={"csrf": token, "account": account, "password": password_of(site, account)},
            headers={"Origin": base},
        )
        assert answer.status_code == 303, answer.text
        yield http
