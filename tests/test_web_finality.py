"""Finality in the browser: every attestation vector replayed in chromium's WebCrypto, the
proof-file page with a consortium keys file, the Verify buttons with the genesis keys or a
loaded file, and the explorer's block page saying whether a block is final and who stands
behind it.

The served demo community is a chain of one organisation (its blocks are final by their
signature, 1 of 1); attestations of several organisations come from
``tests/vectors/attestations.json``, whose proof files are loaded into the page as a user would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from web_support import WebSite, shot

VECTORS = Path(__file__).with_name("vectors") / "attestations.json"


def _vectors() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return found


def _proof_file(v: dict[str, Any], name: str, folder: Path) -> Path:
    (case,) = [c for c in v["proofs"] if c["name"] == name]
    path = folder / f"{name.replace(' ', '-')}.json"
    path.write_text(json.dumps({**v["proof_files"][case["base"]], **case["change"]}))
    return path


def test_the_browser_agrees_with_every_attestation_vector(page: Any) -> None:
    v = _vectors()
    page.goto("/verify")
    page.wait_for_function("window.GridLedgerVerify !== undefined")
    found = page.evaluate(
        """async (v) => {
        const V = window.GridLedgerVerify;
        const keys = V.parseKeys(v.keys);
        const cases = [];
        for (const c of v.cases) {
          try {
            const r = await V.verifyFinality(c.header, c.block_hash, c.signature, c.attestations,
                                             c.keys ? V.parseKeys(c.keys) : keys);
            cases.push({final: r.final, attested: r.attested, quorum: r.quorum,
                        proposers: r.proposers, proposer_signed: r.proposerSigned,
                        rejected: r.rejected.map((x) => ({index: x.index, reason: x.reason})),
                        beyond_keys: r.beyond});
          } catch (err) { cases.push({error: err.code || String(err)}); }
        }
        const proofs = [];
        for (const c of v.proofs) {
          try {
            await V.verifyProofFile({...v.proof_files[c.base], ...c.change}, keys);
            proofs.push({valid: true});
          } catch (err) { proofs.push({valid: false, error: err.code || String(err)}); }
        }
        const refused = v.keys_invalid.map((c) => {
          try { V.parseKeys(c.keys); return "accepted"; } catch (err) { return err.code; }
        });
        return {cases, proofs, refused};
    }""",
        v,
    )
    assert found["cases"] == [c["expect"] for c in v["cases"]]
    assert found["proofs"] == [c["expect"] for c in v["proofs"]]
    assert set(found["refused"]) == {"keys_invalid"}


def test_proof_file_page_checks_finality_with_a_keys_file(
    page: Any, tmp_path: Path, web_site: WebSite
) -> None:
    v = _vectors()
    keys = tmp_path / "consortium-keys.json"
    keys.write_text(json.dumps(v["keys"]))
    page.goto("/verify")
    source = page.locator("[data-keys-source]")
    assert source.get_attribute("data-source") == "genesis"
    assert source.inner_text().startswith("Node keys: the genesis document's")
    page.get_by_label("Check with a consortium keys file").set_input_files(keys)
    page.locator("[data-keys-source][data-source=file]").wait_for()
    assert source.inner_text() == (
        "Node keys: consortium-keys.json (chain gridledger-vectors, exact up to height 5)."
    )

    proof_input = page.get_by_label("Proof file (JSON)")
    check = page.get_by_role("button", name="Check", exact=True)
    result = page.locator("#check-result")

    def outcome(name: str) -> str:
        result.evaluate("el => { delete el.dataset.outcome; }")
        proof_input.set_input_files(_proof_file(v, name, tmp_path))
        check.click()
        page.locator("#check-result[data-outcome]").wait_for()
        return str(result.get_attribute("data-outcome"))

    assert outcome("a transaction proof, final with a quorum") == "verified"
    assert result.get_attribute("data-final") == "true"
    assert result.get_attribute("data-attested") == "operator,utility-b,utility-c"
    assert result.inner_text() == (
        "Valid: the transaction is number 1 of block 4, signed by utility-b. Final: 3 of 4 "
        "organisations stand behind it (quorum 3): operator, utility-b, utility-c."
    )
    details = page.locator("#check-details")
    assert "Standing behind it" in details.inner_text()
    shot(page, "verify-proof-file-final")

    assert outcome("a transaction proof, not yet final") == "verified"
    assert result.get_attribute("data-final") == "false"
    assert result.inner_text().endswith(
        "Not shown final: 2 of 4 organisations stand behind it (quorum 3): operator, utility-b."
    )

    assert outcome("a transaction proof claiming final without a quorum") == "failed"
    assert result.inner_text() == (
        "Not verified: the proof says block 4 is final, but only 2 of 4 organisations stand "
        "behind it (3 needed): operator, utility-b."
    )
    assert outcome("a transaction proof signed with utility-b's key before its rotation") == (
        "failed"
    )
    assert "not utility-b's node key at height 4" in result.inner_text()
    shot(page, "verify-proof-file-refused")

    # a keys file the format refuses is not taken
    (tmp_path / "bad.json").write_text(json.dumps({**v["keys"], "up_to_height": 0}))
    page.get_by_label("Check with a consortium keys file").set_input_files(tmp_path / "bad.json")
    status = page.locator("[data-keys-status].bad")
    status.wait_for()
    assert status.inner_text().startswith("Not verified: the keys file is not valid: up_to_height")
    assert source.get_attribute("data-source") == "file"  # the good file is still in use


def test_verify_buttons_use_the_loaded_keys_then_the_genesis_keys(
    page: Any, tmp_path: Path, web_site: WebSite
) -> None:
    height = web_site.node.tip.height
    page.goto(f"/blocks/{height}")
    button = page.locator("button[data-verify=header]")
    result = page.locator("#header-result")

    def press() -> str:
        result.evaluate("el => { delete el.dataset.outcome; }")
        button.click()
        page.locator("#header-result[data-outcome]").wait_for()
        return str(result.get_attribute("data-outcome"))

    assert press() == "verified"
    assert result.get_attribute("data-final") == "true"
    assert result.inner_text().endswith(
        "Final: 1 of 1 organisations stand behind it (quorum 1): operator."
    )
    # the consortium keys of another chain, loaded on the proof-file page, stay for this tab
    keys = tmp_path / "other-keys.json"
    keys.write_text(json.dumps(_vectors()["keys"]))
    page.goto("/verify")
    page.get_by_label("Check with a consortium keys file").set_input_files(keys)
    page.locator("[data-keys-source][data-source=file]").wait_for()
    page.goto(f"/blocks/{height}")
    assert page.locator("[data-keys-source]").get_attribute("data-source") == "file"
    assert press() == "failed"
    chain_id = web_site.node.chain_id
    assert result.inner_text() == (
        f"Not verified: the keys are for chain gridledger-vectors, the block is of chain "
        f"{chain_id}."
    )
    page.get_by_role("button", name="Use the genesis keys").click()
    assert page.locator("[data-keys-source]").get_attribute("data-source") == "genesis"
    assert press() == "verified"


def test_block_page_shows_finality_and_who_stands_behind_it(page: Any, web_site: WebSite) -> None:
    height = web_site.node.tip.height
    page.goto(f"/blocks/{height}")
    final = page.locator("[data-field=final]")
    assert final.get_attribute("data-final") == "true"
    assert final.inner_text() == "Final"
    attested = page.locator("[data-field=attested]")
    assert attested.get_attribute("data-orgs") == "operator"
    assert "1 of the 1 organisations allowed to propose this block" in attested.inner_text()
    shot(page, "explorer-block-finality")
    page.goto("/blocks/0")
    assert page.locator("[data-field=final]").inner_text().startswith("Final (the genesis block")
    assert page.locator("[data-field=attested]").count() == 0
    page.goto(f"/blocks/{height}?lang=zh-CN")
    assert page.locator("[data-field=final]").inner_text() == "已最终确认"
    assert "需要 1 个" in page.locator("[data-field=attested]").inner_text()
    page.goto("/?lang=en")
    page.get_by_role("link", name="Check a proof file").click()
    page.wait_for_url("**/verify")
    assert page.get_by_role("heading", level=1).inner_text() == "Check a proof file"
