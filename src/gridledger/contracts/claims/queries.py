"""Reading claims: by id, and listed in id order (of one organisation)."""

from __future__ import annotations

from gridledger.contracts.base import Page, page_of
from gridledger.contracts.claims import keys
from gridledger.contracts.claims.records import Claim
from gridledger.state.state import StateReader


def list_claims(view: StateReader, after: str | None = None, limit: int | None = None,
                org: str | None = None) -> Page[Claim]:  # fmt: skip
    """Claims in id order (of one organisation when ``org`` is given)."""
    keep = None if org is None else (lambda c: c.org == org)
    return page_of(view, keys.claims(), Claim, after, limit, keep)


def claim_of_retirement(view: StateReader, n: int) -> str | None:
    """The id of the claim that used retirement ``n``, if one did."""
    found = view.get(keys.retirement_use(n))
    return None if found is None else found.decode()
