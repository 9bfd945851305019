"""Certificates checked in the browser: the explorer's public Verify page (``/verify``).

Every case of ``tests/vectors/certificates.json`` is replayed in chromium's WebCrypto and must
give the Python verifier's verdict (the vector's ``expect``); then the page is used as a person
would: a consortium keys file loaded, a proof file dropped on the form (genuine, tampered, with
a later file showing a withdrawal), and a QR payload pasted, alone and with its proof file.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from web_support import WebSite, shot, verify_page_dropper

VECTORS = Path(__file__).with_name("vectors") / "certificates.json"


def _vectors() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return found


def _file(v: dict[str, Any], name: str) -> dict[str, Any]:
    (case,) = [c for c in v["cases"] if c["name"] == name]
    delta = case["file"]
    file = {**copy.deepcopy(v["proofs"][delta["base"]]), **delta["change"]}
    for field in delta["remove"]:
        file.pop(field)
    return file


def test_the_browser_agrees_with_every_certificate_vector(page: Any) -> None:
    v = _vectors()
    page.goto("/verify")
    page.wait_for_function("window.GridLedgerVerify !== undefined")
    found = page.evaluate(
        """async (v) => {
        const V = window.GridLedgerVerify;
        const keys = V.parseKeys(v.keys);
        const fileOf = (d) => {
          const f = {...structuredClone(v.proofs[d.base]), ...structuredClone(d.change)};
          for (const name of d.remove) delete f[name];
          return f;
        };
        const cases = [];
        for (const c of v.cases) {
          try {
            const caseKeys = c.keys ? V.parseKeys(c.keys) : keys;
            const later = c.later ? fileOf(c.later) : null;
            const r = await V.verifyCertificateProof(fileOf(c.file), caseKeys, later);
            const out = {valid: true, ...r.summary, attested: r.finality.attested};
            if (r.later) out.later = {height: r.later.height, status: r.later.status,
                                      split_since: r.later.split_since};
            cases.push(out);
          } catch (err) { cases.push({valid: false, reason: err.code || String(err)}); }
        }
        const qr = [];
        for (const c of v.qr) {
          try {
            const r = await V.verifyQrPayload(c.payload, keys, c.proof ? v.proofs[c.proof] : null);
            const p = r.payload;
            const claims = {bundle_id: p.bundle_id, bundle_hash: p.bundle_hash,
                            quantity_wh: p.quantity_wh, production_start_s: p.production_start_s,
                            height: p.height};
            qr.push({valid: true, proposer: p.proposer, block_hash: p.block_hash,
                     node_key: r.nodeKey, claims, claims_checked: r.proof !== null});
          } catch (err) { qr.push({valid: false, reason: err.code || String(err)}); }
        }
        const hash = await V.bundleHashOf(JSON.parse(v.bundle_hash.record));
        return {cases, qr, hash};
    }""",
        v,
    )
    for case, got in zip(v["cases"], found["cases"], strict=True):
        expect = case["expect"]
        assert {k: got.get(k) for k in expect} == expect, case["name"]
    for case, got in zip(v["qr"], found["qr"], strict=True):
        expect = case["expect"]
        if not expect["valid"]:
            assert got == expect, case["name"]
            continue
        assert got["valid"], case["name"]
        assert got["claims"] == expect["claims"], case["name"]
        assert got["claims_checked"] == expect["claims_checked"], case["name"]
        proven = expect["proven"]
        assert (got["proposer"], got["block_hash"], got["node_key"]) == (
            proven["proposer"], proven["block_hash"], proven["node_key"],
        ), case["name"]  # fmt: skip
    assert found["hash"] == v["bundle_hash"]["hash"]


def _mutations(base: dict[str, Any]) -> list[dict[str, Any]]:
    """The genuine file with one leaf changed: each string at its first, middle and last
    character, each integer by one, each boolean flipped."""
    found = []

    def walk(node: Any, path: list[Any]) -> None:
        if isinstance(node, dict | list):
            for key, child in node.items() if isinstance(node, dict) else enumerate(node):
                walk(child, [*path, key])
            return
        variants: list[Any] = []
        if isinstance(node, str):
            for at in sorted({0, len(node) // 2, len(node) - 1}):
                variants.append(node[:at] + ("0" if node[at] != "0" else "1") + node[at + 1 :])
        elif isinstance(node, bool):
            variants.append(not node)
        elif isinstance(node, int):
            variants.append(node + 1)
        for variant in variants:
            changed = copy.deepcopy(base)
            target = changed
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = variant
            found.append(changed)

    walk(base, [])
    return found


def test_the_browser_gives_the_python_verdict_on_every_altered_byte(page: Any) -> None:
    from gridledger.sdk.certificate_proofs import CertificateProofError, verify_certificate_proof

    v = _vectors()
    files = _mutations(v["proofs"]["claimed"])
    python = []
    for file in files:
        try:
            verify_certificate_proof(file, v["keys"])
            python.append("valid")
        except CertificateProofError as exc:
            python.append(exc.reason)
    page.goto("/verify")
    page.wait_for_function("window.GridLedgerVerify !== undefined")
    browser = page.evaluate(
        """async ([files, keysFile]) => {
        const V = window.GridLedgerVerify;
        const keys = V.parseKeys(keysFile);
        const out = [];
        for (const f of files) {
          try { await V.verifyCertificateProof(f, keys, null); out.push("valid"); }
          catch (err) { out.push(err.code || String(err)); }
        }
        return out;
    }""",
        [files, v["keys"]],
    )
    assert len(files) > 150
    assert browser == python
    assert python.count("valid") == 1  # only "final": false, a smaller claim


def test_the_verify_page_checks_a_dropped_proof_file_and_a_pasted_payload(
    page: Any, tmp_path: Path, web_site: WebSite
) -> None:
    v = _vectors()
    drop = verify_page_dropper(page, v["keys"], tmp_path)
    result = page.locator("#check-result")

    assert drop("claimed.json", v["proofs"]["claimed"]) == "verified"
    assert result.get_attribute("data-kind") == "certificate"
    assert result.get_attribute("data-final") == "true"
    assert result.inner_text().startswith(
        "Valid certificate pv-a:1: 1000 Wh of Shekou rooftop PV, Building A (pv-a), produced "
        "2025-06-01 18:00 – 19:00 Asia/Shanghai (2025-06-01T10:00:00Z – 2025-06-01T11:00:00Z); "
        "claimed at block 4, signed by utility-d."
    )
    details = page.locator("#check-details").inner_text()
    assert "house-b (home-b" in details
    assert "tuv-shenzhen (tuv-1, energytag-gc/2024)" in details
    shot(page, "verify-certificate-valid")

    assert drop("tampered.json", _file(v, "the bundle's owner changed in its value")) == "failed"
    assert result.get_attribute("data-reason") == "state_proof"
    assert result.inner_text() == (
        "Not verified: the Merkle proof does not lead to the header's state root."
    )
    assert drop("forged.json", _file(v, "forged: the bundle's hash does not cover its fields")) == (
        "failed"
    )
    assert (
        result.inner_text() == "Not verified: certificate pv-a:1's fields do not hash to its hash."
    )
    shot(page, "verify-certificate-refused")

    # the active certificate, with a later file of the same bundle showing it withdrawn
    later = tmp_path / "later.json"
    later.write_text(json.dumps(v["proofs"]["withdrawn"]))
    page.get_by_label("Later proof file of the same certificate (optional)").set_input_files(later)
    assert drop("active.json", v["proofs"]["active"]) == "failed"
    assert result.get_attribute("data-reason") == "withdrawn_later"
    assert "was withdrawn since, as block 5 shows: meter fault under review" in result.inner_text()

    # a QR payload pasted: alone it proves the block signature, and says the rest is a claim
    qr_result = page.locator("#qr-result")

    def paste(text: str, proof: Path | None = None) -> str:
        qr_result.evaluate("el => { delete el.dataset.outcome; }")
        page.get_by_label("QR payload").fill(text)
        page.get_by_label("The certificate's proof file (optional)").set_input_files(
            [] if proof is None else proof
        )
        page.get_by_role("button", name="Check payload").click()
        page.locator("#qr-result[data-outcome]").wait_for()
        return str(qr_result.get_attribute("data-outcome"))

    payload = v["qr_payload"]["text"]
    assert paste(payload) == "verified"
    assert qr_result.get_attribute("data-claims") == "unchecked"
    block_hash = v["proofs"]["claimed"]["block_hash"]  # the payload's certificate
    assert qr_result.inner_text().startswith(
        f"Valid signature: utility-d's node key at height 4 signed block {block_hash}"
    )
    assert "is a claim: check its proof file to prove it" in qr_result.inner_text()
    assert "Claimed, not proven" in page.locator("#qr-details").inner_text()
    shot(page, "verify-certificate-qr")

    claimed = tmp_path / "claimed.json"
    claimed.write_text(json.dumps(v["proofs"]["claimed"]))
    assert paste(payload, claimed) == "verified"
    assert qr_result.get_attribute("data-claims") == "checked"
    active = tmp_path / "active.json"
    active.write_text(json.dumps(v["proofs"]["active"]))
    assert paste(payload, active) == "failed"
    assert qr_result.get_attribute("data-reason") == "qr_mismatch"
    (case,) = [c for c in v["qr"] if c["name"] == "the signature changed"]
    assert paste(case["payload"]) == "failed"
    assert qr_result.get_attribute("data-reason") == "bad_block_signature"
    assert paste("GLC1:not/a/payload") == "failed"
    assert qr_result.inner_text() == "Not verified: this is not a certificate QR payload (fields)."


def test_the_verify_page_in_chinese(page: Any, tmp_path: Path, web_site: WebSite) -> None:
    v = _vectors()
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(v["keys"]))
    page.goto("/verify?lang=zh-CN")
    page.locator("input[data-keys-file]").set_input_files(keys)
    page.locator("[data-keys-source][data-source=file]").wait_for()
    page.locator("#qr-payload").fill(v["qr_payload"]["text"])
    page.locator("form[data-qr-form] button[type=submit]").click()
    page.locator("#qr-result[data-outcome=verified]").wait_for()
    assert (
        page.locator("#qr-result")
        .inner_text()
        .startswith("签名有效：utility-d 在高度 4 的节点密钥签署了区块")
    )
    shot(page, "verify-certificate-qr-zh")
