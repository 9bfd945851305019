"""The Verify page's JavaScript checks record card proof files (``docs/formats.md`` §6f) with
the same figures and reasons as the Python verifier: ``tests/vectors/cards.json`` replayed in
chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from web_support import verify_page_dropper

VECTORS = Path(__file__).with_name("vectors") / "cards.json"


def test_the_browser_agrees_with_every_card_vector(page: Any) -> None:
    v = json.loads(VECTORS.read_text(encoding="utf-8"))
    page.goto("/verify")
    page.wait_for_function("window.GridLedgerVerify !== undefined")
    found = page.evaluate(
        """async (v) => {
        const V = window.GridLedgerVerify;
        const keys = V.parseKeys(v.keys);
        const run = async (file) => {
          try {
            const r = await V.verifyCardProof(structuredClone(file), keys);
            return {valid: true, final: r.finality.final, claimed_wh: r.claimed_wh, hours: r.hours,
                    avoided_g: r.avoided_g, bundles: r.bundles, certifiers: r.certifiers,
                    factors: r.factors,
                    kind: (await V.verifyProofFile(structuredClone(file), keys)).kind};
          } catch (err) { return {valid: false, reason: err.code || String(err)}; }
        };
        const genuine = {};
        for (const [name, c] of Object.entries(v.genuine)) genuine[name] = await run(c.file);
        const refused = [];
        for (const c of v.refused) refused.push(await run(c.file));
        return {genuine, refused};
        }""",
        v,
    )
    for name, case in v["genuine"].items():
        got = found["genuine"][name]
        assert got["valid"], (name, got)
        assert got["kind"] == "card"
        assert {k: got[k] for k in case["expect"]} == case["expect"], name
    assert [r.get("reason") for r in found["refused"]] == [c["reason"] for c in v["refused"]]


def test_the_verify_page_checks_a_dropped_card(page: Any, tmp_path: Path) -> None:
    v = json.loads(VECTORS.read_text(encoding="utf-8"))
    dropper = verify_page_dropper(page, v["keys"], tmp_path)
    result = page.locator("#check-result")

    def drop(content: dict[str, Any]) -> str:
        return dropper("card.json", content)

    assert drop(v["genuine"]["june"]["file"]) == "verified"
    assert result.get_attribute("data-kind") == "card"
    assert result.inner_text().startswith(
        "Verified: the clean power card of house-b for 2025-06 is in block 4"
    )
    details = page.locator("#check-details").inner_text()
    assert "1000 Wh, 1 h" in details
    assert "TÜV Shenzhen" in details
    (outside,) = [c for c in v["refused"] if c["reason"] == "outside_month"]
    assert drop(outside["file"]) == "failed"
    assert result.get_attribute("data-reason") == "outside_month"
    assert "was produced outside the card's month" in result.inner_text()
