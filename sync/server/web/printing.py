"""Printing: barcode labels for chosen copies, library cards, a calibration sheet, as PDF files
the browser saves or opens (print them at actual size)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sync.server.dependencies import DatabaseDep
from sync.server.services import N_, Refusal, printing, students
from sync.server.web.auth import SignedIn
from sync.server.web.render import download, page

router = APIRouter(prefix="/print")
NAV = ("/print", N_("Print"))
Number = Annotated[float | None, Form(ge=0, le=1000)]
Codes = Annotated[list[str] | None, Form()]


class LabelSheet:
    """The label sheet chosen in a form: a maker's layout, or a grid measured by hand."""

    def __init__(
        self,
        layout: Annotated[str, Form(max_length=20)] = printing.DEFAULT_LAYOUT,
        start: Annotated[int, Form(ge=1, le=1000)] = 1,
        columns: Annotated[int | None, Form(ge=1, le=50)] = None,
        rows: Annotated[int | None, Form(ge=1, le=100)] = None,
        width: Number = None,
        height: Number = None,
        top: Number = None,
        left: Number = None,
        across: Number = None,
        down: Number = None,
    ) -> None:
        self.name, self.start = layout, start
        self.grid = (columns, rows, width, height, top, left, across, down)

    def layout(self) -> printing.Layout:
        if self.name != "custom":
            return printing.layout_named(self.name)
        if any(value is None for value in self.grid):
            raise Refusal(N_("Give every measure of your label sheet, in millimetres."))
        columns, rows, *sizes = self.grid
        return printing.Layout("custom", int(columns), int(rows), *map(float, sizes)).check()  # type: ignore[arg-type]


@router.get("")
def printing_page(request: Request, who: SignedIn, database: DatabaseDep) -> HTMLResponse:
    return _page(request, who, database)


def _page(
    request: Request, who: SignedIn, database: DatabaseDep, status_code: int = 200, **context
) -> HTMLResponse:
    with database.read() as session:
        school = printing.school_name(session)
        classes = [line.name for line in students.classes(session)]
    return page(
        request,
        "print.html",
        who,
        status_code=status_code,
        school=school,
        classes=classes,
        today=dt.date.today(),
        layouts=printing.LAYOUTS,
        default_layout=printing.DEFAULT_LAYOUT,
        **context,
    )


@router.post("/labels")
def labels(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    sheet: Annotated[LabelSheet, Depends()],
    copies: Codes = None,
    which: Annotated[str, Form(max_length=20)] = "",
    barcodes: Annotated[str, Form(max_length=100_000)] = "",
    added_since: Annotated[dt.date | None, Form()] = None,
) -> Response:
    """Labels for the copies ticked on a page, or scanned into the box one a line, or added
    since a day."""
    chosen = [*(copies or []), *(barcodes.split() if which == "barcodes" else [])]
    since = added_since if which == "added" else None
    try:
        layout = sheet.layout()
        with database.read() as session:
            found = printing.labels_to_print(
                session, barcodes=chosen or None, added_since=None if chosen else since
            )
        pdf = printing.labels_pdf(found, layout, start=sheet.start)
    except Refusal as refusal:
        return _page(request, who, database, 400, label_error=refusal, barcodes=barcodes)
    return download(pdf, f"labels-{len(found)}-{layout.name}.pdf")


@router.post("/calibration")
def calibration(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    sheet: Annotated[LabelSheet, Depends()],
) -> Response:
    try:
        layout = sheet.layout()
        pdf = printing.calibration_pdf(layout)
    except Refusal as refusal:
        return _page(request, who, database, 400, label_error=refusal)
    return download(pdf, f"calibration-{layout.name}.pdf")


@router.post("/cards")
def cards(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    card: Codes = None,
    which: Annotated[str, Form(max_length=20)] = "",
    class_name: Annotated[str, Form(max_length=50)] = "",
    cards: Annotated[str, Form(max_length=100_000)] = "",
    added_since: Annotated[dt.date | None, Form()] = None,
) -> Response:
    """Cards of a class, of the cards ticked on a page or typed one a line, or of the students
    added since a day."""
    chosen = [*(card or []), *(cards.split() if which == "cards" else [])]
    group = class_name.strip() if which in ("", "class") and not chosen else ""
    since = added_since if which == "new" else None
    try:
        if not (chosen or group or since):
            raise Refusal(N_("Say whose cards to print: a class, new students or card numbers."))
        with database.read() as session:
            found = printing.cards_to_print(
                session, class_name=group or None, cards=chosen or None, added_since=since
            )
            school = printing.school_name(session)
        pdf = printing.cards_pdf(found, school)
    except Refusal as refusal:
        return _page(request, who, database, 400, card_error=refusal, cards=cards)
    return download(pdf, f"cards-{group or len(found)}.pdf")


@router.post("/shelves")
def shelf_labels(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    shelf: Codes = None,
    which: Annotated[str, Form(max_length=20)] = "all",
    shelves: Annotated[str, Form(max_length=100_000)] = "",
) -> Response:
    """Shelf labels for the stocktake: of every shelf, of the shelves typed one a line, or of
    those ticked (on the stocktake's page)."""
    chosen = None if which == "all" else [*(shelf or []), *shelves.splitlines()]
    try:
        with database.read() as session:
            found = printing.shelves_to_print(session, chosen)
        pdf = printing.shelf_labels_pdf(found)
    except Refusal as refusal:
        return _page(request, who, database, 400, shelf_error=refusal, shelves=shelves)
    return download(pdf, f"shelf-labels-{len(found)}.pdf")


@router.post("/school")
def school(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        with database.write() as session:
            printing.set_school_name(session, name)
    except Refusal as refusal:
        return _page(request, who, database, 400, school_error=refusal)
    return RedirectResponse("/print?saved=school", status_code=303)
