"""The contracts: one package (or module) per domain, each a pure state transition over typed
records.

Importing this package registers every transaction kind in :data:`KINDS`.
"""

from gridledger.contracts import (
    allowances,
    carbon,
    certificates,
    chain,
    claims,
    community,
    consortium,
    credits,
    exchange,
    funds,
    market,
    metering,
    products,
    registry,
)
from gridledger.contracts.base import KINDS, ROLES, Context, Kind, get_kind

__all__ = [
    "KINDS",
    "ROLES",
    "Context",
    "Kind",
    "allowances",
    "carbon",
    "certificates",
    "chain",
    "claims",
    "community",
    "consortium",
    "credits",
    "exchange",
    "funds",
    "get_kind",
    "market",
    "metering",
    "products",
    "registry",
]
