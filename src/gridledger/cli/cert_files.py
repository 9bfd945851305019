"""``gridledger cert export`` and ``gridledger cert verify``: certificates as documents.

gridledger cert export ID --out FILE.pdf [--lang zh]    the PDF certificate, with its QR code
gridledger cert export ID --json --out FILE.json        its proof file
gridledger cert verify FILE|PAYLOAD [--keys K] [--later L] [--proof P]

``export`` asks the node (``--node``, else the home's API address) for the bundle's proof file
and writes it, or renders the PDF from it here. ``verify`` works offline: a proof file is
checked in full, a QR payload (the text, or a file holding it) for what it alone proves, and
with ``--proof`` for its claims too. The keys are the consortium's (``--keys``: a consortium
keys file or a genesis document), else those of ``HOME/genesis.json`` for the same chain; never
the node's own answer, which would vouch for itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import typer
from rich.markup import escape

from gridledger.cli.certificates import app
from gridledger.cli.common import (
    HomeOpt,
    NodeOpt,
    call_node,
    console,
    err_console,
    fail,
    kv_table,
    print_json,
    utc_time,
)
from gridledger.cli.proofs import genesis_keys
from gridledger.contracts.genesis import load as load_genesis
from gridledger.core.localtime import DEFAULT_ZONE, LocalTime, check_zone
from gridledger.documents.pdf import render_pdf
from gridledger.documents.qr import qr_code
from gridledger.node.home import DEFAULT_HOME
from gridledger.sdk import Client, ConsortiumKeys, KeysFileError, keys_from_genesis, parse_keys
from gridledger.sdk.certificate_proofs import (
    CERTIFICATE_PROOF_FORMAT,
    QR_PREFIX,
    CertificateProofError,
    CertificateSummary,
    QrResult,
    fetch_certificate_proof,
    qr_payload_of,
    verify_certificate_proof,
    verify_qr_payload,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def _read_json(path: Path, what: str, json_out: bool) -> Any:
    try:
        return msgspec.json.decode(path.read_bytes())
    except OSError as exc:
        fail(
            "certificate.unreadable", f"cannot read {what} {path}: {exc.strerror or exc}", json_out
        )
    except msgspec.DecodeError as exc:
        fail("certificate.malformed", f"{what} {path} is not JSON: {exc}", json_out)


# export ----------------------------------------------------------------------------------------
def _zone_of(client: Client) -> str:
    """The chain's time zone as its node reports it; UTC if it names none this machine knows."""
    name = client.status().get("time_zone")
    try:
        return check_zone(name) if isinstance(name, str) else DEFAULT_ZONE
    except ValueError:
        return DEFAULT_ZONE


@app.command("export")
def export(
    bundle: Annotated[
        str, typer.Argument(metavar="BUNDLE", help="The bundle id: <device>:<range_start>.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="The file to write (.pdf, or .json with --json).", dir_okay=False
        ),
    ],
    lang: Annotated[
        str, typer.Option("--lang", help="The PDF's language: en or zh (simplified Chinese).")
    ] = "en",
    proof_file: Annotated[
        bool,
        typer.Option("--json", help="Write the proof file (JSON) instead of the PDF certificate."),
    ] = False,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """Write a certificate as a PDF (English or Chinese, with its QR code), or with --json its
    proof file: the records, their state proofs, the block header, its signature and the
    organisations' attestations, which `gridledger cert verify` checks offline."""
    if lang not in ("en", "zh"):
        raise typer.BadParameter("en or zh", param_hint="--lang")
    # an id that is not one is refused before asking (certificate.bad_id)
    proof, zone = call_node(
        home, node, False, lambda c: (fetch_certificate_proof(c, bundle), _zone_of(c))
    )
    try:
        payload = qr_payload_of(proof)
        language: Literal["en", "zh"] = "zh" if lang == "zh" else "en"
        data = (
            (json.dumps(proof, indent=2, ensure_ascii=False) + "\n").encode()
            if proof_file
            else render_pdf(proof, language, LocalTime(zone))
        )
    except CertificateProofError as exc:
        fail(exc.code, f"the node's proof file of {bundle} does not hold: {exc.message}")
    try:
        out.write_bytes(data)
    except OSError as exc:
        fail("certificate.unwritable", f"cannot write {out}: {exc.strerror or exc}")
    what = "proof file" if proof_file else f"PDF certificate ({lang})"
    code = qr_code(payload)
    console.print(
        escape(
            f"wrote {out}: {what} of {bundle} at block {payload.height} "
            f"({len(data):,} bytes); QR payload {len(code.text)} characters, version "
            f"{code.version}-{code.error}"
        )
    )


# verify ----------------------------------------------------------------------------------------
def _keys(path: Path | None, home: Path, chain_id: str | None, json_out: bool) -> tuple[
    ConsortiumKeys, str
]:  # fmt: skip
    """The keys to check with, and where they came from."""
    if path is not None:
        doc = _read_json(path, "the keys file", json_out)
        try:
            if isinstance(doc, dict) and "format" not in doc and "genesis_time" in doc:
                genesis = load_genesis(path.read_bytes())
                return keys_from_genesis(
                    genesis
                ), f"{path} (a genesis document: keys as at genesis)"
            return parse_keys(doc), str(path)
        except KeysFileError as exc:
            fail(exc.code, f"{path}: {exc.message}", json_out)
        except (msgspec.MsgspecError, ValueError) as exc:
            fail("keys.invalid", f"{path} is not a genesis document: {exc}", json_out)
    found = genesis_keys(home, str(chain_id)) if chain_id else None
    if found is None:
        fail(
            "keys.missing",
            f"no keys to check with: give --keys (a consortium keys file, from a node you "
            f"trust, or the chain's genesis document); {home / 'genesis.json'} is not the "
            f"genesis of chain {chain_id}",
            json_out,
        )
    return found, f"{home / 'genesis.json'} (keys as at genesis)"


def _target(target: str, json_out: bool) -> tuple[str, Any]:
    """``("qr", payload text)`` or ``("file", decoded proof file)``."""
    text = target.strip()
    if text.startswith(QR_PREFIX):
        return "qr", text
    path = Path(target)
    if not path.is_file():
        fail(
            "certificate.unreadable",
            f"{target} is neither a file nor a QR payload (which starts with {QR_PREFIX})",
            json_out,
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        fail("certificate.unreadable", f"cannot read {path}: {exc.strerror or exc}", json_out)
    if raw.lstrip().startswith(QR_PREFIX.encode()):
        return "qr", raw.decode("utf-8", "replace").strip()
    try:
        return "file", msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        fail("certificate.malformed", f"{path} is neither JSON nor a QR payload: {exc}", json_out)


def _chain_of(obj: Any) -> str | None:
    header = obj.get("header") if isinstance(obj, dict) else None
    chain = header.get("chain_id") if isinstance(header, dict) else None
    return chain if isinstance(chain, str) else None


def _summary_rows(summary: CertificateSummary) -> list[tuple[str, Any]]:
    s = summary.to_json()
    rows: list[tuple[str, Any]] = [
        ("certificate", f"{s['bundle_id']}: valid"),
        ("device", f"{s['device']} ({s['device_name']}, {s['technology']}, {s['capacity_w']} W)"),
        ("Wh range", f"{s['range_start']} .. {s['range_end']}"),
        ("quantity", f"{s['quantity_wh']} Wh"),
        ("production", f"{utc_time(s['production_start_s'])} - {utc_time(s['production_end_s'])}"),
        ("status", f"{s['status']} at block {s['height']}"),
        ("owner", s["owner"]),
    ]
    if s["beneficiary"] is not None:
        rows.append(
            (
                "beneficiary",
                f"{s['beneficiary']} (site {s['site']}, {utc_time(s['period_start_s'])} - "
                f"{utc_time(s['period_end_s'])})",
            )
        )
    rows += [
        ("issuing body", f"{s['issuing_body']} (account {s['issuer']}, scheme {s['scheme']})"),
        ("hash", s["hash"]),
    ]
    if s["parent_hash"]:
        rows.append(("split from", s["parent_hash"]))
    f = summary.finality
    rows += [
        ("block", f"{s['height']} of chain {s['chain_id']}, {s['block_hash']}"),
        ("signed by", s["proposer"]),
        (
            "final",
            f"{'yes' if f.final else 'NO'}: {len(f.attested)} of {len(f.proposers)} "
            f"organisations stand behind it (quorum {f.quorum}): {', '.join(f.attested)}",
        ),
    ]
    for r in f.rejected:
        rows.append(("not counted", f"attestation {r.index} ({r.org or '?'}): {r.reason}"))
    if summary.later is not None:
        later = summary.later
        split = ", split since (the id names its first part)" if later.split_since else ""
        rows.append(("later", f"{later.status} at block {later.height}{split}"))
    rows += [("note", n) for n in summary.notes]
    return rows


def _qr_rows(result: QrResult) -> list[tuple[str, Any]]:
    p = result.payload
    rows: list[tuple[str, Any]] = [
        ("QR payload", "valid signature"),
        (
            "proves",
            f"{p.proposer}'s node key at height {p.height} ({result.node_key}) signed block "
            f"hash {p.block_hash}",
        ),
        (
            "claims",
            f"bundle {p.bundle_id}, hash {p.bundle_hash}, {p.quantity_wh} Wh produced from "
            f"{utc_time(p.production_start_s)}, at block {p.height}",
        ),
    ]
    if result.proof is None:
        rows.append(
            (
                "not checked",
                "the claims: the payload alone does not prove the certificate is in that block; "
                "check its proof file (--proof FILE, gridledger cert export --json)",
            )
        )
    else:
        rows.append(("claims checked", "against the proof file, which holds"))
        rows += _summary_rows(result.proof)
    if result.beyond_keys:
        rows.append(("note", "the height is beyond the keys file: take a newer one to be sure"))
    return rows


@app.command("verify")
def verify(
    target: Annotated[
        str,
        typer.Argument(
            metavar="FILE|PAYLOAD",
            help="A certificate proof file, or a QR payload (GLC1:...; the text or a file).",
        ),
    ],
    keys_path: Annotated[
        Path | None,
        typer.Option(
            "--keys",
            help="The consortium keys file (gridledger query consortium-keys, from a node you "
            "trust) or the chain's genesis document. Default: HOME/genesis.json.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    later_path: Annotated[
        Path | None,
        typer.Option(
            "--later",
            help="A proof file of the same certificate from a later block: refused if it shows "
            "the certificate withdrawn or expired since.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    proof_path: Annotated[
        Path | None,
        typer.Option(
            "--proof",
            help="With a QR payload: the certificate's proof file, to check the payload's "
            "claims against.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    json_out: JsonFlag = False,
) -> None:
    """Check a certificate offline with the consortium's public keys: exit 0 and a summary
    when it holds, 1 and the reason when any byte was altered, the keys do not match, or it
    was withdrawn or expired (by itself, or by the later file)."""
    kind, obj = _target(target, json_out)
    later = None if later_path is None else _read_json(later_path, "the later proof file", json_out)
    proof = None if proof_path is None else _read_json(proof_path, "the proof file", json_out)
    if kind == "qr" and proof is None and later is not None:
        fail("certificate.usage", "--later needs a proof file (--proof with a payload)", json_out)
    if kind == "file" and proof is not None:
        fail("certificate.usage", "--proof goes with a QR payload, not a proof file", json_out)
    if kind == "file" and (
        not isinstance(obj, dict) or obj.get("format") != CERTIFICATE_PROOF_FORMAT
    ):
        fail(
            "certificate.malformed",
            f"{target} is not a certificate proof file (format {CERTIFICATE_PROOF_FORMAT})",
            json_out,
        )
    chain_id = _chain_of(obj) if kind == "file" else str(obj)[len(QR_PREFIX) :].split("/")[0]
    keys, source = _keys(keys_path, home, chain_id, json_out)
    try:
        if kind == "qr":
            result = verify_qr_payload(str(obj), keys, proof=proof, later=later)
        else:
            summary = verify_certificate_proof(obj, keys, later=later)
    except CertificateProofError as exc:
        fail(exc.code, exc.message, json_out)
    if json_out:
        shown = result.to_json() if kind == "qr" else {"kind": "file", **summary.to_json()}
        print_json({**shown, "keys_source": source})
        return
    rows = _qr_rows(result) if kind == "qr" else _summary_rows(summary)
    rows.append(("keys", source))
    console.print(kv_table(rows))
    if kind == "file" and not summary.final:
        err_console.print(
            "[yellow]not final:[/] fewer organisations than the quorum stand behind this block "
            "in the file; fetch a newer proof file to be sure it holds"
        )
