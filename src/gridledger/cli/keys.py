"""``gridledger keys``: account keys in ``HOME/keys``, encrypted under the passphrase."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gridledger.cli.common import (
    HomeOpt,
    JsonOpt,
    console,
    err_console,
    fail,
    kv_table,
    passphrase,
    print_json,
    reporting,
)
from gridledger.contracts.registry import ID_RE
from gridledger.core.crypto import SigningKey
from gridledger.core.keystore import KeystoreError, load_key, read_public_key, save_key
from gridledger.node.home import DEFAULT_HOME, key_path

app = typer.Typer(
    help="Account keys in HOME/keys (Ed25519, encrypted with the passphrase).",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="Key name; by convention the account id.")]


def check_name(name: str, json_out: bool = False) -> None:
    # names become file names: the id rule keeps them free of path separators
    if not ID_RE.match(name):
        fail(
            "keys.invalid_name",
            f"{name!r}: key names are 1-64 characters of a-z, 0-9, '.', '_' and '-'",
            json_out,
        )


def existing_key(home: Path, name: str, json_out: bool = False) -> Path:
    """The keystore file of ``name``, or a clear error saying how to create it."""
    check_name(name, json_out)
    path = key_path(home, name)
    if not path.is_file():
        fail(
            "keys.not_found",
            f"no key {name!r} in {path.parent}; create it with "
            f"'gridledger keys new {name} --home {home}'",
            json_out,
        )
    return path


@app.command("new")
def new(name: NameArg, home: HomeOpt = DEFAULT_HOME, json_out: JsonOpt = False) -> None:
    """Create a key pair NAME; prints its public key (to register with 'tx add-account')."""
    check_name(name, json_out)
    path = key_path(home, name)
    if path.exists():
        fail("keys.exists", f"{path} exists already; choose another name", json_out)
    with reporting(json_out):
        key = SigningKey.generate()
        save_key(path, name, key, passphrase(confirm=True))
    if json_out:
        print_json({"name": name, "public_key": key.public_key, "path": str(path)})
        return
    console.print(kv_table([("name", name), ("public key", key.public_key), ("file", path)]))


@app.command("show")
def show(name: NameArg, home: HomeOpt = DEFAULT_HOME, json_out: JsonOpt = False) -> None:
    """Print the public key of NAME (no passphrase needed)."""
    path = existing_key(home, name, json_out)
    with reporting(json_out):
        public_key = read_public_key(path)
    if json_out:
        print_json({"name": name, "public_key": public_key, "path": str(path)})
    else:
        typer.echo(public_key)


@app.command("list")
def list_keys(home: HomeOpt = DEFAULT_HOME, json_out: JsonOpt = False) -> None:
    """List the keys in HOME/keys ('node' is the organisation's block-signing key)."""
    rows = []
    for path in sorted((home / "keys").glob("*.json")):
        try:
            public_key = read_public_key(path)
        except KeystoreError as exc:
            public_key = f"unreadable: {exc}"
        rows.append({"name": path.stem, "public_key": public_key, "path": str(path)})
    if json_out:
        print_json(rows)
        return
    if not rows:
        console.print(f"no keys in {home / 'keys'}")
        return
    table = Table("name", "public key")
    table.columns[1].overflow = "fold"
    for row in rows:
        table.add_row(row["name"], row["public_key"])
    console.print(table)


@app.command("export")
def export(name: NameArg, home: HomeOpt = DEFAULT_HOME, json_out: JsonOpt = False) -> None:
    """Print the private key of NAME (its 32-byte seed, 64 hex digits) to paste into the web
    page's "Your key" box and sign in the browser. Anyone holding it can act as NAME: keep it
    to yourself, never paste it into a page of another site."""
    path = existing_key(home, name, json_out)
    with reporting(json_out):
        key = load_key(path, passphrase())
    if json_out:
        print_json({"name": name, "public_key": key.public_key, "private_key": key.seed.hex()})
        return
    err_console.print(
        f"private key of {name} ({key.public_key}); anyone holding it can act as {name}:"
    )
    typer.echo(key.seed.hex())
