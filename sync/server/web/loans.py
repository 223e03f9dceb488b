"""Loans: the books out and those overdue, by class and grade; the overdue slips for the
homeroom teachers, as a page to print (one class to a sheet) and as a PDF."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from sync.server.dependencies import DatabaseDep
from sync.server.services import N_, Refusal, loans, overdue, printing, students
from sync.server.web.auth import SignedIn
from sync.server.web.i18n import language_of, translations
from sync.server.web.render import download, page

router = APIRouter(prefix="/loans")
NAV = ("/loans", N_("Overdue"))


class Readers:
    """Whose loans a page shows: a class's, a grade's (the form's empty choice: everyone's)."""

    def __init__(
        self,
        class_name: Annotated[str, Query(max_length=50)] = "",
        grade: Annotated[str, Query(max_length=2)] = "",
    ) -> None:
        self.class_name = class_name.strip()
        self.grade = int(grade) if grade.strip().isdigit() else None

    def shown(self) -> dict[str, object]:
        return {"class_name": self.class_name, "grade": self.grade}


Chosen = Annotated[Readers, Depends()]


@router.get("")
def listing(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    readers: Chosen,
    show: Annotated[str, Query(max_length=10)] = "late",
) -> HTMLResponse:
    late_only = show != "all"
    with database.read() as session:
        today = overdue.today(session)
        out = loans.current_loans(
            session, class_name=readers.class_name or None, grade=readers.grade
        )
        classes = students.classes(session)
        grades = students.grades(session)
    late = [line for line in out if line.late_days(today)]
    return page(
        request,
        "loans.html",
        who,
        lines=overdue.in_school_order(late if late_only else out),
        out=len(out),
        late=len(late),
        late_only=late_only,
        classes=classes,
        grades=grades,
        today=today,
        **readers.shown(),
    )


def _slips(database: DatabaseDep, readers: Readers) -> tuple[list[overdue.Slip], str, dt.date]:
    with database.read() as session:
        today = overdue.today(session)
        found = overdue.slips(
            session, today, class_name=readers.class_name or None, grade=readers.grade
        )
        return found, printing.school_name(session), today


@router.get("/slips")
def slips_page(
    request: Request, who: SignedIn, database: DatabaseDep, readers: Chosen
) -> HTMLResponse:
    """The slips as a page the browser prints: one class to a sheet (office.css)."""
    found, school, today = _slips(database, readers)
    return page(
        request, "loans_slips.html", who, slips=found, school=school, today=today,
        **readers.shown(),
    )  # fmt: skip


@router.get("/slips.pdf")
def slips_pdf(request: Request, who: SignedIn, database: DatabaseDep, readers: Chosen) -> Response:
    found, school, today = _slips(database, readers)
    try:
        pdf = overdue.slips_pdf(found, today, translations(language_of(request)).gettext, school)
    except Refusal as refusal:
        back = ("/loans", NAV[1])
        return page(request, "problem.html", who, status_code=404, error=refusal, back=back)
    return download(pdf, f"overdue-{readers.class_name or readers.grade or 'all'}-{today}.pdf")
