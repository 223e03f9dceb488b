"""Compensation for books damaged or lost: what a reader owes (by default the price printed on
the book, or an amount the librarian types), whether it is settled, and when.

Recording it settles the book's side: a lost book's loan ends (the reader owes its price, not
the book, so it is no longer out, late or "lost" against them) and the copy stays lost; a
damaged book still out is taken back as at the desk and set aside as damaged. Until it is
settled the reader *owes compensation*: the change log tells every kiosk, and a policy (see
kiosk.rules.refuse_patron, ``block_on_unsettled_compensation``) may refuse them loans there
and at the desk until it is.

A compensation recorded by mistake is cancelled, with a reason: it is owed no longer (kiosks
are told), and kept on the list with who cancelled it, when and why. The book keeps its status
(a lost book's loan stays ended): the Books page changes that if it was a mistake too, and
until a compensation is recorded for it again a damaged or lost book is among those to decide
about.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from kiosk import money, pinyin
from kiosk.clock import utc_now
from kiosk.codes import GarbledCode, clean
from kiosk.models import CopyStatus
from sync.server.models import Compensation, Copy, Loan, Patron, Title
from sync.server.services import N_, NotFound, Refusal, books, desk, overdue
from sync.server.services.changes import changed
from sync.server.services.students import class_order

REASONS = {"damaged": N_("damaged"), "lost": N_("lost")}
MAX_NOTE = 200
# A compensation still owed: neither settled nor cancelled.
_OWED = Compensation.settled_on.is_(None) & Compensation.cancelled_at.is_(None)


class CompensationRefused(Refusal):
    """A compensation that cannot be recorded, settled or cancelled as asked; nothing was
    changed."""


@dataclass(frozen=True)
class CompensationLine:
    id: int
    card: str
    name: str
    class_name: str
    copy: str
    title: str
    reason: str  # damaged or lost
    amount_cents: int
    note: str
    recorded_at: dt.datetime
    recorded_by: str
    settled_on: dt.date | None
    settled_by: str | None
    cancelled_at: dt.datetime | None = None  # recorded by mistake: owed no longer
    cancelled_by: str | None = None
    cancel_reason: str | None = None

    @property
    def owed(self) -> bool:
        return self.settled_on is None and self.cancelled_at is None


@dataclass(frozen=True)
class BookToSettle:
    """A copy damaged or lost since its last loan began, with nothing recorded for it yet:
    who had it last, and what it costs."""

    copy: str
    title: str
    status: str
    price_cents: int | None
    card: str | None  # the last reader (still holding it, if it is lost and out)
    name: str | None
    class_name: str | None
    out: bool  # still on loan to them


# -- what is owed ------------------------------------------------------------------------------


def compensations(
    session: Session, *, class_name: str | None = None, settled: bool | None = None
) -> list[CompensationLine]:
    """The compensations (of a class's readers; only those settled, or only those still owed;
    all: cancelled ones too), by class, then reader, then when recorded."""
    query = (
        select(Compensation)
        .join(Patron, Compensation.patron_id == Patron.id)
        .options(
            joinedload(Compensation.patron),
            joinedload(Compensation.copy).joinedload(Copy.title),
        )
    )
    if class_name is not None:
        query = query.where(Patron.class_name == class_name.strip())
    if settled is not None:
        query = query.where(Compensation.settled_on.is_not(None) if settled else _OWED)
    lines = [_line(row) for row in session.scalars(query)]
    return sorted(
        lines,
        key=lambda line: (
            not line.class_name,
            class_order(line.class_name),
            pinyin.sort_key(line.name),
            line.card,
            line.recorded_at,
        ),
    )


def unsettled(session: Session) -> int:
    """How many compensations are still owed (neither settled nor cancelled)."""
    return session.scalar(select(func.count()).select_from(Compensation).where(_OWED)) or 0


def books_to_settle(session: Session) -> list[BookToSettle]:
    """Copies damaged or lost with no compensation recorded since their last loan began, with
    their last reader: the ones to decide about (charge the reader, repair, write off)."""
    copies = list(
        session.scalars(
            select(Copy)
            .options(joinedload(Copy.title))
            .where(Copy.status.in_([CopyStatus.DAMAGED, CopyStatus.LOST]))
        )
    )
    ids = [c.id for c in copies]
    last_loans: dict[int, Loan] = {}
    for loan in session.scalars(
        select(Loan)
        .options(joinedload(Loan.patron))
        .where(Loan.copy_id.in_(ids), ~Loan.undone)
        .order_by(Loan.lent_at)
    ):
        assert loan.copy_id is not None
        last_loans[loan.copy_id] = loan  # the latest wins
    recorded = dict(
        session.execute(
            select(Compensation.copy_id, func.max(Compensation.recorded_at))
            .where(Compensation.copy_id.in_(ids), Compensation.cancelled_at.is_(None))
            .group_by(Compensation.copy_id)
        ).all()
    )
    found = []
    for copy in copies:
        last = last_loans.get(copy.id)
        done = recorded.get(copy.id)
        if done is not None and (last is None or done >= last.lent_at):
            continue
        reader = last.patron if last is not None else None
        found.append(
            BookToSettle(
                copy=_code(copy),
                title=copy.title.title,
                status=copy.status,
                price_cents=copy.title.price_cents,
                card=reader.card if reader else (last.patron_card if last else None),
                name=reader.name if reader else None,
                class_name=reader.class_name if reader else None,
                out=last is not None and last.returned_at is None,
            )
        )
    return sorted(
        found,
        key=lambda b: (
            not b.class_name,
            class_order(b.class_name or ""),
            pinyin.sort_key(b.name or ""),
            b.copy,
        ),
    )


def book_to_settle(session: Session, code: str) -> BookToSettle:
    """The copy *code* as a compensation for it would start: its last reader, its price."""
    copy = _copy(session, code, None)
    last = session.scalar(
        select(Loan)
        .options(joinedload(Loan.patron))
        .where(Loan.copy_id == copy.id, ~Loan.undone)
        .order_by(Loan.lent_at.desc())
        .limit(1)
    )
    reader = last.patron if last is not None else None
    return BookToSettle(
        copy=_code(copy),
        title=copy.title.title,
        status=copy.status,
        price_cents=copy.title.price_cents,
        card=reader.card if reader else None,
        name=reader.name if reader else None,
        class_name=reader.class_name if reader else None,
        out=last is not None and last.returned_at is None,
    )


# -- recording and settling --------------------------------------------------------------------


def record(
    session: Session,
    *,
    code: str,
    card: str,
    reason: str,
    amount: str = "",
    note: str = "",
    librarian: str,
    now: dt.datetime | None = None,
) -> CompensationLine:
    """What *card* owes for the copy *code*, damaged or lost: *amount* in yuan as typed, or
    the price printed on the book when none is typed."""
    now = now or utc_now()
    if reason not in REASONS:
        raise CompensationRefused(N_("Say whether the book was damaged or lost."))
    patron = _patron(session, card)
    copy = _copy(session, code, patron)
    try:
        typed = money.cents(amount)
    except ValueError:
        raise CompensationRefused(
            N_("{amount} is not an amount in yuan, like 25.80."), amount=amount.strip()[:20]
        ) from None
    cents = typed if typed is not None else copy.title.price_cents
    if cents is None:
        raise CompensationRefused(
            N_("“{title}” has no price: type the amount owed."), title=copy.title.title
        )
    note = " ".join(note.split())
    if len(note) > MAX_NOTE:
        raise CompensationRefused(N_("Write the note in at most {most} characters."), most=MAX_NOTE)
    pending = session.scalar(select(Compensation.id).where(Compensation.copy_id == copy.id, _OWED))
    if pending is not None:
        raise CompensationRefused(
            N_("Compensation {number} for this copy is recorded and not settled yet."),
            number=pending,
        )
    out = session.scalar(select(Loan).where(Loan.copy_id == copy.id, Loan.returned_at.is_(None)))
    written_off = None
    if reason == "lost":
        if out is not None:  # the reader owes its price now, not the book
            out.returned_at, out.not_overdue = max(now, out.lent_at), True
            written_off = out.id
            changed(session, out)
        books.set_status(session, copy.id, CopyStatus.LOST)
    else:
        if out is not None:  # in the librarian's hands: taken back as at the desk
            back = desk.give_back(session, _code(copy), librarian=librarian, now=now)
            if back.outcome != "returned":
                raise CompensationRefused(N_("Take the book back at the desk first."))
        if copy.status not in (CopyStatus.DAMAGED, CopyStatus.IN_REPAIR):
            books.set_status(session, copy.id, CopyStatus.DAMAGED)
    row = Compensation(
        patron=patron,
        copy=copy,
        reason=reason,
        amount_cents=cents,
        note=note,
        recorded_at=now,
        recorded_by=librarian,
        loan_id=written_off,
    )
    session.add(row)
    session.flush()
    _owing(session, patron)
    return _line(row)


def settle(
    session: Session, number: int, *, librarian: str, on: dt.date | None = None
) -> CompensationLine:
    """Compensation *number* paid (or made good) on the day *on* (today if not given)."""
    row = session.get(Compensation, number)
    if row is None:
        raise NotFound(N_("There is no compensation {number}."), number=number)
    if row.settled_on is not None:
        raise CompensationRefused(
            N_("Compensation {number} was settled on {day} already."),
            number=number,
            day=row.settled_on,
        )
    _not_cancelled(session, row)
    today = overdue.today(session)
    recorded = overdue.today(session, row.recorded_at)
    day = on or today
    if not recorded <= day <= today:
        raise CompensationRefused(
            N_("It was settled between the day it was recorded ({recorded}) and today."),
            recorded=recorded,
        )
    row.settled_on, row.settled_by = day, librarian
    session.flush()
    _owing(session, row.patron)
    return _line(row)


def cancel(
    session: Session,
    number: int,
    *,
    librarian: str,
    reason: str,
    now: dt.datetime | None = None,
) -> CompensationLine:
    """Compensation *number*, recorded by mistake, owed no longer: kept with who cancelled
    it, when and *reason*. A settled one stays settled (the money was taken)."""
    row = session.get(Compensation, number)
    if row is None:
        raise NotFound(N_("There is no compensation {number}."), number=number)
    _not_cancelled(session, row)
    if row.settled_on is not None:
        raise CompensationRefused(
            N_("Compensation {number} was settled on {day}: a settled one is not cancelled."),
            number=number,
            day=row.settled_on,
        )
    why = " ".join(reason.split())
    if not why:
        raise CompensationRefused(N_("Say why compensation {number} is cancelled."), number=number)
    if len(why) > MAX_NOTE:
        raise CompensationRefused(
            N_("Write the reason in at most {most} characters."), most=MAX_NOTE
        )
    row.cancelled_at, row.cancelled_by, row.cancel_reason = now or utc_now(), librarian, why
    session.flush()
    _owing(session, row.patron)
    return _line(row)


# -- helpers -----------------------------------------------------------------------------------


def _not_cancelled(session: Session, row: Compensation) -> None:
    if row.cancelled_at is not None:
        raise CompensationRefused(
            N_("Compensation {number} was cancelled on {day}."),
            number=row.id,
            day=overdue.today(session, row.cancelled_at),
        )


def _owing(session: Session, patron: Patron) -> None:
    """Keep what kiosks are told (the patron owes or not) true, in the change log."""
    owes = (
        session.scalar(
            select(func.count())
            .select_from(Compensation)
            .where(Compensation.patron_id == patron.id, _OWED)
        )
        or 0
    ) > 0
    if patron.compensation_due != owes:
        patron.compensation_due = owes
        changed(session, patron)


def _patron(session: Session, card: str) -> Patron:
    try:
        code = clean(card)
    except GarbledCode:
        code = ""
    patron = session.scalar(select(Patron).where(Patron.card == code)) if code else None
    if patron is None:
        raise NotFound(N_("No student or teacher has card {card}."), card=card.strip()[:64])
    return patron


def _copy(session: Session, code: str, patron: Patron | None) -> Copy:
    """The copy with this barcode; of the unlabelled copies with this ISBN, the one *patron*
    has (or a damaged or lost one)."""
    try:
        typed = clean(code)
    except GarbledCode:
        typed = ""
    found = list(
        session.scalars(
            select(Copy)
            .join(Title)
            .options(joinedload(Copy.title))
            .where((Copy.barcode == typed) | ((Title.isbn == typed) & Copy.barcode.is_(None)))
            .order_by(Copy.id)
        )
    )
    if not typed or not found:
        raise NotFound(N_("No copy has barcode {code}."), code=code.strip()[:64])
    if len(found) == 1:
        return found[0]
    theirs = set()
    if patron is not None:
        theirs = set(
            session.scalars(
                select(Loan.copy_id).where(
                    Loan.copy_id.in_([c.id for c in found]),
                    Loan.patron_id == patron.id,
                    Loan.returned_at.is_(None),
                )
            )
        )
    spoilt = (CopyStatus.DAMAGED, CopyStatus.LOST)
    return min(found, key=lambda c: (c.id not in theirs, c.status not in spoilt, c.id))


def _code(copy: Copy) -> str:
    return copy.barcode or copy.title.isbn or f"#{copy.id}"


def _line(row: Compensation) -> CompensationLine:
    return CompensationLine(
        id=row.id,
        card=row.patron.card,
        name=row.patron.name,
        class_name=row.patron.class_name,
        copy=_code(row.copy),
        title=row.copy.title.title,
        reason=row.reason,
        amount_cents=row.amount_cents,
        note=row.note,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
        settled_on=row.settled_on,
        settled_by=row.settled_by,
        cancelled_at=row.cancelled_at,
        cancelled_by=row.cancelled_by,
        cancel_reason=row.cancel_reason,
    )
