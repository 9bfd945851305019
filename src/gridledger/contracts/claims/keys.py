"""Every state key of claims. Nothing else builds them: other code calls these.

* ``claims/claim/<id>``: a :class:`~.records.Claim`;
* ``claims/retirement/<n>``: the id of the claim that used credit retirement ``n`` (12
  digits, as the credits contract numbers retirements), so no retirement counts for two
  claims.
"""

from __future__ import annotations


def claim(claim_id: str) -> bytes:
    return claims() + claim_id.encode()


def claims() -> bytes:
    """Prefix of every claim, in id order."""
    return b"claims/claim/"


def retirement_use(n: int) -> bytes:
    return uses() + b"%012d" % n


def uses() -> bytes:
    """Prefix of the index of retirements used by claims."""
    return b"claims/retirement/"
