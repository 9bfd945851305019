"""Carbon's stored records.

Units: emission factors of electricity in grams per MWh (``g_per_mwh``: 0.5568 kgCO2/kWh is
556,800 gCO2/MWh), of fuels in grams per the fuel's activity unit (``g_per_unit``), emissions
in grams (``_g``), energy in Wh, times in Unix seconds UTC. Every factor names its gas (CO2 or
CO2e, never mixed) and its boundary (combustion or life cycle), and its source.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from gridledger.contracts.base import Record

Gas = Literal["CO2", "CO2e"]
Boundary = Literal["combustion", "life_cycle"]
ActivityStatus = Literal["reported", "confirmed", "rejected"]


class Source(Record):
    """Where a factor comes from.

    Attributes:
        factor_id: Its id in the shipped factor library (``gridledger.factors``).
        publisher: Who published it (e.g. 生态环境部 / Ministry of Ecology and Environment).
        document: The document's number or title.
        year: The data year.
        geography: The geography the publisher gave it for (``CN``, ``CN-GD``, ``CN-SOUTH``).
    """

    factor_id: str
    publisher: str
    document: str
    year: int
    geography: str


class ElectricityFactor(Record):
    """An electricity emission factor of a factor set.

    Attributes:
        g_per_mwh: Grams of the gas per MWh.
        gas: CO2 or CO2e.
        boundary: combustion (scope 2) or life_cycle.
        source: Where it comes from.
    """

    g_per_mwh: int
    gas: Gas
    boundary: Boundary
    source: Source


class FuelFactor(Record):
    """A scope 1 emission factor of a fuel.

    Attributes:
        fuel: The fuel's name in the library (e.g. natural_gas, diesel).
        unit: The activity unit its quantities come in (e.g. GJ, t, 10^4 Nm3, L).
        g_per_unit: Grams of the gas per unit.
        gas: CO2 or CO2e.
        source: Where it comes from.
    """

    fuel: str
    unit: str
    g_per_unit: int
    gas: Gas
    source: Source


class FactorSet(Record, omit_defaults=True):
    """The factors a regulator put in force for a region and period
    (``carbon/factor_set/<region>/<start>``).

    Attributes:
        id: The set's id (unique).
        region: Where it applies: a country (``CN``), a regional grid (``CN-SOUTH``) or a
            province (``CN-GD``), as sites' and devices' ``grid_region``.
        start_s: First second in force (the first of a month, 00:00 UTC).
        end_s: First second no longer in force (the first of a later month).
        library_version: The version of the shipped factor library its values come from.
        gas: The gas every factor of the set (electricity and fuels) is in.
        grid_average: The location-based grid factor.
        residual_mix: The residual-mix factor for consumption no certificate covers (left out
            when the region has none: the grid average stands in, and reports say so).
        fuels: Scope 1 fuel factors, by fuel.
        recorded_by: The regulator account that recorded it.
        height: The block that recorded it.
    """

    id: str
    region: str
    start_s: int
    end_s: int
    library_version: str
    gas: Gas
    grid_average: ElectricityFactor
    fuels: list[FuelFactor]
    recorded_by: str
    height: int
    residual_mix: ElectricityFactor | None = None

    def fuel(self, name: str) -> FuelFactor | None:
        for f in self.fuels:
            if f.fuel == name:
                return f
        return None


class RegionMap(Record):
    """Which regional grid each province belongs to (``carbon/regions``): the factor lookup
    goes province → regional grid → country (the first two letters).

    Attributes:
        provinces: Regional grid by province, e.g. ``{"CN-GD": "CN-SOUTH"}``.
        height: The block that recorded it.
    """

    provinces: dict[str, str]
    height: int


class Activity(Record, omit_defaults=True):
    """Scope 1 activity data an organisation reported (``carbon/activity/<org>/<id>``).

    Attributes:
        id: The report's id within the organisation.
        org: The reporting organisation.
        site: The site (facility) the fuel was burnt at; its grid region picks the factors.
        month: The month, YYYY-MM.
        fuel: The fuel.
        quantity: How much, in ``unit``.
        unit: The fuel factor's activity unit (checked).
        emissions_g: ``quantity * g_per_unit`` of the factor in force, grams of ``gas``.
        gas: The factor's gas.
        factor_set: The factor set used.
        factor_path: The regions looked up until one had a set (the fallback, disclosed).
        reported_by: The account that reported it.
        height: The block that recorded it.
        status: reported, confirmed (by a carbon verifier) or rejected.
        verifier: The carbon verifier account that confirmed or rejected it.
        verifier_note: The verifier's reason for a rejection.
        verified_height: The block that confirmed or rejected it.
    """

    id: str
    org: str
    site: str
    month: str
    fuel: str
    quantity: int
    unit: str
    emissions_g: int
    gas: str
    factor_set: str
    factor_path: list[str]
    reported_by: str
    height: int
    status: ActivityStatus = "reported"
    verifier: str | None = None
    verifier_note: str | None = None
    verified_height: int | None = None


class FactorLookup(Record):
    """A factor set found for a region and time, with the path the lookup took.

    Attributes:
        set: The factor set.
        path: The regions tried, in order, the last being the one that answered.
        fallback: Whether the answer came from a region other than the one asked for.
    """

    set: FactorSet
    path: list[str]
    fallback: bool = msgspec.field(default=False)
