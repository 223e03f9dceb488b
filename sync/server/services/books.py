"""The librarian's books: finding copies, adding a book at the desk, new copies with barcodes of
their own, and a copy's status.

New copies get barcodes made here: a prefix the librarian chooses and a number from a counter
that only grows, so a barcode once given (even to a copy since removed) is never given again,
and none is a card's, another copy's or an ISBN.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError, model_validator
from sqlalchemy import Row, func, or_, select
from sqlalchemy.orm import Session, joinedload

from kiosk import money
from kiosk.codes import GarbledCode, clean, code_key, is_isbn13, normalise_isbn
from kiosk.importer import BookRow
from kiosk.models import CopyStatus
from sync.server.models import Copy, Loan, Patron, Repair, Setting, Title
from sync.server.services import N_, NotFound, Refusal, overdue
from sync.server.services.changes import Changes

PREFIX_KEY = "copy_barcode_prefix"
NEXT_KEY = "copy_barcode_next"
DEFAULT_PREFIX = "B"
DIGITS = 6
MAX_PREFIX = 8
MAX_COPIES = 200  # at once: more is a typing slip (2000 for 20)
SEARCH_LIMIT = 200
# What a librarian may set; on loan is the kiosks' and the desk's to say.
SETTABLE = [s for s in CopyStatus if s != CopyStatus.ON_LOAN]
STATUS_NAMES = {
    CopyStatus.AVAILABLE: N_("on the shelf"),
    CopyStatus.ON_LOAN: N_("on loan"),
    CopyStatus.DAMAGED: N_("damaged"),
    CopyStatus.IN_REPAIR: N_("in repair"),
    CopyStatus.LOST: N_("lost"),
    CopyStatus.WITHDRAWN: N_("withdrawn"),
    CopyStatus.REFERENCE: N_("reference only"),
}


class BookRefused(Refusal):
    """A book or copy the office cannot take as typed; nothing was changed."""


@dataclass(frozen=True)
class CopyLine:
    id: int
    barcode: str | None
    status: str
    shelf: str
    added_on: dt.date | None
    title_id: int
    title: str
    author: str
    isbn: str | None
    classification: str
    holder: str | None = None  # on loan: the reader's name (their card if the office lacks it)
    holder_card: str | None = None
    due: dt.date | None = None


@dataclass(frozen=True)
class TitleInfo:
    id: int
    isbn: str | None
    title: str
    author: str
    publisher: str
    year: int | None
    classification: str
    price_cents: int | None  # the price printed on the book, in fen
    copies: list[CopyLine]


@dataclass(frozen=True)
class BarcodeScheme:
    prefix: str
    next_number: int

    @property
    def next_barcode(self) -> str:
        return barcode_for(self.prefix, self.next_number)


class DeskBook(BookRow):
    """A book typed at the desk: as a row of a book list, but its barcodes are made here."""

    @model_validator(mode="after")
    def _identified(self) -> DeskBook:
        return self


def _lines(session: Session, copies: Iterable[Copy]) -> list[CopyLine]:
    """The copies as listed: each one on loan with who has it and until when."""
    listed = list(copies)
    lent = [c.id for c in listed if c.status == CopyStatus.ON_LOAN]
    holders = {}
    if lent:
        holders = {
            row.copy_id: row
            for row in session.execute(
                select(Loan.copy_id, Loan.patron_card, Patron.name, Loan.due_date)
                .outerjoin(Patron, Loan.patron_id == Patron.id)
                .where(Loan.copy_id.in_(lent), Loan.returned_at.is_(None))
            )
        }
    return [_line(copy, holders.get(copy.id)) for copy in listed]


def _line(copy: Copy, loan: Row[Any] | None) -> CopyLine:
    title = copy.title
    return CopyLine(
        id=copy.id,
        barcode=copy.barcode,
        status=copy.status,
        shelf=copy.shelf,
        added_on=copy.added_on,
        title_id=title.id,
        title=title.title,
        author=title.author,
        isbn=title.isbn,
        classification=title.classification,
        holder=None if loan is None else loan.name or loan.patron_card,
        holder_card=None if loan is None else loan.patron_card,
        due=None if loan is None else loan.due_date,
    )


def _info(session: Session, title: Title) -> TitleInfo:
    copies = sorted(title.copies, key=lambda c: c.id)
    return TitleInfo(
        id=title.id,
        isbn=title.isbn,
        title=title.title,
        author=title.author,
        publisher=title.publisher,
        year=title.year,
        classification=title.classification,
        price_cents=title.price_cents,
        copies=_lines(session, copies),
    )


# -- finding -----------------------------------------------------------------------------------


def search(session: Session, typed: str, *, limit: int = SEARCH_LIMIT) -> list[CopyLine]:
    """Copies whose title or author holds *typed*, whose classification starts with it, or
    whose barcode or ISBN it is (an ISBN however written, a barcode in any letter case)."""
    words = " ".join(typed.split())
    if not words:
        return []
    pattern = f"%{_escape_like(words)}%"
    matches = [
        Title.title.ilike(pattern, escape="\\"),
        Title.author.ilike(pattern, escape="\\"),
        Title.classification.ilike(f"{_escape_like(words)}%", escape="\\"),
    ]
    isbn = normalise_isbn(words)
    if isbn:
        matches.append(Title.isbn == isbn)
    with contextlib.suppress(GarbledCode):  # too long to be a barcode: title and author only
        matches.append(Copy.barcode == clean(words))
    query = (
        select(Copy)
        .join(Title)
        .options(joinedload(Copy.title))
        .where(or_(*matches))
        .order_by(Title.title, Copy.barcode, Copy.id)
        .limit(limit)
    )
    return _lines(session, session.scalars(query))


def added_since(session: Session, day: dt.date, *, limit: int = SEARCH_LIMIT) -> list[CopyLine]:
    """The copies added since *day*, newest last (the labels still to print)."""
    query = (
        select(Copy)
        .options(joinedload(Copy.title))
        .where(Copy.added_on >= day)
        .order_by(Copy.id)
        .limit(limit)
    )
    return _lines(session, session.scalars(query))


def title_info(session: Session, title_id: int) -> TitleInfo:
    title = session.get(Title, title_id)
    if title is None:
        raise NotFound(N_("There is no such book."))
    return _info(session, title)


def title_by_isbn(session: Session, typed: str) -> TitleInfo | None:
    """The book with this ISBN, if the library has it already."""
    isbn = normalise_isbn(typed)
    if isbn is None:
        raise BookRefused(N_("{isbn} is not a valid ISBN: check its digits."), isbn=typed.strip())
    title = session.scalar(select(Title).where(Title.isbn == isbn))
    return None if title is None else _info(session, title)


def count_copies(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Copy)) or 0


# -- adding ------------------------------------------------------------------------------------


def barcode_for(prefix: str, number: int) -> str:
    return f"{prefix}{number:0{DIGITS}d}"


def barcode_scheme(session: Session) -> BarcodeScheme:
    prefix = session.get(Setting, PREFIX_KEY)
    counter = session.get(Setting, NEXT_KEY)
    return BarcodeScheme(
        prefix=prefix.value if prefix else DEFAULT_PREFIX,
        next_number=int(counter.value) if counter else 1,
    )


def set_barcode_prefix(session: Session, typed: str) -> BarcodeScheme:
    """The letters that begin every new copy's barcode (the numbers keep counting up)."""
    prefix = typed.strip().upper()
    if not (prefix == "" or (len(prefix) <= MAX_PREFIX and prefix.isascii() and prefix.isalnum())):
        raise BookRefused(
            N_("A barcode prefix is up to {most} letters or digits, like B or LIB."),
            most=MAX_PREFIX,
        )
    _set(session, PREFIX_KEY, prefix)
    return barcode_scheme(session)


def _set(session: Session, key: str, value: str) -> None:
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value


def new_barcodes(session: Session, count: int) -> list[str]:
    """*count* barcodes never given before, the counter moved past them."""
    scheme = barcode_scheme(session)
    number = scheme.next_number
    made: list[str] = []
    while len(made) < count:
        batch = [barcode_for(scheme.prefix, n) for n in range(number, number + count)]
        number += count
        taken = {code_key(c) for c in _codes_in_use(session, batch)}
        made += [b for b in batch if code_key(b) not in taken and not is_isbn13(b)]
    made = made[:count]
    last = int(made[-1][len(scheme.prefix) :]) if made else number - 1
    _set(session, NEXT_KEY, str(last + 1))
    return made


def _codes_in_use(session: Session, codes: list[str]) -> list[str]:
    """Which of *codes* are a copy's or a card's already (codes are kept in capitals)."""
    return [
        *session.scalars(select(Copy.barcode).where(Copy.barcode.in_(codes))),
        *session.scalars(select(Patron.card).where(Patron.card.in_(codes))),
    ]


def add_book(
    session: Session,
    *,
    isbn: str,
    title: str,
    author: str = "",
    publisher: str = "",
    year: str = "",
    classification: str = "",
    shelf: str = "",
    price: str = "",
    copies: int = 1,
    today: dt.date | None = None,
) -> tuple[TitleInfo, list[str]]:
    """A book scanned or typed at the desk, with *copies* new copies and their barcodes.

    A book whose ISBN the library has already gets the new copies (and the details typed,
    if they differ); another becomes a new title. *price*: in yuan, as printed on the book.
    """
    book = _desk_book(isbn, title, author, publisher, year, classification, shelf, price)
    if not 1 <= copies <= MAX_COPIES:
        raise BookRefused(N_("Between 1 and {most} copies at once, please."), most=MAX_COPIES)
    changes = Changes()
    found = session.scalar(select(Title).where(Title.isbn == book.isbn)) if book.isbn else None
    details = dict(
        title=book.title,
        author=book.author,
        publisher=book.publisher,
        year=book.year,
        classification=book.classification,
    )
    if book.price_cents is not None:  # left empty: the price known stays
        details["price_cents"] = book.price_cents
    if found is None:
        found = Title(isbn=book.isbn or None, added_on=today or dt.date.today(), **details)
        session.add(found)
        changes.add(found)
    elif any(getattr(found, k) != v for k, v in details.items()):
        for key, value in details.items():
            setattr(found, key, value)
        changes.add(found)
    barcodes = _add_copies(session, found, copies, book.shelf, today, changes)
    changes.write(session)
    return _info(session, found), barcodes


def add_copies(
    session: Session, title_id: int, copies: int, shelf: str = "", today: dt.date | None = None
) -> tuple[TitleInfo, list[str]]:
    """*copies* more copies of a book the library has, each with a new barcode."""
    title = session.get(Title, title_id)
    if title is None:
        raise NotFound(N_("There is no such book."))
    if not 1 <= copies <= MAX_COPIES:
        raise BookRefused(N_("Between 1 and {most} copies at once, please."), most=MAX_COPIES)
    shelf = _desk_book(title.isbn or "", title.title, shelf=shelf).shelf
    changes = Changes()
    barcodes = _add_copies(session, title, copies, shelf, today, changes)
    changes.write(session)
    return _info(session, title), barcodes


def _add_copies(
    session: Session,
    title: Title,
    count: int,
    shelf: str,
    today: dt.date | None,
    changes: Changes,
) -> list[str]:
    barcodes = new_barcodes(session, count)
    for barcode in barcodes:
        copy = Copy(
            barcode=barcode,
            title=title,
            shelf=shelf,
            status=CopyStatus.AVAILABLE,
            added_on=today or dt.date.today(),
        )
        session.add(copy)
        changes.add(copy)
    return barcodes


def _desk_book(
    isbn: str,
    title: str,
    author: str = "",
    publisher: str = "",
    year: str = "",
    classification: str = "",
    shelf: str = "",
    price: str = "",
) -> DeskBook:
    typed = dict(
        isbn=isbn,
        title=title,
        author=author,
        publisher=publisher,
        year=year,
        classification=classification,
        shelf=shelf,
        price_cents=price,
    )
    try:
        return DeskBook.model_validate(typed)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        raise _problem(field, typed.get(field, "")) from exc


def _problem(field: str, value: str) -> BookRefused:
    """What is wrong with a field typed at the desk, in words a page can translate."""
    if field == "isbn":
        return BookRefused(N_("{isbn} is not a valid ISBN: check its digits."), isbn=value)
    if field == "title" and not value.strip():
        return BookRefused(N_("A book needs its title."))
    if field == "year":
        return BookRefused(N_("The year is the year it was published, like 2015."))
    if field == "price_cents":
        return BookRefused(N_("The price is an amount in yuan, like 25.80."))
    return BookRefused(_TOO_LONG.get(field, _TOO_LONG["title"]))


_TOO_LONG = {
    "title": N_("The title is too long or holds a character that cannot be shown."),
    "author": N_("The author is too long or holds a character that cannot be shown."),
    "publisher": N_("The publisher is too long or holds a character that cannot be shown."),
    "classification": N_(
        "The classification is too long or holds a character that cannot be shown."
    ),
    "shelf": N_("The shelf is too long or holds a character that cannot be shown."),
}


def set_price(session: Session, title_id: int, typed: str) -> TitleInfo:
    """The price printed on the book, in yuan (empty: not known)."""
    title = session.get(Title, title_id)
    if title is None:
        raise NotFound(N_("There is no such book."))
    try:
        title.price_cents = money.cents(typed)
    except ValueError:
        raise BookRefused(N_("The price is an amount in yuan, like 25.80.")) from None
    return _info(session, title)


# -- status ------------------------------------------------------------------------------------


def set_status(
    session: Session, copy_id: int, status: str, *, by: str = "", today: dt.date | None = None
) -> CopyLine:
    """Mark a copy damaged, in repair, lost, withdrawn... or back on the shelf (*by* whom).

    A copy sent to repair is not for loan until it comes back; the repairs' record keeps the
    day it went and the day it came back, and as what (services.repairs lists them)."""
    if status not in SETTABLE:
        raise BookRefused(N_("That is not a status a copy can be given here."))
    copy = session.get(Copy, copy_id)
    if copy is None:
        raise NotFound(N_("There is no such copy."))
    if copy.status != status:
        if status == CopyStatus.IN_REPAIR and copy.status == CopyStatus.ON_LOAN:
            raise BookRefused(
                N_("{code} is on loan: take it back before sending it to repair."),
                code=copy.barcode or copy.title.isbn or copy.id,
            )
        _keep_repairs(session, copy, status, by, today or overdue.today(session))
        copy.status = CopyStatus(status)
        changes = Changes()
        changes.add(copy)
        changes.write(session)
    return _lines(session, [copy])[0]


def _keep_repairs(session: Session, copy: Copy, status: str, by: str, day: dt.date) -> None:
    """The repair of *copy* ends as it leaves "in repair"; a new one starts as it enters it."""
    for away in session.scalars(
        select(Repair).where(Repair.copy_id == copy.id, Repair.back_on.is_(None))
    ):
        away.back_on, away.back_by, away.came_back_as = max(day, away.sent_on), by, status
    if status == CopyStatus.IN_REPAIR:
        session.add(Repair(copy=copy, sent_on=day, sent_by=by))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
