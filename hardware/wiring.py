"""Connects the devices of kiosk.toml to a kiosk: scanners in, lights and buzzer out.

The scanner reader and the buttons run in threads of their own; everything they produce goes
through one queue to the thread that calls the engine, so the engine sees one input at a time
and its tick loop keeps running between scans.
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
    """The scanner reader and the status lights of one kiosk, feeding *inbox*."""

    def __init__(
        self,
        kiosk: Kiosk,
        cfg: KioskConfig,
        inbox: queue.Queue[Input | None],
        *,
        find: scanner.Finder | None = None,
        lights: status_lights.StatusLights | None = None,
    ) -> None:
        try:
            rules, decoder = scanner.from_settings(cfg.scanners)
            self.lights = lights or status_lights.from_settings(cfg.lights)
        except (scanner.BadLayout, status_lights.NoGPIO) as exc:
            raise HardwareError(f"kiosk.toml: {exc}") from exc
        # the "done" button is a touch on "done", taken in turn with the scans
        self.lights.on_done = lambda: inbox.put(b":done\n")
        self.kiosk = kiosk
        self.inbox = inbox
        self.reader = scanner.ScannerReader(
            on_code=lambda code, role: inbox.put(Scan(code, role)),
            on_change=lambda change: inbox.put(device_outcome(change, kiosk.idle_light)),
            find=find or scanner.DeviceFinder(rules, cfg.scanners.touchscreen),
            decoder=decoder,
        )

    def start(self) -> Devices:
        self.lights.show(self.kiosk.idle_light())
        self.reader.start()
        if self.reader.devices:
            log.info("scanners: %s", "; ".join(self.reader.devices))
        else:
            self.inbox.put(NO_SCANNER)
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
    devices = Devices(kiosk, cfg, inbox, find=find, lights=lights).start()
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
