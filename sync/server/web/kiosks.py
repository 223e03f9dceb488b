"""The kiosks: how each is doing, enrolling a new one, revoking one, and the conflicts they
reported, explained and resolved with a note."""

from __future__ import annotations

import ipaddress
import socket
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kiosk.clock import CLOCK_WARNING_SECONDS
from sync.server.dependencies import DatabaseDep
from sync.server.services import N_, Refusal, Sentence, conflicts, kiosks
from sync.server.web.auth import SignedIn
from sync.server.web.render import page

router = APIRouter(prefix="/kiosks")
NAV = ("/kiosks", N_("Kiosks"))
# A conflict's kind in a few words (the explanation below it says the rest).
KINDS = {
    "unknown_copy": N_("Book not known"),
    "checkout_of_lost": N_("Lost book lent"),
    "checkout_of_withdrawn": N_("Withdrawn book lent"),
    "unknown_patron": N_("Card not known"),
    "patron_deleted": N_("Removed reader borrowed"),
    "lent_twice": N_("Lent twice"),
    "return_of_copy_on_shelf": N_("Returned twice"),
}


@router.get("")
def listing(request: Request, who: SignedIn, database: DatabaseDep, done: str = "") -> HTMLResponse:
    return _listing(request, who, database, done=done)


def _listing(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    *,
    done: str = "",
    error: Refusal | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with database.read() as session:
        lines = kiosks.kiosks(session)
        open_conflicts = conflicts.conflicts(session)
    return page(
        request,
        "kiosks.html",
        who,
        status_code=status_code,
        kiosks=lines,
        clocks={
            line.id: clock_in_words(line.clock_offset_seconds, line.clock_backwards)
            for line in lines
        },
        conflicts=open_conflicts,
        kinds=KINDS,
        done=done,
        error=error,
    )


@router.post("/code")
def enrolment_code(request: Request, who: SignedIn, database: DatabaseDep) -> HTMLResponse:
    with database.write() as session:
        code = kiosks.new_enroll_code(session)
    return page(request, "kiosk_code.html", who, code=code, address=_office_address(request))


@router.get("/revoke")
def revoke_form(request: Request, who: SignedIn, database: DatabaseDep, kiosk: int) -> Response:
    with database.read() as session:
        found = [k for k in kiosks.kiosks(session) if k.id == kiosk and not k.revoked]
    if not found:
        return RedirectResponse("/kiosks", status_code=303)
    return page(request, "kiosk_revoke.html", who, kiosk=found[0])


@router.post("/revoke")
def revoke(
    request: Request, who: SignedIn, database: DatabaseDep, kiosk: Annotated[int, Form()]
) -> Response:
    try:
        with database.write() as session:
            revoked = kiosks.revoke(session, str(kiosk))
    except Refusal as refusal:
        return _listing(request, who, database, error=refusal, status_code=404)
    done = urlencode({"done": f"revoked:{revoked.name}"})
    return RedirectResponse(f"/kiosks?{done}", status_code=303)


@router.get("/conflicts/resolved")
def resolved(request: Request, who: SignedIn, database: DatabaseDep) -> HTMLResponse:
    with database.read() as session:
        lines = conflicts.conflicts(session, resolved=True)
    return page(request, "conflicts_resolved.html", who, conflicts=lines, kinds=KINDS)


@router.post("/conflicts/resolve")
def resolve(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    conflict: Annotated[int, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        with database.write() as session:
            conflicts.resolve(session, conflict, note, who.librarian.name)
    except Refusal as refusal:
        return _listing(request, who, database, error=refusal, status_code=400)
    return RedirectResponse(f"/kiosks?done=resolved:{conflict}#conflicts", status_code=303)


def clock_in_words(offset: float | None, backwards: bool) -> tuple[Sentence, bool]:
    """How far a kiosk's clock is off the office's (*offset*: the office's time minus the
    kiosk's, at its last sync), in words, and whether that is a worry."""
    if offset is None:
        words = Sentence(N_("not measured yet"))
    elif abs(offset) < 2:
        words = Sentence(N_("right"))
    else:
        size = abs(offset)
        amount = (
            Sentence(N_("{n} s"), {"n": round(size)})
            if size < 90
            else Sentence(N_("{n} min"), {"n": round(size / 60)})
            if size < 5400
            else Sentence(N_("{n} h"), {"n": round(size / 3600)})
        )
        # The offset is the office's time minus the kiosk's: positive, the kiosk is behind.
        slow_or_fast = N_("{amount} slow") if offset > 0 else N_("{amount} fast")
        words = Sentence(slow_or_fast, {"amount": amount})
    if backwards:
        words = Sentence(N_("{words}; it went backwards"), {"words": words})
    worry = backwards or (offset is not None and abs(offset) > CLOCK_WARNING_SECONDS)
    return words, worry


def _office_address(request: Request) -> str:
    """Where a kiosk finds this office: the address the librarian's browser used, unless that
    is this computer's own loopback (then its name on the school network)."""
    host, port = request.url.hostname or "", request.url.port or 80
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    return f"{socket.gethostname() if loopback else host}:{port}"
