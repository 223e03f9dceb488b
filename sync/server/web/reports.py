"""The school's reports: loans by class and week (or month) and the most borrowed titles,
students who have not borrowed for some weeks (for the homeroom teachers), weeding, turnover,
the semester report (PDF and CSV files, with the end-of-semester checklist); and the plan they
are held against (targets, the semester's dates, weeding thresholds).

Every number comes from services.figures, the same for a page, its CSV file and the PDF.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sync.server.dependencies import DatabaseDep
from sync.server.services import N_, NotFound, Refusal, charts, figures, plan, semester_report
from sync.server.services.semester_report import Table
from sync.server.web.auth import SignedIn
from sync.server.web.i18n import language_of, translations
from sync.server.web.render import download, page

router = APIRouter(prefix="/reports")
NAV = ("/reports", N_("Reports"))
# The reports' own tabs, in order.
TABS = [
    ("/reports", N_("Loans")),
    ("/reports/idle", N_("Not borrowing")),
    ("/reports/weeding", N_("Weeding")),
    ("/reports/turnover", N_("Turnover")),
    ("/reports/semester", N_("Semester report")),
    ("/reports/plan", N_("Targets and semester")),
]
Text = Annotated[str, Form(max_length=64)]
Texts = Annotated[list[str], Form(max_length=64)]
EMPTY_RULES = 3  # blank rows under the weeding rules, to add some
Weeks = Annotated[int, Query(ge=1, le=52)]


def _gettext(request: Request) -> charts.Gettext:
    return translations(language_of(request)).gettext


def _report(request: Request, who: SignedIn, template: str, **context: object) -> HTMLResponse:
    return page(request, template, who, tabs=TABS, **context)


def _csv(table: Table) -> Response:
    return download(semester_report.csv_file(table), f"{table.name}.csv")


# -- loans ---------------------------------------------------------------------------------


@router.get("")
def loans_report(
    request: Request, who: SignedIn, database: DatabaseDep, by: str = "week"
) -> HTMLResponse:
    by_month = by == "month"
    _ = _gettext(request)
    with database.read() as session:
        school_plan = plan.current(session)
        today = figures.today_in(school_plan)
        loans = figures.loans_by_class(session, school_plan, today, by_month=by_month)
        titles = figures.most_borrowed(session, school_plan, today)
    return _report(
        request,
        who,
        "reports_loans.html",
        by_month=by_month,
        table=semester_report.class_loans_table(loans, _, by_month=by_month),
        chart=charts.svg(charts.class_weeks(loans, _, by_month=by_month)),
        titles=semester_report.titles_table(titles, _),
        titles_chart=charts.svg(charts.top_titles(titles[:10], _)) if titles else "",
        semester=figures.semester_of(school_plan, today),
    )


@router.get("/loans.csv")
def loans_csv(request: Request, database: DatabaseDep, by: str = "week") -> Response:
    by_month = by == "month"
    with database.read() as session:
        school_plan = plan.current(session)
        today = figures.today_in(school_plan)
        loans = figures.loans_by_class(session, school_plan, today, by_month=by_month)
    return _csv(semester_report.class_loans_table(loans, _gettext(request), by_month=by_month))


@router.get("/titles.csv")
def titles_csv(request: Request, database: DatabaseDep) -> Response:
    with database.read() as session:
        school_plan = plan.current(session)
        titles = figures.most_borrowed(session, school_plan, figures.today_in(school_plan))
    return _csv(semester_report.titles_table(titles, _gettext(request)))


# -- students who have not borrowed ----------------------------------------------------------


def _idle(database: DatabaseDep, weeks: int) -> tuple[list[figures.IdleClass], object]:
    with database.read() as session:
        school_plan = plan.current(session)
        today = figures.today_in(school_plan)
        return figures.not_borrowing(session, school_plan, today, weeks), today


@router.get("/idle")
def idle_report(
    request: Request, who: SignedIn, database: DatabaseDep, weeks: Weeks = 3, class_name: str = ""
) -> HTMLResponse:
    found, today = _idle(database, weeks)
    shown = [c for c in found if not class_name or c.name == class_name]
    return _report(
        request,
        who,
        "reports_idle.html",
        classes=found,
        shown=shown,
        weeks=weeks,
        class_name=class_name,
        today=today,
    )


@router.get("/idle.csv")
def idle_csv(request: Request, database: DatabaseDep, weeks: Weeks = 3) -> Response:
    found, _today = _idle(database, weeks)
    return _csv(semester_report.idle_table(found, _gettext(request)))


# -- weeding and turnover --------------------------------------------------------------------


@router.get("/weeding")
def weeding_report(request: Request, who: SignedIn, database: DatabaseDep) -> HTMLResponse:
    with database.read() as session:
        school_plan = plan.current(session)
        groups = figures.weeding(session, school_plan, figures.today_in(school_plan))
    return _report(request, who, "reports_weeding.html", groups=groups)


@router.get("/weeding.csv")
def weeding_csv(request: Request, database: DatabaseDep) -> Response:
    with database.read() as session:
        school_plan = plan.current(session)
        groups = figures.weeding(session, school_plan, figures.today_in(school_plan))
    return _csv(semester_report.weeding_table(groups, _gettext(request)))


@router.get("/turnover")
def turnover_report(request: Request, who: SignedIn, database: DatabaseDep) -> HTMLResponse:
    _ = _gettext(request)
    with database.read() as session:
        school_plan = plan.current(session)
        found = figures.turnover(session, school_plan, figures.today_in(school_plan))
    return _report(
        request,
        who,
        "reports_turnover.html",
        table=semester_report.turnover_table(found, _),
        chart=charts.svg(charts.turnover(found[0], _)),
    )


@router.get("/turnover.csv")
def turnover_csv(request: Request, database: DatabaseDep) -> Response:
    with database.read() as session:
        school_plan = plan.current(session)
        found = figures.turnover(session, school_plan, figures.today_in(school_plan))
    return _csv(semester_report.turnover_table(found, _gettext(request)))


# -- the semester report ---------------------------------------------------------------------


def _semester(database: DatabaseDep) -> semester_report.SemesterReport:
    with database.read() as session:
        school_plan = plan.current(session)
        return semester_report.gather(session, school_plan, figures.today_in(school_plan))


@router.get("/semester")
def semester_page(request: Request, who: SignedIn, database: DatabaseDep) -> HTMLResponse:
    _ = _gettext(request)
    report = _semester(database)
    tables = {t.name: t for t in semester_report.tables(report, _)}
    return _report(
        request,
        who,
        "reports_semester.html",
        report=report,
        targets=tables["targets"],
        classes=tables["classes"],
        out=tables["not-back-by-class"],
        checks=semester_report.checklist(report, _),
    )


@router.get("/semester/{name}.csv")
def semester_table_csv(request: Request, database: DatabaseDep, name: str) -> Response:
    """One table of the semester report (the books not back yet, say) as a CSV file."""
    report = _semester(database)
    found = {t.name: t for t in semester_report.tables(report, _gettext(request))}
    if name not in found:
        raise NotFound(N_("No such table in the semester report."))
    return _csv(found[name])


@router.get("/semester.pdf")
def semester_pdf(request: Request, database: DatabaseDep) -> Response:
    report = _semester(database)
    semester = report.overview.semester
    name = f"semester-report-{semester.starts}-{semester.ends}.pdf"
    return download(semester_report.pdf(report, _gettext(request)), name)


@router.get("/semester.zip")
def semester_csv(request: Request, database: DatabaseDep) -> Response:
    report = _semester(database)
    semester = report.overview.semester
    name = f"semester-report-{semester.starts}-{semester.ends}-csv.zip"
    return download(semester_report.csv_zip(report, _gettext(request)), name)


# -- the plan --------------------------------------------------------------------------------


@router.get("/plan")
def plan_form(
    request: Request, who: SignedIn, database: DatabaseDep, saved: bool = False
) -> HTMLResponse:
    with database.read() as session:
        current = plan.current(session)
    return _report(request, who, "plan.html", values=_form_values(current), saved=saved)


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
        return _report(
            request, who, "plan.html", status_code=400, values=values, error=refusal, saved=False
        )
    return RedirectResponse("/reports/plan?saved=1", status_code=303)


def _form_values(current: plan.Plan) -> dict[str, object]:
    values = current.model_dump(mode="json")
    values["weeding"] = [*values["weeding"], *({} for _ in range(EMPTY_RULES))]
    return values
