"""A small school's semester played through the real kiosks and sync (sync.simulation): the
office's figures, its semester report's CSV files, its overdue count and its class sets (lent
at the desk, brought back at the kiosks and the desk) come to exactly what the simulation
counted of the kiosks' and the desk's answers. The whole school, in a browser and in the PDF,
is tests/web/test_semester.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.clock import utc_now
from sync import simulation
from sync.server.db import Database, database_url
from sync.server.services import desk, figures, loans, plan, semester_report
from tests.sync.support import Office
from tests.web.conftest import add_librarian


@pytest.fixture(
    params=[
        pytest.param(simulation.SMALL, id="small-school"),
        # The school of the plan: 300 students in 8 classes, 18 weeks, two kiosks (minutes).
        pytest.param(simulation.School(), id="whole-semester", marks=pytest.mark.slow),
    ]
)
def played(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[simulation.Tally, Database]]:
    data = tmp_path / "office"
    data.mkdir()
    office = Office(data, database_url(data, None))
    add_librarian(office)
    office.start()
    database = office.database()
    try:
        until = dt.datetime.now(dt.UTC)
        yield (
            simulation.play(request.param, tmp_path / "sim", database, office.url, until=until),
            database,
        )
    finally:
        database.close()
        office.stop()


def read_csv(archive: zipfile.ZipFile, name: str) -> list[list[str]]:
    text = archive.read(f"{name}.csv").decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_the_office_counts_what_the_kiosks_answered(played) -> None:
    tally, database = played
    now = utc_now()
    with database.read() as session:
        school_plan = plan.current(session)
        today = figures.today_in(school_plan, now)
        seen = figures.overview(session, school_plan, today, now)
        report = semester_report.gather(session, school_plan, today)
        by_week = figures.loans_by_class(session, school_plan, today)
        sets = desk.class_sets(session, returned=True, now=now)
        out = loans.current_loans(session)
    this_week = today - dt.timedelta(days=today.weekday())

    assert tally.loans and tally.returns and tally.refusals  # a semester, not an empty one
    school = seen.school
    assert (school.students, school.loans) == (tally.class_size(), tally.student_loans())
    assert school.overdue == tally.overdue(today)
    assert tally.sets and seen.teachers_loans == tally.teachers_loans() > 0
    assert by_week.teachers == [tally.teachers_loans(week=w) for w in by_week.periods]
    assert school.this_week is not None
    assert school.this_week.borrowers == tally.borrowers(this_week)
    assert [(w.starts, w.loans, w.borrowers) for w in school.weeks] == [
        (w, tally.student_loans(week=w), tally.borrowers(w)) for w in seen.semester.weeks
    ]
    assert [c.name for c in seen.classes] == tally.classes
    for group in seen.classes:
        assert group.students == tally.class_size(group.name)
        assert group.loans == tally.student_loans(group.name)
        assert group.overdue == tally.overdue(today, group.name)
        assert group.this_week is not None
        assert group.this_week.borrowers == tally.borrowers(this_week, group.name)

    # The CSV files of the semester report say the same.
    archive = zipfile.ZipFile(io.BytesIO(semester_report.csv_zip(report, lambda text: text)))
    classes = {row[0]: row for row in read_csv(archive, "classes")[1:]}
    for name in tally.classes:
        assert int(classes[name][1]) == tally.class_size(name)
        assert int(classes[name][2]) == tally.student_loans(name)
        assert int(classes[name][7]) == tally.overdue(today, name)
    assert int(classes["School"][2]) == tally.student_loans()
    weeks = read_csv(archive, "weeks")[1:]
    assert [int(row[2]) for row in weeks] == [
        tally.student_loans(week=w) for w in seen.semester.weeks
    ]
    not_back = read_csv(archive, "not-back")[1:]
    assert sorted(row[4] for row in not_back) == sorted(loan.copy for loan in tally.out())
    targets = {row[0]: row[1] for row in read_csv(archive, "targets")[1:]}
    assert int(targets["Loans to teachers"]) == tally.teachers_loans()
    assert int(targets["Books out past their due date"]) == tally.overdue(today)
    by_week_csv = {row[0]: row[1:-1] for row in read_csv(archive, "loans-by-week")[1:]}
    assert [int(n) for n in by_week_csv["Teachers"]] == by_week.teachers

    # The class sets the desk lists: each with its class, teacher, date, books out and days
    # late; the Loans page's books of class sets are those the simulation has not seen back.
    assert [
        (s.id, s.class_name, s.holder_card, s.due, s.out, s.late_days)
        for s in sorted(sets, key=lambda s: s.id)
    ] == tally.class_sets(today)
    for line in sets:
        (lent,) = [s for s in tally.sets if s.number == line.id]
        assert sorted(book.copy for book in line.books) == sorted(lent.copies)
    assert sorted(line.copy for line in out if line.class_set is not None) == sorted(
        loan.copy for loan in tally.out() if loan.class_set is not None
    )
