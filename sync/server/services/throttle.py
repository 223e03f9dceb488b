"""Slowing down guessers: after a few failures, each further try waits longer.

Used for librarians' passwords (per address and per account) and kiosk enrolment codes (per
address). Kept in memory: a restart forgets it, which costs a guesser nothing they could use.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

log = logging.getLogger("library-server")


@dataclass
class _Record:
    failures: int = 0
    last: float = 0.0


class Throttle:
    """*free* failures are allowed; then the n-th more waits ``2**n`` seconds, up to *longest*.

    Failures are forgotten after *forget* seconds without one, or at a success.
    """

    def __init__(
        self,
        what: str,
        *,
        free: int,
        longest: float = 900.0,
        forget: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.free = free
        self.longest = longest
        self.forget = forget
        self.clock = clock
        self._records: dict[Hashable, _Record] = {}
        self._lock = threading.Lock()

    def wait(self, key: Hashable) -> float:
        """Seconds before *key* may try again (0: now)."""
        with self._lock:
            record = self._record(key)
            if record is None or record.failures < self.free:
                return 0.0
            delay = min(2.0 ** (record.failures - self.free + 1), self.longest)
            return max(0.0, record.last + delay - self.clock())

    def failed(self, key: Hashable) -> None:
        with self._lock:
            if len(self._records) > 10_000:  # many guessers: keep only the recent ones
                for old in [k for k, r in self._records.items() if self._stale(r)]:
                    del self._records[old]
            record = self._record(key) or self._records.setdefault(key, _Record())
            record.failures += 1
            record.last = self.clock()
            if record.failures == self.free:
                log.warning(
                    "%s: %d failed tries from %s; slowing it down", self.what, self.free, key
                )

    def succeeded(self, key: Hashable) -> None:
        with self._lock:
            self._records.pop(key, None)

    def _record(self, key: Hashable) -> _Record | None:
        record = self._records.get(key)
        if record is not None and self._stale(record):
            del self._records[key]
            return None
        return record

    def _stale(self, record: _Record) -> bool:
        return self.clock() - record.last > self.forget
