"""The office's pages in both languages at 1366x768, as the librarian sees them:
``python -m tests.web.screenshots [DIR [NAME...]]`` (default docs/screenshots/office, every shot;
``make screenshots``); NAMEs take only those shots again.

A real office server on loopback with a small library, and the system's headless Chromium.
A page's helper adds its shots to ``SHOTS``: a file name and what to do to show the page.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, sync_playwright
from sqlalchemy import select, update

from kiosk.clock import utc_now
from sync.server.db import database_url
from sync.server.models import Copy, Kiosk
from sync.server.services import books, compensation, desk, printing, rules
from tests import class_lists
from tests.conftest import HELPER_PIN, FakeClock
from tests.sync.support import KioskUnderTest, Office
from tests.sync.test_stocktake import counting, shelve
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, LIBRARIAN, PASSWORD, add_librarian

DEFAULT_DIR = Path("docs/screenshots/office")
LANGUAGES = {"en": "en-US", "zh_CN": "zh-CN"}
BOOKS = """条码,ISBN,书名,作者,出版社,出版年,分类号,书架
,9787532439584,草房子,曹文轩,少年儿童出版社,2015,I287.45,3-A
,9787020002207,红楼梦,曹雪芹,人民文学出版社,1996,I242.4,5-C
,9787544270878,夏洛的网,E.B.怀特,上海译文出版社,2014,I712.85,3-B
,9787020033430,哈利·波特与魔法石,J.K.罗琳,人民文学出版社,2000,I561.84,4-A
,9787532148769,窗边的小豆豆,黑柳彻子,南海出版公司,2003,I313.85,3-A
"""
BAD_BOOKS = """条码,ISBN,书名,作者
N0001,9787544270878,夏洛的网,E.B.怀特
N0002,9787544270879,校验位错,某人
N0003,,,没有书名
N0004,,小王子,圣埃克苏佩里
"""


@dataclass
class Library:
    """What the shots show: the office's address and a book with copies added just now."""

    url: str
    title_id: int
    new: list[str]
    bad_list: Path
    files: Path  # the class lists to import


Shot = Callable[[Page, Library], None]


def _books(page: Page, library: Library) -> None:
    page.goto(f"{library.url}/books")


def _search(page: Page, library: Library) -> None:
    page.goto(f"{library.url}/books?q=I287")


def _add_scan(page: Page, library: Library) -> None:
    page.goto(f"{library.url}/books/add")


def _add_details(page: Page, library: Library) -> None:
    page.goto(f"{library.url}/books/add?isbn=9787560220208")


def _title(page: Page, library: Library) -> None:
    page.goto(f"{library.url}/books/titles/{library.title_id}?new={','.join(library.new)}")


def _import_preview(page: Page, library: Library) -> None:
    page.goto(f"{library.url}/books/import")
    page.locator("input[type=file]").set_input_files(library.bad_list)
    page.locator("form[enctype] button[type=submit]").click()
    page.wait_for_selector("input[name=token]", state="attached")


def _class_list(page: Page, library: Library, name: str) -> None:
    page.goto(f"{library.url}/students/import")
    page.locator("input[type=file]").set_input_files(library.files / name)
    page.locator("form[enctype] button[type=submit]").click()
    page.wait_for_selector("main h1")


def _students_import_preview(page: Page, library: Library) -> None:
    _class_list(page, library, class_lists.REGISTRY)


def _students_import_columns(page: Page, library: Library) -> None:
    _class_list(page, library, class_lists.OWN_HEADERS)


def _students_import_bad_row(page: Page, library: Library) -> None:
    """The columns said, the list shown again: its one bad row, and nothing saved."""
    _class_list(page, library, class_lists.OWN_HEADERS)
    for column, field in [("学生", "name"), ("编号", "student_number"), ("所在班", "class_name")]:
        page.locator(f"select[aria-label='{column}']").select_option(field)
    page.locator("button[formaction='/students/import/preview']").click()
    page.wait_for_selector("section.problems")


def _print(page: Page, library: Library) -> None:
    page.goto(f"{library.url}/print")


def _loans(page: Page, library: Library) -> None:
    page.goto(f"{library.url}/loans")


def _slips(page: Page, library: Library) -> None:
    page.goto(f"{library.url}/loans/slips?class_name=3-1")


def _goto(path: str) -> Shot:
    def show(page: Page, library: Library) -> None:
        page.goto(f"{library.url}{path}")

    return show


def _helpers(page: Page, library: Library) -> None:
    page.goto(f"{library.url}/helpers?q=li")


def _helper_actions(page: Page, library: Library) -> None:
    page.goto(f"{library.url}/helpers?card=H1#actions")


def _rules(page: Page, library: Library) -> None:
    page.goto(f"{library.url}/rules#timetable")


def _rules_opening(page: Page, library: Library) -> None:
    """An opening being changed, with a grade that is not one."""
    page.goto(f"{library.url}/rules?edit=3#opening")
    page.locator("input[name=grades]").fill("1, 2, 七")
    page.locator("form#opening button[type=submit]:not([form])").click()
    page.wait_for_selector("#problem-grades")
    page.locator("#opening").scroll_into_view_if_needed()


def _stocktake_desk(page: Page, library: Library) -> None:
    """Counting at the desk: a shelf chosen from the list (nothing counted, so that either
    language's picture, and those after, show the same stocktake)."""
    page.goto(f"{library.url}/stocktake")
    page.locator("select[name=shelf]").select_option("3-A")
    page.locator("form.choose-shelf button").click()
    page.wait_for_selector("#counting .answer")


SHOTS: list[tuple[str, Shot]] = [
    ("overview", _goto("/")),
    ("desk", _goto("/desk?card=S1")),
    ("desk-class-sets", _goto("/desk/sets")),
    ("reports", _goto("/reports")),
    ("reports-idle", _goto("/reports/idle")),
    ("reports-weeding", _goto("/reports/weeding")),
    ("reports-semester", _goto("/reports/semester")),
    ("plan", _goto("/reports/plan")),
    ("kiosks", _goto("/kiosks")),
    ("students", _goto("/students")),
    ("students-search", _goto("/students?q=xm")),
    ("student", _goto("/students/edit?card=S1")),
    ("students-import", _goto("/students/import")),
    ("students-import-preview", _students_import_preview),
    ("students-import-columns", _students_import_columns),
    ("students-import-bad-row", _students_import_bad_row),
    ("students-year", _goto("/students/year")),
    ("books", _books),
    ("books-search", _search),
    ("book-add", _add_scan),
    ("book-add-details", _add_details),
    ("book-copies", _title),
    ("book-import-preview", _import_preview),
    ("print", _print),
    ("loans", _loans),
    ("loans-slips", _slips),
    ("helpers", _helpers),
    ("helper-actions", _helper_actions),
    ("rules", _rules),
    ("rules-opening", _rules_opening),
    ("stocktake", _goto("/stocktake")),
    ("stocktake-desk", _stocktake_desk),
    ("stocktake-close", _goto("/stocktake/close?not_seen=missing")),
    ("stocktake-result", _goto("/stocktake/1")),
    ("book-repairs", _goto("/books/repairs")),
    ("compensation", _goto("/compensation")),
    ("compensation-new", _goto("/compensation/new?copy=B009")),
]
TIMETABLE = """
[[timetable.window]]
weekdays = ["mon", "wed"]
opens = "13:30"
closes = "14:20"
grades = [3, 4]

[[timetable.window]]
weekdays = ["tue", "thu"]
opens = "13:30"
closes = "14:20"
grades = [5, 6]

[[timetable.window]]
weekdays = ["fri"]
opens = "13:30"
closes = "14:20"
grades = [1, 2]
week = "A"

[[timetable.window]]
weekdays = ["fri"]
opens = "13:30"
closes = "14:20"
grades = [3, 4]
week = "B"

[[timetable.window]]
weekdays = ["mon", "wed", "fri"]
opens = "17:00"
closes = "17:40"
"""


def _library(folder: Path) -> tuple[Office, Library]:
    data = folder / "office"
    data.mkdir()
    office = Office(data, database_url(data, None))
    office.load_library(folder)
    database = office.database()
    with database.write() as session:  # last term's books: today's are the ones below
        session.execute(update(Copy).values(added_on=dt.date.today() - dt.timedelta(days=90)))
    database.close()
    (folder / "books.csv").write_text(BOOKS, encoding="utf-8")
    office.ok("import-books", str(folder / "books.csv"))
    add_librarian(office)
    database = office.database()
    with database.write() as session:
        printing.set_school_name(session, "阳光小学")
        title, new = books.add_book(
            session,
            isbn="9787532439584",
            title="草房子",
            author="曹文轩",
            publisher="少年儿童出版社",
            year="2015",
            classification="I287.45",
            shelf="3-A",
            copies=3,
        )
    database.close()
    _late_books(office)
    (folder / "rules.toml").write_text(TIMETABLE, encoding="utf-8")
    office.ok("rules", str(folder / "rules.toml"))
    database = office.database()
    with database.write() as session:
        today = dt.date.today()
        rules.set_week(session, today, "A")
        rules.close(session, f"{today.year}-10-01", f"{today.year}-10-07", "国庆节")
        sports_day = (today + dt.timedelta(days=10)).isoformat()
        rules.close(session, sports_day, note="运动会")
        rules.close(session, f"{today.year + 1}-01-18", f"{today.year + 1}-02-21", "寒假")
    database.close()
    shelve(office, folder)  # B001-B005 on shelf A1, B006-B010 on B2
    (folder / "新书.csv").write_text(BAD_BOOKS, encoding="utf-8")
    class_lists.registry(folder / class_lists.REGISTRY)
    class_lists.own_headers(folder / class_lists.OWN_HEADERS, bad_row=True)
    return office, Library(office.url, title.id, new, folder / "新书.csv", folder)


def _late_books(office: Office) -> None:
    """Books lent at the desk weeks ago, some of them late now."""
    database = office.database()
    for card, code, days_ago in [
        ("S1", "B002", 3), ("S1", "B001", 30), ("S2", "B003", 20), ("S2", "B007", 15),
        ("S5", "B004", 25), ("T1", "B005", 45),
    ]:  # fmt: skip
        with database.write() as session:
            lent = desk.lend(session, card, code, librarian=LIBRARIAN,
                             now=utc_now() - dt.timedelta(days=days_ago))  # fmt: skip
        assert lent.outcome == "lent", lent
    database.close()


def _owed_and_repaired(office: Office, repaired: str) -> None:
    """One compensation owed and a lost book to decide about; a copy away being repaired for
    12 days, another back on the shelf after two weeks. After the stocktakes: the books they
    scanned were on the shelf then."""
    database = office.database()
    with database.write() as session:
        assert desk.lend(session, "H1", "B006", librarian=LIBRARIAN).outcome == "lent"
        assert desk.lend(session, "T1", "B009", librarian=LIBRARIAN).outcome == "lent"
        compensation.record(
            session, code="B006", card="H1", reason="damaged", amount="12.50",
            note="封面撕破", librarian=LIBRARIAN,
        )  # fmt: skip
        lost = session.scalar(select(Copy).where(Copy.barcode == "B009"))
        assert lost is not None
        books.set_status(session, lost.id, "lost")
        books.set_price(session, lost.title_id, "22.00")
        today = dt.date.today()
        for code, status, days_ago in [
            ("B010", "in_repair", 12), (repaired, "in_repair", 20), (repaired, "available", 5),
        ]:  # fmt: skip
            copy = session.scalar(select(Copy.id).where(Copy.barcode == code))
            assert copy is not None
            books.set_status(
                session, copy, status, by=LIBRARIAN, today=today - dt.timedelta(days=days_ago)
            )
    database.close()


def _stocktakes(office: Office, folder: Path, new: list[str]) -> None:
    """Last term's stocktake, kept; this term's, counted in part by a kiosk on loopback (no
    book out on loan is scanned: the loans' pictures stay as they are)."""
    kiosk = KioskUnderTest(folder / "kiosk-a", FakeClock())
    kiosk.client.enroll(office.url, office.enroll_code(), "kiosk-a")
    office.ok("stocktake-start", "--name", "2026年春季")
    kiosk.client.sync()
    counting(kiosk, "B2")
    kiosk.scan("B006", "B008", "B009")
    counting(kiosk, "3-A")
    kiosk.scan(*new[:2])
    kiosk.client.sync()
    office.ok("stocktake-close", "--not-seen", "keep")
    kiosk.engine.touch("leave")
    office.ok("stocktake-start", "--name", "2026年秋季")
    kiosk.client.sync()
    counting(kiosk, "3-A")
    kiosk.scan(*new, "9787532148769")  # the last known by its ISBN only
    counting(kiosk, "B2")
    kiosk.scan("B006", "B009", "X-1234")
    counting(kiosk, "A1")
    kiosk.scan("B008")  # belongs on B2
    kiosk.client.sync()
    kiosk.close()


def _a_small_librarian_at_a_kiosk(office: Office, folder: Path) -> None:
    """小助手 at the library door's kiosk (after the stocktakes, counted by them too): a PIN
    mistyped, a session opened for a student without a card; and 小红 made a small
    librarian, with no PIN yet."""
    kiosk = KioskUnderTest(folder / "library-door", FakeClock(), library=False)
    try:
        kiosk.client.enroll(office.url, office.enroll_code(), "library-door")
        kiosk.client.sync()
        kiosk.scan("H1")
        kiosk.engine.touch("pin", "1357")
        kiosk.engine.touch("pin", HELPER_PIN)
        kiosk.engine.touch("open_for", "S1")
        kiosk.engine.touch("done")
        kiosk.client.sync()
    finally:
        kiosk.close()
    office.ok("helper", "S2")


def _clocks_agree(office: Office) -> None:
    """The kiosks above ran on a test clock fixed at a Tuesday lunch; at a school their clocks
    agree with the office's within a second or two, and the pages are shown that way."""
    database = office.database()
    with database.write() as session:
        session.execute(update(Kiosk).values(clock_offset_seconds=1.5, clock_backwards=False))
    database.close()


def take(out: Path = DEFAULT_DIR, only: list[str] | None = None) -> list[Path]:
    taken = []
    with tempfile.TemporaryDirectory(prefix="office-screenshots-") as tmp:
        office, library = _library(Path(tmp))
        office.start()
        try:
            _stocktakes(office, Path(tmp), library.new)
            _owed_and_repaired(office, library.new[0])
            _a_small_librarian_at_a_kiosk(office, Path(tmp))
            _clocks_agree(office)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for language, locale in LANGUAGES.items():
                    context = browser.new_context(
                        locale=locale, viewport={"width": 1366, "height": 768}
                    )
                    page = context.new_page()
                    page.goto(f"{office.url}/login")  # the form in either language
                    page.locator("input[name=name]").fill(LIBRARIAN)
                    page.locator("input[name=password]").fill(PASSWORD)
                    page.locator("form[action='/login'] button").click()
                    page.wait_for_url(f"{office.url}/")
                    (out / language).mkdir(parents=True, exist_ok=True)
                    for name, show in SHOTS:
                        if only and name not in only:
                            continue
                        show(page, library)
                        page.wait_for_load_state("networkidle")
                        path = out / language / f"{name}.png"
                        page.screenshot(path=path)
                        taken.append(path)
                    context.close()
                browser.close()
        finally:
            office.stop()
    return taken


if __name__ == "__main__":
    for shot in take(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR, sys.argv[2:]):
        print(shot)
