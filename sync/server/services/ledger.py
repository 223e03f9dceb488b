"""The merged loan ledger: kiosk events stored exactly once and applied in order.

The server never refuses a physical event on policy grounds (the book has left the building):
what does not fit its records is applied as well as it can be and listed as a conflict.

A batch is applied in bulk: the copies, loans and patrons its events speak of are read in a
few queries, the events change those rows in memory, in order, and then every changed row is
written with one statement per kind of row (executemany), all in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any, NamedTuple

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from kiosk.clock import utc_now
from kiosk.models import CopyStatus
from kiosk.store import among, executemany
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
from sync.server.services.changes import (
    JsonText,
    copy_data,
    json_text,
    loan_data,
    record_changes,
)

LOST_OR_GONE = {CopyStatus.LOST, CopyStatus.WITHDRAWN}
_EVENTS = Event.__table__
_STORE_EVENT = insert(_EVENTS).values(payload=bindparam("payload_json", type_=JsonText()))
_STORED_EVENT = ("seq", "uuid", "type", "at", "corrected_at", "clock", "payload_json")
# Written in bulk (store.executemany): the same statement objects each time, compiled once.
_INSERT_LOAN = insert(Loan.__table__)
_UPDATE_LOAN = update(Loan.__table__).where(Loan.__table__.c.id == bindparam("loan_id"))
_UPDATE_COPY = update(Copy.__table__).where(Copy.__table__.c.id == bindparam("copy_id"))


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
        conflicts=result.conflicts,
        server_time=utc_now(),
        clock_offset_seconds=offset,
    )


@dataclass
class PushResult:
    highest_seq: int
    gaps: list[tuple[int, int]]
    stored: int
    conflicts: list[wire.Conflict] = field(default_factory=list)


class _Held(NamedTuple):
    """An event held at the office, as applying it needs it."""

    seq: int
    uuid: str
    type: str
    payload: dict[str, Any]
    corrected_at: dt.datetime
    received_at: dt.datetime
    data: wire.Payload | None = None  # typed: given with the events just received


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
    # The events table is read and marked with plain statements on the session's connection:
    # no ORM object is made of an event, and the ORM's handling of each statement cost more
    # than the database's work for it.
    connection = session.connection()
    known: dict[str, int] = dict(
        connection.execute(
            select(_EVENTS.c.uuid, _EVENTS.c.kiosk_id).where(
                among(session, _EVENTS.c.uuid, (e.uuid for e in events))
            )
        ).all()
    )
    taken: set[int] = set()
    if events:  # sequences of a batch are close together: one range, not a list of them
        first, last = min(e.seq for e in events), max(e.seq for e in events)
        taken.update(
            connection.execute(
                select(_EVENTS.c.seq).where(
                    _EVENTS.c.kiosk_id == kiosk.id, _EVENTS.c.seq.between(first, last)
                )
            ).scalars()
        )
    # Events this office holds under the kiosk's earlier enrolment: held, not to be waited for.
    covered = {e.seq for e in events if known.get(e.uuid, kiosk.id) != kiosk.id}
    shift = dt.timedelta(seconds=offset)
    fresh: dict[int, _Held] = {}
    new_rows = []
    for ev in events:
        if ev.uuid in known:
            continue  # sent before (a lost reply, a retry, a bundle imported twice)
        if ev.seq in taken:
            raise SequenceReused(
                f"sequence {ev.seq} is already held with another event; this kiosk's "
                "database was replaced: enroll it again as a new kiosk"
            )
        corrected = (ev.at + shift).astimezone(dt.UTC)
        fresh[ev.seq] = _Held(ev.seq, ev.uuid, ev.type, ev.payload, corrected, now, ev.data())
        new_rows.append(
            (ev.seq, ev.uuid, ev.type, ev.at, corrected, ev.clock, json_text(ev.payload))
        )
        known[ev.uuid] = kiosk.id
        taken.add(ev.seq)
    if new_rows:
        same = {"kiosk_id": kiosk.id, "received_at": now, "applied": False}
        executemany(session, _STORE_EVENT, new_rows, _STORED_EVENT, same=same)
        # The warning lasts as long as the kiosk's newest events say so.
        kiosk.clock_backwards = new_rows[-1][5] != "ok"  # its clock
    by_seq = _held_after(session, kiosk, fresh)
    ready = []
    following = kiosk.applied_seq + 1
    while following in by_seq or following in covered:
        if following in by_seq:
            ready.append(by_seq.pop(following))
        following += 1
    payloads = [
        wire.payload_of(event.type, event.payload) if event.data is None else event.data
        for event in ready
    ]
    books = _Books.load(session, payloads)
    for event, payload in zip(ready, payloads, strict=True):
        handler = _HANDLERS.get(type(payload))
        if handler is not None:  # sessions, supervisor menu, PIN lock-outs: kept as events only
            handler(_Context(session, books, kiosk, event), payload)
    if ready:
        connection.execute(
            update(_EVENTS)
            .where(
                _EVENTS.c.kiosk_id == kiosk.id,
                _EVENTS.c.seq >= ready[0].seq,
                _EVENTS.c.seq <= ready[-1].seq,
            )
            .values(applied=True)
        )
    conflicts = books.write(session, kiosk)
    kiosk.applied_seq = following - 1
    kiosk.last_sync = now
    kiosk.events_waiting = max(0, waiting - len(events))
    session.flush()
    return PushResult(
        highest_seq=kiosk.applied_seq,
        gaps=_gaps(kiosk.applied_seq, sorted(by_seq)),
        stored=len(fresh),
        conflicts=conflicts,
    )


def _held_after(session: Session, kiosk: Kiosk, fresh: dict[int, _Held]) -> dict[int, _Held]:
    """Every event held beyond the applied sequence: those just received, and any that waited
    for a gap to fill (read from the database)."""
    connection, events = session.connection(), _EVENTS.c
    seqs = connection.execute(
        select(events.seq).where(events.kiosk_id == kiosk.id, events.seq > kiosk.applied_seq)
    ).scalars()
    held: dict[int, _Held] = {}
    waited: list[int] = []
    for seq in seqs:
        if seq in fresh:
            held[seq] = fresh[seq]
        else:
            waited.append(seq)
    if waited:
        rows = connection.execute(
            select(
                events.seq,
                events.uuid,
                events.type,
                events.payload,
                events.corrected_at,
                events.received_at,
            ).where(events.kiosk_id == kiosk.id, among(session, events.seq, waited))
        )
        held.update((row.seq, _Held(*row)) for row in rows)
    return held


def _gaps(applied: int, beyond: list[int]) -> list[tuple[int, int]]:
    gaps = []
    expected = applied + 1
    for seq in beyond:
        if seq > expected:
            gaps.append((expected, seq - 1))
        expected = seq + 1
    return gaps


# -- the rows a batch speaks of, in memory -----------------------------------------------------


@dataclass(slots=True, eq=False)
class _Copy:
    id: int
    barcode: str | None
    title_id: int
    status: str
    shelf: str


@dataclass(slots=True, eq=False)
class _Loan:
    id: str
    copy_id: int | None
    copy_code: str
    patron_id: int | None
    patron_card: str | None
    kiosk_id: int | None
    lent_where: str
    lent_at: dt.datetime
    due_date: dt.date
    returned_at: dt.datetime | None
    renewals: int
    implicit_return: bool
    not_overdue: bool
    undone: bool
    override_by: str | None
    found_in_stocktake: int | None = None  # returned: found on a shelf in this stocktake


@dataclass(slots=True, eq=False)
class _Patron:
    id: int
    card: str
    name: str
    deleted: bool


def _columns(table: Any, row_class: type) -> list[Any]:
    return [table.c[f.name] for f in fields(row_class)]


_COPY_COLUMNS = _columns(Copy.__table__, _Copy)
_LOAN_COLUMNS = _columns(Loan.__table__, _Loan)
_PATRON_COLUMNS = _columns(Patron.__table__, _Patron)
_LOAN_CHANGING = (
    "due_date",
    "returned_at",
    "renewals",
    "implicit_return",
    "not_overdue",
    "undone",
    "found_in_stocktake",
)


@dataclass
class _Books:
    """The copies, loans and patrons a batch of events speaks of, and what the batch changed."""

    copies: dict[int, _Copy]  # by id
    barcodes: dict[str, _Copy]
    unlabelled: dict[str, list[_Copy]]  # copies without a label, by their title's ISBN, by id
    loans: dict[str, _Loan]
    open_loans: dict[int, _Loan]  # by copy id
    patrons: dict[str, _Patron]  # by card
    changed: dict[int, _Copy | _Loan] = field(default_factory=dict)  # in order of first change
    new_loans: list[_Loan] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, session: Session, payloads: list[wire.Payload | None]) -> _Books:
        loan_ids = sorted({p.loan for p in payloads if isinstance(p, _LOAN_EVENTS)})
        codes = sorted({p.copy_code for p in payloads if isinstance(p, _COPY_EVENTS)})
        cards = sorted({p.patron for p in payloads if isinstance(p, _PATRON_EVENTS) and p.patron})

        def rows(columns: list[Any], key: Any, values: Iterable[Any], *where: Any) -> list[Any]:
            if not values:
                return []
            query = select(*columns).where(among(session, key, sorted(values)), *where)
            return session.connection().execute(query).all()

        copies = {r.id: _Copy(*r) for r in rows(_COPY_COLUMNS, Copy.barcode, codes)}
        barcodes = {c.barcode: c for c in copies.values() if c.barcode}
        unlabelled: dict[str, list[_Copy]] = {}
        isbns = [code for code in codes if code not in barcodes]
        for *values, isbn in sorted(
            rows(
                [*_COPY_COLUMNS, Title.isbn],
                Title.isbn,
                isbns,
                Copy.title_id == Title.id,
                Copy.barcode.is_(None),
            )
        ):
            copy = copies.setdefault(values[0], _Copy(*values))
            unlabelled.setdefault(isbn, []).append(copy)
        loans = {
            r.id: _Loan(*r)
            for r in rows(_LOAN_COLUMNS, Loan.copy_id, copies, Loan.returned_at.is_(None))
        }
        open_loans = {loan.copy_id: loan for loan in loans.values() if loan.copy_id is not None}
        loans |= {r.id: _Loan(*r) for r in rows(_LOAN_COLUMNS, Loan.id, set(loan_ids) - set(loans))}
        lent = {loan.copy_id for loan in loans.values() if loan.copy_id is not None}
        copies |= {r.id: _Copy(*r) for r in rows(_COPY_COLUMNS, Copy.id, lent - set(copies))}
        patrons = {r.card: _Patron(*r) for r in rows(_PATRON_COLUMNS, Patron.card, cards)}
        return cls(copies, barcodes, unlabelled, loans, open_loans, patrons)

    def copy(self, code: str | None, *, for_loan: bool = False) -> _Copy | None:
        """The copy a kiosk means by *code*: its barcode, or its title's ISBN if unlabelled."""
        if not code:
            return None
        if code in self.barcodes:
            return self.barcodes[code]
        unlabelled = self.unlabelled.get(code, [])
        if for_loan:  # any unlabelled copy on the shelf is as good as another
            on_shelf = [c for c in unlabelled if c.status != CopyStatus.ON_LOAN]
            unlabelled = on_shelf or unlabelled
        return unlabelled[0] if unlabelled else None

    def copy_of(self, loan: _Loan) -> _Copy | None:
        return None if loan.copy_id is None else self.copies.get(loan.copy_id)

    def open_loan(self, copy: _Copy) -> _Loan | None:
        return self.open_loans.get(copy.id)

    def opened(self, loan: _Loan) -> None:
        self.loans[loan.id] = loan
        self.new_loans.append(loan)
        if loan.copy_id is not None and loan.returned_at is None:
            self.open_loans[loan.copy_id] = loan

    def closed(self, loan: _Loan) -> None:
        if loan.copy_id is not None and self.open_loans.get(loan.copy_id) is loan:
            del self.open_loans[loan.copy_id]

    def change(self, row: _Copy | _Loan) -> None:
        self.changed.setdefault(id(row), row)

    def write(self, session: Session, kiosk: Kiosk) -> list[wire.Conflict]:
        """Write what the batch changed, one statement per kind of row; the conflicts found."""
        new = {id(loan) for loan in self.new_loans}
        loans = [row for row in self.changed.values() if isinstance(row, _Loan)]
        copies = [row for row in self.changed.values() if isinstance(row, _Copy)]
        # Loans held before only ever close, so updating them first and inserting the new
        # ones after keeps one open loan per copy at every step.
        updated = [loan for loan in loans if id(loan) not in new]
        executemany(
            session,
            _UPDATE_LOAN,
            list(map(attrgetter(*_LOAN_CHANGING, "id"), updated)),
            [*_LOAN_CHANGING, "loan_id"],
        )
        names = [c.name for c in _LOAN_COLUMNS]
        executemany(session, _INSERT_LOAN, list(map(attrgetter(*names), self.new_loans)), names)
        executemany(
            session,
            _UPDATE_COPY,
            [(copy.status, copy.id) for copy in copies],
            ["status", "copy_id"],
        )
        conflicts = []
        if self.conflicts:
            ids = session.scalars(
                insert(Conflict).returning(Conflict.id, sort_by_parameter_order=True),
                [row | {"kiosk_id": kiosk.id} for row in self.conflicts],
            ).all()
            conflicts = [
                wire.Conflict(
                    id=conflict_id,
                    kind=row["kind"],
                    copy_code=row["copy_code"],
                    loan=row["loan_id"],
                    detail=row["detail"],
                )
                for conflict_id, row in zip(ids, self.conflicts, strict=True)
            ]
        record_changes(
            session,
            [
                ("copy", str(row.id), copy_data(row))
                if isinstance(row, _Copy)
                else ("loan", row.id, loan_data(row))
                for row in self.changed.values()
                # A loan of a copy the office does not know stays here.
                if isinstance(row, _Copy) or row.copy_id is not None
            ],
        )
        return conflicts


# -- applying one event ----------------------------------------------------------------------


@dataclass
class _Context:
    session: Session  # for what is not a loan or a copy (stocktakes: a few rows a scan)
    books: _Books
    kiosk: Kiosk
    event: _Held

    @property
    def at(self) -> dt.datetime:
        return self.event.corrected_at

    def conflict(self, kind: str, detail: str, *, copy: str | None, loan: str | None) -> None:
        self.books.conflicts.append(
            dict(
                kind=kind,
                event_uuid=self.event.uuid,
                copy_code=copy,
                loan_id=loan,
                detail=detail,
                found_at=self.event.received_at,
            )
        )


def find_copy(session: Session, code: str) -> Copy | None:
    """The copy a librarian means by *code*: its barcode, or its title's ISBN if unlabelled."""
    copy = session.scalar(select(Copy).where(Copy.barcode == code))
    if copy is not None:
        return copy
    return session.scalar(
        select(Copy)
        .join(Title)
        .where(Title.isbn == code, Copy.barcode.is_(None))
        .order_by(Copy.id)
        .limit(1)
    )


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
    loan = _Loan(
        id=loan_id,
        copy_id=copy.id if copy is not None else None,
        copy_code=code,
        patron_id=patron.id if patron is not None else None,
        patron_card=p.patron,
        kiosk_id=ctx.kiosk.id,
        lent_where=p.where or ctx.kiosk.name,
        lent_at=ctx.at,
        due_date=p.due,
        returned_at=None,
        renewals=0,
        implicit_return=False,
        not_overdue=False,
        undone=False,
        override_by=p.override_by,
    )
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
        books.change(current)
    books.opened(loan)
    if copy is not None:
        copy.status = CopyStatus.ON_LOAN
        books.change(copy)
    books.change(loan)


def _return(ctx: _Context, p: wire.Return) -> None:
    books = ctx.books
    loan = books.loans.get(p.loan)
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
    books.closed(loan)
    copy = books.copy_of(loan)
    if copy is not None and copy.status in (CopyStatus.ON_LOAN, CopyStatus.LOST):
        copy.status = CopyStatus.AVAILABLE
        books.change(copy)
    books.change(loan)


def _undo(ctx: _Context, p: wire.CheckoutUndone) -> None:
    books = ctx.books
    loan = books.loans.get(p.loan)
    if loan is None or loan.returned_at is not None:
        return
    loan.returned_at, loan.undone = max(ctx.at, loan.lent_at), True
    books.closed(loan)
    copy = books.copy_of(loan)
    if copy is not None and copy.status == CopyStatus.ON_LOAN:
        copy.status = CopyStatus.AVAILABLE
        books.change(copy)
    books.change(loan)


def _renew(ctx: _Context, p: wire.Renew) -> None:
    loan = ctx.books.loans.get(p.loan)
    if loan is None:
        return
    loan.renewals += 1
    loan.due_date = p.due
    ctx.books.change(loan)


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
    ctx.books.change(copy)


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
        copy = _unlabelled_not_seen(ctx, stocktake, copy)
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
        _found_after(ctx, stocktake, copy, p)


def _unlabelled_not_seen(ctx: _Context, stocktake: Stocktake, copy: _Copy) -> _Copy:
    """A copy known by its title's ISBN only: one of its title's not yet seen in *stocktake*,
    so that two such books on the shelves count as two."""
    ctx.session.flush()  # the scans of this batch so far are seen too
    seen = select(StocktakeScan.copy_id).where(
        StocktakeScan.stocktake_id == stocktake.id, StocktakeScan.copy_id.is_not(None)
    )
    other = ctx.session.execute(
        select(*_COPY_COLUMNS)
        .where(Copy.title_id == copy.title_id, Copy.barcode.is_(None), Copy.id.not_in(seen))
        .order_by(Copy.id)
        .limit(1)
    ).first()
    if other is None:
        return copy
    return ctx.books.copies.setdefault(other.id, _Copy(*other))


def _found_after(ctx: _Context, stocktake: Stocktake, copy: _Copy, p: wire.StocktakeScan) -> None:
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
    ctx.books.change(copy)
    ctx.conflict(
        "found_after_stocktake",
        f"{p.copy_code} was marked missing when the stocktake {stocktake.name} was closed; "
        f"a kiosk that synced later had counted it on shelf {p.shelf}: it is available again",
        copy=p.copy_code,
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
_PATRON_EVENTS = (wire.Checkout,)  # the others find the patron by the loan
_LOAN_EVENTS = (wire.Checkout, wire.Return, wire.Renew, wire.CheckoutUndone)
_COPY_EVENTS = (*_LOAN_EVENTS, wire.CopyStatusSet, wire.StocktakeScan)
