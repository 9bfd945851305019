"""Every state key of community. Nothing else builds them: other code calls these.

* ``community/consent/<account>``: a :class:`~.records.Consent`;
* ``community/pseudonym/<name>``: the account holding pseudonym ``name`` (its lower-case
  form, UTF-8), so no two households rank under the same name;
* ``community/setting/<account>``: a :class:`~.records.StreakSetting`.
"""

from __future__ import annotations


def consent(account: str) -> bytes:
    return consents() + account.encode()


def consents() -> bytes:
    """Prefix of every consent, in account order."""
    return b"community/consent/"


def pseudonym(folded: str) -> bytes:
    return b"community/pseudonym/" + folded.encode()


def setting(account: str) -> bytes:
    return b"community/setting/" + account.encode()
