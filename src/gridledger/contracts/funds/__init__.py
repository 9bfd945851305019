"""Funds: the settlement currency, in integer minor units (fen, cents).

* :mod:`.keys`: every ``funds/...`` state key (balances, escrow, supply: plain integers);
* :mod:`.ledger`: reading and moving balances and escrow (what the market uses);
* :mod:`.transfers`: ``funds.mint`` (operator) and ``funds.transfer`` (any account);
* :mod:`.errors`: the refusals, each with its ``funds.*`` code.

Invariants (property-tested): no balance or escrow is ever negative, and the sum of all balances
and escrows equals the supply; transfers, holds and releases move value and never create or
destroy it.
"""

from gridledger.contracts.funds import keys
from gridledger.contracts.funds.errors import (
    InsufficientBalance,
    InvalidAmount,
    MemoTooLong,
    SupplyOverflow,
)
from gridledger.contracts.funds.ledger import (
    add_supply,
    balance_of,
    credit,
    debit,
    escrow_of,
    hold,
    release,
    total_balances,
    total_escrow,
    total_supply,
)
from gridledger.contracts.funds.transfers import Mint, Transfer

SUPPLY_KEY = keys.supply()
"""The supply's key, as genesis writes it."""

__all__ = [
    "SUPPLY_KEY",
    "InsufficientBalance",
    "InvalidAmount",
    "MemoTooLong",
    "Mint",
    "SupplyOverflow",
    "Transfer",
    "add_supply",
    "balance_of",
    "credit",
    "debit",
    "escrow_of",
    "hold",
    "keys",
    "release",
    "total_balances",
    "total_escrow",
    "total_supply",
]
