"""The opening timetable's edges: A/B weeks, closed dates, due dates that land on a closed day."""

from __future__ import annotations

import datetime as dt

from kiosk.models import Week
from kiosk.schedule import Schedule, Window
from tests.conftest import TZ


def weekdays(*days: int, week: Week = Week.EVERY, grades: frozenset[int] = frozenset()) -> tuple:
    return tuple(Window(d, dt.time(13, 30), dt.time(14, 20), grades, week) for d in days)


def test_due_date_on_a_weekend_moves_to_monday() -> None:
    schedule = Schedule(weekdays(0, 1, 2, 3, 4), frozenset(), None)
    saturday = dt.date(2026, 11, 28)
    assert schedule.next_open_day(saturday) == dt.date(2026, 11, 30)


def test_due_date_skips_a_run_of_holidays() -> None:
    holidays = frozenset(dt.date(2026, 10, d) for d in range(1, 9))
    schedule = Schedule(weekdays(0, 1, 2, 3, 4), holidays, None)
    assert schedule.next_open_day(dt.date(2026, 10, 1)) == dt.date(2026, 10, 9)


def test_a_week_only_window_does_not_open_b_weeks() -> None:
    schedule = Schedule(weekdays(4, week=Week.A), frozenset(), dt.date(2026, 9, 2))
    # A weeks start on the Monday of the week holding 2 September (31 August).
    assert schedule.week_of(dt.date(2026, 8, 31)) == Week.A
    assert schedule.week_of(dt.date(2026, 9, 7)) == Week.B
    assert schedule.week_of(dt.date(2026, 8, 30)) == Week.B  # the Sunday before
    assert schedule.next_open_day(dt.date(2026, 9, 5)) == dt.date(2026, 9, 18)


def test_window_includes_opening_minute_excludes_closing_minute() -> None:
    schedule = Schedule(weekdays(1), frozenset(), None)
    tuesday = dt.date(2026, 11, 24)
    at = lambda h, m, s=0: dt.datetime.combine(tuesday, dt.time(h, m, s), TZ)  # noqa: E731
    assert not schedule.windows_at(at(13, 29, 59))
    assert schedule.windows_at(at(13, 30))
    assert schedule.windows_at(at(14, 19, 59))
    assert not schedule.windows_at(at(14, 20))


def test_next_opening_for_a_grade() -> None:
    schedule = Schedule(
        weekdays(1, grades=frozenset({3})) + weekdays(3, grades=frozenset({5})),
        frozenset(),
        None,
    )
    tuesday_evening = dt.datetime(2026, 11, 24, 18, 0, tzinfo=TZ)
    assert schedule.next_opening(tuesday_evening, grade=5) == dt.datetime(
        2026, 11, 26, 13, 30, tzinfo=TZ
    )
    assert schedule.next_opening(tuesday_evening, grade=3) == dt.datetime(
        2026, 12, 1, 13, 30, tzinfo=TZ
    )
    assert schedule.grades_today(dt.date(2026, 11, 24)) == frozenset({3})


def test_empty_timetable_keeps_the_plain_due_date() -> None:
    schedule = Schedule((), frozenset(), None)
    day = dt.date(2026, 11, 24)
    assert schedule.next_open_day(day) == day
    assert schedule.next_opening(dt.datetime(2026, 11, 24, 12, tzinfo=TZ)) is None
