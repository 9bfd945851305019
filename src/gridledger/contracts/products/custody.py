"""Custody: who holds a batch's quantities and each serialised item, moved only by its holder.

The holder is an organisation; any of its accounts signs for it.

* ``products.ship`` (the holder): ``{"gtin", "to", "lot", "quantity"}`` ships part of a
  completed batch (a new shipment, in transit; the quantity leaves the shipper's stock), or
  ``{"gtin", "to", "serial"}`` ships a held item.
* ``products.receive`` (the consignee): ``{"gtin", "lot", "shipment"}`` or ``{"gtin",
  "serial"}``: the quantity joins the consignee's stock; the item's holder becomes the
  consignee.
* ``products.return``: ``{"gtin", "lot", "shipment"}``, the consignee refuses a shipment in
  transit (the quantity goes back to the shipper's stock); ``{"gtin", "serial"}``, the
  holder sends an item back to the organisation it received it from (in transit to it).
* ``products.install`` (the holder of both): ``{"gtin", "serial", "parent_gtin",
  "parent_serial"}``: the item becomes part of the parent item and moves with it.
* ``products.scrap`` (the holder): ``{"gtin", "serial"}``, or ``{"gtin", "lot",
  "quantity"}`` out of its stock.

Custody moved by anyone else: ``products.not_holder``; received or refused by anyone but the
consignee: ``products.not_consignee``. For every batch, what was made equals the stock held
plus what is in transit plus what was consumed plus what was scrapped.
"""

from __future__ import annotations

from gridledger.contracts import registry
from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.products import keys
from gridledger.contracts.products.common import (
    add_event,
    check_gtin,
    check_part,
    get_item,
    require_batch,
    require_item,
    set_stock,
    stock_of,
)
from gridledger.contracts.products.errors import (
    BadCustody,
    BadQuantity,
    InProduction,
    InvalidIdentifier,
    NotConsignee,
    NotHolder,
    NotInTransit,
    UnknownSerial,
)
from gridledger.contracts.products.records import Batch, Item, Shipment
from gridledger.state.state import StateReader, StateWriter

MAX_DEPTH = 16
"""How deep items may nest (an item installed into one installed into one ...)."""


class _Target(Body):
    """A batch (``lot``) or an item (``serial``): exactly one of the two."""

    gtin: str
    lot: str | None = None
    serial: str | None = None

    def check(self) -> None:
        check_gtin(self.gtin)
        if (self.lot is None) == (self.serial is None):
            raise InvalidIdentifier("name a lot or a serial (one of the two)")
        if self.lot is not None:
            check_part(self.lot, "lot")
        if self.serial is not None:
            check_part(self.serial, "serial")


def root_of(view: StateReader, item: Item) -> Item:
    """The outermost item ``item`` is installed in (itself when it is not installed)."""
    at = item
    for _ in range(MAX_DEPTH + 1):
        if at.status != "installed" or at.parent is None:
            return at
        gtin, serial = at.parent.split("/", 1)
        parent = get_item(view, gtin, serial)
        if parent is None:  # never: a parent item is never deleted
            return at
        at = parent
    return at


def _held(state: StateReader, ctx: Context, item: Item) -> str:
    org = registry.sender_org(state, ctx)
    if item.holder != org:
        raise NotHolder(f"{item.gtin} serial {item.serial} is held by {item.holder}, not {org}")
    if item.status != "held":
        raise BadCustody(f"{item.gtin} serial {item.serial} is {item.status}")
    return org


def _consignee(view: StateReader, to: str, org: str) -> None:
    if registry.get_organisation(view, to) is None:
        raise BadCustody(f"no organisation {to!r}")
    if to == org:
        raise BadCustody(f"{org} ships to another organisation, not itself")


def _completed(batch: Batch) -> None:
    if batch.status != "completed":
        raise InProduction(f"batch {batch.gtin} lot {batch.lot} is in production")


def take_stock(state: StateWriter, ctx: Context, batch: Batch, quantity: int) -> str:
    """Take ``quantity`` of ``batch`` out of the sender's organisation's stock; its id."""
    org = registry.sender_org(state, ctx)
    held = stock_of(state, batch.gtin, batch.lot, org)
    if held == 0:
        raise NotHolder(f"{org} holds none of batch {batch.gtin} lot {batch.lot}")
    if quantity > held:
        raise BadQuantity(
            f"{org} holds {held} of batch {batch.gtin} lot {batch.lot}, not {quantity}"
        )
    set_stock(state, batch.gtin, batch.lot, org, held - quantity)
    return org


class Ship(_Target):
    to: str = ""
    quantity: Int64 | None = None

    def check(self) -> None:
        super().check()
        registry.check_id(self.to, "consignee")
        if self.lot is not None and (self.quantity is None or self.quantity <= 0):
            raise BadQuantity("shipping part of a batch gives a positive quantity")
        if self.serial is not None and self.quantity is not None:
            raise BadQuantity("an item is shipped whole: no quantity")


@kind("products.ship", Ship)
def apply_ship(state: StateWriter, ctx: Context, body: Ship) -> None:
    """Ship part of a batch, or an item, to another organisation (the holder)."""
    if body.serial is not None:
        item = require_item(state, body.gtin, body.serial)
        org = _held(state, ctx, item)
        _consignee(state, body.to, org)
        item.status, item.to = "in_transit", body.to
        add_event(state, ctx, item, "shipped", org, to_org=body.to)
        ctx.emit("products.shipped", gtin=body.gtin, serial=body.serial, to=body.to)
        return
    assert body.lot is not None
    assert body.quantity is not None
    batch = require_batch(state, body.gtin, body.lot)
    _completed(batch)
    org = take_stock(state, ctx, batch, body.quantity)
    _consignee(state, body.to, org)
    batch.shipments += 1
    state.put(keys.batch(batch.gtin, batch.lot), batch)
    state.put(
        keys.shipment(batch.gtin, batch.lot, batch.shipments),
        Shipment(n=batch.shipments, gtin=batch.gtin, lot=batch.lot, quantity=body.quantity,
                 from_org=org, to_org=body.to, status="in_transit", shipped_s=ctx.time_s,
                 shipped_by=ctx.sender),
    )  # fmt: skip
    ctx.emit("products.shipped", gtin=body.gtin, lot=body.lot, shipment=batch.shipments,
             quantity=body.quantity, to=body.to)  # fmt: skip


class Settle(_Target):
    shipment: Int64 | None = None

    def check(self) -> None:
        super().check()
        if (self.lot is None) != (self.shipment is None):
            raise InvalidIdentifier("a batch's shipment is named by lot and shipment number")


def _shipment(state: StateWriter, ctx: Context, body: Settle) -> tuple[Shipment, str]:
    assert body.lot is not None
    assert body.shipment is not None
    found = state.get_record(keys.shipment(body.gtin, body.lot, body.shipment), Shipment)
    if found is None:
        raise NotInTransit(f"batch {body.gtin} lot {body.lot} has no shipment {body.shipment}")
    if found.status != "in_transit":
        raise NotInTransit(f"shipment {body.shipment} was {found.status}")
    org = registry.sender_org(state, ctx)
    if found.to_org != org:
        raise NotConsignee(f"shipment {body.shipment} goes to {found.to_org}, not {org}")
    return found, org


@kind("products.receive", Settle)
def apply_receive(state: StateWriter, ctx: Context, body: Settle) -> None:
    """Receive a shipment or an item shipped to the sender's organisation (the consignee)."""
    if body.serial is not None:
        item = require_item(state, body.gtin, body.serial)
        org = registry.sender_org(state, ctx)
        if item.status != "in_transit":
            raise NotInTransit(f"{body.gtin} serial {body.serial} is {item.status}")
        if item.to != org:
            raise NotConsignee(f"{body.gtin} serial {body.serial} goes to {item.to}, not {org}")
        item.came_from, item.holder, item.status, item.to = item.holder, org, "held", None
        add_event(state, ctx, item, "received", org)
        ctx.emit("products.received", gtin=body.gtin, serial=body.serial)
        return
    found, org = _shipment(state, ctx, body)
    found.status, found.settled_s, found.settled_by = "received", ctx.time_s, ctx.sender
    state.put(keys.shipment(found.gtin, found.lot, found.n), found)
    set_stock(state, found.gtin, found.lot, org,
              stock_of(state, found.gtin, found.lot, org) + found.quantity)  # fmt: skip
    ctx.emit("products.received", gtin=found.gtin, lot=found.lot, shipment=found.n)


@kind("products.return", Settle)
def apply_return(state: StateWriter, ctx: Context, body: Settle) -> None:
    """Refuse a shipment in transit (its consignee), or send an item back to the
    organisation it came from (its holder)."""
    if body.serial is not None:
        item = require_item(state, body.gtin, body.serial)
        org = _held(state, ctx, item)
        if item.came_from is None:
            raise BadCustody(f"{body.gtin} serial {body.serial} was never received from anyone")
        item.status, item.to = "in_transit", item.came_from
        add_event(state, ctx, item, "returned", org, to_org=item.came_from)
        ctx.emit("products.returned", gtin=body.gtin, serial=body.serial, to=item.came_from)
        return
    found, _org = _shipment(state, ctx, body)
    found.status, found.settled_s, found.settled_by = "refused", ctx.time_s, ctx.sender
    state.put(keys.shipment(found.gtin, found.lot, found.n), found)
    set_stock(state, found.gtin, found.lot, found.from_org,
              stock_of(state, found.gtin, found.lot, found.from_org) + found.quantity)  # fmt: skip
    ctx.emit("products.returned", gtin=found.gtin, lot=found.lot, shipment=found.n)


class Install(Body):
    gtin: str
    serial: str
    parent_gtin: str
    parent_serial: str

    def check(self) -> None:
        check_gtin(self.gtin)
        check_gtin(self.parent_gtin)
        check_part(self.serial, "serial")
        check_part(self.parent_serial, "parent serial")
        if (self.gtin, self.serial) == (self.parent_gtin, self.parent_serial):
            raise BadCustody("an item is not installed into itself")


def depth(view: StateReader, item: Item) -> int:
    """How many items ``item`` is nested in."""
    n, at = 0, item
    while at.status == "installed" and at.parent is not None and n <= MAX_DEPTH:
        gtin, serial = at.parent.split("/", 1)
        parent = get_item(view, gtin, serial)
        if parent is None:
            break
        n, at = n + 1, parent
    return n


@kind("products.install", Install)
def apply_install(state: StateWriter, ctx: Context, body: Install) -> None:
    """Install an item into a parent item, both held by the sender's organisation."""
    item = require_item(state, body.gtin, body.serial)
    org = _held(state, ctx, item)
    parent = get_item(state, body.parent_gtin, body.parent_serial)
    if parent is None:
        raise UnknownSerial(f"no item {body.parent_gtin} serial {body.parent_serial}")
    # the parent may itself be installed (into something the sender holds), never in transit
    root = root_of(state, parent)
    if root.holder != org or root.status != "held":
        raise NotHolder(f"{org} does not hold {body.parent_gtin} serial {body.parent_serial}")
    if depth(state, parent) >= MAX_DEPTH:
        raise BadCustody(f"items nest at most {MAX_DEPTH} deep")
    item.status, item.parent = "installed", f"{body.parent_gtin}/{body.parent_serial}"
    add_event(state, ctx, item, "installed", org, parent=item.parent)
    ctx.emit("products.installed", gtin=body.gtin, serial=body.serial, parent=item.parent)


class Scrap(_Target):
    quantity: Int64 | None = None

    def check(self) -> None:
        super().check()
        if self.lot is not None and (self.quantity is None or self.quantity <= 0):
            raise BadQuantity("scrapping part of a batch gives a positive quantity")
        if self.serial is not None and self.quantity is not None:
            raise BadQuantity("an item is scrapped whole: no quantity")


@kind("products.scrap", Scrap)
def apply_scrap(state: StateWriter, ctx: Context, body: Scrap) -> None:
    """Scrap an item, or part of a batch out of the sender's organisation's stock."""
    if body.serial is not None:
        item = require_item(state, body.gtin, body.serial)
        org = _held(state, ctx, item)
        item.status = "scrapped"
        add_event(state, ctx, item, "scrapped", org)
        ctx.emit("products.scrapped", gtin=body.gtin, serial=body.serial)
        return
    assert body.lot is not None
    assert body.quantity is not None
    batch = require_batch(state, body.gtin, body.lot)
    _completed(batch)
    take_stock(state, ctx, batch, body.quantity)
    batch.scrapped += body.quantity
    state.put(keys.batch(batch.gtin, batch.lot), batch)
    ctx.emit("products.scrapped", gtin=body.gtin, lot=body.lot, quantity=body.quantity)
