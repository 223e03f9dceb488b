"""The school's figures (services.figures) from loans applied by the office's ledger, on SQLite
and on a real PostgreSQL: the week's share of borrowers, books per student, loans against the
plan, for the school and each class; the school's days in its own time zone; overdue books."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from sync.server.db import Database
from sync.server.services import figures, plan
from tests.conftest import TZ
from tests.sync.support import EventFeed

TODAY = dt.date(2026, 11, 25)  # a Wednesday
SEMESTER = {"semester_starts": "2026-09-01", "semester_ends": "2027-01-31"}


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TZ)


def semester_plan(session: Session) -> plan.Plan:
    return plan.save(session, {**SEMESTER, "timezone": "Asia/Shanghai"})


def test_figures_for_the_school_and_each_class(database: Database) -> None:
    desk = EventFeed(database)
    desk.lend("S1", "B001", local(2026, 8, 31, 13, 40))  # before the semester; overdue now
    desk.lend("S5", "B003", local(2026, 9, 1, 13, 40))  # first day; never back: overdue
    desk.lend("T1", "B005", local(2026, 9, 2, 13, 40), days=30)  # a teacher's, overdue
    # Sunday night in Beijing (Sunday afternoon in UTC): last week, whatever the database says.
    sunday = desk.lend("S2", "B002", local(2026, 11, 22, 23, 30))
    desk.give_back(sunday, "S2", "B002", local(2026, 11, 22, 23, 50))
    # Monday just after midnight in Beijing, still Sunday in UTC: this week.
    desk.lend("S2", "B002", local(2026, 11, 23, 0, 30))
    desk.lend("S1", "B004", local(2026, 11, 23, 13, 40))
    desk.lend("H1", "B006", local(2026, 11, 24, 13, 40))
    undone = desk.lend("S1", "B007", local(2026, 11, 24, 13, 41))
    desk.send("checkout_undone", local(2026, 11, 24, 13, 41, 5), loan=undone, copy="B007")

    with database.write() as session:
        seen = figures.overview(session, semester_plan(session), TODAY)

    school = seen.school
    assert school.students == 4  # S1, S2, S5 and the small librarian H1
    assert school.loans == 5  # S5, S2 twice, S1, H1
    assert school.books_per_student == 5 / 4
    assert school.this_week is not None
    assert (school.this_week.borrowers, school.this_week.loans) == (3, 3)
    assert school.this_week.share == 75.0
    assert school.overdue == 3  # S1's from before the semester, S5's, the teacher's
    assert seen.teachers_loans == 1
    assert seen.semester.this_week == dt.date(2026, 11, 23)
    assert len(school.weeks) == 13 and seen.semester.all_weeks == 22
    assert [(w.starts, w.loans, w.borrowers) for w in school.weeks if w.loans] == [
        (dt.date(2026, 8, 31), 1, 1),
        (dt.date(2026, 11, 16), 1, 1),
        (dt.date(2026, 11, 23), 3, 3),
    ]
    assert seen.plan_to_date == round(2200 * 13 / 22)

    by_class = {c.name: c for c in seen.classes}
    assert list(by_class) == ["3-1", "5-2", "6-1"]
    three_one = by_class["3-1"]
    assert (three_one.students, three_one.loans, three_one.overdue) == (2, 3, 1)
    assert three_one.this_week is not None and three_one.this_week.share == 100.0
    assert three_one.plan == 2200 * 2 / 4
    five_two = by_class["5-2"]
    assert (five_two.loans, five_two.overdue, five_two.books_per_student) == (1, 1, 1.0)
    assert five_two.this_week is not None and five_two.this_week.borrowers == 0
    assert five_two.weeks_on_target(90) == 1  # the first week, when S5 borrowed


def test_before_and_after_the_semester(database: Database) -> None:
    desk = EventFeed(database)
    desk.lend("S1", "B001", local(2026, 9, 1, 13, 40))
    with database.write() as session:
        school_plan = semester_plan(session)
        before = figures.overview(session, school_plan, dt.date(2026, 8, 20))
        after = figures.overview(session, school_plan, dt.date(2027, 3, 1))
    assert before.school.loans == 0 and before.school.this_week is None
    assert before.semester.weeks == [] and before.plan_to_date == 0
    assert after.school.loans == 1 and after.school.this_week is None
    assert len(after.school.weeks) == 22 and after.plan_to_date == 2200


def test_a_plan_that_cannot_be_is_refused_and_nothing_saved(database: Database) -> None:
    with database.write() as session:
        semester_plan(session)
    with pytest.raises(plan.PlanRefused, match="ends before it starts"), database.write() as s:
        plan.save(s, {"semester_starts": "2027-02-01", "semester_ends": "2026-09-01"})
    with pytest.raises(plan.PlanRefused, match="time zone"), database.write() as s:
        plan.save(s, {**SEMESTER, "timezone": "Mars/Olympus"})
    with pytest.raises(plan.PlanRefused, match="weekly_share"), database.write() as s:
        plan.save(s, {**SEMESTER, "weekly_share": "-3"})
    with database.read() as session:
        kept = plan.current(session)
    assert (kept.semester_starts, kept.semester_ends) == (dt.date(2026, 9, 1), dt.date(2027, 1, 31))
