"""The ``kiosk`` command."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync import kiosk_cli

# The touchscreen draws the idle screen kept at its last stop before the store is loaded
# (kiosk.ui.snapshot): SQLAlchemy, pydantic and the engine are imported where they are used.
if TYPE_CHECKING:
    from hardware.wiring import Devices
    from kiosk import ui
    from kiosk.config import KioskConfig
    from kiosk.engine import Kiosk
    from kiosk.store import Store

SERVICE_DATA_DIR = Path("/var/lib/library-kiosk")
LOCK_FILE = "kiosk.lock"
BIG_IMPORT_BYTES = 1_000_000  # an import shows progress bars from this size of file


def default_data_dir() -> Path:
    """The service's folder under systemd, else the user's own data folder."""
    if os.environ.get("INVOCATION_ID") and SERVICE_DATA_DIR.exists():
        return SERVICE_DATA_DIR
    return _user_data_dir()


def _user_data_dir() -> Path:
    """This user's own data folder (platformdirs is loaded only for it: the service is given
    its folder, and the kiosk keeps its memory for the students)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("library-kiosk"))


def open_data(data_dir: Path) -> tuple[Store, KioskConfig]:
    """The kiosk's store and settings in *data_dir*: created, upgraded and configured."""
    from kiosk import config
    from kiosk.store import Store
    from sync import replica

    _make_folder(data_dir)
    cfg = config.load(data_dir)
    store = Store.open(data_dir / "kiosk.db")
    with store.write() as db:
        config.apply(db, cfg)
        replica.reapply_office_rules(db)  # an enrolled kiosk follows the office's rules
    return store, cfg


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="Library Kiosk")
    _global_options(parser)
    commands = parser.add_subparsers(dest="command")

    run = commands.add_parser("run", help="run the kiosk")
    run.add_argument(
        "--headless", action="store_true", help="no screen: JSON outcomes on standard output"
    )
    run.add_argument(
        "--window",
        action="store_true",
        help="an 800x480 window instead of the locked fullscreen kiosk (for a laptop)",
    )
    run.add_argument(
        "--scanner",
        choices=["stdin", "evdev"],
        default="stdin",
        help="where scanned codes come from (stdin: one code per line; evdev: the USB "
        "scanners and card readers of kiosk.toml, with the status lights)",
    )

    for what in ("students", "books"):
        cmd = commands.add_parser(
            f"import-{what}", help=f"import {what} from a CSV or Excel (.xlsx) file"
        )
        cmd.add_argument("file", type=Path)
        cmd.add_argument(
            "--skip-bad", action="store_true", help="import the good rows even if some rows are bad"
        )

    commands.add_parser("demo", help="fill the data folder with a demo library")
    doctor = commands.add_parser(
        "doctor", help="check scanners, lights, database, clock and server, saying how to fix"
    )
    doctor.add_argument(
        "--seconds", type=float, default=5, help="how long to show scanned codes (0: skip)"
    )
    commands.add_parser(
        "confirm-clock",
        help="the date and time are right (after the kiosk's clock was wrong): lend by them again",
    )
    kiosk_cli.add_commands(commands)
    for command in commands.choices.values():
        _global_options(command, after_command=True)
    return parser


def _global_options(parser: argparse.ArgumentParser, *, after_command: bool = False) -> None:
    """--data and --demo, before the command or after it (`kiosk run --data DIR`); after it they
    stay unset unless given, so that a value given before the command holds."""
    unset: dict[str, object] = {"default": argparse.SUPPRESS} if after_command else {}
    parser.add_argument("--data", type=Path, help="folder with kiosk.db and kiosk.toml", **unset)
    parser.add_argument(
        "--demo",
        action="store_true",
        help="set up a demo library (in --data or a demo folder) and run it",
        **unset,
    )


def _failures() -> tuple[type[Exception], ...]:
    """What stops the kiosk with a message instead of a traceback: a bad kiosk.toml or data
    folder, an unusable database (evaluated only when one is raised)."""
    from kiosk.config import ConfigError
    from kiosk.store import StoreError

    return ConfigError, StoreError


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.demo:
        args.data = args.data or _user_data_dir() / "demo"
        args.command = args.command or "run"
    data_dir: Path = args.data or default_data_dir()
    with contextlib.ExitStack() as held:
        try:
            if args.command in ("run", None):
                held.enter_context(_only_kiosk_on(data_dir))
            if args.demo or args.command == "demo":
                _make_demo(data_dir)
                if args.command == "demo":
                    return 0
            if args.command in ("run", None) and not getattr(args, "headless", False):
                return _run_screen(data_dir, args)  # opens the store itself
            created = not (data_dir / _config_file()).exists()
            store, cfg = open_data(data_dir)
        except _failures() as exc:
            print(f"kiosk: {exc}", file=sys.stderr)
            return 2
        held.callback(store.close)
        if created or args.command in ("run", None):
            _say_timetable(store, cfg, data_dir, created=created)
        match args.command:
            case "run" | None:
                return _run_headless(store, cfg, args)
            case "import-students" | "import-books":
                return _import(store, args)
            case "confirm-clock":
                return _confirm_clock(store, cfg)
            case "doctor":
                from hardware import doctor

                return doctor.run(store, cfg, data_dir, seconds=args.seconds)
            case command if command in kiosk_cli.COMMANDS:
                return kiosk_cli.run(store, cfg, args)
    return 0


@contextlib.contextmanager
def _only_kiosk_on(data_dir: Path) -> Iterator[None]:
    """Hold DIR/kiosk.lock while this kiosk runs. Two kiosks on one folder would take turns at
    the database and answer one scanner's codes twice; the second is turned away."""
    _make_folder(data_dir)
    path = data_dir / LOCK_FILE
    try:
        lock = open(path, "a+", encoding="ascii")  # noqa: SIM115 (held until the kiosk stops)
    except OSError as exc:
        raise _config_error(f"{path}: {exc.strerror}") from exc
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            raise _config_error(
                f"a kiosk is already running on {data_dir} (process {holder}): one kiosk per"
                " data folder; stop that one first, or give this one another --data"
            ) from None
        with contextlib.suppress(OSError):  # on a full disk the lock holds all the same
            os.ftruncate(lock.fileno(), 0)
            os.write(lock.fileno(), f"{os.getpid()}\n".encode())
        yield  # the lock goes with the file, also when the process dies


def _config_error(message: str) -> Exception:
    """A ConfigError (kiosk.config, with pydantic and SQLAlchemy, loaded only for one)."""
    from kiosk.config import ConfigError

    return ConfigError(message)


def _config_file() -> str:
    from kiosk.config import FILE_NAME

    return FILE_NAME


def _confirm_clock(store: Store, cfg: KioskConfig) -> int:
    from kiosk.clock import confirm, utc_now

    now = utc_now()
    with store.write() as db:
        confirm(db, now)
    shown = now.astimezone(cfg.kiosk.zone()).strftime("%Y-%m-%d %H:%M")
    print(f"the kiosk lends by its clock again, which says {shown}")
    return 0


def _say_timetable(store: Store, cfg: KioskConfig, data_dir: Path, *, created: bool) -> None:
    """The timetable the kiosk lends by and where to change it, on standard error (headless
    mode's standard output is its JSON): a closed library should never come as a surprise."""
    from kiosk.schedule import Schedule
    from kiosk.settings import OFFICE_RULES
    from kiosk.store import get_setting

    now = dt.datetime.now(cfg.kiosk.zone())
    with store.read() as db:
        schedule = Schedule.load(db)
        from_office = get_setting(db, OFFICE_RULES) is not None
    settings = data_dir / _config_file()
    if created:
        print(f"kiosk: wrote the default settings to {settings}", file=sys.stderr)
    lines = schedule.describe(now.date())
    if schedule.windows_at(now):
        lines.append(f"Open now ({now:%A %H:%M}).")
    elif (opens := schedule.next_opening(now)) is not None:
        lines.append(f"Closed now ({now:%A %H:%M}); it opens next {opens:%A %Y-%m-%d %H:%M}.")
    if from_office:
        lines.append("The office sets it: `library-server rules kiosk.toml` there, then sync.")
    else:
        lines.append(f"To change it, edit [timetable] in {settings} and restart the kiosk.")
    print(
        "kiosk: books are lent by this timetable (returns are taken at any time):", file=sys.stderr
    )
    print("".join(f"  {line}\n" for line in lines), end="", file=sys.stderr)


def _make_folder(data_dir: Path) -> None:
    """The data folder, made if it is missing; ConfigError if it cannot be one."""
    if data_dir.exists() and not data_dir.is_dir():
        raise _config_error(
            f"{data_dir} is a file: --data needs a folder (for kiosk.db, kiosk.toml)"
        )
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _config_error(f"cannot make the data folder {data_dir}: {exc.strerror}") from exc


def _make_demo(data_dir: Path) -> None:
    from kiosk import demo
    from kiosk.readmodel import Library

    _make_folder(data_dir)
    if not (data_dir / _config_file()).exists():
        demo.write_config(data_dir)
    store, cfg = open_data(data_dir)
    try:
        with store.write() as db:
            demo.populate(db, dt.date.today())
        library = Library(store, cfg.kiosk.zone())
        if not library.setup().done:  # a demo starts at "scan your card", not the first run
            library.finish_setup(cfg.kiosk.language, dt.datetime.now(dt.UTC))
        with store.read() as db:
            print(demo.cheat_sheet(db), file=sys.stderr)
        print(f"\nDemo library in {data_dir}\n", file=sys.stderr)
    finally:
        store.close()


def _run_headless(store: Store, cfg: KioskConfig, args: argparse.Namespace) -> int:
    from kiosk import headless

    kiosk = _start_kiosk(store, cfg)
    if getattr(args, "scanner", "stdin") == "evdev":
        from hardware.wiring import HardwareError, run_headless

        try:
            run_headless(kiosk, cfg, sys.stdout)
        except HardwareError as exc:
            print(f"kiosk: {exc}", file=sys.stderr)
            return 2
        return 0
    headless.run(kiosk, sys.stdin.buffer.raw, sys.stdout)
    return 0


def _start_kiosk(store: Store, cfg: KioskConfig) -> Kiosk:
    """The engine, logging to the journal; an enrolled kiosk syncs by itself, in a thread."""
    from kiosk import service
    from kiosk.engine import Kiosk

    service.log_to_journal()
    kiosk = Kiosk(store, cfg.kiosk)
    kiosk_cli.start_background_sync(store)
    return kiosk


def _run_screen(data_dir: Path, args: argparse.Namespace) -> int:
    """The touchscreen app: fullscreen and locked, or a window for a demo on a laptop. The
    store is opened by the app: after its first frame when it kept its idle screen."""
    import queue
    import threading

    from kiosk import ui
    from kiosk.headless import Input, read_lines
    from kiosk.ui.fonts import FontNotFound

    locked = not (args.demo or getattr(args, "window", False))
    if not locked and (problem := _no_display()):
        print(f"kiosk: {problem}", file=sys.stderr)
        return 2
    evdev = getattr(args, "scanner", "stdin") == "evdev"
    inbox: queue.Queue[Input | None] | None = None
    if not evdev:
        inbox = queue.Queue()
        threading.Thread(target=read_lines, args=(sys.stdin.buffer.raw, inbox), daemon=True).start()
    stores: list[Store] = []  # closed when the app stops, and the scanners with them
    scanners: list[Devices] = []

    def load() -> ui.Wiring:
        created = not (data_dir / _config_file()).exists()
        store, cfg = open_data(data_dir)
        stores.append(store)
        _say_timetable(store, cfg, data_dir, created=created)
        kiosk = _start_kiosk(store, cfg)
        if not evdev:
            return ui.Wiring(kiosk, **_office_link(kiosk))
        from hardware.wiring import Devices

        devices = Devices(kiosk, cfg)
        scanners.append(devices)
        return ui.Wiring(
            kiosk,
            cfg.scanners.touchscreen,
            connect=devices.start,
            listeners=[devices.lights.listen],
            **_office_link(kiosk),
        )

    configure_input = None
    if evdev:
        from hardware.touch import configure_kivy  # Kivy must not open the scanners as well

        configure_input = configure_kivy
    try:
        done = ui.run(
            load, data_dir=data_dir, locked=locked, inbox=inbox, configure_input=configure_input
        )
    except (FontNotFound, _hardware_failure()) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    finally:
        for devices in scanners:
            devices.stop()
        for store in stores:
            store.close()
    if done == "restart":
        os.execv(sys.executable, [sys.executable, "-m", "kiosk.cli", *sys.argv[1:]])
    return 0


def _hardware_failure() -> type[Exception]:
    from hardware.wiring import HardwareError

    return HardwareError


def _no_display() -> str | None:
    """Why a window cannot be shown here (e.g. over SSH), or None. The locked kiosk draws
    on the Pi's screen without a desktop, so only the window (demo) is checked."""
    if sys.platform != "linux" or os.environ.get("SDL_VIDEODRIVER"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "there is no display here to show the kiosk's window (DISPLAY is not set: over SSH?).\n"
        "  Try it without a screen: kiosk --demo run --headless  (type codes, read the answers)\n"
        "  Or on the Pi's own screen without a desktop: SDL_VIDEODRIVER=kmsdrm make demo"
    )


def _office_link(kiosk: Kiosk) -> dict[str, Any]:
    """What the touchscreen asks of the office: the helpers' "sync now", the first run's
    "connect to the office server", and how far the kiosk clock is off the office's. The UI
    knows nothing of the sync client; the client (and requests) loads on first use."""

    def sync_now() -> object:
        from sync.client import SyncClient

        return SyncClient(kiosk.store).sync()

    def enroll(url: str, code: str) -> object:
        from sync.client import SyncClient

        return SyncClient(kiosk.store).enroll(url, code, kiosk.settings.name)

    def clock_off() -> float | None:
        from kiosk.clock import CLOCK_WARNING_SECONDS
        from sync import replica

        with kiosk.store.read() as db:
            offset = replica.status(db).clock_offset_seconds
        if offset is None or abs(offset) <= CLOCK_WARNING_SECONDS:
            return None
        return offset

    return {"sync_now": sync_now, "enroll": enroll, "clock_off": clock_off}


def _import(store: Store, args: argparse.Namespace) -> int:
    from kiosk.importer import BadImportFile, import_books, import_students

    students = args.command == "import-students"
    bars = _ProgressBars(shown_from=BIG_IMPORT_BYTES)
    try:
        with bars, store.write() as db:
            if students:
                report = import_students(db, args.file, skip_bad=args.skip_bad, progress=bars)
            else:
                report = import_books(db, args.file, skip_bad=args.skip_bad, progress=bars)
    except BadImportFile as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    report.show("students" if students else "books", sys.stdout, sys.stderr)
    return 0


class _ProgressBars:
    """A progress bar on standard error for each stage of a long import."""

    def __init__(self, shown_from: int) -> None:
        self.shown_from = shown_from
        self.shown = False
        self.bars: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        self.shown = self.shown or total >= self.shown_from
        if not self.shown:
            return
        bar = self.bars.get(stage)
        if bar is None:
            for earlier in self.bars.values():
                earlier.close()  # one stage ends where the next begins
            unit = "B" if stage == "checking" else "rows"
            bar = tqdm(total=total, desc=stage, unit=unit, unit_scale=unit == "B", file=sys.stderr)
            self.bars[stage] = bar
        bar.total = total
        bar.update(done - bar.n)

    def __enter__(self) -> _ProgressBars:
        return self

    def __exit__(self, *_exc: object) -> None:
        for bar in self.bars.values():
            bar.close()


if __name__ == "__main__":
    sys.exit(main())
