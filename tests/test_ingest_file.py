"""``gridledger ingest file``: CSV and Parquet meter data through a live node, row by row."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from fixtures_node import PASSPHRASE, free_port
from gridledger.cli.main import app
from gridledger.core.keystore import save_key
from gridledger.ingest.batching import ReadingSubmitter, RetryPolicy, SubmitAborted
from gridledger.ingest.files import FileImporter
from gridledger.node.home import key_path
from gridledger.sdk import Client
from ingest_support import Ledger, running_ledger

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "meter-readings.csv"
ENV = {"GRIDLEDGER_PASSPHRASE": PASSPHRASE, "GRIDLEDGER_HOME": None, "GRIDLEDGER_NODE": None}
HEADER = "meter,interval_start,interval_minutes,energy_wh\n"


def ts(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp())


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    with running_ledger(tmp_path_factory.mktemp("ingest-file") / "home") as led:
        for gateway in ("gw-shekou", "gw-files", "gw-other"):
            key = led.add_gateway(gateway)
            save_key(key_path(led.chain.home, gateway), gateway, key, PASSPHRASE)
        for meter in ("pv-shekou-01", "pv-shekou-02"):
            led.add_meter(meter, "gw-shekou")
        led.add_meter("home-0417", "gw-shekou", interval_s=3600)
        yield led


def ingest(ledger: Ledger, *args: str | Path, code: int = 0) -> Result:
    result = CliRunner().invoke(
        app,
        ["ingest", "file", *map(str, args), "--home", str(ledger.chain.home), "--node", ledger.url],
        env=ENV,
    )
    assert result.exit_code == code, (result.output, result.exception)
    return result


def ingest_json(ledger: Ledger, *args: str | Path, code: int = 0) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(ingest(ledger, *args, "--json", code=code).stdout)
    return doc


def by_row(doc: dict[str, Any]) -> dict[int, tuple[str, str | None]]:
    return {r["row"]: (r["status"], r["code"]) for r in doc["results"]}


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "".join(row + "\n" for row in rows))
    return path


def test_the_example_file_imports_and_importing_it_again_changes_nothing(
    ledger: Ledger, tmp_path: Path
) -> None:
    doc = ingest_json(ledger, EXAMPLE)
    assert doc["gateway"] == "gw-shekou"  # from the first meter's registry record
    assert (doc["rows"], doc["accepted"], doc["refused"], doc["already_on_chain"]) == (10, 10, 0, 0)
    with EXAMPLE.open() as f:
        for row in csv.DictReader(f):
            start = row["interval_start"]
            seconds = int(start) if start.isdigit() else ts(start)
            stored = ledger.stored(row["meter"], seconds)
            assert stored is not None
            assert stored["energy_wh"] == int(row["energy_wh"])
            assert stored["gateway"] == "gw-shekou"
    assert doc["accepted_energy_wh"] == 41250 + 42010 + 42675 + 43120 + 20380 + 20915 + 21240 + (
        21505 + 1830 + 1795
    )

    root, nonce = ledger.state_root(), ledger.nonce("gw-shekou")
    again = ingest_json(ledger, EXAMPLE, "--report", tmp_path / "again.csv")
    assert (again["accepted"], again["refused"], again["already_on_chain"]) == (0, 0, 10)
    with (tmp_path / "again.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["row"] for r in rows] == [str(i) for i in range(1, 11)]
    assert {(r["status"], r["code"]) for r in rows} == {
        ("already_on_chain", "metering.duplicate_reading")
    }
    assert rows[0]["start"] == "2026-06-21T10:00:00Z"
    assert ledger.state_root() == root
    assert ledger.nonce("gw-shekou") == nonce  # not even a transaction was sent

    # the same readings as Parquet are the same readings
    twin = tmp_path / "meter-readings.parquet"
    with EXAMPLE.open() as f:
        pq.write_table(pa.Table.from_pylist(list(csv.DictReader(f))), twin)
    assert ingest_json(ledger, twin)["already_on_chain"] == 10
    assert ledger.state_root() == root


def test_parquet_with_typed_columns(ledger: Ledger, tmp_path: Path) -> None:
    ledger.add_meter("pq-1", "gw-files")
    first = dt.datetime(2026, 6, 22, 0, tzinfo=dt.UTC)
    table = pa.table(
        {
            "meter": ["pq-1"] * 96,
            "interval_start": pa.array(
                [first + dt.timedelta(minutes=15 * i) for i in range(96)],
                type=pa.timestamp("s", tz="UTC"),
            ),
            "interval_minutes": pa.array([15] * 96, type=pa.int16()),
            "energy_wh": pa.array([1000 + i for i in range(96)], type=pa.int64()),
            "quality": ["measured"] * 96,  # extra columns are ignored
        }
    )
    path = tmp_path / "day.parquet"
    pq.write_table(table, path)
    doc = ingest_json(ledger, path, "--gateway", "gw-files", "--batch-size", "40")
    assert (doc["accepted"], doc["refused"]) == (96, 0)
    assert len({r["tx_hash"] for r in doc["results"]}) == 3  # 40 + 40 + 16
    assert ledger.stored("pq-1", int(first.timestamp()) + 900 * 95)["energy_wh"] == 1095  # type: ignore[index]
    root = ledger.state_root()
    assert ingest_json(ledger, path, "--gateway", "gw-files")["already_on_chain"] == 96
    assert ledger.state_root() == root


def test_a_missing_column_is_refused_before_anything_is_sent(
    ledger: Ledger, tmp_path: Path
) -> None:
    height = ledger.client.status()["height"]
    path = tmp_path / "no-energy.csv"
    path.write_text("meter,interval_start,interval_minutes,kwh\npv-shekou-01,1782036000,15,4\n")
    doc = ingest_json(ledger, path, code=1)
    assert doc["error"]["code"] == "ingest.missing_columns"
    assert "no column energy_wh" in doc["error"]["message"]
    plain = ingest(ledger, path, code=1)
    assert "ingest.missing_columns" in plain.stderr

    parquet = tmp_path / "no-meter.parquet"
    pq.write_table(
        pa.table({"interval_start": [1], "interval_minutes": [15], "energy_wh": [1]}), parquet
    )
    assert ingest_json(ledger, parquet, code=1)["error"]["code"] == "ingest.missing_columns"
    other = tmp_path / "readings.xlsx"
    other.write_text("x")
    assert ingest_json(ledger, other, code=1)["error"]["code"] == "ingest.unknown_format"
    assert ledger.client.status()["height"] == height


def test_broken_rows_are_reported_row_by_row_and_the_rest_imported(
    ledger: Ledger, tmp_path: Path
) -> None:
    ledger.add_meter("csv-1", "gw-files")
    ledger.add_meter("csv-2", "gw-other")
    ledger.add_meter("csv-h", "gw-files", interval_s=3600)
    path = write_csv(
        tmp_path / "broken.csv",
        [
            "csv-1,2026-06-23T00:00:00Z,15,500",  # 1 fine
            "csv-1,2026-06-23T00:15:00Z,15,1.5",  # 2 kWh in a Wh column
            "csv-1,2026-06-23T00:20:00Z,15,500",  # 3 not on a quarter hour
            "csv-1,23/06/2026 00:30,15,500",  # 4 not ISO 8601
            "csv-1,2026-06-23T00:45:00Z,15,-3",  # 5 negative
            "csv-1,2026-06-23T00:00:00Z,15,500",  # 6 the same interval as row 1
            "nope,2026-06-23T00:00:00Z,15,500",  # 7 no such meter
            "csv-2,2026-06-23T00:00:00Z,15,500",  # 8 another gateway's meter
            "csv-1,2026-06-23T01:00:00Z,60,500",  # 9 15-minute meter, hourly row
            "csv-h,2026-06-23T01:00:00Z,60,25000",  # 10 more than the site can draw
            "csv-1,2099-01-01T00:00:00Z,15,500",  # 11 an interval that has not ended
            "csv-1,2026-06-23T01:00:00Z,15,",  # 12 empty energy
            "csv-1,2026-06-23T01:15:00Z,15,700",  # 13 fine
            "csv-h,2026-06-23T02:00:00Z,60,19000",  # 14 fine
        ],
    )
    report = tmp_path / "report.csv"
    doc = ingest_json(ledger, path, "--gateway", "gw-files", "--report", report, code=1)
    assert doc["report"] == str(report)
    with report.open() as f:
        rows = {int(r["row"]): r for r in csv.DictReader(f)}
    assert {n: (r["status"], r["code"]) for n, r in rows.items()} == {
        1: ("accepted", ""),
        2: ("refused", "ingest.non_integer_energy"),
        3: ("refused", "ingest.misaligned"),
        4: ("refused", "ingest.invalid_start"),
        5: ("refused", "ingest.negative_energy"),
        6: ("refused", "ingest.duplicate_row"),
        7: ("refused", "metering.unknown_meter"),
        8: ("refused", "metering.not_gateway"),
        9: ("refused", "metering.wrong_interval_length"),
        10: ("refused", "metering.implausible"),
        11: ("refused", "metering.future_interval"),
        12: ("refused", "ingest.missing_field"),
        13: ("accepted", ""),
        14: ("accepted", ""),
    }
    assert "wrong units" in rows[2]["message"]
    assert "row 1" in rows[6]["message"]
    assert rows[4]["start"] == "23/06/2026 00:30"  # as written, since it does not parse
    assert (doc["rows"], doc["accepted"], doc["refused"]) == (14, 3, 11)
    assert ledger.stored("csv-1", ts("2026-06-23T01:15:00Z"))["energy_wh"] == 700  # type: ignore[index]
    assert ledger.stored("csv-h", ts("2026-06-23T01:00:00Z")) is None

    # the table names each refused row and its reason
    shown = ingest(ledger, path, "--gateway", "gw-files", code=1).stdout
    assert "ingest.non_integer_energy" in shown
    assert "already_on_chain" in shown
    assert "accepted" in shown


def test_a_different_value_already_on_chain_is_a_conflict(ledger: Ledger, tmp_path: Path) -> None:
    ledger.add_meter("csv-3", "gw-files")
    first = write_csv(tmp_path / "first.csv", ["csv-3,2026-06-24T00:00:00Z,15,100"])
    assert ingest_json(ledger, first, "--gateway", "gw-files")["accepted"] == 1
    second = write_csv(tmp_path / "second.csv", ["csv-3,2026-06-24T00:00:00Z,15,120"])
    doc = ingest_json(ledger, second, "--gateway", "gw-files", code=1)
    [row] = doc["results"]
    assert (row["status"], row["code"]) == ("refused", "metering.duplicate_reading")
    assert "holds 100 Wh" in row["message"]
    assert ledger.stored("csv-3", ts("2026-06-24T00:00:00Z"))["energy_wh"] == 100  # type: ignore[index]


def test_the_importer_without_its_lookups_meets_the_chains_own_refusals(
    ledger: Ledger, tmp_path: Path
) -> None:
    """Readings that reach the chain anyway (another importer racing this one) are settled
    from the receipt's events: the duplicate counts as already on chain."""
    ledger.add_meter("csv-4", "gw-files")
    path = write_csv(tmp_path / "race.csv", ["csv-4,2026-06-25T00:00:00Z,15,100"])
    importer = FileImporter(
        ledger.client, ReadingSubmitter(ledger.client, ledger.keys["gw-files"], "gw-files")
    )
    assert [r.status for r in importer.run(path).results] == ["accepted"]
    importer._precheck = lambda chunk: [None] * len(chunk)  # type: ignore[method-assign]
    [row] = importer.run(path).results
    assert (row.status, row.code) == ("already_on_chain", "metering.duplicate_reading")


def test_an_unreachable_node_stops_the_import_with_the_rows_settled_so_far(
    ledger: Ledger, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "offline.csv",
        ["csv-1,2026-06-26T00:00:00Z,15,1", "csv-1,yesterday,15,1"],
    )
    with Client(f"http://127.0.0.1:{free_port()}", timeout=2) as offline:
        retry = RetryPolicy(attempts=2, first_delay_s=0.01)
        importer = FileImporter(
            offline, ReadingSubmitter(offline, ledger.keys["gw-files"], "gw-files", retry=retry)
        )
        with pytest.raises(SubmitAborted) as err:
            importer.run(path)
    assert err.value.code == "sdk.unreachable"
    assert importer.report is not None
    assert [(r.row, r.code) for r in importer.report.results] == [(2, "ingest.invalid_start")]
