"""USB barcode scanners and RFID card readers, read with python-evdev.

Both kinds present themselves as keyboards: a code arrives as key presses ended by Enter (or
Tab). :class:`ScanDecoder` turns the key events of one device into codes, from the numeric key
codes (names are ambiguous: code 113 is both ``KEY_MUTE`` and ``KEY_MIN_INTERESTING``).
:class:`ScannerReader` finds the devices, grabs them so that no code ever types into the
desktop, and hands each code with the device's role to a callback, from its own thread.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import selectors
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from evdev import InputEvent, ecodes

if TYPE_CHECKING:
    from kiosk.config import ScannerSettings

log = logging.getLogger(__name__)

Role = Literal["any", "cards", "books"]
Layout = Mapping[int, tuple[str, str]]  # key code -> (character, character with Shift)

DEFAULT_TERMINATORS = (ecodes.KEY_ENTER, ecodes.KEY_KPENTER, ecodes.KEY_TAB)
# A scanner types a whole code in a few milliseconds; a person needs far more between keys.
DEFAULT_TIMEOUT = 0.1
DEFAULT_MAX_LENGTH = 64
GARBLED = "\ufffd"  # stands for a key that gives no character, so the code cannot be mistaken

_SHIFTS = frozenset({ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT})
_CHORDS = frozenset(
    {
        ecodes.KEY_LEFTCTRL,
        ecodes.KEY_RIGHTCTRL,
        ecodes.KEY_LEFTALT,
        ecodes.KEY_RIGHTALT,
        ecodes.KEY_LEFTMETA,
        ecodes.KEY_RIGHTMETA,
    }
)
_SILENT = frozenset({ecodes.KEY_NUMLOCK, ecodes.KEY_SCROLLLOCK})
_LETTERS = [getattr(ecodes, f"KEY_{c}") for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
_DIGITS = [getattr(ecodes, f"KEY_{c}") for c in "1234567890"]

# The keypad types the same whatever the layout (a scanner assumes Num Lock is on).
_KEYPAD: dict[int, tuple[str, str]] = {
    **{getattr(ecodes, f"KEY_KP{d}"): (str(d), str(d)) for d in range(10)},
    ecodes.KEY_KPDOT: (".", "."),
    ecodes.KEY_KPMINUS: ("-", "-"),
    ecodes.KEY_KPPLUS: ("+", "+"),
    ecodes.KEY_KPASTERISK: ("*", "*"),
    ecodes.KEY_KPSLASH: ("/", "/"),
    ecodes.KEY_KPEQUAL: ("=", "="),
    ecodes.KEY_KPCOMMA: (",", ","),
}


def _rows(pairs: Mapping[str, str]) -> dict[int, tuple[str, str]]:
    """A layout from {"KEY_NAME": "ab"}: a without Shift, b with Shift."""
    return {getattr(ecodes, name): (chars[0], chars[1]) for name, chars in pairs.items()}


_US = _rows(
    {
        **{f"KEY_{c}": c.lower() + c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
        **{f"KEY_{d}": d + s for d, s in zip("1234567890", "!@#$%^&*()", strict=True)},
        "KEY_MINUS": "-_",
        "KEY_EQUAL": "=+",
        "KEY_LEFTBRACE": "[{",
        "KEY_RIGHTBRACE": "]}",
        "KEY_BACKSLASH": "\\|",
        "KEY_SEMICOLON": ";:",
        "KEY_APOSTROPHE": "'\"",
        "KEY_GRAVE": "`~",
        "KEY_COMMA": ",<",
        "KEY_DOT": ".>",
        "KEY_SLASH": "/?",
        "KEY_SPACE": "  ",
    }
)

# AZERTY: digits need Shift on the number row; A/Q, Z/W and M move.
_FR = {
    **_US,
    **_rows(
        {
            "KEY_Q": "aA",
            "KEY_A": "qQ",
            "KEY_W": "zZ",
            "KEY_Z": "wW",
            "KEY_SEMICOLON": "mM",
            "KEY_M": ",?",
            "KEY_COMMA": ";.",
            "KEY_DOT": ":/",
            "KEY_SLASH": "!§",
            **{f"KEY_{d}": u + d for d, u in zip("1234567890", "&é\"'(-è_çà", strict=True)},
            "KEY_MINUS": ")°",
            "KEY_EQUAL": "=+",
            "KEY_LEFTBRACE": "^¨",
            "KEY_RIGHTBRACE": "$£",
            "KEY_APOSTROPHE": "ù%",
            "KEY_BACKSLASH": "*µ",
            "KEY_GRAVE": "²²",
            "KEY_102ND": "<>",
        }
    ),
}

# QWERTZ: Y/Z swap, and the number row's Shift signs differ.
_DE = {
    **_US,
    **_rows(
        {
            "KEY_Y": "zZ",
            "KEY_Z": "yY",
            **{f"KEY_{d}": d + s for d, s in zip("1234567890", '!"§$%&/()=', strict=True)},
            "KEY_MINUS": "ß?",
            "KEY_EQUAL": "´`",
            "KEY_LEFTBRACE": "üÜ",
            "KEY_RIGHTBRACE": "+*",
            "KEY_SEMICOLON": "öÖ",
            "KEY_APOSTROPHE": "äÄ",
            "KEY_BACKSLASH": "#'",
            "KEY_GRAVE": "^°",
            "KEY_COMMA": ",;",
            "KEY_DOT": ".:",
            "KEY_SLASH": "-_",
            "KEY_102ND": "<>",
        }
    ),
}

LAYOUTS: dict[str, Layout] = {"us": _US, "fr": _FR, "de": _DE}


class BadLayout(ValueError):
    """A layout name or key table that cannot be used; the message says what is wrong."""


def key_code(name: str) -> int:
    """The numeric code of a key name such as ``KEY_TAB``."""
    value = ecodes.ecodes.get(name)
    if not name.startswith(("KEY_", "BTN_")) or not isinstance(value, int):
        raise BadLayout(f"{name!r} is not a key name (like KEY_ENTER or KEY_TAB)")
    return value


def make_layout(name: str = "us", keys: Mapping[str, str] | None = None) -> Layout:
    """Layout *name* ("us", "fr", "de") with *keys* changed: {"KEY_Q": "aA"} (plain, Shift)."""
    if name not in LAYOUTS:
        raise BadLayout(f"unknown keyboard layout {name!r}; known: {', '.join(LAYOUTS)}")
    layout = dict(LAYOUTS[name])
    for key, chars in (keys or {}).items():
        if len(chars) not in (1, 2):
            raise BadLayout(f"{key}: give one character, or two (without and with Shift)")
        layout[key_code(key)] = (chars[0], chars[-1])
    return layout


def layout_hint(code: str, layout: str = "us") -> str | None:
    """Why a code decoded with *layout* looks like the scanner is set to another one, or None.

    A scanner left on a French (AZERTY) layout sends Shift + number row for each digit, which
    reads as ``!@#$%^&*()`` on a US layout; the reverse shows ``&é"'(-è_çà``.
    """
    if len(code) < 2:
        return None
    if layout == "us" and all(ch in "!@#$%^&*()" for ch in code):
        return (
            "the scanner types digits as Shift + the number row, as on a French (AZERTY) "
            'keyboard: scan the "USA keyboard" setup barcode in its manual, or set '
            'layout = "fr" under [scanners] in kiosk.toml'
        )
    if layout == "fr" and all(ch in "&é\"'(-è_çà" for ch in code):
        return (
            "the scanner types digits without Shift, as on a US keyboard, but kiosk.toml says "
            'layout = "fr": set layout = "us" under [scanners]'
        )
    return None


class ScanDecoder:
    """Key events of one keyboard-like device in, whole codes out.

    Only key-down events count (autorepeat, value 2, is ignored). A partial code is dropped
    when the next key comes later than *timeout* seconds after the one before, measured on the
    events' own timestamps: a scanner types a code in milliseconds, a person does not. A code
    longer than *max_length* is dropped at its terminator. ``drops`` counts dropped codes by
    reason ("timeout", "too_long").
    """

    def __init__(
        self,
        terminators: Iterable[int] = DEFAULT_TERMINATORS,
        timeout: float = DEFAULT_TIMEOUT,
        layout: Layout | str = "us",
        prefix: str = "",
        suffix: str = "",
        max_length: int = DEFAULT_MAX_LENGTH,
    ) -> None:
        if timeout <= 0 or max_length < 1:
            raise ValueError("timeout and max_length must be positive")
        self.terminators = frozenset(terminators)
        self.timeout = timeout
        self.layout = make_layout(layout) if isinstance(layout, str) else layout
        self.prefix = prefix
        self.suffix = suffix
        self.max_length = max_length
        self.drops: Counter[str] = Counter()
        self._chars: list[str] = []
        self._too_long = False
        self._last_key: float | None = None
        self._shift: set[int] = set()
        self._chord: set[int] = set()
        self._caps = False

    def feed(self, event: InputEvent) -> str | None:
        """Take one event; return the code it completes, if any."""
        if event.type != ecodes.EV_KEY:
            return None  # EV_MSC scan codes and SYN reports carry nothing more
        key, value = event.code, event.value
        held = value != 0
        if key in _SHIFTS:
            self._hold(self._shift, key, held)
        elif key in _CHORDS:
            self._hold(self._chord, key, held)
        if value != 1:
            return None
        stamp = event.timestamp()
        if self._last_key is not None and stamp - self._last_key > self.timeout and self._chars:
            self._drop("timeout")
        self._last_key = stamp
        if key in _SHIFTS or key in _CHORDS or key in _SILENT:
            return None
        if key == ecodes.KEY_CAPSLOCK:
            self._caps = not self._caps
            return None
        if key in self.terminators:
            return self._finish()
        self._add(self._char(key))
        return None

    def reset(self) -> None:
        """Forget a partial code and the keys held (a device that went away)."""
        self._chars.clear()
        self._too_long = False
        self._shift.clear()
        self._chord.clear()
        self._last_key = None

    def _char(self, key: int) -> str:
        if self._chord:
            return GARBLED  # Ctrl/Alt + key: a keystroke, not a character of a code
        pair = _KEYPAD.get(key) or self.layout.get(key)
        if pair is None:
            return GARBLED
        plain, shifted = pair
        char = shifted if self._shift else plain
        if self._caps and plain.isalpha():
            char = plain if self._shift else plain.upper()
        return char

    def _add(self, char: str) -> None:
        if len(self._chars) >= self.max_length:
            self._too_long = True
            return
        self._chars.append(char)

    def _finish(self) -> str | None:
        if self._too_long:
            self._drop("too_long")
            return None
        code = "".join(self._chars)
        self._chars.clear()
        if self.prefix and code.startswith(self.prefix):
            code = code[len(self.prefix) :]
        if self.suffix and code.endswith(self.suffix):
            code = code[: -len(self.suffix)]
        return code or None

    def _drop(self, reason: str) -> None:
        log.info("dropped a partial code (%s): %d keys", reason, len(self._chars))
        self.drops[reason] += 1
        self._chars.clear()
        self._too_long = False

    @staticmethod
    def _hold(keys: set[int], key: int, held: bool) -> None:
        if held:
            keys.add(key)
        else:
            keys.discard(key)


# -- choosing devices --------------------------------------------------------------------------


class InputDeviceLike(Protocol):
    """What the reader uses of ``evdev.InputDevice`` (a test may pass a stand-in)."""

    path: str
    name: str
    fd: int

    def read(self) -> Iterable[InputEvent]: ...
    def grab(self) -> None: ...
    def ungrab(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class DeviceRule:
    """One ``[[scanners.device]]`` of kiosk.toml.

    *match*: a ``/dev/input/...`` path (by-id links welcome), ``vendor:product`` in hex
    (``0c2e:0b61``), or else a part of the device's name. *role*: ``cards`` for a card reader
    (its codes are always patron cards), ``books``, or ``any``.
    """

    match: str
    role: Role = "any"
    layout: str | None = None

    def matches(self, device: Any) -> bool:
        if self.match.startswith("/"):
            return os.path.realpath(self.match) == os.path.realpath(device.path)
        if re.fullmatch(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{4}", self.match):
            vendor, product = (int(part, 16) for part in self.match.split(":"))
            return (device.info.vendor, device.info.product) == (vendor, product)
        return self.match.casefold() in device.name.casefold()


def is_keyboard_like(device: Any) -> bool:
    """True for a node that reports letter and digit keys (a scanner's keyboard node)."""
    keys = set(device.capabilities().get(ecodes.EV_KEY, ()))
    return keys.issuperset(_LETTERS) and keys.issuperset(_DIGITS)


def is_touchscreen(device: Any, touchscreen: str = "") -> bool:
    """The touchscreen: named in kiosk.toml, or any node with absolute touch positions."""
    if touchscreen and touchscreen.casefold() in device.name.casefold():
        return True
    caps = device.capabilities()
    # EV_ABS entries are (axis, AbsInfo) pairs
    axes = {
        entry[0] if isinstance(entry, tuple) else entry for entry in caps.get(ecodes.EV_ABS, ())
    }
    touches = ecodes.BTN_TOUCH in set(caps.get(ecodes.EV_KEY, ()))
    return touches and bool(axes & {ecodes.ABS_MT_POSITION_X, ecodes.ABS_X})


def verdict(device: Any, rules: Sequence[DeviceRule], touchscreen: str = "") -> DeviceRule | str:
    """The rule under which *device* is used as a scanner, or in words why it is not."""
    if is_touchscreen(device, touchscreen):
        return "the touchscreen"
    if rules:
        why = "not named under [[scanners.device]] in kiosk.toml"
        for rule in rules:
            if rule.matches(device):
                if rule.match.startswith("/") or is_keyboard_like(device):
                    return rule
                # another node of the same scanner (media keys, a mouse): not the one
                why = f"matches {rule.match!r} but reports no letter and digit keys"
        return why
    if is_keyboard_like(device):
        return DeviceRule(match=device.path)
    return "not a keyboard-like device (no letter and digit keys)"


def describe(device: Any) -> str:
    """How a device is named to people: its name and its path."""
    return f"{device.name} ({device.path})"


def by_id_links(directory: str = "/dev/input/by-id") -> dict[str, str]:
    """Real event paths -> their stable /dev/input/by-id names (which survive a replug)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return {}
    return {os.path.realpath(os.path.join(directory, n)): os.path.join(directory, n) for n in names}


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceChange:
    """A scanner that came or went; *device* names it for the screen and the log."""

    connected: bool
    device: str
    role: Role


@dataclass
class _Open:
    device: InputDeviceLike
    rule: DeviceRule
    decoder: ScanDecoder
    grabbed: bool


Finder = Callable[[set[str]], list[tuple[InputDeviceLike, DeviceRule]]]
DecoderFactory = Callable[[DeviceRule], ScanDecoder]


class DeviceFinder:
    """Opens the /dev/input event nodes that should be read, by :func:`verdict`.

    Nodes looked at and turned down are remembered until udev makes them anew (a replug),
    so detection every second costs next to nothing.
    """

    def __init__(self, rules: Sequence[DeviceRule] = (), touchscreen: str = "") -> None:
        self.rules = tuple(rules)
        self.touchscreen = touchscreen
        self._turned_down: set[tuple[str, int]] = set()

    def __call__(self, in_use: set[str]) -> list[tuple[InputDeviceLike, DeviceRule]]:
        from evdev import InputDevice, list_devices

        found: list[tuple[InputDeviceLike, DeviceRule]] = []
        for path in list_devices():
            if path in in_use:
                continue
            try:
                stamp = (path, os.stat(path).st_ctime_ns)
                if stamp in self._turned_down:
                    continue
                device = InputDevice(path)
            except OSError as exc:
                log.debug("cannot open %s: %s", path, exc)
                continue
            rule = verdict(device, self.rules, self.touchscreen)
            if isinstance(rule, DeviceRule):
                found.append((device, rule))
            else:
                self._turned_down.add(stamp)
                device.close()
        return found


class ScannerReader:
    """Reads every scanner and card reader in one thread; codes go to *on_code*.

    *on_code(code, role)* and *on_change(DeviceChange)* are called on the reader's thread: hand
    the code on through a queue (or Kivy's Clock), never touch the engine from here directly
    unless it is thread-safe. A device that goes away (``OSError``, ENODEV when unplugged) is
    closed and dropped at once, and every *rescan_seconds* the devices are looked for again.
    """

    def __init__(
        self,
        on_code: Callable[[str, Role], None],
        on_change: Callable[[DeviceChange], None] | None = None,
        *,
        find: Finder | None = None,
        decoder: DecoderFactory | None = None,
        rescan_seconds: float = 1.0,
        grab: bool = True,
    ) -> None:
        self.on_code = on_code
        self.on_change = on_change
        self.find = find or DeviceFinder()
        self.make_decoder = decoder or (lambda rule: ScanDecoder(layout=rule.layout or "us"))
        self.rescan_seconds = rescan_seconds
        self.grab = grab
        self._open: dict[str, _Open] = {}
        self._started = False
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def devices(self) -> list[str]:
        """The devices being read now, as :func:`describe` names them."""
        with self._lock:
            return [describe(o.device) for o in self._open.values()]

    def start(self) -> ScannerReader:
        """Look for devices once (so :attr:`devices` is known), then read in a thread."""
        self._detect()
        self._thread = threading.Thread(target=self._run, name="scanner-reader", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop reading, let go of the devices and close them."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            for path in list(self._open):
                self._close(path)
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _run(self) -> None:
        next_scan = time.monotonic() + self.rescan_seconds
        while not self._stopping.is_set():
            wait = max(0.0, next_scan - time.monotonic())
            for key, _mask in self._selector.select(wait):
                if key.data is None:
                    os.read(self._wake_r, 64)
                else:
                    self._read(key.data)
            if time.monotonic() >= next_scan:
                self._detect()
                next_scan = time.monotonic() + self.rescan_seconds

    def _read(self, path: str) -> None:
        scanner = self._open.get(path)
        if scanner is None:
            return
        try:
            events = list(scanner.device.read())
        except BlockingIOError:
            return
        except OSError as exc:
            # ENODEV: unplugged. Any other error leaves the node as useless; either way it
            # must leave the select set, where a dead descriptor is always "ready".
            if exc.errno != errno.ENODEV:
                log.warning("%s failed: %s", describe(scanner.device), exc)
            self._lose(path)
            return
        for event in events:
            code = scanner.decoder.feed(event)
            if code is not None:
                self._deliver(code, scanner.rule.role)

    def _deliver(self, code: str, role: Role) -> None:
        try:
            self.on_code(code, role)
        except Exception:
            log.exception("the code could not be handed on")

    def _lose(self, path: str) -> None:
        with self._lock:
            scanner = self._open.get(path)
            if scanner is None:
                return
            name = describe(scanner.device)
            self._close(path)
        log.error("scanner gone: %s", name)
        self._notify(DeviceChange(False, name, scanner.rule.role))

    def _close(self, path: str) -> None:
        scanner = self._open.pop(path)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(scanner.device.fd)
        scanner.decoder.reset()
        # An unplugged device cannot be let go of or closed cleanly; dropping it is enough.
        with contextlib.suppress(OSError):
            if scanner.grabbed:
                scanner.device.ungrab()
        with contextlib.suppress(OSError):
            scanner.device.close()

    def _detect(self) -> None:
        try:
            found = self.find(set(self._open))
        except Exception:
            log.exception("looking for scanners failed")
            return
        for device, rule in found:
            grabbed = False
            if self.grab:
                try:
                    device.grab()
                    grabbed = True
                except OSError as exc:
                    log.warning(
                        "cannot grab %s (%s): its codes also reach the desktop",
                        describe(device),
                        exc,
                    )
            with self._lock:
                self._open[device.path] = _Open(device, rule, self.make_decoder(rule), grabbed)
                self._selector.register(device.fd, selectors.EVENT_READ, device.path)
            log.info("reading %s as %s", describe(device), rule.role)
            if self._started:  # plugged in (again) while running
                self._notify(DeviceChange(True, describe(device), rule.role))
        self._started = True

    def _notify(self, change: DeviceChange) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(change)
        except Exception:
            log.exception("a device change could not be handed on")


def from_settings(settings: ScannerSettings) -> tuple[list[DeviceRule], DecoderFactory]:
    """The device rules and a decoder maker for kiosk.toml's [scanners] (BadLayout if unusable)."""
    terminators = [key_code(name) for name in settings.terminators]
    layouts = {
        name: make_layout(name, settings.keys)
        for name in {settings.layout, *(d.layout for d in settings.device if d.layout)}
    }

    def decoder(rule: DeviceRule) -> ScanDecoder:
        return ScanDecoder(
            terminators=terminators,
            timeout=settings.key_timeout_ms / 1000,
            layout=layouts[rule.layout or settings.layout],
            prefix=settings.prefix,
            suffix=settings.suffix,
            max_length=settings.max_length,
        )

    rules = [DeviceRule(d.match, d.role, d.layout) for d in settings.device]
    return rules, decoder
