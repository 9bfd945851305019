"""``gridledger bench carbon-markets``: how fast the credit registry issues and retires serial
blocks, and how many limit orders the whole node takes a second.

**Credits** (``issue_per_s``, ``retire_per_s``), on the contracts with their state tree, the
way a node executes a block but without the network around it (admission, ordering and the
SQLite commit are what ``orders_per_s`` and ``bench ledger`` measure): an in-memory state
from a genesis of a regulator, a grid operator and its gateway, a wind company (producer) and
a verification body (carbon verifier). Set-up, not timed: the regulator puts China's 2023
factor sets in force (:func:`gridledger.bench.carbon.factor_txs`) and sets the buffer pool's
share to 0; the wind company registers a 400 MW offshore wind farm with a daily meter that
reports 9 GWh a day for a year, registers it as a project, and the verifier confirms the
year's reductions (some 1.3 Mt). Then, each phase timed from its first transaction to its last
state root, ``blocks_per_block`` transactions a block, every body decoded and checked as the
executor does (signatures are not checked here):

1. ``issue_per_s``: ``blocks`` ``credits.issue`` of 1 t each, so ``blocks`` batches and as
   many serial blocks;
2. ``retire_per_s``: a ``credits.retire`` of each of those blocks, by serial.

**Orders** (``orders_per_s``), through the whole node (admission with signature checks in
the node's worker processes, ordering, execution, state root, the SQLite commit with fsync),
as ``bench ledger`` measures transfers: ``traders`` accounts, half buyers opening with funds,
half sellers given allowances of period ``ets-bench`` (set-up, not timed). ``orders``
``exchange.place`` limit orders, signed before the clock starts, buyers buying and sellers
selling ``allowances:ets-bench`` at 95.00-105.00 yuan a tonne (1-10 t), so about half of
them trade on arrival and the rest rest in the book. ``orders_traded`` counts the trades,
``book_bids`` and ``book_asks`` the price levels left.

``ed25519_verify_per_s_one_core`` is PyNaCl verifying an order's signing bytes in one thread,
measured before and after the orders (the higher figure is kept, as ``bench ledger`` does);
``orders_ratio`` is ``orders_per_s`` over it. ``credits_other_processes_cores`` and
``orders_other_processes_cores`` are the cores everything else on the machine used during
each part (figures from a busy machine are not the node's).

**Claims** (``claim_verify_ms``, target under 1 ms): the median time to check one
carbon-neutrality claim's proof file offline over ``claim_samples`` checks
(:func:`gridledger.bench.claims.run_claims_bench`, the same figure as ``bench claims``).

:func:`figures` builds the printed object from each part's results, so a new part adds its
own figures there.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import psutil

from gridledger.bench.carbon import factor_txs
from gridledger.bench.claims import run_claims_bench
from gridledger.bench.ledger import (
    PASSPHRASE,
    bench_key,
    commit_all,
    commit_timed,
    cpu_seconds,
    verify_rate_one_core,
)
from gridledger.contracts import credits, exchange
from gridledger.contracts.genesis import Genesis, GenesisAccount, GenesisOrganisation
from gridledger.contracts.rules import Rules
from gridledger.core.crypto import SigningKey
from gridledger.core.types import Transaction
from gridledger.node.executor import execute_block, prepare
from gridledger.node.home import init_home, open_node
from gridledger.node.transition import genesis_state
from gridledger.state.state import State

Progress = Callable[[str, int, int], None]

CHAIN_ID = "gridledger-bench-carbon-markets"
DAY_S = 86_400
YEAR_2025 = 1_735_689_600
YEAR_2026 = 1_767_225_600
BLOCK_TIME_MS = (YEAR_2026 + 31 * DAY_S) * 1000
"""2026-02-01: the year 2025 has ended, so its monitoring period can be verified."""
FARM_W = 400_000_000
DAY_WH = 9_000_000_000
PERIOD = "ets-bench"
INSTRUMENT = f"allowances:{PERIOD}"
TRADER_FUNDS = 10**13
SELLER_ALLOWANCES_T = 10**9


def _noop(_phase: str, _done: int, _total: int) -> None:
    return None


class _OtherLoad:
    """The cores the rest of the machine keeps busy between :meth:`start` and :meth:`cores`."""

    def start(self) -> None:
        self.me = psutil.Process()
        self.t0, self.busy0, self.own0 = time.perf_counter(), _busy_s(), sum(cpu_seconds(self.me))

    def cores(self) -> float:
        elapsed = time.perf_counter() - self.t0
        others = (_busy_s() - self.busy0) - (sum(cpu_seconds(self.me)) - self.own0)
        return max(0.0, others / elapsed) if elapsed > 0 else 0.0


def _busy_s() -> float:
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0))


@dataclass
class CreditRates:
    """The credit phases' results."""

    blocks: int
    issue_s: float
    retire_s: float
    failed: int
    serial_blocks: int
    retired_t: int
    other_cores: float


@dataclass
class OrderRate:
    """The order phase's results."""

    orders: int
    traders: int
    committed: int
    failed: int
    first_failure: str | None
    elapsed_s: float
    trades: int
    book_bids: int
    book_asks: int
    verify_per_s: float
    block_max_txs: int
    other_cores: float


def figures(
    credit: CreditRates, order: OrderRate, claims: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The benchmark's printed figures, from each part's results."""
    orders_per_s = order.committed / order.elapsed_s if order.elapsed_s > 0 else 0.0
    claim = claims or {}
    return {
        "blocks": credit.blocks,
        "issue_per_s": round(credit.blocks / credit.issue_s, 1),
        "retire_per_s": round(credit.blocks / credit.retire_s, 1),
        "issue_s": round(credit.issue_s, 2),
        "retire_s": round(credit.retire_s, 2),
        "credit_failed_receipts": credit.failed,
        "serial_blocks": credit.serial_blocks,
        "retired_t": credit.retired_t,
        "credits_other_processes_cores": round(credit.other_cores, 2),
        "orders": order.orders,
        "traders": order.traders,
        "orders_committed": order.committed,
        "orders_failed_receipts": order.failed,
        "orders_first_failure": order.first_failure,
        "orders_elapsed_s": round(order.elapsed_s, 2),
        "orders_per_s": round(orders_per_s, 1),
        "orders_traded": order.trades,
        "book_bids": order.book_bids,
        "book_asks": order.book_asks,
        "ed25519_verify_per_s_one_core": round(order.verify_per_s, 1),
        "orders_ratio": round(orders_per_s / order.verify_per_s, 3),
        "block_max_txs": order.block_max_txs,
        "orders_other_processes_cores": round(order.other_cores, 2),
        "claim_verify_ms": claim.get("claim_verify_ms"),
        "claim_proof_bytes": claim.get("claim_proof_bytes"),
        "claim_verify_samples": claim.get("samples"),
    }


# credits ---------------------------------------------------------------------------------------
class _Ledger:
    """An in-memory state executing one block of transactions at a time."""

    def __init__(self, genesis: Genesis) -> None:
        self.state: State = genesis_state(genesis)
        self.state.compute_root()
        self.state.finish_block()
        self.height = 0
        self.nonces: dict[str, int] = {}
        self.failed = 0
        self.first_failure: str | None = None

    def tx(self, sender: str, kind: str, body: dict[str, Any]) -> Transaction:
        nonce = self.nonces.get(sender, 0) + 1
        self.nonces[sender] = nonce
        return Transaction(CHAIN_ID, kind, sender, nonce, body)

    def run(self, txs: list[Transaction]) -> None:
        self.height += 1
        receipts = execute_block(self.state, [prepare(t) for t in txs], self.height, BLOCK_TIME_MS)
        for r in receipts:
            if r.status != "ok":
                self.failed += 1
                self.first_failure = self.first_failure or f"{r.code}: {r.message}"
        self.state.compute_root()
        self.state.finish_block()


def _credit_genesis() -> Genesis:
    def account(name: str, org: str, roles: list[str]) -> GenesisAccount:
        return GenesisAccount(id=name, org=org, public_key=bench_key(hash_of(name)).public_key,
                              roles=roles)  # fmt: skip

    return Genesis(
        chain_id=CHAIN_ID, genesis_time=YEAR_2025 * 1000,
        organisations=[
            GenesisOrganisation(id="operator", name="Operator", roles=["operator", "regulator",
                                "grid_operator"], node_key=bench_key(1).public_key),
            GenesisOrganisation(id="windco", name="Wind company", roles=["producer"]),
            GenesisOrganisation(id="verifiers", name="Verification body",
                                roles=["carbon_verifier"]),
        ],
        accounts=[
            account("regulator", "operator", ["regulator"]),
            account("grid", "operator", ["grid_operator"]),
            account("gw", "operator", []),
            account("wind", "windco", ["producer"]),
            account("verifier", "verifiers", ["carbon_verifier"]),
        ],
    )  # fmt: skip


def hash_of(name: str) -> int:
    """A fixed key number for a named bench account."""
    return 8_000_000 + int(sum(ord(c) * 31**i for i, c in enumerate(name))) % 1_000_000


def _decoded(raws: list[bytes]) -> list[Transaction]:
    return [msgspec.json.decode(r, type=Transaction) for r in raws]


def _credit_setup(led: _Ledger) -> str:
    """Factors, the farm, its year of readings, the project and its verified year; the
    period's id."""
    keys = {"regulator": bench_key(hash_of("regulator"))}
    factors = _decoded(factor_txs(keys, YEAR_2025, YEAR_2026))
    led.nonces["regulator"] = len(factors)
    led.run(factors)
    led.run([
        led.tx("regulator", "credits.set_params", {"buffer_ppm": 0}),
        led.tx("wind", "registry.register_device", {
            "device": "wf-1", "name": "Offshore wind farm", "technology": "wind_offshore",
            "fuel": "wind", "capacity_w": FARM_W, "commissioned": "2020-01-01", "country": "CN",
            "grid_region": "CN-GD", "support": "none"}),
    ])  # fmt: skip
    led.run([led.tx("grid", "registry.register_meter", {
        "meter": "m-wf", "kind": "generation", "gateway": "gw", "device": "wf-1",
        "interval_s": DAY_S})])  # fmt: skip
    days = (YEAR_2026 - YEAR_2025) // DAY_S
    readings = [{"meter": "m-wf", "start": YEAR_2025 + d * DAY_S, "length_s": DAY_S,
                 "energy_wh": DAY_WH} for d in range(days)]  # fmt: skip
    led.run([led.tx("gw", "metering.submit", {"readings": readings})])
    led.run([led.tx("wind", "credits.register_project", {
        "id": "wf", "name": "Offshore wind farm", "device": "wf-1", "methodology": "CDM ACM0002",
        "baseline": "CN-GD grid electricity", "monitoring_plan": "MP-1"})])  # fmt: skip
    led.run([led.tx("verifier", "credits.verify_period",
                    {"project": "wf", "id": "2025", "start_s": YEAR_2025,
                     "end_s": YEAR_2026})])  # fmt: skip
    if led.failed:
        raise RuntimeError(f"set-up transaction failed: {led.first_failure}")
    return "2025"


def _timed(led: _Ledger, txs: list[Transaction], per_block: int, phase: str,
           progress: Progress) -> float:  # fmt: skip
    start = time.perf_counter()
    for i in range(0, len(txs), per_block):
        led.run(txs[i : i + per_block])
        progress(phase, min(i + per_block, len(txs)), len(txs))
    return time.perf_counter() - start


def credit_rates(blocks: int, per_block: int = 2000, progress: Progress = _noop) -> CreditRates:
    """Issue ``blocks`` one-tonne batches, then retire every block (see the module
    docstring)."""
    led = _Ledger(_credit_genesis())
    period = _credit_setup(led)
    load = _OtherLoad()
    load.start()
    one = {"project": "wf", "period": period, "quantity_t": 1}
    issue = [led.tx("verifier", "credits.issue", one) for _ in range(blocks)]
    issue_s = _timed(led, issue, per_block, "issue", progress)
    del issue
    serials = [b.serial() for b in credits.blocks_of_project(led.state, "wf")]
    retire = [led.tx("wind", "credits.retire", {
        "serial": s, "beneficiary": "bench", "reason": "benchmark", "claim_start_s": YEAR_2025,
        "claim_end_s": YEAR_2026}) for s in serials]  # fmt: skip
    retire_s = _timed(led, retire, per_block, "retire", progress)
    totals = credits.project_totals(led.state, "wf")
    return CreditRates(blocks=blocks, issue_s=issue_s, retire_s=retire_s, failed=led.failed,
                       serial_blocks=len(serials), retired_t=totals.retired_t,
                       other_cores=load.cores())  # fmt: skip


# orders ----------------------------------------------------------------------------------------
def _trader(i: int) -> str:
    return f"trader-{i:05d}"


def order_rate(orders: int, traders: int = 1000, home: Path | None = None,
               workers: int | None = None, block_max_txs: int = 2000, feeders: int = 4,
               seed: int = 1, progress: Progress = _noop) -> OrderRate:  # fmt: skip
    """Push ``orders`` signed limit orders through a started node (see the module
    docstring)."""
    if traders < 2:
        raise ValueError("the benchmark needs a buyer and a seller")
    tmp = None
    if home is None:
        tmp = tempfile.TemporaryDirectory(prefix="gridledger-bench-")
        home = Path(tmp.name) / "home"
    keys: dict[str, SigningKey] = {_trader(i): bench_key(9_000_000 + i) for i in range(traders)}
    keys["regulator"] = bench_key(hash_of("regulator"))
    accounts = [GenesisAccount(id=name, org="operator", public_key=k.public_key,
                               roles=["regulator"] if name == "regulator" else [],
                               balance=TRADER_FUNDS if name != "regulator" else 0)
                for name, k in keys.items()]  # fmt: skip
    genesis = init_home(home, PASSPHRASE, chain_id=CHAIN_ID, accounts=accounts,
                        rules=Rules(block_max_txs=block_max_txs))  # fmt: skip
    node = open_node(home, PASSPHRASE, verify_workers=workers, tune_gc=True, block_interval_ms=50)
    nonces: dict[str, int] = {}

    def sign(sender: str, kind: str, body: dict[str, Any]) -> bytes:
        nonces[sender] = nonces.get(sender, 0) + 1
        tx = Transaction(genesis.chain_id, kind, sender, nonces[sender], body)
        tx.signature = keys[sender].sign(tx.signing_bytes())
        return tx.encode()

    sellers = [_trader(i) for i in range(traders) if i % 2]
    buyers = [_trader(i) for i in range(traders) if i % 2 == 0]
    opened = {"id": PERIOD, "start_s": YEAR_2025, "end_s": YEAR_2026, "deadline_s": 4_102_444_800}
    setup = [sign("regulator", "allowances.open_period", opened)]
    setup += [sign("regulator", "allowances.allocate", {
        "period": PERIOD, "to": s, "method": "free", "quantity_t": SELLER_ALLOWANCES_T})
        for s in sellers]  # fmt: skip
    rng = random.Random(seed)
    parts: list[list[bytes]] = [[] for _ in range(feeders)]
    for k in range(orders):
        side = "buy" if k % 2 == 0 else "sell"
        pool = buyers if side == "buy" else sellers
        trader = pool[(k // 2) % len(pool)]
        body = {"instrument": INSTRUMENT, "side": side,
                "price_fen_per_t": rng.randrange(9_500, 10_501),
                "quantity_t": rng.randrange(1, 11)}  # fmt: skip
        parts[int(trader[-5:]) % feeders].append(sign(trader, "exchange.place", body))
        if k % 10_000 == 0:
            progress("sign", k, orders)
    sample = msgspec.json.decode(parts[0][0], type=Transaction).signing_bytes()
    verify_before = verify_rate_one_core(sample)
    node.start()
    try:
        commit_all(node, setup)
        load = _OtherLoad()
        load.start()
        run = commit_timed(node, parts, phase="orders", progress=progress)
        other_cores = load.cores()
        view = node.state.view
        book = exchange.depth(view, INSTRUMENT, levels=10**6)
        found = exchange.get_instrument(view, INSTRUMENT)
        trades = 0 if found is None else found.trades
    finally:
        node.close()
    verify_rate = max(verify_before, verify_rate_one_core(sample))
    if tmp is not None:
        tmp.cleanup()
    return OrderRate(
        orders=orders, traders=traders, committed=run.committed, failed=run.failed,
        first_failure=run.first_failure, elapsed_s=run.elapsed_s, trades=trades,
        book_bids=len(book.bids), book_asks=len(book.asks), verify_per_s=verify_rate,
        block_max_txs=block_max_txs, other_cores=other_cores,
    )  # fmt: skip


def run_carbon_markets_bench(blocks: int = 1_000_000, orders: int = 100_000,
                             traders: int = 1000, home: Path | None = None,
                             workers: int | None = None, block_max_txs: int = 2000,
                             claim_samples: int = 200,
                             progress: Progress = _noop) -> dict[str, Any]:  # fmt: skip
    """The three parts, credits first (see the module docstring)."""
    if blocks < 1 or orders < 2:
        raise ValueError("at least one block and two orders")
    credit = credit_rates(blocks, block_max_txs, progress)
    order = order_rate(orders, traders, home, workers, block_max_txs, progress=progress)
    progress("claims", 0, 1)
    claim = run_claims_bench(claim_samples)
    progress("claims", 1, 1)
    return figures(credit, order, claim)
