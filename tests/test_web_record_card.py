"""A household's monthly clean-power card, against the served demo community: only its
member, signed in (or the operator), fetches it; the record page offers it in both languages
at 375 px; the downloaded proof file checks out with the consortium keys alone, its figures
are the card's, its QR payload is what the PDF carries, and a tampered file is refused."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from gridledger.cli.main import app
from gridledger.documents.card import card_lines, qr_text
from gridledger.sdk import Client
from gridledger.sdk.card_proofs import CardProofError, check_card_records, verify_card_proof
from gridledger.sdk.consortium_keys import export_keys
from gridledger.sim.community import demo_details
from web_support import LAST_DAY, WebSite, password_of, shot, signed_in_client

PHONE = {"width": 375, "height": 740}
MONTH = LAST_DAY.strftime("%Y-%m")
ACCOUNT = "house-002"


def _keys(site: WebSite) -> dict[str, Any]:
    with Client(site.url) as client:
        return export_keys(client).to_json()


def test_only_the_household_fetches_its_card(web_site: WebSite) -> None:
    base = f"{web_site.url}/v1/community/cards/{ACCOUNT}/{MONTH}"
    for tail in ("/proof", ".pdf", ".png?lang=zh"):
        assert httpx.get(base + tail).json()["error"]["code"] == "auth.sign_in_required"
    with signed_in_client(web_site, "house-001") as http:
        answer = http.get(f"/v1/community/cards/{ACCOUNT}/{MONTH}/proof")
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "auth.not_your_account"
        assert http.get(f"/v1/community/cards/{ACCOUNT}/2025-13/proof").status_code == 400
        assert http.get(f"/v1/community/cards/nobody/{MONTH}/proof").status_code == 404
    operator = {"Authorization": f"Bearer {web_site.summary['logins']['operator_token']}"}
    proof = httpx.get(base + "/proof", headers=operator).json()
    summary = verify_card_proof(proof, _keys(web_site))
    assert summary.account == ACCOUNT
    assert summary.month == MONTH
    assert summary.claimed_wh > 0
    assert summary.hours > 0
    assert summary.avoided_g > 0
    assert [c.name for c in summary.certifiers], "the demo's certifier issued the certificates"
    text = json.dumps(proof, ensure_ascii=False)
    details = demo_details(1)  # house-002's member
    assert details.name not in text, "ids only"
    assert details.address not in text


def _tampered(proof: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    forged = copy.deepcopy(proof)
    bundle = next(r for r in forged["records"] if r["key"].startswith("certificates/bundle/"))
    bundle["value"] = bundle["value"].replace('"quantity_wh":', '"quantity_wh":1', 1)
    out.append(("card.state_proof", forged))
    other = copy.deepcopy(proof)
    other["account"] = "house-001"
    out.append(("card.missing_record", other))
    month = copy.deepcopy(proof)
    month["month"] = "2025-05"
    out.append(("card.outside_month", month))
    dropped = copy.deepcopy(proof)
    dropped["records"] = [r for r in dropped["records"] if not r["key"].startswith("registry/org/")]
    out.append(("card.missing_record", dropped))
    header = copy.deepcopy(proof)
    header["header"]["time"] += 1
    out.append(("card.header_hash", header))
    return out


@pytest.mark.parametrize(("lang", "locale"), [("zh", "zh-CN"), ("en", "en-GB")])
def test_the_record_page_offers_a_card_that_verifies_offline(
    browser: Any, web_site: WebSite, lang: str, locale: str
) -> None:
    context = browser.new_context(
        base_url=web_site.url, viewport=PHONE, locale=locale, accept_downloads=True
    )
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"/consumer/{ACCOUNT}/record?view=month&month={MONTH}")
        assert page.locator('[data-share="card"]').count() == 0, "signed out: no card"
        page.goto(f"/login?next=/consumer/{ACCOUNT}/record")
        form = page.locator('form[action="/login/password"]')
        form.locator('input[name="account"]').fill(ACCOUNT)
        form.locator('input[name="password"]').fill(password_of(web_site, ACCOUNT))
        form.locator('button[type="submit"]').click()
        page.wait_for_url(re.compile(rf".*/consumer/{ACCOUNT}/record$"))
        page.goto(f"/consumer/{ACCOUNT}/record?view=month&month={MONTH}")
        share = page.locator('[data-share="card"]')
        assert share.is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
        shot(page, f"record-card-{locale}")
        with page.expect_download() as got:
            share.locator('[data-card="proof"]').click()
        proof = json.loads(got.value.path().read_text(encoding="utf-8"))
        with page.expect_download() as got:
            share.locator('[data-card="pdf"]').click()
        pdf = got.value.path().read_bytes()
        with page.expect_download() as got:
            share.locator('[data-card="png"]').click()
        png = got.value.path().read_bytes()
    finally:
        context.close()
    keys = _keys(web_site)
    summary = verify_card_proof(proof, keys)
    assert summary.account == ACCOUNT
    assert summary.final
    assert pdf.startswith(b"%PDF")
    assert png.startswith(b"\x89PNG")
    # the QR code is drawn from this payload, carried in the PDF's subject too
    payload = qr_text(proof)
    assert payload.encode() in pdf
    assert (
        payload
        == f"GLRC1:{summary.chain_id}/{ACCOUNT}/{MONTH}/{summary.height}/{summary.block_hash}"
    )
    lines = card_lines(proof, lang, None)
    assert summary.certifiers[0].name in dict(lines.rows).values()
    for code, bad in _tampered(proof):
        with pytest.raises(CardProofError) as refused:
            verify_card_proof(bad, keys)
        assert refused.value.code == code, (code, refused.value)
    assert check_card_records(proof).claimed_wh == summary.claimed_wh


def test_the_operator_exports_and_anyone_verifies_from_the_command_line(
    web_site: WebSite, tmp_path: Path
) -> None:
    token = web_site.summary["logins"]["operator_token"]
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(_keys(web_site)))
    card = tmp_path / "card.json"
    common = ["--node", web_site.url, "--token", token]
    done = CliRunner().invoke(app, ["community", "card", "export", ACCOUNT, MONTH, "--out",
                                    str(card), *common])  # fmt: skip
    assert done.exit_code == 0, done.output
    pdf = tmp_path / "card.pdf"
    done = CliRunner().invoke(app, ["community", "card", "export", ACCOUNT, MONTH, "--out",
                                    str(pdf), "--lang", "zh", *common])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert pdf.read_bytes().startswith(b"%PDF")
    checked = CliRunner().invoke(
        app, ["community", "card", "verify", str(card), "--keys", str(keys), "--json"]
    )
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.output)["account"] == ACCOUNT
    proof = json.loads(card.read_text())
    proof["month"] = "2025-01"
    card.write_text(json.dumps(proof))
    refused = CliRunner().invoke(
        app, ["community", "card", "verify", str(card), "--keys", str(keys), "--json"]
    )
    assert refused.exit_code == 1
    assert "card.outside_month" in refused.output
    unsigned = CliRunner().invoke(
        app, ["community", "card", "export", ACCOUNT, MONTH, "--out", str(card),
              "--node", web_site.url],
        env={"GRIDLEDGER_OPERATOR_TOKEN": ""},
    )  # fmt: skip
    assert unsigned.exit_code == 1
