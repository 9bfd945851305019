"""Generation devices, consumption sites and their meters.

Transaction kinds and who may send them:

* ``registry.register_device`` (producer): ``{"device", "name", "technology", "fuel",
  "capacity_w", "commissioned": "YYYY-MM-DD", "country": "CN", "grid_region",
  "latitude_udeg", "longitude_udeg", "support"}``; the owner is the sender's organisation.
* ``registry.register_site`` (consumer or grid_operator): ``{"site", "name", "country",
  "grid_region", "max_wh_per_hour", "owner_org"?}``; owner: the sender's organisation unless a
  grid operator registers it for ``owner_org``.
* ``registry.register_meter`` (grid_operator): ``{"meter", "kind": "generation" |
  "consumption", "device"? , "site"?, "gateway", "interval_s": 900 | 3600 | 86400}``: a
  generation meter is bound to a device, a consumption meter to a site; ``gateway`` is the one
  account allowed to report its readings.
* ``registry.set_meter_gateway`` (grid_operator): ``{"meter", "gateway"}``.
* ``registry.set_site_ceiling`` (grid_operator): ``{"site", "max_wh_per_hour"}``.
"""

from __future__ import annotations

from typing import cast

import msgspec

from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.registry import keys
from gridledger.contracts.registry.accounts import check_id, sender_org
from gridledger.contracts.registry.errors import (
    DeviceExists,
    InvalidAttribute,
    MeterBinding,
    MeterExists,
    SiteExists,
    UnknownDevice,
    UnknownMeter,
    UnknownSite,
)
from gridledger.contracts.registry.queries import (
    get_device,
    get_meter,
    get_organisation,
    get_site,
    require_account,
)
from gridledger.contracts.registry.records import (
    Device,
    Meter,
    MeterKind,
    Site,
    commissioning_days,
)
from gridledger.core.errors import Forbidden
from gridledger.state.state import StateReader, StateWriter

METER_KINDS = ("generation", "consumption")
INTERVALS_S = (900, 3600, 86400)
"""The reading intervals a meter may have, and the market's interval lengths."""
TECHNOLOGIES = (
    "solar_pv",
    "wind_onshore",
    "wind_offshore",
    "hydro",
    "biomass",
    "geothermal",
    "storage",
    "other",
)


def _check_positive(value: int, what: str) -> None:
    if value <= 0:
        raise InvalidAttribute(f"{what} must be a positive integer, got {value}")


def _check_text(value: str, what: str, max_len: int = 128) -> None:
    if not value or len(value) > max_len:
        raise InvalidAttribute(f"{what} must be 1-{max_len} characters")


def _check_country(country: str) -> None:
    if len(country) != 2 or not (country.isascii() and country.isalpha() and country.isupper()):
        raise InvalidAttribute(f"country {country!r} must be an ISO 3166-1 alpha-2 code, e.g. CN")


def _require_gateway(view: StateReader, gateway: str) -> None:
    if require_account(view, gateway).suspended:
        raise InvalidAttribute(f"gateway account {gateway!r} is suspended")


# devices -------------------------------------------------------------------------------------
class RegisterDevice(Body):
    device: str
    name: str
    technology: str
    fuel: str
    capacity_w: Int64
    """Nameplate capacity in W (AC)."""
    commissioned: str
    """Commissioning date, ``YYYY-MM-DD``."""
    country: str
    grid_region: str
    """Grid region or bidding zone, e.g. ``CN-GD`` (China Southern Grid, Guangdong)."""
    latitude_udeg: Int64 = 0
    longitude_udeg: Int64 = 0
    support: str = "none"
    """Public support received (``none``, ``feed_in_tariff``, ``investment_grant``, ...)."""

    def check(self) -> None:
        check_id(self.device, "device id")
        _check_text(self.name, "name")
        if self.technology not in TECHNOLOGIES:
            raise InvalidAttribute(f"technology must be one of {', '.join(TECHNOLOGIES)}")
        _check_text(self.fuel, "fuel", 64)
        _check_positive(self.capacity_w, "capacity_w")
        try:
            commissioning_days(self.commissioned)
        except ValueError:
            raise InvalidAttribute("commissioned must be a date YYYY-MM-DD") from None
        _check_country(self.country)
        _check_text(self.grid_region, "grid_region", 32)
        if not -90_000_000 <= self.latitude_udeg <= 90_000_000:
            raise InvalidAttribute("latitude_udeg must be within +-90 degrees (micro-degrees)")
        if not -180_000_000 <= self.longitude_udeg <= 180_000_000:
            raise InvalidAttribute("longitude_udeg must be within +-180 degrees (micro-degrees)")
        _check_text(self.support, "support", 64)


@kind("registry.register_device", RegisterDevice, roles=("producer",))
def apply_register_device(state: StateWriter, ctx: Context, body: RegisterDevice) -> None:
    """Register a generation plant owned by the sender's organisation (producers)."""
    if state.get(keys.device(body.device)) is not None:
        raise DeviceExists(f"device {body.device!r} exists already")
    owner = sender_org(state, ctx)
    record = Device(
        id=body.device,
        name=body.name,
        owner_org=owner,
        technology=body.technology,
        fuel=body.fuel,
        capacity_w=body.capacity_w,
        commissioned=body.commissioned,
        country=body.country,
        grid_region=body.grid_region,
        latitude_udeg=body.latitude_udeg,
        longitude_udeg=body.longitude_udeg,
        support=body.support,
        registered_height=ctx.height,
    )
    state.put(keys.device(body.device), record)
    ctx.emit("registry.device_registered", device=body.device, owner_org=owner)


# sites ---------------------------------------------------------------------------------------
class RegisterSite(Body):
    site: str
    name: str
    country: str
    grid_region: str
    max_wh_per_hour: Int64
    """Ceiling of plausible consumption, Wh per hour of interval (the connection's limit)."""
    owner_org: str | None = None
    """For a grid operator registering on a consumer's behalf; else the sender's organisation."""

    def check(self) -> None:
        check_id(self.site, "site id")
        _check_text(self.name, "name")
        _check_country(self.country)
        _check_text(self.grid_region, "grid_region", 32)
        _check_positive(self.max_wh_per_hour, "max_wh_per_hour")
        if self.owner_org is not None:
            check_id(self.owner_org, "owner_org")


@kind("registry.register_site", RegisterSite, roles=("consumer", "grid_operator"))
def apply_register_site(state: StateWriter, ctx: Context, body: RegisterSite) -> None:
    """Register a consumption point (its consumer, or a grid operator on its behalf)."""
    if state.get(keys.site(body.site)) is not None:
        raise SiteExists(f"site {body.site!r} exists already")
    owner = sender_org(state, ctx)
    if body.owner_org is not None and body.owner_org != owner:
        if "grid_operator" not in ctx.sender_roles:
            raise Forbidden("only a grid operator registers a site for another organisation")
        if get_organisation(state, body.owner_org) is None:
            raise InvalidAttribute(f"no organisation {body.owner_org!r}")
        owner = body.owner_org
    record = Site(
        id=body.site,
        name=body.name,
        owner_org=owner,
        country=body.country,
        grid_region=body.grid_region,
        max_wh_per_hour=body.max_wh_per_hour,
        registered_height=ctx.height,
    )
    state.put(keys.site(body.site), record)
    ctx.emit("registry.site_registered", site=body.site, owner_org=owner)


class SetSiteCeiling(Body):
    site: str
    max_wh_per_hour: Int64

    def check(self) -> None:
        _check_positive(self.max_wh_per_hour, "max_wh_per_hour")


@kind("registry.set_site_ceiling", SetSiteCeiling, roles=("grid_operator",))
def apply_set_site_ceiling(state: StateWriter, ctx: Context, body: SetSiteCeiling) -> None:
    """Change a site's consumption ceiling (grid operators)."""
    site = get_site(state, body.site)
    if site is None:
        raise UnknownSite(f"no site {body.site!r}")
    state.put(
        keys.site(body.site), msgspec.structs.replace(site, max_wh_per_hour=body.max_wh_per_hour)
    )
    ctx.emit("registry.site_ceiling_set", site=body.site, max_wh_per_hour=body.max_wh_per_hour)


# meters --------------------------------------------------------------------------------------
class RegisterMeter(Body):
    meter: str
    kind: str
    gateway: str
    """The account whose signed batches are the meter's readings."""
    interval_s: Int64
    """Length of one reading's interval: 900 (15 min), 3600 (1 h) or 86400 (1 day)."""
    device: str | None = None
    site: str | None = None

    def check(self) -> None:
        check_id(self.meter, "meter id")
        check_id(self.gateway, "gateway account")
        if self.kind not in METER_KINDS:
            raise InvalidAttribute("kind must be 'generation' or 'consumption'")
        if self.interval_s not in INTERVALS_S:
            raise InvalidAttribute("interval_s must be 900, 3600 or 86400")
        if (self.kind == "generation") != (self.device is not None) or (
            self.kind == "consumption"
        ) != (self.site is not None):
            raise MeterBinding


@kind("registry.register_meter", RegisterMeter, roles=("grid_operator",))
def apply_register_meter(state: StateWriter, ctx: Context, body: RegisterMeter) -> None:
    """Register a meter bound to a device or site, with the gateway that reports it."""
    if state.get(keys.meter(body.meter)) is not None:
        raise MeterExists(f"meter {body.meter!r} exists already")
    if body.device is not None and get_device(state, body.device) is None:
        raise UnknownDevice(f"no device {body.device!r}")
    if body.site is not None and get_site(state, body.site) is None:
        raise UnknownSite(f"no site {body.site!r}")
    _require_gateway(state, body.gateway)
    record = Meter(
        id=body.meter,
        kind=cast(MeterKind, body.kind),  # check() admits only the meter kinds
        gateway=body.gateway,
        interval_s=body.interval_s,
        registered_height=ctx.height,
        device=body.device,
        site=body.site,
    )
    state.put(keys.meter(body.meter), record)
    state.set(keys.asset_meter(*record.asset(), body.meter), b"1")
    ctx.emit("registry.meter_registered", meter=body.meter, gateway=body.gateway)


class SetMeterGateway(Body):
    meter: str
    gateway: str

    def check(self) -> None:
        check_id(self.gateway, "gateway account")


@kind("registry.set_meter_gateway", SetMeterGateway, roles=("grid_operator",))
def apply_set_meter_gateway(state: StateWriter, ctx: Context, body: SetMeterGateway) -> None:
    """Move a meter to another gateway account (grid operators)."""
    meter = get_meter(state, body.meter)
    if meter is None:
        raise UnknownMeter(f"no meter {body.meter!r}")
    _require_gateway(state, body.gateway)
    state.put(keys.meter(body.meter), msgspec.structs.replace(meter, gateway=body.gateway))
    ctx.emit("registry.meter_gateway_set", meter=body.meter, gateway=body.gateway)
