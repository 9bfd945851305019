"""A household's choices about its own record: its streak's threshold and its consent to the
public ranking.

* ``community.set_streak_share`` (a consumer account, for itself): ``{"share_permille"}``,
  1-1000; a day counts toward the household's streak of clean days at that hourly-matched
  clean share or more.
* ``community.opt_in`` (a consumer account, for itself): ``{"pseudonym"}``. The household
  ranks on the public community page under the pseudonym from this block on. A pseudonym is
  3-24 characters of ASCII letters and digits, Chinese characters (U+4E00-U+9FFF), single
  spaces, ``_`` and ``-``, starting with a letter or a Chinese character; it is unique
  ignoring ASCII case among granted consents, and names no account or organisation. Opting
  in again changes the pseudonym (the old one is free at once).
* ``community.revoke`` (a consumer account, for itself): ``{}``. The household drops out of
  the ranking from this block on; its consent record keeps when it was granted and revoked,
  never the pseudonym.

Nobody acts for another: each kind changes only the sender's own records.
"""

from __future__ import annotations

import re

import msgspec

from gridledger.contracts import registry
from gridledger.contracts.base import Body, Context, Int64, kind, page_of
from gridledger.contracts.community import keys
from gridledger.contracts.community.errors import (
    InvalidPseudonym,
    InvalidShare,
    NotOptedIn,
    PseudonymIsId,
    PseudonymTaken,
)
from gridledger.contracts.community.records import Consent, StreakSetting
from gridledger.state.state import StateReader, StateWriter

PSEUDONYM = re.compile(r"^[A-Za-z\u4e00-\u9fff](?:[A-Za-z0-9\u4e00-\u9fff_-]| (?! ))*$")
PSEUDONYM_CHARS = (3, 24)
ROLE = ("consumer",)


def fold(pseudonym: str) -> str:
    """The form uniqueness compares: ASCII letters in lower case (the only cased letters a
    pseudonym may hold, so the result never depends on a Unicode version)."""
    return pseudonym.lower()


def check_pseudonym(pseudonym: str) -> None:
    """Raise :class:`InvalidPseudonym` unless ``pseudonym`` follows the rules above."""
    least, most = PSEUDONYM_CHARS
    if not least <= len(pseudonym) <= most or not PSEUDONYM.match(pseudonym):
        raise InvalidPseudonym(f"{pseudonym[:32]!r} is not a pseudonym")
    if pseudonym.endswith(" "):
        raise InvalidPseudonym("a pseudonym ends with no space")


class SetStreakShare(Body):
    share_permille: Int64

    def check(self) -> None:
        if not 1 <= self.share_permille <= 1000:
            raise InvalidShare(f"{self.share_permille} is not 1-1000 permille")


class OptIn(Body):
    pseudonym: str

    def check(self) -> None:
        check_pseudonym(self.pseudonym)


class Revoke(Body):
    pass


def get_consent(view: StateReader, account: str) -> Consent | None:
    return view.get_record(keys.consent(account), Consent)


def get_setting(view: StateReader, account: str) -> StreakSetting | None:
    return view.get_record(keys.setting(account), StreakSetting)


def ranked(view: StateReader) -> list[Consent]:
    """Every granted consent, in account order."""
    return page_of(view, keys.consents(), Consent, keep=lambda c: c.status == "granted").items


@kind("community.set_streak_share", SetStreakShare, roles=ROLE)
def apply_set_streak_share(state: StateWriter, ctx: Context, body: SetStreakShare) -> None:
    """Choose the clean share a day needs to count toward the sender's streak."""
    setting = StreakSetting(
        account=ctx.sender, share_permille=body.share_permille, height=ctx.height
    )
    state.put(keys.setting(ctx.sender), setting)
    ctx.emit("community.streak_share_set", account=ctx.sender, share_permille=body.share_permille)


@kind("community.opt_in", OptIn, roles=ROLE)
def apply_opt_in(state: StateWriter, ctx: Context, body: OptIn) -> None:
    """Rank the sender publicly under a pseudonym, from this block on."""
    folded = fold(body.pseudonym)
    holder = state.get(keys.pseudonym(folded))
    if holder is not None and holder.decode() != ctx.sender:
        raise PseudonymTaken(f"{body.pseudonym!r} is taken")
    if (
        registry.get_account(state, folded) is not None
        or registry.get_organisation(state, folded) is not None
    ):
        raise PseudonymIsId(f"{body.pseudonym!r} is an id on this ledger")
    org = registry.sender_org(state, ctx)
    was = get_consent(state, ctx.sender)
    if was is not None and was.pseudonym is not None:
        state.delete(keys.pseudonym(fold(was.pseudonym)))
    state.set(keys.pseudonym(folded), ctx.sender.encode())
    consent = Consent(
        account=ctx.sender, org=org, status="granted", pseudonym=body.pseudonym,
        granted_height=ctx.height, granted_s=ctx.time_s,
    )  # fmt: skip
    state.put(keys.consent(ctx.sender), consent)
    ctx.emit("community.opted_in", account=ctx.sender)


@kind("community.revoke", Revoke, roles=ROLE)
def apply_revoke(state: StateWriter, ctx: Context, body: Revoke) -> None:
    """Take the sender out of the public ranking, from this block on."""
    del body
    was = get_consent(state, ctx.sender)
    if was is None or was.status != "granted" or was.pseudonym is None:
        raise NotOptedIn(f"{ctx.sender} does not rank publicly")
    state.delete(keys.pseudonym(fold(was.pseudonym)))
    revoked = msgspec.structs.replace(
        was, status="revoked", pseudonym=None, revoked_height=ctx.height, revoked_s=ctx.time_s
    )
    state.put(keys.consent(ctx.sender), revoked)
    ctx.emit("community.revoked", account=ctx.sender)
