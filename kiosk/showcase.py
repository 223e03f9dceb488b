"""Read-only views of the library for the kiosk's screens: what to show, never how.

The idle screen publicises new and popular books and how many of each class have borrowed this
week; the supervisor menu finds a student whose card is at home and counts today's loans and
returns. Each function reads inside the caller's session and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from kiosk.models import Copy, CopyStatus, Event, Loan, Patron, PatronKind, Title
from kiosk.schedule import Schedule

GONE = (CopyStatus.LOST, CopyStatus.WITHDRAWN)


@dataclass(frozen=True)
class Book:
    title: str
    author: str
    loans: int = 0


@dataclass(frozen=True)
class ClassWeek:
    """One class in the reading league: how many of its students have borrowed this week
    (the school's target: every student borrows a book every week)."""

    class_name: str
    borrowed: int
    students: int

    @property
    def share(self) -> float:
        return self.borrowed / self.students if self.students else 0.0


@dataclass(frozen=True)
class Student:
    card: str
    name: str
    class_name: str
    initials: str = ""  # the first letters of the name's pinyin ("wzh" for 王子涵)


@dataclass(frozen=True)
class Day:
    """Today at the kiosk, for the small librarians: counts only. Who borrowed what is
    private, even from the helpers."""

    lent: int
    returned: int
    visits: int  # children who scanned their card today
    borrowers_by_class: tuple[tuple[str, int], ...]  # (class, children who borrowed today)


@dataclass(frozen=True)
class Opening:
    """What the closed screen says: when the library opens next and for which grades."""

    open_now: bool
    next_opening: dt.datetime | None  # local time
    next_grades: frozenset[int] | None  # grades of that opening; None: every grade


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tz)


def _undone_loans() -> Any:
    # A loan taken back at once ("not this book") was never read: it must not count in the
    # league, or pressing undo would be a way to climb it. The outbox says which ones.
    loan = func.json_extract(Event.payload, "$.loan")
    # (no NULL in the list: NOT IN with a NULL in it is never true)
    return select(loan).where(Event.type == "checkout_undone", loan.is_not(None))


def _not_undone() -> ColumnElement[bool]:
    return or_(Loan.returned_at.is_(None), Loan.id.not_in(_undone_loans().scalar_subquery()))


def _counted_loans(since: dt.datetime) -> ColumnElement[bool]:
    return and_(Loan.lent_at >= since, _not_undone())


def new_arrivals(session: Session, limit: int = 5) -> list[Book]:
    """The titles added last that still have a copy on the shelves or on loan."""
    rows = session.execute(
        select(Title.title, Title.author)
        .where(Title.copies.any(Copy.status.not_in(GONE)))
        .order_by(Title.added_on.desc(), Title.id.desc())
        .limit(limit)
    )
    return [Book(title, author) for title, author in rows]


def most_borrowed(session: Session, since: dt.datetime, limit: int = 5) -> list[Book]:
    """The titles lent most often since *since* (an aware time), most first."""
    count = func.count(Loan.id)
    rows = session.execute(
        select(Title.title, Title.author, count)
        .join(Copy, Copy.title_id == Title.id)
        .join(Loan, Loan.copy_id == Copy.id)
        .where(_counted_loans(since))
        .group_by(Title.id)
        .order_by(count.desc(), Title.title)
        .limit(limit)
    )
    return [Book(title, author, n) for title, author, n in rows]


def week_start(day: dt.date) -> dt.date:
    """The Monday of *day*'s week."""
    return day - dt.timedelta(days=day.weekday())


def _borrowers(session: Session, since: dt.datetime, until: dt.datetime | None = None) -> set[str]:
    """Cards of the patrons who borrowed between *since* and *until* (not counting loans
    taken back at once)."""
    linked = (
        select(Patron.card).join(Loan, Loan.patron_id == Patron.id).where(_counted_loans(since))
    )
    # A returned loan forgets its borrower (privacy); its checkout event still names the
    # card, so a child who brought a book back the same week still counts.
    card = func.json_extract(Event.payload, "$.patron")
    logged = select(card).where(
        Event.type == "checkout",
        Event.at >= since,
        func.json_extract(Event.payload, "$.loan").not_in(_undone_loans().scalar_subquery()),
    )
    if until is not None:
        linked = linked.where(Loan.lent_at < until)
        logged = logged.where(Event.at < until)
    return set(session.scalars(linked)) | {c for c in session.scalars(logged) if c}


def _students_by_class(session: Session) -> dict[str, str]:
    """Card to class of every active student in a class."""
    return dict(
        session.execute(
            select(Patron.card, Patron.class_name).where(
                Patron.kind == PatronKind.STUDENT,
                Patron.active.is_(True),
                Patron.class_name != "",
            )
        ).all()
    )


def reading_league(session: Session, since: dt.datetime) -> list[ClassWeek]:
    """Every class with students: how many of them have borrowed since *since* (the start of
    the week), the classes nearest to "everyone" first."""
    classes = _students_by_class(session)
    students = Counter(classes.values())
    borrowed = Counter(classes[c] for c in _borrowers(session, since) if c in classes)
    table = [ClassWeek(name, borrowed[name], n) for name, n in students.items()]
    return sorted(table, key=lambda c: (-c.share, -c.borrowed, c.class_name))


def classes(session: Session) -> list[str]:
    """Class names of the active students, in order."""
    return list(
        session.scalars(
            select(Patron.class_name)
            .where(
                Patron.kind == PatronKind.STUDENT,
                Patron.active.is_(True),
                Patron.class_name != "",
            )
            .distinct()
            .order_by(Patron.class_name)
        )
    )


def find_students(session: Session, class_name: str, query: str = "") -> list[Student]:
    """Active students of *class_name* in pinyin order, those answering *query* (the first
    letters of the name's pinyin, or a few of its characters; see kiosk.pinyin)."""
    from kiosk import pinyin  # its dictionary is loaded the first time a helper searches

    found = session.scalars(
        select(Patron).where(
            Patron.kind == PatronKind.STUDENT,
            Patron.active.is_(True),
            Patron.class_name == class_name,
        )
    )
    students = [Student(p.card, p.name, p.class_name, pinyin.initials(p.name)) for p in found]
    matching = [s for s in students if pinyin.matches(s.name, query)]
    letters = query.strip().lower()
    if letters.isascii() and letters.isalpha():
        # "zh" is the first letters z, h (张浩然) before it is the start of zhang or zhou.
        matching = [s for s in matching if s.initials.startswith(letters)] or matching
    return sorted(matching, key=lambda s: (pinyin.sort_key(s.name), s.name, s.card))


def today(session: Session, day: dt.date, tz: ZoneInfo) -> Day:
    """Loans, returns and visits of *day* (local)."""
    start = _local_midnight(day, tz)
    end = start + dt.timedelta(days=1)
    lent = session.scalar(
        select(func.count(Loan.id)).where(_counted_loans(start), Loan.lent_at < end)
    )
    returned = session.scalar(
        select(func.count(Loan.id)).where(
            Loan.returned_at >= start,
            Loan.returned_at < end,
            Loan.implicit_return.is_(False),
            _not_undone(),
        )
    )
    card = func.json_extract(Event.payload, "$.patron")
    visits = session.scalar(
        select(func.count(func.distinct(card))).where(
            Event.type == "session_started", Event.at >= start, Event.at < end
        )
    )
    classes = _students_by_class(session)
    by_class = Counter(classes[c] for c in _borrowers(session, start, end) if c in classes)
    return Day(lent or 0, returned or 0, visits or 0, tuple(sorted(by_class.items())))


def opening(session: Session, now: dt.datetime) -> Opening:
    """Whether the library is open at *now* (local time), and when it opens next."""
    schedule = Schedule.load(session)
    nxt = schedule.next_opening(now)
    next_grades: frozenset[int] | None = None
    if nxt is not None:
        starting = [
            w for w in schedule.windows_on(nxt.date()) if w.opens == nxt.time().replace(tzinfo=None)
        ]
        if starting and all(w.grades for w in starting):
            next_grades = frozenset().union(*(w.grades for w in starting))
    return Opening(
        open_now=bool(schedule.windows_at(now)), next_opening=nxt, next_grades=next_grades
    )
