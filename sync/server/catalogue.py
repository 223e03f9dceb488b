"""The librarian's side of the master records: students, books, copy status, rules."""

from __future__ import annotations

import datetime as dt
import tomllib
from collections import Counter
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.config import KioskConfig
from kiosk.importer import (
    BOOK_HEADERS,
    STUDENT_HEADERS,
    BookRow,
    ImportReport,
    StudentRow,
    _check,
    _drop_repeats,
    _rows,
)
from kiosk.models import CopyStatus
from sync.server.ledger import changed_copy, find_copy, patron_data, record_change, title_data
from sync.server.models import Copy, Patron, Title


class CatalogueError(Exception):
    """A librarian's command cannot be carried out; the message says why. Nothing changed."""


def import_students(session: Session, path: Path, *, skip_bad: bool = False) -> ImportReport:
    """Add or update students from the kiosk's CSV format; the card is the key."""
    rows, problems = _rows(path, STUDENT_HEADERS, StudentRow)
    rows = _drop_repeats(rows, "card", problems)
    report = ImportReport()
    _check(problems, skip_bad, report)
    for _line, row in rows:
        assert isinstance(row, StudentRow)
        patron = session.scalar(select(Patron).where(Patron.card == row.card))
        values = dict(name=row.name, class_name=row.class_name, grade=row.grade, kind=str(row.kind))
        if patron is None:
            patron = Patron(card=row.card, active=True, deleted=False, **values)
            session.add(patron)
            report.added += 1
        elif any(getattr(patron, k) != v for k, v in values.items()) or patron.deleted:
            for key, value in values.items():
                setattr(patron, key, value)
            patron.active, patron.deleted = True, False
            report.updated += 1
        else:
            report.unchanged += 1
            continue
        record_change(session, "patron", patron.card, patron_data(patron))
    return report


def import_books(
    session: Session, path: Path, *, skip_bad: bool = False, today: dt.date | None = None
) -> ImportReport:
    """Add or update titles and copies from the kiosk's CSV format."""
    rows, problems = _rows(path, BOOK_HEADERS, BookRow)
    rows = _drop_repeats(rows, "barcode", problems)
    report = ImportReport()
    _check(problems, skip_bad, report)
    added_on = today or dt.date.today()
    titles: dict[str, Title] = {}
    unlabelled: Counter[str] = Counter()
    touched: set[int] = set()
    changed: list[Copy] = []
    for _line, row in rows:
        assert isinstance(row, BookRow)
        title = _title_for(session, row, titles, added_on, report, touched)
        if not row.barcode:
            unlabelled[row.isbn] += 1
            continue
        copy = session.scalar(select(Copy).where(Copy.barcode == row.barcode))
        if copy is None:
            copy = Copy(barcode=row.barcode, title=title, shelf=row.shelf, status="available")
            session.add(copy)
            report.added += 1
        elif copy.title is not title or copy.shelf != row.shelf:
            copy.title, copy.shelf = title, row.shelf
            report.updated += 1
        else:
            report.unchanged += 1
            continue
        changed.append(copy)
    for isbn, wanted in unlabelled.items():
        title = titles[isbn]
        have = len([c for c in title.copies if c.barcode is None])
        for _ in range(wanted - have):
            copy = Copy(barcode=None, title=title, status="available")
            session.add(copy)
            changed.append(copy)
            report.added += 1
        report.unchanged += min(have, wanted)
    session.flush()
    for title in {t.id: t for t in titles.values()}.values():
        if title.id in touched:
            record_change(session, "title", str(title.id), title_data(title))
    for copy in changed:
        changed_copy(session, copy)
    return report


def _title_for(
    session: Session,
    row: BookRow,
    titles: dict[str, Title],
    added_on: dt.date,
    report: ImportReport,
    touched: set[int],
) -> Title:
    key = row.isbn or f"barcode:{row.barcode}"
    if key in titles:
        return titles[key]
    title = None
    if row.isbn:
        title = session.scalar(select(Title).where(Title.isbn == row.isbn))
    elif row.barcode:
        copy = session.scalar(select(Copy).where(Copy.barcode == row.barcode))
        title = copy.title if copy else None
    values = dict(
        title=row.title,
        author=row.author,
        publisher=row.publisher,
        year=row.year,
        classification=row.classification,
    )
    if title is None:
        title = Title(isbn=row.isbn or None, added_on=added_on, **values)
        session.add(title)
    elif any(getattr(title, k) != v for k, v in values.items()):
        for k, v in values.items():
            setattr(title, k, v)
        report.updated += 1
    else:
        titles[key] = title
        return title
    session.flush()
    touched.add(title.id)
    titles[key] = title
    return title


def mark_copy(session: Session, code: str, status: str) -> Copy:
    """The librarian marks a copy (lost, withdrawn, in repair, back available...)."""
    if status not in set(CopyStatus) or status == CopyStatus.ON_LOAN:
        choices = ", ".join(s for s in CopyStatus if s != CopyStatus.ON_LOAN)
        raise CatalogueError(f"{status!r} is not a status to set; one of: {choices}")
    copy = find_copy(session, code)
    if copy is None:
        raise CatalogueError(f"no copy with barcode or ISBN {code}")
    copy.status = CopyStatus(status)
    changed_copy(session, copy)
    return copy


def remove_patron(session: Session, card: str) -> Patron:
    """A student who left: kept for the records of their loans, never lent to again."""
    patron = session.scalar(select(Patron).where(Patron.card == card))
    if patron is None:
        raise CatalogueError(f"no student or teacher with card {card}")
    patron.active, patron.deleted = False, True
    record_change(session, "patron", patron.card, patron_data(patron))
    return patron


def set_rules(session: Session, path: Path) -> KioskConfig:
    """Policies and timetable for every kiosk, from a file in kiosk.toml's format."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        config = KioskConfig.model_validate(
            {k: v for k, v in raw.items() if k in ("policies", "timetable")}
        )
    except OSError as exc:
        raise CatalogueError(f"{path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise CatalogueError(f"{path}: {problems}") from exc
    record_change(
        session, "rules", "all", config.model_dump(mode="json", include={"policies", "timetable"})
    )
    return config
