"""The market's rules and the grid's tariffs: read by every order, clearing and settlement,
set by the operator (``market.set_params``) and a grid operator (``market.set_tariffs``); and
the limits every body is checked against."""

from __future__ import annotations

import msgspec

from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.market import keys
from gridledger.contracts.market.errors import (
    InvalidParams,
    InvalidPreference,
    InvalidPrice,
    InvalidQuantity,
    NoTariffs,
)
from gridledger.contracts.market.matching import MECHANISMS
from gridledger.contracts.market.records import (
    MAX_ENERGY_WH,
    MAX_PREFERRED,
    MAX_PRICE_FEN_PER_KWH,
    Params,
    Tariffs,
)
from gridledger.contracts.registry import INTERVALS_S
from gridledger.state.state import StateReader, StateWriter


def params(view: StateReader) -> Params:
    """The rules in force (the defaults until the operator sets them)."""
    return view.get_record(keys.params(), Params) or Params()


def tariffs(view: StateReader) -> Tariffs | None:
    """The grid tariffs, or ``None`` before a grid operator has set them."""
    return view.get_record(keys.tariffs(), Tariffs)


def require_tariffs(view: StateReader) -> Tariffs:
    """The grid tariffs, or :class:`NoTariffs`."""
    found = tariffs(view)
    if found is None:
        raise NoTariffs
    return found


# the limits of a body --------------------------------------------------------------------------
def check_quantity(energy_wh: int, what: str = "quantity_wh") -> None:
    if not 1 <= energy_wh <= MAX_ENERGY_WH:
        raise InvalidQuantity(
            f"{what} {energy_wh} must be a whole number of Wh from 1 to {MAX_ENERGY_WH}"
        )


def check_price(price: int, what: str = "price") -> None:
    if not 1 <= price <= MAX_PRICE_FEN_PER_KWH:
        raise InvalidPrice(f"{what} {price} must be fen per kWh from 1 to {MAX_PRICE_FEN_PER_KWH}")


RULES_VERSION = 2
"""The market's rules this software starts new chains with (genesis ``market_rules``):

1. the first rules: a bid's escrow is held until settlement, and every grid bill is rounded
   down on its own;
2. clearing gives back the escrow a bid holds beyond what its pairings can cost, and grid bills
   carry what they leave below a fen to the asset's next bill.

A chain keeps the version it started with, so its history re-executes as it was made."""


def rules_version(view: StateReader) -> int:
    """The version of the market's rules this chain runs (1 when its genesis names none)."""
    return view.get_int(keys.rules_version()) or 1


def set_rules_version(state: StateWriter, version: int) -> None:
    """Record the genesis ``market_rules`` (only versions after the first are written)."""
    if not 1 <= version <= RULES_VERSION:
        raise ValueError(f"market rules version {version} is unknown (1 to {RULES_VERSION})")
    if version > 1:
        state.set_int(keys.rules_version(), version)


def check_preferred(preferred: list[str]) -> None:
    if len(preferred) > MAX_PREFERRED or len(set(preferred)) != len(preferred):
        raise InvalidPreference(
            f"preferred names up to {MAX_PREFERRED} distinct plants, got {preferred!r}"
        )


# the kinds -------------------------------------------------------------------------------------
class SetParams(Body):
    """The parameters to change; those left out keep their current value."""

    interval_s: Int64 | None = None
    mechanism: str | None = None
    gate_closure_s: Int64 | None = None
    horizon_s: Int64 | None = None
    data_deadline_s: Int64 | None = None
    clear_window_s: Int64 | None = None

    def check(self) -> None:
        if self.interval_s is not None and self.interval_s not in INTERVALS_S:
            raise InvalidParams("interval_s must be 900, 3600 or 86400")
        if self.mechanism is not None and self.mechanism not in MECHANISMS:
            raise InvalidParams(f"mechanism must be one of {', '.join(MECHANISMS)}")
        if self.gate_closure_s is not None and not 0 <= self.gate_closure_s <= 86_400:
            raise InvalidParams("gate_closure_s must be 0 to 86400")
        if self.horizon_s is not None and not 900 <= self.horizon_s <= 366 * 86_400:
            raise InvalidParams("horizon_s must be from 900 s to 366 days")
        if self.data_deadline_s is not None and not 0 <= self.data_deadline_s <= 31 * 86_400:
            raise InvalidParams("data_deadline_s must be 0 to 31 days")
        if self.clear_window_s is not None and not 3600 <= self.clear_window_s <= 366 * 86_400:
            raise InvalidParams("clear_window_s must be from one hour to 366 days")


@kind("market.set_params", SetParams, roles=("operator",))
def apply_set_params(state: StateWriter, ctx: Context, body: SetParams) -> None:
    """Change the interval length, clearing mechanism or time rules (market operator)."""
    given = {
        name: value
        for name in Params.__struct_fields__
        if (value := getattr(body, name)) is not None
    }
    # the body's checks hold each value to the record's type (a mechanism is one of MECHANISMS)
    value = msgspec.convert({**msgspec.structs.asdict(params(state)), **given}, Params)
    if value.horizon_s < value.interval_s:
        raise InvalidParams(
            f"horizon_s {value.horizon_s} is shorter than one interval ({value.interval_s} s)"
        )
    state.put(keys.params(), value)
    ctx.emit("market.params_set", **msgspec.structs.asdict(value))


class SetTariffs(Body):
    sell_price: Int64
    """What the grid charges per kWh it supplies (fen)."""
    feed_in_price: Int64
    """What the grid pays per kWh fed in (fen)."""

    def check(self) -> None:
        check_price(self.sell_price, "sell_price")
        if not 0 <= self.feed_in_price <= MAX_PRICE_FEN_PER_KWH:
            raise InvalidPrice(f"feed_in_price must be 0 to {MAX_PRICE_FEN_PER_KWH}")


@kind("market.set_tariffs", SetTariffs, roles=("grid_operator",))
def apply_set_tariffs(state: StateWriter, ctx: Context, body: SetTariffs) -> None:
    """Set the grid's selling and feed-in rates; the sender becomes the market maker."""
    value = Tariffs(
        grid_account=ctx.sender,
        sell_price_fen_per_kwh=body.sell_price,
        feed_in_price_fen_per_kwh=body.feed_in_price,
        height=ctx.height,
    )
    state.put(keys.tariffs(), value)
    ctx.emit(
        "market.tariffs_set",
        feed_in_price=body.feed_in_price,
        grid_account=ctx.sender,
        height=ctx.height,
        sell_price=body.sell_price,
    )
