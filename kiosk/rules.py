"""Circulation rules: lending, returning and renewing, as functions of the store.

Each function works inside the caller's write transaction and writes its event to the outbox
there too, so a change and its event are committed together or not at all. A refusal raises
:class:`Refused` before anything is changed.

The rules themselves (what may be lent to whom, for how long, renewed how often) are the
functions under "the rules", over plain facts: a :class:`Standing` of the patron, a copy's
status, a :class:`PolicyFacts`. The kiosk gathers those facts from its own store; the
office's desk (sync.server.services.desk) gathers them from the office's records and asks the
same functions, so a loan at the desk follows the kiosks' rules without a copy of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

from sqlalchemy import Update, func, select, update
from sqlalchemy.orm import Session

from kiosk import outbox
from kiosk.clock import Moment
from kiosk.codes import is_isbn13
from kiosk.models import CopyStatus, Event, Loan, PatronKind, Policy, new_uuid, sql_time, utc_time
from kiosk.schedule import Schedule
from kiosk.store import Transaction
from sync import wire

# Used where the store has no policy for a kind of patron (kiosk.toml writes all of them).
DEFAULT_POLICIES: dict[PatronKind, dict[str, int | bool]] = {
    kind: dict(
        max_loans=most, loan_days=days, max_renewals=renewals, overdue_block_days=block,
        block_on_unsettled_compensation=True,
    )
    for kind, (most, days, renewals, block) in {
        PatronKind.STUDENT: (2, 14, 1, 7),
        PatronKind.HELPER: (3, 14, 1, 7),
        PatronKind.TEACHER: (10, 30, 2, 30),
        PatronKind.LIBRARIAN: (20, 30, 3, 60),
    }.items()
}  # fmt: skip

# The longest loan a school could mean. kiosk.toml and the office's rules are checked against
# it; a policy that reached the store some other way (an older office) is held to it as well.
MAX_LOAN_DAYS = 365

NOT_FOR_LOAN = {
    CopyStatus.REFERENCE,
    CopyStatus.DAMAGED,
    CopyStatus.IN_REPAIR,
    CopyStatus.LOST,
    CopyStatus.WITHDRAWN,
}


class Refused(Exception):
    """A rule says no. ``reason`` is one of the refusal names of DESIGN.md."""

    def __init__(self, reason: str, **detail: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Lent:
    loan: str  # the new loan's id
    due_date: dt.date
    override_by: str | None  # the small librarian who allowed it over the limit
    implicitly_returned: OpenLoan | None  # someone else's loan of this copy, closed without a scan
    may_borrow: int  # how many more the patron may take now


@dataclass(frozen=True)
class Holding:
    """A book a patron has now, as the rules weigh it (and the session screen lists it)."""

    copy: str  # what is scanned for it (Copy.code)
    title: str
    due_date: dt.date
    lent_at: dt.datetime
    lost: bool  # marked lost: the patron owes it


@dataclass(frozen=True)
class Standing:
    """What the rules weigh of a patron before lending, from a kiosk's store or the office's.

    A new reason to refuse a patron is a field here, filled by both (:func:`standing` and the
    desk), and a check in :func:`refuse_patron`.
    """

    active: bool
    holding: tuple[Holding, ...]
    compensation_due: bool = False  # owes for a book damaged or lost, not settled yet


# -- the kiosk's records, as a scan reads them ---------------------------------------------
#
# A scan is answered with a few plain statements on the store's connection (a Transaction),
# which read patrons, copies and loans as the plain values below: a child in the queue waits
# on the disk, not on building objects.


@dataclass(frozen=True, slots=True)
class PatronFacts:
    """A patron of this kiosk, as a scan reads them."""

    id: int
    card: str
    name: str
    kind: PatronKind
    class_name: str
    grade: int | None
    active: bool
    pin_hash: str | None
    locked_until: dt.datetime | None
    compensation_due: bool

    COLUMNS: ClassVar[str] = (
        "{0}.id, {0}.card, {0}.name, {0}.kind, {0}.class_name, {0}.grade, {0}.active,"
        " {0}.pin_hash, {0}.locked_until, {0}.compensation_due"
    )

    @classmethod
    def of(cls, row: Sequence[Any]) -> PatronFacts | None:
        if row[0] is None:
            return None
        locked = row[8] and utc_time(row[8])
        return cls(
            *row[:3], PatronKind(row[3]), *row[4:6], bool(row[6]), row[7], locked, bool(row[9])
        )


@dataclass(frozen=True, slots=True)
class CopyFacts:
    """A copy of this kiosk, as a scan reads it, with its title."""

    id: int
    code: str  # what is scanned for it: its label, or its title's ISBN (Copy.code)
    status: CopyStatus
    shelf: str
    title: str

    COLUMNS: ClassVar[str] = (
        "c.id, coalesce(c.barcode, t.isbn, '#' || c.id), c.status, c.shelf, t.title"
    )

    @classmethod
    def of(cls, row: Sequence[Any]) -> CopyFacts | None:
        if row[0] is None:
            return None
        return cls(row[0], row[1], CopyStatus(row[2]), row[3], row[4])


@dataclass(frozen=True, slots=True)
class OpenLoan:
    """A loan not returned yet, as a scan reads it, with what it needs of its patron."""

    id: str
    copy_id: int
    patron_id: int | None
    patron_card: str | None
    patron_kind: PatronKind | None
    lent_at: dt.datetime
    due_date: dt.date
    renewals: int

    COLUMNS: ClassVar[str] = (
        "l.id, l.copy_id, l.patron_id, h.card, h.kind, l.lent_at, l.due_date, l.renewals"
    )

    @classmethod
    def of(cls, row: Sequence[Any]) -> OpenLoan | None:
        if row[0] is None:
            return None
        kind = row[4] and PatronKind(row[4])
        lent, due = utc_time(row[5]), dt.date.fromisoformat(row[6])
        return cls(*row[:4], kind, lent, due, row[7])


@dataclass(frozen=True, slots=True)
class PolicyFacts:
    """The circulation rules for one kind of patron (a :class:`~kiosk.models.Policy`), as the
    rules weigh them: kept by the kiosk's engine between scans, made by the office's desk from
    its rules."""

    patron_kind: PatronKind
    max_loans: int
    loan_days: int
    max_renewals: int
    overdue_block_days: int  # a loan this many days overdue blocks new loans
    block_on_unsettled_compensation: bool = True

    @classmethod
    def of(cls, policy: Policy) -> PolicyFacts:
        return cls(*(getattr(policy, f.name) for f in fields(cls)))


def standing(patron: PatronFacts, holding: Sequence[Holding]) -> Standing:
    """The patron's standing at this kiosk, from the books they have now and what the office
    said of them."""
    return Standing(patron.active, tuple(holding), bool(patron.compensation_due))


_COPY_AND_LOAN = f"""
    SELECT {CopyFacts.COLUMNS}, {OpenLoan.COLUMNS}
    FROM copies AS c JOIN titles AS t ON t.id = c.title_id
    LEFT JOIN loans AS l ON l.copy_id = c.id AND l.returned_at IS NULL
    LEFT JOIN patrons AS h ON h.id = l.patron_id
"""
_COPY_COLUMNS = len(fields(CopyFacts))
# What a code is, in one statement: the patron with this card, the copy with this label with
# its title and open loan, and the patron at the kiosk (the second parameter).
_LOOK_UP = f"""
    SELECT {PatronFacts.COLUMNS.format("p")}, {CopyFacts.COLUMNS}, {OpenLoan.COLUMNS},
        {PatronFacts.COLUMNS.format("v")}
    FROM (SELECT ? AS code) AS asked
    LEFT JOIN patrons AS p ON p.card = asked.code
    LEFT JOIN copies AS c ON c.barcode = asked.code
    LEFT JOIN titles AS t ON t.id = c.title_id
    LEFT JOIN loans AS l ON l.copy_id = c.id AND l.returned_at IS NULL
    LEFT JOIN patrons AS h ON h.id = l.patron_id
    LEFT JOIN patrons AS v ON v.id = ?
"""
_PATRON_COLUMNS = len(fields(PatronFacts))
_FIND_PATRON = f"SELECT {PatronFacts.COLUMNS.format('p')} FROM patrons AS p WHERE p.{{}} = ?"
_OPEN_LOAN = f"""
    SELECT {OpenLoan.COLUMNS} FROM loans AS l LEFT JOIN patrons AS h ON h.id = l.patron_id
    WHERE l.copy_id = ? AND l.returned_at IS NULL
"""
_LOANS_OF = """
    SELECT coalesce(c.barcode, t.isbn, '#' || c.id), t.title, l.due_date, l.lent_at,
        c.status = 'lost'
    FROM loans AS l JOIN copies AS c ON c.id = l.copy_id JOIN titles AS t ON t.id = c.title_id
    WHERE l.patron_id = ? AND l.returned_at IS NULL
    ORDER BY l.due_date, l.lent_at
"""
_LEND = """
    INSERT INTO loans (id, copy_id, patron_id, patron_class, patron_grade, lent_at, due_date,
        returned_at, renewals, lent_where, implicit_return, override_by)
    VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 0, ?, 0, ?)
"""
_COPY_STATUS = "UPDATE copies SET status = ? WHERE id = ?"
_LOAN_CLOSED = "UPDATE loans SET returned_at = ?, implicit_return = ? WHERE id = ?"


# -- looking things up -------------------------------------------------------------------


def policy_for(tx: Transaction, kind: PatronKind) -> PolicyFacts:
    known = tx.info.get("policies", {})
    if kind in known:  # the engine's memory, or this transaction's earlier lookup
        return known[kind]
    stored = tx.session.get(Policy, kind)
    if stored is None:
        kind = PatronKind(kind)
        policy = PolicyFacts(kind, **DEFAULT_POLICIES[kind])  # type: ignore[arg-type]
    else:
        policy = PolicyFacts.of(stored)
    tx.info.setdefault("policies", {})[kind] = policy
    return policy


def find_patron(tx: Transaction, card: str) -> PatronFacts | None:
    return _patron(tx, "card", card)


def patron_of(tx: Transaction, patron_id: int) -> PatronFacts | None:
    """The patron with this id (the one at the kiosk): looked up already in this scan, or read."""
    known = _known(tx, "patrons")
    if patron_id not in known:
        known[patron_id] = _patron(tx, "id", patron_id)
    return known[patron_id]


def _patron(tx: Transaction, column: str, value: object) -> PatronFacts | None:
    row = tx.execute(_FIND_PATRON.format(column), (value,)).fetchone()
    return None if row is None else PatronFacts.of(row)


def look_up(tx: Transaction, code: str, *, also: int | None = None) -> PatronFacts | None:
    """What a scanned *code* is, in one statement: the patron with this card, returned, and
    the copy with this label with its title and open loan, and the patron *also* (the student
    at the kiosk), for the rest of the scan to find without asking again (:func:`find_copy`,
    :func:`open_loan`, :func:`patron_of`)."""
    row = tx.execute(_LOOK_UP, (code, also)).fetchone()
    patron = PatronFacts.of(row[:_PATRON_COLUMNS])
    copy = CopyFacts.of(row[_PATRON_COLUMNS:])
    _known(tx, "copies")[code] = copy
    if copy is not None:
        _known(tx, "open_loans")[copy.id] = OpenLoan.of(row[_PATRON_COLUMNS + _COPY_COLUMNS :])
    if also is not None:
        _known(tx, "patrons")[also] = PatronFacts.of(row[-_PATRON_COLUMNS:])
    return patron


def find_copy(tx: Transaction, barcode: str) -> CopyFacts | None:
    """The copy with this label, read with its title and open loan in one statement (the rest
    of the scan finds them without asking again)."""
    known = _known(tx, "copies")
    if barcode not in known:
        known[barcode] = _copy(tx, "WHERE c.barcode = ?", barcode)
    return known[barcode]


def copy_of(tx: Transaction, copy_id: int) -> CopyFacts | None:
    """The copy with this id, with its title and open loan."""
    return _copy(tx, "WHERE c.id = ?", copy_id)


def _copy(tx: Transaction, where: str, value: object) -> CopyFacts | None:
    row = tx.execute(_COPY_AND_LOAN + where, (value,)).fetchone()
    if row is None:
        return None
    copy = CopyFacts.of(row)
    assert copy is not None
    _known(tx, "open_loans")[copy.id] = OpenLoan.of(row[_COPY_COLUMNS:])
    return copy


def lent_copy(tx: Transaction, loan_id: str) -> CopyFacts | None:
    """The copy this loan lent, while the loan is open (None once it is returned)."""
    return _copy(tx, "WHERE l.id = ?", loan_id)


def unlabelled_copies(tx: Transaction, isbn: str) -> list[CopyFacts]:
    """Copies of the title with this ISBN that carry no label of their own."""
    if not is_isbn13(isbn):
        return []
    rows = tx.execute(
        _COPY_AND_LOAN + "WHERE t.isbn = ? AND c.barcode IS NULL ORDER BY c.id", (isbn,)
    )
    loans = _known(tx, "open_loans")
    copies = []
    for row in rows.fetchall():
        copy = CopyFacts.of(row)
        assert copy is not None
        loans[copy.id] = OpenLoan.of(row[_COPY_COLUMNS:])
        copies.append(copy)
    return copies


def title_with_isbn(tx: Transaction, isbn: str) -> str | None:
    """The title of the book with this ISBN, if the library has it."""
    row = tx.execute("SELECT title FROM titles WHERE isbn = ? LIMIT 1", (isbn,)).fetchone()
    return None if row is None else row[0]


def open_loan(tx: Transaction, copy: CopyFacts) -> OpenLoan | None:
    known = _known(tx, "open_loans")
    if copy.id not in known:
        known[copy.id] = OpenLoan.of(tx.execute(_OPEN_LOAN, (copy.id,)).fetchone() or (None,))
    return known[copy.id]


def _known(tx: Transaction, what: str) -> dict[Any, Any]:
    """The copies, open loans and patrons this transaction has looked at (kept up to date by
    the functions here that change them)."""
    return tx.info.setdefault(what, {})


def _set_status(tx: Transaction, copy: CopyFacts, status: CopyStatus) -> CopyFacts:
    """Write the copy's new status; what this transaction knows of it follows."""
    tx.execute(_COPY_STATUS, (status, copy.id))
    changed = replace(copy, status=status)
    known = _known(tx, "copies")
    if (held := known.get(copy.code)) is not None and held.id == copy.id:
        known[copy.code] = changed
    return changed


def loans_of(tx: Transaction, patron: PatronFacts) -> list[Holding]:
    """The patron's current loans, soonest due first."""
    rows = tx.execute(_LOANS_OF, (patron.id,)).fetchall()
    return [
        Holding(code, title, dt.date.fromisoformat(due), utc_time(lent), bool(lost))
        for code, title, due, lent, lost in rows
    ]


def overdue_days(loan: OpenLoan | Holding | Loan, today: dt.date | None) -> int:
    """Days *loan* is late on *today* (any loan with a ``due_date``: a kiosk's or the office's);
    none when the day is not known (None: a kiosk clock that is wrong tells no lateness)."""
    if today is None:
        return 0
    return max(0, (today - loan.due_date).days)


def first_to_bring_back(holding: Sequence[Holding]) -> str | None:
    """The title of the loan to bring back first: the one due first (the latest, if late)."""
    if not holding:
        return None
    return min(holding, key=lambda h: (h.due_date, h.lent_at)).title


def may_borrow(tx: Transaction, patron: PatronFacts, loans: list[Holding] | None = None) -> int:
    """How many more books the patron may take before reaching the limit."""
    if loans is None:
        loans = loans_of(tx, patron)
    return max(0, policy_for(tx, patron.kind).max_loans - len(loans))


def due_date(schedule: Schedule, policy: PolicyFacts, today: dt.date) -> dt.date:
    """Loan days after *today*, moved forward to the next day the library is open."""
    days = min(max(policy.loan_days, 1), MAX_LOAN_DAYS)
    return schedule.next_open_day(today + dt.timedelta(days=days))


# -- checks ----------------------------------------------------------------------------


def check_clock(moment: Moment) -> None:
    """Refuse to lend by a clock that is wrong: its due dates and lateness would be too."""
    if moment.clock == "wrong":
        raise Refused("clock_wrong")


def check_open(schedule: Schedule, patron: PatronFacts, moment: Moment) -> None:
    """Refuse unless the library is open now for this patron's grade.

    The refusal says when the library next opens for the patron (``opens``, local time, or
    None when the timetable has no opening for them), so the child knows when to come back.
    """
    check_clock(moment)
    windows = schedule.windows_at(moment.local)
    grade = patron.grade if patron.kind in (PatronKind.STUDENT, PatronKind.HELPER) else None
    if not windows:
        raise Refused("closed", opens=schedule.next_opening(moment.local, grade))
    if not any(w.admits(grade) for w in windows):
        raise Refused("not_your_grade_today", opens=schedule.next_opening(moment.local, grade))


def check_patron(
    tx: Transaction, patron: PatronFacts, moment: Moment, loans: list[Holding] | None = None
) -> list[Holding]:
    """Refuse a loan to a patron who is inactive or blocked (see :func:`refuse_patron`).

    Returns the patron's current loans (*loans*, if the caller has them already).
    """
    if loans is None:
        loans = loans_of(tx, patron)
    refuse_patron(standing(patron, loans), policy_for(tx, patron.kind), moment.known_today)
    return loans


# -- the rules, over plain facts (the kiosk's and the office's desk's) --------------------------


def refuse_copy(status: str, *, theirs: bool) -> None:
    """Refuse a copy the patron has already, or one not for loan (reference, in repair, lost...)."""
    if theirs:
        raise Refused("already_yours")
    if status in NOT_FOR_LOAN:
        raise Refused("not_for_loan", status=status)


def refuse_patron(patron: Standing, policy: PolicyFacts, today: dt.date | None) -> None:
    """Refuse a loan to a patron who is inactive, blocked by lost or long-overdue books, or
    (if the policy says so) by compensation not settled."""
    if not patron.active:
        raise Refused("patron_inactive")
    lost = [h for h in patron.holding if h.lost]
    if lost:
        raise Refused("lost_block", titles=[h.title for h in lost])
    if patron.compensation_due and policy.block_on_unsettled_compensation:
        raise Refused("compensation_block")
    block_after = policy.overdue_block_days
    overdue = [
        h
        for h in patron.holding
        if overdue_days(h, today) > 0 and overdue_days(h, today) >= block_after
    ]
    if overdue:
        raise Refused("overdue_block", titles=[h.title for h in overdue])


def limit_refusal(patron: Standing, policy: PolicyFacts) -> Refused | None:
    """The refusal of one more loan to a patron at the limit, or None below it.

    Returned, not raised: a small librarian at a kiosk, or the librarian at the desk, may set
    it aside.
    """
    if len(patron.holding) < policy.max_loans:
        return None
    return Refused(
        "limit_reached",
        max_loans=policy.max_loans,
        bring_back=first_to_bring_back(patron.holding),
    )


def renewal_due(
    loan: Holding, renewals: int, policy: PolicyFacts, schedule: Schedule, today: dt.date
) -> dt.date:
    """The due date a renewal on *today* would give a loan renewed *renewals* times so far.

    A late book is brought back, not renewed; a renewal that would not move the date (on the
    day of the loan) is refused before it uses up one of the patron's renewals.
    """
    if overdue_days(loan, today) > 0:
        raise Refused("renew_late", late_days=overdue_days(loan, today))
    if renewals >= policy.max_renewals:
        raise Refused("max_renewals", max_renewals=policy.max_renewals)
    new_due = due_date(schedule, policy, today)
    if new_due <= loan.due_date:
        raise Refused("renew_not_needed")
    return new_due


# -- lending, returning, renewing --------------------------------------------------------


def checkout(
    tx: Transaction,
    moment: Moment,
    schedule: Schedule,
    patron: PatronFacts,
    copy: CopyFacts,
    *,
    where: str,
    override_by: str | None = None,
) -> Lent:
    """Lend *copy* to *patron*, or raise Refused.

    *override_by* is the card of a small librarian who allows a loan over the limit.
    """
    current = open_loan(tx, copy)
    refuse_copy(copy.status, theirs=current is not None and current.patron_id == patron.id)
    check_open(schedule, patron, moment)
    loans = check_patron(tx, patron, moment)
    policy = policy_for(tx, patron.kind)
    at_limit = limit_refusal(standing(patron, loans), policy)
    over_limit = at_limit is not None
    if at_limit is not None and override_by is None:
        raise at_limit

    implicit = None
    if current is not None:
        # The book is in this student's hands: it was returned without a scan.
        implicit = _close(tx, moment, copy, current, implicit=True)

    loan, due = new_uuid(), due_date(schedule, policy, moment.today)
    allowed_by = override_by if over_limit else None
    who = (patron.id, patron.class_name, patron.grade)
    when = (moment.stored, due.isoformat())
    tx.execute(_LEND, (loan, copy.id, *who, *when, where, allowed_by))
    tx.execute(_COPY_STATUS, (CopyStatus.ON_LOAN, copy.id))
    _known(tx, "copies").pop(copy.code, None)  # read again if this transaction asks
    _known(tx, "open_loans").pop(copy.id, None)
    outbox.append(
        tx,
        moment,
        wire.Checkout,
        loan=loan,
        copy=copy.code,
        patron=patron.card,
        due=due,
        where=where,
        override_by=allowed_by,
    )
    return Lent(loan, due, allowed_by, implicit, max(0, policy.max_loans - len(loans) - 1))


def return_copy(
    tx: Transaction,
    moment: Moment,
    copy: CopyFacts,
    *,
    by: str | None = None,
    stocktake: int | None = None,
) -> OpenLoan:
    """Take *copy* back (at any time, open or closed); raise Refused if it is not on loan.

    *by*: the card of the small librarian taking in a pile of returns, for the record;
    *stocktake*: the stocktake during which the book was found on a shelf.
    """
    loan = open_loan(tx, copy)
    if loan is None:
        raise Refused("not_on_loan")
    return _close(tx, moment, copy, loan, implicit=False, by=by, stocktake=stocktake)


def _close(
    tx: Transaction,
    moment: Moment,
    copy: CopyFacts,
    loan: OpenLoan,
    *,
    implicit: bool,
    by: str | None = None,
    stocktake: int | None = None,
) -> OpenLoan:
    tx.execute(_LOAN_CLOSED, (moment.stored, implicit, loan.id))
    _known(tx, "open_loans")[copy.id] = None
    if copy.status in (CopyStatus.ON_LOAN, CopyStatus.LOST):
        _set_status(tx, copy, CopyStatus.AVAILABLE)  # a lost book that comes back is found
    returned = wire.ImplicitReturn if implicit else wire.Return
    outbox.append(
        tx,
        moment,
        returned,
        loan=loan.id,
        copy=copy.code,
        patron=loan.patron_card,
        late_days=overdue_days(loan, moment.known_today),
        by=by,
        stocktake=stocktake,
    )
    return loan


def undo_checkout(tx: Transaction, moment: Moment, copy: CopyFacts, loan: OpenLoan) -> None:
    """Take back a loan made by mistake a moment ago ("not this book")."""
    tx.execute("UPDATE loans SET returned_at = ? WHERE id = ?", (moment.stored, loan.id))
    _known(tx, "open_loans")[copy.id] = None
    _set_status(tx, copy, CopyStatus.AVAILABLE)
    outbox.append(tx, moment, wire.CheckoutUndone, loan=loan.id, copy=copy.code)


def check_renew(
    tx: Transaction, moment: Moment, schedule: Schedule, copy: CopyFacts, loan: OpenLoan
) -> dt.date:
    """The due date a renewal now would give *loan*, or raise Refused (see :func:`renewal_due`)."""
    assert loan.patron_kind is not None, "only a current loan can be renewed"
    check_clock(moment)
    policy = policy_for(tx, loan.patron_kind)
    holding = Holding(
        copy.code, copy.title, loan.due_date, loan.lent_at, copy.status == CopyStatus.LOST
    )
    return renewal_due(holding, loan.renewals, policy, schedule, moment.today)


def renew(
    tx: Transaction, moment: Moment, schedule: Schedule, copy: CopyFacts, loan: OpenLoan
) -> dt.date:
    """Give *loan* a new due date, returned, or raise Refused (see :func:`check_renew`)."""
    new_due = check_renew(tx, moment, schedule, copy, loan)
    tx.execute(
        "UPDATE loans SET renewals = renewals + 1, due_date = ? WHERE id = ?",
        (new_due.isoformat(), loan.id),
    )
    _known(tx, "open_loans").pop(copy.id, None)
    assert loan.patron_card is not None
    outbox.append(
        tx, moment, wire.Renew, loan=loan.id, copy=copy.code, patron=loan.patron_card, due=new_due
    )
    return new_due


def mark_copy(
    tx: Transaction, moment: Moment, copy: CopyFacts, status: CopyStatus, *, by: str
) -> OpenLoan | None:
    """A small librarian marks a copy damaged or lost (or back available).

    A damaged copy handed in is returned first; a lost copy's loan stays open, since the
    patron still owes the book.
    """
    returned = None
    loan = open_loan(tx, copy)
    if loan is not None and status != CopyStatus.LOST:
        returned = _close(tx, moment, copy, loan, implicit=False)
    _set_status(tx, copy, status)
    outbox.append(tx, moment, wire.CopyStatusSet, copy=copy.code, status=status, by=by)
    return returned


# -- privacy -----------------------------------------------------------------------------


def forget_returned(tx: Transaction, *, returned_before: dt.datetime) -> int:
    """Unlink loans returned before *returned_before* from their patrons (a standalone kiosk's
    privacy: nobody asks for them after a while); class and grade stay for the league counts.

    Only loans still linked are looked at, through an index of those alone: at the end of
    every session this costs next to nothing, however long the kiosk's history.
    """
    forgotten = tx.execute(
        "UPDATE loans SET patron_id = NULL WHERE patron_id IS NOT NULL"
        " AND returned_at IS NOT NULL AND returned_at < ?",
        (sql_time(returned_before),),
    )
    return forgotten.rowcount


def forget_acknowledged(session: Session, after_seq: int, up_to_seq: int) -> int:
    """Unlink the loans whose return the office has just acknowledged (the events after
    *after_seq* up to *up_to_seq*): a kiosk that syncs keeps no reading record the office holds."""
    returned = select(Event.payload["loan"].as_string()).where(
        Event.seq > after_seq,
        Event.seq <= up_to_seq,
        Event.type.in_((wire.Return.event_type, wire.ImplicitReturn.event_type)),
    )
    forget = update(Loan).where(
        Loan.patron_id.is_not(None), Loan.returned_at.is_not(None), Loan.id.in_(returned)
    )
    return _unlink(session, forget)


def _unlink(session: Session, forget: Update) -> int:
    # One statement; loans this session holds are updated too ("fetch": their ids come back).
    result = session.execute(
        forget.values(patron_id=None).execution_options(synchronize_session="fetch")
    )
    return result.rowcount


def loans_out(session: Session) -> int:
    return session.scalar(select(func.count()).where(Loan.returned_at.is_(None))) or 0
