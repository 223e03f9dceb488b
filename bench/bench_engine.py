"""Scan-to-outcome latency of the kiosk engine against the floor of the disk it writes to.

A library of 20,000 copies and 1,000 patrons (plus a history of returned loans) is built on
disk with bulk inserts; then students borrow and books come back through ``Kiosk.scan``, and
a small librarian counts the shelves in a stocktake (issue 13: as fast as a checkout), each
scan timed from the call to the answer, as whoever is at the kiosk waits for it. In the
same run, the floor: a bare sqlite3 INSERT + COMMIT with the same durability settings (WAL,
synchronous=FULL) in the same folder. The aim (issue 10): a checkout's p50 and p99 within 2x
the floor, at most 7 SQL statements per checkout and 5 per return, card and done (BEGIN
included; what does not change between scans is kept in memory).

    .venv/bin/python bench/bench_engine.py [--dir FOLDER] [--loans 2000]

Use --dir to measure another disk (a Raspberry Pi's SD card); by default a temporary folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from report import record
from sqlalchemy import insert, select

from kiosk import clock as kiosk_clock
from kiosk import config
from kiosk.engine import Kiosk
from kiosk.models import Copy, Event, Loan, Patron, PatronKind, Stocktake, Title
from kiosk.outcome import Kind
from kiosk.pins import hash_pin
from kiosk.settings import ACKED_THROUGH
from kiosk.store import Store, set_setting

COPIES = 20_000
PATRONS = 1_000
HISTORY = 10_000  # returned loans from earlier semesters, each with its two events
SHELVES = 40  # copy n stands on shelf n % SHELVES
HELPER, HELPER_PIN = "H0001", "2468"
GOAL = 2.0  # p50 and p99 of a scan within this many times the floor's
STATEMENT_GOALS = {"checkout": 7, "return": 5, "card": 5, "done": 5}  # at most, BEGIN included
TZ = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 11, 24, 8, 0, tzinfo=TZ)  # a Tuesday
SETTINGS = """
[kiosk]
name = "bench-kiosk"
timezone = "Asia/Shanghai"

# Three books each: a student's second book leaves the session open for "done" to end.
[policies.student]
max_loans = 3
loan_days = 14
max_renewals = 1
overdue_block_days = 7

[timetable]
week_a_starts = 2026-08-31
closed_dates = [2026-12-08, 2027-01-01]

[[timetable.window]]
weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
opens = "00:00"
closes = "23:59:59"
"""


class Clock:
    """Three seconds pass between scans, as at a real kiosk (no repeat-scan suppression)."""

    def __init__(self) -> None:
        self.now = START.astimezone(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def step(self) -> None:
        self.now += dt.timedelta(seconds=3)


def build(folder: Path) -> Store:
    """The library, written with bulk inserts (executemany), not one object at a time."""
    (folder / "kiosk.toml").write_text(SETTINGS, encoding="utf-8")
    store = Store.open(folder / "kiosk.db")
    rng = random.Random(1)
    added = dt.date(2024, 9, 1)
    titles = COPIES // 2
    with store.write() as db:
        config.apply(db, config.load(folder))
        db.execute(
            insert(Title),
            [
                dict(
                    id=t, isbn=None, title=f"Title {t}", author=f"Author {t % 700}", added_on=added
                )
                for t in range(1, titles + 1)
            ],
        )
        db.execute(
            insert(Copy),
            [
                dict(
                    id=c,
                    barcode=f"{100000 + c}",
                    title_id=(c - 1) % titles + 1,
                    shelf=f"A{c % SHELVES}",
                )
                for c in range(1, COPIES + 1)
            ],
        )
        db.execute(
            insert(Patron),
            [
                dict(
                    id=p,
                    card=f"S{p:04d}",
                    name=f"Student {p}",
                    class_name=f"{3 + p % 4}-{1 + p % 2}",
                    grade=3 + p % 4,
                )
                for p in range(1, PATRONS + 1)
            ]
            + [
                dict(
                    id=PATRONS + 1,
                    card=HELPER,
                    name="Small librarian",
                    kind=PatronKind.HELPER,
                    class_name="6-1",
                    grade=6,
                    pin_hash=hash_pin(HELPER_PIN),
                )
            ],
        )
        # A stocktake of the whole library, as the office's change puts it on the kiosk.
        db.add(
            Stocktake(
                id=1,
                name="bench",
                open=True,
                whole_library=True,
                shelves=[{"name": f"A{n}", "copies": COPIES // SHELVES} for n in range(SHELVES)],
            )
        )
        loans, events = [], []
        lent = dt.datetime(2025, 3, 1, 5, 0, tzinfo=dt.UTC)
        for n in range(HISTORY):
            loan_id, copy_id = str(uuid.uuid4()), rng.randint(1, COPIES)
            at = lent + dt.timedelta(minutes=30 * n)
            back = at + dt.timedelta(days=10)
            loans.append(
                dict(
                    id=loan_id,
                    copy_id=copy_id,
                    patron_id=None,  # forgotten long ago; class and grade stay for the league
                    patron_class="4-1",
                    patron_grade=4,
                    lent_at=at,
                    due_date=(at + dt.timedelta(days=14)).date(),
                    returned_at=back,
                    lent_where="bench-kiosk",
                )
            )
            for offset, (kind, when) in enumerate((("checkout", at), ("return", back))):
                events.append(
                    dict(
                        seq=2 * n + offset + 1,
                        uuid=str(uuid.uuid4()),
                        type=kind,
                        at=when,
                        clock="ok",
                        payload={"loan": loan_id, "copy": f"{100000 + copy_id}"},
                        acked_at=when,
                    )
                )
        db.execute(insert(Loan), loans)
        db.execute(insert(Event), events)
        set_setting(db, ACKED_THROUGH, str(len(events)))  # the office holds the history
        # Back after the summer: a small librarian confirmed the date on the first day.
        kiosk_clock.confirm(db, START.astimezone(dt.UTC))
    return store


class Floor:
    """A bare INSERT + COMMIT, with the kiosk's durability settings, in the same folder.

    One is timed after each timed scan, so that both see the disk in the same state.
    """

    def __init__(self, folder: Path) -> None:
        self.con = sqlite3.connect(folder / "floor.db", isolation_level=None)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=FULL")
        self.con.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, uuid TEXT, payload TEXT)")
        self.times: list[float] = []

    def sample(self) -> None:
        started = time.perf_counter()
        self.con.execute("BEGIN IMMEDIATE")
        self.con.execute(
            "INSERT INTO events (uuid, payload) VALUES (?, ?)",
            (str(uuid.uuid4()), '{"loan": "x", "copy": "100001"}'),
        )
        self.con.execute("COMMIT")
        self.times.append(time.perf_counter() - started)

    def close(self) -> None:
        self.con.close()


class Statements:
    """How many SQL statements the engine sends for one scan."""

    def __init__(self, store: Store) -> None:
        self.count = 0
        store.watch(self._seen)

    def _seen(self, _statement: str) -> None:
        self.count += 1


def run_engine(
    store: Store, folder: Path, loans: int, floor: Floor
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Students borrow two books each, then the books come back with no session open."""
    clock = Clock()
    kiosk = Kiosk(store, config.load(folder).kiosk, clock=clock, tz=TZ)
    rng = random.Random(2)
    with store.read() as db:
        barcodes = list(db.scalars(select(Copy.barcode)))
    cards = [f"S{p:04d}" for p in range(1, PATRONS + 1)]
    times: dict[str, list[float]] = {
        "card": [],
        "checkout": [],
        "done": [],
        "return": [],
        "stocktake": [],
    }
    statements: dict[str, int] = {}
    counter = Statements(store)

    def timed(name: str, action: Callable[[], list], expect: Kind) -> None:
        clock.step()
        counter.count = 0
        started = time.perf_counter()
        outcomes = action()
        times[name].append(time.perf_counter() - started)
        statements[name] = counter.count
        if [o.kind for o in outcomes] != [expect]:
            sys.exit(f"bench: expected {expect}, the kiosk answered {outcomes}")
        floor.sample()
        # The touchscreen ticks ten times a second; the ticks before the next scan find the
        # kiosk idle or in a pause, when it moves what was written into the database file.
        clock.step()
        kiosk.tick()

    patron = 0
    while len(times["checkout"]) < loans:
        out: list[str] = []
        books = iter(rng.sample(barcodes, min(loans - len(times["checkout"]), 500)))
        for book in books:
            card = cards[patron]
            patron = (patron + 1) % len(cards)
            timed("card", lambda c=card: kiosk.scan(c), Kind.SESSION_STARTED)
            for code in (book, next(books, None)):
                if code is None:
                    break
                timed("checkout", lambda c=code: kiosk.scan(c), Kind.CHECKED_OUT)
                out.append(code)
            timed("done", lambda: kiosk.touch("done"), Kind.SESSION_ENDED)
        for code in out:
            timed("return", lambda c=code: kiosk.scan(c), Kind.RETURNED)

    # A small librarian counts shelf after shelf in the stocktake: as many books as were lent.
    clock.step()
    kiosk.scan(HELPER)
    kiosk.touch("pin", HELPER_PIN)
    kiosk.touch("stocktake")
    shelf = None
    for code in sorted(barcodes, key=lambda c: int(c) % SHELVES)[:loans]:
        if shelf != f"A{int(code) % SHELVES}":  # the next shelf's label
            shelf = f"A{int(code) % SHELVES}"
            kiosk.touch("shelf", shelf)
        timed("stocktake", lambda c=code: kiosk.scan(c), Kind.COUNTED)
    return times, statements


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p99 and the worst, in milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000, max(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, help="folder on the disk to measure")
    parser.add_argument("--loans", type=int, default=2000, help="checkouts (and returns) timed")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="kiosk-bench-", dir=args.dir))
    try:
        started = time.perf_counter()
        store = build(folder)
        built = time.perf_counter() - started
        print(f"library: {COPIES} copies, {PATRONS} patrons, {HISTORY} past loans in {folder}")
        python = sys.version.split()[0]
        print(f"built in {built:.1f} s; SQLite {sqlite3.sqlite_version}, Python {python}")

        floor = Floor(folder)
        times, statements = run_engine(store, folder, args.loans, floor)
        floor.close()
        store.close()

        f50, f99, fmax = percentiles(floor.times)
        print(
            f"\n{'':28}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'p50/floor':>11}{'p99/floor':>11}"
            f"{'SQL':>5}"  # statements sent per scan, BEGIN included
        )
        print(f"{'floor: INSERT + COMMIT':28}{f50:8.2f}{f99:8.2f}{fmax:8.2f}")
        verdicts = []
        figures: dict[str, tuple[float, float]] = {}
        for name, label in [
            ("checkout", "checkout (book scan)"),
            ("return", "return (book scan, idle)"),
            ("card", "card scan (session start)"),
            ("done", "done (session end)"),
            ("stocktake", "stocktake (book on shelf)"),
        ]:
            p50, p99, worst = percentiles(times[name])
            figures[name] = (p50, p99)
            print(
                f"{label:28}{p50:8.2f}{p99:8.2f}{worst:8.2f}{p50 / f50:11.1f}{p99 / f99:11.1f}"
                f"{statements[name]:5}"
            )
            most = STATEMENT_GOALS.get(name)
            if most is not None:
                verdicts.append(
                    f"{name}: {statements[name]} statements "
                    f"({'within' if statements[name] <= most else 'over'} {most}); "
                    f"p50 {p50 / f50:.1f}x, p99 {p99 / f99:.1f}x the floor "
                    f"({'within' if max(p50 / f50, p99 / f99) <= GOAL else 'over'} {GOAL:.0f}x)"
                )
        print(
            f"\n{len(times['checkout'])} checkouts, {len(times['return'])} returns and "
            f"{len(times['stocktake'])} stocktake scans timed"
        )
        print("aim: " + "\n     ".join(verdicts))
        p50, p99 = figures["checkout"]
        ratio = max(p50 / f50, p99 / f99)
        record(
            "engine.checkout",
            what=f"checkout, scan -> committed ({COPIES:,} copies, {PATRONS:,} patrons)",
            now=f"p50 {p50:.2f} ms, p99 {p99:.2f} ms",
            floor=f"p50 {f50:.2f} ms, p99 {f99:.2f} ms: bare sqlite3 INSERT+COMMIT (WAL, FULL)",
            ratio=ratio,
            goal=f"p50 and p99 <= {GOAL:.0f}x the floor",
            met=ratio <= GOAL,
            p50_ms=p50,
            p99_ms=p99,
            floor_p50_ms=f50,
            floor_p99_ms=f99,
        )
        counts = " / ".join(str(statements[n]) for n in STATEMENT_GOALS)
        record(
            "engine.statements",
            what="SQL statements per " + " / ".join(STATEMENT_GOALS),
            now=counts,
            goal=" / ".join(f"<= {most}" for most in STATEMENT_GOALS.values()),
            met=all(statements[n] <= most for n, most in STATEMENT_GOALS.items()),
            **{n: statements[n] for n in STATEMENT_GOALS},
        )
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
