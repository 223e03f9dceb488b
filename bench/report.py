"""The benchmarks' figures in one machine-readable file, and the table the README shows.

Each benchmark prints its figures and calls :func:`record` for those with a goal; when the
variable BENCH_RESULTS names a file (``make bench`` sets bench/results.json) they are merged
into it, each with when and on what it was measured. Then

    .venv/bin/python bench/report.py [--results bench/results.json] [--readme README.md]

prints the table of the latest figures against their goals and, with --readme, puts it in the
README between its two markers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sqlite3
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results.json")
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def record(
    key: str,
    *,
    what: str,
    now: str,
    goal: str,
    met: bool | None,
    floor: str = "—",
    ratio: float | None = None,
    **figures: float | int | str,
) -> None:
    """Keep one measured figure (*now*, in words and numbers) against its *goal*.

    *figures* are the raw numbers (seconds, milliseconds, counts) for whoever reads the file.
    """
    path = os.environ.get("BENCH_RESULTS")
    if not path:
        return
    target = Path(path)
    data: dict[str, Any] = json.loads(target.read_text("utf-8")) if target.exists() else {}
    data.setdefault("figures", {})[key] = {
        "what": what,
        "now": now,
        "floor": floor,
        "ratio": None if ratio is None else round(ratio, 4),  # the table rounds it once
        "goal": goal,
        "met": met,
        "figures": figures,
        "measured": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
    partial.replace(target)


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


def table(data: dict[str, Any]) -> str:
    rows = [
        "| what | now | floor / bare | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for figure in data.get("figures", {}).values():
        ratio = "—" if figure["ratio"] is None else f"{figure['ratio']:.1f}x"
        met = {True: "yes", False: "**no**", None: "—"}[figure["met"]]
        rows.append(
            f"| {figure['what']} | {figure['now']} | {figure['floor']} | {ratio} | "
            f"{figure['goal']} | {met} |"
        )
    machines = sorted({f["machine"] for f in data.get("figures", {}).values()})
    dates = sorted(f["measured"][:10] for f in data.get("figures", {}).values())
    when = f"{dates[0]} to {dates[-1]}" if dates and dates[0] != dates[-1] else "".join(dates[:1])
    return "\n".join(rows) + f"\n\nMeasured {when} on {'; '.join(machines)}.\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--readme", type=Path, help="README to update between its markers")
    args = parser.parse_args()
    if not args.results.exists():
        sys.exit(f"{args.results}: no figures yet (make bench writes them)")
    text = table(json.loads(args.results.read_text("utf-8")))
    print(text)
    if args.readme:
        readme = args.readme.read_text("utf-8")
        if START not in readme or END not in readme:
            sys.exit(f"{args.readme}: no {START} ... {END} markers to put the table between")
        before, rest = readme.split(START, 1)
        after = rest.split(END, 1)[1]
        args.readme.write_text(f"{before}{START}\n{text}{END}{after}", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
