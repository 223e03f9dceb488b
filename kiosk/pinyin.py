"""Names in pinyin: the order a Chinese class list is read in, and search by first letters.

pypinyin's dictionary of single characters is enough for names; its dictionary of phrases
(about 45 MB more in memory, on a kiosk with 1 GB) is not loaded. The first character of a
name is read as a surname, which some characters are read differently as (曾 zēng, 单 shàn).
"""

from __future__ import annotations

import os
from functools import lru_cache

# Before pypinyin is imported: it loads its phrases at import unless told not to.
os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")

from pypinyin import lazy_pinyin  # after the setting above

# Surnames read otherwise than the character's most common reading.
SURNAMES = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "仇": "qiu",
    "区": "ou",
    "查": "zha",
    "朴": "piao",
    "乐": "yue",
    "覃": "qin",
    "缪": "miao",
    "翟": "zhai",
    "盖": "ge",
    "召": "shao",
    "种": "chong",
    "员": "yun",
    "折": "she",
    "阚": "kan",
    "隗": "wei",
    "卜": "bu",
    "薄": "bo",
    "秘": "bi",
    "繁": "po",
    "句": "gou",
    "都": "du",
    "藏": "zang",
    "洗": "xian",
    "黑": "he",
    "便": "pian",
}


@lru_cache(maxsize=4096)
def syllables(name: str) -> tuple[str, ...]:
    """The name in pinyin without tones, one syllable per character ("lv" for 吕); letters
    and digits in the name stay as they are, in lower case."""
    name = name.strip()
    if not name:
        return ()
    head = SURNAMES.get(name[0])
    rest = lazy_pinyin(name[1:] if head else name, errors="default")
    return tuple(part.lower() for part in ([head] if head else []) + rest if part.strip())


def initials(name: str) -> str:
    """The first letter of each syllable: "wzh" for 王子涵."""
    return "".join(part[0] for part in syllables(name))


def sort_key(name: str) -> tuple[str, ...]:
    """Names in the order of a class list: by pinyin, syllable by syllable."""
    return syllables(name)


def matches(name: str, query: str) -> bool:
    """Does *name* answer *query*: the first letters of its pinyin ("wzh"), its pinyin
    spelled out from the start ("wangz"), or a few of its characters ("子涵")?"""
    query = query.strip().lower()
    if not query:
        return True
    if query.isascii() and query.isalpha():
        return initials(name).startswith(query) or "".join(syllables(name)).startswith(query)
    return query in name.lower()
