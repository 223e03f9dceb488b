"""The touchscreen app: Kivy screens around the kiosk engine.

Kivy reads its environment when it is first imported, so the settings every use of the app
needs are made here, before any Kivy module is loaded.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import functools
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk import service

# What Kivy reads from the environment at its first import, for every start of the app (the
# service, a window, tests, benchmarks): the kiosk command parses its own arguments, and
# its screens show no image files, so SDL2 alone loads Kivy's own theme, without Pillow
# (2 MB less resident on the idle screen).
KIVY_ENVIRONMENT = {"KIVY_NO_ARGS": "1", "KIVY_IMAGE": "sdl2"}
for _name, _value in KIVY_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)

if TYPE_CHECKING:
    from kiosk.engine import Kiosk
    from kiosk.headless import Input
    from kiosk.ui.app import ClockOff, Enroll, Listener, SyncNow

DESIGN_SIZE = (800, 480)  # the official 7-inch display; everything scales from it


def configure(*, locked: bool, size: tuple[int, int] = DESIGN_SIZE) -> None:
    """Window settings. They only take effect before the window exists, i.e. before
    kiosk.ui.app (which opens it) is imported."""
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "0")
    # A touchscreen has no keyboard: the office's address is typed on Kivy's own, docked.
    Config.set("kivy", "keyboard_mode", "systemanddock" if locked else "")
    Config.set("graphics", "fullscreen", "auto" if locked else "0")
    Config.set("graphics", "borderless", "1" if locked else "0")
    Config.set("graphics", "show_cursor", "0" if locked else "1")
    Config.set("graphics", "width", str(size[0]))
    Config.set("graphics", "height", str(size[1]))
    Config.set("graphics", "resizable", "0" if locked else "1")


@dataclass
class Wiring:
    """What the app runs with once the store is open, made by kiosk/cli.py (the UI knows
    nothing of the sync client or the scanners): the engine; kiosk.toml's touchscreen;
    *connect*, called with the function that takes inputs from any thread (the scanners hand
    their codes to it from the reader's thread); listeners of every outcome (the status
    lights); the office link (the helpers' "sync now", the first run's "connect to the office
    server", how far the kiosk clock is off the office's)."""

    kiosk: Kiosk
    touchscreen: str = ""
    connect: Callable[[Callable[[Input], None]], object] | None = None
    listeners: Iterable[Listener] = ()
    sync_now: SyncNow | None = None
    enroll: Enroll | None = None
    clock_off: ClockOff | None = None

    def link(self) -> dict[str, Any]:
        """What the app is given besides the engine."""
        return {
            "sync_now": self.sync_now,
            "enroll": self.enroll,
            "clock_off": self.clock_off,
            "listeners": list(self.listeners),
        }


def run(
    load: Callable[[], Wiring],
    *,
    data_dir: Path | None = None,
    locked: bool = True,
    inbox: queue.Queue[Input | None] | None = None,
    configure_input: Callable[[str], None] | None = None,
) -> str | None:
    """Run the touchscreen app until it is stopped; returns "restart", "shutdown" or None.

    *load* opens the store and makes the engine. With *data_dir*, the idle screen kept there
    at the last stop (kiosk.ui.snapshot) is drawn first, if it is still what the store would
    show, and *load* runs after the first frame on a thread of its own; otherwise it runs
    first. When the app stops, the idle screen is kept there for the next start.
    *locked*: fullscreen, no cursor, no way out but the supervisor menu (the real kiosk);
    otherwise an 800x480 window that may be closed (a laptop demo). *inbox*: scans, lines
    as in headless mode and device outcomes, put there by other threads (standard input).
    *configure_input*: sets Kivy's input to kiosk.toml's touchscreen (evdev mode).
    """
    from kiosk.ui import fonts
    from kiosk.ui.snapshot import IdleSnapshot

    snapshot = IdleSnapshot.load(data_dir, dt.datetime.now(dt.UTC)) if data_dir else None
    wiring = load() if snapshot is None else None
    if wiring is not None:
        font, touchscreen = fonts.find_cjk_font(wiring.kiosk.settings.font), wiring.touchscreen
    else:
        assert snapshot is not None
        font, touchscreen = Path(snapshot.font), snapshot.touchscreen
    configure(locked=locked)
    if configure_input is not None:
        configure_input(touchscreen)
    fonts.register(font)
    # Kivy modules that open the window come only now, after configure().
    from kivy.base import ExceptionManager
    from kivy.clock import Clock

    from kiosk.ui.app import KeepRunning, KioskApp

    app = KioskApp(
        wiring.kiosk if wiring else None,
        snapshot=snapshot,
        font=str(font),
        touchscreen=touchscreen,
        locked=locked,
        **(wiring.link() if wiring else {}),
    )
    failed: list[BaseException] = []

    def wire(wired: Wiring) -> None:  # on the main thread, once the idle screen is up
        for name, value in wired.link().items():
            setattr(app, name, value)
        if app.kiosk is None:
            app.ready(wired.kiosk)
            give_back_free_memory()
        if wired.connect is not None:
            wired.connect(app.submit)

    def load_later() -> None:
        try:
            wired = load()
        except BaseException as exc:  # the kiosk cannot run: stop, and say why (kiosk/cli.py)
            failed.append(exc)
            Clock.schedule_once(lambda _dt: app.stop())
            return
        Clock.schedule_once(lambda _dt: wire(wired))

    def after_frames(frames: int, then: Callable[[], object]) -> None:
        Clock.schedule_once(lambda _dt: after_frames(frames - 1, then) if frames else then())

    if wiring is not None:
        Clock.schedule_once(lambda _dt: wire(wiring))
    else:  # once the idle screen is drawn (its layout settles in three frames)
        after_frames(3, threading.Thread(target=load_later, daemon=True).start)
    if inbox is not None:
        app.read_inbox(inbox)
    ExceptionManager.add_handler(KeepRunning(app))
    # systemd stops the kiosk with SIGTERM: end the session properly (on the main thread).
    signal.signal(signal.SIGTERM, lambda *_: Clock.schedule_once(lambda _dt: app.stop()))
    beats = service.Notifier()  # READY=1, then systemd's watchdog, from the UI's main loop
    Clock.schedule_interval(lambda _dt: beats.beat(), min(beats.beat_seconds, 1))
    app.run()
    if failed:
        raise failed[0]
    if data_dir is not None and app.kept is not None and app.kiosk is not None:
        app.kiosk.store.close()  # its files as they stay until the next start
        app.kept.keep(data_dir)
    return app.exit_action


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to hand back this way
        return None


def give_back_free_memory() -> None:
    """Hand back to the system what malloc holds free: what the loading thread's imports
    freed stays in its own arena (about 2 MB), and the labels and screens emptied after each
    child leave holes in the heap that otherwise add up, a few MB over a day's queue (Linux
    with glibc only; well under a millisecond)."""
    if (libc := _libc()) is not None:
        libc.malloc_trim(0)
