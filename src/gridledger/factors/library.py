"""The versioned emission factor library: records, loading, and lookup with a disclosed fallback.

A library version is one JSON file, ``data/library-<version>.json``, shipped with the package
and never edited once released; corrections go into a new version. ``docs/factors.md`` lists
every source with its publisher, document number, date and address.

Every number in a library is an integer in a stated unit, so it can go on the chain as it is:

* electricity factors in grams of CO2 (or CO2e) per MWh: 0.5568 kgCO2/kWh is 556,800 gCO2/MWh;
* fuel defaults in grams of CO2 per GJ of net calorific value (the IPCC's kg/TJ, the same
  number), with the net calorific value in MJ per tonne (the IPCC's TJ/Gg times 1,000);
* GWP100 values in thousandths (29.8 is 29,800).

Each factor keeps the figure as its source printed it (``source_value`` in ``source_unit``);
the integer is that figure times a power of ten, rounded half to even once (:func:`to_units`).
:func:`check` verifies every conversion when a library is loaded.

Lookup (:func:`lookup`) matches geography, year, basis, gas and boundary exactly. When the
geography itself has no factor it climbs the geography map, province to regional grid to
country, and returns the path it took; it never changes the year, basis, gas or boundary, so a
CO2 request is never answered with CO2e or a life-cycle figure, nor the reverse.
"""

from __future__ import annotations

import functools
import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from importlib import resources
from typing import Annotated, Literal, get_args

import msgspec

from gridledger.core.encoding import INT_MAX
from gridledger.factors.errors import (
    InvalidLibrary,
    InvalidQuery,
    NoFactor,
    UnknownFuel,
    UnknownGeography,
    UnknownGwpGas,
    UnknownVersion,
)

Level = Literal["global", "national", "regional", "provincial", "country"]
Basis = Literal["grid_average", "fossil_only", "residual_mix", "ets_reporting", "fuel_default"]
Gas = Literal["CO2", "CO2e"]
Boundary = Literal["combustion", "life_cycle"]

Amount = Annotated[int, msgspec.Meta(ge=0, le=INT_MAX)]
Year = Annotated[int, msgspec.Meta(ge=1990, le=2100)]
Date = Annotated[str, msgspec.Meta(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")]
Version = Annotated[str, msgspec.Meta(pattern=r"^\d{4}\.\d+$")]
Text = Annotated[str, msgspec.Meta(min_length=1)]

GLOBAL = "GLOBAL"
"""The geography of a default that applies anywhere (an IPCC default); not an ISO code."""

ELECTRICITY_UNITS: dict[str, str] = {"CO2": "gCO2/MWh", "CO2e": "gCO2e/MWh"}
FUEL_UNITS: dict[str, str] = {"CO2": "gCO2/GJ", "CO2e": "gCO2e/GJ"}

SCALES: dict[tuple[str, str], int] = {
    ("kgCO2/kWh", "gCO2/MWh"): 10**6,
    ("tCO2/MWh", "gCO2/MWh"): 10**6,
    ("gCO2e/kWh", "gCO2e/MWh"): 10**3,
    ("kgCO2/TJ", "gCO2/GJ"): 1,
    ("TJ/Gg", "MJ/t"): 10**3,
}
"""The only conversions a library may use: (source unit, integer unit) -> multiplier."""

GWP_SCALE = 10**3
"""GWP100 values are stored in thousandths."""

_ISO_COUNTRY = re.compile(r"^[A-Z]{2}$")
_FILE = re.compile(r"^library-(\d{4}\.\d+)\.json$")
_PACKAGE = "gridledger.factors"


class Factor(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One emission factor, with its source.

    Attributes:
        id: unique within a library, ``<source>:<basis>:<geography>:<year>`` for electricity
            and ``<source>:fuel_default:<fuel>`` for fuels.
        label: the source's own name for the figure (in the source's language).
        geography: ``CN`` and other ISO 3166-1 alpha-2 codes; ``CN-GD`` style ISO 3166-2 codes
            for Chinese provinces; ``CN-NORTH`` style ids for China's regional grids (see
            ``docs/factors.md``); ``GLOBAL`` for a default that applies anywhere.
        level: ``national``, ``regional`` or ``provincial`` for a government's own figures,
            ``country`` for a per-country figure of an international dataset, ``global``.
        year: the year the factor describes: the data year of a grid average, the reporting
            year of an ETS factor, the year of the guidelines for a fuel default.
        basis: ``grid_average`` (all generation), ``fossil_only`` (fossil generation only),
            ``residual_mix`` (the grid average without contractually claimed generation),
            ``ets_reporting`` (the figure an emissions trading scheme prescribes for reports),
            ``fuel_default`` (per unit of fuel energy).
        gas: ``CO2`` (carbon dioxide only) or ``CO2e`` (several gases weighted by GWP).
        boundary: ``combustion`` (emitted where the fuel burns) or ``life_cycle`` (also the
            supply chain, construction and upstream methane).
        fuel: the fuel of a ``fuel_default``; ``None`` for electricity.
        value: the factor in ``unit``, an integer.
        unit: ``gCO2/MWh`` or ``gCO2e/MWh`` (electricity consumed), ``gCO2/GJ`` (fuel burnt,
            net calorific value).
        source_value: the figure as the source printed it, a decimal string.
        source_unit: the unit the source printed it in.
        ncv_mj_per_t: a fuel's default net calorific value in MJ per tonne, if the source
            gives one.
        ncv_source_value: that value as the source printed it, in TJ/Gg.
        publisher: who published the figure.
        document: the document number or, for a dataset, its release and file.
        title: the document's title.
        published: the date of the document (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``).
        url: where the document is, if known.
        note: anything a user of the figure must know.
    """

    id: Text
    label: Text
    geography: Text
    level: Level
    year: Year
    basis: Basis
    gas: Gas
    boundary: Boundary
    fuel: str | None = None
    value: Amount
    unit: Text
    source_value: Text
    source_unit: Text
    ncv_mj_per_t: Amount | None = None
    ncv_source_value: str | None = None
    publisher: Text
    document: Text
    title: Text
    published: Date
    url: str | None = None
    note: str = ""


class GwpValue(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A 100-year global warming potential.

    Attributes:
        gas: the gas, e.g. ``CO2``, ``CH4-fossil``, ``CH4-non-fossil``, ``N2O``, ``SF6``.
        value_milli: GWP100 in thousandths (kg CO2e per kg of the gas, times 1,000).
        source_value: the GWP100 as the source printed it.
        horizon_years: the time horizon, always 100 here.
        publisher, document, title, published, url: the source, as for :class:`Factor`.
        note: anything a user of the value must know.
    """

    gas: Text
    value_milli: Amount
    source_value: Text
    horizon_years: Literal[100] = 100
    publisher: Text
    document: Text
    title: Text
    published: Date
    url: str | None = None
    note: str = ""


class Geography(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A node of the geography map that lookups climb.

    Attributes:
        code: ``CN``, ``CN-NORTH`` (a regional grid) or ``CN-GD`` (a province, ISO 3166-2).
        level: ``national``, ``regional`` or ``provincial``.
        name: the English name.
        name_zh: the Chinese name.
        parent: the next geography up (the regional grid of a province, the country of a
            regional grid), ``None`` at the top.
        note: why a node skips a level, where it does.
    """

    code: Text
    level: Level
    name: Text
    name_zh: Text
    parent: str | None
    note: str = ""


class Library(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One released version of the library.

    Attributes:
        version: ``YYYY.N``, the year of release and a sequence number.
        published: the date of release.
        geographies: the map lookups climb: province -> regional grid -> country.
        factors: every factor of this version.
        gwp: GWP100 values for turning other gases into CO2e.
    """

    version: Version
    published: Date
    geographies: tuple[Geography, ...]
    factors: tuple[Factor, ...]
    gwp: tuple[GwpValue, ...]


class Match(msgspec.Struct, frozen=True, kw_only=True):
    """What a lookup found, and how.

    Attributes:
        factor: the factor that answered.
        requested: the geography that was asked for.
        path: every geography tried, in order; the last one answered.
        level: the level of the geography that answered.
    """

    factor: Factor
    requested: str
    path: tuple[str, ...]
    level: Level

    @property
    def fell_back(self) -> bool:
        """Whether the factor is not the requested geography's own."""
        return len(self.path) > 1

    def disclosure(self) -> str:
        """The sentence a report that used this factor prints (fallback or not)."""
        f = self.factor
        what = f"{self.requested} {f.year} {f.basis} {f.gas} ({f.boundary})"
        source = f"{f.publisher}, {f.document}"
        if not self.fell_back:
            return f"{what}: factor of {f.geography} ({self.level}), {source}."
        missing = ", ".join(self.path[:-1])
        return (
            f"{what}: no factor for {missing}; fell back along {' -> '.join(self.path)} "
            f"to {f.geography} ({self.level}), {source}."
        )


def to_units(source_value: str, scale: int) -> int:
    """``source_value`` (a decimal string) times ``scale``, rounded half to even, once."""
    try:
        exact = Decimal(source_value) * scale
    except InvalidOperation:
        raise InvalidLibrary(f"{source_value!r} is not a decimal number") from None
    return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


def round_half_even_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` for non-negative integers, rounded half to even."""
    if numerator < 0 or denominator <= 0:
        raise ValueError("round_half_even_div takes a non-negative numerator and positive divisor")
    quotient, remainder = divmod(numerator, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def electricity_emissions_g(factor: Factor, energy_wh: int) -> int:
    """Grams of ``factor.gas`` for ``energy_wh`` of electricity, rounded half to even once.

    The factor is per MWh, so this is ``value * energy_wh / 1,000,000``; it refuses a fuel
    factor, whose unit is per GJ of fuel.
    """
    if factor.unit != ELECTRICITY_UNITS[factor.gas]:
        raise InvalidQuery(f"{factor.id} is per {factor.unit}, not per MWh of electricity")
    if energy_wh < 0:
        raise InvalidQuery("energy_wh is not negative")
    return round_half_even_div(factor.value * energy_wh, 10**6)


_decoder = msgspec.json.Decoder(Library)


def decode(raw: bytes) -> Library:
    """A library from its JSON bytes, strictly: no unknown field, no float where an integer is."""
    try:
        return _decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidLibrary(f"not a factor library: {exc}") from None


def check(library: Library) -> None:
    """Raise :class:`InvalidLibrary` naming the first entry that breaks the library's rules.

    The rules: ids are unique; no two factors answer the same lookup; a factor's unit is the
    one of its basis and gas, and its integer is its source figure converted by :data:`SCALES`;
    Chinese and global geographies are on the map at the factor's level, countries are ISO
    3166-1 alpha-2; the map has no cycle; GWP gases are unique and convert like factors.
    """
    nodes = {g.code: g for g in library.geographies}
    if len(nodes) != len(library.geographies):
        raise InvalidLibrary("a geography is listed twice")
    for node in library.geographies:
        seen = {node.code}
        parent = node.parent
        while parent is not None:
            if parent not in nodes:
                raise InvalidLibrary(f"{node.code}'s parent {parent} is not on the map")
            if parent in seen:
                raise InvalidLibrary(f"the map has a cycle through {parent}")
            seen.add(parent)
            parent = nodes[parent].parent

    ids: set[str] = set()
    keys: set[tuple[str, int, str, str, str, str | None]] = set()
    for f in library.factors:
        if f.id in ids:
            raise InvalidLibrary(f"factor id {f.id} is used twice")
        ids.add(f.id)
        key = (f.geography, f.year, f.basis, f.gas, f.boundary, f.fuel)
        if key in keys:
            raise InvalidLibrary(f"{f.id} answers the same lookup as another factor")
        keys.add(key)
        _check_factor(f, nodes)

    gases = [g.gas for g in library.gwp]
    if len(gases) != len(set(gases)):
        raise InvalidLibrary("a GWP gas is listed twice")
    for g in library.gwp:
        if to_units(g.source_value, GWP_SCALE) != g.value_milli:
            raise InvalidLibrary(f"GWP of {g.gas}: {g.source_value} is not {g.value_milli}/1000")


def _check_factor(f: Factor, nodes: dict[str, Geography]) -> None:
    fuel = f.basis == "fuel_default"
    if fuel != (f.fuel is not None):
        raise InvalidLibrary(f"{f.id}: a fuel is named exactly when the basis is fuel_default")
    expected_unit = (FUEL_UNITS if fuel else ELECTRICITY_UNITS)[f.gas]
    if f.unit != expected_unit:
        raise InvalidLibrary(f"{f.id}: a {f.basis} {f.gas} factor is in {expected_unit}")
    scale = SCALES.get((f.source_unit, f.unit))
    if scale is None:
        raise InvalidLibrary(f"{f.id}: no conversion from {f.source_unit} to {f.unit}")
    if to_units(f.source_value, scale) != f.value:
        raise InvalidLibrary(f"{f.id}: {f.source_value} {f.source_unit} is not {f.value} {f.unit}")
    if (f.ncv_mj_per_t is None) != (f.ncv_source_value is None):
        raise InvalidLibrary(f"{f.id}: a net calorific value needs both forms")
    if f.ncv_source_value is not None:
        if not fuel:
            raise InvalidLibrary(f"{f.id}: only a fuel default has a net calorific value")
        if to_units(f.ncv_source_value, SCALES[("TJ/Gg", "MJ/t")]) != f.ncv_mj_per_t:
            raise InvalidLibrary(f"{f.id}: {f.ncv_source_value} TJ/Gg is not {f.ncv_mj_per_t} MJ/t")
    if f.level == "country":
        if not _ISO_COUNTRY.match(f.geography):
            raise InvalidLibrary(f"{f.id}: {f.geography} is not an ISO 3166-1 alpha-2 code")
    elif f.level == "global":
        if f.geography != GLOBAL:
            raise InvalidLibrary(f"{f.id}: a global factor's geography is {GLOBAL}")
    else:
        node = nodes.get(f.geography)
        if node is None or node.level != f.level:
            raise InvalidLibrary(f"{f.id}: {f.geography} is not a {f.level} geography of the map")


def versions() -> list[str]:
    """The library versions shipped with this package, oldest first."""
    found = []
    for entry in (resources.files(_PACKAGE) / "data").iterdir():
        m = _FILE.match(entry.name)
        if m:
            found.append(m.group(1))
    return sorted(found, key=lambda v: tuple(int(part) for part in v.split(".")))


def load(version: str | None = None) -> Library:
    """The library of ``version`` (the latest shipped if ``None``), decoded and checked.

    Each version is read once per process; later calls return the same object.

    Raises:
        UnknownVersion: no such version is shipped.
        InvalidLibrary: its file breaks the schema or :func:`check`.
    """
    available = versions()
    if not available:
        raise UnknownVersion("no factor library is shipped with this package")
    chosen = available[-1] if version is None else version
    if chosen not in available:
        raise UnknownVersion(f"no library {chosen}; shipped: {', '.join(available)}")
    return _load(chosen)


@functools.cache
def _load(version: str) -> Library:
    path = resources.files(_PACKAGE) / "data" / f"library-{version}.json"
    library = decode(path.read_bytes())
    if library.version != version:
        raise InvalidLibrary(f"library-{version}.json says it is version {library.version}")
    check(library)
    return library


def fallback_path(library: Library, geography: str) -> tuple[str, ...]:
    """``geography`` and every geography above it on the map, in the order lookups try them."""
    nodes = {g.code: g for g in library.geographies}
    path = [geography]
    parent = nodes[geography].parent if geography in nodes else None
    while parent is not None:
        path.append(parent)
        parent = nodes[parent].parent
    return tuple(path)


def lookup(
    library: Library,
    geography: str,
    year: int,
    basis: Basis = "grid_average",
    *,
    gas: Gas,
    boundary: Boundary = "combustion",
) -> Match:
    """The factor for ``geography`` and ``year``, falling back up the map if it has none.

    The path is province -> regional grid -> country (``CN-GD`` -> ``CN-SOUTH`` -> ``CN``);
    the first geography with a factor of exactly this year, basis, gas and boundary answers,
    and the returned :class:`Match` records the path. Nothing else is relaxed: there is no
    fallback to another year, basis, gas or boundary.

    Raises:
        InvalidQuery: ``basis``, ``gas`` or ``boundary`` is not one the library knows, or the
            basis is ``fuel_default`` (see :func:`fuel_default`).
        UnknownGeography: the geography is neither on the map nor the geography of a factor.
        NoFactor: nothing on the path matches; the message lists what the path does hold.
    """
    _check_query(basis, gas, boundary)
    if basis == "fuel_default":
        raise InvalidQuery("fuel defaults are looked up by fuel: use fuel_default()")
    path = fallback_path(library, geography)
    known = {g.code for g in library.geographies} | {f.geography for f in library.factors}
    if geography not in known:
        raise UnknownGeography(f"the library has no geography {geography!r}")
    wanted = (year, basis, gas, boundary)
    for depth, code in enumerate(path, start=1):
        for f in library.factors:
            if (
                f.fuel is None
                and f.geography == code
                and (f.year, f.basis, f.gas, f.boundary) == wanted
            ):
                return Match(factor=f, requested=geography, path=path[:depth], level=f.level)
    held = sorted(
        {
            f"{f.geography} {f.year} {f.basis} {f.gas} {f.boundary}"
            for f in library.factors
            if f.geography in path and f.fuel is None
        }
    )
    raise NoFactor(
        f"no {year} {basis} {gas} ({boundary}) factor for {' -> '.join(path)}; "
        f"the path holds: {'; '.join(held) if held else 'nothing'}"
    )


def fuel_default(library: Library, fuel: str, *, gas: Gas) -> Factor:
    """The default factor for burning ``fuel``, of exactly this gas (see ``docs/factors.md``)."""
    _check_query("fuel_default", gas, "combustion")
    for f in library.factors:
        if f.basis == "fuel_default" and f.fuel == fuel and f.gas == gas:
            return f
    fuels = sorted({f.fuel for f in library.factors if f.fuel is not None and f.gas == gas})
    have = ", ".join(fuels) if fuels else "none"
    raise UnknownFuel(f"no {gas} default for fuel {fuel!r}; {gas} defaults in this library: {have}")


def gwp100(library: Library, gas: str) -> GwpValue:
    """The GWP100 of ``gas`` (``CH4-fossil`` and ``CH4-non-fossil`` are separate gases)."""
    for g in library.gwp:
        if g.gas == gas:
            return g
    names = ", ".join(g.gas for g in library.gwp)
    raise UnknownGwpGas(f"no GWP100 for {gas!r}; the library has: {names}")


def _check_query(basis: str, gas: str, boundary: str) -> None:
    if basis not in get_args(Basis):
        raise InvalidQuery(f"unknown basis {basis!r}; one of {', '.join(get_args(Basis))}")
    if gas not in get_args(Gas):
        raise InvalidQuery(f"unknown gas {gas!r}; CO2 or CO2e, never converted into each other")
    if boundary not in get_args(Boundary):
        raise InvalidQuery(f"unknown boundary {boundary!r}; combustion or life_cycle")
