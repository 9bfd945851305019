"""A household's choices about its clean-power record on the client side: send
``community.*`` transactions (``docs/community.md``).

``Client.community`` is a :class:`Community`::

    with Client(url) as client:
        client.community.opt_in(key, "house-001", pseudonym="Sunny Balcony")
        client.community.revoke(key, "house-001")

Each kind acts for its sender only; the node refuses a pseudonym that is invalid, taken or an
id of the ledger.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gridledger.sdk.contract import ContractClient, api_path, contract_kinds

if TYPE_CHECKING:
    from gridledger.core.crypto import SigningKey
    from gridledger.sdk.client import Committed

COMMUNITY_KINDS = contract_kinds("community")


class Community(ContractClient):
    """The community transactions, through ``client``."""

    kinds = COMMUNITY_KINDS
    path = ("v1", "state")

    def opt_in(self, key: SigningKey, sender: str, *, pseudonym: str,
               wait: float = 10.0) -> Committed:  # fmt: skip
        """Rank the sender publicly under ``pseudonym`` (``community.opt_in``)."""
        return self.send(key, sender, "community.opt_in", {"pseudonym": pseudonym}, wait)

    def revoke(self, key: SigningKey, sender: str, wait: float = 10.0) -> Committed:
        """Take the sender out of the ranking from the next block (``community.revoke``)."""
        return self.send(key, sender, "community.revoke", {}, wait)

    def set_streak_share(self, key: SigningKey, sender: str, *, share_permille: int,
                         wait: float = 10.0) -> Committed:  # fmt: skip
        """The share (1-1000 permille) a day needs to count toward the sender's streak
        (``community.set_streak_share``)."""
        body = {"share_permille": share_permille}
        return self.send(key, sender, "community.set_streak_share", body, wait)

    # the monthly card -------------------------------------------------------------------
    def card_proof(self, account: str, month: str) -> dict[str, Any]:
        """The household's record card proof file for local month ``month`` (``YYYY-MM``),
        unchecked: check it with :func:`gridledger.sdk.card_proofs.verify_card_proof` and keys
        from elsewhere. The node answers its member, signed in, or its operator only (pass
        ``headers={"Authorization": "Bearer <token>"}`` to the client)."""
        found: dict[str, Any] = self.client._get(
            api_path("v1", "community", "cards", account, month, "proof")
        )
        return found

    def card(self, account: str, month: str, kind: str = "pdf", lang: str = "en") -> bytes:
        """The household's card as PDF (``kind="pdf"``) or PNG (``"png"``) bytes."""
        path = api_path("v1", "community", "cards", account, f"{month}.{kind}")
        return self.client._request("GET", path, params={"lang": lang}).content
