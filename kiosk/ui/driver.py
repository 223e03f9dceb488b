"""The real app without a screen, moved one frame at a time: for tests, screenshots, benchmarks.

Kivy renders with SDL2's offscreen driver and Mesa (llvmpipe), so no display is needed. Kivy
has one window per process: a :class:`Driver` is made once, and :meth:`Driver.start_over`
shows another kiosk (a fresh library) in the same app.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.ui import DESIGN_SIZE, configure, fonts

if TYPE_CHECKING:
    from kiosk.engine import Kiosk
    from kiosk.ui.snapshot import IdleSnapshot

FINGER_SECONDS = 0.05
_shared: Driver | None = None


def headless_environment() -> None:
    """Settings for a Kivy with no display; must run before Kivy is first imported."""
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    os.environ.setdefault("KIVY_WINDOW", "sdl2")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")  # leave stderr alone: tracebacks show
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    if "KIVY_HOME" not in os.environ:
        # Kivy writes its config.ini there at first import: one folder per process, so that
        # test runs side by side (or a benchmark beside them) never write one file at once.
        home = tempfile.mkdtemp(prefix="library-kiosk-kivy-")
        atexit.register(shutil.rmtree, home, ignore_errors=True)
        os.environ["KIVY_HOME"] = home


class Driver:
    """One headless KioskApp, driven by scans, touches on its buttons and passing frames."""

    def __init__(
        self,
        kiosk: Kiosk | None,
        size: tuple[int, int] = DESIGN_SIZE,
        snapshot: IdleSnapshot | None = None,
        **app: Any,
    ) -> None:
        """*kiosk* None: the app shows the idle screen *snapshot* until it is handed the engine
        (``driver.app.ready(kiosk)``), as at a start after a stop."""
        headless_environment()
        if kiosk is not None:
            font = fonts.find_cjk_font(kiosk.settings.font)
        else:
            assert snapshot is not None, "a kiosk, or the idle screen kept at the last stop"
            font = Path(snapshot.font)
        configure(locked=False, size=size)
        from kivy.config import Config

        Config.set("graphics", "maxfps", "0")  # frames as fast as the test asks for them
        fonts.register(font)
        from kivy.base import EventLoop, runTouchApp

        from kiosk.ui.app import KioskApp

        self.app = KioskApp(kiosk, snapshot=snapshot, font=str(font), **app)
        self.app._run_prepare()
        runTouchApp(embedded=True)
        self._loop = EventLoop
        self.frames(3)

    @classmethod
    def shared(cls, kiosk: Kiosk, **app: Any) -> Driver:
        """The process's one driver (made on first use), now showing *kiosk*."""
        global _shared
        if _shared is None:
            _shared = cls(kiosk, **app)
        else:
            for name, value in app.items():
                setattr(_shared.app, name, value)
            _shared.start_over(kiosk)
        return _shared

    @property
    def window(self) -> Any:
        return self._loop.window

    def start_over(self, kiosk: Kiosk) -> None:
        self.app.start_over(kiosk)
        self.frames(2)

    def frames(self, count: int = 1) -> None:
        for _ in range(count):
            self._loop.idle()

    def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Run frames until *condition* holds (True) or *timeout* seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            self.frames()
        return True

    def tick(self) -> None:
        """What the app's timer does every tenth of a second, now (after moving the clock)."""
        self.app.tick()
        self.frames()

    def scan(self, code: str) -> None:
        """A code as a scanner in another thread hands it over, then the frames to show it."""
        self.app.submit_scan(code)
        self.frames(2)

    def type(self, text: str, enter: bool = True) -> None:
        """Keys typed on a keyboard in the window (a laptop without a scanner)."""
        for ch in text:
            self.window.dispatch("on_textinput", ch)
        if enter:
            self.window.dispatch("on_key_down", 13, 40, None, [])
        self.frames(2)

    @property
    def screen(self) -> str:
        return self.app.current

    def widgets(self) -> Iterator[Any]:
        """Every widget of the screen shown, and of the window around it, that can be seen."""
        from kivy.uix.screenmanager import ScreenManager

        def walk(widget: Any) -> Iterator[Any]:
            if widget.opacity == 0:
                return
            yield widget
            if isinstance(widget, ScreenManager):
                yield from walk(widget.current_screen)
                return
            for child in reversed(widget.children):
                yield from walk(child)

        yield from walk(self.app.root)

    def texts(self) -> list[str]:
        """The text of every visible label and button, top to bottom as laid out."""
        from kivy.uix.label import Label

        return [w.text for w in self.widgets() if isinstance(w, Label) and w.text.strip()]

    def text(self) -> str:
        return "\n".join(self.texts())

    def buttons(self) -> list[Any]:
        from kivy.uix.button import Button

        return [w for w in self.widgets() if isinstance(w, Button) and not w.disabled]

    def press(self, label: str) -> None:
        """Touch the button whose text contains *label*, as a finger would (down, up)."""
        self.frames()  # where it is now: a list made again is laid out in the next frame
        found = [b for b in self.buttons() if label in b.text]
        if len(found) != 1:
            raise LookupError(f"{len(found)} buttons say {label!r}: {[b.text for b in found]}")
        self.touch_at(*found[0].to_window(*found[0].center))

    def touch_at(self, x: float, y: float) -> None:
        """A finger down and up at window position (x, y), through Kivy's input queue."""
        screens = self.app.root.ids.screens
        # A screen manager ignores touches while it changes screens (one frame, here).
        self.wait_for(lambda: not screens.transition.is_active)
        finger = _finger(self.window, x, y)
        self._loop.post_dispatch_input("begin", finger)
        self.frames()
        # A finger rests longer than Kivy's min_state_time (35 ms); a shorter touch has its
        # release put off to a later frame.
        time.sleep(FINGER_SECONDS)
        self._loop.post_dispatch_input("end", finger)
        self.frames(2)

    def screenshot(self, path: Path) -> Path:
        """The window as shown now, as a PNG at *path*."""
        self.frames(2)
        # Drawn again without a swap: after a swap, the buffer read back is undefined.
        self.window.dispatch("on_draw")
        path.parent.mkdir(parents=True, exist_ok=True)
        written = Path(self.window.screenshot(name=str(path.with_suffix(".png"))))
        written.replace(path)
        return path

    def resize(self, size: tuple[int, int]) -> None:
        self.window.size = size
        self.frames(3)


_fingers = itertools.count(1000)


def _finger(window: Any, x: float, y: float) -> Any:
    """A touch event as a touchscreen driver makes it (each with its own id)."""
    from kivy.input.motionevent import MotionEvent

    class Finger(MotionEvent):
        def depack(self, args: dict[str, float]) -> None:
            self.sx, self.sy = args["x"], args["y"]
            super().depack(args)

    finger = Finger(
        "driver",
        next(_fingers),
        {"x": x / (window.width - 1.0), "y": y / (window.height - 1.0)},
        is_touch=True,
        type_id="touch",
    )
    finger.profile = ["pos"]
    return finger
