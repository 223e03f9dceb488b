"""A demo library to try the kiosk with: books, three classes, helpers, open all day."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.codes import ean13_check_digit
from kiosk.config import DEFAULT_TOML, FILE_NAME
from kiosk.models import Copy, Patron, PatronKind, Title
from kiosk.pins import hash_pin

HELPER_CARD, HELPER_PIN = "H0001", "1234"
LIBRARIAN_CARD, LIBRARIAN_PIN = "L0001", "0000"

CHINESE_TITLES = [
    ("小王子", "圣埃克苏佩里"),
    ("夏洛的网", "E.B.怀特"),
    ("草房子", "曹文轩"),
    ("青铜葵花", "曹文轩"),
    ("窗边的小豆豆", "黑柳彻子"),
    ("稻草人", "叶圣陶"),
    ("城南旧事", "林海音"),
    ("小橘灯", "冰心"),
    ("寄小读者", "冰心"),
    ("西游记（青少版）", "吴承恩"),
    ("三国演义（青少版）", "罗贯中"),
    ("水浒传（青少版）", "施耐庵"),
    ("安徒生童话", "安徒生"),
    ("格林童话", "格林兄弟"),
    ("伊索寓言", "伊索"),
    ("没头脑和不高兴", "任溶溶"),
    ("小猪唏哩呼噜", "孙幼军"),
    ("大头儿子和小头爸爸", "郑春华"),
    ("舒克和贝塔", "郑渊洁"),
    ("皮皮鲁传", "郑渊洁"),
    ("昆虫记", "法布尔"),
    ("十万个为什么", "少年儿童出版社"),
    ("中国神话故事", "袁珂"),
    ("山海经图说", "佚名"),
    ("宝葫芦的秘密", "张天翼"),
    ("小兵张嘎", "徐光耀"),
    ("鲁滨逊漂流记", "笛福"),
    ("爱的教育", "亚米契斯"),
    ("木偶奇遇记", "科洛迪"),
    ("绿野仙踪", "鲍姆"),
    ("柳林风声", "格雷厄姆"),
    ("长袜子皮皮", "林格伦"),
    ("淘气包埃米尔", "林格伦"),
    ("汤姆·索亚历险记", "马克·吐温"),
    ("海底两万里", "凡尔纳"),
    ("骆驼祥子", "老舍"),
    ("朝花夕拾", "鲁迅"),
    ("中华上下五千年", "林汉达"),
    ("唐诗三百首", "蘅塘退士"),
    ("成语故事", "少年儿童出版社"),
]
ENGLISH_TITLES = [
    ("Charlotte's Web", "E. B. White"),
    ("Matilda", "Roald Dahl"),
    ("The BFG", "Roald Dahl"),
    ("Charlie and the Chocolate Factory", "Roald Dahl"),
    ("The Very Hungry Caterpillar", "Eric Carle"),
    ("Where the Wild Things Are", "Maurice Sendak"),
    ("The Gruffalo", "Julia Donaldson"),
    ("Room on the Broom", "Julia Donaldson"),
    ("Frog and Toad Are Friends", "Arnold Lobel"),
    ("The Cat in the Hat", "Dr. Seuss"),
    ("Green Eggs and Ham", "Dr. Seuss"),
    ("Magic Tree House: Dinosaurs Before Dark", "Mary Pope Osborne"),
    ("Diary of a Wimpy Kid", "Jeff Kinney"),
    ("Wonder", "R. J. Palacio"),
    ("The Lion, the Witch and the Wardrobe", "C. S. Lewis"),
    ("Winnie-the-Pooh", "A. A. Milne"),
    ("Paddington", "Michael Bond"),
    ("Stuart Little", "E. B. White"),
    ("Holes", "Louis Sachar"),
    ("The Secret Garden", "Frances Hodgson Burnett"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = [
    "子涵",
    "欣怡",
    "梓轩",
    "雨桐",
    "浩然",
    "诗涵",
    "宇航",
    "思远",
    "一诺",
    "佳琪",
    "俊杰",
    "心怡",
    "博文",
    "语嫣",
    "天佑",
    "可馨",
    "明轩",
    "若曦",
    "睿泽",
    "梦琪",
]
CLASSES = [("3-1", 3), ("4-2", 4), ("5-1", 5)]
STUDENTS_PER_CLASS = 12
CLASSIFICATIONS = ["I287", "I247", "I561", "I712", "Z228", "K209", "Q96", "I222"]

OPEN_ALL_DAY = """
# The demo library is open every day, all day, for every grade.
[[timetable.window]]
weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
opens = "00:00"
closes = "23:59:59"
grades = []
week = "every"
"""


def isbn13(n: int) -> str:
    """A valid-looking ISBN-13 in the 978-7 (China) range, numbered by *n*."""
    body = f"9787{n:08d}"
    return body + ean13_check_digit(body)


def write_config(data_dir: Path) -> None:
    """kiosk.toml for the demo: the defaults, but open every day, all day."""
    text = DEFAULT_TOML.split("# One [[timetable.window]]")[0]
    (data_dir / FILE_NAME).write_text(text + OPEN_ALL_DAY, encoding="utf-8")


def populate(session: Session, today: dt.date, seed: int = 2026) -> bool:
    """Fill an empty library with demo books and patrons; False if it holds books already."""
    if session.scalar(select(func.count()).select_from(Copy)):
        return False
    rng = random.Random(seed)
    barcode = 100001
    for n, (name, author) in enumerate(CHINESE_TITLES + ENGLISH_TITLES, start=1):
        title = Title(
            isbn=isbn13(n),
            title=name,
            author=author,
            publisher="少年儿童出版社" if n <= len(CHINESE_TITLES) else "Puffin Books",
            year=rng.randint(1995, 2025),
            classification=rng.choice(CLASSIFICATIONS),
            language="zh" if n <= len(CHINESE_TITLES) else "en",
            added_on=today - dt.timedelta(days=rng.randint(0, 400)),
        )
        session.add(title)
        for _ in range(rng.randint(3, 8)):
            session.add(Copy(barcode=f"{barcode}", title=title, shelf=f"{rng.randint(1, 12)}-A"))
            barcode += 1
    # Picture books known only by ISBN: copies without a label of their own.
    picture = Title(
        isbn=isbn13(999),
        title="猜猜我有多爱你",
        author="山姆·麦克布雷尼",
        language="zh",
        added_on=today,
    )
    session.add_all([Copy(barcode=None, title=picture) for _ in range(3)])
    card = 1
    for class_name, grade in CLASSES:
        for _ in range(STUDENTS_PER_CLASS):
            session.add(
                Patron(
                    card=f"S{card:04d}",
                    name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                    class_name=class_name,
                    grade=grade,
                )
            )
            card += 1
    session.add(Patron(card="T0001", name="王老师", kind=PatronKind.TEACHER))
    session.add(
        Patron(
            card=HELPER_CARD,
            name="小助手 陈晨",
            kind=PatronKind.HELPER,
            class_name="6-1",
            grade=6,
            pin_hash=hash_pin(HELPER_PIN),
        )
    )
    session.add(
        Patron(
            card=LIBRARIAN_CARD,
            name="图书管理员 李老师",
            kind=PatronKind.LIBRARIAN,
            pin_hash=hash_pin(LIBRARIAN_PIN),
        )
    )
    return True


def cheat_sheet(session: Session) -> str:
    """The demo's cards and barcodes to type or print."""
    students = session.scalars(
        select(Patron).where(Patron.kind == PatronKind.STUDENT).order_by(Patron.card).limit(6)
    ).all()
    copies = session.scalars(
        select(Copy).where(Copy.barcode.is_not(None)).order_by(Copy.id).limit(8)
    ).all()
    picture = session.scalar(select(Title).where(Title.isbn == isbn13(999)))
    lines = ["Demo library: cards and barcodes to try", "", "Student cards:"]
    lines += [f"  {p.card}  {p.name}  ({p.class_name})" for p in students]
    lines += ["", "Book barcodes:"]
    lines += [f"  {c.barcode}  {c.title.title}" for c in copies]
    if picture is not None:
        lines += ["", f"Picture book by ISBN (no label): {picture.isbn}  {picture.title}"]
    lines += [
        "",
        f"Small librarian card: {HELPER_CARD}  PIN {HELPER_PIN}",
        f"Librarian card:       {LIBRARIAN_CARD}  PIN {LIBRARIAN_PIN}",
        "Teacher card:         T0001",
        "",
        "In the window: type a code and press Enter to scan it, and touch (click) the",
        "buttons on the screen. After the small librarian's card, type the PIN on the",
        "keypad (or the keyboard) and press OK.",
        "Typed in the window or on the terminal, as in headless mode, these touches work",
        "too: :done :return :renew :cancel :undo :pin 1234 :batch_return :mark_damaged :leave",
    ]
    return "\n".join(lines)
