"""The librarian's side of the master records: students, books, copy status."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.codes import GarbledCode, clean
from kiosk.importer import BookRow, ImportReport, check_books, known_codes
from kiosk.models import CopyStatus
from sync.server.models import Copy, Patron, Title
from sync.server.services import Refusal, books
from sync.server.services.changes import Changes, changed
from sync.server.services.ledger import find_copy


class CatalogueError(Refusal):
    """A librarian's command cannot be carried out; the message says why. Nothing changed."""


def import_books(
    session: Session, path: Path, *, skip_bad: bool = False, today: dt.date | None = None
) -> ImportReport:
    """Add or update titles and copies from the kiosk's CSV format."""
    with check_books(path, known_codes(session, Patron, Copy, Title), skip_bad=skip_bad) as rows:
        return _import_books(session, rows, rows.report, today)


def _import_books(
    session: Session,
    rows: Iterable[tuple[BookRow, bool]],
    report: ImportReport,
    today: dt.date | None,
) -> ImportReport:
    added_on = today or dt.date.today()
    # Everything looked up once: a catalogue of 20,000 copies imports in seconds.
    copies = {c.barcode: c for c in session.scalars(select(Copy).where(Copy.barcode.is_not(None)))}
    by_isbn = {t.isbn: t for t in session.scalars(select(Title).where(Title.isbn.is_not(None)))}
    titles: dict[str, Title] = {}
    unlabelled: dict[str, list[str]] = {}  # ISBN: the shelf of each of its rows
    changes = Changes()
    with session.no_autoflush:
        for row, _first in rows:
            existing = copies.get(row.barcode) if row.barcode else None
            title = _title_for(row, existing, by_isbn, titles, added_on, report, changes)
            if not row.barcode:
                unlabelled.setdefault(row.isbn, []).append(row.shelf)
                continue
            if existing is None:
                copy = Copy(
                    barcode=row.barcode,
                    title=title,
                    shelf=row.shelf,
                    status="available",
                    added_on=added_on,
                )
                session.add(copy)
                copies[row.barcode] = copy
                report.added += 1
            elif existing.title is not title or existing.shelf != row.shelf:
                existing.title, existing.shelf = title, row.shelf
                copy = existing
                report.updated += 1
            else:
                report.unchanged += 1
                continue
            changes.add(copy)
        for isbn, shelves in unlabelled.items():
            title = titles[isbn]
            have = sorted((c for c in title.copies if c.barcode is None), key=lambda c: c.id)
            for copy, shelf in zip(have, shelves, strict=False):
                if copy.shelf == shelf:
                    report.unchanged += 1
                    continue
                copy.shelf = shelf
                changes.add(copy)
                report.updated += 1
            for shelf in shelves[len(have) :]:
                copy = Copy(
                    barcode=None, title=title, shelf=shelf, status="available", added_on=added_on
                )
                session.add(copy)
                changes.add(copy)
                report.added += 1
    changes.write(session)
    return report


def _title_for(
    row: BookRow,
    existing: Copy | None,
    by_isbn: dict[str, Title],
    titles: dict[str, Title],
    added_on: dt.date,
    report: ImportReport,
    changes: Changes,
) -> Title:
    """The title a row belongs to: one per ISBN; a book without ISBN is a title of its own."""
    key = row.isbn or f"barcode:{row.barcode}"
    if key in titles:
        return titles[key]
    title = by_isbn.get(row.isbn) if row.isbn else (existing.title if existing else None)
    values = dict(
        title=row.title,
        author=row.author,
        publisher=row.publisher,
        year=row.year,
        classification=row.classification,
    )
    if row.price_cents is not None:  # a list without prices keeps the prices known
        values["price_cents"] = row.price_cents
    if title is None:
        title = Title(isbn=row.isbn or None, added_on=added_on, **values)
        if row.isbn:
            by_isbn[row.isbn] = title
        changes.add(title)
    elif any(getattr(title, k) != v for k, v in values.items()):
        for k, v in values.items():
            setattr(title, k, v)
        report.updated += 1
        changes.add(title)
    titles[key] = title
    return title


def mark_copy(session: Session, code: str, status: str, *, by: str = "") -> Copy:
    """The librarian marks a copy (lost, withdrawn, in repair, back available...)."""
    if status not in set(CopyStatus) or status == CopyStatus.ON_LOAN:
        choices = ", ".join(s for s in CopyStatus if s != CopyStatus.ON_LOAN)
        raise CatalogueError(f"{status!r} is not a status to set; one of: {choices}")
    copy = find_copy(session, _code(code))
    if copy is None:
        raise CatalogueError(f"no copy with barcode or ISBN {code}")
    books.set_status(session, copy.id, status, by=by)
    return copy


def remove_patron(session: Session, card: str) -> Patron:
    """A student who left: kept for the records of their loans, never lent to again."""
    patron = session.scalar(select(Patron).where(Patron.card == _code(card)))
    if patron is None:
        raise CatalogueError(f"no student or teacher with card {card}")
    patron.active, patron.deleted = False, True
    changed(session, patron)
    return patron


def _code(typed: str) -> str:
    """A code as the librarian typed it, in the form codes are kept (capitals, no blanks)."""
    try:
        return clean(typed)
    except GarbledCode as exc:
        raise CatalogueError(f"{typed!r} is not a code ({exc.reason})") from exc
