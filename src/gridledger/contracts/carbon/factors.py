"""Factor sets: what a regulator puts in force, and the lookup every figure goes through.

* ``carbon.record_factor_set`` (regulator): a :class:`~.records.FactorSet` for a region and a
  period of whole months. Refused when another set of the same region overlaps the period
  (``carbon.factor_overlap``), when an electricity or fuel factor's gas differs from the
  set's (``carbon.gas_mismatch``: CO2 and CO2e are never mixed, and an inventory sums scope 1
  and scope 2 in one gas) or an electricity factor is a life-cycle figure
  (``carbon.boundary_mismatch``), or when the id was used before.
* ``carbon.set_region_map`` (regulator): which regional grid each province belongs to.

**Lookup** (:func:`factor_for`): for a region and a time, the set of that region in force then;
if there is none, the set of the province's regional grid (by the region map); if none, the
country's (the region's first two letters). The path tried is returned with the answer and
every figure computed from it discloses it. Nothing is found: ``carbon.no_factor``.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.carbon import keys
from gridledger.contracts.carbon.errors import (
    BadPeriod,
    BoundaryMismatch,
    FactorOverlap,
    FactorSetExists,
    GasMismatch,
    InvalidFactorSet,
    InvalidRegionMap,
    NoFactor,
)
from gridledger.contracts.carbon.records import (
    ElectricityFactor,
    FactorLookup,
    FactorSet,
    FuelFactor,
    Gas,
    RegionMap,
)
from gridledger.core.errors import InvalidTransaction
from gridledger.state.state import StateReader, StateWriter, decode_record

MAX_FUELS = 100
MAX_PERIOD_S = 10 * 366 * 86_400


def month_start(time_s: int) -> int:
    """The first second (UTC) of the month ``time_s`` falls in."""
    at = dt.datetime.fromtimestamp(time_s, dt.UTC)
    return int(dt.datetime(at.year, at.month, 1, tzinfo=dt.UTC).timestamp())


def is_month_start(time_s: int) -> bool:
    return time_s >= 0 and month_start(time_s) == time_s


def _text(value: str, what: str, most: int = 128) -> None:
    if not 1 <= len(value) <= most:
        raise InvalidFactorSet(f"{what} is 1-{most} characters")


def _region(value: str, error: type[InvalidTransaction] = InvalidFactorSet) -> None:
    if not 2 <= len(value) <= 32 or not value[:2].isalpha() or not value[:2].isupper():
        raise error(f"region {value!r}: a country code (CN) or CC-XXX")
    if "/" in value:
        raise error(f"region {value!r} holds '/'")


def _check_electricity(factor: ElectricityFactor, gas: Gas, what: str) -> None:
    if factor.gas != gas:
        raise GasMismatch(f"{what} is {factor.gas}; the set is {gas}")
    if factor.boundary != "combustion":
        raise BoundaryMismatch(f"{what} is a {factor.boundary} factor")
    if not 0 <= factor.g_per_mwh <= 5_000_000:
        raise InvalidFactorSet(f"{what}: g_per_mwh {factor.g_per_mwh} out of 0-5,000,000")
    _text(factor.source.factor_id, f"{what}'s factor_id", 64)
    _text(factor.source.publisher, f"{what}'s publisher")
    _text(factor.source.document, f"{what}'s document", 256)


class RecordFactorSet(Body):
    id: str
    region: str
    start_s: Int64
    end_s: Int64
    library_version: str
    gas: Gas
    grid_average: ElectricityFactor
    fuels: list[FuelFactor] = []
    residual_mix: ElectricityFactor | None = None

    def check(self) -> None:
        _text(self.id, "id", 64)
        if "/" in self.id:
            raise InvalidFactorSet("a set's id holds no '/'")
        _region(self.region)
        _text(self.library_version, "library_version", 32)
        if not (is_month_start(self.start_s) and is_month_start(self.end_s)):
            raise BadPeriod(f"{self.start_s}..{self.end_s}: whole months only")
        if not self.start_s < self.end_s <= self.start_s + MAX_PERIOD_S:
            raise BadPeriod(f"{self.start_s}..{self.end_s}: start before end, at most ten years")
        _check_electricity(self.grid_average, self.gas, "grid_average")
        if self.residual_mix is not None:
            _check_electricity(self.residual_mix, self.gas, "residual_mix")
        if len(self.fuels) > MAX_FUELS:
            raise InvalidFactorSet(f"at most {MAX_FUELS} fuels")
        names = [f.fuel for f in self.fuels]
        if len(set(names)) != len(names):
            raise InvalidFactorSet("a fuel is listed twice")
        for f in self.fuels:
            _text(f.fuel, "fuel", 64)
            _text(f.unit, f"{f.fuel}'s unit", 32)
            _text(f.source.publisher, f"{f.fuel}'s publisher")
            _text(f.source.document, f"{f.fuel}'s document", 256)
            if f.gas != self.gas:
                raise GasMismatch(f"{f.fuel}'s factor is {f.gas}; the set is {self.gas}")
            if not 0 <= f.g_per_unit <= 10**12:
                raise InvalidFactorSet(f"{f.fuel}: g_per_unit out of range")


def sets_of(view: StateReader, region: str) -> list[FactorSet]:
    """Every factor set of ``region``, in start order."""
    return [decode_record(v, FactorSet) for _, v in view.scan(keys.factor_sets_of(region))]


@kind("carbon.record_factor_set", RecordFactorSet, roles=("regulator",))
def apply_record_factor_set(state: StateWriter, ctx: Context, body: RecordFactorSet) -> None:
    """Put a factor set in force for a region and period (regulators)."""
    if state.get(keys.factor_set_id(body.id)) is not None:
        raise FactorSetExists(f"factor set {body.id} exists")
    for other in sets_of(state, body.region):
        if other.start_s < body.end_s and body.start_s < other.end_s:
            raise FactorOverlap(
                f"set {other.id} is in force for {body.region} from {other.start_s} to "
                f"{other.end_s}"
            )
    record = FactorSet(**msgspec.structs.asdict(body), recorded_by=ctx.sender, height=ctx.height)
    state.put(keys.factor_set(body.region, body.start_s), record)
    state.set(keys.factor_set_id(body.id), f"{body.region}/{body.start_s}".encode())
    ctx.emit("carbon.factor_set_recorded", id=body.id, region=body.region)


class SetRegionMap(Body):
    provinces: dict[str, str]

    def check(self) -> None:
        if not 1 <= len(self.provinces) <= 200:
            raise InvalidRegionMap("a region map lists 1-200 provinces")
        for province, grid in self.provinces.items():
            _region(province, InvalidRegionMap)
            _region(grid, InvalidRegionMap)
            if province[:2] != grid[:2] or province == grid:
                raise InvalidRegionMap(f"{province} -> {grid}")


@kind("carbon.set_region_map", SetRegionMap, roles=("regulator",))
def apply_set_region_map(state: StateWriter, ctx: Context, body: SetRegionMap) -> None:
    """Record which regional grid each province belongs to (regulators)."""
    state.put(keys.regions(), RegionMap(provinces=dict(sorted(body.provinces.items())),
                                        height=ctx.height))  # fmt: skip
    ctx.emit("carbon.region_map_set", provinces=len(body.provinces))


def region_map(view: StateReader) -> RegionMap:
    return view.get_record(keys.regions(), RegionMap) or RegionMap(provinces={}, height=0)


def fallback_path(view: StateReader, region: str) -> list[str]:
    """The regions a lookup for ``region`` tries, in order (province, regional grid,
    country), without repeats."""
    path = [region]
    grid = region_map(view).provinces.get(region)
    if grid is not None:
        path.append(grid)
    country = region[:2]
    if country not in path:
        path.append(country)
    return path


def set_at(view: StateReader, region: str, time_s: int) -> FactorSet | None:
    """The set of exactly ``region`` in force at ``time_s``."""
    prefix = keys.factor_sets_of(region)
    for _, raw in view.scan_range(prefix, b"", keys.factor_set(region, time_s + 1)[len(prefix) :],
                                  reverse=True, limit=1):  # fmt: skip
        found = decode_record(raw, FactorSet)
        return found if found.start_s <= time_s < found.end_s else None
    return None


def factor_for(view: StateReader, region: str, time_s: int) -> FactorLookup:
    """The factor set in force for ``region`` at ``time_s``, along the fallback path.

    Raises:
        NoFactor: no region on the path has a set in force then.
    """
    tried: list[str] = []
    for candidate in fallback_path(view, region):
        tried.append(candidate)
        found = set_at(view, candidate, time_s)
        if found is not None:
            return FactorLookup(set=found, path=tried, fallback=candidate != region)
    raise NoFactor(f"no factor set for {' -> '.join(tried)} at {time_s}")


def get_set(view: StateReader, set_id: str) -> FactorSet | None:
    where = view.get(keys.factor_set_id(set_id))
    if where is None:
        return None
    region, start = where.decode().rsplit("/", 1)
    return view.get_record(keys.factor_set(region, int(start)), FactorSet)
