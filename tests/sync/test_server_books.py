"""The librarian's books at the office (services.books): new copies' barcodes are never given
twice, a book typed at the desk is checked like a row of a book list, copies are found by what
the librarian remembers of them, and every change reaches the kiosks' change log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from sync.server.db import Database
from sync.server.models import Change, Copy, Patron
from sync.server.services import NotFound, books, catalogue, stocktakes
from sync.server.services.books import BookRefused


def add(database: Database, copies: int = 1, **typed: str) -> list[str]:
    with database.write() as session:
        _info, barcodes = books.add_book(
            session, **({"isbn": "", "title": "小王子"} | typed), copies=copies
        )
    return barcodes


def test_a_barcode_is_never_given_twice(database: Database) -> None:
    first = add(database, 3)
    assert first == ["B000001", "B000002", "B000003"]
    with database.write() as session:  # a copy thrown away and its row removed
        session.execute(delete(Copy).where(Copy.barcode == "B000003"))
    assert add(database) == ["B000004"]
    with database.write() as session:
        books.set_barcode_prefix(session, "lib")
    assert add(database, 2) == ["LIB000005", "LIB000006"]


def test_new_barcodes_step_over_codes_already_in_use(database: Database, tmp_path: Path):
    """A card or an imported copy may already carry the next code: it is skipped, whatever
    the letter case it was typed in."""
    with database.write() as session:
        session.add(Patron(card="B000001", name="巧合", class_name="3-1"))
        books.set_barcode_prefix(session, "B")
    (tmp_path / "b.csv").write_text("barcode,title\nb000002,Old\n")
    with database.write() as session:
        catalogue.import_books(session, tmp_path / "b.csv")
    assert add(database, 2) == ["B000003", "B000004"]


def test_a_book_at_the_desk_is_checked_before_anything_is_saved(database: Database) -> None:
    with database.read() as session:
        before = session.scalar(select(Change.version).order_by(Change.version.desc()).limit(1))
    refusals = [
        (dict(title="  "), "A book needs its title."),
        (dict(isbn="9787532439587"), "9787532439587 is not a valid ISBN: check its digits."),
        (dict(year="twenty"), "The year is the year it was published, like 2015."),
        (dict(shelf="3-A\n4-B"), "The shelf is too long or holds a character that cannot be shown"),
    ]
    for typed, message in refusals:
        with pytest.raises(BookRefused) as refused:
            add(database, **typed)
        assert str(refused.value).startswith(message)
    with pytest.raises(BookRefused, match="Between 1 and 200 copies"):
        add(database, 2000)
    with database.read() as session:
        after = session.scalar(select(Change.version).order_by(Change.version.desc()).limit(1))
        assert books.barcode_scheme(session).next_number == 1
    assert after == before


def test_a_known_isbn_gets_more_copies_not_another_title(database: Database) -> None:
    with database.read() as session:
        known = books.title_by_isbn(session, "978-7-02-000220-7")
    assert known is not None and known.title == "红楼梦" and len(known.copies) == 2
    barcodes = add(database, 2, isbn="9787020002207", title="红楼梦", author="曹雪芹")
    with database.read() as session:
        again = books.title_by_isbn(session, "9787020002207")
        logged = {
            (c.kind, c.key): c.data for c in session.scalars(select(Change))
        }  # what kiosks pull next
    assert again is not None and again.id == known.id and len(again.copies) == 4
    assert again.author == "曹雪芹"
    assert logged[("title", str(known.id))]["author"] == "曹雪芹"
    new = [c for c in again.copies if c.barcode in barcodes]
    assert [logged[("copy", str(c.id))]["barcode"] for c in new] == barcodes
    assert all(c.added_on == dt.date.today() for c in new)


def test_find_copies_by_title_author_isbn_or_barcode(database: Database) -> None:
    add(database, 1, title="哈利·波特与魔法石", author="J.K.罗琳", isbn="9787020033430",
        classification="I561.84")  # fmt: skip
    with database.read() as session:
        by = {typed: [c.title for c in books.search(session, typed)] for typed in (
            "波特", "罗琳", "978-7-02-003343-0", "i561", "b000001", "100%", "nothing like it"
        )}  # fmt: skip
    assert by["波特"] == by["罗琳"] == by["978-7-02-003343-0"] == ["哈利·波特与魔法石"]
    assert by["i561"] == ["哈利·波特与魔法石"]
    assert by["b000001"] == ["哈利·波特与魔法石"]
    assert by["100%"] == [] and by["nothing like it"] == []


def test_marking_a_copy(database: Database) -> None:
    with database.read() as session:
        copy_id = session.scalar(select(Copy.id).where(Copy.barcode == "B004"))
    with database.write() as session:
        line = books.set_status(session, copy_id, "in_repair")
    assert line.status == "in_repair"
    with database.read() as session:
        change = session.scalar(
            select(Change).where(Change.kind == "copy", Change.key == str(copy_id))
        )
    assert change is not None and change.data["status"] == "in_repair"
    with pytest.raises(BookRefused), database.write() as session:
        books.set_status(session, copy_id, "on_loan")  # only a loan lends a copy
    with pytest.raises(NotFound), database.write() as session:
        books.set_status(session, 999_999, "lost")


def test_copies_known_by_their_isbn_only_are_on_the_shelves_their_rows_name(
    database: Database, tmp_path: Path
) -> None:
    """A book list's rows without a barcode give their copies the shelf they name, so that a
    stocktake of that shelf expects them; a list that moves them moves them (and tells the
    kiosks)."""
    listing = tmp_path / "shelved.csv"
    listing.write_text(
        "isbn,title,shelf\n9787532439584,草房子,3-A\n9787532439584,草房子,3-A\n", encoding="utf-8"
    )
    with database.write() as session:
        report = catalogue.import_books(session, listing)
    assert (report.added, report.updated, report.unchanged) == (2, 0, 0)
    with database.write() as session:
        assert [s for s, _n in stocktakes.all_shelves(session)] == ["3-A"]
        started = stocktakes.start(session, name="3-A", librarian="王老师", shelves=["3-a"])
        assert stocktakes.progress(session, started.id).counts.copies == 2
        stocktakes.close(session, started.id, not_seen="keep", librarian="王老师")
        before = session.scalar(select(Change.version).order_by(Change.version.desc()).limit(1))

    listing.write_text(
        "isbn,title,shelf\n9787532439584,草房子,3-A\n9787532439584,草房子,3-B\n", encoding="utf-8"
    )
    with database.write() as session:
        report = catalogue.import_books(session, listing)
        assert (report.added, report.updated, report.unchanged) == (0, 1, 1)
        shelves = session.scalars(
            select(Copy.shelf).where(Copy.barcode.is_(None), Copy.shelf != "").order_by(Copy.id)
        )
        assert list(shelves) == ["3-A", "3-B"]
        moved = session.scalars(select(Change.data).where(Change.version > before)).all()
        assert [(c["barcode"], c["shelf"]) for c in moved] == [(None, "3-B")]
