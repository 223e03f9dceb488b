"""The rules the office gives every kiosk (services.rules), on SQLite and PostgreSQL: lending
rules per kind of reader, openings and closed days changed one at a time, checked by
kiosk.toml's own models with every problem named by its field and nothing saved, and taken by
a real kiosk at its next sync."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from kiosk.models import Week
from sync.server.db import Database
from sync.server.models import Change, ClosedDayNote
from sync.server.services import NotFound, rules
from sync.server.services.rules import BadRules, RulesRefused, Typed
from tests.conftest import TZ
from tests.sync.support import Office, enrolled

POLICIES = {
    "student": dict(max_loans="3", loan_days="21", max_renewals="2", overdue_block_days="0"),
    "helper": dict(max_loans="4", loan_days="21", max_renewals="2", overdue_block_days="7"),
    "teacher": dict(max_loans="10", loan_days="30", max_renewals="2", overdue_block_days="30"),
    "librarian": dict(max_loans="20", loan_days="30", max_renewals="3", overdue_block_days="60"),
}


def sent_to_kiosks(database: Database) -> tuple[int, dict | None]:
    """The rules' row of the change log kiosks pull: its version and what it holds."""
    with database.read() as session:
        row = session.scalar(select(Change).where(Change.kind == "rules", Change.key == "all"))
        return (row.version, row.data) if row else (0, None)


def read(database: Database) -> rules.Rules:
    with database.read() as session:
        return rules.office_rules(session)


def add(database: Database, **typed) -> rules.Rules:
    values = dict(weekdays=("tue",), opens="16:00", closes="17:00") | typed
    with database.write() as session:
        return rules.save_opening(session, Typed(**values))


def refused(database: Database, change, *args, **kw) -> dict[str, str]:
    """The problems of a refused change, by field, in English; and nothing was saved."""
    before = sent_to_kiosks(database)
    with pytest.raises(BadRules) as info, database.write() as session:
        change(session, *args, **kw)
    assert sent_to_kiosks(database) == before
    return {name: str(problem) for name, problem in info.value.problems.items()}


def test_until_the_office_sets_them_a_new_kiosks_rules_are_shown(database: Database) -> None:
    found = read(database)
    assert not found.set_here and sent_to_kiosks(database) == (0, None)
    assert [o.describe() for o in found.openings] == [
        "Monday to Friday 13:30-14:20, every grade",
        "Monday, Wednesday, Friday 17:00-17:40, grades 5 and 6",
    ]
    assert found.policies["student"].max_loans == 2
    # The first change gives them all, changed, to the kiosks.
    add(database)
    version, data = sent_to_kiosks(database)
    assert version and data is not None and len(data["timetable"]["window"]) == 3
    assert read(database).set_here


def test_lending_rules_for_every_kind_of_reader(database: Database) -> None:
    with database.write() as session:
        rules.set_policies(session, POLICIES)
    _version, data = sent_to_kiosks(database)
    assert data is not None
    assert data["policies"]["student"] == dict(
        max_loans=3,
        loan_days=21,
        max_renewals=2,
        overdue_block_days=0,
        block_on_unsettled_compensation=True,  # not typed: as it was
    )
    assert read(database).policies["helper"].max_loans == 4


def test_lending_rules_out_of_bounds_are_named_and_nothing_is_saved(database: Database) -> None:
    typed = {kind: dict(values) for kind, values in POLICIES.items()}
    typed["student"]["loan_days"] = "366"  # beyond the kiosks' longest loan
    typed["teacher"]["max_loans"] = "-1"
    typed["helper"]["max_renewals"] = "两"
    typed["librarian"]["overdue_block_days"] = "9" * 5000  # not a number Python may even read
    problems = refused(database, rules.set_policies, typed)
    assert problems == {
        "student.loan_days": "A whole number from 1 to 365.",
        "teacher.max_loans": "A whole number from 0 to 100.",
        "helper.max_renewals": "A whole number from 0 to 20.",
        "librarian.overdue_block_days": "A whole number from 0 to 365.",
    }


def test_an_opening_added_changed_and_removed(database: Database) -> None:
    added = add(database, weekdays=("tue", "thu"), grades="3，4", week="A")
    assert (
        added.openings[-1].describe()
        == "Tuesday, Thursday 16:00-17:00, grades 3 and 4, A weeks only"
    )
    number = len(added.openings)
    with database.write() as session:
        changed = rules.save_opening(
            session,
            Typed(("tue",), "16:00", "16:40", "", "every"),
            number=number,
            version=added.version,
        )
    assert changed.openings[-1].describe() == "Tuesday 16:00-16:40, every grade"
    with database.write() as session:
        removed = rules.remove_opening(session, number, version=changed.version)
    assert len(removed.openings) == number - 1
    # A page shown before that change speaks of openings that moved: refused, nothing changed.
    with pytest.raises(RulesRefused, match="changed meanwhile"), database.write() as session:
        rules.remove_opening(session, 1, version=changed.version)
    with pytest.raises(NotFound), database.write() as session:
        rules.remove_opening(session, 9)
    assert len(read(database).openings) == number - 1


def test_a_bad_opening_is_named_field_by_field(database: Database) -> None:
    def typed(**kw: object) -> Typed:
        return Typed(**(dict(weekdays=("mon",), opens="15:00", closes="16:00") | kw))

    assert refused(database, rules.save_opening, typed(opens="16:00", closes="15:00")) == {
        "closes": "It must close after it opens."
    }
    assert refused(database, rules.save_opening, typed(weekdays=(), grades="7, 13")) == {
        "weekdays": "Tick the days it opens.",
        "grades": "“13” is not a grade: write grades from 1 to 12, like 3, 4.",
    }
    assert refused(database, rules.save_opening, typed(opens="25:00", week="C")) == {
        "opens": "“25:00” is not a time: write it like 13:30.",
        "week": "Choose every week, A weeks or B weeks.",
    }
    assert refused(database, rules.save_opening, typed(weekdays=("monday",))) == {
        "weekdays": "Tick the days it opens."
    }


def test_openings_for_the_same_grades_at_the_same_time_are_refused(database: Database) -> None:
    # The new kiosk's timetable: every grade 13:30-14:20 on weekdays; grades 5 and 6 at 17:00.
    problems = refused(database, rules.save_opening, Typed(("fri", "sat"), "14:00", "15:00", "4"))
    assert problems == {
        "overlap": "It overlaps another opening on Friday 13:30–14:20 for the same grades: "
        "change the days, the times or the grades."
    }
    # Other grades at the same time, or the other week of an A/B timetable, are turns.
    add(database, weekdays=("mon",), opens="17:00", closes="17:40", grades="3, 4")
    add(database, weekdays=("sat",), opens="10:00", closes="11:00", week="A")
    add(database, weekdays=("sat",), opens="10:00", closes="11:00", week="B")
    assert len(read(database).openings) == 5
    # Changing an opening does not count it against itself.
    with database.write() as session:
        rules.save_opening(session, Typed(("sat",), "10:00", "11:30", "", "B"), number=5)


def test_closed_days_with_a_note_and_opened_again(database: Database) -> None:
    with database.write() as session:
        rules.close(session, "2026-10-01", "2026-10-07", "  国庆节 ")
        rules.close(session, "2026-11-24")
    _version, data = sent_to_kiosks(database)
    assert data is not None and len(data["timetable"]["closed_dates"]) == 8
    assert [(c.first, c.last, c.note) for c in read(database).closures] == [
        (dt.date(2026, 10, 1), dt.date(2026, 10, 7), "国庆节"),
        (dt.date(2026, 11, 24), dt.date(2026, 11, 24), ""),
    ]
    with database.write() as session:
        assert rules.reopen(session, dt.date(2026, 10, 6), dt.date(2026, 10, 30)) == 2
    assert read(database).closures[0].last == dt.date(2026, 10, 5)
    with database.read() as session:  # a day open again keeps no note
        assert session.get(ClosedDayNote, dt.date(2026, 10, 6)) is None
    with pytest.raises(RulesRefused, match="not closed on any day"), database.write() as session:
        rules.reopen(session, dt.date(2026, 12, 1))


def test_closed_days_typed_wrong_are_named(database: Database) -> None:
    assert refused(database, rules.close, "2026-02-30", "next week", "x" * 201) == {
        "first": "“2026-02-30” is not a date: write it like 2026-10-01.",
        "last": "“next week” is not a date: write it like 2026-10-01.",
        "note": "A note of at most 200 characters.",
    }
    assert refused(database, rules.close, "2026-10-07", "2026-10-01") == {
        "last": "The last day cannot be before the first."
    }
    assert refused(database, rules.close, "1026-10-07") == {
        "first": "A date from 2000-01-01 to 2199-12-31."
    }
    assert refused(database, rules.close, "2026-01-01", "2027-12-31") == {
        "last": "At most 366 days at once."
    }


def test_a_week_said_to_be_a_b_week_makes_the_weeks_before_and_after_a_weeks(
    database: Database,
) -> None:
    thursday = dt.date(2026, 11, 26)
    with database.write() as session:
        found = rules.set_week(session, thursday, Week.B)
    assert found.week_a_starts == dt.date(2026, 11, 16)
    assert found.week_of(thursday) == Week.B
    assert found.week_of(thursday + dt.timedelta(days=7)) == Week.A
    assert refused(database, rules.set_week, thursday, "every") == {"week": "Choose A or B."}


def test_a_rules_file_with_overlapping_openings_is_refused(
    database: Database, tmp_path: Path
) -> None:
    with database.write() as session:
        rules.close(session, "2026-10-01", note="国庆节")
    path = tmp_path / "rules.toml"
    path.write_text(
        "[[timetable.window]]\nweekdays = ['mon', 'tue']\nopens = '13:30'\ncloses = '14:20'\n"
        "[[timetable.window]]\nweekdays = ['tue']\nopens = '14:00'\ncloses = '15:00'\n"
        "grades = [3]\n",
        encoding="utf-8",
    )
    before = sent_to_kiosks(database)
    with pytest.raises(RulesRefused, match="window 1 and 2 are open for the same grades at the "
                       "same time on Tuesday"), database.write() as session:  # fmt: skip
        rules.set_rules(session, path)
    assert sent_to_kiosks(database) == before
    # A file's rules replace the closed days too: a note of a day no longer closed goes.
    path.write_text("[timetable]\nclosed_dates = [2026-10-02]\n", encoding="utf-8")
    with database.write() as session:
        rules.set_rules(session, path)
    assert [(c.first, c.note) for c in read(database).closures] == [(dt.date(2026, 10, 2), "")]


def test_a_kiosk_opens_and_closes_by_the_rules_changed_at_the_office(
    office: Office, make_kiosk
) -> None:
    kiosk = enrolled(office, make_kiosk, sync=True)
    kiosk.clock.set(dt.datetime(2026, 11, 24, 16, 30, tzinfo=TZ))  # a Tuesday afternoon
    assert kiosk.scan("S1")[-1].detail.get("blocked") == "closed"
    kiosk.engine.touch("done")

    database = office.database()
    with database.write() as session:
        rules.save_opening(session, Typed(("tue",), "16:00", "17:00", "3"))
    database.close()
    kiosk.client.sync()
    session = kiosk.scan("S1")[-1]
    assert session.kind == "session_started" and "blocked" not in session.detail
    assert kiosk.scan("B001")[-1].kind == "checked_out"
    kiosk.engine.touch("done")
    # Grade 5 is not in that opening.
    assert kiosk.scan("S5")[-1].detail.get("blocked") == "not_your_grade_today"
    kiosk.engine.touch("done")

    office.ok("close", "2026-11-24", "--note", "运动会")
    assert "closed 2026-11-24: 运动会" in office.ok("rules")
    kiosk.client.sync()
    assert kiosk.scan("S1")[-1].detail.get("blocked") == "closed"
    kiosk.engine.touch("done")

    code, _out, err = office.command("close", "2026-11-31")
    assert code == 1 and "“2026-11-31” is not a date" in err
    office.ok("reopen", "2026-11-24")
    kiosk.client.sync()
    assert "blocked" not in kiosk.scan("S1")[-1].detail
