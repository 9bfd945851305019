"""The certificate pages against the ledger, in a real browser, in English and Chinese.

The demo community's certifier issued its plants' final hours while the demo ran, so each
household that bought clean power holds claimed certificates. A household reaches its page
from its power page and sees its hourly-matched (24/7) and volume shares, the certificates
claimed for it with their PDF and proof file, and the way to the Verify page; the certifier
sees its issuance queue (a late reading appears in it, and leaves it once the certifier's
keeper has issued it) and the registry, filtered through the form. Figures are checked against
the contract's queries; every page is usable 375 px wide with no sideways scrolling.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import httpx

from gridledger.contracts import certificates, registry
from gridledger.core.keystore import load_key
from gridledger.node.cert_keeper import CertificateKeeper, issuance_queue
from gridledger.node.home import key_path, local_time
from gridledger.readmodels import certificates as index
from gridledger.sdk.tx import sign_tx
from gridledger.web.render import kwh, permille
from gridledger.web.views.certificates import DEFAULT_DAYS, PAGE, QUEUE_DAYS
from gridledger.web.views.market import DAY_S, latest_day, now_s
from web_support import LAST_DAY, PASSPHRASE, WebSite, shot

TIMING = re.compile(r"render;dur=(\d+(?:\.\d+)?)")
PHONE = {"width": 375, "height": 740}
CERTIFIER = "certifier"


def _field(page: Any, name: str, within: str = "") -> str:
    return str(page.locator(f'{within} [data-field="{name}"]'.strip()).first.inner_text()).strip()


def _period(web_site: WebSite) -> tuple[int, int]:
    """The household page's default period: the latest days of market data."""
    last = latest_day(web_site.node.state.view, local_time(web_site.home))
    assert last is not None
    return last - (DEFAULT_DAYS - 1) * DAY_S, last + DAY_S


def _household_with_claims(web_site: WebSite) -> str:
    view = web_site.node.state.view
    start, end = _period(web_site)
    for account in registry.list_accounts(view, role="consumer").items:
        if certificates.statement(view, account.id, start, end).claimed_wh:
            return account.id
    raise AssertionError("no household has claimed certificates on a sunny day")


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, (page.url, width)


def test_a_household_sees_its_certificates_and_hourly_share(
    page: Any, web_site: WebSite, tmp_path: Path
) -> None:
    account = _household_with_claims(web_site)
    view = web_site.node.state.view
    page.goto(f"/consumer/{account}")
    page.get_by_role("link", name="Your energy certificates and hourly-matched clean share").click()
    page.wait_for_url(f"**/certificates/household/{account}")
    assert page.get_by_role("heading", level=1).inner_text() == f"Certificates of {account}"
    # the shares, from the contract's matching of the household's site
    start, end = _period(web_site)
    (site,) = registry.list_sites(view, owner_org=account).items
    m = certificates.matching(view, site.id, start, end)
    assert m.hourly_matched_wh > 0
    assert _field(page, "hourly_share") == permille(m.hourly_matched_wh * 1000 // m.consumption_wh)
    assert _field(page, "volume_share") == permille(m.volume_score_ppm // 1000)
    assert _field(page, "consumed") == kwh(m.consumption_wh)
    assert _field(page, "claimed") == kwh(m.claimed_wh)
    assert _field(page, "matched") == kwh(m.hourly_matched_wh)
    # certificates are claimed only from deliveries, so every claimed Wh matched its hour
    assert m.claimed_wh == m.hourly_matched_wh
    assert page.locator(".chart svg[role=img]").count() == 1
    # the claimed certificates, each with its documents
    stated = certificates.statement(view, account, start, end)
    rows = page.locator('table[data-table="claimed"] tbody tr')
    assert rows.count() == min(len(stated.bundles), PAGE)
    first = stated.bundles[0]
    row = page.locator(f'table[data-table="claimed"] tr[data-bundle="{first.id}"]')
    assert row.locator('[data-field="wh"]').inner_text() == str(first.quantity_wh)
    assert row.locator('[data-field="status"]').inner_text() == "Claimed"
    assert first.cancellation is not None
    assert (first.owner, first.cancellation.site) == (account, site.id)
    # nothing is held unclaimed: a delivery's certificates are claimed at once
    assert page.locator('[data-empty="held"]').is_visible()
    shot(page, "certificates-household")
    # its PDF and its proof file download from the row
    with page.expect_download() as pdf:
        row.locator('[data-doc="pdf"]').click()
    assert Path(pdf.value.path()).read_bytes().startswith(b"%PDF-")
    with page.expect_download() as proof:
        row.locator('[data-doc="proof"]').click()
    proof_file = tmp_path / "proof.json"
    proof.value.save_as(proof_file)
    assert json.loads(proof_file.read_text())["bundle_id"] == first.id
    # the certificate's own page, then the public Verify page, where the browser checks proofs
    row.get_by_role("link", name=first.id).click()
    page.wait_for_url(re.compile(r".*/certificates/bundle/"))
    assert page.get_by_role("heading", level=1).inner_text() == f"Certificate {first.id}"
    assert _field(page, "hash") == first.hash
    assert _field(page, "status") == "Claimed"
    assert (
        page.locator('[data-doc="qr"]').get_attribute("href") == f"/v1/certificates/{first.id}/qr"
    )
    shot(page, "certificates-bundle")
    page.get_by_role("link", name="Verify page").click()
    page.wait_for_url("**/verify")
    # the browser checks the downloaded proof with the chain's keys, nothing sent anywhere
    page.get_by_label("Proof file (JSON)").set_input_files(proof_file)
    page.get_by_role("button", name="Check", exact=True).click()
    result = page.locator("#check-result[data-outcome]")
    result.wait_for()
    assert result.get_attribute("data-outcome") == "verified", result.inner_text()
    assert result.inner_text().startswith(f"Valid certificate {first.id}: {first.quantity_wh} Wh")
    shot(page, "certificates-household-verified")


def test_the_certifiers_queue_empties_when_its_keeper_issues(page: Any, web_site: WebSite) -> None:
    node = web_site.node
    page.goto("/certificates")
    page.get_by_role("link", name=CERTIFIER, exact=True).click()
    page.wait_for_url(f"**/certificates/certifier/{CERTIFIER}")
    queue = issuance_queue(node.state.view, now_s(node), QUEUE_DAYS * DAY_S)
    assert queue.due_total == 0, "the demo's keeper issued every final hour"
    assert page.locator('[data-empty="queue"]').is_visible()
    # a reading of the next day arrives late: its hour is final at once, and due
    hour = int(dt.datetime.combine(LAST_DAY, dt.time(4), tzinfo=dt.UTC).timestamp()) + DAY_S
    gateway = load_key(key_path(web_site.home, "gw-shekou"), PASSPHRASE)
    reading = {"meter": "m-pv-01", "start": hour, "length_s": 3600, "energy_wh": 1234}
    tx = sign_tx(gateway, node.chain_id, "metering.submit", "gw-shekou",
                 node.next_nonce("gw-shekou"), {"readings": [reading]})  # fmt: skip
    assert node.wait_receipt(node.submit(tx.encode()), 10) is not None
    page.reload()
    assert _field(page, "due") == "1"
    assert _field(page, "due_wh") == kwh(1234)
    row = page.locator(f'table[data-table="queue"] tr[data-device="pv-01"][data-start="{hour}"]')
    assert row.locator('[data-field="measured_wh"]').inner_text() == "1234"
    shot(page, "certificates-certifier-queue")
    # the certifier's keeper, with the certifier's own key, issues it
    key = load_key(key_path(web_site.home, CERTIFIER), PASSPHRASE)
    keeper = CertificateKeeper(node, CERTIFIER, key, recheck_s=0)
    try:
        sent = keeper.tick()
        assert [(s.kind, s.device, s.starts) for s in sent] == [
            ("certificates.issue", "pv-01", (hour,))
        ]
        assert node.wait_receipt(bytes.fromhex(sent[0].tx_hash), 10) is not None
    finally:
        keeper.stop()
    page.reload()
    assert page.locator('[data-empty="queue"]').is_visible()
    ledger = certificates.device_ledger(node.state.view, "pv-01")
    plant = page.locator('table[data-table="plants"] tr[data-device="pv-01"]')
    assert plant.locator('[data-field="issued"]').inner_text() == kwh(ledger.issued_wh)
    assert plant.locator('[data-field="intervals"]').inner_text() == str(ledger.intervals)
    # the registry form: that plant's active certificates of that day
    form = page.locator('form[data-form="filter"]')
    form.get_by_label("Plant").select_option("pv-01")
    form.get_by_label("Status").select_option("active")
    form.get_by_label("Production day").fill(f"{LAST_DAY + dt.timedelta(days=1)}")
    form.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r".*/certificates\?device=pv-01&.*status=active.*day=2025-06-22"))
    rows = page.locator('table[data-table="bundles"] tbody tr')
    assert rows.count() == 1
    (issued,) = [
        b
        for b in certificates.bundles_of_device(node.state.view, "pv-01", limit=None).items
        if b.production_start_s == hour
    ]
    assert rows.first.get_attribute("data-bundle") == issued.id
    assert _field(page, "wh", 'table[data-table="bundles"]') == "1234"
    assert _field(page, "owner", 'table[data-table="bundles"]') == "owner-01"
    shot(page, "certificates-registry-filtered")


def test_the_registry_pages_through_the_ledger(page: Any, web_site: WebSite) -> None:
    node = web_site.node
    view = node.state.view
    page.goto("/certificates?device=pv-02")
    time_s = node.tip.time // 1000
    f = index.BundleFilter(device="pv-02", time_s=time_s)
    for total in index.totals(node.readmodels.reader(), f):
        card = page.locator(f'[data-totals] [data-status="{total.status}"]')
        assert card.locator('[data-field="wh"]').inner_text() == kwh(total.quantity_wh)
    every = certificates.bundles_of_device(view, "pv-02", limit=None).items
    assert len(every) > PAGE, "the demo splits enough bundles for two pages"
    shown = page.locator('table[data-table="bundles"] tbody tr').evaluate_all(
        "rows => rows.map(r => r.dataset.bundle)"
    )
    assert shown == [b.id for b in every[:PAGE]]
    shot(page, "certificates-registry")
    page.get_by_role("link", name="More certificates").click()
    page.wait_for_url(re.compile(r".*after=pv-02.*"))
    shown = page.locator('table[data-table="bundles"] tbody tr').evaluate_all(
        "rows => rows.map(r => r.dataset.bundle)"
    )
    assert shown == [b.id for b in every[PAGE : 2 * PAGE]]
    # a household's page from the registry's form
    page.get_by_label("Account id").fill("house-002")
    page.get_by_role("button", name="Open").click()
    page.wait_for_url("**/certificates/household/house-002")
    # bad filters: a translated 400 that names the value; unknown records: a translated 404
    with httpx.Client(base_url=web_site.url) as http:
        for query, text in (
            ("day=2025-13-01", "Not a date: 2025-13-01"),
            ("status=lost", "Not a status: lost"),
            ("owner=Bad%20Id", "Not an account id: Bad Id"),
            ("after=nonsense", "Not a certificate id: nonsense"),
        ):
            answer = http.get(f"/certificates?{query}")
            assert answer.status_code == 400, query
            assert text in answer.text, query
        assert "不是日期" in http.get("/certificates?day=x&lang=zh-CN").text
        for path in (
            "/certificates/household/nobody",
            "/certificates/household/owner-01",
            "/certificates/certifier/house-001",
            "/certificates/bundle/pv-01:999999999",
            "/certificates/bundle/nonsense",
        ):
            for lang, text in (("en", "Nothing on the ledger matches"), ("zh-CN", "账本")):
                answer = http.get(path, params={"lang": lang})
                assert answer.status_code == 404, path
                assert text in answer.text, path
        # bounded work: each page within the render budget
        account = _household_with_claims(web_site)
        for path in (
            "/certificates",
            f"/certificates/household/{account}",
            f"/certificates/certifier/{CERTIFIER}",
            "/certificates?status=claimed",
        ):
            http.get(path)  # templates compile once
            timing = TIMING.match(http.get(path).headers["server-timing"])
            assert timing is not None
            assert float(timing.group(1)) < 300, path


def test_chinese_pages_on_a_phone(browser: Any, web_site: WebSite) -> None:
    account = _household_with_claims(web_site)
    bundle = certificates.statement(web_site.node.state.view, account, *_period(web_site)).bundles[
        0
    ]
    context = browser.new_context(base_url=web_site.url, locale="zh-CN", viewport=PHONE)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"/consumer/{account}")
        _no_sideways_scroll(page)
        page.get_by_role("link", name="您的能源证书与逐时匹配的清洁电力占比").click()
        page.wait_for_url(f"**/certificates/household/{account}")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert page.get_by_role("heading", level=1).inner_text() == f"{account} 的证书"
        assert page.get_by_role("heading", name="为您声明使用的证书").is_visible()
        assert page.get_by_text("逐时匹配占比（24/7）").first.is_visible()
        _no_sideways_scroll(page)
        shot(page, "certificates-household-zh-phone")
        for path, heading, name in (
            ("/certificates", "证书登记簿", "certificates-registry-zh-phone"),
            (f"/certificates/certifier/{CERTIFIER}", f"认证机构 {CERTIFIER}",
             "certificates-certifier-zh-phone"),
            (f"/certificates/bundle/{bundle.id}", f"证书 {bundle.id}",
             "certificates-bundle-zh-phone"),
        ):  # fmt: skip
            page.goto(path)
            assert page.get_by_role("heading", level=1).inner_text() == heading
            assert (
                page.get_by_role("link", name="证书", exact=True).get_attribute("aria-current")
                == "page"
            )
            _no_sideways_scroll(page)
            shot(page, name)
        page.goto("/producer/owner-01")
        page.get_by_role("link", name="pv-01 的证书").click()
        page.wait_for_url("**/certificates?device=pv-01")
        assert page.locator('table[data-table="bundles"] tbody tr').count() > 0
        _no_sideways_scroll(page)
    finally:
        context.close()
