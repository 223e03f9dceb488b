"""The kiosk's library records, in SQLAlchemy 2.0's typed ORM style."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime, TypeDecorator


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime, stored as naive UTC so that SQLite and PostgreSQL compare alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: times are stored as UTC")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)

    def bind_processor(self, dialect: Any) -> Callable[[dt.datetime | None], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # SQLite keeps a time as text in SQLAlchemy's format ("2026-11-24 05:45:00.000000"),
        # written here in one step: a batch of events has thousands, and SQLAlchemy's own
        # formatting of each costs more than the row's insert.
        def process(value: dt.datetime | None) -> str | None:
            return None if value is None else sql_time(value)

        return process


def sql_time(at: dt.datetime) -> str:
    """An aware time as SQLite keeps it: UTC, as text in SQLAlchemy's format
    ("2026-11-24 05:45:00.000000"), so that times written with plain statements sort alike."""
    offset = at.utcoffset()
    if offset is None:
        raise ValueError(f"naive datetime {at!r}: times are stored as UTC")
    # Shifted to UTC by its offset and written without it: no new datetime made for a UTC one.
    return (at - offset if offset else at).isoformat(" ", "microseconds")[:26]


# A random UUID's version (4) and variant bits, set in the 128 random bits of new_uuid.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_uuid() -> str:
    """A random (version 4) UUID as text, as ``str(uuid.uuid4())`` gives it, made in fewer
    steps: every scan makes one or two (its event's, a new loan's)."""
    bits = f"{int.from_bytes(os.urandom(16)) & _UUID4_CLEAR | _UUID4_SET:032x}"
    return f"{bits[:8]}-{bits[8:12]}-{bits[12:16]}-{bits[16:20]}-{bits[20:]}"


def utc_time(text: str) -> dt.datetime:
    """A time read from SQLite with a plain statement (see :func:`sql_time`)."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    pass


class CopyStatus(StrEnum):
    AVAILABLE = "available"
    ON_LOAN = "on_loan"
    DAMAGED = "damaged"
    IN_REPAIR = "in_repair"
    LOST = "lost"
    WITHDRAWN = "withdrawn"
    REFERENCE = "reference"


class PatronKind(StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"
    HELPER = "helper"  # a small librarian: a student who may open the supervisor menu
    LIBRARIAN = "librarian"


class Week(StrEnum):
    """Which weeks of an alternating (A/B) timetable a window is open in."""

    EVERY = "every"
    A = "A"
    B = "B"


class Title(Base):
    __tablename__ = "titles"

    id: Mapped[int] = mapped_column(primary_key=True)
    isbn: Mapped[str | None] = mapped_column(String(13), index=True)
    title: Mapped[str]
    author: Mapped[str] = mapped_column(default="")
    publisher: Mapped[str] = mapped_column(default="")
    year: Mapped[int | None]
    classification: Mapped[str] = mapped_column(default="")
    subjects: Mapped[str] = mapped_column(default="")
    reading_level: Mapped[str] = mapped_column(default="")
    language: Mapped[str] = mapped_column(default="")
    added_on: Mapped[dt.date]
    # The office's id for this row, once the kiosk has pulled it (sync/).
    server_id: Mapped[int | None] = mapped_column(unique=True)

    copies: Mapped[list[Copy]] = relationship(back_populates="title")


class Copy(Base):
    __tablename__ = "copies"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a copy known only by its title's ISBN (no library label of its own).
    barcode: Mapped[str | None] = mapped_column(String(64), unique=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("titles.id"), index=True)
    status: Mapped[CopyStatus] = mapped_column(String(16), default=CopyStatus.AVAILABLE)
    shelf: Mapped[str] = mapped_column(default="")
    price_cents: Mapped[int | None]
    server_id: Mapped[int | None] = mapped_column(unique=True)  # the office's id (sync/)

    title: Mapped[Title] = relationship(back_populates="copies")

    @property
    def code(self) -> str:
        """What a person scans for this copy: its label, or its title's ISBN."""
        return self.barcode or self.title.isbn or f"#{self.id}"


class Patron(Base):
    __tablename__ = "patrons"

    id: Mapped[int] = mapped_column(primary_key=True)
    card: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str]
    kind: Mapped[PatronKind] = mapped_column(String(16), default=PatronKind.STUDENT)
    class_name: Mapped[str] = mapped_column(default="")  # "4-2": grade 4, class 2
    grade: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    pin_hash: Mapped[str | None]
    failed_pins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # Owes the library for a book damaged or lost, not settled yet (from the office, by sync).
    compensation_due: Mapped[bool] = mapped_column(default=False)


class Loan(Base):
    __tablename__ = "loans"
    __table_args__ = (
        # At most one open loan per copy, enforced by the database itself.
        Index(
            "one_open_loan_per_copy",
            "copy_id",
            unique=True,
            sqlite_where=text("returned_at IS NULL"),
        ),
        # The returned loans still linked to their patrons, found at once at each session's
        # end to be forgotten (rules.forget_returned): few, in a history of thousands.
        Index(
            "returned_still_linked",
            "returned_at",
            sqlite_where=text("patron_id IS NOT NULL AND returned_at IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    # Found through one_open_loan_per_copy: no index of its own, a page less written per loan.
    copy_id: Mapped[int] = mapped_column(ForeignKey("copies.id"))
    # Cleared once the returned loan no longer needs it (privacy); class and grade stay for
    # the reading league.
    patron_id: Mapped[int | None] = mapped_column(ForeignKey("patrons.id"), index=True)
    patron_class: Mapped[str] = mapped_column(default="")
    patron_grade: Mapped[int | None]
    lent_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    due_date: Mapped[dt.date]
    returned_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    renewals: Mapped[int] = mapped_column(default=0)
    lent_where: Mapped[str] = mapped_column(default="")
    implicit_return: Mapped[bool] = mapped_column(default=False)
    override_by: Mapped[str | None]  # card of the small librarian who allowed it

    copy: Mapped[Copy] = relationship()
    patron: Mapped[Patron | None] = relationship()


class Policy(Base):
    """Circulation rules for one kind of patron."""

    __tablename__ = "policies"

    patron_kind: Mapped[PatronKind] = mapped_column(String(16), primary_key=True)
    max_loans: Mapped[int]
    loan_days: Mapped[int]
    max_renewals: Mapped[int]
    overdue_block_days: Mapped[int]  # a loan this many days overdue blocks new loans
    # Compensation not settled yet blocks new loans.
    block_on_unsettled_compensation: Mapped[bool] = mapped_column(default=True)


class OpeningWindow(Base):
    __tablename__ = "opening_windows"
    __table_args__ = (CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    weekday: Mapped[int]  # Monday is 0
    opens: Mapped[dt.time]
    closes: Mapped[dt.time]
    grades: Mapped[str] = mapped_column(default="")  # "3,4"; empty: every grade
    week: Mapped[Week] = mapped_column(String(8), default=Week.EVERY)

    def grade_list(self) -> list[int]:
        return [int(g) for g in self.grades.split(",") if g.strip()]


class ClosedDate(Base):
    __tablename__ = "closed_dates"

    day: Mapped[dt.date] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(default="")


class Event(Base):
    """The outbox: every state change, written in the same transaction as the change."""

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # Unique by how it is made (uuid4), and kept once by the office: no index, a page less
    # written per scan.
    uuid: Mapped[str] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    clock: Mapped[str] = mapped_column(String(16))  # "ok", "backwards" or "wrong" (kiosk.clock)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # When the office acknowledged it. Which events wait for the office is told by their
    # sequence (kiosk.outbox.acked_through), not by an index of this: a page less per scan.
    acked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Stocktake(Base):
    """A stocktake the librarian started at the office (pulled from it; the office's id)."""

    __tablename__ = "stocktakes"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str]
    open: Mapped[bool]
    # Whole library: any shelf may be counted; else only the shelves listed.
    whole_library: Mapped[bool]
    # The shelves to count and how many copies belong on each: [{"name": .., "copies": n}].
    shelves: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class StocktakeCount(Base):
    """A copy counted by this kiosk in a stocktake: counted once, whatever the scans."""

    __tablename__ = "stocktake_counts"

    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktakes.id"), primary_key=True)
    copy_id: Mapped[int] = mapped_column(ForeignKey("copies.id"), primary_key=True)
    shelf: Mapped[str]
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Setting(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str]
