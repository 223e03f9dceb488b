"""Repairs in a real headless Chromium: a damaged copy sent to repair from the repairs page,
another from the Books page's status, each listed with the day it went and not lent meanwhile,
then back on the shelf once repaired."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from sync.server.models import Copy
from sync.server.services import books, desk, overdue
from tests.sync.support import Office

pytestmark = pytest.mark.slow


def test_copies_sent_to_repair_and_back(signed_in: Page, office_server: Office) -> None:
    database = office_server.database()
    with database.write() as session:
        damaged = session.scalar(select(Copy.id).where(Copy.barcode == "B007"))
        assert damaged is not None
        books.set_status(session, damaged, "damaged")
        today = overdue.today(session)
    page = signed_in
    page.goto(f"{office_server.url}/books")
    page.get_by_role("link", name="In repair").click()
    expect(page.locator("table.repairs")).to_have_count(0)
    waiting = page.locator("table.damaged tbody tr")
    expect(waiting).to_have_count(1)
    waiting.first.get_by_role("button", name="Send to repair").click()
    expect(page.get_by_role("status")).to_have_text("B007 saved.")
    away = page.locator("table.repairs tbody tr")
    expect(away).to_have_count(1)
    expect(away.first).to_contain_text(today.isoformat())
    expect(away.first).to_contain_text("librarian")
    expect(page.locator("table.damaged")).to_have_count(0)

    # The Books page's status sends a copy too.
    page.goto(f"{office_server.url}/books?q=B008")
    page.get_by_label("Status of B008").select_option(label="in repair")
    page.get_by_role("row").filter(has_text="B008").get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("B008 saved.")
    page.goto(f"{office_server.url}/books/repairs")
    expect(away).to_have_count(2)
    with database.write() as session:
        refused = desk.lend(session, "S1", "B007", librarian="librarian")
    assert (refused.refusal, refused.detail) == ("not_for_loan", {"status": "in_repair"})

    away.filter(has_text="B007").get_by_role("button", name="Repaired: back on the shelf").click()
    expect(page.get_by_role("status")).to_have_text("B007 saved.")
    expect(away).to_have_count(1)
    back = page.locator("table.came-back tbody tr")
    expect(back).to_have_count(1)
    expect(back.first).to_contain_text("on the shelf")
    with database.write() as session:
        assert desk.lend(session, "S1", "B007", librarian="librarian").outcome == "lent"
    database.close()
