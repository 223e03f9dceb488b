"""The stocktake on the touchscreen: the real app rendered headless (SDL2 offscreen + Mesa), a
small librarian counting shelves on a real SQLite file; what the screen says after each scan.

The stocktake reaches the kiosk as the office's change (sync.replica), as it does in the field.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from kiosk.engine import Kiosk, State
from kiosk.models import Copy, CopyStatus
from kiosk.settings import LANGUAGE
from kiosk.store import Store, set_setting
from tests.conftest import HELPER_PIN, FakeClock
from tests.test_stocktake import office_says, shelved  # noqa: F401 - the shelved library
from tests.test_ui import kiosk_fixture, open_menu, scan, ui_fixture  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("shelved")  # the library's books on shelves A1, B2, 儿童1


def shelf_buttons(ui) -> dict[str, str]:
    """The shelves to choose from, by name: what each button says."""
    from kiosk.ui.screens.stocktake import ShelfButton

    return {b.shelf: b.text for b in ui.buttons() if isinstance(b, ShelfButton)}


def counts(ui) -> list[str]:
    """The big running counts: on this shelf, in all."""
    screen = ui.app.screen("stocktake")
    return [w.text for w in screen.walk() if type(w).__name__ == "Label" and "/" in w.text]


def test_the_menu_offers_the_stocktake_only_while_the_office_has_one(
    ui, kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    open_menu(ui, clock)
    assert "现在没有在盘点。" in ui.text()
    assert not [b for b in ui.buttons() if b.text == "盘点"]
    ui.press("退出菜单")
    office_says(store)  # the next sync brought the office's stocktake
    open_menu(ui, clock)
    assert "现在没有在盘点。" not in ui.text()
    ui.press("盘点")
    assert ui.screen == "stocktake"
    assert kiosk.state == State.STOCKTAKE


def test_the_menu_s_stocktake_button_follows_a_sync_while_the_menu_is_open(
    ui, kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    open_menu(ui, clock)
    assert not [b for b in ui.buttons() if b.text == "盘点"]
    office_says(store)  # the background sync brings the office's stocktake
    clock.advance(seconds=3)
    ui.tick()
    assert ui.screen == "supervisor"
    assert "现在没有在盘点。" not in ui.text()
    assert [b.text for b in ui.buttons() if b.text == "盘点"] == ["盘点"]
    office_says(store, open_=False)  # and then its close
    clock.advance(seconds=3)
    ui.tick()
    assert "现在没有在盘点。" in ui.text()
    assert not [b for b in ui.buttons() if b.text == "盘点"]


def test_a_small_librarian_counts_shelf_after_shelf(
    ui, kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    office_says(store)
    open_menu(ui, clock)
    ui.press("盘点")
    text = ui.text()
    assert "盘点：Autumn 2026" in text
    assert "先选书架：扫描标签或点左边。" in text
    assert shelf_buttons(ui) == {"A1": "A1\n0 / 3", "B2": "B2\n0 / 2", "儿童1": "儿童1\n0 / 1"}
    assert counts(ui) == ["0 / 6"]  # in all; no shelf yet

    scan(ui, clock, "B001")  # a book before its shelf: not counted, and said so on this screen
    assert ui.screen == "stocktake"
    assert "这是哪个书架？" in ui.text()
    assert counts(ui) == ["0 / 6"]

    ui.press("A1")
    assert "正在数书架A1" in ui.text()
    assert counts(ui) == ["0 / 3", "0 / 6"]
    scan(ui, clock, "B001")
    assert "已数：《Book 1》" in ui.text()
    assert counts(ui) == ["1 / 3", "1 / 6"]
    assert ui.app.tone == "good"
    scan(ui, clock, "B001")
    scan(ui, clock, "b001")  # scanned twice: counted once
    assert "已经数过了" in ui.text()
    assert "《Book 1》之前数过了。一本书只算一次。" in ui.text()
    assert counts(ui) == ["1 / 3", "1 / 6"]

    scan(ui, clock, "B004")  # belongs on B2; counted here, where it is
    text = ui.text()
    assert "这本书要放在书架B2" in text
    assert "《Book 4》已经数上了。请把它放到那里。" in text
    word = ui.app.screen("stocktake")
    assert f"{word.headline} {word.body}".count("B2") == 1  # the shelf said once
    assert counts(ui) == ["2 / 3", "2 / 6"]
    assert ui.app.tone == "wait"  # amber, as the light: look at the screen

    scan(ui, clock, "SHELF-B2")  # the next shelf by its label
    assert "正在数书架B2" in ui.text()
    assert counts(ui) == ["0 / 2", "2 / 6"]
    assert shelf_buttons(ui)["A1"] == "A1\n2 / 3"  # what was counted there stays in sight
    scan(ui, clock, "B005")
    assert counts(ui) == ["1 / 2", "3 / 6"]
    assert shelf_buttons(ui)["B2"] == "B2\n1 / 2"

    # The recent scans, newest first, under the word.
    lines = ui.app.screen("stocktake").lines
    assert lines[:3] == ["✔ 《Book 5》", "书架B2", "★ 《Book 4》：这本书要放在书架B2"]

    ui.press("回到菜单")
    assert ui.screen == "supervisor"
    ui.press("盘点")  # later: the counts go on where they were
    assert shelf_buttons(ui) == {"A1": "A1\n2 / 3", "B2": "B2\n1 / 2", "儿童1": "儿童1\n0 / 1"}
    assert counts(ui) == ["3 / 6"]


def test_each_book_to_look_at_gets_its_word_in_english(
    ui, kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    with store.write() as db:
        set_setting(db, LANGUAGE, "en")
        db.execute(update(Copy).where(Copy.barcode == "B002").values(status=CopyStatus.LOST))
        db.execute(update(Copy).where(Copy.barcode == "B003").values(status=CopyStatus.WITHDRAWN))
    for code in ("S1", "B001"):  # 小明 borrows B001: back on its shelf without passing a kiosk
        clock.advance(3)
        kiosk.scan(code)
    kiosk.touch("done")
    office_says(store)
    ui.start_over(kiosk)  # the kiosk's language is English
    scan(ui, clock, "H1")
    for digit in HELPER_PIN:
        ui.press(digit)
    ui.press("OK")
    ui.press("Stocktake")
    assert "Stocktake: Autumn 2026" in ui.text()
    ui.press("A1")
    assert "Counting shelf A1" in ui.text()

    said = {}
    for code in ("B001", "B002", "B003", "X-404", "S2"):
        scan(ui, clock, code)
        screen = ui.app.screen("stocktake")
        said[code] = (screen.headline, screen.body)
        assert screen.headline in ui.text() and screen.body in ui.text()
    assert said == {
        "B001": (
            "This book was lent out",
            '"Book 1" is here on the shelf, so it is returned now.',
        ),
        "B002": (
            "A lost book is found!",
            'The library thought "Book 2" was lost. It is counted now.',
        ),
        "B003": (
            "This book left the library",
            '"Book 3" should not be on a shelf. Please give it to the librarian.',
        ),
        "X-404": (
            "The library does not know this code",
            "X-404 is not a library code. Put the book aside for the librarian.",
        ),
        "S2": ("That is a library card", "Scan the books on the shelf, not cards."),
    }
    assert counts(ui) == ["3 / 3", "3 / 6"]  # the card and the unknown code are no books
    assert ui.screen == "stocktake"  # a card opens no session while counting


def test_the_office_closing_the_stocktake_sends_the_helper_back_to_the_menu(
    ui, kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    office_says(store)
    open_menu(ui, clock)
    ui.press("盘点")
    ui.press("A1")
    scan(ui, clock, "B001")
    office_says(store, open_=False)  # a sync came in meanwhile
    scan(ui, clock, "B002")
    assert ui.screen == "message"
    assert "盘点结束了" in ui.text()
    ui.app.dismiss()
    assert ui.screen == "supervisor"
    assert "现在没有在盘点。" in ui.text()
    assert not [b for b in ui.buttons() if b.text == "盘点"]


def outside(ui, size: tuple[int, int]) -> list[str]:
    """The texts drawn (partly) off the window: lists that scroll are left out."""
    from kivy.uix.label import Label
    from kivy.uix.scrollview import ScrollView

    found = []

    def walk(widget) -> None:
        if widget.opacity == 0 or isinstance(widget, ScrollView):
            return
        if isinstance(widget, Label) and widget.text.strip():
            left, bottom = widget.to_window(widget.x, widget.y)
            right, top = widget.to_window(widget.right, widget.top)
            if left < 0 or bottom < 0 or right > size[0] + 0.5 or top > size[1] + 0.5:
                found.append(widget.text)
        for child in widget.children:
            walk(child)

    walk(ui.app.screen(ui.screen))
    return found


@pytest.mark.parametrize("size", [(800, 480), (1024, 600), (1280, 800)])
def test_the_counts_and_the_word_fit_on_each_display(
    ui, kiosk: Kiosk, clock: FakeClock, store: Store, size: tuple[int, int]
) -> None:
    office_says(store)
    open_menu(ui, clock)
    assert outside(ui, ui.window.size) == []  # the menu with its stocktake button
    ui.press("盘点")
    ui.press("A1")
    scan(ui, clock, "B001")
    scan(ui, clock, "X-4040404040")  # the longest word: an unknown code
    ui.resize(size)
    try:
        assert ui.app.screen("stocktake").headline in ui.text()
        assert outside(ui, size) == []
    finally:
        ui.resize((800, 480))
