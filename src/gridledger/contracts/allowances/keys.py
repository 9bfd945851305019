"""Every state key of allowances. Nothing else builds them: other code calls these.

* ``allowances/period/<id>``: a :class:`~.records.CompliancePeriod`;
* ``allowances/balance/<period>/<account>``: the account's allowances of that period (its
  vintage), whole tonnes, a bare integer;
* ``allowances/locked/<period>/<account>``: the account's allowances of that vintage offered
  in open exchange sell orders, whole tonnes, a bare integer (apart from its balance, so
  they can be neither transferred nor surrendered);
* ``allowances/allocation/<period>/<n>``: the period's ``n``-th :class:`~.records.Allocation`
  (8 digits);
* ``allowances/compliance/<period>/<account>``: the account's
  :class:`~.records.Compliance` for the period: verified emissions and what it surrendered.
"""

from __future__ import annotations


def period(period_id: str) -> bytes:
    return periods() + period_id.encode()


def periods() -> bytes:
    """Prefix of every compliance period, in id order."""
    return b"allowances/period/"


def balance(period_id: str, account: str) -> bytes:
    return balances_of(period_id) + account.encode()


def balances_of(period_id: str) -> bytes:
    """Prefix of every balance of one period's allowances, by account."""
    return b"allowances/balance/" + period_id.encode() + b"/"


def allocation(period_id: str, n: int) -> bytes:
    return allocations_of(period_id) + b"%08d" % n


def allocations_of(period_id: str) -> bytes:
    return b"allowances/allocation/" + period_id.encode() + b"/"


def compliance(period_id: str, account: str) -> bytes:
    return compliance_of(period_id) + account.encode()


def compliance_of(period_id: str) -> bytes:
    """Prefix of every holder's compliance record of one period, by account."""
    return b"allowances/compliance/" + period_id.encode() + b"/"


def locked(period_id: str, account: str) -> bytes:
    return locked_of(period_id) + account.encode()


def locked_of(period_id: str) -> bytes:
    """Prefix of every holder's locked allowances of one period, by account."""
    return b"allowances/locked/" + period_id.encode() + b"/"
