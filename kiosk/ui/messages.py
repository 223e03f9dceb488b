"""What the screen says: every answer of the engine in words an 8-year-old reads.

Each message says what happened and what to do now, in short sentences: which book, which
day, which button. A refusal never shows the engine's reason code, and a normal situation (all
the books a child may have) is not shown as an error. Every string goes through the
translator; the Chinese is in kiosk/locale, where the whole set is reviewed together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from kiosk.outcome import Kind, Light, Outcome
from kiosk.ui.i18n import tr

GARBLED = {"too_long", "control_characters", "garbled"}


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
    Light.WARNING: Tone.WAIT,
}
ICONS = {Tone.GOOD: "✔", Tone.BAD: "✘", Tone.WAIT: "★", Tone.INFO: "★"}


@dataclass(frozen=True)
class Message:
    headline: str
    body: str = ""
    hint: str = ""
    tone: Tone = Tone.BAD
    seconds: float = 5.0  # shown this long, then the screen goes back by itself
    can_override: bool = False  # a small librarian may lend the refused book anyway

    @property
    def icon(self) -> str:
        return ICONS[self.tone]


# -- books, days and times ---------------------------------------------------------------------


def book(title: str | None) -> str:
    """A book's title inside a sentence or a list: 《小王子》, or "Matilda" in English."""
    # TRANSLATORS: a book's title; Chinese puts it in 《》. (Straight quotes: the Chinese
    # font draws curly ones as wide as a character.)
    return tr._('"{title}"').format(title=title or "")


def books(titles: Iterable[str] | object) -> str:
    """Several titles, as one phrase."""
    if not isinstance(titles, (list, tuple)):
        return tr._("a book")
    return tr._(", ").join(book(t) for t in titles)


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


def _weekdays() -> list[str]:
    return [
        tr._("Mon"),
        tr._("Tue"),
        tr._("Wed"),
        tr._("Thu"),
        tr._("Fri"),
        tr._("Sat"),
        tr._("Sun"),
    ]


def _weekdays_in_full() -> list[str]:
    return [
        tr._("Monday"),
        tr._("Tuesday"),
        tr._("Wednesday"),
        tr._("Thursday"),
        tr._("Friday"),
        tr._("Saturday"),
        tr._("Sunday"),
    ]


def day(date: dt.date | None) -> str:
    """A date as a child reads it: "11月24日 星期二" or "Tue 24 Nov"."""
    if date is None:
        return ""
    # TRANSLATORS: a date; {weekday} and {month} are the short names above.
    return tr._("{weekday} {day} {month}").format(
        weekday=_weekdays()[date.weekday()], day=date.day, month=_months()[date.month - 1]
    )


def when(moment: dt.datetime, now: dt.datetime) -> str:
    """When something happens next, as near as a child counts days: "today at 13:30",
    "tomorrow at 13:30", "on Wednesday at 17:00", or with its date after a week."""
    moment = moment.astimezone(now.tzinfo)
    days = (moment.date() - now.date()).days
    time = f"{moment:%H:%M}"
    if days == 0:
        return tr._("today at {time}").format(time=time)
    if days == 1:
        return tr._("tomorrow at {time}").format(time=time)
    if 1 < days < 7:
        weekday = _weekdays_in_full()[moment.weekday()]
        return tr._("on {weekday} at {time}").format(weekday=weekday, time=time)
    return tr._("on {date} at {time}").format(date=day(moment.date()), time=time)


def days_late(n: int) -> str:
    return tr.n_("{n} day late", "{n} days late", n).format(n=n)


def grades(numbers: frozenset[int] | None) -> str:
    if not numbers:
        return tr._("every grade")
    listed = tr._(", ").join(str(g) for g in sorted(numbers))
    return tr.n_("grade {grades}", "grades {grades}", len(numbers)).format(grades=listed)


def _opens(detail: dict[str, object], now: dt.datetime | None) -> dt.datetime | None:
    opens = detail.get("opens")
    return opens if isinstance(opens, dt.datetime) and now is not None else None


# -- refusals ------------------------------------------------------------------------------------


def refusal(outcome: Outcome, now: dt.datetime | None = None) -> Message:
    """The message for a refusal or an unknown code (kinds REFUSED and UNKNOWN_CODE); *now*
    (local time) to say when the library opens next."""
    reason = outcome.reason or ""
    detail = outcome.detail
    this_book = book(outcome.title) if outcome.title else tr._("This book")
    match reason:
        case "limit_reached":
            n = int(str(detail.get("max_loans", 0)))
            back = detail.get("bring_back")
            return Message(
                tr.n_("You already have {n} book", "You already have {n} books", n).format(n=n),
                (
                    tr._("To borrow {book}, first bring back {back}.").format(
                        book=this_book, back=book(str(back))
                    )
                    if back
                    else tr._("To borrow {book}, first bring a book back.").format(book=this_book)
                ),
                tr._("You may lend it anyway: you are a small librarian.")
                if detail.get("can_override")
                else tr._("For now, put this one back on the shelf."),
                tone=Tone.INFO,
                can_override=bool(detail.get("can_override")),
                seconds=12 if detail.get("can_override") else 6,
            )
        case "overdue_block":
            return Message(
                tr._("Bring back your late book first"),
                tr._("{books} should have come back already.").format(
                    books=books(detail.get("titles"))
                ),
                tr._("Bring it back, then you can borrow again."),
            )
        case "lost_block":
            return Message(
                tr._("One of your books is missing"),
                tr._("The library cannot find {books}.").format(books=books(detail.get("titles"))),
                tr._("Please talk to the librarian."),
            )
        case "compensation_block":
            return Message(
                tr._("Please see the librarian first"),
                tr._("A book you borrowed was lost or damaged, and that is not settled yet."),
                tr._("Once it is settled, you can borrow again."),
            )
        case "not_your_grade_today":
            opens = _opens(detail, now)
            return Message(
                tr._("It is not your grade's turn now"),
                tr._("Your grade's turn: {when}.").format(when=when(opens, now))
                if opens and now
                else tr._("Ask the librarian when your grade's turn is."),
                tr._("You can bring books back at any time."),
                tone=Tone.WAIT,
            )
        case "closed":
            opens = _opens(detail, now)
            return Message(
                tr._("The library is closed now"),
                tr._("You can borrow again {when}.").format(when=when(opens, now))
                if opens and now
                else tr._("You can borrow when the library is open."),
                tr._("You can bring books back at any time: just scan them."),
                tone=Tone.WAIT,
            )
        case "not_for_loan":
            status = str(detail.get("status", ""))
            if status == "reference":
                return Message(
                    tr._("This book stays in the library"),
                    tr._("{book} is for reading here.").format(book=this_book),
                    tr._("Please put it back on its shelf."),
                    tone=Tone.INFO,
                )
            if status in ("damaged", "in_repair"):
                return Message(
                    tr._("This book needs mending"),
                    tr._("{book} can be borrowed again once it is mended.").format(book=this_book),
                    tr._("Please give it to a small librarian."),
                    tone=Tone.INFO,
                )
            return Message(
                tr._("This book cannot be borrowed"),
                tr._("{book} is not one of the library's books now.").format(book=this_book),
                tr._("Please give it to a small librarian."),
            )
        case "not_on_loan":
            return Message(
                tr._("Nobody has borrowed this book"),
                tr._("{book} is already here in the library.").format(book=this_book),
                tr._("To borrow it, scan your library card first."),
                tone=Tone.INFO,
            )
        case "scan_card_first":
            return Message(
                tr._("Scan your library card first"),
                tr._("Then scan the book you want to borrow."),
                tone=Tone.INFO,
            )
        case "use_library_label":
            return Message(
                tr._("Scan the library sticker"),
                tr._("{book} has a library sticker of its own.").format(book=this_book),
                tr._("Scan that one, not the barcode on the back."),
                tone=Tone.INFO,
            )
        case "max_renewals":
            return Message(
                tr._("You cannot keep this book longer"),
                tr._("{book} is due on {due}.").format(book=this_book, due=day(outcome.due)),
                tr._("Please bring it back by then."),
                tone=Tone.INFO,
            )
        case "renew_late":
            return Message(
                tr._("This book is late"),
                tr._("{book} was due on {due}.").format(book=this_book, due=day(outcome.due)),
                tr._("Please bring it back now."),
                tone=Tone.WAIT,
            )
        case "clock_wrong":
            return Message(
                tr._("The kiosk cannot lend books just now"),
                tr._("Its clock is not right, so it cannot tell when books are due."),
                tr._("Please ask a small librarian. You can still bring books back."),
                tone=Tone.WAIT,
            )
        case "renew_not_needed":
            return Message(
                tr._("You can keep it until {due}").format(due=day(outcome.due)),
                tr._("You borrowed {book} only a short while ago.").format(book=this_book),
                tr._("Nearer that day, you can ask to keep it longer."),
                tone=Tone.INFO,
            )
        case "nothing_to_undo":
            return Message(
                tr._("It is too late to take that back"),
                tr._("Only the last book, just after you scan it."),
                tr._("To bring a book back, scan it again."),
                tone=Tone.INFO,
                seconds=4,
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
                tr._("It cannot borrow books any more."),
                tr._("Please talk to the librarian."),
            )
        case "unknown_card":
            return Message(
                tr._("The kiosk does not know this card"),
                tr._("Maybe your card is new."),
                tr._("Please show it to the librarian."),
            )
        case "unknown_code":
            return Message(
                tr._("The kiosk does not know this code"),
                tr._("Scan your library card, or the library sticker on a book."),
                tr._("Still not working? Ask a small librarian."),
            )
        case "no_stocktake":
            return Message(
                tr._("There is no stocktake now"),
                tr._("The librarian starts one at the office."),
                tone=Tone.INFO,
            )
        case "stocktake_closed":
            return Message(
                tr._("The stocktake is over"),
                tr._("The librarian has finished it at the office."),
                tr._("Thank you for counting the books!"),
                tone=Tone.INFO,
            )
        case "choose_shelf_first":
            return Message(
                tr._("Which shelf is it?"),
                tr._("First scan the shelf's label, or touch the shelf on the screen."),
                tr._("Then scan the books on it."),
                tone=Tone.INFO,
            )
        case "shelf_not_in_stocktake":
            return Message(
                tr._("Shelf {shelf} is not counted this time").format(
                    shelf=detail.get("shelf", "")
                ),
                tr._("Choose one of the shelves on the screen."),
                tone=Tone.INFO,
            )
        case "card_not_book":
            return Message(
                tr._("That is a library card"),
                tr._("Scan the books on the shelf, not cards."),
                tone=Tone.INFO,
                seconds=3,
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


def session_block(reason: str, detail: dict[str, object], now: dt.datetime) -> str:
    """Why a student may look at their loans but not borrow (shown on the session screen)."""
    opens = _opens(detail, now)
    match reason:
        case "overdue_block":
            return tr._("A book is late: bring it back, then you can borrow again.")
        case "lost_block":
            return tr._("One of your books is missing: please talk to the librarian.")
        case "compensation_block":
            return tr._("A lost or damaged book is not settled yet: please see the librarian.")
        case "closed" if opens:
            return tr._("The library is closed now. You can borrow again {when}.").format(
                when=when(opens, now)
            )
        case "closed":
            return tr._("The library is closed now: you can only bring books back.")
        case "not_your_grade_today" if opens:
            return tr._("It is not your grade's turn now. Your turn: {when}.").format(
                when=when(opens, now)
            )
        case "not_your_grade_today":
            return tr._("It is not your grade's turn now: you can only bring books back.")
        case "patron_inactive":
            return tr._("This card cannot borrow: please talk to the librarian.")
        case "clock_wrong":
            return tr._("The kiosk clock is not right: you can only bring books back now.")
        case _:
            return tr._("You cannot borrow now: please ask a small librarian.")


# -- good news -------------------------------------------------------------------------------------


def returned(outcome: Outcome) -> Message:
    late = outcome.late_days or 0
    return Message(
        tr._("Thank you!"),
        tr._("{book} is back in the library.").format(book=book(outcome.title)),
        tr.n_(
            "It was {n} day late. Next time, please bring it back on time.",
            "It was {n} days late. Next time, please bring it back on time.",
            late,
        ).format(n=late)
        if late
        else tr._("Right on time!"),
        tone=Tone.GOOD if not late else Tone.WAIT,
        seconds=4,
    )


def renewed(outcome: Outcome) -> Message:
    return Message(
        tr._("You can keep it longer"),
        tr._("Bring {book} back by {due}.").format(book=book(outcome.title), due=day(outcome.due)),
        tone=Tone.GOOD,
        seconds=4,
    )


def counted(outcome: Outcome) -> Message:
    """The word for a book scanned in a stocktake (kind COUNTED): a counted book says little
    (the queue of books moves on); anything to look at says what it is and what to do."""
    this_book = book(outcome.title) if outcome.title else tr._("This book")
    shelf = str(outcome.detail.get("belongs", ""))
    match outcome.reason:
        case "already_counted":
            return Message(
                tr._("Already counted"),
                tr._("{book} was counted before. A book counts once.").format(book=this_book),
                tone=Tone.INFO,
            )
        case "wrong_shelf":
            return Message(
                tr._("This book goes on shelf {shelf}").format(shelf=shelf),
                tr._("{book} is counted. Please take it there.").format(book=this_book),
                tone=Tone.WAIT,
            )
        case "on_loan":
            return Message(
                tr._("This book was lent out"),
                tr._("{book} is here on the shelf, so it is returned now.").format(book=this_book),
                tone=Tone.WAIT,
            )
        case "lost":
            return Message(
                tr._("A lost book is found!"),
                tr._("The library thought {book} was lost. It is counted now.").format(
                    book=this_book
                ),
                tone=Tone.WAIT,
            )
        case "withdrawn":
            return Message(
                tr._("This book left the library"),
                tr._("{book} should not be on a shelf. Please give it to the librarian.").format(
                    book=this_book
                ),
                tone=Tone.WAIT,
            )
        case "unknown_code":
            return Message(
                tr._("The library does not know this code"),
                tr._("{code} is not a library code. Put the book aside for the librarian.").format(
                    code=outcome.copy or ""
                ),
                tone=Tone.WAIT,
            )
        case _:
            return Message(tr._("Counted: {book}").format(book=this_book), tone=Tone.GOOD)


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


def for_outcome(outcome: Outcome, now: dt.datetime | None = None) -> Message | None:
    """A full-screen message for outcomes that show one; None for the others."""
    match outcome.kind:
        case Kind.REFUSED | Kind.UNKNOWN_CODE:
            return refusal(outcome, now)
        case Kind.RETURNED:
            return returned(outcome)
        case Kind.RENEWED:
            return renewed(outcome)
        case Kind.FAULT:
            return fault(outcome)
    return None
