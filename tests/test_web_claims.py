"""The claims pages in a real browser: the demo community's hall claim, from the carbon page
to the claim's detail (scopes, retired credits, the verifier's statement, the proof file and
PDF), at desktop width and at 375 px in Chinese, with no sideways scrolling; and every case of
``tests/vectors/claims.json`` replayed by the Verify page's JavaScript with the Python
verifier's verdict.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from gridledger.contracts import claims
from gridledger.web.views.carbon import kg
from web_support import WebSite, shot

PHONE = {"width": 375, "height": 740}


def test_the_hall_claim_on_desktop_and_on_a_phone(
    page: Any, browser: Any, web_site: WebSite
) -> None:
    claim_id = web_site.summary["neutrality"]["claim"]
    claim = claims.get_claim(web_site.node.state.view, claim_id)
    assert claim is not None
    assert claim.statement is not None
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/carbon")
    page.locator('a[data-link="claims"]').click()
    page.wait_for_url("**/claims")
    row = page.locator(f'tr[data-claim="{claim_id}"]')
    assert row.locator('[data-field="status"]').inner_text() == "verified"
    row.get_by_role("link", name=claim_id).click()
    page.wait_for_url(f"**/claims/{claim_id}")
    residual = page.locator('[data-scope="residual"] td')
    assert int(residual.get_attribute("data-value")) == claim.residual_g
    assert residual.inner_text() == f"{kg(claim.residual_g)} kg"
    retired = page.locator('[data-scope="retired"] td')
    assert int(retired.get_attribute("data-value")) == claim.retired_t
    rows = page.locator('table[data-table="retirements"] tbody tr')
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.retirement)") == [
        str(r.id) for r in claim.retirements
    ]
    assert page.locator('[data-field="opinion"]').inner_text() == "reasonable assurance"
    shot(page, "claim-desktop")
    proof_href = page.locator('a[data-link="proof"]').get_attribute("href")
    pdf_href = page.locator('a[data-link="pdf"]').get_attribute("href")
    proof = httpx.get(web_site.url + proof_href).json()
    assert (proof["format"], proof["claim_id"]) == ("gridledger/claim-proof/v1", claim_id)
    pdf = httpx.get(web_site.url + pdf_href)
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert httpx.get(web_site.url + "/claims/no-such-claim").status_code == 404

    context = browser.new_context(base_url=web_site.url, locale="zh-CN", viewport=PHONE)
    try:
        phone = context.new_page()
        for path in ("/claims", f"/claims/{claim_id}"):
            phone.goto(path)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"] + 1, (path, width)
        assert phone.locator("h1").inner_text() == f"{claim.subject.name}：碳中和"
        assert phone.locator('[data-field="opinion"]').inner_text() == "合理保证"
        assert phone.locator('a[data-link="pdf"]').get_attribute("href").endswith("lang=zh")
        shot(phone, "claim-phone-zh")
    finally:
        context.close()


VECTORS = Path(__file__).with_name("vectors") / "claims.json"


def test_the_browser_agrees_with_every_claim_vector(page: Any) -> None:
    v = json.loads(VECTORS.read_text(encoding="utf-8"))
    page.goto("/verify")
    page.wait_for_function("window.GridLedgerVerify !== undefined")
    found = page.evaluate(
        """async (v) => {
        const V = window.GridLedgerVerify;
        const keys = V.parseKeys(v.keys);
        const out = [];
        for (const c of v.cases) {
          const f = {...structuredClone(v.proofs[c.base]), ...structuredClone(c.change)};
          for (const name of c.remove) delete f[name];
          try {
            const r = await V.verifyClaimProof(f, keys);
            out.push({valid: true, ...r.summary});
          } catch (err) { out.push({valid: false, reason: err.code || String(err)}); }
        }
        return out;
        }""",
        v,
    )
    expected = [c["expect"] for c in v["cases"]]
    assert [f["valid"] for f in found] == [e["valid"] for e in expected]
    for case, got, want in zip(v["cases"], found, expected, strict=True):
        assert got == want, case["name"]
