"""The explorer: status, live blocks, search, record pages with proofs checked in the browser.

A real chromium drives the served demo community (``web_site``); what each page shows is
compared with the node's ledger (``node.state.view``, ``node.store``), every Verify button is
pressed and must succeed, and the browser's verifier must refuse altered proofs. Plain HTTP
checks the error pages (status codes, translated messages, never a 500) and render times.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from gridledger.contracts import funds, metering, registry
from gridledger.contracts.chain import nonce_key
from gridledger.core.crypto import sha256
from gridledger.core.encoding import decode_json
from gridledger.core.localtime import LocalTime
from gridledger.readmodels import market as totals
from gridledger.web.render import money, utc
from gridledger.web.views.explorer import body_times
from web_support import PASSPHRASE, WebSite, shot

RENDER_BUDGET_MS = 300.0
SHANGHAI = LocalTime("Asia/Shanghai")
VERIFIED = re.compile(r"^Verified")


def _timing(response: httpx.Response) -> float:
    match = re.match(r"render;dur=([\d.]+)$", response.headers["server-timing"])
    assert match, response.headers.get("server-timing")
    return float(match.group(1))


def _some_tx(site: WebSite, height: int = 5) -> tuple[str, Any]:
    blk = site.node.store.block(height)
    stx = blk.txs()[0]
    return sha256(stx.raw).hex(), blk


def _verify_all(page: Any) -> list[str]:
    """Press every Verify button on the page (by keyboard) and return the outcomes' texts."""
    buttons = page.locator("button[data-verify]")
    texts = []
    for i in range(buttons.count()):
        button = buttons.nth(i)
        button.focus()
        page.keyboard.press("Enter")
        result = page.locator(f"#{button.get_attribute('data-result')}")
        result.and_(page.locator("[data-outcome]")).wait_for()
        texts.append(result.inner_text())
        assert result.get_attribute("data-outcome") == "verified", result.inner_text()
    return texts


# plain HTTP ----------------------------------------------------------------------------------
BAD = [
    ("/blocks/abc", 400),
    ("/blocks/-1", 400),
    ("/blocks/1e3", 400),
    ("/blocks/99999999999999999999999999999", 404),
    ("/blocks?before=x", 400),
    ("/blocks/1?start=-5", 400),
    ("/txs/xyz", 400),
    ("/txs/" + "A" * 64, 400),
    ("/txs/" + "0" * 64, 404),
    ("/accounts/nobody", 404),
    ("/accounts/Not%20An%20Id", 400),
    ("/devices/no-such-plant", 404),
    ("/sites/no-such-site", 404),
    ("/meters/no-such-meter", 404),
    ("/meters/m-pv-01?before=soon", 400),
    ("/search?q=999999999999", 404),
    ("/search?q=" + "f" * 64, 404),
    ("/search?q=%E4%B8%8D%E5%AD%98%E5%9C%A8", 404),
]


def test_bad_input_gets_a_translated_error_page_never_a_500(web_site: WebSite) -> None:
    with httpx.Client(base_url=web_site.url) as http:
        for path, status in BAD:
            english = http.get(path)
            assert english.status_code == status, path
            assert english.headers["content-type"].startswith("text/html")
            title = "Not found" if status == 404 else "Invalid request"
            assert f"<h1>{title}</h1>" in english.text, path
            chinese = http.get(path, headers={"accept-language": "zh-CN"})
            assert chinese.status_code == status
            assert ("未找到" if status == 404 else "请求无效") in chinese.text
        assert "“abc”" in http.get("/blocks/abc").text
        assert "账户 nobody" in http.get("/accounts/nobody?lang=zh-CN").text


def test_search_finds_each_kind_of_record(web_site: WebSite) -> None:
    tx_hash, blk = _some_tx(web_site)
    cases = {
        "7": "/blocks/7",
        " 3 ": "/blocks/3",
        tx_hash: f"/txs/{tx_hash}",
        tx_hash.upper(): f"/txs/{tx_hash}",
        blk.hash.hex(): f"/blocks/{blk.height}",
        "house-001": "/accounts/house-001",
        "pv-02": "/devices/pv-02",
        "m-flat-003": "/meters/m-flat-003",
        "flat-004": "/sites/flat-004",
    }
    # hashes as pages show them shortened, the chain id, a day and an hour of the market
    cases[tx_hash[:10] + "…"] = f"/txs/{tx_hash}"
    cases[blk.hash.hex()[:12]] = f"/blocks/{blk.height}"
    cases[web_site.node.chain_id] = "/"
    cases["2025-06-21"] = "/market?day=2025-06-21"
    noon = SHANGHAI.parse_day("2025-06-21") + 12 * 3600
    cases["2025-06-21 12:00"] = f"/market/{noon}"
    with httpx.Client(base_url=web_site.url) as http:
        for query, target in cases.items():
            found = http.get("/search", params={"q": query})
            assert found.status_code == 303, query
            assert found.headers["location"] == target
            assert http.get(target).status_code == 200
        # too short a prefix, or an hour without an interval: nothing found (a prefix of
        # digits only would be a block height: one with a letter, as a hash shows it)
        short = tx_hash[:4] if not tx_hash[:4].isdigit() else "f" + tx_hash[1:4]
        for query in (short, "2025-06-21 03:00", "2025-13-40"):
            assert http.get("/search", params={"q": query}).status_code == 404, query
        # an empty search goes back to the page it was typed on
        empty = http.get(
            "/search", params={"q": " "}, headers={"referer": f"{web_site.url}/market"}
        )
        assert (empty.status_code, empty.headers["location"]) == (303, "/market")
        elsewhere = http.get("/search?q=", headers={"referer": "http://other.example/x"})
        assert elsewhere.headers["location"] == "/"
    # the market page of a day shows that day's intervals
    day = httpx.get(f"{web_site.url}/market?day=2025-06-21").text
    assert f'data-start="{noon}"' in day
    # with a day picker showing that day
    assert 'name="day" type="date" required value="2025-06-21"' in day


def test_every_page_renders_within_budget(web_site: WebSite) -> None:
    tx_hash, _ = _some_tx(web_site)
    paths = [
        "/",
        "/blocks",
        "/blocks?before=10",
        "/blocks/5",
        f"/txs/{tx_hash}",
        "/accounts/house-001",
        "/devices/pv-01",
        "/sites/flat-001",
        "/meters/m-pv-01",
        "/meters/no-such-meter",
    ]
    with httpx.Client(base_url=web_site.url) as http:
        for path in paths:
            http.get(path)  # the first visit compiles the template
        worst = {path: max(_timing(http.get(path)) for _ in range(3)) for path in paths}
    assert all(ms < RENDER_BUDGET_MS for ms in worst.values()), worst


def test_block_pages_are_paginated_by_height(web_site: WebSite) -> None:
    node = web_site.node
    with httpx.Client(base_url=web_site.url) as http:
        first = http.get("/blocks").text
        tip = node.tip.height
        heights = [int(h) for h in re.findall(r'<tr data-height="(\d+)">', first)]
        assert heights == list(range(tip, tip - 20, -1))
        older = re.search(r'href="(/blocks\?before=\d+)" rel="next"', first)
        assert older
        second = http.get(older.group(1)).text
        below = [int(h) for h in re.findall(r'<tr data-height="(\d+)">', second)]
        assert below[0] == heights[-1] - 1
        assert len(below) == 20
        assert 'rel="prev"' in second


# the browser ---------------------------------------------------------------------------------
def test_home_shows_status_and_grows_live(page: Any, web_site: WebSite) -> None:
    from gridledger.core.keystore import load_key
    from gridledger.sdk import Client

    node = web_site.node
    page.goto("/")
    status = node.status()
    assert page.get_by_text(status["chain_id"], exact=True).first.is_visible()
    height = page.locator(".card .value[data-live=height]")
    assert int(height.inner_text()) == status["height"]
    assert page.get_by_text("Single organisation, embedded node").is_visible()
    assert page.locator("tbody[data-live-blocks] tr").count() == 10
    top = page.locator("tbody[data-live-blocks] tr").first.get_attribute("data-height")
    assert int(top or -1) == node.tip.height
    shot(page, "explorer-home")

    key = load_key(web_site.home / "keys" / "operator.json", PASSPHRASE)
    with Client(web_site.url, timeout=10) as client:
        # the stream may still be connecting: send again until the page shows a block
        for attempt in range(3):
            time.sleep(0.3)
            sent = client.send(
                key, "operator", "funds.mint", {"to": "house-002", "amount": 7 + attempt}
            )
            row = page.locator(f'tbody[data-live-txs] tr[data-tx="{sent.hash}"]')
            try:
                row.get_by_text("funds.mint").wait_for(timeout=3000)
            except Exception:  # the stream opened after this block: send another
                continue
            break
        else:
            pytest.fail("no live transaction row appeared")
    assert row.get_by_role("link", name="operator").is_visible()
    assert page.locator(f'tbody[data-live-blocks] tr[data-height="{sent.height}"]').is_visible()
    assert int(height.inner_text()) >= sent.height
    assert page.locator("tbody[data-live-blocks] tr").count() == 10
    shot(page, "explorer-home-live")


def test_search_box_leads_to_the_record(page: Any, web_site: WebSite) -> None:
    page.goto("/")
    page.get_by_role("searchbox", name="Search the ledger").fill("m-pv-02")
    page.keyboard.press("Enter")
    page.wait_for_url("**/meters/m-pv-02")
    assert page.get_by_role("heading", level=1).inner_text() == "Meter m-pv-02"
    page.get_by_role("searchbox", name="Search the ledger").fill("no-such-thing")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=no-such-thing")
    assert "Nothing on the ledger matches" in page.get_by_role("alert").inner_text()
    # an empty search stays on the page it was typed on
    page.goto("/market")
    page.get_by_role("searchbox", name="Search the ledger").fill("  ")
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    assert page.url.endswith("/market")
    assert page.get_by_role("heading", level=1).is_visible()


def test_a_households_producer_page_says_it_is_no_producer(web_site: WebSite) -> None:
    with httpx.Client(base_url=web_site.url) as http:
        page = http.get("/producer/house-001")
        assert page.status_code == 404
        assert "house-001 is on the ledger, but it is not a producer" in page.text
        assert 'href="/consumer/house-001" data-role="consumer"' in page.text
        chinese = http.get("/consumer/owner-01?lang=zh-CN").text
        assert "owner-01 在账本上，但不是用户" in chinese
        assert 'href="/producer/owner-01"' in chinese
        assert "Nothing on the ledger matches" in http.get("/producer/nobody?lang=en").text


def test_account_page_matches_the_ledger_and_verifies(page: Any, web_site: WebSite) -> None:
    view = web_site.node.state.view
    page.goto("/accounts/house-001")
    record = registry.get_account(view, "house-001")
    assert record
    field = page.locator("[data-field]")
    assert field.and_(page.locator("[data-field=org]")).inner_text().startswith(record.org)
    assert page.locator("[data-field=roles]").inner_text() == ", ".join(record.roles)
    balance = page.locator("[data-field=balance]")
    assert int(balance.get_attribute("data-minor") or -1) == funds.balance_of(view, "house-001")
    assert balance.inner_text() == money(funds.balance_of(view, "house-001"))
    assert int(page.locator("[data-field=nonce]").inner_text()) == view.get_int(
        nonce_key("house-001")
    )
    stats = totals.account_totals(web_site.node.readmodels.reader(), "house-001")
    assert stats is not None
    assert stats.consumed_wh > 0
    consumed = page.locator("[data-stat=consumed_wh]").get_attribute("data-wh")
    assert int(consumed or -1) == stats.consumed_wh
    assert page.locator("[data-stat=generated_wh]").count() == 0  # a household generates nothing
    texts = _verify_all(page)
    assert len(texts) == 2
    assert all(VERIFIED.match(t) for t in texts)
    shot(page, "explorer-account")


def test_asset_pages_match_the_ledger_and_verify(page: Any, web_site: WebSite) -> None:
    view = web_site.node.state.view
    device = view.get_json(b"registry/device/pv-01")
    page.goto("/devices/pv-01")
    assert page.locator("[data-field=name]").inner_text() == device["name"]
    assert (
        int(page.locator("[data-field=capacity_w]").get_attribute("data-w") or 0)
        == (device["capacity_w"])
    )
    assert page.locator("[data-field=meters]").inner_text() == "m-pv-01"
    _verify_all(page)
    shot(page, "explorer-device")

    site = view.get_json(b"registry/site/flat-001")
    page.goto("/sites/flat-001")
    assert page.locator("[data-field=owner_org]").inner_text() == site["owner_org"]
    _verify_all(page)

    page.goto("/meters/m-pv-01")
    meter = view.get_json(b"registry/meter/m-pv-01")
    assert page.locator("[data-field=gateway]").inner_text() == meter["gateway"]
    stored = metering.readings(view, "m-pv-01")
    rows = page.locator("tbody[data-readings] tr")
    assert rows.count() == 24
    shown = [int(rows.nth(i).get_attribute("data-start") or 0) for i in range(rows.count())]
    assert shown == [r.start_s for r in stored[::-1][:24]]
    assert int(rows.first.get_attribute("data-wh") or -1) == stored[-1].energy_wh
    page.get_by_role("link", name="Older").first.click()
    page.wait_for_url(f"**/meters/m-pv-01?before={shown[-1]}")
    assert int(rows.first.get_attribute("data-start") or 0) == stored[::-1][24].start_s
    page.goto("/meters/m-pv-01")
    _verify_all(page)
    shot(page, "explorer-meter")


def test_block_and_transaction_pages_verify(page: Any, web_site: WebSite) -> None:
    tx_hash, blk = _some_tx(web_site)
    page.goto(f"/blocks/{blk.height}")
    assert page.locator("[data-field=hash]").inner_text() == blk.hash.hex()
    assert int(page.locator("[data-field=tx_count]").inner_text()) == blk.tx_count
    assert page.locator("tr[data-tx]").count() == min(blk.tx_count, 50)
    texts = _verify_all(page)
    assert texts == [
        f"Verified: block {blk.height} hashes to its id and is signed by operator. Final: 1 of "
        "1 organisations stand behind it (quorum 1): operator."
    ]
    shot(page, "explorer-block")

    page.locator(f'tr[data-tx="{tx_hash}"] a').first.click()
    page.wait_for_url(f"**/txs/{tx_hash}")
    stored = web_site.node.store.tx(bytes.fromhex(tx_hash))
    import json

    tx = json.loads(stored.raw)
    receipt = json.loads(stored.receipt)
    assert page.locator("[data-field=kind]").inner_text() == tx["kind"]
    assert page.locator("[data-field=sender]").inner_text() == tx["sender"]
    assert page.locator("[data-field=status]").inner_text() == {"ok": "OK"}.get(
        receipt["status"], "Failed"
    )
    texts = _verify_all(page)
    assert texts[0].startswith(f"Verified against block {blk.height}")
    shot(page, "explorer-tx")


def test_the_browser_verifier_refuses_altered_proofs(page: Any, web_site: WebSite) -> None:
    tx_hash, _ = _some_tx(web_site)
    page.goto("/accounts/owner-01")
    page.wait_for_function("window.GridLedgerVerify !== undefined")
    outcomes = page.evaluate(
        """async (txHash) => {
        const V = window.GridLedgerVerify;
        const keys = V.nodeKeys();
        const get = async (url) => (await fetch(url)).json();
        const run = async (fn) => {
          try { await fn(); return "verified"; } catch (err) { return err.code || String(err); }
        };
        const state = await get("/v1/state/funds/balance/owner-01/proof");
        const tx = await get(`/v1/txs/${txHash}/proof`);
        const copy = (o) => JSON.parse(JSON.stringify(o));
        const out = {};
        out.state = await run(() => V.verifyStateProof(state, keys));
        out.tx = await run(() => V.verifyTxProof(tx, keys));
        // a balance one higher, shown consistently: the leaf no longer matches
        const more = copy(state);
        more.value = state.value + 1;
        more.value_hex = V.toHex(new TextEncoder().encode(String(more.value)));
        out.value = await run(() => V.verifyStateProof(more, keys));
        // the bytes changed but not the value shown beside them
        const shown = copy(state);
        shown.value_hex = more.value_hex;
        out.shown = await run(() => V.verifyStateProof(shown, keys));
        // a sibling hash changed: the path no longer reaches the state root
        const sibling = copy(state);
        const level = sibling.proof.levels[0];
        const i = level.findIndex((h) => h !== null);
        level[i] = (level[i][0] === "0" ? "1" : "0") + level[i].slice(1);
        out.sibling = await run(() => V.verifyStateProof(sibling, keys));
        // the state root in the header changed: the header no longer hashes to its id
        const header = copy(state);
        header.header.state_root = "0".repeat(64);
        out.header = await run(() => V.verifyStateProof(header, keys));
        // a node key that did not sign the block
        const other = {operator: "ed25519:" + "11".repeat(32)};
        out.key = await run(() => V.verifyStateProof(state, other));
        out.no_key = await run(() => V.verifyStateProof(state, {}));
        // a transaction whose bytes or audit path changed
        const body = copy(tx);
        body.tx.nonce += 1;
        out.tx_shown = await run(() => V.verifyTxProof(body, keys));
        const moved = copy(tx);
        moved.index = (tx.index + 1) % tx.tree_size;
        out.tx_index = await run(() => V.verifyTxProof(moved, keys));
        out.message = V.message(new V.VerifyError("value", {}));
        return out;
    }""",
        tx_hash,
    )
    assert outcomes == {
        "state": "verified",
        "tx": "verified",
        "value": "value",
        "shown": "value",
        "sibling": "state_proof",
        "header": "header_hash",
        "key": "signature",
        "no_key": "no_key",
        "tx_shown": "tx_shown",
        "tx_index": "audit_path",
        "message": "Not verified: the proven value is not the one in the proof's leaf.",
    }


def test_chinese_explorer_on_a_phone(browser: Any, web_site: WebSite) -> None:
    context = browser.new_context(
        base_url=web_site.url, locale="zh-CN", viewport={"width": 375, "height": 740}
    )
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto("/")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert page.get_by_role("heading", name="最新区块").is_visible()
        assert page.get_by_text("单一组织，嵌入式节点").is_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375 + 1, width
        shot(page, "explorer-home-zh-phone")
        page.goto("/devices/pv-03")
        assert page.get_by_role("heading", level=1).inner_text() == "设备 pv-03"
        button = page.get_by_role("button", name="验证")
        button.focus()
        page.keyboard.press("Enter")
        result = page.locator("#proof-1-result[data-outcome]")
        result.wait_for()
        assert result.inner_text().startswith("已依据区块")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
        shot(page, "explorer-device-zh-phone")
        page.goto("/blocks/abc")
        assert "请求无效" in page.get_by_role("heading", level=1).inner_text()
    finally:
        context.close()


def test_api_docs_and_the_icon_need_no_other_site(page: Any, web_site: WebSite) -> None:
    """Swagger UI at /docs comes from the node itself: with every other host refused, it
    still lists the API's operations; pages name an icon the node serves."""
    asked: list[str] = []

    def only_the_node(route: Any) -> None:
        url = route.request.url
        if url.startswith(web_site.url):
            route.continue_()
        else:
            asked.append(url)
            route.abort()

    page.route("**/*", only_the_node)
    page.goto("/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 50
    assert page.get_by_text("/v1/status").first.is_visible()
    assert asked == []
    shot(page, "api-docs")
    page.goto("/")
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    assert icon == "/static/favicon.svg"
    for path in (icon, "/favicon.ico"):
        response = httpx.get(web_site.url + path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("image/svg+xml")


def test_a_transaction_body_shows_its_times_as_dates(web_site: WebSite) -> None:
    body = {"interval": 1796594400, "quantity_wh": 1500, "length_s": 3600,
            "readings": [{"meter": "m", "start": 1796590800, "length_s": 3600}],
            "valid_until_ms": 1796594400123, "price": 1796594400 // 10**6}  # fmt: skip
    assert body_times(body) == [
        ("interval", 1796594400),
        ("readings[0].start", 1796590800),
        ("valid_until_ms", 1796594400),
    ]
    node = web_site.node
    for height in range(1, node.tip.height + 1):
        offers = [
            stx
            for stx in node.store.block(height).txs()
            if decode_json(stx.raw)["kind"] == "market.place_offer"
        ]
        if offers:
            break
    tx = decode_json(offers[0].raw)
    page = httpx.get(f"{web_site.url}/txs/{sha256(offers[0].raw).hex()}").text
    start = tx["body"]["interval"]
    shown = SHANGHAI.format(start)
    assert '<dd data-path="interval"><time datetime=' in page
    assert f'title="{utc(start)} UTC">{shown}</time>' in page
