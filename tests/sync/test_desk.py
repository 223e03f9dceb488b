"""The desk's service on the office's own records (SQLite and PostgreSQL): the kiosks' rules
over the office's ledger, each desk loan an event of the ledger that kiosks pull, refusals set
aside with a reason and logged, and class sets."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from kiosk.clock import utc_now
from sync.server.db import Database
from sync.server.models import Change, ClassSet, Event, Kiosk, Loan, Override
from sync.server.services import NotFound, Refusal, desk, figures, kiosks, overdue, plan
from sync.server.services.rules import set_rules
from tests.sync.support import Office

LIBRARIAN = "王老师"


def school_day(database: Database, now: dt.datetime | None = None) -> dt.date:
    """The school's date (the plan's time zone), by which the desk lends and counts late."""
    with database.read() as session:
        return overdue.today(session, now)


def at(days: float) -> dt.datetime:
    """A time *days* from now (negative: ago)."""
    return utc_now() + dt.timedelta(days=days)


def lend(database: Database, card: str, code: str, **kw) -> desk.Answer:
    with database.write() as session:
        return desk.lend(session, card, code, librarian=LIBRARIAN, **kw)


def loan_change(database: Database, code: str) -> dict:
    """What kiosks pull about the open (or last) loan of *code*."""
    with database.read() as session:
        loan = session.scalar(
            select(Loan).where(Loan.copy_code == code).order_by(Loan.lent_at.desc()).limit(1)
        )
        assert loan is not None
        change = session.scalar(select(Change).where(Change.kind == "loan", Change.key == loan.id))
    assert change is not None and change.data is not None
    return change.data


def test_a_student_borrows_to_the_limit_and_a_teacher_by_her_own_policy(
    database: Database,
) -> None:
    with database.write() as session:
        opened = desk.scan(session, "s1", librarian=LIBRARIAN)  # a card typed in small letters
    assert opened.outcome == "reader" and opened.reader is not None
    assert (opened.reader.name, opened.reader.may_borrow) == ("小明", 2)

    first = lend(database, "S1", "B001")
    assert first.outcome == "lent" and first.tone == "ok"
    assert first.due == school_day(database) + dt.timedelta(days=14)
    lend(database, "S1", "B002")
    over = lend(database, "S1", "B003")
    assert (over.outcome, over.refusal, over.tone) == ("refused", "limit_reached", "refused")
    assert over.overridable and over.detail == {"max_loans": 2, "bring_back": "Book 1"}
    assert lend(database, "S1", "REF1").refusal == "not_for_loan"
    assert not lend(database, "S1", "REF1", reason="please").overridable
    again = lend(database, "S1", "B001")
    assert again.outcome == "choice" and again.title == "Book 1"

    for code in ("B004", "B005", "B006"):  # a teacher's policy: 10 books for 30 days
        taken = lend(database, "T1", code)
        assert taken.outcome == "lent"
        assert taken.due == school_day(database) + dt.timedelta(days=30)
    assert taken.reader is not None and taken.reader.may_borrow == 7
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Loan)) == 5


def test_the_rules_the_office_gives_the_kiosks_hold_at_the_desk(
    database: Database, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        "[policies.teacher]\nmax_loans = 1\nloan_days = 3\nmax_renewals = 0\n"
        "overdue_block_days = 30\n\n[[timetable.window]]\nweekdays = ['mon']\n"
        "opens = '13:30'\ncloses = '14:20'\n",
        encoding="utf-8",
    )
    with database.write() as session:
        set_rules(session, rules)
    taken = lend(database, "T1", "B001")
    assert taken.due is not None and taken.due.weekday() == 0  # moved to the open day
    assert 3 <= (taken.due - school_day(database)).days < 10
    assert lend(database, "T1", "B002").refusal == "limit_reached"


def test_blocked_readers_and_a_refusal_set_aside_with_a_reason(database: Database) -> None:
    lend(database, "S2", "B004", now=at(-30))  # due 16 days ago: past the 7 days that block
    blocked = lend(database, "S2", "B005")
    assert (blocked.refusal, blocked.detail) == ("overdue_block", {"titles": ["Book 4"]})
    assert blocked.reader is not None and blocked.reader.may_borrow == 0
    assert blocked.reader.loans[0].late_days == 16
    with database.write() as session:
        ledger_before = session.scalar(select(func.count()).select_from(Event))
    with pytest.raises(Refusal):
        lend(database, "S2", "B005", reason="x" * 201)
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == ledger_before

    lent = lend(database, "S2", "B005", reason="  her class   reads it this week ")
    assert lent.outcome == "lent" and lent.reader is not None
    assert [line.override for line in lent.reader.loans] == [None, "her class reads it this week"]
    with database.read() as session:
        logged = session.scalars(select(Override)).one()
        assert (logged.librarian, logged.refusal, logged.action) == (
            LIBRARIAN,
            "overdue_block",
            "checkout",
        )
        loan = session.get(Loan, logged.loan_id)
        assert loan is not None and loan.override_by == LIBRARIAN
        listed = desk.overrides(session)
    assert [(o.name, o.title, o.reason, o.where) for o in listed] == [
        ("小红", "Book 5", "her class reads it this week", desk.DESK)
    ]
    with database.write() as session:
        gone = desk.scan(session, "GONE", librarian=LIBRARIAN)
    assert (gone.outcome, gone.refusal, gone.overridable) == ("refused", "patron_removed", False)


def test_renewals_by_the_rules_and_over_them(database: Database) -> None:
    lend(database, "S5", "B006", now=at(-3))
    with database.write() as session:
        renewed = desk.renew(session, "S5", "B006", librarian=LIBRARIAN)
    assert renewed.outcome == "renewed"
    assert renewed.due == school_day(database) + dt.timedelta(days=14)
    with database.write() as session:
        refused = desk.renew(session, "S5", "B006", librarian=LIBRARIAN, now=at(1))
    assert (refused.refusal, refused.overridable) == ("max_renewals", True)
    with database.write() as session:
        forced = desk.renew(session, "S5", "B006", librarian=LIBRARIAN, now=at(1), reason="ill")
    assert forced.outcome == "renewed" and forced.due == school_day(database, at(1)) + dt.timedelta(
        days=14
    )
    with database.read() as session:
        loan = session.scalars(select(Loan)).one()
        assert (loan.renewals, loan.due_date) == (2, forced.due)
        assert session.scalars(select(Override.action)).all() == ["renew"]
    assert loan_change(database, "B006")["renewals"] == 2


def test_desk_loans_are_events_of_the_ledger_that_kiosks_pull(database: Database) -> None:
    lend(database, "S1", "B001")
    with database.write() as session:
        back = desk.scan(session, "B001", librarian=LIBRARIAN, now=at(15))  # nobody at the desk
    assert (back.outcome, back.holder, back.late_days) == ("returned", "小明", 1)
    lend(database, "S1", "9787020002207")  # an unlabelled copy, by its title's ISBN
    with database.read() as session:
        events = session.execute(
            select(Event.type, Event.applied, Kiosk.name, Kiosk.desk)
            .join(Kiosk, Event.kiosk_id == Kiosk.id)
            .order_by(Event.seq)
        ).all()
        assert [tuple(e) for e in events] == [
            ("checkout", True, desk.DESK, True),
            ("return", True, desk.DESK, True),
            ("checkout", True, desk.DESK, True),
        ]
        assert kiosks.kiosks(session) == []  # the desk is not one of the kiosks to look after
        with pytest.raises(NotFound):
            kiosks.find_kiosk(session, desk.DESK)
    returned = loan_change(database, "B001")
    assert returned["patron"] is None and returned["returned_at"] is not None
    out = loan_change(database, "9787020002207")
    assert (out["patron"], out["lent_where"], out["returned_at"]) == ("S1", desk.DESK, None)


def test_a_class_set_lent_held_and_brought_back(database: Database) -> None:
    due = school_day(database) + dt.timedelta(days=40)
    lend(database, "S2", "B008")  # in the librarian's hands again: that loan ends
    with database.write() as session:
        before = session.scalar(select(func.count()).select_from(Event))
        with pytest.raises(desk.BadSet) as bad:
            desk.lend_class_set(
                session, holder="T1", class_name="3-1", due=due, librarian=LIBRARIAN,
                codes=["B007", "NOPE", "REF1", "9787020002207", "9787020002207",
                       "9787020002207"],
            )  # fmt: skip
        assert [(code, why) for code, why, _detail in bad.value.problems] == [
            ("NOPE", "unknown_code"),
            ("REF1", "not_for_loan"),
            ("9787020002207", "no_more_copies"),
        ]
    with database.read() as session:  # nothing lent
        assert session.scalar(select(func.count()).select_from(Event)) == before
        assert session.scalar(select(func.count()).select_from(ClassSet)) == 0

    with database.write() as session:
        lent = desk.lend_class_set(
            session, holder="t1", class_name=" 3-1 ", due=due, librarian=LIBRARIAN,
            codes=["B007", "B007", "B008", "", "9787020002207", "9787020002207"], note="读书角",
        )  # fmt: skip
    assert (lent.class_name, lent.holder_name, lent.out, lent.due) == ("3-1", "王老师", 4, due)
    assert sorted(b.copy for b in lent.books) == ["9787020002207", "9787020002207", "B007", "B008"]
    with database.read() as session:
        teacher = desk.reader(session, "T1")
        pupil = desk.reader(session, "S2")
    assert (teacher.set_books, teacher.loans, teacher.may_borrow) == (4, (), 10)
    assert pupil.loans == ()  # B008 came back to the desk
    # Kiosks hear that the books are out, not who holds them: the teacher borrows there freely.
    told = loan_change(database, "B007")
    assert (told["patron"], told["returned_at"]) == (None, None)
    assert lend(database, "T1", "B001").outcome == "lent"

    with database.write() as session:
        one = desk.give_back(session, "B007", librarian=LIBRARIAN)
        held = desk.class_sets(session)
    assert one.outcome == "returned" and one.holder == "王老师"
    assert [(s.class_name, s.out, len(s.books)) for s in held] == [("3-1", 3, 4)]
    with database.write() as session:
        assert desk.return_class_set(session, lent.id, librarian=LIBRARIAN) == 3
        assert desk.return_class_set(session, lent.id, librarian=LIBRARIAN) == 0
        assert desk.class_sets(session) == []
        assert [s.out for s in desk.class_sets(session, returned=True)] == [0]
        with pytest.raises(NotFound):
            desk.return_class_set(session, 999, librarian=LIBRARIAN)


def test_a_class_set_needs_a_reader_who_may_borrow_and_a_date_ahead(database: Database) -> None:
    today = school_day(database)
    for holder, due in [("GONE", today + dt.timedelta(days=9)), ("T1", today),
                        ("T1", today + dt.timedelta(days=400))]:  # fmt: skip
        with database.write() as session, pytest.raises(Refusal):
            desk.lend_class_set(
                session, holder=holder, class_name="", due=due, codes=["B001"], librarian="x"
            )
    with database.write() as session, pytest.raises(Refusal):
        desk.lend_class_set(
            session, holder="T1", class_name="", due=today + dt.timedelta(days=9), codes=["", " "],
            librarian="x",
        )  # fmt: skip


def test_the_desk_from_the_command_line(office_records: Office) -> None:
    office = office_records
    database = office.database()
    today = school_day(database)
    database.close()
    due = today + dt.timedelta(days=14)

    code, out, _err = office.command("lend", "S1", "B001", "B002", "B003", "--by", LIBRARIAN)
    assert code == 1
    assert out.splitlines() == [
        f"lent B001 (Book 1) to S1, due {due}",
        f"lent B002 (Book 2) to S1, due {due}",
        "refused B003 (Book 3): limit_reached (max_loans 2, bring_back Book 1)"
        " (--reason REASON sets it aside)",
    ]
    office.ok("lend", "S1", "B003", "--reason", "project week", "--by", LIBRARIAN)
    assert "S1 B003: limit_reached, because project week" in office.ok("overrides")
    (logged,) = [json.loads(line) for line in office.ok("overrides", "--json").splitlines()]
    assert (logged["by"], logged["name"], logged["title"]) == (LIBRARIAN, "小明", "Book 3")
    code, out, _err = office.command("return", "B001", "ZZZ")
    assert code == 1
    assert out.splitlines() == ["returned B001 (Book 1) from 小明", "refused ZZZ: unknown_code"]

    until = (today + dt.timedelta(days=30)).isoformat()
    lend_set = ("lend-class-set", "--holder", "T1", "--until", until, "--class", "3-1")
    code, _out, err = office.command(*lend_set, "B004", "NOPE")
    assert code == 1 and "NOPE: unknown_code" in err
    assert office.ok("class-sets") == "no class set is out\n"
    assert office.ok(*lend_set, "B004", "B005").startswith("set 1: 2 books lent to 王老师")
    assert office.ok("class-sets").split() == (
        f"set 1 3-1 王老师 (T1): 2 of 2 out, due {until}".split()
    )
    (held,) = [json.loads(line) for line in office.ok("class-sets", "--json").splitlines()]
    assert [book["copy"] for book in held["books"]] == ["B004", "B005"]
    assert office.ok("return-class-set", "1") == "set 1: 2 books taken back\n"
    assert office.ok("class-sets") == "no class set is out\n"


def test_the_desk_s_today_is_the_school_s_at_a_day_boundary(database: Database) -> None:
    """The desk counts days in the school's time zone (the plan's), as the overview does,
    whatever the office computer's own zone: just after midnight at the school, still the
    day before in UTC, a desk loan is due 14 school days on and late on the same day for the
    desk and the overview."""
    school = ZoneInfo("Asia/Shanghai")
    with database.write() as session:
        plan.save(session, {**plan.current(session).model_dump(), "timezone": school.key})
    tuesday = dt.datetime(2026, 3, 3, 0, 30, tzinfo=school)  # Monday 16:30 in UTC
    assert tuesday.astimezone(dt.UTC).date() == dt.date(2026, 3, 2)
    assert lend(database, "S1", "B001", now=tuesday).due == dt.date(2026, 3, 17)

    for day, late in [(17, 0), (18, 1)]:  # 00:30 at the school, the day before in UTC
        now = dt.datetime(2026, 3, day, 0, 30, tzinfo=school)
        with database.read() as session:
            (loan,) = desk.reader(session, "S1", now=now).loans
            school_plan = plan.current(session)
            seen = figures.overview(session, school_plan, figures.today_in(school_plan, now), now)
            school_today = overdue.today(session, now)
        assert loan.late_days == late
        assert seen.school.overdue == late
        assert school_today == dt.date(2026, 3, day)
