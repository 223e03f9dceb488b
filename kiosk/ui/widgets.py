"""What every screen is made of: text that wraps as a child reads it, big buttons, colours.

Their look is in kiosk.kv beside this file (loaded with the app); each screen's own layout is
in kiosk/ui/screens/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import NoTransition, Screen, ScreenManager
from kivy.uix.scrollview import ScrollView

from kiosk.ui.messages import Tone

# Never the first character of a line: a full stop or comma alone on a line reads as a mistake.
NO_LINE_START = frozenset("。，、；：？！…）》」』”’%,.;:?!)")
_REWRAPS = 3  # each moves one character down a line; more would mean a column too narrow


class _Colours(dict[str, tuple[float, float, float, float]]):
    """Colours by tone; a KV property not yet set (empty) gets the neutral one."""

    def __missing__(self, _tone: str) -> tuple[float, float, float, float]:
        return self[Tone.INFO]


TONE_COLOURS = _Colours(
    {
        Tone.GOOD: (0.16, 0.52, 0.24, 1),
        Tone.BAD: (0.78, 0.16, 0.16, 1),
        Tone.WAIT: (0.90, 0.58, 0.04, 1),
        Tone.INFO: (0.15, 0.38, 0.68, 1),
    }
)


def load_kv(module_file: str) -> None:
    """Load the .kv file beside a screen's module (once: at the module's first import)."""
    Builder.load_file(str(Path(module_file).with_suffix(".kv")))


def rewrapped(lines: list[tuple[str, bool]]) -> list[str] | None:
    """Lines as laid out (text, wrapped from the line before) with no wrapped line starting
    with punctuation: the character before comes down with it. None when nothing moves."""
    out = [text for text, _wrapped in lines]
    moved = False
    for i in range(1, len(out)):
        if lines[i][1] and out[i][:1] in NO_LINE_START and len(out[i - 1]) > 1:
            out[i - 1], out[i] = out[i - 1][:-1], out[i - 1][-1] + out[i]
            moved = True
    return out if moved else None


class Text(Label):
    """A paragraph: as wide as its place, as high as its lines. Chinese has no spaces, so Kivy
    breaks it at any character; a line never starts with a full stop or a comma here."""

    def texture_update(self, *largs: Any) -> None:
        self._label.text = self.text  # as written, not as it was last rewrapped
        super().texture_update(*largs)
        for _ in range(_REWRAPS):
            laid_out = [
                ("".join(word.text for word in line.words), bool(line.line_wrap))
                for line in self._label._cached_lines
            ]
            lines = rewrapped(laid_out)
            if lines is None or self.texture is None:
                return
            self._label.text = "\n".join(lines)
            self._label.refresh()
            self.texture = self._label.texture
            self.texture_size = list(self.texture.size)


class Scroller(ScrollView):
    """A list that scrolls (every screen's). Kivy's own binds its bar's colour again each time
    the list moves or grows and lets go of one binding per half second: the session's list
    grows with each book, and the bindings added up over a day, 5 a child."""

    def update_from_scroll(self, *largs: Any) -> None:
        self.funbind("bar_color", self._change_bar_color)  # bound again just below
        super().update_from_scroll(*largs)


class Root(FloatLayout):
    """The window's content: a touch anywhere keeps an open session or menu alive."""

    def on_touch_down(self, touch: Any) -> bool:
        App.get_running_app().keep_alive()
        return super().on_touch_down(touch)


class Screens(ScreenManager):
    """The app's screens, one at a time, switched at once. Kivy's own manager clips its
    screens with a stencil, for transitions that slide them in and out (its rule in Kivy's
    style.kv; replaced in kiosk.kv): two passes over the whole window and a stencil test on
    every pixel of every frame, a third of the drawing on a software renderer. A screen
    switched at once fills the manager and never sticks out of it."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("transition", NoTransition())
        super().__init__(**kwargs)


class LoanRow(BoxLayout):
    title = StringProperty("")
    due = StringProperty("")
    tone = StringProperty(Tone.INFO.value)


class KioskButton(Button):
    tone = StringProperty(Tone.GOOD.value)


class ClassButton(KioskButton):
    selected = BooleanProperty(False)


class StudentButton(KioskButton):
    card = StringProperty("")


class KioskScreen(Screen):
    """A screen of the app. What it shows of a person is wiped when they leave (privacy)."""

    @property
    def app(self) -> Any:
        return App.get_running_app()

    def wipe(self) -> None:
        """Forget everything of the student or helper who was here."""
