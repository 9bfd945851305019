"""Reading certificates: bundles by device and interval, claim statements, hourly matching.

Hourly matching follows the EnergyTag Granular Certificate Scheme's 24/7 score: for each hour
of a period, the matched energy of a site is ``min(consumption, claimed)``, where ``claimed``
is what certificates **produced in that hour** and claimed for the site cover; the hourly
score is the sum of matched energy over the sum of consumption. The annual-volume share beside
it is ``min(total claimed, total consumption) / total consumption`` over the same period,
counting every certificate claimed for the site with production in the period (a GEC
conversion's month included), whenever it was produced within it. Both are given in parts per
million (integers), and as the underlying Wh.
"""

from __future__ import annotations

from gridledger.contracts import metering, registry
from gridledger.contracts.base import Page, Record, page_of
from gridledger.contracts.certificates import bundles, keys
from gridledger.contracts.certificates.index import issued_day
from gridledger.contracts.certificates.records import Bundle, Issuance, Status
from gridledger.state.state import StateReader

HOUR_S = 3600
DAY_S = 86_400
MAX_MATCH_HOURS = 366 * 24


class HourMatch(Record, array_like=True):
    """One hour of a site's matching: start, consumption, claimed and matched Wh."""

    start_s: int
    consumption_wh: int
    claimed_wh: int
    matched_wh: int


class Matching(Record):
    """A site's clean-energy matching over a period.

    Attributes:
        site: The consumption site.
        start_s: Period start (an hour boundary), Unix seconds UTC.
        end_s: Period end (exclusive).
        consumption_wh: What the site's meters measured, Wh.
        claimed_wh: Wh of certificates claimed for the site with production in the period.
        hourly_matched_wh: Sum over hours of min(consumption, claimed produced that hour).
        hourly_score_ppm: ``hourly_matched_wh / consumption_wh``, parts per million (the 24/7
            score; 0 without consumption).
        volume_matched_wh: ``min(claimed_wh, consumption_wh)``.
        volume_score_ppm: ``volume_matched_wh / consumption_wh``, parts per million.
        hours: Per-hour detail (hours with neither consumption nor claims left out).
    """

    site: str
    start_s: int
    end_s: int
    consumption_wh: int
    claimed_wh: int
    hourly_matched_wh: int
    hourly_score_ppm: int
    volume_matched_wh: int
    volume_score_ppm: int
    hours: list[HourMatch]


def matching(view: StateReader, site: str, start_s: int, end_s: int) -> Matching:
    """Hourly and annual-volume matching of ``site`` over ``[start_s, end_s)`` (aligned down
    and up to whole hours, at most 366 days)."""
    start = start_s - start_s % HOUR_S
    end = -(-end_s // HOUR_S) * HOUR_S
    if end - start > MAX_MATCH_HOURS * HOUR_S:
        end = start + MAX_MATCH_HOURS * HOUR_S
    if registry.get_site(view, site) is None:
        raise registry.UnknownSite(f"no site {site!r}")
    meters = registry.meter_ids_of(view, "site", site)
    consumed: dict[int, int] = {}
    for bucket in metering.totals(view, meters, start, end, HOUR_S):
        consumed[bucket.start_s] = bucket.energy_wh
    claimed: dict[int, int] = {}
    prefix = keys.claimed_of(site)
    for k, raw in view.scan_range(prefix, keys.time_part(start), keys.time_part(end)):
        claimed[int(k[len(prefix) :])] = int(raw)
    long_claimed = 0
    prefix = keys.claimed_long_of(site)
    for _, raw in view.scan_range(prefix, keys.time_part(start), keys.time_part(end)):
        long_claimed += int(raw)
    hours = []
    for hour in sorted(set(consumed) | set(claimed)):
        used, got = consumed.get(hour, 0), claimed.get(hour, 0)
        hours.append(
            HourMatch(start_s=hour, consumption_wh=used, claimed_wh=got, matched_wh=min(used, got))
        )
    consumption = sum(consumed.values())
    total_claimed = sum(claimed.values()) + long_claimed
    hourly = sum(h.matched_wh for h in hours)
    volume = min(total_claimed, consumption)
    return Matching(
        site=site,
        start_s=start,
        end_s=end,
        consumption_wh=consumption,
        claimed_wh=total_claimed,
        hourly_matched_wh=hourly,
        hourly_score_ppm=hourly * 1_000_000 // consumption if consumption else 0,
        volume_matched_wh=volume,
        volume_score_ppm=volume * 1_000_000 // consumption if consumption else 0,
        hours=hours,
    )


class Statement(Record):
    """What was claimed for a beneficiary with production in a period.

    Attributes:
        beneficiary: The account.
        start_s: Period start, Unix seconds UTC.
        end_s: Period end (exclusive).
        claimed_wh: Wh claimed.
        by_site: Wh claimed per site, by site id.
        bundles: The claimed bundles, by production start then id.
    """

    beneficiary: str
    start_s: int
    end_s: int
    claimed_wh: int
    by_site: dict[str, int]
    bundles: list[Bundle]


def statement(
    view: StateReader, beneficiary: str, start_s: int, end_s: int, limit: int = 10_000
) -> Statement:
    """The claim statement of ``beneficiary`` for production in ``[start_s, end_s)``."""
    prefix = keys.claims_of(beneficiary)
    found: list[Bundle] = []
    for k, _ in view.scan_range(prefix, keys.time_part(max(start_s, 0)), keys.time_part(end_s)):
        bundle = bundles.get_bundle(view, k[len(prefix) + 11 :].decode())
        if bundle is not None:
            found.append(bundle)
        if len(found) >= limit:
            break
    by_site: dict[str, int] = {}
    for b in found:
        site = b.cancellation.site if b.cancellation else ""
        by_site[site] = by_site.get(site, 0) + b.quantity_wh
    return Statement(
        beneficiary=beneficiary,
        start_s=start_s,
        end_s=end_s,
        claimed_wh=sum(b.quantity_wh for b in found),
        by_site=dict(sorted(by_site.items())),
        bundles=found,
    )


def bundles_of_device(
    view: StateReader,
    device: str,
    after: str | None = None,
    limit: int | None = 100,
    status: Status | None = None,
    owner: str | None = None,
    time_s: int | None = None,
) -> Page[Bundle]:
    """A device's bundles in id order, filtered by status (at ``time_s``) and holder."""

    def keep(b: Bundle) -> bool:
        now = bundles.status_at(b, time_s) if time_s is not None else b.status
        return (status is None or now == status) and (owner is None or b.owner == owner)

    filtered = status is not None or owner is not None
    prefix = keys.bundles_of(device)
    after_key = None
    if after is not None:
        parsed = bundles.parse_bundle_id(after)
        after_key = f"{parsed[1]:019d}" if parsed else after
    page = page_of(view, prefix, Bundle, after_key, limit, keep if filtered else None)
    following = None if page.next is None else bundles.bundle_id(device, int(page.next))
    return Page(page.items, following)


def issuances(view: StateReader, device: str, start_s: int, end_s: int) -> list[Issuance]:
    """The device's issuances with interval starts in ``[start_s, end_s)``."""
    out: list[Issuance] = []
    prefix = keys.issued_of(device)
    day0 = start_s - start_s % DAY_S
    for k, _ in view.scan_range(prefix, keys.time_part(max(day0, 0)), keys.time_part(end_s)):
        day = int(k[len(prefix) :])
        out.extend(
            i for i in issued_day(view, device, day).issuances if start_s <= i.start_s < end_s
        )
    return out
