"""The semester report as the school leaders get it: a school's semester played through the
real kiosks and sync (sync.simulation), the PDF downloaded from the Reports page in a real
browser, drawn (pdftoppm) and read back (pdftotext): its figures are the kiosks' own count."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from sync import simulation
from sync.server.db import database_url
from sync.server.services import figures, plan
from tests.pdfs import render, text_of
from tests.sync.support import Office
from tests.web.conftest import LIBRARIAN, PASSWORD, add_librarian, sign_in

pytestmark = pytest.mark.slow


@pytest.fixture
def played(tmp_path: Path) -> Iterator[tuple[Office, simulation.Tally, dt.date]]:
    data = tmp_path / "office"
    data.mkdir()
    office = Office(data, database_url(data, None))
    add_librarian(office)
    office.start()
    database = office.database()
    try:
        until = dt.datetime.now(dt.UTC)
        tally = simulation.play(
            simulation.SMALL, tmp_path / "sim", database, office.url, until=until
        )
        with database.read() as session:
            today = figures.today_in(plan.current(session))
        yield office, tally, today
    finally:
        database.close()
        office.stop()


def download(page: Page, office: Office, folder: Path, name: str) -> Path:
    page.goto(f"{office.url}/reports/semester")
    with page.expect_download() as started:
        page.locator("a[href='/reports/semester.pdf']").click()
    saved = folder / name
    started.value.save_as(saved)
    return saved


def figure(text: str, label: str) -> int:
    found = re.search(rf"^\s*{re.escape(label)}\s+(\d+)", text, re.MULTILINE)
    assert found, f"{label!r} not in the report:\n{text}"
    return int(found.group(1))


def test_the_semester_report_says_what_the_kiosks_counted(
    played, page: Page, browser: Browser, tmp_path: Path
) -> None:
    office, tally, today = played
    sign_in(page, office)
    pdf = download(page, office, tmp_path, "semester.pdf")
    assert render(pdf)  # every page drawn, every character in a font
    text = text_of(pdf)
    assert tally.student_loans() > 0  # a semester, not an empty one

    assert figure(text, "Students") == tally.class_size()
    assert figure(text, "Loans to students") == tally.student_loans()
    assert figure(text, "Loans to teachers") == tally.teachers_loans()
    assert figure(text, "Books out past their due date") == tally.overdue(today)
    for name in tally.classes:  # By class: students, loans ... overdue
        row = re.search(rf"^\s*{re.escape(name)}\s+(\d+)\s+(\d+)\s", text, re.MULTILINE)
        assert row, f"class {name} not in the report"
        assert (int(row.group(1)), int(row.group(2))) == (
            tally.class_size(name),
            tally.student_loans(name),
        )

    # The same report for a school leader who reads Chinese: drawn in Chinese, same figures.
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})
    tab = context.new_page()
    tab.goto(f"{office.url}/login")
    tab.locator("input[name=name]").fill(LIBRARIAN)
    tab.locator("input[name=password]").fill(PASSWORD)
    tab.locator("button[type=submit]").click()
    tab.wait_for_url(f"{office.url}/")
    chinese = download(tab, office, tmp_path, "semester-zh.pdf")
    context.close()
    assert render(chinese)
    words = text_of(chinese)
    assert "学期" in words
    assert str(tally.student_loans()) in words
