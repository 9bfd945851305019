"""The device-side indexes of issuance: the Wh id cursor and totals, the issuances of each
day, and the month's certified Wh; and finding the bundles of an issuance."""

from __future__ import annotations

from gridledger.contracts.certificates import bundles, keys
from gridledger.contracts.certificates.errors import CreditedMonth
from gridledger.contracts.certificates.records import (
    Bundle,
    DeviceLedger,
    DeviceMonth,
    Issuance,
    IssuedDay,
)
from gridledger.contracts.credits import keys as credit_keys
from gridledger.state.state import StateReader, StateWriter

DAY_S = 86_400


def device_ledger(view: StateReader, device: str) -> DeviceLedger:
    return view.get_record(keys.device_ledger(device), DeviceLedger) or DeviceLedger()


def issued_day(view: StateReader, device: str, day_start_s: int) -> IssuedDay:
    found = view.get_record(keys.issued_day(device, day_start_s), IssuedDay)
    return found or IssuedDay(issuances=[])


def issuance_of(view: StateReader, device: str, start_s: int) -> Issuance | None:
    """The issuance of the device interval starting at ``start_s``, if there is one."""
    for item in issued_day(view, device, start_s - start_s % DAY_S).issuances:
        if item.start_s == start_s:
            return item
    return None


def put_issuance(state: StateWriter, device: str, item: Issuance) -> None:
    day = item.start_s - item.start_s % DAY_S
    record = issued_day(state, device, day)
    kept = [i for i in record.issuances if i.start_s != item.start_s]
    kept.append(item)
    kept.sort(key=lambda i: i.start_s)
    state.put(keys.issued_day(device, day), IssuedDay(issuances=kept))


def device_month(view: StateReader, device: str, month: str) -> DeviceMonth:
    return view.get_record(keys.device_month(device, month), DeviceMonth) or DeviceMonth()


def credited_by(view: StateReader, device: str, month: str) -> str | None:
    """``<project>/<period>`` of the verified carbon credit period that counted the device's
    month (``YYYY-MM``), if one did: its energy earns no certificate."""
    found = view.get(credit_keys.credited_month(device, month))
    return None if found is None else found.decode()


def not_credited(view: StateReader, device: str, month: str) -> None:
    """Refuse certifying a device's month that a verified carbon credit period counted.

    Raises:
        CreditedMonth: the credits contract marked the month.
    """
    found = credited_by(view, device, month)
    if found is not None:
        raise CreditedMonth(f"{device} in {month} earned credits ({found})")


def hand_out_ids(state: StateWriter, device: str, quantity_wh: int) -> int:
    """Reserve the device's next ``quantity_wh`` Wh ids; returns the first."""
    ledger = device_ledger(state, device)
    first = ledger.last_id + 1
    ledger.last_id += quantity_wh
    ledger.issued_wh += quantity_wh
    state.put(keys.device_ledger(device), ledger)
    return first


def issuance_bundles(view: StateReader, device: str, item: Issuance) -> list[Bundle]:
    """Every bundle now holding Wh ids of the issuance (its range and its re-issues)."""
    ranges = [(item.range_start, item.quantity_wh), *((r[0], r[1]) for r in item.reissues)]
    out: list[Bundle] = []
    prefix = keys.bundles_of(device)
    for first, quantity in ranges:
        if quantity <= 0:
            continue
        lo = keys.bundle(device, first)[len(prefix) :]
        hi = keys.bundle(device, first + quantity)[len(prefix) :]
        for _, raw in view.scan_range(prefix, lo, hi):
            out.append(bundles.decode(raw))
    return out
