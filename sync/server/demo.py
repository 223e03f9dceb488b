"""``library-server demo``, which ``make demo`` runs: the librarian's office on a semester of a
school, next to the kiosk's own demo in its window.

The semester is played once through the real kiosks and sync (:mod:`sync.simulation`) into a
folder of its own (``DATA/demo``, never the office's real database), and played again when it is
more than a week old, so that "this week" on the overview has something in it. It is played into
a folder beside the demo's and moved into place when whole: a semester cut short by Ctrl-C is
played again next time, never shown half.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sync import simulation
from sync.server.db import Database, database_url
from sync.server.services import librarians

LIBRARIAN = "demo"
PASSWORD = "library-demo"
FRESH_FOR = dt.timedelta(days=7)
PLAYED = "played-on"  # the day the semester was played, in the demo's folder


def run(folder: Path, *, port: int, small: bool, with_kiosk: bool) -> int:
    """Run the kiosk's demo in its window at once, play the semester meanwhile if needed, then
    serve the office on loopback until the kiosk's window is closed (or Ctrl-C, without one)."""
    school = simulation.SMALL if small else simulation.School()
    kiosk = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--demo"]) if with_kiosk else None
    try:
        if not _fresh(folder):
            _play(folder, school)
        database = Database.open(database_url(folder, None))
        try:
            with _office(database, port) as url:
                print(
                    f"The librarian's office of the demo school: {url}\n"
                    f"  sign in as {LIBRARIAN!r}, password {PASSWORD!r}",
                    flush=True,
                )
                if kiosk is not None and kiosk.wait() == 0:
                    return 0
                print("The office keeps running: Ctrl-C stops it.", flush=True)
                while True:
                    time.sleep(3600)
        finally:
            database.close()
    except KeyboardInterrupt:
        return 0
    finally:
        if kiosk is not None and kiosk.poll() is None:
            kiosk.terminate()
            kiosk.wait()


def _fresh(folder: Path) -> bool:
    try:
        played = dt.date.fromisoformat((folder / PLAYED).read_text().strip())
    except (OSError, ValueError):
        return False
    return dt.date.today() - played < FRESH_FOR


def _play(folder: Path, school: simulation.School) -> None:
    playing = folder.with_name(folder.name + ".playing")
    shutil.rmtree(playing, ignore_errors=True)
    playing.mkdir(parents=True)
    print(
        f"Playing a semester of a school of {school.students} students through two kiosks and "
        "the office, for the office's demo (now and then: a few minutes; the kiosk's demo "
        "needs no wait) ...",
        file=sys.stderr,
        flush=True,
    )
    database = Database.open(database_url(playing, None))
    try:
        with database.write() as session:
            librarians.create_librarian(session, LIBRARIAN, PASSWORD)
        with _office(database, 0) as url:
            simulation.play(
                school,
                playing / "semester",
                database,
                url,
                until=dt.datetime.now(dt.UTC),
            )
    finally:
        database.close()
    (playing / PLAYED).write_text(dt.date.today().isoformat())
    shutil.rmtree(folder, ignore_errors=True)
    playing.rename(folder)


@contextmanager
def _office(database: Database, port: int) -> Iterator[str]:
    """The office's server on loopback in a thread, at *port* if it is free (else any): its URL."""
    import uvicorn

    from sync.server.app import create_app

    if port and not _free(port):
        port = 0
    server = uvicorn.Server(
        uvicorn.Config(create_app(database), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="office", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the demo office's server did not start")
        time.sleep(0.05)
    (bound,) = {s.getsockname()[1] for listening in server.servers for s in listening.sockets}
    try:
        yield f"http://127.0.0.1:{bound}"
    finally:
        server.should_exit = True
        thread.join()


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
