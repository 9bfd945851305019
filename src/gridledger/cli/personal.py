"""``gridledger personal``: households' personal details, kept off the chain in the node's own
database (``HOME/personal.sqlite``, see :mod:`gridledger.node.personal`).

For the node's operator at the machine: ``set`` keeps details entered for a household (with
its consent, for the one purpose stated), ``export`` prints everything kept about an account
as JSON (what the household may ask for), ``erase`` deletes it, ``list`` names the accounts
with details kept. Households do the same themselves from their page, signed in, or through
``/v1/personal/{account}``. A running node sees every change at once.
"""

from __future__ import annotations

from typing import Annotated

import typer

from gridledger.cli.common import HomeOpt, fail, print_json
from gridledger.node.home import DEFAULT_HOME
from gridledger.node.personal import Details, PersonalError, PersonalStore

app = typer.Typer(
    help="Households' personal details, off the chain (HOME/personal.sqlite).",
    no_args_is_help=True,
)

Account = Annotated[str, typer.Argument(help="The household's account id.")]


@app.command("set")
def set_details(
    account: Account,
    name: Annotated[str, typer.Option(help="How the household is addressed.")] = "",
    address: Annotated[str, typer.Option(help="Postal address.")] = "",
    phone: Annotated[str, typer.Option(help="Phone number.")] = "",
    email: Annotated[str, typer.Option(help="Email address.")] = "",
    home: HomeOpt = DEFAULT_HOME,
) -> None:
    """Keep (or replace) an account's details."""
    store = PersonalStore(home)
    try:
        store.put(account, Details(name, address, phone, email))
    except PersonalError as exc:
        fail("personal.invalid", str(exc))
    finally:
        store.close()
    typer.echo(f"kept the personal details of {account} in {store.path}")


@app.command("export")
def export(account: Account, home: HomeOpt = DEFAULT_HOME) -> None:
    """Print everything kept about an account as JSON."""
    store = PersonalStore(home)
    try:
        print_json(store.export(account))
    finally:
        store.close()


@app.command("erase")
def erase(account: Account, home: HomeOpt = DEFAULT_HOME) -> None:
    """Delete an account's details."""
    store = PersonalStore(home)
    try:
        erased = store.erase(account)
    finally:
        store.close()
    typer.echo(
        f"erased the personal details of {account}" if erased else f"nothing kept for {account}"
    )


@app.command("list")
def list_accounts(home: HomeOpt = DEFAULT_HOME) -> None:
    """The accounts with details kept (ids only)."""
    store = PersonalStore(home)
    try:
        for account in store.accounts():
            typer.echo(account)
    finally:
        store.close()
