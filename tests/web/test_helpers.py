"""The small librarians' page in a real headless Chromium, with a real kiosk (engine, store,
sync client) syncing with the office on loopback: a student made a small librarian and their
PIN set on the page opens the kiosk's helpers' menu after a sync, and what they did there is
listed on the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from kiosk.outcome import Kind
from tests.sync.support import Office, enrolled
from tests.web.conftest import go_to

pytestmark = pytest.mark.slow


def test_a_pin_set_on_the_page_opens_the_helpers_menu_of_a_kiosk_after_a_sync(
    signed_in: Page, office_server: Office, make_kiosk
) -> None:
    page = signed_in
    kiosk = enrolled(office_server, make_kiosk, "library-door", library=False, sync=True)
    go_to(page, "Small librarians")
    expect(page.get_by_role("heading", level=1)).to_have_text("Small librarians")
    helpers = page.locator("table.helpers tbody tr")
    expect(helpers).to_have_count(1)
    expect(helpers.first).to_contain_text("小助手")
    expect(helpers.first).to_contain_text("PIN set")

    page.get_by_label("Find a student").fill("li")
    page.get_by_role("button", name="Find").first.click()
    page.get_by_role("button", name="Make a small librarian Li Hua").click()
    expect(page.get_by_role("status")).to_have_text(
        "Li Hua is a small librarian: set their PIN below."
    )
    row = helpers.filter(has_text="Li Hua")
    expect(row).to_contain_text("None yet: cannot open the helpers' menu")

    # Two different PINs: said in her row, and nothing is set.
    row.get_by_label("New PIN for Li Hua").fill("97531")
    row.get_by_label("The same PIN again for Li Hua").fill("97532")
    row.get_by_role("button", name="Set the PIN Li Hua").click()
    expect(row.get_by_role("alert")).to_have_text("The two PINs are not the same: type it again.")
    expect(row.get_by_label("New PIN for Li Hua")).to_have_attribute("aria-invalid", "true")
    expect(row).to_contain_text("None yet")
    row.get_by_label("New PIN for Li Hua").fill("97531")
    row.get_by_label("The same PIN again for Li Hua").fill("97531")
    row.get_by_role("button", name="Set the PIN Li Hua").click()
    expect(page.get_by_role("status")).to_have_text(
        "Li Hua's PIN is set. The kiosks take it at their next sync."
    )
    expect(row).to_contain_text("PIN set")

    # Before its sync the kiosk knows her as a student; after it, her card asks for the PIN.
    assert kiosk.scan("S5")[-1].kind == Kind.SESSION_STARTED
    kiosk.engine.touch("done")
    kiosk.client.sync()
    assert kiosk.scan("S5")[-1].kind == Kind.PIN_NEEDED
    assert kiosk.engine.touch("pin", "97531")[-1].kind == Kind.SUPERVISOR
    kiosk.engine.touch("mark_damaged")
    assert kiosk.scan("B005")[-1].kind == Kind.COPY_MARKED
    kiosk.engine.touch("leave")
    kiosk.client.sync()

    row.get_by_role("link", name="What they did Li Hua").click()
    expect(page.get_by_label("Who")).to_have_value("S5")
    done = page.locator("table.actions-log tbody tr")
    expect(done.first).to_contain_text("marked “Book 5” (B005) damaged")
    expect(done.first).to_contain_text("library-door")
    expect(done.nth(1)).to_contain_text("opened the helpers' menu")
    expect(done).to_have_count(2)

    page.goto(f"{office_server.url}/language/zh_CN?next=/helpers")
    expect(page.get_by_role("heading", level=1)).to_have_text("小图书管理员")
    expect(done.first).to_contain_text("把《Book 5》（B005）标记为损坏")

    page.goto(f"{office_server.url}/language/en?next=/helpers")
    row.get_by_role("button", name="No longer a small librarian Li Hua").click()
    expect(page.get_by_role("status")).to_have_text(
        "Li Hua is no longer a small librarian; their PIN is forgotten."
    )
    expect(helpers.filter(has_text="Li Hua")).to_have_count(0)
    kiosk.client.sync()
    assert kiosk.scan("S5")[-1].kind == Kind.SESSION_STARTED
