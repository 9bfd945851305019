"""Registry of generation devices, consumption sites and meters; account keys and suspension.

State keys (values are canonical JSON):

* ``registry/device/<device>`` a generation plant, with the attributes energy-certificate
  registries (I-REC, D-REC, GO) record: ``{"id", "name", "owner_org", "technology", "fuel",
  "capacity_w", "commissioned", "country", "grid_region", "latitude_udeg", "longitude_udeg",
  "support", "registered_height"}``
* ``registry/site/<site>`` a consumption point: ``{"id", "name", "owner_org", "country",
  "grid_region", "max_wh_per_hour", "registered_height"}``
* ``registry/meter/<meter>`` ``{"id", "kind", "device" or "site", "gateway", "interval_s",
  "registered_height"}``: a generation meter is bound to a device, a consumption meter to a
  site; ``gateway`` is the one account allowed to report its readings.
* ``registry/meters_of/<device | site>/<asset>/<meter>`` ``1``: the meters of a device or a
  site; the asset's kind is in the key because a device and a site may share an id.

Transaction kinds and who may send them:

* ``registry.register_device`` (producer): ``{"device", "name", "technology", "fuel",
  "capacity_w", "commissioned": "YYYY-MM-DD", "country": "CN", "grid_region",
  "latitude_udeg", "longitude_udeg", "support"}``; the owner is the sender's organisation.
* ``registry.register_site`` (consumer or grid_operator): ``{"site", "name", "country",
  "grid_region", "max_wh_per_hour", "owner_org"?}``; owner: the sender's organisation unless a
  grid operator registers it for ``owner_org``.
* ``registry.register_meter`` (grid_operator): ``{"meter", "kind": "generation" |
  "consumption", "device"? , "site"?, "gateway", "interval_s": 900 | 3600 | 86400}``.
* ``registry.set_meter_gateway`` (grid_operator): ``{"meter", "gateway"}``.
* ``registry.set_site_ceiling`` (grid_operator): ``{"site", "max_wh_per_hour"}``.
* ``registry.rotate_key`` (the account itself, or an operator): ``{"account", "public_key"}``.
* ``registry.suspend_account`` / ``registry.reinstate_account`` (operator):
  ``{"account", "reason"?}``; a suspended account's transactions are refused.

Units: power in W, energy in Wh, coordinates in micro-degrees (integers, as everything in state).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.registry import (
    UnknownAccount,
    account_key,
    check_id,
    check_key,
    get_account,
    get_organisation,
    require_account,
)
from gridledger.core.encoding import decode_json
from gridledger.core.errors import Forbidden, InvalidTransaction
from gridledger.state.state import StateReader, StateWriter

METER_KINDS = ("generation", "consumption")
INTERVALS_S = (900, 3600, 86400)
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
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


class DeviceExists(InvalidTransaction):
    code = "registry.device_exists"
    default_message = "a device with this id exists already"


class SiteExists(InvalidTransaction):
    code = "registry.site_exists"
    default_message = "a site with this id exists already"


class MeterExists(InvalidTransaction):
    code = "registry.meter_exists"
    default_message = "a meter with this id exists already"


class UnknownDevice(InvalidTransaction):
    code = "registry.unknown_device"
    default_message = "no such device"


class UnknownSite(InvalidTransaction):
    code = "registry.unknown_site"
    default_message = "no such site"


class UnknownMeter(InvalidTransaction):
    code = "registry.unknown_meter"
    default_message = "no such meter"


class InvalidAttribute(InvalidTransaction):
    code = "registry.invalid_attribute"
    default_message = "an attribute of the device, site or meter is out of range"


class MeterBinding(InvalidTransaction):
    code = "registry.invalid_meter_binding"
    default_message = (
        "a generation meter is bound to exactly one device, a consumption meter to one site"
    )


class NotOwner(InvalidTransaction):
    code = "registry.not_owner"
    default_message = "only the owner's organisation (or an operator) may do this"


class AlreadySuspended(InvalidTransaction):
    code = "registry.already_suspended"
    default_message = "the account is suspended already"


class NotSuspended(InvalidTransaction):
    code = "registry.not_suspended"
    default_message = "the account is not suspended"


def device_key(device: str) -> bytes:
    return b"registry/device/" + device.encode()


def site_key(site: str) -> bytes:
    return b"registry/site/" + site.encode()


def meter_key(meter: str) -> bytes:
    return b"registry/meter/" + meter.encode()


def get_device(state: StateReader, device: str) -> dict[str, Any] | None:
    value: dict[str, Any] | None = state.get_json(device_key(device))
    return value


def get_site(state: StateReader, site: str) -> dict[str, Any] | None:
    value: dict[str, Any] | None = state.get_json(site_key(site))
    return value


def get_meter(state: StateReader, meter: str) -> dict[str, Any] | None:
    value: dict[str, Any] | None = state.get_json(meter_key(meter))
    return value


def meters_of_key(asset_kind: str, asset: str, meter: str) -> bytes:
    """``asset_kind`` is ``device`` or ``site``: a device and a site may share an id."""
    return f"registry/meters_of/{asset_kind}/{asset}/{meter}".encode()


def meters_of(state: StateReader, asset_kind: str, asset: str) -> list[dict[str, Any]]:
    """The meters bound to ``asset``, a ``device`` or a ``site`` (``asset_kind``), by meter
    id."""
    prefix = f"registry/meters_of/{asset_kind}/{asset}/".encode()
    out = []
    for k, _ in state.scan(prefix):
        meter = get_meter(state, k[len(prefix) :].decode())
        if meter is not None:
            out.append(meter)
    return out


def list_records(state: StateReader, what: str) -> list[dict[str, Any]]:
    """Every device, site or meter (``what`` is ``device``, ``site`` or ``meter``)."""
    return [decode_json(v) for _, v in state.scan(f"registry/{what}/".encode())]


def commissioning_days(commissioned: str) -> int:
    """Days since the Unix epoch of a ``YYYY-MM-DD`` commissioning date."""
    return dt.date.fromisoformat(commissioned).toordinal() - _EPOCH_ORDINAL


def sender_org(state: StateReader, ctx: Context) -> str:
    acct = get_account(state, ctx.sender)
    if acct is None:  # the executor checked the sender; a vanished sender is a bug upstream
        raise UnknownAccount(f"no account {ctx.sender!r}")
    return str(acct["org"])


def _check_positive(value: int, what: str) -> None:
    if value <= 0:
        raise InvalidAttribute(f"{what} must be a positive integer, got {value}")


def _check_text(value: str, what: str, max_len: int = 128) -> None:
    if not value or len(value) > max_len:
        raise InvalidAttribute(f"{what} must be 1-{max_len} characters")


def _check_country(country: str) -> None:
    if len(country) != 2 or not (country.isascii() and country.isalpha() and country.isupper()):
        raise InvalidAttribute(f"country {country!r} must be an ISO 3166-1 alpha-2 code, e.g. CN")


def _require_gateway(state: StateReader, gateway: str) -> None:
    if require_account(state, gateway)["suspended"]:
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
    if state.get(device_key(body.device)) is not None:
        raise DeviceExists(f"device {body.device!r} exists already")
    owner = sender_org(state, ctx)
    record = {
        "id": body.device,
        "name": body.name,
        "owner_org": owner,
        "technology": body.technology,
        "fuel": body.fuel,
        "capacity_w": body.capacity_w,
        "commissioned": body.commissioned,
        "country": body.country,
        "grid_region": body.grid_region,
        "latitude_udeg": body.latitude_udeg,
        "longitude_udeg": body.longitude_udeg,
        "support": body.support,
        "registered_height": ctx.height,
    }
    state.set_json(device_key(body.device), record)
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
    if state.get(site_key(body.site)) is not None:
        raise SiteExists(f"site {body.site!r} exists already")
    owner = sender_org(state, ctx)
    if body.owner_org is not None and body.owner_org != owner:
        if "grid_operator" not in ctx.sender_roles:
            raise Forbidden("only a grid operator registers a site for another organisation")
        if get_organisation(state, body.owner_org) is None:
            raise InvalidAttribute(f"no organisation {body.owner_org!r}")
        owner = body.owner_org
    record = {
        "id": body.site,
        "name": body.name,
        "owner_org": owner,
        "country": body.country,
        "grid_region": body.grid_region,
        "max_wh_per_hour": body.max_wh_per_hour,
        "registered_height": ctx.height,
    }
    state.set_json(site_key(body.site), record)
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
    site["max_wh_per_hour"] = body.max_wh_per_hour
    state.set_json(site_key(body.site), site)
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
    if state.get(meter_key(body.meter)) is not None:
        raise MeterExists(f"meter {body.meter!r} exists already")
    if body.device is not None and get_device(state, body.device) is None:
        raise UnknownDevice(f"no device {body.device!r}")
    if body.site is not None and get_site(state, body.site) is None:
        raise UnknownSite(f"no site {body.site!r}")
    _require_gateway(state, body.gateway)
    record: dict[str, Any] = {
        "id": body.meter,
        "kind": body.kind,
        "gateway": body.gateway,
        "interval_s": body.interval_s,
        "registered_height": ctx.height,
    }
    if body.device is not None:
        record["device"] = body.device
        index = meters_of_key("device", body.device, body.meter)
    else:
        record["site"] = body.site
        index = meters_of_key("site", body.site or "", body.meter)
    state.set_json(meter_key(body.meter), record)
    state.set(index, b"1")
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
    meter["gateway"] = body.gateway
    state.set_json(meter_key(body.meter), meter)
    ctx.emit("registry.meter_gateway_set", meter=body.meter, gateway=body.gateway)


# accounts: keys and suspension ---------------------------------------------------------------
class RotateKey(Body):
    account: str
    public_key: str

    def check(self) -> None:
        check_key(self.public_key)


@kind("registry.rotate_key", RotateKey)
def apply_rotate_key(state: StateWriter, ctx: Context, body: RotateKey) -> None:
    """Replace an account's public key (the account itself, or an operator)."""
    if body.account != ctx.sender and "operator" not in ctx.sender_roles:
        raise Forbidden("only the account itself or an operator rotates its key")
    acct = require_account(state, body.account)
    acct["public_key"] = body.public_key
    state.set_json(account_key(body.account), acct)
    ctx.emit("registry.key_rotated", account=body.account, public_key=body.public_key)


class Suspension(Body):
    account: str
    reason: str = ""

    def check(self) -> None:
        if len(self.reason) > 256:
            raise InvalidAttribute("reason is at most 256 characters")


@kind("registry.suspend_account", Suspension, roles=("operator",))
def apply_suspend_account(state: StateWriter, ctx: Context, body: Suspension) -> None:
    """Suspend an account: its transactions are refused until reinstated (operators)."""
    if body.account == ctx.sender:
        raise Forbidden("an operator cannot suspend itself")
    acct = require_account(state, body.account)
    if acct["suspended"]:
        raise AlreadySuspended(f"account {body.account!r} is suspended already")
    acct["suspended"] = True
    state.set_json(account_key(body.account), acct)
    ctx.emit("registry.account_suspended", account=body.account, reason=body.reason)


@kind("registry.reinstate_account", Suspension, roles=("operator",))
def apply_reinstate_account(state: StateWriter, ctx: Context, body: Suspension) -> None:
    """Lift an account's suspension (operators)."""
    acct = require_account(state, body.account)
    if not acct["suspended"]:
        raise NotSuspended(f"account {body.account!r} is not suspended")
    acct["suspended"] = False
    state.set_json(account_key(body.account), acct)
    ctx.emit("registry.account_reinstated", account=body.account, reason=body.reason)
