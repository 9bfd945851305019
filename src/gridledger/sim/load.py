"""Household electricity use for apartments on the south China coast, in whole Wh per interval.

A household draws an always-on base load (fridge, router, standby), an activity load that
follows the hour of the day (a morning peak, a midday trough when nobody is home on working
days, an evening peak of cooking, water heating, TV and laundry), air conditioning that rises
with the temperature (summer afternoons, evenings and nights) and short appliance bursts
(kettle, rice cooker, washing machine). Noise comes from a ``random.Random`` seeded by (seed,
household, day), so a series is deterministic and a day's values do not depend on the window.
"""

from __future__ import annotations

import dataclasses
import math
import random

from gridledger.sim.site import SHEKOU, STEP_S, Site, check_window, steps

_STEPS_PER_HOUR = 3600 // STEP_S
_STEPS_PER_DAY = 86_400 // STEP_S

# Activity load of one occupant by local hour, W.
AWAY_DAY_W = (
    *(40, 30, 30, 30, 30, 60, 160, 210, 100, 40, 30, 35),
    *(45, 40, 35, 40, 60, 160, 260, 245, 215, 170, 110, 65),
)
"""A working or school day: out from about 9:00 to 17:00."""
HOME_DAY_W = (
    *(40, 30, 30, 30, 30, 50, 130, 170, 135, 110, 125, 190),
    *(135, 105, 100, 105, 135, 200, 265, 245, 215, 170, 110, 65),
)
"""A day at home: lunch is cooked, the afternoon is quieter than the evening."""
# Share of the air conditioners running when it is hot, by local hour.
AC_AWAY_DAY = (
    *(0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.2, 0.2, 0.0, 0.0, 0.0, 0.0),
    *(0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 0.7, 0.8, 0.8, 0.6, 0.5, 0.4),
)
AC_HOME_DAY = (
    *(0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.2, 0.3, 0.3, 0.4, 0.5, 0.6),
    *(0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.7, 0.8, 0.8, 0.6, 0.5, 0.4),
)
_BURST_W = 1800
_BURSTS_PER_DAY = 4.0


@dataclasses.dataclass(frozen=True)
class HouseholdProfile:
    """What drives one household's consumption."""

    name: str
    occupants: int
    base_w: int
    """Always-on load, W."""
    ac_units: int
    ac_unit_w: int = 600
    """Electrical draw of one air conditioner at full duty, W."""
    comfort_c: float = 26.0
    """Indoor temperature above which air conditioners start; full duty 8 deg C above."""
    home_on_weekdays: bool = False
    """Someone stays home on working days (retired people, grandparents minding children)."""

    def __post_init__(self) -> None:
        if self.occupants < 1 or self.base_w < 0 or self.ac_units < 0 or self.ac_unit_w < 0:
            raise ValueError("occupants must be >= 1; loads must not be negative")

    @property
    def activity_scale(self) -> float:
        """More people share fridges and lights: activity grows less than linearly."""
        return float(self.occupants**0.6)

    @property
    def max_wh_per_hour(self) -> int:
        """Most this household can draw in an hour, Wh (its site's plausibility ceiling): no
        interval of :func:`household_load_wh` exceeds ``max_wh_per_hour x interval_s / 3600``."""
        activity = 2 * self.activity_scale * max(*AWAY_DAY_W, *HOME_DAY_W)
        peak = self.base_w * 1.2 + activity + self.ac_units * self.ac_unit_w + _BURST_W
        return math.ceil(peak)


SINGLE_PROFESSIONAL = HouseholdProfile("single-professional", 1, base_w=90, ac_units=1)
WORKING_COUPLE = HouseholdProfile("working-couple", 2, base_w=110, ac_units=2)
FAMILY_THREE_GENERATIONS = HouseholdProfile(
    "family-three-generations", 5, base_w=150, ac_units=3, home_on_weekdays=True
)
RETIRED_COUPLE = HouseholdProfile(
    "retired-couple", 2, base_w=100, ac_units=2, comfort_c=27.0, home_on_weekdays=True
)
HOUSEHOLDS = (SINGLE_PROFESSIONAL, WORKING_COUPLE, FAMILY_THREE_GENERATIONS, RETIRED_COUPLE)


def indoor_temperature_c(air_c: float, daily_mean_c: float) -> float:
    """A flat's air temperature without cooling: the building's mass halves the daily swing
    and its heat gains add 1.5 deg C."""
    return 0.5 * air_c + 0.5 * daily_mean_c + 1.5


def _day_noise(seed: int, profile: HouseholdProfile, ordinal: int) -> tuple[float, list[float]]:
    """A day's overall level and its per-step relative noise (autocorrelated, about 25 %)."""
    rng = random.Random(f"gridledger.sim.load/{seed}/{profile.name}/{ordinal}")
    level = min(max(rng.gauss(1.0, 0.12), 0.6), 1.5)
    x = 0.0
    noise = []
    for _ in range(_STEPS_PER_DAY):
        x = 0.8 * x + 0.6 * rng.gauss(0.0, 0.25)
        noise.append(x)
    return level, noise


def _bursts(seed: int, profile: HouseholdProfile, ordinal: int, home: bool) -> dict[int, int]:
    """Short appliance bursts (step -> W), most likely when the household is most active."""
    rng = random.Random(f"gridledger.sim.load/bursts/{seed}/{profile.name}/{ordinal}")
    shape = HOME_DAY_W if home else AWAY_DAY_W
    floor = min(shape)
    total = sum(w - floor for w in shape) * _STEPS_PER_HOUR
    out = {}
    for step in range(_STEPS_PER_DAY):
        if rng.random() < _BURSTS_PER_DAY * (shape[step // _STEPS_PER_HOUR] - floor) / total:
            out[step] = rng.randint(_BURST_W // 2, _BURST_W)
    return out


def load_power_w(
    profile: HouseholdProfile, start_utc: int, days: int, *, seed: int, site: Site = SHEKOU
) -> list[float]:
    """Mean power (W) of each 300 s step of the window."""
    ceiling = profile.max_wh_per_hour
    cache: dict[int, tuple[float, list[float], dict[int, int], float]] = {}
    out = []
    for index, local in steps(site, start_utc, days):
        ordinal = local.date().toordinal()
        home = profile.home_on_weekdays or local.weekday() >= 5
        if ordinal not in cache:
            level, noise = _day_noise(seed, profile, ordinal)
            bursts = _bursts(seed, profile, ordinal, home)
            mean_c = sum(site.air_temperature_c(local.replace(hour=h)) for h in range(24)) / 24
            cache[ordinal] = level, noise, bursts, mean_c
        level, noise, bursts, mean_c = cache[ordinal]
        hour = index // _STEPS_PER_HOUR
        activity = (HOME_DAY_W if home else AWAY_DAY_W)[hour] * profile.activity_scale
        indoor = indoor_temperature_c(site.air_temperature_c(local), mean_c)
        duty = min(max((indoor - profile.comfort_c) / 8.0, 0.0), 1.0)
        ac_share = (AC_HOME_DAY if home else AC_AWAY_DAY)[hour]
        power = (
            profile.base_w * (1.0 + 0.2 * noise[index])
            + activity * level * max(1.0 + noise[index], 0.0)
            + profile.ac_units * profile.ac_unit_w * ac_share * duty * level
            + bursts.get(index, 0)
        )
        out.append(min(max(power, 0.0), float(ceiling)))
    return out


def household_load_wh(
    profile: HouseholdProfile,
    start_utc: int,
    days: int,
    *,
    interval_s: int = 3600,
    seed: int,
    site: Site = SHEKOU,
) -> list[int]:
    """Energy consumed in each ``interval_s`` interval from ``start_utc`` (aligned, Unix seconds
    UTC) over ``days`` days: whole Wh, 0 <= Wh <= profile.max_wh_per_hour x interval_s / 3600.

    Noise is drawn per (seed, profile name, local day): households sharing a profile need their
    own seeds to differ."""
    n = check_window(start_utc, days, interval_s)
    power = load_power_w(profile, start_utc, days, seed=seed, site=site)
    per = interval_s // STEP_S
    ceiling = profile.max_wh_per_hour * interval_s // 3600
    out = []
    for i in range(n):
        wh = math.floor(sum(power[i * per : (i + 1) * per]) * STEP_S / 3600)
        out.append(min(max(wh, 0), ceiling))
    return out
