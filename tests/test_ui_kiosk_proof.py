"""Kid-proof and kiosk-proof: big touch targets on every display, no way out, the real command."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import FakeClock
from tests.test_ui import kiosk_fixture, open_menu, require_font, ui_fixture  # noqa: F401 - fixtures of test_ui

if TYPE_CHECKING:
    from kiosk.ui.driver import Driver

# (pixels, diagonal in inches) of the displays the kiosk is made for.
DISPLAYS = [((800, 480), 7.0), ((1024, 600), 7.0), ((1280, 800), 10.1)]
HEADLESS = {**os.environ, "SDL_VIDEODRIVER": "offscreen", "KIVY_NO_CONSOLELOG": "1"}


@pytest.mark.parametrize(("size", "inches"), DISPLAYS)
def test_every_button_is_at_least_15_mm_on_each_display(
    ui: Driver, clock: FakeClock, size: tuple[int, int], inches: float
) -> None:
    from kiosk.ui.screens import SCREENS

    px_per_mm = math.hypot(*size) / (inches * 25.4)
    open_menu(ui, clock)
    ui.press("查找学生")  # fills the class and name buttons
    manager = ui.app.root.ids.screens
    ui.resize(size)
    try:
        checked = 0
        for name in SCREENS:
            ui.app.screen(name)  # made on first use
            manager.current = name
            ui.frames(3)
            for button in ui.buttons():
                smallest = min(button.width, button.height) / px_per_mm
                assert smallest >= 15, f"{name}: {button.text!r} is {smallest:.1f} mm"
                checked += 1
        assert checked > 40
    finally:
        ui.resize((800, 480))
        manager.current = ui.app.base_screen()


def demo_data(tmp_path: Path) -> Path:
    data = tmp_path / "demo"
    subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--data", str(data), "demo"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    return data


def events(data: Path) -> list[str]:
    engine = create_engine(f"sqlite:///{data / 'kiosk.db'}")
    with engine.connect() as db:
        types = [row[0] for row in db.execute(text("SELECT type FROM events ORDER BY seq"))]
    engine.dispose()
    return types


def run_script(script: str, data: Path) -> subprocess.CompletedProcess[str]:
    """*script* run by Python on the demo library in *data*, in a process of its own (a fresh
    Kivy, rendered without a display), which must succeed."""
    result = subprocess.run(
        [sys.executable, "-c", script, str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        env=HEADLESS,
    )
    assert result.returncode == 0, result.stderr
    return result


def run_window_kiosk(data: Path, codes: bytes, until: list[str]) -> None:
    """`kiosk run --window` on *data*, with *codes* on its standard input right at the start,
    until its events are *until*: the window stays open after the input ends, and the kiosk
    stops cleanly when terminated (as systemd stops it), its standard input still open."""
    log = data / "kiosk-run.log"
    with log.open("wb") as err:
        kiosk_process = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "--data", str(data), "run", "--window"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=HEADLESS,
        )
        assert kiosk_process.stdin is not None
        try:
            kiosk_process.stdin.write(codes)
            kiosk_process.stdin.flush()
            deadline = time.monotonic() + 60
            while events(data) != until and time.monotonic() < deadline:
                time.sleep(0.2)
            assert events(data) == until
            assert kiosk_process.poll() is None  # the window stays open after the input ends
        finally:
            kiosk_process.terminate()  # the reader of its input still waiting for a line
            kiosk_process.wait(timeout=30)
            kiosk_process.stdin.close()
    said = log.read_text(errors="replace")
    assert kiosk_process.returncode == 0 and "Fatal Python error" not in said, said


@pytest.mark.slow
def test_kiosk_run_with_a_window_takes_codes_from_stdin(tmp_path: Path) -> None:
    require_font()
    data = demo_data(tmp_path)
    run_window_kiosk(
        data, b"S0001\n100001\n:done\n", ["session_started", "checkout", "session_ended"]
    )


SCREENS_AS_NEEDED = """
import sys
from pathlib import Path
from kiosk.cli import open_data
from kiosk.engine import Kiosk
from kiosk.ui.driver import Driver

def loaded():
    names = sorted(ui.app.root.ids.screens.screen_names)
    modules = sorted(m for m in sys.modules if m.startswith("kiosk.ui.screens.") or m == "pypinyin")
    return names, modules

store, cfg = open_data(Path(sys.argv[1]))
ui = Driver(Kiosk(store, cfg.kiosk))
print(loaded())
ui.scan("S0001")
print(loaded())
"""


def test_screens_are_made_the_first_time_they_show(tmp_path: Path) -> None:
    require_font()
    data = demo_data(tmp_path)
    result = run_script(SCREENS_AS_NEEDED, data)
    at_start, with_a_child = result.stdout.strip().splitlines()[-2:]
    # "Scan your card" only: no session, no helpers' pages, no pinyin dictionary yet.
    assert at_start == str((["idle"], ["kiosk.ui.screens.idle"]))
    assert with_a_child == str(
        (["idle", "session"], ["kiosk.ui.screens.idle", "kiosk.ui.screens.session"])
    )


KIVY_AS_SET_UP = """
import sys
from pathlib import Path
from kiosk.cli import open_data
from kiosk.engine import Kiosk
from kiosk.ui.driver import Driver

store, cfg = open_data(Path(sys.argv[1]))
ui = Driver(Kiosk(store, cfg.kiosk))
ui.scan("S0001")
from kivy.core.image import ImageLoader
print(ui.screen, [loader.__name__ for loader in ImageLoader.loaders], "PIL" in sys.modules)
"""


def test_kivy_loads_its_theme_with_sdl2_alone_and_never_pillow(tmp_path: Path) -> None:
    """The screens show no image files: Kivy's own theme (its buttons) is read by SDL2, as
    every start of the app sets Kivy up (kiosk.ui), and Pillow is never loaded (2 MB)."""
    require_font()
    data = demo_data(tmp_path)
    result = run_script(KIVY_AS_SET_UP, data)
    assert result.stdout.strip().splitlines()[-1] == "session ['ImageLoaderSDL2'] False"


def test_the_demo_with_no_display_says_so_and_how_to_run_headless(tmp_path: Path) -> None:
    data = demo_data(tmp_path)
    away = ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")
    over_ssh = {k: v for k, v in os.environ.items() if k not in away}
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--data", str(data), "--demo"],
        capture_output=True,
        timeout=60,
        env=over_ssh,
    )
    assert result.returncode == 2
    said = result.stderr.decode()
    assert "there is no display here" in said
    assert "kiosk --demo run --headless" in said
    assert "Traceback" not in said


def test_a_font_that_is_not_there_stops_the_kiosk_with_a_clear_message(tmp_path: Path) -> None:
    data = tmp_path / "kiosk"
    data.mkdir()
    (data / "kiosk.toml").write_text('[kiosk]\nfont = "/no/such/font.ttf"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--data", str(data), "run"],
        capture_output=True,
        timeout=60,
        env=HEADLESS,
    )
    assert result.returncode == 2
    assert b"font = '/no/such/font.ttf': no such font file" in result.stderr
    assert b"Traceback" not in result.stderr


SUPERVISOR_EXIT = """
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from kiosk import demo
from kiosk.cli import open_data
from kiosk.engine import Kiosk
from kiosk.store import set_setting
from kiosk.settings import SETUP_DONE
from kiosk.ui.driver import Driver

store, cfg = open_data(Path(sys.argv[1]))
with store.write() as db:
    set_setting(db, SETUP_DONE, "now")
settings = cfg.kiosk.model_copy(update={"shutdown_command": sys.argv[3]})
ui = Driver(Kiosk(store, settings))
ui.scan(demo.HELPER_CARD)
for digit in demo.HELPER_PIN:
    ui.press(digit)
ui.press("好的")
ui.press({"shutdown": "关机", "restart": "重启程序"}[sys.argv[2]])
ui.press("是")
print("exit:", ui.app.exit_action)
"""


@pytest.mark.slow
@pytest.mark.parametrize("action", ["shutdown", "restart"])
def test_only_the_supervisor_menu_switches_off_or_restarts(tmp_path: Path, action: str) -> None:
    require_font()
    data = demo_data(tmp_path)
    marker = tmp_path / "switched-off"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(SUPERVISOR_EXIT),
            str(data),
            action,
            f"touch {marker}",
        ],
        capture_output=True,
        timeout=120,
        env=HEADLESS,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert f"exit: {action}".encode() in result.stdout
    time.sleep(0.5)  # the switch-off command runs on its own
    assert marker.exists() == (action == "shutdown")
    assert events(data)[-1] == "supervisor_closed"  # the menu was closed properly
