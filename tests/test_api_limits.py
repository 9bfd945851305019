"""Bounded resources against a live server on loopback: slow headers, stalled bodies, too many
bodies or bytes at once. Each is refused or cut off, and honest requests go on being served.

The server runs with small limits (half-second deadlines, two bodies, 1 MiB) so the tests are
quick; the defaults are the same code with larger numbers.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from fixtures_node import Chain, running_chain
from gridledger.api import ApiServer
from gridledger.api.limits import BodyLimits

DEADLINE_S = 0.5


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Chain, ApiServer]]:
    limits = BodyLimits(max_bodies=2, max_bytes=1 << 20, idle_s=DEADLINE_S, total_s=3.0)
    with running_chain(tmp_path_factory.mktemp("limits") / "home") as chain:
        server = ApiServer(chain.node, header_timeout_s=DEADLINE_S, body_limits=limits)
        with server:
            yield chain, server


def connect(server: ApiServer) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=10)
    sock.settimeout(10)
    return sock


def closed_within(sock: socket.socket, seconds: float) -> bytes:
    """Read until the server closes; fail if it is still open after ``seconds``."""
    start = time.monotonic()
    got = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    assert time.monotonic() - start < seconds
    return got


def partial_upload(server: ApiServer, path: str, declared: int, sent: bytes) -> socket.socket:
    sock = connect(server)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\n\r\n".encode()
        + sent
    )
    return sock


def test_a_connection_that_never_sends_headers_is_closed(
    served: tuple[Chain, ApiServer],
) -> None:
    _, server = served
    sock = connect(server)
    try:
        assert closed_within(sock, DEADLINE_S + 3) == b""
    finally:
        sock.close()


def test_headers_sent_a_line_at_a_time_are_cut_off(served: tuple[Chain, ApiServer]) -> None:
    _, server = served
    sock = connect(server)
    try:
        sock.sendall(b"POST /v1/txs HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        start = time.monotonic()
        cut_at = None
        for _ in range(40):  # a header line every 0.2 s: the headers never end
            time.sleep(0.2)
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                cut_at = time.monotonic()
                break
        assert cut_at is not None
        assert cut_at - start < DEADLINE_S + 3
    finally:
        sock.close()


def test_a_stalled_body_gets_408(served: tuple[Chain, ApiServer]) -> None:
    _, server = served
    sock = partial_upload(server, "/v1/txs", 500, b'{"chain_id":')
    try:
        answer = closed_within(sock, DEADLINE_S + 5)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"api.body_timeout" in answer


def test_more_bodies_than_the_budget_are_refused_at_once_then_served(
    served: tuple[Chain, ApiServer],
) -> None:
    chain, server = served
    slow = [partial_upload(server, "/v1/txs/batch", 10_000, b"[") for _ in range(2)]
    try:
        time.sleep(0.1)
        tx = chain.sign("alice", "funds.transfer", {"to": "bob", "amount": 1})
        busy = httpx.post(server.url + "/v1/txs", content=tx.encode(), timeout=5)
        assert busy.status_code == 503
        assert busy.json()["error"]["code"] == "api.busy"
        assert busy.headers["retry-after"] == "1"
        assert httpx.get(server.url + "/v1/status", timeout=5).status_code == 200  # no body
    finally:
        for sock in slow:
            sock.close()
    deadline = time.monotonic() + 10
    while True:  # the slow bodies' slots free up once their connections are gone
        ok = httpx.post(server.url + "/v1/txs", content=tx.encode(), timeout=5)
        if ok.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert ok.status_code == 202, ok.text


def test_more_bytes_than_the_budget_are_refused(served: tuple[Chain, ApiServer]) -> None:
    _, server = served
    big = b"[" + b" " * (2 << 20) + b"]"
    answer = httpx.post(server.url + "/v1/txs/batch", content=big, timeout=10)
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "api.busy"
    assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200


def test_an_idle_keep_alive_connection_is_closed(served: tuple[Chain, ApiServer]) -> None:
    _, server = served
    sock = connect(server)
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = closed_within(sock, 10)
        assert answer.startswith(b"HTTP/1.1 200")
        assert answer.endswith(b"}")
    finally:
        sock.close()


def test_a_body_declared_larger_than_any_endpoint_takes_is_refused_before_reading(
    served: tuple[Chain, ApiServer],
) -> None:
    """413 from the headers alone; the connection ends instead of the node reading on."""
    _, server = served
    sock = partial_upload(server, "/v1/txs/batch", 60 << 20, b"[" + b" " * 65536)
    try:
        answer = closed_within(sock, 5)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
    assert b"api.body_too_large" in answer
    assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200


def test_a_refused_body_ends_its_connection(served: tuple[Chain, ApiServer]) -> None:
    """A route that refuses a body before reading it (here: over a transaction's size) closes
    the connection rather than swallowing the rest of the upload."""
    _, server = served
    sock = partial_upload(server, "/v1/txs", 8 << 20, b"{" + b" " * 65536)
    try:
        answer = closed_within(sock, 5)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
    assert b"tx.oversize" in answer
