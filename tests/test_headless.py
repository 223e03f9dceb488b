"""Headless mode: the real `kiosk` command, codes in on stdin, JSON outcomes out."""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kiosk.config import KioskSettings
from kiosk.demo import HELPER_CARD, HELPER_PIN
from kiosk.headless import read_lines


def run_kiosk(data: Path, stdin: bytes, *extra: str) -> tuple[list[dict], str]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kiosk.cli",
            "--data",
            str(data),
            *extra,
            "run",
            "--headless",
            "--scanner",
            "stdin",
        ],
        input=stdin,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode("utf-8").splitlines()
    return [json.loads(line) for line in lines], result.stderr.decode()


@pytest.fixture(scope="module")
def demo_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The library `kiosk demo` makes, made once: each test runs the kiosk on a copy of it."""
    data = tmp_path_factory.mktemp("demo") / "demo"
    subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--data", str(data), "demo"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return data


@pytest.fixture
def demo(tmp_path: Path, demo_library: Path) -> Path:
    """A kiosk's data folder with the demo library, this test's own."""
    return Path(shutil.copytree(demo_library, tmp_path / "demo"))


def test_a_lunch_break_at_the_kiosk(demo: Path) -> None:
    script = (
        "\n".join(
            [
                "# a student borrows two books (the most: the session ends), then tries a third",
                "S0001",
                "100001",
                "100002",
                "S0001",
                "100003",
                ":done",
                "100001",  # returned without a session
                "S0002",
                "100002",  # S0001 still has it: returned implicitly, lent to S0002
                ":done",
                HELPER_CARD,
                f":pin {HELPER_PIN}",
                ":leave",
            ]
        )
        + "\n"
    )
    outcomes, _ = run_kiosk(demo, script.encode())
    kinds = [(o["outcome"], o.get("reason")) for o in outcomes]
    assert kinds == [
        ("session_started", None),
        ("checked_out", None),
        ("checked_out", None),
        ("session_ended", "all_taken"),
        ("session_started", None),
        ("refused", "limit_reached"),
        ("session_ended", "done"),
        ("returned", None),
        ("session_started", None),
        ("checked_out", None),
        ("session_ended", "done"),
        ("pin_needed", None),
        ("supervisor", None),
        ("session_ended", "leave"),
    ]
    lent = outcomes[1]
    assert lent["patron"] == "S0001" and lent["copy"] == "100001"
    assert lent["title"] == "小王子" and lent["light"] == "success"
    assert len(lent["due"]) == 10  # an ISO date
    assert outcomes[5]["light"] == "refused"
    assert outcomes[5]["detail"]["bring_back"] in ("小王子", "夏洛的网")
    for outcome in outcomes:
        assert {"outcome", "reason", "patron", "copy", "title", "due", "light"} <= set(outcome)


def test_junk_input_gets_answers_and_the_kiosk_goes_on(demo: Path) -> None:
    junk = (
        b"\n".join(
            [
                b"",  # an empty line
                b"\x00\x01\x02\xff\xfe",  # binary junk
                b"A" * 10_000,  # a 10,000-character line
                b"B" * 200_000,  # longer than a line is read at once
                b"100\x1b[2J001",  # control characters
                b":dance",  # an unknown touch
                b"S0001",  # ... and the kiosk still works
            ]
        )
        + b"\n"
    )
    outcomes, _ = run_kiosk(demo, junk)
    assert outcomes[0]["light"] is None  # the lights stay as they were: no red for a blank line
    assert [(o["outcome"], o["reason"]) for o in outcomes] == [
        ("ignored", "empty"),  # a stray Enter
        ("unknown_code", "garbled"),
        ("unknown_code", "too_long"),
        ("unknown_code", "too_long"),
        ("unknown_code", "control_characters"),
        ("refused", "unknown_touch"),
        ("session_started", None),
        ("session_ended", "shutdown"),
    ]


def test_session_ends_by_itself_after_the_idle_time(demo: Path) -> None:
    toml = demo / "kiosk.toml"
    toml.write_text(
        toml.read_text().replace("session_timeout_seconds = 30", "session_timeout_seconds = 1")
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "--data", str(demo), "run", "--headless"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write(b"S0001\n")
    proc.stdin.flush()
    started = json.loads(proc.stdout.readline())
    ended = json.loads(proc.stdout.readline())  # while the input is still open: by itself
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    assert started["outcome"] == "session_started"
    assert (ended["outcome"], ended["reason"]) == ("session_ended", "timeout")


def test_bad_settings_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text("[kiosk]\nlanguage = 'klingon'\n")
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--data", str(tmp_path), "run", "--headless"],
        input=b"",
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert b"kiosk.language" in result.stderr
    assert b"Traceback" not in result.stderr


def kiosk_on_a_full_disk(data: Path) -> subprocess.CompletedProcess[bytes]:
    """`kiosk run --headless` where no file may grow: a disk that was full before it started."""

    def full_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))

    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--data", str(data), "run", "--headless"],
        input=b"S0001\n",
        capture_output=True,
        timeout=60,
        preexec_fn=full_disk,
    )


def test_a_full_disk_at_start_is_a_clear_error(tmp_path: Path, demo: Path) -> None:
    started = kiosk_on_a_full_disk(demo)
    assert started.returncode == 2
    assert b"kiosk: the disk is full or failing; free space on the kiosk" in started.stderr
    assert b"Traceback" not in started.stderr
    fresh = kiosk_on_a_full_disk(tmp_path / "fresh")
    assert fresh.returncode == 2
    assert f"kiosk: {tmp_path / 'fresh' / 'kiosk.toml'}: File too large".encode() in fresh.stderr
    assert b"Traceback" not in fresh.stderr


@pytest.mark.parametrize(
    ("setup", "said"),
    [
        (
            lambda data: (data / "kiosk.toml").write_bytes('name = "图书角"\n'.encode("gbk")),
            "kiosk.toml: not UTF-8 text (invalid continuation byte at byte 10): save it as UTF-8",
        ),
        (
            lambda data: (data / "kiosk.db").mkdir(),
            "the library database failed: unable to open database file",
        ),
    ],
    ids=["settings-not-utf8", "database-is-a-folder"],
)
def test_a_data_folder_it_cannot_use_is_a_clear_error(tmp_path: Path, setup, said: str) -> None:
    setup(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--data", str(tmp_path), "sync-status"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert said in result.stderr
    assert "Traceback" not in result.stderr


def test_data_pointing_at_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "students.csv").write_text("card,name\n")
    a_file = tmp_path / "students.csv"
    for command in ("sync-status", "demo"):
        result = subprocess.run(
            [sys.executable, "-m", "kiosk.cli", "--data", str(a_file), command],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2
        assert f"kiosk: {a_file} is a file: --data needs a folder" in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("tz", ["CST-8", ":Asia/Shanghai"])
def test_the_system_time_zone_as_the_c_library_takes_it(
    demo: Path, tz: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no timezone in kiosk.toml the kiosk uses the system's, written any way $TZ may be."""
    settings = (demo / "kiosk.toml").read_text()
    assert 'timezone = ""' in settings
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--data", str(demo), "run", "--headless"],
        input=b"S0001\n",
        capture_output=True,
        timeout=60,
        env={**os.environ, "TZ": tz},
    )
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout.splitlines()[0])["outcome"] == "session_started"
    monkeypatch.setenv("TZ", tz)
    summer = dt.datetime(2026, 7, 1, 4, 0, tzinfo=dt.UTC)
    assert summer.astimezone(KioskSettings().zone()).hour == 12


def test_demo_prints_cards_to_try(tmp_path: Path) -> None:
    outcomes, stderr = run_kiosk(tmp_path / "d", b"S0001\n", "--demo")
    assert f"Small librarian card: {HELPER_CARD}  PIN {HELPER_PIN}" in stderr
    assert "S0001" in stderr
    assert outcomes[0]["outcome"] == "session_started"


def test_the_demo_without_a_folder_is_kept_in_the_users_own(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--demo", "run", "--headless"],
        input=b"S0001\n",
        capture_output=True,
        timeout=120,
        env={**os.environ, "XDG_DATA_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout.splitlines()[0])["outcome"] == "session_started"
    assert (tmp_path / "library-kiosk" / "demo" / "kiosk.db").is_file()


GIVEN_ITS_FOLDER = """
import sys
from kiosk.cli import main
main(["--data", sys.argv[1], "sync-status"])
print("platformdirs" in sys.modules)
"""


def test_the_kiosk_given_its_folder_loads_nothing_to_find_one(demo: Path) -> None:
    """The service gives the kiosk its folder (--data): what finds a user's own data folder
    (platformdirs, 1 MB of the Pi's memory) is not loaded."""
    result = subprocess.run(
        [sys.executable, "-c", GIVEN_ITS_FOLDER, str(demo)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "False"


def test_a_fresh_kiosk_shows_its_timetable_and_where_to_change_it(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    students = tmp_path / "students.csv"
    students.write_text("card,name,class,grade\nS0001,Li Hua,5-2,5\n")
    first = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--data", str(data), "import-students", str(students)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert first.returncode == 0, first.stderr
    assert f"wrote the default settings to {data / 'kiosk.toml'}" in first.stderr
    assert "Open Monday to Friday 13:30-14:20, every grade" in first.stderr
    assert f"edit [timetable] in {data / 'kiosk.toml'}" in first.stderr
    # The default settings hold no dates that expire; examples are comments.
    settings = (data / "kiosk.toml").read_text()
    assert "closed_dates = []" in settings
    assert "\nweek_a_starts" not in settings

    _, stderr = run_kiosk(data, b"")
    assert "wrote the default settings" not in stderr
    assert "Open Monday, Wednesday, Friday 17:00-17:40, grades 5 and 6" in stderr
    assert "Open now" in stderr or "Closed now" in stderr


def test_options_after_the_command_and_codes_in_any_case(demo: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "run", "--headless", "--data", str(demo)],
        input=b"s0001\n\n:foo\n",
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    outcomes = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [(o["outcome"], o["reason"], o["light"]) for o in outcomes] == [
        ("session_started", None, outcomes[0]["light"]),
        ("ignored", "empty", None),
        ("refused", "unknown_touch", "refused"),
        ("session_ended", "shutdown", outcomes[3]["light"]),
    ]
    assert outcomes[0]["patron"] == "S0001"
    assert outcomes[2]["detail"] == {"touch": "foo"}


def test_codes_ended_by_carriage_return_alone(demo: Path) -> None:
    """Some scanners end each code with CR only; CR LF is one line end, not two."""
    outcomes, _ = run_kiosk(demo, b"S0001\r100001\r\n100002\r:done\r")
    assert [(o["outcome"], o.get("copy")) for o in outcomes] == [
        ("session_started", None),
        ("checked_out", "100001"),
        ("checked_out", "100002"),
        ("session_ended", None),
    ]


def test_a_line_is_read_as_soon_as_it_ends() -> None:
    """A code ended by CR is answered at once, not when more input (or the end) comes."""
    read_end, write_end = os.pipe()
    lines: queue.Queue[bytes | None] = queue.Queue()
    with open(read_end, "rb") as stream, open(write_end, "wb", buffering=0) as scanner:
        reader = threading.Thread(target=read_lines, args=(stream, lines), daemon=True)
        reader.start()
        scanner.write(b"S0001\r")
        assert lines.get(timeout=30) == b"S0001"
        scanner.write(b"\n100001\r\n")  # the LF completes the CR LF: no empty line between
        assert lines.get(timeout=30) == b"100001"
    reader.join(timeout=30)
    assert lines.get(timeout=30) is None


def test_a_second_kiosk_on_the_same_folder_is_turned_away(demo: Path) -> None:
    command = [sys.executable, "-m", "kiosk.cli", "--data", str(demo), "run", "--headless"]
    first = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        lock = demo / "kiosk.lock"
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
            assert first.poll() is None and time.monotonic() < deadline, "the kiosk did not start"
            time.sleep(0.05)
        second = subprocess.run(command, input=b"S0001\n", capture_output=True, timeout=60)
        assert second.returncode == 2
        assert f"a kiosk is already running on {demo} (process {first.pid})".encode() in (
            second.stderr
        )
        assert second.stdout == b""  # it answered no scan
    finally:
        out, _ = first.communicate(b"S0001\n", timeout=60)
    assert first.returncode == 0
    assert json.loads(out.splitlines()[0])["outcome"] == "session_started"
    outcomes, _ = run_kiosk(demo, b"S0002\n")  # the folder is free again
    assert outcomes[0]["outcome"] == "session_started"
