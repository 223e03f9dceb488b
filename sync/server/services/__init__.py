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


class Refusal(Exception):
    """The office will not do what was asked; the message says why and what to do.

    Raised before anything is changed (or the caller's transaction is rolled back).
    """


class NotFound(Refusal):
    """No such kiosk, copy or card."""


class NotIdentified(Refusal):
    """A kiosk without a token, or with a token this office does not know."""


class NotAllowed(Refusal):
    """Known, but not allowed: a revoked kiosk, a used or expired enrolment code."""


class Contradiction(Refusal):
    """The request contradicts what the office holds (a sequence number reused)."""
