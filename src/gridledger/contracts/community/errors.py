"""Community's refusals, each with a stable ``community.*`` code."""

from __future__ import annotations

from gridledger.core.errors import InvalidTransaction


class InvalidPseudonym(InvalidTransaction):
    code = "community.invalid_pseudonym"
    default_message = (
        "a pseudonym is 3-24 characters: letters a-z A-Z, Chinese characters, digits, single "
        "spaces, _ or -, starting with a letter or a Chinese character"
    )


class PseudonymTaken(InvalidTransaction):
    code = "community.pseudonym_taken"
    default_message = "another household ranks under this pseudonym; choose another"


class PseudonymIsId(InvalidTransaction):
    code = "community.pseudonym_is_id"
    default_message = "a pseudonym must not be an account or organisation id: it would name you"


class NotOptedIn(InvalidTransaction):
    code = "community.not_opted_in"
    default_message = "this account has not opted in to the public ranking"


class InvalidShare(InvalidTransaction):
    code = "community.invalid_share"
    default_message = "a streak's share is 1-1000 permille"
