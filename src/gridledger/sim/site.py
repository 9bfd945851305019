"""Where a simulated community sits: coordinates, time zone and a simple climate."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from functools import cached_property
from zoneinfo import ZoneInfo

INTERVALS_S = (900, 3600, 86400)
STEP_S = 300
"""Simulation time step: every interval (900, 3600, 86400 s) is a whole number of steps."""


@dataclasses.dataclass(frozen=True)
class Site:
    """A place: latitude and longitude in degrees (north and east positive), an IANA time zone,
    altitude in metres and a climate (daily mean air temperature over the year and its daily
    swing), enough to drive the PV and household load models."""

    name: str
    latitude: float
    longitude: float
    tz: str
    altitude_m: float
    annual_mean_c: float = 22.5
    """Mean air temperature over the year, deg C."""
    seasonal_amplitude_c: float = 7.0
    """Half the difference between the warmest and the coldest month's mean, deg C."""
    warmest_day_of_year: int = 200
    diurnal_amplitude_c: float = 3.5
    """Half the daily swing, deg C; the warmest hour is 14:00 local time."""

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def local(self, t_utc: int) -> dt.datetime:
        """Local wall time of Unix second ``t_utc``."""
        return dt.datetime.fromtimestamp(t_utc, self.zone)

    def air_temperature_c(self, local: dt.datetime) -> float:
        """Typical air temperature at a local time (no weather: the climate's mean day)."""
        doy = local.timetuple().tm_yday
        daily_mean = self.annual_mean_c + self.seasonal_amplitude_c * math.cos(
            2 * math.pi * (doy - self.warmest_day_of_year) / 365.25
        )
        hour = local.hour + local.minute / 60 + local.second / 3600
        return daily_mean + self.diurnal_amplitude_c * math.cos(2 * math.pi * (hour - 14) / 24)


SHEKOU = Site(
    name="Shekou, Shenzhen",
    latitude=22.48,
    longitude=113.92,
    tz="Asia/Shanghai",
    altitude_m=10.0,
    annual_mean_c=22.5,
    seasonal_amplitude_c=7.0,
)
"""Shekou, Nanshan district, Shenzhen: monthly means from about 15 deg C (January) to 29
(July)."""


def check_window(start_utc: int, days: int, interval_s: int) -> int:
    """Validate a simulation window and return its number of intervals."""
    if interval_s not in INTERVALS_S:
        raise ValueError(f"interval_s must be one of {INTERVALS_S}, not {interval_s}")
    if start_utc < 0 or start_utc % interval_s:
        raise ValueError(f"start_utc {start_utc} is not aligned to {interval_s} s")
    if days < 0:
        raise ValueError("days must not be negative")
    return days * 86_400 // interval_s


def steps(site: Site, start_utc: int, days: int) -> list[tuple[int, dt.datetime]]:
    """The window's simulation steps: for each, its index in its local day (0 at local
    midnight) and the local wall time of its middle."""
    out = []
    for i in range(days * 86_400 // STEP_S):
        local = site.local(start_utc + i * STEP_S + STEP_S // 2)
        seconds = local.hour * 3600 + local.minute * 60 + local.second
        out.append((seconds // STEP_S, local))
    return out
