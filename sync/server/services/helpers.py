"""Small librarians: students who open the kiosks' helpers' menu with their card and a PIN.

The librarian marks them (and unmarks them) and sets their PINs here. A PIN is kept only as a
salted hash, in the form the kiosks check (kiosk.pins), and reaches every kiosk with the rest
of the student through the change log; a kiosk that holds a new PIN forgets the wrong tries
of the old one. What they did in the helpers' menu comes back with the kiosks' events: the
menu opened, wrong PINs, books marked, piles of returns taken in, loans over the limit,
sessions opened for a student without a card, books counted for a stocktake.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from kiosk.codes import code_key
from kiosk.models import PatronKind
from kiosk.pins import hash_pin
from sync import wire
from sync.server.models import Copy, Event, Kiosk, Patron, Title
from sync.server.services import N_, NotFound, Refusal, Sentence
from sync.server.services.books import STATUS_NAMES
from sync.server.services.changes import changed
from sync.server.services.students import WITH_PIN, reading_order

PIN_DIGITS = range(4, 7)  # what the kiosks' keypad takes
MAX_ACTIONS = 300  # listed at most, newest first


@dataclass(frozen=True)
class Helper:
    card: str
    name: str
    class_name: str
    kind: str
    has_pin: bool


@dataclass(frozen=True)
class Action:
    """One thing a small librarian did at a kiosk."""

    at: dt.datetime  # the kiosk's time, corrected by its clock's offset from the office's
    kiosk: str
    card: str
    name: str | None  # None: a card the office does not know (any longer)
    what: Sentence


def helper(patron: Patron) -> Helper:
    return Helper(patron.card, patron.name, patron.class_name, patron.kind, bool(patron.pin_hash))


def helpers(session: Session) -> list[Helper]:
    """The small librarians, by class and name."""
    found = session.scalars(
        select(Patron).where(Patron.kind == PatronKind.HELPER, Patron.active, ~Patron.deleted)
    )
    return [helper(p) for p in sorted(found, key=reading_order)]


def _patron(session: Session, card: str) -> Patron:
    patron = session.scalar(select(Patron).where(Patron.card == code_key(card.strip())))
    if patron is None or patron.deleted:
        raise NotFound(N_("No student has card {card}."), card=card.strip())
    return patron


def make_helper(session: Session, card: str) -> Helper:
    """A student becomes a small librarian (a PIN is still to be set for the helpers' menu)."""
    patron = _patron(session, card)
    if patron.kind not in (PatronKind.STUDENT, PatronKind.HELPER):
        raise Refusal(N_("{name} is not a student: only a student can be a small librarian."),
                      name=patron.name)  # fmt: skip
    if not patron.active:
        raise Refusal(N_("{name} is inactive: let them borrow again first."), name=patron.name)
    if patron.kind != PatronKind.HELPER:
        patron.kind = PatronKind.HELPER
        changed(session, patron)
    return helper(patron)


def unmake_helper(session: Session, card: str) -> Helper:
    """A small librarian back to a student like the others; their PIN is forgotten."""
    patron = _patron(session, card)
    if patron.kind != PatronKind.HELPER:
        raise Refusal(N_("{name} is not a small librarian."), name=patron.name)
    patron.kind, patron.pin_hash = PatronKind.STUDENT, None
    changed(session, patron)
    return helper(patron)


def set_pin(session: Session, card: str, pin: str) -> Helper:
    """Set (or set anew) the PIN a small librarian types after their card at a kiosk."""
    patron = _patron(session, card)
    if patron.kind not in WITH_PIN:
        raise Refusal(N_("{name} is not a small librarian: mark them as one first."),
                      name=patron.name)  # fmt: skip
    if not (pin.isascii() and pin.isdigit() and len(pin) in PIN_DIGITS):
        raise Refusal(N_("A PIN is {fewest} to {most} digits."),
                      fewest=PIN_DIGITS[0], most=PIN_DIGITS[-1])  # fmt: skip
    patron.pin_hash = hash_pin(pin)
    changed(session, patron)
    return helper(patron)


# -- what they did -------------------------------------------------------------------------------


def _payload(key: str) -> ColumnElement[str]:
    """The text of one key of an event's payload, in SQL (NULL where it is null or missing)."""
    return Event.payload[key].as_string()


# The small librarian's card in each event that is a helper's doing (None in the others).
_HELPER = case(
    (Event.type.in_(["wrong_pin", "card_locked"]), _payload("card")),
    (Event.type == "checkout", _payload("override_by")),
    (Event.type == "session_started", _payload("helper")),
    (Event.type.in_(["supervisor_opened", "copy_status", "return"]), _payload("by")),
)


def actions(session: Session, card: str | None = None, *, limit: int = MAX_ACTIONS) -> list[Action]:
    """What small librarians did at the kiosks, newest first (one of them, given *card*). The
    books counted for a stocktake are a line for each shelf."""
    by, counter, shelf = _HELPER, _payload("by"), _payload("shelf")
    done = (
        select(Event, Kiosk.name, by)
        .join(Kiosk, Event.kiosk_id == Kiosk.id)
        .where(by.is_not(None), ~Kiosk.desk)
        .order_by(Event.corrected_at.desc(), Event.id.desc())
        .limit(limit)
    )
    last = func.max(Event.corrected_at)
    counted = (
        select(last, Kiosk.name, counter, shelf, func.count())
        .join(Kiosk, Event.kiosk_id == Kiosk.id)
        .where(Event.type == "stocktake_scan", counter.is_not(None), ~Kiosk.desk)
        .group_by(Kiosk.id, Kiosk.name, counter, _payload("stocktake"), shelf)
        .order_by(last.desc())
        .limit(limit)
    )
    if card:
        done = done.where(by == code_key(card.strip()))
        counted = counted.where(counter == code_key(card.strip()))
    found = list(session.execute(done).all())
    shelves = list(session.execute(counted).all())
    names = _names(
        session,
        {b for _e, _k, b in found}
        | {b for _a, _k, b, _s, _n in shelves}
        | {str(e.payload["patron"]) for e, _k, _b in found if e.payload.get("patron")},
    )
    titles = _titles(session, {str(e.payload.get("copy")) for e, _k, _b in found})
    lines = [
        Action(e.corrected_at, k, b, names.get(b), _what(e, names, titles)) for e, k, b in found
    ]
    lines += [
        Action(at, kiosk, b, names.get(b),
               Sentence(N_("stocktake: {count} counted on shelf {shelf}"),
                        {"count": count, "shelf": place}))
        for at, kiosk, b, place, count in shelves
    ]  # fmt: skip
    return sorted(lines, key=lambda line: line.at, reverse=True)[:limit]


def _names(session: Session, cards: set[str]) -> dict[str, str]:
    rows = session.execute(select(Patron.card, Patron.name).where(Patron.card.in_(cards)))
    return {card: name for card, name in rows}


def _titles(session: Session, codes: set[str]) -> dict[str, str]:
    by_barcode = session.execute(
        select(Copy.barcode, Title.title).join(Title).where(Copy.barcode.in_(codes))
    )
    by_isbn = session.execute(select(Title.isbn, Title.title).where(Title.isbn.in_(codes)))
    return {code: title for code, title in [*by_isbn, *by_barcode] if code}


def _what(event: Event, names: dict[str, str], titles: dict[str, str]) -> Sentence:
    payload = wire.payload_of(event.type, event.payload)
    code = str(event.payload.get("copy") or "")
    card = str(event.payload.get("patron") or "")
    values: dict[str, object] = {
        "book": Sentence(N_("“{title}” ({copy})"), {"title": titles.get(code, "?"), "copy": code}),
        "reader": f"{names[card]} ({card})" if card in names else card or "?",
    }
    match payload:
        case wire.SupervisorOpened():
            return Sentence(N_("opened the helpers' menu"))
        case wire.WrongPin(attempts_left=left):
            return Sentence(N_("typed a wrong PIN ({left} tries left)"), {"left": left})
        case wire.CardLocked():
            return Sentence(N_("card locked for a while after wrong PINs"))
        case wire.CopyStatusSet(status=status):
            values["status"] = Sentence(STATUS_NAMES[status])
            return Sentence(N_("marked {book} {status}"), values)
        case wire.Checkout():
            return Sentence(N_("let {reader} borrow {book} over the limit"), values)
        case wire.Return():
            return Sentence(N_("took back {book} with a pile of returns"), values)
        case wire.SessionStarted():
            return Sentence(N_("opened a session for {reader}, who had no card"), values)
    return Sentence(event.type)
