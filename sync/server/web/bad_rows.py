"""A bad row of an imported file, said in the page's language.

The importers (kiosk.importer for books and students, services.classlists) say what is wrong
with a row in English, as the command line prints it: "sheet 三(2)班 row 7: name: String should
have at least 1 character". A page shows the same problem in the librarian's words; a reason
not known here is shown as the importer said it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sync.server.services import N_

FIELDS = {
    "name": N_("name"),
    "class_name": N_("class"),
    "grade": N_("grade"),
    "student_number": N_("student number"),
    "birth_date": N_("birth date"),
    "card": N_("card"),
    "kind": N_("kind"),
    "title": N_("title"),
    "author": N_("author"),
    "publisher": N_("publisher"),
    "classification": N_("classification"),
    "shelf": N_("shelf"),
}
_PLACE = re.compile(r"^(?:sheet (?P<sheet>.+?) row (?P<row>\d+)|line (?P<line>\d+))$")
_REASONS = [
    (r"^(?P<field>\w+): String should have at least 1 character$", N_("no {field}")),
    (
        r"^(?P<field>\w+): String should have at most (?P<n>\d+) characters?$",
        N_("{field} longer than {n} characters"),
    ),
    (
        r"^(?P<field>\w+): has a character that cannot be shown.*$",
        N_("{field} has a character that cannot be shown (a line break, a tab)"),
    ),
    (r"^card: card number is not scannable.*$", N_("the card number cannot be scanned")),
    (
        r"^birth_date: '(?P<text>.*)' is not a date.*$",
        N_("{text} is not a date (write 2016-05-04)"),
    ),
    (r"^grade: '(?P<text>.*)' is not a grade.*$", N_("{text} is not a grade (write 三年级 or 3)")),
    (
        r"^(?:class_name: )?class (?P<text>.+) is not in grade (?P<n>\d+)$",
        N_("class {text} is not in grade {n}"),
    ),
    (r"^kind: Input should be .*$", N_("the kind is not student, teacher or small librarian")),
    (
        r"^student number (?P<text>.+) is also on (?P<place>.+)$",
        N_("student number {text} is also on {place}"),
    ),
    (r"^card (?P<text>\S+) is also on (?P<place>.+)$", N_("card {text} is also on {place}")),
    (
        r"^the same student as (?P<place>.+?) \((?P<text>.+)\)$",
        N_("the same student as {place} ({text})"),
    ),
    (
        r"^card (?P<text>\S+) is already the (?:barcode|ISBN) of a book.*$",
        N_("card {text} is already a book's code: a card and a book need different codes"),
    ),
    (r"^isbn: '(?P<text>.*)' is not a valid ISBN.*$", N_("{text} is not a valid ISBN")),
    (r"^a book needs a barcode or an ISBN$", N_("a book needs a barcode or an ISBN")),
    (r"^barcode: barcode is not scannable.*$", N_("the barcode cannot be scanned")),
    (r"^year: .*$", N_("the year is not a year like 2015")),
    (r"^price_cents: .*$", N_("the price is not an amount in yuan like 25.80")),
    (r"^barcode (?P<text>\S+) is also on (?P<place>.+)$", N_("barcode {text} is also on {place}")),
    (
        r"^(?:barcode|ISBN) (?P<text>\S+) is already a library card.*$",
        N_("{text} is already a library card: a card and a book need different codes"),
    ),
    (
        r"^lines (?P<n>\d+)-(?P<m>\d+) read as one row.*$",
        N_('lines {n}-{m} read as one row: a quote (") is not closed'),
    ),
]
_MORE = re.compile(r"^\.\.\. and (?P<n>\d+) more$")  # past the rows listed one by one
_COMPILED = [(re.compile(pattern), message) for pattern, message in _REASONS]


def say(problem: str, gettext: Callable[[str], str]) -> str:
    """*problem* ("PLACE: REASON; REASON") in the language of *gettext*."""
    if more := _MORE.match(problem):
        return gettext(N_("... and {n} more")).format(n=more["n"])
    where, _sep, reasons = problem.partition(": ")
    if not _PLACE.match(where):  # a problem of the whole file
        return problem
    said = [_reason(reason, gettext) for reason in reasons.split("; ")]
    return f"{place(where, gettext)}: {'; '.join(said)}"


def place(where: str, gettext: Callable[[str], str]) -> str:
    """Where a row is ("line 7", "sheet 三(2)班 row 7") in the language of *gettext*."""
    found = _PLACE.match(where)
    if found is None:
        return where
    if found["line"]:
        return gettext(N_("line {n}")).format(n=found["line"])
    return gettext(N_("sheet {sheet} row {n}")).format(sheet=found["sheet"], n=found["row"])


def _reason(reason: str, gettext: Callable[[str], str]) -> str:
    for pattern, message in _COMPILED:
        found = pattern.match(reason)
        if found is None:
            continue
        values = found.groupdict()
        if "field" in values:
            values["field"] = gettext(FIELDS.get(values["field"], values["field"]))
        if "place" in values:
            values["place"] = place(values["place"], gettext)
        return gettext(message).format(**values)
    return reason
