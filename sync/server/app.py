"""The office server as one FastAPI app: the kiosks' API and the librarian's pages.

``create_app(database)`` mounts the layers (FastAPI's "bigger applications" layout):
``api`` (kiosk routes, bearer tokens) and ``web`` (pages), both over ``services``. The OpenAPI
description at /openapi.json covers the kiosks' API only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from kiosk.clock import utc_now
from sync.server import services, web
from sync.server.api import kiosks as kiosk_api
from sync.server.db import Database

# How each kind of refusal answers over HTTP; any other Refusal is a bad request.
STATUS: dict[type[services.Refusal], int] = {
    services.NotIdentified: 401,
    services.NotAllowed: 403,
    services.NotFound: 404,
    services.Contradiction: 409,
}


def create_app(database: Database) -> FastAPI:
    app = FastAPI(
        title="Library Kiosk office server",
        version="1",
        description="Kiosks enroll, push their events and pull the catalogue here.",
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
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
        return JSONResponse({"detail": str(exc)}, status_code=status)

    app.include_router(kiosk_api.router)
    web.install(app)
    return app
