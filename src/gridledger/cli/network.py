"""``gridledger network``: a consortium of organisations, each with its etcd member and node.

The commands run a whole network on one machine (every organisation's directory side by side);
docs/network.md explains running each organisation on its own machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gridledger.cli.common import JsonOpt, console, fail, passphrase, print_json

app = typer.Typer(
    help="A consortium network: etcd ordering, one node per organisation.",
    no_args_is_help=True,
)

NetHomeOpt = Annotated[
    Path, typer.Option("--home", help="The network's directory (one sub-directory per org).")
]


@app.command("init")
def init(
    home: NetHomeOpt,
    orgs: Annotated[int, typer.Option("--orgs", min=1, max=50, help="Organisations.")] = 4,
    chain_id: Annotated[
        str | None, typer.Option("--chain-id", help="Default: a random one.", show_default=False)
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address every member listens on.")] = (
        "127.0.0.1"
    ),
    base_port: Annotated[
        int,
        typer.Option(
            "--base-port",
            min=1024,
            max=64000,
            help="Organisation i uses base+10i (etcd clients), +1 (etcd peers), +2 (its API).",
        ),
    ] = 24000,
    json_out: JsonOpt = False,
) -> None:
    """Create the CA, every organisation's keys, certificates and node home, and the genesis
    naming the founding organisations and their node keys."""
    from gridledger.network.deploy import init_network  # noqa: PLC0415

    try:
        consortium = init_network(
            home, orgs, passphrase(confirm=True), chain_id=chain_id, host=host, base_port=base_port
        )
    except (FileExistsError, ValueError) as exc:
        fail("network.init", str(exc), json_out)
    rows = [
        {"org": o.id, "etcd": o.client_url, "etcd_peer": o.peer_url, "api": o.api_url}
        for o in consortium.orgs
    ]
    if json_out:
        print_json({"home": str(home), "chain_id": consortium.chain_id, "orgs": rows})
        return
    for o in rows:
        console.print(f"{o['org']}: api {o['api']}  etcd {o['etcd']}")
    console.print(f"\nstart it with: gridledger network up --home {home}")


@app.command("up")
def up(
    home: NetHomeOpt,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for nodes.")] = 90,
    json_out: JsonOpt = False,
) -> None:
    """Start every organisation's etcd member and node (in the background)."""
    from gridledger.network.deploy import up as start  # noqa: PLC0415

    try:
        report = start(home, passphrase(), timeout_s=timeout)
    except (FileNotFoundError, RuntimeError, TimeoutError) as exc:
        fail("network.up", str(exc), json_out)
    _show(report, json_out)


@app.command("status")
def status(home: NetHomeOpt, json_out: JsonOpt = False) -> None:
    """Each node's height, final height, lag and health, and each etcd member's health."""
    from gridledger.network.deploy import status as report_of  # noqa: PLC0415

    try:
        report = report_of(home)
    except FileNotFoundError as exc:
        fail("network.status", str(exc), json_out)
    _show(report, json_out)


@app.command("down")
def down(home: NetHomeOpt, json_out: JsonOpt = False) -> None:
    """Stop every node, then every etcd member."""
    from gridledger.network.deploy import down as stop  # noqa: PLC0415

    try:
        stopped = stop(home)
    except FileNotFoundError as exc:
        fail("network.down", str(exc), json_out)
    if json_out:
        print_json({"stopped": stopped})
    else:
        console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


def _show(report: dict[str, Any], json_out: bool) -> None:
    if json_out:
        print_json(report)
        return
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=f"chain {report['chain_id']}")
    for column in ("org", "node", "height", "final", "lag", "etcd", "halted"):
        table.add_column(column)
    for r in report["orgs"]:
        table.add_row(
            r["org"],
            "up" if r["api"] else ("starting" if r["node_running"] else "down"),
            str(r.get("height", "-")),
            str(r.get("final_height", "-")),
            str(r.get("lag", "-")),
            "healthy" if r.get("etcd_healthy") else ("up" if r["etcd_running"] else "down"),
            r.get("halted") or "",
        )
    console.print(table)
