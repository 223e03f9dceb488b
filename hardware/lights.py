"""Green, amber and red status LEDs, a buzzer and two buttons, with gpiozero.

:class:`StatusLights` shows each :class:`~kiosk.outcome.Light` pattern of DESIGN.md with
gpiozero's own background blinking, so showing one never blocks the caller. A new pattern
replaces the one running. Short patterns (success, refused, help) fall back by themselves to
the last steady one (ready, closed, waiting to sync, fault).

Without GPIO (a laptop, CI) or with ``pins = "mock"`` the same code runs on gpiozero's
``MockFactory``, whose pins record their states over time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gpiozero import LED, Button, Buzzer
from gpiozero.pins import Factory
from gpiozero.pins.mock import MockFactory

from kiosk.outcome import Light, Outcome, Sound

if TYPE_CHECKING:
    from kiosk.config import LightSettings

log = logging.getLogger(__name__)

# (on, off, times) of a blink; times None: until the next pattern
SUCCESS_BLINK = (0.15, 0.15, 3)
WAITING_BLINK = (1.0, 1.0, None)
FAULT_BLINK = (0.1, 0.1, None)
HELP_BLINK = (0.25, 0.25, None)
REFUSED_SECONDS = 2.0
WARNING_SECONDS = 2.0
HELP_SECONDS = 120.0  # amber blinks this long unless something else happens first
# An active buzzer has one pitch: the "low" beep of a refusal is told apart by its length.
BEEP_SECONDS = 0.1
LOW_BEEP_SECONDS = 0.5
# (on, off, times) of each sound; a counted book only clicks, so a queue of scans stays calm.
SOUNDS = {
    Sound.BEEP: (BEEP_SECONDS, 0, 1),
    Sound.LOW_BEEP: (LOW_BEEP_SECONDS, 0, 1),
    Sound.TICK: (0.02, 0, 1),
    Sound.WARNING: (BEEP_SECONDS, BEEP_SECONDS, 2),
}

STEADY = frozenset({Light.READY, Light.CLOSED, Light.WAITING_TO_SYNC, Light.FAULT})
LASTS = {
    Light.SUCCESS: SUCCESS_BLINK[0] * SUCCESS_BLINK[2] + SUCCESS_BLINK[1] * SUCCESS_BLINK[2],
    Light.REFUSED: REFUSED_SECONDS,
    Light.WARNING: WARNING_SECONDS,
    Light.HELP: HELP_SECONDS,
}


class NoGPIO(RuntimeError):
    """``pins = "lgpio"`` was asked for and this computer's GPIO cannot be opened."""


def pin_factory(pins: str = "auto") -> Factory:
    """The pin factory for *pins*: "mock", "lgpio", or "auto" (lgpio, else mock).

    lgpio is the one that works on a Pi 5 and on Raspberry Pi OS Bookworm (RPi.GPIO does not).
    """
    if pins == "mock":
        log.info('status lights on simulated pins (pins = "mock" in kiosk.toml)')
        return MockFactory()
    try:
        from gpiozero.pins.lgpio import LGPIOFactory

        return LGPIOFactory()
    except Exception as exc:  # no lgpio module, no /dev/gpiochip*, no permission: all the same
        if pins == "lgpio":
            raise NoGPIO(f"the GPIO pins cannot be used: {exc}") from exc
        log.warning(
            "no GPIO here (%s): the status lights are simulated (gpiozero MockFactory)", exc
        )
        return MockFactory()


@dataclass(frozen=True)
class Pins:
    """BCM pin numbers; None for a part that is not fitted."""

    green: int = 17
    amber: int = 27
    red: int = 22
    buzzer: int | None = None
    help_button: int | None = None
    done_button: int | None = None


class StatusLights:
    """The kiosk's LEDs, buzzer and buttons.

    *on_help* and *on_done* are called (on gpiozero's thread) when those buttons are pressed;
    the help button also blinks amber and beeps by itself, to call a small librarian.
    """

    def __init__(
        self,
        pins: Pins = Pins(),
        *,
        pin_factory: Factory | None = None,
        on_help: Callable[[], None] | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        self.pins = pins
        self.factory = pin_factory or MockFactory()
        self.green = LED(pins.green, pin_factory=self.factory)
        self.amber = LED(pins.amber, pin_factory=self.factory)
        self.red = LED(pins.red, pin_factory=self.factory)
        self.buzzer = (
            Buzzer(pins.buzzer, pin_factory=self.factory) if pins.buzzer is not None else None
        )
        self.on_help = on_help
        self.on_done = on_done
        self.help_button = self._button(pins.help_button, self._help_pressed)
        self.done_button = self._button(pins.done_button, self._done_pressed)
        self.showing: Light | None = None
        self._steady: Light = Light.READY
        self._lock = threading.Lock()
        self._generation = 0
        self._fallback: threading.Timer | None = None

    def show(self, light: Light | None, sound: Sound = Sound.NONE) -> None:
        """Start *light*'s pattern (None: keep the lights as they are) and play *sound*."""
        with self._lock:
            if light is not None:
                self._generation += 1
                if self._fallback is not None:
                    self._fallback.cancel()
                    self._fallback = None
                if light in STEADY:
                    self._steady = light
                self._draw(light)
                if light in LASTS:
                    self._fallback = threading.Timer(
                        LASTS[light], self._fall_back, args=(self._generation,)
                    )
                    self._fallback.daemon = True
                    self._fallback.start()
            self._sound(sound)

    def listen(self, outcome: Outcome) -> None:
        """Show an outcome: use as a listener of the headless mode or the UI."""
        if outcome.light is not None or outcome.sound != Sound.NONE:
            self.show(outcome.light, outcome.sound)

    def close(self) -> None:
        with self._lock:
            self._generation += 1
            if self._fallback is not None:
                self._fallback.cancel()
        parts = [self.green, self.amber, self.red, self.buzzer, self.help_button, self.done_button]
        for part in parts:
            if part is not None:
                part.close()

    def _draw(self, light: Light) -> None:
        for led in (self.green, self.amber, self.red):
            led.off()  # also stops a blink running in the background
        self.showing = light
        match light:
            case Light.READY:
                self.green.on()
            case Light.SUCCESS:
                self.green.blink(*SUCCESS_BLINK, background=True)
            case Light.REFUSED:
                self.red.on()
            case Light.CLOSED:
                self.amber.on()
            case Light.WAITING_TO_SYNC:
                self.amber.blink(*WAITING_BLINK, background=True)
            case Light.FAULT:
                self.red.blink(*FAULT_BLINK, background=True)
            case Light.HELP:
                self.amber.blink(*HELP_BLINK, background=True)
            case Light.WARNING:
                self.amber.on()

    def _fall_back(self, generation: int) -> None:
        with self._lock:
            if generation == self._generation:  # nothing newer has been shown since
                self._draw(self._steady)

    def _sound(self, sound: Sound) -> None:
        if self.buzzer is None or sound == Sound.NONE:
            return
        on, off, times = SOUNDS[sound]
        self.buzzer.beep(on, off, n=times, background=True)

    def _button(self, pin: int | None, pressed: Callable[[], None]) -> Button | None:
        if pin is None:
            return None
        button = Button(pin, pull_up=True, bounce_time=0.05, pin_factory=self.factory)
        button.when_pressed = pressed
        return button

    def _help_pressed(self) -> None:
        log.info("help button pressed")
        self.show(Light.HELP, Sound.BEEP)
        if self.on_help is not None:
            self.on_help()

    def _done_pressed(self) -> None:
        if self.on_done is not None:
            self.on_done()


def from_settings(
    settings: LightSettings,
    *,
    on_help: Callable[[], None] | None = None,
    on_done: Callable[[], None] | None = None,
) -> StatusLights:
    """The lights of kiosk.toml's [lights], on the GPIO or simulated pins."""
    pins = Pins(
        green=settings.green,
        amber=settings.amber,
        red=settings.red,
        buzzer=settings.buzzer,
        help_button=settings.help_button,
        done_button=settings.done_button,
    )
    factory = pin_factory(settings.pins)
    return StatusLights(pins, pin_factory=factory, on_help=on_help, on_done=on_done)
