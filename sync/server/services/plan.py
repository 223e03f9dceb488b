"""The school's library plan as the librarian sets it: the semester's dates, the targets the
figures are held against, the school's time zone, and the thresholds for weeding old books.

Kept at the office (``server_settings``, one JSON value); kiosks never need it. Until the
librarian sets it, the plan is the school plan's own numbers (more than 90% of students borrow
every week, more than 12 books per student, about 2,200 loans a semester) and a semester
guessed from the date.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.orm import Session

from kiosk.clock import utc_now
from sync.server.models import Setting
from sync.server.services import N_, Refusal

PLAN = "school_plan"  # server_settings
DEFAULT_ZONE = "Asia/Shanghai"
LONGEST_SEMESTER = dt.timedelta(days=366)


class WeedingRule(BaseModel):
    """CREW's "X/Y" for the titles whose classification starts with *classification*: a title
    older than *max_age_years* (from its year of publication) that nobody borrowed for
    *idle_years* is a candidate for weeding. An empty classification is the rule for the rest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    classification: Annotated[str, Field(max_length=16)] = ""
    max_age_years: Annotated[int, Field(ge=0, le=200)]
    idle_years: Annotated[int, Field(ge=0, le=100)]

    @field_validator("classification")
    @classmethod
    def _plain(cls, value: str) -> str:
        return value.strip().upper()


# CREW's thresholds for a school library, by the Chinese Library Classification's classes:
# science and technology date fast, literature and history keep.
DEFAULT_WEEDING = (
    WeedingRule(classification="N", max_age_years=5, idle_years=3),
    WeedingRule(classification="O", max_age_years=5, idle_years=3),
    WeedingRule(classification="P", max_age_years=5, idle_years=3),
    WeedingRule(classification="Q", max_age_years=5, idle_years=3),
    WeedingRule(classification="R", max_age_years=5, idle_years=3),
    WeedingRule(classification="T", max_age_years=5, idle_years=3),
    WeedingRule(classification="I", max_age_years=15, idle_years=5),
    WeedingRule(classification="K", max_age_years=15, idle_years=5),
    WeedingRule(classification="", max_age_years=10, idle_years=3),
)


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    semester_starts: dt.date
    semester_ends: dt.date
    weekly_share: Annotated[float, Field(gt=0, le=100)] = 90  # percent of students, each week
    books_per_student: Annotated[float, Field(gt=0, le=1000)] = 12  # in a semester
    semester_loans: Annotated[int, Field(gt=0, le=10_000_000)] = 2200
    timezone: str = DEFAULT_ZONE
    weeding: tuple[WeedingRule, ...] = DEFAULT_WEEDING

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _dates_in_order(self) -> Plan:
        if self.semester_ends < self.semester_starts:
            raise ValueError("the semester ends before it starts")
        if self.semester_ends - self.semester_starts > LONGEST_SEMESTER:
            raise ValueError("a semester of more than a year")
        return self

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def rule_for(self, classification: str) -> WeedingRule | None:
        """The rule with the longest classification that *classification* starts with."""
        wanted = classification.strip().upper()
        matching = [r for r in self.weeding if wanted.startswith(r.classification)]
        return max(matching, key=lambda r: len(r.classification), default=None)


class PlanRefused(Refusal):
    """Settings that cannot be the plan (dates out of order, an unknown time zone...)."""


def guessed_semester(today: dt.date) -> tuple[dt.date, dt.date]:
    """The semester *today* is in, by a Chinese school's calendar: autumn from 1 September to
    the end of January, spring from mid-February to mid-July."""
    if today.month >= 8:
        return dt.date(today.year, 9, 1), dt.date(today.year + 1, 1, 31)
    if today.month == 1:
        return dt.date(today.year - 1, 9, 1), dt.date(today.year, 1, 31)
    return dt.date(today.year, 2, 15), dt.date(today.year, 7, 15)


def is_set(session: Session) -> bool:
    return session.get(Setting, PLAN) is not None


def current(session: Session, now: dt.datetime | None = None) -> Plan:
    """The plan the librarian set, else the defaults with the semester we are in (*now*)."""
    row = session.get(Setting, PLAN)
    if row is not None:
        return Plan.model_validate_json(row.value)
    today = (now or utc_now()).astimezone(ZoneInfo(DEFAULT_ZONE)).date()
    starts, ends = guessed_semester(today)
    return Plan(semester_starts=starts, semester_ends=ends)


def save(session: Session, values: dict[str, object]) -> Plan:
    """Make *values* the plan; refused (and nothing saved) unless they make a whole plan."""
    try:
        plan = Plan.model_validate(values)
    except ValidationError as exc:
        raise PlanRefused(
            N_("These settings cannot be saved: {problems}."),
            problems="; ".join(_problem(error) for error in exc.errors()),
        ) from exc
    text = plan.model_dump_json()
    row = session.get(Setting, PLAN)
    if row is None:
        session.add(Setting(key=PLAN, value=text))
    else:
        row.value = text
    return plan


def _problem(error: object) -> str:
    assert isinstance(error, dict)
    where = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
