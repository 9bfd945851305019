"""Claims: carbon-neutrality claims following ISO 14068-1, covered by retired credits.

* :mod:`.keys`: every ``claims/...`` state key, and nothing else builds them;
* :mod:`.records`: :class:`Claim` with its :class:`Subject`, :class:`ClaimInventory` (by
  scope, site by site and month by month), :class:`ClaimedRetirement` and verifier's
  :class:`Statement`;
* :mod:`.inventory`: the inventory recomputed from the ledger's state (metered consumption,
  claimed certificates, the carbon factor sets in force, confirmed scope 1 data);
* :mod:`.making`: ``claims.make`` (any account, for its organisation), ``claims.verify``
  (carbon verifiers of another organisation), ``claims.withdraw`` (the claimant);
* :mod:`.queries`: what pages read; :mod:`.errors`: the refusals, each with its code.

Invariant (property-tested): a credit retirement counts for at most one claim.
"""

from gridledger.contracts.claims import inventory, keys, making, queries
from gridledger.contracts.claims.making import get_claim, months_after, require_claim
from gridledger.contracts.claims.queries import claim_of_retirement, list_claims
from gridledger.contracts.claims.records import (
    Claim,
    ClaimedRetirement,
    ClaimInventory,
    SiteMonth,
    Statement,
    Subject,
)

__all__ = [
    "Claim",
    "ClaimInventory",
    "ClaimedRetirement",
    "SiteMonth",
    "Statement",
    "Subject",
    "claim_of_retirement",
    "get_claim",
    "inventory",
    "keys",
    "list_claims",
    "making",
    "months_after",
    "queries",
    "require_claim",
]
