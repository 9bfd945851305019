"""What holders and verifiers do with issued credits.

* ``credits.transfer`` (holder): ``{"serial", "to", "quantity_t"?}``: the block, or its first
  ``quantity_t`` units, to another registered account;
* ``credits.split`` (holder): ``{"serial", "quantity_t"}``: the block into its first
  ``quantity_t`` units and the rest, both kept;
* ``credits.retire`` (holder): ``{"serial", "quantity_t"?, "beneficiary", "reason",
  "claim_start_s", "claim_end_s"}``: used for good on a beneficiary's behalf for a claim
  period, recorded as a numbered :class:`~.records.Retirement`;
* ``credits.cancel`` (carbon verifier of another organisation than the project's):
  ``{"serial", "quantity_t"?, "reason"}``: invalidated (over-issuance, a reversal drawn from
  the buffer pool), never retired. Active and buffer credits may be cancelled.

A block addressed by a serial that was split since is not found (``credits.unknown_serial``):
its parts have serials of their own. Retired and cancelled credits never change again.
Credits locked in an open exchange sell order (:mod:`.trading`) are refused by all four
(``credits.locked``) until the order fills, is cancelled or expires.
"""

from __future__ import annotations

import msgspec

from gridledger.contracts import registry
from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.credits import keys
from gridledger.contracts.credits.blocks import find, store, take
from gridledger.contracts.credits.errors import (
    AlreadyCancelled,
    AlreadyRetired,
    BadQuantity,
    InBuffer,
    InvalidCancellation,
    InvalidRetirement,
    Locked,
    NotHolder,
)
from gridledger.contracts.credits.projects import not_own, require_project
from gridledger.contracts.credits.records import Retirement, SerialBlock
from gridledger.state.state import StateReader, StateWriter


def _quantity(quantity_t: int | None) -> None:
    if quantity_t is not None and quantity_t <= 0:
        raise BadQuantity(f"quantity_t {quantity_t}: a positive number of tonnes")


def _not_final(block: SerialBlock) -> None:
    if block.status == "retired":
        raise AlreadyRetired(f"{block.serial()} was retired (retirement {block.retirement})")
    if block.status == "cancelled":
        raise AlreadyCancelled(f"{block.serial()} was cancelled: {block.cancel_reason}")
    if block.status == "locked":
        raise Locked(f"{block.serial()} is offered in exchange order {block.order}")


def held_block(view: StateReader, holder: str, serial: str) -> SerialBlock:
    """The active block ``serial`` if ``holder`` holds it.

    Raises:
        UnknownSerial, AlreadyRetired, AlreadyCancelled, Locked, InBuffer, NotHolder.
    """
    block = find(view, serial)
    _not_final(block)
    if block.status == "buffer":
        raise InBuffer(f"{serial} is in the buffer pool")
    if block.holder != holder:
        raise NotHolder(f"{serial} is held by {block.holder}, not {holder}")
    return block


class Transfer(Body):
    serial: str
    to: str
    quantity_t: Int64 | None = None

    def check(self) -> None:
        _quantity(self.quantity_t)


@kind("credits.transfer", Transfer)
def apply_transfer(state: StateWriter, ctx: Context, body: Transfer) -> None:
    """Transfer a block of credits, or its first tonnes, to another account (its holder)."""
    block = held_block(state, ctx.sender, body.serial)
    registry.require_exists(state, body.to)
    moved = take(state, block, body.quantity_t)
    moved_to = msgspec.structs.replace(moved, holder=body.to)
    store(state, moved_to, block)
    ctx.emit("credits.transferred", serial=moved_to.serial(), to=body.to,
             quantity_t=moved_to.quantity_t)  # fmt: skip


class Split(Body):
    serial: str
    quantity_t: Int64

    def check(self) -> None:
        _quantity(self.quantity_t)


@kind("credits.split", Split)
def apply_split(state: StateWriter, ctx: Context, body: Split) -> None:
    """Split a block into its first ``quantity_t`` tonnes and the rest (its holder)."""
    block = held_block(state, ctx.sender, body.serial)
    if body.quantity_t >= block.quantity_t:
        raise BadQuantity(f"split {body.quantity_t} t off a block of {block.quantity_t} t")
    first = take(state, block, body.quantity_t)
    store(state, first, block)
    ctx.emit("credits.split", serial=first.serial(), quantity_t=first.quantity_t)


class Retire(Body):
    serial: str
    beneficiary: str
    reason: str
    claim_start_s: Int64
    claim_end_s: Int64
    quantity_t: Int64 | None = None

    def check(self) -> None:
        _quantity(self.quantity_t)
        if not 1 <= len(self.beneficiary) <= 128:
            raise InvalidRetirement("beneficiary is 1-128 characters")
        if not 1 <= len(self.reason) <= 256:
            raise InvalidRetirement("reason is 1-256 characters")
        if not 0 <= self.claim_start_s < self.claim_end_s:
            raise InvalidRetirement("the claim period starts before it ends, at 0 or later")


def retire_units(state: StateWriter, ctx: Context, block: SerialBlock, body: Retire,
                 compliance_period: str | None = None) -> Retirement:  # fmt: skip
    """Retire ``block`` (or its first ``body.quantity_t``), already checked to be held by
    the sender, and record the retirement."""
    used = take(state, block, body.quantity_t)
    n = state.get_int(keys.retirement_count()) + 1
    state.set_int(keys.retirement_count(), n)
    retired = msgspec.structs.replace(used, status="retired", retirement=n)
    store(state, retired, block)
    record = Retirement(
        id=n, serial=retired.serial(), project=retired.project, quantity_t=retired.quantity_t,
        holder=ctx.sender, beneficiary=body.beneficiary, reason=body.reason,
        claim_start_s=body.claim_start_s, claim_end_s=body.claim_end_s, time_s=ctx.time_s,
        height=ctx.height, compliance_period=compliance_period,
    )  # fmt: skip
    state.put(keys.retirement(n), record)
    ctx.emit("credits.retired", retirement=n, serial=record.serial, quantity_t=record.quantity_t,
             beneficiary=body.beneficiary)  # fmt: skip
    return record


@kind("credits.retire", Retire)
def apply_retire(state: StateWriter, ctx: Context, body: Retire) -> None:
    """Retire credits for a beneficiary, with a reason and the period claimed (their holder)."""
    retire_units(state, ctx, held_block(state, ctx.sender, body.serial), body)


class Cancel(Body):
    serial: str
    reason: str
    quantity_t: Int64 | None = None

    def check(self) -> None:
        _quantity(self.quantity_t)
        if not 1 <= len(self.reason) <= 256:
            raise InvalidCancellation("reason is 1-256 characters")


@kind("credits.cancel", Cancel, roles=("carbon_verifier",))
def apply_cancel(state: StateWriter, ctx: Context, body: Cancel) -> None:
    """Cancel (invalidate) active or buffer credits with a reason (carbon verifiers)."""
    block = find(state, body.serial)
    _not_final(block)
    not_own(state, ctx, require_project(state, block.project))
    gone = take(state, block, body.quantity_t)
    cancelled = msgspec.structs.replace(
        gone,
        status="cancelled",
        cancel_reason=body.reason,
        cancelled_by=ctx.sender,
        cancelled_height=ctx.height,
    )
    store(state, cancelled, block)
    ctx.emit("credits.cancelled", serial=cancelled.serial(), quantity_t=cancelled.quantity_t)
