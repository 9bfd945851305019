"""A small market for the market tests, driven through the executor block by block.

On top of :mod:`ledger_support`'s genesis: two plant owners in organisations of their own
(``sunroof`` with ``pv-a`` 10 kW, ``solarco`` with ``pv-b`` 20 kW) and three households each in
its own organisation (``alice``, ``bob``, ``carol`` with sites ``s-alice``, ``s-bob``,
``s-carol``); every device and site has an hourly meter reported by ``gw-1``. The grid
operator ``grid`` sets the tariffs (sells at 60, buys at 30 minor units per kWh) and holds
10,000,000 minor units; each household holds 100,000.

Time: block time starts at ``NOW_S`` (a whole day); ``H1`` is the first hour whose gate closure
(5 minutes before it starts) has not passed.
"""

from __future__ import annotations

from typing import Any

from gridledger.contracts import funds
from gridledger.core.types import Receipt
from ledger_support import BLOCK_TIME_MS, BLOCK_TIME_S, GRID, GW1, Ledger, device_body, site_body
from support import OPERATOR, key

HOUR = 3600
NOW_S = BLOCK_TIME_S
H1 = NOW_S + HOUR
SELL, FEED_IN = 60, 30
PLANTS = {"pv-a": ("sunroof", "owner-a", 10_000), "pv-b": ("solarco", "owner-b", 20_000)}
HOMES = {"s-alice": "alice", "s-bob": "bob", "s-carol": "carol"}
HOUSE_FUNDS = 100_000
GRID_FUNDS = 10_000_000


def at(seconds: int) -> int:
    """Block time in ms for a Unix second."""
    return seconds * 1000


class Market(Ledger):
    """The ledger with plants, homes, meters, funds and tariffs in place."""

    def __init__(self, mechanism: str = "pay_as_clear") -> None:
        super().__init__(BLOCK_TIME_MS)
        for device, (org, owner, capacity) in PLANTS.items():
            self.add_party(org, owner, "producer")
            self.ok(owner, "registry.register_device", device_body(device, capacity_w=capacity))
            self.meter(f"m-{device}", device=device)
        for site, owner in HOMES.items():
            self.add_party(owner, owner, "consumer")
            self.ok(owner, "registry.register_site", site_body(site, max_wh_per_hour=8_000))
            self.meter(f"m-{site}", site=site)
            self.ok(OPERATOR, "funds.mint", {"to": owner, "amount": HOUSE_FUNDS})
        self.ok(OPERATOR, "funds.mint", {"to": GRID, "amount": GRID_FUNDS})
        self.ok(GRID, "market.set_tariffs", {"sell_price": SELL, "feed_in_price": FEED_IN})
        if mechanism != "pay_as_clear":
            self.ok(OPERATOR, "market.set_params", {"mechanism": mechanism})

    def add_party(self, org: str, account: str, role: str) -> None:
        self.ok(
            OPERATOR,
            "registry.add_organisation",
            {"org": org, "name": org.title(), "roles": [role]},
        )
        self.ok(
            OPERATOR,
            "registry.add_account",
            {
                "account": account,
                "org": org,
                "public_key": key(account).public_key,
                "roles": [role],
            },
        )

    def meter(self, meter: str, **binding: str) -> None:
        kind = "generation" if "device" in binding else "consumption"
        body = {"meter": meter, "kind": kind, "gateway": GW1, "interval_s": HOUR, **binding}
        self.ok(GRID, "registry.register_meter", body)

    # orders and intervals --------------------------------------------------------------------
    def bid(self, account: str, wh: int, price: int, interval: int = H1, **extra: Any) -> Receipt:
        site = next(s for s, a in HOMES.items() if a == account)
        body = {"interval": interval, "site": site, "quantity_wh": wh, "price": price, **extra}
        return self.ok(account, "market.place_bid", body)

    def offer(self, device: str, wh: int, price: int, interval: int = H1) -> Receipt:
        owner = PLANTS[device][1]
        body = {"interval": interval, "device": device, "quantity_wh": wh, "price": price}
        return self.ok(owner, "market.place_offer", body)

    def clear(self, interval: int = H1) -> Receipt:
        return self.ok(GRID, "market.clear", {"interval": interval}, block_time_ms=at(interval))

    def readings(self, interval: int, wh: dict[str, int]) -> None:
        """Hourly readings for meters ``m-<asset>`` (submitted once the hour has ended)."""
        body = {
            "readings": [
                {"meter": f"m-{a}", "start": interval, "length_s": HOUR, "energy_wh": e}
                for a, e in sorted(wh.items())
            ]
        }
        receipt = self.ok(GW1, "metering.submit", body, block_time_ms=at(interval + HOUR))
        refused = [e for e in receipt.events if e["type"] == "metering.reading_refused"]
        assert not refused, refused

    def settle(self, interval: int = H1) -> Receipt:
        return self.ok(
            GRID, "market.settle", {"interval": interval}, block_time_ms=at(interval + HOUR)
        )

    def money(self) -> int:
        """Every balance and escrow: must equal the supply at all times."""
        total = 0
        for k, v in self.state.committed.items():
            if k.startswith((b"funds/balance/", b"funds/escrow/")):
                total += int(v)
        return total

    def balance(self, account: str) -> int:
        return funds.balance_of(self.state, account)

    def escrow(self, account: str) -> int:
        return funds.escrow_of(self.state, account)
