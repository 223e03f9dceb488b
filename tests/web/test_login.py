"""Signing in and out of the office's pages, in a real headless Chromium on loopback."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.sync.support import Office
from tests.web.conftest import LIBRARIAN, PASSWORD, go_to, sign_in

pytestmark = pytest.mark.slow


def test_sign_in_see_home_sign_out(page, office_server: Office) -> None:
    page.goto(f"{office_server.url}/")
    expect(page).to_have_url(f"{office_server.url}/login")  # nothing before signing in
    sign_in(page, office_server)
    expect(page).to_have_url(f"{office_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    expect(page.get_by_role("banner")).to_contain_text(LIBRARIAN)
    go_to(page, "Librarians")
    expect(page.get_by_role("heading", level=1)).to_have_text("Librarians")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{office_server.url}/login")
    page.goto(f"{office_server.url}/librarians")
    expect(page).to_have_url(f"{office_server.url}/login?next=/librarians")


def test_sign_in_takes_the_librarian_where_she_was_going(page, office_server: Office) -> None:
    page.goto(f"{office_server.url}/librarians")
    page.get_by_label("Name").fill(LIBRARIAN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{office_server.url}/librarians")
    expect(page.get_by_role("cell", name=LIBRARIAN)).to_be_visible()


def test_many_wrong_passwords_are_slowed_down(page, office_server: Office) -> None:
    for _ in range(5):
        sign_in(page, office_server, password="not the password")
        expect(page.get_by_role("alert")).to_have_text("Wrong name or password.")
    # Now even the right password waits: a guesser gets a few tries a minute, not thousands.
    sign_in(page, office_server)
    expect(page.get_by_role("alert")).to_contain_text("Too many wrong tries. Wait")
    expect(page).to_have_url(f"{office_server.url}/login")


def test_a_form_without_its_csrf_token_is_refused(signed_in, office_server: Office) -> None:
    page = signed_in
    page.goto(f"{office_server.url}/librarians")
    page.get_by_label("Name", exact=True).fill("intruder")
    page.get_by_label("Password", exact=True).fill("a long password")
    page.get_by_label("Password again").fill("a long password")
    page.locator("input[name=csrf_token]").last.evaluate("input => input.remove()")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Form refused")
    page.goto(f"{office_server.url}/librarians")
    expect(page.get_by_role("cell", name="intruder")).to_have_count(0)


def test_a_librarian_adds_another_who_can_sign_in(signed_in, office_server: Office) -> None:
    page = signed_in
    go_to(page, "Librarians")
    page.get_by_label("Name", exact=True).fill("李老师")
    page.get_by_label("Password", exact=True).fill("another password")
    page.get_by_label("Password again").fill("another password")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("status")).to_have_text("李老师 can sign in now.")
    expect(page.get_by_role("row").filter(has_text="李老师")).to_contain_text(LIBRARIAN)
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, office_server, "李老师", "another password")
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    expect(page.get_by_role("banner")).to_contain_text("李老师")


def test_pages_speak_the_browsers_language_with_a_switch(browser, office_server: Office) -> None:
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{office_server.url}/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    page.get_by_label("名字").fill(LIBRARIAN)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("概览")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    # the choice stays for every page
    go_to(page, "Librarians")
    expect(page.get_by_role("heading", level=1)).to_have_text("Librarians")
    page.get_by_role("link", name="中文").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("馆员")
    context.close()


def test_api_description_works_offline(page, office_server: Office) -> None:
    left: list[str] = []

    def only_this_office(route) -> None:
        if route.request.url.startswith(office_server.url):
            route.continue_()
        else:  # the school may have no internet: nothing may come from elsewhere
            left.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_office)
    page.goto(f"{office_server.url}/docs")
    expect(page.get_by_text("Exchange a one-time enrolment code")).to_be_visible()
    expect(page.get_by_text("Send outbox events, in order")).to_be_visible()
    assert left == []
