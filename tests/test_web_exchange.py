"""The exchange page against the ledger: an allowance instrument's book by price level, the
last price and the latest trade, as the contract's queries give them, on a desktop in English
and 375 px wide in Chinese with no sideways scrolling.

The orders are placed in the test: the demo's regulator opens ``ets-web`` and gives house-001
50 t, which offers 20 t at 6,000 fen/t; owner-01 (given funds by the operator) buys 5 t at up
to 6,500 (a trade at 6,000) and bids 3 t at 5,800.
"""

from __future__ import annotations

from typing import Any

from gridledger.contracts import exchange
from gridledger.core.keystore import load_key
from gridledger.node.home import key_path
from gridledger.sdk import Client
from web_support import PASSPHRASE, WebSite, shot

INSTRUMENT = "allowances:ets-web"
PHONE = {"width": 375, "height": 740}
SELLER, BUYER = "house-001", "owner-01"


def _orders(site: WebSite) -> None:
    keys = {n: load_key(key_path(site.home, n), PASSPHRASE)
            for n in ("regulator", "operator", SELLER, BUYER)}  # fmt: skip
    if exchange.get_instrument(site.node.state.view, INSTRUMENT) is not None:
        return
    with Client(site.url) as client:

        def send(sender: str, kind: str, body: dict[str, Any]) -> None:
            client.send(keys[sender], sender, kind, body).raise_for_status()

        send("regulator", "allowances.open_period", {"id": "ets-web", "start_s": 1_735_689_600,
             "end_s": 1_767_225_600, "deadline_s": 4_102_444_800})  # fmt: skip
        send("regulator", "allowances.allocate", {"period": "ets-web", "to": SELLER,
             "method": "free", "quantity_t": 50})  # fmt: skip
        send("operator", "funds.mint", {"to": BUYER, "amount": 1_000_000})
        order = {"instrument": INSTRUMENT, "time_in_force": "gtc"}
        send(SELLER, "exchange.place",
             {**order, "side": "sell", "price_fen_per_t": 6_000, "quantity_t": 20})  # fmt: skip
        send(BUYER, "exchange.place",
             {**order, "side": "buy", "price_fen_per_t": 6_500, "quantity_t": 5})  # fmt: skip
        send(BUYER, "exchange.place",
             {**order, "side": "buy", "price_fen_per_t": 5_800, "quantity_t": 3})  # fmt: skip


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, (page.url, width)


def test_the_book_depth_last_price_and_trades(browser: Any, page: Any, web_site: WebSite) -> None:
    _orders(web_site)
    view = web_site.node.state.view
    book = exchange.depth(view, INSTRUMENT)
    (trade,) = exchange.trades(view, INSTRUMENT)
    assert (trade.price_fen_per_t, trade.quantity_t) == (6_000, 5)
    page.goto(f"/exchange?instrument={INSTRUMENT}")
    section = page.locator(f'[data-book="{INSTRUMENT}"]')
    assert section.locator('[data-field="last_price"]').inner_text() == "6000"
    assert section.locator('[data-field="best_bid"]').inner_text() == "5800"
    assert section.locator('[data-field="best_ask"]').inner_text() == "6000"
    for side, levels in (("bids", book.bids), ("asks", book.asks)):
        rows = section.locator(f'table[data-table="{side}"] tbody tr')
        assert rows.count() == len(levels)
        for lv in levels:
            row = section.locator(
                f'table[data-table="{side}"] tr[data-price="{lv.price_fen_per_t}"]'
            )
            assert row.locator('[data-field="quantity"]').inner_text() == str(lv.quantity_t)
    assert [(lv.price_fen_per_t, lv.quantity_t) for lv in book.asks] == [(6_000, 15)]
    row = section.locator(f'table[data-table="trades"] tr[data-trade="{trade.id}"]')
    assert SELLER in row.inner_text()
    assert page.get_by_role("link", name="Exchange", exact=True).get_attribute(
        "aria-current") == "page"  # fmt: skip
    shot(page, "exchange-book")
    page.goto("/exchange?instrument=credits:coal:2025")
    assert page.locator("h1").count() == 1
    context = browser.new_context(base_url=web_site.url, locale="zh-CN", viewport=PHONE)
    try:
        phone = context.new_page()
        phone.set_default_timeout(10_000)
        phone.goto("/exchange")  # the instrument with a trade comes first
        assert phone.get_by_role("heading", level=1).inner_text() == "碳交易"
        assert phone.locator('[data-field="last_price"]').inner_text() == "6000"
        assert phone.get_by_role("heading", name="最近成交").is_visible()
        _no_sideways_scroll(phone)
        shot(phone, "exchange-book-zh-phone")
    finally:
        context.close()
