"""Importing students and books from the librarian's tables: CSV (UTF-8 or GB18030) or Excel
.xlsx, with English or Chinese headers (read by kiosk.tables).

A file is read once to check every row: its cells, and its codes against each other and
against the cards and books already known (a card and a book never share a code, whatever
the letter case). The good rows wait in a temporary database on disk, so a class list of a
million rows is checked in bounded memory; only when no row is bad (or the bad ones are to be
skipped) are they written, a chunk at a time, in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TextIO

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, joinedload

from kiosk import money
from kiosk.classes import NotAClass, parse_grade
from kiosk.codes import GarbledCode, clean, code_key, has_control_characters, normalise_isbn
from kiosk.models import Copy, Patron, PatronKind, Title
from kiosk.tables import GB18030, BadImportFile, Table, TableFile, header_key

__all__ = ["BadImportFile"]  # raised here, defined with the tables it is about

STUDENT_HEADERS = {
    "card": ("card", "卡号", "借书证号", "借书证"),
    "name": ("name", "姓名", "名字"),
    "class_name": ("class", "班级"),
    "grade": ("grade", "年级"),
    "kind": ("kind", "类型", "身份"),
}
BOOK_HEADERS = {
    "barcode": ("barcode", "条码", "条形码", "登记号"),
    "isbn": ("isbn", "书号"),
    "title": ("title", "书名", "题名"),
    "author": ("author", "作者", "责任者"),
    "publisher": ("publisher", "出版社"),
    "year": ("year", "出版年", "年份"),
    "classification": ("classification", "分类号", "分类"),
    "shelf": ("shelf", "书架", "架位", "排架号"),
    "price_cents": ("price", "价格", "定价", "单价"),
}
KIND_WORDS = {
    "学生": PatronKind.STUDENT,
    "教师": PatronKind.TEACHER,
    "老师": PatronKind.TEACHER,
    "小图书管理员": PatronKind.HELPER,
    "小管理员": PatronKind.HELPER,
    "图书管理员": PatronKind.LIBRARIAN,
}
MAX_LISTED = 100  # bad rows and renamed students named one by one; the rest are counted
CHUNK_ROWS = 2000
# What a code is, in the checks: a patron's card, a copy's barcode, or the ISBN of a title.
CodeKind = Literal["card", "copy", "isbn"]
CODE_NAMES = {"card": "card", "copy": "barcode", "isbn": "ISBN"}
Progress = Callable[[str, int, int], None]  # stage ("checking": bytes, "importing": rows)


@dataclass
class Listing:
    """Lines of a report: the first MAX_LISTED kept word for word, the others counted."""

    lines: list[str] = field(default_factory=list)
    count: int = 0

    def add(self, line: str) -> None:
        self.count += 1
        if len(self.lines) < MAX_LISTED:
            self.lines.append(line)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[str]:
        yield from self.lines
        if self.count > len(self.lines):
            yield f"... and {self.count - len(self.lines)} more"


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: Listing = field(default_factory=Listing)  # bad rows left out (skip_bad)
    renamed: Listing = field(default_factory=Listing)  # cards now under another name
    encoding: str | None = None  # how a CSV file was read (None: a workbook)
    notes: list[str] = field(default_factory=list)  # sheets not read, and why

    def rename(self, card: str, old: str, new: str) -> None:
        """Note a card that changes hands or spelling: the librarian should see it."""
        self.renamed.add(f"card {card}: {old} → {new}")

    def summary(self, noun: str) -> str:
        text = f"{noun}: {self.added} added, {self.updated} updated, {self.unchanged} unchanged"
        if self.skipped:
            text += f", {len(self.skipped)} bad rows skipped"
        if self.renamed:
            text += f", {len(self.renamed)} renamed (check each is the same person)"
        return text

    def show(self, noun: str, out: TextIO, err: TextIO) -> None:
        """What a librarian reads after an import: rows skipped, the counts, cards renamed."""
        if self.encoding == GB18030:
            print("read as GB18030 (a CSV file saved by Excel on a Chinese PC)", file=out)
        for line in self.notes:
            print(line, file=out)
        for line in self.skipped:
            print(f"skipped {line}", file=err)
        print(self.summary(noun), file=out)
        for line in self.renamed:
            print(f"  renamed {line}", file=out)


def _readable(value: str) -> str:
    if has_control_characters(value):
        raise ValueError("has a character that cannot be shown (a NUL, tab or line break)")
    return value


def read_grade(value: object) -> object:
    """A grade cell: "三年级", "3年级" or 3 (pydantic checks the number)."""
    if value in ("", None):
        return None
    try:
        return parse_grade(str(value))
    except NotAClass as exc:
        raise ValueError(str(exc)) from exc


def read_kind(value: object) -> object:
    """A kind cell: "学生", "教师", "student", "teacher" ... (empty: a student)."""
    if value in ("", None):
        return PatronKind.STUDENT
    return KIND_WORDS.get(str(value).strip(), str(value).strip().lower())


# A cell of text: one line of characters a person can read, and not a whole file long.
Readable = AfterValidator(_readable)
ShortText = Annotated[str, Field(max_length=50), Readable]
LongText = Annotated[str, Field(max_length=200), Readable]


class StudentRow(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    card: str
    name: Annotated[str, Field(min_length=1, max_length=100), Readable]
    class_name: ShortText = ""
    grade: Annotated[int, Field(ge=1, le=12)] | None = None
    kind: PatronKind = PatronKind.STUDENT

    @field_validator("card")
    @classmethod
    def _scannable(cls, value: str) -> str:
        try:
            return clean(value)
        except GarbledCode as exc:
            raise ValueError(f"card number is not scannable ({exc.reason})") from exc

    @field_validator("grade", mode="before")
    @classmethod
    def _grade(cls, value: object) -> object:
        return read_grade(value)

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: object) -> object:
        return read_kind(value)


class BookRow(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    barcode: str = ""
    isbn: str = ""
    title: Annotated[str, Field(min_length=1, max_length=300), Readable]
    author: LongText = ""
    publisher: LongText = ""
    year: Annotated[int, Field(ge=1400, le=2100)] | None = None
    classification: ShortText = ""
    shelf: ShortText = ""
    price_cents: int | None = None  # the price printed on the book (定价), in fen

    @field_validator("barcode")
    @classmethod
    def _scannable(cls, value: str) -> str:
        if not value:
            return ""
        try:
            return clean(value)
        except GarbledCode as exc:
            raise ValueError(f"barcode is not scannable ({exc.reason})") from exc

    @field_validator("isbn")
    @classmethod
    def _isbn(cls, value: str) -> str:
        if not value:
            return ""
        isbn = normalise_isbn(value)
        if isbn is None:
            raise ValueError(f"{value!r} is not a valid ISBN (check digit or length)")
        return isbn

    @field_validator("year", mode="before")
    @classmethod
    def _year(cls, value: object) -> object:
        return None if value in ("", None) else value

    @field_validator("price_cents", mode="before")
    @classmethod
    def _price(cls, value: object) -> int | None:
        return money.cents(value)

    @model_validator(mode="after")
    def _identified(self) -> BookRow:
        if not self.barcode and not self.isbn:
            raise ValueError("a book needs a barcode or an ISBN")
        return self


@dataclass(frozen=True)
class _Code:
    """What identifies a row, for the checks: a code of some kind, unique or not."""

    kind: CodeKind
    code: str
    unique: bool  # a card or a barcode; copies without label share their title's ISBN
    group: str  # rows of one group make one title (books) or one patron (students)


CodeOf = Callable[[Any], "_Code | None"]  # None: a row with no code of its own (no card yet)


def _student_code(row: StudentRow) -> _Code:
    return _Code("card", row.card, True, row.card)


def _book_code(row: BookRow) -> _Code:
    if row.barcode:
        return _Code("copy", row.barcode, True, row.isbn or f"barcode:{row.barcode}")
    return _Code("isbn", row.isbn, False, row.isbn)


def card_code(card: str) -> _Code | None:
    """The code of a row identified by its card, if it has one."""
    return _Code("card", card, True, card) if card else None


def known_codes(session: Session, patron: Any, copy: Any, title: Any) -> Iterator[tuple[str, str]]:
    """The cards, barcodes and ISBNs in a database (the kiosk's models or the office's)."""
    queries = (
        ("card", select(patron.card)),
        ("copy", select(copy.barcode).where(copy.barcode.is_not(None))),
        ("isbn", select(title.isbn).where(title.isbn.is_not(None))),
    )
    for kind, query in queries:
        for (code,) in session.execute(query.execution_options(yield_per=CHUNK_ROWS)):
            yield kind, code


class CheckedFile:
    """The good rows of a checked file, kept in a private temporary database on disk."""

    def __init__(
        self, db: sqlite3.Connection, model: type[BaseModel], report: ImportReport
    ) -> None:
        self._db = db
        self._model = model
        self.fields = list(model.model_fields)
        self.report = report
        self.rows = db.execute("SELECT count(*) FROM rows WHERE NOT bad").fetchone()[0]

    def values(self, size: int = CHUNK_ROWS) -> Iterator[list[tuple[Any, ...]]]:
        """The good rows in file order, a chunk at a time, as tuples of their fields' values."""
        columns = ", ".join(f"f{i}" for i in range(len(self.fields)))
        cursor = self._db.execute(f"SELECT {columns} FROM rows WHERE NOT bad ORDER BY line")
        while batch := cursor.fetchmany(size):
            yield batch

    def chunks(self, size: int = CHUNK_ROWS) -> Iterator[list[tuple[Any, bool]]]:
        """The good rows in file order, a chunk at a time, each with whether it is the first
        of its group (the row that gives a title its details)."""
        columns = ", ".join(f"f{i}" for i in range(len(self.fields)))
        cursor = self._db.execute(
            f"SELECT line = min(line) OVER (PARTITION BY grp), {columns} FROM rows"
            " WHERE NOT bad ORDER BY line"
        )
        make = self._model.model_construct
        while batch := cursor.fetchmany(size):
            yield [(make(**dict(zip(self.fields, v[1:], strict=True))), bool(v[0])) for v in batch]

    def __iter__(self) -> Iterator[tuple[Any, bool]]:
        for chunk in self.chunks():
            yield from chunk

    def placed(self) -> Iterator[tuple[int, str, Any]]:
        """The good rows in file order, each with its order in the file and where it is."""
        columns = ", ".join(f"f{i}" for i in range(len(self.fields)))
        cursor = self._db.execute(
            f"SELECT line, place, {columns} FROM rows WHERE NOT bad ORDER BY line"
        )
        make = self._model.model_construct
        while batch := cursor.fetchmany(CHUNK_ROWS):
            for v in batch:
                yield v[0], v[1], make(**dict(zip(self.fields, v[2:], strict=True)))

    def problems(self) -> Iterator[tuple[int, str, str]]:
        """Each bad row's order in the file, where it is and what is wrong with it."""
        yield from self._db.execute("SELECT line, place, text FROM problems ORDER BY line, rowid")


Mapping = dict[str, str]  # a column's header_key -> the field it holds ("" for none)
# What a sheet's name tells of its rows where no column does (a workbook with a sheet per class).
SheetValues = Callable[[str], dict[str, str]]


@contextmanager
def check_students(
    path: Path,
    known: Iterable[tuple[str, str]],
    *,
    skip_bad: bool = False,
    progress: Progress | None = None,
) -> Iterator[CheckedFile]:
    """Check every row of a students file against itself and the *known* codes.

    Raises BadImportFile if any row is bad, unless *skip_bad*: then the bad rows are left out
    and listed in the report.
    """
    with check_file(
        path, STUDENT_HEADERS, StudentRow, _student_code, known, skip_bad=skip_bad,
        progress=progress,
    ) as f:  # fmt: skip
        yield f


@contextmanager
def check_books(
    path: Path,
    known: Iterable[tuple[str, str]],
    *,
    skip_bad: bool = False,
    progress: Progress | None = None,
) -> Iterator[CheckedFile]:
    """Check every row of a books file, as check_students."""
    with check_file(
        path, BOOK_HEADERS, BookRow, _book_code, known, skip_bad=skip_bad, progress=progress
    ) as f:
        yield f


@contextmanager
def check_file(
    path: Path,
    headers: dict[str, tuple[str, ...]],
    model: type[BaseModel],
    code_of: CodeOf,
    known: Iterable[tuple[str, str]],
    *,
    mapping: Mapping | None = None,
    sheet_values: SheetValues | None = None,
    skip_bad: bool = False,
    progress: Progress | None = None,
) -> Iterator[CheckedFile]:
    """Check every row of every table of *path* (CSV or .xlsx) as rows of *model*, its columns
    named as in *headers* or placed by the librarian's *mapping*."""
    db = sqlite3.connect("")  # a private database in a temporary file, gone when closed
    fields = list(model.model_fields)
    try:
        db.executescript(
            f"""
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE rows (line INTEGER PRIMARY KEY, place TEXT, kind TEXT, code TEXT,
                               key TEXT, is_unique INTEGER, grp TEXT, bad INTEGER,
                               {", ".join(f"f{i}" for i in range(len(fields)))});
            CREATE TABLE known (kind TEXT, code TEXT, key TEXT);
            CREATE TABLE problems (line INTEGER, place TEXT, text TEXT);
            """
        )
        report = ImportReport()
        good: list[tuple[Any, ...]] = []
        bad: list[tuple[int, str, str]] = []
        records = _records(path, headers, model, progress, mapping or {}, report, sheet_values)
        for line, place, item in records:
            if isinstance(item, str):
                bad.append((line, place, item))
            else:
                c = code_of(item)
                values = [getattr(item, f) for f in fields]
                if c is None:
                    good.append((line, place, None, None, None, 0, None, 0, *values))
                else:
                    good.append((line, place, c.kind, c.code, code_key(c.code), c.unique,
                                 c.group, 0, *values))  # fmt: skip
            if len(good) + len(bad) >= CHUNK_ROWS:
                _store(db, good, bad)
        _store(db, good, bad)
        _check_codes(db, known)
        listed = Listing()
        for _line, place, text in db.execute(
            "SELECT line, place, text FROM problems ORDER BY line, rowid"
        ):
            listed.add(f"{place}: {text}")
        if listed and not skip_bad:
            raise BadImportFile([*listed, "nothing was imported (fix the rows, or use --skip-bad)"])
        report.skipped = listed
        yield CheckedFile(db, model, report)
    finally:
        db.close()


def _store(
    db: sqlite3.Connection, good: list[tuple[Any, ...]], bad: list[tuple[int, str, str]]
) -> None:
    if good:
        db.executemany(f"INSERT INTO rows VALUES ({', '.join('?' * len(good[0]))})", good)
    db.executemany("INSERT INTO problems VALUES (?, ?, ?)", bad)
    good.clear()
    bad.clear()


def _check_codes(db: sqlite3.Connection, known: Iterable[tuple[str, str]]) -> None:
    """A code once in the file, and never another card's or book's (in any letter case)."""
    batch: list[tuple[str, str, str]] = []
    for kind, code in known:
        batch.append((kind, code, code_key(code)))
        if len(batch) >= CHUNK_ROWS:
            db.executemany("INSERT INTO known VALUES (?, ?, ?)", batch)
            batch.clear()
    db.executemany("INSERT INTO known VALUES (?, ?, ?)", batch)
    db.execute("CREATE INDEX rows_key ON rows (key)")
    db.execute("CREATE INDEX known_key ON known (key)")
    problems: list[tuple[int, str, str]] = []
    repeats = db.execute(
        """
        SELECT r.line, r.place, r.kind, r.code, f.place
        FROM rows r
        JOIN (SELECT key, min(line) AS line FROM rows WHERE is_unique
              GROUP BY key HAVING count(*) > 1) AS m ON m.key = r.key
        JOIN rows f ON f.line = m.line
        WHERE r.is_unique AND r.line != m.line
        """
    )
    for line, place, kind, code, first in repeats:
        problems.append((line, place, f"{CODE_NAMES[kind]} {code} is also on {first}"))
    clashes = db.execute(
        """
        SELECT r.line, r.place, r.kind, r.code, k.kind
        FROM rows r JOIN known k ON k.key = r.key
        WHERE (r.kind = 'card') != (k.kind = 'card')
        """
    )
    for line, place, kind, code, known_kind in clashes:
        problems.append((line, place, _clash(kind, code, known_kind)))
    db.executemany("INSERT INTO problems VALUES (?, ?, ?)", problems)
    db.execute("UPDATE rows SET bad = 1 WHERE line IN (SELECT line FROM problems)")


def _clash(kind: str, code: str, known_kind: str) -> str:
    if kind == "card":
        return (
            f"card {code} is already the {CODE_NAMES[known_kind]} of a book: a card and a book"
            " need different codes"
        )
    return (
        f"{CODE_NAMES[kind]} {code} is already a library card: a card and a book need"
        " different codes"
    )


def header_score(
    headers: dict[str, tuple[str, ...]], mapping: Mapping
) -> Callable[[list[str]], int]:
    """How many of a row's cells name a known column: the header row has the most."""
    known = {header_key(name) for names in headers.values() for name in names} | set(mapping)
    return lambda cells: sum(1 for c in cells if c and header_key(c) in known)


@dataclass
class TableHeader:
    """A table's header, and the field each of its columns holds (None: not used)."""

    sheet: str | None
    place: str
    names: list[str]
    fields: list[str | None]
    missing: list[str]  # required fields no column holds
    problem: str | None = None  # a field held by two columns


def read_headers(
    path: Path,
    headers: dict[str, tuple[str, ...]],
    model: type[BaseModel],
    mapping: Mapping | None = None,
) -> tuple[TableFile, list[TableHeader]]:
    """Each table's header in *path* and what its columns hold, reading no further."""
    mapping = mapping or {}
    source = TableFile(path, header_score(headers, mapping))
    found = []
    for table in source.tables():
        place = table.place(table.header_at)
        try:
            columns = _placed(table.header, headers, mapping, place)
            problem = None
        except BadImportFile as exc:
            columns, problem = {}, exc.problems[0]
        by_index = {i: f for f, i in columns.items()}
        found.append(
            TableHeader(
                table.sheet,
                place,
                [str(name).strip() for name in table.header],
                [by_index.get(i) for i in range(len(table.header))],
                _missing(columns, headers, model),
                problem,
            )
        )
    return source, found


def _records(
    path: Path,
    headers: dict[str, tuple[str, ...]],
    model: type[BaseModel],
    progress: Progress | None,
    mapping: Mapping,
    report: ImportReport,
    sheet_values: SheetValues | None = None,
) -> Iterator[tuple[int, str, BaseModel | str]]:
    """Each row of every table of *path*: its order, where it is, and the validated row or
    what is wrong with it.

    Raises BadImportFile for what spoils the whole file (no header, not text, a cell that
    never ends).
    """
    source = TableFile(path, header_score(headers, mapping))
    report.encoding = source.encoding
    for table in source.tables():
        columns = _columns(table, headers, model, mapping)
        named = sheet_values(table.sheet) if sheet_values and table.sheet else {}
        named = {f: v for f, v in named.items() if f not in columns}
        for row in table.rows:
            if progress is not None and row.last % CHUNK_ROWS == 0:
                progress("checking", source.position(), source.size)
            if not any(v.strip() for v in row.cells):
                continue
            line, place = table.ordinal(row.first), table.place(row.first)
            if row.last > row.first:
                yield (
                    line,
                    place,
                    (
                        f'lines {row.first}-{row.last} read as one row: a quote (") opened on'
                        f" line {row.first} is not closed, or a cell holds a line break"
                    ),
                )
                continue
            values = row.cells
            raw = {f: values[i] if i < len(values) else "" for f, i in columns.items()}
            raw.update(named)
            try:
                yield line, place, model.model_validate(raw)
            except ValidationError as exc:
                yield line, place, "; ".join(_reason(err) for err in exc.errors())
    report.notes = source.skipped
    if progress is not None:
        progress("checking", source.size, source.size)


def _columns(
    table: Table, headers: dict[str, tuple[str, ...]], model: type[BaseModel], mapping: Mapping
) -> dict[str, int]:
    """Which column holds each field; each field in one column only."""
    place = table.place(table.header_at)
    columns = _placed(table.header, headers, mapping, place)
    missing = _missing(columns, headers, model)
    if missing:
        raise BadImportFile([f"{place}: missing column(s) {', '.join(missing)}"])
    return columns


def _placed(
    header: list[str], headers: dict[str, tuple[str, ...]], mapping: Mapping, place: str
) -> dict[str, int]:
    names = {header_key(n): f for f, ns in headers.items() for n in ns}
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        key = header_key(name)
        field_name = mapping[key] if key in mapping else names.get(key)
        if not field_name:
            continue
        if field_name in columns:
            other = header[columns[field_name]].strip()
            twice = (
                f"column {other!r} is there twice"
                if header_key(other) == key
                else (
                    f"columns {other!r} and {name.strip()!r} are both the {headers[field_name][0]}"
                )
            )
            raise BadImportFile([f"{place}: {twice}: keep one"])
        columns[field_name] = index
    return columns


def _missing(
    columns: dict[str, int], headers: dict[str, tuple[str, ...]], model: type[BaseModel]
) -> list[str]:
    required = [f for f, info in model.model_fields.items() if info.is_required()]
    return [headers[f][0] for f in required if f not in columns]


def _reason(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"])
    message = err["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


# -- the kiosk's own import (the office has its own, over the same checks) --------------------


def import_students(
    session: Session, path: Path, *, skip_bad: bool = False, progress: Progress | None = None
) -> ImportReport:
    """Add or update patrons from *path* in the caller's transaction; the card is the key.

    Written with plain bulk statements (a class list can be long): patrons already loaded
    in *session* do not see the change.
    """
    known = known_codes(session, Patron, Copy, Title)
    with check_students(path, known, skip_bad=skip_bad, progress=progress) as checked:
        assert checked.fields == ["card", "name", "class_name", "grade", "kind"]
        report = checked.report
        connection = session.connection()
        patrons = Patron.__table__.c
        done = 0
        for chunk in checked.values():
            known_rows = connection.execute(
                select(patrons.id, patrons.card, patrons.name, patrons.class_name, patrons.grade,
                       patrons.kind, patrons.active).where(patrons.card.in_([v[0] for v in chunk]))
            )  # fmt: skip
            have = {row.card: row for row in known_rows}
            new: list[tuple[Any, ...]] = []
            changed: list[dict[str, Any]] = []
            for card, name, class_name, grade, kind in chunk:
                old = have.get(card)
                if old is None:
                    new.append((card, name, class_name, grade, kind))
                    report.added += 1
                elif (old.name, old.class_name, old.grade, old.kind, old.active) == (
                    name, class_name, grade, kind, True
                ):  # fmt: skip
                    report.unchanged += 1
                else:
                    if old.name != name:
                        report.rename(card, old.name, name)
                    changed.append(
                        dict(key=old.id, name=name, class_name=class_name, grade=grade, kind=kind)
                    )
                    report.updated += 1
            if new:
                connection.exec_driver_sql(
                    "INSERT INTO patrons (card, name, class_name, grade, kind, active, failed_pins)"
                    " VALUES (?, ?, ?, ?, ?, 1, 0)",
                    new,
                )
            if changed:
                connection.execute(
                    update(Patron.__table__)
                    .where(patrons.id == bindparam("key"))
                    .values(active=True),
                    changed,
                )
            done += len(chunk)
            if progress is not None:
                progress("importing", done, checked.rows)
    return report


def import_books(
    session: Session,
    path: Path,
    *,
    skip_bad: bool = False,
    today: dt.date | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Add or update titles and copies from *path* in the caller's transaction.

    A row with a barcode is one labelled copy; rows with an ISBN and no barcode are copies
    known by ISBN only, so their count per ISBN is the number of such copies, each on the
    shelf its row names. The first row of a title gives its details.
    """
    added_on = today or dt.date.today()
    known = known_codes(session, Patron, Copy, Title)
    with check_books(path, known, skip_bad=skip_bad, progress=progress) as checked:
        report = checked.report
        unlabelled: dict[str, list[str]] = {}  # ISBN: the shelf of each of its rows
        done = 0
        for chunk in checked.chunks():
            _import_book_chunk(session, chunk, added_on, report, unlabelled)
            session.flush()
            done += len(chunk)
            if progress is not None:
                progress("importing", done, checked.rows)
        for isbn, shelves in unlabelled.items():
            title = session.scalars(select(Title).where(Title.isbn == isbn)).first()
            assert title is not None  # its rows made it, above
            have = session.scalars(
                select(Copy)
                .where(Copy.title_id == title.id, Copy.barcode.is_(None))
                .order_by(Copy.id)
            ).all()
            for copy, shelf in zip(have, shelves, strict=False):
                if copy.shelf == shelf:
                    report.unchanged += 1
                else:
                    copy.shelf = shelf
                    report.updated += 1
            missing = shelves[len(have) :]
            if missing:
                session.execute(
                    insert(Copy), [dict(barcode=None, title_id=title.id, shelf=s) for s in missing]
                )
            report.added += len(missing)
    return report


def _import_book_chunk(
    session: Session,
    chunk: list[tuple[BookRow, bool]],
    added_on: dt.date,
    report: ImportReport,
    unlabelled: dict[str, list[str]],
) -> None:
    isbns = {row.isbn for row, _first in chunk if row.isbn}
    barcodes = {row.barcode for row, _first in chunk if row.barcode}
    titles = {t.isbn: t for t in session.scalars(select(Title).where(Title.isbn.in_(isbns)))}
    copies = {
        c.barcode: c
        for c in session.scalars(
            select(Copy).options(joinedload(Copy.title)).where(Copy.barcode.in_(barcodes))
        )
    }
    for row, first in chunk:
        copy = copies.get(row.barcode) if row.barcode else None
        title = titles.get(row.isbn) if row.isbn else (copy.title if copy else None)
        values = dict(
            title=row.title,
            author=row.author,
            publisher=row.publisher,
            year=row.year,
            classification=row.classification,
        )
        if title is None:
            title = Title(isbn=row.isbn or None, added_on=added_on, **values)
            session.add(title)
            if row.isbn:
                titles[row.isbn] = title
        elif first and any(getattr(title, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(title, k, v)
            report.updated += 1
        if not row.barcode:
            unlabelled.setdefault(row.isbn, []).append(row.shelf)
            continue
        if copy is None:
            session.add(Copy(barcode=row.barcode, title=title, shelf=row.shelf))
            report.added += 1
        elif copy.title is not title or copy.shelf != row.shelf:
            copy.title, copy.shelf = title, row.shelf
            report.updated += 1
        else:
            report.unchanged += 1
