"""Ordering backends: who decides the order of admitted transactions.

The embedded node orders locally (first admitted, first in the block). A network backend
(etcd, one proposal per height won by compare-and-swap) implements the same two calls.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Protocol

from gridledger.node.executor import Prepared


class OrderingBackend(Protocol):
    def submit(self, txs: list[Prepared]) -> None:
        """Hand admitted transactions over for ordering."""

    def next_batch(
        self, max_txs: int, max_wait_s: float, max_bytes: int | None = None
    ) -> list[Prepared]:
        """The next ordered batch: up to ``max_txs`` transactions and ``max_bytes`` of them
        (at least one), cut early after ``max_wait_s``."""

    def wake(self) -> None:
        """Release a waiting ``next_batch`` (on shutdown)."""


class LocalOrdering:
    """First come, first served; a block is cut when full or when its interval has passed."""

    def __init__(self) -> None:
        self._queue: deque[Prepared] = deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._first_at: float | None = None
        self._woken = False

    def submit(self, txs: list[Prepared]) -> None:
        with self._cond:
            if not self._queue:
                self._first_at = time.monotonic()
            self._queue.extend(txs)
            self._bytes += sum(len(p.raw) for p in txs)
            self._cond.notify_all()

    def wake(self) -> None:
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def __len__(self) -> int:
        return len(self._queue)

    def next_batch(
        self, max_txs: int, max_wait_s: float, max_bytes: int | None = None
    ) -> list[Prepared]:
        budget = max_bytes if max_bytes is not None else 1 << 62
        with self._cond:
            self._woken = False
            while not self._queue and not self._woken:
                self._cond.wait(0.5)
            while len(self._queue) < max_txs and self._bytes < budget and not self._woken:
                assert self._first_at is not None
                left = self._first_at + max_wait_s - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self._pop(max_txs, budget)

    def take(self, max_txs: int, max_bytes: int) -> list[Prepared]:
        """Up to ``max_txs`` queued transactions and ``max_bytes`` of them, without waiting
        (a network node cuts its block when its turn comes)."""
        with self._cond:
            return self._pop(max_txs, max_bytes)

    def _pop(self, max_txs: int, budget: int) -> list[Prepared]:
        """Take the batch off the queue's front (the caller holds the condition's lock)."""
        batch: list[Prepared] = []
        size = 0
        queue = self._queue
        while queue and len(batch) < max_txs:
            n = len(queue[0].raw)
            if batch and size + n > budget:
                break
            batch.append(queue.popleft())
            size += n
        self._bytes -= size
        self._first_at = time.monotonic() if queue else None
        return batch

    def requeue(self, txs: list[Prepared]) -> None:
        """Put transactions whose block lost its position back at the front, in order."""
        with self._cond:
            if not self._queue:
                self._first_at = time.monotonic()
            self._queue.extendleft(reversed(txs))
            self._bytes += sum(len(p.raw) for p in txs)
            self._cond.notify_all()

    def oldest_wait_s(self) -> float:
        """How long the oldest queued transaction has waited (0 when none is queued)."""
        with self._cond:
            first = self._first_at
            return 0.0 if first is None or not self._queue else time.monotonic() - first
