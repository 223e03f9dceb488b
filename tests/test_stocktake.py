"""Stocktake at the kiosk: a small librarian scans shelf after shelf, on a real SQLite file.

The stocktake reaches the kiosk as the office's change (sync.replica), as it does in the field.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest
from sqlalchemy import select, update

from kiosk.codes import shelf_label, shelf_of_label
from kiosk.engine import Kiosk, State
from kiosk.models import Copy, CopyStatus, Event, Loan, StocktakeCount
from kiosk.outcome import Kind, Light, Outcome, Sound
from kiosk.store import Store
from sync import wire
from sync.replica import apply_changes
from tests.conftest import HELPER_PIN, FakeClock

SHELVES = {"B001": "A1", "B002": "A1", "B003": "A1", "B004": "B2", "B005": "B2", "B006": "儿童1"}


def one(outcomes: list[Outcome]) -> Outcome:
    assert len(outcomes) == 1, outcomes
    return outcomes[0]


def scan(kiosk: Kiosk, clock: FakeClock, code: str) -> Outcome:
    clock.advance(3)
    return one(kiosk.scan(code))


def events(store: Store) -> list[Event]:
    with store.read() as db:
        return list(db.scalars(select(Event).order_by(Event.seq)))


def office_says(
    store: Store,
    *,
    open_: bool = True,
    whole_library: bool = True,
    number: int = 7,
    elsewhere: bool = False,
) -> None:
    """The office's stocktake, as a pulled change; *elsewhere*: pulled by another program on
    the same file (`kiosk sync` run by hand while the app runs)."""
    shelves = [
        {"name": "A1", "copies": 3},
        {"name": "B2", "copies": 2},
        {"name": "儿童1", "copies": 1},
    ]
    change = wire.Change(
        version=1,
        kind="stocktake",
        key=str(number),
        data={
            "id": number,
            "name": "Autumn 2026",
            "open": open_,
            "whole_library": whole_library,
            "shelves": shelves if whole_library else shelves[:2],
        },
    )
    if elsewhere:
        pull = PULLED_ELSEWHERE.format(path=str(store.path), change=json.dumps(change))
        subprocess.run([sys.executable, "-c", pull], check=True, capture_output=True)
        return
    with store.write() as db:
        apply_changes(db, [change], dt.date(2026, 11, 24))


PULLED_ELSEWHERE = """
import datetime as dt, json
from pathlib import Path
from kiosk.store import Store
from sync.replica import apply_changes
store = Store(Path({path!r}))
with store.write() as db:
    apply_changes(db, [json.loads({change!r})], dt.date(2026, 11, 24))
store.close()
"""


@pytest.fixture
def shelved(store: Store) -> Store:
    with store.write() as db:
        for code, shelf in SHELVES.items():
            db.execute(update(Copy).where(Copy.barcode == code).values(shelf=shelf))
    return store


def helper_menu(kiosk: Kiosk, clock: FakeClock) -> None:
    scan(kiosk, clock, "H1")
    assert one(kiosk.touch("pin", HELPER_PIN)).kind == Kind.SUPERVISOR


def test_shelf_labels_name_their_shelf_in_any_language() -> None:
    assert shelf_label("A1") == "SHELF-A1"
    assert shelf_of_label("SHELF-A1") == "A1"
    for name in ("儿童1", "a1", "Picture books"):
        code = shelf_label(name)
        assert code.isascii() and code == code.upper()  # what a scanner types, once cleaned
        assert shelf_of_label(code) == name
    assert shelf_of_label("SHELF+ZZ") is None  # not a label: an unknown code
    assert shelf_of_label("B001") is None
    with pytest.raises(ValueError, match="too long"):
        shelf_label("图书馆" * 4)


def test_no_stocktake_until_the_office_starts_one(
    kiosk: Kiosk, clock: FakeClock, shelved: Store
) -> None:
    helper_menu(kiosk, clock)
    refused = one(kiosk.touch("stocktake"))
    assert (refused.kind, refused.reason) == (Kind.REFUSED, "no_stocktake")
    assert kiosk.state == State.SUPERVISOR
    office_says(shelved, open_=False)  # one that is over does not count either
    assert one(kiosk.touch("stocktake")).reason == "no_stocktake"


def test_a_small_librarian_counts_shelf_after_shelf(
    kiosk: Kiosk, clock: FakeClock, shelved: Store
) -> None:
    office_says(shelved)
    # Outside the stocktake a shelf's label is no book (nor a card).
    assert scan(kiosk, clock, "SHELF-A1").reason == "unknown_code"
    helper_menu(kiosk, clock)
    entered = one(kiosk.touch("stocktake"))
    assert (entered.kind, entered.reason) == (Kind.SUPERVISOR, "stocktake")
    assert entered.detail == {"stocktake": "Autumn 2026", "counted": 0}

    first = scan(kiosk, clock, "B001")
    assert (first.kind, first.reason) == (Kind.REFUSED, "choose_shelf_first")
    shelf = scan(kiosk, clock, "SHELF-A1")
    assert (shelf.kind, shelf.reason, shelf.sound) == (Kind.SHELF_CHOSEN, "A1", Sound.TICK)
    assert shelf.detail == {"shelf": "A1", "on_shelf": 0, "shelf_copies": 3, "counted": 0}

    counted = scan(kiosk, clock, "B001")
    assert (counted.kind, counted.reason) == (Kind.COUNTED, "counted")
    assert (counted.light, counted.sound) == (Light.SUCCESS, Sound.TICK)  # a quiet click
    assert (counted.title, counted.detail["on_shelf"], counted.detail["counted"]) == (
        "Book 1",
        1,
        1,
    )

    again = scan(kiosk, clock, "b001")  # scanned twice: counted once
    assert (again.reason, again.detail["on_shelf"], again.sound) == (
        "already_counted",
        1,
        Sound.TICK,
    )

    elsewhere = scan(kiosk, clock, "B004")  # belongs on B2
    assert (elsewhere.reason, elsewhere.detail["belongs"]) == ("wrong_shelf", "B2")
    assert (elsewhere.light, elsewhere.sound) == (Light.WARNING, Sound.WARNING)
    assert elsewhere.detail["on_shelf"] == 2  # it is on this shelf: counted here

    # The next shelf by touch, in any letter case; its own count starts at none.
    chosen = one(kiosk.touch("shelf", "b2"))
    assert (chosen.reason, chosen.detail["on_shelf"], chosen.detail["counted"]) == ("B2", 0, 2)
    assert scan(kiosk, clock, "B005").detail == {
        "shelf": "B2",
        "on_shelf": 1,
        "shelf_copies": 2,
        "counted": 3,
    }
    children = scan(kiosk, clock, shelf_label("儿童1"))  # a shelf with a Chinese name
    assert children.reason == "儿童1"

    scans = [e.payload for e in events(shelved) if e.type == "stocktake_scan"]
    assert scans == [
        {"stocktake": 7, "copy": "B001", "shelf": "A1", "by": "H1"},
        {"stocktake": 7, "copy": "B004", "shelf": "A1", "by": "H1"},
        {"stocktake": 7, "copy": "B005", "shelf": "B2", "by": "H1"},
    ]
    assert one(kiosk.touch("done")).kind == Kind.SUPERVISOR
    assert kiosk.state == State.SUPERVISOR
    # Back in the stocktake later: the kiosk's running count goes on where it was.
    assert one(kiosk.touch("stocktake")).detail["counted"] == 3


def test_a_book_on_the_shelf_recorded_on_loan_is_returned(
    kiosk: Kiosk, clock: FakeClock, shelved: Store
) -> None:
    scan(kiosk, clock, "S1")
    scan(kiosk, clock, "B002")
    kiosk.touch("done")
    office_says(shelved)
    helper_menu(kiosk, clock)
    kiosk.touch("stocktake")
    kiosk.touch("shelf", "A1")
    found = scan(kiosk, clock, "B002")
    assert (found.kind, found.reason, found.detail["returned"]) == (Kind.COUNTED, "on_loan", True)
    assert (found.light, found.sound) == (Light.WARNING, Sound.WARNING)
    assert found.patron is None and "小明" not in str(found.to_json())  # not who had it
    with shelved.read() as db:
        loan = db.scalar(select(Loan).join(Copy).where(Copy.barcode == "B002"))
        assert loan.returned_at is not None
        assert db.scalar(select(Copy.status).where(Copy.barcode == "B002")) == "available"
    last_two = [(e.type, e.payload) for e in events(shelved)][-2:]
    assert last_two[0] == (
        "stocktake_scan",
        {"stocktake": 7, "copy": "B002", "shelf": "A1", "by": "H1"},
    )
    assert last_two[1][0] == "return"
    assert (last_two[1][1]["stocktake"], last_two[1][1]["by"], last_two[1][1]["patron"]) == (
        7,
        "H1",
        "S1",
    )


@pytest.mark.parametrize("status", [CopyStatus.LOST, CopyStatus.WITHDRAWN])
def test_a_book_recorded_lost_or_withdrawn_is_counted_with_a_warning(
    kiosk: Kiosk, clock: FakeClock, shelved: Store, status: CopyStatus
) -> None:
    with shelved.write() as db:
        db.execute(update(Copy).where(Copy.barcode == "B003").values(status=status))
    office_says(shelved)
    helper_menu(kiosk, clock)
    kiosk.touch("stocktake")
    kiosk.touch("shelf", "A1")
    found = scan(kiosk, clock, "B003")
    assert (found.kind, found.reason, found.light) == (Kind.COUNTED, status.value, Light.WARNING)
    assert found.detail["counted"] == 1
    assert [e.type for e in events(shelved)][-1] == "stocktake_scan"


def test_unknown_codes_are_told_to_the_office_and_cards_are_not_books(
    kiosk: Kiosk, clock: FakeClock, shelved: Store
) -> None:
    office_says(shelved)
    helper_menu(kiosk, clock)
    kiosk.touch("stocktake")
    kiosk.touch("shelf", "A1")
    unknown = scan(kiosk, clock, "X-404")
    assert (unknown.kind, unknown.reason, unknown.copy) == (Kind.COUNTED, "unknown_code", "X-404")
    assert (unknown.light, unknown.sound, unknown.detail["counted"]) == (
        Light.WARNING,
        Sound.WARNING,
        0,
    )
    card = scan(kiosk, clock, "S1")
    assert (card.kind, card.reason) == (Kind.REFUSED, "card_not_book")
    assert kiosk.state == State.STOCKTAKE  # no session opened for the student
    garbled = one(kiosk.scan("B0\x0701"))
    assert garbled.kind == Kind.UNKNOWN_CODE
    scans = [e.payload["copy"] for e in events(shelved) if e.type == "stocktake_scan"]
    assert scans == ["X-404"]


def test_books_known_by_isbn_only_count_one_each(
    kiosk: Kiosk, clock: FakeClock, shelved: Store
) -> None:
    office_says(shelved)
    helper_menu(kiosk, clock)
    kiosk.touch("stocktake")
    kiosk.touch("shelf", "A1")
    isbn = "9787020002207"  # two copies of 红楼梦 without labels of their own
    assert scan(kiosk, clock, isbn).reason == "counted"
    assert scan(kiosk, clock, isbn).reason == "counted"
    assert scan(kiosk, clock, isbn).reason == "already_counted"
    with shelved.read() as db:
        assert len(list(db.scalars(select(StocktakeCount)))) == 2


def test_a_stocktake_of_some_shelves_counts_only_those(
    kiosk: Kiosk, clock: FakeClock, shelved: Store
) -> None:
    office_says(shelved, whole_library=False)
    helper_menu(kiosk, clock)
    kiosk.touch("stocktake")
    refused = one(kiosk.touch("shelf", "儿童1"))
    assert (refused.reason, refused.detail["shelf"]) == ("shelf_not_in_stocktake", "儿童1")
    assert scan(kiosk, clock, "B001").reason == "choose_shelf_first"


@pytest.mark.parametrize("elsewhere", [False, True], ids=["this_program", "another_program"])
def test_the_office_closing_the_stocktake_ends_the_counting(
    kiosk: Kiosk, clock: FakeClock, shelved: Store, elsewhere: bool
) -> None:
    office_says(shelved)
    helper_menu(kiosk, clock)
    kiosk.touch("stocktake")
    kiosk.touch("shelf", "A1")
    assert scan(kiosk, clock, "B001").reason == "counted"
    office_says(shelved, open_=False, elsewhere=elsewhere)  # a sync came in meanwhile
    over = scan(kiosk, clock, "B002")
    assert (over.kind, over.reason) == (Kind.REFUSED, "stocktake_closed")
    assert kiosk.state == State.SUPERVISOR
    assert [e.payload["copy"] for e in events(shelved) if e.type == "stocktake_scan"] == ["B001"]


def test_only_the_menu_opens_the_stocktake(kiosk: Kiosk, clock: FakeClock, shelved: Store) -> None:
    office_says(shelved)
    assert one(kiosk.touch("stocktake")).reason == "supervisor_only"
    assert one(kiosk.touch("shelf", "A1")).reason == "nothing_to_answer"


def test_a_stocktake_scan_costs_no_more_sql_than_a_checkout(
    kiosk: Kiosk, clock: FakeClock, shelved: Store
) -> None:
    # The small librarians' queue at the shelves must move as fast as the students' queue.
    seen: list[str] = []
    shelved.watch(seen.append)

    def statements(code: str) -> int:
        seen.clear()
        clock.advance(3)
        kiosk.scan(code)
        return len(seen)

    scan(kiosk, clock, "S1")
    checkout = statements("B001")
    kiosk.touch("done")
    office_says(shelved)
    helper_menu(kiosk, clock)
    kiosk.touch("stocktake")
    kiosk.touch("shelf", "A1")
    counted = statements("B003")
    assert counted <= checkout, seen
