"""Small librarians: who they are, their PINs for the kiosks' helpers' menu, a student made
one, and what they did at the kiosks."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kiosk.models import PatronKind
from sync.server.dependencies import DatabaseDep
from sync.server.services import N_, Refusal, helpers, students
from sync.server.web.auth import SignedIn
from sync.server.web.render import page

router = APIRouter(prefix="/helpers")
NAV = ("/helpers", N_("Small librarians"))
Card = Annotated[str, Form(max_length=64)]
Pin = Annotated[str, Form(max_length=64)]
FOUND_AT_MOST = 20  # students listed to choose from


@router.get("")
def listing(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    q: str = "",
    card: str = "",
    done: str = "",
) -> HTMLResponse:
    return _listing(request, who, database, q=q[:100], card=card[:64], done=done[:200])


def _listing(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    *,
    q: str = "",
    card: str = "",
    done: str = "",
    error: Refusal | None = None,
    failed: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    """The page; a refusal about one small librarian (*failed*, a card) is shown in their row."""
    with database.read() as session:
        lines = helpers.helpers(session)
        found = students.find(session, query=q, limit=FOUND_AT_MOST) if q.strip() else None
        done_by = helpers.actions(session, card or None)
    candidates = [s for s in found.students if s.kind == PatronKind.STUDENT] if found else None
    return page(
        request, "helpers.html", who, status_code=status_code, helpers=lines, q=q, card=card,
        candidates=candidates, actions=done_by, done=done, error=error, failed=failed,
        digits=helpers.PIN_DIGITS,
    )  # fmt: skip


@router.post("/mark")
def mark(request: Request, who: SignedIn, database: DatabaseDep, card: Card) -> Response:
    try:
        with database.write() as session:
            made = helpers.make_helper(session, card)
    except Refusal as refusal:
        return _listing(request, who, database, error=refusal, status_code=400)
    return _done(f"marked:{made.name}", "#pin-" + made.card)


@router.post("/unmark")
def unmark(request: Request, who: SignedIn, database: DatabaseDep, card: Card) -> Response:
    try:
        with database.write() as session:
            gone = helpers.unmake_helper(session, card)
    except Refusal as refusal:
        return _listing(request, who, database, error=refusal, status_code=400)
    return _done(f"unmarked:{gone.name}")


@router.post("/pin")
def set_pin(
    request: Request, who: SignedIn, database: DatabaseDep, card: Card, pin: Pin, again: Pin
) -> Response:
    try:
        if pin != again:
            raise Refusal(N_("The two PINs are not the same: type it again."))
        with database.write() as session:
            found = helpers.set_pin(session, card, pin)
    except Refusal as refusal:
        return _listing(request, who, database, error=refusal, failed=card, status_code=400)
    return _done(f"pin:{found.name}")


def _done(done: str, anchor: str = "") -> Response:
    return RedirectResponse("/helpers?" + urlencode({"done": done}) + anchor, status_code=303)
