"""A ledger for the carbon tests: the certificate ledger plus a regulator and a carbon verifier,
with the carbon read model kept beside it.

Genesis (on top of :func:`certificates_support.cert_genesis`): ``regulator-1`` (regulator, the
operator organisation) and the ``auditors`` organisation (carbon_verifier) with
``verifier-1``, so the verifier is of another organisation than the households that report.

:class:`CarbonLedger` folds every committed block into an in-memory SQLite database with
:class:`gridledger.readmodels.carbon.CarbonTotals`, the way a node does (the block's net changes
in key order), and computes inventories from it.

Factor sets are built from the shipped factor library (:mod:`gridledger.factors`): China's
official grid factors (provincial, regional, national, with the national residual mix) and the
IPCC 2006 fuel defaults, in gCO2 per MWh and per GJ. :func:`factor_set_body` names every source
as the library gives it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from certificates_support import CERTIFIER, DAY, DAY0, HOUR, CertLedger, cert_genesis
from gridledger import factors
from gridledger.contracts.carbon import FactorSet, get_set
from gridledger.contracts.certificates import get_bundle
from gridledger.contracts.certificates import keys as cert_keys
from gridledger.contracts.genesis import GenesisAccount, GenesisOrganisation
from gridledger.core.encoding import decode_json
from gridledger.core.types import Receipt
from gridledger.readmodels import carbon_inventory
from gridledger.readmodels.carbon import CarbonTotals
from gridledger.readmodels.carbon_inventory import Inventory
from gridledger.state.readmodels import BlockFacts
from ledger_support import CONSUMER, GRID, OTHER_HOUSE, PRODUCER, meter_body, site_body
from support import OPERATOR_ORG, committed_genesis_state, key

REGULATOR = "regulator-1"
VERIFIER = "verifier-1"
AUDITORS = "auditors"

APRIL = 1_743_465_600
"""2025-04-01 00:00 UTC."""
MAY = 1_746_057_600
JUNE = 1_748_736_000
JULY = 1_751_328_000
AUGUST = 1_754_006_400
JAN_2025 = 1_735_689_600
JAN_2026 = 1_767_225_600
MAY_LAST_DAY = JUNE - DAY
"""2025-05-31 00:00 UTC."""

WH_PER_MWH = 1_000_000
LIBRARY = factors.load()


def carbon_genesis() -> Any:
    genesis = cert_genesis()
    genesis.organisations.append(
        GenesisOrganisation(id=AUDITORS, name="Carbon auditors", roles=["carbon_verifier"])
    )
    genesis.accounts.append(
        GenesisAccount(id=REGULATOR, org=OPERATOR_ORG, public_key=key(REGULATOR).public_key,
                       roles=["regulator"])
    )  # fmt: skip
    genesis.accounts.append(
        GenesisAccount(id=VERIFIER, org=AUDITORS, public_key=key(VERIFIER).public_key,
                       roles=["carbon_verifier"])
    )  # fmt: skip
    return genesis


# factor sets from the library ------------------------------------------------------------------
def source(f: factors.Factor) -> dict[str, Any]:
    return {
        "factor_id": f.id,
        "publisher": f.publisher,
        "document": f.document,
        "year": f.year,
        "geography": f.geography,
    }


def electricity(f: factors.Factor) -> dict[str, Any]:
    """A library factor as an ElectricityFactor body (its gas and boundary as published)."""
    return {"g_per_mwh": f.value, "gas": f.gas, "boundary": f.boundary, "source": source(f)}


def grid_factor(geography: str, year: int) -> factors.Factor:
    """The library's own grid-average CO2 factor of ``geography`` (no fallback)."""
    match = factors.lookup(LIBRARY, geography, year, gas="CO2")
    assert match.path == (geography,), match.path
    return match.factor


def fuel(name: str) -> dict[str, Any]:
    """The IPCC 2006 default CO2 factor of a fuel, per GJ burnt."""
    f = factors.fuel_default(LIBRARY, name, gas="CO2")
    return {"fuel": name, "unit": "GJ", "g_per_unit": f.value, "gas": f.gas, "source": source(f)}


DEFAULT_FUELS = ("natural_gas", "gas_diesel_oil")


def factor_set_body(
    set_id: str,
    region: str,
    start_s: int,
    end_s: int,
    year: int = 2023,
    *,
    residual: bool = False,
    fuel_names: tuple[str, ...] = DEFAULT_FUELS,
    **changes: Any,
) -> dict[str, Any]:
    """A ``carbon.record_factor_set`` body for ``region`` from the library's factors of
    ``year`` (its own grid average; the national residual mix if ``residual``; the IPCC
    defaults of ``fuel_names``), with ``changes`` over it."""
    body: dict[str, Any] = {
        "id": set_id,
        "region": region,
        "start_s": start_s,
        "end_s": end_s,
        "library_version": LIBRARY.version,
        "gas": "CO2",
        "grid_average": electricity(grid_factor(region, year)),
        "fuels": [fuel(name) for name in fuel_names],
    }
    if residual:
        match = factors.lookup(LIBRARY, region, year, "residual_mix", gas="CO2")
        body["residual_mix"] = electricity(match.factor)
    body.update(changes)
    return body


def region_map_body() -> dict[str, Any]:
    """Every Chinese province of the library's map and its regional grid."""
    return {
        "provinces": {
            g.code: g.parent
            for g in LIBRARY.geographies
            if g.level == "provincial" and g.parent is not None
        }
    }


def grams(wh: int, g_per_mwh: int) -> int:
    """The documented rounding: grams of ``wh`` at ``g_per_mwh``, rounded down."""
    return wh * g_per_mwh // WH_PER_MWH


class CarbonLedger(CertLedger):
    """:class:`CertLedger` with the carbon genesis accounts and the carbon read model."""

    def __init__(self, block_time_ms: int | None = None, zone: str = "UTC") -> None:
        super().__init__(block_time_ms)
        self.state = committed_genesis_state(carbon_genesis())
        self.conn = sqlite3.connect(":memory:")
        self.model = CarbonTotals(zone)
        for ddl in self.model.tables:
            self.conn.execute(ddl)

    def committed(self, height: int, time_ms: int, changes: dict[bytes, bytes | None]) -> None:
        self.model.apply(self.conn, BlockFacts(height, time_ms, dict(sorted(changes.items()))))

    def refuse(self, sender: str, kind: str, body: dict[str, Any], code: str, **run: Any) -> str:
        """:meth:`CertLedger.refuse`, and the carbon read model is left as it was too."""
        before = self.tables()
        message = super().refuse(sender, kind, body, code, **run)
        assert self.tables() == before
        return message

    # setup -------------------------------------------------------------------------------------
    def record_set(self, body: dict[str, Any]) -> Receipt:
        return self.ok(REGULATOR, "carbon.record_factor_set", body)

    def guangdong(self) -> CarbonLedger:
        """CN-GD's factor sets: May 2025 from the 2022 figures, June and July from 2023's
        (neither with a residual mix); the national set of 2025 (2023 figures, with the
        national residual mix); the region map."""
        self.record_set(factor_set_body("cn-gd-2025-05", "CN-GD", MAY, JUNE, 2022))
        self.record_set(factor_set_body("cn-gd-2025-06", "CN-GD", JUNE, AUGUST, 2023))
        self.record_set(factor_set_body("cn-2025", "CN", JAN_2025, JAN_2026, 2023, residual=True))
        self.ok(REGULATOR, "carbon.set_region_map", region_map_body())
        return self

    def site(self, site: str, meter: str, region: str = "CN-GD", owner: str = CONSUMER,
             max_wh_per_hour: int = 5_000) -> CarbonLedger:  # fmt: skip
        """A site of ``owner``'s organisation with an hourly consumption meter."""
        body = site_body(site, grid_region=region, max_wh_per_hour=max_wh_per_hour)
        self.ok(owner, "registry.register_site", body)
        self.ok(GRID, "registry.register_meter",
                meter_body(meter, kind="consumption", site=site, interval_s=3600))  # fmt: skip
        return self

    def households(self) -> CarbonLedger:
        """pv-1 (house-00's 10 kW PV in CN-GD), home-1 (house-01, CN-GD, meter m-con) and
        home-2 (house-02, CN-GZ, meter m-con2: Guizhou, whose 2025 factors come from the
        regional grid or the country), all of the households organisation."""
        self.plant().home()
        return self.site("home-2", "m-con2", region="CN-GZ", owner=OTHER_HOUSE)

    # certificates ------------------------------------------------------------------------------
    def issue_hours(self, hours: list[int], device: str = "pv-1") -> list[str]:
        """Issue the hours to house-00; the new bundles' ids, in hour order."""
        self.issue(device, sorted(hours))
        return [self.active_bundle(device, hour) for hour in sorted(hours)]

    def active_bundle(self, device: str, hour: int, holder: str = PRODUCER) -> str:
        """The id of the holder's first active bundle of ``device`` produced in ``hour``."""
        for b in self.bundles(device):
            if (b["production_start_s"], b["owner"], b["status"]) == (hour, holder, "active"):
                return str(b["id"])
        raise AssertionError(f"no active bundle of {device} at {hour}")

    def claim_txs(self, bundle: str, site: str, quantity_wh: int | None = None,
                  beneficiary: str = CONSUMER, holder: str = PRODUCER) -> list[Any]:  # fmt: skip
        """The holder's cancellation of ``bundle`` (or its first ``quantity_wh``) for the
        beneficiary's consumption at ``site`` in the bundle's month, and the claim of the
        cancelled part (which keeps the bundle's id)."""
        found = get_bundle(self.state, bundle)
        assert found is not None, bundle
        start = found.production_start_s - found.production_start_s % HOUR
        body: dict[str, Any] = {"bundle": bundle, "beneficiary": beneficiary, "site": site,
                                "period_start_s": start, "period_end_s": start + HOUR}  # fmt: skip
        if quantity_wh is not None:
            body["quantity_wh"] = quantity_wh
        return [
            self.tx(holder, "certificates.cancel", body),
            self.tx(holder, "certificates.claim", {"bundle": bundle}),
        ]

    def claim(self, bundle: str, site: str, quantity_wh: int | None = None) -> None:
        """Cancel and claim ``bundle`` (or its first ``quantity_wh``) for ``site`` in one
        block."""
        receipts = self.run(*self.claim_txs(bundle, site, quantity_wh))
        assert all(r.ok for r in receipts), [(r.code, r.message) for r in receipts]

    def claimed_bundles(self, site: str) -> list[dict[str, Any]]:
        """Every claimed bundle cancelled for ``site``, as stored."""
        out = []
        for _, raw in self.state.scan(cert_keys.bundles()):
            b = decode_json(raw)
            if b["status"] == "claimed" and b["cancellation"]["site"] == site:
                out.append(b)
        return out

    # what the read model holds -----------------------------------------------------------------
    def site_inventory(self, site: str, start: str, end: str) -> Inventory:
        return carbon_inventory.site_inventory(self.conn, self.state, site, start, end)

    def org_inventory(self, org: str, start: str, end: str) -> Inventory:
        return carbon_inventory.org_inventory(self.conn, self.state, org, start, end)

    def tables(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every carbon table, sorted."""
        return {
            name: sorted(self.conn.execute(f"SELECT * FROM {name}").fetchall())
            for name in self.model.table_names
        }

    def month_row(self, site: str, month_s: int) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT consumption_wh, matched_wh, claimed_wh, readings, corrected "
            "FROM carbon_site_months WHERE site = ? AND month_s = ?",
            (site, month_s),
        ).fetchone()
        names = ("consumption_wh", "matched_wh", "claimed_wh", "readings", "corrected")
        return dict(zip(names, row or (0, 0, 0, 0, 0), strict=True))

    def factor_set(self, set_id: str) -> FactorSet:
        found = get_set(self.state, set_id)
        assert found is not None, set_id
        return found


__all__ = [
    "APRIL",
    "AUDITORS",
    "AUGUST",
    "CERTIFIER",
    "CONSUMER",
    "DAY",
    "DAY0",
    "GRID",
    "HOUR",
    "JAN_2025",
    "JAN_2026",
    "JULY",
    "JUNE",
    "LIBRARY",
    "MAY",
    "MAY_LAST_DAY",
    "OTHER_HOUSE",
    "PRODUCER",
    "REGULATOR",
    "VERIFIER",
    "CarbonLedger",
    "carbon_genesis",
    "electricity",
    "factor_set_body",
    "fuel",
    "grams",
    "grid_factor",
    "region_map_body",
]
