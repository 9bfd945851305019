"""The passport and scan pages, in a browser and without one, on :mod:`products_node`'s
supply chain (ingots of ``homes`` made into rims by ``solar``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cert_node import CertChain
from gridledger.contracts import products
from gridledger.contracts.products import gs1
from gridledger.documents.passport import per_kg
from gridledger.web.views.carbon import kg
from products_node import INGOT, RIM, products_chain
from web_support import shot


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CertChain, str]]:
    from gridledger.api import ApiServer

    with (
        products_chain(tmp_path_factory.mktemp("products-web") / "home") as chain,
        ApiServer(chain.node) as server,
    ):
        yield chain, server.url


@pytest.fixture
def tab(browser: Any, site: tuple[CertChain, str]) -> Iterator[Any]:
    context = browser.new_context(base_url=site[1], locale="en-US")
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        yield page
    finally:
        context.close()


def test_a_passport_shows_the_footprint_and_leads_to_its_inputs(
    tab: Any, site: tuple[CertChain, str]
) -> None:
    chain, _url = site
    fp = products.get_footprint(chain.node.state.view, RIM, "R1")
    assert fp is not None
    tab.goto(f"/products/{RIM}/batches/R1")
    assert tab.get_by_role("heading", level=1).inner_text() == "Carbon passport: Wheel rim, lot R1"
    cards = tab.locator(".cards")
    assert cards.locator('[data-field="per_kg_market"] .big').inner_text() == per_kg(
        fp.total_market_g, fp.mass_g
    )
    assert tab.locator('[data-field="total_market"]').inner_text() == kg(fp.total_market_g)
    assert tab.locator("[data-qr] svg").count() == 1
    assert tab.locator('[data-field="digital_link"]').inner_text() == gs1.digital_link(RIM, "R1")
    row = tab.locator(f'tr[data-input="{INGOT}/L1"]')
    assert "360 of 1,000 kg, by mass" in row.inner_text()
    assert tab.locator('tr[data-holder="solar"]').inner_text().split()[-1] == "40"
    shot(tab, "products-passport")
    row.get_by_role("link").click()
    tab.wait_for_url(f"**/products/{INGOT}/batches/L1?lang=en")
    assert tab.locator(f'[data-used-in="{RIM}/R1"]').count() == 1
    with httpx.Client(base_url=site[1], timeout=30) as http:
        pdf = http.get(tab.locator('[data-doc="pdf"]').get_attribute("href"))
        assert pdf.headers["content-type"] == "application/pdf"


def test_scanning_a_part(tab: Any) -> None:
    tab.goto("/products/scan")
    tab.get_by_label("Scanned link (GS1 Digital Link)").fill(gs1.digital_link(RIM, serial="S2"))
    tab.get_by_label("Organisation that has it in hand (optional)").fill("homes")
    tab.get_by_role("button", name="Check").click()
    tab.wait_for_url("**/products/scan?**")
    assert tab.locator('[data-field="verdict"]').inner_text() == "Genuine"
    types = [e.get_attribute("data-type") for e in tab.locator("tr[data-event]").all()]
    assert types == ["registered", "shipped", "received"]
    shot(tab, "products-scan")
    tab.get_by_label("Organisation that has it in hand (optional)").fill("solar")
    tab.get_by_role("button", name="Check").click()
    tab.wait_for_url("**seen_at=solar**")
    assert (
        tab.locator('[data-verdict="suspicious"] [data-reason]').get_attribute("data-reason")
        == "two_holders"
    )


def test_pages_without_a_browser(site: tuple[CertChain, str]) -> None:
    with httpx.Client(base_url=site[1], timeout=30) as http:
        assert http.get(f"/products/{RIM}/batches/R9").status_code == 404
        assert http.get("/products/00000000000000/batches/R1").status_code == 404
        bad = http.get("/products/scan", params={"link": "https://x/01/123"})
        assert bad.status_code == 400
        assert 'data-error="products.scan.bad_link"' in bad.text
        unknown = http.get("/products/scan", params={"gtin": RIM, "serial": "S9"})
        assert 'data-reason="unknown_serial"' in unknown.text
        zh = http.get(f"/products/{RIM}/batches/R1", params={"lang": "zh-CN"})
        assert "碳护照" in zh.text


@pytest.mark.parametrize(
    "path", [f"/products/{RIM}/batches/R1", f"/products/scan?gtin={RIM}&serial=S2"]
)
def test_the_pages_fit_a_phone_and_have_one_heading(tab: Any, path: str) -> None:
    tab.set_viewport_size({"width": 375, "height": 740})
    tab.goto(path)
    assert tab.locator("h1").count() == 1
    assert tab.evaluate("document.documentElement.scrollWidth") <= 376
    unlabelled = tab.evaluate(
        "() => [...document.querySelectorAll('svg')].filter((s) => !s.closest('[aria-hidden]')"
        " && s.getAttribute('role') !== 'img').length"
    )
    assert unlabelled == 0
