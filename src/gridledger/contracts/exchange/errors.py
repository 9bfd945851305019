"""The exchange's refusals, each with a stable ``exchange.*`` code."""

from __future__ import annotations

from gridledger.core.errors import InvalidTransaction


class UnknownInstrument(InvalidTransaction):
    code = "exchange.unknown_instrument"
    default_message = (
        "an instrument is allowances:<compliance period> (an opened period) or "
        "credits:<technology>:<vintage year> (geothermal, hydro, solar_pv, wind_offshore, "
        "wind_onshore; a year 2000-2999)"
    )


class BadPrice(InvalidTransaction):
    code = "exchange.bad_price"
    default_message = "a limit price is a positive whole number of fen per tonne"


class BadQuantity(InvalidTransaction):
    code = "exchange.bad_quantity"
    default_message = (
        "a quantity is a positive number of whole tonnes, and price times quantity fits in 64 bits"
    )


class BadExpiry(InvalidTransaction):
    code = "exchange.bad_expiry"
    default_message = "an order's expiry (Unix seconds) is after the block's time"


class InsufficientFunds(InvalidTransaction):
    code = "exchange.insufficient_funds"
    default_message = "a buy order locks price times quantity fen: the balance is lower"


class InsufficientAllowances(InvalidTransaction):
    code = "exchange.insufficient_allowances"
    default_message = "the seller holds fewer allowances of that vintage (unlocked) than offered"


class InsufficientCredits(InvalidTransaction):
    code = "exchange.insufficient_credits"
    default_message = (
        "the seller holds fewer active credits of that technology and vintage than offered"
    )


class SelfTrade(InvalidTransaction):
    code = "exchange.self_trade"
    default_message = "the order would trade with one of the sender's own resting orders"


class UnknownOrder(InvalidTransaction):
    code = "exchange.unknown_order"
    default_message = "no order has this number"


class NotYourOrder(InvalidTransaction):
    code = "exchange.not_your_order"
    default_message = "only the account that placed an order cancels it"


class OrderClosed(InvalidTransaction):
    code = "exchange.order_closed"
    default_message = "the order was filled, cancelled or expired already"
