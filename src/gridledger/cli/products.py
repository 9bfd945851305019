"""``gridledger products``: traceable products, their custody, footprints and passports
(``docs/cli.md``, rules in ``docs/products.md``).

gridledger products types [--org O] | show GTIN | batches GTIN | batch GTIN LOT | item GTIN SERIAL
gridledger products scan (--link URI | --gtin G --serial S) [--seen-at ORG]
gridledger products passport GTIN LOT [--out FILE.json|FILE.pdf]
gridledger products export GTIN (--lot L | --serial S) --out FILE.json
gridledger products verify FILE --keys KEYS.json [--seen-at ORG] [--json]
gridledger products cbam --site S --from YYYY-MM-DD --to YYYY-MM-DD [--out FILE.pdf]
gridledger products register-type|start|complete|items|consume|footprint ...
gridledger products ship|receive|return|install|scrap|recall ...
gridledger products demo --home DIR [--json]

Transactions sign and submit as every ``tx`` command does (``--from``, ``--key``,
``--wait``, ``--node``, ``--json``). GTINs may be given in any GS1 length; they are sent as
GTIN-14. Views print the API's answer as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from gridledger.cli.common import HomeOpt, NodeOpt, call_node, fail, print_json
from gridledger.cli.signing import Body, signed_command
from gridledger.contracts.products import gs1
from gridledger.node.home import DEFAULT_HOME
from gridledger.sdk import Client, KeysFileError, parse_keys
from gridledger.sdk.cbam_proofs import CBAM_PROOF_FORMAT, CbamProofError, verify_cbam_proof
from gridledger.sdk.product_proofs import ProductProofError, verify_product_proof

DEMO_PASSPHRASE = "supply chain demo"
"""The supply-chain demo home's passphrase unless given (``sim.supply_chain``'s)."""

app = typer.Typer(
    help="Traceable products: batches, items, custody, footprints, passports, CBAM reports.",
    no_args_is_help=True,
)


def _gtin(value: str) -> str:
    try:
        return gs1.gtin14(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a GTIN with its check digit") from None


GtinArg = Annotated[str, typer.Argument(help="The GTIN (8, 12, 13 or 14 digits).")]
GtinOpt = Annotated[str, typer.Option("--gtin", help="The GTIN (8, 12, 13 or 14 digits).")]
LotOpt = Annotated[str | None, typer.Option("--lot", help="The batch/lot number.")]
SerialOpt = Annotated[str | None, typer.Option("--serial", help="The serial number.")]


def _show(home: Path, node: str | None, call: Callable[[Client], Any]) -> None:
    print_json(call_node(home, node, True, call))


def _day(value: str, option: str) -> int:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not YYYY-MM-DD", param_hint=option) from None
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


# views ------------------------------------------------------------------------------------------
@app.command("types")
def types(
    org: Annotated[str | None, typer.Option("--org", help="Only this maker's.")] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """Registered product types (of --org)."""
    _show(home, node, lambda c: c.products.types(org))


@app.command("show")
def show(gtin: GtinArg, home: HomeOpt = DEFAULT_HOME, node: NodeOpt = None) -> None:
    """One product type."""
    _show(home, node, lambda c: c.products.product(_gtin(gtin)))


@app.command("batches")
def batches(gtin: GtinArg, home: HomeOpt = DEFAULT_HOME, node: NodeOpt = None) -> None:
    """A product's batches."""
    _show(home, node, lambda c: c.products.batches(_gtin(gtin)))


@app.command("batch")
def batch(
    gtin: GtinArg,
    lot: Annotated[str, typer.Argument(help="The lot.")],
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """A batch: holdings, shipments, bill of materials, footprint."""
    _show(home, node, lambda c: c.products.batch(_gtin(gtin), lot))


@app.command("item")
def item(
    gtin: GtinArg,
    serial: Annotated[str, typer.Argument(help="The serial.")],
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """A serialised item and its custody chain."""
    _show(home, node, lambda c: c.products.item(_gtin(gtin), serial))


@app.command("scan")
def scan(
    link: Annotated[str | None, typer.Option("--link", help="A scanned Digital Link.")] = None,
    gtin: Annotated[str | None, typer.Option("--gtin", help="The GTIN scanned.")] = None,
    serial: SerialOpt = None,
    seen_at: Annotated[
        str | None, typer.Option("--seen-at", help="The organisation that has it in hand.")
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """Is a scanned item genuine, recalled or suspicious? With its custody chain."""
    if link is None and (gtin is None or serial is None):
        raise typer.BadParameter("give --link, or --gtin and --serial")
    _show(home, node, lambda c: c.products.verify(
        None if gtin is None else _gtin(gtin), serial, link=link, seen_at=seen_at))  # fmt: skip


@app.command("cbam")
def cbam(
    site: Annotated[str, typer.Option("--site", help="The installation (a site).")],
    first: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (UTC).")],
    last: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (inclusive).")],
    out: Annotated[Path | None, typer.Option("--out", help="Write a PDF to this file.")] = None,
    proof: Annotated[
        Path | None, typer.Option("--proof", help="Write the report with its proofs here.")
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """The CBAM embedded-emissions report of an installation's goods completed in the days
    (JSON, a PDF with --out, or with every batch's proof file with --proof)."""
    start, end = _day(first, "--from"), _day(last, "--to") + 86_400
    if proof is not None:
        doc = call_node(home, node, False, lambda c: c.products.cbam_proof(site, start, end))
        _write(proof, json.dumps(doc, ensure_ascii=False).encode(), False)
        typer.echo(f"wrote {proof}: CBAM report of {site} with {len(doc['passports'])} proofs")
        return
    if out is None:
        _show(home, node, lambda c: c.products.cbam(site, start, end))
        return
    data = call_node(home, node, False, lambda c: c.products.cbam_pdf(site, start, end))
    _write(out, data, False)
    typer.echo(f"wrote {out}: CBAM report of {site} ({len(data):,} bytes)")


def _write(out: Path, data: bytes, json_out: bool) -> None:
    try:
        out.write_bytes(data)
    except OSError as exc:
        fail("products.unwritable", f"cannot write {out}: {exc.strerror or exc}", json_out)


@app.command("passport")
def passport(
    gtin: GtinArg,
    lot: Annotated[str, typer.Argument(help="The lot.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to FILE.json (PACT) or FILE.pdf.")
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """A batch's carbon passport: the PACT ProductFootprint (JSON) or the PDF."""
    g = _gtin(gtin)
    if out is not None and out.suffix.lower() == ".pdf":
        data = call_node(home, node, False, lambda c: c.products.passport_pdf(g, lot))
        _write(out, data, False)
        typer.echo(f"wrote {out}: passport of {g} lot {lot} ({len(data):,} bytes)")
        return
    found = call_node(home, node, out is None, lambda c: c.products.passport(g, lot))
    if out is None:
        print_json(found)
        return
    _write(out, json.dumps(found, indent=2, ensure_ascii=False).encode(), False)
    typer.echo(f"wrote {out}: PACT footprint of {g} lot {lot}")


@app.command("export")
def export(
    gtin: GtinArg,
    out: Annotated[Path, typer.Option("--out", help="The proof file to write.")],
    lot: LotOpt = None,
    serial: SerialOpt = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """The proof file of a batch (--lot) or an item (--serial), to check offline."""
    g = _gtin(gtin)
    if (lot is None) == (serial is None):
        raise typer.BadParameter("give --lot or --serial")
    found = call_node(home, node, False, lambda c: (
        c.products.batch_proof(g, lot) if lot is not None
        else c.products.item_proof(g, str(serial))))  # fmt: skip
    _write(out, json.dumps(found, ensure_ascii=False).encode(), False)
    typer.echo(f"wrote {out}: proof of {g} {lot or serial} at block {found['height']}")


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="A product proof file.")],
    keys: Annotated[Path, typer.Option("--keys", help="The consortium keys file.")],
    seen_at: Annotated[
        str | None, typer.Option("--seen-at", help="The organisation that has the item.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a product (or CBAM) proof file offline with the consortium keys alone; exit 1
    if it does not check out (an item judged suspicious or recalled checks out: the verdict
    says so)."""
    try:
        proof = msgspec.json.decode(file.read_bytes())
        key_doc = msgspec.json.decode(keys.read_bytes())
    except (OSError, msgspec.DecodeError) as exc:
        fail("product.unreadable", f"cannot read the files: {exc}", json_out)
    if isinstance(proof, dict) and proof.get("format") == CBAM_PROOF_FORMAT:
        try:
            report = verify_cbam_proof(proof, parse_keys(key_doc))
        except KeysFileError as exc:
            fail(exc.code, f"{keys}: {exc.message}", json_out)
        except CbamProofError as exc:
            fail(exc.code, exc.message, json_out)
        if json_out:
            print_json({"valid": True, "report": report})
        else:
            goods = ", ".join(f"CN {g['cn_code']}: {g['see_total_t_per_t']} t/t"
                              for g in report["goods"])  # fmt: skip
            typer.echo(f"CBAM report of {report['installation']['site']}: valid; {goods}")
        return
    try:
        summary = verify_product_proof(proof, parse_keys(key_doc), seen_at)
    except KeysFileError as exc:
        fail(exc.code, f"{keys}: {exc.message}", json_out)
    except ProductProofError as exc:
        fail(exc.code, exc.message, json_out)
    found = summary.to_json()
    if json_out:
        print_json(found)
        return
    subject = f"{summary.gtin} " + (
        f"lot {summary.lot}" if summary.lot else f"serial {summary.serial}"
    )
    typer.echo(
        f"{subject}: valid at block {summary.height} ({'final' if summary.final else 'not final'})"
    )
    if summary.footprint is not None:
        fp = summary.footprint
        typer.echo(
            f"footprint: {fp.total_market_g:,} g {fp.gas} market-based, "
            f"{fp.total_location_g:,} g location-based, {fp.mass_g:,} g of product"
        )
    if summary.verdict is not None:
        typer.echo(f"verdict: {summary.verdict} {' '.join(summary.reasons)}".rstrip())


# transactions ----------------------------------------------------------------------------------
@signed_command(app, "register-type", "products.register_type")
def register_type(
    gtin: GtinOpt,
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    unit: Annotated[str, typer.Option("--unit", help="g, kg or unit (pieces).")],
    unit_mass_g: Annotated[
        int | None, typer.Option("--unit-mass-g", help="Grams per piece (unit only).")
    ] = None,
    cn_code: Annotated[str | None, typer.Option("--cn-code", help="CN code (CBAM).")] = None,
) -> Body:
    """Register a product type made by --from's organisation (products.register_type)."""
    return {"gtin": _gtin(gtin), "name": name, "unit": unit, "unit_mass_g": unit_mass_g,
            "cn_code": cn_code}  # fmt: skip


@signed_command(app, "start", "products.register_batch")
def start(
    gtin: GtinOpt,
    lot: Annotated[str, typer.Option("--lot", help="The lot.")],
    site: Annotated[str, typer.Option("--site", help="The maker's site.")],
) -> Body:
    """Start a production batch (products.register_batch)."""
    return {"gtin": _gtin(gtin), "lot": lot, "site": site}


@signed_command(app, "complete", "products.complete_batch")
def complete(
    gtin: GtinOpt,
    lot: Annotated[str, typer.Option("--lot", help="The lot.")],
    quantity: Annotated[int, typer.Option("--quantity", help="How much was made.")],
) -> Body:
    """Complete a batch (products.complete_batch)."""
    return {"gtin": _gtin(gtin), "lot": lot, "quantity": quantity}


@signed_command(app, "items", "products.register_items")
def items(
    gtin: GtinOpt,
    serials: Annotated[list[str], typer.Option("--serial", help="A serial (repeat).")],
    lot: LotOpt = None,
) -> Body:
    """Register serialised items (products.register_items)."""
    return {"gtin": _gtin(gtin), "serials": serials, "lot": lot}


def _input(value: str) -> dict[str, Any]:
    parts = value.split(":")
    if len(parts) != 3 or not parts[2].isdigit():
        raise typer.BadParameter(f"{value!r}: an input is GTIN:LOT:QUANTITY", param_hint="--input")
    return {"gtin": _gtin(parts[0]), "lot": parts[1], "quantity": int(parts[2])}


@signed_command(app, "consume", "products.consume")
def consume(
    gtin: GtinOpt,
    lot: Annotated[str, typer.Option("--lot", help="The batch in production.")],
    inputs: Annotated[list[str], typer.Option("--input", help="GTIN:LOT:QUANTITY (repeat).")],
) -> Body:
    """Record input batches a batch in production consumed (products.consume)."""
    return {"gtin": _gtin(gtin), "lot": lot, "inputs": [_input(v) for v in inputs]}


@signed_command(app, "footprint", "products.record_footprint")
def footprint(
    gtin: GtinOpt,
    lot: Annotated[str, typer.Option("--lot", help="The completed batch.")],
    share_ppm: Annotated[
        int | None, typer.Option("--share-ppm", help="Share of the site's period (ppm).")
    ] = None,
    defaults: Annotated[
        Path | None, typer.Option("--defaults", help="A JSON list of default inputs.")
    ] = None,
) -> Body:
    """Compute and record a completed batch's footprint (products.record_footprint)."""
    listed = None if defaults is None else json.loads(defaults.read_text())
    return {"gtin": _gtin(gtin), "lot": lot, "share_ppm": share_ppm, "defaults": listed}


def _target(gtin: str, lot: str | None, serial: str | None) -> dict[str, Any]:
    return {"gtin": _gtin(gtin), "lot": lot, "serial": serial}


@signed_command(app, "ship", "products.ship")
def ship(
    gtin: GtinOpt,
    to: Annotated[str, typer.Option("--to", help="The consignee organisation.")],
    lot: LotOpt = None,
    serial: SerialOpt = None,
    quantity: Annotated[int | None, typer.Option("--quantity", help="Of a batch.")] = None,
) -> Body:
    """Ship part of a batch or an item (products.ship; the holder)."""
    return {**_target(gtin, lot, serial), "to": to, "quantity": quantity}


ShipmentOpt = Annotated[int | None, typer.Option("--shipment", help="A batch's shipment number.")]


@signed_command(app, "receive", "products.receive")
def receive(gtin: GtinOpt, lot: LotOpt = None, serial: SerialOpt = None,
            shipment: ShipmentOpt = None) -> Body:  # fmt: skip
    """Receive a shipment or an item (products.receive; the consignee)."""
    return {**_target(gtin, lot, serial), "shipment": shipment}


@signed_command(app, "return", "products.return")
def return_(gtin: GtinOpt, lot: LotOpt = None, serial: SerialOpt = None,
            shipment: ShipmentOpt = None) -> Body:  # fmt: skip
    """Refuse a shipment, or send an item back (products.return)."""
    return {**_target(gtin, lot, serial), "shipment": shipment}


@signed_command(app, "install", "products.install")
def install(
    gtin: GtinOpt,
    serial: Annotated[str, typer.Option("--serial", help="The item.")],
    parent_gtin: Annotated[str, typer.Option("--parent-gtin", help="The parent's GTIN.")],
    parent_serial: Annotated[str, typer.Option("--parent-serial", help="The parent's serial.")],
) -> Body:
    """Install an item into a parent item (products.install; holder of both)."""
    return {"gtin": _gtin(gtin), "serial": serial, "parent_gtin": _gtin(parent_gtin),
            "parent_serial": parent_serial}  # fmt: skip


@signed_command(app, "scrap", "products.scrap")
def scrap(gtin: GtinOpt, lot: LotOpt = None, serial: SerialOpt = None,
          quantity: Annotated[int | None, typer.Option("--quantity")] = None) -> Body:  # fmt: skip
    """Scrap an item or part of a batch (products.scrap; the holder)."""
    return {**_target(gtin, lot, serial), "quantity": quantity}


@signed_command(app, "recall", "products.recall")
def recall(
    gtin: GtinOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
    lot: LotOpt = None,
    serial: SerialOpt = None,
) -> Body:
    """Recall a batch or an item (products.recall; the maker)."""
    return {**_target(gtin, lot, serial), "reason": reason}


@app.command("demo")
def demo(
    home: Annotated[
        Path, typer.Option("--home", file_okay=False, help="A new (or empty) directory.")
    ],
    passphrase: Annotated[
        str, typer.Option("--passphrase", envvar="GRIDLEDGER_PASSPHRASE", help="For its keys.")
    ] = DEMO_PASSPHRASE,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The supply-chain demo: ingot -> wheel rim -> car on metered energy, where the rim
    maker's clean power lowers the car's footprint; serve it with ``gridledger node --home``."""
    from gridledger.sim.supply_chain import run_supply_chain  # noqa: PLC0415

    if home.exists() and any(home.iterdir()):
        fail("demo.home_exists", f"{home} is not empty: give a new directory", json_out)
    result = run_supply_chain(home, passphrase)
    if json_out:
        print_json(result)
        return
    for name, fp in result["footprints"].items():
        typer.echo(f"{name}: {fp['total_market_g']:,} g market-based, "
                   f"{fp['total_location_g']:,} g location-based  {fp['passport']}")  # fmt: skip
    typer.echo(f"the clean rims save the car {result['car_saving_market_g']:,} g (market-based)")
    typer.echo(f"serve it: gridledger node --home {home}; scan {result['scan']}")
