"""Connects the devices of kiosk.toml to a kiosk: scanners in, lights and buzzer out.

The scanner reader and the buttons run in threads of their own and hand everything they
produce to one function, from their own thread: in headless mode it puts it on the queue of the
loop that calls the engine (whose ticks run between scans); the touchscreen app calls the
engine at once, on the reader's thread, and only shows the answer on its own.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from hardware import lights as status_lights
from hardware import scanner
from kiosk import headless
from kiosk.headless import Input, Scan
from kiosk.outcome import Kind, Light, Outcome, Sound

if TYPE_CHECKING:
    from kiosk.config import KioskConfig
    from kiosk.engine import Kiosk

log = logging.getLogger(__name__)

Deliver = Callable[[Input], None]  # takes an input, from any thread


class HardwareError(Exception):
    """The scanners or lights of kiosk.toml cannot be set up; the message says how to fix it."""


def device_outcome(change: scanner.DeviceChange, idle: Callable[[], Light]) -> Outcome:
    """What a scanner coming or going means on the screen and the lights."""
    if change.connected:
        # Nothing for the screen to do; the lights go back to what they showed before the fault.
        return Outcome(
            Kind.IGNORED, light=idle(), reason="scanner_connected", detail={"device": change.device}
        )
    return Outcome(
        Kind.FAULT,
        light=Light.FAULT,
        sound=Sound.LOW_BEEP,
        reason="scanner_unplugged",
        detail={
            "device": change.device,
            "message": f"{change.device} was unplugged: plug it in again",
        },
    )


NO_SCANNER = Outcome(
    Kind.FAULT,
    light=Light.FAULT,
    sound=Sound.LOW_BEEP,
    reason="no_scanner",
    detail={"message": "no scanner found: plug in the USB scanner, or run `kiosk doctor`"},
)


class Devices:
    """The scanner reader and the status lights of one kiosk; what they read goes to the
    function given to :meth:`start`."""

    def __init__(
        self,
        kiosk: Kiosk,
        cfg: KioskConfig,
        *,
        find: scanner.Finder | None = None,
        lights: status_lights.StatusLights | None = None,
    ) -> None:
        try:
            rules, decoder = scanner.from_settings(cfg.scanners)
            self.lights = lights or status_lights.from_settings(cfg.lights)
        except (scanner.BadLayout, status_lights.NoGPIO) as exc:
            raise HardwareError(f"kiosk.toml: {exc}") from exc
        self.kiosk = kiosk
        self._deliver: Deliver | None = None
        self.reader = scanner.ScannerReader(
            on_code=lambda code, role: self.deliver(Scan(code, role)),
            on_change=lambda change: self.deliver(device_outcome(change, kiosk.idle_light)),
            find=find or scanner.DeviceFinder(rules, cfg.scanners.touchscreen),
            decoder=decoder,
        )

    def deliver(self, item: Input) -> None:
        assert self._deliver is not None, "started (Devices.start)"
        self._deliver(item)

    def start(self, deliver: Deliver) -> Devices:
        """Read the scanners, handing each input to *deliver* from the reader's thread."""
        self._deliver = deliver
        # the "done" button is a touch on "done", taken in turn with the scans
        self.lights.on_done = lambda: deliver(b":done\n")
        self.lights.show(self.kiosk.idle_light())
        self.reader.start()
        if self.reader.devices:
            log.info("scanners: %s", "; ".join(self.reader.devices))
        else:
            deliver(NO_SCANNER)
        return self

    def stop(self) -> None:
        self.reader.stop()
        self.lights.close()


def run_headless(
    kiosk: Kiosk,
    cfg: KioskConfig,
    out: TextIO,
    *,
    find: scanner.Finder | None = None,
    lights: status_lights.StatusLights | None = None,
    inbox: queue.Queue[Input | None] | None = None,
) -> None:
    """Headless mode on real devices: scanners in, JSON outcomes out, lights on the GPIO.

    Runs until SIGTERM (systemd stopping the kiosk), Ctrl+C, or None put on *inbox*.
    """
    inbox = inbox if inbox is not None else queue.Queue()
    devices = Devices(kiosk, cfg, find=find, lights=lights).start(inbox.put)
    # SIGTERM (systemd) and Ctrl+C end the run in turn, so an open session ends properly
    restore = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            restore[sig] = signal.signal(sig, lambda *_: inbox.put(None))
    try:
        headless.run_queue(kiosk, inbox, out, listeners=[devices.lights.listen])
    finally:
        devices.stop()
        for sig, handler in restore.items():
            signal.signal(sig, handler)
