"""A small market for the market tests, driven through the executor block by block.

On top of :mod:`ledger_support`'s genesis: two plant owners in organisations of their own
(``sunroof`` with ``pv-a`` 10 kW, ``solarco`` with ``pv-b`` 20 kW) and three households each in
its own organisation (``alice``, ``bob``, ``carol`` with sites ``s-alice``, ``s-bob``,
``s-carol``); every device and site has an hourly meter reported by ``gw-1``. The grid
operator ``grid`` sets the tariffs (sells at 60, buys at 30 minor units per kWh) and holds
10,000,000 minor units; each household holds 100,000.

Time: block time starts at ``NOW_S`` (a whole day); ``H1`` is the first hour whose gate closure
(5 minutes before it starts) has not passed.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from gridledger.contracts import funds, market
from gridledger.core.types import Receipt
from gridledger.readmodels import market as totals
from gridledger.state.readmodels import BlockFacts
from ledger_support import (
    BLOCK_TIME_MS,
    BLOCK_TIME_S,
    GRID,
    GW1,
    Ledger,
    asset_genesis,
    device_body,
    site_body,
)
from support import OPERATOR, key

HOUR = 3600
NOW_S = BLOCK_TIME_S
H1 = NOW_S + HOUR
SELL, FEED_IN = 60, 30
PLANTS = {"pv-a": ("sunroof", "owner-a", 10_000), "pv-b": ("solarco", "owner-b", 20_000)}
HOMES = {"s-alice": "alice", "s-bob": "bob", "s-carol": "carol"}
HOUSE_FUNDS = 100_000
GRID_FUNDS = 10_000_000


def at(seconds: int) -> int:
    """Block time in ms for a Unix second."""
    return seconds * 1000


class Market(Ledger):
    """The ledger with plants, homes, meters, funds and tariffs in place."""

    def __init__(self, mechanism: str = "pay_as_clear", market_rules: int | None = None) -> None:
        # the market's read model, folded block by block as a node folds it
        self.model = totals.MarketTotals()
        self.tables = sqlite3.connect(":memory:")
        for ddl in self.model.tables:
            self.tables.execute(ddl)
        genesis = asset_genesis()
        if market_rules is not None:
            genesis.market_rules = market_rules
        super().__init__(BLOCK_TIME_MS, genesis)
        for device, (org, owner, capacity) in PLANTS.items():
            self.add_party(org, owner, "producer")
            self.ok(owner, "registry.register_device", device_body(device, capacity_w=capacity))
            self.meter(f"m-{device}", device=device)
        for site, owner in HOMES.items():
            self.add_party(owner, owner, "consumer")
            self.ok(owner, "registry.register_site", site_body(site, max_wh_per_hour=8_000))
            self.meter(f"m-{site}", site=site)
            self.ok(OPERATOR, "funds.mint", {"to": owner, "amount": HOUSE_FUNDS})
        self.ok(OPERATOR, "funds.mint", {"to": GRID, "amount": GRID_FUNDS})
        self.ok(GRID, "market.set_tariffs", {"sell_price": SELL, "feed_in_price": FEED_IN})
        if mechanism != "pay_as_clear":
            self.ok(OPERATOR, "market.set_params", {"mechanism": mechanism})

    def add_party(self, org: str, account: str, role: str) -> None:
        self.ok(
            OPERATOR,
            "registry.add_organisation",
            {"org": org, "name": org.title(), "roles": [role]},
        )
        self.ok(
            OPERATOR,
            "registry.add_account",
            {
                "account": account,
                "org": org,
                "public_key": key(account).public_key,
                "roles": [role],
            },
        )

    def meter(self, meter: str, **binding: str) -> None:
        kind = "generation" if "device" in binding else "consumption"
        body = {"meter": meter, "kind": kind, "gateway": GW1, "interval_s": HOUR, **binding}
        self.ok(GRID, "registry.register_meter", body)

    # orders and intervals --------------------------------------------------------------------
    def bid(self, account: str, wh: int, price: int, interval: int = H1, **extra: Any) -> Receipt:
        site = next(s for s, a in HOMES.items() if a == account)
        body = {"interval": interval, "site": site, "quantity_wh": wh, "price": price, **extra}
        return self.ok(account, "market.place_bid", body)

    def offer(self, device: str, wh: int, price: int, interval: int = H1) -> Receipt:
        owner = PLANTS[device][1]
        body = {"interval": interval, "device": device, "quantity_wh": wh, "price": price}
        return self.ok(owner, "market.place_offer", body)

    def clear(self, interval: int = H1) -> Receipt:
        return self.ok(GRID, "market.clear", {"interval": interval}, block_time_ms=at(interval))

    def readings(self, interval: int, wh: dict[str, int]) -> None:
        """Hourly readings for meters ``m-<asset>`` (submitted once the hour has ended)."""
        body = {
            "readings": [
                {"meter": f"m-{a}", "start": interval, "length_s": HOUR, "energy_wh": e}
                for a, e in sorted(wh.items())
            ]
        }
        receipt = self.ok(GW1, "metering.submit", body, block_time_ms=at(interval + HOUR))
        refused = [e for e in receipt.events if e["type"] == "metering.reading_refused"]
        assert not refused, refused

    def settle(self, interval: int = H1) -> Receipt:
        return self.ok(
            GRID, "market.settle", {"interval": interval}, block_time_ms=at(interval + HOUR)
        )

    def committed(self, height: int, time_ms: int, changes: dict[bytes, bytes | None]) -> None:
        self.model.apply(self.tables, BlockFacts(height, time_ms, changes))

    def account_totals(self, account: str) -> totals.AccountTotals:
        return totals.account_totals(self.tables, account) or totals.AccountTotals(account=account)

    def plant_totals(self, device: str) -> totals.PlantTotals:
        return totals.plant_totals(self.tables, device) or totals.PlantTotals(device=device)

    def pairings_of(
        self, account: str, start: int = 0, end: int | None = None
    ) -> list[market.Pairing]:
        return totals.account_pairings(self.tables, self.state, account, start, end)

    def rows(self) -> Rows:
        """Every row of the read model's tables."""
        return table_rows(self.tables)

    def money(self) -> int:
        """Every balance and escrow: must equal the supply at all times."""
        total = 0
        for k, v in self.state.committed.items():
            if k.startswith((b"funds/balance/", b"funds/escrow/")):
                total += int(v)
        return total

    def balance(self, account: str) -> int:
        return funds.balance_of(self.state, account)

    def escrow(self, account: str) -> int:
        return funds.escrow_of(self.state, account)


# the market's read model, worked out from the ledger's records -------------------------------
Rows = dict[str, list[tuple[Any, ...]]]


def table_rows(conn: sqlite3.Connection) -> Rows:
    """Every row of the market's read model, table by table, sorted (ids as text)."""
    out: Rows = {}
    for table in totals.MarketTotals.table_names:
        rows = conn.execute(f"SELECT * FROM {table}").fetchall()
        out[table] = sorted(
            tuple(v.decode() if isinstance(v, bytes) else v for v in row) for row in rows
        )
    return out


def reference_rows(view: Any) -> Rows:
    """What the read model's tables must hold, worked out from the records in state alone: the
    running totals settlement used to write as state (``market/stats``, ``market/plant``,
    ``market/sold``) and the party index (``market/party``), from every interval's pairings
    and grid settlements."""
    accounts: dict[str, dict[str, int]] = {}
    plants: dict[str, dict[str, int]] = {}
    buyers: dict[tuple[str, str], list[int]] = {}
    listed: set[tuple[str, int, int]] = set()

    def add(where: dict[str, dict[str, int]], key: str, **values: int) -> None:
        row = where.setdefault(key, {})
        for name, value in values.items():
            row[name] = row.get(name, 0) + value

    for record in market.intervals(view, limit=None):
        for n, p in enumerate(market.pairings(view, record.start_s, limit=None)):
            listed |= {(p.consumer, record.start_s, n), (p.producer, record.start_s, n)}
            if p.delivered_wh is None:
                continue
            fen = p.amount_fen or 0
            add(accounts, p.consumer, clean_wh=p.delivered_wh, clean_paid_fen=fen)
            add(accounts, p.producer, sold_wh=p.delivered_wh, clean_revenue_fen=fen)
            add(plants, p.device, sold_wh=p.delivered_wh, clean_revenue_fen=fen)
            bought = buyers.setdefault((p.device, p.consumer), [0, 0])
            bought[0] += p.delivered_wh
            bought[1] += fen
        for g in market.grid_settlements(view, record.start_s):
            if g.direction == "import":
                add(accounts, g.account, consumed_wh=g.measured_wh, grid_import_wh=g.energy_wh,
                    grid_paid_fen=g.amount_fen)  # fmt: skip
            else:
                for where, key in ((accounts, g.account), (plants, g.asset)):
                    add(where, key, generated_wh=g.measured_wh, exported_wh=g.energy_wh,
                        feed_in_revenue_fen=g.amount_fen)  # fmt: skip
    return {
        "market_account_totals": sorted(
            (a, *(v.get(c, 0) for c in totals.ACCOUNT_COLUMNS)) for a, v in accounts.items()
        ),
        "market_plant_totals": sorted(
            (d, *(v.get(c, 0) for c in totals.PLANT_COLUMNS)) for d, v in plants.items()
        ),
        "market_plant_buyers": sorted((d, c, wh, fen) for (d, c), (wh, fen) in buyers.items()),
        "market_account_pairings": sorted(listed),
    }
