"""Finding a student by the first letters of their name's pinyin, as the helpers' kiosk page and
the librarian's students page both do (kiosk.pinyin)."""

from __future__ import annotations

from kiosk import pinyin


def test_first_letters_or_spelled_out_pinyin_or_characters_find_a_name() -> None:
    assert pinyin.initials("王子涵") == "wzh"
    assert pinyin.matches("王子涵", "wzh") and pinyin.matches("王子涵", "WZ")
    assert pinyin.matches("王子涵", "wangzi") and pinyin.matches("王子涵", "子涵")
    assert not pinyin.matches("王子涵", "lzh") and not pinyin.matches("李子涵", "wzh")


def test_a_surname_is_read_as_a_surname() -> None:
    assert pinyin.initials("曾小明") == "zxm"  # not "cxm" (曾 céng)
    assert pinyin.syllables("单田芳")[0] == "shan"


def test_class_lists_sort_by_pinyin() -> None:
    names = ["赵六", "安娜", "王五", "李四"]
    assert sorted(names, key=pinyin.sort_key) == ["安娜", "李四", "王五", "赵六"]
