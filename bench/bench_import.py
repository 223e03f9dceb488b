"""A long class list imported by `kiosk import-students`, against a bare bulk insert.

A CSV of --rows students (default 200,000) is imported into a new kiosk, then again (every
row unchanged), each by the real command in a process of its own, whose time and peak memory
are measured. In the same run, the floor: the same file read by the csv module and written by
one sqlite3 executemany in one transaction, with the kiosk's durability settings, in the same
folder. The import checks every row first, so it cannot reach the floor; what matters is that
it stays a small multiple of it and that its memory does not grow with the file (the import
of a tenth of the rows is measured too: a Raspberry Pi has 1 GB).

    .venv/bin/python bench/bench_import.py [--rows 200000] [--dir FOLDER]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_class_list(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["card", "name", "class", "grade"])
        for n in range(rows):
            grade = 3 + n % 4
            writer.writerow([f"P{n:07d}", f"学生{n}", f"{grade}-{1 + n % 8}", grade])


def timed_import(folder: Path, csv_path: Path) -> tuple[float, float, str]:
    """Seconds, peak resident megabytes and summary of one `kiosk import-students`."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "--data", str(folder), "import-students", csv_path],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    out = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)  # the resources of this child alone
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"the import failed: {out}")
    return elapsed, usage.ru_maxrss / 1024, out.strip()


def floor(folder: Path, csv_path: Path) -> float:
    """The same rows read by csv and written with one executemany, as bare as it gets."""
    started = time.perf_counter()
    con = sqlite3.connect(folder / "floor.db", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute(
        "CREATE TABLE patrons (id INTEGER PRIMARY KEY, card TEXT UNIQUE, name TEXT,"
        " class_name TEXT, grade INTEGER)"
    )
    with csv_path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        con.execute("BEGIN IMMEDIATE")
        insert = "INSERT INTO patrons (card, name, class_name, grade) VALUES (?, ?, ?, ?)"
        con.executemany(insert, reader)
        con.execute("COMMIT")
    con.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--dir", type=Path, help="folder to work in (default: a temporary one)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(dir=args.dir, prefix="bench-import-"))
    try:
        small, big = work / "small.csv", work / "big.csv"
        write_class_list(small, args.rows // 10)
        write_class_list(big, args.rows)
        bare = floor(work, big)
        small_s, small_mb, _ = timed_import(work / "small", small)
        first_s, first_mb, first = timed_import(work / "big", big)
        again_s, again_mb, again = timed_import(work / "big", big)
        size = big.stat().st_size / 1e6
        print(f"class list: {args.rows:,} rows, {size:.1f} MB")
        print(f"floor (csv + one executemany): {bare:.2f} s, {args.rows / bare:,.0f} rows/s")
        for label, secs, peak, summary in (
            ("import", first_s, first_mb, first),
            ("again", again_s, again_mb, again),
        ):
            print(
                f"{label:>6}: {secs:.2f} s, {args.rows / secs:,.0f} rows/s, {secs / bare:.1f}x the"
                f" floor, peak {peak:.0f} MB  ({summary})"
            )
        print(
            f"memory: {small_mb:.0f} MB for {args.rows // 10:,} rows, {first_mb:.0f} MB for"
            f" {args.rows:,} (ratio {first_mb / small_mb:.2f}; {small_s:.2f} s for the small list)"
        )
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
