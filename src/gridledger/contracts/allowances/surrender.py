"""Surrendering allowances and credits against verified emissions, and where a holder
stands.

* ``allowances.surrender`` (holder): ``{"period", "quantity_t", "vintage"?}``: allowances of
  ``vintage`` (by default the period itself) against the holder's obligation for ``period``.
  An earlier vintage counts if its period allows banking (``allowances.banking_not_allowed``);
  a later one never does (``allowances.borrowing``).
* ``allowances.surrender_credits`` (holder): ``{"period", "serial", "quantity_t"?}``: retires
  the credits (a :class:`~gridledger.contracts.credits.Retirement` for the holder, reason
  ``compliance <period>``, claim period the compliance period's) against the obligation, so
  long as all credits surrendered for the period stay within ``obligation_t *
  credit_quota_ppm // 1,000,000`` t (``allowances.credit_quota_exceeded``). Credits from a
  project of the holder's own organisation are not eligible.

Both need the holder's verified emissions recorded (``allowances.no_verified_emissions``),
come before the deadline by block time (``allowances.deadline_passed``) and never exceed what
is still owed (``allowances.over_surrender``).
"""

from __future__ import annotations

from gridledger.contracts import credits, registry
from gridledger.contracts.allowances import keys
from gridledger.contracts.allowances.allocation import (
    PPM,
    balance,
    debit,
    get_compliance,
    get_period,
    require_period,
)
from gridledger.contracts.allowances.errors import (
    BadQuantity,
    BankingNotAllowed,
    Borrowing,
    CreditQuotaExceeded,
    DeadlinePassed,
    IneligibleCredit,
    NoVerifiedEmissions,
    OverSurrender,
    UnknownPeriod,
)
from gridledger.contracts.allowances.records import (
    Compliance,
    CompliancePeriod,
    ComplianceStatus,
    Status,
)
from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.state.state import StateReader, StateWriter, decode_record


def credit_limit(period: CompliancePeriod, compliance: Compliance) -> int:
    """The most tonnes credits may cover of the holder's obligation."""
    return compliance.obligation_t * period.credit_quota_ppm // PPM


def _owed(compliance: Compliance) -> int:
    return max(0, compliance.obligation_t - compliance.allowances_t - compliance.credits_t)


def _open(state: StateReader, ctx: Context, period_id: str) -> tuple[CompliancePeriod, Compliance]:
    """The period, before its deadline, and the sender's compliance record for it."""
    period = require_period(state, period_id)
    if ctx.time_s >= period.deadline_s:
        raise DeadlinePassed(f"{period.id}'s surrender deadline was {period.deadline_s}")
    compliance = get_compliance(state, period.id, ctx.sender)
    if compliance is None:
        raise NoVerifiedEmissions(f"no verified emissions of {ctx.sender} for {period.id}")
    return period, compliance


def _within(compliance: Compliance, quantity: int) -> None:
    owed = _owed(compliance)
    if quantity > owed:
        raise OverSurrender(f"{compliance.holder} owes {owed} t for {compliance.period}")


class Surrender(Body):
    period: str
    quantity_t: Int64
    vintage: str | None = None

    def check(self) -> None:
        if self.quantity_t <= 0:
            raise BadQuantity(f"quantity_t {self.quantity_t}: a positive number of tonnes")


@kind("allowances.surrender", Surrender)
def apply_surrender(state: StateWriter, ctx: Context, body: Surrender) -> None:
    """Surrender allowances against the holder's verified emissions for a period."""
    period, compliance = _open(state, ctx, body.period)
    vintage = period if body.vintage in (None, period.id) else get_period(state, body.vintage)
    if vintage is None:
        raise UnknownPeriod(f"no compliance period {body.vintage!r}")
    if vintage.start_s > period.start_s:
        raise Borrowing(f"{vintage.id} is later than {period.id}")
    if vintage.id != period.id and not vintage.banking:
        raise BankingNotAllowed(f"{vintage.id}'s allowances may not be banked")
    _within(compliance, body.quantity_t)
    debit(state, vintage.id, ctx.sender, body.quantity_t)
    vintage.surrendered_t += body.quantity_t
    state.put(keys.period(vintage.id), vintage)
    compliance.allowances_t += body.quantity_t
    state.put(keys.compliance(period.id, ctx.sender), compliance)
    ctx.emit("allowances.surrendered", period=period.id, vintage=vintage.id,
             quantity_t=body.quantity_t)  # fmt: skip


class SurrenderCredits(Body):
    period: str
    serial: str
    quantity_t: Int64 | None = None

    def check(self) -> None:
        if self.quantity_t is not None and self.quantity_t <= 0:
            raise BadQuantity(f"quantity_t {self.quantity_t}: a positive number of tonnes")


@kind("allowances.surrender_credits", SurrenderCredits)
def apply_surrender_credits(state: StateWriter, ctx: Context, body: SurrenderCredits) -> None:
    """Retire credits against the holder's verified emissions for a period, within the
    regulator's credit quota."""
    period, compliance = _open(state, ctx, body.period)
    block = credits.held_block(state, ctx.sender, body.serial)
    quantity = block.quantity_t if body.quantity_t is None else body.quantity_t
    project = credits.require_project(state, block.project)
    if project.org == registry.sender_org(state, ctx):
        raise IneligibleCredit(f"{project.id} is {project.org}'s own project")
    limit = credit_limit(period, compliance)
    if compliance.credits_t + quantity > limit:
        raise CreditQuotaExceeded(
            f"credits may cover {limit} t of {compliance.holder}'s {compliance.obligation_t} t "
            f"for {period.id}; {compliance.credits_t} t are covered already"
        )
    _within(compliance, quantity)
    retirement = credits.retire_units(
        state, ctx, block,
        credits.Retire(serial=body.serial, beneficiary=ctx.sender,
                       reason=f"compliance {period.id}", claim_start_s=period.start_s,
                       claim_end_s=period.end_s, quantity_t=body.quantity_t),
        compliance_period=period.id,
    )  # fmt: skip
    compliance.credits_t += retirement.quantity_t
    compliance.retirements = [*compliance.retirements, retirement.id]
    state.put(keys.compliance(period.id, ctx.sender), compliance)
    ctx.emit("allowances.credits_surrendered", period=period.id, retirement=retirement.id,
             quantity_t=retirement.quantity_t)  # fmt: skip


# queries ---------------------------------------------------------------------------------------
def status(view: StateReader, period_id: str, holder: str, time_s: int) -> ComplianceStatus:
    """Where ``holder`` stands for the period at block time ``time_s``.

    Raises:
        UnknownPeriod: no such period.
    """
    period = require_period(view, period_id)
    compliance = get_compliance(view, period_id, holder)
    held = balance(view, period_id, holder)
    if compliance is None:
        return ComplianceStatus(
            period=period_id, holder=holder, status="no_emissions", emissions_g=0,
            obligation_t=0, allowances_t=0, credits_t=0, credit_limit_t=0, shortfall_t=0,
            deadline_s=period.deadline_s, balance_t=held,
        )  # fmt: skip
    owed = _owed(compliance)
    state: Status = "compliant"
    if owed:
        state = "open" if time_s < period.deadline_s else "non_compliant"
    return ComplianceStatus(
        period=period_id, holder=holder, status=state, emissions_g=compliance.emissions_g,
        obligation_t=compliance.obligation_t, allowances_t=compliance.allowances_t,
        credits_t=compliance.credits_t, credit_limit_t=credit_limit(period, compliance),
        shortfall_t=owed, deadline_s=period.deadline_s, balance_t=held,
    )  # fmt: skip


def statuses(view: StateReader, period_id: str, time_s: int, after: str | None = None,
             limit: int | None = None) -> list[ComplianceStatus]:  # fmt: skip
    """Every holder with verified emissions for the period, by account (those after
    ``after``, at most ``limit``: a page of the regulator's listing)."""
    prefix = keys.compliance_of(period_id)
    start = b"" if after is None else after.encode() + b"\x00"
    return [
        status(view, period_id, decode_record(raw, Compliance).holder, time_s)
        for _, raw in view.scan_range(prefix, start, limit=limit)
    ]


def list_periods(view: StateReader) -> list[CompliancePeriod]:
    """Every compliance period, by id."""
    return [decode_record(v, CompliancePeriod) for _, v in view.scan(keys.periods())]


def balances(view: StateReader, period_id: str) -> dict[str, int]:
    """Every holder's allowances of the period's vintage, by account."""
    prefix = keys.balances_of(period_id)
    return {k[len(prefix) :].decode(): int(v) for k, v in view.scan(prefix)}
