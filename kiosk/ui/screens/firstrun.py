"""A new kiosk's first start: the language, then on its own or connected to the office."""

from __future__ import annotations

import logging
import threading

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty

from kiosk.ui.i18n import tr
from kiosk.ui.widgets import KioskScreen, load_kv

log = logging.getLogger(__name__)


class FirstRunScreen(KioskScreen):
    step = NumericProperty(1)  # 1: the language; 2: on its own or with the office
    can_enroll = BooleanProperty(False)


class EnrollScreen(KioskScreen):
    status = StringProperty("")
    busy = BooleanProperty(False)
    address = ObjectProperty(None, allownone=True)  # text fields, made on first use
    code = ObjectProperty(None, allownone=True)

    def on_pre_enter(self, *_args: object) -> None:
        self.status = ""
        if self.address is None:
            # Text fields are made only when needed: on Linux each one looks for X11's
            # clipboard tools, which a kiosk does not have, and logs an alarming error.
            self.address = Factory.Field(hint_text="http://192.168.1.10:8000")
            self.code = Factory.Field()
            self.ids.address.add_widget(self.address)
            self.ids.code.add_widget(self.code)

    def connect(self) -> None:
        self.enroll_now(self.address.text, self.code.text)

    def enroll_now(self, address: str, code: str) -> None:
        """Enroll with the office in a thread of its own; the answer comes back by the Clock."""
        enroll = self.app.enroll
        if enroll is None or self.busy:
            return
        if not address.strip() or not code.strip():
            self.status = tr._("Type the office's address and the one-time code.")
            return
        self.busy, self.status = True, tr._("Connecting to the office...")

        def work() -> None:
            failure: Exception | None = None
            try:
                enroll(address.strip(), code.strip())
            except Exception as exc:  # the librarian needs to know, whatever failed
                log.warning("enrollment failed: %s", exc)
                failure = exc
            Clock.schedule_once(lambda _dt: self._enrolled(failure))

        threading.Thread(target=work, name="kiosk-enroll", daemon=True).start()

    def _enrolled(self, failure: Exception | None) -> None:
        self.busy = False
        if failure is not None:
            self.status = tr._("Could not connect: {error}").format(error=failure)
            return
        self.status = ""
        self.app.finish_setup()


load_kv(__file__)
