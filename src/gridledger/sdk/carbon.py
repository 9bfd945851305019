"""Carbon accounting on the client side: build factor sets from the shipped factor library,
sign and submit ``carbon.*`` transactions, and read the carbon endpoints (``docs/api.md``,
"Carbon"; the rules in ``docs/carbon.md``).

``Client.carbon`` is a :class:`Carbon` for that client::

    from gridledger.sdk import Client
    from gridledger.sdk.carbon import factor_set_body

    with Client(url) as client:
        body = factor_set_body("CN-GD", 2023, "2026-01", "2027-01", "cn-gd-2026")
        client.carbon.record_factor_set(regulator_key, "regulator-1", body)
        inventory = client.carbon.inventory(org="homes", start="2026-01", end="2026-03")
        print(inventory["scope2_location_g"], inventory["scope2_market_volume_g"])
        pdf = client.carbon.report_file("homes", "2026-01", "2026-03", "pdf", lang="zh")

Every transaction method signs with ``key`` as ``sender``, submits, waits for the receipt and
returns the :class:`~gridledger.sdk.client.Committed` result (``ok`` False with the contract's
code when it committed but failed, e.g. ``carbon.factor_overlap``). Bodies are checked against
the kind's stateless rules first (:func:`carbon_body`), so a set that mixes CO2 with CO2e
raises :class:`~gridledger.sdk.errors.InvalidInput` with the code the node would answer with.
Emissions are in grams, factors in grams per MWh (electricity) or per activity unit (fuels),
months ``YYYY-MM`` (UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gridledger import factors
from gridledger.contracts import carbon
from gridledger.sdk.contract import ContractClient, api_path, checked_body, contract_kinds
from gridledger.sdk.errors import InvalidInput

if TYPE_CHECKING:
    from gridledger.core.crypto import SigningKey
    from gridledger.sdk.client import Committed

CARBON_KINDS = contract_kinds("carbon")
"""Every carbon transaction kind."""
SET_BASES: tuple[factors.Basis, ...] = ("grid_average", "ets_reporting")
"""The library bases a factor set's location-based factor may come from."""


def carbon_body(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` for the carbon transaction ``kind``, without its None values, after the kind's
    stateless checks (what the node checks at admission before any state).

    Raises:
        InvalidInput: not a carbon kind, or a body the node would refuse, with its code
            (``tx.invalid_body``, ``carbon.gas_mismatch``, ``carbon.bad_period``, ...).
    """
    return checked_body(CARBON_KINDS, kind, body)


# factor sets from the shipped library ------------------------------------------------------------
def _source(f: factors.Factor) -> dict[str, Any]:
    return {"factor_id": f.id, "publisher": f.publisher, "document": f.document,
            "year": f.year, "geography": f.geography}  # fmt: skip


def _electricity(f: factors.Factor) -> dict[str, Any]:
    return {"g_per_mwh": f.value, "gas": f.gas, "boundary": f.boundary, "source": _source(f)}


def _month_start(month: str, option: str) -> int:
    try:
        start, _ = carbon.month_bounds(month)
    except ValueError:
        raise InvalidInput("carbon.bad_period", f"{option} {month!r} is not YYYY-MM") from None
    return start


def factor_set_body(
    region: str,
    year: int,
    start: str,
    end: str,
    set_id: str,
    *,
    gas: factors.Gas = "CO2",
    basis: factors.Basis = "grid_average",
    residual: bool = True,
    library: factors.Library | None = None,
) -> dict[str, Any]:
    """A ``carbon.record_factor_set`` body from the shipped factor library.

    Args:
        region: the region the set is for (``CN``, ``CN-SOUTH``, ``CN-GD``).
        year: the factors' data year.
        start: the first month in force, ``YYYY-MM``.
        end: the first month no longer in force (exclusive), ``YYYY-MM``.
        set_id: the set's id on the ledger.
        gas: CO2 or CO2e: every factor of the set is of this gas, fuels included.
        basis: the location-based factor's basis: ``grid_average`` or ``ets_reporting``.
        residual: add the residual-mix factor the library gives for the region (climbing to
            its country if the region has none; its source names the geography). Without
            one the grid average stands in for it, and reports say so.
        library: the library (default: the latest shipped version).

    Returns:
        The body: the grid factor, the residual mix, every fuel default of ``gas`` (unit: the
        fuel factor's energy unit, GJ), the library's version.

    Raises:
        InvalidInput: an unknown basis, or the library has no factor of exactly this region
            (``carbon.library_fallback``: record the set for the region that has one, and
            the chain's own lookup falls back to it and discloses it), or a library refusal
            (``factors.no_factor``, ``factors.unknown_geography``, ...), or a body the node
            would refuse.
    """
    if basis not in SET_BASES:
        raise InvalidInput("factors.invalid_query", f"basis {basis!r}: one of {SET_BASES}")
    lib = library or factors.load()
    try:
        grid = factors.lookup(lib, region, year, basis, gas=gas)
        resid = None
        if residual:
            try:
                resid = factors.lookup(lib, region, year, "residual_mix", gas=gas)
            except factors.NoFactor:
                resid = None
    except factors.FactorError as exc:
        raise InvalidInput(exc.code, exc.message) from None
    if grid.fell_back:
        raise InvalidInput(
            "carbon.library_fallback",
            f"the library has no {year} {basis} {gas} factor for {region} itself: "
            f"{grid.disclosure()} Record a set for {grid.factor.geography} instead; the "
            f"lookup falls back to it for {region} and discloses it",
        )
    fuels = [
        {"fuel": f.fuel, "unit": f.unit.split("/", 1)[1], "g_per_unit": f.value, "gas": f.gas,
         "source": _source(f)}
        for f in lib.factors
        if f.basis == "fuel_default" and f.gas == gas and f.fuel is not None
    ]  # fmt: skip
    body: dict[str, Any] = {
        "id": set_id,
        "region": region,
        "start_s": _month_start(start, "start"),
        "end_s": _month_start(end, "end"),
        "library_version": lib.version,
        "gas": gas,
        "grid_average": _electricity(grid.factor),
        "fuels": sorted(fuels, key=lambda f: str(f["fuel"])),
        "residual_mix": None if resid is None else _electricity(resid.factor),
    }
    return carbon_body("carbon.record_factor_set", body)


def region_map_body(library: factors.Library | None = None) -> dict[str, Any]:
    """A ``carbon.set_region_map`` body: each province of the library's geography map that
    belongs to a regional grid, and that grid (provinces directly under their country are left
    out: the lookup reaches the country anyway)."""
    lib = library or factors.load()
    nodes = {g.code: g for g in lib.geographies}
    provinces = {
        g.code: g.parent
        for g in lib.geographies
        if g.level == "provincial" and g.parent is not None and nodes[g.parent].level == "regional"
    }
    return carbon_body("carbon.set_region_map", {"provinces": dict(sorted(provinces.items()))})


# the client ------------------------------------------------------------------------------------
class Carbon(ContractClient):
    """The carbon endpoints and transactions of one node, through ``client``."""

    kinds = CARBON_KINDS
    path = ("v1", "carbon")

    # reads ---------------------------------------------------------------------------------
    def factor_sets(self, region: str | None = None) -> dict[str, Any]:
        """Every recorded factor set (of ``region``) with ``in_force`` now, and the region map:
        ``{"time_s", "factor_sets": [...], "region_map": {...}}``."""
        return self._get("factor-sets", region=region)

    def factor_set(self, set_id: str) -> dict[str, Any]:
        """One factor set (``404 not_found`` for an unknown id)."""
        return self._get("factor-sets", set_id)

    def lookup(self, region: str, time_s: int) -> dict[str, Any]:
        """The set in force for ``region`` at ``time_s`` along the fallback path:
        ``{"region", "time_s", "set", "path", "fallback"}`` (``carbon.no_factor`` if none)."""
        return self._get("lookup", region=region, time=time_s)

    def inventory(
        self, *, start: str, end: str, org: str | None = None, site: str | None = None
    ) -> dict[str, Any]:
        """The inventory of an organisation or a site (exactly one) over the months ``start``
        .. ``end`` (inclusive), as ``GET /v1/carbon/inventory`` sends it."""
        return self._get("inventory", org=org, site=site, start=start, end=end)

    def report(self, org: str, start: str, end: str) -> dict[str, Any]:
        """The organisation's report (``gridledger/carbon-report/v1``) over ``start`` ..
        ``end``; the last month must have ended (``carbon.period_open``)."""
        return self._get("report", org=org, start=start, end=end, format="json")

    def ghg_report(self, org: str, start: str, end: str) -> dict[str, Any]:
        """The report in the GHG Protocol reporting layout."""
        return self._get("report", org=org, start=start, end=end, format="ghg")

    def report_file(
        self, org: str, start: str, end: str, format: str = "json", *, lang: str = "en"
    ) -> bytes:
        """The report's bytes in ``format`` (``json``, ``csv``, ``ghg`` or ``pdf``; the PDF in
        ``lang``, ``en`` or ``zh``)."""
        params = {"org": org, "start": start, "end": end, "format": format, "lang": lang}
        response = self.client._request("GET", api_path("v1", "carbon", "report"), params=params)
        return response.content

    def activities(self, org: str) -> dict[str, Any]:
        """The organisation's scope 1 activity data: ``{"org", "activities": [...]}``."""
        return self._get("activities", org=org)

    # transactions --------------------------------------------------------------------------
    def record_factor_set(
        self, key: SigningKey, sender: str, body: Mapping[str, Any], wait: float = 10.0
    ) -> Committed:
        """Put a factor set in force (regulator); ``body`` e.g. from :func:`factor_set_body`."""
        return self.send(key, sender, "carbon.record_factor_set", body, wait)

    def set_region_map(
        self, key: SigningKey, sender: str, provinces: Mapping[str, str], wait: float = 10.0
    ) -> Committed:
        """Record which regional grid each province belongs to (regulator)."""
        body = {"provinces": dict(provinces)}
        return self.send(key, sender, "carbon.set_region_map", body, wait)

    def report_activity(
        self,
        key: SigningKey,
        sender: str,
        *,
        activity_id: str,
        site: str,
        month: str,
        fuel: str,
        quantity: int,
        unit: str,
        wait: float = 10.0,
    ) -> Committed:
        """Report fuel burnt at one of the sender's organisation's sites in an ended month
        (scope 1); ``unit`` must be the fuel factor's activity unit."""
        body = {"id": activity_id, "site": site, "month": month, "fuel": fuel,
                "quantity": quantity, "unit": unit}  # fmt: skip
        return self.send(key, sender, "carbon.report_activity", body, wait)

    def confirm_activity(
        self,
        key: SigningKey,
        sender: str,
        *,
        org: str,
        activity_id: str,
        note: str | None = None,
        wait: float = 10.0,
    ) -> Committed:
        """Confirm another organisation's activity data (carbon verifier)."""
        body = {"org": org, "id": activity_id, "note": note}
        return self.send(key, sender, "carbon.confirm_activity", body, wait)

    def reject_activity(
        self,
        key: SigningKey,
        sender: str,
        *,
        org: str,
        activity_id: str,
        note: str,
        wait: float = 10.0,
    ) -> Committed:
        """Reject another organisation's activity data, with the reason in ``note`` (carbon
        verifier)."""
        body = {"org": org, "id": activity_id, "note": note}
        return self.send(key, sender, "carbon.reject_activity", body, wait)
