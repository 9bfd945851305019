"""Metering: interval readings signed by meters' gateways, checked before they count.

* :mod:`.keys`: every ``metering/...`` state key, and nothing else builds them;
* :mod:`.records`: the stored :class:`Reading`, :class:`Correction` and :class:`Params`, and
  what queries return (:class:`MeterReading`, :class:`Measured`, :class:`TotalsBucket`);
* :mod:`.submit`: ``metering.submit`` (a meter's gateway) and the plausibility rules;
* :mod:`.corrections`: ``metering.correct`` (grid operators);
* :mod:`.params`: the plausibility parameters and ``metering.set_params`` (operators);
* :mod:`.queries`: readings over a window, totals per bucket, and :func:`measured_wh`, the
  one reading of meter data the market, certificates and carbon accounting share;
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
    ReportsNoMeter,
    UnknownMeter,
    UnknownReading,
    WrongIntervalLength,
)
from gridledger.contracts.metering.params import SetParams, params
from gridledger.contracts.metering.queries import (
    MeasuredKind,
    latest_reading,
    measured_wh,
    readings,
    totals,
)
from gridledger.contracts.metering.records import (
    Correction,
    Measured,
    MeterReading,
    MissingReadings,
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
    "Measured",
    "MeasuredKind",
    "MeterReading",
    "Misaligned",
    "MissingReadings",
    "NegativeEnergy",
    "NotGateway",
    "Params",
    "Reading",
    "ReadingRefused",
    "ReportsNoMeter",
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
    "measured_wh",
    "params",
    "readings",
    "totals",
]
