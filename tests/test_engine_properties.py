"""What holds whatever students and small librarians do at the kiosk, in whatever order.

Hypothesis drives a real Kiosk on a real SQLite file (a fresh copy of the small test library
for each example) with random scans, touches and passing time, and checks the library's
records after every step: a copy is never on loan twice, every loan has exactly one checkout
event, the outbox has no gaps, loans out equal checkouts minus returns, and what the kiosk
answered is what it wrote.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from kiosk import config
from kiosk.codes import GarbledCode, clean
from kiosk.engine import SUPERVISOR_STATES, Kiosk, Role, State
from kiosk.models import Copy, CopyStatus, Event, Loan, Patron, Policy
from kiosk.outcome import Kind, Outcome
from kiosk.schedule import Schedule
from kiosk.store import Store
from sync import wire
from tests.conftest import HELPER_PIN, TIMETABLE, TUESDAY_LUNCH, TZ, FakeClock, add_library

ISBN = "9787020002207"  # the title in add_library whose two copies carry no label
CLOSING_EVENTS = ("return", "implicit_return", "checkout_undone")
# Only these answers may change a loan or a copy; every other answer leaves them as they were.
CHANGES_LOANS = {Kind.CHECKED_OUT, Kind.RETURNED, Kind.RENEWED, Kind.UNDONE, Kind.COPY_MARKED}
# Faults the kiosk tells of its clock before its answer (kiosk.clock): no answer themselves.
CLOCK_FAULTS = ("clock_backwards", "clock_wrong")


def check_library(db: Session, tz: dt.tzinfo = TZ) -> None:
    """Assert the invariants of the library's records (also used after each crash).

    *tz* is the kiosk's time zone, in which due dates are counted.
    """
    seqs = list(db.scalars(select(Event.seq).order_by(Event.seq)))
    assert seqs == list(range(1, len(seqs) + 1)), f"outbox sequence has gaps: {seqs}"
    events = list(db.scalars(select(Event).order_by(Event.seq)))
    loans = {loan.id: loan for loan in db.scalars(select(Loan))}
    copies = {copy.id: copy for copy in db.scalars(select(Copy))}
    patrons = {patron.id: patron for patron in db.scalars(select(Patron))}
    policies = {p.patron_kind: p for p in db.scalars(select(Policy))}  # kiosk.toml writes all

    checkouts = Counter(e.payload["loan"] for e in events if e.type == "checkout")
    closings = Counter(e.payload["loan"] for e in events if e.type in CLOSING_EVENTS)
    assert set(checkouts) == set(loans), "a loan without its checkout event, or the reverse"
    assert max(checkouts.values(), default=1) == 1, f"loan with two checkout events: {checkouts}"
    assert set(closings) <= set(loans), "a return event of a loan that does not exist"
    for loan in loans.values():
        expected = 0 if loan.returned_at is None else 1
        assert closings[loan.id] == expected, f"loan {loan.id} has {closings[loan.id]} returns"

    out = [loan for loan in loans.values() if loan.returned_at is None]
    assert len(out) == checkouts.total() - closings.total()

    on_loan = Counter(loan.copy_id for loan in out)
    assert max(on_loan.values(), default=1) == 1, "a copy on loan twice"
    for copy in copies.values():
        if copy.status == CopyStatus.ON_LOAN:
            assert on_loan[copy.id] == 1, f"copy {copy.id} on_loan without an open loan"
        if on_loan[copy.id]:
            # A copy marked lost stays lent: its borrower still owes it.
            assert copy.status in (CopyStatus.ON_LOAN, CopyStatus.LOST), copy.status

    checkout_of = {e.payload["loan"]: e for e in events if e.type == "checkout"}
    schedule = Schedule.load(db)
    for loan in out:
        patron = patrons.get(loan.patron_id)  # type: ignore[arg-type]
        assert patron is not None, "an open loan lost its patron"
        assert checkout_of[loan.id].payload["patron"] == patron.card
        lent_on = loan.lent_at.astimezone(tz).date()
        assert loan.due_date >= lent_on + dt.timedelta(days=policies[patron.kind].loan_days)
        assert schedule.is_open_day(loan.due_date), f"due on a closed day: {loan.due_date}"

    # Over the limit only with a small librarian's permission.
    held = Counter(loan.patron_id for loan in out)
    allowed = Counter(loan.patron_id for loan in out if loan.override_by)
    for patron in patrons.values():
        limit = policies[patron.kind].max_loans
        assert held[patron.id] - allowed[patron.id] <= limit, f"{patron.card} over the limit"


def build_template(folder: Path) -> Path:
    """The small test library, migrated and configured once; each example gets a copy."""
    (folder / "kiosk.toml").write_text(TIMETABLE, encoding="utf-8")
    store = Store.open(folder / "kiosk.db")
    try:
        with store.write() as db:
            config.apply(db, config.load(folder))
            add_library(db)
    finally:
        store.close()  # the last connection checkpoints the WAL into kiosk.db
    return folder


CARDS = ["S1", "S2", "S5", "T1", "GONE", "H1", "NOBODY"]
BOOKS = [*(f"B{n:03d}" for n in range(1, 11)), "REF1", ISBN, "9787020002208", "X999"]
# Books a few students fight over, so that copies change hands and come back to the same child.
FAVOURITES = ["B001", "B002", "B003", ISBN, *BOOKS]
GARBLED = ["", "   ", "B0\x0701", "\x00", "x" * 200, "\u200b", "B001\ufffe"]
TOUCHES = [
    ("done", None),
    ("return", None),
    ("renew", None),
    ("cancel", None),
    ("undo", None),
    ("keep", None),
    ("pin", HELPER_PIN),
    ("pin", "0000"),
    ("borrow", None),
    ("open_for", "S1"),
    ("open_for", "S5"),
    ("open_for", "NOBODY"),
    ("batch_return", None),
    ("mark_damaged", None),
    ("mark_lost", None),
    ("leave", None),
    ("fly", None),
]
# Around the 2 s repeat window, the 10 s undo and choice, the 30 s session, the 120 s menu.
SECONDS = [0, 0.5, 1.9, 2, 3, 9, 11, 29, 31, 119, 121, 600]


class KioskMachine(RuleBasedStateMachine):
    def __init__(self, template: Path) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(dir=template.parent))
        shutil.copy(template / "kiosk.db", self.folder / "kiosk.db")
        self.store = Store.open(self.folder / "kiosk.db")
        self.clock = FakeClock(TUESDAY_LUNCH)
        settings_ = config.load(template).kiosk
        self.kiosk = Kiosk(self.store, settings_, clock=self.clock, tz=TZ)
        self.last_scan: tuple[str, dt.datetime] | None = None

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- what people do ---------------------------------------------------------------

    @rule(code=st.sampled_from(BOOKS), role=st.sampled_from(["any", "any", "books"]))
    def scan_book(self, code: str, role: Role) -> None:
        self._scan(code, role)

    @rule(
        card=st.sampled_from(CARDS),
        books=st.lists(st.sampled_from(FAVOURITES), min_size=1, max_size=4),
        gap=st.sampled_from([0.5, 3]),
        then=st.sampled_from([None, "done", "undo", "cancel"]),
        data=st.data(),
    )
    def visit(
        self, card: str, books: list[str], gap: float, then: str | None, data: st.DataObject
    ) -> None:
        """Someone scans a card and a few books in a row, answering the screen's questions."""
        self._scan(card, "any")
        for book in books:
            self.clock.advance(gap)
            self._scan(book, "any")
            if self.kiosk.state == State.CHOICE:
                answer = data.draw(st.sampled_from(["return", "renew", "cancel", "wait"]))
                if answer == "wait":  # until the question goes away by itself
                    self.clock.advance(11)
                    self._step(self.kiosk.tick)
                else:
                    self._step(lambda a=answer: self.kiosk.touch(a))
        if then is not None:
            self._step(lambda: self.kiosk.touch(then))

    @rule(pin=st.sampled_from([HELPER_PIN, HELPER_PIN, "0000", None]))
    def small_librarian(self, pin: str | None) -> None:
        """H1 scans their card and types a PIN (None: borrows for themselves instead)."""
        self.clock.advance(3)
        self._scan("H1", "cards")
        self.clock.advance(3)
        self._step(
            lambda: self.kiosk.touch("borrow") if pin is None else self.kiosk.touch("pin", pin)
        )

    @rule(raw=st.one_of(st.sampled_from(GARBLED), st.text(max_size=80)))
    def scan_junk(self, raw: str) -> None:
        # Whatever arrives, the kiosk answers and its records stay whole.
        self._scan(raw, "any")

    @rule(touch=st.sampled_from(TOUCHES))
    def touch(self, touch: tuple[str, str | None]) -> None:
        action, arg = touch
        self._step(lambda: self.kiosk.touch(action, arg))

    @precondition(lambda self: self.kiosk.state == State.CHOICE)
    @rule(answer=st.sampled_from(["return", "renew", "cancel", "undo"]))
    def answer_choice(self, answer: str) -> None:
        self._step(lambda: self.kiosk.touch(answer))

    @precondition(lambda self: self.kiosk.state == State.PIN)
    @rule(pin=st.sampled_from([HELPER_PIN, HELPER_PIN, "0000", None]))
    def answer_pin(self, pin: str | None) -> None:
        # None: the small librarian borrows for themselves instead.
        self._step(
            lambda: self.kiosk.touch("borrow") if pin is None else self.kiosk.touch("pin", pin)
        )

    @precondition(lambda self: self.kiosk.state in SUPERVISOR_STATES)
    @rule(
        touch=st.sampled_from(
            [
                ("open_for", "S1"),
                ("open_for", "S2"),
                ("open_for", "T1"),
                ("batch_return", None),
                ("mark_damaged", None),
                ("mark_lost", None),
            ]
        ),
        books=st.lists(st.sampled_from(BOOKS), max_size=4),
    )
    def supervise(self, touch: tuple[str, str | None], books: list[str]) -> None:
        self._step(lambda: self.kiosk.touch(*touch))
        for book in books:
            self.clock.advance(3)
            self._scan(book, "books")

    @rule(seconds=st.sampled_from(SECONDS))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self._step(self.kiosk.tick)

    @rule(days=st.integers(1, 25), minutes=st.integers(-30, 60))
    def another_day(self, days: int, minutes: int) -> None:
        # Around lunch (13:30-14:20), so some days are open, some closed, some not our turn.
        local = self.clock.now.astimezone(TZ).date() + dt.timedelta(days=days)
        self.clock.set(
            dt.datetime.combine(local, dt.time(13, 30), TZ) + dt.timedelta(minutes=minutes)
        )
        self._step(self.kiosk.tick)

    @rule(seconds=st.integers(1, 3600))
    def clock_goes_back(self, seconds: int) -> None:
        self.clock.advance(-seconds)

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def records_are_whole(self) -> None:
        with self.store.read() as db:
            check_library(db)

    @invariant()
    def every_event_is_one_the_office_accepts(self) -> None:
        # kiosk.outbox writes a payload without validating it: it must be its model's, byte
        # for byte.
        with self.store.read() as db:
            for kind, raw in db.execute(text("SELECT type, payload FROM events")):
                model = wire.PAYLOADS[kind]
                assert model.model_validate_json(raw).model_dump_json(by_alias=True) == raw

    @invariant()
    def nobody_is_remembered_when_idle(self) -> None:
        if self.kiosk.state == State.IDLE:
            assert self.kiosk.patron_card is None

    # -- helpers --------------------------------------------------------------------------

    def _scan(self, raw: str, role: Role) -> None:
        now = self.clock()
        idle = self.kiosk.state == State.IDLE
        with self.store.read() as db:
            lent = [loan for loan in self._open_loans(db, raw) if loan.copy.barcode]
            lent_out = bool(lent) and lent[0].copy.status == CopyStatus.ON_LOAN
        outcomes = self._step(lambda: self.kiosk.scan(raw, role))
        try:
            code = clean(raw)
        except GarbledCode as garbled:
            # A blank line (a stray Enter) is ignored; anything else that is no code is refused.
            kind = Kind.IGNORED if garbled.reason == "empty" else Kind.UNKNOWN_CODE
            assert [o.kind for o in outcomes] == [kind], outcomes
            return  # a garbled scan is no code: the next one is compared with the one before
        repeat = (
            self.last_scan is not None
            and self.last_scan[0] == code
            and 0 <= (now - self.last_scan[1]).total_seconds() < 2
        )
        kinds = [o.kind for o in outcomes if o.reason not in CLOCK_FAULTS]
        if repeat:
            assert kinds == [Kind.IGNORED], f"{code} again within 2 s: {outcomes}"
        else:
            assert Kind.IGNORED not in kinds, f"{code} is no repeat: {outcomes}"
            self.last_scan = (code, now)
            if idle and lent_out and role != "cards":
                # A lent book scanned with no session open comes back, open or closed.
                assert kinds == [Kind.RETURNED], f"{code} not taken back: {outcomes}"

    def _step(self, act: Callable[[], list[Outcome]]) -> list[Outcome]:
        before = self._snapshot()
        last_seq = self._last_seq()
        outcomes = act()
        after = self._snapshot()
        new = self._events_after(last_seq)
        kinds = Counter(o.kind for o in outcomes)
        for outcome in outcomes:
            event(f"{outcome.kind} {outcome.reason or ''}".strip())

        for outcome in outcomes:
            assert outcome.reason != "database", f"database fault: {outcome}"
        if not kinds.keys() & CHANGES_LOANS:
            assert after == before, f"{outcomes} changed loans or copies"
        if all(
            o.kind in (Kind.IGNORED, Kind.UNKNOWN_CODE)
            # a wrong PIN and a locked card go in the supervisor log
            or (o.kind == Kind.REFUSED and o.reason not in ("card_locked", "wrong_pin"))
            or o.reason in CLOCK_FAULTS
            for o in outcomes
        ):
            assert new == [], f"{outcomes} wrote events {new}"

        types = Counter(e.type for e in new)
        implicit = sum(1 for o in outcomes if o.detail.get("implicit_return"))
        assert types["checkout"] == kinds[Kind.CHECKED_OUT], (outcomes, new)
        assert types["implicit_return"] == implicit, (outcomes, new)
        assert types["checkout_undone"] == kinds[Kind.UNDONE], (outcomes, new)
        assert types["renew"] == kinds[Kind.RENEWED], (outcomes, new)
        marked_damaged = any(
            o.kind == Kind.COPY_MARKED and o.reason == CopyStatus.DAMAGED for o in outcomes
        )
        # Marking a lent copy damaged takes it back first: one return the answer does not name.
        assert kinds[Kind.RETURNED] <= types["return"] <= kinds[Kind.RETURNED] + marked_damaged

        self._check_answers(outcomes)
        return outcomes

    def _check_answers(self, outcomes: list[Outcome]) -> None:
        """What the kiosk said happened is in the database now."""
        with self.store.read() as db:
            for outcome in outcomes:
                if outcome.kind == Kind.CHECKED_OUT:
                    holders = self._holders(db, outcome.copy)
                    assert outcome.patron in holders, (outcome, holders)
                    # Lent only while the library is open for this patron's grade.
                    patron = db.scalar(select(Patron).where(Patron.card == outcome.patron))
                    windows = Schedule.load(db).windows_at(self.clock().astimezone(TZ))
                    assert any(w.admits(patron.grade) for w in windows), (outcome, self.clock())
                elif outcome.kind == Kind.RETURNED and outcome.copy != ISBN:
                    assert self._holders(db, outcome.copy) == [], outcome
                elif outcome.kind == Kind.RENEWED:
                    dues = [
                        loan.due_date
                        for loan in self._open_loans(db, outcome.copy)
                        if loan.patron and loan.patron.card == outcome.patron
                    ]
                    assert outcome.due in dues, (outcome, dues)

    @staticmethod
    def _open_loans(db: Session, code: str | None) -> list[Loan]:
        query = select(Loan).join(Copy).where(Loan.returned_at.is_(None))
        if code == ISBN:
            query = query.where(Copy.barcode.is_(None))
        else:
            query = query.where(Copy.barcode == code)
        return list(db.scalars(query))

    def _holders(self, db: Session, code: str | None) -> list[str]:
        return [loan.patron.card for loan in self._open_loans(db, code) if loan.patron]

    def _snapshot(self) -> tuple[list[tuple], list[tuple]]:
        with self.store.read() as db:
            loans = db.execute(
                select(
                    Loan.id, Loan.copy_id, Loan.returned_at, Loan.due_date, Loan.renewals
                ).order_by(Loan.id)
            ).all()
            copies = db.execute(select(Copy.id, Copy.status).order_by(Copy.id)).all()
        return [tuple(r) for r in loans], [tuple(r) for r in copies]

    def _last_seq(self) -> int:
        with self.store.read() as db:
            return db.scalar(select(func.max(Event.seq))) or 0

    def _events_after(self, seq: int) -> list[Event]:
        with self.store.read() as db:
            return list(db.scalars(select(Event).where(Event.seq > seq).order_by(Event.seq)))


@pytest.mark.parametrize(
    "examples",
    [
        pytest.param(10, id="quick"),
        pytest.param(100, id="thorough", marks=pytest.mark.slow),
    ],
)
def test_random_use_keeps_the_records_whole(
    tmp_path_factory: pytest.TempPathFactory, examples: int
) -> None:
    template = build_template(tmp_path_factory.mktemp("template"))
    run_state_machine_as_test(
        lambda: KioskMachine(template),
        settings=settings(
            max_examples=examples,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
