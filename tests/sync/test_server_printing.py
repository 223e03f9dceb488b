"""Library cards and barcode labels from `library-server print-cards` and `print-labels`, checked
as printed: the pages rendered, every barcode read back by a barcode reader, position by
position, and the Chinese drawn."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import update

from kiosk.codes import shelf_label, shelf_of_label
from sync.server.db import database_url
from sync.server.models import Copy, Patron
from tests.pdfs import barcodes_in, barcodes_in_boxes, ink, render, text_of
from tests.sync.support import Office

# The label sheets as their makers publish them (mm): columns, rows, label width and height,
# top and left margins, horizontal and vertical pitch. Not taken from the code under test.
AVERY = {
    "L7651": (5, 13, 38.1, 21.2, 10.7, 4.75, 40.6, 21.2),
    "L7654": (4, 10, 45.7, 25.4, 21.5, 9.7, 48.3, 25.4),
    "L7160": (3, 7, 63.5, 38.1, 15.15, 7.25, 66.04, 38.1),
}
CARD = (85.6, 54.0)  # a bank card's size, ten to an A4 page: 2 across, 5 down, centred


def label_boxes(columns, rows, width, height, top, left, across, down) -> list:
    return [
        (left + column * across, top + row * down, width, height)
        for row in range(rows)
        for column in range(columns)
    ]


def card_boxes() -> list:
    width, height = CARD
    left, top = (210 - 2 * width) / 2, (297 - 5 * height) / 2
    return [
        (left + column * width, top + row * height, width, height)
        for row in range(5)
        for column in range(2)
    ]


@pytest.fixture
def office(tmp_path: Path, library) -> Office:
    """The office's database with the conftest library (added last term), used through its
    commands."""
    office = library(tmp_path / "office", database_url(tmp_path / "office", None))
    database = office.database()
    with database.write() as session:
        for table in (Copy, Patron):
            session.execute(update(table).values(added_on=dt.date(2025, 9, 1)))
    database.close()
    return office


def add_books(office: Office, tmp_path: Path, count: int, prefix: str = "N") -> list[str]:
    barcodes = [f"{prefix}{n:04d}" for n in range(1, count + 1)]
    rows = "".join(
        f"{b},,新书{n}号 哈利·波特,作者,I287.{n},{n % 9}-A\n" for n, b in enumerate(barcodes)
    )
    (tmp_path / "new.csv").write_text("条码,ISBN,书名,作者,分类号,书架\n" + rows, encoding="utf-8")
    office.ok("import-books", str(tmp_path / "new.csv"))
    return barcodes


def test_labels_for_new_copies_start_at_the_chosen_position(office: Office, tmp_path: Path):
    """70 new copies from position 60 of a part-used L7651 sheet: positions 1-59 stay blank,
    the first six labels fill 60-65, the other 64 the next sheet, in the order added."""
    new = add_books(office, tmp_path, 70)
    pdf = tmp_path / "labels.pdf"
    today = dt.date.today().isoformat()
    out = office.ok("print-labels", "--added-since", today, "--start", "60", "-o", str(pdf))
    assert "70 labels" in out
    first, second = barcodes_in_boxes(pdf, label_boxes(*AVERY["L7651"]))
    assert first == [None] * 59 + new[:6]
    assert second == [*new[6:], None]
    assert sorted(barcodes_in(pdf)) == sorted(new)  # not one of last term's books


def test_labels_of_chosen_copies_on_each_sheet_layout(office: Office, tmp_path: Path) -> None:
    chosen = ["B003", "b001", "REF1", "B010"]  # as scanned: any letter case, in this order
    for name, sheet in AVERY.items():
        pdf = tmp_path / f"{name}.pdf"
        office.ok("print-labels", "--copies", *chosen, "--layout", name, "-o", str(pdf))
        (page,) = barcodes_in_boxes(pdf, label_boxes(*sheet))
        assert page[:4] == ["B003", "B001", "REF1", "B010"], name
        assert set(page[4:]) == {None}, name


def test_labels_on_a_grid_measured_by_the_librarian(office: Office, tmp_path: Path) -> None:
    grid = (2, 4, 70.0, 30.0, 20.0, 30.0, 80.0, 40.0)  # 2 x 4 labels of 70 x 30 mm
    pdf = tmp_path / "custom.pdf"
    office.ok("print-labels", "--copies", "B001", "B002", "B003", "--start", "4",
              "--layout", "2x4,70x30,20,30,80,40", "-o", str(pdf))  # fmt: skip
    (page,) = barcodes_in_boxes(pdf, label_boxes(*grid))
    assert page == [None, None, None, "B001", "B002", "B003", None, None]

    too_wide = "3x4,70x30,20,30,80,40"
    code, _out, err = office.command(
        "print-labels", "--copies", "B001", "--layout", too_wide, "-o", str(pdf)
    )
    assert code == 1 and "run off the A4 page" in err


def test_label_text_is_drawn_in_chinese(office: Office, tmp_path: Path) -> None:
    """The short title and the shelf mark are on the label, in a font every reader has."""
    new = add_books(office, tmp_path, 1)
    pdf = tmp_path / "one.pdf"
    office.ok("print-labels", "--copies", new[0], "-o", str(pdf))
    text = text_of(pdf)
    assert "新书0号" in text and "I287.0" in text and "0-A" in text
    (page,) = render(pdf)  # every character found its glyphs (checked by render)
    left, top, width, height = label_boxes(*AVERY["L7651"])[0]
    assert ink(page, (left, top, width, height / 4)) > 0.02  # the title line is drawn


def test_a_barcode_that_is_not_there_prints_nothing(office: Office, tmp_path: Path) -> None:
    pdf = tmp_path / "labels.pdf"
    code, _out, err = office.command("print-labels", "--copies", "B001", "NOPE", "-o", str(pdf))
    assert code == 1 and "No copy has barcode NOPE" in err
    assert not pdf.exists()
    code, _out, err = office.command("print-labels", "--added-since", "2999-01-01", "-o", str(pdf))
    assert code == 1 and "No label to print" in err
    code, _out, err = office.command("print-labels", "--copies", "B001", "--start", "66",
                                     "-o", str(pdf))  # fmt: skip
    assert code == 1 and "between 1 and 65" in err
    assert not pdf.exists()


def test_calibration_sheet_numbers_every_position(office: Office, tmp_path: Path) -> None:
    pdf = tmp_path / "calibration.pdf"
    office.ok("print-labels", "--calibration", "--layout", "L7160", "-o", str(pdf))
    numbers = [int(n) for n in text_of(pdf).split() if n.isdigit()]
    assert set(range(1, 22)) <= set(numbers)
    (page,) = render(pdf)
    for box in label_boxes(*AVERY["L7160"]):
        assert ink(page, box) > 0.001  # each label's outline and number


def test_library_cards_of_a_class(office: Office, tmp_path: Path) -> None:
    """A class's cards, ten to a page, each where the cut marks say: the card number's barcode,
    the name, the class and the school."""
    rows = "".join(f"C{n:03d},学生{n},4-2,4\n" for n in range(1, 13))
    (tmp_path / "class.csv").write_text("卡号,姓名,班级,年级\n" + rows, encoding="utf-8")
    office.ok("import-students", str(tmp_path / "class.csv"))
    pdf = tmp_path / "cards.pdf"
    out = office.ok("print-cards", "--class", "4-2", "--school", "阳光小学", "-o", str(pdf))
    assert "12 library cards on 2 A4 sheets" in out
    first, second = barcodes_in_boxes(pdf, card_boxes())
    cards = [f"C{n:03d}" for n in range(1, 13)]
    assert first == cards[:10]
    assert second == cards[10:] + [None] * 8
    text = text_of(pdf)
    assert "阳光小学" in text and "学生1" in text and "4-2" in text and "借书证" in text

    # The school's name is kept; other classes, chosen cards and removed students.
    again = tmp_path / "again.pdf"
    office.ok("print-cards", "--class", "3-1", "-o", str(again))
    assert barcodes_in(again) == ["S1", "S2"]
    assert "阳光小学" in text_of(again)
    office.ok("print-cards", "--cards", "t1", "S5", "-o", str(again))
    assert barcodes_in_boxes(again, card_boxes())[0][:3] == ["T1", "S5", None]
    code, _out, err = office.command("print-cards", "--cards", "GONE", "-o", str(again))
    assert code == 1 and "No active student or teacher has card GONE" in err


def test_cards_of_new_students_only(office: Office, tmp_path: Path) -> None:
    (tmp_path / "new.csv").write_text("card,name,class\nNEW1,新同学,3-2\n", encoding="utf-8")
    office.ok("import-students", str(tmp_path / "new.csv"))
    pdf = tmp_path / "new.pdf"
    office.ok("print-cards", "--added-since", dt.date.today().isoformat(), "-o", str(pdf))
    assert barcodes_in(pdf) == ["NEW1"]


def test_shelf_labels_read_back_as_their_shelves(office: Office, tmp_path: Path) -> None:
    """A label a quarter of a page high for every shelf: the barcode a scanner reads names the
    shelf to the kiosk (kiosk.codes.shelf_of_label), and its name is printed big above it."""
    add_books(office, tmp_path, 6)  # shelves 0-A to 5-A
    (tmp_path / "children.csv").write_text(
        "条码,书名,书架\nC001,小王子,儿童1\nC002,夏洛的网,儿童1\n", encoding="utf-8"
    )
    office.ok("import-books", str(tmp_path / "children.csv"))
    pdf = tmp_path / "shelves.pdf"
    assert "7 shelf labels on 2 A4 sheets" in office.ok("print-shelf-labels", "-o", str(pdf))
    strips = [(0, n * 297 / 4, 210, 297 / 4) for n in range(4)]
    first, second = barcodes_in_boxes(pdf, strips)
    assert first == ["SHELF-0-A", "SHELF-1-A", "SHELF-2-A", "SHELF-3-A"]
    assert second == ["SHELF-4-A", "SHELF-5-A", shelf_label("儿童1"), None]
    assert shelf_of_label(second[2]) == "儿童1"
    text = text_of(pdf)
    assert "儿童1" in text and "3-A" in text

    office.ok("print-shelf-labels", "--shelf", "儿童1", "--shelf", "3-a", "-o", str(pdf))
    assert barcodes_in(pdf) == sorted([shelf_label("儿童1"), "SHELF-3-A"])


def test_a_shelf_no_book_is_on_gets_no_label(office: Office, tmp_path: Path) -> None:
    pdf = tmp_path / "shelves.pdf"
    code, _out, err = office.command("print-shelf-labels", "-o", str(pdf))
    assert code == 1 and "no copy is on a shelf yet" in err  # the conftest library has none
    add_books(office, tmp_path, 2)
    code, _out, err = office.command("print-shelf-labels", "--shelf", "9-Z", "-o", str(pdf))
    assert code == 1 and "No book is on the shelf 9-Z" in err
    assert not pdf.exists()
