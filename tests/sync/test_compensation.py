"""Compensation for damaged and lost books on the office's records (SQLite and PostgreSQL):
the price printed on a book, a compensation recorded and settled, the reader refused loans at
the desk meanwhile (as the rules say), the change log telling the kiosks; from the command line
too. Then over loopback: a real kiosk refuses the reader after a sync, and lends again once the
compensation is settled and synced."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from kiosk.config import KioskConfig
from kiosk.models import Patron as KioskPatron
from kiosk.models import PatronKind
from sync.server.db import Database
from sync.server.models import Change, Compensation, Copy, Loan, Title
from sync.server.services import NotFound, Refusal, books, catalogue, compensation, desk, rules
from sync.server.services import overdue as overdue_service
from tests.conftest import TIMETABLE
from tests.sync.support import Office, enrolled

LIBRARIAN = "王老师"
# The test kiosks' rules and timetable, a student who owes compensation not held back by it.
NO_BLOCK = TIMETABLE.replace(
    "overdue_block_days = 7\n", "overdue_block_days = 7\nblock_on_unsettled_compensation = false\n"
)


def lend(database: Database, card: str, code: str, **kw) -> desk.Answer:
    with database.write() as session:
        return desk.lend(session, card, code, librarian=LIBRARIAN, **kw)


def record(database: Database, **kw) -> compensation.CompensationLine:
    with database.write() as session:
        return compensation.record(session, librarian=LIBRARIAN, **kw)


def title_id(database: Database, code: str) -> int:
    with database.read() as session:
        found = session.scalar(select(Copy.title_id).where(Copy.barcode == code))
    assert found is not None
    return found


def patron_change(database: Database, card: str) -> dict:
    with database.read() as session:
        change = session.scalar(select(Change).where(Change.kind == "patron", Change.key == card))
    assert change is not None and change.data is not None
    return change.data


def test_a_book_has_its_price_from_a_book_list_or_the_desk(
    database: Database, tmp_path: Path
) -> None:
    listing = tmp_path / "prices.csv"
    listing.write_text(
        "条码,书名,定价\nP001,价格书,¥25.80\nP002,没有价格的书,\nP003,坏价格,二十元\n",
        encoding="utf-8",
    )
    with database.write() as session:
        report = catalogue.import_books(session, listing, skip_bad=True)
    assert report.added == 2 and "price" in " ".join(report.skipped)
    with database.read() as session:
        prices = dict(session.execute(select(Title.title, Title.price_cents)).all())
    assert prices["价格书"] == 2580 and prices["没有价格的书"] is None and "坏价格" not in prices

    with database.write() as session:
        info, _codes = books.add_book(
            session, isbn="9787532439584", title="草房子", price="18.5元", copies=1
        )
    assert info.price_cents == 1850
    with database.write() as session:  # the same book again, its price not typed: kept
        info, _codes = books.add_book(session, isbn="9787532439584", title="草房子", copies=1)
        assert info.price_cents == 1850
        assert books.set_price(session, info.id, "20").price_cents == 2000
    for bad in ("20.005", "-3", "abc"):
        with database.write() as session, pytest.raises(Refusal):
            books.set_price(session, info.id, bad)
        with database.write() as session, pytest.raises(Refusal):
            books.add_book(session, isbn="", title="新书", price=bad)
    with database.read() as session:
        assert books.title_info(session, info.id).price_cents == 2000


def test_a_lost_book_is_charged_blocks_the_reader_and_is_settled(database: Database) -> None:
    lend(database, "S1", "B001")
    with database.write() as session:
        books.set_status(session, _copy_id(session, "B001"), "lost")  # on the Books page
        blocked = desk.reader(session, "S1").blocked
        assert blocked is not None and blocked.reason == "lost_block"
        (waiting,) = compensation.books_to_settle(session)
    assert (waiting.copy, waiting.card, waiting.out, waiting.status) == ("B001", "S1", True, "lost")

    with pytest.raises(Refusal, match="no price"):  # Book 1 has none: the amount is typed
        record(database, code="B001", card="S1", reason="lost")
    with database.write() as session:
        books.set_price(session, title_id(database, "B001"), "20")
    with pytest.raises(NotFound):
        record(database, code="B001", card="NOBODY", reason="lost")
    with pytest.raises(Refusal):
        record(database, code="B001", card="S1", reason="burnt")
    with pytest.raises(Refusal):
        record(database, code="B001", card="S1", reason="lost", amount="twenty")

    line = record(database, code="b001", card="s1", reason="lost", note=" lost on the  bus ")
    assert (line.card, line.amount_cents, line.reason) == ("S1", 2000, "lost")
    assert line.note == "lost on the bus"
    assert line.settled_on is None and line.recorded_by == LIBRARIAN
    with database.read() as session:
        loan = session.scalar(select(Loan).where(Loan.copy_code == "B001"))
        assert loan is not None and loan.returned_at is not None and loan.not_overdue
        assert session.scalar(select(Copy.status).where(Copy.barcode == "B001")) == "lost"
        assert compensation.books_to_settle(session) == []
        assert compensation.unsettled(session) == 1
        loan_sent = session.scalar(select(Change.data).where(Change.key == loan.id))
    assert loan_sent is not None and loan_sent["returned_at"] and loan_sent["patron"] is None
    assert patron_change(database, "S1")["compensation_due"] is True

    with pytest.raises(Refusal, match="not settled yet"):  # not twice
        record(database, code="B001", card="S1", reason="lost")
    blocked = lend(database, "S1", "B002")
    assert (blocked.refusal, blocked.overridable) == ("compensation_block", True)
    assert lend(database, "S1", "B002", reason="her parents came today").outcome == "lent"

    with database.write() as session:
        today = overdue_service.today(session)
        with pytest.raises(Refusal):
            compensation.settle(session, line.id, librarian=LIBRARIAN, on=today + dt.timedelta(1))
        with pytest.raises(NotFound):
            compensation.settle(session, 999, librarian=LIBRARIAN)
        settled = compensation.settle(session, line.id, librarian="李老师")
    assert (settled.settled_on, settled.settled_by) == (today, "李老师")
    with database.write() as session, pytest.raises(Refusal, match="already"):
        compensation.settle(session, line.id, librarian=LIBRARIAN)
    assert patron_change(database, "S1")["compensation_due"] is False
    with database.read() as session:
        assert compensation.unsettled(session) == 0
        assert [c.id for c in compensation.compensations(session, settled=False)] == []
        assert [c.id for c in compensation.compensations(session, settled=True)] == [line.id]


def _copy_id(session, code: str) -> int:
    found = session.scalar(select(Copy.id).where(Copy.barcode == code))
    assert found is not None
    return found


def test_a_damaged_book_still_out_is_taken_back_and_the_rules_may_let_the_reader_borrow(
    database: Database, tmp_path: Path
) -> None:
    lend(database, "S2", "B003")
    lend(database, "S5", "B004")
    line = record(database, code="B003", card="S2", reason="damaged", amount="12.5")
    assert line.amount_cents == 1250
    with database.read() as session:
        loan = session.scalar(select(Loan).where(Loan.copy_code == "B003"))
        assert loan is not None and loan.returned_at is not None and not loan.not_overdue
        assert loan.kiosk is not None and loan.kiosk.desk  # a return through the ledger
        assert session.scalar(select(Copy.status).where(Copy.barcode == "B003")) == "damaged"
    record(database, code="B004", card="S5", reason="damaged", amount="8")
    with database.read() as session:
        of_31 = compensation.compensations(session, class_name="3-1")
        everyone = compensation.compensations(session)
    assert [(c.name, c.copy) for c in of_31] == [("小红", "B003")]
    assert [c.class_name for c in everyone] == ["3-1", "5-2"]

    assert lend(database, "S2", "B005").refusal == "compensation_block"
    typed = {  # as on the Rules page: the students' box not ticked
        kind: {
            **{name: str(getattr(policy, name)) for name in rules.POLICY_FIELDS},
            rules.BLOCK_ON_COMPENSATION: "0" if kind == "student" else "1",
        }
        for kind, policy in KioskConfig().policies.items()
    }
    with database.write() as session:
        found = rules.set_policies(session, typed)
    assert not found.policies[PatronKind.STUDENT].block_on_unsettled_compensation
    assert found.policies[PatronKind.TEACHER].block_on_unsettled_compensation
    assert lend(database, "S2", "B005").outcome == "lent"  # the school's rules allow it
    for policy in typed.values():  # not said at all: as it was
        del policy[rules.BLOCK_ON_COMPENSATION]
    with database.write() as session:
        again = rules.set_policies(session, typed)
    assert not again.policies[PatronKind.STUDENT].block_on_unsettled_compensation
    with database.read() as session:
        row = session.get(Compensation, line.id)
        assert row is not None and row.settled_on is None


def test_a_compensation_recorded_by_mistake_is_cancelled_with_why(database: Database) -> None:
    line = record(database, code="B001", card="S1", reason="damaged", amount="15")
    assert lend(database, "S1", "B002").refusal == "compensation_block"
    with pytest.raises(Refusal, match="not settled yet"):  # the book is someone's debt
        record(database, code="B001", card="S2", reason="damaged", amount="15")
    for number, reason, refused in [(line.id, "  ", Refusal), (999, "typo", NotFound)]:
        with database.write() as session, pytest.raises(refused):
            compensation.cancel(session, number, librarian=LIBRARIAN, reason=reason)
    with database.read() as session:  # nothing changed
        assert compensation.unsettled(session) == 1

    with database.write() as session:
        cancelled = compensation.cancel(
            session, line.id, librarian="李老师", reason=" the damage was there  before "
        )
    assert (cancelled.cancelled_by, cancelled.cancel_reason) == (
        "李老师",
        "the damage was there before",
    )
    assert cancelled.cancelled_at is not None and not cancelled.owed
    assert cancelled.settled_on is None
    # Owed no more: the desk lends, the kiosks are told, the lists and the report count it not.
    assert lend(database, "S1", "B002").outcome == "lent"
    assert patron_change(database, "S1")["compensation_due"] is False
    with database.read() as session:
        assert compensation.unsettled(session) == 0
        assert compensation.compensations(session, settled=False) == []
        assert compensation.compensations(session, settled=True) == []
        assert compensation.compensations(session) == [cancelled]  # kept, with why
        # The damaged book is one to decide about again, and may be charged to its reader.
        assert [b.copy for b in compensation.books_to_settle(session)] == ["B001"]
    for settle_or_cancel in (
        lambda session: compensation.settle(session, line.id, librarian=LIBRARIAN),
        lambda session: compensation.cancel(session, line.id, librarian=LIBRARIAN, reason="x"),
    ):
        with database.write() as session, pytest.raises(Refusal, match="cancelled on"):
            settle_or_cancel(session)
    again = record(database, code="B001", card="S2", reason="damaged", amount="15")
    with database.write() as session:
        compensation.settle(session, again.id, librarian=LIBRARIAN)
    with database.write() as session, pytest.raises(Refusal, match="settled one"):
        compensation.cancel(session, again.id, librarian=LIBRARIAN, reason="paid by mistake")


def test_compensation_from_the_command_line(office_records: Office) -> None:
    office = office_records
    office.ok("lend", "S5", "B006")
    office.ok("mark-copy", "B007", "damaged")
    waiting = office.ok("compensation", "--books")
    assert "B007" in waiting and "B006" not in waiting
    said = office.ok(
        "record-compensation", "B006", "--card", "S5", "--reason", "lost", "--amount", "30",
        "--by", "librarian",
    )  # fmt: skip
    assert "owes 30.00 yuan" in said
    number = int(said.split()[1].rstrip(":"))
    listed = office.ok("compensation", "--class", "5-2")
    assert "B006" in listed and "30.00" in listed and "not settled" in listed
    code, _out, err = office.command(
        "record-compensation", "B007", "--card", "S1", "--reason", "damaged"
    )
    assert code == 1 and "no price" in err
    assert office.ok("settle-compensation", str(number)).startswith(f"compensation {number} ")
    assert office.ok("compensation") == "no compensation is owed\n"
    [row] = [json.loads(line) for line in office.ok("compensation", "--all", "--json").splitlines()]
    assert row["settled_on"] and row["amount_cents"] == 3000 and row["title"] == "Book 6"
    code, _out, err = office.command("settle-compensation", str(number))
    assert code == 1 and "already" in err

    said = office.ok(
        "record-compensation", "B007", "--card", "S1", "--reason", "damaged", "--amount", "9"
    )
    mistake = int(said.split()[1].rstrip(":"))
    code, _out, err = office.command("cancel-compensation", str(mistake), "--reason", " ")
    assert code == 1 and "Say why" in err
    assert office.ok(
        "cancel-compensation", str(mistake), "--reason", "wrong reader", "--by", "librarian"
    ).endswith("cancelled: wrong reader\n")
    assert office.ok("compensation") == "no compensation is owed\n"
    listed = office.ok("compensation", "--all")
    assert "cancelled" in listed and "by librarian: wrong reader" in listed


# -- a kiosk learns of the debt by sync --------------------------------------------------------


def test_a_kiosk_refuses_a_reader_who_owes_until_it_is_settled(office: Office, make_kiosk) -> None:
    kiosk = enrolled(office, make_kiosk, sync=True)
    kiosk.lend("S1", "B001")
    kiosk.client.sync()
    office.ok("record-compensation", "B001", "--card", "S1", "--reason", "lost", "--amount", "20")
    kiosk.client.sync()
    with kiosk.store.read() as db:
        assert db.scalar(select(KioskPatron.compensation_due).where(KioskPatron.card == "S1"))
    opened = kiosk.scan("S1")
    assert opened[-1].detail.get("blocked") == "compensation_block"
    (refused,) = kiosk.scan("B002")
    assert (refused.kind.value, refused.reason) == ("refused", "compensation_block")
    assert [ln.copy for ln in opened[-1].loans] == []  # the lost book is no longer theirs
    kiosk.engine.touch("done")
    others = kiosk.scan("S2", "B002")  # another reader is not held back
    assert others[-1].kind.value == "checked_out"
    kiosk.engine.touch("done")

    [line] = [json.loads(row) for row in office.ok("compensation", "--json").splitlines()]
    office.ok("settle-compensation", str(line["id"]))
    kiosk.client.sync()
    kiosk.lend("S1", "B003")  # lends again
    with kiosk.store.read() as db:
        patron = db.scalar(select(KioskPatron).where(KioskPatron.card == "S1"))
        assert patron is not None and not patron.compensation_due


def test_a_kiosk_lends_again_once_a_compensation_is_cancelled(office: Office, make_kiosk) -> None:
    said = office.ok(
        "record-compensation", "B001", "--card", "S1", "--reason", "damaged", "--amount", "5"
    )
    kiosk = enrolled(office, make_kiosk, sync=True)
    (refused,) = kiosk.scan("S1", "B002")[1:]
    assert refused.reason == "compensation_block"
    kiosk.engine.touch("done")
    office.ok("cancel-compensation", said.split()[1].rstrip(":"), "--reason", "not her book")
    kiosk.client.sync()
    kiosk.lend("S1", "B002")


def test_a_kiosk_lends_to_a_reader_who_owes_when_the_rules_say_so(
    office: Office, make_kiosk, tmp_path: Path
) -> None:
    office.ok("record-compensation", "B001", "--card", "S1", "--reason", "damaged", "--amount", "5")
    kiosk = enrolled(office, make_kiosk, sync=True)
    (refused,) = kiosk.scan("S1", "B002")[1:]
    assert refused.reason == "compensation_block"
    kiosk.engine.touch("done")
    rules = tmp_path / "rules.toml"
    rules.write_text(NO_BLOCK, encoding="utf-8")
    office.ok("rules", str(rules))
    kiosk.client.sync()
    kiosk.lend("S1", "B002")  # the school does not hold it against the reader
