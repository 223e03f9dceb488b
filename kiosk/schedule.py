"""The opening timetable: weekdays, time windows, grades, A/B weeks and closed dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.models import ClosedDate, OpeningWindow, Week
from kiosk.settings import WEEK_A_STARTS
from kiosk.store import get_setting

_LOOKAHEAD_DAYS = 366
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


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
class Opening:
    """One line of the timetable as people say it: these weekdays, these times, these grades."""

    weekdays: tuple[int, ...]  # 0 is Monday
    opens: dt.time
    closes: dt.time
    grades: tuple[int, ...]  # empty: every grade
    week: Week

    def describe(self) -> str:
        """In plain words: "Monday to Friday 13:30-14:20, every grade"."""
        grades = (
            "every grade"
            if not self.grades
            else f"grade {self.grades[0]}"
            if len(self.grades) == 1
            else "grades " + ", ".join(map(str, self.grades[:-1])) + f" and {self.grades[-1]}"
        )
        weeks = "" if self.week == Week.EVERY else f", {self.week.value} weeks only"
        hours = f"{self.opens:%H:%M}-{self.closes:%H:%M}"
        return f"{_day_span(self.weekdays)} {hours}, {grades}{weeks}"


def _day_span(days: tuple[int, ...]) -> str:
    """ "Monday to Friday" for a run of three days or more, else "Monday, Wednesday, Friday"."""
    if len(days) >= 3 and days == tuple(range(days[0], days[-1] + 1)):
        return f"{DAY_NAMES[days[0]]} to {DAY_NAMES[days[-1]]}"
    return ", ".join(DAY_NAMES[d] for d in days)


@dataclass(frozen=True)
class Schedule:
    windows: tuple[Window, ...]
    closed: frozenset[dt.date]
    week_a_starts: dt.date | None
    # The windows of each day asked about: a scan asks several times (open now? the due date?)
    # and the engine keeps one Schedule for as long as the timetable does not change.
    _days: dict[dt.date, tuple[Window, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

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

    def windows_on(self, day: dt.date) -> tuple[Window, ...]:
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = self._windows_on(day)
        return known

    def _windows_on(self, day: dt.date) -> tuple[Window, ...]:
        if day in self.closed:
            return ()
        week = self.week_of(day)
        return tuple(
            w for w in self.windows if w.weekday == day.weekday() and w.week in (Week.EVERY, week)
        )

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

    def openings(self) -> list[Opening]:
        """The windows gathered back into the lines of kiosk.toml: one per time, grades and
        week, with all its weekdays (the store keeps one window per weekday)."""
        days: dict[tuple[dt.time, dt.time, tuple[int, ...], Week], set[int]] = {}
        for w in self.windows:
            days.setdefault((w.opens, w.closes, tuple(sorted(w.grades)), w.week), set()).add(
                w.weekday
            )
        lines = [
            Opening(tuple(sorted(weekdays)), opens, closes, grades, week)
            for (opens, closes, grades, week), weekdays in days.items()
        ]
        return sorted(lines, key=lambda o: (o.opens, o.weekdays))

    def describe(self, today: dt.date) -> list[str]:
        """The timetable in plain words, one line each, with the closed dates from *today* on."""
        if not self.windows:
            return ["The library never opens: the timetable has no opening windows."]
        lines = [f"Open {o.describe()}" for o in self.openings()]
        if any(w.week != Week.EVERY for w in self.windows):
            lines.append(f"The week of {today:%Y-%m-%d} is week {self.week_of(today).value}.")
        coming = sorted(d for d in self.closed if d >= today)
        if coming:
            lines.append("Closed on " + ", ".join(f"{d:%Y-%m-%d}" for d in coming))
        return lines
