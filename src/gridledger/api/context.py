"""What every route needs: the node, the commit waiters, and the request limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Path

from gridledger.api.limits import BodyBudget
from gridledger.api.schemas import HEX64
from gridledger.api.waiting import CommitWaiters
from gridledger.core.localtime import LocalTime
from gridledger.node.node import Node
from gridledger.node.personal import PersonalStore

if TYPE_CHECKING:
    from gridledger.api.auth import Auth

MAX_BATCH = 10_000
"""Transactions per ``POST /v1/txs/batch``."""
MAX_BATCH_BYTES = 16 * 1024 * 1024
"""Bytes per batch body; read before parsing, so a client cannot make the node buffer more
(10,000 transfers take about 3 MiB; a gateway's large batches go one per transaction)."""
MAX_WAIT_S = 60.0
"""The longest a request may wait for a receipt."""

TxHash = Annotated[
    str,
    Path(pattern=HEX64, description="Transaction hash: 64 lower-case hex digits (SHA-256)."),
]


@dataclass(frozen=True)
class ApiContext:
    node: Node
    waiters: CommitWaiters
    max_batch: int = MAX_BATCH
    max_batch_bytes: int = MAX_BATCH_BYTES
    bodies: BodyBudget = field(default_factory=BodyBudget)
    """Request bodies in flight, shared by every route that reads one."""
    auth: Auth | None = None
    """Sessions, members and custody: who may ask the node to sign or to manage members."""
    local: LocalTime = field(default_factory=LocalTime)
    """The chain's time zone (its genesis ``time_zone``), for the pages."""
    personal: PersonalStore | None = None
    """Households' personal details, off the chain (``HOME/personal.sqlite``)."""


def hash_bytes(tx_hash: str) -> bytes:
    """Raw bytes of a hash already checked against :data:`HEX64` by the path parameter."""
    return bytes.fromhex(tx_hash)
