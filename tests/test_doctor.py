"""`kiosk doctor`: what it finds, the fix it gives in plain words, and its exit status.

The store, kiosk.toml, the lights code and the scanner reader are real. Input devices are
ReplayDevice stand-ins handed to the doctor in place of /dev/input nodes, which cannot exist
here (no USB devices, no /dev/uinput); the pins are simulated (pins = "mock"). On a Raspberry
Pi, `kiosk doctor` is also to be run by hand: it lights the real LEDs for a person to watch.
"""

from __future__ import annotations

import datetime as dt
import errno
import io
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from evdev import ecodes

from hardware import doctor
from hardware.standin import ReplayDevice, hid_events, key_events, press
from kiosk import config
from kiosk.cli import main
from kiosk.settings import LATEST_SEEN
from kiosk.store import Store, get_setting, set_setting

NOW = dt.datetime(2026, 11, 24, 5, 45, tzinfo=dt.UTC)


@pytest.fixture
def mock_pins(data_dir: Path) -> Path:
    with (data_dir / "kiosk.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[lights]\npins = "mock"\nbuzzer = 18\n')
    return data_dir


class Devices:
    """Stand-ins for the /dev/input nodes of a kiosk: a scanner and a touchscreen."""

    def __init__(self, *devices: object) -> None:
        self.by_path = {d.path: d for d in devices}  # type: ignore[attr-defined]

    def paths(self) -> list[str]:
        return list(self.by_path)

    def open(self, path: str) -> object:
        device = self.by_path[path]
        if isinstance(device, Exception):
            raise device
        return device


def touchscreen() -> SimpleNamespace:
    return SimpleNamespace(
        name="ft5x06 Touchscreen",
        path="/dev/input/event0",
        info=SimpleNamespace(vendor=0, product=0),
        capabilities=lambda: {
            ecodes.EV_KEY: [ecodes.BTN_TOUCH],
            ecodes.EV_ABS: [(ecodes.ABS_MT_POSITION_X, None)],
        },
        close=lambda: None,
    )


def run_doctor(
    store: Store,
    data_dir: Path,
    devices: Devices,
    seconds: float = 0,
    synchronised: bool | None = None,  # what timedatectl says of the clock
) -> tuple[int, str]:
    out = io.StringIO()
    status = doctor.run(
        store,
        config.load(data_dir),
        data_dir,
        seconds=seconds,
        out=out,
        device_paths=devices.paths,
        open_device=devices.open,
        light_seconds=0.01,
        now=lambda: NOW,
        clock_synchronised=lambda: synchronised,
    )
    return status, out.getvalue()


def test_a_kiosk_with_its_scanner_is_all_well(store: Store, mock_pins: Path) -> None:
    scanner = ReplayDevice("/dev/input/event3", name="Honeywell 1900")
    status, report = run_doctor(store, mock_pins, Devices(touchscreen(), scanner))
    assert status == 0, report
    assert "✔ Honeywell 1900 (/dev/input/event3) [0c2e:0b61]: read as any; can grab it" in report
    assert "ft5x06 Touchscreen (/dev/input/event0) [0000:0000]: not used: the touchscreen" in report
    assert "green LED on BCM 17" in report and "buzzer on BCM 18" in report
    assert "intact" in report and "never seen going backwards" in report
    assert report.rstrip().endswith(("All is well.", "warning(s) above)."))
    assert not scanner.grabbed  # the doctor let go of it again


def test_no_scanner_is_wrong_with_the_fix_in_plain_words(store: Store, mock_pins: Path) -> None:
    status, report = run_doctor(store, mock_pins, Devices(touchscreen()))
    assert status == 1
    assert "✘ no scanner or card reader found" in report
    assert "fix: plug in the USB scanner" in report


def test_a_scanner_held_by_another_program_cannot_be_grabbed(store: Store, mock_pins: Path) -> None:
    class Held(ReplayDevice):
        def grab(self) -> None:
            raise OSError(errno.EBUSY, "Device or resource busy")

    status, report = run_doctor(store, mock_pins, Devices(Held("/dev/input/event3")))
    assert status == 1
    assert "but another program holds it" in report
    assert "sudo systemctl stop library-kiosk" in report


def test_devices_that_may_not_be_opened_need_the_input_group(store: Store, mock_pins: Path) -> None:
    devices = Devices(ReplayDevice("/dev/input/event3"))
    devices.by_path["/dev/input/event4"] = PermissionError(errno.EACCES, "Permission denied")
    status, report = run_doctor(store, mock_pins, devices)
    assert status == 1
    assert "usermod -aG input" in report


def scan_soon(device: ReplayDevice, events_at: callable, delay: float = 0.2) -> None:  # type: ignore[valid-type]
    threading.Timer(delay, lambda: device.send(events_at(time.time()))).start()


def test_live_scans_are_shown(store: Store, mock_pins: Path) -> None:
    scanner = ReplayDevice("/dev/input/event3", name="Honeywell 1900")
    scan_soon(scanner, lambda t: hid_events("S0001", t))
    status, report = run_doctor(store, mock_pins, Devices(scanner), seconds=0.8)
    assert status == 0, report
    assert "scanned 'S0001' (any)" in report
    assert "1 code(s) read" in report


def test_a_scanner_left_on_a_french_layout_is_spotted_and_explained(
    store: Store, mock_pins: Path
) -> None:
    def french(t: float) -> list:
        events = []
        for i, digit in enumerate("100001"):  # Shift + number row: digits on AZERTY
            at = t + i * 0.002
            events += press(ecodes.KEY_LEFTSHIFT, at)
            events += key_events(getattr(ecodes, f"KEY_{digit}"), at + 0.0005, hold=0.0002)
            events += press(ecodes.KEY_LEFTSHIFT, at + 0.001, 0)
        return events + key_events(ecodes.KEY_ENTER, t + 0.02)

    scanner = ReplayDevice("/dev/input/event3", name="Honeywell 1900")
    scan_soon(scanner, french)
    status, report = run_doctor(store, mock_pins, Devices(scanner), seconds=0.8)
    assert status == 1
    assert "scanned '!))))!'" in report
    assert "French (AZERTY)" in report and 'layout = "fr"' in report


@pytest.mark.parametrize("synchronised", [False, None])
def test_a_clock_that_went_backwards_is_wrong(
    store: Store, mock_pins: Path, synchronised: bool | None
) -> None:
    with store.write() as db:
        set_setting(db, LATEST_SEEN, (NOW + dt.timedelta(days=30)).isoformat())
    status, report = run_doctor(
        store, mock_pins, Devices(ReplayDevice("/dev/input/event3")), synchronised=synchronised
    )
    assert status == 1
    assert "the clock went backwards" in report and "sudo date -s" in report


def test_a_clock_set_right_after_running_ahead_is_not_to_be_set_again(
    store: Store, mock_pins: Path
) -> None:
    """The time seen a year ahead came from the clock when it was wrong: now that it is
    synchronised, doctor says to confirm it, not to set a clock that is right."""
    with store.write() as db:
        set_setting(db, LATEST_SEEN, (NOW + dt.timedelta(days=365)).isoformat())
    _status, report = run_doctor(
        store, mock_pins, Devices(ReplayDevice("/dev/input/event3")), synchronised=True
    )
    assert "the clock is right now (synchronised)" in report
    assert "kiosk confirm-clock" in report and "sudo date -s" not in report
    confirmed = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--data", str(store.path.parent), "confirm-clock"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert confirmed.returncode == 0, confirmed.stderr
    assert "the kiosk lends by its clock again" in confirmed.stdout
    with store.read() as db:  # the time seen a year ahead is forgotten: now is the latest
        latest = dt.datetime.fromisoformat(get_setting(db, LATEST_SEEN))
    assert latest < NOW + dt.timedelta(days=364)


def test_a_clock_that_jumped_weeks_ahead_is_to_be_confirmed(store: Store, mock_pins: Path) -> None:
    with store.write() as db:
        set_setting(db, LATEST_SEEN, (NOW - dt.timedelta(days=60)).isoformat())
    status, report = run_doctor(
        store, mock_pins, Devices(ReplayDevice("/dev/input/event3")), synchronised=None
    )
    assert status == 1
    assert "the clock jumped far past the last time the kiosk saw" in report
    assert "no book is lent until the date is confirmed" in report
    assert "if the date above is right: kiosk confirm-clock" in report


def test_lights_pins_clashing_with_each_other_are_refused_by_kiosk_toml(data_dir: Path) -> None:
    with (data_dir / "kiosk.toml").open("a", encoding="utf-8") as toml:
        toml.write("\n[lights]\ngreen = 17\nbuzzer = 17\n")
    with pytest.raises(config.ConfigError, match="a pin of their own"):
        config.load(data_dir)


def test_the_doctor_command_exits_non_zero_here_and_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the scanner kiosk.toml names is not plugged in (on any machine): something is wrong
    (tmp_path / "kiosk.toml").write_text(
        '[[scanners.device]]\nmatch = "/dev/input/by-id/usb-Not_Plugged_In-event-kbd"\n'
        'role = "books"\n',
        encoding="utf-8",
    )
    status = main(["--data", str(tmp_path), "doctor", "--seconds", "0"])
    out = capsys.readouterr().out
    assert status == 1
    assert "Input devices" in out and "Database" in out and "Clock" in out
    assert "thing(s) to fix" in out and "Fix:" in out


# -- the SD card: read-only root, data partition (a Pi's /proc, as text files: no Pi here) ----

PI_MOUNTS = """\
25 1 0:24 / / rw,relatime - {root} {root_source} rw
26 25 179:2 / /media/root-ro ro,noatime - ext4 /dev/mmcblk0p2 ro
31 25 179:1 / /boot/firmware rw,relatime - vfat /dev/mmcblk0p1 rw
40 25 179:3 / /var/lib/library-kiosk rw,noatime - ext4 /dev/mmcblk0p3 rw
"""


def storage_report(
    tmp_path: Path, *, overlay: bool, data_partition: bool, asked: bool, model: str = "Pi 4"
) -> tuple[doctor.Report, str]:
    mounts = PI_MOUNTS.format(
        root="overlay" if overlay else "ext4",
        root_source="overlayroot" if overlay else "/dev/mmcblk0p2",
    )
    if not data_partition:
        mounts = "\n".join(line for line in mounts.splitlines() if "library-kiosk" not in line)
    (tmp_path / "mountinfo").write_text(mounts)
    (tmp_path / "cmdline").write_text(
        ("overlayroot=tmpfs " if asked else "") + "console=tty1 root=PARTUUID=1-02 rootwait\n"
    )
    (tmp_path / "model").write_text(f"Raspberry {model} Model B Rev 1.0\0")
    out = io.StringIO()
    report = doctor.Report(out)
    doctor.check_storage(
        report,
        Path("/var/lib/library-kiosk"),
        mountinfo=tmp_path / "mountinfo",
        cmdline=tmp_path / "cmdline",
        model=tmp_path / "model",
    )
    return report, out.getvalue()


def test_doctor_sees_a_read_only_root_with_the_data_on_its_own_partition(tmp_path: Path) -> None:
    report, text = storage_report(tmp_path, overlay=True, data_partition=True, asked=True)
    assert report.problems == [] and report.warnings == []
    assert "read-only (overlay)" in text and "/var/lib/library-kiosk" in text


def test_doctor_warns_that_loans_on_the_overlay_are_lost_at_reboot(tmp_path: Path) -> None:
    report, text = storage_report(tmp_path, overlay=True, data_partition=False, asked=True)
    assert len(report.problems) == 1
    assert "the loans would be lost" in text and "--data-partition" in text


def test_doctor_finds_a_pi5_whose_overlay_is_asked_for_but_not_active(tmp_path: Path) -> None:
    report, text = storage_report(
        tmp_path, overlay=False, data_partition=True, asked=True, model="Pi 5"
    )
    assert len(report.problems) == 1
    assert "not active" in text and "Pi 5" in text
    assert "sudo update-initramfs -u -k all" in text


def test_doctor_warns_about_a_writable_root(tmp_path: Path) -> None:
    report, text = storage_report(tmp_path, overlay=False, data_partition=False, asked=False)
    assert report.problems == [] and len(report.warnings) == 1
    assert "the root file system is writable" in text and "--read-only" in text
