"""The registry's stored records (canonical JSON under the keys of :mod:`.keys`).

Units: power in W, energy in Wh, coordinates in micro-degrees, heights in blocks; all
integers, as everything in state.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from gridledger.contracts.base import Record
from gridledger.contracts.registry.keys import AssetKind

MeterKind = Literal["generation", "consumption"]
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def commissioning_days(commissioned: str) -> int:
    """Days since the Unix epoch of a ``YYYY-MM-DD`` commissioning date (raises
    ``ValueError`` when it is not one)."""
    return dt.date.fromisoformat(commissioned).toordinal() - _EPOCH_ORDINAL


class Organisation(Record, omit_defaults=True):
    """An organisation of the consortium (``registry/org/<org>``).

    Attributes:
        id: Organisation id, 1-64 of a-z 0-9 . _ -.
        name: Display name.
        roles: The roles its accounts may hold, sorted.
        node_key: The tagged Ed25519 key ("ed25519:<hex>") that signs the organisation's
            blocks and attestations from the next height on; null for an organisation that
            runs no node. The key valid at an earlier height is the consortium's key
            history's (``consortium.node_key_at``).
        removed_height: The first height at which the consortium no longer counts it (a
            ``remove_organisation`` proposal executed in the block before); left out while
            it is a member. Its record and keys stay, to check the blocks it signed.
    """

    id: str
    name: str
    roles: list[str]
    node_key: str | None
    removed_height: int | None = None


class Account(Record):
    """An account (``registry/account/<account>``): a key that signs transactions for an
    organisation.

    Attributes:
        id: Account id, 1-64 of a-z 0-9 . _ -.
        org: The organisation the account belongs to.
        public_key: Its tagged Ed25519 public key, "ed25519:<64 hex digits>".
        roles: Its roles (a subset of its organisation's), sorted.
        suspended: Whether the operator suspended it (its transactions are refused).
    """

    id: str
    org: str
    public_key: str
    roles: list[str]
    suspended: bool


class Device(Record):
    """A generation plant (``registry/device/<device>``), with the attributes
    energy-certificate registries (I-REC, D-REC, GO) record.

    Attributes:
        id: Device id, 1-64 of a-z 0-9 . _ -.
        name: Display name.
        owner_org: The organisation that owns it (its registering producer's).
        technology: solar_pv, wind_onshore, wind_offshore, hydro, biomass, geothermal,
            storage or other.
        fuel: Energy source, e.g. solar.
        capacity_w: Nameplate capacity, W (AC).
        commissioned: Commissioning date, YYYY-MM-DD (UTC).
        country: ISO 3166-1 alpha-2 country code.
        grid_region: Grid region or bidding zone, e.g. CN-GD.
        latitude_udeg: Latitude, micro-degrees.
        longitude_udeg: Longitude, micro-degrees.
        support: Public support received (none, feed_in_tariff, investment_grant, ...).
        registered_height: The block that registered it.
    """

    id: str
    name: str
    owner_org: str
    technology: str
    fuel: str
    capacity_w: int
    commissioned: str
    country: str
    grid_region: str
    latitude_udeg: int
    longitude_udeg: int
    support: str
    registered_height: int

    def commissioning_day(self) -> int:
        """The commissioning date in days since the Unix epoch."""
        return commissioning_days(self.commissioned)


class Site(Record):
    """A consumption point (``registry/site/<site>``).

    Attributes:
        id: Site id, 1-64 of a-z 0-9 . _ -.
        name: Display name.
        owner_org: The organisation that owns it.
        country: ISO 3166-1 alpha-2 country code.
        grid_region: Grid region or bidding zone, e.g. CN-GD.
        max_wh_per_hour: Ceiling of plausible consumption, Wh per hour.
        registered_height: The block that registered it.
    """

    id: str
    name: str
    owner_org: str
    country: str
    grid_region: str
    max_wh_per_hour: int
    registered_height: int


class Meter(Record, omit_defaults=True):
    """A meter (``registry/meter/<meter>``), bound to a device (generation) or a site
    (consumption); the one of ``device`` and ``site`` it is not bound to is left out.

    Attributes:
        id: Meter id, 1-64 of a-z 0-9 . _ -.
        kind: generation (bound to a device) or consumption (bound to a site).
        gateway: The one account whose metering.submit transactions report its readings.
        interval_s: Length of one reading, s: 900, 3600 or 86400.
        registered_height: The block that registered it.
        device: The device of a generation meter.
        site: The site of a consumption meter.
    """

    id: str
    kind: MeterKind
    gateway: str
    interval_s: int
    registered_height: int
    device: str | None = None
    site: str | None = None

    def asset(self) -> tuple[AssetKind, str]:
        """What the meter is bound to: ``("device", id)`` or ``("site", id)``."""
        if self.device is not None:
            return "device", self.device
        return "site", self.site or ""
