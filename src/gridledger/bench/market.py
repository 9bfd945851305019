"""``gridledger bench market``: clearing and settling one interval with N orders.

The benchmark builds a state holding one open interval with ``N`` orders (four bids for every
offer, each bid for its own metered site, each offer from its own metered plant, prices drawn so
that about half the volume crosses), the meter readings of every site and plant for that hour,
and the grid tariffs. It then runs the market contract's two transactions on it and times them:

* ``clear_s``: ``market.clear``: reading the interval's orders from state, matching them
  (:mod:`gridledger.contracts.market.matching`) and writing every pairing;
* ``settle_s``: ``market.settle``: reading the meters of every participant, sharing deliveries,
  paying from escrow, settling the rest with the grid, and writing every result (each pairing
  once more, each asset's grid settlement, the balances, the interval);
* ``readmodel_s``: folding both steps' changes into the market's read model
  (:mod:`gridledger.readmodels.market`: each account's and plant's totals, each account's
  pairings) in an in-memory SQLite database, as a node does in the block's own SQLite
  transaction; outside consensus, but on the node's commit path.

Both run on the contract's state interface over an in-memory key-value view, as the executor
runs them inside a block; the block's Merkle-root update and its SQLite commit come after and
cost per written key what ``gridledger bench ledger`` measures (``clear_writes`` and
``settle_writes`` say how many keys each step wrote). ``match_s`` is the matching algorithm
alone. Each step runs ``repeat`` times on the same committed state, each time in a fresh write
layer; the figures are the best run (every run is listed), as timing tools report, since other
work on the machine only ever adds time.
"""

from __future__ import annotations

import gc
import itertools
import math
import random
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import msgspec

from gridledger.contracts import funds, market, metering, registry
from gridledger.contracts.base import Context
from gridledger.contracts.market.matching import Order, clear, escrow_minor
from gridledger.core.encoding import canonical
from gridledger.node.node import tune_gc
from gridledger.readmodels.market import MarketTotals
from gridledger.state.readmodels import BlockFacts
from gridledger.state.state import CommittedView, KeyIndex, Scratch

START = 1_767_225_600
"""2026-01-01 00:00 UTC: the benchmark's interval."""
HOUR = 3600
SCALING = (10_000, 100_000, 1_000_000)

Progress = Callable[[str, int, int], None]


def _noop(_phase: str, _done: int, _total: int) -> None:
    return None


def build_state(
    orders: int, mechanism: str, seed: int
) -> tuple[dict[bytes, bytes], list[Order], list[Order]]:
    """The committed key-values of a market with one open interval of ``orders`` orders."""
    rng = random.Random(seed)
    n_bids = orders * 4 // 5
    n_offers = orders - n_bids
    kv: dict[bytes, bytes] = {}
    kv[market.keys.params()] = canonical(msgspec.convert({"mechanism": mechanism}, market.Params))
    kv[market.keys.tariffs()] = canonical(
        market.Tariffs(
            grid_account="grid", sell_price_fen_per_kwh=60, feed_in_price_fen_per_kwh=45, height=1
        )
    )
    kv[market.keys.interval(START)] = canonical(
        market.Interval(start_s=START, interval_s=HOUR, status="open")
    )
    kv[funds.keys.balance("grid")] = str(10**15).encode()
    bids: list[Order] = []
    offers: list[Order] = []
    devices = [f"d{j:07d}" for j in range(n_offers)]
    side: market.Side
    for seq in range(1, orders + 1):
        is_bid = ((seq - 1) % 5 != 4 and len(bids) < n_bids) or len(offers) >= n_offers
        if is_bid:
            i = len(bids)
            asset, account = f"s{i:07d}", f"c{i:07d}"
            qty, price = rng.randint(500, 8000), rng.randint(30, 90)
            preferred: tuple[str, ...] = ()
            if mechanism == "preferred_first" and devices and rng.random() < 0.1:
                preferred = tuple(rng.sample(devices, min(2, len(devices))))
            escrow = escrow_minor(qty, price)
            bids.append(Order(seq, account, asset, qty, price, preferred))
            kv[funds.keys.escrow(account)] = str(escrow).encode()
            kv[funds.keys.balance(account)] = b"100000"
            measured = rng.randint(0, 8000)
            side = "bid"
        else:
            j = len(offers)
            asset, account = devices[j], f"p{j:07d}"
            qty, price = rng.randint(1000, 50_000), rng.randint(20, 80)
            preferred, escrow = (), 0
            offers.append(Order(seq, account, asset, qty, price))
            measured = rng.randint(0, 50_000)
            side = "offer"
        kv[market.keys.order(START, seq)] = canonical(
            market.Order(
                seq=seq,
                side=side,
                account=account,
                asset=asset,
                energy_wh=qty,
                price_fen_per_kwh=price,
                preferred=list(preferred),
                escrow_fen=escrow,
                interval_start_s=START,
                height=1,
                meters=[f"m-{asset}"],
                source="single",
            )
        )
        meter = registry.Meter(
            id=f"m-{asset}",
            kind="consumption" if side == "bid" else "generation",
            gateway="gw",
            interval_s=HOUR,
            registered_height=1,
            device=asset if side == "offer" else None,
            site=asset if side == "bid" else None,
        )
        kv[registry.keys.meter(meter.id)] = canonical(meter)
        kv[registry.keys.asset_meter(*meter.asset(), meter.id)] = b"1"
        kv[metering.keys.reading(meter.id, START)] = canonical(
            metering.Reading(energy_wh=measured, length_s=HOUR, gateway="gw", height=2)
        )
    kv[market.keys.seq()] = str(orders).encode()
    return kv, bids, offers


def _money(kv: dict[bytes, bytes], *layers: dict[bytes, bytes | None]) -> int:
    merged: dict[bytes, bytes | None] = dict(kv)
    for layer in layers:
        merged.update(layer)
    return sum(
        int(v)
        for k, v in merged.items()
        if v is not None and k.startswith((funds.keys.balances(), funds.keys.escrows()))
    )


def _fold(blocks: list[dict[bytes, bytes | None]]) -> float:
    """Seconds to fold ``blocks`` (net state changes) into a fresh market read model."""
    model = MarketTotals()
    conn = sqlite3.connect(":memory:")
    try:
        for ddl in model.tables:
            conn.execute(ddl)
        # a node hands each block's changes over in key order
        facts = [
            BlockFacts(height, START * 1000, dict(sorted(changes.items())))
            for height, changes in enumerate(blocks, 3)
        ]
        t0 = time.perf_counter()
        for block in facts:
            model.apply(conn, block)
        conn.commit()
        return time.perf_counter() - t0
    finally:
        conn.close()


def run_one(
    orders: int, mechanism: str = "pay_as_clear", seed: int = 1, repeat: int = 3
) -> dict[str, Any]:
    """Clear and settle one interval of ``orders`` orders ``repeat`` times, each time on the
    same committed state (a fresh write layer); the best time of each step and what it did."""
    kv, bids, offers = build_state(orders, mechanism, seed)
    threshold = gc.get_threshold()
    base = CommittedView(kv, KeyIndex(kv))
    clear_runs: list[float] = []
    settle_runs: list[float] = []
    match_runs: list[float] = []
    fold_runs: list[float] = []
    tune_gc()  # as the node does when it starts
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            clear(bids, offers, mechanism)
            match_runs.append(time.perf_counter() - t0)
            cleared = Scratch(base)
            ctx = Context(3, START * 1000, "grid", ("grid_operator",), "00" * 32)
            t0 = time.perf_counter()
            market.apply_clear(cleared, ctx, market.IntervalRef(interval=START))
            clear_runs.append(time.perf_counter() - t0)
            settled = Scratch(cleared)
            ctx = Context(4, (START + HOUR) * 1000, "grid", ("grid_operator",), "11" * 32)
            t0 = time.perf_counter()
            market.apply_settle(settled, ctx, market.IntervalRef(interval=START))
            settle_runs.append(time.perf_counter() - t0)
            fold_runs.append(_fold([cleared.writes(), settled.writes()]))
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
    if _money(kv, cleared.writes(), settled.writes()) != _money(kv):
        raise RuntimeError("money not conserved by the benchmark's settlement")
    record = market.get_interval(settled, START)
    assert record is not None
    assert record.settlement is not None
    return {
        "orders": orders,
        "bids": len(bids),
        "offers": len(offers),
        "pairings": record.pairings,
        "volume_wh": record.volume_wh,
        "clearing_price_fen_per_kwh": record.clearing_price_fen_per_kwh,
        "delivered_wh": record.settlement.delivered_wh,
        "match_s": round(min(match_runs), 3),
        "clear_s": round(min(clear_runs), 3),
        "settle_s": round(min(settle_runs), 3),
        "readmodel_s": round(min(fold_runs), 3),
        "clear_runs_s": [round(t, 3) for t in clear_runs],
        "settle_runs_s": [round(t, 3) for t in settle_runs],
        "clear_writes": len(cleared.writes()),
        "settle_writes": len(settled.writes()),
        # unrounded, for the growth ratios (a small run can round to 0.000 s)
        "_clear_s": min(clear_runs),
        "_settle_s": min(settle_runs),
    }


def run_market_bench(
    orders: int,
    mechanism: str = "pay_as_clear",
    scaling: tuple[int, ...] = SCALING,
    seed: int = 1,
    repeat: int = 3,
    progress: Progress = _noop,
) -> dict[str, Any]:
    """The figures for ``orders`` and, in the same run, for each size in ``scaling``.

    ``growth`` compares each step of the scaling with N log N: the ratio of the measured time
    increase to the N log N increase (1.0 means exactly N log N, below 1 means better).
    """
    sizes = sorted(set(scaling) | {orders})
    results: dict[int, dict[str, Any]] = {}
    for done, n in enumerate(sizes):
        progress("run", done, len(sizes))
        results[n] = run_one(n, mechanism, seed, repeat)
    progress("run", len(sizes), len(sizes))
    exact = {n: (r.pop("_clear_s"), r.pop("_settle_s")) for n, r in results.items()}
    table = [results[n] for n in sorted(set(scaling))]
    growth = []
    for small, large in itertools.pairwise(table):
        n0, n1 = small["orders"], large["orders"]
        nlogn = (n1 * math.log(n1)) / (n0 * math.log(n0))
        (clear0, settle0), (clear1, settle1) = exact[n0], exact[n1]
        growth.append(
            {
                "from": n0,
                "to": n1,
                "clear_vs_nlogn": round(clear1 / clear0 / nlogn, 3),
                "settle_vs_nlogn": round(settle1 / settle0 / nlogn, 3),
            }
        )
    return {**results[orders], "mechanism": mechanism, "scaling": table, "growth": growth}
