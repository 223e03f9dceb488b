"""While nobody is at the kiosk: "scan your card" with the library's news, or "closed"."""

from __future__ import annotations

import datetime as dt

from kivy.factory import Factory
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui import messages
from kiosk.ui.i18n import tr
from kiosk.ui.messages import book
from kiosk.ui.widgets import KioskScreen, load_kv

PANEL_LINES = 5


class LeagueLine(BoxLayout):
    text = StringProperty("")
    share = NumericProperty(0.0)  # of the class's students who borrowed this week


class IdleScreen(KioskScreen):
    def show(
        self,
        arrivals: list[str],
        popular: list[tuple[str, int]],
        league: list[tuple[str, int, int]],
    ) -> None:
        """New books (titles), this month's favourites (title, loans) and, for each class, how
        many have borrowed this week (class, borrowed, students; the school's target:
        everyone, every week)."""
        self._lines("new", [book(title) for title in arrivals], tr._("Nothing yet"))
        self._lines(
            "popular",
            [
                tr.n_("{book} {n} time", "{book} {n} times", loans).format(
                    book=book(title), n=loans
                )
                for title, loans in popular
            ],
            tr._("Nothing yet"),
        )
        box = self.ids.league
        box.clear_widgets()
        for class_name, borrowed, students in league[:PANEL_LINES]:
            words = (
                tr._("{name}: all {students} borrowed ★")
                if borrowed >= students
                else tr._("{name}: {borrowed} of {students} borrowed")
            ).format(name=class_name, borrowed=borrowed, students=students)
            box.add_widget(LeagueLine(text=words, share=borrowed / students if students else 0.0))
        if not league:
            box.add_widget(Factory.PanelLine(text=tr._("Nobody yet this week")))

    def _lines(self, box: str, lines: list[str], empty: str) -> None:
        self.ids[box].clear_widgets()
        for line in lines[:PANEL_LINES] or [empty]:
            self.ids[box].add_widget(Factory.PanelLine(text=line))


class ClosedScreen(KioskScreen):
    opening = StringProperty("")

    def show(
        self, next_opening: dt.datetime | None, grades: frozenset[int] | None, now: dt.datetime
    ) -> None:
        """When the library opens next, for whom (*grades*; None: everyone; *now*: local time)."""
        if next_opening is None:
            self.opening = tr._("No opening times are set yet.")
        else:
            self.opening = tr._("It opens again {when}, for {grades}.").format(
                when=messages.when(next_opening, now), grades=messages.grades(grades)
            )


load_kv(__file__)
