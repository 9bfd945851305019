"""Carbon accounting's totals beside the chain: consumption, hourly-matched and claimed energy
per site and month, generation per device and month, folded from every committed block.

Scope 2 inventories must not read raw readings at query time, and no rule of the chain needs
these sums, so they live here, out of the state root (changing how a report counts can never
fork a chain). The fold sees only each block's net changes (decoded by
:func:`gridledger.contracts.carbon.changes.written`) and keeps what it needs to fold the next:

* ``carbon_meters(meter, kind, site, device, interval_s)``, ``carbon_sites(site, org, region)``,
  ``carbon_devices(device, org, region, technology)``: the registry as it was written;
* ``carbon_corrections(meter, start_s, energy_wh)``: the latest correction of a reading, so a
  later one adds only its difference;
* ``carbon_site_hours(site, hour_s, consumption_wh, claimed_wh)``: per site and hour, metered
  consumption of readings of at most an hour (in the hour their interval starts in) and
  certificates claimed for the site that were produced in that hour. A daily reading says
  nothing about the hours of its day: it counts in its month's consumption, never in an hour,
  so it is never matched hour by hour;
* ``carbon_site_months(site, month_s, consumption_wh, matched_wh, claimed_wh, readings,
  corrected)``: per site and month (a month of the chain's time zone, see below), the month's
  consumption, its hourly-matched energy (the sum over hours of min(consumption, claimed)),
  every Wh claimed for the site with
  production in the month (hourly or longer), the readings counted and how many of them a
  grid operator corrected;
* ``carbon_claimed_long(site, start_s, claimed_wh)``: claims of certificates produced over more
  than an hour, by production start (they count in volume, never hourly);
* ``carbon_device_months(device, month_s, generation_wh, readings)``;
* ``carbon_zone(name)``: the time zone the months are counted in.

Months are the months of the chain's time zone (its genesis ``time_zone``, UTC if it names
none): ``month_s`` is the first second of a local month, and a reading, an hour or a claim
counts in the local month its start falls in, so a page, a report and a summary give the same
figures for the same month as the people the chain serves read it. (Hours are whole hours in
every zone the chain may name that has whole-hour offsets; an hour row's local month is that of
its start.) The contracts never count months of readings: no state or test vector depends on
this choice.

A reading, a correction or a claim changes its hour's row, and the hour's matched energy
changes by ``min(c', k') - min(c, k)``; the month row adds the differences (a daily reading or
its correction adds to the month's consumption directly). The order in which readings and
claims arrive therefore never changes a total.
"""

from __future__ import annotations

import datetime as dt
import functools
import sqlite3
from collections.abc import Iterable
from typing import Any

from gridledger.contracts.carbon import changes as carbon_changes
from gridledger.core.localtime import DEFAULT_ZONE, LocalTime
from gridledger.state.readmodels import BlockFacts

HOUR_S = 3600
_CHUNK = 400


@functools.lru_cache(maxsize=65_536)
def month_of(time_s: int) -> int:
    """The first second (UTC) of the UTC month ``time_s`` falls in (cached: a block's readings
    share a few hours). The read model counts local months: :meth:`LocalTime.month_of`."""
    at = dt.datetime.fromtimestamp(time_s, dt.UTC)
    return int(dt.datetime(at.year, at.month, 1, tzinfo=dt.UTC).timestamp())


def zone_of(conn: sqlite3.Connection) -> LocalTime:
    """The time zone the carbon read model counts months in (UTC before it first folded)."""
    try:
        row = conn.execute("SELECT name FROM carbon_zone").fetchone()
    except sqlite3.OperationalError:  # no such table: the model has not been opened
        row = None
    return LocalTime(DEFAULT_ZONE if row is None else _text(row[0]))


def _text(value: bytes | str) -> str:
    """A TEXT column (the store's connections return TEXT as bytes)."""
    return value.decode() if isinstance(value, bytes) else value


def _opt_text(value: bytes | str | None) -> str | None:
    return None if value is None else _text(value)


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


class CarbonTotals:
    """The read model of :mod:`gridledger.readmodels.carbon`."""

    name: str = "carbon"
    version: int = 3
    table_names: tuple[str, ...] = (
        "carbon_zone",
        "carbon_meters",
        "carbon_sites",
        "carbon_devices",
        "carbon_corrections",
        "carbon_site_hours",
        "carbon_site_months",
        "carbon_claimed_long",
        "carbon_device_months",
    )
    tables: tuple[str, ...] = (
        "CREATE TABLE IF NOT EXISTS carbon_meters (meter TEXT PRIMARY KEY, kind TEXT NOT NULL, "
        "site TEXT, device TEXT, interval_s INTEGER NOT NULL) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS carbon_sites (site TEXT PRIMARY KEY, org TEXT NOT NULL, "
        "region TEXT NOT NULL) WITHOUT ROWID",
        "CREATE INDEX IF NOT EXISTS carbon_sites_org ON carbon_sites (org)",
        "CREATE TABLE IF NOT EXISTS carbon_devices (device TEXT PRIMARY KEY, org TEXT NOT NULL, "
        "region TEXT NOT NULL, technology TEXT NOT NULL) WITHOUT ROWID",
        "CREATE INDEX IF NOT EXISTS carbon_devices_org ON carbon_devices (org)",
        "CREATE TABLE IF NOT EXISTS carbon_corrections (meter TEXT, start_s INTEGER, "
        "energy_wh INTEGER NOT NULL, PRIMARY KEY (meter, start_s)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS carbon_site_hours (site TEXT, hour_s INTEGER, "
        "consumption_wh INTEGER NOT NULL DEFAULT 0, claimed_wh INTEGER NOT NULL DEFAULT 0, "
        "PRIMARY KEY (site, hour_s)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS carbon_site_months (site TEXT, month_s INTEGER, "
        "consumption_wh INTEGER NOT NULL DEFAULT 0, matched_wh INTEGER NOT NULL DEFAULT 0, "
        "claimed_wh INTEGER NOT NULL DEFAULT 0, readings INTEGER NOT NULL DEFAULT 0, "
        "corrected INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (site, month_s)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS carbon_claimed_long (site TEXT, start_s INTEGER, "
        "claimed_wh INTEGER NOT NULL, PRIMARY KEY (site, start_s)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS carbon_device_months (device TEXT, month_s INTEGER, "
        "generation_wh INTEGER NOT NULL DEFAULT 0, readings INTEGER NOT NULL DEFAULT 0, "
        "PRIMARY KEY (device, month_s)) WITHOUT ROWID",
    )

    def __init__(self, zone: str = DEFAULT_ZONE) -> None:
        """A model counting months in ``zone`` (the chain's genesis ``time_zone``)."""
        self.local = LocalTime(zone)
        # the zone is a literal here: ``zone`` is an IANA name LocalTime has just loaded
        quoted = zone.replace("'", "''")
        self.tables = (
            *type(self).tables,
            f"CREATE TABLE IF NOT EXISTS carbon_zone AS SELECT '{quoted}' AS name",
        )

    def apply(self, conn: sqlite3.Connection, facts: BlockFacts) -> None:
        block = carbon_changes.written(facts.changes)
        if block.meters:
            conn.executemany(
                "INSERT OR REPLACE INTO carbon_meters (meter, kind, site, device, interval_s) "
                "VALUES (?, ?, ?, ?, ?)",
                [(m.id, m.kind, m.site, m.device, m.interval_s) for m in block.meters],
            )
        if block.sites:
            conn.executemany(
                "INSERT OR REPLACE INTO carbon_sites (site, org, region) VALUES (?, ?, ?)",
                [(s.id, s.owner_org, s.grid_region) for s in block.sites],
            )
        if block.devices:
            conn.executemany(
                "INSERT OR REPLACE INTO carbon_devices (device, org, region, technology) "
                "VALUES (?, ?, ?, ?)",
                [(d.id, d.owner_org, d.grid_region, d.technology) for d in block.devices],
            )
        if not (block.readings or block.corrections or block.claimed):
            return
        meters = self._meters(conn, {r.meter for r in block.readings}
                              | {c.meter for c in block.corrections})  # fmt: skip
        # per (site, hour): consumption and claimed deltas; per (site, month): consumption,
        # matched and claimed deltas, and readings and corrected counts
        hour_delta: dict[tuple[str, int], list[int]] = {}
        claimed_now: dict[tuple[str, int], int] = {}
        month_delta: dict[tuple[str, int], list[int]] = {}
        month_counts: dict[tuple[str, int], list[int]] = {}
        device_delta: dict[tuple[str, int], list[int]] = {}
        month_of = self.local.month_of

        def add_energy(meter: str, start: int, wh: int, reading: int, corrected: int) -> None:
            kind, site, device, interval_s = meters.get(meter, ("", None, None, 0))
            if kind == "consumption" and site is not None:
                if interval_s <= HOUR_S:
                    row = hour_delta.setdefault((site, start - start % HOUR_S), [0, 0])
                else:  # a daily reading: its month's consumption, no hour's
                    row = month_delta.setdefault((site, month_of(start)), [0, 0, 0])
                row[0] += wh
                counts = month_counts.setdefault((site, month_of(start)), [0, 0])
                counts[0] += reading
                counts[1] += corrected
            elif kind == "generation" and device is not None:
                row = device_delta.setdefault((device, month_of(start)), [0, 0])
                row[0] += wh
                row[1] += reading

        for r in block.readings:
            add_energy(r.meter, r.start_s, r.energy_wh, 1, 0)
        if block.corrections:
            pairs = sorted({(c.meter, c.start_s) for c in block.corrections})
            earlier: dict[tuple[str, int], int] = {
                (m, t): e
                for m, t, e in self._rows(conn, "carbon_corrections", "start_s", "energy_wh", pairs)
            }
            for c in block.corrections:
                before = earlier.get((c.meter, c.start_s), c.original_wh)
                first = (c.meter, c.start_s) not in earlier
                add_energy(c.meter, c.start_s, c.energy_wh - before, 0, 1 if first else 0)
                earlier[(c.meter, c.start_s)] = c.energy_wh
            conn.executemany(
                "INSERT OR REPLACE INTO carbon_corrections (meter, start_s, energy_wh) "
                "VALUES (?, ?, ?)",
                [(c.meter, c.start_s, c.energy_wh) for c in block.corrections],
            )
        long_claims = []
        for total in block.claimed:
            if total.hourly:
                claimed_now[(total.site, total.start_s)] = total.total_wh
                hour_delta.setdefault((total.site, total.start_s), [0, 0])
            else:
                long_claims.append(total)
        if long_claims:
            pairs = sorted({(t.site, t.start_s) for t in long_claims})
            before_long = {
                (s, t): w
                for s, t, w in self._rows(
                    conn, "carbon_claimed_long", "start_s", "claimed_wh", pairs
                )
            }
            for t in long_claims:
                delta = t.total_wh - before_long.get((t.site, t.start_s), 0)
                row = month_delta.setdefault((t.site, month_of(t.start_s)), [0, 0, 0])
                row[2] += delta
            conn.executemany(
                "INSERT OR REPLACE INTO carbon_claimed_long (site, start_s, claimed_wh) "
                "VALUES (?, ?, ?)",
                [(t.site, t.start_s, t.total_wh) for t in long_claims],
            )
        if hour_delta:
            old = {
                (s, h): (c, k)
                for s, h, c, k in self._rows(
                    conn, "carbon_site_hours", "hour_s", "consumption_wh, claimed_wh",
                    sorted(hour_delta),
                )
            }  # fmt: skip
            rows = []
            for (site, hour), (dc, _) in hour_delta.items():
                c0, k0 = old.get((site, hour), (0, 0))
                c1 = c0 + dc
                k1 = claimed_now.get((site, hour), k0)
                rows.append((site, hour, c1, k1))
                row = month_delta.setdefault((site, month_of(hour)), [0, 0, 0])
                row[0] += c1 - c0
                row[1] += min(c1, k1) - min(c0, k0)
                row[2] += k1 - k0
            conn.executemany(
                "INSERT OR REPLACE INTO carbon_site_hours (site, hour_s, consumption_wh, "
                "claimed_wh) VALUES (?, ?, ?, ?)",
                rows,
            )
        if month_delta or month_counts:
            keys = set(month_delta) | set(month_counts)
            conn.executemany(
                "INSERT INTO carbon_site_months (site, month_s, consumption_wh, matched_wh, "
                "claimed_wh, readings, corrected) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (site, month_s) DO UPDATE SET "
                "consumption_wh = consumption_wh + excluded.consumption_wh, "
                "matched_wh = matched_wh + excluded.matched_wh, "
                "claimed_wh = claimed_wh + excluded.claimed_wh, "
                "readings = readings + excluded.readings, "
                "corrected = corrected + excluded.corrected",
                [
                    (k[0], k[1], *month_delta.get(k, [0, 0, 0]), *month_counts.get(k, [0, 0]))
                    for k in sorted(keys)
                ],
            )
        if device_delta:
            conn.executemany(
                "INSERT INTO carbon_device_months (device, month_s, generation_wh, readings) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (device, month_s) DO UPDATE SET "
                "generation_wh = generation_wh + excluded.generation_wh, "
                "readings = readings + excluded.readings",
                [(k[0], k[1], *v) for k, v in sorted(device_delta.items())],
            )

    @staticmethod
    def _meters(
        conn: sqlite3.Connection, wanted: set[str]
    ) -> dict[str, tuple[str, str | None, str | None, int]]:
        found: dict[str, tuple[str, str | None, str | None, int]] = {}
        for part in _chunks(sorted(wanted)):
            marks = ",".join("?" * len(part))
            for meter, kind, site, device, interval_s in conn.execute(
                "SELECT meter, kind, site, device, interval_s FROM carbon_meters "  # noqa: S608
                f"WHERE meter IN ({marks})",
                part,
            ):
                found[_text(meter)] = (
                    _text(kind), _opt_text(site), _opt_text(device), interval_s,
                )  # fmt: skip
        return found

    @staticmethod
    def _rows(
        conn: sqlite3.Connection, table: str, key: str, columns: str, pairs: list[tuple[str, int]]
    ) -> list[tuple[Any, ...]]:
        """Rows of ``table`` whose ``(first column, key)`` is one of ``pairs``."""
        first = "meter" if table == "carbon_corrections" else "site"
        out: list[tuple[Any, ...]] = []
        for i in range(0, len(pairs), _CHUNK):
            part = pairs[i : i + _CHUNK]
            marks = ",".join("(?, ?)" for _ in part)
            flat = [x for pair in part for x in pair]
            # a join with the pairs, not ``(a, b) IN (VALUES ...)``: SQLite plans that IN as
            # a scan of the whole table, the join as a primary-key search per pair
            out.extend(
                (_text(row[0]), *row[1:])
                for row in conn.execute(
                    f"SELECT {first}, {key}, {columns} FROM (VALUES {marks}) AS wanted "  # noqa: S608 - ours
                    f"JOIN {table} ON {first} = wanted.column1 AND {key} = wanted.column2",
                    flat,
                )
            )
        return out
