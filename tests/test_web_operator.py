"""The operator's and the grid's pages against the ledger they show.

A real browser opens ``/operator``, a registry list, ``/grid`` and one interval's grid
settlement, in English and Chinese, and every figure read from the page is compared with a
query of the node's committed state. A refused reading is sent by the demo's gateway and must
appear among the latest refused readings. Bad query parameters give a translated 400 or 404
page, never a server error.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from gridledger.contracts import funds, market, metering, registry
from gridledger.core.keystore import load_key
from gridledger.core.types import Transaction
from gridledger.node.home import key_path
from gridledger.sim.supply_chain import SITES
from gridledger.web.i18n import catalogue
from web_support import PASSPHRASE, WebSite, shot

GATEWAY = "gw-shekou"


def _latest(view: Any, meter: str) -> metering.MeterReading | None:
    found = metering.readings(view, meter, limit=1_000_000)
    return found[-1] if found else None


def test_operator_overview_shows_the_registry(page: Any, web_site: WebSite) -> None:
    view = web_site.node.state.view
    page.goto("/operator?lang=en")
    assert page.locator("h1").inner_text() == "Operator"
    counts = {
        "organisations": len(registry.list_organisations(view).items),
        "accounts": len(registry.list_accounts(view).items),
        "devices": len(registry.list_devices(view).items),
        "sites": len(registry.list_sites(view).items),
        "meters": len(registry.list_meters(view).items),
    }
    assert counts["devices"] == 3
    # 12 flats, the community hall and the supply chain's three works
    assert counts["sites"] == 13 + len(SITES)
    for what, n in counts.items():
        assert int(page.locator(f'[data-count="{what}"]').inner_text()) == n
    # the first accounts in id order, with their balances
    shown = page.locator("#h-accounts ~ .table-wrap tbody tr")
    first = sorted(a.id for a in registry.list_accounts(view).items)[: shown.count()]
    assert shown.count() == 10
    for i, account in enumerate(first):
        row = shown.nth(i)
        assert row.locator("td").first.inner_text() == account
        balance = int(row.locator("[data-balance]").get_attribute("data-balance"))
        assert balance == funds.balance_of(view, account)
    # every meter shown with its latest reading
    meters = page.locator("tr[data-meter]")
    assert meters.count() == 10
    for i in range(meters.count()):
        row = meters.nth(i)
        latest = _latest(view, row.get_attribute("data-meter"))
        assert latest is not None
        assert int(row.locator("[data-wh]").get_attribute("data-wh")) == latest.effective_wh()
        assert int(row.locator("[data-start]").get_attribute("data-start")) == latest.start_s
    # the rules in force
    params = market.params(view)
    assert page.locator('[data-param="interval_s"]').inner_text() == (
        f"{params.interval_s // 60} min"
    )
    shot(page, "operator-overview-en")
    page.get_by_role("link", name="简体中文").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == catalogue("zh-CN")["operator.title"]
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    shot(page, "operator-overview-zh")


def test_meter_list_pages_through_every_meter(page: Any, web_site: WebSite) -> None:
    view = web_site.node.state.view
    every = sorted(m.id for m in registry.list_meters(view).items)
    seen: list[str] = []
    page.goto("/operator/meters?n=4&lang=en")
    while True:
        rows = page.locator("tr[data-meter]")
        seen += [rows.nth(i).get_attribute("data-meter") for i in range(rows.count())]
        nxt = page.get_by_role("link", name="Next page")
        if nxt.count() == 0:
            break
        nxt.click()
        page.wait_for_load_state()
    assert seen == every
    shot(page, "operator-meters-last-page")


def test_grid_page_shows_tariffs_intervals_and_totals(page: Any, web_site: WebSite) -> None:
    view = web_site.node.state.view
    tariffs = market.tariffs(view)
    assert tariffs is not None
    page.goto("/grid?lang=en")
    assert page.locator("h1").inner_text() == "Grid"
    assert int(page.locator("[data-sell-price]").get_attribute("data-sell-price")) == (
        tariffs.sell_price_fen_per_kwh
    )
    assert int(page.locator("[data-feed-in-price]").get_attribute("data-feed-in-price")) == (
        tariffs.feed_in_price_fen_per_kwh
    )
    assert page.locator("[data-market-maker]").get_attribute("data-market-maker") == (
        tariffs.grid_account
    )
    # the households the grid supplies: the same count as the demo's summary, grid-choosing
    # ones included
    households = page.locator('[data-total="households"]')
    summary = web_site.summary["households"]
    # 12 flats and the community hall; the grid also supplies the supply chain's works, which
    # the community's summary leaves out
    assert summary["total"] == 13
    assert int(households.inner_text()) == summary["total"] + len(SITES)
    assert int(households.get_attribute("data-clean")) == summary["clean"]
    # plain grid supply: by choice, or without one (the hall, the works)
    assert int(households.get_attribute("data-grid")) == (
        summary["grid"] + summary["none"] + len(SITES)
    )
    assert summary["grid"] > 0
    settled = [i.settlement for i in market.intervals(view) if i.settlement is not None]
    starts = [i.start_s for i in market.intervals(view) if i.settlement is not None]
    # two days: only the hours plants offered into were cleared and settled
    assert 24 <= len(settled) < 48
    total_import = sum(s.grid_import_wh for s in settled)
    assert int(page.locator('[data-total="grid_import_wh"]').get_attribute("data-wh")) == (
        total_import
    )
    assert int(page.locator('[data-total="grid_export_wh"]').get_attribute("data-wh")) == sum(
        s.grid_export_wh for s in settled
    )
    # the newest day of intervals, newest first, each as the ledger settled it
    rows = page.locator("tr[data-interval]")
    assert rows.count() == 24
    newest = list(zip(starts, settled, strict=True))[::-1][:24]
    for i, (at, record) in enumerate(newest):
        row = rows.nth(i)
        assert int(row.get_attribute("data-interval")) == at
        assert (
            int(row.locator("[data-import-wh]").get_attribute("data-import-wh"))
            == record.grid_import_wh
        )
    gateway = page.locator(f'tr[data-gateway="{GATEWAY}"]')
    assert int(gateway.locator("[data-generation]").inner_text()) == 3
    # the flats, the hall and the works
    assert int(gateway.locator("[data-consumption]").inner_text()) == 13 + len(SITES)
    assert (
        page.locator("svg[role=img] > title").first.text_content()
        == "Grid supply and feed-in per interval"
    )
    shot(page, "grid-en")
    # one interval, asset by asset
    rows.first.get_by_role("link").click()
    page.wait_for_load_state()
    start = newest[0][0]
    records = market.grid_settlements(view, start)
    shown = page.locator("#settlements tbody tr [data-wh]")
    assert shown.count() == len(records) > 0
    assert sum(int(shown.nth(i).get_attribute("data-wh")) for i in range(shown.count())) == sum(
        r.energy_wh for r in records
    )
    page.goto(f"/grid/{start}?lang=zh-CN")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    shot(page, "grid-interval-zh")
    page.goto("/grid?before=" + str(newest[-1][0]))
    assert page.locator("tr[data-interval]").count() == len(settled) - 24
    shot(page, "grid-older-zh")


def test_a_refused_reading_appears_on_the_operator_page(page: Any, web_site: WebSite) -> None:
    node = web_site.node
    key = load_key(key_path(web_site.home, GATEWAY), PASSPHRASE)
    start = (time.time_ns() // 10**9 // 3600 - 2) * 3600
    # one reading for no meter and one far beyond its meter's plant: the whole batch is refused,
    # reported as one event whose first reading the page shows
    mine = next(m for m in registry.list_meters(node.state.view, None, 1000).items
            if m.gateway == GATEWAY and m.interval_s == 3600)  # fmt: skip
    body = {"readings": [
        {"meter": "m-nowhere", "start": start, "length_s": 3600, "energy_wh": 5},
        {"meter": mine.id, "start": start, "length_s": 3600, "energy_wh": 10**12},
    ]}  # fmt: skip
    tx = Transaction(node.chain_id, "metering.submit", GATEWAY, node.next_nonce(GATEWAY), body)
    tx.signature = key.sign(tx.signing_bytes())
    tx_hash = node.submit(tx.encode())
    stored = node.wait_receipt(tx_hash, 10)
    assert stored is not None
    page.goto("/operator?lang=en")
    row = page.locator("#refused tbody tr").first
    cells = row.locator("td")
    assert cells.nth(0).inner_text() == "m-nowhere"
    assert cells.nth(2).inner_text() == "metering.unknown_meter"
    assert "all 2 readings of the batch were refused" in cells.nth(3).inner_text()
    assert cells.nth(4).inner_text() == GATEWAY
    assert int(cells.nth(5).inner_text()) == stored.height
    shot(page, "operator-refused-en")


@pytest.mark.parametrize(
    ("path", "status", "key"),
    [
        ("/operator/accounts?n=0", 400, "operator.error.bad_number"),
        ("/operator/accounts?n=abc", 400, "operator.error.bad_number"),
        ("/operator/meters?after=NOT%20AN%20ID", 400, "operator.error.bad_id"),
        ("/operator/nothing", 404, "operator.error.no_page"),
        ("/grid?before=-5", 400, "operator.error.bad_number"),
        ("/grid?before=99999999999999", 400, "operator.error.bad_number"),
        ("/grid/abc", 400, "operator.error.bad_interval"),
        ("/grid/123", 404, "operator.error.no_interval"),
    ],
)
def test_bad_requests_get_a_translated_page(
    web_site: WebSite, path: str, status: int, key: str
) -> None:
    with httpx.Client(base_url=web_site.url) as http:
        for lang in ("en", "zh-CN"):
            answer = http.get(path, headers={"accept-language": lang, "cookie": f"lang={lang}"})
            assert answer.status_code == status
            assert answer.headers["content-language"] == lang
            assert answer.headers["content-type"].startswith("text/html")
            title = catalogue(lang)[f"operator.error.title.{status}"]
            assert f"<h1>{title}</h1>" in answer.text
            first_words = catalogue(lang)[key].split("{")[0][:8]
            assert first_words in answer.text
