"""Reading products: listings, a batch's custody, and whether a scanned item is genuine.

**Authenticity** of a scanned GTIN + serial (:func:`authenticate`), at the state's latest
block time ``now_s``, optionally naming the organisation that has it in hand (``seen_at``):

* ``suspicious``, ``unknown_serial``: no item has this GTIN and serial;
* ``recalled``: the item or the batch it was made in was recalled by its manufacturer;
* ``suspicious``, ``scrapped``: the serial was scrapped, yet it was scanned;
* ``suspicious``, ``two_holders``: ``seen_at`` is not the organisation holding it (nor, in
  transit, the consignee): the same serial is in two places;
* ``suspicious``, ``custody_gap``: shipped more than :data:`TRANSIT_DAYS` days ago and never
  received, or seen at its consignee before it recorded the receipt;
* ``genuine`` otherwise.

An installed item's holder is the holder of the outermost item it is installed in.
"""

from __future__ import annotations

from typing import Literal

from gridledger.contracts.base import Page, Record, page_of
from gridledger.contracts.products import keys
from gridledger.contracts.products.bom import bill_of_materials, used_in
from gridledger.contracts.products.common import get_batch, get_item, get_type
from gridledger.contracts.products.custody import root_of
from gridledger.contracts.products.records import (
    Batch,
    CustodyEvent,
    Item,
    ProductType,
    Shipment,
)
from gridledger.state.state import StateReader, decode_record

TRANSIT_DAYS = 30
DAY_S = 86_400
Verdict = Literal["genuine", "recalled", "suspicious"]


def list_types(view: StateReader, after: str | None = None, limit: int = 100,
               org: str | None = None) -> Page[ProductType]:  # fmt: skip
    keep = None if org is None else (lambda t: t.org == org)
    return page_of(view, keys.product_types(), ProductType, after, limit, keep)


def list_batches(view: StateReader, gtin: str, after: str | None = None,
                 limit: int = 100) -> Page[Batch]:  # fmt: skip
    return page_of(view, keys.batches_of(gtin), Batch, after, limit)


def list_items(view: StateReader, gtin: str, after: str | None = None,
               limit: int = 100) -> Page[Item]:  # fmt: skip
    return page_of(view, keys.items_of(gtin), Item, after, limit)


def events_of(view: StateReader, gtin: str, serial: str) -> list[CustodyEvent]:
    """An item's custody events, in order."""
    return [decode_record(v, CustodyEvent) for _, v in view.scan(keys.events_of(gtin, serial))]


def shipments_of(view: StateReader, gtin: str, lot: str) -> list[Shipment]:
    """A batch's shipments, in order."""
    return [decode_record(v, Shipment) for _, v in view.scan(keys.shipments_of(gtin, lot))]


def holdings(view: StateReader, gtin: str, lot: str) -> dict[str, int]:
    """Who holds how much of a batch (organisations with none left out)."""
    prefix = keys.stocks_of(gtin, lot)
    return {k[len(prefix) :].decode(): int(v) for k, v in view.scan(prefix)}


class BomLine(Record):
    """One line of a bill of materials: a batch and a quantity in its unit."""

    gtin: str
    lot: str
    quantity: int


class BatchCustody(Record):
    """Where a batch's quantities are.

    Attributes:
        batch: The batch record.
        holdings: Quantity held, by organisation.
        in_transit: Quantity shipped and not yet received or refused.
        shipments: Its shipments, in order.
        inputs: What it consumed (its bill of materials).
        used_in: The batches that consumed it.
    """

    batch: Batch
    holdings: dict[str, int]
    in_transit: int
    shipments: list[Shipment]
    inputs: list[BomLine]
    used_in: list[BomLine]


def batch_custody(view: StateReader, gtin: str, lot: str) -> BatchCustody | None:
    found = get_batch(view, gtin, lot)
    if found is None:
        return None
    shipments = shipments_of(view, gtin, lot)
    return BatchCustody(
        batch=found,
        holdings=holdings(view, gtin, lot),
        in_transit=sum(s.quantity for s in shipments if s.status == "in_transit"),
        shipments=shipments,
        inputs=[BomLine(gtin=g, lot=lt, quantity=q)
                for g, lt, q in bill_of_materials(view, gtin, lot)],
        used_in=[BomLine(gtin=g, lot=lt, quantity=q)
                 for g, lt, q in used_in(view, gtin, lot)],
    )  # fmt: skip


class Authenticity(Record, omit_defaults=True):
    """What a scan of a GTIN + serial finds (see the module docstring).

    Attributes:
        gtin: The GTIN scanned (14 digits).
        serial: The serial scanned.
        verdict: genuine, recalled or suspicious.
        reasons: Why (empty when genuine): unknown_serial, item_recalled, batch_recalled,
            scrapped, two_holders, custody_gap.
        checked_s: The block time it was judged at.
        holder: The organisation holding it (an installed item: the outermost item's).
        manufacturer: The organisation that registered it.
        product: The product type's name.
        item: The item record.
        events: Its custody chain, in order.
        installed_in: ``<gtin>/<serial>`` of the outermost item it is installed in.
        seen_at: The organisation the scan was made at, as given.
    """

    gtin: str
    serial: str
    verdict: Verdict
    reasons: list[str]
    checked_s: int
    holder: str | None = None
    manufacturer: str | None = None
    product: str | None = None
    item: Item | None = None
    events: list[CustodyEvent] = []
    installed_in: str | None = None
    seen_at: str | None = None


def judge(item: Item, root: Item, events: list[CustodyEvent], batch: Batch | None,
          now_s: int, seen_at: str | None) -> tuple[Verdict, list[str]]:  # fmt: skip
    """The verdict on an item from its records alone (a proof file's verifier uses the same
    rule)."""
    recalled = []
    if item.recalled:
        recalled.append("item_recalled")
    if batch is not None and batch.recalled:
        recalled.append("batch_recalled")
    if recalled:
        return "recalled", recalled
    reasons = []
    if item.status == "scrapped":
        reasons.append("scrapped")
    if root.status == "in_transit":
        shipped = [e.time_s for e in events if e.type in ("shipped", "returned")]
        late = bool(shipped) and now_s - shipped[-1] > TRANSIT_DAYS * DAY_S
        if late or (seen_at is not None and seen_at == root.to):
            reasons.append("custody_gap")
        if seen_at is not None and seen_at not in (root.holder, root.to):
            reasons.append("two_holders")
    elif seen_at is not None and seen_at != root.holder and item.status != "scrapped":
        reasons.append("two_holders")
    return ("suspicious", reasons) if reasons else ("genuine", [])


def authenticate(view: StateReader, gtin: str, serial: str, now_s: int,
                 seen_at: str | None = None) -> Authenticity:  # fmt: skip
    """Whether a scanned item is genuine, recalled or suspicious, with its custody chain."""
    item = get_item(view, gtin, serial)
    if item is None:
        return Authenticity(gtin=gtin, serial=serial, verdict="suspicious",
                            reasons=["unknown_serial"], checked_s=now_s,
                            seen_at=seen_at)  # fmt: skip
    root = root_of(view, item)
    events = events_of(view, gtin, serial)
    batch = None if item.lot is None else get_batch(view, gtin, item.lot)
    verdict, reasons = judge(item, root, events, batch, now_s, seen_at)
    product = get_type(view, gtin)
    return Authenticity(
        gtin=gtin, serial=serial, verdict=verdict, reasons=reasons, checked_s=now_s,
        holder=root.holder, manufacturer=item.org,
        product=None if product is None else product.name, item=item, events=events,
        installed_in=None if root is item else f"{root.gtin}/{root.serial}", seen_at=seen_at,
    )  # fmt: skip
