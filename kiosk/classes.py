"""Grades and classes as schools write them: "三年级(2)班", "三年级二班", "3年级2班", "302", "3-2".

A class is known by its grade and its number (``SchoolClass.key``: "3-2"), whatever form a
file wrote it in, and is shown in the school's own form: one of ``STYLES``, a template the
librarian chooses once (the import suggests the form its file used most). A class name that
is none of these forms ("兴趣班") is kept as it was written, with no key.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# The forms a class is shown in; {G}/{N} are Chinese numerals, {g}/{n} digits.
STYLES = {
    "{G}年级({n})班": "三年级(2)班",
    "{G}年级（{n}）班": "三年级（2）班",
    "{G}年级{N}班": "三年级二班",
    "{G}年级{n}班": "三年级2班",
    "{g}年级{n}班": "3年级2班",
    "{g}({n})班": "3(2)班",
    "{g}{n:02d}": "302",
    "{g}-{n}": "3-2",
}
DEFAULT_STYLE = "{g}-{n}"
MAX_GRADE = 12
_DIGITS = "零一二三四五六七八九"
_NUMBER = r"(\d{1,2}|[一二三四五六七八九十]{1,3})"
# Grade with 年级 (or the English word), then the class number: brackets and 班 optional.
_FULL = re.compile(rf"^(?:grade)?{_NUMBER}(年级|年級)?\(?{_NUMBER}\)?(?:班|class)?$")
_DASH = re.compile(r"^(\d{1,2})[-./](\d{1,2})(?:班)?$")
_COMPACT = re.compile(r"^(\d)(\d{2})$|^(1[0-2])(\d{2})$")
_GRADE = re.compile(rf"^(?:grade)?{_NUMBER}(年级|年級)?$")
_CLASS_ONLY = re.compile(rf"^\(?{_NUMBER}\)?班?$")
_ENGLISH = re.compile(r"^grade(\d{1,2})class(\d{1,2})$")


class NotAClass(ValueError):
    """A grade or class written in a way that contradicts itself (grade 3, class 四年级一班)."""


@dataclass(frozen=True)
class SchoolClass:
    """A grade and, where written, the class within it; *style* is the form it was written in
    (a key of STYLES, or "" when it cannot be told)."""

    grade: int
    number: int | None = None
    style: str = ""

    @property
    def key(self) -> str:
        return f"{self.grade}-{self.number}" if self.number is not None else f"{self.grade}"

    def shown(self, style: str = DEFAULT_STYLE) -> str:
        """The class in the school's *style*; a grade alone as "三年级" or "3年级"."""
        style = style if style in STYLES else DEFAULT_STYLE
        values = dict(
            g=self.grade,
            G=chinese_number(self.grade),
            n=self.number,
            N=chinese_number(self.number or 0),
        )
        if self.number is None:
            return ("{G}年级" if "{G}" in style else "{g}年级").format(**values)
        return style.format(**values)

    def next_year(self) -> SchoolClass:
        return SchoolClass(self.grade + 1, self.number, self.style)


def chinese_number(number: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十 (the class and grade numbers of a school)."""
    tens, units = divmod(number, 10)
    if tens == 0:
        return _DIGITS[units]
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[units] if units else "")


def _number(text: str) -> int:
    if text.isdigit():
        return int(text)
    tens, ten, units = text.rpartition("十")
    try:
        if not ten:
            (units,) = units  # one numeral: 一 to 九
            return _DIGITS.index(units)
        return (_DIGITS.index(tens) if tens else 1) * 10 + (_DIGITS.index(units) if units else 0)
    except ValueError as exc:
        raise NotAClass(f"{text!r} is not a number") from exc


def _plain(text: str) -> str:
    """Full-width digits and brackets as plain ones, no blanks, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def _grade_part(grade: str, word: str | None) -> str:
    if not word:
        return "{g}"
    return ("{g}" if grade.isdigit() else "{G}") + "年级"


def _class_part(written: str, number: str, bracket: bool, ban: bool) -> str:
    n = "{n}" if number.isdigit() else "{N}"
    if bracket:
        n = "（{n}）" if "（" in written else "({n})"
    return n + ("班" if ban else "")


def _style(template: str) -> str:
    return template if template in STYLES else ""


def parse_grade(text: str) -> int | None:
    """ "三年级", "3年级", "3", "Grade 3" → 3; None for an empty cell."""
    plain = _plain(text)
    if not plain:
        return None
    found = _GRADE.match(plain)
    if found is None:
        raise NotAClass(f"{text!r} is not a grade (write 三年级 or 3)")
    grade = _number(found.group(1))
    if not 1 <= grade <= MAX_GRADE:
        raise NotAClass(f"{text!r} is not a grade from 1 to {MAX_GRADE}")
    return grade


def parse_class(text: str, grade: str | int | None = None) -> SchoolClass | None:
    """The class written as *text* (with the grade column's *grade* where the class column
    names only the class, "2班"); None for a class name in none of the known forms.

    Raises NotAClass where the grade and the class contradict each other.
    """
    given = grade if isinstance(grade, int) or grade is None else parse_grade(grade)
    plain = _plain(text)
    if not plain:
        return SchoolClass(given) if given is not None else None
    found = _read(text, plain, given)
    if found is None:
        return None
    if not 1 <= found.grade <= MAX_GRADE or found.number == 0:
        raise NotAClass(f"{text!r} is not a class of grades 1 to {MAX_GRADE}")
    if given is not None and found.grade != given:
        raise NotAClass(f"class {text.strip()} is not in grade {given}")
    return found


def _read(written: str, plain: str, given: int | None) -> SchoolClass | None:
    if found := _ENGLISH.match(plain):
        return SchoolClass(int(found.group(1)), int(found.group(2)), "{g}-{n}")
    if found := _DASH.match(plain):
        return SchoolClass(int(found.group(1)), int(found.group(2)), "{g}-{n}")
    if found := _COMPACT.match(plain):
        grade, number = (found.group(1), found.group(2)) if found.group(1) else found.group(3, 4)
        return SchoolClass(int(grade), int(number), "{g}{n:02d}")
    if given is not None and (found := _CLASS_ONLY.match(plain)):
        # "2班" under a grade column of "三年级": which form the school uses is not told.
        return SchoolClass(given, _number(found.group(1)), "")
    if (found := _FULL.match(plain)) and (found.group(2) or "(" in plain or plain.endswith("班")):
        grade, word, number = found.groups()
        template = _grade_part(grade, word) + _class_part(
            written, number, "(" in plain, plain.endswith("班")
        )
        return SchoolClass(_number(grade), _number(number), _style(template))
    if (found := _GRADE.match(plain)) and found.group(2):
        return SchoolClass(_number(found.group(1)), None, "")
    return None
