"""The office server as one FastAPI app: the kiosks' API and the librarian's pages.

``create_app(database)`` mounts the layers (FastAPI's "bigger applications" layout):
``api`` (kiosk routes, bearer tokens) and ``web`` (pages), both over ``services``. The OpenAPI
description at /openapi.json covers the kiosks' API only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException

from kiosk.clock import utc_now
from sync import wire
from sync.server import services, web
from sync.server.api import kiosks as kiosk_api
from sync.server.db import Database

# No request is read whole beyond these (413 instead): a kiosk's push of a full batch is far
# below the API's; the pages' limit leaves room for a class list or a catalogue to upload.
PAGE_BODY_LIMIT = 64 * 2**20
MAX_PROBLEMS = 10  # listed in a 422: the first ones say enough

# How each kind of refusal answers over HTTP; any other Refusal is a request not taken (422,
# as for a body that is not what the operation takes: one status for both, as documented).
STATUS: dict[type[services.Refusal], int] = {
    services.NotIdentified: 401,
    services.NotAllowed: 403,
    services.NotFound: 404,
    services.Contradiction: 409,
}


def create_app(database: Database) -> FastAPI:
    app = FastAPIOffline(  # /docs and /redoc without a CDN
        title="Library Kiosk office server",
        version="1",
        description="Kiosks enroll, push their events and pull the catalogue here.",
        max_body_size=PAGE_BODY_LIMIT,
    )
    app.state.database = database

    @app.middleware("http")
    async def server_time(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["X-Server-Time"] = utc_now().isoformat()
        return response

    @app.exception_handler(services.Refusal)
    async def refused(_request: Request, exc: services.Refusal) -> JSONResponse:
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 422)
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_problem(_request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not read the body (not UTF-8, say)
            return JSONResponse({"detail": "not JSON: the body is not UTF-8 text"}, 422)
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> Response:
        if not request.url.path.startswith(wire.API):
            return web.form_incomplete(request)
        # Says where and what, never the input itself (it may be huge, or hostile).
        problems = [_problem(error) for error in exc.errors()]
        more = len(problems) - MAX_PROBLEMS
        detail = "; ".join(problems[:MAX_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
        return JSONResponse({"detail": detail}, status_code=422)

    app.include_router(kiosk_api.router)
    app.state.enrolment_throttle = kiosk_api.enrolment_throttle()
    web.install(app)
    return app


def _problem(error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error["loc"] if part != "body") or "body"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error.get("type") == "json_invalid":
        # FastAPI's error says at which character; pydantic's (a body its model read) says
        # what and where in its message.
        said = message.removeprefix("Invalid JSON: ")
        return f"not JSON ({said})" if where == "body" else f"not JSON (at character {where})"
    return f"{where}: {message}"
