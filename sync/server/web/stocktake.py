"""The stocktake: start one (the whole library, some shelves or classifications), follow it
shelf by shelf and kiosk by kiosk while small librarians count, count at the desk too, close it
after a confirmation choosing what becomes of the copies nobody saw, and the kept results,
printable and as CSV. Shelf labels for the kiosks' scanners are printed from here (or the Print
page).

Counting at the desk works as the Desk page's scan field does (static/desk.js): a USB scanner
types a shelf's label or a book's code and Enter, the answer and the progress come back in
place with a sound, and the cursor stays in the field for the next book.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from sync.server.dependencies import DatabaseDep
from sync.server.services import N_, Refusal, plan, stocktakes
from sync.server.web.auth import SignedIn
from sync.server.web.i18n import language_of, translations
from sync.server.web.render import download, page

router = APIRouter(prefix="/stocktake")
NAV = ("/stocktake", N_("Stocktake"))
NotSeen = Annotated[str, Form(max_length=10)]
Code = Annotated[str, Form(max_length=200)]


@router.get("")
def stocktake_page(request: Request, who: SignedIn, database: DatabaseDep) -> HTMLResponse:
    return _page(request, who, database)


def _page(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    *,
    status_code: int = 200,
    **context: object,
) -> HTMLResponse:
    """The stocktake going on (its progress and how to close it), or the form to start one;
    then the kept results."""
    with database.read() as session:
        going_on = stocktakes.current(session)
        now = stocktakes.progress(session, going_on.id) if going_on else None
        shelves = stocktakes.all_shelves(session) if going_on is None else []
        records = [r for r in stocktakes.records(session) if not r.is_open]
    return page(
        request,
        "stocktake.html",
        who,
        status_code=status_code,
        now=now,
        shelves=shelves,
        records=records,
        **context,
    )


@router.post("/scan")
def scan(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    stocktake: Annotated[int, Form()],
    code: Code = "",
    shelf: Code = "",
) -> Response:
    """A shelf's label or a book scanned at the desk, on the shelf being counted."""
    name = who.librarian.name
    return _counted(
        request, who, database, stocktake,
        lambda session: stocktakes.desk_scan(session, stocktake, code, shelf=shelf,
                                             librarian=name),
    )  # fmt: skip


@router.post("/shelf")
def choose_shelf(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    stocktake: Annotated[int, Form()],
    shelf: Code = "",
) -> Response:
    """The shelf counted at the desk next, chosen from the list (a shelf without a label)."""
    return _counted(
        request, who, database, stocktake,
        lambda session: stocktakes.choose_shelf(session, stocktake, shelf),
    )  # fmt: skip


def _counted(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    stocktake: int,
    act: Callable[[Session], stocktakes.DeskScan],
) -> Response:
    try:
        with database.write() as session:
            scanned = act(session)
    except Refusal:
        # Closed meanwhile (or never was): its page says so.
        return RedirectResponse(f"/stocktake/{stocktake}", status_code=303)
    return _page(request, who, database, scanned=scanned, shelf=scanned.shelf)


@router.post("/start")
def start(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    name: Annotated[str, Form(max_length=200)] = "",
    shelf: Annotated[list[str] | None, Form()] = None,
    classifications: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        with database.write() as session:
            stocktakes.start(
                session,
                name=name,
                librarian=who.librarian.name,
                shelves=shelf or [],
                classifications=re.split(r"[\s,，、;；]+", classifications),
            )
    except Refusal as refusal:
        return _page(
            request,
            who,
            database,
            status_code=400,
            error=refusal,
            name=name,
            ticked=shelf or [],
            classifications=classifications,
        )
    return RedirectResponse("/stocktake?done=started", status_code=303)


@router.get("/close")
def close_form(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    not_seen: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """What closing will do, asked once more before it is done."""
    with database.read() as session:
        going_on = stocktakes.current(session)
        now = stocktakes.progress(session, going_on.id) if going_on else None
    if now is None:
        return RedirectResponse("/stocktake", status_code=303)
    if not_seen not in stocktakes.NOT_SEEN_ACTIONS:
        refusal = Refusal(N_("Choose what becomes of the copies nobody saw."))
        return _page(request, who, database, status_code=400, close_error=refusal)
    return page(request, "stocktake_close.html", who, now=now, not_seen=not_seen)


@router.post("/close")
def close(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    stocktake: Annotated[int, Form()],
    not_seen: NotSeen,
) -> Response:
    try:
        with database.write() as session:
            stocktakes.close(session, stocktake, not_seen=not_seen, librarian=who.librarian.name)
    except Refusal as refusal:
        return _page(request, who, database, status_code=400, close_error=refusal)
    return RedirectResponse(f"/stocktake/{stocktake}?done=closed", status_code=303)


@router.get("/{number}.csv")
def result_csv(request: Request, who: SignedIn, database: DatabaseDep, number: int) -> Response:
    try:
        with database.read() as session:
            found = stocktakes.result(session, number)
            zone = plan.current(session).zone()
    except Refusal as refusal:
        back = ("/stocktake", NAV[1])
        return page(request, "problem.html", who, status_code=404, error=refusal, back=back)
    gettext = translations(language_of(request)).gettext
    name = f"{gettext('Stocktake')} {found.summary.name}.csv"
    return download(stocktakes.result_csv(found, zone, gettext), name)


@router.get("/{number}")
def result_page(
    request: Request, who: SignedIn, database: DatabaseDep, number: int
) -> HTMLResponse:
    try:
        with database.read() as session:
            found = stocktakes.result(session, number)
    except Refusal as refusal:
        back = ("/stocktake", NAV[1])
        return page(request, "problem.html", who, status_code=404, error=refusal, back=back)
    return page(
        request,
        "stocktake_result.html",
        who,
        found=found,
        kinds=stocktakes.KINDS,
        kind_words=stocktakes.KIND_WORDS,
        status_words=stocktakes.STATUS_WORDS,
    )
