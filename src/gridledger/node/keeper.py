"""The market keeper: sends ``market.clear`` and ``market.settle`` when they fall due.

Clearing and settlement are ordinary transactions whose outcome depends only on the ledger, so
any account may send them and the result is the same whoever does. A node started with a keeper
account (``gridledger node --keeper operator``) sends them on time with that account's key:

* **clear** an interval once its gate closure has passed, if there is something to clear:
  bids and offers to match (its own orders or those standing choices made before its gate
  closure will place), or bids of its own whose escrow clearing gives back. An interval
  nobody offers into, or nobody bids in, is left alone: no empty cleared interval, no money
  held for it;
* **settle** a cleared interval once it has ended and its meter data is final (or the data
  deadline has passed), checked on the committed state with the contract's own rule
  (:func:`gridledger.contracts.market.settlement_ready`).

It looks back ``lookback_s`` (two days by default) for intervals still to clear, so a node that
was down catches up; a transaction it sent counts as in flight until the next block is committed,
and is sent again only if the interval is still due after it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from gridledger.contracts import market
from gridledger.core.crypto import SigningKey
from gridledger.core.errors import GridLedgerError
from gridledger.core.types import Transaction
from gridledger.node.node import Node
from gridledger.state.state import StateReader

log = logging.getLogger("gridledger.keeper")


def _earliest(times: list[int]) -> int | None:
    return min(times) if times else None


def _worth_clearing(
    view: StateReader,
    start: int,
    gate_s: int,
    standing_bid_s: int | None,
    standing_offer_s: int | None,
    has_orders: bool,
) -> bool:
    """Whether clearing ``start`` matches something or gives escrow back: bids (its own, or
    a standing choice made before its gate closure ``gate_s``) and offers alike, or bids of
    its own alone."""
    sides = {o.side for o in market.interval_orders(view, start)} if has_orders else set()
    bids = "bid" in sides or (standing_bid_s is not None and standing_bid_s < gate_s)
    offers = "offer" in sides or (standing_offer_s is not None and standing_offer_s < gate_s)
    return (bids and offers) or "bid" in sides


def worth_clearing(view: StateReader, start: int) -> bool:
    """Whether the keeper would clear interval ``start`` once its gate closure has passed:
    it has bids and offers to match, or bids of its own whose escrow clearing gives back."""
    record = market.get_interval(view, start)
    if record is not None and record.status != "open":
        return False
    standing_bids = [p.since_s for p in market.preferences(view) if p.choice == "clean"]
    standing_offers = [o.since_s for o in market.standing_offers(view)]
    gate = start - market.params(view).gate_closure_s
    return _worth_clearing(
        view, start, gate, _earliest(standing_bids), _earliest(standing_offers), record is not None
    )


def due_actions(
    view: StateReader, now_ms: int, lookback_s: int = 2 * 86_400
) -> list[tuple[str, int]]:
    """``(kind, interval)`` pairs that would succeed now, oldest interval first."""
    if market.tariffs(view) is None:
        return []
    p = market.params(view)
    step, gate = p.interval_s, p.gate_closure_s
    now_s = now_ms // 1000
    last = (now_s + gate) // step * step  # the latest interval whose gate closure has passed
    first = last - lookback_s // step * step
    records = {r.start_s: r for r in market.intervals(view, first, last + 1, limit=100_000)}
    standing_bid_s = _earliest([p.since_s for p in market.preferences(view) if p.choice == "clean"])
    standing_offer_s = _earliest([o.since_s for o in market.standing_offers(view)])
    out: list[tuple[str, int]] = []
    for start in range(first, last + 1, step):
        record = records.get(start)
        if record is None or record.status == "open":
            if _worth_clearing(
                view, start, start - gate, standing_bid_s, standing_offer_s, record is not None
            ):
                out.append(("market.clear", start))
        elif (
            record.status == "cleared"
            and now_s >= start + record.interval_s
            and market.settlement_ready(view, start, now_ms)
        ):
            out.append(("market.settle", start))
    return out


class MarketKeeper:
    """Sends the due clearing and settlement transactions of ``node`` as ``account``."""

    def __init__(
        self,
        node: Node,
        account: str,
        key: SigningKey,
        period_s: float = 2.0,
        lookback_s: int = 2 * 86_400,
    ) -> None:
        self.node = node
        self.account = account
        self.key = key
        self.period_s = period_s
        self.lookback_s = lookback_s
        self._sent: dict[tuple[str, int], int] = {}
        """(kind, interval) -> the tip height when it was sent."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> list[tuple[str, int]]:
        """Send what is due and not in flight; returns what was sent."""
        node = self.node
        tip = node.tip
        now = max(node.config.clock(), tip.time)
        sent = []
        for action in due_actions(node.state.view, now, self.lookback_s):
            if self._sent.get(action, -1) >= tip.height:
                continue  # sent, not committed yet
            kind, start = action
            tx = Transaction(
                chain_id=node.chain_id,
                kind=kind,
                sender=self.account,
                nonce=node.next_nonce(self.account),
                body={"interval": start},
            )
            tx.signature = self.key.sign(tx.signing_bytes())
            try:
                node.submit_tx(tx)
            except GridLedgerError as exc:
                log.warning("keeper could not send %s %d: %s", kind, start, exc)
                break
            self._sent[action] = tip.height
            sent.append(action)
            log.info("keeper sent %s for interval %d", kind, start)
        for action in [a for a, h in self._sent.items() if h < tip.height - 100]:
            del self._sent[action]
        return sent

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="market-keeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self.tick()
            except Exception:  # the keeper must never take the node down with it
                log.exception("market keeper tick failed")

    def status(self) -> dict[str, Any]:
        return {"account": self.account, "in_flight": len(self._sent)}
