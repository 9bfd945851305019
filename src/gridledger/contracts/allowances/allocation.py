"""Compliance periods, allocation, transfers and verified emissions.

* ``allowances.open_period`` (regulator): ``{"id", "start_s", "end_s", "deadline_s",
  "credit_quota_ppm"?, "banking"?}``: ``start_s < end_s <= deadline_s``; the credit quota is
  0-1,000,000 ppm (50,000, 5 %, unless given); banking (using its allowances for later
  periods) is allowed unless ``"banking": false``.
* ``allowances.allocate`` (regulator): ``{"period", "to", "method", ...}``: ``free`` gives
  ``quantity_t``; ``benchmark`` gives ``activity`` and ``benchmark_g_per_unit`` and allocates
  ``activity * benchmark_g_per_unit // 1,000,000`` t; ``auction`` records an auction's
  result, ``quantity_t`` at ``price_fen_per_t`` (payment is settled apart). Not after the
  period's deadline.
* ``allowances.transfer`` (holder): ``{"period", "to", "quantity_t"}``: allowances of that
  vintage to another registered account.
* ``allowances.record_emissions`` (regulator): ``{"period", "holder", "emissions_g"}``: a
  holder's verified emissions, once, after the period has ended; the obligation is
  ``ceil(emissions_g / 1,000,000)`` allowances.
"""

from __future__ import annotations

from typing import Literal

from gridledger.contracts import registry
from gridledger.contracts.allowances import keys
from gridledger.contracts.allowances.errors import (
    BadQuantity,
    DeadlinePassed,
    EmissionsRecorded,
    Insufficient,
    InvalidAllocation,
    InvalidEmissions,
    InvalidPeriod,
    PeriodExists,
    PeriodOpen,
    UnknownPeriod,
)
from gridledger.contracts.allowances.records import Allocation, Compliance, CompliancePeriod
from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.state.state import StateReader, StateWriter

G_PER_T = 1_000_000
PPM = 1_000_000
DEFAULT_CREDIT_QUOTA_PPM = 50_000


class OpenPeriod(Body):
    id: str
    start_s: Int64
    end_s: Int64
    deadline_s: Int64
    credit_quota_ppm: Int64 = DEFAULT_CREDIT_QUOTA_PPM
    banking: bool = True

    def check(self) -> None:
        registry.check_id(self.id, "compliance period id")
        if not 0 <= self.start_s < self.end_s <= self.deadline_s:
            raise InvalidPeriod(f"{self.start_s} < {self.end_s} <= {self.deadline_s} fails")
        if not 0 <= self.credit_quota_ppm <= PPM:
            raise InvalidPeriod(f"credit_quota_ppm {self.credit_quota_ppm} out of 0-1,000,000")


def get_period(view: StateReader, period_id: str) -> CompliancePeriod | None:
    return view.get_record(keys.period(period_id), CompliancePeriod)


def require_period(view: StateReader, period_id: str) -> CompliancePeriod:
    found = get_period(view, period_id)
    if found is None:
        raise UnknownPeriod(f"no compliance period {period_id!r}")
    return found


def balance(view: StateReader, period_id: str, account: str) -> int:
    """The account's allowances of the period's vintage, tonnes."""
    return view.get_int(keys.balance(period_id, account))


def get_compliance(view: StateReader, period_id: str, account: str) -> Compliance | None:
    return view.get_record(keys.compliance(period_id, account), Compliance)


@kind("allowances.open_period", OpenPeriod, roles=("regulator",))
def apply_open_period(state: StateWriter, ctx: Context, body: OpenPeriod) -> None:
    """Open a compliance period with its deadline, credit quota and banking rule
    (regulators)."""
    if state.get(keys.period(body.id)) is not None:
        raise PeriodExists(f"compliance period {body.id} exists")
    state.put(
        keys.period(body.id),
        CompliancePeriod(
            id=body.id, start_s=body.start_s, end_s=body.end_s, deadline_s=body.deadline_s,
            credit_quota_ppm=body.credit_quota_ppm, banking=body.banking,
            opened_by=ctx.sender, height=ctx.height,
        ),
    )  # fmt: skip
    ctx.emit("allowances.period_opened", id=body.id)


class Allocate(Body):
    period: str
    to: str
    method: Literal["free", "benchmark", "auction"]
    quantity_t: Int64 | None = None
    activity: Int64 | None = None
    benchmark_g_per_unit: Int64 | None = None
    price_fen_per_t: Int64 | None = None

    def check(self) -> None:
        benchmark = (self.activity, self.benchmark_g_per_unit)
        if self.method == "benchmark":
            if self.quantity_t is not None or self.price_fen_per_t is not None:
                raise InvalidAllocation("a benchmark allocation computes its quantity")
            if None in benchmark or min(b or 0 for b in benchmark) <= 0:
                raise InvalidAllocation("activity and benchmark_g_per_unit are positive")
            if (self.activity or 0) * (self.benchmark_g_per_unit or 0) // G_PER_T <= 0:
                raise InvalidAllocation("the benchmark allocates less than a tonne")
            return
        if benchmark != (None, None):
            raise InvalidAllocation(f"a {self.method} allocation has no benchmark")
        if self.quantity_t is None or self.quantity_t <= 0:
            raise InvalidAllocation("quantity_t is a positive number of tonnes")
        if (self.method == "auction") != (self.price_fen_per_t is not None):
            raise InvalidAllocation("an auction, and only an auction, records its price")
        if self.price_fen_per_t is not None and self.price_fen_per_t < 0:
            raise InvalidAllocation("price_fen_per_t is not negative")

    def quantity(self) -> int:
        if self.method == "benchmark":
            return (self.activity or 0) * (self.benchmark_g_per_unit or 0) // G_PER_T
        return self.quantity_t or 0


@kind("allowances.allocate", Allocate, roles=("regulator",))
def apply_allocate(state: StateWriter, ctx: Context, body: Allocate) -> None:
    """Allocate a period's allowances to a holder: free, by benchmark or by auction
    (regulators)."""
    period = require_period(state, body.period)
    registry.require_exists(state, body.to)
    if ctx.time_s >= period.deadline_s:
        raise DeadlinePassed(f"{period.id}'s deadline was {period.deadline_s}")
    quantity = body.quantity()
    if quantity > 2**62 - period.allocated_t:
        raise InvalidAllocation("the allocation exceeds the 64-bit range")
    period.allocations += 1
    period.allocated_t += quantity
    state.put(keys.period(period.id), period)
    state.set_int(keys.balance(period.id, body.to), balance(state, period.id, body.to) + quantity)
    state.put(
        keys.allocation(period.id, period.allocations),
        Allocation(
            n=period.allocations, period=period.id, to=body.to, method=body.method,
            quantity_t=quantity, height=ctx.height, activity=body.activity,
            benchmark_g_per_unit=body.benchmark_g_per_unit,
            price_fen_per_t=body.price_fen_per_t,
        ),
    )  # fmt: skip
    ctx.emit("allowances.allocated", period=period.id, to=body.to, quantity_t=quantity)


class Transfer(Body):
    period: str
    to: str
    quantity_t: Int64

    def check(self) -> None:
        if self.quantity_t <= 0:
            raise BadQuantity(f"quantity_t {self.quantity_t}: a positive number of tonnes")


def debit(state: StateWriter, period_id: str, account: str, quantity: int) -> None:
    """Take ``quantity`` allowances of the vintage from ``account``.

    Raises:
        Insufficient: it holds fewer.
    """
    held = balance(state, period_id, account)
    if held < quantity:
        raise Insufficient(f"{account} holds {held} t of {period_id}, not {quantity} t")
    if held == quantity:
        state.delete(keys.balance(period_id, account))
    else:
        state.set_int(keys.balance(period_id, account), held - quantity)


@kind("allowances.transfer", Transfer)
def apply_transfer(state: StateWriter, ctx: Context, body: Transfer) -> None:
    """Transfer allowances of a vintage to another account (their holder)."""
    require_period(state, body.period)
    registry.require_exists(state, body.to)
    debit(state, body.period, ctx.sender, body.quantity_t)
    held = balance(state, body.period, body.to)
    state.set_int(keys.balance(body.period, body.to), held + body.quantity_t)
    ctx.emit("allowances.transferred", period=body.period, to=body.to,
             quantity_t=body.quantity_t)  # fmt: skip


class RecordEmissions(Body):
    period: str
    holder: str
    emissions_g: Int64

    def check(self) -> None:
        if self.emissions_g < 0:
            raise InvalidEmissions(f"emissions_g {self.emissions_g} is negative")


@kind("allowances.record_emissions", RecordEmissions, roles=("regulator",))
def apply_record_emissions(state: StateWriter, ctx: Context, body: RecordEmissions) -> None:
    """Record a holder's verified emissions for an ended period (regulators)."""
    period = require_period(state, body.period)
    registry.require_exists(state, body.holder)
    if ctx.time_s < period.end_s:
        raise PeriodOpen(f"{period.id} ends at {period.end_s}")
    if state.get(keys.compliance(period.id, body.holder)) is not None:
        raise EmissionsRecorded(f"{body.holder}'s emissions for {period.id} were recorded")
    obligation = -(-body.emissions_g // G_PER_T)
    state.put(
        keys.compliance(period.id, body.holder),
        Compliance(period=period.id, holder=body.holder, emissions_g=body.emissions_g,
                   obligation_t=obligation, recorded_by=ctx.sender, height=ctx.height),
    )  # fmt: skip
    ctx.emit("allowances.emissions_recorded", period=period.id, holder=body.holder,
             obligation_t=obligation)  # fmt: skip
