"""The stocktake at the kiosk: small librarians scan the shelves, each copy counted once.

The librarian starts a stocktake at the office; kiosks learn it with the next sync (the
``stocktakes`` table, written by sync.replica). Each code scanned on a shelf is an event for the
office (``wire.StocktakeScan``), which merges every kiosk's and the desk's scans. Like the
circulation rules, these functions work in the caller's write transaction.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk import outbox, rules
from kiosk.clock import Moment
from kiosk.codes import code_key, is_isbn13
from kiosk.models import Copy, CopyStatus, Stocktake, StocktakeCount
from kiosk.rules import CopyFacts, OpenLoan
from kiosk.store import Transaction
from sync import wire

# What a counted copy says besides "counted": the first that applies, in this order.
ON_LOAN, LOST, WITHDRAWN, WRONG_SHELF = "on_loan", "lost", "withdrawn", "wrong_shelf"


@dataclass(frozen=True)
class StocktakeFacts:
    """A stocktake as the office last said (the engine keeps it in memory between scans)."""

    id: int
    name: str
    whole_library: bool  # any shelf may be counted; else only the shelves listed
    shelves: list[dict[str, Any]]  # [{"name": .., "copies": n}]


@dataclass(frozen=True)
class Counted:
    """The answer to one scan on a shelf."""

    code: str
    copy: (
        CopyFacts | None
    )  # None: a code this kiosk does not know (the office is told all the same)
    first: bool  # counted now; False: this kiosk had counted it already in this stocktake
    warning: str | None  # ON_LOAN (returned now), LOST, WITHDRAWN or WRONG_SHELF
    belongs: str  # the shelf the copy belongs on
    returned: OpenLoan | None  # the loan closed because the book was on the shelf


def open_stocktake(session: Session) -> StocktakeFacts | None:
    """The stocktake going on now, as the office last said."""
    row = session.scalar(select(Stocktake).where(Stocktake.open).order_by(Stocktake.id.desc()))
    if row is None:
        return None
    return StocktakeFacts(row.id, row.name, row.whole_library, list(row.shelves))


def shelf_named(stocktake: StocktakeFacts, name: str) -> str | None:
    """The shelf of *stocktake* called *name* (whatever its letter case), as the records spell
    it; any shelf in a stocktake of the whole library; None if this one does not count it."""
    wanted = code_key(name.strip())
    for shelf in stocktake.shelves:
        if code_key(shelf["name"]) == wanted:
            return str(shelf["name"])
    return name.strip() if stocktake.whole_library and wanted else None


def copies_on(stocktake: StocktakeFacts, shelf: str) -> int:
    """How many copies the office's records put on *shelf*."""
    return next((int(s["copies"]) for s in stocktake.shelves if s["name"] == shelf), 0)


def counted(tx: Transaction, stocktake: StocktakeFacts, shelf: str | None = None) -> int:
    """How many copies this kiosk has counted in *stocktake* (on *shelf*, if given)."""
    sql = "SELECT count(*) FROM stocktake_counts WHERE stocktake_id = ?"
    if shelf is None:
        return int(tx.execute(sql, (stocktake.id,)).fetchone()[0])
    return int(tx.execute(sql + " AND shelf = ?", (stocktake.id, shelf)).fetchone()[0])


def counted_by_shelf(session: Session, stocktake: StocktakeFacts) -> dict[str, int]:
    """How many copies this kiosk has counted on each shelf in *stocktake*."""
    rows = session.execute(
        select(StocktakeCount.shelf, func.count())
        .where(StocktakeCount.stocktake_id == stocktake.id)
        .group_by(StocktakeCount.shelf)
    )
    return {shelf: n for shelf, n in rows}


def count(
    tx: Transaction, moment: Moment, stocktake: StocktakeFacts, code: str, shelf: str, *, by: str
) -> Counted:
    """Count the copy *code* seen on *shelf*: once per stocktake, an event for the office each
    first time; a book recorded as on loan is returned, since it is on the shelf. A code that
    is no copy here is left to the caller (a card, or :func:`unknown`)."""
    copy = rules.find_copy(tx, code)
    if copy is None and is_isbn13(code):
        copy = _uncounted_unlabelled(tx, stocktake, code)
    if copy is None:
        return Counted(code, None, first=False, warning=None, belongs="", returned=None)
    warning = warning_of(copy, shelf)
    counted_now = tx.execute(
        "INSERT INTO stocktake_counts (stocktake_id, copy_id, shelf, at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (stocktake.id, copy.id, shelf, moment.stored),
    ).rowcount
    if not counted_now:
        return Counted(code, copy, first=False, warning=warning, belongs=copy.shelf, returned=None)
    _scan(tx, moment, stocktake, copy.code, shelf, by)
    returned = None
    if copy.status in (CopyStatus.ON_LOAN, CopyStatus.LOST):  # a lost book's reader owes it
        with suppress(rules.Refused):
            returned = rules.return_copy(tx, moment, copy, by=by, stocktake=stocktake.id)
    return Counted(code, copy, first=True, warning=warning, belongs=copy.shelf, returned=returned)


def unknown(
    tx: Transaction, moment: Moment, stocktake: StocktakeFacts, code: str, shelf: str, *, by: str
) -> None:
    """A code this kiosk does not know, seen on *shelf*: the office lists it (it may know it)."""
    _scan(tx, moment, stocktake, code, shelf, by)


def _scan(
    tx: Transaction, moment: Moment, stocktake: StocktakeFacts, code: str, shelf: str, by: str
) -> None:
    outbox.append(
        tx, moment, wire.StocktakeScan, stocktake=stocktake.id, copy=code, shelf=shelf, by=by
    )


def warning_of(copy: CopyFacts | Copy, shelf: str) -> str | None:
    """What a copy seen on *shelf* says besides "counted" (any copy with a status and a shelf:
    the kiosk's, or the office's at its desk)."""
    if copy.status == CopyStatus.ON_LOAN:
        return ON_LOAN
    if copy.status in (CopyStatus.LOST, CopyStatus.WITHDRAWN):
        return str(copy.status)
    if copy.shelf and code_key(copy.shelf) != code_key(shelf):
        return WRONG_SHELF
    return None


def _uncounted_unlabelled(
    tx: Transaction, stocktake: StocktakeFacts, isbn: str
) -> CopyFacts | None:
    """A copy without a label of its own, of the title with this ISBN: one not yet counted, so
    that two such books on a shelf count as two."""
    copies = rules.unlabelled_copies(tx, isbn)
    done = {
        copy_id
        for (copy_id,) in tx.execute(
            "SELECT copy_id FROM stocktake_counts WHERE stocktake_id = ?", (stocktake.id,)
        ).fetchall()
    }
    return next((c for c in copies if c.id not in done), copies[0] if copies else None)
