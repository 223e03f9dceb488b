"""The overview in a real browser: the plan's figures for the school and each class, after the
librarian sets the semester and the targets on their page."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from sync.server import models
from tests.conftest import TZ
from tests.sync.support import EventFeed, Office


def _monday() -> dt.date:
    today = dt.datetime.now(TZ).date()
    return today - dt.timedelta(days=today.weekday())


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TZ)


def cells(page: Page, row_name: str) -> list[str]:
    row = page.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name=row_name, exact=True)
    )
    return [text.strip() for text in row.get_by_role("cell").all_inner_texts()]


@pytest.mark.slow
def test_the_overview_counts_the_week_and_the_semester(
    signed_in: Page, office_server: Office
) -> None:
    monday = _monday()
    database = office_server.database()
    feed = EventFeed(database)
    feed.lend("S5", "B003", _at(monday - dt.timedelta(weeks=3), 10))  # overdue by now
    feed.lend("S2", "B005", _at(monday - dt.timedelta(weeks=1), 10))
    feed.lend("S1", "B001", _at(monday, 10))
    feed.lend("H1", "B002", _at(monday, 10, 5))  # a small librarian is a student too
    feed.lend("T1", "B004", _at(monday, 10, 10), days=30)  # a teacher: counted apart
    with database.write() as session:  # kiosk-a's clock was 3 hours behind at its last sync
        session.get(models.Kiosk, feed.kiosk_id).clock_offset_seconds = 3 * 3600
    database.close()

    page = signed_in
    page.get_by_role("link", name="Targets and semester").click()
    page.get_by_label("First day").fill((monday - dt.timedelta(weeks=4)).isoformat())
    page.get_by_label("Last day").fill((monday + dt.timedelta(weeks=12)).isoformat())
    page.get_by_label("Students who borrow each week (%)").fill("45")
    page.get_by_label("Loans planned in the semester").fill("180")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")

    page.get_by_role("link", name="Overview").first.click()
    expect(page.locator("[data-figure=week-share]")).to_have_text("50.0%")
    expect(page.locator("[data-figure=week-borrowers]")).to_have_text("2 of 4 students")
    expect(page.locator("[data-figure=books-per-student]")).to_have_text("1.0")
    expect(page.locator("[data-figure=semester-loans]")).to_have_text("4")
    expect(page.locator("[data-figure=overdue]")).to_have_text("1")
    expect(page.get_by_text("week 5 of 17")).to_be_visible()
    expect(page.get_by_text("Plan: 180 in the semester, 53 by this week")).to_be_visible()
    expect(page.get_by_text("not counted above): 1")).to_be_visible()
    # class, students, borrowed this week, share, books per student, loans, plan, overdue
    assert cells(page, "3-1")[:7] == ["2", "1", "50.0%", "1.0", "2", "90", "0"]
    assert cells(page, "5-2")[:7] == ["1", "0", "0.0%", "1.0", "1", "45", "1"]
    assert cells(page, "6-1")[:7] == ["1", "1", "100.0%", "1.0", "1", "45", "0"]
    assert cells(page, "School")[:7] == ["4", "2", "50.0%", "1.0", "4", "180", "1"]
    kiosks = page.get_by_role("table", name="Kiosks")
    kiosk_a = kiosks.get_by_role("row").filter(has_text="kiosk-a")
    expect(kiosk_a).to_contain_text("in touch, clock 3 h slow")
    expect(page.get_by_role("img", name="Students who borrowed, week by week")).to_be_visible()

    page.get_by_role("link", name="中文").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("概览")
    expect(page.locator("[data-figure=week-borrowers]")).to_have_text("4 名学生中 2 名")
    kiosk_a = page.get_by_role("table", name="借书机").get_by_role("row").filter(has_text="kiosk-a")
    expect(kiosk_a).to_contain_text("时钟慢了 3 小时")  # the clock in the page's language
    expect(kiosk_a).not_to_contain_text("clock")


@pytest.mark.slow
def test_a_plan_that_cannot_be_is_said_on_its_page(signed_in: Page, office_server: Office) -> None:
    page = signed_in
    page.goto(f"{office_server.url}/reports/plan")
    page.get_by_label("First day").fill("2027-02-01")
    page.get_by_label("Last day").fill("2026-09-01")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("the semester ends before it starts")
    page.goto(f"{office_server.url}/reports/plan")
    expect(page.get_by_label("First day")).not_to_have_value("2027-02-01")


# Each legend name runs from its swatch towards the next one: the boxes the browser drew them in.
LEGEND_OVERLAPS = """svg => {
  const swatches = [...svg.querySelectorAll("rect")].filter(
    r => parseFloat(r.getAttribute("width")) === 8 && parseFloat(r.getAttribute("height")) === 8);
  const boxes = swatches.map(r => r.getBoundingClientRect());
  const overlaps = [];
  for (const swatch of swatches) {
    const name = swatch.nextElementSibling, box = name.getBoundingClientRect();
    for (const other of boxes) {
      if (box.left < other.right && other.left < box.right &&
          box.top < other.bottom && other.top < box.bottom) overlaps.push(name.textContent);
    }
  }
  return {swatches: swatches.length, overlaps};
}"""


@pytest.mark.slow
def test_the_charts_legend_names_stand_clear_of_each_other(
    signed_in: Page, office_server: Office
) -> None:
    page = signed_in
    for language, name in [("en", "Students who borrowed, week by week"), ("zh_CN", None)]:
        page.goto(f"{office_server.url}/language/{language}?next=/")
        chart = page.locator("svg.chart").first
        if name:
            expect(chart).to_have_accessible_name(name)
        # The borrowers and the target, each name clear of the other's swatch.
        assert chart.evaluate(LEGEND_OVERLAPS) == {"swatches": 2, "overlaps": []}, language


@pytest.mark.slow
def test_counts_are_charted_in_whole_numbers(signed_in: Page, office_server: Office) -> None:
    monday = _monday()
    database = office_server.database()
    feed = EventFeed(database)
    feed.lend("S1", "B001", _at(monday, 10))
    feed.lend("S2", "B005", _at(monday, 10, 5))
    database.close()
    page = signed_in
    page.goto(f"{office_server.url}/reports")
    for name in ("Loans per class and week", "Most borrowed titles"):
        marks = page.get_by_role("img", name=name).locator("text").all_text_contents()
        numbers = [mark for mark in marks if mark.replace(".", "").isdigit()]
        assert len(numbers) > 1 and all(mark.isdigit() for mark in numbers), (name, numbers)
