"""Allowances' stored records.

Units: allowances and obligations in whole tonnes (``_t``; one allowance is one tonne),
emissions in grams (``_g``), shares in parts per million (``_ppm``), money in the chain
currency's minor unit (``_fen``), times in Unix seconds UTC.
"""

from __future__ import annotations

from typing import Literal

from gridledger.contracts.base import Record

Method = Literal["free", "benchmark", "auction"]
Status = Literal["no_emissions", "open", "compliant", "non_compliant"]


class CompliancePeriod(Record):
    """A compliance period a regulator opened (``allowances/period/<id>``): its allowances
    are this period's vintage.

    Attributes:
        id: The period's id (e.g. ``cn-ets-2025``).
        start_s: First second of the emissions it covers.
        end_s: First second after them.
        deadline_s: Surrenders are accepted until this second (excluded), block time.
        credit_quota_ppm: The most of a holder's obligation that credits may cover, parts
            per million (50,000 is 5 %), rounded down to whole tonnes.
        banking: Whether its allowances may be surrendered for later periods.
        opened_by: The regulator account that opened it.
        height: The block that opened it.
        allocated_t: Allowances of this vintage allocated so far.
        surrendered_t: Allowances of this vintage surrendered (for it or a later period).
        allocations: How many allocations were recorded.
    """

    id: str
    start_s: int
    end_s: int
    deadline_s: int
    credit_quota_ppm: int
    banking: bool
    opened_by: str
    height: int
    allocated_t: int = 0
    surrendered_t: int = 0
    allocations: int = 0


class Allocation(Record, omit_defaults=True):
    """Allowances allocated to a holder (``allowances/allocation/<period>/<n>``).

    Attributes:
        n: Its number within the period.
        period: The compliance period (the allowances' vintage).
        to: The account that received them.
        method: free, benchmark (activity x benchmark) or auction (a result recorded).
        quantity_t: Allowances allocated.
        activity: The benchmark's activity (output in the benchmark's unit, e.g. MWh).
        benchmark_g_per_unit: The benchmark, grams per unit of activity.
        price_fen_per_t: The auction's clearing price.
        height: The block that recorded it.
    """

    n: int
    period: str
    to: str
    method: Method
    quantity_t: int
    height: int
    activity: int | None = None
    benchmark_g_per_unit: int | None = None
    price_fen_per_t: int | None = None


class Compliance(Record, omit_defaults=True):
    """A holder's compliance for a period (``allowances/compliance/<period>/<account>``).

    Attributes:
        period: The compliance period.
        holder: The account (the compliance entity).
        emissions_g: Its verified emissions, as the regulator recorded them.
        obligation_t: ``ceil(emissions_g / 1,000,000)``: allowances to surrender.
        allowances_t: Allowances surrendered for the period (any eligible vintage).
        credits_t: Credits surrendered (retired) for the period.
        retirements: The credit retirements it surrendered, by number.
        recorded_by: The regulator account that recorded the emissions.
        height: The block that recorded them.
    """

    period: str
    holder: str
    emissions_g: int
    obligation_t: int
    recorded_by: str
    height: int
    allowances_t: int = 0
    credits_t: int = 0
    retirements: list[int] = []


class ComplianceStatus(Record):
    """Where a holder stands for a period, at a block time.

    Attributes:
        period: The compliance period.
        holder: The account.
        status: no_emissions (none recorded yet), open (short, before the deadline),
            compliant (obligation covered) or non_compliant (short after the deadline).
        emissions_g: Verified emissions (0 when none were recorded).
        obligation_t: Allowances owed.
        allowances_t: Allowances surrendered.
        credits_t: Credits surrendered.
        credit_limit_t: The most credits may cover.
        shortfall_t: What is still owed.
        deadline_s: The surrender deadline.
        balance_t: Allowances of the period's vintage the holder still holds.
    """

    period: str
    holder: str
    status: Status
    emissions_g: int
    obligation_t: int
    allowances_t: int
    credits_t: int
    credit_limit_t: int
    shortfall_t: int
    deadline_s: int
    balance_t: int
