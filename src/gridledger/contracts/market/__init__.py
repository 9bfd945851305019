"""The peer-to-peer clean-power market: orders, clearing per interval, settlement by the meters.

Units: energy in Wh, prices in minor currency units per kWh, money in minor units. A pairing of
``wh`` at ``price`` costs ``wh * price // 1000`` (see :mod:`gridledger.contracts.market.matching`).

Intervals are aligned UTC periods of ``interval_s`` (hourly by default) named by their start
(Unix seconds). An interval takes orders until its **gate closure**, ``gate_closure_s`` before it
starts; from then on anyone may send ``market.clear`` for it, and the result depends only on the
ledger. Once it has ended and its meter data is final, anyone may send ``market.settle``.

State keys (values canonical JSON unless said otherwise):

* ``market/params`` ``{"interval_s", "mechanism", "gate_closure_s", "horizon_s",
  "data_deadline_s"}`` (operator);
* ``market/tariffs`` ``{"grid_account", "sell_price", "feed_in_price", "height"}``: the grid as
  market maker (grid operator): it sells at ``sell_price`` and buys at ``feed_in_price``;
* ``market/seq`` the last order number (decimal);
* ``market/order/<start>/<seq>`` a JSON array ``[seq, side ("bid" | "offer"), account, asset,
  qty_wh, price, preferred, escrow, interval, height, meters, source ("single" | "standing")]``;
  ``asset`` is the bid's site or the offer's device, ``meters`` its ``[meter, interval_s]``
  pairs at placement;
* ``market/preference/<account>/<site>`` a consumer's standing choice ``{"account", "site",
  "choice": "clean" | "grid", "price_cap", "preferred", "quantity_wh", "height", "since"}``;
* ``market/standing_offer/<device>`` ``{"account", "device", "floor_price", "quantity_wh",
  "height", "since"}``; standing choices count for intervals whose gate closure comes after
  ``since`` (block time, Unix seconds) — clearing an old interval late adds nothing to it;
* ``market/interval/<start>`` ``{"start", "interval_s", "status": "open" | "cleared" | "settled",
  ...}`` with the clearing result and, once settled, its totals;
* ``market/pairing/<start>/<n>`` a JSON array ``[id, interval, bid, offer, consumer, site,
  producer, device, wh, price, stage]``, with ``delivered_wh, amount`` appended once settled;
  ``id`` is ``<start>-<n>``, the same for both parties (orders and pairings, the bulk records,
  are arrays: several times cheaper to encode and decode than objects);
* ``market/party/<account>/<start>`` ``[n, ...]``: the numbers of the account's pairings in the
  interval (as consumer or producer), written at settlement;
* ``market/grid/<start>/<direction>/<site or device>`` ``{"account", "direction": "import" |
  "export", "wh", "amount", "unpaid"}``: what settled with the grid;
* ``market/stats/<account>`` running totals (consumed, clean, grid, paid; generated, sold,
  exported, revenue) and ``market/sold/<device>/<consumer>`` ``{"wh", "amount"}``;
* ``market/arrears/<debtor>/<creditor>`` minor units owed after a settlement found the debtor's
  balance short (``market.pay_arrears`` pays them).

Start and sequence numbers in keys are zero-padded (10 and 12 digits; pairings 8), so keys sort
in time order. A bid locks ``escrow_minor(qty, price)`` in ``funds`` when placed (its quantity at
its price, rounded up); settlement pays its deliveries from that escrow and releases the rest,
so a bid that found no offer gets its funds back when its interval settles. An order records the
meters of its site or plant at placement (``meters``: ``[id, interval_s]`` pairs); settlement
reads exactly those meters' readings for the interval, corrections applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from gridledger.contracts import funds, metering
from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.market.matching import (
    MECHANISMS,
    Match,
    Pairing,
    clear,
    cost_minor,
    deliver,
    escrow_minor,
)
from gridledger.contracts.registry import (
    INTERVALS_S,
    AssetKind,
    account_summary,
    get_account,
    get_device,
    get_site,
    meters_of,
    sender_org,
)
from gridledger.core.crypto import sha256
from gridledger.core.encoding import canonical, decode_json
from gridledger.core.errors import InvalidTransaction
from gridledger.state.state import StateReader, StateWriter

PARAMS_KEY = b"market/params"
TARIFFS_KEY = b"market/tariffs"
SEQ_KEY = b"market/seq"
DEFAULT_PARAMS: dict[str, Any] = {
    "data_deadline_s": 86_400,
    "gate_closure_s": 300,
    "horizon_s": 7 * 86_400,
    "interval_s": 3600,
    "mechanism": "pay_as_clear",
}
MAX_QTY_WH = 10**10
"""10 GWh in one order: more than any plant delivers in a day."""
MAX_PRICE = 10**7
"""100,000 currency units per kWh (in minor units)."""
MAX_PREFERRED = 10
CHOICES = ("clean", "grid")


# records -------------------------------------------------------------------------------------
class MeterRef(msgspec.Struct, array_like=True):
    """A meter counted for an order's asset, and its reading interval."""

    id: str
    interval_s: int


class OrderRecord(msgspec.Struct, array_like=True):
    """An order as stored: a JSON array in this field order (orders and pairings are the
    market's bulk records, and arrays encode and decode several times faster than objects)."""

    seq: int
    side: str
    account: str
    asset: str
    qty_wh: int
    price: int
    preferred: list[str]
    escrow: int
    interval: int
    height: int
    meters: list[MeterRef]
    source: str


class PairingRecord(msgspec.Struct, array_like=True, omit_defaults=True):
    """A pairing as stored: a JSON array in this field order; ``delivered_wh`` and ``amount``
    are appended by the settlement."""

    id: str
    interval: int
    bid: int
    offer: int
    consumer: str
    site: str
    producer: str
    device: str
    wh: int
    price: int
    stage: str
    delivered_wh: int | None = None
    amount: int | None = None


class _Clearable(msgspec.Struct, array_like=True):
    """The leading fields of a stored order, all that clearing reads (decoding stops there)."""

    seq: int
    side: str
    account: str
    asset: str
    qty_wh: int
    price: int
    preferred: list[str]


_order_decoder = msgspec.json.Decoder(OrderRecord)


def order_view(raw: bytes) -> dict[str, Any]:
    """A stored order as an object (``meters`` as ``[id, interval_s]`` pairs)."""
    order = _order_decoder.decode(raw)
    view = msgspec.structs.asdict(order)
    view["meters"] = [[m.id, m.interval_s] for m in order.meters]
    return view


def pairing_view(raw: bytes) -> dict[str, Any]:
    """A stored pairing as an object; ``delivered_wh`` and ``amount`` null until settled."""
    return msgspec.structs.asdict(_pairing_decoder.decode(raw))


_clearable_decoder = msgspec.json.Decoder(_Clearable)
_pairing_decoder = msgspec.json.Decoder(PairingRecord)


# errors --------------------------------------------------------------------------------------
class InvalidQuantity(InvalidTransaction):
    code = "market.invalid_quantity"
    default_message = f"quantities are whole Wh from 1 to {MAX_QTY_WH}"


class InvalidPrice(InvalidTransaction):
    code = "market.invalid_price"
    default_message = f"prices are minor units per kWh from 1 to {MAX_PRICE}"


class InvalidInterval(InvalidTransaction):
    code = "market.invalid_interval"
    default_message = "the interval start is not aligned to the market interval (UTC)"


class IntervalPast(InvalidTransaction):
    code = "market.interval_past"
    default_message = "the interval has ended"


class IntervalClosed(InvalidTransaction):
    code = "market.interval_closed"
    default_message = "the interval no longer takes orders (gate closure passed or cleared)"


class TooFarAhead(InvalidTransaction):
    code = "market.too_far_ahead"
    default_message = "the interval starts beyond the market's horizon"


class UnknownAsset(InvalidTransaction):
    code = "market.unknown_asset"
    default_message = "no such site or device"


class NotAssetOwner(InvalidTransaction):
    code = "market.not_owner"
    default_message = "the site or device belongs to another organisation"


class NoMeter(InvalidTransaction):
    code = "market.no_meter"
    default_message = "the site or device has no meter reporting within the market interval"


class InvalidPreference(InvalidTransaction):
    code = "market.invalid_preference"
    default_message = "a preference chooses clean or grid and names up to 10 distinct plants"


class UnknownOrder(InvalidTransaction):
    code = "market.unknown_order"
    default_message = "no open order with this number in this interval"


class NotOrderOwner(InvalidTransaction):
    code = "market.not_order_owner"
    default_message = "only the account that placed an order may cancel it"


class CutoffNotReached(InvalidTransaction):
    code = "market.cutoff_not_reached"
    default_message = "the interval's gate closure has not passed yet"


class AlreadyCleared(InvalidTransaction):
    code = "market.already_cleared"
    default_message = "the interval has been cleared already"


class NotCleared(InvalidTransaction):
    code = "market.not_cleared"
    default_message = "the interval has not been cleared"


class AlreadySettled(InvalidTransaction):
    code = "market.already_settled"
    default_message = "the interval has been settled already"


class DataNotFinal(InvalidTransaction):
    code = "market.data_not_final"
    default_message = "the interval's meter data is not final yet"


class NoTariffs(InvalidTransaction):
    code = "market.no_tariffs"
    default_message = "the grid operator has not set the grid tariffs"


class InvalidParams(InvalidTransaction):
    code = "market.invalid_params"
    default_message = "invalid market parameters"


class NoArrears(InvalidTransaction):
    code = "market.no_arrears"
    default_message = "nothing is owed to this creditor"


# keys and reads ------------------------------------------------------------------------------
def _start(start: int) -> str:
    return f"{start:010d}"


def order_prefix(start: int) -> bytes:
    return f"market/order/{_start(start)}/".encode()


def order_key(start: int, seq: int) -> bytes:
    return f"market/order/{_start(start)}/{seq:012d}".encode()


def interval_key(start: int) -> bytes:
    return f"market/interval/{_start(start)}".encode()


def pairing_prefix(start: int) -> bytes:
    return f"market/pairing/{_start(start)}/".encode()


def pairing_key(start: int, n: int) -> bytes:
    return f"market/pairing/{_start(start)}/{n:08d}".encode()


def party_key(account: str, start: int) -> bytes:
    return f"market/party/{account}/{_start(start)}".encode()


def preference_key(account: str, site: str) -> bytes:
    return f"market/preference/{account}/{site}".encode()


def standing_offer_key(device: str) -> bytes:
    return f"market/standing_offer/{device}".encode()


def grid_key(start: int, direction: str, asset: str) -> bytes:
    """``direction`` is ``import`` (a site's) or ``export`` (a device's): a site and a device
    may share an id."""
    return f"market/grid/{_start(start)}/{direction}/{asset}".encode()


def stats_key(account: str) -> bytes:
    return f"market/stats/{account}".encode()


def sold_key(device: str, consumer: str) -> bytes:
    return f"market/sold/{device}/{consumer}".encode()


def arrears_key(debtor: str, creditor: str) -> bytes:
    return f"market/arrears/{debtor}/{creditor}".encode()


def params(state: StateReader) -> dict[str, Any]:
    value: dict[str, Any] | None = state.get_json(PARAMS_KEY)
    return value if value is not None else dict(DEFAULT_PARAMS)


def tariffs(state: StateReader) -> dict[str, Any] | None:
    value: dict[str, Any] | None = state.get_json(TARIFFS_KEY)
    return value


def get_interval(state: StateReader, start: int) -> dict[str, Any] | None:
    value: dict[str, Any] | None = state.get_json(interval_key(start))
    return value


def _require_tariffs(state: StateReader) -> dict[str, Any]:
    t = tariffs(state)
    if t is None:
        raise NoTariffs
    return t


def _check_qty(qty: int, what: str = "quantity_wh") -> None:
    if not 1 <= qty <= MAX_QTY_WH:
        raise InvalidQuantity(f"{what} {qty} must be a whole number of Wh from 1 to {MAX_QTY_WH}")


def _check_price(price: int, what: str = "price") -> None:
    if not 1 <= price <= MAX_PRICE:
        raise InvalidPrice(f"{what} {price} must be minor units per kWh from 1 to {MAX_PRICE}")


def _check_preferred(preferred: list[str]) -> None:
    if len(preferred) > MAX_PREFERRED or len(set(preferred)) != len(preferred):
        raise InvalidPreference(
            f"preferred names up to {MAX_PREFERRED} distinct plants, got {preferred!r}"
        )


def _metered(
    state: StateReader, asset_kind: AssetKind, asset: str, interval_s: int
) -> list[MeterRef]:
    """The asset's meters whose readings add up to whole market intervals."""
    return [
        MeterRef(m.id, m.interval_s)
        for m in meters_of(state, asset_kind, asset)
        if m.interval_s <= interval_s
    ]


def _owned_site(state: StateReader, ctx: Context, site: str, interval_s: int) -> list[MeterRef]:
    record = get_site(state, site)
    if record is None:
        raise UnknownAsset(f"no site {site!r}")
    org = sender_org(state, ctx)
    if record.owner_org != org:
        raise NotAssetOwner(f"site {site!r} belongs to {record.owner_org!r}, not {org!r}")
    meters = _metered(state, "site", site, interval_s)
    if not meters:
        raise NoMeter(f"site {site!r} has no consumption meter of {interval_s} s or finer")
    return meters


def _owned_device(state: StateReader, ctx: Context, device: str, interval_s: int) -> list[MeterRef]:
    record = get_device(state, device)
    if record is None:
        raise UnknownAsset(f"no device {device!r}")
    org = sender_org(state, ctx)
    if record.owner_org != org:
        raise NotAssetOwner(f"device {device!r} belongs to {record.owner_org!r}, not {org!r}")
    meters = _metered(state, "device", device, interval_s)
    if not meters:
        raise NoMeter(f"device {device!r} has no generation meter of {interval_s} s or finer")
    return meters


def _require_devices(state: StateReader, devices: list[str]) -> None:
    for d in devices:
        if get_device(state, d) is None:
            raise UnknownAsset(f"preferred plant {d!r} is not a registered device")


def _open_interval(state: StateWriter, ctx: Context, start: int) -> dict[str, Any]:
    """The interval's record if it still takes orders; created on the first order."""
    record = get_interval(state, start)
    p = params(state)
    interval_s = record["interval_s"] if record is not None else p["interval_s"]
    if start < 0 or start % interval_s:
        raise InvalidInterval(f"interval {start} is not aligned to {interval_s} s")
    now = ctx.time_ms
    if (start + interval_s) * 1000 <= now:
        raise IntervalPast(f"interval {start} ended before block time {now // 1000}")
    gate = (start - p["gate_closure_s"]) * 1000
    if record is not None and record["status"] != "open":
        raise IntervalClosed(f"interval {start} is {record['status']}")
    if now >= gate:
        raise IntervalClosed(f"interval {start} closed for orders at {gate // 1000}")
    if start * 1000 > now + p["horizon_s"] * 1000:
        raise TooFarAhead(f"interval {start} is beyond the {p['horizon_s']} s horizon")
    if record is None:
        record = {"start": start, "interval_s": interval_s, "status": "open"}
        state.set_json(interval_key(start), record)
    return record


def _next_seq(state: StateWriter) -> int:
    seq = state.get_int(SEQ_KEY) + 1
    state.set_int(SEQ_KEY, seq)
    return seq


def _put_order(
    state: StateWriter,
    ctx: Context,
    start: int,
    side: str,
    asset: str,
    meters: list[MeterRef],
    qty: int,
    price: int,
    preferred: list[str],
    source: str,
    account: str | None = None,
) -> OrderRecord:
    owner = account or ctx.sender
    escrow = escrow_minor(qty, price) if side == "bid" else 0
    if escrow:
        funds.hold(state, owner, escrow)
    seq = _next_seq(state)
    order = OrderRecord(
        account=owner,
        asset=asset,
        escrow=escrow,
        height=ctx.height,
        interval=start,
        meters=meters,
        preferred=preferred,
        price=price,
        qty_wh=qty,
        seq=seq,
        side=side,
        source=source,
    )
    state.set(order_key(start, seq), canonical(order))
    return order


# orders --------------------------------------------------------------------------------------
class PlaceBid(Body):
    interval: Int64
    """Start of the interval, Unix seconds UTC."""
    site: str
    """The consumption site the energy is for (owned by the sender's organisation)."""
    quantity_wh: Int64
    price: Int64
    """The most the bid pays, minor units per kWh."""
    preferred: list[str] = []
    """Preferred plants (device ids), first choice first."""

    def check(self) -> None:
        _check_qty(self.quantity_wh)
        _check_price(self.price)
        _check_preferred(self.preferred)


def _place(
    state: StateWriter,
    ctx: Context,
    side: str,
    interval: int,
    asset: str,
    quantity_wh: int,
    price: int,
    preferred: list[str],
) -> None:
    """Place a single bid (for a site) or offer (for a plant) and report it."""
    record = _open_interval(state, ctx, interval)
    if side == "bid":
        meters = _owned_site(state, ctx, asset, record["interval_s"])
        _require_devices(state, preferred)
    else:
        meters = _owned_device(state, ctx, asset, record["interval_s"])
    order = _put_order(
        state, ctx, interval, side, asset, meters, quantity_wh, price, preferred, "single"
    )
    ctx.emit(
        f"market.{side}_placed",
        interval=interval,
        order=order.seq,
        account=ctx.sender,
        **{"site" if side == "bid" else "device": asset},
        quantity_wh=quantity_wh,
        price=price,
        escrow=order.escrow,
    )


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
    """The least the offer takes, minor units per kWh."""

    def check(self) -> None:
        _check_qty(self.quantity_wh)
        _check_price(self.price)


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
    key = order_key(body.interval, body.order)
    raw = state.get(key)
    if raw is None:
        raise UnknownOrder(f"no order {body.order} in interval {body.interval}")
    order = _order_decoder.decode(raw)
    if order.account != ctx.sender:
        raise NotOrderOwner(f"order {body.order} belongs to {order.account!r}")
    _open_interval(state, ctx, body.interval)
    funds.release(state, ctx.sender, order.escrow)
    state.delete(key)
    ctx.emit(
        "market.order_cancelled", interval=body.interval, order=body.order, released=order.escrow
    )


# standing choices ----------------------------------------------------------------------------
class SetPreference(Body):
    site: str
    choice: str
    """``clean``: bid for this site every interval; ``grid``: no bids (grid supply only)."""
    price_cap: Int64 | None = None
    """The most to pay per kWh; by default the grid's selling price at clearing."""
    preferred: list[str] = []
    quantity_wh: Int64 | None = None
    """Wh to bid per interval; by default the site's ceiling for one interval."""

    def check(self) -> None:
        if self.choice not in CHOICES:
            raise InvalidPreference(f"choice must be 'clean' or 'grid', not {self.choice!r}")
        if self.price_cap is not None:
            _check_price(self.price_cap, "price_cap")
        if self.quantity_wh is not None:
            _check_qty(self.quantity_wh)
        _check_preferred(self.preferred)


@kind("market.set_preference", SetPreference, roles=("consumer",))
def apply_set_preference(state: StateWriter, ctx: Context, body: SetPreference) -> None:
    """Choose clean or grid power for a site, once: bids follow every interval from it."""
    _owned_site(state, ctx, body.site, params(state)["interval_s"])
    _require_devices(state, body.preferred)
    value = {
        "account": ctx.sender,
        "choice": body.choice,
        "height": ctx.height,
        "preferred": list(body.preferred),
        "price_cap": body.price_cap,
        "quantity_wh": body.quantity_wh,
        "site": body.site,
        "since": ctx.time_s,
    }
    state.set_json(preference_key(ctx.sender, body.site), value)
    ctx.emit("market.preference_set", account=ctx.sender, site=body.site, choice=body.choice)


class SetStandingOffer(Body):
    device: str
    floor_price: Int64 | None = None
    """The least to take per kWh; needed unless the offer is withdrawn."""
    quantity_wh: Int64 | None = None
    """Wh to offer per interval; by default the plant's nameplate output for one interval."""
    active: bool = True
    """False withdraws the standing offer."""

    def check(self) -> None:
        if self.active and self.floor_price is None:
            raise InvalidPrice("a standing offer needs a floor_price")
        if self.floor_price is not None:
            _check_price(self.floor_price, "floor_price")
        if self.quantity_wh is not None:
            _check_qty(self.quantity_wh)


@kind("market.set_standing_offer", SetStandingOffer, roles=("producer",))
def apply_set_standing_offer(state: StateWriter, ctx: Context, body: SetStandingOffer) -> None:
    """Offer a plant's output every interval at a floor price (or stop doing so)."""
    _owned_device(state, ctx, body.device, params(state)["interval_s"])
    key = standing_offer_key(body.device)
    if not body.active:
        state.delete(key)
    else:
        state.set_json(
            key,
            {
                "account": ctx.sender,
                "device": body.device,
                "floor_price": body.floor_price,
                "height": ctx.height,
                "quantity_wh": body.quantity_wh,
                "since": ctx.time_s,
            },
        )
    ctx.emit(
        "market.standing_offer_set",
        device=body.device,
        floor_price=body.floor_price,
        active=body.active,
    )


# clearing ------------------------------------------------------------------------------------
class IntervalRef(Body):
    interval: Int64


def _active(state: StateReader, account: str) -> bool:
    summary = account_summary(state, account)
    return summary is not None and not summary.suspended


def _rotated(state: StateReader, prefix: bytes, start: int) -> list[bytes]:
    """The values under ``prefix`` in an order that changes from interval to interval: by the
    SHA-256 of the interval start and the key. Standing orders are placed in this order, so
    time priority among them rotates instead of always favouring the smallest account ids."""
    salt = b"%d/" % start
    ranked = sorted((sha256(salt + k), v) for k, v in state.scan(prefix))
    return [v for _, v in ranked]


def _standing_orders(
    state: StateWriter,
    ctx: Context,
    start: int,
    interval_s: int,
    gate_s: int,
    sell_price: int,
    explicit: set[tuple[str, str]],
) -> list[OrderRecord]:
    """Place this interval's bids and offers from standing choices (skipped ones reported).

    A choice counts for the intervals whose gate closure (``gate_s``) comes after it was made:
    clearing an old interval late never places orders in it that nobody chose in time."""
    placed: list[OrderRecord] = []
    for raw in _rotated(state, b"market/preference/", start):
        pref = decode_json(raw)
        site = pref["site"]
        if pref["choice"] != "clean" or ("bid", site) in explicit or pref["since"] >= gate_s:
            continue
        account = pref["account"]
        record = get_site(state, site)
        acct = get_account(state, account)
        meters = _metered(state, "site", site, interval_s)
        reason = None
        if record is None or acct is None or not _active(state, account):
            reason = "the account or site is no longer active"
        elif record.owner_org != acct.org:
            reason = "the site changed hands"
        elif not meters:
            reason = "the site has no meter"
        else:
            qty = pref["quantity_wh"] or -(-record.max_wh_per_hour * interval_s // 3600)
            price = pref["price_cap"] or sell_price
            try:
                placed.append(
                    _put_order(
                        state,
                        ctx,
                        start,
                        "bid",
                        site,
                        meters,
                        qty,
                        price,
                        pref["preferred"],
                        "standing",
                        account,
                    )
                )
            except funds.InsufficientBalance as exc:
                reason = exc.message
        if reason is not None:
            ctx.emit("market.standing_bid_skipped", account=account, site=site, reason=reason)
    for raw in _rotated(state, b"market/standing_offer/", start):
        so = decode_json(raw)
        device = so["device"]
        if ("offer", device) in explicit or so["since"] >= gate_s:
            continue
        account = so["account"]
        dev = get_device(state, device)
        acct = get_account(state, account)
        meters = _metered(state, "device", device, interval_s)
        if dev is None or acct is None or not _active(state, account):
            reason = "the account or device is no longer active"
        elif dev.owner_org != acct.org:
            reason = "the device changed hands"
        elif not meters:
            reason = "the device has no meter"
        else:
            qty = so["quantity_wh"] or max(dev.capacity_w * interval_s // 3600, 1)
            placed.append(
                _put_order(
                    state,
                    ctx,
                    start,
                    "offer",
                    device,
                    meters,
                    qty,
                    so["floor_price"],
                    [],
                    "standing",
                    account,
                )
            )
            continue
        ctx.emit("market.standing_offer_skipped", account=account, device=device, reason=reason)
    return placed


def _has_standing_choices(state: StateReader) -> bool:
    return any(
        True for prefix in (b"market/preference/", b"market/standing_offer/")
        for _ in state.scan_range(prefix, limit=1)
    )  # fmt: skip


def _orders(state: StateReader, start: int) -> list[OrderRecord]:
    return [_order_decoder.decode(v) for _, v in state.scan(order_prefix(start))]


def interval_orders(state: StateReader, start: int) -> list[dict[str, Any]]:
    """Every order of the interval, in placement order."""
    return [order_view(v) for _, v in state.scan(order_prefix(start))]


def _write_pairings(
    state: StateWriter,
    start: int,
    bids: list[OrderRecord | _Clearable],
    offers: list[OrderRecord | _Clearable],
    matches: list[Match],
) -> None:
    """Store each match as a pairing (the hot loop of clearing: positional records, prebuilt
    byte prefixes)."""
    prefix = pairing_prefix(start)
    set_ = state.set
    for n, (i, j, qty, price, stage) in enumerate(matches):
        bid, offer = bids[i], offers[j]
        pairing = PairingRecord(
            f"{start}-{n:08d}", start, bid.seq, offer.seq, bid.account, bid.asset,
            offer.account, offer.asset, qty, price, stage,
        )  # fmt: skip
        set_(prefix + b"%08d" % n, canonical(pairing))


def _index_parties(state: StateWriter, start: int, pairings: list[PairingRecord]) -> None:
    """Write each party's pairing numbers of the interval (``market/party/<account>/<start>``)."""
    parties: dict[str, list[int]] = {}
    for n, p in enumerate(pairings):
        for party in (p.consumer,) if p.producer == p.consumer else (p.consumer, p.producer):
            numbers = parties.get(party)
            if numbers is None:
                parties[party] = [n]
            else:
                numbers.append(n)
    at = b"/" + _start(start).encode()
    for account in sorted(parties):
        numbers = parties[account]
        # most parties have one pairing: its canonical JSON written out directly
        value = b"[%d]" % numbers[0] if len(numbers) == 1 else canonical(numbers)
        state.set(b"market/party/" + account.encode() + at, value)


@kind("market.clear", IntervalRef)
def apply_clear(state: StateWriter, ctx: Context, body: IntervalRef) -> None:
    """Clear an interval after its gate closure: standing orders, matching, pairings."""
    start = body.interval
    t = _require_tariffs(state)
    p = params(state)
    record = get_interval(state, start) or {
        "start": start,
        "interval_s": p["interval_s"],
        "status": "open",
    }
    interval_s = record["interval_s"]
    if start < 0 or start % interval_s:
        raise InvalidInterval(f"interval {start} is not aligned to {interval_s} s")
    if record["status"] != "open":
        raise AlreadyCleared(f"interval {start} is {record['status']}")
    gate = (start - p["gate_closure_s"]) * 1000
    if ctx.time_ms < gate:
        raise CutoffNotReached(f"interval {start} closes for orders at {gate // 1000}")
    orders: list[OrderRecord | _Clearable] = [
        _clearable_decoder.decode(v) for _, v in state.scan(order_prefix(start))
    ]
    if _has_standing_choices(state):
        explicit = {(o.side, o.asset) for o in orders}
        orders += _standing_orders(
            state, ctx, start, interval_s, gate // 1000, t["sell_price"], explicit
        )
    bids = [o for o in orders if o.side == "bid"]
    offers = [o for o in orders if o.side == "offer"]
    result = clear(bids, offers, p["mechanism"])
    _write_pairings(state, start, bids, offers, result.matches)
    record.update(
        {
            "bids": len(bids),
            "clearing_price": result.clearing_price,
            "cleared_at": ctx.time_s,
            "cleared_height": ctx.height,
            "demand_wh": sum(o.qty_wh for o in bids),
            "mechanism": p["mechanism"],
            "offers": len(offers),
            "pairings": len(result.matches),
            "status": "cleared",
            "supply_wh": sum(o.qty_wh for o in offers),
            "tariffs": {
                "feed_in_price": t["feed_in_price"],
                "grid_account": t["grid_account"],
                "sell_price": t["sell_price"],
            },
            "volume_wh": result.volume_wh,
        }
    )
    state.set_json(interval_key(start), record)
    ctx.emit(
        "market.cleared",
        interval=start,
        mechanism=p["mechanism"],
        clearing_price=result.clearing_price,
        volume_wh=result.volume_wh,
        pairings=len(result.matches),
    )


# settlement ----------------------------------------------------------------------------------
def plant_key(device: str) -> bytes:
    return f"market/plant/{device}".encode()


def _pay(state: StateWriter, debtor: str, creditor: str, amount: int) -> int:
    """Pay what the debtor's balance covers; the rest becomes arrears. Returns the unpaid part."""
    paid = min(funds.balance_of(state, debtor), amount)
    if paid:
        funds.debit(state, debtor, paid)
        funds.credit(state, creditor, paid)
    unpaid = amount - paid
    if unpaid:
        key = arrears_key(debtor, creditor)
        state.set_int(key, state.get_int(key) + unpaid)
    return unpaid


def _add(state: StateWriter, key: bytes, **amounts: int) -> None:
    record: dict[str, int] = state.get_json(key) or {}
    for name, value in amounts.items():
        record[name] = record.get(name, 0) + value
    state.set_json(key, record)


def _bump(totals: dict[str, int], key: str, amount: int) -> None:
    totals[key] = totals.get(key, 0) + amount


@dataclass
class _Inputs:
    """What a settlement reads before it writes: the interval, its participants, the escrow
    their bids hold, and what their meters measured."""

    record: dict[str, Any]
    site_account: dict[str, str]
    device_account: dict[str, str]
    held: dict[str, int]
    consumption: dict[str, int]
    generation: dict[str, int]
    missing: list[str]


def _settlement_inputs(state: StateReader, start: int, block_time: int) -> _Inputs:
    """The inputs of settling ``start`` at ``block_time``, or the reason it cannot settle yet.

    Raises:
        NotCleared, AlreadySettled, DataNotFinal.
    """
    record = get_interval(state, start)
    if record is None or record["status"] == "open":
        raise NotCleared(f"interval {start} has not been cleared")
    if record["status"] == "settled":
        raise AlreadySettled(f"interval {start} was settled at height {record['settled_height']}")
    interval_s = record["interval_s"]
    end = start + interval_s
    if block_time < end * 1000:
        raise DataNotFinal(f"interval {start} has not ended (it ends at {end})")
    deadline = end + params(state)["data_deadline_s"]
    site_account: dict[str, str] = {}
    device_account: dict[str, str] = {}
    # by side and asset: a site and a device may share an id
    meters: dict[tuple[str, str], set[str]] = {}
    held: dict[str, int] = {}
    for o in _orders(state, start):
        owners = site_account if o.side == "bid" else device_account
        owners.setdefault(o.asset, o.account)
        meters.setdefault((o.side, o.asset), set()).update(m.id for m in o.meters)
        if o.escrow:
            _bump(held, o.account, o.escrow)
    consumption: dict[str, int] = {}
    generation: dict[str, int] = {}
    missing: list[str] = []
    for side, assets, measured in (
        ("bid", site_account, consumption),
        ("offer", device_account, generation),
    ):
        for asset in sorted(assets):
            # the meters the orders recorded at placement, by id; the first one short of
            # readings is what the asset misses
            total, gap = 0, None
            for meter_id in sorted(meters[(side, asset)]):
                got = metering.measured_wh(state, "meter", meter_id, start, end)
                total += got.energy_wh
                if gap is None and got.missing:
                    gap = got.missing[0].describe()
            measured[asset] = total
            if gap is not None:
                missing.append(gap)
    if missing and block_time < deadline * 1000:
        raise DataNotFinal(
            f"{missing[0]} for interval {start}; settlement waits for it until {deadline}"
        )
    return _Inputs(record, site_account, device_account, held, consumption, generation, missing)


def settlement_ready(state: StateReader, start: int, block_time: int) -> bool:
    """Whether ``market.settle`` of ``start`` would be taken at ``block_time`` (cleared, not
    settled, ended, meter data final), without computing the settlement."""
    try:
        _settlement_inputs(state, start, block_time)
    except InvalidTransaction:
        return False
    return True


@kind("market.settle", IntervalRef)
def apply_settle(state: StateWriter, ctx: Context, body: IntervalRef) -> None:
    """Settle a cleared interval against its meter data; the grid covers the differences."""
    start = body.interval
    inputs = _settlement_inputs(state, start, ctx.time_ms)
    record, site_account, device_account = inputs.record, inputs.site_account, inputs.device_account
    held, consumption, generation = inputs.held, inputs.consumption, inputs.generation
    missing = inputs.missing
    prefix = pairing_prefix(start)
    pairings = [_pairing_decoder.decode(v) for _, v in state.scan(prefix)]
    result = deliver([Pairing(p.site, p.device, p.wh) for p in pairings], generation, consumption)
    # clean deliveries, paid from the bids' escrow; the rest of every escrow is released
    paid_by: dict[str, int] = {}
    paid_to: dict[str, int] = {}
    revenue: dict[str, int] = {}
    got: dict[str, int] = {}
    gave: dict[str, int] = {}
    sold: dict[tuple[str, str], list[int]] = {}
    for n, (p, wh) in enumerate(zip(pairings, result.delivered, strict=True)):
        amount = cost_minor(wh, p.price)
        _bump(paid_by, p.consumer, amount)
        _bump(paid_to, p.producer, amount)
        _bump(revenue, p.device, amount)
        _bump(got, p.site, wh)
        _bump(gave, p.device, wh)
        entry = sold.setdefault((p.device, p.consumer), [0, 0])
        entry[0] += wh
        entry[1] += amount
        p.delivered_wh = wh
        p.amount = amount
        state.set(prefix + b"%08d" % n, canonical(p))
    _index_parties(state, start, pairings)
    for account in sorted(held):
        funds.release(state, account, held[account])
        if paid_by.get(account):
            funds.debit(state, account, paid_by[account])
    for account in sorted(paid_to):
        if paid_to[account]:
            funds.credit(state, account, paid_to[account])
    for device, consumer in sorted(sold):
        wh, amount = sold[(device, consumer)]
        _add(state, sold_key(device, consumer), wh=wh, amount=amount)
    # the grid as market maker
    t = record["tariffs"]
    grid = t["grid_account"]
    totals = dict.fromkeys(
        ("grid_import_wh", "grid_export_wh", "grid_paid", "feed_in_paid", "unpaid"), 0
    )
    for site in sorted(site_account):
        account = site_account[site]
        wh = result.grid_import[site]
        amount = cost_minor(wh, t["sell_price"])
        unpaid = _pay(state, account, grid, amount)
        state.set_json(
            grid_key(start, "import", site),
            {"account": account, "amount": amount, "direction": "import", "unpaid": unpaid,
             "wh": wh},
        )  # fmt: skip
        _add(
            state,
            stats_key(account),
            consumed_wh=consumption[site],
            clean_wh=got.get(site, 0),
            grid_import_wh=wh,
            clean_paid=paid_by.pop(account, 0),
            grid_paid=amount,
        )
        totals["grid_import_wh"] += wh
        totals["grid_paid"] += amount
        totals["unpaid"] += unpaid
    for device in sorted(device_account):
        account = device_account[device]
        wh = result.grid_export[device]
        amount = cost_minor(wh, t["feed_in_price"])
        unpaid = _pay(state, grid, account, amount)
        state.set_json(
            grid_key(start, "export", device),
            {"account": account, "amount": amount, "direction": "export", "unpaid": unpaid,
             "wh": wh},
        )  # fmt: skip
        for key in (stats_key(account), plant_key(device)):
            _add(
                state,
                key,
                generated_wh=generation[device],
                sold_wh=gave.get(device, 0),
                exported_wh=wh,
                clean_revenue=revenue.get(device, 0),
                feed_in_revenue=amount,
            )
        totals["grid_export_wh"] += wh
        totals["feed_in_paid"] += amount
        totals["unpaid"] += unpaid
    delivered = sum(result.delivered)
    record.update(
        {
            "status": "settled",
            "settled_at": ctx.time_s,
            "settled_height": ctx.height,
            "missing_data": missing,
            "settlement": {
                "clean_paid": sum(paid_to.values()),
                "consumption_wh": sum(consumption.values()),
                "delivered_wh": delivered,
                "generation_wh": sum(generation.values()),
                **totals,
            },
        }
    )
    state.set_json(interval_key(start), record)
    ctx.emit(
        "market.settled",
        interval=start,
        delivered_wh=delivered,
        grid_import_wh=totals["grid_import_wh"],
        grid_export_wh=totals["grid_export_wh"],
        missing_data=len(missing),
    )


class PayArrears(Body):
    creditor: str


@kind("market.pay_arrears", PayArrears)
def apply_pay_arrears(state: StateWriter, ctx: Context, body: PayArrears) -> None:
    """Pay what settlements left owing to ``creditor``, as far as the balance covers."""
    key = arrears_key(ctx.sender, body.creditor)
    owed = state.get_int(key)
    if owed == 0:
        raise NoArrears(f"{ctx.sender} owes nothing to {body.creditor}")
    paid = min(funds.balance_of(state, ctx.sender), owed)
    if paid == 0:
        raise funds.InsufficientBalance(f"{ctx.sender} holds nothing to pay {owed} owed")
    funds.debit(state, ctx.sender, paid)
    funds.credit(state, body.creditor, paid)
    if paid == owed:
        state.delete(key)
    else:
        state.set_int(key, owed - paid)
    ctx.emit("market.arrears_paid", creditor=body.creditor, amount=paid, left=owed - paid)


# market operation ----------------------------------------------------------------------------
class SetParams(Body):
    """The parameters to change; those left out keep their current value."""

    interval_s: Int64 | None = None
    mechanism: str | None = None
    gate_closure_s: Int64 | None = None
    horizon_s: Int64 | None = None
    data_deadline_s: Int64 | None = None

    def check(self) -> None:
        if self.interval_s is not None and self.interval_s not in INTERVALS_S:
            raise InvalidParams("interval_s must be 900, 3600 or 86400")
        if self.mechanism is not None and self.mechanism not in MECHANISMS:
            raise InvalidParams(f"mechanism must be one of {', '.join(MECHANISMS)}")
        if self.gate_closure_s is not None and not 0 <= self.gate_closure_s <= 86_400:
            raise InvalidParams("gate_closure_s must be 0 to 86400")
        if self.horizon_s is not None and not 900 <= self.horizon_s <= 366 * 86_400:
            raise InvalidParams("horizon_s must be from 900 s to 366 days")
        if self.data_deadline_s is not None and not 0 <= self.data_deadline_s <= 31 * 86_400:
            raise InvalidParams("data_deadline_s must be 0 to 31 days")


@kind("market.set_params", SetParams, roles=("operator",))
def apply_set_params(state: StateWriter, ctx: Context, body: SetParams) -> None:
    """Change the interval length, clearing mechanism or time rules (market operator)."""
    value = params(state)
    for name in sorted(DEFAULT_PARAMS):
        given = getattr(body, name)
        if given is not None:
            value[name] = given
    if value["horizon_s"] < value["interval_s"]:
        raise InvalidParams(
            f"horizon_s {value['horizon_s']} is shorter than one interval ({value['interval_s']} s)"
        )
    state.set_json(PARAMS_KEY, value)
    ctx.emit("market.params_set", **value)


class SetTariffs(Body):
    sell_price: Int64
    """What the grid charges per kWh it supplies (minor units)."""
    feed_in_price: Int64
    """What the grid pays per kWh fed in (minor units)."""

    def check(self) -> None:
        _check_price(self.sell_price, "sell_price")
        if not 0 <= self.feed_in_price <= MAX_PRICE:
            raise InvalidPrice(f"feed_in_price must be 0 to {MAX_PRICE}")


@kind("market.set_tariffs", SetTariffs, roles=("grid_operator",))
def apply_set_tariffs(state: StateWriter, ctx: Context, body: SetTariffs) -> None:
    """Set the grid's selling and feed-in rates; the sender becomes the market maker."""
    value = {
        "feed_in_price": body.feed_in_price,
        "grid_account": ctx.sender,
        "height": ctx.height,
        "sell_price": body.sell_price,
    }
    state.set_json(TARIFFS_KEY, value)
    ctx.emit("market.tariffs_set", **value)


# queries -------------------------------------------------------------------------------------
def _start_bounds(start: int, end: int | None) -> tuple[bytes, bytes | None]:
    return _start(max(start, 0)).encode(), None if end is None else _start(max(end, 0)).encode()


def intervals(
    state: StateReader, start: int = 0, end: int | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Interval records with ``start <= interval < end``, oldest first."""
    lo, hi = _start_bounds(start, end)
    return [decode_json(v) for _, v in state.scan_range(b"market/interval/", lo, hi, limit)]


def pairings(state: StateReader, start: int, limit: int = 100_000) -> list[dict[str, Any]]:
    """The interval's pairings in clearing order."""
    return [pairing_view(v) for _, v in state.scan_range(pairing_prefix(start), limit=limit)]


def pairings_of(
    state: StateReader, account: str, start: int = 0, end: int | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """An account's pairings (as consumer or producer) in intervals ``start <= i < end``,
    oldest first, at most ``limit``.

    Settled intervals are read through the account's index; the few intervals cleared but not
    yet settled (their index comes with the settlement) are searched pairing by pairing."""
    prefix = f"market/party/{account}/".encode()
    lo, hi = _start_bounds(start, end)
    numbers: dict[int, list[int]] = {
        int(k[len(prefix) :]): decode_json(v) for k, v in state.scan_range(prefix, lo, hi, limit)
    }
    for record in intervals(state, start, end, limit=1_000_000):
        if record["status"] == "cleared":
            at = record["start"]
            mine = [
                n
                for n, p in enumerate(pairings(state, at, limit=1_000_000))
                if account in (p["consumer"], p["producer"])
            ]
            if mine:
                numbers[at] = mine
    out: list[dict[str, Any]] = []
    for at in sorted(numbers):
        for n in numbers[at]:
            if len(out) >= limit:
                return out
            raw = state.get(pairing_key(at, n))
            if raw is not None:
                out.append(pairing_view(raw))
    return out


def account_stats(state: StateReader, account: str) -> dict[str, Any]:
    """Settled totals of an account, with its clean share in per mille of what it consumed."""
    stats: dict[str, Any] = state.get_json(stats_key(account)) or {}
    consumed = stats.get("consumed_wh", 0)
    stats["clean_share_permille"] = stats.get("clean_wh", 0) * 1000 // consumed if consumed else 0
    return stats


def plant_stats(state: StateReader, device: str) -> dict[str, Any]:
    """A plant's settled totals and what it sold to whom."""
    prefix = f"market/sold/{device}/".encode()
    buyers = [
        {"consumer": k[len(prefix) :].decode(), **decode_json(v)} for k, v in state.scan(prefix)
    ]
    return {"device": device, **(state.get_json(plant_key(device)) or {}), "buyers": buyers}


def preferences_of(state: StateReader, account: str) -> list[dict[str, Any]]:
    return [decode_json(v) for _, v in state.scan(f"market/preference/{account}/".encode())]


def standing_offers(state: StateReader) -> list[dict[str, Any]]:
    return [decode_json(v) for _, v in state.scan(b"market/standing_offer/")]


def grid_settlements(state: StateReader, start: int) -> list[dict[str, Any]]:
    """What each site bought from and each device sold to the grid: imports, then exports."""
    prefix = f"market/grid/{_start(start)}/".encode()
    return [
        {"asset": k[len(prefix) :].decode().split("/", 1)[1], **decode_json(v)}
        for k, v in state.scan(prefix)
    ]


def arrears_of(state: StateReader, debtor: str) -> list[dict[str, Any]]:
    prefix = f"market/arrears/{debtor}/".encode()
    return [
        {"creditor": k[len(prefix) :].decode(), "amount": int(v)} for k, v in state.scan(prefix)
    ]


def order_book(state: StateReader, start: int) -> dict[str, Any]:
    """The interval's record (or what it would be) and its orders by side, best first."""
    orders = interval_orders(state, start)
    bids = sorted((o for o in orders if o["side"] == "bid"), key=lambda o: (-o["price"], o["seq"]))
    offers = sorted(
        (o for o in orders if o["side"] == "offer"), key=lambda o: (o["price"], o["seq"])
    )
    record = get_interval(state, start) or {
        "start": start,
        "interval_s": params(state)["interval_s"],
        "status": "open",
    }
    return {"interval": record, "bids": bids, "offers": offers}
