"""The plausibility parameters: read by every batch, set by an operator."""

from __future__ import annotations

from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.metering import keys
from gridledger.contracts.metering.errors import InvalidParams
from gridledger.contracts.metering.records import Params
from gridledger.state.state import StateReader, StateWriter


def params(view: StateReader) -> Params:
    """The parameters in force (the defaults until an operator sets them)."""
    return view.get_record(keys.params(), Params) or Params()


class SetParams(Body):
    generation_margin_pct: Int64
    degradation_permille_per_year: Int64

    def check(self) -> None:
        if not 100 <= self.generation_margin_pct <= 200:
            raise InvalidParams
        if not 0 <= self.degradation_permille_per_year <= 100:
            raise InvalidParams


@kind("metering.set_params", SetParams, roles=("operator",))
def apply_set_params(state: StateWriter, ctx: Context, body: SetParams) -> None:
    """Set the plausibility parameters (operators)."""
    value = Params(
        generation_margin_pct=body.generation_margin_pct,
        degradation_permille_per_year=body.degradation_permille_per_year,
    )
    state.put(keys.params(), value)
    ctx.emit(
        "metering.params_set",
        degradation_permille_per_year=value.degradation_permille_per_year,
        generation_margin_pct=value.generation_margin_pct,
    )
