"""While nobody is at the kiosk: "scan your card" with the library's news, or "closed"."""

from __future__ import annotations

import datetime as dt

from kivy.factory import Factory
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.readmodel import IdlePanels, Opening
from kiosk.ui import messages
from kiosk.ui.i18n import tr
from kiosk.ui.messages import book
from kiosk.ui.widgets import KioskScreen, load_kv

PANEL_LINES = 5


class LeagueLine(BoxLayout):
    text = StringProperty("")
    share = NumericProperty(0.0)  # of the class's students who borrowed this week


class IdleScreen(KioskScreen):
    def show(self, panels: IdlePanels) -> None:
        """New books, this month's favourites and, for each class, how many have borrowed
        this week (the school's target: everyone, every week)."""
        self._lines(
            "new",
            [book(b.title) for b in panels.arrivals],
            tr._("Nothing yet"),
        )
        self._lines(
            "popular",
            [
                tr.n_("{book} {n} time", "{book} {n} times", b.loans).format(
                    book=book(b.title), n=b.loans
                )
                for b in panels.popular
            ],
            tr._("Nothing yet"),
        )
        league = self.ids.league
        league.clear_widgets()
        for standing in panels.league[:PANEL_LINES]:
            words = (
                tr._("{name}: all {students} borrowed ★")
                if standing.borrowed >= standing.students
                else tr._("{name}: {borrowed} of {students} borrowed")
            ).format(
                name=standing.class_name,
                borrowed=standing.borrowed,
                students=standing.students,
            )
            league.add_widget(LeagueLine(text=words, share=standing.share))
        if not panels.league:
            league.add_widget(Factory.PanelLine(text=tr._("Nobody yet this week")))

    def _lines(self, box: str, lines: list[str], empty: str) -> None:
        self.ids[box].clear_widgets()
        for line in lines[:PANEL_LINES] or [empty]:
            self.ids[box].add_widget(Factory.PanelLine(text=line))


class ClosedScreen(KioskScreen):
    opening = StringProperty("")

    def show(self, opening: Opening, now: dt.datetime) -> None:
        """When the library opens next, for whom (*now*: local time)."""
        if opening.next_opening is None:
            self.opening = tr._("No opening times are set yet.")
        else:
            self.opening = tr._("It opens again {when}, for {grades}.").format(
                when=messages.when(opening.next_opening, now),
                grades=messages.grades(opening.next_grades),
            )


load_kv(__file__)
