"""File import: meter readings from CSV or Parquet, checked, submitted, reported row by row.

Columns (``docs/formats.md``, "Meter data files"): ``meter``, ``interval_start`` (ISO 8601
UTC or Unix seconds), ``interval_minutes`` (15, 60, 1440) and ``energy_wh`` (whole Wh); other
columns are ignored. The header is checked before anything is read or sent.

Every row ends with one status:

* ``accepted``: stored on the chain by this import;
* ``already_on_chain``: the chain holds this very reading (same meter, interval and energy),
  from an earlier import or another path;
* ``refused``: with a code: ``ingest.*`` when the row itself is wrong (never sent), a
  ``metering.*`` code when the chain refuses it.

Before submitting, each row is looked up on the chain: readings it already holds and meters it
would refuse (unknown, reported through another gateway, another interval length) are settled
without a transaction. So importing the same file twice changes nothing the second time, not
even the gateway's nonce, and a reading on the chain with a different energy is reported as a
conflict instead of silently kept.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from gridledger.ingest.batching import Outcome, ReadingSubmitter
from gridledger.ingest.readings import (
    Reading,
    ReadingError,
    make_reading,
    parse_length,
    parse_meter,
)
from gridledger.sdk import ApiError, Client

COLUMNS = ("meter", "interval_start", "interval_minutes", "energy_wh")
"""The columns a meter data file must have, in any order."""
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_LOOKUP_THREADS = 8
_PAGE = 1000
"""Readings per page of the node's range query (its maximum)."""

RowStatus = Literal["accepted", "already_on_chain", "refused"]


class FileError(Exception):
    """The file cannot be imported at all (format, header, unreadable); nothing was sent."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RowResult:
    """What became of one data row (row 1 is the first row after the header)."""

    row: int
    meter: str
    start: str
    """ISO 8601 UTC when the row parsed, else the value as written."""
    status: RowStatus
    code: str | None = None
    message: str | None = None
    energy_wh: int | None = None
    tx_hash: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "meter": self.meter,
            "start": self.start,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "energy_wh": self.energy_wh,
            "tx_hash": self.tx_hash,
        }


@dataclass
class ImportReport:
    """Every row's result, in file order, and the totals."""

    path: str
    gateway: str
    results: list[RowResult] = field(default_factory=list)

    def in_order(self) -> list[RowResult]:
        """The results in file order (rows settled before submitting come out first)."""
        return sorted(self.results, key=lambda r: r.row)

    def count(self, status: RowStatus) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def accepted_wh(self) -> int:
        return sum(r.energy_wh or 0 for r in self.results if r.status == "accepted")

    def summary(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "gateway": self.gateway,
            "rows": len(self.results),
            "accepted": self.count("accepted"),
            "refused": self.count("refused"),
            "already_on_chain": self.count("already_on_chain"),
            "accepted_energy_wh": self.accepted_wh,
        }


# reading files -----------------------------------------------------------------------------
def file_format(path: Path) -> str:
    """``csv`` or ``parquet``, by the file's extension."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise FileError(
            "ingest.unknown_format",
            f"{path.name}: the extension says neither CSV (.csv) nor Parquet (.parquet)",
        )
    return kind


def _check_header(path: Path, names: list[str]) -> None:
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise FileError(
            "ingest.missing_columns",
            f"{path.name} has no column {', '.join(missing)}; meter data files need "
            f"{', '.join(COLUMNS)} (found: {', '.join(names) or 'no header'})",
        )


class MeterFile:
    """An opened meter data file: its header is checked, its rows are read lazily."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.format = file_format(path)
        self.total: int | None = None
        """Number of data rows, when known without reading them all (Parquet)."""
        try:
            if self.format == "csv":
                self._open_csv()
            else:
                self._open_parquet()
        except OSError as exc:
            raise FileError("ingest.unreadable_file", f"cannot read {path}: {exc}") from None

    def _open_csv(self) -> None:
        # utf-8-sig: spreadsheets write a byte-order mark that would stick to the first name
        with self.path.open(newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), [])
        _check_header(self.path, [name.strip() for name in header])

    def _open_parquet(self) -> None:
        import pyarrow.parquet as pq  # noqa: PLC0415 - heavy, and only Parquet needs it

        try:
            meta = pq.ParquetFile(self.path)
        except Exception as exc:  # pyarrow raises its own error types, all "unreadable"
            raise FileError(
                "ingest.unreadable_file", f"{self.path.name} is not a Parquet file: {exc}"
            ) from None
        _check_header(self.path, list(meta.schema_arrow.names))
        self.total = meta.metadata.num_rows

    def rows(self) -> Iterator[dict[str, Any]]:
        """Each data row as ``{column: value}`` (CSV values are text, Parquet's typed)."""
        if self.format == "csv":
            yield from self._csv_rows()
        else:
            yield from self._parquet_rows()

    def _csv_rows(self) -> Iterator[dict[str, Any]]:
        try:
            with self.path.open(newline="", encoding="utf-8-sig") as f:
                reader = csv.reader(f)
                header = [name.strip() for name in next(reader, [])]
                for values in reader:
                    if not any(v.strip() for v in values):
                        continue  # blank lines, e.g. at the end of a hand-edited file
                    yield dict(zip(header, values, strict=False))
        except UnicodeDecodeError as exc:
            raise FileError(
                "ingest.unreadable_file", f"{self.path.name} is not UTF-8: {exc}"
            ) from None

    def _parquet_rows(self) -> Iterator[dict[str, Any]]:
        import pyarrow.parquet as pq  # noqa: PLC0415

        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=4096, columns=COLUMNS):
            yield from batch.to_pylist()


def parse_row(values: dict[str, Any]) -> Reading:
    """A reading from one row's ``{column: value}``."""
    length = parse_length(interval_minutes=values.get("interval_minutes"))
    return make_reading(
        values.get("meter"),
        values.get("interval_start"),
        length,
        values.get("energy_wh"),
        "interval_start",
    )


def first_meter(path: Path) -> str | None:
    """The first valid meter id in the file (to find the gateway it reports through)."""
    for values in MeterFile(path).rows():
        try:
            return parse_meter(values.get("meter"))
        except ReadingError:
            continue
    return None


# importing ---------------------------------------------------------------------------------
def _shown(value: Any) -> str:
    return "" if value is None else str(value)


class FileImporter:
    """Imports meter data files through one gateway account.

    Args:
        client: the node's API (for the lookups before submitting).
        submitter: signs and submits the rows' readings as the gateway.
        progress: called with the number of rows just settled, as the import goes.
    """

    def __init__(
        self,
        client: Client,
        submitter: ReadingSubmitter,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.client = client
        self.submitter = submitter
        self.progress = progress or (lambda _n: None)
        self._meters: dict[str, dict[str, Any] | None] = {}
        self.report: ImportReport | None = None
        """The report of the current or last import; partial if it was aborted."""

    def run(self, path: Path) -> ImportReport:
        """Import ``path``; every row gets a result.

        Raises:
            FileError: not a meter data file (nothing sent).
            SubmitAborted: the node stayed unreachable; the rows settled so far are in
                :attr:`report`.
        """
        meter_file = MeterFile(path)
        report = self.report = ImportReport(str(path), self.submitter.gateway)
        seen: dict[tuple[str, int], int] = {}
        chunk: list[tuple[int, Reading]] = []
        for number, values in enumerate(meter_file.rows(), start=1):
            try:
                reading = parse_row(values)
            except ReadingError as exc:
                report.results.append(
                    RowResult(
                        number, _shown(values.get("meter")), _shown(values.get("interval_start")),
                        "refused", exc.code, exc.message,
                    )
                )  # fmt: skip
                self.progress(1)
                continue
            earlier = seen.get(reading.key)
            if earlier is not None:
                report.results.append(
                    self._result(
                        number, reading, "refused", "ingest.duplicate_row",
                        f"row {earlier} has the same meter and interval",
                    )
                )  # fmt: skip
                self.progress(1)
                continue
            seen[reading.key] = number
            chunk.append((number, reading))
            if len(chunk) == self.submitter.batch_size:
                report.results.extend(self._import_chunk(chunk))
                chunk = []
        if chunk:
            report.results.extend(self._import_chunk(chunk))
        return report

    def _result(
        self,
        number: int,
        reading: Reading,
        status: RowStatus,
        code: str | None = None,
        message: str | None = None,
        tx_hash: str | None = None,
    ) -> RowResult:
        return RowResult(
            number, reading.meter, reading.start_iso(), status, code, message,
            reading.energy_wh, tx_hash,
        )  # fmt: skip

    def _import_chunk(self, chunk: list[tuple[int, Reading]]) -> list[RowResult]:
        settled = self._precheck(chunk)
        results = [r for r in settled if r is not None]
        to_send = [item for item, r in zip(chunk, settled, strict=True) if r is None]
        self.progress(len(results))
        if to_send:
            outcomes = self.submitter.submit([reading for _, reading in to_send])
            for (number, reading), outcome in zip(to_send, outcomes, strict=True):
                results.append(self._from_outcome(number, reading, outcome))
            self.progress(len(to_send))
        return results

    def _from_outcome(self, number: int, reading: Reading, outcome: Outcome) -> RowResult:
        status: RowStatus = "refused"
        if outcome.status == "accepted":
            status = "accepted"
        elif outcome.status == "duplicate":
            status = "already_on_chain"
        return self._result(number, reading, status, outcome.code, outcome.message, outcome.tx_hash)

    # looking up the chain ------------------------------------------------------------------
    def _meter(self, meter: str) -> dict[str, Any] | None:
        """The meter's registry record (asked once per import), None if not registered."""
        if meter not in self._meters:
            self._meters[meter] = self.submitter.with_retry(lambda: self._fetch_meter(meter))
        return self._meters[meter]

    def _fetch_meter(self, meter: str) -> dict[str, Any] | None:
        try:
            return self.client.meter(meter)
        except ApiError as exc:
            if exc.code == "not_found":
                return None
            raise

    def _stored(self, meter: str, starts: list[int]) -> dict[int, dict[str, Any]]:
        """The meter's readings on the chain from the first to the last of ``starts``.

        One range query per meter rather than one lookup per row: files run in time order,
        so the range holds little besides the rows themselves.
        """
        wanted = set(starts)

        def fetch() -> dict[int, dict[str, Any]]:
            found = self.client.iter_readings(
                meter, start=min(starts), end=max(starts) + 1, page_size=_PAGE
            )
            return {r["start_s"]: r for r in found if r["start_s"] in wanted}

        return self.submitter.with_retry(fetch)

    def _precheck(self, chunk: list[tuple[int, Reading]]) -> list[RowResult | None]:
        """Settle the rows the chain would refuse or already holds; None for the rest."""
        gateway = self.submitter.gateway
        settled: list[RowResult | None] = []
        starts: dict[str, list[int]] = {}
        for number, reading in chunk:
            record = self._meter(reading.meter)
            problem: tuple[str, str] | None = None
            if record is None:
                problem = ("metering.unknown_meter", f"no meter {reading.meter!r} is registered")
            elif record.get("gateway") != gateway:
                problem = (
                    "metering.not_gateway",
                    f"meter {reading.meter!r} reports through {record.get('gateway')!r}, "
                    f"not {gateway!r}",
                )
            elif record.get("interval_s") != reading.length_s:
                problem = (
                    "metering.wrong_interval_length",
                    f"meter {reading.meter!r} reports {record.get('interval_s')} s intervals, "
                    f"not {reading.length_s}",
                )
            if problem is None:
                starts.setdefault(reading.meter, []).append(reading.start)
            settled.append(
                None if problem is None else self._result(number, reading, "refused", *problem)
            )
        meters = sorted(starts)
        with ThreadPoolExecutor(_LOOKUP_THREADS) as pool:
            found = pool.map(lambda m: self._stored(m, starts[m]), meters)
            stored = dict(zip(meters, found, strict=True))
        for i, (number, reading) in enumerate(chunk):
            record = None if settled[i] else stored.get(reading.meter, {}).get(reading.start)
            if record is None:
                continue
            held = record.get("energy_wh")
            if held == reading.energy_wh:
                settled[i] = self._result(
                    number, reading, "already_on_chain", "metering.duplicate_reading",
                    f"already on the chain (block {record.get('height')})",
                )  # fmt: skip
            else:
                settled[i] = self._result(
                    number, reading, "refused", "metering.duplicate_reading",
                    f"the chain holds {held} Wh for this interval (block "
                    f"{record.get('height')}), the file {reading.energy_wh} Wh; "
                    "a grid operator can record a correction",
                )  # fmt: skip
        return settled


def write_report(report: ImportReport, out: IO[str]) -> None:
    """The per-row report as CSV: row, meter, start, status, code, message, energy, tx."""
    writer = csv.writer(out)
    writer.writerow(["row", "meter", "start", "status", "code", "message", "energy_wh", "tx_hash"])
    for r in report.in_order():
        writer.writerow(
            [r.row, r.meter, r.start, r.status, r.code or "", r.message or "",
             "" if r.energy_wh is None else r.energy_wh, r.tx_hash or ""]
        )  # fmt: skip
