"""Meter-data gateways: readings from devices and files, signed and put on the chain.

* :mod:`~gridledger.ingest.readings` — the :class:`Reading` record and the checks that turn
  raw device messages and file rows into readings, with a code per problem;
* :mod:`~gridledger.ingest.batching` — :class:`ReadingSubmitter`: signs batches as the
  gateway account, submits them, retries what the node could not take, and reports one
  :class:`Outcome` per reading;
* :mod:`~gridledger.ingest.mqtt` — :class:`MqttGateway`: an MQTT subscriber that acknowledges
  messages only once their readings are on the chain;
* :mod:`~gridledger.ingest.files` — :class:`FileImporter`: CSV and Parquet files, row by row.

Gateways talk to the node through its HTTP API (``gridledger.sdk``), like any other client.
"""

from gridledger.ingest.batching import Outcome, ReadingSubmitter, RetryPolicy, SubmitAborted
from gridledger.ingest.readings import ParsedMessage, Reading, ReadingError, parse_message

__all__ = [
    "Outcome",
    "ParsedMessage",
    "Reading",
    "ReadingError",
    "ReadingSubmitter",
    "RetryPolicy",
    "SubmitAborted",
    "parse_message",
]
