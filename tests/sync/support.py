"""A real office server on loopback (SQLite or a throwaway PostgreSQL), and kiosks that talk
to it: the harness of the sync and server tests (their fixtures are in conftest.py beside this)."""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import multiprocessing
import os
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
from sqlalchemy import delete, select
from sqlalchemy.engine import URL, make_url

from kiosk import config
from kiosk.clock import utc_now
from kiosk.engine import Kiosk
from kiosk.store import Store
from sync import wire
from sync.client import SyncClient
from sync.server import cli as server_cli
from sync.server import models
from sync.server.db import ACK_KEY, DATABASE_ID, Database
from sync.server.models import Base, Setting
from sync.server.services import helpers, kiosks, ledger
from tests.conftest import (
    HELPER_PIN,
    TIMETABLE,
    TZ,
    FakeClock,
    add_library,
    copy_database,
    run_in_process,
)

STUDENTS_CSV = """card,name,class,grade,kind
S1,小明,3-1,3,
S2,小红,3-1,3,
S5,Li Hua,5-2,5,
T1,王老师,,,teacher
GONE,Left School,4-1,4,
H1,小助手,6-1,6,helper
"""
BOOKS_CSV = (
    "barcode,isbn,title,author\n"
    + "".join(f"B{n:03d},,Book {n},Author\n" for n in range(1, 11))
    + "REF1,,Dictionary,\n,9787020002207,红楼梦,\n,9787020002207,红楼梦,\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- PostgreSQL: a throwaway cluster of our own ----------------------------------------------


def pg_bin(tool: str) -> str | None:
    found = shutil.which(tool)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    return candidates[-1] if candidates else None


class PostgresCluster:
    """initdb + pg_ctl in a temporary folder, as the postgres user when run as root.

    Without fsync (tests need no durability) unless *durable* (benchmarks measure it).
    """

    def __init__(self, *, durable: bool = False) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.durable = durable

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        data = str(self.dir / "data")
        self._run(
            pg_bin("initdb") or "initdb",
            "-D",
            data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        if not self.durable:
            options += " -c fsync=off"
        self._run(
            pg_bin("pg_ctl") or "pg_ctl",
            "-D",
            data,
            "-o",
            options,
            "-w",
            "-l",
            str(self.dir / "log"),
            "start",
        )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._run(
                pg_bin("pg_ctl") or "pg_ctl",
                "-D",
                str(self.dir / "data"),
                "-m",
                "immediate",
                "stop",
            )
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = f"library_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


# -- the office server process ---------------------------------------------------------------

# Server tests each start `library-server serve` afresh, in a process of its own, with a database
# of their own. Forked from a process that has imported the server once (multiprocessing's fork
# server), a start costs the server's own start-up, not Python importing it all again: about a
# third of the time. (test_server_cli starts the command itself, as a shell does.)
_FORKS = multiprocessing.get_context("forkserver")
_FORKS.set_forkserver_preload(["tests.sync.support", "sync.server.app", "uvicorn"])


def _run_forked(main, argv: list[str], environ: dict[str, str], stderr: str) -> None:
    """In the forked process: the command as from a shell, its output where *stderr* says."""
    os.environ.clear()
    os.environ.update(environ)  # what a process started now would inherit
    time.tzset()
    with open(os.devnull, "wb") as devnull, open(stderr, "ab") as log:
        os.dup2(devnull.fileno(), 1)
        os.dup2(log.fileno(), 2)
    sys.exit(main(argv))


def forked(main, argv: list[str], *, stderr: Path) -> multiprocessing.process.BaseProcess:
    """``main(argv)`` (a command's entry point) in a new process, its standard error to *stderr*."""
    process = _FORKS.Process(
        target=_run_forked, args=(main, argv, dict(os.environ), str(stderr)), daemon=True
    )
    process.start()
    return process


class Office:
    """``library-server serve`` in a process of its own on 127.0.0.1, and its commands."""

    def __init__(self, data: Path, db_url: str) -> None:
        self.data = data
        self.db_url = db_url
        self.port = free_port()
        self.process: multiprocessing.process.BaseProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """What the server process wrote to its standard error (warnings, tracebacks)."""
        return self.data / "server-stderr.log"

    def start(self) -> Office:
        self.log.touch()
        argv = ["--data", str(self.data), "--db", self.db_url, "serve"]
        argv += ["--host", "127.0.0.1", "--port", str(self.port)]
        self.process = forked(server_cli.main, argv, stderr=self.log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if not self.process.is_alive():
                raise RuntimeError(f"the server died: {self.log.read_text(errors='replace')}")
            try:
                if requests.get(f"{self.url}/openapi.json", timeout=5).ok:
                    return self
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or a busy machine
                time.sleep(0.05)
        raise RuntimeError("the server did not start within 120 s")

    def kill(self) -> None:
        """As a power cut would: no clean shutdown."""
        if self.process is not None:
            self.process.kill()
            self.process.join(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.join(10)
            if self.process.exitcode is None:
                self.process.kill()
                self.process.join(10)
            self.process = None

    def command(self, *args: str) -> tuple[int, str, str]:
        """A librarian's command, run in this process against the same database."""
        done = run_in_process(server_cli.main, "--data", str(self.data), "--db", self.db_url, *args)
        return done.returncode, done.stdout, done.stderr

    def ok(self, *args: str) -> str:
        code, out, err = self.command(*args)
        assert code == 0, err
        return out

    def set_pin(self, card: str, pin: str) -> None:
        """A small librarian's PIN, set at the office: kiosks take it (and only it) by sync."""
        database = self.database()
        with database.write() as session:
            helpers.set_pin(session, card, pin)
        database.close()

    def backup(self) -> None:
        """A copy of the database as it is now (the server stopped first, as for a backup)."""
        self.stop()
        url = make_url(self.db_url)
        if url.get_backend_name() == "sqlite":
            copy_database(url.database, f"{url.database}.backup")
        else:
            pg_admin(url, f'CREATE DATABASE "{url.database}_backup" TEMPLATE "{url.database}"')
        self.start()

    def restore(self) -> None:
        """Put the backup back in place of the database, and start again."""
        self.stop()
        url = make_url(self.db_url)
        if url.get_backend_name() == "sqlite":
            copy_database(f"{url.database}.backup", url.database)
        else:
            pg_admin(url, f'DROP DATABASE "{url.database}"')
            pg_admin(url, f'CREATE DATABASE "{url.database}" TEMPLATE "{url.database}_backup"')
        self.start()

    def database(self) -> Database:
        return Database.open(self.db_url)

    def snapshot(self) -> dict[str, list[tuple]]:
        """Every row of every table, to show that a refused request changed nothing."""
        database = self.database()
        with database.read() as session:
            found = {
                table.name: sorted(
                    (tuple(map(str, row)) for row in session.execute(select(table))), key=str
                )
                for table in Base.metadata.sorted_tables
            }
        database.close()
        return found

    def copy_records(self, source: Office) -> Office:
        """This office's (new, empty) database made a copy of *source*'s, with an identity of
        its own as a new database has: what *source*'s commands did, in a fraction of the time."""
        url, of = make_url(self.db_url), make_url(source.db_url)
        if url.get_backend_name() == "sqlite":
            copy_database(of.database, url.database)
        else:
            pg_admin(url, f'DROP DATABASE "{url.database}"')
            pg_admin(url, f'CREATE DATABASE "{url.database}" TEMPLATE "{of.database}"')
        database = Database(self.db_url)
        with database.write() as session:
            session.execute(delete(Setting).where(Setting.key.in_([DATABASE_ID, ACK_KEY])))
        database.close()
        self.database().close()  # opened as the first command would: a new identity and key
        return self

    def enroll_code(self) -> str:
        return self.ok("enroll-code").strip().splitlines()[-1]

    def load_library(self, tmp: Path) -> None:
        """The conftest library, imported through the librarian's commands."""
        (tmp / "students.csv").write_text(STUDENTS_CSV, encoding="utf-8")
        (tmp / "books.csv").write_text(BOOKS_CSV, encoding="utf-8")
        self.ok("import-students", str(tmp / "students.csv"))
        self.set_pin("H1", HELPER_PIN)  # as the kiosks' own library has it
        self.ok("import-books", str(tmp / "books.csv"))
        self.ok("remove-student", "GONE")
        self.ok("mark-copy", "REF1", "reference")


def pg_admin(url: URL, sql: str) -> None:
    import psycopg

    with psycopg.connect(
        f"host={url.host} port={url.port} user={url.username} dbname=postgres", autocommit=True
    ) as conn:
        conn.execute(sql)


# -- kiosks ----------------------------------------------------------------------------------


class KioskUnderTest:
    """One kiosk: its store, engine, fake clock and sync client."""

    def __init__(self, folder: Path, clock: FakeClock, *, library: bool = True) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "kiosk.toml").write_text(
            TIMETABLE.replace('"test-kiosk"', f'"{folder.name}"'), encoding="utf-8"
        )
        self.folder = folder
        self.clock = clock
        self.store = Store.open(folder / "kiosk.db")
        cfg = config.load(folder)
        with self.store.write() as db:
            config.apply(db, cfg)
            if library:
                add_library(db)
        self.engine = Kiosk(self.store, cfg.kiosk, clock=clock, tz=TZ)
        self.client = SyncClient(self.store, clock=clock)

    def scan(self, *codes: str) -> list:
        outcomes = []
        for code in codes:
            self.clock.advance(3)
            outcomes.extend(self.engine.scan(code))
        return outcomes

    def lend(self, card: str, *copies: str) -> None:
        outcomes = self.scan(card, *copies)
        assert all(o.kind.value not in ("refused", "fault") for o in outcomes), outcomes
        self.engine.touch("done")

    def close(self) -> None:
        self.store.close()


class DroppingProxy:
    """A TCP relay to the office that, when armed, delivers a request and then cuts the line
    before the reply reaches the kiosk: the office has committed, the kiosk does not know."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.drop_next = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        drop = self.drop_next > 0
        if drop:
            self.drop_next -= 1
        done = threading.Event()

        def pump(src: socket.socket, dst: socket.socket, to_kiosk: bool) -> None:
            try:
                while chunk := src.recv(65536):
                    if to_kiosk and drop:
                        self.dropped += 1
                        break  # the reply is lost on the way
                    dst.sendall(chunk)
            except OSError:
                pass
            finally:
                done.set()

        threading.Thread(target=pump, args=(client, upstream, False), daemon=True).start()
        pump(upstream, client, True)
        done.wait(1)
        for s in (client, upstream):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)  # wakes the other pump and sends the FIN now
            s.close()

    def close(self) -> None:
        self.listener.close()


def enrolled(
    office: Office, make_kiosk, name: str = "kiosk-a", *, sync: bool = False, **kw
) -> KioskUnderTest:
    """A kiosk (from the make_kiosk fixture) enrolled with *office*, and synced once if *sync*."""
    kiosk = make_kiosk(name, **kw)
    kiosk.client.enroll(office.url, office.enroll_code(), name)
    if sync:
        kiosk.client.sync()
    return kiosk


class EventFeed:
    """A kiosk's events, as its outbox would send them, applied by the office's ledger in this
    process (the office's figures from loans at the times given, whatever the clock says)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        with database.write() as session:
            kiosk, _token = kiosks.enroll(session, kiosks.new_enroll_code(session), "kiosk-a")
        self.kiosk_id = kiosk.id
        self.seq = 0

    def send(self, kind: str, at: dt.datetime, **payload: object) -> None:
        self.seq += 1
        event = wire.WireEvent(
            seq=self.seq,
            uuid=str(uuid.uuid4()),
            type=kind,
            at=at,
            clock="ok",
            payload=payload,
        )
        with self.database.write() as session:
            kiosk = session.get(models.Kiosk, self.kiosk_id)
            assert kiosk is not None
            ledger.receive(session, kiosk, [event], now=utc_now(), offset=0, waiting=0)

    def lend(self, card: str, copy: str, at: dt.datetime, days: int = 14) -> str:
        loan = str(uuid.uuid4())
        due = (at + dt.timedelta(days=days)).date()
        self.send(
            "checkout", at, loan=loan, copy=copy, patron=card, due=due.isoformat(), where="kiosk-a"
        )
        return loan

    def give_back(self, loan: str, card: str, copy: str, at: dt.datetime) -> None:
        self.send("return", at, loan=loan, copy=copy, patron=card, late_days=0)
