"""A bad row of an import, as the preview page says it in Chinese and in English."""

from __future__ import annotations

from sync.server.web.bad_rows import say
from sync.server.web.i18n import translations

CHINESE = translations("zh_CN").gettext


def english(message: str) -> str:
    return message


def test_the_importers_reasons_in_the_librarians_words() -> None:
    empty = "sheet 三(1)班 row 4: name: String should have at least 1 character"
    assert say(empty, CHINESE) == "工作表“三(1)班”第 4 行: 没有姓名"
    assert say(empty, english) == "sheet 三(1)班 row 4: no name"
    twice = "line 3: card C001 is also on line 2"
    assert say(twice, CHINESE) == "第 3 行: 借书证号 C001 与第 2 行重复"
    two = (
        "line 5: birth_date: '2016-13-01' is not a date (write 2016-05-04);"
        " class 四年级一班 is not in grade 3"
    )
    assert (
        say(two, CHINESE)
        == "第 5 行: 2016-13-01 不是日期（请写成 2016-05-04）; 班级 四年级一班 不属于 3 年级"
    )
    assert say("... and 3 more", CHINESE) == "……还有 3 行"


def test_a_reason_not_known_here_is_shown_as_the_importer_said_it() -> None:
    odd = "line 2: something new went wrong"
    assert say(odd, CHINESE) == "第 2 行: something new went wrong"
    assert say("a.csv: the file is empty", CHINESE) == "a.csv: the file is empty"


def test_a_book_lists_reasons_in_the_librarians_words() -> None:
    isbn = "sheet 新书 row 3: isbn: '9787532439587' is not a valid ISBN (check digit or length)"
    assert say(isbn, CHINESE) == "工作表“新书”第 3 行: 9787532439587 不是有效的ISBN"
    assert say(isbn, english) == "sheet 新书 row 3: 9787532439587 is not a valid ISBN"
    twice = "line 6: barcode C1 is also on line 2"
    assert say(twice, CHINESE) == "第 6 行: 条码 C1 与第 2 行重复"
    nothing = (
        "line 5: a book needs a barcode or an ISBN; title: String should have at least 1 character"
    )
    assert say(nothing, CHINESE) == "第 5 行: 一本书要有条码或ISBN; 没有书名"
