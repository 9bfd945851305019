"""Community: a household's choices about its own clean-power record.

* :mod:`.keys`: every ``community/...`` state key, and nothing else builds them;
* :mod:`.records`: :class:`Consent` (to rank publicly under a pseudonym) and
  :class:`StreakSetting` (the share a clean day needs);
* :mod:`.consent`: ``community.set_streak_share``, ``community.opt_in`` and
  ``community.revoke``, each for the sending household only, and the queries pages read;
* :mod:`.errors`: the refusals, each with its code.

Invariant (property-tested): a pseudonym belongs to at most one granted consent, and every
granted consent's pseudonym points back to its account.
"""

from gridledger.contracts.community import consent, keys
from gridledger.contracts.community.consent import (
    check_pseudonym,
    fold,
    get_consent,
    get_setting,
    ranked,
)
from gridledger.contracts.community.records import Consent, StreakSetting

__all__ = [
    "Consent",
    "StreakSetting",
    "check_pseudonym",
    "consent",
    "fold",
    "get_consent",
    "get_setting",
    "keys",
    "ranked",
]
