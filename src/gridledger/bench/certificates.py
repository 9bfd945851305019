"""``gridledger bench certificates``: issuing, moving and claiming granular certificates
through the embedded node, and the size and checking cost of one certificate's proof.

Set-up, not timed: a chain whose genesis holds ``certifiers`` certifier accounts, one producer
account per plant, ``consumers`` consumer accounts, a grid operator and one gateway account per
ten plants. Each producer registers its plant (a 50 kW onshore wind plant, so that every hour
generates and gets a bundle), the grid operator registers an hourly generation meter for each
(``interval_s`` 3600: one reading per plant and hour; ``--meter-interval 900`` for quarter-hour
meters, four readings per hour), each consumer registers its household site, and the gateways
submit the plants' readings (batches of 1,000) for ``days`` days plus the extra hours the
issue-rate phase needs, all ending more than a day before the chain's clock, so every interval
is final under the scheme's one hour.

Then, each phase timed from its first submission to its last commit (admission with the
signature checks in the node's worker processes, ordering, execution, state root, the SQLite
commit with fsync and the read models), every transaction signed before its phase starts:

1. ``issue_s``: the month. One ``certificates.issue`` per plant, signed by the first certifier,
   naming every hour of the ``days`` days: ``plants * days * 24`` bundles;
2. ``issue_tx_per_s``: ``txs`` more issues of one hour each (the hours after the month),
   signed by the certifiers in turn;
3. ``transfer_tx_per_s``: ``txs`` transfers of a whole month bundle, each producer sending its
   plant's bundles to consumers in turn;
4. ``cancel_tx_per_s`` and ``claim_tx_per_s``: each consumer cancels the bundles it received for
   itself, its site and the bundle's production hour, then claims them;
   ``claim_per_s`` counts certificates taken from held to claimed per second, both steps
   included: ``txs / (cancel phase + claim phase)``.

Each phase in ``phases`` also gives its blocks, their build-and-commit times, the CPU time of
this process and its signature workers (``cpu_s``, and ``cores_used`` over the phase) and the
cores everything else on the machine used meanwhile (``other_processes_cores``: figures from a
busy machine are not the node's).

``ed25519_verify_per_s_one_core`` is PyNaCl verifying a transfer's signing bytes in one thread,
measured before the month and after the claims (the higher figure is kept, as ``bench ledger``
does), and each ``*_ratio`` is a phase's rate over it.

Proofs, after the phases: ``proof_bytes`` is the median size of a bundle's state inclusion
proof (the ``proof`` object of ``GET /v1/state/{key}/proof``, JSON) against the final state,
``proof_document_bytes`` the whole answer (the bundle record, the block header, its signature
and the proof); ``proof_verify_ms`` the median time to check one such answer from its bytes:
decode, :func:`~gridledger.sdk.proofs.verify_state_proof` (the header's hash, the path to its
state root) and the bundle's own hash recomputed from its immutable fields;
``proof_verify_signed_ms`` the same with the header's signature checked against the proposer's
node key. ``proof_scaling`` rebuilds the state tree over the first 1 %, 10 % and all of the
chain's bundles (the bundle records alone) and gives the median proof size and depth in each,
so the logarithmic growth shows in one run.
"""

from __future__ import annotations

import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import psutil

from gridledger.bench.ledger import (
    PASSPHRASE,
    CommitRun,
    bench_key,
    commit_timed,
    cpu_seconds,
    verify_rate_one_core,
)
from gridledger.contracts.certificates import Bundle, bundle_hash, keys
from gridledger.contracts.certificates.issuance import MAX_INTERVALS
from gridledger.contracts.genesis import GenesisAccount
from gridledger.contracts.rules import Rules
from gridledger.core.crypto import SigningKey
from gridledger.core.types import Transaction
from gridledger.node.home import init_home, open_node
from gridledger.node.node import CommittedBlock, Node
from gridledger.sdk.proofs import verify_state_proof
from gridledger.state.state import decode_record
from gridledger.state.tree import SparseMerkleTree

Progress = Callable[[str, int, int], None]

CHAIN_ID = "gridledger-bench-certificates"
HOUR_S = 3600
DAY_S = 86_400
CAPACITY_W = 50_000
READINGS_PER_BATCH = 1000
PLANTS_PER_GATEWAY = 10
FEEDERS = 4
PROOF_SAMPLES = 200
SCALING_SAMPLES = 50


def _certifier(i: int) -> str:
    return f"certifier-{i:04d}"


def _producer(i: int) -> str:
    return f"producer-{i:05d}"


def _consumer(i: int) -> str:
    return f"consumer-{i:05d}"


def _gateway(i: int) -> str:
    return f"gw-{i:04d}"


def _plant(i: int) -> str:
    return f"wind-{i:05d}"


def _site(i: int) -> str:
    return f"home-{i:05d}"


def _noop(_phase: str, _done: int, _total: int) -> None:
    return None


class _Signer:
    """Signs each account's transactions with nonces counting up from 1, and deals them into
    feeder parts so that one sender's transactions stay in one part, in nonce order."""

    def __init__(self, keys_by_account: dict[str, SigningKey]) -> None:
        self.keys = keys_by_account
        self.nonces: dict[str, int] = {}
        self.slot: dict[str, int] = {a: i % FEEDERS for i, a in enumerate(sorted(keys_by_account))}

    def sign(self, sender: str, kind: str, body: dict[str, Any]) -> bytes:
        nonce = self.nonces.get(sender, 0) + 1
        self.nonces[sender] = nonce
        tx = Transaction(CHAIN_ID, kind, sender, nonce, body)
        tx.signature = self.keys[sender].sign(tx.signing_bytes())
        return tx.encode()

    def parts(self, txs: list[tuple[str, str, dict[str, Any]]]) -> list[list[bytes]]:
        """``(sender, kind, body)`` signed, in feeder parts."""
        out: list[list[bytes]] = [[] for _ in range(FEEDERS)]
        for sender, kind, body in txs:
            out[self.slot[sender]].append(self.sign(sender, kind, body))
        return out


def _machine_busy_s() -> float:
    """CPU seconds every core of the machine spent busy so far."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0))


class _Phase:
    """A timed phase's run and the cores it and everything else on the machine used."""

    def __init__(self, run: CommitRun, own_cpu_s: float, machine_cpu_s: float) -> None:
        self.run = run
        self.own_cpu_s = own_cpu_s
        self.own_cores = own_cpu_s / run.elapsed_s
        self.other_cores = max(0.0, machine_cpu_s - own_cpu_s) / run.elapsed_s

    def figures(self) -> dict[str, Any]:
        run = self.run
        return {
            "txs": run.committed,
            "elapsed_s": round(run.elapsed_s, 3),
            "tx_per_s": round(run.tx_per_s, 1),
            "blocks": len(run.commit_ms),
            "block_commit_ms_p50": round(statistics.median(run.commit_ms), 1),
            "block_commit_ms_max": round(max(run.commit_ms), 1),
            "cpu_s": round(self.own_cpu_s, 2),
            "cores_used": round(self.own_cores, 2),
            "other_processes_cores": round(self.other_cores, 2),
        }


def _phase(node: Node, parts: list[list[bytes]], name: str, progress: Progress,
           on_block: Callable[[CommittedBlock], None] | None = None) -> _Phase:  # fmt: skip
    """One timed phase; refuses to report figures for transactions that did not succeed."""
    me = psutil.Process()
    own0, machine0 = sum(cpu_seconds(me)), _machine_busy_s()
    run = commit_timed(node, parts, phase=name, progress=progress, on_block=on_block)
    own1, machine1 = sum(cpu_seconds(me)), _machine_busy_s()
    if run.committed < run.txs:
        raise RuntimeError(f"{name}: {run.committed} of {run.txs} transactions committed in time")
    if run.failed:
        raise RuntimeError(f"{name}: {run.failed} transactions failed, e.g. {run.first_failure}")
    return _Phase(run, own1 - own0, machine1 - machine0)


def _median_int(values: list[int]) -> int:
    return int(statistics.median(values))


def _proof_scaling(items: list[tuple[bytes, bytes]], fractions: tuple[int, ...]) -> list[Any]:
    """Median inclusion-proof size and depth in trees of the first ``n // f`` bundles."""
    out = []
    for size in sorted({max(1, len(items) // f) for f in fractions}):
        tree = SparseMerkleTree.from_items(items[:size])
        n = min(SCALING_SAMPLES, size)
        sizes, depths = [], []
        for key, _value in (items[i * size // n] for i in range(n)):
            proof = tree.prove(key)
            sizes.append(len(msgspec.json.encode(proof.to_json())))
            depths.append(len(proof.levels))
        out.append(
            {"certificates": size, "proof_bytes": _median_int(sizes),
             "levels": statistics.median_low(depths)}
        )  # fmt: skip
        del tree
    return out


def _proofs(node: Node, node_key: str, bundle_keys: list[bytes]) -> dict[str, Any]:
    """Proof sizes and checking times of ``bundle_keys`` against the node's tip."""
    from gridledger.api.routes.state import proof_view  # noqa: PLC0415 (web stack on demand)

    docs = [msgspec.json.encode(proof_view(node, k.decode())) for k in bundle_keys]
    path_bytes = []
    levels = []
    verify_ms: list[float] = []
    signed_ms: list[float] = []
    for raw in docs:
        doc = msgspec.json.decode(raw)
        path_bytes.append(len(msgspec.json.encode(doc["proof"])))
        levels.append(len(doc["proof"]["levels"]))
        for times, key in ((verify_ms, None), (signed_ms, node_key)):
            t0 = time.perf_counter()
            proven = verify_state_proof(msgspec.json.decode(raw), node_key=key)
            if proven is None:
                raise RuntimeError("a bundle's proof shows it absent")
            bundle = decode_record(proven, Bundle)
            if bundle_hash(bundle) != bundle.hash:
                raise RuntimeError(f"bundle {bundle.id} does not match its hash")
            times.append((time.perf_counter() - t0) * 1000)
    return {
        "proof_bytes": _median_int(path_bytes),
        "proof_document_bytes": _median_int([len(d) for d in docs]),
        "proof_levels": statistics.median_low(levels),
        "proof_verify_ms": round(statistics.median(verify_ms), 3),
        "proof_verify_signed_ms": round(statistics.median(signed_ms), 3),
        "proof_samples": len(docs),
    }


def run_certificates_bench(
    plants: int = 1000,
    days: int = 30,
    txs: int = 24_000,
    consumers: int = 10_000,
    certifiers: int = 1000,
    home: Path | None = None,
    workers: int | None = None,
    block_max_txs: int = 2000,
    seed: int = 1,
    meter_interval_s: int = HOUR_S,
    scaling: tuple[int, ...] = (100, 10, 1),
    progress: Progress = _noop,
) -> dict[str, Any]:
    """Build the chain, run the phases and measure (see the module's docstring).

    ``meter_interval_s``: the generation meters' interval, 3600 (a reading per plant and hour)
    or 900 (four per hour, four times the readings to set up and to read per bundle).
    ``scaling`` lists the divisors of the number of bundles at which ``proof_scaling`` builds
    its trees (1 %, 10 % and all of them by default).
    """
    month_hours = days * 24
    if plants < 1 or days < 1 or consumers < 1 or certifiers < 1 or txs < 1:
        raise ValueError("plants, days, consumers, certifiers and txs must be positive")
    if meter_interval_s not in (900, HOUR_S):
        raise ValueError("meter_interval_s is 900 or 3600")
    per_hour = HOUR_S // meter_interval_s
    if txs > plants * month_hours:
        raise ValueError(f"txs: at most plants x days x 24 = {plants * month_hours} transfers")
    rng = random.Random(seed)
    tmp = None
    if home is None:
        tmp = tempfile.TemporaryDirectory(prefix="gridledger-bench-certificates-")
        home = Path(tmp.name) / "home"
    gateways = -(-plants // PLANTS_PER_GATEWAY)
    extra_hours = -(-txs // plants)
    t_setup = time.perf_counter()
    keys_of: dict[str, SigningKey] = {"grid": bench_key(6_000_000)}
    roles_of: dict[str, list[str]] = {"grid": ["grid_operator"]}
    for i in range(certifiers):
        keys_of[_certifier(i)], roles_of[_certifier(i)] = bench_key(2_000_000 + i), ["certifier"]
    for i in range(plants):
        keys_of[_producer(i)], roles_of[_producer(i)] = bench_key(3_000_000 + i), ["producer"]
    for i in range(consumers):
        keys_of[_consumer(i)], roles_of[_consumer(i)] = bench_key(4_000_000 + i), ["consumer"]
    for i in range(gateways):
        keys_of[_gateway(i)], roles_of[_gateway(i)] = bench_key(5_000_000 + i), []
    genesis = init_home(
        home,
        PASSPHRASE,
        chain_id=CHAIN_ID,
        accounts=[
            GenesisAccount(id=a, org="operator", public_key=k.public_key, roles=roles_of[a])
            for a, k in keys_of.items()
        ],
        rules=Rules(block_max_txs=block_max_txs),
    )
    node_key = genesis.organisations[0].node_key
    assert node_key is not None
    node = open_node(home, PASSPHRASE, verify_workers=workers, tune_gc=True, block_interval_ms=50)
    node.start()
    signer = _Signer(keys_of)
    try:
        # set-up: plants, sites, meters, then the readings --------------------------------
        progress("setup", 0, 4)
        assets = [
            (_producer(i), "registry.register_device", {
                "device": _plant(i), "name": f"wind plant {i}", "technology": "wind_onshore",
                "fuel": "wind", "capacity_w": CAPACITY_W, "commissioned": "2024-01-01",
                "country": "CN", "grid_region": "CN-GD"})
            for i in range(plants)
        ] + [
            (_consumer(i), "registry.register_site", {
                "site": _site(i), "name": f"household {i}", "country": "CN",
                "grid_region": "CN-GD", "max_wh_per_hour": 10_000})
            for i in range(consumers)
        ]  # fmt: skip
        _phase(node, signer.parts(assets), "setup-assets", _noop)
        progress("setup", 1, 4)
        meters = [
            ("grid", "registry.register_meter", {
                "meter": f"m-{_plant(i)}", "kind": "generation", "device": _plant(i),
                "gateway": _gateway(i // PLANTS_PER_GATEWAY), "interval_s": meter_interval_s})
            for i in range(plants)
        ]  # fmt: skip
        _phase(node, signer.parts(meters), "setup-meters", _noop)
        progress("setup", 2, 4)
        now_day = int(time.time()) // DAY_S * DAY_S
        month_start = now_day - (days + -(-extra_hours // 24) + 1) * DAY_S
        extra_start = month_start + days * DAY_S
        hours = month_hours + extra_hours
        readings = hours * per_hour
        low, high = 1_000 // per_hour, 40_000 // per_hour
        generated = [[rng.randrange(low, high) for _ in range(readings)] for _ in range(plants)]
        batches: list[tuple[str, str, dict[str, Any]]] = []
        for g in range(gateways):
            rows = [
                {"meter": f"m-{_plant(p)}", "start": month_start + r * meter_interval_s,
                 "length_s": meter_interval_s, "energy_wh": generated[p][r]}
                for p in range(g * PLANTS_PER_GATEWAY, min(plants, (g + 1) * PLANTS_PER_GATEWAY))
                for r in range(readings)
            ]  # fmt: skip
            batches.extend(
                (_gateway(g), "metering.submit", {"readings": rows[i : i + READINGS_PER_BATCH]})
                for i in range(0, len(rows), READINGS_PER_BATCH)
            )
        progress("setup", 3, 4)
        accepted = 0
        refused = 0

        def count_readings(blk: CommittedBlock) -> None:
            nonlocal accepted, refused
            for receipt in blk.receipts:
                for event in receipt.events:
                    if event["type"] == "metering.readings_accepted":
                        accepted += event["count"]
                    elif event["type"] in ("metering.reading_refused", "metering.batch_refused"):
                        refused += event.get("count", 1)

        _phase(node, signer.parts(batches), "setup-readings", _noop, count_readings)
        if accepted != plants * readings or refused:
            raise RuntimeError(f"readings: {accepted} accepted, {refused} refused")
        del batches
        progress("setup", 4, 4)
        setup_s = time.perf_counter() - t_setup

        # 1. the month, by one certifier -------------------------------------------------
        month_txs = [
            (_certifier(0), "certificates.issue", {
                "device": _plant(p), "to": _producer(p),
                "starts": [month_start + h * HOUR_S for h in range(first, last)]})
            for p in range(plants)
            for first in range(0, month_hours, MAX_INTERVALS)
            for last in [min(month_hours, first + MAX_INTERVALS)]
        ]  # fmt: skip
        month_parts = signer.parts(month_txs)
        # the signing bytes of a transfer like those of phase 3, for the one-core rate
        sample_msg = Transaction(
            CHAIN_ID, "certificates.transfer", _producer(0), 1,
            {"bundle": f"{_plant(0)}:1", "to": _consumer(0)},
        ).signing_bytes()  # fmt: skip
        verify_before = verify_rate_one_core(sample_msg)
        issued = {"bundles": 0, "wh": 0}

        def count_issued(blk: CommittedBlock) -> None:
            for receipt in blk.receipts:
                for event in receipt.events:
                    if event["type"] == "certificates.issued":
                        issued["bundles"] += event["intervals"]
                        issued["wh"] += event["quantity_wh"]

        month_run = _phase(node, month_parts, "month", progress, count_issued)
        month_wh = sum(sum(g[: month_hours * per_hour]) for g in generated)
        if issued != {"bundles": plants * month_hours, "wh": month_wh}:
            raise RuntimeError(f"the month issued {issued}, not {plants * month_hours} bundles")
        del month_txs, month_parts

        # 2. one-hour issues by many certifiers ------------------------------------------
        issues = [
            (_certifier(k % certifiers), "certificates.issue", {
                "device": _plant(k % plants), "to": _producer(k % plants),
                "starts": [extra_start + (k // plants) * HOUR_S]})
            for k in range(txs)
        ]  # fmt: skip
        issue_run = _phase(node, signer.parts(issues), "issue", progress)
        del issues

        # 3. transfers: producers hand their month's bundles to consumers ----------------
        view = node.state.view
        held: list[list[str]] = []
        per_plant = -(-txs // plants)
        for p in range(plants):
            prefix = keys.bundles_of(_plant(p))
            held.append(
                [f"{_plant(p)}:{int(k[len(prefix):])}"
                 for k, _ in view.scan_range(prefix, limit=per_plant)]
            )  # fmt: skip
        moves = [(k % plants, k // plants, k % consumers) for k in range(txs)]
        transfers = [
            (_producer(p), "certificates.transfer", {"bundle": held[p][j], "to": _consumer(c)})
            for p, j, c in moves
        ]
        transfer_run = _phase(node, signer.parts(transfers), "transfer", progress)
        del transfers

        # 4. consumers cancel and claim what they received --------------------------------
        cancels = [
            (_consumer(c), "certificates.cancel", {
                "bundle": held[p][j], "beneficiary": _consumer(c), "site": _site(c),
                "period_start_s": month_start + j * HOUR_S,
                "period_end_s": month_start + (j + 1) * HOUR_S})
            for p, j, c in moves
        ]  # fmt: skip
        cancel_run = _phase(node, signer.parts(cancels), "cancel", progress)
        del cancels
        claims = [(_consumer(c), "certificates.claim", {"bundle": held[p][j]}) for p, j, c in moves]
        claim_run = _phase(node, signer.parts(claims), "claim", progress)
        del claims
        verify_rate = max(verify_before, verify_rate_one_core(sample_msg))

        # proofs ---------------------------------------------------------------------------
        progress("proofs", 0, 2)
        bundle_items = list(view.scan(keys.bundles()))
        n = min(PROOF_SAMPLES, len(bundle_items))
        sampled = [bundle_items[i * len(bundle_items) // n][0] for i in range(n)]
        proofs = _proofs(node, node_key, sampled)
        state_keys = len(node.state.committed)
        height = node.tip.height
    finally:
        node.close()
    progress("proofs", 1, 2)
    proof_scaling = _proof_scaling(bundle_items, scaling)
    progress("proofs", 2, 2)
    del bundle_items
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if tmp is not None:
        tmp.cleanup()
    phases = {
        "month": month_run, "issue": issue_run, "transfer": transfer_run,
        "cancel": cancel_run, "claim": claim_run,
    }  # fmt: skip
    rate = {name: phase.run.tx_per_s for name, phase in phases.items()}
    month_s = month_run.run.elapsed_s
    claim_per_s = txs / (cancel_run.run.elapsed_s + claim_run.run.elapsed_s)
    return {
        "plants": plants,
        "days": days,
        "meter_interval_s": meter_interval_s,
        "readings": plants * readings,
        "bundles": plants * month_hours,
        "certified_wh": month_wh,
        "issue_s": round(month_s, 3),
        "issue_bundles_per_s": round(plants * month_hours / month_s, 1),
        "txs": txs,
        "issue_tx_per_s": round(rate["issue"], 1),
        "transfer_tx_per_s": round(rate["transfer"], 1),
        "cancel_tx_per_s": round(rate["cancel"], 1),
        "claim_tx_per_s": round(rate["claim"], 1),
        "claim_per_s": round(claim_per_s, 1),
        "ed25519_verify_per_s_one_core": round(verify_rate, 1),
        "issue_ratio": round(rate["issue"] / verify_rate, 3),
        "transfer_ratio": round(rate["transfer"] / verify_rate, 3),
        "claim_ratio": round(rate["claim"] / verify_rate, 3),
        "signers": {"certifiers": certifiers, "producers": plants, "consumers": consumers},
        **proofs,
        "state_keys": state_keys,
        "proof_scaling": proof_scaling,
        "phases": {name: phase.figures() for name, phase in phases.items()},
        "height": height,
        "verify_workers": workers if workers is not None else "one per core",
        "setup_s": round(setup_s, 1),
        "peak_rss_mb": round(peak_rss, 1),
    }
