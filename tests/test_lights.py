"""Status lights, buzzer and buttons through gpiozero's MockFactory: the pin states over time.

There is no GPIO hardware here; MockFactory's pins record every change with its time, which is
what these tests read. Only a Raspberry Pi can show that the LEDs light (`kiosk doctor`).

The patterns run on gpiozero's threads: the tests wait for the changes they expect (however
busy the machine), and hold each pattern to its timing from below only: a thread may be late
on a loaded machine, never early.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from hardware import lights as status_lights
from hardware.lights import Pins, StatusLights
from kiosk.outcome import Kind, Light, Outcome, Sound

EARLY = 0.02  # seconds: a change this much before its time is a pattern too fast
WAIT = 30.0  # seconds: the longest a busy machine may take to show a pattern


@pytest.fixture
def lights() -> Iterator[StatusLights]:
    lights = StatusLights(
        Pins(green=17, amber=27, red=22, buzzer=18, help_button=5, done_button=6),
        pin_factory=MockFactory(),
    )
    yield lights
    lights.close()


def pin(lights: StatusLights, name: str) -> MockPin:
    part = getattr(lights, name)
    return part.pin


def start(lights: StatusLights) -> None:
    """Forget the history: the test looks at what happens from now."""
    for name in ("green", "amber", "red", "buzzer"):
        pin(lights, name).clear_states()


def timeline(p: MockPin) -> list[tuple[float, bool]]:
    """(seconds since clear_states, state) of each change."""
    t, out = 0.0, []
    for i, state in enumerate(p.states):
        t += state.timestamp if i else 0.0
        out.append((t, bool(state.state)))
    return out


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"not seen in {WAIT} s: {what}"
        time.sleep(0.01)


def changes_seen(p: MockPin, count: int) -> None:
    """Wait until the pin has changed *count* times since the history started."""
    wait_for(lambda: len(p.states) >= count, f"{count} changes: {timeline(p)}")


def assert_timeline(p: MockPin, expected: list[tuple[float, bool]]) -> None:
    """The pin goes through *expected* states, each no earlier than its time."""
    changes_seen(p, len(expected))
    actual = timeline(p)[: len(expected)]
    assert [s for _, s in actual] == [s for _, s in expected], actual
    for (t, _), (want, _) in zip(actual, expected, strict=True):
        assert t >= want - EARLY, (actual, expected)


def test_ready_is_green_steady(lights: StatusLights) -> None:
    lights.show(Light.READY)
    assert (lights.green.is_lit, lights.amber.is_lit, lights.red.is_lit) == (True, False, False)
    time.sleep(0.3)  # a blink would have changed it by now (no change can only pass)
    assert len(timeline(pin(lights, "green"))) == 2  # off, then on once: no blinking


def test_success_blinks_green_three_times_with_a_short_beep_then_ready(
    lights: StatusLights,
) -> None:
    lights.show(Light.READY)
    start(lights)
    lights.show(Light.SUCCESS, Sound.BEEP)
    on, off = status_lights.SUCCESS_BLINK[:2]
    period = on + off
    assert_timeline(
        pin(lights, "green"),
        [
            (0, True),  # on (ready) when the history starts
            (0, False),  # blinking starts from dark
            (0, True),
            (on, False),
            (period, True),
            (period + on, False),
            (2 * period, True),
            (2 * period + on, False),
            (3 * period, True),  # back to ready
        ],
    )
    assert_timeline(pin(lights, "buzzer"), [(0, False), (0, True), (0.1, False)])
    assert not lights.red.is_lit and not lights.amber.is_lit


def test_refused_is_red_for_two_seconds_with_a_long_low_beep_then_back(
    lights: StatusLights,
) -> None:
    lights.show(Light.READY)
    start(lights)
    lights.show(Light.REFUSED, Sound.LOW_BEEP)
    assert lights.red.is_lit  # show() came back at once: the pattern runs on its own
    assert_timeline(pin(lights, "red"), [(0, False), (0, True), (2.0, False)])
    assert_timeline(pin(lights, "green"), [(0, True), (0, False), (2.0, True)])
    assert_timeline(pin(lights, "buzzer"), [(0, False), (0, True), (0.5, False)])


def test_a_warning_is_amber_for_two_seconds_with_two_beeps_a_counted_book_a_click(
    lights: StatusLights,
) -> None:
    # The stocktake: a book from another shelf must be noticed; a counted one barely heard.
    lights.show(Light.READY)
    start(lights)
    lights.show(Light.WARNING, Sound.WARNING)
    time.sleep(2.3)
    assert_timeline(pin(lights, "amber"), [(0, False), (0, True), (2.0, False)])
    assert_timeline(pin(lights, "green"), [(0, True), (0, False), (2.0, True)])
    assert_timeline(
        pin(lights, "buzzer"), [(0, False), (0, True), (0.1, False), (0.2, True), (0.3, False)]
    )
    start(lights)
    lights.show(Light.SUCCESS, Sound.TICK)
    time.sleep(0.2)
    assert_timeline(pin(lights, "buzzer"), [(0, False), (0, True), (0.02, False)])


def test_closed_is_amber_steady_and_short_patterns_fall_back_to_it(lights: StatusLights) -> None:
    lights.show(Light.CLOSED)
    start(lights)
    lights.show(Light.SUCCESS)
    assert_timeline(pin(lights, "amber"), [(0, True), (0, False), (0.9, True)])
    wait_for(lambda: not lights.green.is_lit, "green off after the blinks")
    assert lights.amber.is_lit


def test_waiting_to_sync_is_a_slow_amber_blink(lights: StatusLights) -> None:
    start(lights)
    lights.show(Light.WAITING_TO_SYNC)
    assert_timeline(pin(lights, "amber"), [(0, False), (0, True), (1.0, False)])
    assert not lights.green.is_lit and not lights.red.is_lit


def test_fault_is_a_fast_red_blink_that_goes_on(lights: StatusLights) -> None:
    start(lights)
    lights.show(Light.FAULT, Sound.LOW_BEEP)
    on, off = status_lights.FAULT_BLINK[:2]
    # Blinking on and on: the pattern does not end (the kiosk needs a person to look).
    blinks = [[(n * (on + off), True), (n * (on + off) + on, False)] for n in range(4)]
    assert_timeline(pin(lights, "red"), [(0, False), *(c for b in blinks for c in b)])


def test_a_new_outcome_replaces_the_running_pattern(lights: StatusLights) -> None:
    lights.show(Light.FAULT)
    changes_seen(pin(lights, "red"), 4)  # blinking
    lights.show(Light.READY)
    start(lights)
    time.sleep(0.4)  # a blink still running would have changed red by now
    assert len(pin(lights, "red").states) == 1 and not lights.red.is_lit  # blinking stopped
    assert lights.green.is_lit


def test_a_replaced_short_pattern_does_not_come_back_later(lights: StatusLights) -> None:
    lights.show(Light.READY)
    lights.show(Light.REFUSED)
    start(lights)
    lights.show(Light.CLOSED)  # e.g. the library closed meanwhile
    started = time.monotonic()
    wait_for(lambda: time.monotonic() - started > 2.2, "the end of the refusal's two seconds")
    assert [s for _, s in timeline(pin(lights, "amber"))] == [False, True]
    assert not lights.green.is_lit and not lights.red.is_lit


def test_an_outcome_without_a_light_only_sounds(lights: StatusLights) -> None:
    lights.show(Light.CLOSED)
    start(lights)
    lights.listen(Outcome(Kind.IGNORED))  # nothing to show, nothing changes
    lights.listen(Outcome(Kind.CHOICE_NEEDED, sound=Sound.BEEP))
    assert_timeline(pin(lights, "buzzer"), [(0, False), (0, True), (0.1, False)])
    assert len(pin(lights, "amber").states) == 1 and lights.amber.is_lit


def test_listen_shows_the_light_and_sound_of_an_outcome(lights: StatusLights) -> None:
    lights.listen(Outcome(Kind.REFUSED, light=Light.REFUSED, sound=Sound.LOW_BEEP))
    assert lights.red.is_lit and lights.buzzer.is_active


def test_help_button_blinks_amber_beeps_and_calls_for_help() -> None:
    called: list[str] = []
    lights = StatusLights(
        Pins(buzzer=18, help_button=5, done_button=6),
        pin_factory=MockFactory(),
        on_help=lambda: called.append("help"),
        on_done=lambda: called.append("done"),
    )
    try:
        lights.show(Light.READY)
        start(lights)
        button = lights.help_button.pin  # pulled up: pressing connects it to ground
        button.drive_low()
        button.drive_high()
        wait_for(lambda: called == ["help"], "the call for help")
        changes_seen(pin(lights, "amber"), 4)
        assert [s for _, s in timeline(pin(lights, "amber"))][:4] == [False, True, False, True]
        assert not lights.green.is_lit
        changes_seen(pin(lights, "buzzer"), 3)
        assert [s for _, s in timeline(pin(lights, "buzzer"))][:3] == [False, True, False]
        pressed = time.monotonic()
        wait_for(lambda: time.monotonic() - pressed > 0.1, "the debounce time")
        lights.done_button.pin.drive_low()
        wait_for(lambda: called == ["help", "done"], "the done button")
    finally:
        lights.close()


def test_pins_mock_or_no_gpio_use_mockfactory_with_a_clear_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert isinstance(status_lights.pin_factory("mock"), MockFactory)
    if Path("/dev/gpiochip0").exists():
        pytest.skip("this machine has GPIO: the fallback cannot be seen here")
    caplog.set_level(logging.WARNING, logger="hardware.lights")
    # this machine has no GPIO (no lgpio, no /dev/gpiochip*): auto falls back and says so
    assert isinstance(status_lights.pin_factory("auto"), MockFactory)
    assert "no GPIO here" in caplog.text and "simulated" in caplog.text
    with pytest.raises(status_lights.NoGPIO, match="GPIO pins cannot be used"):
        status_lights.pin_factory("lgpio")
