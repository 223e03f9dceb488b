"""What a scanned code can be, before it is looked up."""

from __future__ import annotations

import pytest

from kiosk.codes import GarbledCode, clean, is_isbn13, normalise_isbn


@pytest.mark.parametrize(
    ("code", "isbn"),
    [
        ("9787020002207", True),
        ("9787020002208", False),  # wrong check digit
        ("9771234567003", False),  # an EAN-13, but a magazine's (977), not a book's
        ("978702000220", False),  # 12 digits
        ("97870200022O7", False),  # a letter O among the digits
        ("９７８７０２０００２２０７", False),  # full-width digits are not what a scanner sends
    ],
)
def test_isbn13(code: str, isbn: bool) -> None:
    assert is_isbn13(code) is isbn


def test_isbn_as_librarians_write_it() -> None:
    assert normalise_isbn("978-7-02-000220-7") == "9787020002207"
    assert normalise_isbn("ISBN 0-306-40615-2") == "9780306406157"  # an ISBN-10
    assert normalise_isbn("0-306-40615-3") is None
    assert normalise_isbn("12345") is None


def test_clean_strips_blanks_and_refuses_junk() -> None:
    assert clean("  B001\r") == "B001"
    assert clean("s0001") == "S0001"  # codes are kept in capitals: any case finds them
    assert clean("借书证-ä1") == "借书证-ä1"  # only ASCII letters change
    with pytest.raises(GarbledCode) as info:
        clean("B\x00001")
    assert info.value.reason == "control_characters"
