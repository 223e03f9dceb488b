"""What the office does for kiosks and the librarian: enrolment, tokens, pulls and listings."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync import wire
from sync.server import ledger
from sync.server.db import Database
from sync.server.models import Change, Conflict, EnrollCode, Kiosk, Loan

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # nothing to mistake: no 0/O, 1/I
CODE_VALID = dt.timedelta(days=1)
CLOCK_WARNING_SECONDS = 180  # "a few minutes"


class Refusal(Exception):
    """A kiosk's request the office turns down; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_enroll_code(session: Session) -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    code = f"{raw[:4]}-{raw[4:]}"
    moment = now()
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
    moment = now()
    if row is None or row.used_by is not None or row.expires_at < moment:
        raise Refusal(
            403, "this enrolment code is unknown, used or expired: ask the office for a new one"
        )
    token = secrets.token_urlsafe(32)
    kiosk = Kiosk(name=name, token_hash=hash_secret(token), enrolled_at=moment)
    session.add(kiosk)
    session.flush()
    row.used_by = kiosk.id
    return kiosk, token


def authenticate(session: Session, authorization: str | None) -> Kiosk:
    """The kiosk whose token is in the Authorization header, or a Refusal saying why not."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refusal(401, "no kiosk token: enroll this kiosk first (kiosk enroll URL CODE)")
    kiosk = session.scalar(select(Kiosk).where(Kiosk.token_hash == hash_secret(token.strip())))
    if kiosk is None:
        raise Refusal(401, "this kiosk token is not known here: enroll the kiosk again")
    if kiosk.revoked_at is not None:
        raise Refusal(403, f"kiosk {kiosk.name} was revoked at the office: enroll it again")
    return kiosk


def changes_since(
    database: Database, session: Session, cursor: str | None, limit: int
) -> wire.ChangesPage:
    """One page of changes after *cursor*; from the start if the cursor is another database's."""
    database_id = database.database_id(session)
    cursor_db, version = wire.split_cursor(cursor)
    top = session.scalar(select(func.max(Change.version))) or 0
    reset = bool(cursor) and (cursor_db != database_id or version > top)
    if reset or not cursor:
        version = 0
    total = session.scalar(select(func.count()).where(Change.version > version)) or 0
    rows = list(
        session.scalars(
            select(Change).where(Change.version > version).order_by(Change.version).limit(limit)
        )
    )
    last = rows[-1].version if rows else version
    return wire.ChangesPage(
        cursor=wire.make_cursor(database_id, last),
        reset=reset,
        more=total > len(rows),
        total=total,
        changes=[
            wire.Change(version=r.version, kind=r.kind, key=r.key, data=r.data)  # type: ignore[arg-type]
            for r in rows
        ],
        server_time=now(),
    )


@dataclass(frozen=True)
class KioskLine:
    id: int
    name: str
    enrolled_at: dt.datetime
    revoked: bool
    last_sync: dt.datetime | None
    events_waiting: int
    clock_offset_seconds: float | None
    warning: str

    def as_dict(self) -> dict[str, Any]:
        return {
            k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in vars(self).items()
        }


def clock_warning(offset: float | None, backwards: bool) -> str:
    words = []
    if offset is not None and abs(offset) > CLOCK_WARNING_SECONDS:
        words.append(f"clock off by {offset:+.0f} s")
    if backwards:
        words.append("clock went backwards")
    return "; ".join(words)


def kiosks(session: Session) -> list[KioskLine]:
    return [
        KioskLine(
            k.id,
            k.name,
            k.enrolled_at,
            k.revoked_at is not None,
            k.last_sync,
            k.events_waiting,
            k.clock_offset_seconds,
            clock_warning(k.clock_offset_seconds, k.clock_backwards),
        )
        for k in session.scalars(select(Kiosk).order_by(Kiosk.id))
    ]


def revoke(session: Session, name_or_id: str) -> Kiosk:
    kiosk = find_kiosk(session, name_or_id)
    kiosk.revoked_at = kiosk.revoked_at or now()
    return kiosk


def find_kiosk(session: Session, name_or_id: str) -> Kiosk:
    query = select(Kiosk).where(Kiosk.name == name_or_id)
    if name_or_id.isdigit():
        query = select(Kiosk).where(Kiosk.id == int(name_or_id))
    found = list(session.scalars(query))
    if len(found) != 1:
        raise Refusal(404, f"no single kiosk named {name_or_id!r}: see `library-server kiosks`")
    return found[0]


def current_loans(session: Session) -> list[dict[str, Any]]:
    loans = session.scalars(
        select(Loan).where(Loan.returned_at.is_(None)).order_by(Loan.due_date, Loan.lent_at)
    )
    return [
        {
            "loan": loan.id,
            "patron": loan.patron_card,
            "name": loan.patron.name if loan.patron else None,
            "class": loan.patron.class_name if loan.patron else None,
            "copy": loan.copy_code,
            "title": loan.copy.title.title if loan.copy else None,
            "lent_at": loan.lent_at.isoformat(),
            "due": loan.due_date.isoformat(),
            "where": loan.lent_where,
        }
        for loan in loans
    ]


def conflicts(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Conflict, Kiosk.name)
        .join(Kiosk, Kiosk.id == Conflict.kiosk_id)
        .order_by(Conflict.id)
    )
    return [
        {
            "id": c.id,
            "kind": c.kind,
            "kiosk": name,
            "copy": c.copy_code,
            "loan": c.loan_id,
            "detail": c.detail,
            "found_at": c.found_at.isoformat(),
        }
        for c, name in rows
    ]


def push_events(
    database: Database, authorization: str | None, body: wire.PushRequest
) -> wire.PushReply:
    """Store and apply a batch of a kiosk's events, as the API receives them."""
    received = now()
    with database.write() as session:
        kiosk = authenticate(session, authorization)
        offset = (received - body.sent_at).total_seconds()
        return receive_events(
            database,
            session,
            kiosk,
            body.events,
            acked_seq=body.acked_seq,
            waiting=body.waiting,
            offset=offset,
        )


def receive_events(
    database: Database,
    session: Session,
    kiosk: Kiosk,
    events: list[wire.WireEvent],
    *,
    acked_seq: int,
    waiting: int,
    offset: float,
) -> wire.PushReply:
    """Store and apply *events* (from the API or a USB bundle) in the caller's transaction."""
    if acked_seq > kiosk.applied_seq:
        # The kiosk holds acknowledgements this database no longer has: it was restored from
        # a backup. A new identity makes every kiosk take a fresh full copy.
        database.new_identity(session)
    kiosk.clock_offset_seconds = offset
    result = ledger.receive(session, kiosk, events, now=now(), offset=offset, waiting=waiting)
    return wire.PushReply(
        highest_seq=result.highest_seq,
        gaps=result.gaps,
        stored=result.stored,
        conflicts=[
            wire.Conflict(
                id=c.id, kind=c.kind, copy_code=c.copy_code, loan=c.loan_id, detail=c.detail
            )
            for c in result.conflicts
        ],
        server_time=now(),
        clock_offset_seconds=offset,
    )
