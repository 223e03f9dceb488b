"""The rules page in a real headless Chromium: the week at a glance, an opening added there
reaching a real kiosk at its next sync, the lending rules and closed days, and bad input shown
beside its field with nothing saved."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import TZ
from tests.sync.support import Office, enrolled
from tests.web.conftest import go_to, signed_in_client

pytestmark = pytest.mark.slow
TUESDAY_AFTERNOON = dt.datetime(2026, 11, 24, 16, 30, tzinfo=TZ)


def cell(page: Page, time: str, day: str):
    """The grid's cell of a time window on a day (days are columns, time windows rows)."""
    grid = page.locator("table.week")
    days = [text.strip() for text in grid.locator("thead th").all_inner_texts()]
    return grid.get_by_role("row").filter(has_text=time).locator("td").nth(days.index(day) - 1)


def records(office: Office) -> dict[str, list[tuple]]:
    """Every row of the office's records (sessions aside: signing in is not a change)."""
    found = office.snapshot()
    del found["librarian_sessions"]
    return found


def test_an_opening_added_on_the_page_opens_the_kiosks_then(
    signed_in: Page, office_server: Office, make_kiosk
) -> None:
    page = signed_in
    kiosk = enrolled(office_server, make_kiosk, sync=True)
    kiosk.clock.set(TUESDAY_AFTERNOON)
    assert kiosk.scan("S1")[-1].detail.get("blocked") == "closed"
    kiosk.engine.touch("done")

    go_to(page, "Rules")
    expect(page.get_by_role("heading", level=1)).to_have_text("Rules")
    expect(page.get_by_text("The office has not set the rules yet")).to_be_visible()
    expect(cell(page, "13:30–14:20", "Monday")).to_have_text("Every grade")
    expect(cell(page, "17:00–17:40", "Wednesday")).to_have_text("Grades 5, 6")
    expect(cell(page, "17:00–17:40", "Tuesday")).to_have_text("")

    form = page.locator("form#opening")
    expect(form.get_by_role("heading")).to_have_text("Add an opening")
    form.get_by_label("Tuesday").check()
    form.get_by_label("Opens").fill("16:00")
    form.get_by_label("Closes").fill("17:00")
    form.get_by_label("Grades").fill("3")
    form.get_by_role("button", name="Add the opening").click()
    expect(page.get_by_role("status")).to_have_text(
        "The opening is added. Kiosks take it at their next sync."
    )
    expect(page.get_by_text("The office has not set the rules yet")).to_have_count(0)
    expect(cell(page, "16:00–17:00", "Tuesday")).to_have_text("Grade 3")
    expect(cell(page, "16:00–17:00", "Monday")).to_have_text("")

    kiosk.client.sync()
    started = kiosk.scan("S1")[-1]
    assert started.kind == "session_started" and "blocked" not in started.detail
    assert kiosk.scan("B001")[-1].kind == "checked_out"
    kiosk.engine.touch("done")
    assert kiosk.scan("S5")[-1].detail.get("blocked") == "not_your_grade_today"  # grade 5
    kiosk.engine.touch("done")

    # The block in the grid opens its opening to change: grade 5 too, in A weeks only.
    cell(page, "16:00–17:00", "Tuesday").get_by_role("link", name="Grade 3").click()
    expect(form.get_by_role("heading")).to_have_text("Change this opening")
    expect(form.get_by_label("Tuesday")).to_be_checked()
    expect(form.get_by_label("Monday")).not_to_be_checked()
    expect(form.get_by_label("Grades")).to_have_value("3")
    form.get_by_label("Grades").fill("3、5")
    form.get_by_label("Weeks").select_option(label="A weeks")
    form.get_by_role("button", name="Save the opening").click()
    expect(page.get_by_role("status")).to_contain_text("The opening is changed.")
    expect(cell(page, "16:00–17:00", "Tuesday")).to_have_text("Grades 3, 5 A weeks")
    # With a timetable of A and B weeks, the page says which week this is, and takes the other.
    page.get_by_label("a B week").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("The A and B weeks are set.")
    expect(page.get_by_label("a B week")).to_be_checked()

    cell(page, "16:00–17:00", "Tuesday").get_by_role("link").click()
    page.get_by_role("button", name="Remove this opening").click()
    expect(page.get_by_role("status")).to_contain_text("The opening is removed.")
    expect(page.get_by_role("row").filter(has_text="16:00–17:00")).to_have_count(0)
    kiosk.client.sync()
    assert kiosk.scan("S1")[-1].detail.get("blocked") == "closed"


def test_bad_input_is_shown_beside_its_field_and_nothing_is_saved(
    signed_in: Page, office_server: Office
) -> None:
    page = signed_in
    page.goto(f"{office_server.url}/rules")
    before = records(office_server)
    form = page.locator("form#opening")
    form.get_by_label("Friday").check()
    form.get_by_label("Opens").fill("15:00")
    form.get_by_label("Closes").fill("14:00")
    form.get_by_label("Grades").fill("七")
    form.get_by_role("button", name="Add the opening").click()
    expect(form.get_by_role("alert")).to_have_text("Nothing was saved: put right what is marked.")
    closes = form.get_by_label("Closes")
    expect(closes).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#problem-closes")).to_have_text("It must close after it opens.")
    expect(page.locator("#problem-grades")).to_have_text(
        "“七” is not a grade: write grades from 1 to 12, like 3, 4."
    )
    # What was typed is kept, to be put right.
    expect(form.get_by_label("Friday")).to_be_checked()
    expect(form.get_by_label("Grades")).to_have_value("七")
    assert records(office_server) == before

    # Every grade on Friday 14:00-15:00 meets the new kiosk's 13:30-14:20 for every grade.
    form.get_by_label("Opens").fill("14:00")
    form.get_by_label("Closes").fill("15:00")
    form.get_by_label("Grades").fill("")
    form.get_by_role("button", name="Add the opening").click()
    expect(page.locator("#problem-overlap")).to_have_text(
        "It overlaps another opening on Friday 13:30–14:20 for the same grades: change the "
        "days, the times or the grades."
    )
    assert records(office_server) == before

    # The browser keeps numbers in bounds itself; the office checks them all the same.
    client, token = signed_in_client(office_server)
    client.headers["Accept-Language"] = "en"
    policies = {
        f"{kind}.{name}": "1"
        for kind in ("student", "helper", "teacher", "librarian")
        for name in ("max_loans", "loan_days", "max_renewals", "overdue_block_days")
    }
    reply = client.post(
        f"{office_server.url}/rules/policies",
        data={**policies, "student.loan_days": "400", "csrf_token": token},
        timeout=30,
    )
    assert reply.status_code == 400
    problem = '<span class="problem" id="problem-student-loan_days">A whole number from 1 to 365.'
    assert problem in reply.text
    reply = client.post(
        f"{office_server.url}/rules/closed",
        data={"first": "2026-02-30", "note": "", "csrf_token": token},
        timeout=30,
    )
    assert reply.status_code == 400
    assert "“2026-02-30” is not a date: write it like 2026-10-01." in reply.text
    assert records(office_server) == before


def test_lending_rules_and_closed_days_in_both_languages(
    signed_in: Page, office_server: Office
) -> None:
    page = signed_in
    page.goto(f"{office_server.url}/rules")
    students = page.get_by_role("row").filter(has_text="Students")
    students.get_by_label("Students: Books at a time").fill("3")
    students.get_by_label("Students: Days to keep a book").fill("21")
    page.get_by_role("button", name="Save the lending rules").click()
    expect(page.get_by_role("status")).to_contain_text("The lending rules are saved.")
    expect(page.get_by_label("Students: Books at a time")).to_have_value("3")
    assert "student    3 books for 21 days" in office_server.ok("rules")

    closing = page.locator("form[action='/rules/closed#closed']")
    closing.get_by_label("First day").fill("2026-10-01")
    closing.get_by_label("Last day").fill("2026-10-07")
    closing.get_by_label("Why").fill("国庆节")
    closing.get_by_role("button", name="Close on these days").click()
    expect(page.get_by_role("status")).to_contain_text("The closed days are added.")
    row = page.locator("table.closures").get_by_role("row").filter(has_text="国庆节")
    expect(row).to_contain_text("2026-10-01 – 2026-10-07 (7 days)")
    assert "closed 2026-10-01 to 2026-10-07: 国庆节" in office_server.ok("rules")

    page.goto(f"{office_server.url}/language/zh_CN?next=/rules")
    expect(page.get_by_role("heading", level=1)).to_have_text("规则")
    expect(cell(page, "13:30–14:20", "周一")).to_have_text("所有年级")
    expect(cell(page, "17:00–17:40", "周五")).to_have_text("5, 6 年级")
    expect(row).to_contain_text("2026-10-01 – 2026-10-07 (7 天)")
    row.get_by_role("button", name="重新开放").click()
    expect(page.get_by_role("status")).to_contain_text("这些日子图书馆重新开放。")
    expect(page.get_by_text("没有闭馆日：图书馆每周按时间表开放。")).to_be_visible()
    assert "closed" not in office_server.ok("rules")
