"""The registry of assets: generation devices, consumption sites and their meters.

Every answer comes from the committed state (``node.state.view``), never from a block that
is still executing, through the registry's queries. Devices and sites carry the ids of their
meters, read from the registry's index of each one's meters.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec
from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from gridledger.api.context import ApiContext
from gridledger.api.render import JSONBytes
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
R = TypeVar("R")

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


def found(record: R | None, what: str, record_id: str) -> R:
    """``record``, or :class:`NotFound` naming the ``what`` that is not there."""
    if record is None:
        raise NotFound(f"no {what} {record_id!r}")
    return record


def require_device(view: StateReader, device: str) -> registry.Device:
    return found(registry.get_device(view, device), "device", device)


def require_site(view: StateReader, site: str) -> registry.Site:
    return found(registry.get_site(view, site), "site", site)


def require_meter(view: StateReader, meter: str) -> registry.Meter:
    return found(registry.get_meter(view, meter), "meter", meter)


def require_account(view: StateReader, account: str) -> registry.Account:
    return found(registry.get_account(view, account), "account", account)


def require_organisation(view: StateReader, org: str) -> registry.Organisation:
    return found(registry.get_organisation(view, org), "organisation", org)


def with_meters(view: StateReader, record: registry.Device | registry.Site) -> dict[str, Any]:
    """A device or site as the API sends it: its record and the ids of its meters."""
    kind: registry.AssetKind = "device" if isinstance(record, registry.Device) else "site"
    return {**msgspec.to_builtins(record), "meters": registry.meter_ids_of(view, kind, record.id)}


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    r = APIRouter(prefix="/v1", tags=["assets"])

    @r.get("/devices", response_model=DevicePage, responses=ERROR_RESPONSES, summary="Devices")
    def list_devices(
        owner_org: Annotated[str | None, Query(description="Only this organisation's.")] = None,
        technology: Annotated[str | None, Query(description="Only this technology.")] = None,
        after: After = None,
        limit: Limit = 100,
    ) -> Response:
        """Generation devices in id order, each with its meters; ``next`` pages on."""
        view = node.state.view
        found = registry.list_devices(
            view, after, limit, owner_org=owner_org, technology=technology
        )
        return JSONBytes(
            {"devices": [with_meters(view, d) for d in found.items], "next": found.next}
        )

    @r.get(
        "/devices/{device}", response_model=Device, responses=ERROR_RESPONSES, summary="A device"
    )
    def get_device(device: DeviceId) -> Response:
        """A device's registry record and the ids of the meters bound to it."""
        view = node.state.view
        return JSONBytes(with_meters(view, require_device(view, device)))

    @r.get("/sites", response_model=SitePage, responses=ERROR_RESPONSES, summary="Sites")
    def list_sites(
        owner_org: Annotated[str | None, Query(description="Only this organisation's.")] = None,
        after: After = None,
        limit: Limit = 100,
    ) -> Response:
        """Consumption sites in id order, each with its meters; ``next`` pages on."""
        view = node.state.view
        found = registry.list_sites(view, after, limit, owner_org=owner_org)
        return JSONBytes({"sites": [with_meters(view, s) for s in found.items], "next": found.next})

    @r.get("/sites/{site}", response_model=Site, responses=ERROR_RESPONSES, summary="A site")
    def get_site(site: SiteId) -> Response:
        """A site's registry record and the ids of the meters bound to it."""
        view = node.state.view
        return JSONBytes(with_meters(view, require_site(view, site)))

    @r.get("/meters", response_model=MeterPage, responses=ERROR_RESPONSES, summary="Meters")
    def list_meters(
        device: Annotated[str | None, Query(description="Only meters of this device.")] = None,
        site: Annotated[str | None, Query(description="Only meters of this site.")] = None,
        gateway: Annotated[str | None, Query(description="Only meters it reports.")] = None,
        after: After = None,
        limit: Limit = 100,
    ) -> Response:
        """Meters in id order, optionally of one device, site or gateway."""
        found = registry.list_meters(
            node.state.view, after, limit, device=device, site=site, gateway=gateway
        )
        return JSONBytes({"meters": found.items, "next": found.next})

    @r.get("/meters/{meter}", response_model=Meter, responses=ERROR_RESPONSES, summary="A meter")
    def get_meter(meter: MeterId) -> Response:
        """A meter's registry record: kind, device or site, gateway and interval."""
        return JSONBytes(require_meter(node.state.view, meter))

    return r
