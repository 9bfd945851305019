"""``gridledger custody``: the community accounts whose keys the node holds and signs for,
and how their members sign in before it does.

The keys live in ``HOME/custody.json``, sealed under a key derived from the node's key (see
:mod:`gridledger.node.custody`); the web interface's consumer view signs a custodial account's
choice with it, for that account's member only, signed in. A running node reads the file when
it starts.

Members' sign-in credentials (passkeys, passwords of volunteers) and the operator's tokens live
in ``HOME/members.json`` (:mod:`gridledger.node.members`): ``enrol`` prints a one-time link,
``reset`` removes a member's credentials and prints a new one, ``operator-token`` makes the
bearer token of the operator's endpoints and pages. A running node sees these changes at once
(it re-reads the file when it changes); ``list`` shows every custodial account's login state.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.table import Table

from gridledger.cli.common import (
    HomeOpt,
    JsonOpt,
    console,
    fail,
    parse_host_port,
    passphrase,
    print_json,
    utc_time,
)
from gridledger.cli.keys import existing_key
from gridledger.core.crypto import SigningKey
from gridledger.core.keystore import KeystoreError, load_key
from gridledger.node.custody import (
    Custody,
    CustodyError,
    custody_path,
    held_accounts,
    save_custody,
)
from gridledger.node.home import DEFAULT_API, DEFAULT_HOME, HomeError, key_path, read_settings
from gridledger.node.members import ENROLMENT_TTL_S, Issued, Members, MembersError

app = typer.Typer(
    help="Accounts whose keys the node holds for the web interface (HOME/custody.json).",
    no_args_is_help=True,
)
OPERATOR_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
AccountArg = Annotated[str, typer.Argument(help="The account id.")]
PasswordOpt = Annotated[
    bool,
    typer.Option(
        "--password",
        help="Let the member set a password instead of (or besides) a passkey: for volunteers "
        "without a device that holds passkeys.",
    ),
]
HoursOpt = Annotated[
    int,
    typer.Option("--hours", min=1, max=720, help="How long the enrolment link stays valid."),
]


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


def _members(home: Path) -> Members:
    return Members(home)


def _custodial(home: Path, account: str, json_out: bool) -> None:
    """Fail unless ``account``'s key is in custody: only those members sign in."""
    try:
        held = held_accounts(home)
    except CustodyError as exc:
        fail("custody.unreadable", str(exc), json_out)
    if account not in held:
        fail(
            "custody.not_held",
            f"{account!r} is not in custody: 'gridledger custody add {account}' first",
            json_out,
        )


def enrolment_url(home: Path, code: str) -> str:
    """The link a member opens to enrol: the node's public address (its HTTPS proxy, else a
    name it is served under) and the code."""
    # imported here: the API package is only needed for the address
    from gridledger.api.site import Site, SiteSettings  # noqa: PLC0415

    try:
        settings = SiteSettings.of_home(home)
        api = str(read_settings(home).get("api", DEFAULT_API))
    except HomeError:
        settings, api = SiteSettings(), DEFAULT_API
    host, port = parse_host_port(api)
    site = Site.serving(host, port, tls=settings.tls_cert is not None, settings=settings)
    return f"{site.public_url()}/enrol?code={code}"


def _issued(home: Path, issued: Issued, json_out: bool, reset: bool = False) -> None:
    link = enrolment_url(home, issued.code)
    if json_out:
        print_json(
            {
                "account": issued.account,
                "code": issued.code,
                "link": link,
                "expires_s": issued.expires_s,
                "password": issued.password,
                "reset": reset,
            }
        )
        return
    how = "a passkey or a password" if issued.password else "a passkey"
    if reset:
        console.print(f"{issued.account}: every passkey and password removed, sessions ended")
    console.print(
        f"enrolment for {issued.account} ({how}), valid until {utc_time(issued.expires_s)}:"
    )
    console.print(f"  {link}")
    console.print("give the link to the member only; it works once")


@app.command("list")
def list_accounts(home: HomeOpt = DEFAULT_HOME, json_out: JsonOpt = False) -> None:
    """The accounts in custody and each one's login state (passkeys, password, enrolment)."""
    try:
        accounts = held_accounts(home)
    except CustodyError as exc:
        fail("custody.unreadable", str(exc), json_out)
    try:
        members = _members(home)
        states = [members.login_state(account) for account in accounts]
    except MembersError as exc:
        fail(exc.code, exc.message, json_out)
    if json_out:
        print_json(
            {
                "file": str(custody_path(home)),
                "accounts": accounts,
                "logins": [msgspec.to_builtins(state) for state in states],
            }
        )
        return
    table = Table("account", "login", "passkeys", "password", "enrolment until", box=None)
    for state in states:
        until = state.enrolment_expires_s
        table.add_row(
            state.account,
            state.state,
            str(state.passkeys),
            "yes" if state.password else "-",
            "-" if until is None else utc_time(until),
        )
    console.print(f"{len(accounts)} accounts in custody")
    if accounts:
        console.print(table)


@app.command("enrol")
def enrol(
    account: AccountArg,
    password: PasswordOpt = False,
    hours: HoursOpt = ENROLMENT_TTL_S // 3600,
    home: HomeOpt = DEFAULT_HOME,
    json_out: JsonOpt = False,
) -> None:
    """Print a one-time link with which a member registers a passkey (or sets a password
    with --password); it replaces a link issued before and keeps existing credentials."""
    _custodial(home, account, json_out)
    try:
        issued = _members(home).issue_enrolment(account, password=password, ttl_s=hours * 3600)
    except MembersError as exc:
        fail(exc.code, exc.message, json_out)
    _issued(home, issued, json_out)


@app.command("reset")
def reset(
    account: AccountArg,
    password: PasswordOpt = False,
    hours: HoursOpt = ENROLMENT_TTL_S // 3600,
    home: HomeOpt = DEFAULT_HOME,
    json_out: JsonOpt = False,
) -> None:
    """Remove a member's passkeys and password, end their sessions, and print a new
    enrolment link (a lost phone, a forgotten password)."""
    _custodial(home, account, json_out)
    try:
        issued = _members(home).reset(account, password=password, ttl_s=hours * 3600)
    except MembersError as exc:
        fail(exc.code, exc.message, json_out)
    _issued(home, issued, json_out, reset=True)


@app.command("operator-token")
def operator_token(
    name: Annotated[str, typer.Argument(help="Whose token: a name to tell tokens apart.")] = (
        "operator"
    ),
    revoke: Annotated[
        bool, typer.Option("--revoke", help="Revoke the token instead of making a new one.")
    ] = False,
    home: HomeOpt = DEFAULT_HOME,
    json_out: JsonOpt = False,
) -> None:
    """Make (or replace, or --revoke) an operator's bearer token for the custody endpoints and
    pages; it is printed once and kept only as a hash."""
    if not OPERATOR_NAME.match(name):
        raise typer.BadParameter("1-32 characters of a-z 0-9 . _ -", param_hint="NAME")
    members = _members(home)
    try:
        if revoke:
            if not members.revoke_operator(name):
                fail("custody.no_operator_token", f"no operator token named {name!r}", json_out)
            token = None
        else:
            token = members.issue_operator_token(name)
    except MembersError as exc:
        fail(exc.code, exc.message, json_out)
    if json_out:
        print_json({"name": name, "token": token, "revoked": revoke})
    elif token is None:
        console.print(f"operator token {name!r} revoked; its sessions end")
    else:
        console.print(f"operator token {name!r} (shown once; send it as 'Authorization: Bearer'):")
        console.print(f"  {token}")


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
    try:  # nobody signs in for an account the node no longer signs for
        _members(home).forget(account)
    except MembersError as exc:
        fail(exc.code, exc.message, json_out)
    _report(home, sorted(held), json_out)
