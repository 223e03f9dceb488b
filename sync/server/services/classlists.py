"""Class lists into the office: the kiosk's CSV, or the school office's own Excel or CSV.

A file is first *previewed*: which column holds what (the known Chinese and English names,
else the librarian's mapping, remembered for the next file with the same headers), every row
that cannot be used with its sheet and row, and what importing it would do: who is new (and
the card each will get), who moved class, who was renamed, and who of the file's classes is
missing from it. Nothing is saved until the librarian imports it; the import looks at the file
and the records again, so what it does is what the preview showed.

A row is the student already known with its student number (学籍号), else its card, else its
name and birth date, else its name in its class. Rows are checked by kiosk.importer, the same
checks as the kiosk's own import (a card and a book never share a code).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.classes import STYLES, NotAClass, SchoolClass, parse_class
from kiosk.codes import GarbledCode, clean
from kiosk.importer import (
    BadImportFile,
    ImportReport,
    Listing,
    Mapping,
    Readable,
    ShortText,
    card_code,
    check_file,
    known_codes,
    read_grade,
    read_headers,
    read_kind,
)
from kiosk.models import PatronKind
from kiosk.tables import header_key
from sync.server.models import Copy, Patron, Setting, Title
from sync.server.services import N_, Refusal
from sync.server.services.card_numbers import CardMaker
from sync.server.services.changes import Changes
from sync.server.services.students import (
    CLASS_STYLE,
    Student,
    reading_order,
    restyle,
    school_style,
    student,
)

HEADERS = {
    "card": ("card", "卡号", "借书证号", "借书证", "借阅证号", "读者证号", "library card"),
    "student_number": ("student number", "学籍号", "学号", "全国学籍号", "学生编号",
                       "个人标识码", "student id", "student no"),
    "name": ("name", "姓名", "名字", "学生姓名"),
    "sex": ("sex", "性别", "gender"),
    "birth_date": ("birth date", "出生日期", "生日", "出生年月", "出生年月日", "date of birth",
                   "birthday"),
    "class_name": ("class", "班级", "班级名称", "班别", "班", "所在班级", "班名"),
    "grade": ("grade", "年级", "年级名称", "所在年级"),
    "kind": ("kind", "类型", "身份"),
}  # fmt: skip
# What each field is called in the mapping step of the preview.
FIELDS = {
    "name": N_("Name"),
    "class_name": N_("Class"),
    "grade": N_("Grade"),
    "student_number": N_("Student number"),
    "birth_date": N_("Birth date"),
    "card": N_("Card"),
    "kind": N_("Kind"),
    "sex": N_("Sex (not kept)"),
}
_FIELD_OF = {names[0]: field_name for field_name, names in HEADERS.items()}
MAPPING = "columns:"  # server_settings: a file's headers -> the librarian's mapping
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})(?:\s*[-/.月]\s*(\d{1,2})\s*日?)?\s*月?$")


class ClassListRow(BaseModel):
    """A row of a class list; only the name is needed."""

    model_config = ConfigDict(str_strip_whitespace=True)

    card: str = ""
    student_number: Annotated[str, Field(max_length=32), Readable] = ""
    name: Annotated[str, Field(min_length=1, max_length=100), Readable]
    birth_date: str = ""  # ISO 8601
    class_name: ShortText = ""
    grade: Annotated[int, Field(ge=1, le=12)] | None = None
    kind: PatronKind = PatronKind.STUDENT

    @field_validator("card")
    @classmethod
    def _scannable(cls, value: str) -> str:
        if not value:
            return ""
        try:
            return clean(value)
        except GarbledCode as exc:
            raise ValueError(f"card number is not scannable ({exc.reason})") from exc

    @field_validator("birth_date")
    @classmethod
    def _date(cls, value: str) -> str:
        return read_date(value).isoformat() if value else ""

    @field_validator("grade", mode="before")
    @classmethod
    def _grade(cls, value: object) -> object:
        return read_grade(value)

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: object) -> object:
        return read_kind(value)

    @model_validator(mode="after")
    def _class(self) -> ClassListRow:
        try:
            found = parse_class(self.class_name, self.grade)
        except NotAClass as exc:
            raise ValueError(str(exc)) from exc
        if found is not None and self.grade is None:
            self.grade = found.grade
        return self


def read_date(text: str) -> dt.date:
    """2016-05-04, 2016/5/4, 2016.5.4, 2016年5月4日, 20160504; a year and month alone (出生年月,
    2016.05) as the month's first day."""
    digits = text.strip()
    if len(digits) == 8 and digits.isdigit():
        digits = f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    found = _DATE.match(digits.split("T")[0])
    try:
        if found is None:
            raise ValueError
        year, month, day = found.groups()
        return dt.date(int(year), int(month), int(day or 1))
    except ValueError:
        raise ValueError(f"{text!r} is not a date (write 2016-05-04)") from None


# -- what a file holds, and what importing it would do -----------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    field: str | None  # None: not used


@dataclass(frozen=True)
class SheetHeader:
    sheet: str | None
    place: str
    columns: list[Column]
    missing: list[str]  # required fields no column holds
    problem: str | None  # a field in two columns


@dataclass(frozen=True)
class Arrival:
    place: str
    name: str
    class_name: str
    card: str  # given by the file, or made by the card rule
    made: bool  # the card number is new, made by the rule


@dataclass(frozen=True)
class Moved:
    name: str
    card: str
    old: str
    new: str


@dataclass(frozen=True)
class Renamed:
    card: str
    old: str
    new: str


@dataclass
class Preview:
    """What importing a file would do; nothing of it is saved."""

    encoding: str | None
    notes: list[str]
    headers: list[SheetHeader]
    mapping: Mapping  # the librarian's placing of columns (remembered or given)
    remembered: bool  # the mapping was remembered from an earlier file
    style: str  # the form classes will be shown in
    rows: int = 0
    problems: Listing = field(default_factory=Listing)
    new: list[Arrival] = field(default_factory=list)
    moved: list[Moved] = field(default_factory=list)
    renamed: list[Renamed] = field(default_factory=list)
    back: list[Student] = field(default_factory=list)  # inactive students in the file again
    updated: int = 0  # changed otherwise (number, birth date, grade)
    unchanged: int = 0
    missing: list[Student] = field(default_factory=list)  # of the file's classes, not in it

    @property
    def ready(self) -> bool:
        """Every table's columns are placed: the rows could be read."""
        return all(not h.missing and not h.problem for h in self.headers)

    @property
    def needed(self) -> list[str]:
        return sorted({f for h in self.headers for f in h.missing})

    @property
    def made_cards(self) -> int:
        return sum(1 for a in self.new if a.made)


@dataclass
class _Step:
    """One row's effect: a new patron (patron None) or the values a known one gets."""

    patron: Patron | None
    values: dict[str, Any]


@dataclass
class _Plan:
    preview: Preview
    steps: list[_Step] = field(default_factory=list)
    missing: list[Patron] = field(default_factory=list)
    maker: CardMaker | None = None
    headers_key: str = ""


def preview(
    session: Session,
    path: Path,
    *,
    mapping: Mapping | None = None,
    style: str | None = None,
    today: dt.date,
) -> Preview:
    """What importing *path* would do (see the module's doc); changes nothing."""
    return _plan(session, path, mapping, style, today).preview


@dataclass
class Imported:
    report: ImportReport
    preview: Preview
    new_cards: list[str]  # the cards of the students added, for printing them
    deactivated: int


def import_file(
    session: Session,
    path: Path,
    *,
    mapping: Mapping | None = None,
    style: str | None = None,
    deactivate_missing: bool = False,
    skip_bad: bool = False,
    today: dt.date,
) -> Imported:
    """Import *path* as its preview shows; raise BadImportFile (nothing saved) if a row is bad
    and not *skip_bad*, or if a table's columns are not all placed."""
    plan = _plan(session, path, mapping, style, today)
    found = plan.preview
    if not found.ready:
        raise BadImportFile([_unplaced(h) for h in found.headers if h.missing or h.problem])
    if found.problems and not skip_bad:
        raise BadImportFile(
            [*found.problems, "nothing was imported (fix the rows, or use --skip-bad)"]
        )
    changes = Changes()
    report = ImportReport(skipped=found.problems, encoding=found.encoding, notes=found.notes)
    new_cards = []
    with session.no_autoflush:
        for step in plan.steps:
            if step.patron is None:
                patron = Patron(active=True, deleted=False, **step.values)
                session.add(patron)
                new_cards.append(patron.card)
                report.added += 1
            elif step.values:
                patron = step.patron
                for key, value in step.values.items():
                    setattr(patron, key, value)
                report.updated += 1
            else:
                report.unchanged += 1
                continue
            changes.add(patron)
        if deactivate_missing:
            for patron in plan.missing:
                patron.active = False
                changes.add(patron)
    for renamed in found.renamed:
        report.rename(renamed.card, renamed.old, renamed.new)
    changes.write(session)
    if plan.maker is not None:
        plan.maker.keep()
    if found.mapping and not found.remembered:
        _remember(session, plan.headers_key, found)
    before = session.get(Setting, CLASS_STYLE)
    if before is None or before.value != found.style:
        restyle(session, found.style)  # every class in the form chosen now
    return Imported(report, found, new_cards, len(plan.missing) if deactivate_missing else 0)


def _unplaced(header: SheetHeader) -> str:
    if header.problem:
        return header.problem
    return (
        f"{header.place}: no column holds the {', '.join(header.missing)}: say which one"
        " (the page's mapping step, or --map 'COLUMN=field')"
    )


def _plan(
    session: Session, path: Path, mapping: Mapping | None, style: str | None, today: dt.date
) -> _Plan:
    source, tables = read_headers(path, HEADERS, ClassListRow, mapping)
    headers_key = _headers_key([h.names for h in tables])
    remembered = False
    if mapping is None:
        mapping = _remembered(session, headers_key)
        remembered = bool(mapping)
        if remembered:
            source, tables = read_headers(path, HEADERS, ClassListRow, mapping)
    found = Preview(
        encoding=source.encoding,
        notes=source.skipped,
        headers=[
            SheetHeader(
                h.sheet,
                h.place,
                [Column(n, f) for n, f in zip(h.names, h.fields, strict=True)],
                [_FIELD_OF[name] for name in h.missing],
                h.problem,
            )
            for h in tables
        ],
        mapping=mapping,
        remembered=remembered,
        style=style or "",
    )
    plan = _Plan(found, headers_key=headers_key)
    if not found.ready:
        found.style = found.style or school_style(session)
        return plan
    known = known_codes(session, Patron, Copy, Title)
    with check_file(
        path, HEADERS, ClassListRow, lambda r: card_code(r.card), known, mapping=mapping,
        sheet_values=_sheet_class, skip_bad=True,
    ) as checked:  # fmt: skip
        problems = list(checked.problems())
        rows = list(checked.placed())
    given = {f for h in tables for f in h.fields if f}
    if any(h.sheet and _sheet_class(h.sheet) for h in tables):
        given.add("class_name")
    found.rows = len(rows) + len(problems)
    _match(session, plan, rows, problems, given, style, today)
    for _line, place, text in sorted(problems):
        found.problems.add(f"{place}: {text}")
    return plan


def _match(
    session: Session,
    plan: _Plan,
    rows: list[tuple[int, str, ClassListRow]],
    problems: list[tuple[int, str, str]],
    given: set[str],
    style: str | None,
    today: dt.date,
) -> None:
    found = plan.preview
    patrons = list(session.scalars(select(Patron)))
    by_number = {p.student_number: p for p in patrons if p.student_number}
    by_card = {p.card: p for p in patrons}
    by_birth: dict[tuple[str, dt.date], list[Patron]] = defaultdict(list)
    by_class: dict[tuple[str, str], list[Patron]] = defaultdict(list)
    for p in patrons:
        if p.birth_date:
            by_birth[(p.name, p.birth_date)].append(p)
        known_class = _class_of(p.class_name, p.grade)
        by_class[(p.name, known_class.key if known_class else p.class_name)].append(p)

    classes = [(row, _class_of(row.class_name, row.grade)) for _, _, row in rows]
    styles = Counter(c.style for _, c in classes if c is not None and c.style)
    chosen = session.get(Setting, CLASS_STYLE)
    found.style = (
        style
        if style in STYLES
        else chosen.value
        if chosen is not None
        else styles.most_common(1)[0][0]
        if styles
        else school_style(session)
    )
    maker = plan.maker = CardMaker(session, today.year)
    for _, _, row in rows:
        if row.card:
            maker.take(row.card)

    claimed: dict[int, str] = {}
    numbers: dict[str, str] = {}
    file_classes: set[str] = set()
    for (line, place, row), (_, school_class) in zip(rows, classes, strict=True):
        shown = _shown(row, school_class, found.style)
        if school_class is not None and "class_name" in given:
            file_classes.add(school_class.key)
        if row.student_number and row.student_number in numbers:
            problems.append(
                (line, place, f"student number {row.student_number} is also on "
                 f"{numbers[row.student_number]}")
            )  # fmt: skip
            continue
        if row.student_number:
            numbers[row.student_number] = place
        birth = dt.date.fromisoformat(row.birth_date) if row.birth_date else None
        patron, problem = _known(row, birth, school_class, by_number, by_card, by_birth, by_class)
        if patron is not None and patron.id in claimed:
            problem = f"the same student as {claimed[patron.id]} ({patron.name}, {patron.card})"
        if problem:
            problems.append((line, place, problem))
            continue
        if patron is None:
            card = row.card or maker.new(row.student_number)
            values = dict(
                card=card,
                name=row.name,
                kind=str(row.kind),
                class_name=shown,
                grade=row.grade,
                student_number=row.student_number or None,
                birth_date=birth,
            )
            plan.steps.append(_Step(None, values))
            found.new.append(Arrival(place, row.name, shown, card, not row.card))
            continue
        claimed[patron.id] = place
        values = _changes(patron, row, birth, shown, given)
        plan.steps.append(_Step(patron, values))
        if "class_name" in values and _moved(patron, school_class):
            found.moved.append(Moved(row.name, patron.card, patron.class_name, shown))
            moved = True
        else:
            moved = False
        if "name" in values:
            found.renamed.append(Renamed(patron.card, patron.name, row.name))
        if "active" in values:
            found.back.append(student(patron))
        if not values:
            found.unchanged += 1
        elif not moved and not {"name", "active"} & set(values):
            found.updated += 1
    for p in sorted(patrons, key=reading_order):
        known_class = _class_of(p.class_name, p.grade)
        if (
            p.id not in claimed
            and p.active
            and not p.deleted
            and p.kind in (PatronKind.STUDENT, PatronKind.HELPER)
            and known_class is not None
            and known_class.key in file_classes
        ):
            plan.missing.append(p)
            found.missing.append(student(p))


def _known(
    row: ClassListRow,
    birth: dt.date | None,
    school_class: SchoolClass | None,
    by_number: dict[str, Patron],
    by_card: dict[str, Patron],
    by_birth: dict[tuple[str, dt.date], list[Patron]],
    by_class: dict[tuple[str, str], list[Patron]],
) -> tuple[Patron | None, str | None]:
    """The student a row is, if known; or what makes the row contradict the records."""
    patron = by_number.get(row.student_number) if row.student_number else None
    if patron is None and row.card:
        patron = by_card.get(row.card)
    if patron is None:
        same = by_birth.get((row.name, birth), []) if birth else []
        if not same and school_class is not None:
            same = by_class.get((row.name, school_class.key), [])
        # One student of that name and birth date (or class), not another student's number.
        same = [p for p in same if not (row.student_number and p.student_number)]
        patron = same[0] if len(same) == 1 else None
    if patron is None:
        return None, None
    if row.card and row.card != patron.card:
        owner = by_card.get(row.card)
        if owner is not None:
            return None, (
                f"card {row.card} is {owner.name}'s, but student number {row.student_number} is"
                f" {patron.name}'s (card {patron.card})"
            )
        return None, (
            f"{patron.name} (student number {row.student_number}) has card {patron.card}, not"
            f" {row.card}: leave the card out, or correct it"
        )
    if row.student_number and patron.student_number not in (None, row.student_number):
        return None, (
            f"card {patron.card} is {patron.name}'s, student number {patron.student_number},"
            f" not {row.student_number}"
        )
    return patron, None


def _changes(
    patron: Patron, row: ClassListRow, birth: dt.date | None, shown: str, given: set[str]
) -> dict[str, Any]:
    """What a known student gets from the row: only what the file says (an empty cell, or a
    column the file does not have, leaves what the office knows)."""
    wanted: dict[str, Any] = {"name": row.name}
    if "class_name" in given or "grade" in given:
        wanted["class_name"] = shown
        wanted["grade"] = row.grade
    if "kind" in given:
        wanted["kind"] = str(row.kind)
    if row.student_number:
        wanted["student_number"] = row.student_number
    if birth is not None:
        wanted["birth_date"] = birth
    changes = {k: v for k, v in wanted.items() if getattr(patron, k) != v}
    if not patron.active or patron.deleted:
        changes.update(active=True, deleted=False)
    return changes


def _sheet_class(sheet: str) -> dict[str, str]:
    """A sheet named for a class ("三(2)班") gives its rows that class, if no column does."""
    return {"class_name": sheet} if _class_of(sheet, None) is not None else {}


def _moved(patron: Patron, school_class: SchoolClass | None) -> bool:
    """Another class, not the same class written in another form."""
    before = _class_of(patron.class_name, patron.grade)
    if before is None or school_class is None:
        return True
    return before.key != school_class.key


def _class_of(class_name: str, grade: int | None) -> SchoolClass | None:
    try:
        return parse_class(class_name, grade)
    except NotAClass:
        return None


def _shown(row: ClassListRow, school_class: SchoolClass | None, style: str) -> str:
    """The row's class in the school's form; as written if it is in no known form; none if
    only a grade was given."""
    if school_class is None:
        return row.class_name
    if not row.class_name and school_class.number is None:
        return ""
    return school_class.shown(style)


# -- the mapping remembered for the next file with the same headers ---------------------------


def _headers_key(names: list[list[str]]) -> str:
    keys = sorted({header_key(n) for table in names for n in table if n.strip()})
    digest = hashlib.sha1("\x1f".join(keys).encode()).hexdigest()
    return MAPPING + digest


def _remembered(session: Session, key: str) -> Mapping:
    row = session.get(Setting, key)
    return json.loads(row.value)["mapping"] if row is not None else {}


def _remember(session: Session, key: str, found: Preview) -> None:
    names = [c.name for h in found.headers for c in h.columns]
    _set(session, key, json.dumps({"headers": names, "mapping": found.mapping}, ensure_ascii=False))


def _set(session: Session, key: str, value: str) -> None:
    row = session.get(Setting, key) or Setting(key=key)
    row.value = value
    session.add(row)


def mapping_from(path: Path, chosen: dict[str, str]) -> Mapping:
    """The librarian's mapping from the field *chosen* for each column name ("" for "not
    used"): those she placed otherwise than the known column names would."""
    _source, tables = read_headers(path, HEADERS, ClassListRow, {})
    mapping = {}
    for table in tables:
        for name, known in zip(table.names, table.fields, strict=True):
            if name not in chosen:
                continue
            field_name = chosen[name]
            if field_name and field_name not in FIELDS:
                raise Refusal(N_("{field} is not a field of a class list."), field=field_name)
            if (field_name or None) != known:
                mapping[header_key(name)] = field_name
    return mapping
