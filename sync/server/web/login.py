"""Signing in and out, and the language switch: the only pages open without a session."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from sync.server.dependencies import DatabaseDep
from sync.server.services import N_, Refusal, librarians
from sync.server.services.throttle import Throttle
from sync.server.web import auth
from sync.server.web.i18n import COOKIE, LANGUAGES
from sync.server.web.render import page

router = APIRouter()


def throttles() -> tuple[Throttle, Throttle]:
    """A few mistyped passwords are normal; a guesser is slowed down, per address and per
    account: 30 s after the fifth wrong one, twice as long at each next one, at most 15 min."""
    return (
        Throttle("sign-in", free=10, first_wait=30, longest=900),
        Throttle("sign-in", free=5, first_wait=30, longest=900),
    )


@router.get("/login")
def login_form(request: Request, who: auth.CurrentSession, next: str = "/") -> Response:
    if who is not None:
        return RedirectResponse(auth.safe_next(next), status_code=303)
    return page(request, "login.html", None, then=auth.safe_next(next))


@router.post("/login")
def login(
    request: Request,
    database: DatabaseDep,
    name: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    then = auth.safe_next(next)
    by_address, by_account = request.app.state.sign_in_throttles
    address = ("address", request.client.host if request.client else "")
    account = ("account", name.strip().casefold())
    wait = max(by_address.wait(address), by_account.wait(account))
    if wait > 0:
        return page(
            request,
            "login.html",
            None,
            status_code=429,
            then=then,
            name=name,
            error=Refusal(
                N_("Too many wrong tries. Wait {seconds} seconds, then try again."),
                seconds=math.ceil(wait),
            ),
        )
    with database.write() as session:
        signed_in = librarians.sign_in(session, name, password)
    if signed_in is None:
        by_address.failed(address)
        by_account.failed(account)
        return page(
            request,
            "login.html",
            None,
            status_code=401,
            then=then,
            name=name,
            error=Refusal(N_("Wrong name or password.")),
        )
    by_address.succeeded(address)
    by_account.succeeded(account)
    response = RedirectResponse(then, status_code=303)
    response.set_cookie(
        auth.SESSION_COOKIE, signed_in.token, httponly=True, samesite="lax", path="/"
    )
    response.delete_cookie(auth.ANONYMOUS_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, database: DatabaseDep) -> Response:
    with database.write() as session:
        librarians.sign_out(session, request.cookies.get(auth.SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


@router.get("/language/{language}")
def choose_language(language: str, next: str = "/") -> Response:
    """The language switch: remembered in a cookie, for pages before and after signing in."""
    response = RedirectResponse(auth.safe_next(next), status_code=303)
    if language in LANGUAGES:
        response.set_cookie(
            COOKIE, language, max_age=365 * 86400, httponly=True, samesite="lax", path="/"
        )
    return response
