"""The kiosk's state machine: scanned codes, touches and time in; outcomes out.

It knows nothing of screens, scanners, lights or networks. The UI, the headless mode and the
hardware adapters feed it and show what it answers, so all of them run the same code.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import attrgetter
from typing import ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk import outbox, rules, stocktake
from kiosk.clock import Moment, confirm, judge, latest_seen, utc_now
from kiosk.codes import GarbledCode, clean, is_isbn13, shelf_of_label
from kiosk.config import KioskSettings
from kiosk.models import CopyStatus, Patron, PatronKind, Policy
from kiosk.outcome import Kind, Light, LoanLine, Outcome, Role, Sound, State
from kiosk.pins import check_pin
from kiosk.rules import CopyFacts, OpenLoan, PatronFacts, PolicyFacts, Refused
from kiosk.schedule import Schedule
from kiosk.settings import CHANGED, CLOCK_OFFSET, ENROLLED
from kiosk.stocktake import StocktakeFacts
from kiosk.store import Store, StoreError, Transaction, all_settings, generation
from sync import wire

UNDO_SECONDS = 10
PIN_TIMEOUT_SECONDS = 30
CLOCK_FAULTS = {
    "backwards": "the kiosk clock is earlier than a time it has seen",
    "wrong": "the kiosk clock is far ahead (of the office's, or the last time seen): no loans until"
    " a small librarian confirms the date and time, or the office finds them right",
}
IDLE_LIGHT_CHECK_SECONDS = 10
PAUSE_SECONDS = 2  # nothing scanned or touched for this long: a pause (_checkpoint_in_a_pause)


SUPERVISOR_STATES = {
    State.SUPERVISOR,
    State.BATCH_RETURN,
    State.MARK_DAMAGED,
    State.MARK_LOST,
    State.STOCKTAKE,
}


def _supervisor_mode(state: State) -> Callable[[Kiosk, str | None], list[Outcome]]:
    """A touch that switches the supervisor menu to one of its scanning modes."""

    def enter(kiosk: Kiosk, _arg: str | None) -> list[Outcome]:
        if kiosk.state not in SUPERVISOR_STATES:
            return [kiosk._refusal(Kind.REFUSED, "supervisor_only")]
        kiosk.state = state
        return [
            Outcome(
                Kind.SUPERVISOR,
                light=Light.READY,
                reason=state.value,
                patron=kiosk._supervisor_card,
            )
        ]

    return enter


def _greeting(kind: Kind, blocked: object) -> tuple[Light, Sound]:
    """How a card is greeted: the success light and beep only when its holder may borrow now;
    a closed library (or not this grade's time) stays amber, a blocked card shows red."""
    started = kind == Kind.SESSION_STARTED
    if blocked in ("closed", "not_your_grade_today"):
        return Light.CLOSED, Sound.LOW_BEEP if started else Sound.NONE
    if not started:
        return Light.READY, Sound.NONE
    return (Light.REFUSED, Sound.LOW_BEEP) if blocked else (Light.SUCCESS, Sound.BEEP)


@dataclass
class _Visit:
    """What the engine remembers of the person at the kiosk, and only while they are there."""

    patron_id: int
    card: str
    helper_card: str | None = None  # a small librarian opened this session for the student
    taken: list[LoanLine] = field(default_factory=list)
    last_loan: str | None = None
    last_loan_at: dt.datetime | None = None
    choice_copy_id: int | None = None
    # A book has been scanned, or nothing more may be borrowed: from now on the session ends
    # after the short walk-away spell instead of the longer wait for a first book.
    walking: bool = False
    over_limit_copy_id: int | None = None  # refused at the limit; a helper may lend it anyway

    def saved(self) -> _Visit:
        """A copy to go back to (Kiosk._memory): its own list of books taken."""
        twin = object.__new__(_Visit)
        twin.__dict__.update(self.__dict__)
        twin.taken = list(self.taken)
        return twin


@dataclass
class _Known:
    """What does not change between scans, kept in memory: read again once a committed
    transaction changed it (kiosk.toml, the office's rules, a sync: kiosk.store.changed).
    Only ``latest`` moves, as each committed scan's time becomes the latest seen."""

    generation: int
    schedule: Schedule
    policies: dict[PatronKind, PolicyFacts]
    enrolled: bool
    ahead: float  # seconds the clock was ahead of the office's at the last sync
    latest: dt.datetime | None  # the latest time seen (kiosk.clock)
    token: str | None  # the file's settings.CHANGED when read: another program's change shows
    stocktake: StocktakeFacts | None  # the stocktake going on (a sync starts or closes it)

    @classmethod
    def load(cls, db: Session) -> _Known:
        number = generation()  # before reading: a change committed meanwhile reads again
        settings = all_settings(db)
        offset = settings.get(CLOCK_OFFSET)
        policies = {p.patron_kind: PolicyFacts.of(p) for p in db.scalars(select(Policy))}
        return cls(
            number,
            Schedule.load(db),
            policies,
            enrolled=settings.get(ENROLLED) is not None,
            ahead=-float(offset) if offset else 0.0,
            latest=latest_seen(db),
            token=settings.get(CHANGED),
            stocktake=stocktake.open_stocktake(db),
        )


class Kiosk:
    """One kiosk: feed it with :meth:`scan`, :meth:`touch` and :meth:`tick`.

    Each call returns the outcomes to show, in order (a new card during a session gives
    the end of the old session and the start of the new one). Calls may come from any
    thread; they are handled one at a time.
    """

    def __init__(
        self,
        store: Store,
        settings: KioskSettings | None = None,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        tz: ZoneInfo | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or KioskSettings()
        self.clock = clock
        self.tz = tz or self.settings.zone()
        self.state = State.IDLE
        self._visit: _Visit | None = None
        self._supervisor_card: str | None = None
        self._pin_card: str | None = None
        self._last_action_at: dt.datetime | None = None
        self._choice_at: dt.datetime | None = None
        self._last_code: tuple[str, dt.datetime] | None = None
        self._clock_said = "ok"  # what the kiosk said last of its clock (kiosk.clock)
        self._clock_seen = "ok"
        self._idle_seen: Light | None = None  # the idle light last shown
        self._idle_checked_at: dt.datetime | None = None
        self._written = False  # since the last checkpoint (Store.checkpoint)
        # The stocktake: the shelf being counted, and how many copies this kiosk has counted
        # there and in all (the running counts on the screen).
        self._shelf: str | None = None
        self._on_shelf = 0
        self._counted = 0
        self._lock = threading.RLock()
        self._known: _Known | None = None

    # -- public API ----------------------------------------------------------------------

    @property
    def patron_card(self) -> str | None:
        return self._visit.card if self._visit else None

    @property
    def clock_state(self) -> str:
        """How far the clock can be trusted: "ok", "backwards" (earlier than a time already
        seen) or "wrong" (not lent by until the office or a supervisor finds it right)."""
        return self._clock_said

    def scan(self, raw: str, role: Role = "any") -> list[Outcome]:
        """A code from a scanner or card reader; *role* is the device's (cards, books, any)."""
        with self._lock:
            now = self.clock()
            try:
                code = clean(raw)
            except GarbledCode as exc:
                if exc.reason == "empty":  # a stray Enter is not a failed scan
                    return [Outcome(Kind.IGNORED, reason="empty")]
                return [self._refusal(Kind.UNKNOWN_CODE, exc.reason)]
            if self._is_repeat(code, now):
                return [Outcome(Kind.IGNORED, reason="repeat_scan")]
            return self._guarded(lambda: self._on_scan(code, role, now))

    def touch(self, action: str, arg: str | None = None) -> list[Outcome]:
        """A touch on the screen (or a button): done, return, renew, cancel, undo, keep, ...

        Supervisor actions: ``pin`` (arg: the PIN), ``borrow`` (a small librarian borrows for
        themselves instead), ``open_for`` (arg: a student's card, for a forgotten card),
        ``override`` (in a session a helper opened: lend the book just refused at the limit),
        ``batch_return``, ``mark_damaged``, ``mark_lost``, ``clock_ok`` (the date and time
        shown are right), ``stocktake`` (count the shelves of the stocktake the office
        started), ``shelf`` (arg: the shelf counted now), ``leave``.
        """
        with self._lock:
            self._last_action_at = self.clock()
            handler = self._touches.get(action)
            if handler is None:
                return [self._refusal(Kind.REFUSED, "unknown_touch", touch=action)]
            return self._guarded(lambda: handler(self, arg))

    def tick(self) -> list[Outcome]:
        """Let time pass: sessions, questions and menus left alone too long end."""
        with self._lock:
            return self._guarded(self._on_tick)

    def seconds_left(self) -> float | None:
        """Seconds until the current session or menu ends by itself (for a countdown)."""
        with self._lock:
            limit = self._timeout()
            if limit is None or self._last_action_at is None:
                return None
            elapsed = (self.clock() - self._last_action_at).total_seconds()
            return max(0.0, limit - elapsed)

    def shutdown(self) -> list[Outcome]:
        """End whatever is open, as at the end of input or when the kiosk is switched off."""
        with self._lock:
            return self._guarded(lambda: self._end_all("shutdown"))

    def idle_light(self) -> Light:
        """Green when the library is open now, amber when it is closed, amber blinking
        when an enrolled kiosk's events have waited too long to reach the office. The light
        returned is taken as shown: a change from it is reported by :meth:`tick`."""
        with self._lock, self.store.transaction(write=False) as tx:
            # While idle (every few seconds), changes made by another program are looked for.
            self._remember(tx, from_disk=True)
            self._idle_seen = self._idle_light_now(tx, self._moment(tx))
            return self._idle_seen

    # -- dispatch ------------------------------------------------------------------------

    def _guarded(self, action: Callable[[], list[Outcome]]) -> list[Outcome]:
        memory = self._memory()
        try:
            outcomes = action()
        except StoreError as exc:
            # The database kept nothing of this call (a full disk, a lock): neither does the
            # engine, so a receipt never lists a loan that is not on disk.
            visit, remembered = memory
            self._visit = visit
            for name, value in zip(self._REMEMBERED, remembered, strict=True):
                setattr(self, name, value)
            return [
                Outcome(
                    Kind.FAULT,
                    light=Light.FAULT,
                    sound=Sound.LOW_BEEP,
                    reason="database",
                    detail={"message": str(exc)},
                )
            ]
        return self._clock_check() + outcomes

    def _memory(self) -> tuple[_Visit | None, tuple[object, ...]]:
        """What the engine remembers between calls, as it is now: the visit, and the rest
        (_REMEMBERED)."""
        visit = self._visit
        return (visit.saved() if visit else None), self._recall(self)

    _REMEMBERED = (
        "state",
        "_supervisor_card",
        "_pin_card",
        "_last_action_at",
        "_choice_at",
        "_last_code",
        "_idle_seen",
        "_shelf",
        "_on_shelf",
        "_counted",
    )
    _recall = staticmethod(attrgetter(*_REMEMBERED))

    def _on_scan(self, code: str, role: Role, now: dt.datetime) -> list[Outcome]:
        self._last_code = (code, now)  # after a fault, the same code again is a new try
        self._last_action_at = now
        with self._transaction() as (tx, moment):
            if self.state == State.STOCKTAKE:
                return self._on_stocktake(tx, moment, code)
            visitor = self._visit.patron_id if self._visit is not None else None
            patron = rules.look_up(tx, code, also=visitor)
            if role == "books":
                patron = None
            if patron is None and role == "cards":
                return [self._refusal(Kind.UNKNOWN_CODE, "unknown_card")]
            if patron is not None:
                return self._on_card(tx, moment, patron)
            return self._on_book(tx, moment, code)

    def _on_card(self, tx: Transaction, moment: Moment, patron: PatronFacts) -> list[Outcome]:
        if self.state in SUPERVISOR_STATES:
            if patron.kind in (PatronKind.STUDENT, PatronKind.TEACHER):
                return self._open_for(tx, moment, patron)
            return [Outcome(Kind.SUPERVISOR, light=Light.READY, patron=self._supervisor_card)]
        if self._visit is not None and self._visit.patron_id == patron.id:
            self.state = State.SESSION
            return [self._session_view(tx, moment, patron, Kind.SESSION_RESUMED)]
        ended = self._end_visit(tx, moment, "next_card") if self._visit else []
        self._pin_card = None
        self.state = State.IDLE
        if patron.kind in (PatronKind.HELPER, PatronKind.LIBRARIAN) and patron.pin_hash:
            if patron.locked_until is not None and patron.locked_until > moment.at:
                return [*ended, self._refusal(Kind.REFUSED, "card_locked", patron=patron.card)]
            self.state = State.PIN
            self._pin_card = patron.card
            return [
                *ended,
                Outcome(Kind.PIN_NEEDED, light=Light.READY, patron=patron.card, name=patron.name),
            ]
        return [*ended, self._start_visit(tx, moment, patron, helper_card=None)]

    def _on_book(self, tx: Transaction, moment: Moment, code: str) -> list[Outcome]:
        copy = rules.find_copy(tx, code)
        if copy is None and is_isbn13(code):
            return self._on_isbn(tx, moment, code)
        if copy is None:
            return [self._refusal(Kind.UNKNOWN_CODE, "unknown_code", copy=code)]
        return self._on_copy(tx, moment, copy)

    def _on_isbn(self, tx: Transaction, moment: Moment, isbn: str) -> list[Outcome]:
        copies = rules.unlabelled_copies(tx, isbn)
        if not copies:
            labelled = rules.title_with_isbn(tx, isbn)
            if labelled is not None:
                return [self._refusal(Kind.REFUSED, "use_library_label", title=labelled)]
            return [self._refusal(Kind.UNKNOWN_CODE, "unknown_code", copy=isbn)]
        loans = {c.id: rules.open_loan(tx, c) for c in copies}
        title = copies[0].title
        if self.state in (State.SESSION, State.CHOICE):
            assert self._visit is not None
            me = self._visit.patron_id
            mine = [c for c in copies if (ln := loans[c.id]) and ln.patron_id == me]
            available = [c for c in copies if c.status == CopyStatus.AVAILABLE]
            elsewhere = sorted(
                (c for c in copies if loans[c.id] and c not in mine),
                key=lambda c: loans[c.id].lent_at,  # type: ignore[union-attr]
            )
            pick = (mine or available or elsewhere or copies)[0]
            return self._on_copy(tx, moment, pick)
        out = [c for c in copies if loans[c.id] is not None]
        if len(out) == 1:
            return self._on_copy(tx, moment, out[0])
        if not out:
            return [self._refusal(Kind.REFUSED, "not_on_loan", copy=isbn, title=title)]
        return [self._refusal(Kind.REFUSED, "scan_card_first", copy=isbn, title=title)]

    def _on_copy(self, tx: Transaction, moment: Moment, copy: CopyFacts) -> list[Outcome]:
        match self.state:
            case State.SESSION | State.CHOICE:
                return self._lend(tx, moment, copy)
            case State.MARK_DAMAGED | State.MARK_LOST:
                status = CopyStatus.DAMAGED if self.state == State.MARK_DAMAGED else CopyStatus.LOST
                assert self._supervisor_card is not None
                rules.mark_copy(tx, moment, copy, status, by=self._supervisor_card)
                return [
                    Outcome(
                        Kind.COPY_MARKED,
                        light=Light.SUCCESS,
                        sound=Sound.BEEP,
                        reason=status.value,
                        copy=copy.code,
                        title=copy.title,
                    )
                ]
            case State.PIN:
                self.state, self._pin_card = State.IDLE, None
                return self._return(tx, moment, copy)
            case State.BATCH_RETURN:
                return self._return(tx, moment, copy, by=self._supervisor_card)
            case _:
                return self._return(tx, moment, copy)

    def _lend(
        self, tx: Transaction, moment: Moment, copy: CopyFacts, *, override: bool = False
    ) -> list[Outcome]:
        visit = self._visit
        assert visit is not None
        patron = rules.patron_of(tx, visit.patron_id)
        if patron is None:  # removed by a sync while the student stood here
            return self._end_all("patron_removed")
        visit.walking = True
        visit.over_limit_copy_id = None
        current = rules.open_loan(tx, copy)
        if current is not None and current.patron_id == patron.id:
            self.state = State.CHOICE
            self._choice_at = moment.at
            visit.choice_copy_id = copy.id
            detail: dict[str, object] = {}
            try:
                rules.check_renew(tx, moment, self._schedule, copy, current)
            except Refused as refusal:
                detail["no_renew"] = refusal.reason
            return [
                Outcome(
                    Kind.CHOICE_NEEDED,
                    light=Light.READY,
                    patron=patron.card,
                    copy=copy.code,
                    title=copy.title,
                    due=current.due_date,
                    reason="already_yours",
                    late_days=rules.overdue_days(current, moment.known_today),
                    detail=detail,
                )
            ]
        self.state = State.SESSION
        try:
            lent = rules.checkout(
                tx,
                moment,
                self._schedule,
                patron,
                copy,
                where=self.settings.name,
                override_by=visit.helper_card if override else None,
            )
        except Refused as refusal:
            detail = dict(refusal.detail)
            if refusal.reason == "limit_reached" and visit.helper_card is not None:
                # Over the limit only when the small librarian says so, on purpose.
                visit.over_limit_copy_id = copy.id
                detail["can_override"] = True
            return [
                self._refusal(
                    Kind.REFUSED,
                    refusal.reason,
                    patron=patron.card,
                    copy=copy.code,
                    title=copy.title,
                    **detail,
                )
            ]
        line = LoanLine(copy.code, copy.title, lent.due_date, 0)
        visit.taken.append(line)
        visit.last_loan, visit.last_loan_at = lent.loan, moment.at
        detail = {}
        if lent.implicitly_returned is not None:
            detail["implicit_return"] = True
        if lent.override_by:
            detail["override_by"] = lent.override_by
        lent_now = Outcome(
            Kind.CHECKED_OUT,
            light=Light.SUCCESS,
            sound=Sound.BEEP,
            patron=patron.card,
            copy=copy.code,
            title=copy.title,
            due=lent.due_date,
            may_borrow=lent.may_borrow,
            detail=detail,
        )
        if lent.may_borrow == 0 and visit.helper_card is None:
            # The last book this child may take: card, book, walk away. The receipt is up
            # before the next child in the queue steps forward.
            return [lent_now, *self._end_visit(tx, moment, "all_taken")]
        return [lent_now]

    def _return(
        self, tx: Transaction, moment: Moment, copy: CopyFacts, *, by: str | None = None
    ) -> list[Outcome]:
        try:
            loan = rules.return_copy(tx, moment, copy, by=by)
        except Refused as refusal:
            return [self._refusal(Kind.REFUSED, refusal.reason, copy=copy.code, title=copy.title)]
        return [self._returned(copy, loan, moment)]

    @staticmethod
    def _returned(copy: CopyFacts, loan: OpenLoan, moment: Moment) -> Outcome:
        return Outcome(
            Kind.RETURNED,
            light=Light.SUCCESS,
            sound=Sound.BEEP,
            copy=copy.code,
            title=copy.title,
            due=loan.due_date,
            late_days=rules.overdue_days(loan, moment.known_today),
        )

    # -- touches ---------------------------------------------------------------------------

    def _touch_done(self, _arg: str | None) -> list[Outcome]:
        if self.state in (State.SESSION, State.CHOICE):
            return self._end_all("done")
        if self.state in SUPERVISOR_STATES - {State.SUPERVISOR}:
            self.state = State.SUPERVISOR
            return [Outcome(Kind.SUPERVISOR, light=Light.READY, patron=self._supervisor_card)]
        return self._end_all("done")

    def _touch_cancel(self, _arg: str | None) -> list[Outcome]:
        if self.state == State.CHOICE:
            return self._leave_choice()
        return self._touch_done(None)

    def _touch_return(self, _arg: str | None) -> list[Outcome]:
        return self._answer_choice(renew=False)

    def _touch_renew(self, _arg: str | None) -> list[Outcome]:
        return self._answer_choice(renew=True)

    def _answer_choice(self, *, renew: bool) -> list[Outcome]:
        if self.state != State.CHOICE or self._visit is None:
            return [self._refusal(Kind.REFUSED, "nothing_to_answer")]
        visit = self._visit
        with self._transaction() as (tx, moment):
            copy = rules.copy_of(tx, visit.choice_copy_id) if visit.choice_copy_id else None
            loan = rules.open_loan(tx, copy) if copy else None
            self.state, visit.choice_copy_id = State.SESSION, None
            if copy is None or loan is None or loan.patron_id != visit.patron_id:
                return [self._refusal(Kind.REFUSED, "not_on_loan")]
            if not renew:
                rules.return_copy(tx, moment, copy)
                visit.taken = [t for t in visit.taken if t.copy != copy.code]
                return [self._returned(copy, loan, moment)]
            try:
                due = rules.renew(tx, moment, self._schedule, copy, loan)
            except Refused as refusal:
                return [
                    self._refusal(
                        Kind.REFUSED,
                        refusal.reason,
                        copy=copy.code,
                        title=copy.title,
                        due=loan.due_date,
                        **refusal.detail,
                    )
                ]
            return [
                Outcome(
                    Kind.RENEWED,
                    light=Light.SUCCESS,
                    sound=Sound.BEEP,
                    patron=visit.card,
                    copy=copy.code,
                    title=copy.title,
                    due=due,
                )
            ]

    def _leave_choice(self) -> list[Outcome]:
        assert self._visit is not None
        self.state, self._visit.choice_copy_id = State.SESSION, None
        with self._transaction() as (tx, moment):
            patron = rules.patron_of(tx, self._visit.patron_id)
            assert patron is not None
            return [self._session_view(tx, moment, patron, Kind.SESSION_RESUMED)]

    def _touch_undo(self, _arg: str | None) -> list[Outcome]:
        visit = self._visit
        now = self.clock()
        if (
            self.state != State.SESSION
            or visit is None
            or visit.last_loan is None
            or visit.last_loan_at is None
            or (now - visit.last_loan_at).total_seconds() > UNDO_SECONDS
        ):
            return [self._refusal(Kind.REFUSED, "nothing_to_undo")]
        with self._transaction() as (tx, moment):
            copy = rules.lent_copy(tx, visit.last_loan)
            loan = rules.open_loan(tx, copy) if copy else None
            if copy is None or loan is None:
                return [self._refusal(Kind.REFUSED, "nothing_to_undo")]
            rules.undo_checkout(tx, moment, copy, loan)
            visit.taken = [t for t in visit.taken if t.copy != copy.code]
            visit.last_loan = visit.last_loan_at = None
            patron = rules.patron_of(tx, visit.patron_id)
            return [
                Outcome(
                    Kind.UNDONE,
                    light=Light.READY,
                    copy=copy.code,
                    title=copy.title,
                    may_borrow=rules.may_borrow(tx, patron) if patron else None,
                )
            ]

    def _touch_keep(self, _arg: str | None) -> list[Outcome]:
        return []  # the touch itself restarted the idle timer

    def _touch_override(self, _arg: str | None) -> list[Outcome]:
        visit = self._visit
        if self.state != State.SESSION or visit is None or visit.over_limit_copy_id is None:
            return [self._refusal(Kind.REFUSED, "nothing_to_answer")]
        with self._transaction() as (tx, moment):
            copy = rules.copy_of(tx, visit.over_limit_copy_id)
            if copy is None:
                return [self._refusal(Kind.REFUSED, "nothing_to_answer")]
            return self._lend(tx, moment, copy, override=True)

    def _touch_pin(self, pin: str | None) -> list[Outcome]:
        if self.state != State.PIN or self._pin_card is None:
            return [self._refusal(Kind.REFUSED, "nothing_to_answer")]
        with self._transaction() as (tx, moment):
            # The ORM's patron: a PIN tried counts against the card, kept on it.
            helper = tx.session.scalar(select(Patron).where(Patron.card == self._pin_card))
            if helper is None or helper.pin_hash is None:
                self.state, self._pin_card = State.IDLE, None
                return [self._refusal(Kind.UNKNOWN_CODE, "unknown_card")]
            if helper.locked_until is not None and helper.locked_until > moment.at:
                self.state, self._pin_card = State.IDLE, None
                return [self._refusal(Kind.REFUSED, "card_locked", patron=helper.card)]
            if pin is not None and check_pin(pin, helper.pin_hash):
                helper.failed_pins = 0
                helper.locked_until = None
                outbox.append(tx, moment, wire.SupervisorOpened, by=helper.card)
                self.state, self._pin_card = State.SUPERVISOR, None
                self._supervisor_card = helper.card
                return [
                    Outcome(
                        Kind.SUPERVISOR, light=Light.READY, patron=helper.card, name=helper.name
                    )
                ]
            helper.failed_pins += 1
            left = self.settings.pin_attempts - helper.failed_pins
            outbox.append(tx, moment, wire.WrongPin, card=helper.card, attempts_left=max(0, left))
            if left > 0:
                return [
                    self._refusal(Kind.REFUSED, "wrong_pin", patron=helper.card, attempts_left=left)
                ]
            helper.failed_pins = 0
            helper.locked_until = moment.at + dt.timedelta(
                minutes=self.settings.pin_lockout_minutes
            )
            outbox.append(tx, moment, wire.CardLocked, card=helper.card)
            self.state, self._pin_card = State.IDLE, None
            return [self._refusal(Kind.REFUSED, "card_locked", patron=helper.card)]

    def _touch_borrow(self, _arg: str | None) -> list[Outcome]:
        if self.state != State.PIN or self._pin_card is None:
            return [self._refusal(Kind.REFUSED, "nothing_to_answer")]
        card, self._pin_card = self._pin_card, None
        self.state = State.IDLE
        with self._transaction() as (tx, moment):
            patron = rules.find_patron(tx, card)
            if patron is None:
                return [self._refusal(Kind.UNKNOWN_CODE, "unknown_card")]
            return [self._start_visit(tx, moment, patron, helper_card=None)]

    def _touch_open_for(self, card: str | None) -> list[Outcome]:
        if self.state not in SUPERVISOR_STATES:
            return [self._refusal(Kind.REFUSED, "supervisor_only")]
        try:
            card = clean(card or "")
        except GarbledCode:
            return [self._refusal(Kind.UNKNOWN_CODE, "unknown_card")]
        with self._transaction() as (tx, moment):
            patron = rules.find_patron(tx, card)
            if patron is None:
                return [self._refusal(Kind.UNKNOWN_CODE, "unknown_card")]
            return self._open_for(tx, moment, patron)

    def _open_for(self, tx: Transaction, moment: Moment, patron: PatronFacts) -> list[Outcome]:
        helper = self._supervisor_card
        self._supervisor_card = None
        outbox.append(tx, moment, wire.SupervisorClosed, by=helper)
        return [self._start_visit(tx, moment, patron, helper_card=helper)]

    def _touch_clock_ok(self, _arg: str | None) -> list[Outcome]:
        """A small librarian says the date and time shown are right."""
        if self.state not in SUPERVISOR_STATES:
            return [self._refusal(Kind.REFUSED, "supervisor_only")]
        with self._transaction() as (tx, moment):
            confirm(tx.session, moment.at)
            self._clock_seen = "ok"
            return [
                Outcome(
                    Kind.SUPERVISOR,
                    light=Light.READY,
                    reason="clock_confirmed",
                    patron=self._supervisor_card,
                )
            ]

    # -- stocktake -----------------------------------------------------------------------

    def _touch_stocktake(self, _arg: str | None) -> list[Outcome]:
        if self.state not in SUPERVISOR_STATES:
            return [self._refusal(Kind.REFUSED, "supervisor_only")]
        with self._transaction() as (tx, _moment):
            current = self._stocktake_now(tx)
            if current is None:
                return [self._refusal(Kind.REFUSED, "no_stocktake")]
            self.state, self._shelf, self._on_shelf = State.STOCKTAKE, None, 0
            self._counted = stocktake.counted(tx, current)
            return [
                Outcome(
                    Kind.SUPERVISOR,
                    light=Light.READY,
                    reason=State.STOCKTAKE.value,
                    patron=self._supervisor_card,
                    detail={"stocktake": current.name, "counted": self._counted},
                )
            ]

    def _touch_shelf(self, name: str | None) -> list[Outcome]:
        if self.state != State.STOCKTAKE:
            return [self._refusal(Kind.REFUSED, "nothing_to_answer")]
        with self._transaction() as (tx, _moment):
            current = self._stocktake_now(tx)
            if current is None:
                return self._stocktake_over()
            return [self._choose_shelf(tx, current, name or "")]

    def _stocktake_now(self, tx: Transaction) -> StocktakeFacts | None:
        """The stocktake going on, from memory: a sync that started or closed it, in this
        program or in another (``kiosk sync``), is seen by the next scan."""
        return self._remember(tx, from_disk=True).stocktake

    def _choose_shelf(self, tx: Transaction, current: StocktakeFacts, name: str) -> Outcome:
        shelf = stocktake.shelf_named(current, name)
        if shelf is None:
            return self._refusal(Kind.REFUSED, "shelf_not_in_stocktake", shelf=name)
        self._shelf, self._on_shelf = shelf, stocktake.counted(tx, current, shelf)
        return Outcome(
            Kind.SHELF_CHOSEN,
            light=Light.READY,
            sound=Sound.TICK,
            reason=shelf,
            detail=self._counts(current),
        )

    def _stocktake_over(self) -> list[Outcome]:
        """The office closed the stocktake (a sync came in): back to the menu."""
        self.state, self._shelf = State.SUPERVISOR, None
        return [self._refusal(Kind.REFUSED, "stocktake_closed")]

    def _counts(self, current: StocktakeFacts) -> dict[str, object]:
        return {
            "shelf": self._shelf,
            "on_shelf": self._on_shelf,
            "shelf_copies": stocktake.copies_on(current, self._shelf or ""),
            "counted": self._counted,
        }

    def _on_stocktake(self, tx: Transaction, moment: Moment, code: str) -> list[Outcome]:
        current = self._stocktake_now(tx)
        if current is None:
            return self._stocktake_over()
        if (label := shelf_of_label(code)) is not None:
            return [self._choose_shelf(tx, current, label)]
        if self._shelf is None:
            return [self._refusal(Kind.REFUSED, "choose_shelf_first", copy=code)]
        assert self._supervisor_card is not None
        seen = stocktake.count(tx, moment, current, code, self._shelf, by=self._supervisor_card)
        copy = seen.copy
        if copy is None:
            if rules.find_patron(tx, code) is not None:
                return [self._refusal(Kind.REFUSED, "card_not_book")]
            if is_isbn13(code) and rules.title_with_isbn(tx, code) is not None:
                return [self._refusal(Kind.REFUSED, "use_library_label", copy=code)]
            stocktake.unknown(tx, moment, current, code, self._shelf, by=self._supervisor_card)
            return [
                Outcome(
                    Kind.COUNTED,
                    light=Light.WARNING,
                    sound=Sound.WARNING,
                    reason="unknown_code",
                    copy=code,
                    detail=self._counts(current),
                )
            ]
        if seen.first:
            self._on_shelf += 1
            self._counted += 1
        detail = self._counts(current)
        if seen.warning == stocktake.WRONG_SHELF:
            detail["belongs"] = seen.belongs
        if seen.returned is not None:
            detail["returned"] = True
        if not seen.first:  # a copy scanned twice counts once
            light, reason = Light.READY, "already_counted"
        elif seen.warning is not None:
            light, reason = Light.WARNING, seen.warning
        else:
            light, reason = Light.SUCCESS, "counted"
        return [
            Outcome(
                Kind.COUNTED,
                light=light,
                sound=Sound.WARNING if light == Light.WARNING else Sound.TICK,
                reason=reason,
                copy=copy.code,
                title=copy.title,
                detail=detail,
            )
        ]

    def _touch_leave(self, _arg: str | None) -> list[Outcome]:
        return self._end_all("leave")

    _touches: ClassVar[dict[str, Callable[[Kiosk, str | None], list[Outcome]]]] = {
        "done": _touch_done,
        "cancel": _touch_cancel,
        "return": _touch_return,
        "renew": _touch_renew,
        "undo": _touch_undo,
        "keep": _touch_keep,
        "override": _touch_override,
        "pin": _touch_pin,
        "borrow": _touch_borrow,
        "open_for": _touch_open_for,
        "batch_return": _supervisor_mode(State.BATCH_RETURN),
        "mark_damaged": _supervisor_mode(State.MARK_DAMAGED),
        "mark_lost": _supervisor_mode(State.MARK_LOST),
        "clock_ok": _touch_clock_ok,
        "stocktake": _touch_stocktake,
        "shelf": _touch_shelf,
        "leave": _touch_leave,
    }

    # -- time --------------------------------------------------------------------------

    def _timeout(self) -> float | None:
        match self.state:
            case State.SESSION if self._visit is not None and self._visit.walking:
                return self.settings.walk_away_seconds
            case State.SESSION:
                return self.settings.session_timeout_seconds
            case State.CHOICE:
                return self.settings.choice_timeout_seconds
            case State.PIN:
                return PIN_TIMEOUT_SECONDS
            case State.IDLE:
                return None
            case _:
                return self.settings.supervisor_timeout_seconds

    def _on_tick(self) -> list[Outcome]:
        self._checkpoint_in_a_pause()
        limit = self._timeout()
        if limit is None:
            return self._idle_light_change()
        if self._last_action_at is None:
            return []
        now = self.clock()
        if (now - self._last_action_at).total_seconds() < limit:
            return []
        if self.state == State.CHOICE:
            self._last_action_at = now
            return self._leave_choice()
        if self.state == State.SESSION and self._visit is not None and self._visit.walking:
            return self._end_all("walk_away")
        return self._end_all("timeout")

    def _checkpoint_in_a_pause(self) -> None:
        """Move what the last scans wrote from SQLite's write-ahead log into the database
        while nobody waits for an answer: between students, or in a pause of a session, a
        stocktake or a pile of returns (see Store.checkpoint)."""
        if not self._written:
            return
        if self.state != State.IDLE:
            last = self._last_action_at
            if last is None or (self.clock() - last).total_seconds() < PAUSE_SECONDS:
                return
        self._written = False
        self.store.checkpoint()

    def _idle_light_change(self) -> list[Outcome]:
        """While nobody is at the kiosk the library opens or closes, or events wait too long
        for the office: the lights (all a headless kiosk shows) must follow."""
        now = self.clock()
        checked = self._idle_checked_at
        if checked is not None and 0 <= (now - checked).total_seconds() < IDLE_LIGHT_CHECK_SECONDS:
            return []
        self._idle_checked_at = now
        known = self._idle_seen
        light = self.idle_light()
        if known is None or light == known:
            return []
        return [Outcome(Kind.IGNORED, light=light, reason="idle_light")]

    # -- sessions ------------------------------------------------------------------------

    def _start_visit(
        self, tx: Transaction, moment: Moment, patron: PatronFacts, *, helper_card: str | None
    ) -> Outcome:
        outbox.append(tx, moment, wire.SessionStarted, patron=patron.card, helper=helper_card)
        self._visit = _Visit(patron.id, patron.card, helper_card=helper_card)
        self.state = State.SESSION
        return self._session_view(tx, moment, patron, Kind.SESSION_STARTED)

    def _session_view(
        self, tx: Transaction, moment: Moment, patron: PatronFacts, kind: Kind
    ) -> Outcome:
        current = rules.loans_of(tx, patron)
        loans = tuple(
            LoanLine(h.copy, h.title, h.due_date, rules.overdue_days(h, moment.known_today))
            for h in current
        )
        detail: dict[str, object] = {}
        try:
            if not patron.active:
                raise Refused("patron_inactive")
            rules.check_open(self._schedule, patron, moment)
            rules.check_patron(tx, patron, moment, current)
            may = rules.may_borrow(tx, patron, current)
        except Refused as refusal:
            detail.update(refusal.detail, blocked=refusal.reason)
            may = 0
        if may == 0 and current:
            detail["bring_back"] = rules.first_to_bring_back(current)
        if self._visit and self._visit.helper_card:
            detail["helper"] = self._visit.helper_card
        if self._visit and may == 0:
            self._visit.walking = True  # nothing to wait for: return a book, or walk away
        light, sound = _greeting(kind, detail.get("blocked"))
        return Outcome(
            kind,
            light=light,
            sound=sound,
            patron=patron.card,
            name=patron.name,
            class_name=patron.class_name,
            loans=loans,
            may_borrow=may,
            detail=detail,
        )

    def _end_visit(self, tx: Transaction, moment: Moment, why: str) -> list[Outcome]:
        visit = self._visit
        if visit is None:
            return []
        outbox.append(
            tx, moment, wire.SessionEnded, patron=visit.card, reason=why, taken=len(visit.taken)
        )
        self._forget_returned(tx, moment)
        self._visit = None
        self.state = State.IDLE
        return [
            Outcome(
                Kind.SESSION_ENDED,
                light=self._idle_light(tx, moment),
                reason=why,
                patron=visit.card,
                receipt=tuple(visit.taken),
            )
        ]

    def _end_all(self, why: str) -> list[Outcome]:
        """End the session, PIN question or supervisor menu that is open, back to idle."""
        with self._transaction() as (tx, moment):
            if self._visit is not None:
                return self._end_visit(tx, moment, why)
            if self._supervisor_card is not None:
                outbox.append(tx, moment, wire.SupervisorClosed, by=self._supervisor_card)
            was = self.state
            self.state, self._pin_card, self._supervisor_card = State.IDLE, None, None
            if was == State.IDLE:
                return []
            return [Outcome(Kind.SESSION_ENDED, light=self._idle_light(tx, moment), reason=why)]

    def _forget_returned(self, tx: Transaction, moment: Moment) -> None:
        if self._remember(tx).enrolled:
            return  # forgotten as the office acknowledges each return (sync.replica)
        keep = dt.timedelta(days=self.settings.forget_returned_after_days)
        rules.forget_returned(tx, returned_before=moment.at - keep)

    # -- helpers -------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[tuple[Transaction, Moment]]:
        with self.store.transaction() as tx:
            moment = self._moment(tx)
            self._clock_seen = moment.clock
            yield tx, moment
        self._written = True
        seen = tx.info.get("latest_seen")  # committed: the memory follows the disk
        if seen is not None and self._known is not None:
            self._known.latest = seen

    def _remember(self, tx: Transaction, *, from_disk: bool = False) -> _Known:
        """What does not change between scans: from memory, unless something changed it (in
        this program, or in another: *from_disk*, one more read)."""
        known = self._known
        if (
            known is None
            or known.generation != generation()
            or (from_disk and tx.setting(CHANGED) != known.token)
        ):
            known = self._known = _Known.load(tx.session)
        tx.info["policies"] = known.policies  # rules.policy_for looks here first
        return known

    def _moment(self, tx: Transaction) -> Moment:
        known = self._remember(tx)
        return judge(self.clock(), self.tz, ahead=known.ahead, latest=known.latest)

    @property
    def _schedule(self) -> Schedule:
        assert self._known is not None, "read in a transaction (_remember)"
        return self._known.schedule

    def _idle_light(self, tx: Transaction, moment: Moment) -> Light:
        """The idle light, as shown now that the kiosk goes back to idle."""
        self._idle_seen = self._idle_light_now(tx, moment)
        return self._idle_seen

    def _idle_light_now(self, tx: Transaction, moment: Moment) -> Light:
        known = self._remember(tx)
        if not known.schedule.windows_at(moment.local):
            return Light.CLOSED
        if known.enrolled:
            oldest = outbox.oldest_pending(tx)
            waited = dt.timedelta(minutes=self.settings.sync_warning_minutes)
            if oldest is not None and moment.at - oldest > waited:
                return Light.WAITING_TO_SYNC
        return Light.READY

    def _is_repeat(self, code: str, now: dt.datetime) -> bool:
        if self._last_code is None or self._last_code[0] != code:
            return False
        elapsed = (now - self._last_code[1]).total_seconds()
        return 0 <= elapsed < self.settings.repeat_scan_seconds

    def _clock_check(self) -> list[Outcome]:
        """A fault outcome the first time the clock is seen backwards, or wrong."""
        state = self._clock_seen
        if state == self._clock_said:
            return []
        self._clock_said = state
        if state == "ok":
            return []
        return [
            Outcome(
                Kind.FAULT,
                light=Light.FAULT,
                reason=f"clock_{state}",
                detail={"message": CLOCK_FAULTS[state]},
            )
        ]

    @staticmethod
    def _refusal(kind: Kind, reason: str, **fields: object) -> Outcome:
        known = {k: fields.pop(k) for k in list(fields) if k in ("patron", "copy", "title", "due")}
        return Outcome(
            kind, light=Light.REFUSED, sound=Sound.LOW_BEEP, reason=reason, detail=fields, **known
        )  # type: ignore[arg-type]
