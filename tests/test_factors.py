"""The emission factor library: its published figures, its sources, and lookups that never mix.

The lookups are checked against a brute-force reference that rebuilds the fallback path from
the map by hand, for every geography, year, basis, gas and boundary the library knows.
"""

from __future__ import annotations

import fnmatch
import json
import tomllib
from decimal import Decimal
from importlib import resources
from itertools import product
from pathlib import Path
from typing import Any, get_args

import msgspec
import pytest

from gridledger.factors import (
    GLOBAL,
    Basis,
    Boundary,
    Factor,
    FactorError,
    Gas,
    InvalidLibrary,
    InvalidQuery,
    Library,
    NoFactor,
    UnknownFuel,
    UnknownGeography,
    UnknownGwpGas,
    UnknownVersion,
    check,
    decode,
    electricity_emissions_g,
    fuel_default,
    gwp100,
    load,
    lookup,
    round_half_even_div,
    to_units,
    versions,
)

ROOT = Path(__file__).resolve().parents[1]
SCALES = {
    ("kgCO2/kWh", "gCO2/MWh"): 10**6,
    ("tCO2/MWh", "gCO2/MWh"): 10**6,
    ("gCO2e/kWh", "gCO2e/MWh"): 10**3,
    ("kgCO2/TJ", "gCO2/GJ"): 1,
}
ELECTRICITY_BASES = [b for b in get_args(Basis) if b != "fuel_default"]


@pytest.fixture(scope="module")
def lib() -> Library:
    return load()


def _data_file(version: str) -> bytes:
    return (resources.files("gridledger.factors") / "data" / f"library-{version}.json").read_bytes()


def _factor(lib: Library, factor_id: str) -> Factor:
    (found,) = [f for f in lib.factors if f.id == factor_id]
    return found


# ---------------------------------------------------------------- the published figures
@pytest.mark.parametrize(
    ("year", "printed", "g_per_mwh", "document"),
    [
        (2021, "0.5568", 556_800, "公告 2024年第12号"),
        (2022, "0.5366", 536_600, "公告 2024年第33号"),
        (2023, "0.5306", 530_600, "公告 2025年第47号"),
    ],
)
def test_chinas_national_grid_average_is_the_published_figure(
    lib: Library, year: int, printed: str, g_per_mwh: int, document: str
) -> None:
    match = lookup(lib, "CN", year, gas="CO2")
    f = match.factor
    assert (f.value, f.unit, f.source_value, f.source_unit) == (
        g_per_mwh, "gCO2/MWh", printed, "kgCO2/kWh",
    )  # fmt: skip
    assert (f.level, f.basis, f.gas, f.boundary) == (
        "national",
        "grid_average",
        "CO2",
        "combustion",
    )
    assert f.document == document
    assert "生态环境部" in f.publisher
    assert "国家统计局" in f.publisher
    assert match.path == ("CN",)
    assert not match.fell_back


def test_the_ets_reporting_factor_is_0_5703(lib: Library) -> None:
    f = lookup(lib, "CN", 2022, "ets_reporting", gas="CO2").factor
    assert (f.value, f.unit, f.source_value, f.source_unit) == (
        570_300, "gCO2/MWh", "0.5703", "tCO2/MWh",
    )  # fmt: skip
    assert f.document == "环办气候函〔2023〕43号"
    # the ETS figure is its own basis: the statistical factor of the same year differs
    assert lookup(lib, "CN", 2022, gas="CO2").factor.value == 536_600
    with pytest.raises(NoFactor):
        lookup(lib, "CN", 2021, "ets_reporting", gas="CO2")


def test_the_other_national_figures_of_the_announcements(lib: Library) -> None:
    residual = {
        y: lookup(lib, "CN", y, "residual_mix", gas="CO2").factor for y in (2021, 2022, 2023)
    }
    fossil = {y: lookup(lib, "CN", y, "fossil_only", gas="CO2").factor for y in (2021, 2022, 2023)}
    assert {y: f.value for y, f in residual.items()} == {
        2021: 594_200,
        2022: 585_600,
        2023: 609_600,
    }
    assert {y: f.value for y, f in fossil.items()} == {2021: 842_600, 2022: 832_500, 2023: 827_300}
    assert all("不包括市场化交易的非化石能源电量" in f.label for f in residual.values())


def test_every_regional_grid_and_province_of_the_announcements_is_there(lib: Library) -> None:
    regional = {(f.geography, f.year) for f in lib.factors if f.level == "regional"}
    provincial = {(f.geography, f.year) for f in lib.factors if f.level == "provincial"}
    regions = {g.code for g in lib.geographies if g.level == "regional"}
    provinces = {g.code for g in lib.geographies if g.level == "provincial"}
    assert len(regions) == 7
    assert len(provinces) == 31
    assert regional == set(product(regions, (2021, 2022, 2023)))
    # every province but Xizang (Tibet), for which no provincial factor is published
    assert provincial == set(product(provinces - {"CN-XZ"}, (2021, 2022, 2023)))
    assert _factor(lib, "mee-nbs:grid_average:CN-NORTH:2021").value == 712_000
    assert _factor(lib, "mee-nbs:grid_average:CN-SOUTHWEST:2023").value == 247_200
    assert _factor(lib, "mee-nbs:grid_average:CN-GD:2023").value == 441_900
    assert _factor(lib, "mee-nbs:grid_average:CN-HE:2022").value == 725_200


def test_country_factors_are_codecarbons_life_cycle_figures_with_their_year(lib: Library) -> None:
    countries = [f for f in lib.factors if f.level == "country"]
    assert len(countries) > 200
    assert all(
        (f.gas, f.boundary, f.basis) == ("CO2e", "life_cycle", "grid_average") for f in countries
    )
    assert all("codecarbon 3.3.2" in f.document for f in countries)
    france = lookup(lib, "FR", 2023, gas="CO2e", boundary="life_cycle").factor
    assert (france.value, france.source_value, france.unit) == (56_039, "56.039", "gCO2e/MWh")
    # years differ by country, as the data has them; a year the data lacks is refused
    assert {f.year for f in countries} >= {2022, 2023}
    with pytest.raises(NoFactor):
        lookup(lib, "FR", 2022, gas="CO2e", boundary="life_cycle")


def test_fuel_defaults_keep_the_ipccs_structure(lib: Library) -> None:
    gas = fuel_default(lib, "natural_gas", gas="CO2")
    assert (gas.value, gas.unit, gas.source_value, gas.source_unit) == (
        56_100, "gCO2/GJ", "56100", "kgCO2/TJ",
    )  # fmt: skip
    assert (gas.ncv_mj_per_t, gas.ncv_source_value) == (48_000, "48.0")
    coal = fuel_default(lib, "other_bituminous_coal", gas="CO2")
    assert (coal.value, coal.ncv_mj_per_t) == (94_600, 25_800)
    # g/GJ x MJ/t / 1000 = g/t: one tonne of this coal is 2,440,680 g CO2
    assert round_half_even_div(coal.value * 25_800, 1000) == 2_440_680
    assert fuel_default(lib, "industrial_wastes", gas="CO2").ncv_mj_per_t is None
    with pytest.raises(UnknownFuel):
        fuel_default(lib, "natural_gas", gas="CO2e")
    with pytest.raises(UnknownFuel):
        fuel_default(lib, "unobtainium", gas="CO2")
    with pytest.raises(InvalidQuery):
        lookup(lib, GLOBAL, 2006, "fuel_default", gas="CO2")


def test_gwp100_values_of_ar6(lib: Library) -> None:
    milli = {g: gwp100(lib, g).value_milli for g in ("CO2", "CH4-fossil", "CH4-non-fossil")}
    assert milli == {"CO2": 1_000, "CH4-fossil": 29_800, "CH4-non-fossil": 27_000}
    assert gwp100(lib, "N2O").value_milli == 273_000
    assert gwp100(lib, "SF6").value_milli == 25_200_000
    assert all(g.horizon_years == 100 for g in lib.gwp)
    with pytest.raises(UnknownGwpGas):
        gwp100(lib, "CH4")  # fossil or not: the caller must say which


# ---------------------------------------------------------------- sources and integrity
def test_every_factor_has_a_source(lib: Library) -> None:
    for f in lib.factors:
        assert f.publisher.strip(), f.id
        assert f.document.strip(), f.id
        assert f.title.strip(), f.id
        assert f.published[:4].isdigit(), f.id
        assert f.url is None or f.url.startswith("https://"), f.id
    for g in lib.gwp:
        assert g.publisher.strip(), g.gas
        assert g.document.strip(), g.gas


def test_factor_ids_are_unique(lib: Library) -> None:
    ids = [f.id for f in lib.factors]
    assert len(ids) == len(set(ids))


def test_every_integer_is_its_printed_figure_times_a_power_of_ten(lib: Library) -> None:
    """The shipped figures needed no rounding: each integer is exactly the printed decimal."""
    for f in lib.factors:
        exact = Decimal(f.source_value) * SCALES[(f.source_unit, f.unit)]
        assert exact == f.value, f.id
        if f.ncv_source_value is not None:
            assert Decimal(f.ncv_source_value) * 1000 == f.ncv_mj_per_t, f.id
    for g in lib.gwp:
        assert Decimal(g.source_value) * 1000 == g.value_milli, g.gas


def test_a_factors_unit_and_gas_agree_and_life_cycle_is_always_co2e(lib: Library) -> None:
    for f in lib.factors:
        assert f.unit.startswith(f"g{f.gas}/"), f.id
        if f.boundary == "life_cycle":
            assert f.gas == "CO2e", f.id


# ---------------------------------------------------------------- lookups
def _reference_lookup(
    lib: Library, geography: str, year: int, basis: str, gas: str, boundary: str
) -> tuple[Factor, tuple[str, ...]] | None:
    """Brute force: rebuild the path from the map, take the first exact match."""
    parents = {g.code: g.parent for g in lib.geographies}
    path = [geography]
    while parents.get(path[-1]) is not None:
        path.append(parents[path[-1]])  # type: ignore[arg-type]
    for depth in range(1, len(path) + 1):
        hits = [
            f
            for f in lib.factors
            if f.geography == path[depth - 1]
            and f.fuel is None
            and (f.year, f.basis, f.gas, f.boundary) == (year, basis, gas, boundary)
        ]
        assert len(hits) <= 1
        if hits:
            return hits[0], tuple(path[:depth])
    return None


def test_lookup_agrees_with_a_brute_force_reference_and_never_mixes(lib: Library) -> None:
    geographies = sorted({g.code for g in lib.geographies} | {f.geography for f in lib.factors})
    geographies.remove(GLOBAL)
    years = sorted({f.year for f in lib.factors})
    answered = refused = 0
    for geo, year, basis, gas, boundary in product(
        geographies, years, ELECTRICITY_BASES, get_args(Gas), get_args(Boundary)
    ):
        expected = _reference_lookup(lib, geo, year, basis, gas, boundary)
        if expected is None:
            with pytest.raises(NoFactor):
                lookup(lib, geo, year, basis, gas=gas, boundary=boundary)
            refused += 1
            continue
        match = lookup(lib, geo, year, basis, gas=gas, boundary=boundary)
        assert (match.factor, match.path) == expected
        f = match.factor
        # what was asked is what came back: never another gas, basis, boundary or year
        assert (f.year, f.basis, f.gas, f.boundary) == (year, basis, gas, boundary)
        assert match.level == f.level
        assert match.requested == geo
        answered += 1
    assert answered > 300
    assert refused > answered


def test_co2_is_never_answered_with_co2e_nor_the_reverse(lib: Library) -> None:
    # China 2023 holds both a CO2 combustion factor (MEE/NBS) and a CO2e life-cycle one
    co2 = lookup(lib, "CN", 2023, gas="CO2").factor
    co2e = lookup(lib, "CN", 2023, gas="CO2e", boundary="life_cycle").factor
    assert (co2.value, co2.gas, co2.boundary) == (530_600, "CO2", "combustion")
    assert (co2e.value, co2e.gas, co2e.boundary) == (582_317, "CO2e", "life_cycle")
    with pytest.raises(NoFactor, match="CO2e"):
        lookup(lib, "CN", 2023, gas="CO2e")  # combustion CO2e: none, and no CO2 instead
    with pytest.raises(NoFactor):
        lookup(lib, "CN", 2023, gas="CO2", boundary="life_cycle")
    with pytest.raises(NoFactor):
        lookup(lib, "FR", 2023, gas="CO2")  # France has CO2e only
    with pytest.raises(InvalidQuery):
        lookup(lib, "CN", 2023, gas="co2")  # type: ignore[arg-type]
    with pytest.raises(InvalidQuery):
        lookup(lib, "CN", 2023, "marginal", gas="CO2")  # type: ignore[arg-type]


def test_fallback_goes_province_region_national_and_says_so(lib: Library) -> None:
    own = lookup(lib, "CN-GD", 2023, gas="CO2")
    assert (own.path, own.level, own.fell_back) == (("CN-GD",), "provincial", False)
    assert "fell back" not in own.disclosure()

    tibet = lookup(lib, "CN-XZ", 2022, gas="CO2")
    assert tibet.path == ("CN-XZ", "CN-SOUTHWEST")
    assert tibet.level == "regional"
    assert tibet.factor.value == 226_800
    assert tibet.fell_back
    assert "CN-XZ -> CN-SOUTHWEST" in tibet.disclosure()
    assert "公告 2024年第33号" in tibet.disclosure()

    residual = lookup(lib, "CN-GD", 2023, "residual_mix", gas="CO2")
    assert residual.path == ("CN-GD", "CN-SOUTH", "CN")
    assert residual.level == "national"
    assert residual.factor.value == 609_600
    assert "CN-GD -> CN-SOUTH -> CN" in residual.disclosure()

    # Inner Mongolia is split between two regional grids: it goes straight to the country
    assert lookup(lib, "CN-NM", 2021, "fossil_only", gas="CO2").path == ("CN-NM", "CN")
    # a regional grid falls back to the country
    assert lookup(lib, "CN-EAST", 2022, "residual_mix", gas="CO2").path == ("CN-EAST", "CN")


def test_unknown_geography_or_year_is_refused(lib: Library) -> None:
    for geo in ("CN-ZZ", "ZZ", "CN-HK", "cn-gd", ""):
        with pytest.raises(UnknownGeography):
            lookup(lib, geo, 2023, gas="CO2")
    with pytest.raises(NoFactor) as refused:
        lookup(lib, "CN-GD", 2020, gas="CO2")
    # the refusal says what the path does hold, so the caller can choose a year
    assert "CN-GD 2023 grid_average CO2 combustion" in refused.value.message
    assert refused.value.code == "factors.no_factor"
    with pytest.raises(NoFactor):
        lookup(lib, "CN-GD", 2024, gas="CO2")
    assert issubclass(UnknownGeography, FactorError)
    assert issubclass(NoFactor, FactorError)


# ---------------------------------------------------------------- the file and its schema
def _raw(lib: Library) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_data_file(lib.version))
    return data


def _decodes(data: dict[str, Any]) -> None:
    check(decode(json.dumps(data, ensure_ascii=False).encode()))


def test_the_shipped_json_decodes_strictly_and_round_trips(lib: Library) -> None:
    raw = _data_file(lib.version)
    assert decode(raw) == lib
    assert json.loads(msgspec.json.encode(lib)) == json.loads(raw)


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda d: d["factors"][0].update(extra=1), id="unknown field"),
        pytest.param(lambda d: d["factors"][0].update(value=556800.0), id="float value"),
        pytest.param(lambda d: d["factors"][0].update(value="556800"), id="string value"),
        pytest.param(lambda d: d["factors"][0].update(value=-1), id="negative value"),
        pytest.param(lambda d: d["factors"][0].update(gas="co2"), id="unknown gas"),
        pytest.param(lambda d: d["factors"][0].update(level="city"), id="unknown level"),
        pytest.param(lambda d: d["factors"][0].update(basis="marginal"), id="unknown basis"),
        pytest.param(lambda d: d["factors"][0].pop("publisher"), id="no publisher"),
        pytest.param(lambda d: d["factors"][0].update(document=""), id="empty document"),
        pytest.param(lambda d: d["factors"][0].update(published="12 April 2024"), id="bad date"),
        pytest.param(lambda d: d["gwp"][0].update(value_milli=1.0), id="float gwp"),
        pytest.param(lambda d: d.update(version="latest"), id="bad version"),
    ],
)
def test_the_schema_refuses(lib: Library, mutate: Any) -> None:
    data = _raw(lib)
    _decodes(data)
    mutate(data)
    with pytest.raises(InvalidLibrary):
        _decodes(data)


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda d: d["factors"][1].update(id=d["factors"][0]["id"]), id="same id"),
        pytest.param(lambda d: d["factors"][0].update(value=556_801), id="value not the figure"),
        pytest.param(lambda d: d["factors"][0].update(source_unit="tCO2/kWh"), id="no scale"),
        pytest.param(lambda d: d["factors"][0].update(gas="CO2e"), id="CO2e in gCO2"),
        pytest.param(lambda d: d["factors"][0].update(geography="CN-GD"), id="level off map"),
        pytest.param(lambda d: d["factors"][0].update(fuel="coal"), id="fuel on electricity"),
        pytest.param(
            lambda d: d["factors"][1].update(
                {k: d["factors"][0][k] for k in ("geography", "year", "basis", "gas", "boundary")}
            ),
            id="two answers to one lookup",
        ),
        pytest.param(lambda d: d["geographies"][0].update(parent="CN-GD"), id="cycle"),
        pytest.param(lambda d: d["geographies"][1].update(parent="CN-XX"), id="no parent"),
        pytest.param(lambda d: d["gwp"][1].update(value_milli=29_900), id="gwp not the figure"),
    ],
)
def test_the_rules_refuse(lib: Library, mutate: Any) -> None:
    data = _raw(lib)
    mutate(data)
    with pytest.raises(InvalidLibrary):
        _decodes(data)


def test_versions_and_load(lib: Library) -> None:
    shipped = versions()
    assert shipped == ["2026.1"]
    assert load() is load(shipped[-1]) is lib
    with pytest.raises(UnknownVersion):
        load("1999.1")


def test_a_normal_install_ships_the_data() -> None:
    """pyproject's package-data names every library file, so a wheel carries them."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["gridledger.factors"]
    data = ROOT / "src" / "gridledger" / "factors" / "data"
    files = sorted(p.relative_to(data.parent).as_posix() for p in data.glob("*.json"))
    assert files == [f"data/library-{v}.json" for v in versions()]
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name


# ---------------------------------------------------------------- integers and rounding
def test_rounding_is_half_to_even_once() -> None:
    assert to_units("0.12345", 10**4) == 1234  # 1234.5 -> even
    assert to_units("0.12355", 10**4) == 1236  # 1235.5 -> even
    assert to_units("0.123451", 10**4) == 1235
    assert [round_half_even_div(n, 2) for n in range(7)] == [0, 0, 1, 2, 2, 2, 3]
    with pytest.raises(InvalidLibrary):
        to_units("0,5568", 10**6)


def test_electricity_emissions_are_whole_grams(lib: Library) -> None:
    national = lookup(lib, "CN", 2021, gas="CO2").factor  # 556,800 g/MWh
    assert electricity_emissions_g(national, 1_000_000) == 556_800  # 1 MWh
    assert electricity_emissions_g(national, 1_000) == 557  # 556.8 g
    assert electricity_emissions_g(national, 0) == 0
    one = msgspec.structs.replace(national, value=1)
    assert electricity_emissions_g(one, 500_000) == 0  # 0.5 -> even
    assert electricity_emissions_g(one, 1_500_000) == 2  # 1.5 -> even
    with pytest.raises(InvalidQuery):
        electricity_emissions_g(fuel_default(lib, "natural_gas", gas="CO2"), 1_000)
    with pytest.raises(InvalidQuery):
        electricity_emissions_g(national, -1)
