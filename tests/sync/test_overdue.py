"""Books out and overdue, by class and grade, and the homeroom teachers' overdue slips, on the
office's records (SQLite and PostgreSQL); the slips' PDF read back as printed (pdftotext)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.clock import utc_now
from sync.server.db import Database
from sync.server.services import Refusal, desk, loans, overdue, printing
from sync.server.web.i18n import translations
from tests.pdfs import text_of
from tests.sync.support import Office

LIBRARIAN = "王老师"


@pytest.fixture
def office_data(office_records: Office) -> Office:
    """The office's database with the conftest library, and books out: some late."""
    office = office_records
    database = office.database()
    with database.write() as session:
        printing.set_school_name(session, "阳光小学")
    lend(database, "S1", "B002")  # due in 14 days: out, not late
    lend(database, "S1", "B001", days_ago=30)  # 16 days late
    lend(database, "S2", "B003", days_ago=20)  # 6 days late
    lend(database, "S2", "B007", days_ago=15)  # 1 day late
    lend(database, "S5", "B004", days_ago=25)  # 11 days late
    lend(database, "T1", "B005", days_ago=45)  # a teacher's: 15 days late, not on a slip
    lend(database, "H1", "B008", days_ago=14)  # due today: not late yet
    with database.write() as session:  # a class set for 3-1 held by a teacher, 30 days late
        desk.lend_class_set(
            session, holder="T1", class_name="3-1", due=today(database) - dt.timedelta(days=30),
            codes=["B006"], librarian=LIBRARIAN, now=utc_now() - dt.timedelta(days=40),
        )  # fmt: skip
    database.close()
    return office


@pytest.fixture
def database(office_data: Office) -> Iterator[Database]:
    found = office_data.database()
    yield found
    found.close()


def today(database: Database) -> dt.date:
    with database.read() as session:
        return overdue.today(session)


def lend(database: Database, card: str, code: str, days_ago: int = 0) -> None:
    with database.write() as session:
        answer = desk.lend(
            session, card, code, librarian=LIBRARIAN,
            now=utc_now() - dt.timedelta(days=days_ago),
        )  # fmt: skip
    assert answer.outcome == "lent", answer


def test_books_out_and_overdue_by_class_and_grade(database: Database) -> None:
    day = today(database)
    with database.read() as session:
        out = loans.current_loans(session)
        late = loans.current_loans(session, late_on=day)
        class_31 = loans.current_loans(session, class_name="3-1")
        late_31 = loans.current_loans(session, class_name=" 3-1 ", late_on=day)
        grade_5 = loans.current_loans(session, grade=5, late_on=day)
        nobody = loans.current_loans(session, class_name="9-9")
    assert len(out) == 8
    assert {line.copy: line.late_days(day) for line in late} == {
        "B001": 16, "B003": 6, "B007": 1, "B004": 11, "B005": 15, "B006": 30,
    }  # fmt: skip
    assert sorted(line.copy for line in class_31) == ["B001", "B002", "B003", "B007"]
    assert sorted(line.copy for line in late_31) == ["B001", "B003", "B007"]
    assert [(line.copy, line.name, line.grade) for line in grade_5] == [("B004", "Li Hua", 5)]
    assert nobody == []
    ordered = overdue.in_school_order(late)
    # 3-1 (小红 before 小明: hong before ming), 5-2, then the teacher's books
    assert [line.copy for line in ordered] == ["B003", "B007", "B001", "B004", "B006", "B005"]


def test_slips_hold_each_class_students_late_books(database: Database) -> None:
    day = today(database)
    with database.read() as session:
        found = overdue.slips(session, day)
        only = overdue.slips(session, day, class_name="5-2")
        grade_3 = overdue.slips(session, day, grade=3)
        none = overdue.slips(session, day, grade=6)
    assert [slip.class_name for slip in found] == ["3-1", "5-2"]
    first = found[0]
    assert [(r.name, [(b.copy, b.late_days) for b in r.books]) for r in first.readers] == [
        ("小红", [("B003", 6), ("B007", 1)]),
        ("小明", [("B001", 16)]),
    ]
    assert first.books == 3
    assert first.readers[1].books[0].due == day - dt.timedelta(days=16)
    assert first.readers[1].books[0].title == "Book 1"
    assert [slip.class_name for slip in only] == ["5-2"]
    assert [slip.class_name for slip in grade_3] == ["3-1"]
    assert none == []  # the small librarian's book is due today: not late yet
    with pytest.raises(Refusal):
        overdue.slips_pdf(none, day, translations("en").gettext)


def test_the_slips_pdf_is_a_page_for_each_class_in_chinese_or_english(
    database: Database, tmp_path: Path
) -> None:
    day = today(database)
    with database.read() as session:
        found = overdue.slips(session, day)
    chinese = tmp_path / "slips.pdf"
    chinese.write_bytes(overdue.slips_pdf(found, day, translations("zh_CN").gettext, "阳光小学"))
    pages = text_of(chinese).split("\f")
    assert len([p for p in pages if p.strip()]) == 2
    first, second = pages[0], pages[1]
    assert "阳光小学" in first and "催还" in first and "3-1" in first
    assert "小红" in first and "小明" in first and "Li Hua" not in first
    late_b001 = (day - dt.timedelta(days=16)).isoformat()
    (row,) = [line for line in first.splitlines() if "B001" in line]
    assert "Book 1" in row and late_b001 in row and row.rstrip().endswith("16"), row
    assert "5-2" in second and "Li Hua" in second and "小明" not in second
    assert "B005" not in first + second and "B006" not in first + second  # teacher, class set

    english = tmp_path / "slips-en.pdf"
    english.write_bytes(overdue.slips_pdf(found[1:], day, translations("en").gettext))
    text = text_of(english)
    assert "please urge the return" in text and "Class 5-2" in text and "Days late" in text


def test_overdue_from_the_command_line(office_data: Office, tmp_path: Path) -> None:
    listed = office_data.ok("overdue", "--class", "3-1")
    assert [line.split()[1] for line in listed.splitlines()] == ["S2", "S2", "S1"]
    assert "16 days late" in listed
    rows = [json.loads(line) for line in office_data.ok("overdue", "--json").splitlines()]
    assert [(r["copy"], r["late_days"]) for r in rows][:2] == [("B003", 6), ("B007", 1)]
    assert len(office_data.ok("loans", "--grade", "3").splitlines()) == 4
    assert office_data.ok("overdue", "--grade", "6") == "no book is overdue\n"

    pdf = tmp_path / "3-1.pdf"
    said = office_data.ok("overdue", "--class", "3-1", "--pdf", str(pdf))
    assert "1 overdue slips (3 books)" in said
    assert "小红" in text_of(pdf) and "请" in text_of(pdf)
    code, _out, err = office_data.command(
        "overdue", "--grade", "6", "--pdf", str(tmp_path / "x.pdf")
    )
    assert code == 1 and "No overdue slip to print" in err
    assert not (tmp_path / "x.pdf").exists()
