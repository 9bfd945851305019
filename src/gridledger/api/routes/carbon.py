"""Carbon accounting: the factor sets in force, the factor lookup, inventories, reports and
scope 1 activity data.

Factor sets, the region map and activity data are read from the committed state through the
carbon contract's queries; inventories and reports add the carbon read model's monthly totals
(:mod:`gridledger.readmodels.carbon`), so no query reads raw readings. Every action is a
transaction (``POST /v1/txs``, kinds ``carbon.*``). The rules are in ``docs/carbon.md``.

Periods are whole months, ``start`` and ``end`` as ``YYYY-MM`` (both inclusive); a report's
last month must have ended by the latest block's time (``carbon.period_open``), an inventory's
need not. Emissions are in grams of the factors' gas (``_g``), energy in Wh, times in Unix
seconds UTC. An unknown organisation or site is ``404 not_found``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from gridledger.api.context import ApiContext
from gridledger.api.errors import InvalidRequest
from gridledger.api.render import JSONBytes
from gridledger.api.routes.assets import require_organisation, require_site
from gridledger.api.routes.readings import MAX_START
from gridledger.api.schemas import ERROR_RESPONSES, model_of
from gridledger.contracts import carbon, registry
from gridledger.contracts.carbon import keys
from gridledger.core.errors import NotFound
from gridledger.documents import carbon_report
from gridledger.documents.carbon_report import Block, CarbonReport, GhgReport
from gridledger.readmodels import carbon_inventory
from gridledger.readmodels.carbon_inventory import Inventory
from gridledger.state.state import StateReader, decode_record

MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
REGION = r"^[A-Z]{2}[A-Za-z0-9_.-]{0,30}$"
SET_ID = r"^[^/\x00]{1,64}$"

OrgQ = Annotated[
    str | None, Query(pattern=registry.ID_RE.pattern, description="The organisation's id.")
]
SiteQ = Annotated[str | None, Query(pattern=registry.ID_RE.pattern, description="A site's id.")]
StartQ = Annotated[str, Query(pattern=MONTH, description="First month, YYYY-MM (UTC).")]
EndQ = Annotated[str, Query(pattern=MONTH, description="Last month, YYYY-MM (inclusive).")]
RegionQ = Annotated[
    str,
    Query(pattern=REGION, description="A grid region: a country (CN), CN-SOUTH or CN-GD."),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


FactorSetModel = model_of(carbon.FactorSet)
ActivityModel = model_of(carbon.Activity, "CarbonActivity")


class FactorSetView(FactorSetModel):  # type: ignore[misc,valid-type]
    """A factor set as recorded, and whether it is in force at the latest block's time."""

    in_force: bool = Field(description="start_s <= the latest block's time < end_s.")


class FactorSetList(_Strict):
    time_s: int = Field(description="The latest block's time, Unix seconds.")
    factor_sets: list[FactorSetView] = Field(description="By region, then start.")
    region_map: dict[str, str] = Field(
        description="Regional grid by province: the lookup's fallback (province -> regional "
        "grid -> country)."
    )


class FactorLookupView(_Strict):
    region: str = Field(description="The region asked for.")
    time_s: int = Field(description="The time asked for, Unix seconds.")
    set: FactorSetModel = Field(description="The set in force.")  # type: ignore[valid-type]
    path: list[str] = Field(description="The regions tried, the last one answered.")
    fallback: bool = Field(description="Whether the answer came from another region.")


class ActivityList(_Strict):
    org: str
    activities: list[ActivityModel] = Field(  # type: ignore[valid-type]
        description="By id: reported, confirmed or rejected."
    )


InventoryModel = model_of(Inventory, "CarbonInventory")
ReportModel = model_of(CarbonReport)
GhgModel = model_of(GhgReport)


def factor_set_views(view: StateReader, time_s: int, region: str | None) -> list[dict[str, object]]:
    """Every recorded factor set (of ``region``) by region then start, with ``in_force`` at
    ``time_s``."""
    prefix = keys.factor_sets() if region is None else keys.factor_sets_of(region)
    found = sorted(
        (decode_record(raw, carbon.FactorSet) for _, raw in view.scan(prefix)),
        key=lambda s: (s.region, s.start_s),
    )
    out: list[dict[str, object]] = []
    for record in found:
        row = msgspec.to_builtins(record)
        row["in_force"] = record.start_s <= time_s < record.end_s
        out.append(row)
    return out


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    r = APIRouter(prefix="/v1/carbon", tags=["carbon"])

    def now_s() -> int:
        return node.tip.time // 1000

    @r.get(
        "/factor-sets",
        response_model=FactorSetList,
        responses=ERROR_RESPONSES,
        summary="Emission factor sets",
    )
    def list_factor_sets(
        region: Annotated[
            str | None, Query(pattern=REGION, description="Only this region's sets.")
        ] = None,
    ) -> Response:
        """Every factor set regulators recorded (``carbon.record_factor_set``), by region then
        start, each with its electricity and fuel factors and their sources and whether it is
        in force now; and the region map the lookup falls back along."""
        view = node.state.view
        time_s = now_s()
        return JSONBytes(
            {
                "time_s": time_s,
                "factor_sets": factor_set_views(view, time_s, region),
                "region_map": carbon.region_map(view).provinces,
            }
        )

    @r.get(
        "/factor-sets/{set_id}",
        response_model=FactorSetModel,
        responses=ERROR_RESPONSES,
        summary="An emission factor set",
    )
    def get_factor_set(
        set_id: Annotated[str, Path(pattern=SET_ID, description="The set's id.")],
    ) -> Response:
        """One factor set by its id: region, period, gas, grid-average and residual-mix
        factors, fuel factors, each with its source; who recorded it and when."""
        found = carbon.get_set(node.state.view, set_id)
        if found is None:
            raise NotFound(f"no factor set {set_id!r}")
        return JSONBytes(found)

    @r.get(
        "/lookup",
        response_model=FactorLookupView,
        responses=ERROR_RESPONSES,
        summary="The factor set for a region and time",
    )
    def lookup(
        region: RegionQ,
        time: Annotated[int, Query(ge=0, le=MAX_START, description="Unix seconds UTC.")],
    ) -> Response:
        """The set in force for ``region`` at ``time`` as every figure finds it: the region's
        own, else its regional grid's (by the region map), else its country's; with the path
        tried. None on the path: ``400 carbon.no_factor``."""
        found = carbon.factor_for(node.state.view, region, time)
        return JSONBytes(
            {"region": region, "time_s": time, "set": found.set, "path": found.path,
             "fallback": found.fallback}
        )  # fmt: skip

    @r.get(
        "/inventory",
        response_model=InventoryModel,
        responses=ERROR_RESPONSES,
        summary="A carbon inventory",
    )
    def inventory(start: StartQ, end: EndQ, org: OrgQ = None, site: SiteQ = None) -> Response:
        """The inventory of an organisation (``org``) or a site (``site``; exactly one) over
        the months ``start`` .. ``end``: scope 1 (confirmed and reported), scope 2
        location-based and market-based (annual and hourly matching), avoided emissions, per
        site, plant and month, with every factor used and every fallback. A month may still
        be open. Refusals: ``carbon.bad_period`` (1-120 months, start first),
        ``carbon.no_factor``, ``carbon.mixed_gas``."""
        if (org is None) == (site is None):
            raise InvalidRequest("query: give exactly one of org and site")
        view = node.state.view
        conn = node.readmodels.reader()
        if org is not None:
            require_organisation(view, org)
            return JSONBytes(carbon_inventory.org_inventory(conn, view, org, start, end))
        assert site is not None
        require_site(view, site)
        return JSONBytes(carbon_inventory.site_inventory(conn, view, site, start, end))

    @r.get(
        "/report",
        response_model=ReportModel,
        response_class=Response,
        responses={
            200: {
                "content": {
                    "application/json": {},
                    "text/csv": {},
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                },
                "description": "The report: JSON (this schema), GHG Protocol layout (JSON), "
                "CSV or PDF.",
            },
            **ERROR_RESPONSES,
        },
        summary="An organisation's carbon report",
    )
    def report(
        org: Annotated[
            str, Query(pattern=registry.ID_RE.pattern, description="The organisation's id.")
        ],
        start: StartQ,
        end: EndQ,
        format: Annotated[
            carbon_report.Format,
            Query(description="json (the report), csv, ghg (GHG Protocol layout, JSON), pdf."),
        ] = "json",
        lang: Annotated[
            Literal["en", "zh"], Query(description="The PDF's language: en or zh.")
        ] = "en",
    ) -> Response:
        """The organisation's report over the months ``start`` .. ``end``, computed at the
        latest block: both scope 2 methods, scope 1, avoided emissions, the factors and their
        sources, fallbacks, the certificates claimed and the data's quality. The last month
        must have ended by the latest block's time (``400 carbon.period_open``)."""
        view = node.state.view
        tip = node.tip
        block = Block(
            chain_id=node.chain_id,
            height=tip.height,
            time_s=tip.time // 1000,
            block_hash=tip.hash().hex(),
            state_root=tip.state_root,
        )
        require_organisation(view, org)
        found = carbon_report.carbon_report(node.readmodels.reader(), view, org, start, end, block)
        name = f"carbon-{org}-{start}-{end}"
        if format == "json":
            return JSONBytes(found)
        if format == "ghg":
            return JSONBytes(
                carbon_report.ghg_layout(found),
                headers={"Content-Disposition": f'inline; filename="{name}-ghg.json"'},
            )
        if format == "csv":
            return Response(
                carbon_report.report_csv(found),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
            )
        return Response(
            carbon_report.render_report_pdf(found, lang),
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{name}-{lang}.pdf"'},
        )

    @r.get(
        "/activities",
        response_model=ActivityList,
        responses=ERROR_RESPONSES,
        summary="An organisation's scope 1 activity data",
    )
    def activities(
        org: Annotated[
            str, Query(pattern=registry.ID_RE.pattern, description="The organisation's id.")
        ],
    ) -> Response:
        """The fuel quantities the organisation reported (``carbon.report_activity``), by id,
        each with its emissions, the factor set and path used, and its status: reported,
        confirmed or rejected by a carbon verifier (with the verifier's note)."""
        view = node.state.view
        require_organisation(view, org)
        found = carbon.activities_of(view, org)
        # every field present: a stored record leaves out its defaults (status "reported")
        return JSONBytes({"org": org, "activities": [msgspec.structs.asdict(a) for a in found]})

    return r
