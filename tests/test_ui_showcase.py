"""What the idle screen and the helpers' menu read from the library (kiosk/showcase.py)."""

from __future__ import annotations

import datetime as dt

from kiosk import showcase
from kiosk.engine import Kiosk
from kiosk.models import Copy, CopyStatus, Title
from kiosk.store import Store
from tests.conftest import TUESDAY_LUNCH, TZ, FakeClock

MONTH = dt.datetime(2026, 11, 1, tzinfo=TZ)


def visit(kiosk: Kiosk, clock: FakeClock, card: str, *books: str) -> None:
    clock.advance(3)
    kiosk.scan(card)
    for book in books:
        clock.advance(3)
        kiosk.scan(book)
    kiosk.touch("done")


def test_new_arrivals_are_the_latest_titles_still_on_the_shelves(store: Store) -> None:
    with store.write() as db:
        db.add(Copy(barcode="NEW1", title=Title(title="新书", added_on=dt.date(2026, 11, 20))))
        lost = Title(title="丢了的新书", added_on=dt.date(2026, 11, 21))
        db.add(Copy(barcode="NEW2", title=lost, status=CopyStatus.LOST))
    with store.read() as db:
        titles = [b.title for b in showcase.new_arrivals(db, limit=3)]
    assert titles[0] == "新书"
    assert "丢了的新书" not in titles
    assert len(titles) == 3


def test_most_borrowed_and_league_count_this_months_loans_but_not_undone_ones(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    visit(kiosk, clock, "S1", "B001")
    visit(kiosk, clock, "S2", "B002")
    clock.advance(3)
    kiosk.scan("B001")  # returned: still counts as read
    visit(kiosk, clock, "S5", "B001")  # 5-2
    clock.advance(3)
    kiosk.scan("S2")
    clock.advance(3)
    kiosk.scan("B003")
    kiosk.touch("undo")  # "not this book": never read, never counted
    kiosk.touch("done")
    with store.read() as db:
        popular = showcase.most_borrowed(db, MONTH)
        league = showcase.reading_league(db, MONTH)
        earlier = showcase.most_borrowed(db, TUESDAY_LUNCH + dt.timedelta(hours=1))
    assert [(b.title, b.loans) for b in popular] == [("Book 1", 2), ("Book 2", 1)]
    # One book per student in both classes; more loans first. 4-1 has no active student.
    assert [(c.class_name, c.loans, c.students) for c in league] == [("3-1", 2, 2), ("5-2", 1, 1)]
    assert earlier == []


def test_find_students_by_class_and_part_of_the_name(store: Store) -> None:
    with store.read() as db:
        assert showcase.classes(db) == ["3-1", "5-2"]  # active students only
        assert [s.name for s in showcase.find_students(db, "3-1")] == ["小明", "小红"]
        assert [s.card for s in showcase.find_students(db, "3-1", "红")] == ["S2"]
        assert showcase.find_students(db, "3-1", "%") == []  # a name, not a pattern


def test_today_lists_loans_and_returns_of_the_local_day(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    clock.set(TUESDAY_LUNCH - dt.timedelta(days=1))
    visit(kiosk, clock, "S1", "B004")  # yesterday
    clock.set(TUESDAY_LUNCH)
    visit(kiosk, clock, "S2", "B001", "B002")
    clock.advance(3)
    kiosk.scan("B004")  # yesterday's book comes back today
    with store.read() as db:
        lent, back = showcase.today_at_desk(db, TUESDAY_LUNCH.date(), TZ)
    assert [(x.title, x.name, x.class_name) for x in lent] == [
        ("Book 2", "小红", "3-1"),
        ("Book 1", "小红", "3-1"),
    ]
    assert [x.title for x in back] == ["Book 4"]
    assert lent[0].at.tzinfo is not None and lent[0].at.utcoffset() == dt.timedelta(hours=8)


def test_opening_says_when_the_library_opens_next_and_for_which_grades(store: Store) -> None:
    with store.read() as db:
        lunch = showcase.opening(db, TUESDAY_LUNCH)
        evening = showcase.opening(db, TUESDAY_LUNCH.replace(hour=18))
        holiday_eve = showcase.opening(db, dt.datetime(2026, 12, 7, 18, 0, tzinfo=TZ))
    assert lunch.open_now and lunch.open_today
    assert lunch.grades_today == frozenset({3, 4, 5, 6})
    assert not evening.open_now
    assert evening.next_opening == dt.datetime(2026, 11, 25, 13, 30, tzinfo=TZ)
    assert evening.next_grades == frozenset({3, 4, 5, 6})
    # 8 December is a closed day: the next opening is the 9th.
    assert holiday_eve.next_opening is not None
    assert holiday_eve.next_opening.date() == dt.date(2026, 12, 9)
