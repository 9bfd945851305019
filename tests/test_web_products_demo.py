"""The demo community's supply chain in a browser: the products index from the site's
navigation, the clean car's passport leading to its rims' passport, and checking a rim by its
Digital Link; the index in Chinese and on a phone."""

from __future__ import annotations

from typing import Any

import httpx

from gridledger.contracts import products
from gridledger.contracts.products import gs1
from gridledger.documents.passport import per_kg
from gridledger.sim.supply_chain import CAR, INGOT, RIM, vin
from web_support import WebSite, shot


def test_the_demo_cars_passport_leads_to_its_rims_and_a_rim_checks_out(
    page: Any, web_site: WebSite
) -> None:
    view = web_site.node.state.view
    car = products.get_footprint(view, CAR, "C-CLEAN")
    assert car is not None
    page.goto("/")
    page.get_by_role("navigation").get_by_role("link", name="Products", exact=True).click()
    page.wait_for_url("**/products")
    assert page.get_by_role("heading", level=1).inner_text() == "Products and carbon passports"
    assert page.locator("section[data-type]").count() == 3
    row = page.locator(f'tr[data-batch="{CAR}/C-CLEAN"]')
    assert (
        row.locator('[data-field="market"]')
        .inner_text()
        .startswith(per_kg(car.total_market_g, car.mass_g))
    )
    shot(page, "products-index")
    row.get_by_role("link", name="C-CLEAN").click()
    page.wait_for_url(f"**/products/{CAR}/batches/C-CLEAN?lang=en")
    assert "Passenger car" in page.get_by_role("heading", level=1).inner_text()
    page.locator(f'tr[data-input="{RIM}/R-CLEAN"]').get_by_role("link").click()
    page.wait_for_url(f"**/products/{RIM}/batches/R-CLEAN?lang=en")
    assert page.locator(f'tr[data-input="{INGOT}/L1"]').count() == 1
    assert page.locator(f'[data-used-in="{CAR}/C-CLEAN"]').count() == 1
    # check a clean rim: it is installed in the clean car, at the car maker
    page.goto("/products")
    page.locator('[data-link="scan"]').click()
    page.get_by_label("Scanned link (GS1 Digital Link)").fill(gs1.digital_link(RIM, serial="W-C1"))
    page.get_by_label("Organisation that has it in hand (optional)").fill("carco")
    page.get_by_role("button", name="Check").click()
    page.wait_for_url("**/products/scan?**")
    assert page.locator('[data-field="verdict"]').inner_text() == "Genuine"
    assert vin("C-CLEAN") in page.locator('[data-field="holder"]').inner_text()
    types = [e.get_attribute("data-type") for e in page.locator("tr[data-event]").all()]
    assert types == ["registered", "shipped", "received", "installed"]


def test_the_products_index_in_chinese_and_on_a_phone(page: Any, web_site: WebSite) -> None:
    with httpx.Client(base_url=web_site.url, timeout=30) as http:
        zh = http.get("/products", params={"lang": "zh-CN"})
        assert zh.status_code == 200
        assert "产品与碳护照" in zh.text
        assert 'href="/products" aria-current="page"' in zh.text
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto("/products")
    assert page.locator("h1").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 376
