"""Class lists as school offices keep them, written as real .xlsx files with openpyxl: a title
row merged above the header, registry columns (学籍号, 性别, 出生日期), one sheet per class
with the class column merged down, classes written four ways, and next term's list."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

REGISTRY_HEADER = ["序号", "学籍号", "姓名", "性别", "出生日期", "年级", "班级"]
# (学籍号, 姓名, 性别, 出生日期, 班级 as the registry writes it)
FIRST_TERM = [
    ("G2017001", "张子涵", "男", dt.date(2017, 3, 1), "三年级(1)班"),
    ("G2017002", "李思琪", "女", dt.date(2017, 5, 12), "三年级(1)班"),
    ("G2017003", "王浩然", "男", dt.date(2017, 1, 30), "三年级(1)班"),
    ("G2017004", "陈雨桐", "女", dt.date(2017, 8, 8), "三年级(1)班"),
    ("G2017005", "刘一鸣", "男", dt.date(2017, 2, 14), "三年级(2)班"),
    ("G2017006", "赵欣怡", "女", dt.date(2017, 11, 3), "三年级(2)班"),
    ("G2017007", "孙嘉懿", "女", dt.date(2017, 6, 21), "三年级(2)班"),
    ("G2017008", "周俊杰", "男", dt.date(2017, 9, 9), "三年级(2)班"),
]
MOVED = {"G2017002": "三年级(2)班", "G2017005": "三年级(1)班", "G2017006": "三年级(1)班"}
NEW = [
    ("G2017009", "吴梓萱", "女", dt.date(2017, 4, 4), "三年级(1)班"),
    ("G2017010", "郑博文", "男", dt.date(2017, 7, 7), "三年级(2)班"),
]
GONE = "G2017008"  # moved to another school over the holidays
REGISTRY = "学生名单.xlsx"  # the names the files go by in the office's screenshots
OWN_HEADERS = "六年级名单.xlsx"


def _title(sheet: Worksheet, text: str, width: int) -> None:
    """A title across the table, in merged cells, and a blank row under it."""
    sheet.append([text])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet.append([])


def registry(path: Path, students: list[tuple] = FIRST_TERM) -> Path:
    """The registry's export: title, blank row, header on row 3, dates as Excel dates."""
    book = Workbook()
    sheet = book.active
    sheet.title = "学生名单"
    _title(sheet, "2026学年第一学期 学生名单", len(REGISTRY_HEADER))
    sheet.append(REGISTRY_HEADER)
    for n, (number, name, sex, born, class_name) in enumerate(students, start=1):
        sheet.append([n, number, name, sex, born, "三年级", class_name])
    book.save(path)
    return path


def next_term(path: Path) -> Path:
    """Next term's export: three students moved class, two new, one gone."""
    students = [
        (number, name, sex, born, MOVED.get(number, class_name))
        for number, name, sex, born, class_name in FIRST_TERM
        if number != GONE
    ]
    return registry(path, students + NEW)


def sheet_per_class(path: Path) -> Path:
    """A homeroom teachers' workbook: one sheet per class, named for it; no class column in
    the first, the class merged down the column in the second; an instructions sheet."""
    book = Workbook()
    notes = book.active
    notes.title = "说明"
    notes.append(["每个班一张工作表。"])
    first = book.create_sheet("四(1)班")
    _title(first, "四年级(1)班 名单", 3)
    first.append(["学号", "姓名", "性别"])
    for number, name in [("401", "马小跳"), ("402", "唐飞"), ("403", "毛超")]:
        first.append([number, name, "男"])
    second = book.create_sheet("四(2)班")
    second.append(["班级", "学号", "姓名"])
    for number, name in [("404", "安琪儿"), ("405", "夏林果"), ("406", "路曼曼")]:
        second.append(["四年级(2)班" if number == "404" else None, number, name])
    second.merge_cells("A2:A4")
    book.save(path)
    return path


def four_ways(path: Path) -> Path:
    """One class written four ways by four teachers, and a grade column."""
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "年级", "班级名称"])
    for name, written in [("甲一", "五年级(3)班"), ("乙二", "五年级三班"), ("丙三", "5年级3班"),
                          ("丁四", "503")]:  # fmt: skip
        sheet.append([name, "五年级", written])
    book.save(path)
    return path


def own_headers(path: Path, bad_row: bool = False) -> Path:
    """Columns under names no school office uses the same way: the librarian maps them."""
    book = Workbook()
    sheet = book.active
    sheet.append(["学生", "编号", "所在班"])
    sheet.append(["林小宇", "K01", "六年级(1)班"])
    sheet.append(["何小溪", "K02", "六年级(1)班"])
    if bad_row:
        sheet.append(["", "K03", "六年级(1)班"])
    book.save(path)
    return path
