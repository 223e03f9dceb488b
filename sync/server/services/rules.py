"""The rules every kiosk lends by, as the librarian changes them: how many books each kind of
reader may have and for how long, renewals and blocking; the opening timetable (weekdays, time
windows, grades, A/B weeks); and the days the library is closed.

They are kept in kiosk.toml's form ([policies] and [timetable] of kiosk.config) as the "rules"
row of the change log that kiosks pull, and checked by kiosk.toml's own models before anything
is saved, so a kiosk takes whatever the office takes. The office checks one thing more: no two
openings for the same grades at the same time. A closed day's note (why it is closed) stays at
the office; kiosks need only the day.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kiosk.codes import has_control_characters
from kiosk.config import (
    DEFAULT_TOML,
    FIRST_DAY,
    FIRST_GRADE,
    LAST_DAY,
    LAST_GRADE,
    WEEKDAYS,
    KioskConfig,
    PolicySettings,
    WindowSettings,
)
from kiosk.models import PatronKind, Week
from kiosk.schedule import Opening, Schedule
from sync import wire
from sync.server.models import Change, ClosedDayNote
from sync.server.services import N_, NotFound, Refusal, Sentence
from sync.server.services.changes import record_change

DAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
POLICY_FIELDS = ("max_loans", "loan_days", "max_renewals", "overdue_block_days")
# Yes or no: compensation not settled (services.compensation) blocks new loans. Typed "1" or
# "0"; not typed at all, it stays as it was.
BLOCK_ON_COMPENSATION = "block_on_unsettled_compensation"
LONGEST_CLOSURE = 366  # days closed added at once: a school year's holidays, not a slip
MAX_NOTE = 200


class RulesRefused(Refusal):
    """The rules cannot be changed so; the message says why. Nothing changed."""


class BadRules(RulesRefused):
    """Nothing was saved: what is wrong, by the field of the form it was typed in."""

    def __init__(self, problems: dict[str, Sentence]) -> None:
        super().__init__(N_("Nothing was saved: put right what is marked."))
        self.problems = problems

    def __str__(self) -> str:
        return "; ".join(f"{name}: {problem}" for name, problem in self.problems.items())


@dataclass(frozen=True)
class Closure:
    """Days closed in a row for one reason (the note)."""

    first: dt.date
    last: dt.date
    note: str

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True)
class Rules:
    """The rules as the librarian reads them."""

    policies: dict[PatronKind, PolicySettings]
    openings: list[Opening]  # as kept: an opening's number is its place here, from 1
    closures: list[Closure]
    week_a_starts: dt.date | None
    # The rules' version in the change log, 0 until the office sets them: a change to an
    # opening (known by its number) is refused when they changed since the page was shown.
    version: int

    @property
    def set_here(self) -> bool:
        return self.version > 0

    def week_of(self, day: dt.date) -> Week:
        return Schedule((), frozenset(), self.week_a_starts).week_of(day)


@dataclass(frozen=True)
class Typed:
    """An opening as the librarian typed it (in a page's form or on the command line)."""

    weekdays: tuple[str, ...]  # "mon" ... "sun"
    opens: str
    closes: str
    grades: str = ""  # "3, 4"; empty: every grade
    week: str = Week.EVERY


# -- reading them ------------------------------------------------------------------------------


def current_rules(session: Session) -> KioskConfig:
    """The policies and timetable the office gives every kiosk (the defaults until set)."""
    config, version = _stored(session)
    return config if version else KioskConfig()


def office_rules(session: Session) -> Rules:
    """The rules to show and change. Until the office sets them, each kiosk keeps those of its
    own kiosk.toml, and these are a new kiosk.toml's: the first change starts from them."""
    config, version = _stored(session)
    timetable = config.timetable
    return Rules(
        policies={kind: config.policies.get(kind) or _default_policy(kind) for kind in PatronKind},
        openings=[_opening(w) for w in timetable.window],
        closures=_closures(session, timetable.closed_dates),
        week_a_starts=timetable.week_a_starts,
        version=version,
    )


def _stored(session: Session) -> tuple[KioskConfig, int]:
    row = session.scalar(select(Change).where(Change.kind == "rules", Change.key == "all"))
    if row is None or row.data is None:
        return _new_kiosk_rules(), 0
    try:
        return KioskConfig.model_validate(row.data), row.version
    except ValidationError as exc:  # set by an older version that checked less
        raise RulesRefused(
            N_("The rules set at the office are no longer valid: set them again.")
        ) from exc


def _new_kiosk_rules() -> KioskConfig:
    raw = tomllib.loads(DEFAULT_TOML)
    return KioskConfig.model_validate({"policies": raw["policies"], "timetable": raw["timetable"]})


def _default_policy(kind: PatronKind) -> PolicySettings:
    return KioskConfig().policies[kind]


def _opening(window: WindowSettings) -> Opening:
    return Opening(
        weekdays=tuple(sorted({WEEKDAYS.index(day) for day in window.weekdays})),
        opens=window.opens,
        closes=window.closes,
        grades=tuple(sorted(set(window.grades))),
        week=window.week,
    )


def _closures(session: Session, days: list[dt.date]) -> list[Closure]:
    """The closed days as runs of days in a row with the same note."""
    notes = dict(session.execute(select(ClosedDayNote.day, ClosedDayNote.note)).all())
    runs: list[Closure] = []
    for day in sorted(set(days)):
        note = notes.get(day, "")
        last = runs[-1] if runs else None
        if last is not None and last.last + dt.timedelta(days=1) == day and last.note == note:
            runs[-1] = Closure(last.first, day, note)
        else:
            runs.append(Closure(day, day, note))
    return runs


# -- changing them -----------------------------------------------------------------------------


def set_policies(session: Session, typed: dict[str, dict[str, str]]) -> Rules:
    """Loan limits, loan days, renewals and blocking for every kind of reader at once, as typed
    (kind -> field -> text); the fields of a wrong one are named ``student.loan_days``."""
    config, _version = _stored(session)
    problems: dict[str, Sentence] = {}
    policies = {}
    for kind in PatronKind:
        before = config.policies.get(kind) or _default_policy(kind)
        policy = _policy(kind, typed.get(kind, {}), problems, before)
        if policy is not None:
            policies[kind] = policy
    if problems:
        raise BadRules(problems)
    _save(session, config.model_copy(update={"policies": policies}))
    return office_rules(session)


def _policy(
    kind: str, typed: dict[str, str], problems: dict[str, Sentence], before: PolicySettings
) -> PolicySettings | None:
    numbers: dict[str, int | bool] = {
        BLOCK_ON_COMPENSATION: typed[BLOCK_ON_COMPENSATION].strip() in ("1", "on", "true")
        if BLOCK_ON_COMPENSATION in typed
        else before.block_on_unsettled_compensation
    }
    for name in POLICY_FIELDS:
        text = typed.get(name, "").strip()
        if text.isdecimal() and len(text) <= 9:  # a longer one is no number of days
            numbers[name] = int(text)
        else:
            problems[f"{kind}.{name}"] = _whole_number(name)
    if len(numbers) <= len(POLICY_FIELDS):
        return None
    try:
        return PolicySettings.model_validate(numbers)
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0])
            problems[f"{kind}.{name}"] = _whole_number(name)
        return None


def _whole_number(name: str) -> Sentence:
    low, high = bounds(PolicySettings, name)
    return Sentence(N_("A whole number from {low} to {high}."), {"low": low, "high": high})


def bounds(model: type[BaseModel], name: str) -> tuple[Any, Any]:
    """The lowest and highest value the shared model (kiosk.config) takes for a field."""
    metadata = model.model_fields[name].metadata
    return (
        next(m.ge for m in metadata if hasattr(m, "ge")),
        next(m.le for m in metadata if hasattr(m, "le")),
    )


def window_of(typed: Typed) -> WindowSettings:
    """An opening as kiosk.toml keeps it, checked as kiosk.toml is, with every problem named."""
    problems: dict[str, Sentence] = {}
    values: dict[str, Any] = {"weekdays": list(typed.weekdays), "week": typed.week}
    if not typed.weekdays:
        problems["weekdays"] = Sentence(N_("Tick the days it opens."))
    for name in ("opens", "closes"):
        text = getattr(typed, name).strip().replace("：", ":")
        try:
            moment = dt.time.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is not None:
            problems[name] = Sentence(
                N_("“{text}” is not a time: write it like 13:30."), {"text": text}
            )
        else:
            values[name] = moment
    values["grades"] = _grades(typed.grades, problems)
    try:  # what was read is checked as well, so that every problem is named at once
        window = WindowSettings.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0])
            problems.setdefault(name, _WINDOW_PROBLEMS.get(name) or Sentence(error["msg"]))
    if problems:
        raise BadRules(problems)
    return window


_WINDOW_PROBLEMS = {  # what kiosk.toml's model may still refuse once times and grades are read
    "weekdays": Sentence(N_("Tick the days it opens.")),
    "closes": Sentence(N_("It must close after it opens.")),
    "week": Sentence(N_("Choose every week, A weeks or B weeks.")),
}


def _grades(text: str, problems: dict[str, Sentence]) -> list[int]:
    """ "3, 4", "3，4", "3、4" or "3 4"; nothing is every grade."""
    grades = set()
    for word in text.replace("，", ",").replace("、", ",").replace(",", " ").split():
        if not (word.isdecimal() and len(word) <= 2 and FIRST_GRADE <= int(word) <= LAST_GRADE):
            problems["grades"] = Sentence(
                N_("“{grade}” is not a grade: write grades from {first} to {last}, like 3, 4."),
                {"grade": word, "first": FIRST_GRADE, "last": LAST_GRADE},
            )
            return []
        grades.add(int(word))
    return sorted(grades)


def overlap(a: Opening, b: Opening) -> int | None:
    """The first weekday both open for a grade at the same time, in weeks that meet; None if
    they never do (the same times for other grades, or in A and B weeks, are turns, not an
    overlap)."""
    if a.opens >= b.closes or b.opens >= a.closes:
        return None
    if Week.EVERY not in (a.week, b.week) and a.week != b.week:
        return None
    if a.grades and b.grades and not set(a.grades) & set(b.grades):
        return None
    days = sorted(set(a.weekdays) & set(b.weekdays))
    return days[0] if days else None


def save_opening(
    session: Session, typed: Typed, *, number: int | None = None, version: int | None = None
) -> Rules:
    """Add an opening, or change opening *number* (as shown at *version* of the rules)."""
    config, windows = _windows(session, number, version)
    window = window_of(typed)
    if number is None:
        windows.append(window)
        number = len(windows)
    else:
        windows[number - 1] = window
    new = _opening(window)
    for other_number, other in enumerate(windows, 1):
        day = overlap(new, _opening(other)) if other_number != number else None
        if day is not None:
            raise BadRules(
                {
                    "overlap": Sentence(
                        N_("It overlaps another opening on {day} {opens}–{closes} for the same "
                           "grades: change the days, the times or the grades."),
                        {"day": Sentence(DAYS[day]), "opens": f"{other.opens:%H:%M}",
                         "closes": f"{other.closes:%H:%M}"},
                    )
                }
            )  # fmt: skip
    _save(session, _with_windows(config, windows))
    return office_rules(session)


def remove_opening(session: Session, number: int, *, version: int | None = None) -> Rules:
    config, windows = _windows(session, number, version)
    del windows[number - 1]
    _save(session, _with_windows(config, windows))
    return office_rules(session)


def _windows(
    session: Session, number: int | None, version: int | None
) -> tuple[KioskConfig, list[WindowSettings]]:
    config, stored = _stored(session)
    if version is not None and version != stored:
        raise RulesRefused(
            N_("The timetable was changed meanwhile (on another page or by a command): "
               "here it is as it is now; make your change again.")
        )  # fmt: skip
    windows = list(config.timetable.window)
    if number is not None and not 1 <= number <= len(windows):
        raise NotFound(N_("There is no opening {number}."), number=number)
    return config, windows


def _with_windows(config: KioskConfig, windows: list[WindowSettings]) -> KioskConfig:
    return config.model_copy(
        update={"timetable": config.timetable.model_copy(update={"window": windows})}
    )


def set_week(session: Session, today: dt.date, week: str) -> Rules:
    """Say whether the week of *today* is an A week or a B week (weeks then alternate)."""
    if week not in (Week.A, Week.B):
        raise BadRules({"week": Sentence(N_("Choose A or B."))})
    monday = today - dt.timedelta(days=today.weekday())
    starts = monday if week == Week.A else monday - dt.timedelta(days=7)
    config, _version = _stored(session)
    timetable = config.timetable.model_copy(update={"week_a_starts": starts})
    _save(session, config.model_copy(update={"timetable": timetable}))
    return office_rules(session)


def close(session: Session, first: str, last: str = "", note: str = "") -> Closure:
    """Close the library from *first* to *last* (one day: no last), with a note of why."""
    problems: dict[str, Sentence] = {}
    start = _day(first, "first", problems)
    end = _day(last, "last", problems) if last.strip() else start
    note = " ".join(note.split())
    if len(note) > MAX_NOTE or has_control_characters(note):
        problems["note"] = Sentence(N_("A note of at most {most} characters."), {"most": MAX_NOTE})
    if start is not None and end is not None:
        if end < start:
            problems["last"] = Sentence(N_("The last day cannot be before the first."))
        elif (end - start).days >= LONGEST_CLOSURE:
            problems["last"] = Sentence(
                N_("At most {most} days at once."), {"most": LONGEST_CLOSURE}
            )
    if problems or start is None or end is None:
        raise BadRules(problems)
    days = [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
    config, _version = _stored(session)
    closed = sorted(set(config.timetable.closed_dates) | set(days))
    timetable = config.timetable.model_copy(update={"closed_dates": closed})
    _save(session, config.model_copy(update={"timetable": timetable}))
    session.execute(delete(ClosedDayNote).where(ClosedDayNote.day.in_(days)))
    if note:
        session.add_all(ClosedDayNote(day=day, note=note) for day in days)
    return Closure(start, end, note)


def reopen(session: Session, first: dt.date, last: dt.date | None = None) -> int:
    """Open again on the closed days from *first* to *last*; how many there were."""
    last = last or first
    config, _version = _stored(session)
    closed = config.timetable.closed_dates
    kept = [day for day in closed if not first <= day <= last]
    if len(kept) == len(closed):
        raise RulesRefused(
            N_("The library is not closed on any day from {first} to {last}."),
            first=first.isoformat(),
            last=last.isoformat(),
        )
    timetable = config.timetable.model_copy(update={"closed_dates": kept})
    _save(session, config.model_copy(update={"timetable": timetable}))
    return len(closed) - len(kept)


def _day(text: str, name: str, problems: dict[str, Sentence]) -> dt.date | None:
    text = text.strip()
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        problems[name] = Sentence(
            N_("“{text}” is not a date: write it like 2026-10-01."), {"text": text}
        )
        return None
    if not FIRST_DAY <= day <= LAST_DAY:
        problems[name] = Sentence(
            N_("A date from {first} to {last}."),
            {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()},
        )
        return None
    return day


def set_rules(session: Session, path: Path) -> KioskConfig:
    """Policies and timetable for every kiosk, from a file in kiosk.toml's format."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        config = KioskConfig.model_validate(
            {k: v for k, v in raw.items() if k in ("policies", "timetable")}
        )
    except OSError as exc:
        raise RulesRefused(f"{path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise RulesRefused(
            f"{path}: not a text file in UTF-8; the rules are written as in kiosk.toml"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesRefused(f"{path}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        raise RulesRefused(f"{path}: {wire.problems(exc)}") from exc
    openings = [_opening(w) for w in config.timetable.window]
    for i, a in enumerate(openings):
        for j, b in enumerate(openings[i + 1 :], i + 1):
            day = overlap(a, b)
            if day is not None:
                raise RulesRefused(
                    f"{path}: timetable.window {i + 1} and {j + 1} are open for the same "
                    f"grades at the same time on {DAYS[day]}"
                )
    return _save(session, config)


def _save(session: Session, config: KioskConfig) -> KioskConfig:
    """The rules for every kiosk from now on (checked again as a whole, as a kiosk will)."""
    data = config.model_dump(mode="json", include={"policies", "timetable"})
    data["timetable"]["closed_dates"] = sorted(set(data["timetable"]["closed_dates"]))
    try:
        checked = KioskConfig.model_validate(data)
    except ValidationError as exc:
        raise RulesRefused(N_("These rules cannot be kept: {problems}"),
                           problems=wire.problems(exc)) from exc  # fmt: skip
    record_change(session, "rules", "all", data)
    closed = checked.timetable.closed_dates
    session.execute(delete(ClosedDayNote).where(ClosedDayNote.day.not_in(closed)))
    return checked
