"""The stocktake between the office and its kiosks, over loopback: started at the office,
counted at two kiosks, applied exactly once, closed with its result kept.

Each test runs against a real ``library-server`` process, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from kiosk.engine import State
from kiosk.models import Copy as KioskCopy
from kiosk.outcome import Kind
from sync.server.db import database_url
from sync.server.models import Copy, Loan
from sync.server.services import stocktakes
from tests.conftest import HELPER_PIN
from tests.sync.support import STUDENTS_CSV, KioskUnderTest, Office, enrolled

# The fixture's library put on two shelves (its dictionary and unlabelled books have none).
SHELVED = "barcode,isbn,title,author,shelf\n" + "".join(
    f"B{n:03d},,Book {n},Author,{'A1' if n <= 5 else 'B2'}\n" for n in range(1, 11)
)


def shelve(office: Office, tmp_path: Path) -> None:
    (tmp_path / "shelved.csv").write_text(SHELVED, encoding="utf-8")
    office.ok("import-books", str(tmp_path / "shelved.csv"))


def counting(kiosk: KioskUnderTest, shelf: str) -> None:
    """A small librarian opens the stocktake on this kiosk and says which shelf."""
    if kiosk.engine.state != State.STOCKTAKE:
        kiosk.scan("H1")
        assert kiosk.engine.touch("pin", HELPER_PIN)[0].kind == Kind.SUPERVISOR
        entered = kiosk.engine.touch("stocktake")
        assert entered[0].reason == "stocktake", entered
    assert kiosk.scan(f"SHELF-{shelf}")[0].kind == Kind.SHELF_CHOSEN


def progress(office: Office) -> stocktakes.Progress:
    database = office.database()
    with database.read() as session:
        going_on = stocktakes.current(session)
        assert going_on is not None
        found = stocktakes.progress(session, going_on.id)
    database.close()
    return found


def result(office: Office, number: int) -> stocktakes.Result:
    database = office.database()
    with database.read() as session:
        found = stocktakes.result(session, number)
    database.close()
    return found


def codes(found: stocktakes.Result, kind: str) -> list[str]:
    return [f.code for f in found.of(kind)]


def test_two_kiosks_count_the_shelves_and_the_office_keeps_the_result(
    office: Office, make_kiosk, tmp_path: Path
) -> None:
    shelve(office, tmp_path)
    a = enrolled(office, make_kiosk, "kiosk-a", sync=True)
    a.lend("S1", "B003")  # out, and back on its shelf without passing a kiosk
    a.lend("S2", "B009")  # out, with its reader
    a.client.sync()
    assert "stocktake 1 (Autumn 2026) started" in office.ok(
        "stocktake-start", "--name", "Autumn 2026"
    )
    b = enrolled(office, make_kiosk, "kiosk-b", sync=True)
    a.client.sync()  # the kiosks learn of it with their next sync

    counting(a, "A1")
    said = [o.reason for o in a.scan("B001", "B002", "B003", "B006")]
    assert said == ["counted", "counted", "on_loan", "wrong_shelf"]
    counting(b, "B2")
    assert [o.reason for o in b.scan("B007", "B008", "ZZ-9")] == [
        "counted",
        "counted",
        "unknown_code",
    ]
    counting(b, "A1")
    assert b.scan("B002")[0].reason == "counted"  # counted at both kiosks: once at the office
    for kiosk in (a, b):
        kiosk.client.sync()

    now = progress(office)
    assert (now.counts.seen, now.counts.away, now.counts.returned) == (6, 1, 1)
    by_shelf = {s.shelf: s for s in now.shelves}
    assert (by_shelf["A1"].copies, by_shelf["A1"].seen, by_shelf["A1"].to_find) == (5, 3, 2)
    assert (by_shelf["A1"].scanned, by_shelf["A1"].from_elsewhere) == (4, 1)
    assert (by_shelf["B2"].seen, by_shelf["B2"].away, by_shelf["B2"].to_find) == (3, 1, 1)
    assert {t.name: t.scans for t in now.takers} == {"kiosk-a": 4, "kiosk-b": 4}

    # The book found on its shelf is returned, as found in the stocktake.
    database = office.database()
    with database.read() as session:
        loan = session.scalar(select(Loan).where(Loan.copy_code == "B003"))
        assert loan.returned_at is not None and loan.found_in_stocktake == 1
    database.close()

    out = office.ok("stocktake-close", "--not-seen", "missing")
    assert "stocktake 1 (Autumn 2026), closed" in out
    kept = result(office, 1)
    unlabelled = "9787020002207"
    assert codes(kept, "not_seen") == ["B004", "B005", "B010", "REF1", unlabelled, unlabelled]
    assert [(f.code, f.shelf, f.seen_on) for f in kept.of("wrong_shelf")] == [("B006", "B2", "A1")]
    assert codes(kept, "unknown") == ["ZZ-9"]
    returned = kept.of("returned")
    assert [(f.code, f.reader) for f in returned] == [("B003", "小明 (3-1, S1)")]
    counts = kept.counts
    assert (counts.copies, counts.seen, counts.away, counts.not_seen, counts.has) == (
        13,
        6,
        1,
        6,
        7,
    )
    # Marked missing at the office, and on the kiosks with their next sync.
    a.client.sync()
    with a.store.read() as db:
        assert db.scalar(select(KioskCopy.status).where(KioskCopy.barcode == "B004")) == "lost"
    assert a.scan("B005")[0].reason == "stocktake_closed"
    assert a.engine.state == State.SUPERVISOR

    written = stocktakes.result_csv(kept, ZoneInfo("Asia/Shanghai"))
    rows = list(csv.reader(io.StringIO(written.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Finding", "Code", "Title"]
    assert rows[1][:6] == ["Not seen", "B004", "Book 4", "A1", "", "available"]
    office.ok("stocktake-report", "1", "--csv", str(tmp_path / "result.csv"))
    assert (tmp_path / "result.csv").read_bytes() == written  # the command writes the same
    assert office.ok("stocktake").splitlines()[0].startswith("  1  Autumn 2026")


def test_a_kiosk_offline_during_the_stocktake_counts_when_it_syncs(
    office: Office, make_kiosk, tmp_path: Path
) -> None:
    shelve(office, tmp_path)
    office.ok("stocktake-start", "--shelf", "a1")  # a shelf named in any letter case
    a = enrolled(office, make_kiosk, "kiosk-a", sync=True)
    counting(a, "A1")
    a.scan("B001", "B002")  # no network: the scans wait on the kiosk
    assert progress(office).counts.seen == 0
    a.client.sync()
    now = progress(office)
    assert (now.counts.copies, now.counts.seen) == (5, 2)
    a.client.sync()  # sent again (a lost reply): applied once
    assert progress(office).counts.seen == 2


def test_a_scan_that_arrives_after_closing_finds_the_copy_again(
    office: Office, make_kiosk, tmp_path: Path
) -> None:
    shelve(office, tmp_path)
    office.ok("stocktake-start", "--shelf", "A1")
    a = enrolled(office, make_kiosk, "kiosk-a", sync=True)
    counting(a, "A1")
    a.scan("B001")  # the kiosk stays offline until after the stocktake is closed
    office.ok("stocktake-close", "--not-seen", "missing")
    database = office.database()
    with database.read() as session:
        assert session.scalar(select(Copy.status).where(Copy.barcode == "B001")) == "lost"
    database.close()
    report = a.client.sync()
    assert [c.kind for c in report.conflicts] == ["found_after_stocktake"]
    database = office.database()
    with database.read() as session:
        assert session.scalar(select(Copy.status).where(Copy.barcode == "B001")) == "available"
    database.close()
    assert codes(result(office, 1), "not_seen")[0] == "B001"  # the record stays as it was


def test_the_office_refuses_what_makes_no_sense(office: Office, tmp_path: Path) -> None:
    shelve(office, tmp_path)
    code, _out, err = office.command("stocktake-start", "--shelf", "Z9")
    assert code == 1 and "No book is on the shelf Z9" in err
    code, _out, err = office.command("stocktake-close", "--not-seen", "missing")
    assert code == 1 and "no stocktake is going on" in err
    office.ok("stocktake-start")
    code, _out, err = office.command("stocktake-start")
    assert code == 1 and "going on already" in err


def desk_scans(office: Office, *codes: str, shelf: str = "") -> list[stocktakes.DeskScan]:
    """The librarian scans *codes* at the office's desk, one after another, each answer
    carrying the shelf on to the next scan as the page does."""
    database = office.database()
    answers = []
    for code in codes:
        with database.write() as session:
            going_on = stocktakes.current(session)
            assert going_on is not None
            answer = stocktakes.desk_scan(
                session, going_on.id, code, shelf=shelf, librarian="王老师"
            )
        shelf = answer.shelf
        answers.append(answer)
    database.close()
    return answers


def test_the_desk_counts_with_the_kiosks_and_a_copy_scanned_at_both_counts_once(
    office: Office, make_kiosk, tmp_path: Path
) -> None:
    shelve(office, tmp_path)
    a = enrolled(office, make_kiosk, "kiosk-a", sync=True)
    a.lend("S1", "B003")  # out, yet back on its shelf without passing a kiosk
    a.client.sync()
    office.ok("mark-copy", "B004", "lost")
    office.ok("mark-copy", "B005", "withdrawn")
    office.ok("stocktake-start", "--name", "Spring")
    a.client.sync()
    counting(a, "A1")
    assert [o.reason for o in a.scan("B001", "B002")] == ["counted", "counted"]
    a.client.sync()

    first = desk_scans(office, "B001")  # no shelf chosen yet: nothing counted
    assert [(d.outcome, d.shelf, d.tone) for d in first] == [("choose_shelf_first", "", "refused")]
    said = desk_scans(office, "shelf-a1", "B002", "B003", "B004", "B005", "B006", "B001")
    assert [(d.outcome, d.shelf) for d in said] == [
        ("shelf_chosen", "A1"),
        ("already_counted", "A1"),  # the kiosk counted it on this shelf
        ("on_loan", "A1"),
        ("lost", "A1"),
        ("withdrawn", "A1"),
        ("wrong_shelf", "A1"),
        ("already_counted", "A1"),
    ]
    assert (said[2].title, said[2].holder) == ("Book 3", "小明 (3-1, S1)")
    assert said[5].belongs == "B2"
    others = desk_scans(office, "S2", "ZZ-9", "\x00", shelf="A1")
    assert [d.outcome for d in others] == ["card_not_book", "unknown_code", "garbled"]

    now = progress(office)
    by_shelf = {s.shelf: s for s in now.shelves}
    # B001 and B002 once each, though scanned at the kiosk and the desk; B004 and B005,
    # recorded lost and withdrawn, are not among the copies the records expect.
    assert (by_shelf["A1"].copies, by_shelf["A1"].seen, by_shelf["A1"].to_find) == (3, 3, 0)
    assert (by_shelf["A1"].scanned, by_shelf["A1"].from_elsewhere) == (6, 1)
    # The dictionary and the copies known by ISBN only: on no shelf, listed last.
    assert (now.shelves[-1].shelf, now.shelves[-1].copies, now.shelves[-1].to_find) == ("", 3, 3)
    assert "  (no shelf)       0 of     3 (  0%), 3 to find" in office.ok("stocktake")
    assert (now.counts.seen, now.counts.returned, now.counts.found_lost) == (6, 1, 1)
    assert (now.counts.found_withdrawn, now.counts.unknown) == (1, 1)
    assert {t.name: t.scans for t in now.takers} == {"kiosk-a": 2, "": 5}

    database = office.database()
    with database.read() as session:
        loan = session.scalar(select(Loan).where(Loan.copy_code == "B003"))
        assert loan.returned_at is not None and loan.found_in_stocktake == 1
        assert session.scalar(select(Copy.status).where(Copy.barcode == "B003")) == "available"
    database.close()
    a.client.sync()  # the kiosk hears the book is back
    with a.store.read() as db:
        assert db.scalar(select(KioskCopy.status).where(KioskCopy.barcode == "B003")) == (
            "available"
        )

    office.ok("stocktake-close", "--not-seen", "keep")
    kept = result(office, 1)
    assert [(f.code, f.reader) for f in kept.of("returned")] == [("B003", "小明 (3-1, S1)")]
    assert [(f.code, f.seen_on) for f in kept.of("wrong_shelf")] == [("B006", "A1")]
    assert codes(kept, "unknown") == ["ZZ-9"]
    database = office.database()
    with pytest.raises(stocktakes.StocktakeRefused), database.write() as session:
        stocktakes.desk_scan(session, 1, "B007", shelf="B2", librarian="王老师")  # closed
    database.close()


# -- a whole library -------------------------------------------------------------------------

SHELF_OF = {n: f"A{(n - 1) // 100 + 1}" for n in range(1, 2001)}  # 100 books a shelf, A1-A20


@pytest.fixture
def library_office(tmp_path: Path) -> Iterator[Office]:
    """An office with a library of 2,000 copies on 20 shelves, and the fixture's students."""
    data = tmp_path / "office"
    data.mkdir()
    office = Office(data, database_url(data, None))
    (tmp_path / "students.csv").write_text(STUDENTS_CSV, encoding="utf-8")
    books = "barcode,title,author,classification,shelf\n" + "".join(
        f"C{n:04d},Book {n},Author {n % 50},I{n % 7},{shelf}\n" for n, shelf in SHELF_OF.items()
    )
    (tmp_path / "books.csv").write_text(books, encoding="utf-8")
    office.ok("import-students", str(tmp_path / "students.csv"))
    office.set_pin("H1", HELPER_PIN)  # the PIN kiosks take from the office
    office.ok("import-books", str(tmp_path / "books.csv"))
    office.start()
    yield office
    office.stop()


@pytest.mark.slow
def test_a_stocktake_of_2000_copies_at_two_kiosks_finds_exactly_what_is_amiss(
    library_office: Office, make_kiosk
) -> None:
    office = library_office
    a = enrolled(office, make_kiosk, "kiosk-a", sync=True)
    a.lend("S1", "C0005", "C0105")  # out with their reader
    a.lend("S2", "C0205")  # back on its shelf without passing a kiosk
    a.lend("S5", "C0500")
    a.scan("C0500")  # returned; then it goes missing
    a.client.sync()
    office.ok("mark-copy", "C0300", "lost")  # lost, and not found
    office.ok("mark-copy", "C0301", "lost")  # lost, found on its shelf
    office.ok("mark-copy", "C0302", "withdrawn")  # withdrawn, still on its shelf
    office.ok("stocktake-start", "--name", "Autumn 2026")
    b = enrolled(office, make_kiosk, "kiosk-b", sync=True)
    a.client.sync()

    out_or_missing = {5, 105, 10, 500, 1999, 300}
    misplaced = {20: "A2", 1500: "A3"}  # found on another shelf than theirs

    def count_shelves(kiosk: KioskUnderTest, shelves: range, *, sync_every: int = 0) -> None:
        for number, shelf in enumerate(f"A{s}" for s in shelves):
            counting(kiosk, shelf)
            books = [n for n, s in SHELF_OF.items() if s == shelf] + [
                n for n, s in misplaced.items() if s == shelf
            ]
            for n in books:
                if n in out_or_missing or (n in misplaced and SHELF_OF[n] == shelf):
                    continue
                outcome = kiosk.scan(f"C{n:04d}")[0]
                assert outcome.kind == Kind.COUNTED, outcome
            if shelf == "A4":
                assert kiosk.scan("ZZ-999")[0].reason == "unknown_code"
            if sync_every and number % sync_every == 0:
                kiosk.client.sync()

    count_shelves(a, range(1, 11), sync_every=3)
    count_shelves(b, range(10, 21))  # kiosk B counts A10 again, and stays offline
    a.client.sync()

    before = {s.shelf: s for s in progress(office).shelves}
    assert before["A9"].percent == 100 and before["A16"].seen == 0  # B's scans are not there
    assert before["A15"].seen == 1  # C1500, which kiosk A saw on A3
    b.client.sync()
    now = progress(office)
    assert {s.shelf: s.percent for s in now.shelves if s.percent < 100} == {
        "A1": 99,  # C0010; C0020 seen on A2 counts for A1 all the same
        "A5": 99,  # C0500
        "A20": 99,  # C1999
    }

    office.ok("stocktake-close", "--not-seen", "missing")
    kept = result(office, 1)
    assert codes(kept, "not_seen") == ["C0010", "C0500", "C1999"]
    assert [f.reader for f in kept.of("not_seen")] == ["", "Li Hua (5-2, S5)", ""]
    assert [(f.code, f.shelf, f.seen_on) for f in kept.of("wrong_shelf")] == [
        ("C0020", "A1", "A2"),
        ("C1500", "A15", "A3"),
    ]
    assert codes(kept, "found_lost") == ["C0301"]
    assert codes(kept, "found_withdrawn") == ["C0302"]
    assert [(f.code, f.reader) for f in kept.of("returned")] == [("C0205", "小红 (3-1, S2)")]
    assert codes(kept, "unknown") == ["ZZ-999"]
    counts = kept.counts
    assert (counts.copies, counts.seen, counts.away, counts.not_seen, counts.has) == (
        1997,  # 2,000 but the lost and withdrawn
        1994,
        2,
        3,
        1996,
    )
    database = office.database()
    with database.read() as session:
        status = dict(session.execute(select(Copy.barcode, Copy.status)).all())
    database.close()
    assert [status[c] for c in ("C0010", "C0300", "C0301", "C0302", "C0205")] == [
        "lost",
        "lost",
        "available",  # found
        "withdrawn",  # the librarian takes it off the shelf
        "available",
    ]
