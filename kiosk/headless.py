"""Headless mode: codes and touches as lines in, outcomes as JSON lines out.

Each input line is one scanned code; a line starting with ``:`` is a touch (``:done``,
``:return``, ``:renew``, ``:cancel``, ``:pin 1234`` ...); ``#`` starts a comment line.
"""

from __future__ import annotations

import json
import queue
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from kiosk import service
from kiosk.outcome import Kind, Light, Outcome, Role, Sound

if TYPE_CHECKING:  # the touchscreen takes scans (Scan) before the engine is loaded
    from kiosk.engine import Kiosk

MAX_LINE_BYTES = 64 * 1024
LINE_END = re.compile(rb"\r\n|\r|\n")
TICK_SECONDS = 0.25
Listener = Callable[[Outcome], None]


def read_lines(stream: BinaryIO, lines: queue.Queue[Any]) -> None:
    """Put each line of *stream* on *lines* as soon as it ends (over-long ones cut), then None.

    A line ends with LF, CR LF or CR alone (some scanners end a code with CR only). A file's
    raw stream (``sys.stdin.buffer.raw``) is read as it is: a reader thread blocked in a
    buffered read holds the buffer's lock, and Python aborts at exit on a lock it cannot take
    (a kiosk stopped by SIGTERM, as systemd stops it).
    """
    read = getattr(stream, "read1", stream.read)  # a raw stream's read is one read(2) already
    pending = b""
    cutting = False  # dropping the rest of a line too long to be a code
    after_cr = False
    while chunk := read(MAX_LINE_BYTES):
        if after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CR LF that came in two reads
        after_cr = chunk.endswith(b"\r")
        *ended, pending = LINE_END.split(pending + chunk)
        for line in ended:
            if not cutting:
                lines.put(line[:MAX_LINE_BYTES])
            cutting = False
        if len(pending) >= MAX_LINE_BYTES:
            if not cutting:
                lines.put(pending[:MAX_LINE_BYTES])
            cutting, pending = True, b""
    if pending and not cutting:
        lines.put(pending)
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


@dataclass(frozen=True)
class Scan:
    """A code from a scanner or card reader, with that device's role."""

    code: str
    role: Role = "any"


# What run_queue takes: a line as headless mode reads it, a scanned code, or an outcome a
# device adapter reports by itself (a scanner unplugged); None ends the run.
Input = bytes | Scan | Outcome


def run(
    kiosk: Kiosk,
    stream: BinaryIO,
    out: TextIO,
    listeners: Iterable[Listener] = (),
) -> None:
    """Feed *kiosk* from *stream* until it ends, printing each outcome to *out*."""
    lines: queue.Queue[Input | None] = queue.Queue()
    threading.Thread(target=read_lines, args=(stream, lines), daemon=True).start()
    run_queue(kiosk, lines, out, listeners)


def run_queue(
    kiosk: Kiosk,
    inbox: queue.Queue[Input | None],
    out: TextIO,
    listeners: Iterable[Listener] = (),
) -> None:
    """Feed *kiosk* from *inbox* (any thread may put on it) until None comes, printing each
    outcome to *out*; time passes for the kiosk between inputs."""
    listeners = list(listeners)

    def emit(outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            out.write(json.dumps(outcome.to_json(), ensure_ascii=False) + "\n")
            for listener in listeners:
                listener(outcome)
        out.flush()

    beats = service.Notifier()  # READY=1, then systemd's watchdog, from this loop only
    while True:
        beats.beat()
        try:
            item = inbox.get(timeout=TICK_SECONDS)
        except queue.Empty:
            emit(kiosk.tick())
            continue
        if item is None:
            break
        emit(kiosk.tick())
        match item:
            case Scan(code, role):
                emit(kiosk.scan(code, role))
            case Outcome():
                emit([item])
            case _:
                emit(handle_line(kiosk, item))
    emit(kiosk.shutdown())
