"""``gridledger community card``: a household's monthly clean-power card (``docs/community.md``,
format in ``docs/formats.md`` §6f).

gridledger community card export ACCOUNT YYYY-MM --out FILE.json|FILE.pdf|FILE.png [--lang zh]
    [--token TOKEN]
gridledger community card verify FILE --keys KEYS.json [--json]

The node hands a card to the household's member, signed in, or to its operator: ``export``
sends the operator's bearer token (``--token``, or ``GRIDLEDGER_OPERATOR_TOKEN``; made by
``gridledger custody operator-token``). ``verify`` needs no node: the consortium keys file
alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
import typer

from gridledger.cli.common import HomeOpt, NodeOpt, fail, node_url, print_json, reporting
from gridledger.node.home import DEFAULT_HOME
from gridledger.sdk import Client, KeysFileError, parse_keys
from gridledger.sdk.card_proofs import CardProofError, verify_card_proof

app = typer.Typer(help="Households' clean-power records: the monthly card.", no_args_is_help=True)
card_app = typer.Typer(help="A household's monthly clean-power card.", no_args_is_help=True)
app.add_typer(card_app, name="card")


@card_app.command("export")
def export(
    account: Annotated[str, typer.Argument(help="The household account.")],
    month: Annotated[str, typer.Argument(help="The local month, YYYY-MM.")],
    out: Annotated[Path, typer.Option("--out", help="FILE.json (proof), FILE.pdf or FILE.png.")],
    lang: Annotated[str, typer.Option("--lang", help="en or zh (PDF and PNG).")] = "en",
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="GRIDLEDGER_OPERATOR_TOKEN", help="Operator token."),
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """Fetch a household's card or its proof file from the node."""
    if lang not in ("en", "zh"):
        raise typer.BadParameter("--lang is en or zh")
    kind = out.suffix.lower().lstrip(".")
    if kind not in ("json", "pdf", "png"):
        raise typer.BadParameter("--out ends in .json, .pdf or .png")
    headers = {"Authorization": f"Bearer {token}"} if token else None
    with reporting(False), Client(node_url(home, node), headers=headers) as client:
        if kind == "json":
            found = client.community.card_proof(account, month)
            data = msgspec.json.encode(found)
        else:
            data = client.community.card(account, month, kind, lang)
    try:
        out.write_bytes(data)
    except OSError as exc:
        fail("card.unwritable", f"cannot write {out}: {exc.strerror or exc}")
    typer.echo(f"wrote {out}: card of {account} for {month} ({len(data):,} bytes)")


@card_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="A record card proof file.")],
    keys: Annotated[Path, typer.Option("--keys", help="The consortium keys file.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a card's proof file offline with the consortium keys alone; exit 1 if it does
    not check out."""
    try:
        proof = msgspec.json.decode(file.read_bytes())
        key_doc = msgspec.json.decode(keys.read_bytes())
    except (OSError, msgspec.DecodeError) as exc:
        fail("card.unreadable", f"cannot read the files: {exc}", json_out)
    try:
        summary = verify_card_proof(proof, parse_keys(key_doc))
    except KeysFileError as exc:
        fail(exc.code, f"{keys}: {exc.message}", json_out)
    except CardProofError as exc:
        fail(exc.code, exc.message, json_out)
    if json_out:
        print_json(summary.to_json())
        return
    certifiers = ", ".join(f"{c.name} ({c.org})" for c in summary.certifiers) or "none"
    typer.echo(
        f"card of {summary.account} for {summary.month}: valid at block {summary.height} "
        f"({'final' if summary.final else 'not final'})"
    )
    typer.echo(
        f"{summary.claimed_wh:,} Wh of certified clean power claimed in {summary.hours} hours, "
        f"{summary.avoided_g:,} g CO2 avoided; certified by {certifiers}"
    )
