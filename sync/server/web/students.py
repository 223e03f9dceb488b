"""The students: a class at a glance, find one, edit or deactivate them, a new school year."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from kiosk.classes import STYLES
from kiosk.clock import utc_now
from kiosk.importer import BadImportFile
from kiosk.models import PatronKind
from sync.server.dependencies import DatabaseDep
from sync.server.services import N_, Refusal, card_numbers, classlists, desk, loans, students
from sync.server.web import bad_rows, uploads
from sync.server.web.auth import SignedIn
from sync.server.web.i18n import language_of, translations
from sync.server.web.render import page

router = APIRouter(prefix="/students")
NAV = ("/students", N_("Students"))
KINDS = {
    PatronKind.STUDENT: N_("Student"),
    PatronKind.HELPER: N_("Small librarian"),
    PatronKind.TEACHER: N_("Teacher"),
    PatronKind.LIBRARIAN: N_("Librarian"),
}
Text = Annotated[str, Form(max_length=200)]
PRINT = "/print"  # the Print area: its /print/cards form takes a class, or the cards ticked


@router.get("")
def listing(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    class_name: str = "",
    q: str = "",
    inactive: bool = False,
    done: str = "",
) -> HTMLResponse:
    return _listing(request, who, database, class_name=class_name, q=q, inactive=inactive,
                    done=done)  # fmt: skip


def _listing(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    *,
    class_name: str = "",
    q: str = "",
    inactive: bool = False,
    done: str = "",
    error: Refusal | None = None,
) -> HTMLResponse:
    with database.read() as session:
        found = students.find(session, class_name=class_name, query=q, inactive=inactive)
        classes = students.classes(session)
    return page(
        request,
        "students.html",
        who,
        status_code=404 if error else 200,
        found=found,
        classes=classes,
        class_name=class_name,
        q=q,
        inactive=inactive,
        kinds=KINDS,
        done=done,
        error=error,
        printing=can_print(request),
    )


@router.get("/import")
def import_form(
    request: Request, who: SignedIn, database: DatabaseDep, saved: bool = False
) -> HTMLResponse:
    return _import_form(request, who, database, saved=saved)


def _import_form(
    request: Request, who: SignedIn, database: DatabaseDep, status_code: int = 200, **context
) -> HTMLResponse:
    with database.read() as session:
        rule = card_numbers.card_rule(session)
    return page(
        request, "students_import.html", who, status_code=status_code, rule=rule,
        rules=card_numbers.RULES, year=utc_now().year, **context,
    )  # fmt: skip


@router.post("/import")
def upload(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """The file chosen: kept, and shown as it would be imported."""
    try:
        if file is None:
            raise Refusal(N_("Choose a file first (CSV or Excel)."))
        token = uploads.keep(file)
    except Refusal as refusal:
        return _import_form(request, who, database, 400, error=refusal)
    return _preview(request, who, database, token)


@router.post("/import/preview")
def preview_again(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    token: Text,
    column: Annotated[list[str] | None, Form()] = None,
    field: Annotated[list[str] | None, Form()] = None,
    style: Text = "",
) -> Response:
    """The same file, its columns placed and its classes shown as the librarian chose."""
    return _preview(request, who, database, token, column, field, style)


def _preview(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    token: str,
    column: list[str] | None = None,
    field: list[str] | None = None,
    style: str = "",
    error: Refusal | None = None,
) -> Response:
    try:
        path = uploads.path_of(token)
        mapping = _mapping(path, column, field)
        with database.read() as session:
            found = classlists.preview(
                session, path, mapping=mapping, style=style or None, today=utc_now().date()
            )
    except Refusal as refusal:
        return _import_form(request, who, database, 400, error=refusal)
    except BadImportFile as exc:
        uploads.forget(token)
        return _import_form(request, who, database, 400, problems=exc.problems)
    gettext = translations(language_of(request)).gettext
    return page(
        request, "students_preview.html", who, found=found, token=token, file_name=path.name,
        fields=classlists.FIELDS, styles=STYLES, error=error,
        problems=[bad_rows.say(line, gettext) for line in found.problems],
        places={h.place: bad_rows.place(h.place, gettext) for h in found.headers},
    )  # fmt: skip


def _mapping(
    path: Path, column: list[str] | None, field: list[str] | None
) -> classlists.Mapping | None:
    if column is None:
        return None
    if field is None or len(field) != len(column):
        raise Refusal(N_("The columns sent do not match the file: choose it again."))
    return classlists.mapping_from(path, dict(zip(column, field, strict=True)))


@router.post("/import/confirm")
def confirm(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    token: Text,
    column: Annotated[list[str] | None, Form()] = None,
    field: Annotated[list[str] | None, Form()] = None,
    style: Text = "",
    deactivate_missing: Annotated[bool, Form()] = False,
    skip_bad: Annotated[bool, Form()] = False,
) -> Response:
    try:
        path = uploads.path_of(token)
        mapping = _mapping(path, column, field)
        with database.write() as session:
            done = classlists.import_file(
                session, path, mapping=mapping, style=style or None, skip_bad=skip_bad,
                deactivate_missing=deactivate_missing, today=utc_now().date(),
            )  # fmt: skip
    except Refusal as refusal:
        return _import_form(request, who, database, 400, error=refusal)
    except BadImportFile:
        # The file or the records changed since the preview: show it again, as it is now.
        nothing = Refusal(N_("Nothing was imported: look at the rows below first."))
        return _preview(request, who, database, token, column, field, style, error=nothing)
    uploads.forget(token)
    return page(request, "students_imported.html", who, done=done, file_name=path.name,
                printing=can_print(request))  # fmt: skip


@router.post("/cards")
def card_rule(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    rule: Text,
    prefix: Text = "",
    digits: Annotated[int, Form(ge=1, le=20)] = 4,
) -> Response:
    try:
        with database.write() as session:
            card_numbers.set_card_rule(session, rule, prefix, digits)
    except Refusal as refusal:
        return _import_form(request, who, database, 400, rule_error=refusal)
    return RedirectResponse("/students/import?saved=1", status_code=303)


@router.get("/year")
def year(request: Request, who: SignedIn, database: DatabaseDep) -> HTMLResponse:
    with database.read() as session:
        plan = students.new_school_year_plan(session)
    return page(request, "students_year.html", who, plan=plan)


@router.post("/year")
def move_up(request: Request, who: SignedIn, database: DatabaseDep) -> Response:
    with database.write() as session:
        plan = students.new_school_year(session, utc_now().date())
    done = f"year:{plan.students}:{len(plan.leavers)}"
    return RedirectResponse("/students?" + urlencode({"done": done}), status_code=303)


@router.get("/edit")
def edit_form(request: Request, who: SignedIn, database: DatabaseDep, card: str) -> Response:
    try:
        with database.read() as session:
            shown = _student(session, card)
    except Refusal as refusal:
        return _listing(request, who, database, error=refusal)
    return page(request, "student.html", who, **shown)


def _student(session: Session, card: str) -> dict[str, Any]:
    """What the student's page shows: their record, the books they have out now (as the desk
    sees them, late days and all) and the loans they returned lately."""
    return dict(
        student=students.get(session, card),
        reader=desk.reader(session, card),
        returned=loans.returned_loans(session, card),
        kinds=KINDS,
    )


@router.post("/edit")
def save(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    card: Text,
    name: Text,
    class_name: Text = "",
    grade: Text = "",
    kind: Text = PatronKind.STUDENT,
    student_number: Text = "",
    birth_date: Text = "",
) -> Response:
    try:
        change = students.Edit(
            name=name,
            class_name=class_name,
            grade=_number(grade, N_("A grade is a number from 1 to 12.")),
            kind=kind,
            student_number=student_number,
            birth_date=_date(birth_date),
        )
        with database.write() as session:
            saved = students.edit(session, card, change)
    except Refusal as refusal:
        with database.read() as session:
            shown = _student(session, card)
        return page(
            request, "student.html", who, status_code=400, **shown, error=refusal,
            sent=dict(name=name, class_name=class_name, grade=grade, kind=kind,
                      student_number=student_number, birth_date=birth_date),
        )  # fmt: skip
    return _back_to_class(saved.class_name, f"saved:{saved.name}")


@router.post("/active")
def set_active(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    card: Text,
    active: Annotated[bool, Form()],
) -> Response:
    try:
        with database.write() as session:
            saved = students.set_active(session, card, active)
    except Refusal as refusal:
        return _listing(request, who, database, error=refusal)
    return _back_to_class(
        saved.class_name, f"{'active' if active else 'inactive'}:{saved.name}", inactive=True
    )


def can_print(request: Request) -> bool:
    """Whether the office prints library cards (its pages have the Print area)."""
    return any(href == PRINT for href, _label in request.app.state.navigation)


def _back_to_class(class_name: str, done: str, *, inactive: bool = False) -> Response:
    query = {"class_name": class_name, "done": done}
    if inactive:
        query["inactive"] = "1"
    return RedirectResponse("/students?" + urlencode(query), status_code=303)


def _number(text: str, problem: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise Refusal(problem)
    return int(text)


def _date(text: str) -> dt.date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise Refusal(N_("{date} is not a date (write 2016-09-01)."), date=text) from exc
