"""``credits.issue`` (carbon verifier of another organisation): ``{"project", "period",
"quantity_t"?, "first"?}``.

Issues ``quantity_t`` (by default all that is left) of a verified monitoring period's whole
tonnes as one batch: the project's next units, numbered on from its last (units are never
reused, so blocks never overlap). The buffer share (``buffer_ppm`` of the quantity, rounded
down) is set aside as a block of its own in the buffer pool, held by nobody; the rest goes to
the project's owner account. ``first``, when given, must be the unit the batch starts at:
a request for units issued before is refused (``credits.serial_overlap``), one that would
leave a gap too (``credits.serial_gap``). The tonnes issued for a period never exceed its
``verified_t`` (``credits.exceeds_verified``).
"""

from __future__ import annotations

import datetime as dt

from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.credits import keys
from gridledger.contracts.credits.blocks import store
from gridledger.contracts.credits.errors import (
    BadQuantity,
    ExceedsVerified,
    SerialGap,
    SerialOverlap,
    UnknownPeriod,
)
from gridledger.contracts.credits.projects import not_own, params, require_project
from gridledger.contracts.credits.records import MonitoringPeriod, SerialBlock
from gridledger.state.state import StateWriter

PPM = 1_000_000


class Issue(Body):
    project: str
    period: str
    quantity_t: Int64 | None = None
    first: Int64 | None = None

    def check(self) -> None:
        if self.quantity_t is not None and self.quantity_t <= 0:
            raise BadQuantity(f"quantity_t {self.quantity_t}: a positive number of tonnes")


def _day(time_s: int) -> str:
    return dt.datetime.fromtimestamp(time_s, dt.UTC).strftime("%Y%m%d")


@kind("credits.issue", Issue, roles=("carbon_verifier",))
def apply_issue(state: StateWriter, ctx: Context, body: Issue) -> None:
    """Issue credits for a verified monitoring period, in a new serial batch (carbon
    verifiers)."""
    project = require_project(state, body.project)
    not_own(state, ctx, project)
    period = state.get_record(keys.period(project.id, body.period), MonitoringPeriod)
    if period is None:
        raise UnknownPeriod(f"{project.id} has no verified period {body.period!r}")
    left = period.verified_t - period.issued_t
    quantity = left if body.quantity_t is None else body.quantity_t
    if quantity <= 0 or quantity > left:
        raise ExceedsVerified(
            f"{period.id} verified {period.verified_t} t, issued {period.issued_t} t: "
            f"{max(left, 0)} t left"
        )
    first = project.last_unit + 1
    if body.first is not None and body.first < first:
        raise SerialOverlap(f"units up to {project.last_unit} of {project.id} were issued")
    if body.first is not None and body.first > first:
        raise SerialGap(f"the next unit of {project.id} is {first}, not {body.first}")
    buffer = quantity * params(state).buffer_ppm // PPM
    batch = project.batches + 1
    last = first + quantity - 1

    def made(lo: int, hi: int, holder: str | None) -> SerialBlock:
        return SerialBlock(
            project=project.id, number=project.number, country=project.country,
            period=period.id, vintage_start=_day(period.start_s),
            vintage_end=_day(period.end_s - 1), batch=batch, first=lo, last=hi,
            gas=period.gas, status="buffer" if holder is None else "active", holder=holder,
            issued_height=ctx.height,
        )  # fmt: skip

    if quantity > buffer:
        store(state, made(first, last - buffer, project.owner), None)
    if buffer:
        store(state, made(last - buffer + 1, last, None), None)
    period.issued_t += quantity
    state.put(keys.period(project.id, period.id), period)
    project.issued_t += quantity
    project.buffer_t += buffer
    project.batches = batch
    project.last_unit = last
    state.put(keys.project(project.id), project)
    ctx.emit("credits.issued", project=project.id, batch=batch, first=first, last=last,
             buffer_t=buffer, to=project.owner)  # fmt: skip
