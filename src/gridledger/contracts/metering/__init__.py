"""Metering: interval readings signed by meters' gateways, checked before they count.

* :mod:`.keys`: every ``metering/...`` state key, and nothing else builds them;
* :mod:`.records`: the stored :class:`Reading`, :class:`Correction` and :class:`Params`, and
  what queries return (:class:`MeterReading`, :class:`TotalsBucket`);
* :mod:`.submit`: ``metering.submit`` (a meter's gateway) and the plausibility rules;
* :mod:`.corrections`: ``metering.correct`` (grid operators);
* :mod:`.params`: the plausibility parameters and ``metering.set_params`` (operators);
* :mod:`.queries`: readings over a window and totals per bucket;
* :mod:`.errors`: the refusals, each with its ``metering.*`` code.
"""

from gridledger.contracts.metering import keys
from gridledger.contracts.metering.corrections import Correct
from gridledger.contracts.metering.errors import (
    BeforeCommissioning,
    DuplicateInBatch,
    DuplicateReading,
    FutureInterval,
    Implausible,
    InvalidParams,
    Misaligned,
    NegativeEnergy,
    NotGateway,
    ReadingRefused,
    UnknownMeter,
    UnknownReading,
    WrongIntervalLength,
)
from gridledger.contracts.metering.params import SetParams, params
from gridledger.contracts.metering.queries import latest_reading, readings, totals
from gridledger.contracts.metering.records import (
    Correction,
    MeterReading,
    Params,
    Reading,
    TotalsBucket,
)
from gridledger.contracts.metering.submit import (
    MAX_READINGS,
    Submit,
    SubmittedReading,
    consumption_limit_wh,
    generation_limit_wh,
)

__all__ = [
    "MAX_READINGS",
    "BeforeCommissioning",
    "Correct",
    "Correction",
    "DuplicateInBatch",
    "DuplicateReading",
    "FutureInterval",
    "Implausible",
    "InvalidParams",
    "MeterReading",
    "Misaligned",
    "NegativeEnergy",
    "NotGateway",
    "Params",
    "Reading",
    "ReadingRefused",
    "SetParams",
    "Submit",
    "SubmittedReading",
    "TotalsBucket",
    "UnknownMeter",
    "UnknownReading",
    "WrongIntervalLength",
    "consumption_limit_wh",
    "generation_limit_wh",
    "keys",
    "latest_reading",
    "params",
    "readings",
    "totals",
]
