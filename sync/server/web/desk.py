"""The desk: lending, returning and renewing at the office PC with a USB scanner, class sets,
and the refusals the librarian set aside.

The scan field keeps the cursor: a scanner types a code and Enter, static/desk.js sends it and
puts the answer in place (with a sound) without leaving the field, so the next scan can follow
at once. Without JavaScript the same forms post and the page comes back whole.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from kiosk.models import CopyStatus
from sync.server.dependencies import DatabaseDep
from sync.server.services import N_, Refusal, desk, overdue, students
from sync.server.web.auth import SignedIn
from sync.server.web.render import page
from sync.server.web.students import KINDS

router = APIRouter(prefix="/desk")
NAV = ("/desk", N_("Desk"))
Code = Annotated[str, Form(max_length=200)]
Text = Annotated[str, Form(max_length=2000)]
STATUSES = {
    CopyStatus.AVAILABLE: N_("on the shelf"),
    CopyStatus.ON_LOAN: N_("on loan"),
    CopyStatus.DAMAGED: N_("damaged"),
    CopyStatus.IN_REPAIR: N_("in repair"),
    CopyStatus.LOST: N_("lost"),
    CopyStatus.WITHDRAWN: N_("withdrawn"),
    CopyStatus.REFERENCE: N_("a reference book"),
}


@router.get("")
def desk_page(
    request: Request, who: SignedIn, database: DatabaseDep, card: str = ""
) -> HTMLResponse:
    with database.read() as session:
        try:
            reader = desk.reader(session, card) if card else None
        except Refusal as refusal:
            return _page(request, who, None, error=refusal, status_code=404)
    return _page(request, who, desk.Answer("reader", reader) if reader else None)


@router.post("/scan")
def scan(
    request: Request, who: SignedIn, database: DatabaseDep, code: Code = "", card: Code = ""
) -> HTMLResponse:
    name = who.librarian.name
    return _answer(
        request, who, database, card,
        lambda session: desk.scan(session, code, card=card or None, librarian=name),
    )  # fmt: skip


@router.post("/lend")
def lend(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    code: Code,
    card: Code,
    reason: Text = "",
) -> HTMLResponse:
    name = who.librarian.name
    return _answer(
        request, who, database, card,
        lambda session: desk.lend(session, card, code, librarian=name, reason=reason),
    )  # fmt: skip


@router.post("/return")
def give_back(
    request: Request, who: SignedIn, database: DatabaseDep, code: Code, card: Code = ""
) -> HTMLResponse:
    name = who.librarian.name
    return _answer(
        request, who, database, card,
        lambda session: desk.give_back(session, code, card=card or None, librarian=name),
    )  # fmt: skip


@router.post("/renew")
def renew(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    code: Code,
    card: Code,
    reason: Text = "",
) -> HTMLResponse:
    name = who.librarian.name
    return _answer(
        request, who, database, card,
        lambda session: desk.renew(session, card, code, librarian=name, reason=reason),
    )  # fmt: skip


def _answer(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    card: str,
    act: Callable[[Session], desk.Answer],
) -> HTMLResponse:
    try:
        with database.write() as session:
            answer = act(session)
    except Refusal as refusal:
        with database.read() as session:
            try:
                reader = desk.reader(session, card) if card else None
            except Refusal:
                reader = None
        return _page(request, who, desk.Answer("refused", reader), error=refusal)
    return _page(request, who, answer)


def _page(
    request: Request,
    who: SignedIn,
    answer: desk.Answer | None,
    *,
    error: Refusal | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return page(
        request, "desk.html", who, status_code=status_code, answer=answer,
        reader=answer.reader if answer else None, error=error, kinds=KINDS, statuses=STATUSES,
    )  # fmt: skip


# -- class sets ----------------------------------------------------------------------------------


@router.get("/sets")
def sets_page(
    request: Request, who: SignedIn, database: DatabaseDep, done: str = "", returned: bool = False
) -> HTMLResponse:
    return _sets(request, who, database, done=done, returned=returned)


def _sets(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    *,
    done: str = "",
    returned: bool = False,
    error: Refusal | None = None,
    sent: dict[str, str] | None = None,
) -> HTMLResponse:
    with database.read() as session:
        today = overdue.today(session)
        lines = desk.class_sets(session, returned=returned)
        classes = students.classes(session)
    by_class: dict[str, list[desk.ClassSetLine]] = {}
    for line in lines:
        by_class.setdefault(line.class_name, []).append(line)
    return page(
        request,
        "desk_sets.html",
        who,
        status_code=400 if error else 200,
        by_class=by_class,
        classes=classes,
        done=done,
        returned=returned,
        error=error,
        problems=error.problems if isinstance(error, desk.BadSet) else [],
        sent=sent or {"due": (today + dt.timedelta(days=28)).isoformat()},
        today=today,
        statuses=STATUSES,
    )


@router.post("/sets")
def lend_set(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    holder: Code,
    due: Code,
    codes: Annotated[str, Form(max_length=20_000)],
    class_name: Code = "",
    note: Text = "",
) -> Response:
    try:
        try:
            until = dt.date.fromisoformat(due.strip())
        except ValueError as exc:
            raise Refusal(N_("{date} is not a date (write 2016-09-01)."), date=due) from exc
        with database.write() as session:
            lent = desk.lend_class_set(
                session, holder=holder, class_name=class_name, due=until,
                codes=codes.splitlines(), librarian=who.librarian.name, note=note,
            )  # fmt: skip
    except Refusal as refusal:
        sent = dict(holder=holder, due=due, codes=codes, class_name=class_name, note=note)
        return _sets(request, who, database, error=refusal, sent=sent)
    return RedirectResponse(f"/desk/sets/{lent.id}?done=lent", status_code=303)


@router.get("/sets/{number}")
def set_page(
    request: Request, who: SignedIn, database: DatabaseDep, number: int, done: str = ""
) -> HTMLResponse:
    with database.read() as session:
        try:
            line = desk.class_set_line(session, number)
        except Refusal as refusal:
            return _sets(request, who, database, error=refusal)
    return page(request, "desk_set.html", who, line=line, done=done)


@router.post("/sets/{number}/return")
def return_set(request: Request, who: SignedIn, database: DatabaseDep, number: int) -> Response:
    try:
        with database.write() as session:
            back = desk.return_class_set(session, number, librarian=who.librarian.name)
    except Refusal as refusal:
        return _sets(request, who, database, error=refusal)
    return RedirectResponse(f"/desk/sets/{number}?done=all:{back}", status_code=303)


@router.post("/sets/{number}/scan")
def return_one(
    request: Request, who: SignedIn, database: DatabaseDep, number: int, code: Code = ""
) -> Response:
    """A book of the set scanned back on the set's own page."""
    try:
        with database.write() as session:
            answer = desk.give_back(session, code, librarian=who.librarian.name)
    except Refusal:
        answer = desk.Answer("unknown", refusal="unknown_code", copy=code)
    done = f"one:{answer.title}" if answer.outcome == "returned" else f"not:{code.strip()}"
    return RedirectResponse(f"/desk/sets/{number}?{urlencode({'done': done})}", status_code=303)


# -- the log of refusals set aside ---------------------------------------------------------------


@router.get("/overrides")
def overrides_page(request: Request, who: SignedIn, database: DatabaseDep) -> HTMLResponse:
    with database.read() as session:
        lines = desk.overrides(session)
    return page(request, "desk_overrides.html", who, lines=lines, desk_name=desk.DESK)
