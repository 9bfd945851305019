"""Carbon-neutrality claims on the client side: read ``/v1/claims`` and send ``claims.*``
transactions (``docs/claims.md``).

``Client.claims`` is a :class:`Claims`::

    with Client(url) as client:
        client.claims.make(key, "house-01", body={...})
        proof = client.claims.proof("community-2025-05")

Check a proof file with :func:`gridledger.sdk.claim_proofs.verify_claim_proof` and keys from
a source you trust, never from the node that made it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gridledger.sdk.contract import ContractClient, contract_kinds

if TYPE_CHECKING:
    from gridledger.core.crypto import SigningKey
    from gridledger.sdk.client import Committed

CLAIMS_KINDS = contract_kinds("claims")


class Claims(ContractClient):
    """The claims endpoints and transactions of one node, through ``client``."""

    kinds = CLAIMS_KINDS
    path = ("v1", "claims")

    def list(self, org: str | None = None, after: str | None = None,
             limit: int | None = None) -> dict[str, Any]:  # fmt: skip
        """``{"claims": [...], "next"}``: claims by id (of ``org``)."""
        return self._get(org=org, after=after, limit=limit)

    def get(self, claim_id: str) -> dict[str, Any]:
        """One claim (``404 not_found`` for an unknown id)."""
        return self._get(claim_id)

    def proof(self, claim_id: str) -> dict[str, Any]:
        """Its proof file at the node's tip, unchecked."""
        return self._get(claim_id, "proof")

    def make(self, key: SigningKey, sender: str, body: dict[str, Any],
             wait: float = 10.0) -> Committed:  # fmt: skip
        """Make a claim for the sender's organisation (``claims.make``; the body as in
        ``docs/claims.md``)."""
        return self.send(key, sender, "claims.make", body, wait)

    def verify(self, key: SigningKey, sender: str, *, claim: str, opinion: str,
               statement: str, wait: float = 10.0) -> Committed:  # fmt: skip
        """Record a carbon verifier's statement on a claim (``claims.verify``)."""
        body = {"claim": claim, "opinion": opinion, "statement": statement}
        return self.send(key, sender, "claims.verify", body, wait)

    def withdraw(self, key: SigningKey, sender: str, *, claim: str, reason: str,
                 wait: float = 10.0) -> Committed:  # fmt: skip
        """Withdraw the sender's organisation's claim (``claims.withdraw``)."""
        return self.send(key, sender, "claims.withdraw", {"claim": claim, "reason": reason}, wait)
