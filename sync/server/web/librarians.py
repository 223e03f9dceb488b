"""Librarians' accounts: who may sign in, and adding another librarian."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sync.server.dependencies import DatabaseDep
from sync.server.services import N_, Refusal, librarians
from sync.server.web.auth import SignedIn
from sync.server.web.render import page

router = APIRouter(prefix="/librarians")
NAV = ("/librarians", N_("Librarians"))


@router.get("")
def listing(
    request: Request, who: SignedIn, database: DatabaseDep, added: str | None = None
) -> HTMLResponse:
    with database.read() as session:
        accounts = librarians.librarians(session)
    return page(request, "librarians.html", who, accounts=accounts, added=added)


@router.post("")
def add(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    name: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    again: Annotated[str, Form(max_length=1024)],
) -> Response:
    try:
        if password != again:
            raise Refusal(N_("The two passwords are not the same."))
        with database.write() as session:
            added = librarians.create_librarian(session, name, password, by=who.librarian.id)
    except Refusal as refusal:
        with database.read() as session:
            accounts = librarians.librarians(session)
        return page(
            request,
            "librarians.html",
            who,
            status_code=400,
            accounts=accounts,
            error=refusal,
            name=name,
        )
    return RedirectResponse(f"/librarians?added={added.name}", status_code=303)
