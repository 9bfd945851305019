"""Orders and standing choices: bids (``market.place_bid``), offers (``market.place_offer``),
cancelling (``market.cancel_order``), a consumer's choice of clean or grid power
(``market.set_preference``) and a producer's standing offer (``market.set_standing_offer``).

A bid locks its cost at its own price in ``funds`` escrow when placed
(:func:`~.matching.escrow_minor`); an order records the ids of its site's or plant's meters
whose readings add up to whole market intervals, which settlement reads.
"""

from __future__ import annotations

from gridledger.contracts import funds
from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.market import keys
from gridledger.contracts.market.errors import (
    InvalidPreference,
    InvalidPrice,
    NoMeter,
    NotAssetOwner,
    NotOrderOwner,
    UnknownAsset,
    UnknownOrder,
)
from gridledger.contracts.market.intervals import interval_for
from gridledger.contracts.market.matching import escrow_minor
from gridledger.contracts.market.parameters import (
    check_preferred,
    check_price,
    check_quantity,
    params,
)
from gridledger.contracts.market.records import (
    Order,
    Preference,
    Side,
    Source,
    StandingOffer,
)
from gridledger.contracts.registry import (
    AssetKind,
    get_device,
    get_site,
    meters_of,
    sender_org,
)
from gridledger.state.state import StateReader, StateWriter

CHOICES = ("clean", "grid")
ASSET_OF: dict[Side, AssetKind] = {"bid": "site", "offer": "device"}
"""What each side trades for: a bid a consumption site, an offer a generating device."""


def metered(view: StateReader, asset_kind: AssetKind, asset: str, interval_s: int) -> list[str]:
    """Ids of the asset's meters whose readings add up to whole market intervals."""
    return [m.id for m in meters_of(view, asset_kind, asset) if m.interval_s <= interval_s]


def owned_meters(
    view: StateReader, ctx: Context, asset_kind: AssetKind, asset: str, interval_s: int
) -> list[str]:
    """The meters of a site or device of the sender's organisation, for an order.

    Raises:
        UnknownAsset, NotAssetOwner, NoMeter.
    """
    record = get_site(view, asset) if asset_kind == "site" else get_device(view, asset)
    if record is None:
        raise UnknownAsset(f"no {asset_kind} {asset!r}")
    org = sender_org(view, ctx)
    if record.owner_org != org:
        raise NotAssetOwner(f"{asset_kind} {asset!r} belongs to {record.owner_org!r}, not {org!r}")
    meters = metered(view, asset_kind, asset, interval_s)
    if not meters:
        what = "consumption" if asset_kind == "site" else "generation"
        raise NoMeter(f"{asset_kind} {asset!r} has no {what} meter of {interval_s} s or finer")
    return meters


def require_devices(view: StateReader, devices: list[str]) -> None:
    for d in devices:
        if get_device(view, d) is None:
            raise UnknownAsset(f"preferred plant {d!r} is not a registered device")


def _next_seq(state: StateWriter) -> int:
    seq = state.get_int(keys.seq()) + 1
    state.set_int(keys.seq(), seq)
    return seq


def put_order(
    state: StateWriter,
    ctx: Context,
    start_s: int,
    side: Side,
    account: str,
    asset: str,
    meters: list[str],
    energy_wh: int,
    price_fen_per_kwh: int,
    preferred: list[str],
    source: Source,
) -> Order:
    """Number and store an order; a bid's cost moves from the balance into escrow.

    Raises:
        InsufficientBalance (funds): a bid the balance cannot cover.
    """
    escrow = escrow_minor(energy_wh, price_fen_per_kwh) if side == "bid" else 0
    if escrow:
        funds.hold(state, account, escrow)
    order = Order(
        seq=_next_seq(state),
        side=side,
        account=account,
        asset=asset,
        energy_wh=energy_wh,
        price_fen_per_kwh=price_fen_per_kwh,
        preferred=preferred,
        escrow_fen=escrow,
        interval_start_s=start_s,
        height=ctx.height,
        meters=meters,
        source=source,
    )
    state.put(keys.order(start_s, order.seq), order)
    return order


def _place(
    state: StateWriter,
    ctx: Context,
    side: Side,
    start_s: int,
    asset: str,
    energy_wh: int,
    price: int,
    preferred: list[str],
) -> None:
    """Place a single bid (for a site) or offer (for a plant) and report it."""
    record, _, new = interval_for(state, start_s, ctx.time_ms, "order")
    meters = owned_meters(state, ctx, ASSET_OF[side], asset, record.interval_s)
    require_devices(state, preferred)
    if new:
        state.put(keys.interval(start_s), record)
    order = put_order(
        state, ctx, start_s, side, ctx.sender, asset, meters, energy_wh, price, preferred,
        "single",
    )  # fmt: skip
    ctx.emit(
        f"market.{side}_placed",
        interval=start_s,
        order=order.seq,
        account=ctx.sender,
        **{ASSET_OF[side]: asset},
        quantity_wh=energy_wh,
        price=price,
        escrow=order.escrow_fen,
    )


# orders ----------------------------------------------------------------------------------------
class PlaceBid(Body):
    interval: Int64
    """Start of the interval, Unix seconds UTC."""
    site: str
    """The consumption site the energy is for (owned by the sender's organisation)."""
    quantity_wh: Int64
    price: Int64
    """The most the bid pays, fen per kWh."""
    preferred: list[str] = []
    """Preferred plants (device ids), first choice first."""

    def check(self) -> None:
        check_quantity(self.quantity_wh)
        check_price(self.price)
        check_preferred(self.preferred)


@kind("market.place_bid", PlaceBid, roles=("consumer",))
def apply_place_bid(state: StateWriter, ctx: Context, body: PlaceBid) -> None:
    """Bid for clean power for one interval; the bid's cost at its price is escrowed."""
    _place(
        state, ctx, "bid", body.interval, body.site, body.quantity_wh, body.price,
        list(body.preferred),
    )  # fmt: skip


class PlaceOffer(Body):
    interval: Int64
    device: str
    """The generating plant (owned by the sender's organisation)."""
    quantity_wh: Int64
    price: Int64
    """The least the offer takes, fen per kWh."""

    def check(self) -> None:
        check_quantity(self.quantity_wh)
        check_price(self.price)


@kind("market.place_offer", PlaceOffer, roles=("producer",))
def apply_place_offer(state: StateWriter, ctx: Context, body: PlaceOffer) -> None:
    """Offer a plant's energy for one interval at a floor price."""
    _place(state, ctx, "offer", body.interval, body.device, body.quantity_wh, body.price, [])


class CancelOrder(Body):
    interval: Int64
    order: Int64
    """The order's number (``seq``)."""


@kind("market.cancel_order", CancelOrder)
def apply_cancel_order(state: StateWriter, ctx: Context, body: CancelOrder) -> None:
    """Withdraw an order before gate closure; a bid's escrow returns to the balance."""
    key = keys.order(body.interval, body.order)
    order = state.get_record(key, Order)
    if order is None:
        raise UnknownOrder(f"no order {body.order} in interval {body.interval}")
    if order.account != ctx.sender:
        raise NotOrderOwner(f"order {body.order} belongs to {order.account!r}")
    interval_for(state, body.interval, ctx.time_ms, "order")
    funds.release(state, ctx.sender, order.escrow_fen)
    state.delete(key)
    ctx.emit(
        "market.order_cancelled",
        interval=body.interval,
        order=body.order,
        released=order.escrow_fen,
    )


# standing choices ------------------------------------------------------------------------------
class SetPreference(Body):
    site: str
    choice: str
    """``clean``: bid for this site every interval; ``grid``: no bids (grid supply only)."""
    price_cap: Int64 | None = None
    """The most to pay per kWh (fen); by default the grid's selling price at clearing."""
    preferred: list[str] = []
    quantity_wh: Int64 | None = None
    """Wh to bid per interval; by default the site's ceiling for one interval."""

    def check(self) -> None:
        if self.choice not in CHOICES:
            raise InvalidPreference(f"choice must be 'clean' or 'grid', not {self.choice!r}")
        if self.price_cap is not None:
            check_price(self.price_cap, "price_cap")
        if self.quantity_wh is not None:
            check_quantity(self.quantity_wh)
        check_preferred(self.preferred)


@kind("market.set_preference", SetPreference, roles=("consumer",))
def apply_set_preference(state: StateWriter, ctx: Context, body: SetPreference) -> None:
    """Choose clean or grid power for a site, once: bids follow every interval from it."""
    owned_meters(state, ctx, "site", body.site, params(state).interval_s)
    require_devices(state, body.preferred)
    value = Preference(
        account=ctx.sender,
        site=body.site,
        choice="clean" if body.choice == "clean" else "grid",
        price_cap_fen_per_kwh=body.price_cap,
        preferred=list(body.preferred),
        quantity_wh=body.quantity_wh,
        height=ctx.height,
        since_s=ctx.time_s,
    )
    state.put(keys.preference(ctx.sender, body.site), value)
    ctx.emit("market.preference_set", account=ctx.sender, site=body.site, choice=body.choice)


class SetStandingOffer(Body):
    device: str
    floor_price: Int64 | None = None
    """The least to take per kWh (fen); needed unless the offer is withdrawn."""
    quantity_wh: Int64 | None = None
    """Wh to offer per interval; by default the plant's nameplate output for one interval."""
    active: bool = True
    """False withdraws the standing offer."""

    def check(self) -> None:
        if self.active and self.floor_price is None:
            raise InvalidPrice("a standing offer needs a floor_price")
        if self.floor_price is not None:
            check_price(self.floor_price, "floor_price")
        if self.quantity_wh is not None:
            check_quantity(self.quantity_wh)


@kind("market.set_standing_offer", SetStandingOffer, roles=("producer",))
def apply_set_standing_offer(state: StateWriter, ctx: Context, body: SetStandingOffer) -> None:
    """Offer a plant's output every interval at a floor price (or stop doing so)."""
    owned_meters(state, ctx, "device", body.device, params(state).interval_s)
    key = keys.standing_offer(body.device)
    if not body.active or body.floor_price is None:
        state.delete(key)
    else:
        value = StandingOffer(
            account=ctx.sender,
            device=body.device,
            floor_price_fen_per_kwh=body.floor_price,
            quantity_wh=body.quantity_wh,
            height=ctx.height,
            since_s=ctx.time_s,
        )
        state.put(key, value)
    ctx.emit(
        "market.standing_offer_set",
        device=body.device,
        floor_price=body.floor_price,
        active=body.active,
    )
