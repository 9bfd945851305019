"""Reading, checking, hashing, splitting and writing bundles: what every action shares.

Written by hand: a bundle's hash and its range arithmetic are this scheme's own rules.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator

import msgspec

from gridledger.contracts.base import Context
from gridledger.contracts.certificates import keys
from gridledger.contracts.certificates.errors import (
    BadQuantity,
    Expired,
    Locked,
    NotLive,
    NotOwner,
    UnknownBundle,
)
from gridledger.contracts.certificates.records import (
    IMMUTABLE_FIELDS,
    LIVE,
    Bundle,
    SchemeParams,
    Status,
)
from gridledger.core.crypto import sha256
from gridledger.core.encoding import canonical
from gridledger.state.state import StateReader, StateWriter, decode_record

DOMAIN_CERTIFICATE = b"gridledger/certificate/v1\n"
"""Prefix of the bytes a bundle's hash covers."""


def bundle_id(device: str, range_start: int) -> str:
    return f"{device}:{range_start}"


def issuance_id(device: str, start_s: int) -> str:
    return f"{device}:{start_s}"


def parse_bundle_id(value: str) -> tuple[str, int] | None:
    """``(device, range_start)`` of a bundle id, or ``None`` when it is not one."""
    device, sep, start = value.rpartition(":")
    if not sep or not device or not start.isdigit() or len(start) > 19:
        return None
    return device, int(start)


_DAY_S = 86_400
_LAST_DAY_S = 253_402_214_400
"""9999-12-31 00:00 UTC: times from here on are left to ``datetime`` (and its range errors)."""


def month_of(time_s: int) -> str:
    """The ``YYYY-MM`` (UTC) a time falls in."""
    if 0 <= time_s < _LAST_DAY_S:
        # months turn at UTC midnight, so the day decides: an issuance of a month of hours
        # asks for the same few dozen days
        return _month_of_day(time_s // _DAY_S)
    return dt.datetime.fromtimestamp(time_s, dt.UTC).strftime("%Y-%m")


@functools.lru_cache(maxsize=4096)
def _month_of_day(day: int) -> str:
    return dt.datetime.fromtimestamp(day * _DAY_S, dt.UTC).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[int, int]:
    """Start and end (exclusive) of a ``YYYY-MM`` month, Unix seconds UTC (``ValueError``
    when it is not one)."""
    if len(month) != 7 or month[4] != "-":
        raise ValueError(month)
    year, mon = int(month[:4]), int(month[5:])
    start = dt.datetime(year, mon, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=dt.UTC)
    return int(start.timestamp()), int(end.timestamp())


decode = msgspec.json.Decoder(Bundle).decode
"""A stored bundle's bytes as a :class:`Bundle`."""


def bundle_hash(bundle: Bundle) -> str:
    """SHA-256 (hex) of the domain and the canonical JSON object of the bundle's
    :data:`IMMUTABLE_FIELDS` (``origin`` and ``parent_hash`` null when absent)."""
    fields = dict(zip(IMMUTABLE_FIELDS, _immutable_values(bundle), strict=True))
    return sha256(DOMAIN_CERTIFICATE + canonical(fields)).hex()


_immutable_values = operator.attrgetter(*IMMUTABLE_FIELDS)
"""A bundle's :data:`IMMUTABLE_FIELDS` values, in that order."""


def params(view: StateReader) -> SchemeParams:
    return view.get_record(keys.params(), SchemeParams) or SchemeParams()


def get_bundle(view: StateReader, bundle: str) -> Bundle | None:
    parsed = parse_bundle_id(bundle)
    if parsed is None:
        return None
    raw = view.get(keys.bundle(*parsed))
    return None if raw is None else decode_record(raw, Bundle)


def load(view: StateReader, bundle: str) -> Bundle:
    """The bundle, its range checked (raises :class:`UnknownBundle`)."""
    found = get_bundle(view, bundle)
    if found is None:
        raise UnknownBundle(f"no certificate bundle {bundle!r}")
    if found.quantity_wh != found.range_end - found.range_start + 1 or found.range_start < 1:
        raise AssertionError(f"bundle {bundle} holds a broken range")  # a bug, never input
    return found


def save(state: StateWriter, bundle: Bundle) -> None:
    state.put(keys.bundle(bundle.device, bundle.range_start), bundle)


def status_at(bundle: Bundle, time_s: int) -> Status:
    """The bundle's status at ``time_s``: a live bundle past its expiry is expired."""
    if bundle.status in LIVE and time_s >= bundle.expires_s:
        return "expired"
    return bundle.status


def require_live(bundle: Bundle, ctx: Context, *, locked_ok: bool = False) -> None:
    """Refuse unless the bundle is live at block time (and unlocked, unless ``locked_ok``)."""
    status = status_at(bundle, ctx.time_s)
    if status == "expired":
        raise Expired(f"bundle {bundle.id} expired at {bundle.expires_s}")
    if status not in LIVE:
        raise NotLive(f"bundle {bundle.id} is {status}")
    if status == "locked" and not locked_ok:
        raise Locked(f"bundle {bundle.id} is locked for {bundle.locked_for}")


def require_owner(bundle: Bundle, account: str) -> None:
    if bundle.owner != account:
        raise NotOwner(f"bundle {bundle.id} is held by another account, not {account}")


def held_live(view: StateReader, bundle: str, ctx: Context) -> Bundle:
    """The sender's live, unlocked bundle."""
    found = load(view, bundle)
    require_owner(found, ctx.sender)
    require_live(found, ctx)
    return found


def _child(parent: Bundle, start: int, end: int, height: int) -> Bundle:
    child = msgspec.structs.replace(
        parent,
        id=bundle_id(parent.device, start),
        range_start=start,
        range_end=end,
        quantity_wh=end - start + 1,
        parent_hash=parent.hash,
        updated_height=height,
    )
    child.hash = bundle_hash(child)
    return child


def split(state: StateWriter, parent: Bundle, quantities: list[int], height: int) -> list[Bundle]:
    """Replace ``parent`` by children of ``quantities`` Wh (in id order, each > 0, summing to
    the parent's), each carrying the parent's hash; returns them, written."""
    if any(q <= 0 for q in quantities) or sum(quantities) != parent.quantity_wh:
        raise AssertionError("callers check split quantities")
    children = []
    start = parent.range_start
    for q in quantities:
        child = _child(parent, start, start + q - 1, height)
        save(state, child)
        children.append(child)
        start += q
    return children


def take(state: StateWriter, bundle: Bundle, quantity: int | None, height: int) -> Bundle:
    """``quantity`` Wh from the start of ``bundle`` as a bundle of its own (the whole bundle
    when ``quantity`` is ``None`` or all of it); the rest stays as it was, split off."""
    if quantity is None or quantity == bundle.quantity_wh:
        return bundle
    if not 0 < quantity < bundle.quantity_wh:
        raise BadQuantity(
            f"quantity {quantity} Wh: bundle {bundle.id} holds {bundle.quantity_wh} Wh"
        )
    first, _rest = split(state, bundle, [quantity, bundle.quantity_wh - quantity], height)
    return first


def update(state: StateWriter, bundle: Bundle, height: int, **changes: object) -> Bundle:
    """The bundle with its mutable ``changes``, written."""
    changed = msgspec.structs.replace(bundle, updated_height=height, **changes)
    save(state, changed)
    return changed
