"""What the kiosk's screens show, read from the store one short transaction at a time.

The touchscreen never holds a database session: each screen asks this read model, which opens
one, reads (kiosk.showcase has the queries) and hands back plain values. The first run's two
answers (language, standalone) are the one thing the screens write besides what the engine does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from kiosk import outbox, showcase
from kiosk.settings import ENROLLED, LANGUAGE, SETUP_DONE
from kiosk.showcase import Book, ClassWeek, Day, Opening, Student
from kiosk.store import Store, get_setting, set_setting

__all__ = ["Book", "ClassWeek", "Day", "IdlePanels", "Library", "Opening", "Setup", "Student"]


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
