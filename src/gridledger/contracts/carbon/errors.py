"""Carbon's refusals, each with a stable ``carbon.*`` code."""

from __future__ import annotations

from gridledger.core.errors import InvalidTransaction


class InvalidFactorSet(InvalidTransaction):
    code = "carbon.invalid_factor_set"
    default_message = "a factor set's fields are out of range"


class BadPeriod(InvalidTransaction):
    code = "carbon.bad_period"
    default_message = "a period starts and ends on the first of a month (UTC), start before end"


class GasMismatch(InvalidTransaction):
    code = "carbon.gas_mismatch"
    default_message = "every factor of a set is in the set's gas (CO2 or CO2e)"


class BoundaryMismatch(InvalidTransaction):
    code = "carbon.boundary_mismatch"
    default_message = "scope 2 factors are combustion factors; life-cycle figures are refused"


class FactorOverlap(InvalidTransaction):
    code = "carbon.factor_overlap"
    default_message = "another factor set is in force for the same region in that period"


class FactorSetExists(InvalidTransaction):
    code = "carbon.factor_set_exists"
    default_message = "a factor set with this id was recorded already"


class NoFactor(InvalidTransaction):
    code = "carbon.no_factor"
    default_message = "no factor set is in force for the region (nor its fallbacks) at that time"


class UnknownFuel(InvalidTransaction):
    code = "carbon.unknown_fuel"
    default_message = "the factor set in force has no factor for this fuel"


class WrongUnit(InvalidTransaction):
    code = "carbon.wrong_unit"
    default_message = "the quantity's unit is not the fuel factor's activity unit"


class InvalidActivity(InvalidTransaction):
    code = "carbon.invalid_activity"
    default_message = "activity data is a positive integer quantity with its unit, for a month"


class ActivityExists(InvalidTransaction):
    code = "carbon.activity_exists"
    default_message = "the organisation reported activity data with this id already"


class UnknownActivity(InvalidTransaction):
    code = "carbon.unknown_activity"
    default_message = "no such activity data"


class AlreadyVerified(InvalidTransaction):
    code = "carbon.already_verified"
    default_message = "the activity data was confirmed or rejected already"


class SelfVerification(InvalidTransaction):
    code = "carbon.self_verification"
    default_message = "a carbon verifier does not verify its own organisation's data"


class UnknownSite(InvalidTransaction):
    code = "carbon.unknown_site"
    default_message = "no registered site has this id"


class ForeignSite(InvalidTransaction):
    code = "carbon.foreign_site"
    default_message = "the site belongs to another organisation"


class InvalidRegionMap(InvalidTransaction):
    code = "carbon.invalid_region_map"
    default_message = "a region map maps provinces (CC-XX) to regional grids of the same country"
