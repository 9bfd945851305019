"""The market contract through the executor: orders, escrow, clearing, settlement, refusals.

Each refusal runs alone in a block and must leave every key but the sender's nonce as it was
(``Ledger.refused``). A property test runs random books and meter data through the ledger and
compares every balance with what the brute-force reference matcher and settler say, and checks
that money (balances + escrow) always equals the supply.
"""

from __future__ import annotations

import random
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gridledger.contracts import funds, market
from gridledger.contracts.genesis import load as load_genesis
from gridledger.contracts.market import keys as market_keys
from gridledger.contracts.market.matching import Order, cost_minor, escrow_minor
from gridledger.core.errors import InvalidTransaction
from gridledger.readmodels import market as totals_of
from ledger_support import GRID, GW1, Ledger, asset_genesis, site_body, unchecked
from market_reference import reference_clear, reference_deliver
from market_support import (
    FEED_IN,
    GRID_FUNDS,
    H1,
    HOMES,
    HOUR,
    HOUSE_FUNDS,
    NOW_S,
    PLANTS,
    SELL,
    Market,
    at,
    reference_rows,
)
from support import OPERATOR

H2 = H1 + HOUR


@pytest.fixture(scope="module")
def base() -> Market:
    return Market()


@pytest.fixture
def m() -> Market:
    return Market()


def interval(m: Market, start: int) -> market.Interval:
    record = market.get_interval(m.state, start)
    assert record is not None
    return record


def bid_tx(m: Market, account: str, **changes: Any) -> Any:
    site = next(s for s, a in HOMES.items() if a == account)
    body = {"interval": H1, "site": site, "quantity_wh": 1000, "price": 50, **changes}
    return m.tx(account, "market.place_bid", body)


def offer_tx(m: Market, sender: str, **changes: Any) -> Any:
    body = {"interval": H1, "device": "pv-a", "quantity_wh": 1000, "price": 30, **changes}
    return m.tx(sender, "market.place_offer", body)


# the whole flow ------------------------------------------------------------------------------
def test_bid_offer_clear_settle(m: Market) -> None:
    supply = funds.total_supply(m.state)
    placed = m.bid("alice", 3000, 80)
    assert placed.events[0]["escrow"] == escrow_minor(3000, 80) == 240
    assert (m.balance("alice"), m.escrow("alice")) == (HOUSE_FUNDS - 240, 240)
    m.bid("bob", 2000, 70)
    m.bid("carol", 4000, 50)
    m.offer("pv-a", 4000, 40)
    m.offer("pv-b", 6000, 65)
    assert m.money() == supply

    cleared = m.clear()
    assert cleared.events == [
        {
            "type": "market.cleared",
            "interval": H1,
            "mechanism": "pay_as_clear",
            "clearing_price": 67,
            "volume_wh": 5000,
            "pairings": 3,
            "escrow_released": escrow_minor(4000, 50),
        }
    ]
    pairs = market.pairings(m.state, H1)
    assert [(p.consumer, p.device, p.energy_wh, p.price_fen_per_kwh) for p in pairs] == [
        ("alice", "pv-a", 3000, 67),
        ("bob", "pv-a", 1000, 67),
        ("bob", "pv-b", 1000, 67),
    ]
    # both parties see the same pairing under the same id
    assert m.pairings_of("owner-b") == m.pairings_of("bob")[1:]
    assert len({p.id for p in pairs}) == 3
    # what the pairings can cost stays locked until settlement; carol's bid found no offer,
    # so clearing gave all of hers back
    assert m.escrow("alice") == 240
    assert m.escrow("bob") == escrow_minor(2000, 70)
    assert (m.escrow("carol"), m.balance("carol")) == (0, HOUSE_FUNDS)
    assert [o.escrow_fen for o in market.interval_orders(m.state, H1) if o.side == "bid"] == [
        240, escrow_minor(2000, 70), 0,
    ]  # fmt: skip
    assert m.money() == supply

    m.readings(H1, {"pv-a": 3000, "pv-b": 5000, "s-alice": 2500, "s-bob": 2500, "s-carol": 1000})
    settled = m.settle()
    assert settled.events[0]["delivered_wh"] == 4000
    pairs = market.pairings(m.state, H1)
    # pv-a generated 3000 for 4000 paired: shared 3:1; alice consumed 2500 < 2250? no: 2250 fits
    assert [p.delivered_wh for p in pairs] == [2250, 750, 1000]
    assert [p.amount_fen for p in pairs] == [cost_minor(2250, 67), cost_minor(750, 67), 67]
    record = interval(m, H1)
    assert record.status == "settled"
    totals = record.settlement
    assert totals is not None
    assert totals.delivered_wh + totals.grid_import_wh == totals.consumption_wh == 6000
    assert totals.delivered_wh + totals.grid_export_wh == totals.generation_wh == 8000
    # every escrow is released; money moved, none created
    assert all(m.escrow(a) == 0 for a in HOMES.values())
    assert m.money() == supply
    alice = m.account_totals("alice")
    assert (alice.consumed_wh, alice.clean_wh, alice.grid_import_wh) == (2500, 2250, 250)
    assert (alice.clean_paid_fen, alice.grid_paid_fen) == (cost_minor(2250, 67), 15)
    assert alice.clean_share_permille == 900
    assert m.balance("alice") == HOUSE_FUNDS - cost_minor(2250, 67) - cost_minor(250, SELL)
    # carol took part (her bid found no offer): all her consumption came from the grid
    assert m.balance("carol") == HOUSE_FUNDS - cost_minor(1000, SELL)
    plant = m.plant_totals("pv-b")
    assert (plant.generated_wh, plant.sold_wh, plant.exported_wh) == (5000, 1000, 4000)
    assert plant.buyers == [totals_of.PlantBuyer(consumer="bob", delivered_wh=1000, amount_fen=67)]
    assert m.account_totals("owner-b").feed_in_revenue_fen == cost_minor(4000, FEED_IN)
    assert m.balance("owner-b") == 67 + cost_minor(4000, FEED_IN)
    grid = {g.asset: g for g in market.grid_settlements(m.state, H1)}
    assert (grid["s-bob"].energy_wh, grid["s-bob"].measured_wh) == (2500 - 1750, 2500)
    assert grid["pv-b"].direction == "export"
    assert (grid["pv-b"].energy_wh, grid["pv-b"].amount_fen) == (4000, cost_minor(4000, FEED_IN))


@pytest.mark.parametrize("mechanism", ["pay_as_bid", "preferred_first"])
def test_mechanism_chosen_by_the_operator(mechanism: str) -> None:
    m = Market(mechanism)
    m.bid("alice", 1000, 80, preferred=["pv-b"])
    m.bid("bob", 1000, 70)
    m.offer("pv-a", 1000, 40)
    m.offer("pv-b", 1000, 60)
    m.clear()
    got = {
        (p.consumer, p.device): (p.price_fen_per_kwh, p.stage) for p in market.pairings(m.state, H1)
    }
    if mechanism == "pay_as_bid":
        assert got == {("alice", "pv-a"): (80, "auction"), ("bob", "pv-b"): (70, "auction")}
    else:
        assert got == {("alice", "pv-b"): (60, "preferred"), ("bob", "pv-a"): (55, "auction")}
    assert interval(m, H1).mechanism == mechanism


def test_standing_choices_place_orders_every_interval(m: Market) -> None:
    m.ok("alice", "market.set_preference", {"site": "s-alice", "choice": "clean"})
    m.ok("bob", "market.set_preference", {"site": "s-bob", "choice": "grid"})
    m.ok(
        "carol",
        "market.set_preference",
        {"site": "s-carol", "choice": "clean", "price_cap": 45, "quantity_wh": 500},
    )
    m.ok("owner-a", "market.set_standing_offer", {"device": "pv-a", "floor_price": 40})
    for start in (H1, H2):
        m.clear(start)
        book = market.order_book(m.state, start)
        bids = {o.account: o for o in book.bids}
        assert set(bids) == {"alice", "carol"}  # bob chose the grid
        assert (bids["alice"].energy_wh, bids["alice"].price_fen_per_kwh) == (8000, SELL)
        assert (bids["carol"].energy_wh, bids["carol"].price_fen_per_kwh) == (500, 45)
        assert {o.source for o in book.bids + book.offers} == {"standing"}
        (offer,) = book.offers
        assert (offer.energy_wh, offer.price_fen_per_kwh) == (10_000, 40)  # 10 kW for one hour
        assert interval(m, start).volume_wh == 8500
    # withdrawing the standing offer stops it
    m.ok(
        "owner-a",
        "market.set_standing_offer",
        {"device": "pv-a", "floor_price": 40, "active": False},
    )
    m.clear(H2 + HOUR)
    assert market.order_book(m.state, H2 + HOUR).offers == []


def test_an_explicit_order_replaces_the_standing_one_for_that_interval(m: Market) -> None:
    m.ok("alice", "market.set_preference", {"site": "s-alice", "choice": "clean"})
    m.bid("alice", 1200, 70)
    m.clear()
    (only,) = market.order_book(m.state, H1).bids
    assert (only.source, only.energy_wh) == ("single", 1200)


def test_a_standing_bid_without_funds_is_skipped_and_reported(m: Market) -> None:
    m.ok("alice", "market.set_preference", {"site": "s-alice", "choice": "clean"})
    m.ok("alice", "funds.transfer", {"to": "bob", "amount": HOUSE_FUNDS - 10})
    receipt = m.clear()
    skipped = [e for e in receipt.events if e["type"] == "market.standing_bid_skipped"]
    assert [(e["account"], e["site"]) for e in skipped] == [("alice", "s-alice")]
    assert "holds 10" in skipped[0]["reason"]
    assert market.order_book(m.state, H1).bids == []


def test_cancel_releases_the_escrow(m: Market) -> None:
    order = m.bid("alice", 2000, 50).events[0]["order"]
    assert m.escrow("alice") == 100
    refused = m.refused(
        m.tx("bob", "market.cancel_order", {"interval": H1, "order": order}),
        "market.not_order_owner",
    )
    assert "alice" in refused.message
    m.ok("alice", "market.cancel_order", {"interval": H1, "order": order})
    assert (m.escrow("alice"), m.balance("alice")) == (0, HOUSE_FUNDS)
    assert market.order_book(m.state, H1).bids == []
    m.refused(
        m.tx("alice", "market.cancel_order", {"interval": H1, "order": order}),
        "market.unknown_order",
    )


def test_cancel_after_gate_closure_is_refused(m: Market) -> None:
    order = m.bid("alice", 2000, 50).events[0]["order"]
    m.refused(
        m.tx("alice", "market.cancel_order", {"interval": H1, "order": order}),
        "market.interval_closed",
        block_time_ms=at(H1 - 300),
    )


def test_missing_meter_data_waits_for_the_deadline_then_counts_as_zero(m: Market) -> None:
    m.bid("alice", 1000, 80)
    m.offer("pv-a", 1000, 40)
    m.clear()
    m.readings(H1, {"s-alice": 900})  # pv-a's reading never arrives
    deadline = H1 + HOUR + market.Params().data_deadline_s
    refused = m.refused(
        m.tx(GRID, "market.settle", {"interval": H1}),
        "market.data_not_final",
        block_time_ms=at(deadline - 1),
    )
    assert "m-pv-a" in refused.message
    m.ok(GRID, "market.settle", {"interval": H1}, block_time_ms=at(deadline))
    record = interval(m, H1)
    assert record.settlement is not None
    assert record.settlement.delivered_wh == 0
    assert record.settlement.grid_import_wh == 900
    assert record.missing_data == ["meter 'm-pv-a' has 0 of 1 readings"]
    assert m.escrow("alice") == 0


def test_a_short_balance_at_settlement_becomes_arrears(m: Market) -> None:
    m.bid("alice", 1000, 80)
    m.clear()
    m.ok("alice", "funds.transfer", {"to": "bob", "amount": HOUSE_FUNDS - 80 - 100})
    m.readings(H1, {"s-alice": 8000})  # 8 kWh from the grid at 60: 480 owed, 180 held
    m.settle()
    assert m.balance("alice") == 0
    assert market.arrears_of(m.state, "alice") == [market.Arrear(creditor=GRID, amount_fen=300)]
    m.refused(m.tx("alice", "market.pay_arrears", {"creditor": GRID}), "funds.insufficient_balance")
    m.ok("bob", "funds.transfer", {"to": "alice", "amount": 1000})
    paid = m.ok("alice", "market.pay_arrears", {"creditor": GRID})
    assert paid.events[0]["amount"] == 300
    assert paid.events[0]["left"] == 0
    assert market.arrears_of(m.state, "alice") == []
    m.refused(m.tx("alice", "market.pay_arrears", {"creditor": GRID}), "market.no_arrears")


def test_a_site_and_a_device_sharing_an_id_are_measured_apart(m: Market) -> None:
    """Alice's flat is called ``pv-a``, like owner-a's plant: her bid records and settles on
    her flat's consumption meter only, never on the plant's generation."""
    m.ok("alice", "registry.register_site", site_body("pv-a", max_wh_per_hour=8_000))
    m.meter("m-flat", site="pv-a")
    body = {"interval": H1, "site": "pv-a", "quantity_wh": 2000, "price": 80}
    m.ok("alice", "market.place_bid", body)
    m.offer("pv-a", 3000, 40)
    bid, offer = market.interval_orders(m.state, H1)
    assert (bid.side, bid.meters) == ("bid", ["m-flat"])
    assert (offer.side, offer.meters) == ("offer", ["m-pv-a"])
    m.clear()
    readings = [
        {"meter": "m-flat", "start": H1, "length_s": HOUR, "energy_wh": 1000},
        {"meter": "m-pv-a", "start": H1, "length_s": HOUR, "energy_wh": 3000},
    ]
    m.ok(GW1, "metering.submit", {"readings": readings}, block_time_ms=at(H1 + HOUR))
    m.settle()
    settlement = interval(m, H1).settlement
    assert settlement is not None
    assert (settlement.consumption_wh, settlement.generation_wh) == (1000, 3000)
    assert (settlement.delivered_wh, settlement.grid_export_wh) == (1000, 2000)
    assert settlement.grid_import_wh == 0
    assert m.account_totals("alice").consumed_wh == 1000
    assert m.plant_totals("pv-a").generated_wh == 3000
    assert m.account_totals("owner-a").generated_wh == 3000


# refusals ------------------------------------------------------------------------------------
def test_bid_without_enough_funds(m: Market) -> None:
    refused = m.refused(
        bid_tx(m, "alice", quantity_wh=10**7, price=1000), "funds.insufficient_balance"
    )
    assert str(HOUSE_FUNDS) in refused.message


def test_offer_from_a_non_producer(m: Market) -> None:
    m.refused(offer_tx(m, "alice"), "auth.forbidden")


def test_offer_for_a_plant_the_sender_does_not_own(m: Market) -> None:
    refused = m.refused(offer_tx(m, "owner-b"), "market.not_owner")
    assert "sunroof" in refused.message
    m.refused(offer_tx(m, "owner-b", device="pv-zz"), "market.unknown_asset")


def test_bid_for_a_site_of_another_household(m: Market) -> None:
    m.refused(bid_tx(m, "alice", site="s-bob"), "market.not_owner")


def test_orders_for_past_closed_misaligned_or_distant_intervals(m: Market) -> None:
    m.refused(bid_tx(m, "alice", interval=NOW_S - HOUR), "market.interval_past")
    m.refused(bid_tx(m, "alice", interval=NOW_S), "market.interval_closed")  # it started
    m.refused(bid_tx(m, "alice"), "market.interval_closed", block_time_ms=at(H1 - 300))
    m.refused(bid_tx(m, "alice", interval=H1 + 60), "market.invalid_interval")
    m.refused(bid_tx(m, "alice", interval=NOW_S + 8 * 86_400), "market.too_far_ahead")
    m.clear()
    m.refused(offer_tx(m, "owner-a"), "market.interval_closed", block_time_ms=at(NOW_S))


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"quantity_wh": 0}, "market.invalid_quantity"),
        ({"quantity_wh": -5}, "market.invalid_quantity"),
        ({"price": 0}, "market.invalid_price"),
        ({"price": -1}, "market.invalid_price"),
        ({"price": market.MAX_PRICE_FEN_PER_KWH + 1}, "market.invalid_price"),
        ({"preferred": ["pv-a", "pv-a"]}, "market.invalid_preference"),
    ],
)
def test_stateless_rules_hold_at_execution_too(
    m: Market, changes: dict[str, Any], code: str
) -> None:
    """Admission refuses these; a block that carries them anyway fails them the same way."""
    tx = bid_tx(m, "alice", **changes)
    with pytest.raises(InvalidTransaction) as exc:
        market.PlaceBid(**{**tx.body}).check()
    assert exc.value.code == code
    m.refused(unchecked(tx), code)


def test_offer_quantities_and_prices_must_be_positive(m: Market) -> None:
    m.refused(unchecked(offer_tx(m, "owner-a", quantity_wh=0)), "market.invalid_quantity")
    m.refused(unchecked(offer_tx(m, "owner-a", price=-3)), "market.invalid_price")


def test_preferred_plant_must_exist_and_sites_need_a_meter(m: Market) -> None:
    m.refused(bid_tx(m, "alice", preferred=["pv-nowhere"]), "market.unknown_asset")
    m.ok("alice", "registry.register_site", {
        "site": "s-alice-2", "name": "Garage", "country": "CN", "grid_region": "CN-GD",
        "max_wh_per_hour": 3000,
    })  # fmt: skip
    m.refused(bid_tx(m, "alice", site="s-alice-2"), "market.no_meter")


def test_clearing_rules(m: Market) -> None:
    clear_h1 = {"interval": H1}
    m.refused(m.tx(GRID, "market.clear", clear_h1), "market.cutoff_not_reached")
    m.refused(m.tx(GRID, "market.clear", {"interval": H1 + 1}), "market.invalid_interval",
              block_time_ms=at(H1))  # fmt: skip
    m.clear()
    m.refused(m.tx(GRID, "market.clear", clear_h1), "market.already_cleared", block_time_ms=at(H1))


def test_settlement_rules(m: Market) -> None:
    m.bid("alice", 1000, 80)
    m.offer("pv-a", 1000, 40)
    settle = {"interval": H1}
    m.refused(m.tx(GRID, "market.settle", settle), "market.not_cleared", block_time_ms=at(H2))
    m.clear()
    # before the interval ends, and after it ended but before its readings are in
    m.refused(m.tx(GRID, "market.settle", settle), "market.data_not_final", block_time_ms=at(H1))
    m.refused(m.tx(GRID, "market.settle", settle), "market.data_not_final", block_time_ms=at(H2))
    m.readings(H1, {"pv-a": 700, "s-alice": 900})
    m.settle()
    # a second settlement of the same interval
    refused = m.refused(m.tx(GRID, "market.settle", settle), "market.already_settled",
                        block_time_ms=at(H2))  # fmt: skip
    assert "settled at height" in refused.message


def test_tariffs_and_params_are_checked_and_needed() -> None:
    m = Ledger()  # no tariffs, no parameters set
    m.refused(m.tx(GRID, "market.clear", {"interval": H1}), "market.no_tariffs",
              block_time_ms=at(H1))  # fmt: skip
    m.refused(m.tx(OPERATOR, "market.set_tariffs", {"sell_price": 60, "feed_in_price": 30}),
              "auth.forbidden")  # fmt: skip
    m.refused(unchecked(m.tx(GRID, "market.set_tariffs", {"sell_price": 0, "feed_in_price": 30})),
              "market.invalid_price")  # fmt: skip
    for body in (
        {"interval_s": 600},
        {"mechanism": "lottery"},
        {"gate_closure_s": -1},
        {"horizon_s": 60},
        {"data_deadline_s": 40 * 86_400},
    ):
        m.refused(unchecked(m.tx(OPERATOR, "market.set_params", body)), "market.invalid_params")
    m.refused(m.tx(GRID, "market.set_params", {"mechanism": "pay_as_bid"}), "auth.forbidden")
    m.ok(OPERATOR, "market.set_params", {"interval_s": 900, "mechanism": "pay_as_bid"})
    assert market.params(m.state).interval_s == 900


def test_preference_must_choose_clean_or_grid(m: Market) -> None:
    body = {"site": "s-alice", "choice": "green"}
    m.refused(unchecked(m.tx("alice", "market.set_preference", body)), "market.invalid_preference")
    m.refused(
        m.tx("owner-a", "market.set_preference", {**body, "choice": "clean"}), "auth.forbidden"
    )


# the property: money and energy add up, exactly as the references say -------------------------
@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    homes = sorted(HOMES.items())
    bids = [
        (account, draw(st.integers(1, 4000)), draw(st.integers(20, 90)),
         draw(st.lists(st.sampled_from(sorted(PLANTS)), max_size=2, unique=True)))
        for _, account in homes if draw(st.booleans())
    ]  # fmt: skip
    offers = [
        (device, draw(st.integers(1, 6000)), draw(st.integers(20, 90)))
        for device in sorted(PLANTS)
        if draw(st.booleans())
    ]
    meters = {site: draw(st.integers(0, 8000)) for site, _ in homes}
    meters.update({d: draw(st.integers(0, 9000)) for d in sorted(PLANTS)})
    return {
        "mechanism": draw(st.sampled_from(["pay_as_clear", "pay_as_bid", "preferred_first"])),
        "bids": bids,
        "offers": offers,
        "meters": meters,
    }


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenarios())
# one Wh consumed, paired with two plants: the tie goes to the earlier pairing (the cheaper offer)
@example(
    case={
        "mechanism": "pay_as_clear",
        "bids": [("bob", 2, 21, [])],
        "offers": [("pv-a", 1, 21), ("pv-b", 1, 20)],
        "meters": {"s-alice": 0, "s-bob": 1, "s-carol": 0, "pv-a": 1, "pv-b": 1},
    }
)
def test_balances_follow_the_reference_matcher_and_settler(case: dict[str, Any]) -> None:
    m = Market(case["mechanism"])
    supply = funds.total_supply(m.state)
    before = {a: m.balance(a) for a in [*HOMES.values(), "owner-a", "owner-b", GRID]}
    site_of = {a: s for s, a in HOMES.items()}
    for account, wh, price, preferred in case["bids"]:
        m.bid(account, wh, price, preferred=preferred)
    for device, wh, price in case["offers"]:
        m.offer(device, wh, price)
    m.clear()
    assert m.money() == supply
    m.readings(H1, dict(case["meters"].items()))
    m.settle()
    assert m.money() == supply
    assert all(m.escrow(a) == 0 for a in HOMES.values())

    # the references, from the orders as placed (seq in placement order: bids, then offers)
    bids = [Order(i + 1, a, site_of[a], wh, p, tuple(pref))
            for i, (a, wh, p, pref) in enumerate(case["bids"])]  # fmt: skip
    n = len(bids)
    offers = [
        Order(n + j + 1, PLANTS[d][1], d, wh, p) for j, (d, wh, p) in enumerate(case["offers"])
    ]
    expected, _ = reference_clear(bids, offers, case["mechanism"])
    # settlement shares a short meter over the pairings in their stored order (ties go to the
    # earlier pairing), so the reference settler takes them in that order: the same pairings as
    # the reference matcher, the auction's in merit order (best bid first, then best offer)
    keys = [(p.bid - 1, p.offer - n - 1, p.stage) for p in market.pairings(m.state, H1)]
    assert sorted(keys) == sorted(expected)
    bid_rank = {i: (-bids[i].price_fen_per_kwh, bids[i].seq) for i in range(n)}
    offer_rank = {j: (offers[j].price_fen_per_kwh, offers[j].seq) for j in range(len(offers))}
    walk = [(bid_rank[i], offer_rank[j]) for i, j, s in keys if s == "auction"]
    assert walk == sorted(walk)
    pairings = [(bids[i].asset, offers[j].asset, expected[(i, j, s)][0]) for i, j, s in keys]
    sites = {b.asset for b in bids}
    devices = {o.asset for o in offers}
    delivered, imports, exports = reference_deliver(
        pairings,
        {d: case["meters"][d] for d in devices},
        {s: case["meters"][s] for s in sites},
    )
    change = dict.fromkeys(before, 0)
    # the read model's totals per account, as the references say
    ledger: dict[str, dict[str, int]] = {a: {} for a in before}

    def add(account: str, **values: int) -> None:
        for name, value in values.items():
            ledger[account][name] = ledger[account].get(name, 0) + value

    for (i, j, s), wh in zip(keys, delivered, strict=True):
        amount = cost_minor(wh, expected[(i, j, s)][1])
        change[bids[i].account] -= amount
        change[offers[j].account] += amount
        add(bids[i].account, clean_wh=wh, clean_paid_fen=amount)
        add(offers[j].account, sold_wh=wh, clean_revenue_fen=amount)
    owner_of_site = {b.asset: b.account for b in reversed(bids)}
    for site, wh in imports.items():
        change[owner_of_site[site]] -= cost_minor(wh, SELL)
        change[GRID] += cost_minor(wh, SELL)
        add(owner_of_site[site], consumed_wh=case["meters"][site], grid_import_wh=wh,
            grid_paid_fen=cost_minor(wh, SELL))  # fmt: skip
    owner_of_device = {d: PLANTS[d][1] for d in devices}
    for device, wh in exports.items():
        change[owner_of_device[device]] += cost_minor(wh, FEED_IN)
        change[GRID] -= cost_minor(wh, FEED_IN)
        add(owner_of_device[device], generated_wh=case["meters"][device], exported_wh=wh,
            feed_in_revenue_fen=cost_minor(wh, FEED_IN))  # fmt: skip
    assert {a: m.balance(a) - before[a] for a in before} == change
    for account, sums in ledger.items():
        got = msgspec.structs.asdict(m.account_totals(account))
        assert {name: got[name] for name in sums} == sums, account
    # and every table row as the records in state say
    assert m.rows() == reference_rows(m.state)
    assert before[GRID] == GRID_FUNDS
    totals = interval(m, H1).settlement
    assert totals is not None
    assert totals.delivered_wh == sum(delivered)
    assert totals.delivered_wh + totals.grid_import_wh == totals.consumption_wh
    assert totals.delivered_wh + totals.grid_export_wh == totals.generation_wh
    # nothing settles twice
    m.refused(m.tx(GW1, "market.settle", {"interval": H1}), "market.already_settled",
              block_time_ms=at(H2))  # fmt: skip


def test_standing_choices_never_reach_back_into_old_intervals(m: Market) -> None:
    """A choice made now counts from the next gate closure on: clearing an interval of last
    month late pairs nothing that nobody chose then."""
    m.ok("alice", "market.set_preference", {"site": "s-alice", "choice": "clean"})
    m.ok("owner-a", "market.set_standing_offer", {"device": "pv-a", "floor_price": 10})
    old = NOW_S - 3 * 86_400
    m.ok(GRID, "market.clear", {"interval": old})
    record = interval(m, old)
    assert (record.bids, record.offers, record.volume_wh) == (0, 0, 0)
    assert m.escrow("alice") == 0
    # the same choices do count for the next interval
    m.clear()
    assert interval(m, H1).volume_wh == 8000


def test_intervals_older_than_the_clearing_window_are_refused(m: Market) -> None:
    """Nobody may clear (and so settle) intervals from long ago, leaving junk records: the
    market's clear_window_s bounds how far back clearing reaches."""
    for old in (0, 3600, NOW_S - 30 * 86_400, NOW_S - 8 * 86_400):
        refused = m.refused(m.tx(GRID, "market.clear", {"interval": old}),
                            "market.interval_too_old")  # fmt: skip
        assert "ended more than 604800 s" in refused.message
    m.ok(GRID, "market.clear", {"interval": NOW_S - 6 * 86_400})
    m.ok(OPERATOR, "market.set_params", {"clear_window_s": 40 * 86_400})
    m.ok(GRID, "market.clear", {"interval": NOW_S - 30 * 86_400})
    m.refused(unchecked(m.tx(OPERATOR, "market.set_params", {"clear_window_s": 60})),
              "market.invalid_params")  # fmt: skip


def test_params_change_only_what_is_given(m: Market) -> None:
    m.ok(OPERATOR, "market.set_params", {"mechanism": "pay_as_bid"})
    m.ok(OPERATOR, "market.set_params", {"gate_closure_s": 900})
    assert market.params(m.state) == market.Params(mechanism="pay_as_bid", gate_closure_s=900)
    refused = m.refused(
        m.tx(OPERATOR, "market.set_params", {"horizon_s": 900}), "market.invalid_params"
    )
    assert "shorter than one interval" in refused.message


def test_a_standing_offer_is_withdrawn_without_a_price(m: Market) -> None:
    m.ok("owner-a", "market.set_standing_offer", {"device": "pv-a", "floor_price": 40})
    m.ok("owner-a", "market.set_standing_offer", {"device": "pv-a", "active": False})
    assert market.standing_offers(m.state) == []
    body = {"device": "pv-a"}
    m.refused(unchecked(m.tx("owner-a", "market.set_standing_offer", body)), "market.invalid_price")


def test_time_priority_among_standing_bids_rotates(m: Market) -> None:
    """Two households with the same standing bid for one plant's 1 kWh: the one served first
    changes from interval to interval instead of always being the smaller account id."""
    for account in ("alice", "bob"):
        site = next(s for s, a in HOMES.items() if a == account)
        body = {"site": site, "choice": "clean", "price_cap": 50, "quantity_wh": 1000}
        m.ok(account, "market.set_preference", body)
    m.ok(
        "owner-a",
        "market.set_standing_offer",
        {"device": "pv-a", "floor_price": 40, "quantity_wh": 1000},
    )
    served = []
    for k in range(8):
        start = H1 + k * HOUR
        m.clear(start)
        (pairing,) = market.pairings(m.state, start)
        served.append(pairing.consumer)
    assert set(served) == {"alice", "bob"}, served


def test_the_read_model_follows_a_block_that_clears_and_settles_at_once(m: Market) -> None:
    """Clearing, readings and settlement of one interval in a single block: the block's net
    changes hold each pairing once, settled, and the read model still lists and counts it."""
    m.bid("alice", 1000, 80)
    m.offer("pv-a", 800, 40)
    readings = [
        {"meter": f"m-{a}", "start": H1, "length_s": HOUR, "energy_wh": wh}
        for a, wh in (("pv-a", 700), ("s-alice", 900))
    ]
    receipts = m.run(
        m.tx(GRID, "market.clear", {"interval": H1}),
        m.tx(GW1, "metering.submit", {"readings": readings}),
        m.tx(GRID, "market.settle", {"interval": H1}),
        block_time_ms=at(H1 + HOUR),
    )
    assert [r.code for r in receipts] == [None, None, None]
    assert [p.delivered_wh for p in m.pairings_of("alice")] == [700]
    assert m.pairings_of("owner-a") == m.pairings_of("alice")
    assert (m.account_totals("alice").clean_wh, m.plant_totals("pv-a").sold_wh) == (700, 700)
    assert m.rows() == reference_rows(m.state)


def test_a_month_of_grid_bills_adds_up_to_tariff_times_energy() -> None:
    """Hourly grid bills round down to whole fen but carry what they leave to the asset's next
    bill: over a month (720 bills a site) the grid is paid its tariff times the energy to
    within one fen, where rounding every bill apart would lose a fen in most of them."""
    m = Market()
    # alice bids every hour below the plant's floor, so nothing pairs: all her consumption is
    # a grid import and all of pv-a's generation a grid export
    m.ok("alice", "market.set_preference", {"site": "s-alice", "choice": "clean", "price_cap": 35})
    m.ok("owner-a", "market.set_standing_offer", {"device": "pv-a", "floor_price": 40})
    rng = random.Random(15)
    hours = 30 * 24
    used = [rng.randint(80, 900) for _ in range(hours)]
    made = [rng.choice((0, 0, rng.randint(1, 9_000))) for _ in range(hours)]
    billed = {"s-alice": 0, "pv-a": 0}
    for n in range(hours):
        start = H1 + n * HOUR
        m.clear(start)
        m.readings(start, {"s-alice": used[n], "pv-a": made[n]})
        m.settle(start)
        bills = {g.asset: g for g in market.grid_settlements(m.state, start)}
        assert bills["s-alice"].energy_wh == used[n]
        billed["s-alice"] += bills["s-alice"].amount_fen
        billed["pv-a"] += bills["pv-a"].amount_fen
    exact_import = sum(used) * SELL  # thousandths of a fen
    exact_export = sum(made) * FEED_IN
    assert billed["s-alice"] == exact_import // 1000
    assert billed["pv-a"] == exact_export // 1000
    # what is left below a fen waits for the next bill
    assert m.state.get_int(market_keys.grid_carry("import", "s-alice")) == exact_import % 1000
    # rounding each bill apart would have under-collected by more than a percent
    apart = sum(cost_minor(wh, SELL) for wh in used)
    assert exact_import // 1000 - apart > exact_import // 1000 // 100
    assert m.balance("alice") == HOUSE_FUNDS - billed["s-alice"]
    assert m.money() == funds.total_supply(m.state)


def test_a_chain_made_before_market_rules_2_keeps_the_first_rules() -> None:
    """A genesis document without market_rules (made before the versions) keeps its hash and
    runs the first rules, so its history re-executes as it was made: escrow held until
    settlement, each grid bill rounded down on its own."""
    old = Market(market_rules=1)
    assert b"market_rules" not in asset_genesis_v1().encode()
    assert load_genesis(asset_genesis_v1().encode()).market_rules == 1
    assert market.rules_version(old.state) == 1
    assert market.rules_version(Market().state) == market.RULES_VERSION == 2
    old.ok(
        "alice", "market.set_preference", {"site": "s-alice", "choice": "clean", "price_cap": 35}
    )
    old.ok("owner-a", "market.set_standing_offer", {"device": "pv-a", "floor_price": 40})
    bills = 0
    for n, used in enumerate((333, 333, 333)):
        start = H1 + n * HOUR
        cleared = old.clear(start)
        assert "escrow_released" not in cleared.events[-1]
        assert old.escrow("alice") > 0  # held until settlement under the first rules
        old.readings(start, {"s-alice": used, "pv-a": 0})
        old.settle(start)
        (bill,) = [g for g in market.grid_settlements(old.state, start) if g.asset == "s-alice"]
        bills += bill.amount_fen
    assert bills == 3 * cost_minor(333, SELL)
    assert old.escrow("alice") == 0


def asset_genesis_v1() -> Any:
    genesis = asset_genesis()
    genesis.market_rules = 1
    return genesis
