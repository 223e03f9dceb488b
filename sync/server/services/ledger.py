"""The merged loan ledger: kiosk events stored exactly once and applied in order.

The server never refuses a physical event on policy grounds (the book has left the building):
what does not fit its records is applied as well as it can be and listed as a conflict.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from kiosk.clock import utc_now
from kiosk.models import CopyStatus
from sync import wire
from sync.server.db import Database
from sync.server.models import (
    Conflict,
    Copy,
    Event,
    Kiosk,
    Loan,
    Patron,
    Stocktake,
    StocktakeFinding,
    StocktakeScan,
    Title,
)
from sync.server.services import Contradiction
from sync.server.services.changes import Changes

LOST_OR_GONE = {CopyStatus.LOST, CopyStatus.WITHDRAWN}


class SequenceReused(Contradiction):
    """The kiosk sent a sequence number the office holds with another event."""


class UnknownAcknowledgement(Contradiction):
    """The kiosk says the office acknowledged more than it ever did."""


# -- push ------------------------------------------------------------------------------------


def receive_events(
    database: Database,
    session: Session,
    kiosk: Kiosk,
    events: list[wire.WireEvent],
    *,
    acked_seq: int,
    acked_proof: str | None,
    waiting: int,
    offset: float,
    version: str | None = None,
) -> wire.PushReply:
    """Store and apply *events* (from the API or a USB bundle) in the caller's transaction."""
    if acked_seq > kiosk.applied_seq:
        # The kiosk holds an acknowledgement this database no longer has. Signed by this office,
        # it means the database was restored from a backup: a new identity makes every kiosk
        # take a fresh full copy. Unsigned, it is nonsense, and changes nothing.
        expected = database.ack_proof(session, kiosk.id, acked_seq)
        if not acked_proof or not hmac.compare_digest(acked_proof, expected):
            raise UnknownAcknowledgement(
                f"acked_seq {acked_seq} was never acknowledged by this office (it holds up to "
                f"{kiosk.applied_seq} from this kiosk)"
            )
        database.new_identity(session)
    kiosk.clock_offset_seconds = offset
    kiosk.version = version or kiosk.version
    result = receive(session, kiosk, events, now=utc_now(), offset=offset, waiting=waiting)
    return wire.PushReply(
        highest_seq=result.highest_seq,
        ack_proof=database.ack_proof(session, kiosk.id, result.highest_seq),
        gaps=result.gaps,
        stored=result.stored,
        conflicts=[
            wire.Conflict(
                id=c.id, kind=c.kind, copy_code=c.copy_code, loan=c.loan_id, detail=c.detail
            )
            for c in result.conflicts
        ],
        server_time=utc_now(),
        clock_offset_seconds=offset,
    )


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
    payloads = [wire.payload_of(event.type, event.payload) for event in ready]
    books = _Books.load(session, payloads)
    with session.no_autoflush:  # one batch is looked up once, then written once
        for event, payload in zip(ready, payloads, strict=True):
            result.conflicts.extend(apply(session, kiosk, event, payload, changes, books))
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
    session: Session,
    kiosk: Kiosk,
    event: Event,
    payload: wire.Payload | None,
    changes: Changes,
    books: _Books,
) -> list[Conflict]:
    handler = _HANDLERS.get(type(payload))
    if handler is None:
        return []  # sessions, supervisor menu, PIN lock-outs, new kinds: kept as events only
    found: list[Conflict] = []
    handler(_Context(session, kiosk, event, found, changes, books), payload)
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
    def load(cls, session: Session, payloads: list[wire.Payload | None]) -> _Books:
        loan_ids = {p.loan for p in payloads if isinstance(p, _LOAN_EVENTS)}
        codes = {p.copy_code for p in payloads if isinstance(p, _COPY_EVENTS)}
        cards = {p.patron for p in payloads if isinstance(p, _PATRON_EVENTS) and p.patron}

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


def _checkout(ctx: _Context, p: wire.Checkout) -> None:
    books = ctx.books
    code, loan_id = p.copy_code, p.loan
    if loan_id in books.loans:
        return
    copy = books.copy(code, for_loan=True)
    patron = books.patrons.get(p.patron)
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
            "unknown_patron", f"lent to card {p.patron}, not known", copy=code, loan=loan_id
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
        patron_card=p.patron,
        kiosk_id=ctx.kiosk.id,
        lent_where=p.where or ctx.kiosk.name,
        lent_at=ctx.at,
        due_date=p.due,
        override_by=p.override_by,
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


def _return(ctx: _Context, p: wire.Return) -> None:
    loan = ctx.books.loans.get(p.loan)
    if loan is None or loan.returned_at is not None:
        ctx.conflict(
            "return_of_copy_on_shelf",
            f"{p.copy_code} returned, but the office had it on the shelf"
            + (" (that loan was already closed)" if loan else " (loan not known)"),
            copy=p.copy_code,
            loan=p.loan,
        )
        return
    loan.returned_at = max(ctx.at, loan.lent_at)
    loan.implicit_return = isinstance(p, wire.ImplicitReturn)
    if p.stocktake is not None and ctx.session.get(Stocktake, p.stocktake) is not None:
        loan.found_in_stocktake = p.stocktake
    ctx.books.closed(loan)
    if loan.copy is not None and loan.copy.status in (CopyStatus.ON_LOAN, CopyStatus.LOST):
        loan.copy.status = CopyStatus.AVAILABLE
        ctx.changes.add(loan.copy)
    ctx.changes.add(loan)


def _undo(ctx: _Context, p: wire.CheckoutUndone) -> None:
    loan = ctx.books.loans.get(p.loan)
    if loan is None or loan.returned_at is not None:
        return
    loan.returned_at, loan.undone = max(ctx.at, loan.lent_at), True
    ctx.books.closed(loan)
    if loan.copy is not None and loan.copy.status == CopyStatus.ON_LOAN:
        loan.copy.status = CopyStatus.AVAILABLE
        ctx.changes.add(loan.copy)
    ctx.changes.add(loan)


def _renew(ctx: _Context, p: wire.Renew) -> None:
    loan = ctx.books.loans.get(p.loan)
    if loan is None:
        return
    loan.renewals += 1
    loan.due_date = p.due
    ctx.changes.add(loan)


def _copy_status(ctx: _Context, p: wire.CopyStatusSet) -> None:
    copy = ctx.books.copy(p.copy_code)
    if copy is None:
        ctx.conflict(
            "unknown_copy",
            f"{p.copy_code} marked {p.status}, not known",
            copy=p.copy_code,
            loan=None,
        )
        return
    copy.status = p.status
    ctx.changes.add(copy)


def _stocktake_scan(ctx: _Context, p: wire.StocktakeScan) -> None:
    stocktake = ctx.session.get(Stocktake, p.stocktake)
    if stocktake is None:
        ctx.conflict(
            "unknown_stocktake",
            f"{p.copy_code} counted for stocktake {p.stocktake}, which the office does not know",
            copy=p.copy_code,
            loan=None,
        )
        return
    copy = ctx.books.copy(p.copy_code)
    if copy is not None and copy.barcode is None:
        copy = _unlabelled_not_seen(ctx.session, stocktake, copy)
    late = stocktake.closed_at is not None
    ctx.session.add(
        StocktakeScan(
            stocktake_id=stocktake.id,
            code=p.copy_code,
            copy_id=copy.id if copy else None,
            shelf=p.shelf,
            status=copy.status if copy else None,
            kiosk_id=ctx.kiosk.id,
            by=p.by,
            at=ctx.at,
            late=late,
        )
    )
    if late and copy is not None and copy.status == CopyStatus.LOST:
        _found_after(ctx, stocktake, copy, p.shelf)


def _unlabelled_not_seen(session: Session, stocktake: Stocktake, copy: Copy) -> Copy:
    """A copy known by its title's ISBN only: one of its title's not yet seen in *stocktake*,
    so that two such books on the shelves count as two."""
    session.flush()
    seen = select(StocktakeScan.copy_id).where(
        StocktakeScan.stocktake_id == stocktake.id, StocktakeScan.copy_id.is_not(None)
    )
    other = session.scalar(
        select(Copy)
        .where(Copy.title_id == copy.title_id, Copy.barcode.is_(None), Copy.id.not_in(seen))
        .order_by(Copy.id)
        .limit(1)
    )
    return other or copy


def _found_after(ctx: _Context, stocktake: Stocktake, copy: Copy, shelf: str) -> None:
    """A kiosk that was offline counted a copy that the closed stocktake marked missing: it is
    on the shelf, so it is available again."""
    marked = ctx.session.scalar(
        select(StocktakeFinding.id).where(
            StocktakeFinding.stocktake_id == stocktake.id,
            StocktakeFinding.kind == "not_seen",
            StocktakeFinding.copy_id == copy.id,
        )
    )
    if marked is None or stocktake.not_seen != "missing":
        return
    copy.status = CopyStatus.AVAILABLE
    ctx.changes.add(copy)
    ctx.conflict(
        "found_after_stocktake",
        f"{copy.barcode or copy.title.isbn} was marked missing when the stocktake "
        f"{stocktake.name} was closed; "
        f"a kiosk that synced later had counted it on shelf {shelf}: it is available again",
        copy=copy.barcode or copy.title.isbn,
        loan=None,
    )


_HANDLERS: dict[type[wire.Payload], Callable[[_Context, Any], None]] = {
    wire.Checkout: _checkout,
    wire.Return: _return,
    wire.ImplicitReturn: _return,
    wire.CheckoutUndone: _undo,
    wire.Renew: _renew,
    wire.CopyStatusSet: _copy_status,
    wire.StocktakeScan: _stocktake_scan,
}
_PATRON_EVENTS = (wire.Checkout, wire.Return, wire.Renew)
_LOAN_EVENTS = (*_PATRON_EVENTS, wire.CheckoutUndone)
_COPY_EVENTS = (*_LOAN_EVENTS, wire.CopyStatusSet, wire.StocktakeScan)
