"""Shared fixtures: a real SQLite library in a temporary folder, and a clock the test moves."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import CompletedProcess
from zoneinfo import ZoneInfo

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy.orm import Session

from kiosk import config
from kiosk.engine import Kiosk
from kiosk.models import Copy, CopyStatus, Patron, PatronKind, Title
from kiosk.pins import hash_pin
from kiosk.store import Store, alembic_config

# CI tries the same examples at every run, so a failure there is reproducible, never chance;
# a developer's run explores new ones (HYPOTHESIS_PROFILE=ci gives CI's).
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("ci" if os.environ.get("CI") or os.environ.get("KIOSK_NO_SKIP") else "default")
)

TZ = ZoneInfo("Asia/Shanghai")
# A Tuesday of an A week (the timetable below starts A weeks on 2026-08-31).
TUESDAY_LUNCH = dt.datetime(2026, 11, 24, 13, 45, tzinfo=TZ)

TIMETABLE = """
[kiosk]
name = "test-kiosk"
timezone = "Asia/Shanghai"

[policies.student]
max_loans = 2
loan_days = 14
max_renewals = 1
overdue_block_days = 7

[timetable]
week_a_starts = 2026-08-31
closed_dates = [2026-12-08]

[[timetable.window]]
weekdays = ["mon", "tue", "wed", "thu", "fri"]
opens = "13:30"
closes = "14:20"
grades = [3, 4]

[[timetable.window]]
weekdays = ["mon", "tue", "wed", "thu", "fri"]
opens = "13:30"
closes = "14:20"
grades = [5, 6]
week = "A"

[[timetable.window]]
weekdays = ["wed"]
opens = "17:00"
closes = "17:40"
grades = [5, 6]
week = "B"
"""


def require(tool: str, available: bool, why: str) -> None:
    """Skip a test that needs *tool* where it is missing, except in CI where it must be there."""
    if available:
        return
    message = f"needs {tool}: {why}"
    if os.environ.get("KIOSK_NO_SKIP") or os.environ.get("CI"):
        pytest.fail(f"{message} (CI installs it with .ci/run; nothing is skipped there)")
    pytest.skip(message)


class FakeClock:
    """The kiosk's clock, moved by the test."""

    def __init__(self, start: dt.datetime = TUESDAY_LUNCH) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float = 0, **kwargs: float) -> None:
        self.now += dt.timedelta(seconds=seconds, **kwargs)

    def set(self, when: dt.datetime) -> None:
        self.now = when


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "kiosk.toml").write_text(TIMETABLE, encoding="utf-8")
    return tmp_path


@pytest.fixture(scope="session")
def library_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kiosk database with kiosk.toml's settings and the small library, made once: each
    test's store is a copy (migrating a new database took a tenth of a second or more)."""
    folder = tmp_path_factory.mktemp("kiosk-library")
    (folder / "kiosk.toml").write_text(TIMETABLE, encoding="utf-8")
    made = Store.open(folder / "kiosk.db")
    with made.write() as db:
        config.apply(db, config.load(folder))
        add_library(db)
    made.close()
    return folder / "kiosk.db"


@pytest.fixture
def store(data_dir: Path, library_file: Path) -> Iterator[Store]:
    copy_database(library_file, data_dir / "kiosk.db")
    store = Store.open(data_dir / "kiosk.db")
    yield store
    store.close()


def copy_database(source: str | Path, target: str | Path) -> None:
    """A copy of the SQLite database *source* as it is now (its write-ahead log included)."""
    src, dest = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dest)
    finally:
        src.close()
        dest.close()


@pytest.fixture
def kiosk(store: Store, data_dir: Path, clock: FakeClock) -> Kiosk:
    cfg = config.load(data_dir)
    return Kiosk(store, cfg.kiosk, clock=clock, tz=TZ)


HELPER_PIN = "2468"


def run_in_process(main: Callable[[list[str]], int], *argv: str) -> CompletedProcess[str]:
    """A command (its entry point *main*) run in this process, as typed with *argv*: its exit
    code and what it printed, as from a process of its own without the start-up time."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return CompletedProcess(list(argv), code, out.getvalue(), err.getvalue())


def kiosk_at_version(path: Path, revision: str) -> Store:
    """A kiosk database as version *revision* of its schema left it: an older kiosk's."""
    from alembic import command

    store = Store(path)
    config = alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return store


def add_library(db: Session) -> None:
    """A small library: books B001-B010, an unlabelled title by ISBN, students and helpers."""
    added = dt.date(2026, 9, 1)
    for n in range(1, 11):
        title = Title(title=f"Book {n}", author="Author", added_on=added)
        db.add(Copy(barcode=f"B{n:03d}", title=title))
    db.add(
        Copy(
            barcode="REF1",
            title=Title(title="Dictionary", added_on=added),
            status=CopyStatus.REFERENCE,
        )
    )
    picture = Title(isbn="9787020002207", title="红楼梦", added_on=added)
    db.add_all([Copy(title=picture), Copy(title=picture)])
    db.add_all(
        [
            Patron(card="S1", name="小明", class_name="3-1", grade=3),
            Patron(card="S2", name="小红", class_name="3-1", grade=3),
            Patron(card="S5", name="Li Hua", class_name="5-2", grade=5),
            Patron(card="T1", name="王老师", kind=PatronKind.TEACHER),
            Patron(card="GONE", name="Left School", class_name="4-1", grade=4, active=False),
            Patron(
                card="H1",
                name="小助手",
                kind=PatronKind.HELPER,
                class_name="6-1",
                grade=6,
                pin_hash=hash_pin(HELPER_PIN),
            ),
        ]
    )
