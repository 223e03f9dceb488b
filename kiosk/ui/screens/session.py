"""A student at the kiosk: their books, what they may still borrow, and "return or keep?"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kivy.factory import Factory
from kivy.properties import BooleanProperty, StringProperty

from kiosk.engine import UNDO_SECONDS
from kiosk.outcome import Kind, LoanLine, Outcome
from kiosk.ui import messages
from kiosk.ui.i18n import tr
from kiosk.ui.messages import Tone, book
from kiosk.ui.widgets import KioskScreen, load_kv


class SessionScreen(KioskScreen):
    greeting = StringProperty("")
    class_name = StringProperty("")
    may_borrow = StringProperty("")
    blocked = StringProperty("")
    blocked_tone = StringProperty(Tone.BAD.value)  # a closed library is no one's fault: amber
    prompt = StringProperty("")  # beside the list: what to scan now, or the book just lent
    can_undo = BooleanProperty(False)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.child = ""  # the student's name, for the receipt
        self._loans: list[LoanLine] = []
        self._new: list[str] = []  # copies lent in this session, newest last
        self._lent_at: dt.datetime | None = None
        self._bring_back = ""
        self._last = ""
        # The rows of the list, by copy ("" for "no books at home", which names no one and
        # stays): a row kept keeps its texture, and only what changed is drawn again.
        self._rows: dict[str, Any] = {}
        # Rows emptied when their book or their child left, for the next books: a row made
        # anew is built from its rules, and its texts drawn twice (at Kivy's default size,
        # then at its place in the list), in the frame that shows the book lent.
        self._spare: list[Any] = []

    @property
    def took_books(self) -> bool:
        return bool(self._new)

    def start(self, outcome: Outcome, now: dt.datetime) -> None:
        """A session started or resumed (*now*: local time, to say when the library opens)."""
        if outcome.kind == Kind.SESSION_STARTED:
            self._new, self._lent_at, self._last = [], None, ""
        self.child = outcome.name or ""
        self.greeting = tr._("Hello, {name}!").format(name=self.child)
        self.class_name = (
            tr._("Class {name}").format(name=outcome.class_name) if outcome.class_name else ""
        )
        blocked = str(outcome.detail.get("blocked") or "")
        self.blocked = messages.session_block(blocked, outcome.detail, now) if blocked else ""
        waiting = blocked in ("closed", "not_your_grade_today")
        self.blocked_tone = (Tone.WAIT if waiting else Tone.BAD).value
        back = outcome.detail.get("bring_back")
        self._bring_back = (
            tr._("To borrow a new book, first bring back {book}: scan it here.").format(
                book=book(str(back))
            )
            if back and not blocked
            else ""
        )
        self._loans = list(outcome.loans)
        self._may_borrow(outcome.may_borrow)
        self._render()

    def lent(self, outcome: Outcome, at: dt.datetime) -> None:
        assert outcome.copy is not None and outcome.due is not None
        line = LoanLine(outcome.copy, outcome.title or "", outcome.due, 0)
        self._loans = [x for x in self._loans if x.copy != line.copy] + [line]
        self._new.append(line.copy)
        self._lent_at = at
        self.can_undo = True
        self._last = "\n".join(
            [book(line.title), tr._("Bring it back by {due}").format(due=messages.day(line.due))]
        )
        self._may_borrow(outcome.may_borrow)
        self._render()

    def loan_changed(self, outcome: Outcome) -> None:
        """A book of theirs came back, or is theirs for longer."""
        if outcome.kind == Kind.RETURNED:
            self._loans = [x for x in self._loans if x.copy != outcome.copy]
        elif outcome.due is not None:
            self._loans = [
                LoanLine(x.copy, x.title, outcome.due, 0) if x.copy == outcome.copy else x
                for x in self._loans
            ]
        self._render()

    def undone(self, outcome: Outcome) -> None:
        """ "Not this book": the last loan was taken back."""
        self._loans = [x for x in self._loans if x.copy != outcome.copy]
        self._new = [c for c in self._new if c != outcome.copy]
        self._lent_at = None
        self.can_undo = False
        self._last = tr._("{book} is not borrowed after all.").format(book=book(outcome.title))
        self._may_borrow(outcome.may_borrow)
        self._render()

    def tick(self, now: dt.datetime) -> None:
        self.can_undo = bool(self._lent_at and (now - self._lent_at).total_seconds() < UNDO_SECONDS)

    def wipe(self) -> None:
        self.child = ""
        self._loans, self._new, self._lent_at = [], [], None
        self._bring_back = self._last = ""
        self.greeting = self.class_name = self.may_borrow = self.blocked = self.prompt = ""
        self.can_undo = False
        self.ids.loans.clear_widgets()
        self._keep_rows([])

    def _may_borrow(self, n: int | None) -> None:
        if self.blocked or n is None:
            self.may_borrow = ""
        elif n == 0:
            self.may_borrow = tr._("You have all the books you may take.")
        else:
            self.may_borrow = tr.n_(
                "You may take {n} more book.", "You may take {n} more books.", n
            ).format(n=n)

    def _render(self) -> None:
        if self._last:
            self.prompt = self._last
        elif self.blocked:
            self.prompt = tr._("To bring a book back, scan it here.")
        else:
            self.prompt = self._bring_back or tr._("Now scan a book to borrow it.")
        rows = []
        if not self._loans:
            rows.append(self._row("", Factory.Row, text=tr._("You have no library books at home.")))
        new = [x for x in self._loans if x.copy in self._new]
        old = [x for x in self._loans if x.copy not in self._new]
        for loan in [*reversed(new), *old]:
            if loan.overdue_days:
                due = "✘ " + messages.days_late(loan.overdue_days)
                tone = Tone.BAD
            else:
                due = tr._("due {due}").format(due=messages.short_day(loan.due))
                tone = Tone.GOOD if loan.copy in self._new else Tone.INFO
            mark = "✔ " if loan.copy in self._new else ""
            rows.append(
                self._row(
                    loan.copy, Factory.LoanRow, title=mark + book(loan.title), due=due, tone=tone
                )
            )
        box = self.ids.loans
        if list(reversed(box.children)) != rows:
            box.clear_widgets()
            for row in rows:
                box.add_widget(row)
        self._keep_rows(rows)

    def _keep_rows(self, shown: list[Any]) -> None:
        """Keep the rows *shown* and "no books at home"; empty the others for later books."""
        for key, row in self._rows.items():
            if key and row not in shown:
                row.title = row.due = ""  # nothing of a book or a child stays on a spare row
                self._spare.append(row)
        self._rows = {key: row for key, row in self._rows.items() if key == "" or row in shown}

    def _row(self, key: str, make: Any, **shown: str) -> Any:
        """The row for *key*, kept, or a spare one, or made; a property set to what it was
        draws nothing."""
        row = self._rows.get(key)
        if row is None:
            spare = self._spare if make is Factory.LoanRow else []
            row = self._rows[key] = spare.pop() if spare else make(**shown)
        for name, value in shown.items():
            setattr(row, name, value)
        return row


class ChoiceScreen(KioskScreen):
    title = StringProperty("")
    due = StringProperty("")
    late = StringProperty("")
    no_renew = StringProperty("")  # why keeping it longer is not offered

    def ask(self, outcome: Outcome) -> None:
        """The student scanned a book they have: bring it back, or keep it longer?"""
        self.title = book(outcome.title)
        self.due = messages.day(outcome.due)
        self.late = messages.days_late(outcome.late_days) if outcome.late_days else ""
        match outcome.detail.get("no_renew"):
            case None:
                self.no_renew = ""
            case "renew_late":
                self.no_renew = tr._("It is late: please bring it back.")
            case "renew_not_needed":
                self.no_renew = tr._("You can keep it until {due}.").format(due=self.due)
            case _:
                self.no_renew = tr._(
                    "You cannot keep it longer: please bring it back by {due}."
                ).format(due=self.due)

    def wipe(self) -> None:
        self.title = self.due = self.late = self.no_renew = ""


load_kv(__file__)
