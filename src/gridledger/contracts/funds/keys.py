"""Every state key of funds. Nothing else builds them: other code calls these.

Values are decimal ASCII integers in minor currency units (fen, cents), not records:

* ``funds/balance/<account>``: the account's balance (absent: 0);
* ``funds/escrow/<account>``: what the account has locked for open market bids and exchange
  buy orders (absent: 0);
* ``funds/supply``: the total minted.
"""

from __future__ import annotations


def balance(account: str) -> bytes:
    return b"funds/balance/" + account.encode()


def balances() -> bytes:
    """Prefix of every balance."""
    return b"funds/balance/"


def escrow(account: str) -> bytes:
    return b"funds/escrow/" + account.encode()


def escrows() -> bytes:
    """Prefix of every escrow."""
    return b"funds/escrow/"


def supply() -> bytes:
    return b"funds/supply"
