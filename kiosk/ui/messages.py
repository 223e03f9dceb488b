"""What the screen says for an outcome: friendly, specific words for every answer of the engine.

A refusal says why in words an 8-year-old understands and what to do next; it never shows the
engine's reason code alone. Every string goes through the translator.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from kiosk.outcome import Kind, Light, Outcome
from kiosk.ui.i18n import tr

GARBLED = {"empty", "too_long", "control_characters", "garbled"}


class Tone(StrEnum):
    """The colour of a message; the same as the status light shows."""

    GOOD = "good"  # green
    BAD = "bad"  # red
    WAIT = "wait"  # amber
    INFO = "info"  # blue: neither good nor bad


TONE_OF_LIGHT = {
    Light.READY: Tone.GOOD,
    Light.SUCCESS: Tone.GOOD,
    Light.REFUSED: Tone.BAD,
    Light.FAULT: Tone.BAD,
    Light.CLOSED: Tone.WAIT,
    Light.WAITING_TO_SYNC: Tone.WAIT,
    Light.HELP: Tone.WAIT,
}
ICONS = {Tone.GOOD: "✔", Tone.BAD: "✘", Tone.WAIT: "★", Tone.INFO: "★"}


@dataclass(frozen=True)
class Message:
    headline: str
    body: str = ""
    hint: str = ""
    tone: Tone = Tone.BAD
    seconds: float = 5.0  # shown this long, then the screen goes back by itself

    @property
    def icon(self) -> str:
        return ICONS[self.tone]


def short_day(date: dt.date) -> str:
    """A date in a list: "12月8日" or "8 Dec"."""
    # TRANSLATORS: a short date; {month} is a short month name below.
    return tr._("{day} {month}").format(day=date.day, month=_months()[date.month - 1])


def _months() -> list[str]:
    return [
        tr._("Jan"),
        tr._("Feb"),
        tr._("Mar"),
        tr._("Apr"),
        tr._("May"),
        tr._("Jun"),
        tr._("Jul"),
        tr._("Aug"),
        tr._("Sep"),
        tr._("Oct"),
        tr._("Nov"),
        tr._("Dec"),
    ]


def day(date: dt.date | None) -> str:
    """A date as a child reads it: "11月24日 星期二" or "Tue 24 Nov"."""
    if date is None:
        return ""
    weekdays = [
        tr._("Mon"),
        tr._("Tue"),
        tr._("Wed"),
        tr._("Thu"),
        tr._("Fri"),
        tr._("Sat"),
        tr._("Sun"),
    ]
    # TRANSLATORS: a date; {weekday} and {month} are the short names above.
    return tr._("{weekday} {day} {month}").format(
        weekday=weekdays[date.weekday()], day=date.day, month=_months()[date.month - 1]
    )


def titles(names: object) -> str:
    if isinstance(names, (list, tuple)):
        return tr._(", ").join(f"《{n}》" for n in names)
    return ""


def days_late(n: int) -> str:
    return tr.n_("{n} day late", "{n} days late", n).format(n=n)


def grades(numbers: frozenset[int] | None) -> str:
    if not numbers:
        return tr._("every grade")
    listed = tr._(", ").join(str(g) for g in sorted(numbers))
    return tr.n_("grade {grades}", "grades {grades}", len(numbers)).format(grades=listed)


def refusal(outcome: Outcome) -> Message:
    """The message for a refusal or an unknown code (kinds REFUSED and UNKNOWN_CODE)."""
    reason = outcome.reason or ""
    detail = outcome.detail
    book = f"《{outcome.title}》" if outcome.title else tr._("This book")
    match reason:
        case "limit_reached":
            return Message(
                tr._("You have enough books for now"),
                tr.n_(
                    "You may borrow {n} book at a time.",
                    "You may borrow {n} books at a time.",
                    int(str(detail.get("max_loans", 0))),
                ).format(n=detail.get("max_loans", "")),
                tr._("Bring one back, then you can take this one."),
            )
        case "overdue_block":
            return Message(
                tr._("Please bring back a late book first"),
                tr._("{books} should have come back already.").format(
                    books=titles(detail.get("titles"))
                ),
                tr._("Return it, then you can borrow again."),
            )
        case "lost_block":
            return Message(
                tr._("A book of yours is missing"),
                tr._("{books} is marked as lost.").format(books=titles(detail.get("titles"))),
                tr._("Please talk to the librarian."),
            )
        case "not_your_grade_today":
            return Message(
                tr._("It is not your grade's turn now"),
                tr._("Look at the timetable for your class's library time."),
                tr._("You can always return books."),
            )
        case "closed":
            return Message(
                tr._("The library is closed now"),
                tr._("You can borrow when the library is open."),
                tr._("You can always return books: just scan them."),
                tone=Tone.WAIT,
            )
        case "not_for_loan":
            status = str(detail.get("status", ""))
            if status == "reference":
                return Message(
                    tr._("This book stays in the library"),
                    tr._("{book} is for reading here.").format(book=book),
                    tr._("Please put it back on its shelf."),
                )
            if status in ("damaged", "in_repair"):
                return Message(
                    tr._("This book needs to be mended"),
                    tr._("{book} cannot be borrowed until it is repaired.").format(book=book),
                    tr._("Please give it to a small librarian."),
                )
            return Message(
                tr._("This book cannot be borrowed"),
                tr._("{book} is not on the library's shelves any more.").format(book=book),
                tr._("Please give it to a small librarian."),
            )
        case "not_on_loan":
            return Message(
                tr._("Nobody has borrowed this book"),
                tr._("{book} is already in the library.").format(book=book),
                tr._("To borrow it, scan your library card first."),
                tone=Tone.INFO,
            )
        case "scan_card_first":
            return Message(
                tr._("Please scan your library card first"),
                tr._("Then scan the book you want to borrow."),
                tone=Tone.INFO,
            )
        case "use_library_label":
            return Message(
                tr._("Please scan the library sticker"),
                tr._("{book} has its own library barcode sticker.").format(book=book),
                tr._("Scan that one, not the one on the back cover."),
                tone=Tone.INFO,
            )
        case "max_renewals":
            return Message(
                tr._("This book cannot be renewed again"),
                tr._("{book} is due on {due}.").format(book=book, due=day(outcome.due)),
                tr._("Please bring it back by then."),
            )
        case "nothing_to_undo":
            return Message(
                tr._("There is nothing to take back"),
                tr._("Only the last book can be taken back, right after scanning it."),
                tone=Tone.INFO,
                seconds=3,
            )
        case "nothing_to_answer" | "supervisor_only" | "unknown_touch":
            return Message(
                tr._("That button does nothing now"),
                tr._("Scan your library card to start."),
                tone=Tone.INFO,
                seconds=3,
            )
        case "wrong_pin":
            left = int(str(detail.get("attempts_left", 0)))
            return Message(
                tr._("Wrong PIN"),
                tr.n_("{n} try left.", "{n} tries left.", left).format(n=left),
                tr._("Type your PIN again."),
                seconds=3,
            )
        case "card_locked":
            return Message(
                tr._("This card is locked for a few minutes"),
                tr._("The PIN was wrong too many times."),
                tr._("Wait a little, or ask the librarian."),
            )
        case "patron_inactive":
            return Message(
                tr._("This card cannot be used"),
                tr._("The card is not active any more."),
                tr._("Please talk to the librarian."),
            )
        case "unknown_card":
            return Message(
                tr._("The kiosk does not know this card"),
                tr._("Maybe the card is new."),
                tr._("Please talk to the librarian."),
            )
        case "unknown_code":
            return Message(
                tr._("The kiosk does not know this code"),
                tr._("Scan your library card, or the library sticker on a book."),
                tr._("If it still does not work, ask a small librarian."),
            )
        case _ if reason in GARBLED:
            return Message(
                tr._("That scan did not work"),
                tr._("Please scan it again, slowly."),
                tone=Tone.INFO,
                seconds=3,
            )
        case _:
            return Message(
                tr._("Sorry, that did not work"),
                tr._("Please try again."),
                tr._("If it happens again, ask a small librarian."),
            )


def session_block(reason: str) -> str:
    """Why a student may look at their loans but not borrow (shown on the session screen)."""
    match reason:
        case "overdue_block":
            return tr._("A book is late: bring it back before borrowing again.")
        case "lost_block":
            return tr._("A book is marked lost: please talk to the librarian.")
        case "closed":
            return tr._("The library is closed now: you can only return books.")
        case "not_your_grade_today":
            return tr._("It is not your grade's turn now: you can only return books.")
        case "patron_inactive":
            return tr._("This card cannot borrow: please talk to the librarian.")
        case _:
            return tr._("You cannot borrow now: please ask a small librarian.")


def returned(outcome: Outcome) -> Message:
    late = outcome.late_days or 0
    return Message(
        tr._("Thank you!"),
        tr._("《{title}》 is back in the library.").format(title=outcome.title),
        tr.n_(
            "{n} day late: please be on time next time.",
            "{n} days late: please be on time next time.",
            late,
        ).format(n=late)
        if late
        else tr._("On time!"),
        tone=Tone.GOOD if not late else Tone.WAIT,
        seconds=4,
    )


def renewed(outcome: Outcome) -> Message:
    return Message(
        tr._("You can keep it longer"),
        tr._("《{title}》 is now due on {due}.").format(title=outcome.title, due=day(outcome.due)),
        tone=Tone.GOOD,
        seconds=4,
    )


def fault(outcome: Outcome) -> Message:
    if outcome.reason == "scanner_unplugged":
        return Message(
            tr._("The scanner is unplugged"),
            tr._("{device} was unplugged.").format(device=outcome.detail.get("device", "")),
            tr._("Please plug it in again, or call the librarian."),
            seconds=15,
        )
    if outcome.reason == "no_scanner":
        return Message(
            tr._("No scanner found"),
            tr._("Plug in the USB scanner."),
            tr._("Please call the librarian."),
            seconds=15,
        )
    return Message(
        tr._("The kiosk has a problem"),
        tr._("Nothing you did is wrong, and your books are safe."),
        tr._("Please call the librarian."),
        seconds=8,
    )


def for_outcome(outcome: Outcome) -> Message | None:
    """A full-screen message for outcomes that show one; None for the others."""
    match outcome.kind:
        case Kind.REFUSED | Kind.UNKNOWN_CODE:
            return refusal(outcome)
        case Kind.RETURNED:
            return returned(outcome)
        case Kind.RENEWED:
            return renewed(outcome)
        case Kind.FAULT:
            return fault(outcome)
    return None
