"""Waiting for transactions to commit without holding a thread per waiting request.

A client may ask to wait up to a minute for a receipt. Parking each such request on a worker
thread would let a few dozen waiting clients exhaust the thread pool that every other request
needs, so waiters are asyncio futures instead: the node's block thread wakes exactly the futures
whose transactions a block holds, through each future's own event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from functools import partial

from anyio import to_thread

from gridledger.node.node import CommittedBlock, Node
from gridledger.state.store import StoredTx

_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class CommitWaiters:
    """Futures keyed by transaction hash, resolved when a block holding the hash commits."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._lock = threading.Lock()
        self._waiting: dict[str, list[_Waiter]] = {}
        node.add_listener(self._on_block)

    def close(self) -> None:
        """Stop listening to the node (the app is shutting down)."""
        self._node.remove_listener(self._on_block)

    def _on_block(self, blk: CommittedBlock) -> None:
        # Runs on the block thread: find the waiters under the lock, wake them outside it.
        with self._lock:
            if not self._waiting:
                return
            woken = [w for h in blk.tx_hashes for w in self._waiting.pop(h, ())]
        for loop, fut in woken:
            # RuntimeError: that request's event loop has closed, so nobody waits any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_wake, fut)

    async def _lookup(self, tx_hash: bytes) -> StoredTx | None:
        return await to_thread.run_sync(partial(self._node.store.tx, tx_hash))

    async def wait(self, tx_hash: bytes, timeout: float) -> StoredTx | None:
        """The committed transaction, waiting up to ``timeout`` seconds; ``None`` if not yet."""
        stored = await self._lookup(tx_hash)
        if stored is not None or timeout <= 0:
            return stored
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        key = tx_hash.hex()
        waiter = (loop, fut)
        with self._lock:
            self._waiting.setdefault(key, []).append(waiter)
        try:
            # The block may have committed between the first look and registering the waiter.
            stored = await self._lookup(tx_hash)
            if stored is not None:
                return stored
            try:
                await asyncio.wait_for(fut, timeout)
            except TimeoutError:
                return None
            return await self._lookup(tx_hash)
        finally:
            with self._lock:
                waiters = self._waiting.get(key)
                if waiters is not None and waiter in waiters:
                    waiters.remove(waiter)
                    if not waiters:
                        del self._waiting[key]

    @property
    def waiting(self) -> int:
        """How many requests are waiting (for tests and metrics)."""
        with self._lock:
            return sum(len(w) for w in self._waiting.values())
