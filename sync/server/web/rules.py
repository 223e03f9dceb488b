"""The rules: loan limits and days per kind of reader, and the opening timetable as one weekly
grid, changed on the same page (an opening at a time, closed days with a note)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from kiosk.config import FIRST_GRADE, LAST_GRADE, WEEKDAYS, PolicySettings
from kiosk.models import PatronKind, Week
from kiosk.schedule import Opening
from sync.server.dependencies import DatabaseDep
from sync.server.services import N_, Refusal, overdue, rules
from sync.server.web.auth import SignedIn
from sync.server.web.render import page

router = APIRouter(prefix="/rules")
NAV = ("/rules", N_("Rules"))
# In the order a librarian thinks of them.
KINDS = {
    PatronKind.STUDENT: N_("Students"),
    PatronKind.HELPER: N_("Small librarians"),
    PatronKind.TEACHER: N_("Teachers"),
    PatronKind.LIBRARIAN: N_("Librarians"),
}
FIELDS = {
    "max_loans": N_("Books at a time"),
    "loan_days": N_("Days to keep a book"),
    "max_renewals": N_("Renewals"),
    "overdue_block_days": N_("Blocked by a book late by (days)"),
}
WEEKS = {Week.EVERY: N_("Every week"), Week.A: N_("A weeks"), Week.B: N_("B weeks")}
WORKDAYS = 5  # Monday to Friday are always shown; the weekend when the library opens then
Text = Annotated[str, Form(max_length=200)]


async def _form(request: Request) -> FormData:
    return await request.form()


TypedForm = Annotated[FormData, Depends(_form)]


@dataclass(frozen=True)
class Row:
    """One time window of the weekly grid: for each day shown, the openings then, by number."""

    opens: dt.time
    closes: dt.time
    cells: list[list[tuple[int, Opening]]]


def grid(openings: list[Opening]) -> tuple[list[int], list[Row]]:
    """The days to show (Monday first) and a row per time window, earliest first."""
    used = {day for o in openings for day in o.weekdays}
    days = [day for day in range(7) if day < WORKDAYS or day in used]
    rows = []
    for opens, closes in sorted({(o.opens, o.closes) for o in openings}):
        cells = [
            [
                (number, o)
                for number, o in enumerate(openings, 1)
                if (o.opens, o.closes) == (opens, closes) and day in o.weekdays
            ]
            for day in days
        ]
        rows.append(Row(opens, closes, cells))
    return days, rows


@router.get("")
def show(
    request: Request, who: SignedIn, database: DatabaseDep, edit: int | None = None, done: str = ""
) -> HTMLResponse:
    return _page(request, who, database, edit=edit, done=done)


def _page(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    *,
    edit: int | None = None,
    done: str = "",
    failed: str = "",
    error: Refusal | None = None,
    sent: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The page; after a refusal, the form that *failed* shows what was *sent*, each problem
    beside its field."""
    with database.read() as session:
        found = rules.office_rules(session)
        today = overdue.today(session)
    if edit is not None and not 1 <= edit <= len(found.openings):
        edit = None
    days, rows = grid(found.openings)
    return page(
        request, "rules.html", who, status_code=status_code, rules=found, days=days, rows=rows,
        day_names=rules.DAYS, weekdays=WEEKDAYS, kinds=KINDS, fields=FIELDS, weeks=WEEKS,
        bounds={name: rules.bounds(PolicySettings, name) for name in FIELDS},
        grades=(FIRST_GRADE, LAST_GRADE), edit=edit, done=done, failed=failed, error=error,
        problems=getattr(error, "problems", {}), sent=sent or {}, today=today,
        monday=today - dt.timedelta(days=today.weekday()), this_week=found.week_of(today),
        turns=found.week_a_starts is not None or any(o.week != Week.EVERY for o in found.openings),
    )  # fmt: skip


@router.post("/policies")
def save_policies(
    request: Request, who: SignedIn, database: DatabaseDep, form: TypedForm
) -> Response:
    typed = {kind: {name: _text(form, f"{kind}.{name}") for name in FIELDS} for kind in PatronKind}
    for kind in PatronKind:  # a box ticked sends "1" after the "0" always sent
        ticked = "1" in form.getlist(f"{kind}.{rules.BLOCK_ON_COMPENSATION}")
        typed[kind][rules.BLOCK_ON_COMPENSATION] = "1" if ticked else "0"
    try:
        with database.write() as session:
            rules.set_policies(session, typed)
    except Refusal as refusal:
        sent = {f"{kind}.{name}": text for kind, row in typed.items() for name, text in row.items()}
        return _page(request, who, database, failed="policies", error=refusal, sent=sent,
                     status_code=400)  # fmt: skip
    return RedirectResponse("/rules?done=policies#lending", status_code=303)


@router.post("/openings")
def save_opening(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    form: TypedForm,
    version: Annotated[int, Form()],
    number: Annotated[int | None, Form()] = None,
) -> Response:
    typed = rules.Typed(
        weekdays=tuple(str(day) for day in form.getlist("weekday")[:7]),
        opens=_text(form, "opens"),
        closes=_text(form, "closes"),
        grades=_text(form, "grades"),
        week=_text(form, "week") or Week.EVERY,
    )
    try:
        with database.write() as session:
            rules.save_opening(session, typed, number=number, version=version)
    except Refusal as refusal:
        return _page(request, who, database, edit=number, failed="opening", error=refusal,
                     sent=vars(typed), status_code=400)  # fmt: skip
    done = "opening-added" if number is None else "opening-saved"
    return RedirectResponse(f"/rules?done={done}#timetable", status_code=303)


@router.post("/openings/remove")
def remove_opening(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    version: Annotated[int, Form()],
    number: Annotated[int, Form()],
) -> Response:
    try:
        with database.write() as session:
            rules.remove_opening(session, number, version=version)
    except Refusal as refusal:
        return _page(request, who, database, failed="opening", error=refusal, status_code=400)
    return RedirectResponse("/rules?done=opening-removed#timetable", status_code=303)


@router.post("/week")
def set_week(request: Request, who: SignedIn, database: DatabaseDep, week: Text) -> Response:
    try:
        with database.write() as session:
            rules.set_week(session, overdue.today(session), week)
    except Refusal as refusal:
        return _page(request, who, database, failed="week", error=refusal, status_code=400)
    return RedirectResponse("/rules?done=week#timetable", status_code=303)


@router.post("/closed")
def close(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    first: Text,
    last: Text = "",
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    try:
        with database.write() as session:
            rules.close(session, first, last, note)
    except Refusal as refusal:
        sent = {"first": first, "last": last, "note": note}
        return _page(request, who, database, failed="closed", error=refusal, sent=sent,
                     status_code=400)  # fmt: skip
    return RedirectResponse("/rules?done=closed#closed", status_code=303)


@router.post("/closed/remove")
def reopen(
    request: Request, who: SignedIn, database: DatabaseDep, first: Text, last: Text
) -> Response:
    try:
        days = [dt.date.fromisoformat(first), dt.date.fromisoformat(last)]
    except ValueError:
        days = []
    try:
        if not days:
            raise Refusal(N_("Those days were not understood: look at the closed days again."))
        with database.write() as session:
            rules.reopen(session, days[0], days[1])
    except Refusal as refusal:
        return _page(request, who, database, failed="closed", error=refusal, status_code=400)
    return RedirectResponse("/rules?done=reopened#closed", status_code=303)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:200] if isinstance(value, str) else ""
