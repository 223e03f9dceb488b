"""Python's cycle collector held off while a batch of events or a page of changes is applied.

A batch or a page makes tens of thousands of objects, none in a cycle, and their making sets
the collector off again and again over every object of the program: a tenth to a quarter of
the time of a push or a pull, for nothing to free. Whatever else the program makes meanwhile
waits for the collector's next round, a fraction of a second later.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0  # threads inside collector_paused() now
_paused = False  # whether the collector was running when the first of them came in


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector off until the last of the threads that asked for it is done (the office
    applies several kiosks' batches at once); left off if something else had turned it off."""
    global _holders, _paused
    with _lock:
        _holders += 1
        if _holders == 1:
            _paused = gc.isenabled()
            gc.disable()
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _paused:
                gc.enable()
