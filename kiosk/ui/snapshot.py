"""The idle screen as the kiosk showed it when it stopped, kept beside kiosk.db.

The next start draws it at once ("scan your card", the library's news, or "closed") and loads
the engine, the store and the office link after it; scans that come meanwhile wait for the
engine, in order. It keeps when the library opens and closes until a new week or month
begins (the panels count loans since then), so a kiosk switched off after closing shows
"open" when it is switched on at lunch. It is used only while nothing can have changed what
it shows: kiosk.toml and kiosk.db are exactly as the kiosk left them (no other program wrote
to them since: an import, a sync by USB stick, an upgrade), and the clock is between the time
it was kept and that new week or month. Otherwise the kiosk reads its store before the first
frame, as at its first start. One thing may lag: the colour band's "events waiting too long
for the office" shade, which the engine checks as soon as it is loaded.

Only the standard library here: this is read before SQLAlchemy or pydantic are loaded.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILE_NAME = "idle-screen.json"
# What the kiosk reads at start; the database's write-ahead log too (it holds recent writes).
WATCHED = ("kiosk.toml", "kiosk.db", "kiosk.db-wal")


@dataclass(frozen=True)
class Period:
    """From *starts* on, until the next period: open or closed, and when it opens next."""

    starts: dt.datetime
    open: bool
    next_opening: dt.datetime | None  # for the closed screen, local time
    next_grades: frozenset[int] | None  # of that opening; None: every grade


@dataclass(frozen=True)
class IdleSnapshot:
    font: str  # the font file the screen was drawn with
    touchscreen: str  # kiosk.toml's, for Kivy's input (evdev mode)
    language: str  # the kiosk's own, as the idle screen shows it
    light: str  # the idle light while open (kiosk.outcome.Light): ready, waiting to sync
    arrivals: list[str]  # titles
    popular: list[tuple[str, int]]  # title, loans this month
    league: list[tuple[str, int, int]]  # class, borrowed this week, students
    periods: list[Period]  # the first starts when it was kept
    lasts: dt.datetime  # a new week or month: the panels change

    @property
    def kept(self) -> dt.datetime:
        return self.periods[0].starts

    def at(self, now: dt.datetime) -> Period:
        """Open or closed at *now*, and when it opens next."""
        return [period for period in self.periods if period.starts <= now][-1]

    def keep(self, data_dir: Path) -> None:
        """Write it, stamped with the watched files as they are now (the store closed)."""
        data = asdict(self)
        data["lasts"] = self.lasts.isoformat()
        data["periods"] = [
            [
                p.starts.isoformat(),
                p.open,
                p.next_opening.isoformat() if p.next_opening else None,
                sorted(p.next_grades) if p.next_grades is not None else None,
            ]
            for p in self.periods
        ]
        data["files"] = _stamps(data_dir)
        target = data_dir / FILE_NAME
        partial = target.with_name(target.name + ".partial")
        try:
            partial.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
            partial.replace(target)
        except OSError as exc:  # a full disk: the next start reads the store first, that is all
            log.warning("could not keep the idle screen for the next start: %s", exc)

    @classmethod
    def load(cls, data_dir: Path, now: dt.datetime) -> IdleSnapshot | None:
        """The idle screen kept at the last stop, if it still shows what the store would."""
        try:
            data: dict[str, Any] = json.loads((data_dir / FILE_NAME).read_text(encoding="utf-8"))
            if data.pop("files") != _stamps(data_dir):
                return None
            snapshot = cls(
                **{
                    **data,
                    "popular": [(title, loans) for title, loans in data["popular"]],
                    "league": [(name, done, all_) for name, done, all_ in data["league"]],
                    "periods": [
                        Period(
                            dt.datetime.fromisoformat(starts),
                            bool(is_open),
                            dt.datetime.fromisoformat(opens) if opens else None,
                            frozenset(grades) if grades is not None else None,
                        )
                        for starts, is_open, opens, grades in data["periods"]
                    ],
                    "lasts": dt.datetime.fromisoformat(data["lasts"]),
                }
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError, IndexError) as exc:
            log.warning("the idle screen kept at the last stop is unreadable (%s)", exc)
            return None
        if not snapshot.periods or not snapshot.kept <= now < snapshot.lasts:
            return None
        if not Path(snapshot.font).is_file():
            return None
        return snapshot


def _stamps(data_dir: Path) -> dict[str, list[int] | None]:
    """Size and modification time of each watched file (None: there is none)."""
    stamps: dict[str, list[int] | None] = {}
    for name in WATCHED:
        try:
            stat = os.stat(data_dir / name)
        except FileNotFoundError:
            stamps[name] = None
        else:
            stamps[name] = [stat.st_size, stat.st_mtime_ns]
    return stamps
