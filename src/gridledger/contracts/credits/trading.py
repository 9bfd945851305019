"""Credits in exchange sell orders: locking a seller's blocks of one technology and vintage
year, delivering the lowest serials of an order to a buyer, and giving the rest back.

The exchange contract calls these; nothing else changes a locked block. A sell order for
``q`` t of ``credits:<technology>:<year>`` locks the seller's active blocks whose project's
technology is ``<technology>`` and whose vintage starts in ``<year>``, in serial order
(project number, then first unit), the last one split so exactly ``q`` t are locked. A trade
of ``n`` t delivers the order's first ``n`` locked tonnes in the same order (splitting the
block it ends in): the buyer always receives the lowest serials the order still holds.
Cancelling, expiring or the order's remainder being cancelled makes its locked blocks
active again, held by the seller.
"""

from __future__ import annotations

import msgspec

from gridledger.contracts.credits import keys
from gridledger.contracts.credits.blocks import get_block, store, take
from gridledger.contracts.credits.projects import project_by_number
from gridledger.contracts.credits.records import SerialBlock
from gridledger.state.state import StateReader, StateWriter


def vintage_year(block: SerialBlock) -> int:
    """The year its monitoring period starts in (UTC), its vintage for trading."""
    return int(block.vintage_start[:4])


def _blocks(view: StateReader, prefix: bytes) -> list[SerialBlock]:
    out = []
    for k, _ in view.scan(prefix):
        number, first = k[len(prefix) :].split(b"/")
        found = get_block(view, int(number), int(first))
        if found is not None:
            out.append(found)
    return out


def tradable(view: StateReader, holder: str, technology: str, year: int) -> list[SerialBlock]:
    """The active blocks ``holder`` holds of ``technology`` and vintage ``year``, in serial
    order."""
    technologies: dict[int, str | None] = {}
    out = []
    for block in _blocks(view, keys.held_by(holder)):
        if block.number not in technologies:
            project = project_by_number(view, block.number)
            technologies[block.number] = None if project is None else project.technology
        if technologies[block.number] == technology and vintage_year(block) == year:
            out.append(block)
    return out


def lock(state: StateWriter, holder: str, technology: str, year: int, quantity_t: int,
         order: int) -> int:  # fmt: skip
    """Lock up to ``quantity_t`` of the holder's tradable tonnes in ``order``, lowest serials
    first; returns how many it could lock (the caller refuses if fewer than asked)."""
    locked = 0
    for block in tradable(state, holder, technology, year):
        if locked == quantity_t:
            break
        part = take(state, block, min(block.quantity_t, quantity_t - locked))
        store(state, msgspec.structs.replace(part, status="locked", order=order), block)
        locked += part.quantity_t
    return locked


def locked_in(view: StateReader, order: int) -> list[SerialBlock]:
    """The blocks locked in ``order``, in serial order."""
    return _blocks(view, keys.locked_in(order))


def deliver(state: StateWriter, order: int, quantity_t: int, to: str) -> list[str]:
    """Make the order's first ``quantity_t`` locked tonnes active, held by ``to``; returns the
    serials delivered (the order holds at least that many: the exchange keeps count)."""
    serials = []
    left = quantity_t
    for block in locked_in(state, order):
        if left == 0:
            break
        part = take(state, block, min(block.quantity_t, left))
        moved = msgspec.structs.replace(part, status="active", holder=to, order=None)
        store(state, moved, block)
        serials.append(moved.serial())
        left -= part.quantity_t
    if left:  # the exchange locks what it delivers; this is a bug, not input
        raise AssertionError(f"order {order} holds {quantity_t - left} t, not {quantity_t} t")
    return serials


def unlock(state: StateWriter, order: int) -> int:
    """Give every block still locked in ``order`` back to its seller; returns the tonnes."""
    freed = 0
    for block in locked_in(state, order):
        store(state, msgspec.structs.replace(block, status="active", order=None), block)
        freed += block.quantity_t
    return freed
