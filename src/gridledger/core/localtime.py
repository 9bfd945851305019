"""Local time: the chain's time zone, for people.

The chain counts time in Unix seconds (UTC) and its contracts never look at a time zone. A
chain's genesis may name the time zone of the people it serves (an IANA name such as
``Asia/Shanghai``; UTC when it names none); pages, charts, summaries and exports show days,
hours and dates in it, and the API keeps Unix seconds (with the zone in ``/v1/status``).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_S = 86_400
DEFAULT_ZONE = "UTC"


def check_zone(name: str) -> str:
    """``name`` if it is an IANA time zone this machine knows, else ``ValueError``."""
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: give an IANA name such as Asia/Shanghai or UTC"
        ) from None
    return name


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class LocalTime:
    """Days and clock times in one time zone.

    Attributes:
        name: the IANA name of the zone.
    """

    def __init__(self, name: str = DEFAULT_ZONE) -> None:
        self.name = name
        self.tz = zone(name)

    def datetime(self, seconds: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(seconds, self.tz)

    def format(self, seconds: int, fmt: str = "%Y-%m-%d %H:%M") -> str:
        """``seconds`` (Unix) as local time."""
        return self.datetime(seconds).strftime(fmt)

    def day_of(self, seconds: int) -> int:
        """The start (Unix seconds) of the local day holding ``seconds``."""
        return self.day_start(self.datetime(seconds).date())

    def day_start(self, day: dt.date) -> int:
        """The start (Unix seconds) of local day ``day``."""
        return int(dt.datetime.combine(day, dt.time(), tzinfo=self.tz).timestamp())

    def next_day(self, day_start: int) -> int:
        """The start of the local day after the one starting at ``day_start``."""
        return self.day_start(self.datetime(day_start).date() + dt.timedelta(days=1))

    def days_back(self, last_day: int, days: int) -> list[int]:
        """``days`` local day starts ending with the day starting at ``last_day``, oldest
        first."""
        last = self.datetime(last_day).date()
        return [self.day_start(last - dt.timedelta(days=k)) for k in range(days - 1, -1, -1)]

    def month_of(self, seconds: int) -> int:
        """The start (Unix seconds) of the local month holding ``seconds``."""
        return _month_of(self.name, seconds)

    def month_start(self, text: str) -> int:
        """``YYYY-MM`` as the start of that local month; ``ValueError`` if it is not one."""
        if len(text) != 7 or text[4] != "-":
            raise ValueError(f"{text!r} is not YYYY-MM")
        day = dt.date(int(text[:4]), int(text[5:]), 1)
        return self.day_start(day)

    def next_month(self, month_s: int) -> int:
        """The start of the local month after the one starting at ``month_s``."""
        return self.month_of(self.month_of(month_s) + 32 * DAY_S)

    def month_text(self, seconds: int) -> str:
        """``YYYY-MM`` of the local month holding ``seconds``."""
        return self.datetime(seconds).strftime("%Y-%m")

    def parse_day(self, text: str) -> int:
        """``YYYY-MM-DD`` as the start of that local day; ``ValueError`` if it is not a date."""
        return self.day_start(dt.date.fromisoformat(text))


@lru_cache(maxsize=65_536)
def _month_of(name: str, seconds: int) -> int:
    # cached: a block's readings share a few hours, an inventory names thousands of months
    at = dt.datetime.fromtimestamp(seconds, zone(name))
    return int(dt.datetime(at.year, at.month, 1, tzinfo=zone(name)).timestamp())


UTC = LocalTime(DEFAULT_ZONE)
