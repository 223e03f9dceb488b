"""Slowing down guessers: after a few failures, each further try waits longer.

Used for librarians' passwords (per address and per account) and kiosk enrolment codes (per
address). Kept in memory: a restart forgets it, which costs a guesser nothing they could use.
The office notices: the first slow-down and a lock-out are logged.
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
    """*free* failures are allowed; then each further try waits *first_wait* seconds, doubled
    at each failure, up to *longest* (a lock-out). Failures are forgotten after *forget*
    seconds without one, or at a success."""

    def __init__(
        self,
        what: str,
        *,
        free: int,
        first_wait: float,
        longest: float,
        forget: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.free = free
        self.first_wait = first_wait
        self.longest = longest
        self.forget = max(forget, longest)
        self.clock = clock
        self._records: dict[Hashable, _Record] = {}
        self._lock = threading.Lock()

    def wait(self, key: Hashable) -> float:
        """Seconds before *key* may try again (0: now)."""
        with self._lock:
            record = self._record(key)
            if record is None or record.failures < self.free:
                return 0.0
            return max(0.0, record.last + self._delay(record.failures) - self.clock())

    def failed(self, key: Hashable) -> None:
        with self._lock:
            if len(self._records) > 10_000:  # many guessers: keep only the recent ones
                for old in [k for k, r in self._records.items() if self._stale(r)]:
                    del self._records[old]
            record = self._record(key) or self._records.setdefault(key, _Record())
            record.failures += 1
            record.last = self.clock()
            delay = self._delay(record.failures)
            if record.failures == self.free:
                log.warning("%s: %d failed tries from %s; slowing down", self.what, self.free, key)
            elif record.failures > self.free and delay == self.longest:
                log.warning(
                    "%s: %d failed tries from %s; locked out for %.0f s",
                    self.what,
                    record.failures,
                    key,
                    delay,
                )

    def succeeded(self, key: Hashable) -> None:
        with self._lock:
            self._records.pop(key, None)

    def _delay(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.first_wait * 2.0 ** (failures - self.free), self.longest)

    def _record(self, key: Hashable) -> _Record | None:
        record = self._records.get(key)
        if record is not None and self._stale(record):
            del self._records[key]
            return None
        return record

    def _stale(self, record: _Record) -> bool:
        return self.clock() - record.last > self.forget
