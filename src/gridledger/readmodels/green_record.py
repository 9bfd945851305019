"""A household's clean-power record, computed from the ledger: its streak of clean days, its
hourly-matched clean share per day and month, the certified clean energy it used, the CO2 that
energy avoided and the milestones it reached.

Everything comes from the carbon read model (:mod:`gridledger.readmodels.carbon`), which folds
metered consumption and certificate claims per site and hour from committed blocks, and from
the carbon inventory (:mod:`gridledger.readmodels.carbon_inventory`) for the grid-average
factor of each month. Nothing here is stored: a record is recomputed when a page asks, so it
can never disagree with the claims and readings it is made of.

Definitions (days and months are those of the chain's time zone):

* a day's **clean share** is its hourly-matched energy (per site and hour, the lesser of
  consumption and certificates claimed for the site produced in that hour) over its metered
  consumption, in permille, rounded down; a day without consumption has no share;
* a **clean day** is a day with consumption whose share is at least the household's chosen
  threshold (permille, :data:`DEFAULT_THRESHOLD_PERMILLE` until it chooses one);
* the **streak** is the number of consecutive clean days ending with the latest day with
  consumption (0 if that day is not clean); the **best streak** is the longest run;
* **clean energy used** is the hourly-matched energy, Wh; **CO2 avoided** is that energy times
  the month's grid-average factor (rounded down per site and day), grams.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

from gridledger.contracts import carbon, community
from gridledger.core.errors import GridLedgerError
from gridledger.core.localtime import LocalTime
from gridledger.readmodels.carbon_inventory import site_inventory
from gridledger.state.state import StateReader

DEFAULT_THRESHOLD_PERMILLE = 500
"""A day counts as clean at half its consumption hourly-matched, until the household chooses."""
WH_PER_MWH = 1_000_000
_CHUNK = 400


@dataclass(frozen=True)
class DayShare:
    """One local day of a household.

    Attributes:
        day_s: The day's first second (Unix, UTC).
        consumption_wh: Metered consumption, Wh.
        matched_wh: Hourly-matched clean energy, Wh.
    """

    day_s: int
    consumption_wh: int
    matched_wh: int

    @property
    def share_permille(self) -> int | None:
        """Matched over consumed, permille rounded down (``None`` without consumption)."""
        if self.consumption_wh <= 0:
            return None
        return min(self.matched_wh, self.consumption_wh) * 1000 // self.consumption_wh

    def clean(self, threshold_permille: int) -> bool:
        """Whether this day counts toward a streak at ``threshold_permille``."""
        share = self.share_permille
        return share is not None and share >= threshold_permille


@dataclass(frozen=True)
class MonthFigures:
    """One local month of a household.

    Attributes:
        month: YYYY-MM.
        consumption_wh: Metered consumption, Wh.
        matched_wh: Hourly-matched clean energy (certified clean power used), Wh.
        avoided_g: CO2 the matched energy avoided at the grid-average factor, grams.
        clean_days: Days at or above the threshold.
        days: Days with consumption.
    """

    month: str
    consumption_wh: int
    matched_wh: int
    avoided_g: int
    clean_days: int
    days: int

    @property
    def share_permille(self) -> int | None:
        """The month's hourly-matched share, permille rounded down."""
        if self.consumption_wh <= 0:
            return None
        return min(self.matched_wh, self.consumption_wh) * 1000 // self.consumption_wh


@dataclass(frozen=True)
class Milestone:
    """A milestone and when it was reached (``None``: not yet).

    Attributes:
        key: ``first_clean_day``, ``streak_7``, ``streak_30``, ``kwh_100``, ``tonne_1``.
        reached_s: The first second of the local day it was reached on.
    """

    key: str
    reached_s: int | None


@dataclass(frozen=True)
class Record:
    """A household's record over every day the ledger has for its sites.

    Attributes:
        threshold_permille: The share a day needs to count as clean.
        streak: Consecutive clean days ending with the latest day with consumption.
        best_streak: The longest run of clean days.
        days: Every day with consumption, oldest first.
        months: Every month with consumption, oldest first.
        matched_wh: Hourly-matched clean energy over all days, Wh.
        consumption_wh: Consumption over all days, Wh.
        avoided_g: CO2 avoided over all months, grams.
        milestones: In a fixed order.
    """

    threshold_permille: int
    streak: int
    best_streak: int
    days: list[DayShare]
    months: list[MonthFigures]
    matched_wh: int
    consumption_wh: int
    avoided_g: int
    milestones: list[Milestone] = field(default_factory=list)

    def month(self, text: str) -> MonthFigures | None:
        """The figures of month ``text`` (YYYY-MM), if it had consumption."""
        return next((m for m in self.months if m.month == text), None)


def streaks(days: Sequence[DayShare], threshold_permille: int) -> tuple[int, int]:
    """``(current, best)`` streaks of ``days`` (consecutive local days, oldest first; a day
    missing from the sequence breaks a run just as an unclean day does).

    The current streak ends with the last day of ``days``.
    """
    current = best = 0
    previous: int | None = None
    for day in days:
        consecutive = previous is not None and _next_day_gap(previous, day.day_s)
        current = (current + 1 if consecutive else 1) if day.clean(threshold_permille) else 0
        best = max(best, current)
        previous = day.day_s
    return current, best


def _next_day_gap(previous_s: int, day_s: int) -> bool:
    # local days are 23 to 25 hours long (a zone with daylight saving time)
    return 23 * 3600 <= day_s - previous_s <= 25 * 3600


def milestones(
    days: Sequence[DayShare], threshold_permille: int, avoided_by_day: dict[int, int]
) -> list[Milestone]:
    """The day each milestone was first reached: the first clean day, 7- and 30-day streaks,
    100 kWh of clean power used, 1 tonne of CO2 avoided (``avoided_by_day``: grams avoided per
    day, summing to the months' figures)."""
    reached: dict[str, int | None] = dict.fromkeys(
        ("first_clean_day", "streak_7", "streak_30", "kwh_100", "tonne_1")
    )
    run = 0
    previous: int | None = None
    matched = avoided = 0

    def mark(key: str, day_s: int) -> None:
        if reached[key] is None:
            reached[key] = day_s

    for day in days:
        consecutive = previous is not None and _next_day_gap(previous, day.day_s)
        run = (run + 1 if consecutive else 1) if day.clean(threshold_permille) else 0
        previous = day.day_s
        matched += day.matched_wh
        avoided += avoided_by_day.get(day.day_s, 0)
        if run >= 1:
            mark("first_clean_day", day.day_s)
        if run >= 7:
            mark("streak_7", day.day_s)
        if run >= 30:
            mark("streak_30", day.day_s)
        if matched >= 100_000:
            mark("kwh_100", day.day_s)
        if avoided >= 1_000_000:
            mark("tonne_1", day.day_s)
    return [Milestone(key, at) for key, at in reached.items()]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def sites_of(conn: sqlite3.Connection, org: str) -> list[str]:
    """The consumption sites of a household organisation, in id order."""
    return sorted(
        _text(s) for (s,) in conn.execute("SELECT site FROM carbon_sites WHERE org = ?", (org,))
    )


def site_days(
    conn: sqlite3.Connection, sites: Sequence[str], local: LocalTime
) -> dict[tuple[str, int], tuple[int, int]]:
    """Per site and local day: (consumption, hourly-matched) Wh, from the hour rows."""
    out: dict[tuple[str, int], tuple[int, int]] = {}
    for i in range(0, len(sites), _CHUNK):
        chunk = list(sites[i : i + _CHUNK])
        marks = ",".join("?" * len(chunk))
        for site, hour, c, k in conn.execute(
            "SELECT site, hour_s, consumption_wh, claimed_wh FROM carbon_site_hours "  # noqa: S608
            f"WHERE site IN ({marks}) ORDER BY site, hour_s",
            chunk,
        ):
            key = (_text(site), local.day_of(int(hour)))
            was = out.get(key, (0, 0))
            out[key] = (was[0] + c, was[1] + min(c, k))
    return out


def household_record(
    conn: sqlite3.Connection,
    view: StateReader,
    org: str,
    threshold_permille: int,
    local: LocalTime,
) -> Record:
    """The record of household organisation ``org`` over every day the ledger has."""
    sites = sites_of(conn, org)
    per_site = site_days(conn, sites, local)
    by_day: dict[int, list[int]] = {}
    for (_, day), (c, m) in per_site.items():
        cell = by_day.setdefault(day, [0, 0])
        cell[0] += c
        cell[1] += m
    days = [DayShare(d, c, m) for d, (c, m) in sorted(by_day.items()) if c > 0]
    factor = _grid_factors(conn, view, sites, days, local)
    avoided_by_day: dict[int, int] = {}
    month_rows: dict[int, list[int]] = {}
    for (site, day), (c, m) in sorted(per_site.items()):
        month = local.month_of(day)
        grams = m * factor.get((site, month), 0) // WH_PER_MWH
        avoided_by_day[day] = avoided_by_day.get(day, 0) + grams
        row = month_rows.setdefault(month, [0, 0, 0, 0, 0])
        row[0] += c
        row[1] += m
        row[2] += grams
    for shown in days:
        row = month_rows[local.month_of(shown.day_s)]
        row[3] += shown.clean(threshold_permille)
        row[4] += 1
    months = [
        MonthFigures(local.month_text(m), c, matched, g, clean, n)
        for m, (c, matched, g, clean, n) in sorted(month_rows.items())
        if c > 0
    ]
    current, best = streaks(days, threshold_permille)
    return Record(
        threshold_permille=threshold_permille,
        streak=current,
        best_streak=best,
        days=days,
        months=months,
        matched_wh=sum(d.matched_wh for d in days),
        consumption_wh=sum(d.consumption_wh for d in days),
        avoided_g=sum(m.avoided_g for m in months),
        milestones=milestones(days, threshold_permille, avoided_by_day),
    )


def _grid_factors(
    conn: sqlite3.Connection,
    view: StateReader,
    sites: Sequence[str],
    days: Sequence[DayShare],
    local: LocalTime,
) -> dict[tuple[str, int], int]:
    """The grid-average factor (g per MWh) of each site and month the inventory has; a month
    without a factor in force avoids nothing on the record (it says so nowhere else)."""
    if not days:
        return {}
    start, end = local.month_text(days[0].day_s), local.month_text(days[-1].day_s)
    out: dict[tuple[str, int], int] = {}
    for site in sites:
        try:
            inventory = site_inventory(conn, view, site, start, end)
        except GridLedgerError:
            continue
        for row in inventory.months:
            out[(site, local.month_start(row.month))] = row.grid.g_per_mwh
    return out


# the community ------------------------------------------------------------------------------
def grid_factor(view: StateReader, region: str, month: str) -> int | None:
    """The grid-average factor (g per MWh) in force for ``region`` in local month ``month``
    (the set of the calendar month of that name, as inventories use), ``None`` without one."""
    try:
        found = carbon.factor_for(view, region, carbon.month_bounds(month)[0])
    except (GridLedgerError, ValueError):
        return None
    return found.set.grid_average.g_per_mwh


@dataclass(frozen=True)
class CommunityMonth:
    """The community's households in one local month.

    Attributes:
        month: YYYY-MM.
        households: Household organisations with consumption in the month.
        consumption_wh: Their metered consumption, Wh.
        matched_wh: Hourly-matched clean energy, Wh.
        avoided_g: CO2 the matched energy avoided at the grid-average factor, grams.
    """

    month: str
    households: int
    consumption_wh: int
    matched_wh: int
    avoided_g: int

    @property
    def share_permille(self) -> int | None:
        if self.consumption_wh <= 0:
            return None
        return min(self.matched_wh, self.consumption_wh) * 1000 // self.consumption_wh


@dataclass(frozen=True)
class PlantContribution:
    """One plant's month.

    Attributes:
        device: The plant's id.
        generation_wh: Metered generation in the month, Wh.
        avoided_g: CO2 that generation avoided at the grid-average factor, grams.
        households: Households its generation served (settled deliveries, all time).
    """

    device: str
    generation_wh: int
    avoided_g: int
    households: int


@dataclass(frozen=True)
class Ranked:
    """A household that opted in to the public ranking, under its pseudonym only.

    Attributes:
        rank: 1 for the highest clean share of the month.
        pseudonym: The name it chose (never its account, organisation or sites).
        share_permille: Its hourly-matched clean share of the month.
        matched_wh: Its hourly-matched clean energy in the month, Wh.
    """

    rank: int
    pseudonym: str
    share_permille: int | None
    matched_wh: int


def community_month(
    conn: sqlite3.Connection, view: StateReader, month: str, local: LocalTime
) -> CommunityMonth:
    """Every household's consumption and hourly-matched energy in ``month`` (YYYY-MM)."""
    month_s = local.month_start(month)
    orgs: set[str] = set()
    consumption = matched = avoided = 0
    factors: dict[str, int | None] = {}
    for org, region, c, m in conn.execute(
        "SELECT s.org, s.region, m.consumption_wh, m.matched_wh FROM carbon_site_months m "
        "JOIN carbon_sites s ON s.site = m.site WHERE m.month_s = ? ORDER BY m.site",
        (month_s,),
    ):
        if c > 0:
            orgs.add(_text(org))
        consumption += c
        matched += m
        region_id = _text(region)
        if region_id not in factors:
            factors[region_id] = grid_factor(view, region_id, month)
        avoided += m * (factors[region_id] or 0) // WH_PER_MWH
    return CommunityMonth(month, len(orgs), consumption, matched, avoided)


def plant_contributions(
    conn: sqlite3.Connection, view: StateReader, month: str, local: LocalTime
) -> list[PlantContribution]:
    """Every plant's generation in ``month`` and how many households it served, by id."""
    month_s = local.month_start(month)
    out = []
    for device, region, gen in conn.execute(
        "SELECT d.device, d.region, COALESCE(m.generation_wh, 0) FROM carbon_devices d "
        "LEFT JOIN carbon_device_months m ON m.device = d.device AND m.month_s = ? "
        "ORDER BY d.device",
        (month_s,),
    ):
        device_id = _text(device)
        factor = grid_factor(view, _text(region), month) or 0
        out.append(
            PlantContribution(
                device_id, gen, gen * factor // WH_PER_MWH, households_served(conn, device_id)
            )
        )
    return out


def households_served(conn: sqlite3.Connection, device: str) -> int:
    """Consumers a plant delivered clean energy to in settled pairings (all time)."""
    (n,) = conn.execute(
        "SELECT COUNT(*) FROM market_plant_buyers WHERE device = ? AND delivered_wh > 0",
        (device,),
    ).fetchone()
    return int(n)


def ranking(
    conn: sqlite3.Connection, view: StateReader, month: str, local: LocalTime
) -> list[Ranked]:
    """The households that opted in, by their clean share of ``month`` (highest first, then
    pseudonym); a household that revoked is not read at all."""
    month_s = local.month_start(month)
    rows = []
    for consent in community.ranked(view):
        if consent.pseudonym is None:
            continue
        sites = sites_of(conn, consent.org)
        c = m = 0
        for site in sites:
            found = conn.execute(
                "SELECT consumption_wh, matched_wh FROM carbon_site_months "
                "WHERE site = ? AND month_s = ?",
                (site, month_s),
            ).fetchone()
            if found is not None:
                c += found[0]
                m += found[1]
        share = min(m, c) * 1000 // c if c > 0 else None
        rows.append((share, m, consent.pseudonym))
    rows.sort(key=lambda r: (-(r[0] if r[0] is not None else -1), -r[1], community.fold(r[2])))
    return [Ranked(i + 1, name, share, m) for i, (share, m, name) in enumerate(rows)]


# nudges -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Missed:
    """What a household that went back to grid power would have avoided had it stayed.

    Attributes:
        since_s: When it chose grid power again (block time).
        consumption_wh: Its consumption on the days from then on, Wh.
        share_permille: Its own hourly-matched share on the days before (what it had).
        matched_wh: That share of the consumption since, Wh.
        avoided_g: That energy at the grid-average factor, grams.
    """

    since_s: int
    consumption_wh: int
    share_permille: int
    matched_wh: int
    avoided_g: int


def missed(found: Record, since_s: int, factor_g_per_mwh: int) -> Missed | None:
    """What the household would have avoided since ``since_s`` at the clean share it had
    before (``None`` if it had no clean energy before, or no consumption since)."""
    before = [d for d in found.days if d.day_s < since_s]
    after = [d for d in found.days if d.day_s >= since_s]
    consumed_before = sum(d.consumption_wh for d in before)
    matched_before = sum(min(d.matched_wh, d.consumption_wh) for d in before)
    consumed_after = sum(d.consumption_wh for d in after)
    if not matched_before or not consumed_after:
        return None
    share = matched_before * 1000 // consumed_before
    matched = consumed_after * share // 1000
    return Missed(since_s, consumed_after, share, matched, matched * factor_g_per_mwh // WH_PER_MWH)
