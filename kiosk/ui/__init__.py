"""The touchscreen app: Kivy screens around the kiosk engine.

Kivy reads its environment when it is first imported, so the settings every use of the app
needs are made here, before any Kivy module is loaded.
"""

from __future__ import annotations

import os
import queue
import signal
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from kiosk import service

# The kiosk command parses its own arguments; Kivy must not take them.
os.environ.setdefault("KIVY_NO_ARGS", "1")

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


def run(
    kiosk: Kiosk,
    *,
    locked: bool = True,
    inbox: queue.Queue[Input | None] | None = None,
    connect: Callable[[Callable[[Input], None]], object] | None = None,
    sync_now: SyncNow | None = None,
    enroll: Enroll | None = None,
    clock_off: ClockOff | None = None,
    listeners: Iterable[Listener] = (),
) -> str | None:
    """Run the touchscreen app until it is stopped; returns "restart", "shutdown" or None.

    *locked*: fullscreen, no cursor, no way out but the supervisor menu (the real kiosk);
    otherwise an 800x480 window that may be closed (a laptop demo). *inbox*: scans, lines
    as in headless mode and device outcomes, put there by other threads (standard input).
    *connect*: called once the app has started with the function that takes such inputs
    from any thread (the scanners hand their codes to it from the reader's thread).
    *sync_now*, *enroll*, *clock_off*: the office link, wired by kiosk/cli.py (the UI knows
    nothing of the sync client).
    """
    from kiosk.ui import fonts

    font = fonts.find_cjk_font(kiosk.settings.font)
    configure(locked=locked)
    fonts.register(font)
    # Kivy modules that open the window come only now, after configure().
    from kivy.base import ExceptionManager
    from kivy.clock import Clock

    from kiosk.ui.app import KeepRunning, KioskApp

    app = KioskApp(
        kiosk,
        locked=locked,
        sync_now=sync_now,
        enroll=enroll,
        clock_off=clock_off,
        listeners=listeners,
    )
    if inbox is not None:
        app.read_inbox(inbox)
    if connect is not None:  # on the first frame, once the idle screen is up
        Clock.schedule_once(lambda _dt: connect(app.submit))
    ExceptionManager.add_handler(KeepRunning(app))
    # systemd stops the kiosk with SIGTERM: end the session properly (on the main thread).
    signal.signal(signal.SIGTERM, lambda *_: Clock.schedule_once(lambda _dt: app.stop()))
    beats = service.Notifier()  # READY=1, then systemd's watchdog, from the UI's main loop
    Clock.schedule_interval(lambda _dt: beats.beat(), min(beats.beat_seconds, 1))
    app.run()
    return app.exit_action
