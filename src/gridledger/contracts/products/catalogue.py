"""Product types, batches and serialised items, registered by their manufacturer.

* ``products.register_type`` (any account; its organisation is the manufacturer):
  ``{"gtin", "name", "unit": "g"|"kg"|"unit", "unit_mass_g"?, "cn_code"?}``: a GTIN-14 with
  its GS1 check digit, registered once (``products.type_exists``). A type counted in pieces
  declares its grams per piece (``unit_mass_g``), which mass allocation and CBAM reports
  need; g and kg imply 1 and 1,000.
* ``products.register_batch`` (the manufacturer): ``{"gtin", "lot", "site"}``: the batch
  starts in production at block time at one of the manufacturer's sites.
* ``products.complete_batch`` (the manufacturer): ``{"gtin", "lot", "quantity"}``: production
  ends at block time; the quantity made (in the type's unit) is the manufacturer's stock.
* ``products.register_items`` (the manufacturer): ``{"gtin", "serials": [...], "lot"?}``:
  1-1,000 serialised items, each serial once ever (``products.serial_exists``), held by the
  manufacturer; ``lot`` names the batch they were made in (for their footprint). Items are
  identities, not stock: registering them moves no batch quantity.
* ``products.recall`` (the manufacturer): ``{"gtin", "lot"|"serial", "reason"}``: a recalled
  batch recalls every item registered with its lot.
"""

from __future__ import annotations

import re

from gridledger.contracts import registry
from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.products import keys
from gridledger.contracts.products.common import (
    MAX_TEXT,
    add_event,
    check_gtin,
    check_part,
    get_type,
    manufacturer,
    require_batch,
    require_item,
    require_type,
    set_stock,
    stock_of,
)
from gridledger.contracts.products.errors import (
    AlreadyRecalled,
    BadQuantity,
    BatchExists,
    InvalidIdentifier,
    InvalidProduct,
    NotInProduction,
    SerialExists,
    TypeExists,
    UnknownSite,
)
from gridledger.contracts.products.records import Batch, Item, ProductType, Unit
from gridledger.core.encoding import INT_MAX
from gridledger.state.state import StateWriter

MAX_ITEMS = 1000
MAX_UNIT_MASS_G = 10**12
_CN = re.compile(r"^[0-9]{8}$")
UNIT_MASS_G = {"g": 1, "kg": 1000}


class RegisterType(Body):
    gtin: str
    name: str
    unit: Unit
    unit_mass_g: Int64 | None = None
    cn_code: str | None = None

    def check(self) -> None:
        check_gtin(self.gtin)
        if not 1 <= len(self.name) <= 128:
            raise InvalidProduct("a name is 1-128 characters")
        if self.unit == "unit":
            if self.unit_mass_g is None or not 1 <= self.unit_mass_g <= MAX_UNIT_MASS_G:
                raise InvalidProduct("a type counted in pieces gives unit_mass_g, 1 g to 1,000 t")
        elif self.unit_mass_g is not None and self.unit_mass_g != UNIT_MASS_G[self.unit]:
            raise InvalidProduct(f"a type counted in {self.unit} weighs {UNIT_MASS_G[self.unit]} g")
        if self.cn_code is not None and not _CN.match(self.cn_code):
            raise InvalidProduct("a CN code is 8 digits")


@kind("products.register_type", RegisterType)
def apply_register_type(state: StateWriter, ctx: Context, body: RegisterType) -> None:
    """Register a product type under its GTIN; the sender's organisation makes it."""
    if get_type(state, body.gtin) is not None:
        raise TypeExists(f"GTIN {body.gtin} is registered")
    org = registry.sender_org(state, ctx)
    mass = body.unit_mass_g if body.unit == "unit" else UNIT_MASS_G[body.unit]
    assert mass is not None  # check() made sure
    state.put(
        keys.product_type(body.gtin),
        ProductType(gtin=body.gtin, name=body.name, org=org, unit=body.unit, unit_mass_g=mass,
                    registered_by=ctx.sender, height=ctx.height, cn_code=body.cn_code),
    )  # fmt: skip
    ctx.emit("products.type_registered", gtin=body.gtin, org=org)


class RegisterBatch(Body):
    gtin: str
    lot: str
    site: str

    def check(self) -> None:
        check_gtin(self.gtin)
        check_part(self.lot, "lot")


@kind("products.register_batch", RegisterBatch)
def apply_register_batch(state: StateWriter, ctx: Context, body: RegisterBatch) -> None:
    """Start a production batch at one of the manufacturer's sites (its manufacturer)."""
    found = require_type(state, body.gtin)
    manufacturer(state, ctx, found.org, f"GTIN {body.gtin}")
    if state.get(keys.batch(body.gtin, body.lot)) is not None:
        raise BatchExists(f"batch {body.gtin} lot {body.lot} exists")
    site = registry.get_site(state, body.site)
    if site is None or site.owner_org != found.org:
        raise UnknownSite(f"{body.site!r} is no registered site of {found.org}")
    state.put(
        keys.batch(body.gtin, body.lot),
        Batch(gtin=body.gtin, lot=body.lot, org=found.org, site=body.site,
              status="in_production", started_s=ctx.time_s, registered_by=ctx.sender,
              height=ctx.height),
    )  # fmt: skip
    ctx.emit("products.batch_started", gtin=body.gtin, lot=body.lot, site=body.site)


class CompleteBatch(Body):
    gtin: str
    lot: str
    quantity: Int64

    def check(self) -> None:
        check_gtin(self.gtin)
        check_part(self.lot, "lot")
        if self.quantity <= 0:
            raise BadQuantity(f"quantity {self.quantity}: a positive integer")


@kind("products.complete_batch", CompleteBatch)
def apply_complete_batch(state: StateWriter, ctx: Context, body: CompleteBatch) -> None:
    """End a batch's production; what was made becomes the manufacturer's stock."""
    batch = require_batch(state, body.gtin, body.lot)
    manufacturer(state, ctx, batch.org, f"batch {body.gtin} lot {body.lot}")
    if batch.status != "in_production":
        raise NotInProduction(f"batch {body.gtin} lot {body.lot} was completed")
    if body.quantity * require_type(state, body.gtin).unit_mass_g > INT_MAX:
        raise BadQuantity(f"{body.quantity} of {body.gtin} weigh more than 2^63-1 g")
    batch.status, batch.quantity = "completed", body.quantity
    batch.completed_s, batch.completed_height = ctx.time_s, ctx.height
    state.put(keys.batch(body.gtin, body.lot), batch)
    set_stock(state, body.gtin, body.lot, batch.org,
              stock_of(state, body.gtin, body.lot, batch.org) + body.quantity)  # fmt: skip
    ctx.emit("products.batch_completed", gtin=body.gtin, lot=body.lot, quantity=body.quantity)


class RegisterItems(Body):
    gtin: str
    serials: list[str]
    lot: str | None = None

    def check(self) -> None:
        check_gtin(self.gtin)
        if not 1 <= len(self.serials) <= MAX_ITEMS:
            raise InvalidIdentifier(f"register 1-{MAX_ITEMS} serials at a time")
        for serial in self.serials:
            check_part(serial, "serial")
        if len(set(self.serials)) != len(self.serials):
            raise SerialExists("a serial is listed twice")
        if self.lot is not None:
            check_part(self.lot, "lot")


@kind("products.register_items", RegisterItems)
def apply_register_items(state: StateWriter, ctx: Context, body: RegisterItems) -> None:
    """Register serialised items, each serial once ever (their manufacturer)."""
    found = require_type(state, body.gtin)
    manufacturer(state, ctx, found.org, f"GTIN {body.gtin}")
    if body.lot is not None:
        require_batch(state, body.gtin, body.lot)
    for serial in sorted(body.serials):
        if state.get(keys.item(body.gtin, serial)) is not None:
            raise SerialExists(f"{body.gtin} serial {serial} is registered")
        item = Item(gtin=body.gtin, serial=serial, org=found.org, holder=found.org,
                    status="held", events=0, registered_height=ctx.height,
                    lot=body.lot)  # fmt: skip
        add_event(state, ctx, item, "registered", found.org)
    ctx.emit("products.items_registered", gtin=body.gtin, count=len(body.serials))


class Recall(Body):
    gtin: str
    reason: str
    lot: str | None = None
    serial: str | None = None

    def check(self) -> None:
        check_gtin(self.gtin)
        if (self.lot is None) == (self.serial is None):
            raise InvalidIdentifier("recall a lot or a serial (one of the two)")
        check_part(self.lot or self.serial or "", "lot" if self.lot else "serial")
        if not 1 <= len(self.reason) <= MAX_TEXT:
            raise InvalidProduct(f"a recall gives its reason, 1-{MAX_TEXT} characters")


@kind("products.recall", Recall)
def apply_recall(state: StateWriter, ctx: Context, body: Recall) -> None:
    """Recall a batch (and its items) or one item (its manufacturer)."""
    if body.lot is not None:
        batch = require_batch(state, body.gtin, body.lot)
        manufacturer(state, ctx, batch.org, f"batch {body.gtin} lot {body.lot}")
        if batch.recalled:
            raise AlreadyRecalled(f"batch {body.gtin} lot {body.lot}")
        batch.recalled, batch.recall_reason = True, body.reason
        state.put(keys.batch(body.gtin, body.lot), batch)
        ctx.emit("products.recalled", gtin=body.gtin, lot=body.lot)
        return
    assert body.serial is not None
    item = require_item(state, body.gtin, body.serial)
    manufacturer(state, ctx, item.org, f"item {body.gtin} serial {body.serial}")
    if item.recalled:
        raise AlreadyRecalled(f"item {body.gtin} serial {body.serial}")
    item.recalled, item.recall_reason = True, body.reason
    add_event(state, ctx, item, "recalled", item.org, note=body.reason)
    ctx.emit("products.recalled", gtin=body.gtin, serial=body.serial)
