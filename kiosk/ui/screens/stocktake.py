"""The stocktake: a small librarian chooses a shelf (by touch, or by scanning its label) and
scans the books on it, with a big running count for the shelf and in all, and a word for each
book that needs looking at."""

from __future__ import annotations

from kivy.factory import Factory
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty

from kiosk.outcome import Outcome
from kiosk.readmodel import Stocktake
from kiosk.ui import messages
from kiosk.ui.i18n import tr
from kiosk.ui.messages import Message, Tone, book
from kiosk.ui.widgets import KioskButton, KioskScreen, load_kv

MAX_LINES = 20


class ShelfButton(KioskButton):
    shelf = StringProperty("")
    copies = NumericProperty(0)
    counted = NumericProperty(0)
    selected = BooleanProperty(False)


class StocktakeScreen(KioskScreen):
    stocktake = StringProperty("")  # its name, as the office gave it
    shelf = StringProperty("")  # counted now; "" until one is chosen
    shelf_counted = NumericProperty(0)
    shelf_copies = NumericProperty(0)
    counted = NumericProperty(0)  # by this kiosk, in all
    copies = NumericProperty(0)  # on the stocktake's shelves, as the records say
    headline = StringProperty("")
    body = StringProperty("")
    tone = StringProperty(Tone.INFO.value)
    lines = ListProperty([])

    def start(self, now: Stocktake | None) -> None:
        """The stocktake as this kiosk has counted it so far; no shelf chosen yet."""
        self.stocktake = now.name if now else ""
        self.shelf, self.shelf_counted, self.shelf_copies = "", 0, 0
        self.counted = now.counted if now else 0
        self.copies = now.copies if now else 0
        self.headline, self.body, self.lines = "", "", []
        box = self.ids.shelves
        box.clear_widgets()
        for shelf in now.shelves if now else []:
            box.add_widget(self._button(shelf.name, shelf.copies, shelf.counted))
        self.ids.scroller.scroll_y = 1

    def shelf_chosen(self, outcome: Outcome) -> None:
        self._counts(outcome)
        for button in self.ids.shelves.children:
            button.selected = button.shelf == self.shelf
        self.headline, self.body, self.tone = "", "", Tone.INFO.value
        self._said(tr._("Shelf {shelf}").format(shelf=self.shelf))

    def book_counted(self, outcome: Outcome) -> None:
        self._counts(outcome)
        message = messages.counted(outcome)
        self._show(message)
        what = book(outcome.title) if outcome.title else outcome.copy or ""
        if outcome.reason == "counted":
            self._said(f"{message.icon} {what}")
        else:
            self._said(
                tr._("{icon} {book}: {word}").format(
                    icon=message.icon, book=what, word=message.headline
                )
            )

    def refused(self, message: Message) -> None:
        self._show(message)
        self._said(f"{message.icon} {message.headline}")

    def wipe(self) -> None:
        self.headline, self.body, self.lines = "", "", []

    def _show(self, message: Message) -> None:
        self.headline, self.body, self.tone = message.headline, message.body, message.tone.value

    def _said(self, line: str) -> None:
        self.lines = [line, *self.lines][:MAX_LINES]

    def _counts(self, outcome: Outcome) -> None:
        detail = outcome.detail
        self.shelf = str(detail.get("shelf") or "")
        self.shelf_counted = int(detail.get("on_shelf", 0))
        self.shelf_copies = int(detail.get("shelf_copies", 0))
        self.counted = int(detail.get("counted", 0))
        if not self.shelf:
            return
        button = next((b for b in self.ids.shelves.children if b.shelf == self.shelf), None)
        if button is None:  # a shelf of the whole library the office did not list: added
            button = self._button(self.shelf, self.shelf_copies, 0)
            self.ids.shelves.add_widget(button)
        button.counted = self.shelf_counted

    def _button(self, shelf: str, copies: int, counted: int) -> ShelfButton:
        button = Factory.ShelfButton(shelf=shelf, copies=copies, counted=counted)
        button.bind(on_release=lambda b: self.app.touch("shelf", b.shelf))
        return button


load_kv(__file__)
