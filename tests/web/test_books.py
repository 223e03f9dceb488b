"""The Books pages and printing, in a real headless Chromium against the office server: adding
a book at the desk and printing its new copies' labels, importing a book list, finding copies
and marking them, printing a class's cards. Every PDF is checked as printed (tests/pdfs.py)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from kiosk.codes import ean13_check_digit
from sync.server.models import Change, Copy
from sync.server.services import desk
from tests.pdfs import barcodes_in, barcodes_in_boxes, text_of
from tests.sync.support import Office
from tests.sync.test_server_printing import AVERY, card_boxes, label_boxes
from tests.web.conftest import go_to

pytestmark = pytest.mark.slow
NEW_ISBN = "978756022020" + ean13_check_digit("978756022020")  # not in the library


def download(page: Page, button: str, folder: Path) -> Path:
    """Click *button* and keep the PDF the browser is given."""
    with page.expect_download() as info:
        page.get_by_role("button", name=button, exact=True).click()
    pdf = folder / info.value.suggested_filename
    info.value.save_as(pdf)
    return pdf


def test_print_labels_for_new_copies(signed_in: Page, office_server: Office, tmp_path: Path):
    """At the desk: scan a new book's ISBN, type what is missing, add three copies, print their
    labels from the second position of a part-used sheet."""
    page = signed_in
    page.get_by_role("navigation").get_by_role("link", name="Books").click()
    page.get_by_role("link", name="Add a book").click()
    page.get_by_label("Scan the ISBN").fill(NEW_ISBN)
    page.get_by_label("Scan the ISBN").press("Enter")  # as a scanner ends a scan
    expect(page.get_by_role("status")).to_contain_text("A new book")
    page.get_by_label("Title").fill("小王子")
    page.get_by_label("Author").fill("圣埃克苏佩里")
    page.get_by_label("Classification").fill("I565.88")
    page.get_by_label("Shelf").fill("3-B")
    page.get_by_label("Copies").fill("3")
    page.get_by_role("button", name="Add the copies").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("小王子")
    expect(page.get_by_role("status")).to_contain_text("3 copies added")
    ticked = page.locator("input[name=copies]:checked")
    new = ticked.evaluate_all("boxes => boxes.map(box => box.value)")
    assert len(new) == 3 and len(set(new)) == 3
    page.get_by_label("Start at label number").fill("2")
    pdf = download(page, "Print labels", tmp_path)

    (sheet,) = barcodes_in_boxes(pdf, label_boxes(*AVERY["L7651"]))
    assert sheet[:5] == [None, *new, None]
    assert sorted(barcodes_in(pdf)) == sorted(new)  # exactly the copies asked for
    assert "小王子" in text_of(pdf) and "I565.88" in text_of(pdf)

    # The kiosks hear of the new book and copies at their next sync.
    database = office_server.database()
    with database.read() as session:
        ids = {str(c.id) for c in session.scalars(select(Copy).where(Copy.barcode.in_(new)))}
        logged = set(session.scalars(select(Change.key).where(Change.kind == "copy")))
    database.close()
    assert ids <= logged


def test_a_known_book_is_filled_in(signed_in: Page, office_server: Office) -> None:
    page = signed_in
    page.goto(f"{office_server.url}/books/add")
    page.get_by_label("Scan the ISBN").fill("978-7-02-000220-7")  # as printed on the cover
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("status")).to_contain_text("The library has this book already")
    expect(page.get_by_label("Title")).to_have_value("红楼梦")
    page.get_by_label("Copies").fill("2")
    page.get_by_role("button", name="Add the copies").click()
    expect(page.get_by_role("status")).to_contain_text("2 copies added")
    expect(page.get_by_role("row")).to_have_count(1 + 4)  # its two old copies, without labels

    page.goto(f"{office_server.url}/books/add")
    page.get_by_label("Scan the ISBN").fill("9787020002208")  # a misread check digit
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_have_text(
        "9787020002208 is not a valid ISBN: check its digits."
    )


def test_barcodes_of_new_copies_follow_the_prefix(signed_in: Page, office_server: Office):
    page = signed_in
    page.goto(f"{office_server.url}/books/add")
    page.get_by_label("Letters before the number").fill("lib")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The next new copy gets barcode LIB000001.")).to_be_visible()
    page.get_by_label("Letters before the number").fill("图书")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("A barcode prefix is up to 8 letters")


def barcodes_known(office: Office, barcodes: list[str]) -> list[str]:
    database = office.database()
    with database.read() as session:
        found = list(session.scalars(select(Copy.barcode).where(Copy.barcode.in_(barcodes))))
    database.close()
    return found


def write_workbook(path: Path, rows: list[list[object]]) -> None:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)


def test_import_a_book_list_from_excel(signed_in: Page, office_server: Office, tmp_path: Path):
    """The list is shown first, its bad row named by line; nothing is saved until confirmed."""
    write_workbook(
        tmp_path / "新书.xlsx",
        [
            ["条码", "ISBN", "书名", "作者", "分类号", "书架"],
            ["X0001", 9787532439584, "草房子", "曹文轩", "I287.45", "3-A"],
            ["X0002", 9787532439587, "校验位错", "某人", "", ""],
            ["X0003", "", "夏洛的网", "E.B.怀特", "I712.85", "3-B"],
        ],
    )
    page = signed_in
    page.goto(f"{office_server.url}/books")
    page.get_by_role("link", name="Import a book list").click()
    page.get_by_label("A CSV file or an Excel workbook").set_input_files(tmp_path / "新书.xlsx")
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("status")).to_have_text(
        "Importing it would add 2, update 0 and leave 0 unchanged."
    )
    expect(page.get_by_role("alert")).to_contain_text(
        "sheet Sheet row 3: 9787532439587 is not a valid ISBN"
    )
    assert barcodes_known(office_server, ["X0001", "X0003"]) == []  # not saved yet

    page.get_by_role("button", name="Import the good rows").click()
    expect(page.get_by_role("status")).to_have_text("Imported: 2 added, 0 updated, 0 unchanged.")
    page.goto(f"{office_server.url}/books?q=夏洛")
    expect(page.get_by_role("cell", name="X0003", exact=True)).to_be_visible()


def test_import_a_gb18030_csv(signed_in: Page, office_server: Office, tmp_path: Path) -> None:
    """A book list saved by Excel on a Chinese Windows PC."""
    (tmp_path / "books.csv").write_bytes(
        "条码,书名,作者\nG0001,哈利·波特与魔法石,J.K.罗琳\n".encode("gb18030")
    )
    page = signed_in
    page.goto(f"{office_server.url}/books/import")
    page.get_by_label("A CSV file or an Excel workbook").set_input_files(tmp_path / "books.csv")
    page.get_by_role("button", name="Check the file").click()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Imported: 1 added, 0 updated, 0 unchanged.")
    page.goto(f"{office_server.url}/books?q=罗琳")
    expect(page.get_by_role("cell", name="哈利·波特与魔法石")).to_be_visible()


def test_find_copies_and_mark_one_lost(signed_in: Page, office_server: Office) -> None:
    page = signed_in
    page.goto(f"{office_server.url}/books")
    for typed, found in [("book 1", "B001"), ("b007", "B007"), ("978-7-02-000220-7", "红楼梦")]:
        page.get_by_label("Find a copy").fill(typed)
        page.get_by_label("Find a copy").press("Enter")
        expect(page.get_by_role("cell", name=found, exact=True).first).to_be_visible()
    page.get_by_label("Find a copy").fill("b007")
    page.get_by_label("Find a copy").press("Enter")
    page.get_by_label("Status of B007").select_option(label="lost")
    page.get_by_role("row").filter(has_text="B007").get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("B007 saved.")
    expect(page.get_by_label("Status of B007")).to_have_value("lost")
    database = office_server.database()
    with database.read() as session:
        assert session.scalar(select(Copy.status).where(Copy.barcode == "B007")) == "lost"
    database.close()


def test_a_copy_on_loan_says_who_has_it(signed_in: Page, office_server: Office) -> None:
    database = office_server.database()
    with database.write() as session:
        assert desk.lend(session, "S1", "B001", librarian="librarian").outcome == "lent"
        due = desk.reader(session, "S1").loans[0].due
    database.close()
    page = signed_in
    page.goto(f"{office_server.url}/books?q=book+1")
    row = page.get_by_role("row").filter(has_text="B001")
    expect(row).to_contain_text(f"on loan: 小明, due {due}")
    expect(row.get_by_label("Status of B001")).to_have_count(0)  # taken back at the desk only
    row.get_by_role("link", name="小明").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("小明 S1")
    expect(page.get_by_role("region", name="Books out now")).to_contain_text("B001")


def test_print_a_class_cards(signed_in: Page, office_server: Office, tmp_path: Path) -> None:
    page = signed_in
    go_to(page, "Print")
    page.get_by_label("The school's name, on every card").fill("阳光小学")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    page.get_by_label("Class", exact=True).select_option("3-1")
    pdf = download(page, "Print cards", tmp_path)
    (sheet,) = barcodes_in_boxes(pdf, card_boxes())
    assert sheet[:3] == ["S1", "S2", None]
    assert "阳光小学" in text_of(pdf) and "小明" in text_of(pdf)

    page.get_by_label("These cards, one a line").check()
    page.get_by_label("Cards", exact=True).fill("t1\nNOPE")
    page.get_by_role("button", name="Print cards").click()
    expect(page.get_by_role("alert")).to_have_text("No active student or teacher has card NOPE.")


def test_calibration_sheet_from_the_print_page(signed_in: Page, office_server: Office, tmp_path):
    page = signed_in
    page.goto(f"{office_server.url}/print")
    page.get_by_label("Layout").select_option("L7654")
    pdf = download(page, "Print a calibration sheet", tmp_path)
    numbers = {int(n) for n in text_of(pdf).split() if n.isdigit()}
    assert set(range(1, 41)) <= numbers
