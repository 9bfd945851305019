"""A running node with carbon accounting to report on, for the carbon API, SDK and CLI tests.

On top of :mod:`cert_node`'s chain (the households ``ann``, ``ben``, ``dan`` of ``homes`` with
the sites ``s-ann``, ``s-ben``, ``s-dan``; the producer ``sun`` of ``solar`` with ``pv-1``,
``pv-2``, ``bat-1`` and ``wind-1``; every asset in CN-GD with an hourly meter ``m-<asset>``
reported by ``gw``; the certifier ``cert``): the operator adds the regulator ``reg`` and the
carbon verifier ``verifier`` (both of the operator's organisation, so the verifier is of
another organisation than the households) by transaction, so no genesis changes.

Metered data in 2025 (``JAN``, ``FEB``, ``MAR`` are the months' first hours, UTC):

* ``s-ann``: JAN 3000 Wh, JAN+1h 2000, FEB 4000, MAR 1000;
* ``s-ben``: JAN 5000, corrected by ``grid`` to 4000 (an estimated interval);
* ``pv-1``: JAN 2500, JAN+1h 1500, JAN+2h 1000, all certified and claimed for ann at s-ann
  (bundles ``pv-1:1``, ``pv-1:2501``, ``pv-1:4001``); ``wind-1`` (cert_node): JAN and FEB
  1,500,000 each;
* ``s-dan``: 2024-01 800 (no factor set covers it) and 2024-06 700 (a CO2e set covers it).

With ``carbon=True`` the regulator records, from the shipped library (2023 data):

* ``cn-gd-2025q1``: CN-GD's grid average (441,900 g/MWh), no residual mix, 2025-01..2025-02;
* ``cn-2025``: China's grid average (530,600) and residual mix (609,600), 2025-03..2029-12;
* ``cn-2024-co2e``: a hand-made CO2e set for China, 2024-06 only (the library has no CO2e
  combustion factor: its CO2e figures are life-cycle ones, which the contract refuses);
* the library's region map (CN-GD -> CN-SOUTH), so March falls back CN-GD -> CN-SOUTH -> CN;

and scope 1: ann reports ``gas-jan`` (s-ann, 2025-01, 10 GJ natural gas, 561,000 g), which the
verifier confirms, and ``diesel-feb`` (s-ann, 2025-02, 20 GJ gas/diesel oil, 1,482,000 g), left
unconfirmed; ben reports ``lpg-mar`` (s-ben, 2025-03, 5 GJ LPG), which the verifier rejects.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cert_node import FEB, JAN, CertChain, cert_chain
from fixtures_node import derived_key
from gridledger.sdk.carbon import factor_set_body, region_map_body
from market_node import HOUR

REGULATOR = "reg"
VERIFIER = "verifier"
MAR = 1_740_787_200
"""2025-03-01 00:00 UTC."""
JAN_2024 = 1_704_067_200
JUN_2024 = 1_717_200_000
"""2024-06-01 00:00 UTC."""
SETS = {
    "cn-gd-2025q1": ("CN-GD", 2023, "2025-01", "2025-03", False),
    "cn-2025": ("CN", 2023, "2025-03", "2030-01", True),
}
"""id: (region, data year, first month, first month after, residual mix): from the library."""
CO2E_SOURCE = {
    "factor_id": "test:co2e",
    "publisher": "Test data",
    "document": "a CO2e set",
    "year": 2023,
    "geography": "CN",
}
CO2E_SET = {
    "id": "cn-2024-co2e",
    "region": "CN",
    "start_s": JUN_2024,
    "end_s": 1_719_792_000,
    "library_version": "test",
    "gas": "CO2e",
    "grid_average": {
        "g_per_mwh": 600_000,
        "gas": "CO2e",
        "boundary": "combustion",
        "source": CO2E_SOURCE,
    },
}
"""A hand-made set in CO2e for 2024-06 (the library's CO2e figures are all life-cycle)."""


@contextmanager
def carbon_chain(home: Path, carbon: bool = True) -> Iterator[CertChain]:
    """A started node with the data of the module docstring (factor sets, region map and
    activity data only with ``carbon``)."""
    with cert_chain(home) as chain:
        for account, role in ((REGULATOR, "regulator"), (VERIFIER, "carbon_verifier")):
            chain.keys[account] = derived_key(account)
            chain.commit(
                "operator",
                "registry.add_account",
                {
                    "account": account,
                    "org": "operator",
                    "roles": [role],
                    "public_key": chain.keys[account].public_key,
                },
            )
        chain.readings(JAN, {"s-ann": 3000, "s-ben": 5000, "pv-1": 2500})
        chain.readings(JAN + HOUR, {"s-ann": 2000, "pv-1": 1500})
        chain.readings(JAN + 2 * HOUR, {"pv-1": 1000})
        chain.readings(FEB, {"s-ann": 4000})
        chain.readings(MAR, {"s-ann": 1000})
        chain.readings(JAN_2024, {"s-dan": 800})
        chain.readings(JUN_2024, {"s-dan": 700})
        chain.commit(
            "grid",
            "metering.correct",
            {"meter": "m-s-ben", "start": JAN, "energy_wh": 4000, "reason": "meter fault"},
        )
        chain.commit(
            "cert",
            "certificates.issue",
            {"device": "pv-1", "to": "sun", "starts": [JAN, JAN + HOUR, JAN + 2 * HOUR]},
        )
        for bundle in ("pv-1:1", "pv-1:2501", "pv-1:4001"):
            chain.commit(
                "sun",
                "certificates.cancel",
                {
                    "bundle": bundle,
                    "beneficiary": "ann",
                    "site": "s-ann",
                    "period_start_s": JAN,
                    "period_end_s": FEB,
                },
            )
            chain.commit("ann", "certificates.claim", {"bundle": bundle})
        if carbon:
            record_carbon(chain)
        yield chain


def record_carbon(chain: CertChain) -> None:
    """The factor sets, region map and activity data of the module docstring."""
    for set_id, (region, year, first, after, residual) in SETS.items():
        body = factor_set_body(region, year, first, after, set_id, residual=residual)
        chain.commit(REGULATOR, "carbon.record_factor_set", body)
    chain.commit(REGULATOR, "carbon.record_factor_set", CO2E_SET)
    chain.commit(REGULATOR, "carbon.set_region_map", region_map_body())
    activities = [
        ("ann", "gas-jan", "s-ann", "2025-01", "natural_gas", 10),
        ("ann", "diesel-feb", "s-ann", "2025-02", "gas_diesel_oil", 20),
        ("ben", "lpg-mar", "s-ben", "2025-03", "lpg", 5),
    ]
    for sender, activity, site, month, fuel, quantity in activities:
        chain.commit(
            sender,
            "carbon.report_activity",
            {
                "id": activity,
                "site": site,
                "month": month,
                "fuel": fuel,
                "quantity": quantity,
                "unit": "GJ",
            },
        )
    chain.commit(VERIFIER, "carbon.confirm_activity", {"org": "homes", "id": "gas-jan"})
    chain.commit(
        VERIFIER,
        "carbon.reject_activity",
        {"org": "homes", "id": "lpg-mar", "note": "no fuel receipts"},
    )
