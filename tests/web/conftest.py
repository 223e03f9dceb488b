"""Fixtures of the office pages' tests: a running office server with a librarian account, a
real headless Chromium (Debian's, driven by Playwright; never a downloaded browser), a page
signed in to it, and a plain HTTP client that signs in like a browser.

For a new page's test::

    @pytest.mark.slow
    def test_students_page(signed_in: Page, office_server: Office) -> None:
        signed_in.goto(f"{office_server.url}/students")
        expect(signed_in.get_by_role("heading")).to_have_text("Students")
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sync.server.db import database_url
from sync.server.services import librarians
from tests.conftest import require
from tests.sync.conftest import library, make_kiosk  # noqa: F401 (the office's, and kiosks)
from tests.sync.support import Office

LIBRARIAN = "librarian"
PASSWORD = "correct horse 42"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def add_librarian(office: Office, name: str = LIBRARIAN, password: str = PASSWORD) -> None:
    database = office.database()
    with database.write() as session:
        librarians.create_librarian(session, name, password)
    database.close()


def serve_office(data: Path, library) -> Office:  # noqa: F811 (the fixture imported above)
    """``library-server serve`` on loopback (SQLite), with the librarian account and the
    conftest library; ``office_server.url`` is where the pages are."""
    server = library(data, database_url(data, None))
    add_librarian(server)
    return server.start()


@pytest.fixture
def office_server(tmp_path: Path, library) -> Iterator[Office]:  # noqa: F811 (imported above)
    server = serve_office(tmp_path / "office", library)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator:
    require("chromium", Path(CHROMIUM).exists() or shutil.which("chromium") is not None,
            "the office pages are tested in a real browser")  # fmt: skip
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or CHROMIUM, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator:
    """A fresh browser tab (no cookies) preferring English; office pages at 1366x768."""
    context = browser.new_context(locale="en-US", viewport={"width": 1366, "height": 768})
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def sign_in(page, office: Office, name: str = LIBRARIAN, password: str = PASSWORD) -> None:
    page.goto(f"{office.url}/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def go_to(page, area: str) -> None:
    """Follow the navigation's link to *area*, opening More first if it is there."""
    nav = page.get_by_role("navigation", name="Main")
    link = nav.get_by_role("link", name=area, exact=True)
    if not link.is_visible():
        nav.get_by_text(MORE[page.evaluate("document.documentElement.lang")], exact=True).click()
    link.click()


MORE = {"en": "More", "zh-CN": "更多"}


@pytest.fixture
def signed_in(page, office_server: Office):
    """A browser tab signed in as the librarian, on the home page."""
    sign_in(page, office_server)
    page.wait_for_url(f"{office_server.url}/")
    return page


# -- without a browser -------------------------------------------------------------------------

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF_INPUT.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def signed_in_client(office: Office, name: str = LIBRARIAN, password: str = PASSWORD):
    """A requests session signed in as a browser would be: (session, CSRF token of its forms)."""
    client = requests.Session()
    form = client.get(f"{office.url}/login", timeout=30)
    reply = client.post(
        f"{office.url}/login",
        data={"name": name, "password": password, "csrf_token": csrf_of(form.text)},
        timeout=30,
    )
    assert reply.ok and reply.url == f"{office.url}/", reply.text
    return client, csrf_of(reply.text)
