"""Web view: the explorer (see :mod:`gridledger.web`).

Chain status and the latest blocks and transactions (growing live in the browser), search,
and one page per record (block, transaction, account, device, site, meter), each with its
proof and a button that checks the proof in the browser (``static/verify.js``), with the
genesis document's keys or a consortium keys file the visitor loads; block pages show whether
the block is final and which organisations stand behind it; ``/verify`` checks a saved proof
file in the browser.

Every page reads by index only, so it costs the same at a million transactions as at ten:
blocks by height or hash, transactions by hash (``tx_index``), state by key, and lists by a
bounded range of heights or keys.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gridledger.api.context import ApiContext
from gridledger.api.render import decode_stored
from gridledger.contracts import chain, consortium, credits, funds, market, metering, registry
from gridledger.contracts.base import Record
from gridledger.contracts.genesis import load as load_genesis
from gridledger.core.crypto import sha256
from gridledger.core.localtime import LocalTime
from gridledger.node.node import DB_NAME, Node
from gridledger.readmodels import market as totals
from gridledger.sdk.consortium_keys import keys_from_genesis
from gridledger.state.state import StateReader
from gridledger.state.store import StoredBlock, StoredTx
from gridledger.web.i18n import Translator, pick_lang
from gridledger.web.render import render
from gridledger.web.views.credits import normal_serial

LATEST = 10
"""Rows of the home page's latest blocks and transactions."""
RATE_WINDOW = 100
"""Blocks over which the home page measures the block rate."""
ORG_COUNT_TTL_S = 10.0
"""How long the home page's count of organisations may be old."""
BLOCKS_PAGE = 20
TXS_PAGE = 50
READINGS_PAGE = 24
EVENTS_SHOWN = 50
"""Receipt events listed on a transaction page (a batch of readings may have thousands)."""
BODY_SHOWN = 20_000
"""Characters of a transaction body shown before it is cut."""

MAX_START = metering.keys.MAX_START_S
"""The last interval start a reading key can hold (ten digits)."""
HEX64 = re.compile(r"^[0-9a-f]{64}$")
NAV = "explorer"
R = TypeVar("R", bound=Record)


class _GenesisOrgs(msgspec.Struct):
    """The part of the genesis document the verifier needs (the rest is skipped)."""

    organisations: list[dict[str, Any]]


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


_TIME_KEYS = frozenset({"interval", "start", "end", "since", "time", "at", "expires"})
TIMES_SHOWN = 20
"""Times of a transaction body shown as dates at most."""


def body_times(value: Any, path: str = "") -> list[tuple[str, int]]:
    """``(path, Unix seconds)`` of the times in a transaction body, in order: integers under a
    key that names a time (``interval``, ``start``, ``*_s``, ``*_ms``) within 2001-2286, so
    pages can show them as dates."""
    out: list[tuple[str, int]] = []
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack and len(out) < TIMES_SHOWN:
        where, item = stack.pop()
        if isinstance(item, dict):
            stack.extend(
                (f"{where}.{k}" if where else str(k), v) for k, v in reversed(item.items())
            )
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", v) for i, v in reversed(list(enumerate(item))))
        elif isinstance(item, int) and not isinstance(item, bool):
            key = where.rsplit(".", 1)[-1].split("[", 1)[0]
            seconds = item // 1000 if key.endswith("_ms") else item
            durations = ("length_s", "interval_s", "gate_closure_s", "horizon_s", "deadline_s")
            named = key in _TIME_KEYS or key.endswith(("_s", "_ms"))
            if named and not key.endswith(durations) and 10**9 <= seconds < 10**10:
                out.append((where, seconds))
    return out


HEX_PREFIX = re.compile(r"^[0-9a-f]{6,63}$")
"""A hash as pages show it shortened: at least 6 hex digits (pages show 10 or 12)."""
_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})$")
_HOUR = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2})(?::(\d{2}))?$")


class HashPrefixes:
    """Transactions and blocks by a prefix of their hash, read from the chain's SQLite file on
    a read-only connection of its own (the node's store looks up whole hashes only)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def find(self, prefix: str) -> str | None:
        """The page of the one transaction or block whose hash starts with ``prefix`` (hex);
        None if none does or several do."""
        low = bytes.fromhex(prefix.ljust(64, "0"))
        high = bytes.fromhex(prefix.ljust(64, "f"))
        try:
            with self._lock:
                if self._conn is None:
                    uri = f"file:{self.db}?mode=ro"
                    self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
                txs = self._conn.execute(
                    "SELECT hash FROM tx_index WHERE hash BETWEEN ? AND ? LIMIT 2", (low, high)
                ).fetchall()
                blocks = self._conn.execute(
                    "SELECT height FROM blocks WHERE hash BETWEEN ? AND ? LIMIT 2", (low, high)
                ).fetchall()
        except sqlite3.Error:
            return None
        if len(txs) + len(blocks) != 1:
            return None
        return f"/txs/{bytes(txs[0][0]).hex()}" if txs else f"/blocks/{blocks[0][0]}"


def _same_site_back(request: Request) -> str:
    """The path of the page a request came from on this site, or the explorer's home."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc or not referer.path.startswith("/"):
        return "/"
    return referer.path + (f"?{referer.query}" if referer.query else "")


def _search_time(query: str, local: LocalTime, view: StateReader) -> str | None:
    """A date (``2026-12-07``: that day's market) or an hour (``2026-12-07 12:00``: that
    market interval) in the chain's time zone, as the page to go to."""
    day = _DAY.match(query)
    hour = _HOUR.match(query)
    try:
        if day:
            local.parse_day(day.group(1))
            return f"/market?day={day.group(1)}"
        if hour:
            start = local.parse_day(hour.group(1)) + int(hour.group(2)) * 3600
            start += int(hour.group(3) or 0) * 60
        else:
            return None
    except ValueError:
        return None
    length = market.params(view).interval_s
    start -= start % length
    return f"/market/{start}" if market.get_interval(view, start) is not None else None


def _digits(text: str) -> int | None:
    """A non-negative decimal number, or ``None`` for anything else (``-1``, ``1e3``, ``٣``)."""
    return int(text) if text.isascii() and text.isdigit() else None


def tx_row(stx: StoredTx) -> dict[str, Any]:
    """What a table row shows of a transaction: hash, place, kind, sender, receipt status."""
    tx = decode_stored(stx.raw, f"transaction {stx.index} of block {stx.height}")
    receipt = decode_stored(stx.receipt, f"receipt {stx.index} of block {stx.height}")
    return {
        "hash": sha256(stx.raw).hex(),
        "height": stx.height,
        "index": stx.index,
        "kind": tx["kind"],
        "sender": tx["sender"],
        "nonce": tx["nonce"],
        "status": receipt["status"],
        "code": receipt["code"],
    }


def block_row(blk: StoredBlock) -> dict[str, Any]:
    header = decode_stored(blk.header, f"header of block {blk.height}")
    return {
        "height": blk.height,
        "hash": blk.hash.hex(),
        "time": header["time"],
        "proposer": header["proposer"],
        "tx_count": blk.tx_count,
        "header": header,
        "signature": blk.signature,
    }


def state_proof(node: Node, key: str) -> dict[str, Any]:
    """The committed value of ``key`` with its sparse Merkle proof, for a record page."""
    raw_key = key.encode()
    log: dict[str, Any] | None = None
    value: bytes | None
    if node.in_log(raw_key):
        header, value, entry, seal_key, seal, proof = node.prove_log_entry(raw_key)
        log = {**msgspec.to_builtins(entry), "seal_key": seal_key.decode(), "seal_hex": seal.hex()}
    else:
        header, value, proof = node.prove_state(raw_key)
    text = None
    if value is not None:
        try:
            text = value.decode()
        except UnicodeDecodeError:
            text = None
    return {
        "kind": "state",
        "key": key,
        "value_hex": None if value is None else value.hex(),
        "value_text": text,
        "height": header.height,
        "state_root": header.state_root,
        "depth": len(proof.levels),
        "json": _pretty(proof.to_json() if log is None else {"log": log, "seal": proof.to_json()}),
    }


_SIDES = (
    ("consumed_wh", "clean_wh", "grid_import_wh", "clean_paid_fen", "grid_paid_fen"),
    ("generated_wh", "sold_wh", "exported_wh", "clean_revenue_fen", "feed_in_revenue_fen"),
)
"""An account's totals as a consumer and as a producer."""


def _shown_totals(found: totals.AccountTotals | totals.PlantTotals | None) -> dict[str, int] | None:
    """The market totals a page lists, by their label (the field without ``_fen``): each side
    (consuming, producing) the account or plant has traded on; ``None`` before any."""
    if found is None:
        return None
    values = msgspec.structs.asdict(found)
    shown: dict[str, int] = {}
    for side in _SIDES:
        present = {name: values[name] for name in side if name in values}
        if any(present.values()):
            shown.update({name.removesuffix("_fen"): v for name, v in present.items()})
    if isinstance(found, totals.AccountTotals):
        shown["clean_share_permille"] = found.clean_share_permille
    return shown


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    node = ctx.node
    store = node.store
    hashes = HashPrefixes(node.config.home / DB_NAME)
    cache: dict[str, Any] = {}

    def trusted_keys() -> dict[str, str]:
        """Node keys of the genesis organisations: what the browser checks signatures with.

        They come from the genesis document the chain was started from (the consortium's
        agreement), not from the state the proofs are about.
        """
        if "keys" not in cache:
            raw = store.get_meta("genesis") or b'{"organisations": []}'
            orgs = msgspec.json.decode(raw, type=_GenesisOrgs).organisations
            cache["keys"] = {o["id"]: o["node_key"] for o in orgs if o.get("node_key")}
        keys: dict[str, str] = cache["keys"]
        return keys

    def genesis_keys() -> dict[str, Any] | None:
        """The consortium keys file the genesis document gives (exact up to height 1): what
        the browser checks with unless the visitor loads a keys file of their own."""
        if "genesis_keys" not in cache:
            raw = store.get_meta("genesis")
            cache["genesis_keys"] = (
                None if raw is None else keys_from_genesis(load_genesis(raw)).to_json()
            )
        found: dict[str, Any] | None = cache["genesis_keys"]
        return found

    def block_finality(blk: StoredBlock, proposer: str) -> dict[str, Any]:
        """Whether the node holds ``blk`` final, and the organisations standing behind it: its
        proposer (the block is signed) and those whose attestations the node checked and kept."""
        if blk.height == 0:
            return {"genesis": True, "final": True}
        proposers = chain.rules_at(node.state.view, blk.height).proposers
        orgs = {proposer} if blk.signature else set()
        for raw in store.attestations(blk.height):
            att = decode_stored(raw, f"attestation of block {blk.height}")
            if att.get("block_hash") == blk.hash.hex() and att.get("org") in proposers:
                orgs.add(att["org"])
        return {
            "genesis": False,
            "final": blk.height <= node.final_height,
            "attested": sorted(orgs),
            "total": len(proposers),
            "quorum": consortium.approvals_needed(len(proposers)),
        }

    def organisations() -> tuple[int, list[registry.Organisation]]:
        """How many organisations are registered, and the block-signing ones (those of the
        genesis with a node key, as registered now).

        The count is of keys in the sorted index, refreshed at most every
        :data:`ORG_COUNT_TTL_S` seconds: a chain may hold a million organisations.
        """
        now = time.monotonic()
        if now - cache.get("orgs_at", -ORG_COUNT_TTL_S) >= ORG_COUNT_TTL_S:
            cache["org_count"] = sum(1 for _ in node.state.view.scan(registry.keys.organisations()))
            cache["orgs_at"] = now
        view = node.state.view
        signers = [registry.get_organisation(view, org) for org in trusted_keys()]
        return cache["org_count"], [o for o in signers if o is not None and o.node_key]

    def page(request: Request, template: str, status_code: int = 200, **data: Any) -> HTMLResponse:
        return render(
            request,
            node,
            template,
            NAV,
            status_code=status_code,
            node_keys=trusted_keys(),
            genesis_keys=genesis_keys(),
            **data,
        )

    def error(request: Request, status: int, message_key: str, **fields: Any) -> HTMLResponse:
        t = Translator(pick_lang(request))
        title = "error.title" if status == 404 else "explorer.error.bad_title"
        if status == 404:
            message = t("error.not_found", what=t(message_key, **fields))
        else:
            message = t("error.bad_request", why=t(message_key, **fields))
        return page(
            request, "explorer/error.html", status, title_key=title, message=message, status=status
        )

    def stored_block(height: int) -> StoredBlock | None:
        # above the tip nothing is stored; checking first also keeps huge numbers from SQLite
        return store.block(height) if height <= node.tip.height else None

    # home --------------------------------------------------------------------------------------
    @r.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        tip = node.tip.height
        recent = store.blocks(max(0, tip - LATEST + 1), tip + 1)[::-1]
        blocks = [block_row(b) for b in recent]
        txs: list[dict[str, Any]] = []
        for blk in recent:
            for stx in reversed(blk.txs()):
                if len(txs) == LATEST:
                    break
                txs.append(tx_row(stx))
        rate = None
        old = max(1, tip - RATE_WINDOW)
        if tip > old:
            first = store.block(old)
            if first is not None:
                span_ms = blocks[0]["time"] - block_row(first)["time"]
                if span_ms > 0:
                    rate = f"{(tip - old) * 60_000 / span_ms:,.1f}"
        org_count, proposers = organisations()
        return page(
            request,
            "explorer/home.html",
            status=node.status(),
            blocks=blocks,
            txs=txs,
            rate=rate,
            rate_window=min(RATE_WINDOW, tip - old),
            org_count=org_count,
            proposers=proposers,
            latest=LATEST,
        )

    # search ------------------------------------------------------------------------------------
    @r.get("/search", response_class=HTMLResponse)
    def search(request: Request, q: str = "") -> Response:
        query = q.strip()
        if not query:
            # nothing typed: back to the page the search box was on
            return RedirectResponse(_same_site_back(request), status_code=303)
        if query == node.chain_id:
            return RedirectResponse("/", status_code=303)
        found = _search_time(query, ctx.local, node.state.view)
        if found is not None:
            return RedirectResponse(found, status_code=303)
        height = _digits(query)
        if height is not None:
            if height <= node.tip.height:
                return RedirectResponse(f"/blocks/{height}", status_code=303)
            return error(request, 404, "explorer.what.block", height=height)
        lowered = query.lower().removeprefix("0x")
        if HEX64.match(lowered):
            if store.locate_tx(bytes.fromhex(lowered)) is not None:
                return RedirectResponse(f"/txs/{lowered}", status_code=303)
            blk = store.block_by_hash(bytes.fromhex(lowered))
            if blk is not None:
                return RedirectResponse(f"/blocks/{blk.height}", status_code=303)
            return error(request, 404, "explorer.what.hash", hash=lowered)
        prefix = lowered.removesuffix("…").removesuffix("...")
        if HEX_PREFIX.match(prefix):
            target = hashes.find(prefix)
            if target is not None:
                return RedirectResponse(target, status_code=303)
        serial = normal_serial(query)
        if serial is not None:
            return RedirectResponse(f"/credits/serials/{serial}", status_code=303)
        if registry.ID_RE.match(lowered):
            view = node.state.view
            for what, key in (
                ("accounts", registry.keys.account(lowered)),
                ("devices", registry.keys.device(lowered)),
                ("meters", registry.keys.meter(lowered)),
                ("sites", registry.keys.site(lowered)),
            ):
                if view.get(key) is not None:
                    return RedirectResponse(f"/{what}/{lowered}", status_code=303)
            if credits.get_project(view, lowered) is not None:
                return RedirectResponse(f"/credits/projects/{lowered}", status_code=303)
        return error(request, 404, "explorer.what.query", query=query)

    # blocks ------------------------------------------------------------------------------------
    @r.get("/blocks", response_class=HTMLResponse)
    def blocks_page(request: Request, before: str = "") -> HTMLResponse:
        tip = node.tip.height
        if before:
            upto = _digits(before)
            if upto is None:
                return error(request, 400, "explorer.invalid.height", value=before)
            upto = min(upto, tip + 1)
        else:
            upto = tip + 1
        low = max(0, upto - BLOCKS_PAGE)
        rows = [block_row(b) for b in store.blocks(low, upto)[::-1]]
        return page(
            request,
            "explorer/blocks.html",
            blocks=rows,
            older=low if low > 0 else None,
            newer=min(upto + BLOCKS_PAGE, tip + 1) if upto <= tip else None,
        )

    @r.get("/blocks/{height}", response_class=HTMLResponse)
    def block_page(request: Request, height: str, start: str = "0") -> HTMLResponse:
        number = _digits(height)
        if number is None:
            return error(request, 400, "explorer.invalid.height", value=height)
        first = _digits(start)
        if first is None:
            return error(request, 400, "explorer.invalid.start", value=start)
        blk = stored_block(number)
        if blk is None:
            return error(request, 404, "explorer.what.block", height=number)
        stxs = blk.txs()
        shown = [tx_row(s) for s in stxs[first : first + TXS_PAGE]]
        row = block_row(blk)
        return page(
            request,
            "explorer/block.html",
            block=row,
            finality=block_finality(blk, row["proposer"]),
            txs=shown,
            first=first,
            total=len(stxs),
            prev_start=max(0, first - TXS_PAGE) if first > 0 else None,
            next_start=first + TXS_PAGE if first + TXS_PAGE < len(stxs) else None,
            tip=node.tip.height,
        )

    @r.get("/verify", response_class=HTMLResponse)
    def check_page(request: Request) -> HTMLResponse:
        """A saved proof file checked in the browser, nothing fetched (``static/verify.js``)."""
        return page(request, "explorer/check.html")

    # transactions ------------------------------------------------------------------------------
    @r.get("/txs/{tx_hash}", response_class=HTMLResponse)
    def tx_page(request: Request, tx_hash: str) -> HTMLResponse:
        if not HEX64.match(tx_hash):
            return error(request, 400, "explorer.invalid.hash", value=tx_hash)
        found = node.prove_tx(bytes.fromhex(tx_hash))
        if found is None:
            return error(request, 404, "explorer.what.tx", hash=tx_hash)
        blk, index, path = found
        stxs = blk.txs()
        stx = stxs[index]
        tx = decode_stored(stx.raw, f"transaction {index} of block {blk.height}")
        receipt = decode_stored(stx.receipt, f"receipt {index} of block {blk.height}")
        body = _pretty(tx["body"])
        events = receipt["events"]
        return page(
            request,
            "explorer/tx.html",
            hash=tx_hash,
            tx=tx,
            receipt=receipt,
            body=body[:BODY_SHOWN],
            body_cut=len(body) > BODY_SHOWN,
            body_times=body_times(tx["body"]),
            events=[_pretty(e) for e in events[:EVENTS_SHOWN]],
            event_count=len(events),
            block=block_row(blk),
            index=index,
            proof={
                "kind": "tx",
                "hash": tx_hash,
                "height": blk.height,
                "index": index,
                "tree_size": len(stxs),
                "audit_path": [p.hex() for p in path],
                "tx_root": block_row(blk)["header"]["tx_root"],
            },
        )

    # state records -----------------------------------------------------------------------------
    def record_page(
        request: Request,
        record_id: str,
        key_of: Callable[[str], bytes],
        record_type: type[R],
        what: str,
        build: Callable[[R], dict[str, Any]],
        template: str,
    ) -> HTMLResponse:
        """A registry record's page with its state proof (and those of ``extra_proofs``)."""
        if not registry.ID_RE.match(record_id):
            return error(request, 400, "explorer.invalid.id", value=record_id)
        key = key_of(record_id)
        record = node.state.view.get_record(key, record_type)
        if record is None:
            return error(request, 404, what, id=record_id)
        proofs = [state_proof(node, key.decode())]
        data = build(record)
        proofs += [state_proof(node, k) for k in data.pop("extra_proofs", [])]
        return page(request, template, record=record, proofs=proofs, **data)

    @r.get("/accounts/{account}", response_class=HTMLResponse)
    def account_page(request: Request, account: str) -> HTMLResponse:
        def build(record: registry.Account) -> dict[str, Any]:
            view = node.state.view
            return {
                "org": registry.get_organisation(view, record.org),
                "balance": funds.balance_of(view, account),
                "escrow": funds.escrow_of(view, account),
                "nonce": chain.nonce_of(view, account),
                "stats": _shown_totals(totals.account_totals(node.readmodels.reader(), account)),
                "extra_proofs": [funds.keys.balance(account).decode()],
            }

        return record_page(
            request,
            account,
            registry.keys.account,
            registry.Account,
            "explorer.what.account",
            build,
            "explorer/account.html",
        )

    @r.get("/devices/{device}", response_class=HTMLResponse)
    def device_page(request: Request, device: str) -> HTMLResponse:
        def build(_record: registry.Device) -> dict[str, Any]:
            view = node.state.view
            return {
                "meters": registry.meters_of(view, "device", device),
                "plant": _shown_totals(totals.plant_totals(node.readmodels.reader(), device)),
            }

        return record_page(
            request,
            device,
            registry.keys.device,
            registry.Device,
            "explorer.what.device",
            build,
            "explorer/device.html",
        )

    @r.get("/sites/{site}", response_class=HTMLResponse)
    def site_page(request: Request, site: str) -> HTMLResponse:
        def build(_record: registry.Site) -> dict[str, Any]:
            return {"meters": registry.meters_of(node.state.view, "site", site)}

        return record_page(
            request,
            site,
            registry.keys.site,
            registry.Site,
            "explorer.what.site",
            build,
            "explorer/site.html",
        )

    @r.get("/meters/{meter}", response_class=HTMLResponse)
    def meter_page(request: Request, meter: str, before: str = "") -> HTMLResponse:
        end = None
        if before:
            end = _digits(before)
            if end is None or end > MAX_START:
                return error(request, 400, "explorer.invalid.start", value=before)

        def build(_record: registry.Meter) -> dict[str, Any]:
            view = node.state.view
            # newest first, one page: a range of the sorted key index, never a scan
            found = metering.readings(view, meter, 0, end, READINGS_PAGE + 1, newest_first=True)
            shown = found[:READINGS_PAGE]
            rows: list[dict[str, Any]] = []
            for reading in shown:
                # key and stored bytes: each reading's own Verify button proves it
                key = metering.keys.reading(meter, reading.start_s)
                raw = view.get(key)
                if raw is not None:
                    rows.append({"reading": reading, "key": key.decode(), "value_hex": raw.hex()})
            older = shown[-1].start_s if len(found) > READINGS_PAGE and shown else None
            return {"readings": rows, "older": older, "paged": end is not None}

        return record_page(
            request,
            meter,
            registry.keys.meter,
            registry.Meter,
            "explorer.what.meter",
            build,
            "explorer/meter.html",
        )

    return r
