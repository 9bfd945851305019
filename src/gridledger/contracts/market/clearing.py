"""``market.clear``: after an interval's gate closure, place its standing orders, match every
bid and offer (:mod:`.matching`) and store the pairings.

**Standing orders.** Consumers' ``clean`` preferences become bids and producers' standing
offers become offers, for every site or device without an order of its own in the interval;
a choice counts only if it was made (``since_s``) before the interval's gate closure, so
clearing an old interval late never places orders nobody chose in time. Preferences are
placed first, then standing offers, each in the order of
``sha256(b"%d/" % start + key)`` (``key`` the choice's state key), which changes from
interval to interval, so time priority among them rotates instead of always favouring the
smallest ids. A choice whose account, asset or meter no longer qualifies, or a bid its balance
cannot fund, is skipped and reported (``market.standing_bid_skipped``,
``market.standing_offer_skipped``).

**Escrow** (market rules 2 on, :data:`~.parameters.RULES_VERSION`). A bid keeps in escrow
only what its pairings can cost (its paired Wh at its own
price, rounded up, :func:`~.matching.escrow_minor`); the rest, all of it for a bid that got no
pairing, goes back to the balance at clearing, so money is never held for energy nobody
offered.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import msgspec

from gridledger.contracts import funds
from gridledger.contracts.base import Context, kind
from gridledger.contracts.market import keys
from gridledger.contracts.market.intervals import IntervalRef, gate_closure_s, interval_for
from gridledger.contracts.market.matching import Match, clear, escrow_minor
from gridledger.contracts.market.orders import ASSET_OF, metered, put_order
from gridledger.contracts.market.parameters import require_tariffs, rules_version
from gridledger.contracts.market.records import (
    IntervalTariffs,
    Order,
    Pairing,
    Preference,
    Side,
    StandingOffer,
)
from gridledger.contracts.registry import account_summary, get_account, get_device, get_site
from gridledger.core.crypto import sha256
from gridledger.core.encoding import canonical
from gridledger.state.state import StateReader, StateWriter, decode_record


class _Clearable(msgspec.Struct, array_like=True):
    """The leading fields of a stored :class:`Order`, all that matching reads (decoding stops
    there, which is most of the cost of reading a large book)."""

    seq: int
    side: str
    account: str
    asset: str
    energy_wh: int
    price_fen_per_kwh: int
    preferred: list[str]


_clearable = msgspec.json.Decoder(_Clearable).decode


@dataclass(frozen=True)
class _Standing:
    """A standing choice as the order it asks for."""

    side: Side
    account: str
    asset: str
    since_s: int
    energy_wh: int | None
    """``None``: the asset's ceiling (site) or nameplate output (device) for one interval."""
    price_fen_per_kwh: int | None
    """``None``: the grid's selling price at clearing (preferences only)."""
    preferred: list[str]


def _rotated(view: StateReader, prefix: bytes, start_s: int) -> list[bytes]:
    """The values under ``prefix`` ordered by ``sha256(b"%d/" % start_s + key)``."""
    salt = b"%d/" % start_s
    ranked = sorted((sha256(salt + k), v) for k, v in view.scan(prefix))
    return [v for _, v in ranked]


def _standing_choices(view: StateReader, start_s: int) -> Iterator[_Standing]:
    """Every standing choice that asks for an order, in placement order."""
    for raw in _rotated(view, keys.preferences(), start_s):
        pref = decode_record(raw, Preference)
        if pref.choice == "clean":
            yield _Standing(
                "bid", pref.account, pref.site, pref.since_s, pref.quantity_wh,
                pref.price_cap_fen_per_kwh, pref.preferred,
            )  # fmt: skip
    for raw in _rotated(view, keys.standing_offers(), start_s):
        so = decode_record(raw, StandingOffer)
        yield _Standing(
            "offer", so.account, so.device, so.since_s, so.quantity_wh,
            so.floor_price_fen_per_kwh, [],
        )  # fmt: skip


def _has_standing_choices(view: StateReader) -> bool:
    return any(
        True for prefix in (keys.preferences(), keys.standing_offers())
        for _ in view.scan_range(prefix, limit=1)
    )  # fmt: skip


def _standing_order(
    state: StateWriter, ctx: Context, start_s: int, interval_s: int, sell: int, c: _Standing
) -> Order | str:
    """Place the order of standing choice ``c``, or say why it was skipped."""
    asset_kind = ASSET_OF[c.side]
    if asset_kind == "site":
        site = get_site(state, c.asset)
        owner = None if site is None else site.owner_org
        ceiling = 0 if site is None else -(-site.max_wh_per_hour * interval_s // 3600)
    else:
        device = get_device(state, c.asset)
        owner = None if device is None else device.owner_org
        ceiling = 0 if device is None else max(device.capacity_w * interval_s // 3600, 1)
    acct = get_account(state, c.account)
    summary = account_summary(state, c.account)
    meters = metered(state, asset_kind, c.asset, interval_s)
    if owner is None or acct is None or summary is None or summary.suspended:
        return f"the account or {asset_kind} is no longer active"
    if owner != acct.org:
        return f"the {asset_kind} changed hands"
    if not meters:
        return f"the {asset_kind} has no meter"
    try:
        return put_order(
            state, ctx, start_s, c.side, c.account, c.asset, meters, c.energy_wh or ceiling,
            c.price_fen_per_kwh or sell, c.preferred, "standing",
        )  # fmt: skip
    except funds.InsufficientBalance as exc:
        return exc.message


def _standing_orders(
    state: StateWriter, ctx: Context, start_s: int, interval_s: int, gate_s: int, sell: int,
    explicit: set[tuple[str, str]],
) -> list[Order]:  # fmt: skip
    """Place the interval's orders from the standing choices made before its gate closure
    (``gate_s``), for assets without an order of their own; report each one skipped."""
    placed: list[Order] = []
    for c in _standing_choices(state, start_s):
        if (c.side, c.asset) in explicit or c.since_s >= gate_s:
            continue
        outcome = _standing_order(state, ctx, start_s, interval_s, sell, c)
        if isinstance(outcome, Order):
            placed.append(outcome)
            continue
        ctx.emit(
            f"market.standing_{c.side}_skipped",
            account=c.account,
            **{ASSET_OF[c.side]: c.asset},
            reason=outcome,
        )
    return placed


def _write_pairings(
    state: StateWriter,
    start_s: int,
    bids: list[_Clearable | Order],
    offers: list[_Clearable | Order],
    matches: list[Match],
) -> None:
    """Store each match as a pairing (the hot loop of clearing: positional records, prebuilt
    byte prefixes)."""
    prefix = keys.pairings(start_s)
    set_ = state.set
    for n, (i, j, energy_wh, price, stage) in enumerate(matches):
        bid, offer = bids[i], offers[j]
        pairing = Pairing(
            f"{start_s}-{n:08d}", start_s, bid.seq, offer.seq, bid.account, bid.asset,
            offer.account, offer.asset, energy_wh, price, stage,
        )  # fmt: skip
        set_(prefix + keys.pairing_number(n), canonical(pairing))


def _release_unmatched(
    state: StateWriter, start_s: int, bids: list[_Clearable | Order], matches: list[Match]
) -> int:
    """Give back the escrow each bid holds beyond what its pairings can cost; returns the fen
    released. Each pairing costs at most its Wh at the bid's price (no mechanism pairs a bid
    above its price), so what stays covers settlement."""
    paired = [0] * len(bids)
    for m in matches:
        paired[m.bid] += m.energy_wh
    released = 0
    for bid, paired_wh in zip(bids, paired, strict=True):
        if paired_wh >= bid.energy_wh:
            continue
        order = bid if isinstance(bid, Order) else state.get_record(
            keys.order(start_s, bid.seq), Order
        )  # fmt: skip
        assert order is not None, "a scanned order exists"
        keep = escrow_minor(paired_wh, order.price_fen_per_kwh)
        if order.escrow_fen <= keep:
            continue
        funds.release(state, order.account, order.escrow_fen - keep)
        released += order.escrow_fen - keep
        state.put(keys.order(start_s, order.seq), msgspec.structs.replace(order, escrow_fen=keep))
    return released


@kind("market.clear", IntervalRef)
def apply_clear(state: StateWriter, ctx: Context, body: IntervalRef) -> None:
    """Clear an interval after its gate closure: standing orders, matching, pairings."""
    start = body.interval
    t = require_tariffs(state)
    record, rules, _ = interval_for(state, start, ctx.time_ms, "clear")
    orders: list[_Clearable | Order] = [_clearable(v) for _, v in state.scan(keys.orders(start))]
    if _has_standing_choices(state):
        explicit = {(o.side, o.asset) for o in orders}
        orders += _standing_orders(
            state, ctx, start, record.interval_s, gate_closure_s(start, rules),
            t.sell_price_fen_per_kwh, explicit,
        )  # fmt: skip
    bids = [o for o in orders if o.side == "bid"]
    offers = [o for o in orders if o.side == "offer"]
    result = clear(bids, offers, rules.mechanism)
    _write_pairings(state, start, bids, offers, result.matches)
    version = rules_version(state)
    released = _release_unmatched(state, start, bids, result.matches) if version > 1 else 0
    cleared = msgspec.structs.replace(
        record,
        status="cleared",
        mechanism=rules.mechanism,
        bids=len(bids),
        offers=len(offers),
        demand_wh=sum(o.energy_wh for o in bids),
        supply_wh=sum(o.energy_wh for o in offers),
        volume_wh=result.volume_wh,
        clearing_price_fen_per_kwh=result.clearing_price_fen_per_kwh,
        pairings=len(result.matches),
        cleared_at_s=ctx.time_s,
        cleared_height=ctx.height,
        tariffs=IntervalTariffs(
            grid_account=t.grid_account,
            sell_price_fen_per_kwh=t.sell_price_fen_per_kwh,
            feed_in_price_fen_per_kwh=t.feed_in_price_fen_per_kwh,
        ),
    )
    state.put(keys.interval(start), cleared)
    # rules 1 report what they always did
    extra = {"escrow_released": released} if version > 1 else {}
    ctx.emit(
        "market.cleared",
        interval=start,
        mechanism=rules.mechanism,
        clearing_price=result.clearing_price_fen_per_kwh,
        volume_wh=result.volume_wh,
        pairings=len(result.matches),
        **extra,
    )
