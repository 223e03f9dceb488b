"""Screenshots of every screen in every language: ``python -m kiosk.ui.screenshots [DIR]``.

The demo library is given a month of history (loans, an overdue book, a reading league) by
driving the engine itself on a clock that this script moves, then each screen is reached the
way a student or small librarian reaches it, and saved as DIR/<language>/<screen>.png.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from kiosk import config, demo
from kiosk.codes import shelf_label
from kiosk.engine import Kiosk
from kiosk.models import Copy, Patron
from kiosk.settings import LANGUAGE, SETUP_DONE
from kiosk.store import Store, set_setting
from sync import wire
from sync.replica import apply_changes

if TYPE_CHECKING:
    from kiosk.ui.driver import Driver

TZ = ZoneInfo("Asia/Shanghai")
# A Tuesday lunch break: the default timetable is open (13:30-14:20) for every grade.
NOW = dt.datetime(2026, 11, 24, 13, 45, tzinfo=TZ)
DEFAULT_DIR = Path("docs/screenshots")


class MovableClock:
    """The kiosk's clock, set by this script so that every picture shows the same day."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def library(data_dir: Path, language: str, *, set_up: bool = True) -> Kiosk:
    """The demo library with a month of loans, its kiosk on a movable clock at NOW."""
    data_dir.mkdir(parents=True, exist_ok=True)
    toml = config.DEFAULT_TOML.replace('language = "zh_CN"', f'language = "{language}"')
    toml = toml.replace('timezone = ""', 'timezone = "Asia/Shanghai"')
    toml = toml.replace('name = ""', 'name = "library-north"')  # not this computer's name
    (data_dir / config.FILE_NAME).write_text(toml, encoding="utf-8")
    cfg = config.load(data_dir)
    store = Store.open(data_dir / "kiosk.db")
    with store.write() as db:
        config.apply(db, cfg)
        demo.populate(db, NOW.date() - dt.timedelta(days=40))
        if set_up:
            set_setting(db, SETUP_DONE, NOW.isoformat())
            set_setting(db, LANGUAGE, language)
    clock = MovableClock(NOW)
    kiosk = Kiosk(store, cfg.kiosk, clock=clock, tz=TZ)
    # Lunchtime visits of the last weeks, so the idle screen has something to show.
    history = [
        (dt.date(2026, 11, 6), "S0001", ["100001"]),
        (dt.date(2026, 11, 12), "S0013", ["100009", "100015"]),
        (dt.date(2026, 11, 16), "S0014", ["100020"]),
        (dt.date(2026, 11, 17), "S0025", ["100003"]),
        (dt.date(2026, 11, 19), "S0015", ["100002"]),
        (dt.date(2026, 11, 20), "S0026", ["100030", "100010"]),
        # This week (from Monday 23 November): the reading league counts these.
        (dt.date(2026, 11, 23), "S0003", ["100012"]),
        (dt.date(2026, 11, 23), "S0013", ["100025"]),
        (dt.date(2026, 11, 23), "S0016", ["100040"]),
        (dt.date(2026, 11, 23), "S0027", ["100033"]),
        *((dt.date(2026, 11, 23), f"S{n:04d}", [str(100100 + n)]) for n in range(4, 9)),
    ]
    for day, card, books in history:
        clock.now = dt.datetime.combine(day, dt.time(13, 40), TZ)
        for code in [card, *books]:
            kiosk.scan(code)
            clock.advance(20)
        kiosk.touch("done")
        if day == dt.date(2026, 11, 16):
            clock.advance(60)
            kiosk.scan("100020")  # brought back later the same day
            clock.advance(20)
    clock.now = NOW
    return kiosk


def start_stocktake(kiosk: Kiosk) -> None:
    """The office's stocktake of the whole library, as the kiosk learns it with a sync."""
    with kiosk.store.write() as db:
        rows = db.execute(
            select(Copy.shelf, func.count()).where(Copy.shelf != "").group_by(Copy.shelf)
        )
        shelves = sorted(({"name": s, "copies": n} for s, n in rows), key=_shelf_order)
        data = {"id": 1, "name": "2026秋", "open": True, "whole_library": True, "shelves": shelves}
        change = wire.Change(version=1, kind="stocktake", key="1", data=data)
        apply_changes(db, [change], NOW.date())


def owes_compensation(kiosk: Kiosk, card: str) -> None:
    """The office recorded a damaged or lost book against *card*: the reader's record as the
    kiosk keeps it after a sync told it so."""
    with kiosk.store.write() as db:
        patron = db.scalar(select(Patron).where(Patron.card == card))
        assert patron is not None
        patron.compensation_due = True


def _shelf_order(shelf: dict[str, object]) -> tuple[int, str]:
    number, _dash, rest = str(shelf["name"]).partition("-")  # the demo's shelves: 1-A ... 12-A
    return int(number), rest


def books_on(kiosk: Kiosk, shelf: str) -> list[str]:
    with kiosk.store.read() as db:
        return list(
            db.scalars(select(Copy.barcode).where(Copy.shelf == shelf).order_by(Copy.barcode))
        )


@contextmanager
def _folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kiosk-screenshots-") as tmp:
        yield Path(tmp)


def take_all(out: Path, languages: tuple[str, ...] = ("zh_CN", "en")) -> list[Path]:
    """Every screen in every language; returns the files written."""
    from kiosk.ui.driver import Driver

    written: list[Path] = []
    with _folder() as tmp:
        driver: Driver | None = None
        for language in languages:
            first = library(tmp / f"first-{language}", language, set_up=False)
            if driver is None:
                driver = Driver(first)
            else:
                driver.start_over(first)
            tour = Tour(driver, first, out / language)
            tour.first_run(language)
            kiosk = library(tmp / language, language)
            driver.start_over(kiosk)
            Tour(driver, kiosk, out / language, tour.written).students_and_helpers()
            written += tour.written
            kiosk.store.close()
            first.store.close()
    return written


class Tour:
    """Reaching each screen as a student or small librarian would, with a picture of each."""

    def __init__(
        self, driver: Driver, kiosk: Kiosk, out: Path, written: list[Path] | None = None
    ) -> None:
        self.driver, self.kiosk, self.out = driver, kiosk, out
        self.clock: MovableClock = kiosk.clock  # type: ignore[assignment]
        self.written = [] if written is None else written

    def shot(self, name: str) -> None:
        self.written.append(self.driver.screenshot(self.out / f"{name}.png"))

    def scan(self, code: str) -> None:
        self.clock.advance(3)
        self.driver.scan(code)

    def first_run(self, language: str) -> None:
        self.driver.app.set_language(language)
        self.shot("firstrun-language")
        self.driver.app.choose_first_language(language)
        self.driver.frames(2)
        self.shot("firstrun-standalone")
        self.driver.app.first_run_page("enroll")
        self.driver.frames(2)
        self.shot("firstrun-enroll")

    def students_and_helpers(self) -> None:
        driver, app = self.driver, self.driver.app
        self.shot("idle")
        self.scan("S0002")  # no book at home
        self.scan("100050")
        self.shot("session")
        self.clock.advance(self.kiosk.settings.walk_away_seconds - 4)
        driver.tick()  # the quiet spell after a book, counted down
        self.shot("walk-away")
        self.scan("100060")  # the second book: all a student may have
        self.shot("receipt")
        app.dismiss()
        self.scan("S0002")
        self.shot("session-full")
        self.scan("100070")
        self.shot("refusal-limit")
        app.dismiss()
        app.touch("done")
        app.dismiss()
        self.scan("S0001")  # has one book, four days late
        self.scan("100001")
        self.shot("choice")
        driver.press("←")  # back to the session
        app.touch("done")
        app.dismiss()
        self.scan("100009")  # a book brought back without a card
        self.shot("returned")
        app.dismiss()
        self.scan("999999")
        self.shot("refusal-unknown")
        app.dismiss()
        owes_compensation(self.kiosk, "S0010")  # the office said so at the last sync
        self.scan("S0010")
        self.scan("100090")
        self.shot("refusal-compensation")
        app.dismiss()
        app.touch("done")
        app.dismiss()

        start_stocktake(self.kiosk)  # the office started one: the menu offers it
        self.scan(demo.HELPER_CARD)
        self.shot("pin")
        pin = app.screen("pin")
        for digit in demo.HELPER_PIN:
            pin.digit(digit)
        pin.ok()
        driver.frames(2)
        self.shot("supervisor")
        app.supervisor_page("find")
        driver.frames(2)
        self.shot("find-student")
        app.supervisor_page("today")
        driver.frames(2)
        self.shot("today")
        app.supervisor_page("supervisor")
        app.touch("stocktake")
        driver.frames(2)
        self.shot("stocktake-shelves")
        for code in [shelf_label("3-A"), *books_on(self.kiosk, "3-A")[:4]]:
            self.scan(code)
        self.scan(books_on(self.kiosk, "5-A")[0])  # a book on the wrong shelf
        self.shot("stocktake")
        app.touch("done")
        app.touch("batch_return")
        self.scan("100050")
        self.scan("100002")
        self.shot("batch-return")
        app.touch("done")
        app.screen("confirm").ask("shutdown")
        driver.frames(2)
        self.shot("confirm-shutdown")
        app.supervisor_page("supervisor")
        app.touch("leave")

        self.clock.now = dt.datetime(2026, 11, 24, 15, 10, tzinfo=TZ)  # after lunch: closed
        driver.tick()
        self.shot("closed")
        self.scan("S0001")
        self.shot("session-closed")
        app.touch("done")
        # Wednesday evening is for grades 5 and 6 only.
        self.clock.now = dt.datetime(2026, 11, 25, 17, 10, tzinfo=TZ)
        driver.tick()
        self.scan("S0003")
        self.scan("100080")
        self.shot("refusal-grade")
        app.dismiss()
        app.touch("done")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    for path in take_all(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
