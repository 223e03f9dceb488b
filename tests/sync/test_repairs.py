"""Copies sent to repair, on the office's records (SQLite and PostgreSQL): not lent at the desk
while away, listed with the day they went, lent again once repaired; from the command line
too; and over loopback, a real kiosk that refuses a copy in repair after a sync and lends it
once it is repaired and synced."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from sync.server.db import Database
from sync.server.models import Copy
from sync.server.services import Refusal, books, desk, overdue, repairs
from tests.sync.support import Office, enrolled

LIBRARIAN = "王老师"


def mark(database: Database, code: str, status: str, by: str = LIBRARIAN) -> None:
    with database.write() as session:
        copy_id = session.scalar(select(Copy.id).where(Copy.barcode == code))
        assert copy_id is not None
        books.set_status(session, copy_id, status, by=by)


def test_a_copy_in_repair_is_not_lent_until_it_is_repaired(database: Database) -> None:
    mark(database, "B005", "damaged")
    with database.read() as session:
        today = overdue.today(session)
        assert [r.copy for r in repairs.damaged(session)] == ["B005"]
    mark(database, "B005", "in_repair")
    with database.read() as session:
        (away,) = repairs.in_repair(session)
        assert repairs.damaged(session) == []
    assert (away.copy, away.title, away.sent_by) == ("B005", "Book 5", LIBRARIAN)
    assert away.sent_on == today
    assert away.days_away(today) == 0 and away.back_on is None
    with database.write() as session:
        refused = desk.lend(session, "S1", "B005", librarian=LIBRARIAN)
    assert (refused.refusal, refused.detail, refused.overridable) == (
        "not_for_loan", {"status": "in_repair"}, False,
    )  # fmt: skip

    mark(database, "B005", "available", by="李老师")  # repaired
    with database.read() as session:
        assert repairs.in_repair(session) == []
        (back,) = repairs.came_back(session, today)
    assert (back.back_on, back.came_back_as, back.status) == (today, "available", "available")
    with database.write() as session:
        assert desk.lend(session, "S1", "B005", librarian=LIBRARIAN).outcome == "lent"

    # Out on loan, it is not on the library's shelves to send anywhere.
    with database.write() as session, pytest.raises(Refusal, match="on loan"):
        books.set_status(session, _copy_id(session, "B005"), "in_repair", by=LIBRARIAN)
    # Sent twice over (withdrawn, then sent again), each time is kept.
    mark(database, "B006", "in_repair")
    mark(database, "B006", "withdrawn")
    mark(database, "B006", "in_repair")
    with database.read() as session:
        assert [(r.copy, r.came_back_as) for r in repairs.came_back(session, today)] == [
            ("B006", "withdrawn"), ("B005", "available"),
        ]  # fmt: skip
        assert [r.copy for r in repairs.in_repair(session)] == ["B006"]


def _copy_id(session, code: str) -> int:
    found = session.scalar(select(Copy.id).where(Copy.barcode == code))
    assert found is not None
    return found


def test_repairs_from_the_command_line(office_records: Office) -> None:
    office = office_records
    assert office.ok("repairs") == "no copy is in repair\n"
    office.ok("mark-copy", "B007", "in_repair")
    listed = office.ok("repairs")
    assert listed.startswith("B007") and "0 days away" in listed
    [row] = [json.loads(line) for line in office.ok("repairs", "--json").splitlines()]
    assert row["copy"] == "B007" and row["sent_on"] and row["back_on"] is None
    office.ok("mark-copy", "B007", "available")
    back = office.ok("repairs", "--back-since", row["sent_on"])
    assert "B007" in back and "as available" in back
    office.ok("lend", "S1", "B007")
    code, _out, err = office.command("mark-copy", "B007", "in_repair")
    assert code == 1 and "on loan" in err


def test_a_kiosk_refuses_a_copy_in_repair_and_lends_it_once_repaired(
    office: Office, make_kiosk
) -> None:
    kiosk = enrolled(office, make_kiosk, sync=True)
    office.ok("mark-copy", "B005", "in_repair")
    kiosk.client.sync()
    (refused,) = kiosk.scan("S1", "B005")[1:]
    assert (refused.reason, refused.detail.get("status")) == ("not_for_loan", "in_repair")
    kiosk.engine.touch("done")
    office.ok("mark-copy", "B005", "available")
    kiosk.client.sync()
    kiosk.lend("S1", "B005")
    kiosk.client.sync()
    [loan] = [json.loads(line) for line in office.ok("loans", "--json").splitlines()]
    assert (loan["copy"], loan["patron"]) == ("B005", "S1")
