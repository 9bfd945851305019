"""A household's record after a simulated month, in a real browser at 375 px: a small demo
community (2 plants, 3 households, the 30 days of June 2025 in Shenzhen) runs into its own
home, and the record page shows each household's streak, month and milestones exactly as
:mod:`gridledger.readmodels.green_record` computes them from that ledger, in both languages.

The demo takes about a minute on two busy cores: this is the suite's one month-long chain."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gridledger.contracts import registry
from gridledger.documents.card import qr_text
from gridledger.readmodels.carbon import zone_of
from gridledger.readmodels.green_record import Record, household_record
from gridledger.sdk import Client
from gridledger.sdk.card_proofs import CardProofError, verify_card_proof
from gridledger.sdk.consortium_keys import export_keys
from gridledger.web.render import kwh, permille
from web_support import shot

PHONE = {"width": 375, "height": 740}
JUNE = "2025-06"


@pytest.fixture(scope="module")
def month_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, str]]:
    """The served month-long demo: its URL, its node and the operator's bearer token."""
    from gridledger.api.server import ApiServer
    from gridledger.node.home import open_node
    from gridledger.sim.community import DemoConfig, run_demo

    home: Path = tmp_path_factory.mktemp("month") / "demo"
    summary = run_demo(
        DemoConfig(plants=2, households=3, days=30, last_day=dt.date(2025, 6, 30)), home, "pp"
    )
    node = open_node(home, "pp", verify_workers=0, block_interval_ms=20)
    try:
        node.start()
        with ApiServer(node, "127.0.0.1", 0) as server:
            yield server.url, node, summary["logins"]["operator_token"]
    finally:
        node.close()


def _records(node: Any) -> dict[str, Record]:
    view = node.state.view
    conn = node.readmodels.reader()
    return {
        a.id: household_record(conn, view, a.org, 500, zone_of(conn))
        for a in registry.list_accounts(view, role="consumer").items
        if a.id.startswith("house-")
    }


def test_a_month_of_clean_days_makes_a_streak_and_milestones(
    browser: Any, month_site: tuple[str, Any, str]
) -> None:
    url, node, _ = month_site
    records = _records(node)
    account, rec = max(records.items(), key=lambda item: (item[1].best_streak, item[0]))
    june = rec.month(JUNE)
    assert june is not None
    assert june.days == 30
    assert rec.best_streak >= 7, "a sunny June gives some household a week of clean days"
    reached = {m.key: m.reached_s for m in rec.milestones}
    assert reached["first_clean_day"] is not None
    assert reached["streak_7"] is not None
    for lang, title in (
        ("en", f"Clean power record of {account}"),
        ("zh-CN", f"{account} 的绿电记录"),
    ):
        context = browser.new_context(base_url=url, viewport=PHONE)
        try:
            page = context.new_page()
            page.goto(f"/consumer/{account}/record?view=month&month={JUNE}&lang={lang}")
            assert page.locator("h1").inner_text() == title
            assert page.locator('[data-field="streak"]').inner_text() == str(rec.streak)
            assert (
                page.locator('[data-field="clean-days"]').inner_text() == f"{june.clean_days} / 30"
            )
            assert page.locator('[data-field="month-share"]').inner_text() == permille(
                june.share_permille
            )
            assert page.locator('[data-field="month-matched"]').inner_text() == kwh(june.matched_wh)
            assert page.locator('[data-table="days"] tbody tr').count() == 30
            for key, at in reached.items():
                shown = page.locator(f'[data-milestone="{key}"]').get_attribute("data-reached")
                assert shown == ("yes" if at is not None else "no"), key
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
            shot(page, f"record-june-{lang}")
            page.locator('[data-view="year"]').click()
            assert page.locator(f'[data-table="months"] tr[data-month="{JUNE}"]').is_visible()
        finally:
            context.close()


def test_the_months_card_is_witnessed_by_the_ledger(month_site: tuple[str, Any, str]) -> None:
    """After the simulated month, the household's June card: its proof file checks out with
    the consortium keys alone and states the certified clean energy the household claimed in
    June, the hours and CO2 avoided, the certifier by name; the PDF carries its QR payload,
    and a file moved to another month is refused."""
    url, node, token = month_site
    records = _records(node)
    account, rec = max(records.items(), key=lambda item: (item[1].best_streak, item[0]))
    june = rec.month(JUNE)
    assert june is not None
    operator = {"Authorization": f"Bearer {token}"}
    base = f"{url}/v1/community/cards/{account}/{JUNE}"
    proof = httpx.get(base + "/proof", headers=operator).json()
    with Client(url) as client:
        keys = export_keys(client).to_json()
    summary = verify_card_proof(proof, keys)
    assert (summary.account, summary.month) == (account, JUNE)
    assert summary.claimed_wh > 0
    assert 0 < summary.hours <= 30 * 24
    assert summary.avoided_g > 0
    assert [c.name for c in summary.certifiers]
    pdf = httpx.get(base + ".pdf?lang=zh", headers=operator).content
    assert pdf.startswith(b"%PDF")
    assert qr_text(proof).encode() in pdf
    tampered = json.loads(json.dumps(proof))
    tampered["month"] = "2025-05"
    with pytest.raises(CardProofError):
        verify_card_proof(tampered, keys)
