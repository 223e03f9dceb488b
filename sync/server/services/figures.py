"""The school's figures against its plan, and the reports: the one source of every number the
overview, the report pages, the semester report's PDF and its CSV files show.

How things are counted (the pages say it in words too):

- a *student* is an active reader of kind student or small librarian (helpers are students);
  a class is the class the student is in now;
- a *loan* is a book lent to a student, at a kiosk or at the desk, and not undone at once;
  renewals are not new loans; loans to teachers are counted apart;
- days and weeks are the school's (its time zone, weeks from Monday); a loan counts on the day
  it was lent;
- the semester runs from its first to its last day, or to today while it is on; its weeks
  are the weeks (Monday to Sunday) that hold one of its days;
- a loan is *overdue* while the book is out after its due date.

Loans are read once per question and counted here in Python rather than in SQL: the same
counting on SQLite and PostgreSQL, with the school's days whatever the database's time zone.
A semester of a school is a few thousand rows.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.clock import utc_now
from kiosk.models import CopyStatus, PatronKind
from sync.server.models import Copy, Loan, Patron, Title
from sync.server.services import kiosks
from sync.server.services.loans import current_loans
from sync.server.services.plan import Plan
from sync.server.services.students import class_order

STUDENT_KINDS = (PatronKind.STUDENT, PatronKind.HELPER)
# Copies that are part of the collection (lent or lendable, or being repaired).
HELD = (CopyStatus.AVAILABLE, CopyStatus.ON_LOAN, CopyStatus.DAMAGED, CopyStatus.IN_REPAIR)
NO_CLASS = ""


def today_in(plan: Plan, now: dt.datetime | None = None) -> dt.date:
    """The school's date now."""
    return (now or utc_now()).astimezone(plan.zone()).date()


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


@dataclass(frozen=True)
class Semester:
    starts: dt.date
    ends: dt.date
    today: dt.date

    @property
    def until(self) -> dt.date:
        """The last day counted: the semester's last, or today while it is on."""
        return min(self.ends, self.today)

    @property
    def started(self) -> bool:
        return self.today >= self.starts

    @property
    def weeks(self) -> list[dt.date]:
        """The Mondays of the semester's weeks counted so far."""
        if not self.started:
            return []
        first, last = monday(self.starts), monday(self.until)
        return [first + dt.timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]

    @property
    def all_weeks(self) -> int:
        return (monday(self.ends) - monday(self.starts)).days // 7 + 1

    @property
    def months(self) -> list[dt.date]:
        if not self.started:
            return []
        found, month = [], month_start(self.starts)
        while month <= self.until:
            found.append(month)
            month = (month + dt.timedelta(days=32)).replace(day=1)
        return found

    @property
    def this_week(self) -> dt.date | None:
        """Monday of the current week, while the semester is on."""
        return monday(self.today) if self.starts <= self.today <= self.ends else None


def semester_of(plan: Plan, today: dt.date) -> Semester:
    return Semester(plan.semester_starts, plan.semester_ends, today)


# -- reading the records -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Student:
    id: int
    card: str
    name: str
    class_name: str


@dataclass(frozen=True)
class _Loan:
    day: dt.date  # the school's date it was lent
    patron_id: int | None
    class_name: str
    student: bool
    title_id: int | None


def _students(session: Session) -> list[_Student]:
    rows = session.execute(
        select(Patron.id, Patron.card, Patron.name, Patron.class_name).where(
            Patron.active, ~Patron.deleted, Patron.kind.in_(STUDENT_KINDS)
        )
    )
    return [_Student(*row) for row in rows]


def _day_bounds(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def _loans(session: Session, zone: ZoneInfo, first: dt.date, last: dt.date) -> list[_Loan]:
    """Loans lent on the school's days *first* to *last*, undone ones left out."""
    rows = session.execute(
        select(Loan.lent_at, Loan.patron_id, Patron.class_name, Patron.kind, Copy.title_id)
        .outerjoin(Patron, Loan.patron_id == Patron.id)
        .outerjoin(Copy, Loan.copy_id == Copy.id)
        .where(
            ~Loan.undone,
            Loan.lent_at >= _day_bounds(first, zone),
            Loan.lent_at < _day_bounds(last + dt.timedelta(days=1), zone),
        )
    )
    return [
        _Loan(
            day=lent_at.astimezone(zone).date(),
            patron_id=patron_id,
            class_name=class_name or NO_CLASS,
            student=kind in STUDENT_KINDS,
            title_id=title_id,
        )
        for lent_at, patron_id, class_name, kind, title_id in rows
    ]


def _semester_loans(session: Session, plan: Plan, semester: Semester) -> list[_Loan]:
    if not semester.started:
        return []
    return _loans(session, plan.zone(), semester.starts, semester.until)


def _classes(names: Iterable[str]) -> list[str]:
    return sorted(set(names), key=class_order)


# -- the overview: the plan's three figures, for the school and each class -------------------


@dataclass(frozen=True)
class Week:
    starts: dt.date  # its Monday
    loans: int  # students' loans lent that week
    borrowers: int  # students (of today's) who borrowed that week
    students: int

    @property
    def share(self) -> float:
        """Percent of the students who borrowed that week."""
        return 100 * self.borrowers / self.students if self.students else 0.0


@dataclass(frozen=True)
class Group:
    """The school (name "") or one class, this semester."""

    name: str
    students: int
    loans: int  # students' loans this semester so far
    plan: float  # the semester's plan of loans, for the school or this class's share of it
    weeks: list[Week]  # the semester's weeks so far, the trend
    this_week: Week | None  # None outside the semester
    overdue: int  # books out past their due date now

    @property
    def books_per_student(self) -> float:
        return self.loans / self.students if self.students else 0.0

    @property
    def mean_share(self) -> float:
        """The weekly share, averaged over the semester's weeks so far."""
        return sum(w.share for w in self.weeks) / len(self.weeks) if self.weeks else 0.0

    def weeks_on_target(self, target: float) -> int:
        """Weeks in which more than *target* percent of the students borrowed."""
        return sum(1 for week in self.weeks if week.share > target)


@dataclass(frozen=True)
class KioskState:
    name: str
    last_sync: dt.datetime | None
    events_waiting: int
    events_held_back: int
    revoked: bool
    clock_offset_seconds: float | None  # the office's time minus the kiosk's, at its last sync
    clock_backwards: bool  # its newest events were written by a clock that went back
    quiet_days: int | None  # whole days since the last sync; None if never


@dataclass(frozen=True)
class Overview:
    plan: Plan
    semester: Semester
    school: Group
    classes: list[Group]
    teachers_loans: int  # this semester, to teachers (and their class sets)
    kiosks: list[KioskState]

    @property
    def elapsed(self) -> float:
        """The part of the semester's weeks that has begun (0 to 1)."""
        return min(len(self.semester.weeks), self.semester.all_weeks) / self.semester.all_weeks

    @property
    def plan_to_date(self) -> int:
        """The loans the plan expects by the end of this week."""
        return round(self.plan.semester_loans * self.elapsed)

    @property
    def books_to_date(self) -> float:
        """The books per student the target expects by the end of this week."""
        return self.plan.books_per_student * self.elapsed


def overview(
    session: Session, plan: Plan, today: dt.date, now: dt.datetime | None = None
) -> Overview:
    """The figures of the overview page (and the top of the semester report)."""
    semester = semester_of(plan, today)
    students = _students(session)
    loans = _semester_loans(session, plan, semester)
    overdue = _overdue_by_class(session, today)
    class_of = {s.id: s.class_name for s in students}
    names = _classes(
        [s.class_name for s in students] + [ln.class_name for ln in loans if ln.student]
    )
    members: dict[str, set[int]] = defaultdict(set)
    for s in students:
        members[s.class_name].add(s.id)
    everyone = set(class_of)
    total = len(everyone)

    def planned(name: str, students: int) -> float:
        """The school's plan, or a class's share of it by its number of students."""
        if not name:
            return float(plan.semester_loans)
        return plan.semester_loans * students / total if total else 0.0

    def group(name: str, ids: set[int], mine: list[_Loan], out: int) -> Group:
        weeks = _weeks(semester, ids, mine)
        return Group(
            name=name,
            students=len(ids),
            loans=len(mine),
            plan=planned(name, len(ids)),
            weeks=weeks,
            this_week=next((w for w in weeks if w.starts == semester.this_week), None),
            overdue=out,
        )

    student_loans = [ln for ln in loans if ln.student]
    by_class: dict[str, list[_Loan]] = defaultdict(list)
    for ln in student_loans:
        by_class[ln.class_name].append(ln)
    return Overview(
        plan=plan,
        semester=semester,
        school=group("", everyone, student_loans, sum(overdue.values())),
        classes=[group(n, members[n], by_class[n], overdue.get(n, 0)) for n in names],
        teachers_loans=sum(1 for ln in loans if not ln.student and ln.patron_id is not None),
        kiosks=kiosk_states(session, now),
    )


def _weeks(semester: Semester, ids: set[int], loans: list[_Loan]) -> list[Week]:
    counts: Counter[dt.date] = Counter()
    borrowers: dict[dt.date, set[int]] = defaultdict(set)
    for ln in loans:
        week = monday(ln.day)
        counts[week] += 1
        if ln.patron_id in ids:
            borrowers[week].add(ln.patron_id)
    return [Week(w, counts[w], len(borrowers[w]), len(ids)) for w in semester.weeks]


def _overdue_by_class(session: Session, today: dt.date) -> dict[str, int]:
    """Books out past their due date now (the Overdue page's), by the class of the reader
    (teachers: "")."""
    found: Counter[str] = Counter()
    for line in current_loans(session, late_on=today):
        found[line.class_name if line.kind in STUDENT_KINDS and line.class_name else NO_CLASS] += 1
    return dict(found)


def kiosk_states(session: Session, now: dt.datetime | None = None) -> list[KioskState]:
    now = now or utc_now()
    return [
        KioskState(
            name=k.name,
            last_sync=k.last_sync,
            events_waiting=k.events_waiting,
            events_held_back=k.events_held_back,
            revoked=k.revoked,
            clock_offset_seconds=k.clock_offset_seconds,
            clock_backwards=k.clock_backwards,
            quiet_days=(now - k.last_sync).days if k.last_sync else None,
        )
        for k in kiosks.kiosks(session)
    ]


# -- reports -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassLoans:
    """Students' loans of each class in each week (or month) of the semester."""

    periods: list[dt.date]  # the Mondays, or the first days of the months
    classes: list[tuple[str, list[int]]]  # a class and its loans in each period
    teachers: list[int]  # teachers' loans in each period

    @property
    def totals(self) -> list[int]:
        return [sum(column) for column in zip(*(n for _, n in self.classes), strict=True)] or [
            0 for _ in self.periods
        ]


def loans_by_class(
    session: Session, plan: Plan, today: dt.date, *, by_month: bool = False
) -> ClassLoans:
    semester = semester_of(plan, today)
    periods = semester.months if by_month else semester.weeks
    start_of = month_start if by_month else monday
    loans = _semester_loans(session, plan, semester)
    counts: dict[str, Counter[dt.date]] = defaultdict(Counter)
    teachers: Counter[dt.date] = Counter()
    for ln in loans:
        if ln.student:
            counts[ln.class_name][start_of(ln.day)] += 1
        elif ln.patron_id is not None:
            teachers[start_of(ln.day)] += 1
    names = _classes([s.class_name for s in _students(session)] + list(counts))
    return ClassLoans(
        periods=periods,
        classes=[(name, [counts[name][p] for p in periods]) for name in names],
        teachers=[teachers[p] for p in periods],
    )


@dataclass(frozen=True)
class TitleLine:
    title: str
    author: str
    classification: str
    copies: int  # held now
    loans: int  # in the semester (students' and teachers')


def most_borrowed(session: Session, plan: Plan, today: dt.date, limit: int = 20) -> list[TitleLine]:
    """The titles lent most this semester, most first (then by title)."""
    lent = _semester_loans(session, plan, semester_of(plan, today))
    loans = Counter(ln.title_id for ln in lent if ln.title_id is not None)
    if not loans:
        return []
    titles = {t.id: t for t in session.scalars(select(Title).where(Title.id.in_(list(loans))))}
    copies = _copies_held(session)
    ranked = sorted(loans, key=lambda tid: (-loans[tid], titles[tid].title, tid))[:limit]
    return [
        TitleLine(
            title=titles[tid].title,
            author=titles[tid].author,
            classification=titles[tid].classification,
            copies=copies.get(tid, 0),
            loans=loans[tid],
        )
        for tid in ranked
    ]


def _copies_held(session: Session) -> dict[int, int]:
    return dict(
        session.execute(
            select(Copy.title_id, func.count()).where(Copy.status.in_(HELD)).group_by(Copy.title_id)
        ).all()
    )


@dataclass(frozen=True)
class IdleStudent:
    card: str
    name: str
    last_loan: dt.date | None  # None: never borrowed (as far as the office knows)


@dataclass(frozen=True)
class IdleClass:
    name: str
    students: int
    idle: list[IdleStudent]


def not_borrowing(session: Session, plan: Plan, today: dt.date, weeks: int) -> list[IdleClass]:
    """Per class, the students who have not borrowed for *weeks* weeks (since the Monday
    *weeks* weeks before this week's), longest first: a list for the homeroom teacher."""
    since = monday(today) - dt.timedelta(weeks=weeks - 1) if weeks > 0 else today
    zone = plan.zone()
    last = {
        patron_id: lent_at.astimezone(zone).date()
        for patron_id, lent_at in session.execute(
            select(Loan.patron_id, func.max(Loan.lent_at))
            .where(~Loan.undone, Loan.patron_id.is_not(None))
            .group_by(Loan.patron_id)
        )
    }
    by_class: dict[str, list[_Student]] = defaultdict(list)
    for s in _students(session):
        by_class[s.class_name].append(s)
    found = []
    for name in _classes(by_class):
        members = by_class[name]
        idle = [
            IdleStudent(s.card, s.name, last.get(s.id))
            for s in members
            if last.get(s.id) is None or last[s.id] < since  # type: ignore[operator]
        ]
        idle.sort(key=lambda i: (i.last_loan or dt.date.min, i.name, i.card))
        found.append(IdleClass(name, len(members), idle))
    return found


@dataclass(frozen=True)
class WeedingLine:
    title: str
    author: str
    classification: str
    year: int | None
    age: int  # years since publication
    copies: int
    last_loan: dt.date | None  # None: never lent since the office keeps records
    added_on: dt.date


@dataclass(frozen=True)
class WeedingGroup:
    rule: str  # the classification the rule is for ("" for the rest)
    max_age_years: int
    idle_years: int
    titles: list[WeedingLine]


def weeding(session: Session, plan: Plan, today: dt.date) -> list[WeedingGroup]:
    """Titles that are candidates for weeding by the plan's CREW thresholds, by rule: older
    than the rule's age and not borrowed for its years (never borrowed: since they were
    added). Oldest first. Titles without a year of publication are left to the librarian."""
    copies = _copies_held(session)
    zone = plan.zone()
    last = {
        title_id: lent_at.astimezone(zone).date()
        for title_id, lent_at in session.execute(
            select(Copy.title_id, func.max(Loan.lent_at))
            .join(Loan, Loan.copy_id == Copy.id)
            .where(~Loan.undone)
            .group_by(Copy.title_id)
        )
    }
    groups: dict[str, list[WeedingLine]] = defaultdict(list)
    for title in session.scalars(select(Title).where(Title.id.in_(list(copies)))):
        rule = plan.rule_for(title.classification)
        if rule is None or title.year is None:
            continue
        age = today.year - title.year
        idle_since = last.get(title.id) or title.added_on
        if age > rule.max_age_years and _years_between(idle_since, today) >= rule.idle_years:
            groups[rule.classification].append(
                WeedingLine(
                    title=title.title,
                    author=title.author,
                    classification=title.classification,
                    year=title.year,
                    age=age,
                    copies=copies[title.id],
                    last_loan=last.get(title.id),
                    added_on=title.added_on,
                )
            )
    return [
        WeedingGroup(
            rule=rule.classification,
            max_age_years=rule.max_age_years,
            idle_years=rule.idle_years,
            titles=sorted(groups[rule.classification], key=lambda w: (-w.age, w.title)),
        )
        for rule in sorted(plan.weeding, key=lambda r: (r.classification == "", r.classification))
        if groups[rule.classification]
    ]


def _years_between(earlier: dt.date, later: dt.date) -> int:
    """Whole years from *earlier* to *later*."""
    years = later.year - earlier.year
    return years - 1 if (later.month, later.day) < (earlier.month, earlier.day) else years


@dataclass(frozen=True)
class Turnover:
    classification: str  # the class of the Chinese Library Classification (its first letter)
    copies: int  # held now
    loans: int  # this semester

    @property
    def rate(self) -> float:
        """Loans per copy held, this semester."""
        return self.loans / self.copies if self.copies else 0.0


def turnover(session: Session, plan: Plan, today: dt.date) -> tuple[list[Turnover], Turnover]:
    """Loans per copy this semester, by the first letter of the classification, and in all."""
    title_class = {
        tid: (c or "").strip()[:1].upper()
        for tid, c in session.execute(select(Title.id, Title.classification))
    }
    copies: Counter[str] = Counter()
    for tid, held in _copies_held(session).items():
        copies[title_class.get(tid, "")] += held
    loans: Counter[str] = Counter(
        title_class.get(ln.title_id, "")
        for ln in _semester_loans(session, plan, semester_of(plan, today))
        if ln.title_id is not None
    )
    lines = [Turnover(k, copies[k], loans[k]) for k in sorted(set(copies) | set(loans))]
    return lines, Turnover("", sum(copies.values()), sum(loans.values()))
