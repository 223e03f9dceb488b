"""Read-only views of the library for the kiosk's screens: what to show, never how.

The idle screen publicises new and popular books and the class reading league; the supervisor
menu finds a student whose card is at home and lists today's loans and returns. Each function
reads inside the caller's session and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
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
class ClassStanding:
    """One class in the reading league: loans this month, per student."""

    class_name: str
    loans: int
    students: int

    @property
    def per_student(self) -> float:
        return self.loans / self.students if self.students else 0.0


@dataclass(frozen=True)
class Student:
    card: str
    name: str
    class_name: str


@dataclass(frozen=True)
class DeskLine:
    """A loan or return of today, as the supervisor's list shows it."""

    at: dt.datetime  # local time
    title: str
    name: str  # the borrower; empty for a return once the kiosk has forgotten who it was
    class_name: str


@dataclass(frozen=True)
class Opening:
    """What the closed screen says: when the library opens next and for which grades."""

    open_now: bool
    next_opening: dt.datetime | None  # local time
    next_grades: frozenset[int] | None  # grades of that opening; None: every grade
    grades_today: frozenset[int] | None  # None: every grade (or not open today)
    open_today: bool


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tz)


def _not_undone() -> ColumnElement[bool]:
    # A loan taken back at once ("not this book") was never read: it must not count in the
    # league, or pressing undo would be a way to climb it. The outbox says which ones.
    loan = func.json_extract(Event.payload, "$.loan")
    # (no NULL in the list: NOT IN with a NULL in it is never true)
    undone = select(loan).where(Event.type == "checkout_undone", loan.is_not(None))
    return or_(Loan.returned_at.is_(None), Loan.id.not_in(undone.scalar_subquery()))


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


def reading_league(session: Session, since: dt.datetime) -> list[ClassStanding]:
    """Every class with students, by loans per student since *since*, best first."""
    students = dict(
        session.execute(
            select(Patron.class_name, func.count(Patron.id))
            .where(
                Patron.kind == PatronKind.STUDENT,
                Patron.active.is_(True),
                Patron.class_name != "",
            )
            .group_by(Patron.class_name)
        ).all()
    )
    # The loan keeps its class after the kiosk forgets who borrowed it (privacy).
    loans = dict(
        session.execute(
            select(Loan.patron_class, func.count(Loan.id))
            .where(_counted_loans(since), Loan.patron_class.in_(students))
            .group_by(Loan.patron_class)
        ).all()
    )
    table = [ClassStanding(name, loans.get(name, 0), n) for name, n in students.items()]
    return sorted(table, key=lambda c: (-c.per_student, -c.loans, c.class_name))


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


def find_students(session: Session, class_name: str, name: str = "") -> list[Student]:
    """Active students of *class_name* whose name contains *name*, by name."""
    query = select(Patron).where(
        Patron.kind == PatronKind.STUDENT,
        Patron.active.is_(True),
        Patron.class_name == class_name,
    )
    if name.strip():
        query = query.where(Patron.name.contains(name.strip(), autoescape=True))
    return [
        Student(p.card, p.name, p.class_name)
        for p in session.scalars(query.order_by(Patron.name, Patron.card))
    ]


def today_at_desk(
    session: Session, day: dt.date, tz: ZoneInfo
) -> tuple[list[DeskLine], list[DeskLine]]:
    """Loans made and books returned on *day* (local), latest first."""
    start = _local_midnight(day, tz)
    end = start + dt.timedelta(days=1)
    lent = session.scalars(
        select(Loan).where(_counted_loans(start), Loan.lent_at < end).order_by(Loan.lent_at.desc())
    )
    back = session.scalars(
        select(Loan)
        .where(
            Loan.returned_at >= start,
            Loan.returned_at < end,
            Loan.implicit_return.is_(False),
            _not_undone(),
        )
        .order_by(Loan.returned_at.desc())
    )
    return (
        [_desk_line(loan, loan.lent_at, tz) for loan in lent],
        [_desk_line(loan, loan.returned_at, tz) for loan in back if loan.returned_at],
    )


def _desk_line(loan: Loan, at: dt.datetime, tz: ZoneInfo) -> DeskLine:
    name = loan.patron.name if loan.patron else ""
    return DeskLine(at.astimezone(tz), loan.copy.title.title, name, loan.patron_class)


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
        open_now=bool(schedule.windows_at(now)),
        next_opening=nxt,
        next_grades=next_grades,
        grades_today=schedule.grades_today(now.date()),
        open_today=schedule.is_open_day(now.date()),
    )
