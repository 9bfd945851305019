"""``gridledger carbon claim``: carbon-neutrality claims (``docs/claims.md``).

gridledger carbon claim make --id ID --subject-type T --subject-id S --subject-name N
                             --start YYYY-MM --end YYYY-MM --boundary B --baseline-ref R
                             --baseline-g G --plan-ref P --retirement N [--retirement N ...]
                             [--site S ...] [--scope3-g G] --from ACCOUNT
gridledger carbon claim statement --claim ID --opinion reasonable|limited|adverse --text T
gridledger carbon claim withdraw --claim ID --reason R
gridledger carbon claim list [--org O] | show ID
gridledger carbon claim export ID --out F.pdf [--lang zh] | --json --out F.json
gridledger carbon claim verify FILE [--keys K]

``verify`` works offline with the consortium's keys (``--keys``: a keys file or the chain's
genesis document; else ``HOME/genesis.json`` when it is the same chain's), never with the
node's own answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import typer
from rich.markup import escape

from gridledger.cli.cert_files import _keys
from gridledger.cli.common import (
    HomeOpt,
    JsonOpt,
    NodeOpt,
    call_node,
    console,
    err_console,
    fail,
    kv_table,
    print_json,
    utc_time,
)
from gridledger.cli.signing import Body, signed_command
from gridledger.contracts.carbon import month_bounds
from gridledger.documents.claim_pdf import render_claim_pdf
from gridledger.node.home import DEFAULT_HOME
from gridledger.sdk.claim_proofs import (
    CLAIM_PROOF_FORMAT,
    ClaimProofError,
    ClaimSummary,
    fetch_claim_proof,
    verify_claim_proof,
)

app = typer.Typer(
    help="Carbon-neutrality claims (ISO 14068-1): make, verifiers' statements, withdraw, "
    "list, and proof files to export and check offline.",
    no_args_is_help=True,
)
ClaimOpt = Annotated[str, typer.Option("--claim", help="The claim's id.")]


def _bounds(value: str, option: str) -> tuple[int, int]:
    try:
        return month_bounds(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a month (YYYY-MM)", param_hint=option) from None


@signed_command(app, "make", "claims.make")
def make(
    claim_id: Annotated[str, typer.Option("--id", help="The claim's id (unique).")],
    subject_type: Annotated[
        str, typer.Option("--subject-type", help="organisation, site, product or event.")
    ],
    subject_id: Annotated[str, typer.Option("--subject-id", help="The subject's id.")],
    subject_name: Annotated[str, typer.Option("--subject-name", help="The subject's name.")],
    start: Annotated[str, typer.Option("--start", help="First month, YYYY-MM (UTC).")],
    end: Annotated[str, typer.Option("--end", help="Last month, YYYY-MM (inclusive, ended).")],
    boundary: Annotated[str, typer.Option("--boundary", help="The boundary (1-1024).")],
    baseline_ref: Annotated[str, typer.Option("--baseline-ref", help="The baseline's reference.")],
    baseline_g: Annotated[int, typer.Option("--baseline-g", help="Baseline emissions, grams.")],
    plan_ref: Annotated[str, typer.Option("--plan-ref", help="The management plan's reference.")],
    retirement: Annotated[
        list[int], typer.Option("--retirement", help="A credit retirement's number (repeat).")
    ],
    site: Annotated[
        list[str] | None,
        typer.Option("--site", help="A site a product or event covers (repeat)."),
    ] = None,
    scope3_g: Annotated[int, typer.Option("--scope3-g", help="Declared scope 3, grams.")] = 0,
) -> Body:
    """Make a carbon-neutrality claim for --from's organisation: the ledger computes the
    inventory; the retirements must cover the residual emissions (claims.make)."""
    body: dict[str, Any] = {
        "id": claim_id,
        "subject": {"type": subject_type, "id": subject_id, "name": subject_name},
        "boundary": boundary,
        "start_s": _bounds(start, "--start")[0],
        "end_s": _bounds(end, "--end")[1],
        "baseline_ref": baseline_ref,
        "baseline_g": baseline_g,
        "plan_ref": plan_ref,
        "retirements": retirement,
        "scope3_g": scope3_g,
    }
    if site:
        body["sites"] = site
    return body


@signed_command(app, "statement", "claims.verify")
def statement(
    claim: ClaimOpt,
    opinion: Annotated[str, typer.Option("--opinion", help="reasonable, limited or adverse.")],
    text: Annotated[str, typer.Option("--text", help="The statement or its reference.")],
) -> Body:
    """Record a carbon verifier's statement on another organisation's claim (claims.verify)."""
    return {"claim": claim, "opinion": opinion, "statement": text}


@signed_command(app, "withdraw", "claims.withdraw")
def withdraw(
    claim: ClaimOpt, reason: Annotated[str, typer.Option("--reason", help="Why (1-256).")]
) -> Body:
    """Withdraw --from's organisation's claim; its retirements stay used (claims.withdraw)."""
    return {"claim": claim, "reason": reason}


def _grams(g: int) -> str:
    return f"{g:,} g"


@app.command("list")
def list_claims(
    org: Annotated[str | None, typer.Option("--org", help="Only this claimant's.")] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Claims by id: subject, period, residual emissions, credits retired, status."""
    found = call_node(home, node, json_out, lambda c: c.claims.list(org=org, limit=500))
    if json_out:
        print_json(found)
        return
    for c in found["claims"]:
        console.print(escape(
            f"{c['id']}: {c['org']}, {c['subject']['type']} {c['subject']['name']}, "
            f"{utc_time(c['start_s'])[:7]}..{utc_time(c['end_s'] - 1)[:7]}, residual "
            f"{_grams(c['residual_g'])}, {c['retired_t']} t retired, {c['status']}"
        ))  # fmt: skip
    if not found["claims"]:
        console.print("none")


@app.command("show")
def show(
    claim_id: Annotated[str, typer.Argument(metavar="ID")],
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One claim: inventory by scope, retirements, verifier's statement."""
    c = call_node(home, node, json_out, lambda client: client.claims.get(claim_id))
    if json_out:
        print_json(c)
        return
    console.print(kv_table(_rows(c)))


def _rows(c: dict[str, Any]) -> list[tuple[str, Any]]:
    inv = c["inventory"]
    rows: list[tuple[str, Any]] = [
        ("claim", f"{c['id']} ({c['status']})"),
        ("claimant", f"{c['org']} ({c['claimant']})"),
        ("subject", f"{c['subject']['type']} {c['subject']['id']}: {c['subject']['name']}"),
        ("sites", ", ".join(c["sites"])),
        ("period", f"{utc_time(c['start_s'])} - {utc_time(c['end_s'])}"),
        ("boundary", c["boundary"]),
        ("scope 1", _grams(inv["scope1_g"])),
        ("scope 2 location", _grams(inv["scope2_location_g"])),
        ("scope 2 market", _grams(inv["scope2_market_g"])),
        ("scope 3 declared", _grams(inv["scope3_g"])),
        ("residual", f"{_grams(c['residual_g'])} {inv['gas']}: {c['required_t']} t required"),
        ("baseline", f"{c['baseline_ref']}: {_grams(c['baseline_g'])}"),
        ("reduction", _grams(c["reduction_g"])),
        ("plan", c["plan_ref"]),
    ]
    rows += [
        (f"retirement {r['id']}", f"{r['serial']}, {r['quantity_t']} t, {utc_time(r['time_s'])}")
        for r in c["retirements"]
    ]
    s = c.get("statement")
    if s:
        rows.append(("verifier", f"{s['verifier']} ({s['org']}): {s['opinion']}, {s['statement']}"))
    return rows


@app.command("export")
def export(
    claim_id: Annotated[str, typer.Argument(metavar="ID", help="The claim's id.")],
    out: Annotated[Path, typer.Option("--out", help="The file to write.", dir_okay=False)],
    lang: Annotated[str, typer.Option("--lang", help="The PDF's language: en or zh.")] = "en",
    proof_file: Annotated[
        bool, typer.Option("--json", help="Write the proof file (JSON) instead of the PDF.")
    ] = False,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """Write a claim as a PDF (English or Chinese), or with --json its proof file, which
    `gridledger carbon claim verify` checks offline."""
    if lang not in ("en", "zh"):
        raise typer.BadParameter("en or zh", param_hint="--lang")
    proof = call_node(home, node, False, lambda c: fetch_claim_proof(c, claim_id))
    language: Literal["en", "zh"] = "zh" if lang == "zh" else "en"
    try:
        data = (
            (json.dumps(proof, indent=2, ensure_ascii=False) + "\n").encode()
            if proof_file
            else render_claim_pdf(proof, language)
        )
    except ClaimProofError as exc:
        fail(exc.code, f"the node's proof file of {claim_id} does not hold: {exc.message}")
    try:
        out.write_bytes(data)
    except OSError as exc:
        fail("claim.unwritable", f"cannot write {out}: {exc.strerror or exc}")
    what = "proof file" if proof_file else f"PDF ({lang})"
    console.print(escape(f"wrote {out}: {what} of claim {claim_id} at block {proof['height']} "
                         f"({len(data):,} bytes)"))  # fmt: skip


def _summary_rows(summary: ClaimSummary) -> list[tuple[str, Any]]:
    s = summary.to_json()
    f = summary.finality
    rows = [("claim proof", f"{s['claim_id']}: valid"), *_rows(summary.claim)]
    rows += [
        ("block", f"{s['height']} of chain {s['chain_id']}, {s['block_hash']}"),
        ("signed by", s["proposer"]),
        ("final", f"{'yes' if f.final else 'NO'}: {len(f.attested)} of {len(f.proposers)} "
                  f"organisations stand behind it (quorum {f.quorum})"),
    ]  # fmt: skip
    rows += [("note", n) for n in summary.notes]
    return rows


@app.command("verify")
def verify(
    target: Annotated[Path, typer.Argument(metavar="FILE", help="A claim proof file.")],
    keys_path: Annotated[
        Path | None,
        typer.Option(
            "--keys",
            help="The consortium keys file or the chain's genesis document. "
            "Default: HOME/genesis.json.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    json_out: JsonOpt = False,
) -> None:
    """Check a claim proof file offline with the consortium's public keys: exit 0 and a
    summary when it holds, 1 and the reason when any byte was altered, the keys do not
    match, the credits do not cover the residual emissions, or the claim was withdrawn."""
    try:
        obj = msgspec.json.decode(target.read_bytes())
    except OSError as exc:
        fail("claim.unreadable", f"cannot read {target}: {exc.strerror or exc}", json_out)
    except msgspec.DecodeError as exc:
        fail("claim.malformed", f"{target} is not JSON: {exc}", json_out)
    if not isinstance(obj, dict) or obj.get("format") != CLAIM_PROOF_FORMAT:
        fail("claim.malformed", f"{target} is not a claim proof file ({CLAIM_PROOF_FORMAT})",
             json_out)  # fmt: skip
    header = obj.get("header")
    chain_id = header.get("chain_id") if isinstance(header, dict) else None
    keys, source = _keys(keys_path, home, chain_id if isinstance(chain_id, str) else None,
                         json_out)  # fmt: skip
    try:
        summary = verify_claim_proof(obj, keys)
    except ClaimProofError as exc:
        fail(exc.code, exc.message, json_out)
    if json_out:
        print_json({**summary.to_json(), "keys_source": source})
        return
    rows = _summary_rows(summary)
    rows.append(("keys", source))
    console.print(kv_table(rows))
    if not summary.final:
        err_console.print("[yellow]not final:[/] fewer organisations than the quorum stand "
                          "behind this block in the file; fetch a newer proof file")  # fmt: skip
