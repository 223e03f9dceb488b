"""The kiosk's touchscreen app: shows what the engine answers, and turns touches into actions.

All calls to the engine happen on Kivy's main thread. Codes from other threads (scanners,
standard input) reach it only through :meth:`KioskApp.submit` (or an inbox queue read by
:meth:`KioskApp.read_inbox`), which goes through Kivy's Clock; they are handled in order and
none is dropped, even while a message is showing (the new answer replaces the message).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import queue
import shlex
import subprocess
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.base import ExceptionHandler, ExceptionManager
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.properties import (
    BooleanProperty,
    DictProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, Screen, ScreenManager

from kiosk import service
from kiosk.engine import UNDO_SECONDS, Kiosk, Role, State
from kiosk.headless import Input, Scan, handle_line
from kiosk.outcome import Kind, Light, LoanLine, Outcome
from kiosk.readmodel import Library
from kiosk.ui import DESIGN_SIZE, messages
from kiosk.ui.i18n import LANGUAGES, tr
from kiosk.ui.messages import Message, Tone, book

log = logging.getLogger(__name__)

KV_FILE = Path(__file__).with_name("kiosk.kv")
TICK_SECONDS = 0.1
COUNTDOWN_FROM = 5  # the last seconds of a session or question, counted down on the screen
MENU_COUNTDOWN_FROM = 15  # the helpers' menu
RECEIPT_SECONDS = 4  # then "scan your card", before the next child in the queue steps up
RECEIPT_REASONS = ("done", "walk_away", "all_taken")
CLOSED_CHECK_SECONDS = 5
SHOWCASE_REFRESH_SECONDS = 300
ENTER_KEYS = (13, 271)  # Return, keypad Enter
ESCAPE, BACKSPACE = 27, 8


class _Colours(dict[str, tuple[float, float, float, float]]):
    """Colours by tone; a KV property not yet set (empty) gets the neutral one."""

    def __missing__(self, _tone: str) -> tuple[float, float, float, float]:
        return self[Tone.INFO]


TONE_COLOURS = _Colours(
    {
        Tone.GOOD: (0.16, 0.52, 0.24, 1),
        Tone.BAD: (0.78, 0.16, 0.16, 1),
        Tone.WAIT: (0.90, 0.58, 0.04, 1),
        Tone.INFO: (0.15, 0.38, 0.68, 1),
    }
)
SUPERVISOR_PAGES = ("supervisor", "find", "today", "confirm")
MARK_MODES = {State.BATCH_RETURN, State.MARK_DAMAGED, State.MARK_LOST}

# The office link, wired by kiosk/cli.py (the UI imports nothing of the sync client).
SyncNow = Callable[[], object]  # one sync with the office now; raises when it fails
Enroll = Callable[[str, str], object]  # enrolls with the office (address, one-time code); raises
ClockOff = Callable[[], float | None]  # seconds the office's clock is ahead, when minutes off

Listener = Callable[[Outcome], None]  # e.g. the status lights


def on_raspberry_pi() -> bool:
    model = Path("/proc/device-tree/model")
    try:
        return model.read_text(errors="replace").startswith("Raspberry Pi")
    except OSError:
        return False


def shutdown_command(configured: str) -> list[str] | None:
    """The command that switches the kiosk off: kiosk.toml's, or on a Raspberry Pi the one
    command the kiosk user may run through sudo (deploy/sudoers-library-kiosk)."""
    if configured.strip():
        return shlex.split(configured)
    return list(service.POWEROFF) if on_raspberry_pi() else None


class KeepRunning(ExceptionHandler):
    """Whatever fails while the kiosk runs, the students see a calm message, not a crash: the
    error is logged for the librarian and the app carries on (installed by kiosk.ui.run)."""

    def __init__(self, app: KioskApp) -> None:
        super().__init__()
        self.app = app

    def handle_exception(self, inst: BaseException) -> int:
        if isinstance(inst, KeyboardInterrupt):
            return ExceptionManager.RAISE
        log.error("the kiosk app failed; carrying on", exc_info=inst)
        try:
            self.app.show_fault()
        except Exception:  # the screen itself is broken: the log has the first error
            log.exception("could not show the fault on the screen")
        return ExceptionManager.PASS


class Root(FloatLayout):
    """The window's content: a touch anywhere keeps an open session or menu alive."""

    def on_touch_down(self, touch: Any) -> bool:
        App.get_running_app().keep_alive()
        return super().on_touch_down(touch)


class LoanRow(BoxLayout):
    title = StringProperty("")
    due = StringProperty("")
    tone = StringProperty(Tone.INFO.value)


class KioskButton(Button):
    tone = StringProperty(Tone.GOOD.value)


class ClassButton(KioskButton):
    selected = BooleanProperty(False)


class StudentButton(KioskButton):
    card = StringProperty("")


class KioskScreen(Screen):
    pass


class IdleScreen(KioskScreen):
    pass


class ClosedScreen(KioskScreen):
    opening = StringProperty("")
    today = StringProperty("")


class SessionScreen(KioskScreen):
    greeting = StringProperty("")
    class_name = StringProperty("")
    may_borrow = StringProperty("")
    blocked = StringProperty("")
    bring_back = StringProperty("")  # all the books a child may have: which to bring back first
    last_title = StringProperty("")
    last_due = StringProperty("")
    notice = StringProperty("")
    can_undo = BooleanProperty(False)


class MessageScreen(KioskScreen):
    headline = StringProperty("")
    body = StringProperty("")
    hint = StringProperty("")
    icon = StringProperty("")
    tone = StringProperty(Tone.INFO.value)
    can_override = BooleanProperty(False)


class ChoiceScreen(KioskScreen):
    title = StringProperty("")
    due = StringProperty("")
    late = StringProperty("")
    no_renew = StringProperty("")  # why keeping it longer is not offered


class ReceiptScreen(KioskScreen):
    headline = StringProperty("")
    summary = StringProperty("")


class PinScreen(KioskScreen):
    helper = StringProperty("")
    digits = StringProperty("")
    error = StringProperty("")


class SupervisorScreen(KioskScreen):
    helper = StringProperty("")
    kiosk_name = StringProperty("")
    status = StringProperty("")
    warning = StringProperty("")
    can_sync = BooleanProperty(False)


class FindScreen(KioskScreen):
    class_name = StringProperty("")


class TodayScreen(KioskScreen):
    counts = StringProperty("")
    classes = StringProperty("")


class BatchScreen(KioskScreen):
    mode = StringProperty("")
    heading = StringProperty("")
    instruction = StringProperty("")
    lines = ListProperty([])


class ConfirmScreen(KioskScreen):
    question = StringProperty("")
    action = StringProperty("")


class FirstRunScreen(KioskScreen):
    step = NumericProperty(1)
    can_enroll = BooleanProperty(False)


class EnrollScreen(KioskScreen):
    status = StringProperty("")
    busy = BooleanProperty(False)
    address = ObjectProperty(None, allownone=True)  # text fields, made on first use
    code = ObjectProperty(None, allownone=True)


SCREENS = {
    "idle": IdleScreen,
    "closed": ClosedScreen,
    "session": SessionScreen,
    "message": MessageScreen,
    "choice": ChoiceScreen,
    "receipt": ReceiptScreen,
    "pin": PinScreen,
    "supervisor": SupervisorScreen,
    "find": FindScreen,
    "today": TodayScreen,
    "batch": BatchScreen,
    "confirm": ConfirmScreen,
    "firstrun": FirstRunScreen,
    "enroll": EnrollScreen,
}


class KioskApp(App):
    """The touchscreen app around one :class:`~kiosk.engine.Kiosk`."""

    language = StringProperty("zh_CN")
    u = NumericProperty(1.0)  # scale: 1 at 800x480; sizes in the KV rules are multiples of it
    tone = StringProperty(Tone.GOOD.value)  # the colour band, matching the status light
    countdown = StringProperty("")
    typed = StringProperty("")  # a code typed on a keyboard, until Enter
    clock_warning = BooleanProperty(False)
    showcase = DictProperty({})
    kiosk = ObjectProperty(None)

    use_kivy_settings = False
    title = "Library Kiosk"
    kv_file = str(KV_FILE)

    def __init__(
        self,
        kiosk: Kiosk,
        *,
        locked: bool = True,
        sync_now: SyncNow | None = None,
        enroll: Enroll | None = None,
        clock_off: ClockOff | None = None,
        listeners: Iterable[Listener] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.kiosk = kiosk
        self.library = Library(kiosk.store, kiosk.tz)
        self.locked = locked
        self.sync_now = sync_now
        self.enroll = enroll
        self.clock_off = clock_off
        self.listeners = list(listeners)
        self.exit_action: str | None = None  # "restart" or "shutdown" once the app has stopped
        self.default_language = kiosk.settings.language
        self.first_run = False
        self.closed = False
        self._idle_light = Light.READY  # as the engine last said, for the colour band
        self._overlay: str | None = None  # "message" or "receipt", shown until _overlay_until
        self._overlay_until: dt.datetime | None = None
        self._supervisor_page = "supervisor"
        self._session_loans: list[LoanLine] = []
        self._new_copies: list[str] = []
        self._last_lent_at: dt.datetime | None = None
        self._session_name = ""
        self._checked_closed_at: dt.datetime | None = None
        self._showcase_at: dt.datetime | None = None
        self._ticker: Any = None
        self._switched_at: dt.datetime | None = None  # when a student last switched language
        self._syncing = False
        self._first_run_page = "firstrun"  # or "enroll"

    # -- Kivy life cycle ---------------------------------------------------------------

    def build(self) -> Root:
        root = Root()
        manager: ScreenManager = root.ids.screens
        manager.transition = NoTransition()
        for name, cls in SCREENS.items():
            manager.add_widget(cls(name=name))
        Window.bind(
            size=self._on_window_size,
            on_key_down=self._on_key_down,
            on_textinput=self._on_textinput,
            on_request_close=self._on_request_close,
        )
        self._on_window_size(Window, Window.size)
        Window.softinput_mode = "below_target"  # the docked keyboard never hides the field
        return root

    def on_start(self) -> None:
        self.start_over(self.kiosk)
        self._ticker = Clock.schedule_interval(lambda _dt: self.tick(), TICK_SECONDS)

    def on_stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        self._emit(self.kiosk.shutdown())

    def open_settings(self, *_args: Any) -> bool:
        return False  # Kivy's F1 settings panel would be a way out of the kiosk

    def start_over(self, kiosk: Kiosk) -> None:
        """Show *kiosk* from its idle screen (at start, and when tests or screenshots swap it)."""
        self.kiosk = kiosk
        self.library = Library(kiosk.store, kiosk.tz)
        setup = self.library.setup()
        self.first_run = not setup.done
        self.default_language = setup.language or kiosk.settings.language
        self.set_language(self.default_language)
        self._overlay = self._overlay_until = None
        self._wipe_overlays()
        self._supervisor_page = "supervisor"
        self._forget_session()
        self.typed = ""
        self.screen("batch").lines = []
        self.screen("supervisor").helper = ""
        self.clock_warning = kiosk.clock_backwards
        self.screen("firstrun").step = 1
        self._first_run_page = "firstrun"
        self.screen("firstrun").can_enroll = self.enroll is not None
        self._checked_closed_at = self._showcase_at = self._switched_at = None
        self._check_closed()
        self._settle()

    # -- input from other threads ----------------------------------------------------------

    def submit(self, item: Input) -> None:
        """A scan, a headless-mode line (a code or ``:touch arg``) or a device's own outcome,
        from any thread; handled on the main thread, in the order submitted."""
        Clock.schedule_once(lambda _dt: self._take(item), -1)

    def submit_scan(self, code: str, role: Role = "any") -> None:
        self.submit(Scan(code, role))

    def read_inbox(self, inbox: queue.Queue[Input | None]) -> None:
        """Take every input put on *inbox* (by a scanner thread, standard input...) until None."""

        def forward() -> None:
            while (item := inbox.get()) is not None:
                self.submit(item)

        threading.Thread(target=forward, name="kiosk-inbox", daemon=True).start()

    def _take(self, item: Input) -> None:
        match item:
            case Scan(code, role):
                self.scan(code, role)
            case Outcome():
                self._emit([item])
            case _:
                self._emit(handle_line(self.kiosk, item))

    # -- actions on the main thread ----------------------------------------------------------

    def scan(self, code: str, role: Role = "any") -> None:
        self._emit(self.kiosk.scan(code, role))

    def touch(self, action: str, arg: str | None = None) -> None:
        self._emit(self.kiosk.touch(action, arg))

    def keep_alive(self) -> None:
        if self.kiosk.state != State.IDLE:
            self.kiosk.touch("keep")

    def tick(self) -> None:
        self._emit(self.kiosk.tick())
        now = self.kiosk.clock()
        if self._overlay and self._overlay_until and now >= self._overlay_until:
            self.dismiss()
        if self.kiosk.state == State.IDLE:
            self._check_closed()
            left_alone = (now - (self._switched_at or now)).total_seconds()
            if left_alone > self.kiosk.settings.session_timeout_seconds:
                self._switched_at = None
                self.set_language(self.default_language)
        self._update_countdown()
        session = self.screen("session")
        session.can_undo = bool(
            self._last_lent_at and (now - self._last_lent_at).total_seconds() < UNDO_SECONDS
        )

    def show_fault(self) -> None:
        """Something failed inside the app: red, and a message to call the librarian."""
        self.tone = Tone.BAD.value
        self._message(messages.fault(Outcome(Kind.FAULT, reason="app")))
        self._settle()

    def dismiss(self) -> None:
        """Close the message or receipt showing, back to what the kiosk is doing."""
        self._overlay = self._overlay_until = None
        self._wipe_overlays()
        self._settle()

    def _wipe_overlays(self) -> None:
        # Emptied, not just hidden: they may name a student or the books they have.
        receipt, message = self.screen("receipt"), self.screen("message")
        receipt.headline = receipt.summary = ""
        message.headline = message.body = message.hint = ""
        message.can_override = False

    def set_language(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}")
        if language == self.language and tr.language == language:
            return
        tr.switch(language)
        self.language = language
        self._showcase_at = None  # the idle screen's lists are made again in this language
        if self.root is not None:
            self._refresh_idle()

    def other_language(self) -> str:
        return next(lang for lang in LANGUAGES if lang != self.language)

    def switch_language(self) -> None:
        """The idle screen's switch: for this student; the kiosk's own language comes back
        when their session ends, or after a while if no session starts."""
        self.set_language(self.other_language())
        self._switched_at = self.kiosk.clock()

    # -- first run -------------------------------------------------------------------------

    def choose_first_language(self, language: str) -> None:
        self.set_language(language)
        self.screen("firstrun").step = 2

    def finish_setup(self) -> None:
        """Standalone: remember the answers; the kiosk is ready for students."""
        self.library.finish_setup(self.language, self.kiosk.clock())
        self.default_language = self.language
        self.first_run = False
        self._settle()

    def first_run_page(self, page: str) -> None:
        """The first run's second question (standalone or not), or the office's address."""
        self._first_run_page = page
        enroll = self.screen("enroll")
        enroll.status = ""
        if page == "enroll" and enroll.address is None:
            # Text fields are made only when needed: on Linux each one looks for X11's
            # clipboard tools, which a kiosk does not have, and logs an alarming error.
            from kivy.factory import Factory

            enroll.address = Factory.Field(hint_text="http://192.168.1.10:8000")
            enroll.code = Factory.Field()
            enroll.ids.address.add_widget(enroll.address)
            enroll.ids.code.add_widget(enroll.code)
        self._settle()

    def enroll_from_fields(self) -> None:
        page = self.screen("enroll")
        self.enroll_now(page.address.text, page.code.text)

    def enroll_now(self, address: str, code: str) -> None:
        """Enroll with the office in a thread of its own; the answer comes back by the Clock."""
        page = self.screen("enroll")
        if self.enroll is None or page.busy:
            return
        if not address.strip() or not code.strip():
            page.status = tr._("Type the office's address and the one-time code.")
            return
        page.busy, page.status = True, tr._("Connecting to the office...")
        enroll = self.enroll

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
        page = self.screen("enroll")
        page.busy = False
        if failure is not None:
            page.status = tr._("Could not connect: {error}").format(error=failure)
            return
        page.status = ""
        self.finish_setup()

    # -- supervisor --------------------------------------------------------------------------

    def supervisor_page(self, page: str) -> None:
        if page not in SUPERVISOR_PAGES:
            raise ValueError(page)
        self._supervisor_page = page
        if page == "find":
            self._fill_find(self.screen("find").class_name)
        elif page == "today":
            self._fill_today()
        self._settle()

    def find_class(self, class_name: str) -> None:
        self._fill_find(class_name)

    def confirm(self, action: str) -> None:
        questions = {
            "restart": tr._("Restart the kiosk app?"),
            "shutdown": tr._("Switch the kiosk off? Wait until the screen is dark."),
        }
        page = self.screen("confirm")
        page.question, page.action = questions[action], action
        self.supervisor_page("confirm")

    def confirmed(self, action: str) -> None:
        if action == "shutdown":
            command = shutdown_command(self.kiosk.settings.shutdown_command)
            if command is not None:
                log.info("switching off: %s", shlex.join(command))
                subprocess.Popen(command)
        self.exit_action = action
        self.stop()

    def run_sync(self) -> None:
        """One sync with the office, in its own thread: the network never freezes the screen."""
        if self.sync_now is None or self._syncing:
            return
        self._syncing = True
        self._fill_supervisor(tr._("Syncing with the office..."))
        sync_now = self.sync_now

        def work() -> None:
            failure: Exception | None = None
            try:
                sync_now()
            except Exception as exc:  # the supervisor needs to know, whatever failed
                log.warning("sync now failed: %s", exc)
                failure = exc
            Clock.schedule_once(lambda _dt: self._synced(failure))

        threading.Thread(target=work, name="kiosk-sync-now", daemon=True).start()

    def _synced(self, failure: Exception | None) -> None:
        self._syncing = False
        if self.kiosk.state not in (State.SUPERVISOR, *MARK_MODES):
            return
        if failure is None:
            self._fill_supervisor(tr._("Synced with the office."))
        else:
            self._fill_supervisor(
                tr._("The office could not be reached: {error}").format(error=failure)
            )

    # -- outcomes ----------------------------------------------------------------------------

    def _emit(self, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        for outcome in outcomes:
            for listener in self.listeners:
                listener(outcome)
            if outcome.light is not None:
                self.tone = messages.TONE_OF_LIGHT[outcome.light].value
            self._show(outcome)
        self._settle()

    def _show(self, outcome: Outcome) -> None:
        state = self.kiosk.state
        match outcome.kind:
            case Kind.SESSION_STARTED | Kind.SESSION_RESUMED:
                self._fill_session(outcome)
                self._overlay = None
                self._wipe_overlays()  # the last child's receipt, if it was still up
            case Kind.CHECKED_OUT:
                self._checked_out(outcome)
                self._overlay = None
            case Kind.RETURNED if state in MARK_MODES:
                late = outcome.late_days or 0
                line = tr._("✔ {book} returned").format(book=book(outcome.title))
                self._batch_line(line + (f" ({messages.days_late(late)})" if late else ""))
            case Kind.RETURNED | Kind.RENEWED:
                self._loan_changed(outcome)
                self._message(messages.for_outcome(outcome))
            case Kind.CHOICE_NEEDED:
                choice = self.screen("choice")
                choice.title = book(outcome.title)
                choice.due = messages.day(outcome.due)
                choice.late = messages.days_late(outcome.late_days) if outcome.late_days else ""
                choice.no_renew = self._no_renew(outcome)
                self._overlay = None
            case Kind.REFUSED | Kind.UNKNOWN_CODE:
                self._refused(outcome, state)
            case Kind.SESSION_ENDED:
                self._ended(outcome)
            case Kind.PIN_NEEDED:
                pin = self.screen("pin")
                pin.helper, pin.digits, pin.error = outcome.name or "", "", ""
                self._overlay = None
            case Kind.SUPERVISOR:
                self._supervisor(outcome)
            case Kind.COPY_MARKED:
                marked = (
                    tr._("✔ {book} marked damaged")
                    if outcome.reason == "damaged"
                    else tr._("✔ {book} marked missing")
                )
                self._batch_line(marked.format(book=book(outcome.title)))
            case Kind.UNDONE:
                self._session_loans = [x for x in self._session_loans if x.copy != outcome.copy]
                self._last_lent_at = None
                session = self.screen("session")
                session.can_undo = False
                session.notice = tr._("{book} is not borrowed after all.").format(
                    book=book(outcome.title)
                )
                session.last_title = session.last_due = ""
                self._may_borrow(outcome.may_borrow)
                self._render_loans()
            case Kind.FAULT if outcome.reason == "clock_backwards":
                self.clock_warning = True  # for the supervisor; nothing a student can do
            case Kind.FAULT:
                self._message(messages.fault(outcome))
            case Kind.IGNORED:
                pass

    def _message(self, message: Message | None) -> None:
        if message is None:
            return
        page = self.screen("message")
        page.headline, page.body, page.hint = message.headline, message.body, message.hint
        page.icon, page.tone = message.icon, message.tone.value
        page.can_override = message.can_override
        self.tone = message.tone.value  # the band too: a normal limit is blue, not red
        self._overlay = "message"
        self._overlay_until = self.kiosk.clock() + dt.timedelta(seconds=message.seconds)

    def _no_renew(self, outcome: Outcome) -> str:
        """Why "keep it longer" is not offered on the choice screen ("" when it is)."""
        match outcome.detail.get("no_renew"):
            case None:
                return ""
            case "renew_late":
                return tr._("It is late: please bring it back.")
            case "renew_not_needed":
                return tr._("You can keep it until {due}.").format(due=messages.day(outcome.due))
            case _:
                return tr._("You cannot keep it longer: please bring it back by {due}.").format(
                    due=messages.day(outcome.due)
                )

    def _local_now(self) -> dt.datetime:
        return self.kiosk.clock().astimezone(self.kiosk.tz)

    def _refused(self, outcome: Outcome, state: State) -> None:
        message = messages.refusal(outcome, self._local_now())
        if state in MARK_MODES:
            self._batch_line(
                tr._("✘ {headline}: {body}").format(headline=message.headline, body=message.body)
            )
        elif state == State.PIN and outcome.reason == "wrong_pin":
            pin = self.screen("pin")
            pin.digits, pin.error = "", f"{message.headline}\n{message.body}"
        else:
            self._message(message)

    def _ended(self, outcome: Outcome) -> None:
        self._supervisor_page = "supervisor"
        # The helpers' pages name students too: nothing of them stays behind either.
        today = self.screen("today")
        today.lent = today.back = ""
        self.screen("batch").lines = []
        self.screen("find").ids.students.clear_widgets()
        taken = outcome.receipt
        # A receipt when the child is done (a touch, a quiet spell after a book, the last book
        # they may take), shown a few seconds only. None after the long wait for a first book
        # (the child has gone) nor after another card (the next child is standing there).
        self._wipe_overlays()
        if outcome.patron and outcome.reason in RECEIPT_REASONS:
            receipt = self.screen("receipt")
            receipt.headline = tr._("Goodbye, {name}!").format(name=self._session_name)
            if taken:
                lines = [
                    tr._("{book}: bring it back by {due}").format(
                        book=book(t.title), due=messages.day(t.due)
                    )
                    for t in taken
                ]
                receipt.summary = "\n".join(
                    [
                        tr.n_("You took {n} book:", "You took {n} books:", len(taken)).format(
                            n=len(taken)
                        ),
                        *lines,
                        tr._("Happy reading!"),
                    ]
                )
            else:
                receipt.summary = tr._("You did not take a book this time. See you soon!")
            self._overlay = "receipt"
            self._overlay_until = self.kiosk.clock() + dt.timedelta(seconds=RECEIPT_SECONDS)
        else:
            # Nothing of this child is shown to whoever comes next.
            self._overlay = self._overlay_until = None
        self._forget_session()
        self._switched_at = None
        self.set_language(self.default_language)
        self._check_closed(force=True)

    def _supervisor(self, outcome: Outcome) -> None:
        self._overlay = None
        if outcome.name:
            self.screen("supervisor").helper = outcome.name
        if outcome.reason in ("batch_return", "mark_damaged", "mark_lost"):
            batch = self.screen("batch")
            batch.mode, batch.lines = outcome.reason, []
            heading, instruction = {
                "batch_return": (
                    tr._("Return a pile of books"),
                    tr._("Scan each book. Every one is taken back at once."),
                ),
                "mark_damaged": (
                    tr._("Mark books damaged"),
                    tr._("Scan each damaged book, then give it to the librarian."),
                ),
                "mark_lost": (
                    tr._("Mark books lost"),
                    tr._("Scan the label or ISBN of each lost book."),
                ),
            }[outcome.reason]
            batch.heading, batch.instruction = heading, instruction
        else:
            self._supervisor_page = "supervisor"
            self._fill_supervisor()

    # -- filling screens ---------------------------------------------------------------------

    def _fill_session(self, outcome: Outcome) -> None:
        session = self.screen("session")
        if outcome.kind == Kind.SESSION_STARTED:
            self._new_copies, self._last_lent_at = [], None
            session.last_title = session.last_due = session.notice = ""
        self._session_name = outcome.name or ""
        session.greeting = tr._("Hello, {name}!").format(name=outcome.name or "")
        session.class_name = (
            tr._("Class {name}").format(name=outcome.class_name) if outcome.class_name else ""
        )
        blocked = str(outcome.detail.get("blocked") or "")
        session.blocked = (
            messages.session_block(blocked, outcome.detail, self._local_now()) if blocked else ""
        )
        back = outcome.detail.get("bring_back")
        session.bring_back = (
            tr._("To borrow a new book, first bring back {book}: scan it here.").format(
                book=book(str(back))
            )
            if back and not blocked
            else ""
        )
        self._session_loans = list(outcome.loans)
        self._may_borrow(outcome.may_borrow)
        self._render_loans()

    def _may_borrow(self, n: int | None) -> None:
        session = self.screen("session")
        if session.blocked or n is None:
            session.may_borrow = ""
        elif n == 0:
            session.may_borrow = tr._("You have all the books you may take.")
        else:
            session.may_borrow = tr.n_(
                "You may take {n} more book.", "You may take {n} more books.", n
            ).format(n=n)

    def _checked_out(self, outcome: Outcome) -> None:
        assert outcome.copy is not None and outcome.due is not None
        line = LoanLine(outcome.copy, outcome.title or "", outcome.due, 0)
        self._session_loans = [x for x in self._session_loans if x.copy != line.copy] + [line]
        self._new_copies.append(line.copy)
        self._last_lent_at = self.kiosk.clock()
        session = self.screen("session")
        session.can_undo = True
        session.last_title = book(line.title)
        session.last_due = tr._("Bring it back by {due}").format(due=messages.day(line.due))
        session.notice = ""
        self._may_borrow(outcome.may_borrow)
        self._render_loans()

    def _loan_changed(self, outcome: Outcome) -> None:
        if outcome.kind == Kind.RETURNED:
            self._session_loans = [x for x in self._session_loans if x.copy != outcome.copy]
        elif outcome.due is not None:
            self._session_loans = [
                LoanLine(x.copy, x.title, outcome.due, 0) if x.copy == outcome.copy else x
                for x in self._session_loans
            ]
        self._render_loans()

    def _render_loans(self) -> None:
        from kivy.factory import Factory

        box = self.screen("session").ids.loans
        box.clear_widgets()
        if not self._session_loans:
            box.add_widget(Factory.Row(text=tr._("You have no library books at home.")))
        new = [x for x in self._session_loans if x.copy in self._new_copies]
        old = [x for x in self._session_loans if x.copy not in self._new_copies]
        for loan in [*reversed(new), *old]:
            if loan.overdue_days:
                due = "✘ " + messages.days_late(loan.overdue_days)
                tone = Tone.BAD
            else:
                due = tr._("due {due}").format(due=messages.short_day(loan.due))
                tone = Tone.GOOD if loan.copy in self._new_copies else Tone.INFO
            mark = "✔ " if loan.copy in self._new_copies else ""
            box.add_widget(Factory.LoanRow(title=mark + book(loan.title), due=due, tone=tone))

    def _forget_session(self) -> None:
        """Wipe everything of the last student from the screens (privacy)."""
        self._session_loans, self._new_copies = [], []
        self._last_lent_at = None
        self._session_name = ""
        if self.root is None:
            return
        session = self.screen("session")
        for field in ("greeting", "class_name", "may_borrow", "blocked", "bring_back"):
            setattr(session, field, "")
        session.last_title = ""
        session.last_due = session.notice = ""
        session.ids.loans.clear_widgets()
        choice = self.screen("choice")
        choice.title = choice.due = choice.late = choice.no_renew = ""
        pin = self.screen("pin")
        pin.helper = pin.digits = pin.error = ""

    def _fill_supervisor(self, said: str = "") -> None:
        page = self.screen("supervisor")
        office = self.library.office()
        offset = self.clock_off() if self.clock_off else None
        page.kiosk_name = tr._("This kiosk: {name}").format(name=self.kiosk.settings.name)
        status = tr.n_(
            "{n} change waiting to reach the office.",
            "{n} changes waiting to reach the office.",
            office.waiting,
        ).format(n=office.waiting)
        page.status = f"{status} {said}".strip()
        if self.clock_warning:
            page.warning = tr._("The kiosk clock went backwards: please check the date and time.")
        elif offset is not None:
            page.warning = tr._(
                "The kiosk clock is {minutes} minutes off the office's: please check the date "
                "and time."
            ).format(minutes=round(abs(offset) / 60))
        else:
            page.warning = ""
        page.can_sync = self.sync_now is not None and office.enrolled

    def _fill_find(self, class_name: str) -> None:
        from kivy.factory import Factory

        page = self.screen("find")
        names = self.library.classes()
        class_name = class_name if class_name in names else (names[0] if names else "")
        students = self.library.find_students(class_name) if class_name else []
        page.class_name = class_name
        page.ids.classes.clear_widgets()
        for name in names:
            button = Factory.ClassButton(text=name, selected=name == class_name)
            button.bind(on_release=lambda b: self.find_class(b.text))
            page.ids.classes.add_widget(button)
        page.ids.students.clear_widgets()
        for student in students:
            # The card number too: two children of a class may have the same name.
            button = Factory.StudentButton(
                text=f"{student.name}\n{student.card}", card=student.card
            )
            button.bind(on_release=lambda b: self.touch("open_for", b.card))
            page.ids.students.add_widget(button)

    def _fill_today(self) -> None:
        page = self.screen("today")
        day = self.library.today(self.kiosk.clock())
        page.counts = "\n".join(
            [
                tr.n_("{n} book lent", "{n} books lent", day.lent).format(n=day.lent),
                tr.n_("{n} book brought back", "{n} books brought back", day.returned).format(
                    n=day.returned
                ),
                tr.n_("{n} child came", "{n} children came", day.visits).format(n=day.visits),
            ]
        )
        # Counts per class, never who borrowed what: reading records are private.
        page.classes = "\n".join(
            tr.n_("{name}: {n} child borrowed", "{name}: {n} children borrowed", n).format(
                name=name, n=n
            )
            for name, n in day.borrowers_by_class
        )

    def _batch_line(self, line: str) -> None:
        batch = self.screen("batch")
        batch.lines = [line, *batch.lines][:20]

    def _refresh_idle(self) -> None:
        now = self.kiosk.clock()
        if self._showcase_at and (now - self._showcase_at).total_seconds() < (
            SHOWCASE_REFRESH_SECONDS
        ):
            return
        self._showcase_at = now
        panels = self.library.idle(now)
        self.showcase = {
            "new": [book(b.title) for b in panels.arrivals],
            "popular": [
                tr.n_("{book} {n} time", "{book} {n} times", b.loans).format(
                    book=book(b.title), n=b.loans
                )
                for b in panels.popular
            ],
            "league": [
                (
                    tr._("{name}: all {students} ★")
                    if c.borrowed >= c.students
                    else tr._("{name}: {borrowed} of {students}")
                ).format(name=c.class_name, borrowed=c.borrowed, students=c.students)
                for c in panels.league
            ],
        }
        self._fill_panels()

    def _fill_panels(self) -> None:
        from kivy.factory import Factory

        idle = self.screen("idle")
        for key in ("new", "popular", "league"):
            box = idle.ids[key]
            box.clear_widgets()
            empty = tr._("Nobody yet this week") if key == "league" else tr._("Nothing yet")
            for line in self.showcase.get(key) or [empty]:
                box.add_widget(Factory.PanelLine(text=line))

    def _check_closed(self, *, force: bool = False) -> None:
        now = self.kiosk.clock()
        if (
            not force
            and self._checked_closed_at
            and 0 <= (now - self._checked_closed_at).total_seconds() < CLOSED_CHECK_SECONDS
        ):
            return
        self._checked_closed_at = now
        light = self.kiosk.idle_light()
        self._idle_light = light
        self.closed = light == Light.CLOSED
        local = self._local_now()
        opening = self.library.opening(now)
        closed = self.screen("closed")
        if opening.next_opening is None:
            closed.opening = tr._("No opening times are set yet.")
        else:
            closed.opening = tr._("It opens again {when}, for {grades}.").format(
                when=messages.when(opening.next_opening, local),
                grades=messages.grades(opening.next_grades),
            )
        if self.kiosk.state == State.IDLE and not self._overlay:
            self.tone = messages.TONE_OF_LIGHT[self._idle_light].value
            self._settle()

    def _update_countdown(self) -> None:
        left = self.kiosk.seconds_left()
        state = self.kiosk.state
        student = state in (State.SESSION, State.CHOICE)
        warn_from = COUNTDOWN_FROM if student else MENU_COUNTDOWN_FROM
        if left is None or state == State.IDLE or left > warn_from:
            self.countdown = ""
            return
        n = max(1, math.ceil(left))
        if state == State.CHOICE:
            text = tr.n_(
                "Back to your books in {n} second.", "Back to your books in {n} seconds.", n
            )
        elif state == State.SESSION and self._session_loans and self._new_copies:
            text = tr.n_(
                "Finishing in {n} second. Another book? Just scan it.",
                "Finishing in {n} seconds. Another book? Just scan it.",
                n,
            )
        elif state == State.SESSION:
            text = tr.n_(
                "Finishing in {n} second: scan a book, or touch the screen.",
                "Finishing in {n} seconds: scan a book, or touch the screen.",
                n,
            )
        else:
            text = tr.n_(
                "The menu closes in {n} second: touch the screen to keep it open.",
                "The menu closes in {n} seconds: touch the screen to keep it open.",
                n,
            )
        self.countdown = text.format(n=n)

    # -- which screen --------------------------------------------------------------------------

    def screen(self, name: str) -> Any:
        return self.root.ids.screens.get_screen(name)

    @property
    def current(self) -> str:
        return self.root.ids.screens.current

    def base_screen(self) -> str:
        """The screen of what the kiosk is doing, when no message is showing."""
        match self.kiosk.state:
            case State.IDLE if self.first_run:
                return self._first_run_page
            case State.IDLE:
                return "closed" if self.closed else "idle"
            case State.SESSION:
                return "session"
            case State.CHOICE:
                return "choice"
            case State.PIN:
                return "pin"
            case State.SUPERVISOR:
                return self._supervisor_page
            case _:
                return "batch"

    def _settle(self) -> None:
        name = self._overlay or self.base_screen()
        if name == "idle":
            self._refresh_idle()
        if name != "message" and self.kiosk.state == State.IDLE and not self._overlay:
            self.tone = messages.TONE_OF_LIGHT[self._idle_light].value
        self.root.ids.screens.current = name
        self._update_countdown()

    # -- window and keyboard -----------------------------------------------------------------

    def _on_window_size(self, _window: Any, size: tuple[int, int]) -> None:
        self.u = min(size[0] / DESIGN_SIZE[0], size[1] / DESIGN_SIZE[1])

    def _on_request_close(self, *_args: Any, **_kwargs: Any) -> bool:
        return self.locked  # True keeps the window open: only the supervisor menu exits

    def _on_key_down(
        self, _window: Any, key: int, _scancode: int, _text: str | None, _mods: list[str]
    ) -> bool:
        if key == ESCAPE:
            return True  # swallowed: Escape would close a Kivy app
        if self.current == "enroll":
            return False  # typing goes to the address and code fields
        if key == BACKSPACE:
            if self.current == "pin":
                pin = self.screen("pin")
                pin.digits = pin.digits[:-1]
            self.typed = self.typed[:-1]
            return True
        if key in ENTER_KEYS:
            if self.current == "pin":
                self.pin_ok()
            elif self.typed:
                code, self.typed = self.typed, ""
                # ":done", ":pin 1234"...: the touches of headless mode work typed here too.
                self._emit(handle_line(self.kiosk, code.encode()))
            return True
        return False

    def _on_textinput(self, _window: Any, text: str) -> None:
        if self.current == "enroll":
            return
        if self.current == "pin":
            for ch in text:
                if ch.isdigit():
                    self.pin_digit(ch)
            return
        self.typed = (self.typed + text)[-64:]

    # -- the PIN keypad ------------------------------------------------------------------------

    def pin_digit(self, digit: str) -> None:
        pin = self.screen("pin")
        pin.error = ""
        pin.digits = (pin.digits + digit)[:12]

    def pin_clear(self) -> None:
        self.screen("pin").digits = ""

    def pin_ok(self) -> None:
        pin = self.screen("pin")
        digits, pin.digits = pin.digits, ""
        if digits:
            self.touch("pin", digits)
