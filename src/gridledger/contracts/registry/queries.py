"""Reading the registry: one record by id, pages of records in id order, a device's or a
site's meters, and the facts about a sender that every transaction needs.

Queries take any :class:`~gridledger.state.state.StateReader` (a node's committed view, or the
state a transaction executes on) and return typed records.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Literal

from gridledger.contracts.base import Page, Record, page_of
from gridledger.contracts.registry import keys
from gridledger.contracts.registry.errors import UnknownAccount
from gridledger.contracts.registry.keys import AssetKind
from gridledger.contracts.registry.records import Account, Device, Meter, Organisation, Site
from gridledger.core.crypto import parse_public_key
from gridledger.state.state import StateReader, decode_record

Register = Literal["organisations", "accounts", "devices", "sites", "meters"]
"""The registry's lists, as :func:`count` names them."""

_PREFIX: dict[Register, Callable[[], bytes]] = {
    "organisations": keys.organisations,
    "accounts": keys.accounts,
    "devices": keys.devices,
    "sites": keys.sites,
    "meters": keys.meters,
}


def _where(**wanted: str | None) -> Callable[[Record], bool] | None:
    """A filter keeping the records whose attributes equal every value given (``None``: any
    value), or ``None`` when nothing is asked."""
    given = {name: value for name, value in wanted.items() if value is not None}
    if not given:
        return None
    return lambda record: all(getattr(record, name) == value for name, value in given.items())


# organisations and accounts ------------------------------------------------------------------
def get_organisation(view: StateReader, org: str) -> Organisation | None:
    return view.get_record(keys.organisation(org), Organisation)


def get_account(view: StateReader, account: str) -> Account | None:
    return view.get_record(keys.account(account), Account)


def require_account(view: StateReader, account: str) -> Account:
    """The account, or :class:`UnknownAccount`."""
    acct = get_account(view, account)
    if acct is None:
        raise UnknownAccount(f"no account {account!r}; the operator registers accounts first")
    return acct


def require_exists(view: StateReader, account: str) -> None:
    """Raise :class:`UnknownAccount` unless ``account`` is registered (no decoding)."""
    if view.get(keys.account(account)) is None:
        raise UnknownAccount(f"no account {account!r}; the operator registers accounts first")


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """What admission and execution need of a sender, decoded once per stored record."""

    roles: tuple[str, ...]
    suspended: bool
    public_key: bytes


@lru_cache(maxsize=1 << 16)
def _summary(raw: bytes) -> AccountSummary:
    acct = decode_record(raw, Account)
    return AccountSummary(tuple(acct.roles), acct.suspended, parse_public_key(acct.public_key))


def changed_accounts(changes: Mapping[bytes, bytes | None]) -> list[str]:
    """The accounts whose registry record a block's net changes (in key order) touch."""
    prefix = keys.accounts()
    ordered = list(changes)
    out = []
    for k in islice(ordered, bisect_left(ordered, prefix), None):
        if not k.startswith(prefix):
            break
        out.append(k[len(prefix) :].decode())
    return out


def account_summary(view: StateReader, account: str) -> AccountSummary | None:
    """The sender-relevant facts of ``account`` (cached by the stored record's bytes)."""
    raw = view.get(keys.account(account))
    return None if raw is None else _summary(raw)


def list_organisations(
    view: StateReader, after: str | None = None, limit: int | None = None
) -> Page[Organisation]:
    """Organisations in id order after ``after``, at most ``limit``."""
    return page_of(view, keys.organisations(), Organisation, after, limit)


def list_accounts(
    view: StateReader,
    after: str | None = None,
    limit: int | None = None,
    *,
    org: str | None = None,
    role: str | None = None,
) -> Page[Account]:
    """Accounts in id order after ``after``, at most ``limit``, optionally only those of
    organisation ``org`` or holding ``role``."""

    def keep(a: Account) -> bool:
        return (org is None or a.org == org) and (role is None or role in a.roles)

    if org is None and role is None:
        return page_of(view, keys.accounts(), Account, after, limit)
    if org is not None:
        # an organisation's accounts through the index of accounts by organisation
        prefix = keys.accounts()
        start = b"" if after is None else after.encode() + b"\x00"
        items: list[Account] = []
        for _, raw in view.scan_where(prefix, "org", org, start):
            record = decode_record(raw, Account)
            if not keep(record):
                continue
            if limit is not None and len(items) == limit:
                return Page(items, items[-1].id)
            items.append(record)
        return Page(items, None)
    return page_of(view, keys.accounts(), Account, after, limit, keep)


def count(view: StateReader, register: Register) -> int:
    """How many records a list of the registry holds (keys only, nothing decoded)."""
    return sum(1 for _ in view.scan(_PREFIX[register]()))


# devices, sites and meters -------------------------------------------------------------------
def get_device(view: StateReader, device: str) -> Device | None:
    return view.get_record(keys.device(device), Device)


def get_site(view: StateReader, site: str) -> Site | None:
    return view.get_record(keys.site(site), Site)


def get_meter(view: StateReader, meter: str) -> Meter | None:
    return view.get_record(keys.meter(meter), Meter)


def list_devices(
    view: StateReader,
    after: str | None = None,
    limit: int | None = None,
    *,
    owner_org: str | None = None,
    technology: str | None = None,
) -> Page[Device]:
    """Devices in id order after ``after``, at most ``limit``, optionally only one
    organisation's or one technology's."""
    keep = _where(owner_org=owner_org, technology=technology)
    return page_of(view, keys.devices(), Device, after, limit, keep)


def list_sites(
    view: StateReader,
    after: str | None = None,
    limit: int | None = None,
    *,
    owner_org: str | None = None,
) -> Page[Site]:
    """Sites in id order after ``after``, at most ``limit``, optionally one organisation's."""
    return page_of(view, keys.sites(), Site, after, limit, _where(owner_org=owner_org))


def list_meters(
    view: StateReader,
    after: str | None = None,
    limit: int | None = None,
    *,
    device: str | None = None,
    site: str | None = None,
    gateway: str | None = None,
) -> Page[Meter]:
    """Meters in id order after ``after``, at most ``limit``, optionally only those bound to
    ``device`` or ``site`` or reported by ``gateway``."""
    keep = _where(device=device, site=site, gateway=gateway)
    bound: tuple[AssetKind, str]
    if device is not None:
        bound = ("device", device)
    elif site is not None:
        bound = ("site", site)
    else:
        return page_of(view, keys.meters(), Meter, after, limit, keep)
    # through the index: a device's meters cost their own keys, not a scan of every meter
    ids = [i for i in meter_ids_of(view, *bound) if after is None or i > after]
    chosen = [
        m for m in (get_meter(view, i) for i in ids) if m is not None and (keep is None or keep(m))
    ]
    if limit is not None and len(chosen) > limit:
        return Page(chosen[:limit], chosen[limit - 1].id)
    return Page(chosen, None)


def meter_ids_of(view: StateReader, asset_kind: AssetKind, asset: str) -> list[str]:
    """Ids of the meters bound to device or site ``asset``, in id order (the index only)."""
    prefix = keys.asset_meters(asset_kind, asset)
    return [k[len(prefix) :].decode() for k, _ in view.scan(prefix)]


def meters_of(view: StateReader, asset_kind: AssetKind, asset: str) -> list[Meter]:
    """The meters bound to device or site ``asset``, by meter id.

    ``asset_kind`` matters: a device and a site may share an id, and each has its own meters.
    """
    return [m for m in (get_meter(view, i) for i in meter_ids_of(view, asset_kind, asset)) if m]
