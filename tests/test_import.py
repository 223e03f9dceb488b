"""Importing students and books from CSV, as the librarian's spreadsheet exports them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from kiosk.cli import main as kiosk_main
from kiosk.cli import open_data
from kiosk.models import Copy, Patron, PatronKind, Title
from sync.server.cli import main as server_main
from sync.server.db import Database, database_url
from sync.server.models import Patron as OfficePatron
from tests.conftest import run_in_process

STUDENTS = """card,name,class,grade,kind
1001,张小明,3-1,3,
1002,李小红,3-1,3,student
2001,王老师,,,teacher
6001,陈晨,6-1,6,helper
"""

BOOKS = """barcode,isbn,title,author,publisher,year,classification,shelf
A0001,978-7-5324-3958-4,草房子,曹文轩,少年儿童出版社,2015,I287,3-A
A0002,9787532439584,草房子,曹文轩,少年儿童出版社,2015,I287,3-A
,9787020002207,红楼梦,曹雪芹,人民文学出版社,1996,I242,
,9787020002207,红楼梦,曹雪芹,人民文学出版社,1996,I242,
A0003,,Matilda,Roald Dahl,Puffin,2016,I561,7-B
"""


def kiosk_cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_in_process(kiosk_main, "--data", str(data), *args)


def counts(data: Path) -> tuple[int, int, int]:
    store, _ = open_data(data)
    with store.read() as db:
        result = tuple(
            db.scalar(select(func.count()).select_from(table)) for table in (Patron, Title, Copy)
        )
    store.close()
    return result  # type: ignore[return-value]


def test_import_students_and_books_then_again_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "students.csv").write_text(STUDENTS, encoding="utf-8")
    (tmp_path / "books.csv").write_text(BOOKS, encoding="utf-8")
    data = tmp_path / "kiosk"
    first = kiosk_cli(data, "import-students", str(tmp_path / "students.csv"))
    assert first.returncode == 0, first.stderr
    assert "4 added" in first.stdout
    books = kiosk_cli(data, "import-books", str(tmp_path / "books.csv"))
    assert books.returncode == 0, books.stderr
    assert counts(data) == (4, 3, 5)  # 草房子 twice, 红楼梦 twice without labels, Matilda

    again = kiosk_cli(data, "import-books", str(tmp_path / "books.csv"))
    assert "0 added, 0 updated, 5 unchanged" in again.stdout
    students_again = kiosk_cli(data, "import-students", str(tmp_path / "students.csv"))
    assert students_again.returncode == 0, students_again.stderr
    assert "0 added, 0 updated, 4 unchanged" in students_again.stdout
    assert counts(data) == (4, 3, 5)

    store, _ = open_data(data)
    with store.read() as db:
        teacher = db.scalar(select(Patron).where(Patron.card == "2001"))
        assert (teacher.kind, teacher.grade) == (PatronKind.TEACHER, None)
        grass = db.scalar(select(Title).where(Title.isbn == "9787532439584"))
        assert sorted(c.barcode for c in grass.copies) == ["A0001", "A0002"]
        red = db.scalar(select(Title).where(Title.isbn == "9787020002207"))
        assert [c.barcode for c in red.copies] == [None, None]
    store.close()


SHELVED_BY_ISBN = """isbn,title,shelf
9787020002207,红楼梦,5-C
9787020002207,红楼梦,5-C
9787020002207,红楼梦,儿童1
"""


def shelves_of_unlabelled(data: Path) -> list[str]:
    store, _ = open_data(data)
    with store.read() as db:
        found = list(db.scalars(select(Copy.shelf).where(Copy.barcode.is_(None)).order_by(Copy.id)))
    store.close()
    return found


def test_copies_known_by_their_isbn_only_are_on_the_shelves_their_rows_name(
    tmp_path: Path,
) -> None:
    """So that a stocktake expects them there, as it does a labelled copy."""
    listing, data = tmp_path / "books.csv", tmp_path / "kiosk"
    listing.write_text(SHELVED_BY_ISBN, encoding="utf-8")
    first = kiosk_cli(data, "import-books", str(listing))
    assert "3 added, 0 updated, 0 unchanged" in first.stdout, first.stderr
    assert shelves_of_unlabelled(data) == ["5-C", "5-C", "儿童1"]

    listing.write_text(SHELVED_BY_ISBN.replace("儿童1", "5-D"), encoding="utf-8")
    moved = kiosk_cli(data, "import-books", str(listing))
    assert "0 added, 1 updated, 2 unchanged" in moved.stdout, moved.stderr
    assert shelves_of_unlabelled(data) == ["5-C", "5-C", "5-D"]


def test_chinese_headers_and_byte_order_mark(tmp_path: Path) -> None:
    csv = "卡号,姓名,班级,年级,身份\n3001,赵一诺,4-2,4,学生\n3002,孙老师,,,教师\n"
    (tmp_path / "s.csv").write_bytes(b"\xef\xbb\xbf" + csv.encode("utf-8"))
    result = kiosk_cli(tmp_path / "k", "import-students", str(tmp_path / "s.csv"))
    assert result.returncode == 0, result.stderr
    store, _ = open_data(tmp_path / "k")
    with store.read() as db:
        rows = db.execute(select(Patron.card, Patron.class_name, Patron.kind)).all()
    store.close()
    assert sorted(rows) == [("3001", "4-2", "student"), ("3002", "", "teacher")]


BAD_BOOKS = """条码,ISBN,书名,作者
C1,9787532439584,草房子,曹文轩
C2,9787532439587,Bad check digit,Someone
C3,,,No title
,,Nothing to scan,Someone
C1,,Duplicate barcode,Someone
C6,,年份错,Someone
"""


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_text(BAD_BOOKS, encoding="utf-8")
    data = tmp_path / "k"
    result = kiosk_cli(data, "import-books", str(tmp_path / "b.csv"))
    assert result.returncode == 1
    err = result.stderr
    assert "line 3: isbn: '9787532439587' is not a valid ISBN" in err
    assert "line 4: title:" in err
    assert "line 5: a book needs a barcode or an ISBN" in err
    assert "line 6: barcode C1 is also on line 2" in err
    assert "nothing was imported" in err
    assert counts(data) == (0, 0, 0)

    skipped = kiosk_cli(data, "import-books", str(tmp_path / "b.csv"), "--skip-bad")
    assert skipped.returncode == 0
    assert "4 bad rows skipped" in skipped.stdout
    assert counts(data) == (0, 2, 2)  # C1 (草房子) and C6
    store, _ = open_data(data)
    with store.read() as db:
        assert db.scalar(select(Copy).where(Copy.barcode == "C1")).title.title == "草房子"
    store.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"name,class\nx,3-1\n", "missing column(s) card"),
        (b"card,name\n1,\x80\n", "neither UTF-8 nor GB18030 text on line 2"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "an old Excel file (.xls)"),
        (b"PK\x03\x04" + bytes(100), "not an Excel workbook that can be read"),
        (b"card,name,grade\n1,A,13\n2,B,three\n", "line 2: grade"),
        (b"card,name\n\x07beep,A\n", "card number is not scannable"),
        (b"card,name\nC1,Ann\x00e\n", "line 2: name: has a character that cannot be shown"),
        (b'card,name\nC1,Ann\nC2,"Ben\nBenson"\n', "lines 3-4 read as one row"),
        (b"card,name,class\nC1,Ann," + b"3" * 51 + b"\n", "line 2: class_name: String should"),
        (b"card,name,card\nC1,Ann,C2\n", "line 1: column 'card' is there twice"),
        ("card,name,卡号\nC1,Ann,C2\n".encode(), "columns 'card' and '卡号' are both the card"),
        (b"card,name\nc001,Ann\nC001,Ben\n", "line 3: card C001 is also on line 2"),
    ],
)
def test_unusable_student_files(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "s.csv").write_bytes(content)
    result = kiosk_cli(tmp_path / "k", "import-students", str(tmp_path / "s.csv"))
    assert result.returncode == 1
    assert message in result.stderr
    assert counts(tmp_path / "k") == (0, 0, 0)


def write_workbook(path: Path, rows: list[list[object]]) -> None:
    """An .xlsx as Excel saves it: numbers typed in cells are numbers, not text."""
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)


@pytest.mark.parametrize("command", ["kiosk_cli", "office_cli"])
def test_a_gb18030_csv_from_excel_on_a_chinese_pc(tmp_path: Path, command: str) -> None:
    """Excel on a Chinese Windows PC saves CSV as GB18030: it imports as UTF-8 does, rare
    characters of names (beyond GBK) included."""
    csv = "卡号,姓名,班级,年级\nG001,张小明,3-1,3\nG002,李㛃,3-2,3\nG003,欧阳𬌗,4-1,4\n"
    (tmp_path / "s.csv").write_bytes(csv.encode("gb18030"))
    data = tmp_path / "library"
    result = globals()[command](data, "import-students", str(tmp_path / "s.csv"))
    assert result.returncode == 0, result.stderr
    assert "students: 3 added" in result.stdout
    assert names_of(data, command) == {"G001": "张小明", "G002": "李㛃", "G003": "欧阳𬌗"}


@pytest.mark.parametrize("command", ["kiosk_cli", "office_cli"])
def test_an_excel_workbook_with_one_bad_row(tmp_path: Path, command: str) -> None:
    """An .xlsx class list: numbers typed as numbers are the same cards; a bad row is named
    by its row in Excel, and nothing is imported until it is fixed."""
    rows: list[list[object]] = [
        ["卡号", "姓名", "班级", "年级"],
        [30001, "王小丫", "3-1", 3],
        [30002, "", "3-1", 3],
        [30003.0, "刘备", "3-2", 3.0],
    ]
    write_workbook(tmp_path / "class.xlsx", rows)
    data = tmp_path / "library"
    run = globals()[command]
    bad = run(data, "import-students", str(tmp_path / "class.xlsx"))
    assert bad.returncode == 1
    assert "sheet Sheet row 3: name: String should have at least 1 character" in bad.stderr
    assert "nothing was imported" in bad.stderr
    assert names_of(data, command) == {}

    rows[2][1] = "赵云"
    write_workbook(tmp_path / "class.xlsx", rows)
    fixed = run(data, "import-students", str(tmp_path / "class.xlsx"))
    assert fixed.returncode == 0, fixed.stderr
    assert names_of(data, command) == {"30001": "王小丫", "30002": "赵云", "30003": "刘备"}

    books = [
        ["条码", "ISBN", "书名", "作者", "出版年"],
        ["X0001", 9787532439584, "草房子", "曹文轩", 2015],
    ]
    write_workbook(tmp_path / "books.xlsx", books)
    imported = run(data, "import-books", str(tmp_path / "books.xlsx"))
    assert imported.returncode == 0, imported.stderr
    assert "books: 1 added" in imported.stdout


def names_of(data: Path, command: str) -> dict[str, str]:
    """Each card and its name, in the kiosk's or the office's database."""
    if command == "kiosk_cli":
        if not (data / "kiosk.db").exists():
            return {}
        store, _ = open_data(data)
        with store.read() as db:
            rows = dict(db.execute(select(Patron.card, Patron.name)).all())
        store.close()
        return rows
    database = Database.open(database_url(data, None))
    with database.read() as session:
        rows = dict(session.execute(select(OfficePatron.card, OfficePatron.name)).all())
    database.close()
    return rows


def test_a_csv_saved_by_excel_on_a_chinese_pc(tmp_path: Path) -> None:
    """Excel on a Chinese Windows PC saves CSV in GB18030 (GBK): read as it is, and said so."""
    text = "卡号,姓名,班级,年级\nS1,张小明,三年级(1)班,三年级\n"
    (tmp_path / "s.csv").write_bytes(text.encode("gbk"))
    result = kiosk_cli(tmp_path / "k", "import-students", str(tmp_path / "s.csv"))
    assert result.returncode == 0, result.stderr
    assert "read as GB18030" in result.stdout and "1 added" in result.stdout
    store, _ = open_data(tmp_path / "k")
    with store.read() as db:
        student = db.scalar(select(Patron))
        assert (student.name, student.class_name, student.grade) == ("张小明", "三年级(1)班", 3)
    store.close()


def test_missing_file(tmp_path: Path) -> None:
    result = kiosk_cli(tmp_path / "k", "import-books", str(tmp_path / "nope.csv"))
    assert result.returncode == 1
    assert "No such file" in result.stderr


def test_codes_in_lower_case_are_the_same_codes(tmp_path: Path) -> None:
    """A list typed with lower-case letters and a scanner sending capitals mean the same cards."""
    (tmp_path / "lower.csv").write_text("card,name,class,grade\ns9001,Li Hua,5-2,5\n")
    (tmp_path / "upper.csv").write_text("card,name,class,grade\nS9001,Li Hua,5-2,5\n")
    data = tmp_path / "kiosk"
    assert kiosk_cli(data, "import-students", str(tmp_path / "lower.csv")).returncode == 0
    again = kiosk_cli(data, "import-students", str(tmp_path / "upper.csv"))
    assert "0 added, 0 updated, 1 unchanged" in again.stdout
    store, _ = open_data(data)
    with store.read() as db:
        assert db.scalar(select(Patron.card)) == "S9001"
    store.close()


def test_a_stray_quote_loses_no_student(tmp_path: Path) -> None:
    """One unclosed quote must not swallow the rest of a class list into one student's class."""
    rows = [f"Z{n},Student {n},3-1,3" for n in range(1, 51)]
    rows[4] = 'Z5,Student 5,"3-1,3'
    (tmp_path / "s.csv").write_text("card,name,class,grade\n" + "\n".join(rows) + "\n")
    result = kiosk_cli(tmp_path / "k", "import-students", str(tmp_path / "s.csv"))
    assert result.returncode == 1
    assert 'lines 6-51 read as one row: a quote (") opened on line 6 is not closed' in result.stderr
    assert counts(tmp_path / "k") == (0, 0, 0)

    rows[4] = "Z5,Student 5,3-1,3"
    (tmp_path / "s.csv").write_text("card,name,class,grade\n" + "\n".join(rows) + "\n")
    fixed = kiosk_cli(tmp_path / "k", "import-students", str(tmp_path / "s.csv"))
    assert fixed.returncode == 0, fixed.stderr
    assert "50 added" in fixed.stdout
    assert counts(tmp_path / "k") == (50, 0, 0)


def office_cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_in_process(server_main, "--data", str(data), *args)


@pytest.mark.parametrize("command", [kiosk_cli, office_cli], ids=["kiosk", "office"])
def test_a_card_and_a_book_never_share_a_code(tmp_path: Path, command) -> None:
    """A book whose barcode is a card number could never be lent: scanning it opens the
    student's session. Letter case does not make two codes: scanners differ in it."""
    data = tmp_path / "library"
    (tmp_path / "books.csv").write_text("barcode,title\nB001,Matilda\nB002,Holes\n")
    assert command(data, "import-books", str(tmp_path / "books.csv")).returncode == 0
    (tmp_path / "students.csv").write_text("card,name\nb001,Ann\nS1,Ben\n")
    clash = command(data, "import-students", str(tmp_path / "students.csv"))
    assert clash.returncode == 1
    assert "line 2: card B001 is already the barcode of a book" in clash.stderr
    assert "nothing was imported" in clash.stderr

    (tmp_path / "students.csv").write_text("card,name\nS1,Ben\n")
    assert command(data, "import-students", str(tmp_path / "students.csv")).returncode == 0
    (tmp_path / "more.csv").write_text("barcode,title\nB003,Wonder\ns1,Smile\nb002,Holes\n")
    more = command(data, "import-books", str(tmp_path / "more.csv"), "--skip-bad")
    assert more.returncode == 0, more.stderr
    assert "line 3: barcode S1 is already a library card" in more.stderr
    assert "books: 1 added, 0 updated, 1 unchanged, 1 bad rows skipped" in more.stdout


@pytest.mark.parametrize("command", [kiosk_cli, office_cli], ids=["kiosk", "office"])
def test_a_card_that_changes_name_is_reported(tmp_path: Path, command) -> None:
    """Re-importing a card under another name moves its loans to that name: say so."""
    data = tmp_path / "library"
    (tmp_path / "s.csv").write_text("card,name,class\nS1,张小明,3-1\nS2,李小红,3-1\n")
    assert command(data, "import-students", str(tmp_path / "s.csv")).returncode == 0
    (tmp_path / "s.csv").write_text("card,name,class\nS1,张小明,4-1\nS2,王刚,3-1\n")
    again = command(data, "import-students", str(tmp_path / "s.csv"))
    assert again.returncode == 0, again.stderr
    assert "2 updated, 0 unchanged, 1 renamed (check each is the same person)" in again.stdout
    assert "renamed card S2: 李小红 → 王刚" in again.stdout
    if command is kiosk_cli:
        assert "S1" not in again.stdout  # a new class is no news at the kiosk
    else:  # the office lists who moved class
        assert "moved 张小明 (S1): 3-1 → 4-1" in again.stdout


def class_list(path: Path, rows: int) -> None:
    lines = (f"P{n:07d},学生{n},{3 + n % 4}-{1 + n % 8},{3 + n % 4}\n" for n in range(rows))
    with path.open("w", encoding="utf-8") as f:
        f.write("card,name,class,grade\n")
        f.writelines(lines)


def test_a_long_class_list_shows_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class_list(tmp_path / "school.csv", 40_000)  # over a megabyte
    assert (
        kiosk_main(["--data", str(tmp_path / "k"), "import-students", str(tmp_path / "school.csv")])
        == 0
    )
    captured = capsys.readouterr()
    assert "students: 40000 added" in captured.out
    assert "checking: 100%" in captured.err and "importing: 100%" in captured.err
    assert "40000/40000" in captured.err


def peak_megabytes(data: Path, csv_path: Path) -> float:
    """The most memory one `kiosk import-students` held, in a process of its own."""
    command = [sys.executable, "-m", "kiosk.cli", "--data", str(data), "import-students"]
    process = subprocess.Popen([*command, str(csv_path)], stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0
    return usage.ru_maxrss / 1024


@pytest.mark.slow
def test_a_huge_class_list_imports_in_bounded_memory(tmp_path: Path) -> None:
    """A district's list of 300,000 students takes no more memory than a school's 3,000 (a
    kiosk has 1 GB; a whole file held in memory took 1.1 GB for a million rows)."""
    class_list(tmp_path / "school.csv", 3_000)
    class_list(tmp_path / "district.csv", 300_000)
    school = peak_megabytes(tmp_path / "school", tmp_path / "school.csv")
    district = peak_megabytes(tmp_path / "district", tmp_path / "district.csv")
    assert district < school + 30, (school, district)
    assert counts(tmp_path / "district")[0] == 300_000
    again = peak_megabytes(tmp_path / "district", tmp_path / "district.csv")
    assert again < school + 30, (school, again)
