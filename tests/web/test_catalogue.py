"""Every message of the office's pages has its Chinese."""

from __future__ import annotations

from sync.server.web import catalogues


def test_every_message_of_the_pages_has_chinese() -> None:
    assert catalogues.check() == [], "run python -m sync.server.web.catalogues and translate"
