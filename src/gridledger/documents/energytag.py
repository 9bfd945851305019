"""Certificate bundles in the field names of the EnergyTag GC registry API, for CSV and JSON
exports another registry or an auditor can load.

The names are those of the EnergyTag Granular Certificate registry API's bundle
(``GranularCertificateBundleRead``, Standard v2, 2024): ``certificate_bundle_id_range_start``,
``bundle_quantity``, ``production_starting_interval`` and so on. Where GridLedger records
something the API has no field for (the bundle's id, its exact status, its parent's hash, what
it was cancelled for), a ``gridledger_`` column follows the EnergyTag ones, so a reader that
knows only EnergyTag names can ignore them.

How each field is filled (:data:`FIELDS` is the column order):

* ``issuance_id``: the issuance, ``<device>:<production start, Unix s>``, kept by every child
  of a split; ``hash``: the bundle's hash (SHA-256 hex, see ``docs/certificates.md``);
* ``certificate_bundle_status``: the status at the export's time, in EnergyTag's words:
  active → ``Active``, locked (reserved by its holder for one account) → ``Reserved``,
  cancelled → ``Cancelled``, claimed → ``Claimed``, withdrawn → ``Withdrawn``, expired →
  ``Expired``; the two GridLedger-only statuses map to the nearest EnergyTag one:
  storage_charged (cancelled into a battery's charge) → ``Cancelled`` and gec_exported
  (converted to China GECs, out of this registry) → ``Withdrawn``; ``gridledger_status``
  keeps the exact status;
* ``account_id``: the holding account; ``beneficiary``: the account it was cancelled for;
* ``certificate_bundle_id_range_start`` / ``_end`` / ``bundle_quantity``: the Wh ids and
  their count; ``face_value``: 1 (each certificate is one Wh); ``energy_carrier``:
  ``electricity``; ``issuance_post_energy_carrier_conversion``: false;
* ``energy_source``: the device's fuel; ``device_technology_type``: its technology;
  ``device_production_start_date``: its commissioning date; ``device_capacity``: W;
  ``device_name`` and ``device_location`` (``"<lat>,<lon>"`` in decimal degrees) when the
  device's registry record is at hand, else empty; ``device_type``: ``storage`` for a
  storage-discharge bundle, else ``production``; ``is_storage`` likewise;
* ``production_starting_interval`` / ``production_ending_interval`` (end exclusive),
  ``expiry_datestamp``: ISO 8601 UTC times (``2025-06-15T10:00:00Z``);
  ``discharging_start_datetime`` / ``_end_datetime``: the interval again for a
  storage-discharge bundle, else empty;
* ``country_of_issuance``: the device's country; ``connected_grid_identification`` and
  ``issue_market_zone``: its grid zone; ``issuing_body``: the certifier's organisation;
  ``support_received``: the device's public support; ``quality_scheme_reference``: the scheme.

Values are strings, integers, booleans or null in JSON; in CSV (RFC 4180, a header row of
these names, CRLF line ends) booleans are ``true`` / ``false`` and null is empty.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from typing import Any

from gridledger.contracts.certificates import Bundle, Status, status_at
from gridledger.contracts.registry import Device

ENERGYTAG_FIELDS: tuple[str, ...] = (
    "issuance_id",
    "hash",
    "certificate_bundle_status",
    "account_id",
    "certificate_bundle_id_range_start",
    "certificate_bundle_id_range_end",
    "bundle_quantity",
    "beneficiary",
    "energy_carrier",
    "energy_source",
    "face_value",
    "issuance_post_energy_carrier_conversion",
    "device_id",
    "device_name",
    "device_technology_type",
    "device_production_start_date",
    "device_capacity",
    "device_location",
    "device_type",
    "production_starting_interval",
    "production_ending_interval",
    "expiry_datestamp",
    "is_storage",
    "discharging_start_datetime",
    "discharging_end_datetime",
    "country_of_issuance",
    "connected_grid_identification",
    "issuing_body",
    "support_received",
    "quality_scheme_reference",
    "issue_market_zone",
)
"""The EnergyTag GC registry API's bundle fields an export fills, in column order."""

GRIDLEDGER_FIELDS: tuple[str, ...] = (
    "gridledger_bundle_id",
    "gridledger_status",
    "gridledger_bundle_type",
    "gridledger_parent_hash",
    "gridledger_origin",
    "gridledger_issuer",
    "gridledger_issued_at",
    "gridledger_issued_height",
    "gridledger_locked_for",
    "gridledger_consumption_site",
    "gridledger_consumption_period_start",
    "gridledger_consumption_period_end",
    "gridledger_claimed_height",
    "gridledger_withdrawal_reason",
)
"""What GridLedger records beyond the EnergyTag fields, after them."""

FIELDS = ENERGYTAG_FIELDS + GRIDLEDGER_FIELDS
"""Every column of an export, in order."""

ENERGYTAG_STATUS: Mapping[Status, str] = {
    "active": "Active",
    "locked": "Reserved",
    "cancelled": "Cancelled",
    "claimed": "Claimed",
    "withdrawn": "Withdrawn",
    "expired": "Expired",
    "storage_charged": "Cancelled",
    "gec_exported": "Withdrawn",
}
"""A GridLedger status in EnergyTag's words (see the module docstring)."""


def iso_time(time_s: int) -> str:
    """Unix seconds as an ISO 8601 UTC time, ``2025-06-15T10:00:00Z``."""
    return dt.datetime.fromtimestamp(time_s, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _degrees(micro: int) -> str:
    """Micro-degrees as an exact decimal: -22543096 -> ``"-22.543096"``."""
    sign = "-" if micro < 0 else ""
    return f"{sign}{abs(micro) // 1_000_000}.{abs(micro) % 1_000_000:06d}"


def energytag_row(
    bundle: Bundle, device: Device | None = None, time_s: int | None = None
) -> dict[str, Any]:
    """``bundle`` as a row of :data:`FIELDS`.

    Args:
        bundle: the stored bundle.
        device: its device's registry record, for ``device_name`` and ``device_location``
            (left empty without it).
        time_s: the time the status is read at (a live bundle past its expiry is
            ``Expired``); the stored status when ``None``.
    """
    status = bundle.status if time_s is None else status_at(bundle, time_s)
    storage = bundle.bundle_type == "storage_discharge"
    cancellation = bundle.cancellation
    interval = (iso_time(bundle.production_start_s), iso_time(bundle.production_end_s))
    location = None
    if device is not None:
        location = f"{_degrees(device.latitude_udeg)},{_degrees(device.longitude_udeg)}"
    return {
        "issuance_id": bundle.issuance,
        "hash": bundle.hash,
        "certificate_bundle_status": ENERGYTAG_STATUS[status],
        "account_id": bundle.owner,
        "certificate_bundle_id_range_start": bundle.range_start,
        "certificate_bundle_id_range_end": bundle.range_end,
        "bundle_quantity": bundle.quantity_wh,
        "beneficiary": None if cancellation is None else cancellation.beneficiary,
        "energy_carrier": "electricity",
        "energy_source": bundle.fuel,
        "face_value": 1,
        "issuance_post_energy_carrier_conversion": False,
        "device_id": bundle.device,
        "device_name": None if device is None else device.name,
        "device_technology_type": bundle.technology,
        "device_production_start_date": bundle.commissioned,
        "device_capacity": bundle.capacity_w,
        "device_location": location,
        "device_type": "storage" if storage else "production",
        "production_starting_interval": interval[0],
        "production_ending_interval": interval[1],
        "expiry_datestamp": iso_time(bundle.expires_s),
        "is_storage": storage,
        "discharging_start_datetime": interval[0] if storage else None,
        "discharging_end_datetime": interval[1] if storage else None,
        "country_of_issuance": bundle.country,
        "connected_grid_identification": bundle.grid_zone,
        "issuing_body": bundle.issuing_body,
        "support_received": bundle.support,
        "quality_scheme_reference": bundle.scheme,
        "issue_market_zone": bundle.grid_zone,
        "gridledger_bundle_id": bundle.id,
        "gridledger_status": status,
        "gridledger_bundle_type": bundle.bundle_type,
        "gridledger_parent_hash": bundle.parent_hash,
        "gridledger_origin": bundle.origin,
        "gridledger_issuer": bundle.issuer,
        "gridledger_issued_at": iso_time(bundle.issued_s),
        "gridledger_issued_height": bundle.issued_height,
        "gridledger_locked_for": bundle.locked_for,
        "gridledger_consumption_site": None if cancellation is None else cancellation.site,
        "gridledger_consumption_period_start": (
            None if cancellation is None else iso_time(cancellation.period_start_s)
        ),
        "gridledger_consumption_period_end": (
            None if cancellation is None else iso_time(cancellation.period_end_s)
        ),
        "gridledger_claimed_height": bundle.claimed_height,
        "gridledger_withdrawal_reason": (
            None if bundle.withdrawal is None else bundle.withdrawal.reason
        ),
    }


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows of :func:`energytag_row` as CSV text: a header of :data:`FIELDS`, then one line
    per row (RFC 4180, CRLF)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FIELDS)
    for row in rows:
        writer.writerow([_csv_value(row[name]) for name in FIELDS])
    return out.getvalue()
