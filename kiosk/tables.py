"""The tables in the files librarians are given: CSV, or an Excel workbook (.xlsx).

A CSV file is read as UTF-8 (with or without a byte order mark) or, when it is not that, as
GB18030: what Excel saves on a Chinese Windows PC ("CSV (逗号分隔)"). A workbook is read
sheet by sheet (a school office often keeps one sheet per class), with cells merged down a
column (a class written once for all its students) read in every row they cover. In each
table the header is the row naming the most known columns among the first rows, so title
rows above it ("2025学年 三年级学生名单") are passed over.

Reading Excel needs openpyxl, which only the office installs: a kiosk is told to import a
workbook at the office, or to save it as CSV.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

HEADER_SEARCH = 20  # rows looked at for the header, in each table
UTF8, GB18030 = "UTF-8", "GB18030"
# How a file begins: an .xlsx is a zip archive, an old .xls an OLE2 compound file.
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
CHUNK_BYTES = 1 << 20


class BadImportFile(Exception):
    """The file cannot be imported as it is; ``problems`` lists each bad line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Row:
    first: int  # the line (CSV) or row (sheet) it starts on
    last: int  # where it ends: a CSV row whose quote is not closed runs over many lines
    cells: list[str]


@dataclass
class Table:
    """One table: a CSV file, or one sheet of a workbook, from its header row on."""

    sheet: str | None  # None for a CSV file
    index: int  # its place among the file's tables (0 for a CSV file)
    header_at: int
    header: list[str]
    rows: Iterator[Row]

    def place(self, line: int) -> str:
        """Where a row is, as the librarian finds it: "line 7", or "sheet 三(2)班 row 7"."""
        return f"line {line}" if self.sheet is None else f"sheet {self.sheet} row {line}"

    def ordinal(self, line: int) -> int:
        """A number ordering the rows of every table of a file."""
        return self.index * 10_000_000 + line


def header_key(text: str) -> str:
    """A column's name as compared with the known names: "*学生姓名 " and "学生姓名" alike,
    full-width letters as plain ones, a note in brackets after it left out."""
    key = unicodedata.normalize("NFKC", text).strip().lower().lstrip("*").rstrip("*")
    if key.endswith(")") and "(" in key:
        key = key[: key.rindex("(")]
    return "".join(key.split())


@dataclass
class TableFile:
    """A file of tables: ``tables()`` yields each, ``encoding`` says how a CSV was read."""

    path: Path
    score: Callable[[list[str]], int]  # how many known column names a row has
    kind: str = "csv"
    encoding: str | None = None
    size: int = 0
    skipped: list[str] = field(default_factory=list)  # sheets without a table, hidden ones
    _stream: Any = None

    def __post_init__(self) -> None:
        try:
            with open(self.path, "rb") as file:
                start = file.read(len(OLE_MAGIC))
                self.size = os.fstat(file.fileno()).st_size
        except OSError as exc:
            raise BadImportFile([f"{self.path}: {exc.strerror}"]) from exc
        if start == OLE_MAGIC:
            raise BadImportFile(
                [
                    f"{self.path}: an old Excel file (.xls): save it as an Excel workbook (.xlsx)"
                    " or as CSV"
                ]
            )
        if start.startswith(ZIP_MAGIC):
            self.kind = "xlsx"
        else:
            self.encoding = _encoding(self.path)

    def position(self) -> int:
        """Bytes of a CSV file read so far (for a progress bar)."""
        return self._stream.buffer.tell() if self._stream is not None else self.size

    def tables(self) -> Iterator[Table]:
        if self.kind == "xlsx":
            yield from self._sheets()
        else:
            yield from self._csv()

    def _csv(self) -> Iterator[Table]:
        codec = "utf-8-sig" if self.encoding == UTF8 else "gb18030"
        with open(self.path, encoding=codec, newline="") as stream:
            self._stream = stream
            table = _table(None, 0, _CsvRows(stream, self.path), self.score)
            if table is None:
                raise BadImportFile([f"{self.path}: the file is empty"])
            yield table

    def _sheets(self) -> Iterator[Table]:
        try:
            from openpyxl import load_workbook
        except ImportError as exc:  # a kiosk: openpyxl is the office's
            raise BadImportFile(
                [f"{self.path}: an Excel workbook: import it at the office, or save it as CSV"]
            ) from exc
        try:
            # Not read-only: merged cells are known only to a workbook read whole (a class
            # list is small; the office PC has the memory). From an open file: openpyxl
            # wants a name ending in .xlsx, an upload may have any.
            with open(self.path, "rb") as file:
                book = load_workbook(file, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign zip file
            raise BadImportFile(
                [f"{self.path}: not an Excel workbook that can be read ({exc}): save it again"
                 " as .xlsx"]
            ) from exc  # fmt: skip
        found = False
        for index, sheet in enumerate(book.worksheets):
            if sheet.sheet_state != "visible":
                self.skipped.append(f"sheet {sheet.title}: hidden, not read")
                continue
            table = _table(sheet.title, index, _sheet_rows(sheet), self.score)
            if table is None:
                self.skipped.append(f"sheet {sheet.title}: no table in it, not read")
                continue
            found = True
            yield table
        if not found:
            raise BadImportFile([f"{self.path}: no sheet of the workbook has a table"])


def _encoding(path: Path) -> str:
    """UTF-8 (a byte order mark or not) if the whole file is UTF-8, else GB18030; raise
    BadImportFile, naming the line, if it is neither (read a chunk at a time)."""
    line = 1
    for encoding in (UTF8, GB18030):
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
    raise BadImportFile(
        [
            f"{path}: neither UTF-8 nor GB18030 text on line {line}: save it from Excel as"
            " CSV UTF-8 or as an Excel workbook (.xlsx)"
        ]
    )


class _CsvRows:
    """The rows of a CSV stream, with the lines each spans."""

    def __init__(self, stream: Any, path: Path) -> None:
        self._reader = csv.reader(stream)
        self._path = path

    def __iter__(self) -> Iterator[Row]:
        start = 1
        try:
            while True:
                start = self._reader.line_num + 1
                values = next(self._reader, None)
                if values is None:
                    return
                yield Row(start, self._reader.line_num, values)
        except csv.Error as exc:
            raise BadImportFile(
                [f'line {start}: {exc}: a quote (") opened here is probably not closed']
            ) from exc


def _sheet_rows(sheet: Any) -> Iterator[Row]:
    down: dict[tuple[int, int], Any] = {}
    for cells in sheet.merged_cells.ranges:
        if cells.max_row > cells.min_row:  # merged down a column: the value in every row
            top = sheet.cell(cells.min_row, cells.min_col).value
            for row in range(cells.min_row + 1, cells.max_row + 1):
                down[(row, cells.min_col)] = top
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        cells = [cell_text(down.get((number, col), v)) for col, v in enumerate(values, start=1)]
        yield Row(number, number, cells)


def cell_text(value: Any) -> str:
    """A workbook's cell as the text a librarian sees: 302 not 302.0, a date as 2016-05-04."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _table(
    sheet: str | None, index: int, rows: Iterator[Row] | _CsvRows, score: Callable[[list[str]], int]
) -> Table | None:
    """The table in *rows*: its header (see the module's doc), then the rows after it."""
    rows = iter(rows)
    seen: list[Row] = []
    for row in rows:
        if any(c.strip() for c in row.cells):
            seen.append(row)
            if len(seen) >= HEADER_SEARCH:
                break
    if not seen:
        return None
    scores = [score(row.cells) for row in seen]
    if max(scores) > 0:
        at = scores.index(max(scores))
    else:  # nothing known: the first row of several cells, to map by hand
        wide = (i for i, r in enumerate(seen) if sum(bool(c.strip()) for c in r.cells) > 1)
        at = next(wide, -1)
        if at < 0:  # a note, not a table
            return None
    header = seen[at]
    return Table(sheet, index, header.first, header.cells, chain(seen[at + 1 :], rows))


# -- writing: the tables librarians take away ---------------------------------------------------

# A cell a spreadsheet would take for a formula (=, +, - or @ first, or a tab or carriage return
# that some read past): "CSV injection". Such text gets a leading apostrophe, which Excel and
# WPS show as text and do not print; numbers are written as numbers.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str | int | float:
    """*value* as a CSV cell that no spreadsheet runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_bytes(header: list[str], rows: Iterator[list[object]] | list[list[object]]) -> bytes:
    """A CSV file in UTF-8 with a byte order mark, as Excel on a Chinese PC opens it right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(name) for name in header])
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")
