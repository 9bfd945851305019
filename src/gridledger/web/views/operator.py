"""Web view: the operator's and the grid's pages (see :mod:`gridledger.web`).

``/operator`` summarises the registry (organisations, accounts, devices, sites, meters with
their latest reading), the latest refused readings and the rules in force; each registry list
has its own paginated page, ``/operator/<list>?after=<id>&n=<count>``. ``/grid`` shows the
tariffs, the market mechanism, the meters by gateway, the grid settlements of recent intervals
(``?before=<start>`` pages back) and their totals; ``/grid/<start>`` one interval's settlements
site by site and plant by plant.

Every page reads the committed state (``node.state.view``) through the contracts' queries
and does bounded work: lists are read a page at a time through the sorted key index, a meter's
latest reading is the last key of its readings, and refused readings (which exist only as
``metering.reading_refused`` events in the receipts of ``metering.submit`` transactions) come
from :class:`RecentRefusals`, a scan of the most recent block bodies, bounded in blocks and
bytes and cached by tip height.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gridledger.api.context import ApiContext
from gridledger.contracts import funds, market, metering, registry
from gridledger.contracts.base import Page
from gridledger.core.encoding import decode_json
from gridledger.core.localtime import LocalTime
from gridledger.node.node import Node
from gridledger.state.state import StateReader
from gridledger.web import charts
from gridledger.web.render import render

OVERVIEW_ROWS = 10
"""Rows of each registry list on ``/operator``; the list's own page shows the rest."""
PAGE_ROWS = 50
MAX_PAGE_ROWS = 200
INTERVAL_ROWS = 24
"""Intervals per page of ``/grid`` (a day of hourly intervals)."""
MAX_GRID_ROWS = 2000
"""Settlement records shown for one interval at most."""
MAX_GATEWAY_METERS = 50_000
"""Meters read to group them by gateway at most (the page says when it stopped)."""
MAX_TOTAL_INTERVALS = 100_000

REFUSAL_KEEP = 20
"""Refused readings kept and shown, newest first."""
REFUSAL_SCAN_BLOCKS = 2000
REFUSAL_SCAN_BYTES = 32 * 1024 * 1024
"""How far back the refused readings are looked for: at most this many blocks or bytes."""
_REFUSED_ONE = "metering.reading_refused"
_REFUSED_ALL = "metering.batch_refused"


def _has_refusals(data: bytes) -> bool:
    """Whether ``data`` (a block body or a receipt) names a refusal: a cheap test before
    decoding anything."""
    return b"metering.reading_refused" in data or b"metering.batch_refused" in data


_SUBMIT = b'"kind":"metering.submit"'

LISTS: tuple[registry.Register, ...] = ("organisations", "accounts", "devices", "sites", "meters")
_LISTED: dict[str, Callable[[StateReader, str | None, int], Page[Any]]] = {
    "organisations": registry.list_organisations,
    "accounts": registry.list_accounts,
    "devices": registry.list_devices,
    "sites": registry.list_sites,
    "meters": registry.list_meters,
}
_unpack_pairs = msgspec.msgpack.Decoder(list[tuple[bytes, bytes]]).decode


class PageError(Exception):
    """A request the page cannot answer: shown as a translated error page."""

    def __init__(self, status: int, key: str, **fields: object) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.fields = fields


# reading the ledger ---------------------------------------------------------------------------
def page_of(
    view: StateReader, what: registry.Register, after: str | None, n: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Rows of list ``what`` in id order after ``after``, at most ``n``, with what its table
    shows beyond the record (balances, latest readings), and the ``after`` of the next page
    (``None`` after the last)."""
    found = _LISTED[what](view, after, n)
    rows = [msgspec.structs.asdict(record) for record in found.items]
    if what == "accounts":
        for row in rows:
            row["balance"] = funds.balance_of(view, row["id"])
            row["escrow"] = funds.escrow_of(view, row["id"])
    elif what == "meters":
        for row in rows:
            row["latest"] = metering.latest_reading(view, row["id"])
    return rows, found.next


@dataclass
class RecentRefusals:
    """The latest refused readings, from the receipts of the most recent blocks.

    A refusal is only an event in a ``metering.submit`` receipt, so nothing in state lists
    them. The first request scans block bodies back from the tip (at most
    :data:`REFUSAL_SCAN_BLOCKS` blocks or :data:`REFUSAL_SCAN_BYTES` bytes); later ones scan only
    the blocks committed since, so a page costs the new blocks, not the history. Bodies without
    the event's name are skipped without decoding.
    """

    node: Node
    keep: int = REFUSAL_KEEP
    scan_blocks: int = REFUSAL_SCAN_BLOCKS
    scan_bytes: int = REFUSAL_SCAN_BYTES
    height: int = -1
    """The tip height the cache covers."""
    oldest: int = 0
    """The oldest height scanned so far (the page states the window)."""
    found: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def latest(self) -> tuple[list[dict[str, Any]], int, int]:
        """(refusals newest first, oldest height searched, tip height searched)."""
        with self._lock:
            tip = self.node.tip.height
            if tip != self.height:
                self._scan(tip)
            return list(self.found), self.oldest, self.height

    def _scan(self, tip: int) -> None:
        fresh = self.height < 0 or tip - self.height > self.scan_blocks
        low = max(tip - self.scan_blocks + 1, 1) if fresh else self.height + 1
        new: list[dict[str, Any]] = []
        scanned = 0
        height = tip
        step = 64
        while height >= low and scanned < self.scan_bytes and len(new) < self.keep:
            blocks = self.node.store.blocks(max(height - step + 1, low), height + 1)
            for blk in reversed(blocks):
                scanned += len(blk.body)
                if _has_refusals(blk.body):
                    new.extend(_refusals_in(blk.height, blk.body, blk.header))
                height = blk.height - 1
                if scanned >= self.scan_bytes or len(new) >= self.keep:
                    break
            if not blocks:
                break
        if fresh:
            self.found = new[: self.keep]
            self.oldest = height + 1
        else:
            self.found = (new + self.found)[: self.keep]
        self.height = tip


def _refusals_in(height: int, body: bytes, header: bytes) -> list[dict[str, Any]]:
    """The block's refused readings, latest first."""
    time_ms = int(decode_json(header)["time"])
    out: list[dict[str, Any]] = []
    for raw, receipt in _unpack_pairs(body):
        if not _has_refusals(receipt) or _SUBMIT not in raw:
            continue
        rec = decode_json(receipt)
        sender = decode_json(raw)["sender"]
        out.extend(
            {
                "meter": ev["meter"],
                "start": ev["start"],
                "code": ev["code"],
                "message": ev["message"]
                if ev["type"] == _REFUSED_ONE
                else f"{ev['message']} (all {ev['count']} readings of the batch were refused)",
                "height": height,
                "time_ms": time_ms,
                "gateway": sender,
                "tx_hash": rec["tx_hash"],
            }
            for ev in rec["events"]
            if ev.get("type") in (_REFUSED_ONE, _REFUSED_ALL)
        )
    out.reverse()
    return out


def gateways(view: StateReader) -> tuple[list[dict[str, Any]], bool]:
    """Meters grouped by gateway (counts by kind and interval), and whether the scan stopped at
    :data:`MAX_GATEWAY_METERS`."""
    groups: dict[str, dict[str, Any]] = {}
    found = registry.list_meters(view, None, MAX_GATEWAY_METERS)
    for meter in found.items:
        group = groups.setdefault(
            meter.gateway,
            {"gateway": meter.gateway, "generation": 0, "consumption": 0, "intervals": set()},
        )
        group[meter.kind] += 1
        group["intervals"].add(meter.interval_s)
    out = []
    for gw in sorted(groups):
        group = groups[gw]
        account = registry.get_account(view, gw)
        group["suspended"] = account is not None and account.suspended
        group["intervals"] = sorted(group["intervals"])
        out.append(group)
    return out, found.next is not None


_SETTLED_SUMS = (
    "consumption_wh",
    "generation_wh",
    "delivered_wh",
    "grid_import_wh",
    "grid_paid_fen",
    "grid_export_wh",
    "feed_in_paid_fen",
    "unpaid_fen",
)


@dataclass
class GridTotals:
    """Sums of every settled interval's grid figures, recomputed only when the tip moves."""

    node: Node
    height: int = -1
    value: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, view: StateReader) -> dict[str, int]:
        with self._lock:
            tip = self.node.tip.height
            if tip != self.height:
                sums = dict.fromkeys(("intervals", "settled", *_SETTLED_SUMS), 0)
                for rec in market.intervals(view, limit=MAX_TOTAL_INTERVALS):
                    sums["intervals"] += 1
                    if rec.settlement is not None:
                        sums["settled"] += 1
                        for name in _SETTLED_SUMS:
                            sums[name] += getattr(rec.settlement, name)
                self.value, self.height = sums, tip
            return dict(self.value)


def recent_intervals(view: StateReader, before: int) -> list[market.Interval]:
    """Up to :data:`INTERVAL_ROWS` interval records starting before ``before``, newest first
    (a scan from the end of the key range: a page costs its own records)."""
    return market.intervals(view, 0, before, INTERVAL_ROWS, newest_first=True)


# request parameters ------------------------------------------------------------------------
def _int_param(request: Request, name: str, lo: int, hi: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise PageError(400, "operator.error.bad_number", name=name, lo=lo, hi=hi)
    return int(raw)


def _id_param(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not registry.ID_RE.match(raw):
        raise PageError(400, "operator.error.bad_id", name=name)
    return raw


# routes -------------------------------------------------------------------------------------
def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    node = ctx.node
    refusals = RecentRefusals(node)
    totals = GridTotals(node)

    def page(
        request: Request, nav: str, build: Callable[[StateReader], tuple[str, dict[str, Any]]]
    ) -> HTMLResponse:
        try:
            template, data = build(node.state.view)
        except PageError as exc:
            return render(
                request,
                node,
                "operator/error.html",
                nav,
                status_code=exc.status,
                error_status=exc.status,
                error_key=exc.key,
                error_fields=exc.fields,
            )
        return render(request, node, template, nav, **data)

    @r.get("/operator", response_class=HTMLResponse)
    def operator_home(request: Request) -> HTMLResponse:
        def build(view: StateReader) -> tuple[str, dict[str, Any]]:
            lists = {}
            for what in LISTS:
                rows, nxt = page_of(view, what, None, OVERVIEW_ROWS)
                lists[what] = {"rows": rows, "more": nxt is not None}
            found, oldest, newest = refusals.latest()
            counts = {what: registry.count(view, what) for what in LISTS}
            return "operator/home.html", {
                "lists": lists,
                "counts": counts,
                "refused": found,
                "refused_window": (oldest, newest),
                "market_params": market.params(view),
                "metering_params": metering.params(view),
                "tariffs": market.tariffs(view),
            }

        return page(request, "operator", build)

    @r.get("/operator/{what}", response_class=HTMLResponse)
    def operator_list(request: Request, what: str) -> HTMLResponse:
        def build(view: StateReader) -> tuple[str, dict[str, Any]]:
            if what not in LISTS:
                raise PageError(404, "operator.error.no_page")
            after = _id_param(request, "after")
            n = _int_param(request, "n", 1, MAX_PAGE_ROWS) or PAGE_ROWS
            rows, nxt = page_of(view, what, after, n)
            return "operator/list.html", {
                "what": what,
                "rows": rows,
                "next_after": nxt,
                "after": after,
                "n": n,
                "total": registry.count(view, what),
            }

        return page(request, "operator", build)

    @r.get("/grid", response_class=HTMLResponse)
    def grid_home(request: Request) -> HTMLResponse:
        def build(view: StateReader) -> tuple[str, dict[str, Any]]:
            params = market.params(view)
            now_s = node.tip.time // 1000
            before = _int_param(request, "before", 0, 10**11)
            rows = recent_intervals(view, now_s + 1 if before is None else before)
            groups, truncated = gateways(view)
            oldest = rows[-1].start_s if rows else None
            return "operator/grid.html", {
                "tariffs": market.tariffs(view),
                "market_params": params,
                "gateways": groups,
                "gateways_truncated": truncated,
                "intervals": rows,
                "chart": _grid_chart(request, rows, ctx.local),
                "older": oldest if oldest and market.intervals(view, 0, oldest, 1) else None,
                "before": before,
                "totals": totals.get(view),
                "households": market.household_choices(view),
            }

        return page(request, "grid", build)

    @r.get("/grid/{start}", response_class=HTMLResponse)
    def grid_interval(request: Request, start: str) -> HTMLResponse:
        def build(view: StateReader) -> tuple[str, dict[str, Any]]:
            if not start.isdigit() or len(start) > 11:
                raise PageError(400, "operator.error.bad_interval")
            record = market.get_interval(view, int(start))
            if record is None:
                raise PageError(404, "operator.error.no_interval")
            rows = market.grid_settlements(view, int(start), MAX_GRID_ROWS + 1)
            return "operator/interval.html", {
                "record": record,
                "rows": rows[:MAX_GRID_ROWS],
                "truncated": len(rows) > MAX_GRID_ROWS,
            }

        return page(request, "grid", build)

    return r


def _grid_chart(request: Request, rows: list[market.Interval], local: LocalTime) -> str:
    """Grid import and export per interval (oldest first) as an inline SVG."""
    from gridledger.web.i18n import Translator, pick_lang  # noqa: PLC0415

    t = Translator(pick_lang(request))
    shown = [(r.start_s, r.settlement) for r in reversed(rows) if r.settlement is not None]
    labels = [local.format(start, "%H:%M") for start, _ in shown]
    imports = [s.grid_import_wh / 1000 for _, s in shown]
    exports = [s.grid_export_wh / 1000 for _, s in shown]
    return charts.bars(
        t("grid.chart.title"),
        t("grid.chart.desc"),
        labels,
        [
            charts.Series(t("grid.import_kwh"), imports, "var(--grid)"),
            charts.Series(t("grid.export_kwh"), exports, "var(--clean)"),
        ],
        times=[start for start, _ in shown],
    )
