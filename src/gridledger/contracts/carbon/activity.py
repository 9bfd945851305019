"""Scope 1 activity data: fuel an organisation burnt, reported by it and confirmed by a carbon
verifier.

* ``carbon.report_activity`` (any account, for its own organisation): ``{"id", "site",
  "month": "YYYY-MM", "fuel", "quantity", "unit"}``: ``quantity`` is a positive integer in
  ``unit``, which must be the activity unit of the fuel's factor in the set in force for the
  site's region in that month (looked up with the fallback of :func:`~.factors.factor_for`);
  a missing or other unit is refused (``carbon.wrong_unit``). The emissions (``quantity *
  g_per_unit``, grams of the factor's gas) and the factor set and path used are recorded with
  it. The month (ASCII ``YYYY-MM``, one spelling per month) must have ended.
* ``carbon.confirm_activity`` / ``carbon.reject_activity`` (carbon verifier of another
  organisation): ``{"org", "id", "note"?}``: once; a rejection gives a reason.

Only confirmed activity counts in an inventory's confirmed scope 1; reported activity is shown
beside it as unverified.
"""

from __future__ import annotations

import datetime as dt
import re

from gridledger.contracts import registry
from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.carbon import keys
from gridledger.contracts.carbon.errors import (
    ActivityExists,
    AlreadyVerified,
    ForeignSite,
    InvalidActivity,
    SelfVerification,
    UnknownActivity,
    UnknownFuel,
    UnknownSite,
    WrongUnit,
)
from gridledger.contracts.carbon.factors import factor_for
from gridledger.contracts.carbon.records import Activity
from gridledger.state.state import StateReader, StateWriter, decode_record

_MONTH = re.compile(r"(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])")


def month_bounds(month: str) -> tuple[int, int]:
    """Start and end (exclusive) of ``YYYY-MM`` (ASCII digits, 1970-2999), Unix seconds UTC
    (``ValueError`` if not).

    Only one spelling of a month is accepted, so the month an activity record names is the
    one inventories count it in.
    """
    if _MONTH.fullmatch(month) is None:
        raise ValueError(month)
    year, mon = int(month[:4]), int(month[5:])
    start = dt.datetime(year, mon, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=dt.UTC)
    return int(start.timestamp()), int(end.timestamp())


class ReportActivity(Body):
    id: str
    site: str
    month: str
    fuel: str
    quantity: Int64
    unit: str = ""
    """Required: left out, it is refused as a wrong unit (``carbon.wrong_unit``)."""

    def check(self) -> None:
        registry.check_id(self.id, "activity id")
        if self.quantity <= 0:
            raise InvalidActivity(f"quantity {self.quantity}: a positive integer")
        if not 1 <= len(self.unit) <= 32:
            raise WrongUnit("give the quantity's unit (1-32 characters), e.g. GJ")
        try:
            month_bounds(self.month)
        except ValueError:
            raise InvalidActivity(f"month {self.month!r} is not YYYY-MM") from None


@kind("carbon.report_activity", ReportActivity)
def apply_report_activity(state: StateWriter, ctx: Context, body: ReportActivity) -> None:
    """Report fuel burnt at one of the organisation's sites in a month (scope 1)."""
    org = registry.sender_org(state, ctx)
    site = registry.get_site(state, body.site)
    if site is None:
        raise UnknownSite(f"no registered site {body.site!r}")
    if site.owner_org != org:
        raise ForeignSite(f"site {body.site} belongs to {site.owner_org}, not {org}")
    start, end = month_bounds(body.month)
    if ctx.time_s < end:
        raise InvalidActivity(f"month {body.month} has not ended")
    if state.get(keys.activity(org, body.id)) is not None:
        raise ActivityExists(f"{org} reported activity {body.id} already")
    found = factor_for(state, site.grid_region, start)
    factor = found.set.fuel(body.fuel)
    if factor is None:
        raise UnknownFuel(f"factor set {found.set.id} has no factor for {body.fuel!r}")
    if factor.unit != body.unit:
        raise WrongUnit(f"{body.fuel} is reported in {factor.unit}, not {body.unit}")
    emissions = body.quantity * factor.g_per_unit
    if emissions > 2**63 - 1:
        raise InvalidActivity("the quantity's emissions exceed the 64-bit range")
    state.put(
        keys.activity(org, body.id),
        Activity(
            id=body.id, org=org, site=body.site, month=body.month, fuel=body.fuel,
            quantity=body.quantity, unit=body.unit, emissions_g=emissions, gas=factor.gas,
            factor_set=found.set.id, factor_path=found.path, reported_by=ctx.sender,
            height=ctx.height,
        ),
    )  # fmt: skip
    ctx.emit("carbon.activity_reported", id=body.id, org=org, emissions_g=emissions)


class Verification(Body):
    org: str
    id: str
    note: str | None = None

    def check(self) -> None:
        if self.note is not None and not 1 <= len(self.note) <= 256:
            raise InvalidActivity("a note is 1-256 characters")


def _pending(state: StateReader, ctx: Context, body: Verification) -> Activity:
    found = state.get_record(keys.activity(body.org, body.id), Activity)
    if found is None:
        raise UnknownActivity(f"{body.org} has no activity {body.id!r}")
    if found.status != "reported":
        raise AlreadyVerified(f"activity {body.id} of {body.org} is {found.status}")
    if registry.sender_org(state, ctx) == body.org:
        raise SelfVerification(f"{ctx.sender} is of {body.org}")
    return found


@kind("carbon.confirm_activity", Verification, roles=("carbon_verifier",))
def apply_confirm_activity(state: StateWriter, ctx: Context, body: Verification) -> None:
    """Confirm another organisation's activity data (carbon verifiers)."""
    found = _pending(state, ctx, body)
    found.status = "confirmed"
    found.verifier, found.verifier_note, found.verified_height = ctx.sender, body.note, ctx.height
    state.put(keys.activity(body.org, body.id), found)
    ctx.emit("carbon.activity_confirmed", org=body.org, id=body.id)


@kind("carbon.reject_activity", Verification, roles=("carbon_verifier",))
def apply_reject_activity(state: StateWriter, ctx: Context, body: Verification) -> None:
    """Reject another organisation's activity data with a reason (carbon verifiers)."""
    if body.note is None:
        raise InvalidActivity("a rejection gives its reason in note")
    found = _pending(state, ctx, body)
    found.status = "rejected"
    found.verifier, found.verifier_note, found.verified_height = ctx.sender, body.note, ctx.height
    state.put(keys.activity(body.org, body.id), found)
    ctx.emit("carbon.activity_rejected", org=body.org, id=body.id)


def activities_of(view: StateReader, org: str) -> list[Activity]:
    """The organisation's activity data, by id."""
    return [decode_record(v, Activity) for _, v in view.scan(keys.activities_of(org))]
