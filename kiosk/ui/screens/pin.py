"""A small librarian's card was scanned: their PIN on a keypad (or a keyboard)."""

from __future__ import annotations

from kivy.properties import StringProperty

from kiosk.ui.messages import Message
from kiosk.ui.widgets import KioskScreen, load_kv

MAX_DIGITS = 12


class PinScreen(KioskScreen):
    helper = StringProperty("")
    digits = StringProperty("")
    error = StringProperty("")

    def ask(self, name: str) -> None:
        self.helper, self.digits, self.error = name, "", ""

    def digit(self, digit: str) -> None:
        self.error = ""
        self.digits = (self.digits + digit)[:MAX_DIGITS]

    def back(self) -> None:
        self.digits = self.digits[:-1]

    def clear(self) -> None:
        self.digits = ""

    def ok(self) -> None:
        digits, self.digits = self.digits, ""
        if digits:
            self.app.touch("pin", digits)

    def wrong(self, message: Message) -> None:
        self.digits, self.error = "", f"{message.headline}\n{message.body}"

    def wipe(self) -> None:
        self.helper = self.digits = self.error = ""


load_kv(__file__)
