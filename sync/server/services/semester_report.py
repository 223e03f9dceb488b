"""The semester report for the school leaders: one PDF (the plan's figures against their
targets, charts, tables; Chinese by default) and the same tables as CSV files, with the
end-of-semester checklist. Every number comes from services.figures, as on the pages.

Tables are made once (:class:`Table`, headers in the reader's language) and written both ways:
into the PDF with reportlab's platypus, and as CSV files (kiosk.tables.csv_bytes: no cell a
spreadsheet would run as a formula), one file per table in a ZIP archive.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Table as PdfTable
from sqlalchemy.orm import Session

from kiosk.tables import csv_bytes
from sync.server.services import charts, compensation, figures, loans
from sync.server.services.charts import Gettext
from sync.server.services.pdf import CHINESE, MARGIN, TEXT_WIDTH, a4_document
from sync.server.services.plan import Plan
from sync.server.services.students import class_order

TOP_TITLES = 20


@dataclass(frozen=True)
class Table:
    name: str  # the CSV file's name, without .csv
    title: str
    header: list[str]
    rows: list[list[object]]
    numeric: int = 1  # columns from this one on are numbers (right-aligned in the PDF)


@dataclass(frozen=True)
class SemesterReport:
    overview: figures.Overview
    weeks: figures.ClassLoans
    months: figures.ClassLoans
    titles: list[figures.TitleLine]
    turnover: tuple[list[figures.Turnover], figures.Turnover]
    out: list[loans.LoanLine]  # books not back yet
    unsettled: int = 0  # compensations for damaged or lost books not settled yet

    @property
    def plan(self) -> Plan:
        return self.overview.plan

    @property
    def today(self) -> dt.date:
        return self.overview.semester.today

    def late(self) -> list[loans.LoanLine]:
        return [line for line in self.out if line.due < self.today]


def gather(session: Session, plan: Plan, today: dt.date) -> SemesterReport:
    return SemesterReport(
        overview=figures.overview(session, plan, today),
        weeks=figures.loans_by_class(session, plan, today),
        months=figures.loans_by_class(session, plan, today, by_month=True),
        titles=figures.most_borrowed(session, plan, today, TOP_TITLES),
        turnover=figures.turnover(session, plan, today),
        out=loans.current_loans(session),
        unsettled=compensation.unsettled(session),
    )


# -- the tables --------------------------------------------------------------------------------


def pct(value: float) -> str:
    return f"{value:.1f}%"


def one_decimal(value: float) -> str:
    return f"{value:.1f}"


def targets_table(report: SemesterReport, _: Gettext) -> Table:
    o = report.overview
    school, plan = o.school, o.plan
    return Table(
        "targets",
        _("The plan's figures against their targets"),
        [_("Figure"), _("This semester"), _("Target")],
        [
            [_("Students"), school.students, ""],
            [_("Loans to students"), school.loans, plan.semester_loans],
            [
                _("Books per student"),
                one_decimal(school.books_per_student),
                f"> {plan.books_per_student:g}",
            ],
            [
                _("Students who borrowed each week, on average"),
                pct(school.mean_share),
                f"> {plan.weekly_share:g}%",
            ],
            [
                _("Weeks in which the target was met"),
                f"{school.weeks_on_target(plan.weekly_share)} / {len(school.weeks)}",
                "",
            ],
            [_("Loans to teachers"), o.teachers_loans, ""],
            [_("Books out past their due date"), school.overdue, ""],
        ],
    )


def classes_table(report: SemesterReport, _: Gettext) -> Table:
    o = report.overview
    rows: list[list[object]] = []
    for group in [*o.classes, o.school]:
        rows.append(
            [
                group.name or _("School"),
                group.students,
                group.loans,
                round(group.plan),
                one_decimal(group.books_per_student),
                pct(group.mean_share),
                group.weeks_on_target(o.plan.weekly_share),
                group.overdue,
            ]
        )
    return Table(
        "classes",
        _("By class"),
        [
            _("Class"),
            _("Students"),
            _("Loans"),
            _("Plan"),
            _("Books per student"),
            _("Weekly share, on average"),
            _("Weeks on target"),
            _("Overdue"),
        ],
        rows,
    )


def weeks_table(report: SemesterReport, _: Gettext) -> Table:
    school = report.overview.school
    return Table(
        "weeks",
        _("Week by week"),
        [
            _("Week"),
            _("Monday"),
            _("Loans to students"),
            _("Students who borrowed"),
            _("Share of students"),
        ],
        [
            [n, w.starts, w.loans, w.borrowers, pct(w.share)]
            for n, w in enumerate(school.weeks, start=1)
        ],
        numeric=2,
    )


def class_loans_table(loans_by: figures.ClassLoans, _: Gettext, *, by_month: bool) -> Table:
    label = (lambda d: d.strftime("%Y-%m")) if by_month else (lambda d: d.strftime("%m-%d"))
    rows: list[list[object]] = [[name, *counts, sum(counts)] for name, counts in loans_by.classes]
    rows.append([_("Teachers"), *loans_by.teachers, sum(loans_by.teachers)])
    totals = [a + b for a, b in zip(loans_by.totals, loans_by.teachers, strict=True)]
    rows.append([_("All"), *totals, sum(totals)])
    return Table(
        "loans-by-month" if by_month else "loans-by-week",
        _("Loans per class and month") if by_month else _("Loans per class and week"),
        [_("Class"), *(label(p) for p in loans_by.periods), _("Semester")],
        rows,
    )


def titles_table(titles: list[figures.TitleLine], _: Gettext) -> Table:
    return Table(
        "titles",
        _("Most borrowed titles"),
        [_("Rank"), _("Title"), _("Author"), _("Classification"), _("Copies"), _("Loans")],
        [
            [n, t.title, t.author, t.classification, t.copies, t.loans]
            for n, t in enumerate(titles, start=1)
        ],
        numeric=4,
    )


def turnover_table(turnover: tuple[list[figures.Turnover], figures.Turnover], _: Gettext) -> Table:
    lines, total = turnover
    rows: list[list[object]] = [
        [t.classification or _("(none)"), t.copies, t.loans, f"{t.rate:.2f}"] for t in lines
    ]
    rows.append([_("All"), total.copies, total.loans, f"{total.rate:.2f}"])
    return Table(
        "turnover",
        _("Collection turnover"),
        [_("Classification"), _("Copies"), _("Loans"), _("Loans per copy")],
        rows,
    )


def out_table(out: Sequence[loans.LoanLine], today: dt.date, _: Gettext) -> Table:
    return Table(
        "not-back",
        _("Books not back yet"),
        [_("Class"), _("Name"), _("Card"), _("Title"), _("Copy"), _("Due"), _("Days late")],
        [
            [
                line.class_name or "",
                line.name or "",
                line.patron or "",
                line.title or "",
                line.copy,
                line.due,
                max(0, (today - line.due).days),
            ]
            for line in sorted(out, key=lambda ln: (ln.class_name or "", ln.name or "", ln.due))
        ],
        numeric=6,
    )


def out_by_class_table(report: SemesterReport, _: Gettext) -> Table:
    out = Counter(line.class_name or "" for line in report.out)
    late = Counter(line.class_name or "" for line in report.late())
    names = sorted(out, key=lambda name: (name == "", class_order(name)))
    rows: list[list[object]] = [[name or _("Teachers"), out[name], late[name]] for name in names]
    rows.append([_("All"), sum(out.values()), sum(late.values())])
    return Table(
        "not-back-by-class",
        _("Books not back yet, by class"),
        [_("Class"), _("Books out"), _("Of them past their due date")],
        rows,
    )


def idle_table(idle: list[figures.IdleClass], _: Gettext) -> Table:
    return Table(
        "not-borrowing",
        _("Students who have not borrowed"),
        [_("Class"), _("Name"), _("Card"), _("Last loan")],
        [[c.name, s.name, s.card, s.last_loan or _("never")] for c in idle for s in c.idle],
        numeric=4,
    )


def weeding_table(groups: list[figures.WeedingGroup], _: Gettext) -> Table:
    return Table(
        "weeding",
        _("Candidates for weeding"),
        [
            _("Rule"),
            _("Title"),
            _("Author"),
            _("Classification"),
            _("Year"),
            _("Age"),
            _("Copies"),
            _("Last loan"),
        ],
        [
            [
                g.rule or _("others"),
                w.title,
                w.author,
                w.classification,
                w.year,
                w.age,
                w.copies,
                w.last_loan or _("never"),
            ]
            for g in groups
            for w in g.titles
        ],
        numeric=4,
    )


def tables(report: SemesterReport, _: Gettext) -> list[Table]:
    """The semester report's tables, in its order."""
    return [
        targets_table(report, _),
        classes_table(report, _),
        weeks_table(report, _),
        class_loans_table(report.weeks, _, by_month=False),
        class_loans_table(report.months, _, by_month=True),
        titles_table(report.titles, _),
        turnover_table(report.turnover, _),
        out_by_class_table(report, _),
        out_table(report.out, report.today, _),
    ]


def csv_file(table: Table) -> bytes:
    return csv_bytes(table.header, table.rows)


def csv_zip(report: SemesterReport, _: Gettext) -> bytes:
    """The report's tables as CSV files in one ZIP archive."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in tables(report, _):
            archive.writestr(f"{table.name}.csv", csv_file(table))
    return out.getvalue()


# -- the checklist -------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    done: bool
    what: str  # in the reader's language
    count: int


def checklist(report: SemesterReport, _: Gettext) -> list[Check]:
    """What to settle before the accounts of the semester are closed."""
    kiosks = report.overview.kiosks
    waiting = sum(k.events_waiting + k.events_held_back for k in kiosks if not k.revoked)
    late = report.late()
    return [
        Check(waiting == 0, _("Every kiosk's loans have reached the office"), waiting),
        Check(not report.out, _("Books still out, to be brought back"), len(report.out)),
        Check(not late, _("Of them past their due date"), len(late)),
        Check(
            not report.unsettled,
            _("Compensation for damaged or lost books not settled yet"),
            report.unsettled,
        ),
    ]


# -- the PDF -----------------------------------------------------------------------------------


def pdf(report: SemesterReport, _: Gettext, school_name: str = "") -> bytes:
    """The semester report as a PDF on A4 paper."""
    out = io.BytesIO()
    document = a4_document(
        out, title=_("Library semester report"), top=16 * mm, bottom=16 * mm, author=school_name
    )
    styles = _styles()
    semester = report.overview.semester
    width = TEXT_WIDTH
    story: list[object] = [
        Paragraph(
            (school_name + " " if school_name else "") + _("Library semester report"),
            styles["title"],
        ),
        Paragraph(
            _("Semester {starts} to {ends}, as of {today}").format(
                starts=semester.starts, ends=semester.ends, today=semester.today
            ),
            styles["muted"],
        ),
        Spacer(1, 4 * mm),
    ]
    all_tables = {t.name: t for t in tables(report, _)}
    story += _table_block(all_tables["targets"], styles, width)
    share = charts.weekly_share(report.overview.school, report.plan, _)
    story += _chart_block(share, styles, width)
    story += _table_block(all_tables["classes"], styles, width)
    per_class = charts.class_weeks(report.weeks, _)
    story += _chart_block(per_class, styles, width)
    story += _table_block(all_tables["weeks"], styles, width)
    story += _table_block(all_tables["loans-by-month"], styles, width)
    if report.titles:
        story += _chart_block(charts.top_titles(report.titles[:10], _), styles, width)
    story += _table_block(all_tables["titles"], styles, width)
    story += _table_block(all_tables["turnover"], styles, width)
    story.append(Paragraph(_("End of the semester: the checklist"), styles["heading"]))
    for check in checklist(report, _):
        mark = "☑" if check.done else "☐"
        story.append(Paragraph(f"{mark} {check.what}: {check.count}", styles["body"]))
    story.append(Spacer(1, 3 * mm))
    story += _table_block(all_tables["not-back-by-class"], styles, width)
    story.append(
        Paragraph(_("The list of the books still out is in the CSV files."), styles["muted"])
    )
    document.build(story, onFirstPage=_footer(_), onLaterPages=_footer(_))
    return out.getvalue()


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=CHINESE, fontSize=9.5, leading=13, alignment=TA_LEFT)
    cell = ParagraphStyle("cell", parent=base, fontSize=8.5, leading=11)
    return {
        "body": base,
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=24),
        "heading": ParagraphStyle(
            "heading", parent=base, fontSize=12.5, leading=18, spaceBefore=5 * mm, spaceAfter=2 * mm
        ),
        "muted": ParagraphStyle("muted", parent=base, textColor=colors.HexColor("#5B6574")),
        "cell": cell,
        "number": ParagraphStyle("number", parent=cell, alignment=TA_RIGHT),
    }


def _table_block(table: Table, styles: dict[str, ParagraphStyle], width: float) -> list[object]:
    heading = Paragraph(table.title, styles["heading"])
    if not table.rows:
        return [heading, Paragraph("–", styles["body"])]
    columns = len(table.header)
    if columns > 10:  # a week per column: the table is split in pages of weeks
        return [heading, *_wide_table(table, styles, width)]
    grid = _grid(table, styles, width)
    return [KeepTogether([heading, grid])] if len(table.rows) < 25 else [heading, grid]


def _wide_table(table: Table, styles: dict[str, ParagraphStyle], width: float) -> list[object]:
    """A table with many period columns, cut into slices of at most eight periods."""
    parts: list[object] = []
    periods = list(range(1, len(table.header) - 1))
    for start in range(0, len(periods), 8):
        chosen = [0, *periods[start : start + 8], len(table.header) - 1]
        part = Table(
            table.name,
            table.title,
            [table.header[i] for i in chosen],
            [[row[i] for i in chosen] for row in table.rows],
        )
        parts += [_grid(part, styles, width), Spacer(1, 3 * mm)]
    return parts


def shown(value: object) -> str:
    """A cell as a reader sees it: whole numbers with thousands separators."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _grid(table: Table, styles: dict[str, ParagraphStyle], width: float) -> PdfTable:
    def cell(column: int, value: object) -> Paragraph:
        style = styles["number"] if column >= table.numeric else styles["cell"]
        return Paragraph(shown(value), style)

    data = [[cell(n, v) for n, v in enumerate(row)] for row in [table.header, *table.rows]]
    grid = PdfTable(data, repeatRows=1, colWidths=_widths(table, width))
    grid.setStyle(_grid_style(table))
    return grid


def _widths(table: Table, width: float) -> list[float]:
    """Columns as wide as their longest text (a Chinese character counts twice), so that a
    title has room and a number does not."""

    def length(value: object) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in shown(value))

    longest = [
        min(40, max(4, *(length(row[n]) for row in table.rows), length(table.header[n]) // 2))
        for n in range(len(table.header))
    ]
    return [width * n / sum(longest) for n in longest]


def _grid_style(table: Table) -> TableStyle:
    last = len(table.rows)
    return TableStyle(
        [
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor("#1D2430")),
            ("LINEBELOW", (0, 1), (-1, last), 0.3, colors.HexColor("#D4D9E0")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEF2F7")),
        ]
    )


def _chart_block(chart: charts.Chart, styles: dict[str, ParagraphStyle], width: float) -> list:
    drawing = chart.drawing
    scale = width / drawing.width
    drawing.scale(scale, scale)
    drawing.width, drawing.height = drawing.width * scale, drawing.height * scale
    return [KeepTogether([Paragraph(chart.title, styles["heading"]), drawing])]


def _footer(_: Gettext):  # type: ignore[no-untyped-def]
    def draw(canvas, document) -> None:  # type: ignore[no-untyped-def]
        canvas.saveState()
        canvas.setFont(CHINESE, 8)
        canvas.setFillColor(colors.HexColor("#5B6574"))
        canvas.drawRightString(A4[0] - MARGIN, 9 * mm, _("Page {page}").format(page=document.page))
        canvas.restoreState()

    return draw
