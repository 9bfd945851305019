"""Simulated PV generation and household load: deterministic, whole Wh, within the chain's
plausibility limits, and shaped like a Shenzhen rooftop and apartment.

Windows start at UTC midnight (08:00 in Shenzhen); hour ``h`` of a window's hourly series is
local hour ``(h + 8) % 24``.
"""

from __future__ import annotations

import datetime as dt
from statistics import mean

import pandas as pd
import pytest

from gridledger.contracts.metering import consumption_limit_wh, generation_limit_wh
from gridledger.sim import (
    HOUSEHOLDS,
    SHEKOU,
    HouseholdProfile,
    PvPlant,
    generation_wh,
    household_load_wh,
)
from gridledger.sim.load import RETIRED_COUPLE, SINGLE_PROFESSIONAL, WORKING_COUPLE
from gridledger.sim.pv import site_location

PLANT = PvPlant(capacity_w=5000, tilt_deg=20, azimuth_deg=180)
UTC_OFFSET_H = 8


def utc_day(date: str) -> int:
    return int(dt.datetime.fromisoformat(date).replace(tzinfo=dt.UTC).timestamp())


JUNE_21 = utc_day("2025-06-21")
DEC_21 = utc_day("2025-12-21")
JULY_14 = utc_day("2025-07-14")  # a Monday
DEC_15 = utc_day("2025-12-15")  # a Monday


def local_hours(series: list[int]) -> dict[int, list[int]]:
    """Hourly values grouped by local hour."""
    out: dict[int, list[int]] = {h: [] for h in range(24)}
    for i, wh in enumerate(series):
        out[(i + UTC_OFFSET_H) % 24].append(wh)
    return out


def daily_kwh(series: list[int]) -> list[float]:
    return [sum(series[d * 24 : (d + 1) * 24]) / 1000 for d in range(len(series) // 24)]


# --- site and clear sky ----------------------------------------------------------------------
def test_shekou_clear_sky_peak_ghi() -> None:
    location = site_location(SHEKOU)
    assert location.altitude == SHEKOU.altitude_m
    times = pd.date_range("2025-06-21 00:00", periods=24, freq="1h", tz="Asia/Shanghai")
    ghi = location.get_clearsky(times, model="ineichen")["ghi"]
    assert ghi.max() == pytest.approx(943, abs=5)
    assert ghi.idxmax().hour == 12


# --- PV ----------------------------------------------------------------------------------------
def test_pv_deterministic_per_seed() -> None:
    a = generation_wh(PLANT, SHEKOU, JUNE_21, 3, weather_seed=7)
    assert a == generation_wh(PLANT, SHEKOU, JUNE_21, 3, weather_seed=7)
    assert a != generation_wh(PLANT, SHEKOU, JUNE_21, 3, weather_seed=8)
    assert all(type(wh) is int for wh in a)
    assert len(a) == 72


def test_pv_day_weather_does_not_depend_on_window() -> None:
    three = generation_wh(PLANT, SHEKOU, JUNE_21, 3, weather_seed=3)
    last_two = generation_wh(PLANT, SHEKOU, JUNE_21 + 86_400, 2, weather_seed=3)
    assert three[24:] == last_two


@pytest.mark.parametrize("interval_s", [900, 3600, 86400])
@pytest.mark.parametrize("seed", [None, 1, 2])
def test_pv_within_capacity_and_plausibility(interval_s: int, seed: int | None) -> None:
    plant = PvPlant(capacity_w=4300, tilt_deg=10, azimuth_deg=170, dc_ac_ratio=2.0)
    series = generation_wh(plant, SHEKOU, JUNE_21, 4, interval_s=interval_s, weather_seed=seed)
    assert len(series) == 4 * 86_400 // interval_s
    cap = plant.capacity_w * interval_s // 3600
    limit = generation_limit_wh(plant.capacity_w, interval_s, 0, 110, 5)
    assert all(type(wh) is int and 0 <= wh <= cap <= limit for wh in series)
    if interval_s != 86400 and seed is None:
        # an oversized array clips at nameplate around noon on a clear day
        assert max(series) == cap


def test_pv_zero_at_night_and_peak_near_solar_noon() -> None:
    hours = local_hours(generation_wh(PLANT, SHEKOU, JUNE_21, 1, weather_seed=None))
    for h in (*range(5), *range(20, 24)):
        assert hours[h] == [0]
    peak = max(range(24), key=lambda h: hours[h][0])
    assert peak == 12  # solar noon in Shekou is about 12:26 local time


def test_pv_daily_energy_plausible_for_shenzhen() -> None:
    clear = generation_wh(PLANT, SHEKOU, JUNE_21, 1, weather_seed=None)
    assert 10_000 <= sum(clear) <= 30_000
    cloudy = daily_kwh(generation_wh(PLANT, SHEKOU, JUNE_21, 14, weather_seed=11))
    assert min(cloudy) >= 1
    assert max(cloudy) <= 30
    assert mean(cloudy) < sum(clear) / 1000 * 0.9


def test_pv_seasons() -> None:
    flat = PvPlant(capacity_w=5000, tilt_deg=0)
    june = sum(generation_wh(flat, SHEKOU, JUNE_21, 1, weather_seed=None))
    december = sum(generation_wh(flat, SHEKOU, DEC_21, 1, weather_seed=None))
    assert june > december * 1.25
    tilted_june = sum(generation_wh(PLANT, SHEKOU, JUNE_21, 1, weather_seed=None))
    tilted_december = sum(generation_wh(PLANT, SHEKOU, DEC_21, 1, weather_seed=None))
    assert tilted_june > tilted_december


@pytest.mark.parametrize("seed", [None, 5])
def test_pv_intervals_add_up(seed: int | None) -> None:
    quarter = generation_wh(PLANT, SHEKOU, JUNE_21, 2, interval_s=900, weather_seed=seed)
    hourly = generation_wh(PLANT, SHEKOU, JUNE_21, 2, interval_s=3600, weather_seed=seed)
    daily = generation_wh(PLANT, SHEKOU, JUNE_21, 2, interval_s=86400, weather_seed=seed)
    for h, wh in enumerate(hourly):
        assert 0 <= wh - sum(quarter[4 * h : 4 * h + 4]) < 4  # each floor loses < 1 Wh
    for d, wh in enumerate(daily):
        assert 0 <= wh - sum(hourly[24 * d : 24 * d + 24]) < 24


def test_windows_must_be_aligned() -> None:
    with pytest.raises(ValueError, match="aligned"):
        generation_wh(PLANT, SHEKOU, JUNE_21 + 900, 1, weather_seed=1)
    with pytest.raises(ValueError, match="aligned"):
        household_load_wh(WORKING_COUPLE, JUNE_21 + 60, 1, interval_s=900, seed=1)
    with pytest.raises(ValueError, match="interval_s"):
        generation_wh(PLANT, SHEKOU, JUNE_21, 1, interval_s=600, weather_seed=1)
    assert generation_wh(PLANT, SHEKOU, JUNE_21, 0, weather_seed=1) == []


# --- household load ----------------------------------------------------------------------------
def test_load_deterministic_per_seed() -> None:
    a = household_load_wh(WORKING_COUPLE, JULY_14, 3, seed=4)
    assert a == household_load_wh(WORKING_COUPLE, JULY_14, 3, seed=4)
    assert a != household_load_wh(WORKING_COUPLE, JULY_14, 3, seed=5)
    assert a != household_load_wh(RETIRED_COUPLE, JULY_14, 3, seed=4)
    assert all(type(wh) is int for wh in a)
    assert household_load_wh(WORKING_COUPLE, JULY_14 + 86_400, 2, seed=4) == a[24:]


@pytest.mark.parametrize("interval_s", [900, 3600, 86400])
@pytest.mark.parametrize("profile", HOUSEHOLDS, ids=lambda p: p.name)
def test_load_within_site_ceiling(profile: HouseholdProfile, interval_s: int) -> None:
    series = household_load_wh(profile, JULY_14, 7, interval_s=interval_s, seed=9)
    assert len(series) == 7 * 86_400 // interval_s
    limit = consumption_limit_wh(profile.max_wh_per_hour, interval_s)
    assert all(type(wh) is int and 0 < wh <= limit for wh in series)


@pytest.mark.parametrize("start", [JULY_14, DEC_15], ids=["july", "december"])
@pytest.mark.parametrize("profile", HOUSEHOLDS, ids=lambda p: p.name)
def test_load_daily_totals_plausible(profile: HouseholdProfile, start: int) -> None:
    days = daily_kwh(household_load_wh(profile, start, 14, seed=2))
    assert all(3 <= kwh <= 35 for kwh in days)
    assert 4 <= mean(days) <= 25


@pytest.mark.parametrize("profile", HOUSEHOLDS, ids=lambda p: p.name)
def test_load_air_conditioning_in_summer(profile: HouseholdProfile) -> None:
    july = mean(daily_kwh(household_load_wh(profile, JULY_14, 14, seed=3)))
    december = mean(daily_kwh(household_load_wh(profile, DEC_15, 14, seed=3)))
    assert july > december * 1.3


@pytest.mark.parametrize("start", [JULY_14, DEC_15], ids=["july", "december"])
@pytest.mark.parametrize("profile", HOUSEHOLDS, ids=lambda p: p.name)
def test_load_evening_peak_above_midday(profile: HouseholdProfile, start: int) -> None:
    hours = local_hours(household_load_wh(profile, start, 14, seed=6))
    evening = mean(hours[19] + hours[20])
    midday = mean(hours[14] + hours[15])
    night = mean(hours[3] + hours[4])
    assert evening > midday * 1.2
    assert evening > night * 1.5


def test_load_weekends_differ_from_working_days() -> None:
    # 14 days from a Monday: local days 0-4 and 7-11 are working days
    series = household_load_wh(WORKING_COUPLE, DEC_15, 14, seed=1)
    by_day = [series[d * 24 : (d + 1) * 24] for d in range(14)]
    # local 10:00-16:00 is hours 2..7 of a window that starts at 08:00 local
    midday = [sum(day[2:8]) for day in by_day]
    weekdays = [midday[d] for d in range(14) if d % 7 < 5]
    weekends = [midday[d] for d in range(14) if d % 7 >= 5]
    assert mean(weekends) > mean(weekdays) * 1.3


def test_load_households_differ_in_size() -> None:
    single = mean(daily_kwh(household_load_wh(SINGLE_PROFESSIONAL, DEC_15, 14, seed=1)))
    family = mean(daily_kwh(household_load_wh(HOUSEHOLDS[2], DEC_15, 14, seed=1)))
    assert family > single * 1.5


def test_load_intervals_add_up() -> None:
    quarter = household_load_wh(WORKING_COUPLE, JULY_14, 2, interval_s=900, seed=8)
    hourly = household_load_wh(WORKING_COUPLE, JULY_14, 2, interval_s=3600, seed=8)
    for h, wh in enumerate(hourly):
        assert 0 <= wh - sum(quarter[4 * h : 4 * h + 4]) < 4
