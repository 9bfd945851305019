"""The certificate keeper: a certifier's node issuing every final interval by the scheme's rules.

Issuance is the certifier's act, so the keeper signs with the certifier's own account key (its
keystore file in the home's ``keys/``, as the market keeper's), never the operator's: it
refuses to start for an account that lacks the ``certifier`` role, holds the ``operator`` role,
or whose registered key is not the one it was given (:func:`check_certifier`). Each tick it
reads the committed state through the certificates contract's queries and sends:

* ``certificates.issue`` for every device interval (the scheme's ``bundle_s``) that is final
  (block time >= its end + the scheme's ``finality_s``), fully metered (every meter of the
  device has every reading of it), measured more than 0 Wh, not issued yet and in no month a
  carbon credit period counted (``credits.verify_period``), to the
  device's recipient: the account a configured mapping names, else the first account (by id)
  of the device's owner organisation with the ``producer`` role; devices whose owner has no
  such account, storage devices and devices without a meter are left alone. Up to
  :data:`~gridledger.contracts.certificates.issuance.MAX_INTERVALS` intervals of one device go
  in one transaction;
* ``certificates.expire`` for live bundles past their expiry, up to 1,000 a transaction;
* ``certificates.reconcile`` when a meter correction (a ``metering.reading_corrected`` event
  in a committed block, or found on the first tick for issuances of the last ``lookback_s``)
  leaves an issued interval over-certified: its standing Wh (issued - withdrawn + re-issued)
  above what its meters now measure. Each correction triggers one reconcile: what claimed
  certificates still over-certify cannot be withdrawn, and is not asked for again.

It never scans all readings: each device has a cursor, the first interval start not examined
yet, and a tick examines only the intervals from the cursor to the finality horizon or the
device's latest reading, whichever comes first (at most :data:`WALK_LIMIT` of them), with point
reads of their readings. An examined interval that is
final but not fully metered is kept aside and examined again every ``recheck_s`` until its
readings arrive or it falls more than ``lookback_s`` behind (then it is left to the certifier
by hand, and logged). Expiry walks each device's bundles in id order from a cursor too: ids are
handed out in block order, so while the scheme's ``expiry_s`` stays the same, the first live
bundle not yet expired ends the walk.

A transaction it sent is in flight until a committed block carries it (or the node reports it
dropped): its intervals or bundles are not sent again meanwhile. One no block carried for
:data:`STALE_BLOCKS` blocks is offered again unchanged (same hash and nonce), so it can never be
carried twice. A failed issuance of several
intervals is retried interval by interval; one that fails alone is left (and logged), as is
an interval the contract refuses.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from gridledger.contracts import certificates, metering, registry
from gridledger.contracts.certificates.issuance import MAX_INTERVALS
from gridledger.contracts.certificates.records import LIVE, Issuance
from gridledger.core.crypto import SigningKey
from gridledger.core.errors import DuplicateTransaction, GridLedgerError
from gridledger.core.types import Receipt, Transaction
from gridledger.node.node import CommittedBlock, Node
from gridledger.state.state import StateReader

log = logging.getLogger("gridledger.cert_keeper")

WALK_LIMIT = 4 * MAX_INTERVALS
"""Most intervals of one device a tick examines past its cursor (a month of hours 4 times)."""
EXPIRE_BATCH = 1000
"""Most bundles in one ``certificates.expire``."""
EXPIRY_PAGE = 500
"""Bundles of one device an expiry walk reads per tick."""
STALE_BLOCKS = 50
"""A sent transaction no block carried after this many blocks is offered again, unchanged."""
MAX_BUNDLE_S = 3600
"""The longest production interval of a bundle: an issuance overlapping an interval starts
less than this before it."""


class KeeperError(Exception):
    """The keeper cannot sign for the account it was given."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def check_certifier(view: StateReader, account: str, key: SigningKey) -> None:
    """Refuse unless ``account`` is a certifier's own account and ``key`` its registered key.

    Raises:
        KeeperError: ``keeper.unknown_account``, ``keeper.not_certifier``,
            ``keeper.operator_account``, ``keeper.suspended`` or ``keeper.wrong_key``.
    """
    acct = registry.get_account(view, account)
    if acct is None:
        raise KeeperError("keeper.unknown_account", f"no account {account!r} on the chain")
    if "certifier" not in acct.roles:
        raise KeeperError(
            "keeper.not_certifier",
            f"{account} does not hold the certifier role; certificates are issued by a "
            "certifier's account",
        )
    if "operator" in acct.roles:
        raise KeeperError(
            "keeper.operator_account",
            f"{account} is an operator account; the keeper signs with the certifier's own "
            "account, not the operator's",
        )
    if acct.suspended:
        raise KeeperError("keeper.suspended", f"{account} is suspended")
    if acct.public_key != key.public_key:
        raise KeeperError(
            "keeper.wrong_key", f"the key given is not the one registered for {account}"
        )


# reading what is due ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Interval:
    """One examined device interval.

    Attributes:
        device: The device.
        start_s: Interval start, Unix seconds UTC.
        length_s: Its length, s.
        state: ``issued`` (an issuance overlaps it), ``credited`` (carbon credits were
            verified for its month, so it earns no certificate), ``unmetered`` (a meter lacks
            a reading), ``nothing`` (fully metered, 0 Wh) or ``due`` (to issue).
        measured_wh: What the meters measured (corrections applied); 0 unless metered.
    """

    device: str
    start_s: int
    length_s: int
    state: str
    measured_wh: int = 0


def final_end(now_s: int, length_s: int, finality_s: int) -> int:
    """The end of the last final interval at ``now_s``: intervals of ``length_s`` starting
    before it are final (their end + ``finality_s`` is not after ``now_s``)."""
    horizon = now_s - finality_s
    return max(horizon - horizon % length_s, 0)


def _covered(view: StateReader, device: str, first_s: int, end_s: int) -> list[tuple[int, int]]:
    """``(start, end)`` of the device's issuances that may overlap ``[first_s, end_s)``, by
    start."""
    items = certificates.issuances(view, device, max(first_s - MAX_BUNDLE_S + 1, 0), end_s)
    return sorted((i.start_s, i.start_s + i.length_s) for i in items)


def _overlaps(covered: list[tuple[int, int]], starts: list[int], start: int, end: int) -> bool:
    """Whether an issuance of ``covered`` (by start; ``starts`` their starts) overlaps
    ``[start, end)``: issuances never overlap each other and last at most an hour, so only
    those starting in the hour before ``end`` can."""
    i = bisect.bisect_left(starts, end) - 1
    while i >= 0 and covered[i][0] > start - MAX_BUNDLE_S:
        if covered[i][1] > start:
            return True
        i -= 1
    return False


def examine(
    view: StateReader,
    device: str,
    starts: Iterable[int],
    length_s: int,
    covered: list[tuple[int, int]] | None = None,
) -> list[Interval]:
    """The state of each interval of ``device`` starting at ``starts`` (all final), by the
    rules of ``certificates.issue``; ``covered`` are the device's issuances around them
    (:func:`_covered`), read here when not given."""
    wanted = sorted(starts)
    if not wanted:
        return []
    if covered is None:
        covered = _covered(view, device, wanted[0], wanted[-1] + length_s)
    covered_starts = [s for s, _ in covered]
    out = []
    for start in wanted:
        end = start + length_s
        if _overlaps(covered, covered_starts, start, end):
            out.append(Interval(device, start, length_s, "issued"))
            continue
        if certificates.index.credited_by(view, device, certificates.bundles.month_of(start)):
            out.append(Interval(device, start, length_s, "credited"))
            continue
        got = metering.measured_wh(view, "device", device, start, end)
        if got.missing:
            out.append(Interval(device, start, length_s, "unmetered", got.energy_wh))
        elif got.energy_wh <= 0:
            out.append(Interval(device, start, length_s, "nothing"))
        else:
            out.append(Interval(device, start, length_s, "due", got.energy_wh))
    return out


def issuable_devices(view: StateReader) -> list[registry.Device]:
    """Devices a certifier issues for: every metered device that is not storage, by id."""
    return [
        d
        for d in registry.list_devices(view).items
        if d.technology != "storage" and registry.meter_ids_of(view, "device", d.id)
    ]


def first_metered(view: StateReader, device: str, length_s: int) -> int | None:
    """The start of the device's first interval with a reading (aligned to ``length_s``)."""
    firsts = [
        found[0].start_s
        for meter in registry.meter_ids_of(view, "device", device)
        if (found := metering.readings(view, meter, limit=1))
    ]
    if not firsts:
        return None
    first = min(firsts)
    return first - first % length_s


def latest_metered(view: StateReader, device: str) -> int | None:
    """The start of the device's latest reading, over its meters."""
    lasts = [
        found.start_s
        for meter in registry.meter_ids_of(view, "device", device)
        if (found := metering.latest_reading(view, meter)) is not None
    ]
    return max(lasts) if lasts else None


@dataclasses.dataclass(frozen=True)
class Queue:
    """What is due for issuance, as the keeper sees it without its cursors.

    Attributes:
        due: Final, fully metered intervals that measured something and are not issued, by
            device then start (at most the ``limit`` asked for).
        due_total: How many such intervals there are (``due`` may hold fewer).
        due_wh: What they measured in all, Wh.
        unmetered: Final intervals that still lack a reading.
        first_s: The earliest interval start looked at (None without readings).
    """

    due: list[Interval]
    due_total: int
    due_wh: int
    unmetered: int
    first_s: int | None


def issuance_queue(view: StateReader, now_s: int, window_s: int, limit: int = 1000) -> Queue:
    """The certifier's queue at ``now_s``: for each device a certifier issues for, its final
    intervals from ``window_s`` before its latest reading (or its first reading, if later) up
    to that reading, examined as :func:`examine` does."""
    scheme = certificates.bundles.params(view)
    length = scheme.bundle_s
    end = final_end(now_s, length, scheme.finality_s)
    due: list[Interval] = []
    total = wh = unmetered = 0
    first_s: int | None = None
    for device in issuable_devices(view):
        first = first_metered(view, device.id, length)
        last = latest_metered(view, device.id)
        if first is None or last is None:
            continue
        start = max(first, last - window_s)
        start -= start % length
        first_s = start if first_s is None else min(first_s, start)
        stop = min(end, last - last % length + length)
        for item in examine(view, device.id, range(start, stop, length), length):
            if item.state == "due":
                total += 1
                wh += item.measured_wh
                if len(due) < limit:
                    due.append(item)
            elif item.state == "unmetered":
                unmetered += 1
    return Queue(due, total, wh, unmetered, first_s)


def standing_wh(item: Issuance) -> int:
    """Wh an issuance still certifies: issued - withdrawn + re-issued."""
    return item.quantity_wh - item.withdrawn_wh + item.reissued_wh


def over_certified(view: StateReader, device: str, item: Issuance) -> bool:
    """Whether the issuance's standing Wh exceed what its meters now measure."""
    now = metering.measured_wh(view, "device", device, item.start_s, item.start_s + item.length_s)
    return standing_wh(item) > now.energy_wh


# the keeper ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Sent:
    """A transaction the keeper sent.

    Attributes:
        kind: ``certificates.issue``, ``certificates.expire`` or ``certificates.reconcile``.
        tx_hash: Its hash, hex.
        device: The device it is about (the first bundle's device for an expiry).
        starts: The interval starts it issues or reconciles.
        bundles: The bundles it expires.
        wh: The Wh measured in the intervals it issues.
    """

    kind: str
    tx_hash: str
    device: str
    starts: tuple[int, ...] = ()
    bundles: tuple[str, ...] = ()
    wh: int = 0


@dataclasses.dataclass
class _Flight:
    sent: Sent
    raw: bytes
    """The signed transaction, to offer again unchanged if it seems lost."""
    height: int
    """The tip height when it was sent (or last found still pending)."""


@dataclasses.dataclass
class _Device:
    """What the keeper remembers of one device."""

    cursor: int | None = None
    """The first interval start not examined yet; None before the first reading is seen."""
    waiting: set[int] = dataclasses.field(default_factory=set)
    """Final intervals examined while a meter lacked a reading, examined again later."""
    solo: set[int] = dataclasses.field(default_factory=set)
    """Intervals to send one per transaction (their batch failed)."""
    expiry_after: str | None = None
    """Bundles up to this id are final or expired (the expiry walk starts past it)."""


class CertificateKeeper:
    """Sends the certifier ``account``'s due issuances, expiries and reconciliations on
    ``node``, signed with ``key`` (checked with :func:`check_certifier` at construction).

    Args:
        node: The node whose committed state it reads and to which it submits.
        account: The certifier's account.
        key: That account's signing key.
        recipients: Device id -> the account its certificates go to (an account of the
            device's owner organisation); devices not named go to the owner's first producer
            account.
        period_s: Seconds between ticks when run as a thread.
        lookback_s: How long an interval lacking readings is waited for, and how far back the
            first tick looks for over-certified issuances.
        recheck_s: Seconds between examinations of the intervals waiting for readings (and
            of devices that had no recipient).
    """

    def __init__(
        self,
        node: Node,
        account: str,
        key: SigningKey,
        *,
        recipients: Mapping[str, str] | None = None,
        period_s: float = 5.0,
        lookback_s: int = 7 * 86_400,
        recheck_s: float = 60.0,
    ) -> None:
        check_certifier(node.state.view, account, key)
        self.node = node
        self.account = account
        self.key = key
        self.recipients = dict(recipients or {})
        self.period_s = period_s
        self.lookback_s = lookback_s
        self.recheck_s = recheck_s
        self._devices: dict[str, _Device] = {}
        self._recipient: dict[str, str] = {}
        self._no_recipient: dict[str, float] = {}
        """Device -> when it was last found without a recipient (monotonic s)."""
        self._flights: dict[str, _Flight] = {}
        self._busy: set[tuple[str, str, int | str]] = set()
        """("issue", device, start), ("reconcile", device, start), ("expire", "", bundle)."""
        self._outcomes: list[tuple[str, bool, str | None, str | None]] = []
        """(tx hash, ok, code, message) of committed or dropped flights, from the listener."""
        self._corrected: list[tuple[str, int]] = []
        """(meter, start) of readings corrected in committed blocks, from the listener."""
        self._reconcile: set[tuple[str, int]] = set()
        """(device, issuance start) to check for over-certification."""
        self._lock = threading.Lock()
        self._last_recheck = float("-inf")
        self._started_scan = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent_total = 0
        node.add_listener(self._on_block)

    # the block thread hands over what it saw; the tick does the work -------------------------
    def _on_block(self, block: CommittedBlock) -> None:
        outcomes = []
        corrected = []
        flights = self._flights
        for tx_hash, receipt in zip(block.tx_hashes, block.receipts, strict=False):
            if tx_hash in flights:
                outcomes.append((tx_hash, receipt.ok, receipt.code, receipt.message))
            for event in receipt.events:
                if event.get("type") == "metering.reading_corrected":
                    corrected.append((str(event["meter"]), int(event["start"])))
        for tx_hash, code, message in block.dropped:
            if tx_hash in flights:
                outcomes.append((tx_hash, False, code, message))
        if outcomes or corrected:
            with self._lock:
                self._outcomes.extend(outcomes)
                self._corrected.extend(corrected)

    # one tick --------------------------------------------------------------------------------
    def tick(self) -> list[Sent]:
        """Send what is due and not in flight; returns what was sent."""
        node = self.node
        tip = node.tip
        now_s = max(node.config.clock(), tip.time) // 1000
        view = node.state.view
        self._settle_flights(view, tip.height)
        scheme = certificates.bundles.params(view)
        length = scheme.bundle_s
        end = final_end(now_s, length, scheme.finality_s)
        recheck = time.monotonic() - self._last_recheck >= self.recheck_s
        if recheck:
            self._last_recheck = time.monotonic()
        devices = issuable_devices(view)
        self._corrections(view, devices, now_s, end)
        sent: list[Sent] = []
        for device in devices:
            due = self._due(view, device, length, end, now_s, recheck)
            if due:
                sent += self._issue(device, due, length, tip.height, recheck)
        sent += self._send_reconciles(view, tip.height)
        sent += self._expire(view, now_s, tip.height)
        self.sent_total += len(sent)
        return sent

    def _settle_flights(self, view: StateReader, height: int) -> None:
        """Close the flights a committed block carried or the node dropped (or that no block
        carried for :data:`STALE_BLOCKS` blocks)."""
        with self._lock:
            outcomes, self._outcomes = self._outcomes, []
            corrected, self._corrected = self._corrected, []
        for meter, start in corrected:
            found = registry.get_meter(view, meter)
            if found is None or found.device is None:
                continue
            lo = max(start - MAX_BUNDLE_S + 1, 0)
            for item in certificates.issuances(view, found.device, lo, start + found.interval_s):
                if item.start_s + item.length_s > start:
                    self._reconcile.add((found.device, item.start_s))
            # an interval examined before the correction may be due now
            state = self._devices.get(found.device)
            if state is not None and state.cursor is not None:
                length = certificates.bundles.params(view).bundle_s
                aligned = start - start % length
                if aligned < state.cursor:
                    state.waiting.add(aligned)
        for tx_hash, ok, code, message in outcomes:
            flight = self._flights.pop(tx_hash, None)
            if flight is not None:
                self._land(flight.sent, ok, code, message)
        for tx_hash, flight in list(self._flights.items()):
            if height - flight.height > STALE_BLOCKS:
                self._offer_again(tx_hash, flight, height)

    def _offer_again(self, tx_hash: str, flight: _Flight, height: int) -> None:
        """A flight no block carried for a while: committed (and missed), still pending, or
        lost with the node's memory. The same signed transaction is offered again, never a new
        one for the same intervals: the node answers ``tx.duplicate`` while it holds it, takes
        it back if it lost it, and refuses its nonce only if it can never be carried."""
        committed = self.node.store.tx(bytes.fromhex(tx_hash))
        if committed is not None:
            del self._flights[tx_hash]
            receipt = msgspec.json.decode(committed.receipt, type=Receipt)
            self._land(flight.sent, receipt.ok, receipt.code, receipt.message)
            return
        try:
            self.node.submit(flight.raw)
        except DuplicateTransaction:
            pass  # still pending
        except GridLedgerError as exc:
            del self._flights[tx_hash]
            self._land(flight.sent, False, "keeper.lost", f"it cannot be carried: {exc}")
            return
        flight.height = height

    def _land(self, sent: Sent, ok: bool, code: str | None, message: str | None) -> None:
        """A flight is over: free its intervals or bundles; after a failure, retry what may
        still succeed."""
        if sent.kind == "certificates.issue":
            state = self._devices.setdefault(sent.device, _Device())
            for start in sent.starts:
                self._busy.discard(("issue", sent.device, start))
            if ok:
                state.solo.difference_update(sent.starts)
            elif len(sent.starts) > 1:
                state.solo.update(sent.starts)
                state.waiting.update(sent.starts)
            elif code == "keeper.lost":
                state.waiting.update(sent.starts)
            else:
                state.solo.difference_update(sent.starts)
                log.warning(
                    "certificates of %s interval %d refused (%s: %s); left to the certifier",
                    sent.device, sent.starts[0], code, message,
                )  # fmt: skip
        elif sent.kind == "certificates.reconcile":
            self._busy.discard(("reconcile", sent.device, sent.starts[0]))
            if not ok and code == "keeper.lost":
                self._reconcile.add((sent.device, sent.starts[0]))
        else:
            for bundle in sent.bundles:
                self._busy.discard(("expire", "", bundle))
            if not ok:
                # walked again from the start of the device's expiry cursor next tick
                log.info("expiry of %d bundles failed (%s: %s)", len(sent.bundles), code, message)

    def _corrections(
        self, view: StateReader, devices: list[registry.Device], now_s: int, end: int
    ) -> None:
        """On the first tick: issuances of the last ``lookback_s`` to check against their
        meters (corrections made while no keeper ran)."""
        if self._started_scan:
            return
        self._started_scan = True
        since = max(now_s - self.lookback_s, 0)
        for device in devices:
            for item in certificates.issuances(view, device.id, since, end):
                self._reconcile.add((device.id, item.start_s))

    def _due(
        self,
        view: StateReader,
        device: registry.Device,
        length: int,
        end: int,
        now_s: int,
        recheck: bool,
    ) -> list[Interval]:
        """The device's due intervals: the waiting ones (when it is time to look again), then
        those from its cursor on; advances the cursor."""
        state = self._devices.setdefault(device.id, _Device())
        if state.cursor is None:
            state.cursor = first_metered(view, device.id, length)
            if state.cursor is None:
                return []
        starts: list[int] = []
        oldest = now_s - self.lookback_s
        if state.waiting and (recheck or state.solo):
            stale = sorted(s for s in state.waiting if s + length < oldest)
            if stale:
                log.warning(
                    "%s: %d intervals from %d not issued after %d s (readings missing or "
                    "nobody to receive them); left to the certifier",
                    device.id, len(stale), stale[0], self.lookback_s,
                )  # fmt: skip
                state.waiting.difference_update(stale)
            starts = sorted(s for s in state.waiting if recheck or s in state.solo)
            state.waiting.difference_update(starts)
        # the walk stops at the device's latest reading: what comes after it has no data yet
        latest = latest_metered(view, device.id)
        cursor = state.cursor - state.cursor % length
        stop = end if latest is None else min(end, latest - latest % length + length)
        starts += range(cursor, min(stop, cursor + WALK_LIMIT * length), length)
        starts = [s for s in starts if ("issue", device.id, s) not in self._busy]
        due: list[Interval] = []
        last = cursor
        too_old = 0
        for item in examine(view, device.id, starts, length):
            if item.start_s >= cursor:
                if len(due) >= MAX_INTERVALS and item.state == "due":
                    break  # the rest waits for the next tick
                last = item.start_s + length
            if item.state == "unmetered":
                if item.start_s + length >= oldest:
                    state.waiting.add(item.start_s)
                else:
                    too_old += 1
            elif item.state == "due":
                due.append(item)
        if too_old:
            log.warning(
                "%s: %d intervals older than %d s lack readings; left to the certifier",
                device.id, too_old, self.lookback_s,
            )  # fmt: skip
        state.cursor = max(last, state.cursor)
        return due

    def _recipient_of(
        self, view: StateReader, device: registry.Device, recheck: bool
    ) -> str | None:
        """The account the device's certificates go to (cached), or None."""
        found = self._recipient.get(device.id)
        if found is not None:
            return found
        if device.id in self._no_recipient and not recheck:
            return None
        named = self.recipients.get(device.id)
        if named is not None:
            acct = registry.get_account(view, named)
            ok = acct is not None and acct.org == device.owner_org
            if not ok:
                log.warning("%s: %s is not an account of %s", device.id, named, device.owner_org)
            found = named if ok else None
        else:
            page = registry.list_accounts(view, limit=1, org=device.owner_org, role="producer")
            found = page.items[0].id if page.items else None
        if found is None:
            self._no_recipient[device.id] = time.monotonic()
            return None
        self._no_recipient.pop(device.id, None)
        self._recipient[device.id] = found
        return found

    def _issue(
        self, device: registry.Device, due: list[Interval], length: int, height: int, recheck: bool
    ) -> list[Sent]:
        state = self._devices[device.id]
        to = self._recipient_of(self.node.state.view, device, recheck)
        if to is None:
            # nothing to send it to: keep the intervals for when the owner has an account
            state.waiting.update(i.start_s for i in due)
            return []
        solo = [[i] for i in due if i.start_s in state.solo]
        rest = [i for i in due if i.start_s not in state.solo]
        batches = solo + [rest[k : k + MAX_INTERVALS] for k in range(0, len(rest), MAX_INTERVALS)]
        sent = []
        for batch in batches:
            if not batch:
                continue
            starts = tuple(i.start_s for i in batch)
            body = {"device": device.id, "to": to, "starts": list(starts), "length_s": length}
            what = Sent(
                "certificates.issue", "", device.id, starts, wh=sum(i.measured_wh for i in batch)
            )
            busy: list[tuple[str, str, int | str]] = [("issue", device.id, s) for s in starts]
            got = self._send("certificates.issue", body, height, what, busy)
            if got is None:
                state.waiting.update(starts)
                break
            sent.append(got)
        return sent

    def _send_reconciles(self, view: StateReader, height: int) -> list[Sent]:
        sent = []
        for device, start in sorted(self._reconcile):
            if ("reconcile", device, start) in self._busy:
                continue
            self._reconcile.discard((device, start))
            item = certificates.issuance_of(view, device, start)
            if item is None or not over_certified(view, device, item):
                continue
            what = Sent("certificates.reconcile", "", device, (start,))
            body = {"device": device, "start": start}
            got = self._send(
                "certificates.reconcile", body, height, what, [("reconcile", device, start)]
            )
            if got is None:
                self._reconcile.add((device, start))
                break
            sent.append(got)
        return sent

    def _expire(self, view: StateReader, now_s: int, height: int) -> list[Sent]:
        """Walk each device's bundles from its expiry cursor; send the live ones past their
        expiry, up to :data:`EXPIRE_BATCH` a transaction."""
        due: list[str] = []
        for device in registry.list_devices(view).items:
            state = self._devices.setdefault(device.id, _Device())
            page = certificates.bundles_of_device(
                view, device.id, after=state.expiry_after, limit=EXPIRY_PAGE
            )
            holding = False
            for bundle in page.items:
                if bundle.status in LIVE:
                    if now_s < bundle.expires_s:
                        break
                    holding = True  # the cursor stays before it until it is marked
                    if ("expire", "", bundle.id) not in self._busy:
                        due.append(bundle.id)
                elif not holding:
                    state.expiry_after = bundle.id
        sent = []
        for k in range(0, len(due), EXPIRE_BATCH):
            batch = tuple(due[k : k + EXPIRE_BATCH])
            parsed = certificates.parse_bundle_id(batch[0])
            what = Sent("certificates.expire", "", parsed[0] if parsed else "", bundles=batch)
            busy: list[tuple[str, str, int | str]] = [("expire", "", b) for b in batch]
            got = self._send("certificates.expire", {"bundles": list(batch)}, height, what, busy)
            if got is None:
                break
            sent.append(got)
        return sent

    def _send(
        self,
        kind: str,
        body: dict[str, Any],
        height: int,
        sent: Sent,
        busy: list[tuple[str, str, int | str]],
    ) -> Sent | None:
        """Sign and submit; the flight and its busy marks are recorded before the block
        thread can report it. None when the node refused it (logged)."""
        node = self.node
        tx = Transaction(
            chain_id=node.chain_id,
            kind=kind,
            sender=self.account,
            nonce=node.next_nonce(self.account),
            body=body,
        )
        tx.signature = self.key.sign(tx.signing_bytes())
        tx_hash = tx.hash().hex()
        sent = dataclasses.replace(sent, tx_hash=tx_hash)
        raw = tx.encode()
        self._flights[tx_hash] = _Flight(sent, raw, height)
        self._busy.update(busy)
        try:
            node.submit(raw)
        except GridLedgerError as exc:
            del self._flights[tx_hash]
            self._busy.difference_update(busy)
            log.warning("certificate keeper could not send %s for %s: %s", kind, sent.device, exc)
            return None
        log.info("certificate keeper sent %s for %s", kind, sent.device)
        return sent

    # running ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="certificate-keeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.node.remove_listener(self._on_block)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self.tick()
            except Exception:  # the keeper must never take the node down with it
                log.exception("certificate keeper tick failed")

    def status(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "in_flight": len(self._flights),
            "waiting": sum(len(d.waiting) for d in self._devices.values()),
            "sent": self.sent_total,
        }
