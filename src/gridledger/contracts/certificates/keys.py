"""Every state key of certificates. Nothing else builds them: other code calls these.

* ``certificates/bundle/<device>/<range_start>``: a :class:`~.records.Bundle`, the current
  holder of the device's Wh ids ``range_start .. range_end``; a split rewrites the first part
  under the same key and adds the second under its own ``range_start``;
* ``certificates/issued/<device>/<day>``: the :class:`~.records.IssuedDay` of every issuance of
  the device whose production interval starts on that UTC day (one per device and interval,
  whatever became of its bundles);
* ``certificates/device/<device>``: the device's :class:`~.records.DeviceLedger` (its highest
  issued Wh id and running totals);
* ``certificates/acceptance/<account>``: whom an account accepts transfers from
  (:class:`~.records.Acceptance`; absent: anyone);
* ``certificates/params``: the scheme's :class:`~.records.SchemeParams`;
* ``certificates/storage/<device>``: a storage device's :class:`~.records.StorageLedger`;
  ``certificates/charge/<device>/<seq>``: its :class:`~.records.StorageCharge` records, FIFO;
* ``certificates/gec/<gec id>``: a recorded China Green Electricity Certificate
  (:class:`~.records.Gec`); ``certificates/gec_month/<device>/<YYYY-MM>``: a plant's GEC
  export of that month (:class:`~.records.GecExport`);
* ``certificates/pairing/<device>/<interval start>/<pairing id>``: a settled market pairing's
  delivery still waiting for its certificates (:class:`~.records.PendingDelivery`).

``<range_start>`` is zero-padded to 19 digits and ``<day>``, ``<interval start>`` to 10, so a
device's keys sort in id and time order.
"""

from __future__ import annotations


def _id(value: int) -> bytes:
    return b"%019d" % value


def _time(value: int) -> bytes:
    return b"%010d" % value


def bundle(device: str, range_start: int) -> bytes:
    return bundles_of(device) + _id(range_start)


def bundles() -> bytes:
    """Prefix of every bundle."""
    return b"certificates/bundle/"


def bundles_of(device: str) -> bytes:
    """Prefix of one device's bundles, in Wh id order."""
    return b"certificates/bundle/" + device.encode() + b"/"


def issued_day(device: str, day_start_s: int) -> bytes:
    return issued_of(device) + _time(day_start_s)


def issued_of(device: str) -> bytes:
    """Prefix of one device's issuance days, in time order."""
    return b"certificates/issued/" + device.encode() + b"/"


def time_part(start_s: int) -> bytes:
    """The key suffix of a day or interval start (for range scans)."""
    return _time(start_s)


def device_ledger(device: str) -> bytes:
    return b"certificates/device/" + device.encode()


def device_ledgers() -> bytes:
    """Prefix of every device ledger."""
    return b"certificates/device/"


def acceptance(account: str) -> bytes:
    return b"certificates/acceptance/" + account.encode()


def params() -> bytes:
    return b"certificates/params"


def storage(device: str) -> bytes:
    return b"certificates/storage/" + device.encode()


def charge(device: str, seq: int) -> bytes:
    return charges_of(device) + _time(seq)


def charges_of(device: str) -> bytes:
    """Prefix of one storage device's charge records, oldest first."""
    return b"certificates/charge/" + device.encode() + b"/"


def gec(gec_id: str) -> bytes:
    return gecs() + gec_id.encode()


def gecs() -> bytes:
    """Prefix of every recorded GEC."""
    return b"certificates/gec/"


def gec_export(device: str, month: str) -> bytes:
    return gec_exports_of(device) + month.encode()


def gec_exports_of(device: str) -> bytes:
    return b"certificates/gec_month/" + device.encode() + b"/"


def pending(device: str, interval_start_s: int, pairing: str) -> bytes:
    return pendings_of(device) + _time(interval_start_s) + b"/" + pairing.encode()


def pendings_of(device: str) -> bytes:
    """Prefix of the deliveries waiting for a device's certificates, by market interval."""
    return b"certificates/pairing/" + device.encode() + b"/"


def device_month(device: str, month: str) -> bytes:
    """A device's :class:`~.records.DeviceMonth` (``certificates/month/<device>/<YYYY-MM>``)."""
    return b"certificates/month/" + device.encode() + b"/" + month.encode()


def claimed_hour(site: str, hour_start_s: int) -> bytes:
    """Wh claimed for ``site`` from certificates produced in the hour (decimal integer):
    ``certificates/claimed/<site>/<hour>``, what hourly matching reads."""
    return claimed_of(site) + _time(hour_start_s)


def claimed_of(site: str) -> bytes:
    return b"certificates/claimed/" + site.encode() + b"/"


def claim(beneficiary: str, production_start_s: int, bundle_id: str) -> bytes:
    """``certificates/claim/<beneficiary>/<production start>/<bundle id>``: ``1`` for each
    bundle claimed for the beneficiary, what claim statements list."""
    return claims_of(beneficiary) + _time(production_start_s) + b"/" + bundle_id.encode()


def claims_of(beneficiary: str) -> bytes:
    return b"certificates/claim/" + beneficiary.encode() + b"/"


def claimed_long(site: str, start_s: int) -> bytes:
    """Wh claimed for ``site`` from certificates produced over more than an hour starting at
    ``start_s`` (a GEC conversion's month): counted in volume matching, never hourly."""
    return claimed_long_of(site) + _time(start_s)


def claimed_long_of(site: str) -> bytes:
    return b"certificates/claimed_long/" + site.encode() + b"/"
