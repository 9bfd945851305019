"""Property tests of carbon accounting: random readings, meter corrections and certificate
claims run through the executor in random block orders, the carbon read model folded block by
block, and inventories compared with a slow, obvious reference computed from the raw inputs.

* the read model's tables and every inventory are the same whatever the order (and grouping
  into blocks) of readings, corrections and claims;
* location-based scope 2 is, per site and month, the month's consumption (corrections applied)
  x the grid factor in force, rounded down once; the whole inventory equals the reference;
* market-based accounting never counts a certificate twice: a site's claimed Wh are exactly the
  Wh of the bundles claimed for it, the sites' claimed Wh add up to the bundles claimed, each
  once, and a claimed bundle can be neither claimed nor cancelled again;
* hourly-matched energy is at most min(consumption, claimed) in every site's month;
* moving one claim to another site of the organisation moves exactly its Wh, and its emissions
  (at each site's own residual factor, within the documented rounding of one gram per site and
  month); nothing else changes.

The two sites of Guangdong (home-1, home-3) use the province's sets (2022 factors in May, 2023's
in June, no residual mix); home-2 (Guizhou) falls back to the national set with its residual
mix. pv-1 produces in two hours of each month; its certificates are issued to house-00.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from carbon_support import (
    CONSUMER,
    DAY0,
    GRID,
    HOUR,
    MAY_LAST_DAY,
    OTHER_HOUSE,
    PRODUCER,
    CarbonLedger,
    grams,
)
from gridledger.contracts import carbon
from gridledger.core.types import Transaction
from gridledger.readmodels.carbon import month_of
from gridledger.readmodels.carbon_inventory import Inventory, month_text
from ledger_support import reading

SITES = {"home-1": "m-con", "home-2": "m-con2", "home-3": "m-con3"}
PRODUCTION = [MAY_LAST_DAY + 11 * HOUR, MAY_LAST_DAY + 12 * HOUR,
              DAY0 + 11 * HOUR, DAY0 + 12 * HOUR]  # fmt: skip
"""pv-1's hours: two on 2025-05-31, two on 2025-06-15."""
EVENINGS = [MAY_LAST_DAY + 19 * HOUR, DAY0 + 19 * HOUR, DAY0 + 20 * HOUR]
HOURS = PRODUCTION + EVENINGS
JUNE_EVENINGS = [DAY0 + h * HOUR for h in (19, 20, 21, 22)]
"""Four June evening hours of 5,000 Wh: 20,000 Wh, as much as pv-1 can make in June here."""
PERIOD = ("2025-05", "2025-06")


# scenarios -------------------------------------------------------------------------------------
@dataclass
class Scenario:
    generation: dict[int, list[int]]
    """pv-1's four quarter-hour readings of each production hour."""
    readings: dict[tuple[str, int], int]
    """Consumption Wh by (site, hour start)."""
    corrections: list[tuple[tuple[str, int], int]]
    """Corrected Wh of a reading, in the order the grid operator sends them."""
    claims: list[tuple[int, str, int]]
    """(production hour, site, Wh): certificates cancelled and claimed for the site."""
    extra: list[tuple[str, int, int]] = field(default_factory=list)
    """Readings every ledger of the example submits before the shuffled ones (site, hour, Wh)."""


@st.composite
def scenarios(draw: st.DrawFn, hours: list[int] = HOURS, production: list[int] = PRODUCTION,
              sites: tuple[str, ...] = tuple(SITES)) -> Scenario:  # fmt: skip
    generation = {h: draw(st.lists(st.integers(100, 2500), min_size=4, max_size=4))
                  for h in production}  # fmt: skip
    readings = draw(
        st.dictionaries(
            st.tuples(st.sampled_from(sites), st.sampled_from(hours)),
            st.integers(0, 5000),
            max_size=12,
        )
    )
    keys = sorted(readings)
    corrections = []
    if keys:
        for index, wh in draw(st.lists(st.tuples(st.integers(0, 99), st.integers(0, 5000)),
                                       max_size=4)):  # fmt: skip
            corrections.append((keys[index % len(keys)], wh))
    claims = []
    for hour in production:
        left = sum(generation[hour])
        for site, wh in draw(st.lists(st.tuples(st.sampled_from(sites), st.integers(1, 6000)),
                                      max_size=3)):  # fmt: skip
            if left == 0:
                break
            claims.append((hour, site, min(wh, left)))
            left -= min(wh, left)
    return Scenario(generation, readings, corrections, claims)


def base_ledger(scenario: Scenario) -> CarbonLedger:
    """The factor sets, the sites and pv-1 with its hours metered and issued to house-00."""
    led = CarbonLedger().households().guangdong()
    led.site("home-3", "m-con3", owner=OTHER_HOUSE)
    for hour, quarters in sorted(scenario.generation.items()):
        led.generate("m-gen", hour, quarters)
    led.issue("pv-1", sorted(scenario.generation))
    for site, hour, wh in scenario.extra:
        led.consume(SITES[site], hour, wh)
    return led


@dataclass
class Event:
    kind: str
    """reading, correction or claim."""
    args: tuple[Any, ...]


def events_of(scenario: Scenario) -> list[Event]:
    out = [Event("reading", (site, hour, wh)) for (site, hour), wh in
           sorted(scenario.readings.items())]  # fmt: skip
    out += [Event("correction", (key, wh)) for key, wh in scenario.corrections]
    out += [Event("claim", claim) for claim in scenario.claims]
    return out


def shuffled(events: list[Event], rng: random.Random) -> list[list[Event]]:
    """The events in a random order that keeps each reading before its corrections, and those
    in the order they were sent, grouped into blocks of one to four (a claim per block)."""
    keys = [rng.random() for _ in events]
    chains: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, e in enumerate(events):
        if e.kind == "reading":
            chains[(e.args[0], e.args[1])].insert(0, i)
        elif e.kind == "correction":
            chains[e.args[0]].append(i)
    for chain in chains.values():
        for i, k in zip(chain, sorted(keys[i] for i in chain), strict=True):
            keys[i] = k
    order = [events[i] for i in sorted(range(len(events)), key=keys.__getitem__)]
    blocks: list[list[Event]] = []
    for e in order:
        if (
            not blocks
            or len(blocks[-1]) >= rng.randint(1, 4)
            or (e.kind == "claim" and any(x.kind == "claim" for x in blocks[-1]))
        ):
            blocks.append([])
        blocks[-1].append(e)
    return blocks


def run_blocks(led: CarbonLedger, blocks: list[list[Event]]) -> None:
    for block in blocks:
        txs: list[Transaction] = []
        for e in block:
            if e.kind == "reading":
                site, hour, wh = e.args
                body: dict[str, Any] = {"readings": [reading(SITES[site], hour, wh, 3600)]}
                txs.append(led.tx("gw-1", "metering.submit", body))
            elif e.kind == "correction":
                (site, hour), wh = e.args
                body = {"meter": SITES[site], "start": hour, "energy_wh": wh, "reason": "fix"}
                txs.append(led.tx(GRID, "metering.correct", body))
            else:
                hour, site, wh = e.args
                bundle = led.active_bundle("pv-1", hour)
                txs.extend(led.claim_txs(bundle, site, wh))
        receipts = led.run(*txs)
        assert all(r.ok for r in receipts), [(r.code, r.message) for r in receipts]
        refused = [e for r in receipts for e in r.events if e["type"].endswith("refused")]
        assert not refused, refused


def play(scenario: Scenario, rng: random.Random) -> CarbonLedger:
    led = base_ledger(scenario)
    run_blocks(led, shuffled(events_of(scenario), rng))
    return led


# the reference ---------------------------------------------------------------------------------
def reference(led: CarbonLedger, scenario: Scenario, site: str) -> list[dict[str, Any]]:
    """The site's months of the period, computed from the scenario's raw inputs: what the
    inventory module's docstring says, the obvious way."""
    final: dict[int, int] = {}
    corrected: set[int] = set()
    for s, hour, wh in scenario.extra:
        if s == site:
            final[hour] = wh
    for (s, hour), wh in scenario.readings.items():
        if s == site:
            final[hour] = wh
    for (s, hour), wh in scenario.corrections:
        if s == site:
            final[hour] = wh
            corrected.add(hour)
    claimed: dict[int, int] = defaultdict(int)
    for hour, s, wh in scenario.claims:
        if s == site:
            claimed[hour] += wh
    grid_region = {"home-1": "CN-GD", "home-2": "CN-GZ", "home-3": "CN-GD"}[site]
    left = sum(claimed.values())  # the period is within one calendar year (2025)
    rows = []
    for m in sorted({month_of(h) for h in [*final, *claimed]}):
        hours = {h for h in [*final, *claimed] if month_of(h) == m}
        c = sum(final.get(h, 0) for h in hours)
        k = sum(claimed.get(h, 0) for h in hours)
        matched = sum(min(final.get(h, 0), claimed.get(h, 0)) for h in hours)
        covered = min(c, left)
        left -= covered
        found = carbon.factor_for(led.state, grid_region, m).set
        g = found.grid_average.g_per_mwh
        r = (found.residual_mix or found.grid_average).g_per_mwh
        rows.append({
            "site": site, "month": month_text(m), "consumption_wh": c, "claimed_wh": k,
            "matched_hourly_wh": matched, "covered_volume_wh": covered,
            "readings": sum(1 for h in final if month_of(h) == m),
            "corrected": sum(1 for h in corrected if month_of(h) == m),
            "location_g": grams(c, g), "market_volume_g": grams(c - covered, r),
            "market_hourly_g": grams(c - matched, r), "avoided_g": grams(k, g),
        })  # fmt: skip
    return rows


FIELDS = ("site", "month", "consumption_wh", "claimed_wh", "matched_hourly_wh",
          "covered_volume_wh", "readings", "corrected", "location_g", "market_volume_g",
          "market_hourly_g", "avoided_g")  # fmt: skip


def rows_of(inv: Inventory) -> list[dict[str, Any]]:
    return [{name: getattr(row, name) for name in FIELDS} for row in inv.months]


def check_reference(led: CarbonLedger, scenario: Scenario) -> None:
    org = led.org_inventory("households", *PERIOD)
    expected = [row for site in sorted(SITES) for row in reference(led, scenario, site)]
    assert rows_of(org) == expected
    assert org.scope2_location_g == sum(r["location_g"] for r in expected)
    assert org.scope2_market_volume_g == sum(r["market_volume_g"] for r in expected)
    assert org.scope2_market_hourly_g == sum(r["market_hourly_g"] for r in expected)
    for site in SITES:
        assert rows_of(led.site_inventory(site, *PERIOD)) == reference(led, scenario, site)


# properties ------------------------------------------------------------------------------------
@given(scenario=scenarios(), seeds=st.tuples(st.integers(0, 2**32), st.integers(0, 2**32)))
def test_totals_do_not_depend_on_the_order_of_readings_and_claims(
    scenario: Scenario, seeds: tuple[int, int]
) -> None:
    first = play(scenario, random.Random(seeds[0]))
    second = play(scenario, random.Random(seeds[1]))
    assert first.tables() == second.tables()
    for org_or_site in (("org", "households"), *(("site", s) for s in SITES)):
        kind, subject = org_or_site
        a = getattr(first, f"{kind}_inventory")(subject, *PERIOD)
        b = getattr(second, f"{kind}_inventory")(subject, *PERIOD)
        assert msgspec.to_builtins(a) == msgspec.to_builtins(b)
    check_reference(first, scenario)


@given(scenario=scenarios(), seed=st.integers(0, 2**32), pick=st.integers(0, 99))
def test_market_based_never_counts_a_certificate_twice(
    scenario: Scenario, seed: int, pick: int
) -> None:
    led = play(scenario, random.Random(seed))
    org = led.org_inventory("households", *PERIOD)
    ranges = []
    for site in SITES:
        bundles = led.claimed_bundles(site)
        inv = led.site_inventory(site, *PERIOD)
        assert inv.claimed_wh == sum(b["quantity_wh"] for b in bundles)
        assert inv.claimed_wh == sum(wh for _, s, wh in scenario.claims if s == site)
        assert inv.covered_volume_wh <= min(inv.claimed_wh, inv.consumption_wh)
        ranges += [(b["range_start"], b["range_end"]) for b in bundles]
    # every claimed Wh id once, in one site's inventory
    ranges.sort()
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))
    assert (
        org.claimed_wh
        == sum(wh for *_, wh in scenario.claims)
        == sum(end - start + 1 for start, end in ranges)
    )
    assert org.covered_volume_wh <= org.claimed_wh
    # a claimed bundle is claimed or cancelled again by nobody, for no site (and the read
    # model is left as it was)
    if scenario.claims:
        other = sorted(SITES)[pick % len(SITES)]
        claimed = [b for s in SITES for b in led.claimed_bundles(s)]
        bundle = claimed[pick % len(claimed)]
        hour = bundle["production_start_s"]
        led.refuse(PRODUCER, "certificates.claim", {"bundle": bundle["id"]},
                   "certificates.not_cancelled")  # fmt: skip
        body = {"bundle": bundle["id"], "beneficiary": CONSUMER, "site": other,
                "period_start_s": hour, "period_end_s": hour + HOUR}  # fmt: skip
        led.refuse(PRODUCER, "certificates.cancel", body, "certificates.not_live")


@given(scenario=scenarios(), seed=st.integers(0, 2**32))
def test_hourly_matched_is_at_most_consumption_and_claims_in_every_month(
    scenario: Scenario, seed: int
) -> None:
    led = play(scenario, random.Random(seed))
    for site, month_s, consumption, matched, claimed, *_ in led.tables()["carbon_site_months"]:
        assert 0 <= matched <= min(consumption, claimed), (site, month_s)
    for row in led.org_inventory("households", *PERIOD).months:
        assert 0 <= row.matched_hourly_wh <= min(row.consumption_wh, row.claimed_wh)
    # over a year, hourly matching never covers more than annual matching
    for site in SITES:
        inv = led.site_inventory(site, *PERIOD)
        assert inv.matched_hourly_wh <= inv.covered_volume_wh


@given(
    scenario=scenarios(
        hours=[*PRODUCTION[2:], DAY0 + 9 * HOUR, DAY0 + 18 * HOUR], production=PRODUCTION[2:]
    ),
    seed=st.integers(0, 2**32),
    pick=st.integers(0, 99),
    other=st.integers(0, 1),
)
def test_moving_a_claim_between_sites_moves_exactly_its_emissions(
    scenario: Scenario, seed: int, pick: int, other: int
) -> None:
    """June only, every site with enough consumption that every claim covers consumption
    (four evening hours of 5,000 Wh: as much as pv-1 made in June)."""
    if not scenario.claims:
        return
    extra = [(site, hour, 5000) for site in SITES for hour in JUNE_EVENINGS]
    index = pick % len(scenario.claims)
    hour, source, wh = scenario.claims[index]
    to = sorted(set(SITES) - {source})[other]  # another site of the households
    base = Scenario(scenario.generation, scenario.readings, scenario.corrections,
                    scenario.claims, extra)  # fmt: skip
    moved = Scenario(scenario.generation, scenario.readings, scenario.corrections,
                     [*scenario.claims[:index], (hour, to, wh), *scenario.claims[index + 1 :]],
                     extra)  # fmt: skip
    scenario = base
    before = play(scenario, random.Random(seed))
    after = play(moved, random.Random(seed))
    check_reference(before, scenario)
    check_reference(after, moved)

    def june(led: CarbonLedger, site: str) -> Any:
        (row,) = led.site_inventory(site, "2025-06", "2025-06").months
        return row

    for site in SITES:
        a, b = june(before, site), june(after, site)
        assert (a.consumption_wh, a.location_g) == (b.consumption_wh, b.location_g)
        if site not in (source, to):
            assert msgspec.to_builtins(a) == msgspec.to_builtins(b)
    for site, sign in ((source, -1), (to, 1)):
        a, b = june(before, site), june(after, site)
        assert b.claimed_wh - a.claimed_wh == sign * wh
        assert b.covered_volume_wh - a.covered_volume_wh == sign * wh  # every claim covers
        # the emissions of the claim's Wh at the site's residual factor leave one site and
        # come off the other, each rounded down once for its month
        exact = wh * a.residual.g_per_mwh
        change = (a.market_volume_g - b.market_volume_g) * sign  # grams the claim took off
        assert abs(change * 1_000_000 - exact) < 1_000_000
        assert (a.avoided_g, b.avoided_g) == (grams(a.claimed_wh, a.grid.g_per_mwh),
                                              grams(b.claimed_wh, b.grid.g_per_mwh))  # fmt: skip
    total = [before.org_inventory("households", "2025-06", "2025-06"),
             after.org_inventory("households", "2025-06", "2025-06")]  # fmt: skip
    assert total[0].claimed_wh == total[1].claimed_wh
    assert total[0].covered_volume_wh == total[1].covered_volume_wh
    assert total[0].scope2_location_g == total[1].scope2_location_g
