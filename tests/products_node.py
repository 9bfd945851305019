"""A running node with a small supply chain, for the products API, CLI and web tests.

On :mod:`carbon_api_node`'s node (factor sets to 2030, ann of ``homes`` with the site
``s-ann``, sun of ``solar``), the grid registers the site ``s-sun`` for ``solar`` with an
hourly meter. ``homes`` makes aluminium ingots (kg): batch ``L1`` over two metered hours of
``s-ann`` (5,000 Wh each), 1,000 kg. ``solar`` makes wheel rims (9 kg pieces): it receives
400 kg of ``L1``, consumes 360 kg into batch ``R1`` of 40 rims, and registers the rims ``S1``
and ``S2``, shipping ``S2`` to ``homes``, which receives it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from carbon_api_node import carbon_chain
from cert_node import CertChain
from market_node import HOUR

INGOT = "06950000000019"
RIM = "06950000000026"


@contextmanager
def products_chain(home: Path) -> Iterator[CertChain]:
    """A started node with the supply chain of the module docstring."""
    with carbon_chain(home) as c:
        c.commit("grid", "registry.register_site", {
            "site": "s-sun", "name": "Rim works", "country": "CN", "grid_region": "CN-GD",
            "max_wh_per_hour": 1_000_000, "owner_org": "solar"})  # fmt: skip
        c.commit("grid", "registry.register_meter", {"meter": "m-s-sun", "kind": "consumption",
                 "site": "s-sun", "gateway": "gw", "interval_s": 3600})  # fmt: skip
        c.commit(
            "ann",
            "products.register_type",
            {"gtin": INGOT, "name": "Aluminium ingot", "unit": "kg", "cn_code": "76011000"},
        )
        c.commit("sun", "products.register_type",
                 {"gtin": RIM, "name": "Wheel rim", "unit": "unit", "unit_mass_g": 9000,
                  "cn_code": "87087010"})  # fmt: skip
        start = (c.clock.ms // 1000 // HOUR + 1) * HOUR
        c.clock.set(start)
        c.commit("ann", "products.register_batch", {"gtin": INGOT, "lot": "L1", "site": "s-ann"})
        c.clock.set(start + 2 * HOUR)
        c.readings(start, {"s-ann": 5000})
        c.readings(start + HOUR, {"s-ann": 5000})
        c.commit("ann", "products.complete_batch", {"gtin": INGOT, "lot": "L1", "quantity": 1000})
        c.commit("ann", "products.record_footprint", {"gtin": INGOT, "lot": "L1"})
        c.commit("ann", "products.ship", {"gtin": INGOT, "lot": "L1", "quantity": 400,
                                          "to": "solar"})  # fmt: skip
        c.commit("sun", "products.receive", {"gtin": INGOT, "lot": "L1", "shipment": 1})
        c.commit("sun", "products.register_batch", {"gtin": RIM, "lot": "R1", "site": "s-sun"})
        c.commit("sun", "products.consume", {"gtin": RIM, "lot": "R1",
                 "inputs": [{"gtin": INGOT, "lot": "L1", "quantity": 360}]})  # fmt: skip
        c.commit("sun", "products.complete_batch", {"gtin": RIM, "lot": "R1", "quantity": 40})
        c.commit("sun", "products.record_footprint", {"gtin": RIM, "lot": "R1"})
        c.commit("sun", "products.register_items", {"gtin": RIM, "serials": ["S1", "S2"],
                                                    "lot": "R1"})  # fmt: skip
        c.commit("sun", "products.ship", {"gtin": RIM, "serial": "S2", "to": "homes"})
        c.commit("ann", "products.receive", {"gtin": RIM, "serial": "S2"})
        yield c
