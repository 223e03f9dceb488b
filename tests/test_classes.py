"""Grades and classes as schools write them, understood as one class and shown in the school's
own form (kiosk.classes)."""

from __future__ import annotations

import pytest

from kiosk.classes import NotAClass, SchoolClass, parse_class, parse_grade

PAREN = "{G}年级({n})班"


@pytest.mark.parametrize(
    ("written", "grade", "style"),
    [
        ("三年级(2)班", None, "{G}年级({n})班"),
        ("三年级（2）班", None, "{G}年级（{n}）班"),
        ("三年级二班", None, "{G}年级{N}班"),
        ("3年级2班", None, "{g}年级{n}班"),
        ("三年级2班", None, "{G}年级{n}班"),
        ("302", None, "{g}{n:02d}"),
        ("3-2", None, "{g}-{n}"),
        (" 3 - 2 ", None, "{g}-{n}"),
        ("３０２", None, "{g}{n:02d}"),  # typed with full-width digits
        ("Grade 3 Class 2", None, "{g}-{n}"),
        ("2班", "三年级", ""),  # the grade in a column of its own
        ("(2)班", "3", ""),
        ("2", "三年级", ""),
    ],
)
def test_every_form_of_a_class_is_the_same_class(written: str, grade: str, style: str) -> None:
    found = parse_class(written, grade)
    assert found == SchoolClass(3, 2, style)
    assert found.key == "3-2"
    assert found.shown(PAREN) == "三年级(2)班"
    assert found.shown("{g}{n:02d}") == "302"


def test_shown_in_the_form_it_was_written_in_and_a_year_later() -> None:
    for written in ["三年级(2)班", "三年级（2）班", "三年级二班", "3年级2班", "302", "3-2"]:
        found = parse_class(written)
        assert found is not None and found.shown(found.style) == written
    assert parse_class("三年级十一班").shown("{G}年级{N}班") == "三年级十一班"
    assert parse_class("三年级(2)班").next_year().shown(PAREN) == "四年级(2)班"
    assert parse_class("510").next_year().shown("{g}{n:02d}") == "610"


def test_grades_alone() -> None:
    assert [parse_grade(g) for g in ["三年级", "3年级", "3", "Grade 6", "六年級", ""]] == [
        3, 3, 3, 6, 6, None,
    ]  # fmt: skip
    assert parse_class("三年级") == SchoolClass(3)
    assert parse_class("三年级").shown(PAREN) == "三年级"
    assert parse_class("", "四年级") == SchoolClass(4)
    with pytest.raises(NotAClass, match="not a grade"):
        parse_grade("三班")
    with pytest.raises(NotAClass, match="from 1 to 12"):
        parse_grade("13")


def test_a_class_that_contradicts_its_grade_or_is_no_class() -> None:
    with pytest.raises(NotAClass, match="not in grade 3"):
        parse_class("四年级(1)班", "三年级")
    assert parse_class("兴趣班") is None  # kept as written, with no key
    assert parse_class("Teachers") is None
    with pytest.raises(NotAClass):
        parse_class("三年级(0)班")
