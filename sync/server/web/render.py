"""Rendering a page: the Jinja2 templates with what every page shows (navigation, language
switch, the signed-in librarian, the CSRF token for its forms)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup, escape

from kiosk import money
from kiosk.clock import utc_now
from sync.server.services import Refusal, Sentence, librarians, plan
from sync.server.web import auth
from sync.server.web.i18n import LANGUAGES, language_of, translations

TEMPLATES = Path(__file__).resolve().parent / "templates"


@pass_context
def _gettext(context: Context, message: str) -> str:
    return translations(context["language"]).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return translations(context["language"]).ngettext(singular, plural, n)


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]


@pass_context
def _say(context: Context, sentence: Sentence) -> str:
    """A service's sentence in the page's language."""
    return sentence.say(translations(context["language"]).gettext)


@pass_context
def _local_time(context: Context, moment: dt.datetime | None) -> str:
    """A time as the school's clocks show it, in the plan's time zone (the services keep
    UTC), whatever the office computer's zone: as the school's days are counted."""
    return moment.astimezone(context["school_zone"]).strftime("%Y-%m-%d %H:%M") if moment else ""


@pass_context
def _ago(context: Context, moment: dt.datetime) -> str:
    """How long ago, in the largest unit that fits: "5 minutes ago", "2 days ago"."""
    seconds = max(0, int((utc_now() - moment).total_seconds()))
    gettext = translations(context["language"]).gettext
    ngettext = translations(context["language"]).ngettext
    days, hours, minutes = seconds // 86400, seconds // 3600, seconds // 60
    if days:
        return ngettext("%(num)d day ago", "%(num)d days ago", days) % {"num": days}
    if hours:
        return ngettext("%(num)d hour ago", "%(num)d hours ago", hours) % {"num": hours}
    if minutes:
        return ngettext("%(num)d minute ago", "%(num)d minutes ago", minutes) % {"num": minutes}
    return gettext("just now")


environment.filters.update(say=_say, local_time=_local_time, ago=_ago, yuan=money.yuan)


MEDIA_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
}


def download(body: bytes, name: str) -> Response:
    """A file the browser saves as *name* (Chinese too), its type told by its ending."""
    return Response(
        body,
        media_type=MEDIA_TYPES[Path(name).suffix],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


def page(
    request: Request,
    template: str,
    who: librarians.CurrentSession | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """*template* rendered for this request, in its language.

    A ``Refusal`` given in *context* (an ``error=`` for instance) arrives as its message in
    the page's language.
    """
    language = language_of(request)
    for key, value in context.items():  # a refusal is shown in the page's language
        if isinstance(value, Refusal):
            context[key] = value.say(translations(language).gettext)
    csrf = auth.csrf_token(request, who)
    with request.app.state.database.read() as session:
        school_zone = plan.current(session).zone()
    html = environment.get_template(template).render(
        request=request,
        language=language,
        languages=LANGUAGES,
        librarian=who.librarian if who else None,
        csrf_input=lambda: Markup(
            f'<input type="hidden" name="{auth.CSRF_FIELD}" value="{escape(csrf)}">'
        ),
        navigation=request.app.state.navigation if who else [],
        less_used=request.app.state.less_used,
        path=request.url.path,
        school_zone=school_zone,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    if who is None and request.cookies.get(auth.ANONYMOUS_CSRF_COOKIE) != csrf:
        response.set_cookie(
            auth.ANONYMOUS_CSRF_COOKIE, csrf, httponly=True, samesite="strict", path="/"
        )
    return response
