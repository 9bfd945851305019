"""The peer-to-peer clean-power market: orders, clearing per interval, settlement by the meters.

Intervals are aligned UTC periods of ``interval_s`` (hourly by default) named by their start
(Unix seconds). An interval takes orders until its **gate closure**, ``gate_closure_s`` before it
starts; from then on anyone may send ``market.clear`` for it, and the result depends only on the
ledger. Once it has ended and its meter data is final, anyone may send ``market.settle``.
``docs/market.md`` states the rules; units are in every field's name (Wh, fen, fen per kWh, s).

* :mod:`.keys`: every ``market/...`` state key, and nothing else builds them;
* :mod:`.records`: the stored records (:class:`Params`, :class:`Tariffs`, :class:`Order`,
  :class:`Interval`, :class:`Pairing`, :class:`Preference`, :class:`StandingOffer`,
  :class:`GridSettlement`) and what queries return besides (:class:`Arrear`,
  :class:`OrderBook`);
* :mod:`.parameters`: the operator's rules and the grid's tariffs (``market.set_params``,
  ``market.set_tariffs``), and the limits of a body;
* :mod:`.intervals`: an interval's record and the one rule for when it takes orders, clears and
  settles;
* :mod:`.orders`: bids, offers, cancelling, and standing choices (``market.place_bid``,
  ``market.place_offer``, ``market.cancel_order``, ``market.set_preference``,
  ``market.set_standing_offer``);
* :mod:`.clearing`: ``market.clear``: standing orders placed, matching, pairings;
* :mod:`.matching`: the pure matching and delivery engine clearing and settlement run;
* :mod:`.settlement`: ``market.settle`` and ``market.pay_arrears``;
* :mod:`.queries`: intervals, order books, pairings, choices, grid settlements, arrears;
* :mod:`.changes`: the intervals, pairings and grid settlements a block wrote, for the read
  models of :mod:`gridledger.readmodels.market` (the totals pages show, outside the state
  root);
* :mod:`.errors`: the refusals, each with its ``market.*`` code.
"""

from gridledger.contracts.market import keys
from gridledger.contracts.market.changes import Written, WrittenPairing, written
from gridledger.contracts.market.clearing import apply_clear
from gridledger.contracts.market.errors import (
    AlreadyCleared,
    AlreadySettled,
    CutoffNotReached,
    DataNotFinal,
    IntervalClosed,
    IntervalPast,
    InvalidInterval,
    InvalidParams,
    InvalidPreference,
    InvalidPrice,
    InvalidQuantity,
    NoArrears,
    NoMeter,
    NoTariffs,
    NotAssetOwner,
    NotCleared,
    NotOrderOwner,
    TooFarAhead,
    UnknownAsset,
    UnknownOrder,
)
from gridledger.contracts.market.intervals import (
    IntervalRef,
    gate_closure_s,
    get_interval,
    open_interval,
)
from gridledger.contracts.market.matching import MECHANISMS, cost_minor, escrow_minor
from gridledger.contracts.market.orders import (
    CHOICES,
    CancelOrder,
    PlaceBid,
    PlaceOffer,
    SetPreference,
    SetStandingOffer,
)
from gridledger.contracts.market.parameters import (
    RULES_VERSION,
    SetParams,
    SetTariffs,
    params,
    rules_version,
    set_rules_version,
    tariffs,
)
from gridledger.contracts.market.queries import (
    arrears_of,
    get_pairing,
    grid_settlement,
    grid_settlements,
    household_choices,
    interval_orders,
    intervals,
    latest_cleared,
    order_book,
    pairings,
    preferences,
    preferences_of,
    standing_offer,
    standing_offers,
)
from gridledger.contracts.market.records import (
    MAX_ENERGY_WH,
    MAX_PREFERRED,
    MAX_PRICE_FEN_PER_KWH,
    Arrear,
    Choice,
    GridSettlement,
    Interval,
    IntervalSettlement,
    IntervalTariffs,
    Mechanism,
    Order,
    OrderBook,
    Pairing,
    Params,
    Preference,
    Side,
    StandingOffer,
    Tariffs,
)
from gridledger.contracts.market.settlement import (
    PayArrears,
    apply_pay_arrears,
    apply_settle,
    settlement_ready,
)

__all__ = [
    "CHOICES",
    "MAX_ENERGY_WH",
    "MAX_PREFERRED",
    "MAX_PRICE_FEN_PER_KWH",
    "MECHANISMS",
    "RULES_VERSION",
    "AlreadyCleared",
    "AlreadySettled",
    "Arrear",
    "CancelOrder",
    "Choice",
    "CutoffNotReached",
    "DataNotFinal",
    "GridSettlement",
    "Interval",
    "IntervalClosed",
    "IntervalPast",
    "IntervalRef",
    "IntervalSettlement",
    "IntervalTariffs",
    "InvalidInterval",
    "InvalidParams",
    "InvalidPreference",
    "InvalidPrice",
    "InvalidQuantity",
    "Mechanism",
    "NoArrears",
    "NoMeter",
    "NoTariffs",
    "NotAssetOwner",
    "NotCleared",
    "NotOrderOwner",
    "Order",
    "OrderBook",
    "Pairing",
    "Params",
    "PayArrears",
    "PlaceBid",
    "PlaceOffer",
    "Preference",
    "SetParams",
    "SetPreference",
    "SetStandingOffer",
    "SetTariffs",
    "Side",
    "StandingOffer",
    "Tariffs",
    "TooFarAhead",
    "UnknownAsset",
    "UnknownOrder",
    "Written",
    "WrittenPairing",
    "apply_clear",
    "apply_pay_arrears",
    "apply_settle",
    "arrears_of",
    "cost_minor",
    "escrow_minor",
    "gate_closure_s",
    "get_interval",
    "get_pairing",
    "grid_settlement",
    "grid_settlements",
    "household_choices",
    "interval_orders",
    "intervals",
    "keys",
    "latest_cleared",
    "open_interval",
    "order_book",
    "pairings",
    "params",
    "preferences",
    "preferences_of",
    "rules_version",
    "set_rules_version",
    "settlement_ready",
    "standing_offer",
    "standing_offers",
    "tariffs",
    "written",
]
