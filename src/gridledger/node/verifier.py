"""Signature verification on every core: Ed25519 checks in worker processes.

Verification is the dearest step of admission (60-90 us per signature with PyNaCl here), and
it is independent per transaction, so batches are split across worker processes while the
main process executes and commits blocks. Small batches are checked inline: a process round
trip costs more than a few signatures.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from gridledger.core.crypto import verify_raw

Item = tuple[bytes, bytes, bytes]
"""(raw public key, signed message, raw signature)"""

INLINE_BELOW = 64
T = TypeVar("T")
PARENT_CHECK_S = 0.5
"""How often a worker looks whether the node that started it is still alive."""


def _watch_parent(parent: int) -> None:
    """Worker initializer: end this worker once its node is gone, however the node ended.

    A node killed with SIGKILL cannot shut its pool down; without this its workers would run
    on as orphans. (``PR_SET_PDEATHSIG`` follows the thread that forked, not the process, so a
    poll of the parent id is the reliable way.)
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def verify_chunk(items: list[Item]) -> list[bool]:
    return [verify_raw(pk, msg, sig) for pk, msg, sig in items]


class Verifier:
    """Verifies batches of signatures, in ``workers`` processes (0: inline only)."""

    def __init__(self, workers: int | None = None) -> None:
        n = (os.cpu_count() or 1) if workers is None else workers
        self.workers = n
        self._pool: ProcessPoolExecutor | None = None
        if n > 0:
            # spawn, not fork: the node runs threads, and forking a threaded process is unsafe
            self._pool = ProcessPoolExecutor(
                n,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_watch_parent,
                initargs=(os.getpid(),),
            )
            # start every worker now, from this thread, instead of on a first busy request
            for wait in [self._pool.submit(os.getpid) for _ in range(n)]:
                wait.result()

    def run(self, fn: Callable[..., list[T]], *args: Any) -> Callable[[], list[T]]:
        """Start ``fn(*args)`` in a worker (inline without workers); call the result to wait.

        ``fn`` must be a module-level function (workers import it by name).
        """
        if self._pool is None:
            done = fn(*args)
            return lambda: done
        return self._pool.submit(fn, *args).result

    def start(self, items: list[Item]) -> Callable[[], list[bool]]:
        """Begin checking ``items``; the returned call waits for and returns the results.

        Callers start several slices before waiting on any, so the workers always have the
        next slice queued while the caller decodes more transactions.
        """
        if self._pool is None or len(items) < INLINE_BELOW:
            done = verify_chunk(items)
            return lambda: done
        future = self._pool.submit(verify_chunk, items)
        return future.result

    def verify_many(self, items: list[Item]) -> list[bool]:
        size = max(INLINE_BELOW, -(-len(items) // max(self.workers, 1)))
        waits = [self.start(items[i : i + size]) for i in range(0, len(items), size)]
        out: list[bool] = []
        for wait in waits:
            out.extend(wait())
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
