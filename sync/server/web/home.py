"""The first page after signing in: the school's figures against its plan, this week and this
semester, for the school and each class; books overdue; the kiosks."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from sync.server.dependencies import DatabaseDep
from sync.server.services import N_, charts, figures, plan
from sync.server.web.auth import SignedIn
from sync.server.web.i18n import language_of, translations
from sync.server.web.kiosks import clock_in_words
from sync.server.web.render import page

router = APIRouter()
NAV = ("/", N_("Overview"))


@router.get("/")
def home(request: Request, who: SignedIn, database: DatabaseDep) -> HTMLResponse:
    with database.read() as session:
        school_plan = plan.current(session)
        plan_set = plan.is_set(session)
        seen = figures.overview(session, school_plan, figures.today_in(school_plan))
    _ = translations(language_of(request)).gettext
    trend = charts.weekly_share(seen.school, seen.plan, _)
    # Each kiosk's clock in the words of the kiosks page, in the page's language.
    clocks = [clock_in_words(k.clock_offset_seconds, k.clock_backwards) for k in seen.kiosks]
    return page(
        request,
        "home.html",
        who,
        seen=seen,
        plan_set=plan_set,
        trend=charts.svg(trend),
        clocks=clocks,
    )
