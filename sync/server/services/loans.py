"""Loans as the office sees them, merged from every kiosk."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from sync.server.models import Copy, Loan, Patron


@dataclass(frozen=True)
class LoanLine:
    loan: str
    patron: str | None  # the card
    name: str | None
    class_name: str | None
    copy: str  # the barcode (or ISBN) the kiosk lent
    title: str | None
    lent_at: dt.datetime
    due: dt.date
    where: str
    grade: int | None = None
    kind: str | None = None  # the reader's: student, helper, teacher, librarian
    class_set: int | None = None  # lent with this class set (services.desk), not the reader's own
    returned_at: dt.datetime | None = None

    def late_days(self, today: dt.date) -> int:
        """Days past its due date on *today* (0: not late)."""
        return max(0, (today - self.due).days)


def current_loans(
    session: Session,
    *,
    class_name: str | None = None,
    grade: int | None = None,
    late_on: dt.date | None = None,
) -> list[LoanLine]:
    """Books out now, soonest due first: of a class's or a grade's readers, or only those
    past their due date on *late_on* (a loan is late from the day after its due date)."""
    query = (
        select(Loan)
        .options(joinedload(Loan.patron), joinedload(Loan.copy).joinedload(Copy.title))
        .where(Loan.returned_at.is_(None))
        .order_by(Loan.due_date, Loan.lent_at, Loan.id)
    )
    if class_name is not None or grade is not None:
        query = query.join(Patron, Loan.patron_id == Patron.id)
    if class_name is not None:
        query = query.where(Patron.class_name == class_name.strip())
    if grade is not None:
        query = query.where(Patron.grade == grade)
    if late_on is not None:
        query = query.where(Loan.due_date < late_on)
    return [_line(loan) for loan in session.scalars(query).unique()]


def returned_loans(session: Session, card: str, *, limit: int = 20) -> list[LoanLine]:
    """The reader's loans that are over, the latest returned first (a checkout undone at the
    kiosk was never a loan, and is left out)."""
    query = (
        select(Loan)
        .options(joinedload(Loan.patron), joinedload(Loan.copy).joinedload(Copy.title))
        .join(Patron, Loan.patron_id == Patron.id)
        .where(Patron.card == card, Loan.returned_at.is_not(None), Loan.undone.is_(False))
        .order_by(Loan.returned_at.desc(), Loan.id)
        .limit(limit)
    )
    return [_line(loan) for loan in session.scalars(query).unique()]


def _line(loan: Loan) -> LoanLine:
    return LoanLine(
        loan=loan.id,
        patron=loan.patron_card,
        name=loan.patron.name if loan.patron else None,
        class_name=loan.patron.class_name if loan.patron else None,
        copy=loan.copy_code,
        title=loan.copy.title.title if loan.copy else None,
        lent_at=loan.lent_at,
        due=loan.due_date,
        where=loan.lent_where,
        grade=loan.patron.grade if loan.patron else None,
        kind=loan.patron.kind if loan.patron else None,
        class_set=loan.class_set_id,
        returned_at=loan.returned_at,
    )
