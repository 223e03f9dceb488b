"""The kiosk under systemd's watchdog: READY=1 once it runs, then WATCHDOG=1 from its main loop.

systemd itself cannot run here (it would have to be process 1), so a fake one listens on the
notify socket the way systemd does and calls a kiosk hung when WATCHDOG=1 stops coming for
longer than WatchdogSec. The kiosks are the real `kiosk run` command, headless and with the
touchscreen app (drawn offscreen); their main loop is stopped the way a real one would be:
another program holds the database's write lock while a card is scanned.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.settings import SETUP_DONE
from kiosk.store import Store, set_setting
from kiosk.ui.fonts import FontNotFound, find_cjk_font
from tests.conftest import require

WATCHDOG_SECONDS = 2.0
PATIENCE = 120  # seconds to wait for something that must happen (a busy CI machine is slow)


class FakeSystemd:
    """The receiving end of $NOTIFY_SOCKET, judging the watchdog as systemd does."""

    def __init__(self, path: Path, watchdog: float) -> None:
        self.path = path
        self.watchdog = watchdog
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []
        self.hung_at: list[float] = []  # when the watchdog ran out, as systemd would kill
        self._last: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def environment(self) -> dict[str, str]:
        return {"NOTIFY_SOCKET": str(self.path), "WATCHDOG_USEC": str(int(self.watchdog * 1e6))}

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                data = None
            now = time.monotonic()
            if data is not None:
                for line in data.decode().splitlines():
                    self.messages.append((now, line))
                    if line in ("READY=1", "WATCHDOG=1"):
                        self._last = now
            elif self._last is not None and now - self._last > self.watchdog:
                self.hung_at.append(now)
                self._last = None  # systemd would restart it; here we wait for it to come back

    def count(self, message: str, since: float = 0.0) -> int:
        return sum(1 for at, line in list(self.messages) if line == message and at >= since)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def wait_for(what: str, condition: Callable[[], bool], process: subprocess.Popen) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the kiosk ended (status {process.returncode}) before: {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"not within {PATIENCE} s: {what}")
        time.sleep(0.05)


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[FakeSystemd]:
    fake = FakeSystemd(tmp_path / "notify", WATCHDOG_SECONDS)
    yield fake
    fake.close()


@pytest.fixture
def library(store: Store, data_dir: Path) -> Path:
    """A small library whose touchscreen app starts on its idle screen."""
    with store.write() as db:
        set_setting(db, SETUP_DONE, "1")
    return data_dir


def start_kiosk(data: Path, systemd: FakeSystemd, *how: str) -> subprocess.Popen:
    env = {**os.environ, **systemd.environment(), "PYTHONUNBUFFERED": "1"}
    env.pop("WATCHDOG_PID", None)
    return subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "--data", str(data), "run", *how],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


def a_frozen_main_loop_is_seen_as_hung(
    process: subprocess.Popen, systemd: FakeSystemd, *, by_signal: bool
) -> None:
    assert process.stdin is not None
    wait_for("READY=1", lambda: systemd.count("READY=1") == 1, process)
    wait_for("three WATCHDOG=1", lambda: systemd.count("WATCHDOG=1") >= 3, process)

    # Another program holds the write lock: every scan is written, so the main loop waits.
    blocker = sqlite3.connect(process.args[4] + "/kiosk.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    frozen_from = time.monotonic()
    hung_before = len(systemd.hung_at)
    process.stdin.write(b"S1\n")
    process.stdin.flush()
    try:
        wait_for(
            "the watchdog running out",
            lambda: any(at > frozen_from for at in systemd.hung_at[hung_before:]),
            process,
        )
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    released = time.monotonic()
    wait_for("WATCHDOG=1 again", lambda: systemd.count("WATCHDOG=1", since=released) >= 2, process)
    assert systemd.count("READY=1") == 1  # the same kiosk carried on: it never restarted

    # The touchscreen app stops on SIGTERM (as systemd stops it), headless mode at the end of input.
    if by_signal:
        process.terminate()
    _, stderr = process.communicate(timeout=PATIENCE)
    assert process.returncode == 0, stderr.decode(errors="replace")


def test_headless_kiosk_beats_from_its_loop_and_a_frozen_loop_is_hung(
    library: Path, systemd: FakeSystemd
) -> None:
    process = start_kiosk(library, systemd, "--headless", "--scanner", "stdin")
    try:
        a_frozen_main_loop_is_seen_as_hung(process, systemd, by_signal=False)
    finally:
        process.kill()
        process.wait()


def test_touchscreen_app_beats_from_its_main_loop_and_a_frozen_one_is_hung(
    library: Path, systemd: FakeSystemd, tmp_path: Path
) -> None:
    try:
        find_cjk_font()
        found = True
    except FontNotFound:
        found = False
    require("fonts-wqy-microhei", found, "Chinese text on the screen")
    from kiosk.ui.driver import headless_environment

    saved = dict(os.environ)
    try:
        os.environ["KIVY_HOME"] = str(tmp_path / "kivy")
        headless_environment()  # SDL2 offscreen, Mesa: the app draws without a display
        process = start_kiosk(library, systemd, "--window", "--scanner", "stdin")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        a_frozen_main_loop_is_seen_as_hung(process, systemd, by_signal=True)
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=PATIENCE)


def test_no_notify_socket_no_beats() -> None:
    from kiosk import service

    beats = service.Notifier(environ={})
    beats.beat()
    assert not beats.active and beats.watchdog is None
