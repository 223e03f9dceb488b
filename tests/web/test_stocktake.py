"""The Stocktake page in a real headless Chromium, with a real kiosk (engine, store, sync client)
counting shelves and syncing with the office on loopback: started on the page, its progress
shelf by shelf and kiosk by kiosk, closed after a confirmation marking the copies nobody saw
missing, the kept result listing exactly what was missing, misplaced or wrongly recorded (on
the page, printed and as CSV); shelf labels as a PDF whose barcodes a reader reads back."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from kiosk.codes import shelf_label
from sync.server.models import Copy, Loan
from tests.pdfs import barcodes_in, text_of
from tests.sync.support import Office, enrolled
from tests.sync.test_stocktake import counting, shelve
from tests.web.conftest import go_to
from tests.web.test_books import download
from tests.web.test_desk import INFO, OK, RECORD_TONES, REFUSED, scan, tones

pytestmark = pytest.mark.slow
UNLABELLED = "9787020002207"  # the two copies of 红楼梦 known by their ISBN only


def rows_of(table) -> list[list[str]]:
    """The cells of each row of a table's body, as the librarian reads them."""
    return [
        [cell.strip() for cell in row]
        for row in table.locator("tbody tr").evaluate_all(
            "rows => rows.map(r => [...r.cells].map(c => c.innerText))"
        )
    ]


def status_of(office: Office, barcode: str) -> str:
    database = office.database()
    with database.read() as session:
        status = session.scalar(select(Copy.status).where(Copy.barcode == barcode))
    database.close()
    return str(status)


def test_a_stocktake_started_followed_and_closed_on_the_page(
    signed_in: Page, office_server: Office, make_kiosk, tmp_path: Path
) -> None:
    page, office = signed_in, office_server
    shelve(office, tmp_path)  # B001-B005 on shelf A1, B006-B010 on B2
    kiosk = enrolled(office, make_kiosk, "kiosk-a", sync=True)
    kiosk.lend("S1", "B003")  # out, and back on its shelf without passing a kiosk
    office.ok("lend", "S2", "B009")  # lent at the desk, out with its reader: not missing
    office.ok("mark-copy", "B010", "lost")  # recorded lost, yet on its shelf
    kiosk.client.sync()

    go_to(page, "Stocktake")
    expect(page.get_by_text("No stocktake has been closed yet.")).to_be_visible()
    start = page.get_by_role("form", name="Start a stocktake")
    expect(start.get_by_label("A1 (5)")).not_to_be_checked()  # each shelf with its copies
    start.get_by_label("Name").fill("Autumn 2026")
    start.get_by_role("button", name="Start the stocktake").click()
    expect(page.get_by_role("status")).to_have_text(
        "The stocktake is started: the kiosks learn it with their next sync."
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Stocktake: Autumn 2026")
    expect(page.get_by_text("The whole library.")).to_be_visible()

    kiosk.client.sync()  # the kiosk learns of it; a small librarian counts two shelves
    counting(kiosk, "A1")
    said = [o.reason for o in kiosk.scan("B001", "B002", "B003", "B006", "B002")]
    assert said == ["counted", "counted", "on_loan", "wrong_shelf", "already_counted"]
    counting(kiosk, "B2")
    assert [o.reason for o in kiosk.scan("B007", "B010", "ZZ-9")] == [
        "counted",
        "lost",
        "unknown_code",
    ]
    kiosk.client.sync()

    page.reload()
    shelves = page.get_by_role("region", name="Shelf by shelf").get_by_role("table")
    # Shelf, counted / expected, out, done, to find, from other shelves.
    assert rows_of(shelves) == [
        ["A1", "3 / 5", "0", "60%", "2", "1"],
        ["B2", "2 / 4", "1", "75%", "1", "0"],
        # The dictionary and the copies known by ISBN only, which the list put on no shelf.
        [
            "On no shelf\nthe records give them none: found wherever they are",
            "0 / 3", "0", "0%", "3", "0",
        ],
    ]  # fmt: skip
    kiosks = page.get_by_role("region", name="Kiosk by kiosk").get_by_role("table")
    assert [r[0] for r in rows_of(kiosks)] == ["kiosk-a"]  # the desk lent, but counted nothing
    row = kiosks.get_by_role("row").filter(has_text="kiosk-a")
    expect(row.get_by_role("cell").nth(0)).to_have_text("7")  # B002 twice: counted once
    expect(row).to_contain_text("just now")  # its last sync

    # Closing asks once more, saying what will happen to the copies nobody saw.
    close = page.get_by_role("form", name="Close the stocktake")
    close.get_by_label("Mark them missing").check()
    close.get_by_role("button", name="Close the stocktake…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Close the stocktake Autumn 2026?")
    expect(page.get_by_text("6 copies nobody saw will be marked missing (lost)")).to_be_visible()
    assert status_of(office, "B004") == "available"  # nothing done until confirmed
    page.get_by_role("button", name="Close the stocktake", exact=True).click()

    expect(page.get_by_role("status")).to_have_text("The stocktake is closed and its result kept.")
    lists = {
        kind: rows_of(page.get_by_role("region", name=name).get_by_role("table"))
        for kind, name in [
            ("not_seen", "Not seen"),
            ("wrong_shelf", "On the wrong shelf"),
            ("found_lost", "Found, recorded lost"),
            ("returned", "Was on loan: returned"),
            ("unknown", "Not the library's code"),
        ]
    }
    not_seen = ["B004", "B005", "B008", "REF1", UNLABELLED, UNLABELLED]
    assert [r[0] for r in lists["not_seen"]] == not_seen
    assert lists["wrong_shelf"] == [["B006", "Book 6", "B2", "A1"]]
    assert lists["found_lost"] == [["B010", "Book 10", "B2", "B2"]]
    assert [r[:5] for r in lists["returned"]] == [["B003", "Book 3", "A1", "A1", "小明 (3-1, S1)"]]
    assert lists["unknown"] == [["ZZ-9", "B2"]]
    expect(page.get_by_role("region", name="Found, recorded withdrawn")).to_contain_text("None.")
    assert status_of(office, "B004") == "lost" and status_of(office, "B010") == "available"

    # Printed: the lists without the menus and buttons.
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(page.get_by_role("link", name="CSV file")).to_be_hidden()
    expect(page.get_by_role("region", name="Not seen")).to_be_visible()
    page.emulate_media(media="screen")

    with page.expect_download() as info:
        page.get_by_role("link", name="CSV file").click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    rows = list(csv.reader(saved.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0][:5] == ["Finding", "Code", "Title", "Shelf", "Seen on shelf"]
    assert [(r[0], r[1]) for r in rows[1:]] == [
        *(("Not seen", code) for code in not_seen),
        ("On the wrong shelf", "B006"),
        ("Found, recorded lost", "B010"),
        ("Was on loan: returned", "B003"),
        ("Not the library's code", "ZZ-9"),
    ]

    # The kept record, by date with its counts; a new stocktake may start.
    go_to(page, "Stocktake")
    records = page.get_by_role("region", name="Stocktakes kept").get_by_role("table")
    [kept] = rows_of(records)
    # Stocktake, closed, books the school has, of the records, not seen, wrong shelf, action.
    assert kept[0] == "Autumn 2026" and kept[2:] == ["7", "12", "6", "1", "marked missing"]
    expect(page.get_by_role("form", name="Start a stocktake")).to_be_visible()

    page.goto(f"{office.url}/language/zh_CN?next=/stocktake/1")
    expect(page.get_by_role("heading", level=1)).to_have_text("盘点：Autumn 2026")


def test_the_librarian_counts_at_the_desk_beside_a_kiosk(
    signed_in: Page, office_server: Office, make_kiosk, tmp_path: Path
) -> None:
    page, office = signed_in, office_server
    shelve(office, tmp_path)  # B001-B005 on shelf A1, B006-B010 on B2
    kiosk = enrolled(office, make_kiosk, "kiosk-a", sync=True)
    kiosk.lend("S1", "B003")  # out, and back on its shelf without passing a kiosk
    office.ok("stocktake-start", "--name", "Spring 2027")
    kiosk.client.sync()
    counting(kiosk, "A1")
    assert kiosk.scan("B001")[0].reason == "counted"
    kiosk.client.sync()

    page.add_init_script(RECORD_TONES)
    page.goto(f"{office.url}/stocktake")
    field = page.get_by_label("Scan a shelf's label, then the books on it")
    expect(field).to_be_focused()
    answer = page.get_by_role("region", name="Count at the desk").get_by_role("status")
    running = page.locator(".counting")
    expect(running).to_have_text("No shelf chosen yet. 0 scans at the desk so far.")

    scan(page, "B002")
    expect(answer).to_have_text(
        "Which shelf? Scan the shelf's label (or choose the shelf) first, then its books."
    )
    # Typed faster than answered: each waits its turn, the shelf first.
    scan(page, "shelf-a1", "B001", "B002", "B003", "B006", "ZZ-9")
    expect(answer).to_have_text(
        "ZZ-9 is not a code of this library: put the book aside. The result lists it."
    )
    said = page.locator("#recent li").evaluate_all("items => items.map(i => i.innerText)")
    assert [line.split(maxsplit=1)[1] for line in reversed(said)] == [
        "Which shelf? Scan the shelf's label (or choose the shelf) first, then its books.",
        "Counting shelf A1: scan its books.",
        "“Book 1” (B001) was counted on this shelf already: a book counts once.",
        "Counted: “Book 2” (B002).",
        "“Book 3” (B003) was on loan to 小明 (3-1, S1): it is on the shelf, so it is returned"
        " now (found in the stocktake).",
        "“Book 6” (B006) belongs on shelf B2: it is counted; put it back there.",
        "ZZ-9 is not a code of this library: put the book aside. The result lists it.",
    ]
    assert tones(page, 11) == REFUSED + INFO + INFO + OK + REFUSED + REFUSED + REFUSED
    expect(field).to_be_focused()
    expect(field).to_have_value("")

    # The progress follows each scan, the kiosk's and the desk's together.
    expect(running).to_have_text("Shelf A1: 3 of 5 copies counted. 4 scans at the desk so far.")
    shelves = page.get_by_role("region", name="Shelf by shelf").get_by_role("table")
    assert rows_of(shelves)[0] == ["A1", "3 / 5", "0", "60%", "2", "1"]
    takers = page.get_by_role("region", name="Kiosk by kiosk").get_by_role("table")
    assert [row[:2] for row in rows_of(takers)] == [["kiosk-a", "1"], ["The office's desk", "4"]]

    # A shelf without a label, chosen from the list; the cursor goes back to the scan field.
    page.get_by_label("Or choose the shelf").select_option("B2")
    page.get_by_role("button", name="Count this shelf").click()
    expect(answer).to_have_text("Counting shelf B2: scan its books.")
    expect(field).to_be_focused()
    scan(page, "B007")
    expect(answer).to_have_text("Counted: “Book 7” (B007).")
    expect(running).to_have_text("Shelf B2: 2 of 5 copies counted. 5 scans at the desk so far.")

    database = office.database()
    with database.read() as session:
        loan = session.scalar(select(Loan).where(Loan.copy_code == "B003"))
        assert loan.returned_at is not None and loan.found_in_stocktake == 1
    database.close()

    page.goto(f"{office.url}/language/zh_CN?next=/stocktake")
    # As at the desk: the scanner is used once the cursor is in the field (keys typed before
    # the page has put it there go nowhere).
    expect(page.get_by_label("先扫描书架标签，再扫描架上的书")).to_be_focused()
    scan(page, "SHELF-B2", "B008")
    expect(page.get_by_role("status")).to_have_text("已清点：《Book 8》（B008）。")


def test_a_stocktake_of_chosen_shelves_and_what_is_refused(
    signed_in: Page, office_server: Office, tmp_path: Path
) -> None:
    page, office = signed_in, office_server
    shelve(office, tmp_path)
    page.goto(f"{office.url}/stocktake")
    start = page.get_by_role("form", name="Start a stocktake")
    start.get_by_label("Only these classifications").fill("Z9")  # no book has such a mark
    start.get_by_role("button", name="Start the stocktake").click()
    expect(page.get_by_role("alert")).to_have_text(
        "No book in the library is on those shelves or of those classifications."
    )
    expect(page.get_by_role("form", name="Start a stocktake")).to_be_visible()  # nothing started

    start = page.get_by_role("form", name="Start a stocktake")
    start.get_by_label("Only these classifications").fill("")
    start.get_by_label("B2 (5)").check()
    start.get_by_role("button", name="Start the stocktake").click()
    expect(page.get_by_text("Shelves: B2.")).to_be_visible()
    shelves = page.get_by_role("region", name="Shelf by shelf").get_by_role("table")
    assert rows_of(shelves) == [["B2", "0 / 5", "0", "0%", "5", "0"]]

    # Closing without saying what becomes of the copies nobody saw is not possible.
    page.goto(f"{office.url}/stocktake/close")
    expect(page.get_by_role("alert")).to_have_text("Choose what becomes of the copies nobody saw.")
    page.goto(f"{office.url}/stocktake/99")
    expect(page.get_by_role("alert")).to_have_text("There is no stocktake number 99.")


def test_shelf_labels_from_the_stocktake_page_and_the_print_page(
    signed_in: Page, office_server: Office, tmp_path: Path
) -> None:
    page, office = signed_in, office_server
    shelve(office, tmp_path)
    (tmp_path / "children.csv").write_text("条码,书名,书架\nC001,小王子,儿童1\n", encoding="utf-8")
    office.ok("import-books", str(tmp_path / "children.csv"))
    office.ok("stocktake-start", "--shelf", "A1", "--shelf", "儿童1")

    page.goto(f"{office.url}/stocktake")
    labels = page.get_by_role("form", name="Shelf labels")
    expect(labels.get_by_label("A1")).to_be_checked()  # the stocktake's shelves
    expect(labels.get_by_label("B2")).to_have_count(0)
    pdf = download(page, "Print shelf labels", tmp_path)
    assert barcodes_in(pdf) == sorted(["SHELF-A1", shelf_label("儿童1")])
    assert "儿童1" in text_of(pdf)

    go_to(page, "Print")
    shelves = page.get_by_role("form", name="Shelf labels")
    pdf = download(page, "Print shelf labels", tmp_path)  # every shelf a book is on
    assert barcodes_in(pdf) == sorted(["SHELF-A1", "SHELF-B2", shelf_label("儿童1")])
    shelves.get_by_label("These shelves, one a line").check()
    shelves.get_by_label("Shelves", exact=True).fill("b2\nC9")
    shelves.get_by_role("button", name="Print shelf labels").click()
    expect(page.get_by_role("alert")).to_have_text(
        "No book is on the shelf C9: check the shelves' names."
    )
    shelves = page.get_by_role("form", name="Shelf labels")
    shelves.get_by_label("Shelves", exact=True).fill("b2")
    pdf = download(page, "Print shelf labels", tmp_path)
    assert barcodes_in(pdf) == ["SHELF-B2"]
