"""The school's reports: loans by class and week, most borrowed titles, students who have not
borrowed, weeding, turnover, the semester report (PDF and CSV); and the plan they are held
against (targets, the semester's dates, weeding thresholds)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sync.server.dependencies import DatabaseDep
from sync.server.services import Refusal, plan
from sync.server.web.auth import SignedIn
from sync.server.web.render import page

router = APIRouter(prefix="/reports")
Text = Annotated[str, Form(max_length=64)]
Texts = Annotated[list[str], Form(max_length=64)]
EMPTY_RULES = 3  # blank rows under the weeding rules, to add some


@router.get("/plan")
def plan_form(
    request: Request, who: SignedIn, database: DatabaseDep, saved: bool = False
) -> HTMLResponse:
    with database.read() as session:
        current = plan.current(session)
    return page(request, "plan.html", who, values=_form_values(current), saved=saved)


@router.post("/plan")
def save_plan(
    request: Request,
    who: SignedIn,
    database: DatabaseDep,
    semester_starts: Text,
    semester_ends: Text,
    weekly_share: Text,
    books_per_student: Text,
    semester_loans: Text,
    timezone: Text,
    rule_classification: Texts = [],  # noqa: B006 (FastAPI copies a default)
    rule_max_age: Texts = [],  # noqa: B006
    rule_idle: Texts = [],  # noqa: B006
) -> Response:
    rules = [
        {"classification": c, "max_age_years": a.strip(), "idle_years": i.strip()}
        for c, a, i in zip(rule_classification, rule_max_age, rule_idle, strict=False)
        if c.strip() or a.strip() or i.strip()
    ]
    values = {
        "semester_starts": semester_starts.strip(),
        "semester_ends": semester_ends.strip(),
        "weekly_share": weekly_share.strip(),
        "books_per_student": books_per_student.strip(),
        "semester_loans": semester_loans.strip(),
        "timezone": timezone.strip(),
        "weeding": rules,
    }
    try:
        with database.write() as session:
            plan.save(session, values)
    except Refusal as refusal:
        return page(
            request, "plan.html", who, status_code=400, values=values, error=refusal, saved=False
        )
    return RedirectResponse("/reports/plan?saved=1", status_code=303)


def _form_values(current: plan.Plan) -> dict[str, object]:
    values = current.model_dump(mode="json")
    values["weeding"] = [*values["weeding"], *({} for _ in range(EMPTY_RULES))]
    return values
