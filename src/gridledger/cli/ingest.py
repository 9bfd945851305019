"""``gridledger ingest``: meter-data gateways that sign readings and put them on the chain.

``ingest mqtt`` runs an MQTT subscriber until stopped; ``ingest file`` imports a CSV or
Parquet file and reports every row. Both sign as a gateway account (the one the meters'
registry records name) with its key in ``HOME/keys``.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gridledger.cli import logs
from gridledger.cli.common import (
    HomeOpt,
    JsonOpt,
    NodeOpt,
    console,
    err_console,
    fail,
    kv_table,
    node_url,
    parse_host_port,
    passphrase,
    print_json,
    progress_bar,
    reporting,
)
from gridledger.cli.keys import existing_key
from gridledger.core.keystore import load_key
from gridledger.ingest.batching import ReadingSubmitter, RetryPolicy, SubmitAborted
from gridledger.ingest.files import FileError, FileImporter, ImportReport, MeterFile, first_meter
from gridledger.ingest.files import write_report as write_report_csv
from gridledger.ingest.mqtt import MqttGateway, MqttSettings
from gridledger.node.home import DEFAULT_HOME
from gridledger.sdk import ApiError, Client

app = typer.Typer(
    help="Meter-data gateways: MQTT subscriber and file import.",
    no_args_is_help=True,
)

TABLE_ROWS = 500
"""Above this many rows, the table shows only the rows that were not accepted."""
PIPED_WIDTH = 400

GatewayOpt = Annotated[
    str,
    typer.Option("--gateway", help="The gateway account that signs (the meters' gateway)."),
]
KeyNameOpt = Annotated[
    str | None,
    typer.Option("--key-name", help="Key name in HOME/keys. Default: the gateway's name."),
]
MQTT_PASSWORD_ENV = "GRIDLEDGER_MQTT_PASSWORD"
"""The broker password: from the environment, never an argument (process lists show those)."""

BatchOpt = Annotated[
    int, typer.Option("--batch-size", min=1, max=5000, help="Readings per transaction at most.")
]


@app.command("mqtt")
def mqtt(
    broker: Annotated[str, typer.Option("--broker", help="The MQTT broker, HOST:PORT.")],
    topic: Annotated[
        list[str], typer.Option("--topic", help="A topic filter to subscribe to (repeatable).")
    ],
    gateway: GatewayOpt,
    key_name: KeyNameOpt = None,
    batch_size: BatchOpt = 1000,
    flush_ms: Annotated[
        int,
        typer.Option("--flush-ms", min=1, help="Longest a reading waits for its batch to fill."),
    ] = 1000,
    client_id: Annotated[
        str | None,
        typer.Option(
            "--client-id",
            help="MQTT client id; keep it fixed, the broker keeps the session under it. "
            "Default: gridledger-<gateway>.",
            show_default=False,
        ),
    ] = None,
    username: Annotated[
        str | None,
        typer.Option(
            "--username",
            help=f"Log in to the broker as USER; the password is read from {MQTT_PASSWORD_ENV}.",
            show_default=False,
        ),
    ] = None,
    tls_ca: Annotated[
        Path | None,
        typer.Option(
            "--tls-ca",
            help="Connect over TLS, verifying the broker's certificate (and host name) "
            "against this PEM CA certificate.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            "--tls-cert",
            help="A PEM client certificate to present (needs --tls-ca and --tls-key).",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option(
            "--tls-key",
            help="The PEM private key of --tls-cert.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "info",
) -> None:
    """Subscribe to meters' topics and put their readings on the chain until SIGINT/SIGTERM.

    Messages are acknowledged only once their readings are committed; JSON logs on stderr.
    """
    if log_level.lower() not in {"debug", "info", "warning", "error"}:
        raise typer.BadParameter("debug, info, warning or error", param_hint="--log-level")
    host, port = parse_host_port(broker)
    password: str | None = None
    if username is not None:
        password = os.environ.get(MQTT_PASSWORD_ENV)
        if not password:
            fail(
                "ingest.no_broker_password",
                f"--username needs the broker password in the environment variable "
                f"{MQTT_PASSWORD_ENV} (it is never taken as an argument)",
            )
    if (tls_cert is None) != (tls_key is None):
        fail("ingest.tls_options", "--tls-cert and --tls-key go together")
    if tls_cert is not None and tls_ca is None:
        fail("ingest.tls_options", "--tls-cert needs --tls-ca (the CA to verify the broker)")
    path = existing_key(home, key_name or gateway)
    with reporting():
        key = load_key(path, passphrase())
    logs.configure(log_level)
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    settings = MqttSettings(
        host=host,
        port=port,
        topics=tuple(topic),
        client_id=client_id or f"gridledger-{gateway}",
        batch_size=batch_size,
        flush_ms=flush_ms,
        username=username,
        password=password,
        tls_ca=None if tls_ca is None else str(tls_ca),
        tls_cert=None if tls_cert is None else str(tls_cert),
        tls_key=None if tls_key is None else str(tls_key),
    )
    try:
        with Client(node_url(home, node)) as client:
            submitter = ReadingSubmitter(
                client, key, gateway, batch_size=batch_size, stop=stop, retry=RetryPolicy()
            )
            try:
                mqtt_gateway = MqttGateway(settings, submitter)
            except OSError as exc:  # ssl.SSLError included: a file that is not PEM, say
                fail("ingest.tls_files", f"cannot use the TLS certificate or key files: {exc}")
            mqtt_gateway.run(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _warnings_on_stderr() -> Iterator[None]:
    """The gateway's warnings (a node retried, say) as JSON lines on stderr, for one command.

    Only for the command's duration: the report covers the readings, and a short command must
    not leave a handler on the process's loggers.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logs.JsonFormatter())
    handler.setLevel(logging.WARNING)
    logger = logging.getLogger("gridledger.ingest")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def _gateway_of_file(client: Client, path: Path, json_out: bool) -> str:
    """The gateway registered for the file's first meter."""
    meter = first_meter(path)
    if meter is None:
        fail("ingest.no_gateway", f"{path.name} names no valid meter; give --gateway", json_out)
    try:
        record: dict[str, Any] | None = client.meter(meter)
    except ApiError as exc:
        if exc.code != "not_found":
            raise
        record = None
    if record is None or not isinstance(record.get("gateway"), str):
        fail(
            "ingest.no_gateway",
            f"meter {meter!r} is not registered, so its gateway is unknown; give --gateway",
            json_out,
        )
    gateway: str = record["gateway"]
    return gateway


def _count_csv_rows(path: Path) -> int | None:
    # for the progress bar only: a line count (quoted line breaks would make it a little high)
    try:
        with path.open("rb") as f:
            return max(sum(1 for _ in f) - 1, 0)
    except OSError:
        return None


def _print_table(report: ImportReport) -> None:
    rows = report.in_order()
    shown = rows if len(rows) <= TABLE_ROWS else [r for r in rows if r.status != "accepted"]
    if shown:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for name in ("row", "meter", "start", "status", "code"):
            # codes and statuses stay whole: people grep for them
            table.add_column(name, no_wrap=True)
        table.add_column("message", overflow="fold")
        colour = {"accepted": "green", "already_on_chain": "cyan", "refused": "red"}
        for r in shown:
            table.add_row(
                str(r.row), escape(r.meter), escape(r.start),
                f"[{colour[r.status]}]{r.status}[/]", escape(r.code or ""),
                escape(r.message or ""),
            )  # fmt: skip
        # piped into a file or another program, rows stay on one line each for grep and diff
        out = console if console.is_terminal else Console(highlight=False, width=PIPED_WIDTH)
        out.print(table)
    if len(shown) < len(rows):
        console.print(
            f"({len(rows) - len(shown)} accepted rows not listed; --report FILE lists every row)"
        )


def _print_summary(report: ImportReport, report_path: Path | None) -> None:
    summary = report.summary()
    pairs: list[tuple[str, Any]] = [
        ("file", summary["file"]),
        ("gateway", summary["gateway"]),
        ("rows", summary["rows"]),
        ("accepted", f"{summary['accepted']} ({summary['accepted_energy_wh']} Wh)"),
        ("already on chain", summary["already_on_chain"]),
        ("refused", summary["refused"]),
    ]
    if report_path is not None:
        pairs.append(("report", str(report_path)))
    console.print(kv_table(pairs))


@app.command("file")
def file(
    path: Annotated[
        Path,
        typer.Argument(help="A .csv or .parquet file of meter readings.", dir_okay=False),
    ],
    gateway: Annotated[
        str | None,
        typer.Option(
            "--gateway",
            help="The gateway account that signs. Default: the gateway registered for the "
            "file's first meter.",
            show_default=False,
        ),
    ] = None,
    key_name: KeyNameOpt = None,
    batch_size: BatchOpt = 1000,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    report_path: Annotated[
        Path | None,
        typer.Option("--report", help="Write the per-row report to this CSV file.", dir_okay=False),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Import meter readings from a CSV or Parquet file; report every row.

    Exit code 0 when every row is on the chain (accepted now or already there), 1 otherwise.
    """
    try:
        meter_file = MeterFile(path)
    except FileError as exc:
        fail(exc.code, exc.message, json_out)
    with _warnings_on_stderr(), reporting(json_out), Client(node_url(home, node)) as client:
        if gateway is None:
            gateway = _gateway_of_file(client, path, json_out)
        key = load_key(existing_key(home, key_name or gateway, json_out), passphrase())
        submitter = ReadingSubmitter(
            client,
            key,
            gateway,
            batch_size=batch_size,
            retry=RetryPolicy(attempts=6, first_delay_s=0.5, max_delay_s=5.0),
            log_readings=False,
        )
        total = meter_file.total if meter_file.total is not None else _count_csv_rows(path)
        with progress_bar() as progress:
            task = progress.add_task("importing", total=total)
            importer = FileImporter(client, submitter, progress=lambda n: progress.advance(task, n))
            try:
                report = importer.run(path)
                aborted: SubmitAborted | None = None
            except FileError as exc:
                fail(exc.code, exc.message, json_out)
            except SubmitAborted as exc:
                aborted = exc
                report = importer.report or ImportReport(str(path), gateway)
    if report_path is not None:
        try:
            with report_path.open("w", newline="", encoding="utf-8") as out:
                write_report_csv(report, out)
        except OSError as exc:
            fail("ingest.report_unwritable", f"cannot write {report_path}: {exc}", json_out)
    if json_out:
        doc: dict[str, Any] = report.summary()
        if report_path is None:
            doc["results"] = [r.to_json() for r in report.in_order()]
        else:
            doc["report"] = str(report_path)
        if aborted is not None:
            doc["error"] = {"code": aborted.code, "message": aborted.message}
        print_json(doc)
    else:
        if report_path is None:
            _print_table(report)
        _print_summary(report, report_path)
        if aborted is not None:
            err_console.print(
                f"[bold red]error[/] [red]{escape(aborted.code)}[/]: {escape(aborted.message)}"
                " (the rows listed are settled; import the file again to finish)"
            )
    if aborted is not None or report.count("refused"):
        raise typer.Exit(1)
