"""Exchange: a continuous limit-order book for allowances and carbon credits, settled in funds
(delivery versus payment).

* :mod:`.keys`: every ``exchange/...`` state key, and nothing else builds them;
* :mod:`.records`: :class:`Order`, :class:`Trade`, :class:`Instrument`, and the book's
  :class:`Depth` by price :class:`Level`;
* :mod:`.instruments`: instrument ids (``allowances:<period>``,
  ``credits:<technology>:<year>``) and the locking, delivery and release of each leg;
* :mod:`.orders`: ``exchange.place`` and ``exchange.cancel`` (any account), matching in
  price-time priority on placement;
* :mod:`.queries`: what the API and pages read;
* :mod:`.errors`: the refusals, each with its ``exchange.*`` code.

Invariants (property-tested): funds, allowances and credits are conserved by trades (escrow
and locks included); each credit unit is in exactly one state; after every transaction the
best bid of an instrument is below its best ask; trades follow price-time priority.
"""

from gridledger.contracts.exchange import instruments, keys, orders, queries
from gridledger.contracts.exchange.orders import Cancel, Place, get_order
from gridledger.contracts.exchange.queries import (
    depth,
    get_instrument,
    get_trade,
    list_instruments,
    orders_of,
    resting_orders,
    trades,
)
from gridledger.contracts.exchange.records import Depth, Instrument, Level, Order, Trade

__all__ = [
    "Cancel",
    "Depth",
    "Instrument",
    "Level",
    "Order",
    "Place",
    "Trade",
    "depth",
    "get_instrument",
    "get_order",
    "get_trade",
    "instruments",
    "keys",
    "list_instruments",
    "orders",
    "orders_of",
    "queries",
    "resting_orders",
    "trades",
]
