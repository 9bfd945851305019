"""The consortium's ordering log in etcd: who proposes which block at which position.

etcd (Raft, strict-serializable per Jepsen) decides one thing: which proposal holds each
position of the log. A node offers its signed, executed block for the next position with one
etcd transaction that succeeds only if that position and every later one are still free
(``create_revision == 0`` over the range, a compare-and-swap; etcd's locks are never used,
Jepsen showed them unsafe). Every node reads the positions in order and imports each block
through the one block import path; a block that does not extend the chain (a lost race, an
invalid block) is skipped by every honest node alike, since they all judge it against the
same state.

Keys, under ``<prefix><chain id>/``:

- ``log/<position, 12 digits>``: a block, msgpack ``[header, signature, [tx, ...]]`` with the
  header as canonical JSON bytes and each transaction as its canonical JSON bytes;
- ``att/<height, 12 digits>/<org>``: an organisation's canonical attestation for a height.

Entries are pruned once every organisation attested them (or once the log holds more than its
window); a node that missed pruned entries catches up from its peers' block APIs.

etcd3gw is a synchronous client over etcd's HTTP/JSON gateway; this module adds failover
across the cluster's members (a node talks to its own organisation's member first and moves to
the next one when it does not answer) and a watch that only wakes the reader, which reads keys
rather than revisions, so etcd's compaction never loses it anything.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
import requests
from etcd3gw.client import Etcd3Client
from etcd3gw.exceptions import Etcd3Exception

from gridledger.core.types import Block, BlockHeader, decode_tx

log = logging.getLogger("gridledger.network")

T = TypeVar("T")

POSITION_DIGITS = 12
WATCH_IDLE_S = 10.0
"""A watch stream silent this long is opened again (the reader polls meanwhile anyway)."""


class EtcdUnavailable(Exception):
    """No etcd member answered (the cluster lost its quorum, or this node is cut off)."""


@dataclass(frozen=True)
class Endpoint:
    """One etcd member's client URL and the TLS files to reach it."""

    url: str
    """``https://host:port`` (or ``http://`` for a test without TLS)."""
    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    def session(self) -> requests.Session:
        """A session that trusts the consortium's CA alone and presents this organisation's
        certificate. ``trust_env`` is off: requests would otherwise let ``REQUESTS_CA_BUNDLE``
        replace the CA, and route etcd traffic through an HTTP proxy from the environment."""
        session = requests.Session()
        session.trust_env = False
        session.verify = self.ca if self.ca else True
        if self.cert and self.key:
            session.cert = (self.cert, self.key)
        return session

    def client(self, timeout_s: float) -> Etcd3Client:
        scheme, rest = self.url.split("://", 1)
        host, port = rest.rstrip("/").rsplit(":", 1)
        return Etcd3Client(
            host=host.strip("[]"),
            port=int(port),
            protocol=scheme,
            timeout=timeout_s,
            api_path="/v3/",
            session=self.session(),
        )


_Wire = tuple[bytes, str, list[bytes]]
_encode_wire = msgspec.msgpack.Encoder().encode
_decode_wire = msgspec.msgpack.Decoder(tuple[bytes, str, list[bytes]]).decode


def encode_block(block: Block, raws: Sequence[bytes]) -> bytes:
    """A block as the log holds it (canonical header and transactions, so the receiver has
    the exact bytes that were signed and hashed)."""
    return _encode_wire((block.header.encode(), block.signature, list(raws)))


def decode_block(data: bytes) -> tuple[Block, list[bytes]]:
    """A log entry back into a block and its canonical transactions.

    Raises:
        ValueError: the entry is not a block (the caller skips it like any invalid block).
    """
    try:
        header_raw, signature, raws = _decode_wire(data)
        header = msgspec.json.decode(header_raw, type=BlockHeader)
        txs = [decode_tx(raw) for raw in raws]
    except Exception as exc:  # any decoding failure: the entry is not a block
        raise ValueError(f"not a block: {exc}") from None
    return Block(header, txs, signature), raws


def _range_end(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class EtcdLog:
    """The ordering log and attestation board of one chain in an etcd cluster."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        chain_id: str,
        prefix: str = "/gridledger/",
        timeout_s: float = 3.0,
    ) -> None:
        if not endpoints:
            raise ValueError("an etcd log needs at least one endpoint")
        self.endpoints = list(endpoints)
        self.timeout_s = timeout_s
        self.base = f"{prefix}{chain_id}/"
        self.log_prefix = self.base + "log/"
        self.att_prefix = self.base + "att/"
        self._clients = [e.client(timeout_s) for e in self.endpoints]
        self._current = 0
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._watching = False
        self._watch_thread: threading.Thread | None = None
        self._cancel_watch: Callable[[], None] | None = None

    # keys ------------------------------------------------------------------------------------
    def position_key(self, position: int) -> str:
        return f"{self.log_prefix}{position:0{POSITION_DIGITS}d}"

    def attestation_key(self, height: int, org: str) -> str:
        return f"{self.att_prefix}{height:0{POSITION_DIGITS}d}/{org}"

    # failover --------------------------------------------------------------------------------
    def _call(self, fn: Callable[[Etcd3Client], T]) -> T:
        """Run ``fn`` on the current member, moving on to the next ones when it fails to
        answer; raise :class:`EtcdUnavailable` when none did."""
        errors = []
        with self._lock:
            start = self._current
        n = len(self._clients)
        for step in range(n):
            i = (start + step) % n
            try:
                result = fn(self._clients[i])
            except (requests.RequestException, Etcd3Exception) as exc:
                errors.append(f"{self.endpoints[i].url}: {type(exc).__name__}")
                continue
            if i != start:
                with self._lock:
                    self._current = i
                log.info("etcd failover", extra={"endpoint": self.endpoints[i].url})
            return result
        raise EtcdUnavailable("no etcd member answered: " + "; ".join(errors))

    # the log ---------------------------------------------------------------------------------
    def offer(self, position: int, data: bytes) -> bool:
        """Put ``data`` at ``position`` if neither it nor any later position holds an entry.
        True when this offer holds it (also when a retried request finds its own earlier
        write there).

        Not a plain create-if-absent: etcd forgets a deleted key's creation, so a node that
        fell behind (paused, or slow) would win a position pruned since, and commit a block
        no other node ever reads. Comparing the whole rest of the log refuses that offer."""
        key = self.position_key(position)
        txn = {
            "compare": [{"key": _b64(key), "range_end": _b64(_range_end(self.log_prefix)),
                         "target": "CREATE", "result": "EQUAL", "create_revision": 0}],
            "success": [{"request_put": {"key": _b64(key),
                                         "value": base64.b64encode(data).decode()}}],
            "failure": [],
        }  # fmt: skip
        if self._call(lambda c: c.transaction(txn)).get("succeeded", False):
            return True
        # a request that timed out may have been applied before the retry: look
        return self.entry(position) == data

    def entry(self, position: int) -> bytes | None:
        key = self.position_key(position)
        values = self._call(lambda c: c.get(key))
        return values[0] if values else None

    def entries(self, start: int, limit: int = 64) -> list[tuple[int, bytes]]:
        """Up to ``limit`` entries from position ``start`` on, in order (pruned ones are
        simply absent)."""
        first = self.position_key(start)
        end = _range_end(self.log_prefix)
        rows = self._call(
            lambda c: c.get(first, metadata=True, range_end=end, limit=limit, sort_order=None)
        )
        out = []
        for value, meta in rows:
            key = meta["key"]
            name = key.decode() if isinstance(key, bytes) else str(key)
            out.append((int(name[len(self.log_prefix) :]), value))
        out.sort()
        return out

    def first_position(self) -> int | None:
        """The lowest position still held (None when the log is empty)."""
        got = self.entries(0, limit=1)
        return got[0][0] if got else None

    def last_position(self) -> int | None:
        end = _range_end(self.log_prefix)
        rows = self._call(
            lambda c: c.get(
                self.log_prefix, metadata=True, range_end=end, limit=1,
                sort_order="descend", sort_target="key",
            )
        )  # fmt: skip
        if not rows:
            return None
        key = rows[0][1]["key"]
        name = key.decode() if isinstance(key, bytes) else str(key)
        return int(name[len(self.log_prefix) :])

    def prune(self, below: int, below_height: int) -> None:
        """Delete log entries before position ``below`` and attestations of heights before
        ``below_height``."""
        if below > 0:
            start, end = self.position_key(0), self.position_key(below)
            self._call(lambda c: _delete_range(c, start, end))
        if below_height > 0:
            start, end = self.attestation_key(0, ""), self.attestation_key(below_height, "")
            self._call(lambda c: _delete_range(c, start, end))

    def defragment(self) -> None:
        """Give the space of pruned entries back on the member this node talks to (etcd
        reuses freed pages but keeps the file until defragmented; against its backend quota
        that matters). The member pauses while it rewrites its file: a few milliseconds for
        a pruned window."""
        self._call(lambda c: c.post(c.get_url("/maintenance/defragment"), json={}))

    # attestations ----------------------------------------------------------------------------
    def publish(self, height: int, org: str, attestation: bytes) -> None:
        key = self.attestation_key(height, org)
        self._call(lambda c: c.put(key, attestation))

    def attestations(self, from_height: int, limit: int = 512) -> list[bytes]:
        """Attestations of heights ``from_height`` on (up to ``limit``), by height then org."""
        first = self.attestation_key(from_height, "")
        end = _range_end(self.att_prefix)
        return self._call(lambda c: c.get(first, range_end=end, limit=limit))

    # waking ----------------------------------------------------------------------------------
    def wait(self, timeout_s: float) -> None:
        """Sleep until something under the chain's prefix changes, or ``timeout_s`` passes."""
        if self._changed.wait(timeout_s):
            self._changed.clear()

    def poke(self) -> None:
        """Wake :meth:`wait` (new local work, or shutdown)."""
        self._changed.set()

    def start_watch(self) -> None:
        """Watch the chain's prefix in the background; each change wakes :meth:`wait`."""
        self._watching = True
        self._watch_thread = threading.Thread(target=self._watch, name="etcd-watch", daemon=True)
        self._watch_thread.start()

    def stop_watch(self) -> None:
        self._watching = False
        cancel = self._cancel_watch
        if cancel is not None:
            # closing a stream another thread reads waits for that read to time out: let a
            # helper wait, not the caller (the watch thread ends at its next line or time-out)
            threading.Thread(target=_quietly, args=(cancel,), daemon=True).start()
        self._changed.set()

    def _watch(self) -> None:
        # etcd3gw's watch cannot tell its caller that the stream died, so the stream is read
        # here: a POST to the gateway's /v3/watch, one JSON object per line; any line wakes the
        # reader. A silent stream is re-opened every 10 s; a dead member, on the next one.
        i = 0
        while self._watching:
            endpoint = self.endpoints[i % len(self.endpoints)]
            i += 1
            session = endpoint.session()
            request = {"create_request": {"key": _b64(self.base), "range_end": _b64(
                _range_end(self.base))}}  # fmt: skip
            try:
                with session.post(
                    endpoint.url.rstrip("/") + "/v3/watch",
                    json=request,
                    stream=True,
                    timeout=(self.timeout_s, WATCH_IDLE_S),
                ) as response:
                    self._cancel_watch = response.close
                    self._changed.set()  # anything missed while (re)connecting
                    for _ in response.iter_lines():
                        self._changed.set()
                        if not self._watching:
                            break
                i -= 1  # the member answered: stay with it
            except Exception:  # timed out, or the member went away
                log.debug("etcd watch ended", exc_info=True)
            finally:
                session.close()
            if self._watching:
                time.sleep(0.05)


def _quietly(fn: Callable[[], object]) -> None:
    try:
        fn()
    except Exception:  # the stream may already be gone
        log.debug("closing the watch failed", exc_info=True)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _delete_range(client: Etcd3Client, start: str, end: str) -> Any:
    return client.post(
        client.get_url("/kv/deleterange"), json={"key": _b64(start), "range_end": _b64(end)}
    )
