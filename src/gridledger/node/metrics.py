"""Prometheus metrics of one node (its own registry, so several nodes can share a process)."""

from __future__ import annotations

import time
from collections import deque

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.height = Gauge("gridledger_height", "Height of the last committed block", registry=r)
        self.committed = Counter(
            "gridledger_txs_committed", "Transactions committed in blocks", registry=r
        )
        self.admitted = Counter(
            "gridledger_txs_admitted", "Transactions admitted to the mempool", registry=r
        )
        self.mempool = Gauge(
            "gridledger_mempool_size", "Admitted transactions not yet in a block", registry=r
        )
        self.tx_rate = Gauge(
            "gridledger_tx_per_second", "Committed transactions per second, last 10 s", registry=r
        )
        self.commit_latency = Histogram(
            "gridledger_block_commit_seconds",
            "Time to execute and durably commit one block",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        self._recent: deque[tuple[float, int]] = deque()

    def block_committed(self, height: int, txs: int, seconds: float, mempool: int) -> None:
        self.height.set(height)
        self.committed.inc(txs)
        self.mempool.set(mempool)
        self.commit_latency.observe(seconds)
        now = time.monotonic()
        self._recent.append((now, txs))
        while self._recent and self._recent[0][0] < now - 10:
            self._recent.popleft()
        span = max(now - self._recent[0][0], 1.0)
        self.tx_rate.set(sum(n for _, n in self._recent) / span)
