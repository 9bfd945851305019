"""Community's stored records. Times in Unix seconds UTC, shares in permille."""

from __future__ import annotations

from typing import Literal

from gridledger.contracts.base import Record

ConsentStatus = Literal["granted", "revoked"]
"""``granted``: the household ranks publicly under its pseudonym; ``revoked``: it does not
(from the block that recorded the revocation on)."""


class Consent(Record):
    """A household's consent to rank publicly under a pseudonym.

    Attributes:
        account: The household's consumer account, which alone grants and revokes it.
        org: The account's organisation (whose sites the ranking counts).
        status: granted or revoked.
        pseudonym: The name it ranks under while granted; ``None`` once revoked (the state
            keeps no name a household no longer wants shown).
        granted_height: Block of the latest grant.
        granted_s: Block time of the latest grant.
        revoked_height: Block of the latest revocation (``None`` while granted).
        revoked_s: Block time of the latest revocation.
    """

    account: str
    org: str
    status: ConsentStatus
    pseudonym: str | None
    granted_height: int
    granted_s: int
    revoked_height: int | None = None
    revoked_s: int | None = None


class StreakSetting(Record):
    """The clean share a household chose for its streak of clean days.

    Attributes:
        account: The household's consumer account.
        share_permille: A day counts as clean at this hourly-matched share or more (1-1000).
        height: Block that recorded the choice.
    """

    account: str
    share_permille: int
    height: int
