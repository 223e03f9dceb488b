"""A semester of a primary school, played through the real kiosks and the real sync.

Classes visit the library in their timetable windows: each class once a week at lunch, a
few children on other days, the upper grades after school too. Children bring books back
(some late, a few never), borrow at the kiosk of their floor, and now and then renew. Each
kiosk is the real engine (kiosk.engine) on its own SQLite store, driven by a clock the
simulation moves; each syncs with the office at the end of the day through the real sync client
(sync.client) over HTTP, except one kiosk that is offline for a week and sends its week at
once. The librarian marks the books reported lost at the office, and lends class sets at the
desk (services.desk): a homeroom teacher takes a set of books for the class's book corner until
a date; the class brings them back one by one at its kiosk, or the teacher all at once at the
desk, or a few one way and the rest the other; a set not back by the end is still out.

What the kiosks answered is counted here, on the simulation's own side (:class:`Tally`): the
office's figures (services.figures) must come to the same numbers from its own records.
``make demo`` plays a semester this way and shows its office; the end-to-end tests compare
every figure of the overview and of the semester report with the tally.

Kiosks stamp their events with the simulated time; their sync client uses the real clock,
as the office does, so the office measures no clock offset and keeps the events' own times:
as if each kiosk's events reached the office long after they happened, which the office
must handle anyway (a kiosk offline for weeks).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event

from kiosk import config
from kiosk.demo import CHINESE_TITLES, GIVEN, SURNAMES, isbn13
from kiosk.engine import Kiosk
from kiosk.outcome import Kind, Outcome
from kiosk.store import Store
from sync.client import SyncClient
from sync.server.db import Database
from sync.server.services import catalogue, desk, kiosks, plan
from sync.server.services.rules import set_rules

ZONE = ZoneInfo("Asia/Shanghai")
LUNCH = (dt.time(13, 30), dt.time(14, 20))
AFTER_SCHOOL = (dt.time(17, 0), dt.time(17, 40))  # Monday, Wednesday, Friday; grades 5 and 6
SYNC_AT = dt.time(18, 0)
DESK_LENDS_AT = dt.time(8, 0)  # the librarian lends class sets before the first lesson
DESK_TAKES_BACK_AT = dt.time(16, 0)  # and takes whole sets back after the last one
LIBRARIAN = "图书管理员"
# The library's shelves by the Chinese Library Classification, and how much each is read.
SHELVES = [
    ("I287", 30),
    ("I247", 16),
    ("I561", 8),
    ("I712", 8),
    ("K209", 8),
    ("Z228", 8),
    ("Q95", 6),
    ("N49", 5),
    ("G634", 4),
    ("J228", 4),
    ("H319", 3),
    ("T", 2),
]
RULES = """
[policies.student]
max_loans = 2
loan_days = 14
max_renewals = 1
overdue_block_days = 7

[policies.helper]
max_loans = 3
loan_days = 14
max_renewals = 1
overdue_block_days = 7

[timetable]
closed_dates = [{closed}]

[[timetable.window]]
weekdays = ["mon", "tue", "wed", "thu", "fri"]
opens = "13:30"
closes = "14:20"
grades = []
week = "every"

[[timetable.window]]
weekdays = ["mon", "wed", "fri"]
opens = "17:00"
closes = "17:40"
grades = [5, 6]
week = "every"
"""


@dataclass(frozen=True)
class School:
    """The size of the school and of its semester."""

    grades: tuple[int, ...] = (3, 4, 5, 6)
    classes_per_grade: int = 2
    students: int = 300
    weeks: int = 18
    titles: int = 700
    offline_week: int | None = 9  # the upper floor's kiosk has no network that week
    holiday_week: int | None = 5  # the library is closed (National Day)
    # Chances for a child at their class's weekly visit: to borrow, a second book.
    borrow: float = 0.36
    second_book: float = 0.2
    drop_in: float = 0.035  # on another day, each child
    late: float = 0.08  # a book kept one to three weeks too long
    lost: float = 0.006  # a book never brought back
    renew: float = 0.05
    class_sets: int = 9  # lent at the desk over the semester, to the classes in turn
    class_set_books: int = 12
    class_set_weeks: tuple[int, int] = (2, 4)  # kept this many weeks, and to the Friday
    seed: int = 2026

    @property
    def classes(self) -> list[tuple[str, int]]:
        return [(f"{g}-{n}", g) for g in self.grades for n in range(1, self.classes_per_grade + 1)]


# A school small enough for the fast tests: the same paths, in seconds.
SMALL = School(
    grades=(3, 5),
    classes_per_grade=1,
    students=24,
    weeks=3,
    titles=60,
    offline_week=2,
    holiday_week=None,
    class_sets=3,
    class_set_books=4,
    class_set_weeks=(0, 1),
)


# -- the simulation's own count ----------------------------------------------------------------


@dataclass
class Lent:
    card: str
    class_name: str
    teacher: bool
    copy: str
    at: dt.datetime  # the kiosk's time
    due: dt.date
    returned: bool = False
    class_set: int | None = None  # the office's number of the class set it was lent with


@dataclass
class SetLent:
    """A class set lent at the desk, as the simulation saw it lent."""

    number: int  # the office's
    class_name: str
    holder: str  # the teacher's card
    due: dt.date
    copies: list[str]


@dataclass
class Tally:
    """What the kiosks answered, counted by the simulation: the truth the office's figures are
    compared with. Students are those the simulation enrolled (all active)."""

    students: dict[str, str] = field(default_factory=dict)  # card -> class
    loans: list[Lent] = field(default_factory=list)
    returns: int = 0
    renewals: int = 0
    refusals: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lost: list[str] = field(default_factory=list)  # copies marked lost at the office
    sets: list[SetLent] = field(default_factory=list)
    semester: tuple[dt.date, dt.date] = (dt.date.min, dt.date.min)

    def day(self, loan: Lent) -> dt.date:
        return loan.at.astimezone(ZONE).date()

    def student_loans(self, class_name: str | None = None, *, week: dt.date | None = None) -> int:
        """Students' loans in the semester (up to its end), of a class, or of one week."""
        first, last = self.semester
        return sum(
            1
            for loan in self.loans
            if not loan.teacher
            and first <= self.day(loan) <= last
            and (class_name is None or loan.class_name == class_name)
            and (week is None or _monday(self.day(loan)) == week)
        )

    def borrowers(self, week: dt.date, class_name: str | None = None) -> int:
        """Students who borrowed in the week starting on Monday *week*."""
        return len(
            {
                loan.card
                for loan in self.loans
                if not loan.teacher
                and _monday(self.day(loan)) == week
                and (class_name is None or loan.class_name == class_name)
                and self.semester[0] <= self.day(loan) <= self.semester[1]
            }
        )

    def class_size(self, class_name: str | None = None) -> int:
        return sum(1 for c in self.students.values() if class_name is None or c == class_name)

    def overdue(self, today: dt.date, class_name: str | None = None) -> int:
        return sum(
            1
            for loan in self.loans
            if not loan.returned
            and loan.due < today
            and (class_name is None or (loan.class_name == class_name and not loan.teacher))
        )

    def teachers_loans(self, *, week: dt.date | None = None) -> int:
        """Loans to teachers (their class sets) in the semester, or in one week of it."""
        first, last = self.semester
        return sum(
            1
            for loan in self.loans
            if loan.teacher
            and first <= self.day(loan) <= last
            and (week is None or _monday(self.day(loan)) == week)
        )

    def class_sets(self, today: dt.date) -> list[tuple[int, str, str, dt.date, int, int]]:
        """Each class set lent: its number, class, holder, due date, books still out and days
        late (while some are out), in the order lent."""
        rows = []
        for lent in self.sets:
            out = sum(
                1 for loan in self.loans if loan.class_set == lent.number and not loan.returned
            )
            late = max(0, (today - lent.due).days) if out else 0
            rows.append((lent.number, lent.class_name, lent.holder, lent.due, out, late))
        return rows

    def out(self) -> list[Lent]:
        return [loan for loan in self.loans if not loan.returned]

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.students.values()))


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


# -- the people and the books ------------------------------------------------------------------


@dataclass
class Child:
    card: str
    class_name: str
    grade: int
    late: bool  # keeps books too long, now and then
    books: list[str] = field(default_factory=list)  # copies in hand
    keep_until: dict[str, dt.date] = field(default_factory=dict)


class SimClock:
    """The kiosks' clock, moved by the simulation."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, when: dt.datetime) -> None:
        self.now = max(self.now, when)

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@dataclass
class SetPlan:
    """A class set the librarian will lend, and how it will come back."""

    class_name: str
    teacher: str  # the homeroom teacher's card
    lend_on: dt.date
    due: dt.date
    back: str  # "kiosk": one by one at the class's visits; "desk": all at once; "both"
    back_on: dt.date  # the day the teacher brings what is left to the desk
    lent: SetLent | None = None
    out: list[str] = field(default_factory=list)  # copies not back yet


@dataclass
class SimKiosk:
    name: str
    grades: tuple[int, ...]
    store: Store
    engine: Kiosk
    client: SyncClient


class Semester:
    """One semester of *school*, ending the week of *until*, played against the office."""

    def __init__(
        self,
        school: School,
        folder: Path,
        database: Database,
        office_url: str,
        *,
        until: dt.datetime,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.school = school
        self.folder = folder
        self.database = database
        self.office_url = office_url
        self.until = until.astimezone(ZONE)
        self.rng = random.Random(school.seed)
        self.progress = progress or (lambda _line: None)
        last_monday = _monday(self.until.date())
        self.starts = last_monday - dt.timedelta(weeks=school.weeks - 1)
        self.ends = last_monday + dt.timedelta(days=4)  # the Friday of the last week
        self.closed = (
            [self.starts + dt.timedelta(weeks=school.holiday_week - 1, days=d) for d in range(5)]
            if school.holiday_week
            else []
        )
        self.clock = SimClock(dt.datetime.combine(self.starts, dt.time(7), tzinfo=ZONE))
        self.tally = Tally(semester=(self.starts, self.ends))
        self.children: list[Child] = []
        self.teachers: list[str] = []
        self.shelf: list[str] = []  # copies on the shelf
        self.weights: dict[str, float] = {}  # how much each copy tempts a child
        self.kiosks: list[SimKiosk] = []
        self.set_plans: list[SetPlan] = []

    # -- setting up: the librarian's part -----------------------------------------------------

    def set_up(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._students()
        self._books()
        rules = self.folder / "rules.toml"
        closed = ", ".join(day.isoformat() for day in self.closed)
        rules.write_text(RULES.format(closed=closed), encoding="utf-8")
        with self.database.write() as session:
            set_rules(session, rules)
            plan.save(
                session,
                {
                    "semester_starts": self.starts.isoformat(),
                    "semester_ends": self.ends.isoformat(),
                    "timezone": ZONE.key,
                },
            )
        upper = tuple(g for g in self.school.grades if g >= 5) or self.school.grades
        lower = tuple(g for g in self.school.grades if g not in upper) or upper
        for name, grades in (("kiosk-1", lower), ("kiosk-2", upper)):
            self.kiosks.append(self._kiosk(name, grades))
        self._plan_class_sets()

    def _plan_class_sets(self) -> None:
        """The class sets of the semester, one every few weeks, to the classes in turn: kept
        a few weeks, and brought back by the three ways in turn, some days late."""
        classes = self.school.classes
        for n in range(self.school.class_sets):
            class_name, _grade = classes[n % len(classes)]
            lend_on = self.starts + dt.timedelta(
                weeks=n * self.school.weeks // self.school.class_sets
            )
            lend_on = self._school_day_from(lend_on)
            due = lend_on + dt.timedelta(
                weeks=self.rng.randint(*self.school.class_set_weeks), days=4
            )
            back_on = self._school_day_from(due + dt.timedelta(days=self.rng.randint(-3, 6)))
            self.set_plans.append(
                SetPlan(
                    class_name=class_name,
                    teacher=self.teachers[n % len(classes)],
                    lend_on=lend_on,
                    due=due,
                    back=("desk", "kiosk", "both")[n % 3],
                    back_on=back_on,
                )
            )

    def _school_day_from(self, day: dt.date) -> dt.date:
        while day.weekday() >= 5 or day in self.closed:
            day += dt.timedelta(days=1)
        return day

    def _students(self) -> None:
        classes = self.school.classes
        path = self.folder / "students.csv"
        with path.open("w", encoding="utf-8", newline="") as file:
            out = csv.writer(file)
            out.writerow(["card", "name", "class", "grade", "kind"])
            for n in range(self.school.students):
                class_name, grade = classes[n * len(classes) // self.school.students]
                card = f"S{n + 1:04d}"
                name = self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)
                helper = grade >= 5 and n % 37 == 5  # a small librarian or two per class
                out.writerow([card, name, class_name, grade, "helper" if helper else ""])
                self.children.append(Child(card, class_name, grade, self.rng.random() < 0.3))
                self.tally.students[card] = class_name
            for n in range(1, len(classes) + 1):  # a homeroom teacher for each class
                self.teachers.append(f"T{n:03d}")
                out.writerow([f"T{n:03d}", f"{self.rng.choice(SURNAMES)}老师", "", "", "teacher"])
        _librarian_command(self.database, self.folder, "import-students", path)

    def _books(self) -> None:
        path = self.folder / "books.csv"
        shelves, shares = zip(*SHELVES, strict=True)
        barcode = 1
        with path.open("w", encoding="utf-8", newline="") as file:
            out = csv.writer(file)
            out.writerow(
                [
                    "barcode",
                    "isbn",
                    "title",
                    "author",
                    "publisher",
                    "year",
                    "classification",
                    "shelf",
                ]
            )
            for n in range(self.school.titles):
                known = CHINESE_TITLES[n % len(CHINESE_TITLES)]
                title = known[0] if n < len(CHINESE_TITLES) else f"{known[0]}（{n // 40 + 1}）"
                shelf = self.rng.choices(shelves, shares)[0]
                year = self.until.year - int(self.rng.triangular(0, 30, 3))
                # A few titles everyone wants, most now and then, some never.
                appeal = self.rng.paretovariate(1.2) if self.rng.random() > 0.15 else 0.0
                for _ in range(self.rng.choice((1, 1, 2, 2, 3))):
                    code = f"B{barcode:05d}"
                    barcode += 1
                    out.writerow(
                        [
                            code,
                            isbn13(5000 + n),
                            title,
                            known[1],
                            "少年儿童出版社",
                            year,
                            shelf,
                            shelf[:1],
                        ]
                    )
                    self.shelf.append(code)
                    self.weights[code] = appeal
        _librarian_command(self.database, self.folder, "import-books", path)

    def _kiosk(self, name: str, grades: tuple[int, ...]) -> SimKiosk:
        folder = self.folder / name
        folder.mkdir(exist_ok=True)
        (folder / config.FILE_NAME).write_text(
            f'[kiosk]\nname = "{name}"\ntimezone = "{ZONE.key}"\n', encoding="utf-8"
        )
        store = Store.open(folder / "kiosk.db")
        _no_waiting_for_the_disk(store)
        cfg = config.load(folder)
        with store.write() as db:
            config.apply(db, cfg)
        with self.database.write() as session:
            code = kiosks.new_enroll_code(session)
        client = SyncClient(store)  # the real clock, as the office's: see the module's doc
        client.enroll(self.office_url, code, name)
        client.sync()
        engine = Kiosk(store, cfg.kiosk, clock=self.clock, tz=ZONE)
        return SimKiosk(name, grades, store, engine, client)

    # -- the semester ---------------------------------------------------------------------------

    def play(self) -> Tally:
        day = self.starts
        while day <= self.until.date():
            week = (day - self.starts).days // 7 + 1
            if day.weekday() < 5 and day not in self.closed:
                self._school_day(day)
            if day.weekday() == 4:
                self._librarian_marks_lost()
            for kiosk in self.kiosks:
                offline = kiosk.name == "kiosk-2" and week == self.school.offline_week
                if not offline and self._at(day, SYNC_AT) <= self.until:
                    kiosk.client.sync()
            if day.weekday() == 6:
                self.progress(f"week {week}: {len(self.tally.loans)} loans so far")
            day += dt.timedelta(days=1)
        for kiosk in self.kiosks:  # the offline kiosk too, whatever the day
            kiosk.client.sync()
        return self.tally

    def close(self) -> None:
        for kiosk in self.kiosks:
            kiosk.store.close()

    def _at(self, day: dt.date, time: dt.time) -> dt.datetime:
        return dt.datetime.combine(day, time, tzinfo=ZONE)

    def _school_day(self, day: dt.date) -> None:
        visiting = self.school.classes[day.weekday() % 5 :: 5]
        names = {name for name, _ in visiting}
        children = [c for c in self.children if c.class_name in names]
        children += [
            c
            for c in self.children
            if c.class_name not in names and self.rng.random() < self.school.drop_in
        ]
        self._desk_lends_sets(day)
        self._window(day, LUNCH, children, classes=names)
        self._desk_takes_sets_back(day)
        if day.weekday() in (0, 2, 4):
            upper = [c for c in self.children if c.grade >= 5 and self.rng.random() < 0.03]
            self._window(day, AFTER_SCHOOL, upper)

    def _window(
        self,
        day: dt.date,
        window: tuple[dt.time, dt.time],
        children: list[Child],
        *,
        classes: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        """The children at the kiosks in *window*; *classes* visiting bring back books of
        their book corner first."""
        opens, closes = (self._at(day, t) for t in window)
        if opens > self.until:
            return
        self.clock.set(opens + dt.timedelta(seconds=30))
        self._corner_books_back(day, classes)
        self.rng.shuffle(children)
        for child in children:
            if self.clock.now > min(closes - dt.timedelta(minutes=2), self.until):
                break
            self._visit(child, day)
            self.clock.advance(self.rng.uniform(5, 40))

    def _kiosk_of(self, child: Child) -> SimKiosk:
        return next(k for k in self.kiosks if child.grade in k.grades)

    def _scan(self, kiosk: SimKiosk, code: str) -> list[Outcome]:
        self.clock.advance(self.rng.uniform(3, 6))  # never "the same code twice" by mistake
        return kiosk.engine.scan(code)

    def _touch(self, kiosk: SimKiosk, action: str) -> list[Outcome]:
        self.clock.advance(self.rng.uniform(1, 3))
        return kiosk.engine.touch(action)

    def _visit(self, child: Child, day: dt.date) -> None:
        kiosk = self._kiosk_of(child)
        # Books back first: scanned with no card, each returns its book.
        for copy in list(child.books):
            if child.keep_until.get(copy, day) > day:
                continue
            for outcome in self._scan(kiosk, copy):
                if outcome.kind == Kind.RETURNED:
                    self._returned(child, copy)
                elif outcome.kind == Kind.REFUSED:
                    self.tally.refusals[outcome.reason or ""] += 1
        wanted = 0
        if self.rng.random() < self.school.borrow:
            wanted = 2 if self.rng.random() < self.school.second_book else 1
        renew = [c for c in child.books if self.rng.random() < self.school.renew]
        if not wanted and not renew:
            return
        self._record(child, kiosk, self._scan(kiosk, child.card))
        for copy in renew:
            self._record(child, kiosk, self._scan(kiosk, copy))
            self._record(child, kiosk, self._touch(kiosk, "renew"))
        for _ in range(wanted):
            copy = self._pick()
            if copy is None:
                break
            if not self._record(child, kiosk, self._scan(kiosk, copy)):
                break  # refused, or the last book the child may take: the session is over
        self._record(child, kiosk, self._touch(kiosk, "done"))

    def _pick(self) -> str | None:
        if not self.shelf:
            return None
        weights = [self.weights[c] + 0.02 for c in self.shelf]
        return self.rng.choices(self.shelf, weights)[0]

    def _record(self, child: Child, kiosk: SimKiosk, outcomes: list[Outcome]) -> bool:
        """Count what the kiosk answered; True if a book was lent and the child may take
        another."""
        lent = False
        for outcome in outcomes:
            if outcome.kind == Kind.CHECKED_OUT:
                assert outcome.copy is not None and outcome.due is not None
                self._lent(child, outcome.copy, outcome.due)
                lent = bool(outcome.may_borrow)
            elif outcome.kind == Kind.RENEWED:
                self.tally.renewals += 1
                for loan in self.tally.loans:
                    if loan.copy == outcome.copy and not loan.returned:
                        loan.due = outcome.due or loan.due
            elif outcome.kind in (Kind.REFUSED, Kind.UNKNOWN_CODE, Kind.FAULT):
                self.tally.refusals[outcome.reason or outcome.kind.value] += 1
        return lent

    def _lent(self, child: Child, copy: str, due: dt.date) -> None:
        self.shelf.remove(copy)
        child.books.append(copy)
        self.tally.loans.append(
            Lent(child.card, child.class_name, False, copy, self.clock.now, due)
        )
        if self.rng.random() < self.school.lost:
            child.keep_until[copy] = dt.date.max  # lost: never back
            return
        keep = due - dt.timedelta(days=self.rng.randint(0, 7))
        if child.late and self.rng.random() < self.school.late / 0.3:
            keep = due + dt.timedelta(weeks=self.rng.randint(1, 3))
        child.keep_until[copy] = keep

    def _returned(self, child: Child, copy: str) -> None:
        child.books.remove(copy)
        child.keep_until.pop(copy, None)
        self.shelf.append(copy)
        self.tally.returns += 1
        for loan in self.tally.loans:
            if loan.copy == copy and not loan.returned:
                loan.returned = True

    # -- class sets -------------------------------------------------------------------------

    def _desk_lends_sets(self, day: dt.date) -> None:
        at = self._at(day, DESK_LENDS_AT)
        for set_plan in self.set_plans:
            if set_plan.lend_on != day or at > self.until:
                continue
            copies = []
            for _ in range(self.school.class_set_books):
                copy = self._pick()
                if copy is None:
                    break
                self.shelf.remove(copy)
                copies.append(copy)
            if not copies:
                continue
            self.clock.set(at)
            with self.database.write() as session:
                line = desk.lend_class_set(
                    session,
                    holder=set_plan.teacher,
                    class_name=set_plan.class_name,
                    due=set_plan.due,
                    codes=copies,
                    librarian=LIBRARIAN,
                    note="图书角",
                    now=self.clock.now,
                )
            set_plan.lent = SetLent(
                line.id, set_plan.class_name, set_plan.teacher, set_plan.due, copies
            )
            set_plan.out = list(copies)
            self.tally.sets.append(set_plan.lent)
            self.tally.loans += [
                Lent(
                    set_plan.teacher,
                    set_plan.class_name,
                    True,
                    copy,
                    self.clock.now,
                    set_plan.due,
                    class_set=line.id,
                )
                for copy in copies
            ]

    def _corner_books_back(self, day: dt.date, classes: set[str] | frozenset[str]) -> None:
        """A visiting class brings a few books of its corner back at its kiosk, scanned as
        any book is, from the eighth day after the set was lent (the kiosk has heard of it
        by then, even the one offline for a week)."""
        for set_plan in self.set_plans:
            if (
                set_plan.class_name not in classes
                or set_plan.back == "desk"
                or not set_plan.out
                or day < set_plan.lend_on + dt.timedelta(days=8)
                or (set_plan.back == "both" and day >= set_plan.back_on)
            ):
                continue
            grade = next(g for name, g in self.school.classes if name == set_plan.class_name)
            kiosk = next(k for k in self.kiosks if grade in k.grades)
            for copy in set_plan.out[: self.rng.randint(1, 3)]:
                for outcome in self._scan(kiosk, copy):
                    if outcome.kind == Kind.RETURNED:
                        set_plan.out.remove(copy)
                        self._set_book_back(copy)
                    elif outcome.kind in (Kind.REFUSED, Kind.UNKNOWN_CODE, Kind.FAULT):
                        self.tally.refusals[outcome.reason or outcome.kind.value] += 1

    def _desk_takes_sets_back(self, day: dt.date) -> None:
        at = self._at(day, DESK_TAKES_BACK_AT)
        for set_plan in self.set_plans:
            if (
                set_plan.lent is None
                or set_plan.back == "kiosk"
                or set_plan.back_on != day
                or not set_plan.out
                or at > self.until
            ):
                continue
            self.clock.set(at)
            with self.database.write() as session:
                desk.return_class_set(
                    session, set_plan.lent.number, librarian=LIBRARIAN, now=self.clock.now
                )
            for copy in set_plan.out:
                self._set_book_back(copy)
            set_plan.out = []

    def _set_book_back(self, copy: str) -> None:
        self.shelf.append(copy)
        self.tally.returns += 1
        for loan in self.tally.loans:
            if loan.copy == copy and not loan.returned:
                loan.returned = True

    def _librarian_marks_lost(self) -> None:
        """On Fridays the librarian marks as lost the books children said they lost."""
        for child in self.children:
            for copy, keep in child.keep_until.items():
                if keep == dt.date.max and copy not in self.tally.lost:
                    with self.database.write() as session:
                        catalogue.mark_copy(session, copy, "lost")
                    self.tally.lost.append(copy)


def _no_waiting_for_the_disk(store: Store) -> None:
    """Months are played in minutes here, with no power to cut: the kiosks' commits skip the
    wait for the disk (SQLite's synchronous=OFF). Their transactions are the same."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    event.listen(store.engine, "connect", on_connect)
    store.engine.dispose()  # connections made from now on


def _librarian_command(database: Database, folder: Path, *args: object) -> None:
    """One of the librarian's ``library-server`` commands, on *database*."""
    import contextlib
    import io

    from sync.server import cli

    out = io.StringIO()
    url = database.url.render_as_string(hide_password=False)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main(["--data", str(folder), "--db", url, *map(str, args)])
    if code != 0:
        raise RuntimeError(f"library-server {args[0]} failed: {out.getvalue()}")


def play(
    school: School,
    folder: Path,
    database: Database,
    office_url: str,
    *,
    until: dt.datetime,
    progress: Callable[[str], None] | None = None,
) -> Tally:
    """Set up the school at the office, play its semester to *until*, and say what happened."""
    semester = Semester(school, folder, database, office_url, until=until, progress=progress)
    try:
        semester.set_up()
        return semester.play()
    finally:
        semester.close()
