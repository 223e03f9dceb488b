"""Reading a PDF as the librarian would: its pages rendered (poppler's pdftoppm), the barcodes
on them decoded by a barcode reader (zbar's zbarimg), its text read (pdftotext)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from tests.conftest import require

DPI = 200
MM = DPI / 25.4  # pixels in a millimetre of the rendered page
# What poppler says when it cannot draw some text (no CMap or font for Chinese, say).
FONT_TROUBLE = re.compile(r"(?i)language pack|unknown font|no font|couldn't find a font")
Box = tuple[float, float, float, float]  # left, top, width, height in mm from the top left


def require_tools() -> None:
    for tool, package in (("pdftoppm", "poppler-utils"), ("zbarimg", "zbar-tools")):
        require(tool, shutil.which(tool) is not None, f"PDFs are checked as printed ({package})")


def render(pdf: Path) -> list[Path]:
    """Each page of *pdf* as a PNG file; every character must have been drawn."""
    require_tools()
    folder = Path(tempfile.mkdtemp(prefix=f"{pdf.stem}-", dir=pdf.parent))
    done = subprocess.run(
        ["pdftoppm", "-r", str(DPI), "-png", str(pdf), str(folder / "page")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert not FONT_TROUBLE.search(done.stderr), f"text not drawn: {done.stderr}"
    return sorted(folder.glob("page-*.png"), key=lambda p: int(p.stem.split("-")[-1]))


def decode(images: Sequence[Path]) -> list[list[str]]:
    """The barcodes a reader finds on each image."""
    if not images:
        return []
    done = subprocess.run(
        ["zbarimg", "--xml", "-q", *map(str, images)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode in (0, 4), done.stderr  # 4: some image had no barcode
    found: dict[str, list[str]] = {}
    for source in re.finditer(r"<source href='([^']*)'>(.*?)</source>", done.stdout, re.S):
        found[source.group(1)] = re.findall(r"<!\[CDATA\[(.*?)\]\]>", source.group(2), re.S)
    return [found.get(str(image), []) for image in images]


def barcodes_in(pdf: Path) -> list[str]:
    """Every barcode a reader finds on the printed pages, page after page (sorted in a page)."""
    return [code for page in decode(render(pdf)) for code in sorted(page)]


def barcodes_in_boxes(pdf: Path, boxes: Sequence[Box]) -> list[list[str | None]]:
    """Page by page, the barcode read in each box of the page (None where there is none)."""
    pages = []
    for page in render(pdf):
        image = Image.open(page)
        crops = []
        for n, (left, top, width, height) in enumerate(boxes):
            crop = page.with_name(f"{page.stem}-box{n}.png")
            area = (left * MM, top * MM, (left + width) * MM, (top + height) * MM)
            image.crop(tuple(round(v) for v in area)).save(crop)
            crops.append(crop)
        read = decode(crops)
        assert all(len(codes) <= 1 for codes in read), read
        pages.append([codes[0] if codes else None for codes in read])
    return pages


def text_of(pdf: Path) -> str:
    require_tools()
    done = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def ink(image: Path, box: Box) -> float:
    """How much of *box* on a rendered page is dark (0 to 1)."""
    left, top, width, height = box
    area = (left * MM, top * MM, (left + width) * MM, (top + height) * MM)
    crop = Image.open(image).convert("L").crop(tuple(round(v) for v in area))
    dark = sum(1 for value in crop.getdata() if value < 128)
    return dark / max(1, crop.width * crop.height)
