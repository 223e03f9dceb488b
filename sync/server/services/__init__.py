"""What the office does, as plain functions over a database session: no HTTP, no HTML.

The command line (sync/server/cli.py), the kiosks' API (sync/server/api) and the librarian's
pages (sync/server/web) all call these, so a change made anywhere is written to the change log
that kiosks pull (services.changes) in the same transaction. The caller opens the transaction
(``Database.write()`` or ``read()``); a service never commits.

Services answer with dataclasses (or the wire models a kiosk receives) and say no by raising a
:class:`Refusal`, whose message tells the librarian or the kiosk what to do. Each adapter turns
a refusal into its own form: an exit status, an HTTP status, a message on a page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


def N_(message: str) -> str:
    """Mark *message* for the pages' catalogues; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class Sentence:
    """Words a service says to the librarian (a conflict explained, an action described),
    written ``Sentence(N_("... {name} ..."), {"name": value})``: the command line shows them
    in English, a page in the librarian's language."""

    message: str
    values: dict[str, object] = field(default_factory=dict)

    def say(self, gettext: Callable[[str], str]) -> str:
        """The sentence in the language of *gettext* (a sentence within it too)."""
        values = {
            key: value.say(gettext) if isinstance(value, Sentence) else value
            for key, value in self.values.items()
        }
        return gettext(self.message).format(**values)

    def __str__(self) -> str:
        return self.say(str)


class Refusal(Exception):
    """The office will not do what was asked; the message says why and what to do.

    Raised before anything is changed (or the caller's transaction is rolled back). A message
    meant for the pages too is written ``Refusal(N_("... {name} ..."), name=value)``: the
    command line shows it in English, a page in the librarian's language.
    """

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message.format(**values) if values else message)
        self.message = message
        self.values = values

    def say(self, gettext: Callable[[str], str]) -> str:
        """The message in the language of *gettext*."""
        text = gettext(self.message)
        return text.format(**self.values) if self.values else text


class NotFound(Refusal):
    """No such kiosk, copy or card."""


class NotIdentified(Refusal):
    """A kiosk without a token, or with a token this office does not know."""


class NotAllowed(Refusal):
    """Known, but not allowed: a revoked kiosk, a used or expired enrolment code."""


class Contradiction(Refusal):
    """The request contradicts what the office holds (a sequence number reused)."""
