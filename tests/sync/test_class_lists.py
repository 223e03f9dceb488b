"""Class lists as schools have them, through `library-server import-students`: the registry's
Excel with a title row, a sheet per class with merged cells, classes written four ways,
columns the librarian maps once, GB18030 CSV; new students get card numbers never given
before; next term's list moves, adds and misses students and says so before saving."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from sync.server.db import database_url
from sync.server.models import Change, Patron
from tests import class_lists
from tests.sync.support import Office

YEAR = dt.date.today().year


@pytest.fixture
def office(tmp_path: Path) -> Office:
    data = tmp_path / "office"
    data.mkdir()
    return Office(data, database_url(data, None))


def students(office: Office) -> dict[str, Patron]:
    database = office.database()
    with database.read() as session:
        found = {p.name: p for p in session.scalars(select(Patron))}
    database.close()
    return found


def test_the_registrys_workbook_gets_cards_and_keeps_its_class_names(
    office: Office, tmp_path: Path
) -> None:
    workbook = class_lists.registry(tmp_path / "学生名单.xlsx")
    out = office.ok("import-students", str(workbook))
    assert "students: 8 added, 0 updated, 0 unchanged" in out
    assert f"new 张子涵 (三年级(1)班): card S{YEAR}0001 (new card)" in out
    found = students(office)
    assert sorted(p.card for p in found.values()) == [f"S{YEAR}{n:04d}" for n in range(1, 9)]
    zhang = found["张子涵"]
    assert (zhang.class_name, zhang.grade, zhang.student_number) == ("三年级(1)班", 3, "G2017001")
    assert zhang.birth_date == dt.date(2017, 3, 1)
    assert {p.class_name for p in found.values()} == {"三年级(1)班", "三年级(2)班"}
    database = office.database()
    with database.read() as session:  # the kiosks get the new students, not their registry data
        change = session.scalar(select(Change).where(Change.key == zhang.card))
    database.close()
    assert change is not None and change.data["name"] == "张子涵"
    assert "student_number" not in change.data and "birth_date" not in change.data


def test_next_terms_list_moves_adds_and_misses_students(office: Office, tmp_path: Path) -> None:
    office.ok("import-students", str(class_lists.registry(tmp_path / "autumn.xlsx")))
    before = students(office)
    spring = class_lists.next_term(tmp_path / "spring.xlsx")

    shown = office.ok("import-students", str(spring), "--dry-run")
    assert "dry run: nothing saved" in shown
    assert students(office)["李思琪"].class_name == "三年级(1)班"
    for name, old, new in [
        ("李思琪", "(1)", "(2)"),
        ("刘一鸣", "(2)", "(1)"),
        ("赵欣怡", "(2)", "(1)"),
    ]:
        card = before[name].card
        assert f"moved {name} ({card}): 三年级{old}班 → 三年级{new}班" in shown
    assert f"new 吴梓萱 (三年级(1)班): card S{YEAR}0009 (new card)" in shown
    assert f"new 郑博文 (三年级(2)班): card S{YEAR}0010 (new card)" in shown
    assert f"missing from the file: 周俊杰 ({before['周俊杰'].card}), 三年级(2)班" in shown

    out = office.ok("import-students", str(spring), "--deactivate-missing")
    assert "students: 2 added, 3 updated, 4 unchanged" in out and "1 deactivated" in out
    after = students(office)
    assert (
        after["李思琪"].class_name == "三年级(2)班"
        and after["李思琪"].card == before["李思琪"].card
    )
    assert after["刘一鸣"].class_name == after["赵欣怡"].class_name == "三年级(1)班"
    assert not after["周俊杰"].active
    assert len(after) == 10 and all(p.active for n, p in after.items() if n != "周俊杰")


def test_a_card_number_is_never_given_twice(office: Office, tmp_path: Path) -> None:
    office.ok("import-students", str(class_lists.registry(tmp_path / "a.xlsx")))
    database = office.database()
    with database.write() as session:  # even a student's row gone for good frees no number
        session.execute(delete(Patron).where(Patron.card == f"S{YEAR}0008"))
    database.close()
    out = office.ok("import-students", str(class_lists.registry(tmp_path / "a.xlsx")))
    assert f"new 周俊杰 (三年级(2)班): card S{YEAR}0009 (new card)" in out


def test_a_sheet_per_class_with_merged_cells(office: Office, tmp_path: Path) -> None:
    workbook = class_lists.sheet_per_class(tmp_path / "四年级.xlsx")
    out = office.ok("import-students", str(workbook), "--class-style", "三年级(2)班")
    assert "sheet 说明: no table in it, not read" in out
    assert "students: 6 added" in out
    found = students(office)
    classes = {name: p.class_name for name, p in found.items()}
    assert classes == {
        "马小跳": "四年级(1)班", "唐飞": "四年级(1)班", "毛超": "四年级(1)班",
        "安琪儿": "四年级(2)班", "夏林果": "四年级(2)班", "路曼曼": "四年级(2)班",
    }  # fmt: skip
    assert {p.grade for p in found.values()} == {4}


def test_one_class_written_four_ways_is_one_class(office: Office, tmp_path: Path) -> None:
    out = office.ok("import-students", str(class_lists.four_ways(tmp_path / "五年级.xlsx")))
    assert "students: 4 added" in out
    assert len({p.class_name for p in students(office).values()}) == 1
    office.ok("import-students", str(class_lists.four_ways(tmp_path / "五年级.xlsx")),
              "--class-style", "302")  # fmt: skip
    assert {p.class_name for p in students(office).values()} == {"503"}


def test_columns_mapped_once_are_remembered(office: Office, tmp_path: Path) -> None:
    workbook = class_lists.own_headers(tmp_path / "名单.xlsx")
    code, _out, err = office.command("import-students", str(workbook))
    assert code == 1 and "no column holds the name" in err
    mapped = ["--map", "学生=name", "--map", "编号=student_number", "--map", "所在班=class_name"]
    office.ok("import-students", str(workbook), *mapped)
    assert students(office)["林小宇"].student_number == "K01"
    # Next time, a file with the same columns needs no flags.
    again = office.ok("import-students", str(class_lists.own_headers(tmp_path / "b.xlsx")))
    assert "0 added, 0 updated, 2 unchanged" in again


def test_an_xlsx_with_a_bad_row_saves_nothing(office: Office, tmp_path: Path) -> None:
    office.ok("import-students", str(class_lists.own_headers(tmp_path / "a.xlsx")), "--map",
              "学生=name", "--dry-run")  # fmt: skip
    bad = class_lists.own_headers(tmp_path / "bad.xlsx", bad_row=True)
    code, _out, err = office.command("import-students", str(bad), "--map", "学生=name")
    assert code == 1
    assert "sheet Sheet row 4: name: String should have at least 1 character" in err
    assert "nothing was imported" in err
    assert students(office) == {}


def test_a_gb18030_csv_from_excel_on_a_chinese_pc(office: Office, tmp_path: Path) -> None:
    text = "学籍号,姓名,性别,出生日期,班级\r\nG1,欧阳娜娜,女,2016/9/1,三年级二班\r\n"
    (tmp_path / "名单.csv").write_bytes(text.encode("gb18030"))
    out = office.ok("import-students", str(tmp_path / "名单.csv"))
    assert "read as GB18030" in out and "1 added" in out
    student = students(office)["欧阳娜娜"]
    assert (student.class_name, student.grade, student.birth_date) == (
        "三年级二班", 3, dt.date(2016, 9, 1),
    )  # fmt: skip
