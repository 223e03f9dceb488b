"""A helper finds a student who forgot their card: a class, then the first letters of the
name's pinyin (or characters typed on a keyboard), then the name."""

from __future__ import annotations

from kivy.factory import Factory
from kivy.properties import StringProperty

from kiosk.readmodel import Student
from kiosk.ui.widgets import KioskScreen, load_kv

MAX_QUERY = 8


class FindScreen(KioskScreen):
    class_name = StringProperty("")
    query = StringProperty("")  # first letters of the pinyin ("wz"), or a few characters

    def show(self, class_name: str | None = None) -> None:
        """The class's students in pinyin order, those answering the query; *class_name*
        chooses another class (and starts the search again)."""
        library = self.app.library
        names = library.classes()
        if class_name is not None and class_name != self.class_name:
            self.query = ""
        wanted = class_name or self.class_name
        self.class_name = wanted if wanted in names else (names[0] if names else "")
        everyone = library.find_students(self.class_name) if self.class_name else []
        found = library.find_students(self.class_name, self.query) if self.query else everyone
        self._classes(names)
        self._letters(found)
        self._students(found)

    def type(self, text: str) -> None:
        """Letters (or characters) from the letter buttons or a keyboard."""
        self.query = (self.query + text.strip().lower())[:MAX_QUERY]
        self.show()

    def back(self) -> None:
        self.query = self.query[:-1]
        self.show()

    def wipe(self) -> None:
        self.query = ""
        self.ids.students.clear_widgets()
        self.ids.letters.clear_widgets()

    def _classes(self, names: list[str]) -> None:
        box = self.ids.classes
        box.clear_widgets()
        for name in names:
            button = Factory.ClassButton(text=name, selected=name == self.class_name)
            button.bind(on_release=lambda b: self.show(b.text))
            box.add_widget(button)

    def _letters(self, found: list[Student]) -> None:
        """The letters that lead to someone: the next first letter of the names found."""
        box = self.ids.letters
        box.clear_widgets()
        typed = self.query
        if typed and not (typed.isascii() and typed.isalpha()):
            return  # characters typed on a keyboard: no letters to add to them
        after = {
            s.initials[len(typed)]
            for s in found
            if len(s.initials) > len(typed) and s.initials.startswith(typed)
        }
        for letter in sorted(a for a in after if a.isalpha()):
            button = Factory.LetterButton(text=letter.upper())
            button.bind(on_release=lambda b: self.type(b.text))
            box.add_widget(button)

    def _students(self, found: list[Student]) -> None:
        box = self.ids.students
        box.clear_widgets()
        for student in found:
            # The card number too: two children of a class may have the same name.
            button = Factory.StudentButton(
                text=f"{student.name}\n{student.card}", card=student.card
            )
            button.bind(on_release=lambda b: self.app.touch("open_for", b.card))
            box.add_widget(button)
        self.ids.scroller.scroll_y = 1


load_kv(__file__)
