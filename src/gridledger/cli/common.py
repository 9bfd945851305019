"""What every command shares: options, the passphrase, output, and turning errors into exits.

Exit codes: 0 success; 1 refused, failed, unreachable or damaged (the code and message say
which); 2 wrong usage (unknown option, a value that does not parse).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gridledger.core.errors import GridLedgerError
from gridledger.core.keystore import KeystoreError, passphrase_from_env
from gridledger.node.home import DEFAULT_API, HomeError, read_settings
from gridledger.sdk import Client, Committed, SdkError

console = Console(highlight=False)
# soft wrap: an error message must stay one greppable line, whatever the terminal width
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

HomeOpt = Annotated[
    Path,
    typer.Option(
        "--home",
        envvar="GRIDLEDGER_HOME",
        help="The node's home directory (genesis, keys, chain database).",
        file_okay=False,
    ),
]
NodeOpt = Annotated[
    str | None,
    typer.Option(
        "--node",
        envvar="GRIDLEDGER_NODE",
        help="The node's API URL. Default: the API address in HOME/node.json.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]

_HOST_PORT = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(?P<port>\d{1,5})$")


def progress_bar() -> Progress:
    """A progress bar on stderr, shown only on a terminal, so stdout keeps just the result."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=not err_console.is_terminal,
    )


def fail(code: str, message: str, json_out: bool = False) -> NoReturn:
    """Report an error (JSON on stdout with ``--json``, else on stderr) and exit 1."""
    if json_out:
        print_json({"error": {"code": code, "message": message}})
    else:
        err_console.print(f"[bold red]error[/] [red]{escape(code)}[/]: {escape(message)}")
    raise typer.Exit(1)


@contextmanager
def reporting(json_out: bool = False) -> Iterator[None]:
    """Turn the errors a command can meet into a clean message and exit code 1."""
    try:
        yield
    except SdkError as exc:
        fail(exc.code, exc.message, json_out)
    except GridLedgerError as exc:
        fail(exc.code, exc.message, json_out)
    except KeystoreError as exc:
        fail("keystore.error", str(exc), json_out)
    except HomeError as exc:
        fail("home.error", str(exc), json_out)


def passphrase(confirm: bool = False) -> str:
    """The keystore passphrase: ``GRIDLEDGER_PASSPHRASE`` if set, else asked for (hidden)."""
    value = passphrase_from_env()
    if value:
        return value
    # asked on stderr, so that stdout holds only the command's output (--json stays parseable)
    entered: str = typer.prompt(
        "Passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )
    if not entered:
        fail("keystore.empty_passphrase", "the passphrase must not be empty")
    return entered


def parse_host_port(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) into its parts; fails with a usage message."""
    m = _HOST_PORT.match(value)
    port = int(m.group("port")) if m else 0
    if m is None or not 0 < port < 65536:
        raise typer.BadParameter(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:8645)")
    return m.group("host").strip("[]"), port


def node_url(home: Path, node: str | None) -> str:
    """The API to talk to: ``--node``, else the address in ``HOME/node.json``, else the default."""
    if node:
        return node.rstrip("/")
    try:
        api = str(read_settings(home).get("api", DEFAULT_API))
    except (HomeError, ValueError):
        api = DEFAULT_API
    host, port = parse_host_port(api)
    # a node listening on every interface is reached on this machine's loopback
    if host in {"0.0.0.0", ""}:  # noqa: S104 - compared, not bound
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def print_json(obj: Any) -> None:
    """One JSON document on stdout (plain text: never wrapped or coloured)."""
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False))


def kv_table(rows: list[tuple[str, Any]], title: str | None = None) -> Table:
    table = Table(show_header=False, title=title, title_justify="left", box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, escape(str(value)))
    return table


def fields_table(record: dict[str, Any], title: str | None = None) -> Table:
    """A record as a two-column table: names with spaces for underscores, a nested record as
    ``name=value, ...`` on one line."""
    rows = []
    for k, v in record.items():
        text = ", ".join(f"{a}={cell(b)}" for a, b in v.items()) if isinstance(v, dict) else v
        rows.append((k.replace("_", " "), cell(text)))
    return kv_table(rows, title)


def print_fields(record: dict[str, Any], json_out: bool, title: str | None = None) -> None:
    """A record read from the node: the API's answer with ``--json``, else :func:`fields_table`."""
    if json_out:
        print_json(record)
        return
    console.print(fields_table(record, title))


def rows_table(
    rows: list[dict[str, Any]], columns: list[tuple[str, str]], title: str = ""
) -> Table:
    """A table of ``rows`` with (heading, field) ``columns``; under a heading with ``(UTC)``,
    Unix seconds show as UTC times. Times and ids never break on a narrow terminal."""
    table = Table(title=title or None, title_justify="left")
    for heading, _ in columns:
        table.add_column(heading, no_wrap="(UTC)" in heading or heading == "id")
    for row in rows:
        cells = []
        for heading, name in columns:
            value = row.get(name)
            if "(UTC)" in heading and isinstance(value, int):
                cells.append(utc_time(value))
            else:
                cells.append(escape(cell(value)))
        table.add_row(*cells)
    return table


def print_more(next_page: Any, option: str = "--after") -> None:
    """After a page of a list: the option that reads the next page, when there is one."""
    if next_page is not None:
        console.print(f"more: {option} {escape(str(next_page))}")


def _events_text(events: list[dict[str, Any]]) -> str:
    lines = []
    for event in events:
        attrs = " ".join(f"{k}={v}" for k, v in event.items() if k != "type")
        lines.append(f"{event.get('type', '?')} {attrs}".strip())
    return "\n".join(lines) or "-"


def print_committed(result: Committed, json_out: bool) -> None:
    """A transaction's receipt: JSON, or a table with the status in colour."""
    if json_out:
        print_json(result.to_json())
        return
    status = "[green]ok[/]" if result.ok else "[red]failed[/]"
    table = kv_table(
        [
            ("transaction", result.hash),
            ("block", f"{result.height} (index {result.index})"),
        ]
    )
    table.add_row("status", status)
    if not result.ok:
        table.add_row("error", escape(f"{result.code}: {result.message}"))
    table.add_row("events", escape(_events_text(result.events)))
    console.print(table)


def unix_seconds(value: str, option: str) -> int:
    """A time option: Unix seconds, or ISO 8601 (``2025-06-01``, ``2025-06-01T08:15``, with an
    offset or ``Z``; without one it is UTC). A value that does not parse is a usage error."""
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is neither Unix seconds nor an ISO 8601 time", param_hint=option
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp())


def utc_time(seconds: int) -> str:
    """Unix seconds as an ISO 8601 UTC time, for tables (``2025-06-01T08:15:00Z``)."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def call_node(home: Path, node: str | None, json_out: bool, call: Callable[[Client], Any]) -> Any:
    """``call`` with a client of the node (``--node``, else the home's API address); the errors
    it meets become a clean message and exit code 1."""
    with reporting(json_out), Client(node_url(home, node)) as client:
        return call(client)


def optional_seconds(value: str | None, option: str) -> int | None:
    """An optional time option as Unix seconds (see :func:`unix_seconds`)."""
    return None if value is None else unix_seconds(value, option)


def cell(value: Any) -> str:
    """A value as a table cell: ``-`` for none, lists joined with commas."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)
