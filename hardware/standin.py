"""Stand-ins for a scanner where none can be plugged in (a laptop, CI: no /dev/input, and no
/dev/uinput to make a virtual one), for the tests and the benchmarks.

:func:`hid_events` gives the ``evdev.InputEvent`` sequence a USB HID barcode scanner set to a
US layout produces for a code, as the kernel reports it: an ``EV_MSC``/``MSC_SCAN`` with the HID
usage before each key, key down, ``SYN_REPORT``, key up, ``SYN_REPORT``, Shift around capitals.
:class:`ReplayDevice` is read like an ``evdev.InputDevice`` (a real descriptor the reader can
select on) and can be unplugged, after which reading fails with ``OSError(ENODEV)`` as the
kernel's does.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace

from evdev import InputEvent, ecodes

# HID keyboard usage IDs (USB HID Usage Tables, page 7), as reported in MSC_SCAN (0x70000 | id).
_LETTER_USAGE = {
    chr(ord("a") + i): (getattr(ecodes, f"KEY_{chr(ord('A') + i)}"), 4 + i) for i in range(26)
}
_DIGIT_USAGE = {d: (getattr(ecodes, f"KEY_{d}"), 30 + "1234567890".index(d)) for d in "1234567890"}
_KEYPAD_USAGE = {
    d: (getattr(ecodes, f"KEY_KP{d}"), 89 + "1234567890".index(d)) for d in "1234567890"
}
_SHIFTED_DIGITS = dict(zip("!@#$%^&*()", "1234567890", strict=True))
_OTHER_USAGE = {
    "-": (ecodes.KEY_MINUS, 45),
    ".": (ecodes.KEY_DOT, 55),
    "/": (ecodes.KEY_SLASH, 56),
    " ": (ecodes.KEY_SPACE, 44),
}
USAGE = {
    ecodes.KEY_ENTER: 40,
    ecodes.KEY_TAB: 43,
    ecodes.KEY_KPENTER: 88,
    ecodes.KEY_LEFTSHIFT: 225,
    ecodes.KEY_RIGHTSHIFT: 229,
    ecodes.KEY_CAPSLOCK: 57,
    **{key: usage for key, usage in _LETTER_USAGE.values()},
    **{key: usage for key, usage in _DIGIT_USAGE.values()},
    **{key: usage for key, usage in _KEYPAD_USAGE.values()},
    **{key: usage for key, usage in _OTHER_USAGE.values()},
}


def _event(at: float, type_: int, code: int, value: int) -> InputEvent:
    sec = int(at)
    return InputEvent(sec, round((at - sec) * 1_000_000), type_, code, value)


def key_events(key: int, at: float, *, hold: float = 0.001) -> list[InputEvent]:
    """One key pressed at *at* and let go *hold* seconds later, with its scan code and SYNs."""
    usage = 0x70000 | USAGE.get(key, 0)
    return [
        _event(at, ecodes.EV_MSC, ecodes.MSC_SCAN, usage),
        _event(at, ecodes.EV_KEY, key, 1),
        _event(at, ecodes.EV_SYN, ecodes.SYN_REPORT, 0),
        _event(at + hold, ecodes.EV_MSC, ecodes.MSC_SCAN, usage),
        _event(at + hold, ecodes.EV_KEY, key, 0),
        _event(at + hold, ecodes.EV_SYN, ecodes.SYN_REPORT, 0),
    ]


def press(key: int, at: float, value: int = 1) -> list[InputEvent]:
    """Only the down (1), up (0) or autorepeat (2) half of a key press, with its SYN."""
    usage = 0x70000 | USAGE.get(key, 0)
    msc = [_event(at, ecodes.EV_MSC, ecodes.MSC_SCAN, usage)] if value != 2 else []
    return [*msc, _event(at, ecodes.EV_KEY, key, value), _event(at, ecodes.EV_SYN, 0, 0)]


def keys_of(char: str, *, keypad: bool = False) -> tuple[int, bool]:
    """(key code, needs Shift) of *char* on a US keyboard."""
    if keypad and char in _KEYPAD_USAGE:
        return _KEYPAD_USAGE[char][0], False
    if char in _DIGIT_USAGE:
        return _DIGIT_USAGE[char][0], False
    if char in _SHIFTED_DIGITS:
        return _DIGIT_USAGE[_SHIFTED_DIGITS[char]][0], True
    if char.lower() in _LETTER_USAGE:
        return _LETTER_USAGE[char.lower()][0], char.isupper()
    if char in _OTHER_USAGE:
        return _OTHER_USAGE[char][0], False
    raise ValueError(f"no US key for {char!r}")


def hid_events(
    code: str,
    start: float = 1_700_000_000.0,
    *,
    gap: float = 0.002,
    terminator: int | None = ecodes.KEY_ENTER,
    keypad: bool = False,
) -> list[InputEvent]:
    """The events a US-layout HID scanner sends for *code*, one key every *gap* seconds."""
    events: list[InputEvent] = []
    at = start
    for char in code:
        key, shift = keys_of(char, keypad=keypad)
        if shift:
            events += press(ecodes.KEY_LEFTSHIFT, at)
            at += gap / 4
        events += key_events(key, at, hold=gap / 4)
        if shift:
            events += press(ecodes.KEY_LEFTSHIFT, at + gap / 2, 0)
        at += gap
    if terminator is not None:
        events += key_events(terminator, at, hold=gap / 4)
    return events


def interleave(*streams: Iterable[InputEvent]) -> list[InputEvent]:
    """Events of several devices in the order of their timestamps."""
    return sorted((e for s in streams for e in s), key=InputEvent.timestamp)


@dataclass
class ReplayDevice:
    """An input device stand-in: :meth:`send` events, :meth:`unplug` it; read by the reader."""

    path: str
    name: str = "Replay Barcode Scanner"
    vendor: int = 0x0C2E
    product: int = 0x0B61
    keyboard: bool = True
    grabbed: bool = False
    closed: bool = False
    reads: int = 0
    _queue: list[InputEvent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self.info = SimpleNamespace(bustype=3, vendor=self.vendor, product=self.product, version=1)
        self._unplugged = False

    @property
    def fd(self) -> int:
        return self._r

    def fileno(self) -> int:
        return self._r

    def capabilities(self) -> dict[int, list[int]]:
        keys = list(USAGE) if self.keyboard else [ecodes.KEY_VOLUMEUP, ecodes.KEY_VOLUMEDOWN]
        return {ecodes.EV_KEY: keys, ecodes.EV_MSC: [ecodes.MSC_SCAN]}

    def send(self, events: Iterable[InputEvent]) -> None:
        with self._lock:
            self._queue.extend(events)
        os.write(self._w, b"!")

    def unplug(self) -> None:
        """From now on reading fails as the kernel's does for a device that is gone."""
        self._unplugged = True
        os.write(self._w, b"!")

    def read(self) -> Iterator[InputEvent]:
        self.reads += 1
        if self._unplugged:
            raise OSError(errno.ENODEV, "No such device")
        with contextlib.suppress(BlockingIOError):
            os.read(self._r, 4096)
        with self._lock:
            events, self._queue = self._queue, []
        if not events:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return iter(events)

    def grab(self) -> None:
        self.grabbed = True

    def ungrab(self) -> None:
        if self._unplugged:
            raise OSError(errno.ENODEV, "No such device")
        self.grabbed = False

    def close(self) -> None:
        if not self.closed:
            os.close(self._r)
            os.close(self._w)
            self.closed = True
