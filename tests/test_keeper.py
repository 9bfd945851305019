"""The market keeper clears and settles on time, only what is due, and nothing twice.

A real node with a test clock: standing choices are made before an interval's gate closure;
before it the keeper sends nothing, after it a ``market.clear``; once the hour has ended it
waits for the meter data (a dry run of the settlement) and then sends ``market.settle``.
"""

from __future__ import annotations

from pathlib import Path

from gridledger.contracts import funds, market
from gridledger.node.keeper import MarketKeeper, due_actions
from market_node import FEED_IN, GATE_S, HOUR, SELL, MarketChain, market_chain


def _wait_committed(chain: MarketChain, height: int) -> None:
    assert chain.node.wait_for_height(height, 10)


def test_the_keeper_clears_and_settles_when_due(tmp_path: Path) -> None:
    with market_chain(tmp_path / "home") as chain:
        keeper = MarketKeeper(chain.node, "grid", chain.keys["grid"], period_s=60)
        assert keeper.tick() == []  # no tariffs, no market
        chain.commit("grid", "market.set_tariffs", {"sell_price": SELL, "feed_in_price": FEED_IN})
        assert keeper.tick() == []  # nobody has chosen anything yet
        chain.commit("ann", "market.set_preference", {"site": "s-ann", "choice": "clean"})
        chain.commit("sun", "market.set_standing_offer", {"device": "pv-1", "floor_price": 40})
        hour = chain.hour
        chosen_at = chain.clock.ms // 1000
        chain.clock.set(hour - GATE_S - 1)
        # the choices count for intervals whose gate closure came after them: the hour before
        # ``hour`` only if they were made before its gate closure
        previous = hour - HOUR
        expected = [("market.clear", previous)] if chosen_at < previous - GATE_S else []
        height = chain.node.tip.height
        assert keeper.tick() == expected
        if expected:
            _wait_committed(chain, height + 1)
        assert keeper.tick() == []

        chain.clock.set(hour - GATE_S)
        height = chain.node.tip.height
        assert keeper.tick() == [("market.clear", hour)]
        assert keeper.tick() == []  # in flight: not sent twice
        _wait_committed(chain, height + 1)
        record = market.get_interval(chain.node.state.view, hour)
        assert record is not None
        assert record.status == "cleared"
        assert record.volume_wh == 8_000  # ann's site ceiling from pv-1's 10 kW
        assert keeper.tick() == []

        chain.clock.set(hour + HOUR)
        assert keeper.tick() == [("market.clear", hour + HOUR)]  # the next hour, not settle
        chain.readings(hour, {"pv-1": 6_000})
        assert due_actions(chain.node.state.view, chain.clock.ms) == []  # s-ann missing
        chain.readings(hour, {"s-ann": 5_000})
        height = chain.node.tip.height
        assert keeper.tick() == [("market.settle", hour)]
        _wait_committed(chain, height + 1)
        settled = market.get_interval(chain.node.state.view, hour)
        assert settled is not None
        assert settled.status == "settled"
        assert settled.settlement is not None
        assert settled.settlement.delivered_wh == 5_000
        assert keeper.tick() == []


def test_the_keeper_leaves_intervals_with_nothing_to_clear(tmp_path: Path) -> None:
    """Standing bids with nobody offering are not cleared (no empty cleared interval, no
    escrow); a bid of its own with nothing to match is cleared, and its escrow comes back."""
    with market_chain(tmp_path / "home") as chain:
        keeper = MarketKeeper(chain.node, "grid", chain.keys["grid"], period_s=60)
        chain.commit("grid", "market.set_tariffs", {"sell_price": SELL, "feed_in_price": FEED_IN})
        chain.commit("ann", "market.set_preference", {"site": "s-ann", "choice": "clean"})
        hour = chain.hour
        chain.commit(
            "ben",
            "market.place_bid",
            {"interval": hour + HOUR, "site": "s-ben", "quantity_wh": 2_000, "price": 60},
        )
        assert funds.escrow_of(chain.node.state.view, "ben") == 120
        chain.clock.set(hour - GATE_S)
        assert keeper.tick() == []  # ann's standing bid alone: nothing to match
        chain.clock.set(hour + HOUR - GATE_S)
        height = chain.node.tip.height
        assert keeper.tick() == [("market.clear", hour + HOUR)]
        _wait_committed(chain, height + 1)
        view = chain.node.state.view
        assert market.get_interval(view, hour) is None
        record = market.get_interval(view, hour + HOUR)
        assert record is not None
        assert (record.status, record.pairings, record.bids) == ("cleared", 0, 2)
        assert funds.escrow_of(view, "ben") == funds.escrow_of(view, "ann") == 0
        assert keeper.tick() == []

        # an offer makes the next hour worth clearing: the standing bid meets it
        chain.commit(
            "sun",
            "market.place_offer",
            {"interval": hour + 2 * HOUR, "device": "pv-1", "quantity_wh": 3_000, "price": 40},
        )
        chain.clock.set(hour + 2 * HOUR - GATE_S)
        height = chain.node.tip.height
        assert keeper.tick() == [("market.clear", hour + 2 * HOUR)]
        _wait_committed(chain, height + 1)
        record = market.get_interval(chain.node.state.view, hour + 2 * HOUR)
        assert record is not None
        assert (record.status, record.volume_wh) == ("cleared", 3_000)
