"""Issuing certificates from final metered generation, and what a certifier may undo.

* ``certificates.issue`` (certifier): ``{"device", "to", "starts": [..], "length_s": 3600}``:
  one bundle per interval of the device, each of the Wh its meters measured (corrections
  applied), handed to ``to`` (an account of the device's organisation). The whole request is
  refused when any interval is misaligned, longer than the scheme's bundle (``bundle_s``), not
  final (block time before its end + ``finality_s``), not fully metered, measured nothing,
  named twice, or was issued before (one issuance per device and interval, whatever became of
  its bundles).
* ``certificates.withdraw`` (certifier): ``{"bundle", "reason", "quantity_wh"?}``: withdraw a
  live or cancelled, unclaimed bundle (or its first ``quantity_wh``); a live bundle past its
  expiry is expired, marked or not, and final like a claimed one. The Wh count as withdrawn
  from the bundle's interval (open to ``reissue``); a GEC conversion's from no interval.
* ``certificates.reissue`` (certifier): ``{"device", "start", "to", "quantity_wh", "reason"}``:
  issue again Wh withdrawn from an interval, with fresh ids, never beyond what was withdrawn
  nor beyond what the meters now measure; of the interval's kind (a storage device's are
  ``storage_discharge``).
* ``certificates.reconcile`` (certifier or grid operator): ``{"device", "start"}``: after a
  meter correction, withdraw what the interval's certificates now exceed: from active bundles
  first, then locked, then cancelled, each in id order; bundles in a final status (claimed,
  expired by block time whether marked or not, charged into storage, exported as GECs) never
  change, and what they still over-certify is reported in the event (``over_claimed_wh``).
* ``certificates.expire`` (any account): ``{"bundles": [..]}``: mark live bundles past their
  expiry expired (they count as expired from that time whether marked or not).
* ``certificates.set_params`` (operator): the scheme's :class:`~.records.SchemeParams`.
"""

from __future__ import annotations

import bisect

import msgspec

from gridledger.contracts import metering, registry
from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.certificates import bundles, keys
from gridledger.contracts.certificates.deliveries import deliver_pending
from gridledger.contracts.certificates.errors import (
    AlreadyIssued,
    BadCount,
    BadQuantity,
    DuplicateInterval,
    ExceedsMetered,
    GecExceedsMetered,
    IntervalTooLong,
    InvalidParams,
    InvalidReason,
    Misaligned,
    NotExpired,
    NotFinal,
    NothingToReconcile,
    NothingWithdrawn,
    NotLive,
    NotMetered,
    StorageDevice,
    UnknownAccount,
    UnknownBundle,
    UnknownDevice,
    ZeroGeneration,
)
from gridledger.contracts.certificates.index import (
    DAY_S,
    device_ledger,
    device_month,
    hand_out_ids,
    issuance_bundles,
    issuance_of,
    issued_day,
    not_credited,
    put_issuance,
)
from gridledger.contracts.certificates.records import (
    Bundle,
    BundleType,
    DeviceMonth,
    Issuance,
    IssuedDay,
    SchemeParams,
    Status,
    Withdrawal,
)
from gridledger.contracts.registry.records import Device, Meter
from gridledger.core.errors import Forbidden
from gridledger.state.state import StateReader, StateWriter

MAX_INTERVALS = 744
"""Most intervals in one ``certificates.issue``: a month of hours."""
HOUR_S = 3600


def _reason(reason: str) -> None:
    if not 1 <= len(reason) <= 256:
        raise InvalidReason(f"a reason of {len(reason)} characters; give 1-256")


def device_of(view: StateReader, device: str) -> Device:
    found = registry.get_device(view, device)
    if found is None:
        raise UnknownDevice(f"no registered device {device!r}")
    return found


def recipient_of(view: StateReader, account: str, device: Device) -> None:
    """Refuse unless ``account`` is an account of the device's organisation."""
    acct = registry.get_account(view, account)
    if acct is None:
        raise UnknownAccount(f"no account {account!r}")
    if acct.org != device.owner_org:
        raise Forbidden(
            f"certificates of {device.id} go to an account of {device.owner_org}, "
            f"not {account} of {acct.org}"
        )


def new_bundle(
    ctx: Context,
    device: Device,
    *,
    range_start: int,
    quantity_wh: int,
    start_s: int,
    end_s: int,
    owner: str,
    bundle_type: BundleType = "production",
    origin: str | None = None,
    issuing_body: str,
    scheme: SchemeParams,
    status: Status = "active",
) -> Bundle:
    """A freshly issued bundle with its hash (not written)."""
    bundle = Bundle(
        id=bundles.bundle_id(device.id, range_start),
        issuance=bundles.issuance_id(device.id, start_s),
        bundle_type=bundle_type,
        device=device.id,
        range_start=range_start,
        range_end=range_start + quantity_wh - 1,
        quantity_wh=quantity_wh,
        production_start_s=start_s,
        production_end_s=end_s,
        technology=device.technology,
        fuel=device.fuel,
        capacity_w=device.capacity_w,
        commissioned=device.commissioned,
        support=device.support,
        country=device.country,
        grid_zone=device.grid_region,
        issuing_body=issuing_body,
        issuer=ctx.sender,
        scheme=scheme.scheme,
        issued_s=ctx.time_s,
        issued_height=ctx.height,
        expires_s=ctx.time_s + scheme.expiry_s,
        origin=origin,
        hash="",
        owner=owner,
        status=status,
        updated_height=ctx.height,
    )
    bundle.hash = bundles.bundle_hash(bundle)
    return bundle


def measured(
    view: StateReader, device: str, start_s: int, end_s: int, meters: list[Meter] | None = None
) -> int:
    """What the device's meters measured in the interval, corrections applied (raises
    :class:`NotMetered` when it has no meter or a meter lacks a reading).

    ``meters``: the device's meters (:func:`registry.meters_of`) when the caller read them
    already; an issuance reads them once for all its intervals, since listing them is a scan
    of state and a transaction's writes make every scan re-sort them."""
    if meters is None:
        meters = registry.meters_of(view, "device", device)
    if not meters:
        raise NotMetered(f"device {device!r} has no meter")
    # the device's total is the sum of its meters', each counted as measured_wh counts it
    total = 0
    for meter in meters:
        got = metering.measured_wh(view, "meter", meter.id, start_s, end_s)
        if got.missing:
            raise NotMetered(f"{got.missing[0].describe()} for {start_s}..{end_s} of {device}")
        total += got.energy_wh
    return total


class Issue(Body):
    device: str
    to: str
    starts: list[Int64]
    """Interval starts, Unix seconds UTC."""
    length_s: Int64 = HOUR_S

    def check(self) -> None:
        if not 1 <= len(self.starts) <= MAX_INTERVALS:
            raise BadCount(f"an issuance names 1-{MAX_INTERVALS} intervals")
        if self.length_s not in (900, HOUR_S):
            raise Misaligned(f"length_s {self.length_s}: bundles are 900 or 3600 s")
        if len(set(self.starts)) != len(self.starts):
            raise DuplicateInterval("an interval is named twice")
        for start in self.starts:
            if start < 0 or start % self.length_s:
                raise Misaligned(f"start {start} is not aligned to {self.length_s} s")


def issue_checks(
    state: StateReader,
    ctx: Context,
    device: str,
    start: int,
    length_s: int,
    scheme: SchemeParams,
    meters: list[Meter] | None = None,
    day: IssuedDay | None = None,
) -> int:
    """The Wh to issue for one interval, every rule of issuance checked (``meters``: see
    :func:`measured`; ``day``: the device's issuances of the interval's day, when the caller
    holds them)."""
    if length_s > scheme.bundle_s:
        raise IntervalTooLong(f"the scheme's bundles are at most {scheme.bundle_s} s")
    end = start + length_s
    if ctx.time_s < end + scheme.finality_s:
        raise NotFinal(
            f"interval {start} of {device} ends at {end}; its data is final at "
            f"{end + scheme.finality_s}"
        )
    if day is None:
        day = issued_day(state, device, start - start % DAY_S)
    for other in day.issuances:
        if other.start_s < end and start < other.start_s + other.length_s:
            raise AlreadyIssued(f"{device} interval {start} overlaps issuance {other.start_s}")
    wh = measured(state, device, start, end, meters)
    if wh <= 0:
        raise ZeroGeneration(f"device {device} measured nothing in {start}..{end}")
    return wh


def _check_month(
    state: StateWriter, device: str, start: int, wh: int, months: dict[str, DeviceMonth]
) -> None:
    """Keep the month's granular and GEC certificates within its metered generation
    (``months``: the issuance's month records, written by the caller once it is done)."""
    month = bundles.month_of(start)
    record = months.get(month)
    if record is None:
        not_credited(state, device, month)
        record = months[month] = device_month(state, device, month)
    if record.gec_wh:
        # the whole month as metered so far, whatever order its intervals are issued in
        month_start, month_end = bundles.month_bounds(month)
        so_far = metering.measured_wh(state, "device", device, month_start, month_end)
        if record.issued_wh + record.gec_wh + wh > so_far.energy_wh:
            raise GecExceedsMetered(
                f"{device} has GECs of {record.gec_wh} Wh and {record.issued_wh} Wh issued in "
                f"{month}; {wh} Wh more exceed the {so_far.energy_wh} Wh metered so far"
            )
    record.issued_wh += wh


def _start_of(item: Issuance) -> int:
    return item.start_s


@kind("certificates.issue", Issue, roles=("certifier",))
def apply_issue(state: StateWriter, ctx: Context, body: Issue) -> None:
    """Issue one bundle per final, metered interval of a device (certifiers)."""
    device = device_of(state, body.device)
    if device.technology == "storage":
        raise StorageDevice(f"{device.id} is a storage device; use discharge_storage")
    recipient_of(state, body.to, device)
    scheme = bundles.params(state)
    org = registry.sender_org(state, ctx)
    # Neither the device's meters nor its waiting deliveries can appear during the issuance
    # (only the registry and market settlement add them), so both are read once: a scan per
    # interval would re-sort the transaction's growing writes each time.
    meters = registry.meters_of(state, "device", device.id)
    waiting = next(iter(state.scan(keys.pendings_of(device.id))), None) is not None
    # The device's ledger, its issued days and its months are read once and written once at
    # the end, as a record per interval read and rewritten would end up (an issuance's own
    # intervals never overlap each other, so the days as they stood decide every overlap).
    ledger = device_ledger(state, device.id)
    days: dict[int, IssuedDay] = {}
    months: dict[str, DeviceMonth] = {}
    issued = 0
    for start in sorted(body.starts):
        day_s = start - start % DAY_S
        day = days.get(day_s)
        if day is None:
            day = days[day_s] = issued_day(state, device.id, day_s)
        wh = issue_checks(state, ctx, device.id, start, body.length_s, scheme, meters, day)
        _check_month(state, device.id, start, wh, months)
        first = ledger.last_id + 1
        ledger.last_id += wh
        ledger.issued_wh += wh
        end = start + body.length_s
        bundle = new_bundle(
            ctx, device, range_start=first, quantity_wh=wh, start_s=start, end_s=end,
            owner=body.to, issuing_body=org, scheme=scheme,
        )  # fmt: skip
        bundles.save(state, bundle)
        item = Issuance(
            start_s=start, length_s=body.length_s, range_start=first, quantity_wh=wh,
            metered_wh=wh,
        )  # fmt: skip
        bisect.insort(day.issuances, item, key=_start_of)
        issued += wh
        if waiting:  # serving deliveries reads the day's issuances
            state.put(keys.issued_day(device.id, day_s), day)
            deliver_pending(state, ctx, device.id, item)
    for day_s, day in days.items():
        state.put(keys.issued_day(device.id, day_s), day)
    for month, record in months.items():
        state.put(keys.device_month(device.id, month), record)
    ledger.intervals += len(body.starts)
    state.put(keys.device_ledger(device.id), ledger)
    ctx.emit(
        "certificates.issued",
        device=device.id,
        to=body.to,
        intervals=len(body.starts),
        quantity_wh=issued,
    )


def _withdraw(
    state: StateWriter, ctx: Context, bundle: Bundle, quantity: int | None, reason: str, by: str
) -> Bundle:
    part = bundles.take(state, bundle, quantity, ctx.height)
    done = bundles.update(
        state, part, ctx.height, status="withdrawn", locked_for=None,
        withdrawal=Withdrawal(reason=reason, by=by, height=ctx.height),
    )  # fmt: skip
    # a GEC conversion's Wh belong to no interval's issuance (its period is a month that may
    # start with an issued hour): counting them there would open that hour to re-issue
    conversion = done.bundle_type == "gec_conversion"
    item = None if conversion else issuance_of(state, done.device, done.production_start_s)
    if item is not None:
        item.withdrawn_wh += done.quantity_wh
        put_issuance(state, done.device, item)
    ledger = device_ledger(state, done.device)
    ledger.withdrawn_wh += done.quantity_wh
    state.put(keys.device_ledger(done.device), ledger)
    return done


class Withdraw(Body):
    bundle: str
    reason: str
    quantity_wh: Int64 | None = None

    def check(self) -> None:
        _reason(self.reason)
        if self.quantity_wh is not None and self.quantity_wh <= 0:
            raise BadQuantity("quantity_wh is a positive number of Wh")


WITHDRAWABLE: tuple[Status, ...] = ("active", "locked", "cancelled")


@kind("certificates.withdraw", Withdraw, roles=("certifier",))
def apply_withdraw(state: StateWriter, ctx: Context, body: Withdraw) -> None:
    """Withdraw an unclaimed bundle, or its first ``quantity_wh``, with a reason (certifiers)."""
    bundle = bundles.load(state, body.bundle)
    status = bundles.status_at(bundle, ctx.time_s)  # past its expiry it is final, marked or not
    if status not in WITHDRAWABLE:
        raise NotLive(f"bundle {bundle.id} is {status}; it cannot be withdrawn")
    done = _withdraw(state, ctx, bundle, body.quantity_wh, body.reason, ctx.sender)
    ctx.emit(
        "certificates.withdrawn", bundle=done.id, quantity_wh=done.quantity_wh, reason=body.reason
    )


class Reissue(Body):
    device: str
    start: Int64
    to: str
    quantity_wh: Int64
    reason: str

    def check(self) -> None:
        _reason(self.reason)
        if self.quantity_wh <= 0:
            raise BadQuantity("quantity_wh is a positive number of Wh")


@kind("certificates.reissue", Reissue, roles=("certifier",))
def apply_reissue(state: StateWriter, ctx: Context, body: Reissue) -> None:
    """Issue again Wh withdrawn from an interval, with new ids (certifiers; audited)."""
    device = device_of(state, body.device)
    recipient_of(state, body.to, device)
    item = issuance_of(state, device.id, body.start)
    if item is None:
        raise UnknownBundle(f"{device.id} has no issuance for interval {body.start}")
    open_wh = item.withdrawn_wh - item.reissued_wh
    if open_wh <= 0 or body.quantity_wh > open_wh:
        raise NothingWithdrawn(
            f"interval {body.start} of {device.id} has {max(open_wh, 0)} withdrawn Wh to "
            f"re-issue, not {body.quantity_wh}"
        )
    now = measured(state, device.id, item.start_s, item.start_s + item.length_s)
    standing = item.quantity_wh - item.withdrawn_wh + item.reissued_wh
    if standing + body.quantity_wh > now:
        raise ExceedsMetered(
            f"{standing} Wh of interval {body.start} stand and the meters now measure {now} "
            f"Wh; {body.quantity_wh} more would exceed them"
        )
    scheme = bundles.params(state)
    first = hand_out_ids(state, device.id, body.quantity_wh)
    # a storage device's intervals are discharges: re-issued, they stay discharges, never
    # production (which GEC exports and market deliveries take)
    kind: BundleType = "storage_discharge" if device.technology == "storage" else "production"
    bundle = new_bundle(
        ctx, device, range_start=first, quantity_wh=body.quantity_wh, start_s=item.start_s,
        end_s=item.start_s + item.length_s, owner=body.to,
        issuing_body=registry.sender_org(state, ctx), scheme=scheme,
        origin=f"reissue:{body.reason}", bundle_type=kind,
    )  # fmt: skip
    bundles.save(state, bundle)
    item.reissued_wh += body.quantity_wh
    item.reissues.append([first, body.quantity_wh])
    put_issuance(state, device.id, item)
    ctx.emit(
        "certificates.reissued",
        bundle=bundle.id,
        device=device.id,
        start=body.start,
        quantity_wh=body.quantity_wh,
        reason=body.reason,
    )


class IntervalRef(Body):
    device: str
    start: Int64


@kind("certificates.reconcile", IntervalRef, roles=("certifier", "grid_operator"))
def apply_reconcile(state: StateWriter, ctx: Context, body: IntervalRef) -> None:
    """After a meter correction, withdraw what an interval's certificates exceed (active
    first, then locked, then cancelled; claimed ones stay and are reported)."""
    device = device_of(state, body.device)
    item = issuance_of(state, device.id, body.start)
    if item is None:
        raise UnknownBundle(f"{device.id} has no issuance for interval {body.start}")
    now = metering.measured_wh(
        state, "device", device.id, item.start_s, item.start_s + item.length_s
    ).energy_wh
    standing = item.quantity_wh - item.withdrawn_wh + item.reissued_wh
    excess = standing - now
    if excess <= 0:
        raise NothingToReconcile(
            f"interval {body.start} of {device.id}: {standing} Wh stand within the {now} Wh "
            "metered; nothing to withdraw"
        )
    held = issuance_bundles(state, device.id, item)
    withdrawn = 0
    for status in WITHDRAWABLE:
        for bundle in held:
            if excess == 0:
                break
            if bundles.status_at(bundle, ctx.time_s) != status:
                continue
            quantity = min(excess, bundle.quantity_wh)
            done = _withdraw(state, ctx, bundle, quantity, "meter_correction", ctx.sender)
            excess -= done.quantity_wh
            withdrawn += done.quantity_wh
    ctx.emit(
        "certificates.reconciled",
        device=device.id,
        start=body.start,
        metered_wh=now,
        withdrawn_wh=withdrawn,
        over_claimed_wh=excess,
    )


class Expire(Body):
    bundles: list[str]

    def check(self) -> None:
        if not 1 <= len(self.bundles) <= 1000 or len(set(self.bundles)) != len(self.bundles):
            raise BadQuantity("expire names 1-1000 distinct bundles")


@kind("certificates.expire", Expire)
def apply_expire(state: StateWriter, ctx: Context, body: Expire) -> None:
    """Mark live bundles past their expiry as expired (anyone; the keeper does)."""
    for bundle_id in body.bundles:
        bundle = bundles.load(state, bundle_id)
        if bundle.status not in ("active", "locked"):
            raise NotLive(f"bundle {bundle.id} is {bundle.status}")
        if ctx.time_s < bundle.expires_s:
            raise NotExpired(f"bundle {bundle.id} expires at {bundle.expires_s}")
        bundles.update(state, bundle, ctx.height, status="expired", locked_for=None)
    ctx.emit("certificates.expired", bundles=len(body.bundles))


class SetParams(Body):
    scheme: str
    bundle_s: Int64
    expiry_s: Int64
    finality_s: Int64

    def check(self) -> None:
        if not 1 <= len(self.scheme) <= 64:
            raise InvalidParams("scheme is a name of 1-64 characters")
        if self.bundle_s not in (900, HOUR_S):
            raise InvalidParams("bundle_s is 900 or 3600: a bundle is at most an hour")
        if not DAY_S <= self.expiry_s <= 10 * 366 * DAY_S:
            raise InvalidParams("expiry_s is between a day and ten years")
        if not 0 <= self.finality_s <= 30 * DAY_S:
            raise InvalidParams("finality_s is between 0 and 30 days")


@kind("certificates.set_params", SetParams, roles=("operator",))
def apply_set_params(state: StateWriter, ctx: Context, body: SetParams) -> None:
    """Set the scheme's parameters (operators)."""
    state.put(keys.params(), SchemeParams(**msgspec.structs.asdict(body)))
    ctx.emit("certificates.params_set", scheme=body.scheme)
