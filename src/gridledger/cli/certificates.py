"""``gridledger cert``: granular energy certificates (``docs/cli.md``).

Transactions sign and submit as every ``tx`` command does (:mod:`gridledger.cli.signing`:
``--from``, ``--key``, ``--wait``, ``--node``, ``--json``); views read the node's
``/v1/certificates`` endpoints and print tables, or the API's answer with ``--json``. Energy is
in Wh; times are Unix seconds or ISO 8601 (UTC); a bundle's id is ``<device>:<range_start>``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from gridledger.cli.common import (
    HomeOpt,
    JsonOpt,
    NodeOpt,
    call_node,
    console,
    fields_table,
    optional_seconds,
    print_fields,
    print_json,
    print_more,
    rows_table,
    unix_seconds,
)
from gridledger.cli.signing import Body, BodyOrRead, signed_command
from gridledger.node.home import DEFAULT_HOME
from gridledger.sdk import Client

app = typer.Typer(
    help="Granular energy certificates: issue, move, cancel, claim; registry views, matching, "
    "statements, exports.",
    no_args_is_help=True,
)
gec_app = typer.Typer(
    help="China Green Electricity Certificates (1 GEC = 1 MWh): record, transfer, convert, "
    "export, show.",
    no_args_is_help=True,
)
app.add_typer(gec_app, name="gec")

BundleArg = Annotated[
    str, typer.Argument(metavar="BUNDLE", help="The bundle id: <device>:<range_start>.")
]
BundlesArg = Annotated[
    list[str], typer.Argument(metavar="BUNDLE...", help="Bundle ids: <device>:<range_start>.")
]
DeviceOpt = Annotated[str, typer.Option("--device", help="The device (plant) id.")]
ToOpt = Annotated[str, typer.Option("--to", help="The receiving account.")]
PartOpt = Annotated[
    int | None,
    typer.Option("--quantity-wh", min=1, help="Only the bundle's first Wh (default: all of it)."),
]
StartOpt = Annotated[
    str, typer.Option("--start", help="Interval start: Unix seconds or ISO 8601 (UTC).")
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why, 1-256 characters (audited).")]
LengthOpt = Annotated[
    int, typer.Option("--length-s", help="Interval length: 900 or 3600 s (at most the scheme's).")
]


# transactions --------------------------------------------------------------------------------
@signed_command(app, "issue", "certificates.issue")
def issue(
    device: DeviceOpt,
    to: Annotated[str, typer.Option("--to", help="An account of the device's organisation.")],
    start: Annotated[
        list[str],
        typer.Option(
            "--start", help="An interval start (Unix seconds or ISO 8601); repeat for more."
        ),
    ],
    length_s: LengthOpt = 3600,
) -> Body:
    """Issue one bundle per final, metered interval of a device, of the Wh its meters measured
    (certificates.issue; certifier)."""
    return {
        "device": device,
        "to": to,
        "starts": [unix_seconds(s, "--start") for s in start],
        "length_s": length_s,
    }


@signed_command(app, "split", "certificates.split")
def split(
    bundle: BundleArg,
    part: Annotated[
        list[int],
        typer.Option("--part", min=1, help="A part's Wh, in id order; repeat (2-100 parts)."),
    ],
) -> Body:
    """Split a held bundle into parts of consecutive Wh ids adding up to it; the first keeps
    the bundle's id (certificates.split; holder)."""
    return {"bundle": bundle, "quantities": part}


@signed_command(app, "transfer", "certificates.transfer")
def transfer(bundle: BundleArg, to: ToOpt, quantity_wh: PartOpt = None) -> Body:
    """Transfer a held bundle (or its first --quantity-wh) to an account that accepts
    transfers from --from (certificates.transfer; holder)."""
    return {"bundle": bundle, "to": to, "quantity_wh": quantity_wh}


@signed_command(app, "lock", "certificates.lock")
def lock(
    bundle: BundleArg,
    for_account: Annotated[
        str, typer.Option("--for", help="The only account it may then move to.")
    ],
    quantity_wh: PartOpt = None,
) -> Body:
    """Reserve a held bundle (or its first --quantity-wh) for one account, e.g. while a trade
    settles (certificates.lock; holder)."""
    return {"bundle": bundle, "for_account": for_account, "quantity_wh": quantity_wh}


@signed_command(app, "unlock", "certificates.unlock")
def unlock(bundle: BundleArg) -> Body:
    """Release a reservation (certificates.unlock; holder)."""
    return {"bundle": bundle}


@signed_command(app, "cancel", "certificates.cancel")
def cancel(
    bundle: BundleArg,
    beneficiary: Annotated[str, typer.Option("--beneficiary", help="Whom it is cancelled for.")],
    site: Annotated[str, typer.Option("--site", help="The beneficiary's consumption site.")],
    period_start: Annotated[
        str, typer.Option("--period-start", help="Consumption period start (Unix s or ISO).")
    ],
    period_end: Annotated[
        str, typer.Option("--period-end", help="Consumption period end, exclusive.")
    ],
    quantity_wh: PartOpt = None,
) -> Body:
    """Cancel a held bundle (or its first --quantity-wh) for a beneficiary's consumption at a
    site over a period (certificates.cancel; holder)."""
    return {
        "bundle": bundle,
        "beneficiary": beneficiary,
        "site": site,
        "period_start_s": unix_seconds(period_start, "--period-start"),
        "period_end_s": unix_seconds(period_end, "--period-end"),
        "quantity_wh": quantity_wh,
    }


@signed_command(app, "claim", "certificates.claim")
def claim(bundle: BundleArg) -> Body:
    """Claim a cancelled bundle; it never changes again (certificates.claim; holder or
    beneficiary)."""
    return {"bundle": bundle}


@signed_command(app, "withdraw", "certificates.withdraw")
def withdraw(bundle: BundleArg, reason: ReasonOpt, quantity_wh: PartOpt = None) -> Body:
    """Withdraw an unclaimed bundle (or its first --quantity-wh) with a reason
    (certificates.withdraw; certifier)."""
    return {"bundle": bundle, "reason": reason, "quantity_wh": quantity_wh}


@signed_command(app, "reissue", "certificates.reissue")
def reissue(
    device: DeviceOpt,
    start: StartOpt,
    to: ToOpt,
    quantity_wh: Annotated[int, typer.Option("--quantity-wh", min=1, help="Wh to re-issue.")],
    reason: ReasonOpt,
) -> Body:
    """Issue again Wh withdrawn from an interval, with fresh ids, never beyond what was
    withdrawn nor what the meters now measure (certificates.reissue; certifier)."""
    return {
        "device": device,
        "start": unix_seconds(start, "--start"),
        "to": to,
        "quantity_wh": quantity_wh,
        "reason": reason,
    }


@signed_command(app, "reconcile", "certificates.reconcile")
def reconcile(device: DeviceOpt, start: StartOpt) -> Body:
    """After a meter correction, withdraw what an interval's certificates exceed: active
    bundles first, then locked, then cancelled (certificates.reconcile; certifier or grid
    operator)."""
    return {"device": device, "start": unix_seconds(start, "--start")}


@signed_command(app, "expire", "certificates.expire")
def expire(bundles: BundlesArg) -> Body:
    """Mark live bundles past their expiry as expired (certificates.expire; anyone)."""
    return {"bundles": bundles}


@signed_command(app, "set-params", "certificates.set_params")
def set_params(
    scheme: Annotated[str | None, typer.Option("--scheme", help="The scheme's name.")] = None,
    bundle_s: Annotated[
        int | None, typer.Option("--bundle-s", help="Longest bundle: 900 or 3600 s.")
    ] = None,
    expiry_s: Annotated[
        int | None, typer.Option("--expiry-s", help="How long an unclaimed certificate lives.")
    ] = None,
    finality_s: Annotated[
        int | None,
        typer.Option("--finality-s", help="How long after an interval its data is final, s."),
    ] = None,
) -> BodyOrRead:
    """Change the scheme's parameters; those not given stay as they are
    (certificates.set_params; operator)."""
    given = {"scheme": scheme, "bundle_s": bundle_s, "expiry_s": expiry_s,
             "finality_s": finality_s}  # fmt: skip
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes:
        raise typer.BadParameter("give at least one parameter to change")
    return lambda client: {**client.certificates.params(), **changes}


@signed_command(app, "set-acceptance", "certificates.set_acceptance")
def set_acceptance(
    mode: Annotated[str, typer.Option("--mode", help="anyone, listed (only --sender) or nobody.")],
    senders: Annotated[
        list[str] | None,
        typer.Option("--sender", help="An accepted account or organisation; repeat."),
    ] = None,
) -> Body:
    """Say whom --from accepts certificate transfers from (certificates.set_acceptance)."""
    return {"mode": mode, "senders": senders or []}


@signed_command(app, "charge-storage", "certificates.charge_storage")
def charge_storage(
    storage: Annotated[str, typer.Option("--storage", help="The storage device.")],
    bundles: BundlesArg,
) -> Body:
    """Cancel held bundles into a charge of a storage device in their grid zone; they never
    move again (certificates.charge_storage; holder)."""
    return {"storage": storage, "bundles": bundles}


@signed_command(app, "discharge-storage", "certificates.discharge_storage")
def discharge_storage(
    storage: Annotated[str, typer.Option("--storage", help="The storage device.")],
    start: StartOpt,
    to: ToOpt,
    losses_wh: Annotated[
        int, typer.Option("--losses-wh", min=0, help="Charged Wh lost in the interval.")
    ],
    length_s: LengthOpt = 3600,
) -> Body:
    """Issue storage-discharge certificates for a final, metered discharge, using charged Wh
    first in, first out (certificates.discharge_storage; certifier)."""
    return {
        "storage": storage,
        "start": unix_seconds(start, "--start"),
        "to": to,
        "losses_wh": losses_wh,
        "length_s": length_s,
    }


GecArg = Annotated[str, typer.Argument(metavar="GEC", help="The GEC's number.")]
MonthOpt = Annotated[str, typer.Option("--month", help="The month, YYYY-MM (UTC).")]


@signed_command(gec_app, "record", "certificates.record_gec")
def record_gec(
    gec: GecArg,
    project: Annotated[str, typer.Option("--project", help="The project named on the GEC.")],
    device: DeviceOpt,
    month: MonthOpt,
    owner: Annotated[str, typer.Option("--owner", help="The account that holds it.")],
    tradable: Annotated[
        bool, typer.Option("--tradable/--not-tradable", help="Whether it may be traded.")
    ] = True,
) -> Body:
    """Record a China GEC the national platform issued, once (certificates.record_gec;
    certifier)."""
    return {"gec": gec, "project": project, "device": device, "month": month,
            "tradable": tradable, "owner": owner}  # fmt: skip


@signed_command(gec_app, "transfer", "certificates.transfer_gec")
def transfer_gec(gec: GecArg, to: ToOpt) -> Body:
    """Transfer a tradable GEC (certificates.transfer_gec; holder)."""
    return {"gec": gec, "to": to}


@signed_command(gec_app, "cancel", "certificates.cancel_gec")
def cancel_gec(gec: GecArg) -> Body:
    """Cancel a held GEC into one bundle of 1,000,000 granular Wh ids of its device
    (certificates.cancel_gec; holder)."""
    return {"gec": gec}


@signed_command(gec_app, "export", "certificates.export_gec")
def export_gec(device: DeviceOpt, month: MonthOpt) -> Body:
    """Export a past month of --from's live certificates of a plant as whole MWh; the rest
    carries to the next month (certificates.export_gec; holder)."""
    return {"device": device, "month": month}


# views ---------------------------------------------------------------------------------------
DeviceFilter = Annotated[str | None, typer.Option("--device", help="Only this plant's.")]
OwnerFilter = Annotated[str | None, typer.Option("--owner", help="Only those it holds.")]
BeneficiaryFilter = Annotated[
    str | None, typer.Option("--beneficiary", help="Only those cancelled or claimed for it.")
]
StatusFilter = Annotated[
    str | None,
    typer.Option(
        "--status",
        help="Only those in this status now: active, locked, cancelled, claimed, withdrawn, "
        "expired, storage_charged, gec_exported.",
    ),
]
FromFilter = Annotated[
    str | None, typer.Option("--from", help="Production starting at or after (Unix s or ISO).")
]
ToFilter = Annotated[str | None, typer.Option("--to", help="Production starting before this.")]
PeriodFrom = Annotated[str, typer.Option("--from", help="Period start: Unix seconds or ISO.")]
PeriodTo = Annotated[str, typer.Option("--to", help="Period end (exclusive).")]

BUNDLE_COLUMNS = [
    ("id", "id"),
    ("production (UTC)", "production_start_s"),
    ("quantity_wh", "quantity_wh"),
    ("owner", "owner"),
    ("status", "current_status"),
    ("beneficiary", "beneficiary"),
    ("type", "bundle_type"),
]


def _rows(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**b, "beneficiary": (b.get("cancellation") or {}).get("beneficiary")} for b in found]


def _filters(
    device: str | None,
    owner: str | None,
    beneficiary: str | None,
    status: str | None,
    start: str | None,
    end: str | None,
) -> dict[str, Any]:
    return {
        "device": device,
        "owner": owner,
        "beneficiary": beneficiary,
        "status": status,
        "start": optional_seconds(start, "--from"),
        "end": optional_seconds(end, "--to"),
    }


@app.command("list")
def list_bundles(
    device: DeviceFilter = None,
    owner: OwnerFilter = None,
    beneficiary: BeneficiaryFilter = None,
    status: StatusFilter = None,
    start: FromFilter = None,
    end: ToFilter = None,
    after: Annotated[
        str | None, typer.Option("--after", help="After this bundle id (paging).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Bundles per page.")] = 100,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Certificate bundles by plant, holder, beneficiary, status (now) and production time,
    by device then Wh id; --json prints the API's page ({"certificates", "next"})."""
    filters = _filters(device, owner, beneficiary, status, start, end)
    found = call_node(
        home, node, json_out, lambda c: c.certificates.list(**filters, after=after, limit=limit)
    )
    if json_out:
        print_json(found)
        return
    console.print(rows_table(_rows(found["certificates"]), BUNDLE_COLUMNS))
    print_more(found["next"])


@app.command("show")
def show(
    bundle: BundleArg,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One bundle: its immutable fields and hash, holder, status, cancellation, claim."""
    print_fields(call_node(home, node, json_out, lambda c: c.certificates.get(bundle)), json_out)


@app.command("totals")
def totals(
    device: DeviceFilter = None,
    owner: OwnerFilter = None,
    beneficiary: BeneficiaryFilter = None,
    start: FromFilter = None,
    end: ToFilter = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Bundles and Wh in each status now, for a plant, holder, beneficiary or period."""
    filters = _filters(device, owner, beneficiary, None, start, end)
    filters.pop("status")
    found = call_node(home, node, json_out, lambda c: c.certificates.totals(**filters))
    if json_out:
        print_json(found)
        return
    columns = [("status", "status"), ("bundles", "bundles"), ("quantity_wh", "quantity_wh")]
    console.print(rows_table(found["statuses"], columns))
    console.print(f"total {found['quantity_wh']} Wh")


@app.command("issuances")
def show_issuances(
    device: Annotated[str, typer.Argument(metavar="DEVICE", help="The device id.")],
    start: PeriodFrom,
    end: PeriodTo,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A device's issuance totals and its issuances in a period (at most 366 days)."""
    first, last = unix_seconds(start, "--from"), unix_seconds(end, "--to")
    found = call_node(home, node, json_out, lambda c: c.certificates.issuances(device, first, last))
    if json_out:
        print_json(found)
        return
    console.print(fields_table(found["ledger"], f"device {device}"))
    columns = [("start (UTC)", "start_s"), ("s", "length_s"), ("first id", "range_start"),
               ("Wh", "quantity_wh"), ("metered", "metered_wh"), ("withdrawn", "withdrawn_wh"),
               ("reissued", "reissued_wh")]  # fmt: skip
    console.print(rows_table(found["issuances"], columns))


@app.command("matching")
def show_matching(
    site: Annotated[str, typer.Option("--site", help="The consumption site.")],
    start: PeriodFrom,
    end: PeriodTo,
    hours: Annotated[bool, typer.Option("--hours", help="List every hour too.")] = False,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A site's hourly (24/7) score beside its annual-volume share over a period: consumption
    matched hour by hour by certificates produced that hour and claimed for the site."""
    first, last = unix_seconds(start, "--from"), unix_seconds(end, "--to")
    found = call_node(home, node, json_out, lambda c: c.certificates.matching(site, first, last))
    if json_out:
        print_json(found)
        return
    console.print(fields_table({k: v for k, v in found.items() if k != "hours"}))
    if hours:
        columns = [("hour (UTC)", "start_s"), ("consumption_wh", "consumption_wh"),
                   ("claimed_wh", "claimed_wh"), ("matched_wh", "matched_wh")]  # fmt: skip
        console.print(rows_table(found["hours"], columns))


@app.command("statement")
def show_statement(
    beneficiary: Annotated[str, typer.Option("--beneficiary", help="The beneficiary account.")],
    start: PeriodFrom,
    end: PeriodTo,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """What was claimed for a beneficiary with production in a period, per site and bundle."""
    first, last = unix_seconds(start, "--from"), unix_seconds(end, "--to")
    found = call_node(
        home, node, json_out, lambda c: c.certificates.statement(beneficiary, first, last)
    )
    if json_out:
        print_json(found)
        return
    claims = {k: v for k, v in found.items() if k != "bundles"}
    console.print(fields_table(claims, f"claims of {beneficiary}"))
    console.print(rows_table(_rows(found["bundles"]), BUNDLE_COLUMNS))


EXPORT_PAGE = 10_000
"""Bundles asked for per request of an export (the API's most)."""


def _export_all(client: Client, filters: dict[str, Any], json_out: bool) -> str:
    """Every page of the export, as one CSV (one header) or one JSON document."""
    after = None
    if json_out:
        rows: list[dict[str, Any]] = []
        fields: list[str] = []
        while True:
            page = client.certificates.export_json(**filters, after=after, limit=EXPORT_PAGE)
            fields = page["fields"]
            rows.extend(page["certificates"])
            after = page["next"]
            if after is None:
                return json.dumps({"fields": fields, "certificates": rows}, indent=2) + "\n"
    parts: list[str] = []
    while True:
        text, after = client.certificates.export_csv(**filters, after=after, limit=EXPORT_PAGE)
        # every page starts with the header row: keep the first one only
        parts.append(text if not parts else text.split("\r\n", 1)[1])
        if after is None:
            return "".join(parts)


@app.command("export-csv")
def export_csv(
    device: DeviceFilter = None,
    owner: OwnerFilter = None,
    beneficiary: BeneficiaryFilter = None,
    status: StatusFilter = None,
    start: FromFilter = None,
    end: ToFilter = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", dir_okay=False, help="Write to this file (default: stdout)."),
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Write the EnergyTag JSON export instead of CSV.")
    ] = False,
) -> None:
    """Every bundle the filters match, in EnergyTag GC registry field names (then gridledger_
    columns): CSV with one header row, or with --json one JSON document ({"fields",
    "certificates"})."""
    filters = _filters(device, owner, beneficiary, status, start, end)
    text = call_node(home, node, json_out, lambda c: _export_all(c, filters, json_out))
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8", newline="")
    console.print(f"wrote {out}", highlight=False)


@app.command("params")
def show_params(
    home: HomeOpt = DEFAULT_HOME, node: NodeOpt = None, json_out: JsonOpt = False
) -> None:
    """The scheme's name, longest bundle, expiry and data finality."""
    print_fields(call_node(home, node, json_out, lambda c: c.certificates.params()), json_out)


@app.command("acceptance")
def show_acceptance(
    account: Annotated[str, typer.Argument(metavar="ACCOUNT", help="The account id.")],
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Whom an account accepts certificate transfers from."""
    found = call_node(home, node, json_out, lambda c: c.certificates.acceptance(account))
    if json_out:
        print_json(found)
        return
    console.print(fields_table(found["acceptance"], f"account {account}"))


@app.command("storage")
def show_storage(
    device: Annotated[str, typer.Argument(metavar="DEVICE", help="The storage device.")],
    after: Annotated[int | None, typer.Option("--after", min=0, help="After this seq.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Charges per page.")] = 100,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A battery's certificate ledger (charged, discharged, lost, left) and its charges."""
    found = call_node(home, node, json_out, lambda c: c.certificates.storage(device, after, limit))
    if json_out:
        print_json(found)
        return
    ledger = {**found["ledger"], "left_wh": found["left_wh"]}
    console.print(fields_table(ledger, f"storage {device}"))
    rows = [
        {**c, "bundles": [f"{s['bundle']} ({s['remaining_wh']}/{s['quantity_wh']})"
                          for s in c["slices"]]}
        for c in found["charges"]
    ]  # fmt: skip
    columns = [("seq", "seq"), ("owner", "owner"), ("charged_wh", "charged_wh"),
               ("remaining_wh", "remaining_wh"), ("bundles (left/charged)", "bundles")]  # fmt: skip
    console.print(rows_table(rows, columns))
    print_more(found["next"])


@gec_app.command("show")
def show_gec(
    gec: GecArg,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A recorded GEC: project, device, month, holder, and its bundle once converted."""
    print_fields(call_node(home, node, json_out, lambda c: c.certificates.gec(gec)), json_out)


@gec_app.command("list")
def list_gecs(
    after: Annotated[str | None, typer.Option("--after", help="After this GEC number.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="GECs per page.")] = 100,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Recorded GECs by number (``gec show`` gives the project and whether it is tradable)."""
    found = call_node(home, node, json_out, lambda c: c.certificates.gecs(after, limit))
    if json_out:
        print_json(found)
        return
    names = ("id", "device", "month", "owner", "status", "bundle")
    console.print(rows_table(found["gecs"], [(n, n) for n in names]))
    print_more(found["next"])


# ``export`` and ``verify`` (PDF and proof files) live in their own module, on this app; an
# error inside that module is not hidden, only its absence
if importlib.util.find_spec("gridledger.cli.cert_files") is not None:
    importlib.import_module("gridledger.cli.cert_files")
