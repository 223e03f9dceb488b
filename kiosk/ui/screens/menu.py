"""The small librarians' menu, today's counts, and "are you sure?" before switching off."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from kivy.clock import Clock
from kivy.properties import BooleanProperty, StringProperty

from kiosk.engine import State
from kiosk.ui.i18n import tr
from kiosk.ui.widgets import KioskScreen, load_kv

log = logging.getLogger(__name__)
# How often the open menu looks whether a sync brought a stocktake, or closed it (its button
# follows): often enough for a helper waiting for it, seldom enough to cost the Pi nothing.
STOCKTAKE_CHECK_SECONDS = 2.0


class SupervisorScreen(KioskScreen):
    helper = StringProperty("")
    kiosk_name = StringProperty("")
    status = StringProperty("")
    warning = StringProperty("")
    can_sync = BooleanProperty(False)
    can_confirm_clock = BooleanProperty(False)
    stocktake = StringProperty("")  # the name of the stocktake the office started, if any

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._syncing = False
        self._stocktake_at: dt.datetime | None = None

    def show(self, said: str = "") -> None:
        """What waits for the office, and what a helper should check (*said*: the last
        sync's answer)."""
        app = self.app
        office = app.library.office()
        offset = app.clock_off() if app.clock_off else None
        self.kiosk_name = tr._("This kiosk: {name}").format(name=app.kiosk.settings.name)
        status = tr.n_(
            "{n} change waiting to reach the office.",
            "{n} changes waiting to reach the office.",
            office.waiting,
        ).format(n=office.waiting)
        self.status = f"{status} {said}".strip()
        clock = app.kiosk.clock_state
        if clock == "wrong":
            self.warning = tr._(
                "The kiosk clock says {now}, which cannot be right: no book is lent until the "
                "date and time are set. If they are right, say so."
            ).format(now=app.kiosk.clock().astimezone(app.kiosk.tz).strftime("%Y-%m-%d %H:%M"))
        elif clock == "backwards":
            self.warning = tr._("The kiosk clock went backwards: please check the date and time.")
        elif offset is not None:
            self.warning = tr._(
                "The kiosk clock is {minutes} minutes off the office's: please check the date "
                "and time."
            ).format(minutes=round(abs(offset) / 60))
        else:
            self.warning = ""
        self.can_sync = app.sync_now is not None and office.enrolled
        self._stocktake_at = None
        self.follow_stocktake(app.kiosk.clock())
        self.can_confirm_clock = clock != "ok"

    def follow_stocktake(self, now: dt.datetime) -> None:
        """The Stocktake button as the office has it now: the background sync may start or
        close a stocktake while the menu is open (the app asks at each tick, this looks at
        most every STOCKTAKE_CHECK_SECONDS)."""
        if self._stocktake_at is not None and (
            0 <= (now - self._stocktake_at).total_seconds() < STOCKTAKE_CHECK_SECONDS
        ):
            return
        self._stocktake_at = now
        going_on = self.app.library.stocktake()
        self.stocktake = going_on.name if going_on else ""

    def sync(self) -> None:
        """One sync with the office, in its own thread: the network never freezes the screen."""
        sync_now = self.app.sync_now
        if sync_now is None or self._syncing:
            return
        self._syncing = True
        self.show(tr._("Syncing with the office..."))

        def work() -> None:
            failure: Exception | None = None
            try:
                sync_now()
            except Exception as exc:  # the helper needs to know, whatever failed
                log.warning("sync now failed: %s", exc)
                failure = exc
            Clock.schedule_once(lambda _dt: self._synced(failure))

        threading.Thread(target=work, name="kiosk-sync-now", daemon=True).start()

    def _synced(self, failure: Exception | None) -> None:
        self._syncing = False
        if self.app.kiosk.state == State.IDLE:
            return  # the menu was left meanwhile
        if failure is None:
            self.show(tr._("Synced with the office."))
        else:
            self.show(tr._("The office could not be reached: {error}").format(error=failure))

    def wipe(self) -> None:
        self.helper = ""


class TodayScreen(KioskScreen):
    counts = StringProperty("")
    classes = StringProperty("")

    def show(self) -> None:
        """Loans, returns and visits of today, and per class how many borrowed: counts only,
        never who borrowed what (reading records are private, even from the helpers)."""
        day = self.app.library.today(self.app.kiosk.clock())
        self.counts = "\n".join(
            [
                tr.n_("{n} book lent", "{n} books lent", day.lent).format(n=day.lent),
                tr.n_("{n} book brought back", "{n} books brought back", day.returned).format(
                    n=day.returned
                ),
                tr.n_("{n} child came", "{n} children came", day.visits).format(n=day.visits),
            ]
        )
        self.classes = "\n".join(
            tr.n_("{name}: {n} child borrowed", "{name}: {n} children borrowed", n).format(
                name=name, n=n
            )
            for name, n in day.borrowers_by_class
        )

    def wipe(self) -> None:
        self.counts = self.classes = ""


class ConfirmScreen(KioskScreen):
    question = StringProperty("")
    action = StringProperty("")

    def ask(self, action: str) -> None:
        """Restart the app or switch the kiosk off: asked once more before it happens."""
        questions = {
            "restart": tr._("Restart the kiosk app?"),
            "shutdown": tr._("Switch the kiosk off? Wait until the screen is dark."),
        }
        self.question, self.action = questions[action], action
        self.app.supervisor_page("confirm")


load_kv(__file__)
