"""Reading the credit registry: projects, their periods and blocks, holdings, serial lookup,
retirements, and a project's totals by state."""

from __future__ import annotations

from collections.abc import Iterable

from gridledger.contracts.base import Page, Record, page_of
from gridledger.contracts.credits import keys
from gridledger.contracts.credits.blocks import block_of_unit, get_block, parse_serial
from gridledger.contracts.credits.projects import get_project
from gridledger.contracts.credits.records import Project, Retirement, SerialBlock
from gridledger.state.state import StateReader, decode_record


class ProjectTotals(Record):
    """A project's tonnes by state, summed over its blocks.

    Attributes:
        project: The project's id.
        issued_t: Every unit issued.
        active_t: Held by accounts.
        locked_t: Offered in open exchange sell orders.
        buffer_t: In the buffer pool.
        retired_t: Retired.
        cancelled_t: Cancelled.
    """

    project: str
    issued_t: int
    active_t: int
    buffer_t: int
    retired_t: int
    cancelled_t: int
    locked_t: int = 0


def list_projects(view: StateReader, after: str | None = None, limit: int | None = None,
                  org: str | None = None) -> Page[Project]:  # fmt: skip
    """Projects in id order (of one organisation when ``org`` is given, through the index of
    projects by organisation: :data:`gridledger.contracts.layout.FIELD_INDEXES`)."""
    if org is None:
        return page_of(view, keys.projects(), Project, after, limit)
    start = b"" if after is None else after.encode() + b"\x00"
    bound = None if limit is None else limit + 1
    found = [
        decode_record(raw, Project)
        for _, raw in view.scan_where(keys.projects(), "org", org, start, bound)
    ]
    if limit is not None and len(found) > limit:
        return Page(found[:limit], found[limit - 1].id)
    return Page(found, None)


def blocks_page(view: StateReader, project_id: str, after: int | None = None,
                limit: int | None = None) -> list[SerialBlock]:  # fmt: skip
    """The project's blocks in serial order whose first unit is above ``after``, at most
    ``limit`` (unknown project: none): a page of a registry listing."""
    found = get_project(view, project_id)
    if found is None:
        return []
    start = b"" if after is None else keys.unit_part(after + 1)
    pairs = view.scan_range(keys.blocks_of(found.number), start, limit=limit)
    return [decode_record(v, SerialBlock) for _, v in pairs]


def blocks_of_project(view: StateReader, project_id: str) -> list[SerialBlock]:
    """Every block of the project, in serial order (unknown project: none)."""
    found = get_project(view, project_id)
    if found is None:
        return []
    return [decode_record(v, SerialBlock) for _, v in view.scan(keys.blocks_of(found.number))]


def held_by(view: StateReader, account: str) -> list[SerialBlock]:
    """The active blocks ``account`` holds, by project number and serial."""
    prefix = keys.held_by(account)
    out = []
    for k, _ in view.scan(prefix):
        number, first = k[len(prefix) :].split(b"/")
        block = get_block(view, int(number), int(first))
        if block is not None:
            out.append(block)
    return out


def lookup_serial(view: StateReader, serial: str) -> list[SerialBlock]:
    """The blocks now holding the units a serial (of any block, past or present) names, in
    order: one block if it is unchanged, its parts if it was split since; none if the serial
    is not one or names no issued unit."""
    try:
        number, first, last = parse_serial(serial)
    except ValueError:
        return []
    out: list[SerialBlock] = []
    unit = first
    while unit <= last:
        block = block_of_unit(view, number, unit)
        if block is None:
            break
        out.append(block)
        unit = block.last + 1
    return out


def get_retirement(view: StateReader, n: int) -> Retirement | None:
    return view.get_record(keys.retirement(n), Retirement)


def list_retirements(view: StateReader, beneficiary: str | None = None,
                     project: str | None = None, after: int | None = None,
                     limit: int | None = None) -> list[Retirement]:  # fmt: skip
    """Retirements in the order recorded (numbered after ``after``, at most ``limit``),
    filtered by beneficiary or project.

    A filtered listing reads the matching retirements only, through the indexes of
    retirements by beneficiary and by project
    (:data:`gridledger.contracts.layout.FIELD_INDEXES`), never every retirement."""
    prefix = keys.retirements()
    start = b"" if after is None else keys.retirement_part(after + 1)
    pairs: Iterable[tuple[bytes, bytes]]
    if beneficiary is not None:
        # the rarer field first; the other filters the (few) matches
        pairs = view.scan_where(prefix, "beneficiary", beneficiary, start)
    elif project is not None:
        pairs = view.scan_where(prefix, "project", project, start)
    else:
        pairs = view.scan_range(prefix, start)
    out: list[Retirement] = []
    for _, raw in pairs:
        if limit is not None and len(out) == limit:
            break
        r = decode_record(raw, Retirement)
        if project is None or r.project == project:
            out.append(r)
    return out


def retirement_count(view: StateReader) -> int:
    """How many retirements were recorded (the number of the last)."""
    return view.get_int(keys.retirement_count())


def project_totals(view: StateReader, project_id: str) -> ProjectTotals:
    """The project's tonnes by state (zeros for an unknown project)."""
    sums = {"active": 0, "buffer": 0, "locked": 0, "retired": 0, "cancelled": 0}
    for block in blocks_of_project(view, project_id):
        sums[block.status] += block.quantity_t
    return ProjectTotals(
        project=project_id, issued_t=sum(sums.values()), active_t=sums["active"],
        buffer_t=sums["buffer"], retired_t=sums["retired"], cancelled_t=sums["cancelled"],
        locked_t=sums["locked"],
    )  # fmt: skip
