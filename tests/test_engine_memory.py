"""The engine keeps rules, timetable and settings in memory between scans: a change to them
counts from the very next scan, and a scan sends few statements to the disk."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kiosk import config
from kiosk.engine import Kiosk
from kiosk.outcome import Kind, Outcome
from kiosk.store import Store
from tests.conftest import TIMETABLE, FakeClock


def scan(kiosk: Kiosk, clock: FakeClock, code: str) -> list[Outcome]:
    clock.advance(3)
    return kiosk.scan(code)


def rewrite_kiosk_toml(store: Store, data_dir: Path, text: str) -> None:
    """kiosk.toml changed and applied, as the kiosk does when it starts (kiosk.cli)."""
    (data_dir / "kiosk.toml").write_text(text, encoding="utf-8")
    with store.write() as db:
        config.apply(db, config.load(data_dir))


def test_a_kiosk_toml_change_counts_from_the_next_scan(
    kiosk: Kiosk, clock: FakeClock, store: Store, data_dir: Path
) -> None:
    started = scan(kiosk, clock, "S1")[-1]
    assert (started.kind, started.may_borrow) == (Kind.SESSION_STARTED, 2)

    rewrite_kiosk_toml(store, data_dir, TIMETABLE.replace("max_loans = 2", "max_loans = 1"))
    lent = scan(kiosk, clock, "B001")
    assert lent[0].kind == Kind.CHECKED_OUT and lent[0].may_borrow == 0  # one book now
    assert lent[-1].reason == "all_taken"

    closed_today = TIMETABLE.replace("closed_dates = [2026-12-08]", "closed_dates = [2026-11-24]")
    rewrite_kiosk_toml(store, data_dir, closed_today)
    greeted = scan(kiosk, clock, "S2")[-1]
    assert greeted.kind == Kind.SESSION_STARTED
    assert greeted.detail.get("blocked") == "closed"  # today is closed now
    refused = scan(kiosk, clock, "B002")[-1]
    assert (refused.kind, refused.reason) == (Kind.REFUSED, "closed")


class Statements:
    """The SQL statements the engine sends to the database (BEGIN included)."""

    def __init__(self, store: Store) -> None:
        self.sent: list[str] = []
        store.watch(self._seen)

    def _seen(self, statement: str) -> None:
        self.sent.append(statement)

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        self.sent = []
        yield self.sent


def test_a_scan_sends_few_statements(kiosk: Kiosk, clock: FakeClock, store: Store) -> None:
    statements = Statements(store)
    scan(kiosk, clock, "S2")  # the first scan reads the rules and the timetable into memory
    kiosk.touch("done")

    with statements.counting() as card:
        assert scan(kiosk, clock, "S1")[-1].kind == Kind.SESSION_STARTED
    with statements.counting() as checkout:
        assert scan(kiosk, clock, "B001")[-1].kind == Kind.CHECKED_OUT
    with statements.counting() as done:
        assert kiosk.touch("done")[-1].kind == Kind.SESSION_ENDED
    with statements.counting() as returned:
        assert scan(kiosk, clock, "B001")[-1].kind == Kind.RETURNED

    assert len(checkout) <= 7, checkout
    assert len(returned) <= 5, returned
    assert len(card) <= 5, card
    assert len(done) <= 5, done


def test_a_change_made_by_another_program_counts_once_the_kiosk_is_idle(
    kiosk: Kiosk, clock: FakeClock, store: Store, data_dir: Path
) -> None:
    started = scan(kiosk, clock, "S1")[-1]
    assert (started.kind, started.may_borrow) == (Kind.SESSION_STARTED, 2)
    kiosk.touch("done")

    # The librarian edits kiosk.toml and runs a kiosk command while the app keeps running:
    # that other program applies it to the same file, as every kiosk command does.
    (data_dir / "kiosk.toml").write_text(TIMETABLE.replace("max_loans = 2", "max_loans = 1"))
    subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--data", str(data_dir), "sync-status"],
        check=True,
        capture_output=True,
    )
    kiosk.idle_light()  # the app asks for it every few seconds while nobody is at the kiosk
    again = scan(kiosk, clock, "S1")[-1]
    assert (again.kind, again.may_borrow) == (Kind.SESSION_STARTED, 1)


def loans_in_the_database_file(store: Store, copy_to: Path) -> int:
    """The loans the database file holds by itself, without its write-ahead log: what a
    checkpoint has moved into it (a copy of the file alone is opened, so nothing moves)."""
    copy_to.write_bytes(store.path.read_bytes())
    with sqlite3.connect(copy_to) as con:
        return con.execute("SELECT count(*) FROM loans").fetchone()[0]


def test_what_a_student_borrowed_reaches_the_database_file_once_nobody_waits(
    kiosk: Kiosk, clock: FakeClock, store: Store, tmp_path: Path
) -> None:
    store.checkpoint()  # the library as it was set up, in the file
    before = loans_in_the_database_file(store, tmp_path / "before.db")
    scan(kiosk, clock, "S1")
    assert scan(kiosk, clock, "B001")[0].kind == Kind.CHECKED_OUT
    clock.advance(1)
    kiosk.tick()  # the student is about to scan the next book: nothing is moved under them
    assert loans_in_the_database_file(store, tmp_path / "busy.db") == before

    clock.advance(2)
    kiosk.tick()  # a pause in the session
    assert loans_in_the_database_file(store, tmp_path / "pause.db") == before + 1

    last = scan(kiosk, clock, "B002")
    assert [o.kind for o in last] == [Kind.CHECKED_OUT, Kind.SESSION_ENDED]  # all taken
    kiosk.tick()  # idle: at once
    assert loans_in_the_database_file(store, tmp_path / "idle.db") == before + 2


def log_started(store: Store) -> bytes:
    """Which start of the write-ahead log the file holds: its header's checkpoint number and
    salts, new each time a commit starts the log again (and syncs the header first)."""
    return Path(f"{store.path}-wal").read_bytes()[12:24]


def test_a_scan_after_a_pause_adds_to_the_log_the_pause_started(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    scan(kiosk, clock, "S1")
    assert scan(kiosk, clock, "B001")[0].kind == Kind.CHECKED_OUT
    clock.advance(3)
    kiosk.tick()  # a pause: the log is moved into the file, and started again
    started = log_started(store)

    # The next book's commit syncs its own pages once, as any commit: it does not start the
    # log again, which would sync the log's header first (a second wait for the disk).
    assert scan(kiosk, clock, "B002")[0].kind == Kind.CHECKED_OUT
    assert log_started(store) == started
    with sqlite3.connect(store.path) as con:  # and the loan is there, for any reader
        lent = con.execute(
            "SELECT count(*) FROM loans JOIN copies ON copies.id = loans.copy_id"
            " WHERE copies.barcode = 'B002' AND loans.returned_at IS NULL"
        )
        assert lent.fetchone()[0] == 1


def test_a_pause_while_another_program_writes_leaves_the_log_to_it(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    scan(kiosk, clock, "S1")
    assert scan(kiosk, clock, "B001")[0].kind == Kind.CHECKED_OUT
    other = sqlite3.connect(store.path, isolation_level=None)  # a sync, holding the write lock
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE settings SET value = value WHERE key = 'timetable.week_a_starts'")
    clock.advance(3)
    assert kiosk.tick() == []  # the pause does not wait for it, nor fail
    other.execute("COMMIT")
    other.close()

    lent = scan(kiosk, clock, "B002")
    assert [o.kind for o in lent] == [Kind.CHECKED_OUT, Kind.SESSION_ENDED]  # all taken


def test_the_rules_in_memory_are_every_rule_of_a_policy() -> None:
    # The engine keeps each policy as plain facts between scans: a rule added to the store's
    # policies must reach them too, or the kiosk would lend by the rules without it.
    from dataclasses import fields

    from kiosk.models import Policy
    from kiosk.rules import PolicyFacts

    columns = {column.key for column in Policy.__mapper__.column_attrs}
    assert {f.name for f in fields(PolicyFacts)} == columns
