"""The office's navigation in a real headless Chromium at the office's 1366x768: one line in
English and in Chinese (the areas used a few times a term under More), every area's link
found by its name, by mouse or keyboard, and the current one marked."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from sync.server.web import AREAS, LESS_USED
from tests.sync.support import Office
from tests.web.conftest import MORE, go_to

pytestmark = pytest.mark.slow


def header_rows(page: Page) -> list[float]:
    """The distinct rows (their middles, in pixels) of the header's parts: the name of the
    office, each link of the navigation's line, the languages and the sign-out button."""
    return page.evaluate(
        """() => {
            const parts = [
                document.querySelector('.brand'),
                ...document.querySelectorAll('nav[aria-label] > ul > li'),
                ...document.querySelectorAll('.tools > *'),
            ];
            const middles = parts.map(p => {
                const box = p.getBoundingClientRect();
                return Math.round((box.top + box.bottom) / 2);
            });
            return [...new Set(middles.map(m => Math.round(m / 12)))].map(r => r * 12);
        }"""
    )


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_the_navigation_fits_on_one_line_at_1366_pixels(
    signed_in: Page, office_server: Office, language: str
) -> None:
    page = signed_in
    assert page.viewport_size == {"width": 1366, "height": 768}
    page.goto(f"{office_server.url}/language/{language}?next=/")
    nav = page.get_by_role("navigation", name="Main" if language == "en" else "主菜单")
    expect(nav).to_be_visible()
    assert len(header_rows(page)) == 1, header_rows(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    links = nav.get_by_role("link")
    expect(links).to_have_count(len(AREAS) - len(LESS_USED))  # the others under More

    more = nav.get_by_text(MORE["en" if language == "en" else "zh-CN"], exact=True)
    more.click()
    expect(links).to_have_count(len(AREAS))
    assert len(header_rows(page)) == 1  # the list opens over the page, the line stays one


def test_every_area_is_reached_from_the_navigation_and_marked(
    signed_in: Page, office_server: Office
) -> None:
    page = signed_in
    names = ["Desk", "Small librarians", "Rules", "Librarians", "Overview", "Kiosks"]
    for name in names:
        go_to(page, name)
        nav = page.get_by_role("navigation", name="Main")
        current = nav.locator("[aria-current=page]")
        expect(current).to_have_count(1)
        expect(current).to_have_text(name)
        expect(nav.locator("summary.current")).to_have_count(
            1 if name in ("Small librarians", "Rules", "Librarians", "Kiosks") else 0
        )

    # By keyboard: More opens with Enter, its links follow by Tab.
    page.goto(f"{office_server.url}/")
    more = page.get_by_role("navigation", name="Main").get_by_text("More", exact=True)
    more.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Small librarians", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Small librarians")
