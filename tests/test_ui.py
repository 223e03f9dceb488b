"""The touchscreen app, driven headless (SDL2 offscreen + Mesa) as students and helpers use it.

One real KioskApp per test process (Kivy has one window); each test shows it a fresh library
on a real SQLite file, feeds it scans and finger touches, and reads what the screen says.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from kiosk import config
from kiosk.engine import Kiosk
from kiosk.headless import Input, Scan
from kiosk.models import Copy, CopyStatus, Event, Setting
from kiosk.outcome import Kind, Light, Outcome
from kiosk.settings import ENROLLED, LANGUAGE, SETUP_DONE
from kiosk.store import Store, get_setting, set_setting
from kiosk.ui.driver import headless_environment
from kiosk.ui.fonts import FontNotFound, find_cjk_font
from tests.conftest import HELPER_PIN, TUESDAY_LUNCH, TZ, FakeClock, require

if TYPE_CHECKING:
    from kiosk.ui.driver import Driver

# Before anything imports Kivy: no display, no console log, and SDL2 renders offscreen.
headless_environment()


def require_font() -> None:
    try:
        find_cjk_font()
        found = True
    except FontNotFound:
        found = False
    require("fonts-wqy-microhei", found, "Chinese text on the screen")


@pytest.fixture(name="kiosk")
def kiosk_fixture(store: Store, data_dir: Path, clock: FakeClock) -> Kiosk:
    """The kiosk of conftest, with its first-run questions answered."""
    with store.write() as db:
        set_setting(db, SETUP_DONE, "2026-11-01")
    return Kiosk(store, config.load(data_dir).kiosk, clock=clock, tz=TZ)


@pytest.fixture(name="ui")
def ui_fixture(kiosk: Kiosk) -> Iterator[Driver]:
    """The app (one per process), showing this test's kiosk."""
    require_font()
    from kiosk.ui.driver import Driver

    driver = Driver.shared(kiosk, sync_now=None)
    yield driver
    driver.app.listeners.clear()


def scan(ui: Driver, clock: FakeClock, code: str) -> None:
    clock.advance(3)  # a child scans a little apart (the same code within 2 s is a repeat)
    ui.scan(code)


def borrow_earlier(
    kiosk: Kiosk, clock: FakeClock, when: dt.datetime, card: str, *books: str
) -> None:
    """A visit on another day (the clock goes there and back)."""
    now = clock.now
    clock.set(when)
    kiosk.scan(card)
    for book in books:
        clock.advance(3)
        kiosk.scan(book)
    kiosk.touch("done")
    clock.set(now)


def everything_shown(ui: Driver) -> str:
    """The text of every label of every screen, shown or not (to prove something is gone)."""
    from kivy.uix.label import Label

    texts = []
    for screen in ui.app.root.ids.screens.screens:
        texts += [w.text for w in screen.walk() if isinstance(w, Label)]
    return "\n".join(texts)


# -- idle and language -----------------------------------------------------------------------


def test_idle_screen_invites_a_card_and_shows_the_library(ui, kiosk, clock) -> None:
    borrow_earlier(kiosk, clock, TUESDAY_LUNCH - dt.timedelta(days=1), "S1", "B004")
    ui.start_over(kiosk)
    assert ui.screen == "idle"
    text = ui.text()
    assert "请扫描你的借书卡" in text
    assert "还书？直接扫描书就行，不用刷卡。" in text
    assert "新书上架" in text and "本月热门" in text and "本周借书的同学" in text
    assert "《Book 4》 1次" in text
    # How near each class is to the school's target: everyone borrows every week.
    assert "3-1班：2人中1人借了" in text and "5-2班：1人中0人借了" in text
    assert ui.app.tone == "good"


def test_language_switch_lasts_until_the_session_ends(ui, clock) -> None:
    ui.press("English")
    assert "Scan your library card" in ui.text()
    scan(ui, clock, "S1")
    assert "Hello, 小明!" in ui.text()
    ui.press("Done")
    ui.app.dismiss()
    ui.frames()
    assert "请扫描你的借书卡" in ui.text()


def test_a_language_switched_and_left_alone_goes_back(ui, clock) -> None:
    ui.press("English")
    clock.advance(29)
    ui.tick()
    assert "Scan your library card" in ui.text()
    clock.advance(2)
    ui.tick()
    assert "请扫描你的借书卡" in ui.text()


# -- a student's session ---------------------------------------------------------------------


def test_session_shows_name_class_loans_and_what_may_be_borrowed(ui, clock) -> None:
    scan(ui, clock, "S1")
    assert ui.screen == "session"
    text = ui.text()
    assert "你好，小明！" in text and "3-1班" in text
    assert "你还可以借2本书。" in text
    assert "你现在没有借书。" in text

    scan(ui, clock, "B001")
    text = ui.text()
    assert "✔ 《Book 1》" in text
    assert "12月9日前还" in text  # 14 days on is 8 December, a closed day
    assert "请在12月9日 星期三前还" in text
    assert "你还可以借1本书。" in text
    assert ui.app.tone == "good"


def test_overdue_loans_are_red_with_the_days_late(ui, kiosk, clock) -> None:
    borrow_earlier(kiosk, clock, TUESDAY_LUNCH - dt.timedelta(days=20), "S1", "B001")
    scan(ui, clock, "S1")
    rows = [w for w in ui.widgets() if type(w).__name__ == "LoanRow"]
    assert [(r.title, r.due, r.tone) for r in rows] == [("《Book 1》", "✘ 晚了6天", "bad")]
    scan(ui, clock, "B001")  # return or keep? the question says it is late too
    assert ui.screen == "choice"
    text = ui.text()
    assert "✘ 晚了6天" in text
    # A late book is brought back, not kept longer: the button is not there.
    assert "这本书超过还书日期了：请把它还了。" in text
    assert "继续借" not in text
    assert [b.text for b in ui.buttons()] == ["↩ 还书", "← 我的书"]


def test_blocked_student_is_told_why_on_the_session_screen(ui, kiosk, clock) -> None:
    borrow_earlier(kiosk, clock, TUESDAY_LUNCH - dt.timedelta(days=28), "S1", "B001")
    scan(ui, clock, "S1")
    text = ui.text()
    assert "你有一本书超过日期了：还了以后才能再借。" in text
    assert "你还可以借" not in text and "现在扫描你想借的书" not in text
    assert "想还书，就在这里扫描它。" in text


def test_not_this_book_takes_the_last_loan_back_for_a_few_seconds(ui, kiosk, clock) -> None:
    scan(ui, clock, "S1")
    scan(ui, clock, "B001")
    ui.press("不借这本")
    assert "《Book 1》不借了。" in ui.text()
    assert "✔ 《Book 1》" not in ui.text()
    with kiosk.store.read() as db:
        assert db.scalar(select(Copy.status).where(Copy.barcode == "B001")) == "available"

    scan(ui, clock, "B002")
    clock.advance(11)
    ui.tick()
    assert "不借这本" not in ui.text()  # too late: the button has gone


def test_done_shows_the_receipt_then_the_idle_screen(ui, clock) -> None:
    scan(ui, clock, "S1")
    scan(ui, clock, "B001")
    ui.press("完成")
    assert ui.screen == "receipt"
    text = ui.text()
    assert "再见，小明！" in text
    assert "你借了1本书：" in text
    assert "《Book 1》：请在12月9日 星期三前还" in text
    clock.advance(4)
    ui.tick()
    assert ui.screen == "idle"
    assert "小明" not in everything_shown(ui)


def test_a_queue_of_children_leaves_nothing_bound_behind(ui, clock) -> None:
    """The kiosk runs all day on a Pi with 1 GB: each child's list of books must not leave
    anything behind in the app (Kivy's list bound its bar again each time it grew)."""
    loans = ui.app.screen("session").ids.loans
    for _child in range(5):
        scan(ui, clock, "S1")
        scan(ui, clock, "B001")
        ui.press("完成")
        clock.advance(4)
        ui.tick()
        scan(ui, clock, "B001")  # brought back the next day
        assert "谢谢！" in ui.text()
        clock.advance(4)
        ui.tick()
        assert ui.screen == "idle"
    assert len(loans.parent.get_property_observers("bar_color")) <= 1


def test_each_child_sees_only_their_own_books_on_the_rows_the_last_child_left(
    ui, kiosk, clock
) -> None:
    """The rows of the list are emptied as a child leaves and filled again for the next
    child's books (no new rows to build while a child waits): each shows only the books of
    the child at the kiosk, with their own dates and colours."""
    borrow_earlier(kiosk, clock, TUESDAY_LUNCH - dt.timedelta(days=20), "S2", "B003")

    def rows() -> list[tuple[str, str, str]]:
        listed = reversed(ui.app.screen("session").ids.loans.children)
        return [(r.title, r.due, r.tone) for r in listed if type(r).__name__ == "LoanRow"]

    scan(ui, clock, "S1")
    scan(ui, clock, "B001")
    scan(ui, clock, "B002")  # the last book 小明 may take: the receipt, then idle
    clock.advance(4)
    ui.tick()
    assert ui.screen == "idle"
    scan(ui, clock, "S2")
    assert rows() == [("《Book 3》", "✘ 晚了6天", "bad")]
    shown = everything_shown(ui)
    assert "《Book 1》" not in shown and "《Book 2》" not in shown
    ui.press("完成")
    clock.advance(4)
    ui.tick()
    scan(ui, clock, "S1")
    assert rows() == [("《Book 1》", "12月9日前还", "info"), ("《Book 2》", "12月9日前还", "info")]
    assert "《Book 3》" not in everything_shown(ui)
    scan(ui, clock, "B001")  # brought back: 小明 has one book left, on one row
    ui.press("还书")
    assert rows() == [("《Book 2》", "12月9日前还", "info")]


def test_a_button_that_cannot_be_touched_yet_draws_no_theme_image(ui, clock) -> None:
    """Not this book cannot be touched before a book is lent: the kiosk hides it, and draws its
    buttons in its own colours, so Kivy's picture of a disabled button (a 512x512 atlas of its
    theme, 1 MB of the Pi's memory from the first child on) must not be loaded for it."""
    from kivy.graphics import BorderImage
    from kivy.uix.button import Button

    scan(ui, clock, "S1")
    greyed = [w for w in ui.app.screen("session").walk() if isinstance(w, Button) and w.disabled]
    assert greyed, "Not this book is greyed out until a book is lent"
    for button in greyed:
        images = [i for i in button.canvas.children if isinstance(i, BorderImage)]
        assert not any(image.source for image in images), button.text


def test_no_label_asks_for_a_bold_face_the_font_does_not_have(ui) -> None:
    """The kiosk draws with one font file, which has no bold face: a label asking for bold
    is drawn with the same pixels, but Kivy opens the font once more at its size for it (a
    quarter of a megabyte each on the Pi, six sizes over the screens)."""
    from kivy.uix.label import Label

    from kiosk.ui.screens import SCREENS

    for name in SCREENS:
        bold = [w.text for w in ui.app.screen(name).walk() if isinstance(w, Label) and w.bold]
        assert not bold, (name, bold)


def test_a_child_who_walks_away_after_a_book_gets_the_receipt_then_idle(ui, clock) -> None:
    scan(ui, clock, "S1")
    scan(ui, clock, "B001")
    clock.advance(2)
    ui.tick()
    assert ui.screen == "session" and ui.app.countdown == ""  # no hurry yet
    clock.advance(3)
    ui.tick()  # three seconds left of the quiet spell: counted down
    assert "3秒后结束。还要借？接着扫描就行。" in ui.text()
    clock.advance(3)
    ui.tick()
    assert ui.screen == "receipt"
    assert "再见，小明！" in ui.text() and "《Book 1》：请在12月9日 星期三前还" in ui.text()
    clock.advance(4)
    ui.tick()
    assert ui.screen == "idle"
    shown = everything_shown(ui)
    assert "小明" not in shown and "《Book 1》：" not in shown


def test_the_last_book_a_child_may_take_ends_the_session_with_its_receipt(ui, clock) -> None:
    scan(ui, clock, "S1")
    scan(ui, clock, "B001")
    scan(ui, clock, "B002")
    assert ui.screen == "receipt"
    assert "你借了2本书：" in ui.text()


def test_idle_timeout_without_a_book_wipes_the_session_without_a_receipt(ui, clock) -> None:
    scan(ui, clock, "S1")
    clock.advance(31)
    ui.tick()
    assert ui.screen == "idle"
    assert "小明" not in everything_shown(ui)  # the next child sees nothing of the last one


def test_countdown_shows_and_a_touch_anywhere_keeps_the_session(ui, kiosk, clock) -> None:
    scan(ui, clock, "S1")
    clock.advance(25)
    ui.tick()
    assert "5秒后结束：扫描一本书，或者摸一下屏幕。" in ui.text()
    ui.touch_at(200, 200)  # on the list of books, not on a button
    assert kiosk.seconds_left() == pytest.approx(30)
    clock.advance(25)
    ui.tick()
    assert ui.screen == "session"


def test_another_card_starts_a_new_session_without_the_old_receipt(ui, clock) -> None:
    ui.press("English")  # the first child reads English
    scan(ui, clock, "S1")
    scan(ui, clock, "B001")
    scan(ui, clock, "S2")
    assert ui.screen == "session"
    assert "你好，小红！" in ui.text()  # the next child gets the kiosk's own language
    shown = everything_shown(ui)
    assert "《Book 1》：" not in shown and "✔ 《Book 1》" not in shown and "小明" not in shown


def test_a_card_while_the_last_receipt_shows_replaces_it(ui, clock) -> None:
    scan(ui, clock, "S1")
    scan(ui, clock, "B001")
    ui.press("完成")
    assert ui.screen == "receipt"
    scan(ui, clock, "S2")
    assert ui.screen == "session" and "你好，小红！" in ui.text()
    shown = everything_shown(ui)
    assert "《Book 1》：" not in shown and "✔ 《Book 1》" not in shown and "小明" not in shown


def test_return_or_renew_choice_has_two_big_buttons(ui, kiosk, clock) -> None:
    borrow_earlier(kiosk, clock, TUESDAY_LUNCH - dt.timedelta(days=1), "S1", "B001")
    scan(ui, clock, "S1")
    scan(ui, clock, "B001")
    assert ui.screen == "choice"
    assert "这本书你已经借了" in ui.text()
    ui.press("继续借")
    assert ui.screen == "message"
    assert "可以继续借了" in ui.text()
    assert "请在12月9日 星期三前还《Book 1》。" in ui.text()  # borrowed yesterday: the 9th
    ui.press("好的")
    assert ui.screen == "session"

    scan(ui, clock, "B001")
    ui.press("还书")
    assert "《Book 1》还好了。" in ui.text()
    clock.advance(4)
    ui.tick()
    assert ui.screen == "session"
    assert "你现在没有借书。" in ui.text()


# -- returns and refusals --------------------------------------------------------------------


def test_return_without_a_card_thanks_and_says_if_late(ui, kiosk, clock) -> None:
    borrow_earlier(kiosk, clock, TUESDAY_LUNCH - dt.timedelta(days=20), "S1", "B001")
    scan(ui, clock, "B001")
    assert ui.screen == "message"
    text = ui.text()
    assert "谢谢！" in text and "《Book 1》还好了。" in text
    assert "晚了6天。下次请按时还哦。" in text
    clock.advance(4)
    ui.tick()
    assert ui.screen == "idle"


@pytest.mark.parametrize(
    ("codes", "headline", "hint"),
    [
        (["S1", "REF1"], "这本书不能借回家", "请把它放回书架。"),
        (["NOPE"], "借书机不认识这个条码", "还是不行？请找小小图书管理员。"),
        (["B005"], "这本书没有被借走", "想借的话，请先扫描借书卡。"),
        (["GONE"], "你好，Left School！", "这张卡不能借书：请找图书管理员老师。"),
    ],
)
def test_refusals_say_why_and_what_to_do(ui, clock, codes, headline, hint) -> None:
    for code in codes:
        scan(ui, clock, code)
    text = ui.text()
    assert headline in text and hint in text
    assert "_" not in text.replace("_ _ _ _", "")  # never a bare reason code


def test_all_the_books_a_child_may_have_is_no_error_and_says_which_to_bring_back(
    ui, kiosk, clock
) -> None:
    borrow_earlier(kiosk, clock, TUESDAY_LUNCH - dt.timedelta(days=7), "S1", "B002")
    borrow_earlier(kiosk, clock, TUESDAY_LUNCH - dt.timedelta(days=1), "S1", "B001")
    scan(ui, clock, "S1")
    text = ui.text()
    assert "你已经借满了。" in text
    assert "想借新书，要先还《Book 2》：在这里扫描它。" in text  # due first
    assert "现在扫描你想借的书" not in text  # not both at once
    scan(ui, clock, "B003")
    assert ui.screen == "message"
    text = ui.text()
    assert "你已经借了2本书" in text
    assert "想借《Book 3》，要先还《Book 2》。" in text
    assert "这本先放回书架吧。" in text
    assert "✘" not in text
    assert ui.app.tone == "info"  # blue, not the red of an error
    ui.press("好的")
    ui.app.set_language("en")
    scan(ui, clock, "B004")
    text = ui.text()
    assert 'To borrow "Book 4", first bring back "Book 2".' in text
    assert "《" not in text  # English titles are not wrapped in Chinese marks


def test_a_refusal_goes_away_by_itself(ui, clock) -> None:
    scan(ui, clock, "NOPE")
    assert ui.screen == "message" and ui.app.tone == "bad"
    clock.advance(5)
    ui.tick()
    assert ui.screen == "idle" and ui.app.tone == "good"


def test_closed_screen_says_when_it_opens_and_for_whom(ui, clock) -> None:
    lights: list[Light | None] = []
    ui.app.listeners.append(lambda outcome: lights.append(outcome.light))
    clock.set(dt.datetime(2026, 11, 24, 15, 0, tzinfo=TZ))
    ui.tick()
    assert ui.screen == "closed"
    assert lights == [Light.CLOSED]  # the status lights turn amber with the screen
    text = ui.text()
    assert "图书馆现在关门了" in text
    assert "下次开门：明天13:30，3、4、5、6年级。" in text
    assert "今天" not in text  # nothing that reads as "open today" under "closed now"
    assert ui.app.tone == "wait"
    scan(ui, clock, "S1")
    assert "图书馆现在关门了。下次借书：明天13:30。" in ui.text()
    scan(ui, clock, "B003")
    assert "下次借书：明天13:30。" in ui.text()


def test_not_your_grades_turn_says_when_it_is(ui, clock) -> None:
    clock.set(dt.datetime(2026, 11, 30, 13, 45, tzinfo=TZ))  # week B: lunch for grades 3 and 4
    scan(ui, clock, "S5")
    assert "还没轮到你们年级。你们的借书时间：星期三17:00。" in ui.text()
    ui.press("完成")
    ui.app.set_language("en")
    scan(ui, clock, "S5")
    assert "It is not your grade's turn now. Your turn: on Wednesday at 17:00." in ui.text()


def test_events_waiting_long_for_the_office_turn_the_idle_band_amber(ui, kiosk, clock) -> None:
    lights: list[Light | None] = []
    ui.app.listeners.append(lambda outcome: lights.append(outcome.light))
    kiosk.settings = kiosk.settings.model_copy(update={"sync_warning_minutes": 5})
    with kiosk.store.write() as db:
        set_setting(db, ENROLLED, "http://office.example:8000")
    scan(ui, clock, "S1")
    ui.press("完成")  # two events now wait for the office
    ui.app.dismiss()
    clock.advance(minutes=6)
    ui.tick()
    assert ui.screen == "idle"
    assert ui.app.tone == "wait" and lights[-1] == Light.WAITING_TO_SYNC


# -- scans from other threads, and the keyboard --------------------------------------------------


def test_a_scan_while_a_message_shows_is_not_lost(ui, kiosk, clock) -> None:
    scan(ui, clock, "NOPE")
    assert ui.screen == "message"
    clock.advance(3)
    threading.Thread(target=ui.app.submit_scan, args=("S1",)).start()
    assert ui.wait_for(lambda: ui.screen == "session")
    assert "你好，小明！" in ui.text()


def test_scans_from_another_thread_are_all_handled_in_order(ui, kiosk, clock) -> None:
    def scanner() -> None:
        for code in ("S1", "B001", "B002"):
            ui.app.submit_scan(code)

    worker = threading.Thread(target=scanner)
    worker.start()
    worker.join()
    assert ui.wait_for(lambda: ui.screen == "receipt")  # two books: all a student may have
    assert "《Book 2》：请在12月9日 星期三前还" in ui.text()
    with kiosk.store.read() as db:
        types = [e.type for e in db.scalars(select(Event).order_by(Event.seq))]
    assert types == ["session_started", "checkout", "checkout", "session_ended"]


def test_a_scanned_book_is_lent_on_the_readers_thread_while_the_screen_draws_nothing(
    ui, kiosk, data_dir
) -> None:
    """As `kiosk run --scanner evdev` wires it: the real reader thread hands each code to the
    app, whose engine lends the book there and then, not when the screen next draws; the
    screen then shows the card and the book in order. (Stand-ins for what cannot exist here:
    the scanners are ReplayDevices sending real evdev events, the pins gpiozero's mock pins.)"""
    from gpiozero.pins.mock import MockFactory

    from hardware.lights import Pins, StatusLights
    from hardware.scanner import DeviceRule
    from hardware.standin import ReplayDevice, hid_events
    from hardware.wiring import Devices

    cards = ReplayDevice("/dev/input/event3", name="RFID Card Reader")
    books = ReplayDevice("/dev/input/event4", name="Barcode Scanner")
    plugged = [(cards, DeviceRule("RFID", "cards")), (books, DeviceRule("Barcode", "books"))]
    devices = Devices(
        kiosk,
        config.load(data_dir),
        find=lambda in_use: [(d, r) for d, r in plugged if d.path not in in_use],
        lights=StatusLights(Pins(), pin_factory=MockFactory()),
    )
    devices.start(ui.app.submit)
    try:
        cards.send(hid_events("S1", time.time()))
        books.send(hid_events("B001", time.time()))

        def on_disk() -> list[str]:
            with kiosk.store.read() as db:
                return [e.type for e in db.scalars(select(Event).order_by(Event.seq))]

        deadline = time.monotonic() + 30
        while on_disk() != ["session_started", "checkout"] and time.monotonic() < deadline:
            time.sleep(0.01)  # no frame meanwhile: only the reader's thread can lend
        assert on_disk() == ["session_started", "checkout"]
        assert ui.screen == "idle"  # the answers wait for the screen's next frame
        assert ui.wait_for(lambda: "《Book 1》" in ui.text())
        assert ui.screen == "session" and "你好，小明！" in ui.text()
    finally:
        devices.stop()


def test_inputs_on_the_inbox_are_handled_in_order(ui, kiosk) -> None:
    """The queue the scanner reader (hardware) and standard input put their inputs on."""
    inbox: queue.Queue[Input | None] = queue.Queue()
    for item in (Scan("S1", "cards"), b"B001\n", b":done\n", None):
        inbox.put(item)
    ui.app.read_inbox(inbox)
    assert ui.wait_for(lambda: ui.screen == "receipt")
    assert "《Book 1》：请在12月9日 星期三前还" in ui.text()


def test_an_unplugged_scanner_is_shown_in_red(ui) -> None:
    unplugged = Outcome(
        Kind.FAULT,
        light=Light.FAULT,
        reason="scanner_unplugged",
        detail={"device": "USB Barcode Scanner"},
    )
    ui.app.submit(unplugged)
    ui.frames(2)
    assert "扫描枪没有连接" in ui.text()
    assert "USB Barcode Scanner被拔掉了。" in ui.text()
    assert ui.app.tone == "bad"


def test_a_failure_inside_the_app_shows_a_calm_message_and_carries_on(ui, clock) -> None:
    from kivy.base import ExceptionManager

    from kiosk.ui.app import KeepRunning

    scan(ui, clock, "S1")
    keep_running = KeepRunning(ui.app)
    assert keep_running.handle_exception(RuntimeError("boom")) == ExceptionManager.PASS
    ui.frames(2)
    assert "借书机出了点问题" in ui.text() and "请找图书管理员老师。" in ui.text()
    assert "boom" not in ui.text() and "Traceback" not in ui.text()
    ui.press("好的")
    assert ui.screen == "session"  # the student carries on


def test_typing_a_code_and_enter_in_the_window_is_a_scan(ui, clock) -> None:
    ui.type("S1")
    assert ui.screen == "session"
    assert ui.app.typed == ""


def test_the_demo_cheat_sheets_touches_typed_in_the_window_work(ui, kiosk, clock) -> None:
    ui.type("S1")
    clock.advance(3)
    ui.type("B001")
    ui.type(":done")  # as the demo's cheat sheet says
    assert ui.screen == "receipt"
    ui.app.dismiss()
    clock.advance(3)
    ui.type("H1")
    ui.type(f":pin {HELPER_PIN}")  # on the PIN screen the digits go to the keypad
    assert ui.screen == "supervisor"
    ui.type(":leave")
    assert ui.screen == "idle"


def test_the_demo_starts_at_scan_your_card_and_comes_back_there(ui, tmp_path) -> None:
    from kiosk import cli

    cli._make_demo(tmp_path / "demo")
    store, cfg = cli.open_data(tmp_path / "demo")
    try:
        demo_kiosk = Kiosk(store, cfg.kiosk)
        ui.start_over(demo_kiosk)
        assert ui.screen == "idle"  # not the first run's language question
        ui.type("S0001")
        ui.press("完成")
        assert ui.screen == "receipt"
        ui.app.dismiss()
        assert ui.screen == "idle"
    finally:
        store.close()


def test_a_full_stop_never_starts_a_line(ui) -> None:
    from kiosk.ui.widgets import Text

    sentence = "现在扫描你想借的书。"
    label = Text(text=sentence, font_size=24)
    # Just too narrow for the full stop: Kivy alone would put it on a line of its own.
    label.text_size = (label._label.get_extents(sentence[:-1])[0] + 2, None)
    label.texture_update()
    lines = ["".join(w.text for w in line.words) for line in label._label._cached_lines]
    assert len(lines) == 2 and lines[1] == "书。"
    assert label.text == sentence  # what the label says is unchanged


def test_escape_and_closing_the_window_do_not_leave_the_kiosk(ui) -> None:
    assert ui.window.dispatch("on_key_down", 27, 41, None, []) is True
    assert ui.window.dispatch("on_request_close") is True
    ui.frames()
    assert ui.screen == "idle"


# -- small librarians --------------------------------------------------------------------------


def open_menu(ui: Driver, clock: FakeClock) -> None:
    scan(ui, clock, "H1")
    assert ui.screen == "pin"
    for digit in HELPER_PIN:
        ui.press(digit)
    ui.press("好的")
    assert ui.screen == "supervisor"


def test_helper_card_and_pin_open_the_menu(ui, clock) -> None:
    scan(ui, clock, "H1")
    assert "你好，小助手！" in ui.text()
    for digit in "1111":
        ui.press(digit)
    ui.press("好的")
    assert ui.screen == "pin"
    assert "密码不对\n还可以试2次。" in ui.text()
    open_menu(ui, clock)
    text = ui.text()
    assert "小小图书管理员菜单  小助手" in text
    assert "这台借书机：test-kiosk" in text  # its name at the office too
    assert "条记录没有同步到办公室" in text
    assert "马上同步" not in text  # no sync client, no office
    ui.press("退出菜单")
    assert ui.screen == "idle"


def test_find_a_student_who_forgot_their_card(ui, kiosk, clock) -> None:
    open_menu(ui, clock)
    ui.press("查找学生")
    assert ui.screen == "find"
    ui.press("3-1")
    # with the card number: two children of a class may have the same name
    assert {"小明\nS1", "小红\nS2"} <= set(ui.texts())
    assert "Li Hua" not in ui.text()  # class 5-2
    ui.press("小红")
    assert ui.screen == "session"
    assert "你好，小红！" in ui.text()


# A class of 38, as in a real school (the names of the demo library, mixed).
BIG_CLASS = [
    s + g
    for s, g in zip(
        "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗曾单王李张刘陈杨黄赵吴周徐孙马朱胡郭",
        ["子涵", "欣怡", "梓轩", "雨桐", "浩然", "诗涵", "宇航", "思远", "一诺", "佳琪"] * 4,
        strict=False,
    )
]


def find_in_big_class(ui, store, clock) -> Any:
    """The helpers' "find a student" page, open on class 3-2 (BIG_CLASS)."""
    from kiosk.models import Patron

    with store.write() as db:
        for n, name in enumerate(BIG_CLASS, start=1):
            db.add(Patron(card=f"C{n:02d}", name=name, class_name="3-2", grade=3))
    open_menu(ui, clock)
    ui.press("查找学生")
    ui.press("3-2")
    return ui.app.screen("find")


def test_find_a_student_in_a_class_of_38_by_the_first_letters_of_the_name(ui, store, clock) -> None:
    from kiosk import pinyin

    page = find_in_big_class(ui, store, clock)
    buttons = list(reversed(page.ids.students.children))  # as laid out, first row first
    shown = [b.text.split("\n")[0] for b in buttons]
    assert len(shown) == 38
    assert shown == sorted(BIG_CLASS, key=pinyin.sort_key)  # 陈 chen ... 周 zhou, 曾 zeng
    assert shown.index("杨诗涵") < shown.index("曾子涵") < shown.index("张梓轩")  # zeng, not ceng

    # Every row can be reached on the 800x480 screen: scrolled to the end, the last row is
    # whole inside the list, and a finger on it opens that child's session... below.
    scroller = page.ids.scroller
    scroller.scroll_y = 0
    ui.frames(3)
    last = buttons[-1]
    left, bottom = scroller.to_window(scroller.x, scroller.y)
    x, y = last.to_window(last.x, last.y)
    assert bottom <= y and y + last.height <= bottom + scroller.height
    assert left <= x and x + last.width <= left + scroller.width

    # Letters narrow the list: only letters that lead to someone are offered.
    letters = [b.text for b in reversed(page.ids.letters.children)]
    assert letters == sorted({pinyin.initials(n)[0].upper() for n in BIG_CLASS})
    ui.press("Z")
    assert {b.text.split("\n")[0] for b in page.ids.students.children} == {
        n for n in BIG_CLASS if pinyin.initials(n).startswith("z")
    }
    assert "Z" in ui.texts()  # what was typed, shown where the hint was
    second = page.ids.letters.children[-1].text  # the first letter offered
    ui.press(second)
    names = [b.text.split("\n")[0] for b in page.ids.students.children]
    typed = "z" + second.lower()
    assert names and all(pinyin.initials(n).startswith(typed) for n in names)
    ui.press("⌫")
    assert len(page.ids.students.children) > len(names)
    ui.type("诗涵", enter=False)  # characters from a keyboard search too
    ui.press("⌫")
    ui.press("⌫")
    ui.press("⌫")
    ui.type("诗涵", enter=False)
    found = [b.text.split("\n")[0] for b in page.ids.students.children]
    assert found and all(n.endswith("诗涵") for n in found)
    ui.press(found[0])
    assert ui.screen == "session" and f"你好，{found[0]}！" in ui.text()


def test_a_list_scrolled_halfway_draws_nothing_outside_its_box(ui, store, clock, tmp_path) -> None:
    """The rows scrolled out of a list are cut at its edges: nothing of them over the
    letters above it or the screen around it."""
    from PIL import Image, ImageChops

    scroller = find_in_big_class(ui, store, clock).ids.scroller

    def shown(scroll_y: float, name: str) -> tuple[Image.Image, Image.Image]:
        """The window, with the list's box blanked; and the list's box alone."""
        scroller.scroll_y = scroll_y
        ui.frames(3)
        window = Image.open(ui.screenshot(tmp_path / name)).convert("RGB")
        left, bottom = scroller.to_window(scroller.x, scroller.y)
        top = window.height - bottom - scroller.height  # the picture's rows go down
        box = (int(left), int(top), int(left + scroller.width), int(top + scroller.height))
        inside = window.crop(box)
        window.paste((0, 0, 0), box)
        return window, inside

    around_first, first_rows = shown(1, "first.png")
    around_middle, middle_rows = shown(0.5, "middle.png")
    assert ImageChops.difference(first_rows, middle_rows).getbbox() is not None  # it moved
    assert ImageChops.difference(around_first, around_middle).getbbox() is None


def test_batch_return_confirms_each_book(ui, kiosk, clock) -> None:
    borrow_earlier(kiosk, clock, TUESDAY_LUNCH - dt.timedelta(days=1), "S1", "B001")
    open_menu(ui, clock)
    ui.press("批量还书")
    assert ui.screen == "batch"
    scan(ui, clock, "B001")
    scan(ui, clock, "B002")
    text = ui.text()
    assert "✔ 《Book 1》已还" in text
    assert "✘ 这本书没有被借走：《Book 2》本来就在图书馆里。" in text
    ui.press("结束")
    assert ui.screen == "supervisor"


@pytest.mark.parametrize(
    ("button", "said", "status"),
    [
        ("书坏了", "✔ 《Book 3》记为坏了", CopyStatus.DAMAGED),
        ("书找不到了", "✔ 《Book 3》记为找不到了", CopyStatus.LOST),
    ],
)
def test_mark_a_book_damaged_or_lost(ui, kiosk, clock, button, said, status) -> None:
    open_menu(ui, clock)
    ui.press(button)
    scan(ui, clock, "B003")
    assert said in ui.text()
    with kiosk.store.read() as db:
        assert db.scalar(select(Copy.status).where(Copy.barcode == "B003")) == status


def test_over_the_limit_only_when_the_small_librarian_says_so(ui, kiosk, clock) -> None:
    borrow_earlier(kiosk, clock, TUESDAY_LUNCH - dt.timedelta(days=7), "S1", "B001")
    borrow_earlier(kiosk, clock, TUESDAY_LUNCH - dt.timedelta(days=6), "S1", "B002")
    open_menu(ui, clock)
    ui.press("查找学生")
    ui.press("3-1")
    ui.press("小明")
    scan(ui, clock, "B003")
    assert ui.screen == "message"
    assert "你已经借了2本书" in ui.text()
    assert "你是小小图书管理员：可以还是借给他。" in ui.text()
    ui.press("还是借给他")
    assert ui.screen == "session" and "✔ 《Book 3》" in ui.text()
    with kiosk.store.read() as db:
        event = db.scalars(select(Event).where(Event.type == "checkout")).all()[-1]
    assert event.payload["override_by"] == "H1"  # in the supervisor log


def test_a_helper_may_borrow_for_themselves_or_cancel(ui, clock) -> None:
    scan(ui, clock, "H1")
    ui.press("我自己借书")
    assert ui.screen == "session"
    assert "你好，小助手！" in ui.text() and "6-1班" in ui.text()
    ui.press("完成")
    ui.app.dismiss()
    scan(ui, clock, "H1")
    ui.press("取消")
    assert ui.screen == "idle"


def test_todays_loans_and_returns(ui, kiosk, clock) -> None:
    borrow_earlier(kiosk, clock, TUESDAY_LUNCH - dt.timedelta(minutes=10), "S1", "B001")
    open_menu(ui, clock)
    ui.press("今天的借还")
    text = ui.text()
    assert "借出1本书" in text and "还回0本书" in text and "来了1位同学" in text
    assert "3-1班：1人借了书" in text
    # Reading records are private, even from the helpers: no names, no titles.
    assert "小明" not in text and "Book 1" not in text
    ui.press("返回")
    ui.press("退出菜单")
    assert "小明" not in everything_shown(ui)


def test_clock_warning_is_for_the_supervisor_not_the_student(ui, kiosk, clock) -> None:
    scan(ui, clock, "S1")
    ui.press("完成")
    clock.advance(-3600)
    scan(ui, clock, "S1")
    assert ui.screen == "session"  # the student just borrows
    ui.press("完成")
    ui.app.dismiss()
    open_menu(ui, clock)
    assert "借书机的时钟倒退了：请检查日期和时间。" in ui.text()


def test_clock_far_from_the_office_is_a_warning_for_the_supervisor(ui, kiosk, clock) -> None:
    from kiosk.cli import _office_link
    from sync import replica

    ui.app.clock_off = _office_link(kiosk)["clock_off"]  # as kiosk run wires it
    with kiosk.store.write() as db:  # what a sync records when the office's clock differs
        replica.acknowledge(db, 0, clock.now + dt.timedelta(minutes=12), offset=12 * 60.0)
    open_menu(ui, clock)
    assert "借书机的时钟和办公室的相差12分钟：请检查日期和时间。" in ui.text()
    ui.press("退出菜单")
    with kiosk.store.write() as db:
        replica.acknowledge(db, 0, clock.now, offset=20.0)  # within a few minutes: fine
    open_menu(ui, clock)
    assert "时钟" not in ui.text()


def test_a_clock_far_ahead_stops_lending_until_a_helper_says_it_is_right(ui, kiosk, clock) -> None:
    scan(ui, clock, "S1")
    ui.press("完成")
    ui.app.dismiss()
    clock.advance(days=364)  # a Tuesday lunch a year on: the clock was set a year ahead
    scan(ui, clock, "S2")
    assert "借书机的时钟不对：现在只能还书。" in ui.text()
    scan(ui, clock, "B001")
    assert "借书机现在不能借书" in ui.text()
    assert "请找小小图书管理员。还书可以照常还。" in ui.text()
    ui.app.dismiss()
    ui.press("完成")
    ui.app.dismiss()
    open_menu(ui, clock)
    assert "这不可能对：日期和时间调好以前不能借书。" in ui.text()
    ui.press("日期和时间是对的")
    assert ui.screen == "supervisor"
    assert "时钟" not in ui.text()
    ui.press("退出菜单")
    scan(ui, clock, "S2")
    scan(ui, clock, "B001")
    assert ui.screen == "session" and "借书机现在不能借书" not in ui.text()


def test_supervisor_menu_times_out(ui, clock) -> None:
    open_menu(ui, clock)
    clock.advance(121)
    ui.tick()
    assert ui.screen == "idle"


# -- first run -----------------------------------------------------------------------------------


def forget_setup(store: Store) -> None:
    with store.write() as db:
        db.delete(db.get(Setting, SETUP_DONE))


def test_first_run_asks_the_language_then_stays_standalone(ui, kiosk, store) -> None:
    forget_setup(store)
    ui.start_over(kiosk)
    assert ui.screen == "firstrun"
    assert "请选择语言 / Choose the language" in ui.text()
    ui.press("English")
    assert "How will this kiosk work?" in ui.text()
    assert "Connect to the office server" not in ui.texts()  # no sync client yet
    ui.press("on its own")
    assert ui.screen == "idle"
    assert "Scan your library card" in ui.text()
    with store.read() as db:
        assert get_setting(db, LANGUAGE) == "en"
        assert get_setting(db, SETUP_DONE) is not None
    ui.start_over(kiosk)
    assert "Scan your library card" in ui.text()  # English stays the kiosk's language
