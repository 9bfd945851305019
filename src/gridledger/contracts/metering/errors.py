"""Metering's refusals, each with a stable code.

A :class:`ReadingRefused` refuses one reading of a batch (reported in an event, the batch goes
on); the others refuse a whole transaction.
"""

from __future__ import annotations

from gridledger.core.errors import InvalidTransaction


class ReadingRefused(InvalidTransaction):
    code = "metering.refused"
    default_message = "the reading was refused"


class UnknownMeter(ReadingRefused):
    code = "metering.unknown_meter"
    default_message = "no such meter"


class ReportsNoMeter(InvalidTransaction):
    code = "metering.reports_no_meter"
    default_message = "the sender is the gateway of none of the batch's meters"


class NotGateway(ReadingRefused):
    code = "metering.not_gateway"
    default_message = "the sender is not the gateway bound to this meter"


class WrongIntervalLength(ReadingRefused):
    code = "metering.wrong_interval_length"
    default_message = "length_s differs from the meter's registered interval"


class Misaligned(ReadingRefused):
    code = "metering.misaligned"
    default_message = "the interval start is not a multiple of its length (UTC)"


class FutureInterval(ReadingRefused):
    code = "metering.future_interval"
    default_message = "the interval has not ended yet at block time"


class BeforeCommissioning(ReadingRefused):
    code = "metering.before_commissioning"
    default_message = "the interval starts before the device's commissioning date"


class DuplicateReading(ReadingRefused):
    code = "metering.duplicate_reading"
    default_message = "the meter already has a reading for this interval"


class DuplicateInBatch(ReadingRefused):
    code = "metering.duplicate_in_batch"
    default_message = "the batch holds two readings of this meter and interval"


class NegativeEnergy(ReadingRefused):
    code = "metering.negative_energy"
    default_message = "energy_wh is negative"


class Implausible(ReadingRefused):
    code = "metering.implausible"
    default_message = "energy_wh exceeds what the device or site can produce or draw"


class UnknownReading(InvalidTransaction):
    code = "metering.unknown_reading"
    default_message = "no reading for this meter and interval"


class InvalidParams(InvalidTransaction):
    code = "metering.invalid_params"
    default_message = "margin 100-200 %, degradation 0-100 per mille a year"
