"""An interval's record and its time window: the one rule for when an interval takes orders,
can be cleared and can be settled.

For an interval starting at ``S`` of length ``L`` (its record's ``interval_s``, or the market's
for an interval without one) and block time ``t`` (Unix seconds, as milliseconds in the
block):

* orders (placing and cancelling) while ``t < S - gate_closure_s``, the interval is open, it
  has not ended (``t < S + L``) and ``S <= t + horizon_s``;
* clearing once ``t >= S - gate_closure_s``, while it is open and has not ended more than
  ``clear_window_s`` before ``t`` (older intervals are refused: nothing old can be cleared
  into the ledger; settlement needs a cleared interval, so none can be settled either);
* settlement once it is cleared and has ended (``t >= S + L``); the meter data rule comes
  on top (:mod:`.settlement`).

``S`` must be a multiple of ``L`` (UTC-aligned); an interval with a record is aligned by
construction.
"""

from __future__ import annotations

from typing import Literal

from gridledger.contracts.base import Body, Int64
from gridledger.contracts.market import keys
from gridledger.contracts.market.errors import (
    AlreadyCleared,
    AlreadySettled,
    CutoffNotReached,
    DataNotFinal,
    IntervalClosed,
    IntervalPast,
    IntervalTooOld,
    InvalidInterval,
    NotCleared,
    TooFarAhead,
)
from gridledger.contracts.market.parameters import params
from gridledger.contracts.market.records import Interval, Params
from gridledger.state.state import StateReader

Step = Literal["order", "clear", "settle"]
"""What a transaction does to an interval: place or cancel an order, clear it, settle it."""


class IntervalRef(Body):
    interval: Int64
    """Start of the interval, Unix seconds UTC."""


def get_interval(view: StateReader, start_s: int) -> Interval | None:
    """The interval's record, or ``None`` before its first order or clearing."""
    return view.get_record(keys.interval(start_s), Interval)


def open_interval(start_s: int, rules: Params) -> Interval:
    """The record an interval without one gets: open, of the market's current length."""
    return Interval(start_s=start_s, interval_s=rules.interval_s, status="open")


def interval_for(
    view: StateReader, start_s: int, time_ms: int, step: Step
) -> tuple[Interval, Params, bool]:
    """The interval's record if ``step`` may act on it at block time ``time_ms``, with the rules
    in force and whether the record is new (not stored yet).

    Raises:
        InvalidInterval: the start is not aligned (an interval without a record).
        IntervalPast, IntervalClosed, TooFarAhead: ``order`` outside the order window.
        AlreadyCleared, CutoffNotReached, IntervalTooOld: ``clear`` of a cleared interval,
            before gate closure, or after the clearing window.
        NotCleared, AlreadySettled, DataNotFinal: ``settle`` of an interval not cleared, settled
            already, or not ended yet.
    """
    rules = params(view)
    record = get_interval(view, start_s)
    new = record is None
    if record is None:
        if step == "settle":
            raise NotCleared(f"interval {start_s} has not been cleared")
        record = open_interval(start_s, rules)
        if start_s < 0 or start_s % record.interval_s:
            raise InvalidInterval(f"interval {start_s} is not aligned to {record.interval_s} s")
    end_ms = (start_s + record.interval_s) * 1000
    gate_ms = (start_s - rules.gate_closure_s) * 1000
    if step == "order":
        if end_ms <= time_ms:
            raise IntervalPast(f"interval {start_s} ended before block time {time_ms // 1000}")
        if record.status != "open":
            raise IntervalClosed(f"interval {start_s} is {record.status}")
        if time_ms >= gate_ms:
            raise IntervalClosed(f"interval {start_s} closed for orders at {gate_ms // 1000}")
        if start_s * 1000 > time_ms + rules.horizon_s * 1000:
            raise TooFarAhead(f"interval {start_s} is beyond the {rules.horizon_s} s horizon")
    elif step == "clear":
        if record.status != "open":
            raise AlreadyCleared(f"interval {start_s} is {record.status}")
        if time_ms < gate_ms:
            raise CutoffNotReached(f"interval {start_s} closes for orders at {gate_ms // 1000}")
        if end_ms + rules.clear_window_s * 1000 < time_ms:
            raise IntervalTooOld(
                f"interval {start_s} ended more than {rules.clear_window_s} s before block time "
                f"{time_ms // 1000}"
            )
    else:
        if record.status == "open":
            raise NotCleared(f"interval {start_s} has not been cleared")
        if record.status == "settled":
            raise AlreadySettled(
                f"interval {start_s} was settled at height {record.settled_height}"
            )
        if time_ms < end_ms:
            raise DataNotFinal(f"interval {start_s} has not ended (it ends at {end_ms // 1000})")
    return record, rules, new


def gate_closure_s(start_s: int, rules: Params) -> int:
    """When an interval stops taking orders, Unix seconds."""
    return start_s - rules.gate_closure_s
