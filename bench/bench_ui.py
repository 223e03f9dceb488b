"""Touchscreen app: scan to first rendered frame, start-up against a bare Kivy app, memory.

Runs the real app headless (SDL2 offscreen, Mesa llvmpipe) on a demo library:

- scan -> first frame: from handing a code over as the scanner thread does
  (``submit_scan``) to the end of the first frame drawn with its answer on the screen
  (p50, p99), for cards, books lent and books returned. Frames are drawn as fast as
  possible here; at the kiosk's 60 frames a second, add up to 17 ms of waiting for the next.
- start-up: a new process until the idle screen is drawn, against a bare Kivy app showing one
  label (the floor; each in its own process, as Kivy has one window per process).
- memory: resident size after 100 and after 1,000 simulated sessions (no growth expected).

``python bench/bench_ui.py [--sessions 1000]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.engine import Kiosk

# Each start-up is timed in a new process from its first line to the end of the third frame.
BARE_APP = """
import time
start = time.perf_counter()
from kiosk.ui.driver import headless_environment
headless_environment()
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
print(time.perf_counter() - start)
"""
KIOSK_APP = """
import sys, time
start = time.perf_counter()
from pathlib import Path
from kiosk.ui.driver import Driver, headless_environment
headless_environment()
from kiosk.cli import open_data
from kiosk.engine import Kiosk
store, cfg = open_data(Path(sys.argv[1]))
driver = Driver(Kiosk(store, cfg.kiosk))  # runs three frames
assert driver.screen == "idle", driver.screen
print(time.perf_counter() - start)
"""


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


def startup(code: str, folder: Path) -> float:
    script = folder / "startup.py"  # a file: Kivy looks for an app's .kv beside its source
    script.write_text(code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script), str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=1000)
    args = parser.parse_args()
    from kiosk.ui.driver import Driver, headless_environment

    headless_environment()
    with tempfile.TemporaryDirectory() as tmp:
        kiosk = demo_kiosk(Path(tmp))
        driver = Driver(kiosk)
        app = driver.app
        memory: dict[int, float] = {0: rss_mb()}
        flips = [0]
        driver.window.bind(on_flip=lambda *_: flips.__setitem__(0, flips[0] + 1))

        def answer_frame(code: str, shown: str) -> float:
            """Seconds from the scan to the end of the first frame showing *shown*."""
            start = time.perf_counter()
            app.submit_scan(code)
            while True:
                before = flips[0]
                driver.frames()
                if flips[0] > before and shown in driver.text():
                    return time.perf_counter() - start
                if time.perf_counter() - start > 5:
                    raise RuntimeError(f"{code}: {shown!r} never shown")

        students = [f"S{n:04d}" for n in range(1, 37)]
        books = [str(100001 + n) for n in range(0, 150)]
        timings: dict[str, list[float]] = {"card": [], "lend": [], "return": []}
        for n in range(args.sessions):
            student, book = students[n % len(students)], books[n % len(books)]
            timings["card"].append(answer_frame(student, "✔ 完成"))
            timings["lend"].append(answer_frame(book, "✔ 《"))
            app.touch("done")
            app.dismiss()
            if n > 0:  # the book lent last time (the same code at once would be a repeat)
                returned = books[(n - 1) % len(books)]
                timings["return"].append(answer_frame(returned, "谢谢！"))
                app.dismiss()
            driver.frames()
            if n + 1 in (100, args.sessions):
                memory[n + 1] = rss_mb()
        kiosk.store.close()
        kiosk_start = statistics.median(startup(KIOSK_APP, Path(tmp)) for _ in range(3))
        bare_start = statistics.median(startup(BARE_APP, Path(tmp)) for _ in range(3))

    print(f"scan -> first frame with the answer ({args.sessions} sessions):")
    for kind, values in timings.items():
        ms = [v * 1000 for v in values]
        print(f"  {kind:7s} p50 {statistics.median(ms):6.1f} ms   p99 {percentile(ms, 99):6.1f} ms")
    print(f"start-up to the idle screen: {kiosk_start * 1000:.0f} ms")
    print(f"  floor (bare Kivy app, one label): {bare_start * 1000:.0f} ms")
    print(f"  ratio: {kiosk_start / bare_start:.2f}")
    print(f"memory (resident): {memory[0]:.1f} MB at the idle screen")
    first, last = memory.get(100), memory[args.sessions]
    if first is not None:
        print(
            f"  {first:.1f} MB after 100 sessions, {last:.1f} MB after {args.sessions}"
            f" (growth {last - first:+.1f} MB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
