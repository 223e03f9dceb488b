"""Keep the pages' Chinese catalogue in step with the code (a developer's tool; uses Babel).

``python -m sync.server.web.catalogues`` extracts every message of the office server (``_()``
and ``{% trans %}`` in templates, ``N_()`` in Python), adds new ones to
locale/zh_CN/LC_MESSAGES/office.po keeping the translations there, and drops those no longer
used. ``--check`` changes nothing and lists messages without Chinese.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from sync.server.web.i18n import DOMAIN, po_path

SERVER = Path(__file__).resolve().parent.parent  # sync/server
METHODS = [("web/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


# A fixed header date, and sorted messages without line numbers: two helpers adding pages at
# once change different lines of the .po file, not the same ones.
STABLE_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def extract() -> Catalog:
    template = Catalog(project="library-kiosk", domain=DOMAIN, creation_date=STABLE_DATE)
    for filename, lineno, message, comments, context in extract_from_dir(
        SERVER, METHODS, options_map=OPTIONS, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
    ):
        template.add(
            message,
            None,
            [(f"sync/server/{filename}", lineno)],
            auto_comments=comments,
            context=context,
        )
    return template


def read_catalogue(language: str = "zh_CN") -> Catalog:
    path = po_path(language)
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN)
    with path.open("rb") as file:
        return read_po(file, locale=language, domain=DOMAIN)


def update(language: str = "zh_CN") -> None:
    catalog = read_catalogue(language)
    catalog.update(extract(), no_fuzzy_matching=True)
    catalog.obsolete.clear()
    catalog.fuzzy = False
    catalog.project, catalog.version = "library-kiosk", "1"
    catalog.creation_date = catalog.revision_date = STABLE_DATE
    path = po_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        write_po(file, catalog, width=100, sort_output=True, include_lineno=False)


def check(language: str = "zh_CN") -> list[str]:
    """Messages a Chinese page would show in English."""
    catalog = read_catalogue(language)
    have = {m.id: m for m in catalog if m.id}
    problems = []
    for message in extract():
        if not message.id:
            continue
        found = have.get(message.id)
        strings = () if found is None else found.string
        strings = strings if isinstance(strings, tuple) else (strings,)
        if found is None or found.fuzzy or not all(strings):
            where = ", ".join(f"{f}:{n}" for f, n in message.locations)
            problems.append(f"{language}: no translation of {message.id!r} ({where})")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; report problems")
    args = parser.parse_args()
    if not args.check:
        update()
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
