"""The market pages against the ledger: clearing price and volume per interval, the order book
of the open interval (with a bid placed by a household in the test), an interval's pairings."""

from __future__ import annotations

import re
from typing import Any

import httpx

from gridledger.contracts import market
from gridledger.core.keystore import load_key
from gridledger.node.home import key_path, local_time
from gridledger.sdk import Client
from gridledger.web.render import kwh
from gridledger.web.views.market import DAY_S, latest_day, now_s, open_interval
from web_support import PASSPHRASE, WebSite, shot

TIMING = re.compile(r"render;dur=(\d+(?:\.\d+)?)")


def test_clearing_prices_and_volumes_match_the_ledger(page: Any, web_site: WebSite) -> None:
    view = web_site.node.state.view
    page.goto("/market")
    latest = market.latest_cleared(view)
    assert latest is not None
    row = page.locator(f'table[data-table="intervals"] tr[data-start="{latest.start_s}"]')
    price = latest.clearing_price_fen_per_kwh
    assert row.locator('[data-field="clearing_price"]').inner_text() == str(
        price if price is not None else "-"
    )
    assert row.locator('[data-field="volume"]').inner_text() == kwh(latest.volume_wh, 3)
    day = latest_day(view, local_time(web_site.home))
    assert day is not None
    shown = market.intervals(view, day - DAY_S, day + DAY_S)  # two local days by default
    assert page.locator('table[data-table="intervals"] tbody tr').count() == len(shown)
    tariffs = market.tariffs(view)
    assert tariffs is not None
    assert page.locator('[data-field="sell_price"]').inner_text() == str(
        tariffs.sell_price_fen_per_kwh
    )
    assert page.locator(".chart svg").count() == 2
    shot(page, "market-overview")


def test_the_open_intervals_order_book_shows_a_new_bid(page: Any, web_site: WebSite) -> None:
    node = web_site.node
    start = open_interval(node.state.view, now_s(node))
    key = load_key(key_path(web_site.home, "house-001"), PASSPHRASE)
    with Client(web_site.url) as client:
        body = {"interval": start, "site": "flat-001", "quantity_wh": 1500, "price": 55}
        client.send(key, "house-001", "market.place_bid", body).raise_for_status()
    book = market.order_book(node.state.view, start)
    (bid,) = [b for b in book.bids if b.account == "house-001"]
    page.goto("/market")
    section = page.locator(f'[data-book="{start}"]')
    row = section.locator(f'table[data-table="bids"] tr[data-seq="{bid.seq}"]')
    assert row.is_visible()
    assert "flat-001" in row.inner_text()
    assert section.locator('[data-field="bid_count"]').inner_text() == str(len(book.bids))
    shot(page, "market-open-book")


def test_an_interval_page_lists_its_pairings(page: Any, web_site: WebSite) -> None:
    view = web_site.node.state.view
    busiest = max(market.intervals(view), key=lambda r: r.pairings or 0)
    pairings = market.pairings(view, busiest.start_s)
    page.goto("/market?days=7")
    page.locator(f'tr[data-start="{busiest.start_s}"] a').click()
    page.wait_for_url(f"**/market/{busiest.start_s}")
    rows = page.locator('table[data-table="pairings"] tbody tr')
    assert rows.count() == min(len(pairings), 100)
    assert page.locator('[data-field="status"]').inner_text() == "Settled"
    first = pairings[0]
    assert page.locator(f'tr[data-id="{first.id}"]').is_visible()
    shot(page, "market-interval")
    page.goto(f"/market/{busiest.start_s}?lang=zh-CN")
    assert page.locator('[data-field="status"]').inner_text() == "已结算"
    shot(page, "market-interval-zh")


def test_market_pages_bad_input_and_timing(web_site: WebSite) -> None:
    with httpx.Client(base_url=web_site.url) as http:
        for path in ("/market/123", "/market/abc", "/market/99999999999"):
            answer = http.get(path, params={"lang": "zh-CN"})
            assert answer.status_code == 404
            assert "账本" in answer.text
        start = market.latest_cleared(web_site.node.state.view)
        assert start is not None
        for path in ("/market", "/market?days=7", f"/market/{start.start_s}"):
            http.get(path)
            answer = http.get(path)
            assert answer.status_code == 200
            timing = TIMING.match(answer.headers["server-timing"])
            assert timing is not None
            assert float(timing.group(1)) < 300, (path, answer.headers["server-timing"])


def test_a_days_market_page_and_the_demo_summary_give_the_same_figures(
    web_site: WebSite,
) -> None:
    """The summary's days are the community's local days, and so are the pages': the clean
    energy the market page lists for a day adds up to what the summary says for that day."""
    with httpx.Client(base_url=web_site.url) as http:
        for day in web_site.summary["days"]:
            page = http.get("/market", params={"day": day["date"], "lang": "en"}).text
            cells = re.findall(r'data-field="delivered">([\d,.]+)</td>', page)
            assert cells, day["date"]
            delivered_wh = sum(round(float(c.replace(",", "")) * 1000) for c in cells)
            assert delivered_wh == day["delivered_wh"] > 0, day["date"]
            assert len(cells) == len(re.findall(r'<tr data-start="', page))
