"""Clearing one market interval: which bid buys how much from which offer, at what price.

Pure functions over plain tuples (no state), written by hand because the rules are the
market's own: the contract feeds them the interval's orders and records what they return, the
benchmark times them, and property tests check them against a brute-force reference
(``tests/market_reference.py``).

Units: energy in Wh, prices in fen (the currency's minor unit) per kWh, all integers.

**Merit order.** Bids are ranked by price, highest first; offers by price, lowest first; equal
prices by placement order (``seq``, earlier first: time priority). The two lists are walked
together: the best remaining bid buys from the best remaining offer as much as both still have,
as long as the bid's price is at least the offer's. This matches the largest volume any single
price could clear (property-tested) and costs O(N log N) for the sort plus O(N) for the walk.

**Pay-as-clear** (uniform price): every pairing of the walk pays one price, the integer midpoint
``(b + s) // 2`` of the last (lowest) matched bid price ``b`` and the last (highest) matched offer
price ``s``. Since ``s <= b``, the price is at least every matched offer's and at most every
matched bid's: nobody pays more than bid nor gets less than asked.

**Pay-as-bid**: the same walk; each pairing pays its bid's price.

**Preferred partners first**: bids name plants (devices) they prefer, in priority order. Rank by
rank (first choices first), each plant's offers, cheapest first, serve the bids that rank it at
this rank and bid at least the offer's price; when an offer cannot serve them all, it is shared
pro-rata to their remaining quantities (largest remainders get the leftover Wh, earlier bids
first among equal remainders). Those pairings pay the offer's price. What remains of every bid
and offer then goes to the open pay-as-clear auction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

MECHANISMS = ("pay_as_clear", "pay_as_bid", "preferred_first")
Stage = Literal["preferred", "auction"]
"""Which stage of clearing made a match: a preferred partner's share, or the open auction."""


class OrderLike(Protocol):
    """What clearing reads of an order: :class:`Order`, or the market's stored record."""

    @property
    def seq(self) -> int: ...
    @property
    def asset(self) -> str: ...
    @property
    def energy_wh(self) -> int: ...
    @property
    def price_fen_per_kwh(self) -> int: ...
    @property
    def preferred(self) -> Sequence[str]: ...


class Order(NamedTuple):
    seq: int
    """Placement order, unique within the interval (time priority)."""
    account: str
    asset: str
    """The bid's consumption site or the offer's generating device."""
    energy_wh: int
    """Wh, positive."""
    price_fen_per_kwh: int
    """Bid: the most it pays; offer: the least it takes (fen per kWh), positive."""
    preferred: tuple[str, ...] = ()
    """Bids only: preferred devices, first choice first."""


class Match(NamedTuple):
    bid: int
    """Index into the bids list."""
    offer: int
    """Index into the offers list."""
    energy_wh: int
    """Wh paired."""
    price_fen_per_kwh: int
    """What the pairing pays, fen per kWh."""
    stage: Stage


class Result(NamedTuple):
    matches: list[Match]
    clearing_price_fen_per_kwh: int | None
    """The auction's uniform price (pay-as-clear and the open stage of preferred-first);
    for pay-as-bid, the lowest matched bid price; None when nothing matched in the auction."""
    volume_wh: int


def cost_minor(wh: int, price_per_kwh: int) -> int:
    """What ``wh`` costs at ``price_per_kwh`` in whole minor units, rounded down."""
    return wh * price_per_kwh // 1000


def escrow_minor(wh: int, price_per_kwh: int) -> int:
    """What a bid locks: its whole quantity at its price, rounded up (covers any pairing)."""
    return -(-wh * price_per_kwh // 1000)


def pro_rata(available: int, demands: list[int]) -> list[int]:
    """Split ``available`` Wh over ``demands`` in proportion, in whole Wh.

    Everyone gets all they ask when there is enough. Otherwise each gets the floor of its exact
    share and the Wh left over go one each to the largest fractional remainders, earlier
    entries first among equal remainders: the shares sum to ``available`` exactly and no share
    exceeds its demand.
    """
    total = sum(demands)
    if total <= available:
        return list(demands)
    shares = [d * available // total for d in demands]
    left = available - sum(shares)
    if left:
        by_remainder = sorted(
            range(len(demands)), key=lambda i: (-(demands[i] * available % total), i)
        )
        for i in by_remainder[:left]:
            shares[i] += 1
    return shares


def _column(orders: Sequence[OrderLike], field: str) -> npt.NDArray[np.int64]:
    return np.fromiter((getattr(o, field) for o in orders), np.int64, len(orders))


def _merit_walk(
    bids: Sequence[OrderLike],
    offers: Sequence[OrderLike],
    bid_left: list[int],
    offer_left: list[int],
) -> tuple[list[tuple[int, int, int]], int, int]:
    """Walk bids (best price first) against offers (cheapest first) on what is left.

    Returns ``(bid index, offer index, qty)`` triples in walk order and the last matched bid
    and offer prices (0, 0 when nothing matched).

    The walk is computed on whole columns (NumPy, 64-bit integers: quantities up to 10^10 Wh,
    so a million orders sum far below 2^63): line the bids up in merit order and take the
    running total of their quantities, the same for the offers; every running total of either
    side is a point where the walk moves on to a next bid or offer, so the sorted union of
    both sets of totals, up to the smaller grand total, cuts the volume into exactly the
    walk's pairings, and the first pairing whose bid price is below its offer price ends it.
    """
    if not bids or not offers:
        return [], 0, 0
    bid_price = _column(bids, "price_fen_per_kwh")
    offer_price = _column(offers, "price_fen_per_kwh")
    bid_qty = np.asarray(bid_left, dtype=np.int64)
    offer_qty = np.asarray(offer_left, dtype=np.int64)
    # merit order: price (highest bid, lowest offer first), then seq (time priority)
    bid_order = np.lexsort((_column(bids, "seq"), -bid_price))
    offer_order = np.lexsort((_column(offers, "seq"), offer_price))
    bid_order = bid_order[bid_qty[bid_order] > 0]
    offer_order = offer_order[offer_qty[offer_order] > 0]
    if not len(bid_order) or not len(offer_order):
        return [], 0, 0
    bid_total = np.cumsum(bid_qty[bid_order])
    offer_total = np.cumsum(offer_qty[offer_order])
    volume = min(int(bid_total[-1]), int(offer_total[-1]))
    # both running totals are sorted already: a stable sort merges them in linear time, and
    # dropping repeats leaves the sorted union (np.union1d would sort from scratch)
    ends = np.concatenate((bid_total[bid_total <= volume], offer_total[offer_total <= volume]))
    ends.sort(kind="stable")
    fresh = np.empty(len(ends), dtype=bool)
    fresh[0] = True
    np.not_equal(ends[1:], ends[:-1], out=fresh[1:])
    ends = ends[fresh]
    b = bid_order[np.searchsorted(bid_total, ends)]
    o = offer_order[np.searchsorted(offer_total, ends)]
    crossing = bid_price[b] >= offer_price[o]
    n = len(ends) if crossing.all() else int(np.argmin(crossing))
    if n == 0:
        return [], 0, 0
    qty = np.diff(ends[:n], prepend=0)
    walk = list(zip(b[:n].tolist(), o[:n].tolist(), qty.tolist(), strict=True))
    return walk, int(bid_price[b[n - 1]]), int(offer_price[o[n - 1]])


def _preferred_stage(
    bids: Sequence[OrderLike],
    offers: Sequence[OrderLike],
    bid_left: list[int],
    offer_left: list[int],
) -> list[Match]:
    offers_of: dict[str, list[int]] = {}
    for j, o in enumerate(offers):
        offers_of.setdefault(o.asset, []).append(j)
    for js in offers_of.values():
        js.sort(key=lambda j: (offers[j].price_fen_per_kwh, offers[j].seq))
    max_rank = max((len(b.preferred) for b in bids), default=0)
    out: list[Match] = []
    for rank in range(max_rank):
        wanting: dict[str, list[int]] = {}
        for i, b in enumerate(bids):
            if rank < len(b.preferred) and b.preferred[rank] in offers_of:
                wanting.setdefault(b.preferred[rank], []).append(i)
        for device in sorted(wanting):
            fans = sorted(wanting[device], key=lambda i: bids[i].seq)
            for j in offers_of[device]:
                if offer_left[j] == 0:
                    continue
                floor = offers[j].price_fen_per_kwh
                eligible = [
                    i for i in fans if bid_left[i] > 0 and bids[i].price_fen_per_kwh >= floor
                ]
                if not eligible:
                    continue
                shares = pro_rata(offer_left[j], [bid_left[i] for i in eligible])
                for i, q in zip(eligible, shares, strict=True):
                    if q > 0:
                        out.append(Match(i, j, q, floor, "preferred"))
                        bid_left[i] -= q
                        offer_left[j] -= q
    return out


def clear(bids: Sequence[OrderLike], offers: Sequence[OrderLike], mechanism: str) -> Result:
    """Clear one interval's ``bids`` against its ``offers`` with ``mechanism``.

    Orders within each list have distinct ``seq``; matches are returned in the order they were
    made (preferred stage first, then the merit walk).
    """
    if mechanism not in MECHANISMS:
        raise ValueError(f"unknown clearing mechanism {mechanism!r}")
    bid_left = [b.energy_wh for b in bids]
    offer_left = [o.energy_wh for o in offers]
    matches: list[Match] = []
    if mechanism == "preferred_first":
        matches = _preferred_stage(bids, offers, bid_left, offer_left)
    walk, last_bid, last_offer = _merit_walk(bids, offers, bid_left, offer_left)
    price: int | None = None
    if walk:
        make = tuple.__new__  # builds the named tuples without their Python-level __new__
        if mechanism == "pay_as_bid":
            price = last_bid
            matches.extend(
                make(Match, (i, j, q, bids[i].price_fen_per_kwh, "auction")) for i, j, q in walk
            )
        else:
            price = (last_bid + last_offer) // 2
            matches.extend(make(Match, (i, j, q, price, "auction")) for i, j, q in walk)
    return Result(matches, price, sum(m.energy_wh for m in matches))


# settlement ----------------------------------------------------------------------------------
class Pairing(NamedTuple):
    site: str
    device: str
    energy_wh: int
    """Paired Wh."""


class Delivery(NamedTuple):
    delivered: list[int]
    """Wh delivered per pairing, in the pairings' order."""
    grid_import: dict[str, int]
    """Per site: consumption not covered by deliveries (bought from the grid)."""
    grid_export: dict[str, int]
    """Per device: generation not delivered to a pairing (fed into the grid)."""


def deliver(
    pairings: list[Pairing], generation: dict[str, int], consumption: dict[str, int]
) -> Delivery:
    """What each pairing delivered, given metered generation per device and consumption per site.

    A pairing delivers at most its paired Wh, and together the pairings of a device deliver at
    most what it generated and those of a site at most what it consumed. First each device's
    generation is shared over its pairings (pro-rata to the paired Wh when short), then each
    site's consumption over what reached it (pro-rata again when short). Whatever a site
    consumed beyond its deliveries comes from the grid; whatever a device generated beyond them
    goes to the grid. Devices and sites missing from ``generation``/``consumption`` measured 0.
    """
    by_device: dict[str, list[int]] = {}
    by_site: dict[str, list[int]] = {}
    for k, p in enumerate(pairings):
        by_device.setdefault(p.device, []).append(k)
        by_site.setdefault(p.site, []).append(k)
    amount = [p.energy_wh for p in pairings]
    for device, ks in by_device.items():
        for k, share in zip(
            ks, pro_rata(generation.get(device, 0), [amount[k] for k in ks]), strict=True
        ):
            amount[k] = share
    for site, ks in by_site.items():
        for k, share in zip(
            ks, pro_rata(consumption.get(site, 0), [amount[k] for k in ks]), strict=True
        ):
            amount[k] = share
    got: dict[str, int] = {}
    gave: dict[str, int] = {}
    for k, p in enumerate(pairings):
        got[p.site] = got.get(p.site, 0) + amount[k]
        gave[p.device] = gave.get(p.device, 0) + amount[k]
    grid_import = {s: c - got.get(s, 0) for s, c in consumption.items()}
    grid_export = {d: g - gave.get(d, 0) for d, g in generation.items()}
    return Delivery(amount, grid_import, grid_export)
