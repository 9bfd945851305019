"""The supply-chain demo: aluminium ingot -> wheel rim -> car, on metered energy, where the rim
maker's clean-power choice lowers the car maker's footprint.

A chain of its own in a new home (``gridledger products demo --home DIR``), driven by a
:class:`~gridledger.sim.community.SimClock` over one June day in Guangdong (2025-06-21, a sunny
day of the demo community's), with the regulator's factor sets from the shipped library
(:mod:`gridledger.sim.carbon`) and the region map:

* ``smelter`` (account ``alu-1``) melts batch ``L1`` of ingots, 1,000 kg, over six metered
  hours of its works (2 MWh an hour) and burns natural gas (its June activity data, confirmed
  by the carbon verifier ``verifier`` of the ``auditors``);
* ``rimco`` (``rim-1``) casts two batches of four 9 kg rims from 36 kg of ``L1`` each, on
  two successive midday hours of 40 kWh: ``R-GREY`` on grid power, ``R-CLEAN`` covered hour
  by hour by certificates of the ``solar`` co-operative's 100 kW rooftop plant (``pv-1``),
  which the certifier ``cert`` issues and ``sun`` cancels and claims for the rim works;
* ``carco`` (``car-1``) assembles two cars, ``C-GREY`` with the grey rims and ``C-CLEAN``
  with the clean ones, over the same two afternoon hours (its works metered identically), and
  registers their VINs; the rims are serialised and installed into the cars.

Every footprint is recorded by the contract; :func:`run_supply_chain` returns the figures,
and the home can be served (``gridledger node --home DIR``) to browse the passports and scan
the parts in the web interface.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from gridledger.contracts import products
from gridledger.contracts.genesis import GenesisAccount
from gridledger.contracts.products import gs1
from gridledger.core.crypto import SigningKey, sha256
from gridledger.core.types import Transaction
from gridledger.factors import load as load_library
from gridledger.node.home import init_home, open_node
from gridledger.sim import carbon
from gridledger.sim.community import SimClock

CHAIN_ID = "gridledger-supply-chain"
PASSPHRASE_DEFAULT = "supply chain demo"
DAY = dt.date(2025, 6, 21)
HOUR = 3600
INGOT = "0695000000001" + str(gs1.check_digit("0695000000001"))
RIM = "0695000000002" + str(gs1.check_digit("0695000000002"))
CAR = "0695000000003" + str(gs1.check_digit("0695000000003"))
ORGS = {
    "smelter": ("Pearl River Aluminium", "alu-1"),
    "rimco": ("Shekou Wheels", "rim-1"),
    "carco": ("Qianhai Motors", "car-1"),
    "solar": ("Shekou Solar Co-operative", "sun"),
    "auditors": ("Carbon auditors", "verifier"),
}


def key(name: str) -> SigningKey:
    """The demo's keys derive from the account names (a demo, not a secret)."""
    return SigningKey.from_seed(sha256(b"gridledger-supply-chain/" + name.encode()))


class _Chain:
    def __init__(self, home: Path, passphrase: str, start_s: int) -> None:
        self.clock = SimClock(start_s * 1000)
        self.node = open_node(home, passphrase, clock=self.clock, block_interval_ms=20,
                              verify_workers=0)  # fmt: skip
        self.node.start()
        self.nonces: dict[str, int] = {}

    def at(self, time_s: int) -> None:
        self.clock.advance_to(time_s * 1000)

    def do(self, sender: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        nonce = self.nonces.get(sender, 0) + 1
        self.nonces[sender] = nonce
        tx = Transaction(CHAIN_ID, kind, sender, nonce, body)
        tx.signature = key(sender).sign(tx.signing_bytes())
        stored = self.node.wait_receipt(self.node.submit(tx.encode()), 30)
        if stored is None:
            raise RuntimeError(f"{kind} of {sender} did not commit")
        receipt: dict[str, Any] = json.loads(stored.receipt)
        if receipt["status"] != "ok":
            raise RuntimeError(f"{kind} of {sender}: {receipt['code']}: {receipt['message']}")
        return receipt

    def readings(self, meter: str, start_s: int, wh: list[int], length_s: int = HOUR) -> None:
        rows = [{"meter": meter, "start": start_s + length_s * i, "length_s": length_s,
                 "energy_wh": v} for i, v in enumerate(wh)]  # fmt: skip
        self.do("gw", "metering.submit", {"readings": rows})


def _accounts() -> list[GenesisAccount]:
    own = [("demo-op", ["operator"]), ("reg", ["regulator"]), ("grid", ["grid_operator"]),
           ("gw", []), ("cert", ["certifier"])]  # fmt: skip
    return [GenesisAccount(id=a, org="operator", public_key=key(a).public_key, roles=r)
            for a, r in own]  # fmt: skip


def _site(org: str, site: str) -> dict[str, Any]:
    return {"site": site, "name": f"{ORGS[org][0]} works", "country": "CN",
            "grid_region": "CN-GD", "max_wh_per_hour": 10**9, "owner_org": org}  # fmt: skip


def run_supply_chain(home: Path, passphrase: str = PASSPHRASE_DEFAULT) -> dict[str, Any]:
    """Build the chain of the module docstring in ``home`` (new or empty); its figures."""
    day0 = int(dt.datetime(DAY.year, DAY.month, DAY.day, tzinfo=dt.UTC).timestamp())
    init_home(home, passphrase, chain_id=CHAIN_ID, genesis_time=(day0 - 86_400) * 1000,
              accounts=_accounts())  # fmt: skip
    c = _Chain(home, passphrase, day0 - 3600)
    try:
        library = load_library()
        c.do("reg", "carbon.set_region_map", carbon.region_map_body(library))
        for body in carbon.factor_sets(library, "CN-GD", day0, day0 + 86_400):
            c.do("reg", "carbon.record_factor_set", body)
        roles = {"solar": ["producer", "consumer"], "auditors": ["carbon_verifier"]}
        for org, (name, account) in ORGS.items():
            org_roles = roles.get(org, ["consumer"])
            c.do("demo-op", "registry.add_organisation", {"org": org, "name": name,
                                                          "roles": org_roles})  # fmt: skip
            c.do("demo-op", "registry.add_account", {"account": account, "org": org,
                 "public_key": key(account).public_key, "roles": org_roles})  # fmt: skip
        for org in ("smelter", "rimco", "carco"):
            c.do("grid", "registry.register_site", _site(org, f"works-{org}"))
            c.do("grid", "registry.register_meter", {"meter": f"m-{org}", "kind": "consumption",
                 "site": f"works-{org}", "gateway": "gw", "interval_s": HOUR})  # fmt: skip
        c.do("sun", "registry.register_device", {
            "device": "pv-1", "name": "Shekou rooftop PV", "technology": "solar_pv",
            "fuel": "solar", "capacity_w": 100_000, "commissioned": "2024-03-01",
            "country": "CN", "grid_region": "CN-GD", "latitude_udeg": 22_482_000,
            "longitude_udeg": 113_914_000, "support": "none"})  # fmt: skip
        c.do("grid", "registry.register_meter", {"meter": "m-pv-1", "kind": "generation",
             "device": "pv-1", "gateway": "gw", "interval_s": HOUR})  # fmt: skip
        types = [("alu-1", INGOT, "Aluminium ingot", "kg", None, "76011000"),
                 ("rim-1", RIM, "Wheel rim", "unit", 9000, "87087010"),
                 ("car-1", CAR, "Passenger car", "unit", 1_400_000, "87032310")]  # fmt: skip
        for account, gtin, name, unit, mass, cn in types:
            body = {"gtin": gtin, "name": name, "unit": unit, "unit_mass_g": mass, "cn_code": cn}
            c.do(account, "products.register_type", {k: v for k, v in body.items() if v})
        # the smelter: 00:00-06:00, 2 MWh an hour
        c.at(day0)
        c.do("alu-1", "products.register_batch", {"gtin": INGOT, "lot": "L1",
                                                  "site": "works-smelter"})  # fmt: skip
        c.at(day0 + 6 * HOUR)
        c.readings("m-smelter", day0, [2_000_000] * 6)
        c.do("alu-1", "products.complete_batch", {"gtin": INGOT, "lot": "L1", "quantity": 1000})
        for _ in ("R-GREY", "R-CLEAN"):
            c.do("alu-1", "products.ship", {"gtin": INGOT, "lot": "L1", "quantity": 36,
                                            "to": "rimco"})  # fmt: skip
        c.do("rim-1", "products.receive", {"gtin": INGOT, "lot": "L1", "shipment": 1})
        c.do("rim-1", "products.receive", {"gtin": INGOT, "lot": "L1", "shipment": 2})
        # the rims: R-GREY 11:00-12:00, R-CLEAN 12:00-13:00, 40 kWh each
        serials = {"R-GREY": [f"W-G{i}" for i in range(1, 5)],
                   "R-CLEAN": [f"W-C{i}" for i in range(1, 5)]}  # fmt: skip
        for n, lot in enumerate(("R-GREY", "R-CLEAN")):
            start = day0 + (11 + n) * HOUR
            c.at(start)
            c.do("rim-1", "products.register_batch", {"gtin": RIM, "lot": lot,
                                                      "site": "works-rimco"})  # fmt: skip
            c.do("rim-1", "products.consume", {"gtin": RIM, "lot": lot, "inputs": [
                {"gtin": INGOT, "lot": "L1", "quantity": 36}]})  # fmt: skip
            c.at(start + HOUR)
            c.readings("m-rimco", start, [40_000])
            c.do("rim-1", "products.complete_batch", {"gtin": RIM, "lot": lot, "quantity": 4})
            c.do("rim-1", "products.register_items", {"gtin": RIM, "lot": lot,
                                                      "serials": serials[lot]})  # fmt: skip
        c.readings("m-pv-1", day0 + 12 * HOUR, [60_000])
        # the cars: 14:00-15:00 and 15:00-16:00, 30 kWh each
        for n, (car, rims) in enumerate((("C-GREY", "R-GREY"), ("C-CLEAN", "R-CLEAN"))):
            start = day0 + (14 + n) * HOUR
            c.at(start)
            c.do("rim-1", "products.ship", {"gtin": RIM, "lot": rims, "quantity": 4,
                                            "to": "carco"})  # fmt: skip
            c.do("car-1", "products.receive", {"gtin": RIM, "lot": rims, "shipment": 1})
            for serial in serials[rims]:
                c.do("rim-1", "products.ship", {"gtin": RIM, "serial": serial, "to": "carco"})
                c.do("car-1", "products.receive", {"gtin": RIM, "serial": serial})
            c.do("car-1", "products.register_batch", {"gtin": CAR, "lot": car,
                                                      "site": "works-carco"})  # fmt: skip
            c.do("car-1", "products.consume", {"gtin": CAR, "lot": car, "inputs": [
                {"gtin": RIM, "lot": rims, "quantity": 4}]})  # fmt: skip
            c.at(start + HOUR)
            c.readings("m-carco", start, [30_000])
            c.do("car-1", "products.complete_batch", {"gtin": CAR, "lot": car, "quantity": 1})
            vin = f"LQM{car[2:]}0000001"[:17]
            c.do("car-1", "products.register_items", {"gtin": CAR, "lot": car,
                                                      "serials": [vin]})  # fmt: skip
            for serial in serials[rims]:
                install = {"gtin": RIM, "serial": serial, "parent_gtin": CAR, "parent_serial": vin}
                c.do("car-1", "products.install", install)
        # the next day: the smelter's June gas, confirmed; certificates for the rim works
        c.at(day0 + 86_400 + 10 * 86_400)
        c.do("cert", "certificates.issue", {"device": "pv-1", "to": "sun",
                                            "starts": [day0 + 12 * HOUR]})  # fmt: skip
        bundle = "pv-1:1"
        c.do("sun", "certificates.cancel", {"bundle": bundle, "beneficiary": "rim-1",
             "site": "works-rimco", "period_start_s": day0 + 12 * HOUR,
             "period_end_s": day0 + 13 * HOUR, "quantity_wh": 40_000})  # fmt: skip
        c.do("sun", "certificates.claim", {"bundle": bundle})
        c.at(int(dt.datetime(2025, 7, 2, tzinfo=dt.UTC).timestamp()))
        c.do("alu-1", "carbon.report_activity", {
            "id": "gas-2025-06", "site": "works-smelter", "month": "2025-06",
            "fuel": "natural_gas", "quantity": 3000, "unit": "GJ"})  # fmt: skip
        c.do("verifier", "carbon.confirm_activity", {"org": "smelter", "id": "gas-2025-06"})
        figures: dict[str, Any] = {}
        for account, gtin, lot in (("alu-1", INGOT, "L1"), ("rim-1", RIM, "R-GREY"),
                                   ("rim-1", RIM, "R-CLEAN"), ("car-1", CAR, "C-GREY"),
                                   ("car-1", CAR, "C-CLEAN")):  # fmt: skip
            c.do(account, "products.record_footprint", {"gtin": gtin, "lot": lot})
            fp = products.get_footprint(c.node.state.view, gtin, lot)
            assert fp is not None
            figures[f"{gtin}/{lot}"] = {
                "total_market_g": fp.total_market_g, "total_location_g": fp.total_location_g,
                "electricity_market_g": fp.electricity.market_g,
                "covered_wh": fp.electricity.covered_wh,
                "passport": f"/products/{gtin}/batches/{lot}",
            }  # fmt: skip
        grey, clean = figures[f"{CAR}/C-GREY"], figures[f"{CAR}/C-CLEAN"]
        return {
            "home": str(home),
            "chain_id": CHAIN_ID,
            "height": c.node.tip.height,
            "footprints": figures,
            "car_saving_market_g": grey["total_market_g"] - clean["total_market_g"],
            "scan": gs1.digital_link(RIM, serial="W-C1"),
        }
    finally:
        c.node.close()
