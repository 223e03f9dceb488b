"""What the office's PDFs share: A4 paper with its margins, and the Chinese font.

Chinese is drawn with a font every PDF reader has (Adobe's STSong-Light, which the reader maps
to its own Song typeface: SimSun on Windows), so no font file has to be found or shipped.
"""

from __future__ import annotations

from typing import IO

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import SimpleDocTemplate

CHINESE = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(CHINESE))

MARGIN = 18 * mm  # left and right
TEXT_WIDTH = A4[0] - 2 * MARGIN


def a4_document(
    out: IO[bytes], *, title: str, top: float, bottom: float, author: str = ""
) -> SimpleDocTemplate:
    """A document of A4 pages with the office's side margins (*top* and *bottom* in points)."""
    return SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=top,
        bottomMargin=bottom,
        title=title,
        author=author,
        creator="Library Kiosk office",
    )
