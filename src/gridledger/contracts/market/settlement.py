"""``market.settle``: settle a cleared interval against its meter data, and
``market.pay_arrears``.

Settlement reads what each order's meters measured over the interval
(:func:`gridledger.contracts.metering.measured_wh`), shares it over the pairings
(:func:`~.matching.deliver`), pays each delivery from the consumer's escrow at the pairing's
price, releases the rest of every escrow, and settles what the pairings did not cover with the
grid at the interval's tariffs: a site's shortfall as an import, a plant's surplus as an export.
A payer whose balance falls short pays what it holds; the rest becomes arrears.

**Grid bills carry their remainder** (market rules 2 on). Each grid settlement (a bill) is
rounded down to whole fen, and what it left (``energy_wh * price % 1000``, thousandths of a
fen) is carried to the asset's next bill in the same direction (:func:`grid_bill`). So
however many hourly bills a month holds, they add up to the tariff times the energy to within
one fen, instead of losing up to a fen on every bill.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from gridledger.contracts import certificates, funds, metering
from gridledger.contracts.base import Body, Context, kind
from gridledger.contracts.market import keys
from gridledger.contracts.market.errors import DataNotFinal, NoArrears
from gridledger.contracts.market.intervals import IntervalRef, interval_for
from gridledger.contracts.market.keys import Direction
from gridledger.contracts.market.matching import Pairing as Paired
from gridledger.contracts.market.matching import cost_minor, deliver
from gridledger.contracts.market.parameters import rules_version
from gridledger.contracts.market.records import (
    GridSettlement,
    Interval,
    IntervalSettlement,
    IntervalTariffs,
    Order,
    Pairing,
    Side,
)
from gridledger.core.encoding import canonical
from gridledger.core.errors import InvalidTransaction
from gridledger.state.state import StateReader, StateWriter

_order = msgspec.json.Decoder(Order).decode
_pairing = msgspec.json.Decoder(Pairing).decode


@dataclass
class _Inputs:
    """What a settlement reads before it writes: the interval, its participants, the escrow
    their bids hold, and what their meters measured."""

    record: Interval
    account_of: dict[Side, dict[str, str]]
    """Per side, each asset's account (the first order's): sites for bids, devices for
    offers."""
    held: dict[str, int]
    measured: dict[Side, dict[str, int]]
    """Per side, each asset's metered energy in the interval, Wh."""
    missing: list[str]


def _settlement_inputs(view: StateReader, start_s: int, time_ms: int) -> _Inputs:
    """The inputs of settling ``start_s`` at block time ``time_ms``, or the reason it cannot
    settle yet.

    Raises:
        NotCleared, AlreadySettled, DataNotFinal.
    """
    record, rules, _ = interval_for(view, start_s, time_ms, "settle")
    end = start_s + record.interval_s
    deadline = end + rules.data_deadline_s
    account_of: dict[Side, dict[str, str]] = {"bid": {}, "offer": {}}
    # by side and asset: a site and a device may share an id
    meters: dict[tuple[Side, str], set[str]] = {}
    held: dict[str, int] = {}
    for _, raw in view.scan(keys.orders(start_s)):
        o = _order(raw)
        account_of[o.side].setdefault(o.asset, o.account)
        meters.setdefault((o.side, o.asset), set()).update(o.meters)
        if o.escrow_fen:
            held[o.account] = held.get(o.account, 0) + o.escrow_fen
    measured: dict[Side, dict[str, int]] = {"bid": {}, "offer": {}}
    missing: list[str] = []
    for side, assets in account_of.items():
        for asset in sorted(assets):
            # the meters the orders recorded at placement, by id; the first one short of
            # readings is what the asset misses
            total, gap = 0, None
            for meter_id in sorted(meters[(side, asset)]):
                got = metering.measured_wh(view, "meter", meter_id, start_s, end)
                total += got.energy_wh
                if gap is None and got.missing:
                    gap = got.missing[0].describe()
            measured[side][asset] = total
            if gap is not None:
                missing.append(gap)
    if missing and time_ms < deadline * 1000:
        raise DataNotFinal(
            f"{missing[0]} for interval {start_s}; settlement waits for it until {deadline}"
        )
    return _Inputs(record, account_of, held, measured, missing)


def settlement_ready(view: StateReader, start_s: int, time_ms: int) -> bool:
    """Whether ``market.settle`` of ``start_s`` would be taken at block time ``time_ms``
    (cleared, not settled, ended, meter data final), without computing the settlement."""
    try:
        _settlement_inputs(view, start_s, time_ms)
    except InvalidTransaction:
        return False
    return True


def _pay(state: StateWriter, debtor: str, creditor: str, amount: int) -> int:
    """Pay what the debtor's balance covers; the rest becomes arrears. Returns the unpaid part."""
    paid = min(funds.balance_of(state, debtor), amount)
    if paid:
        funds.debit(state, debtor, paid)
        funds.credit(state, creditor, paid)
    unpaid = amount - paid
    if unpaid:
        key = keys.arrears(debtor, creditor)
        state.set_int(key, state.get_int(key) + unpaid)
    return unpaid


def _bump(totals: dict[str, int], key: str, amount: int) -> None:
    totals[key] = totals.get(key, 0) + amount


def grid_bill(
    state: StateWriter, direction: Direction, asset: str, energy_wh: int, price: int
) -> int:
    """Whole fen a grid bill of ``energy_wh`` at ``price`` fen per kWh comes to, with the
    asset's carried remainder added; the new remainder is carried to its next bill."""
    key = keys.grid_carry(direction, asset)
    carried = state.get_int(key)
    amount, left = divmod(energy_wh * price + carried, 1000)
    if left:
        state.set_int(key, left)
    elif carried:
        state.delete(key)
    return amount


def _settle_with_grid(
    state: StateWriter,
    start_s: int,
    tariffs: IntervalTariffs,
    inputs: _Inputs,
    shortfall: dict[Side, dict[str, int]],
) -> tuple[int, int, int, int, int]:
    """Settle each site's import and each plant's export with the grid, in asset order.

    Returns the Wh imported and exported, the fen due for each, and the fen left unpaid."""
    grid = tariffs.grid_account
    carry = rules_version(state) > 1
    out = [0, 0, 0, 0, 0]
    direction: dict[Side, Direction] = {"bid": "import", "offer": "export"}
    price = {"bid": tariffs.sell_price_fen_per_kwh, "offer": tariffs.feed_in_price_fen_per_kwh}
    sides: tuple[Side, Side] = ("bid", "offer")
    for k, side in enumerate(sides):
        accounts = inputs.account_of[side]
        for asset in sorted(accounts):
            account = accounts[asset]
            energy = shortfall[side][asset]
            amount = (
                grid_bill(state, direction[side], asset, energy, price[side])
                if carry
                else cost_minor(energy, price[side])
            )
            payer, payee = (account, grid) if side == "bid" else (grid, account)
            unpaid = _pay(state, payer, payee, amount)
            record = GridSettlement(
                asset=asset,
                account=account,
                direction=direction[side],
                energy_wh=energy,
                measured_wh=inputs.measured[side][asset],
                amount_fen=amount,
                unpaid_fen=unpaid,
            )
            state.put(keys.grid_settlement(start_s, direction[side], asset), record)
            out[k] += energy
            out[2 + k] += amount
            out[4] += unpaid
    return out[0], out[1], out[2], out[3], out[4]


@kind("market.settle", IntervalRef)
def apply_settle(state: StateWriter, ctx: Context, body: IntervalRef) -> None:
    """Settle a cleared interval against its meter data; the grid covers the differences."""
    start = body.interval
    inputs = _settlement_inputs(state, start, ctx.time_ms)
    record = inputs.record
    tariffs = record.tariffs
    assert tariffs is not None, "a cleared interval holds its tariffs"
    consumption, generation = inputs.measured["bid"], inputs.measured["offer"]
    prefix = keys.pairings(start)
    pairings = [_pairing(v) for _, v in state.scan(prefix)]
    result = deliver(
        [Paired(p.site, p.device, p.energy_wh) for p in pairings], generation, consumption
    )
    # clean deliveries, paid from the bids' escrow; the rest of every escrow is released
    paid_by: dict[str, int] = {}
    paid_to: dict[str, int] = {}
    for n, (p, wh) in enumerate(zip(pairings, result.delivered, strict=True)):
        amount = cost_minor(wh, p.price_fen_per_kwh)
        _bump(paid_by, p.consumer, amount)
        _bump(paid_to, p.producer, amount)
        p.delivered_wh = wh
        p.amount_fen = amount
        state.set(prefix + keys.pairing_number(n), canonical(p))
    if ctx.rules.allows_kind("certificates.issue"):  # chains made before certificates: unchanged
        end = start + record.interval_s
        for p in pairings:
            certificates.pairing_settled(
                state, ctx, pairing=p.id, producer=p.producer, consumer=p.consumer, site=p.site,
                device=p.device, interval_start_s=start, interval_end_s=end,
                delivered_wh=p.delivered_wh or 0,
            )  # fmt: skip
    for account in sorted(inputs.held):
        funds.release(state, account, inputs.held[account])
        if paid_by.get(account):
            funds.debit(state, account, paid_by[account])
    for account in sorted(paid_to):
        if paid_to[account]:
            funds.credit(state, account, paid_to[account])
    shortfall: dict[Side, dict[str, int]] = {
        "bid": result.grid_import,
        "offer": result.grid_export,
    }
    imported, exported, grid_paid, feed_in_paid, unpaid = _settle_with_grid(
        state, start, tariffs, inputs, shortfall
    )
    delivered = sum(result.delivered)
    settled = msgspec.structs.replace(
        record,
        status="settled",
        settled_at_s=ctx.time_s,
        settled_height=ctx.height,
        missing_data=inputs.missing,
        settlement=IntervalSettlement(
            consumption_wh=sum(consumption.values()),
            generation_wh=sum(generation.values()),
            delivered_wh=delivered,
            grid_import_wh=imported,
            grid_export_wh=exported,
            clean_paid_fen=sum(paid_to.values()),
            grid_paid_fen=grid_paid,
            feed_in_paid_fen=feed_in_paid,
            unpaid_fen=unpaid,
        ),
    )
    state.put(keys.interval(start), settled)
    ctx.emit(
        "market.settled",
        interval=start,
        delivered_wh=delivered,
        grid_import_wh=imported,
        grid_export_wh=exported,
        missing_data=len(inputs.missing),
    )


class PayArrears(Body):
    creditor: str


@kind("market.pay_arrears", PayArrears)
def apply_pay_arrears(state: StateWriter, ctx: Context, body: PayArrears) -> None:
    """Pay what settlements left owing to ``creditor``, as far as the balance covers."""
    key = keys.arrears(ctx.sender, body.creditor)
    owed = state.get_int(key)
    if owed == 0:
        raise NoArrears(f"{ctx.sender} owes nothing to {body.creditor}")
    paid = min(funds.balance_of(state, ctx.sender), owed)
    if paid == 0:
        raise funds.InsufficientBalance(f"{ctx.sender} holds nothing to pay {owed} owed")
    funds.debit(state, ctx.sender, paid)
    funds.credit(state, body.creditor, paid)
    if paid == owed:
        state.delete(key)
    else:
        state.set_int(key, owed - paid)
    ctx.emit("market.arrears_paid", creditor=body.creditor, amount=paid, left=owed - paid)
