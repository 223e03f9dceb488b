"""Compensation: books damaged or lost and what their readers owe, settled or not, a list per
class; recording one (the book's price by default), settling it, or cancelling one recorded by
mistake (with why)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sync.server.dependencies import DatabaseDep
from sync.server.services import N_, Refusal, compensation, overdue, students
from sync.server.services.books import STATUS_NAMES
from sync.server.web.auth import SignedIn
from sync.server.web.render import page

router = APIRouter(prefix="/compensation")
NAV = ("/compensation", N_("Compensation"))
Text = Annotated[str, Form(max_length=400)]
SHOWN = {"unsettled": False, "settled": True, "all": None}


@router.get("")
def listing(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    class_name: Annotated[str, Query(max_length=50)] = "",
    show: Annotated[str, Query(max_length=10)] = "unsettled",
    done: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    return _listing(request, who, database, class_name=class_name.strip(), show=show, done=done)


def _listing(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    *,
    class_name: str = "",
    show: str = "unsettled",
    done: str = "",
    error: Refusal | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    show = show if show in SHOWN else "unsettled"
    with database.read() as session:
        lines = compensation.compensations(
            session, class_name=class_name or None, settled=SHOWN[show]
        )
        to_settle = compensation.books_to_settle(session)
        classes = students.classes(session)
        today = overdue.today(session)
    owed = sum(line.amount_cents for line in lines if line.owed)
    return page(
        request,
        "compensation.html",
        who,
        status_code=status_code,
        lines=lines,
        owed=owed,
        to_settle=[b for b in to_settle if not class_name or b.class_name == class_name],
        classes=classes,
        class_name=class_name,
        show=show,
        done=done,
        error=error,
        today=today,
        reasons=compensation.REASONS,
        statuses=STATUS_NAMES,
    )


@router.get("/new")
def new(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    copy: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    """Step one: scan the book. Step two: who owes what for it (its last reader and price)."""
    book, error = None, None
    if copy.strip():
        with database.read() as session:
            try:
                book = compensation.book_to_settle(session, copy)
            except Refusal as refusal:
                error = refusal
    return page(
        request,
        "compensation_new.html",
        who,
        status_code=404 if error else 200,
        book=book,
        typed={},
        error=error,
        code=copy.strip(),
        reasons=compensation.REASONS,
        statuses=STATUS_NAMES,
    )


@router.post("")
def record(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    code: Annotated[str, Form(max_length=64)],
    card: Annotated[str, Form(max_length=64)],
    reason: Annotated[str, Form(max_length=16)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    note: Text = "",
) -> Response:
    try:
        with database.write() as session:
            line = compensation.record(
                session, code=code, card=card, reason=reason, amount=amount, note=note,
                librarian=who.librarian.name,
            )  # fmt: skip
    except Refusal as refusal:
        with database.read() as session:
            try:
                book = compensation.book_to_settle(session, code)
            except Refusal:
                book = None
        typed = {"card": card, "reason": reason, "amount": amount, "note": note}
        return page(
            request, "compensation_new.html", who, status_code=400, book=book, typed=typed,
            error=refusal, code=code, reasons=compensation.REASONS, statuses=STATUS_NAMES,
        )  # fmt: skip
    then = {"class_name": line.class_name} if line.class_name else {}
    return _back(then, f"recorded:{line.id}:{line.name}")


@router.post("/{number}/settle")
def settle(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    number: int,
    settled_on: Annotated[dt.date | None, Form()] = None,
    class_name: Annotated[str, Form(max_length=50)] = "",
) -> Response:
    try:
        with database.write() as session:
            line = compensation.settle(session, number, librarian=who.librarian.name, on=settled_on)
    except Refusal as refusal:
        return _listing(
            request, who, database, class_name=class_name.strip(), error=refusal, status_code=400
        )
    then = {"class_name": class_name.strip()} if class_name.strip() else {}
    return _back(then, f"settled:{line.id}:{line.name}")


@router.post("/{number}/cancel")
def cancel(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    number: int,
    reason: Annotated[str, Form(max_length=400)] = "",
    class_name: Annotated[str, Form(max_length=50)] = "",
) -> Response:
    try:
        with database.write() as session:
            line = compensation.cancel(session, number, librarian=who.librarian.name, reason=reason)
    except Refusal as refusal:
        return _listing(
            request, who, database, class_name=class_name.strip(), error=refusal, status_code=400
        )
    then = {"class_name": class_name.strip()} if class_name.strip() else {}
    return _back(then, f"cancelled:{line.id}:{line.name}")


def _back(query: dict[str, str], done: str) -> RedirectResponse:
    return RedirectResponse(f"/compensation?{urlencode({**query, 'done': done})}", 303)
