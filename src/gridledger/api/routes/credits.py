"""Carbon credits and allowances: the credit registry (projects, their verified monitoring
periods, serial blocks, holdings, retirements) and the compliance periods of the allowance
system with each holder's compliance status.

Everything is read from the committed state through the ``credits`` and ``allowances``
contracts' queries; every action is a transaction (``POST /v1/txs``, kinds ``credits.*`` and
``allowances.*``). The rules are in ``docs/credits.md``. Credits and allowances are whole
tonnes (``_t``), emissions and reductions grams (``_g``), times Unix seconds UTC. An unknown
project, serial, retirement or period is ``404 not_found``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from gridledger.api.context import ApiContext
from gridledger.api.render import JSONBytes
from gridledger.api.schemas import ERROR_RESPONSES, extend, model_of
from gridledger.contracts import allowances, credits, registry
from gridledger.core.errors import NotFound

ID = registry.ID_RE.pattern
SERIAL = r"^[A-Z]{2,8}-[A-Z]{2,8}-[A-Z]{2}-\d{1,8}-\d{8}-\d{8}-\d{1,12}-\d{1,12}-\d{1,12}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


ProjectModel = model_of(credits.Project, "CreditProject")
PeriodModel = model_of(credits.MonitoringPeriod)
TotalsModel = model_of(credits.ProjectTotals)
RetirementModel = model_of(credits.Retirement, "CreditRetirement")
BlockModel = extend(
    credits.SerialBlock,
    "SerialBlockView",
    "A serial block with its serial and size.",
    serial=(str, Field(description="The block's serial.")),
    quantity_t=(int, Field(description="Its size, tonnes (last - first + 1).")),
)
CompliancePeriodModel = model_of(allowances.CompliancePeriod)
StatusModel = model_of(allowances.ComplianceStatus)


class ProjectList(_Strict):
    projects: list[ProjectModel] = Field(description="By id.")  # type: ignore[valid-type]


class ProjectView(_Strict):
    project: ProjectModel  # type: ignore[valid-type]
    periods: list[PeriodModel] = Field(  # type: ignore[valid-type]
        description="Its verified monitoring periods, by id."
    )
    totals: TotalsModel = Field(description="Its tonnes by state.")  # type: ignore[valid-type]


class BlockList(_Strict):
    blocks: list[BlockModel] = Field(description="In serial order.")  # type: ignore[valid-type]


class RetirementList(_Strict):
    retirements: list[RetirementModel] = Field(  # type: ignore[valid-type]
        description="In the order they were recorded."
    )


class PeriodList(_Strict):
    periods: list[CompliancePeriodModel] = Field(description="By id.")  # type: ignore[valid-type]


class PeriodView(_Strict):
    period: CompliancePeriodModel  # type: ignore[valid-type]
    balances: dict[str, int] = Field(description="Allowances of its vintage held, by account.")


class StatusList(_Strict):
    time_s: int = Field(description="The latest block's time the statuses are at.")
    statuses: list[StatusModel] = Field(description="By holder.")  # type: ignore[valid-type]


def block_view(block: credits.SerialBlock) -> dict[str, Any]:
    row: dict[str, Any] = msgspec.to_builtins(block)
    row["serial"] = block.serial()
    row["quantity_t"] = block.quantity_t
    return row


def block_list(found: list[credits.SerialBlock]) -> Response:
    """A :class:`BlockList` answer."""
    return JSONBytes({"blocks": [block_view(b) for b in found]})


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    r = APIRouter(tags=["credits"])

    @r.get(
        "/v1/credits/projects",
        response_model=ProjectList,
        responses=ERROR_RESPONSES,
        summary="Credit projects",
    )
    def list_projects(
        org: Annotated[
            str | None, Query(pattern=ID, description="Only this organisation's.")
        ] = None,
    ) -> Response:
        """Every registered project (of ``org``), by id: plant, methodology, baseline,
        monitoring plan and the tonnes verified and issued."""
        return JSONBytes({"projects": credits.list_projects(node.state.view, org=org).items})

    @r.get(
        "/v1/credits/projects/{project}",
        response_model=ProjectView,
        responses=ERROR_RESPONSES,
        summary="A credit project",
    )
    def get_project(
        project: Annotated[str, Path(pattern=ID, description="The project's id.")],
    ) -> Response:
        """One project with its verified monitoring periods (month by month: metered,
        certified and credited Wh, the factor and the reduction) and its tonnes by state."""
        view = node.state.view
        found = credits.get_project(view, project)
        if found is None:
            raise NotFound(f"no project {project!r}")
        return JSONBytes(
            {
                "project": found,
                "periods": credits.periods_of(view, project),
                "totals": credits.project_totals(view, project),
            }
        )

    @r.get(
        "/v1/credits/projects/{project}/blocks",
        response_model=BlockList,
        responses=ERROR_RESPONSES,
        summary="A project's serial blocks",
    )
    def project_blocks(
        project: Annotated[str, Path(pattern=ID, description="The project's id.")],
    ) -> Response:
        """Every serial block of the project, in serial order, in whatever state."""
        view = node.state.view
        if credits.get_project(view, project) is None:
            raise NotFound(f"no project {project!r}")
        return block_list(credits.blocks_of_project(view, project))

    @r.get(
        "/v1/credits/holdings",
        response_model=BlockList,
        responses=ERROR_RESPONSES,
        summary="The credits an account holds",
    )
    def holdings(
        account: Annotated[str, Query(pattern=ID, description="The account's id.")],
    ) -> Response:
        """The active blocks ``account`` holds, by project and serial."""
        return block_list(credits.held_by(node.state.view, account))

    @r.get(
        "/v1/credits/serials/{serial}",
        response_model=BlockList,
        responses=ERROR_RESPONSES,
        summary="Look a serial up",
    )
    def serial(
        serial: Annotated[str, Path(pattern=SERIAL, description="A block's serial.")],
    ) -> Response:
        """The blocks now holding the units a serial names: the block itself, or its parts if
        it was split, transferred in part or retired in part since."""
        found = credits.lookup_serial(node.state.view, serial)
        if not found:
            raise NotFound(f"no credits have serial {serial}")
        return block_list(found)

    @r.get(
        "/v1/credits/retirements",
        response_model=RetirementList,
        responses=ERROR_RESPONSES,
        summary="Retirements",
    )
    def retirements(
        beneficiary: Annotated[
            str | None,
            Query(min_length=1, max_length=128, description="Only for this beneficiary."),
        ] = None,
        project: Annotated[
            str | None, Query(pattern=ID, description="Only of this project.")
        ] = None,
    ) -> Response:
        """Every retirement, in the order recorded: serial, tonnes, holder, beneficiary,
        reason, claim period, and the compliance period for credits surrendered."""
        found = credits.list_retirements(node.state.view, beneficiary, project)
        return JSONBytes({"retirements": found})

    @r.get(
        "/v1/credits/retirements/{n}",
        response_model=RetirementModel,
        responses=ERROR_RESPONSES,
        summary="A retirement",
    )
    def retirement(
        n: Annotated[int, Path(ge=1, le=2**62, description="The retirement's number.")],
    ) -> Response:
        """One retirement by its number."""
        found = credits.get_retirement(node.state.view, n)
        if found is None:
            raise NotFound(f"no retirement {n}")
        return JSONBytes(found)

    @r.get(
        "/v1/allowances/periods",
        response_model=PeriodList,
        responses=ERROR_RESPONSES,
        summary="Compliance periods",
    )
    def periods() -> Response:
        """Every compliance period: its emissions period, deadline, credit quota, banking
        rule and the allowances allocated and surrendered."""
        return JSONBytes({"periods": allowances.list_periods(node.state.view)})

    @r.get(
        "/v1/allowances/periods/{period}",
        response_model=PeriodView,
        responses=ERROR_RESPONSES,
        summary="A compliance period",
    )
    def period(
        period: Annotated[str, Path(pattern=ID, description="The period's id.")],
    ) -> Response:
        """One compliance period and the allowances of its vintage each account holds."""
        view = node.state.view
        found = allowances.get_period(view, period)
        if found is None:
            raise NotFound(f"no compliance period {period!r}")
        return JSONBytes({"period": found, "balances": allowances.balances(view, period)})

    @r.get(
        "/v1/allowances/compliance",
        response_model=StatusList,
        responses=ERROR_RESPONSES,
        summary="Compliance status",
    )
    def compliance(
        period: Annotated[str, Query(pattern=ID, description="The compliance period.")],
        holder: Annotated[str | None, Query(pattern=ID, description="Only this holder.")] = None,
    ) -> Response:
        """Where each holder with verified emissions (or ``holder``) stands at the latest
        block: obligation, allowances and credits surrendered, the credit limit, what is
        still owed, and the status (no_emissions, open, compliant, non_compliant)."""
        view = node.state.view
        time_s = node.tip.time // 1000
        if allowances.get_period(view, period) is None:
            raise NotFound(f"no compliance period {period!r}")
        found = (
            allowances.statuses(view, period, time_s)
            if holder is None
            else [allowances.status(view, period, holder, time_s)]
        )
        return JSONBytes({"time_s": time_s, "statuses": found})

    return r
