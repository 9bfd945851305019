"""``gridledger custody``: the community accounts whose keys the node holds and signs for.

The keys live in ``HOME/custody.json``, sealed under a key derived from the node's key (see
:mod:`gridledger.node.custody`); the web interface's consumer view signs a custodial account's
choice with it. A running node reads the file when it starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridledger.cli.common import HomeOpt, JsonOpt, console, fail, passphrase, print_json
from gridledger.cli.keys import existing_key
from gridledger.core.crypto import SigningKey
from gridledger.core.keystore import KeystoreError, load_key
from gridledger.node.custody import Custody, CustodyError, custody_path, save_custody
from gridledger.node.home import DEFAULT_HOME, key_path

app = typer.Typer(
    help="Accounts whose keys the node holds for the web interface (HOME/custody.json).",
    no_args_is_help=True,
)
AccountArg = Annotated[str, typer.Argument(help="The account id.")]


def _node_key(home: Path, json_out: bool) -> SigningKey:
    try:
        return load_key(key_path(home, "node"), passphrase())
    except (KeystoreError, OSError) as exc:
        fail("custody.no_node_key", f"the node key of {home} cannot be opened: {exc}", json_out)


def _held(home: Path, node_key: SigningKey, json_out: bool) -> dict[str, SigningKey]:
    try:
        custody = Custody.open(home, node_key)
    except CustodyError as exc:
        fail("custody.unreadable", str(exc), json_out)
    return {account: key for account in custody.accounts() if (key := custody.key(account))}


def _report(home: Path, accounts: list[str], json_out: bool) -> None:
    if json_out:
        print_json({"file": str(custody_path(home)), "accounts": accounts})
    else:
        console.print(f"{len(accounts)} accounts in custody: {', '.join(accounts) or '-'}")


@app.command("list")
def list_accounts(home: HomeOpt = DEFAULT_HOME, json_out: JsonOpt = False) -> None:
    """The accounts in custody."""
    _report(home, sorted(_held(home, _node_key(home, json_out), json_out)), json_out)


@app.command("add")
def add(
    account: AccountArg,
    key: Annotated[
        str | None, typer.Option("--key", help="Key name in HOME/keys. Default: the account.")
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    json_out: JsonOpt = False,
) -> None:
    """Put an account's key (from HOME/keys) in custody; restart the node to use it."""
    path = existing_key(home, key or account, json_out)
    node_key = _node_key(home, json_out)
    try:
        member = load_key(path, passphrase())
    except (KeystoreError, OSError) as exc:
        fail("custody.bad_key", f"{path} cannot be opened: {exc}", json_out)
    held = _held(home, node_key, json_out)
    held[account] = member
    save_custody(home, node_key, held)
    _report(home, sorted(held), json_out)


@app.command("remove")
def remove(account: AccountArg, home: HomeOpt = DEFAULT_HOME, json_out: JsonOpt = False) -> None:
    """Take an account's key out of custody; restart the node for it to take effect."""
    node_key = _node_key(home, json_out)
    held = _held(home, node_key, json_out)
    if held.pop(account, None) is None:
        fail("custody.not_held", f"{account!r} is not in custody", json_out)
    save_custody(home, node_key, held)
    _report(home, sorted(held), json_out)
