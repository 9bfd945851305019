"""The clearing and delivery engine against brute-force references (property tests).

Every mechanism must pair exactly what the unit-by-unit reference pairs, at the same prices; a
uniform-price auction must clear the most volume any single price could; nobody pays more than
bid or receives less than asked; deliveries never exceed what was paired, generated or
consumed, and energy is conserved per site and per device.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridledger.contracts.market.matching import (
    MECHANISMS,
    Match,
    Order,
    Pairing,
    clear,
    cost_minor,
    deliver,
    escrow_minor,
    pro_rata,
)
from market_reference import best_volume, reference_clear, reference_deliver

DEVICES = ["d0", "d1", "d2"]
SITES = ["s0", "s1", "s2", "s3"]


@st.composite
def books(draw: st.DrawFn) -> tuple[list[Order], list[Order]]:
    n_bids = draw(st.integers(0, 8))
    n_offers = draw(st.integers(0, 6))
    seqs = draw(st.permutations(range(1, n_bids + n_offers + 1)))
    price = st.integers(1, 12)
    qty = st.integers(1, 30)
    bids = [
        Order(
            seqs[i],
            f"c{i}",
            draw(st.sampled_from(SITES)),
            draw(qty),
            draw(price),
            tuple(draw(st.lists(st.sampled_from(DEVICES), max_size=3, unique=True))),
        )
        for i in range(n_bids)
    ]
    offers = [
        Order(seqs[n_bids + j], f"p{j}", draw(st.sampled_from(DEVICES)), draw(qty), draw(price))
        for j in range(n_offers)
    ]
    return bids, offers


def aggregate(matches: list[Match]) -> dict[tuple[int, int, str], tuple[int, int]]:
    out: dict[tuple[int, int, str], tuple[int, int]] = {}
    for m in matches:
        key = (m.bid, m.offer, m.stage)
        assert key not in out, f"pair {key} matched twice"
        out[key] = (m.energy_wh, m.price_fen_per_kwh)
    return out


@pytest.mark.parametrize("mechanism", MECHANISMS)
@settings(max_examples=300, deadline=None)
@given(book=books())
def test_clearing_matches_the_unit_by_unit_reference(
    mechanism: str, book: tuple[list[Order], list[Order]]
) -> None:
    bids, offers = book
    result = clear(bids, offers, mechanism)
    expected, price = reference_clear(bids, offers, mechanism)
    assert aggregate(result.matches) == expected
    assert result.clearing_price_fen_per_kwh == price
    assert result.volume_wh == sum(q for q, _ in expected.values())
    assert all(m.energy_wh > 0 for m in result.matches)
    for i, b in enumerate(bids):
        assert sum(m.energy_wh for m in result.matches if m.bid == i) <= b.energy_wh
    for j, o in enumerate(offers):
        assert sum(m.energy_wh for m in result.matches if m.offer == j) <= o.energy_wh
    for m in result.matches:  # nobody pays above their bid or sells below their offer
        assert (
            offers[m.offer].price_fen_per_kwh
            <= m.price_fen_per_kwh
            <= bids[m.bid].price_fen_per_kwh
        )
    for m in result.matches:
        if m.stage == "preferred":
            assert offers[m.offer].asset in bids[m.bid].preferred


@pytest.mark.parametrize("mechanism", ["pay_as_clear", "pay_as_bid"])
@settings(max_examples=300, deadline=None)
@given(book=books())
def test_the_auction_clears_the_most_any_single_price_could(
    mechanism: str, book: tuple[list[Order], list[Order]]
) -> None:
    bids, offers = book
    result = clear(bids, offers, mechanism)
    assert result.volume_wh == best_volume(bids, offers)
    if mechanism == "pay_as_clear":
        assert len({m.price_fen_per_kwh for m in result.matches}) <= 1


def test_pay_as_clear_price_is_the_midpoint_of_the_marginal_orders() -> None:
    bids = [Order(1, "a", "s0", 30, 80), Order(2, "b", "s1", 20, 70), Order(3, "c", "s2", 40, 50)]
    offers = [Order(4, "p", "d0", 40, 40), Order(5, "q", "d1", 60, 65)]
    result = clear(bids, offers, "pay_as_clear")
    # a (80) takes 30 from p (40); b (70) takes p's last 10 and 10 from q (65); c (50) < 65
    assert [(m.bid, m.offer, m.energy_wh) for m in result.matches] == [
        (0, 0, 30),
        (1, 0, 10),
        (1, 1, 10),
    ]
    assert result.clearing_price_fen_per_kwh == (70 + 65) // 2
    assert result.volume_wh == 50
    by_bid = clear(bids, offers, "pay_as_bid")
    assert [m.price_fen_per_kwh for m in by_bid.matches] == [80, 70, 70]


def test_equal_prices_go_by_time_priority() -> None:
    bids = [Order(7, "late", "s0", 10, 50), Order(3, "early", "s1", 10, 50)]
    offers = [Order(1, "p", "d0", 10, 50)]
    (match,) = clear(bids, offers, "pay_as_clear").matches
    assert bids[match.bid].account == "early"


def test_preferred_partners_share_pro_rata_then_the_auction_takes_the_rest() -> None:
    bids = [
        Order(1, "a", "s0", 30, 90, ("d0",)),
        Order(2, "b", "s1", 10, 90, ("d0",)),
        Order(3, "c", "s2", 50, 90),
    ]
    offers = [Order(4, "p", "d0", 20, 40), Order(5, "q", "d1", 100, 60)]
    result = clear(bids, offers, "preferred_first")
    preferred = [
        (m.bid, m.energy_wh, m.price_fen_per_kwh) for m in result.matches if m.stage == "preferred"
    ]
    assert preferred == [(0, 15, 40), (1, 5, 40)]  # 20 Wh shared 3:1 at d0's price
    auction = {(m.bid, m.offer): m.energy_wh for m in result.matches if m.stage == "auction"}
    assert auction == {(0, 1): 15, (1, 1): 5, (2, 1): 50}
    assert result.clearing_price_fen_per_kwh == (90 + 60) // 2


def test_unknown_mechanism_is_refused() -> None:
    with pytest.raises(ValueError, match="mechanism"):
        clear([], [], "highest_bidder_takes_all")


@given(available=st.integers(0, 500), demands=st.lists(st.integers(0, 200), max_size=12))
def test_pro_rata_is_exact_to_one_wh(available: int, demands: list[int]) -> None:
    shares = pro_rata(available, demands)
    total = sum(demands)
    assert sum(shares) == min(available, total)
    for d, s in zip(demands, shares, strict=True):
        assert 0 <= s <= d
        if total > available:
            assert abs(s - Fraction(d * available, total)) < 1


@given(wh=st.integers(0, 10**9), price=st.integers(1, 10**6))
def test_escrow_covers_any_cost_and_rounds_up(wh: int, price: int) -> None:
    assert cost_minor(wh, price) <= Fraction(wh * price, 1000) <= escrow_minor(wh, price)
    assert escrow_minor(wh, price) - cost_minor(wh, price) <= 1


@st.composite
def deliveries(
    draw: st.DrawFn,
) -> tuple[list[Pairing], dict[str, int], dict[str, int]]:
    pairings = [
        Pairing(
            draw(st.sampled_from(SITES)), draw(st.sampled_from(DEVICES)), draw(st.integers(1, 50))
        )
        for _ in range(draw(st.integers(0, 10)))
    ]
    generation = {d: draw(st.integers(0, 120)) for d in DEVICES if draw(st.booleans())}
    consumption = {s: draw(st.integers(0, 120)) for s in SITES if draw(st.booleans())}
    for p in pairings:  # participants always have a (possibly zero) measurement
        generation.setdefault(p.device, 0)
        consumption.setdefault(p.site, 0)
    return pairings, generation, consumption


@settings(max_examples=400, deadline=None)
@given(case=deliveries())
def test_delivery_matches_the_reference_and_conserves_energy(
    case: tuple[list[Pairing], dict[str, int], dict[str, int]],
) -> None:
    pairings, generation, consumption = case
    got = deliver(pairings, generation, consumption)
    amounts, imports, exports = reference_deliver(
        [(p.site, p.device, p.energy_wh) for p in pairings], generation, consumption
    )
    assert got.delivered == amounts
    assert got.grid_import == imports
    assert got.grid_export == exports
    for p, d in zip(pairings, got.delivered, strict=True):
        assert 0 <= d <= p.energy_wh
    for site, used in consumption.items():
        to_site = sum(d for p, d in zip(pairings, got.delivered, strict=True) if p.site == site)
        assert to_site + got.grid_import[site] == used
        assert got.grid_import[site] >= 0
    for device, made in generation.items():
        from_dev = sum(
            d for p, d in zip(pairings, got.delivered, strict=True) if p.device == device
        )
        assert from_dev + got.grid_export[device] == made
        assert got.grid_export[device] >= 0


def test_a_short_plant_shares_its_generation_pro_rata() -> None:
    pairings = [Pairing("s0", "d0", 300), Pairing("s1", "d0", 100)]
    got = deliver(pairings, {"d0": 200}, {"s0": 1000, "s1": 1000})
    assert got.delivered == [150, 50]
    assert got.grid_import == {"s0": 850, "s1": 950}
    assert got.grid_export == {"d0": 0}
