"""The demo community going on living while its chain is served.

:func:`~gridledger.sim.community.run_demo_to_now` runs the community up to the real time;
:class:`LiveCommunity` then carries on beside the served node, on the node's own clock
(:class:`SpeedClock`, the real clock or one running ``speed`` times faster): each plant owner
offers its next day's forecast an hour before the day starts, and once each hour has ended the
gateway signs every meter's reading and sends it through the ingest path to the node's API.
Clearing and settlement are the market keeper's (:class:`~gridledger.node.keeper.MarketKeeper`),
certificates the certifier's keeper's, as on any node. Days after the first run's window are
simulated one at a time when they are needed, from the same seeded scenario.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable

from gridledger.core.types import Transaction
from gridledger.ingest import Reading, ReadingSubmitter, RetryPolicy
from gridledger.node.node import wall_clock_ms
from gridledger.sdk import Client, SdkError
from gridledger.sim.community import (
    DAY_S,
    GATE_CLOSURE_S,
    GATEWAY,
    HOUR_S,
    Community,
    Continuation,
    build_community,
)

log = logging.getLogger("gridledger.demo")

MAX_SPEED = 3600
"""An hour of community life in a second at most: the keepers still see every hour."""


class SpeedClock:
    """A node's notion of now (``NodeConfig.clock``), in ms: from ``start_ms`` at the moment
    it is made, running ``speed`` times as fast as the real clock.

    With ``speed`` 1 it is the real clock (from a start at the real time); faster, every rule
    about time (gate closure, final meter data, block times) holds against it as it would
    against the real clock, only sooner.
    """

    def __init__(
        self, start_ms: int, speed: int = 1, real_ms: Callable[[], int] = wall_clock_ms
    ) -> None:
        if not 1 <= speed <= MAX_SPEED:
            raise ValueError(f"speed must be 1 to {MAX_SPEED}, not {speed}")
        self.start_ms = start_ms
        self.speed = speed
        self._real_ms = real_ms
        self._anchor_ms = real_ms()

    def __call__(self) -> int:
        return self.start_ms + (self._real_ms() - self._anchor_ms) * self.speed

    def real_s(self, community_s: float) -> float:
        """Real seconds that ``community_s`` seconds of this clock take."""
        return community_s / self.speed


@dataclasses.dataclass
class _Day:
    """A local day of the community: its meters' readings and its plants' offers."""

    readings: dict[int, list[tuple[str, int]]]
    """``(meter, Wh)`` by hour start."""
    offers: list[tuple[str, dict[str, int | str]]]
    """``(owner, market.place_offer body)``, hour by hour."""


def _day_of(community: Community, day: int) -> _Day:
    """Day ``day`` (from 0) of ``community``'s window."""
    first = day * 24
    readings = {
        community.start + hour * HOUR_S: community.meter_readings(hour)
        for hour in range(first, first + 24)
    }
    offers: list[tuple[str, dict[str, int | str]]] = []
    for hour in range(first, first + 24):
        for p in community.plants:
            wh = community.forecast[p.device][hour]
            if wh > 0:
                offers.append((p.owner, {
                    "interval": community.start + hour * HOUR_S, "device": p.device,
                    "quantity_wh": wh, "price": p.floor_price,
                }))  # fmt: skip
    return _Day(readings, offers)


class LiveCommunity:
    """Carries the community of ``carry_on`` on against the node served at ``api_url``, on
    ``clock`` (the node's)."""

    def __init__(
        self,
        carry_on: Continuation,
        api_url: str,
        clock: Callable[[], int],
        *,
        speed: int = 1,
        poll_s: float = 1.0,
    ) -> None:
        self.community = carry_on.community
        self.keys = carry_on.keys
        self.api_url = api_url
        self.clock = clock
        self.speed = speed
        self.poll_s = poll_s
        self._days: dict[int, _Day] = {}
        """Simulated days by their start, Unix seconds."""
        self._offered_through = self.community.start + carry_on.offered_days * DAY_S
        """The start of the first day whose offers are not placed yet."""
        self._readings_from = carry_on.readings_from_s
        self.readings_sent = 0
        self.offers_sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._nonces: dict[str, int] = {}

    # the days -------------------------------------------------------------------------------
    def _day(self, day_start: int) -> _Day:
        """The simulated day starting at ``day_start`` (a local midnight)."""
        if day_start not in self._days:
            c = self.community
            if c.start <= day_start < c.end:
                self._days[day_start] = _day_of(c, (day_start - c.start) // DAY_S)
            else:
                config = dataclasses.replace(c.config, days=1, last_day=None)
                self._days[day_start] = _day_of(build_community(config, day_start, c.site), 0)
            for old in [d for d in self._days if d < day_start - DAY_S]:
                del self._days[old]
        return self._days[day_start]

    def _day_start(self, t: int) -> int:
        return self.community.start + (t - self.community.start) // DAY_S * DAY_S

    # one step -------------------------------------------------------------------------------
    def step(self, client: Client, gateway: ReadingSubmitter) -> None:
        """Do what is due by the clock now: next day's offers, ended hours' readings."""
        now_s = self.clock() // 1000
        # offers an hour before each day starts, for every hour still open for orders
        while now_s >= self._offered_through - HOUR_S:
            day_start = self._offered_through
            self._offer(client, self._day(day_start), now_s)
            self._offered_through = day_start + DAY_S
        while self._readings_from + HOUR_S <= now_s:
            hour = self._readings_from
            batch = [
                Reading(meter=m, start=hour, length_s=HOUR_S, energy_wh=wh)
                for m, wh in self._day(self._day_start(hour)).readings[hour]
            ]
            outcomes = gateway.submit(batch)
            self.readings_sent += sum(o.status == "accepted" for o in outcomes)
            self._readings_from = hour + HOUR_S

    def _offer(self, client: Client, day: _Day, now_s: int) -> None:
        # an offer must be on the chain before gate closure; leave a few seconds of the
        # node's clock for it to get there
        margin_s = GATE_CLOSURE_S + 5 * self.speed
        txs = []
        for owner, body in day.offers:
            interval = body["interval"]
            assert isinstance(interval, int)
            if interval - margin_s <= now_s:
                continue
            if owner not in self._nonces:
                self._nonces[owner] = client.next_nonce(owner)
            nonce = self._nonces[owner]
            self._nonces[owner] = nonce + 1
            tx = Transaction(client.chain_id, "market.place_offer", owner, nonce, dict(body))
            tx.signature = self.keys[owner].sign(tx.signing_bytes())
            txs.append(tx)
        for tx, result in zip(txs, client.submit_many(txs), strict=True):
            if isinstance(result, str):
                self.offers_sent += 1
            else:
                log.warning("offer of %s refused: %s", tx.sender, result)
                self._nonces.pop(tx.sender, None)

    # the thread -----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="demo-community", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _wait_for_api(self, client: Client) -> bool:
        """Wait (quietly) until the node's API answers, as it does once the server is up;
        False if stopped first."""
        while not self._stop.is_set():
            try:
                client.health()
            except SdkError:
                self._stop.wait(0.2)
            else:
                return True
        return False

    def _run(self) -> None:
        with Client(self.api_url, timeout=60.0) as client:
            if not self._wait_for_api(client):
                return
            gateway = ReadingSubmitter(
                client,
                self.keys[GATEWAY],
                GATEWAY,
                batch_size=5000,
                retry=RetryPolicy(attempts=5, first_delay_s=0.5),
            )
            while not self._stop.is_set():
                try:
                    self.step(client, gateway)
                except Exception:  # the community must never take the node down with it
                    log.exception("the demo community's step failed")
                self._stop.wait(self._pause_s())

    def _pause_s(self) -> float:
        """Real seconds until the next thing falls due (at most ``poll_s``)."""
        now_s = self.clock() / 1000
        due = min(self._readings_from + HOUR_S, self._offered_through - HOUR_S)
        return max(0.05, min(self.poll_s, (due - now_s) / self.speed))
