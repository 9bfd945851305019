"""What every signing command shares: the key and sender options, signing, submitting, waiting.

A command signs with ``HOME/keys/<--key or --from>.json`` as the account ``--from`` (default
``operator``), submits to ``--node``, waits up to ``--wait`` seconds and prints the receipt;
it exits 0 only when the transaction committed with status ``ok``.

:func:`signed_command` declares such a command from a function that only builds the body: the
function's own parameters become the command's options, and ``--from``, ``--key``, ``--wait``,
``--home``, ``--node`` and ``--json`` are added to every command it declares.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import typer

from gridledger.cli.common import (
    HomeOpt,
    JsonOpt,
    NodeOpt,
    err_console,
    node_url,
    passphrase,
    print_committed,
    reporting,
)
from gridledger.cli.keys import existing_key
from gridledger.core.keystore import load_key
from gridledger.node.home import DEFAULT_HOME
from gridledger.sdk import Client, Committed

FromOpt = Annotated[str, typer.Option("--from", help="The sending account.")]
KeyOpt = Annotated[
    str | None,
    typer.Option("--key", help="Key name in HOME/keys. Default: the --from account's name."),
]
WaitOpt = Annotated[
    float,
    typer.Option("--wait", min=0.1, max=60.0, help="Seconds to wait for the receipt."),
]

Body = Mapping[str, Any]
BodyOrRead = Body | Callable[[Client], Body]
"""A transaction body, or a function that builds it from what the node holds now."""

_SIGNING = (
    ("sender", FromOpt, "operator"),
    ("key", KeyOpt, None),
    ("wait", WaitOpt, 10.0),
    ("home", HomeOpt, DEFAULT_HOME),
    ("node", NodeOpt, None),
    ("json_out", JsonOpt, False),
)


def finish(result: Committed, json_out: bool) -> None:
    """Print the receipt; exit 1 when the transaction failed."""
    print_committed(result, json_out)
    if not result.ok:
        if not json_out:
            err_console.print(f"[red]transaction failed[/]: {result.code}: {result.message}")
        raise typer.Exit(1)


def send_tx(
    home: Path,
    node: str | None,
    sender: str,
    key_name: str | None,
    wait: float,
    json_out: bool,
    kind: str,
    body: BodyOrRead,
) -> None:
    """Sign ``body`` as ``sender``, submit it as ``kind``, wait, print the receipt."""
    path = existing_key(home, key_name or sender, json_out)
    with reporting(json_out):
        key = load_key(path, passphrase())
        with Client(node_url(home, node)) as client:
            plain = body(client) if callable(body) else body
            result = client.send(key, sender, kind, plain, wait)
    finish(result, json_out)


def signed_command(
    app: typer.Typer, name: str, kind: str
) -> Callable[[Callable[..., BodyOrRead]], Callable[..., BodyOrRead]]:
    """Declare command ``name`` of ``app`` that submits a ``kind`` transaction.

    The decorated function takes the command's own options and returns the body (or a
    function of the client that returns it); its docstring is the command's help. The
    function itself is returned unchanged.
    """

    def declare(build: Callable[..., BodyOrRead]) -> Callable[..., BodyOrRead]:
        hints = get_type_hints(build, include_extras=True)
        own = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[p.name])
            for p in inspect.signature(build).parameters.values()
        ]
        shared = [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=a)
            for n, a, d in _SIGNING
        ]
        clash = {p.name for p in own} & {p.name for p in shared}
        if clash:
            raise TypeError(f"{build.__name__} declares signing options itself: {sorted(clash)}")

        def command(**options: Any) -> None:
            sender, key, wait, home, node, json_out = (options.pop(n) for n, _, _ in _SIGNING)
            send_tx(home, node, sender, key, wait, json_out, kind, build(**options))

        # typer reads the options from the signature and annotations
        params = [*own, *shared]
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__name__ = build.__name__
        command.__qualname__ = build.__qualname__
        command.__module__ = build.__module__
        command.__doc__ = build.__doc__
        app.command(name)(command)
        return build

    return declare
