"""Every state key of the market. Nothing else builds them: other code calls these.

* ``market/params``: the operator's :class:`~.records.Params`;
* ``market/rules_version``: the version of the market's rules the chain started with (from its
  genesis ``market_rules``), decimal; absent means 1;
* ``market/tariffs``: the grid operator's :class:`~.records.Tariffs`;
* ``market/seq``: the last order number, decimal;
* ``market/order/<start>/<seq>``: an :class:`~.records.Order`;
* ``market/interval/<start>``: an :class:`~.records.Interval`;
* ``market/pairing/<start>/<n>``: a :class:`~.records.Pairing`, ``n`` counting from 0 in
  clearing order;
* ``market/preference/<account>/<site>``: a consumer's :class:`~.records.Preference`;
* ``market/standing_offer/<device>``: a producer's :class:`~.records.StandingOffer`;
* ``market/grid/<start>/<direction>/<asset>``: a :class:`~.records.GridSettlement`,
  ``direction`` ``import`` (a site's) or ``export`` (a device's): a site and a device may share
  an id;
* ``market/arrears/<debtor>/<creditor>``: fen owed after a settlement, decimal;
* ``market/carry/<direction>/<asset>``: what a site's or device's grid bills left below one
  fen, in thousandths of a fen (0-999), decimal; absent means 0.

``<start>`` is an interval start in Unix seconds (UTC) zero-padded to 10 digits, ``<seq>`` 12
digits and ``<n>`` 8, so keys sort in time and clearing order and a window of intervals is one
range of keys. Ids never contain ``/``, so a prefix ending in ``/`` holds exactly one id's keys.
"""

from __future__ import annotations

from typing import Literal

Direction = Literal["import", "export"]
"""A grid settlement's direction: a site's import or a device's export."""


def all_market() -> bytes:
    """Prefix of every market key."""
    return b"market/"


def start_part(start_s: int) -> bytes:
    """The key part of an interval start."""
    return b"%010d" % start_s


def window(start_s: int, end_s: int | None) -> tuple[bytes, bytes | None]:
    """The key part range of the interval starts ``start_s <= start < end_s`` (``None``: no
    end), for a range scan under :func:`intervals`."""
    return start_part(max(start_s, 0)), None if end_s is None else start_part(max(end_s, 0))


def params() -> bytes:
    return b"market/params"


def tariffs() -> bytes:
    return b"market/tariffs"


def seq() -> bytes:
    """The last order number given."""
    return b"market/seq"


def orders(start_s: int) -> bytes:
    """Prefix of one interval's orders."""
    return b"market/order/" + start_part(start_s) + b"/"


def order(start_s: int, seq_: int) -> bytes:
    return orders(start_s) + b"%012d" % seq_


def intervals() -> bytes:
    """Prefix of every interval record."""
    return b"market/interval/"


def interval(start_s: int) -> bytes:
    return intervals() + start_part(start_s)


def all_pairings() -> bytes:
    """Prefix of every pairing."""
    return b"market/pairing/"


def pairings(start_s: int) -> bytes:
    """Prefix of one interval's pairings."""
    return all_pairings() + start_part(start_s) + b"/"


def pairing_number(n: int) -> bytes:
    """The key part of pairing number ``n`` (under :func:`pairings`)."""
    return b"%08d" % n


def pairing(start_s: int, n: int) -> bytes:
    return pairings(start_s) + pairing_number(n)


_PAIRING_START = slice(len(all_pairings()), len(all_pairings()) + len(start_part(0)))
_PAIRING_NUMBER = slice(-len(pairing_number(0)), None)


def parse_pairing(key: bytes) -> tuple[int, int]:
    """The interval start and number of a pairing's key (the inverse of :func:`pairing`; both
    parts have fixed widths)."""
    return int(key[_PAIRING_START]), int(key[_PAIRING_NUMBER])


def preferences() -> bytes:
    """Prefix of every consumer's standing choices."""
    return b"market/preference/"


def preferences_of(account: str) -> bytes:
    """Prefix of one account's standing choices."""
    return preferences() + account.encode() + b"/"


def preference(account: str, site: str) -> bytes:
    return preferences_of(account) + site.encode()


def standing_offers() -> bytes:
    """Prefix of every standing offer."""
    return b"market/standing_offer/"


def standing_offer(device: str) -> bytes:
    return standing_offers() + device.encode()


def all_grid_settlements() -> bytes:
    """Prefix of every grid settlement."""
    return b"market/grid/"


def grid_settlements(start_s: int) -> bytes:
    """Prefix of one interval's grid settlements."""
    return all_grid_settlements() + start_part(start_s) + b"/"


def grid_settlement(start_s: int, direction: Direction, asset: str) -> bytes:
    return grid_settlements(start_s) + direction.encode() + b"/" + asset.encode()


def rules_version() -> bytes:
    return b"market/rules_version"


def grid_carry(direction: Direction, asset: str) -> bytes:
    return b"market/carry/" + direction.encode() + b"/" + asset.encode()


def arrears_of(debtor: str) -> bytes:
    """Prefix of what one account owes, per creditor."""
    return b"market/arrears/" + debtor.encode() + b"/"


def arrears(debtor: str, creditor: str) -> bytes:
    return arrears_of(debtor) + creditor.encode()
