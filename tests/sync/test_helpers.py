"""Small librarians at the office (services.helpers), on SQLite and PostgreSQL: a student made
one and their PIN set there, kept only as the hash a kiosk checks, accepted by a real kiosk
after its next sync; and what they did in the kiosks' helpers' menu, listed who, what, when."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from kiosk.models import Patron as KioskPatron
from kiosk.outcome import Kind
from kiosk.pins import check_pin
from sync.server.db import Database
from sync.server.models import Change, Patron
from sync.server.services import NotFound, Refusal, helpers, kiosks, plan, students
from tests.conftest import HELPER_PIN
from tests.sync.support import Office, enrolled

NEW_PIN = "97531"


def sent_to_kiosks(database: Database, card: str) -> dict:
    with database.read() as session:
        data = session.scalar(
            select(Change.data).where(Change.kind == "patron", Change.key == card)
        )
    assert data is not None
    return data


def test_a_student_made_a_small_librarian_with_a_pin_kept_only_as_its_hash(
    database: Database,
) -> None:
    with database.write() as session:
        made = helpers.make_helper(session, "s5")  # a card typed in small letters
        assert (made.kind, made.has_pin) == ("helper", False)
        helpers.set_pin(session, "S5", NEW_PIN)
    sent = sent_to_kiosks(database, "S5")
    assert sent["kind"] == "helper" and NEW_PIN not in str(sent)
    assert check_pin(NEW_PIN, sent["pin_hash"]) and not check_pin("97530", sent["pin_hash"])
    with database.read() as session:
        listed = helpers.helpers(session)
        stored = session.scalar(select(Patron.pin_hash).where(Patron.card == "S5"))
    assert [(h.card, h.has_pin) for h in listed] == [("S5", True), ("H1", True)]  # 5-2, 6-1
    assert stored == sent["pin_hash"]

    with database.write() as session:
        helpers.unmake_helper(session, "S5")
    sent = sent_to_kiosks(database, "S5")
    assert (sent["kind"], sent["pin_hash"]) == ("student", None)
    # A small librarian made a student on the students' page forgets the PIN as well.
    with database.write() as session:
        h1 = students.get(session, "H1")
        students.edit(session, "H1", students.Edit(name=h1.name, class_name=h1.class_name,
                                                   grade=6, kind="student"))  # fmt: skip
    assert sent_to_kiosks(database, "H1")["pin_hash"] is None


def test_what_cannot_be_done_says_why_and_changes_nothing(database: Database) -> None:
    before = sent_to_kiosks(database, "S1")
    refusals = [
        (helpers.make_helper, ("T1",), "王老师 is not a student: only a student can be a small"),
        (helpers.make_helper, ("NOBODY",), "No student has card NOBODY."),
        (helpers.make_helper, ("GONE",), "No student has card GONE."),
        (helpers.set_pin, ("S1", "1234"), "小明 is not a small librarian: mark them as one"),
        (helpers.unmake_helper, ("S1",), "小明 is not a small librarian."),
    ]
    for change, args, message in refusals:
        with pytest.raises(Refusal) as refused, database.write() as session:
            change(session, *args)
        assert str(refused.value).startswith(message), str(refused.value)
    with pytest.raises(NotFound), database.write() as session:
        helpers.set_pin(session, "NOBODY", "1234")
    with database.write() as session:
        helpers.make_helper(session, "S1")
    for pin in ("123", "1234567", "12a4", "１２３４", " 1234", ""):
        with pytest.raises(Refusal, match=r"A PIN is 4 to 6 digits\."), database.write() as session:
            helpers.set_pin(session, "S1", pin)
    assert sent_to_kiosks(database, "S1")["pin_hash"] is None
    assert before["pin_hash"] is None


def test_a_pin_set_at_the_office_opens_the_helpers_menu_after_a_sync(
    office: Office, make_kiosk
) -> None:
    kiosk = enrolled(office, make_kiosk, library=False)  # it knows nobody but by the office
    kiosk.client.sync()
    assert kiosk.scan("S5")[-1].kind == Kind.SESSION_STARTED  # a student like any other
    kiosk.engine.touch("done")

    database = office.database()
    with database.write() as session:
        helpers.make_helper(session, "S5")
        helpers.set_pin(session, "S5", NEW_PIN)
    kiosk.client.sync()
    assert kiosk.scan("S5")[-1].kind == Kind.PIN_NEEDED
    assert kiosk.engine.touch("pin", HELPER_PIN)[-1].reason == "wrong_pin"
    assert kiosk.engine.touch("pin", NEW_PIN)[-1].kind == Kind.SUPERVISOR
    kiosk.engine.touch("leave")
    with kiosk.store.read() as db:
        stored = db.scalar(select(KioskPatron.pin_hash).where(KioskPatron.card == "S5"))
    assert stored is not None and NEW_PIN not in stored

    # Three wrong PINs lock the card; a PIN set anew at the office opens it again.
    kiosk.scan("S5")
    for wrong in ("0000", "1111", "2222"):
        said = kiosk.engine.touch("pin", wrong)[-1]
    assert said.reason == "card_locked"
    with database.write() as session:
        helpers.set_pin(session, "S5", "8642")
    database.close()
    kiosk.client.sync()
    assert kiosk.scan("S5")[-1].kind == Kind.PIN_NEEDED
    assert kiosk.engine.touch("pin", NEW_PIN)[-1].reason == "wrong_pin"  # the old one is gone
    assert kiosk.engine.touch("pin", "8642")[-1].kind == Kind.SUPERVISOR

    # No longer a small librarian: the card is a student's again at the kiosk.
    kiosk.engine.touch("leave")
    office.ok("helper", "S5", "--remove")
    kiosk.client.sync()
    assert kiosk.scan("S5")[-1].kind == Kind.SESSION_STARTED


@pytest.fixture
def office_computer_far_away(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The office computer's own time zone, far from the school's (the plan's)."""
    monkeypatch.setenv("TZ", "America/Anchorage")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_what_small_librarians_did_at_the_kiosks_is_listed(
    office: Office, make_kiosk, tmp_path: Path, office_computer_far_away: None
) -> None:
    (tmp_path / "shelved.csv").write_text(
        "barcode,title,author,shelf\nB006,Book 6,Author,A1\nB007,Book 7,Author,A1\n",
        encoding="utf-8",
    )
    office.ok("import-books", str(tmp_path / "shelved.csv"))
    office.ok("stocktake-start")
    kiosk = enrolled(office, make_kiosk, "library-door", sync=True)
    kiosk.lend("S2", "B004")
    kiosk.scan("H1")
    kiosk.engine.touch("pin", "0000")
    kiosk.engine.touch("pin", HELPER_PIN)
    kiosk.engine.touch("batch_return")
    kiosk.scan("B004")
    kiosk.engine.touch("done")
    kiosk.engine.touch("mark_damaged")
    kiosk.scan("B005")
    kiosk.engine.touch("done")
    kiosk.engine.touch("open_for", "S1")
    kiosk.scan("B001", "B002", "B003")
    kiosk.engine.touch("override")
    kiosk.engine.touch("done")
    kiosk.scan("H1")
    kiosk.engine.touch("pin", HELPER_PIN)
    assert kiosk.engine.touch("stocktake")[-1].reason == "stocktake"
    assert [o.kind for o in kiosk.scan("SHELF-A1", "B006", "B007")] == [
        Kind.SHELF_CHOSEN, Kind.COUNTED, Kind.COUNTED
    ]  # fmt: skip
    kiosk.engine.touch("leave")
    kiosk.client.sync()

    database = office.database()
    with database.read() as session:
        done = helpers.actions(session)
        only_h1 = helpers.actions(session, "h1")
        nobody = helpers.actions(session, "S1")
    database.close()
    said = [(a.kiosk, a.card, a.name, str(a.what)) for a in done]
    assert said == [
        ("library-door", "H1", "小助手", "stocktake: 2 counted on shelf A1"),
        ("library-door", "H1", "小助手", "opened the helpers' menu"),
        ("library-door", "H1", "小助手", "let 小明 (S1) borrow “Book 3” (B003) over the limit"),
        ("library-door", "H1", "小助手", "opened a session for 小明 (S1), who had no card"),
        ("library-door", "H1", "小助手", "marked “Book 5” (B005) damaged"),
        ("library-door", "H1", "小助手", "took back “Book 4” (B004) with a pile of returns"),
        ("library-door", "H1", "小助手", "opened the helpers' menu"),
        ("library-door", "H1", "小助手", "typed a wrong PIN (2 tries left)"),
    ]
    assert [a.at for a in done] == sorted((a.at for a in done), reverse=True)
    assert only_h1 == done and nobody == []
    listing = office.ok("helper-actions", "--card", "H1")
    assert "library-door 小助手 (H1): marked “Book 5” (B005) damaged" in listing
    # Times on the school's clock, as on the pages, whatever the office computer's zone.
    database = office.database()
    with database.read() as session:
        school = plan.current(session).zone()
        [door] = kiosks.kiosks(session)
    database.close()
    assert school.utcoffset(dt.datetime(2026, 11, 24)) != dt.timedelta(hours=-9)  # not Alaska's
    assert listing.startswith(f"{done[0].at.astimezone(school):%Y-%m-%d %H:%M} library-door")
    assert door.last_sync is not None
    assert f"{door.last_sync.astimezone(school):%Y-%m-%d %H:%M}" in office.ok("kiosks")


def test_a_pin_set_from_the_command_line_is_read_from_standard_input(
    database: Database, tmp_path: Path, db_url: str
) -> None:
    office = [sys.executable, "-m", "sync.server.cli", "--data", str(tmp_path), "--db", db_url]

    def run(*args: str, pin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*office, *args], input=pin, capture_output=True, text=True, timeout=120
        )

    made = run("helper", "S2", "--pin", pin="2580\n")
    assert made.returncode == 0, made.stderr
    assert "小红 (S2) is a small librarian, with a PIN" in made.stdout
    assert check_pin("2580", sent_to_kiosks(database, "S2")["pin_hash"])
    refused = run("set-pin", "S2", "--pin-stdin", pin="25 80\n")
    assert refused.returncode == 1 and "A PIN is 4 to 6 digits." in refused.stderr
    assert check_pin("2580", sent_to_kiosks(database, "S2")["pin_hash"])
    listed = run("helpers").stdout.splitlines()
    assert [line.split()[:2] for line in listed] == [["S2", "小红"], ["H1", "小助手"]]
