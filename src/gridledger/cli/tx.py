"""``gridledger tx``: sign a transaction with a local key, submit it, and wait for its receipt.

Every command signs with ``HOME/keys/<--key or --from>.json`` as the account ``--from``
(default ``operator``), submits to ``--node``, waits up to ``--wait`` seconds, and prints the
receipt. The exit code is 0 only when the transaction committed with status ``ok``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from gridledger.cli.common import (
    HomeOpt,
    JsonOpt,
    NodeOpt,
    err_console,
    fail,
    node_url,
    passphrase,
    print_committed,
    reporting,
)
from gridledger.cli.keys import existing_key
from gridledger.contracts.base import ROLES
from gridledger.core.keystore import load_key, read_public_key
from gridledger.node.home import DEFAULT_HOME
from gridledger.sdk import Client, Committed

app = typer.Typer(
    help="Sign and submit transactions; prints the receipt once committed.",
    no_args_is_help=True,
)

FromOpt = Annotated[str, typer.Option("--from", help="The sending account.")]
KeyOpt = Annotated[
    str | None,
    typer.Option("--key", help="Key name in HOME/keys. Default: the --from account's name."),
]
WaitOpt = Annotated[
    float,
    typer.Option("--wait", min=0.1, max=60.0, help="Seconds to wait for the receipt."),
]
AmountOpt = Annotated[
    int, typer.Option("--amount", min=1, help="Amount in minor currency units (integer).")
]
AccountOpt = Annotated[str, typer.Option("--account", help="The account id.")]
RoleOpt = Annotated[str, typer.Option("--role", help=f"One of: {', '.join(ROLES)}.")]


def _finish(result: Committed, json_out: bool) -> None:
    print_committed(result, json_out)
    if not result.ok:
        if not json_out:
            err_console.print(f"[red]transaction failed[/]: {result.code}: {result.message}")
        raise typer.Exit(1)


def _send(
    home: Path,
    node: str | None,
    sender: str,
    key_name: str | None,
    wait: float,
    json_out: bool,
    kind: str,
    body: dict[str, Any],
) -> None:
    path = existing_key(home, key_name or sender, json_out)
    with reporting(json_out):
        key = load_key(path, passphrase())
        with Client(node_url(home, node)) as client:
            result = client.send(key, sender, kind, body, wait)
    _finish(result, json_out)


@app.command("transfer")
def transfer(
    to: Annotated[str, typer.Option("--to", help="The receiving account.")],
    amount: AmountOpt,
    memo: Annotated[str, typer.Option("--memo", help="Up to 256 characters.")] = "",
    sender: FromOpt = "operator",
    key: KeyOpt = None,
    wait: WaitOpt = 10.0,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Move funds from --from to --to (funds.transfer)."""
    body: dict[str, Any] = {"to": to, "amount": amount}
    if memo:
        body["memo"] = memo
    _send(home, node, sender, key, wait, json_out, "funds.transfer", body)


@app.command("mint")
def mint(
    to: Annotated[str, typer.Option("--to", help="The account credited.")],
    amount: AmountOpt,
    sender: FromOpt = "operator",
    key: KeyOpt = None,
    wait: WaitOpt = 10.0,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create funds in --to's balance (funds.mint; operator role)."""
    _send(home, node, sender, key, wait, json_out, "funds.mint", {"to": to, "amount": amount})


@app.command("add-account")
def add_account(
    account: AccountOpt,
    org: Annotated[str, typer.Option("--org", help="The account's organisation.")],
    public_key: Annotated[
        str | None, typer.Option("--public-key", help="'ed25519:<hex>' of the account's key.")
    ] = None,
    key_name: Annotated[
        str | None,
        typer.Option("--key-name", help="Take the public key from HOME/keys/<NAME>.json."),
    ] = None,
    role: Annotated[
        list[str] | None, typer.Option("--role", help="A role to give (repeatable).")
    ] = None,
    sender: FromOpt = "operator",
    key: KeyOpt = None,
    wait: WaitOpt = 10.0,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Register an account with its public key and roles (registry.add_account; operator)."""
    if (public_key is None) == (key_name is None):
        raise typer.BadParameter("give exactly one of --public-key and --key-name")
    if key_name is not None:
        with reporting(json_out):
            public_key = read_public_key(existing_key(home, key_name, json_out))
    body = {"account": account, "org": org, "public_key": public_key, "roles": role or []}
    _send(home, node, sender, key, wait, json_out, "registry.add_account", body)


@app.command("grant-role")
def grant_role(
    account: AccountOpt,
    role: RoleOpt,
    sender: FromOpt = "operator",
    key: KeyOpt = None,
    wait: WaitOpt = 10.0,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Give an account a role its organisation holds (registry.grant_role; operator)."""
    body = {"account": account, "role": role}
    _send(home, node, sender, key, wait, json_out, "registry.grant_role", body)


@app.command("revoke-role")
def revoke_role(
    account: AccountOpt,
    role: RoleOpt,
    sender: FromOpt = "operator",
    key: KeyOpt = None,
    wait: WaitOpt = 10.0,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Take a role from an account (registry.revoke_role; operator)."""
    body = {"account": account, "role": role}
    _send(home, node, sender, key, wait, json_out, "registry.revoke_role", body)


@app.command("add-org")
def add_org(
    org: Annotated[str, typer.Option("--org", help="The organisation id.")],
    name: Annotated[str, typer.Option("--name", help="Its display name.")],
    role: Annotated[
        list[str] | None,
        typer.Option("--role", help="A role its accounts may hold (repeatable)."),
    ] = None,
    node_key: Annotated[
        str | None,
        typer.Option("--node-key", help="'ed25519:<hex>' key its node signs blocks with."),
    ] = None,
    sender: FromOpt = "operator",
    key: KeyOpt = None,
    wait: WaitOpt = 10.0,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Register an organisation and the roles its accounts may hold (operator)."""
    body: dict[str, Any] = {"org": org, "name": name, "roles": role or []}
    if node_key is not None:
        body["node_key"] = node_key
    _send(home, node, sender, key, wait, json_out, "registry.add_organisation", body)


@app.command("submit")
def submit(
    file: Annotated[str, typer.Argument(help="A signed transaction as JSON; '-' reads stdin.")],
    wait: WaitOpt = 10.0,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Submit a transaction signed elsewhere (e.g. with the SDK's sign_tx) as it is."""
    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        fail("cli.unreadable_file", f"cannot read {file}: {exc.strerror}", json_out)
    with reporting(json_out), Client(node_url(home, node)) as client:
        result = client.submit_and_wait(raw, wait)
    _finish(result, json_out)
