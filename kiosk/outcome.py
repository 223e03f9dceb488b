"""What the kiosk answers to a scan, a touch or the passing of time.

An :class:`Outcome` is everything an adapter needs to show the answer: the screen (UI), the
light pattern (LEDs) and the sound (buzzer). The engine returns them; it never draws or blinks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal

# Which codes a scanner or card reader gives: anything, cards only, books only (kiosk.toml).
Role = Literal["any", "cards", "books"]


class State(StrEnum):
    """What the kiosk is doing: the screens follow it."""

    IDLE = "idle"
    SESSION = "session"
    CHOICE = "choice"  # the student scanned a book they already have: return or renew?
    PIN = "pin"  # a small librarian's card was scanned; waiting for the PIN
    SUPERVISOR = "supervisor"
    BATCH_RETURN = "batch_return"
    MARK_DAMAGED = "mark_damaged"
    MARK_LOST = "mark_lost"
    STOCKTAKE = "stocktake"  # counting the books on the shelves


class Light(StrEnum):
    """Status light patterns, as DESIGN.md describes them."""

    READY = "ready"  # green steady
    SUCCESS = "success"  # green blinks, short beep
    REFUSED = "refused"  # red about two seconds, low beep
    CLOSED = "closed"  # amber steady
    WAITING_TO_SYNC = "waiting_to_sync"  # amber slow blink while idle
    FAULT = "fault"  # red fast blink
    HELP = "help"  # amber blink: a small librarian is called
    WARNING = "warning"  # amber about two seconds: done, but look (a book from another shelf)


class Sound(StrEnum):
    NONE = "none"
    BEEP = "beep"
    LOW_BEEP = "low_beep"
    TICK = "tick"  # a quiet click: one more book counted
    WARNING = "warning"  # two short beeps: counted, but look at the screen


class Kind(StrEnum):
    """The kind of answer; also the ``outcome`` field of headless mode's JSON lines."""

    SESSION_STARTED = "session_started"
    CHECKED_OUT = "checked_out"
    RETURNED = "returned"
    RENEWED = "renewed"
    CHOICE_NEEDED = "choice_needed"
    REFUSED = "refused"
    UNKNOWN_CODE = "unknown_code"
    SESSION_RESUMED = "session_resumed"
    SESSION_ENDED = "session_ended"
    PIN_NEEDED = "pin_needed"
    SUPERVISOR = "supervisor"
    COPY_MARKED = "copy_marked"
    SHELF_CHOSEN = "shelf_chosen"  # stocktake: the shelf whose books are scanned now
    COUNTED = "counted"  # stocktake: a book seen on the shelf
    UNDONE = "undone"
    IGNORED = "ignored"
    FAULT = "fault"


# Fields every JSON line has, null when they do not apply (light null: the lights stay as
# they are); the others appear only when they say something.
ALWAYS_IN_JSON = ("light", "reason", "patron", "copy", "title", "due")


@dataclass(frozen=True)
class LoanLine:
    """One of the current patron's loans, as the session screen lists it."""

    copy: str
    title: str
    due: dt.date
    overdue_days: int


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    light: Light | None = None  # None: leave the lights as they are
    sound: Sound = Sound.NONE
    reason: str | None = None
    patron: str | None = None  # card number
    name: str | None = None
    class_name: str | None = None
    copy: str | None = None  # barcode, or ISBN for a copy without a label of its own
    title: str | None = None
    due: dt.date | None = None
    late_days: int | None = None
    may_borrow: int | None = None
    loans: tuple[LoanLine, ...] = ()
    receipt: tuple[LoanLine, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The outcome as one JSON-ready dict (headless mode prints one per line)."""
        raw = asdict(self)
        out: dict[str, Any] = {"outcome": raw.pop("kind").value}
        raw["class"] = raw.pop("class_name")
        for key, value in raw.items():
            if value in (None, (), {}) and key not in ALWAYS_IN_JSON:
                continue
            out[key] = _jsonable(value)
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value
