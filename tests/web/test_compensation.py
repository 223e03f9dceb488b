"""Compensation in a real headless Chromium: a book's price set on its page, a lost book on the
list of books to decide about, a compensation recorded (the price by default, or typed), the
reader refused at the desk meanwhile, and the compensation settled."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from sync.server.models import Copy, Patron
from sync.server.services import books, compensation, desk, plan
from tests.sync.support import Office
from tests.web.conftest import signed_in_client

pytestmark = pytest.mark.slow


def test_a_compensation_recorded_and_settled(signed_in: Page, office_server: Office) -> None:
    database = office_server.database()
    with database.write() as session:
        for card, code in (("S1", "B001"), ("S2", "B003")):
            assert desk.lend(session, card, code, librarian="librarian").outcome == "lent"
        lost = session.scalar(select(Copy).where(Copy.barcode == "B001"))
        assert lost is not None
        books.set_status(session, lost.id, "lost")  # as on the Books page
        title_3 = session.scalar(select(Copy.title_id).where(Copy.barcode == "B003"))
    page = signed_in

    # Book 3's price, on its page.
    page.goto(f"{office_server.url}/books/titles/{title_3}")
    page.get_by_label("Price (yuan)").fill("abc")
    page.get_by_label("Price (yuan)").press("Enter")
    expect(page.get_by_role("alert")).to_have_text("The price is an amount in yuan, like 25.80.")
    page.get_by_label("Price (yuan)").fill("¥25.8")
    page.get_by_label("Price (yuan)").press("Enter")
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_label("Price (yuan)")).to_have_value("25.80")

    # The lost book waits for a decision; its reader is charged what is typed (no price).
    page.get_by_role("link", name="Compensation", exact=True).click()
    waiting = page.locator("table.to-settle tbody tr")
    expect(waiting).to_have_count(1)
    expect(waiting.first).to_contain_text("小明")
    waiting.first.get_by_role("link", name="Record a compensation").click()
    expect(page.get_by_label("Card of the reader who owes it")).to_have_value("S1")
    expect(page.get_by_label("lost")).to_be_checked()
    page.get_by_label("Amount (yuan)").fill("20")
    page.get_by_label("Note").fill("lost on the school bus")
    page.get_by_role("button", name="Record it").click()
    expect(page.get_by_role("status")).to_have_text(
        "Compensation 1 recorded: 小明 owes it until it is settled."
    )
    row = page.locator("#compensation-1")
    expect(row).to_contain_text("20.00")
    expect(row).to_contain_text("lost on the school bus")
    expect(page.locator("table.to-settle")).to_have_count(0)

    # A damaged book still out, charged at its price: scanned in on the form.
    page.get_by_role("link", name="Record a compensation").first.click()
    page.get_by_label("Scan the damaged or lost book's barcode").fill("b003")
    page.get_by_label("Scan the damaged or lost book's barcode").press("Enter")
    expect(page.get_by_label("Card of the reader who owes it")).to_have_value("S2")
    page.get_by_label("damaged").check()
    page.get_by_role("button", name="Record it").click()
    expect(page.locator("#compensation-2")).to_contain_text("25.80")
    expect(page.locator("[data-figure=owed]")).to_have_text("45.80")

    # Meanwhile the desk refuses the reader, in words.
    page.goto(f"{office_server.url}/desk?card=S1")
    expect(page.get_by_text("小明 owes compensation for a damaged or lost book")).to_be_visible()

    # Settled today: off the list, and the reader may borrow again.
    page.goto(f"{office_server.url}/compensation?class_name=3-1")
    expect(page.locator("table.compensations tbody tr")).to_have_count(2)
    page.locator("#compensation-1").get_by_role("button", name="Settled").click()
    expect(page.get_by_role("status")).to_have_text("Compensation 1 of 小明 is settled.")
    expect(page.locator("table.compensations tbody tr")).to_have_count(1)
    page.get_by_label("Settled", exact=True).check()
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#compensation-1")).to_contain_text("librarian")
    with database.read() as session:
        owes = dict(session.execute(select(Patron.card, Patron.compensation_due)).all())
    assert owes["S1"] is False and owes["S2"] is True
    with database.write() as session:
        refused = desk.lend(session, "S2", "B005", librarian="librarian")
    assert refused.refusal == "compensation_block"

    # The school's rules may let a student who owes borrow all the same.
    page.goto(f"{office_server.url}/rules")
    box = page.get_by_label("Students: Compensation not settled blocks")
    expect(box).to_be_checked()
    box.uncheck()
    page.get_by_role("button", name="Save the lending rules").click()
    expect(page.get_by_role("status")).to_contain_text("The lending rules are saved.")
    expect(page.get_by_label("Students: Compensation not settled blocks")).not_to_be_checked()
    expect(page.get_by_label("Teachers: Compensation not settled blocks")).to_be_checked()
    with database.write() as session:
        assert desk.lend(session, "S2", "B005", librarian="librarian").outcome == "lent"
    database.close()


def test_a_compensation_recorded_by_mistake_is_cancelled_with_why(
    signed_in: Page, office_server: Office
) -> None:
    database = office_server.database()
    with database.write() as session:
        wrong = compensation.record(
            session, code="B003", card="S1", reason="damaged", amount="12", librarian="librarian"
        )
    page = signed_in
    page.goto(f"{office_server.url}/desk?card=S1")
    expect(page.get_by_text("小明 owes compensation for a damaged or lost book")).to_be_visible()

    page.get_by_role("link", name="Compensation", exact=True).click()
    expect(page.locator("[data-figure=owed]")).to_have_text("12.00")
    row = page.locator(f"#compensation-{wrong.id}")
    row.get_by_text("Recorded by mistake?").click()
    row.get_by_label(f"Why cancel compensation {wrong.id}?").fill("小红 damaged it, not 小明")
    row.get_by_role("button", name=f"Cancel compensation {wrong.id}").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Compensation {wrong.id} of 小明 is cancelled: it is owed no more."
    )
    expect(page.get_by_text("Nothing is owed: every compensation is settled.")).to_be_visible()
    page.get_by_label("All, cancelled too").check()
    page.get_by_role("button", name="Show").click()
    kept = page.locator(f"#compensation-{wrong.id}")
    expect(kept).to_contain_text("Cancelled")
    expect(kept).to_contain_text("小红 damaged it, not 小明")
    expect(kept).to_contain_text("librarian")
    expect(kept.get_by_role("button")).to_have_count(0)  # neither settled nor cancelled again
    expect(page.locator("[data-figure=owed]")).to_have_count(0)

    # The desk lends to 小明 again; the damaged book waits for a decision once more.
    expect(page.locator("table.to-settle tbody tr")).to_contain_text(["B003"])
    page.goto(f"{office_server.url}/desk?card=S1")
    expect(page.get_by_text("小明 owes compensation for a damaged or lost book")).to_have_count(0)
    with database.write() as session:
        assert desk.lend(session, "S1", "B001", librarian="librarian").outcome == "lent"
    database.close()


def test_the_pages_show_times_on_the_school_s_clock(office_server: Office) -> None:
    """Times on the pages are the school's (the plan's time zone), as its days are counted,
    whatever zone the office computer is set to: here a zone fourteen hours ahead of UTC."""
    database = office_server.database()
    with database.write() as session:
        plan.save(session, {**plan.current(session).model_dump(), "timezone": "Pacific/Kiritimati"})
        compensation.record(
            session, code="B003", card="S1", reason="damaged", amount="12", librarian="librarian",
            now=dt.datetime(2026, 3, 2, 17, 5, tzinfo=dt.UTC),
        )  # fmt: skip
    database.close()
    client, _token = signed_in_client(office_server)
    shown = client.get(f"{office_server.url}/compensation", timeout=30).text
    assert "2026-03-03 07:05" in shown
