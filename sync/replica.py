"""The kiosk's side of sync, in its own database: what to send, acknowledgements, pulled changes.

No network here: the HTTP client (sync.client) and the USB bundle (sync.bundle) both use it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from itertools import chain, compress, count, repeat
from operator import attrgetter, is_, itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError
from sqlalchemy import (
    Row,
    Select,
    bindparam,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from kiosk import config as kiosk_config
from kiosk.clock import CLOCK_WARNING_SECONDS, confirm
from kiosk.models import Copy, CopyStatus, Event, Loan, Patron, Stocktake, Title, sql_time
from kiosk.outbox import acked_through, pending
from kiosk.rules import forget_acknowledged
from kiosk.settings import (
    ACKED_THROUGH,
    ACKNOWLEDGED,
    CLOCK_OFFSET,
    CURSOR,
    ENROLLED,
    KIOSK_ID,
    LAST_ERROR,
    LAST_SYNC,
    OFFICE_RULES,
)
from kiosk.store import (
    Store,
    among,
    changed,
    executemany,
    get_setting,
    insert_values,
    set_setting,
)
from sync import wire

log = logging.getLogger(__name__)

TOKEN_FILE = "sync-token"


class NotEnrolled(Exception):
    """The kiosk has no office to sync with yet."""


# -- enrolment and token ---------------------------------------------------------------------


def token_path(store: Store) -> Path:
    return store.path.with_name(TOKEN_FILE)


def save_token(store: Store, token: str) -> None:
    """Write the token readable by the kiosk's own user only (created so, never widened)."""
    path = token_path(store)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(token + "\n")


def load_token(store: Store) -> str:
    try:
        return token_path(store).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise NotEnrolled(
            "this kiosk is not enrolled: run `kiosk enroll URL CODE` with a code from the office"
        ) from None


def enrolled(session: Session, url: str, kiosk_id: int) -> None:
    set_setting(session, ENROLLED, url)
    set_setting(session, KIOSK_ID, str(kiosk_id))
    # A new office: what was pulled from another one says nothing of this one, and what the
    # old one acknowledged is sent again (an office that has it already just counts it held).
    set_setting(session, CURSOR, "")
    set_setting(session, ACKNOWLEDGED, "")
    set_setting(session, ACKED_THROUGH, "0")
    session.execute(update(Event).values(acked_at=None))


def office_url(session: Session) -> str:
    url = get_setting(session, ENROLLED)
    if not url:
        raise NotEnrolled(
            "this kiosk is not enrolled: run `kiosk enroll URL CODE` with a code from the office"
        )
    return url


# -- what to send ----------------------------------------------------------------------------


def to_wire(event: Event | Row[Any]) -> wire.WireEvent:
    """An outbox event as sent; not validated again (the outbox wrote it through the wire's
    payload models, and the office validates what it receives)."""
    return wire.WireEvent.model_construct(
        seq=event.seq,
        uuid=event.uuid,
        type=event.type,
        at=event.at,
        clock=event.clock,
        payload=event.payload,
    )


def first_unacked(session: Session) -> int | None:
    return session.scalar(select(func.min(Event.seq)).where(Event.seq > acked_through(session)))


def last_acknowledgement(session: Session) -> tuple[int, str | None]:
    """The highest sequence the office last acknowledged, and its proof of having done so."""
    seq, _, proof = (get_setting(session, ACKNOWLEDGED) or "0").partition(" ")
    return int(seq), proof or None


def last_seq(session: Session) -> int:
    return session.scalar(select(func.max(Event.seq))) or 0


def events_from(session: Session, start: int, limit: int | None) -> list[wire.WireEvent]:
    query = (
        select(Event.seq, Event.uuid, Event.type, Event.at, Event.clock, Event.payload)
        .where(Event.seq >= start)
        .order_by(Event.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    return [to_wire(row) for row in session.execute(query)]


class Outbox(NamedTuple):
    """Events as the office takes them: each one's JSON, written by SQLite from its row (the
    payload as stored), with no model made of it on the kiosk."""

    events: list[str]
    first: int  # the first event's sequence, the last's; 0 when there are none
    last: int


def outbox_from(session: Session, start: int, limit: int) -> Outbox:
    """At most *limit* events from *start* on, as the wire carries them (``WireEvent``)."""
    rows = session.connection().exec_driver_sql(_OUTBOX, (start, limit)).all()
    return Outbox(
        [event for _, event in rows], rows[0][0] if rows else 0, rows[-1][0] if rows else 0
    )


# A time is kept as naive UTC text ("2026-11-24 05:45:00.000000"); the wire's is ISO 8601 with
# its offset.
_OUTBOX = (
    "SELECT seq, json_object('seq', seq, 'uuid', uuid, 'type', type,"
    " 'at', replace(at, ' ', 'T') || '+00:00', 'clock', clock, 'payload', json(payload))"
    " FROM events WHERE seq >= ? ORDER BY seq LIMIT ?"
)


def acknowledge(
    session: Session,
    highest_seq: int,
    server_time: dt.datetime,
    offset: float | None,
    proof: str | None = None,
) -> int:
    """Mark events up to *highest_seq* as held by the office; return how many were newly marked.

    *proof* is the office's signature of this acknowledgement, kept to be sent back to it.
    Only events the kiosk has are marked: one it writes later waits for the office whatever
    sequence the office says it holds (a kiosk restored from a backup).
    """
    through = acked_through(session)
    marking = min(highest_seq, last_seq(session))
    marked = 0
    if marking > through:
        # Before they are marked: the returns among them.
        forget_acknowledged(session, through, marking)
        marked = session.execute(
            update(Event)
            .where(Event.seq > through, Event.seq <= marking)
            .values(acked_at=server_time)
        ).rowcount
        set_setting(session, ACKED_THROUGH, str(marking))
    set_setting(session, LAST_SYNC, server_time.isoformat())
    if proof:
        set_setting(session, ACKNOWLEDGED, f"{highest_seq} {proof}")
    if offset is not None:
        set_setting(session, CLOCK_OFFSET, f"{offset:.3f}")
        if abs(offset) <= CLOCK_WARNING_SECONDS:  # the office finds the kiosk's clock right
            confirm(session, server_time - dt.timedelta(seconds=offset), by_office=True)
    return marked or 0


# -- applying what the office sends ----------------------------------------------------------


def _referenced_by_pending(session: Session) -> tuple[set[str], set[str]]:
    """Copy codes and loan ids that events not yet at the office speak of: local news wins."""
    codes: set[str] = set()
    loans: set[str] = set()
    waiting = select(Event.payload).where(Event.seq > acked_through(session))
    for payload in session.scalars(waiting):
        if payload.get("copy"):
            codes.add(str(payload["copy"]))
        if payload.get("loan"):
            loans.add(str(payload["loan"]))
    return codes, loans


def apply_changes(session: Session, changes: list[wire.Change], today: dt.date) -> None:
    """Make the kiosk's rows what the office says, in the caller's transaction.

    In bulk: a page of rows all new to the kiosk (a fresh kiosk's pull, new books and students)
    is written as it comes (``_apply_new``). Any other page: the rows it speaks of are read in a
    few queries, changed in memory in the page's order, then written with one statement per
    kind of row (executemany).
    """
    if _apply_new(session, changes, today):
        return
    rows = _Rows.load(session, changes, today)
    for change in changes:
        data = change["data"]
        if data is None:
            continue  # the office keeps rows (soft deletion): nothing is removed here
        match change["kind"]:
            case "title":
                rows.title(data)
            case "copy":
                rows.copy(data)
            case "patron":
                rows.patron(data)
            case "loan":
                rows.loan(data)
            case _:
                _other(session, change)
    rows.write(session)


class PageError(ValueError):
    """A page of changes the kiosk cannot apply (a row without a field it must have, a value of
    the wrong kind); nothing of it was written."""


def _apply_new(session: Session, changes: list[wire.Change], today: dt.date) -> bool:
    """Write a page whose rows are all new to the kiosk, one insert per kind of row, with no
    row made in memory; False, with nothing written, for a page that speaks of a row the kiosk
    holds or could take for its own (the general way, ``_Rows``, then merges them).

    What the general way would do with such a page, done in bulk: a copy's title is the page's
    or one the kiosk has (a blank one, filled by its own change, if neither); a loan goes to
    the page's copy or one the kiosk has (skipped if neither), to its student while it is open.
    """
    try:
        page, others = _NewRows.read(changes)
    except (KeyError, TypeError, ValueError) as exc:
        raise PageError(f"a row of the page lacks a field or garbles one: {exc}") from None
    known = page.known(session)
    if known is None:
        return False
    page.write(session, known, today)
    for change in others:
        _other(session, change)
    return True


class _NewRows(NamedTuple):
    """A page's titles, copies, students and loans to insert, a column at a time (in the order
    of _FIELDS), the kiosk's own ids not given yet: each row names another by the office's id (a
    copy its title's, a loan its copy's) or a student's card. Dates and times are text as the
    kiosk's SQLite keeps them."""

    titles: list[list[Any]]  # server_id, isbn, title, author, publisher, year, ...
    copies: list[list[Any]]  # server_id, barcode, title's server_id, shelf, status
    patrons: list[list[Any]]  # card, name, kind, class_name, grade, active, ...
    loans: list[list[Any]]  # id, copy's server_id, card, lent_at, due_date, returned_at, ...

    @classmethod
    def read(cls, changes: list[wire.Change]) -> tuple[_NewRows, list[wire.Change]]:
        """The page's rows, a column at a time (each column read and checked in one pass of
        the interpreter's own loops: a page has thousands of rows); and its other changes."""
        rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _FIELDS}
        others: list[wire.Change] = []
        for change in changes:
            kind = rows.get(change["kind"])
            if kind is None:
                others.append(change)
            elif (data := change["data"]) is not None:  # None: the office keeps rows (soft
                kind.append(data)  # deletion), nothing is removed here
        page = cls(*(
            [_column(rows[kind], *field) for field in fields]
            for kind, fields in _FIELDS.items()
        ))  # fmt: skip
        unknown = set(page.copies[4]) - _STATUSES
        if unknown:
            raise ValueError(f"status {', '.join(sorted(map(str, unknown)))}")
        if None in page.loans[3]:
            raise ValueError("lent_at")
        return page, others

    def known(self, session: Session) -> _Known | None:
        """What the rows name that the kiosk holds already (titles, copies, students), if every
        row is new to it and none could be merged with one of its own: no row it holds by the
        office's id, label, card or loan id; no title or unlabelled copy of its own not matched
        yet; no open loan of a copy the page lends; nothing its events not yet at the office
        speak of (the kiosk's news wins); each row once in the page. None otherwise."""
        title_ids, copy_ids, cards, loan_ids = (self.titles[0], self.copies[0], self.patrons[0],
                                                self.loans[0])  # fmt: skip
        barcodes = [code for code in self.copies[1] if code is not None]
        lent = list(map(is_, self.loans[5], repeat(None)))  # not returned: lent now
        open_copies = list(compress(self.loans[1], lent))
        for keys in (title_ids, copy_ids, barcodes, cards, loan_ids, open_copies):
            if len(set(keys)) != len(keys):
                return None
        busy_codes, busy_loans = _referenced_by_pending(session)
        if busy_codes.intersection(barcodes) or busy_loans.intersection(loan_ids):
            return None
        ends = _Ends.read(session)
        if (
            (title_ids and ends.unmatched_title)
            or (len(barcodes) < len(copy_ids) and ends.unlabelled_copy)
            or _held(session, Title.server_id, title_ids, ends.title_ids)
            or _held(session, Copy.server_id, copy_ids, ends.copy_ids)
            or _held(session, Copy.barcode, barcodes, ends.barcodes)
            or _held(session, Patron.card, cards, ends.cards)
            or _held(session, Loan.id, loan_ids, ends.loan_ids)
        ):
            return None
        # A loan of a copy the kiosk holds: new to it only if the copy is not lent there, and
        # not one the kiosk's own news is about.
        copies = _local(session, Copy.server_id, set(self.loans[1]).difference(copy_ids),
                        Copy.id, Copy.barcode)  # fmt: skip
        if any(barcode in busy_codes for _, barcode in copies.values()) or _held(
            session, Loan.copy_id, [copy_id for copy_id, _ in copies.values()], None,
            Loan.returned_at.is_(None),
        ):  # fmt: skip
            return None
        titles = _local(session, Title.server_id, set(self.copies[2]).difference(title_ids),
                        Title.id)  # fmt: skip
        lending = set(filter(None, compress(self.loans[2], lent))).difference(cards)
        patrons = _local(session, Patron.card, lending, Patron.id, Patron.class_name,
                         Patron.grade)  # fmt: skip
        return _Known(
            {k: v[0] for k, v in titles.items()},
            {k: v[0] for k, v in copies.items()},
            patrons,
            {Title: ends.next_title, Copy: ends.next_copy, Patron: ends.next_patron},
        )

    def write(self, session: Session, known: _Known, today: dt.date) -> None:
        """Insert the rows, ids given here: titles (and a blank one for a title named by a copy
        but neither in the page nor at the kiosk, filled by its own change later), copies,
        students, loans of a copy the page or the kiosk has."""
        first = known.first
        server_ids = self.titles[0]
        title_ids = dict(zip(server_ids, count(first[Title])))
        blank = sorted(set(self.copies[2]).difference(title_ids, known.titles))
        _insert(session, Title, [count(first[Title]), *self.titles])
        blanks = count(first[Title] + len(server_ids))
        fixed = (None, "", "", "", None, "", today.isoformat())  # isbn, title, ... added_on
        _insert(session, Title, [blanks, blank, *map(repeat, fixed)])
        title_ids.update(zip(blank, count(first[Title] + len(server_ids))))
        title_ids |= known.titles
        copies = [count(first[Copy]), *self.copies]
        copies[3] = list(map(title_ids.__getitem__, self.copies[2]))
        _insert(session, Copy, copies)
        copy_ids = dict(zip(self.copies[0], count(first[Copy]))) | known.copies
        cards, classes, grades = self.patrons[0], self.patrons[3], self.patrons[4]
        patron_ids = range(first[Patron], first[Patron] + len(cards))
        _insert(session, Patron, [patron_ids, *self.patrons, repeat(0), [None] * len(cards)])
        by_card = known.patrons
        by_card.update(zip(cards, zip(patron_ids, classes, grades, strict=True), strict=True))
        loans = []
        for loan_id, copy, card, lent_at, due, returned_at, renewals, where, implicit in zip(
            *self.loans, strict=True
        ):
            if copy not in copy_ids:
                continue  # a copy the kiosk does not know: as the general way, not kept
            # Who had a returned book is the office's to know, not the kiosk's.
            patron = by_card.get(card) if card and returned_at is None else None
            loans.append(
                (loan_id, copy_ids[copy], *(patron or (None, "", None)), lent_at, due,
                 returned_at, renewals, where, implicit)
            )  # fmt: skip
        if loans:
            _insert(session, Loan, list(zip(*loans, strict=True)))


class _Known(NamedTuple):
    """The kiosk's ids of the rows a page of new rows names but does not bring."""

    titles: dict[int, int]  # by the office's id
    copies: dict[int, int]  # by the office's id
    patrons: dict[str, tuple[int, str, int | None]]  # by card: id, class, grade
    first: dict[type[Title | Copy | Patron], int]  # the id the page's first new row takes


class _Ends(NamedTuple):
    """The ends of the kiosk's keys (a fresh pull's pages come past them: nothing to look up
    one by one) and whether it has rows of its own not matched to the office's, in one query."""

    title_ids: tuple[Any, Any]  # the lowest and highest office id of a title, (None, None): none
    copy_ids: tuple[Any, Any]
    barcodes: tuple[Any, Any]
    cards: tuple[Any, Any]
    loan_ids: tuple[Any, Any]
    unmatched_title: bool  # a title of its own, not matched to one of the office's yet
    unlabelled_copy: bool  # a copy of its own, neither labelled nor matched yet
    next_title: int  # the ids its next new rows take
    next_copy: int
    next_patron: int

    @classmethod
    def read(cls, session: Session) -> _Ends:
        row = session.connection().exec_driver_sql(_ENDS).one()
        pairs = [tuple(row[n : n + 2]) for n in range(0, 10, 2)]
        return cls(*pairs, bool(row[10]), bool(row[11]), *row[12:])  # type: ignore[arg-type]


# Plain SQL: a statement built for each page cost more than its answer (every column indexed).
_ENDS = (
    "SELECT (SELECT min(server_id) FROM titles), (SELECT max(server_id) FROM titles),"
    " (SELECT min(server_id) FROM copies), (SELECT max(server_id) FROM copies),"
    " (SELECT min(barcode) FROM copies), (SELECT max(barcode) FROM copies),"
    " (SELECT min(card) FROM patrons), (SELECT max(card) FROM patrons),"
    " (SELECT min(id) FROM loans), (SELECT max(id) FROM loans),"
    " EXISTS (SELECT 1 FROM titles WHERE server_id IS NULL),"
    " EXISTS (SELECT 1 FROM copies WHERE server_id IS NULL AND barcode IS NULL),"
    " (SELECT coalesce(max(id), 0) + 1 FROM titles),"
    " (SELECT coalesce(max(id), 0) + 1 FROM copies),"
    " (SELECT coalesce(max(id), 0) + 1 FROM patrons)"
)


def _stored_day(text: str) -> str:
    """A date the office sent, as the kiosk's SQLite keeps it ("2026-12-09"); a garbled one
    refused (ValueError)."""
    return dt.date.fromisoformat(text).isoformat()


def _stored_time(text: str | None) -> str | None:
    """A time the office sent (ISO 8601 with its offset), as the kiosk's SQLite keeps it
    (``kiosk.models.sql_time``); a garbled or naive one refused (ValueError)."""
    if not text:
        return None
    at = dt.datetime.fromisoformat(text)
    if _UTC_TIME.fullmatch(text):  # UTC to the microsecond, as the office writes it: as it is
        return f"{text[:10]} {text[11:26]}"
    return sql_time(at)


_UTC_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+00:00")


def _text(values: list[Any]) -> list[Any]:
    """Each of *values* or "" (a text column the office may leave empty)."""
    return values if set(map(type, values)) <= {str} else [value or "" for value in values]


def _days(values: list[Any]) -> list[Any]:
    """Dates the office sent as the kiosk keeps them, each date read once."""
    stored = {text: _stored_day(text) for text in set(values)}
    if all(text == day for text, day in stored.items()):
        return values
    return list(map(stored.__getitem__, values))


def _times(values: list[Any]) -> list[Any]:
    return list(map(_stored_time, values))


def _flags(values: list[Any]) -> list[Any]:
    return list(map(bool, values))


_REQUIRED = object()


def _column(
    rows: list[dict[str, Any]],
    name: str,
    default: Any = _REQUIRED,
    convert: Callable[[list[Any]], list[Any]] | None = None,
) -> list[Any]:
    """The field *name* of each of *rows*, as *convert* makes it; *default* where it is left
    out (a field that may not be: KeyError; a list or an object: ValueError)."""
    try:
        values = list(map(itemgetter(name), rows))
    except KeyError:
        if default is _REQUIRED:
            raise
        values = [row.get(name, default) for row in rows]
    if not _SCALARS.issuperset(map(type, values)):
        raise ValueError(f"{name} is not a number, a text or a flag")
    return convert(values) if convert else values


_SCALARS = frozenset({str, int, float, bool, type(None)})  # what a row's field may be in JSON


# The fields of each kind of row a page of new rows gives, in _NewRows' order of columns: the
# name, the value when left out (none: it may not be) and how it is kept.
_FIELDS: dict[str, list[tuple[Any, ...]]] = {
    "title": [("id",), ("isbn", None), ("title", None, _text), ("author", None, _text),
              ("publisher", None, _text), ("year", None), ("classification", None, _text),
              ("added_on", _REQUIRED, _days)],
    "copy": [("id",), ("barcode", None), ("title_id",), ("shelf", None, _text), ("status",)],
    "patron": [("card",), ("name",), ("kind",), ("class_name", None, _text), ("grade", None),
               ("active", True, _flags), ("compensation_due", False, _flags),
               ("pin_hash", None)],
    "loan": [("id",), ("copy_id",), ("patron", None), ("lent_at", _REQUIRED, _times),
             ("due_date", _REQUIRED, _days), ("returned_at", None, _times), ("renewals", 0),
             ("lent_where", None, _text), ("implicit_return", None, _flags)],
}  # fmt: skip
_STATUSES = frozenset(CopyStatus)
# The columns a page of new rows gives, in their order in _NewRows.write's rows.
_NEW_COLUMNS = {
    Title: ("id", "server_id", "isbn", "title", "author", "publisher", "year", "classification",
            "added_on"),
    Copy: ("id", "server_id", "barcode", "title_id", "shelf", "status"),
    Patron: ("id", "card", "name", "kind", "class_name", "grade", "active", "compensation_due",
             "pin_hash", "failed_pins", "locked_until"),
    Loan: ("id", "copy_id", "patron_id", "patron_class", "patron_grade", "lent_at", "due_date",
           "returned_at", "renewals", "lent_where", "implicit_return"),
}  # fmt: skip


def _insert(
    session: Session, model: type[Title | Copy | Patron | Loan], columns: list[Iterable[Any]]
) -> None:
    """Insert rows given a column at a time (in the order of _NEW_COLUMNS, values as SQLite
    keeps them; a column may be an endless iterator, the rows end with the shortest given one),
    the columns a page does not give with their defaults, as the ORM gives them. A column null
    in every row is left to the database (it makes it null) rather than given for each row: the
    driver's handling of a null costs more than an insert's other values.

    As many rows a statement as SQLite takes values in one (one executemany of the driver for
    all of them): each statement run costs the driver and SQLite about as much again as a row's
    values, and a page has thousands of rows."""
    table = model.__table__
    names = _NEW_COLUMNS[model]
    defaults = {
        c.name: c.default.arg
        for c in table.c
        if c.name not in names and c.default is not None and c.default.is_scalar
    }
    rows = min(len(column) for column in columns if isinstance(column, Sequence))
    if not rows:
        return
    kept = [
        (name, column)
        for name, column in zip(names, columns, strict=True)
        if not isinstance(column, Sequence)
        or column.count(None) < rows
        or table.c[name].server_default is not None
    ]
    kept += [(name, repeat(value)) for name, value in defaults.items()]
    width = len(kept)
    # The rows' values one after the other (endless columns end with the given ones).
    given = zip(*[column for _, column in kept], strict=False)
    values = list(chain.from_iterable(given))
    insert = f"INSERT INTO {table.name} ({', '.join(name for name, _ in kept)}) VALUES "
    one = f"({', '.join('?' * width)})"
    insert_values(session.connection(), insert, one, values)


def _held(
    session: Session, column: Any, values: list[Any], ends: tuple[Any, Any] | None, *where: Any
) -> bool:
    """Whether the kiosk holds a row whose *column* is one of *values*; not looked up if they
    all fall outside *ends*, the lowest and highest of the kiosk's *column*."""
    if not values or (ends is not None and _apart(values, ends)):
        return False
    return session.scalar(select(exists().where(among(session, column, values), *where))) or False


def _apart(values: list[Any], ends: tuple[Any, Any]) -> bool:
    """Whether *values* all fall outside *ends* (found at once, where looking each one up
    would take thousands of lookups: a fresh pull's pages come in the office's order of ids
    and labels, each past the last)."""
    first, last = ends
    if first is None:
        return True
    try:
        return bool(max(values) < first or min(values) > last)
    except TypeError:  # values of mixed kinds: each is looked up
        return False


def _local(
    session: Session, key: Any, values: set[Any], *columns: Any
) -> dict[Any, tuple[Any, ...]]:
    """The kiosk's *columns* of its rows whose *key* is one of *values*, by key."""
    if not values:
        return {}
    query = select(key, *columns).where(among(session, key, values))
    return {row[0]: tuple(row[1:]) for row in session.execute(query)}


def _other(session: Session, change: wire.Change) -> None:
    """A change of a kind not kept in rows of its own: a stocktake, the rules."""
    data = change["data"] or {}
    if change["kind"] == "stocktake":
        _stocktake(session, data)
    elif change["kind"] == "rules" and (rules := _office_rules(data)) is not None:
        set_setting(session, OFFICE_RULES, json.dumps(data))
        kiosk_config.apply(session, rules)


def _stocktake(session: Session, data: dict[str, Any]) -> None:
    """A stocktake the office started or closed (a few a year: kept simple)."""
    stocktake = session.get(Stocktake, data["id"])
    if stocktake is None:
        stocktake = Stocktake(id=data["id"])
        session.add(stocktake)
    stocktake.name = data["name"]
    stocktake.open = bool(data["open"])
    stocktake.whole_library = bool(data["whole_library"])
    stocktake.shelves = list(data["shelves"])
    changed(session)  # the kiosk counting it keeps it in memory (kiosk.engine)


# The kiosk's rows as a pull sees them: the columns the office's changes set, and the id.


@dataclass(slots=True, eq=False)
class _Title:
    id: int
    server_id: int | None
    isbn: str | None
    title: str
    author: str
    publisher: str
    year: int | None
    classification: str
    added_on: dt.date


@dataclass(slots=True, eq=False)
class _Copy:
    id: int
    server_id: int | None
    barcode: str | None
    title_id: int
    shelf: str
    status: str


@dataclass(slots=True, eq=False)
class _Patron:
    id: int
    card: str
    name: str
    kind: str
    class_name: str
    grade: int | None
    active: bool
    compensation_due: bool  # owes for a damaged or lost book (the office says)
    pin_hash: str | None
    failed_pins: int
    locked_until: dt.datetime | None


@dataclass(slots=True, eq=False)
class _Loan:
    id: str
    copy_id: int
    patron_id: int | None
    patron_class: str
    patron_grade: int | None
    lent_at: dt.datetime
    due_date: dt.date
    returned_at: dt.datetime | None
    renewals: int
    lent_where: str
    implicit_return: bool


_Record = _Title | _Copy | _Patron | _Loan
_MODELS: dict[type[_Record], type[Title | Copy | Patron | Loan]] = {
    _Title: Title,
    _Copy: Copy,
    _Patron: Patron,
    _Loan: Loan,
}


def _select(record: type[_Record]) -> Select[Any]:
    table = _MODELS[record].__table__
    return select(*[table.c[f.name] for f in fields(record)])


class _Rows:
    """The kiosk rows one page of changes speaks of, found in a few queries; what it changed."""

    def __init__(self, session: Session, today: dt.date) -> None:
        self.session = session
        self.today = today
        self.titles: dict[int, _Title] = {}  # by office id
        self.unmapped_by_isbn: dict[str, list[_Title]] = {}  # local titles not yet matched
        self.unmapped_by_name: dict[tuple[str, str], _Title] = {}  # (title, author), no ISBN
        self.copies: dict[int, _Copy] = {}  # by office id
        self.barcodes: dict[str, _Copy] = {}
        self.unlabelled: dict[int, list[_Copy]] = {}  # local copies not yet matched, by title
        self.patrons: dict[str, _Patron] = {}  # by card
        self.loans: dict[str, _Loan] = {}
        self.open_loans: dict[int, list[_Loan]] = {}  # by copy id
        # Copies and loans that events not yet at the office speak of: the kiosk's news wins
        # until the office has heard it.
        self.busy_codes, self.busy_loans = _referenced_by_pending(session)
        self.changed: dict[int, _Record] = {}
        self.new: set[int] = set()
        self.next_id = {
            model: (session.scalar(select(func.max(model.id))) or 0) + 1
            for model in (Title, Copy, Patron)
        }

    @classmethod
    def load(cls, session: Session, changes: list[wire.Change], today: dt.date) -> _Rows:
        want: dict[str, set[Any]] = {
            k: set() for k in ("title", "isbn", "copy", "barcode", "card", "loan")
        }
        for change in changes:
            data = change["data"] or {}
            match change["kind"]:
                case "title":
                    want["title"].add(data["id"])
                    if data.get("isbn"):
                        want["isbn"].add(data["isbn"])
                case "copy":
                    want["copy"].add(data["id"])
                    want["title"].add(data["title_id"])
                    if data.get("barcode"):
                        want["barcode"].add(data["barcode"])
                case "patron":
                    want["card"].add(data["card"])
                case "loan":
                    want["copy"].add(data["copy_id"])
                    want["loan"].add(data["id"])
                    if data.get("patron"):
                        want["card"].add(data["patron"])
        rows = cls(session, today)

        def fetch(record: type[_Record], column: Any, values: set[Any], *where: Any) -> list[Any]:
            if not values:
                return []
            query = _select(record).where(among(session, column, values), *where)
            return [record(*row) for row in session.execute(query)]

        rows.titles = {t.server_id: t for t in fetch(_Title, Title.server_id, want["title"])}
        for title in fetch(_Title, Title.isbn, want["isbn"], Title.server_id.is_(None)):
            rows.unmapped_by_isbn.setdefault(title.isbn, []).append(title)
        for row in session.execute(
            _select(_Title).where(Title.server_id.is_(None), Title.isbn.is_(None))
        ):
            title = _Title(*row)
            rows.unmapped_by_name.setdefault((title.title, title.author), title)
        known = {c.id: c for c in fetch(_Copy, Copy.server_id, want["copy"])}
        known |= {c.id: c for c in fetch(_Copy, Copy.barcode, want["barcode"])}
        local_titles = {t.id for t in rows.titles.values()}
        local_titles |= {t.id for ts in rows.unmapped_by_isbn.values() for t in ts}
        local_titles |= {t.id for t in rows.unmapped_by_name.values()}
        for copy in fetch(
            _Copy, Copy.title_id, local_titles, Copy.barcode.is_(None), Copy.server_id.is_(None)
        ):
            known[copy.id] = copy
            rows.unlabelled.setdefault(copy.title_id, []).append(copy)
        rows.copies = {c.server_id: c for c in known.values() if c.server_id is not None}
        rows.barcodes = {c.barcode: c for c in known.values() if c.barcode}
        for loan in fetch(_Loan, Loan.copy_id, set(known), Loan.returned_at.is_(None)):
            rows.open_loans.setdefault(loan.copy_id, []).append(loan)
            rows.loans[loan.id] = loan
        rows.loans |= {
            loan.id: loan for loan in fetch(_Loan, Loan.id, want["loan"] - set(rows.loans))
        }
        rows.patrons = {p.card: p for p in fetch(_Patron, Patron.card, want["card"])}
        return rows

    def _add(self, record: _Record) -> None:
        key = id(record)
        self.new.add(key)
        self.changed[key] = record

    def _changed(self, record: _Record) -> None:
        self.changed.setdefault(id(record), record)

    def _new_id(self, model: type[Title | Copy | Patron]) -> int:
        # Ids given here: a new copy can name its new title in the same statement. No other
        # writer runs meanwhile (the store's write transactions take the lock at BEGIN).
        new_id = self.next_id[model]
        self.next_id[model] += 1
        return new_id

    def _title_for(self, server_id: int) -> _Title:
        title = self.titles.get(server_id)
        if title is None:  # its own change follows (the office changed it after its copy)
            title = _Title(self._new_id(Title), server_id, None, "", "", "", None, "", self.today)
            self._add(title)
            self.titles[server_id] = title
        return title

    def title(self, data: dict[str, Any]) -> None:
        title = self.titles.get(data["id"])
        if title is None and data.get("isbn"):
            unmapped = self.unmapped_by_isbn.get(data["isbn"])
            title = unmapped.pop(0) if unmapped else None
        if title is None and not data.get("isbn"):
            title = self.unmapped_by_name.pop((data["title"], data.get("author") or ""), None)
        if title is None:
            title = _Title(self._new_id(Title), data["id"], None, "", "", "", None, "", self.today)
            self._add(title)
        self.titles[data["id"]] = title
        title.server_id = data["id"]
        title.isbn, title.year = data.get("isbn"), data.get("year")
        title.title = data.get("title") or ""
        title.author = data.get("author") or ""
        title.publisher = data.get("publisher") or ""
        title.classification = data.get("classification") or ""
        title.added_on = dt.date.fromisoformat(data["added_on"])
        self._changed(title)

    def copy(self, data: dict[str, Any]) -> None:
        copy = self.copies.get(data["id"])
        title = self._title_for(data["title_id"])
        if copy is None and data.get("barcode"):
            copy = self.barcodes.get(data["barcode"])
        if copy is None and not data.get("barcode"):
            unlabelled = self.unlabelled.get(title.id)
            copy = unlabelled.pop(0) if unlabelled else None
        if copy is None:
            copy = _Copy(
                self._new_id(Copy), data["id"], data.get("barcode"), title.id, "", "available"
            )
            self._add(copy)
        self.copies[data["id"]] = copy
        if copy.barcode:
            self.barcodes[copy.barcode] = copy
        copy.server_id = data["id"]
        self._changed(copy)
        if copy.barcode and copy.barcode in self.busy_codes:
            return  # the kiosk has news of this copy the office has not heard yet
        copy.barcode, copy.title_id = data.get("barcode"), title.id
        copy.shelf = data.get("shelf") or ""
        copy.status = CopyStatus(data["status"])

    def patron(self, data: dict[str, Any]) -> None:
        patron = self.patrons.get(data["card"])
        if patron is None:
            patron = _Patron(
                self._new_id(Patron), data["card"], "", "", "", None, True, False, None, 0, None
            )
            self._add(patron)
            self.patrons[data["card"]] = patron
        patron.name = data["name"]
        patron.kind = data["kind"]
        patron.class_name = data.get("class_name") or ""
        patron.grade = data.get("grade")
        patron.active = bool(data.get("active", True))
        patron.compensation_due = bool(data.get("compensation_due", False))
        # A small librarian's PIN is the office's to set (an older office sends none: the
        # kiosk keeps its own); a new one starts again from no wrong tries and no lock.
        if "pin_hash" in data and data["pin_hash"] != patron.pin_hash:
            patron.pin_hash, patron.failed_pins, patron.locked_until = data["pin_hash"], 0, None
        self._changed(patron)

    def loan(self, data: dict[str, Any]) -> None:
        copy = self.copies.get(data["copy_id"])
        if copy is None or data["id"] in self.busy_loans:
            return
        if copy.barcode and copy.barcode in self.busy_codes:
            return
        returned_at = _time(data.get("returned_at"))
        lent_at = _time(data["lent_at"])
        assert lent_at is not None
        others = self.open_loans.setdefault(copy.id, [])
        if returned_at is None:
            # The office says this copy is out on this loan: any other loan of it here ended.
            for other in [o for o in others if o.id != data["id"]]:
                other.returned_at, other.implicit_return, other.patron_id = lent_at, True, None
                others.remove(other)
                self._changed(other)
        loan = self.loans.get(data["id"])
        if loan is None:
            loan = _Loan(
                data["id"], copy.id, None, "", None, lent_at, lent_at.date(), None, 0, "", False
            )
            self._add(loan)
            self.loans[loan.id] = loan
        loan.copy_id = copy.id
        loan.lent_at = lent_at
        loan.due_date = dt.date.fromisoformat(data["due_date"])
        loan.returned_at = returned_at
        loan.renewals = data.get("renewals", 0)
        loan.lent_where = data.get("lent_where") or ""
        loan.implicit_return = bool(data.get("implicit_return"))
        self._changed(loan)
        patron = self.patrons.get(data["patron"]) if data.get("patron") else None
        if returned_at is not None:
            loan.patron_id = (
                None  # who had a returned book is the office's to know, not the kiosk's
            )
            if loan in others:
                others.remove(loan)
        else:
            if loan not in others:
                others.append(loan)
            if patron is not None:
                loan.patron_id = patron.id
                loan.patron_class, loan.patron_grade = patron.class_name, patron.grade

    def write(self, session: Session) -> None:
        """Every changed row, one statement per kind of row and way of writing it.

        In an order that keeps every constraint at every step: titles before the copies that
        name them; copies relabelled before new labels are taken; loans that close before
        those that open, and those before new ones (one open loan per copy).
        """
        by_kind: dict[type[_Record], tuple[list[_Record], list[_Record]]] = {
            record: ([], []) for record in _MODELS
        }
        for record in self.changed.values():
            old, new = by_kind[type(record)]
            (new if id(record) in self.new else old).append(record)
        titles, copies, patrons, loans = by_kind.values()
        closing = [loan for loan in loans[0] if loan.returned_at is not None]  # type: ignore[union-attr]
        opening = [loan for loan in loans[0] if loan.returned_at is None]  # type: ignore[union-attr]
        for records, how in (
            (titles[1], "insert"),
            (titles[0], "update"),
            (copies[0], "update"),
            (copies[1], "insert"),
            (patrons[0], "update"),
            (patrons[1], "insert"),
            (closing, "update"),
            (opening, "update"),
            (loans[1], "insert"),
        ):
            if records:
                _write_many(session, records, how)


def _write_many(session: Session, records: list[_Record], how: str) -> None:
    """Insert or update *records* (of one kind) with one executemany of the driver."""
    table = _MODELS[type(records[0])].__table__
    names = [f.name for f in fields(type(records[0]))]  # the id first
    if how == "insert":
        # A new row's columns the office does not send: their defaults, as the ORM gives them.
        defaults = {
            c.name: c.default.arg
            for c in table.c
            if c.name not in names and c.default is not None and c.default.is_scalar
        }
        statement = insert(table).values(defaults) if defaults else insert(table)
        executemany(session, statement, list(map(attrgetter(*names), records)), names)
    else:
        rows = list(map(attrgetter(*names[1:], "id"), records))
        statement = update(table).where(table.c.id == bindparam("row_id"))
        executemany(session, statement, rows, [*names[1:], "row_id"])


def reapply_office_rules(session: Session) -> bool:
    """The office's rules over kiosk.toml's, once the kiosk has pulled them."""
    stored = get_setting(session, OFFICE_RULES)
    rules = _office_rules(json.loads(stored)) if stored else None
    if rules is None:
        return False
    kiosk_config.apply(session, rules)
    return True


def _office_rules(data: Any) -> kiosk_config.KioskConfig | None:
    """The office's rules if they hold values a school could mean; else None, and the kiosk
    keeps its own (an older office may send what this kiosk no longer takes).

    Settings this kiosk does not know (a newer office's, sent before the kiosk is updated)
    are left out and the rest taken: a warning names them, once. A value this kiosk knows to
    be wrong still has it keep its own rules."""
    try:
        return kiosk_config.KioskConfig.model_validate(data)
    except ValidationError as exc:
        unknown = _unknown_settings(exc)
        if unknown is None:
            log.warning("the office's rules are not used, the kiosk keeps its own: %s", exc)
            return None
    try:
        rules = kiosk_config.KioskConfig.model_validate(_without(data, unknown))
    except ValidationError as exc:  # a setting of a kind this kiosk does not know, half read
        log.warning("the office's rules are not used, the kiosk keeps its own: %s", exc)
        return None
    names = {".".join(str(part) for part in path) for path in unknown}
    if names - _ignored_settings:
        _ignored_settings.update(names)
        log.warning(
            "the office's rules hold settings this kiosk does not know (the office is newer):"
            " %s; they are ignored until the kiosk is updated",
            ", ".join(sorted(names)),
        )
    return rules


_ignored_settings: set[str] = set()  # the unknown settings already named in the log


def _unknown_settings(error: ValidationError) -> list[tuple[str | int, ...]] | None:
    """Where the office's rules hold a setting (or a kind of reader) this kiosk does not know;
    None if anything else is wrong with them."""
    problems = [(tuple(p["loc"]), p["type"]) for p in error.errors()]
    unknown = [where for where, kind in problems if kind == "extra_forbidden"]
    unknown += [  # a key of a mapping (a kind of reader): what is under it is unknown too
        where[:-1] for where, kind in problems if kind == "enum" and where[-1:] == ("[key]",)
    ]

    def under(where: tuple[str | int, ...], path: tuple[str | int, ...]) -> bool:
        return len(where) > len(path) and where[: len(path)] == path

    if not all(where in unknown or any(under(where, p) for p in unknown) for where, _ in problems):
        return None
    return [where for where in unknown if not any(under(where, p) for p in unknown)]


def _without(data: Any, paths: Iterable[tuple[str | int, ...]]) -> Any:
    """A copy of *data* (JSON) without the entries at *paths*."""
    kept = json.loads(json.dumps(data))
    for path in paths:
        node = kept
        for part in path[:-1]:
            node = node[part]
        node.pop(path[-1], None)
    return kept


def _time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


# -- what the UI, the lights and doctor show ---------------------------------------------------


@dataclass(frozen=True)
class SyncStatus:
    enrolled: bool
    office: str | None
    pending: int  # events not yet acknowledged by the office
    last_sync: dt.datetime | None
    clock_offset_seconds: float | None  # office time minus kiosk time
    last_error: str | None

    @property
    def clock_warning(self) -> str | None:
        if self.clock_offset_seconds is None or abs(self.clock_offset_seconds) <= (
            CLOCK_WARNING_SECONDS
        ):
            return None
        return f"the kiosk clock is {-self.clock_offset_seconds:+.0f} s off the office's"


def status(session: Session) -> SyncStatus:
    office = get_setting(session, ENROLLED)
    last = get_setting(session, LAST_SYNC)
    offset = get_setting(session, CLOCK_OFFSET)
    return SyncStatus(
        enrolled=bool(office),
        office=office or None,
        pending=pending(session),
        last_sync=dt.datetime.fromisoformat(last) if last else None,
        clock_offset_seconds=float(offset) if offset else None,
        last_error=get_setting(session, LAST_ERROR) or None,
    )
