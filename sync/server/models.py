"""The office's records: the master catalogue, the merged loan ledger, kiosks and their events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from kiosk.models import CopyStatus, PatronKind, UtcDateTime


class Base(DeclarativeBase):
    pass


class Setting(Base):
    __tablename__ = "server_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str]


class ClosedDayNote(Base):
    """Why the library is closed on a day of the rules' closed dates (kiosks need only the day)."""

    __tablename__ = "closed_day_notes"

    day: Mapped[dt.date] = mapped_column(primary_key=True)
    note: Mapped[str] = mapped_column(String(200))


class Title(Base):
    __tablename__ = "titles"

    id: Mapped[int] = mapped_column(primary_key=True)
    isbn: Mapped[str | None] = mapped_column(String(13), index=True)
    title: Mapped[str]
    author: Mapped[str] = mapped_column(default="")
    publisher: Mapped[str] = mapped_column(default="")
    year: Mapped[int | None]
    classification: Mapped[str] = mapped_column(default="")
    added_on: Mapped[dt.date]
    price_cents: Mapped[int | None]  # the price printed on the book (定价), in fen

    copies: Mapped[list[Copy]] = relationship(back_populates="title")


class Copy(Base):
    __tablename__ = "copies"

    id: Mapped[int] = mapped_column(primary_key=True)
    barcode: Mapped[str | None] = mapped_column(String(64), unique=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("titles.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=CopyStatus.AVAILABLE)
    shelf: Mapped[str] = mapped_column(default="")
    # The day its label was made (None before this was recorded): "print the labels of today's".
    added_on: Mapped[dt.date | None] = mapped_column(default=dt.date.today, index=True)

    title: Mapped[Title] = relationship(back_populates="copies")


class Patron(Base):
    __tablename__ = "patrons"

    id: Mapped[int] = mapped_column(primary_key=True)
    card: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str]
    kind: Mapped[str] = mapped_column(String(16), default=PatronKind.STUDENT)
    class_name: Mapped[str] = mapped_column(default="")
    grade: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    deleted: Mapped[bool] = mapped_column(default=False)
    # From the school's registry (学籍号), to know a student again in next term's class list;
    # the office keeps them, kiosks never get them.
    student_number: Mapped[str | None] = mapped_column(String(32), index=True)
    birth_date: Mapped[dt.date | None]
    # The day the office first knew them (None before this was recorded): "cards of new students".
    added_on: Mapped[dt.date | None] = mapped_column(default=dt.date.today)
    # Owes compensation not settled yet (services.compensation keeps it so): kiosks are told.
    compensation_due: Mapped[bool] = mapped_column(default=False)
    # A small librarian's PIN for the kiosks' helpers' menu, as kiosk.pins hashes it.
    pin_hash: Mapped[str | None] = mapped_column(String(255))


class Kiosk(Base):
    __tablename__ = "kiosks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    enrolled_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_sync: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # Highest sequence applied to the ledger with nothing missing before it.
    applied_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    clock_offset_seconds: Mapped[float | None]  # server time minus kiosk time
    clock_backwards: Mapped[bool] = mapped_column(default=False)
    events_waiting: Mapped[int] = mapped_column(default=0)  # on the kiosk, as it last said
    version: Mapped[str | None] = mapped_column(String(32))  # its software, as it last said
    # The office's own desk (services.desk): its events go through the ledger as a kiosk's do,
    # but it has no token and is not one of the kiosks the librarian looks after.
    desk: Mapped[bool] = mapped_column(default=False)


class EnrollCode(Base):
    __tablename__ = "enroll_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"))


class Event(Base):
    """Every event received from a kiosk, exactly once."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("kiosk_id", "seq"), UniqueConstraint("uuid"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    uuid: Mapped[str] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)  # the kiosk's clock
    corrected_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)  # by the measured offset
    clock: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    applied: Mapped[bool] = mapped_column(default=False)


class Loan(Base):
    """The merged ledger; a loan keeps the id the kiosk gave it."""

    __tablename__ = "loans"
    __table_args__ = (
        Index(
            "server_one_open_loan_per_copy",
            "copy_id",
            unique=True,
            sqlite_where=text("returned_at IS NULL"),
            postgresql_where=text("returned_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    copy_id: Mapped[int | None] = mapped_column(ForeignKey("copies.id"), index=True)
    copy_code: Mapped[str] = mapped_column(String(64))
    patron_id: Mapped[int | None] = mapped_column(ForeignKey("patrons.id"), index=True)
    patron_card: Mapped[str | None] = mapped_column(String(64))
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"))
    lent_where: Mapped[str] = mapped_column(default="")
    lent_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    due_date: Mapped[dt.date]
    returned_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    renewals: Mapped[int] = mapped_column(default=0)
    implicit_return: Mapped[bool] = mapped_column(default=False)
    # Closed by a later checkout elsewhere: not counted overdue whatever its due date.
    not_overdue: Mapped[bool] = mapped_column(default=False)
    undone: Mapped[bool] = mapped_column(default=False)
    override_by: Mapped[str | None] = mapped_column(String(64))
    # Lent with a class set (services.desk): not the holder's own loan, not counted against them.
    class_set_id: Mapped[int | None] = mapped_column(ForeignKey("class_sets.id"), index=True)
    # Returned because the book was found on a shelf during this stocktake.
    found_in_stocktake: Mapped[int | None] = mapped_column(ForeignKey("stocktakes.id"))

    copy: Mapped[Copy | None] = relationship()
    patron: Mapped[Patron | None] = relationship()
    kiosk: Mapped[Kiosk | None] = relationship()


class ClassSet(Base):
    """Books lent together at the desk to a class's book corner (or a teacher's) until a date.

    Each book is a loan of the ledger to the holder, the teacher or student who took them.
    """

    __tablename__ = "class_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    class_name: Mapped[str] = mapped_column(default="")  # empty: the holder's own corner
    holder_id: Mapped[int] = mapped_column(ForeignKey("patrons.id"), index=True)
    due_date: Mapped[dt.date]
    lent_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    lent_by: Mapped[str] = mapped_column(String(64))  # the librarian
    note: Mapped[str] = mapped_column(default="")

    holder: Mapped[Patron] = relationship()


class Override(Base):
    """A refusal the librarian set aside at the desk, with her reason: the desk's log."""

    __tablename__ = "overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    librarian: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # "checkout" or "renew"
    refusal: Mapped[str] = mapped_column(String(32))  # the rule's refusal (kiosk.rules)
    reason: Mapped[str] = mapped_column(String(200))
    loan_id: Mapped[str] = mapped_column(String(36), index=True)
    patron_card: Mapped[str] = mapped_column(String(64))
    copy_code: Mapped[str] = mapped_column(String(64))


class Repair(Base):
    """A copy sent to be repaired: when and by whom, and when it came back (and as what)."""

    __tablename__ = "repairs"

    id: Mapped[int] = mapped_column(primary_key=True)
    copy_id: Mapped[int] = mapped_column(ForeignKey("copies.id"), index=True)
    sent_on: Mapped[dt.date]
    sent_by: Mapped[str] = mapped_column(String(64))
    back_on: Mapped[dt.date | None] = mapped_column(index=True)
    back_by: Mapped[str | None] = mapped_column(String(64))
    # Its status when it came back: available (repaired), or withdrawn, damaged, lost...
    came_back_as: Mapped[str | None] = mapped_column(String(16))

    copy: Mapped[Copy] = relationship()


class Compensation(Base):
    """What a reader owes for a book damaged or lost, and when it was settled."""

    __tablename__ = "compensations"

    id: Mapped[int] = mapped_column(primary_key=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patrons.id"), index=True)
    copy_id: Mapped[int] = mapped_column(ForeignKey("copies.id"), index=True)
    reason: Mapped[str] = mapped_column(String(16))  # "damaged" or "lost"
    amount_cents: Mapped[int]
    note: Mapped[str] = mapped_column(String(200), default="")
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[str] = mapped_column(String(64))  # the librarian
    # The loan of a lost book that the compensation ended (the book will not come back).
    loan_id: Mapped[str | None] = mapped_column(String(36))
    settled_on: Mapped[dt.date | None] = mapped_column(index=True)
    settled_by: Mapped[str | None] = mapped_column(String(64))
    # Recorded by mistake: no longer owed, kept with who cancelled it, when and why.
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(64))
    cancel_reason: Mapped[str | None] = mapped_column(String(200))

    patron: Mapped[Patron] = relationship()
    copy: Mapped[Copy] = relationship()


class Conflict(Base):
    """Something the kiosks reported that did not fit the office's records; resolved, listed."""

    __tablename__ = "conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    event_uuid: Mapped[str] = mapped_column(String(36), index=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"))
    copy_code: Mapped[str | None] = mapped_column(String(64))
    loan_id: Mapped[str | None] = mapped_column(String(36))
    detail: Mapped[str]
    found_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # Resolved: looked into by a librarian, with what she found or did; then off the list.
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500))


class Change(Base):
    """What kiosks pull: the latest state of each changed row, in the order of change.

    One row per (kind, key): a newer change replaces the older one, so a fresh kiosk pulls
    each row once. Versions only grow (AUTOINCREMENT on SQLite, a sequence on PostgreSQL,
    and writers serialised), so a cursor never skips a change.
    """

    __tablename__ = "changes"
    __table_args__ = (UniqueConstraint("kind", "key"), {"sqlite_autoincrement": True})

    version: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Stocktake(Base):
    """A count of the books on the shelves: started by the librarian, counted by kiosks and the
    desk, closed with its result kept as a dated record."""

    __tablename__ = "stocktakes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    # What is counted: these shelves (none: every shelf), of these classifications (the start
    # of a classification, as 'I' for I247; none: every one).
    shelves: Mapped[list[str]] = mapped_column(JSON)
    classifications: Mapped[list[str]] = mapped_column(JSON)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    started_by: Mapped[str] = mapped_column(String(64))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    not_seen: Mapped[str | None] = mapped_column(String(16))  # "missing" or "keep", at closing
    counts: Mapped[dict[str, int] | None] = mapped_column(JSON)  # the result, at closing


class StocktakeScan(Base):
    """A code scanned on a shelf, by a kiosk (its event) or at the desk: every scan is kept, a
    copy scanned twice is counted once."""

    __tablename__ = "stocktake_scans"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktakes.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    copy_id: Mapped[int | None] = mapped_column(ForeignKey("copies.id"))  # None: not known
    shelf: Mapped[str] = mapped_column(String(64))
    # The copy's status at the office when the scan was applied (on loan, lost, withdrawn...).
    status: Mapped[str | None] = mapped_column(String(16))
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"))  # None: the desk
    by: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    late: Mapped[bool] = mapped_column(default=False)  # applied after the stocktake was closed


class StocktakeFinding(Base):
    """One line of a closed stocktake's result, as it was on the day it was closed."""

    __tablename__ = "stocktake_findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktakes.id"), index=True)
    # not_seen, wrong_shelf, found_lost, found_withdrawn, returned (was on loan), unknown
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64))
    copy_id: Mapped[int | None] = mapped_column(ForeignKey("copies.id"))  # None: not known
    title: Mapped[str] = mapped_column(default="")
    shelf: Mapped[str] = mapped_column(default="")  # where the records put it
    seen_on: Mapped[str] = mapped_column(default="")  # where it was scanned
    status: Mapped[str] = mapped_column(String(16), default="")
    # The last loan of the copy: who had it, and when it was lent and returned.
    reader: Mapped[str] = mapped_column(default="")
    lent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    returned_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Librarian(Base):
    """Someone who signs in to the office's pages (kiosks have tokens, not accounts)."""

    __tablename__ = "librarians"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # what she types to sign in
    password_hash: Mapped[str]  # argon2
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("librarians.id"))


class LibrarianSession(Base):
    """A signed-in browser: its cookie's hash, its CSRF token and when it ends."""

    __tablename__ = "librarian_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    librarian_id: Mapped[int] = mapped_column(ForeignKey("librarians.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    librarian: Mapped[Librarian] = relationship()
