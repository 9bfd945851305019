"""Certificates' stored records and what their queries return.

Units: energy in Wh (a certificate's face value is whole Wh, each Wh with its own id), times in
Unix seconds UTC, heights in blocks. Field names follow the EnergyTag Granular Certificate
Scheme Standard where it names them (``range_start``, ``range_end``, ``quantity``, production
start and end, issuance id); :func:`gridledger.documents.energytag.energytag_row` maps a bundle
to the registry API's field names.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from gridledger.contracts.base import Record

BundleType = Literal["production", "storage_discharge", "gec_conversion"]
Status = Literal[
    "active",
    "locked",
    "cancelled",
    "claimed",
    "withdrawn",
    "expired",
    "storage_charged",
    "gec_exported",
]
"""``active`` and ``locked`` bundles are live; every other status is final except
``cancelled`` (which may still be claimed): claimed, withdrawn, expired, storage_charged and
gec_exported bundles never move again."""
LIVE: tuple[Status, ...] = ("active", "locked")
FINAL: tuple[Status, ...] = ("claimed", "withdrawn", "expired", "storage_charged", "gec_exported")


class Cancellation(Record, omit_defaults=True):
    """What a bundle was cancelled for: the beneficiary, the consumption site and the period
    its energy is claimed against.

    Attributes:
        beneficiary: The account the energy is cancelled for.
        site: The beneficiary's consumption site.
        period_start_s: Start of the consumption period, Unix seconds UTC.
        period_end_s: End of the consumption period (exclusive).
        height: The block that cancelled it.
        pairing: The market pairing whose delivery it covers, if any.
    """

    beneficiary: str
    site: str
    period_start_s: int
    period_end_s: int
    height: int
    pairing: str | None = None


class Withdrawal(Record):
    """Why and by whom a bundle was withdrawn.

    Attributes:
        reason: The certifier's reason (or ``meter_correction``).
        by: The certifier account (or the grid operator whose correction caused it).
        height: The block that withdrew it.
    """

    reason: str
    by: str
    height: int


class Bundle(Record, omit_defaults=True, kw_only=True):
    """A granular certificate bundle: Wh ids ``range_start .. range_end`` of one device, from
    one production interval (``certificates/bundle/<device>/<range_start>``).

    The immutable fields (everything up to ``parent_hash``) are hashed into ``hash``
    (see :func:`~.bundles.bundle_hash`); a split's children keep the issuance, the production
    interval and the attributes and carry the parent's hash, so every bundle's history can be
    checked link by link.

    Attributes:
        id: ``<device>:<range_start>``.
        issuance: ``<device>:<production_start_s>``: the issuance it came from, kept by every
            child of a split.
        bundle_type: production, storage_discharge (issued for a battery's discharge) or
            gec_conversion (from a cancelled China GEC).
        device: The generation (or storage) device.
        range_start: The first Wh id (the device's highest issued id + 1 at issuance).
        range_end: The last Wh id, inclusive.
        quantity_wh: ``range_end - range_start + 1``.
        production_start_s: Start of the production interval, Unix seconds UTC.
        production_end_s: End of the production interval (exclusive); at most an hour after
            the start, except for a GEC conversion (its month).
        technology: The device's technology at issuance.
        fuel: The device's energy source.
        capacity_w: The device's nameplate capacity, W.
        commissioned: The device's commissioning date, YYYY-MM-DD.
        support: Public support the device received.
        country: ISO 3166-1 alpha-2 country code of the device.
        grid_zone: The device's grid region or bidding zone.
        issuing_body: The certifier's organisation.
        issuer: The certifier account that issued it.
        scheme: The scheme it was issued under.
        issued_s: Block time of issuance, Unix seconds UTC.
        issued_height: The block that issued it.
        expires_s: When it expires if it is neither cancelled nor claimed by then.
        origin: Where a storage-discharge or GEC-conversion bundle came from (the charge
            records, the GEC id); left out for production.
        parent_hash: The hash of the bundle it was split from; left out at issuance.
        hash: SHA-256 over the fields above (hex).
        owner: The account that holds it.
        status: See :data:`Status`.
        locked_for: Whom a locked bundle is reserved for.
        cancellation: Set when it was cancelled (and kept when claimed).
        claimed_height: The block that claimed it.
        withdrawal: Set when it was withdrawn.
        updated_height: The block that last changed it.
    """

    id: str
    issuance: str
    bundle_type: BundleType
    device: str
    range_start: int
    range_end: int
    quantity_wh: int
    production_start_s: int
    production_end_s: int
    technology: str
    fuel: str
    capacity_w: int
    commissioned: str
    support: str
    country: str
    grid_zone: str
    issuing_body: str
    issuer: str
    scheme: str
    issued_s: int
    issued_height: int
    expires_s: int
    origin: str | None = None
    parent_hash: str | None = None
    hash: str
    owner: str
    status: Status
    updated_height: int
    locked_for: str | None = None
    cancellation: Cancellation | None = None
    claimed_height: int | None = None
    withdrawal: Withdrawal | None = None


IMMUTABLE_FIELDS = (
    "id",
    "issuance",
    "bundle_type",
    "device",
    "range_start",
    "range_end",
    "quantity_wh",
    "production_start_s",
    "production_end_s",
    "technology",
    "fuel",
    "capacity_w",
    "commissioned",
    "support",
    "country",
    "grid_zone",
    "issuing_body",
    "issuer",
    "scheme",
    "issued_s",
    "issued_height",
    "expires_s",
    "origin",
    "parent_hash",
)
"""The fields a bundle's ``hash`` covers, in this order (``origin`` and ``parent_hash``
as null when absent)."""


class Issuance(Record, array_like=True):
    """One issuance of a device interval, inside its :class:`IssuedDay`.

    Attributes:
        start_s: Production interval start, Unix seconds UTC.
        length_s: Its length, s.
        range_start: The first Wh id issued.
        quantity_wh: Wh issued (0 when the interval measured nothing).
        metered_wh: What the device's meters measured at issuance, Wh.
        withdrawn_wh: Wh withdrawn since (meter corrections, certifier withdrawals).
        reissued_wh: Wh issued again after a withdrawal (the audited re-issue path).
        reissues: The ranges re-issued, each ``[range_start, quantity_wh]``.
    """

    start_s: int
    length_s: int
    range_start: int
    quantity_wh: int
    metered_wh: int
    withdrawn_wh: int = 0
    reissued_wh: int = 0
    reissues: list[list[int]] = msgspec.field(default_factory=list)


class IssuedDay(Record):
    """The issuances of one device for intervals starting on one UTC day
    (``certificates/issued/<device>/<day>``), by interval start.

    Attributes:
        issuances: One per issued interval, in start order.
    """

    issuances: list[Issuance]


class DeviceLedger(Record):
    """A device's running totals (``certificates/device/<device>``).

    Attributes:
        last_id: Its highest issued Wh id (0 before the first issuance).
        issued_wh: Wh issued in total (ids handed out).
        withdrawn_wh: Wh withdrawn in total.
        intervals: Intervals issued.
    """

    last_id: int = 0
    issued_wh: int = 0
    withdrawn_wh: int = 0
    intervals: int = 0


AcceptMode = Literal["anyone", "listed", "nobody"]


class Acceptance(Record):
    """Whom an account accepts certificate transfers from (``certificates/acceptance/<a>``).

    Attributes:
        mode: anyone (the default when absent), listed (only ``senders``) or nobody.
        senders: The accounts or organisations accepted when ``mode`` is listed, sorted.
    """

    mode: AcceptMode
    senders: list[str]


class SchemeParams(Record):
    """The scheme the chain's certifiers issue under (``certificates/params``; these defaults
    until an operator sets them).

    Attributes:
        scheme: Its name, written into every bundle.
        bundle_s: Longest production interval of one bundle, s (900 or 3600).
        expiry_s: How long an unclaimed certificate lives, s (two years by default, as GECs).
        finality_s: How long after an interval ends its meter data counts as final, s: a
            certifier issues no earlier.
    """

    scheme: str = "energytag-gc/2024"
    bundle_s: int = 3600
    expiry_s: int = 2 * 365 * 86_400
    finality_s: int = 3600


class ChargeSlice(Record, array_like=True):
    """Part of a cancelled bundle that went into a storage charge.

    Attributes:
        bundle: The cancelled bundle's id.
        hash: Its hash.
        quantity_wh: Wh of it charged.
        remaining_wh: Wh not yet discharged.
    """

    bundle: str
    hash: str
    quantity_wh: int
    remaining_wh: int


class StorageCharge(Record):
    """A battery's charge: certificates cancelled into it
    (``certificates/charge/<device>/<seq>``), discharged first in, first out.

    Attributes:
        seq: Its number, from 1.
        device: The storage device.
        owner: The account that charged it.
        charged_wh: Wh of certificates cancelled into it.
        remaining_wh: Wh of it not yet discharged.
        slices: The cancelled bundles, oldest first.
        height: The block that charged it.
    """

    seq: int
    device: str
    owner: str
    charged_wh: int
    remaining_wh: int
    slices: list[ChargeSlice]
    height: int


class StorageLedger(Record):
    """A storage device's totals (``certificates/storage/<device>``).

    Attributes:
        charged_wh: Certified Wh charged in.
        discharged_wh: Wh issued as storage-discharge certificates.
        losses_wh: Charged Wh lost (charged - what the meters measured at discharge).
        next_seq: The next charge's number.
        head_seq: The oldest charge with Wh left (FIFO head).
    """

    charged_wh: int = 0
    discharged_wh: int = 0
    losses_wh: int = 0
    next_seq: int = 1
    head_seq: int = 1


class Gec(Record, omit_defaults=True):
    """A China Green Electricity Certificate recorded on the chain
    (``certificates/gec/<gec id>``): 1 certificate = 1 MWh.

    Attributes:
        id: The GEC's number as the national platform issued it.
        project: The project (plant) name on the certificate.
        device: The registered device it was issued for.
        month: The production month, YYYY-MM.
        tradable: Whether it may be traded (bought) or only held.
        recorded_by: The certifier account that recorded it.
        height: The block that recorded it.
        owner: The account holding it.
        status: recorded, or converted (cancelled into granular certificates).
        bundle: The bundle issued when it was converted.
    """

    id: str
    project: str
    device: str
    month: str
    tradable: bool
    recorded_by: str
    height: int
    owner: str
    status: Literal["recorded", "converted"] = "recorded"
    bundle: str | None = None


class GecExport(Record):
    """A month of a plant's granular certificates exported as whole-MWh GECs
    (``certificates/gec_month/<device>/<YYYY-MM>``).

    Attributes:
        device: The plant.
        month: YYYY-MM.
        owner: The account whose certificates were exported.
        available_wh: Live Wh of the plant produced up to the month's end it held.
        mwh: Whole MWh exported (certificates ``gec_exported``).
        carried_wh: What stays live and counts towards the next month.
        height: The block that exported it.
    """

    device: str
    month: str
    owner: str
    available_wh: int
    mwh: int
    carried_wh: int
    height: int


class PendingDelivery(Record):
    """A settled pairing's delivered Wh waiting for the device interval's issuance
    (``certificates/pairing/<device>/<hour>/<pairing>``).

    Attributes:
        pairing: The pairing's id.
        producer: The producer account that sold the energy.
        consumer: The consumer account.
        site: The consumer's site.
        interval_start_s: The market interval start.
        interval_end_s: The market interval end.
        delivered_wh: Wh delivered.
    """

    pairing: str
    producer: str
    consumer: str
    site: str
    interval_start_s: int
    interval_end_s: int
    delivered_wh: int


class DeviceMonth(Record):
    """A device's certified Wh of one production month
    (``certificates/month/<device>/<YYYY-MM>``), what keeps GECs and granular certificates
    from counting the same energy twice.

    Attributes:
        issued_wh: Wh issued from metered intervals of the month (withdrawals included).
        gec_wh: Wh of the GECs recorded for the month (1,000,000 each).
    """

    issued_wh: int = 0
    gec_wh: int = 0
