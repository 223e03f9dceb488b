"""A lunch-time queue through the real app, headless: for the privacy test and the UI bench.

Children come one after another, each a different way: card and a book, then walk away (the
quiet spell ends the session); card and the two books a student may take (it ends at once);
card, book and Done; card, book and straight on to the next child's card (no receipt for the
next child to see); bringing last week's book back first. The next child steps up while the
last receipt is still up, or just after. The script moves the kiosk's clock, so only the
kiosk's own work takes time, and :func:`run` measures it per child.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from sqlalchemy import select

from kiosk import demo
from kiosk.engine import Kiosk
from kiosk.models import Copy, Patron, PatronKind, Title
from kiosk.ui.driver import Driver

WAYS = ("walk_away", "all_taken", "done", "next_card", "return_first")
STEP_SECONDS = 3  # between two scans of one child (the same code within 2 s is a repeat)
RECEIPT_WAIT = 1  # the next child steps up while the last receipt is still up


class MovingClock(Protocol):
    def __call__(self) -> dt.datetime: ...

    def advance(self, seconds: float) -> None: ...


@dataclass
class Child:
    card: str
    name: str
    way: str
    books: list[tuple[str, str]]  # (barcode, title) borrowed now
    brought_back: tuple[str, str] | None = None  # borrowed last week, returned first
    seconds: float = 0.0  # the kiosk's own time for this child

    @property
    def titles(self) -> list[str]:
        every = [*self.books, *([self.brought_back] if self.brought_back else [])]
        return [title for _code, title in every]


def make_queue(kiosk: Kiosk, size: int = 30) -> list[Child]:
    """*size* students of the library, their names all different and no title borrowed by
    two of them; those who bring a book back borrowed it a week ago, at this kiosk."""
    with kiosk.store.write() as db:
        students = db.scalars(
            select(Patron).where(Patron.kind == PatronKind.STUDENT).order_by(Patron.card)
        ).all()[:size]
        for n, student in enumerate(students):
            given = demo.GIVEN[(n + n // len(demo.SURNAMES)) % len(demo.GIVEN)]
            student.name = demo.SURNAMES[n % len(demo.SURNAMES)] + given
        copies = db.execute(
            select(Copy.barcode, Title.title)
            .join(Title)
            .where(Copy.barcode.is_not(None))
            .order_by(Title.id, Copy.id)
        ).all()
        cards = [(s.card, s.name) for s in students]
    one_per_title = iter({title: (code, title) for code, title in reversed(copies)}.values())
    queue = []
    for n, (card, name) in enumerate(cards):
        way = WAYS[n % len(WAYS)]
        books = [next(one_per_title) for _ in range(2 if way == "all_taken" else 1)]
        child = Child(card, name, way, books)
        if way == "return_first":
            child.brought_back = next(one_per_title)
        queue.append(child)
    _last_week(kiosk, [c for c in queue if c.brought_back])
    return queue


def _last_week(kiosk: Kiosk, children: list[Child]) -> None:
    clock: MovingClock = kiosk.clock  # type: ignore[assignment]
    clock.advance(-7 * 86400)
    for child in children:
        assert child.brought_back is not None
        for code in (child.card, child.brought_back[0]):
            clock.advance(STEP_SECONDS)
            kiosk.scan(code)
        kiosk.touch("done")
    clock.advance(7 * 86400 - 2 * STEP_SECONDS * len(children))


def run(
    driver: Driver,
    queue: list[Child],
    handed_over: Callable[[Child], None] = lambda _child: None,
) -> list[Child]:
    """Each child of *queue* at the kiosk in turn. *handed_over* is called once nothing of a
    child may be seen any more: as the next child scans a card, or when the receipt is gone."""
    from kiosk.ui.app import RECEIPT_SECONDS
    from kiosk.ui.i18n import tr

    kiosk: Kiosk = driver.app.kiosk
    clock: MovingClock = kiosk.clock  # type: ignore[assignment]
    walk_away = kiosk.settings.walk_away_seconds
    before: Child | None = None
    gap = STEP_SECONDS  # before the next child's card
    for child in queue:

        def timed(action: Callable[[], object], child: Child = child) -> None:
            start = time.perf_counter()
            action()
            child.seconds += time.perf_counter() - start

        def scan(code: str, after: float = STEP_SECONDS) -> None:
            clock.advance(after)
            timed(partial(driver.scan, code))

        if before is not None:
            handed_over(before)
        scan(child.card, after=gap)
        if child.brought_back is not None:
            scan(child.brought_back[0])  # their own: bring it back, or keep it?
            timed(partial(driver.press, tr._("Bring it back")))
        for code, _title in child.books:
            scan(code)
        match child.way:
            case "walk_away" | "return_first":
                clock.advance(walk_away)
                timed(driver.tick)
                gap = RECEIPT_WAIT
            case "all_taken":
                gap = RECEIPT_WAIT
            case "done":
                timed(partial(driver.press, tr._("Done")))
                clock.advance(RECEIPT_SECONDS)
                timed(driver.tick)
                handed_over(child)
                gap = STEP_SECONDS
            case "next_card":
                gap = STEP_SECONDS  # the next card ends this session, without a receipt
        before = child
    clock.advance(walk_away)  # the last child walks away
    driver.tick()
    clock.advance(RECEIPT_SECONDS)
    driver.tick()
    if before is not None:
        handed_over(before)
    return queue
