"""The students' pages in a real headless Chromium: a class at a glance, finding a student by
name, pinyin initials or card, editing and deactivating one, and a new school year; each
change reaches the kiosks' change log."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from kiosk.clock import utc_now
from sync.server.models import Change, Patron
from sync.server.services import desk
from tests.sync.support import Office

pytestmark = pytest.mark.slow


def patron(office: Office, card: str) -> Patron:
    database = office.database()
    with database.read() as session:
        found = session.scalar(select(Patron).where(Patron.card == card))
    database.close()
    assert found is not None
    return found


def change_for_kiosks(office: Office, card: str) -> dict:
    database = office.database()
    with database.read() as session:
        found = session.scalar(select(Change).where(Change.kind == "patron", Change.key == card))
    database.close()
    assert found is not None and found.data is not None
    return found.data


def rows(page: Page) -> list[str]:
    """The names listed, top to bottom (the first cell that is not a tick box)."""
    ticks = page.locator("input")
    return [
        r.locator("td").filter(has_not=ticks).first.inner_text()
        for r in page.locator("tbody tr").all()
    ]


def test_a_class_at_a_glance_and_finding_a_student(signed_in: Page, office_server: Office) -> None:
    page = signed_in
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Students").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Students")
    classes = page.get_by_role("navigation", name="Classes")
    expect(classes.get_by_role("link")).to_have_text(["All classes", "3-1 2", "5-2 1", "6-1 1"])
    classes.get_by_role("link", name="3-1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Students · 3-1")
    assert rows(page) == ["小红", "小明"]  # pinyin order: xiao hong, xiao ming

    for query, found in [("xm", ["小明"]), ("小", ["小红", "小明"]), ("s2", ["小红"])]:
        page.get_by_role("searchbox").fill(query)
        page.get_by_role("searchbox").press("Enter")
        expect(page.locator("tbody tr")).to_have_count(len(found))
        assert rows(page) == found, query
    # Searching all classes; the student who left shows only when asked for.
    page.goto(f"{office_server.url}/students?q=left")
    expect(page.get_by_role("cell", name="No student found.")).to_be_visible()
    page.get_by_label("Show inactive").check()
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("row").filter(has_text="Left School")).to_contain_text("Inactive")


def test_edit_then_deactivate_a_student(signed_in: Page, office_server: Office) -> None:
    page = signed_in
    page.goto(f"{office_server.url}/students?q=s1")
    page.get_by_role("link", name="Edit 小明").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("小明 S1")
    page.get_by_label("Class").fill("三年级(2)班")  # the grade follows the class
    page.get_by_label("Student number").fill("G3201")
    page.get_by_label("Birth date").fill("2016-05-04")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved: 小明.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Students · 3-2")
    saved = patron(office_server, "S1")
    assert (saved.class_name, saved.grade, saved.student_number) == ("3-2", 3, "G3201")
    assert str(saved.birth_date) == "2016-05-04"
    assert change_for_kiosks(office_server, "S1")["class_name"] == "3-2"

    # A class that contradicts the grade is refused and nothing changes.
    page.get_by_role("link", name="Edit 小明").click()
    page.get_by_label("Class").fill("四年级(1)班")
    page.get_by_label("Grade").select_option("3")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_have_text(
        "四年级(1)班 does not fit grade 3: correct the class or the grade."
    )
    assert patron(office_server, "S1").class_name == "3-2"

    page.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_role("status")).to_have_text("小明 is inactive: no more loans.")
    expect(page.get_by_role("row").filter(has_text="小明")).to_contain_text("Inactive")
    assert change_for_kiosks(office_server, "S1")["active"] is False
    page.get_by_role("link", name="Edit 小明").click()
    page.get_by_role("button", name="Let borrow again").click()
    expect(page.get_by_role("status")).to_have_text("小明 may borrow again.")
    assert change_for_kiosks(office_server, "S1")["active"] is True


def test_new_school_year_is_shown_before_it_is_done(signed_in: Page, office_server: Office) -> None:
    page = signed_in
    page.goto(f"{office_server.url}/students")
    page.get_by_role("link", name="New school year").click()
    moves = page.locator("table tbody tr")
    expect(moves).to_have_text(["3-14-12", "5-26-21"])
    expect(page.get_by_role("heading", name="1 leaver")).to_be_visible()
    expect(page.locator("ul.names").first).to_contain_text("小助手")
    assert patron(office_server, "S1").class_name == "3-1"  # nothing done yet

    page.get_by_role("button", name="Move every class up a grade").click()
    expect(page.get_by_role("status")).to_have_text(
        "New school year: 3 students moved up a grade, 1 leavers deactivated."
    )
    assert (patron(office_server, "S2").class_name, patron(office_server, "S2").grade) == ("4-1", 4)
    assert patron(office_server, "S5").class_name == "6-2"
    assert change_for_kiosks(office_server, "H1")["active"] is False
    assert patron(office_server, "T1").active  # teachers stay
    # Asked again, the page warns that it was done today already.
    page.get_by_role("link", name="New school year").click()
    expect(page.get_by_role("alert")).to_contain_text("already moved up")


def test_a_students_page_shows_the_books_out_and_those_returned(
    signed_in: Page, office_server: Office
) -> None:
    database = office_server.database()
    with database.write() as session:  # read 40 days ago, back 5 days later
        assert desk.lend(session, "S1", "B003", librarian="librarian",
                         now=utc_now() - dt.timedelta(days=40)).outcome == "lent"  # fmt: skip
    with database.write() as session:
        back = desk.give_back(session, "B003", librarian="librarian",
                              now=utc_now() - dt.timedelta(days=35))  # fmt: skip
    assert back.outcome == "returned"
    for code, days_ago in [("B002", 0), ("B001", 30)]:  # one out today, one late
        with database.write() as session:
            answer = desk.lend(session, "S1", code, librarian="librarian",
                               now=utc_now() - dt.timedelta(days=days_ago))  # fmt: skip
        assert answer.outcome == "lent"
    database.close()

    page = signed_in
    page.goto(f"{office_server.url}/students?q=s1")
    page.get_by_role("link", name="Edit 小明").click()
    out = page.get_by_role("region", name="Books out now")
    expect(out.locator("tbody tr")).to_have_count(2)
    late, on_time = out.locator("tr", has_text="B001"), out.locator("tr", has_text="B002")
    expect(late).to_contain_text("Book 1")
    expect(late.locator(".error")).to_contain_text("days late")
    expect(on_time.locator(".error")).to_have_count(0)
    expect(out.locator(".policy strong")).to_have_text("小明 has books long overdue: Book 1.")
    expect(out.locator(".policy")).to_contain_text("Up to 2 books for 14 days.")
    returned = page.get_by_role("region", name="Returned lately")
    expect(returned.locator("tbody tr")).to_have_count(1)
    expect(returned.locator("tbody tr")).to_contain_text("B003")

    # From the student to the desk, to lend or take back: the same reader is there.
    out.get_by_role("link", name="At the desk").click()
    expect(page.get_by_role("region", name="Reader")).to_contain_text("小明")
    page.get_by_role("region", name="Reader").get_by_role("link", name="小明").click()  # and back
    expect(page.get_by_role("heading", level=1)).to_have_text("小明 S1")

    # A student with nothing out, nothing returned: said so.
    page.goto(f"{office_server.url}/students?q=s2")
    page.get_by_role("link", name="Edit 小红").click()
    expect(page.get_by_role("region", name="Books out now")).to_contain_text("No books out.")
    expect(page.locator(".policy")).to_contain_text("May borrow")
    expect(page.get_by_role("region", name="Returned lately")).to_contain_text(
        "Nothing returned yet."
    )
