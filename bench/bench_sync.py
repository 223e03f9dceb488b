"""Sync over loopback against the floor of bare bulk inserts, and 50 kiosks pushing at once.

1. Push: one kiosk sends 10,000 events (5,000 loans and their returns) to a real
   ``library-server`` process; floor: a bare bulk insert of the same rows into a table of the
   same shape in the same office database, in the same run.
2. Pull: a fresh kiosk takes a 20,000-copy catalogue; floor: a bare bulk insert of the same
   titles and copies into a fresh kiosk database in the same folder.
3. 50 simulated kiosks push at once against SQLite: throughput, and the count of
   "database is locked" errors (the aim: zero).

    .venv/bin/python bench/bench_sync.py [--dir FOLDER] [--db URL] [--copies 20000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from sqlalchemy import func, insert, select, text

from kiosk import settings
from kiosk.models import Copy, Event, Title
from kiosk.store import Store, get_setting
from sync import wire
from sync.client import SyncClient, SyncReport
from sync.server.db import Database, database_url
from sync.server.services import catalogue, classlists, kiosks

EVENTS = 10_000
KIOSKS = 50
EVENTS_PER_KIOSK = 200
NOW = dt.datetime(2026, 11, 24, 5, 45, tzinfo=dt.UTC)
DUE = dt.date(2026, 12, 9)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data: Path, url: str, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "sync.server.cli", "--data", str(data), "--db", url, "serve",
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    for _ in range(600):
        try:
            if requests.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).ok:
                return process
        except requests.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("the server did not start")


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


def loan_events(store: Store, count: int, first_copy: int) -> list[dict]:
    """count/2 checkouts, then each copy's return: what a busy week at one kiosk sends."""
    rows = []
    loans = [(str(uuid.uuid4()), f"C{(first_copy + n):06d}", f"P{n % 1000:04d}")
             for n in range(count // 2)]  # fmt: skip
    for seq, (kind, (loan, copy, card)) in enumerate(
        [("checkout", x) for x in loans] + [("return", x) for x in loans], start=1
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


def report(label: str, rows: int, seconds: float, floor: float) -> None:
    print(
        f"{label}: {rows} rows in {seconds:.2f} s = {rows / seconds:,.0f} rows/s; "
        f"floor (bare bulk insert) {floor:.3f} s = {rows / floor:,.0f} rows/s; "
        f"ratio {seconds / floor:.1f}x"
    )


def bench_push(database: Database, folder: Path, url: str) -> None:
    client = enrolled_kiosk(database, folder / "push-kiosk", url, "push-kiosk")
    rows = loan_events(client.store, EVENTS, 0)
    started = time.perf_counter()
    result = SyncReport()
    client.push(result)
    seconds = time.perf_counter() - started
    assert result.stored == EVENTS, result

    # Floor: the same rows, bulk inserted into a table of the events table's shape.
    with database.write() as session:
        session.execute(text("CREATE TABLE bench_events AS SELECT * FROM events WHERE 1 = 0"))
    with client.store.read() as db:
        kiosk_id = int(get_setting(db, settings.KIOSK_ID) or 0)
    naive = NOW.replace(tzinfo=None)
    wire_rows = [
        dict(
            id=10**9 + r["seq"],
            kiosk_id=kiosk_id,
            seq=r["seq"],
            uuid=str(uuid.uuid4()),
            type=r["type"],
            at=r["at"].replace(tzinfo=None),
            corrected_at=r["at"].replace(tzinfo=None),
            clock="ok",
            payload=json.dumps(r["payload"]),
            received_at=naive,
            applied=True,
        )
        for r in rows
    ]
    columns = ", ".join(wire_rows[0])
    values = ", ".join(f":{c}" for c in wire_rows[0])
    started = time.perf_counter()
    with database.write() as session:
        session.execute(text(f"INSERT INTO bench_events ({columns}) VALUES ({values})"), wire_rows)
    floor = time.perf_counter() - started
    with database.write() as session:
        session.execute(text("DROP TABLE bench_events"))
    report(f"push of {EVENTS:,} events", EVENTS, seconds, floor)
    client.store.close()


def bench_pull(database: Database, folder: Path, url: str) -> None:
    client = enrolled_kiosk(database, folder / "pull-kiosk", url, "pull-kiosk")
    started = time.perf_counter()
    result = SyncReport()
    client.pull(result)
    seconds = time.perf_counter() - started
    with client.store.read() as db:
        copies = db.scalar(select(func.count()).select_from(Copy))
        titles = list(db.execute(select(Title.__table__)).mappings())
        copy_rows = list(db.execute(select(Copy.__table__)).mappings())
    client.store.close()

    floor_store = Store.open(folder / "floor-kiosk.db")
    started = time.perf_counter()
    with floor_store.write() as db:
        db.execute(insert(Title), [dict(r) for r in titles])
        db.execute(insert(Copy), [dict(r) for r in copy_rows])
    floor = time.perf_counter() - started
    floor_store.close()
    report(
        f"fresh kiosk's pull of {copies:,} copies ({result.pulled:,} changes)",
        result.pulled,
        seconds,
        floor,
    )


def bench_many(database: Database, folder: Path, url: str) -> None:
    clients = [
        enrolled_kiosk(database, folder / f"kiosk-{n:02d}", url, f"kiosk-{n:02d}")
        for n in range(KIOSKS)
    ]
    for n, client in enumerate(clients):
        loan_events(client.store, EVENTS_PER_KIOSK, 10_000 + n * EVENTS_PER_KIOSK)
    errors: list[str] = []
    gate = threading.Barrier(KIOSKS)

    def push(client: SyncClient) -> None:
        gate.wait()
        try:
            client.push(SyncReport())
        except Exception as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=push, args=(c,)) for c in clients]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    total = KIOSKS * EVENTS_PER_KIOSK
    locked = sum("locked" in e for e in errors)
    print(
        f"{KIOSKS} kiosks pushing at once: {total:,} events in {seconds:.2f} s = "
        f"{total / seconds:,.0f} events/s; {len(errors)} failed pushes, "
        f'{locked} "database is locked"'
    )
    for client in clients:
        client.store.close()
    if errors:
        print("\n".join(errors[:5]))
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="folder for the databases (default: temporary)")
    parser.add_argument("--db", help="office database URL (default: SQLite in the folder)")
    parser.add_argument("--copies", type=int, default=20_000)
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench-sync-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = database_url(folder / "office", args.db)
    (folder / "office").mkdir(exist_ok=True)
    database = Database.open(url)
    print(f"office database: {database.url.get_backend_name()} in {folder}")
    started = time.perf_counter()
    make_catalogue(database, folder, args.copies)
    print(f"catalogue of {args.copies:,} copies made in {time.perf_counter() - started:.1f} s")
    port = free_port()
    server = start_server(folder / "office", url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        bench_push(database, folder, base)
        bench_pull(database, folder, base)
        bench_many(database, folder, base)
    finally:
        server.terminate()
        server.wait(10)
        database.close()
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
