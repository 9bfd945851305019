"""A ledger for the products tests: a small supply chain on the carbon ledger.

Genesis (on top of :func:`carbon_support.carbon_genesis`): three manufacturers, each an
organisation (consumer) with one account: ``smelter`` (``alu-1``, aluminium ingots, counted
in kg), ``rimco`` (``rim-1``, wheel rims, pieces of 9 kg) and ``carco`` (``car-1``, cars,
pieces of 1,400 kg). :meth:`ProductLedger.chain` registers their types and a site each in
CN-GD with an hourly consumption meter (``m-<org>``), and Guangdong's factor sets.

Block time starts at 2025-05-01 00:00 UTC (:data:`START`); :meth:`ProductLedger.at` moves it.
:func:`check_conservation` recomputes from the stored records what the contract promises for
every batch: made = held + in transit + consumed + scrapped.
"""

from __future__ import annotations

from typing import Any

from carbon_support import MAY, VERIFIER, CarbonLedger, carbon_genesis
from gridledger.contracts import products
from gridledger.contracts.genesis import GenesisAccount, GenesisOrganisation
from gridledger.contracts.products import gs1, keys
from gridledger.contracts.products.records import Batch
from gridledger.core.types import Receipt
from gridledger.state.state import StateReader, decode_record
from ledger_support import GRID, GW1, meter_body, reading, site_body
from support import committed_genesis_state, key

SMELTER, RIMCO, CARCO = "smelter", "rimco", "carco"
ALU, RIM, CAR = "alu-1", "rim-1", "car-1"
ACCOUNT = {SMELTER: ALU, RIMCO: RIM, CARCO: CAR}
HOUR = 3600
START = MAY
"""2025-05-01 00:00 UTC."""


def gtin(body12: str) -> str:
    """A GTIN-14 from its first 13 digits' last 12 (a leading 0), with its check digit."""
    digits = "0" + body12
    return digits + str(gs1.check_digit(digits))


INGOT = gtin("695000000001")
RIM_GTIN = gtin("695000000002")
CAR_GTIN = gtin("695000000003")
"""GTIN-14s with GS1 China's 690-699 prefix."""


def products_genesis() -> Any:
    genesis = carbon_genesis()
    for org, name in ((SMELTER, "Aluminium smelter"), (RIMCO, "Wheel rims"), (CARCO, "Cars")):
        genesis.organisations.append(GenesisOrganisation(id=org, name=name, roles=["consumer"]))
        account = ACCOUNT[org]
        genesis.accounts.append(
            GenesisAccount(id=account, org=org, public_key=key(account).public_key,
                           roles=["consumer"])
        )  # fmt: skip
    return genesis


class ProductLedger(CarbonLedger):
    def __init__(self) -> None:
        super().__init__(block_time_ms=START * 1000)
        self.state = committed_genesis_state(products_genesis())

    def at(self, time_s: int) -> ProductLedger:
        """Later blocks carry this time."""
        self.block_time_ms = time_s * 1000
        return self

    @property
    def now(self) -> int:
        return self.block_time_ms // 1000

    def chain(self) -> ProductLedger:
        """Factor sets, the three manufacturers' sites and meters, and their product types."""
        self.guangdong()
        for org, account in ACCOUNT.items():
            body = site_body(f"site-{org}", name=f"{org} works", max_wh_per_hour=10**9)
            self.ok(account, "registry.register_site", body)
            self.ok(GRID, "registry.register_meter",
                    meter_body(f"m-{org}", kind="consumption", site=f"site-{org}",
                               interval_s=3600))  # fmt: skip
        self.ok(
            ALU,
            "products.register_type",
            {"gtin": INGOT, "name": "Aluminium ingot", "unit": "kg", "cn_code": "76011000"},
        )
        self.ok(RIM, "products.register_type",
                {"gtin": RIM_GTIN, "name": "Wheel rim", "unit": "unit", "unit_mass_g": 9000,
                 "cn_code": "87087010"})  # fmt: skip
        self.ok(
            CAR,
            "products.register_type",
            {"gtin": CAR_GTIN, "name": "Car", "unit": "unit", "unit_mass_g": 1_400_000},
        )
        return self

    def meter(self, org: str, start: int, wh_per_hour: list[int]) -> Receipt:
        batch = [
            reading(f"m-{org}", start + HOUR * i, wh, 3600) for i, wh in enumerate(wh_per_hour)
        ]
        return self.ok(GW1, "metering.submit", {"readings": batch})

    def start_batch(self, org: str, gtin_: str, lot: str) -> Receipt:
        return self.ok(ACCOUNT[org], "products.register_batch",
                       {"gtin": gtin_, "lot": lot, "site": f"site-{org}"})  # fmt: skip

    def complete(self, org: str, gtin_: str, lot: str, quantity: int) -> Receipt:
        return self.ok(ACCOUNT[org], "products.complete_batch",
                       {"gtin": gtin_, "lot": lot, "quantity": quantity})  # fmt: skip

    def make(self, org: str, gtin_: str, lot: str, quantity: int) -> ProductLedger:
        """A batch started and completed at the current block time (no metered hours)."""
        self.start_batch(org, gtin_, lot)
        self.complete(org, gtin_, lot, quantity)
        return self

    def ship(self, org: str, to: str, gtin_: str, lot: str, quantity: int) -> int:
        """Ship part of a batch; the shipment's number."""
        self.ok(ACCOUNT[org], "products.ship",
                {"gtin": gtin_, "lot": lot, "quantity": quantity, "to": to})  # fmt: skip
        found = products.get_batch(self.state, gtin_, lot)
        assert found is not None
        return found.shipments

    def deliver(self, org: str, to: str, gtin_: str, lot: str, quantity: int) -> None:
        n = self.ship(org, to, gtin_, lot, quantity)
        self.ok(ACCOUNT[to], "products.receive", {"gtin": gtin_, "lot": lot, "shipment": n})

    def consume(
        self, org: str, gtin_: str, lot: str, inputs: list[tuple[str, str, int]]
    ) -> Receipt:  # type: ignore[override]
        lines = [{"gtin": g, "lot": lt, "quantity": q} for g, lt, q in inputs]
        return self.ok(ACCOUNT[org], "products.consume",
                       {"gtin": gtin_, "lot": lot, "inputs": lines})  # fmt: skip

    def footprint(self, org: str, gtin_: str, lot: str, **extra: Any) -> products.Footprint:
        self.ok(ACCOUNT[org], "products.record_footprint", {"gtin": gtin_, "lot": lot, **extra})
        found = products.get_footprint(self.state, gtin_, lot)
        assert found is not None
        return found

    def activity(self, org: str, activity_id: str, month: str, quantity_gj: int) -> None:
        """Natural gas burnt at the org's site in ``month``, confirmed by the verifier."""
        self.ok(ACCOUNT[org], "carbon.report_activity",
                {"id": activity_id, "site": f"site-{org}", "month": month,
                 "fuel": "natural_gas", "quantity": quantity_gj, "unit": "GJ"})  # fmt: skip
        self.ok(VERIFIER, "carbon.confirm_activity", {"org": org, "id": activity_id})


def check_conservation(view: StateReader) -> None:
    """For every completed batch: made = held + in transit + consumed + scrapped, and every
    bill-of-materials line has its ``used_by`` twin."""
    for _, raw in view.scan(keys.batches()):
        batch = decode_record(raw, Batch)
        held = sum(products.holdings(view, batch.gtin, batch.lot).values())
        transit = sum(
            s.quantity
            for s in products.shipments_of(view, batch.gtin, batch.lot)
            if s.status == "in_transit"
        )
        assert batch.quantity == held + transit + batch.consumed + batch.scrapped, batch
        used = sum(q for _, _, q in products.used_in(view, batch.gtin, batch.lot))
        assert used == batch.consumed, batch
        for g, lt, q in products.bill_of_materials(view, batch.gtin, batch.lot):
            assert (batch.gtin, batch.lot, q) in products.used_in(view, g, lt)
