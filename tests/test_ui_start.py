"""The touchscreen's start: the idle screen kept at the last stop is drawn at once, and the
scans that come before the engine is loaded are answered after, in order, none lost."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kiosk.readmodel import Library
from kiosk.settings import LANGUAGE
from kiosk.store import Store, set_setting
from kiosk.ui.snapshot import FILE_NAME, IdleSnapshot, Period
from tests.conftest import TUESDAY_LUNCH, TZ
from tests.test_ui import require_font
from tests.test_ui_kiosk_proof import demo_data, run_script, run_window_kiosk


def kept(store: Store, data_dir: Path, now: dt.datetime) -> IdleSnapshot:
    """The idle screen as a kiosk stopping at *now* keeps it (its store closed first)."""
    periods, lasts = Library(store, TZ).idle_periods(now)
    snapshot = IdleSnapshot(
        font=__file__,  # any file that is there
        touchscreen="",
        language="zh_CN",
        light="ready",
        arrivals=["小王子"],
        popular=[("小王子", 3)],
        league=[("3-1", 4, 12)],
        periods=[Period(at, o.open_now, o.next_opening, o.next_grades) for at, o in periods],
        lasts=lasts,
    )
    store.close()
    snapshot.keep(data_dir)
    return snapshot


def test_the_kept_idle_screen_says_closed_once_the_library_closes(
    store: Store, data_dir: Path
) -> None:
    kept(store, data_dir, TUESDAY_LUNCH)  # open 13:30-14:20
    during = IdleSnapshot.load(data_dir, TUESDAY_LUNCH + dt.timedelta(minutes=20))
    assert during is not None and during.at(TUESDAY_LUNCH + dt.timedelta(minutes=20)).open
    closing = TUESDAY_LUNCH.replace(hour=14, minute=20)
    after = IdleSnapshot.load(data_dir, closing)
    assert after is not None
    assert not after.at(closing).open
    assert after.at(closing).next_opening == TUESDAY_LUNCH.replace(day=25, minute=30)
    # A clock set back before the stop: the store is read first.
    assert IdleSnapshot.load(data_dir, TUESDAY_LUNCH - dt.timedelta(minutes=1)) is None


def test_a_kiosk_switched_off_after_closing_shows_open_when_switched_on_at_lunch(
    store: Store, data_dir: Path
) -> None:
    evening = TUESDAY_LUNCH.replace(hour=18)
    kept(store, data_dir, evening)
    opens = TUESDAY_LUNCH.replace(day=25, hour=13, minute=30)  # Wednesday's lunch
    before = IdleSnapshot.load(data_dir, opens - dt.timedelta(minutes=1))
    assert before is not None
    assert before.at(opens - dt.timedelta(minutes=1)) == Period(
        evening, False, opens, frozenset({3, 4, 5, 6})
    )
    snapshot = IdleSnapshot.load(data_dir, opens)
    assert snapshot is not None and snapshot.at(opens).open


def test_a_new_week_reads_the_store_first(store: Store, data_dir: Path) -> None:
    friday_evening = TUESDAY_LUNCH.replace(day=27, hour=18)
    kept(store, data_dir, friday_evening)
    # "Borrowed this week" starts again on Monday at 0:00: the store is read then.
    monday = TUESDAY_LUNCH.replace(day=30, hour=0, minute=0)
    assert IdleSnapshot.load(data_dir, monday - dt.timedelta(seconds=1)) is not None
    assert IdleSnapshot.load(data_dir, monday) is None


def test_what_another_program_writes_is_read_before_the_first_frame(
    store: Store, data_dir: Path
) -> None:
    kept(store, data_dir, TUESDAY_LUNCH)
    later = TUESDAY_LUNCH + dt.timedelta(minutes=1)
    with store.write() as db:  # an import, a sync from a USB stick... while the kiosk is off
        set_setting(db, LANGUAGE, "en")
    store.close()
    assert IdleSnapshot.load(data_dir, later) is None


def test_an_edited_kiosk_toml_is_read_before_the_first_frame(store: Store, data_dir: Path) -> None:
    kept(store, data_dir, TUESDAY_LUNCH)
    toml = data_dir / "kiosk.toml"
    toml.write_text(toml.read_text("utf-8").replace('closes = "14:20"', 'closes = "14:50"'))
    assert IdleSnapshot.load(data_dir, TUESDAY_LUNCH + dt.timedelta(minutes=1)) is None


def test_a_damaged_kept_screen_is_not_used(store: Store, data_dir: Path) -> None:
    kept(store, data_dir, TUESDAY_LUNCH)
    (data_dir / FILE_NAME).write_text('{"font": "/usr/share/fonts/x.ttf", "lan', "utf-8")
    assert IdleSnapshot.load(data_dir, TUESDAY_LUNCH + dt.timedelta(minutes=1)) is None


# The idle screen kept as the app stops (its store closed), made by the real app.
KEEP = """
import sys
from pathlib import Path
from kiosk.cli import open_data
from kiosk.engine import Kiosk
from kiosk.ui.driver import Driver

data = Path(sys.argv[1])
store, cfg = open_data(data)
ui = Driver(Kiosk(store, cfg.kiosk))
snapshot = ui.app.idle_snapshot()
store.close()
snapshot.keep(data)
"""
# The app started from it; two scans come (a card, a book) before the engine is loaded.
START = """
import datetime as dt
import sys
import threading
from pathlib import Path
from kiosk.headless import Scan
from kiosk.ui.driver import Driver
from kiosk.ui.snapshot import IdleSnapshot

data = Path(sys.argv[1])
ui = Driver(None, snapshot=IdleSnapshot.load(data, dt.datetime.now(dt.UTC)))

def idle_screen():
    screen = ui.app.screen("idle")
    return sorted(w.text for w in screen.walk(restrict=True) if getattr(w, "text", "").strip())

first = idle_screen()
print(ui.screen, repr(ui.text().replace(chr(10), " | ")))
scanner = threading.Thread(target=lambda: [ui.app.submit(Scan(c)) for c in ("S0001", "100001")])
scanner.start()
scanner.join()
ui.frames(3)
print(ui.screen)
from kiosk.cli import open_data
from kiosk.engine import Kiosk

store, cfg = open_data(data)
ui.app.ready(Kiosk(store, cfg.kiosk))
ui.frames(3)
print(ui.screen, first == idle_screen())
print(repr(ui.text().replace(chr(10), " | ")))
"""


def test_scans_before_the_engine_is_loaded_are_answered_in_order(tmp_path: Path) -> None:
    require_font()
    data = demo_data(tmp_path)
    for script in (KEEP, START):
        result = run_script(script, data)
    drawn, waiting, answered, session = result.stdout.strip().splitlines()[-4:]
    # The idle screen at once, with the library's news: what the store shows (compared below).
    assert drawn.startswith("idle ") and "请扫描你的借书卡" in drawn and "《" in drawn
    assert waiting == "idle"  # the card and the book wait for the engine...
    assert answered == "session True"  # ...then both are answered, the card first
    assert "你好" in session and "✔ 《" in session


@pytest.mark.slow
def test_the_real_command_draws_the_kept_screen_and_answers_the_first_scans(
    tmp_path: Path,
) -> None:
    require_font()
    data = demo_data(tmp_path)

    run_window_kiosk(
        data, b"S0001\n100001\n:done\n", ["session_started", "checkout", "session_ended"]
    )
    assert IdleSnapshot.load(data, dt.datetime.now(dt.UTC)) is not None  # drawn at the next start
    again = ["session_started", "checkout", "session_ended"] * 2
    run_window_kiosk(data, b"S0002\n100002\n:done\n", again)  # drawn from the kept screen
