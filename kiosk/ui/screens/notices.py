"""What shows for a few seconds over the rest: a message, or the receipt as a child leaves."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from kiosk.outcome import LoanLine
from kiosk.ui import messages
from kiosk.ui.i18n import tr
from kiosk.ui.messages import Message, Tone, book
from kiosk.ui.widgets import KioskScreen, load_kv


class MessageScreen(KioskScreen):
    headline = StringProperty("")
    body = StringProperty("")
    hint = StringProperty("")
    icon = StringProperty("")
    tone = StringProperty(Tone.INFO.value)
    can_override = BooleanProperty(False)

    def show(self, message: Message) -> None:
        self.headline, self.body, self.hint = message.headline, message.body, message.hint
        self.icon, self.tone = message.icon, message.tone.value
        self.can_override = message.can_override

    def wipe(self) -> None:
        self.headline = self.body = self.hint = ""
        self.can_override = False


class ReceiptScreen(KioskScreen):
    headline = StringProperty("")
    summary = StringProperty("")

    def show(self, name: str, taken: tuple[LoanLine, ...]) -> None:
        self.headline = tr._("Goodbye, {name}!").format(name=name)
        if not taken:
            self.summary = tr._("You did not take a book this time. See you soon!")
            return
        lines = [
            tr._("{book}: bring it back by {due}").format(
                book=book(t.title), due=messages.day(t.due)
            )
            for t in taken
        ]
        self.summary = "\n".join(
            [
                tr.n_("You took {n} book:", "You took {n} books:", len(taken)).format(n=len(taken)),
                *lines,
                tr._("Happy reading!"),
            ]
        )

    def wipe(self) -> None:
        self.headline = self.summary = ""


load_kv(__file__)
