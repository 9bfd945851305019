"""A synchronous client of the node's HTTP API (``docs/api.md``), on httpx.

::

    from gridledger.sdk import Client
    from gridledger.core.keystore import load_key

    with Client("http://127.0.0.1:8645") as client:
        key = load_key(Path(".gridledger/keys/operator.json"), passphrase)
        result = client.send(key, "operator", "funds.mint", {"to": "alice", "amount": 1000})
        if not result.ok:
            print(result.code, result.message)

Every refusal raises :class:`~gridledger.sdk.errors.ApiError` with the node's error code; a
transaction that commits but fails (insufficient balance, say) is not an exception: its
:class:`Committed` result has ``ok == False`` and the code (or call ``raise_for_status()``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import httpx
import msgspec

from gridledger.core.crypto import SigningKey
from gridledger.core.types import Receipt, Transaction
from gridledger.sdk.carbon import Carbon
from gridledger.sdk.certificates import Certificates
from gridledger.sdk.claims import Claims
from gridledger.sdk.community import Community
from gridledger.sdk.credits import Allowances, Credits
from gridledger.sdk.errors import (
    ApiError,
    InvalidInput,
    ReceiptTimeout,
    SdkError,
    TransactionFailed,
    TransportError,
)
from gridledger.sdk.exchange import Exchange
from gridledger.sdk.market import Market
from gridledger.sdk.products import Products
from gridledger.sdk.tx import sign_tx

DEFAULT_URL = "http://127.0.0.1:8645"
MAX_BATCH = 10_000
MAX_WAIT_S = 60.0
NONCE_ATTEMPTS = 3
"""Tries of :meth:`Client.send` when another client took the nonce it picked."""

TxLike = Transaction | Mapping[str, Any] | bytes


@dataclass(frozen=True)
class Committed:
    """A committed transaction: where it is and what its receipt says."""

    hash: str
    height: int
    index: int
    """Position in its block."""
    receipt: Receipt

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Committed:
        try:
            receipt = msgspec.convert(obj["receipt"], Receipt, strict=True)
            return cls(str(obj["hash"]), int(obj["height"]), int(obj["index"]), receipt)
        except (KeyError, TypeError, ValueError, msgspec.ValidationError) as exc:
            raise SdkError("sdk.bad_response", f"not a receipt response: {exc}") from None

    @property
    def ok(self) -> bool:
        return self.receipt.ok

    @property
    def status(self) -> str:
        return self.receipt.status

    @property
    def code(self) -> str | None:
        return self.receipt.code

    @property
    def message(self) -> str | None:
        return self.receipt.message

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.receipt.events

    def raise_for_status(self) -> Committed:
        """Return ``self`` when the transaction succeeded; raise :class:`TransactionFailed`."""
        if not self.ok:
            raise TransactionFailed(self)
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "hash": self.hash,
            "height": self.height,
            "index": self.index,
            "receipt": msgspec.to_builtins(self.receipt),
        }


def _segment(part: str) -> str:
    # "." and ".." would be folded away by URL normalisation; send them percent-encoded
    if part in {".", ".."}:
        return part.replace(".", "%2E")
    return quote(part, safe="")


def _key_path(key: str) -> str:
    return "/".join(_segment(p) for p in key.split("/"))


def _encode_tx(tx: TxLike) -> bytes:
    if isinstance(tx, Transaction):
        return tx.encode()
    if isinstance(tx, bytes | bytearray | memoryview):
        return bytes(tx)
    if isinstance(tx, Mapping):
        return msgspec.json.encode(dict(tx))
    raise InvalidInput("tx.malformed", f"cannot send a {type(tx).__name__} as a transaction")


def _check_wait(wait: float) -> None:
    if not 0 <= wait <= MAX_WAIT_S:
        raise InvalidInput("sdk.invalid_wait", f"wait is 0 to {MAX_WAIT_S:g} seconds")


def _sse(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(event name, data) of each event in a text/event-stream (comments and pings skipped)."""
    event = "message"
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value


class Client:
    """A connection to one node's API.

    Args:
        base_url: the node's API, e.g. ``http://127.0.0.1:8645``.
        timeout: seconds to wait for an answer (waits for receipts add their own time).
        http: an ``httpx.Client`` to send requests through (e.g. an in-process test client);
            the caller keeps ownership of it.
        headers: extra headers for every request (an API gateway's token, say).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidInput("sdk.invalid_url", f"{base_url!r} is not an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)
        self._headers = dict(headers or {})
        self._chain_id: str | None = None

    # plumbing ------------------------------------------------------------------------------
    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        extra_wait: float = 0.0,
    ) -> httpx.Response:
        headers = dict(self._headers)
        if content is not None:
            headers["content-type"] = "application/json"
        try:
            response = self._http.request(
                method,
                self.base_url + path,
                params={k: v for k, v in (params or {}).items() if v is not None},
                content=content,
                headers=headers,
                timeout=self.timeout + extra_wait,
            )
        except httpx.TimeoutException as exc:
            raise TransportError(
                "sdk.timeout", f"{self.base_url} did not answer in time: {exc}"
            ) from None
        except httpx.HTTPError as exc:
            raise TransportError(
                "sdk.unreachable", f"cannot reach {self.base_url}: {exc}"
            ) from None
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        return response

    def _get(self, path: str, **params: Any) -> Any:
        response = self._request("GET", path, params=params)
        try:
            return response.json()
        except ValueError:
            raise SdkError("sdk.bad_response", f"GET {path} did not answer JSON") from None

    # node ----------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Chain id, tip height/hash/time, state root, pending transactions, organisation."""
        status: dict[str, Any] = self._get("/v1/status")
        self._chain_id = status.get("chain_id", self._chain_id)
        return status

    @property
    def chain_id(self) -> str:
        """The node's chain id (asked once, then remembered)."""
        if self._chain_id is None:
            self.status()
        if not isinstance(self._chain_id, str):
            raise SdkError("sdk.bad_response", "the node's status has no chain_id")
        return self._chain_id

    def rules(self, height: int | None = None) -> dict[str, Any]:
        """The chain rules at ``height`` (the next block's by default) and the scheduled
        upgrades (``GET /v1/chain/rules``)."""
        params = {} if height is None else {"height": height}
        return dict(self._get("/v1/chain/rules", **params))

    def node_keys(self) -> list[dict[str, Any]]:
        """Every organisation's node key history, ``[{"org", "keys": [{"from_height",
        "node_key"}]}]`` (``GET /v1/consortium/node-keys``); for a verifier's keys file take
        :func:`gridledger.sdk.consortium_keys.export_keys` from a node you trust."""
        return list(self._get("/v1/consortium/node-keys")["node_keys"])

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("/healthz")
        return result

    def metrics(self) -> str:
        """The node's Prometheus metrics, as text."""
        return self._request("GET", "/metrics").text

    # submitting ----------------------------------------------------------------------------
    def submit(self, tx: TxLike) -> str:
        """Submit a signed transaction; return its hash once the node admitted it.

        Raises:
            ApiError: the node refused it (``tx.bad_signature``, ``tx.nonce_replayed``...).
        """
        body = self._request("POST", "/v1/txs", content=_encode_tx(tx)).json()
        return str(body["hash"])

    def submit_and_wait(self, tx: TxLike, wait: float = 10.0) -> Committed:
        """Submit and wait up to ``wait`` seconds (at most 60) for the receipt.

        Raises:
            ApiError: refused at admission.
            ReceiptTimeout: admitted, but not committed within ``wait``.
        """
        _check_wait(wait)
        response = self._request(
            "POST", "/v1/txs", params={"wait": wait}, content=_encode_tx(tx), extra_wait=wait
        )
        body = response.json()
        if response.status_code == 202:
            raise ReceiptTimeout(str(body["hash"]), wait)
        return Committed.from_json(body)

    def submit_many(self, txs: Iterable[TxLike]) -> list[str | ApiError]:
        """Submit many transactions (in requests of up to 10,000); one result per item.

        Each result is the hash of an admitted transaction or the :class:`ApiError` (with
        ``status`` None) that refused it; one refusal does not stop the others.
        """
        results: list[str | ApiError | None] = []
        batch: list[tuple[int, bytes]] = []

        def flush() -> None:
            if not batch:
                return
            payload = b"[" + b",".join(raw for _, raw in batch) + b"]"
            answers = self._request("POST", "/v1/txs/batch", content=payload).json()
            if not isinstance(answers, list) or len(answers) != len(batch):
                raise SdkError("sdk.bad_response", "the batch answer does not match the batch")
            for (position, _), item in zip(batch, answers, strict=True):
                if "hash" in item:
                    results[position] = str(item["hash"])
                else:
                    err = item.get("error") or {}
                    results[position] = ApiError(str(err.get("code")), str(err.get("message")))
            batch.clear()

        for tx in txs:
            raw = _encode_tx(tx)
            results.append(None)
            # one item that is not JSON would make the whole array unreadable to the node
            try:
                msgspec.json.decode(raw)
            except msgspec.DecodeError as exc:
                results[-1] = ApiError("tx.malformed", f"not valid JSON: {exc}")
                continue
            batch.append((len(results) - 1, raw))
            if len(batch) == MAX_BATCH:
                flush()
        flush()
        return [r for r in results if r is not None]  # every position is filled by now

    def send(
        self,
        key: SigningKey,
        sender: str,
        kind: str,
        body: Mapping[str, Any],
        wait: float = 10.0,
        *,
        nonce: int | None = None,
    ) -> Committed:
        """Sign a transaction with ``key`` for ``sender``, submit it, and wait for its receipt.

        The chain id is asked once per client; the nonce is the account's ``next_nonce``
        unless given. If another client used that nonce first, a fresh one is tried.

        Raises:
            ApiError: refused at admission.
            ReceiptTimeout: admitted, but not committed within ``wait`` seconds.
            InvalidInput: a float or out-of-range integer in ``body``.
        """
        _check_wait(wait)
        chain_id = self.chain_id
        attempts = 1 if nonce is not None else NONCE_ATTEMPTS
        for attempt in range(attempts):
            use = nonce if nonce is not None else self.next_nonce(sender)
            tx = sign_tx(key, chain_id, kind, sender, use, body)
            try:
                return self.submit_and_wait(tx, wait)
            except ApiError as exc:
                if exc.code != "tx.nonce_replayed" or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # transactions --------------------------------------------------------------------------
    def receipt(self, tx_hash: str, wait: float = 0.0) -> Committed:
        """The receipt of a committed transaction, waiting up to ``wait`` seconds for it.

        Raises:
            ApiError: ``not_found`` when not committed (yet).
        """
        _check_wait(wait)
        path = f"/v1/txs/{quote(tx_hash, safe='')}/receipt"
        response = self._request("GET", path, params={"wait": wait or None}, extra_wait=wait)
        return Committed.from_json(response.json())

    def tx(self, tx_hash: str) -> dict[str, Any]:
        """A committed transaction with receipt, height, index and block hash."""
        result: dict[str, Any] = self._get(f"/v1/txs/{quote(tx_hash, safe='')}")
        return result

    def tx_proof(self, tx_hash: str) -> dict[str, Any]:
        """Inclusion proof of a transaction (check with ``sdk.proofs.verify_tx_proof``)."""
        result: dict[str, Any] = self._get(f"/v1/txs/{quote(tx_hash, safe='')}/proof")
        return result

    # blocks --------------------------------------------------------------------------------
    def block(self, height: int) -> dict[str, Any]:
        """A block with its header, signature, transactions and receipts."""
        result: dict[str, Any] = self._get(f"/v1/blocks/{int(height)}")
        return result

    def header(self, height: int) -> dict[str, Any]:
        """A block's header with its hash and signature."""
        result: dict[str, Any] = self._get(f"/v1/blocks/{int(height)}/header")
        return result

    def latest_block(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("/v1/blocks/latest")
        return result

    def blocks(
        self,
        from_height: int | None = None,
        limit: int = 20,
        order: Literal["desc", "asc"] = "desc",
    ) -> dict[str, Any]:
        """A page of block summaries: ``{"blocks": [...], "next": from_height or None}``."""
        result: dict[str, Any] = self._get(
            "/v1/blocks", **{"from": from_height, "limit": limit, "order": order}
        )
        return result

    # state ---------------------------------------------------------------------------------
    def state(self, key: str) -> dict[str, Any]:
        """A raw state value: ``{"key", "value_hex", "value", "json_value"}``."""
        result: dict[str, Any] = self._get(f"/v1/state/{_key_path(key)}")
        return result

    def state_proof(self, key: str, height: int | None = None) -> dict[str, Any]:
        """A state value (or absence) with its proof (``sdk.proofs.verify_state_proof``),
        at the tip or as of a ``height`` the node keeps."""
        params = {} if height is None else {"height": int(height)}
        result: dict[str, Any] = self._get(f"/v1/state/{_key_path(key)}/proof", **params)
        return result

    def account(self, account: str) -> dict[str, Any]:
        """Registry record, balance (minor units), last nonce and next nonce."""
        result: dict[str, Any] = self._get(f"/v1/accounts/{quote(account, safe='')}")
        return result

    def next_nonce(self, account: str) -> int:
        return int(self.account(account)["next_nonce"])

    def accounts(
        self, org: str | None = None, after: str | None = None, limit: int = 100
    ) -> dict[str, Any]:
        """A page of accounts: ``{"accounts": [...], "next": after or None}``."""
        result: dict[str, Any] = self._get("/v1/accounts", org=org, after=after, limit=limit)
        return result

    def organisations(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get("/v1/organisations")["organisations"]
        return result

    # assets and meter data -----------------------------------------------------------------
    def devices(
        self,
        owner_org: str | None = None,
        technology: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        """A page of generation devices: ``{"devices": [...], "next": after or None}``."""
        result: dict[str, Any] = self._get(
            "/v1/devices", owner_org=owner_org, technology=technology, after=after, limit=limit
        )
        return result

    def device(self, device: str) -> dict[str, Any]:
        """A device's registry record with the ids of its meters (``meters``)."""
        result: dict[str, Any] = self._get(f"/v1/devices/{quote(device, safe='')}")
        return result

    def sites(
        self, owner_org: str | None = None, after: str | None = None, limit: int = 100
    ) -> dict[str, Any]:
        """A page of consumption sites: ``{"sites": [...], "next": after or None}``."""
        result: dict[str, Any] = self._get(
            "/v1/sites", owner_org=owner_org, after=after, limit=limit
        )
        return result

    def site(self, site: str) -> dict[str, Any]:
        """A site's registry record with the ids of its meters (``meters``)."""
        result: dict[str, Any] = self._get(f"/v1/sites/{quote(site, safe='')}")
        return result

    def meters(
        self,
        device: str | None = None,
        site: str | None = None,
        gateway: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        """A page of meters, optionally of one device, site or gateway."""
        result: dict[str, Any] = self._get(
            "/v1/meters", device=device, site=site, gateway=gateway, after=after, limit=limit
        )
        return result

    def meter(self, meter: str) -> dict[str, Any]:
        """A meter's registry record: kind, device or site, gateway, interval."""
        result: dict[str, Any] = self._get(f"/v1/meters/{quote(meter, safe='')}")
        return result

    def readings(
        self,
        meter: str | None = None,
        *,
        device: str | None = None,
        site: str | None = None,
        start: int | None = None,
        end: int | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        """A page of readings of a meter, or of every meter of a device or site.

        ``start <= interval start < end`` (Unix seconds); each reading names its interval
        start (``start_s``) and carries its ``correction`` (or None) and ``corrected_wh``; the
        answer's ``next`` is the ``start`` of the following page, or None.
        """
        path = self._readings_path(meter, device, site)
        result: dict[str, Any] = self._get(path, **{"from": start, "to": end, "limit": limit})
        return result

    def iter_readings(
        self,
        meter: str | None = None,
        *,
        device: str | None = None,
        site: str | None = None,
        start: int | None = None,
        end: int | None = None,
        page_size: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Every reading in the window, page after page, oldest first."""
        while True:
            page = self.readings(
                meter, device=device, site=site, start=start, end=end, limit=page_size
            )
            yield from page["readings"]
            if page["next"] is None:
                return
            start = int(page["next"])

    @staticmethod
    def _readings_path(meter: str | None, device: str | None, site: str | None) -> str:
        chosen = [(k, v) for k, v in (("meters", meter), ("devices", device), ("sites", site)) if v]
        if len(chosen) != 1:
            raise InvalidInput("sdk.invalid_query", "give exactly one of meter, device and site")
        what, ident = chosen[0]
        return f"/v1/{what}/{quote(ident, safe='')}/readings"

    def totals(
        self,
        start: int,
        end: int,
        *,
        meters: Iterable[str] | None = None,
        device: str | None = None,
        site: str | None = None,
        interval_s: int = 3600,
    ) -> dict[str, Any]:
        """Energy per bucket of ``interval_s`` (900, 3600 or 86400) from ``start`` to ``end``
        (Unix seconds, at most 366 days) over ``meters``, a device's or a site's meters:
        ``{"meters", "from", "to", "interval_s", "totals": [{"start_s", "energy_wh"}],
        "energy_wh"}``, corrections applied."""
        params = {
            "from": start,
            "to": end,
            "meter": list(meters) if meters is not None else None,
            "device": device,
            "site": site,
            "interval": interval_s,
        }
        result: dict[str, Any] = self._get("/v1/totals", **params)
        return result

    def reading_proof(self, meter: str, start: int, height: int | None = None) -> dict[str, Any]:
        """A reading (or its absence) with its state proof (``proofs.verify_state_proof``),
        at the tip or as of a ``height`` the node keeps."""
        path = f"/v1/meters/{quote(meter, safe='')}/readings/{int(start)}/proof"
        params = {} if height is None else {"height": int(height)}
        result: dict[str, Any] = self._get(path, **params)
        return result

    # the clean-power market ----------------------------------------------------------------
    @property
    def market(self) -> Market:
        """The market's endpoints and transactions (:class:`gridledger.sdk.market.Market`)."""
        return Market(self)

    # certificates --------------------------------------------------------------------------
    @property
    def certificates(self) -> Certificates:
        """The certificate registry's endpoints and transactions
        (:class:`gridledger.sdk.certificates.Certificates`)."""
        return Certificates(self)

    # carbon --------------------------------------------------------------------------------
    @property
    def carbon(self) -> Carbon:
        """Carbon accounting's endpoints and transactions
        (:class:`gridledger.sdk.carbon.Carbon`)."""
        return Carbon(self)

    @property
    def credits(self) -> Credits:
        """The credit registry's endpoints and transactions
        (:class:`gridledger.sdk.credits.Credits`)."""
        return Credits(self)

    @property
    def allowances(self) -> Allowances:
        """The allowance system's endpoints and transactions
        (:class:`gridledger.sdk.credits.Allowances`)."""
        return Allowances(self)

    @property
    def claims(self) -> Claims:
        """Carbon-neutrality claims' endpoints and transactions
        (:class:`gridledger.sdk.claims.Claims`)."""
        return Claims(self)

    @property
    def community(self) -> Community:
        """A household's consent and streak threshold (:class:`gridledger.sdk.community.
        Community`)."""
        return Community(self)

    @property
    def products(self) -> Products:
        """Traceable products' endpoints and transactions
        (:class:`gridledger.sdk.products.Products`)."""
        return Products(self)

    @property
    def exchange(self) -> Exchange:
        """The exchange's endpoints and transactions (:class:`gridledger.sdk.exchange.Exchange`)."""
        return Exchange(self)

    # events --------------------------------------------------------------------------------
    def events(
        self, from_height: int | None = None, *, idle_timeout: float = 60.0
    ) -> Iterator[dict[str, Any]]:
        """Committed blocks as they come: ``{"height", "hash", "time", "tx_count", "txs"}``.

        With ``from_height``, stored blocks from that height come first. The node pings every
        15 s; after ``idle_timeout`` seconds without a byte the stream is taken as dead and
        :class:`TransportError` raised. To resume, call again with the last height + 1.
        Closing the iterator (``break`` out of the loop) closes the connection.

        Raises:
            ApiError: ``events.lagged`` when this client fell too far behind.
        """
        params = {} if from_height is None else {"from_height": from_height}
        timeout = httpx.Timeout(self.timeout, read=idle_timeout)
        try:
            with self._http.stream(
                "GET",
                self.base_url + "/v1/events",
                params=params,
                headers={**self._headers, "accept": "text/event-stream"},
                timeout=timeout,
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ApiError.from_response(response)
                for event, data in _sse(response.iter_lines()):
                    payload = json.loads(data)
                    if event == "error":
                        raise ApiError(payload.get("code", "events.error"), payload.get("message"))
                    if event == "block":
                        yield payload
        except httpx.TimeoutException as exc:
            raise TransportError("sdk.timeout", f"the event stream went quiet: {exc}") from None
        except httpx.HTTPError as exc:
            raise TransportError(
                "sdk.unreachable", f"cannot reach {self.base_url}: {exc}"
            ) from None
