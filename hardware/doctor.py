"""``kiosk doctor``: is this kiosk ready? Each check says what it found and, if it is wrong,
how to fix it in plain words. The exit status is 1 when anything is wrong.

Checks: the input devices (which are scanners, can they be grabbed), a few seconds of live
scans (a scanner left on a French keyboard layout is spotted here), every light and the buzzer,
the database, the clock and the office server.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import text

from hardware import lights as status_lights
from hardware import scanner
from kiosk.clock import WRONG_SECONDS, ahead_of_office, latest_seen, read_clock
from kiosk.config import KioskConfig
from kiosk.store import Store

LOW_DISK_BYTES = 50 * 2**20  # below this a loan may fail to be written
FEW_DISK_BYTES = 500 * 2**20
LIGHT_SECONDS = 0.6
INPUT_GROUP_FIX = (
    "let the kiosk's user read input devices: sudo usermod -aG input $USER, then log in again"
)


@dataclass
class Report:
    """What the doctor found, printed as it goes."""

    out: TextIO
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def section(self, title: str) -> None:
        print(f"\n{title}", file=self.out, flush=True)

    def ok(self, what: str) -> None:
        print(f"  ✔ {what}", file=self.out, flush=True)

    def note(self, what: str) -> None:
        print(f"  · {what}", file=self.out, flush=True)

    def warn(self, what: str, fix: str = "") -> None:
        print(f"  ! {what}" + (f"\n      fix: {fix}" if fix else ""), file=self.out, flush=True)
        self.warnings.append(what)

    def problem(self, what: str, fix: str) -> None:
        print(f"  ✘ {what}\n      fix: {fix}", file=self.out, flush=True)
        self.problems.append(f"{what}. Fix: {fix}")


Opener = Callable[[str], Any]


def _list_devices() -> list[str]:
    from evdev import list_devices

    return list(list_devices())


def _open_device(path: str) -> Any:
    from evdev import InputDevice

    return InputDevice(path)


def run(
    store: Store,
    cfg: KioskConfig,
    data_dir: Path,
    *,
    seconds: float = 5,
    out: TextIO | None = None,
    device_paths: Callable[[], list[str]] = _list_devices,
    open_device: Opener = _open_device,
    light_seconds: float = LIGHT_SECONDS,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    clock_synchronised: Callable[[], bool | None] = lambda: ntp_synchronised(),
) -> int:
    """Check the kiosk in *data_dir*, print the findings to *out*; 0 if all is well, else 1."""
    out = out or sys.stdout
    report = Report(out)
    print(f"Library Kiosk doctor: {data_dir}", file=out)
    scanners = check_inputs(report, cfg, device_paths, open_device)
    if seconds > 0 and scanners:
        watch_scans(report, cfg, scanners, seconds)
    else:
        for device, _rule in scanners:
            device.close()
    check_lights(report, cfg, light_seconds)
    check_database(report, store, data_dir)
    check_storage(report, data_dir)
    check_clock(report, store, now(), clock_synchronised)
    check_server(report, store)
    print("", file=out)
    if report.problems:
        print(f"{len(report.problems)} thing(s) to fix:", file=out)
        for problem in report.problems:
            print(f"  - {problem}", file=out)
        return 1
    print(
        "All is well"
        + (f" ({len(report.warnings)} warning(s) above)." if report.warnings else "."),
        file=out,
    )
    return 0


# -- input devices -----------------------------------------------------------------------------


def check_inputs(
    report: Report,
    cfg: KioskConfig,
    device_paths: Callable[[], list[str]],
    open_device: Opener,
) -> list[tuple[Any, scanner.DeviceRule]]:
    """List the input devices and which would be used; returns those, open and not grabbed."""
    report.section("Input devices (scanners and card readers)")
    settings = cfg.scanners
    try:
        rules, _decoder = scanner.from_settings(settings)
    except scanner.BadLayout as exc:
        report.problem(f"[scanners] in kiosk.toml: {exc}", "correct it in kiosk.toml")
        return []
    try:
        paths = device_paths()
    except OSError as exc:
        paths = []
        report.note(f"cannot list /dev/input: {exc}")
    if not paths and not Path("/dev/input").exists():
        report.problem(
            "this computer has no /dev/input at all (a container or a server?)",
            "run the kiosk on the Raspberry Pi the scanner is plugged into",
        )
        return []
    links = scanner.by_id_links()
    used: list[tuple[Any, scanner.DeviceRule]] = []
    unreadable = 0
    for path in sorted(paths):
        try:
            device = open_device(path)
        except PermissionError:
            unreadable += 1
            report.warn(f"{path}: not allowed to open it")
            continue
        except OSError as exc:
            report.note(f"{path}: cannot open ({exc.strerror or exc})")
            continue
        name = scanner.describe(device)
        ids = f"{device.info.vendor:04x}:{device.info.product:04x}"
        where = f", {links[path]}" if path in links else ""
        rule = scanner.verdict(device, rules, settings.touchscreen)
        if isinstance(rule, str):
            report.note(f"{name} [{ids}{where}]: not used: {rule}")
            device.close()
            continue
        grab = _try_grab(device)
        if grab:
            report.problem(
                f"{name} [{ids}{where}] would be read as {rule.role}, but {grab}", _grab_fix(grab)
            )
        else:
            report.ok(f"{name} [{ids}{where}]: read as {rule.role}; can grab it")
        used.append((device, rule))
    if unreadable:
        report.problem(f"{unreadable} input device(s) could not be opened", INPUT_GROUP_FIX)
    if not used:
        fix = (
            "plug in the USB scanner; if it is plugged in, check [[scanners.device]] in "
            "kiosk.toml against the names above"
            if rules
            else "plug in the USB scanner (it shows up as a keyboard)"
        )
        report.problem("no scanner or card reader found", fix)
    return used


def _try_grab(device: Any) -> str:
    """ "" if *device* can be grabbed (and let go again), else why not."""
    try:
        device.grab()
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return "another program holds it"
        return f"it cannot be grabbed ({exc.strerror or exc})"
    with contextlib.suppress(OSError):
        device.ungrab()
    return ""


def _grab_fix(why: str) -> str:
    if why == "another program holds it":
        return (
            "stop the program reading it (a running kiosk: sudo systemctl stop library-kiosk), "
            "then run the doctor again"
        )
    return INPUT_GROUP_FIX


def watch_scans(
    report: Report,
    cfg: KioskConfig,
    devices: Iterable[tuple[Any, scanner.DeviceRule]],
    seconds: float,
) -> list[tuple[str, str]]:
    """Read the scanners for *seconds*, printing each code; spots a wrong keyboard layout."""
    report.section(f"Live scans for {seconds:g} s: scan a card or a book now")
    _rules, decoder = scanner.from_settings(cfg.scanners)
    pending = list(devices)
    seen: list[tuple[str, str]] = []

    def once(_in_use: set[str]) -> list[tuple[Any, scanner.DeviceRule]]:
        found = pending[:]
        pending.clear()
        return found

    def scanned(code: str, role: str) -> None:
        seen.append((code, role))

    reader = scanner.ScannerReader(scanned, find=once, decoder=decoder, rescan_seconds=seconds)
    reader.start()
    shown = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
        while shown < len(seen):
            code, role = seen[shown]
            report.note(f"scanned {code!r} ({role})")
            shown += 1
    reader.stop()
    for code, role in seen[shown:]:
        report.note(f"scanned {code!r} ({role})")
    hints = {
        hint
        for code, rule_layout in ((c, cfg.scanners.layout) for c, _r in seen)
        if (hint := scanner.layout_hint(code, rule_layout))
    }
    for hint in sorted(hints):
        report.problem("the codes look wrong", hint)
    if not seen:
        report.note("nothing scanned")
    elif not hints:
        report.ok(f"{len(seen)} code(s) read")
    return seen


# -- lights ------------------------------------------------------------------------------------


def on_raspberry_pi() -> bool:
    try:
        return "Raspberry Pi" in Path("/proc/device-tree/model").read_text(errors="replace")
    except OSError:
        return False


def check_lights(report: Report, cfg: KioskConfig, seconds: float) -> None:
    """Light each LED and sound the buzzer in turn, for a person to watch."""
    from gpiozero.pins.mock import MockFactory

    settings = cfg.lights
    report.section("Lights and buzzer (watch them)")
    try:
        lights = status_lights.from_settings(settings)
    except status_lights.NoGPIO as exc:
        report.problem(
            str(exc),
            "install lgpio in the kiosk's Python (.venv/bin/pip install lgpio), "
            'or set pins = "mock"',
        )
        return
    except Exception as exc:  # gpiozero's own errors: pin in use, not a GPIO pin ...
        report.problem(
            f"the lights cannot be set up: {exc}", "check the pins under [lights] in kiosk.toml"
        )
        return
    simulated = isinstance(lights.factory, MockFactory)
    try:
        if simulated:
            if settings.pins != "mock" and on_raspberry_pi():
                report.problem(
                    "this Raspberry Pi's GPIO cannot be used, so the lights stay dark",
                    "install lgpio in the kiosk's Python (.venv/bin/pip install lgpio) and add "
                    "the user to the gpio group: sudo usermod -aG gpio $USER",
                )
            else:
                report.note("no GPIO here: the lights are simulated (gpiozero MockFactory)")
        leds = (
            ("green", lights.green, settings.green),
            ("amber", lights.amber, settings.amber),
            ("red", lights.red, settings.red),
        )
        for name, led, pin in leds:
            led.on()
            report.ok(f"{name} LED on BCM {pin}: lit")
            time.sleep(seconds)
            led.off()
        if lights.buzzer is not None:
            lights.buzzer.on()
            report.ok(f"buzzer on BCM {settings.buzzer}: sounding")
            time.sleep(seconds)
            lights.buzzer.off()
        else:
            report.note("no buzzer in kiosk.toml")
        for label, button in (("help", lights.help_button), ("done", lights.done_button)):
            if button is not None:
                state = "pressed (stuck?)" if button.is_pressed else "not pressed"
                report.note(
                    f"{label} button on BCM {getattr(settings, label + '_button')}: {state}"
                )
    finally:
        lights.close()


# -- database, clock, server -------------------------------------------------------------------


def check_database(report: Report, store: Store, data_dir: Path) -> None:
    report.section("Database")
    try:
        with store.read() as db:
            result = db.execute(text("PRAGMA integrity_check")).scalar()
    except Exception as exc:
        report.problem(f"the database cannot be read: {exc}", "restore kiosk.db from a backup")
        return
    if result == "ok":
        report.ok(f"{store.path}: intact")
    else:
        report.problem(
            f"{store.path} is damaged: {result}",
            "stop the kiosk, keep a copy of kiosk.db, and restore it from a backup or from "
            "the office (kiosk enroll, then kiosk sync)",
        )
    size = sum(
        p.stat().st_size
        for p in (store.path, store.path.with_name(store.path.name + "-wal"))
        if p.exists()
    )
    report.ok(f"size {size / 2**20:.1f} MB")
    free = shutil.disk_usage(data_dir).free
    if free < LOW_DISK_BYTES:
        report.problem(
            f"only {free / 2**20:.0f} MB free on the disk of {data_dir}",
            "delete files that are not needed or use a bigger SD card: loans cannot be saved "
            "on a full disk",
        )
    elif free < FEW_DISK_BYTES:
        report.warn(f"{free / 2**20:.0f} MB free on the disk", "make room soon")
    else:
        report.ok(f"{free / 2**30:.1f} GB free on the disk")


def _mounts(mountinfo: Path) -> dict[str, str]:
    """Mount point -> file system type, from /proc/self/mountinfo."""
    found: dict[str, str] = {}
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        fields, _, rest = line.partition(" - ")
        parts = fields.split()
        if len(parts) >= 5 and rest:
            where = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), parts[4])
            found[where] = rest.split()[0]
    return found


def check_storage(
    report: Report,
    data_dir: Path,
    mountinfo: Path = Path("/proc/self/mountinfo"),
    cmdline: Path = Path("/proc/cmdline"),
    model: Path = Path("/proc/device-tree/model"),
) -> None:
    """Is the root file system read-only (an overlay), and are the loans on a partition that
    keeps them? A power cut on a writable SD card can damage it; data on the overlay is lost at
    every reboot."""
    report.section("SD card")
    mounts = _mounts(mountinfo)
    data = str(data_dir.resolve())
    data_mount = max(
        (m for m in mounts if data == m or data.startswith(m.rstrip("/") + "/")),
        key=len,
        default="/",
    )
    try:
        asked = "overlayroot=tmpfs" in cmdline.read_text()
    except OSError:
        asked = False
    if mounts.get("/") == "overlay":
        report.ok("the root file system is read-only (overlay): a power cut cannot damage it")
        if mounts.get(data_mount) == "overlay":
            report.problem(
                f"the data folder {data_dir} is on the overlay, which is emptied at every "
                "reboot: the loans would be lost",
                "put the data on a partition of its own: "
                "sudo deploy/install-kiosk.sh --data-partition DEVICE (see docs/deploy.md)",
            )
        else:
            report.ok(f"the data is on a partition of its own ({data_mount}), kept at reboot")
    elif asked:
        try:
            pi5 = "Raspberry Pi 5" in model.read_text(errors="replace")
        except OSError:
            pi5 = False
        report.problem(
            "the read-only root is switched on (overlayroot=tmpfs) but not active: the "
            "initramfs that sets it up was not rebuilt"
            + (" for the Pi 5's own kernel" if pi5 else ""),
            "sudo update-initramfs -u -k all, then sudo reboot",
        )
    else:
        report.warn(
            "the root file system is writable: a power cut while it writes can damage the SD card",
            "make it read-only, with the data on a partition of its own: sudo "
            "deploy/install-kiosk.sh --data-partition DEVICE --read-only (see docs/deploy.md)",
        )


def ntp_synchronised() -> bool | None:
    """True/False from systemd's timedatectl; None where it cannot tell."""
    try:
        answer = subprocess.run(
            ["timedatectl", "show", "--property=NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"yes": True, "no": False}.get(answer)


def check_clock(
    report: Report,
    store: Store,
    now: dt.datetime,
    synchronised: Callable[[], bool | None] = ntp_synchronised,
) -> None:
    report.section("Clock")
    report.note(f"the clock says {now.astimezone().strftime('%Y-%m-%d %H:%M:%S %Z')}")
    with store.read() as db:
        state = read_clock(db, now, ZoneInfo("UTC")).clock
        seen_last = latest_seen(db)
        latest = seen_last.isoformat() if seen_last else None
        ahead = ahead_of_office(db)
    in_sync = synchronised()
    confirm = "kiosk confirm-clock (or the helpers' menu: the date and time are right)"
    set_it = (
        "connect the kiosk to the network so it sets its clock (sudo timedatectl set-ntp true),"
        ' or set it by hand: sudo date -s "YYYY-MM-DD HH:MM"'
    )
    if ahead > WRONG_SECONDS:
        report.problem(
            f"the clock was {ahead / 3600:.0f} hours ahead of the office's at the last sync:"
            " no book is lent by it",
            f"{set_it}; the next sync finds it right",
        )
    elif state == "wrong":
        report.problem(
            f"the clock jumped far past the last time the kiosk saw ({latest}): no book is lent"
            " until the date is confirmed",
            f"if the date above is right: {confirm}; if not: {set_it}",
        )
    elif state == "backwards" and in_sync:
        report.warn(
            f"the kiosk saw {latest} when its clock was ahead; the clock is right now"
            " (synchronised), but new loans are marked as if it went backwards",
            confirm,
        )
    elif state == "backwards":
        report.problem(
            f"the clock went backwards: the kiosk has already seen {latest}",
            f"{set_it}; if the time above is right: {confirm}",
        )
    else:
        report.ok("never seen going backwards or jumping ahead")
    match in_sync:
        case True:
            report.ok("synchronised with a time server")
        case False:
            report.warn(
                "not synchronised with a time server (a Raspberry Pi has no battery clock)",
                "check the time above; on a network: sudo timedatectl set-ntp true",
            )
        case None:
            report.note("cannot tell whether the clock is synchronised (no timedatectl)")


def check_server(report: Report, store: Store) -> None:
    from sync import replica

    report.section("Office server")
    with store.read() as db:
        state = replica.status(db)
    if not state.enrolled:
        report.note(
            f"not enrolled (a standalone kiosk); {state.pending} events kept here. "
            "To join the office: kiosk enroll URL CODE"
        )
        return
    report.ok(f"enrolled with {state.office}; {state.pending} events waiting")
    try:
        import requests

        requests.get(str(state.office), timeout=3)
    except Exception as exc:
        report.warn(
            f"the office server cannot be reached now ({type(exc).__name__})",
            "the kiosk keeps working and syncs later; check the network and that the "
            "office PC is on",
        )
    else:
        report.ok("the office server answers")
    if state.clock_warning:
        report.warn(state.clock_warning, "set the kiosk's clock (see Clock above)")
    if state.last_error:
        report.warn(f"last sync error: {state.last_error}")
