"""The routes kiosks call: enroll, push their events, pull the changes."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from kiosk.clock import utc_now
from sync import wire
from sync.collector import collector_paused
from sync.server.dependencies import DatabaseDep
from sync.server.services import NotAllowed, NotIdentified, changes, kiosks, ledger
from sync.server.services.throttle import Throttle

# A kiosk's request is far smaller: a full batch of events is about half a megabyte.
API_BODY_LIMIT = 4 * 2**20
BAD_BODY: dict[int | str, dict[str, object]] = {
    413: {"description": f"the body is larger than {API_BODY_LIMIT} bytes; nothing was read"},
    422: {
        "model": wire.Problem,
        "description": "not JSON, or not what the operation takes: the detail says where",
    },
}
PROBLEMS: dict[int | str, dict[str, object]] = {
    **BAD_BODY,
    401: {"model": wire.Problem, "description": "no token, or a token the office does not know"},
    403: {"model": wire.Problem, "description": "the kiosk was revoked"},
}


def kiosk_token(
    authorization: Annotated[
        str | None, Header(description="Bearer TOKEN, the token given at enrolment")
    ] = None,
) -> str:
    """The bearer token of the request; a librarian's cookie is no token."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotIdentified("no kiosk token: enroll this kiosk first (kiosk enroll URL CODE)")
    return token.strip()


KioskToken = Annotated[str, Depends(kiosk_token)]


class _ReadRequest(Request):
    """A request whose JSON body was read by its model already."""

    def __init__(self, request: Request, body: bytes, value: BaseModel) -> None:
        super().__init__(request.scope, request.receive)
        self._read, self._value = body, value

    async def body(self) -> bytes:
        return self._read

    async def json(self) -> Any:
        return self._value  # an instance of the body's model: FastAPI takes it as it is


class JsonBodyRoute(APIRoute):
    """A route whose JSON body its model reads straight from the bytes (pydantic-core), where
    FastAPI would make Python objects of it first and validate those: a push of a thousand
    events is read with a third less work. A body that does not fit is refused as FastAPI
    refuses it (RequestValidationError, each problem where it is); an empty one, or one not
    JSON by its content type, is left to FastAPI."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handle = super().get_route_handler()
        model = self.body_field.field_info.annotation if self.body_field else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return handle

        async def read(request: Request) -> Response:
            kind = request.headers.get("content-type", "application/json").partition(";")[0]
            kind = kind.strip().lower()
            body = await request.body()
            if not body or not (kind == "application/json" or kind.endswith("+json")):
                return await handle(request)
            try:
                value = model.model_validate_json(body)
            except ValidationError as exc:
                errors = exc.errors(include_url=False, include_input=False, include_context=False)
                raise RequestValidationError(
                    [{**error, "loc": ("body", *error["loc"])} for error in errors]
                ) from None
            return await handle(_ReadRequest(request, body, value))

        return read


router = APIRouter(prefix=wire.API, max_body_size=API_BODY_LIMIT, route_class=JsonBodyRoute)


def enrolment_throttle() -> Throttle:
    """Codes are hard to guess, but a guesser is slowed down all the same, per address: a
    minute after the fifth wrong code, doubled at each next one, then locked out for a day."""
    return Throttle("enrolment code", free=5, first_wait=60, longest=86400)


@router.post(
    "/enroll",
    response_model=wire.EnrollReply,
    responses={
        **BAD_BODY,
        403: {"model": wire.Problem, "description": "unknown, used or expired code"},
        429: {"model": wire.Problem, "description": "too many wrong codes from this address"},
    },
    summary="Exchange a one-time enrolment code for a kiosk id and token",
)
def enroll(body: wire.EnrollRequest, request: Request, database: DatabaseDep) -> Response:
    throttle: Throttle = request.app.state.enrolment_throttle
    address = request.client.host if request.client else ""
    wait = throttle.wait(address)
    if wait > 0:
        return JSONResponse(
            {"detail": f"too many wrong enrolment codes: try again in {math.ceil(wait)} s"},
            status_code=429,
            headers={"Retry-After": str(math.ceil(wait))},
        )
    try:
        with database.write() as session:
            kiosk, token = kiosks.enroll(session, body.code, body.name)
            reply = wire.EnrollReply(
                kiosk_id=kiosk.id,
                token=token,
                server_time=utc_now(),
                database_id=database.database_id(session),
            )
    except NotAllowed:
        throttle.failed(address)
        raise
    throttle.succeeded(address)
    return JSONResponse(reply.model_dump(mode="json"))


@router.post(
    "/push",
    response_model=wire.PushReply,
    responses={
        **PROBLEMS,
        409: {
            "model": wire.Problem,
            "description": "a sequence number reused, or an acknowledgement never sent",
        },
    },
    summary="Send outbox events, in order; each is stored and applied exactly once",
)
def push(body: wire.PushRequest, token: KioskToken, database: DatabaseDep) -> Response:
    received = utc_now()
    with collector_paused(), database.write() as session:
        kiosk = kiosks.authenticate(session, token)
        reply = ledger.receive_events(
            database,
            session,
            kiosk,
            body.events,
            acked_seq=body.acked_seq,
            acked_proof=body.acked_proof,
            waiting=body.waiting,
            offset=(received - body.sent_at).total_seconds(),
            version=body.version,
        )
    # Written as it is (the model is the office's own): not checked against itself again.
    return Response(reply.model_dump_json(), media_type="application/json")


@router.get(
    "/changes",
    response_model=wire.ChangesPage,
    responses=PROBLEMS,
    summary="Catalogue, patrons, rules and loans changed since a cursor, in pages",
)
def changes_page(
    request: Request,
    token: KioskToken,
    database: DatabaseDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=wire.MAX_PAGE)] = 1000,
) -> Response:
    unknown = sorted(set(request.query_params) - {"cursor", "limit"})
    if unknown:  # most likely a misspelt cursor: better refused than a full copy sent
        raise HTTPException(422, f"unknown query parameter(s): {', '.join(unknown)}")
    with database.read() as session:
        kiosks.authenticate(session, token)
        page = changes.changes_json(database, session, cursor, limit)
    return Response(page, media_type="application/json")
