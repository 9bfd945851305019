"""The registry of assets: generation devices, consumption sites and their meters.

Every answer comes from the committed state (``node.state.view``), never from a block that
is still executing. Devices and sites carry the ids of their meters, found in one pass over
the meters per request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from gridledger.api.context import ApiContext
from gridledger.api.render import JSONBytes, decode_stored
from gridledger.api.schemas import (
    ERROR_RESPONSES,
    Device,
    DevicePage,
    Meter,
    MeterPage,
    Site,
    SitePage,
)
from gridledger.contracts import registry
from gridledger.core.errors import NotFound
from gridledger.state.state import StateReader

MAX_PAGE = 1000

Record = Literal["device", "site", "meter"]

DeviceId = Annotated[
    str, Path(pattern=registry.ID_RE.pattern, description="Device id: 1-64 of a-z 0-9 . _ -")
]
SiteId = Annotated[
    str, Path(pattern=registry.ID_RE.pattern, description="Site id: 1-64 of a-z 0-9 . _ -")
]
MeterId = Annotated[
    str, Path(pattern=registry.ID_RE.pattern, description="Meter id: 1-64 of a-z 0-9 . _ -")
]
After = Annotated[str | None, Query(description="Start after this id (paging).")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"1 to {MAX_PAGE} per page.")]


def _prefix(what: Record) -> bytes:
    return f"registry/{what}/".encode()


def get_record(view: StateReader, what: Record, record_id: str) -> dict[str, Any]:
    """One device, site or meter record; :class:`NotFound` when there is none."""
    raw = view.get(_prefix(what) + record_id.encode())
    if raw is None:
        raise NotFound(f"no {what} {record_id!r}")
    record: dict[str, Any] = decode_stored(raw, f"{what} record")
    return record


def meters_by_owner(view: StateReader, what: Literal["device", "site"]) -> dict[str, list[str]]:
    """Device (or site) id -> ids of the meters bound to it, in id order (one pass)."""
    out: dict[str, list[str]] = {}
    for _, raw in view.scan(_prefix("meter")):
        meter = decode_stored(raw, "meter record")
        if what in meter:
            out.setdefault(meter[what], []).append(meter["id"])
    return out


def bound_meters(view: StateReader, what: Literal["device", "site"], record_id: str) -> list[str]:
    """Ids of the meters bound to a device or a site, in id order."""
    return meters_by_owner(view, what).get(record_id, [])


def page(
    view: StateReader,
    what: Record,
    after: str | None,
    limit: int,
    keep: Callable[[dict[str, Any]], bool],
) -> tuple[list[dict[str, Any]], str | None]:
    """Records in id order after ``after`` that ``keep`` accepts, at most ``limit``, and the
    ``after`` of the next page (``None`` after the last)."""
    # ids never hold a NUL byte, so "after + NUL" is the first key past "after"
    start = b"" if after is None else after.encode() + b"\x00"
    out: list[dict[str, Any]] = []
    for _, raw in view.scan_range(_prefix(what), start):
        record = decode_stored(raw, f"{what} record")
        if not keep(record):
            continue
        if len(out) == limit:
            return out, str(out[-1]["id"])
        out.append(record)
    return out, None


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    r = APIRouter(prefix="/v1", tags=["assets"])

    def with_meters(what: Literal["device", "site"], records: list[dict[str, Any]]) -> list[Any]:
        owners = meters_by_owner(node.state.view, what)
        return [{**rec, "meters": owners.get(rec["id"], [])} for rec in records]

    @r.get("/devices", response_model=DevicePage, responses=ERROR_RESPONSES, summary="Devices")
    def list_devices(
        owner_org: Annotated[str | None, Query(description="Only this organisation's.")] = None,
        technology: Annotated[str | None, Query(description="Only this technology.")] = None,
        after: After = None,
        limit: Limit = 100,
    ) -> Response:
        """Generation devices in id order, each with its meters; ``next`` pages on."""
        found, nxt = page(
            node.state.view,
            "device",
            after,
            limit,
            lambda d: (
                (owner_org is None or d["owner_org"] == owner_org)
                and (technology is None or d["technology"] == technology)
            ),
        )
        return JSONBytes({"devices": with_meters("device", found), "next": nxt})

    @r.get(
        "/devices/{device}", response_model=Device, responses=ERROR_RESPONSES, summary="A device"
    )
    def get_device(device: DeviceId) -> Response:
        """A device's registry record and the ids of the meters bound to it."""
        record = get_record(node.state.view, "device", device)
        return JSONBytes(with_meters("device", [record])[0])

    @r.get("/sites", response_model=SitePage, responses=ERROR_RESPONSES, summary="Sites")
    def list_sites(
        owner_org: Annotated[str | None, Query(description="Only this organisation's.")] = None,
        after: After = None,
        limit: Limit = 100,
    ) -> Response:
        """Consumption sites in id order, each with its meters; ``next`` pages on."""
        found, nxt = page(
            node.state.view,
            "site",
            after,
            limit,
            lambda s: owner_org is None or s["owner_org"] == owner_org,
        )
        return JSONBytes({"sites": with_meters("site", found), "next": nxt})

    @r.get("/sites/{site}", response_model=Site, responses=ERROR_RESPONSES, summary="A site")
    def get_site(site: SiteId) -> Response:
        """A site's registry record and the ids of the meters bound to it."""
        record = get_record(node.state.view, "site", site)
        return JSONBytes(with_meters("site", [record])[0])

    @r.get("/meters", response_model=MeterPage, responses=ERROR_RESPONSES, summary="Meters")
    def list_meters(
        device: Annotated[str | None, Query(description="Only meters of this device.")] = None,
        site: Annotated[str | None, Query(description="Only meters of this site.")] = None,
        gateway: Annotated[str | None, Query(description="Only meters it reports.")] = None,
        after: After = None,
        limit: Limit = 100,
    ) -> Response:
        """Meters in id order, optionally of one device, site or gateway."""
        found, nxt = page(
            node.state.view,
            "meter",
            after,
            limit,
            lambda m: (
                (device is None or m.get("device") == device)
                and (site is None or m.get("site") == site)
                and (gateway is None or m["gateway"] == gateway)
            ),
        )
        return JSONBytes({"meters": found, "next": nxt})

    @r.get("/meters/{meter}", response_model=Meter, responses=ERROR_RESPONSES, summary="A meter")
    def get_meter(meter: MeterId) -> Response:
        """A meter's registry record: kind, device or site, gateway and interval."""
        return JSONBytes(get_record(node.state.view, "meter", meter))

    return r
