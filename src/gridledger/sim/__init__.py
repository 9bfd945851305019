"""Simulation of an energy community, deterministic from seeds, in whole Wh per interval.

* :mod:`gridledger.sim.site`: where the community is (:data:`SHEKOU`, Shenzhen) and its
  climate.
* :mod:`gridledger.sim.pv`: rooftop PV plants (:class:`PvPlant`) and their generation
  (:func:`generation_wh`), modelled with pvlib under seeded day-by-day clouds.
* :mod:`gridledger.sim.load`: household consumption (:func:`household_load_wh`) for a few
  typical south-China apartments (:data:`HOUSEHOLDS`), with air conditioning in the heat.

Every series is a list of non-negative integers, one per aligned interval (900, 3600 or
86400 s) from a start in Unix seconds UTC, within the chain's plausibility limits: a plant's
nameplate x duration, a household's ``max_wh_per_hour`` x duration.
"""

from gridledger.sim.load import (
    HOUSEHOLDS,
    HouseholdProfile,
    household_load_wh,
)
from gridledger.sim.pv import PvPlant, generation_wh
from gridledger.sim.site import INTERVALS_S, SHEKOU, Site

__all__ = [
    "HOUSEHOLDS",
    "INTERVALS_S",
    "SHEKOU",
    "HouseholdProfile",
    "PvPlant",
    "Site",
    "generation_wh",
    "household_load_wh",
]
