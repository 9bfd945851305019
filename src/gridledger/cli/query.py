"""``gridledger query``: read accounts, blocks, transactions, state, the registry of devices,
sites and meters, meter readings and the market (:mod:`gridledger.cli.market`) through a node's
API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.markup import escape
from rich.table import Table

from gridledger.cli import chain, market, proofs
from gridledger.cli.common import (
    HomeOpt,
    JsonOpt,
    NodeOpt,
    call_node,
    cell,
    console,
    kv_table,
    node_url,
    optional_seconds,
    print_json,
    print_more,
    reporting,
    unix_seconds,
    utc_time,
)
from gridledger.contracts.genesis import load as load_genesis
from gridledger.node.home import DEFAULT_HOME
from gridledger.sdk import Client, ConsortiumKeys, proof_finality, verify_state_proof

app = typer.Typer(help="Read the chain through a node's API.", no_args_is_help=True)
app.add_typer(market.query_app, name="market")
app.command("rules")(chain.rules_command)
app.command("consortium-keys")(proofs.consortium_keys_command)


def _fetch(home: Path, node: str | None, json_out: bool, call: str, *args: Any) -> Any:
    with reporting(json_out), Client(node_url(home, node)) as client:
        return getattr(client, call)(*args)


@app.command("status")
def status(home: HomeOpt = DEFAULT_HOME, node: NodeOpt = None, json_out: JsonOpt = False) -> None:
    """Chain id, tip height and hash, state root, pending transactions."""
    st = _fetch(home, node, json_out, "status")
    if json_out:
        print_json(st)
        return
    console.print(kv_table([(k.replace("_", " "), v) for k, v in st.items()]))


@app.command("account")
def account(
    account_id: Annotated[str, typer.Argument(metavar="ID", help="The account id.")],
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """An account: organisation, roles, public key, balance, nonces."""
    acct = _fetch(home, node, json_out, "account", account_id)
    if json_out:
        print_json(acct)
        return
    console.print(
        kv_table(
            [
                ("account", acct["id"]),
                ("organisation", acct["org"]),
                ("roles", ", ".join(acct["roles"]) or "-"),
                ("public key", acct["public_key"]),
                ("suspended", "yes" if acct["suspended"] else "no"),
                ("balance", f"{acct['balance']} (minor units)"),
                ("last nonce", acct["nonce"]),
                ("next nonce", acct["next_nonce"]),
            ]
        )
    )


@app.command("balance")
def balance(
    account_id: Annotated[str, typer.Argument(metavar="ID", help="The account id.")],
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """An account's settlement balance in minor currency units."""
    acct = _fetch(home, node, json_out, "account", account_id)
    if json_out:
        print_json({"account": acct["id"], "balance": acct["balance"]})
    else:
        typer.echo(acct["balance"])


def _short(h: str) -> str:
    return f"{h[:16]}…"


@app.command("block")
def block(
    height: Annotated[
        int | None, typer.Argument(min=0, help="Block height. Default: the latest block.")
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A block: header, signature and transactions with their status."""
    blk = (
        _fetch(home, node, json_out, "latest_block")
        if height is None
        else _fetch(home, node, json_out, "block", height)
    )
    if json_out:
        print_json(blk)
        return
    header = blk["header"]
    console.print(
        kv_table(
            [
                ("height", blk["height"]),
                ("hash", blk["hash"]),
                ("time (ms)", header["time"]),
                ("proposer", header["proposer"]),
                ("previous", header["prev_hash"]),
                ("state root", header["state_root"]),
                ("tx root", header["tx_root"]),
                ("transactions", blk["tx_count"]),
            ],
            title=f"block {blk['height']}",
        )
    )
    if blk["txs"]:
        table = Table("#", "hash", "kind", "sender", "status")
        for entry in blk["txs"]:
            ok = entry["receipt"]["status"] == "ok"
            table.add_row(
                str(entry["index"]),
                _short(entry["hash"]),
                escape(entry["tx"]["kind"]),
                escape(entry["tx"]["sender"]),
                "[green]ok[/]" if ok else f"[red]{escape(entry['receipt']['code'] or 'failed')}[/]",
            )
        console.print(table)


@app.command("tx")
def tx(
    tx_hash: Annotated[str, typer.Argument(metavar="HASH", help="Transaction hash (hex).")],
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A committed transaction with its receipt."""
    found = _fetch(home, node, json_out, "tx", tx_hash)
    if json_out:
        print_json(found)
        return
    t, r = found["tx"], found["receipt"]
    status = "[green]ok[/]" if r["status"] == "ok" else "[red]failed[/]"
    table = kv_table(
        [
            ("hash", found["hash"]),
            ("block", f"{found['height']} (index {found['index']})"),
            ("kind", t["kind"]),
            ("sender", t["sender"]),
            ("nonce", t["nonce"]),
            ("body", msgspec.json.encode(t["body"]).decode()),
        ]
    )
    table.add_row("status", status)
    if r["status"] != "ok":
        table.add_row("error", escape(f"{r['code']}: {r['message']}"))
    for event in r["events"]:
        table.add_row("event", escape(msgspec.json.encode(event).decode()))
    console.print(table)


def _trusted_node_key(home: Path, chain_id: str, proposer: str) -> str | None:
    """The proposer's node key from the local genesis.json of the same chain, if there is one.

    A node key from the node being checked would prove nothing; the local genesis document
    is a copy the user already trusts.
    """
    try:
        genesis = load_genesis((home / "genesis.json").read_bytes())
    except (OSError, msgspec.MsgspecError):
        return None
    if genesis.chain_id != chain_id:
        return None
    for org in genesis.organisations:
        if org.id == proposer:
            return org.node_key
    return None


@app.command("state")
def state(
    key: Annotated[str, typer.Argument(help="State key, e.g. funds/balance/alice.")],
    proof: Annotated[
        bool, typer.Option("--proof", help="Fetch a Merkle proof and check it locally.")
    ] = False,
    keys_path: proofs.KeysOpt = None,
    height: Annotated[
        int | None,
        typer.Option(
            "--height",
            min=0,
            help="With --proof: the value as of this height, proved against its header (a "
            "height the node keeps).",
        ),
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A raw state value; with --proof, checked against the block header's state root (and,
    with --keys, its signature, attestations and final claim)."""
    if keys_path is not None and not proof:
        raise typer.BadParameter("--keys checks a proof: add --proof", param_hint="--keys")
    if height is not None and not proof:
        raise typer.BadParameter("--height asks for a proof: add --proof", param_hint="--height")
    if keys_path is not None:
        _state_with_keys(key, proofs.read_keys(keys_path, json_out), keys_path, home, node,
                         json_out, height)  # fmt: skip
        return
    if not proof:
        value = _fetch(home, node, json_out, "state", key)
        # JSON values print as JSON; anything else as hex, so no byte is lost
        if json_out:
            print_json(value)
        elif value["json_value"]:
            typer.echo(msgspec.json.encode(value["value"]).decode())
        else:
            typer.echo(f"0x{value['value_hex']}")
        return
    found = _fetch(home, node, json_out, "state_proof", key, height)
    header = found["header"]
    node_key = _trusted_node_key(home, header["chain_id"], header["proposer"])
    with reporting(json_out):
        verify_state_proof(found, node_key=node_key)
    if json_out:
        print_json(
            {
                "key": key,
                "value": found["value"],
                "value_hex": found["value_hex"],
                "height": found["height"],
                "block_hash": found["block_hash"],
                "state_root": header["state_root"],
                "proof_valid": True,
                "signature_checked": node_key is not None,
            }
        )
        return
    value_text = "absent" if found["value_hex"] is None else str(found["value"])
    signature = (
        f"valid (node key of {header['proposer']} from {home / 'genesis.json'})"
        if node_key is not None
        else f"not checked (no genesis.json of chain {header['chain_id']} in {home})"
    )
    console.print(
        kv_table(
            [
                ("key", key),
                ("value", value_text),
                ("proof", f"valid against block {found['height']}"),
                ("state root", header["state_root"]),
                ("signature", signature),
            ]
        )
    )


def _state_with_keys(
    key: str,
    keys: ConsortiumKeys,
    keys_path: Path,
    home: Path,
    node: str | None,
    json_out: bool,
    height: int | None,
) -> None:
    """``query state --proof --keys``: the proof, the block signature by the proposer's key at
    that height, the attestations and the node's final claim, checked with the keys file."""
    found = _fetch(home, node, json_out, "state_proof", key, height)
    with reporting(json_out):
        verify_state_proof(found, keys=keys)
        result = proof_finality(found, keys)
    header = found["header"]
    if json_out:
        print_json(
            {
                "key": key,
                "value": found["value"],
                "value_hex": found["value_hex"],
                "height": found["height"],
                "block_hash": found["block_hash"],
                "state_root": header["state_root"],
                "proof_valid": True,
                "signature_checked": True,
                **proofs.finality_json(result, str(keys_path)),
            }
        )
        return
    value_text = "absent" if found["value_hex"] is None else str(found["value"])
    rows = [
        ("key", key),
        ("value", value_text),
        ("proof", f"valid against block {found['height']}"),
        ("state root", header["state_root"]),
        ("signature", f"valid (node key of {header['proposer']} at height {found['height']})"),
        *proofs.finality_rows(result, str(keys_path)),
    ]
    console.print(kv_table(rows))


# registry of assets and meter data -------------------------------------------------------------


AfterOpt = Annotated[
    str | None, typer.Option("--after", help="Start after this id (the previous page's next).")
]
PageOpt = Annotated[int, typer.Option("--limit", min=1, max=1000, help="Records per page.")]
FromTime = Annotated[
    str | None,
    typer.Option("--from", help="First interval start: Unix seconds or ISO 8601 (UTC)."),
]
ToTime = Annotated[
    str | None,
    typer.Option("--to", help="Interval starts before this: Unix seconds or ISO 8601 (UTC)."),
]


def _print_page(page: dict[str, Any], field: str, columns: list[str], json_out: bool) -> None:
    if json_out:
        print_json(page)
        return
    table = Table(*columns)
    for record in page[field]:
        table.add_row(*(escape(cell(record.get(c))) for c in columns))
    console.print(table)
    print_more(page["next"])


def _print_record(record: dict[str, Any], json_out: bool) -> None:
    if json_out:
        print_json(record)
        return
    ordered = sorted(record.items(), key=lambda kv: kv[0] != "id")  # the id first, then a-z
    console.print(kv_table([(k.replace("_", " "), cell(v)) for k, v in ordered]))


@app.command("devices")
def devices(
    owner_org: Annotated[
        str | None, typer.Option("--owner-org", help="Only this organisation's.")
    ] = None,
    technology: Annotated[
        str | None, typer.Option("--technology", help="Only this technology.")
    ] = None,
    after: AfterOpt = None,
    limit: PageOpt = 100,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Generation devices in id order, with their meters."""
    found = call_node(
        home, node, json_out, lambda c: c.devices(owner_org, technology, after, limit)
    )
    columns = ["id", "technology", "capacity_w", "owner_org", "grid_region", "meters"]
    _print_page(found, "devices", columns, json_out)


@app.command("device")
def device(
    device_id: Annotated[str, typer.Argument(metavar="ID", help="The device id.")],
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A device's registry record and its meters."""
    _print_record(call_node(home, node, json_out, lambda c: c.device(device_id)), json_out)


@app.command("sites")
def sites(
    owner_org: Annotated[
        str | None, typer.Option("--owner-org", help="Only this organisation's.")
    ] = None,
    after: AfterOpt = None,
    limit: PageOpt = 100,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Consumption sites in id order, with their meters."""
    found = call_node(home, node, json_out, lambda c: c.sites(owner_org, after, limit))
    columns = ["id", "name", "owner_org", "max_wh_per_hour", "grid_region", "meters"]
    _print_page(found, "sites", columns, json_out)


@app.command("site")
def site(
    site_id: Annotated[str, typer.Argument(metavar="ID", help="The site id.")],
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A site's registry record and its meters."""
    _print_record(call_node(home, node, json_out, lambda c: c.site(site_id)), json_out)


@app.command("meters")
def meters(
    device_id: Annotated[
        str | None, typer.Option("--device", help="Only meters of this device.")
    ] = None,
    site_id: Annotated[str | None, typer.Option("--site", help="Only meters of this site.")] = None,
    gateway: Annotated[
        str | None, typer.Option("--gateway", help="Only meters this account reports.")
    ] = None,
    after: AfterOpt = None,
    limit: PageOpt = 100,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Meters in id order: kind, device or site, gateway, interval."""
    found = call_node(
        home, node, json_out, lambda c: c.meters(device_id, site_id, gateway, after, limit)
    )
    columns = ["id", "kind", "device", "site", "gateway", "interval_s"]
    _print_page(found, "meters", columns, json_out)


@app.command("meter")
def meter(
    meter_id: Annotated[str, typer.Argument(metavar="ID", help="The meter id.")],
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A meter's registry record."""
    _print_record(call_node(home, node, json_out, lambda c: c.meter(meter_id)), json_out)


def _one_source(meter_id: object, device_id: str | None, site_id: str | None) -> None:
    if sum(x is not None for x in (meter_id, device_id, site_id)) != 1:
        raise typer.BadParameter("give exactly one of --meter, --device and --site")


@app.command("readings")
def readings(
    meter_id: Annotated[str | None, typer.Option("--meter", help="A meter's readings.")] = None,
    device_id: Annotated[
        str | None, typer.Option("--device", help="The readings of a device's meters.")
    ] = None,
    site_id: Annotated[
        str | None, typer.Option("--site", help="The readings of a site's meters.")
    ] = None,
    start: FromTime = None,
    end: ToTime = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=1000, help="Readings per page.")
    ] = 100,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Stored readings, oldest first, with any correction beside the original."""
    _one_source(meter_id, device_id, site_id)
    first, last = optional_seconds(start, "--from"), optional_seconds(end, "--to")
    found = call_node(
        home,
        node,
        json_out,
        lambda c: c.readings(
            meter_id, device=device_id, site=site_id, start=first, end=last, limit=limit
        ),
    )
    if json_out:
        print_json(found)
        return
    table = Table("start (UTC)", "meter", "length_s", "energy_wh", "corrected_wh", "height")
    for r in found["readings"]:
        table.add_row(
            utc_time(r["start_s"]),
            escape(r["meter"]),
            str(r["length_s"]),
            str(r["energy_wh"]),
            cell(r["corrected_wh"]),
            str(r["height"]),
        )
    console.print(table)
    print_more(found["next"], "--from")


@app.command("totals")
def totals(
    start: Annotated[
        str, typer.Option("--from", help="Window start: Unix seconds or ISO 8601 (UTC).")
    ],
    end: Annotated[str, typer.Option("--to", help="Window end (exclusive), at most 366 days.")],
    meter_id: Annotated[
        list[str] | None, typer.Option("--meter", help="A meter (repeatable).")
    ] = None,
    device_id: Annotated[
        str | None, typer.Option("--device", help="Every meter of this device.")
    ] = None,
    site_id: Annotated[str | None, typer.Option("--site", help="Every meter of this site.")] = None,
    interval: Annotated[
        int, typer.Option("--interval", help="Bucket length: 900, 3600 or 86400 s.")
    ] = 3600,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Energy per interval bucket over meters, a device or a site (corrections applied)."""
    _one_source(meter_id or None, device_id, site_id)
    first, last = unix_seconds(start, "--from"), unix_seconds(end, "--to")
    found = call_node(
        home,
        node,
        json_out,
        lambda c: c.totals(
            first,
            last,
            meters=meter_id or None,
            device=device_id,
            site=site_id,
            interval_s=interval,
        ),
    )
    if json_out:
        print_json(found)
        return
    table = Table("start (UTC)", "energy_wh")
    for bucket in found["totals"]:
        table.add_row(utc_time(bucket["start_s"]), str(bucket["energy_wh"]))
    console.print(table)
    console.print(f"total {found['energy_wh']} Wh over {escape(', '.join(found['meters']) or '-')}")
