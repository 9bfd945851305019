"""``gridledger credits`` and ``gridledger allowances``: carbon credits and emission
allowances (``docs/cli.md``, rules in ``docs/credits.md``).

gridledger credits projects [--org O] | project ID | holdings --account A | serial SERIAL
gridledger credits retirements [--beneficiary B] [--project P]
gridledger credits register --id P --device D --name N --methodology M --baseline B --plan R
gridledger credits verify --project P --id ID --first-month M --last-month M [--note N]
gridledger credits issue --project P --period ID [--quantity T] [--first U]
gridledger credits set-params --buffer-ppm N
gridledger credits transfer|split|retire|cancel --serial S ...
gridledger allowances periods | period ID | compliance --period ID [--holder A]
gridledger allowances open|allocate|record-emissions|transfer|surrender|surrender-credits ...

Transactions sign and submit as every ``tx`` command does (:mod:`gridledger.cli.signing`:
``--from``, ``--key``, ``--wait``, ``--node``, ``--json``). Views print the API's answer as
JSON. Months are ``YYYY-MM`` and days ``YYYY-MM-DD`` (UTC), both inclusive; credits and
allowances are whole tonnes, emissions grams.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from gridledger.cli.common import HomeOpt, NodeOpt, call_node, print_json
from gridledger.cli.signing import Body, signed_command
from gridledger.contracts.carbon import month_bounds
from gridledger.node.home import DEFAULT_HOME
from gridledger.sdk import Client

app = typer.Typer(
    help="Carbon credits: projects, verified reductions, serial blocks, retirements.",
    no_args_is_help=True,
)
allowances_app = typer.Typer(
    help="Emission allowances: compliance periods, allocation, surrender, compliance status.",
    no_args_is_help=True,
)

SerialOpt = Annotated[str, typer.Option("--serial", help="The block's serial.")]
QuantityOpt = Annotated[
    int | None, typer.Option("--quantity", min=1, help="Only the first T tonnes (default all).")
]
ProjectOpt = Annotated[str, typer.Option("--project", help="The project's id.")]
PeriodOpt = Annotated[str, typer.Option("--period", help="The compliance period's id.")]


def _month(value: str, option: str, last: bool = False) -> int:
    try:
        start, end = month_bounds(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not YYYY-MM", param_hint=option) from None
    return end if last else start


def _day(value: str, option: str, after: bool = False) -> int:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not YYYY-MM-DD", param_hint=option) from None
    at = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return int(at.timestamp()) + (86_400 if after else 0)


def _show(home: Path, node: str | None, call: Callable[[Client], Any]) -> None:
    print_json(call_node(home, node, True, call))


# views ------------------------------------------------------------------------------------------
@app.command("projects")
def projects(
    org: Annotated[str | None, typer.Option("--org", help="Only this organisation's.")] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """Every registered project (of --org)."""
    _show(home, node, lambda c: c.credits.projects(org))


@app.command("project")
def project(
    project_id: Annotated[str, typer.Argument(help="The project's id.")],
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """A project, its verified periods, its tonnes by state and its serial blocks."""

    def both(c: Client) -> dict[str, Any]:
        found = c.credits.project(project_id)
        found["blocks"] = c.credits.blocks(project_id)["blocks"]
        return found

    _show(home, node, both)


@app.command("holdings")
def holdings(
    account: Annotated[str, typer.Option("--account", help="The account.")],
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """The credit blocks an account holds."""
    _show(home, node, lambda c: c.credits.holdings(account))


@app.command("serial")
def serial(
    value: Annotated[str, typer.Argument(help="A serial.")],
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """The blocks now holding the units a serial names."""
    _show(home, node, lambda c: c.credits.serial(value))


@app.command("retirements")
def retirements(
    beneficiary: Annotated[str | None, typer.Option("--beneficiary")] = None,
    project_id: Annotated[str | None, typer.Option("--project")] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """Retirements in the order recorded (of a beneficiary, of a project)."""
    _show(home, node, lambda c: c.credits.retirements(beneficiary, project_id))


# transactions ----------------------------------------------------------------------------------
@signed_command(app, "register", "credits.register_project")
def register(
    project_id: Annotated[str, typer.Option("--id", help="The project's id.")],
    device: Annotated[str, typer.Option("--device", help="The plant (a registered device).")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    methodology: Annotated[str, typer.Option("--methodology", help="e.g. 'CDM ACM0002'.")],
    baseline: Annotated[str, typer.Option("--baseline", help="The baseline scenario.")],
    plan: Annotated[str, typer.Option("--plan", help="The monitoring plan's reference.")],
) -> Body:
    """Register --from's organisation's plant as a credit project (credits.register_project)."""
    return {"id": project_id, "name": name, "device": device, "methodology": methodology,
            "baseline": baseline, "monitoring_plan": plan}  # fmt: skip


@signed_command(app, "set-params", "credits.set_params")
def set_params(
    buffer_ppm: Annotated[
        int,
        typer.Option(
            "--buffer-ppm", min=0, max=500_000, help="The buffer pool's share of each issuance."
        ),
    ],
) -> Body:
    """Set the buffer pool's share of later issuances (credits.set_params; regulator)."""
    return {"buffer_ppm": buffer_ppm}


@signed_command(app, "verify", "credits.verify_period")
def verify(
    project_id: ProjectOpt,
    period: Annotated[str, typer.Option("--id", help="The monitoring period's id.")],
    first_month: Annotated[str, typer.Option("--first-month", help="YYYY-MM.")],
    last_month: Annotated[str, typer.Option("--last-month", help="YYYY-MM (inclusive).")],
    note: Annotated[str | None, typer.Option("--note", help="The verifier's statement.")] = None,
) -> Body:
    """Confirm a monitoring period's reductions, computed from metered generation
    (credits.verify_period; carbon verifier)."""
    return {"project": project_id, "id": period,
            "start_s": _month(first_month, "--first-month"),
            "end_s": _month(last_month, "--last-month", last=True), "note": note}  # fmt: skip


@signed_command(app, "issue", "credits.issue")
def issue(
    project_id: ProjectOpt,
    period: Annotated[str, typer.Option("--period", help="The verified monitoring period.")],
    quantity: QuantityOpt = None,
    first: Annotated[int | None, typer.Option("--first", help="The expected first unit.")] = None,
) -> Body:
    """Issue credits for a verified period in a new serial batch (credits.issue; carbon
    verifier)."""
    return {"project": project_id, "period": period, "quantity_t": quantity, "first": first}


@signed_command(app, "transfer", "credits.transfer")
def transfer(
    serial_: SerialOpt,
    to: Annotated[str, typer.Option("--to", help="The receiving account.")],
    quantity: QuantityOpt = None,
) -> Body:
    """Transfer a block of credits, or its first tonnes (credits.transfer; holder)."""
    return {"serial": serial_, "to": to, "quantity_t": quantity}


@signed_command(app, "split", "credits.split")
def split(
    serial_: SerialOpt,
    quantity: Annotated[int, typer.Option("--quantity", min=1, help="Tonnes of the first part.")],
) -> Body:
    """Split a block into its first tonnes and the rest (credits.split; holder)."""
    return {"serial": serial_, "quantity_t": quantity}


@signed_command(app, "retire", "credits.retire")
def retire(
    serial_: SerialOpt,
    beneficiary: Annotated[str, typer.Option("--beneficiary", help="On whose behalf.")],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
    claim_first_day: Annotated[str, typer.Option("--claim-first-day", help="YYYY-MM-DD.")],
    claim_last_day: Annotated[str, typer.Option("--claim-last-day", help="YYYY-MM-DD.")],
    quantity: QuantityOpt = None,
) -> Body:
    """Retire credits for a beneficiary, a reason and a claim period (credits.retire;
    holder)."""
    return {"serial": serial_, "beneficiary": beneficiary, "reason": reason,
            "claim_start_s": _day(claim_first_day, "--claim-first-day"),
            "claim_end_s": _day(claim_last_day, "--claim-last-day", after=True),
            "quantity_t": quantity}  # fmt: skip


@signed_command(app, "cancel", "credits.cancel")
def cancel(
    serial_: SerialOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why they are invalid.")],
    quantity: QuantityOpt = None,
) -> Body:
    """Cancel (invalidate) active or buffer credits (credits.cancel; carbon verifier)."""
    return {"serial": serial_, "reason": reason, "quantity_t": quantity}


# allowances ------------------------------------------------------------------------------------
@allowances_app.command("periods")
def periods(home: HomeOpt = DEFAULT_HOME, node: NodeOpt = None) -> None:
    """Every compliance period."""
    _show(home, node, lambda c: c.allowances.periods())


@allowances_app.command("period")
def period(
    period_id: Annotated[str, typer.Argument(help="The period's id.")],
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """A compliance period and the allowances of its vintage each account holds."""
    _show(home, node, lambda c: c.allowances.period(period_id))


@allowances_app.command("compliance")
def compliance(
    period_id: PeriodOpt,
    holder: Annotated[str | None, typer.Option("--holder", help="Only this holder.")] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
) -> None:
    """Each holder's compliance status for a period at the latest block."""
    _show(home, node, lambda c: c.allowances.compliance(period_id, holder))


@signed_command(allowances_app, "open", "allowances.open_period")
def open_period(
    period_id: Annotated[str, typer.Option("--id", help="The period's id.")],
    first_month: Annotated[str, typer.Option("--first-month", help="YYYY-MM.")],
    last_month: Annotated[str, typer.Option("--last-month", help="YYYY-MM (inclusive).")],
    deadline: Annotated[str, typer.Option("--deadline", help="Last day to surrender.")],
    quota_ppm: Annotated[int, typer.Option("--credit-quota-ppm", min=0, max=1_000_000)] = 50_000,
    no_banking: Annotated[bool, typer.Option("--no-banking")] = False,
) -> Body:
    """Open a compliance period (allowances.open_period; regulator)."""
    return {"id": period_id, "start_s": _month(first_month, "--first-month"),
            "end_s": _month(last_month, "--last-month", last=True),
            "deadline_s": _day(deadline, "--deadline", after=True),
            "credit_quota_ppm": quota_ppm, "banking": not no_banking}  # fmt: skip


@signed_command(allowances_app, "allocate", "allowances.allocate")
def allocate(
    period_id: PeriodOpt,
    to: Annotated[str, typer.Option("--to", help="The holder.")],
    method: Annotated[str, typer.Option("--method", help="free, benchmark or auction.")],
    quantity: Annotated[int | None, typer.Option("--quantity", min=1)] = None,
    activity: Annotated[int | None, typer.Option("--activity", min=1)] = None,
    benchmark: Annotated[int | None, typer.Option("--benchmark-g-per-unit", min=1)] = None,
    price: Annotated[int | None, typer.Option("--price-fen-per-t", min=0)] = None,
) -> Body:
    """Allocate allowances (allowances.allocate; regulator)."""
    return {"period": period_id, "to": to, "method": method, "quantity_t": quantity,
            "activity": activity, "benchmark_g_per_unit": benchmark,
            "price_fen_per_t": price}  # fmt: skip


@signed_command(allowances_app, "record-emissions", "allowances.record_emissions")
def record_emissions(
    period_id: PeriodOpt,
    holder: Annotated[str, typer.Option("--holder", help="The compliance entity's account.")],
    emissions_g: Annotated[int, typer.Option("--emissions-g", min=0, help="Verified, grams.")],
) -> Body:
    """Record a holder's verified emissions (allowances.record_emissions; regulator)."""
    return {"period": period_id, "holder": holder, "emissions_g": emissions_g}


@signed_command(allowances_app, "transfer", "allowances.transfer")
def transfer_allowances(
    period_id: PeriodOpt,
    to: Annotated[str, typer.Option("--to")],
    quantity: Annotated[int, typer.Option("--quantity", min=1)],
) -> Body:
    """Transfer allowances of a vintage (allowances.transfer; holder)."""
    return {"period": period_id, "to": to, "quantity_t": quantity}


@signed_command(allowances_app, "surrender", "allowances.surrender")
def surrender(
    period_id: PeriodOpt,
    quantity: Annotated[int, typer.Option("--quantity", min=1)],
    vintage: Annotated[str | None, typer.Option("--vintage", help="A banked period.")] = None,
) -> Body:
    """Surrender allowances against verified emissions (allowances.surrender)."""
    return {"period": period_id, "quantity_t": quantity, "vintage": vintage}


@signed_command(allowances_app, "surrender-credits", "allowances.surrender_credits")
def surrender_credits(
    period_id: PeriodOpt, serial_: SerialOpt, quantity: QuantityOpt = None
) -> Body:
    """Retire credits against verified emissions, within the credit quota
    (allowances.surrender_credits)."""
    return {"period": period_id, "serial": serial_, "quantity_t": quantity}
