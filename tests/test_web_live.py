"""The demo community served at ``--speed``: its pages follow it as it lives.

``gridledger demo --serve --speed 3600`` (an hour of community life a second) runs in its own
process, as ``make run`` runs it; a real chromium reloads the producer's, a household's and the
grid company's pages, in English on a desktop and in Chinese on a 375 px phone, until each has
changed: a new hour in the plant's chart, new pairings for the household, a newer interval at
the top of the grid page. Days and hours are the community's (Asia/Shanghai). Screenshots of
every page in both layouts are saved, dated the day the test ran.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures_node import free_port
from gridledger.core.localtime import LocalTime
from test_cli import gridledger_command
from web_support import shot

PASSPHRASE = "live demo passphrase"
SHANGHAI = LocalTime("Asia/Shanghai")
SPEED = 3600
LAYOUTS = {
    "desktop-en": {"viewport": {"width": 1280, "height": 900}, "lang": "en"},
    "phone-zh": {"viewport": {"width": 375, "height": 812}, "lang": "zh-CN", "touch": True},
}


TALLEST_BAR = """(box) => {
  const spec = JSON.parse(box.dataset.plot);
  const generated = spec.series[0].values;
  const i = generated.indexOf(Math.max(...generated));
  box.scrollIntoView({ block: "center" });
  const over = box.querySelector(".u-over").getBoundingClientRect();
  return { x: over.x + over.width * (i + 0.5) / generated.length, y: over.y + over.height / 2,
           label: spec.labels[i], time: spec.times[i], labels: spec.labels,
           plot_width: over.width };
}"""
"""Where the plant chart's tallest bar of generation is, drawn by uPlot, and what it holds."""


@dataclass
class Live:
    url: str
    home: Path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("live") / "demo"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [*gridledger_command(), "demo", "--plants", "2", "--households", "6", "--days", "1",
         "--home", str(home), "--port", str(port), "--reset", "--serve", "--speed", str(SPEED),
         "--json"],
        env={**os.environ, "GRIDLEDGER_PASSPHRASE": PASSPHRASE},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()[1].decode()
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the demo did not start serving"
            time.sleep(0.2)
        yield Live(url, home)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err.decode()


def _until_changed(page: Any, read: Callable[[], Any], timeout_s: float = 60) -> tuple[Any, Any]:
    """Reload ``page`` until ``read()`` gives something new and not empty; a simulated day
    passes in 24 s, so within a minute every page has had daylight to show."""
    first = read()
    deadline = time.monotonic() + timeout_s
    while True:
        page.wait_for_timeout(1000)
        page.reload()
        now = read()
        if now and now != first:
            return first, now
        assert time.monotonic() < deadline, f"{page.url} did not change from {first!r}"


def _open(browser: Any, live: Live, layout: str) -> Any:
    settings = LAYOUTS[layout]
    context = browser.new_context(
        base_url=live.url,
        viewport=settings["viewport"],
        locale=settings["lang"],
        has_touch=bool(settings.get("touch")),
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_pages_follow_the_living_community(browser: Any, live: Live, layout: str) -> None:
    page = _open(browser, live, layout)
    lang = LAYOUTS[layout]["lang"]
    try:
        # the producer: its plant's chart gains hours as the sun rises over Shekou
        page.goto(f"/producer/owner-01?lang={lang}")
        hours = page.locator('[data-plant="pv-01"] table[data-table="hours"] tr[data-start]')
        _, after = _until_changed(
            page, lambda: [int(h.get_attribute("data-start")) for h in hours.all()]
        )
        assert page.locator('[data-plant="pv-01"] svg[role=img]').count() == 1
        # uPlot (served by the node) draws the chart at the page's width; its time axis is
        # in local time, labels thinned so that they never crowd (at least 56 px each)
        plot = page.locator('[data-plant="pv-01"] .plot.plotted')
        plot.wait_for()
        assert plot.locator("canvas").count() == 1
        bar = plot.evaluate(TALLEST_BAR)
        ticks = plot.get_attribute("data-ticks").split("|")
        assert ticks
        assert set(ticks) <= set(bar["labels"])
        assert SHANGHAI.format(max(after), "%H:%M") in bar["labels"]
        assert len(ticks) <= bar["plot_width"] // 56 + 1
        newest = max(after)
        assert (
            SHANGHAI.format(newest, "%H:%M")
            in page.locator('[data-plant="pv-01"] table[data-table="hours"]').inner_text()
        )
        assert page.locator("html").get_attribute("lang") == lang
        _no_sideways_scroll(page)
        # the tallest bar's local hour, its UTC time and the values show as a tooltip under
        # the pointer, or the finger on a phone
        bar = plot.evaluate(TALLEST_BAR)
        if LAYOUTS[layout].get("touch"):
            page.touchscreen.tap(bar["x"], bar["y"])
        else:
            page.mouse.move(bar["x"], bar["y"])
        tip = plot.locator(".plot-tip")
        tip.wait_for()
        text = tip.inner_text()
        at_utc = dt.datetime.fromtimestamp(bar["time"], dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        assert text.startswith(f"{bar['label']} ({at_utc})"), text
        assert SHANGHAI.format(bar["time"], "%H:%M") == bar["label"]
        box = tip.bounding_box()
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= LAYOUTS[layout]["viewport"]["width"]
        shot(page, f"live-producer-{layout}")

        # a household that chose clean power: new pairings appear
        account = _clean_household(live)
        page.goto(f"/consumer/{account}?lang={lang}")
        pairings = page.locator('table[data-table="today"] tbody tr[data-id]')
        _until_changed(page, lambda: [p.get_attribute("data-id") for p in pairings.all()])
        _no_sideways_scroll(page)
        shot(page, f"live-consumer-{layout}")

        # the grid company: a newer interval tops the list, and none is empty
        page.goto(f"/grid?lang={lang}")
        rows = page.locator("tr[data-interval]")
        _, top = _until_changed(page, lambda: rows.first.get_attribute("data-interval"))
        assert int(top) > 0
        intervals = httpx.get(f"{live.url}/v1/market/intervals", params={"limit": 500}).json()
        assert all(i["offers"] for i in intervals["intervals"] if i["status"] != "open")
        shot(page, f"live-grid-{layout}")
        page.goto(f"/market?lang={lang}")
        shot(page, f"live-market-{layout}")
    finally:
        page.context.close()


def _clean_household(live: Live) -> str:
    """A household whose standing choice is clean power (the market bids for it)."""
    for n in range(1, 7):
        account = f"house-{n:03d}"
        prefs = httpx.get(f"{live.url}/v1/market/accounts/{account}/preferences").json()
        if any(p["choice"] == "clean" for p in prefs.get("preferences", [])):
            return account
    raise AssertionError("no household chose clean power")


def _no_sideways_scroll(page: Any) -> None:
    """The page fits its width: nothing but tables (which scroll in their own box) overflows."""
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
