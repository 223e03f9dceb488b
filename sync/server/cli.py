"""The ``library-server`` command: run the office server, and the librarian's commands."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import getpass
import ipaddress
import json
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import platformdirs

from kiosk import money
from kiosk.classes import STYLES
from kiosk.importer import BadImportFile
from kiosk.models import Week
from sync import wire
from sync.bundle import BundleError
from sync.server.db import Database, database_url
from sync.server.services import (
    Refusal,
    Sentence,
    bundles,
    catalogue,
    classlists,
    compensation,
    conflicts,
    desk,
    helpers,
    kiosks,
    librarians,
    loans,
    overdue,
    plan,
    printing,
    repairs,
    rules,
    stocktakes,
    students,
)

DB_ENV = "LIBRARY_SERVER_DB"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="library-server", description="Library Kiosk office")
    _global_options(parser)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo",
        help="the office of a demo school (a semester played through two kiosks) on this "
        "computer, with the kiosk's demo beside it (what `make demo` runs)",
    )
    demo.add_argument("--port", type=int, default=wire.PORT, help="(any free port if taken)")
    demo.add_argument("--no-kiosk", action="store_true", help="the office alone")
    demo.add_argument("--small", action="store_true", help="a school of 24 students, quick")
    serve = commands.add_parser("serve", help="run the server for kiosks")
    serve.add_argument(
        "--host", default="0.0.0.0", help="the address to listen on (default: every network)"
    )
    serve.add_argument("--port", type=int, default=wire.PORT)

    for what in ("students", "books"):
        cmd = commands.add_parser(f"import-{what}", help=f"import {what} from CSV or Excel (.xlsx)")
        cmd.add_argument("file", type=Path)
        cmd.add_argument("--skip-bad", action="store_true", help="import the good rows anyway")
    cmd = commands.choices["import-students"]
    cmd.add_argument(
        "--map",
        action="append",
        default=None,
        metavar="COLUMN=FIELD",
        help="the field a column holds, where its name is not a known one (fields: "
        + ", ".join(classlists.FIELDS)
        + "; nothing after = to leave the column out); remembered for files with the same "
        "columns",
    )
    cmd.add_argument(
        "--class-style",
        choices=list(STYLES.values()),
        help="the form classes are shown in (default: as chosen before, else the file's)",
    )
    cmd.add_argument(
        "--deactivate-missing",
        action="store_true",
        help="deactivate the students of the file's classes who are not in it",
    )
    cmd.add_argument("--dry-run", action="store_true", help="show what it would do; save nothing")

    librarian = commands.add_parser(
        "create-librarian", help="an account for the office's pages (asks for the password)"
    )
    librarian.add_argument("name")
    librarian.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    commands.add_parser("enroll-code", help="a one-time code to enroll a new kiosk")
    kiosks = commands.add_parser("kiosks", help="enrolled kiosks: last sync, waiting, clock")
    kiosks.add_argument("--json", action="store_true", help="one JSON object per line")
    loans = commands.add_parser("loans", help="current loans")
    late = commands.add_parser(
        "overdue", help="books past their due date; --pdf: the slips for the homeroom teachers"
    )
    for listing in (loans, late):
        listing.add_argument("--class", dest="class_name", help="of one class's readers (e.g. 3-1)")
        listing.add_argument("--grade", type=int, help="of one grade's readers")
        listing.add_argument("--json", action="store_true", help="one JSON object per line")
    late.add_argument(
        "--pdf", type=Path, metavar="FILE.pdf", help="write the slips: a page for each class"
    )
    late.add_argument(
        "--language", choices=["zh_CN", "en"], default="zh_CN", help="of the slips (default zh_CN)"
    )
    revoke = commands.add_parser("revoke", help="refuse a kiosk from now on")
    revoke.add_argument("kiosk", help="the kiosk's name or id")
    conflicts = commands.add_parser(
        "conflicts", help="what kiosks reported that did not fit, still to look into"
    )
    conflicts.add_argument("--json", action="store_true", help="one JSON object per line")
    conflicts.add_argument("--resolved", action="store_true", help="those resolved instead")
    resolve = commands.add_parser(
        "resolve-conflict", help="a conflict looked into: off the list, with a note"
    )
    resolve.add_argument("id", type=int, help="the conflict's number (see `conflicts`)")
    resolve.add_argument("--note", required=True, help="what you found or did")
    resolve.add_argument("--by", help="who resolved it (default: the computer's user name)")

    by = argparse.ArgumentParser(add_help=False)
    by.add_argument("--by", default=getpass.getuser(), help="the librarian (default: this user)")
    lend = commands.add_parser("lend", parents=[by], help="lend books at the desk (kiosks' rules)")
    lend.add_argument("card")
    lend.add_argument("copies", nargs="+", metavar="copy", help="barcode (or ISBN if unlabelled)")
    lend.add_argument(
        "--reason", default="", help="lend over a refusal the librarian may set aside (logged)"
    )
    renew = commands.add_parser("renew", parents=[by], help="renew a reader's books at the desk")
    renew.add_argument("card")
    renew.add_argument("copies", nargs="+", metavar="copy")
    renew.add_argument("--reason", default="", help="renew over a refusal (logged)")
    give = commands.add_parser("return", parents=[by], help="take books back at the desk")
    give.add_argument("copies", nargs="+", metavar="copy")
    sets = commands.add_parser("class-sets", help="class sets with books out, per class")
    sets.add_argument("--returned", action="store_true", help="sets brought back too")
    sets.add_argument("--json", action="store_true", help="one JSON object per line")
    lend_set = commands.add_parser(
        "lend-class-set", parents=[by], help="lend books together to a class until a date"
    )
    lend_set.add_argument("copies", nargs="+", metavar="copy")
    lend_set.add_argument("--holder", required=True, help="card of the teacher or student")
    lend_set.add_argument("--until", required=True, type=dt.date.fromisoformat, help="2026-12-31")
    lend_set.add_argument("--class", dest="class_name", default="", help="the class it is for")
    lend_set.add_argument("--note", default="")
    back = commands.add_parser(
        "return-class-set", parents=[by], help="take back every book of a class set still out"
    )
    back.add_argument("number", type=int)
    overrides = commands.add_parser("overrides", help="refusals set aside, at the desk and kiosks")
    overrides.add_argument("--json", action="store_true", help="one JSON object per line")

    owed = commands.add_parser(
        "compensation", help="compensation for damaged and lost books (not settled yet)"
    )
    owed.add_argument("--class", dest="class_name", help="of one class's readers (e.g. 3-1)")
    settled = owed.add_mutually_exclusive_group()
    settled.add_argument("--settled", action="store_true", help="those settled instead")
    settled.add_argument("--all", action="store_true", help="settled or not")
    settled.add_argument(
        "--books", action="store_true", help="damaged and lost books with nothing recorded yet"
    )
    owed.add_argument("--json", action="store_true", help="one JSON object per line")
    charge = commands.add_parser(
        "record-compensation", parents=[by], help="what a reader owes for a damaged or lost book"
    )
    charge.add_argument("copy", help="barcode (or ISBN if unlabelled)")
    charge.add_argument("--card", required=True, help="the reader who owes it")
    charge.add_argument("--reason", required=True, choices=list(compensation.REASONS))
    charge.add_argument("--amount", default="", help="in yuan, e.g. 25.80 (default: its price)")
    charge.add_argument("--note", default="")
    paid = commands.add_parser("settle-compensation", parents=[by], help="a compensation paid")
    paid.add_argument("number", type=int, help="its number (see `compensation`)")
    paid.add_argument("--on", type=_day, metavar="DATE", help="the day it was paid (default today)")
    mistake = commands.add_parser(
        "cancel-compensation", parents=[by], help="a compensation recorded by mistake, owed no more"
    )
    mistake.add_argument("number", type=int, help="its number (see `compensation --all`)")
    mistake.add_argument("--reason", required=True, help="why it is cancelled (kept with it)")

    away = commands.add_parser(
        "repairs", help="copies away being repaired (mark-copy CODE in_repair / available)"
    )
    away.add_argument(
        "--back-since", type=_day, metavar="DATE", help="those back from repair since then instead"
    )
    away.add_argument("--json", action="store_true", help="one JSON object per line")
    mark = commands.add_parser("mark-copy", help="set a copy's status (lost, withdrawn, ...)")
    mark.add_argument("copy", help="barcode (or ISBN of an unlabelled copy)")
    mark.add_argument("status")
    year = commands.add_parser(
        "new-school-year", help="every class up a grade, grade 6 leaves (shown; --yes does it)"
    )
    year.add_argument("--yes", action="store_true", help="do it (without it: only show)")
    remove = commands.add_parser("remove-student", help="a student who left: no more loans")
    remove.add_argument("card")
    rules = commands.add_parser("rules", help="policies and timetable for every kiosk")
    rules.add_argument(
        "file", type=Path, nargs="?", help="a file in kiosk.toml's format (none: show them)"
    )
    close = commands.add_parser("close", help="close the library on a day, or days in a row")
    close.add_argument("first", metavar="FIRST", help="the first day closed, like 2026-10-01")
    close.add_argument(
        "last", metavar="LAST", nargs="?", default="", help="the last (if not FIRST)"
    )
    close.add_argument("--note", default="", help="why it is closed (shown to the librarian)")
    reopen = commands.add_parser("reopen", help="open again on closed days")
    reopen.add_argument("first", type=_day, metavar="FIRST")
    reopen.add_argument("last", type=_day, metavar="LAST", nargs="?")

    listed = commands.add_parser("helpers", help="the small librarians, and who has a PIN")
    listed.add_argument("--json", action="store_true", help="one JSON object per line")
    helper = commands.add_parser("helper", help="make a student a small librarian")
    helper.add_argument("card")
    helper.add_argument("--pin", action="store_true", help="and set their PIN (asked for)")
    helper.add_argument("--remove", action="store_true", help="no longer a small librarian")
    pin = commands.add_parser("set-pin", help="set or reset a small librarian's PIN (asked for)")
    pin.add_argument("card")
    pin.add_argument("--pin-stdin", action="store_true", help="read the PIN from standard input")
    done = commands.add_parser(
        "helper-actions", help="what small librarians did in the kiosks' helpers' menu"
    )
    done.add_argument("--card", help="one small librarian's")
    done.add_argument("--json", action="store_true", help="one JSON object per line")

    cards = commands.add_parser(
        "print-cards", help="library cards as PDF: 10 to an A4 sheet, with cut marks"
    )
    cards.add_argument("--class", dest="class_name", help="the cards of one class (e.g. 3-1)")
    cards.add_argument("--cards", nargs="+", metavar="CARD", help="these cards, in this order")
    cards.add_argument("--added-since", type=_day, metavar="DATE", help="students added since")
    cards.add_argument("--school", help="the school's name on the cards (kept for next time)")
    cards.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.pdf")
    labels = commands.add_parser("print-labels", help="barcode labels as PDF, on A4 label sheets")
    which = labels.add_mutually_exclusive_group(required=True)
    which.add_argument("--copies", nargs="+", metavar="BARCODE", help="these copies, in order")
    which.add_argument("--added-since", type=_day, metavar="DATE", help="copies added since")
    which.add_argument(
        "--calibration", action="store_true", help="one page of numbered outlines, to check"
    )
    labels.add_argument(
        "--layout",
        default=printing.DEFAULT_LAYOUT,
        help=f"{', '.join(printing.LAYOUTS)} (default {printing.DEFAULT_LAYOUT}) or a grid:"
        " COLUMNSxROWS,WIDTHxHEIGHT,TOP,LEFT,ACROSS,DOWN in mm",
    )
    labels.add_argument(
        "--start", type=int, default=1, help="first label's position on the sheet (1: top left)"
    )
    labels.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.pdf")
    shelf_labels = commands.add_parser(
        "print-shelf-labels",
        help="shelf labels as PDF (the shelf's name and its barcode, for the stocktake)",
    )
    shelf_labels.add_argument(
        "--shelf", action="append", help="this shelf only (again for more; default: every shelf)"
    )
    shelf_labels.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.pdf")
    begin = commands.add_parser(
        "stocktake-start", help="start a stocktake; kiosks learn it with their next sync"
    )
    begin.add_argument("--name", default="", help="its name (default: today's date)")
    begin.add_argument(
        "--shelf", action="append", default=[], help="count this shelf only (again for more)"
    )
    begin.add_argument(
        "--class",
        dest="classifications",
        action="append",
        default=[],
        metavar="CLASSIFICATION",
        help="count the copies whose classification starts so only (I, I24...; again for more)",
    )
    show = commands.add_parser(
        "stocktake", help="the stocktake going on, shelf by shelf; else every stocktake"
    )
    show.add_argument("id", nargs="?", type=int, help="a stocktake's number")
    close = commands.add_parser(
        "stocktake-close", help="close the stocktake going on and keep its result"
    )
    close.add_argument(
        "--not-seen",
        choices=stocktakes.NOT_SEEN_ACTIONS,
        required=True,
        help="missing: mark the copies nobody saw lost; keep: leave them as they are",
    )
    report = commands.add_parser("stocktake-report", help="a stocktake's counts and lists")
    report.add_argument("id", type=int, help="its number (library-server stocktake lists them)")
    report.add_argument("--csv", type=Path, help="write the lists to this CSV file as well")

    export = commands.add_parser(
        "export-bundle", help="write the changes for a kiosk without network to a file"
    )
    export.add_argument("kiosk", help="the kiosk's name or id")
    export.add_argument("path", type=Path)
    imp = commands.add_parser("import-bundle", help="apply a kiosk's USB bundle; write a reply")
    imp.add_argument("file", type=Path)
    imp.add_argument("--reply", type=Path, help="where to write the reply (default: beside it)")
    backup = commands.add_parser("backup", help="copy the SQLite database to a dated file")
    backup.add_argument("--to", type=Path, help="folder for the copies (default: DATA/backups)")
    backup.add_argument("--keep-days", type=int, default=14, help="delete copies older than this")
    restore = commands.add_parser(
        "restore", help="put a backup in place of the database (stop the server first)"
    )
    restore.add_argument("file", type=Path)
    for command in commands.choices.values():
        _global_options(command, after_command=True)
    return parser


def _global_options(parser: argparse.ArgumentParser, *, after_command: bool = False) -> None:
    """--data and --db, before the command or after it (`library-server serve --data DIR`);
    after it they stay unset unless given, so that a value given before the command holds."""
    data = platformdirs.user_data_dir("library-server")
    parser.add_argument(
        "--data",
        type=Path,
        default=argparse.SUPPRESS if after_command else Path(data),
        help="folder for the SQLite database (default: the user's data folder)",
    )
    parser.add_argument(
        "--db",
        default=argparse.SUPPRESS if after_command else os.environ.get(DB_ENV),
        help=f"database URL, e.g. postgresql+psycopg://user@host/library (or ${DB_ENV}); "
        "default: SQLite in --data",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    if args.command in ("backup", "restore"):  # also when the database cannot be opened
        return _backup_or_restore(args)
    if args.command == "demo":  # its own database, beside the office's
        from sync.server import demo

        return demo.run(
            args.data / "demo", port=args.port, small=args.small, with_kiosk=not args.no_kiosk
        )
    try:
        database = Database.open(database_url(args.data, args.db))
    except Exception as exc:  # a wrong URL, an unreachable or damaged database
        print(f"library-server: cannot open the database: {exc}", file=sys.stderr)
        return 2
    try:
        return _COMMANDS[args.command](database, args)
    except (Refusal, BundleError) as exc:
        print(f"library-server: {exc}", file=sys.stderr)
        return 1
    except BadImportFile as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    finally:
        database.close()


def _serve(database: Database, args: argparse.Namespace) -> int:
    import uvicorn

    from sync.server.app import create_app

    where = database.url.render_as_string(hide_password=True)
    addresses = _addresses(args.host)
    urls = [f"http://{address}:{args.port}" for address in addresses or ["127.0.0.1"]]
    alone = "" if addresses else " (only from this computer: it has no network address now)"
    print(f"library-server: database {where}", flush=True)
    print(f"library-server: kiosks reach this office at {' or '.join(urls)}{alone}", flush=True)
    print(
        "library-server: to add a kiosk, run `library-server enroll-code` here, then "
        f"`kiosk enroll {urls[0].removeprefix('http://')} CODE` on the kiosk "
        f"(the API is described at {urls[0]}/docs)",
        flush=True,
    )
    app = create_app(database)
    # What start-up made lives as long as the server: kept out of the collector's sweeps, which
    # would otherwise walk it again and again while a batch of events is applied.
    gc.freeze()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _addresses(host: str) -> list[str]:
    """Where kiosks find a server listening on *host*: *host* itself, or when it listens on
    every network (0.0.0.0, ::) this computer's addresses and then its name. Empty: no network."""
    if host not in ("0.0.0.0", "::", ""):
        return [f"[{host}]" if ":" in host else host]
    found: list[str] = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # sends nothing: asks which address routes out
            found.append(probe.getsockname()[0])
    except OSError:
        pass  # no route out of this computer
    name = socket.gethostname()
    try:
        named = [info[4][0] for info in socket.getaddrinfo(name, None, socket.AF_INET)]
    except OSError:
        named = []
    for address in named:
        if not ipaddress.ip_address(address).is_loopback and address not in found:
            found.append(address)
    return [*found, name] if found and name else found


def _import(database: Database, args: argparse.Namespace) -> int:
    if args.command == "import-students":
        return _import_students(database, args)
    with database.write() as session:
        report = catalogue.import_books(session, args.file, skip_bad=args.skip_bad)
    report.show("books", sys.stdout, sys.stderr)
    return 0


def _import_students(database: Database, args: argparse.Namespace) -> int:
    mapping = None
    if args.map is not None:
        chosen = {}
        for pair in args.map:
            column, equals, field_name = pair.partition("=")
            if not equals:
                print(f"library-server: --map {pair!r}: write COLUMN=FIELD", file=sys.stderr)
                return 2
            chosen[column.strip()] = field_name.strip()
        mapping = classlists.mapping_from(args.file, chosen)
    style = {v: k for k, v in STYLES.items()}.get(args.class_style or "")
    with database.write() as session:
        if args.dry_run:
            found = classlists.preview(
                session, args.file, mapping=mapping, style=style, today=dt.date.today()
            )
            _show_changes(found, sys.stdout)
            for line in found.problems:
                print(f"bad {line}", file=sys.stderr)
            print(f"dry run: nothing saved ({found.rows} rows read)")
            return 0
        done = classlists.import_file(
            session, args.file, mapping=mapping, style=style, skip_bad=args.skip_bad,
            deactivate_missing=args.deactivate_missing, today=dt.date.today(),
        )  # fmt: skip
    done.report.show("students", sys.stdout, sys.stderr)
    _show_changes(done.preview, sys.stdout, deactivated=done.deactivated)
    return 0


def _show_changes(found: classlists.Preview, out: Any, deactivated: int = 0) -> None:
    """Who is new, moved, back or missing: what a librarian checks after a class list."""
    for arrival in found.new:
        made = " (new card)" if arrival.made else ""
        print(f"  new {arrival.name} ({arrival.class_name or '-'}): card {arrival.card}{made}",
              file=out)  # fmt: skip
    for moved in found.moved:
        print(f"  moved {moved.name} ({moved.card}): {moved.old or '-'} → {moved.new or '-'}",
              file=out)  # fmt: skip
    for back in found.back:
        print(f"  back {back.name} ({back.card}): active again", file=out)
    for gone in found.missing:
        print(f"  missing from the file: {gone.name} ({gone.card}), {gone.class_name}", file=out)
    if found.missing:
        print(
            f"  {deactivated} deactivated" if deactivated
            else "  they stay active (--deactivate-missing deactivates them)",
            file=out,
        )  # fmt: skip


def _create_librarian(database: Database, args: argparse.Namespace) -> int:
    if args.password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("the same password again: ") != password:
            print("library-server: the two passwords are not the same", file=sys.stderr)
            return 1
    with database.write() as session:
        librarian = librarians.create_librarian(session, args.name, password)
    print(f"{librarian.name} can sign in to the office's pages now")
    return 0


def _enroll_code(database: Database, _args: argparse.Namespace) -> int:
    with database.write() as session:
        code = kiosks.new_enroll_code(session)
    print("On the kiosk, run: kiosk enroll URL CODE   (the code works once, for a day)")
    print(code)
    return 0


def _kiosks(database: Database, args: argparse.Namespace) -> int:
    with database.read() as session:
        lines = kiosks.kiosks(session)
        zone = plan.current(session).zone()
    for k in lines:
        if args.json:
            print(_json_line(k))
            continue
        synced = f"{k.last_sync.astimezone(zone):%Y-%m-%d %H:%M}" if k.last_sync else "never"
        offset = "?" if k.clock_offset_seconds is None else f"{k.clock_offset_seconds:+.1f} s"
        state = "REVOKED " if k.revoked else ""
        held = f", {k.events_held_back} held back for missing ones" if k.events_held_back else ""
        print(
            f"{k.id:3}  {k.name:16} {state}last sync {synced}, {k.events_waiting} waiting{held}, "
            f"clock {offset}, version {k.version or '?'}"
            + (f"  WARNING: {k.warning}" if k.warning else "")
        )
    if not lines and not args.json:
        print("no kiosks enrolled yet (library-server enroll-code)")
    return 0


def _loans(database: Database, args: argparse.Namespace) -> int:
    """loans, overdue: the books out (or late), by class; overdue --pdf writes the slips."""
    with database.read() as session:
        today = overdue.today(session)
        late_on = today if args.command == "overdue" else None
        lines = loans.current_loans(
            session, class_name=args.class_name, grade=args.grade, late_on=late_on
        )
        if late_on is not None and args.pdf is not None:
            slips = overdue.slips(session, today, class_name=args.class_name, grade=args.grade)
            school = printing.school_name(session)
    if late_on is not None:
        lines = overdue.in_school_order(lines)
    for loan in lines:
        if args.json:
            print(_json_line({**dataclasses.asdict(loan), "late_days": loan.late_days(today)}))
            continue
        late = f", {loan.late_days(today)} days late" if loan.late_days(today) else ""
        print(
            f"{loan.class_name or '-':8} {loan.patron or '?':10} {loan.name or '?':10} "
            f"{loan.copy:14} {(loan.title or '?')[:30]:30} due {loan.due}{late}  at {loan.where}"
        )
    if not lines and not args.json:
        print("no book is overdue" if late_on else "no books are on loan")
    if late_on is not None and args.pdf is not None:
        from sync.server.web.i18n import translations

        pdf = overdue.slips_pdf(slips, today, translations(args.language).gettext, school)
        _write_pdf(args.pdf, pdf)
        books = sum(slip.books for slip in slips)
        print(f"{len(slips)} overdue slips ({books} books), a page for each class: {args.pdf}")
    return 0


def _revoke(database: Database, args: argparse.Namespace) -> int:
    with database.write() as session:
        kiosk = kiosks.revoke(session, args.kiosk)
    print(f"kiosk {kiosk.name} (id {kiosk.id}) is revoked; it must be enrolled again")
    return 0


def _conflicts(database: Database, args: argparse.Namespace) -> int:
    with database.read() as session:
        rows = conflicts.conflicts(session, resolved=args.resolved)
    for row in rows:
        if args.json:
            print(_json_line(row))
            continue
        found = f"{row.found_at:%Y-%m-%d %H:%M}"
        print(f"{row.id:4} {found} {row.kiosk:12} {row.kind}: {row.explained}")
        if row.resolved_at:
            when = f"{row.resolved_at:%Y-%m-%d %H:%M}"
            print(f"     resolved by {row.resolved_by} {when}: {row.note}")
    if not rows and not args.json:
        if args.resolved:
            print("no conflict has been resolved yet")
        else:
            print("no conflicts: everything the kiosks reported fitted")
    return 0


def _resolve_conflict(database: Database, args: argparse.Namespace) -> int:
    with database.write() as session:
        conflict = conflicts.resolve(session, args.id, args.note, args.by or _user())
    print(f"conflict {conflict.id} resolved; the note is kept with it")
    return 0


def _desk(database: Database, args: argparse.Namespace) -> int:
    """lend, renew, return: each copy in turn, as scanned at the desk; 1 if any was refused."""
    answers = []
    for code in args.copies:
        with database.write() as session:
            if args.command == "lend":
                answer = desk.lend(session, args.card, code, librarian=args.by, reason=args.reason)
            elif args.command == "renew":
                answer = desk.renew(session, args.card, code, librarian=args.by, reason=args.reason)
            else:
                answer = desk.give_back(session, code, librarian=args.by)
        answers.append(answer)
        print(_said(answer, code))
    return 0 if all(a.outcome in ("lent", "renewed", "returned") for a in answers) else 1


def _said(answer: desk.Answer, code: str) -> str:
    what = f"{answer.copy or code}" + (f" ({answer.title})" if answer.title else "")
    card = answer.reader.card if answer.reader else None
    match answer.outcome:
        case "lent":
            return f"lent {what} to {card}, due {answer.due}"
        case "renewed":
            return f"renewed {what} for {card}, due {answer.due}"
        case "returned":
            late = f", {answer.late_days} days late" if answer.late_days else ""
            return f"returned {what} from {answer.holder}{late}"
        case "choice":
            return f"{what} is already lent to {card}: return or renew it"
    detail = ", ".join(f"{k} {v}" for k, v in answer.detail.items())
    hint = " (--reason REASON sets it aside)" if answer.overridable else ""
    return f"refused {what}: {answer.refusal}" + (f" ({detail})" if detail else "") + hint


def _class_sets(database: Database, args: argparse.Namespace) -> int:
    with database.read() as session:
        lines = desk.class_sets(session, returned=args.returned)
    for line in lines:
        if args.json:
            print(_json_line(line))
        else:
            late = f", {line.late_days} days late" if line.late_days else ""
            print(
                f"set {line.id:<4} {line.class_name or '-':12} {line.holder_name} "
                f"({line.holder_card}): {line.out} of {len(line.books)} out, due {line.due}{late}"
            )
    if not lines and not args.json:
        print("no class set is out")
    return 0


def _lend_class_set(database: Database, args: argparse.Namespace) -> int:
    try:
        with database.write() as session:
            line = desk.lend_class_set(
                session, holder=args.holder, class_name=args.class_name, due=args.until,
                codes=args.copies, librarian=args.by, note=args.note,
            )  # fmt: skip
    except desk.BadSet as bad:
        for code, reason, detail in bad.problems:
            print(f"{code}: {reason}" + (f" ({detail})" if detail else ""), file=sys.stderr)
        raise
    print(f"set {line.id}: {len(line.books)} books lent to {line.holder_name}, due {line.due}")
    return 0


def _return_class_set(database: Database, args: argparse.Namespace) -> int:
    with database.write() as session:
        back = desk.return_class_set(session, args.number, librarian=args.by)
    print(f"set {args.number}: {back} books taken back")
    return 0


def _overrides(database: Database, args: argparse.Namespace) -> int:
    with database.read() as session:
        lines = desk.overrides(session)
    for line in lines:
        if args.json:
            print(_json_line(line))
        else:
            print(
                f"{line.at:%Y-%m-%d %H:%M} {line.where:10} {line.by:12} {line.action:8} "
                f"{line.card or '?'} {line.copy}: {line.refusal}"
                + (f", because {line.reason}" if line.reason else "")
            )
    if not lines and not args.json:
        print("no refusal has been set aside")
    return 0


def _compensation(database: Database, args: argparse.Namespace) -> int:
    with database.read() as session:
        if args.books:
            books = compensation.books_to_settle(session)
        else:
            settled = None if args.all else bool(args.settled)
            lines = compensation.compensations(session, class_name=args.class_name, settled=settled)
        zone = plan.current(session).zone()
    if args.books:
        shown = [b for b in books if not args.class_name or b.class_name == args.class_name]
        for book in shown:
            if args.json:
                print(_json_line(book))
                continue
            price = money.yuan(book.price_cents) if book.price_cents is not None else "?"
            reader = f"{book.card} {book.name or ''} {book.class_name or ''}" if book.card else "-"
            print(f"{book.copy:14} {book.title[:30]:30} {book.status:8} {price:>8}  last: {reader}")
        if not shown and not args.json:
            print("no damaged or lost book is waiting for a decision")
        return 0
    for line in lines:
        if args.json:
            print(_json_line(line))
            continue
        settled_on = f"settled {line.settled_on}" if line.settled_on else "not settled"
        if line.cancelled_at is not None:
            settled_on = (
                f"cancelled {line.cancelled_at.astimezone(zone):%Y-%m-%d} by {line.cancelled_by}:"
                f" {line.cancel_reason}"
            )
        print(
            f"{line.id:4} {line.class_name or '-':8} {line.card:10} {line.name:10} "
            f"{line.copy:14} {line.title[:30]:30} {line.reason:8} "
            f"{money.yuan(line.amount_cents):>8}  {settled_on}"
        )
    if not lines and not args.json:
        print("no compensation" + ("" if args.all or args.settled else " is owed"))
    return 0


def _record_compensation(database: Database, args: argparse.Namespace) -> int:
    with database.write() as session:
        line = compensation.record(
            session, code=args.copy, card=args.card, reason=args.reason, amount=args.amount,
            note=args.note, librarian=args.by,
        )  # fmt: skip
    print(
        f"compensation {line.id}: {line.name} ({line.card}) owes {money.yuan(line.amount_cents)}"
        f" yuan for {line.copy} ({line.title}), {line.reason}"
    )
    return 0


def _settle_compensation(database: Database, args: argparse.Namespace) -> int:
    with database.write() as session:
        line = compensation.settle(session, args.number, librarian=args.by, on=args.on)
    print(f"compensation {line.id} of {line.name} ({line.card}) settled on {line.settled_on}")
    return 0


def _cancel_compensation(database: Database, args: argparse.Namespace) -> int:
    with database.write() as session:
        line = compensation.cancel(session, args.number, librarian=args.by, reason=args.reason)
    print(f"compensation {line.id} of {line.name} ({line.card}) cancelled: {line.cancel_reason}")
    return 0


def _repairs(database: Database, args: argparse.Namespace) -> int:
    with database.read() as session:
        today = overdue.today(session)
        if args.back_since is not None:
            lines = repairs.came_back(session, args.back_since)
        else:
            lines = repairs.in_repair(session)
    for line in lines:
        if args.json:
            print(_json_line(line))
            continue
        sent = f"sent {line.sent_on}" if line.sent_on else "sent on a day not recorded"
        if line.back_on is not None:
            when = f"{sent}, back {line.back_on} as {line.came_back_as}"
        else:
            days = line.days_away(today)
            when = sent + (f", {days} days away" if days is not None else "")
        print(f"{line.copy:14} {line.title[:30]:30} {when}")
    if not lines and not args.json:
        print("no copy came back from repair then" if args.back_since else "no copy is in repair")
    return 0


def _mark(database: Database, args: argparse.Namespace) -> int:
    with database.write() as session:
        copy = catalogue.mark_copy(session, args.copy, args.status, by=_user())
    print(f"{args.copy} is now {copy.status}")
    return 0


def _remove(database: Database, args: argparse.Namespace) -> int:
    with database.write() as session:
        patron = catalogue.remove_patron(session, args.card)
    print(f"{patron.name} ({patron.card}) removed; their loan records stay")
    return 0


def _new_school_year(database: Database, args: argparse.Namespace) -> int:
    with database.write() if args.yes else database.read() as session:
        if args.yes:
            year = students.new_school_year(session, dt.date.today())
        else:
            year = students.new_school_year_plan(session)
    if year.last_done and not args.yes:
        print(f"WARNING: the classes were already moved up on {year.last_done}")
    for move in year.moves:
        print(f"{move.old:12} -> {move.new:12} {move.students} students")
    print(f"leavers (grade {students.LEAVING_GRADE}): {len(year.leavers)}")
    for s in year.not_moved:
        print(f"  not moved (class not understood): {s.name} ({s.card}) {s.class_name!r}")
    if args.yes:
        print(f"done: {year.students} moved up a grade, {len(year.leavers)} leavers deactivated")
    else:
        print("nothing changed yet: run again with --yes to do it")
    return 0


def _rules(database: Database, args: argparse.Namespace) -> int:
    if args.file is None:
        with database.read() as session:
            _show_rules(rules.office_rules(session))
        return 0
    with database.write() as session:
        config = rules.set_rules(session, args.file)
    print(
        f"rules set: {len(config.policies)} policies, {len(config.timetable.window)} windows, "
        f"{len(config.timetable.closed_dates)} closed dates; kiosks take them at their next sync"
    )
    return 0


def _show_rules(found: rules.Rules) -> None:
    if not found.set_here:
        print("not set at the office: each kiosk keeps its own kiosk.toml's; a new one's are:")
    for kind, policy in found.policies.items():
        renewals = "1 renewal" if policy.max_renewals == 1 else f"{policy.max_renewals} renewals"
        print(
            f"{kind:10} {policy.max_loans} books for {policy.loan_days} days, {renewals}, "
            f"blocked by a book {policy.overdue_block_days} days late"
            + (" or compensation not settled" if policy.block_on_unsettled_compensation else "")
        )
    if not found.openings:
        print("the library never opens: the timetable has no openings")
    for number, opening in enumerate(found.openings, 1):
        print(f"opening {number}: {opening.describe()}")
    if any(o.week != Week.EVERY for o in found.openings):
        today = dt.date.today()
        print(f"the week of {today} is week {found.week_of(today).value}")
    for closure in found.closures:
        days = f"{closure.first}" + (f" to {closure.last}" if closure.days > 1 else "")
        print(f"closed {days}" + (f": {closure.note}" if closure.note else ""))


def _close(database: Database, args: argparse.Namespace) -> int:
    with database.write() as session:
        closure = rules.close(session, args.first, args.last, args.note)
    days = f"{closure.first}" + (f" to {closure.last}" if closure.days > 1 else "")
    print(f"closed {days}; kiosks take it at their next sync")
    return 0


def _reopen(database: Database, args: argparse.Namespace) -> int:
    with database.write() as session:
        count = rules.reopen(session, args.first, args.last)
    print(f"open again on {count} days that were closed; kiosks take it at their next sync")
    return 0


def _helpers(database: Database, args: argparse.Namespace) -> int:
    with database.read() as session:
        lines = helpers.helpers(session)
    for line in lines:
        if args.json:
            print(_json_line(line))
        else:
            pin = "PIN set" if line.has_pin else "no PIN yet: cannot open the helpers' menu"
            print(f"{line.card:10} {line.name:10} {line.class_name or '-':10} {pin}")
    if not lines and not args.json:
        print("no small librarians yet (library-server helper CARD)")
    return 0


def _helper(database: Database, args: argparse.Namespace) -> int:
    if args.remove:
        with database.write() as session:
            found = helpers.unmake_helper(session, args.card)
        print(f"{found.name} ({found.card}) is no longer a small librarian; their PIN is gone")
        return 0
    pin = _new_pin(args.card, from_stdin=False) if args.pin else None
    with database.write() as session:
        found = helpers.make_helper(session, args.card)
        if pin is not None:
            found = helpers.set_pin(session, found.card, pin)
    state = "with a PIN" if found.has_pin else "without a PIN yet (library-server set-pin CARD)"
    print(
        f"{found.name} ({found.card}) is a small librarian, {state}; kiosks know at their next sync"
    )
    return 0


def _set_pin(database: Database, args: argparse.Namespace) -> int:
    pin = _new_pin(args.card, from_stdin=args.pin_stdin)
    with database.write() as session:
        found = helpers.set_pin(session, args.card, pin)
    print(f"{found.name}'s PIN is set; kiosks take it at their next sync")
    return 0


def _new_pin(card: str, *, from_stdin: bool) -> str:
    """The PIN typed twice without showing it, or one line of standard input (for scripts)."""
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().strip()
    pin = getpass.getpass(f"PIN for {card} (4 to 6 digits): ")
    if getpass.getpass("the same PIN again: ") != pin:
        raise Refusal("the two PINs are not the same; nothing changed")
    return pin


def _helper_actions(database: Database, args: argparse.Namespace) -> int:
    with database.read() as session:
        lines = helpers.actions(session, args.card)
        zone = plan.current(session).zone()
    for line in lines:
        if args.json:
            print(_json_line(line))
        else:
            who = f"{line.name} ({line.card})" if line.name else line.card
            print(f"{line.at.astimezone(zone):%Y-%m-%d %H:%M} {line.kiosk:12} {who}: {line.what}")
    if not lines and not args.json:
        print("no small librarian has done anything at the kiosks yet")
    return 0


def _print_cards(database: Database, args: argparse.Namespace) -> int:
    with database.write() as session:
        if args.school is not None:
            printing.set_school_name(session, args.school)
        school = printing.school_name(session)
        cards = printing.cards_to_print(
            session, class_name=args.class_name, cards=args.cards, added_since=args.added_since
        )
    _write_pdf(args.output, printing.cards_pdf(cards, school))
    sheets = -(-len(cards) // (printing.CARD_COLUMNS * printing.CARD_ROWS))
    print(f"{len(cards)} library cards on {sheets} A4 sheets: {args.output}")
    if not school:
        print("  no school name on them: give it once with --school NAME", file=sys.stderr)
    return 0


def _print_labels(database: Database, args: argparse.Namespace) -> int:
    layout = _layout(args.layout)
    if args.calibration:
        _write_pdf(args.output, printing.calibration_pdf(layout))
        print(f"calibration sheet for {layout.name}: {args.output} (print it at actual size)")
        return 0
    with database.read() as session:
        labels = printing.labels_to_print(
            session, barcodes=args.copies, added_since=args.added_since
        )
    _write_pdf(args.output, printing.labels_pdf(labels, layout, start=args.start))
    print(f"{len(labels)} labels on {layout.name} sheets from position {args.start}: {args.output}")
    return 0


def _print_shelf_labels(database: Database, args: argparse.Namespace) -> int:
    with database.read() as session:
        labels = printing.shelves_to_print(session, args.shelf)
    _write_pdf(args.output, printing.shelf_labels_pdf(labels))
    sheets = -(-len(labels) // printing.SHELF_STRIPS)
    print(f"{len(labels)} shelf labels on {sheets} A4 sheets: {args.output}")
    return 0


def _layout(text: str) -> printing.Layout:
    """A layout's name, or a grid as COLUMNSxROWS,WIDTHxHEIGHT,TOP,LEFT,ACROSS,DOWN (mm)."""
    if "," not in text:
        return printing.layout_named(text)
    try:
        grid, size, top, left, across, down = text.lower().split(",")
        columns, rows = (int(n) for n in grid.split("x"))
        width, height = (float(n) for n in size.split("x"))
        layout = printing.Layout(
            "custom", columns, rows, width, height, float(top), float(left), float(across),
            float(down),
        )  # fmt: skip
    except ValueError as exc:
        raise Refusal(
            f"{text!r} is not a label grid: COLUMNSxROWS,WIDTHxHEIGHT,TOP,LEFT,ACROSS,DOWN"
            " in millimetres, e.g. 5x13,38.1x21.2,10.7,4.75,40.6,21.2"
        ) from exc
    return layout.check()


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-09-01") from exc


def _write_pdf(path: Path, pdf: bytes) -> None:
    """Write the whole PDF or nothing: a half-written file is never left to print."""
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_bytes(pdf)
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise Refusal(f"cannot write {path}: {exc.strerror}") from exc


def _export_bundle(database: Database, args: argparse.Namespace) -> int:
    with database.read() as session:
        count = bundles.export_for_kiosk(database, session, args.kiosk, args.path)
    print(f"wrote {count} changes to {args.path}")
    return 0


def _import_bundle(database: Database, args: argparse.Namespace) -> int:
    reply_path, reply = bundles.import_bundle(database, args.file, args.reply)
    print(
        f"{reply.stored} new events stored, highest sequence {reply.highest_seq}"
        + (f", {len(reply.conflicts)} conflicts" if reply.conflicts else "")
    )
    print(f"reply for the kiosk written to {reply_path}")
    return 0


def _user() -> str:
    try:
        return getpass.getuser()
    except OSError:  # no user name for this account (a container, a service)
        return "library-server"


def _stocktake_start(database: Database, args: argparse.Namespace) -> int:
    with database.write() as session:
        started = stocktakes.start(
            session,
            name=args.name,
            librarian=getpass.getuser(),
            shelves=args.shelf,
            classifications=args.classifications,
        )
    print(f"stocktake {started.id} ({started.name}) started; kiosks learn it with their next sync")
    return 0


def _stocktake(database: Database, args: argparse.Namespace) -> int:
    with database.read() as session:
        going_on = stocktakes.current(session)
        number = args.id or (going_on.id if going_on else None)
        if number is None:
            records = stocktakes.records(session)
            for r in records:
                has = f"{r.counts.has} books" if r.counts else "?"
                closed = f"{r.closed_at:%Y-%m-%d}" if r.closed_at else "?"
                print(f"{r.id:3}  {r.name:24} {r.started_at:%Y-%m-%d} to {closed}: {has}")
            if not records:
                print("no stocktake yet (library-server stocktake-start)")
            return 0
        now = stocktakes.progress(session, number)
    _print_counts(now.summary, now.counts)
    for shelf in now.shelves:
        elsewhere = f", {shelf.from_elsewhere} from other shelves" if shelf.from_elsewhere else ""
        print(
            f"  {shelf.shelf or '(no shelf)':12} {shelf.seen + shelf.away:5} of {shelf.copies:5} "
            f"({shelf.percent:3}%), {shelf.to_find} to find{elsewhere}"
        )
    for taker in now.takers:
        synced = f"{taker.last_sync:%Y-%m-%d %H:%M}" if taker.last_sync else "never"
        where = taker.name or "the office's desk"
        print(f"  {where}: {taker.scans} scans, last sync {synced}, {taker.waiting} waiting")
    return 0


def _print_counts(summary: stocktakes.Summary, counts: stocktakes.Counts) -> None:
    state = f"closed {summary.closed_at:%Y-%m-%d}" if summary.closed_at else "going on"
    print(f"stocktake {summary.id} ({summary.name}), {state}")
    print(
        f"  {counts.has} books (seen {counts.seen}, out {counts.away}) of {counts.copies} "
        f"recorded; not seen {counts.not_seen}, wrong shelf {counts.wrong_shelf}, found lost "
        f"{counts.found_lost}, found withdrawn {counts.found_withdrawn}, returned "
        f"{counts.returned}, unknown codes {counts.unknown}"
    )


def _stocktake_close(database: Database, args: argparse.Namespace) -> int:
    with database.write() as session:
        going_on = stocktakes.current(session)
        if going_on is None:
            print("library-server: no stocktake is going on", file=sys.stderr)
            return 1
        done = stocktakes.close(
            session, going_on.id, not_seen=args.not_seen, librarian=getpass.getuser()
        )
    _print_counts(done.summary, done.counts)
    return 0


def _stocktake_report(database: Database, args: argparse.Namespace) -> int:
    with database.read() as session:
        found = stocktakes.result(session, args.id)
        zone = plan.current(session).zone()
    _print_counts(found.summary, found.counts)
    for f in found.findings:
        where = f" seen on {f.seen_on}" if f.seen_on else ""
        reader = f", last reader {f.reader}" if f.reader else ""
        print(f"  {f.kind:15} {f.code:14} {f.title[:30]:30} shelf {f.shelf or '-'}{where}{reader}")
    if args.csv:
        args.csv.write_bytes(stocktakes.result_csv(found, zone))
        print(f"written to {args.csv}")
    return 0


def _json_line(line: Any) -> str:
    """One listing line (a service's dataclass) as a JSON object, times in ISO 8601."""

    def plain(value: object) -> object:
        if isinstance(value, Sentence):
            return str(value)
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value.isoformat() if isinstance(value, dt.date) else value

    return json.dumps(plain(line), ensure_ascii=False)


def _backup_or_restore(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from sync.server.services import backup

    url = make_url(database_url(args.data, args.db))
    if url.get_backend_name() != "sqlite":
        print("library-server: back up PostgreSQL with pg_dump (docs/deploy.md)", file=sys.stderr)
        return 1
    database, folder = Path(url.database or ""), args.data / "backups"
    try:
        if args.command == "restore":
            safety = backup.restore(database, args.file, folder)
            print(f"{args.file} restored; the database as it was is kept in {safety}")
            return 0
        made = backup.backup(database, args.to or folder, args.keep_days)
    except backup.BackupError as exc:
        print(f"library-server: {exc}", file=sys.stderr)
        return 1
    print(
        f"backup written to {made.path}"
        + (f"; {len(made.removed)} old ones deleted" if made.removed else "")
    )
    return 0


_COMMANDS = {
    "serve": _serve,
    "import-students": _import,
    "import-books": _import,
    "create-librarian": _create_librarian,
    "enroll-code": _enroll_code,
    "kiosks": _kiosks,
    "loans": _loans,
    "overdue": _loans,
    "revoke": _revoke,
    "conflicts": _conflicts,
    "resolve-conflict": _resolve_conflict,
    "lend": _desk,
    "renew": _desk,
    "return": _desk,
    "class-sets": _class_sets,
    "lend-class-set": _lend_class_set,
    "return-class-set": _return_class_set,
    "overrides": _overrides,
    "compensation": _compensation,
    "record-compensation": _record_compensation,
    "settle-compensation": _settle_compensation,
    "cancel-compensation": _cancel_compensation,
    "repairs": _repairs,
    "mark-copy": _mark,
    "remove-student": _remove,
    "new-school-year": _new_school_year,
    "rules": _rules,
    "close": _close,
    "reopen": _reopen,
    "helpers": _helpers,
    "helper": _helper,
    "set-pin": _set_pin,
    "helper-actions": _helper_actions,
    "print-cards": _print_cards,
    "print-labels": _print_labels,
    "print-shelf-labels": _print_shelf_labels,
    "export-bundle": _export_bundle,
    "import-bundle": _import_bundle,
    "stocktake-start": _stocktake_start,
    "stocktake": _stocktake,
    "stocktake-close": _stocktake_close,
    "stocktake-report": _stocktake_report,
}

if __name__ == "__main__":
    sys.exit(main())
