"""The supply chain: aluminium ingot -> wheel rim -> car on metered energy, where the rim
maker's clean-power choice lowers the car maker's footprint.

The story is told twice from the same parts (:func:`organisations`, :func:`works`,
:func:`product_types`, :func:`production`, :func:`works_readings`, :func:`record_footprints`):

* inside the demo community (``gridledger demo``, :class:`CommunitySupplyChain`): the three
  works are metered through the community's gateway, and the rim maker covers its clean
  batch's hour with certificates of the community's rooftop plants, the surplus the plants'
  owners sold to it (cancelled for the rim works and claimed);
* in a chain of its own in a new home (``gridledger products demo --home DIR``,
  :func:`run_supply_chain`), over one sunny June day in Guangdong (2025-06-21), with a
  rooftop plant of its own and the smelter's scope 1 gas.

Either way, from ``day0`` (the first second of a day) on:

* ``smelter`` (account ``alu-1``) melts batch ``L1`` of ingots, 1,000 kg, over six metered
  hours of its works (2 MWh an hour) from ``day0``;
* ``rimco`` (``rim-1``) casts two batches of four 9 kg rims from 36 kg of ``L1`` each, on
  two successive midday hours (11:00 and 12:00) of 40 kWh: ``R-GREY`` on grid power,
  ``R-CLEAN`` covered hour by hour by claimed certificates;
* ``carco`` (``car-1``) assembles two cars, ``C-GREY`` with the grey rims and ``C-CLEAN``
  with the clean ones, over the next two hours (14:00 and 15:00, 30 kWh each), and registers
  their VINs; the rims are serialised and installed into the cars.

Every footprint is recorded by the contract once the readings and claims are in; the home
can be served to browse the passports and scan the parts in the web interface.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gridledger.contracts import certificates, products
from gridledger.contracts.genesis import GenesisAccount
from gridledger.contracts.products import gs1
from gridledger.core.crypto import SigningKey, sha256
from gridledger.core.types import Transaction
from gridledger.factors import load as load_library
from gridledger.node.home import init_home, open_node
from gridledger.sim import carbon
from gridledger.state.state import StateReader

Action = tuple[str, str, Mapping[str, Any]]
"""``(sender, kind, body)`` of a transaction to sign."""
Run = Callable[[int, list[Action]], Any]
"""Runs actions in order at a scenario time (Unix seconds); every one must succeed."""

CHAIN_ID = "gridledger-supply-chain"
PASSPHRASE_DEFAULT = "supply chain demo"
DAY = dt.date(2025, 6, 21)
HOUR = 3600
INGOT = "0695000000001" + str(gs1.check_digit("0695000000001"))
RIM = "0695000000002" + str(gs1.check_digit("0695000000002"))
CAR = "0695000000003" + str(gs1.check_digit("0695000000003"))
MAKERS = {
    "smelter": ("Pearl River Aluminium", "alu-1"),
    "rimco": ("Shekou Wheels", "rim-1"),
    "carco": ("Qianhai Motors", "car-1"),
}
"""The manufacturers: organisation -> (name, account)."""
ACCOUNTS = tuple(account for _, account in MAKERS.values())
SITES = tuple(f"works-{org}" for org in MAKERS)
"""The works: consumption sites of the manufacturers, not households."""
ORGS = {
    **MAKERS,
    "solar": ("Shekou Solar Co-operative", "sun"),
    "auditors": ("Carbon auditors", "verifier"),
}
"""The stand-alone chain's organisations: the makers, a rooftop plant's and a verifier's."""
BATCHES = ((INGOT, "L1"), (RIM, "R-GREY"), (RIM, "R-CLEAN"), (CAR, "C-GREY"), (CAR, "C-CLEAN"))
"""Every batch, in the order their footprints are recorded (inputs first)."""
CLEAN_HOUR = 12
"""The hour after ``day0`` in which ``R-CLEAN`` is cast."""
RIM_WH = 40_000
SERIALS = {"R-GREY": [f"W-G{i}" for i in range(1, 5)], "R-CLEAN": [f"W-C{i}" for i in range(1, 5)]}


def key(name: str) -> SigningKey:
    """The stand-alone demo's keys derive from the account names (a demo, not a secret)."""
    return SigningKey.from_seed(sha256(b"gridledger-supply-chain/" + name.encode()))


def organisations(operator: str, keys: Mapping[str, str]) -> list[Action]:
    """The makers' organisations and accounts (``keys``: account -> public key), for the
    operator to register."""
    actions: list[Action] = []
    for org, (name, account) in MAKERS.items():
        actions.append((operator, "registry.add_organisation",
                        {"org": org, "name": name, "roles": ["consumer"]}))  # fmt: skip
        actions.append((operator, "registry.add_account", {
            "account": account, "org": org, "public_key": keys[account],
            "roles": ["consumer"]}))  # fmt: skip
    return actions


def works(grid: str, gateway: str) -> list[Action]:
    """The grid company registers each maker's works and its hourly meter, read by
    ``gateway``."""
    actions: list[Action] = []
    for org in MAKERS:
        actions.append((grid, "registry.register_site", {
            "site": f"works-{org}", "name": f"{MAKERS[org][0]} works", "country": "CN",
            "grid_region": "CN-GD", "max_wh_per_hour": 10**9, "owner_org": org}))  # fmt: skip
        actions.append((grid, "registry.register_meter", {
            "meter": f"m-{org}", "kind": "consumption", "site": f"works-{org}",
            "gateway": gateway, "interval_s": HOUR}))  # fmt: skip
    return actions


def product_types() -> list[Action]:
    """Each maker registers what it makes, with its CN code for CBAM."""
    types = [("alu-1", INGOT, "Aluminium ingot", "kg", None, "76011000"),
             ("rim-1", RIM, "Wheel rim", "unit", 9000, "87087010"),
             ("car-1", CAR, "Passenger car", "unit", 1_400_000, "87032310")]  # fmt: skip
    actions: list[Action] = []
    for account, gtin, name, unit, mass, cn in types:
        body = {"gtin": gtin, "name": name, "unit": unit, "unit_mass_g": mass, "cn_code": cn}
        actions.append((account, "products.register_type",
                        {k: v for k, v in body.items() if v}))  # fmt: skip
    return actions


def vin(car_lot: str) -> str:
    """The VIN of the car of lot ``car_lot``."""
    return f"LQM{car_lot[2:]}0000001"[:17]


def production(day0: int) -> list[tuple[int, list[Action]]]:
    """The production and custody events from ``day0`` on: ``(time, actions)`` in time order,
    the actions to run one after the other at that time (each may depend on the one before)."""
    steps: list[tuple[int, list[Action]]] = [
        (day0, [("alu-1", "products.register_batch",
                 {"gtin": INGOT, "lot": "L1", "site": "works-smelter"})]),
        (day0 + 6 * HOUR, [
            ("alu-1", "products.complete_batch", {"gtin": INGOT, "lot": "L1", "quantity": 1000}),
            *[("alu-1", "products.ship", {"gtin": INGOT, "lot": "L1", "quantity": 36,
                                          "to": "rimco"}) for _ in range(2)],
            ("rim-1", "products.receive", {"gtin": INGOT, "lot": "L1", "shipment": 1}),
            ("rim-1", "products.receive", {"gtin": INGOT, "lot": "L1", "shipment": 2}),
        ]),
    ]  # fmt: skip
    for n, lot in enumerate(("R-GREY", "R-CLEAN")):
        start = day0 + (11 + n) * HOUR
        steps.append((start, [
            ("rim-1", "products.register_batch", {"gtin": RIM, "lot": lot, "site": "works-rimco"}),
            ("rim-1", "products.consume", {"gtin": RIM, "lot": lot, "inputs": [
                {"gtin": INGOT, "lot": "L1", "quantity": 36}]}),
        ]))  # fmt: skip
        steps.append((start + HOUR, [
            ("rim-1", "products.complete_batch", {"gtin": RIM, "lot": lot, "quantity": 4}),
            ("rim-1", "products.register_items", {"gtin": RIM, "lot": lot,
                                                  "serials": SERIALS[lot]}),
        ]))  # fmt: skip
    for n, (car, rims) in enumerate((("C-GREY", "R-GREY"), ("C-CLEAN", "R-CLEAN"))):
        start = day0 + (14 + n) * HOUR
        actions: list[Action] = [
            ("rim-1", "products.ship", {"gtin": RIM, "lot": rims, "quantity": 4, "to": "carco"}),
            ("car-1", "products.receive", {"gtin": RIM, "lot": rims, "shipment": 1}),
        ]
        for serial in SERIALS[rims]:
            actions.append(("rim-1", "products.ship", {"gtin": RIM, "serial": serial,
                                                       "to": "carco"}))  # fmt: skip
            actions.append(("car-1", "products.receive", {"gtin": RIM, "serial": serial}))
        actions.append(("car-1", "products.register_batch",
                        {"gtin": CAR, "lot": car, "site": "works-carco"}))  # fmt: skip
        actions.append(("car-1", "products.consume", {"gtin": CAR, "lot": car, "inputs": [
            {"gtin": RIM, "lot": rims, "quantity": 4}]}))  # fmt: skip
        steps.append((start, actions))
        done: list[Action] = [
            ("car-1", "products.complete_batch", {"gtin": CAR, "lot": car, "quantity": 1}),
            ("car-1", "products.register_items", {"gtin": CAR, "lot": car,
                                                  "serials": [vin(car)]}),
        ]  # fmt: skip
        for serial in SERIALS[rims]:
            done.append(("car-1", "products.install", {"gtin": RIM, "serial": serial,
                         "parent_gtin": CAR, "parent_serial": vin(car)}))  # fmt: skip
        steps.append((start + HOUR, done))
    return steps


def works_readings(day0: int) -> list[dict[str, Any]]:
    """The works' hourly meter readings: the smelter 2 MWh an hour for six hours, the rim
    works 40 kWh in each rim hour, the car works 30 kWh in each car hour."""
    out: list[dict[str, Any]] = []
    for meter, first, wh in (("m-smelter", 0, [2_000_000] * 6), ("m-rimco", 11, [RIM_WH] * 2),
                             ("m-carco", 14, [30_000] * 2)):  # fmt: skip
        out += [{"meter": meter, "start": day0 + (first + i) * HOUR, "length_s": HOUR,
                 "energy_wh": v} for i, v in enumerate(wh)]  # fmt: skip
    return out


def record_footprints(run: Run, view: Callable[[], StateReader], at_s: int) -> dict[str, Any]:
    """Each maker records its batches' footprints (inputs first) at ``at_s``; the figures,
    with the car's saving from the clean rims and a rim's Digital Link to scan."""
    figures: dict[str, Any] = {}
    makers = {INGOT: "alu-1", RIM: "rim-1", CAR: "car-1"}
    for gtin, lot in BATCHES:
        run(at_s, [(makers[gtin], "products.record_footprint", {"gtin": gtin, "lot": lot})])
        fp = products.get_footprint(view(), gtin, lot)
        assert fp is not None
        figures[f"{gtin}/{lot}"] = {
            "total_market_g": fp.total_market_g, "total_location_g": fp.total_location_g,
            "electricity_market_g": fp.electricity.market_g,
            "covered_wh": fp.electricity.covered_wh,
            "passport": f"/products/{gtin}/batches/{lot}",
        }  # fmt: skip
    grey, clean = figures[f"{CAR}/C-GREY"], figures[f"{CAR}/C-CLEAN"]
    return {
        "footprints": figures,
        "car_saving_market_g": grey["total_market_g"] - clean["total_market_g"],
        "scan": gs1.digital_link(RIM, serial="W-C1"),
    }


class CommunitySupplyChain:
    """The supply chain inside the demo community, from its first local day (``day0``, the
    window's start): :meth:`setup` at the community's setup, :meth:`steps` merged into the
    community's schedule (each run with :meth:`step`), :meth:`finish` once the window has
    run. ``plants`` are the community's plants (``device``, ``owner``): their owners sell
    the rim maker their surplus certificates of the clean hour."""

    def __init__(self, run: Run, view: Callable[[], StateReader], day0: int,
                 plants: list[tuple[str, str]]) -> None:  # fmt: skip
        self.run = run
        self.view = view
        self.day0 = day0
        self.plants = plants
        self._steps = production(day0)
        self._done = 0

    def setup(self, at_s: int, operator: str, grid: str, gateway: str,
              keys: Mapping[str, str]) -> None:  # fmt: skip
        """Register the makers, their metered works and their product types."""
        self.run(at_s, organisations(operator, keys))
        self.run(at_s, works(grid, gateway))
        self.run(at_s, product_types())

    def steps(self) -> list[int]:
        """The times of the production steps, by index."""
        return [at for at, _ in self._steps]

    def step(self, index: int) -> None:
        """Run production step ``index``, its actions one by one."""
        at, actions = self._steps[index]
        for action in actions:
            self.run(at, [action])
        self._done += 1

    def finish(self, at_s: int, gateway: str) -> dict[str, Any] | None:
        """At ``at_s``: the works' readings through ``gateway``, the clean hour's certificates
        cancelled and claimed for the rim works, then the footprints; None unless every
        production step has run (a live window that started too late today)."""
        if self._done < len(self._steps):
            return None
        self.run(at_s, [(gateway, "metering.submit", {"readings": works_readings(self.day0)})])
        covered = self._cover(at_s)
        story = record_footprints(self.run, self.view, at_s)
        story["clean_hour_certificates_wh"] = covered
        return story

    def _cover(self, at_s: int) -> int:
        """The plants' owners cancel their active certificates of the clean hour for the rim
        works, up to its consumption, largest plants' first, and claim them; the Wh
        covered."""
        hour = self.day0 + CLEAN_HOUR * HOUR
        need = RIM_WH
        for device, owner in self.plants:
            held = certificates.bundles_of_device(self.view(), device, limit=None,
                                                  status="active", owner=owner).items  # fmt: skip
            for bundle in held:
                if need <= 0 or bundle.production_start_s != hour:
                    continue
                take = min(need, bundle.quantity_wh)
                self.run(at_s, [(owner, "certificates.cancel", {
                    "bundle": bundle.id, "beneficiary": "rim-1", "site": "works-rimco",
                    "period_start_s": hour, "period_end_s": hour + HOUR,
                    "quantity_wh": take})])  # fmt: skip
                self.run(at_s, [(owner, "certificates.claim", {"bundle": bundle.id})])
                need -= take
        return RIM_WH - need


class _Chain:
    def __init__(self, home: Path, passphrase: str, start_s: int) -> None:
        from gridledger.sim.community import SimClock  # noqa: PLC0415 (it imports this module)

        self.clock = SimClock(start_s * 1000)
        self.node = open_node(home, passphrase, clock=self.clock, block_interval_ms=20,
                              verify_workers=0)  # fmt: skip
        self.node.start()
        self.nonces: dict[str, int] = {}

    def run(self, at_s: int, actions: list[Action]) -> None:
        self.clock.advance_to(max(self.clock(), at_s * 1000))
        for sender, kind, body in actions:
            self.do(sender, kind, body)

    def do(self, sender: str, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
        nonce = self.nonces.get(sender, 0) + 1
        self.nonces[sender] = nonce
        tx = Transaction(CHAIN_ID, kind, sender, nonce, dict(body))
        tx.signature = key(sender).sign(tx.signing_bytes())
        stored = self.node.wait_receipt(self.node.submit(tx.encode()), 30)
        if stored is None:
            raise RuntimeError(f"{kind} of {sender} did not commit")
        receipt: dict[str, Any] = json.loads(stored.receipt)
        if receipt["status"] != "ok":
            raise RuntimeError(f"{kind} of {sender}: {receipt['code']}: {receipt['message']}")
        return receipt


def _accounts() -> list[GenesisAccount]:
    own = [("demo-op", ["operator"]), ("reg", ["regulator"]), ("grid", ["grid_operator"]),
           ("gw", []), ("cert", ["certifier"])]  # fmt: skip
    return [GenesisAccount(id=a, org="operator", public_key=key(a).public_key, roles=r)
            for a, r in own]  # fmt: skip


def run_supply_chain(home: Path, passphrase: str = PASSPHRASE_DEFAULT) -> dict[str, Any]:
    """Build the stand-alone chain of the module docstring in ``home`` (new or empty): the
    shared story, with a rooftop plant ``pv-1`` of the ``solar`` co-operative whose
    certificates (issued by ``cert``) cover ``R-CLEAN``'s hour, and the smelter's June gas
    (confirmed by the verifier of the ``auditors``); its figures."""
    day0 = int(dt.datetime(DAY.year, DAY.month, DAY.day, tzinfo=dt.UTC).timestamp())
    init_home(home, passphrase, chain_id=CHAIN_ID, genesis_time=(day0 - 86_400) * 1000,
              accounts=_accounts())  # fmt: skip
    c = _Chain(home, passphrase, day0 - 3600)
    try:
        library = load_library()
        at = day0 - 3600
        c.run(at, [("reg", "carbon.set_region_map", carbon.region_map_body(library))])
        sets = carbon.factor_sets(library, "CN-GD", day0, day0 + 86_400)
        c.run(at, [("reg", "carbon.record_factor_set", body) for body in sets])
        c.run(at, organisations("demo-op", {a: key(a).public_key for a in ACCOUNTS}))
        for org in ("solar", "auditors"):
            name, account = ORGS[org]
            roles = ["producer", "consumer"] if org == "solar" else ["carbon_verifier"]
            c.run(at, [("demo-op", "registry.add_organisation",
                        {"org": org, "name": name, "roles": roles}),
                       ("demo-op", "registry.add_account", {"account": account, "org": org,
                        "public_key": key(account).public_key, "roles": roles})])  # fmt: skip
        c.run(at, works("grid", "gw"))
        c.run(at, [("sun", "registry.register_device", {
            "device": "pv-1", "name": "Shekou rooftop PV", "technology": "solar_pv",
            "fuel": "solar", "capacity_w": 100_000, "commissioned": "2024-03-01",
            "country": "CN", "grid_region": "CN-GD", "latitude_udeg": 22_482_000,
            "longitude_udeg": 113_914_000, "support": "none"}),
            ("grid", "registry.register_meter", {"meter": "m-pv-1", "kind": "generation",
             "device": "pv-1", "gateway": "gw", "interval_s": HOUR})])  # fmt: skip
        c.run(at, product_types())
        for at_s, actions in production(day0):
            c.run(at_s, actions)
        # the next days: the readings, certificates for the rim works, the smelter's June gas
        later = day0 + 86_400 + 10 * 86_400
        hour = day0 + CLEAN_HOUR * HOUR
        readings = [
            *works_readings(day0),
            {"meter": "m-pv-1", "start": hour, "length_s": HOUR, "energy_wh": 60_000},
        ]
        c.run(later, [("gw", "metering.submit", {"readings": readings})])
        c.run(later, [
            ("cert", "certificates.issue", {"device": "pv-1", "to": "sun", "starts": [hour]}),
            ("sun", "certificates.cancel", {"bundle": "pv-1:1", "beneficiary": "rim-1",
             "site": "works-rimco", "period_start_s": hour, "period_end_s": hour + HOUR,
             "quantity_wh": RIM_WH}),
            ("sun", "certificates.claim", {"bundle": "pv-1:1"}),
        ])  # fmt: skip
        july = int(dt.datetime(2025, 7, 2, tzinfo=dt.UTC).timestamp())
        c.run(july, [
            ("alu-1", "carbon.report_activity", {
                "id": "gas-2025-06", "site": "works-smelter", "month": "2025-06",
                "fuel": "natural_gas", "quantity": 3000, "unit": "GJ"}),
            ("verifier", "carbon.confirm_activity", {"org": "smelter", "id": "gas-2025-06"}),
        ])  # fmt: skip
        story = record_footprints(c.run, lambda: c.node.state.view, july)
        return {"home": str(home), "chain_id": CHAIN_ID, "height": c.node.tip.height, **story}
    finally:
        c.node.close()
