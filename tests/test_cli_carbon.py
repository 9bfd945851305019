"""``gridledger carbon`` against a real node (in this process, its API on 127.0.0.1; commands run
through typer's runner as a user would type them).

The node is :mod:`carbon_api_node`'s without its carbon transactions: the commands record them
here, the regulator's factor sets from the shipped library, the region map and the activity
data, so every figure below is the one ``test_api_carbon`` works out by hand (the hand-made CO2e
set is left out). Every view's ``--json`` output is compared with what the SDK reads from the
same node; tables and files are checked for what they show.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from carbon_api_node import REGULATOR, VERIFIER, carbon_chain
from cert_node import CertChain
from gridledger import factors
from gridledger.documents.carbon_report import CSV_FIELDS
from market_node import PARTIES, NodeCli, node_cli
from test_certificate_proofs import _content, _texts

PERIOD = ("--org", "homes", "--from", "2025-01", "--to", "2025-03")


def record_set(
    region: str,
    year: int,
    start: str,
    end: str,
    set_id: str,
    *more: str,
    regulator: str = REGULATOR,
) -> tuple[str | int, ...]:
    """``factors record``'s arguments: the library's set of ``region`` and data ``year`` in
    force from month ``start`` to ``end`` as ``set_id``, sent by ``regulator``, with the options
    ``more``."""
    return ("factors", "record", "--region", region, "--year", year, "--from", start, "--to",
            end, "--id", set_id, *more, "--regulator", regulator)  # fmt: skip


Cli = NodeCli[CertChain]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    home = tmp_path_factory.mktemp("carbon-cli") / "home"
    with (
        carbon_chain(home, carbon=False) as chain,
        node_cli(chain, (*PARTIES, REGULATOR, VERIFIER), ("carbon",)) as cli,
    ):
        yield cli


@pytest.fixture(scope="module")
def recorded(cli: Cli) -> Cli:
    """Every transaction command, as a regulator, households and a verifier would run them."""
    first = cli.events(
        *record_set("CN-GD", 2023, "2025-01", "2025-03", "cn-gd-2025q1", "--no-residual"),
    )
    assert first == [
        {"type": "carbon.factor_set_recorded", "id": "cn-gd-2025q1", "region": "CN-GD"}
    ]
    cli.events(
        *record_set("CN", 2023, "2025-03", "2030-01", "cn-2025"),
    )
    provinces = len(cli.client.carbon.factor_sets()["region_map"])
    assert provinces == 0
    assert cli.events("region-map", "--from", REGULATOR) == [
        {"type": "carbon.region_map_set", "provinces": 30}
    ]
    activities = [
        ("ann", "gas-jan", "s-ann", "2025-01", "natural_gas", 10),
        ("ann", "diesel-feb", "s-ann", "2025-02", "gas_diesel_oil", 20),
        ("ben", "lpg-mar", "s-ben", "2025-03", "lpg", 5),
    ]
    for sender, activity, site, month, fuel, quantity in activities:
        events = cli.events(
            "activity",
            "report",
            "--id",
            activity,
            "--site",
            site,
            "--month",
            month,
            "--fuel",
            fuel,
            "--quantity",
            quantity,
            "--unit",
            "GJ",
            "--from",
            sender,
        )
        assert events[0]["type"] == "carbon.activity_reported"
    assert cli.events(
        "activity", "confirm", "--org", "homes", "--id", "gas-jan", "--from", VERIFIER
    ) == [{"type": "carbon.activity_confirmed", "org": "homes", "id": "gas-jan"}]
    cli.events(
        "activity",
        "reject",
        "--org",
        "homes",
        "--id",
        "lpg-mar",
        "--note",
        "no fuel receipts",
        "--from",
        VERIFIER,
    )
    return cli


def test_transactions_that_fail(recorded: Cli) -> None:
    """What the contract refuses commits as a failed receipt (exit 1, its code); what admission
    or the library refuses never reaches a block (exit 1, its code); usage errors exit 2."""
    cli = recorded
    height = cli.chain.node.tip.height
    assert (
        cli.failed(
            *record_set("CN", 2022, "2026-01", "2026-02", "overlapping"),
        )
        == "carbon.factor_overlap"
    )
    assert (
        cli.failed(
            "activity",
            "report",
            "--id",
            "coal",
            "--site",
            "s-ann",
            "--month",
            "2025-01",
            "--fuel",
            "natural_gas",
            "--quantity",
            3,
            "--unit",
            "t",
            "--from",
            "ann",
        )
        == "carbon.wrong_unit"
    )
    assert (
        cli.failed("activity", "confirm", "--org", "homes", "--id", "gas-jan", "--from", VERIFIER)
        == "carbon.already_verified"
    )
    assert (
        cli.failed(
            "activity",
            "report",
            "--id",
            "sun-at-ann",
            "--site",
            "s-ann",
            "--month",
            "2025-01",
            "--fuel",
            "natural_gas",
            "--quantity",
            1,
            "--unit",
            "GJ",
            "--from",
            "sun",
        )
        == "carbon.foreign_site"
    )
    failed_height = cli.chain.node.tip.height
    assert failed_height > height
    # refused before any block: a household is no regulator
    forbidden = cli.json(
        "carbon",
        *record_set("CN", 2022, "2031-01", "2032-01", "by-ann", regulator="ann"),
        code=1,
    )
    assert forbidden["error"]["code"] == "auth.forbidden"
    # Tibet has no factor of its own in the library: record its regional grid's set
    fallback = cli.json(
        "carbon",
        *record_set("CN-XZ", 2023, "2031-01", "2032-01", "tibet"),
        code=1,
    )
    assert fallback["error"]["code"] == "carbon.library_fallback"
    assert "CN-SOUTHWEST" in fallback["error"]["message"]
    missing = cli.json(
        "carbon",
        *record_set("CN-GD", 2030, "2031-01", "2032-01", "future"),
        code=1,
    )
    assert missing["error"]["code"] == "factors.no_factor"
    backwards = cli.json(
        "carbon",
        *record_set("CN", 2023, "2032-01", "2031-01", "backwards"),
        code=1,
    )
    assert backwards["error"]["code"] == "carbon.bad_period"
    rejection = cli.json(
        "carbon",
        "activity",
        "reject",
        "--org",
        "homes",
        "--id",
        "diesel-feb",
        "--note",
        "",
        "--from",
        VERIFIER,
        code=1,
    )
    assert rejection["error"]["code"] == "carbon.invalid_activity"
    assert cli.chain.node.tip.height == failed_height
    # usage: exit 2, nothing sent
    cli.run(
        "carbon",
        *record_set("CN", 2023, "2025-13", "2026-01", "x"),
        code=2,
    )
    cli.run(
        "carbon",
        *record_set("CN", 2023, "2025-01", "2026-01", "x", "--gas", "CH4"),
        code=2,
    )
    cli.run(
        "carbon",
        "activity",
        "report",
        "--id",
        "x",
        "--site",
        "s-ann",
        "--month",
        "Jan",
        "--fuel",
        "lpg",
        "--quantity",
        1,
        "--unit",
        "GJ",
        "--from",
        "ann",
        code=2,
    )
    cli.run(
        "carbon",
        "activity",
        "report",
        "--id",
        "x",
        "--site",
        "s-ann",
        "--month",
        "2025-01",
        "--fuel",
        "lpg",
        "--quantity",
        0,
        "--unit",
        "GJ",
        "--from",
        "ann",
        code=2,
    )
    cli.run(
        "carbon", "activity", "reject", "--org", "homes", "--id", "x", "--from", VERIFIER, code=2
    )
    assert cli.chain.node.tip.height == failed_height


def test_factors(recorded: Cli) -> None:
    cli = recorded
    library = factors.load()
    listed = cli.json("carbon", "factors")
    assert (listed["library"]["version"], listed["library"]["published"]) == (
        library.version,
        library.published,
    )
    electricity = [f for f in library.factors if f.basis != "fuel_default"]
    assert [f["id"] for f in listed["library"]["factors"]] == [f.id for f in electricity]
    assert listed["factor_sets"] == cli.client.carbon.factor_sets()
    assert [(s["id"], s["in_force"]) for s in listed["factor_sets"]["factor_sets"]] == [
        ("cn-2025", True),
        ("cn-gd-2025q1", False),
    ]
    gd = cli.json("carbon", "factors", "--library-only", "--geography", "CN-GD", "--year", 2023)
    assert "factor_sets" not in gd
    assert [(f["id"], f["value"], f["unit"], f["document"]) for f in gd["library"]["factors"]] == [
        ("mee-nbs:grid_average:CN-GD:2023", 441_900, "gCO2/MWh", "公告 2025年第47号")
    ]
    south = cli.json("carbon", "factors", "--library-only", "--geography", "CN-SOUTH")
    assert {f["geography"] for f in south["library"]["factors"]} == {"CN-SOUTH"}
    fuels = cli.json("carbon", "factors", "--library-only", "--fuels")
    assert {f["fuel"] for f in fuels["library"]["factors"]} >= {"natural_gas", "lpg", "lignite"}
    assert all(f["basis"] == "fuel_default" for f in fuels["library"]["factors"])
    table = cli.run("carbon", "factors", "--geography", "CN-GD", "--year", 2023).stdout
    for shown in (
        "441,900",
        "0.4419",
        "cn-gd-2025q1",
        "cn-2025",
        "530,600",
        "609,600",
        "region map: 30 provinces",
    ):
        assert shown in table, shown


def test_inventory(recorded: Cli) -> None:
    cli = recorded
    found = cli.json("carbon", "inventory", *PERIOD)
    assert found == cli.client.carbon.inventory(org="homes", start="2025-01", end="2025-03")
    assert (
        found["scope2_location_g"],
        found["scope2_market_volume_g"],
        found["scope2_market_hourly_g"],
        found["scope1"]["confirmed_g"],
        found["scope1"]["reported_g"],
    ) == (6273, 4143, 4584, 561_000, 1_482_000)
    site = cli.json(
        "carbon", "inventory", "--site", "s-ann", "--from", "2025-01", "--to", "2025-01"
    )
    assert (site["subject"], site["consumption_wh"], site["scope2_market_hourly_g"]) == (
        "site",
        5000,
        441,
    )
    table = cli.run("carbon", "inventory", *PERIOD).stdout
    for shown in (
        "6,273 g (0.006273 t)",
        "4,143 g",
        "4,584 g",
        "561,000 g",
        "CN-GD -> CN",
        "residual_is_grid_average for CN-GD: 441,900 g/MWh",
        "s-ben",
        "2,209",
        "公告 2025年第47号",
        "mee-nbs:residual_mix:CN:2023",
    ):
        assert shown in table, shown
    cli.run("carbon", "inventory", "--from", "2025-01", "--to", "2025-03", code=2)
    cli.run("carbon", "inventory", *PERIOD, "--site", "s-ann", code=2)
    cli.run("carbon", "inventory", "--org", "homes", "--from", "2025-1", "--to", "2025-03", code=2)
    unknown = cli.json(
        "carbon", "inventory", "--org", "nobody", "--from", "2025-01", "--to", "2025-03", code=1
    )
    assert unknown["error"]["code"] == "not_found"
    backwards = cli.json(
        "carbon", "inventory", "--org", "homes", "--from", "2025-03", "--to", "2025-01", code=1
    )
    assert backwards["error"]["code"] == "carbon.bad_period"
    no_factor = cli.json(
        "carbon", "inventory", "--site", "s-dan", "--from", "2024-01", "--to", "2024-01", code=1
    )
    assert no_factor["error"]["code"] == "carbon.no_factor"


def test_reports(recorded: Cli, tmp_path: Path) -> None:
    cli = recorded
    report = json.loads(cli.run("carbon", "report", *PERIOD).stdout)
    assert report == cli.client.carbon.report("homes", "2025-01", "2025-03")
    assert report["inventory"]["scope2_location_g"] == 6273
    assert report["data_quality"]["estimated_intervals"] == 1

    out = tmp_path / "homes.csv"
    shown = cli.run("carbon", "report", *PERIOD, "--format", "csv", "--out", out).stdout
    assert f"wrote {out}" in shown.replace("\n", "")
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0] == list(CSV_FIELDS)
    assert [r[0] for r in rows[1:]] == ["site_month"] * 4 + ["activity"] * 3 + ["total"]
    assert rows[-1][CSV_FIELDS.index("scope2_market_hourly_g")] == "4584"

    ghg_file = tmp_path / "homes-ghg.json"
    cli.run("carbon", "report", *PERIOD, "--format", "ghg", "--out", ghg_file)
    ghg = json.loads(ghg_file.read_text(encoding="utf-8"))
    assert ghg == cli.client.carbon.ghg_report("homes", "2025-01", "2025-03")
    assert (
        ghg["scope_1"]["total"]["g"],
        ghg["scope_2_location_based"]["total"]["g"],
        ghg["scope_2_market_based"]["total"]["g"],
        ghg["scope_2_market_based_hourly"]["total"]["g"],
    ) == (561_000, 6273, 4143, 4584)
    assert ghg["contractual_instruments"]["bundles"] == 3

    for lang, title in (("en", "Carbon inventory report"), ("zh", "碳排放核算报告")):
        pdf_file = tmp_path / f"homes-{lang}.pdf"
        cli.run("carbon", "report", *PERIOD, "--format", "pdf", "--lang", lang, "--out", pdf_file)
        pdf = pdf_file.read_bytes()
        assert pdf.startswith(b"%PDF-")
        assert pdf == cli.client.carbon.report_file("homes", "2025-01", "2025-03", "pdf", lang=lang)
        text = _texts(pdf, _content(pdf))
        for shown in (
            title,
            "公告 2025年第47号",
            "mee-nbs:grid_average:CN:2023",
            "2006 IPCC Guidelines",
            "CN-GD -> CN-SOUTH -> CN",
        ):
            assert shown in text, shown

    # refusals: the period still open is the node's; the rest are usage errors
    open_month = dt.datetime.fromtimestamp(cli.chain.node.tip.time // 1000, dt.UTC).strftime(
        "%Y-%m"
    )
    result = cli.run(
        "carbon", "report", "--org", "homes", "--from", "2025-01", "--to", open_month, code=1
    )
    assert "carbon.period_open" in result.stderr
    cli.run("carbon", "report", *PERIOD, "--format", "pdf", code=2)  # a PDF needs --out
    cli.run("carbon", "report", *PERIOD, "--format", "xml", code=2)
    cli.run(
        "carbon",
        "report",
        *PERIOD,
        "--format",
        "pdf",
        "--lang",
        "fr",
        "--out",
        tmp_path / "x.pdf",
        code=2,
    )
    assert not (tmp_path / "x.pdf").exists()
    unknown = cli.run(
        "carbon", "report", "--org", "nobody", "--from", "2025-01", "--to", "2025-03", code=1
    )
    assert "not_found" in unknown.stderr


def test_activity_list(recorded: Cli) -> None:
    cli = recorded
    found = cli.json("carbon", "activity", "list", "--org", "homes")
    assert found == cli.client.carbon.activities("homes")
    assert [
        (a["id"], a["status"], a["verifier"], a["verifier_note"]) for a in found["activities"]
    ] == [
        ("diesel-feb", "reported", None, None),
        ("gas-jan", "confirmed", VERIFIER, None),
        ("lpg-mar", "rejected", VERIFIER, "no fuel receipts"),
    ]
    table = cli.run("carbon", "activity", "list", "--org", "homes").stdout
    for shown in (
        "diesel-feb",
        "1,482,000 g",
        "rejected by verifier: no fuel receipts",
        "cn-gd-2025q1",
    ):
        assert shown in table, shown
    missing = cli.json("carbon", "activity", "list", "--org", "nobody", code=1)
    assert missing["error"]["code"] == "not_found"
