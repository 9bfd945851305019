"""The registry's refusals, each with a stable code."""

from __future__ import annotations

from gridledger.contracts.base import ROLES
from gridledger.core.errors import InvalidTransaction


class UnknownAccount(InvalidTransaction):
    code = "registry.unknown_account"
    default_message = "no such account"


class UnknownOrganisation(InvalidTransaction):
    code = "registry.unknown_organisation"
    default_message = "no such organisation"


class AccountExists(InvalidTransaction):
    code = "registry.account_exists"
    default_message = "an account with this id exists already"


class OrganisationExists(InvalidTransaction):
    code = "registry.organisation_exists"
    default_message = "an organisation with this id exists already"


class InvalidRole(InvalidTransaction):
    code = "registry.invalid_role"
    default_message = f"roles are: {', '.join(ROLES)}"


class RoleNotHeldByOrganisation(InvalidTransaction):
    code = "registry.role_not_held_by_org"
    default_message = "an account can only hold roles its organisation holds"


class InvalidId(InvalidTransaction):
    code = "registry.invalid_id"
    default_message = "ids are 1-64 characters of a-z, 0-9, '.', '_' and '-', starting alphanumeric"


class InvalidKey(InvalidTransaction):
    code = "registry.invalid_key"
    default_message = "public keys look like 'ed25519:<64 hex digits>'"


class SelfDemotion(InvalidTransaction):
    code = "registry.self_demotion"
    default_message = "an operator cannot revoke its own operator role"


class AlreadySuspended(InvalidTransaction):
    code = "registry.already_suspended"
    default_message = "the account is suspended already"


class NotSuspended(InvalidTransaction):
    code = "registry.not_suspended"
    default_message = "the account is not suspended"


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
