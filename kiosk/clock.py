"""The kiosk's clock: the time now, and what the kiosk thinks of its own clock.

A Raspberry Pi has no battery clock: it may start with yesterday's time, or a year off. Each
action takes a :class:`Moment`, marked "backwards" when the clock reads earlier than a time the
kiosk has already seen, so the office can order events by corrected time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from kiosk.settings import LATEST_SEEN
from kiosk.store import get_setting, set_setting

# "A few minutes": a kiosk clock further than this from the office's is worth a warning.
CLOCK_WARNING_SECONDS = 180


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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


def seen(session: Session, moment: Moment) -> None:
    """Remember *moment* as the latest time seen, unless the clock was going backwards."""
    if moment.clock == "ok":
        set_setting(session, LATEST_SEEN, moment.at.isoformat())
