"""The first page after signing in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from sync.server.services import N_
from sync.server.web.auth import SignedIn
from sync.server.web.render import page

router = APIRouter()
NAV = ("/", N_("Home"))


@router.get("/")
def home(request: Request, who: SignedIn) -> HTMLResponse:
    return page(request, "home.html", who)
