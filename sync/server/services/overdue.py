"""Books out past their due date, by class and grade, and the overdue slips for the homeroom
teachers: one page per class with each student's late books, their due dates and days late,
asking the teacher to urge the return.

A loan is late from the day after its due date (services.loans), on the school's date (the
plan's time zone, services.plan), as the overview counts it (services.figures). The slips are
the students' own loans: a class set's books are the holder's to bring back (the desk lists
them), and a teacher has no homeroom teacher to be reminded by. The PDF is written with
reportlab in the Song typeface every PDF reader has, as the library cards are
(services.printing).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import groupby
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.orm import Session

from kiosk import pinyin
from kiosk.models import PatronKind
from sync.server.services import N_, figures, plan
from sync.server.services.loans import LoanLine, current_loans
from sync.server.services.pdf import CHINESE, MARGIN, TEXT_WIDTH, a4_document
from sync.server.services.printing import PrintRefused
from sync.server.services.students import class_order

STUDENTS = (PatronKind.STUDENT, PatronKind.HELPER)
Gettext = Callable[[str], str]


@dataclass(frozen=True)
class LateBook:
    title: str
    copy: str
    due: dt.date
    late_days: int


@dataclass(frozen=True)
class LateReader:
    card: str
    name: str
    books: tuple[LateBook, ...]  # the longest late first


@dataclass(frozen=True)
class Slip:
    """One class's page for its homeroom teacher."""

    class_name: str
    readers: tuple[LateReader, ...]  # in the order of the class list

    @property
    def books(self) -> int:
        return sum(len(reader.books) for reader in self.readers)


def today(session: Session, now: dt.datetime | None = None) -> dt.date:
    """The school's date, by which a loan is late or not (as on the overview)."""
    return figures.today_in(plan.current(session, now), now)


def in_school_order(lines: Iterable[LoanLine]) -> list[LoanLine]:
    """Loans by class in the school's order (readers without a class last), then by reader
    in the order of a class list, then by due date."""
    return sorted(
        lines,
        key=lambda line: (
            not line.class_name,
            class_order(line.class_name or ""),
            pinyin.sort_key(line.name or ""),
            line.patron or "",
            line.due,
            line.copy,
        ),
    )


def slips(
    session: Session, today: dt.date, *, class_name: str | None = None, grade: int | None = None
) -> list[Slip]:
    """The slips of the classes (of *class_name*, or of a *grade*) whose students have books
    late on *today*, in the school's order of classes."""
    late = [
        line
        for line in current_loans(session, class_name=class_name, grade=grade, late_on=today)
        if line.class_set is None and line.kind in STUDENTS and line.class_name
    ]
    found = []
    for name, lines in groupby(in_school_order(late), key=lambda line: line.class_name or ""):
        readers = []
        for card, books in groupby(lines, key=lambda line: line.patron or ""):
            mine = sorted(books, key=lambda line: (line.due, line.copy))
            late_books = tuple(
                LateBook(line.title or line.copy, line.copy, line.due, line.late_days(today))
                for line in mine
            )
            readers.append(LateReader(card, mine[0].name or card, late_books))
        found.append(Slip(name, tuple(readers)))
    return found


# -- the PDF -----------------------------------------------------------------------------------


def slips_pdf(found: list[Slip], today: dt.date, _: Gettext, school: str = "") -> bytes:
    """The slips as a PDF on A4 paper, a class to a page (a long list runs on, its table's
    heading repeated), in the language of *_*."""
    if not found:
        raise PrintRefused(N_("No overdue slip to print: no student's book is late."))
    styles = _styles()
    out = io.BytesIO()
    document = a4_document(out, title=_("Overdue books"), top=22 * mm, bottom=18 * mm)
    width = TEXT_WIDTH
    story: list = []
    for number, slip in enumerate(found):
        if number:
            story.append(PageBreak())
        story += _slip(slip, today, _, styles, width)
    heading = "  ".join(part for part in (school, _("Library")) if part)
    printed = _("Printed on {day}").format(day=today.isoformat())

    def header(canvas: Canvas, _document: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(CHINESE, 9)
        canvas.setFillColor(colors.HexColor("#555555"))
        top = A4[1] - 12 * mm
        canvas.drawString(MARGIN, top, heading)
        canvas.drawRightString(A4[0] - MARGIN, top, printed)
        canvas.restoreState()

    document.build(story, onFirstPage=header, onLaterPages=header)
    return out.getvalue()


def _slip(slip: Slip, today: dt.date, _: Gettext, styles: dict, width: float) -> list:
    cell, number = styles["cell"], styles["number"]
    rows: list[list[object]] = [
        [
            Paragraph(escape(_(label)), styles["head"])
            for label in (N_("Student"), N_("Title"), N_("Barcode"), N_("Due date"))
        ]
        + [Paragraph(escape(_("Days late")), styles["head_number"])]
    ]
    for reader in slip.readers:
        for n, book in enumerate(reader.books):
            rows.append(
                [
                    Paragraph(escape(reader.name) if n == 0 else "", cell),
                    Paragraph(escape(book.title), cell),
                    Paragraph(escape(book.copy), cell),
                    Paragraph(book.due.isoformat(), cell),
                    Paragraph(str(book.late_days), number),
                ]
            )
    table = Table(
        rows,
        colWidths=[w * width for w in (0.17, 0.43, 0.15, 0.14, 0.11)],
        repeatRows=1,
    )
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#BBBBBB")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    students = len(slip.readers)
    return [
        Paragraph(escape(_("Overdue books: please urge the return")), styles["title"]),
        Paragraph(escape(_("Class {name}").format(name=slip.class_name)), styles["class"]),
        Paragraph(
            escape(
                _(
                    "Dear homeroom teacher, the students below have library books that are past "
                    "their due date. Please remind them to bring the books back to the library "
                    "soon. Thank you!"
                )
            ),
            styles["body"],
        ),
        Spacer(1, 3 * mm),
        table,
        Spacer(1, 3 * mm),
        Paragraph(
            escape(
                _("Late books: {books}; students: {students} (on {day}).").format(
                    books=slip.books, students=students, day=today.isoformat()
                )
            ),
            styles["body"],
        ),
    ]


def _styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName=CHINESE, fontSize=10.5, leading=15, wordWrap="CJK")
    cell = ParagraphStyle("cell", parent=body, fontSize=10, leading=13)
    return {
        "body": body,
        "title": ParagraphStyle("title", parent=body, fontSize=17, leading=24, spaceAfter=2 * mm),
        "class": ParagraphStyle("class", parent=body, fontSize=14, leading=20, spaceAfter=3 * mm),
        "cell": cell,
        "number": ParagraphStyle("number", parent=cell, alignment=TA_RIGHT),
        "head": ParagraphStyle("head", parent=cell, textColor=colors.HexColor("#333333")),
        "head_number": ParagraphStyle(
            "head_number", parent=cell, alignment=TA_RIGHT, textColor=colors.HexColor("#333333")
        ),
    }
