"""Registry: organisations, accounts and their roles.

State keys (values are canonical JSON):

* ``registry/org/<org>``         ``{"id", "name", "roles", "node_key"}``
* ``registry/account/<account>`` ``{"id", "org", "public_key", "roles", "suspended"}``

Only an operator registers organisations and accounts and grants roles. An account holds only
roles its organisation holds, so a consumer organisation cannot mint itself a certifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from gridledger.contracts.base import ROLES, Body, Context, kind
from gridledger.core.crypto import parse_public_key
from gridledger.core.encoding import decode_json
from gridledger.core.errors import GridLedgerError, InvalidTransaction
from gridledger.state.state import StateReader, StateWriter

ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


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


def org_key(org: str) -> bytes:
    return b"registry/org/" + org.encode()


def account_key(account: str) -> bytes:
    return b"registry/account/" + account.encode()


def check_id(value: str, what: str) -> None:
    if not ID_RE.match(value):
        raise InvalidId(f"{what} {value!r}: {InvalidId.default_message}")


def check_roles(roles: list[str]) -> None:
    for role in roles:
        if role not in ROLES:
            raise InvalidRole(f"unknown role {role!r}; {InvalidRole.default_message}")
    if len(set(roles)) != len(roles):
        raise InvalidRole("a role is listed twice")


def check_key(public_key: str) -> None:
    try:
        parse_public_key(public_key)
    except GridLedgerError as exc:
        raise InvalidKey(f"{exc.message}; {InvalidKey.default_message}") from None


# queries -------------------------------------------------------------------------------------
def get_account(state: StateReader, account: str) -> dict[str, Any] | None:
    value: dict[str, Any] | None = state.get_json(account_key(account))
    return value


def require_account(state: StateReader, account: str) -> dict[str, Any]:
    acct = get_account(state, account)
    if acct is None:
        raise UnknownAccount(f"no account {account!r}; the operator registers accounts first")
    return acct


def require_exists(state: StateReader, account: str) -> None:
    """Raise :class:`UnknownAccount` unless ``account`` is registered (no decoding)."""
    if state.get(account_key(account)) is None:
        raise UnknownAccount(f"no account {account!r}; the operator registers accounts first")


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """What admission and execution need of a sender, decoded once per stored record."""

    roles: tuple[str, ...]
    suspended: bool
    public_key: bytes


@lru_cache(maxsize=1 << 16)
def _summary(raw: bytes) -> AccountSummary:
    acct = decode_json(raw)
    return AccountSummary(
        tuple(acct["roles"]), bool(acct["suspended"]), parse_public_key(acct["public_key"])
    )


def account_summary(state: StateReader, account: str) -> AccountSummary | None:
    """The sender-relevant facts of ``account`` (cached by the stored record's bytes)."""
    raw = state.get(account_key(account))
    return None if raw is None else _summary(raw)


def get_organisation(state: StateReader, org: str) -> dict[str, Any] | None:
    value: dict[str, Any] | None = state.get_json(org_key(org))
    return value


def list_organisations(state: StateReader) -> list[dict[str, Any]]:
    return [decode_json(v) for _, v in state.scan(b"registry/org/")]


def list_accounts(state: StateReader, org: str | None = None) -> list[dict[str, Any]]:
    accounts = [decode_json(v) for _, v in state.scan(b"registry/account/")]
    return [a for a in accounts if org is None or a["org"] == org]


# writes shared by genesis and transactions ---------------------------------------------------
def put_organisation(
    state: StateWriter, org: str, name: str, roles: list[str], node_key: str | None
) -> None:
    check_id(org, "organisation id")
    check_roles(roles)
    if node_key is not None:
        check_key(node_key)
    if state.get(org_key(org)) is not None:
        raise OrganisationExists(f"organisation {org!r} exists already")
    state.set_json(
        org_key(org), {"id": org, "name": name, "roles": sorted(roles), "node_key": node_key}
    )


def put_account(
    state: StateWriter, account: str, org: str, public_key: str, roles: list[str]
) -> None:
    check_id(account, "account id")
    check_roles(roles)
    check_key(public_key)
    organisation = get_organisation(state, org)
    if organisation is None:
        raise UnknownOrganisation(f"no organisation {org!r}")
    for role in roles:
        if role not in organisation["roles"]:
            raise RoleNotHeldByOrganisation(f"organisation {org!r} does not hold role {role!r}")
    if state.get(account_key(account)) is not None:
        raise AccountExists(f"account {account!r} exists already")
    state.set_json(
        account_key(account),
        {
            "id": account,
            "org": org,
            "public_key": public_key,
            "roles": sorted(roles),
            "suspended": False,
        },
    )


# transaction kinds ---------------------------------------------------------------------------
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


class RoleChange(Body):
    account: str
    role: str

    def check(self) -> None:
        check_roles([self.role])


@kind("registry.grant_role", RoleChange, roles=("operator",))
def apply_grant_role(state: StateWriter, ctx: Context, body: RoleChange) -> None:
    """Give an account a role its organisation holds (operator only)."""
    acct = require_account(state, body.account)
    org = get_organisation(state, acct["org"])
    assert org is not None
    if body.role not in org["roles"]:
        raise RoleNotHeldByOrganisation(
            f"organisation {acct['org']!r} does not hold role {body.role!r}"
        )
    if body.role not in acct["roles"]:
        acct["roles"] = sorted([*acct["roles"], body.role])
        state.set_json(account_key(body.account), acct)
    ctx.emit("registry.role_granted", account=body.account, role=body.role)


@kind("registry.revoke_role", RoleChange, roles=("operator",))
def apply_revoke_role(state: StateWriter, ctx: Context, body: RoleChange) -> None:
    """Take a role from an account (operator only; not an operator's own operator role)."""
    if body.account == ctx.sender and body.role == "operator":
        raise SelfDemotion
    acct = require_account(state, body.account)
    if body.role in acct["roles"]:
        acct["roles"] = [r for r in acct["roles"] if r != body.role]
        state.set_json(account_key(body.account), acct)
    ctx.emit("registry.role_revoked", account=body.account, role=body.role)
