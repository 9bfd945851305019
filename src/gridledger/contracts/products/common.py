"""What the products kinds share: checking identifiers, reading records, custody events."""

from __future__ import annotations

from gridledger.contracts import registry
from gridledger.contracts.base import Context
from gridledger.contracts.products import gs1, keys
from gridledger.contracts.products.errors import (
    InvalidGtin,
    InvalidIdentifier,
    NotManufacturer,
    UnknownBatch,
    UnknownSerial,
    UnknownType,
)
from gridledger.contracts.products.records import (
    Batch,
    CustodyEvent,
    EventType,
    Item,
    ProductType,
)
from gridledger.state.state import StateReader, StateWriter

MAX_TEXT = 256


def check_gtin(value: str) -> None:
    """Refuse anything but a GTIN-14 with a right check digit (shorter GTINs are written
    with leading zeros)."""
    if len(value) != 14 or not gs1.valid_gtin(value):
        raise InvalidGtin(f"{value!r}: give the 14-digit GTIN with its GS1 check digit")


def check_part(value: str, what: str) -> None:
    if not gs1.valid_part(value):
        raise InvalidIdentifier(f"{what} {value!r}: 1-20 of A-Z a-z 0-9 . _ -")


def get_type(view: StateReader, gtin: str) -> ProductType | None:
    return view.get_record(keys.product_type(gtin), ProductType)


def require_type(view: StateReader, gtin: str) -> ProductType:
    found = get_type(view, gtin)
    if found is None:
        raise UnknownType(f"no product type {gtin}")
    return found


def get_batch(view: StateReader, gtin: str, lot: str) -> Batch | None:
    return view.get_record(keys.batch(gtin, lot), Batch)


def require_batch(view: StateReader, gtin: str, lot: str) -> Batch:
    found = get_batch(view, gtin, lot)
    if found is None:
        raise UnknownBatch(f"no batch {gtin} lot {lot}")
    return found


def get_item(view: StateReader, gtin: str, serial: str) -> Item | None:
    return view.get_record(keys.item(gtin, serial), Item)


def require_item(view: StateReader, gtin: str, serial: str) -> Item:
    found = get_item(view, gtin, serial)
    if found is None:
        raise UnknownSerial(f"no item {gtin} serial {serial}")
    return found


def manufacturer(view: StateReader, ctx: Context, org: str, what: str) -> None:
    """Refuse a sender that is not of the manufacturer ``org``."""
    sender = registry.sender_org(view, ctx)
    if sender != org:
        raise NotManufacturer(f"{what} is {org}'s; {ctx.sender} is of {sender}")


def stock_of(view: StateReader, gtin: str, lot: str, org: str) -> int:
    return view.get_int(keys.stock(gtin, lot, org))


def set_stock(state: StateWriter, gtin: str, lot: str, org: str, quantity: int) -> None:
    if quantity:
        state.set_int(keys.stock(gtin, lot, org), quantity)
    else:
        state.delete(keys.stock(gtin, lot, org))


def add_event(state: StateWriter, ctx: Context, item: Item, type_: EventType, org: str,
              **attrs: str | None) -> None:  # fmt: skip
    """Append a custody event to ``item`` and store the item."""
    item.events += 1
    state.put(
        keys.event(item.gtin, item.serial, item.events),
        CustodyEvent(n=item.events, type=type_, org=org, by=ctx.sender, time_s=ctx.time_s,
                     height=ctx.height, **attrs),
    )  # fmt: skip
    state.put(keys.item(item.gtin, item.serial), item)
