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


def test_timetable_in_plain_words() -> None:
    """What the first run and `kiosk run` print: one line per kiosk.toml window, past closed
    dates left out."""
    schedule = Schedule(
        weekdays(0, 1, 2, 3, 4)
        + tuple(
            Window(d, dt.time(17), dt.time(17, 40), frozenset({5, 6}), Week.EVERY)
            for d in (0, 2, 4)
        )
        + (Window(3, dt.time(8), dt.time(8, 30), frozenset({2}), Week.B),),
        frozenset({dt.date(2026, 10, 1), dt.date(2025, 10, 1)}),
        dt.date(2026, 8, 31),
    )
    assert schedule.describe(dt.date(2026, 9, 7)) == [
        "Open Thursday 08:00-08:30, grade 2, B weeks only",
        "Open Monday to Friday 13:30-14:20, every grade",
        "Open Monday, Wednesday, Friday 17:00-17:40, grades 5 and 6",
        "The week of 2026-09-07 is week B.",
        "Closed on 2026-10-01",
    ]


def test_an_empty_timetable_says_the_library_never_opens() -> None:
    assert Schedule((), frozenset(), None).describe(dt.date(2026, 9, 7)) == [
        "The library never opens: the timetable has no opening windows."
    ]
