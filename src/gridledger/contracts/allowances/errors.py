"""Allowances' refusals, each with a stable ``allowances.*`` code."""

from __future__ import annotations

from gridledger.core.errors import InvalidTransaction


class InvalidPeriod(InvalidTransaction):
    code = "allowances.invalid_period"
    default_message = "a compliance period starts before it ends, and its deadline is later"


class PeriodExists(InvalidTransaction):
    code = "allowances.period_exists"
    default_message = "a compliance period with this id was opened already"


class UnknownPeriod(InvalidTransaction):
    code = "allowances.unknown_period"
    default_message = "no compliance period has this id"


class InvalidAllocation(InvalidTransaction):
    code = "allowances.invalid_allocation"
    default_message = (
        "free and auction allocations give quantity_t (auctions their price too); "
        "benchmark allocations give activity and benchmark_g_per_unit"
    )


class DeadlinePassed(InvalidTransaction):
    code = "allowances.deadline_passed"
    default_message = "the period's surrender deadline has passed"


class Insufficient(InvalidTransaction):
    code = "allowances.insufficient"
    default_message = "the holder has fewer allowances of that vintage"


class BadQuantity(InvalidTransaction):
    code = "allowances.bad_quantity"
    default_message = "a quantity is a positive number of whole tonnes"


class PeriodOpen(InvalidTransaction):
    code = "allowances.period_open"
    default_message = "emissions are recorded once the period has ended"


class EmissionsRecorded(InvalidTransaction):
    code = "allowances.emissions_recorded"
    default_message = "the holder's verified emissions for the period were recorded already"


class InvalidEmissions(InvalidTransaction):
    code = "allowances.invalid_emissions"
    default_message = "verified emissions are a non-negative number of grams"


class NoVerifiedEmissions(InvalidTransaction):
    code = "allowances.no_verified_emissions"
    default_message = "the regulator has not recorded the holder's verified emissions yet"


class OverSurrender(InvalidTransaction):
    code = "allowances.over_surrender"
    default_message = "the surrender exceeds what the holder still owes for the period"


class BankingNotAllowed(InvalidTransaction):
    code = "allowances.banking_not_allowed"
    default_message = "allowances of that earlier period may not be used for later ones"


class Borrowing(InvalidTransaction):
    code = "allowances.borrowing"
    default_message = "allowances of a later period never cover an earlier one"


class CreditQuotaExceeded(InvalidTransaction):
    code = "allowances.credit_quota_exceeded"
    default_message = "credits would cover more of the obligation than the regulator's quota"


class IneligibleCredit(InvalidTransaction):
    code = "allowances.ineligible_credit"
    default_message = "credits from the holder's own organisation's projects are not eligible"
