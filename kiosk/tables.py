"""Reading the librarian's tables: CSV or Excel (.xlsx), however the office PC saved them.

Excel on a Chinese Windows PC saves "CSV" as GB18030 (GBK), other programs as UTF-8 with or
without a byte order mark: a CSV file is read as UTF-8 when all of it is UTF-8, else as
GB18030. An .xlsx workbook (recognised by its content, whatever its name) is read from its
first sheet, a row at a time (openpyxl, installed with the office server). Both importers, the
kiosk's and the office's, read through :func:`read_table`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# How a file begins: an .xlsx is a zip archive, an old .xls an OLE2 compound file.
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
CHUNK_BYTES = 1 << 20
Progress = Callable[[str, int, int], None]  # stage ("checking"), done, total


class UnreadableTable(Exception):
    """The file cannot be read as a table at all; the message says why and what to do."""


@dataclass(frozen=True)
class Record:
    """One row of a table: the lines of the file it came from, and its cells as text."""

    start: int
    end: int  # a CSV row whose quote is left open runs over several lines
    values: list[str]


def read_table(path: Path, progress: Progress | None = None) -> Iterator[Record]:
    """Every row of the table in *path*, the header first, each as text cells.

    Raises UnreadableTable for a file that is not a table (old .xls, an encoding that is
    neither UTF-8 nor GB18030, a damaged workbook).
    """
    try:
        with open(path, "rb") as file:
            start = file.read(len(OLE_MAGIC))
    except OSError as exc:
        raise UnreadableTable(f"{path}: {exc.strerror}") from exc
    if start.startswith(ZIP_MAGIC):
        yield from _xlsx_rows(path, progress)
    elif start == OLE_MAGIC:
        raise UnreadableTable(
            f"{path}: an old Excel file (.xls): save it as an Excel workbook (.xlsx) or as CSV"
        )
    else:
        yield from _csv_rows(path, _csv_encoding(path), progress)


def _csv_encoding(path: Path) -> str:
    """UTF-8 (a byte order mark or not) if the whole file is UTF-8, else GB18030; raise
    UnreadableTable, naming the line, if it is neither."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        lines = 0
        with open(path, "rb") as file:
            try:
                while chunk := file.read(CHUNK_BYTES):
                    decoder.decode(chunk)
                    lines += chunk.count(b"\n")
                decoder.decode(b"", final=True)
                return encoding
            except UnicodeDecodeError as exc:
                # What the decoder held back of the last chunk is never part of a line break.
                line = lines + exc.object[: exc.start].count(b"\n") + 1
    raise UnreadableTable(
        f"{path}: neither UTF-8 nor GB18030 text on line {line}: save it from Excel as"
        " CSV UTF-8 or as an Excel workbook (.xlsx)"
    )


def _csv_rows(path: Path, encoding: str, progress: Progress | None) -> Iterator[Record]:
    try:
        stream = open(path, encoding=encoding, newline="")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise UnreadableTable(f"{path}: {exc.strerror}") from exc
    size = os.fstat(stream.fileno()).st_size
    start = 1
    with stream:
        reader = csv.reader(stream)
        end = 0
        try:
            while True:
                start = end + 1
                values = next(reader, None)
                if values is None:
                    break
                end = reader.line_num
                if progress is not None and end % 2000 == 0:
                    progress("checking", stream.buffer.tell(), size)
                yield Record(start, end, values)
        except csv.Error as exc:
            raise UnreadableTable(
                f'line {start}: {exc}: a quote (") opened here is probably not closed'
            ) from exc
    if progress is not None:
        progress("checking", size, size)


def _xlsx_rows(path: Path, progress: Progress | None) -> Iterator[Record]:
    try:
        import openpyxl
    except ImportError as exc:  # the kiosk is installed without it: it is the office's job
        raise UnreadableTable(
            f"{path}: an Excel workbook: import it at the office, or save it as CSV"
        ) from exc
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign zip file
        raise UnreadableTable(
            f"{path}: not an Excel workbook that can be read ({exc}): save it again as .xlsx"
        ) from exc
    size = path.stat().st_size
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.max_row or 1
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            if progress is not None and number % 2000 == 0:  # in bytes, as for a CSV file
                progress("checking", size * min(number, rows) // rows, size)
            yield Record(number, number, [_cell_text(value) for value in row])
        if progress is not None:
            progress("checking", size, size)
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    """A cell as the librarian sees it: 9787020002207 (a number in Excel) is that text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)
