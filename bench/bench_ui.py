"""Touchscreen app: scan to first rendered frame, start-up against a bare Kivy app, memory.

Runs the real app headless (SDL2 offscreen, Mesa llvmpipe) on the library of bench_engine.py
(20,000 copies, 1,000 students; built in a process of its own), drawing frames at the kiosk's
60 a second as Kivy's own loop does, scans handed over from a thread as the scanner reader's:

- key from the scanner -> engine: from a code's terminating key written to the scanner's
  device to the engine taking the code, in the app wired as ``kiosk run --scanner evdev``
  wires it (the real reader thread; a ReplayDevice for the scanner), while the main thread
  keeps drawing frames; floor: the same in headless mode (bench_hardware.py), same run.
- scan -> frame on screen: from handing a code over as the scanner reader does to the first
  frame showing its answer drawn to the end (glFinish: llvmpipe draws after the swap), the
  wait for that frame counted (p50, p99), for cards, books lent and books returned; floor:
  the engine's own time for the same scans.
- start-up: a new process, started as `kiosk run --window` starts, until the idle screen is
  drawn (three frames), against a bare Kivy app showing one label (the floor; each in its own
  process, as Kivy has one window per process), medians: with the idle screen kept at the
  last stop (the usual start) and with the store read first (nothing kept, or out of date);
  and until ready: the engine loaded (then a card scanned must be answered).
- memory: resident size of the kiosk at the idle screen with its engine loaded (a process of
  its own, as started) against the bare Kivy app's (with the kiosk's Kivy settings, and
  nothing of the project) and what the engine alone adds to a bare Python; then the kiosk
  as `kiosk run --window` starts it, after 100 and after 1,000 sessions typed on its
  standard input as fast as it takes them (faster than it draws frames), and in this process
  (the app driven frame by frame). Each by kind of mapping (/proc/PID/smaps): the software
  renderer (Mesa llvmpipe and its LLVM) is this machine's; a Pi draws with its V3D driver.
  A kiosk in a school is enrolled with its office: it syncs as it starts, in a thread of its
  own, with the sync client (requests) loaded. So the kiosk is also measured as started on a
  library pulled from an office (the same size, on loopback), at the idle screen once its
  first sync is done, against the same folder not enrolled.
- a lunch queue of 30 children (kiosk/ui/lunch.py: card, book, walk away, and the other ways
  children do it): the kiosk's own time per child against a budget, with the engine alone
  on the same queue as the floor. The children's own pace is not counted: the script moves
  the kiosk's clock.
- the helpers' "find a student": memory taken by the pinyin dictionary when first searched.

``python bench/bench_ui.py [--sessions 1000] [--scans 300] [--starts 5]``
"""

from __future__ import annotations

import argparse
import compileall
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' office harness

from report import record

if TYPE_CHECKING:
    from kiosk.engine import Kiosk
    from kiosk.headless import Scan
    from kiosk.ui.driver import Driver

# Each start-up is timed in a new process from its first line to the end of the third frame.
# The bare app imports nothing of the project: the same headless settings as
# kiosk.ui.driver's (environment, window, frame rate), written out here.
BARE_APP = """
import os, tempfile, time
start = time.perf_counter()
os.environ.update(SDL_VIDEODRIVER="offscreen", KIVY_WINDOW="sdl2", KIVY_NO_CONSOLELOG="1",
                  KIVY_LOG_MODE="PYTHON", KIVY_NO_FILELOG="1", KIVY_HOME=tempfile.mkdtemp())
from kivy.config import Config
Config.set("kivy", "exit_on_escape", "0")
Config.set("kivy", "keyboard_mode", "")
Config.set("graphics", "fullscreen", "0")
Config.set("graphics", "borderless", "0")
Config.set("graphics", "show_cursor", "1")
Config.set("graphics", "width", "800")
Config.set("graphics", "height", "480")
Config.set("graphics", "resizable", "1")
Config.set("graphics", "maxfps", "0")
from kivy.app import App
from kivy.base import EventLoop, runTouchApp
from kivy.uix.label import Label

class Bare(App):
    def build(self):
        return Label(text="Scan your library card")

Bare()._run_prepare()
runTouchApp(embedded=True)
for _ in range(3):
    EventLoop.idle()
print(time.perf_counter() - start, int(open("/proc/self/statm").read().split()[1]), flush=True)
import sys
sys.stdin.read()  # drawn: its memory is read from outside until its standard input closes
"""
# The kiosk as `kiosk run --window` starts it (kiosk.cli), at the bare app's frame rate. Timed
# to the end of its third frame, its idle screen's texts then (they must be the store's: they
# are compared with the idle screen read from the store once the engine is ready), and to
# ready: the engine loaded, the idle screen read from the store; resident size at both. Then a
# student's card, handed over from a thread as a scanner's, must be answered.
KIOSK_APP = """
import sys, threading, time
start = time.perf_counter()
from kiosk.ui.driver import headless_environment
headless_environment()
from kivy.config import Config
Config.set("graphics", "maxfps", "0")  # as the bare app: no wait between frames
from kivy.app import App
from kivy.clock import Clock
ticks, seen = 0, {}

def texts(screen):
    return sorted(w.text for w in screen.walk(restrict=True) if getattr(w, "text", "").strip())

def watch(_dt):  # each frame, before it is drawn
    global ticks
    ticks += 1
    app = App.get_running_app()
    pages = int(open("/proc/self/statm").read().split()[1])
    if ticks == 4:  # three frames drawn
        seen["idle"] = (time.perf_counter() - start, pages, app.current, texts(app.screen("idle")))
        Clock._max_fps = 60  # from now on the kiosk's own frame rate, as it runs (not a spin)
    elif ticks > 4 and "ready" not in seen and app.kiosk is not None:
        seen["ready"] = (time.perf_counter() - start, pages, texts(app.screen("idle")))
        from kiosk.headless import Scan
        threading.Thread(target=app.submit, args=(Scan("S0001"),)).start()
    elif "ready" in seen and app.current == "session":  # the card answered: it takes scans
        app.stop()
        return False

Clock.schedule_interval(watch, 0)
from kiosk.cli import main
main(["--data", sys.argv[1], "run", "--window"])
idle_seconds, idle_pages, screen, first = seen["idle"]
ready_seconds, ready_pages, from_store = seen["ready"]
assert screen == "idle", screen
assert first == from_store, (first, from_store)
print(idle_seconds, idle_pages, ready_seconds, ready_pages)
"""
# What the engine and its store add to a Python process (SQLAlchemy, pydantic, the models):
# with the bare Kivy app's size, the least the kiosk can take while its engine is loaded.
ENGINE_ALONE = """
import sys
from pathlib import Path
bare = int(open("/proc/self/statm").read().split()[1])
from kiosk.cli import open_data
from kiosk.engine import Kiosk
store, cfg = open_data(Path(sys.argv[1]))
Kiosk(store, cfg.kiosk).idle_light()
print(int(open("/proc/self/statm").read().split()[1]) - bare)
"""
# The library of bench_engine.py, made in a process of its own: this one's memory is the app's.
BUILD = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from bench_engine import build
from kiosk.clock import utc_now
from kiosk.settings import LATEST_SEEN, SETUP_DONE
from kiosk.store import set_setting
store = build(Path(sys.argv[1]))
with store.write() as db:  # set up, and its clock found right today (the app runs on it)
    set_setting(db, SETUP_DONE, "bench")
    set_setting(db, LATEST_SEEN, utc_now().isoformat())
store.close()
"""
# A kiosk pulled from its office: its first-run questions answered, its clock found right.
FIRST_RUN_DONE = """
import sys
from pathlib import Path
from kiosk.clock import utc_now
from kiosk.cli import open_data
from kiosk.settings import LATEST_SEEN, SETUP_DONE
from kiosk.store import set_setting
store, cfg = open_data(Path(sys.argv[1]))
with store.write() as db:
    set_setting(db, SETUP_DONE, "bench")
    set_setting(db, LATEST_SEEN, utc_now().isoformat())
store.close()
"""


KEY_GOAL_MS = 1.0  # key from the scanner -> engine, as in headless mode
FRAME_SECONDS = 1 / 60  # Kivy's default frame rate, the kiosk's


def key_to_engine(driver: Driver, kiosk: Kiosk, folder: Path, scans: int) -> list[float]:
    """Seconds from a code's terminating key to the app's engine taking it."""
    from bench_hardware import TimedKiosk, send_timed
    from gpiozero.pins.mock import MockFactory

    from hardware.lights import Pins, StatusLights
    from hardware.scanner import DeviceRule
    from hardware.standin import ReplayDevice
    from hardware.wiring import Devices
    from kiosk import config

    timed = TimedKiosk(kiosk.store, kiosk.settings)
    timed.reached = queue.Queue()
    driver.start_over(timed)
    device = ReplayDevice("/dev/input/event3", name="Bench Scanner")
    devices = Devices(
        timed,
        config.load(folder),
        find=lambda in_use: [] if device.path in in_use else [(device, DeviceRule("Bench"))],
        lights=StatusLights(Pins(), pin_factory=MockFactory()),
    ).start(driver.app.submit)
    delays = []
    try:
        for n in range(scans + 10):
            started = send_timed(device, n)
            while timed.reached.empty():
                frame = time.perf_counter()
                driver.frames()  # the screen draws meanwhile, at the kiosk's frame rate
                time.sleep(max(0.0, frame + FRAME_SECONDS - time.perf_counter()))
            reached = timed.reached.get()
            if n >= 10:  # the first few warm up the threads and the database
                delays.append(reached - started)
            driver.frames(2)
    finally:
        devices.stop()
    driver.start_over(kiosk)
    return delays


LUNCH_BUDGET_SECONDS = 1.0  # the kiosk's own time per child; a queue moves at the children's pace


def lunch_queue(folder: Path, driver: Driver) -> tuple[list[float], list[float]]:
    """Seconds of the kiosk's own work per child in a lunch queue: through the app, and
    through the engine alone (the floor), each on a fresh demo library."""
    from kiosk.engine import Kiosk
    from kiosk.ui import lunch
    from kiosk.ui.screenshots import NOW, TZ, MovableClock

    def fresh(name: str) -> Kiosk:
        kiosk = demo_kiosk(folder / name)
        return Kiosk(kiosk.store, kiosk.settings, clock=MovableClock(NOW), tz=TZ)

    shown = fresh("lunch-app")
    queue = lunch.make_queue(shown)
    driver.start_over(shown)
    through_app = [child.seconds for child in lunch.run(driver, queue)]
    shown.store.close()

    alone = fresh("lunch-engine")
    clock: MovableClock = alone.clock  # type: ignore[assignment]
    floor = []
    for child in lunch.make_queue(alone):
        start = time.perf_counter()
        brought_back = [child.brought_back[0]] if child.brought_back else []
        for code in [child.card, *brought_back]:
            clock.advance(lunch.STEP_SECONDS)
            alone.scan(code)
        if child.brought_back:
            alone.touch("return")
        for code, _title in child.books:
            clock.advance(lunch.STEP_SECONDS)
            alone.scan(code)
        alone.touch("done")
        floor.append(time.perf_counter() - start)
    alone.store.close()
    return through_app, floor


def pinyin_mb() -> float:
    """Resident memory the helpers' first search adds (pypinyin's dictionary, kiosk.pinyin)."""
    before = rss_mb()
    from kiosk import pinyin

    pinyin.initials("王子涵")
    return rss_mb() - before


def rss_mb() -> float:
    """Resident memory of this process, in MB (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def demo_kiosk(folder: Path) -> Kiosk:
    from kiosk import cli
    from kiosk.engine import Kiosk
    from kiosk.settings import SETUP_DONE
    from kiosk.store import set_setting

    cli._make_demo(folder)
    store, cfg = cli.open_data(folder)
    with store.write() as db:
        set_setting(db, SETUP_DONE, "bench")
    return Kiosk(store, cfg.kiosk)


def startup(code: str, folder: Path, *, mapped: bool = False) -> Start:
    """Seconds from a new process's first line to its third frame and its resident MB then;
    the same until ready (the kiosk: its engine loaded, a scan answered; the bare app: then).
    *mapped*: the process (the bare app) waits once drawn, and its mappings are read."""
    script = folder / "startup.py"  # a file: Kivy looks for an app's .kv beside its source
    script.write_text(code, encoding="utf-8")
    with (
        tempfile.TemporaryFile("w+") as errors,
        subprocess.Popen(
            [sys.executable, str(script), str(folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        ) as process,
    ):
        assert process.stdin is not None and process.stdout is not None
        if not mapped:
            process.stdin.close()  # nothing to type: the kiosk's reader ends at once
        figures: list[str] = []
        for line in process.stdout:  # the last line says it all
            figures = line.split()
            if mapped and len(figures) == 2:
                break
        kinds = by_mapping(process.pid) if mapped else {}
        if mapped:
            process.stdin.close()
            figures = [*figures, *process.stdout.read().split()]
        if process.wait(timeout=120) != 0:
            errors.seek(0)
            raise RuntimeError(f"start-up failed: {errors.read()}")
    seconds, pages, *ready = figures
    ready_seconds, ready_pages = ready or (seconds, pages)
    mb = os.sysconf("SC_PAGE_SIZE") / 1e6
    return Start(
        float(seconds), int(pages) * mb, float(ready_seconds), int(ready_pages) * mb, kinds
    )


class Start(NamedTuple):
    seconds: float
    mb: float  # resident at the third frame
    ready_seconds: float
    ready_mb: float
    kinds: dict[str, float]  # resident MB by kind of mapping, when read


# Mappings of the software renderer this machine draws with (Mesa llvmpipe, LLVM compiling
# its shaders): a Raspberry Pi draws with its V3D GPU driver instead.
RENDERER = ("libLLVM", "_dri.so", "libgallium", "libGL", "libEGL", "libglapi", "libgbm")
KINDS = ("heap", "anonymous", "renderer", "SDL2", "files")


def by_mapping(pid: int) -> dict[str, float]:
    """Resident MB of process *pid* by kind of mapping (/proc/PID/smaps): the C heap (brk);
    anonymous memory (Python's object arenas, large allocations, other threads' malloc
    arenas, stacks); the software renderer; SDL2; the other files mapped (Python, the
    extension modules, their libraries)."""
    kinds = dict.fromkeys(KINDS, 0.0)
    kind = "anonymous"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if not fields[0].endswith(":"):  # a mapping: address, perms, offset, device, inode, path
            kind = _kind(fields[5] if len(fields) > 5 else "")
        elif fields[0] == "Rss:":
            kinds[kind] += int(fields[1]) * 1024 / 1e6
    return kinds


def _kind(path: str) -> str:
    if path == "[heap]":
        return "heap"
    if not path or path.startswith("[") or path.startswith("/memfd:"):
        return "anonymous"
    if any(part in path for part in RENDERER):
        return "renderer"
    return "SDL2" if "SDL2" in path else "files"


def as_started(folder: Path, sessions: int) -> dict[int, dict[str, float]]:
    """The kiosk as `kiosk run --window` starts it, on its own process: resident MB by kind of
    mapping after 1, 100 and *sessions* sessions typed on its standard input (a card, a
    book, done, and the last one's book brought back), as fast as it takes them."""
    from sqlalchemy import create_engine, text

    database = create_engine(f"sqlite:///{folder / 'kiosk.db'}")

    def ended() -> int:
        with database.connect() as db:
            query = "SELECT count(*) FROM events WHERE type = 'session_ended'"
            return db.execute(text(query)).scalar_one()

    measured: dict[int, dict[str, float]] = {}
    with (
        tempfile.TemporaryFile("w+") as errors,
        subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "--data", str(folder), "run", "--window"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        ) as process,
    ):
        assert process.stdin is not None
        start, done = ended(), 0
        for upto in sorted({1, 100, sessions}):
            lines = []
            for n in range(done, upto):
                if n > 0:
                    lines.append(str(100000 + n))  # the book lent last time, at the idle screen
                lines += [f"S{n % 1000 + 1:04d}", str(100001 + n), ":done"]
            process.stdin.write("".join(f"{line}\n" for line in lines).encode())
            process.stdin.flush()
            deadline = time.monotonic() + 60 + upto - done
            while ended() < start + upto:
                if process.poll() is not None or time.monotonic() > deadline:
                    errors.seek(0)
                    raise RuntimeError(f"the kiosk stopped answering: {errors.read()}")
                time.sleep(0.05)
            done = upto
            time.sleep(5)  # the last child's receipt gone (4 s), back at the idle screen
            measured[upto] = by_mapping(process.pid)
        process.stdin.close()
        process.terminate()
        process.wait(timeout=30)
    database.dispose()
    return measured


def engine_alone_mb(folder: Path) -> float:
    """Resident MB the engine and its open store add to a bare Python process."""
    result = subprocess.run(
        [sys.executable, "-c", ENGINE_ALONE, str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(result.stdout.strip().splitlines()[-1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def enrolled_idle(folder: Path) -> tuple[float, float]:
    """Resident MB of the kiosk as `kiosk run --window` starts it at the idle screen, enrolled
    with an office (1,000 students, 20,000 copies) once its first sync is done, and of the same
    folder not enrolled, each the same time after its start."""
    import sqlite3

    from kiosk.settings import ENROLLED, LAST_SYNC
    from tests.sync.support import Office

    office_dir, kiosk_dir, alone_dir = folder / "office", folder / "enrolled", folder / "alone"
    office_dir.mkdir()
    office = Office(office_dir, f"sqlite:///{office_dir / 'office.db'}").start()
    try:
        students = [f"S{n:04d},Student {n},{3 + n % 4}-1,{3 + n % 4}," for n in range(1, 1001)]
        books = [f"{100000 + n},,Book {n},Author {n % 97}" for n in range(1, 20001)]
        (folder / "students.csv").write_text(
            "\n".join(["card,name,class,grade,kind", *students]) + "\n", encoding="utf-8"
        )
        (folder / "books.csv").write_text(
            "\n".join(["barcode,isbn,title,author", *books]) + "\n", encoding="utf-8"
        )

        def run(*args: str) -> str:
            done = subprocess.run(
                [sys.executable, *args], capture_output=True, text=True, timeout=600, check=True
            )
            return done.stdout

        server = ["-m", "sync.server.cli", "--data", str(office_dir), "--db", office.db_url]
        run(*server, "import-students", str(folder / "students.csv"))
        run(*server, "import-books", str(folder / "books.csv"))
        code = run(*server, "enroll-code").strip().splitlines()[-1]
        kiosk = ["-m", "kiosk.cli", "--data", str(kiosk_dir)]
        run(*kiosk, "enroll", office.url, code)
        run(*kiosk, "sync")  # the first pull, done before the kiosk is started
        run("-c", FIRST_RUN_DONE, str(kiosk_dir))
        shutil.copytree(kiosk_dir, alone_dir)
        with sqlite3.connect(alone_dir / "kiosk.db") as db:
            db.execute("DELETE FROM settings WHERE key = ?", (ENROLLED,))
        db.close()

        def last_sync() -> str | None:
            with sqlite3.connect(kiosk_dir / "kiosk.db") as db:
                row = db.execute("SELECT value FROM settings WHERE key = ?", (LAST_SYNC,))
                found = row.fetchone()
            db.close()
            return found[0] if found else None

        before = last_sync()
        started = time.monotonic()
        with _started(kiosk_dir) as process:
            while last_sync() == before:
                if process.poll() is not None or time.monotonic() - started > 120:
                    raise RuntimeError("the enrolled kiosk did not sync")
                time.sleep(0.1)
            time.sleep(5)  # at the idle screen, the sync done
            seconds = time.monotonic() - started
            enrolled = sum(by_mapping(process.pid).values())
        with _started(alone_dir) as process:
            time.sleep(seconds)
            alone = sum(by_mapping(process.pid).values())
    finally:
        office.stop()
    return enrolled, alone


@contextmanager
def _started(folder: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`kiosk run --window` on *folder*, stopped at the end."""
    with subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "--data", str(folder), "run", "--window"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as process:
        try:
            yield process
        finally:
            process.terminate()
            process.wait(timeout=30)


def library(folder: Path) -> Kiosk:
    """The kiosk on bench_engine.py's library, its first-run questions answered."""
    from kiosk.cli import open_data
    from kiosk.engine import Kiosk

    subprocess.run(
        [sys.executable, "-c", BUILD, str(folder), str(Path(__file__).parent)], check=True
    )
    store, cfg = open_data(folder)
    return Kiosk(store, cfg.kiosk)


class Frames:
    """Frames at the kiosk's rate: each waits for its turn, as in Kivy's own loop."""

    def __init__(self, driver: Driver) -> None:
        from kivy.graphics.opengl import glFinish

        self.driver, self.finish = driver, glFinish
        self.flips = 0
        self.last = time.perf_counter()
        driver.window.bind(on_flip=lambda *_: setattr(self, "flips", self.flips + 1))

    def next(self) -> bool:
        """Draw the next frame when its turn comes; whether anything was drawn."""
        time.sleep(max(0.0, self.last + FRAME_SECONDS - time.perf_counter()))
        self.last = time.perf_counter()
        before = self.flips
        self.driver.frames()
        return self.flips > before


class Reader:
    """Hands codes to the app from a thread of its own, as the scanner reader does; notes
    the engine's own time for each (the app calls the engine on this thread)."""

    def __init__(self, submit: Callable[[Scan], None]) -> None:
        self.codes: queue.Queue[str] = queue.Queue()
        self.engine: list[float] = []
        threading.Thread(target=self._run, args=(submit,), daemon=True).start()

    def _run(self, submit: Callable[[Scan], None]) -> None:
        from kiosk.headless import Scan

        while True:
            code = self.codes.get()
            start = time.perf_counter()
            submit(Scan(code))
            self.engine.append(time.perf_counter() - start)


def compile_project() -> None:
    """The project's modules compiled to bytecode beside them, as pip compiles an installed
    kiosk's (and Kivy's and SQLAlchemy's, here too): from a checkout run with
    PYTHONDONTWRITEBYTECODE, every process started would compile them again, and take the
    memory and the time of that."""
    root = Path(__file__).resolve().parents[1]
    for package in ("kiosk", "hardware", "sync"):
        compileall.compile_dir(root / package, quiet=1)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--scans", type=int, default=300, help="key -> engine scans timed")
    parser.add_argument("--starts", type=int, default=5, help="start-ups timed, each")
    args = parser.parse_args()
    from bench_hardware import reader_delays

    from kiosk.ui import KIVY_ENVIRONMENT
    from kiosk.ui.driver import Driver, headless_environment

    headless_environment()  # and the kiosk's Kivy settings, for every process started here
    compile_project()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "library"
        folder.mkdir()
        kiosk = library(folder)
        shutil.copytree(folder, Path(tmp) / "as-started")  # the same library, for its own run
        started = as_started(Path(tmp) / "as-started", args.sessions)
        driver = Driver(kiosk)
        app = driver.app
        memory: dict[int, float] = {0: rss_mb()}
        key_app = key_to_engine(driver, kiosk, folder, args.scans)
        frames = Frames(driver)
        reader = Reader(app.submit)

        def answer_frame(code: str, shown: str) -> float:
            """Seconds from the scan to the end of drawing the first frame showing *shown*."""
            start = time.perf_counter()
            reader.codes.put(code)
            while not (frames.next() and shown in driver.text()):
                if time.perf_counter() - start > 5:
                    raise RuntimeError(f"{code}: {shown!r} never shown: {driver.text()}")
            frames.finish()
            return time.perf_counter() - start

        timings: dict[str, list[float]] = {"card": [], "lend": [], "return": []}
        engine: dict[str, list[float]] = {"card": [], "lend": [], "return": []}
        for n in range(args.sessions):
            student, book = f"S{n % 1000 + 1:04d}", str(100001 + n)
            for kind, code, shown in [("card", student, "✔ 完成"), ("lend", book, "✔ 《")]:
                timings[kind].append(answer_frame(code, shown))
                engine[kind].append(reader.engine[-1])
            app.touch("done")
            app.dismiss()
            if n > 0:  # the book lent last time (the same code at once would be a repeat)
                timings["return"].append(answer_frame(str(100000 + n), "谢谢！"))
                engine["return"].append(reader.engine[-1])
                app.dismiss()
            frames.next()
            if n + 1 in (100, args.sessions):
                memory[n + 1] = rss_mb()
        kiosk.store.close()
        lunch_app, lunch_floor = lunch_queue(Path(tmp), driver)
        dictionary = pinyin_mb()
        from kiosk.ui.snapshot import FILE_NAME

        startup(KIOSK_APP, folder)  # its first start: the idle screen is kept as it stops
        kept_runs, first_runs, bare_runs = [], [], []
        for _ in range(args.starts):  # interleaved, so that the machine's load weighs alike
            kept_runs.append(startup(KIOSK_APP, folder))  # its stop keeps the screen again
            (folder / FILE_NAME).unlink()  # as after an import, or past closing time
            first_runs.append(startup(KIOSK_APP, folder))
            bare_runs.append(startup(BARE_APP, folder, mapped=True))
        engine_mb = statistics.median(engine_alone_mb(folder) for _ in range(3))
        enrolled_mb, alone_mb = enrolled_idle(Path(tmp))
    key_headless = reader_delays(args.scans)

    print(f"scan -> frame on screen ({args.sessions} sessions, 60 frames a second):")
    for kind, values in timings.items():
        ms = [v * 1000 for v in values]
        alone = [v * 1000 for v in engine[kind]]
        print(
            f"  {kind:7s} p50 {statistics.median(ms):6.1f} ms   p99 {percentile(ms, 99):6.1f} ms"
            f"   floor (the engine's own) p50 {statistics.median(alone):5.1f} ms"
            f"   p99 {percentile(alone, 99):5.1f} ms"
        )
    card = [v * 1000 for v in timings["card"]]
    card_engine = [v * 1000 for v in engine["card"]]
    c50, c99 = statistics.median(card), percentile(card, 99)
    e50, e99 = statistics.median(card_engine), percentile(card_engine, 99)
    record(
        "ui.card_frame",
        what="card scan -> frame on screen (UI, 60 frames a second, 20k copies)",
        now=f"p50 {c50:.0f} ms, p99 {c99:.0f} ms",
        floor=f"the engine's own: p50 {e50:.1f} ms, p99 {e99:.1f} ms",
        ratio=c99 / e99,
        goal="p99 <= 50 ms",
        met=c99 <= 50,
        p50_ms=c50,
        p99_ms=c99,
        floor_p50_ms=e50,
        floor_p99_ms=e99,
    )

    def median(runs: list[Start], figure: int) -> float:
        return statistics.median(run[figure] for run in runs)

    kiosk_start, bare_start = median(kept_runs, 0), median(bare_runs, 0)
    kiosk_ready, first_start, first_ready = (
        median(kept_runs, 2),
        *(median(first_runs, n) for n in (0, 2)),
    )
    print(f"start-up to the idle screen drawn (3 frames; median of {args.starts}):")
    print(f"  the idle screen kept at the last stop: {kiosk_start * 1000:.0f} ms")
    print(f"  the store read first (none kept, or out of date): {first_start * 1000:.0f} ms")
    print(f"  floor (bare Kivy app, one label): {bare_start * 1000:.0f} ms")
    print(
        f"  ratio: {kiosk_start / bare_start:.2f} kept, {first_start / bare_start:.2f} store first"
    )
    print("start-up to ready (the engine loaded, its idle screen read from the store):")
    print(f"  kept: {kiosk_ready * 1000:.0f} ms, store first: {first_ready * 1000:.0f} ms")
    print(f"  ratio to the floor: {kiosk_ready / bare_start:.2f}, {first_ready / bare_start:.2f}")
    record(
        "ui.startup",
        what="kiosk app start -> idle screen",
        now=f"{kiosk_start:.2f} s (idle screen kept; store read first {first_start:.2f} s;"
        f" ready {kiosk_ready:.2f} s)",
        floor=f"a bare one-label Kivy app: {bare_start:.2f} s",
        ratio=kiosk_start / bare_start,
        goal="<= 1.5x",
        met=kiosk_start / bare_start <= 1.5,
        seconds=kiosk_start,
        store_first_seconds=first_start,
        ready_seconds=kiosk_ready,
        store_first_ready_seconds=first_ready,
        floor_seconds=bare_start,
    )

    # At the idle screen with the engine loaded, as the kiosk waits for the next child.
    kiosk_idle, drawn = median(kept_runs, 3), median(kept_runs, 1)
    bare_idle = median(bare_runs, 1)
    settings = " ".join(f"{name}={os.environ[name]}" for name in sorted(KIVY_ENVIRONMENT))
    print(f"memory (resident), each with the kiosk's Kivy settings ({settings}):")
    print(f"  the kiosk at the idle screen, engine loaded, as started: {kiosk_idle:.1f} MB")
    print(f"  ({drawn:.1f} MB at its third frame, before the engine is loaded)")
    print(
        f"  the engine and its store alone add {engine_mb:.1f} MB to a Python process: with the"
        f" bare Kivy app, {bare_idle + engine_mb:.1f} MB at least"
    )
    ratio = kiosk_idle / bare_idle
    print(f"  floor (bare Kivy app, one label): {bare_idle:.1f} MB   ratio {ratio:.2f}")
    after = {n: sum(kinds.values()) for n, kinds in started.items()}
    last = after[args.sessions]
    growth = last - after.get(100, after[1])
    print(
        "  `kiosk run --window`, sessions on its standard input: "
        + ", ".join(f"{mb:.1f} MB after {n}" for n, mb in after.items())
        + f" (growth after 100: {growth:+.1f} MB)"
    )
    print(
        f"  enrolled with an office (the same size), at the idle screen after its first sync:"
        f" {enrolled_mb:.1f} MB; the same folder not enrolled: {alone_mb:.1f} MB (the sync"
        f" client and its thread: {enrolled_mb - alone_mb:+.1f} MB)"
    )
    if (first := memory.get(100)) is not None:
        print(
            f"  in this process (the app driven frame by frame): {memory[0]:.1f} MB at the idle"
            f" screen, {first:.1f} MB after 100 sessions, {memory[args.sessions]:.1f} MB after"
            f" {args.sessions}"
        )
    bare_kinds = sorted(bare_runs, key=lambda run: run.mb)[len(bare_runs) // 2].kinds
    columns = {"bare app": bare_kinds} | {f"kiosk, {n}": kinds for n, kinds in started.items()}
    print("  by kind of mapping, MB: " + "".join(f"{name:>14s}" for name in columns))
    for kind in KINDS:
        print(f"    {kind:20s}" + "".join(f"{kinds[kind]:14.1f}" for kinds in columns.values()))
    renderer = started[args.sessions]["renderer"]
    print(
        f"  the software renderer (llvmpipe, LLVM) is {renderer:.0f} MB of it here, as much in"
        f" the bare app: a Pi draws with its V3D driver instead"
    )
    record(
        "ui.memory",
        what=f"kiosk RSS, idle / after {args.sessions:,} sessions",
        now=f"{kiosk_idle:.0f} / {last:.0f} MB (growth after 100 sessions {growth:+.1f} MB)",
        floor=f"bare Kivy app {bare_idle:.0f} MB; engine alone +{engine_mb:.0f} MB",
        ratio=kiosk_idle / bare_idle,
        goal="<= 150 MB, flat",
        met=max(kiosk_idle, last, enrolled_mb) <= 150 and growth <= 5,
        idle_mb=kiosk_idle,
        enrolled_idle_mb=enrolled_mb,
        after_mb=last,
        growth_mb=growth,
        floor_mb=bare_idle,
        engine_alone_mb=engine_mb,
        renderer_mb=renderer,
    )

    k50, k99 = percentile(key_app, 50) * 1000, percentile(key_app, 99) * 1000
    h50, h99 = percentile(key_headless, 50) * 1000, percentile(key_headless, 99) * 1000
    print(f"key from the scanner -> engine, touchscreen app ({args.scans} scans, frames drawn)")
    print(f"  p50 {k50:6.3f} ms   p99 {k99:6.3f} ms   max {max(key_app) * 1000:6.3f} ms")
    print(f"  floor (headless mode, same chain) p50 {h50:6.3f} ms   p99 {h99:6.3f} ms")
    print(f"  ratio p50 {k50 / h50:.1f}x   goal p50 < {KEY_GOAL_MS:.0f} ms")
    record(
        "ui.key_to_engine",
        what="key from the scanner -> engine, touchscreen app",
        now=f"p50 {k50:.2f} ms, p99 {k99:.2f} ms",
        floor=f"headless: p50 {h50:.2f} ms, p99 {h99:.2f} ms",
        ratio=k50 / h50,
        goal=f"< {KEY_GOAL_MS:.0f} ms, as headless",
        met=k50 < KEY_GOAL_MS,
        p50_ms=k50,
        p99_ms=k99,
        floor_p50_ms=h50,
        floor_p99_ms=h99,
    )

    app_ms = [v * 1000 for v in lunch_app]
    floor_ms = [v * 1000 for v in lunch_floor]
    worst = max(app_ms)
    verdict = "within" if worst <= LUNCH_BUDGET_SECONDS * 1000 else "OVER"
    print(f"lunch queue ({len(app_ms)} children, demo library): the kiosk's own time per child")
    print(
        f"  p50 {statistics.median(app_ms):6.1f} ms   p95 {percentile(app_ms, 95):6.1f} ms"
        f"   max {worst:6.1f} ms   budget {LUNCH_BUDGET_SECONDS * 1000:.0f} ms: {verdict}"
    )
    print(f"  floor (the engine alone, the same queue): p50 {statistics.median(floor_ms):6.1f} ms")
    print(f"  ratio: {statistics.median(app_ms) / statistics.median(floor_ms):.1f}")
    print(f'memory taken by the first "find a student" search (pinyin): {dictionary:.1f} MB')
    return 0


if __name__ == "__main__":
    sys.exit(main())
