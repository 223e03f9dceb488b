"""Librarians' accounts and sign-in sessions (the office's pages; kiosks use tokens instead).

Passwords are kept as argon2 hashes. A session is a random token in the browser's cookie; the
office keeps only its hash, with a CSRF token for the session's forms. A session ends when the
librarian signs out, after IDLE without a request, or LONGEST after signing in.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kiosk.clock import utc_now
from sync.server.models import Librarian, LibrarianSession
from sync.server.services import N_, Refusal
from sync.server.services.kiosks import hash_secret

IDLE = dt.timedelta(hours=2)
LONGEST = dt.timedelta(hours=12)
MIN_PASSWORD = 8
_hasher = PasswordHasher()


@functools.cache
def _nobody() -> str:
    """Checked against when the name is unknown, so a wrong name takes as long as a wrong
    password (made at the first sign-in, not each time the server or a command starts)."""
    return _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class LibrarianLine:
    id: int
    name: str
    created_at: dt.datetime
    created_by: str | None


@dataclass(frozen=True)
class SignedIn:
    """A session opened by signing in: the cookie's token is given once, here."""

    token: str
    csrf_token: str
    librarian: LibrarianLine


@dataclass(frozen=True)
class CurrentSession:
    librarian: LibrarianLine
    csrf_token: str


def _line(librarian: Librarian, by: str | None = None) -> LibrarianLine:
    return LibrarianLine(librarian.id, librarian.name, librarian.created_at, by)


def create_librarian(
    session: Session, name: str, password: str, *, by: int | None = None
) -> LibrarianLine:
    """A new account; refused for a name taken already or a password too short."""
    name = name.strip()
    if not name or len(name) > 64:
        raise Refusal(N_("A librarian's name is 1 to 64 characters."))
    if len(password) < MIN_PASSWORD:
        raise Refusal(N_("A password needs at least {count} characters."), count=MIN_PASSWORD)
    if session.scalar(select(Librarian).where(Librarian.name == name)) is not None:
        raise Refusal(N_("There is already a librarian named {name}."), name=name)
    librarian = Librarian(
        name=name, password_hash=_hasher.hash(password), created_at=utc_now(), created_by=by
    )
    session.add(librarian)
    session.flush()
    return _line(librarian)


def librarians(session: Session) -> list[LibrarianLine]:
    rows = list(session.scalars(select(Librarian).order_by(Librarian.name)))
    names = {lib.id: lib.name for lib in rows}
    return [_line(lib, names.get(lib.created_by or 0)) for lib in rows]


def sign_in(session: Session, name: str, password: str) -> SignedIn | None:
    """A new session for the right name and password; None for anything else."""
    librarian = session.scalar(select(Librarian).where(Librarian.name == name.strip()))
    try:
        _hasher.verify(librarian.password_hash if librarian else _nobody(), password)
    except (VerificationError, InvalidHashError):
        return None
    if librarian is None:
        return None
    if _hasher.check_needs_rehash(librarian.password_hash):
        librarian.password_hash = _hasher.hash(password)
    now = utc_now()
    session.execute(delete(LibrarianSession).where(LibrarianSession.last_seen < now - LONGEST))
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        LibrarianSession(
            token_hash=hash_secret(token),
            librarian_id=librarian.id,
            csrf_token=csrf,
            created_at=now,
            last_seen=now,
        )
    )
    return SignedIn(token, csrf, _line(librarian))


def current(session: Session, token: str | None) -> CurrentSession | None:
    """The session of this cookie token, if it has not ended; its idle time starts again."""
    if not token:
        return None
    row = session.get(LibrarianSession, hash_secret(token))
    now = utc_now()
    if row is None:
        return None
    if now - row.last_seen > IDLE or now - row.created_at > LONGEST:
        session.delete(row)
        return None
    if now - row.last_seen > dt.timedelta(minutes=1):  # not a write for every click
        row.last_seen = now
    return CurrentSession(_line(row.librarian), row.csrf_token)


def sign_out(session: Session, token: str | None) -> None:
    if token:
        session.execute(
            delete(LibrarianSession).where(LibrarianSession.token_hash == hash_secret(token))
        )
