"""Rooftop PV generation: pvlib clear sky and plane-of-array irradiance, a PVWatts DC model,
a fixed inverter efficiency clipped at nameplate, and seeded day-by-day weather.

Energy comes out in whole Wh per aligned interval, floored, so a series always passes the
chain's plausibility rule for a plant younger than 20 years (nameplate x duration x 110 %,
derated 0.5 % a year): it never exceeds nameplate x duration.
"""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pandas as pd
import pvlib
from pvlib.location import Location

from gridledger.sim.site import STEP_S, Site, check_window, steps

_STEPS_PER_DAY = 86_400 // STEP_S
_MONSOON_MONTHS = range(4, 10)
"""April to September: the rainy season of the south China coast."""


@dataclasses.dataclass(frozen=True)
class PvPlant:
    """A rooftop PV plant. ``capacity_w`` is the AC nameplate registered on chain; the array
    is ``dc_ac_ratio`` times larger. Azimuth in degrees clockwise from north (180 = south)."""

    capacity_w: int
    tilt_deg: float = 20.0
    azimuth_deg: float = 180.0
    dc_ac_ratio: float = 1.1
    gamma_pdc: float = -0.0037
    """Power temperature coefficient, 1/deg C (crystalline silicon)."""
    system_losses: float = 0.12
    """Soiling, wiring, mismatch and shading, as a fraction of DC power."""
    inverter_efficiency: float = 0.96
    albedo: float = 0.2
    wind_speed_ms: float = 1.5

    def __post_init__(self) -> None:
        if self.capacity_w <= 0:
            raise ValueError("capacity_w must be positive")
        if not 0 <= self.tilt_deg <= 90:
            raise ValueError("tilt_deg must be within 0..90")


def site_location(site: Site) -> Location:
    """The pvlib location of a site (with its altitude, so pvlib never looks one up)."""
    return Location(site.latitude, site.longitude, tz=site.tz, altitude=site.altitude_m)


def _day_weather(weather_seed: int, ordinal: int, month: int) -> list[float]:
    """Clear-sky index of each step of one local day: a day type drawn by its cloudiness, with
    autocorrelated per-step noise. Seeded by (seed, day), so a day's weather does not depend on
    the window it is simulated in."""
    rng = random.Random(f"gridledger.sim.pv/{weather_seed}/{ordinal}")
    p_clear, p_partly = (0.2, 0.45) if month in _MONSOON_MONTHS else (0.45, 0.4)
    draw = rng.random()
    if draw < p_clear:
        level, sigma = rng.uniform(0.9, 1.0), 0.03
    elif draw < p_clear + p_partly:
        level, sigma = rng.uniform(0.55, 0.85), 0.25
    else:
        level, sigma = rng.uniform(0.15, 0.45), 0.12
    phi = 0.9
    x = rng.gauss(0.0, sigma)
    out = []
    for _ in range(_STEPS_PER_DAY):
        x = phi * x + math.sqrt(1 - phi * phi) * rng.gauss(0.0, sigma)
        out.append(min(max(level * (1.0 + x), 0.0), 1.1))
    return out


def ac_power_w(
    plant: PvPlant, site: Site, start_utc: int, days: int, *, weather_seed: int | None
) -> list[float]:
    """Mean AC power (W) of each 300 s step of the window; ``weather_seed=None`` is clear sky."""
    grid = steps(site, start_utc, days)
    if not grid:
        return []
    times = pd.DatetimeIndex([local for _, local in grid])
    location = site_location(site)
    solpos = location.get_solarposition(times)
    clear = location.get_clearsky(times, model="ineichen", solar_position=solpos)
    if weather_seed is None:
        k = np.ones(len(grid))
    else:
        days_weather: dict[int, list[float]] = {}
        ks = []
        for index, local in grid:
            ordinal = local.date().toordinal()
            if ordinal not in days_weather:
                days_weather[ordinal] = _day_weather(weather_seed, ordinal, local.month)
            ks.append(days_weather[ordinal][index])
        k = np.asarray(ks)
    zenith = solpos["apparent_zenith"].to_numpy()
    ghi = clear["ghi"].to_numpy() * k
    dni = clear["dni"].to_numpy() * k * k  # clouds take the direct beam first
    dhi = np.clip(ghi - dni * np.cos(np.radians(zenith)), 0.0, None)
    poa = pvlib.irradiance.get_total_irradiance(
        plant.tilt_deg,
        plant.azimuth_deg,
        zenith,
        solpos["azimuth"].to_numpy(),
        dni,
        ghi,
        dhi,
        albedo=plant.albedo,
    )["poa_global"]
    poa = np.nan_to_num(np.asarray(poa, dtype=float), nan=0.0).clip(0.0, None)
    temp_air = np.asarray([site.air_temperature_c(local) for _, local in grid])
    params = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["close_mount_glass_glass"]
    temp_cell = pvlib.temperature.sapm_cell(poa, temp_air, plant.wind_speed_ms, **params)
    dc = pvlib.pvsystem.pvwatts_dc(
        poa, temp_cell, plant.capacity_w * plant.dc_ac_ratio, plant.gamma_pdc
    )
    ac = np.asarray(dc, dtype=float) * (1 - plant.system_losses) * plant.inverter_efficiency
    return [float(p) for p in np.clip(np.nan_to_num(ac, nan=0.0), 0.0, plant.capacity_w)]


def generation_wh(
    plant: PvPlant,
    site: Site,
    start_utc: int,
    days: int,
    *,
    interval_s: int = 3600,
    weather_seed: int | None,
) -> list[int]:
    """Energy generated in each ``interval_s`` interval from ``start_utc`` (aligned, Unix
    seconds UTC) over ``days`` days: whole Wh, 0 <= Wh <= capacity_w x interval_s / 3600.

    ``weather_seed`` seeds the clouds (a draw per local day and noise per step; same seed, same
    series); ``None`` simulates clear sky.
    """
    n = check_window(start_utc, days, interval_s)
    power = ac_power_w(plant, site, start_utc, days, weather_seed=weather_seed)
    per = interval_s // STEP_S
    ceiling = plant.capacity_w * interval_s // 3600
    out = []
    for i in range(n):
        wh = math.floor(sum(power[i * per : (i + 1) * per]) * STEP_S / 3600)
        out.append(min(max(wh, 0), ceiling))
    return out
