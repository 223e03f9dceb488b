"""Who is signed in, and the CSRF check of every form: FastAPI dependencies of the pages.

Every page router is included with ``require_librarian`` and ``check_csrf`` (see
``sync.server.web``), so a page cannot be added without them. A kiosk's bearer token means
nothing here: only the session cookie set by signing in.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from sync.server.dependencies import DatabaseDep
from sync.server.services import librarians

SESSION_COOKIE = "office_session"
# Before signing in, the sign-in form's CSRF token is checked against this cookie instead.
ANONYMOUS_CSRF_COOKIE = "office_csrf"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class SignInNeeded(Exception):
    """No session (or an ended one): the browser is sent to the sign-in page."""

    def __init__(self, then: str) -> None:
        super().__init__(then)
        self.then = then


class FormRefused(Exception):
    """A form sent without the right CSRF token (from another site, or an old page)."""


def current_session(request: Request, database: DatabaseDep) -> librarians.CurrentSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with database.write() as session:
        return librarians.current(session, token)


CurrentSession = Annotated[librarians.CurrentSession | None, Depends(current_session)]


def require_librarian(request: Request, who: CurrentSession) -> librarians.CurrentSession:
    if who is None:
        then = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInNeeded(then)
    return who


SignedIn = Annotated[librarians.CurrentSession, Depends(require_librarian)]


def csrf_token(request: Request, who: librarians.CurrentSession | None) -> str:
    """The token this browser's forms carry: the session's, or the anonymous cookie's."""
    if who is not None:
        return who.csrf_token
    return request.cookies.get(ANONYMOUS_CSRF_COOKIE) or secrets.token_urlsafe(32)


async def check_csrf(request: Request, who: CurrentSession) -> None:
    """Refuse a form (any request that is not a GET) without this browser's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    expected = who.csrf_token if who is not None else request.cookies.get(ANONYMOUS_CSRF_COOKIE)
    sent = (await request.form()).get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise FormRefused()


def sign_in_url(then: str) -> str:
    return "/login" if then in ("", "/") else f"/login?next={quote(then, safe='/')}"


def safe_next(then: str | None) -> str:
    """Where to go after signing in: a path of this site only (never another site)."""
    if not then or not then.startswith("/") or then.startswith("//") or "\\" in then:
        return "/"
    return then
