"""Products: traceable product types, batches and serialised items, and their footprints.

* :mod:`.gs1`: GTIN check digits, lots and serials, GS1 Digital Link URIs;
* :mod:`.keys`: every ``products/...`` state key, and nothing else builds them;
* :mod:`.records`: :class:`ProductType`, :class:`Batch`, :class:`Shipment`, :class:`Item`,
  :class:`CustodyEvent`, :class:`Footprint` (with its figures and input shares);
* :mod:`.catalogue`: ``products.register_type``, ``register_batch``, ``complete_batch``,
  ``register_items``, ``recall`` (the manufacturer);
* :mod:`.custody`: ``products.ship``, ``receive``, ``return``, ``install``, ``scrap``
  (the holder, or the consignee);
* :mod:`.bom`: ``products.consume``: a batch's bill of materials;
* :mod:`.footprint`: ``products.record_footprint``: a completed batch's cradle-to-gate
  footprint from metered electricity, confirmed scope 1 data and its inputs' footprints;
* :mod:`.queries`: listings, a batch's custody, and :func:`authenticate` for a scanned serial;
* :mod:`.errors`: the refusals, each with its ``products.*`` code.

Invariants (property-tested): for every batch, what was made equals the stock held plus what
is in transit plus what was consumed plus what was scrapped; a batch's footprint is its own
emissions plus its inputs' allocated shares, whatever the order of the events.
"""

from gridledger.contracts.products import bom, catalogue, custody, footprint, gs1, keys, queries
from gridledger.contracts.products.bom import bill_of_materials, used_in
from gridledger.contracts.products.common import get_batch, get_item, get_type
from gridledger.contracts.products.footprint import get_footprint
from gridledger.contracts.products.queries import (
    Authenticity,
    BatchCustody,
    authenticate,
    batch_custody,
    events_of,
    holdings,
    judge,
    list_batches,
    list_items,
    list_types,
    shipments_of,
)
from gridledger.contracts.products.records import (
    Batch,
    CustodyEvent,
    Footprint,
    InputShare,
    Item,
    ProductType,
    Shipment,
)

__all__ = [
    "Authenticity",
    "Batch",
    "BatchCustody",
    "CustodyEvent",
    "Footprint",
    "InputShare",
    "Item",
    "ProductType",
    "Shipment",
    "authenticate",
    "batch_custody",
    "bill_of_materials",
    "bom",
    "catalogue",
    "custody",
    "events_of",
    "footprint",
    "get_batch",
    "get_footprint",
    "get_item",
    "get_type",
    "gs1",
    "holdings",
    "judge",
    "keys",
    "list_batches",
    "list_items",
    "list_types",
    "queries",
    "shipments_of",
    "used_in",
]
