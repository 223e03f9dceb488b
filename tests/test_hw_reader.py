"""The scanner reader's thread: several devices at once, roles, grabbing, hot-unplug, replug.

A physical /dev/input device cannot exist here (no USB scanner, no /dev/uinput), so the devices
are ReplayDevice stand-ins: a real pipe descriptor the reader selects on, real evdev.InputEvent
objects, and after unplug() every read raises OSError(ENODEV) as the kernel's evdev does. What
only a Raspberry Pi can run: opening /dev/input/event* nodes and the EVIOCGRAB ioctl.
"""

from __future__ import annotations

import errno
import os
import queue
import time
from collections.abc import Iterator

import pytest

from hardware.scanner import DeviceChange, DeviceFinder, DeviceRule, ScannerReader
from hardware.standin import ReplayDevice, hid_events

WAIT = 3.0


class Plugged:
    """The devices plugged in; the reader's finder gets those it is not reading yet."""

    def __init__(self, *devices: tuple[ReplayDevice, DeviceRule]) -> None:
        self.devices = list(devices)
        self.calls = 0

    def __call__(self, in_use: set[str]) -> list[tuple[ReplayDevice, DeviceRule]]:
        self.calls += 1
        return [(d, r) for d, r in self.devices if d.path not in in_use and not d.closed]

    def plug(self, device: ReplayDevice, rule: DeviceRule) -> None:
        self.devices.append((device, rule))


@pytest.fixture
def codes() -> queue.Queue[tuple[str, str]]:
    return queue.Queue()


@pytest.fixture
def changes() -> queue.Queue[DeviceChange]:
    return queue.Queue()


@pytest.fixture
def make_reader(
    codes: queue.Queue[tuple[str, str]], changes: queue.Queue[DeviceChange]
) -> Iterator[object]:
    readers: list[ScannerReader] = []

    def make(finder: Plugged, **kwargs: object) -> ScannerReader:
        reader = ScannerReader(
            lambda code, role: codes.put((code, role)),
            changes.put,
            find=finder,
            rescan_seconds=0.05,
            **kwargs,  # type: ignore[arg-type]
        )
        readers.append(reader.start())
        return reader

    yield make
    for reader in readers:
        reader.stop()


def now() -> float:
    return time.time()


def test_codes_of_a_card_reader_and_a_scanner_arrive_with_their_roles(
    make_reader, codes: queue.Queue[tuple[str, str]]
) -> None:
    cards = ReplayDevice("/dev/input/event3", name="RFID Reader")
    books = ReplayDevice("/dev/input/event4", name="Barcode Scanner")
    reader = make_reader(
        Plugged((cards, DeviceRule("RFID", "cards")), (books, DeviceRule("Bar", "books")))
    )
    assert sorted(reader.devices) == [
        "Barcode Scanner (/dev/input/event4)",
        "RFID Reader (/dev/input/event3)",
    ]
    assert cards.grabbed and books.grabbed  # no code may type into the desktop
    t = now()
    card_events = hid_events("S0001", t, gap=0.003)
    book_events = hid_events("B001", t + 0.001, gap=0.003)
    # both type at once: events reach the reader interleaved, each from its own device
    for a, b in zip(card_events, book_events, strict=False):
        cards.send([a])
        books.send([b])
    cards.send(card_events[len(book_events) :])
    got = {codes.get(timeout=WAIT), codes.get(timeout=WAIT)}
    assert got == {("S0001", "cards"), ("B001", "books")}


def test_an_unplugged_scanner_is_a_fault_naming_it_and_is_closed_and_dropped(
    make_reader, codes: queue.Queue[tuple[str, str]], changes: queue.Queue[DeviceChange]
) -> None:
    scanner = ReplayDevice("/dev/input/event5", name="Honeywell 1900")
    plugged = Plugged((scanner, DeviceRule("/dev/input/event5", "books")))
    reader = make_reader(plugged)
    scanner.send(hid_events("B001", now()))
    assert codes.get(timeout=WAIT) == ("B001", "books")

    # unplugged half-way through a code: the kernel answers ENODEV from then on
    scanner.send(hid_events("B002", now(), terminator=None))
    time.sleep(0.1)
    scanner.unplug()
    change = changes.get(timeout=WAIT)
    assert change == DeviceChange(False, "Honeywell 1900 (/dev/input/event5)", "books")
    assert scanner.closed and reader.devices == []
    # the dead descriptor left the select set: it is not read again and again (a busy loop)
    reads = scanner.reads
    time.sleep(0.3)
    assert scanner.reads == reads
    assert codes.empty()


def test_plugging_the_scanner_back_in_resumes_without_a_restart(
    make_reader, codes: queue.Queue[tuple[str, str]], changes: queue.Queue[DeviceChange]
) -> None:
    first = ReplayDevice("/dev/input/event5", name="Honeywell 1900")
    plugged = Plugged((first, DeviceRule("Honeywell", "books")))
    reader = make_reader(plugged)
    first.unplug()
    assert changes.get(timeout=WAIT).connected is False

    # back in, as a new node (the kernel may number it differently)
    again = ReplayDevice("/dev/input/event9", name="Honeywell 1900")
    plugged.plug(again, DeviceRule("Honeywell", "books"))
    assert changes.get(timeout=WAIT) == DeviceChange(
        True, "Honeywell 1900 (/dev/input/event9)", "books"
    )
    assert again.grabbed and reader.devices == ["Honeywell 1900 (/dev/input/event9)"]
    again.send(hid_events("B003", now()))
    assert codes.get(timeout=WAIT) == ("B003", "books")


def test_a_device_failing_otherwise_is_dropped_too_and_the_others_go_on(
    make_reader, codes: queue.Queue[tuple[str, str]], changes: queue.Queue[DeviceChange]
) -> None:
    class Broken(ReplayDevice):
        def read(self):  # type: ignore[no-untyped-def]
            raise OSError(errno.EIO, "Input/output error")

    broken = Broken("/dev/input/event6", name="Flaky")
    good = ReplayDevice("/dev/input/event7", name="Good")
    make_reader(Plugged((broken, DeviceRule("Flaky")), (good, DeviceRule("Good"))))
    broken.send(hid_events("X1", now()))
    assert changes.get(timeout=WAIT).device == "Flaky (/dev/input/event6)"
    good.send(hid_events("S1", now()))
    assert codes.get(timeout=WAIT) == ("S1", "any")


def test_a_failing_receiver_does_not_stop_the_reader(changes) -> None:
    got: list[str] = []

    def receiver(code: str, _role: str) -> None:
        got.append(code)
        if len(got) == 1:
            raise RuntimeError("the engine's queue is gone")

    scanner = ReplayDevice("/dev/input/event3")
    reader = ScannerReader(receiver, find=Plugged((scanner, DeviceRule("Replay"))))
    reader.start()
    try:
        scanner.send(hid_events("B001", now()))
        scanner.send(hid_events("B002", now() + 0.5))
        deadline = time.monotonic() + WAIT
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert got == ["B001", "B002"]
    finally:
        reader.stop()


def test_stop_lets_go_of_the_devices_and_closes_them(make_reader) -> None:
    scanner = ReplayDevice("/dev/input/event3")
    reader = make_reader(Plugged((scanner, DeviceRule("Replay"))))
    assert scanner.grabbed
    reader.stop()
    assert not scanner.grabbed and scanner.closed


class InputNodes:
    """/dev/input as DeviceFinder sees it: event nodes (real files here, so that os.stat gives
    each its creation time) and the devices behind them (ReplayDevices: a physical input
    device cannot be opened here), stood in for evdev.list_devices and evdev.InputDevice."""

    def __init__(self, folder, monkeypatch: pytest.MonkeyPatch) -> None:
        import evdev

        self.folder = folder
        self.devices: dict[str, ReplayDevice] = {}
        self.opened: list[str] = []
        self.refused: set[str] = set()
        monkeypatch.setattr(evdev, "list_devices", lambda: sorted(self.devices))
        monkeypatch.setattr(evdev, "InputDevice", self._open)

    def plug(self, node_name: str, **kw: object) -> ReplayDevice:
        node = self.folder / node_name
        before = node.stat().st_ctime_ns if node.exists() else None
        node.unlink(missing_ok=True)
        node.touch()
        while node.stat().st_ctime_ns == before:  # made anew, as udev does at a replug
            os.chmod(node, 0o644)
        path = str(node)
        device = ReplayDevice(path, **kw)  # type: ignore[arg-type]
        self.devices[path] = device
        return device

    def _open(self, path: str) -> ReplayDevice:
        if path in self.refused:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        self.opened.append(path)
        device = self.devices[path]
        device.closed = False
        return device


def test_the_finder_opens_the_scanners_and_looks_again_only_at_nodes_made_anew(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes = InputNodes(tmp_path, monkeypatch)
    scanner = nodes.plug("event3", name="Honeywell 1900")
    mouse = nodes.plug("event4", name="USB Optical Mouse", keyboard=False)
    touch = nodes.plug("event5", name="ft5x06 Touchscreen")
    locked = nodes.plug("event6", name="Locked Keyboard")
    nodes.refused.add(locked.path)  # not in the input group: skipped, not fatal
    finder = DeviceFinder(touchscreen="ft5x06")

    assert [(d.name, r.match, r.role) for d, r in finder(set())] == [
        ("Honeywell 1900", scanner.path, "any")
    ]
    assert mouse.closed and touch.closed and not scanner.closed  # the others let go at once
    nodes.opened.clear()
    assert finder({scanner.path}) == []  # read already; the others were turned down before
    assert nodes.opened == []  # ... and are not opened again every second
    nodes.refused.clear()
    assert [d.name for d, _ in finder({scanner.path})] == ["Locked Keyboard"]

    nodes.plug("event4", name="Barcode Scanner")  # a scanner plugged in where the mouse was
    assert [d.name for d, _ in finder({scanner.path, locked.path})] == ["Barcode Scanner"]
