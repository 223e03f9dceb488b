"""The whole chain in one process: scanner key events -> decoder -> reader thread -> engine ->
JSON outcomes and light patterns, as `kiosk run --headless --scanner evdev` runs it.

The engine, its SQLite store and the lights code are the real ones; the scanners are ReplayDevice
stand-ins (a physical /dev/input device cannot exist here, and there is no /dev/uinput) sending
real evdev.InputEvent sequences, and the pins are gpiozero's MockFactory (no GPIO here).
"""

from __future__ import annotations

import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from hardware.lights import Pins, StatusLights
from hardware.scanner import DeviceRule
from hardware.standin import ReplayDevice, hid_events
from hardware.wiring import run_headless
from kiosk import config
from kiosk.engine import Kiosk
from kiosk.headless import Input
from tests.conftest import FakeClock

WAIT = 30.0  # seconds for an outcome to come out, however busy the machine
ROOT = Path(__file__).resolve().parent.parent


class Lines(io.TextIOBase):
    """The headless output, one JSON outcome per line, readable from the test's thread."""

    def __init__(self) -> None:
        self.outcomes: queue.Queue[dict[str, Any]] = queue.Queue()
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self.outcomes.put(json.loads(line))
        return len(text)

    def next(self) -> dict[str, Any]:
        return self.outcomes.get(timeout=WAIT)


class Plugged:
    def __init__(self, *devices: tuple[ReplayDevice, DeviceRule]) -> None:
        self.devices = list(devices)

    def __call__(self, in_use: set[str]) -> list[tuple[ReplayDevice, DeviceRule]]:
        return [(d, r) for d, r in self.devices if d.path not in in_use and not d.closed]


class Running:
    """`run --headless --scanner evdev` in a thread, on stand-in devices and mock pins."""

    def __init__(self, kiosk: Kiosk, data_dir: Path, *devices: tuple[ReplayDevice, DeviceRule]):
        self.out = Lines()
        self.inbox: queue.Queue[Input | None] = queue.Queue()
        self.plugged = Plugged(*devices)
        self.lights = StatusLights(Pins(buzzer=18, done_button=6), pin_factory=MockFactory())
        cfg = config.load(data_dir)
        self.thread = threading.Thread(
            target=run_headless,
            args=(kiosk, cfg, self.out),
            kwargs={
                "find": self.plugged,
                "lights": self.lights,
                "inbox": self.inbox,
            },
            daemon=True,
        )
        self.thread.start()

    def stop(self) -> None:
        self.inbox.put(None)
        self.thread.join(WAIT)


@pytest.fixture
def cards() -> ReplayDevice:
    return ReplayDevice("/dev/input/event3", name="RFID Card Reader")


@pytest.fixture
def books() -> ReplayDevice:
    return ReplayDevice("/dev/input/event4", name="Barcode Scanner")


@pytest.fixture
def running(
    kiosk: Kiosk, data_dir: Path, cards: ReplayDevice, books: ReplayDevice
) -> Iterator[Running]:
    run = Running(
        kiosk,
        data_dir,
        (cards, DeviceRule("RFID", "cards")),
        (books, DeviceRule("Barcode", "books")),
    )
    yield run
    run.stop()


def scan(device: ReplayDevice, code: str) -> None:
    device.send(hid_events(code, time.time()))


def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for the lights' threads to get there, however busy the machine."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"not seen: {what}"
        time.sleep(0.01)


def states(pin: Any) -> list[bool]:
    return [bool(s.state) for s in pin.states]


def test_a_card_and_a_book_scanned_lend_the_book_and_blink_green(
    running: Running, cards: ReplayDevice, books: ReplayDevice
) -> None:
    lights = running.lights
    scan(cards, "S1")
    started = running.out.next()
    assert (started["outcome"], started["patron"], started["light"]) == (
        "session_started",
        "S1",
        "success",
    )
    blinked = [False, True, False, True, False, True, False, True]  # three blinks, then steady
    until(lambda: states(lights.green.pin)[-8:] == blinked, "the success blink, then green")
    assert lights.green.is_lit and not lights.red.is_lit
    lights.green.pin.clear_states()
    scan(books, "B001")
    lent = running.out.next()
    assert (lent["outcome"], lent["copy"], lent["light"]) == ("checked_out", "B001", "success")
    until(lambda: len(states(lights.green.pin)) >= 4, "green blinking")
    assert states(lights.green.pin)[:4] == [True, False, True, False]  # blinking
    until(lambda: states(lights.buzzer.pin)[-2:] == [True, False], "a short beep")


def test_the_card_reader_role_makes_any_code_from_it_a_card(
    running: Running, cards: ReplayDevice
) -> None:
    scan(cards, "B001")  # a book held to the card reader is not lent or returned
    refused = running.out.next()
    assert (refused["outcome"], refused["reason"], refused["light"]) == (
        "unknown_code",
        "unknown_card",
        "refused",
    )
    until(lambda: running.lights.red.is_lit, "red")
    assert not running.lights.green.is_lit


def test_time_passes_between_scans_and_the_session_ends_by_itself(
    running: Running, cards: ReplayDevice, clock: FakeClock
) -> None:
    scan(cards, "S1")
    assert running.out.next()["outcome"] == "session_started"
    clock.advance(31)  # the engine's tick loop keeps running while nobody scans
    ended = running.out.next()
    assert (ended["outcome"], ended["reason"], ended["light"]) == (
        "session_ended",
        "timeout",
        "ready",
    )


def test_the_lights_turn_amber_when_the_library_closes_with_nobody_at_the_kiosk(
    running: Running, clock: FakeClock
) -> None:
    until(lambda: running.lights.green.is_lit, "green: open")
    assert running.out.outcomes.empty()  # open: no news
    clock.advance(minutes=40)  # 14:25: lunch opening is over
    closed = running.out.next()
    assert (closed["outcome"], closed["reason"], closed["light"]) == (
        "ignored",
        "idle_light",
        "closed",
    )
    until(lambda: running.lights.amber.is_lit and not running.lights.green.is_lit, "amber")


def test_the_done_button_ends_the_visit(running: Running, cards: ReplayDevice) -> None:
    scan(cards, "S1")
    assert running.out.next()["outcome"] == "session_started"
    running.lights.done_button.pin.drive_low()
    ended = running.out.next()
    assert (ended["outcome"], ended["reason"]) == ("session_ended", "done")


def test_unplugging_is_a_fault_naming_the_device_and_replugging_resumes(
    running: Running, books: ReplayDevice, cards: ReplayDevice
) -> None:
    lights = running.lights
    books.unplug()
    fault = running.out.next()
    assert (fault["outcome"], fault["reason"], fault["light"]) == (
        "fault",
        "scanner_unplugged",
        "fault",
    )
    assert fault["detail"]["device"] == "Barcode Scanner (/dev/input/event4)"
    until(lambda: len(lights.red.pin.states) >= 4, "red fast blink")
    assert not lights.green.is_lit

    # the card reader still works meanwhile
    scan(cards, "S1")
    assert running.out.next()["outcome"] == "session_started"

    again = ReplayDevice("/dev/input/event7", name="Barcode Scanner")
    running.plugged.devices.append((again, DeviceRule("Barcode", "books")))
    back = running.out.next()
    assert (back["reason"], back["light"], back["detail"]["device"]) == (
        "scanner_connected",
        "ready",
        "Barcode Scanner (/dev/input/event7)",
    )
    scan(again, "B002")
    lent = running.out.next()
    assert (lent["outcome"], lent["copy"]) == ("checked_out", "B002")


def test_without_any_scanner_the_kiosk_says_so_with_a_red_fast_blink(
    kiosk: Kiosk, data_dir: Path
) -> None:
    run = Running(kiosk, data_dir)
    try:
        fault = run.out.next()
        assert (fault["outcome"], fault["reason"]) == ("fault", "no_scanner")
        assert "kiosk doctor" in fault["detail"]["message"]
        until(lambda: len(run.lights.red.pin.states) >= 4, "red fast blink")
    finally:
        run.stop()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["systemd", "ctrl-c"])
def test_the_kiosk_command_runs_headless_on_evdev_until_stopped(tmp_path: Path, stop: int) -> None:
    # here there is no /dev/input and no GPIO: the real command reports both and keeps running
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "--data", str(tmp_path), "run", "--headless",
         "--scanner", "evdev"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())
    assert (first["outcome"], first["reason"]) == ("fault", "no_scanner")
    time.sleep(0.5)  # a kiosk that stopped at the end of its empty input would be gone by now
    assert proc.poll() is None  # standard input is empty, yet the kiosk goes on
    proc.send_signal(stop)
    _out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0 and "Traceback" not in err
    assert "simulated" in err  # the clear log line about the lights


def test_a_bad_scanner_setting_stops_the_command_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text(
        config.DEFAULT_TOML.replace(
            'terminators = ["KEY_ENTER", "KEY_KPENTER", "KEY_TAB"]', 'terminators = ["KEY_ENTR"]'
        ),
        encoding="utf-8",
    )
    from kiosk.cli import main

    err = io.StringIO()
    old, sys.stderr = sys.stderr, err
    try:
        status = main(["--data", str(tmp_path), "run", "--headless", "--scanner", "evdev"])
    finally:
        sys.stderr = old
    assert status == 2
    assert "KEY_ENTR" in err.getvalue() and "not a key name" in err.getvalue()
