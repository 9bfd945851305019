"""``gridledger bench ingest``: committed meter readings per second on the embedded node.

A chain with ``meters`` meters (half on generation devices, half on consumption sites), each
reported by one of ``gateways`` gateway accounts, receives ``readings`` hourly readings in
signed batches of ``batch`` readings (one signature per batch), through the whole node:
admission (decode, schema, signature in worker processes), ordering, execution of every
per-reading rule (meter, gateway, alignment, end before block time, uniqueness, plausibility),
state root and the SQLite commit. Registration of devices, sites and meters and the signing of
the batches happen before the clock starts. ``readings_per_s`` counts readings accepted and
committed.
"""

from __future__ import annotations

import random
import resource
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gridledger.bench.ledger import bench_key, commit_all
from gridledger.contracts.genesis import GenesisAccount
from gridledger.contracts.rules import Rules
from gridledger.core.errors import GridLedgerError
from gridledger.core.types import Transaction
from gridledger.node.home import init_home, open_node
from gridledger.node.node import CommittedBlock

PASSPHRASE = "bench"
CHAIN_ID = "gridledger-bench-ingest"
COMMISSIONED = "2024-01-01"


def _gateway(i: int) -> str:
    return f"gw-{i:03d}"


def _meter(i: int) -> str:
    return f"m-{i:06d}"


def _sign_all(
    key_seed_for: Callable[[str], Any], sender: str, first_nonce: int, items: list[tuple[str, Any]]
) -> list[bytes]:
    key = key_seed_for(sender)
    out = []
    for n, (kind, body) in enumerate(items):
        tx = Transaction(CHAIN_ID, kind, sender, first_nonce + n, body)
        tx.signature = key.sign(tx.signing_bytes())
        out.append(tx.encode())
    return out


def run_ingest_bench(
    readings: int = 1_000_000,
    meters: int = 10_000,
    gateways: int = 100,
    batch: int = 1000,
    home: Path | None = None,
    workers: int | None = None,
    seed: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Register ``meters`` meters, then push ``readings`` readings and measure the rate."""
    if readings < 1 or meters < 1 or gateways < 1 or not 1 <= batch <= 5000:
        raise ValueError("readings, meters and gateways must be positive; batch 1-5000")
    rng = random.Random(seed)
    tmp = None
    if home is None:
        tmp = tempfile.TemporaryDirectory(prefix="gridledger-bench-ingest-")
        home = Path(tmp.name) / "home"
    gw_keys = {_gateway(g): bench_key(g) for g in range(gateways)}
    extra = [
        GenesisAccount(id="grid", org="operator", public_key=bench_key(10**6).public_key,
                       roles=["grid_operator"]),
        GenesisAccount(id="producer", org="operator", public_key=bench_key(10**6 + 1).public_key,
                       roles=["producer"]),
        *(GenesisAccount(id=g, org="operator", public_key=k.public_key)
          for g, k in gw_keys.items()),
    ]  # fmt: skip
    init_home(
        home,
        PASSPHRASE,
        chain_id=CHAIN_ID,
        accounts=extra,
        rules=Rules(block_max_txs=2000),
    )
    node = open_node(home, PASSPHRASE, verify_workers=workers, tune_gc=True, block_interval_ms=50)
    node.start()
    keys = {"grid": bench_key(10**6), "producer": bench_key(10**6 + 1), **gw_keys}

    # set-up: a device or site per meter, then the meters (not timed)
    t_setup = time.perf_counter()
    devices: list[tuple[str, Any]] = []
    grid: list[tuple[str, Any]] = []
    for m in range(meters):
        mid = _meter(m)
        gw = _gateway(m % gateways)
        if m % 2 == 0:
            devices.append(("registry.register_device", {
                "device": f"d-{m:06d}", "name": f"rooftop PV {m}", "technology": "solar_pv",
                "fuel": "solar", "capacity_w": 5000, "commissioned": COMMISSIONED,
                "country": "CN", "grid_region": "CN-GD"}))  # fmt: skip
            grid.append(("registry.register_meter", {
                "meter": mid, "kind": "generation", "device": f"d-{m:06d}", "gateway": gw,
                "interval_s": 3600}))  # fmt: skip
        else:
            grid.append(("registry.register_site", {
                "site": f"s-{m:06d}", "name": f"household {m}", "country": "CN",
                "grid_region": "CN-GD", "max_wh_per_hour": 10_000,
                "owner_org": "operator"}))  # fmt: skip
            grid.append(("registry.register_meter", {
                "meter": mid, "kind": "consumption", "site": f"s-{m:06d}", "gateway": gw,
                "interval_s": 3600}))  # fmt: skip
    commit_all(node, _sign_all(keys.__getitem__, "producer", 1, devices))
    commit_all(node, _sign_all(keys.__getitem__, "grid", 1, grid))

    # the readings: hourly intervals that ended before now, spread over the gateways' meters
    intervals = -(-readings // meters)
    now_hour = int(time.time()) // 3600 * 3600
    by_gateway: dict[str, list[dict[str, int | str]]] = {g: [] for g in gw_keys}
    produced = 0
    for k in range(intervals):
        start = now_hour - (intervals - k) * 3600
        for m in range(meters):
            if produced == readings:
                break
            energy = rng.randrange(0, 5000) if m % 2 == 0 else rng.randrange(0, 3000)
            by_gateway[_gateway(m % gateways)].append(
                {"meter": _meter(m), "start": start, "length_s": 3600, "energy_wh": energy}
            )
            produced += 1
    parts: list[list[bytes]] = [[] for _ in range(4)]
    signed = 0
    for g_index, (gw, rows) in enumerate(sorted(by_gateway.items())):
        bodies = [
            ("metering.submit", {"readings": rows[i : i + batch]})
            for i in range(0, len(rows), batch)
        ]
        parts[g_index % len(parts)].extend(_sign_all(keys.__getitem__, gw, 1, bodies))
        signed += len(rows)
        if progress:
            progress("sign", signed, readings)
    del by_gateway
    setup_s = time.perf_counter() - t_setup

    # timed: every batch through the node until the last is committed
    accepted = 0
    refused = 0
    txs_total = sum(len(p) for p in parts)
    txs_done = 0
    commit_ms: list[float] = []
    done = threading.Event()
    start_height = node.tip.height

    def on_block(blk: CommittedBlock) -> None:
        nonlocal accepted, refused, txs_done
        commit_ms.append(blk.commit_ms)
        for receipt in blk.receipts:
            for event in receipt.events:
                if event["type"] == "metering.readings_accepted":
                    accepted += event["count"]
                elif event["type"] == "metering.reading_refused":
                    refused += 1
                elif event["type"] == "metering.batch_refused":
                    refused += event["count"]
        txs_done += len(blk.tx_hashes)
        if progress:
            progress("commit", accepted + refused, readings)
        if txs_done >= txs_total:
            done.set()

    errors: list[str] = []

    def feed(raws: list[bytes]) -> None:
        for i in range(0, len(raws), 8):
            for r in node.submit_many(raws[i : i + 8]):
                if isinstance(r, GridLedgerError):
                    errors.append(f"{r.code}: {r.message}")

    node.add_listener(on_block)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=feed, args=(p,)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        node.close()
        raise RuntimeError(f"{len(errors)} batches refused at admission, e.g. {errors[0]}")
    done.wait(timeout=3600)
    elapsed = time.perf_counter() - t0
    height = node.tip.height
    node.close()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if tmp is not None:
        tmp.cleanup()
    return {
        "readings": readings,
        "meters": meters,
        "gateways": gateways,
        "batch": batch,
        "accepted": accepted,
        "refused": refused,
        "txs": txs_total,
        "blocks": height - start_height,
        "elapsed_s": round(elapsed, 3),
        "readings_per_s": round(accepted / elapsed, 1),
        "block_commit_ms_p50": round(statistics.median(commit_ms), 2) if commit_ms else 0.0,
        "block_commit_ms_max": round(max(commit_ms), 2) if commit_ms else 0.0,
        "peak_rss_mb": round(peak_rss, 1),
        "setup_s": round(setup_s, 1),
    }
