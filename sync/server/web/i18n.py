"""The pages' two languages: gettext catalogues, chosen by the browser or the switch.

Messages are written in English in templates (``{{ _("Sign in") }}``, ``{% trans %}``) and in
Python (``N_("Students")``, from sync.server.services, marks a message translated when shown;
a service's ``Refusal(N_("... {name}"), name=...)`` is shown translated by ``render.page``).
The Chinese is in sync/server/web/locale/zh_CN/LC_MESSAGES/office.po;
``python -m sync.server.web.catalogues`` adds new messages there, and a test fails while one
has no Chinese. The .po file is compiled when the server starts (with Babel), so there is no
binary .mo file to keep in step or to merge.

The language is the one chosen with the switch (a cookie), else the browser's first of ours in
Accept-Language, else Chinese.
"""

from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from fastapi import Request

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "office"
LANGUAGES = {"zh_CN": "中文", "en": "English"}  # each named in its own words, for the switch
DEFAULT = "zh_CN"
COOKIE = "office_language"


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalogue of *language*; English is the messages themselves."""
    path = po_path(language)
    if language == "en" or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as file:
        catalog = read_po(file, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def language_of(request: Request) -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower().replace("-", "_")
        if tag.startswith("zh"):
            return "zh_CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT
