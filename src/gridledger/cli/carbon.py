"""``gridledger carbon``: carbon accounting (``docs/cli.md``, rules in ``docs/carbon.md``).

gridledger carbon factors [--geography G] [--year Y] [--library]   the shipped library, sets
gridledger carbon factors record --region R --year Y --from M --to M --id ID --regulator A
gridledger carbon region-map --from A                    the library's province -> grid map
gridledger carbon inventory --org O|--site S --from M --to M [--json]
gridledger carbon report --org O --from M --to M --format json|csv|ghg|pdf [--lang zh] --out F
gridledger carbon activity report|confirm|reject|list

Transactions sign and submit as every ``tx`` command does (:mod:`gridledger.cli.signing`:
``--key``, ``--wait``, ``--node``, ``--json``; the sending account is ``--from``, except in
``factors record``, whose ``--from`` and ``--to`` are months: there it is ``--regulator``).
Views read the node's ``/v1/carbon`` endpoints and print tables, or the API's answer with
``--json``. Months are ``YYYY-MM`` (UTC); emissions are in grams of the factors' gas.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import msgspec
import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from gridledger import factors
from gridledger.cli.common import (
    HomeOpt,
    JsonOpt,
    NodeOpt,
    call_node,
    cell,
    console,
    kv_table,
    print_json,
    reporting,
)
from gridledger.cli.signing import Body, BodyOrRead, KeyOpt, WaitOpt, send_tx, signed_command
from gridledger.documents.carbon_report import FORMATS, decimal
from gridledger.node.home import DEFAULT_HOME
from gridledger.sdk import Client
from gridledger.sdk.carbon import SET_BASES, factor_set_body, region_map_body

app = typer.Typer(
    help="Carbon accounting: emission factors in force, inventories, reports, scope 1 "
    "activity data.",
    no_args_is_help=True,
)
factors_app = typer.Typer(
    help="The shipped emission factor library and the factor sets on the ledger; 'record' "
    "puts a set from the library in force.",
    invoke_without_command=True,
)
activity_app = typer.Typer(
    help="Scope 1 activity data: report fuel burnt; carbon verifiers confirm or reject.",
    no_args_is_help=True,
)
app.add_typer(factors_app, name="factors")
app.add_typer(activity_app, name="activity")

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

LibraryOpt = Annotated[
    str | None,
    typer.Option(
        "--library", help="The factor library version (default: the latest shipped).",
        show_default=False,
    ),
]  # fmt: skip
OrgOpt = Annotated[str, typer.Option("--org", help="The organisation.")]
FromMonth = Annotated[str, typer.Option("--from", help="First month, YYYY-MM (UTC).")]
ToMonth = Annotated[str, typer.Option("--to", help="Last month, YYYY-MM (inclusive).")]


def month(value: str, option: str) -> str:
    """A ``YYYY-MM`` option; anything else is a usage error."""
    if not MONTH.match(value):
        raise typer.BadParameter(f"{value!r} is not a month (YYYY-MM)", param_hint=option)
    return value


def _library(version: str | None, json_out: bool) -> factors.Library:
    with reporting(json_out):
        return factors.load(version)
    raise AssertionError("unreachable")  # pragma: no cover - reporting exits


def _kg(g_per_mwh: int) -> str:
    """A factor in kg per kWh, as publishers print it."""
    return decimal(g_per_mwh, 6).rstrip("0").rstrip(".")


def _month_of(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m")


# the library and the sets in force -------------------------------------------------------------
def _wanted(f: factors.Factor, geography: str | None, year: int | None, fuels: bool) -> bool:
    if fuels != (f.basis == "fuel_default"):
        return False
    if (
        geography is not None
        and f.geography != geography
        and not f.geography.startswith(geography + "-")
    ):
        return False
    return year is None or f.year == year


def _library_table(lib: factors.Library, chosen: list[factors.Factor], fuels: bool) -> Table:
    table = Table(
        title=f"factor library {lib.version} (published {lib.published})", title_justify="left"
    )
    if fuels:
        columns = ["fuel", "gCO2/GJ"]
    else:
        columns = ["geography", "year", "basis", "gas", "g/MWh", "kg/kWh"]
    for name in columns:
        table.add_column(name, no_wrap=True)
    table.add_column("source", overflow="fold")
    for f in chosen:
        if fuels:
            first = [str(f.fuel), f"{f.value:,}"]
        else:
            first = [f.geography, str(f.year), f.basis, f.gas, f"{f.value:,}", _kg(f.value)]
        table.add_row(*(escape(v) for v in [*first, f"{f.document} ({f.id})"]))
    return table


def _sets_table(found: dict[str, Any]) -> Table:
    table = Table(
        title="factor sets on the ledger (factors in g/MWh; now: in force now)",
        title_justify="left",
        box=box.SIMPLE,
    )
    for name in ("id", "region", "from", "to", "gas", "grid", "residual", "now"):
        table.add_column(name, no_wrap=True)
    for s in found["factor_sets"]:
        residual = s.get("residual_mix")
        table.add_row(
            escape(s["id"]),
            escape(s["region"]),
            _month_of(s["start_s"]),
            _month_of(s["end_s"] - 1),
            s["gas"],
            f"{s['grid_average']['g_per_mwh']:,}",
            "-" if residual is None else f"{residual['g_per_mwh']:,}",
            "yes" if s["in_force"] else "no",
        )
    return table


@factors_app.callback()
def list_factors(
    ctx: typer.Context,
    geography: Annotated[
        str | None,
        typer.Option("--geography", help="Only this geography's factors (and those below it)."),
    ] = None,
    year: Annotated[int | None, typer.Option("--year", help="Only this year's factors.")] = None,
    fuels: Annotated[
        bool, typer.Option("--fuels", help="List the fuel defaults (scope 1) instead.")
    ] = False,
    library_only: Annotated[
        bool, typer.Option("--library-only", help="Only the shipped library (no node needed).")
    ] = False,
    library: LibraryOpt = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The shipped factor library (electricity factors, or fuel defaults with --fuels), then
    the factor sets recorded on the ledger and whether each is in force now."""
    if ctx.invoked_subcommand is not None:
        return
    lib = _library(library, json_out)
    chosen = [f for f in lib.factors if _wanted(f, geography, year, fuels)]
    sets = None
    if not library_only:
        sets = call_node(home, node, json_out, lambda c: c.carbon.factor_sets())
    if json_out:
        out: dict[str, Any] = {
            "library": {"version": lib.version, "published": lib.published,
                        "factors": msgspec.to_builtins(chosen)},
        }  # fmt: skip
        if sets is not None:
            out["factor_sets"] = sets
        print_json(out)
        return
    console.print(_library_table(lib, chosen, fuels))
    if sets is not None:
        console.print(_sets_table(sets))
        regions = sets["region_map"]
        console.print(f"region map: {len(regions)} provinces" if regions else
                      "region map: none recorded (gridledger carbon region-map)")  # fmt: skip


@factors_app.command("record")
def record_factor_set(
    region: Annotated[str, typer.Option("--region", help="The region: CN, CN-SOUTH, CN-GD.")],
    year: Annotated[int, typer.Option("--year", help="The factors' data year.")],
    start: Annotated[str, typer.Option("--from", help="First month in force, YYYY-MM.")],
    end: Annotated[
        str, typer.Option("--to", help="First month no longer in force (exclusive), YYYY-MM.")
    ],
    set_id: Annotated[str, typer.Option("--id", help="The set's id on the ledger (unique).")],
    regulator: Annotated[
        str, typer.Option("--regulator", help="The sending account (a regulator).")
    ],
    gas: Annotated[str, typer.Option("--gas", help="CO2 or CO2e (every factor of the set).")] = (
        "CO2"
    ),
    basis: Annotated[
        str, typer.Option("--basis", help=f"The grid factor's basis: {', '.join(SET_BASES)}.")
    ] = "grid_average",
    residual: Annotated[
        bool,
        typer.Option(
            "--residual/--no-residual",
            help="Add the library's residual mix (its country's if the region has none).",
        ),
    ] = True,
    library: LibraryOpt = None,
    key: KeyOpt = None,
    wait: WaitOpt = 10.0,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Put a factor set from the shipped library in force for a region and whole months: its
    grid factor, residual mix and fuel defaults, each with its source
    (carbon.record_factor_set; regulator)."""
    first, last = month(start, "--from"), month(end, "--to")
    if gas not in ("CO2", "CO2e"):
        raise typer.BadParameter(f"{gas!r}: CO2 or CO2e", param_hint="--gas")
    lib = _library(library, json_out)
    with reporting(json_out):
        body = factor_set_body(
            region, year, first, last, set_id, gas=cast("factors.Gas", gas),
            basis=cast("factors.Basis", basis), residual=residual, library=lib,
        )  # fmt: skip
    send_tx(home, node, regulator, key, wait, json_out, "carbon.record_factor_set", body)


@signed_command(app, "region-map", "carbon.set_region_map")
def region_map(library: LibraryOpt = None) -> BodyOrRead:
    """Record the library's map of provinces to regional grids, which the factor lookup falls
    back along (carbon.set_region_map; regulator)."""
    # built when the command runs, so a library that cannot load is reported as every error is
    return lambda _client: region_map_body(factors.load(library))


# inventories and reports -----------------------------------------------------------------------
def _grams(value: int) -> str:
    return f"{value:,} g ({decimal(value, 6)} t)"


def _line(text: str) -> None:
    """Plain text on one line, as long as it is (greppable, never highlighted)."""
    console.print(escape(text), highlight=False, soft_wrap=True)


def _print_inventory(inv: dict[str, Any]) -> None:
    s1 = inv["scope1"]
    rows = [
        (f"{inv['subject']}", inv["id"]),
        ("period", f"{inv['start']} .. {inv['end']}"),
        ("gas", inv["gas"]),
        ("consumption", f"{inv['consumption_wh']:,} Wh"),
        ("claimed", f"{inv['claimed_wh']:,} Wh (annual: {inv['covered_volume_wh']:,}, "
                    f"hourly: {inv['matched_hourly_wh']:,})"),
        ("scope 1 confirmed", _grams(s1["confirmed_g"])),
        ("scope 1 reported, unconfirmed", _grams(s1["reported_g"])),
        ("scope 2 location-based", _grams(inv["scope2_location_g"])),
        ("scope 2 market-based, annual", _grams(inv["scope2_market_volume_g"])),
        ("scope 2 market-based, hourly", _grams(inv["scope2_market_hourly_g"])),
        ("avoided by claimed clean energy", _grams(inv["avoided_g"])),
        ("avoided by own plants (apart)", _grams(inv["plants_avoided_g"])),
        ("intervals", f"{inv['readings']:,} ({inv['corrected']:,} corrected)"),
        ("fallbacks", cell(inv["fallbacks"])),
    ]  # fmt: skip
    console.print(kv_table(rows))
    if inv["months"]:
        table = Table(
            title="by site and month (energy in Wh, emissions in g)",
            title_justify="left",
            box=box.SIMPLE,
        )
        for name in ("site", "month", "used", "claimed", "hourly", "location", "market",
                     "mkt hourly"):  # fmt: skip
            justify: Literal["left", "right"] = "left" if name in ("site", "month") else "right"
            table.add_column(name, no_wrap=True, justify=justify)
        for m in inv["months"]:
            table.add_row(
                escape(m["site"]),
                m["month"],
                *(f"{m[k]:,}" for k in ("consumption_wh", "claimed_wh", "matched_hourly_wh",
                                        "location_g", "market_volume_g", "market_hourly_g")),
            )  # fmt: skip
        console.print(table)
    console.print("[bold]factors used[/]")
    for f in inv["factors"]:
        src = f["source"]
        _line(f"{f['role']} for {f['region']}: {f['g_per_mwh']:,} g/MWh {f['gas']}, set "
              f"{f['set']} (path {' -> '.join(f['path'])})")  # fmt: skip
        _line(f"  source: {src['publisher']}; {src['document']}; {src['year']}; "
              f"{src['geography']}; {src['factor_id']}")  # fmt: skip


@app.command("inventory")
def inventory(
    start: FromMonth,
    end: ToMonth,
    org: Annotated[str | None, typer.Option("--org", help="An organisation's inventory.")] = None,
    site: Annotated[str | None, typer.Option("--site", help="A site's inventory.")] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """An organisation's or a site's inventory over whole months (the last may be open):
    scope 1, scope 2 location-based and market-based (annual and hourly matching), avoided
    emissions, by site and month, with the factors used."""
    if (org is None) == (site is None):
        raise typer.BadParameter("give exactly one of --org and --site")
    first, last = month(start, "--from"), month(end, "--to")

    def read(c: Client) -> Any:
        return c.carbon.inventory(org=org, site=site, start=first, end=last)

    found = call_node(home, node, json_out, read)
    if json_out:
        print_json(found)
        return
    _print_inventory(found)


@app.command("report")
def report(
    org: OrgOpt,
    start: FromMonth,
    end: ToMonth,
    format: Annotated[
        str, typer.Option("--format", help=f"{', '.join(FORMATS)} (ghg: the GHG Protocol layout).")
    ] = "json",
    lang: Annotated[str, typer.Option("--lang", help="The PDF's language: en or zh.")] = "en",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", dir_okay=False, help="Write to this file (default: stdout; a PDF needs one)."
        ),
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """An organisation's carbon report over whole months that have ended, computed by the
    node at its latest block: JSON, CSV, the GHG Protocol reporting layout (JSON) or a PDF in
    English or Chinese, with the factors and their sources, both scope 2 methods and the
    data's quality."""
    first, last = month(start, "--from"), month(end, "--to")
    if format not in FORMATS:
        raise typer.BadParameter(f"{format!r}: one of {', '.join(FORMATS)}", param_hint="--format")
    if lang not in ("en", "zh"):
        raise typer.BadParameter(f"{lang!r}: en or zh", param_hint="--lang")
    if format == "pdf" and out is None:
        raise typer.BadParameter("a PDF is written to a file: give --out", param_hint="--out")
    data = call_node(
        home, node, False, lambda c: c.carbon.report_file(org, first, last, format, lang=lang)
    )
    if out is None:
        typer.echo(data.decode(), nl=False)
        return
    out.write_bytes(data)
    console.print(f"wrote {escape(str(out))} ({len(data):,} bytes, {format})")


# activity data ---------------------------------------------------------------------------------
IdOpt = Annotated[str, typer.Option("--id", help="The activity report's id.")]


@signed_command(activity_app, "report", "carbon.report_activity")
def report_activity(
    activity_id: IdOpt,
    site: Annotated[str, typer.Option("--site", help="The site (of --from's organisation).")],
    month_: Annotated[str, typer.Option("--month", help="The month, YYYY-MM (ended).")],
    fuel: Annotated[str, typer.Option("--fuel", help="The fuel, as the factor set names it.")],
    quantity: Annotated[int, typer.Option("--quantity", min=1, help="How much, in --unit.")],
    unit: Annotated[str, typer.Option("--unit", help="The fuel factor's unit, e.g. GJ.")],
) -> Body:
    """Report fuel burnt at a site of --from's organisation in an ended month (scope 1); the
    emissions and the factor used are recorded with it (carbon.report_activity)."""
    return {"id": activity_id, "site": site, "month": month(month_, "--month"), "fuel": fuel,
            "quantity": quantity, "unit": unit}  # fmt: skip


@signed_command(activity_app, "confirm", "carbon.confirm_activity")
def confirm_activity(
    org: OrgOpt,
    activity_id: IdOpt,
    note: Annotated[str | None, typer.Option("--note", help="A note (1-256 characters).")] = None,
) -> Body:
    """Confirm another organisation's activity report: it counts in scope 1 from then on
    (carbon.confirm_activity; carbon verifier)."""
    return {"org": org, "id": activity_id, "note": note}


@signed_command(activity_app, "reject", "carbon.reject_activity")
def reject_activity(
    org: OrgOpt,
    activity_id: IdOpt,
    note: Annotated[str, typer.Option("--note", help="Why (1-256 characters).")],
) -> Body:
    """Reject another organisation's activity report with a reason; it never counts
    (carbon.reject_activity; carbon verifier)."""
    return {"org": org, "id": activity_id, "note": note}


@activity_app.command("list")
def list_activities(
    org: OrgOpt,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """An organisation's activity reports: fuel, quantity, emissions, status and verifier."""
    found = call_node(home, node, json_out, lambda c: c.carbon.activities(org))
    if json_out:
        print_json(found)
        return
    console.print(f"[bold]activity data of {escape(org)}[/]")
    for a in found["activities"]:
        status = a["status"]
        if a.get("verifier"):
            status += f" by {a['verifier']}"
        if a.get("verifier_note"):
            status += f": {a['verifier_note']}"
        line = (
            f"{a['id']}: {a['site']} {a['month']}, {a['fuel']} {a['quantity']:,} {a['unit']} = "
            f"{a['emissions_g']:,} g {a['gas']} (set {a['factor_set']}), {status}"
        )
        _line(line)
    if not found["activities"]:
        console.print("none")


# claims live in their own module; they are commands of this group
from gridledger.cli import claims as _claims  # noqa: E402

app.add_typer(_claims.app, name="claim")
