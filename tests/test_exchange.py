"""The exchange through the executor: limit orders for allowances and credits, matching in
price-time priority, delivery versus payment in funds, locks, cancellation, IOC and expiry.

Every refusal runs alone in a block and must leave every key but the sender's nonce as it
was, with its own error code.
"""

from __future__ import annotations

import pytest

from credits_support import PROJECT
from exchange_support import (
    ALLOCATED,
    ALLOWANCES,
    CREDITS,
    FEN,
    PERIOD,
    ExchangeLedger,
    check_exchange,
    order,
)
from gridledger.contracts import credits, exchange
from gridledger.core.errors import InvalidTransaction, all_error_classes
from gridledger.node.executor import prepare
from ledger_support import BLOCK_TIME_S, CONSUMER, OTHER_HOUSE, PRODUCER


@pytest.fixture
def led() -> ExchangeLedger:
    return ExchangeLedger().market()


def test_allowances_trade_at_the_resting_price_and_settle_both_legs(led: ExchangeLedger) -> None:
    led.place(CONSUMER, ALLOWANCES, "sell", 5_000, 40)
    assert led.allowances(CONSUMER) == (ALLOCATED - 40, 40)
    receipt = led.place(OTHER_HOUSE, ALLOWANCES, "buy", 6_000, 30)
    traded = [e for e in receipt.events if e["type"] == "exchange.traded"]
    assert [(e["price_fen_per_t"], e["quantity_t"]) for e in traded] == [(5_000, 30)]
    assert led.allowances(OTHER_HOUSE) == (ALLOCATED + 30, 0)
    assert led.allowances(CONSUMER) == (ALLOCATED - 40, 10)
    assert led.fen(OTHER_HOUSE) == (FEN - 150_000, 0)  # the 1,000 fen/t above is given back
    assert led.fen(CONSUMER) == (FEN + 150_000, 0)
    assert led.last_order().status == "filled"
    book = exchange.depth(led.state, ALLOWANCES)
    assert [(lv.price_fen_per_t, lv.quantity_t) for lv in book.asks] == [(5_000, 10)]
    assert (book.bids, book.last_price_fen_per_t, book.volume_t) == ([], 5_000, 30)
    check_exchange(led.state)


def test_a_resting_bid_holds_its_cost_in_escrow_until_it_trades(led: ExchangeLedger) -> None:
    led.place(OTHER_HOUSE, ALLOWANCES, "buy", 4_000, 50)
    assert led.fen(OTHER_HOUSE) == (FEN - 200_000, 200_000)
    led.place(CONSUMER, ALLOWANCES, "sell", 3_000, 20)  # trades at the bid's 4,000
    assert led.fen(OTHER_HOUSE) == (FEN - 200_000, 120_000)
    assert led.fen(CONSUMER) == (FEN + 80_000, 0)
    assert led.allowances(OTHER_HOUSE) == (ALLOCATED + 20, 0)
    check_exchange(led.state)


def test_credits_deliver_the_lowest_serials_of_the_sell_order(led: ExchangeLedger) -> None:
    led.place(PRODUCER, CREDITS, "sell", 3_000, 100)
    assert led.credit_units(PRODUCER) == (1194, 100)
    locked = [b for b in led.blocks() if b.status == "locked"]
    assert [(b.first, b.last) for b in locked] == [(1, 100)]
    receipt = led.place(CONSUMER, CREDITS, "buy", 3_000, 60)
    (trade,) = exchange.trades(led.state, CREDITS)
    assert trade.serials == ["GLR-VER-CN-1-20250501-20250531-1-1-60"]
    assert trade.taker == "buy"
    assert receipt.ok
    assert [b.serial() for b in led.held(CONSUMER)] == trade.serials
    assert led.credit_units(PRODUCER) == (1194, 40)
    assert led.fen(PRODUCER) == (FEN + 180_000, 0)
    led.ok(PRODUCER, "exchange.cancel", {"order": _sell_id(led)})
    assert led.credit_units(PRODUCER) == (1234, 0)
    check_exchange(led.state)


def _sell_id(led: ExchangeLedger) -> int:
    (found,) = [o for o in exchange.orders_of(led.state, PRODUCER) if o.side == "sell"]
    return found.id


def test_locked_credits_and_allowances_cannot_move(led: ExchangeLedger) -> None:
    led.place(PRODUCER, CREDITS, "sell", 3_000, 1294)
    serial = credits.blocks_of_project(led.state, PROJECT)[0].serial()
    led.refuse(PRODUCER, "credits.transfer", {"serial": serial, "to": CONSUMER}, "credits.locked")
    retire = {"serial": serial, "beneficiary": "x", "reason": "y", "claim_start_s": 0,
              "claim_end_s": 1}  # fmt: skip
    led.refuse(PRODUCER, "credits.retire", retire, "credits.locked")
    led.place(CONSUMER, ALLOWANCES, "sell", 5_000, ALLOCATED)
    body = {"period": PERIOD, "to": PRODUCER, "quantity_t": 1}
    led.refuse(CONSUMER, "allowances.transfer", body, "allowances.insufficient")
    led.refuse(CONSUMER, "exchange.place", order(ALLOWANCES, "sell", 5_000, 1),
               "exchange.insufficient_allowances")  # fmt: skip
    led.refuse(PRODUCER, "exchange.place", order(CREDITS, "sell", 5_000, 1),
               "exchange.insufficient_credits")  # fmt: skip
    check_exchange(led.state)


def test_price_time_priority(led: ExchangeLedger) -> None:
    led.place(PRODUCER, ALLOWANCES, "sell", 5_100, 10)  # worse price, first
    led.place(CONSUMER, ALLOWANCES, "sell", 5_000, 10)  # best price, earlier
    led.place(PRODUCER, ALLOWANCES, "sell", 5_000, 10)  # best price, later
    led.place(OTHER_HOUSE, ALLOWANCES, "buy", 5_100, 25)
    fills = [(t.seller, t.price_fen_per_t, t.quantity_t) for t in exchange.trades(led.state)]
    assert fills[::-1] == [(CONSUMER, 5_000, 10), (PRODUCER, 5_000, 10), (PRODUCER, 5_100, 5)]
    book = exchange.depth(led.state, ALLOWANCES)
    assert [(lv.price_fen_per_t, lv.quantity_t, lv.orders) for lv in book.asks] == [(5_100, 5, 1)]
    check_exchange(led.state)


def test_depth_aggregates_by_price_level(led: ExchangeLedger) -> None:
    led.place(PRODUCER, ALLOWANCES, "buy", 4_000, 10)
    led.place(CONSUMER, ALLOWANCES, "buy", 4_000, 5)
    led.place(CONSUMER, ALLOWANCES, "buy", 4_200, 1)
    led.place(OTHER_HOUSE, ALLOWANCES, "sell", 4_500, 7)
    book = exchange.depth(led.state, ALLOWANCES)
    assert [(lv.price_fen_per_t, lv.quantity_t, lv.orders) for lv in book.bids] == [
        (4_200, 1, 1), (4_000, 15, 2)]  # fmt: skip
    assert [(lv.price_fen_per_t, lv.quantity_t) for lv in book.asks] == [(4_500, 7)]


def test_ioc_cancels_its_remainder_and_gtc_rests(led: ExchangeLedger) -> None:
    led.place(CONSUMER, ALLOWANCES, "sell", 5_000, 10)
    led.place(OTHER_HOUSE, ALLOWANCES, "buy", 5_000, 25, time_in_force="ioc")
    ioc = led.last_order()
    assert (ioc.status, ioc.remaining_t) == ("cancelled", 15)
    assert led.fen(OTHER_HOUSE) == (FEN - 50_000, 0)
    assert exchange.depth(led.state, ALLOWANCES).bids == []
    check_exchange(led.state)


def test_expired_orders_no_longer_trade(led: ExchangeLedger) -> None:
    led.place(CONSUMER, ALLOWANCES, "sell", 5_000, 10, expires_s=BLOCK_TIME_S + 60)
    later = (BLOCK_TIME_S + 60) * 1000
    assert exchange.depth(led.state, ALLOWANCES, time_s=BLOCK_TIME_S + 60).asks == []
    led.ok(OTHER_HOUSE, "exchange.place", order(ALLOWANCES, "buy", 5_000, 10),
           block_time_ms=later)  # fmt: skip
    assert exchange.trades(led.state) == []
    (sell,) = exchange.orders_of(led.state, CONSUMER)
    assert (sell.status, led.allowances(CONSUMER)) == ("expired", (ALLOCATED, 0))
    assert led.last_order().status == "open"
    check_exchange(led.state)


def test_cancelling_gives_back_what_an_order_locks(led: ExchangeLedger) -> None:
    led.place(OTHER_HOUSE, ALLOWANCES, "buy", 4_000, 50)
    n = led.last_order().id
    led.refuse(CONSUMER, "exchange.cancel", {"order": n}, "exchange.not_your_order")
    led.ok(OTHER_HOUSE, "exchange.cancel", {"order": n})
    assert led.fen(OTHER_HOUSE) == (FEN, 0)
    led.refuse(OTHER_HOUSE, "exchange.cancel", {"order": n}, "exchange.order_closed")
    led.refuse(OTHER_HOUSE, "exchange.cancel", {"order": n + 99}, "exchange.unknown_order")
    check_exchange(led.state)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (order("allowances:ets-2099", "buy", 1, 1), "exchange.unknown_instrument"),
        (order("allowances:Bad Period", "buy", 1, 1), "exchange.unknown_instrument"),
        (order("credits:coal:2025", "buy", 1, 1), "exchange.unknown_instrument"),
        (order("credits:solar_pv:25", "buy", 1, 1), "exchange.unknown_instrument"),
        (order("bonds:x", "buy", 1, 1), "exchange.unknown_instrument"),
        (order(ALLOWANCES, "buy", 0, 1), "exchange.bad_price"),
        (order(ALLOWANCES, "sell", -5, 1), "exchange.bad_price"),
        (order(ALLOWANCES, "buy", 100, 0), "exchange.bad_quantity"),
        (order(ALLOWANCES, "buy", 2**62, 4), "exchange.bad_quantity"),
        (order(ALLOWANCES, "buy", 1, 1, expires_s=BLOCK_TIME_S), "exchange.bad_expiry"),
        (order(ALLOWANCES, "buy", 1, 1, expires_s=0), "exchange.bad_expiry"),
        (order(ALLOWANCES, "buy", 10_000, 1001), "exchange.insufficient_funds"),
        (order(ALLOWANCES, "sell", 1, ALLOCATED + 1), "exchange.insufficient_allowances"),
        (order(CREDITS, "sell", 1, 1295), "exchange.insufficient_credits"),
        (order("credits:solar_pv:2025", "sell", 1, 1), "exchange.insufficient_credits"),
    ],
)
def test_bad_orders_are_refused(led: ExchangeLedger, body: dict[str, object], code: str) -> None:
    led.refuse(PRODUCER, "exchange.place", body, code)


@pytest.mark.parametrize(
    "body",
    [
        order(ALLOWANCES, "buy", 1, 1, time_in_force="fok"),
        order(ALLOWANCES, "hold", 1, 1),
        order(ALLOWANCES, "buy", 1.5, 1),
        {"instrument": ALLOWANCES, "side": "buy", "quantity_t": 1},
    ],
)
def test_malformed_orders_are_refused_at_admission(led: ExchangeLedger,
                                                    body: dict[str, object]) -> None:  # fmt: skip
    with pytest.raises(InvalidTransaction):
        prepare(led.tx(PRODUCER, "exchange.place", body))


def test_an_order_crossing_the_sender_s_own_is_refused_whole(led: ExchangeLedger) -> None:
    led.place(CONSUMER, ALLOWANCES, "sell", 5_000, 5)
    led.place(PRODUCER, ALLOWANCES, "sell", 5_001, 5)
    led.refuse(PRODUCER, "exchange.place", order(ALLOWANCES, "buy", 5_001, 10),
               "exchange.self_trade")  # fmt: skip
    assert exchange.trades(led.state) == []


def test_every_exchange_code_is_its_own() -> None:
    codes = [c.code for c in all_error_classes() if c.code.startswith("exchange.")]
    assert len(codes) == len(set(codes)) >= 11
