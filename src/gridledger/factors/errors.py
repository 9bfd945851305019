"""The factor library's refusals, each with a stable ``factors.*`` code.

None of them falls back to a factor of another gas, basis or boundary: a lookup that cannot be
answered as asked is refused, and the message says what the library holds instead.
"""

from __future__ import annotations

from gridledger.core.errors import GridLedgerError


class FactorError(GridLedgerError):
    """Root of the factor library's errors."""

    code = "factors.error"
    default_message = "the emission factor library cannot answer this"


class UnknownVersion(FactorError):
    code = "factors.unknown_version"
    default_message = "no library of this version is shipped; see factors.versions()"


class InvalidLibrary(FactorError):
    code = "factors.invalid_library"
    default_message = "the library data does not match its schema or its own rules"


class InvalidQuery(FactorError):
    code = "factors.invalid_query"
    default_message = (
        "the lookup names an unknown basis, gas or boundary "
        "(gas is CO2 or CO2e; boundary is combustion or life_cycle)"
    )


class UnknownGeography(FactorError):
    code = "factors.unknown_geography"
    default_message = (
        "the library has no factor for this geography and no region or country above it; "
        "use an ISO 3166-1 country code, CN-<province> (ISO 3166-2) or a CN regional grid id"
    )


class NoFactor(FactorError):
    code = "factors.no_factor"
    default_message = (
        "no factor matches this geography, year, basis, gas and boundary, "
        "nor any region or country above the geography"
    )


class UnknownFuel(FactorError):
    code = "factors.unknown_fuel"
    default_message = "the library has no default factor for this fuel and gas"


class UnknownGwpGas(FactorError):
    code = "factors.unknown_gwp_gas"
    default_message = "the library has no GWP100 value for this gas"
