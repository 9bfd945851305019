"""The MQTT gateway against a real mosquitto and a live node: readings land exactly once,
whatever restarts, and bad messages are logged and skipped; a broker that wants a password, TLS
and a client certificate gets them."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from typer.testing import CliRunner

from fixtures_node import PASSPHRASE, free_port
from gridledger.api.server import ApiServer
from gridledger.cli.main import app
from gridledger.core.keystore import save_key
from gridledger.ingest.batching import ReadingSubmitter, RetryPolicy
from gridledger.ingest.mqtt import MqttGateway, MqttSettings
from gridledger.ingest.readings import iso_utc
from gridledger.node.home import key_path
from gridledger.sdk import Client
from ingest_support import Broker, Certs, Ledger, make_certs, running_ledger, wait_for

GATEWAY = "gw-mqtt"
BASE = 1_782_000_000  # 2026-06-21T00:00:00Z
METERS = ("mq-1", "mq-2", "mq-bad", "mq-restart", "mq-resume", "mq-node", "mq-cli", "mq-clock",
          "mq-auth", "mq-denied", "mq-tls", "mq-tls-cli")  # fmt: skip
USER, PASSWORD = "gw-user", "correct horse battery"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    with running_ledger(tmp_path_factory.mktemp("ingest-mqtt") / "home") as led:
        led.add_gateway(GATEWAY)
        for meter in METERS:
            led.add_meter(meter, GATEWAY)
        yield led


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "mosquitto")
    b.start()
    try:
        yield b
    finally:
        b.stop()


@dataclass(frozen=True)
class SecureBroker:
    """A mosquitto that wants a user name and password on every listener: plain on
    ``broker.port``, TLS on ``tls_port``, TLS with a client certificate on ``mtls_port``."""

    broker: Broker
    tls_port: int
    mtls_port: int
    certs: Certs


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[SecureBroker]:
    certs = make_certs(tmp_path / "certs")
    passwords = tmp_path / "passwords"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwords), USER, PASSWORD],
        check=True,
        capture_output=True,
    )
    tls_port, mtls_port = free_port(), free_port()
    files = f"cafile {certs.ca}\ncertfile {certs.server_cert}\nkeyfile {certs.server_key}\n"
    b = Broker(
        tmp_path / "mosquitto",
        f"allow_anonymous false\npassword_file {passwords}\n"
        f"listener {tls_port} 127.0.0.1\n{files}"
        f"listener {mtls_port} 127.0.0.1\n{files}require_certificate true\n",
    )
    b.start()
    try:
        yield SecureBroker(b, tls_port, mtls_port, certs)
    finally:
        b.stop()


def reading(meter: str, i: int, **extra: Any) -> dict[str, Any]:
    """The i-th quarter hour of ``meter`` from BASE, with an energy that encodes both."""
    return {"meter": meter, "start": BASE + 900 * i, "length_s": 900,
            "energy_wh": 1000 * METERS.index(meter) + i, **extra}  # fmt: skip


def on_chain(ledger: Ledger, meter: str, count: int) -> bool:
    """Every one of the first ``count`` readings of ``meter`` is stored, with its energy."""
    for i in range(count):
        stored = ledger.stored(meter, BASE + 900 * i)
        if stored is None:
            return False
        assert stored["energy_wh"] == reading(meter, i)["energy_wh"]
    return True


def publish(
    port: int, payloads: list[bytes], topic: str = "meters/test", *, login: bool = False
) -> None:
    """Publish with QoS 1, returning once the broker has every message; ``login``: as USER."""
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    if login:
        pub.username_pw_set(USER, PASSWORD)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    try:
        for payload in payloads:
            pub.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        pub.disconnect()
        pub.loop_stop()


def encode(doc: Any) -> bytes:
    return msgspec.json.encode(doc)


@contextmanager
def running_gateway(
    ledger: Ledger,
    port: int,
    *,
    client_id: str = "gw-test",
    flush_ms: int = 50,
    batch_size: int = 100,
    url: str | None = None,
    clock: Callable[[], float] | None = None,
    ready: bool = True,
    host: str = "127.0.0.1",
    **broker_settings: Any,
) -> Iterator[MqttGateway]:
    """A gateway on a thread; stopped (and its errors re-raised) on exit.

    ``ready``: wait until it has subscribed; ``broker_settings``: more :class:`MqttSettings`
    (a login, TLS files)."""
    stop = threading.Event()
    errors: list[BaseException] = []
    with Client(url or ledger.url, timeout=30) as client:
        submitter = ReadingSubmitter(
            client, ledger.keys[GATEWAY], GATEWAY, batch_size=batch_size, stop=stop,
            retry=RetryPolicy(first_delay_s=0.1, max_delay_s=0.5),
        )  # fmt: skip
        settings = MqttSettings(
            host=host, port=port, topics=("meters/#",), client_id=client_id,
            batch_size=batch_size, flush_ms=flush_ms, settle_s=0, **broker_settings,
        )  # fmt: skip
        gateway = MqttGateway(settings, submitter, **({"clock": clock} if clock else {}))

        def run() -> None:
            try:
                gateway.run(stop)
            except BaseException as exc:  # reported to the test below
                errors.append(exc)

        thread = threading.Thread(target=run, name="gateway", daemon=True)
        thread.start()
        try:
            if ready:
                assert gateway.wait_ready(15), "the gateway did not subscribe"
            yield gateway
            assert thread.is_alive(), errors
        finally:
            stop.set()
            thread.join(15)
    assert not thread.is_alive()
    assert not errors, errors


def test_published_readings_land_on_the_chain_and_messages_are_acknowledged(
    ledger: Ledger, broker: Broker
) -> None:
    with running_gateway(ledger, broker.port) as gateway:
        singles = [encode(reading("mq-1", i)) for i in range(10)]
        # a list in one message, in the other spellings devices use
        batch = encode(
            [
                {"meter": "mq-2", "start": iso_utc(BASE + 900 * i), "interval_minutes": 15,
                 "energy_wh": reading("mq-2", i)["energy_wh"]}
                for i in range(20)
            ]
        )  # fmt: skip
        publish(broker.port, [*singles, batch])
        wait_for(lambda: on_chain(ledger, "mq-1", 10) and on_chain(ledger, "mq-2", 20))
        wait_for(lambda: gateway.stats.acknowledged == 11, what="11 acknowledgements")
        assert (gateway.stats.accepted, gateway.stats.refused) == (30, 0)

        # a device sending a reading again: already delivered, acknowledged, nothing stored
        root = ledger.state_root()
        publish(broker.port, [singles[0]])
        wait_for(lambda: gateway.stats.acknowledged == 12, what="the resent message's ack")
        assert gateway.stats.duplicates == 1
        assert ledger.stored("mq-1", BASE)["energy_wh"] == reading("mq-1", 0)["energy_wh"]  # type: ignore[index]
        assert ledger.state_root() != root  # only the gateway's nonce moved
        assert ledger.nonce(GATEWAY) > 0


def test_malformed_messages_are_logged_and_skipped(
    ledger: Ledger, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gridledger.ingest")
    with running_gateway(ledger, broker.port) as gateway:
        publish(
            broker.port,
            [
                b'{"meter": "mq-bad", "start": ',
                encode({**reading("mq-bad", 1), "energy_wh": 1.5}),
                encode({**reading("mq-bad", 2), "start": BASE + 60}),
                encode([reading("mq-bad", 0), {"meter": "mq-bad"}]),
            ],
            topic="meters/site-7",
        )
        wait_for(lambda: on_chain(ledger, "mq-bad", 1), what="the good reading")
        wait_for(lambda: gateway.stats.acknowledged == 4, what="every message acknowledged")
        assert gateway.stats.dropped_messages == 3
        assert gateway.stats.invalid == 4
        assert gateway.stats.accepted == 1
    dropped = [r for r in caplog.records if r.getMessage() == "reading dropped"]
    assert [getattr(r, "code", None) for r in dropped] == [
        "ingest.malformed_json",
        "ingest.non_integer_energy",
        "ingest.misaligned",
        "ingest.missing_field",
    ]
    assert {getattr(r, "topic", None) for r in dropped} == {"meters/site-7"}
    assert "wrong units" in getattr(dropped[1], "error", "")
    assert all(r.levelno == logging.WARNING for r in dropped)


def test_a_broker_restart_mid_stream_loses_and_duplicates_nothing(
    ledger: Ledger, broker: Broker
) -> None:
    total = 80
    # a long flush keeps readings received but unacknowledged when the broker goes away
    with running_gateway(ledger, broker.port, flush_ms=300, batch_size=25) as gateway:
        publish(broker.port, [encode(reading("mq-restart", i)) for i in range(total // 2)])
        broker.stop()
        broker.start()
        publish(broker.port, [encode(reading("mq-restart", i)) for i in range(total // 2, total)])
        wait_for(lambda: on_chain(ledger, "mq-restart", total), 30, "every reading on chain")
        # the chain stores a (meter, interval) once; each reading was accepted exactly once,
        # and the copies the broker sent again after the restart settled as duplicates
        wait_for(lambda: gateway.stats.accepted == total, what="every reading accepted")
        assert gateway.stats.connections >= 2
        assert gateway.stats.refused == 0


def test_a_restarted_gateway_resumes_its_session(ledger: Ledger, broker: Broker) -> None:
    with running_gateway(ledger, broker.port, client_id="gw-resume"):
        publish(broker.port, [encode(reading("mq-resume", i)) for i in range(10)])
        wait_for(lambda: on_chain(ledger, "mq-resume", 10))
    # published while no gateway runs: the broker keeps them in the session
    publish(broker.port, [encode(reading("mq-resume", i)) for i in range(10, 20)])
    with running_gateway(ledger, broker.port, client_id="gw-resume") as gateway:
        wait_for(lambda: on_chain(ledger, "mq-resume", 20))
        wait_for(lambda: gateway.stats.accepted == 10, what="the queued readings accepted")


def test_readings_wait_for_a_node_that_is_down(ledger: Ledger, broker: Broker) -> None:
    port = free_port()
    with running_gateway(
        ledger, broker.port, client_id="gw-node", url=f"http://127.0.0.1:{port}"
    ) as gateway:
        publish(broker.port, [encode(reading("mq-node", i)) for i in range(5)])
        wait_for(lambda: gateway.stats.messages == 5, what="the messages to arrive")
        assert gateway.stats.acknowledged == 0
        with ApiServer(ledger.chain.node, port=port):
            wait_for(
                lambda: on_chain(ledger, "mq-node", 5), what="the readings once the node is up"
            )
            wait_for(lambda: gateway.stats.acknowledged == 5, what="the acknowledgements")
        assert gateway.stats.accepted == 5


def test_a_reading_from_a_clock_running_ahead_waits_for_its_interval_to_end(
    ledger: Ledger, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    """The gateway's clock stands 2 minutes before BASE + 15 min here (the node's is months
    later, so the chain takes the readings as soon as the gateway lets them go)."""
    caplog.set_level(logging.INFO, logger="gridledger.ingest")
    now = [float(BASE + 900 - 120)]
    with running_gateway(ledger, broker.port, clock=lambda: now[0]) as gateway:
        publish(
            broker.port,
            [
                encode(reading("mq-clock", 0)),  # ends 2 minutes from "now": held
                encode(reading("mq-clock", 40)),  # ends 10 hours ahead: a wrong device clock
            ],
        )
        wait_for(lambda: gateway.stats.messages == 2, what="both messages")
        wait_for(lambda: gateway.stats.acknowledged == 1, what="the far one dropped")
        assert gateway.stats.batches == 0
        now[0] = BASE + 900
        wait_for(lambda: on_chain(ledger, "mq-clock", 1), what="the held reading")
        wait_for(lambda: gateway.stats.acknowledged == 2, what="its acknowledgement")
    assert ledger.stored("mq-clock", BASE + 900 * 40) is None
    [dropped] = [r for r in caplog.records if r.getMessage() == "reading dropped"]
    assert getattr(dropped, "code", None) == "ingest.future_interval"


def start_cli_gateway(
    ledger: Ledger, log: Path, *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``gridledger ingest mqtt`` as a process, with its JSON log lines going to ``log``."""
    home = ledger.chain.home
    save_key(key_path(home, GATEWAY), GATEWAY, ledger.keys[GATEWAY], PASSPHRASE)
    script = Path(sys.executable).with_name("gridledger")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "gridledger.cli"]
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [*command, "ingest", "mqtt", "--topic", "meters/#", "--gateway", GATEWAY,
             "--flush-ms", "50", "--home", str(home), "--node", ledger.url, *map(str, args)],
            env={**os.environ, "GRIDLEDGER_PASSPHRASE": PASSPHRASE, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )  # fmt: skip


def test_the_cli_gateway_logs_json_and_stops_on_sigterm(
    ledger: Ledger, broker: Broker, tmp_path: Path
) -> None:
    log = tmp_path / "gateway.log"
    proc = start_cli_gateway(
        ledger, log, "--broker", f"127.0.0.1:{broker.port}", "--client-id", "gw-cli"
    )
    try:

        def records() -> list[dict[str, Any]]:
            assert proc.poll() is None, log.read_text()
            return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]

        wait_for(lambda: any(r["msg"] == "subscribed" for r in records()), what="subscribed")
        publish(broker.port, [encode([reading("mq-cli", i) for i in range(6)])])
        wait_for(lambda: on_chain(ledger, "mq-cli", 6))
        committed = wait_for(
            lambda: [r for r in records() if r["msg"] == "batch committed"], what="the batch log"
        )
        assert committed[0]["accepted"] == 6
        assert committed[0]["gateway"] == GATEWAY
        assert committed[0]["level"] == "info"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, log.read_text()
    assert json.loads(log.read_text().splitlines()[-1])["msg"] == "gateway stopped"


def test_the_gateway_logs_in_to_a_broker_that_requires_a_password(
    ledger: Ledger, secure_broker: SecureBroker
) -> None:
    port = secure_broker.broker.port
    with running_gateway(ledger, port, client_id="gw-auth", username=USER, password=PASSWORD):
        publish(port, [encode(reading("mq-auth", i)) for i in range(5)], login=True)
        wait_for(lambda: on_chain(ledger, "mq-auth", 5))


def test_a_wrong_password_is_logged_and_retried_without_crashing(
    ledger: Ledger, secure_broker: SecureBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gridledger.ingest")
    port = secure_broker.broker.port

    def refusals() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.getMessage() == "broker refused the connection"]

    with running_gateway(
        ledger, port, client_id="gw-denied", username=USER, password="wrong", ready=False,
        reconnect_min_s=1, reconnect_max_s=1,
    ) as gateway:  # fmt: skip
        publish(port, [encode(reading("mq-denied", 0))], login=True)
        # the gateway stays up and tries again: a password can be fixed on the broker's side
        wait_for(lambda: len(refusals()) >= 2, what="two refused logins")
        assert gateway.stats.connections == 0
        assert gateway.stats.messages == 0
    record = refusals()[0]
    assert record.levelno == logging.ERROR
    # mosquitto answers a wrong password with "Not authorized" (0x87), some brokers with 0x86
    assert getattr(record, "reason", None) in {"Not authorized", "Bad user name or password"}
    assert "GRIDLEDGER_MQTT_PASSWORD" in getattr(record, "hint", "")
    assert ledger.stored("mq-denied", BASE) is None


def test_the_gateway_connects_over_tls_and_verifies_the_broker(
    ledger: Ledger, secure_broker: SecureBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gridledger.ingest")
    sb = secure_broker
    login = {"username": USER, "password": PASSWORD}
    with running_gateway(
        ledger, sb.tls_port, client_id="gw-tls", tls_ca=str(sb.certs.ca), **login
    ) as gateway:
        publish(sb.broker.port, [encode(reading("mq-tls", i)) for i in range(5)], login=True)
        wait_for(lambda: on_chain(ledger, "mq-tls", 5))
        assert gateway.stats.connections == 1

    def failures() -> list[logging.LogRecord]:
        return [
            r for r in caplog.records
            if r.getMessage() in {"cannot connect to broker; retrying",
                                  "disconnected from broker; reconnecting"}
        ]  # fmt: skip

    # plain MQTT to a TLS listener: the broker hangs up, the gateway never connects
    caplog.clear()
    with running_gateway(
        ledger, sb.tls_port, client_id="gw-no-tls", ready=False, **login
    ) as gateway:
        wait_for(failures, what="the failed connection logged")
        assert gateway.stats.connections == 0

    # a certificate for 127.0.0.1 does not pass for another name of the same host
    caplog.clear()
    with running_gateway(
        ledger, sb.tls_port, client_id="gw-bad-name", ready=False, host="localhost",
        tls_ca=str(sb.certs.ca), **login,
    ) as gateway:  # fmt: skip
        [failure, *_] = wait_for(failures, what="the failed connection logged")
        assert "mismatch" in getattr(failure, "error", "")
        assert gateway.stats.connections == 0


def test_the_cli_gateway_logs_in_with_a_password_and_a_client_certificate(
    ledger: Ledger, secure_broker: SecureBroker, tmp_path: Path
) -> None:
    sb = secure_broker
    log = tmp_path / "gateway.log"
    proc = start_cli_gateway(
        ledger, log, "--broker", f"127.0.0.1:{sb.mtls_port}", "--client-id", "gw-tls-cli",
        "--username", USER, "--tls-ca", sb.certs.ca, "--tls-cert", sb.certs.client_cert,
        "--tls-key", sb.certs.client_key, env={"GRIDLEDGER_MQTT_PASSWORD": PASSWORD},
    )  # fmt: skip
    try:

        def subscribed() -> bool:
            assert proc.poll() is None, log.read_text()
            return '"msg": "subscribed"' in log.read_text()

        wait_for(subscribed, what="subscribed")
        publish(sb.broker.port, [encode([reading("mq-tls-cli", i) for i in range(4)])], login=True)
        wait_for(lambda: on_chain(ledger, "mq-tls-cli", 4))
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, log.read_text()
    assert PASSWORD not in log.read_text()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--username", USER], "ingest.no_broker_password"),
        (["--tls-ca", "{ca}", "--tls-cert", "{ca}"], "ingest.tls_options"),
        (["--tls-cert", "{ca}", "--tls-key", "{ca}"], "ingest.tls_options"),
    ],
)
def test_the_cli_refuses_incomplete_broker_credentials(
    tmp_path: Path, args: list[str], code: str
) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("not read: the options are refused first\n")
    result = CliRunner().invoke(
        app,
        ["ingest", "mqtt", "--broker", "127.0.0.1:1883", "--topic", "meters/#",
         "--gateway", GATEWAY, "--home", str(tmp_path / "home"),
         *(a.format(ca=ca) for a in args)],
        env={"GRIDLEDGER_MQTT_PASSWORD": None, "GRIDLEDGER_PASSPHRASE": PASSPHRASE},
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert code in result.output
