"""The wire format between a kiosk and the office: what each request and reply holds.

Pydantic models only, so the kiosk can import this without the server's web framework.

The event contract lives here too: one payload model per event type. The kiosk writes every
event in its model's layout, as the model's serializer writes it (``kiosk.outbox.append``; the
tests hold each type to its model), and the office validates each event's payload by its type
before anything is stored (``WireEvent``). Types are strict: a number is not text, a
boolean is not a number. Fields a newer kiosk adds are kept, not refused; an event type this
office does not know is stored and listed, and its payload need only be a JSON object.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails
from typing_extensions import TypedDict  # pydantic reads TypedDicts from here before 3.12

from kiosk.models import CopyStatus

API = "/api/v1"
PORT = 8470  # where `library-server serve` listens unless told otherwise

Uuid = Annotated[
    StrictStr,
    StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
]
Seq = Annotated[StrictInt, Field(ge=1, le=2**62)]
Count = Annotated[StrictInt, Field(ge=0, le=2**62)]
# A kiosk without a battery clock may start in 1970; a time far beyond this century is garbage
# (and a correction by the measured offset must stay a date).
EARLIEST, LATEST = dt.date(1970, 1, 1), dt.date(2199, 12, 31)


def _text_only(value: object) -> object:
    # No coercion: a number where a time belongs is a bad request, not a time in 1970.
    if not isinstance(value, str | dt.date):
        raise ValueError("a time or date is ISO 8601 text, e.g. 2026-11-24T13:45:00+08:00")
    return value


def _in_range(value: dt.date) -> dt.date:
    day = value.date() if isinstance(value, dt.datetime) else value
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"a date between {EARLIEST} and {LATEST} is expected")
    return value


Time = Annotated[AwareDatetime, BeforeValidator(_text_only), AfterValidator(_in_range)]
Date = Annotated[dt.date, BeforeValidator(_text_only), AfterValidator(_in_range)]
# No control characters in names and codes (a NUL is refused by PostgreSQL, a line break
# spoils every listing): no scanner or keyboard makes them.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, strip_whitespace=True, pattern=PRINTABLE),
]
Code = Annotated[  # a card or a copy
    StrictStr, StringConstraints(min_length=1, max_length=64, pattern=PRINTABLE)
]
Words = Annotated[StrictStr, StringConstraints(max_length=200, pattern=PRINTABLE)]
StocktakeId = Annotated[StrictInt, Field(ge=1, le=2**62)]
Shelf = Annotated[  # a shelf's name, as on the copies' records and the shelf's label
    StrictStr, StringConstraints(min_length=1, max_length=64, pattern=PRINTABLE)
]
EventType = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")]
MAX_BATCH = 1000
MAX_PAGE = 5000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- the event contract: one payload per event type --------------------------------------------


class Payload(BaseModel):
    """What one kind of event says. Subclasses name their event type."""

    model_config = ConfigDict(extra="allow", frozen=True)
    event_type: ClassVar[str]

    def as_json(self) -> dict[str, Any]:
        """The payload as the outbox stores it and the wire carries it."""
        return self.model_dump(mode="json", by_alias=True)


class Checkout(Payload):
    event_type = "checkout"
    loan: Uuid
    copy_code: Code = Field(alias="copy")  # the barcode, or the ISBN of an unlabelled copy
    patron: Code
    due: Date
    where: Words
    override_by: Code | None = None  # the small librarian who allowed a loan over the limit


class Return(Payload):
    event_type = "return"
    loan: Uuid
    copy_code: Code = Field(alias="copy")
    patron: Code | None
    late_days: Count
    by: Code | None = None  # the small librarian who took it in with a pile of returns
    # Found on a shelf during this stocktake (the office's id), not brought back by a reader.
    stocktake: StocktakeId | None = None


class ImplicitReturn(Return):
    """Closed without a scan: the book was lent again (the reader had given it back)."""

    event_type = "implicit_return"


class CheckoutUndone(Payload):
    event_type = "checkout_undone"
    loan: Uuid
    copy_code: Code = Field(alias="copy")


class Renew(Payload):
    event_type = "renew"
    loan: Uuid
    copy_code: Code = Field(alias="copy")
    patron: Code
    due: Date


class CopyStatusSet(Payload):
    event_type = "copy_status"
    copy_code: Code = Field(alias="copy")
    status: CopyStatus
    by: Code  # the small librarian's card


class StocktakeScan(Payload):
    """A code scanned on a shelf during a stocktake: a copy seen there, or a code the kiosk
    does not know (the office says what it is)."""

    event_type = "stocktake_scan"
    stocktake: StocktakeId
    copy_code: Code = Field(alias="copy")  # the barcode, or the ISBN of an unlabelled copy
    shelf: Shelf  # the shelf being counted, where the copy was seen
    by: Code | None  # the small librarian's card (None: the librarian at the office's desk)


class SessionStarted(Payload):
    event_type = "session_started"
    patron: Code
    helper: Code | None = None  # a small librarian opened it for a student without a card


class SessionEnded(Payload):
    event_type = "session_ended"
    patron: Code
    reason: Annotated[StrictStr, StringConstraints(max_length=32, pattern=PRINTABLE)]
    taken: Count


class SupervisorOpened(Payload):
    event_type = "supervisor_opened"
    by: Code


class SupervisorClosed(Payload):
    event_type = "supervisor_closed"
    by: Code | None


class WrongPin(Payload):
    """A wrong PIN typed after a small librarian's card (the supervisor log keeps each)."""

    event_type = "wrong_pin"
    card: Code
    attempts_left: Count


class CardLocked(Payload):
    """Too many wrong PINs: the small librarian's card is locked for a while."""

    event_type = "card_locked"
    card: Code


PAYLOADS: dict[str, type[Payload]] = {
    model.event_type: model
    for model in (
        Checkout,
        Return,
        ImplicitReturn,
        CheckoutUndone,
        Renew,
        CopyStatusSet,
        StocktakeScan,
        SessionStarted,
        SessionEnded,
        SupervisorOpened,
        SupervisorClosed,
        WrongPin,
        CardLocked,
    )
}


def payload_of(event_type: str, data: dict[str, Any]) -> Payload | None:
    """The typed payload of a known event type (None for a type this office does not know)."""
    model = PAYLOADS.get(event_type)
    return None if model is None else model.model_validate(data)


def problems(exc: ValidationError) -> str:
    """What is wrong, field by field, without repeating the input (it may be large or hostile)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors()
    )


class EnrollRequest(_Strict):
    code: Annotated[
        str,
        StringConstraints(min_length=4, max_length=64, strip_whitespace=True, pattern=PRINTABLE),
    ]
    name: Name


class EnrollReply(_Strict):
    kiosk_id: int
    token: str
    server_time: dt.datetime
    database_id: str


def _typed_events(schema: dict[str, Any]) -> None:
    """The OpenAPI description of an event: one of the known types with its payload, or a type
    this office does not know with any object, so clients and fuzzers see the contract."""
    common = {k: v for k, v in schema["properties"].items() if k not in ("type", "payload")}
    event_type = schema["properties"]["type"]

    def variant(type_schema: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": False,
            "required": schema["required"],
            "properties": {**common, "type": type_schema, "payload": payload},
        }

    variants = [
        variant({"const": name, "type": "string"}, _inline(model.model_json_schema()))
        for name, model in PAYLOADS.items()
    ]
    unknown = {**event_type, "not": {"enum": sorted(PAYLOADS)}}
    variants.append(variant(unknown, {"type": "object"}))
    description = schema.get("description", "")
    schema.clear()
    schema.update(title="WireEvent", description=description, oneOf=variants)


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """*schema* with its local definitions put in place (it is inlined in another one)."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


class WireEvent(_Strict):
    """One outbox event, as the kiosk recorded it (its own clock)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_typed_events)

    seq: Seq
    uuid: Uuid
    type: EventType
    at: Time
    clock: Literal["ok", "backwards", "wrong"]  # see kiosk.clock
    payload: dict[str, Any]

    # The payload as its type says, kept when checked: in a slot, not a private attribute
    # (pydantic sets those up for each event made, which cost more than checking it twice).
    __slots__ = ("_data",)

    @model_validator(mode="after")
    def _fits_its_type(self) -> WireEvent:
        try:
            object.__setattr__(self, "_data", payload_of(self.type, self.payload))
        except ValidationError as exc:
            problem = ValueError(f"not a valid {self.type} event: {problems(exc)}")
            raise ValidationError.from_exception_data(
                "WireEvent",
                [
                    InitErrorDetails(
                        type="value_error",
                        loc=("payload",),
                        input=self.payload,
                        ctx={"error": problem},
                    )
                ],
            ) from None
        return self

    def data(self) -> Payload | None:
        """The typed payload (None for a type this office does not know), as checked when the
        event was: an event is validated once."""
        try:
            return self._data  # type: ignore[no-any-return]
        except AttributeError:  # made without validation
            return payload_of(self.type, self.payload)


class PushRequest(_Strict):
    sent_at: Time = Field(description="the kiosk clock when the request left")
    events: Annotated[list[WireEvent], Field(max_length=MAX_BATCH)]
    waiting: Count = Field(
        0, description="events on the kiosk not yet acknowledged, this batch included"
    )
    acked_seq: Count = Field(
        0, description="the highest sequence the office last acknowledged to this kiosk"
    )
    acked_proof: Annotated[StrictStr, StringConstraints(max_length=128)] | None = Field(
        None, description="the ack_proof the office gave with that acknowledgement"
    )
    version: Annotated[StrictStr, StringConstraints(max_length=32, pattern=PRINTABLE)] | None = (
        Field(None, description="the kiosk's software version, shown to the librarian")
    )


class Conflict(BaseModel):
    id: int
    kind: str
    copy_code: str | None = None
    loan: str | None = None
    detail: str


class PushReply(BaseModel):
    highest_seq: int = Field(description="the highest sequence held with no gap before it")
    ack_proof: str = Field(description="the office's signature of this acknowledgement")
    gaps: list[tuple[int, int]] = Field(description="missing sequence ranges, first and last")
    stored: int = Field(description="events stored by this request (the rest were known)")
    conflicts: list[Conflict]
    server_time: dt.datetime
    clock_offset_seconds: float


class Change(TypedDict):
    """One entry of the office's change log. A plain mapping, not a model: a fresh kiosk reads
    tens of thousands, and a model made for each cost more than the page's inserts."""

    version: int
    kind: Literal["title", "copy", "patron", "loan", "rules", "stocktake"]
    key: str
    data: Annotated[dict[str, Any] | None, Field(description="the row as it is now; null: deleted")]


class ChangesPage(BaseModel):
    cursor: str = Field(description="pass back to get what follows")
    reset: bool = Field(description="the cursor was from another database: this is a full copy")
    more: bool
    total: int = Field(description="changes after the given cursor, this page included")
    changes: list[Change]
    server_time: dt.datetime


def changes_page_json(page: ChangesPage, changes: list[str]) -> bytes:
    """*page* as JSON, with *changes* (each a Change already written as JSON) as its changes."""
    return _with_list(page, "changes", changes)


def push_request_json(request: PushRequest, events: list[str]) -> bytes:
    """*request* as JSON, with *events* (each a WireEvent already written as JSON) as its
    events."""
    return _with_list(request, "events", events)


def _with_list(model: BaseModel, name: str, items: list[str]) -> bytes:
    head = model.model_dump_json(exclude={name})
    return f'{head[:-1]},"{name}":[{",".join(items)}]}}'.encode()


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
