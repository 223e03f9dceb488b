"""What kiosks report that does not fit the office's records: recorded, resolved, listed.

The office never refuses a physical event (the book has left the building).
"""

from __future__ import annotations

import json

from sqlalchemy import select

from sync.server import models as office_models
from tests.sync.support import Office, enrolled


def conflicts(office: Office) -> list[dict]:
    return [json.loads(line) for line in office.ok("conflicts", "--json").splitlines()]


def copy_status_at_office(office: Office, barcode: str) -> str:
    database = office.database()
    with database.read() as session:
        status = session.scalar(
            select(office_models.Copy.status).where(office_models.Copy.barcode == barcode)
        )
    database.close()
    return status


def test_checkout_of_a_copy_marked_lost_at_the_office(office: Office, make_kiosk) -> None:
    kiosk = enrolled(office, make_kiosk, sync=True)
    office.ok("mark-copy", "b003", "lost")  # the kiosk has not heard yet (any case will do)
    kiosk.lend("S1", "B003")
    report = kiosk.client.sync()
    assert [c.kind for c in report.conflicts] == ["checkout_of_lost"]
    [listed] = conflicts(office)
    assert listed["copy"] == "B003" and listed["kiosk"] == "kiosk-a"
    assert "lost" in listed["detail"]
    # Recorded all the same: the book is in a reader's hands, so it is not lost.
    loans = [json.loads(line) for line in office.ok("loans", "--json").splitlines()]
    assert [(loan["copy"], loan["patron"]) for loan in loans] == [("B003", "S1")]
    assert copy_status_at_office(office, "B003") == "on_loan"


def test_checkout_by_a_patron_removed_at_the_office(office: Office, make_kiosk) -> None:
    kiosk = enrolled(office, make_kiosk, sync=True)
    office.ok("remove-student", "s2")  # typed in lower case: the same card
    kiosk.lend("S2", "B004")
    kiosk.client.sync()
    [listed] = conflicts(office)
    assert listed["kind"] == "patron_deleted" and "小红" in listed["detail"]
    loans = [json.loads(line) for line in office.ok("loans", "--json").splitlines()]
    assert [loan["patron"] for loan in loans] == ["S2"]
    # The removal then reaches the kiosk: no new loans for S2 there.
    kiosk.client.sync()
    outcomes = kiosk.scan("S2")
    assert outcomes[-1].detail.get("blocked") == "patron_inactive"


def test_return_of_a_copy_the_office_has_on_the_shelf(office: Office, make_kiosk) -> None:
    a = enrolled(office, make_kiosk, "kiosk-a", sync=True)
    b = enrolled(office, make_kiosk, "kiosk-b", sync=True)
    a.lend("S1", "B006")
    a.client.sync()
    b.client.sync()  # b knows the loan now
    a.scan("B006")  # returned at a ...
    b.scan("B006")  # ... and scanned into the return box at b as well, both offline
    a.client.sync()
    report = b.client.sync()
    assert [c.kind for c in report.conflicts] == ["return_of_copy_on_shelf"]
    assert [c["kind"] for c in conflicts(office)] == ["return_of_copy_on_shelf"]
    assert copy_status_at_office(office, "B006") == "available"


def test_librarian_commands_report_clearly(office: Office, make_kiosk) -> None:
    code, _out, err = office.command("mark-copy", "NOPE", "lost")
    assert code == 1 and "no copy" in err
    code, _out, err = office.command("mark-copy", "B001", "on_loan")
    assert code == 1 and "not a status to set" in err
    code, _out, err = office.command("revoke", "no-such-kiosk")
    assert code == 1 and "no single kiosk" in err
    code, _out, err = office.command("remove-student", "NOBODY")
    assert code == 1 and "NOBODY" in err
    assert "no kiosks enrolled" in office.ok("kiosks")
    enrolled(office, make_kiosk, sync=True)
    listing = office.ok("kiosks")
    assert "kiosk-a" in listing and "0 waiting" in listing


def test_a_book_lent_twice_is_explained_and_resolved_from_the_command_line(
    office: Office, make_kiosk
) -> None:
    a = enrolled(office, make_kiosk, "kiosk-a", sync=True)
    b = enrolled(office, make_kiosk, "kiosk-b", sync=True)
    a.lend("S2", "B005")  # both offline: the same book lent at each
    b.clock.advance(minutes=5)
    b.lend("S5", "B005")
    b.client.sync()
    a.client.sync()  # the earlier loan arrives last: it is still the one counted returned
    listing = office.ok("conflicts")
    assert "lent_twice" in listing
    assert (
        "at kiosk-a to 小红 (S2), then at kiosk-b to Li Hua (S5). The first loan counts as "
        "returned when the second began (never overdue). Check that Li Hua (S5) has the book."
    ) in listing
    [listed] = conflicts(office)

    code, _out, err = office.command("resolve-conflict", str(listed["id"]), "--note", "  ")
    assert code == 1 and "Write in a few words what you found or did" in err
    code, _out, err = office.command("resolve-conflict", "999", "--note", "x")
    assert code == 1 and "There is no conflict number 999." in err
    note = "Li Hua has it; 小红 gave it back"
    said = office.ok("resolve-conflict", str(listed["id"]), "--note", note, "--by", "王老师")
    assert f"conflict {listed['id']} resolved" in said
    assert conflicts(office) == []
    [resolved] = [
        json.loads(x) for x in office.ok("conflicts", "--resolved", "--json").splitlines()
    ]
    assert (resolved["note"], resolved["resolved_by"]) == (note, "王老师")
    code, _out, err = office.command("resolve-conflict", str(listed["id"]), "--note", "again")
    assert code == 1 and "was resolved already, by 王老师" in err
