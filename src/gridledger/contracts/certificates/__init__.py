"""Certificates: granular energy certificates (EnergyTag GC Scheme, 2024), hour by hour and
Wh by Wh, from final metered generation; China GEC interoperability; a battery's charge and
discharge.

* :mod:`.keys`: every ``certificates/...`` state key, and nothing else builds them;
* :mod:`.records`: the stored :class:`Bundle`, issuance days, device ledgers, storage
  charges, GECs, and the scheme's parameters;
* :mod:`.bundles`: reading, hashing, splitting and writing bundles;
* :mod:`.issuance`: ``issue``, ``withdraw``, ``reissue``, ``reconcile`` (meter corrections),
  ``expire`` and ``set_params``;
* :mod:`.lifecycle`: ``split``, ``transfer``, ``lock``, ``unlock``, ``cancel``, ``claim``,
  ``set_acceptance``;
* :mod:`.storage`: ``charge_storage`` and ``discharge_storage`` (FIFO);
* :mod:`.gec`: ``record_gec``, ``transfer_gec``, ``cancel_gec``, ``export_gec``;
* :mod:`.deliveries`: certificates for settled market pairings, moved, cancelled and claimed
  with no transaction of anyone's;
* :mod:`.queries`: bundles by device, issuances, claim statements, hourly matching;
* :mod:`.errors`: the refusals, each with its ``certificates.*`` code.

Invariants (property-tested): for every device and interval, certified Wh never exceed the
metered Wh (after a downward meter correction, reconcile withdraws the excess; only Wh already
claimed, expired, charged into storage or exported may stand beyond it); every Wh id a device
handed out belongs to exactly one bundle at any time; split and transfer conserve quantities;
claimed, withdrawn, expired, charged and exported bundles never change again.
"""

from gridledger.contracts.certificates import (
    bundles,
    deliveries,
    gec,
    index,
    issuance,
    keys,
    lifecycle,
    queries,
    storage,
)
from gridledger.contracts.certificates.bundles import (
    DOMAIN_CERTIFICATE,
    bundle_hash,
    get_bundle,
    parse_bundle_id,
    status_at,
)
from gridledger.contracts.certificates.deliveries import pairing_settled
from gridledger.contracts.certificates.index import device_ledger, issuance_of
from gridledger.contracts.certificates.queries import (
    Matching,
    Statement,
    bundles_of_device,
    issuances,
    matching,
    statement,
)
from gridledger.contracts.certificates.records import (
    FINAL,
    IMMUTABLE_FIELDS,
    LIVE,
    Bundle,
    DeviceLedger,
    Gec,
    GecExport,
    Issuance,
    SchemeParams,
    Status,
    StorageCharge,
    StorageLedger,
)

__all__ = [
    "DOMAIN_CERTIFICATE",
    "FINAL",
    "IMMUTABLE_FIELDS",
    "LIVE",
    "Bundle",
    "DeviceLedger",
    "Gec",
    "GecExport",
    "Issuance",
    "Matching",
    "SchemeParams",
    "Statement",
    "Status",
    "StorageCharge",
    "StorageLedger",
    "bundle_hash",
    "bundles",
    "bundles_of_device",
    "deliveries",
    "device_ledger",
    "gec",
    "get_bundle",
    "index",
    "issuance",
    "issuance_of",
    "issuances",
    "keys",
    "lifecycle",
    "matching",
    "pairing_settled",
    "parse_bundle_id",
    "queries",
    "statement",
    "status_at",
    "storage",
]
