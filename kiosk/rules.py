"""Circulation rules: lending, returning and renewing, as functions of the store.

Each function works inside the caller's write transaction and writes its event to the outbox
there too, so a change and its event are committed together or not at all. A refusal raises
:class:`Refused` before anything is changed.

The rules themselves (what may be lent to whom, for how long, renewed how often) are the
functions under "the rules", over plain facts: a :class:`Standing` of the patron, a copy's
status, a :class:`~kiosk.models.Policy`. The kiosk gathers those facts from its own store; the
office's desk (sync.server.services.desk) gathers them from the office's records and asks the
same functions, so a loan at the desk follows the kiosks' rules without a copy of them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, Update, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, aliased, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from kiosk import outbox
from kiosk.clock import Moment
from kiosk.codes import is_isbn13
from kiosk.models import Copy, CopyStatus, Event, Loan, Patron, PatronKind, Policy, Title
from kiosk.schedule import Schedule
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
    implicitly_returned: Loan | None  # someone else's loan of this copy, closed without a scan
    may_borrow: int  # how many more the patron may take now


@dataclass(frozen=True)
class Holding:
    """A book a patron has now, as the rules weigh it (and the session screen lists it)."""

    copy: str  # what is scanned for it (Copy.code)
    title: str
    due_date: dt.date
    lent_at: dt.datetime
    lost: bool  # marked lost: the patron owes it

    @classmethod
    def of(cls, loan: Loan) -> Holding:
        copy = loan.copy
        return cls(
            copy.code, copy.title.title, loan.due_date, loan.lent_at, copy.status == CopyStatus.LOST
        )


@dataclass(frozen=True)
class Standing:
    """What the rules weigh of a patron before lending, from a kiosk's store or the office's.

    A new reason to refuse a patron is a field here, filled by both (:func:`standing` and the
    desk), and a check in :func:`refuse_patron`.
    """

    active: bool
    holding: tuple[Holding, ...]
    compensation_due: bool = False  # owes for a book damaged or lost, not settled yet


def standing(patron: Patron, holding: Sequence[Holding]) -> Standing:
    """The patron's standing at this kiosk, from the books they have now and what the office
    said of them."""
    return Standing(patron.active, tuple(holding), bool(patron.compensation_due))


# -- looking things up -------------------------------------------------------------------


def policy_for(session: Session, kind: PatronKind) -> Policy:
    known = session.info.get("policies", {})
    if kind in known:  # the engine's memory, or this transaction's earlier lookup
        return known[kind]
    policy = session.get(Policy, kind)
    if policy is None:
        return Policy(patron_kind=kind, **DEFAULT_POLICIES[PatronKind(kind)])
    # The session remembers loaded rows only while something refers to them; holding on to
    # the policy lets the next lookup in this transaction (a scan makes three) skip its query.
    session.info.setdefault("policies", {})[kind] = policy
    return policy


# The statements of a scan are built once: SQLAlchemy then reuses their compiled form, and a
# scan spends its time on the disk, not on building queries.
_holder, _visitor = aliased(Patron), aliased(Patron)
_loans, _copies, _titles = Loan.__table__, Copy.__table__, Title.__table__
_asked = select(bindparam("code", type_=String).label("code")).subquery()
_LOOK_UP = (
    select(Patron, Copy, Title, Loan, _holder, _visitor)
    .select_from(_asked)
    .outerjoin(Patron, Patron.card == _asked.c.code)
    .outerjoin(Copy, Copy.barcode == _asked.c.code)
    .outerjoin(Title, Title.id == Copy.title_id)
    .outerjoin(Loan, (Loan.copy_id == Copy.id) & Loan.returned_at.is_(None))
    .outerjoin(_holder, _holder.id == Loan.patron_id)
    .outerjoin(_visitor, _visitor.id == bindparam("also"))
)
_FIND_PATRON = select(Patron).where(Patron.card == bindparam("card"))
_FIND_COPY = (
    select(Copy, Loan, Patron)
    .options(joinedload(Copy.title))
    .outerjoin(Loan, (Loan.copy_id == Copy.id) & Loan.returned_at.is_(None))
    .outerjoin(Patron, Patron.id == Loan.patron_id)
    .where(Copy.barcode == bindparam("barcode"))
)
_OPEN_LOAN = select(Loan).where(Loan.copy_id == bindparam("copy"), Loan.returned_at.is_(None))
_LEND = insert(Loan.__table__)
_COPY_LENT = (
    update(Copy.__table__)
    .where(Copy.__table__.c.id == bindparam("copy"))
    .values(status=bindparam("lent_status"), last_borrowed=bindparam("lent_on"))
)
_LOAN_CLOSED = (
    update(Loan.__table__)
    .where(Loan.__table__.c.id == bindparam("loan"))
    .values(returned_at=bindparam("back_at"), implicit_return=bindparam("implicit"))
)
_COPY_STATUS = (
    update(Copy.__table__)
    .where(Copy.__table__.c.id == bindparam("copy"))
    .values(status=bindparam("new_status"))
)
_LOANS_OF = (
    select(
        func.coalesce(_copies.c.barcode, _titles.c.isbn, "#" + _copies.c.id.cast(String)),
        _titles.c.title,
        _loans.c.due_date,
        _loans.c.lent_at,
        _copies.c.status == CopyStatus.LOST,
    )
    .join(_copies, _copies.c.id == _loans.c.copy_id)
    .join(_titles, _titles.c.id == _copies.c.title_id)
    .where(_loans.c.patron_id == bindparam("patron"), _loans.c.returned_at.is_(None))
    .order_by(_loans.c.due_date, _loans.c.lent_at)
)


def find_patron(session: Session, card: str) -> Patron | None:
    return session.scalar(_FIND_PATRON, {"card": card})


def look_up(session: Session, code: str, *, also: int | None = None) -> Patron | None:
    """What a scanned *code* is, in one query: the patron with this card, returned, and the
    copy with this label with its title, open loan and that loan's patron, and the patron
    *also* (the student at the kiosk), for the rest of the scan to find without asking again
    (:func:`find_copy`, :func:`open_loan`, ``session.get``)."""
    row = session.execute(_LOOK_UP, {"code": code, "also": also}).one()
    session.info.setdefault("held", []).extend(row)  # the session's map is weak
    patron, copy, _title, loan, _holder, _visitor = row
    session.info.setdefault("copies", {})[code] = copy
    if copy is not None:
        _open_loans(session)[copy.id] = loan
    return patron


def find_copy(session: Session, barcode: str) -> Copy | None:
    """The copy with this label, read with its title, its open loan and that loan's patron in
    one query (the rest of the scan finds them without asking again)."""
    known = session.info.get("copies", {})
    if barcode in known:  # looked up already in this scan
        return known[barcode]
    found = session.execute(_FIND_COPY, {"barcode": barcode}).first()
    if found is None:
        return None
    copy, loan, patron = found
    _open_loans(session)[copy.id] = loan
    session.info.setdefault("held", []).append(patron)  # the session's map is weak
    return copy


def unlabelled_copies(session: Session, isbn: str) -> list[Copy]:
    """Copies of the title with this ISBN that carry no label of their own."""
    if not is_isbn13(isbn):
        return []
    return list(
        session.scalars(
            select(Copy)
            .join(Title)
            .where(Title.isbn == isbn, Copy.barcode.is_(None))
            .order_by(Copy.id)
        )
    )


def open_loan(session: Session, copy: Copy) -> Loan | None:
    known = _open_loans(session)
    if copy.id not in known:
        known[copy.id] = session.scalar(_OPEN_LOAN, {"copy": copy.id})
    return known[copy.id]


def _open_loans(session: Session) -> dict[int, Loan | None]:
    """The open loan of each copy this transaction has looked at (kept up to date by the
    functions here that open and close loans)."""
    return session.info.setdefault("open_loans", {})


def loans_of(session: Session, patron: Patron) -> list[Holding]:
    """The patron's current loans, soonest due first: plain facts, read by one statement
    without the ORM (a card scan and a checkout each ask)."""
    rows = session.connection().execute(_LOANS_OF, {"patron": patron.id})
    return [Holding(*row) for row in rows]


def overdue_days(loan: Loan | Holding, today: dt.date | None) -> int:
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


def may_borrow(session: Session, patron: Patron, loans: list[Holding] | None = None) -> int:
    """How many more books the patron may take before reaching the limit."""
    if loans is None:
        loans = loans_of(session, patron)
    return max(0, policy_for(session, patron.kind).max_loans - len(loans))


def due_date(schedule: Schedule, policy: Policy, today: dt.date) -> dt.date:
    """Loan days after *today*, moved forward to the next day the library is open."""
    days = min(max(policy.loan_days, 1), MAX_LOAN_DAYS)
    return schedule.next_open_day(today + dt.timedelta(days=days))


# -- checks ----------------------------------------------------------------------------


def check_clock(moment: Moment) -> None:
    """Refuse to lend by a clock that is wrong: its due dates and lateness would be too."""
    if moment.clock == "wrong":
        raise Refused("clock_wrong")


def check_open(schedule: Schedule, patron: Patron, moment: Moment) -> None:
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
    session: Session, patron: Patron, moment: Moment, loans: list[Holding] | None = None
) -> list[Holding]:
    """Refuse a loan to a patron who is inactive or blocked (see :func:`refuse_patron`).

    Returns the patron's current loans (*loans*, if the caller has them already).
    """
    if loans is None:
        loans = loans_of(session, patron)
    refuse_patron(standing(patron, loans), policy_for(session, patron.kind), moment.known_today)
    return loans


# -- the rules, over plain facts (the kiosk's and the office's desk's) --------------------------


def refuse_copy(status: str, *, theirs: bool) -> None:
    """Refuse a copy the patron has already, or one not for loan (reference, in repair, lost...)."""
    if theirs:
        raise Refused("already_yours")
    if status in NOT_FOR_LOAN:
        raise Refused("not_for_loan", status=status)


def refuse_patron(patron: Standing, policy: Policy, today: dt.date | None) -> None:
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


def limit_refusal(patron: Standing, policy: Policy) -> Refused | None:
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
    loan: Holding, renewals: int, policy: Policy, schedule: Schedule, today: dt.date
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
    session: Session,
    moment: Moment,
    schedule: Schedule,
    patron: Patron,
    copy: Copy,
    *,
    where: str,
    override_by: str | None = None,
) -> Lent:
    """Lend *copy* to *patron*, or raise Refused.

    *override_by* is the card of a small librarian who allows a loan over the limit.
    """
    current = open_loan(session, copy)
    refuse_copy(copy.status, theirs=current is not None and current.patron_id == patron.id)
    check_open(schedule, patron, moment)
    loans = check_patron(session, patron, moment)
    policy = policy_for(session, patron.kind)
    at_limit = limit_refusal(standing(patron, loans), policy)
    over_limit = at_limit is not None
    if at_limit is not None and override_by is None:
        raise at_limit

    implicit = None
    if current is not None:
        # The book is in this student's hands: it was returned without a scan.
        implicit = _close(session, moment, current, implicit=True)
        session.flush()  # written before the plain statements below lend the copy again

    # The loan is written with two plain statements rather than through the ORM's unit of
    # work: a checkout is the one write a queue of children waits on.
    loan, due = str(uuid.uuid4()), due_date(schedule, policy, moment.today)
    allowed_by = override_by if over_limit else None
    connection = session.connection()
    connection.execute(
        _LEND,
        dict(
            id=loan,
            copy_id=copy.id,
            patron_id=patron.id,
            patron_class=patron.class_name,
            patron_grade=patron.grade,
            lent_at=moment.at,
            due_date=due,
            lent_where=where,
            override_by=allowed_by,
        ),
    )
    connection.execute(
        _COPY_LENT,
        {"copy": copy.id, "lent_status": CopyStatus.ON_LOAN, "lent_on": moment.today},
    )
    # What the session holds of the copy follows what was written, without writing it again.
    set_committed_value(copy, "status", CopyStatus.ON_LOAN)
    set_committed_value(copy, "last_borrowed", moment.today)
    _open_loans(session).pop(copy.id, None)  # read again if this transaction asks
    outbox.append(
        session,
        moment,
        wire.Checkout(
            loan=loan,
            copy=copy.code,
            patron=patron.card,
            due=due,
            where=where,
            override_by=allowed_by,
        ),
    )
    return Lent(loan, due, allowed_by, implicit, max(0, policy.max_loans - len(loans) - 1))


def return_copy(
    session: Session,
    moment: Moment,
    copy: Copy,
    *,
    by: str | None = None,
    stocktake: int | None = None,
) -> Loan:
    """Take *copy* back (at any time, open or closed); raise Refused if it is not on loan.

    *by*: the card of the small librarian taking in a pile of returns, for the record;
    *stocktake*: the stocktake during which the book was found on a shelf.
    """
    loan = open_loan(session, copy)
    if loan is None:
        raise Refused("not_on_loan")
    return _close(session, moment, loan, implicit=False, by=by, stocktake=stocktake)


def _close(
    session: Session,
    moment: Moment,
    loan: Loan,
    *,
    implicit: bool,
    by: str | None = None,
    stocktake: int | None = None,
) -> Loan:
    # Written with plain statements, as a checkout is; the session's objects follow them.
    connection = session.connection()
    connection.execute(_LOAN_CLOSED, {"loan": loan.id, "back_at": moment.at, "implicit": implicit})
    set_committed_value(loan, "returned_at", moment.at)
    set_committed_value(loan, "implicit_return", implicit)
    _open_loans(session)[loan.copy_id] = None
    if loan.copy.status in (CopyStatus.ON_LOAN, CopyStatus.LOST):
        # A lost book that comes back is found.
        connection.execute(_COPY_STATUS, {"copy": loan.copy_id, "new_status": CopyStatus.AVAILABLE})
        set_committed_value(loan.copy, "status", CopyStatus.AVAILABLE)
    returned = wire.ImplicitReturn if implicit else wire.Return
    outbox.append(
        session,
        moment,
        returned(
            loan=loan.id,
            copy=loan.copy.code,
            patron=loan.patron.card if loan.patron else None,
            late_days=overdue_days(loan, moment.known_today),
            by=by,
            stocktake=stocktake,
        ),
    )
    return loan


def undo_checkout(session: Session, moment: Moment, loan: Loan) -> None:
    """Take back a loan made by mistake a moment ago ("not this book")."""
    loan.returned_at = moment.at
    _open_loans(session)[loan.copy_id] = None
    loan.copy.status = CopyStatus.AVAILABLE
    outbox.append(session, moment, wire.CheckoutUndone(loan=loan.id, copy=loan.copy.code))


def check_renew(session: Session, moment: Moment, schedule: Schedule, loan: Loan) -> dt.date:
    """The due date a renewal now would give *loan*, or raise Refused (see :func:`renewal_due`)."""
    assert loan.patron is not None, "only a current loan can be renewed"
    check_clock(moment)
    policy = policy_for(session, loan.patron.kind)
    return renewal_due(Holding.of(loan), loan.renewals, policy, schedule, moment.today)


def renew(session: Session, moment: Moment, schedule: Schedule, loan: Loan) -> Loan:
    """Give *loan* a new due date, or raise Refused (see :func:`check_renew`)."""
    assert loan.patron is not None, "only a current loan can be renewed"
    new_due = check_renew(session, moment, schedule, loan)
    loan.renewals += 1
    loan.due_date = new_due
    outbox.append(
        session,
        moment,
        wire.Renew(loan=loan.id, copy=loan.copy.code, patron=loan.patron.card, due=loan.due_date),
    )
    return loan


def mark_copy(
    session: Session, moment: Moment, copy: Copy, status: CopyStatus, *, by: str
) -> Loan | None:
    """A small librarian marks a copy damaged or lost (or back available).

    A damaged copy handed in is returned first; a lost copy's loan stays open, since the
    patron still owes the book.
    """
    returned = None
    loan = open_loan(session, copy)
    if loan is not None and status != CopyStatus.LOST:
        returned = _close(session, moment, loan, implicit=False)
    copy.status = status
    outbox.append(session, moment, wire.CopyStatusSet(copy=copy.code, status=status, by=by))
    return returned


# -- privacy -----------------------------------------------------------------------------


_FORGET_RETURNED = (
    update(_loans)
    .where(
        _loans.c.patron_id.is_not(None),
        _loans.c.returned_at.is_not(None),
        _loans.c.returned_at < bindparam("before"),
    )
    .values(patron_id=None)
)


def forget_returned(session: Session, *, returned_before: dt.datetime) -> int:
    """Unlink loans returned before *returned_before* from their patrons (a standalone kiosk's
    privacy: nobody asks for them after a while); class and grade stay for the league counts.

    Only loans still linked are looked at, through an index of those alone: at the end of
    every session this costs next to nothing, however long the kiosk's history. A plain
    statement, built once: the loans it changes are returned ones, which no scan holds.
    """
    return session.connection().execute(_FORGET_RETURNED, {"before": returned_before}).rowcount


def forget_acknowledged(session: Session, up_to_seq: int) -> int:
    """Unlink the loans whose return the office has just acknowledged (events up to
    *up_to_seq* not yet marked): a kiosk that syncs keeps no reading record the office holds."""
    returned = select(Event.payload["loan"].as_string()).where(
        Event.seq <= up_to_seq,
        Event.acked_at.is_(None),
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
