"""The kiosk's clock: the time now, and what the kiosk thinks of its own clock.

A Raspberry Pi has no battery clock: it may start with yesterday's time, or a year off. Each
action takes a :class:`Moment`, marked "backwards" when the clock reads earlier than a time the
kiosk has already seen, so the office can order events by corrected time, and "wrong" when it
cannot be right: far past the latest time seen (a jump of weeks, a date set by hand a year
ahead) or far ahead of the office's. Books are not lent by a wrong time (a due date a year away,
every child late); returns are still taken. The doubt ends when the office finds the clock
right at a sync, or when a person confirms it (the supervisor menu, ``kiosk confirm-clock``):
the times seen before are then forgotten, so a clock set right after being ahead is not
"backwards" for a year.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.models import Event, sql_time
from kiosk.settings import CLOCK_OFFSET, LATEST_SEEN, SEEN_SINCE_SEQ
from kiosk.store import Transaction, get_setting, set_setting

# "A few minutes": a kiosk clock further than this from the office's is worth a warning.
CLOCK_WARNING_SECONDS = 180
# Further than this ahead of the office's, the kiosk clock is wrong: not a time to lend by (its
# due dates would be far away, every child late). Behind it, a warning: the office corrects.
WRONG_SECONDS = 6 * 3600
# A clock this far past the latest time seen jumped (a month is longer than a school's breaks
# but the summer's): in doubt until someone says the date is right.
JUMP = dt.timedelta(days=30)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Moment:
    """The time of one action: the kiosk clock's reading and what the kiosk thinks of it."""

    at: dt.datetime  # aware
    tz: ZoneInfo
    clock: str = "ok"  # "backwards": earlier than a time already seen; "wrong": see above
    # Worked out once: a scan asks for them again and again.
    local: dt.datetime = field(init=False, repr=False, compare=False)
    stored: str = field(init=False, repr=False, compare=False)  # as the store keeps a time

    def __post_init__(self) -> None:
        object.__setattr__(self, "local", self.at.astimezone(self.tz))
        object.__setattr__(self, "stored", sql_time(self.at))

    @property
    def today(self) -> dt.date:
        return self.local.date()

    @property
    def known_today(self) -> dt.date | None:
        """Today, to count days late by; None while the clock is wrong (nobody is late by it)."""
        return None if self.clock == "wrong" else self.today


def read_clock(session: Session, now: dt.datetime, tz: ZoneInfo) -> Moment:
    """A Moment for *now*: "wrong" if the office found the clock far ahead at the last sync or
    it jumped far past the latest time seen, "backwards" if a later time was seen, else "ok"."""
    return judge(now, tz, ahead=ahead_of_office(session), latest=latest_seen(session))


def judge(now: dt.datetime, tz: ZoneInfo, *, ahead: float, latest: dt.datetime | None) -> Moment:
    """The Moment for *now*, by what the kiosk knows: seconds *ahead* of the office's clock at
    the last sync and the *latest* time seen (see :func:`read_clock`)."""
    if ahead > WRONG_SECONDS:
        return Moment(now, tz, "wrong")
    if latest is not None:
        if now < latest:
            return Moment(now, tz, "backwards")
        if now - latest > JUMP:
            return Moment(now, tz, "wrong")
    return Moment(now, tz)


def latest_seen(session: Session) -> dt.datetime | None:
    """The latest time seen: the one confirmed last, or a right clock's newest event since.

    Each event keeps its time and what the kiosk thought of its clock then, so a scan writes
    no setting of its own: the newest event on a right clock is never earlier than the
    events before it.
    """
    confirmed = get_setting(session, LATEST_SEEN)
    since = int(get_setting(session, SEEN_SINCE_SEQ) or 0)
    newest = session.scalar(
        select(Event.at)
        .where(Event.seq > since, Event.clock == "ok")
        .order_by(Event.seq.desc())
        .limit(1)
    )
    times = [t for t in (confirmed and dt.datetime.fromisoformat(confirmed), newest) if t]
    return max(times, default=None)


def ahead_of_office(session: Session) -> float:
    """Seconds the kiosk's clock was ahead of the office's at the last sync (0 if unknown)."""
    offset = get_setting(session, CLOCK_OFFSET)  # the office's clock minus the kiosk's
    return -float(offset) if offset else 0.0


def seen(tx: Transaction, moment: Moment) -> None:
    """*moment*, if the clock was right, is the latest time seen: the event written with it
    keeps it on disk (:func:`latest_seen`); the engine's memory takes it once committed."""
    if moment.clock == "ok":
        tx.info["latest_seen"] = moment.at


def confirm(session: Session, now: dt.datetime, *, by_office: bool = False) -> None:
    """*now* is right (the office's clock agrees, or a person said so): the times seen before,
    and what the office said of the clock before, no longer count against it."""
    set_setting(session, LATEST_SEEN, now.isoformat())
    last = session.scalar(select(func.max(Event.seq))) or 0
    set_setting(session, SEEN_SINCE_SEQ, str(last))  # the events' times before no longer count
    if not by_office:
        set_setting(session, CLOCK_OFFSET, "")  # the office has its say again at the next sync
