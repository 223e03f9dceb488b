"""The librarian's students: find them (by class, name, pinyin initials, card), edit one,
deactivate one, and move every class up a grade at the start of a school year.

Classes are kept in the school's own form (kiosk.classes): "三年级(2)班" stays that, and the
next year it becomes "四年级(2)班". Every change reaches the kiosks through the change log.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk import pinyin
from kiosk.classes import DEFAULT_STYLE, STYLES, NotAClass, SchoolClass, parse_class
from kiosk.codes import code_key, has_control_characters
from kiosk.models import PatronKind
from sync.server.models import Patron, Setting
from sync.server.services import N_, NotFound, Refusal
from sync.server.services.changes import Changes, changed

CLASS_STYLE = "class_style"  # server_settings: the form the school writes its classes in
YEAR_MOVED = "school_year_moved"  # server_settings: when classes last moved up a grade
LEAVING_GRADE = 6  # a primary school: grade 6 leaves at the end of the year
# Kinds whose card opens the kiosks' helpers' menu with a PIN (kiosk.engine); others keep none.
WITH_PIN = (PatronKind.HELPER, PatronKind.LIBRARIAN)
MAX_FOUND = 500  # a search lists at most this many students


@dataclass(frozen=True)
class Student:
    card: str
    name: str
    kind: str
    class_name: str
    grade: int | None
    active: bool
    student_number: str
    birth_date: dt.date | None


@dataclass(frozen=True)
class ClassLine:
    name: str  # as the school writes it
    students: int  # active students in it


@dataclass(frozen=True)
class Found:
    students: list[Student]
    more: int  # found but not listed (past MAX_FOUND)


def student(patron: Patron) -> Student:
    return Student(
        card=patron.card,
        name=patron.name,
        kind=patron.kind,
        class_name=patron.class_name,
        grade=patron.grade,
        active=patron.active and not patron.deleted,
        student_number=patron.student_number or "",
        birth_date=patron.birth_date,
    )


def class_order(name: str) -> tuple[int, int, str]:
    """Classes by grade then number (三年级(2)班 before 三年级(10)班); others after, by name."""
    try:
        found = parse_class(name)
    except NotAClass:
        found = None
    if found is None:
        return (99, 0, name)
    return (found.grade, found.number or 0, name)


def reading_order(patron: Patron) -> tuple[tuple[int, int, str], tuple[str, ...], str]:
    return (class_order(patron.class_name), pinyin.sort_key(patron.name), patron.card)


def classes(session: Session) -> list[ClassLine]:
    """The classes that have active students, in the school's order."""
    counts = Counter(
        session.scalars(
            select(Patron.class_name).where(Patron.active, ~Patron.deleted, Patron.class_name != "")
        )
    )
    return [ClassLine(name, counts[name]) for name in sorted(counts, key=class_order)]


def grades(session: Session) -> list[int]:
    """The grades that have active students, lowest first."""
    found = session.scalars(
        select(Patron.grade)
        .where(Patron.active, ~Patron.deleted, Patron.grade.is_not(None))
        .distinct()
    )
    return sorted(g for g in found if g is not None)


def find(
    session: Session,
    *,
    class_name: str = "",
    query: str = "",
    inactive: bool = False,
    limit: int = MAX_FOUND,
) -> Found:
    """Students (and teachers) of *class_name*, answering *query*: a few characters of the
    name, the first letters of its pinyin ("wzh" for 王子涵), or a card or student number."""
    wanted = select(Patron)
    if class_name:
        wanted = wanted.where(Patron.class_name == class_name)
    if not inactive:
        wanted = wanted.where(Patron.active, ~Patron.deleted)
    query = query.strip()
    patrons = sorted(
        (p for p in session.scalars(wanted) if _answers(p, query)),
        key=reading_order,
    )
    return Found([student(p) for p in patrons[:limit]], max(0, len(patrons) - limit))


def _answers(patron: Patron, query: str) -> bool:
    if not query:
        return True
    key = code_key(query)
    if key in patron.card or (patron.student_number and key in code_key(patron.student_number)):
        return True
    return pinyin.matches(patron.name, query)


def _patron(session: Session, card: str) -> Patron:
    patron = session.scalar(select(Patron).where(Patron.card == code_key(card.strip())))
    if patron is None:
        raise NotFound(N_("No student or teacher has card {card}."), card=card)
    return patron


def get(session: Session, card: str) -> Student:
    return student(_patron(session, card))


def school_style(session: Session) -> str:
    """The form the school writes its classes in (chosen at an import), "3-2" until then."""
    row = session.get(Setting, CLASS_STYLE)
    return row.value if row is not None and row.value in STYLES else DEFAULT_STYLE


def set_school_style(session: Session, style: str) -> None:
    if style not in STYLES:
        raise Refusal(N_("{style} is not a form of class names."), style=style)
    row = session.get(Setting, CLASS_STYLE)
    if row is None:
        session.add(Setting(key=CLASS_STYLE, value=style))
    else:
        row.value = style


def restyle(session: Session, style: str) -> None:
    """Show every class in the form *style* (a school that chose another form)."""
    set_school_style(session, style)
    changes = Changes()
    for patron in session.scalars(select(Patron).where(Patron.class_name != "")):
        try:
            found = parse_class(patron.class_name, patron.grade)
        except NotAClass:
            continue
        if found is not None and found.number is not None:
            shown = found.shown(style)
            if shown != patron.class_name:
                patron.class_name = shown
                changes.add(patron)
    changes.write(session)


def school_class(text: str, grade: int | None) -> SchoolClass | None:
    """The class a librarian typed, checked against the grade she gave."""
    try:
        return parse_class(text, grade)
    except NotAClass as exc:
        raise Refusal(
            N_("{class_name} does not fit grade {grade}: correct the class or the grade."),
            class_name=text,
            grade=grade,
        ) from exc


@dataclass
class Edit:
    """What the edit form sends."""

    name: str
    class_name: str = ""
    grade: int | None = None
    kind: str = PatronKind.STUDENT
    student_number: str = ""
    birth_date: dt.date | None = None


def edit(session: Session, card: str, change: Edit) -> Student:
    """Change a student's name, class, grade, kind, registry number or birth date."""
    patron = _patron(session, card)
    name = change.name.strip()
    if not name or len(name) > 100 or has_control_characters(name):
        raise Refusal(N_("A name is needed (at most 100 characters)."))
    if change.kind not in set(PatronKind):
        raise Refusal(N_("{kind} is not a kind of reader."), kind=change.kind)
    if change.grade is not None and not 1 <= change.grade <= 12:
        raise Refusal(N_("A grade is a number from 1 to 12."))
    number = change.student_number.strip()
    if len(number) > 32 or has_control_characters(number):
        raise Refusal(N_("A student number has at most 32 characters."))
    if number:
        other = session.scalar(
            select(Patron).where(Patron.student_number == number, Patron.id != patron.id)
        )
        if other is not None:
            raise Refusal(
                N_("Student number {number} is already {name}'s ({card})."),
                number=number,
                name=other.name,
                card=other.card,
            )
    found = school_class(change.class_name, change.grade)
    if found is not None:
        patron.class_name = found.shown(school_style(session))
        patron.grade = found.grade
    else:
        patron.class_name = change.class_name.strip()[:50]
        patron.grade = change.grade
    patron.name = name
    patron.kind = change.kind
    if patron.kind not in WITH_PIN:
        patron.pin_hash = None
    patron.student_number = number or None
    patron.birth_date = change.birth_date
    changed(session, patron)
    return student(patron)


def set_active(session: Session, card: str, active: bool) -> Student:
    """Deactivate a student (no more loans; their records stay), or take them back."""
    patron = _patron(session, card)
    patron.active, patron.deleted = active, False if active else patron.deleted
    changed(session, patron)
    return student(patron)


# -- a new school year ------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    old: str
    new: str
    students: int


@dataclass
class YearPlan:
    """What "new school year" does: each class moved up, the leavers, what it cannot move."""

    moves: list[Move] = field(default_factory=list)
    leavers: list[Student] = field(default_factory=list)
    not_moved: list[Student] = field(default_factory=list)  # a class name it cannot read
    last_done: dt.date | None = None  # the classes already moved up on that day

    @property
    def students(self) -> int:
        return sum(m.students for m in self.moves)


def _year_plan(session: Session) -> tuple[YearPlan, list[tuple[Patron, str | None, int | None]]]:
    style = school_style(session)
    plan = YearPlan()
    steps: list[tuple[Patron, str | None, int | None]] = []
    moves: Counter[tuple[str, str]] = Counter()
    patrons = session.scalars(
        select(Patron).where(
            Patron.active, ~Patron.deleted, Patron.kind.in_([PatronKind.STUDENT, PatronKind.HELPER])
        )
    )
    for patron in sorted(patrons, key=reading_order):
        try:
            found = parse_class(patron.class_name, patron.grade)
        except NotAClass:
            found = None
        grade = found.grade if found else patron.grade
        if grade is None:
            plan.not_moved.append(student(patron))
        elif grade >= LEAVING_GRADE:
            plan.leavers.append(student(patron))
            steps.append((patron, None, None))
        elif found is None:
            plan.not_moved.append(student(patron))
        else:
            # A student with a grade and no class keeps no class: only the grade goes up.
            new = found.next_year().shown(style) if patron.class_name.strip() else ""
            moves[(patron.class_name, new)] += 1
            steps.append((patron, new, grade + 1))
    plan.moves = [Move(old, new, n) for (old, new), n in moves.items()]
    done = session.get(Setting, YEAR_MOVED)
    plan.last_done = dt.date.fromisoformat(done.value) if done is not None else None
    return plan, steps


def new_school_year_plan(session: Session) -> YearPlan:
    """What new_school_year would do, changing nothing."""
    return _year_plan(session)[0]


def new_school_year(session: Session, today: dt.date) -> YearPlan:
    """Every class up a grade (三年级(1)班 → 四年级(1)班); grade 6 leaves (deactivated)."""
    plan, steps = _year_plan(session)
    done = session.get(Setting, YEAR_MOVED) or Setting(key=YEAR_MOVED)
    done.value = today.isoformat()
    session.add(done)
    changes = Changes()
    for patron, class_name, grade in steps:
        if class_name is None:
            patron.active = False
        else:
            patron.class_name, patron.grade = class_name, grade
        changes.add(patron)
    changes.write(session)
    return plan
