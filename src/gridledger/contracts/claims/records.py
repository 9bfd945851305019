"""Claims' stored records.

Units: emissions in grams (``_g``) of the inventory's gas (CO2 on China's factors), credits
in whole tonnes (``_t``, 1 t = 1,000,000 g), energy in Wh, factors in grams per MWh, times
in Unix seconds UTC.
"""

from __future__ import annotations

from typing import Literal

from gridledger.contracts.base import Record

SubjectType = Literal["organisation", "site", "product", "event"]
ClaimStatus = Literal["made", "verified", "withdrawn"]
"""``made``: recorded, no verifier's statement yet; ``verified``: a carbon verifier of
another organisation gave its statement; ``withdrawn``: the claimant withdrew it (its
retirements stay used: retired credits are used for good)."""
Opinion = Literal["reasonable", "limited", "adverse"]
"""A verifier's opinion: reasonable or limited assurance that the claim is fairly stated,
or adverse (it is not)."""


class Subject(Record):
    """What a claim is about (ISO 14068-1 "subject of the carbon neutrality claim").

    Attributes:
        type: organisation, site, product or event.
        id: The organisation's or site's id; for a product or an event, the claimant's own
            id for it (1-64 of a-z 0-9 . _ -).
        name: How the claim names it (1-128 characters).
    """

    type: SubjectType
    id: str
    name: str


class SiteMonth(Record):
    """One site's month in a claim's inventory, computed from the ledger's state.

    Attributes:
        site: The site.
        month: YYYY-MM (UTC).
        consumption_wh: The site's metered consumption (corrections applied).
        covered_wh: Consumption covered by energy certificates claimed for the site with
            production in the month: ``min(claimed, consumption)``.
        grid_g_per_mwh: The grid-average factor of the set in force for the site's region.
        market_g_per_mwh: The residual-mix factor of that set, or its grid average if it
            has none.
        factor_set: The factor set's id.
        scope1_g: Confirmed scope 1 activity data of the site in the month.
        scope2_location_g: ``consumption_wh * grid_g_per_mwh // 1,000,000``.
        scope2_market_g: ``(consumption_wh - covered_wh) * market_g_per_mwh // 1,000,000``.
    """

    site: str
    month: str
    consumption_wh: int
    covered_wh: int
    grid_g_per_mwh: int
    market_g_per_mwh: int
    factor_set: str
    scope1_g: int
    scope2_location_g: int
    scope2_market_g: int


class ClaimInventory(Record):
    """A claim's greenhouse-gas inventory by scope.

    Attributes:
        gas: CO2 or CO2e, the factors' gas.
        scope1_g: Confirmed scope 1 (fuels burnt at the sites).
        scope2_location_g: Scope 2, location-based (reported, not what credits cover).
        scope2_market_g: Scope 2, market-based with monthly volume matching.
        scope3_g: Scope 3 as the claimant declares it (not computed by the ledger; the
            verifier's statement covers it).
        months: The computation, site by site and month by month.
    """

    gas: str
    scope1_g: int
    scope2_location_g: int
    scope2_market_g: int
    scope3_g: int
    months: list[SiteMonth]


class ClaimedRetirement(Record):
    """A credit retirement a claim uses, as the credits contract recorded it.

    Attributes:
        id: The retirement's number.
        serial: The serial of the block retired (its serial range).
        project: The credits' project.
        quantity_t: Tonnes retired.
        time_s: When it was retired (block time).
        issued_height: The block that issued the credits.
    """

    id: int
    serial: str
    project: str
    quantity_t: int
    time_s: int
    issued_height: int


class Statement(Record, omit_defaults=True):
    """A carbon verifier's statement on a claim.

    Attributes:
        verifier: The carbon verifier account.
        org: Its organisation (another than the claimant).
        opinion: reasonable, limited or adverse.
        statement: The statement's text or reference (1-1024 characters).
        height: The block that recorded it.
        time_s: Its block time.
    """

    verifier: str
    org: str
    opinion: Opinion
    statement: str
    height: int
    time_s: int


class Claim(Record, omit_defaults=True):
    """A carbon-neutrality claim (``claims/claim/<id>``), following ISO 14068-1.

    Attributes:
        id: The claim's id (1-64 of a-z 0-9 . _ -), unique on the chain.
        org: The claimant organisation.
        claimant: The account that made it.
        subject: What it is about.
        sites: The sites whose metered data the inventory counts (the boundary's facilities).
        boundary: The boundary, as the claimant states it (1-1024 characters).
        start_s: First second of the period (the first of a month, 00:00 UTC).
        end_s: First second after it.
        inventory: The emissions by scope.
        residual_g: What credits must cover: ``scope1_g + scope2_market_g + scope3_g``.
        required_t: ``ceil(residual_g / 1,000,000)`` tonnes.
        baseline_ref: The baseline's reference (document, year).
        baseline_g: The baseline's emissions, as the claimant states them.
        reduction_g: ``baseline_g - residual_g`` (negative: emissions grew).
        plan_ref: The carbon neutrality management plan's reference.
        retirements: The credit retirements that cover ``required_t``, by number.
        retired_t: Their tonnes summed.
        status: made, verified or withdrawn.
        height: The block that recorded it.
        time_s: Its block time.
        statement: The verifier's statement (verified).
        withdrawn_reason: Why the claimant withdrew it (withdrawn).
        withdrawn_height: The block that withdrew it (withdrawn).
    """

    id: str
    org: str
    claimant: str
    subject: Subject
    sites: list[str]
    boundary: str
    start_s: int
    end_s: int
    inventory: ClaimInventory
    residual_g: int
    required_t: int
    baseline_ref: str
    baseline_g: int
    reduction_g: int
    plan_ref: str
    retirements: list[ClaimedRetirement]
    retired_t: int
    status: ClaimStatus
    height: int
    time_s: int
    statement: Statement | None = None
    withdrawn_reason: str | None = None
    withdrawn_height: int | None = None
