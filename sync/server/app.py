"""The office's HTTP API for kiosks (FastAPI; its OpenAPI description is at /openapi.json)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from sync import wire
from sync.server import ledger, office
from sync.server.db import Database

BAD_BODY: dict[int | str, dict[str, object]] = {
    400: {"model": wire.Problem, "description": "not JSON, or an unknown parameter"},
}
PROBLEMS: dict[int | str, dict[str, object]] = {
    **BAD_BODY,
    401: {"model": wire.Problem, "description": "no token, or a token the office does not know"},
    403: {"model": wire.Problem, "description": "the kiosk was revoked"},
}
AuthHeader = Annotated[str | None, Header(description="Bearer TOKEN, the token given at enrolment")]


def create_app(database: Database) -> FastAPI:
    app = FastAPI(
        title="Library Kiosk office server",
        version="1",
        description="Kiosks enroll, push their events and pull the catalogue here.",
    )

    @app.middleware("http")
    async def server_time(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["X-Server-Time"] = office.now().isoformat()
        return response

    @app.exception_handler(office.Refusal)
    async def refused(_request: Request, exc: office.Refusal) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(ledger.SequenceReused)
    async def reused(_request: Request, exc: ledger.SequenceReused) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.post(
        f"{wire.API}/enroll",
        response_model=wire.EnrollReply,
        responses={
            **BAD_BODY,
            403: {"model": wire.Problem, "description": "unknown, used or expired code"},
        },
        summary="Exchange a one-time enrolment code for a kiosk id and token",
    )
    def enroll(body: wire.EnrollRequest) -> wire.EnrollReply:
        with database.write() as session:
            kiosk, token = office.enroll(session, body.code, body.name)
            return wire.EnrollReply(
                kiosk_id=kiosk.id,
                token=token,
                server_time=office.now(),
                database_id=database.database_id(session),
            )

    @app.post(
        f"{wire.API}/push",
        response_model=wire.PushReply,
        responses={
            **PROBLEMS,
            409: {"model": wire.Problem, "description": "a sequence number reused"},
        },
        summary="Send outbox events, in order; each is stored and applied exactly once",
    )
    def push(body: wire.PushRequest, authorization: AuthHeader = None) -> wire.PushReply:
        return office.push_events(database, authorization, body)

    @app.get(
        f"{wire.API}/changes",
        response_model=wire.ChangesPage,
        responses=PROBLEMS,
        summary="Catalogue, patrons, rules and loans changed since a cursor, in pages",
    )
    def changes(
        request: Request,
        authorization: AuthHeader = None,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=wire.MAX_PAGE)] = 1000,
    ) -> wire.ChangesPage:
        unknown = sorted(set(request.query_params) - {"cursor", "limit"})
        if unknown:  # most likely a misspelt cursor: better refused than a full copy sent
            raise office.Refusal(400, f"unknown query parameter(s): {', '.join(unknown)}")
        with database.read() as session:
            office.authenticate(session, authorization)
            return office.changes_since(database, session, cursor, limit)

    return app
