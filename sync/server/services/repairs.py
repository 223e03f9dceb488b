"""Books being repaired: a damaged copy sent to repair is not for loan until it comes back
(its status, "in repair", is one the kiosks and the desk refuse, and kiosks learn it at their
next sync); marked back on the shelf, it is lent again. Which copies are away, since when,
and which came back lately; the record itself is kept as the status changes
(services.books.set_status), from the Books pages, this one or the command line."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from kiosk.models import CopyStatus
from sync.server.models import Copy, Repair


@dataclass(frozen=True)
class RepairLine:
    copy_id: int
    copy: str  # the barcode, or the ISBN of an unlabelled copy
    title_id: int
    title: str
    shelf_mark: str
    status: str  # now
    sent_on: dt.date | None  # None: marked in repair before repairs were recorded
    sent_by: str
    back_on: dt.date | None
    came_back_as: str | None

    def days_away(self, today: dt.date) -> int | None:
        if self.sent_on is None:
            return None
        return ((self.back_on or today) - self.sent_on).days


def in_repair(session: Session) -> list[RepairLine]:
    """The copies away being repaired, the longest away first."""
    copies = list(
        session.scalars(
            select(Copy).options(joinedload(Copy.title)).where(Copy.status == CopyStatus.IN_REPAIR)
        )
    )
    away = {
        row.copy_id: row
        for row in session.scalars(
            select(Repair)
            .where(Repair.copy_id.in_([c.id for c in copies]), Repair.back_on.is_(None))
            .order_by(Repair.sent_on)
        )
    }
    lines = [_line(copy, away.get(copy.id)) for copy in copies]
    return sorted(lines, key=lambda line: (line.sent_on or dt.date.min, line.title, line.copy))


def came_back(session: Session, since: dt.date) -> list[RepairLine]:
    """The repairs that ended since *since*, the latest first."""
    rows = session.scalars(
        select(Repair)
        .options(joinedload(Repair.copy).joinedload(Copy.title))
        .where(Repair.back_on >= since)
        .order_by(Repair.back_on.desc(), Repair.id.desc())
    )
    return [_line(row.copy, row) for row in rows]


def damaged(session: Session) -> list[RepairLine]:
    """The damaged copies on the shelf of the damaged, not sent to repair yet."""
    copies = session.scalars(
        select(Copy).options(joinedload(Copy.title)).where(Copy.status == CopyStatus.DAMAGED)
    )
    return sorted((_line(copy, None) for copy in copies), key=lambda line: (line.title, line.copy))


def _line(copy: Copy, repair: Repair | None) -> RepairLine:
    title = copy.title
    return RepairLine(
        copy_id=copy.id,
        copy=copy.barcode or title.isbn or f"#{copy.id}",
        title_id=title.id,
        title=title.title,
        shelf_mark="  ".join(part for part in (title.classification, copy.shelf) if part),
        status=copy.status,
        sent_on=repair.sent_on if repair else None,
        sent_by=repair.sent_by if repair else "",
        back_on=repair.back_on if repair else None,
        came_back_as=repair.came_back_as if repair else None,
    )
