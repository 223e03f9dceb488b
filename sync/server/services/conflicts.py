"""Conflicts: what kiosks reported that did not fit the office's records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.server.models import Conflict, Kiosk


@dataclass(frozen=True)
class ConflictLine:
    id: int
    kind: str
    kiosk: str  # the kiosk's name
    copy: str | None
    loan: str | None
    detail: str
    found_at: dt.datetime


def conflicts(session: Session) -> list[ConflictLine]:
    rows = session.execute(
        select(Conflict, Kiosk.name)
        .join(Kiosk, Kiosk.id == Conflict.kiosk_id)
        .order_by(Conflict.id)
    )
    return [
        ConflictLine(c.id, c.kind, name, c.copy_code, c.loan_id, c.detail, c.found_at)
        for c, name in rows
    ]
