"""``gridledger query``: read accounts, blocks, transactions and state through a node's API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.markup import escape
from rich.table import Table

from gridledger.cli.common import (
    HomeOpt,
    JsonOpt,
    NodeOpt,
    console,
    kv_table,
    node_url,
    print_json,
    reporting,
)
from gridledger.contracts.genesis import load as load_genesis
from gridledger.node.home import DEFAULT_HOME
from gridledger.sdk import Client, verify_state_proof

app = typer.Typer(help="Read the chain through a node's API.", no_args_is_help=True)


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
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A raw state value; with --proof, checked against the block header's state root."""
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
    found = _fetch(home, node, json_out, "state_proof", key)
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
