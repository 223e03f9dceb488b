"""Loans as the office sees them, merged from every kiosk."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.server.models import Loan


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


def current_loans(session: Session) -> list[LoanLine]:
    """Books out now, soonest due first."""
    loans = session.scalars(
        select(Loan).where(Loan.returned_at.is_(None)).order_by(Loan.due_date, Loan.lent_at)
    )
    return [
        LoanLine(
            loan=loan.id,
            patron=loan.patron_card,
            name=loan.patron.name if loan.patron else None,
            class_name=loan.patron.class_name if loan.patron else None,
            copy=loan.copy_code,
            title=loan.copy.title.title if loan.copy else None,
            lent_at=loan.lent_at,
            due=loan.due_date,
            where=loan.lent_where,
        )
        for loan in loans
    ]
