"""Bills of materials: what a batch in production consumed of other batches.

``products.consume`` (the output batch's manufacturer): ``{"gtin", "lot", "inputs": [{"gtin",
"lot", "quantity"}]}``: 1-100 inputs, each batch once, each quantity a positive integer in
the input's unit, taken from the manufacturer's own stock of it (what it made or received):
more than that is refused (``products.over_consumption``) and nothing moves. The batch must
still be in production. The quantities add up over several consumptions of the same input.
"""

from __future__ import annotations

from gridledger.contracts import registry
from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.products import keys
from gridledger.contracts.products.common import (
    check_gtin,
    check_part,
    manufacturer,
    require_batch,
    set_stock,
    stock_of,
)
from gridledger.contracts.products.errors import (
    BadQuantity,
    InvalidIdentifier,
    NotInProduction,
    OverConsumption,
)
from gridledger.core.encoding import INT_MAX
from gridledger.state.state import StateReader, StateWriter

MAX_INPUTS = 100


class InputLine(Body):
    gtin: str
    lot: str
    quantity: Int64


class Consume(Body):
    gtin: str
    lot: str
    inputs: list[InputLine]

    def check(self) -> None:
        check_gtin(self.gtin)
        check_part(self.lot, "lot")
        if not 1 <= len(self.inputs) <= MAX_INPUTS:
            raise InvalidIdentifier(f"a consumption lists 1-{MAX_INPUTS} inputs")
        seen = set()
        for line in self.inputs:
            check_gtin(line.gtin)
            check_part(line.lot, "input lot")
            if line.quantity <= 0:
                raise BadQuantity(f"input {line.gtin} lot {line.lot}: a positive quantity")
            if (line.gtin, line.lot) in seen:
                raise InvalidIdentifier(f"input {line.gtin} lot {line.lot} is listed twice")
            seen.add((line.gtin, line.lot))


def bill_of_materials(view: StateReader, gtin: str, lot: str) -> list[tuple[str, str, int]]:
    """``(input gtin, input lot, quantity consumed)`` of a batch, in input order."""
    prefix = keys.bom_of(gtin, lot)
    out = []
    for k, raw in view.scan(prefix):
        input_gtin, input_lot = k[len(prefix) :].decode().split("/", 1)
        out.append((input_gtin, input_lot, int(raw)))
    return out


def used_in(view: StateReader, gtin: str, lot: str) -> list[tuple[str, str, int]]:
    """``(gtin, lot, quantity)`` of the batches that consumed the batch, in their order."""
    prefix = keys.uses_of(gtin, lot)
    out = []
    for k, raw in view.scan(prefix):
        out_gtin, out_lot = k[len(prefix) :].decode().split("/", 1)
        out.append((out_gtin, out_lot, int(raw)))
    return out


@kind("products.consume", Consume)
def apply_consume(state: StateWriter, ctx: Context, body: Consume) -> None:
    """Record input batches a batch in production consumed (its manufacturer)."""
    batch = require_batch(state, body.gtin, body.lot)
    manufacturer(state, ctx, batch.org, f"batch {body.gtin} lot {body.lot}")
    if batch.status != "in_production":
        raise NotInProduction(f"batch {body.gtin} lot {body.lot} was completed")
    org = registry.sender_org(state, ctx)
    for line in sorted(body.inputs, key=lambda x: (x.gtin, x.lot)):
        source = require_batch(state, line.gtin, line.lot)
        held = stock_of(state, line.gtin, line.lot, org)
        if line.quantity > held:
            raise OverConsumption(
                f"{org} holds {held} of batch {line.gtin} lot {line.lot}, not {line.quantity}"
            )
        set_stock(state, line.gtin, line.lot, org, held - line.quantity)
        source.consumed += line.quantity
        state.put(keys.batch(line.gtin, line.lot), source)
        line_key = keys.bom_line(body.gtin, body.lot, line.gtin, line.lot)
        total = state.get_int(line_key) + line.quantity
        if total > INT_MAX:  # never: stock is within 64 bits
            raise BadQuantity("a consumed quantity beyond 64 bits")
        state.set_int(line_key, total)
        state.set_int(keys.used_by(line.gtin, line.lot, body.gtin, body.lot), total)
    ctx.emit("products.consumed", gtin=body.gtin, lot=body.lot, inputs=len(body.inputs))
