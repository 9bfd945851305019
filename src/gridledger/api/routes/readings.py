"""Meter data: readings of a meter, device or site; energy totals; proofs of single readings.

Times are Unix seconds (UTC). Windows are half-open, ``from <= start < to``, and bounded: a
page holds at most :data:`MAX_READINGS_PAGE` readings, totals span at most
:data:`MAX_TOTALS_SPAN_S` over at most :data:`MAX_TOTALS_METERS` meters.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from gridledger.api.context import ApiContext
from gridledger.api.errors import InvalidRequest
from gridledger.api.render import JSONBytes
from gridledger.api.routes.assets import (
    DeviceId,
    MeterId,
    SiteId,
    require_device,
    require_meter,
    require_site,
)
from gridledger.api.routes.state import ProofHeight, proof_view
from gridledger.api.schemas import ERROR_RESPONSES, ReadingPage, ReadingProof, Totals
from gridledger.contracts import metering, registry
from gridledger.state.state import StateReader

MAX_START = metering.keys.MAX_START_S
"""The last second reading keys can hold (ten digits: the year 2286)."""
MAX_READINGS_PAGE = 1000
MAX_TOTALS_METERS = 100
MAX_TOTALS_SPAN_S = 366 * 86_400

From = Annotated[
    int,
    Query(alias="from", ge=0, le=MAX_START, description="First interval start, Unix seconds."),
]
To = Annotated[
    int | None,
    Query(ge=0, le=MAX_START, description="Interval starts before this, Unix seconds."),
]
Limit = Annotated[
    int, Query(ge=1, le=MAX_READINGS_PAGE, description=f"1 to {MAX_READINGS_PAGE} readings.")
]


def _window(start: int, end: int | None) -> None:
    if end is not None and end <= start:
        raise InvalidRequest(f"query.to: {end} must be after from ({start})")


def readings_page(
    view: StateReader, meters: list[str], start: int, end: int | None, limit: int
) -> tuple[list[metering.MeterReading], int | None]:
    """Readings of ``meters`` by (start, meter), at most ``limit`` unless more meters than
    that share one interval, and the ``from`` of the next page.

    A page never splits one interval's readings, so the next page can begin at a start.
    """
    rows = [r for m in meters for r in metering.readings(view, m, start, end, limit + 1)]
    rows.sort(key=lambda r: (r.start_s, r.meter))
    if len(rows) <= limit:
        return rows, None
    cut = rows[limit].start_s
    taken = [r for r in rows[:limit] if r.start_s < cut]
    if taken:
        return taken, cut
    # more meters than a page holds reported this one interval: it comes whole
    taken = [r for r in rows if r.start_s == cut]
    nxt = cut + 1
    return taken, None if end is not None and nxt >= end else nxt


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    r = APIRouter(prefix="/v1", tags=["meter data"])

    def answer(
        owner: dict[str, str], meters: list[str], start: int, end: int | None, limit: int
    ) -> Response:
        _window(start, end)
        found, nxt = readings_page(node.state.view, meters, start, end, limit)
        return JSONBytes({**owner, "meters": meters, "readings": found, "next": nxt})

    @r.get(
        "/meters/{meter}/readings",
        response_model=ReadingPage,
        responses=ERROR_RESPONSES,
        summary="Readings of a meter",
    )
    def meter_readings(
        meter: MeterId, from_: From = 0, to: To = None, limit: Limit = 100
    ) -> Response:
        """Stored readings with ``from <= start < to``, oldest first, each with its
        correction if a grid operator made one. ``next`` is the ``from`` of the next page."""
        require_meter(node.state.view, meter)
        return answer({"meter": meter}, [meter], from_, to, limit)

    @r.get(
        "/devices/{device}/readings",
        response_model=ReadingPage,
        responses=ERROR_RESPONSES,
        summary="Readings of a device's meters",
    )
    def device_readings(
        device: DeviceId, from_: From = 0, to: To = None, limit: Limit = 100
    ) -> Response:
        """The readings of every meter bound to the device, by start and then meter id."""
        view = node.state.view
        require_device(view, device)
        meters = registry.meter_ids_of(view, "device", device)
        return answer({"device": device}, meters, from_, to, limit)

    @r.get(
        "/sites/{site}/readings",
        response_model=ReadingPage,
        responses=ERROR_RESPONSES,
        summary="Readings of a site's meters",
    )
    def site_readings(site: SiteId, from_: From = 0, to: To = None, limit: Limit = 100) -> Response:
        """The readings of every meter bound to the site, by start and then meter id."""
        view = node.state.view
        require_site(view, site)
        return answer({"site": site}, registry.meter_ids_of(view, "site", site), from_, to, limit)

    @r.get(
        "/meters/{meter}/readings/{start}/proof",
        response_model=ReadingProof,
        responses=ERROR_RESPONSES,
        summary="A reading with its Merkle proof",
    )
    def reading_proof(
        meter: MeterId,
        start: Annotated[int, Path(ge=0, le=MAX_START, description="Interval start, Unix s.")],
        height: ProofHeight = None,
    ) -> Response:
        """The state proof of the reading's key against the tip header (or the header of a
        retained ``height``): the reading as stored, or (value null) proof that the meter had
        none for ``start``.

        Check it without a node with :func:`gridledger.sdk.proofs.verify_state_proof`.
        """
        require_meter(node.state.view, meter)
        key = metering.keys.reading(meter, start).decode()
        return JSONBytes({**proof_view(node, key, height), "meter": meter, "start_s": start})

    @r.get("/totals", response_model=Totals, responses=ERROR_RESPONSES, summary="Energy totals")
    def totals(
        from_: Annotated[
            int, Query(alias="from", ge=0, le=MAX_START, description="Unix seconds (UTC).")
        ],
        to: Annotated[int, Query(ge=0, le=MAX_START, description="Unix seconds, exclusive.")],
        meter: Annotated[list[str] | None, Query(description="A meter (repeatable).")] = None,
        device: Annotated[str | None, Query(description="Every meter of this device.")] = None,
        site: Annotated[str | None, Query(description="Every meter of this site.")] = None,
        interval: Annotated[
            int, Query(description="Bucket length: 900, 3600 or 86400 seconds.")
        ] = 3600,
    ) -> Response:
        """Energy per aligned bucket of ``interval`` seconds over some meters, the meters of
        a device or those of a site, corrections applied; buckets without readings are left
        out. Give exactly one of ``meter``, ``device`` and ``site``."""
        view = node.state.view
        _window(from_, to)
        if to - from_ > MAX_TOTALS_SPAN_S:
            raise InvalidRequest(f"query.to: totals span at most {MAX_TOTALS_SPAN_S} s (366 days)")
        if interval not in registry.INTERVALS_S:
            raise InvalidRequest("query.interval: 900, 3600 or 86400 seconds")
        meters = _selected(view, meter or [], device, site)
        buckets = metering.totals(view, meters, from_, to, interval)
        return JSONBytes(
            {
                "meters": meters,
                "from": from_,
                "to": to,
                "interval_s": interval,
                "totals": buckets,
                "energy_wh": sum(b.energy_wh for b in buckets),
            }
        )

    return r


def _selected(
    view: StateReader, meters: list[str], device: str | None, site: str | None
) -> list[str]:
    """The meters a totals query names, after checking that they exist."""
    if sum((bool(meters), device is not None, site is not None)) != 1:
        raise InvalidRequest("give exactly one of meter (repeatable), device and site")
    for given in [*meters, *(x for x in (device, site) if x is not None)]:
        if not registry.ID_RE.match(given):
            raise InvalidRequest(f"query: {given!r} is not an id (1-64 of a-z 0-9 . _ -)")
    if device is not None:
        require_device(view, device)
        chosen = registry.meter_ids_of(view, "device", device)
    elif site is not None:
        require_site(view, site)
        chosen = registry.meter_ids_of(view, "site", site)
    else:
        chosen = sorted(set(meters))
        for m in chosen:
            require_meter(view, m)
    if len(chosen) > MAX_TOTALS_METERS:
        raise InvalidRequest(f"totals cover at most {MAX_TOTALS_METERS} meters; split the query")
    return chosen
