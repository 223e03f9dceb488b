"""The event outbox: every change the kiosk makes, in order, waiting to reach the office."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session

from kiosk import clock
from kiosk.clock import Moment
from kiosk.models import Event
from sync import wire

# Built once (its compiled form is reused), on the table itself: a plain INSERT, without the
# ORM's bulk machinery. The next number is taken in the INSERT itself.
_APPEND = insert(Event.__table__).values(
    seq=select(func.coalesce(func.max(Event.seq), 0) + 1).scalar_subquery(),
    uuid=bindparam("uuid"),
    type=bindparam("type"),
    at=bindparam("at"),
    clock=bindparam("clock"),
    payload=bindparam("payload"),
)


def append(session: Session, moment: Moment, payload: wire.Payload) -> None:
    """Add an event after the last one, in the caller's (write) transaction.

    The payload's model (in sync.wire, the contract with the office) gives the event's type.
    The next number is taken in the INSERT itself (the write lock is held: nobody takes it
    between), one statement whoever else writes events.
    """
    session.connection().execute(
        _APPEND,
        {
            "uuid": str(uuid.uuid4()),
            "type": payload.event_type,
            "at": moment.at,
            "clock": moment.clock,
            "payload": payload.as_json(),
        },
    )
    clock.seen(session, moment)


def oldest_pending(session: Session) -> dt.datetime | None:
    """When the oldest event still waiting for the office happened."""
    return session.scalar(select(func.min(Event.at)).where(Event.acked_at.is_(None)))


def pending(session: Session) -> int:
    """How many events have not yet been acknowledged by the office."""
    return session.scalar(select(func.count()).where(Event.acked_at.is_(None))) or 0
