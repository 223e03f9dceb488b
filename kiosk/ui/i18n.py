"""One translation mechanism for every visible string: gettext catalogues in kiosk/locale.

Python code calls ``tr._("...")`` (and ``tr.n_`` for plurals); KV rules write
``text: tr._("...")`` and are updated when the language changes, because ``tr`` tells the KV
bindings of ``_`` when it switches. Messages are written in English in the code; the catalogues
give the Chinese (``python -m kiosk.ui.catalogues`` extracts and compiles them).
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.event import Observable

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "kiosk"
# Each language named in its own words, for the language switch.
LANGUAGES = {"zh_CN": "中文", "en": "English"}


def catalogue(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of *language*; English falls back to the messages themselves."""
    if language not in LANGUAGES:
        raise ValueError(f"no catalogue for language {language!r}")
    return gettext.translation(DOMAIN, LOCALE_DIR, [language], fallback=language == "en")


def every_language(message: str) -> str:
    """*message* in each language, for the one question asked before a language is chosen."""
    return " / ".join(catalogue(language).gettext(message) for language in LANGUAGES)


class Translator(Observable):
    """The current language; KV bindings on ``_`` are refreshed when it changes."""

    def __init__(self, language: str = "zh_CN") -> None:
        super().__init__()
        self._bindings: dict[int, tuple[Callable[..., Any], Any]] = {}
        self._next_uid = 1
        self.language = language
        self._catalogue = catalogue(language)

    def _(self, message: str) -> str:
        return self._catalogue.gettext(message)

    def n_(self, singular: str, plural: str, n: int) -> str:
        return self._catalogue.ngettext(singular, plural, n)

    def switch(self, language: str) -> None:
        """Use *language* from now on, and redraw every KV text bound to ``_``."""
        if language == self.language:
            return
        self._catalogue = catalogue(language)
        self.language = language
        for func, args in list(self._bindings.values()):
            func(args, None, None)

    # The KV compiler binds ``tr._`` through these (the Observable protocol of kivy.lang).
    def fbind(self, name: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
        if name != "_":
            return super().fbind(name, func, *args, **kwargs)
        uid = self._next_uid
        self._next_uid += 1
        self._bindings[uid] = (func, args[0] if len(args) == 1 else args)
        return uid

    def funbind(self, name: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if name != "_":
            super().funbind(name, func, *args, **kwargs)
            return
        for uid, (bound, _args) in list(self._bindings.items()):
            if bound == func:
                del self._bindings[uid]

    def unbind_uid(self, name: str, uid: int) -> None:
        if name != "_":
            super().unbind_uid(name, uid)
            return
        self._bindings.pop(uid, None)


tr = Translator()
