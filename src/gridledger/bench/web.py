"""``gridledger bench web``: how long every kind of web page takes, on a realistic chain.

The demo community runs for ``days`` days into a temporary home; its chain is then served (the
node on the real clock, the API and web interface on a free loopback port) and every kind of
page is requested ``repeat`` times, one request at a time. The pages are found as a visitor
finds them: the header's navigation links of the home page, then one link of each kind of path
on those pages (a block, a transaction, an account, an interval...), then the search box with a
block height, an account, a device and a meter. Per page kind the result gives the server's own
time (``Server-Timing: render;dur=``, from the request's arrival to the rendered page) as p50,
p95 and max, and the time the client saw.

With ``txs`` the same is measured on a chain of that many signed transfers between
:data:`LEDGER_ACCOUNTS` accounts, built as ``bench ledger`` builds its chain but fed in slices
so the node's pool of pending transactions never fills (the explorer's pages: home, the pages
the navigation reaches, an old block, a transaction by hash, an account).
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from gridledger.api.server import ApiServer
from gridledger.bench.ledger import OPENING_BALANCE, account_id, bench_key
from gridledger.contracts.genesis import GenesisAccount
from gridledger.contracts.rules import Rules
from gridledger.core.crypto import sha256
from gridledger.core.types import Transaction
from gridledger.node.home import init_home, open_node
from gridledger.sim.community import DemoConfig, run_demo

PASSPHRASE = "bench web"
LEDGER_ACCOUNTS = 10_000
FEED_SLICE = 20_000
"""Transfers signed and submitted at a time; the next slice waits for the pool to drain."""
TARGET_MS = 300.0
MAX_KINDS = 56
_HREF = re.compile(r"""<a\s[^>]*href="([^"]+)\"""")
_NAV = re.compile(r"<nav[^>]*>(.*?)</nav>", re.S)
_MAIN = re.compile(r"<main[^>]*>(.*)</main>", re.S)
_TIMING = re.compile(r"render;dur=([0-9.]+)")


def kind_of(path: str) -> str:
    """A path with its id-like segments (those holding a digit) blanked, plus its query's
    parameter names: ``/blocks/12`` and ``/blocks/13`` are one kind of page."""
    parts = urlsplit(path)
    segs = "/".join("*" if re.search(r"\d", s) else s for s in parts.path.split("/"))
    names = sorted(p.split("=")[0] for p in parts.query.split("&") if p and "=" in p)
    return segs + (f"?{'&'.join(names)}" if names else "")


def _links(html: str, region: re.Pattern[str]) -> list[str]:
    out = []
    for block in region.findall(html):
        for raw in _HREF.findall(block):
            href = raw.replace("&amp;", "&")
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                continue
            if parts.path.startswith(("/v1/", "/static/")) or "lang=" in parts.query:
                continue
            out.append(href)
    return out


def discover(http: httpx.Client, extra: list[str] | None = None) -> dict[str, str]:
    """Page kind -> one URL of it: the navigation, ``extra`` URLs (searches), and up to
    :data:`MAX_KINDS` in all of the kinds linked from those pages, taken from each page in
    turn so that every section of the navigation is represented."""
    home = http.get("/")
    nav = ["/", *_links(home.text, _NAV)]
    found: dict[str, str] = {}
    for url in [*nav, *(extra or [])]:
        found.setdefault(kind_of(url) if url not in (extra or []) else url, url)
    linked: list[list[str]] = []
    for url in nav:
        answer = http.get(url)
        if answer.status_code == 200:
            linked.append(_links(answer.text, _MAIN))
    queues = [[h for h in hrefs if kind_of(h) not in found] for hrefs in linked]
    while any(queues) and len(found) < MAX_KINDS:
        for queue in queues:
            while queue and kind_of(queue[0]) in found:
                queue.pop(0)
            if queue and len(found) < MAX_KINDS:
                href = queue.pop(0)
                found[kind_of(href)] = href
    return found


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def time_pages(http: httpx.Client, pages: dict[str, str], repeat: int) -> list[dict[str, Any]]:
    """Request every page ``repeat`` times (after one warm-up) and summarise its timings."""
    out = []
    for kind, url in pages.items():
        http.get(url, follow_redirects=True)
        server: list[float] = []
        client: list[float] = []
        status = 0
        final = url
        for _ in range(repeat):
            t0 = time.perf_counter()
            answer = http.get(url, follow_redirects=True)
            client.append((time.perf_counter() - t0) * 1000)
            status = answer.status_code
            final = str(answer.url.raw_path.decode())
            match = _TIMING.search(answer.headers.get("server-timing", ""))
            if match:
                server.append(float(match.group(1)))
        row: dict[str, Any] = {"page": kind, "url": url, "status": status}
        if final != url:
            row["shown"] = final
        if server:
            row.update(
                server_ms_p50=round(statistics.median(server), 1),
                server_ms_p95=round(_pct(server, 0.95), 1),
                server_ms_max=round(max(server), 1),
            )
            row["meets_300ms"] = status == 200 and row["server_ms_max"] < TARGET_MS
        row.update(
            client_ms_p50=round(statistics.median(client), 1),
            client_ms_p95=round(_pct(client, 0.95), 1),
        )
        out.append(row)
    return out


def _serve_and_time(
    home: Path, passphrase: str, extra: Callable[[Any], list[str]], repeat: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    node = open_node(home, passphrase, verify_workers=0)
    try:
        node.start()
        chain = {"height": node.tip.height, "txs": node.store.tx_count()}
        with (
            ApiServer(node, "127.0.0.1", 0) as server,
            httpx.Client(base_url=server.url, timeout=120) as http,
        ):
            pages = discover(http, extra(node))
            return time_pages(http, pages, repeat), chain
    finally:
        node.close()


def build_transfer_chain(
    home: Path, txs: int, progress: Callable[[str, int, int], None] | None = None
) -> None:
    """A chain of ``txs`` committed ``funds.transfer`` transactions between
    :data:`LEDGER_ACCOUNTS` funded accounts."""
    keys = [bench_key(i) for i in range(LEDGER_ACCOUNTS)]
    genesis = init_home(
        home,
        PASSPHRASE,
        chain_id="gridledger-bench-web",
        accounts=[
            GenesisAccount(
                id=account_id(i), org="operator", public_key=k.public_key, balance=OPENING_BALANCE
            )
            for i, k in enumerate(keys)
        ],
        rules=Rules(block_max_txs=2000),
    )
    node = open_node(home, PASSPHRASE, tune_gc=True, block_interval_ms=50)
    try:
        node.start()
        nonces = [0] * LEDGER_ACCOUNTS
        for first in range(0, txs, FEED_SLICE):
            raws = []
            for k in range(first, min(first + FEED_SLICE, txs)):
                s = k % LEDGER_ACCOUNTS
                nonces[s] += 1
                to = (s + 1 + k * 7919) % LEDGER_ACCOUNTS
                to = (to + 1) % LEDGER_ACCOUNTS if to == s else to
                tx = Transaction(
                    genesis.chain_id,
                    "funds.transfer",
                    account_id(s),
                    nonces[s],
                    {"to": account_id(to), "amount": 1 + k % 1000},
                )
                tx.signature = keys[s].sign(tx.signing_bytes())
                raws.append(tx.encode())
            while node.pending > FEED_SLICE:
                time.sleep(0.05)
            for r in node.submit_many(raws):
                if not isinstance(r, bytes):
                    raise RuntimeError(f"a transfer was refused at admission: {r.code}")
            if progress:
                progress("commit", node.store.tx_count(), txs)
        while node.pending > 0 or node.store.tx_count() < txs:
            time.sleep(0.1)
    finally:
        node.close()


def run_web_bench(
    days: int = 30,
    plants: int = 20,
    households: int = 200,
    repeat: int = 20,
    txs: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Build the demo community's chain of ``days`` days, serve it and time every page kind;
    with ``txs``, also the explorer's pages on a chain of that many transfers."""
    result: dict[str, Any] = {"target_ms": TARGET_MS, "repeat": repeat}
    with tempfile.TemporaryDirectory(prefix="gridledger-bench-web-") as tmp:
        home = Path(tmp) / "demo"
        config = DemoConfig(plants=plants, households=households, days=days)
        t0 = time.perf_counter()
        summary = run_demo(config, home, PASSPHRASE, progress=progress)
        build_s = time.perf_counter() - t0

        def searches(_node: Any) -> list[str]:
            return [
                f"/search?q={summary['chain']['height'] // 2}",
                "/search?q=house-001",
                "/search?q=pv-01",
                "/search?q=m-flat-001",
            ]

        pages, chain = _serve_and_time(home, PASSPHRASE, searches, repeat)
        result["demo"] = {
            "days": days,
            "plants": plants,
            "households": households,
            "build_s": round(build_s, 1),
            **chain,
            "pages": pages,
        }
    if txs:
        with tempfile.TemporaryDirectory(prefix="gridledger-bench-web-") as tmp:
            home = Path(tmp) / "ledger"
            t0 = time.perf_counter()
            build_transfer_chain(home, txs, progress)
            build_s = time.perf_counter() - t0

            def explorer(node: Any) -> list[str]:
                first = node.store.block(1)
                tx_hash = sha256(first.txs()[0].raw).hex() if first and first.tx_count else ""
                return ["/search?q=1", f"/search?q={tx_hash}", f"/search?q={account_id(7)}"]

            pages, chain = _serve_and_time(home, PASSPHRASE, explorer, repeat)
            result["ledger"] = {"txs": txs, "build_s": round(build_s, 1), **chain, "pages": pages}
    return result
