"""The change log kiosks pull: the newest state of every changed row, in the order of change.

Every service that changes a title, copy, patron, loan or the rules writes it here in the same
transaction (``Changes``, ``changed``, ``record_change``); kiosks read it page by page with
``changes_since``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from itertools import chain
from typing import Any, NamedTuple

from pydantic_core import to_json
from sqlalchemy import (
    JSON,
    ColumnElement,
    Dialect,
    Insert,
    Select,
    Text,
    TypeDecorator,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from kiosk.clock import utc_now
from kiosk.store import executemany
from sync import wire
from sync.server.db import Database
from sync.server.models import Change, Copy, Loan, Patron, Title


def record_changes(
    session: Session, items: Iterable[tuple[str, str, dict[str, Any] | None]]
) -> None:
    """Make each (kind, key) the newest change, replacing an older change of the same row.

    One statement for them all: a row already in the log is replaced by one with a new version
    (SQLite's INSERT OR REPLACE, PostgreSQL's ON CONFLICT DO UPDATE with the next version).
    """
    latest = {(kind, key): data for kind, key, data in items}
    if not latest:
        return
    session.flush()
    executemany(
        session,
        _newest(session.get_bind().dialect.name),
        [(kind, key, json_text(data)) for (kind, key), data in latest.items()],
        ("kind", "key", "data_json"),
    )


@functools.cache  # one statement object per database kind: compiled once (store.executemany)
def _newest(dialect: str) -> Insert:
    table = Change.__table__
    data = bindparam("data_json", type_=JsonText())
    if dialect == "postgresql":
        upsert = postgresql.insert(table).values(data=data)
        return upsert.on_conflict_do_update(
            index_elements=[table.c.kind, table.c.key],
            set_={
                "version": func.nextval(func.pg_get_serial_sequence(table.name, "version")),
                "data": upsert.excluded.data,
            },
        )
    return insert(table).values(data=data).prefix_with("OR REPLACE")


class JsonText(TypeDecorator[str]):
    """A JSON column's value given as JSON text already (``json_text``): a batch writes
    thousands, and the json module's writing of each cost more than the row's insert."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


def json_text(value: Any) -> str:
    """*value* as JSON, for a JsonText parameter."""
    return to_json(value).decode()


def record_change(session: Session, kind: str, key: str, data: dict[str, Any] | None) -> None:
    record_changes(session, [(kind, key, data)])


class Changes:
    """The rows one transaction changed, written to the change log once, at its end."""

    def __init__(self) -> None:
        self._rows: dict[int, Title | Copy | Patron | Loan] = {}

    def add(self, row: Title | Copy | Patron | Loan) -> None:
        self._rows[id(row)] = row

    def write(self, session: Session) -> None:
        session.add_all(self._rows.values())
        session.flush()  # every new row has its id now
        items = []
        for row in self._rows.values():
            if isinstance(row, Title):
                items.append(("title", str(row.id), title_data(row)))
            elif isinstance(row, Copy):
                items.append(("copy", str(row.id), copy_data(row)))
            elif isinstance(row, Patron):
                items.append(("patron", row.card, patron_data(row)))
            elif row.copy_id is not None:  # a loan of a copy the office does not know stays here
                items.append(("loan", row.id, loan_data(row)))
        record_changes(session, items)
        self._rows.clear()


def title_data(title: Title) -> dict[str, Any]:
    return {
        "id": title.id,
        "isbn": title.isbn,
        "title": title.title,
        "author": title.author,
        "publisher": title.publisher,
        "year": title.year,
        "classification": title.classification,
        "added_on": title.added_on.isoformat(),
    }


def copy_data(copy: Copy) -> dict[str, Any]:
    return {
        "id": copy.id,
        "barcode": copy.barcode,
        "title_id": copy.title_id,
        "status": copy.status,
        "shelf": copy.shelf,
    }


def patron_data(patron: Patron) -> dict[str, Any]:
    return {
        "card": patron.card,
        "name": patron.name,
        "kind": patron.kind,
        "class_name": patron.class_name,
        "grade": patron.grade,
        "active": patron.active and not patron.deleted,
        # Owes for a damaged or lost book (services.compensation): the kiosk refuses loans if
        # its policy says so. What and how much is the office's to know.
        "compensation_due": bool(patron.compensation_due),
        "pin_hash": patron.pin_hash,  # only the hash leaves the office
    }


def loan_data(loan: Loan) -> dict[str, Any]:
    return {
        "id": loan.id,
        "copy_id": loan.copy_id,
        # Who has a book is sent only while they have it (privacy on every kiosk).
        "patron": loan.patron_card if loan.returned_at is None else None,
        "lent_at": loan.lent_at.isoformat(),
        "due_date": loan.due_date.isoformat(),
        "returned_at": loan.returned_at.isoformat() if loan.returned_at else None,
        "renewals": loan.renewals,
        "lent_where": loan.lent_where,
        "implicit_return": loan.implicit_return,
    }


def changed(session: Session, *rows: Title | Copy | Patron | Loan) -> None:
    changes = Changes()
    for row in rows:
        changes.add(row)
    changes.write(session)


def changes_since(
    database: Database, session: Session, cursor: str | None, limit: int
) -> wire.ChangesPage:
    """One page of changes after *cursor*; from the start if the cursor is another database's."""
    page, since = _page(database, session, cursor)
    rows = session.execute(since.after(limit, Change.kind, Change.key, Change.data)).all()
    # Rows the office wrote itself: not validated again on the way out.
    page.changes = [
        wire.Change(version=r.version, kind=r.kind, key=r.key, data=r.data) for r in rows
    ]
    return since.ended(page, len(rows), rows[-1].version if rows else None)


def changes_json(database: Database, session: Session, cursor: str | None, limit: int) -> bytes:
    """changes_since's page as the JSON a kiosk reads, written by the database itself: a full
    copy's tens of thousands of rows are neither decoded nor built into models on their way out
    (what took most of the office's time to send a page). PostgreSQL joins a page's changes
    into one text in their order (string_agg); SQLite, whose group_concat keeps no order,
    gives each change's JSON on its own row.

    A kiosk pulls page after page: how many changes follow a page is remembered for the page
    after it (``_COUNTED``), not counted again."""
    page, since = _page(database, session, cursor, _COUNTED)
    connection = session.connection()  # plain rows: no ORM loading
    made = _as_json(session)
    if session.get_bind().dialect.name == "postgresql":
        listed = since.after(limit, made.label("made")).subquery()
        joined = func.string_agg(listed.c.made, postgresql.aggregate_order_by(
            literal_column("','"), listed.c.version))  # fmt: skip
        count, last, changes = connection.execute(
            select(func.count(), func.max(listed.c.version), joined)
        ).one()
        items = [changes] if count else []
    else:
        rows = connection.execute(since.after(limit, made)).all()
        count, last, items = len(rows), rows[-1][0] if rows else None, [r[1] for r in rows]
    ended = since.ended(page, count, last)
    _COUNTED.remember(database, since.following(last), page.total - count)
    return wire.changes_page_json(ended, items)


class _Since(NamedTuple):
    """Where a page starts: the database's identity, the version its changes follow, and the
    newest version when it was asked for (the page ends there at the latest: its count of what
    follows stays right, whatever is written meanwhile)."""

    database_id: str
    version: int
    top: int

    def after(self, limit: int, *columns: Any) -> Select[Any]:
        """The version and *columns* of the page's changes, in order: the first *limit* after
        its start, but none above the newest version it was asked at (a change written since
        then, which PostgreSQL may show, comes with the next page).

        Not one closed range of versions: on a log just written (no statistics yet) PostgreSQL
        would take it for a few rows, and read and sort all of them for the first *limit*."""
        first = (
            select(Change.version, *columns)
            .where(Change.version > self.version)
            .order_by(Change.version)
            .limit(limit)
            .subquery()
        )
        return select(first).where(first.c.version <= self.top).order_by(first.c.version)

    def following(self, last: int | None) -> _Since:
        """Where the page after this one, ending at *last*, starts."""
        return self if last is None else self._replace(version=last)

    def ended(self, page: wire.ChangesPage, count: int, last: int | None) -> wire.ChangesPage:
        """*page* holding *count* changes, the last of them *last*: its cursor, and whether
        more follow."""
        page.cursor = wire.make_cursor(self.database_id, self.version if last is None else last)
        page.more = page.total > count
        return page


class _Counted:
    """How many changes follow a page's start (up to the newest version when it was asked
    for), as worked out for the page before it, which ended there. A kiosk's pull asks for
    page after page: counting the rest of the log for each cost PostgreSQL (a scan of the
    whole table, rows just written most of all) more than making the page itself.

    A count holds while the newest version is the same: nothing is deleted from the log, a
    replaced row takes a version above the newest, and writers are serialised (a version below
    the newest is never still being written). A newer version: counted afresh."""

    KEPT = 256  # pulls under way at once, and more

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[Database, _Since], int] = {}

    def get(self, database: Database, since: _Since) -> int | None:
        with self._lock:
            return self._counts.pop((database, since), None)

    def remember(self, database: Database, since: _Since, count: int) -> None:
        with self._lock:
            self._counts[database, since] = count
            if len(self._counts) > self.KEPT:
                del self._counts[next(iter(self._counts))]  # the oldest


_COUNTED = _Counted()


def _page(
    database: Database, session: Session, cursor: str | None, counted: _Counted | None = None
) -> tuple[wire.ChangesPage, _Since]:
    """The page after *cursor*, its changes and its own cursor left to the caller; how many
    changes it starts (from *counted* if they were counted for the page before it)."""
    database_id = database.database_id(session)
    cursor_db, version = wire.split_cursor(cursor)
    top = session.scalar(select(func.max(Change.version))) or 0
    reset = bool(cursor) and (cursor_db != database_id or version > top)
    if reset or not cursor:
        version = 0
    since = _Since(database_id, version, top)
    total = counted.get(database, since) if counted is not None else None
    if total is None:  # those up to *top* (a filter: as a range, see _Since.after)
        at_most_top = func.count().filter(Change.version <= top)
        total = session.scalar(select(at_most_top).where(Change.version > version))
    page = wire.ChangesPage(
        cursor="", reset=reset, more=False, total=total or 0, changes=[], server_time=utc_now()
    )
    return page, since


def _as_json(session: Session) -> ColumnElement[str]:
    """A change as the JSON object of a wire.Change, made by the database (its data is JSON
    already, put in as stored)."""
    c = Change.__table__.c
    pairs = [
        (literal_column(f"'{name}'"), column)
        for name, column in (("version", c.version), ("kind", c.kind), ("key", c.key))
    ]
    if session.get_bind().dialect.name == "postgresql":
        made = func.json_build_object(*chain(*pairs), literal_column("'data'"), c.data)
        return cast(made, Text)  # as text: the driver would decode JSON
    data = func.json(c.data)  # JSON, not a string holding JSON
    return func.json_object(*chain(*pairs), literal_column("'data'"), data, type_=Text)
