"""The librarian's desk: lending, returning and renewing at the office PC, and class sets.

The desk follows the kiosks' rules and keeps the kiosks' records. How deep it shares them:

- *The rules* are kiosk.rules' own functions (``refuse_copy``, ``refuse_patron``,
  ``limit_refusal``, ``renewal_due``, ``due_date``), asked with the office's facts: the reader's
  :class:`~kiosk.rules.Standing` read from the office's ledger, and the policies and timetable
  the office gives every kiosk (``rules.current_rules``). The timetable moves due dates to
  open days as at a kiosk, but does not close the desk: opening hours say when the kiosks lend
  on their own, and the desk is open while the librarian is at it.
- *The records* are made as a kiosk makes them: typed events (sync.wire) of a kiosk of the
  office's own, the desk (``Kiosk.desk``: no token, not listed with the kiosks), handed to the
  ledger (``ledger.receive``) as a kiosk's push is. The ledger writes the loans and the change
  log, so every kiosk hears of a desk loan on its next sync; and the desk reads that same
  ledger, where a kiosk's loans are as soon as that kiosk has synced.

Only what kiosks have no part in is the office's own, written in the same transaction as the
events: which class set a loan belongs to, and the log of refusals the librarian set aside
(``Override``: who, when, which refusal, and why).

Class sets: books lent together to a class's book corner (or a teacher's) until a date. Each
book is a loan of the ledger to the holder, the teacher or student who took them. They are
not the holder's own loans: they do not count against the holder's limit, and kiosks are told
that the book is out but not who holds it (so a teacher with a class set still borrows for
herself at a kiosk). A book of a set comes back like any book (at the desk or a kiosk), or the
whole set at once.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from kiosk import rules
from kiosk.clock import utc_now
from kiosk.codes import GarbledCode, clean, is_isbn13
from kiosk.config import KioskConfig, PolicySettings, schedule_of
from kiosk.models import CopyStatus, PatronKind
from kiosk.rules import Holding, Refused, Standing
from kiosk.schedule import Schedule
from sync import wire
from sync.server.models import ClassSet, Copy, Kiosk, Loan, Override, Patron, Title
from sync.server.services import N_, NotFound, Refusal, ledger, overdue
from sync.server.services.changes import loan_data, record_changes
from sync.server.services.rules import current_rules
from sync.server.services.students import class_order

DESK = "desk"  # the desk's name as a kiosk: where a desk loan was lent
# Refusals the librarian may set aside, with a reason. Not a copy that is not for loan (its
# status would be lost when the book comes back), nor one the reader has already.
OVERRIDABLE = frozenset(
    {"patron_inactive", "lost_block", "overdue_block", "compensation_block", "limit_reached",
     "renew_late", "max_renewals"}
)  # fmt: skip
MAX_REASON = 200
LONGEST_LOAN = dt.timedelta(days=366)  # a class set's date, at most a year away


# -- what the desk shows ---------------------------------------------------------------------


@dataclass(frozen=True)
class DeskLoan:
    loan: str
    copy: str  # the barcode, or the ISBN of an unlabelled copy
    title: str
    lent_at: dt.datetime
    due: dt.date
    late_days: int
    renewals: int
    where: str  # the kiosk's name, or DESK
    override: str | None  # the librarian's reason, when she set a refusal aside


@dataclass(frozen=True)
class Reader:
    """A patron at the desk: who, their own loans, and what they may borrow now."""

    card: str
    name: str
    kind: str
    class_name: str
    loans: tuple[DeskLoan, ...]  # their own, soonest due first
    set_books: int  # books of class sets they hold for a class
    policy: PolicySettings
    may_borrow: int
    blocked: Refused | None  # why a loan would be refused now


@dataclass(frozen=True)
class Answer:
    """What one scan or button at the desk did, for the page to say and sound."""

    outcome: str  # reader, lent, returned, renewed, choice, refused, unknown
    reader: Reader | None = None  # who is at the desk after it
    copy: str | None = None
    title: str | None = None
    due: dt.date | None = None
    refusal: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    overridable: bool = False  # the librarian may lend (or renew) anyway, with a reason
    holder: str | None = None  # returned: whose it was; lent: whose it had been
    late_days: int = 0

    @property
    def tone(self) -> str:
        """The sound: "ok" for a loan, return or renewal, "refused", or "info" (a reader
        opened, a question)."""
        if self.outcome in ("refused", "unknown"):
            return "refused"
        return "info" if self.outcome in ("choice", "reader") else "ok"


# -- the desk as a kiosk of the ledger ---------------------------------------------------------


def desk_kiosk(session: Session) -> Kiosk:
    """The desk's row among the kiosks, made the first time the desk is used."""
    desk = session.scalar(select(Kiosk).where(Kiosk.desk))
    if desk is None:
        # Not a SHA-256 of any token: no kiosk can ever sign in as the desk.
        desk = Kiosk(
            name=DESK,
            token_hash=f"desk:{secrets.token_hex(16)}",
            enrolled_at=utc_now(),
            applied_seq=0,
            clock_backwards=False,
            events_waiting=0,
            desk=True,
        )
        session.add(desk)
        session.flush()
    return desk


def record(session: Session, payloads: Sequence[wire.Payload], now: dt.datetime) -> None:
    """Apply the desk's events through the ledger, as a kiosk's push is applied (its loans
    and returns, and its stocktake scans)."""
    desk = desk_kiosk(session)
    events = [
        wire.WireEvent(
            seq=desk.applied_seq + n,
            uuid=str(uuid.uuid4()),
            type=payload.event_type,
            at=now,
            clock="ok",
            payload=payload.as_json(),
        )
        for n, payload in enumerate(payloads, 1)
    ]
    ledger.receive(session, desk, events, now=now, offset=0.0, waiting=0)
    session.flush()
    session.expire_all()  # the ledger may write with plain statements: read the rows again


# -- looking things up -------------------------------------------------------------------------


def _rules(session: Session) -> tuple[KioskConfig, Schedule]:
    config = current_rules(session)
    return config, schedule_of(config.timetable)


def _policy(config: KioskConfig, kind: str) -> rules.PolicyFacts:
    settings = config.policies.get(PatronKind(kind)) or PolicySettings(
        **rules.DEFAULT_POLICIES[PatronKind(kind)]
    )
    return rules.PolicyFacts(PatronKind(kind), **settings.model_dump())


def _patron(session: Session, card: str) -> Patron:
    try:
        code = clean(card)
    except GarbledCode:
        code = ""
    patron = session.scalar(select(Patron).where(Patron.card == code)) if code else None
    if patron is None:
        raise NotFound(N_("No student or teacher has card {card}."), card=card)
    return patron


def _code(copy: Copy) -> str:
    return copy.barcode or copy.title.isbn or f"#{copy.id}"


def _copies(session: Session, code: str) -> list[Copy]:
    """The copy with this barcode, or the unlabelled copies of the title with this ISBN."""
    copy = session.scalar(select(Copy).options(joinedload(Copy.title)).where(Copy.barcode == code))
    if copy is not None:
        return [copy]
    if not is_isbn13(code):
        return []
    return list(
        session.scalars(
            select(Copy)
            .join(Title)
            .options(joinedload(Copy.title))
            .where(Title.isbn == code, Copy.barcode.is_(None))
            .order_by(Copy.id)
        )
    )


def _open_loans(session: Session, copies: Sequence[Copy]) -> dict[int, Loan]:
    """The open loan of each of *copies* that is out, by copy id."""
    found = session.scalars(
        select(Loan).where(Loan.copy_id.in_([c.id for c in copies]), Loan.returned_at.is_(None))
    )
    return {loan.copy_id: loan for loan in found if loan.copy_id is not None}


def _own_loans(session: Session, patron: Patron) -> list[Loan]:
    """The patron's current loans of their own (not class sets), soonest due first."""
    return list(
        session.scalars(
            select(Loan)
            .options(joinedload(Loan.copy).joinedload(Copy.title))
            .where(
                Loan.patron_id == patron.id,
                Loan.returned_at.is_(None),
                Loan.class_set_id.is_(None),
            )
            .order_by(Loan.due_date, Loan.lent_at)
        )
    )


def _holding(loan: Loan) -> Holding:
    copy = loan.copy
    return Holding(
        copy=loan.copy_code,
        title=copy.title.title if copy is not None else loan.copy_code,
        due_date=loan.due_date,
        lent_at=loan.lent_at,
        lost=copy is not None and copy.status == CopyStatus.LOST,
    )


def _standing(patron: Patron, loans: Sequence[Loan]) -> Standing:
    return Standing(
        patron.active and not patron.deleted,
        tuple(_holding(ln) for ln in loans),
        patron.compensation_due,
    )


def reader(session: Session, card: str, *, now: dt.datetime | None = None) -> Reader:
    """The patron with *card* as the desk shows them; NotFound if there is none."""
    patron = _patron(session, card)
    day = overdue.today(session, now or utc_now())
    config, _schedule = _rules(session)
    policy = _policy(config, patron.kind)
    loans = _own_loans(session, patron)
    standing = _standing(patron, loans)
    blocked: Refused | None = None
    try:
        rules.refuse_patron(standing, policy, day)
    except Refused as refusal:
        blocked = refusal
    blocked = blocked or rules.limit_refusal(standing, policy)
    reasons = dict(
        session.execute(
            select(Override.loan_id, Override.reason).where(
                Override.loan_id.in_([ln.id for ln in loans])
            )
        ).all()
    )
    set_books = len(
        session.scalars(
            select(Loan.id).where(
                Loan.patron_id == patron.id,
                Loan.returned_at.is_(None),
                Loan.class_set_id.is_not(None),
            )
        ).all()
    )
    return Reader(
        card=patron.card,
        name=patron.name,
        kind=patron.kind,
        class_name=patron.class_name,
        loans=tuple(
            DeskLoan(
                loan=ln.id,
                copy=ln.copy_code,
                title=_holding(ln).title,
                lent_at=ln.lent_at,
                due=ln.due_date,
                late_days=rules.overdue_days(ln, day),
                renewals=ln.renewals,
                where=ln.lent_where,
                override=reasons.get(ln.id),
            )
            for ln in loans
        ),
        set_books=set_books,
        policy=PolicySettings.model_validate(policy, from_attributes=True),
        may_borrow=0 if blocked else max(0, policy.max_loans - len(loans)),
        blocked=blocked,
    )


# -- a scan, a loan, a return, a renewal -------------------------------------------------------


def scan(
    session: Session,
    code: str,
    *,
    librarian: str,
    card: str | None = None,
    now: dt.datetime | None = None,
) -> Answer:
    """A code scanned (or typed) at the desk: a card opens that reader; a book is lent to the
    reader at the desk, or with nobody at the desk taken back. As at a kiosk."""
    now = now or utc_now()
    current = reader(session, card, now=now) if card else None
    try:
        code = clean(code)
    except GarbledCode as exc:
        return Answer("unknown", current, refusal="garbled", detail={"why": exc.reason})
    patron = session.scalar(select(Patron).where(Patron.card == code))
    if patron is not None:
        if patron.deleted:
            return Answer(
                "refused", current, refusal="patron_removed", detail={"name": patron.name}
            )
        return Answer("reader", reader(session, code, now=now))
    if card is None:
        return give_back(session, code, librarian=librarian, now=now)
    return lend(session, card, code, librarian=librarian, now=now)


def lend(
    session: Session,
    card: str,
    code: str,
    *,
    librarian: str,
    reason: str = "",
    now: dt.datetime | None = None,
) -> Answer:
    """Lend the copy *code* to *card* by the kiosks' rules; with a *reason*, over a refusal
    the librarian may set aside (recorded in the overrides' log)."""
    now = now or utc_now()
    day = overdue.today(session, now)
    patron = _patron(session, card)
    code = clean(code)
    copies = _copies(session, code)
    if not copies:
        return Answer("unknown", reader(session, card, now=now), copy=code, refusal="unknown_code")
    out = _open_loans(session, copies)
    theirs = [c for c in copies if c.id in out and out[c.id].patron_id == patron.id]
    on_shelf = [c for c in copies if c.id not in out and c.status == CopyStatus.AVAILABLE]
    copy = (theirs or on_shelf or copies)[0]
    current = out.get(copy.id)
    config, schedule = _rules(session)
    policy = _policy(config, patron.kind)
    loans = _own_loans(session, patron)
    standing = _standing(patron, loans)
    title = copy.title.title
    if current is not None and current.patron_id == patron.id and current.class_set_id is None:
        return Answer(
            "choice",
            reader(session, card, now=now),
            copy=_code(copy),
            title=title,
            due=current.due_date,
            late_days=rules.overdue_days(current, day),
        )
    refusal: Refused | None
    try:
        rules.refuse_copy(copy.status, theirs=False)
        rules.refuse_patron(standing, policy, day)
        refusal = rules.limit_refusal(standing, policy)
    except Refused as refused:
        refusal = refused
    reason = _reason(reason)
    if refusal is not None and (not reason or refusal.reason not in OVERRIDABLE):
        return Answer(
            "refused",
            reader(session, card, now=now),
            copy=_code(copy),
            title=title,
            refusal=refusal.reason,
            detail=refusal.detail,
            overridable=refusal.reason in OVERRIDABLE,
        )
    events: list[wire.Payload] = []
    if current is not None:
        # The book is in the librarian's hands: it came back without a scan, as at a kiosk.
        events.append(_returned(current, day, librarian, implicit=True))
    loan_id = str(uuid.uuid4())
    due = rules.due_date(schedule, policy, day)
    events.append(
        wire.Checkout(
            loan=loan_id,
            copy=_code(copy),
            patron=patron.card,
            due=due,
            where=DESK,
            override_by=librarian if refusal is not None else None,
        )
    )
    holder = current.patron.name if current is not None and current.patron else None
    record(session, events, now)
    if refusal is not None:
        _log_override(session, now, librarian, "checkout", refusal.reason, reason, loan_id,
                      patron.card, _code(copy))  # fmt: skip
    return Answer(
        "lent", reader(session, card, now=now), copy=_code(copy), title=title, due=due,
        holder=holder,
    )  # fmt: skip


def give_back(
    session: Session,
    code: str,
    *,
    librarian: str,
    card: str | None = None,
    now: dt.datetime | None = None,
) -> Answer:
    """Take the copy *code* back (the reader at the desk's copy, if several share an ISBN)."""
    now = now or utc_now()
    day = overdue.today(session, now)
    code = clean(code)
    current = reader(session, card, now=now) if card else None
    copies = _copies(session, code)
    if not copies:
        return Answer("unknown", current, copy=code, refusal="unknown_code")
    out = _open_loans(session, copies)
    loans = [out[c.id] for c in copies if c.id in out]
    if card is not None:
        theirs = [ln for ln in loans if ln.patron_card == current.card]  # type: ignore[union-attr]
        loans = theirs or loans
    title = copies[0].title.title
    if not loans:
        status = copies[0].status if len(copies) == 1 else CopyStatus.AVAILABLE
        return Answer("refused", current, copy=code, title=title, refusal="not_on_loan",
                      detail={"status": status})  # fmt: skip
    if len(loans) > 1:
        return Answer("refused", current, copy=code, title=title, refusal="which_copy")
    loan = loans[0]
    holder = loan.patron.name if loan.patron else loan.patron_card
    late = rules.overdue_days(loan, day)
    record(session, [_returned(loan, day, librarian, implicit=False)], now)
    return Answer(
        "returned",
        reader(session, card, now=now) if card else None,
        copy=code,
        title=title,
        holder=holder,
        late_days=late,
    )


def renew(
    session: Session,
    card: str,
    code: str,
    *,
    librarian: str,
    reason: str = "",
    now: dt.datetime | None = None,
) -> Answer:
    """Give the reader's loan of *code* a new due date by the kiosks' rules; with a *reason*,
    over a refusal the librarian may set aside."""
    now = now or utc_now()
    day = overdue.today(session, now)
    patron = _patron(session, card)
    code = clean(code)
    copies = _copies(session, code)
    out = _open_loans(session, copies)
    loan = next(
        (out[c.id] for c in copies if c.id in out and out[c.id].patron_id == patron.id), None
    )
    if loan is None or loan.class_set_id is not None:
        title = copies[0].title.title if copies else None
        return Answer("refused", reader(session, card, now=now), copy=code, title=title,
                      refusal="not_theirs")  # fmt: skip
    title = _holding(loan).title
    config, schedule = _rules(session)
    policy = _policy(config, patron.kind)
    refusal: Refused | None = None
    try:
        due = rules.renewal_due(_holding(loan), loan.renewals, policy, schedule, day)
    except Refused as refused:
        refusal = refused
        due = rules.due_date(schedule, policy, day)
    reason = _reason(reason)
    if refusal is not None and (not reason or refusal.reason not in OVERRIDABLE):
        return Answer(
            "refused",
            reader(session, card, now=now),
            copy=code,
            title=title,
            due=loan.due_date,
            refusal=refusal.reason,
            detail=refusal.detail,
            overridable=refusal.reason in OVERRIDABLE,
        )
    record(
        session,
        [wire.Renew(loan=loan.id, copy=loan.copy_code, patron=patron.card, due=due)],
        now,
    )
    if refusal is not None:
        _log_override(session, now, librarian, "renew", refusal.reason, reason, loan.id,
                      patron.card, loan.copy_code)  # fmt: skip
    return Answer("renewed", reader(session, card, now=now), copy=code, title=title, due=due)


def _returned(loan: Loan, day: dt.date, by: str, *, implicit: bool) -> wire.Return:
    kind = wire.ImplicitReturn if implicit else wire.Return
    return kind(
        loan=loan.id,
        copy=loan.copy_code,
        patron=loan.patron_card,
        late_days=rules.overdue_days(loan, day),
        by=by,
    )


def _reason(text: str) -> str:
    reason = " ".join(text.split())
    if len(reason) > MAX_REASON:
        raise Refusal(N_("Write the reason in at most {most} characters."), most=MAX_REASON)
    return reason


def _log_override(
    session: Session,
    now: dt.datetime,
    librarian: str,
    action: str,
    refusal: str,
    reason: str,
    loan_id: str,
    card: str,
    code: str,
) -> None:
    session.add(
        Override(
            at=now,
            librarian=librarian,
            action=action,
            refusal=refusal,
            reason=reason,
            loan_id=loan_id,
            patron_card=card,
            copy_code=code,
        )
    )


# -- the log of refusals set aside -------------------------------------------------------------


@dataclass(frozen=True)
class OverrideLine:
    at: dt.datetime
    by: str  # the librarian, or the small librarian's card at a kiosk
    where: str  # DESK, or the kiosk's name
    action: str  # checkout or renew
    refusal: str
    reason: str  # empty for a small librarian's loan over the limit at a kiosk
    card: str | None
    name: str | None
    copy: str
    title: str | None


def overrides(session: Session, *, limit: int = 500) -> list[OverrideLine]:
    """Refusals set aside, newest first: the librarian's at the desk (with her reasons) and
    the small librarians' loans over the limit at the kiosks."""
    lines = []
    for row in session.scalars(select(Override).order_by(Override.at.desc()).limit(limit)):
        lines.append(
            OverrideLine(row.at, row.librarian, DESK, row.action, row.refusal, row.reason,
                         row.patron_card, None, row.copy_code, None)
        )  # fmt: skip
    at_kiosks = session.scalars(
        select(Loan)
        .join(Kiosk, Loan.kiosk_id == Kiosk.id)
        .options(joinedload(Loan.patron), joinedload(Loan.copy).joinedload(Copy.title))
        .where(Loan.override_by.is_not(None), ~Kiosk.desk)
        .order_by(Loan.lent_at.desc())
        .limit(limit)
    )
    for loan in at_kiosks:
        lines.append(
            OverrideLine(loan.lent_at, loan.override_by or "", loan.lent_where, "checkout",
                         "limit_reached", "", loan.patron_card,
                         loan.patron.name if loan.patron else None, loan.copy_code,
                         loan.copy.title.title if loan.copy else None)
        )  # fmt: skip
    cards = {line.card for line in lines if line.card}
    codes = {line.copy for line in lines}
    names = dict(
        session.execute(select(Patron.card, Patron.name).where(Patron.card.in_(cards))).all()
    )
    titles = dict(
        session.execute(
            select(Copy.barcode, Title.title).join(Title).where(Copy.barcode.in_(codes))
        ).all()
    ) | dict(session.execute(select(Title.isbn, Title.title).where(Title.isbn.in_(codes))).all())
    lines = [
        replace(line, name=names.get(line.card or ""), title=line.title or titles.get(line.copy))
        for line in lines
    ]
    return sorted(lines, key=lambda line: line.at, reverse=True)[:limit]


# -- class sets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetBook:
    copy: str
    title: str
    returned_at: dt.datetime | None


@dataclass(frozen=True)
class ClassSetLine:
    id: int
    class_name: str  # empty: the holder's own corner
    holder_card: str
    holder_name: str
    lent_at: dt.datetime
    lent_by: str
    due: dt.date
    late_days: int
    note: str
    books: tuple[SetBook, ...]

    @property
    def out(self) -> int:
        return sum(1 for book in self.books if book.returned_at is None)


class BadSet(Refusal):
    """A class set that cannot be lent as asked; ``problems`` lists each code's problem."""

    def __init__(self, problems: list[tuple[str, str, dict[str, Any]]]) -> None:
        super().__init__(N_("Nothing was lent: correct the books listed and lend the set again."))
        self.problems = problems  # (code, refusal, detail)


def lend_class_set(
    session: Session,
    *,
    holder: str,
    class_name: str,
    due: dt.date,
    codes: Sequence[str],
    librarian: str,
    note: str = "",
    now: dt.datetime | None = None,
) -> ClassSetLine:
    """Lend the copies *codes* together to *holder* for *class_name* until *due*.

    Every copy is checked first: an unknown code, or a copy not for loan, and nothing is lent
    (:class:`BadSet` lists them). A copy on loan to someone else is in the librarian's hands:
    that loan ends, as at a kiosk.
    """
    now = now or utc_now()
    day = overdue.today(session, now)
    patron = _patron(session, holder)
    if patron.deleted or not patron.active:
        raise Refusal(N_("{name} cannot borrow (inactive or left the school)."), name=patron.name)
    if not day < due <= day + LONGEST_LOAN:
        raise Refusal(N_("The date to bring the set back is after today and within a year."))
    problems: list[tuple[str, str, dict[str, Any]]] = []
    chosen: list[Copy] = []
    for typed in codes:
        try:
            code = clean(typed)
        except GarbledCode as exc:
            if exc.reason != "empty":
                problems.append((typed.strip()[:64], "garbled", {"why": exc.reason}))
            continue
        found = _copies(session, code)
        if not found:
            problems.append((code, "unknown_code", {}))
            continue
        if found[0].barcode is not None and found[0] in chosen:
            continue  # a labelled book scanned twice is one book
        # The same ISBN scanned again is the next unlabelled copy of that title.
        left = [c for c in found if c not in chosen]
        if not left:
            problems.append((code, "no_more_copies", {"title": found[0].title.title,
                                                      "copies": len(found)}))  # fmt: skip
            continue
        out = _open_loans(session, left)
        copy = min(left, key=lambda c: (c.id in out, c.status != CopyStatus.AVAILABLE, c.id))
        try:
            rules.refuse_copy(copy.status, theirs=False)
        except Refused as refused:
            problems.append((code, refused.reason, {"title": copy.title.title, **refused.detail}))
            continue
        chosen.append(copy)
    if problems:
        raise BadSet(problems)
    if not chosen:
        raise Refusal(N_("Scan the books of the set first."))
    class_set = ClassSet(
        class_name=" ".join(class_name.split()),
        holder_id=patron.id,
        due_date=due,
        lent_at=now,
        lent_by=librarian,
        note=_reason(note),
    )
    session.add(class_set)
    session.flush()
    set_id = class_set.id
    out = _open_loans(session, chosen)
    events: list[wire.Payload] = [
        _returned(out[c.id], day, librarian, implicit=True) for c in chosen if c.id in out
    ]
    loan_ids = [str(uuid.uuid4()) for _ in chosen]
    events += [
        wire.Checkout(loan=loan_id, copy=_code(copy), patron=patron.card, due=due, where=DESK)
        for loan_id, copy in zip(loan_ids, chosen, strict=True)
    ]
    record(session, events, now)
    session.execute(update(Loan).where(Loan.id.in_(loan_ids)).values(class_set_id=set_id))
    _hide_holders(session, loan_ids)
    return class_set_line(session, set_id, now=now)


def _hide_holders(session: Session, loan_ids: Sequence[str]) -> None:
    """Tell kiosks that a class set's books are out, not who holds them: the holder's own
    loans at a kiosk are theirs alone. The ledger only writes a loan's change again when the
    loan ends (who had it is then never sent) or is renewed, which the desk does not do to a
    class set's books: so this stays what the kiosks know."""
    loans = session.scalars(select(Loan).where(Loan.id.in_(loan_ids)))
    record_changes(
        session, [("loan", loan.id, {**loan_data(loan), "patron": None}) for loan in loans]
    )


def return_class_set(
    session: Session, set_id: int, *, librarian: str, now: dt.datetime | None = None
) -> int:
    """Take back every book of the set still out; how many came back."""
    now = now or utc_now()
    day = overdue.today(session, now)
    if session.get(ClassSet, set_id) is None:
        raise NotFound(N_("There is no class set {number}."), number=set_id)
    out = list(
        session.scalars(select(Loan).where(Loan.class_set_id == set_id, Loan.returned_at.is_(None)))
    )
    if out:
        record(session, [_returned(loan, day, librarian, implicit=False) for loan in out], now)
    return len(out)


def class_set_line(
    session: Session, set_id: int, *, now: dt.datetime | None = None
) -> ClassSetLine:
    lines = _set_lines(session, [set_id], now or utc_now())
    if not lines:
        raise NotFound(N_("There is no class set {number}."), number=set_id)
    return lines[0]


def class_sets(
    session: Session, *, now: dt.datetime | None = None, returned: bool = False
) -> list[ClassSetLine]:
    """The class sets with books still out (*returned*: those all back too), by class."""
    query = select(ClassSet.id)
    if not returned:
        query = query.where(
            ClassSet.id.in_(
                select(Loan.class_set_id).where(
                    Loan.class_set_id.is_not(None), Loan.returned_at.is_(None)
                )
            )
        )
    lines = _set_lines(session, list(session.scalars(query)), now or utc_now())
    return sorted(
        lines,
        key=lambda line: (
            line.class_name == "",
            class_order(line.class_name),
            line.holder_name,
            line.due,
            line.id,
        ),
    )


def _set_lines(session: Session, ids: list[int], now: dt.datetime) -> list[ClassSetLine]:
    if not ids:
        return []
    day = overdue.today(session, now)
    books: dict[int, list[SetBook]] = defaultdict(list)
    for loan in session.scalars(
        select(Loan)
        .options(joinedload(Loan.copy).joinedload(Copy.title))
        .where(Loan.class_set_id.in_(ids))
        .order_by(Loan.copy_code)
    ):
        assert loan.class_set_id is not None
        books[loan.class_set_id].append(
            SetBook(loan.copy_code, _holding(loan).title, loan.returned_at)
        )
    return [
        ClassSetLine(
            id=row.id,
            class_name=row.class_name,
            holder_card=row.holder.card,
            holder_name=row.holder.name,
            lent_at=row.lent_at,
            lent_by=row.lent_by,
            due=row.due_date,
            late_days=max(0, (day - row.due_date).days)
            if any(b.returned_at is None for b in books[row.id])
            else 0,
            note=row.note,
            books=tuple(books[row.id]),
        )
        for row in session.scalars(
            select(ClassSet).options(joinedload(ClassSet.holder)).where(ClassSet.id.in_(ids))
        )
    ]
