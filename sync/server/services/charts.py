"""Charts of the figures, drawn by one charting library (reportlab's graphics): each chart is
made once, as a reportlab ``Drawing``, and goes into the semester report's PDF as vectors and
into the pages as SVG. Nothing here counts: the numbers come from services.figures.

Chinese is laid out with the font the PDFs use (Adobe's STSong-Light, which every PDF reader
has); in a page, the browser draws the SVG's text in the page's own font (office.css).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.dom.minidom import Element

from reportlab.graphics import renderSVG
from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.pdfbase import pdfmetrics

from sync.server.services import figures
from sync.server.services.pdf import CHINESE
from sync.server.services.plan import Plan

# Okabe and Ito's colours, told apart by colour-blind readers too; then their darker shades.
PALETTE = [
    colors.HexColor(c)
    for c in (
        "#0072B2",
        "#E69F00",
        "#009E73",
        "#CC79A7",
        "#56B4E9",
        "#D55E00",
        "#F0E442",
        "#000000",
        "#004C7A",
        "#9C6B00",
        "#006B4E",
        "#8A4F70",
    )
]
TARGET = colors.HexColor("#B3261E")
GRID = colors.HexColor("#D4D9E0")
INK = colors.HexColor("#1D2430")
Series = tuple[str, Sequence[float]]  # a name for the legend, a value per label
WIDTH = 760  # points: as wide as a page shows it; the PDF scales it to its column
LEGEND_COLUMNS = 8
LEGEND_ROW = 15
Gettext = Callable[[str], str]


@dataclass(frozen=True)
class Chart:
    drawing: Drawing
    title: str
    description: str  # what it shows, for a screen reader and under the title


def _style_axes(chart: VerticalBarChart | HorizontalLineChart | HorizontalBarChart) -> None:
    for axis in (chart.categoryAxis, chart.valueAxis):
        axis.labels.fontName = CHINESE
        axis.labels.fontSize = 9
        axis.labels.fillColor = INK
        axis.strokeColor = GRID
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = GRID
    chart.valueAxis.forceZero = True


def _legend_rows(series: Sequence[Series]) -> int:
    return -(-len(series) // LEGEND_COLUMNS) if len(series) > 1 else 0


def _place(chart: VerticalBarChart | HorizontalLineChart, drawing: Drawing, series) -> None:  # type: ignore[no-untyped-def]
    """The plot in *drawing*, above the rows of its legend."""
    bottom = 24 + LEGEND_ROW * _legend_rows(series)
    chart.x, chart.y = 40, bottom
    chart.width, chart.height = drawing.width - 52, drawing.height - bottom - 10


def _legend(drawing: Drawing, series: Sequence[Series], colours: Sequence[colors.Color]) -> None:
    """A legend under the plot, in rows of at most LEGEND_COLUMNS series."""
    rows = _legend_rows(series)
    if not rows:
        return
    legend = Legend()
    legend.fontName = CHINESE
    legend.fontSize = 9
    legend.x, legend.y = 40, LEGEND_ROW * rows
    legend.alignment = "right"
    legend.columnMaximum = rows
    legend.dx = legend.dy = 8
    legend.deltay = LEGEND_ROW
    legend.deltax = 30 + max(_room_for(name, 9) for name, _ in series)
    legend.colorNamePairs = [
        (colour, name) for colour, (name, _) in zip(colours, series, strict=True)
    ]
    drawing.add(legend)


def _every_nth(labels: Sequence[str], most: int) -> list[str]:
    """Category labels thinned out to at most *most* shown, so they do not run together."""
    step = max(1, -(-len(labels) // most))
    return [label if n % step == 0 else "" for n, label in enumerate(labels)]


def bars(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    width: float = WIDTH,
    height: float = 220,
    stacked: bool = False,
) -> Drawing:
    """Vertical bars, a group (or a stack) per label; a legend when there is more than one
    series."""
    drawing = Drawing(width, height)
    chart = VerticalBarChart()
    _place(chart, drawing, series)
    chart.data = [list(values) or [0] for _, values in series] or [[0]]
    chart.categoryAxis.categoryNames = _every_nth(list(labels), 26) or [""]
    if stacked:
        chart.categoryAxis.style = "stacked"
    chart.barSpacing = 0
    chart.groupSpacing = 3
    _style_axes(chart)
    columns = list(zip(*(values for _, values in series), strict=True))
    _whole_steps(
        chart, [sum(c) if stacked else max(c) for c in columns], [*itertools.chain(*columns)]
    )
    for n in range(len(series)):
        chart.bars[n].fillColor = PALETTE[n % len(PALETTE)]
        chart.bars[n].strokeColor = None
    drawing.add(chart)
    _legend(drawing, series, [PALETTE[n % len(PALETTE)] for n in range(len(series))])
    return drawing


def lines(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    width: float = WIDTH,
    height: float = 220,
    target: Series | None = None,
    most: float | None = None,
) -> Drawing:
    """A line per series over the labels; *target* (its name and level) as a dashed red line;
    the value axis up to *most*."""
    if target is not None:
        name, (level,) = target
        series = [*series, (name, [level] * len(labels))]
    drawing = Drawing(width, height)
    chart = HorizontalLineChart()
    _place(chart, drawing, series)
    chart.data = [list(values) or [0] for _, values in series] or [[0]]
    chart.categoryAxis.categoryNames = _every_nth(list(labels), 26) or [""]
    chart.joinedLines = True
    _style_axes(chart)
    chart.valueAxis.valueMin = 0
    if most is not None:
        chart.valueAxis.valueMax = most
    colours = [PALETTE[n % len(PALETTE)] for n in range(len(series))]
    for n, colour in enumerate(colours):
        chart.lines[n].strokeColor = colour
        chart.lines[n].strokeWidth = 2
    if target is not None:
        colours[-1] = TARGET
        chart.lines[len(series) - 1].strokeColor = TARGET
        chart.lines[len(series) - 1].strokeWidth = 1.5
        chart.lines[len(series) - 1].strokeDashArray = [4, 3]
    drawing.add(chart)
    _legend(drawing, series, colours)
    return drawing


def ranking(labels: Sequence[str], values: Sequence[float], *, width: float = WIDTH) -> Drawing:
    """Horizontal bars, the first label on top (the most borrowed titles, say)."""
    height = 28 + 20 * max(1, len(labels))
    drawing = Drawing(width, height)
    chart = HorizontalBarChart()
    left = min(width / 2, 12 + max((_text_width(label) for label in labels), default=0))
    chart.x, chart.y = left, 16
    chart.width, chart.height = width - left - 12, height - 24
    chart.data = [list(reversed(values)) or [0]]
    chart.categoryAxis.categoryNames = [_shorten(label, left - 12) for label in reversed(labels)]
    chart.bars[0].fillColor = PALETTE[0]
    chart.bars[0].strokeColor = None
    _style_axes(chart)
    _whole_steps(chart, values, values)
    drawing.add(chart)
    return drawing


def _whole_steps(
    chart: VerticalBarChart | HorizontalBarChart, heights: Sequence[float], values: Sequence[float]
) -> None:
    """Counts (every value whole) are marked on whole numbers, 1, 2, 5 or 10 times a power of
    ten apart, at most eight marks: no half a loan on the axis."""
    if any(value != int(value) for value in values):
        return
    tallest = max(heights, default=0)
    for power in itertools.count():
        for step in (10**power, 2 * 10**power, 5 * 10**power):
            if tallest <= 8 * step:
                chart.valueAxis.valueStep = step
                return


def _text_width(text: str, size: float = 9) -> float:
    return pdfmetrics.stringWidth(text, CHINESE, size)


def _room_for(text: str, size: float = 9) -> float:
    """Room for *text* in a page as well as in the PDF: a browser draws it in its own sans-serif,
    whose Latin letters can be a fifth wider than Helvetica's (DejaVu Sans)."""
    return max(_text_width(text, size), 1.2 * pdfmetrics.stringWidth(text, "Helvetica", size))


def _shorten(text: str, room: float) -> str:
    if _text_width(text) <= room:
        return text
    while text and _text_width(text + "…") > room:
        text = text[:-1]
    return text + "…"


def svg(chart: Chart) -> str:
    """*chart* as an SVG element for a page: a titled image (read out by screen readers), no
    prolog, no ids that another chart on the page could share."""
    drawing = chart.drawing
    canvas = renderSVG.SVGCanvas(
        (drawing.width, drawing.height),
        useClip=True,
        svgAttrs={"role": "img", "class": "chart"},
    )
    renderSVG.draw(drawing, canvas)
    root: Element = canvas.svg
    for tag, text in (("title", chart.title), ("desc", chart.description)):
        for node in root.getElementsByTagName(tag):
            node.firstChild.data = text  # type: ignore[union-attr]
    for node in root.getElementsByTagName("g"):
        if node.getAttribute("id"):
            node.removeAttribute("id")
    return root.toxml()


# -- the charts of the figures -----------------------------------------------------------------


def weekly_share(group: figures.Group, plan: Plan, _: Gettext) -> Chart:
    """A group's share of borrowers, week by week, against the weekly target."""
    weeks = group.weeks
    return Chart(
        lines(
            [str(n) for n in range(1, len(weeks) + 1)],
            [(_("Students who borrowed (%)"), [round(w.share, 1) for w in weeks])],
            target=(_("Target"), [plan.weekly_share]),
            most=100,
        ),
        _("Students who borrowed, week by week"),
        _("Percent of the students who borrowed in each week of the semester, and the target."),
    )


def class_weeks(loans: figures.ClassLoans, _: Gettext, *, by_month: bool = False) -> Chart:
    """Students' loans per week (or month), each class a colour of the stack."""
    labels = [p.strftime("%m") if by_month else str(n) for n, p in enumerate(loans.periods, 1)]
    return Chart(
        bars(labels, [(name, counts) for name, counts in loans.classes], stacked=True),
        _("Loans per class and month") if by_month else _("Loans per class and week"),
        _("Students' loans in each month of the semester, a colour for each class.")
        if by_month
        else _("Students' loans in each week of the semester, a colour for each class."),
    )


def top_titles(titles: Sequence[figures.TitleLine], _: Gettext) -> Chart:
    return Chart(
        ranking([t.title for t in titles], [t.loans for t in titles]),
        _("Most borrowed titles"),
        _("Loans of the most borrowed titles this semester."),
    )


def turnover(lines: Sequence[figures.Turnover], _: Gettext) -> Chart:
    return Chart(
        bars(
            [t.classification or "–" for t in lines],
            [(_("Loans per copy"), [round(t.rate, 2) for t in lines])],
            height=160,
        ),
        _("Collection turnover"),
        _("Loans per copy held this semester, by the first letter of the classification."),
    )
