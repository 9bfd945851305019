"""The market's records: what it stores under the keys of :mod:`.keys`, and what its queries
return besides them.

Units are in the field names: energy in Wh, prices in fen per kWh, money in fen (the chain
currency's minor unit), times in Unix seconds (UTC), heights in blocks. A pairing of
``energy_wh`` at ``price_fen_per_kwh`` costs ``energy_wh * price_fen_per_kwh // 1000`` fen
(:func:`~.matching.cost_minor`).

Orders and pairings, the market's bulk records (a hundred thousand in one interval), are
``array_like``: stored as JSON arrays in field order, which encode and decode several times
faster than objects.
"""

from __future__ import annotations

from typing import Literal

from gridledger.contracts.base import Record
from gridledger.contracts.market.keys import Direction
from gridledger.contracts.market.matching import Stage

Mechanism = Literal["pay_as_clear", "pay_as_bid", "preferred_first"]
Side = Literal["bid", "offer"]
Source = Literal["single", "standing"]
Status = Literal["open", "cleared", "settled"]
Choice = Literal["clean", "grid"]

MAX_ENERGY_WH = 10**10
"""10 GWh in one order: more than any plant delivers in a day."""
MAX_PRICE_FEN_PER_KWH = 10**7
"""100,000 currency units per kWh."""
MAX_PREFERRED = 10
"""Plants a bid or a preference may name."""


class Params(Record):
    """The market's rules (``market/params``; these defaults until an operator sets them).

    Attributes:
        interval_s: Length of a market interval, s: 900, 3600 or 86400.
        mechanism: How intervals clear: pay_as_clear, pay_as_bid or preferred_first.
        gate_closure_s: Orders close this many seconds before an interval starts.
        horizon_s: Orders may be placed this many seconds ahead of an interval's start.
        data_deadline_s: How long after an interval ends settlement waits for missing meter
            data, s.
        clear_window_s: How long after an interval ends it may still be cleared, s; older
            intervals are refused, so nobody can fill the ledger with intervals from long ago.
    """

    interval_s: int = 3600
    mechanism: Mechanism = "pay_as_clear"
    gate_closure_s: int = 300
    horizon_s: int = 7 * 86_400
    data_deadline_s: int = 86_400
    clear_window_s: int = 7 * 86_400


class IntervalTariffs(Record):
    """The grid's prices as market maker.

    Attributes:
        grid_account: The grid operator account that sells and buys what the market leaves.
        sell_price_fen_per_kwh: What the grid charges for energy it supplies, fen per kWh.
        feed_in_price_fen_per_kwh: What the grid pays for energy fed in, fen per kWh.
    """

    grid_account: str
    sell_price_fen_per_kwh: int
    feed_in_price_fen_per_kwh: int


class Tariffs(IntervalTariffs):
    """The grid tariffs in force (``market/tariffs``), set by a grid operator, who becomes the
    market maker.

    Attributes:
        height: The block that set them.
    """

    height: int


class Order(Record, array_like=True):
    """A bid (for a site) or an offer (of a device) (``market/order/<start>/<seq>``).

    Attributes:
        seq: Order number, unique on the chain; time priority.
        side: bid or offer.
        account: The account that placed it (or whose standing choice placed it).
        asset: The bid's consumption site or the offer's generating device.
        energy_wh: Energy wanted or offered, Wh.
        price_fen_per_kwh: Bid: the most it pays; offer: the least it takes; fen per kWh.
        preferred: A bid's preferred plants (device ids), first choice first.
        escrow_fen: What a bid locked when placed (0 for offers), held until settlement, fen.
        interval_start_s: Start of its interval, Unix seconds UTC.
        height: The block that placed it.
        meters: Ids of the asset's meters at placement; settlement reads these.
        source: single (a transaction) or standing (a standing choice, at clearing).
    """

    seq: int
    side: Side
    account: str
    asset: str
    energy_wh: int
    price_fen_per_kwh: int
    preferred: list[str]
    escrow_fen: int
    interval_start_s: int
    height: int
    meters: list[str]
    source: Source


class Pairing(Record, array_like=True, omit_defaults=True):
    """A bid matched with an offer for some energy at a price
    (``market/pairing/<start>/<n>``); settlement adds what was delivered and paid.

    Attributes:
        id: <start>-<n> (n in 8 digits), the same for both parties.
        interval_start_s: Start of its interval, Unix seconds UTC.
        bid: The bid's order number.
        offer: The offer's order number.
        consumer: The bid's account.
        site: The bid's site.
        producer: The offer's account.
        device: The offer's plant.
        energy_wh: Energy paired at clearing, Wh.
        price_fen_per_kwh: What the pairing pays, fen per kWh.
        stage: preferred (a preferred partner's share) or auction.
        delivered_wh: Energy delivered per the meters, Wh; null until settled.
        amount_fen: What the consumer paid the producer, fen; null until settled.
    """

    id: str
    interval_start_s: int
    bid: int
    offer: int
    consumer: str
    site: str
    producer: str
    device: str
    energy_wh: int
    price_fen_per_kwh: int
    stage: Stage
    delivered_wh: int | None = None
    amount_fen: int | None = None


class Preference(Record):
    """A consumer's standing choice for a site (``market/preference/<account>/<site>``).

    Attributes:
        account: The consumer account.
        site: Its site.
        choice: clean (a bid at every clearing) or grid (no bids).
        price_cap_fen_per_kwh: The most its bids pay, fen per kWh; null: the grid's selling
            price at clearing.
        preferred: Preferred plants, first choice first.
        quantity_wh: Energy bid per interval, Wh; null: the site's ceiling for one interval.
        height: The block that set it.
        since_s: Block time it was set, Unix seconds; it counts for intervals whose gate
            closure comes later.
    """

    account: str
    site: str
    choice: Choice
    price_cap_fen_per_kwh: int | None
    preferred: list[str]
    quantity_wh: int | None
    height: int
    since_s: int


class StandingOffer(Record):
    """A plant offered at every clearing (``market/standing_offer/<device>``).

    Attributes:
        account: The producer account.
        device: The plant.
        floor_price_fen_per_kwh: The least its offers take, fen per kWh.
        quantity_wh: Energy offered per interval, Wh; null: the plant's nameplate output over
            one interval.
        height: The block that set it.
        since_s: Block time it was set, Unix seconds; it counts for intervals whose gate
            closure comes later.
    """

    account: str
    device: str
    floor_price_fen_per_kwh: int
    quantity_wh: int | None
    height: int
    since_s: int


class IntervalSettlement(Record):
    """What settling an interval against its meter data moved.

    Attributes:
        consumption_wh: Metered consumption of the sites with a bid, Wh.
        generation_wh: Metered generation of the plants with an offer, Wh.
        delivered_wh: Clean energy delivered through pairings, Wh.
        grid_import_wh: Consumption the grid supplied, Wh.
        grid_export_wh: Generation fed into the grid, Wh.
        clean_paid_fen: Paid by consumers to producers for deliveries, fen.
        grid_paid_fen: Due to the grid for imports (paid or not), fen.
        feed_in_paid_fen: Due from the grid for exports (paid or not), fen.
        unpaid_fen: What payers' balances could not cover (now arrears), fen.
    """

    consumption_wh: int
    generation_wh: int
    delivered_wh: int
    grid_import_wh: int
    grid_export_wh: int
    clean_paid_fen: int
    grid_paid_fen: int
    feed_in_paid_fen: int
    unpaid_fen: int


class Interval(Record):
    """A market interval (``market/interval/<start>``): created by its first order (or by
    clearing), cleared once after its gate closure, settled once after it ended. The clearing
    fields are null until it is cleared, the settlement fields until it is settled.

    Attributes:
        start_s: Interval start, Unix seconds UTC.
        interval_s: Its length, s (the market's interval when it was created).
        status: open, cleared or settled.
        mechanism: How it cleared.
        bids: Bids cleared (standing ones included).
        offers: Offers cleared (standing ones included).
        demand_wh: Energy the bids wanted, Wh.
        supply_wh: Energy the offers offered, Wh.
        volume_wh: Energy paired, Wh.
        clearing_price_fen_per_kwh: The auction's uniform price (pay-as-bid: the lowest
            matched bid price), fen per kWh; null when the auction matched nothing.
        pairings: Number of pairings.
        cleared_at_s: Block time of clearing, Unix seconds.
        cleared_height: The block that cleared it.
        tariffs: The grid tariffs at clearing, which settlement applies.
        settled_at_s: Block time of settlement, Unix seconds.
        settled_height: The block that settled it.
        missing_data: Meters whose data was still missing when the deadline let it settle.
        settlement: What the settlement moved.
    """

    start_s: int
    interval_s: int
    status: Status
    mechanism: Mechanism | None = None
    bids: int | None = None
    offers: int | None = None
    demand_wh: int | None = None
    supply_wh: int | None = None
    volume_wh: int | None = None
    clearing_price_fen_per_kwh: int | None = None
    pairings: int | None = None
    cleared_at_s: int | None = None
    cleared_height: int | None = None
    tariffs: IntervalTariffs | None = None
    settled_at_s: int | None = None
    settled_height: int | None = None
    missing_data: list[str] | None = None
    settlement: IntervalSettlement | None = None


class GridSettlement(Record):
    """What a site bought from, or a device sold to, the grid in one settled interval
    (``market/grid/<start>/<direction>/<asset>``).

    Attributes:
        asset: The site (import) or device (export).
        account: Who paid (import) or was paid (export): the account of the asset's orders.
        direction: import or export.
        energy_wh: Energy the grid supplied or took, Wh.
        measured_wh: The asset's metered consumption (import) or generation (export) in the
            interval, Wh.
        amount_fen: Due at the interval's tariffs, fen.
        unpaid_fen: The part the payer's balance could not cover (now arrears), fen.
    """

    asset: str
    account: str
    direction: Direction
    energy_wh: int
    measured_wh: int
    amount_fen: int
    unpaid_fen: int


class Arrear(Record):
    """What an account owes one creditor after settlements (``market/arrears/<debtor>/
    <creditor>``, stored as the bare amount).

    Attributes:
        creditor: The account owed.
        amount_fen: Owed, fen.
    """

    creditor: str
    amount_fen: int


class OrderBook(Record):
    """An interval's record (or the open one it would get) and its orders by side, best first.

    Attributes:
        interval: The interval.
        bids: Highest price first, then oldest first.
        offers: Lowest price first, then oldest first.
    """

    interval: Interval
    bids: list[Order]
    offers: list[Order]
