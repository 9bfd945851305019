"""The MQTT gateway: subscribe to meters' topics, and put their readings on the chain.

Devices publish JSON readings (one object or a list, ``docs/formats.md``, "MQTT meter
messages"). The gateway collects them into batches, signs each batch as the gateway account,
submits it, and acknowledges the MQTT messages only once the batch has **committed**, so:

* it subscribes with QoS 1 under a fixed client id in a persistent session (MQTT 5, clean start
  off, a session expiry), so the broker keeps every unacknowledged message across a broker
  restart or a gateway restart and sends it again;
* a message sent again after its batch committed comes back from the chain as
  ``metering.duplicate_reading``, which counts as delivered: no reading is lost or stored twice;
* acknowledgements are tied to the connection that received the message: after a reconnect,
  the broker redelivers instead (an old packet id may name another message by then);
* a malformed message or reading is logged with the reason and dropped (acknowledged), and
  the gateway goes on; node failures are retried without dropping anything;
* a reading whose interval has not ended yet (a device clock running ahead) is held until it
  has, rather than refused by the chain as ``metering.future_interval``.

The broker may ask for a user name and password, and may be reached over TLS: the broker's
certificate is then always verified against the given CA, host name included, and the gateway
can present a client certificate of its own.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from gridledger.ingest.batching import Outcome, ReadingSubmitter, SubmitAborted
from gridledger.ingest.readings import Reading, ReadingError, parse_message

log = logging.getLogger("gridledger.ingest.mqtt")

FUTURE = "metering.future_interval"
_REQUEUE_S = 5.0
"""Pause before a reading the chain found not yet ended is sent again."""
_POLL_S = 0.2
"""Longest sleep of the main loop, so that a stop request is seen promptly."""
_AUTH_REFUSED = frozenset({0x86, 0x87})
"""CONNACK reason codes "Bad user name or password" and "Not authorized"."""


@dataclass(frozen=True)
class MqttSettings:
    """Where to subscribe and how to batch.

    Attributes:
        host: the broker's host.
        port: the broker's port.
        topics: topic filters to subscribe to (``+`` and ``#`` wildcards allowed).
        client_id: fixed across restarts: the broker keeps the session under it.
        batch_size: readings per transaction at most.
        flush_ms: longest a received reading waits for its batch to fill.
        keepalive_s: MQTT keep-alive.
        session_expiry_s: how long the broker keeps the session (and queued messages) while
            the gateway is away.
        reconnect_min_s: first pause before reconnecting to a lost broker; doubles each try.
        reconnect_max_s: longest pause between reconnection tries.
        settle_s: extra wait after an interval ends before its reading is sent, for clocks
            that differ a little between gateway and node.
        max_future_s: a reading whose interval ends further ahead than this is refused
            (``ingest.future_interval``) instead of held.
        max_requeues: times a reading refused as not yet ended is sent again before it is
            given up.
        username: the user name to log in to the broker with, or None for none.
        password: its password (kept out of the settings' repr).
        tls_ca: a PEM file of the CA certificate(s) that signed the broker's certificate; set,
            the gateway connects over TLS and verifies the broker's certificate and host name.
        tls_cert: a PEM client certificate to present to the broker (with ``tls_ca`` only).
        tls_key: the PEM private key of ``tls_cert``.
    """

    host: str
    port: int
    topics: tuple[str, ...]
    client_id: str
    batch_size: int = 1000
    flush_ms: int = 1000
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 86400
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30
    settle_s: float = 1.0
    max_future_s: int = 300
    max_requeues: int = 12
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("a client certificate needs both tls_cert and tls_key")
        if self.tls_cert is not None and self.tls_ca is None:
            raise ValueError("a client certificate needs tls_ca (TLS) as well")
        if self.password is not None and self.username is None:
            raise ValueError("a password needs a username")

    @property
    def receive_maximum(self) -> int:
        """Unacknowledged messages the broker may have in flight to us.

        MQTT brokers default to about 20; readings are acknowledged per batch, so the window
        must hold a whole batch (one reading per message at worst) and the next one filling.
        """
        return min(max(2 * self.batch_size, 100), 65535)


@dataclass
class GatewayStats:
    """Counters since start (read them from another thread for monitoring or tests)."""

    messages: int = 0
    acknowledged: int = 0
    dropped_messages: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: int = 0
    invalid: int = 0
    """Readings refused by the gateway itself (``ingest.*``), never sent."""
    batches: int = 0
    connections: int = 0


@dataclass(eq=False)
class _Message:
    """A received MQTT message whose readings are not all settled yet."""

    generation: int
    """Which connection received it: acknowledgements go back on that connection only."""
    mid: int
    qos: int
    topic: str
    payload: bytes
    remaining: int = 0


@dataclass(eq=False)
class _Entry:
    """A reading waiting for its batch, and every message that carried it."""

    reading: Reading
    messages: list[_Message]
    since: float
    """Monotonic time it arrived."""
    ready_at: float
    """Wall-clock time (Unix seconds) from which it may be sent."""
    requeues: int = 0


@dataclass
class _Buffer:
    entries: dict[Reading, _Entry] = field(default_factory=dict)

    def ready(self, now: float) -> list[_Entry]:
        return [e for e in self.entries.values() if e.ready_at <= now]


class MqttGateway:
    """Subscribes, batches, submits, acknowledges; :meth:`run` blocks until ``stop`` is set.

    Args:
        settings: broker, topics and batching.
        submitter: signs and submits batches for the gateway account; give it the same
            ``stop`` event, so a node outage does not keep the gateway from stopping.
        clock: wall clock in Unix seconds (replaceable in tests).
    """

    def __init__(
        self,
        settings: MqttSettings,
        submitter: ReadingSubmitter,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.submitter = submitter
        self.stats = GatewayStats()
        self._clock = clock
        self._inbox: queue.Queue[_Message] = queue.Queue()
        self._buffer = _Buffer()
        self._lock = threading.Lock()
        self._generation = 0
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._client = self._make_client()

    # the MQTT side (paho's network thread) -------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
            reconnect_on_failure=True,
        )
        client.reconnect_delay_set(s.reconnect_min_s, s.reconnect_max_s)
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        if s.tls_ca is not None:
            # certificate and host name always verified (no tls_insecure_set); the files are
            # read here, so a missing or unreadable one fails at once (OSError, ssl.SSLError)
            client.tls_set(ca_certs=s.tls_ca, certfile=s.tls_cert, keyfile=s.tls_key)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            extra = {"broker": self._broker, "reason": str(reason)}
            if reason.value in _AUTH_REFUSED:
                extra["hint"] = (
                    "check --username and GRIDLEDGER_MQTT_PASSWORD, and the broker's ACL"
                )
            log.error("broker refused the connection", extra=extra)
            return
        with self._lock:
            self._generation += 1
            generation = self._generation
        self.stats.connections += 1
        self._connected.set()
        log.info(
            "connected to broker",
            extra={
                "broker": self._broker,
                "client_id": self.settings.client_id,
                "session_present": flags.session_present,
                "connection": generation,
            },
        )
        # subscribing again on a kept session is harmless and covers a broker that lost it
        client.subscribe([(topic, SubscribeOptions(qos=1)) for topic in self.settings.topics])

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        # paho calls this from its ``except OSError`` around the connection attempt (a refused
        # TCP connection, a failed TLS handshake or certificate check), so the error is at hand
        error = sys.exc_info()[1]
        log.warning(
            "cannot connect to broker; retrying",
            extra={"broker": self._broker, "error": str(error) if error else "unknown"},
        )

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        for topic, reason in zip(self.settings.topics, reasons, strict=False):
            if reason.is_failure:
                log.error("subscription refused", extra={"topic": topic, "reason": str(reason)})
            else:
                log.info("subscribed", extra={"topic": topic, "qos": reason.value})
        self._subscribed.set()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._connected.clear()
        self._subscribed.clear()
        log.warning(
            "disconnected from broker; reconnecting",
            extra={"broker": self._broker, "reason": str(reason)},
        )

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            generation = self._generation
        self._inbox.put(_Message(generation, msg.mid, msg.qos, msg.topic, msg.payload))

    @property
    def _broker(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    # running -------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> GatewayStats:
        """Serve until ``stop`` is set; unsettled messages stay unacknowledged for next time."""
        s = self.settings
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = s.session_expiry_s
        props.ReceiveMaximum = s.receive_maximum
        self._client.connect_async(
            s.host, s.port, keepalive=s.keepalive_s, clean_start=False, properties=props
        )
        self._client.loop_start()
        log.info(
            "gateway started",
            extra={
                "broker": self._broker,
                "topics": list(s.topics),
                "gateway": self.submitter.gateway,
                "batch_size": s.batch_size,
                "flush_ms": s.flush_ms,
            },
        )
        try:
            while not stop.is_set():
                self._step()
        except SubmitAborted as exc:
            if exc.code != "ingest.stopped":
                raise
        finally:
            self._client.disconnect()
            self._client.loop_stop()
            log.info("gateway stopped", extra={"pending_readings": len(self._buffer.entries)})
        return self.stats

    def wait_ready(self, timeout: float) -> bool:
        """True once connected and subscribed (from then on the broker keeps our messages)."""
        return self._subscribed.wait(timeout)

    def _step(self) -> None:
        """Take in what arrived, then send a batch if one is due."""
        try:
            self._take(self._inbox.get(timeout=self._sleep_s()))
            while True:
                self._take(self._inbox.get_nowait())
        except queue.Empty:
            pass
        batch = self._due()
        if batch:
            self._send(batch)

    def _sleep_s(self) -> float:
        if not self._buffer.entries:
            return _POLL_S
        now_wall, now_mono = self._clock(), time.monotonic()
        flush_s = self.settings.flush_ms / 1000
        soonest = min(
            max(e.since + flush_s - now_mono, e.ready_at - now_wall)
            for e in self._buffer.entries.values()
        )
        return min(max(soonest, 0.0), _POLL_S)

    def _take(self, message: _Message) -> None:
        self.stats.messages += 1
        parsed = parse_message(message.payload)
        for index, error in parsed.errors:
            self._invalid(message, index, error)
        now = self._clock()
        for reading in parsed.readings:
            if reading.end > now + self.settings.max_future_s:
                self._invalid(
                    message,
                    None,
                    ReadingError(
                        "ingest.future_interval",
                        f"interval {reading.start_iso()} + {reading.length_s} s ends more than "
                        f"{self.settings.max_future_s} s from now; is the device clock right?",
                    ),
                )
                continue
            entry = self._buffer.entries.get(reading)
            if entry is None:
                entry = _Entry(reading, [], time.monotonic(), reading.end + self.settings.settle_s)
                self._buffer.entries[reading] = entry
            # the same reading twice (a redelivery) rides in one batch and settles both
            entry.messages.append(message)
            message.remaining += 1
        if message.remaining == 0:
            # nothing in it to deliver: acknowledging drops it, or it would come back for ever
            self.stats.dropped_messages += 1
            self._ack(message)

    def _invalid(self, message: _Message, index: int | None, error: ReadingError) -> None:
        self.stats.invalid += 1
        log.warning(
            "reading dropped",
            extra={
                "topic": message.topic,
                "item": index,
                "code": error.code,
                "error": error.message,
                "payload": message.payload[:200].decode("utf-8", "replace"),
            },
        )

    def _due(self) -> list[_Entry]:
        ready = self._buffer.ready(self._clock())
        if not ready:
            return []
        flush_s = self.settings.flush_ms / 1000
        if len(ready) < self.settings.batch_size and min(e.since for e in ready) + flush_s > (
            time.monotonic()
        ):
            return []
        return ready[: self.settings.batch_size]

    def _send(self, batch: list[_Entry]) -> None:
        outcomes = self.submitter.submit([e.reading for e in batch])
        self.stats.batches += 1
        for entry, outcome in zip(batch, outcomes, strict=True):
            self._settle(entry, outcome)

    def _settle(self, entry: _Entry, outcome: Outcome) -> None:
        if outcome.code == FUTURE and entry.requeues < self.settings.max_requeues:
            # the node's clock is behind ours: try again shortly rather than lose the reading
            entry.requeues += 1
            entry.ready_at = self._clock() + _REQUEUE_S
            return
        del self._buffer.entries[entry.reading]
        if outcome.status == "accepted":
            self.stats.accepted += 1
        elif outcome.status == "duplicate":
            self.stats.duplicates += 1
        else:
            self.stats.refused += 1
        for message in entry.messages:
            message.remaining -= 1
            if message.remaining == 0:
                self._ack(message)

    def _ack(self, message: _Message) -> None:
        if message.qos == 0:
            return
        with self._lock:
            current = message.generation == self._generation and self._connected.is_set()
        if not current:
            # received on an earlier connection: its packet id means nothing now, and the
            # broker sends the message again on this one (then settled as a duplicate)
            log.debug(
                "not acknowledged: the connection that received it is gone",
                extra={"topic": message.topic, "mid": message.mid},
            )
            return
        self._client.ack(message.mid, message.qos)
        self.stats.acknowledged += 1
