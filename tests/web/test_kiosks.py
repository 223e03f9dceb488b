"""The kiosks' page in a real headless Chromium, with real kiosks (engine, store, sync client)
syncing with the office on loopback: an enrolment code made on the page enrolls a kiosk, the
page shows how it is doing, a kiosk revoked there is refused, and a conflict it reported is
explained in plain words and resolved with a note."""

from __future__ import annotations

import json
import re
import socket

import pytest
from playwright.sync_api import Page, expect

from kiosk import __version__
from kiosk.clock import utc_now
from sync.client import OfficeRefused
from tests.sync.support import Office
from tests.web.conftest import go_to

pytestmark = pytest.mark.slow


def enroll_from_the_page(page: Page, office: Office, make_kiosk, name: str):
    page.goto(f"{office.url}/kiosks")
    page.get_by_role("button", name="Make an enrolment code").click()
    code = page.get_by_label("Enrolment code").inner_text()
    # The page was opened on this computer (loopback): a kiosk finds it by the computer's name.
    expect(page.locator("pre.command")).to_have_text(
        f"kiosk enroll {socket.gethostname()}:{office.port} {code}"
    )
    kiosk = make_kiosk(name)
    kiosk.client.enroll(office.url, code, name)
    return kiosk


def test_a_kiosk_enrolled_with_the_pages_code_is_listed_then_revoked(
    signed_in: Page, office_server: Office, make_kiosk
) -> None:
    page = signed_in
    go_to(page, "Kiosks")
    expect(page.get_by_role("cell", name="No kiosk is enrolled yet")).to_be_visible()
    kiosk = enroll_from_the_page(page, office_server, make_kiosk, "library-door")
    kiosk.lend("S1", "B001")
    kiosk.client.sync()

    page.get_by_role("link", name="Back to the kiosks").click()
    row = page.get_by_role("row").filter(has_text="library-door")
    expect(row).to_contain_text("just now")
    expect(row.get_by_role("cell").nth(2)).to_have_text("0")  # nothing waiting on the kiosk
    expect(row).to_contain_text(__version__)
    # The kiosk's test clock is in November 2026, not the office's: its clock is shown as
    # far off, marked as a worry.
    clock = row.get_by_role("cell").nth(3)
    expect(clock).to_have_class("warn")
    expect(clock).to_contain_text("slow" if kiosk.clock() < utc_now() else "fast")

    row.get_by_role("link", name="Revoke library-door").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Revoke library-door?")
    page.get_by_role("button", name="Revoke library-door").click()
    expect(page.get_by_role("status")).to_have_text(
        "library-door is revoked: the office refuses it until it is enrolled again."
    )
    expect(row).to_contain_text("Revoked")
    expect(row.get_by_role("link", name="Revoke library-door")).to_have_count(0)
    kiosk.lend("S2", "B002")
    with pytest.raises(OfficeRefused, match="revoked"):
        kiosk.client.sync()


def test_a_conflict_explained_in_plain_words_and_resolved_with_a_note(
    signed_in: Page, office_server: Office, make_kiosk
) -> None:
    page = signed_in
    kiosk = enroll_from_the_page(page, office_server, make_kiosk, "kiosk-a")
    kiosk.client.sync()
    office_server.ok("mark-copy", "B003", "lost")  # the kiosk has not heard yet
    kiosk.lend("S1", "B003")
    kiosk.client.sync()

    page.goto(f"{office_server.url}/kiosks")
    conflict = page.locator("article.conflict")
    expect(conflict).to_have_count(1)
    expect(conflict.get_by_role("heading")).to_contain_text("Lost book lent")
    expect(conflict).to_contain_text(
        re.compile(
            r"“Book 3” \(B003\) was marked lost here, but at kiosk-a on \d{4}-\d\d-\d\d it was "
            r"lent to 小明 \(S1\): the book was found\."
        )
    )
    # Blanks are no note: refused in words, and the conflict stays.
    conflict.get_by_label("Note").fill("   ")
    conflict.get_by_role("button", name="Mark resolved").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Write in a few words what you found or did: the note is kept."
    )
    expect(page.locator("article.conflict")).to_have_count(1)

    page.locator("article.conflict").get_by_label("Note").fill("Found behind the shelf")
    page.locator("article.conflict").get_by_role("button", name="Mark resolved").click()
    expect(page.get_by_role("status")).to_have_text(
        "Conflict 1 is resolved; your note is kept with it."
    )
    expect(page.locator("article.conflict")).to_have_count(0)
    expect(page.get_by_text("No conflicts: everything the kiosks reported fitted.")).to_be_visible()
    page.get_by_role("link", name="Resolved conflicts").click()
    resolved = page.get_by_role("row").filter(has_text="Found behind the shelf")
    expect(resolved).to_contain_text("Lost book lent")
    expect(resolved).to_contain_text("librarian")  # who resolved it
    # The command line sees the same: off the list, kept with its note.
    assert office_server.ok("conflicts", "--json") == ""
    resolved_lines = office_server.ok("conflicts", "--resolved", "--json").splitlines()
    [line] = [json.loads(x) for x in resolved_lines]
    assert (line["note"], line["resolved_by"]) == ("Found behind the shelf", "librarian")

    page.goto(f"{office_server.url}/language/zh_CN?next=/kiosks/conflicts/resolved")
    expect(page.get_by_role("heading", level=1)).to_have_text("已处理的冲突")
    expect(resolved).to_contain_text("《Book 3》（B003）在办公室登记为丢失")
