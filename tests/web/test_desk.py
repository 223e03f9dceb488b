"""The desk in a real headless Chromium, as a librarian with a USB scanner uses it: codes
typed into the scan field with Enter, each answered at once on screen and by a tone; class
sets; a refusal set aside with a reason; and kiosks (the real engine and sync client) that
see the desk's loans, and whose loans the desk sees, once they have synced."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from kiosk.outcome import Kind
from sync.server.models import Change, Loan
from sync.server.services import desk, overdue
from tests.conftest import FakeClock
from tests.sync.support import KioskUnderTest, Office

pytestmark = pytest.mark.slow

# Every oscillator the page starts is kept, to hear which tones it made (there is no sound
# device here; the Web Audio calls are the page's own).
RECORD_TONES = """
window.__tones = [];
const start = BaseAudioContext.prototype.createOscillator;
BaseAudioContext.prototype.createOscillator = function () {
  const oscillator = start.call(this);
  window.__tones.push(oscillator);
  return oscillator;
};
"""
OK, INFO, REFUSED = [880], [660], [330, 220]


def tones(page: Page, count: int) -> list[float]:
    page.wait_for_function(f"window.__tones.length >= {count}")
    return page.evaluate("window.__tones.map(o => o.frequency.value)")


def scan(page: Page, *codes: str) -> None:
    """Codes as a USB scanner sends them: typed into the focused field, each with Enter."""
    for code in codes:
        page.keyboard.type(code)
        page.keyboard.press("Enter")


def due_in(office: Office, days: int) -> str:
    """The date *days* after the school's today (the plan's time zone), as the desk shows it."""
    database = office.database()
    try:
        with database.read() as session:
            return (overdue.today(session) + dt.timedelta(days=days)).isoformat()
    finally:
        database.close()


def open_desk(page: Page, office: Office) -> None:
    page.add_init_script(RECORD_TONES)
    page.goto(f"{office.url}/desk")
    expect(page.get_by_label("Scan a card or a book")).to_be_focused()


def loans_of(office: Office, code: str) -> list[Loan]:
    database = office.database()
    with database.read() as session:
        found = list(session.scalars(select(Loan).where(Loan.copy_code == code)))
    database.close()
    return found


def test_a_checkout_with_typed_scans_then_a_return(signed_in: Page, office_server: Office) -> None:
    page = signed_in
    open_desk(page, office_server)
    field = page.get_by_label("Scan a card or a book")
    answer = page.get_by_role("status")
    reader = page.get_by_role("region", name="Reader")

    scan(page, "s1", "B001", "B002")  # typed faster than answered: they wait their turn
    expect(answer).to_have_text(f"Lent to 小明: “Book 2” (B002), due {due_in(office_server, 14)}.")
    expect(reader.get_by_role("heading")).to_contain_text("小明")
    expect(reader.locator("tbody tr")).to_have_count(2)
    expect(reader).to_contain_text("小明 has 2 books already, the most allowed.")
    expect(page.locator("#recent li")).to_have_count(3)
    assert "小明: scan the books to lend." in page.locator("#recent li").last.inner_text()
    assert tones(page, 3) == INFO + OK + OK
    expect(field).to_be_focused()
    expect(field).to_have_value("")

    scan(page, "B003")
    expect(answer).to_contain_text("小明 has 2 books already, the most allowed.")
    assert tones(page, 5)[3:] == REFUSED
    expect(field).to_be_focused()

    page.keyboard.press("Escape")  # the next reader: nobody at the desk, a book comes back
    expect(page.get_by_text("Nobody at the desk")).to_be_visible()
    scan(page, "B001")
    expect(answer).to_have_text("Returned: “Book 1” (B001) from 小明.")
    assert tones(page, 6)[5:] == OK
    expect(field).to_be_focused()

    (lent_back,) = loans_of(office_server, "B001")
    (still_out,) = loans_of(office_server, "B002")
    assert lent_back.returned_at is not None and still_out.returned_at is None
    assert (still_out.patron_card, still_out.lent_where) == ("S1", desk.DESK)
    assert loans_of(office_server, "B003") == []


def test_a_reader_s_book_scanned_again_is_taken_back_or_renewed(
    signed_in: Page, office_server: Office
) -> None:
    page = signed_in
    open_desk(page, office_server)
    scan(page, "T1", "B004")
    expect(page.get_by_role("status")).to_have_text(
        # a teacher's own policy
        f"Lent to 王老师: “Book 4” (B004), due {due_in(office_server, 30)}."
    )
    scan(page, "B004")
    expect(page.get_by_role("status")).to_contain_text("王老师 has “Book 4” already")
    page.get_by_role("button", name="Take it back").click()
    expect(page.get_by_role("status")).to_have_text("Returned: “Book 4” (B004) from 王老师.")
    expect(page.get_by_role("region", name="Reader")).to_contain_text("No books out.")
    expect(page.get_by_label("Scan a card or a book")).to_be_focused()


def test_a_refusal_set_aside_with_a_reason_is_logged(
    signed_in: Page, office_server: Office
) -> None:
    page = signed_in
    open_desk(page, office_server)
    scan(page, "S2", "B005", "B006", "B007")
    expect(page.get_by_role("status")).to_contain_text("小红 has 2 books already")
    page.get_by_label("Reason to do it anyway").fill("reading club this week")
    page.get_by_role("button", name="Lend anyway").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Lent to 小红: “Book 7” (B007), due {due_in(office_server, 14)}."
    )
    row = page.get_by_role("region", name="Reader").get_by_role("row", name="Book 7")
    expect(row).to_contain_text("set aside: reading club this week")
    expect(page.get_by_label("Scan a card or a book")).to_be_focused()

    page.get_by_role("link", name="Refusals set aside").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Refusals set aside")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody td")).to_contain_text(
        ["Desk", "librarian", "小红", "Book 7", "Limit reached", "reading club this week"]
    )
    (loan,) = loans_of(office_server, "B007")
    assert loan.override_by == "librarian"


def test_a_class_set_lent_and_brought_back(signed_in: Page, office_server: Office) -> None:
    page = signed_in
    page.goto(f"{office_server.url}/desk/sets")
    expect(page.get_by_text("No class set is out.")).to_be_visible()
    page.get_by_label("For the class").fill("3-1")
    page.get_by_label("Taken by (card of a teacher or student)").fill("T1")
    page.get_by_label("Bring back by").fill(due_in(office_server, 30))
    page.get_by_label("Books (scan each one)").click()
    scan(page, "B004", "B005", "B006", "NOPE")
    page.get_by_role("button", name="Lend the set").click()
    expect(page.get_by_role("alert")).to_contain_text("NOPE: NOPE is neither a card nor a book")
    page.get_by_label("Books (scan each one)").fill("B004\nB005\nB006\n")
    page.get_by_role("button", name="Lend the set").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Set 1 · 3-1")
    expect(page.get_by_role("status")).to_have_text("Lent: 3 books.")
    expect(page.locator("tbody tr")).to_have_count(3)
    page.get_by_role("link", name="Class sets").click()
    held = page.get_by_role("row", name="Set 1")
    expect(held.locator("td")).to_contain_text(["王老师", "3 / 3", due_in(office_server, 30)])

    held.get_by_role("link", name="Set 1").click()
    expect(page.get_by_label("Scan a book of the set to take it back")).to_be_focused()
    scan(page, "B004")
    expect(page.get_by_role("status")).to_have_text("Taken back: “Book 4”.")
    expect(page.get_by_role("row", name="Book 4")).to_contain_text("back on")
    page.get_by_role("button", name="Take back all 2 books still out").click()
    expect(page.get_by_role("status")).to_have_text("Taken back: 2 books.")
    assert all(loan.returned_at for code in ("B004", "B005", "B006")
               for loan in loans_of(office_server, code))  # fmt: skip

    page.get_by_role("link", name="Class sets").click()
    expect(page.get_by_text("No class set is out.")).to_be_visible()
    page.get_by_role("link", name="Sets brought back too").click()
    expect(page.get_by_role("row", name="Set 1")).to_contain_text("0 / 3")


def test_a_kiosk_s_loan_shows_at_the_desk_once_that_kiosk_has_synced(
    signed_in: Page, office_server: Office, tmp_path: Path
) -> None:
    kiosk = KioskUnderTest(tmp_path / "kiosk-a", FakeClock())
    try:
        kiosk.client.enroll(office_server.url, office_server.enroll_code(), "kiosk-a")
        kiosk.client.sync()
        kiosk.lend("S2", "B008")
        page = signed_in
        open_desk(page, office_server)
        scan(page, "S2")
        reader = page.get_by_role("region", name="Reader")
        expect(reader).to_contain_text("No books out.")  # the kiosk has not synced yet

        kiosk.client.sync()
        scan(page, "S2")
        row = reader.get_by_role("row", name="Book 8")
        expect(row.locator("td")).to_contain_text(["B008", "kiosk-a"])
        row.get_by_role("button", name="Take back").click()
        expect(page.get_by_role("status")).to_have_text("Returned: “Book 8” (B008) from 小红.")

        kiosk.client.sync()  # and the kiosk hears of the return
        session = kiosk.scan("S2")[-1]
        assert session.kind == Kind.SESSION_STARTED and session.loans == ()
    finally:
        kiosk.close()


def test_a_desk_loan_reaches_a_kiosk_on_its_next_sync(
    signed_in: Page, office_server: Office, tmp_path: Path
) -> None:
    kiosk = KioskUnderTest(tmp_path / "kiosk-a", FakeClock())
    try:
        kiosk.client.enroll(office_server.url, office_server.enroll_code(), "kiosk-a")
        kiosk.client.sync()
        page = signed_in
        open_desk(page, office_server)
        scan(page, "S5", "B009", "B010")
        expect(page.get_by_role("status")).to_contain_text("Lent to Li Hua: “Book 10”")

        kiosk.client.sync()
        session = kiosk.scan("S5")[-1]
        assert session.kind == Kind.SESSION_STARTED
        assert sorted(line.copy for line in session.loans) == ["B009", "B010"]
        assert session.may_borrow == 0
        refused = kiosk.scan("B001")[-1]
        assert (refused.kind, refused.reason) == (Kind.REFUSED, "limit_reached")
        again = kiosk.scan("B009")[-1]
        assert (again.kind, again.reason) == (Kind.CHOICE_NEEDED, "already_yours")
    finally:
        kiosk.close()


def test_the_kiosks_are_told_a_class_set_is_out_not_who_holds_it(
    signed_in: Page, office_server: Office, tmp_path: Path
) -> None:
    page = signed_in
    page.goto(f"{office_server.url}/desk/sets")
    page.get_by_label("Taken by (card of a teacher or student)").fill("T1")
    page.get_by_label("Bring back by").fill(due_in(office_server, 20))
    page.get_by_label("Books (scan each one)").fill("B001\nB002\n")
    page.get_by_role("button", name="Lend the set").click()
    expect(page.get_by_role("status")).to_have_text("Lent: 2 books.")
    database = office_server.database()
    with database.read() as session:
        told = [c.data for c in session.scalars(select(Change).where(Change.kind == "loan"))]
    database.close()
    assert len(told) == 2 and all(d and d["patron"] is None for d in told)

    kiosk = KioskUnderTest(tmp_path / "kiosk-a", FakeClock())
    try:
        kiosk.client.enroll(office_server.url, office_server.enroll_code(), "kiosk-a")
        kiosk.client.sync()
        teacher = kiosk.scan("T1")[-1]
        assert teacher.loans == () and teacher.may_borrow == 10
        kiosk.engine.touch("done")
        back = kiosk.scan("B001")[-1]  # a book of the set brought back at the kiosk
        assert back.kind == Kind.RETURNED
        kiosk.client.sync()
    finally:
        kiosk.close()
    page.goto(f"{office_server.url}/desk/sets/1")
    expect(page.get_by_role("row", name="Book 1")).to_contain_text("back on")
    expect(page.get_by_role("row", name="Book 2")).to_contain_text("out")
