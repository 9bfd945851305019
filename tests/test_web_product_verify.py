"""The Verify page's JavaScript checks product proof files (``docs/formats.md`` §6e) with the
same verdicts as the Python verifier: ``tests/vectors/products.json`` replayed in chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from web_support import verify_page_dropper

VECTORS = Path(__file__).with_name("vectors") / "products.json"


def test_the_browser_agrees_with_every_product_vector(page: Any) -> None:
    v = json.loads(VECTORS.read_text(encoding="utf-8"))
    page.goto("/verify")
    page.wait_for_function("window.GridLedgerVerify !== undefined")
    found = page.evaluate(
        """async (v) => {
        const V = window.GridLedgerVerify;
        const keys = V.parseKeys(v.keys);
        const run = async (file, seenAt) => {
          try {
            const r = await V.verifyProductProof(structuredClone(file), keys, seenAt);
            return {valid: true, final: r.finality.final, verdict: r.verdict ?? null,
                    reasons: r.reasons ?? null, footprint: r.footprint ?? null};
          } catch (err) { return {valid: false, reason: err.code || String(err)}; }
        };
        const genuine = {};
        for (const [name, c] of Object.entries(v.genuine)) {
          genuine[name] = await run(c.file, c.expect.seen_at ?? undefined);
        }
        const s = v.seen_elsewhere;
        const elsewhere = await run(v.genuine[s.file].file, s.seen_at);
        const refused = [];
        for (const c of v.refused) refused.push(await run(c.file));
        return {genuine, elsewhere, refused};
        }""",
        v,
    )
    for name, case in v["genuine"].items():
        got, want = found["genuine"][name], case["expect"]
        assert got["valid"], (name, got)
        assert got["final"] == want["final"], name
        assert got["verdict"] == want["verdict"], name
        assert got["reasons"] == want["reasons"], name
        assert got["footprint"] == want["footprint"], name
    case = v["seen_elsewhere"]
    assert (found["elsewhere"]["verdict"], found["elsewhere"]["reasons"]) == (
        case["verdict"],
        case["reasons"],
    )
    assert [r.get("reason") for r in found["refused"]] == [c["reason"] for c in v["refused"]]


def test_the_verify_page_checks_a_dropped_passport(page: Any, tmp_path: Path) -> None:
    v = json.loads(VECTORS.read_text(encoding="utf-8"))
    dropper = verify_page_dropper(page, v["keys"], tmp_path)
    result = page.locator("#check-result")

    def drop(content: dict[str, Any]) -> str:
        return dropper("passport.json", content)

    assert drop(v["genuine"]["batch"]["file"]) == "verified"
    assert result.get_attribute("data-kind") == "product"
    assert result.inner_text().startswith(
        "Verified: the records of GTIN 06950000000019, L1, are in block 3"
    )
    details = page.locator("#check-details").inner_text()
    fp = v["genuine"]["batch"]["expect"]["footprint"]
    assert f"{fp['total_market_g']} g, {fp['total_location_g']} g CO2" in details
    assert drop(v["genuine"]["recalled"]["file"]) == "verified"
    assert "Recalled (item_recalled)" in page.locator("#check-details").inner_text()
    (forged,) = [c for c in v["refused"] if c["reason"] == "footprint_sum"]
    assert drop(forged["file"]) == "failed"
    assert result.get_attribute("data-reason") == "footprint_sum"
    assert result.inner_text() == (
        "Not verified: the footprint of 06950000000019/L1 does not add up to its parts."
    )
