"""The librarian's pages: FastAPI routers per area, Jinja2 templates, static files served here.

Layout: one module per area (``home.py``, ``librarians.py`` ...) with an ``APIRouter`` named
``router`` and, for the navigation, ``NAV = (path, N_("Label"))``; templates in ``templates/``
extend ``base.html``; ``static/`` is served at /static (no CDN: the office may have no
internet); ``login.py`` holds the only pages open without a session.

How to add a page (say, the students):

1. ``sync/server/web/students.py``::

       router = APIRouter(prefix="/students")
       NAV = ("/students", N_("Students"))          # N_ from sync.server.services

       @router.get("")
       def listing(request: Request, who: SignedIn, database: DatabaseDep) -> HTMLResponse:
           with database.read() as session:
               rows = students.find(session, ...)   # a service: no HTML in it
           return page(request, "students.html", who, rows=rows)

   A form posts to a route of the same router and writes through a service in
   ``database.write()``, so the change reaches the kiosks' change log; a service's
   ``Refusal`` is given to ``page(..., error=refusal)`` and shown in the page's language.
   Answer a successful post with ``RedirectResponse(url, status_code=303)``.
2. Add the module to ``AREAS`` below (its place there is its place in the navigation; an
   area used a few times a term goes in ``LESS_USED`` too, under the navigation's More).
   Including it here is what makes every route of it need a signed-in librarian
   (``require_librarian``) and every form a CSRF token (``check_csrf``): nothing to add.
3. ``templates/students.html``: ``{% extends "base.html" %}``, fill ``{% block content %}``;
   every ``<form method="post">`` starts with ``{{ csrf_input() }}``; text is written
   ``{{ _("Students") }}`` or ``{% trans %}...{% endtrans %}``.
4. ``python -m sync.server.web.catalogues``, then write the Chinese of the new messages in
   ``locale/zh_CN/LC_MESSAGES/office.po`` (tests/web/test_catalogue.py fails while one is
   missing).
5. Test it in a real browser: tests/web/conftest.py gives ``office_server`` (a running
   ``library-server serve`` with a librarian account) and ``signed_in`` (a Playwright page
   signed in to it); mark browser tests ``@pytest.mark.slow``. tests/web/test_security.py
   checks every route of ``AREAS`` for the session and the CSRF token by itself.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from sync.server.web import (
    auth,
    books,
    compensation,
    desk,
    helpers,
    home,
    kiosks,
    librarians,
    loans,
    login,
    printing,
    reports,
    rules,
    stocktake,
    students,
)
from sync.server.web.render import page

STATIC = Path(__file__).resolve().parent / "static"
# The signed-in areas, in the navigation's order.
AREAS = [
    home,
    desk,
    loans,
    compensation,
    students,
    helpers,
    books,
    printing,
    stocktake,
    reports,
    rules,
    kiosks,
    librarians,
]
# Areas used a few times a term, under More in the navigation: the row of links fits the
# office's 1366-pixel screen, in English as in Chinese.
LESS_USED = [helpers, printing, stocktake, rules, kiosks, librarians]


def install(app: FastAPI) -> None:
    """Mount the pages, their static files and their answers to refusals on *app*."""
    router = APIRouter(include_in_schema=False)
    router.include_router(login.router, dependencies=[Depends(auth.check_csrf)])
    signed_in = [Depends(auth.require_librarian), Depends(auth.check_csrf)]
    for area in AREAS:
        router.include_router(area.router, dependencies=signed_in)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.navigation = [area.NAV for area in AREAS if hasattr(area, "NAV")]
    app.state.less_used = {area.NAV[0] for area in LESS_USED}
    app.state.sign_in_throttles = login.throttles()

    @app.exception_handler(auth.SignInNeeded)
    async def sign_in_first(_request: Request, exc: auth.SignInNeeded) -> Response:
        return RedirectResponse(auth.sign_in_url(exc.then), status_code=303)

    @app.exception_handler(auth.FormRefused)
    async def form_refused(request: Request, _exc: auth.FormRefused) -> HTMLResponse:
        return page(request, "refused.html", None, status_code=403)


def form_incomplete(request: Request) -> HTMLResponse:
    """A page's form sent with a field missing or too long (the browser should have said so)."""
    return page(request, "refused.html", None, status_code=422, incomplete=True)
