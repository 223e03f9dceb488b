"""Library cards and barcode labels as PDF, ready to print on A4 at actual size.

Cards are credit-card size (85.6 x 54 mm), ten to a sheet with cut marks: the school's name,
the student's name and class, and a Code 128 barcode of the card number. Labels go on common
A4 label sheets (Avery L7651, L7160, L7654, or a grid measured by the librarian): a Code 128
barcode of the copy, a short title and the shelf mark. Printing may start at any position of
the first sheet, so a part-used sheet is not wasted; a calibration sheet shows where each
label falls.

Shelf labels, for the stocktake, are strips a quarter of an A4 page high: the shelf's name in big
type over a Code 128 barcode that the kiosk's scanner reads as that shelf (kiosk.codes.shelf_label).

Chinese is drawn with the font of every office PDF (services.pdf).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from kiosk.codes import GarbledCode, clean, code_key, shelf_label
from sync.server.models import Copy, Patron, Setting
from sync.server.services import N_, NotFound, Refusal
from sync.server.services.pdf import CHINESE
from sync.server.services.stocktakes import all_shelves
from sync.server.services.students import class_order

LATIN = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
SCHOOL_NAME = "school_name"
PAGE_WIDTH, PAGE_HEIGHT = A4  # in points
# The narrowest bar most scanners read, and the widest a label needs.
THINNEST_BAR = 0.19 * mm
WIDEST_BAR = 0.33 * mm
QUIET_MODULES = 10  # blank space either side of a barcode, in bars


class PrintRefused(Refusal):
    """Nothing to print, or a layout that does not fit on the paper."""


# -- what is printed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    card: str
    name: str
    class_name: str


@dataclass(frozen=True)
class Label:
    barcode: str
    title: str
    shelf_mark: str  # classification and shelf, as on the spine


def school_name(session: Session) -> str:
    row = session.get(Setting, SCHOOL_NAME)
    return row.value if row else ""


def set_school_name(session: Session, name: str) -> str:
    """The name printed at the top of every library card."""
    name = " ".join(name.split())
    if len(name) > 60:
        raise PrintRefused(N_("A school's name of at most 60 characters, please."))
    row = session.get(Setting, SCHOOL_NAME)
    if row is None:
        session.add(Setting(key=SCHOOL_NAME, value=name))
    else:
        row.value = name
    return name


def cards_to_print(
    session: Session,
    *,
    class_name: str | None = None,
    cards: Sequence[str] | None = None,
    added_since: dt.date | None = None,
) -> list[Card]:
    """The cards of active patrons: of a class, of the given card numbers (in that order), or
    added since a day; all of them when nothing is asked. By class (in the school's order),
    then card number."""
    query = select(Patron).where(Patron.active, Patron.deleted.is_(False))
    if class_name is not None:
        query = query.where(Patron.class_name == class_name.strip())
    if added_since is not None:
        query = query.where(Patron.added_on >= added_since)
    if cards is not None:
        wanted = _codes(cards)
        found = {p.card: p for p in session.scalars(query.where(Patron.card.in_(wanted)))}
        missing = [c for c in wanted if c not in found]
        if missing:
            raise NotFound(
                N_("No active student or teacher has card {cards}."), cards=", ".join(missing)
            )
        patrons = [found[c] for c in wanted]
    else:
        patrons = sorted(session.scalars(query), key=lambda p: (class_order(p.class_name), p.card))
    if not patrons:
        raise PrintRefused(N_("No library card to print: nobody matches what was asked."))
    return [Card(card=p.card, name=p.name, class_name=p.class_name) for p in patrons]


def labels_to_print(
    session: Session,
    *,
    barcodes: Sequence[str] | None = None,
    added_since: dt.date | None = None,
) -> list[Label]:
    """The labels of the given copies (in that order), or of the copies added since a day (in
    the order they were added)."""
    query = select(Copy).options(joinedload(Copy.title)).where(Copy.barcode.is_not(None))
    if barcodes is not None:
        wanted = _codes(barcodes)
        found = {c.barcode: c for c in session.scalars(query.where(Copy.barcode.in_(wanted)))}
        missing = [b for b in wanted if b not in found]
        if missing:
            raise NotFound(N_("No copy has barcode {barcodes}."), barcodes=", ".join(missing))
        copies = [found[b] for b in wanted]
    elif added_since is not None:
        query = query.where(Copy.added_on >= added_since).order_by(Copy.id)
        copies = list(session.scalars(query))
    else:
        raise PrintRefused(N_("Say which copies to print labels for."))
    if not copies:
        raise PrintRefused(N_("No label to print: no copy was added since {day}."), day=added_since)
    return [
        Label(
            barcode=c.barcode or "",
            title=c.title.title,
            shelf_mark="  ".join(part for part in (c.title.classification, c.shelf) if part),
        )
        for c in copies
    ]


def _codes(typed: Iterable[str]) -> list[str]:
    """Codes as the librarian typed or scanned them, kept once each, in the form codes are kept."""
    codes: dict[str, str] = {}
    for raw in typed:
        if not raw.strip():
            continue
        try:
            code = clean(raw)
        except GarbledCode as exc:
            raise PrintRefused(N_("{code} is not a barcode."), code=raw.strip()[:40]) from exc
        codes.setdefault(code_key(code), code)
    if not codes:
        raise PrintRefused(N_("Say which copies to print labels for."))
    return list(codes.values())


# -- label sheets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """A sheet of labels, in millimetres from the top left corner of an A4 page."""

    name: str
    columns: int
    rows: int
    width: float  # of one label
    height: float
    top: float  # to the top edge of the first row
    left: float  # to the left edge of the first column
    across: float  # from one label's left edge to the next one's (the pitch)
    down: float

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows

    def check(self) -> Layout:
        """This layout, if its labels fit on an A4 page and do not overlap."""
        sizes = (self.width, self.height, self.across, self.down)
        if self.columns < 1 or self.rows < 1 or min(sizes) <= 0 or min(self.top, self.left) < 0:
            raise PrintRefused(N_("A label grid needs at least one row and one column of labels."))
        if self.across < self.width or self.down < self.height:
            raise PrintRefused(
                N_("Labels would overlap: the pitch must be at least the label's size.")
            )
        right = self.left + (self.columns - 1) * self.across + self.width
        bottom = self.top + (self.rows - 1) * self.down + self.height
        if right > 210.0 + 0.01 or bottom > 297.0 + 0.01:
            raise PrintRefused(
                N_("These labels run off the A4 page ({right:.1f} x {bottom:.1f} mm)."),
                right=right,
                bottom=bottom,
            )
        if self.width < 25 or self.height < 12:
            raise PrintRefused(N_("A label needs to be at least 25 x 12 mm for its barcode."))
        return self

    def position(self, index: int) -> tuple[float, float]:
        """The bottom left corner, in points from the page's bottom left, of label *index*
        (0-based, across then down)."""
        row, column = divmod(index, self.columns)
        x = (self.left + column * self.across) * mm
        y = PAGE_HEIGHT - (self.top + row * self.down + self.height) * mm
        return x, y


LAYOUTS = {
    layout.name: layout
    for layout in (
        Layout("L7651", 5, 13, 38.1, 21.2, top=10.7, left=4.75, across=40.6, down=21.2),
        Layout("L7654", 4, 10, 45.7, 25.4, top=21.5, left=9.7, across=48.3, down=25.4),
        Layout("L7160", 3, 7, 63.5, 38.1, top=15.15, left=7.25, across=66.04, down=38.1),
    )
}
DEFAULT_LAYOUT = "L7651"


def layout_named(name: str) -> Layout:
    layout = LAYOUTS.get(name.strip().upper())
    if layout is None:
        raise PrintRefused(
            N_("No label layout {name}: one of {choices}, or a grid of your own."),
            name=name,
            choices=", ".join(LAYOUTS),
        )
    return layout


def labels_pdf(labels: Sequence[Label], layout: Layout, *, start: int = 1) -> bytes:
    """Sheets of *labels*, the first one at position *start* (1 is the top left) of the
    first sheet."""
    layout.check()
    if not 1 <= start <= layout.per_sheet:
        raise PrintRefused(
            N_("Start at a label between 1 and {last} on a {name} sheet."),
            last=layout.per_sheet,
            name=layout.name,
        )
    if not labels:
        raise PrintRefused(N_("Say which copies to print labels for."))
    out = io.BytesIO()
    canvas = _canvas(out, f"{len(labels)} labels ({layout.name})")
    index = start - 1
    for label in labels:
        if index == layout.per_sheet:
            canvas.showPage()
            index = 0
        _draw_label(canvas, label, layout, *layout.position(index))
        index += 1
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _draw_label(canvas: Canvas, label: Label, layout: Layout, x: float, y: float) -> None:
    width, height = layout.width * mm, layout.height * mm
    pad = min(2 * mm, width * 0.05)
    size = min(8.0, height / mm / 2.7)  # a text line in points: 7.8 on an L7651 label
    inner = width - 2 * pad
    canvas.setFont(CHINESE, size)
    canvas.drawString(
        x + pad, y + height - pad - size * 0.85, _fit(label.title, CHINESE, size, inner)
    )
    text_space = 2 * size * 1.15 + 2 * pad
    _barcode(canvas, label.barcode, x + pad, y + pad + size * 1.1, inner, height - text_space)
    canvas.setFont(LATIN, size)
    canvas.drawString(x + pad, y + pad, label.barcode)
    if label.shelf_mark:
        room = inner - pdfmetrics.stringWidth(label.barcode + "  ", LATIN, size)
        mark = _fit(label.shelf_mark, CHINESE, size, room)
        canvas.setFont(CHINESE, size)
        canvas.drawRightString(x + width - pad, y + pad, mark)


def calibration_pdf(layout: Layout) -> bytes:
    """One page with every label's outline and number, to hold against a sheet of labels (or
    print on plain paper and lay over one) before printing on labels."""
    layout.check()
    out = io.BytesIO()
    canvas = _canvas(out, f"calibration {layout.name}")
    canvas.setLineWidth(0.3)
    for index in range(layout.per_sheet):
        x, y = layout.position(index)
        width, height = layout.width * mm, layout.height * mm
        canvas.rect(x, y, width, height)
        canvas.setFont(LATIN_BOLD, min(14.0, height / mm * 0.6))
        canvas.drawCentredString(x + width / 2, y + height / 2 - 4, str(index + 1))
    canvas.setFont(CHINESE, 8)
    note = (
        f"{layout.name}: {layout.columns} x {layout.rows}, {layout.width} x {layout.height} mm"
        "  按实际大小打印（100%，不要“适合页面”）· Print at actual size (100%, no fit to page)"
    )
    canvas.drawCentredString(PAGE_WIDTH / 2, 4 * mm, note)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


# -- library cards ------------------------------------------------------------------------------

CARD_WIDTH, CARD_HEIGHT = 85.6, 54.0  # ISO/IEC 7810 ID-1, a bank card
CARD_COLUMNS, CARD_ROWS = 2, 5
CARD_LEFT = (210.0 - CARD_COLUMNS * CARD_WIDTH) / 2
CARD_TOP = (297.0 - CARD_ROWS * CARD_HEIGHT) / 2
CUT_MARK = 5.0  # mm, drawn in the margin beside every edge between cards


def cards_pdf(cards: Sequence[Card], school: str) -> bytes:
    """Sheets of library cards, ten to an A4 page, with cut marks in the margins."""
    if not cards:
        raise PrintRefused(N_("No library card to print: nobody matches what was asked."))
    out = io.BytesIO()
    canvas = _canvas(out, f"{len(cards)} library cards")
    per_sheet = CARD_COLUMNS * CARD_ROWS
    for first in range(0, len(cards), per_sheet):
        _cut_marks(canvas)
        for index, card in enumerate(cards[first : first + per_sheet]):
            row, column = divmod(index, CARD_COLUMNS)
            x = (CARD_LEFT + column * CARD_WIDTH) * mm
            y = PAGE_HEIGHT - (CARD_TOP + (row + 1) * CARD_HEIGHT) * mm
            _draw_card(canvas, card, school, x, y)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def _cut_marks(canvas: Canvas) -> None:
    canvas.setLineWidth(0.25)
    gap = 1.5 * mm  # marks stop short of the cards, so no line shows on a card cut off-true
    left, top = CARD_LEFT * mm, PAGE_HEIGHT - CARD_TOP * mm
    right = left + CARD_COLUMNS * CARD_WIDTH * mm
    bottom = top - CARD_ROWS * CARD_HEIGHT * mm
    for column in range(CARD_COLUMNS + 1):
        x = left + column * CARD_WIDTH * mm
        canvas.line(x, top + gap, x, top + gap + CUT_MARK * mm)
        canvas.line(x, bottom - gap, x, bottom - gap - CUT_MARK * mm)
    for row in range(CARD_ROWS + 1):
        y = top - row * CARD_HEIGHT * mm
        canvas.line(left - gap, y, left - gap - CUT_MARK * mm, y)
        canvas.line(right + gap, y, right + gap + CUT_MARK * mm, y)


def _draw_card(canvas: Canvas, card: Card, school: str, x: float, y: float) -> None:
    width, height = CARD_WIDTH * mm, CARD_HEIGHT * mm
    pad = 4 * mm
    inner = width - 2 * pad
    # A light outline: the card's edge where the cut marks meet.
    canvas.setStrokeGray(0.8)
    canvas.setLineWidth(0.25)
    canvas.roundRect(x, y, width, height, 3 * mm)
    canvas.setStrokeGray(0)
    top = y + height - pad
    canvas.setFont(CHINESE, 9)
    canvas.drawString(x + pad, top - 8, _fit(school, CHINESE, 9, inner * 0.7))
    canvas.drawRightString(x + width - pad, top - 8, "借书证")
    canvas.setFont(CHINESE, 16)
    canvas.drawString(x + pad, top - 29, _fit(card.name, CHINESE, 16, inner * 0.65))
    if card.class_name:
        canvas.setFont(CHINESE, 12)
        canvas.drawRightString(
            x + width - pad, top - 29, _fit(card.class_name, CHINESE, 12, inner * 0.3)
        )
    _barcode(canvas, card.card, x + pad, y + pad + 11, inner, 14 * mm)
    canvas.setFont(LATIN, 9)
    canvas.drawCentredString(x + width / 2, y + pad, card.card)


# -- shelf labels --------------------------------------------------------------------------------

SHELF_STRIPS = 4  # to an A4 page, one above the other
SHELF_WIDEST_BAR = 0.5 * mm  # a shelf's label is scanned at arm's length: bars as wide as fit


@dataclass(frozen=True)
class ShelfLabel:
    shelf: str  # as the records spell it
    code: str  # what the label's barcode says (SHELF-3-A)


def shelves_to_print(session: Session, shelves: Sequence[str] | None = None) -> list[ShelfLabel]:
    """The labels of the given shelves (in that order, whatever their letter case), or of
    every shelf a copy is on."""
    known = {code_key(name): name for name, _copies in all_shelves(session)}
    if shelves is None:
        names = list(known.values())
        if not names:
            raise PrintRefused(N_("No shelf label to print: no copy is on a shelf yet."))
    else:
        typed: dict[str, str] = {}  # each shelf once, as first typed
        for raw in shelves:
            if name := " ".join(raw.split()):
                typed.setdefault(code_key(name), name)
        if not typed:
            raise PrintRefused(N_("Say which shelves to print labels for."))
        strange = [name for key, name in typed.items() if key not in known]
        if strange:
            raise NotFound(
                N_("No book is on the shelf {shelves}: check the shelves' names."),
                shelves=", ".join(strange),
            )
        names = [known[key] for key in typed]
    labels = []
    for name in names:
        try:
            labels.append(ShelfLabel(name, shelf_label(name)))
        except ValueError as exc:
            raise PrintRefused(
                N_(
                    "The shelf name {shelf} is too long for a label: at most 58 capitals, digits, "
                    "dots and dashes, or 9 Chinese characters."
                ),
                shelf=name,
            ) from exc
    return labels


def shelf_labels_pdf(labels: Sequence[ShelfLabel]) -> bytes:
    """Shelf labels, four strips to an A4 page with cut marks between them."""
    if not labels:
        raise PrintRefused(N_("Say which shelves to print labels for."))
    out = io.BytesIO()
    canvas = _canvas(out, f"{len(labels)} shelf labels")
    height = PAGE_HEIGHT / SHELF_STRIPS
    for first in range(0, len(labels), SHELF_STRIPS):
        for index, label in enumerate(labels[first : first + SHELF_STRIPS]):
            top = PAGE_HEIGHT - index * height
            if index:
                canvas.setStrokeGray(0.6)
                canvas.setDash(3, 3)
                canvas.line(0, top, PAGE_WIDTH, top)
                canvas.setDash()
                canvas.setStrokeGray(0)
            _draw_shelf_label(canvas, label, top - height, height)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def _draw_shelf_label(canvas: Canvas, label: ShelfLabel, y: float, height: float) -> None:
    inner = PAGE_WIDTH - 30 * mm
    font = LATIN_BOLD if label.shelf.isascii() else CHINESE
    size = min(80.0, inner / pdfmetrics.stringWidth(label.shelf, font, 1))
    canvas.setFont(font, size)
    canvas.drawCentredString(PAGE_WIDTH / 2, y + height - 10 * mm - size * 0.8, label.shelf)
    _barcode(canvas, label.code, 15 * mm, y + 12 * mm, inner, 18 * mm, widest=SHELF_WIDEST_BAR)
    canvas.setFont(LATIN, 9)
    canvas.drawCentredString(PAGE_WIDTH / 2, y + 7 * mm, label.code)


# -- drawing ------------------------------------------------------------------------------------


def _canvas(out: io.BytesIO, subject: str) -> Canvas:
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.setTitle(subject)
    canvas.setCreator("Library Kiosk office")
    return canvas


def _barcode(
    canvas: Canvas,
    code: str,
    x: float,
    y: float,
    width: float,
    height: float,
    *,
    widest: float = WIDEST_BAR,
) -> None:
    """A Code 128 barcode of *code*, as wide as fits in *width* (centred, bars at most *widest*),
    with its quiet zones inside that width."""
    modules = Code128(code, barWidth=1, quiet=False).width + 2 * QUIET_MODULES
    bar = min(widest, width / modules)
    if bar < THINNEST_BAR:
        raise PrintRefused(
            N_("Barcode {code} is too long for this label: choose a bigger label."), code=code
        )
    symbol = Code128(code, barWidth=bar, barHeight=height, quiet=False)
    symbol.drawOn(canvas, x + (width - symbol.width) / 2, y)


# Marks the Song typeface draws from another code point: the middle dot of 哈利·波特 is GB2312's
# A1A4, which readers find as U+30FB, not U+00B7.
_SONG_FORMS = str.maketrans({"\u00b7": "\u30fb", "\u2022": "\u30fb", "\u2027": "\u30fb"})


def _fit(text: str, font: str, size: float, width: float) -> str:
    """*text* cut short (with an ellipsis) to fit in *width* points."""
    if font == CHINESE:
        text = text.translate(_SONG_FORMS)
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"
