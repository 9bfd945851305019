"""Reading, finding, splitting and writing serial blocks, keeping the holdings index in step.

Every unit a project issued lies in exactly one block, and a block is in exactly one state:
splitting writes two blocks that partition the old one's units, and every write goes
through :func:`store`, which moves the holder's index entry (and a locked block's entry in
its order's index) with the block.
"""

from __future__ import annotations

import msgspec

from gridledger.contracts.credits import keys
from gridledger.contracts.credits.errors import BadQuantity, UnknownSerial
from gridledger.contracts.credits.records import REGISTRY, UNIT, SerialBlock
from gridledger.state.state import StateReader, StateWriter, decode_record

SERIAL_PARTS = 9


def store(state: StateWriter, block: SerialBlock, before: SerialBlock | None) -> None:
    """Write ``block`` (replacing ``before``, the record it was read as, if any) and move the
    holdings index with it."""
    if before is not None and before.status == "active" and before.holder is not None:
        state.delete(keys.held(before.holder, before.number, before.first))
    if before is not None and before.status == "locked" and before.order is not None:
        state.delete(keys.locked(before.order, before.number, before.first))
    state.put(keys.block(block.number, block.first), block)
    if block.status == "active" and block.holder is not None:
        state.set(keys.held(block.holder, block.number, block.first), b"1")
    if block.status == "locked" and block.order is not None:
        state.set(keys.locked(block.order, block.number, block.first), b"1")


def take(state: StateWriter, block: SerialBlock, quantity_t: int | None) -> SerialBlock:
    """The first ``quantity_t`` units of ``block`` as a block of their own (the whole block
    when ``None`` or all of it), not yet written; the units after them are written at once as
    a new block in the same state.

    Raises:
        BadQuantity: not a positive number of tonnes within the block.
    """
    if quantity_t is None or quantity_t == block.quantity_t:
        return block
    if not 0 < quantity_t < block.quantity_t:
        raise BadQuantity(f"{quantity_t} t of a block of {block.quantity_t} t")
    store(state, msgspec.structs.replace(block, first=block.first + quantity_t), None)
    return msgspec.structs.replace(block, last=block.first + quantity_t - 1)


def get_block(view: StateReader, number: int, first: int) -> SerialBlock | None:
    return view.get_record(keys.block(number, first), SerialBlock)


def parse_serial(serial: str) -> tuple[int, int, int]:
    """The project number, first and last unit a serial names (``ValueError`` if it is not
    one)."""
    parts = serial.split("-")
    if len(parts) != SERIAL_PARTS or parts[0] != REGISTRY or parts[1] != UNIT:
        raise ValueError(serial)
    if not all(p.isascii() and p.isdigit() for p in (parts[3], parts[7], parts[8])):
        raise ValueError(serial)
    return int(parts[3]), int(parts[7]), int(parts[8])


def find(view: StateReader, serial: str) -> SerialBlock:
    """The block whose serial is exactly ``serial``.

    Raises:
        UnknownSerial: no block has it (a split block's serial names its parts now).
    """
    try:
        number, first, _ = parse_serial(serial)
    except ValueError:
        raise UnknownSerial(f"{serial!r} is not a serial") from None
    found = get_block(view, number, first)
    if found is None or found.serial() != serial:
        raise UnknownSerial(f"no block {serial}")
    return found


def block_of_unit(view: StateReader, number: int, unit: int) -> SerialBlock | None:
    """The block holding unit ``unit`` of project ``number``, if it was issued."""
    prefix = keys.blocks_of(number)
    for _, raw in view.scan_range(prefix, b"", keys.unit_part(unit + 1), limit=1, reverse=True):
        found = decode_record(raw, SerialBlock)
        return found if found.first <= unit <= found.last else None
    return None
