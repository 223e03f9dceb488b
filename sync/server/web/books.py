"""The books: find a copy, add a book at the desk by its ISBN, new copies with barcodes, a
copy's status, and a book list imported from CSV or Excel (shown first, done when confirmed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kiosk.codes import normalise_isbn
from kiosk.importer import BadImportFile
from sync.server.dependencies import DatabaseDep
from sync.server.services import N_, Refusal, books, catalogue, overdue, printing, repairs
from sync.server.web import bad_rows, uploads
from sync.server.web.auth import SignedIn
from sync.server.web.i18n import language_of, translations
from sync.server.web.render import page

router = APIRouter(prefix="/books")
NAV = ("/books", N_("Books"))
Text = Annotated[str, Form(max_length=400)]
BACK_DAYS = 60  # the repairs page lists the copies back from repair in this many days


def _label_form() -> dict[str, object]:
    """What the "print labels" form on these pages offers."""
    return {"layouts": printing.LAYOUTS, "default_layout": printing.DEFAULT_LAYOUT}


@router.get("")
def listing(
    request: Request, who: SignedIn, database: DatabaseDep, q: str = "", done: str = ""
) -> HTMLResponse:
    today = dt.date.today()
    with database.read() as session:
        found = books.search(session, q[:200]) if q.strip() else None
        copies = found if found is not None else books.added_since(session, today)
        total = books.count_copies(session)
    return page(
        request,
        "books.html",
        who,
        q=q,
        copies=copies,
        total=total,
        today=today,
        done=done,
        statuses=books.STATUS_NAMES,
        settable=books.SETTABLE,
        limit=books.SEARCH_LIMIT,
        **_label_form(),
    )


@router.get("/add")
def add_form(request: Request, who: SignedIn, database: DatabaseDep, isbn: str = "") -> Response:
    """Step one: scan the ISBN. Step two: what the library knows of it, and what to type."""
    with database.read() as session:
        scheme = books.barcode_scheme(session)
        known, error = None, None
        if isbn.strip() and isbn != "none":
            try:
                known = books.title_by_isbn(session, isbn)
            except Refusal as refusal:
                error = refusal
    step = "scan" if not isbn.strip() or error else "details"
    return page(
        request,
        "book_add.html",
        who,
        status_code=400 if error else 200,
        step=step,
        isbn="" if isbn == "none" else isbn.strip(),
        known=known,
        scheme=scheme,
        error=error,
        book={},
    )


@router.post("/add")
def add(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    title: Text,
    isbn: Text = "",
    author: Text = "",
    publisher: Text = "",
    year: Text = "",
    classification: Text = "",
    shelf: Text = "",
    price: Text = "",
    copies: Annotated[int, Form(ge=0, le=10_000)] = 1,
) -> Response:
    typed = dict(
        isbn=isbn,
        title=title,
        author=author,
        publisher=publisher,
        year=year,
        classification=classification,
        shelf=shelf,
        price=price,
    )
    try:
        with database.write() as session:
            info, barcodes = books.add_book(session, copies=copies, **typed)
    except Refusal as refusal:
        with database.read() as session:
            scheme = books.barcode_scheme(session)
            known = books.title_by_isbn(session, isbn) if _valid_isbn(isbn) else None
        return page(
            request,
            "book_add.html",
            who,
            status_code=400,
            step="details",
            isbn=isbn,
            known=known,
            scheme=scheme,
            error=refusal,
            book=typed | {"copies": copies},
        )
    return _to_title(info.id, barcodes)


@router.post("/barcodes")
def set_prefix(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    prefix: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    try:
        with database.write() as session:
            books.set_barcode_prefix(session, prefix)
    except Refusal as refusal:
        with database.read() as session:
            scheme = books.barcode_scheme(session)
        return page(
            request,
            "book_add.html",
            who,
            status_code=400,
            step="scan",
            isbn="",
            known=None,
            scheme=scheme,
            prefix_error=refusal,
            book={},
        )
    return RedirectResponse("/books/add", status_code=303)


@router.get("/titles/{title_id}")
def title_page(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    title_id: int,
    new: str = "",
    saved: str = "",
) -> HTMLResponse:
    with database.read() as session:
        info = books.title_info(session, title_id)
    fresh = [c.barcode for c in info.copies if c.barcode and c.barcode in set(new.split(","))]
    return page(
        request,
        "book_title.html",
        who,
        info=info,
        new=fresh,
        saved=saved,
        statuses=books.STATUS_NAMES,
        settable=books.SETTABLE,
        **_label_form(),
    )


@router.post("/titles/{title_id}/price")
def set_price(
    request: Request, who: SignedIn, database: DatabaseDep, title_id: int, price: Text = ""
) -> Response:
    try:
        with database.write() as session:
            books.set_price(session, title_id, price)
    except Refusal as refusal:
        with database.read() as session:
            info = books.title_info(session, title_id)
        return page(
            request, "book_title.html", who, status_code=400, info=info, new=[],
            price_error=refusal, statuses=books.STATUS_NAMES, settable=books.SETTABLE,
            **_label_form(),
        )  # fmt: skip
    return RedirectResponse(f"/books/titles/{title_id}?saved=price", status_code=303)


@router.post("/titles/{title_id}/copies")
def more_copies(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    title_id: int,
    copies: Annotated[int, Form(ge=0, le=10_000)] = 1,
    shelf: Text = "",
) -> Response:
    try:
        with database.write() as session:
            info, barcodes = books.add_copies(session, title_id, copies, shelf)
    except Refusal as refusal:
        with database.read() as session:
            info = books.title_info(session, title_id)
        return page(
            request,
            "book_title.html",
            who,
            status_code=400,
            info=info,
            new=[],
            error=refusal,
            statuses=books.STATUS_NAMES,
            settable=books.SETTABLE,
            **_label_form(),
        )
    return _to_title(info.id, barcodes)


@router.post("/copies/{copy_id}/status")
def set_status(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    copy_id: int,
    status: Annotated[str, Form(max_length=20)],
    back: Annotated[str, Form(max_length=2000)] = "/books",
) -> Response:
    try:
        with database.write() as session:
            line = books.set_status(session, copy_id, status, by=who.librarian.name)
    except Refusal as refusal:
        return page(request, "problem.html", who, status_code=400, error=refusal)
    then = back if back.startswith("/books") and "//" not in back else "/books"
    joiner = "&" if "?" in then else "?"
    return RedirectResponse(f"{then}{joiner}done={line.barcode or line.id}", status_code=303)


@router.get("/repairs")
def repairs_page(
    request: Request, who: SignedIn, database: DatabaseDep, done: str = ""
) -> HTMLResponse:
    """The copies away being repaired, the damaged ones to send, and those back lately."""
    with database.read() as session:
        today = overdue.today(session)
        away = repairs.in_repair(session)
        waiting = repairs.damaged(session)
        back = repairs.came_back(session, today - dt.timedelta(days=BACK_DAYS))
    return page(
        request, "book_repairs.html", who, away=away, waiting=waiting, back=back, today=today,
        done=done, statuses=books.STATUS_NAMES, back_days=BACK_DAYS,
    )  # fmt: skip


# -- importing a book list ---------------------------------------------------------------------


@router.get("/import")
def import_form(request: Request, who: SignedIn) -> HTMLResponse:
    return page(request, "book_import.html", who, preview=None)


@router.post("/import")
def import_preview(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """The import done, then undone: what it would add and change, and every bad row."""
    try:
        if file is None or not file.filename:
            raise Refusal(N_("Choose a file first (CSV or Excel)."))
        token = uploads.keep(file)
        path = uploads.path_of(token)
        with database.write() as session:
            report = catalogue.import_books(session, path, skip_bad=True)
            session.rollback()  # a preview: nothing is kept
    except BadImportFile as bad:
        uploads.forget(token)
        return _bad_file(request, who, bad, path)
    except Refusal as refusal:
        return page(request, "book_import.html", who, status_code=400, error=refusal)
    gettext = translations(language_of(request)).gettext
    bad = [bad_rows.say(line, gettext) for line in report.skipped]
    return page(
        request, "book_import.html", who, preview=report, bad=bad, token=token, filename=path.name
    )


@router.post("/import/confirm")
def import_confirm(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    token: Annotated[str, Form(max_length=64)],
) -> Response:
    try:
        path = uploads.path_of(token)
        with database.write() as session:
            report = catalogue.import_books(session, path, skip_bad=True)
    except BadImportFile as bad:
        return _bad_file(request, who, bad, path)
    except Refusal as refusal:
        return page(request, "book_import.html", who, status_code=400, error=refusal)
    uploads.forget(token)
    return page(request, "book_import.html", who, imported=report)


def _bad_file(request: Request, who: SignedIn, bad: BadImportFile, path: Path) -> HTMLResponse:
    """Why a file cannot be imported, naming it as the librarian knows it."""
    problems = [line.replace(str(path), path.name) for line in bad.problems]
    return page(request, "book_import.html", who, status_code=400, problems=problems)


def _to_title(title_id: int, barcodes: list[str]) -> RedirectResponse:
    return RedirectResponse(f"/books/titles/{title_id}?new={','.join(barcodes)}", status_code=303)


def _valid_isbn(typed: str) -> bool:
    return bool(typed.strip()) and normalise_isbn(typed) is not None
