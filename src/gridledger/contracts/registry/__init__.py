"""Registry: who takes part (organisations, accounts, roles) and what they own (generation
devices, consumption sites, and the meters bound to them).

* :mod:`.keys`: every ``registry/...`` state key, and nothing else builds them;
* :mod:`.records`: the stored records (:class:`Organisation`, :class:`Account`,
  :class:`Device`, :class:`Site`, :class:`Meter`);
* :mod:`.accounts`: organisations, accounts, roles, key rotation and suspension, the
  writes genesis shares (:func:`put_organisation`, :func:`put_account`), and those the
  consortium's decisions make (:func:`set_node_key`, :func:`mark_removed`);
* :mod:`.assets`: devices, sites and meters;
* :mod:`.queries`: records by id, pages in id order, a device's or a site's meters, and the
  sender facts admission and execution need (:func:`account_summary`);
* :mod:`.errors`: the refusals, each with its ``registry.*`` code.
"""

from gridledger.contracts.registry import keys
from gridledger.contracts.registry.accounts import (
    ID_RE,
    check_id,
    check_key,
    check_roles,
    mark_removed,
    put_account,
    put_organisation,
    sender_org,
    set_node_key,
)
from gridledger.contracts.registry.assets import INTERVALS_S, METER_KINDS, TECHNOLOGIES
from gridledger.contracts.registry.errors import (
    AccountExists,
    AlreadySuspended,
    DeviceExists,
    InvalidAttribute,
    InvalidId,
    InvalidKey,
    InvalidRole,
    MeterBinding,
    MeterExists,
    NotSuspended,
    OrganisationExists,
    RoleNotHeldByOrganisation,
    SelfDemotion,
    SiteExists,
    UnknownAccount,
    UnknownDevice,
    UnknownMeter,
    UnknownOrganisation,
    UnknownSite,
)
from gridledger.contracts.registry.keys import AssetKind
from gridledger.contracts.registry.queries import (
    AccountSummary,
    Register,
    account_summary,
    changed_accounts,
    count,
    get_account,
    get_device,
    get_meter,
    get_organisation,
    get_site,
    list_accounts,
    list_devices,
    list_meters,
    list_organisations,
    list_sites,
    meter_ids_of,
    meters_of,
    require_account,
    require_exists,
)
from gridledger.contracts.registry.records import (
    Account,
    Device,
    Meter,
    MeterKind,
    Organisation,
    Site,
    commissioning_days,
)

__all__ = [
    "ID_RE",
    "INTERVALS_S",
    "METER_KINDS",
    "TECHNOLOGIES",
    "Account",
    "AccountExists",
    "AccountSummary",
    "AlreadySuspended",
    "AssetKind",
    "Device",
    "DeviceExists",
    "InvalidAttribute",
    "InvalidId",
    "InvalidKey",
    "InvalidRole",
    "Meter",
    "MeterBinding",
    "MeterExists",
    "MeterKind",
    "NotSuspended",
    "Organisation",
    "OrganisationExists",
    "Register",
    "RoleNotHeldByOrganisation",
    "SelfDemotion",
    "Site",
    "SiteExists",
    "UnknownAccount",
    "UnknownDevice",
    "UnknownMeter",
    "UnknownOrganisation",
    "UnknownSite",
    "account_summary",
    "changed_accounts",
    "check_id",
    "check_key",
    "check_roles",
    "commissioning_days",
    "count",
    "get_account",
    "get_device",
    "get_meter",
    "get_organisation",
    "get_site",
    "keys",
    "list_accounts",
    "list_devices",
    "list_meters",
    "list_organisations",
    "list_sites",
    "mark_removed",
    "meter_ids_of",
    "meters_of",
    "put_account",
    "put_organisation",
    "require_account",
    "require_exists",
    "sender_org",
    "set_node_key",
]
