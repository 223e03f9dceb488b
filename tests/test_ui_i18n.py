"""Languages on the screen: every string translated, Chinese drawn with a real CJK font."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from kiosk.models import Copy, Patron, Title
from kiosk.outcome import Kind, Outcome
from kiosk.store import Store
from kiosk.ui.fonts import FontNotFound, find_cjk_font
from tests.test_ui import kiosk_fixture, require_font, ui_fixture  # noqa: F401 - fixtures of test_ui

# Every reason the engine gives for a refusal or an unknown code (kiosk/engine.py, rules.py,
# codes.py, headless.py).
REASONS = [
    "limit_reached",
    "overdue_block",
    "lost_block",
    "compensation_block",
    "not_your_grade_today",
    "closed",
    "not_for_loan",
    "not_on_loan",
    "scan_card_first",
    "use_library_label",
    "max_renewals",
    "nothing_to_undo",
    "nothing_to_answer",
    "supervisor_only",
    "unknown_touch",
    "wrong_pin",
    "card_locked",
    "patron_inactive",
    "clock_wrong",
    "unknown_card",
    "unknown_code",
    "too_long",
    "control_characters",
    "garbled",
    # the stocktake (kiosk/engine.py)
    "no_stocktake",
    "stocktake_closed",
    "choose_shelf_first",
    "shelf_not_in_stocktake",
    "card_not_book",
]
# What a book scanned in a stocktake may be, besides counted (kiosk/engine.py, stocktake.py).
COUNTED = ["already_counted", "wrong_shelf", "on_loan", "lost", "withdrawn", "unknown_code"]
# Latin letters a Chinese screen may show: a language's own name, and the first-run question
# asked in both languages before one is chosen.
ALLOWED_LATIN = ["Choose the language", "English", "ISBN", "USB"]


def test_catalogues_are_complete_and_compiled() -> None:
    from kiosk.ui.catalogues import check  # babel, of the dev extra: installed everywhere tests run

    assert check() == []


@pytest.mark.parametrize("reason", REASONS)
def test_every_refusal_has_its_own_words_in_both_languages(reason: str) -> None:
    from kiosk.ui import messages
    from kiosk.ui.i18n import tr

    outcome = Outcome(
        Kind.REFUSED,
        reason=reason,
        title="草房子",
        detail={
            "max_loans": 2,
            "titles": ["草房子"],
            "attempts_left": 2,
            "status": "reference",
            "shelf": "12",
        },
    )
    fallback = Outcome(Kind.REFUSED, reason="no such reason")
    for language in ("zh_CN", "en"):
        tr.switch(language)
        message = messages.refusal(outcome)
        assert message != messages.refusal(fallback)
        shown = f"{message.headline} {message.body} {message.hint}"
        assert "_" not in shown  # never the reason's code name
        assert "{" not in shown  # every placeholder filled
        if language == "zh_CN":
            assert not re.search("[A-Za-z]", shown), shown
    tr.switch("zh_CN")


@pytest.mark.parametrize("reason", COUNTED)
def test_every_book_to_look_at_in_a_stocktake_has_its_word_in_both_languages(
    reason: str,
) -> None:
    from kiosk.ui import messages
    from kiosk.ui.i18n import tr

    outcome = Outcome(
        Kind.COUNTED, reason=reason, title="草房子", copy="123", detail={"belongs": "12"}
    )
    quiet = Outcome(Kind.COUNTED, reason="counted", title="草房子")
    for language in ("zh_CN", "en"):
        tr.switch(language)
        message = messages.counted(outcome)
        assert message.headline != messages.counted(quiet).headline
        assert message.tone != messages.counted(quiet).tone  # not the quiet green of a count
        shown = f"{message.headline} {message.body} {message.hint}"
        assert "_" not in shown and "{" not in shown
        if language == "zh_CN":
            assert not re.search("[A-Za-z]", shown), shown
    tr.switch("zh_CN")


def chinese_only(store: Store) -> None:
    """Give every book and person a Chinese name, so Latin letters can only be untranslated."""
    with store.write() as db:
        for n, title in enumerate(db.scalars(select(Title)), start=1):
            title.title = f"第{n}本书"
        for n, patron in enumerate(db.scalars(select(Patron)), start=1):
            patron.name = f"学生{n}号"


def test_no_visible_label_is_left_in_english_on_a_chinese_kiosk(tmp_path: Path) -> None:
    require_font()
    from kiosk.ui import screenshots
    from kiosk.ui.driver import Driver

    seen: dict[str, list[str]] = {}

    class Reader(screenshots.Tour):
        def shot(self, name: str) -> None:
            seen[name] = self.driver.texts()

    first = screenshots.library(tmp_path / "first", "zh_CN", set_up=False)
    driver = Driver.shared(first)
    Reader(driver, first, tmp_path).first_run("zh_CN")
    chinese = screenshots.library(tmp_path / "zh", "zh_CN")
    chinese_only(chinese.store)
    with chinese.store.read() as db:
        cards = list(db.scalars(select(Patron.card)))  # codes, in no language
        cards += db.scalars(select(Copy.shelf).distinct())  # shelves' names too (3-A)
    cards.append(chinese.settings.name)  # the kiosk's own name (this computer's hostname)
    driver.start_over(chinese)
    Reader(driver, chinese, tmp_path).students_and_helpers()
    chinese.store.close()
    first.store.close()

    assert len(seen) == 24  # every screen of the tour, including the first run's three
    for name, texts in seen.items():
        for text in texts:
            if name == "find-student" and re.fullmatch("[A-Z]", text):
                continue  # a letter button: the first letter of names in pinyin
            for allowed in ALLOWED_LATIN + cards:
                text = text.replace(allowed, "")
            assert not re.search("[A-Za-z]", text), f"{name}: {text!r}"


def test_cjk_font_is_found_and_a_missing_configured_font_is_a_clear_error(
    tmp_path: Path,
) -> None:
    require_font()
    assert find_cjk_font().is_file()
    with pytest.raises(FontNotFound, match="no such font file"):
        find_cjk_font(str(tmp_path / "missing.ttf"))


@pytest.mark.usefixtures("ui")
def test_chinese_renders_as_glyphs_not_boxes() -> None:
    """The same Chinese text drawn with the registered font differs from tofu boxes."""
    from kivy.core.text import Label as CoreLabel

    def pixels(text: str) -> bytes:
        label = CoreLabel(text=text, font_size=40)
        label.refresh()
        return bytes(label.texture.pixels)

    # Without a CJK font every one of these characters is the same "missing glyph" box.
    assert pixels("借") != pixels("书")
