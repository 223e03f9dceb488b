"""A power cut at any instant: the real `kiosk` command killed with SIGKILL while it lends.

Each round starts the headless kiosk on the same data folder, feeds it students and books
through a pipe, and kills it at a random moment: during start-up, in the middle of a
transaction, or just after it printed an answer. After each kill the database must be whole
(SQLite's integrity check, the library's own invariants), and every loan or return the kiosk
had printed must be in it, in the order printed: a green light is never taken back.

The same for a new version upgrading an old kiosk's database: killed during the backup or the
upgrade, the database is the old version untouched or the new one with every loan, and the
next start finishes the upgrade.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from kiosk import config
from kiosk.models import Copy, Event, Loan, Patron, Title
from kiosk.store import CRASH_AT, Store
from tests.conftest import kiosk_at_version
from tests.test_engine_properties import check_library

UTC = ZoneInfo("UTC")
COPIES = [f"C{n:03d}" for n in range(1, 61)]
CARDS = [f"P{n:02d}" for n in range(1, 21)]
# Open all day, every day, for everybody: the kiosk runs on the real clock.
SETTINGS = """
[kiosk]
name = "crash-kiosk"
timezone = "UTC"

[policies.student]
max_loans = 3
loan_days = 14
max_renewals = 1
overdue_block_days = 7

[[timetable.window]]
weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
opens = "00:00"
closes = "23:59:59"
"""
# The events one engine call writes, for the answer printed of it (kill before the print).
ONE_CALL = [
    [],
    ["checkout"],
    ["implicit_return", "checkout"],
    ["return"],
    ["session_started"],
    ["session_ended"],
    ["session_ended", "session_started"],
    # the last book a child may take ends the session in the same transaction
    ["checkout", "session_ended"],
    ["implicit_return", "checkout", "session_ended"],
]


def make_library(data: Path) -> None:
    (data / "kiosk.toml").write_text(SETTINGS, encoding="utf-8")
    store = Store.open(data / "kiosk.db")
    try:
        with store.write() as db:
            config.apply(db, config.load(data))
            added = dt.date(2026, 9, 1)
            for code in COPIES:
                db.add(Copy(barcode=code, title=Title(title=f"Book {code}", added_on=added)))
            for card in CARDS:
                db.add(Patron(card=card, name=f"Student {card}", class_name="4-1", grade=4))
    finally:
        store.close()


def script(rng: random.Random, sessions: int) -> bytes:
    """Students borrowing and returning, as scanner lines; never the same code twice in a row
    (the kiosk ignores a repeat within 2 seconds, and this script is fed at full speed)."""
    lines: list[str] = []
    last = ""

    def scan(options: list[str]) -> None:
        nonlocal last
        code = rng.choice([o for o in options if o != last])
        lines.append(code)
        last = code

    for _ in range(sessions):
        if rng.random() < 0.3:
            scan(COPIES)  # a book handed back with no session open
            continue
        scan(CARDS)
        for _ in range(rng.randint(1, 3)):
            scan(COPIES)
            if rng.random() < 0.2:
                lines.append(":return")  # answers "return or renew?" if the book was theirs
        lines.append(":done")
    return ("\n".join(lines) + "\n").encode()


class Child:
    """The headless kiosk in its own process, its answers collected as they are printed."""

    def __init__(self, data: Path, feed: bytes) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "--data", str(data), "run", "--headless"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(feed)  # smaller than a pipe's buffer; stdin stays open
        self.proc.stdin.flush()
        self.lines: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, count: int, timeout: float) -> None:
        """Until the kiosk has printed *count* answers (a kiosk that stops short fails)."""
        deadline = time.monotonic() + timeout
        while len(self.lines) < count:
            assert self.proc.poll() is None, f"the kiosk stopped after {len(self.lines)} answers"
            assert time.monotonic() < deadline, f"only {len(self.lines)} answers in {timeout} s"
            time.sleep(0.0005)

    def kill(self) -> list[dict]:
        """SIGKILL, then every answer printed in full before it."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._reader.join(timeout=10)
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return [json.loads(line) for line in self.lines if line.endswith(b"\n")]


def printed_events(answers: list[dict]) -> list[tuple]:
    """The outbox events that the printed answers promise, in order."""
    promised: list[tuple] = []
    for answer in answers:
        match answer["outcome"]:
            case "checked_out":
                if answer.get("detail", {}).get("implicit_return"):
                    promised.append(("implicit_return", answer["copy"]))
                promised.append(("checkout", answer["copy"], answer["patron"], answer["due"]))
            case "returned":
                promised.append(("return", answer["copy"]))
            case "session_started":
                promised.append(("session_started", answer["patron"]))
            case "session_ended" if answer["patron"]:
                promised.append(("session_ended", answer["patron"]))
    return promised


def as_promise(event: Event) -> tuple:
    p = event.payload
    match event.type:
        case "checkout":
            return ("checkout", p["copy"], p["patron"], p["due"])
        case "return" | "implicit_return":
            return (event.type, p["copy"])
        case _:
            return (event.type, p.get("patron"))


def check_after_kill(data: Path, since_seq: int, answers: list[dict]) -> int:
    """Everything a kill must leave true; returns the last event's sequence number."""
    raw = sqlite3.connect(data / "kiosk.db")
    try:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        raw.close()

    store = Store(data / "kiosk.db")
    try:
        with store.read() as db:
            check_library(db, tz=UTC)
            new = list(db.scalars(select(Event).where(Event.seq > since_seq).order_by(Event.seq)))
            written = [as_promise(e) for e in new]
            promised = printed_events(answers)
            # What was printed is in the database, in the same order ...
            assert written[: len(promised)] == promised, (promised, written)
            # ... and at most the one call that was cut off before its answer came out.
            assert [w[0] for w in written[len(promised) :]] in ONE_CALL, written[len(promised) :]
            for event in new:
                if event.type == "checkout":
                    loan = db.get(Loan, event.payload["loan"])
                    assert loan is not None
                    assert (loan.copy.barcode, loan.patron and loan.patron.card) == (
                        event.payload["copy"],
                        event.payload["patron"],
                    )
            return db.scalar(select(func.max(Event.seq))) or 0
    finally:
        store.close()


@pytest.mark.parametrize(
    "rounds",
    [
        pytest.param(3, id="quick"),
        pytest.param(35, id="many", marks=pytest.mark.slow),
    ],
)
def test_kill_at_random_moments_loses_nothing_printed(tmp_path: Path, rounds: int) -> None:
    rng = random.Random(rounds)  # the moments differ by timing anyway; the feed is repeatable
    data = tmp_path / "kiosk"
    data.mkdir()
    make_library(data)
    last_seq = 0
    lent = returned = 0
    for _ in range(rounds):
        child = Child(data, script(rng, sessions=120))
        if rng.random() < 0.2:
            time.sleep(rng.uniform(0, 1.2))  # while it starts up and applies kiosk.toml
        else:
            child.wait_for(rng.randint(1, 120), timeout=120)
            time.sleep(rng.uniform(0, 0.01))  # somewhere inside the next transaction
        answers = child.kill()
        last_seq = check_after_kill(data, last_seq, answers)
        lent += sum(a["outcome"] == "checked_out" for a in answers)
        returned += sum(a["outcome"] == "returned" for a in answers)
    # The rounds did real work, not only start-ups.
    assert lent > rounds and returned > 0, (lent, returned)


# -- a power cut while a new version upgrades the database --------------------------------

FIRST_VERSION = "0001"  # never edited; later versions change its tables
OLD_COPIES = 5_000  # a backup of several steps (kiosk.store.BACKUP_STEP_PAGES)
OLD_OPEN_LOANS = 40  # two for each student: each may borrow one more


def old_kiosk(path: Path) -> set[str]:
    """A kiosk database as the first version wrote it: books, students, loans; their ids."""
    kiosk_at_version(path, FIRST_VERSION).close()
    rows = range(1, OLD_COPIES + 1)
    lent = dt.datetime.now(UTC).replace(tzinfo=None) - dt.timedelta(days=1)  # stored as UTC
    due = (lent + dt.timedelta(days=14)).date().isoformat()
    loans = [(str(uuid.uuid4()), n, 1 + n % len(CARDS)) for n in range(1, OLD_OPEN_LOANS + 1)]
    with closing(sqlite3.connect(path)) as con, con:  # closed: the file whole, no WAL beside it
        con.executemany(
            "INSERT INTO titles (id, title, author, publisher, classification, subjects,"
            " reading_level, language, added_on) VALUES (?, ?, '', '', '', '', '', '', ?)",
            [(n, f"Book {n}", "2025-09-01") for n in rows],
        )
        con.executemany(
            "INSERT INTO copies (id, barcode, title_id, status, shelf) VALUES (?, ?, ?, ?, '')",
            [(n, f"C{n:03d}", n, "on_loan" if n <= OLD_OPEN_LOANS else "available") for n in rows],
        )
        # The same policies and timetable as SETTINGS, as the old version applied them.
        con.executemany(
            "INSERT INTO policies VALUES (?, ?, ?, ?, ?)",
            [
                ("student", 3, 14, 1, 7),
                ("teacher", 10, 30, 2, 30),
                ("helper", 3, 14, 1, 7),
                ("librarian", 20, 30, 3, 60),
            ],
        )
        con.executemany(
            "INSERT INTO opening_windows (weekday, opens, closes, grades, week)"
            " VALUES (?, '00:00:00.000000', '23:59:59.000000', '', 'every')",
            [(day,) for day in range(7)],
        )
        con.executemany(
            "INSERT INTO patrons (id, card, name, kind, class_name, grade, active, failed_pins)"
            " VALUES (?, ?, ?, 'student', '4-1', 4, 1, 0)",
            [(n, card, f"Student {card}") for n, card in enumerate(CARDS, 1)],
        )
        con.executemany(
            "INSERT INTO loans (id, copy_id, patron_id, patron_class, patron_grade, lent_at,"
            " due_date, renewals, lent_where, implicit_return)"
            " VALUES (?, ?, ?, '4-1', 4, ?, ?, 0, 'old-kiosk', 0)",
            [(loan, copy, patron, lent.isoformat(" "), due) for loan, copy, patron in loans],
        )
        con.executemany(
            "INSERT INTO events (seq, uuid, type, at, clock, payload) VALUES (?, ?, 'checkout', ?,"
            " 'ok', ?)",
            [
                (
                    seq,
                    str(uuid.uuid4()),
                    lent.isoformat(" "),
                    json.dumps(
                        {"loan": loan, "copy": f"C{copy:03d}", "patron": CARDS[patron - 1]}
                        | {"due": due}
                    ),
                )
                for seq, (loan, copy, patron) in enumerate(loans, 1)
            ],
        )
    return {loan for loan, _, _ in loans}


def check_after_upgrade_kill(data: Path, old_loans: set[str], old_schema: list) -> str:
    """Whole, and either still the old version untouched or the new one with every loan."""
    with closing(sqlite3.connect(data / "kiosk.db")) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
        (revision,) = raw.execute("SELECT version_num FROM alembic_version").fetchone()
        schema = raw.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
        loans = {row[0] for row in raw.execute("SELECT id FROM loans")}
    assert old_loans <= loans
    if revision == FIRST_VERSION:
        assert schema == old_schema, "an upgrade half done"
        assert loans == old_loans
    else:
        store = Store(data / "kiosk.db")
        try:
            assert store.revision() == revision
            with store.read() as db:
                check_library(db, tz=UTC)
        finally:
            store.close()
    return revision


def upgrade_killed_at(data: Path, pristine: Path, point: str) -> int:
    """The new version started on a copy of the old database, the power cut at *point*
    (kiosk.store.crash_point); its exit status (-9 if the power went there)."""
    if data.exists():
        shutil.rmtree(data)
    data.mkdir()
    (data / "kiosk.toml").write_text(SETTINGS, encoding="utf-8")
    shutil.copy(pristine, data / "kiosk.db")
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--data", str(data), "run", "--headless"],
        input=b"",  # a kiosk that got past the point stops at once: no scans
        capture_output=True,
        timeout=300,
        env={**os.environ, CRASH_AT: point},
    ).returncode


def check_backups(data: Path) -> None:
    """Every backup file is a whole database; a half-written one never looks like a backup."""
    for backup in data.glob("*.bak"):
        with closing(sqlite3.connect(backup)) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)], backup
            assert raw.execute("SELECT count(*) FROM copies").fetchone() == (OLD_COPIES,)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a kiosk started for each statement of every migration, and more come
def test_kill_during_upgrade_keeps_every_loan(tmp_path: Path) -> None:
    """A new version starts on an old kiosk's database and the power goes at each step of the
    upgrade in turn: during the backup, after it, after each statement of the upgrade, after
    it commits. Each time the database is whole, old or new with every loan, and the next
    start finishes the upgrade."""
    pristine = tmp_path / "old.db"
    old_loans = old_kiosk(pristine)
    with closing(sqlite3.connect(pristine)) as raw:
        old_schema = raw.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
    points = ["backup-half-written", "backup-written"]
    points += [f"upgrade-statement-{n}" for n in range(1, 1000)]
    seen: dict[str, str] = {}

    def killed_two_at_once() -> Iterator[tuple[str, Path, int]]:
        """Each point's kiosk killed, two at once on folders of their own: the upgrade has many."""
        with ThreadPoolExecutor(max_workers=2) as pool:
            for first in range(0, len(points), 2):
                batch = points[first : first + 2]
                folders = [tmp_path / point for point in batch]
                statuses = pool.map(upgrade_killed_at, folders, [pristine] * len(batch), batch)
                yield from zip(batch, folders, statuses, strict=True)

    for point, data, status in killed_two_at_once():
        if status == 0:  # the upgrade has no such step: every one of them was tried
            assert point.startswith("upgrade-statement-") and point != "upgrade-statement-1"
            break
        assert status == -signal.SIGKILL, (point, status)
        seen[point] = check_after_upgrade_kill(data, old_loans, old_schema)
        check_backups(data)
        # The next start on what the power cut left finishes the upgrade.
        Store.open(data / "kiosk.db").close()
        assert check_after_upgrade_kill(data, old_loans, old_schema) != FIRST_VERSION
        check_backups(data)
        shutil.rmtree(data)
    data = tmp_path / "kiosk"
    assert upgrade_killed_at(data, pristine, "upgrade-committed") == -signal.SIGKILL
    assert check_after_upgrade_kill(data, old_loans, old_schema) != FIRST_VERSION
    # Before the commit nothing of the upgrade is kept; the backup was cut in the middle too.
    assert set(seen.values()) == {FIRST_VERSION}, seen
    assert len(seen) > 10, seen  # a backup and table rebuilds: many steps, each one tried

    # And the upgraded kiosk lends, loans of the old version included.
    child = Child(data, script(random.Random(7), sessions=20))
    child.wait_for(20, timeout=120)
    answers = child.kill()
    assert any(a["outcome"] == "checked_out" for a in answers), answers
    check_after_upgrade_kill(data, old_loans, old_schema)
