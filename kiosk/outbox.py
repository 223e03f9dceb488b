"""The event outbox: every change the kiosk makes, in order, waiting to reach the office."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from pydantic_core import PydanticUndefined, to_json
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk import clock
from kiosk.clock import Moment
from kiosk.models import Event, new_uuid, utc_time
from kiosk.settings import ACKED_THROUGH
from kiosk.store import Transaction, get_setting
from sync import wire

_APPEND = """
    INSERT INTO events (seq, uuid, type, at, clock, payload, acked_at)
    VALUES ((SELECT coalesce(max(seq), 0) + 1 FROM events), ?, ?, ?, ?, ?, NULL)
"""


def append(tx: Transaction, moment: Moment, model: type[wire.Payload], **fields: Any) -> None:
    """Add an event of *model*'s type after the last one, in the caller's (write) transaction.

    *fields* are the payload's, named as on the wire (``copy=``). The payload is written as
    the JSON that ``model(**fields).model_dump_json(by_alias=True)`` gives (each field in the
    model's order, defaults included, by the same serializer), without the model's validation
    of what the kiosk made itself: a scan waits on it. The next number is taken in the INSERT
    itself (the write lock is held: nobody takes it between), one statement whoever else
    writes events.
    """
    text = payload_json(model, fields)
    tx.execute(_APPEND, (new_uuid(), model.event_type, moment.stored, moment.clock, text))
    clock.seen(tx, moment)


def payload_json(model: type[wire.Payload], fields: dict[str, Any]) -> str:
    """The payload of *model* with *fields* (by their wire names), as JSON text."""
    given = dict(fields)
    document = {}
    for name, default in _layout(model):
        value = given.pop(name, default)
        if value is PydanticUndefined:
            raise TypeError(f"{model.__name__}: {name} is missing")
        document[name] = value
    if given:
        raise TypeError(f"{model.__name__} has no field {', '.join(given)}")
    return to_json(document).decode()


@cache
def _layout(model: type[wire.Payload]) -> tuple[tuple[str, Any], ...]:
    """The payload's fields in order, by their wire names, with their defaults."""
    return tuple(
        (info.alias or name, info.get_default()) for name, info in model.model_fields.items()
    )


def acked_through(session: Session) -> int:
    """The highest sequence the office has acknowledged: the office acknowledges events in
    order, so those after it are the ones still waiting for it (0: none acknowledged)."""
    return int(get_setting(session, ACKED_THROUGH) or 0)


# The same, inside a statement of the scan path.
_ACKED_THROUGH = (
    f"coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = '{ACKED_THROUGH}'), 0)"
)


def oldest_pending(tx: Transaction) -> dt.datetime | None:
    """When the oldest event still waiting for the office happened."""
    row = tx.execute(f"SELECT min(at) FROM events WHERE seq > {_ACKED_THROUGH}").fetchone()
    return row[0] and utc_time(row[0])


def pending(session: Session) -> int:
    """How many events have not yet been acknowledged by the office."""
    return session.scalar(select(func.count()).where(Event.seq > acked_through(session))) or 0
