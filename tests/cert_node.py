"""A running node with certificates to issue, for the certificate API, SDK and CLI tests.

On top of :mod:`market_node`'s market (consumers ``ann``, ``ben``, ``dan`` with their sites;
the producer ``sun`` with ``pv-1`` (10 kW) and ``pv-2`` (20 kW), hourly meters ``m-<asset>``
reported by ``gw``): the operator adds the certifier ``cert`` (role certifier, operator
organisation) by transaction, so no genesis changes; ``sun`` registers the battery ``bat-1``
(technology storage, 5 kW) and the wind farm ``wind-1`` (2 MW), each with an hourly
generation meter.

Readings (hourly), in the past at the node's clock so every interval is final:

* ``h0`` (ten hours before the clock's start): pv-1 2000 Wh, pv-2 3000, s-ann 600;
* ``h1 = h0 + 1 h``: pv-1 1500, pv-2 2500, s-ann 1400;
* ``h2 = h0 + 2 h``: bat-1 1500 (what the battery delivered);
* ``JAN`` (2025-01-01 00:00 UTC) and ``FEB`` (2025-02-01 00:00 UTC): wind-1 1,500,000 each.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fixtures_node import derived_key
from market_node import HOUR, MarketChain, market_chain

CERTIFIER = "cert"
JAN = 1_735_689_600
"""2025-01-01 00:00 UTC."""
FEB = 1_738_368_000
"""2025-02-01 00:00 UTC."""
WIND_WH = 1_500_000


@dataclass
class CertChain(MarketChain):
    h0: int = 0
    """The first production hour of the PV plants (ten hours before the clock's start)."""
    start_s: int = 0
    """The clock's start, Unix seconds."""

    @property
    def h1(self) -> int:
        return self.h0 + HOUR

    @property
    def h2(self) -> int:
        return self.h0 + 2 * HOUR


def _device(device: str, technology: str, fuel: str, capacity_w: int) -> dict[str, Any]:
    return {"device": device, "name": f"Plant {device}", "technology": technology,
            "fuel": fuel, "capacity_w": capacity_w, "commissioned": "2024-01-01",
            "country": "CN", "grid_region": "CN-GD", "latitude_udeg": 22_543_096,
            "longitude_udeg": 113_934_528, "support": "none"}  # fmt: skip


@contextmanager
def cert_chain(home: Path) -> Iterator[CertChain]:
    """A started node with the market's participants, a certifier, a battery, a wind farm and
    the readings of the module docstring."""
    with market_chain(home) as market:
        chain = CertChain(**{f: getattr(market, f) for f in market.__dataclass_fields__})
        chain.start_s = chain.clock.ms // 1000
        chain.h0 = (chain.start_s // HOUR - 10) * HOUR
        chain.keys[CERTIFIER] = derived_key(CERTIFIER)
        chain.commit("operator", "registry.add_account",
                     {"account": CERTIFIER, "org": "operator", "roles": ["certifier"],
                      "public_key": chain.keys[CERTIFIER].public_key})  # fmt: skip
        chain.commit("sun", "registry.register_device",
                     _device("bat-1", "storage", "electricity", 5_000))  # fmt: skip
        chain.commit("sun", "registry.register_device",
                     _device("wind-1", "wind_onshore", "wind", 2_000_000))  # fmt: skip
        for device in ("bat-1", "wind-1"):
            chain.commit("grid", "registry.register_meter",
                         {"meter": f"m-{device}", "gateway": "gw", "interval_s": HOUR,
                          "kind": "generation", "device": device})  # fmt: skip
        chain.readings(chain.h0, {"pv-1": 2000, "pv-2": 3000, "s-ann": 600})
        chain.readings(chain.h1, {"pv-1": 1500, "pv-2": 2500, "s-ann": 1400})
        chain.readings(chain.h2, {"bat-1": 1500})
        chain.readings(JAN, {"wind-1": WIND_WH})
        chain.readings(FEB, {"wind-1": WIND_WH})
        yield chain
