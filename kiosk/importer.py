"""Importing students and books from the librarian's CSV files (English or Chinese headers)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.codes import GarbledCode, clean, normalise_isbn
from kiosk.models import Copy, Patron, PatronKind, Title

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
}
KIND_WORDS = {
    "学生": PatronKind.STUDENT,
    "教师": PatronKind.TEACHER,
    "老师": PatronKind.TEACHER,
    "小图书管理员": PatronKind.HELPER,
    "小管理员": PatronKind.HELPER,
    "图书管理员": PatronKind.LIBRARIAN,
}


class BadImportFile(Exception):
    """The file cannot be imported as it is; ``problems`` lists each bad line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)

    def summary(self, noun: str) -> str:
        text = f"{noun}: {self.added} added, {self.updated} updated, {self.unchanged} unchanged"
        if self.skipped:
            text += f", {len(self.skipped)} bad rows skipped"
        return text


def _text(value: str | None) -> str:
    return (value or "").strip()


Code = Annotated[str, Field(min_length=1, max_length=64)]


class StudentRow(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    card: Code
    name: Annotated[str, Field(min_length=1, max_length=100)]
    class_name: str = ""
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
        return None if value in ("", None) else value

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: object) -> object:
        if value in ("", None):
            return PatronKind.STUDENT
        return KIND_WORDS.get(str(value).strip(), str(value).strip().lower())


class BookRow(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    barcode: str = ""
    isbn: str = ""
    title: Annotated[str, Field(min_length=1, max_length=300)]
    author: str = ""
    publisher: str = ""
    year: Annotated[int, Field(ge=1400, le=2100)] | None = None
    classification: str = ""
    shelf: str = ""

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

    @model_validator(mode="after")
    def _identified(self) -> BookRow:
        if not self.barcode and not self.isbn:
            raise ValueError("a book needs a barcode or an ISBN")
        return self


def _rows(
    path: Path, headers: dict[str, tuple[str, ...]], model: type[BaseModel]
) -> tuple[list[tuple[int, BaseModel]], list[str]]:
    """Parse and validate every row; return the good ones with their line numbers, and problems."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadImportFile([f"{path}: not UTF-8 text (save it as CSV UTF-8): {exc}"]) from exc
    except OSError as exc:
        raise BadImportFile([f"{path}: {exc.strerror}"]) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise BadImportFile([f"{path}: the file is empty"]) from None
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        key = name.strip().lower()
        for field_name, names in headers.items():
            if key in names:
                columns[field_name] = index
    required = [f for f, info in model.model_fields.items() if info.is_required()]
    missing = [headers[f][0] for f in required if f not in columns]
    if missing:
        raise BadImportFile([f"line 1: missing column(s) {', '.join(missing)}"])
    good: list[tuple[int, BaseModel]] = []
    problems: list[str] = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        raw = {f: values[i] if i < len(values) else "" for f, i in columns.items()}
        try:
            good.append((line, model.model_validate(raw)))
        except ValidationError as exc:
            reasons = "; ".join(_reason(err) for err in exc.errors())
            problems.append(f"line {line}: {reasons}")
    return good, problems


def _reason(err: dict) -> str:  # type: ignore[type-arg]
    where = ".".join(str(p) for p in err["loc"])
    message = err["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _drop_repeats(
    rows: list[tuple[int, BaseModel]], key: str, problems: list[str]
) -> list[tuple[int, BaseModel]]:
    """The rows whose *key* is not on an earlier row; each repeat is a problem."""
    first: dict[str, int] = {}
    kept = []
    for line, row in rows:
        value = getattr(row, key)
        if value and value in first:
            problems.append(f"line {line}: {key} {value} is also on line {first[value]}")
            continue
        first.setdefault(value, line)
        kept.append((line, row))
    return kept


def read_students(path: Path, *, skip_bad: bool = False) -> tuple[list[StudentRow], ImportReport]:
    """The good rows of a students file, and a report listing the bad ones.

    Raises BadImportFile if any row is bad, unless *skip_bad*.
    """
    rows, problems = _rows(path, STUDENT_HEADERS, StudentRow)
    rows = _drop_repeats(rows, "card", problems)
    return [row for _line, row in rows], _check(problems, skip_bad)  # type: ignore[misc]


def read_books(path: Path, *, skip_bad: bool = False) -> tuple[list[BookRow], ImportReport]:
    """The good rows of a books file, and a report listing the bad ones (as read_students)."""
    rows, problems = _rows(path, BOOK_HEADERS, BookRow)
    rows = _drop_repeats(rows, "barcode", problems)
    return [row for _line, row in rows], _check(problems, skip_bad)  # type: ignore[misc]


def _check(problems: list[str], skip_bad: bool) -> ImportReport:
    if problems and not skip_bad:
        raise BadImportFile([*problems, "nothing was imported (fix the rows, or use --skip-bad)"])
    return ImportReport(skipped=problems)


def import_students(session: Session, path: Path, *, skip_bad: bool = False) -> ImportReport:
    """Add or update patrons from *path* in the caller's transaction; the card is the key."""
    rows, report = read_students(path, skip_bad=skip_bad)
    for row in rows:
        patron = session.scalar(select(Patron).where(Patron.card == row.card))
        values = dict(name=row.name, class_name=row.class_name, grade=row.grade, kind=row.kind)
        if patron is None:
            session.add(Patron(card=row.card, **values))
            report.added += 1
        elif any(getattr(patron, k) != v for k, v in values.items()) or not patron.active:
            for key, value in values.items():
                setattr(patron, key, value)
            patron.active = True
            report.updated += 1
        else:
            report.unchanged += 1
    return report


def import_books(
    session: Session, path: Path, *, skip_bad: bool = False, today: dt.date | None = None
) -> ImportReport:
    """Add or update titles and copies from *path* in the caller's transaction.

    A row with a barcode is one labelled copy; rows with an ISBN and no barcode are copies
    known by ISBN only, so their count per ISBN is the number of such copies.
    """
    rows, report = read_books(path, skip_bad=skip_bad)
    added_on = today or dt.date.today()
    titles: dict[str, Title] = {}
    unlabelled: Counter[str] = Counter()
    for row in rows:
        title = _title_for(session, row, titles, added_on, report)
        if not row.barcode:
            unlabelled[row.isbn] += 1
            continue
        copy = session.scalar(select(Copy).where(Copy.barcode == row.barcode))
        if copy is None:
            session.add(Copy(barcode=row.barcode, title=title, shelf=row.shelf))
            report.added += 1
        elif copy.title is not title or copy.shelf != row.shelf:
            copy.title, copy.shelf = title, row.shelf
            report.updated += 1
        else:
            report.unchanged += 1
    for isbn, wanted in unlabelled.items():
        title = titles[isbn]
        have = len([c for c in title.copies if c.barcode is None])
        for _ in range(wanted - have):
            session.add(Copy(barcode=None, title=title))
            report.added += 1
        report.unchanged += min(have, wanted)
    return report


def _title_for(
    session: Session,
    row: BookRow,
    titles: dict[str, Title],
    added_on: dt.date,
    report: ImportReport,
) -> Title:
    """The title a row belongs to: one per ISBN; a book without ISBN is a title of its own."""
    key = row.isbn or f"barcode:{row.barcode}"
    if key in titles:
        return titles[key]
    title = None
    if row.isbn:
        title = session.scalar(select(Title).where(Title.isbn == row.isbn))
    elif row.barcode:
        copy = session.scalar(select(Copy).where(Copy.barcode == row.barcode))
        title = copy.title if copy else None
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
    elif any(getattr(title, k) != v for k, v in values.items()):
        for k, v in values.items():
            setattr(title, k, v)
        report.updated += 1
    titles[key] = title
    return title
