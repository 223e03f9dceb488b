"""Importing class lists through the students' page in a real headless Chromium: the preview
first (bad rows with sheet and row, who is new, moved, missing), nothing saved until the
librarian imports; GB18030 CSV; columns mapped in the preview and remembered; next term."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from sync.server.models import Patron
from tests import class_lists
from tests.pdfs import barcodes_in, text_of
from tests.sync.support import Office

pytestmark = pytest.mark.slow
YEAR = dt.date.today().year


def students(office: Office) -> dict[str, Patron]:
    database = office.database()
    with database.read() as session:
        found = {p.name: p for p in session.scalars(select(Patron))}
    database.close()
    return found


def records(office: Office) -> set[tuple]:
    return {(p.card, p.name, p.class_name, p.active) for p in students(office).values()}


def choose(page: Page, office: Office, path: Path) -> None:
    page.goto(f"{office.url}/students/import")
    page.get_by_label("Class list").set_input_files(str(path))
    page.get_by_role("button", name="Show what it would do").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Import {path.name}?")


def test_an_xlsx_with_a_bad_row_is_shown_and_nothing_saved(
    signed_in: Page, office_server: Office, tmp_path: Path
) -> None:
    page = signed_in
    before = records(office_server)
    choose(page, office_server, class_lists.own_headers(tmp_path / "名单.xlsx", bad_row=True))
    expect(page.get_by_role("alert")).to_have_text("Say which column holds each of: Name.")
    assert records(office_server) == before  # nothing saved by looking
    page.get_by_label("学生").select_option(label="Name")
    page.get_by_label("编号").select_option(label="Student number")
    page.get_by_label("所在班").select_option(label="Class")
    page.get_by_role("button", name="Show again").click()

    problems = page.locator("section.problems")
    expect(problems.get_by_role("heading")).to_have_text("1 row cannot be imported")
    expect(problems.get_by_role("listitem")).to_have_text(["sheet Sheet row 4: no name"])
    expect(page.locator("ul.tally")).to_contain_text("2 new")
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("alert").first).to_have_text(
        "Nothing was imported: look at the rows below first."
    )
    assert records(office_server) == before

    page.get_by_label("Import the other rows without them").check()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("2 added, 0 updated, 0 unchanged.")
    expect(page.get_by_role("status")).to_contain_text("1 bad row left out.")
    found = students(office_server)
    assert (found["林小宇"].student_number, found["林小宇"].class_name) == ("K01", "6-1")
    assert found["林小宇"].card == f"S{YEAR}0001" and found["何小溪"].card == f"S{YEAR}0002"
    expect(page.get_by_role("row").filter(has_text="何小溪")).to_contain_text(f"S{YEAR}0002")
    # Their new cards, printed at once from the import's result.
    with page.expect_download() as info:
        page.get_by_role("button", name="Print the 2 new students' cards").click()
    cards = tmp_path / "new-cards.pdf"
    info.value.save_as(cards)
    assert sorted(barcodes_in(cards)) == [f"S{YEAR}0001", f"S{YEAR}0002"]
    assert "林小宇" in text_of(cards)

    # The same columns next time are placed as she placed them.
    choose(page, office_server, class_lists.own_headers(tmp_path / "again.xlsx"))
    expect(page.locator("main details summary")).to_contain_text(
        "placed as you placed them last time"
    )
    expect(page.locator("ul.tally")).to_contain_text("2 unchanged")


def test_a_gb18030_csv_and_next_terms_workbook(
    signed_in: Page, office_server: Office, tmp_path: Path
) -> None:
    page = signed_in
    csv = tmp_path / "三年级.csv"
    csv.write_bytes("姓名,班级\r\n欧阳娜娜,三年级(2)班\r\n".encode("gb18030"))
    choose(page, office_server, csv)
    expect(page.locator("main")).to_contain_text("Read as GB18030")
    page.get_by_label("Classes shown as").select_option(label="三年级(2)班")
    page.get_by_role("button", name="Show again").click()
    expect(page.get_by_role("row").filter(has_text="欧阳娜娜")).to_contain_text("三年级(2)班")
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("1 added")
    assert students(office_server)["欧阳娜娜"].class_name == "三年级(2)班"
    # The school's form now holds for every class, those imported before too.
    assert students(office_server)["小明"].class_name == "三年级(1)班"

    choose(page, office_server, class_lists.registry(tmp_path / "autumn.xlsx"))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("8 added")
    before = students(office_server)

    choose(page, office_server, class_lists.next_term(tmp_path / "spring.xlsx"))
    tally = page.locator("ul.tally")
    expect(tally).to_contain_text("2 new")
    expect(tally).to_contain_text("3 moved class")
    expect(tally).to_contain_text("4 unchanged")
    moved = page.locator("section").filter(has=page.get_by_role("heading", name="Moved class"))
    expect(moved.locator("tbody tr")).to_have_text(
        [
            "李思琪三年级(1)班三年级(2)班",
            "刘一鸣三年级(2)班三年级(1)班",
            "赵欣怡三年级(2)班三年级(1)班",
        ]
    )
    missing = page.locator("section").filter(has=page.get_by_role("heading", name="Missing"))
    # 周俊杰, and those of the same classes who were never in the registry's list.
    expect(missing.get_by_role("listitem")).to_have_text(
        [re.compile(f"^{name} ") for name in ["小红", "小明", "欧阳娜娜", "周俊杰"]]
    )
    assert students(office_server)["李思琪"].class_name == "三年级(1)班"  # not yet
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("2 added, 3 updated, 4 unchanged.")
    after = students(office_server)
    assert after["李思琪"].class_name == "三年级(2)班"
    assert after["李思琪"].card == before["李思琪"].card
    # The sequence goes on after the CSV's student (0001) and the autumn list (0002-0009).
    assert after["吴梓萱"].card == f"S{YEAR}0010" and after["郑博文"].card == f"S{YEAR}0011"
    assert after["周俊杰"].active  # missing, but not deactivated unless asked
