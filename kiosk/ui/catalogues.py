"""Keep the gettext catalogues in step with the code (a developer's tool; needs Babel).

``python -m kiosk.ui.catalogues`` extracts every ``tr._`` / ``tr.n_`` message of kiosk/ui (Python
and KV), adds new ones to each language's .po file (keeping the translations there), drops the
ones no longer used, and compiles the .mo files the kiosk loads. ``--check`` changes nothing and
fails when a message has no Chinese translation or a .mo file is out of date.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from kiosk.ui.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

SOURCES = Path(__file__).resolve().parent
KEYWORDS = {"_": None, "n_": (1, 2), "every_language": None}
# KV rules are close enough to Python for Babel's Python extractor to find tr._("...") in them.
METHODS = [("**.py", "python"), ("**.kv", "python")]


def extract() -> Catalog:
    """Every message of the UI's code, with where it is used."""
    template = Catalog(project="library-kiosk", domain=DOMAIN)
    for filename, lineno, message, comments, context in extract_from_dir(
        SOURCES, METHODS, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
    ):
        template.add(
            message,
            None,
            [(f"kiosk/ui/{filename}", lineno)],
            auto_comments=comments,
            context=context,
        )
    return template


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(language: str) -> Catalog:
    path = po_path(language)
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN)
    with path.open("rb") as file:
        return read_po(file, locale=language, domain=DOMAIN)


def compiled(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def translations(mo: bytes) -> tuple[str, dict]:
    """What a compiled catalogue gives the kiosk: its plural rule and every message's words.

    Compared in place of the bytes, which name the Babel version that wrote them.
    """
    catalog = read_mo(io.BytesIO(mo))
    words = {}
    for message in catalog:
        if message.id:  # read_mo gives a plural's forms as lists
            key = (message.context, _frozen(message.id))
            words[key] = _frozen(message.string)
    return catalog.plural_forms, words


def _frozen(text: str | list[str]) -> str | tuple[str, ...]:
    return tuple(text) if isinstance(text, list) else text


def missing_translations(catalog: Catalog) -> list[str]:
    """Messages of *catalog* without a translation (or with a partial plural)."""
    missing = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings) or message.fuzzy:
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


def update() -> None:
    template = extract()
    for language in LANGUAGES:
        catalog = read_catalogue(language)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.fuzzy = False  # a fuzzy header is left out of the .mo, and its charset with it
        catalog.project, catalog.version = "library-kiosk", "1"
        path = po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as file:
            write_po(file, catalog, width=100, omit_header=False)
        path.with_suffix(".mo").write_bytes(compiled(catalog))


def check() -> list[str]:
    """Problems that would show English or stale text on a Chinese screen."""
    problems = []
    template = extract()
    wanted = {m.id for m in template if m.id}
    for language in LANGUAGES:
        catalog = read_catalogue(language)
        have = {m.id for m in catalog if m.id}
        problems += [f"{language}: not in the catalogue: {m!r}" for m in wanted - have]
        mo = po_path(language).with_suffix(".mo")
        if not mo.exists() or translations(mo.read_bytes()) != translations(compiled(catalog)):
            problems.append(f"{language}: {mo} is out of date: run python -m kiosk.ui.catalogues")
    problems += [
        f"zh_CN: untranslated: {m!r}" for m in missing_translations(read_catalogue("zh_CN"))
    ]
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
