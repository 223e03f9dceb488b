"""The wire format between a kiosk and the office: what each request and reply holds.

Pydantic models only, so the kiosk can import this without the server's web framework.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
)

API = "/api/v1"

Uuid = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
]
Seq = Annotated[StrictInt, Field(ge=1, le=2**62)]


def _text_or_time(value: object) -> object:
    # No coercion: a number where a time belongs is a bad request, not a time in 1970.
    if not isinstance(value, str | dt.datetime):
        raise ValueError("a time is written as ISO 8601 text, e.g. 2026-11-24T13:45:00+08:00")
    return value


Time = Annotated[AwareDatetime, BeforeValidator(_text_or_time)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
# Events the kiosk writes today; new kinds are stored and shown, not refused.
EventType = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")]
MAX_BATCH = 1000
MAX_PAGE = 5000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnrollRequest(_Strict):
    code: Annotated[str, StringConstraints(min_length=4, max_length=64, strip_whitespace=True)]
    name: Name


class EnrollReply(_Strict):
    kiosk_id: int
    token: str
    server_time: dt.datetime
    database_id: str


class WireEvent(_Strict):
    """One outbox event, as the kiosk recorded it (its own clock)."""

    seq: Seq
    uuid: Uuid
    type: EventType
    at: Time
    clock: Literal["ok", "backwards"]
    payload: dict[str, Any]


class PushRequest(_Strict):
    sent_at: Time = Field(description="the kiosk clock when the request left")
    events: Annotated[list[WireEvent], Field(max_length=MAX_BATCH)]
    waiting: Annotated[int, Field(ge=0)] = Field(
        0, description="events on the kiosk not yet acknowledged, this batch included"
    )
    acked_seq: Annotated[int, Field(ge=0)] = Field(
        0, description="the highest sequence the office has acknowledged to this kiosk"
    )


class Conflict(BaseModel):
    id: int
    kind: str
    copy_code: str | None = None
    loan: str | None = None
    detail: str


class PushReply(BaseModel):
    highest_seq: int = Field(description="the highest sequence held with no gap before it")
    gaps: list[tuple[int, int]] = Field(description="missing sequence ranges, first and last")
    stored: int = Field(description="events stored by this request (the rest were known)")
    conflicts: list[Conflict]
    server_time: dt.datetime
    clock_offset_seconds: float


class Change(BaseModel):
    version: int
    kind: Literal["title", "copy", "patron", "loan", "rules"]
    key: str
    data: dict[str, Any] | None = Field(description="the row as it is now; null: deleted")


class ChangesPage(BaseModel):
    cursor: str = Field(description="pass back to get what follows")
    reset: bool = Field(description="the cursor was from another database: this is a full copy")
    more: bool
    total: int = Field(description="changes after the given cursor, this page included")
    changes: list[Change]
    server_time: dt.datetime


class Problem(BaseModel):
    detail: str


def make_cursor(database_id: str, version: int) -> str:
    return f"{database_id}:{version}"


def split_cursor(cursor: str | None) -> tuple[str | None, int]:
    """The database identity and version in a cursor; (None, 0) for none or a garbled one."""
    if not cursor or ":" not in cursor:
        return None, 0
    database_id, _, version = cursor.rpartition(":")
    if not version.isdigit():
        return None, 0
    return database_id, int(version)
