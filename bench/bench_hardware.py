"""Scanner decoding and status lights: how fast, against the floor of doing nothing useful.

1. Decoder throughput: events per second through ``ScanDecoder.feed`` for ISBN scans as a US
   HID scanner sends them, against a floor loop that only looks at each event, and against the
   rate of a fast scanner (the most it will ever be asked).
2. Terminator to engine: from writing a code's terminating key event to the device descriptor,
   to ``Kiosk.scan`` being called, through the real reader thread, queue and headless loop.
   Floor: the same two thread hops (select wake-up, queue) with no decoding and no engine.
3. Lights: from an outcome handed to ``StatusLights.listen`` to the pin changing, on gpiozero's
   MockFactory, per pattern; floor: switching the same LED on directly.

No scanner or GPIO is needed: the scanner is a ReplayDevice (a pipe the reader selects on, as it
does a /dev/input node) and the pins are mock pins. On a Raspberry Pi the same script measures
that machine's Python and threads.

    .venv/bin/python bench/bench_hardware.py [--codes 20000] [--scans 300]
"""

from __future__ import annotations

import argparse
import io
import os
import queue
import selectors
import sys
import tempfile
import threading
import time
from pathlib import Path

from evdev import ecodes
from gpiozero.pins.mock import MockFactory, MockPin

from hardware.lights import Pins, StatusLights
from hardware.scanner import DeviceRule, ScanDecoder
from hardware.standin import ReplayDevice, hid_events
from hardware.wiring import run_headless
from kiosk import config
from kiosk.engine import Kiosk
from kiosk.outcome import Kind, Light, Outcome, Sound
from kiosk.store import Store

AIM_MS = 20.0  # a code or a light must be on its way well within a blink (~100 ms)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.3f} ms"


# -- 1. decoder throughput ----------------------------------------------------------------------


def bench_decoder(codes: int) -> None:
    events = []
    t = 1_700_000_000.0
    for n in range(codes):
        events += hid_events(f"978702{n % 10_000_000:07d}", t)
        t += 0.5
    decoder = ScanDecoder()
    started = time.perf_counter()
    decoded = sum(1 for e in events if decoder.feed(e) is not None)
    elapsed = time.perf_counter() - started
    if decoded != codes:
        sys.exit(f"bench: {decoded} codes decoded of {codes}")

    started = time.perf_counter()
    keys = sum(1 for e in events if e.type == ecodes.EV_KEY and e.value == 1)  # the floor
    floor = time.perf_counter() - started
    assert keys

    one = hid_events("9787020002207", 0.0)  # a fast scanner: one key every 2 ms
    scanner_rate = len(one) / (one[-1].timestamp() - one[0].timestamp())
    rate, floor_rate = len(events) / elapsed, len(events) / floor
    print(f"decoder: {len(events):,} events ({codes:,} ISBN scans)")
    print(f"  throughput      {rate:12,.0f} events/s")
    print(
        f"  floor (a look)  {floor_rate:12,.0f} events/s   decoder costs {floor_rate / rate:.1f}x"
    )
    print(
        f"  a fast scanner  {scanner_rate:12,.0f} events/s   headroom {rate / scanner_rate:,.0f}x"
    )


# -- 2. terminating key to engine ---------------------------------------------------------------


class TimedKiosk(Kiosk):
    """The real engine; notes when each scan reaches it."""

    reached: queue.Queue[float]

    def scan(self, raw: str, role: str = "any") -> list[Outcome]:  # type: ignore[override]
        self.reached.put(time.perf_counter())
        return super().scan(raw, role)  # type: ignore[arg-type]


def send_timed(device: ReplayDevice, n: int) -> float:
    """A code's keys, then (a moment later, as a scanner sends them) its terminator, Enter
    down and up: returns when the terminator was written."""
    events = hid_events(f"X{n:06d}", time.time())
    device.send(events[:-6])
    time.sleep(0.002)
    started = time.perf_counter()
    device.send(events[-6:])
    return started


def reader_delays(scans: int) -> list[float]:
    """Seconds from the terminating key to Kiosk.scan, in headless mode."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cfg = config.load(folder)
        store = Store.open(folder / "kiosk.db")
        kiosk = TimedKiosk(store, cfg.kiosk)
        kiosk.reached = queue.Queue()
        device = ReplayDevice("/dev/input/event3", name="Bench Scanner")
        inbox: queue.Queue = queue.Queue()
        lights = StatusLights(Pins(), pin_factory=MockFactory())
        runner = threading.Thread(
            target=run_headless,
            args=(kiosk, cfg, io.StringIO()),
            kwargs={
                "find": lambda in_use: (
                    []
                    if device.path in in_use or device.closed
                    else [(device, DeviceRule("Bench"))]
                ),
                "lights": lights,
                "inbox": inbox,
            },
            daemon=True,
        )
        runner.start()
        delays = []
        for n in range(scans + 10):
            started = send_timed(device, n)
            reached = kiosk.reached.get(timeout=5)
            if n >= 10:  # the first few warm up the threads and the database
                delays.append(reached - started)
            time.sleep(0.005)
        inbox.put(None)
        runner.join(5)
        store.close()
    return delays


def bench_reader(scans: int) -> None:
    delays = reader_delays(scans)
    floor = hop_floor(scans)
    p50, p99, f50 = pct(delays, 50), pct(delays, 99), pct(floor, 50)
    print(f"terminating key -> Kiosk.scan ({scans} scans, real reader thread and headless loop)")
    print(f"  p50 {ms(p50)}   p99 {ms(p99)}   max {ms(max(delays))}")
    print(f"  floor (select wake-up + queue, no decoding) p50 {ms(f50)}   ratio {p50 / f50:.1f}x")
    print(f"  aim p99 < {AIM_MS:.0f} ms: {'ok' if p99 * 1000 < AIM_MS else 'SLOW'}")


def hop_floor(count: int) -> list[float]:
    """A byte on a pipe wakes a selecting thread, which queues it to a waiting one."""
    r, w = os.pipe()
    handed: queue.Queue[float | None] = queue.Queue()

    def select_loop() -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(r, selectors.EVENT_READ)
            while True:
                sel.select()
                if os.read(r, 1) == b"q":
                    return
                handed.put(time.perf_counter())

    thread = threading.Thread(target=select_loop, daemon=True)
    thread.start()
    delays = []
    for _ in range(count):
        started = time.perf_counter()
        os.write(w, b"x")
        handed.get(timeout=5)
        delays.append(time.perf_counter() - started)
        time.sleep(0.002)
    os.write(w, b"q")
    thread.join(5)
    os.close(r)
    os.close(w)
    return delays


# -- 3. outcome to pin --------------------------------------------------------------------------


class TimedPin(MockPin):
    """A mock pin that notes when it changes, on the clock the benchmark reads."""

    def _change_state(self, value: bool) -> bool:
        changed = super()._change_state(value)
        self.changed_at = time.perf_counter()
        return changed


def bench_lights(rounds: int) -> None:
    lights = StatusLights(Pins(buzzer=18), pin_factory=MockFactory(pin_class=TimedPin))
    cases = [
        ("success (green blink)", Light.SUCCESS, Sound.BEEP, lights.green),
        ("refused (red)", Light.REFUSED, Sound.LOW_BEEP, lights.red),
        ("fault (red fast blink)", Light.FAULT, Sound.NONE, lights.red),
        ("closed (amber)", Light.CLOSED, Sound.NONE, lights.amber),
    ]
    print(f"outcome -> pin change ({rounds} outcomes each, gpiozero MockFactory)")
    worst = 0.0
    for label, light, sound, led in cases:
        delays = []
        for _ in range(rounds):
            lights.show(Light.WAITING_TO_SYNC)  # all else dark, amber blinking
            led.off()
            time.sleep(0.003)
            pin = led.pin
            pin.changed_at = 0.0
            started = time.perf_counter()
            lights.listen(Outcome(Kind.IGNORED, light=light, sound=sound))
            deadline = started + 1
            while not (pin.changed_at >= started and pin.state) and time.perf_counter() < deadline:
                time.sleep(0)
            delays.append(pin.changed_at - started)
        print(f"  {label:24} p50 {ms(pct(delays, 50))}   p99 {ms(pct(delays, 99))}")
        worst = max(worst, pct(delays, 99))
    floor = []
    for _ in range(rounds):
        lights.green.off()
        started = time.perf_counter()
        lights.green.on()
        floor.append(lights.green.pin.changed_at - started)
    print(f"  floor: LED.on() directly  p50 {ms(pct(floor, 50))}")
    print(f"  aim p99 < {AIM_MS:.0f} ms: {'ok' if worst * 1000 < AIM_MS else 'SLOW'}")
    lights.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=20_000)
    parser.add_argument("--scans", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    bench_decoder(args.codes)
    bench_reader(args.scans)
    bench_lights(args.rounds)


if __name__ == "__main__":
    main()
