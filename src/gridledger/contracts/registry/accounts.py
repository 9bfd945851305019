"""Organisations, accounts and roles; key rotation and suspension.

Only an operator registers organisations and accounts and grants roles. An account holds only
roles its organisation holds, so a consumer organisation cannot mint itself a certifier.

Transaction kinds and who may send them:

* ``registry.add_organisation`` (operator): ``{"org", "name", "roles", "node_key"?}``;
* ``registry.add_account`` (operator): ``{"account", "org", "public_key", "roles"?}``;
* ``registry.grant_role`` / ``registry.revoke_role`` (operator): ``{"account", "role"}``;
* ``registry.rotate_key`` (the account itself, or an operator): ``{"account", "public_key"}``;
* ``registry.suspend_account`` / ``registry.reinstate_account`` (operator):
  ``{"account", "reason"?}``; a suspended account's transactions are refused.
"""

from __future__ import annotations

import re

import msgspec

from gridledger.contracts.base import ROLES, Body, Context, kind
from gridledger.contracts.registry import keys
from gridledger.contracts.registry.errors import (
    AccountExists,
    AlreadySuspended,
    InvalidAttribute,
    InvalidId,
    InvalidKey,
    InvalidRole,
    NotSuspended,
    OrganisationExists,
    RoleNotHeldByOrganisation,
    SelfDemotion,
    UnknownAccount,
    UnknownOrganisation,
)
from gridledger.contracts.registry.queries import get_account, get_organisation, require_account
from gridledger.contracts.registry.records import Account, Organisation
from gridledger.core.crypto import parse_public_key
from gridledger.core.errors import Forbidden, GridLedgerError
from gridledger.state.state import StateReader, StateWriter

ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
"""Every id in the registry: organisations, accounts, devices, sites, meters."""


def check_id(value: str, what: str) -> None:
    """Raise :class:`InvalidId` unless ``value`` matches :data:`ID_RE`."""
    if not ID_RE.match(value):
        raise InvalidId(f"{what} {value!r}: {InvalidId.default_message}")


def check_roles(roles: list[str]) -> None:
    """Raise :class:`InvalidRole` for an unknown or repeated role."""
    for role in roles:
        if role not in ROLES:
            raise InvalidRole(f"unknown role {role!r}; {InvalidRole.default_message}")
    if len(set(roles)) != len(roles):
        raise InvalidRole("a role is listed twice")


def check_key(public_key: str) -> None:
    """Raise :class:`InvalidKey` unless ``public_key`` is a tagged Ed25519 key."""
    try:
        parse_public_key(public_key)
    except GridLedgerError as exc:
        raise InvalidKey(f"{exc.message}; {InvalidKey.default_message}") from None


def sender_org(view: StateReader, ctx: Context) -> str:
    """The organisation of the transaction's sender."""
    acct = get_account(view, ctx.sender)
    if acct is None:  # the executor checked the sender; a vanished sender is a bug upstream
        raise UnknownAccount(f"no account {ctx.sender!r}")
    return acct.org


# writes shared by genesis and transactions ---------------------------------------------------
def put_organisation(
    state: StateWriter, org: str, name: str, roles: list[str], node_key: str | None
) -> None:
    """Register organisation ``org`` (refused if the id, a role or the key is invalid, or the
    organisation exists)."""
    check_id(org, "organisation id")
    check_roles(roles)
    if node_key is not None:
        check_key(node_key)
    if state.get(keys.organisation(org)) is not None:
        raise OrganisationExists(f"organisation {org!r} exists already")
    state.put(
        keys.organisation(org),
        Organisation(id=org, name=name, roles=sorted(roles), node_key=node_key),
    )


def set_node_key(state: StateWriter, org: str, node_key: str) -> None:
    """Replace organisation ``org``'s node key (a consortium decision: see
    :mod:`gridledger.contracts.consortium`, which keeps the key history)."""
    organisation = get_organisation(state, org)
    if organisation is None:
        raise UnknownOrganisation(f"no organisation {org!r}")
    state.put(keys.organisation(org), msgspec.structs.replace(organisation, node_key=node_key))


def mark_removed(state: StateWriter, org: str, removed_height: int) -> None:
    """Mark organisation ``org`` as no longer counted by the consortium from
    ``removed_height`` on (its record and key stay)."""
    organisation = get_organisation(state, org)
    if organisation is None:
        raise UnknownOrganisation(f"no organisation {org!r}")
    state.put(
        keys.organisation(org),
        msgspec.structs.replace(organisation, removed_height=removed_height),
    )


def put_account(
    state: StateWriter, account: str, org: str, public_key: str, roles: list[str]
) -> None:
    """Register ``account`` of ``org`` with its key and roles (roles its organisation holds)."""
    check_id(account, "account id")
    check_roles(roles)
    check_key(public_key)
    organisation = get_organisation(state, org)
    if organisation is None:
        raise UnknownOrganisation(f"no organisation {org!r}")
    for role in roles:
        if role not in organisation.roles:
            raise RoleNotHeldByOrganisation(f"organisation {org!r} does not hold role {role!r}")
    if state.get(keys.account(account)) is not None:
        raise AccountExists(f"account {account!r} exists already")
    state.put(
        keys.account(account),
        Account(id=account, org=org, public_key=public_key, roles=sorted(roles), suspended=False),
    )


def _update(state: StateWriter, acct: Account, **changes: object) -> None:
    state.put(keys.account(acct.id), msgspec.structs.replace(acct, **changes))


# organisations and accounts ------------------------------------------------------------------
class AddOrganisation(Body):
    org: str
    name: str
    roles: list[str]
    node_key: str | None = None

    def check(self) -> None:
        check_id(self.org, "organisation id")
        check_roles(self.roles)
        if self.node_key is not None:
            check_key(self.node_key)


@kind("registry.add_organisation", AddOrganisation, roles=("operator",))
def apply_add_organisation(state: StateWriter, ctx: Context, body: AddOrganisation) -> None:
    """Register an organisation with the roles its accounts may hold (operator only)."""
    put_organisation(state, body.org, body.name, body.roles, body.node_key)
    ctx.emit("registry.organisation_added", org=body.org, roles=sorted(body.roles))


class AddAccount(Body):
    account: str
    org: str
    public_key: str
    roles: list[str] = []

    def check(self) -> None:
        check_id(self.account, "account id")
        check_roles(self.roles)
        check_key(self.public_key)


@kind("registry.add_account", AddAccount, roles=("operator",))
def apply_add_account(state: StateWriter, ctx: Context, body: AddAccount) -> None:
    """Register an account of an organisation with its public key and roles (operator only)."""
    put_account(state, body.account, body.org, body.public_key, body.roles)
    ctx.emit("registry.account_added", account=body.account, org=body.org)


# roles ---------------------------------------------------------------------------------------
class RoleChange(Body):
    account: str
    role: str

    def check(self) -> None:
        check_roles([self.role])


@kind("registry.grant_role", RoleChange, roles=("operator",))
def apply_grant_role(state: StateWriter, ctx: Context, body: RoleChange) -> None:
    """Give an account a role its organisation holds (operator only)."""
    acct = require_account(state, body.account)
    org = get_organisation(state, acct.org)
    assert org is not None
    if body.role not in org.roles:
        raise RoleNotHeldByOrganisation(
            f"organisation {acct.org!r} does not hold role {body.role!r}"
        )
    if body.role not in acct.roles:
        _update(state, acct, roles=sorted([*acct.roles, body.role]))
    ctx.emit("registry.role_granted", account=body.account, role=body.role)


@kind("registry.revoke_role", RoleChange, roles=("operator",))
def apply_revoke_role(state: StateWriter, ctx: Context, body: RoleChange) -> None:
    """Take a role from an account (operator only; not an operator's own operator role)."""
    if body.account == ctx.sender and body.role == "operator":
        raise SelfDemotion
    acct = require_account(state, body.account)
    if body.role in acct.roles:
        _update(state, acct, roles=[r for r in acct.roles if r != body.role])
    ctx.emit("registry.role_revoked", account=body.account, role=body.role)


# keys and suspension -------------------------------------------------------------------------
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
    _update(state, acct, public_key=body.public_key)
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
    if acct.suspended:
        raise AlreadySuspended(f"account {body.account!r} is suspended already")
    _update(state, acct, suspended=True)
    ctx.emit("registry.account_suspended", account=body.account, reason=body.reason)


@kind("registry.reinstate_account", Suspension, roles=("operator",))
def apply_reinstate_account(state: StateWriter, ctx: Context, body: Suspension) -> None:
    """Lift an account's suspension (operators)."""
    acct = require_account(state, body.account)
    if not acct.suspended:
        raise NotSuspended(f"account {body.account!r} is not suspended")
    _update(state, acct, suspended=False)
    ctx.emit("registry.account_reinstated", account=body.account, reason=body.reason)
