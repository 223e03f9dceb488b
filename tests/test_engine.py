"""The kiosk engine, driven as a student and a small librarian would, on a real SQLite file."""

from __future__ import annotations

import datetime as dt
import itertools
import resource
import signal
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager

import pytest
from sqlalchemy import select, text

from kiosk import outbox
from kiosk.engine import Kiosk, State
from kiosk.models import Copy, CopyStatus, Event, Loan, Patron
from kiosk.outcome import Kind, Light, Outcome, Sound
from kiosk.pins import check_pin
from kiosk.settings import LATEST_SEEN
from kiosk.store import Store, set_setting
from sync import wire
from tests.conftest import HELPER_PIN, TUESDAY_LUNCH, TZ, FakeClock


def one(outcomes: list[Outcome]) -> Outcome:
    assert len(outcomes) == 1, outcomes
    return outcomes[0]


def scan(kiosk: Kiosk, clock: FakeClock, code: str) -> Outcome:
    clock.advance(3)  # a child scans a little apart; repeats within 2 s are tested on their own
    return one(kiosk.scan(code))


def events(store) -> list[Event]:
    with store.read() as db:
        return list(db.scalars(select(Event).order_by(Event.seq)))


def lent_ids(store: Store) -> list[str]:
    with store.read() as db:
        return list(db.scalars(select(Loan.id)))


def copy_status(store: Store, barcode: str) -> CopyStatus:
    with store.read() as db:
        return db.scalar(select(Copy.status).where(Copy.barcode == barcode))


# -- sessions and lending ----------------------------------------------------------------


def test_student_borrows_and_sees_due_date(kiosk: Kiosk, clock: FakeClock, store: Store) -> None:
    started = scan(kiosk, clock, "S1")
    assert started.kind == Kind.SESSION_STARTED
    assert (started.name, started.class_name, started.may_borrow) == ("小明", "3-1", 2)
    assert started.light == Light.SUCCESS

    lent = scan(kiosk, clock, "B001")
    assert lent.kind == Kind.CHECKED_OUT
    assert lent.title == "Book 1"
    # 14 days from Tuesday 24 November is 8 December, a closed date: due the next open day.
    assert lent.due == dt.date(2026, 12, 9)
    assert lent.may_borrow == 1
    assert (lent.light, lent.sound) == (Light.SUCCESS, Sound.BEEP)
    assert copy_status(store, "B001") == CopyStatus.ON_LOAN

    ended = one(kiosk.touch("done"))
    assert ended.kind == Kind.SESSION_ENDED
    assert [line.copy for line in ended.receipt] == ["B001"]
    assert kiosk.state == State.IDLE
    assert [e.type for e in events(store)] == ["session_started", "checkout", "session_ended"]


def test_session_shows_current_loans_with_overdue_marked(kiosk: Kiosk, clock: FakeClock) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    kiosk.touch("done")
    clock.set(dt.datetime(2026, 12, 11, 13, 40, tzinfo=TZ))  # two days after the due date
    started = scan(kiosk, clock, "S1")
    assert [(ln.copy, ln.overdue_days) for ln in started.loans] == [("B001", 2)]
    assert started.may_borrow == 1


def test_the_last_book_a_child_may_take_ends_the_session_with_its_receipt(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    clock.advance(3)
    lent, ended = kiosk.scan("B002")  # two is the most a student may have
    assert (lent.kind, lent.may_borrow) == (Kind.CHECKED_OUT, 0)
    assert (ended.kind, ended.reason, ended.patron) == (Kind.SESSION_ENDED, "all_taken", "S1")
    assert [line.copy for line in ended.receipt] == ["B001", "B002"]
    assert kiosk.state == State.IDLE and kiosk.patron_card is None
    assert [e.type for e in events(store)][-1] == "session_ended"


def test_limit_reached_names_the_book_to_bring_back_first(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B002")
    clock.set(TUESDAY_LUNCH + dt.timedelta(days=1))
    scan(kiosk, clock, "S1")
    clock.advance(3)
    kiosk.scan("B001")  # the second book: the session ends
    clock.advance(3)
    started = one(kiosk.scan("S1"))
    assert (started.may_borrow, started.detail["bring_back"]) == (0, "Book 2")
    refused = scan(kiosk, clock, "B003")
    assert (refused.kind, refused.reason, refused.title) == (
        Kind.REFUSED,
        "limit_reached",
        "Book 3",
    )
    assert refused.detail["bring_back"] == "Book 2"  # due first
    assert (refused.light, refused.sound) == (Light.REFUSED, Sound.LOW_BEEP)
    assert "can_override" not in refused.detail  # only a small librarian may
    assert copy_status(store, "B003") == CopyStatus.AVAILABLE
    assert [e.type for e in events(store)].count("checkout") == 2


def test_overdue_block_after_policy_days(kiosk: Kiosk, clock: FakeClock) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    kiosk.touch("done")
    clock.set(dt.datetime(2026, 12, 15, 13, 40, tzinfo=TZ))  # 6 days overdue: not yet blocked
    scan(kiosk, clock, "S1")
    clock.advance(3)
    assert kiosk.scan("B002")[0].kind == Kind.CHECKED_OUT  # the second: the session ends
    clock.set(dt.datetime(2026, 12, 16, 13, 40, tzinfo=TZ))  # 7 days overdue: blocked
    started = scan(kiosk, clock, "S1")
    assert started.detail["blocked"] == "overdue_block"
    assert started.may_borrow == 0
    assert (started.light, started.sound) == (Light.REFUSED, Sound.LOW_BEEP)
    refused = scan(kiosk, clock, "B003")
    assert refused.reason == "overdue_block"
    assert refused.detail["titles"] == ["Book 1"]


def test_lost_book_blocks_until_found(kiosk: Kiosk, clock: FakeClock, store: Store) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    kiosk.touch("done")
    scan(kiosk, clock, "H1")
    kiosk.touch("pin", HELPER_PIN)
    kiosk.touch("mark_lost")
    assert scan(kiosk, clock, "B001").kind == Kind.COPY_MARKED
    kiosk.touch("leave")
    scan(kiosk, clock, "S1")
    assert scan(kiosk, clock, "B002").reason == "lost_block"
    kiosk.touch("done")
    returned = scan(kiosk, clock, "B001")  # the lost book turns up and is handed in
    assert returned.kind == Kind.RETURNED
    assert copy_status(store, "B001") == CopyStatus.AVAILABLE
    scan(kiosk, clock, "S1")
    assert scan(kiosk, clock, "B002").kind == Kind.CHECKED_OUT


@pytest.mark.parametrize(
    "status",
    [
        CopyStatus.REFERENCE,
        CopyStatus.DAMAGED,
        CopyStatus.IN_REPAIR,
        CopyStatus.LOST,
        CopyStatus.WITHDRAWN,
    ],
)
def test_not_for_loan(kiosk: Kiosk, clock: FakeClock, store: Store, status: CopyStatus) -> None:
    with store.write() as db:
        db.scalar(select(Copy).where(Copy.barcode == "B004")).status = status
    scan(kiosk, clock, "S1")
    refused = scan(kiosk, clock, "B004")
    assert (refused.reason, refused.detail["status"]) == ("not_for_loan", status)


def test_inactive_patron_may_return_but_not_borrow(kiosk: Kiosk, clock: FakeClock) -> None:
    started = scan(kiosk, clock, "GONE")
    assert started.detail["blocked"] == "patron_inactive"
    assert scan(kiosk, clock, "B001").reason == "patron_inactive"


def test_closed_outside_opening_hours_but_returns_taken(kiosk: Kiosk, clock: FakeClock) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    kiosk.touch("done")
    clock.set(dt.datetime(2026, 11, 24, 14, 20, tzinfo=TZ))  # closing time itself: closed
    started = scan(kiosk, clock, "S2")
    assert started.detail["blocked"] == "closed"
    # No green "success" for a card the library cannot lend to now: amber, as closed.
    assert (started.light, started.sound) == (Light.CLOSED, Sound.LOW_BEEP)
    assert scan(kiosk, clock, "B002").reason == "closed"
    resumed = scan(kiosk, clock, "S2")
    assert (resumed.kind, resumed.light) == (Kind.SESSION_RESUMED, Light.CLOSED)
    kiosk.touch("done")
    assert scan(kiosk, clock, "B001").kind == Kind.RETURNED
    assert kiosk.idle_light() == Light.CLOSED


def test_opening_time_itself_is_open(kiosk: Kiosk, clock: FakeClock) -> None:
    clock.set(dt.datetime(2026, 11, 24, 13, 30, tzinfo=TZ))
    scan(kiosk, clock, "S1")
    assert scan(kiosk, clock, "B001").kind == Kind.CHECKED_OUT


def test_grades_take_turns_in_alternate_weeks(kiosk: Kiosk, clock: FakeClock) -> None:
    # Week A (24 Nov): grade 5 borrows at lunch.
    scan(kiosk, clock, "S5")
    assert scan(kiosk, clock, "B001").kind == Kind.CHECKED_OUT
    kiosk.touch("done")
    # Week B (1 Dec): lunch is for grades 3 and 4 only.
    clock.set(dt.datetime(2026, 12, 1, 13, 45, tzinfo=TZ))
    scan(kiosk, clock, "S5")
    assert scan(kiosk, clock, "B002").reason == "not_your_grade_today"
    kiosk.touch("done")
    scan(kiosk, clock, "S1")
    assert scan(kiosk, clock, "B002").kind == Kind.CHECKED_OUT
    kiosk.touch("done")
    # ... and grades 5 and 6 have Wednesday evening of B weeks.
    clock.set(dt.datetime(2026, 12, 2, 17, 10, tzinfo=TZ))
    scan(kiosk, clock, "S5")
    clock.advance(3)
    assert kiosk.scan("B003")[0].kind == Kind.CHECKED_OUT


def test_closed_and_not_your_turn_say_when_the_library_opens_for_the_child(
    kiosk: Kiosk, clock: FakeClock
) -> None:
    clock.set(dt.datetime(2026, 12, 1, 13, 45, tzinfo=TZ))  # week B lunch: grades 3 and 4
    started = scan(kiosk, clock, "S5")
    # Grade 5's next turn: Wednesday evening of this B week.
    assert started.detail["blocked"] == "not_your_grade_today"
    assert started.detail["opens"] == dt.datetime(2026, 12, 2, 17, 0, tzinfo=TZ)
    refused = scan(kiosk, clock, "B001")
    assert refused.detail["opens"] == dt.datetime(2026, 12, 2, 17, 0, tzinfo=TZ)
    kiosk.touch("done")
    clock.set(dt.datetime(2026, 12, 7, 15, 0, tzinfo=TZ))  # Monday afternoon; 8 Dec is closed
    closed = scan(kiosk, clock, "S1")
    assert closed.detail["blocked"] == "closed"
    assert closed.detail["opens"] == dt.datetime(2026, 12, 9, 13, 30, tzinfo=TZ)


def test_closed_date_refuses_loans(kiosk: Kiosk, clock: FakeClock) -> None:
    clock.set(dt.datetime(2026, 12, 8, 13, 45, tzinfo=TZ))
    scan(kiosk, clock, "S1")
    assert scan(kiosk, clock, "B001").reason == "closed"


def test_teacher_is_not_held_to_grade_turns(kiosk: Kiosk, clock: FakeClock) -> None:
    clock.set(dt.datetime(2026, 12, 1, 13, 45, tzinfo=TZ))  # week B lunch: grades 3-4 only
    scan(kiosk, clock, "T1")
    lent = scan(kiosk, clock, "B001")
    assert lent.kind == Kind.CHECKED_OUT
    assert lent.due == dt.date(2026, 12, 31)  # teachers: 30 days


# -- return, renew, implicit return ------------------------------------------------------


def test_book_scanned_without_session_is_returned(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    kiosk.touch("done")
    clock.set(dt.datetime(2026, 12, 11, 13, 40, tzinfo=TZ))
    returned = scan(kiosk, clock, "B001")
    assert (returned.kind, returned.title, returned.late_days) == (Kind.RETURNED, "Book 1", 2)
    assert returned.patron is None  # the next child at the kiosk sees no name
    assert copy_status(store, "B001") == CopyStatus.AVAILABLE
    again = scan(kiosk, clock, "B001")
    assert (again.kind, again.reason) == (Kind.REFUSED, "not_on_loan")


def test_own_book_offers_return_or_renew(kiosk: Kiosk, clock: FakeClock) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    choice = scan(kiosk, clock, "B001")
    assert (choice.kind, choice.reason) == (Kind.CHOICE_NEEDED, "already_yours")
    assert kiosk.state == State.CHOICE
    clock.set(dt.datetime(2026, 11, 26, 13, 40, tzinfo=TZ))
    renewed = one(kiosk.touch("renew"))
    assert renewed.kind == Kind.RENEWED
    assert renewed.due == dt.date(2026, 12, 10)  # 14 days from the renewal
    scan(kiosk, clock, "B001")
    refused = one(kiosk.touch("renew"))
    assert (refused.reason, refused.detail["max_renewals"]) == ("max_renewals", 1)
    scan(kiosk, clock, "B001")
    returned = one(kiosk.touch("return"))
    assert returned.kind == Kind.RETURNED
    assert kiosk.state == State.SESSION


def test_renewing_is_not_offered_on_a_late_book_nor_used_up_on_the_day_of_the_loan(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    choice = scan(kiosk, clock, "B001")
    assert choice.detail["no_renew"] == "renew_not_needed"  # the date would not move
    assert one(kiosk.touch("renew")).reason == "renew_not_needed"
    with store.read() as db:
        assert db.scalar(select(Loan.renewals)) == 0  # the renewal is still there
    kiosk.touch("done")
    clock.set(dt.datetime(2026, 12, 11, 13, 40, tzinfo=TZ))  # two days late
    scan(kiosk, clock, "S1")
    late = scan(kiosk, clock, "B001")
    assert (late.late_days, late.detail["no_renew"]) == (2, "renew_late")
    assert one(kiosk.touch("renew")).reason == "renew_late"
    kiosk.touch("done")
    scan(kiosk, clock, "S2")
    scan(kiosk, clock, "B002")
    kiosk.touch("done")
    clock.set(dt.datetime(2026, 12, 14, 13, 40, tzinfo=TZ))  # a later day, on time
    scan(kiosk, clock, "S2")
    assert "no_renew" not in scan(kiosk, clock, "B002").detail  # offered, and it works
    assert one(kiosk.touch("renew")).kind == Kind.RENEWED


def test_choice_times_out_back_to_session(kiosk: Kiosk, clock: FakeClock) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    scan(kiosk, clock, "B001")
    clock.advance(9)
    assert kiosk.tick() == []
    clock.advance(2)
    resumed = one(kiosk.tick())
    assert resumed.kind == Kind.SESSION_RESUMED
    assert kiosk.state == State.SESSION
    assert [ln.copy for ln in resumed.loans] == ["B001"]


def test_book_lent_to_someone_else_is_returned_implicitly(
    kiosk: Kiosk, clock: FakeClock, store
) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    kiosk.touch("done")
    scan(kiosk, clock, "S2")
    lent = scan(kiosk, clock, "B001")
    assert lent.kind == Kind.CHECKED_OUT
    assert lent.detail["implicit_return"] is True
    with store.read() as db:
        loans = db.scalars(select(Loan).order_by(Loan.lent_at)).all()
        assert [(ln.implicit_return, ln.returned_at is None) for ln in loans] == [
            (True, False),
            (False, True),
        ]
    assert [e.type for e in events(store)][-2:] == ["implicit_return", "checkout"]


def test_refused_checkout_changes_nothing(kiosk: Kiosk, clock: FakeClock, store: Store) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    kiosk.touch("done")
    clock.set(dt.datetime(2026, 12, 1, 13, 45, tzinfo=TZ))  # week B: not grade 5's turn
    before = len(events(store))
    scan(kiosk, clock, "S5")
    assert scan(kiosk, clock, "B001").reason == "not_your_grade_today"
    # S1's loan is untouched: the refusal did not return it implicitly.
    with store.read() as db:
        assert db.scalar(select(Loan).where(Loan.returned_at.is_(None))).patron.card == "S1"
    assert len(events(store)) == before + 1  # only S5's session_started


def test_undo_last_loan_within_seconds(kiosk: Kiosk, clock: FakeClock, store: Store) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    clock.advance(4)
    undone = one(kiosk.touch("undo"))
    assert (undone.kind, undone.copy, undone.may_borrow) == (Kind.UNDONE, "B001", 2)
    assert copy_status(store, "B001") == CopyStatus.AVAILABLE
    scan(kiosk, clock, "B002")
    clock.advance(11)
    assert one(kiosk.touch("undo")).reason == "nothing_to_undo"
    ended = one(kiosk.touch("done"))
    assert [ln.copy for ln in ended.receipt] == ["B002"]


# -- ISBN scans --------------------------------------------------------------------------


def test_isbn_lends_any_unlabelled_copy(kiosk: Kiosk, clock: FakeClock) -> None:
    scan(kiosk, clock, "T1")
    first = scan(kiosk, clock, "9787020002207")
    second = scan(kiosk, clock, "9787020002207")
    assert first.kind == Kind.CHECKED_OUT
    assert first.title == "红楼梦"
    # The second scan of the ISBN is the teacher's own copy: return or renew?
    assert second.kind == Kind.CHOICE_NEEDED
    kiosk.touch("cancel")
    kiosk.touch("done")


def test_isbn_return_without_session_only_when_unambiguous(kiosk: Kiosk, clock: FakeClock) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "9787020002207")
    kiosk.touch("done")
    assert scan(kiosk, clock, "9787020002207").kind == Kind.RETURNED
    assert scan(kiosk, clock, "9787020002207").reason == "not_on_loan"
    for card in ("S1", "S2"):
        scan(kiosk, clock, card)
        scan(kiosk, clock, "9787020002207")
        kiosk.touch("done")
    assert scan(kiosk, clock, "9787020002207").reason == "scan_card_first"
    scan(kiosk, clock, "S2")
    assert scan(kiosk, clock, "9787020002207").kind == Kind.CHOICE_NEEDED
    assert one(kiosk.touch("return")).kind == Kind.RETURNED


def test_isbn_with_bad_check_digit_is_unknown(kiosk: Kiosk, clock: FakeClock) -> None:
    scan(kiosk, clock, "S1")
    unknown = scan(kiosk, clock, "9787020002208")
    assert (unknown.kind, unknown.reason) == (Kind.UNKNOWN_CODE, "unknown_code")


# -- scanning habits ---------------------------------------------------------------------


def test_same_code_within_two_seconds_is_ignored(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    scan(kiosk, clock, "S1")
    assert one(kiosk.scan("B001")).kind == Kind.CHECKED_OUT
    clock.advance(1.5)
    assert one(kiosk.scan("B001")).kind == Kind.IGNORED
    clock.advance(0.5)  # two seconds after the first scan: no longer a repeat
    assert one(kiosk.scan("B001")).kind == Kind.CHOICE_NEEDED  # a later repeat is answered
    assert [e.type for e in events(store)].count("checkout") == 1


def test_new_card_ends_previous_session_first(kiosk: Kiosk, clock: FakeClock) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    clock.advance(3)
    ended, started = kiosk.scan("S2")
    assert (ended.kind, ended.patron, ended.reason) == (Kind.SESSION_ENDED, "S1", "next_card")
    assert (started.kind, started.patron, started.loans) == (Kind.SESSION_STARTED, "S2", ())


def test_idle_timeout_forgets_the_student(kiosk: Kiosk, clock: FakeClock) -> None:
    scan(kiosk, clock, "S1")
    clock.advance(20)
    assert kiosk.tick() == []
    assert kiosk.seconds_left() == pytest.approx(10)
    clock.advance(9.9)
    assert kiosk.tick() == []
    clock.advance(0.1)  # thirty seconds without a scan or touch, to the tick
    ended = one(kiosk.tick())
    assert (ended.kind, ended.reason) == (Kind.SESSION_ENDED, "timeout")
    assert kiosk.patron_card is None
    assert scan(kiosk, clock, "B001").kind == Kind.REFUSED  # no session: a return attempt


def test_after_a_book_a_short_quiet_spell_ends_the_session_with_its_receipt(
    kiosk: Kiosk, clock: FakeClock
) -> None:
    scan(kiosk, clock, "S1")
    clock.advance(20)  # finding a book to scan takes a while: the card alone waits 30 s
    assert kiosk.tick() == []
    scan(kiosk, clock, "B001")
    assert kiosk.seconds_left() == pytest.approx(8)  # kiosk.toml walk_away_seconds
    clock.advance(7)
    assert kiosk.tick() == []
    clock.advance(1)
    ended = one(kiosk.tick())
    assert (ended.kind, ended.reason) == (Kind.SESSION_ENDED, "walk_away")
    assert [line.copy for line in ended.receipt] == ["B001"]
    assert kiosk.patron_card is None


def test_a_child_who_may_borrow_nothing_gets_the_short_spell_at_once(
    kiosk: Kiosk, clock: FakeClock
) -> None:
    clock.set(dt.datetime(2026, 11, 24, 15, 0, tzinfo=TZ))  # closed: returns only
    scan(kiosk, clock, "S1")
    assert kiosk.seconds_left() == pytest.approx(8)
    clock.advance(8)
    assert one(kiosk.tick()).reason == "walk_away"


def test_touch_keeps_the_session(kiosk: Kiosk, clock: FakeClock) -> None:
    scan(kiosk, clock, "S1")
    clock.advance(25)
    kiosk.touch("keep")
    clock.advance(25)
    assert kiosk.tick() == []
    assert kiosk.patron_card == "S1"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("B0\x0701", "control_characters"),
        ("x" * 10_000, "too_long"),
        ("\u200b", "control_characters"),
    ],
)
def test_garbled_scans_change_nothing(
    kiosk: Kiosk, clock: FakeClock, store: Store, raw: str, reason: str
) -> None:
    scan(kiosk, clock, "S1")
    before = len(events(store))
    garbled = one(kiosk.scan(raw))
    assert (garbled.kind, garbled.reason) == (Kind.UNKNOWN_CODE, reason)
    assert len(events(store)) == before
    assert kiosk.patron_card == "S1"


@pytest.mark.parametrize("raw", ["", "   ", "\r\n"])
def test_a_stray_enter_is_not_a_failed_scan(
    kiosk: Kiosk, clock: FakeClock, store: Store, raw: str
) -> None:
    scan(kiosk, clock, "S1")
    before = len(events(store))
    blank = one(kiosk.scan(raw))
    assert (blank.kind, blank.reason, blank.light, blank.sound) == (
        Kind.IGNORED,
        "empty",
        None,  # the lights stay as they are: no red
        Sound.NONE,
    )
    assert len(events(store)) == before
    assert kiosk.patron_card == "S1"


def test_codes_match_whatever_their_case(kiosk: Kiosk, clock: FakeClock) -> None:
    """Codes typed at a keyboard, or from a scanner set to lower case, find their card or book."""
    started = scan(kiosk, clock, "s1")
    assert (started.kind, started.patron) == (Kind.SESSION_STARTED, "S1")
    lent = scan(kiosk, clock, " b001 ")
    assert (lent.kind, lent.copy) == (Kind.CHECKED_OUT, "B001")


def test_an_unknown_touch_says_so(kiosk: Kiosk) -> None:
    unknown = one(kiosk.touch("dance"))
    assert (unknown.kind, unknown.reason, unknown.light) == (
        Kind.REFUSED,
        "unknown_touch",
        Light.REFUSED,
    )
    assert unknown.detail == {"touch": "dance"}


def test_unknown_code(kiosk: Kiosk, clock: FakeClock) -> None:
    unknown = scan(kiosk, clock, "NOPE-42")
    assert (unknown.kind, unknown.reason, unknown.light) == (
        Kind.UNKNOWN_CODE,
        "unknown_code",
        Light.REFUSED,
    )


def test_card_reader_role_reads_only_cards(kiosk: Kiosk, clock: FakeClock) -> None:
    clock.advance(3)
    assert one(kiosk.scan("B001", role="cards")).reason == "unknown_card"
    clock.advance(3)
    assert one(kiosk.scan("S1", role="cards")).kind == Kind.SESSION_STARTED
    clock.advance(3)
    assert one(kiosk.scan("S2", role="books")).reason == "unknown_code"


# -- small librarians --------------------------------------------------------------------


def test_helper_pin_opens_supervisor_and_records_overrides(
    kiosk: Kiosk, clock: FakeClock, store
) -> None:
    assert scan(kiosk, clock, "H1").kind == Kind.PIN_NEEDED
    supervisor = one(kiosk.touch("pin", HELPER_PIN))
    assert supervisor.kind == Kind.SUPERVISOR
    # A student forgot the card: the helper types it in (in any case) and opens the session.
    # Over the limit, the book is refused like any other, and lent only when the helper says so.
    started = one(kiosk.touch("open_for", "s1"))
    assert (started.kind, started.patron, started.detail["helper"]) == (
        Kind.SESSION_STARTED,
        "S1",
        "H1",
    )
    for code in ("B001", "B002"):
        assert scan(kiosk, clock, code).kind == Kind.CHECKED_OUT  # the session stays open
    refused = scan(kiosk, clock, "B003")
    assert (refused.reason, refused.detail["can_override"]) == ("limit_reached", True)
    assert copy_status(store, "B003") == CopyStatus.AVAILABLE
    over = one(kiosk.touch("override"))
    assert (over.kind, over.detail["override_by"]) == (Kind.CHECKED_OUT, "H1")
    assert one(kiosk.touch("override")).reason == "nothing_to_answer"  # once only
    with store.read() as db:
        loan = db.scalar(select(Loan).join(Copy).where(Copy.barcode == "B003"))
        assert loan.override_by == "H1"
        first = db.scalar(select(Loan).join(Copy).where(Copy.barcode == "B001"))
        assert first.override_by is None
    checkout = [e for e in events(store) if e.type == "checkout"][-1]
    assert checkout.payload["override_by"] == "H1"


def test_wrong_pins_lock_the_card(kiosk: Kiosk, clock: FakeClock, store: Store) -> None:
    scan(kiosk, clock, "H1")
    assert one(kiosk.touch("pin", "0000")).detail["attempts_left"] == 2
    assert one(kiosk.touch("pin", "1111")).detail["attempts_left"] == 1
    assert one(kiosk.touch("pin", "2222")).reason == "card_locked"
    # Each wrong PIN is in the supervisor log, not only the lock-out.
    log = [(e.type, e.payload.get("card")) for e in events(store)]
    assert log == [("wrong_pin", "H1")] * 3 + [("card_locked", "H1")]
    assert kiosk.state == State.IDLE
    assert scan(kiosk, clock, "H1").reason == "card_locked"  # even with the right PIN next
    clock.advance(minutes=5, seconds=1)
    assert scan(kiosk, clock, "H1").kind == Kind.PIN_NEEDED
    assert one(kiosk.touch("pin", HELPER_PIN)).kind == Kind.SUPERVISOR
    with store.read() as db:
        pin_hash = db.scalar(select(Patron.pin_hash).where(Patron.card == "H1"))
    # Kept only as a salted hash (its hex digits may hold any four digits by chance).
    assert pin_hash.startswith("scrypt$") and check_pin(HELPER_PIN, pin_hash)


def test_helper_can_borrow_for_themselves(kiosk: Kiosk, clock: FakeClock) -> None:
    scan(kiosk, clock, "H1")
    started = one(kiosk.touch("borrow"))
    assert (started.kind, started.patron) == (Kind.SESSION_STARTED, "H1")
    assert scan(kiosk, clock, "B001").kind == Kind.CHECKED_OUT


def test_batch_return_and_mark_damaged(kiosk: Kiosk, clock: FakeClock, store: Store) -> None:
    for card, book in (("S1", "B001"), ("S2", "B002")):
        scan(kiosk, clock, card)
        scan(kiosk, clock, book)
        kiosk.touch("done")
    scan(kiosk, clock, "H1")
    kiosk.touch("pin", HELPER_PIN)
    kiosk.touch("batch_return")
    assert [scan(kiosk, clock, b).kind for b in ("B001", "B002")] == [Kind.RETURNED] * 2
    returns = [e for e in events(store) if e.type == "return"]
    assert [e.payload["by"] for e in returns] == ["H1", "H1"]  # who took the pile in
    kiosk.touch("done")
    assert kiosk.state == State.SUPERVISOR
    kiosk.touch("mark_damaged")
    marked = scan(kiosk, clock, "B001")
    assert (marked.kind, marked.reason) == (Kind.COPY_MARKED, "damaged")
    assert copy_status(store, "B001") == CopyStatus.DAMAGED
    kiosk.touch("leave")
    assert kiosk.state == State.IDLE
    status_event = [e for e in events(store) if e.type == "copy_status"][-1]
    assert status_event.payload == {"copy": "B001", "status": "damaged", "by": "H1"}


def test_a_lent_book_handed_in_damaged_is_returned_and_set_aside(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    kiosk.touch("done")
    scan(kiosk, clock, "H1")
    kiosk.touch("pin", HELPER_PIN)
    kiosk.touch("mark_damaged")
    marked = scan(kiosk, clock, "B001")  # a torn book, handed to a helper, still on loan
    assert (marked.kind, marked.reason) == (Kind.COPY_MARKED, "damaged")
    assert copy_status(store, "B001") == CopyStatus.DAMAGED
    with store.read() as db:
        loan = db.scalar(select(Loan))
        assert loan.returned_at is not None and not loan.implicit_return
    assert [e.type for e in events(store)][-2:] == ["return", "copy_status"]
    kiosk.touch("leave")
    started = scan(kiosk, clock, "S1")
    assert started.loans == () and started.may_borrow == 2  # the student owes nothing
    refused = scan(kiosk, clock, "B001")
    assert (refused.kind, refused.reason) == (Kind.REFUSED, "not_for_loan")


def test_supervisor_menu_closes_by_itself(kiosk: Kiosk, clock: FakeClock) -> None:
    scan(kiosk, clock, "H1")
    kiosk.touch("pin", HELPER_PIN)
    clock.advance(121)
    assert one(kiosk.tick()).kind == Kind.SESSION_ENDED
    assert kiosk.state == State.IDLE
    assert one(kiosk.touch("batch_return")).reason == "supervisor_only"


# -- outbox, clock, privacy, faults ------------------------------------------------------


def test_every_event_has_uuid_sequence_time_and_clock(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    kiosk.touch("done")
    evs = events(store)
    assert [e.seq for e in evs] == list(range(1, len(evs) + 1))
    assert len({e.uuid for e in evs}) == len(evs)
    for made in [e.uuid for e in evs] + lent_ids(store):
        assert str(uuid.UUID(made)) == made and uuid.UUID(made).version == 4  # RFC 4122, random
    assert all(e.clock == "ok" and e.at.tzinfo is not None for e in evs)
    checkout = evs[1]
    assert checkout.payload["patron"] == "S1"
    assert checkout.payload["due"] == "2026-12-09"


@pytest.mark.parametrize("model", list(wire.PAYLOADS.values()), ids=list(wire.PAYLOADS))
def test_an_event_is_written_as_its_wire_model_writes_it(model: type[wire.Payload]) -> None:
    # The outbox writes a payload without validating it (a scan waits on it): the JSON must
    # be the model's own, byte for byte, and one the office accepts, for every type of event.
    samples = {
        "loan": "0b6c5c1e-9f0a-4d8e-8f1e-3c2b1a0d9e8f",
        "copy": "B001",
        "patron": "S1",
        "due": dt.date(2026, 12, 9),
        "where": '库 kiosk "A"',
        "late_days": 2,
        "status": CopyStatus.DAMAGED,
        "by": "H1",
        "stocktake": 7,
        "shelf": "A3",
        "reason": "done",
        "taken": 1,
        "card": "H1",
        "attempts_left": 2,
        "override_by": "H1",
        "helper": "H2",
    }
    names = [info.alias or name for name, info in model.model_fields.items()]
    required = [info.alias or n for n, info in model.model_fields.items() if info.is_required()]
    for given in ({n: samples[n] for n in required}, {n: samples[n] for n in names}):
        written = outbox.payload_json(model, given)
        assert written == model(**given).model_dump_json(by_alias=True)
        assert wire.PAYLOADS[model.event_type].model_validate_json(written) == model(**given)
    with pytest.raises(TypeError, match="missing"):
        outbox.payload_json(model, {})
    with pytest.raises(TypeError, match="no field nickname"):
        outbox.payload_json(model, {**{n: samples[n] for n in names}, "nickname": "x"})


def test_clock_going_backwards_is_a_fault_but_lending_goes_on(
    kiosk: Kiosk, clock: FakeClock, store
) -> None:
    scan(kiosk, clock, "S1")
    clock.set(TUESDAY_LUNCH - dt.timedelta(minutes=10))
    fault, lent = kiosk.scan("B001")
    assert (fault.kind, fault.reason, fault.light) == (Kind.FAULT, "clock_backwards", Light.FAULT)
    assert lent.kind == Kind.CHECKED_OUT
    assert kiosk.clock_state == "backwards"
    assert events(store)[-1].clock == "backwards"
    clock.advance(3)
    lent, _ended = kiosk.scan("B002")  # warned once, not at every scan
    assert lent.kind == Kind.CHECKED_OUT


def test_standalone_kiosk_forgets_returned_loans_after_days(
    kiosk: Kiosk, clock: FakeClock, store
) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    kiosk.touch("done")
    scan(kiosk, clock, "B001")
    scan(kiosk, clock, "S2")
    kiosk.touch("done")
    with store.read() as db:
        assert db.scalar(select(Loan)).patron_id is not None  # kept for a week
    clock.advance(days=8)
    scan(kiosk, clock, "S2")
    kiosk.touch("done")
    with store.read() as db:
        loan = db.scalar(select(Loan))
        assert loan.patron_id is None
        assert (loan.patron_class, loan.patron_grade) == ("3-1", 3)  # for the reading league


def test_a_scan_in_flight_when_the_kiosk_stops_is_answered_and_kept(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    # The app stops (the store is closed) while the scanner's thread is inside a checkout:
    # the checkout is answered and on disk, and the store is closed after it.
    scan(kiosk, clock, "S1")
    inside, go = threading.Event(), threading.Event()

    def held(statement: str) -> None:
        if "INSERT INTO loans" in statement:
            inside.set()
            go.wait(timeout=60)

    store.watch(held)
    answers: list[list[Outcome]] = []
    clock.advance(3)
    scanning = threading.Thread(target=lambda: answers.append(kiosk.scan("B001")))
    scanning.start()
    assert inside.wait(timeout=60)
    stopping = threading.Thread(target=store.close)
    stopping.start()
    go.set()
    scanning.join(timeout=60)
    stopping.join(timeout=60)
    assert [o.kind for o in answers[0]] == [Kind.CHECKED_OUT]
    with closing(sqlite3.connect(store.path)) as db:
        lent = db.execute("SELECT count(*) FROM loans WHERE returned_at IS NULL").fetchone()[0]
    assert lent == 1


def test_locked_database_is_a_fault_and_the_engine_goes_on(
    kiosk: Kiosk, clock: FakeClock, store: Store, monkeypatch
) -> None:
    import sqlite3

    import kiosk.store as store_module

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 50)
    store.close()  # the connections are made again, with what the test sets
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        fault = scan(kiosk, clock, "S1")
        assert (fault.kind, fault.reason, fault.light) == (Kind.FAULT, "database", Light.FAULT)
        assert "busy" in fault.detail["message"]
        assert kiosk.state == State.IDLE
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert scan(kiosk, clock, "S1").kind == Kind.SESSION_STARTED


def test_full_disk_is_a_fault_and_nothing_is_half_written(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    from sqlalchemy import event

    scan(kiosk, clock, "S1")
    with store.read() as db:
        pages = db.execute(text("PRAGMA page_count")).scalar()
    # SQLite's own "database or disk is full", by capping the file at its current size.
    store.close()  # the connections are made again, with what the test sets
    event.listen(
        store.engine, "connect", lambda conn, _rec: conn.execute(f"PRAGMA max_page_count={pages}")
    )

    def lend_and_take_back() -> Iterator[Callable[[], list[Outcome]]]:
        while True:
            clock.advance(3)
            yield lambda: kiosk.scan("B001")
            yield lambda: kiosk.touch("undo")

    outcomes, written = [], 0
    # Until the "disk" has no room for a new page: the checkout or the undo that finds it full.
    for action in itertools.islice(lend_and_take_back(), 1000):
        written = len(events(store))
        outcomes = action()
        if outcomes[0].kind == Kind.FAULT:
            break
    fault = one(outcomes)
    assert (fault.kind, fault.reason) == (Kind.FAULT, "database")
    assert "disk is full" in fault.detail["message"]
    assert len(events(store)) == written  # the failed scan left no event behind
    with store.read() as db:
        loans = db.scalars(select(Loan)).all()
        assert len(loans) == len([e for e in events(store) if e.type == "checkout"])
        assert db.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    assert kiosk.patron_card == "S1"  # the session is still there for the next try


@contextmanager
def disk_full_after(store: Store, size: int) -> Iterator[None]:
    """No file of this process may grow past *size* bytes, as on a full disk, from a write-ahead
    log emptied first: SQLite finds out when it commits, after the statements went through."""
    store.close()  # the connections are made again, with what the test sets
    with closing(sqlite3.connect(store.path)) as db:
        assert db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0  # not busy
    with store.read() as db:
        db.execute(text("SELECT 1"))  # the kiosk's connection is open, as it is all day
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed kiosk
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, limits[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)


def test_disk_full_at_commit_leaves_the_session_as_the_disk_has_it(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    """The scan answers "fault" and the session forgets the book, so the receipt after space
    is freed lists only loans the database has."""
    scan(kiosk, clock, "T1")  # a teacher: ten books, so the session stays open for more
    assert scan(kiosk, clock, "B002").kind == Kind.CHECKED_OUT
    with disk_full_after(store, 1024):
        fault = scan(kiosk, clock, "B001")
    assert (fault.kind, fault.reason) == (Kind.FAULT, "database")
    assert "disk is full" in fault.detail["message"]
    assert kiosk.patron_card == "T1"
    clock.advance(1)
    assert scan(kiosk, clock, "B001").kind == Kind.CHECKED_OUT  # the same book again: a new try
    receipt = one(kiosk.touch("done")).receipt
    assert sorted(line.copy for line in receipt) == ["B001", "B002"]
    with store.read() as db:
        lent = db.scalars(select(Copy.barcode).join(Loan).where(Loan.returned_at.is_(None)))
        assert sorted(lent) == ["B001", "B002"]


def test_kiosk_that_syncs_forgets_a_loan_once_its_return_is_acknowledged(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    from kiosk.settings import ENROLLED
    from kiosk.store import set_setting
    from sync import replica

    with store.write() as db:
        set_setting(db, ENROLLED, "yes")
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    kiosk.touch("done")
    scan(kiosk, clock, "B001")
    scan(kiosk, clock, "S2")
    kiosk.touch("done")
    with store.read() as db:
        assert db.scalar(select(Loan)).patron_id is not None  # return not yet at the office
    with store.write() as db:  # the office acknowledges every event
        highest = db.scalar(select(Event.seq).order_by(Event.seq.desc()).limit(1))
        replica.acknowledge(db, highest, clock.now, None)
    with store.read() as db:
        assert db.scalar(select(Loan)).patron_id is None


def test_events_wait_for_the_office_until_it_acknowledges_them_in_order(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    from sync import replica

    def waiting() -> list[int]:
        with store.read() as db:
            start = replica.first_unacked(db) or replica.last_seq(db) + 1
            assert outbox.pending(db) == replica.last_seq(db) - start + 1
            return [event.seq for event in replica.events_from(db, start, None)]

    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    kiosk.touch("done")
    written = waiting()
    assert written == list(range(1, len(written) + 1))
    with store.write() as db:  # the first two reach the office
        assert replica.acknowledge(db, 2, clock.now, None) == 2
    assert waiting() == written[2:]
    with store.write() as db:  # said again, or less (an office restored from a backup)
        assert replica.acknowledge(db, 1, clock.now, None) == 0
    assert waiting() == written[2:]
    # The office claims more than this kiosk wrote (the kiosk restored from a backup): what
    # the kiosk writes afterwards still waits for it.
    with store.write() as db:
        assert replica.acknowledge(db, len(written) + 10, clock.now, None) == len(written) - 2
    assert waiting() == []
    scan(kiosk, clock, "S2")
    assert waiting() == [len(written) + 1]
    with store.write() as db:  # a new office: every event is sent to it
        replica.enrolled(db, "http://other-office:8000", 7)
    assert waiting() == [*written, len(written) + 1]
    with store.read() as db:
        assert db.scalar(select(Event).where(Event.acked_at.is_not(None))) is None


def test_enrolled_kiosk_blinks_amber_when_loans_wait_long_for_the_office(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    from kiosk.settings import ENROLLED
    from kiosk.store import set_setting
    from sync import replica

    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B001")
    kiosk.touch("done")
    clock.advance(days=1)  # the next lunch break
    assert kiosk.idle_light() == Light.READY  # standalone: nothing to wait for
    with store.write() as db:
        set_setting(db, ENROLLED, "http://office:8000")
    assert kiosk.idle_light() == Light.WAITING_TO_SYNC
    with store.write() as db:  # the office acknowledges every event
        replica.acknowledge(db, replica.last_seq(db), clock.now, None)
    assert kiosk.idle_light() == Light.READY


def test_idle_light_follows_opening_hours_with_nobody_at_the_kiosk(
    kiosk: Kiosk, clock: FakeClock
) -> None:
    assert kiosk.tick() == []  # the light at start is what the adapters show first: no news
    clock.advance(minutes=20)
    assert kiosk.tick() == []  # still open
    clock.advance(minutes=20)  # 14:25: the lunch opening is over
    closed = one(kiosk.tick())
    assert (closed.kind, closed.reason, closed.light) == (Kind.IGNORED, "idle_light", Light.CLOSED)
    clock.advance(5)
    assert kiosk.tick() == []  # said once


def test_a_loan_period_no_school_means_still_lends_within_a_year(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    """Rules are checked where they are entered; one that reached the kiosk another way (an
    older office) must not stop every loan: a date three million days away does not exist."""
    from kiosk.models import Policy

    with store.write() as db:
        db.get(Policy, "student").loan_days = 3_000_000
    scan(kiosk, clock, "S1")
    lent = scan(kiosk, clock, "B001")
    assert lent.kind == Kind.CHECKED_OUT
    assert dt.timedelta(days=365) <= lent.due - clock.now.date() <= dt.timedelta(days=372)


def test_the_time_of_an_action_is_read_once_it_holds_the_write_lock(
    kiosk: Kiosk, store: Store
) -> None:
    """Two writers (a second kiosk process, a sync) take turns at the database: a time read
    before waiting for the lock would be older than the other's, a clock gone backwards."""
    readings: dict[dt.datetime, bool] = {}

    def clock() -> dt.datetime:
        probe = sqlite3.connect(store.path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            locked = False
        except sqlite3.OperationalError:
            locked = True  # held by the kiosk's own transaction
        finally:
            probe.close()
        at = TUESDAY_LUNCH + dt.timedelta(seconds=len(readings))
        readings[at] = locked
        return at

    kiosk.clock = clock
    assert one(kiosk.scan("S1")).kind == Kind.SESSION_STARTED
    started = events(store)[-1]
    assert started.type == "session_started"
    assert readings[started.at] is True


# -- a clock that is wrong -------------------------------------------------------------------


def open_menu(kiosk: Kiosk, clock: FakeClock) -> None:
    assert scan(kiosk, clock, "H1").kind == Kind.PIN_NEEDED
    assert one(kiosk.touch("pin", HELPER_PIN)).kind == Kind.SUPERVISOR


def test_a_clock_a_year_ahead_lends_nothing_until_a_helper_confirms_it(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    scan(kiosk, clock, "S1")
    assert scan(kiosk, clock, "B001").kind == Kind.CHECKED_OUT
    kiosk.touch("done")
    clock.advance(days=364)  # set by hand a year ahead: a Tuesday lunch all the same
    fault, started = kiosk.scan("S2")
    assert (fault.kind, fault.reason, fault.light) == (Kind.FAULT, "clock_wrong", Light.FAULT)
    assert kiosk.clock_state == "wrong"
    assert started.kind == Kind.SESSION_STARTED
    assert started.detail["blocked"] == "clock_wrong" and started.may_borrow == 0
    refused = scan(kiosk, clock, "B002")
    assert (refused.kind, refused.reason) == (Kind.REFUSED, "clock_wrong")
    kiosk.touch("done")
    back = scan(kiosk, clock, "B001")  # returns are taken; no child is told "350 days late"
    assert (back.kind, back.late_days) == (Kind.RETURNED, 0)
    assert events(store)[-1].clock == "wrong"

    clock.set(TUESDAY_LUNCH + dt.timedelta(days=7))  # the clock set right again: no doubt left
    assert scan(kiosk, clock, "S2").kind == Kind.SESSION_STARTED
    assert scan(kiosk, clock, "B002").kind == Kind.CHECKED_OUT
    assert kiosk.clock_state == "ok" and events(store)[-1].clock == "ok"
    kiosk.touch("done")

    clock.advance(days=42)  # after a long break: right or not, a person says so
    assert kiosk.scan("S1")[0].reason == "clock_wrong"
    kiosk.touch("done")
    assert one(kiosk.touch("clock_ok")).reason == "supervisor_only"
    open_menu(kiosk, clock)
    confirmed = one(kiosk.touch("clock_ok"))
    assert (confirmed.kind, confirmed.reason) == (Kind.SUPERVISOR, "clock_confirmed")
    kiosk.touch("leave")
    assert scan(kiosk, clock, "S1").kind == Kind.SESSION_STARTED
    assert scan(kiosk, clock, "B003").kind == Kind.CHECKED_OUT
    assert kiosk.clock_state == "ok"


def test_a_clock_set_right_after_running_ahead_is_not_backwards_for_a_year(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    from sync import replica

    clock.advance(days=364)
    with store.write() as db:  # the latest time seen is a year ahead, kept from that clock
        set_setting(db, LATEST_SEEN, clock.now.isoformat())
    clock.set(TUESDAY_LUNCH)
    fault, lent = kiosk.scan("S1")
    assert fault.reason == "clock_backwards" and lent.kind == Kind.SESSION_STARTED
    assert events(store)[-1].clock == "backwards"
    kiosk.touch("done")
    with store.write() as db:  # a sync: the office's clock agrees with the kiosk's
        replica.acknowledge(db, 0, clock.now + dt.timedelta(seconds=2), offset=2.0)
    assert scan(kiosk, clock, "S1").kind == Kind.SESSION_STARTED
    assert events(store)[-1].clock == "ok"
    assert kiosk.clock_state == "ok"


def test_the_office_finding_the_clock_hours_off_stops_lending_until_it_is_set(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    from sync import replica

    with store.write() as db:  # the system clock set to Beijing time as if it were UTC
        replica.acknowledge(db, 0, clock.now - dt.timedelta(hours=8), offset=-8 * 3600.0)
    fault, started = kiosk.scan("S1")
    assert fault.reason == "clock_wrong" and started.detail["blocked"] == "clock_wrong"
    kiosk.touch("done")
    with store.write() as db:  # set right: the next sync says so
        replica.acknowledge(db, 0, clock.now, offset=1.0)
    assert scan(kiosk, clock, "S1").kind == Kind.SESSION_STARTED
    assert scan(kiosk, clock, "B001").kind == Kind.CHECKED_OUT
