"""Instruments: what an order buys or sells, and the asset leg of locking and delivery.

An instrument id is one of:

* ``allowances:<period>``: allowances of the compliance period ``<period>`` (their vintage),
  an opened period's id;
* ``credits:<technology>:<year>``: credits of projects whose plant is ``<technology>``
  (geothermal, hydro, solar_pv, wind_offshore, wind_onshore) and whose monitoring period
  starts in ``<year>`` (four digits, 2000-2999, UTC).

The funds leg is the same for every instrument: a buy order holds ``price * quantity`` fen in
funds escrow (:func:`gridledger.contracts.funds.hold`) and pays from it.
"""

from __future__ import annotations

from gridledger.contracts import allowances, credits, funds, registry
from gridledger.contracts.credits.projects import ELIGIBLE
from gridledger.contracts.exchange import keys
from gridledger.contracts.exchange.errors import (
    InsufficientAllowances,
    InsufficientCredits,
    InsufficientFunds,
    UnknownInstrument,
)
from gridledger.contracts.exchange.records import Instrument, Order
from gridledger.state.state import StateReader, StateWriter

YEARS = range(2000, 3000)


def parse(instrument_id: str) -> Instrument:
    """The instrument an id names (not yet checked against state).

    Raises:
        UnknownInstrument: the id has neither form.
    """
    parts = instrument_id.split(":")
    if len(parts) == 2 and parts[0] == "allowances" and registry.ID_RE.match(parts[1]):
        return Instrument(id=instrument_id, asset="allowances", period=parts[1])
    if len(parts) == 3 and parts[0] == "credits" and parts[1] in ELIGIBLE:
        year = parts[2]
        if len(year) == 4 and year.isascii() and year.isdigit() and int(year) in YEARS:
            return Instrument(id=instrument_id, asset="credits", technology=parts[1],
                              year=int(year))  # fmt: skip
    raise UnknownInstrument(f"{instrument_id!r} is not an instrument")


def require(view: StateReader, instrument_id: str) -> Instrument:
    """The instrument with its totals so far (zeros before its first order).

    Raises:
        UnknownInstrument: not an instrument id, or an allowance period not opened.
    """
    spec = parse(instrument_id)
    if spec.period is not None and allowances.get_period(view, spec.period) is None:
        raise UnknownInstrument(f"no compliance period {spec.period!r}")
    return view.get_record(keys.instrument(instrument_id), Instrument) or spec


def lock(state: StateWriter, spec: Instrument, order: Order) -> None:
    """Lock what ``order`` offers: a buy's fen, a sell's allowances or credits.

    Raises:
        InsufficientFunds, InsufficientAllowances, InsufficientCredits.
    """
    if order.side == "buy":
        cost = order.price_fen_per_t * order.quantity_t
        have = funds.balance_of(state, order.account)
        if have < cost:
            raise InsufficientFunds(f"{order.account} holds {have} fen; the order locks {cost}")
        funds.hold(state, order.account, cost)
    elif spec.period is not None:
        have = allowances.balance(state, spec.period, order.account)
        if have < order.quantity_t:
            raise InsufficientAllowances(
                f"{order.account} holds {have} t of {spec.period}, offers {order.quantity_t} t"
            )
        allowances.trading.lock(state, spec.period, order.account, order.quantity_t)
    else:
        assert spec.technology is not None  # parsed so
        assert spec.year is not None
        got = credits.trading.lock(state, order.account, spec.technology, spec.year,
                                   order.quantity_t, order.id)  # fmt: skip
        if got < order.quantity_t:
            raise InsufficientCredits(
                f"{order.account} holds {got} t of active {spec.technology} credits of "
                f"{spec.year}, offers {order.quantity_t} t"
            )


def release(state: StateWriter, spec: Instrument, order: Order) -> None:
    """Give back what ``order`` still locks for its ``remaining_t`` (it is closing)."""
    if order.side == "buy":
        funds.release(state, order.account, order.price_fen_per_t * order.remaining_t)
    elif spec.period is not None:
        allowances.trading.unlock(state, spec.period, order.account, order.remaining_t)
    else:
        credits.trading.unlock(state, order.id)


def deliver(state: StateWriter, spec: Instrument, sell: Order, quantity_t: int,
            to: str) -> list[str]:  # fmt: skip
    """The asset leg of a trade: ``quantity_t`` of what ``sell`` locked, to the buyer; the
    credit serials delivered (none for allowances)."""
    if spec.period is not None:
        allowances.trading.deliver(state, spec.period, sell.account, quantity_t, to)
        return []
    return credits.trading.deliver(state, sell.id, quantity_t, to)
