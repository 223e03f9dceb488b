"""The kiosk as a systemd service: it tells systemd that it runs, from its main loop.

The first beat says READY=1 (the kiosk is up), every later one WATCHDOG=1, so a kiosk whose
screen or loop froze stops beating and systemd's watchdog (WatchdogSec= in the unit) restarts
it. Beats come from the loop itself (a Kivy Clock interval, or the headless loop), never from a
thread of their own that would go on beating for a frozen kiosk.

The protocol is one datagram per message on the socket named by $NOTIFY_SOCKET (sd_notify(3));
it is these few lines rather than a library: the pure-Python ``sdnotify`` package has not been
released since 2017 and knows nothing of the watchdog's interval, and systemd's own bindings
need libsystemd's headers and a compiler on the Pi.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

# The one command the supervisor menu's "switch off" runs on a Raspberry Pi; deploy/ allows the
# kiosk user exactly this command and nothing else (deploy/sudoers-library-kiosk).
POWEROFF = ("sudo", "-n", "/usr/bin/systemctl", "poweroff")
# How often a loop without a watchdog checks in (only READY=1 is sent then).
IDLE_BEAT_SECONDS = 5.0


# syslog priorities, which the journal reads from a "<N>" at the start of each line.
_PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}


class _JournalLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITIES.get(record.levelno, 2)
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines())


def log_to_journal() -> None:
    """Under systemd (its journal on standard error), the kiosk's and Kivy's log lines go to
    the journal with their priority: `journalctl -u library-kiosk`, no log files on the SD card."""
    if not os.environ.get("JOURNAL_STREAM"):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JournalLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler])


class Notifier:
    """Beats for systemd; without $NOTIFY_SOCKET (not a service) it does nothing."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        # "@name" is a socket in the abstract namespace (no file), as systemd may hand out.
        self.address = "\0" + address[1:] if address.startswith("@") else address
        watchdog_usec = environ.get("WATCHDOG_USEC", "")
        watchdog_pid = environ.get("WATCHDOG_PID", "")
        meant_for_us = not watchdog_pid or watchdog_pid == str(os.getpid())
        self.watchdog: float | None = None
        if watchdog_usec.isdigit() and int(watchdog_usec) > 0 and meant_for_us:
            self.watchdog = int(watchdog_usec) / 1_000_000
        # A quarter of the watchdog's time: a beat skipped by a busy moment still leaves room.
        self.beat_seconds = self.watchdog / 4 if self.watchdog else IDLE_BEAT_SECONDS
        self._clock = clock
        self._ready = False
        self._last_beat: float | None = None
        self._socket: socket.socket | None = None

    @property
    def active(self) -> bool:
        return bool(self.address)

    def beat(self) -> None:
        """Call from the main loop as often as it likes: READY=1 the first time, then WATCHDOG=1
        at most every beat_seconds."""
        if not self.active:
            return
        if not self._ready:
            self._ready = self._send("READY=1\nSTATUS=the kiosk is running")
            self._last_beat = self._clock()
            return
        now = self._clock()
        if self.watchdog is None or (
            self._last_beat is not None and now - self._last_beat < self.beat_seconds
        ):
            return
        self._send("WATCHDOG=1")
        self._last_beat = now

    def stopping(self) -> None:
        if self.active:
            self._send("STOPPING=1")

    def _send(self, message: str) -> bool:
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.sendto(message.encode(), self.address)
        except OSError as exc:  # systemd will notice the silence; say why in the journal
            log.warning("cannot tell systemd %r: %s", message.split("\n")[0], exc)
            return False
        return True
