"""Brute-force references for the market engine: slow, obvious, and written independently.

* :func:`reference_clear` expands every order into single Wh, lines the bid units up best price
  first and the offer units cheapest first, and pairs unit k with unit k while the bid unit's
  price covers the offer unit's; pairing counts are then summed per (bid, offer). Preferred
  partners are served one Wh at a time by exact fractions (``Fraction``) and a largest-remainder
  rounding, rank by rank.
* :func:`best_volume` tries every price an order names and returns the most Wh a single price
  could clear: what a uniform-price auction must reach.
* :func:`reference_deliver` shares shortfalls with exact fractions and rounds by largest
  remainder, pairing by pairing, then derives the grid's part per site and device.
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

from gridledger.contracts.market.matching import Order


def _round_shares(available: int, demands: list[int]) -> list[int]:
    """Exact proportional shares of ``available``, floored, the rest by largest remainder."""
    total = sum(demands)
    if total <= available:
        return list(demands)
    exact = [Fraction(d * available, total) for d in demands]
    shares = [int(x) for x in exact]  # floor: every x is >= 0
    order = sorted(range(len(demands)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[: available - sum(shares)]:
        shares[i] += 1
    return shares


def _unit_walk(
    bids: list[Order], offers: list[Order], bid_left: list[int], offer_left: list[int]
) -> tuple[Counter[tuple[int, int]], list[int], list[int]]:
    bid_rank = sorted(range(len(bids)), key=lambda i: (-bids[i].price_fen_per_kwh, bids[i].seq))
    offer_rank = sorted(
        range(len(offers)), key=lambda j: (offers[j].price_fen_per_kwh, offers[j].seq)
    )
    bid_units = [i for i in bid_rank for _ in range(bid_left[i])]
    offer_units = [j for j in offer_rank for _ in range(offer_left[j])]
    pairs: Counter[tuple[int, int]] = Counter()
    matched_bid_prices: list[int] = []
    matched_offer_prices: list[int] = []
    for i, j in zip(bid_units, offer_units, strict=False):
        if bids[i].price_fen_per_kwh < offers[j].price_fen_per_kwh:
            break
        pairs[(i, j)] += 1
        matched_bid_prices.append(bids[i].price_fen_per_kwh)
        matched_offer_prices.append(offers[j].price_fen_per_kwh)
    return pairs, matched_bid_prices, matched_offer_prices


def reference_clear(
    bids: list[Order], offers: list[Order], mechanism: str
) -> tuple[dict[tuple[int, int, str], tuple[int, int]], int | None]:
    """``{(bid, offer, stage): (Wh, price)}`` and the auction's price."""
    bid_left = [b.energy_wh for b in bids]
    offer_left = [o.energy_wh for o in offers]
    result: dict[tuple[int, int, str], tuple[int, int]] = {}
    if mechanism == "preferred_first":
        for rank in range(max((len(b.preferred) for b in bids), default=0)):
            for device in sorted({b.preferred[rank] for b in bids if len(b.preferred) > rank}):
                fans = [i for i, b in enumerate(bids) if len(b.preferred) > rank
                        and b.preferred[rank] == device]  # fmt: skip
                fans.sort(key=lambda i: bids[i].seq)
                mine = [j for j, o in enumerate(offers) if o.asset == device]
                for j in sorted(mine, key=lambda j: (offers[j].price_fen_per_kwh, offers[j].seq)):
                    ok = [
                        i
                        for i in fans
                        if bid_left[i] and bids[i].price_fen_per_kwh >= offers[j].price_fen_per_kwh
                    ]
                    for i, q in zip(
                        ok, _round_shares(offer_left[j], [bid_left[i] for i in ok]), strict=True
                    ):
                        if q:
                            result[(i, j, "preferred")] = (q, offers[j].price_fen_per_kwh)
                            bid_left[i] -= q
                            offer_left[j] -= q
    pairs, bid_prices, offer_prices = _unit_walk(bids, offers, bid_left, offer_left)
    if not pairs:
        return result, None
    if mechanism == "pay_as_bid":
        price = min(bid_prices)
        for (i, j), q in pairs.items():
            result[(i, j, "auction")] = (q, bids[i].price_fen_per_kwh)
    else:
        price = (min(bid_prices) + max(offer_prices)) // 2
        for (i, j), q in pairs.items():
            result[(i, j, "auction")] = (q, price)
    return result, price


def best_volume(bids: list[Order], offers: list[Order]) -> int:
    """The most Wh any single price clears: min(demand at or above p, supply at or below p)."""
    prices = {o.price_fen_per_kwh for o in bids} | {o.price_fen_per_kwh for o in offers}
    return max(
        (
            min(
                sum(b.energy_wh for b in bids if b.price_fen_per_kwh >= p),
                sum(o.energy_wh for o in offers if o.price_fen_per_kwh <= p),
            )
            for p in prices
        ),
        default=0,
    )


def reference_deliver(
    pairings: list[tuple[str, str, int]], generation: dict[str, int], consumption: dict[str, int]
) -> tuple[list[int], dict[str, int], dict[str, int]]:
    """Deliveries per (site, device, Wh) pairing, grid import per site, export per device."""
    amount = [q for _, _, q in pairings]
    for device in sorted({d for _, d, _ in pairings}):
        ks = [k for k, (_, d, _) in enumerate(pairings) if d == device]
        for k, s in zip(
            ks, _round_shares(generation.get(device, 0), [amount[k] for k in ks]), strict=False
        ):
            amount[k] = s
    for site in sorted({s for s, _, _ in pairings}):
        ks = [k for k, (s, _, _) in enumerate(pairings) if s == site]
        for k, s in zip(
            ks, _round_shares(consumption.get(site, 0), [amount[k] for k in ks]), strict=False
        ):
            amount[k] = s
    imports = {
        s: c - sum(a for (ps, _, _), a in zip(pairings, amount, strict=True) if ps == s)
        for s, c in consumption.items()
    }
    exports = {
        d: g - sum(a for (_, pd, _), a in zip(pairings, amount, strict=True) if pd == d)
        for d, g in generation.items()
    }
    return amount, imports, exports
