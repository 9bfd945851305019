"""Credits' stored records.

Units: reductions in grams (``_g``) of the factor sets' gas (CO2 on China's factors), credits
in whole tonnes (``_t``, 1 t = 1,000,000 g; one credit unit is one tonne), energy in Wh,
shares in parts per million (``_ppm``), times in Unix seconds UTC.
"""

from __future__ import annotations

from typing import Literal

from gridledger.contracts.base import Record

BlockStatus = Literal["active", "buffer", "locked", "retired", "cancelled"]
"""``active``: held by an account; ``buffer``: in the buffer pool, held by nobody;
``locked``: offered by its holder in an open exchange sell order (``order``), which alone may
deliver it to a buyer or give it back (cancelled, expired or filled elsewhere);
``retired``: used for a claim or a compliance obligation, final; ``cancelled``: invalidated
by a carbon verifier (or drawn from the buffer for a reversal), final."""

REGISTRY = "GLR"
"""The registry code serials start with: this ledger's credit registry."""
UNIT = "VER"
"""The unit type in serials: a verified emission reduction of one tonne."""


class CreditParams(Record):
    """The rules of issuance a regulator sets (``credits/params``).

    Attributes:
        buffer_ppm: The share of each issuance set aside in the buffer pool for reversals,
            parts per million of the issued tonnes, rounded down (20,000 is 2 %).
        height: The block that set them (0: the defaults).
    """

    buffer_ppm: int = 20_000
    height: int = 0


class Project(Record, omit_defaults=True):
    """A mitigation project (``credits/project/<id>``): one generation plant whose metered
    output displaces grid electricity.

    Attributes:
        id: The project's id, 1-64 of a-z 0-9 . _ -.
        number: Its number in the registry (1, 2, ...), which its serials carry.
        name: Display name.
        org: The organisation that owns the plant and the project.
        owner: The account credits are issued to (the one that registered it).
        device: The registered generation device (``registry/device``).
        technology: The device's technology (solar_pv, wind_offshore, ...).
        country: The device's country (ISO 3166-1 alpha-2), as in serials.
        grid_region: The device's grid region, whose grid-average factor is displaced.
        methodology: The named methodology it follows (e.g. ``CDM ACM0002``).
        baseline: The baseline scenario, as the project document states it.
        monitoring_plan: The monitoring plan's reference (document number, URL or hash).
        registered_height: The block that registered it.
        verified_t: Whole tonnes verified over all its monitoring periods.
        issued_t: Tonnes issued (buffer included).
        buffer_t: Tonnes of its issuances set aside in the buffer pool.
        batches: Issuances so far (the batch number of the last).
        last_unit: The last serial unit issued (units count from 1, never reused).
    """

    id: str
    number: int
    name: str
    org: str
    owner: str
    device: str
    technology: str
    country: str
    grid_region: str
    methodology: str
    baseline: str
    monitoring_plan: str
    registered_height: int
    verified_t: int = 0
    issued_t: int = 0
    buffer_t: int = 0
    batches: int = 0
    last_unit: int = 0


class MonitoredMonth(Record):
    """One month of a monitoring period.

    Attributes:
        month: YYYY-MM (UTC).
        measured_wh: The plant's metered generation (corrections applied).
        certified_wh: Wh of the month already certified (energy certificates or GECs),
            which earn no credit.
        credited_wh: ``max(0, measured_wh - certified_wh)``.
        g_per_mwh: The grid-average factor displaced (the carbon factor set in force).
        factor_set: The factor set's id.
        reduction_g: ``credited_wh * g_per_mwh // 1,000,000``.
        missing_intervals: Meter intervals without a reading (counted as zero).
    """

    month: str
    measured_wh: int
    certified_wh: int
    credited_wh: int
    g_per_mwh: int
    factor_set: str
    reduction_g: int
    missing_intervals: int


class MonitoringPeriod(Record, omit_defaults=True):
    """A monitoring period's reductions, confirmed by a carbon verifier
    (``credits/period/<project>/<id>``): the vintage of the credits issued for it.

    Attributes:
        id: The period's id within the project.
        project: The project.
        start_s: First second (the first of a month, 00:00 UTC).
        end_s: First second after it (the first of a later month).
        months: The computation, month by month.
        gas: The factors' gas (CO2 or CO2e), the credits' gas.
        reduction_g: The months' reductions summed.
        verified_t: ``reduction_g // 1,000,000``: the most that may be issued for it.
        issued_t: Tonnes issued for it so far (buffer included).
        verifier: The carbon verifier account that confirmed it.
        note: The verifier's statement, if any.
        height: The block that recorded it.
    """

    id: str
    project: str
    start_s: int
    end_s: int
    months: list[MonitoredMonth]
    gas: str
    reduction_g: int
    verified_t: int
    verifier: str
    height: int
    issued_t: int = 0
    note: str | None = None


class SerialBlock(Record, omit_defaults=True):
    """A block of consecutive credit units of one issuance batch, in one state
    (``credits/block/<number>/<first>``).

    Its serial is ``{registry}-{unit}-{country}-{project number}-{vintage start}-{vintage
    end}-{batch}-{first}-{last}`` (:meth:`serial`), e.g. ``GLR-VER-CN-1-20250501-20250531-1-1-40``.

    Attributes:
        project: The project's id.
        number: The project's number.
        country: The project's country.
        period: The monitoring period it was issued for.
        vintage_start: The period's first day, YYYYMMDD.
        vintage_end: The period's last day, YYYYMMDD.
        batch: The issuance batch (1, 2, ... per project).
        first: Its first unit.
        last: Its last unit (``last - first + 1`` tonnes).
        gas: The gas of the reductions (CO2 or CO2e).
        status: active, buffer, locked, retired or cancelled.
        holder: The account holding it (active, or locked: the seller); the last holder once
            retired; absent for the buffer pool.
        issued_height: The block that issued its units.
        retirement: The number of its retirement (retired).
        cancel_reason: Why a verifier cancelled it (cancelled).
        cancelled_by: The verifier who cancelled it (cancelled).
        cancelled_height: The block that cancelled it (cancelled).
        order: The exchange sell order it is locked in (locked).
    """

    project: str
    number: int
    country: str
    period: str
    vintage_start: str
    vintage_end: str
    batch: int
    first: int
    last: int
    gas: str
    status: BlockStatus
    issued_height: int
    holder: str | None = None
    retirement: int | None = None
    cancel_reason: str | None = None
    cancelled_by: str | None = None
    cancelled_height: int | None = None
    order: int | None = None

    @property
    def quantity_t(self) -> int:
        """Its size in tonnes (units)."""
        return self.last - self.first + 1

    def serial(self) -> str:
        """The block's serial (see the class docstring)."""
        return "-".join(
            (REGISTRY, UNIT, self.country, str(self.number), self.vintage_start,
             self.vintage_end, str(self.batch), str(self.first), str(self.last))
        )  # fmt: skip


class Retirement(Record, omit_defaults=True):
    """A retirement (``credits/retirement/<n>``): credit units used, for good, on behalf of a
    beneficiary.

    Attributes:
        id: Its number (1, 2, ...).
        serial: The serial of the block retired.
        project: The project's id.
        quantity_t: Tonnes retired.
        holder: The account that retired them.
        beneficiary: On whose behalf (an organisation, a person, a product, an event).
        reason: Why (free text).
        claim_start_s: First second of the period the claim covers.
        claim_end_s: First second after it.
        time_s: Block time of the retirement.
        height: The block that recorded it.
        compliance_period: The allowance compliance period it was surrendered for, if any.
    """

    id: int
    serial: str
    project: str
    quantity_t: int
    holder: str
    beneficiary: str
    reason: str
    claim_start_s: int
    claim_end_s: int
    time_s: int
    height: int
    compliance_period: str | None = None
