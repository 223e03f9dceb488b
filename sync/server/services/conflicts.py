"""Conflicts: what kiosks reported that did not fit the office's records, explained in plain
words, and resolved by a librarian with a note (then off the list, kept for the record)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.clock import utc_now
from sync import wire
from sync.server.models import Conflict, Event, Kiosk, Loan, Patron
from sync.server.services import N_, NotFound, Refusal, Sentence, plan
from sync.server.services.ledger import find_copy

NOTE_LENGTH = 500


@dataclass(frozen=True)
class ConflictLine:
    id: int
    kind: str
    kiosk: str  # the kiosk's name
    copy: str | None
    loan: str | None
    detail: str  # as the ledger recorded it (English, for the command line and scripts)
    found_at: dt.datetime
    explained: Sentence  # what happened and what to do, in plain words
    resolved_at: dt.datetime | None
    resolved_by: str | None
    note: str | None


def conflicts(session: Session, *, resolved: bool = False) -> list[ConflictLine]:
    """The conflicts still to look into (oldest first); with *resolved*, those resolved
    (newest first)."""
    query = select(Conflict, Kiosk.name).join(Kiosk, Kiosk.id == Conflict.kiosk_id)
    if resolved:
        query = query.where(Conflict.resolved_at.is_not(None)).order_by(
            Conflict.resolved_at.desc(), Conflict.id.desc()
        )
    else:
        query = query.where(Conflict.resolved_at.is_(None)).order_by(Conflict.id)
    return [
        ConflictLine(
            c.id,
            c.kind,
            name,
            c.copy_code,
            c.loan_id,
            c.detail,
            c.found_at,
            explain(session, c, name),
            c.resolved_at,
            c.resolved_by,
            c.note,
        )
        for c, name in session.execute(query)
    ]


def open_count(session: Session) -> int:
    query = select(func.count()).select_from(Conflict).where(Conflict.resolved_at.is_(None))
    return session.scalar(query) or 0


def resolve(session: Session, conflict_id: int, note: str, by: str) -> Conflict:
    """Mark a conflict looked into, with what the librarian found or did."""
    note = " ".join(note.split())
    if not note:
        raise Refusal(N_("Write in a few words what you found or did: the note is kept."))
    if len(note) > NOTE_LENGTH:
        raise Refusal(N_("The note is too long: at most {most} characters."), most=NOTE_LENGTH)
    conflict = session.get(Conflict, conflict_id)
    if conflict is None:
        raise NotFound(N_("There is no conflict number {id}."), id=conflict_id)
    if conflict.resolved_at is not None:
        raise Refusal(
            N_("Conflict {id} was resolved already, by {who} on {day}."),
            id=conflict_id,
            who=conflict.resolved_by or "?",
            day=_day(session, conflict.resolved_at),
        )
    conflict.resolved_at, conflict.resolved_by, conflict.note = utc_now(), by[:64], note
    return conflict


# -- in plain words --------------------------------------------------------------------------


def explain(session: Session, conflict: Conflict, kiosk: str) -> Sentence:
    """What happened and what the librarian may do, from the records the conflict speaks of."""
    event = session.scalar(select(Event).where(Event.uuid == conflict.event_uuid))
    payload = wire.payload_of(event.type, event.payload) if event is not None else None
    code = conflict.copy_code or "?"
    copy = find_copy(session, conflict.copy_code) if conflict.copy_code else None
    values: dict[str, object] = {
        "kiosk": kiosk,
        "copy": code,
        "title": copy.title.title if copy is not None else code,
        "day": _day(session, event.corrected_at if event is not None else conflict.found_at),
    }
    card = getattr(payload, "patron", None)
    if card:
        values["card"] = card
        values["reader"] = _reader(session, card)
    kind = conflict.kind
    if kind == "unknown_copy" and isinstance(payload, wire.CopyStatusSet):
        values["status"] = payload.status.value
        return Sentence(
            N_(
                "At {kiosk} on {day}, a small librarian marked a book labelled {copy} as "
                "{status}, but the office has no book with that label. Add the book on the "
                "Books page, or look at its label: it may be misprinted."
            ),
            values,
        )
    if kind == "unknown_copy":
        return Sentence(
            N_(
                "At {kiosk} on {day}, a book labelled {copy} was lent to {reader}, but the "
                "office has no book with that label. Add the book on the Books page, or look "
                "at its label: it may be misprinted."
            ),
            values,
        )
    if kind == "checkout_of_lost":
        return Sentence(
            N_(
                "“{title}” ({copy}) was marked lost here, but at {kiosk} on {day} it was lent "
                "to {reader}: the book was found. It counts as on loan to them now; nothing "
                "else to do."
            ),
            values,
        )
    if kind == "checkout_of_withdrawn":
        return Sentence(
            N_(
                "“{title}” ({copy}) was withdrawn here, but at {kiosk} on {day} it was lent "
                "to {reader}: it was still on the shelves. It counts as on loan to them now; "
                "take it off the shelves when it comes back."
            ),
            values,
        )
    if kind == "unknown_patron":
        return Sentence(
            N_(
                "At {kiosk} on {day}, “{title}” ({copy}) was lent to card {card}, which the "
                "office does not know. Add the reader on the Students page, or find out whose "
                "card it is and ask for the book back."
            ),
            values,
        )
    if kind == "patron_deleted":
        return Sentence(
            N_(
                "{reader} was taken off the readers here, but borrowed “{title}” ({copy}) at "
                "{kiosk} on {day}, before the kiosk heard of it. The loan is kept: ask for "
                "the book back."
            ),
            values,
        )
    if kind == "lent_twice":
        earlier, later = _two_loans(session, conflict)
        if earlier is not None and later is not None:
            values |= {
                "earlier_reader": _reader(session, earlier.patron_card),
                "earlier_where": earlier.lent_where,
                "later_reader": _reader(session, later.patron_card),
                "later_where": later.lent_where,
            }
            return Sentence(
                N_(
                    "“{title}” ({copy}) was lent twice while the kiosks could not reach the "
                    "office: at {earlier_where} to {earlier_reader}, then at {later_where} to "
                    "{later_reader}. The first loan counts as returned when the second began "
                    "(never overdue). Check that {later_reader} has the book."
                ),
                values,
            )
    if kind == "return_of_copy_on_shelf":
        return Sentence(
            N_(
                "“{title}” ({copy}) was returned at {kiosk} on {day}, but the office already "
                "had it on the shelf: it was scanned back twice, or its loan never reached the "
                "office. No loan is open for it; check that the book is on the shelf."
            ),
            values,
        )
    return Sentence(N_("At {kiosk} on {day}: {detail}"), values | {"detail": conflict.detail})


def _reader(session: Session, card: str | None) -> str:
    if not card:
        return "?"
    name = session.scalar(select(Patron.name).where(Patron.card == card))
    return f"{name} ({card})" if name else card


def _two_loans(session: Session, conflict: Conflict) -> tuple[Loan | None, Loan | None]:
    """The two loans of a copy lent twice: (the one that counts as returned, the later one)."""
    this = session.get(Loan, conflict.loan_id) if conflict.loan_id else None
    if this is None:
        return None, None
    query = select(Loan).where(Loan.id != this.id)
    if this.copy_id is not None:
        query = query.where(Loan.copy_id == this.copy_id)
    else:
        query = query.where(Loan.copy_code == this.copy_code)
    for other in session.scalars(query):
        if other.not_overdue and other.returned_at == this.lent_at:
            return other, this
        if this.not_overdue and this.returned_at == other.lent_at:
            return this, other
    return None, None


def _day(session: Session, moment: dt.datetime) -> str:
    """The school's day (the plan's time zone), as the librarian writes dates."""
    return moment.astimezone(plan.current(session).zone()).date().isoformat()
