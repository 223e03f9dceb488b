"""Kiosks: enrolment codes, enrolment, tokens, the list the librarian reads, revoking."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.clock import CLOCK_WARNING_SECONDS, utc_now
from sync.server.models import EnrollCode, Event, Kiosk
from sync.server.services import NotAllowed, NotFound, NotIdentified

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # nothing to mistake: no 0/O, 1/I
CODE_VALID = dt.timedelta(days=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_enroll_code(session: Session) -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    code = f"{raw[:4]}-{raw[4:]}"
    moment = utc_now()
    session.add(
        EnrollCode(
            code_hash=hash_secret(_normal_code(code)),
            created_at=moment,
            expires_at=moment + CODE_VALID,
        )
    )
    return code


def _normal_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


def enroll(session: Session, code: str, name: str) -> tuple[Kiosk, str]:
    """Exchange a one-time code for a new kiosk and its secret token (returned once only)."""
    row = session.get(EnrollCode, hash_secret(_normal_code(code)))
    moment = utc_now()
    if row is None or row.used_by is not None or row.expires_at < moment:
        raise NotAllowed(
            "this enrolment code is unknown, used or expired: ask the office for a new one"
        )
    token = secrets.token_urlsafe(32)
    kiosk = Kiosk(name=name, token_hash=hash_secret(token), enrolled_at=moment)
    session.add(kiosk)
    session.flush()
    row.used_by = kiosk.id
    return kiosk, token


def authenticate(session: Session, token: str | None) -> Kiosk:
    """The kiosk this token was given to, or a Refusal saying why not."""
    if not token:
        raise NotIdentified("no kiosk token: enroll this kiosk first (kiosk enroll URL CODE)")
    kiosk = session.scalar(select(Kiosk).where(Kiosk.token_hash == hash_secret(token)))
    if kiosk is None:
        raise NotIdentified("this kiosk token is not known here: enroll the kiosk again")
    if kiosk.revoked_at is not None:
        raise NotAllowed(f"kiosk {kiosk.name} was revoked at the office: enroll it again")
    return kiosk


@dataclass(frozen=True)
class KioskLine:
    id: int
    name: str
    enrolled_at: dt.datetime
    revoked: bool
    last_sync: dt.datetime | None
    events_waiting: int  # on the kiosk, as it last said
    events_held_back: int  # here, not applied until the missing ones before them arrive
    clock_offset_seconds: float | None  # office time minus kiosk time
    clock_backwards: bool  # its newest events were written by a clock that went back
    version: str | None  # its software, as it last said
    warning: str


def clock_warning(offset: float | None, backwards: bool) -> str:
    words = []
    if offset is not None and abs(offset) > CLOCK_WARNING_SECONDS:
        words.append(f"clock off by {offset:+.0f} s")
    if backwards:
        words.append("clock went backwards")
    return "; ".join(words)


def kiosks(session: Session) -> list[KioskLine]:
    held_back = dict(
        session.execute(
            select(Event.kiosk_id, func.count()).where(~Event.applied).group_by(Event.kiosk_id)
        ).all()
    )
    return [
        KioskLine(
            k.id,
            k.name,
            k.enrolled_at,
            k.revoked_at is not None,
            k.last_sync,
            k.events_waiting,
            held_back.get(k.id, 0),
            k.clock_offset_seconds,
            k.clock_backwards,
            k.version,
            clock_warning(k.clock_offset_seconds, k.clock_backwards),
        )
        for k in session.scalars(select(Kiosk).where(~Kiosk.desk).order_by(Kiosk.id))
    ]


def revoke(session: Session, name_or_id: str) -> Kiosk:
    kiosk = find_kiosk(session, name_or_id)
    kiosk.revoked_at = kiosk.revoked_at or utc_now()
    return kiosk


def find_kiosk(session: Session, name_or_id: str) -> Kiosk:
    query = select(Kiosk).where(Kiosk.name == name_or_id, ~Kiosk.desk)
    if name_or_id.isdigit():
        query = select(Kiosk).where(Kiosk.id == int(name_or_id), ~Kiosk.desk)
    found = list(session.scalars(query))
    if len(found) != 1:
        raise NotFound(f"no single kiosk named {name_or_id!r}: see `library-server kiosks`")
    return found[0]
