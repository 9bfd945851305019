"""Corrections: a grid operator's corrected value beside a reading, which stays as reported."""

from __future__ import annotations

from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.metering import keys
from gridledger.contracts.metering.errors import NegativeEnergy, UnknownReading
from gridledger.contracts.metering.records import Correction, Reading
from gridledger.core.errors import InvalidBody
from gridledger.state.state import StateWriter


class Correct(Body):
    meter: str
    start: Int64
    """Interval start of the reading, Unix seconds UTC."""
    energy_wh: Int64
    reason: str

    def check(self) -> None:
        if self.energy_wh < 0:
            raise NegativeEnergy(f"energy_wh {self.energy_wh} is negative")
        if not 1 <= len(self.reason) <= 256:
            raise InvalidBody("a correction gives a reason of 1-256 characters")


@kind("metering.correct", Correct, roles=("grid_operator",))
def apply_correct(state: StateWriter, ctx: Context, body: Correct) -> None:
    """Record a corrected value beside a reading, keeping the original (grid operators)."""
    original = state.get_record(keys.reading(body.meter, body.start), Reading)
    if original is None:
        raise UnknownReading(f"meter {body.meter!r} has no reading for {body.start}")
    correction = Correction(
        energy_wh=body.energy_wh,
        original_wh=original.energy_wh,
        reason=body.reason,
        by=ctx.sender,
        height=ctx.height,
    )
    state.put(keys.correction(body.meter, body.start), correction)
    ctx.emit(
        "metering.reading_corrected",
        meter=body.meter,
        start=body.start,
        energy_wh=body.energy_wh,
        original_wh=original.energy_wh,
    )
