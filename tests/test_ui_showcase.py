"""What the idle screen and the helpers' menu read from the library (kiosk/showcase.py)."""

from __future__ import annotations

import datetime as dt

from kiosk import rules, showcase
from kiosk.engine import Kiosk
from kiosk.models import Copy, CopyStatus, Patron, Title
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


def test_most_borrowed_counts_this_months_loans_but_not_undone_ones(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    visit(kiosk, clock, "S1", "B001")
    visit(kiosk, clock, "S2", "B002")
    clock.advance(3)
    kiosk.scan("B001")  # returned: still counts as read
    visit(kiosk, clock, "S5", "B001")  # 5-2
    clock.advance(3)
    kiosk.scan("S1")  # has no book now
    clock.advance(3)
    kiosk.scan("B003")
    kiosk.touch("undo")  # "not this book": never read, never counted
    kiosk.touch("done")
    with store.read() as db:
        popular = showcase.most_borrowed(db, MONTH)
        earlier = showcase.most_borrowed(db, TUESDAY_LUNCH + dt.timedelta(hours=1))
    assert [(b.title, b.loans) for b in popular] == [("Book 1", 2), ("Book 2", 1)]
    assert earlier == []


def test_the_league_counts_the_children_of_each_class_who_borrowed_this_week(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    week = dt.datetime.combine(showcase.week_start(TUESDAY_LUNCH.date()), dt.time(), TZ)
    clock.set(TUESDAY_LUNCH - dt.timedelta(days=4))  # last Friday: not counted this week
    visit(kiosk, clock, "S2", "B005")
    clock.set(TUESDAY_LUNCH)
    visit(kiosk, clock, "S1", "B001")
    visit(kiosk, clock, "S1", "B002")  # twice: still one child
    for book in ("B001", "B002"):  # brought back, and forgotten: still borrowed this week
        clock.advance(3)
        kiosk.scan(book)
    with store.transaction() as tx:
        forgotten = rules.forget_returned(tx, returned_before=clock.now + dt.timedelta(seconds=1))
    assert forgotten == 2
    clock.advance(3)
    kiosk.scan("S5")
    clock.advance(3)
    kiosk.scan("B003")
    kiosk.touch("undo")  # "not this book": no loan, no climbing the league
    kiosk.touch("done")
    with store.read() as db:
        league = showcase.reading_league(db, week)
    # 3-1: one of its two students; 5-2: none of one. 4-1 has no active student.
    assert [(c.class_name, c.borrowed, c.students) for c in league] == [
        ("3-1", 1, 2),
        ("5-2", 0, 1),
    ]


def test_find_students_in_pinyin_order_by_first_letters_or_characters(store: Store) -> None:
    with store.write() as db:
        for card, name in [("P1", "张伟"), ("P2", "曾小贤"), ("P3", "安娜"), ("P4", "王子涵")]:
            db.add(Patron(card=card, name=name, class_name="3-1", grade=3))
    with store.read() as db:
        assert showcase.classes(db) == ["3-1", "5-2"]  # active students only

        def names(query: str = "") -> list[str]:
            return [s.name for s in showcase.find_students(db, "3-1", query)]

        # an, wang, xiao ming, xiao hong, zeng (a surname: not "ceng"), zhang
        assert names() == ["安娜", "王子涵", "小红", "小明", "曾小贤", "张伟"]
        assert names("x") == ["小红", "小明"]
        assert names("xm") == ["小明"]
        assert names("wzh") == ["王子涵"]
        assert names("zeng") == ["曾小贤"]
        assert names("zx") == ["曾小贤"]  # first letters z, x
        assert names("zh") == ["张伟"]  # no first letters z, h: spelled out, zhang
        assert names("Z") == ["曾小贤", "张伟"]
        assert names("子涵") == ["王子涵"]
        assert names("%") == []  # a name, not a pattern


def test_today_counts_loans_returns_and_visits_without_names_or_titles(
    kiosk: Kiosk, clock: FakeClock, store: Store
) -> None:
    clock.set(TUESDAY_LUNCH - dt.timedelta(days=1))
    visit(kiosk, clock, "S1", "B004")  # yesterday
    clock.set(TUESDAY_LUNCH)
    visit(kiosk, clock, "S2", "B001", "B002")
    visit(kiosk, clock, "S5")  # came, took nothing
    clock.advance(3)
    kiosk.scan("B004")  # yesterday's book comes back today
    with store.read() as db:
        day = showcase.today(db, TUESDAY_LUNCH.date(), TZ)
    assert (day.lent, day.returned, day.visits) == (2, 1, 2)
    assert day.borrowers_by_class == (("3-1", 1),)


def test_opening_says_when_the_library_opens_next_and_for_which_grades(store: Store) -> None:
    with store.read() as db:
        lunch = showcase.opening(db, TUESDAY_LUNCH)
        evening = showcase.opening(db, TUESDAY_LUNCH.replace(hour=18))
        holiday_eve = showcase.opening(db, dt.datetime(2026, 12, 7, 18, 0, tzinfo=TZ))
    assert lunch.open_now
    assert not evening.open_now
    assert evening.next_opening == dt.datetime(2026, 11, 25, 13, 30, tzinfo=TZ)
    assert evening.next_grades == frozenset({3, 4, 5, 6})
    # 8 December is a closed day: the next opening is the 9th.
    assert holiday_eve.next_opening is not None
    assert holiday_eve.next_opening.date() == dt.date(2026, 12, 9)
