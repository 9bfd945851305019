"""``gridledger bench state``: a large state on disk: ingest rate early and late, memory,
restart, and proofs of old heights.

The chain of ``bench ingest`` (meters on devices and sites, gateways signing batches of hourly
readings) receives ``readings`` readings through the whole embedded node, an archive node that
keeps every height. Ten million signed readings would not fit in memory, so they are signed
chunk by chunk (at most ``CHUNK_READINGS``): sign a chunk, then push it through the node and
wait for its last block. Only the committing is timed (``ingest_s``); signing is the gateways'
work and is reported apart (``sign_s``).

Figures:

* ``readings_per_s``: readings committed per second of committing, over the whole run;
  ``early_readings_per_s`` / ``late_readings_per_s`` over the first and last window of
  ``window_readings`` (a million, or a tenth of a smaller run): does ingest slow down as the
  state grows (``late_vs_early_ratio``)? ``chunk_readings_per_s`` shows the way there;
* ``rss_mb_running``: the node process's peak RSS while committing (the chunk's signed batches
  included, signing and set-up not: the peak is reset before each chunk is pushed), and its
  peak over the early and the late window (``rss_mb_early``, ``rss_mb_late``): still growing?
* ``restart_s``, ``rss_mb_after_restart``, ``old_proof_ms``: measured by a fresh process
  (``python -m gridledger.bench.state --restart-probe HOME``) once the node is closed: from
  constructing the node on the same home to its API (uvicorn on a free loopback port)
  answering ``GET /v1/status``; that process's peak RSS after it also served the proofs; the
  median time to prove a reading as of the height where a tenth of the readings were in
  (``node.prove_state``, or ``node.prove_log_entry`` on a chain that keeps readings in the
  readings log: ``readings_in_log``), each proof verified against that height's header, and
  readings written later shown absent there; the probe's RSS when it is done
  (``rss_mb_after_restart_now``);
* ``db_mb``: the chain's SQLite file and its WAL.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import psutil

from gridledger.bench.ingest import (
    HOUR_S,
    PASSPHRASE,
    ReadingPlan,
    gateway_id,
    open_metered_chain,
    reading_counts,
)
from gridledger.bench.ledger import commit_timed
from gridledger.contracts.metering import keys as metering_keys
from gridledger.core.errors import NotFound
from gridledger.core.merkle import InvalidInclusionProof, verify_inclusion
from gridledger.node.home import open_node
from gridledger.node.node import DB_NAME, CommittedBlock, Node
from gridledger.state.state import log_entry
from gridledger.state.tree import InvalidStateProof, verify_proof

WINDOW_READINGS = 1_000_000
"""The early and late windows: the first and last million readings (a tenth of a run of
fewer than ten million)."""
CHUNK_READINGS = 250_000
"""The most readings signed at a time."""
OLD_PROOFS = 50
ABSENT_PROOFS = 5
TARGETS: dict[str, tuple[str, float]] = {
    "rss_mb_running": ("<", 1000),
    "rss_mb_after_restart": ("<", 1000),
    "restart_s": ("<", 5),
    "late_vs_early_ratio": (">=", 0.7),
}
_MB = 1024 * 1024


def chunking(readings: int) -> tuple[int, int]:
    """The window and the chunk size: the window is a whole number of chunks, so the early
    window is exactly the first chunks."""
    window = max(min(WINDOW_READINGS, readings // 10), 1)
    pieces = -(-window // CHUNK_READINGS)
    chunk = -(-window // pieces)
    return pieces * chunk, chunk


class PeakRss:
    """Peak RSS of this process over the measured stretches only (Linux: the kernel's
    high-water mark, reset at each start; elsewhere: sampled), and of its children (the
    signature workers, sampled)."""

    def __init__(self, every_s: float = 0.25) -> None:
        self.own_mb = 0.0
        """The peak over every stretch so far."""
        self._stretch_mb = 0.0
        self.children_mb = 0.0
        self._proc = psutil.Process()
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._hwm = self._reset_hwm()

    @staticmethod
    def _reset_hwm() -> bool:
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    @staticmethod
    def hwm_mb() -> float:
        """The kernel's high-water mark of this process's RSS (Linux).

        Raises:
            OSError: there is no ``/proc/self/status``.
        """
        found = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
        return int(found.group(1)) / 1024 if found else 0.0

    def _sample(self) -> None:
        while True:
            self._stretch_mb = max(self._stretch_mb, self._proc.memory_info().rss / _MB)
            total = 0
            for child in self._proc.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            self.children_mb = max(self.children_mb, total / _MB)
            if self._stop.wait(self._every_s):
                return

    def start(self) -> None:
        """Begin a measured stretch."""
        self._stretch_mb = 0.0
        if self._hwm:
            self._reset_hwm()
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> float:
        """End the stretch; its peak RSS of this process in MB."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._hwm:
            self._stretch_mb = max(self._stretch_mb, self.hwm_mb())
        self.own_mb = max(self.own_mb, self._stretch_mb)
        return self._stretch_mb


@dataclass
class _Chunk:
    readings: int
    commit_s: float
    height: int
    """The tip once the chunk was committed."""
    commit_ms: list[float]
    rss_mb: float
    """This process's peak RSS while the chunk was committed."""


def _rate(chunks: list[_Chunk]) -> float:
    seconds = sum(c.commit_s for c in chunks)
    return sum(c.readings for c in chunks) / seconds if seconds > 0 else 0.0


def _p50(values: list[float]) -> float:
    return round(statistics.median(values), 2) if values else 0.0


def _db_mb(home: Path) -> float:
    files = [home / DB_NAME, home / f"{DB_NAME}-wal"]
    return sum(f.stat().st_size for f in files if f.exists()) / _MB


def run_state_bench(
    readings: int = 10_000_000,
    meters: int = 100_000,
    gateways: int = 100,
    batch: int = 1000,
    home: Path | None = None,
    workers: int | None = None,
    seed: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Register ``meters`` meters, commit ``readings`` readings chunk by chunk, close the node,
    and measure a restart and old proofs in a fresh process.

    Raises:
        RuntimeError: a reading was refused or not committed, or the restarted node failed
            to serve or to prove.
    """
    if readings < 1 or meters < 1 or gateways < 1 or not 1 <= batch <= 5000:
        raise ValueError("readings, meters and gateways must be positive; batch 1-5000")
    tmp = None
    if home is None:
        tmp = tempfile.TemporaryDirectory(prefix="gridledger-bench-state-")
        home = Path(tmp.name) / "home"
    try:
        return _run(readings, meters, gateways, batch, home, workers, seed, progress)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _run(
    readings: int,
    meters: int,
    gateways: int,
    batch: int,
    home: Path,
    workers: int | None,
    seed: int,
    progress: Callable[[str, int, int], None] | None,
) -> dict[str, Any]:
    t_wall = time.perf_counter()
    node, keys = open_metered_chain(home, meters, gateways, workers)
    setup_s = time.perf_counter() - t_wall
    plan = ReadingPlan(readings, meters, gateways, int(time.time()) // HOUR_S * HOUR_S, seed)
    window, chunk = chunking(readings)
    bounds = [(lo, min(lo + chunk, readings)) for lo in range(0, readings, chunk)]
    nonces = {gateway_id(g): 1 for g in range(gateways)}
    counts = {"accepted": 0, "refused": 0}

    def on_block(blk: CommittedBlock) -> None:
        ok, bad = reading_counts(blk)
        counts["accepted"] += ok
        counts["refused"] += bad
        if progress:
            progress("commit", counts["accepted"], readings)

    def signed_from(lo: int) -> Callable[[int], None]:
        def signed(n: int) -> None:
            if progress:
                progress("sign", lo + n, readings)

        return signed

    rss = PeakRss()
    chunks: list[_Chunk] = []
    sign_s = 0.0
    start_height = node.tip.height
    try:
        for lo, hi in bounds:
            t_sign = time.perf_counter()
            parts = plan.sign(keys, lo, hi, batch, nonces, on_signed=signed_from(lo))
            sign_s += time.perf_counter() - t_sign
            before = counts["accepted"]
            rss.start()
            run = commit_timed(node, parts, on_block=on_block, chunk=8)
            rss_mb = rss.stop()
            del parts
            if run.committed < run.txs or counts["refused"]:
                raise RuntimeError(
                    f"readings {lo}-{hi}: {run.committed} of {run.txs} batches committed, "
                    f"{counts['refused']} readings refused"
                    + (f", e.g. {run.first_failure}" if run.first_failure else "")
                )
            accepted = counts["accepted"] - before
            chunks.append(_Chunk(accepted, run.elapsed_s, node.tip.height, run.commit_ms, rss_mb))
        height = node.tip.height
    finally:
        node.close()
    db_mb = _db_mb(home)

    # a reading's key as of the height where about a tenth of the readings were committed
    old = max(len(bounds) // 10 - 1, 0)
    rng = random.Random(seed)
    present = [rng.randrange(bounds[old][1]) for _ in range(OLD_PROOFS)]
    # readings of the last chunk were written after the old height (unless it is the last)
    later = [
        rng.randrange(*bounds[-1]) for _ in range(ABSENT_PROOFS if old < len(bounds) - 1 else 0)
    ]
    probe = _restart_probe(
        home,
        chunks[old].height,
        [metering_keys.reading(plan.meter(k), plan.start_s(k)) for k in present],
        [metering_keys.reading(plan.meter(k), plan.start_s(k)) for k in later],
        workers,
    )
    if probe["status_height"] != height:
        raise RuntimeError(f"the restarted node is at {probe['status_height']}, not {height}")

    per_window = -(-window // chunk)
    early, late = chunks[:per_window], chunks[-per_window:]
    result: dict[str, Any] = {
        "readings": readings,
        "meters": meters,
        "gateways": gateways,
        "batch": batch,
        "accepted": counts["accepted"],
        "blocks": height - start_height,
        "height": height,
        "chunk_readings": chunk,
        "window_readings": window,
        "readings_per_s": round(_rate(chunks), 1),
        "early_readings_per_s": round(_rate(early), 1),
        "late_readings_per_s": round(_rate(late), 1),
        "late_vs_early_ratio": round(_rate(late) / _rate(early), 3) if _rate(early) else 0.0,
        "chunk_readings_per_s": [round(_rate([c]), 1) for c in chunks],
        "early_block_commit_ms_p50": _p50([ms for c in early for ms in c.commit_ms]),
        "late_block_commit_ms_p50": _p50([ms for c in late for ms in c.commit_ms]),
        "ingest_s": round(sum(c.commit_s for c in chunks), 2),
        "sign_s": round(sign_s, 2),
        "setup_s": round(setup_s, 2),
        "rss_mb_running": round(rss.own_mb, 1),
        "rss_mb_early": round(max(c.rss_mb for c in early), 1),
        "rss_mb_late": round(max(c.rss_mb for c in late), 1),
        "workers_rss_mb_running": round(rss.children_mb, 1),
        "db_mb": round(db_mb, 1),
        "restart_s": probe["restart_s"],
        "restart_open_s": probe["open_s"],
        "rss_mb_after_restart": probe["rss_mb"],
        "rss_mb_after_restart_now": probe["rss_mb_now"],
        "old_height": probe["old_height"],
        "old_proof_ms": probe["old_proof_ms"],
        "old_proofs_verified": probe["old_proofs_verified"],
        "later_keys_absent": probe["absent_verified"],
        "readings_in_log": probe["readings_in_log"],
        "wall_s": round(time.perf_counter() - t_wall, 1),
    }
    result["targets"] = {
        name: {"target": f"{op} {bound:g}", "met": _met(result[name], op, bound)}
        for name, (op, bound) in TARGETS.items()
    }
    return result


def _met(value: float, op: str, bound: float) -> bool:
    return value < bound if op == "<" else value >= bound


def _restart_probe(
    home: Path, old_height: int, present: list[bytes], absent: list[bytes], workers: int | None
) -> dict[str, Any]:
    """Run :func:`restart_probe` in a fresh process; its JSON."""
    cmd = [sys.executable, "-m", "gridledger.bench.state", "--restart-probe", str(home),
           "--height", str(old_height)]  # fmt: skip
    cmd += [arg for key in present for arg in ("--key", key.hex())]
    cmd += [arg for key in absent for arg in ("--absent", key.hex())]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-5:]
        raise RuntimeError(f"the restart probe failed: {' | '.join(tail)}")
    out: dict[str, Any] = json.loads(done.stdout)
    if out["old_proofs_verified"] != len(present) or out["absent_verified"] != len(absent):
        raise RuntimeError(f"the restarted node's old proofs did not verify: {out}")
    return out


def restart_probe(
    home: Path, old_height: int, present: list[bytes], absent: list[bytes], workers: int | None
) -> dict[str, Any]:
    """Open the node in ``home``, serve its API on a free loopback port until it answers
    ``GET /v1/status``, then prove ``present`` (which must hold a value) and ``absent`` keys as
    of ``old_height``, each verified against that height's header. Times, and this process's
    peak RSS."""
    t_import = time.perf_counter()
    # imported here: only the probe serves the API
    import httpx  # noqa: PLC0415

    from gridledger.api.server import ApiServer  # noqa: PLC0415

    import_s = time.perf_counter() - t_import
    t0 = time.perf_counter()
    node = open_node(home, PASSPHRASE, verify_workers=workers, tune_gc=True)
    open_s = time.perf_counter() - t0
    try:
        node.start()
        with ApiServer(node, "127.0.0.1", 0) as server:
            status = httpx.get(server.url + "/v1/status", timeout=30)
            status.raise_for_status()
            restart_s = time.perf_counter() - t0
            proof_ms: list[float] = []
            verified = absent_verified = 0
            for key, expect in [*((k, True) for k in present), *((k, False) for k in absent)]:
                t = time.perf_counter()
                check = _prove(node, key, old_height)
                proof_ms.append((time.perf_counter() - t) * 1000)
                if check() == expect:
                    verified += expect
                    absent_verified += not expect
            in_log = bool(present) and node.in_log(present[0])
    finally:
        node.close()
    return {
        "import_s": round(import_s, 3),
        "open_s": round(open_s, 3),
        "restart_s": round(restart_s, 3),
        "status_height": status.json()["height"],
        "old_height": old_height,
        "old_proof_ms": round(statistics.median(proof_ms[: len(present)]), 3) if present else 0.0,
        "old_proofs_verified": verified,
        "absent_verified": absent_verified,
        "readings_in_log": in_log,
        "rss_mb": round(_own_peak_rss_mb(), 1),
        "rss_mb_now": round(psutil.Process().memory_info().rss / _MB, 1),
    }


def _prove(node: Node, key: bytes, height: int) -> Callable[[], bool | None]:
    """Prove ``key`` as of ``height`` (what is timed); the returned call verifies the proof
    against that height's header: ``True`` the key holds a value, ``False`` it is absent,
    ``None`` the proof does not verify.

    A reading kept in the readings log is proven by its block's log and the state proof of
    that block's seal. The log proves only what it holds: a reading appended after ``height``
    counts as absent when the node refuses to prove it there (``NotFound``).
    """
    if node.in_log(key):
        try:
            header, value, entry, seal_key, seal, seal_proof = node.prove_log_entry(key, height)
        except NotFound:
            return lambda: False

        def check_log() -> bool | None:
            try:
                root = bytes.fromhex(msgspec.json.decode(seal)["root"])
                path = [bytes.fromhex(h) for h in entry.audit_path]
                verify_inclusion(log_entry(key, value), entry.index, entry.count, path, root)
                verify_proof(bytes.fromhex(header.state_root), seal_key, seal, seal_proof)
            except (InvalidInclusionProof, InvalidStateProof):
                return None
            return header.height == height or None

        return check_log
    header, found, proof = node.prove_state(key, height)

    def check_state() -> bool | None:
        try:
            verify_proof(bytes.fromhex(header.state_root), key, found, proof)
        except InvalidStateProof:
            return None
        return found is not None if header.height == height else None

    return check_state


def _own_peak_rss_mb() -> float:
    """This process's peak RSS. Not ``ru_maxrss`` where the kernel's own figure is readable:
    on Linux a program started by another inherits its parent's peak there (``exec`` keeps
    the high-water mark of the address space it replaces), so a probe started by a 600 MB
    benchmark would report 600 MB."""
    try:
        return PeakRss.hwm_mb()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    """``python -m gridledger.bench.state --restart-probe HOME --height H --key HEX ...``"""
    parser = argparse.ArgumentParser(description=restart_probe.__doc__)
    parser.add_argument("--restart-probe", type=Path, required=True, metavar="HOME")
    parser.add_argument("--height", type=int, required=True)
    parser.add_argument("--key", action="append", default=[], help="hex; must hold a value")
    parser.add_argument("--absent", action="append", default=[], help="hex; must be absent")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    out = restart_probe(
        args.restart_probe,
        args.height,
        [bytes.fromhex(k) for k in args.key],
        [bytes.fromhex(k) for k in args.absent],
        args.workers,
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
