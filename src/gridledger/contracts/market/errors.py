"""The market's refusals, each with a stable ``market.*`` code."""

from __future__ import annotations

from gridledger.contracts.market.records import MAX_ENERGY_WH, MAX_PRICE_FEN_PER_KWH
from gridledger.core.errors import InvalidTransaction


class InvalidQuantity(InvalidTransaction):
    code = "market.invalid_quantity"
    default_message = f"quantities are whole Wh from 1 to {MAX_ENERGY_WH}"


class InvalidPrice(InvalidTransaction):
    code = "market.invalid_price"
    default_message = f"prices are fen per kWh from 1 to {MAX_PRICE_FEN_PER_KWH}"


class InvalidInterval(InvalidTransaction):
    code = "market.invalid_interval"
    default_message = "the interval start is not aligned to the market interval (UTC)"


class IntervalTooOld(InvalidTransaction):
    code = "market.interval_too_old"
    default_message = "the interval ended longer ago than the market's clearing window"


class IntervalPast(InvalidTransaction):
    code = "market.interval_past"
    default_message = "the interval has ended"


class IntervalClosed(InvalidTransaction):
    code = "market.interval_closed"
    default_message = "the interval no longer takes orders (gate closure passed or cleared)"


class TooFarAhead(InvalidTransaction):
    code = "market.too_far_ahead"
    default_message = "the interval starts beyond the market's horizon"


class UnknownAsset(InvalidTransaction):
    code = "market.unknown_asset"
    default_message = "no such site or device"


class NotAssetOwner(InvalidTransaction):
    code = "market.not_owner"
    default_message = "the site or device belongs to another organisation"


class NoMeter(InvalidTransaction):
    code = "market.no_meter"
    default_message = "the site or device has no meter reporting within the market interval"


class InvalidPreference(InvalidTransaction):
    code = "market.invalid_preference"
    default_message = "a preference chooses clean or grid and names up to 10 distinct plants"


class UnknownOrder(InvalidTransaction):
    code = "market.unknown_order"
    default_message = "no open order with this number in this interval"


class NotOrderOwner(InvalidTransaction):
    code = "market.not_order_owner"
    default_message = "only the account that placed an order may cancel it"


class CutoffNotReached(InvalidTransaction):
    code = "market.cutoff_not_reached"
    default_message = "the interval's gate closure has not passed yet"


class AlreadyCleared(InvalidTransaction):
    code = "market.already_cleared"
    default_message = "the interval has been cleared already"


class NotCleared(InvalidTransaction):
    code = "market.not_cleared"
    default_message = "the interval has not been cleared"


class AlreadySettled(InvalidTransaction):
    code = "market.already_settled"
    default_message = "the interval has been settled already"


class DataNotFinal(InvalidTransaction):
    code = "market.data_not_final"
    default_message = "the interval's meter data is not final yet"


class NoTariffs(InvalidTransaction):
    code = "market.no_tariffs"
    default_message = "the grid operator has not set the grid tariffs"


class InvalidParams(InvalidTransaction):
    code = "market.invalid_params"
    default_message = "invalid market parameters"


class NoArrears(InvalidTransaction):
    code = "market.no_arrears"
    default_message = "nothing is owed to this creditor"
