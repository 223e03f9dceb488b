"""The merged loan ledger: kiosk events stored exactly once and applied in order.

The server never refuses a physical event on policy grounds (the book has left the building):
what does not fit its records is applied as well as it can be and listed as a conflict.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from kiosk.models import CopyStatus
from sync import wire
from sync.server.models import Change, Conflict, Copy, Event, Kiosk, Loan, Patron, Title

LOST_OR_GONE = {CopyStatus.LOST, CopyStatus.WITHDRAWN}


class SequenceReused(Exception):
    """The kiosk sent a sequence number the office holds with another event."""


# -- what kiosks pull ------------------------------------------------------------------------


def record_changes(
    session: Session, items: Iterable[tuple[str, str, dict[str, Any] | None]]
) -> None:
    """Make each (kind, key) the newest change, replacing an older change of the same row."""
    latest = {(kind, key): data for kind, key, data in items}
    if not latest:
        return
    session.flush()
    keys_by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, key in latest:
        keys_by_kind[kind].append(key)
    for kind, keys in keys_by_kind.items():
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            session.execute(delete(Change).where(Change.kind == kind, Change.key.in_(chunk)))
    session.execute(
        insert(Change), [dict(kind=k, key=key, data=d) for (k, key), d in latest.items()]
    )


def record_change(session: Session, kind: str, key: str, data: dict[str, Any] | None) -> None:
    record_changes(session, [(kind, key, data)])


class Changes:
    """The rows one transaction changed, written to the change log once, at its end."""

    def __init__(self) -> None:
        self._rows: dict[int, Title | Copy | Patron | Loan] = {}

    def add(self, row: Title | Copy | Patron | Loan) -> None:
        self._rows[id(row)] = row

    def write(self, session: Session) -> None:
        session.add_all(self._rows.values())
        session.flush()  # every new row has its id now
        items = []
        for row in self._rows.values():
            if isinstance(row, Title):
                items.append(("title", str(row.id), title_data(row)))
            elif isinstance(row, Copy):
                items.append(("copy", str(row.id), copy_data(row)))
            elif isinstance(row, Patron):
                items.append(("patron", row.card, patron_data(row)))
            elif row.copy_id is not None:  # a loan of a copy the office does not know stays here
                items.append(("loan", row.id, loan_data(row)))
        record_changes(session, items)
        self._rows.clear()


def title_data(title: Title) -> dict[str, Any]:
    return {
        "id": title.id,
        "isbn": title.isbn,
        "title": title.title,
        "author": title.author,
        "publisher": title.publisher,
        "year": title.year,
        "classification": title.classification,
        "added_on": title.added_on.isoformat(),
    }


def copy_data(copy: Copy) -> dict[str, Any]:
    return {
        "id": copy.id,
        "barcode": copy.barcode,
        "title_id": copy.title_id,
        "status": copy.status,
        "shelf": copy.shelf,
    }


def patron_data(patron: Patron) -> dict[str, Any]:
    return {
        "card": patron.card,
        "name": patron.name,
        "kind": patron.kind,
        "class_name": patron.class_name,
        "grade": patron.grade,
        "active": patron.active and not patron.deleted,
    }


def loan_data(loan: Loan) -> dict[str, Any]:
    return {
        "id": loan.id,
        "copy_id": loan.copy_id,
        # Who has a book is sent only while they have it (privacy on every kiosk).
        "patron": loan.patron_card if loan.returned_at is None else None,
        "lent_at": loan.lent_at.isoformat(),
        "due_date": loan.due_date.isoformat(),
        "returned_at": loan.returned_at.isoformat() if loan.returned_at else None,
        "renewals": loan.renewals,
        "lent_where": loan.lent_where,
        "implicit_return": loan.implicit_return,
    }


def changed(session: Session, *rows: Title | Copy | Patron | Loan) -> None:
    changes = Changes()
    for row in rows:
        changes.add(row)
    changes.write(session)


# -- push ------------------------------------------------------------------------------------


@dataclass
class PushResult:
    highest_seq: int
    gaps: list[tuple[int, int]]
    stored: int
    conflicts: list[Conflict] = field(default_factory=list)


def receive(
    session: Session,
    kiosk: Kiosk,
    events: list[wire.WireEvent],
    *,
    now: dt.datetime,
    offset: float,
    waiting: int,
) -> PushResult:
    """Store the events not yet held, then apply every held event that follows without a gap."""
    stored = 0
    known = {
        row.uuid: row.kiosk_id
        for row in session.execute(
            select(Event.uuid, Event.kiosk_id).where(Event.uuid.in_([e.uuid for e in events]))
        )
    }
    # Events this office holds under the kiosk's earlier enrolment: held, not to be waited for.
    covered = {e.seq for e in events if known.get(e.uuid, kiosk.id) != kiosk.id}
    taken = set(
        session.scalars(
            select(Event.seq).where(
                Event.kiosk_id == kiosk.id, Event.seq.in_([e.seq for e in events])
            )
        )
    )
    shift = dt.timedelta(seconds=offset)
    new_rows = []
    for ev in events:
        if ev.uuid in known:
            continue  # sent before (a lost reply, a retry, a bundle imported twice)
        if ev.seq in taken:
            raise SequenceReused(
                f"sequence {ev.seq} is already held with another event; this kiosk's "
                "database was replaced: enroll it again as a new kiosk"
            )
        new_rows.append(
            dict(
                kiosk_id=kiosk.id,
                seq=ev.seq,
                uuid=ev.uuid,
                type=ev.type,
                at=ev.at,
                corrected_at=ev.at + shift,
                clock=ev.clock,
                payload=ev.payload,
                received_at=now,
                applied=False,
            )
        )
        known[ev.uuid] = kiosk.id
        taken.add(ev.seq)
        stored += 1
    if new_rows:  # the warning lasts as long as the kiosk's newest events say so
        kiosk.clock_backwards = new_rows[-1]["clock"] != "ok"
    session.flush()
    if new_rows:
        session.execute(insert(Event), new_rows)
    result = PushResult(0, [], stored)
    held = list(
        session.scalars(
            select(Event)
            .where(Event.kiosk_id == kiosk.id, Event.seq > kiosk.applied_seq)
            .order_by(Event.seq)
        )
    )
    by_seq = {event.seq: event for event in held}
    ready = []
    following = kiosk.applied_seq + 1
    while following in by_seq or following in covered:
        if following in by_seq:
            ready.append(by_seq.pop(following))
        following += 1
    waiting_beyond = sorted(by_seq)
    changes = Changes()
    books = _Books.load(session, ready)
    with session.no_autoflush:  # one batch is looked up once, then written once
        for event in ready:
            result.conflicts.extend(apply(session, kiosk, event, changes, books))
    if ready:
        session.execute(
            update(Event)
            .where(
                Event.kiosk_id == kiosk.id,
                Event.seq >= ready[0].seq,
                Event.seq <= ready[-1].seq,
            )
            .values(applied=True)
            .execution_options(synchronize_session=False)
        )
    kiosk.applied_seq = following - 1
    changes.write(session)
    result.highest_seq = kiosk.applied_seq
    result.gaps = _gaps(kiosk.applied_seq, waiting_beyond)
    kiosk.last_sync = now
    kiosk.events_waiting = max(0, waiting - len(events))
    session.flush()
    return result


def _gaps(applied: int, beyond: list[int]) -> list[tuple[int, int]]:
    gaps = []
    expected = applied + 1
    for seq in beyond:
        if seq > expected:
            gaps.append((expected, seq - 1))
        expected = seq + 1
    return gaps


# -- applying one event ----------------------------------------------------------------------


def apply(
    session: Session, kiosk: Kiosk, event: Event, changes: Changes, books: _Books
) -> list[Conflict]:
    handler = _HANDLERS.get(event.type)
    if handler is None:
        return []  # sessions, supervisor menu, PIN lock-outs: kept in the event record only
    found: list[Conflict] = []
    handler(_Context(session, kiosk, event, found, changes, books))
    return found


@dataclass
class _Books:
    """The loans, copies and patrons a batch of events speaks of, found in a few queries."""

    session: Session
    loans: dict[str, Loan]
    copies: dict[str, Copy]  # by barcode
    patrons: dict[str, Patron]  # by card
    open_loans: dict[int, Loan]  # by copy id

    @classmethod
    def load(cls, session: Session, events: list[Event]) -> _Books:
        loan_ids = {str(e.payload.get("loan")) for e in events if e.payload.get("loan")}
        codes = {str(e.payload.get("copy")) for e in events if e.payload.get("copy")}
        cards = {str(e.payload.get("patron")) for e in events if e.payload.get("patron")}

        def fetch(column: Any, values: set[str]) -> list[Any]:
            found: list[Any] = []
            items = sorted(values)
            for start in range(0, len(items), 500):
                chunk = items[start : start + 500]
                found.extend(session.scalars(select(column.class_).where(column.in_(chunk))))
            return found

        copies = {c.barcode: c for c in fetch(Copy.barcode, codes)}
        open_loans = {
            loan.copy_id: loan
            for loan in fetch(Loan.copy_id, {c.id for c in copies.values()})  # type: ignore[arg-type]
            if loan.returned_at is None
        }
        loans = {loan.id: loan for loan in fetch(Loan.id, loan_ids)}
        return cls(
            session=session,
            loans=loans | {loan.id: loan for loan in open_loans.values()},
            copies=copies,
            patrons={p.card: p for p in fetch(Patron.card, cards)},
            open_loans=open_loans,
        )

    def copy(self, code: str | None, *, for_loan: bool = False) -> Copy | None:
        if code and code in self.copies:
            return self.copies[code]
        self.session.flush()  # a copy known by ISBN only: looked up in the database
        copy = find_copy(self.session, code, for_loan=for_loan)
        if copy is not None:
            current = open_loan(self.session, copy)
            if current is not None:
                self.open_loans[copy.id] = self.loans.setdefault(current.id, current)
        return copy

    def open_loan(self, copy: Copy) -> Loan | None:
        return self.open_loans.get(copy.id)

    def opened(self, loan: Loan) -> None:
        self.loans[loan.id] = loan
        if loan.copy is not None and loan.returned_at is None:
            self.open_loans[loan.copy.id] = loan

    def closed(self, loan: Loan) -> None:
        if loan.copy is not None and self.open_loans.get(loan.copy.id) is loan:
            del self.open_loans[loan.copy.id]


@dataclass
class _Context:
    session: Session
    kiosk: Kiosk
    event: Event
    found: list[Conflict]
    changes: Changes
    books: _Books

    @property
    def payload(self) -> dict[str, Any]:
        return self.event.payload

    @property
    def at(self) -> dt.datetime:
        return self.event.corrected_at

    def conflict(self, kind: str, detail: str, *, copy: str | None, loan: str | None) -> None:
        row = Conflict(
            kind=kind,
            event_uuid=self.event.uuid,
            kiosk_id=self.kiosk.id,
            copy_code=copy,
            loan_id=loan,
            detail=detail,
            found_at=self.event.received_at,
        )
        self.session.add(row)
        self.found.append(row)


def find_copy(session: Session, code: str | None, *, for_loan: bool = False) -> Copy | None:
    """The copy a kiosk means by *code*: its barcode, or its title's ISBN for unlabelled ones."""
    if not code:
        return None
    copy = session.scalar(select(Copy).where(Copy.barcode == code))
    if copy is not None:
        return copy
    unlabelled = list(
        session.scalars(
            select(Copy)
            .join(Title)
            .where(Title.isbn == code, Copy.barcode.is_(None))
            .order_by(Copy.id)
        )
    )
    if for_loan:  # any unlabelled copy on the shelf is as good as another
        on_shelf = [c for c in unlabelled if c.status != CopyStatus.ON_LOAN]
        unlabelled = on_shelf or unlabelled
    return unlabelled[0] if unlabelled else None


def open_loan(session: Session, copy: Copy) -> Loan | None:
    return session.scalar(select(Loan).where(Loan.copy_id == copy.id, Loan.returned_at.is_(None)))


def _checkout(ctx: _Context) -> None:
    p, books = ctx.payload, ctx.books
    code, loan_id = str(p.get("copy")), str(p.get("loan"))
    if loan_id in books.loans:
        return
    copy = books.copy(code, for_loan=True)
    patron = books.patrons.get(str(p.get("patron")))
    if copy is None:
        ctx.conflict(
            "unknown_copy", f"lent {code}, which the office does not know", copy=code, loan=loan_id
        )
    elif copy.status in LOST_OR_GONE:
        ctx.conflict(
            f"checkout_of_{copy.status}",
            f"lent {code}, marked {copy.status} at the office: it is in a reader's hands now",
            copy=code,
            loan=loan_id,
        )
    if patron is None:
        ctx.conflict(
            "unknown_patron", f"lent to card {p.get('patron')}, not known", copy=code, loan=loan_id
        )
    elif patron.deleted:
        ctx.conflict(
            "patron_deleted",
            f"lent to {patron.name} ({patron.card}), removed at the office",
            copy=code,
            loan=loan_id,
        )
    loan = Loan(
        id=loan_id,
        copy=copy,
        copy_code=code,
        patron=patron,
        patron_card=p.get("patron"),
        kiosk_id=ctx.kiosk.id,
        lent_where=str(p.get("where") or ctx.kiosk.name),
        lent_at=ctx.at,
        due_date=_date(p.get("due"), ctx.at),
        override_by=p.get("override_by"),
        renewals=0,
        implicit_return=False,
        not_overdue=False,
        undone=False,
    )
    ctx.session.add(loan)
    current = books.open_loan(copy) if copy is not None else None
    if current is not None:
        # Lent at two places while offline: the later checkout implies a return of the
        # earlier loan, whichever arrived first, and that loan is not counted overdue.
        earlier, later = (current, loan) if current.lent_at <= loan.lent_at else (loan, current)
        earlier.returned_at = later.lent_at
        earlier.implicit_return = earlier.not_overdue = True
        ctx.conflict(
            "lent_twice",
            f"{code} lent at {current.lent_where} and at {loan.lent_where}; the earlier loan "
            f"({earlier.patron_card}) counts as returned when the later one began",
            copy=code,
            loan=loan_id,
        )
        books.closed(earlier)
        ctx.changes.add(current)
    books.opened(loan)
    if copy is not None:
        copy.status = CopyStatus.ON_LOAN
        ctx.changes.add(copy)
    ctx.changes.add(loan)


def _return(ctx: _Context) -> None:
    loan = ctx.books.loans.get(str(ctx.payload.get("loan")))
    code = str(ctx.payload.get("copy"))
    if loan is None or loan.returned_at is not None:
        ctx.conflict(
            "return_of_copy_on_shelf",
            f"{code} returned, but the office had it on the shelf"
            + (" (that loan was already closed)" if loan else " (loan not known)"),
            copy=code,
            loan=str(ctx.payload.get("loan")),
        )
        return
    loan.returned_at = max(ctx.at, loan.lent_at)
    loan.implicit_return = ctx.event.type == "implicit_return"
    ctx.books.closed(loan)
    if loan.copy is not None and loan.copy.status in (CopyStatus.ON_LOAN, CopyStatus.LOST):
        loan.copy.status = CopyStatus.AVAILABLE
        ctx.changes.add(loan.copy)
    ctx.changes.add(loan)


def _undo(ctx: _Context) -> None:
    loan = ctx.books.loans.get(str(ctx.payload.get("loan")))
    if loan is None or loan.returned_at is not None:
        return
    loan.returned_at, loan.undone = max(ctx.at, loan.lent_at), True
    ctx.books.closed(loan)
    if loan.copy is not None and loan.copy.status == CopyStatus.ON_LOAN:
        loan.copy.status = CopyStatus.AVAILABLE
        ctx.changes.add(loan.copy)
    ctx.changes.add(loan)


def _renew(ctx: _Context) -> None:
    loan = ctx.books.loans.get(str(ctx.payload.get("loan")))
    if loan is None:
        return
    loan.renewals += 1
    loan.due_date = _date(ctx.payload.get("due"), ctx.at)
    ctx.changes.add(loan)


def _copy_status(ctx: _Context) -> None:
    code = str(ctx.payload.get("copy"))
    copy = ctx.books.copy(code)
    status = ctx.payload.get("status")
    if copy is None or status not in set(CopyStatus):
        ctx.conflict("unknown_copy", f"{code} marked {status}, not known", copy=code, loan=None)
        return
    copy.status = CopyStatus(status)
    ctx.changes.add(copy)


def _date(value: Any, fallback: dt.datetime) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return fallback.date()


_HANDLERS = {
    "checkout": _checkout,
    "return": _return,
    "implicit_return": _return,
    "checkout_undone": _undo,
    "renew": _renew,
    "copy_status": _copy_status,
}
