"""Card numbers for students who have none: made by the school's rule, never given twice.

The rule is the librarian's choice: a prefix, the year and a sequence ("S2026" + "0001"), or
the student's registry number (学籍号). The sequence of each prefix and year only grows (kept
in server_settings), and a number any card, book or ISBN already has is passed over, so a
number once given is never given again, even after its student is gone.
"""

from __future__ import annotations

import json
import string
from dataclasses import asdict, dataclass

from sqlalchemy.orm import Session

from kiosk.codes import GarbledCode, clean, code_key
from kiosk.importer import known_codes
from sync.server.models import Copy, Patron, Setting, Title
from sync.server.services import N_, Refusal

RULE = "card_rule"  # server_settings: the rule, as JSON
SEQUENCE = "sequence"
STUDENT_NUMBER = "student_number"
RULES = {
    SEQUENCE: N_("Prefix, year and a sequence number"),
    STUDENT_NUMBER: N_("The student number (学籍号)"),
}


@dataclass(frozen=True)
class CardRule:
    rule: str = SEQUENCE
    prefix: str = "S"
    digits: int = 4

    def example(self, year: int) -> str:
        return f"{self.prefix}{year}{1:0{self.digits}d}"


def card_rule(session: Session) -> CardRule:
    row = session.get(Setting, RULE)
    return CardRule(**json.loads(row.value)) if row is not None else CardRule()


def set_card_rule(session: Session, rule: str, prefix: str, digits: int) -> CardRule:
    if rule not in RULES:
        raise Refusal(N_("{rule} is not a rule for card numbers."), rule=rule)
    prefix = code_key(prefix.strip())
    if len(prefix) > 8 or any(ch not in string.ascii_uppercase + string.digits for ch in prefix):
        raise Refusal(N_("A prefix is up to 8 letters or digits (A-Z, 0-9)."))
    if not 3 <= digits <= 8:
        raise Refusal(N_("A sequence number has 3 to 8 digits."))
    chosen = CardRule(rule, prefix, digits)
    row = session.get(Setting, RULE) or Setting(key=RULE)
    row.value = json.dumps(asdict(chosen))
    session.add(row)
    return chosen


class CardMaker:
    """Hands out new card numbers for one import; ``keep()`` records the sequence used."""

    def __init__(self, session: Session, year: int) -> None:
        self.session = session
        self.rule = card_rule(session)
        self.stem = f"{self.rule.prefix}{year}"
        self._counter_key = f"card_sequence:{self.stem}"
        counter = session.get(Setting, self._counter_key)
        self.last = int(counter.value) if counter is not None else 0
        self._taken = {code_key(code) for _kind, code in known_codes(session, Patron, Copy, Title)}

    def take(self, code: str) -> None:
        """A card the file itself gives (not to be made for another row)."""
        self._taken.add(code_key(code))

    def new(self, student_number: str = "") -> str:
        if self.rule.rule == STUDENT_NUMBER and student_number:
            try:
                card = clean(student_number)
            except GarbledCode:
                card = ""
            if card and code_key(card) not in self._taken:
                self._taken.add(code_key(card))
                return card
        while True:
            self.last += 1
            card = f"{self.stem}{self.last:0{self.rule.digits}d}"
            if code_key(card) not in self._taken:
                self._taken.add(code_key(card))
                return card

    def keep(self) -> None:
        """Record the sequence reached: its numbers are never made again."""
        row = self.session.get(Setting, self._counter_key) or Setting(key=self._counter_key)
        row.value = str(self.last)
        self.session.add(row)
