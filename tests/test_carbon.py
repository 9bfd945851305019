"""Carbon accounting through the executor: factor sets and their lookup, scope 1 activity data
and its verification, and inventories from the carbon read model (scope 2 by both methods,
annual and hourly matching side by side, scope 1, avoided emissions, fallbacks).

Every refusal runs alone in a block and must leave every key but the sender's nonce, and every
row of the carbon read model, as it was (``CarbonLedger.refuse``), with its own error code.
Factor values come from the shipped factor library; expected figures are computed from the
factors the ledger stored, with the documented rounding (grams rounded down once per site and
month), so each assertion checks the rule rather than a copied number.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from carbon_support import (
    AUDITORS,
    AUGUST,
    CERTIFIER,
    CONSUMER,
    DAY,
    DAY0,
    GRID,
    HOUR,
    JAN_2025,
    JAN_2026,
    JULY,
    JUNE,
    LIBRARY,
    MAY,
    MAY_LAST_DAY,
    OTHER_HOUSE,
    PRODUCER,
    REGULATOR,
    VERIFIER,
    CarbonLedger,
    electricity,
    factor_set_body,
    fuel,
    grams,
    grid_factor,
    region_map_body,
)
from gridledger import factors
from gridledger.contracts import carbon
from gridledger.contracts.carbon import keys
from gridledger.core.errors import InvalidTransaction, all_error_classes
from gridledger.readmodels.carbon_inventory import Inventory
from ledger_support import meter_body, reading, site_body
from support import OPERATOR

NOON = DAY0 + 12 * HOUR
"""2025-06-15 12:00 UTC."""
EVENING = DAY0 + 19 * HOUR
NOON_WH = [1000, 1100, 1200, 1300]
"""pv-1's quarter hours at noon: 4,600 Wh."""
REPORT = "carbon.report_activity"
CONFIRM = "carbon.confirm_activity"
REJECT = "carbon.reject_activity"
RECORD = "carbon.record_factor_set"


def month_s(year: int, month: int) -> int:
    return int(dt.datetime(year, month, 1, tzinfo=dt.UTC).timestamp())


@pytest.fixture
def led() -> CarbonLedger:
    """pv-1, home-1 (CN-GD), home-2 (CN-GZ) and the 2025 factor sets of CN-GD and CN."""
    return CarbonLedger().households().guangdong()


def g_per_mwh(led: CarbonLedger, set_id: str, role: str = "grid_average") -> int:
    found = led.factor_set(set_id)
    factor = found.grid_average if role == "grid_average" else found.residual_mix
    assert factor is not None
    return factor.g_per_mwh


def only_month(inv: Inventory) -> Any:
    (row,) = inv.months
    return row


# factor sets -------------------------------------------------------------------------------
def test_a_regulator_records_a_factor_set_with_its_sources() -> None:
    led = CarbonLedger()
    body = factor_set_body("cn-gd-2025", "CN-GD", JAN_2025, JAN_2026, 2023)
    receipt = led.record_set(body)
    assert receipt.events == [
        {"type": "carbon.factor_set_recorded", "id": "cn-gd-2025", "region": "CN-GD"}
    ]
    stored = led.factor_set("cn-gd-2025")
    published = grid_factor("CN-GD", 2023)
    assert (stored.region, stored.start_s, stored.end_s, stored.gas) == (
        "CN-GD", JAN_2025, JAN_2026, "CO2",
    )  # fmt: skip
    assert stored.grid_average.g_per_mwh == published.value
    assert stored.grid_average.source.factor_id == published.id
    assert stored.grid_average.source.document == published.document
    assert stored.residual_mix is None
    assert stored.fuel("natural_gas") is not None
    assert (stored.recorded_by, stored.height, stored.library_version) == (
        REGULATOR, led.height, LIBRARY.version,
    )  # fmt: skip
    found = carbon.factor_for(led.state, "CN-GD", JUNE)
    assert (found.set.id, found.path, found.fallback) == ("cn-gd-2025", ["CN-GD"], False)


def test_the_national_grid_factors_go_on_the_ledger_as_published() -> None:
    """China's national grid averages: 0.5568 (2021), 0.5366 (2022), 0.5306 kgCO2/kWh (2023),
    each in force for a year of its own."""
    led = CarbonLedger()
    for year, expected in ((2021, 556_800), (2022, 536_600), (2023, 530_600)):
        start, end = month_s(year + 2, 1), month_s(year + 3, 1)
        led.record_set(factor_set_body(f"cn-{year}", "CN", start, end, year))
        assert led.factor_set(f"cn-{year}").grid_average.g_per_mwh == expected
        assert carbon.factor_for(led.state, "CN", start + 40 * DAY).set.id == f"cn-{year}"


@pytest.mark.parametrize("sender", [OPERATOR, CONSUMER, VERIFIER, CERTIFIER, GRID])
def test_only_a_regulator_records_factor_sets_and_region_maps(sender: str) -> None:
    led = CarbonLedger()
    body = factor_set_body("cn-2025", "CN", JAN_2025, JAN_2026)
    assert led.refuse(sender, RECORD, body, "auth.forbidden")
    assert led.refuse(sender, "carbon.set_region_map", region_map_body(), "auth.forbidden")
    assert carbon.sets_of(led.state, "CN") == []
    assert carbon.region_map(led.state).provinces == {}


def test_sets_of_one_region_never_overlap() -> None:
    led = CarbonLedger()
    led.record_set(factor_set_body("cn-gd-h1", "CN-GD", JAN_2025, JULY))
    for start, end in ((JUNE, AUGUST), (month_s(2024, 12), MAY), (MAY, JUNE), (JAN_2025, JULY),
                       (month_s(2024, 1), JAN_2026)):  # fmt: skip
        message = led.refuse(
            REGULATOR, RECORD, factor_set_body("other", "CN-GD", start, end),
            "carbon.factor_overlap",
        )  # fmt: skip
        assert "cn-gd-h1" in message
    # the next months, and the same months of other regions, are fine
    led.record_set(factor_set_body("cn-gd-h2", "CN-GD", JULY, JAN_2026))
    led.record_set(factor_set_body("cn-gd-2024", "CN-GD", month_s(2024, 1), JAN_2025, 2022))
    led.record_set(factor_set_body("cn-south-h1", "CN-SOUTH", JAN_2025, JULY))
    led.record_set(factor_set_body("cn-h1", "CN", JAN_2025, JULY, residual=True))
    assert [s.id for s in carbon.sets_of(led.state, "CN-GD")] == [
        "cn-gd-2024", "cn-gd-h1", "cn-gd-h2",
    ]  # fmt: skip
    assert carbon.factor_for(led.state, "CN-GD", JULY - 1).set.id == "cn-gd-h1"
    assert carbon.factor_for(led.state, "CN-GD", JULY).set.id == "cn-gd-h2"


def test_co2_and_co2e_never_mix_in_a_set() -> None:
    led = CarbonLedger()
    co2_grid = factor_set_body("s", "CN", JAN_2025, JAN_2026)
    message = led.refuse(REGULATOR, RECORD, {**co2_grid, "gas": "CO2e"}, "carbon.gas_mismatch")
    assert "grid_average is CO2" in message
    # a residual mix or a fuel in another gas than the set's
    residual_e = {**electricity(grid_factor("CN", 2023)), "gas": "CO2e"}
    body = {**co2_grid, "residual_mix": residual_e}
    assert "residual_mix" in led.refuse(REGULATOR, RECORD, body, "carbon.gas_mismatch")
    fuel_e = {**fuel("natural_gas"), "gas": "CO2e"}
    body = {**co2_grid, "fuels": [fuel("gas_diesel_oil"), fuel_e]}
    assert "natural_gas" in led.refuse(REGULATOR, RECORD, body, "carbon.gas_mismatch")
    assert carbon.sets_of(led.state, "CN") == []


def test_life_cycle_figures_are_refused() -> None:
    """codecarbon's per-country factors are life-cycle CO2e: not a scope 2 factor."""
    led = CarbonLedger()
    life_cycle = factors.lookup(LIBRARY, "CN", 2023, gas="CO2e", boundary="life_cycle").factor
    body = factor_set_body("s", "CN", JAN_2025, JAN_2026, gas="CO2e", fuel_names=(),
                           grid_average=electricity(life_cycle))  # fmt: skip
    message = led.refuse(REGULATOR, RECORD, body, "carbon.boundary_mismatch")
    assert "life_cycle" in message


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (JUNE + DAY, JULY),  # starts mid-month
        (JUNE, JULY + HOUR),  # ends mid-month
        (JUNE, JUNE),
        (JULY, JUNE),
        (JAN_2025, month_s(2035, 2)),  # more than ten years
        (-DAY, JUNE),
    ],
)
def test_a_set_covers_whole_months(start: int, end: int) -> None:
    led = CarbonLedger()
    body = factor_set_body("s", "CN-GD", start, end)
    assert led.refuse(REGULATOR, RECORD, body, "carbon.bad_period")


def test_a_set_id_is_used_once() -> None:
    led = CarbonLedger()
    led.record_set(factor_set_body("cn-2025", "CN", JAN_2025, JAN_2026))
    body = factor_set_body("cn-2025", "CN-GD", JAN_2025, JAN_2026)
    assert "cn-2025" in led.refuse(REGULATOR, RECORD, body, "carbon.factor_set_exists")


@pytest.mark.parametrize(
    "changes",
    [
        {"region": "cn-gd"},
        {"region": "CN/GD"},
        {"id": "a/b"},
        {"id": ""},
        {"fuels": [fuel("natural_gas"), fuel("natural_gas")]},
        {"grid_average": {**electricity(grid_factor("CN-GD", 2023)), "g_per_mwh": 5_000_001}},
        {"library_version": ""},
    ],
)
def test_malformed_factor_sets_are_refused(changes: dict[str, Any]) -> None:
    led = CarbonLedger()
    body = {**factor_set_body("s", "CN-GD", JAN_2025, JAN_2026), **changes}
    assert led.refuse(REGULATOR, RECORD, body, "carbon.invalid_factor_set")


def test_the_lookup_falls_back_from_province_to_regional_grid_to_country() -> None:
    led = CarbonLedger()
    led.record_set(factor_set_body("cn-2025", "CN", JAN_2025, JAN_2026, residual=True))
    # no region map yet: straight to the country
    found = carbon.factor_for(led.state, "CN-GD", JUNE)
    assert (found.set.id, found.path, found.fallback) == ("cn-2025", ["CN-GD", "CN"], True)
    led.ok(REGULATOR, "carbon.set_region_map", region_map_body())
    assert carbon.fallback_path(led.state, "CN-GD") == ["CN-GD", "CN-SOUTH", "CN"]
    found = carbon.factor_for(led.state, "CN-GD", JUNE)
    assert (found.set.id, found.path) == ("cn-2025", ["CN-GD", "CN-SOUTH", "CN"])
    led.record_set(factor_set_body("south-2025", "CN-SOUTH", JAN_2025, JAN_2026))
    found = carbon.factor_for(led.state, "CN-GD", JUNE)
    assert (found.set.id, found.path, found.fallback) == (
        "south-2025", ["CN-GD", "CN-SOUTH"], True,
    )  # fmt: skip
    led.record_set(factor_set_body("gd-2025", "CN-GD", JAN_2025, JAN_2026))
    found = carbon.factor_for(led.state, "CN-GD", JUNE)
    assert (found.set.id, found.path, found.fallback) == ("gd-2025", ["CN-GD"], False)
    # a regional grid and the country look up themselves first
    assert carbon.factor_for(led.state, "CN-SOUTH", JUNE).path == ["CN-SOUTH"]
    assert carbon.factor_for(led.state, "CN", JUNE).path == ["CN"]
    # Inner Mongolia belongs to no single regional grid: province, then country
    assert carbon.factor_for(led.state, "CN-NM", JUNE).path == ["CN-NM", "CN"]


def test_no_factor_without_a_fallback() -> None:
    led = CarbonLedger()
    led.record_set(factor_set_body("cn-2025", "CN", JAN_2025, JAN_2026))
    led.ok(REGULATOR, "carbon.set_region_map", region_map_body())
    for region, time_s, path in (
        ("CN-GD", JAN_2025 - 1, "CN-GD -> CN-SOUTH -> CN"),  # the year before
        ("CN-GD", JAN_2026, "CN-GD -> CN-SOUTH -> CN"),  # the year after
        ("US-CA", JUNE, "US-CA -> US"),  # another country
    ):
        with pytest.raises(InvalidTransaction) as refused:
            carbon.factor_for(led.state, region, time_s)
        assert refused.value.code == "carbon.no_factor"
        assert path in refused.value.message


@pytest.mark.parametrize(
    "provinces",
    [{"CN-GD": "US-WEST"}, {"CN-GD": "CN-GD"}, {}, {"cn-gd": "CN-SOUTH"}, {"CN-GD": "CN/S"}],
)
def test_malformed_region_maps_are_refused(provinces: dict[str, str]) -> None:
    led = CarbonLedger()
    body = {"provinces": provinces}
    assert led.refuse(REGULATOR, "carbon.set_region_map", body, "carbon.invalid_region_map")


# activity data -----------------------------------------------------------------------------
def activity(activity_id: str = "a1", site: str = "home-1", month: str = "2025-05",
             fuel_name: str = "natural_gas", quantity: int = 120, unit: str = "GJ",
             **changes: Any) -> dict[str, Any]:  # fmt: skip
    body = {"id": activity_id, "site": site, "month": month, "fuel": fuel_name,
            "quantity": quantity, "unit": unit}  # fmt: skip
    body.update(changes)
    return body


def stored_activity(led: CarbonLedger, org: str, activity_id: str) -> carbon.Activity:
    found = led.state.get_record(keys.activity(org, activity_id), carbon.Activity)
    assert found is not None
    return found


def test_activity_is_reported_with_its_emissions_and_confirmed_by_a_verifier(
    led: CarbonLedger,
) -> None:
    receipt = led.ok(CONSUMER, REPORT, activity())
    per_gj = fuel("natural_gas")["g_per_unit"]
    assert per_gj == 56_100  # IPCC 2006 default for natural gas, 56,100 kgCO2/TJ
    assert receipt.events == [
        {"type": "carbon.activity_reported", "id": "a1", "org": "households",
         "emissions_g": 120 * per_gj},
    ]  # fmt: skip
    found = stored_activity(led, "households", "a1")
    assert (found.emissions_g, found.gas, found.factor_set, found.factor_path) == (
        120 * per_gj, "CO2", "cn-gd-2025-05", ["CN-GD"],
    )  # fmt: skip
    assert (found.status, found.reported_by, found.unit, found.quantity) == (
        "reported", CONSUMER, "GJ", 120,
    )  # fmt: skip
    receipt = led.ok(VERIFIER, CONFIRM, {"org": "households", "id": "a1", "note": "invoices"})
    assert receipt.events == [{"type": "carbon.activity_confirmed", "org": "households",
                               "id": "a1"}]  # fmt: skip
    found = stored_activity(led, "households", "a1")
    assert (found.status, found.verifier, found.verifier_note, found.verified_height) == (
        "confirmed", VERIFIER, "invoices", led.height,
    )  # fmt: skip


def test_activity_records_the_fallback_its_factor_came_from(led: CarbonLedger) -> None:
    led.ok(OTHER_HOUSE, REPORT, activity(site="home-2", fuel_name="gas_diesel_oil", quantity=7))
    found = stored_activity(led, "households", "a1")
    assert (found.factor_set, found.factor_path) == ("cn-2025", ["CN-GZ", "CN-SOUTH", "CN"])
    assert found.emissions_g == 7 * fuel("gas_diesel_oil")["g_per_unit"]


@pytest.mark.parametrize("unit", ["t", "gj", "", "kWh"])
def test_activity_in_a_wrong_unit_is_refused(led: CarbonLedger, unit: str) -> None:
    message = led.refuse(CONSUMER, REPORT, activity(unit=unit), "carbon.wrong_unit")
    assert "GJ" in message


def test_activity_without_a_unit_is_refused(led: CarbonLedger) -> None:
    body = activity()
    del body["unit"]
    assert led.refuse(CONSUMER, REPORT, body, "carbon.wrong_unit")


def test_activity_of_a_fuel_without_a_factor_is_refused(led: CarbonLedger) -> None:
    message = led.refuse(CONSUMER, REPORT, activity(fuel_name="hydrogen"), "carbon.unknown_fuel")
    assert "cn-gd-2025-05" in message


def test_activity_at_another_organisations_site_is_refused(led: CarbonLedger) -> None:
    message = led.refuse(GRID, REPORT, activity(), "carbon.foreign_site")
    assert "households" in message
    assert led.refuse(CONSUMER, REPORT, activity(site="nowhere"), "carbon.unknown_site")


def test_activity_of_a_month_not_ended_is_refused(led: CarbonLedger) -> None:
    message = led.refuse(CONSUMER, REPORT, activity(month="2025-06"), "carbon.invalid_activity")
    assert "not ended" in message
    # from the first second of July, June has ended
    led.ok(CONSUMER, REPORT, activity(month="2025-06"), block_time_ms=JULY * 1000)


@pytest.mark.parametrize("month", ["2025-13", "2025-00", "2025-5 ", "２０２５-05", "25-05",
                                   "2025/05", "1969-12"])  # fmt: skip
def test_activity_month_is_one_spelling_of_a_month(led: CarbonLedger, month: str) -> None:
    """Only ``YYYY-MM`` in ASCII digits: a month spelt otherwise would be counted in no
    inventory (and could be reported twice)."""
    assert led.refuse(CONSUMER, REPORT, activity(month=month), "carbon.invalid_activity")


def test_activity_without_a_factor_in_force_is_refused(led: CarbonLedger) -> None:
    message = led.refuse(CONSUMER, REPORT, activity(month="2024-12"), "carbon.no_factor")
    assert "CN-GD -> CN-SOUTH -> CN" in message


@pytest.mark.parametrize("quantity", [0, -5, 2**62])
def test_activity_quantity_is_positive_and_in_range(led: CarbonLedger, quantity: int) -> None:
    assert led.refuse(CONSUMER, REPORT, activity(quantity=quantity), "carbon.invalid_activity")


def test_activity_ids_are_unique_per_organisation(led: CarbonLedger) -> None:
    led.ok(CONSUMER, REPORT, activity())
    body = activity(month="2025-04", quantity=3)
    assert led.refuse(OTHER_HOUSE, REPORT, body, "carbon.activity_exists")
    # another organisation may use the same id
    led.ok(GRID, "registry.register_site", site_body("audit-office", owner_org=AUDITORS))
    led.ok(VERIFIER, REPORT, activity(site="audit-office"))
    assert stored_activity(led, AUDITORS, "a1").site == "audit-office"


@pytest.mark.parametrize("sender", [CONSUMER, REGULATOR, OPERATOR, CERTIFIER])
def test_only_a_carbon_verifier_confirms_or_rejects(led: CarbonLedger, sender: str) -> None:
    led.ok(CONSUMER, REPORT, activity())
    ref = {"org": "households", "id": "a1", "note": "checked"}
    assert led.refuse(sender, CONFIRM, ref, "auth.forbidden")
    assert led.refuse(sender, REJECT, ref, "auth.forbidden")
    assert stored_activity(led, "households", "a1").status == "reported"


def test_a_verifier_never_verifies_its_own_organisation(led: CarbonLedger) -> None:
    led.ok(GRID, "registry.register_site", site_body("audit-office", owner_org=AUDITORS))
    led.ok(VERIFIER, REPORT, activity(site="audit-office"))
    ref = {"org": AUDITORS, "id": "a1", "note": "mine"}
    assert VERIFIER in led.refuse(VERIFIER, CONFIRM, ref, "carbon.self_verification")
    assert led.refuse(VERIFIER, REJECT, ref, "carbon.self_verification")


def test_activity_is_verified_once(led: CarbonLedger) -> None:
    led.ok(CONSUMER, REPORT, activity("a1"))
    led.ok(CONSUMER, REPORT, activity("a2"))
    led.ok(VERIFIER, CONFIRM, {"org": "households", "id": "a1"})
    led.ok(VERIFIER, REJECT, {"org": "households", "id": "a2", "note": "no invoice"})
    for activity_id, status in (("a1", "confirmed"), ("a2", "rejected")):
        for kind in (CONFIRM, REJECT):
            ref = {"org": "households", "id": activity_id, "note": "again"}
            assert status in led.refuse(VERIFIER, kind, ref, "carbon.already_verified")


def test_a_rejection_gives_its_reason(led: CarbonLedger) -> None:
    led.ok(CONSUMER, REPORT, activity())
    ref = {"org": "households", "id": "a1"}
    assert "reason" in led.refuse(VERIFIER, REJECT, ref, "carbon.invalid_activity")
    assert led.refuse(VERIFIER, REJECT, {**ref, "note": ""}, "carbon.invalid_activity")
    led.ok(VERIFIER, REJECT, {**ref, "note": "meter photos missing"})
    found = stored_activity(led, "households", "a1")
    assert (found.status, found.verifier_note) == ("rejected", "meter photos missing")


def test_verifying_unknown_activity_is_refused(led: CarbonLedger) -> None:
    ref = {"org": "households", "id": "nope"}
    assert led.refuse(VERIFIER, CONFIRM, ref, "carbon.unknown_activity")


# inventories: location-based ---------------------------------------------------------------
def test_location_based_is_consumption_times_the_grid_factor_per_site_month(
    led: CarbonLedger,
) -> None:
    """May at the 2022 factor, June at 2023's; grams rounded down once per site and month
    (three 1,000 Wh readings are 3,000 Wh of the month, not three roundings)."""
    led.consume("m-con", MAY_LAST_DAY + 10 * HOUR, 1234)
    led.consume("m-con", MAY_LAST_DAY + 11 * HOUR, 999)
    for h in (17, 18, 19):
        led.consume("m-con", DAY0 + h * HOUR, 1000)
    may, june = g_per_mwh(led, "cn-gd-2025-05"), g_per_mwh(led, "cn-gd-2025-06")
    assert (may, june) == (grid_factor("CN-GD", 2022).value, grid_factor("CN-GD", 2023).value)
    inv = led.site_inventory("home-1", "2025-05", "2025-06")
    assert [(r.month, r.consumption_wh, r.location_g, r.grid.set) for r in inv.months] == [
        ("2025-05", 2233, grams(2233, may), "cn-gd-2025-05"),
        ("2025-06", 3000, grams(3000, june), "cn-gd-2025-06"),
    ]
    assert grams(3000, june) > 3 * grams(1000, june)  # rounded once, not per reading
    assert inv.scope2_location_g == grams(2233, may) + grams(3000, june)
    assert (inv.consumption_wh, inv.readings, inv.corrected, inv.gas) == (5233, 5, 0, "CO2")
    # no certificate: both market-based figures are the location-based one (no residual mix)
    assert inv.scope2_market_volume_g == inv.scope2_market_hourly_g == inv.scope2_location_g
    # one month alone, and the organisation
    assert led.site_inventory("home-1", "2025-06", "2025-06").scope2_location_g == grams(3000, june)
    org = led.org_inventory("households", "2025-05", "2025-06")
    assert org.scope2_location_g == inv.scope2_location_g
    assert [r.site for r in org.months] == ["home-1", "home-1"]


def test_months_are_the_chains_local_months() -> None:
    """In a chain of Asia/Shanghai (UTC+8), 2025-05-31 17:00 UTC is 1 June: the hour counts in
    June, at June's factor set, on every page, report and summary alike; a UTC chain counts
    it in May."""
    figures = {}
    for zone in ("Asia/Shanghai", "UTC"):
        led = CarbonLedger(zone=zone).households().guangdong()
        led.consume("m-con", MAY_LAST_DAY + 10 * HOUR, 1000)  # 18:00 on 31 May in Shanghai
        led.consume("m-con", MAY_LAST_DAY + 17 * HOUR, 2000)  # 01:00 on 1 June in Shanghai
        inv = led.site_inventory("home-1", "2025-05", "2025-06")
        assert inv.time_zone == zone
        figures[zone] = [(r.month, r.consumption_wh, r.grid.set) for r in inv.months]
        org = led.org_inventory("households", "2025-06", "2025-06")
        assert org.consumption_wh == (2000 if zone != "UTC" else 0)
    assert figures["Asia/Shanghai"] == [
        ("2025-05", 1000, "cn-gd-2025-05"),
        ("2025-06", 2000, "cn-gd-2025-06"),
    ]
    assert figures["UTC"] == [("2025-05", 3000, "cn-gd-2025-05")]


def test_sites_of_other_regions_use_their_own_factors(led: CarbonLedger) -> None:
    led.consume("m-con", EVENING, 3000)
    led.consume("m-con2", EVENING, 4000)
    gd, cn = g_per_mwh(led, "cn-gd-2025-06"), g_per_mwh(led, "cn-2025")
    org = led.org_inventory("households", "2025-06", "2025-06")
    assert [(r.site, r.location_g) for r in org.months] == [
        ("home-1", grams(3000, gd)), ("home-2", grams(4000, cn)),
    ]  # fmt: skip
    assert org.scope2_location_g == grams(3000, gd) + grams(4000, cn)


# inventories: market-based -----------------------------------------------------------------
def solar_noon(led: CarbonLedger) -> str:
    """pv-1 metered 4,600 Wh at noon on 2025-06-15, issued to house-00; the bundle's id."""
    led.generate("m-gen", NOON, NOON_WH)
    (bundle,) = led.issue_hours([NOON])
    return bundle


def test_noon_certificates_cover_evening_consumption_by_volume_not_by_the_hour(
    led: CarbonLedger,
) -> None:
    bundle = solar_noon(led)
    led.consume("m-con", EVENING, 3000)
    led.consume("m-con", EVENING + HOUR, 2000)
    led.claim(bundle, "home-1")
    f = g_per_mwh(led, "cn-gd-2025-06")
    row = only_month(led.site_inventory("home-1", "2025-06", "2025-06"))
    assert (row.consumption_wh, row.claimed_wh, row.covered_volume_wh, row.matched_hourly_wh) == (
        5000, 4600, 4600, 0,
    )  # fmt: skip
    assert row.location_g == grams(5000, f)
    assert row.market_volume_g == grams(400, f)  # the uncovered 400 Wh
    assert row.market_hourly_g == grams(5000, f)  # no certificate of the evening hours
    assert row.residual.role == "residual_is_grid_average"
    # consumption at noon is matched hour by hour, up to the noon certificates
    led.consume("m-con", NOON, 1000)
    inv = led.site_inventory("home-1", "2025-06", "2025-06")
    row = only_month(inv)
    assert (row.consumption_wh, row.covered_volume_wh, row.matched_hourly_wh) == (6000, 4600, 1000)
    assert (inv.scope2_location_g, inv.scope2_market_volume_g, inv.scope2_market_hourly_g) == (
        grams(6000, f), grams(1400, f), grams(5000, f),
    )  # fmt: skip


def test_the_residual_mix_is_used_where_the_set_has_one(led: CarbonLedger) -> None:
    """home-2 (Guizhou) falls back to the national set, which has a residual mix; home-1's
    Guangdong set has none, so its grid average stands in, disclosed."""
    bundle = solar_noon(led)
    led.consume("m-con2", EVENING, 3000)
    led.consume("m-con", EVENING, 3000)
    led.claim(bundle, "home-2", 1000)
    grid, residual = g_per_mwh(led, "cn-2025"), g_per_mwh(led, "cn-2025", "residual_mix")
    assert residual == factors.lookup(LIBRARY, "CN", 2023, "residual_mix", gas="CO2").factor.value
    assert residual != grid
    inv = led.site_inventory("home-2", "2025-06", "2025-06")
    row = only_month(inv)
    assert (row.location_g, row.market_volume_g, row.market_hourly_g) == (
        grams(3000, grid), grams(2000, residual), grams(3000, residual),
    )  # fmt: skip
    assert (row.residual.role, row.residual.g_per_mwh, row.residual.set) == (
        "residual_mix", residual, "cn-2025",
    )  # fmt: skip
    assert row.residual.source.factor_id == "mee-nbs:residual_mix:CN:2023"
    # fallbacks are disclosed with the path taken
    assert inv.fallbacks == ["CN-GZ -> CN"]
    assert {(f.role, tuple(f.path), f.fallback) for f in inv.factors} == {
        ("grid_average", ("CN-GZ", "CN-SOUTH", "CN"), True),
        ("residual_mix", ("CN-GZ", "CN-SOUTH", "CN"), True),
    }
    home = led.site_inventory("home-1", "2025-06", "2025-06")
    assert home.fallbacks == []
    assert {(f.role, f.g_per_mwh, f.fallback) for f in home.factors} == {
        ("grid_average", g_per_mwh(led, "cn-gd-2025-06"), False),
        ("residual_is_grid_average", g_per_mwh(led, "cn-gd-2025-06"), False),
    }
    # a regional set for 2025 shortens the path; it has no residual mix either
    led.record_set(factor_set_body("south-2025", "CN-SOUTH", JAN_2025, JAN_2026))
    inv = led.site_inventory("home-2", "2025-06", "2025-06")
    assert inv.fallbacks == ["CN-GZ -> CN-SOUTH"]
    assert only_month(inv).residual.role == "residual_is_grid_average"


def test_certificates_never_change_the_location_based_figure(led: CarbonLedger) -> None:
    plain = CarbonLedger().households().guangdong()
    for ledger in (led, plain):
        ledger.consume("m-con", NOON, 1000)
        ledger.consume("m-con", EVENING, 2500)
    led.claim(solar_noon(led), "home-1")
    solar_noon(plain)  # issued, not claimed
    with_claim = led.site_inventory("home-1", "2025-06", "2025-06")
    without = plain.site_inventory("home-1", "2025-06", "2025-06")
    assert with_claim.scope2_location_g == without.scope2_location_g > 0
    assert with_claim.months[0].location_g == without.months[0].location_g
    assert with_claim.scope2_market_volume_g == 0  # 4,600 Wh claimed cover all 3,500 Wh
    assert 0 < with_claim.scope2_market_hourly_g < without.scope2_market_hourly_g
    assert without.scope2_market_volume_g == without.scope2_location_g
    # certificates beyond consumption cover nothing more and are never netted below zero
    assert with_claim.covered_volume_wh == 3500
    assert with_claim.claimed_wh == 4600


def test_annual_matching_stays_within_a_calendar_year() -> None:
    """Certificates of December 2025 cover December's consumption, never January 2026's."""
    dec, feb = month_s(2025, 12), month_s(2026, 2)
    led = CarbonLedger(block_time_ms=feb * 1000).households()
    led.record_set(factor_set_body("cn-2025", "CN", JAN_2025, JAN_2026, residual=True))
    led.record_set(factor_set_body("cn-2026", "CN", JAN_2026, month_s(2027, 1), residual=True))
    dec_noon = dec + 14 * DAY + 4 * HOUR
    led.generate("m-gen", dec_noon, [2000] * 4)
    led.consume("m-con", dec + 20 * DAY, 1000)
    led.consume("m-con", JAN_2026 + 20 * DAY, 4000)
    led.claim(led.issue_hours([dec_noon])[0], "home-1")
    inv = led.site_inventory("home-1", "2025-12", "2026-01")
    assert [(r.month, r.claimed_wh, r.covered_volume_wh) for r in inv.months] == [
        ("2025-12", 8000, 1000), ("2026-01", 0, 0),
    ]  # fmt: skip
    residual_2026 = g_per_mwh(led, "cn-2026", "residual_mix")
    assert inv.months[1].market_volume_g == grams(4000, residual_2026)
    # within the year, a later month's certificates cover an earlier month's consumption,
    # in time order
    led.consume("m-con", month_s(2025, 11) + 20 * DAY, 3000)
    inv = led.site_inventory("home-1", "2025-11", "2026-01")
    assert [(r.month, r.covered_volume_wh) for r in inv.months] == [
        ("2025-11", 3000), ("2025-12", 1000), ("2026-01", 0),
    ]  # fmt: skip


# inventories: scope 1 and avoided emissions -------------------------------------------------
def test_scope_1_gives_confirmed_and_reported_apart(led: CarbonLedger) -> None:
    led.ok(CONSUMER, REPORT, activity("gas-may", quantity=100))
    led.ok(CONSUMER, REPORT, activity("diesel-may", fuel_name="gas_diesel_oil", quantity=3))
    led.ok(CONSUMER, REPORT, activity("gas-april", month="2025-04", quantity=50))
    led.ok(OTHER_HOUSE, REPORT, activity("home-2-may", site="home-2", quantity=10))
    led.ok(CONSUMER, REPORT, activity("bad", quantity=999))
    led.ok(VERIFIER, CONFIRM, {"org": "households", "id": "gas-may"})
    led.ok(VERIFIER, CONFIRM, {"org": "households", "id": "home-2-may"})
    led.ok(VERIFIER, REJECT, {"org": "households", "id": "bad", "note": "duplicate invoice"})
    gas, diesel = fuel("natural_gas")["g_per_unit"], fuel("gas_diesel_oil")["g_per_unit"]
    site = led.site_inventory("home-1", "2025-05", "2025-05").scope1
    assert (site.confirmed_g, site.reported_g, site.rejected) == (100 * gas, 3 * diesel, 1)
    assert sorted(a.id for a in site.activities) == ["bad", "diesel-may", "gas-may"]
    org = led.org_inventory("households", "2025-05", "2025-05").scope1
    assert (org.confirmed_g, org.reported_g, org.rejected) == (110 * gas, 3 * diesel, 1)
    spring = led.org_inventory("households", "2025-04", "2025-05").scope1
    assert spring.reported_g == 3 * diesel + 50 * gas
    # scope 1 is never in scope 2
    inv = led.org_inventory("households", "2025-05", "2025-05")
    assert inv.scope2_location_g == inv.scope2_market_volume_g == 0


def test_avoided_emissions_of_plants_and_of_a_households_clean_choice(led: CarbonLedger) -> None:
    led.generate("m-gen", NOON, NOON_WH)
    led.generate("m-gen", NOON + HOUR, [500] * 4)
    led.generate("m-gen", MAY_LAST_DAY + 12 * HOUR, [700] * 4)
    led.claim(led.issue_hours([NOON])[0], "home-1", 1500)
    led.consume("m-con", EVENING, 2000)
    may, june = g_per_mwh(led, "cn-gd-2025-05"), g_per_mwh(led, "cn-gd-2025-06")
    org = led.org_inventory("households", "2025-05", "2025-06")
    assert [(p.device, p.month, p.generation_wh, p.readings, p.avoided_g) for p in org.plants] == [
        ("pv-1", "2025-05", 2800, 4, grams(2800, may)),
        ("pv-1", "2025-06", 6600, 8, grams(6600, june)),
    ]
    home = led.site_inventory("home-1", "2025-05", "2025-06")
    assert home.avoided_g == only_month(home).avoided_g == grams(1500, june)
    assert home.plants == []
    # a corrected generation reading changes the plant's month by the difference
    led.correct("m-gen", NOON + HOUR, 100)
    org = led.org_inventory("households", "2025-06", "2025-06")
    assert [(p.generation_wh, p.avoided_g) for p in org.plants] == [(6200, grams(6200, june))]


def test_a_batterys_discharge_avoids_nothing(led: CarbonLedger) -> None:
    """Stored energy was generated, and counted as avoided, before it was stored."""
    led.storage()
    led.generate("m-bat", EVENING, [800] * 4)
    led.generate("m-gen", NOON, NOON_WH)
    org = led.org_inventory("households", "2025-06", "2025-06")
    assert [p.device for p in org.plants] == ["pv-1"]
    assert led.tables()["carbon_device_months"] == [
        ("bat-1", JUNE, 3200, 4), ("pv-1", JUNE, 4600, 4),
    ]  # fmt: skip


def test_a_converted_gec_counts_in_volume_never_hour_by_hour(led: CarbonLedger) -> None:
    """A GEC cancelled into a bundle of its month's 1 MWh: claimed for a site, it covers the
    month's consumption by volume only."""
    led.plant("pv-big", "m-big", capacity_w=5_000_000)
    for hour in (MAY + 9 * DAY + 4 * HOUR, MAY + 9 * DAY + 5 * HOUR):
        led.generate("m-big", hour, [400_000] * 4)
    gec = {"gec": "GEC-0001", "project": "Big PV", "device": "pv-big", "month": "2025-05",
           "tradable": True, "owner": PRODUCER}  # fmt: skip
    led.ok(CERTIFIER, "certificates.record_gec", gec)
    led.ok(PRODUCER, "certificates.cancel_gec", {"gec": "GEC-0001"})
    led.consume("m-con", MAY + 9 * DAY + 4 * HOUR, 3000)  # in a production hour, even
    led.claim("pv-big:1", "home-1", 2000)
    led.claim("pv-big:2001", "home-1", 500)
    assert led.tables()["carbon_claimed_long"] == [("home-1", MAY, 2500)]
    row = only_month(led.site_inventory("home-1", "2025-05", "2025-05"))
    assert (row.claimed_wh, row.matched_hourly_wh, row.covered_volume_wh) == (2500, 0, 2500)
    f = g_per_mwh(led, "cn-gd-2025-05")
    assert (row.market_volume_g, row.market_hourly_g) == (grams(500, f), grams(3000, f))


# inventories: gases, corrections, claims ---------------------------------------------------
FIXTURE_CO2E = {
    "g_per_mwh": 450_000,
    "gas": "CO2e",
    "boundary": "combustion",
    "source": {
        "factor_id": "fixture:co2e:CN-GD",
        "publisher": "GridLedger test fixture",
        "document": "not a published figure: a CO2e set for the mixed-gas rule",
        "year": 2025,
        "geography": "CN-GD",
    },
}


def test_an_inventory_never_sums_co2_with_co2e() -> None:
    led = CarbonLedger(block_time_ms=(JULY + DAY) * 1000).households()
    led.site("home-3", "m-con3", owner=OTHER_HOUSE)
    led.record_set(factor_set_body("gd-may", "CN-GD", MAY, JUNE, 2022))
    co2e_fuel = {**fuel("natural_gas"), "gas": "CO2e",
                 "source": {**FIXTURE_CO2E["source"], "factor_id": "fixture:co2e:gas"}}  # fmt: skip
    led.record_set(factor_set_body("gd-june-co2e", "CN-GD", JUNE, JULY, gas="CO2e",
                                   grid_average=FIXTURE_CO2E, fuels=[co2e_fuel]))  # fmt: skip
    led.record_set(factor_set_body("cn-2025", "CN", JAN_2025, JAN_2026))
    led.consume("m-con", MAY_LAST_DAY, 1000)
    led.consume("m-con", DAY0, 1000)
    assert led.site_inventory("home-1", "2025-05", "2025-05").gas == "CO2"
    assert led.site_inventory("home-1", "2025-06", "2025-06").gas == "CO2e"
    for inventory in (
        lambda: led.site_inventory("home-1", "2025-05", "2025-06"),
        lambda: led.org_inventory("households", "2025-05", "2025-06"),
    ):
        with pytest.raises(InvalidTransaction) as refused:
            inventory()
        assert refused.value.code == "carbon.mixed_gas"
        assert "CO2 and CO2e" in refused.value.message
    # scope 1 alone: fuel burnt in May (CO2) and in June (CO2e) at a site with no readings
    led.ok(OTHER_HOUSE, REPORT, activity("may", site="home-3"))
    led.ok(OTHER_HOUSE, REPORT, activity("june", site="home-3", month="2025-06"))
    assert led.site_inventory("home-3", "2025-06", "2025-06").gas == "CO2e"
    with pytest.raises(InvalidTransaction) as refused:
        led.site_inventory("home-3", "2025-05", "2025-06")
    assert refused.value.code == "carbon.mixed_gas"
    # scope 1 in CO2 (home-2, Guizhou: the national set) beside scope 2 in CO2e (home-1)
    assert led.site_inventory("home-1", "2025-06", "2025-06").gas == "CO2e"
    led.ok(OTHER_HOUSE, REPORT, activity("gz", site="home-2", month="2025-06"))
    assert led.site_inventory("home-2", "2025-06", "2025-06").gas == "CO2"
    with pytest.raises(InvalidTransaction) as refused:
        led.org_inventory("households", "2025-06", "2025-06")
    assert refused.value.code == "carbon.mixed_gas"


def test_meter_corrections_change_the_totals_by_their_difference(led: CarbonLedger) -> None:
    bundle = solar_noon(led)
    led.consume("m-con", NOON, 1000)
    led.consume("m-con", EVENING, 3000)
    led.claim(bundle, "home-1")
    f = g_per_mwh(led, "cn-gd-2025-06")

    def figures() -> tuple[int, int, int, int, int]:
        row = only_month(led.site_inventory("home-1", "2025-06", "2025-06"))
        return (row.consumption_wh, row.matched_hourly_wh, row.location_g, row.readings,
                row.corrected)  # fmt: skip

    assert figures() == (4000, 1000, grams(4000, f), 2, 0)
    led.correct("m-con", EVENING, 2500)  # down 500 Wh
    assert figures() == (3500, 1000, grams(3500, f), 2, 1)
    led.correct("m-con", EVENING, 3200)  # a second correction counts from the first
    assert figures() == (4200, 1000, grams(4200, f), 2, 1)
    led.correct("m-con", NOON, 400)  # matched falls with the noon consumption
    assert figures() == (3600, 400, grams(3600, f), 2, 2)
    led.correct("m-con", NOON, 5000)  # and rises up to the noon certificates
    assert figures() == (8200, 4600, grams(8200, f), 2, 2)


def test_a_correction_in_the_block_of_its_reading(led: CarbonLedger) -> None:
    submit = led.tx(
        "gw-1", "metering.submit", {"readings": [reading("m-con", EVENING, 3000, 3600)]}
    )
    body = {"meter": "m-con", "start": EVENING, "energy_wh": 1800, "reason": "meter swap"}
    correct = led.tx(GRID, "metering.correct", body)
    assert all(r.ok for r in led.run(submit, correct))
    assert led.month_row("home-1", JUNE) == {
        "consumption_wh": 1800, "matched_wh": 0, "claimed_wh": 0, "readings": 1, "corrected": 1,
    }  # fmt: skip


def test_a_daily_reading_counts_in_its_month_never_in_an_hour(led: CarbonLedger) -> None:
    """A day's consumption says nothing about its hours: no hourly match, whatever was claimed
    for the day's first hour."""
    led.ok(CONSUMER, "registry.register_site", site_body("flat-e"))
    led.ok(GRID, "registry.register_meter",
           meter_body("m-daily", kind="consumption", site="flat-e", interval_s=86_400))  # fmt: skip
    midnight = DAY0
    led.generate("m-gen", midnight, [600] * 4)  # 2,400 Wh in the day's first hour
    led.ok("gw-1", "metering.submit", {"readings": [reading("m-daily", DAY0, 30_000, 86_400)]})
    led.claim(led.issue_hours([midnight])[0], "flat-e")
    assert led.month_row("flat-e", JUNE) == {
        "consumption_wh": 30_000, "matched_wh": 0, "claimed_wh": 2400, "readings": 1,
        "corrected": 0,
    }  # fmt: skip
    assert led.tables()["carbon_site_hours"] == [("flat-e", midnight, 0, 2400)]
    led.correct("m-daily", DAY0, 24_000)
    assert led.month_row("flat-e", JUNE)["consumption_wh"] == 24_000
    row = only_month(led.site_inventory("flat-e", "2025-06", "2025-06"))
    f = g_per_mwh(led, "cn-gd-2025-06")
    assert (row.covered_volume_wh, row.matched_hourly_wh, row.market_hourly_g) == (
        2400, 0, grams(24_000, f),
    )  # fmt: skip


def test_a_claim_counts_in_one_inventory_only(led: CarbonLedger) -> None:
    bundle = solar_noon(led)
    led.consume("m-con", EVENING, 5000)
    led.consume("m-con2", EVENING, 5000)
    led.claim(bundle, "home-1")
    again = led.refuse(PRODUCER, "certificates.claim", {"bundle": bundle},
                       "certificates.not_cancelled")  # fmt: skip
    assert "claimed" in again
    body = {"bundle": bundle, "beneficiary": OTHER_HOUSE, "site": "home-2",
            "period_start_s": NOON, "period_end_s": NOON + HOUR}  # fmt: skip
    assert led.refuse(PRODUCER, "certificates.cancel", body, "certificates.not_live")
    assert led.site_inventory("home-1", "2025-06", "2025-06").claimed_wh == 4600
    assert led.site_inventory("home-2", "2025-06", "2025-06").claimed_wh == 0
    org = led.org_inventory("households", "2025-06", "2025-06")
    assert (org.claimed_wh, org.covered_volume_wh) == (4600, 4600)
    assert [b["quantity_wh"] for b in led.claimed_bundles("home-1")] == [4600]


def test_cancelling_for_another_site_moves_exactly_its_emissions() -> None:
    """10,000 Wh of noon certificates claimed for home-1 or for home-3 (both CN-GD, both the
    households'): the market-based figures swap by exactly 10 kWh x 441.9 g/kWh, nothing else
    changes."""
    ledgers = []
    for site in ("home-1", "home-3"):
        led = CarbonLedger().households().guangdong()
        led.site("home-3", "m-con3", owner=OTHER_HOUSE)
        led.generate("m-gen", NOON, [2500] * 4)
        for meter in ("m-con", "m-con3"):
            led.consume(meter, EVENING, 5000)
            led.consume(meter, EVENING + HOUR, 5000)
        led.claim(led.issue_hours([NOON])[0], site)
        ledgers.append(led)
    first, second = ledgers
    f = g_per_mwh(first, "cn-gd-2025-06")
    moved = grams(10_000, f)
    assert moved * 1_000_000 == 10_000 * f  # exact: no rounding in this example

    def market(led: CarbonLedger, site: str) -> tuple[int, int, int]:
        inv = led.site_inventory(site, "2025-06", "2025-06")
        return inv.scope2_location_g, inv.scope2_market_volume_g, inv.claimed_wh

    full = grams(10_000, f)
    assert market(first, "home-1") == (full, full - moved, 10_000)
    assert market(first, "home-3") == (full, full, 0)
    assert market(second, "home-1") == (full, full, 0)
    assert market(second, "home-3") == (full, full - moved, 10_000)
    a = first.org_inventory("households", "2025-06", "2025-06")
    b = second.org_inventory("households", "2025-06", "2025-06")
    for name in ("scope2_location_g", "scope2_market_volume_g", "scope2_market_hourly_g",
                 "claimed_wh", "covered_volume_wh", "consumption_wh"):  # fmt: skip
        assert getattr(a, name) == getattr(b, name), name


# the read model ----------------------------------------------------------------------------
def test_the_read_model_keeps_the_registry_it_needs(led: CarbonLedger) -> None:
    tables = led.tables()
    assert tables["carbon_sites"] == [("home-1", "households", "CN-GD"),
                                      ("home-2", "households", "CN-GZ")]  # fmt: skip
    assert tables["carbon_devices"] == [("pv-1", "households", "CN-GD", "solar_pv")]
    assert tables["carbon_meters"] == [
        ("m-con", "consumption", "home-1", None, 3600),
        ("m-con2", "consumption", "home-2", None, 3600),
        ("m-gen", "generation", None, "pv-1", 900),
    ]


# inventory requests ------------------------------------------------------------------------
def test_every_carbon_refusal_has_a_code_of_its_own() -> None:
    """The inventory's refusals beside the contract's: one class per code."""
    codes = [c.code for c in all_error_classes() if c.code.startswith("carbon.")]
    assert len(codes) == len(set(codes)), sorted(codes)
    assert {"carbon.bad_period", "carbon.mixed_gas", "carbon.unknown_subject"} <= set(codes)


@pytest.mark.parametrize(
    ("start", "end"),
    [("2025-07", "2025-06"), ("2025-6", "2025-06"), ("2015-01", "2025-06"), ("June", "July"),
     ("2025-06", "2025-13")],
)  # fmt: skip
def test_an_inventory_covers_1_to_120_whole_months(led: CarbonLedger, start: str, end: str) -> None:
    with pytest.raises(InvalidTransaction) as refused:
        led.site_inventory("home-1", start, end)
    assert refused.value.code == "carbon.bad_period"
    assert led.site_inventory("home-1", "2016-01", "2025-12").consumption_wh == 0  # 120 months


def test_an_inventory_of_an_unknown_subject_is_refused(led: CarbonLedger) -> None:
    for inventory in (led.site_inventory, led.org_inventory):
        with pytest.raises(InvalidTransaction) as refused:
            inventory("nobody", "2025-06", "2025-06")
        assert refused.value.code == "carbon.unknown_subject"


def test_an_inventory_without_a_factor_is_refused(led: CarbonLedger) -> None:
    led.site("us-1", "m-us", region="US-CA")
    led.consume("m-us", EVENING, 1000)
    with pytest.raises(InvalidTransaction) as refused:
        led.site_inventory("us-1", "2025-06", "2025-06")
    assert refused.value.code == "carbon.no_factor"
    # a month without data needs no factor
    assert led.site_inventory("us-1", "2025-05", "2025-05").months == []
