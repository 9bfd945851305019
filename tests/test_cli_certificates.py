"""``gridledger cert`` against a node whose clock the test moves (the node runs in this process,
its API on 127.0.0.1; commands run through typer's runner as a user would type them).

The readings are ``cert_node``'s. Every transaction command is run once as a user would, its
receipt's events checked; every view's ``--json`` output is compared with what the SDK reads
from the same node and with values worked out by hand; tables are checked for what they show.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cert_node import CERTIFIER, FEB, CertChain, cert_chain
from fixtures_node import PASSPHRASE
from gridledger.cli import certificates as cert_cli
from gridledger.cli.main import app
from gridledger.documents import energytag
from gridledger.node.node import DB_NAME
from market_node import HOUR, PARTIES, NodeCli, node_cli

DAY = 86_400

Cli = NodeCli[CertChain]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    home = tmp_path_factory.mktemp("cert-cli") / "home"
    with cert_chain(home) as chain, node_cli(chain, (*PARTIES, CERTIFIER), ("cert",)) as cli:
        yield cli


def iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


@pytest.fixture(scope="module")
def issued(cli: Cli) -> Cli:
    """Every transaction command, once (see each step)."""
    chain = cli.chain
    h0, h1, h2 = chain.h0, chain.h1, chain.h2
    # issuance: by ISO time and Unix seconds; one bundle per interval
    assert cli.events("issue", "--from", "cert", "--device", "pv-1", "--to", "sun",
                      "--start", iso(h0), "--start", h1) == [
        {"type": "certificates.issued", "device": "pv-1", "to": "sun", "intervals": 2,
         "quantity_wh": 3500}]  # fmt: skip
    cli.events("issue", "--from", "cert", "--device", "pv-2", "--to", "sun", "--start", h0)
    split = cli.events("split", "pv-1:1", "--part", 500, "--part", 1500, "--from", "sun")
    assert split[0]["into"] == ["pv-1:1", "pv-1:501"]
    cli.events("transfer", "pv-1:501", "--to", "ann", "--from", "sun")
    locked = cli.events("lock", "pv-1:2001", "--for", "ben", "--quantity-wh", 100, "--from", "sun")
    assert (locked[0]["bundle"], locked[0]["quantity_wh"]) == ("pv-1:2001", 100)
    assert cli.events("unlock", "pv-1:2001", "--from", "sun")[0]["bundle"] == "pv-1:2001"
    cli.events("cancel", "pv-1:501", "--beneficiary", "ann", "--site", "s-ann",
               "--period-start", iso(h0), "--period-end", h0 + HOUR, "--from", "ann")  # fmt: skip
    assert cli.events("claim", "pv-1:501", "--from", "ann")[0]["quantity_wh"] == 1500
    cli.events("withdraw", "pv-1:2101", "--reason", "audit", "--quantity-wh", 300,
               "--from", "cert")  # fmt: skip
    reissued = cli.events("reissue", "--device", "pv-1", "--start", h1, "--to", "sun",
                          "--quantity-wh", 300, "--reason", "audit reversed",
                          "--from", "cert")  # fmt: skip
    assert (reissued[0]["bundle"], reissued[0]["quantity_wh"]) == ("pv-1:3501", 300)
    assert cli.failed("reconcile", "--device", "pv-1", "--start", h1, "--from", "cert") == (
        "certificates.nothing_to_reconcile")  # fmt: skip
    assert cli.failed("expire", "pv-1:1", "--from", "ann") == "certificates.not_expired"
    cli.events("set-acceptance", "--mode", "listed", "--sender", "sun", "--from", "ben")
    cli.events("transfer", "pv-1:3501", "--to", "ben", "--from", "sun")
    assert cli.failed("transfer", "pv-1:1", "--to", "ben", "--from", "ann") == (
        "certificates.not_owner")  # fmt: skip

    # the battery: charged with pv-2's hour, discharged at h2 with 200 Wh lost
    cli.events("charge-storage", "--storage", "bat-1", "pv-2:1", "--from", "sun")
    out = cli.events("discharge-storage", "--storage", "bat-1", "--start", h2, "--to", "sun",
                     "--losses-wh", 200, "--from", "cert")  # fmt: skip
    assert (out[0]["bundle"], out[0]["quantity_wh"]) == ("bat-1:1", 1500)

    # China GECs: one recorded for January, traded and converted; February exported
    cli.events("gec", "record", "GEC-1", "--project", "Wind farm 1", "--device", "wind-1",
               "--month", "2025-01", "--owner", "sun", "--from", "cert")  # fmt: skip
    cli.events("gec", "transfer", "GEC-1", "--to", "ann", "--from", "sun")
    assert cli.events("gec", "cancel", "GEC-1", "--from", "ann")[0]["bundle"] == "wind-1:1"
    cli.events("issue", "--from", "cert", "--device", "wind-1", "--to", "sun", "--start", FEB)
    exported = cli.events("gec", "export", "--device", "wind-1", "--month", "2025-02",
                          "--from", "sun")  # fmt: skip
    assert (exported[0]["mwh"], exported[0]["carried_wh"]) == (1, 500_000)

    assert cli.events("set-params", "--expiry-s", DAY, "--from", "operator")[0] == {
        "type": "certificates.params_set", "scheme": "energytag-gc/2024"}  # fmt: skip
    return cli


def test_list_and_show(issued: Cli) -> None:
    cli = issued
    every = cli.json("cert", "list")
    assert every == cli.client.certificates.list()
    assert [(b["id"], b["owner"], b["current_status"], b["quantity_wh"])
            for b in every["certificates"]] == [
        ("bat-1:1", "sun", "active", 1500),
        ("pv-1:1", "sun", "active", 500),
        ("pv-1:501", "ann", "claimed", 1500),
        ("pv-1:2001", "sun", "active", 100),
        ("pv-1:2101", "sun", "withdrawn", 300),
        ("pv-1:2401", "sun", "active", 1100),
        ("pv-1:3501", "ben", "active", 300),
        ("pv-2:1", "sun", "storage_charged", 3000),
        ("wind-1:1", "ann", "active", 1_000_000),
        ("wind-1:1000001", "sun", "gec_exported", 1_000_000),
        ("wind-1:2000001", "sun", "active", 500_000),
    ]  # fmt: skip
    mine = cli.json("cert", "list", "--owner", "ann", "--status", "claimed")
    assert [b["id"] for b in mine["certificates"]] == ["pv-1:501"]
    by_plant = cli.json("cert", "list", "--device", "pv-1", "--limit", 2)
    assert ([b["id"] for b in by_plant["certificates"]], by_plant["next"]) == (
        ["pv-1:1", "pv-1:501"], "pv-1:501")  # fmt: skip
    rest = cli.json("cert", "list", "--device", "pv-1", "--after", "pv-1:501", "--limit", 1)
    assert [b["id"] for b in rest["certificates"]] == ["pv-1:2001"]
    h1 = cli.chain.h1
    window = cli.json("cert", "list", "--from", iso(h1), "--to", h1 + HOUR)
    assert [b["id"] for b in window["certificates"]] == ["pv-1:2001", "pv-1:2101", "pv-1:2401",
                                                          "pv-1:3501"]  # fmt: skip
    assert cli.json("cert", "list", "--beneficiary", "ann") == cli.client.certificates.list(
        beneficiary="ann")  # fmt: skip

    table = cli.run("cert", "list", "--owner", "sun", "--limit", 2).stdout
    assert "bat-1:1" in table
    assert "pv-1:1" in table
    assert "storage_charged" not in table
    assert "more: --after pv-1:1" in table

    shown = cli.json("cert", "show", "pv-1:3501")
    assert shown == cli.client.certificates.get("pv-1:3501")
    assert (shown["origin"], shown["owner"]) == ("reissue:audit reversed", "ben")
    assert "reissue:audit reversed" in cli.run("cert", "show", "pv-1:3501").stdout


def test_views(issued: Cli) -> None:
    cli, c = issued, issued.client.certificates
    chain = cli.chain
    h0, h1, h2 = chain.h0, chain.h1, chain.h2

    totals = cli.json("cert", "totals", "--owner", "ann")
    assert totals == c.totals(owner="ann")
    assert totals["quantity_wh"] == 1500 + 1_000_000
    assert "total 1001500 Wh" in cli.run("cert", "totals", "--owner", "ann").stdout

    issuances = cli.json("cert", "issuances", "pv-1", "--from", h0, "--to", iso(h2))
    assert issuances == c.issuances("pv-1", h0, h2)
    assert issuances["ledger"] == {"last_id": 3800, "issued_wh": 3800, "withdrawn_wh": 300,
                                   "intervals": 2}  # fmt: skip
    assert issuances["issuances"][1]["reissues"] == [[3501, 300]]
    shown = cli.run("cert", "issuances", "pv-1", "--from", h0, "--to", h2).stdout
    assert "metered" in shown
    assert "3501" not in shown  # the re-issue's range is in the JSON only
    assert "last id       3800" in shown

    matching = cli.json("cert", "matching", "--site", "s-ann", "--from", h0, "--to", h2)
    assert matching == c.matching("s-ann", h0, h2)
    # 1500 Wh of h0 claimed for s-ann: min(600, 1500) + min(1400, 0) of 2000
    assert (matching["hourly_score"], matching["volume_score"]) == ("0.300000", "0.750000")
    table = cli.run("cert", "matching", "--site", "s-ann", "--from", h0, "--to", h2,
                    "--hours").stdout  # fmt: skip
    assert "0.300000" in table
    assert "1400" in table

    statement = cli.json("cert", "statement", "--beneficiary", "ann", "--from", h0, "--to", h2)
    assert statement == c.statement("ann", h0, h2)
    assert (statement["claimed_wh"], statement["by_site"]) == (1500, {"s-ann": 1500})
    assert "pv-1:501" in cli.run("cert", "statement", "--beneficiary", "ann", "--from", h0,
                                 "--to", h2).stdout  # fmt: skip

    assert cli.json("cert", "params")["expiry_s"] == DAY
    assert cli.json("cert", "acceptance", "ben") == {
        "account": "ben", "acceptance": {"mode": "listed", "senders": ["sun"]}}  # fmt: skip
    storage = cli.json("cert", "storage", "bat-1")
    assert storage == c.storage("bat-1")
    assert (storage["left_wh"], storage["charges"][0]["remaining_wh"]) == (3000 - 1700, 1300)
    assert "pv-2:1 (1300/3000)" in cli.run("cert", "storage", "bat-1").stdout

    gec = cli.json("cert", "gec", "show", "GEC-1")
    assert (gec["status"], gec["bundle"], gec["owner"]) == ("converted", "wind-1:1", "ann")
    assert cli.json("cert", "gec", "list") == {"gecs": [gec], "next": None}
    listed = cli.run("cert", "gec", "list").stdout
    assert "GEC-1" in listed
    assert "converted" in listed
    assert "Wind farm 1" in cli.run("cert", "gec", "show", "GEC-1").stdout
    assert h1 < h2


def test_exports(issued: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = issued
    text = cli.run("cert", "export-csv").stdout
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(energytag.FIELDS)
    # pages of 3 bundles: one header row all the same, every bundle once
    monkeypatch.setattr(cert_cli, "EXPORT_PAGE", 3)
    assert cli.run("cert", "export-csv").stdout == text
    whole = cli.json("cert", "export-csv")
    monkeypatch.undo()
    assert whole == cli.json("cert", "export-csv")
    assert len(whole["certificates"]) == len(rows) - 1
    assert rows[0][:3] == ["issuance_id", "hash", "certificate_bundle_status"]
    assert len(rows) == 1 + len(cli.client.certificates.list()["certificates"])
    out = tmp_path / "ann.csv"
    cli.run("cert", "export-csv", "--owner", "ann", "--out", out)
    ann = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["gridledger_bundle_id"], r["certificate_bundle_status"]) for r in ann] == [
        ("pv-1:501", "Claimed"), ("wind-1:1", "Active")]  # fmt: skip
    assert out.read_bytes().count(b"\r\n") == 3
    document = cli.json("cert", "export-csv", "--status", "withdrawn")
    assert document["fields"] == list(energytag.FIELDS)
    assert [r["gridledger_bundle_id"] for r in document["certificates"]] == ["pv-1:2101"]
    assert document["certificates"][0]["certificate_bundle_status"] == "Withdrawn"


def test_bad_input(issued: Cli) -> None:
    """Refusals: a clean code and exit 1 for what the node refuses, exit 2 for usage."""
    cli = issued
    assert cli.json("cert", "show", "nonsense", code=1)["error"]["code"] == "api.invalid_request"
    assert cli.json("cert", "show", "pv-1:2", code=1)["error"]["code"] == "not_found"
    assert cli.json("cert", "list", "--status", "bogus", code=1)["error"]["code"] == (
        "api.invalid_request")  # fmt: skip
    assert cli.json("cert", "list", "--owner", "nobody", code=1)["error"]["code"] == "not_found"
    missing = cli.run("cert", "gec", "show", "GEC-404", code=1)
    assert "not_found" in missing.stderr
    cli.run("cert", "list", "--limit", 0, code=2)
    cli.run("cert", "matching", "--site", "s-ann", "--from", "soon", "--to", 1, code=2)
    cli.run("cert", "split", "pv-1:1", "--part", 0, "--from", "sun", code=2)
    cli.run("cert", "set-params", "--from", "operator", code=2)
    # a body the node refuses at admission: nothing committed, exit 1
    refused = cli.json("cert", "split", "pv-1:1", "--part", 5, "--from", "sun", code=1)
    assert refused["error"]["code"] == "certificates.bad_split"
    assert cli.json("cert", "show", "pv-1:1")["quantity_wh"] == 500


def _index_rows(home: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(home / DB_NAME)
    try:
        return conn.execute(
            "SELECT key, device, range_start, owner, status, beneficiary, production_start_s, "
            "expires_s, quantity_wh FROM certificates_bundles ORDER BY key"
        ).fetchall()
    finally:
        conn.close()


def test_the_index_rebuilds_from_genesis(tmp_path: Path) -> None:
    """``gridledger readmodels rebuild`` gives the certificate index the rows the blocks wrote,
    whatever was in the table before."""
    home = tmp_path / "home"
    with cert_chain(home) as chain:
        h0 = chain.h0
        chain.commit(CERTIFIER, "certificates.issue",
                     {"device": "pv-1", "to": "sun", "starts": [h0, h0 + HOUR]})  # fmt: skip
        chain.commit("sun", "certificates.split", {"bundle": "pv-1:1", "quantities": [5, 1995]})
        chain.commit("sun", "certificates.cancel",
                     {"bundle": "pv-1:6", "beneficiary": "ann", "site": "s-ann",
                      "period_start_s": h0, "period_end_s": h0 + HOUR})  # fmt: skip
        chain.commit("sun", "certificates.transfer", {"bundle": "pv-1:2001", "to": "ben"})
    written = _index_rows(home)
    assert [(r[1], r[2], r[3], r[4], r[5]) for r in written] == [
        ("pv-1", 1, "sun", "active", None), ("pv-1", 6, "sun", "cancelled", "ann"),
        ("pv-1", 2001, "ben", "active", None)]  # fmt: skip
    with sqlite3.connect(home / DB_NAME) as conn:  # rows a rebuild must not keep
        conn.execute("UPDATE certificates_bundles SET owner = 'mallory'")
        conn.execute("INSERT INTO certificates_bundles (device, range_start, key, owner, "
                     "status, production_start_s, expires_s, quantity_wh) "
                     "VALUES ('x', 1, x'00', 'x', 'active', 0, 0, 1)")  # fmt: skip
    conn.close()
    assert _index_rows(home) != written
    result = CliRunner().invoke(app, ["readmodels", "rebuild", "--home", str(home), "--json"],
                                env={"GRIDLEDGER_PASSPHRASE": PASSPHRASE})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert {"name": "certificates", "version": 1, "stored_version": 1,
            "height": json.loads(result.stdout)["blocks"] - 1} in json.loads(
        result.stdout)["models"]  # fmt: skip
    assert _index_rows(home) == written
