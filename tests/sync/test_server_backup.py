"""`library-server backup` and `restore`: copies made while kiosks push are whole, hold every event
acknowledged before they began, and put back they let the kiosks fill in what came after."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from kiosk.models import Event
from sync.server.services import backup
from tests.sync.support import KioskUnderTest, Office, enrolled

ROUNDS = 12
# Each kiosk lends its own books to its own student, so that nothing is refused.
WHO = {"kiosk-a": ("S1", "B001"), "kiosk-b": ("S2", "B002"), "kiosk-c": ("S5", "B003")}


def server(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The librarian's command in a process of its own, as the nightly timer runs it."""
    return subprocess.run(
        [sys.executable, "-m", "sync.server.cli", "--data", str(data), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def acknowledged(kiosk: KioskUnderTest) -> set[str]:
    with kiosk.store.read() as db:
        return set(db.scalars(select(Event.uuid).where(Event.acked_at.is_not(None))))


def office_events(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT uuid FROM events")}
    finally:
        conn.close()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.slow
def test_backup_while_kiosks_push_is_restored_whole(sqlite_office: Office, make_kiosk) -> None:
    office = sqlite_office
    kiosks = [enrolled(office, make_kiosk, name, own_clock=True) for name in WHO]
    acked: set[str] = set()
    lock = threading.Lock()
    failures: list[BaseException] = []

    def work(kiosk: KioskUnderTest) -> None:
        card, book = WHO[kiosk.folder.name]
        try:
            for _ in range(ROUNDS):
                kiosk.lend(card, book)
                kiosk.scan(book)  # no session open: the book comes back
                kiosk.client.sync()
                done = acknowledged(kiosk)  # the office said it holds these
                with lock:
                    acked.update(done)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in kiosks]
    for thread in threads:
        thread.start()
    made: list[tuple[Path, set[str]]] = []
    while any(t.is_alive() for t in threads) or len(made) < 2:
        with lock:
            before = set(acked)
        result = server(office.data, "backup", "--keep-days", "7")
        assert result.returncode == 0, result.stderr
        path = Path(result.stdout.split("backup written to ")[1].split(";")[0].strip())
        made.append((path, before))
        if len(made) > 1 and made[-1][0] == made[-2][0]:
            made.pop(-2)  # two in one second: the later one replaced the earlier
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(acked) >= len(WHO) * ROUNDS * 2  # every loan and return reached the office

    for path, before in made:
        assert integrity(path) == "ok"
        assert before <= office_events(path), f"{path.name} lacks acknowledged events"

    # The last backup goes back in place, with the office stopped.
    last, before = made[-1]
    office.stop()
    database = office.data / "library-server.db"
    everything = office_events(database)
    result = server(office.data, "restore", str(last))
    assert result.returncode == 0, result.stderr
    assert integrity(database) == "ok"
    assert before <= office_events(database) <= everything
    safety = Path(result.stdout.rsplit("kept in ", 1)[1].strip())
    assert office_events(safety) == everything  # the database as it was is kept too

    # The office started again holds less than the kiosks were told: they send it again.
    office.start()
    for kiosk in kiosks:
        kiosk.client.sync()
    assert office_events(database) == everything


def test_old_backups_are_deleted_the_newest_never(tmp_path: Path) -> None:
    database = tmp_path / "library-server.db"
    sqlite3.connect(database).close()
    folder = tmp_path / "backups"
    now = dt.datetime(2026, 11, 24, 2, 30)
    old = backup.backup(database, folder, 14, now - dt.timedelta(days=16)).path
    recent = backup.backup(database, folder, 14, now - dt.timedelta(days=3)).path
    other = folder / "notes.txt"
    other.write_text("the librarian's own file")
    made = backup.backup(database, folder, 14, now)
    assert made.removed == [old]
    assert sorted(folder.iterdir()) == sorted([recent, made.path, other])
    # Only old copies left: the newest stays whatever its age.
    assert backup.prune(folder, 1, now + dt.timedelta(days=100)) == [recent]
    assert made.path.exists()


def test_restore_refuses_what_is_not_a_sound_office_backup(sqlite_office: Office) -> None:
    office = sqlite_office
    office.stop()
    database = office.data / "library-server.db"
    before = database.read_bytes()
    junk = office.data / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    kiosk_db = office.data / "kiosk.db"
    conn = sqlite3.connect(kiosk_db)
    conn.execute("CREATE TABLE loans (id INTEGER)")
    conn.close()
    for wrong, why in (
        (junk, "not a sound backup"),
        (kiosk_db, "not an office database"),
        (office.data / "missing.db", "no backup"),
    ):
        result = server(office.data, "restore", str(wrong))
        assert result.returncode == 1
        assert why in result.stderr
    assert database.read_bytes() == before
    assert not (office.data / "backups").exists() or not any((office.data / "backups").iterdir())
