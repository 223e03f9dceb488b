"""kiosk.toml: the settings, circulation policies and timetable of a standalone kiosk."""

from __future__ import annotations

import datetime as dt
import io
import os
import socket
import struct
import tomllib
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy import delete
from sqlalchemy.orm import Session

from kiosk.models import ClosedDate, OpeningWindow, PatronKind, Policy, Week
from kiosk.rules import DEFAULT_POLICIES, MAX_LOAN_DAYS
from kiosk.schedule import Schedule, Window
from kiosk.settings import WEEK_A_STARTS
from kiosk.store import changed, set_setting

FILE_NAME = "kiosk.toml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

DEFAULT_TOML = """\
# Library Kiosk settings. Edit, then restart the kiosk.
# Times are local times of the school; dates are written 2026-09-01.

[kiosk]
# A short name for this kiosk, shown in the office's records ("where lent") and on the
# helpers' menu; empty: this computer's own name (its hostname), so every kiosk differs.
name = ""
# Language of the screen: "zh_CN" (简体中文) or "en".
language = "zh_CN"
# Time zone of the school; empty means the Raspberry Pi's own setting.
timezone = ""
# Seconds a student has, after scanning the card, to scan a first book.
session_timeout_seconds = 30
# Once a book is scanned: seconds of quiet before the session ends by itself with its
# receipt (a countdown shows). It also ends at once after the last book a child may take.
walk_away_seconds = 8
# Seconds to answer "return or renew?" before the question goes away.
choice_timeout_seconds = 10
# Seconds the supervisor menu stays open without a touch.
supervisor_timeout_seconds = 120
# The same code scanned again within this many seconds is ignored (children scan twice).
repeat_scan_seconds = 2
# Wrong PINs before a small librarian's card is locked, and for how long.
pin_attempts = 3
pin_lockout_minutes = 5
# A standalone kiosk forgets who had a returned book after this many days.
forget_returned_after_days = 7
# An enrolled kiosk blinks amber when loans have waited this long to reach the office.
sync_warning_minutes = 60
# A font with Chinese characters for the screen; empty: find Noto Sans CJK or WenQuanYi.
font = ""
# Command that switches the kiosk off from the supervisor menu; empty: on a Raspberry Pi
# "sudo -n /usr/bin/systemctl poweroff" (deploy/install-kiosk.sh allows the kiosk user exactly
# that), and on any other computer only the kiosk app closes.
shutdown_command = ""

# How many books each kind of patron may have, for how long, and when overdue books block.
# overdue_block_days: a book this many days overdue stops new loans (0: any overdue book).
# block_on_unsettled_compensation: a damaged or lost book not yet made good (compensation
# recorded at the office and not settled) stops new loans.
[policies.student]
max_loans = 2
loan_days = 14
max_renewals = 1
overdue_block_days = 7
block_on_unsettled_compensation = true

[policies.helper]
max_loans = 3
loan_days = 14
max_renewals = 1
overdue_block_days = 7
block_on_unsettled_compensation = true

[policies.teacher]
max_loans = 10
loan_days = 30
max_renewals = 2
overdue_block_days = 30
block_on_unsettled_compensation = true

[policies.librarian]
max_loans = 20
loan_days = 30
max_renewals = 3
overdue_block_days = 60
block_on_unsettled_compensation = true

# When the library is open. Outside these windows the kiosk only takes returns; `kiosk run`
# prints the timetable it uses.
[timetable]
# With windows for "A" or "B" weeks only: the Monday of any A week (weeks then alternate
# A, B, A, B), for example
# week_a_starts = 2026-08-31
# Days the library stays closed (holidays, exams), for example
# closed_dates = [2026-10-01, 2026-10-02, 2026-10-05]
closed_dates = []

# One [[timetable.window]] for each opening. grades = [] means every grade;
# week = "every", "A" or "B".
[[timetable.window]]
weekdays = ["mon", "tue", "wed", "thu", "fri"]
opens = "13:30"
closes = "14:20"
grades = []
week = "every"

[[timetable.window]]
weekdays = ["mon", "wed", "fri"]
opens = "17:00"
closes = "17:40"
grades = [5, 6]
week = "every"

# USB barcode scanners and card readers (they type like keyboards). `kiosk doctor` lists
# the input devices and says which are used.
[scanners]
# Keyboard layout the scanners are set to: "us" (the usual), "fr" (AZERTY) or "de".
# `kiosk doctor` notices a scanner left on a French layout.
layout = "us"
# Keys that end a code, and the longest pause between two keys of one code (a person
# typing on a keyboard is slower, and half-typed codes are dropped).
terminators = ["KEY_ENTER", "KEY_KPENTER", "KEY_TAB"]
key_timeout_ms = 100
# Characters some scanners add before or after each code, taken off again.
prefix = ""
suffix = ""
max_length = 64
# Part of the touchscreen's name (see `kiosk doctor`), so that it is never read as a scanner.
touchscreen = ""
# Without any [[scanners.device]], every keyboard-like device but the touchscreen is read.
# match: a /dev/input/by-id/... path, vendor:product ("0c2e:0b61"), or part of the name;
# role: "cards" (a card reader: its codes are always library cards), "books" or "any".
# [[scanners.device]]
# match = "usb-Barcode_Scanner-event-kbd"
# role = "books"
# [[scanners.device]]
# match = "ffff:0035"
# role = "cards"

# Status lights and buzzer on the Raspberry Pi's GPIO (BCM numbers).
[lights]
# "auto": the Pi's GPIO (lgpio), or simulated pins where there is none; "mock": simulated.
pins = "auto"
green = 17
amber = 27
red = 22
# A buzzer and two buttons ("help" calls a small librarian; "done" ends a student's visit).
# buzzer = 18
# help_button = 5
# done_button = 6
"""


# Names an operating system gives every machine it installs: not enough to tell kiosks apart.
GENERIC_HOSTNAMES = {"raspberrypi", "localhost", "debian", "ubuntu", ""}


def machine_name() -> str:
    """This computer's hostname; on a freshly installed Pi ("raspberrypi") with a part of its
    machine id, so that two kiosks of one school never share a name at the office."""
    host = socket.gethostname().split(".")[0].lower()
    if host not in GENERIC_HOSTNAMES:
        return host
    try:
        machine_id = Path("/etc/machine-id").read_text(encoding="ascii").strip()
    except OSError:
        machine_id = ""
    return f"{host or 'kiosk'}-{machine_id[:6]}" if machine_id else host or "kiosk"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KioskSettings(_Strict):
    name: str = Field(default="", validate_default=True)
    language: Literal["zh_CN", "en"] = "zh_CN"
    timezone: str = ""
    session_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 30
    walk_away_seconds: Annotated[float, Field(gt=0, le=600)] = 8
    choice_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 10
    supervisor_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 120
    repeat_scan_seconds: Annotated[float, Field(ge=0, le=60)] = 2
    pin_attempts: Annotated[int, Field(ge=1, le=20, strict=True)] = 3
    pin_lockout_minutes: Annotated[int, Field(ge=0, le=24 * 60, strict=True)] = 5
    forget_returned_after_days: Annotated[int, Field(ge=0, le=3650, strict=True)] = 7
    sync_warning_minutes: Annotated[float, Field(gt=0, le=7 * 24 * 60)] = 60
    font: str = ""
    shutdown_command: str = ""

    @field_validator("name")
    @classmethod
    def _own_name(cls, value: str) -> str:
        return value.strip() or machine_name()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone) if self.timezone else _system_zone()


class PolicySettings(_Strict):
    max_loans: Annotated[int, Field(ge=0, le=100, strict=True)]
    loan_days: Annotated[int, Field(ge=1, le=MAX_LOAN_DAYS, strict=True)]
    max_renewals: Annotated[int, Field(ge=0, le=20, strict=True)]
    overdue_block_days: Annotated[int, Field(ge=0, le=365, strict=True)]
    block_on_unsettled_compensation: Annotated[bool, Field(strict=True)] = True


# The grades a window may name (a school of twelve grades at most).
FIRST_GRADE, LAST_GRADE = 1, 12
Grade = Annotated[int, Field(ge=FIRST_GRADE, le=LAST_GRADE)]


class WindowSettings(_Strict):
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]]
    opens: dt.time
    closes: dt.time
    grades: list[Grade] = []
    week: Week = Week.EVERY

    @field_validator("closes")
    @classmethod
    def _after_opening(cls, value: dt.time, info: ValidationInfo) -> dt.time:
        opens = info.data.get("opens")
        if opens is not None and value <= opens:
            raise ValueError("closes must be later than opens")
        return value


# A date of this school's timetable, not a typing slip of some century away.
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2199, 12, 31)
Day = Annotated[dt.date, Field(ge=FIRST_DAY, le=LAST_DAY)]


class TimetableSettings(_Strict):
    week_a_starts: Day | None = None
    closed_dates: list[Day] = []
    window: list[WindowSettings] = []


KeyName = Annotated[str, Field(pattern=r"^KEY_[A-Z0-9_]+$")]
Layout = Literal["us", "fr", "de"]
BcmPin = Annotated[int, Field(ge=0, le=27)]


class ScannerDevice(_Strict):
    match: Annotated[str, Field(min_length=1)]
    role: Literal["any", "cards", "books"] = "any"
    layout: Layout | None = None


class ScannerSettings(_Strict):
    layout: Layout = "us"
    keys: dict[KeyName, Annotated[str, Field(min_length=1, max_length=2)]] = {}
    terminators: list[KeyName] = ["KEY_ENTER", "KEY_KPENTER", "KEY_TAB"]
    key_timeout_ms: Annotated[float, Field(gt=0, le=10_000)] = 100
    prefix: str = ""
    suffix: str = ""
    max_length: Annotated[int, Field(ge=1, le=1000)] = 64
    touchscreen: str = ""
    device: list[ScannerDevice] = []

    @field_validator("touchscreen")
    @classmethod
    def _no_comma(cls, value: str) -> str:
        if "," in value:  # it goes into Kivy's input line, where commas separate options
            raise ValueError("give a part of the touchscreen's name without a comma")
        return value


class LightSettings(_Strict):
    pins: Literal["auto", "lgpio", "mock"] = "auto"
    green: BcmPin = 17
    amber: BcmPin = 27
    red: BcmPin = 22
    buzzer: BcmPin | None = None
    help_button: BcmPin | None = None
    done_button: BcmPin | None = None

    @model_validator(mode="after")
    def _one_part_per_pin(self) -> LightSettings:
        used = [p for p in (self.green, self.amber, self.red, self.buzzer) if p is not None]
        used += [p for p in (self.help_button, self.done_button) if p is not None]
        if len(used) != len(set(used)):
            raise ValueError("each light, the buzzer and each button need a pin of their own")
        return self


class KioskConfig(_Strict):
    kiosk: KioskSettings = KioskSettings()
    policies: dict[PatronKind, PolicySettings] = {
        kind: PolicySettings(**values) for kind, values in DEFAULT_POLICIES.items()
    }
    timetable: TimetableSettings = TimetableSettings()
    scanners: ScannerSettings = ScannerSettings()
    lights: LightSettings = LightSettings()


class ConfigError(Exception):
    """The data folder or its kiosk.toml cannot be used; the message names the file, the
    setting and the problem."""


def load(data_dir: Path) -> KioskConfig:
    """Read DIR/kiosk.toml, writing the commented defaults there first if it is missing."""
    path = Path(data_dir) / FILE_NAME
    try:
        if not path.exists():
            path.write_text(DEFAULT_TOML, encoding="utf-8")
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return KioskConfig.model_validate(raw)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from exc


def apply(session: Session, config: KioskConfig) -> None:
    """Make the store's policies and timetable those of *config* (in the caller's transaction)."""
    changed(session)
    for kind in PatronKind:
        values = config.policies.get(kind) or PolicySettings(**DEFAULT_POLICIES[kind])
        session.merge(Policy(patron_kind=kind, **values.model_dump()))
    session.execute(delete(OpeningWindow))
    for window in schedule_of(config.timetable).windows:
        session.add(
            OpeningWindow(
                weekday=window.weekday,
                opens=window.opens,
                closes=window.closes,
                grades=",".join(str(g) for g in sorted(window.grades)),
                week=window.week,
            )
        )
    session.execute(delete(ClosedDate))
    for day in sorted(set(config.timetable.closed_dates)):
        session.add(ClosedDate(day=day))
    if config.timetable.week_a_starts is not None:
        set_setting(session, WEEK_A_STARTS, config.timetable.week_a_starts.isoformat())


def schedule_of(timetable: TimetableSettings) -> Schedule:
    """The timetable as the rules read it (the office's, which has no store of its own)."""
    return Schedule(
        windows=tuple(
            Window(WEEKDAYS.index(day), w.opens, w.closes, frozenset(w.grades), w.week)
            for w in timetable.window
            for day in w.weekdays
        ),
        closed=frozenset(timetable.closed_dates),
        week_a_starts=timetable.week_a_starts,
    )


def _system_zone() -> ZoneInfo:
    """The zone the computer's clock is shown in: $TZ as the C library reads it (a zone name,
    ``:Asia/Shanghai``, a file, or a rule such as ``CST-8``), else /etc/localtime, else UTC."""
    tz = os.environ.get("TZ", "").removeprefix(":")
    if tz:
        zone = _zone_from_tz(tz)
        if zone is not None:
            return zone
    link = Path("/etc/localtime")
    if link.is_symlink():
        target = str(link.resolve())
        if "zoneinfo/" in target:
            return ZoneInfo(target.split("zoneinfo/", 1)[1])
    return ZoneInfo("UTC")


def _zone_from_tz(tz: str) -> ZoneInfo | None:
    if tz.startswith("/"):
        try:
            with open(tz, "rb") as f:
                return ZoneInfo.from_file(f, key=tz)
        except (OSError, ValueError):
            return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        pass

    # A POSIX rule ("CST-8", "EST5EDT,M3.2.0,M11.1.0"): the rule a zone file ends with, in a
    # zone file of nothing else.
    def block() -> bytes:
        counts = struct.pack(">6l", 0, 0, 0, 0, 1, 4)  # one local time type, 4 name bytes
        return b"TZif2" + bytes(15) + counts + struct.pack(">lBB", 0, 0, 0) + b"UTC\0"

    try:
        rule = tz.encode("ascii")
        return ZoneInfo.from_file(io.BytesIO(block() + block() + b"\n" + rule + b"\n"), key=tz)
    except (UnicodeEncodeError, ValueError):
        return None
