"""The stocktake: find out how many books the school has, and which are missing or misplaced.

The librarian starts a stocktake (the whole library, some shelves, or some classifications);
it reaches the kiosks through the change log. Small librarians scan shelf after shelf at the
kiosks, whose events the ledger applies exactly once (``ledger._stocktake_scan``); the
librarian may scan at the desk too. Every scan is kept; a copy scanned twice counts once, on the
shelf where it was scanned last. At the end the librarian closes it, choosing what becomes of
the copies nobody saw (marked missing, or kept as they are); the result is kept as it was that
day: its counts and its lists (not seen, on the wrong shelf, found though recorded lost or
withdrawn, returned because found on a shelf, codes the library does not know).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from kiosk import rules
from kiosk import stocktake as kiosk_stocktake
from kiosk.clock import utc_now
from kiosk.codes import (
    GarbledCode,
    clean,
    code_key,
    has_control_characters,
    is_isbn13,
    shelf_of_label,
)
from kiosk.models import CopyStatus
from kiosk.tables import csv_bytes
from sync import wire
from sync.server.models import (
    Copy,
    Kiosk,
    Loan,
    Patron,
    Stocktake,
    StocktakeFinding,
    StocktakeScan,
    Title,
)
from sync.server.services import N_, NotFound, Refusal, desk, ledger, overdue
from sync.server.services.changes import Changes, record_change

NOT_SEEN_ACTIONS = ("missing", "keep")
# The kinds of findings, in the order a result lists them.
NOT_SEEN, WRONG_SHELF, FOUND_LOST, FOUND_WITHDRAWN, RETURNED, UNKNOWN = (
    "not_seen",
    "wrong_shelf",
    "found_lost",
    "found_withdrawn",
    "returned",
    "unknown",
)
KINDS = (NOT_SEEN, WRONG_SHELF, FOUND_LOST, FOUND_WITHDRAWN, RETURNED, UNKNOWN)
GONE = {CopyStatus.LOST, CopyStatus.WITHDRAWN}  # not expected on a shelf
AWAY = {CopyStatus.ON_LOAN, CopyStatus.IN_REPAIR}  # the school has them, not on a shelf
MAX_NAME = 64


class StocktakeRefused(Refusal):
    """The stocktake cannot be started, scanned or closed as asked; nothing changed."""


# -- what the pages and the command line show -------------------------------------------------


@dataclass(frozen=True)
class Counts:
    copies: int  # what the records say should be there (in scope, neither lost nor withdrawn)
    seen: int  # of the stocktake's copies, seen on a shelf
    away: int  # not seen, but on loan or in repair
    not_seen: int
    wrong_shelf: int
    found_lost: int
    found_withdrawn: int
    returned: int  # were recorded on loan, found on a shelf: returned
    unknown: int  # codes the library does not know

    @property
    def has(self) -> int:
        """How many books the school really has: seen on the shelves, or out with a reader
        (or being repaired)."""
        return self.seen + self.away

    def as_json(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Finding:
    kind: str
    code: str
    title: str
    shelf: str  # where the records put it
    seen_on: str  # the shelf it was scanned on
    status: str  # as the records had it (for a copy not seen: as it is now)
    reader: str  # the last loan's reader: name, class and card
    lent_at: dt.datetime | None
    returned_at: dt.datetime | None
    copy_id: int | None = None


@dataclass(frozen=True)
class ShelfProgress:
    shelf: str  # "": the copies the records put on no shelf
    copies: int  # belong on this shelf
    seen: int  # of those, seen (on any shelf)
    away: int  # of those not seen, on loan or in repair
    scanned: int  # copies whose last scan was on this shelf
    from_elsewhere: int  # of those, belonging on another shelf

    @property
    def to_find(self) -> int:
        return max(0, self.copies - self.seen - self.away)

    @property
    def percent(self) -> int:
        return 100 if not self.copies else round(100 * (self.seen + self.away) / self.copies)


@dataclass(frozen=True)
class Taker:
    """A kiosk, or the desk, and what it has counted so far."""

    name: str  # the kiosk's name; "" for the office's desk
    scans: int
    last_scan: dt.datetime | None
    last_sync: dt.datetime | None
    waiting: int  # events the kiosk said it had not sent yet


@dataclass(frozen=True)
class Summary:
    id: int
    name: str
    shelves: list[str]
    classifications: list[str]
    started_at: dt.datetime
    started_by: str
    closed_at: dt.datetime | None
    closed_by: str | None
    not_seen_action: str | None
    counts: Counts | None  # kept at closing; None while open

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class Progress:
    summary: Summary
    counts: Counts
    shelves: list[ShelfProgress]
    takers: list[Taker]
    late: int  # scans applied after the stocktake was closed


@dataclass(frozen=True)
class Result:
    summary: Summary
    counts: Counts
    findings: list[Finding] = field(default_factory=list)

    def of(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]


# -- starting --------------------------------------------------------------------------------


def all_shelves(session: Session) -> list[tuple[str, int]]:
    """Every shelf named on a copy, with how many copies (neither lost nor withdrawn) it holds."""
    rows = session.execute(
        select(Copy.shelf, func.count())
        .where(Copy.shelf != "", Copy.status.not_in(list(GONE)))
        .group_by(Copy.shelf)
    )
    return sorted(((shelf, n) for shelf, n in rows), key=lambda r: _shelf_order(r[0]))


def current(session: Session) -> Stocktake | None:
    """The stocktake going on, if any (only one at a time)."""
    return session.scalar(select(Stocktake).where(Stocktake.closed_at.is_(None)))


def start(
    session: Session,
    *,
    name: str,
    librarian: str,
    shelves: Sequence[str] = (),
    classifications: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> Summary:
    """Start a stocktake of the whole library, or of some shelves or classifications."""
    now = now or utc_now()
    if current(session) is not None:
        raise StocktakeRefused(
            N_("A stocktake is going on already: close it before starting another.")
        )
    name = " ".join(name.split()) or now.strftime("%Y-%m-%d")
    if len(name) > MAX_NAME:
        raise StocktakeRefused(N_("A stocktake's name of at most 64 characters, please."))
    known = {code_key(s): s for s, _n in all_shelves(session)}
    chosen = _distinct(shelves)
    strange = [s for s in chosen if code_key(s) not in known]
    if strange:
        raise StocktakeRefused(
            N_("No book is on the shelf {shelves}: check the shelves' names."),
            shelves=", ".join(strange),
        )
    stocktake = Stocktake(
        name=name,
        shelves=[known[code_key(s)] for s in chosen],
        classifications=_distinct(c.upper() for c in classifications),
        started_at=now,
        started_by=librarian,
    )
    session.add(stocktake)
    session.flush()
    if not _expected(session, stocktake):
        raise StocktakeRefused(
            N_("No book in the library is on those shelves or of those classifications.")
        )
    _tell_kiosks(session, stocktake)
    return _summary(stocktake)


def _tell_kiosks(session: Session, stocktake: Stocktake) -> None:
    """The stocktake in the change log: kiosks learn it (and its shelves) with their next sync."""
    per_shelf: dict[str, int] = defaultdict(int)
    for copy in _expected(session, stocktake):
        if copy.shelf:
            per_shelf[copy.shelf] += 1
    record_change(
        session,
        "stocktake",
        str(stocktake.id),
        {
            "id": stocktake.id,
            "name": stocktake.name,
            "open": stocktake.closed_at is None,
            "whole_library": not stocktake.shelves and not stocktake.classifications,
            "shelves": [
                {"name": s, "copies": per_shelf[s]} for s in sorted(per_shelf, key=_shelf_order)
            ],
        },
    )


# -- progress and result ---------------------------------------------------------------------


def progress(session: Session, stocktake_id: int) -> Progress:
    """Where the stocktake stands: per shelf (last, the copies on no shelf, if any: found
    wherever they are), per kiosk, and the counts so far."""
    stocktake = _get(session, stocktake_id)
    tally = _Tally.of(session, stocktake)
    per_shelf = []
    names = {c.shelf for c in tally.expected if c.shelf} | set(tally.last_shelf.values())
    unshelved = [""] if any(not c.shelf for c in tally.expected) else []
    for shelf in sorted(names, key=_shelf_order) + unshelved:
        mine = [c for c in tally.expected if c.shelf == shelf]
        here = [c for c in tally.seen_copies if tally.last_shelf[c.id] == shelf]
        per_shelf.append(
            ShelfProgress(
                shelf=shelf,
                copies=len(mine),
                seen=sum(1 for c in mine if c.id in tally.last_shelf),
                away=sum(1 for c in mine if c.id not in tally.last_shelf and c.status in AWAY),
                scanned=len(here),
                from_elsewhere=sum(1 for c in here if _misplaced(c, shelf)),
            )
        )
    return Progress(
        summary=_summary(stocktake),
        counts=tally.counts(),
        shelves=per_shelf,
        takers=_takers(session, stocktake),
        late=session.scalar(
            select(func.count()).where(
                StocktakeScan.stocktake_id == stocktake.id, StocktakeScan.late
            )
        )
        or 0,
    )


def result(session: Session, stocktake_id: int) -> Result:
    """The result: as kept at closing, or as it would be if the stocktake were closed now."""
    stocktake = _get(session, stocktake_id)
    if stocktake.closed_at is not None and stocktake.counts is not None:
        rows = session.scalars(
            select(StocktakeFinding)
            .where(StocktakeFinding.stocktake_id == stocktake.id)
            .order_by(StocktakeFinding.id)
        )
        return Result(
            _summary(stocktake),
            Counts(**stocktake.counts),
            [
                Finding(
                    kind=r.kind,
                    code=r.code,
                    title=r.title,
                    shelf=r.shelf,
                    seen_on=r.seen_on,
                    status=r.status,
                    reader=r.reader,
                    lent_at=r.lent_at,
                    returned_at=r.returned_at,
                    copy_id=r.copy_id,
                )
                for r in rows
            ],
        )
    tally = _Tally.of(session, stocktake)
    return Result(_summary(stocktake), tally.counts(), tally.findings(session))


def close(
    session: Session,
    stocktake_id: int,
    *,
    not_seen: str,
    librarian: str,
    now: dt.datetime | None = None,
) -> Result:
    """Close the stocktake and keep its result. The copies nobody saw are marked missing (lost)
    or kept as they are; copies recorded lost that were seen are available again."""
    if not_seen not in NOT_SEEN_ACTIONS:
        raise StocktakeRefused(N_("Choose what becomes of the copies nobody saw."))
    stocktake = _open(session, stocktake_id)
    found = result(session, stocktake.id)
    now = now or utc_now()
    stocktake.closed_at, stocktake.closed_by, stocktake.not_seen = now, librarian, not_seen
    stocktake.counts = found.counts.as_json()
    session.add_all(
        StocktakeFinding(
            stocktake_id=stocktake.id,
            kind=f.kind,
            code=f.code,
            copy_id=f.copy_id,
            title=f.title,
            shelf=f.shelf,
            seen_on=f.seen_on,
            status=f.status,
            reader=f.reader,
            lent_at=f.lent_at,
            returned_at=f.returned_at,
        )
        for f in found.findings
    )
    changes = Changes()
    to_mark = {f.copy_id: CopyStatus.AVAILABLE for f in found.of(FOUND_LOST)}
    if not_seen == "missing":
        to_mark.update({f.copy_id: CopyStatus.LOST for f in found.of(NOT_SEEN)})
    for copy in _copies(session, [i for i in to_mark if i is not None]):
        if copy.status in AWAY:
            continue  # lent at a kiosk meanwhile: the loan tells where it is
        copy.status = to_mark[copy.id]
        changes.add(copy)
    changes.write(session)
    _tell_kiosks(session, stocktake)
    session.flush()
    return result(session, stocktake.id)


def records(session: Session) -> list[Summary]:
    """Every stocktake, the latest first: the dated records of what the school had."""
    return [
        _summary(s)
        for s in session.scalars(select(Stocktake).order_by(Stocktake.started_at.desc()))
    ]


# -- counting at the desk --------------------------------------------------------------------

# What a scan at the desk did. A copy counted says the first of kiosk.stocktake's ON_LOAN, LOST,
# WITHDRAWN and WRONG_SHELF that applies, as a kiosk does; COUNTED when none does.
SHELF_CHOSEN, COUNTED, ALREADY_COUNTED = "shelf_chosen", "counted", "already_counted"


@dataclass(frozen=True)
class DeskScan:
    """What one scan (or shelf chosen) at the desk did, for the page to say and sound."""

    outcome: str  # SHELF_CHOSEN, COUNTED, ALREADY_COUNTED, a warning, unknown_code, or a refusal
    shelf: str  # the shelf being counted after it ("" until one is chosen)
    code: str = ""
    title: str = ""
    belongs: str = ""  # the shelf the copy belongs on
    holder: str = ""  # on loan: who had it (the loan is returned now)

    @property
    def tone(self) -> str:
        """The sound, as at the desk: "ok" counted, "info" a shelf or a copy counted already,
        "refused" anything to look at or not done."""
        if self.outcome == COUNTED:
            return "ok"
        return "info" if self.outcome in (SHELF_CHOSEN, ALREADY_COUNTED) else "refused"


def choose_shelf(session: Session, stocktake_id: int, name: str) -> DeskScan:
    """The shelf the librarian counts at the desk next, by its name (or its label's code)."""
    stocktake = _open(session, stocktake_id)
    shelf = _shelf_named(session, stocktake, name)
    if shelf is None:
        return DeskScan("shelf_not_in_stocktake", "", code=" ".join(name.split()))
    return DeskScan(SHELF_CHOSEN, shelf)


def desk_scan(
    session: Session,
    stocktake_id: int,
    code: str,
    *,
    shelf: str,
    librarian: str,
    now: dt.datetime | None = None,
) -> DeskScan:
    """A code scanned at the desk on *shelf*: a shelf's label chooses the shelf; a copy is
    counted through the ledger as a kiosk's scan is (a copy scanned twice counts once); a book
    recorded as on loan is returned, found in the stocktake; a code the library does not know
    is listed. Cards and a title's ISBN are turned down, as at a kiosk."""
    stocktake = _open(session, stocktake_id)
    try:
        code = clean(code)
    except GarbledCode:
        return DeskScan("garbled", shelf)
    if (label := shelf_of_label(code)) is not None:
        return choose_shelf(session, stocktake.id, label)
    chosen = _shelf_named(session, stocktake, shelf) if shelf.strip() else None
    if chosen is None:
        return DeskScan("choose_shelf_first", "", code=code)
    copy = ledger.find_copy(session, code)
    if copy is not None and copy.barcode is None:
        copy = _unlabelled_to_count(session, stocktake, copy)
    if copy is None:
        if session.scalar(select(Patron.id).where(Patron.card == code)) is not None:
            return DeskScan("card_not_book", chosen, code=code)
        if is_isbn13(code) and session.scalar(select(Title.id).where(Title.isbn == code)):
            return DeskScan("use_library_label", chosen, code=code)
        desk.record(session, [_scan_event(stocktake, code, chosen)], now or utc_now())
        return DeskScan("unknown_code", chosen, code=code)
    found = DeskScan(COUNTED, chosen, code=_code_of(copy), title=copy.title.title,
                     belongs=copy.shelf)  # fmt: skip
    if _last_seen_on(session, stocktake, copy) == code_key(chosen):
        return replace(found, outcome=ALREADY_COUNTED)
    now = now or utc_now()
    events: list[wire.Payload] = [_scan_event(stocktake, found.code, chosen)]
    loan = session.scalar(select(Loan).where(Loan.copy_id == copy.id, Loan.returned_at.is_(None)))
    holder = ""
    if loan is not None and copy.status in (CopyStatus.ON_LOAN, CopyStatus.LOST):
        # On the shelf, so not with its reader (a lost book's reader owes it no more).
        holder = _reader(loan)
        events.append(
            wire.Return(
                loan=loan.id,
                copy=loan.copy_code,
                patron=loan.patron_card,
                late_days=rules.overdue_days(loan, overdue.today(session, now)),
                by=librarian,
                stocktake=stocktake.id,
            )
        )
    warning = kiosk_stocktake.warning_of(copy, chosen)
    desk.record(session, events, now)
    return replace(found, outcome=warning or COUNTED, holder=holder)


def _scan_event(stocktake: Stocktake, code: str, shelf: str) -> wire.StocktakeScan:
    return wire.StocktakeScan(stocktake=stocktake.id, copy=code, shelf=shelf, by=None)


def _code_of(copy: Copy) -> str:
    return copy.barcode or copy.title.isbn or f"#{copy.id}"


def _shelf_named(session: Session, stocktake: Stocktake, name: str) -> str | None:
    """The shelf of *stocktake* called *name* (whatever its letter case), as the records spell
    it; any shelf in a stocktake of the whole library; None if this one does not count it."""
    wanted = code_key(" ".join(name.split()))
    if not wanted or len(wanted) > MAX_NAME or has_control_characters(wanted):
        return None
    whole = not stocktake.shelves and not stocktake.classifications
    shelves = (
        [s for s, _n in all_shelves(session)]
        if whole
        else {c.shelf for c in _expected(session, stocktake) if c.shelf}
    )
    spelt = next((s for s in shelves if code_key(s) == wanted), None)
    return spelt or (" ".join(name.split()) if whole else None)


def _last_seen_on(session: Session, stocktake: Stocktake, copy: Copy) -> str | None:
    """The shelf (as compared) where *copy* was last scanned in *stocktake*, by anyone."""
    shelf = session.scalar(
        select(StocktakeScan.shelf)
        .where(
            StocktakeScan.stocktake_id == stocktake.id,
            StocktakeScan.copy_id == copy.id,
            StocktakeScan.late.is_(False),
        )
        .order_by(StocktakeScan.at.desc(), StocktakeScan.id.desc())
        .limit(1)
    )
    return code_key(shelf) if shelf is not None else None


def _unlabelled_to_count(session: Session, stocktake: Stocktake, copy: Copy) -> Copy:
    """Of the copies known by their title's ISBN only, the one the ledger counts next: the
    first not seen yet in *stocktake* (so two such books count as two), else *copy*."""
    seen = select(StocktakeScan.copy_id).where(
        StocktakeScan.stocktake_id == stocktake.id, StocktakeScan.copy_id.is_not(None)
    )
    other = session.scalar(
        select(Copy)
        .where(Copy.title_id == copy.title_id, Copy.barcode.is_(None), Copy.id.not_in(seen))
        .order_by(Copy.id)
        .limit(1)
    )
    return other or copy


# -- the counting itself ---------------------------------------------------------------------


@dataclass
class _Tally:
    """The scans of one stocktake against the copies it counts."""

    stocktake: Stocktake
    expected: list[Copy]  # in scope, neither lost nor withdrawn (as the records say now)
    seen_copies: list[Copy]  # every copy scanned, in scope or not
    last_shelf: dict[int, str]  # copy id: the shelf of its last scan
    first_status: dict[int, str]  # copy id: its status when it was first scanned
    unknown: dict[str, str]  # a code the library does not know: the shelf it was scanned on

    @classmethod
    def of(cls, session: Session, stocktake: Stocktake) -> _Tally:
        scans = session.execute(
            select(
                StocktakeScan.copy_id, StocktakeScan.code, StocktakeScan.shelf, StocktakeScan.status
            )
            .where(StocktakeScan.stocktake_id == stocktake.id, StocktakeScan.late.is_(False))
            .order_by(StocktakeScan.at, StocktakeScan.id)
        )
        last_shelf: dict[int, str] = {}
        first_status: dict[int, str] = {}
        unknown: dict[str, str] = {}
        for copy_id, code, shelf, status in scans:
            if copy_id is None:
                unknown[code] = shelf
                continue
            last_shelf[copy_id] = shelf
            first_status.setdefault(copy_id, status or "")
        return cls(
            stocktake=stocktake,
            expected=_expected(session, stocktake),
            seen_copies=_copies(session, list(last_shelf)),
            last_shelf=last_shelf,
            first_status=first_status,
            unknown={c: s for c, s in unknown.items() if not _is_copy_now(session, c)},
        )

    def counts(self) -> Counts:
        status = self.first_status
        return Counts(
            copies=len(self.expected),
            seen=sum(1 for c in self.seen_copies if _in_scope(self.stocktake, c)),
            away=sum(1 for c in self.expected if c.id not in self.last_shelf and c.status in AWAY),
            not_seen=len(self._not_seen()),
            wrong_shelf=sum(1 for c in self.seen_copies if _misplaced(c, self.last_shelf[c.id])),
            found_lost=sum(1 for c in self.seen_copies if status[c.id] == CopyStatus.LOST),
            found_withdrawn=sum(
                1 for c in self.seen_copies if status[c.id] == CopyStatus.WITHDRAWN
            ),
            returned=sum(1 for c in self.seen_copies if status[c.id] == CopyStatus.ON_LOAN),
            unknown=len(self.unknown),
        )

    def _not_seen(self) -> list[Copy]:
        return [c for c in self.expected if c.id not in self.last_shelf and c.status not in AWAY]

    def findings(self, session: Session) -> list[Finding]:
        not_seen = self._not_seen()
        last_loans = _last_loans(session, [c.id for c in not_seen])
        found_by = _returned_by(session, self.stocktake)
        out = [_finding(NOT_SEEN, c, "", str(c.status), last_loans.get(c.id)) for c in not_seen]
        by_kind: dict[str, list[Finding]] = defaultdict(list)
        for copy in self.seen_copies:
            shelf, status = self.last_shelf[copy.id], self.first_status[copy.id]
            if _misplaced(copy, shelf):
                by_kind[WRONG_SHELF].append(_finding(WRONG_SHELF, copy, shelf, status, None))
            kind = {
                CopyStatus.LOST: FOUND_LOST,
                CopyStatus.WITHDRAWN: FOUND_WITHDRAWN,
                CopyStatus.ON_LOAN: RETURNED,
            }.get(status)
            if kind is not None:
                loan = found_by.get(copy.id) if kind == RETURNED else None
                by_kind[kind].append(_finding(kind, copy, shelf, status, loan))
        for kind in KINDS[1:-1]:
            out += sorted(by_kind[kind], key=lambda f: (_shelf_order(f.shelf), f.code))
        out += [
            Finding(UNKNOWN, code, "", "", shelf, "", "", None, None)
            for code, shelf in sorted(self.unknown.items())
        ]
        return out


def _finding(kind: str, copy: Copy, seen_on: str, status: str, loan: Loan | None) -> Finding:
    return Finding(
        kind=kind,
        code=copy.barcode or copy.title.isbn or f"#{copy.id}",
        title=copy.title.title,
        shelf=copy.shelf,
        seen_on=seen_on,
        status=status,
        reader=_reader(loan) if loan else "",
        lent_at=loan.lent_at if loan else None,
        returned_at=loan.returned_at if loan else None,
        copy_id=copy.id,
    )


def _reader(loan: Loan) -> str:
    """Who had the book: name, class and card (the card alone for a reader the office has
    not got)."""
    who = loan.patron
    if who is None:
        return loan.patron_card or ""
    return f"{who.name} ({', '.join(p for p in (who.class_name, who.card) if p)})"


def _in_scope(stocktake: Stocktake, copy: Copy) -> bool:
    if stocktake.shelves and copy.shelf not in stocktake.shelves:
        return False
    if stocktake.classifications:
        mark = copy.title.classification.upper()
        return any(mark.startswith(prefix) for prefix in stocktake.classifications)
    return True


def _expected(session: Session, stocktake: Stocktake) -> list[Copy]:
    query = (
        select(Copy)
        .options(joinedload(Copy.title))
        .where(Copy.status.not_in(list(GONE)))
        .order_by(Copy.id)
    )
    if stocktake.shelves:
        query = query.where(Copy.shelf.in_(stocktake.shelves))
    return [c for c in session.scalars(query) if _in_scope(stocktake, c)]


def _copies(session: Session, ids: Sequence[int]) -> list[Copy]:
    found: list[Copy] = []
    for start in range(0, len(ids), 500):
        found += session.scalars(
            select(Copy)
            .options(joinedload(Copy.title))
            .where(Copy.id.in_(ids[start : start + 500]))
        )
    return sorted(found, key=lambda c: c.id)


def _is_copy_now(session: Session, code: str) -> bool:
    """A code not known when it was scanned may be a copy added since."""
    return ledger.find_copy(session, code) is not None


def _misplaced(copy: Copy, shelf: str) -> bool:
    return bool(copy.shelf) and code_key(copy.shelf) != code_key(shelf)


def _last_loans(session: Session, copy_ids: Sequence[int]) -> dict[int, Loan]:
    """The latest loan of each copy (who had it last, and when)."""
    latest: dict[int, Loan] = {}
    for start in range(0, len(copy_ids), 500):
        chunk = copy_ids[start : start + 500]
        newest = (
            select(Loan.copy_id, func.max(Loan.lent_at).label("lent_at"))
            .where(Loan.copy_id.in_(chunk), Loan.undone.is_(False))
            .group_by(Loan.copy_id)
            .subquery()
        )
        for loan in session.scalars(
            select(Loan)
            .options(joinedload(Loan.patron))
            .join(newest, (Loan.copy_id == newest.c.copy_id) & (Loan.lent_at == newest.c.lent_at))
        ):
            latest[loan.copy_id] = loan  # type: ignore[index]
    return latest


def _returned_by(session: Session, stocktake: Stocktake) -> dict[int, Loan]:
    """The loans this stocktake closed, by copy: the books were on a shelf, not with a reader."""
    return {
        loan.copy_id: loan  # type: ignore[misc]
        for loan in session.scalars(
            select(Loan)
            .options(joinedload(Loan.patron))
            .where(Loan.found_in_stocktake == stocktake.id)
        )
    }


def _takers(session: Session, stocktake: Stocktake) -> list[Taker]:
    scans = {
        kiosk_id: (n, last)
        for kiosk_id, n, last in session.execute(
            select(StocktakeScan.kiosk_id, func.count(), func.max(StocktakeScan.at))
            .where(StocktakeScan.stocktake_id == stocktake.id)
            .group_by(StocktakeScan.kiosk_id)
        )
    }
    takers = [
        Taker(
            name=k.name,
            scans=scans.get(k.id, (0, None))[0],
            last_scan=scans.get(k.id, (0, None))[1],
            last_sync=k.last_sync,
            waiting=k.events_waiting,
        )
        for k in session.scalars(
            select(Kiosk).where(Kiosk.revoked_at.is_(None), ~Kiosk.desk).order_by(Kiosk.name)
        )
    ]
    # The desk is no kiosk that syncs: listed once it has counted something.
    desks = session.scalars(select(Kiosk.id).where(Kiosk.desk)).all()
    at_desk = [scans[i] for i in (None, *desks) if i in scans]
    if at_desk:
        last = max((at for _n, at in at_desk if at is not None), default=None)
        takers.append(Taker("", sum(n for n, _at in at_desk), last, None, 0))
    return takers


def _summary(stocktake: Stocktake) -> Summary:
    return Summary(
        id=stocktake.id,
        name=stocktake.name,
        shelves=list(stocktake.shelves),
        classifications=list(stocktake.classifications),
        started_at=stocktake.started_at,
        started_by=stocktake.started_by,
        closed_at=stocktake.closed_at,
        closed_by=stocktake.closed_by,
        not_seen_action=stocktake.not_seen,
        counts=Counts(**stocktake.counts) if stocktake.counts else None,
    )


def _get(session: Session, stocktake_id: int) -> Stocktake:
    stocktake = session.get(Stocktake, stocktake_id)
    if stocktake is None:
        raise NotFound(N_("There is no stocktake number {id}."), id=stocktake_id)
    return stocktake


def _open(session: Session, stocktake_id: int) -> Stocktake:
    stocktake = _get(session, stocktake_id)
    if stocktake.closed_at is not None:
        raise StocktakeRefused(
            N_("This stocktake was closed on {day}."), day=f"{stocktake.closed_at:%Y-%m-%d}"
        )
    return stocktake


def _distinct(values: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        value = " ".join(value.split())
        if value:
            seen.setdefault(code_key(value), value)
    return list(seen.values())


def _shelf_order(shelf: str) -> tuple[Any, ...]:
    """A3 before A10: digits compared as numbers."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", code_key(shelf))
        if part
    )


# -- the record as a file --------------------------------------------------------------------

KIND_WORDS = {
    NOT_SEEN: N_("Not seen"),
    WRONG_SHELF: N_("On the wrong shelf"),
    FOUND_LOST: N_("Found, recorded lost"),
    FOUND_WITHDRAWN: N_("Found, recorded withdrawn"),
    RETURNED: N_("Was on loan: returned"),
    UNKNOWN: N_("Not the library's code"),
}
STATUS_WORDS = {
    CopyStatus.AVAILABLE: N_("available"),
    CopyStatus.ON_LOAN: N_("on loan"),
    CopyStatus.DAMAGED: N_("damaged"),
    CopyStatus.IN_REPAIR: N_("in repair"),
    CopyStatus.LOST: N_("lost"),
    CopyStatus.WITHDRAWN: N_("withdrawn"),
    CopyStatus.REFERENCE: N_("reference"),
}
CSV_HEADER = (
    N_("Finding"),
    N_("Code"),
    N_("Title"),
    N_("Shelf"),
    N_("Seen on shelf"),
    N_("Status"),
    N_("Last reader"),
    N_("Lent"),
    N_("Returned"),
)


def result_csv(found: Result, zone: ZoneInfo, gettext: Callable[[str], str] = str) -> bytes:
    """The findings of *found* as a CSV file, in the language of *gettext*; dates are the
    school's (in *zone*)."""

    def day(moment: dt.datetime | None) -> str:
        return f"{moment.astimezone(zone):%Y-%m-%d}" if moment else ""

    return csv_bytes(
        [gettext(h) for h in CSV_HEADER],
        (
            [
                gettext(KIND_WORDS[f.kind]),
                f.code,
                f.title,
                f.shelf,
                f.seen_on,
                gettext(STATUS_WORDS[f.status]) if f.status in STATUS_WORDS else f.status,
                f.reader,
                day(f.lent_at),
                day(f.returned_at),
            ]
            for f in found.findings
        ),
    )
