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

    def parse_day(self, text: str) -> int:
        """``YYYY-MM-DD`` as the start of that local day; ``ValueError`` if it is not a date."""
        return self.day_start(dt.date.fromisoformat(text))


UTC = LocalTime(DEFAULT_ZONE)
