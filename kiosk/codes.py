"""What a scanned code looks like, before anything is looked up."""

from __future__ import annotations

import string
import unicodedata

MAX_CODE_LENGTH = 64
# A shelf's label (for the stocktake): SHELF-A3 for a shelf whose name is capitals, digits,
# dots and dashes; otherwise SHELF+ and the name's UTF-8 in hexadecimal (Code 128 carries no
# Chinese), so a label names its shelf by itself and stays right from one stocktake to the next.
SHELF_PLAIN, SHELF_HEX = "SHELF-", "SHELF+"
_PLAIN_SHELF = frozenset(string.ascii_uppercase + string.digits + ".-")
# Only ASCII letters: what scanners and keyboards send, and capitals never change their length.
_CAPITALS = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


class GarbledCode(ValueError):
    """A scan that cannot be a code at all; ``reason`` says which way it is broken."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def clean(raw: str) -> str:
    """The code as the library keeps it: without surrounding blanks, its letters in capitals
    (a card typed or scanned as ``s0001`` is card ``S0001``); raise GarbledCode if it cannot
    be a code. Scans, touches and imports all go through here, so codes match whatever the case."""
    code = code_key(raw.strip())
    if not code:
        raise GarbledCode("empty")
    if len(code) > MAX_CODE_LENGTH:
        raise GarbledCode("too_long")
    if has_control_characters(code):
        raise GarbledCode("control_characters")
    return code


def has_control_characters(text: str) -> bool:
    """True if *text* holds a character nobody types or reads (NUL, line break, format mark)."""
    if text.isprintable():  # the usual case, at C speed; it also turns down wide spaces
        return False
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text)


def code_key(code: str) -> str:
    """What two codes are compared by: ``c001`` and ``C001`` are one code, never two."""
    return code.translate(_CAPITALS)


def ean13_check_digit(first12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def is_isbn13(code: str) -> bool:
    """An EAN-13 of a book (prefix 978 or 979) with a correct check digit."""
    if len(code) != 13 or not code.isascii() or not code.isdigit():
        return False
    return code.startswith(("978", "979")) and ean13_check_digit(code[:12]) == code[12]


def normalise_isbn(text: str) -> str | None:
    """An ISBN-13 from how librarians write it ("978-7-5324-…", ISBN-10), or None if invalid."""
    digits = "".join(ch for ch in text.upper() if ch.isdigit() or ch == "X")
    if len(digits) == 10:
        body = digits[:9]
        if not body.isdigit():
            return None
        check10 = sum((10 - i) * int(d) for i, d in enumerate(body)) % 11
        expected = "X" if (11 - check10) % 11 == 10 else str((11 - check10) % 11)
        if digits[9] != expected:
            return None
        digits = "978" + body + ean13_check_digit("978" + body)
    return digits if is_isbn13(digits) else None


def shelf_label(shelf: str) -> str:
    """The code printed on the label of *shelf* (see SHELF_PLAIN); ValueError if too long."""
    if shelf and set(shelf) <= _PLAIN_SHELF:
        code = SHELF_PLAIN + shelf
    else:
        code = SHELF_HEX + shelf.encode("utf-8").hex().upper()
    if not shelf.strip() or len(code) > MAX_CODE_LENGTH:
        raise ValueError(
            f"the shelf name {shelf!r} is too long for a label: at most 58 capitals, digits, "
            "dots and dashes, or 9 Chinese characters"
        )
    return code


def shelf_of_label(code: str) -> str | None:
    """The shelf a scanned (cleaned) code is the label of, or None if it is no shelf label."""
    if code.startswith(SHELF_PLAIN) and len(code) > len(SHELF_PLAIN):
        return code[len(SHELF_PLAIN) :]
    if code.startswith(SHELF_HEX):
        try:
            return bytes.fromhex(code[len(SHELF_HEX) :]).decode("utf-8") or None
        except ValueError:  # not hexadecimal, or not UTF-8
            return None
    return None
