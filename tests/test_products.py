"""The products contract: GS1 identifiers, batches and items, custody, bills of materials,
footprints and authenticity, each refusal with its own code and nothing changed."""

from __future__ import annotations

from typing import Any

import pytest

from carbon_support import MAY, PRODUCER, grams
from certificates_support import DAY, DAY0
from gridledger.contracts import products
from gridledger.contracts.carbon import get_set
from gridledger.contracts.products import gs1
from products_support import (
    ALU,
    CAR,
    CAR_GTIN,
    CARCO,
    HOUR,
    INGOT,
    RIM,
    RIM_GTIN,
    RIMCO,
    SMELTER,
    ProductLedger,
    check_conservation,
)

JUNE_16 = DAY0 + DAY


@pytest.fixture
def led() -> ProductLedger:
    return ProductLedger().chain()


def g_per_mwh(led: ProductLedger, set_id: str, role: str = "grid_average") -> int:
    found = get_set(led.state, set_id)
    assert found is not None
    factor = getattr(found, role)
    assert factor is not None
    return int(factor.g_per_mwh)


# GS1 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "gtin", ["4006381333931", "09506000134352", "96385074", "036000291452", "00012345600012"]
)
def test_published_gtins_have_right_check_digits(gtin: str) -> None:
    assert gs1.valid_gtin(gtin)
    assert gs1.gtin14(gtin) == gtin.rjust(14, "0")


@pytest.mark.parametrize(
    "gtin", ["4006381333932", "0950600013435", "abcdefghijklm", "１２３４５６７８"]
)
def test_a_wrong_check_digit_or_length_is_not_a_gtin(gtin: str) -> None:
    assert not gs1.valid_gtin(gtin)


def test_digital_link_round_trips() -> None:
    uri = gs1.digital_link("9506000134352", lot="ABC123")
    assert uri == "https://id.gs1.org/01/09506000134352/10/ABC123"
    assert gs1.parse_digital_link(uri) == ("09506000134352", "ABC123", None)
    item = gs1.digital_link("09506000134352", serial="S-1", base="https://ledger.example/")
    assert item == "https://ledger.example/01/09506000134352/21/S-1"
    assert gs1.parse_digital_link(item + "?linkType=all") == ("09506000134352", None, "S-1")
    for bad in ("https://id.gs1.org/01/09506000134353", "https://x/01/09506000134352/22/A",
                "https://x/nothing", "https://x/01/09506000134352/10/a b"):  # fmt: skip
        with pytest.raises(ValueError, match=r"GTIN|identifier|/01/|lot or serial"):
            gs1.parse_digital_link(bad)


# registration -------------------------------------------------------------------------------
def test_types_batches_and_items_are_registered_once(led: ProductLedger) -> None:
    found = products.get_type(led.state, RIM_GTIN)
    assert found is not None
    assert (found.org, found.unit, found.unit_mass_g) == (RIMCO, "unit", 9000)
    led.refuse(RIM, "products.register_type", {"gtin": RIM_GTIN, "name": "x", "unit": "kg"},
               "products.type_exists")  # fmt: skip
    led.refuse(RIM, "products.register_type", {"gtin": "06950000000027", "name": "x",
               "unit": "kg"}, "products.invalid_gtin")  # fmt: skip
    led.refuse(RIM, "products.register_type", {"gtin": "6950000000026", "name": "x",
               "unit": "kg"}, "products.invalid_gtin")  # fmt: skip
    led.refuse(RIM, "products.register_type", {"gtin": "06950000000040", "name": "x",
               "unit": "unit"}, "products.invalid_product")  # fmt: skip
    led.start_batch(RIMCO, RIM_GTIN, "R1")
    led.refuse(RIM, "products.register_batch", {"gtin": RIM_GTIN, "lot": "R1",
               "site": "site-rimco"}, "products.batch_exists")  # fmt: skip
    led.refuse(ALU, "products.register_batch", {"gtin": RIM_GTIN, "lot": "R2",
               "site": "site-smelter"}, "products.not_manufacturer")  # fmt: skip
    led.refuse(RIM, "products.register_batch", {"gtin": RIM_GTIN, "lot": "R2",
               "site": "site-smelter"}, "products.unknown_site")  # fmt: skip
    led.refuse(RIM, "products.register_batch", {"gtin": RIM_GTIN, "lot": "R/2",
               "site": "site-rimco"}, "products.invalid_identifier")  # fmt: skip
    led.ok(RIM, "products.register_items", {"gtin": RIM_GTIN, "serials": ["S1", "S2"],
                                            "lot": "R1"})  # fmt: skip
    led.refuse(RIM, "products.register_items", {"gtin": RIM_GTIN, "serials": ["S3", "S2"]},
               "products.serial_exists")  # fmt: skip
    led.refuse(RIM, "products.register_items", {"gtin": RIM_GTIN, "serials": ["S4", "S4"]},
               "products.serial_exists")  # fmt: skip
    led.refuse(ALU, "products.register_items", {"gtin": RIM_GTIN, "serials": ["S5"]},
               "products.not_manufacturer")  # fmt: skip
    led.refuse(RIM, "products.register_items", {"gtin": RIM_GTIN, "serials": ["S5"],
               "lot": "R9"}, "products.unknown_batch")  # fmt: skip
    item = products.get_item(led.state, RIM_GTIN, "S1")
    assert item is not None
    assert (item.holder, item.status, item.lot, item.events) == (RIMCO, "held", "R1", 1)


def test_a_batch_completes_once_into_its_makers_stock(led: ProductLedger) -> None:
    led.start_batch(SMELTER, INGOT, "L1")
    assert products.holdings(led.state, INGOT, "L1") == {}
    led.refuse(ALU, "products.ship", {"gtin": INGOT, "lot": "L1", "quantity": 1, "to": RIMCO},
               "products.in_production")  # fmt: skip
    led.refuse(ALU, "products.complete_batch", {"gtin": INGOT, "lot": "L1", "quantity": 0},
               "products.bad_quantity")  # fmt: skip
    led.refuse(RIM, "products.complete_batch", {"gtin": INGOT, "lot": "L1", "quantity": 5},
               "products.not_manufacturer")  # fmt: skip
    led.complete(SMELTER, INGOT, "L1", 1000)
    led.refuse(ALU, "products.complete_batch", {"gtin": INGOT, "lot": "L1", "quantity": 5},
               "products.not_in_production")  # fmt: skip
    assert products.holdings(led.state, INGOT, "L1") == {SMELTER: 1000}


# custody of batches ---------------------------------------------------------------------------
def test_batch_quantities_move_only_by_their_holder(led: ProductLedger) -> None:
    led.make(SMELTER, INGOT, "L1", 1000)
    n = led.ship(SMELTER, RIMCO, INGOT, "L1", 300)
    ship = {"gtin": INGOT, "lot": "L1", "quantity": 1, "to": CARCO}
    led.refuse(RIM, "products.ship", ship, "products.not_holder")
    led.refuse(ALU, "products.ship", {**ship, "quantity": 701}, "products.bad_quantity")
    led.refuse(ALU, "products.ship", {**ship, "to": SMELTER}, "products.bad_custody")
    led.refuse(ALU, "products.ship", {**ship, "to": "nobody"}, "products.bad_custody")
    settle = {"gtin": INGOT, "lot": "L1", "shipment": n}
    led.refuse(CAR, "products.receive", settle, "products.not_consignee")
    led.refuse(RIM, "products.receive", {**settle, "shipment": 9}, "products.not_in_transit")
    assert products.holdings(led.state, INGOT, "L1") == {SMELTER: 700}
    led.ok(RIM, "products.receive", settle)
    led.refuse(RIM, "products.receive", settle, "products.not_in_transit")
    assert products.holdings(led.state, INGOT, "L1") == {RIMCO: 300, SMELTER: 700}
    m = led.ship(RIMCO, CARCO, INGOT, "L1", 100)
    led.ok(CAR, "products.return", {"gtin": INGOT, "lot": "L1", "shipment": m})
    led.ok(RIM, "products.scrap", {"gtin": INGOT, "lot": "L1", "quantity": 50})
    assert products.holdings(led.state, INGOT, "L1") == {RIMCO: 250, SMELTER: 700}
    custody = products.batch_custody(led.state, INGOT, "L1")
    assert custody is not None
    assert [(s.to_org, s.status) for s in custody.shipments] == [
        (RIMCO, "received"), (CARCO, "refused")]  # fmt: skip
    assert (custody.batch.scrapped, custody.in_transit) == (50, 0)
    check_conservation(led.state)


def test_a_bill_of_materials_never_takes_more_than_was_received(led: ProductLedger) -> None:
    led.make(SMELTER, INGOT, "L1", 1000)
    led.make(SMELTER, INGOT, "L2", 1000)
    led.deliver(SMELTER, RIMCO, INGOT, "L1", 400)
    led.ship(SMELTER, RIMCO, INGOT, "L2", 400)  # in transit: not received, not usable
    led.start_batch(RIMCO, RIM_GTIN, "R1")
    body: dict[str, Any] = {"gtin": RIM_GTIN, "lot": "R1",
                            "inputs": [{"gtin": INGOT, "lot": "L1", "quantity": 401}]}  # fmt: skip
    led.refuse(RIM, "products.consume", body, "products.over_consumption")
    two = [
        {"gtin": INGOT, "lot": "L1", "quantity": 10},
        {"gtin": INGOT, "lot": "L2", "quantity": 1},
    ]
    led.refuse(RIM, "products.consume", {**body, "inputs": two}, "products.over_consumption")
    led.refuse(ALU, "products.consume", {**body, "inputs": two[:1]}, "products.not_manufacturer")
    led.refuse(RIM, "products.consume", {**body, "inputs": [two[0], two[0]]},
               "products.invalid_identifier")  # fmt: skip
    led.consume(RIMCO, RIM_GTIN, "R1", [(INGOT, "L1", 250)])
    led.consume(RIMCO, RIM_GTIN, "R1", [(INGOT, "L1", 150)])
    led.refuse(RIM, "products.consume", {**body, "inputs": [{**two[0], "quantity": 1}]},
               "products.over_consumption")  # fmt: skip
    assert products.bill_of_materials(led.state, RIM_GTIN, "R1") == [(INGOT, "L1", 400)]
    led.complete(RIMCO, RIM_GTIN, "R1", 44)
    led.refuse(RIM, "products.consume", {**body, "inputs": [{**two[0], "quantity": 1}]},
               "products.not_in_production")  # fmt: skip
    check_conservation(led.state)


# custody of items -----------------------------------------------------------------------------
def test_items_move_through_their_holders(led: ProductLedger) -> None:
    led.ok(RIM, "products.register_items", {"gtin": RIM_GTIN, "serials": ["S1", "S2"]})
    led.ok(CAR, "products.register_items", {"gtin": CAR_GTIN, "serials": ["VIN1"]})
    item = {"gtin": RIM_GTIN, "serial": "S1"}
    led.refuse(CAR, "products.ship", {**item, "to": SMELTER}, "products.not_holder")
    led.refuse(RIM, "products.ship", {**item, "to": CARCO, "quantity": 1}, "products.bad_quantity")
    led.ok(RIM, "products.ship", {**item, "to": CARCO})
    led.refuse(RIM, "products.ship", {**item, "to": CARCO}, "products.bad_custody")
    led.refuse(ALU, "products.receive", item, "products.not_consignee")
    led.ok(CAR, "products.receive", item)
    led.refuse(RIM, "products.install", {**item, "parent_gtin": CAR_GTIN, "parent_serial": "VIN1"},
               "products.not_holder")  # fmt: skip
    led.ok(CAR, "products.install", {**item, "parent_gtin": CAR_GTIN, "parent_serial": "VIN1"})
    led.refuse(CAR, "products.ship", {**item, "to": RIMCO}, "products.bad_custody")
    # the rim moves with the car
    led.ok(CAR, "products.ship", {"gtin": CAR_GTIN, "serial": "VIN1", "to": SMELTER})
    led.ok(ALU, "products.receive", {"gtin": CAR_GTIN, "serial": "VIN1"})
    found = products.authenticate(led.state, RIM_GTIN, "S1", led.now, seen_at=SMELTER)
    assert (found.verdict, found.holder, found.installed_in) == ("genuine", SMELTER,
                                                                f"{CAR_GTIN}/VIN1")  # fmt: skip
    assert [e.type for e in found.events] == ["registered", "shipped", "received", "installed"]
    # a return goes back where it came from
    led.ok(ALU, "products.return", {"gtin": CAR_GTIN, "serial": "VIN1"})
    led.ok(CAR, "products.receive", {"gtin": CAR_GTIN, "serial": "VIN1"})
    led.refuse(RIM, "products.return", {"gtin": RIM_GTIN, "serial": "S2"}, "products.bad_custody")
    led.ok(RIM, "products.scrap", {"gtin": RIM_GTIN, "serial": "S2"})
    led.refuse(RIM, "products.scrap", {"gtin": RIM_GTIN, "serial": "S2"}, "products.bad_custody")


def test_authenticity_of_a_scanned_serial(led: ProductLedger) -> None:
    led.make(RIMCO, RIM_GTIN, "R1", 10)
    led.ok(RIM, "products.register_items", {"gtin": RIM_GTIN, "serials": ["S1", "S2", "S3"],
                                            "lot": "R1"})  # fmt: skip
    now = led.now
    assert products.authenticate(led.state, RIM_GTIN, "S1", now).verdict == "genuine"
    assert products.authenticate(led.state, RIM_GTIN, "S1", now, seen_at=RIMCO).verdict == "genuine"
    unknown = products.authenticate(led.state, RIM_GTIN, "S9", now)
    assert (unknown.verdict, unknown.reasons) == ("suspicious", ["unknown_serial"])
    twice = products.authenticate(led.state, RIM_GTIN, "S1", now, seen_at=CARCO)
    assert (twice.verdict, twice.reasons) == ("suspicious", ["two_holders"])
    led.ok(RIM, "products.ship", {"gtin": RIM_GTIN, "serial": "S2", "to": CARCO})
    early = products.authenticate(led.state, RIM_GTIN, "S2", now, seen_at=CARCO)
    assert (early.verdict, early.reasons) == ("suspicious", ["custody_gap"])
    assert products.authenticate(led.state, RIM_GTIN, "S2", now + 29 * DAY).verdict == "genuine"
    lost = products.authenticate(led.state, RIM_GTIN, "S2", now + 31 * DAY)
    assert lost.reasons == ["custody_gap"]
    led.ok(RIM, "products.scrap", {"gtin": RIM_GTIN, "serial": "S3"})
    assert products.authenticate(led.state, RIM_GTIN, "S3", now).reasons == ["scrapped"]
    led.ok(RIM, "products.recall", {"gtin": RIM_GTIN, "serial": "S1", "reason": "cracked"})
    led.refuse(RIM, "products.recall", {"gtin": RIM_GTIN, "serial": "S1", "reason": "again"},
               "products.already_recalled")  # fmt: skip
    led.refuse(ALU, "products.recall", {"gtin": RIM_GTIN, "lot": "R1", "reason": "x"},
               "products.not_manufacturer")  # fmt: skip
    recalled = products.authenticate(led.state, RIM_GTIN, "S1", now)
    assert (recalled.verdict, recalled.reasons) == ("recalled", ["item_recalled"])
    led.ok(RIM, "products.recall", {"gtin": RIM_GTIN, "lot": "R1", "reason": "alloy"})
    assert products.authenticate(led.state, RIM_GTIN, "S2", now).reasons == ["batch_recalled"]


# footprints -----------------------------------------------------------------------------------
def test_footprints_roll_up_the_supply_chain(led: ProductLedger) -> None:
    # the smelter: 4 MWh over four hours of May 1st and 100 GJ of gas in May
    led.start_batch(SMELTER, INGOT, "L1")
    led.at(MAY + 4 * HOUR).meter(SMELTER, MAY, [1_000_000] * 4)
    led.complete(SMELTER, INGOT, "L1", 1000)
    led.refuse(ALU, "products.record_footprint", {"gtin": INGOT, "lot": "L9"},
               "products.unknown_batch")  # fmt: skip
    # the rim maker: 360 kg of ingot into 40 rims on June 15th, 10:00-14:00
    led.at(DAY0 + 10 * HOUR).start_batch(RIMCO, RIM_GTIN, "R1")
    led.refuse(RIM, "products.record_footprint", {"gtin": RIM_GTIN, "lot": "R1"},
               "products.in_production")  # fmt: skip
    led.deliver(SMELTER, RIMCO, INGOT, "L1", 500)
    led.consume(RIMCO, RIM_GTIN, "R1", [(INGOT, "L1", 360)])
    led.at(DAY0 + 14 * HOUR).meter(RIMCO, DAY0 + 9 * HOUR, [7000, 2000, 3000, 4000, 5000, 6000])
    led.complete(RIMCO, RIM_GTIN, "R1", 40)
    led.at(JUNE_16)
    led.refuse(RIM, "products.record_footprint", {"gtin": RIM_GTIN, "lot": "R1"},
               "products.input_missing")  # fmt: skip
    led.activity(SMELTER, "gas-may", "2025-05", 100)
    ingot = led.footprint(SMELTER, INGOT, "L1")
    led.refuse(ALU, "products.record_footprint", {"gtin": INGOT, "lot": "L1"},
               "products.footprint_exists")  # fmt: skip
    led.refuse(ALU, "products.record_footprint", {"gtin": INGOT, "lot": "L1", "share_ppm": 0},
               "products.invalid_footprint")  # fmt: skip
    may = g_per_mwh(led, "cn-gd-2025-05")
    assert ingot.electricity.consumption_wh == 4_000_000
    assert ingot.electricity.location_g == grams(4_000_000, may)
    assert ingot.electricity.market_g == grams(4_000_000, may)  # no residual mix: grid average
    gas = products.get_footprint(led.state, INGOT, "L1")
    assert gas is not None
    (activity,) = [a for a in led_activities(led) if a.id == "gas-may"]
    assert ingot.direct.g == activity.emissions_g * 4 * HOUR // (31 * DAY)
    assert ingot.direct.activities == [f"{SMELTER}/gas-may"]
    assert ingot.total_location_g == ingot.direct.g + ingot.electricity.location_g
    assert (ingot.mass_g, ingot.default_g, ingot.gas) == (1_000_000, 0, "CO2")
    # rims: their own hours 10-13 (the 9:00 reading is before the batch) and 36 % of the ingot
    rim = led.footprint(RIMCO, RIM_GTIN, "R1")
    june = g_per_mwh(led, "cn-gd-2025-06")
    assert rim.electricity.consumption_wh == 2000 + 3000 + 4000 + 5000
    assert rim.electricity.location_g == grams(14_000, june)
    (share,) = rim.inputs
    assert (share.consumed, share.input_quantity, share.basis) == (360, 1000, "mass")
    assert share.direct_g == ingot.direct_g * 360 // 1000
    assert share.indirect_location_g == ingot.indirect_location_g * 360 // 1000
    assert rim.total_location_g == (rim.own_location_g + share.direct_g
                                    + share.indirect_location_g)  # fmt: skip
    assert rim.total_market_g == rim.own_market_g + share.direct_g + share.indirect_market_g


def led_activities(led: ProductLedger) -> list[Any]:
    from gridledger.contracts import carbon

    return carbon.activities_of(led.state, SMELTER)


def test_claimed_certificates_lower_the_market_based_footprint(led: ProductLedger) -> None:
    led.plant()
    led.at(DAY0 + 12 * HOUR).start_batch(RIMCO, RIM_GTIN, "R1")
    led.at(DAY0 + 14 * HOUR).meter(RIMCO, DAY0 + 12 * HOUR, [3000, 3000])
    led.generate("m-gen", DAY0 + 12 * HOUR, [1000, 1100, 1200, 1300])
    led.complete(RIMCO, RIM_GTIN, "R1", 10)
    led.at(JUNE_16)
    (bundle,) = led.issue_hours([DAY0 + 12 * HOUR])
    receipts = led.run(*led.claim_txs(bundle, "site-rimco", beneficiary=RIM, holder=PRODUCER))
    assert all(r.ok for r in receipts), [(r.code, r.message) for r in receipts]
    rim = led.footprint(RIMCO, RIM_GTIN, "R1", share_ppm=500_000)
    june = g_per_mwh(led, "cn-gd-2025-06")
    assert (rim.electricity.consumption_wh, rim.electricity.allocated_wh) == (6000, 3000)
    assert rim.electricity.covered_wh == 3000 // 2
    assert rim.electricity.location_g == grams(3000, june)
    assert rim.electricity.market_g == grams(1500, june)
    assert rim.total_market_g < rim.total_location_g


def test_default_inputs_count_as_default_data(led: ProductLedger) -> None:
    led.make(SMELTER, INGOT, "L1", 100)
    led.at(JUNE_16)
    body = {
        "id": "scrap-alu",
        "description": "aluminium scrap, CBAM default",
        "mass_g": 50_000,
        "direct_g_per_kg": 1500,
        "indirect_g_per_kg": 500,
        "gas": "CO2",
        "source": "EU 2023/1773",
    }
    led.refuse(ALU, "products.record_footprint", {"gtin": INGOT, "lot": "L1",
               "defaults": [{**body, "gas": "CO2e"}, {**body, "id": "b"}]},
               "products.mixed_gas")  # fmt: skip
    led.refuse(ALU, "products.record_footprint", {"gtin": INGOT, "lot": "L1",
               "defaults": [{**body, "mass_g": 0}]}, "products.invalid_footprint")  # fmt: skip
    fp = led.footprint(SMELTER, INGOT, "L1", defaults=[body])
    assert (fp.direct_g, fp.indirect_location_g, fp.default_g) == (75_000, 25_000, 100_000)
    assert fp.defaults[0].quality == "default"
    led.at(JUNE_16 + HOUR).start_batch(RIMCO, RIM_GTIN, "R1")
    led.deliver(SMELTER, RIMCO, INGOT, "L1", 100)
    led.consume(RIMCO, RIM_GTIN, "R1", [(INGOT, "L1", 9)])
    led.complete(RIMCO, RIM_GTIN, "R1", 1)
    rim = led.footprint(RIMCO, RIM_GTIN, "R1")
    assert (rim.inputs[0].quality, rim.default_g) == ("default", 9000)


def test_every_products_code_is_its_own_and_documented() -> None:
    from pathlib import Path

    from gridledger.core.errors import all_error_classes

    codes = [c.code for c in all_error_classes() if c.code.startswith("products.")]
    assert len(codes) == len(set(codes)) >= 20
    text = (Path(__file__).parent.parent / "docs" / "products.md").read_text()
    assert [c for c in codes if f"`{c}`" not in text] == []


def _supply_chain(clean_rims: bool) -> tuple[products.Footprint, products.Footprint]:
    """Ingot -> rims -> car on metered energy; the rim maker claims its hour's certificates
    when ``clean_rims``. The rims' and the car's footprints."""
    led = ProductLedger().chain()
    led.plant()
    led.at(DAY0 + 8 * HOUR).start_batch(SMELTER, INGOT, "L1")
    led.at(DAY0 + 10 * HOUR).meter(SMELTER, DAY0 + 8 * HOUR, [2_000_000, 2_000_000])
    led.complete(SMELTER, INGOT, "L1", 1000)
    led.start_batch(RIMCO, RIM_GTIN, "R1")
    led.deliver(SMELTER, RIMCO, INGOT, "L1", 36)
    led.consume(RIMCO, RIM_GTIN, "R1", [(INGOT, "L1", 36)])
    led.at(DAY0 + 13 * HOUR).meter(RIMCO, DAY0 + 12 * HOUR, [4000])
    led.generate("m-gen", DAY0 + 12 * HOUR, [1000, 1000, 1000, 1000])
    led.complete(RIMCO, RIM_GTIN, "R1", 4)
    led.ok(RIM, "products.register_items", {"gtin": RIM_GTIN, "serials": ["S1"], "lot": "R1"})
    led.start_batch(CARCO, CAR_GTIN, "C1")
    led.deliver(RIMCO, CARCO, RIM_GTIN, "R1", 4)
    led.consume(CARCO, CAR_GTIN, "C1", [(RIM_GTIN, "R1", 4)])
    led.at(DAY0 + 15 * HOUR).meter(CARCO, DAY0 + 13 * HOUR, [8000, 8000])
    led.complete(CARCO, CAR_GTIN, "C1", 1)
    led.at(JUNE_16)
    if clean_rims:
        (bundle,) = led.issue_hours([DAY0 + 12 * HOUR])
        receipts = led.run(*led.claim_txs(bundle, "site-rimco", beneficiary=RIM, holder=PRODUCER))
        assert all(r.ok for r in receipts)
    led.footprint(SMELTER, INGOT, "L1")
    rims = led.footprint(RIMCO, RIM_GTIN, "R1")
    car = led.footprint(CARCO, CAR_GTIN, "C1")
    return rims, car


def test_the_rim_makers_clean_power_lowers_the_cars_footprint() -> None:
    grey_rims, grey_car = _supply_chain(clean_rims=False)
    clean_rims, clean_car = _supply_chain(clean_rims=True)
    saved = grey_rims.electricity.market_g - clean_rims.electricity.market_g
    assert saved > 0
    assert clean_rims.electricity.covered_wh == 4000
    # the car carries all four rims: it saves exactly what the rims saved, market-based only
    assert grey_car.total_market_g - clean_car.total_market_g == saved
    assert grey_car.total_location_g == clean_car.total_location_g
    (share,) = clean_car.inputs
    assert (share.gtin, share.basis, share.consumed) == (RIM_GTIN, "units", 4)
