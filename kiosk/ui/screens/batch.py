"""A helper scans a pile of books: each returned (or marked damaged or missing), one line each."""

from __future__ import annotations

from kivy.properties import ListProperty, StringProperty

from kiosk.ui.i18n import tr
from kiosk.ui.widgets import KioskScreen, load_kv

MAX_LINES = 20


class BatchScreen(KioskScreen):
    mode = StringProperty("")
    heading = StringProperty("")
    instruction = StringProperty("")
    lines = ListProperty([])

    def start(self, mode: str) -> None:
        self.mode, self.lines = mode, []
        self.heading, self.instruction = {
            "batch_return": (
                tr._("Return a pile of books"),
                tr._("Scan each book. Every one is taken back at once."),
            ),
            "mark_damaged": (
                tr._("Mark books damaged"),
                tr._("Scan each damaged book, then give it to the librarian."),
            ),
            "mark_lost": (
                tr._("Mark books lost"),
                tr._("Scan the label or ISBN of each lost book."),
            ),
        }[mode]

    def said(self, line: str) -> None:
        self.lines = [line, *self.lines][:MAX_LINES]

    def wipe(self) -> None:
        self.lines = []


load_kv(__file__)
