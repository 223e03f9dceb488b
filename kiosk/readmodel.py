"""What the kiosk's screens show, read from the store one short transaction at a time.

The touchscreen never holds a database session: each screen asks this read model, which opens
one, reads (kiosk.showcase has the queries) and hands back plain values. The first run's two
answers (language, standalone) are the one thing the screens write besides what the engine does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from kiosk import outbox, showcase, stocktake
from kiosk.schedule import Schedule
from kiosk.settings import ENROLLED, LANGUAGE, SETUP_DONE
from kiosk.showcase import Book, ClassWeek, Day, Opening, Student
from kiosk.store import Store, get_setting, set_setting

__all__ = [
    "Book",
    "ClassWeek",
    "Day",
    "IdlePanels",
    "Library",
    "Opening",
    "Setup",
    "Shelf",
    "Stocktake",
    "Student",
]


MAX_PERIODS = 64  # of the idle screen's week: each time the library opens or closes


@dataclass(frozen=True)
class Setup:
    done: bool
    language: str | None  # chosen at the first run; None: kiosk.toml's


@dataclass(frozen=True)
class IdlePanels:
    arrivals: list[Book]
    popular: list[Book]  # this month
    league: list[ClassWeek]  # this week


@dataclass(frozen=True)
class Office:
    enrolled: bool
    waiting: int  # events not yet acknowledged by the office


@dataclass(frozen=True)
class Shelf:
    name: str
    copies: int  # the office's records put this many on it
    counted: int  # this kiosk has counted this many there


@dataclass(frozen=True)
class Stocktake:
    """The stocktake going on, as this kiosk has counted it so far."""

    name: str
    shelves: list[Shelf]  # in the office's order; then shelves counted though not listed

    @property
    def copies(self) -> int:
        return sum(s.copies for s in self.shelves)

    @property
    def counted(self) -> int:
        return sum(s.counted for s in self.shelves)


class Library:
    """The read model of one kiosk's store; *tz* is the school's time zone."""

    def __init__(self, store: Store, tz: ZoneInfo) -> None:
        self.store = store
        self.tz = tz

    def setup(self) -> Setup:
        with self.store.read() as db:
            return Setup(get_setting(db, SETUP_DONE) is not None, get_setting(db, LANGUAGE))

    def finish_setup(self, language: str, at: dt.datetime) -> None:
        with self.store.write() as db:
            set_setting(db, LANGUAGE, language)
            set_setting(db, SETUP_DONE, at.isoformat())

    def idle(self, now: dt.datetime, limit: int = 5) -> IdlePanels:
        local = now.astimezone(self.tz)
        month = dt.datetime.combine(showcase.month_start(local.date()), dt.time(), self.tz)
        week = dt.datetime.combine(showcase.week_start(local.date()), dt.time(), self.tz)
        with self.store.read() as db:
            return IdlePanels(
                showcase.new_arrivals(db, limit),
                showcase.most_borrowed(db, month, limit),
                showcase.reading_league(db, week)[:limit],
            )

    def opening(self, now: dt.datetime) -> Opening:
        with self.store.read() as db:
            return showcase.opening(db, now.astimezone(self.tz))

    def idle_periods(
        self, now: dt.datetime
    ) -> tuple[list[tuple[dt.datetime, Opening]], dt.datetime]:
        """The opening as the idle screen shows it from *now* on, with each time it changes
        (the library opens or closes), until a new week or month begins (its panels count
        loans since then), which is returned second."""
        local = now.astimezone(self.tz)
        day = local.date()
        next_month = (showcase.month_start(day) + dt.timedelta(days=31)).replace(day=1)
        next_week = showcase.week_start(day) + dt.timedelta(days=7)
        ends = dt.datetime.combine(min(next_month, next_week), dt.time(), self.tz)
        periods: list[tuple[dt.datetime, Opening]] = []
        moment: dt.datetime | None = local
        with self.store.read() as db:
            schedule = Schedule.load(db)
            while moment is not None and moment < ends and len(periods) < MAX_PERIODS:
                opening = showcase.opening(db, moment)
                periods.append((moment, opening))
                if open_now := schedule.windows_at(moment):
                    moment = min(
                        dt.datetime.combine(moment.date(), w.closes, self.tz) for w in open_now
                    )
                else:
                    moment = opening.next_opening
        return periods, ends

    def office(self) -> Office:
        with self.store.read() as db:
            return Office(get_setting(db, ENROLLED) is not None, outbox.pending(db))

    def classes(self) -> list[str]:
        with self.store.read() as db:
            return showcase.classes(db)

    def find_students(self, class_name: str, query: str = "") -> list[Student]:
        with self.store.read() as db:
            return showcase.find_students(db, class_name, query)

    def today(self, now: dt.datetime) -> Day:
        with self.store.read() as db:
            return showcase.today(db, now.astimezone(self.tz).date(), self.tz)

    def stocktake(self) -> Stocktake | None:
        """The stocktake the office started, if one is going on."""
        with self.store.read() as db:
            current = stocktake.open_stocktake(db)
            if current is None:
                return None
            counted = stocktake.counted_by_shelf(db, current)
            listed = [str(s["name"]) for s in current.shelves]
            return Stocktake(
                current.name,
                [
                    Shelf(name, stocktake.copies_on(current, name), counted.get(name, 0))
                    for name in listed + sorted(set(counted) - set(listed))
                ],
            )
