"""A household's clean-power record: streaks and milestones over local days, checked on
examples (including a daylight-saving day) and against a brute-force reference on random
sequences of days."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from gridledger.core.localtime import LocalTime
from gridledger.readmodels.green_record import DayShare, Record, milestones, missed, streaks

SHANGHAI = LocalTime("Asia/Shanghai")
BERLIN = LocalTime("Europe/Berlin")
FIRST = dt.date(2025, 6, 1)


def _days(
    local: LocalTime, shares: list[tuple[int, int] | None], first: dt.date = FIRST
) -> list[DayShare]:
    """Consecutive local days from ``first``; ``None`` leaves a day out (no consumption)."""
    out = []
    for k, share in enumerate(shares):
        if share is not None:
            out.append(DayShare(local.day_start(first + dt.timedelta(days=k)), *share))
    return out


def test_streak_counts_consecutive_clean_days_up_to_the_latest() -> None:
    days = _days(
        SHANGHAI,
        [(10_000, 6_000), (10_000, 5_000), (10_000, 4_999), (8_000, 8_000), (9_000, 4_500)],
    )
    assert [d.share_permille for d in days] == [600, 500, 499, 1000, 500]
    assert streaks(days, 500) == (2, 2)
    assert streaks(days, 501) == (0, 1)
    assert streaks(days, 0) == (5, 5)


def test_a_day_without_consumption_breaks_the_streak() -> None:
    days = _days(SHANGHAI, [(1000, 1000), None, (1000, 1000), (1000, 1000)])
    assert streaks(days, 500) == (2, 2)


def test_local_days_across_daylight_saving_stay_consecutive() -> None:
    # Berlin moves its clocks on 30 March 2025: that local day has 23 hours
    days = _days(BERLIN, [(100, 100)] * 4, dt.date(2025, 3, 29))
    assert streaks(days, 500) == (4, 4)


def test_milestones_mark_the_day_they_are_reached() -> None:
    days = _days(SHANGHAI, [(20_000, 2_000)] + [(20_000, 15_000)] * 8)
    avoided = {d.day_s: 200_000 for d in days}
    found = {m.key: m.reached_s for m in milestones(days, 500, avoided)}
    assert found["first_clean_day"] == days[1].day_s
    assert found["streak_7"] == days[7].day_s
    assert found["streak_30"] is None
    # matched: 2 kWh then 15 kWh a day: 100 kWh on the 8th day (2 + 7 x 15 = 107)
    assert found["kwh_100"] == days[7].day_s
    # 200 kg a day: a tonne on the 5th day
    assert found["tonne_1"] == days[4].day_s


def _reference(days: list[DayShare], threshold: int, local: LocalTime) -> tuple[int, int]:
    """Streaks by walking every calendar day from the first to the last."""
    if not days:
        return 0, 0
    by_date = {local.datetime(d.day_s).date(): d for d in days}
    first, last = min(by_date), max(by_date)
    runs, run, date = [], 0, first
    while date <= last:
        day = by_date.get(date)
        clean = (
            day is not None
            and day.consumption_wh > 0
            and day.matched_wh * 1000 >= threshold * day.consumption_wh
        )
        run = run + 1 if clean else 0
        runs.append(run)
        date += dt.timedelta(days=1)
    return runs[-1], max(runs)


@settings(max_examples=60, deadline=None)
@given(
    shares=st.lists(
        st.none() | st.tuples(st.integers(1, 50_000), st.integers(0, 50_000)), max_size=60
    ),
    threshold=st.integers(0, 1000),
    berlin=st.booleans(),
    start=st.dates(dt.date(2024, 1, 1), dt.date(2026, 12, 31)),
)
def test_streaks_agree_with_a_calendar_walk(
    shares: list[tuple[int, int] | None], threshold: int, berlin: bool, start: dt.date
) -> None:
    local = BERLIN if berlin else SHANGHAI
    days = _days(local, shares, start)
    current, best = streaks(days, threshold)
    assert (current, best) == _reference(days, threshold, local)
    assert 0 <= current <= best <= len(days)
    reached = {m.key: m.reached_s for m in milestones(days, threshold, {})}
    assert (reached["first_clean_day"] is None) == (best == 0)
    assert (reached["streak_7"] is None) == (best < 7)


def test_missed_is_what_the_share_had_before_would_have_avoided_since() -> None:
    days = _days(SHANGHAI, [(10_000, 6_000), (10_000, 4_000), (8_000, 0), (12_000, 0)])
    rec = Record(500, 0, 1, days, [], 10_000, 40_000, 0)
    found = missed(rec, days[2].day_s, 581_000)
    assert found is not None
    assert (found.consumption_wh, found.share_permille, found.matched_wh) == (20_000, 500, 10_000)
    assert found.avoided_g == 10_000 * 581_000 // 1_000_000
    # no clean energy before, or nothing consumed since: nothing to show
    assert missed(rec, days[0].day_s, 581_000) is None
    assert missed(rec, days[-1].day_s + 86_400, 581_000) is None
