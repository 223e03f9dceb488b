"""Charts of the figures, drawn by one charting library (reportlab's graphics): each chart is
made once, as a reportlab ``Drawing``, and goes into the semester report's PDF as vectors and
into the pages as SVG. Nothing here counts: the numbers come from services.figures.

Chinese is laid out with the font the PDFs use (Adobe's STSong-Light, which every PDF reader
has); in a page, the browser draws the SVG's text in the page's own font (office.css).
"""

from __future__ import annotations

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
from reportlab.pdfbase.cidfonts import UnicodeCIDFont

from sync.server.services import figures
from sync.server.services.plan import Plan

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

# Okabe and Ito's colours, told apart by colour-blind readers too; then their darker shades.
PALETTE = [
    colors.HexColor(c)
    for c in ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
              "#000000", "#004C7A", "#9C6B00", "#006B4E", "#8A4F70")
]  # fmt: skip
TARGET = colors.HexColor("#B3261E")
GRID = colors.HexColor("#D4D9E0")
INK = colors.HexColor("#1D2430")
Series = tuple[str, Sequence[float]]  # a name for the legend, a value per label
Gettext = Callable[[str], str]


@dataclass(frozen=True)
class Chart:
    drawing: Drawing
    title: str
    description: str  # what it shows, for a screen reader and under the title


def _style_axes(chart: VerticalBarChart | HorizontalLineChart | HorizontalBarChart) -> None:
    for axis in (chart.categoryAxis, chart.valueAxis):
        axis.labels.fontName = FONT
        axis.labels.fontSize = 8
        axis.labels.fillColor = INK
        axis.strokeColor = GRID
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = GRID
    chart.valueAxis.forceZero = True


def _legend(
    drawing: Drawing,
    series: Sequence[Series],
    colours: Sequence[colors.Color],
    x: float,
    y: float,
    rows: int,
) -> None:
    legend = Legend()
    legend.fontName = FONT
    legend.fontSize = 8
    legend.x, legend.y = x, y
    legend.alignment = "right"
    legend.columnMaximum = rows
    legend.dx = legend.dy = 7
    legend.deltax = 24 + max(_text_width(name) for name, _ in series)
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
    width: float = 520,
    height: float = 200,
    stacked: bool = False,
) -> Drawing:
    """Vertical bars, a group (or a stack) per label; a legend when there is more than one
    series."""
    legend_rows = -(-len(series) // 6) if len(series) > 1 else 0
    bottom = 22 + 12 * legend_rows
    drawing = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y = 36, bottom
    chart.width, chart.height = width - 46, height - bottom - 8
    chart.data = [list(values) or [0] for _, values in series] or [[0]]
    chart.categoryAxis.categoryNames = _every_nth(list(labels), 26) or [""]
    if stacked:
        chart.categoryAxis.style = "stacked"
    chart.barSpacing = 0
    chart.groupSpacing = 3
    _style_axes(chart)
    for n in range(len(series)):
        chart.bars[n].fillColor = PALETTE[n % len(PALETTE)]
        chart.bars[n].strokeColor = None
    drawing.add(chart)
    if legend_rows:
        colours = [PALETTE[n % len(PALETTE)] for n in range(len(series))]
        _legend(drawing, series, colours, 36, 10 * legend_rows + 2, legend_rows)
    return drawing


def lines(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    width: float = 520,
    height: float = 200,
    target: Series | None = None,
    most: float | None = None,
) -> Drawing:
    """A line per series over the labels; *target* (its name and level) as a dashed red line;
    the value axis up to *most*."""
    if target is not None:
        name, (level,) = target
        series = [*series, (name, [level] * len(labels))]
    legend_rows = -(-len(series) // 6) if len(series) > 1 else 0
    bottom = 22 + 12 * legend_rows
    drawing = Drawing(width, height)
    chart = HorizontalLineChart()
    chart.x, chart.y = 36, bottom
    chart.width, chart.height = width - 46, height - bottom - 8
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
    if legend_rows:
        _legend(drawing, series, colours, 36, 10 * legend_rows + 2, legend_rows)
    return drawing


def ranking(labels: Sequence[str], values: Sequence[float], *, width: float = 520) -> Drawing:
    """Horizontal bars, the first label on top (the most borrowed titles, say)."""
    height = 24 + 16 * max(1, len(labels))
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
    drawing.add(chart)
    return drawing


def _text_width(text: str) -> float:
    return pdfmetrics.stringWidth(text, FONT, 8)


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
        svgAttrs={"role": "img", "class": "chart", "width": "100%", "height": "auto"},
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
            height=180,
        ),
        _("Students who borrowed, week by week"),
        _("Percent of the students who borrowed in each week of the semester, and the target."),
    )
