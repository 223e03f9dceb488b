"""The event outbox: every change the kiosk makes, in order, waiting to reach the office."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk import clock
from kiosk.clock import Moment
from kiosk.models import Event, sql_time, utc_time
from kiosk.store import Transaction
from sync import wire

_APPEND = """
    INSERT INTO events (seq, uuid, type, at, clock, payload, acked_at)
    VALUES ((SELECT coalesce(max(seq), 0) + 1 FROM events), ?, ?, ?, ?, ?, NULL)
"""


def append(tx: Transaction, moment: Moment, payload: wire.Payload) -> None:
    """Add an event after the last one, in the caller's (write) transaction.

    The payload's model (in sync.wire, the contract with the office) gives the event's type.
    The next number is taken in the INSERT itself (the write lock is held: nobody takes it
    between), one statement whoever else writes events.
    """
    text = payload.model_dump_json(by_alias=True)  # the JSON that as_json() gives, as text
    at = sql_time(moment.at)
    tx.execute(_APPEND, (str(uuid.uuid4()), payload.event_type, at, moment.clock, text))
    clock.seen(tx, moment)


def oldest_pending(tx: Transaction) -> dt.datetime | None:
    """When the oldest event still waiting for the office happened."""
    row = tx.execute("SELECT min(at) FROM events WHERE acked_at IS NULL").fetchone()
    return row[0] and utc_time(row[0])


def pending(session: Session) -> int:
    """How many events have not yet been acknowledged by the office."""
    return session.scalar(select(func.count()).where(Event.acked_at.is_(None))) or 0
