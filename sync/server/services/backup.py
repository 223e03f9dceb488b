"""Backups of the office's SQLite database, and putting one back. These work on the database
file itself rather than a session: the database may be too damaged to open.

A backup is SQLite's online backup (sqlite3's ``Connection.backup``): a consistent copy taken
while the server runs and kiosks push, since in WAL mode a reader never stops a writer. Each is
a dated file in a folder, written under a partial name and renamed once whole and checked, and
copies older than a number of days are deleted (the newest is always kept).

A PostgreSQL office is backed up with PostgreSQL's own pg_dump (see docs/deploy.md).
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sync.server.services import Refusal

PREFIX = "library-server-"
STAMP = "%Y%m%d-%H%M%S"
_NAME = re.compile(rf"^{PREFIX}(\d{{8}}-\d{{6}})\.db$")


class BackupError(Refusal):
    """The backup or restore could not be made; nothing was changed. The message says why."""


@dataclass(frozen=True)
class Made:
    path: Path
    removed: list[Path]


def backup(database: Path, folder: Path, keep_days: int, now: dt.datetime | None = None) -> Made:
    """Copy *database* to FOLDER/library-server-YYYYMMDD-HHMMSS.db; delete copies older than
    *keep_days* days."""
    if keep_days < 1:
        raise BackupError("keep at least one day of backups")
    if not database.exists():
        raise BackupError(f"there is no database at {database}")
    now = now or dt.datetime.now()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{PREFIX}{now.strftime(STAMP)}.db"
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    _copy(database, partial)
    problem = _check(partial)
    if problem:
        partial.unlink()
        raise BackupError(f"the copy of {database} is not sound ({problem}); nothing was kept")
    partial.replace(target)
    return Made(target, prune(folder, keep_days, now))


def prune(folder: Path, keep_days: int, now: dt.datetime) -> list[Path]:
    """Delete the backups in *folder* dated more than *keep_days* before *now*, never the newest."""
    dated = sorted(
        (dt.datetime.strptime(m.group(1), STAMP), path)
        for path in folder.iterdir()
        if (m := _NAME.match(path.name))
    )
    limit = now - dt.timedelta(days=keep_days)
    removed = [path for when, path in dated[:-1] if when < limit]
    for path in removed:
        path.unlink()
    return removed


def restore(database: Path, source: Path, folder: Path) -> Path:
    """Put the backup *source* in place of *database*, keeping the database as it was first in
    *folder*; returns that safety copy. Run it with the server stopped."""
    if not source.is_file():
        raise BackupError(f"there is no backup at {source}")
    problem = _check(source)
    if problem:
        raise BackupError(f"{source} is not a sound backup ({problem}); nothing was changed")
    if not _is_office_database(source):
        raise BackupError(f"{source} is not an office database; nothing was changed")
    folder.mkdir(parents=True, exist_ok=True)
    safety = folder / f"before-restore-{dt.datetime.now().strftime(STAMP)}.db"
    if database.exists():
        if _check(database):  # damaged: keep its bytes as they are, and start from the backup
            safety.write_bytes(database.read_bytes())
            for leftover in ("", "-wal", "-shm"):
                Path(f"{database}{leftover}").unlink(missing_ok=True)
        else:
            _copy(database, safety)
    _copy(source, database)
    return safety


def _copy(source: Path, target: Path) -> None:
    src = sqlite3.connect(source)
    dest = sqlite3.connect(target)
    try:
        with dest:
            src.backup(dest)
    finally:
        dest.close()
        src.close()


def _check(path: Path) -> str:
    """ "" if the SQLite file at *path* passes its integrity check, else what is wrong."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return "" if result == [("ok",)] else "; ".join(row[0] for row in result[:5])


def _is_office_database(path: Path) -> bool:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    return {"alembic_version", "events", "kiosks"} <= tables
