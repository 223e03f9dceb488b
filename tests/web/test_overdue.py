"""The Overdue page in a real headless Chromium: books out and overdue, filtered by
class and grade, and the overdue slips of one class for its homeroom teacher, printed from the
page (one class to a sheet) and as a PDF, both read back as printed (pdftotext)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from kiosk.clock import utc_now
from sync.server.services import desk, overdue, printing
from tests.pdfs import text_of
from tests.sync.support import Office

pytestmark = pytest.mark.slow


def lend_late(office: Office) -> None:
    """小明 and 小红 of 3-1 and Li Hua of 5-2 have late books; 小明 one not late too."""
    database = office.database()
    with database.write() as session:
        printing.set_school_name(session, "阳光小学")
    for card, code, days_ago in [
        ("S1", "B002", 0), ("S1", "B001", 30), ("S2", "B003", 20), ("S5", "B004", 25),
    ]:  # fmt: skip
        with database.write() as session:
            answer = desk.lend(session, card, code, librarian="librarian",
                               now=utc_now() - dt.timedelta(days=days_ago))  # fmt: skip
        assert answer.outcome == "lent"
    database.close()


def test_overdue_loans_by_class_and_the_slips_of_one_class(
    signed_in: Page, office_server: Office, tmp_path: Path
) -> None:
    lend_late(office_server)
    database = office_server.database()
    with database.read() as session:
        today = overdue.today(session)
    database.close()
    page = signed_in
    page.goto(f"{office_server.url}/")  # the overview counts the same overdue books
    expect(page.locator("[data-figure=overdue]")).to_have_text("3")
    page.locator("[data-figure=overdue] a").click()
    expect(page.get_by_role("link", name="Overdue", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    rows = page.locator("table.loans tbody tr")
    expect(rows).to_have_count(3)  # the overdue ones
    expect(rows.first).to_contain_text("小红")
    expect(rows.filter(has_text="B001")).to_contain_text("16")

    page.get_by_label("Class").select_option("3-1")
    page.get_by_role("button", name="Show").click()
    expect(rows).to_have_count(2)
    expect(page.get_by_role("heading", level=1)).to_have_text("Overdue · 3-1")
    page.get_by_label("All books out").check()
    page.get_by_role("button", name="Show").click()
    expect(rows).to_have_count(3)
    expect(page.get_by_role("heading", level=1)).to_have_text("All books out · 3-1")
    expect(rows.filter(has_text="B002").locator("td.num")).to_have_text("")
    page.get_by_label("Class").select_option("")
    page.get_by_label("Grade").select_option("5")
    page.get_by_role("radio", name="Overdue").check()
    page.get_by_role("button", name="Show").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Li Hua")
    rows.first.get_by_role("link", name="Li Hua").click()  # to the student, and back
    expect(page.get_by_role("region", name="Books out now")).to_contain_text("B004")
    page.go_back()

    # The slips of 3-1: printed from the page, a sheet for the class.
    page.goto(f"{office_server.url}/loans?class_name=3-1")
    page.get_by_role("link", name="Overdue slips for the homeroom teachers").click()
    expect(page.locator("article.slip")).to_have_count(1)
    expect(page.locator("article.slip h3")).to_have_text("Class 3-1")
    printed = tmp_path / "printed.pdf"
    page.pdf(path=str(printed), format="A4")
    sheets = [sheet for sheet in text_of(printed).split("\f") if sheet.strip()]
    assert len(sheets) == 1 and "Overdue books: please urge the return" in sheets[0]
    assert "Sign out" not in sheets[0] and "Students" not in sheets[0]  # no navigation on paper

    # ... and as a PDF, read back.
    with page.expect_download() as info:
        page.get_by_role("link", name="Slips as PDF").click()
    pdf = tmp_path / info.value.suggested_filename
    info.value.save_as(pdf)
    text = text_of(pdf)
    assert text.count("\f") <= 1  # one page
    assert "阳光小学" in text and "Class 3-1" in text and "Li Hua" not in text
    for name, code, days in [("小明", "B001", 16), ("小红", "B003", 6)]:
        due = (today - dt.timedelta(days=days)).isoformat()
        (row,) = [line for line in text.splitlines() if code in line]
        assert name in row and due in row and row.rstrip().endswith(str(days)), row
    assert "B002" not in text  # out, not late

    # The whole school: a sheet for each class, when printed from the page.
    page.goto(f"{office_server.url}/loans/slips")
    expect(page.locator("article.slip")).to_have_count(2)
    page.pdf(path=str(printed), format="A4")
    sheets = [sheet for sheet in text_of(printed).split("\f") if sheet.strip()]
    assert [("3-1" in s, "5-2" in s) for s in sheets] == [(True, False), (False, True)]


def test_no_slip_to_print_says_so(signed_in: Page, office_server: Office) -> None:
    page = signed_in
    page.goto(f"{office_server.url}/loans")
    expect(page.get_by_text("No book is overdue.")).to_be_visible()
    page.goto(f"{office_server.url}/loans/slips")
    expect(page.get_by_text("No overdue slip to print: no student's book is late.")).to_be_visible()
    reply = page.goto(f"{office_server.url}/loans/slips.pdf")
    assert reply is not None and reply.status == 404
    expect(page.get_by_role("alert")).to_have_text(
        "No overdue slip to print: no student's book is late."
    )
    page.get_by_role("link", name="Overdue").last.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overdue")
