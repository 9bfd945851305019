"""``gridledger bench ingest``: committed meter readings per second on the embedded node.

A chain with ``meters`` meters (half on generation devices, half on consumption sites), each
reported by one of ``gateways`` gateway accounts, receives ``readings`` hourly readings in
signed batches of ``batch`` readings (one signature per batch), through the whole node:
admission (decode, schema, signature in worker processes), ordering, execution of every
per-reading rule (meter, gateway, alignment, end before block time, uniqueness, plausibility),
state root and the SQLite commit. Registration of devices, sites and meters and the signing of
the batches happen before the clock starts. ``readings_per_s`` counts readings accepted and
committed.

The chain (:func:`open_metered_chain`) and the readings (:class:`ReadingPlan`, which signs
them chunk by chunk) are shared with ``bench state``.
"""

from __future__ import annotations

import random
import resource
import statistics
import tempfile
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from gridledger.bench.ledger import bench_key, commit_all
from gridledger.contracts.genesis import GenesisAccount
from gridledger.contracts.rules import Rules
from gridledger.core.crypto import SigningKey
from gridledger.core.errors import GridLedgerError
from gridledger.core.types import Transaction
from gridledger.node.home import init_home, open_node
from gridledger.node.node import CommittedBlock, Node

PASSPHRASE = "bench"
CHAIN_ID = "gridledger-bench-ingest"
COMMISSIONED = "2024-01-01"
HOUR_S = 3600
SETUP_CHUNK = 10_000
"""Registrations signed and committed at a time (a million meters' would not fit at once)."""


def gateway_id(i: int) -> str:
    return f"gw-{i:03d}"


def meter_id(i: int) -> str:
    return f"m-{i:06d}"


def sign_txs(
    key: SigningKey, sender: str, first_nonce: int, items: Iterable[tuple[str, Any]]
) -> list[bytes]:
    """``items`` (kind, body) signed by ``sender`` with consecutive nonces, encoded."""
    out = []
    for n, (kind, body) in enumerate(items):
        tx = Transaction(CHAIN_ID, kind, sender, first_nonce + n, body)
        tx.signature = key.sign(tx.signing_bytes())
        out.append(tx.encode())
    return out


def _register(node: Node, key: SigningKey, sender: str, items: Iterator[tuple[str, Any]]) -> None:
    nonce = 1
    while chunk := list(islice(items, SETUP_CHUNK)):
        commit_all(node, sign_txs(key, sender, nonce, chunk))
        nonce += len(chunk)


def _devices(meters: int) -> Iterator[tuple[str, Any]]:
    for m in range(0, meters, 2):
        yield ("registry.register_device", {
            "device": f"d-{m:06d}", "name": f"rooftop PV {m}", "technology": "solar_pv",
            "fuel": "solar", "capacity_w": 5000, "commissioned": COMMISSIONED,
            "country": "CN", "grid_region": "CN-GD"})  # fmt: skip


def _grid(meters: int, gateways: int) -> Iterator[tuple[str, Any]]:
    for m in range(meters):
        mid = meter_id(m)
        gw = gateway_id(m % gateways)
        if m % 2 == 0:
            yield ("registry.register_meter", {
                "meter": mid, "kind": "generation", "device": f"d-{m:06d}", "gateway": gw,
                "interval_s": HOUR_S})  # fmt: skip
        else:
            yield ("registry.register_site", {
                "site": f"s-{m:06d}", "name": f"household {m}", "country": "CN",
                "grid_region": "CN-GD", "max_wh_per_hour": 10_000,
                "owner_org": "operator"})  # fmt: skip
            yield ("registry.register_meter", {
                "meter": mid, "kind": "consumption", "site": f"s-{m:06d}", "gateway": gw,
                "interval_s": HOUR_S})  # fmt: skip


def open_metered_chain(
    home: Path, meters: int, gateways: int, workers: int | None
) -> tuple[Node, dict[str, SigningKey]]:
    """A new chain in ``home`` with ``meters`` meters (even ones on a rooftop PV device, odd
    ones on a household site), meter ``m`` reported by gateway ``m % gateways``; the node is
    started. Returns the node and the keys of the gateways and registering accounts."""
    gw_keys = {gateway_id(g): bench_key(g) for g in range(gateways)}
    keys = {"grid": bench_key(10**6), "producer": bench_key(10**6 + 1), **gw_keys}
    extra = [
        GenesisAccount(id="grid", org="operator", public_key=keys["grid"].public_key,
                       roles=["grid_operator"]),
        GenesisAccount(id="producer", org="operator", public_key=keys["producer"].public_key,
                       roles=["producer"]),
        *(GenesisAccount(id=g, org="operator", public_key=k.public_key)
          for g, k in gw_keys.items()),
    ]  # fmt: skip
    init_home(home, PASSPHRASE, chain_id=CHAIN_ID, accounts=extra,
              rules=Rules(block_max_txs=2000))  # fmt: skip
    node = open_node(home, PASSPHRASE, verify_workers=workers, tune_gc=True, block_interval_ms=50)
    node.start()
    _register(node, keys["producer"], "producer", _devices(meters))
    _register(node, keys["grid"], "grid", _grid(meters, gateways))
    return node, keys


@dataclass
class ReadingPlan:
    """Which reading is which. Reading ``k`` is meter ``k % meters``'s hourly interval number
    ``k // meters`` of the ``intervals`` that ended by ``now_hour_s``, and is reported by the
    meter's gateway. Energies are drawn from one seeded generator in reading order, so signing
    the readings chunk by chunk (in order) gives the same readings as signing them at once."""

    readings: int
    meters: int
    gateways: int
    now_hour_s: int
    """The hour (Unix seconds) the last interval ends by."""
    seed: int = 1
    _drawn: int = field(default=0, init=False)
    """Readings whose energy has been drawn."""

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @property
    def intervals(self) -> int:
        return -(-self.readings // self.meters)

    def start_s(self, k: int) -> int:
        """The interval start of reading ``k``."""
        return self.now_hour_s - (self.intervals - k // self.meters) * HOUR_S

    def meter(self, k: int) -> str:
        return meter_id(k % self.meters)

    def _energies_wh(self, lo: int, hi: int) -> array[int]:
        if lo != self._drawn:
            raise ValueError(f"readings are signed in order: next is {self._drawn}, not {lo}")
        rng = self._rng
        out = array("H", (
            rng.randrange(0, 5000) if (k % self.meters) % 2 == 0 else rng.randrange(0, 3000)
            for k in range(lo, hi)))  # fmt: skip
        self._drawn = hi
        return out

    def _rows(
        self, gateway: int, lo: int, hi: int, energies_wh: array[int]
    ) -> Iterator[dict[str, int | str]]:
        """Gateway ``gateway``'s readings among ``lo <= k < hi``, in reading order."""
        meters = self.meters
        for interval in range(lo // meters, (hi - 1) // meters + 1):
            base = interval * meters
            m_lo, m_hi = max(lo - base, 0), min(hi - base, meters)
            start = self.now_hour_s - (self.intervals - interval) * HOUR_S
            for m in range(m_lo + (gateway - m_lo) % self.gateways, m_hi, self.gateways):
                yield {"meter": meter_id(m), "start": start, "length_s": HOUR_S,
                       "energy_wh": energies_wh[base + m - lo]}  # fmt: skip

    def sign(
        self,
        keys: dict[str, SigningKey],
        lo: int,
        hi: int,
        batch: int,
        nonces: dict[str, int],
        feeders: int = 4,
        on_signed: Callable[[int], None] | None = None,
    ) -> list[list[bytes]]:
        """Readings ``lo <= k < hi`` in ``metering.submit`` batches of ``batch``, each signed by
        its gateway at the nonce ``nonces`` holds for it (advanced), in ``feeders`` parts (a
        gateway's batches in one part, in nonce order). One batch's rows exist at a time.
        ``on_signed`` hears the readings signed so far after each gateway."""
        energies_wh = self._energies_wh(lo, hi)
        parts: list[list[bytes]] = [[] for _ in range(feeders)]
        signed = 0
        for g in range(self.gateways):
            gw = gateway_id(g)
            key = keys[gw]
            rows = self._rows(g, lo, hi, energies_wh)
            while chunk := list(islice(rows, batch)):
                body = {"readings": chunk}
                parts[g % feeders].extend(
                    sign_txs(key, gw, nonces[gw], [("metering.submit", body)])
                )
                nonces[gw] += 1
                signed += len(chunk)
            if on_signed is not None:
                on_signed(signed)
        return parts


def reading_counts(blk: CommittedBlock) -> tuple[int, int]:
    """Readings a committed block accepted and refused, from its receipts' events."""
    accepted = refused = 0
    for receipt in blk.receipts:
        for event in receipt.events:
            if event["type"] == "metering.readings_accepted":
                accepted += event["count"]
            elif event["type"] == "metering.reading_refused":
                refused += 1
            elif event["type"] == "metering.batch_refused":
                refused += event["count"]
    return accepted, refused


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
    tmp = None
    if home is None:
        tmp = tempfile.TemporaryDirectory(prefix="gridledger-bench-ingest-")
        home = Path(tmp.name) / "home"

    # set-up: a device or site per meter, the meters, and the signed batches (not timed)
    t_setup = time.perf_counter()
    node, keys = open_metered_chain(home, meters, gateways, workers)
    # the readings: hourly intervals that ended before now, spread over the gateways' meters
    plan = ReadingPlan(readings, meters, gateways, int(time.time()) // HOUR_S * HOUR_S, seed)
    nonces = {gateway_id(g): 1 for g in range(gateways)}

    def signed_so_far(n: int) -> None:
        if progress:
            progress("sign", n, readings)

    parts = plan.sign(keys, 0, readings, batch, nonces, on_signed=signed_so_far)
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
        ok, bad = reading_counts(blk)
        accepted += ok
        refused += bad
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
