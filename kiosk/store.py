"""The kiosk's one SQLite file: connection settings, transactions and migrations."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import os
import re
import signal
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    ARRAY,
    URL,
    ColumnElement,
    Connection,
    Dialect,
    Engine,
    Insert,
    Update,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from kiosk.models import Setting
from kiosk.settings import CHANGED

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_MS = 5000
# SQLite keeps up to 2 MB of pages per connection by default, and the kiosk's connections fill
# theirs (the idle screen's panels read through the month's loans; a day of scans touches much
# of the copies' index): 4.4 MB after 1,000 sessions. What a scan reads again (the indexes'
# upper levels, the end of the events table) fits in far less; the rest comes back from the
# system's file cache.
PAGE_CACHE_KIB = 512
BACKUP_STEP_PAGES = 64  # a backup is copied a quarter megabyte at a time
CRASH_AT = "KIOSK_CRASH_AT"


class StoreError(Exception):
    """The database cannot be used (locked, full disk, damaged); its message says what to do."""


def sqlite_engine(
    url: str | URL, busy_timeout_ms: int | None = None, cache_kib: int | None = None
) -> Engine:
    """An engine for a SQLite database with the durability settings on every connection.

    WAL, ``synchronous=FULL``, foreign keys and a busy timeout (*busy_timeout_ms*, else
    BUSY_TIMEOUT_MS); *cache_kib*: each connection's page cache, else SQLite's default. A
    connection run with the execution option ``sqlite_begin="IMMEDIATE"`` takes the write
    lock when its transaction begins.
    """
    engine = create_engine(url)

    def on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # The driver's own transaction handling is off, so that ours (below) is the only one.
        dbapi_connection.isolation_level = None
        busy = BUSY_TIMEOUT_MS if busy_timeout_ms is None else busy_timeout_ms
        pragmas = ["journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"]
        pragmas.append(f"busy_timeout={busy}")
        if cache_kib is not None:
            pragmas.append(f"cache_size=-{cache_kib}")  # negative: in KiB, not pages
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def _on_begin(conn: Any) -> None:
    # A write takes the write lock up front, so it never fails half-way on a lock upgrade.
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


class Store:
    """The library records of one kiosk, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.engine = sqlite_engine(f"sqlite:///{self.path}", cache_kib=PAGE_CACHE_KIB)
        self._writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._scans: _Scans | None = None
        self._watchers: list[Callable[[str], None]] = []

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open the database at *path*, creating or upgrading it (with a backup first)."""
        store = cls(path)
        store.migrate()
        return store

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed as a whole at the end of the block, or not at all."""
        session = Session(self._writer, expire_on_commit=False)
        with _explained(), session, session.begin():
            session.connection()  # BEGIN IMMEDIATE now: whatever the block reads, it reads locked
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        session = Session(self.engine, expire_on_commit=False)
        with _explained(), session, session.begin():
            yield session

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Transaction]:
        """A transaction of the scan path (kiosk.engine) on a plain sqlite3 connection, kept
        open for it: committed as a whole at the end of the block, or not at all.

        A scan waits on this one, so it costs what SQLite costs: no ORM session is made unless
        the block asks for :attr:`Transaction.session`. *write* takes the write lock up front.
        """
        if self._scans is None:
            self._scans = _Scans(self)
        with self._scans.lock, _explained():
            yield from self._scans.run(write)

    def watch(self, seen: Callable[[str], None]) -> None:
        """Call *seen* with each SQL statement sent to the database, BEGIN included and COMMIT
        not (what a benchmark or a test counts)."""
        self._watchers.append(seen)
        event.listen(self.engine, "before_cursor_execute", lambda *args: seen(args[2]))
        if self._scans is not None:
            self._scans.trace()

    def checkpoint(self) -> None:
        """Move what transactions wrote to the write-ahead log into the database file.

        SQLite does this by itself once the log is 1,000 pages long, inside whichever commit
        reaches that length: a scan that waits several times its usual time. A kiosk calls
        this while nobody is at it instead. It never waits for a reader or a writer
        (PASSIVE): what they still use is moved the next time.

        Once all of the log is moved, the next commit starts it again from its beginning, and
        syncs the log's new header before its own pages: two syncs, where a commit otherwise
        has one. On the scan path's connection the log is started again here too, while
        nobody waits, so the scan after a pause syncs once.
        """
        checkpoint = "PRAGMA wal_checkpoint(PASSIVE)"
        if self._scans is not None:  # the scan path's connection: no pool, no SQLAlchemy
            with self._scans.lock, _explained():
                connection = self._scans.connection
                _busy, logged, moved = connection.execute(checkpoint).fetchone()
                if logged and moved == logged:
                    _start_log(connection)
            return
        with _explained(), self.engine.connect() as conn:
            conn.exec_driver_sql(checkpoint).close()

    def close(self) -> None:
        if self._scans is not None:
            with self._scans.lock:  # a scan in flight (the reader's thread) is answered first
                self._scans.close()
            self._scans = None
        self.engine.dispose()

    # -- migrations -------------------------------------------------------------------------

    def revision(self) -> str | None:
        """The schema version of the file (alembic's own table), None for a new file."""
        with _explained(), self.engine.connect() as conn:
            known = conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).first()
            if known is None:
                return None
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

    def migrate(self) -> Path | None:
        """Bring the schema to the newest version; return the backup made first, if any."""
        if self.revision() == head_revision():
            return None  # the usual start: the migration machinery is not even loaded
        with _explained():
            return self._migrate()

    def _migrate(self) -> Path | None:
        from alembic import command

        config = alembic_config()
        head = head_revision()
        current = self.revision()
        backup = self.backup(f"before-{head}") if current is not None else None
        with self._writer.connect() as conn:
            statements = itertools.count(1)

            def step(*_args: Any) -> None:
                crash_point(f"upgrade-statement-{next(statements)}")

            event.listen(conn, "after_cursor_execute", step)
            # Batch mode rebuilds a table by copy, drop and rename, which SQLite allows only with
            # foreign keys off (a pragma that is ignored inside a transaction). They are checked
            # as a whole before the upgrade commits, and on again before the connection is reused.
            sqlite = conn.connection.dbapi_connection
            assert sqlite is not None
            sqlite.execute("PRAGMA foreign_keys=OFF")
            try:
                with conn.begin():
                    config.attributes["connection"] = conn
                    command.upgrade(config, "head")
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise StoreError(f"the upgrade to {head} would break records: {broken[:5]}")
                crash_point("upgrade-committed")
            finally:
                event.remove(conn, "after_cursor_execute", step)
                sqlite.execute("PRAGMA foreign_keys=ON")
        return backup

    def backup(self, label: str) -> Path:
        """A consistent copy of the database beside it (SQLite's online backup)."""
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.stem}.{label}.{stamp}.bak")
        # Written under another name first: a power cut never leaves a half backup that looks whole.
        partial = target.with_name(target.name + ".partial")
        source = sqlite3.connect(self.path)
        dest = sqlite3.connect(partial)
        try:
            with dest:
                source.backup(dest, pages=BACKUP_STEP_PAGES, progress=_backup_step)
        finally:
            dest.close()
            source.close()
        crash_point("backup-written")
        partial.replace(target)
        return target


def _start_log(connection: sqlite3.Connection) -> None:
    """Start the write-ahead log again from its beginning, all of it having been moved into the
    database: a commit that changes nothing (the database's header page written as it is).

    Only if nobody else is writing: then they start it, and a pause never waits on them.
    """
    connection.execute("PRAGMA busy_timeout=0")
    try:
        connection.execute("BEGIN IMMEDIATE")
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        connection.execute(f"PRAGMA user_version={int(version)}")
        connection.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
    finally:
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


class Transaction:
    """One transaction of the scan path: plain statements on the connection (:meth:`execute`),
    and the ORM, on the same transaction, for what is rare (:attr:`session`).

    ``info`` keeps what the transaction has learnt (the copies and loans a scan looked up, the
    rules in force), for the rest of the scan to find without asking the database again.
    """

    def __init__(self, connection: sqlite3.Connection, engine: Engine) -> None:
        self.connection = connection
        self.info: dict[str, Any] = {}
        self._engine = engine
        self._session: Session | None = None

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Cursor:
        if self._session is not None:
            self._session.flush()  # what the ORM changed is read by the plain statements too
        return self.connection.execute(sql, parameters)

    def setting(self, key: str) -> str | None:
        row = self.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    @property
    def session(self) -> Session:
        """An ORM session in this transaction, made when first asked for."""
        if self._session is None:
            self._session = Session(self._engine, expire_on_commit=False)
            self._session.connection()
        return self._session


class _Scans:
    """The plain connection the scan path writes with, and an engine over that one connection
    for the ORM sessions made in its transactions."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lock = threading.RLock()  # a transaction begun inside another fails, not hangs
        # Taken from the store's engine (its settings, made as every connection of the store is)
        # and kept out of its pool for as long as the store is open.
        self._pooled = store.engine.raw_connection()
        self.connection: sqlite3.Connection = self._pooled.driver_connection  # type: ignore[assignment]
        # The transaction is begun and ended here; the sessions join it (no BEGIN of their own)
        # and their commit or rollback ends it.
        self.engine = create_engine(
            "sqlite://", creator=lambda: self.connection, poolclass=StaticPool
        )
        self.engine.connect().close()  # the dialect's first look, outside any transaction
        self.trace()

    def trace(self) -> None:
        watchers = self.store._watchers
        if not watchers:
            return

        def seen(statement: str) -> None:
            if statement != "COMMIT" and not statement.startswith("--"):  # "--": in a trigger
                for watcher in watchers:
                    watcher(statement)

        self.connection.set_trace_callback(seen)

    def run(self, write: bool) -> Iterator[Transaction]:
        transaction = Transaction(self.connection, self.engine)
        self.connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            try:
                yield transaction
            except BaseException:
                self._end(transaction, commit=False)
                raise
            self._end(transaction, commit=True)
        finally:
            if self.connection.in_transaction:  # a commit that failed (a full disk) keeps nothing
                self.connection.execute("ROLLBACK")

    def _end(self, transaction: Transaction, *, commit: bool) -> None:
        session = transaction._session
        if session is None:
            if commit:
                self.connection.execute("COMMIT")
            elif self.connection.in_transaction:  # SQLite ends it itself on some errors (full)
                self.connection.execute("ROLLBACK")
            return
        with session:  # its commit flushes, ends the transaction and runs the store's hooks
            if commit:
                session.commit()
            else:
                session.rollback()

    def close(self) -> None:
        self._pooled.invalidate()  # closed, not put back: the sessions' engine used it too


def executemany(
    session: Session,
    statement: Insert | Update,
    rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]],
    names: Sequence[str] | None = None,
    *,
    same: Mapping[str, Any] | None = None,
) -> None:
    """Run *statement* once for each of *rows* (values by column or bind name, the same names in
    every row; or tuples of values in the order of *names*), in one executemany of the database
    driver, in the session's transaction. *same* holds the values that are the same in every row.

    The values are converted by their columns' own types, as SQLAlchemy does; what is skipped is
    its handling of each row's parameters, which costs more than the database's own work when a
    batch has thousands of rows. Every value is given: a column's Python-side default is not
    applied here, so a statement that would need one is refused. A statement is compiled once
    for the same names: give the same statement object each time (a constant) to use that.
    """
    if not rows:
        return
    same = same or {}
    connection = session.connection()
    if names is None:
        mappings = cast(Sequence[Mapping[str, Any]], rows)
        names = list(mappings[0])
        given = [[row[name] for row in mappings] for name in names]
    else:
        given = [list(column) for column in zip(*rows, strict=True)]
    by_name = dict(zip(names, given, strict=True))
    sql, positional, order = _prepared(statement, connection.dialect, (*names, *same))
    columns = []  # converted a column at a time: one type's conversion over many values
    for name, process, fixed in order:
        if name in by_name:
            columns.append(list(map(process, by_name[name])) if process else by_name[name])
        else:  # the same value in every row: converted once
            value = same.get(name, fixed)
            columns.append([process(value) if process else value] * len(rows))
    if positional:
        many_rows = _VALUES.fullmatch(sql) if connection.dialect.name == "sqlite" else None
        if many_rows:  # an insert of rows: as many a statement as SQLite takes
            insert, one = many_rows.groups()
            values = list(itertools.chain.from_iterable(zip(*columns, strict=True)))
            insert_values(connection, insert, one, values)
            return
        parameters: list[Any] = list(zip(*columns, strict=True))
    else:
        keys = [name for name, _, _ in order]
        parameters = [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]
    connection.exec_driver_sql(sql, parameters)


# A plain insert's SQL as SQLite is given it: the statement up to its values, and one row's.
_VALUES = re.compile(r"(INSERT [^()]*\([^()]*\) VALUES )(\((?:\?, )*\?\))")
MAX_VALUES = 999  # values in one statement: what any SQLite takes (newer ones take more)


def insert_values(connection: Connection, insert: str, one: str, values: list[Any]) -> None:
    """Run *insert* (``INSERT INTO t (a, b) VALUES ``) for rows of *one*'s placeholders
    (``(?, ?)``), their *values* given one after the other, on SQLite: as many rows a
    statement as it takes values in one, the rest a statement each, in one executemany of the
    driver for each. Each statement run costs the driver and SQLite about as much again as a
    row's values, and a batch has thousands of rows."""
    width = one.count("?")
    rows = len(values) // width
    each = MAX_VALUES // width  # rows a statement
    whole = rows - rows % each  # the rows in statements of *each* rows
    if whole:
        many = ", ".join([one] * each)
        connection.exec_driver_sql(insert + many, _grouped(values[: whole * width], width * each))
    if whole < rows:
        connection.exec_driver_sql(insert + one, _grouped(values[whole * width :], width))


def _grouped(values: list[Any], size: int) -> list[tuple[Any, ...]]:
    """*values* in tuples of *size* (as many as there are whole tuples)."""
    return list(zip(*[iter(values)] * size, strict=True))


@functools.lru_cache(maxsize=256)
def _prepared(
    statement: Insert | Update, dialect: Dialect, names: tuple[str, ...]
) -> tuple[str, bool, list[tuple[str, Callable[[Any], Any] | None, Any]]]:
    """*statement* compiled for an executemany of *names*: its SQL, whether its parameters are
    positional, and each parameter's name, conversion and value if not one of *names*."""
    compiled = statement.compile(dialect=dialect, column_keys=list(names), for_executemany=True)
    if compiled.insert_prefetch or compiled.update_prefetch:
        missing = [c.name for c in [*compiled.insert_prefetch, *compiled.update_prefetch]]
        raise ValueError(f"executemany: no value given for {', '.join(missing)}")
    # Binds that are not the rows' (a function's arguments) keep the value in the statement.
    fixed = {name: value for name, value in compiled.params.items() if name not in names}
    order = list(compiled.positiontup or []) if compiled.positional else [*names, *fixed]
    return (
        compiled.string,
        compiled.positional,
        [
            (
                name,
                compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect),
                fixed.get(name),
            )
            for name in order
        ],
    )


def among(
    session: Session, column: ColumnElement[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """*column* IN the values, given as one bound value however many there are: a JSON array
    that SQLite's json_each unpacks, an array on PostgreSQL. A batch's thousands of keys are then
    one short statement, compiled once, not thousands of parameters in chunks."""
    listed = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, listed, type_=ARRAY(column.type)))
    each = func.json_each(json.dumps(listed)).table_valued("value")
    return column.in_(select(each.c.value))


def alembic_config() -> AlembicConfig:
    """Alembic's configuration for the kiosk's migrations (loaded only when one is needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest schema version: the migrations are numbered in one chain (0001_..., 0002_...),
    so the highest number is the head, found without loading alembic."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*.py"))


@contextmanager
def _explained() -> Iterator[None]:
    """The database's failures (a full disk, a lock) as a StoreError that says what to do."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise StoreError(_explain(exc)) from exc
    except Exception as exc:
        orig = getattr(exc, "orig", None)
        if isinstance(orig, sqlite3.OperationalError):
            raise StoreError(_explain(orig)) from exc
        raise


def crash_point(name: str) -> None:
    """A named step of an upgrade, where the crash tests cut the power (KIOSK_CRASH_AT=name):
    each window of the upgrade is tried every time, not by luck of timing."""
    if os.environ.get(CRASH_AT) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _backup_step(_status: int, remaining: int, _total: int) -> None:
    if remaining:
        crash_point("backup-half-written")


def _explain(exc: sqlite3.OperationalError) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"the library database is busy (another program holds it): {text}"
    if "disk" in text or "full" in text:
        return f"the disk is full or failing; free space on the kiosk: {text}"
    return f"the library database failed: {text}"


# -- what does not change between scans --------------------------------------------------
#
# The engine keeps the rules, the timetable and the settings in memory between scans. Whatever
# changes them (kiosk.toml, the office's rules, a sync's clock offset) marks its transaction
# with :func:`changed`. Once that transaction commits, the generation of this process moves on
# and the engine reads them again at its next scan; the transaction also writes a new token to
# the file (settings.CHANGED), which the engine compares while idle, for the changes another
# program made.

_generation = 0


def generation() -> int:
    """Moves on each time a committed transaction changed rules, timetable or settings."""
    return _generation


def changed(session: Session) -> None:
    """This transaction changes what the engine keeps in memory: forget it once committed."""
    session.info["changed"] = True


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.info.get("changed"):
        token = uuid.uuid4().hex
        statement = sqlite_insert(Setting).values(key=CHANGED, value=token)
        session.execute(
            statement.on_conflict_do_update(index_elements=[Setting.key], set_={"value": token})
        )


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    global _generation
    if session.info.pop("changed", False):
        _generation += 1


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("changed", None)


def get_setting(session: Session, key: str, default: str | None = None) -> str | None:
    row = session.get(Setting, key)
    return default if row is None else row.value


def set_setting(session: Session, key: str, value: str) -> None:
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    elif row.value != value:
        row.value = value
    else:
        return
    changed(session)


def all_settings(session: Session) -> dict[str, str]:
    return {key: value for key, value in session.execute(select(Setting.key, Setting.value))}
