"""Signature verification on every core: Ed25519 checks in worker processes.

Verification is the dearest step of admission (60-90 us per signature with PyNaCl here), and
it is independent per transaction, so batches are split across worker processes while the
main process executes and commits blocks. Small batches are checked inline: a process round
trip costs more than a few signatures.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from gridledger.core.crypto import verify_raw

Item = tuple[bytes, bytes, bytes]
"""(raw public key, signed message, raw signature)"""

INLINE_BELOW = 64


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
            self._pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"))

    def verify_many(self, items: list[Item]) -> list[bool]:
        if self._pool is None or len(items) < INLINE_BELOW:
            return verify_chunk(items)
        size = -(-len(items) // self.workers)
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        out: list[bool] = []
        for part in self._pool.map(verify_chunk, chunks):
            out.extend(part)
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
