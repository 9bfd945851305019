"""The demo community: rooftop PV plants and households in Shekou trading clean power on a chain.

:func:`build_community` draws a seeded scenario (plants with capacities, owners and floor
prices; households with load profiles and a standing choice of clean or grid power) and
simulates its meters over whole local days. :func:`run_demo` puts it on a fresh chain in a
node home and runs the market hour by hour on a simulated clock (:class:`SimClock`): clearing
after each gate closure, meter readings through the ingest path once each hour has ended,
settlement, and the certifier's keeper issuing certificates for each final hour; then
:func:`~gridledger.sim.summary.ledger_summary` reads what happened back from the ledger.

Who is who (ids are numbered from 1 and zero-padded):

* the network operator (``operator``, from genesis) registers everyone, mints the community's
  money, sets the market's mechanism and sends ``market.clear`` and ``market.settle``;
* the grid company (organisation and account ``grid``, role ``grid_operator``) registers the
  meters, sets the tariffs and is the market maker: it sells what the market does not cover and
  buys what plants feed in;
* the meter gateway ``gw-shekou`` (an account of the grid company) signs every meter's hourly
  readings;
* the certifier (organisation and account ``certifier``, role ``certifier``) issues the
  plants' granular energy certificates: its certificate keeper
  (:class:`~gridledger.node.cert_keeper.CertificateKeeper`, signing with the certifier's own
  key) issues every hour once its meter data is final, an hour after it ends. Certificates of
  the energy a settled pairing delivered go to the household, cancelled and claimed for its
  flat and that hour, with nobody's transaction;
* the regulator (organisation and account ``regulator``, role ``regulator``) puts carbon
  accounting's emission factors in force before anything is metered: the region map and, for
  Guangdong (``CN-GD``, every site's and plant's grid region) and each calendar year of the
  window, a factor set from the shipped factor library (:mod:`gridledger.sim.carbon`), so
  every household's footprint and avoided emissions can be computed from the ledger;
* plant owner ``owner-NN`` (an organisation of its own, role ``producer``) owns plant
  ``pv-NN`` with generation meter ``m-pv-NN``;
* household ``house-NNN`` (an organisation of its own, role ``consumer``) owns flat
  ``flat-NNN`` with consumption meter ``m-flat-NNN``;
* three manufacturers (``smelter``, ``rimco``, ``carco``; :mod:`gridledger.sim.supply_chain`)
  make aluminium ingots, wheel rims and cars on the window's first day in works metered
  through ``gw-shekou``; the rim maker covers its clean batch's hour with the plants' surplus
  certificates, and each batch gets its carbon passport once the window has run. The works
  are no households: the summary leaves them out.

Units: energy in whole Wh, money in fen (minor units of CNY), prices in fen per kWh.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import random
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

from gridledger.contracts import market
from gridledger.contracts.market.matching import MECHANISMS
from gridledger.core.crypto import SigningKey
from gridledger.core.keystore import load_key, save_key
from gridledger.core.types import Receipt, Transaction
from gridledger.factors import load as load_factors
from gridledger.ingest import Reading, ReadingSubmitter, RetryPolicy
from gridledger.node.cert_keeper import CertificateKeeper
from gridledger.node.custody import CUSTODY_NAME, save_custody
from gridledger.node.home import init_home, key_path, open_node
from gridledger.node.keeper import worth_clearing
from gridledger.node.members import LOCK_NAME, MEMBERS_NAME, Members
from gridledger.node.node import DB_NAME, GENESIS_NAME, CommittedBlock, Node, wall_clock_ms
from gridledger.node.personal import PERSONAL_NAME, Details, PersonalStore
from gridledger.sdk import Client
from gridledger.sim import carbon, neutrality, supply_chain
from gridledger.sim.load import (
    FAMILY_THREE_GENERATIONS,
    RETIRED_COUPLE,
    SINGLE_PROFESSIONAL,
    WORKING_COUPLE,
    HouseholdProfile,
    household_load_wh,
)
from gridledger.sim.pv import PvPlant, generation_wh
from gridledger.sim.site import SHEKOU, Site
from gridledger.sim.summary import ledger_summary

HOUR_S = 3600
DAY_S = 86_400
MAX_DAYS = 31
MARKER_NAME = "demo.json"
DEMO_LOGINS = 3
"""Households whose members the demo enrols with a password, so a visitor can sign in and try
the one-click choice (the first ones by account id)."""
_PASSWORD_LETTERS = "abcdefghijkmnpqrstuvwxyz"
"""Marks a home as a demo chain (the scenario and its summary): only such a home is reset."""

OPERATOR = "operator"
GRID = "grid"
GATEWAY = "gw-shekou"
CERTIFIER = "certifier"
"""The certifier's organisation and account: it issues the plants' certificates."""
REGULATOR = "regulator"
"""The regulator's organisation and account: it records the emission factors in force."""
GRID_REGION = "CN-GD"
"""Every site's and plant's grid region: Guangdong, on the China Southern grid."""
SELL_PRICE = 68
"""What the grid charges, fen per kWh: about Shenzhen's first-tier residential tariff."""
FEED_IN_PRICE = 45
"""What the grid pays for energy fed in, fen per kWh: about Guangdong's coal benchmark price."""
HOUSEHOLD_FUNDS = 100_000
"""Opening balance of each household, fen (1,000 CNY): a month of consumption and escrow."""
GRID_FUNDS = 10_000_000
"""Opening balance of the grid company, fen (100,000 CNY), besides a reserve for feed-in of
:data:`KWH_PER_KW_DAY` per kW of nameplate and simulated day at the feed-in price."""
KWH_PER_KW_DAY = 8
"""More than a kW of rooftop PV generates on the sunniest day in Shenzhen."""
GATE_CLOSURE_S = 300
"""The market's gate closure (its default): orders close 5 minutes before an interval."""
SETUP_LEAD_S = HOUR_S
"""The community registers itself this long before its first interval."""

PROFILES: tuple[tuple[HouseholdProfile, int], ...] = (
    (SINGLE_PROFESSIONAL, 2),
    (WORKING_COUPLE, 3),
    (FAMILY_THREE_GENERATIONS, 3),
    (RETIRED_COUPLE, 2),
)
"""Household profiles and their weights in the community."""
CAPACITIES_W = (6_000, 8_000, 10_000, 12_000, 15_000, 20_000, 25_000, 30_000)
"""Nameplates of rooftop plants on residential buildings, W (AC)."""
GRID_SHARE = 0.15
"""Households that keep plain grid supply; the rest choose clean power."""
PRICE_CAP_SHARE = 0.25
"""Clean-choosing households that cap the price they pay (below the grid's price)."""
PREFERRED_SHARE = 0.35
"""Clean-choosing households that name preferred plants (the one on their own building first)."""
FORECAST_ERROR = 0.10
"""Relative error (one standard deviation) of the day-ahead forecast of a day's sunshine."""

Progress = Callable[[str, int, int], None]
"""Told ``(phase, done, total)`` as a run goes on."""


class DemoError(Exception):
    """The demo cannot run (a home in the way, a window in the future) or a step failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# the scenario --------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """What the demo builds and runs."""

    plants: int = 20
    households: int = 200
    days: int = 3
    seed: int = 1
    """Seeds the scenario, the weather and the households' consumption."""
    mechanism: str = "pay_as_clear"
    """The market's clearing mechanism (``pay_as_clear``, ``pay_as_bid``, ``preferred_first``)."""
    last_day: dt.date | None = None
    """The last simulated local day; by default the last whole day that has ended."""
    sell_price: int = SELL_PRICE
    feed_in_price: int = FEED_IN_PRICE

    def check(self) -> None:
        if self.plants < 1 or self.households < 1:
            raise DemoError("demo.invalid", "the community needs at least one plant and household")
        if not 1 <= self.days <= MAX_DAYS:
            raise DemoError("demo.invalid", f"days must be 1 to {MAX_DAYS}, not {self.days}")
        if self.mechanism not in MECHANISMS:
            raise DemoError("demo.invalid", f"mechanism must be one of {', '.join(MECHANISMS)}")
        if not 0 <= self.feed_in_price <= self.sell_price - 12:
            raise DemoError(
                "demo.invalid",
                "plants' floors and households' caps need the feed-in price at least 12 fen "
                "below the grid's selling price",
            )


@dataclasses.dataclass(frozen=True)
class Plant:
    """A rooftop PV plant and its owner."""

    device: str
    owner: str
    """The owner's account and organisation id."""
    meter: str
    pv: PvPlant
    floor_price: int
    """The least its offers take, fen per kWh."""
    commissioned: dt.date
    latitude_udeg: int
    longitude_udeg: int


@dataclasses.dataclass(frozen=True)
class Household:
    """A flat, its household and the household's standing choice."""

    account: str
    """The household's account and organisation id."""
    site: str
    meter: str
    profile: HouseholdProfile
    load_seed: int
    choice: str
    """``clean`` or ``grid``."""
    price_cap: int | None = None
    """The most it pays for clean power, fen per kWh; None: the grid's price."""
    preferred: tuple[str, ...] = ()
    """Preferred plants, first choice first."""
    quantity_wh: int | None = None
    """Wh its standing bid asks for each hour: what it usually uses in an hour."""


@dataclasses.dataclass
class Community:
    """A scenario with its simulated meter data, hour by hour from ``start``."""

    config: DemoConfig
    site: Site
    start: int
    """First interval, Unix seconds UTC (local midnight)."""
    end: int
    plants: list[Plant]
    households: list[Household]
    generation: dict[str, list[int]]
    """Wh per hour by device."""
    forecast: dict[str, list[int]]
    """The day-ahead forecast each plant offers, Wh per hour by device."""
    load: dict[str, list[int]]
    """Wh per hour by site."""

    @property
    def hours(self) -> int:
        return (self.end - self.start) // HOUR_S

    def meter_readings(self, hour: int) -> list[tuple[str, int]]:
        """``(meter, Wh)`` of every meter for hour ``hour`` of the window."""
        out = [(p.meter, self.generation[p.device][hour]) for p in self.plants]
        out.extend((h.meter, self.load[h.site][hour]) for h in self.households)
        return out


def default_last_day(now_s: int, site: Site = SHEKOU) -> dt.date:
    """The last local day that has ended by ``now_s``."""
    return site.local(now_s).date() - dt.timedelta(days=1)


def window(days: int, last_day: dt.date, site: Site = SHEKOU) -> tuple[int, int]:
    """``(start, end)`` in Unix seconds of ``days`` whole local days ending with ``last_day``."""
    first = last_day - dt.timedelta(days=days - 1)
    start = int(dt.datetime.combine(first, dt.time(), tzinfo=site.zone).timestamp())
    end = int(
        dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), tzinfo=site.zone)
        .timestamp()
    )  # fmt: skip
    if start % HOUR_S or end - start != days * DAY_S:
        raise DemoError(
            "demo.invalid", f"{site.tz} must be whole hours from UTC, without daylight saving"
        )
    return start, end


def _ids(prefix: str, n: int, width: int) -> list[str]:
    width = max(width, len(str(n)))
    return [f"{prefix}-{i:0{width}d}" for i in range(1, n + 1)]


def _usual_hourly_wh(load: list[int]) -> int:
    """What a household usually uses in an hour: the 75th percentile, rounded up to 100 Wh."""
    ordered = sorted(load)
    p75 = ordered[(len(ordered) - 1) * 3 // 4]
    return max(100, -(-p75 // 100) * 100)


def _day_ahead(
    generation: list[int], clear_sky: list[int], days: int, errors: list[float]
) -> list[int]:
    """A plant's forecast: clear-sky output scaled by the day's sunshine as forecast the day
    before (the day's actual clear-sky index with a forecast error)."""
    out: list[int] = []
    for d in range(days):
        actual = generation[d * 24 : (d + 1) * 24]
        clear = clear_sky[d * 24 : (d + 1) * 24]
        index = sum(actual) / sum(clear) if sum(clear) else 0.0
        index = min(max(index * (1.0 + errors[d]), 0.0), 1.05)
        out.extend(math.floor(wh * index) for wh in clear)
    return out


def build_community(
    config: DemoConfig,
    start: int,
    site: Site = SHEKOU,
    progress: Progress | None = None,
) -> Community:
    """Draw the community for ``config`` (seeded) and simulate its meters from ``start`` (a
    local midnight), reporting ``("community", done, total)`` plant by plant and household by
    household to ``progress``."""
    config.check()
    total = config.plants + config.households
    report = progress or (lambda _phase, _done, _total: None)
    rng = random.Random(f"gridledger.sim.community/{config.seed}")
    first_day = site.local(start).date()
    plants = []
    for device, owner in zip(
        _ids("pv", config.plants, 2), _ids("owner", config.plants, 2), strict=True
    ):
        plants.append(
            Plant(
                device=device,
                owner=owner,
                meter=f"m-{device}",
                pv=PvPlant(
                    capacity_w=rng.choice(CAPACITIES_W),
                    tilt_deg=round(rng.uniform(10.0, 25.0), 1),
                    azimuth_deg=round(rng.uniform(150.0, 210.0), 1),
                ),
                floor_price=rng.randint(config.feed_in_price + 1, config.sell_price - 10),
                commissioned=first_day - dt.timedelta(days=rng.randint(180, 6 * 365)),
                latitude_udeg=round((site.latitude + rng.uniform(-0.01, 0.01)) * 1e6),
                longitude_udeg=round((site.longitude + rng.uniform(-0.01, 0.01)) * 1e6),
            )
        )
    n = config.households
    order = list(range(n))
    rng.shuffle(order)
    grid_homes = set(order[: round(n * GRID_SHARE)])
    clean = [i for i in range(n) if i not in grid_homes]
    capped = set(rng.sample(clean, round(len(clean) * PRICE_CAP_SHARE)))
    preferring = set(rng.sample(clean, round(len(clean) * PREFERRED_SHARE)))
    profiles = [p for p, _ in PROFILES]
    weights = [w for _, w in PROFILES]
    households = []
    for i, (account, flat) in enumerate(zip(_ids("house", n, 3), _ids("flat", n, 3), strict=True)):
        profile = rng.choices(profiles, weights)[0]
        building = rng.randrange(config.plants)
        preferred: tuple[str, ...] = ()
        if i in preferring:
            preferred = (plants[building].device,)
            if config.plants > 1 and rng.random() < 0.5:
                preferred += (plants[(building + 1) % config.plants].device,)
        households.append(
            Household(
                account=account,
                site=flat,
                meter=f"m-{flat}",
                profile=profile,
                load_seed=config.seed * 100_000 + i,
                choice="grid" if i in grid_homes else "clean",
                price_cap=rng.randint(config.sell_price - 12, config.sell_price - 2)
                if i in capped
                else None,
                preferred=preferred,
            )
        )
    days = config.days
    errors = [rng.gauss(0.0, FORECAST_ERROR) for _ in range(days)]
    generation = {}
    forecast = {}
    for p in plants:
        actual = generation_wh(p.pv, site, start, days, weather_seed=config.seed)
        clear_sky = generation_wh(p.pv, site, start, days, weather_seed=None)
        generation[p.device] = actual
        forecast[p.device] = _day_ahead(actual, clear_sky, days, errors)
        report("community", len(generation), total)
    load = {}
    for h in households:
        load[h.site] = household_load_wh(h.profile, start, days, seed=h.load_seed, site=site)
        report("community", len(generation) + len(load), total)
    households = [
        dataclasses.replace(h, quantity_wh=_usual_hourly_wh(load[h.site]))
        if h.choice == "clean"
        else h
        for h in households
    ]
    return Community(
        config, site, start, start + days * DAY_S, plants, households, generation, forecast, load
    )


# the simulated clock -------------------------------------------------------------------------
class SimClock:
    """Block time for a node (``NodeConfig.clock``) that a scenario moves forward.

    The node stamps each block with ``max(clock(), tip time)``, so every rule about past and
    future intervals holds against the scenario's time exactly as against the real clock.
    """

    def __init__(self, start_ms: int) -> None:
        self._now_ms = start_ms

    def __call__(self) -> int:
        return self._now_ms

    def advance_to(self, ms: int) -> None:
        if ms < self._now_ms:
            raise ValueError(f"the clock cannot go back from {self._now_ms} to {ms}")
        self._now_ms = ms


# the home ------------------------------------------------------------------------------------
def prepare_home(home: Path, reset: bool) -> None:
    """Make ``home`` ready for a new demo chain.

    An empty or missing home is used as is. A home that holds a demo chain (it has
    ``demo.json``) is emptied with ``reset`` and refused without; a home holding any other chain
    is never touched.
    """
    if not (home / GENESIS_NAME).exists() and not (home / MARKER_NAME).exists():
        return
    if not (home / MARKER_NAME).exists():
        raise DemoError(
            "demo.home_in_use",
            f"{home} holds a chain that is not a demo chain; give the demo another --home",
        )
    if not reset:
        raise DemoError(
            "demo.home_exists",
            f"{home} holds a demo chain already: pass --reset to build a new one, or serve "
            f"this one with 'gridledger node --home {home}'",
        )
    for name in (GENESIS_NAME, "node.json", MARKER_NAME, CUSTODY_NAME, MEMBERS_NAME, LOCK_NAME,
                 PERSONAL_NAME):  # fmt: skip
        (home / name).unlink(missing_ok=True)
    for suffix in ("", "-wal", "-shm"):
        (home / (DB_NAME + suffix)).unlink(missing_ok=True)
    shutil.rmtree(home / "keys", ignore_errors=True)


# driving the node ----------------------------------------------------------------------------
Action = tuple[str, str, Mapping[str, Any]]
"""``(sender, kind, body)`` of a transaction to sign."""


class _Chain:
    """Signs transactions for the community's accounts and runs them block by block at a time
    of the scenario, waiting for their receipts."""

    def __init__(self, node: Node, clock: SimClock, keys: dict[str, SigningKey]) -> None:
        self.node = node
        self.clock = clock
        self.keys = keys
        self.nonces: dict[str, int] = {}
        self.failed = 0
        """Failed receipts in every block committed while the demo ran."""
        self.events: dict[str, int] = {}
        """Counts of the receipt events of the transactions run here, by type."""
        self._wanted: set[str] = set()
        self._receipts: dict[str, Receipt] = {}
        self._cond = threading.Condition()
        node.add_listener(self._on_block)

    def _on_block(self, block: CommittedBlock) -> None:
        self.failed += sum(status != "ok" for status in block.statuses)
        with self._cond:
            for tx_hash, receipt in zip(block.tx_hashes, block.receipts, strict=True):
                if tx_hash in self._wanted:
                    self._receipts[tx_hash] = receipt
            self._cond.notify_all()

    def _sign(self, sender: str, kind: str, body: Mapping[str, Any]) -> Transaction:
        nonce = self.nonces.get(sender, 0) + 1
        self.nonces[sender] = nonce
        tx = Transaction(self.node.chain_id, kind, sender, nonce, dict(body))
        tx.signature = self.keys[sender].sign(tx.signing_bytes())
        return tx

    def run(self, at_s: int, actions: Iterable[Action], timeout_s: float = 120.0) -> list[Receipt]:
        """Run ``actions`` in order at scenario time ``at_s``; every one must succeed."""
        self.clock.advance_to(at_s * 1000)
        txs = [self._sign(*a) for a in actions]
        if not txs:
            return []
        hashes = [tx.hash().hex() for tx in txs]
        with self._cond:
            self._wanted.update(hashes)
        for tx, result in zip(txs, self.node.submit_many([tx.encode() for tx in txs]), strict=True):
            if not isinstance(result, bytes):
                raise DemoError(
                    result.code, f"{tx.kind} from {tx.sender} refused: {result.message}"
                )
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not all(h in self._receipts for h in hashes):
                left = deadline - time.monotonic()
                if left <= 0 or self.node.halted:
                    raise DemoError(
                        "demo.stalled", self.node.halted or "transactions were not committed"
                    )
                self._cond.wait(left)
            receipts = [self._receipts.pop(h) for h in hashes]
            self._wanted.difference_update(hashes)
        for tx, receipt in zip(txs, receipts, strict=True):
            if not receipt.ok:
                raise DemoError(
                    receipt.code or "tx.failed",
                    f"{tx.kind} from {tx.sender} failed: {receipt.message}",
                )
            self.count(receipt)
        return receipts

    def count(self, receipt: Receipt) -> None:
        """Count the receipt's events by type."""
        for event in receipt.events:
            self.events[event["type"]] = self.events.get(event["type"], 0) + 1


def _certify(chain: _Chain, keeper: CertificateKeeper, at_s: int, timeout_s: float = 120.0) -> None:
    """One tick of the certifier's keeper at scenario time ``at_s``; every transaction it sends
    must succeed."""
    chain.clock.advance_to(at_s * 1000)
    for sent in keeper.tick():
        stored = chain.node.wait_receipt(bytes.fromhex(sent.tx_hash), timeout_s)
        if stored is None:
            raise DemoError("demo.stalled", chain.node.halted or f"{sent.kind} was not committed")
        receipt = msgspec.json.decode(stored.receipt, type=Receipt)
        if not receipt.ok:
            raise DemoError(
                receipt.code or "tx.failed",
                f"{sent.kind} of {sent.device} from {CERTIFIER} failed: {receipt.message}",
            )
        chain.count(receipt)


def _grid_funds(community: Community) -> int:
    config = community.config
    capacity_kw = -(-sum(p.pv.capacity_w for p in community.plants) // 1000)
    return GRID_FUNDS + capacity_kw * config.days * KWH_PER_KW_DAY * config.feed_in_price


def _regulate(community: Community) -> list[Action]:
    """The regulator's region map and factor sets (each calendar year of the window), from the
    latest shipped factor library."""
    library = load_factors()
    actions: list[Action] = [(REGULATOR, "carbon.set_region_map", carbon.region_map_body(library))]
    first = neutrality.carbon_month(community.start, community.site)[0]
    for body in carbon.factor_sets(library, GRID_REGION, first, community.end):
        actions.append((REGULATOR, "carbon.record_factor_set", body))
    return actions


def _register(chain: _Chain, community: Community, at_s: int) -> None:
    """Organisations, accounts, the emission factors in force, assets, meters, money, tariffs
    and standing choices."""
    config = community.config
    orgs: list[Action] = [
        (OPERATOR, "registry.add_organisation",
         {"org": GRID, "name": "Grid company (Shenzhen)", "roles": ["grid_operator"]}),
        (OPERATOR, "registry.add_account",
         {"account": GRID, "org": GRID, "public_key": chain.keys[GRID].public_key,
          "roles": ["grid_operator"]}),
        (OPERATOR, "registry.add_account",
         {"account": GATEWAY, "org": GRID, "public_key": chain.keys[GATEWAY].public_key}),
        (OPERATOR, "registry.add_organisation",
         {"org": CERTIFIER, "name": "Shekou green energy certification centre",
          "roles": ["certifier"]}),
        (OPERATOR, "registry.add_account",
         {"account": CERTIFIER, "org": CERTIFIER,
          "public_key": chain.keys[CERTIFIER].public_key, "roles": ["certifier"]}),
        (OPERATOR, "registry.add_organisation",
         {"org": REGULATOR, "name": "Shenzhen ecology and environment bureau",
          "roles": ["regulator"]}),
        (OPERATOR, "registry.add_account",
         {"account": REGULATOR, "org": REGULATOR,
          "public_key": chain.keys[REGULATOR].public_key, "roles": ["regulator"]}),
        (OPERATOR, "market.set_params", {"mechanism": config.mechanism,
                                         "gate_closure_s": GATE_CLOSURE_S}),
        *neutrality.organisations(
            {a: chain.keys[a].public_key for a in (neutrality.VERIFIER, neutrality.COMMUNITY)}
        ),
    ]  # fmt: skip
    parties = [(p.owner, f"Owner of {p.device}", "producer") for p in community.plants]
    parties += [(h.account, f"Household of {h.site}", "consumer") for h in community.households]
    for account, name, role in parties:
        orgs.append(
            (OPERATOR, "registry.add_organisation", {"org": account, "name": name, "roles": [role]})
        )
        orgs.append(
            (OPERATOR, "registry.add_account",
             {"account": account, "org": account, "public_key": chain.keys[account].public_key,
              "roles": [role]})
        )  # fmt: skip
    chain.run(at_s, orgs)
    chain.run(at_s, _regulate(community))

    assets: list[Action] = [
        (OPERATOR, "funds.mint", {"to": GRID, "amount": _grid_funds(community)}),
        (GRID, "market.set_tariffs",
         {"sell_price": config.sell_price, "feed_in_price": config.feed_in_price}),
    ]  # fmt: skip
    for p in community.plants:
        assets.append(
            (p.owner, "registry.register_device", {
                "device": p.device,
                "name": f"Rooftop PV {p.device}, Shekou",
                "technology": "solar_pv",
                "fuel": "solar",
                "capacity_w": p.pv.capacity_w,
                "commissioned": p.commissioned.isoformat(),
                "country": "CN",
                "grid_region": GRID_REGION,
                "latitude_udeg": p.latitude_udeg,
                "longitude_udeg": p.longitude_udeg,
                "support": "none",
            })
        )  # fmt: skip
    for h in community.households:
        assets.append((OPERATOR, "funds.mint", {"to": h.account, "amount": HOUSEHOLD_FUNDS}))
        assets.append(
            (h.account, "registry.register_site", {
                "site": h.site,
                "name": f"Flat {h.site}, Shekou",
                "country": "CN",
                "grid_region": GRID_REGION,
                "max_wh_per_hour": h.profile.max_wh_per_hour,
            })
        )  # fmt: skip
    chain.run(at_s, assets)

    meters: list[Action] = [
        (GRID, "registry.register_meter",
         {"meter": p.meter, "kind": "generation", "device": p.device, "gateway": GATEWAY,
          "interval_s": HOUR_S})
        for p in community.plants
    ]  # fmt: skip
    meters += [
        (GRID, "registry.register_meter",
         {"meter": h.meter, "kind": "consumption", "site": h.site, "gateway": GATEWAY,
          "interval_s": HOUR_S})
        for h in community.households
    ]  # fmt: skip
    chain.run(at_s, meters)

    choices: list[Action] = []
    for h in community.households:
        body: dict[str, Any] = {"site": h.site, "choice": h.choice}
        if h.choice == "clean":
            body["quantity_wh"] = h.quantity_wh
            body["preferred"] = list(h.preferred)
            if h.price_cap is not None:
                body["price_cap"] = h.price_cap
        choices.append((h.account, "market.set_preference", body))
    chain.run(at_s, choices)


def _offers(community: Community, day: int) -> list[Action]:
    """Each plant's day-ahead offers for ``day``: its forecast, hour by hour, at its floor."""
    actions: list[Action] = []
    for p in community.plants:
        for hour in range(day * 24, (day + 1) * 24):
            wh = community.forecast[p.device][hour]
            if wh > 0:
                body = {
                    "interval": community.start + hour * HOUR_S,
                    "device": p.device,
                    "quantity_wh": wh,
                    "price": p.floor_price,
                }
                actions.append((p.owner, "market.place_offer", body))
    return actions


def _schedule(community: Community) -> list[tuple[int, int, str, int]]:
    """``(time, rank, step, argument)`` in the order the scenario runs them: day-ahead offers
    an hour before each day, each interval's clearing at its gate closure, its readings and
    settlement once it has ended, then a tick of the certifier's keeper (which issues the
    hours whose data has become final)."""
    steps = []
    for day in range(1, community.config.days):
        steps.append((community.start + day * DAY_S - HOUR_S, 2, "offers", day))
    for hour in range(community.hours):
        start = community.start + hour * HOUR_S
        steps.append((start - GATE_CLOSURE_S, 3, "clear", hour))
        steps.append((start + HOUR_S, 0, "readings", hour))
        steps.append((start + HOUR_S, 1, "settle", hour))
        steps.append((start + HOUR_S, 2, "certify", hour))
    return sorted(steps)


@dataclasses.dataclass
class _ReadingTally:
    submitted: int = 0
    accepted: int = 0
    duplicate: int = 0
    refused: int = 0
    refusals: dict[str, int] = dataclasses.field(default_factory=dict)


def _save_keys(home: Path, passphrase: str, keys: dict[str, SigningKey]) -> threading.Thread:
    """Write keystore files for ``keys`` in the background (each costs an Argon2id run)."""

    def save() -> None:
        for name, key in keys.items():
            save_key(key_path(home, name), name, key, passphrase)

    thread = threading.Thread(target=save, name="demo-keys", daemon=True)
    thread.start()
    return thread


@contextmanager
def _gateway_client(node: Node) -> Iterator[Client]:
    """A client of the node's API on a free loopback port, for the meter gateway."""
    # imported here: the web stack is slow to import and only the run itself needs it
    from gridledger.api.server import ApiServer  # noqa: PLC0415

    with ApiServer(node, "127.0.0.1", 0) as server, Client(server.url, timeout=60.0) as client:
        yield client


@dataclasses.dataclass
class Continuation:
    """Where a run that goes on living (:func:`run_demo_to_now`) left the community: what the
    live community (:mod:`gridledger.sim.live`) needs to carry on."""

    community: Community
    keys: dict[str, SigningKey]
    """The community's keys (the plant owners' offer, the gateway signs readings)."""
    now_ms: int
    """The scenario's clock when the run stopped: the real time it was started at."""
    offered_days: int
    """Days of the window (from its first) whose day-ahead offers are on the chain."""
    readings_from_s: int
    """The first hour whose meter readings are not on the chain yet, Unix seconds."""


def run_demo(
    config: DemoConfig,
    home: Path,
    passphrase: str,
    *,
    api: str = "127.0.0.1:8645",
    reset: bool = False,
    progress: Progress | None = None,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """Build the community, run it on a new chain in ``home``, and summarise the ledger.

    Args:
        config: the scenario.
        home: the node home to create (see :func:`prepare_home` for one that exists).
        passphrase: encrypts the keys saved in the home.
        api: the address written to ``node.json`` (``gridledger node`` serves there later).
        reset: rebuild a home that holds an earlier demo chain.
        progress: called with ``(phase, done, total)``: ``community`` while simulating, then
            ``hours`` as intervals are settled.
        now_ms: the real time, for choosing the default window (tests pin it).

    Returns:
        :func:`ledger_summary` of the run with the scenario, the chain's figures, the readings'
        outcomes and the time taken.

    Raises:
        DemoError: the home is in the way, the window has not ended, or a step failed.
    """
    summary, _ = _run(config, home, passphrase, api, reset, progress, now_ms, live=False)
    return summary


def run_demo_to_now(
    config: DemoConfig,
    home: Path,
    passphrase: str,
    *,
    api: str = "127.0.0.1:8645",
    reset: bool = False,
    progress: Progress | None = None,
    now_ms: int | None = None,
) -> tuple[dict[str, Any], Continuation]:
    """Like :func:`run_demo`, for a community that goes on living once served: the window is
    ``config.days`` local days ending with today, run up to the real time ``now_ms`` (today's
    offers placed, every ended hour metered, cleared and settled); the summary covers the
    hours that have ended. Returns it with what the live community needs to carry on."""
    summary, carry_on = _run(config, home, passphrase, api, reset, progress, now_ms, live=True)
    assert carry_on is not None
    return summary, carry_on


def _run(
    config: DemoConfig,
    home: Path,
    passphrase: str,
    api: str,
    reset: bool,
    progress: Progress | None,
    now_ms: int | None,
    *,
    live: bool,
) -> tuple[dict[str, Any], Continuation | None]:
    report = progress or (lambda _phase, _done, _total: None)
    config.check()
    t0 = time.perf_counter()
    now_ms = wall_clock_ms() if now_ms is None else now_ms
    if live:
        last_day = SHEKOU.local(now_ms // 1000).date()
        start, end = window(config.days, last_day)
        until_s = now_ms // 1000
    else:
        last_day = config.last_day or default_last_day(now_ms // 1000)
        start, end = window(config.days, last_day)
        until_s = end
    if end * 1000 > now_ms and not live:
        raise DemoError("demo.invalid", f"the last day {last_day} has not ended yet")
    prepare_home(home, reset)
    community = build_community(config, start, progress=report)
    t_sim = time.perf_counter()

    setup_s = start - SETUP_LEAD_S
    init_home(
        home,
        passphrase,
        chain_id=f"shekou-demo-{secrets.token_hex(4)}",
        org=OPERATOR,
        org_name="Shekou community network operator",
        genesis_time=setup_s * 1000,
        api=api,
        time_zone=community.site.tz,
    )
    (home / MARKER_NAME).write_text(json.dumps({"scenario": _scenario(community)}, indent=2))
    members = [
        GRID,
        GATEWAY,
        CERTIFIER,
        REGULATOR,
        neutrality.VERIFIER,
        neutrality.COMMUNITY,
        *supply_chain.ACCOUNTS,
        *(p.owner for p in community.plants),
        *(h.account for h in community.households),
    ]
    keys = {account: SigningKey.generate() for account in members}
    keys[OPERATOR] = load_key(key_path(home, OPERATOR), passphrase)
    sample = [
        GRID,
        GATEWAY,
        CERTIFIER,
        REGULATOR,
        community.plants[0].owner,
        community.households[0].account,
    ]
    saving = _save_keys(home, passphrase, {name: keys[name] for name in sample})

    clock = SimClock(setup_s * 1000)
    node = open_node(home, passphrase, clock=clock, verify_workers=0, block_interval_ms=1)
    # the households' keys, for the web interface to sign their choices (custodial accounts)
    save_custody(
        home, node.config.node_key, {h.account: keys[h.account] for h in community.households}
    )
    logins = _enrol_demo_members(home, community, api)
    tally = _ReadingTally()
    try:
        node.start()
        chain = _Chain(node, clock, keys)
        _register(chain, community, setup_s)
        # the ingot -> rim -> car supply chain, metered through the community's gateway
        largest = sorted(community.plants, key=lambda p: (-p.pv.capacity_w, p.device))
        supply = supply_chain.CommunitySupplyChain(
            chain.run, lambda: node.state.view, community.start,
            [(p.device, p.owner) for p in largest],
        )  # fmt: skip
        supply.setup(setup_s, OPERATOR, GRID, GATEWAY,
                     {a: keys[a].public_key for a in supply_chain.ACCOUNTS})  # fmt: skip
        production = [(at, 4, "products", i) for i, at in enumerate(supply.steps())]
        keeper = CertificateKeeper(node, CERTIFIER, keys[CERTIFIER], recheck_s=0)
        chain.run(setup_s, _offers(community, 0))
        with _gateway_client(node) as client:
            gateway = ReadingSubmitter(
                client,
                keys[GATEWAY],
                GATEWAY,
                batch_size=5000,
                retry=RetryPolicy(attempts=3, first_delay_s=0.2),
            )
            done = 0
            offered_days = 1
            readings_from = community.start
            hours = (until_s - community.start) // HOUR_S if live else community.hours
            report("hours", 0, hours)
            for at_s, _, step, arg in sorted(_schedule(community) + production):
                if at_s > until_s:
                    break
                interval = community.start + arg * HOUR_S
                if step == "offers":
                    chain.run(at_s, _offers(community, arg))
                    offered_days = arg + 1
                elif step == "clear":
                    # as the market keeper does: only an interval with something to clear
                    if worth_clearing(node.state.view, interval):
                        chain.run(at_s, [(OPERATOR, "market.clear", {"interval": interval})])
                elif step == "certify":
                    _certify(chain, keeper, at_s)
                elif step == "products":
                    supply.step(arg)
                elif step == "readings":
                    clock.advance_to(at_s * 1000)
                    batch = [
                        Reading(meter=m, start=interval, length_s=HOUR_S, energy_wh=wh)
                        for m, wh in community.meter_readings(arg)
                    ]
                    readings_from = interval + HOUR_S
                    for outcome in gateway.submit(batch):
                        tally.submitted += 1
                        if outcome.status == "accepted":
                            tally.accepted += 1
                        elif outcome.status == "duplicate":
                            tally.duplicate += 1
                        else:
                            tally.refused += 1
                            code = outcome.code or "?"
                            tally.refusals[code] = tally.refusals.get(code, 0) + 1
                else:
                    record = market.get_interval(node.state.view, interval)
                    if record is not None and record.status == "cleared":
                        chain.run(at_s, [(OPERATOR, "market.settle", {"interval": interval})])
                    done += 1
                    report("hours", done, hours)
        clock.advance_to(max(clock(), until_s * 1000))
        t_story = time.perf_counter()
        # the gateway's readings went through its own client: carry on from its nonce
        chain.nonces[GATEWAY] = node.next_nonce(GATEWAY) - 1
        story = neutrality.tell(
            chain.run, lambda: node.state.view, community.plants, community.site,
            community.start, clock() // 1000, config.seed,
        )  # fmt: skip
        story["elapsed_s"] = round(time.perf_counter() - t_story, 2)
        products_story = supply.finish(clock() // 1000, GATEWAY)
        t_chain = time.perf_counter()
        summary_end = min(end, until_s // HOUR_S * HOUR_S)
        summary = ledger_summary(
            node.state.view,
            node.readmodels.reader(),
            start,
            summary_end,
            community.site,
            exclude_sites=supply_chain.SITES,
        )
        summary["community"] = _scenario(community)
        summary["neutrality"] = story
        summary["supply_chain"] = products_story
        summary["readings"] = {
            **summary["readings"],
            "submitted": tally.submitted,
            "accepted": tally.accepted,
            "duplicate": tally.duplicate,
            "refused": tally.refused,
            "refusals": tally.refusals,
        }
        summary["simulated"] = {
            "generation_wh": sum(sum(s) for s in community.generation.values()),
            "consumption_wh": sum(sum(s) for s in community.load.values()),
        }
        summary["chain"] = {
            "chain_id": node.chain_id,
            "height": node.tip.height,
            "blocks": node.tip.height,
            "txs": node.store.tx_count(),
            "failed_txs": chain.failed,
            "standing_bids_skipped": chain.events.get("market.standing_bid_skipped", 0),
            "tip_time": node.tip.time // 1000,
        }
    finally:
        node.close()
        saving.join()
    summary["keys_saved"] = sample
    summary["elapsed_s"] = round(time.perf_counter() - t0, 2)
    summary["timing_s"] = {
        "simulation": round(t_sim - t0, 2),
        "chain": round(t_chain - t_sim, 2),
    }
    (home / MARKER_NAME).write_text(
        json.dumps({"scenario": summary["community"], "summary": summary}, indent=2)
    )
    # printed once, never written to the home: members.json keeps only hashes
    summary["logins"] = logins
    carry_on = Continuation(community, keys, clock(), offered_days, readings_from) if live else None
    return summary, carry_on


def _demo_password() -> str:
    """A random password that is easy to type: three groups of four letters."""
    return "-".join("".join(secrets.choice(_PASSWORD_LETTERS) for _ in range(4)) for _ in range(3))


def _enrol_demo_members(home: Path, community: Community, api: str) -> dict[str, Any]:
    """Give the first :data:`DEMO_LOGINS` households' members a password and the operator a
    token, so that a visitor can sign in and try custodial signing; returns what to print."""
    members = Members(home)
    accounts = sorted(h.account for h in community.households)[:DEMO_LOGINS]
    passwords = {account: _demo_password() for account in accounts}
    for account, password in passwords.items():
        members.set_password(account, password)
    _keep_demo_details(home, accounts)
    port = api.rsplit(":", 1)[1]
    return {
        # passkeys need a host name, so the demo is named localhost, not 127.0.0.1
        "url": f"http://localhost:{port}/login",
        "members": [{"account": a, "password": p} for a, p in passwords.items()],
        "operator_token": members.issue_operator_token(OPERATOR),
    }


DEMO_NAMES = ("Li Hua 李华", "Chen Jing 陈静", "Wang Fang 王芳", "Zhang Wei 张伟", "Liu Yang 刘洋")


def demo_details(index: int) -> Details:
    """The made-up personal details of the demo's ``index``-th member (never on the chain)."""
    name = DEMO_NAMES[index % len(DEMO_NAMES)]
    return Details(
        name=name,
        address=f"Room {1201 + index}, Block {3 + index}, Haiyue Garden, Shekou, Shenzhen",
        phone=f"+86 138 0000 {1000 + index}",
        email=f"member{index + 1}@example.cn",
    )


def _keep_demo_details(home: Path, accounts: list[str]) -> None:
    """The members' names, addresses and contacts go to the node's personal database
    (``HOME/personal.sqlite``), never into a transaction: the chain knows only ids."""
    store = PersonalStore(home)
    try:
        for index, account in enumerate(accounts):
            store.put(account, demo_details(index))
    finally:
        store.close()


def _scenario(community: Community) -> dict[str, Any]:
    config = community.config
    homes = community.households
    clean = [h for h in homes if h.choice == "clean"]
    return {
        "site": community.site.name,
        "latitude": community.site.latitude,
        "longitude": community.site.longitude,
        "seed": config.seed,
        "mechanism": config.mechanism,
        "days": config.days,
        "start": community.start,
        "end": community.end,
        "first_day": community.site.local(community.start).date().isoformat(),
        "last_day": community.site.local(community.end - 1).date().isoformat(),
        "plants": len(community.plants),
        "capacity_w": sum(p.pv.capacity_w for p in community.plants),
        "households": len(homes),
        "clean_households": len(clean),
        "grid_households": len(homes) - len(clean),
        "price_capped_households": sum(h.price_cap is not None for h in clean),
        "households_with_preferred_plants": sum(bool(h.preferred) for h in clean),
        "tariffs": {"sell_price": config.sell_price, "feed_in_price": config.feed_in_price},
    }
