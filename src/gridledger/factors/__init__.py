"""Emission factors: a versioned library of published figures for carbon accounting.

For the GHG Protocol Corporate Standard and its Scope 2 Guidance: grid electricity factors
(China's official national, regional and provincial factors, its ETS reporting factor, and
per-country figures), IPCC default factors for fuels burnt (scope 1) and IPCC AR6 GWP100
values. Every factor names its publisher, document, year, geography, basis, gas, boundary and
unit, and is an integer; see ``docs/factors.md``.

* :mod:`.library`: the records (:class:`Factor`, :class:`GwpValue`, :class:`Library`),
  :func:`load`, and :func:`lookup` with its disclosed province -> region -> country fallback;
* :mod:`.errors`: the refusals, each with its ``factors.*`` code;
* ``data/library-<version>.json``: one file per released version, never edited after release.

Pure: nothing here reads anything but the packaged data.
"""

from gridledger.factors.errors import (
    FactorError,
    InvalidLibrary,
    InvalidQuery,
    NoFactor,
    UnknownFuel,
    UnknownGeography,
    UnknownGwpGas,
    UnknownVersion,
)
from gridledger.factors.library import (
    GLOBAL,
    Basis,
    Boundary,
    Factor,
    Gas,
    Geography,
    GwpValue,
    Level,
    Library,
    Match,
    check,
    decode,
    electricity_emissions_g,
    fallback_path,
    fuel_default,
    gwp100,
    load,
    lookup,
    round_half_even_div,
    to_units,
    versions,
)

__all__ = [
    "GLOBAL",
    "Basis",
    "Boundary",
    "Factor",
    "FactorError",
    "Gas",
    "Geography",
    "GwpValue",
    "InvalidLibrary",
    "InvalidQuery",
    "Level",
    "Library",
    "Match",
    "NoFactor",
    "UnknownFuel",
    "UnknownGeography",
    "UnknownGwpGas",
    "UnknownVersion",
    "check",
    "decode",
    "electricity_emissions_g",
    "fallback_path",
    "fuel_default",
    "gwp100",
    "load",
    "lookup",
    "round_half_even_div",
    "to_units",
    "versions",
]
