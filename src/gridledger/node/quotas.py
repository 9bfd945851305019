"""Admission quotas: how many transactions and bytes an account may have admitted per minute.

The operator sets quotas per role on the chain (``chain.set_quota``, see
:mod:`gridledger.contracts.chain`); every node's admission enforces them for the accounts that
submit to it, with a token bucket per account that holds a minute's worth and refills
continuously. An account gets the most generous quota among those of its roles and ``any``;
an account no quota applies to is not limited. Quotas are a node's admission policy, not a
block rule: a block is never refused because an account sent more than its quota elsewhere.

Only transactions whose signature checked out are counted, so nobody can use up another
account's quota by sending forgeries in its name.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from gridledger.contracts.chain import ANY_ROLE, Quota
from gridledger.core.errors import RateLimited


@dataclass
class _Bucket:
    txs: float
    bytes: float
    at: float
    """When the bucket was last refilled (monotonic seconds)."""


class AdmissionQuotas:
    """Per-account token buckets under the chain's quotas (thread-safe)."""

    def __init__(self) -> None:
        self._by_role: dict[str, Quota] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def update(self, quotas: list[Quota]) -> None:
        """Take the quotas committed state holds now (after each block)."""
        by_role = {q.role: q for q in quotas}
        with self._lock:
            if by_role != self._by_role:
                self._by_role = by_role
                self._buckets.clear()

    def limits(self, roles: tuple[str, ...]) -> tuple[int, int] | None:
        """``(transactions, bytes)`` per minute for an account holding ``roles``; None when
        no quota applies."""
        found = [q for r in (ANY_ROLE, *roles) if (q := self._by_role.get(r)) is not None]
        if not found:
            return None
        return max(q.txs_per_minute for q in found), max(q.bytes_per_minute for q in found)

    @property
    def active(self) -> bool:
        """Whether any quota is set (admission skips the accounting otherwise)."""
        return bool(self._by_role)

    def take(self, account: str, roles: tuple[str, ...], size: int, now: float) -> None:
        """Count one admitted transaction of ``size`` bytes.

        Raises:
            RateLimited: the account's bucket cannot cover it; nothing is counted.
        """
        with self._lock:
            limits = self.limits(roles)
            if limits is None:
                return
            txs, nbytes = limits
            bucket = self._buckets.get(account)
            if bucket is None:
                bucket = self._buckets[account] = _Bucket(txs, nbytes, now)
            elapsed = max(now - bucket.at, 0.0)
            bucket.txs = min(txs, bucket.txs + elapsed * txs / 60)
            bucket.bytes = min(nbytes, bucket.bytes + elapsed * nbytes / 60)
            bucket.at = now
            if bucket.txs >= 1 and bucket.bytes >= size:
                bucket.txs -= 1
                bucket.bytes -= size
                return
            if size > nbytes:
                raise RateLimited(
                    f"a {size}-byte transaction is over {account!r}'s quota of {nbytes} bytes a "
                    "minute; ask the operator for a larger one"
                )
            wait = max((1 - bucket.txs) * 60 / txs, (size - bucket.bytes) * 60 / nbytes, 0.0)
            raise RateLimited(
                f"{account!r} may have {txs} transactions and {nbytes} bytes admitted a minute; "
                f"retry in {math.ceil(wait)} s"
            )
