"""Every state key of products. Nothing else builds them: other code calls these.

* ``products/type/<gtin>``: a :class:`~.records.ProductType` (GTIN-14);
* ``products/batch/<gtin>/<lot>``: a :class:`~.records.Batch`;
* ``products/stock/<gtin>/<lot>/<org>``: how much of the batch (in its type's unit) the
  organisation holds and may ship, scrap or consume;
* ``products/shipment/<gtin>/<lot>/<n>``: the batch's shipment numbered ``n`` (6 digits), a
  :class:`~.records.Shipment`;
* ``products/input/<gtin>/<lot>/<input gtin>/<input lot>``: how much of the input batch the
  batch consumed (its bill of materials);
* ``products/used_by/<input gtin>/<input lot>/<gtin>/<lot>``: the same quantity, indexed by
  the input (which batches an input went into);
* ``products/footprint/<gtin>/<lot>``: the batch's :class:`~.records.Footprint`;
* ``products/item/<gtin>/<serial>``: a serialised :class:`~.records.Item`;
* ``products/event/<gtin>/<serial>/<n>``: the item's custody event numbered ``n`` (6
  digits), a :class:`~.records.CustodyEvent`.
"""

from __future__ import annotations


def _n(value: int) -> bytes:
    return b"%06d" % value


def product_type(gtin: str) -> bytes:
    return product_types() + gtin.encode()


def product_types() -> bytes:
    """Prefix of every product type, in GTIN order."""
    return b"products/type/"


def batch(gtin: str, lot: str) -> bytes:
    return batches_of(gtin) + lot.encode()


def batches_of(gtin: str) -> bytes:
    """Prefix of one product type's batches, in lot order."""
    return batches() + gtin.encode() + b"/"


def batches() -> bytes:
    """Prefix of every batch."""
    return b"products/batch/"


def stock(gtin: str, lot: str, org: str) -> bytes:
    return stocks_of(gtin, lot) + org.encode()


def stocks_of(gtin: str, lot: str) -> bytes:
    """Prefix of who holds how much of one batch, in organisation order."""
    return b"products/stock/" + gtin.encode() + b"/" + lot.encode() + b"/"


def shipment(gtin: str, lot: str, n: int) -> bytes:
    return shipments_of(gtin, lot) + _n(n)


def shipments_of(gtin: str, lot: str) -> bytes:
    """Prefix of one batch's shipments, in the order they were made."""
    return b"products/shipment/" + gtin.encode() + b"/" + lot.encode() + b"/"


def bom_line(gtin: str, lot: str, input_gtin: str, input_lot: str) -> bytes:
    return bom_of(gtin, lot) + input_gtin.encode() + b"/" + input_lot.encode()


def bom_of(gtin: str, lot: str) -> bytes:
    """Prefix of one batch's bill of materials, in input order."""
    return b"products/input/" + gtin.encode() + b"/" + lot.encode() + b"/"


def used_by(input_gtin: str, input_lot: str, gtin: str, lot: str) -> bytes:
    return uses_of(input_gtin, input_lot) + gtin.encode() + b"/" + lot.encode()


def uses_of(input_gtin: str, input_lot: str) -> bytes:
    """Prefix of the batches one input batch went into."""
    return b"products/used_by/" + input_gtin.encode() + b"/" + input_lot.encode() + b"/"


def footprint(gtin: str, lot: str) -> bytes:
    return b"products/footprint/" + gtin.encode() + b"/" + lot.encode()


def item(gtin: str, serial: str) -> bytes:
    return items_of(gtin) + serial.encode()


def items_of(gtin: str) -> bytes:
    """Prefix of one product type's serialised items, in serial order."""
    return b"products/item/" + gtin.encode() + b"/"


def event(gtin: str, serial: str, n: int) -> bytes:
    return events_of(gtin, serial) + _n(n)


def events_of(gtin: str, serial: str) -> bytes:
    """Prefix of one item's custody events, in order."""
    return b"products/event/" + gtin.encode() + b"/" + serial.encode() + b"/"
