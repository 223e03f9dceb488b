"""Sync over loopback against floors of bare bulk writes, and 50 kiosks pushing at once.

1. Push: one kiosk sends 10,000 events (5,000 loans and their returns) to a real
   ``library-server`` process. Floor: the rows the office writes for them (events, loans,
   copies, change log) written with bare executemany statements, one transaction per batch of
   the size the kiosk sends, into a copy of the same office database, in the same run.
2. Pull: a fresh kiosk takes the 20,000-copy catalogue, the students and the loans. Floor: the
   same rows written with bare executemany statements into a fresh kiosk database, one
   transaction per page of the size the kiosk asks for.
3. 50 kiosks push at once, 5 rounds of 40 events each: latency of each push (p50, p99),
   events per second, failed pushes (the aim: none).

Each on SQLite and on PostgreSQL (a throwaway cluster with fsync on, when its server programs
are installed).

    .venv/bin/python bench/bench_sync.py [--dir FOLDER] [--copies 20000] [--only sqlite]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' office harness

from report import record

from kiosk.models import Event
from kiosk.store import Store
from sync import client as sync_client
from sync import wire
from sync.client import SyncClient, SyncReport
from sync.server.db import Database, database_url
from sync.server.services import catalogue, classlists, kiosks
from tests.sync.support import Office, PostgresCluster, pg_bin

EVENTS = 10_000
KIOSKS = 50
ROUNDS = 5
EVENTS_PER_ROUND = 40
NOW = dt.datetime(2026, 11, 24, 5, 45, tzinfo=dt.UTC)
DUE = dt.date(2026, 12, 9)
GOAL = 3.0  # times the floor, for push and pull
# Push and pull are timed this many times, each with its floor, and the median ratio kept: one
# run's ratio moves by half on a machine that is not quite idle.
RUNS = 3
# The first copy each timed push lends from: 5,000 a push, apart from the copies the 50 kiosks
# lend (5,000 to 7,000).
PUSH_COPIES = [0, 10_000, 15_000][:RUNS]


def make_catalogue(database: Database, folder: Path, copies: int) -> None:
    rows = ["barcode,title,author"]
    rows += [f"C{n:06d},Title {n // 2},Author {n % 97}" for n in range(copies)]
    students = ["card,name,class,grade"]
    students += [f"P{n:04d},Student {n},{3 + n % 4}-1,{3 + n % 4}" for n in range(1000)]
    (folder / "books.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "students.csv").write_text("\n".join(students) + "\n", encoding="utf-8")
    with database.write() as session:
        catalogue.import_books(session, folder / "books.csv")
        classlists.import_file(session, folder / "students.csv", today=dt.date.today())


def enrolled_kiosk(database: Database, folder: Path, url: str, name: str) -> SyncClient:
    folder.mkdir(parents=True, exist_ok=True)
    store = Store.open(folder / "kiosk.db")
    with database.write() as session:
        code = kiosks.new_enroll_code(session)
    client = SyncClient(store, clock=lambda: dt.datetime.now(dt.UTC))
    client.enroll(url, code, name)
    return client


def loan_events(store: Store, count: int, first_copy: int) -> list[dict[str, Any]]:
    """count/2 checkouts, then each copy's return: what a busy week at one kiosk sends."""
    with store.read() as db:
        last = db.scalar(select(func.max(Event.seq))) or 0
    loans = [(str(uuid.uuid4()), f"C{(first_copy + n):06d}", f"P{n % 1000:04d}")
             for n in range(count // 2)]  # fmt: skip
    rows = []
    for seq, (kind, (loan, copy, card)) in enumerate(
        [("checkout", x) for x in loans] + [("return", x) for x in loans], start=last + 1
    ):
        payload = (
            wire.Checkout(loan=loan, copy=copy, patron=card, due=DUE, where="bench")
            if kind == "checkout"
            else wire.Return(loan=loan, copy=copy, patron=card, late_days=0)
        ).as_json()
        rows.append(
            dict(seq=seq, uuid=str(uuid.uuid4()), type=kind, at=NOW + dt.timedelta(seconds=seq),
                 clock="ok", payload=payload)
        )  # fmt: skip
    with store.write() as db:
        db.execute(insert(Event), rows)
    return rows


def report(label: str, rows: int, seconds: float, floor: float) -> float:
    ratio = seconds / floor
    print(
        f"{label}: {rows:,} rows in {seconds:.2f} s = {rows / seconds:,.0f} rows/s; "
        f"floor {floor:.2f} s = {rows / floor:,.0f} rows/s; ratio {ratio:.1f}x "
        f"({'within' if ratio <= GOAL else 'over'} the goal of {GOAL:.0f}x)"
    )
    return ratio


class Bare:
    """Bare DB-API statements on one of the office's connections, in its write transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.sqlite = database.is_sqlite

    def sql(self, statement: str) -> str:
        return statement if self.sqlite else statement.replace("?", "%s")

    def value(self, value: Any) -> Any:
        """As the office stores it: naive UTC times (text on SQLite), dates, booleans."""
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
            return value.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else value
        if isinstance(value, dt.date):
            return value.isoformat() if self.sqlite else value
        return value

    def row(self, *values: Any) -> tuple[Any, ...]:
        return tuple(self.value(v) for v in values)

    @contextmanager
    def transaction(self) -> Iterator[Callable[[str, list[tuple[Any, ...]]], None]]:
        with self.database.write() as session:
            connection = session.connection()

            def many(statement: str, rows: list[tuple[Any, ...]]) -> None:
                if rows:
                    connection.exec_driver_sql(self.sql(statement), rows)  # type: ignore[arg-type]

            yield many


def push_floor(floor_db: Database, events: list[dict[str, Any]], batch: int) -> float:
    """The office's writes for *events*, prepared beforehand, then written bare and timed."""
    bare = Bare(floor_db)
    with floor_db.write() as session:
        connection = session.connection()
        kiosk_id = connection.exec_driver_sql(
            bare.sql(
                "INSERT INTO kiosks (name, token_hash, enrolled_at, applied_seq, clock_backwards,"
                " events_waiting) VALUES (?, ?, ?, 0, ?, 0) RETURNING id"
            ),
            bare.row("floor", uuid.uuid4().hex, NOW, False),
        ).scalar_one()
        copies = {
            barcode: (copy_id, title_id)
            for barcode, copy_id, title_id in connection.exec_driver_sql(
                "SELECT barcode, id, title_id FROM copies"
            )
        }
        patrons = dict(connection.exec_driver_sql("SELECT card, id FROM patrons").all())
    upsert = (
        "INSERT OR REPLACE INTO changes (kind, key, data) VALUES (?, ?, ?)"
        if bare.sqlite
        else "INSERT INTO changes (kind, key, data) VALUES (?, ?, ?) ON CONFLICT (kind, key) "
        "DO UPDATE SET version = nextval(pg_get_serial_sequence('changes', 'version')), "
        "data = excluded.data"
    )
    lent: dict[str, dt.datetime] = {}
    batches = []
    for start in range(0, len(events), batch):
        rows: dict[str, list[tuple[Any, ...]]] = {
            k: [] for k in ("events", "lend", "return", "copies", "changes")
        }
        for event in events[start : start + batch]:
            p, at = event["payload"], event["at"]
            rows["events"].append(
                bare.row(kiosk_id, event["seq"], event["uuid"], event["type"], at, at, "ok",
                         json.dumps(p), NOW, False)
            )  # fmt: skip
            copy_id, title_id = copies[p["copy"]]
            if event["type"] == "checkout":
                lent[p["loan"]] = at
                rows["lend"].append(
                    bare.row(p["loan"], copy_id, p["copy"], patrons[p["patron"]], p["patron"],
                             kiosk_id, "bench", at, DUE, None, 0, False, False, False, None)
                )  # fmt: skip
                status, returned = "on_loan", None
            else:
                rows["return"].append(bare.row(DUE, at, 0, False, False, False, p["loan"]))
                status, returned = "available", at.isoformat()
            rows["copies"].append((status, copy_id))
            copy_data = dict(id=copy_id, barcode=p["copy"], title_id=title_id, status=status,
                             shelf="")  # fmt: skip
            loan_data = dict(id=p["loan"], copy_id=copy_id, patron=p["patron"],
                             lent_at=lent[p["loan"]].isoformat(), due_date=DUE.isoformat(),
                             returned_at=returned, renewals=0, lent_where="bench",
                             implicit_return=False)  # fmt: skip
            rows["changes"] += [
                ("copy", str(copy_id), json.dumps(copy_data)),
                ("loan", p["loan"], json.dumps(loan_data)),
            ]
        first, last = events[start]["seq"], events[start : start + batch][-1]["seq"]
        batches.append((rows, first, last))
    started = time.perf_counter()
    for rows, first, last in batches:
        with bare.transaction() as many:
            many(
                "INSERT INTO events (kiosk_id, seq, uuid, type, at, corrected_at, clock, payload,"
                " received_at, applied) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows["events"],
            )
            many(
                "UPDATE loans SET due_date = ?, returned_at = ?, renewals = ?, "
                "implicit_return = ?, not_overdue = ?, undone = ? WHERE id = ?",
                rows["return"],
            )
            many(
                "INSERT INTO loans (id, copy_id, copy_code, patron_id, patron_card, kiosk_id, "
                "lent_where, lent_at, due_date, returned_at, renewals, implicit_return, "
                "not_overdue, undone, override_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?)",
                rows["lend"],
            )
            many("UPDATE copies SET status = ? WHERE id = ?", rows["copies"])
            many(upsert, rows["changes"])
            many(
                "UPDATE events SET applied = ? WHERE kiosk_id = ? AND seq >= ? AND seq <= ?",
                [(True, kiosk_id, first, last)],
            )
            many(
                "UPDATE kiosks SET applied_seq = ?, last_sync = ?, events_waiting = ? WHERE id = ?",
                [bare.row(last, NOW, 0, kiosk_id)],
            )
    return time.perf_counter() - started


def timed_pushes(
    database: Database, floor_db: Database, folder: Path, url: str, first_copies: list[int]
) -> list[tuple[float, float]]:
    """A push of EVENTS events lending from each of *first_copies* (copies of their own: no
    push sees another's), each with its floor: (seconds, the floor's seconds)."""
    runs = []
    for first_copy in first_copies:
        name = f"push-kiosk-{first_copy}"
        client = enrolled_kiosk(database, folder / name, url, name)
        events = loan_events(client.store, EVENTS, first_copy)
        started = time.perf_counter()
        result = SyncReport()
        client.push(result)
        seconds = time.perf_counter() - started
        client.store.close()
        if result.stored != EVENTS or result.conflicts:
            sys.exit(f"bench: the office stored {result.stored} events, {result.conflicts[:3]}")
        runs.append((seconds, push_floor(floor_db, events, sync_client.PUSH_BATCH)))
    return runs


def report_pushes(backend: str, runs: list[tuple[float, float]]) -> None:
    seconds, floor, ratio, ratios = middle_run(f"push of {EVENTS:,} events", EVENTS, runs)
    record(
        f"sync.push.{backend}",
        what=f"push {EVENTS:,} events to the office ({backend})",
        now=f"{seconds:.2f} s ({runs_said(ratios)})",
        floor=f"{floor:.2f} s: the same rows, bare executemany, a transaction per batch",
        ratio=ratio,
        goal=f"<= {GOAL:.0f}x the floor",
        met=ratio <= GOAL,
        seconds=seconds,
        floor_seconds=floor,
        events=EVENTS,
        ratios=", ".join(f"{r:.2f}" for r in ratios),
    )


def middle_run(
    label: str, rows: int, runs: list[tuple[float, float]]
) -> tuple[float, float, float, list[float]]:
    """Of *runs* (seconds, the floor's seconds in the same run), each reported, the one of
    median ratio: its seconds, floor and ratio, and every run's ratio."""
    ratios = [report(f"{label}, run {n}", rows, *run) for n, run in enumerate(runs, start=1)]
    middle = sorted(range(len(runs)), key=ratios.__getitem__)[len(runs) // 2]
    seconds, floor = runs[middle]
    print(f"{label}: {ratios[middle]:.1f}x the floor, the {runs_said(ratios)}")
    return seconds, floor, ratios[middle], ratios


def runs_said(ratios: list[float]) -> str:
    return f"median of {len(ratios)} runs: {', '.join(f'{r:.1f}x' for r in ratios)}"


PULLED = ("titles", "copies", "patrons", "loans")


def pull_floor(pulled: Path, fresh: Path, page: int) -> tuple[float, int]:
    """The kiosk's rows after its pull, written bare into a fresh kiosk database, a transaction
    per page of changes, with the cursor saved in each as the real pull does."""
    source = sqlite3.connect(pulled)
    tables = {}
    for table in PULLED:
        cursor = source.execute(f"SELECT * FROM {table}")
        columns = [c[0] for c in cursor.description]
        tables[table] = (columns, cursor.fetchall())
    source.close()
    items = [(table, row) for table, (_, rows) in tables.items() for row in rows]
    store = Store.open(fresh)
    connection = store.engine.raw_connection()
    cursor = connection.cursor()
    started = time.perf_counter()
    for start in range(0, len(items), page):
        cursor.execute("BEGIN IMMEDIATE")
        chunk = items[start : start + page]
        for table, (columns, _) in tables.items():
            rows = [row for name, row in chunk if name == table]
            if rows:
                marks = ", ".join("?" * len(columns))
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                    rows,
                )
        cursor.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES ('sync.cursor', ?)", (str(start),)
        )
        cursor.execute("COMMIT")
    seconds = time.perf_counter() - started
    connection.close()
    store.close()
    return seconds, len(items)


def bench_pull(database: Database, folder: Path, url: str, backend: str) -> None:
    runs = []
    for n in range(RUNS):  # a fresh kiosk each time, the same catalogue
        client = enrolled_kiosk(database, folder / f"pull-kiosk-{n}", url, f"pull-kiosk-{n}")
        started = time.perf_counter()
        result = SyncReport()
        client.pull(result)
        seconds = time.perf_counter() - started
        client.store.close()
        floor, rows = pull_floor(
            folder / f"pull-kiosk-{n}" / "kiosk.db",
            folder / f"floor-kiosk-{n}.db",
            sync_client.PULL_PAGE,
        )
        runs.append((seconds, floor))
    label = f"fresh kiosk's pull ({result.pulled:,} changes: titles, copies, students, loans)"
    seconds, floor, ratio, ratios = middle_run(label, rows, runs)
    record(
        f"sync.pull.{backend}",
        what=f"fresh pull of {rows:,} rows: 20,000 copies, their titles, students, loans "
        f"({backend})",
        now=f"{seconds:.2f} s ({runs_said(ratios)})",
        floor=f"{floor:.2f} s: the same rows, bare executemany, a transaction per page",
        ratio=ratio,
        goal=f"<= {GOAL:.0f}x the floor",
        met=ratio <= GOAL,
        seconds=seconds,
        floor_seconds=floor,
        rows=rows,
        ratios=", ".join(f"{r:.2f}" for r in ratios),
    )


def bench_many(database: Database, folder: Path, url: str, backend: str) -> None:
    clients = [
        enrolled_kiosk(database, folder / f"kiosk-{n:02d}", url, f"kiosk-{n:02d}")
        for n in range(KIOSKS)
    ]
    latencies: list[float] = []
    errors: list[str] = []
    busy = 0.0
    for _ in range(ROUNDS):
        for n, client in enumerate(clients):
            loan_events(client.store, EVENTS_PER_ROUND, 5_000 + n * EVENTS_PER_ROUND)
        gate = threading.Barrier(KIOSKS)

        def push(client: SyncClient, gate: threading.Barrier = gate) -> None:
            gate.wait()
            started = time.perf_counter()
            try:
                client.push(SyncReport())
            except Exception as exc:
                errors.append(str(exc))
            latencies.append(time.perf_counter() - started)

        threads = [threading.Thread(target=push, args=(c,)) for c in clients]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        busy += time.perf_counter() - started
    for client in clients:
        client.store.close()
    total = KIOSKS * ROUNDS * EVENTS_PER_ROUND
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    p50, p99 = cuts[49] * 1000, cuts[98] * 1000
    print(
        f"{KIOSKS} kiosks pushing at once ({ROUNDS} rounds of {EVENTS_PER_ROUND} events each): "
        f"push latency p50 {p50:.0f} ms, p99 {p99:.0f} ms; {total:,} events in {busy:.2f} s = "
        f"{total / busy:,.0f} events/s; {len(errors)} failed pushes"
    )
    record(
        f"sync.many.{backend}",
        what=f"{KIOSKS} kiosks pushing at once, {ROUNDS} rounds of {EVENTS_PER_ROUND} events "
        f"({backend})",
        now=f"p50 {p50:.0f} ms, p99 {p99:.0f} ms per push; {total / busy:,.0f} events/s; "
        f"{len(errors)} errors",
        goal="zero errors",
        met=not errors,
        p50_ms=p50,
        p99_ms=p99,
        events_per_second=total / busy,
        errors=len(errors),
    )
    if errors:
        print("\n".join(errors[:5]))


def copy_database(url: str, name: str) -> str:
    """A copy of the office database as it is now (no one connected to it), for the floor."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        target = Path(str(parsed.database)).with_name(f"{name}.db")
        source, dest = sqlite3.connect(str(parsed.database)), sqlite3.connect(target)
        with dest:
            source.backup(dest)
        source.close()
        dest.close()
        return f"sqlite:///{target}"
    import psycopg

    with psycopg.connect(
        f"host={parsed.host} port={parsed.port} user={parsed.username} dbname=postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"')
    return str(parsed.set(database=name).render_as_string(hide_password=False))


def run(backend: str, url: str, folder: Path, copies: int) -> None:
    print(f"\n== office database: {backend}")
    database = Database.open(url)
    started = time.perf_counter()
    make_catalogue(database, folder, copies)
    print(f"catalogue of {copies:,} copies and 1,000 students made in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    database.close()
    floor_db = Database.open(copy_database(url, "floor"))
    database = Database.open(url)
    office = Office(folder / "office", url).start()
    try:
        pushes = timed_pushes(database, floor_db, folder, office.url, PUSH_COPIES[:1])
        # Pulled: the catalogue and one push's loans (46,000 rows), as in every earlier figure.
        bench_pull(database, folder, office.url, backend)
        pushes += timed_pushes(database, floor_db, folder, office.url, PUSH_COPIES[1:])
        report_pushes(backend, pushes)
        bench_many(database, folder, office.url, backend)
    finally:
        office.stop()
        database.close()
        floor_db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="folder for the databases (default: temporary)")
    parser.add_argument("--copies", type=int, default=20_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-sync-", dir=args.dir))
    try:
        if args.only in (None, "sqlite"):
            folder = root / "sqlite"
            (folder / "office").mkdir(parents=True)
            run("SQLite", database_url(folder / "office", None), folder, args.copies)
        if args.only in (None, "postgresql"):
            if pg_bin("initdb") is None or pg_bin("pg_ctl") is None:
                print("\n== PostgreSQL: its server programs are not installed; not measured")
                return
            cluster = PostgresCluster(durable=True)
            cluster.start()
            try:
                folder = root / "postgresql"
                (folder / "office").mkdir(parents=True)
                run("PostgreSQL", cluster.new_database(), folder, args.copies)
            finally:
                cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
