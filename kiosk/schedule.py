"""The opening timetable: weekdays, time windows, grades, A/B weeks and closed dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.models import ClosedDate, OpeningWindow, Week
from kiosk.store import get_setting

WEEK_A_STARTS = "timetable.week_a_starts"
_LOOKAHEAD_DAYS = 366


@dataclass(frozen=True)
class Window:
    weekday: int
    opens: dt.time
    closes: dt.time
    grades: frozenset[int]  # empty: every grade
    week: Week

    def admits(self, grade: int | None) -> bool:
        return not self.grades or grade is None or grade in self.grades


@dataclass(frozen=True)
class Schedule:
    windows: tuple[Window, ...]
    closed: frozenset[dt.date]
    week_a_starts: dt.date | None

    @classmethod
    def load(cls, session: Session) -> Schedule:
        windows = tuple(
            Window(w.weekday, w.opens, w.closes, frozenset(w.grade_list()), Week(w.week))
            for w in session.scalars(select(OpeningWindow).order_by(OpeningWindow.id))
        )
        closed = frozenset(session.scalars(select(ClosedDate.day)))
        start = get_setting(session, WEEK_A_STARTS)
        return cls(windows, closed, dt.date.fromisoformat(start) if start else None)

    def week_of(self, day: dt.date) -> Week:
        """A or B: weeks alternate from the Monday of ``week_a_starts`` (an A week)."""
        if self.week_a_starts is None:
            return Week.A
        first_monday = self.week_a_starts - dt.timedelta(days=self.week_a_starts.weekday())
        weeks = (day - first_monday).days // 7
        return Week.A if weeks % 2 == 0 else Week.B

    def windows_on(self, day: dt.date) -> list[Window]:
        if day in self.closed:
            return []
        week = self.week_of(day)
        return [
            w for w in self.windows if w.weekday == day.weekday() and w.week in (Week.EVERY, week)
        ]

    def windows_at(self, moment: dt.datetime) -> list[Window]:
        """The windows open at this local time (opening time included, closing time not)."""
        now = moment.time()
        return [w for w in self.windows_on(moment.date()) if w.opens <= now < w.closes]

    def is_open_day(self, day: dt.date) -> bool:
        return bool(self.windows_on(day))

    def next_open_day(self, day: dt.date) -> dt.date:
        """*day* itself if the library opens that day, else the next day it does."""
        for offset in range(_LOOKAHEAD_DAYS):
            candidate = day + dt.timedelta(days=offset)
            if self.is_open_day(candidate):
                return candidate
        return day  # no opening at all in a year: the timetable is empty, keep the plain date

    def next_opening(self, moment: dt.datetime, grade: int | None = None) -> dt.datetime | None:
        """When the library next opens (for *grade*, if given) after this local time."""
        for offset in range(_LOOKAHEAD_DAYS):
            day = moment.date() + dt.timedelta(days=offset)
            starts = sorted(
                dt.datetime.combine(day, w.opens, moment.tzinfo)
                for w in self.windows_on(day)
                if w.admits(grade)
            )
            for start in starts:
                if start > moment:
                    return start
        return None

    def grades_today(self, day: dt.date) -> frozenset[int] | None:
        """Grades that may borrow on *day*; None when every grade may."""
        windows = self.windows_on(day)
        if any(not w.grades for w in windows):
            return None
        return frozenset().union(*(w.grades for w in windows))
