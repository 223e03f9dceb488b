"""The kiosk's side of sync, in its own database: what to send, acknowledgements, pulled changes.

No network here: the HTTP client (sync.client) and the USB bundle (sync.bundle) both use it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kiosk import config as kiosk_config
from kiosk.clock import CLOCK_WARNING_SECONDS, confirm
from kiosk.models import Copy, CopyStatus, Event, Loan, Patron, Stocktake, Title
from kiosk.outbox import pending
from kiosk.settings import (
    ACKNOWLEDGED,
    CLOCK_OFFSET,
    CURSOR,
    ENROLLED,
    KIOSK_ID,
    LAST_ERROR,
    LAST_SYNC,
    OFFICE_RULES,
)
from kiosk.store import Store, get_setting, set_setting
from sync import wire

log = logging.getLogger(__name__)

TOKEN_FILE = "sync-token"


class NotEnrolled(Exception):
    """The kiosk has no office to sync with yet."""


# -- enrolment and token ---------------------------------------------------------------------


def token_path(store: Store) -> Path:
    return store.path.with_name(TOKEN_FILE)


def save_token(store: Store, token: str) -> None:
    """Write the token readable by the kiosk's own user only (created so, never widened)."""
    path = token_path(store)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(token + "\n")


def load_token(store: Store) -> str:
    try:
        return token_path(store).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise NotEnrolled(
            "this kiosk is not enrolled: run `kiosk enroll URL CODE` with a code from the office"
        ) from None


def enrolled(session: Session, url: str, kiosk_id: int) -> None:
    set_setting(session, ENROLLED, url)
    set_setting(session, KIOSK_ID, str(kiosk_id))
    # A new office: what was pulled from another one says nothing of this one, and what the
    # old one acknowledged is sent again (an office that has it already just counts it held).
    set_setting(session, CURSOR, "")
    set_setting(session, ACKNOWLEDGED, "")
    session.execute(update(Event).values(acked_at=None))


def office_url(session: Session) -> str:
    url = get_setting(session, ENROLLED)
    if not url:
        raise NotEnrolled(
            "this kiosk is not enrolled: run `kiosk enroll URL CODE` with a code from the office"
        )
    return url


# -- what to send ----------------------------------------------------------------------------


def to_wire(event: Event) -> wire.WireEvent:
    return wire.WireEvent(
        seq=event.seq,
        uuid=event.uuid,
        type=event.type,
        at=event.at,
        clock=event.clock,  # type: ignore[arg-type]
        payload=event.payload,
    )


def first_unacked(session: Session) -> int | None:
    return session.scalar(select(func.min(Event.seq)).where(Event.acked_at.is_(None)))


def last_acknowledgement(session: Session) -> tuple[int, str | None]:
    """The highest sequence the office last acknowledged, and its proof of having done so."""
    seq, _, proof = (get_setting(session, ACKNOWLEDGED) or "0").partition(" ")
    return int(seq), proof or None


def last_seq(session: Session) -> int:
    return session.scalar(select(func.max(Event.seq))) or 0


def events_from(session: Session, start: int, limit: int | None) -> list[wire.WireEvent]:
    query = select(Event).where(Event.seq >= start).order_by(Event.seq)
    if limit is not None:
        query = query.limit(limit)
    return [to_wire(e) for e in session.scalars(query)]


def acknowledge(
    session: Session,
    highest_seq: int,
    server_time: dt.datetime,
    offset: float | None,
    proof: str | None = None,
) -> int:
    """Mark events up to *highest_seq* as held by the office; return how many were newly marked.

    *proof* is the office's signature of this acknowledgement, kept to be sent back to it.
    """
    marked = session.execute(
        update(Event)
        .where(Event.seq <= highest_seq, Event.acked_at.is_(None))
        .values(acked_at=server_time)
    ).rowcount
    set_setting(session, LAST_SYNC, server_time.isoformat())
    if proof:
        set_setting(session, ACKNOWLEDGED, f"{highest_seq} {proof}")
    if offset is not None:
        set_setting(session, CLOCK_OFFSET, f"{offset:.3f}")
        if abs(offset) <= CLOCK_WARNING_SECONDS:  # the office finds the kiosk's clock right
            confirm(session, server_time - dt.timedelta(seconds=offset), by_office=True)
    return marked or 0


# -- applying what the office sends ----------------------------------------------------------


def _referenced_by_pending(session: Session) -> tuple[set[str], set[str]]:
    """Copy codes and loan ids that events not yet at the office speak of: local news wins."""
    codes: set[str] = set()
    loans: set[str] = set()
    for payload in session.scalars(select(Event.payload).where(Event.acked_at.is_(None))):
        if payload.get("copy"):
            codes.add(str(payload["copy"]))
        if payload.get("loan"):
            loans.add(str(payload["loan"]))
    return codes, loans


def apply_changes(session: Session, changes: list[wire.Change], today: dt.date) -> None:
    """Make the kiosk's rows what the office says, in the caller's transaction."""
    rows = _Rows.load(session, changes)
    with session.no_autoflush:  # one page is looked up once, then written once
        for change in changes:
            if change.data is None:
                continue  # the office keeps rows (soft deletion): nothing is removed here
            data = change.data
            match change.kind:
                case "title":
                    rows.title(data, today)
                case "copy":
                    rows.copy(data, today)
                case "patron":
                    rows.patron(data)
                case "loan":
                    rows.loan(data)
                case "stocktake":
                    rows.stocktake(data)
                case "rules":
                    if (rules := _office_rules(data)) is not None:
                        set_setting(session, OFFICE_RULES, json.dumps(data))
                        kiosk_config.apply(session, rules)
    session.flush()


def _chunks(values: set[Any]) -> list[list[Any]]:
    items = sorted(values, key=str)
    return [items[i : i + 500] for i in range(0, len(items), 500)]


@dataclass
class _Rows:
    """The kiosk rows one page of changes speaks of, found in a few queries."""

    session: Session
    titles: dict[int, Title]  # by office id
    unmapped_titles: dict[tuple[str, str], Title]  # local titles without ISBN, not yet matched
    copies: dict[int, Copy]  # by office id
    barcodes: dict[str, Copy]
    patrons: dict[str, Patron]  # by card
    loans: dict[str, Loan]
    open_loans: dict[int, list[Loan]]  # by id(copy)
    busy_codes: set[str]  # copies and loans that events not yet at the office speak of:
    busy_loans: set[str]  # the kiosk's news wins until the office has heard it

    @classmethod
    def load(cls, session: Session, changes: list[wire.Change]) -> _Rows:
        want: dict[str, set[Any]] = {k: set() for k in ("title", "copy", "barcode", "card", "loan")}
        for change in changes:
            data = change.data or {}
            match change.kind:
                case "title":
                    want["title"].add(data["id"])
                case "copy":
                    want["copy"].add(data["id"])
                    want["title"].add(data["title_id"])
                    if data.get("barcode"):
                        want["barcode"].add(data["barcode"])
                case "patron":
                    want["card"].add(data["card"])
                case "loan":
                    want["copy"].add(data["copy_id"])
                    want["loan"].add(data["id"])
                    if data.get("patron"):
                        want["card"].add(data["patron"])

        def fetch(column: Any, values: set[Any]) -> list[Any]:
            entity = column.class_
            found = []
            for chunk in _chunks(values):
                found.extend(session.scalars(select(entity).where(column.in_(chunk))))
            return found

        copies = {c.server_id: c for c in fetch(Copy.server_id, want["copy"])}
        barcodes = {c.barcode: c for c in fetch(Copy.barcode, want["barcode"])}
        open_loans: dict[int, list[Loan]] = {}
        known = {c.id: c for c in [*copies.values(), *barcodes.values()]}
        for loan in fetch(Loan.copy_id, set(known)):
            if loan.returned_at is None:
                open_loans.setdefault(id(known[loan.copy_id]), []).append(loan)
        busy_codes, busy_loans = _referenced_by_pending(session)
        return cls(
            session=session,
            titles={t.server_id: t for t in fetch(Title.server_id, want["title"])},
            unmapped_titles={
                (t.title, t.author): t
                for t in session.scalars(
                    select(Title).where(Title.server_id.is_(None), Title.isbn.is_(None))
                )
            },
            copies=copies,
            barcodes=barcodes,
            patrons={p.card: p for p in fetch(Patron.card, want["card"])},
            loans={loan.id: loan for loan in fetch(Loan.id, want["loan"])},
            open_loans=open_loans,
            busy_codes=busy_codes,
            busy_loans=busy_loans,
        )

    def _title_for(self, server_id: int, today: dt.date) -> Title:
        title = self.titles.get(server_id)
        if title is None:  # its own change follows (the office changed it after its copy)
            title = Title(server_id=server_id, title="", added_on=today)
            self.session.add(title)
            self.titles[server_id] = title
        return title

    def title(self, data: dict[str, Any], today: dt.date) -> None:
        title = self.titles.get(data["id"])
        if title is None and data.get("isbn"):
            title = self.session.scalar(
                select(Title).where(Title.isbn == data["isbn"], Title.server_id.is_(None))
            )
        if title is None and not data.get("isbn"):
            title = self.unmapped_titles.pop((data["title"], data.get("author") or ""), None)
        if title is None:
            title = Title(server_id=data["id"], title="", added_on=today)
            self.session.add(title)
        self.titles[data["id"]] = title
        title.server_id = data["id"]
        for key in ("isbn", "year"):
            setattr(title, key, data.get(key))
        for key in ("title", "author", "publisher", "classification"):
            setattr(title, key, data.get(key) or "")
        title.added_on = dt.date.fromisoformat(data["added_on"])

    def copy(self, data: dict[str, Any], today: dt.date) -> None:
        copy = self.copies.get(data["id"])
        title = self._title_for(data["title_id"], today)
        if copy is None and data.get("barcode"):
            copy = self.barcodes.get(data["barcode"])
        if copy is None and not data.get("barcode") and title.id is not None:
            copy = self.session.scalar(
                select(Copy).where(
                    Copy.title_id == title.id, Copy.barcode.is_(None), Copy.server_id.is_(None)
                )
            )
        if copy is None:
            copy = Copy(server_id=data["id"], barcode=data.get("barcode"), title=title)
            self.session.add(copy)
        self.copies[data["id"]] = copy
        if copy.barcode:
            self.barcodes[copy.barcode] = copy
        copy.server_id = data["id"]
        if copy.barcode and copy.code in self.busy_codes:
            return  # the kiosk has news of this copy the office has not heard yet
        copy.barcode, copy.title = data.get("barcode"), title
        copy.shelf = data.get("shelf") or ""
        copy.status = CopyStatus(data["status"])

    def stocktake(self, data: dict[str, Any]) -> None:
        stocktake = self.session.get(Stocktake, data["id"])
        if stocktake is None:
            stocktake = Stocktake(id=data["id"])
            self.session.add(stocktake)
        stocktake.name = data["name"]
        stocktake.open = bool(data["open"])
        stocktake.whole_library = bool(data["whole_library"])
        stocktake.shelves = list(data["shelves"])

    def patron(self, data: dict[str, Any]) -> None:
        patron = self.patrons.get(data["card"])
        if patron is None:
            patron = Patron(card=data["card"], name=data["name"], failed_pins=0)
            self.session.add(patron)
            self.patrons[data["card"]] = patron
        patron.name = data["name"]
        patron.kind = data["kind"]
        patron.class_name = data.get("class_name") or ""
        patron.grade = data.get("grade")
        patron.active = bool(data.get("active", True))

    def loan(self, data: dict[str, Any]) -> None:
        copy = self.copies.get(data["copy_id"])
        if copy is None or data["id"] in self.busy_loans:
            return
        if copy.barcode and copy.code in self.busy_codes:
            return
        returned_at = _time(data.get("returned_at"))
        lent_at = _time(data["lent_at"])
        assert lent_at is not None
        others = self.open_loans.setdefault(id(copy), [])
        if returned_at is None:
            # The office says this copy is out on this loan: any other loan of it here ended.
            ended = [o for o in others if o.id != data["id"]]
            for other in ended:
                other.returned_at, other.implicit_return, other.patron = lent_at, True, None
                others.remove(other)
            if ended:
                self.session.flush()  # the one open loan per copy rule holds at every step
        loan = self.loans.get(data["id"])
        if loan is None:
            loan = Loan(id=data["id"], copy=copy, lent_at=lent_at, due_date=lent_at.date())
            self.session.add(loan)
            self.loans[loan.id] = loan
        loan.copy = copy
        loan.lent_at = lent_at
        loan.due_date = dt.date.fromisoformat(data["due_date"])
        loan.returned_at = returned_at
        loan.renewals = data.get("renewals", 0)
        loan.lent_where = data.get("lent_where") or ""
        loan.implicit_return = bool(data.get("implicit_return"))
        patron = self.patrons.get(data["patron"]) if data.get("patron") else None
        if returned_at is not None:
            loan.patron = None  # who had a returned book is the office's to know, not the kiosk's
            if loan in others:
                others.remove(loan)
        else:
            if loan not in others:
                others.append(loan)
            if patron is not None:
                loan.patron = patron
                loan.patron_class, loan.patron_grade = patron.class_name, patron.grade


def reapply_office_rules(session: Session) -> bool:
    """The office's rules over kiosk.toml's, once the kiosk has pulled them."""
    stored = get_setting(session, OFFICE_RULES)
    rules = _office_rules(json.loads(stored)) if stored else None
    if rules is None:
        return False
    kiosk_config.apply(session, rules)
    return True


def _office_rules(data: Any) -> kiosk_config.KioskConfig | None:
    """The office's rules if they hold values a school could mean; else None, and the kiosk
    keeps its own (an older office may send what this kiosk no longer takes)."""
    try:
        return kiosk_config.KioskConfig.model_validate(data)
    except ValidationError as exc:
        log.warning("the office's rules are not used, the kiosk keeps its own: %s", exc)
        return None


def _time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


# -- what the UI, the lights and doctor show ---------------------------------------------------


@dataclass(frozen=True)
class SyncStatus:
    enrolled: bool
    office: str | None
    pending: int  # events not yet acknowledged by the office
    last_sync: dt.datetime | None
    clock_offset_seconds: float | None  # office time minus kiosk time
    last_error: str | None

    @property
    def clock_warning(self) -> str | None:
        if self.clock_offset_seconds is None or abs(self.clock_offset_seconds) <= (
            CLOCK_WARNING_SECONDS
        ):
            return None
        return f"the kiosk clock is {-self.clock_offset_seconds:+.0f} s off the office's"


def status(session: Session) -> SyncStatus:
    office = get_setting(session, ENROLLED)
    last = get_setting(session, LAST_SYNC)
    offset = get_setting(session, CLOCK_OFFSET)
    return SyncStatus(
        enrolled=bool(office),
        office=office or None,
        pending=pending(session),
        last_sync=dt.datetime.fromisoformat(last) if last else None,
        clock_offset_seconds=float(offset) if offset else None,
        last_error=get_setting(session, LAST_ERROR) or None,
    )
