"""Allowances: an emissions trading system in the manner of China's national ETS.

* :mod:`.keys`: every ``allowances/...`` state key, and nothing else builds them;
* :mod:`.records`: :class:`CompliancePeriod`, :class:`Allocation`, :class:`Compliance`,
  :class:`ComplianceStatus`;
* :mod:`.allocation`: ``allowances.open_period``, ``allowances.allocate`` (free, by
  benchmark, or an auction's result) and ``allowances.record_emissions`` (regulators), and
  ``allowances.transfer`` (holders);
* :mod:`.surrender`: ``allowances.surrender`` and ``allowances.surrender_credits`` (holders:
  allowances, and credits up to the period's quota, against verified emissions before the
  deadline, with the banking rule), and the compliance status queries;
* :mod:`.trading`: allowances locked in exchange sell orders, delivered or given back;
* :mod:`.errors`: the refusals, each with its ``allowances.*`` code.

Invariants (property-tested): for every period, the allowances allocated equal those held
plus those locked in exchange orders plus those surrendered; nothing is ever surrendered
beyond an obligation, nor credits beyond the quota.
"""

from gridledger.contracts.allowances import allocation, keys, surrender, trading
from gridledger.contracts.allowances.allocation import (
    DEFAULT_CREDIT_QUOTA_PPM,
    balance,
    get_compliance,
    get_period,
)
from gridledger.contracts.allowances.records import (
    Allocation,
    Compliance,
    CompliancePeriod,
    ComplianceStatus,
)
from gridledger.contracts.allowances.surrender import (
    balances,
    credit_limit,
    list_periods,
    status,
    statuses,
)

__all__ = [
    "DEFAULT_CREDIT_QUOTA_PPM",
    "Allocation",
    "Compliance",
    "CompliancePeriod",
    "ComplianceStatus",
    "allocation",
    "balance",
    "balances",
    "credit_limit",
    "get_compliance",
    "get_period",
    "keys",
    "list_periods",
    "status",
    "statuses",
    "surrender",
    "trading",
]
