"""Headless mode: codes and touches as lines in, outcomes as JSON lines out.

Each input line is one scanned code; a line starting with ``:`` is a touch (``:done``,
``:return``, ``:renew``, ``:cancel``, ``:pin 1234`` ...); ``#`` starts a comment line.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterable
from typing import BinaryIO, TextIO

from kiosk.engine import Kiosk
from kiosk.outcome import Kind, Light, Outcome, Sound

MAX_LINE_BYTES = 64 * 1024
TICK_SECONDS = 0.25
Listener = Callable[[Outcome], None]


def read_lines(stream: BinaryIO, lines: queue.Queue[bytes | None]) -> None:
    """Put each line of *stream* on *lines* (over-long ones cut), then None at the end."""
    while True:
        line = stream.readline(MAX_LINE_BYTES)
        if not line:
            break
        if not line.endswith(b"\n") and len(line) == MAX_LINE_BYTES:
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass  # drop the rest of a line too long to be a code
        lines.put(line)
    lines.put(None)


def handle_line(kiosk: Kiosk, raw: bytes) -> list[Outcome]:
    """What one input line means to the kiosk."""
    try:
        line = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return [
            Outcome(Kind.UNKNOWN_CODE, light=Light.REFUSED, sound=Sound.LOW_BEEP, reason="garbled")
        ]
    if line.startswith("#"):
        return []
    if line.startswith(":"):
        action, _, arg = line[1:].strip().partition(" ")
        return kiosk.touch(action, arg.strip() or None)
    return kiosk.scan(line)


def run(
    kiosk: Kiosk,
    stream: BinaryIO,
    out: TextIO,
    listeners: Iterable[Listener] = (),
) -> None:
    """Feed *kiosk* from *stream* until it ends, printing each outcome to *out*."""
    listeners = list(listeners)

    def emit(outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            out.write(json.dumps(outcome.to_json(), ensure_ascii=False) + "\n")
            for listener in listeners:
                listener(outcome)
        out.flush()

    lines: queue.Queue[bytes | None] = queue.Queue()
    threading.Thread(target=read_lines, args=(stream, lines), daemon=True).start()
    while True:
        try:
            raw = lines.get(timeout=TICK_SECONDS)
        except queue.Empty:
            emit(kiosk.tick())
            continue
        if raw is None:
            break
        emit(kiosk.tick())
        emit(handle_line(kiosk, raw))
    emit(kiosk.shutdown())
