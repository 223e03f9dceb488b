"""The event outbox: every change the kiosk makes, in order, waiting to reach the office."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.models import Event
from kiosk.store import get_setting, set_setting

LATEST_SEEN = "clock.latest_seen"


@dataclass(frozen=True)
class Moment:
    """The time of one action: the kiosk clock's reading and what the kiosk thinks of it."""

    at: dt.datetime  # aware
    tz: ZoneInfo
    clock: str = "ok"  # "backwards" when earlier than a time the kiosk has already seen

    @property
    def local(self) -> dt.datetime:
        return self.at.astimezone(self.tz)

    @property
    def today(self) -> dt.date:
        return self.local.date()


def read_clock(session: Session, now: dt.datetime, tz: ZoneInfo) -> Moment:
    """A Moment for *now*, marked "backwards" if the kiosk has already seen a later time."""
    latest = get_setting(session, LATEST_SEEN)
    if latest is not None and now < dt.datetime.fromisoformat(latest):
        return Moment(now, tz, "backwards")
    return Moment(now, tz)


def append(session: Session, moment: Moment, type_: str, **payload: Any) -> Event:
    """Add an event after the last one, in the caller's (write) transaction."""
    last = session.scalar(select(func.max(Event.seq))) or 0
    event = Event(
        seq=last + 1,
        uuid=str(uuid.uuid4()),
        type=type_,
        at=moment.at,
        clock=moment.clock,
        payload=payload,
    )
    session.add(event)
    if moment.clock == "ok":
        set_setting(session, LATEST_SEEN, moment.at.isoformat())
    return event


def oldest_pending(session: Session) -> dt.datetime | None:
    """When the oldest event still waiting for the office happened."""
    return session.scalar(select(func.min(Event.at)).where(Event.acked_at.is_(None)))


def pending(session: Session) -> int:
    """How many events have not yet been acknowledged by the office."""
    return session.scalar(select(func.count()).where(Event.acked_at.is_(None))) or 0
