"""The market's totals beside the chain: what each account and each plant traded, and each
account's pairings by interval.

Dashboards, the API's totals and the simulation's summary read these; no rule does (clearing,
settlement and :func:`~gridledger.contracts.market.settlement_ready` read only the state), so
they stay out of the state root. Every figure is derived from the market's own records as a
block writes them (:mod:`gridledger.contracts.market.changes`):

* a **settled pairing** (one with ``delivered_wh``) adds its delivered energy and amount to its
  consumer's ``clean_wh`` and ``clean_paid_fen``, to its producer's and its plant's ``sold_wh``
  and ``clean_revenue_fen``, and to what the plant sold that consumer;
* a **grid settlement** adds, for an import, the site's measured consumption, the energy and
  the amount to its account's ``consumed_wh``, ``grid_import_wh`` and ``grid_paid_fen``; for an
  export, the plant's measured generation, the energy and the amount to its account's and the
  plant's ``generated_wh``, ``exported_wh`` and ``feed_in_revenue_fen``;
* **every pairing**, settled or not, is listed under its consumer and its producer by interval
  (by the block that clears its interval), so an account's pairings are found without scanning
  intervals.

Tables (all amounts integers; accounts and devices as their ids):

* ``market_account_totals(account, consumed_wh, clean_wh, grid_import_wh, clean_paid_fen,
  grid_paid_fen, generated_wh, sold_wh, exported_wh, clean_revenue_fen, feed_in_revenue_fen)``;
* ``market_plant_totals(device, generated_wh, sold_wh, exported_wh, clean_revenue_fen,
  feed_in_revenue_fen)``;
* ``market_plant_buyers(device, consumer, delivered_wh, amount_fen)``;
* ``market_account_pairings(account, start_s, n)``: pairing ``n`` of the interval starting at
  ``start_s`` has ``account`` as consumer or producer.

Queries take a connection to the chain's database (a node's ``node.readmodels.reader()``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from gridledger.contracts import market
from gridledger.contracts.base import Record
from gridledger.state.readmodels import BlockFacts
from gridledger.state.state import StateReader

ACCOUNT_COLUMNS = (
    "consumed_wh",
    "clean_wh",
    "grid_import_wh",
    "clean_paid_fen",
    "grid_paid_fen",
    "generated_wh",
    "sold_wh",
    "exported_wh",
    "clean_revenue_fen",
    "feed_in_revenue_fen",
)
PLANT_COLUMNS = (
    "generated_wh",
    "sold_wh",
    "exported_wh",
    "clean_revenue_fen",
    "feed_in_revenue_fen",
)
(
    _CONSUMED_WH,
    _CLEAN_WH,
    _GRID_IMPORT_WH,
    _CLEAN_PAID,
    _GRID_PAID,
    _GENERATED_WH,
    _SOLD_WH,
    _EXPORTED_WH,
    _CLEAN_REVENUE,
    _FEED_IN_REVENUE,
) = range(len(ACCOUNT_COLUMNS))
_P_GENERATED_WH, _P_SOLD_WH, _P_EXPORTED_WH, _P_CLEAN_REVENUE, _P_FEED_IN_REVENUE = range(
    len(PLANT_COLUMNS)
)
_GENERATED = (_GENERATED_WH, _EXPORTED_WH, _FEED_IN_REVENUE)
_P_GENERATED = (_P_GENERATED_WH, _P_EXPORTED_WH, _P_FEED_IN_REVENUE)
"""Where an export's measured generation, exported energy and feed-in amount go."""


class AccountTotals(Record):
    """An account's settled market totals (zeros before its first settlement).

    Attributes:
        account: The account.
        consumed_wh: Metered consumption of its sites in the intervals it bid in, Wh.
        clean_wh: Consumed energy delivered by its pairings, Wh.
        grid_import_wh: Consumed energy the grid supplied, Wh.
        clean_paid_fen: Paid for clean deliveries, fen.
        grid_paid_fen: Due to the grid for its imports, fen.
        generated_wh: Metered generation of its plants in the intervals they offered in, Wh.
        sold_wh: Generated energy delivered to its pairings, Wh.
        exported_wh: Generated energy fed into the grid, Wh.
        clean_revenue_fen: Earned from clean deliveries, fen.
        feed_in_revenue_fen: Due from the grid for its exports, fen.
        clean_share_permille: clean_wh per 1000 Wh consumed, rounded down (0 before any).
    """

    account: str
    consumed_wh: int = 0
    clean_wh: int = 0
    grid_import_wh: int = 0
    clean_paid_fen: int = 0
    grid_paid_fen: int = 0
    generated_wh: int = 0
    sold_wh: int = 0
    exported_wh: int = 0
    clean_revenue_fen: int = 0
    feed_in_revenue_fen: int = 0
    clean_share_permille: int = 0


class PlantBuyer(Record):
    """What a plant delivered to one consumer, over every settled interval.

    Attributes:
        consumer: The consumer account.
        delivered_wh: Energy delivered to it, Wh.
        amount_fen: What it paid, fen.
    """

    consumer: str
    delivered_wh: int
    amount_fen: int


class PlantTotals(Record):
    """A plant's settled market totals and its buyers (zeros before its first settlement).

    Attributes:
        device: The plant.
        generated_wh: Metered generation in the intervals it offered in, Wh.
        sold_wh: Generated energy delivered to pairings, Wh.
        exported_wh: Generated energy fed into the grid, Wh.
        clean_revenue_fen: Earned from clean deliveries, fen.
        feed_in_revenue_fen: Due from the grid for its exports, fen.
        buyers: What each consumer bought from it, by consumer account id.
    """

    device: str
    generated_wh: int = 0
    sold_wh: int = 0
    exported_wh: int = 0
    clean_revenue_fen: int = 0
    feed_in_revenue_fen: int = 0
    buyers: list[PlantBuyer] = []


def _upsert(table: str, keys: tuple[str, ...], columns: tuple[str, ...]) -> str:
    """An insert that adds to the row already there."""
    names = ", ".join((*keys, *columns))
    marks = ", ".join("?" * (len(keys) + len(columns)))
    adds = ", ".join(f"{c} = {c} + excluded.{c}" for c in columns)
    return (
        f"INSERT INTO {table} ({names}) VALUES ({marks}) "  # noqa: S608 - names are ours
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {adds}"
    )


def _columns(names: Iterable[str]) -> str:
    return ", ".join(f"{n} INTEGER NOT NULL DEFAULT 0" for n in names)


class MarketTotals:
    """The read model of :mod:`gridledger.readmodels.market`."""

    name: str = "market"
    version: int = 1
    table_names: tuple[str, ...] = (
        "market_account_totals",
        "market_plant_totals",
        "market_plant_buyers",
        "market_account_pairings",
    )
    tables: tuple[str, ...] = (
        "CREATE TABLE IF NOT EXISTS market_account_totals (account TEXT PRIMARY KEY, "
        f"{_columns(ACCOUNT_COLUMNS)}) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS market_plant_totals (device TEXT PRIMARY KEY, "
        f"{_columns(PLANT_COLUMNS)}) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS market_plant_buyers (device TEXT, consumer TEXT, "
        f"{_columns(('delivered_wh', 'amount_fen'))}, PRIMARY KEY (device, consumer)) "
        "WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS market_account_pairings (account TEXT, start_s INTEGER, "
        "n INTEGER, PRIMARY KEY (account, start_s, n)) WITHOUT ROWID",
    )

    def apply(self, conn: sqlite3.Connection, facts: BlockFacts) -> None:
        block = market.written(facts.changes)
        if not block.pairings and not block.grid_settlements:
            return
        # sums of the block per account, plant and (plant, consumer), by column position: a
        # settlement folds a hundred thousand records, so no per-record dicts or keywords
        accounts: dict[str, list[int]] = {}
        plants: dict[str, list[int]] = {}
        buyers: dict[tuple[str, str], list[int]] = {}
        n_accounts, n_plants = len(ACCOUNT_COLUMNS), len(PLANT_COLUMNS)
        # a pairing is listed by the block that clears its interval; settlement writes it once
        # more, usually in a later block, which has nothing to list
        cleared_here = {i.start_s for i in block.intervals if i.cleared_height == facts.height}
        listed: list[tuple[str, int, int]] = []
        for start, n, p in block.pairings:
            if start in cleared_here:
                listed.append((p.consumer, start, n))
                if p.producer != p.consumer:
                    listed.append((p.producer, start, n))
            wh = p.delivered_wh
            if wh is None:
                continue  # cleared, not settled yet
            fen = p.amount_fen or 0
            row = accounts.get(p.consumer) or accounts.setdefault(p.consumer, [0] * n_accounts)
            row[_CLEAN_WH] += wh
            row[_CLEAN_PAID] += fen
            row = accounts.get(p.producer) or accounts.setdefault(p.producer, [0] * n_accounts)
            row[_SOLD_WH] += wh
            row[_CLEAN_REVENUE] += fen
            row = plants.get(p.device) or plants.setdefault(p.device, [0] * n_plants)
            row[_P_SOLD_WH] += wh
            row[_P_CLEAN_REVENUE] += fen
            row = buyers.get((p.device, p.consumer)) or buyers.setdefault(
                (p.device, p.consumer), [0, 0]
            )
            row[0] += wh
            row[1] += fen
        for g in block.grid_settlements:
            row = accounts.get(g.account) or accounts.setdefault(g.account, [0] * n_accounts)
            if g.direction == "import":
                row[_CONSUMED_WH] += g.measured_wh
                row[_GRID_IMPORT_WH] += g.energy_wh
                row[_GRID_PAID] += g.amount_fen
                continue
            plant = plants.get(g.asset) or plants.setdefault(g.asset, [0] * n_plants)
            for at, p_at in ((row, _GENERATED), (plant, _P_GENERATED)):
                at[p_at[0]] += g.measured_wh
                at[p_at[1]] += g.energy_wh
                at[p_at[2]] += g.amount_fen
        # the order of the rows changes nothing: each adds to a sum keyed by its id
        conn.executemany(
            "INSERT OR IGNORE INTO market_account_pairings (account, start_s, n) VALUES (?, ?, ?)",
            listed,
        )
        conn.executemany(
            _upsert("market_account_totals", ("account",), ACCOUNT_COLUMNS),
            [(k, *v) for k, v in accounts.items()],
        )
        conn.executemany(
            _upsert("market_plant_totals", ("device",), PLANT_COLUMNS),
            [(k, *v) for k, v in plants.items()],
        )
        conn.executemany(
            _upsert("market_plant_buyers", ("device", "consumer"), ("delivered_wh", "amount_fen")),
            [(*k, *v) for k, v in buyers.items()],
        )


# queries ---------------------------------------------------------------------------------------
def _text(value: object) -> str:
    """A TEXT column (the store's connections return TEXT as bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _account_totals(row: tuple[object, ...]) -> AccountTotals:
    account, *values = row
    sums = dict(zip(ACCOUNT_COLUMNS, (int(str(v)) for v in values), strict=True))
    consumed, clean = sums["consumed_wh"], sums["clean_wh"]
    permille = clean * 1000 // consumed if consumed else 0
    return AccountTotals(account=_text(account), **sums, clean_share_permille=permille)


_ACCOUNT_SELECT = f"SELECT account, {', '.join(ACCOUNT_COLUMNS)} FROM market_account_totals"  # noqa: S608


def account_totals(conn: sqlite3.Connection, account: str) -> AccountTotals | None:
    """An account's totals, or ``None`` before any settlement it took part in."""
    row = conn.execute(f"{_ACCOUNT_SELECT} WHERE account = ?", (account,)).fetchone()
    return None if row is None else _account_totals(row)


def every_account_totals(conn: sqlite3.Connection) -> list[AccountTotals]:
    """Every account's totals, by account id."""
    return [_account_totals(r) for r in conn.execute(f"{_ACCOUNT_SELECT} ORDER BY account")]


def plant_totals(conn: sqlite3.Connection, device: str) -> PlantTotals | None:
    """A plant's totals and its buyers (by consumer id), or ``None`` before any settlement."""
    row = conn.execute(
        f"SELECT {', '.join(PLANT_COLUMNS)} FROM market_plant_totals WHERE device = ?",  # noqa: S608
        (device,),
    ).fetchone()
    if row is None:
        return None
    buyers = [
        PlantBuyer(consumer=_text(c), delivered_wh=int(wh), amount_fen=int(fen))
        for c, wh, fen in conn.execute(
            "SELECT consumer, delivered_wh, amount_fen FROM market_plant_buyers "
            "WHERE device = ? ORDER BY consumer",
            (device,),
        )
    ]
    sums = dict(zip(PLANT_COLUMNS, (int(v) for v in row), strict=True))
    return PlantTotals(device=device, **sums, buyers=buyers)


def account_pairings(
    conn: sqlite3.Connection,
    view: StateReader,
    account: str,
    start_s: int = 0,
    end_s: int | None = None,
    limit: int = 1000,
) -> list[market.Pairing]:
    """An account's pairings (as consumer or producer) in the intervals ``start_s <= start <
    end_s``, oldest first, at most ``limit``: found through the table, read from ``view``."""
    rows = conn.execute(
        "SELECT start_s, n FROM market_account_pairings WHERE account = ? AND start_s >= ? "
        "AND start_s < ? ORDER BY start_s, n LIMIT ?",
        (account, max(start_s, 0), 1 << 62 if end_s is None else end_s, limit),
    ).fetchall()
    # a block's rows commit a moment before its state does: a pairing not in ``view`` yet is
    # left out rather than half shown
    found = (market.get_pairing(view, int(start), int(n)) for start, n in rows)
    return [p for p in found if p is not None]
