"""The kiosk's touchscreen app: its life cycle, which screen shows when, and the input.

Each screen fills itself (kiosk/ui/screens/, one module and .kv each, made when first shown)
from the engine's outcomes and from the read model (kiosk.readmodel), so the app never opens
a database session. The app hands each outcome to the screen it is for, decides which screen
shows, and takes scans, touches and keys.

A scan reaches the engine on the thread it comes from: the scanner reader hands its codes to
:meth:`KioskApp.submit` (standard input through an inbox queue read by
:meth:`KioskApp.read_inbox`), which calls the engine there and then, not on the next frame.
The engine takes one call at a time; only the answer waits for Kivy's main thread, and the
answers are shown in the order the engine gave them, none dropped, even while a message is
showing (the new answer replaces the message). The screens follow the engine's state as of
the last answer shown, never a state whose answer is still on its way.

At start, the idle screen kept when the kiosk last stopped (kiosk.ui.snapshot) may be shown
before the engine is loaded: the app starts without a kiosk, keeps every input that comes
meanwhile, and answers them in order once :meth:`KioskApp.ready` hands it the engine.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import queue
import shlex
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kivy.app import App
from kivy.base import ExceptionHandler, ExceptionManager
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.properties import NumericProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import ScreenManager

from kiosk import service
from kiosk.headless import Input, Scan, handle_line
from kiosk.outcome import Kind, Light, Outcome, Role, State
from kiosk.ui import DESIGN_SIZE, give_back_free_memory, messages, screens
from kiosk.ui.i18n import LANGUAGES, tr
from kiosk.ui.messages import Message, Tone, book
from kiosk.ui.snapshot import IdleSnapshot, Period
from kiosk.ui.widgets import Root

if TYPE_CHECKING:  # loaded after the first frame when the idle screen was kept (snapshot)
    from kiosk.engine import Kiosk
    from kiosk.readmodel import IdlePanels, Library

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
SUPERVISOR_PAGES = ("supervisor", "find", "today", "confirm")
MARK_MODES = {State.BATCH_RETURN, State.MARK_DAMAGED, State.MARK_LOST}
OVERLAYS = ("message", "receipt")
FREED_SECONDS = 0.5  # after a session: its screens emptied and drawn over, their memory free
BACKGROUND = (0.98, 0.97, 0.93, 1)  # warm paper

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


class KioskApp(App):
    """The touchscreen app around one :class:`~kiosk.engine.Kiosk`."""

    language = StringProperty("zh_CN")
    u = NumericProperty(1.0)  # scale: 1 at 800x480; sizes in the KV rules are multiples of it
    tone = StringProperty(Tone.GOOD.value)  # the colour band, matching the status light
    countdown = StringProperty("")
    countdown_share = NumericProperty(0.0)  # of the countdown still to go, for its bar
    typed = StringProperty("")  # a code typed on a keyboard, until Enter
    kiosk = ObjectProperty(None)

    use_kivy_settings = False
    title = "Library Kiosk"
    kv_file = str(KV_FILE)

    def __init__(
        self,
        kiosk: Kiosk | None,
        *,
        snapshot: IdleSnapshot | None = None,
        font: str = "",
        touchscreen: str = "",
        locked: bool = True,
        sync_now: SyncNow | None = None,
        enroll: Enroll | None = None,
        clock_off: ClockOff | None = None,
        listeners: Iterable[Listener] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if kiosk is not None:
            self.default_language = kiosk.settings.language
        elif snapshot is not None:
            self.default_language = snapshot.language
        else:
            raise ValueError("a kiosk, or the idle screen to show until it is loaded")
        self.kiosk = kiosk
        self.library: Library | None = None
        self.snapshot = snapshot  # shown until the engine is ready
        self.kept: IdleSnapshot | None = None  # the idle screen as the app stopped, for the next
        self.font, self.touchscreen = font, touchscreen
        self.locked = locked
        self.sync_now = sync_now
        self.enroll = enroll
        self.clock_off = clock_off
        self.listeners = list(listeners)
        self.exit_action: str | None = None  # "restart" or "shutdown" once the app has stopped
        self.first_run = False
        self.closed = False
        self._idle_light = Light.READY  # as the engine last said, for the colour band
        self._overlay: str | None = None  # "message" or "receipt", shown until _overlay_until
        self._overlay_until: dt.datetime | None = None
        self._supervisor_page = "supervisor"
        self._first_run_page = "firstrun"  # or "enroll"
        self._checked_closed_at: dt.datetime | None = None
        self._showcase_at: dt.datetime | None = None
        self._switched_at: dt.datetime | None = None  # when a student last switched language
        self._ticker: Any = None
        # The engine's answers not shown yet, each with the engine's state after it, in the
        # engine's order: a call and the keeping of its answer happen under one lock.
        self._answering = threading.RLock()
        self._unshown: deque[tuple[list[Outcome], State]] = deque()
        self._waiting: list[Callable[[], list[Outcome]]] = []  # came before the engine was ready
        self.state = kiosk.state if kiosk else State.IDLE  # as of the last answer shown

    # -- Kivy life cycle ---------------------------------------------------------------

    def build(self) -> Root:
        Window.clearcolor = BACKGROUND
        root = Root()
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
        if self.kiosk is None:
            self._show_snapshot()
        else:
            self.start_over(self.kiosk)
            self._ticker = Clock.schedule_interval(lambda _dt: self.tick(), TICK_SECONDS)

    def ready(self, kiosk: Kiosk) -> None:
        """The engine is loaded (on the main thread): it answers the inputs that came
        meanwhile, in order, and the idle screen is read from its store from now on."""
        with self._answering:  # no input overtakes those that waited
            self.start_over(kiosk)  # the idle screen read from the store, before they change it
            for call in self._waiting:
                self._unshown.append((call(), kiosk.state))
            self._waiting.clear()
        self._show_answers()
        self._ticker = Clock.schedule_interval(lambda _dt: self.tick(), TICK_SECONDS)

    def on_stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self.kiosk is None:  # stopped while loading: the next start reads the store first
            return
        self._answer(self.kiosk.shutdown)
        try:
            self.kept = self.idle_snapshot()
        except Exception:  # a full disk, a broken file: the next start reads the store first
            log.warning("could not keep the idle screen for the next start", exc_info=True)

    def idle_snapshot(self) -> IdleSnapshot | None:
        """The idle screen as it is now, to show at the next start (None at the first run)."""
        assert self.kiosk is not None and self.library is not None
        if self.first_run:
            return None
        now = self.kiosk.clock()
        arrivals, popular, league = _panel_lines(self.library.idle(now))
        periods, lasts = self.library.idle_periods(now)
        light = self.kiosk.idle_light()
        return IdleSnapshot(
            font=self.font,
            touchscreen=self.touchscreen,
            language=self.default_language,
            light=(Light.READY if light == Light.CLOSED else light).value,
            arrivals=arrivals,
            popular=popular,
            league=league,
            periods=[
                Period(at, opening.open_now, opening.next_opening, opening.next_grades)
                for at, opening in periods
            ],
            lasts=lasts,
        )

    def _show_snapshot(self) -> None:
        """The idle screen kept at the last stop, until the engine is ready."""
        snapshot = self.snapshot
        assert snapshot is not None
        self.set_language(snapshot.language)
        now = dt.datetime.now(dt.UTC)
        period = snapshot.at(now)
        self._idle_light = Light(snapshot.light) if period.open else Light.CLOSED
        self.closed = not period.open
        if self.closed:
            opens = period.next_opening
            self.screen("closed").show(
                opens, period.next_grades, now.astimezone(opens.tzinfo if opens else None)
            )
        self._settle()

    def open_settings(self, *_args: Any) -> bool:
        return False  # Kivy's F1 settings panel would be a way out of the kiosk

    def start_over(self, kiosk: Kiosk) -> None:
        """Show *kiosk* from its idle screen (at start, and when tests or screenshots swap it)."""
        from kiosk.readmodel import Library

        with self._answering:
            if kiosk is not self.kiosk:  # another kiosk: the last one's answers go unshown
                self._unshown.clear()
                self.state = kiosk.state
            self.kiosk = kiosk
        self.library = Library(kiosk.store, kiosk.tz)
        setup = self.library.setup()
        self.first_run = not setup.done
        self.default_language = setup.language or kiosk.settings.language
        self.set_language(self.default_language)
        self._overlay = self._overlay_until = None
        self._forget_everyone()
        self._supervisor_page = "supervisor"
        self._first_run_page = "firstrun"
        self.typed = ""
        if self.first_run:
            first = self.screen("firstrun")
            first.step, first.can_enroll = 1, self.enroll is not None
        self._checked_closed_at = self._showcase_at = self._switched_at = None
        self._check_closed()
        self._settle()

    def end(self, action: str) -> None:
        """The helpers' menu restarts the app or switches the kiosk off (confirmed)."""
        if action == "shutdown":
            command = shutdown_command(self.kiosk.settings.shutdown_command)
            if command is not None:
                log.info("switching off: %s", shlex.join(command))
                subprocess.Popen(command)
        self.exit_action = action
        self.stop()

    # -- screens -------------------------------------------------------------------------------

    def screen(self, name: str) -> Any:
        """The screen called *name*, made (and its module loaded) the first time."""
        manager: ScreenManager = self.root.ids.screens
        if not manager.has_screen(name):
            manager.add_widget(screens.make(name))
        return manager.get_screen(name)

    def _made(self, name: str) -> Any | None:
        manager: ScreenManager = self.root.ids.screens
        return manager.get_screen(name) if manager.has_screen(name) else None

    @property
    def current(self) -> str:
        return self.root.ids.screens.current

    def base_screen(self) -> str:
        """The screen of what the kiosk is doing, when no message is showing."""
        match self.state:
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
            case State.STOCKTAKE:
                return "stocktake"
            case _:
                return "batch"

    def _settle(self) -> None:
        name = self._overlay or self.base_screen()
        if name == "idle":
            self._refresh_idle()
        if name != "message" and self.state == State.IDLE and not self._overlay:
            self.tone = messages.TONE_OF_LIGHT[self._idle_light].value
        self.screen(name)
        self.root.ids.screens.current = name
        self._update_countdown()

    def supervisor_page(self, page: str) -> None:
        if page not in SUPERVISOR_PAGES:
            raise ValueError(page)
        self._supervisor_page = page
        if page != "confirm":
            self.screen(page).show()
        self._settle()

    def first_run_page(self, page: str) -> None:
        """The first run's second question (standalone or not), or the office's address."""
        self._first_run_page = page
        self._settle()

    def dismiss(self) -> None:
        """Close the message or receipt showing, back to what the kiosk is doing."""
        self._close_overlay()
        self._settle()

    def _close_overlay(self) -> None:
        self._overlay = self._overlay_until = None
        for name in OVERLAYS:  # emptied, not just hidden: they may name a child or books
            if shown := self._made(name):
                shown.wipe()

    def _forget_everyone(self) -> None:
        """Wipe everything of the people who were here from every screen (privacy)."""
        for name in screens.SCREENS:
            if (shown := self._made(name)) and name not in OVERLAYS:
                shown.wipe()
        if self._overlay is None:
            self._close_overlay()

    # -- input from any thread ----------------------------------------------------------------

    def submit(self, item: Input) -> None:
        """A scan, a headless-mode line (a code or ``:touch arg``) or a device's own outcome,
        from any thread: handled by the engine on that thread now, shown in turn."""
        match item:
            case Scan(code, role):
                self._answer(lambda: self.kiosk.scan(code, role))
            case Outcome():
                self._answer(lambda: [item])
            case _:
                self._answer(lambda: handle_line(self.kiosk, item))

    def submit_scan(self, code: str, role: Role = "any") -> None:
        self.submit(Scan(code, role))

    def read_inbox(self, inbox: queue.Queue[Input | None]) -> None:
        """Take every input put on *inbox* (by a scanner thread, standard input...) until None."""

        def forward() -> None:
            while (item := inbox.get()) is not None:
                self.submit(item)

        threading.Thread(target=forward, name="kiosk-inbox", daemon=True).start()

    def _answer(self, call: Callable[[], list[Outcome]]) -> None:
        """Call the engine on this thread; its answer is shown on the main thread, after
        every answer before it (at once when this is the main thread)."""
        with self._answering:
            if self.kiosk is None:  # still loading: answered in turn once it is ready
                self._waiting.append(call)
                return
            self._unshown.append((call(), self.kiosk.state))
        if threading.current_thread() is threading.main_thread():
            self._show_answers()
        else:
            Clock.schedule_once(lambda _dt: self._show_answers(), -1)

    def _show_answers(self) -> None:
        while self._unshown:
            outcomes, self.state = self._unshown.popleft()
            self._emit(outcomes)

    # -- actions on the main thread ----------------------------------------------------------

    def scan(self, code: str, role: Role = "any") -> None:
        self._answer(lambda: self._engine.scan(code, role))

    def touch(self, action: str, arg: str | None = None) -> None:
        self._answer(lambda: self._engine.touch(action, arg))

    def keep_alive(self) -> None:
        if self.state != State.IDLE:
            self._engine.touch("keep")

    @property
    def _engine(self) -> Kiosk:
        assert self.kiosk is not None, "the engine answers once it is ready (KioskApp.ready)"
        return self.kiosk

    def tick(self) -> None:
        self._answer(self.kiosk.tick)
        now = self.kiosk.clock()
        if self._overlay and self._overlay_until and now >= self._overlay_until:
            self.dismiss()
        if self.state == State.IDLE:
            self._check_closed()
            left_alone = (now - (self._switched_at or now)).total_seconds()
            if left_alone > self.kiosk.settings.session_timeout_seconds:
                self._switched_at = None
                self.set_language(self.default_language)
        self._update_countdown()
        if session := self._made("session"):
            session.tick(now)
        if self.current == "supervisor":
            self.screen("supervisor").follow_stocktake(now)

    def show_fault(self) -> None:
        """Something failed inside the app: red, and a message to call the librarian."""
        self.tone = Tone.BAD.value
        self._message(messages.fault(Outcome(Kind.FAULT, reason="app")))
        self._settle()

    # -- languages -----------------------------------------------------------------------------

    def set_language(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}")
        if language == self.language and tr.language == language:
            return
        tr.switch(language)
        self.language = language
        self._showcase_at = None  # the idle screen's lists are made again in this language
        if self._made("idle"):
            self._refresh_idle()

    def other_language(self) -> str:
        return next(lang for lang in LANGUAGES if lang != self.language)

    def switch_language(self) -> None:
        """The idle screen's switch: for this student; the kiosk's own language comes back
        when their session ends, or after a while if no session starts."""
        self.set_language(self.other_language())
        self._switched_at = self.kiosk.clock() if self.kiosk else None

    # -- first run -------------------------------------------------------------------------

    def choose_first_language(self, language: str) -> None:
        self.set_language(language)
        self.screen("firstrun").step = 2

    def finish_setup(self) -> None:
        """Standalone (or just enrolled): remember the answers; ready for students."""
        self.library.finish_setup(self.language, self.kiosk.clock())
        self.default_language = self.language
        self.first_run = False
        self._settle()

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
        state = self.state
        match outcome.kind:
            case Kind.SESSION_STARTED | Kind.SESSION_RESUMED:
                self._close_overlay()  # the last child's receipt, if it was still up
                self.screen("session").start(outcome, self._local_now())
            case Kind.CHECKED_OUT:
                self._close_overlay()
                self.screen("session").lent(outcome, self.kiosk.clock())
            case Kind.RETURNED if state in MARK_MODES:
                late = outcome.late_days or 0
                line = tr._("✔ {book} returned").format(book=book(outcome.title))
                self.screen("batch").said(line + (f" ({messages.days_late(late)})" if late else ""))
            case Kind.RETURNED | Kind.RENEWED:
                if session := self._made("session"):
                    session.loan_changed(outcome)
                self._message(messages.for_outcome(outcome))
            case Kind.CHOICE_NEEDED:
                self._close_overlay()
                self.screen("choice").ask(outcome)
            case Kind.REFUSED | Kind.UNKNOWN_CODE:
                self._refused(outcome, state)
            case Kind.SESSION_ENDED:
                self._ended(outcome)
            case Kind.PIN_NEEDED:
                self._close_overlay()
                self.screen("pin").ask(outcome.name or "")
            case Kind.SUPERVISOR:
                self._supervisor(outcome)
            case Kind.COPY_MARKED:
                marked = (
                    tr._("✔ {book} marked damaged")
                    if outcome.reason == "damaged"
                    else tr._("✔ {book} marked missing")
                )
                self.screen("batch").said(marked.format(book=book(outcome.title)))
            case Kind.SHELF_CHOSEN:
                self.screen("stocktake").shelf_chosen(outcome)
            case Kind.COUNTED:
                self.screen("stocktake").book_counted(outcome)
            case Kind.UNDONE:
                self.screen("session").undone(outcome)
            case Kind.FAULT if outcome.reason in ("clock_backwards", "clock_wrong"):
                pass  # for the helpers' menu (kiosk.clock_state); nothing a student can do
            case Kind.FAULT:
                self._message(messages.fault(outcome))
            case Kind.IGNORED:
                pass

    def _message(self, message: Message | None) -> None:
        if message is None:
            return
        self.screen("message").show(message)
        self.tone = message.tone.value  # the band too: a normal limit is blue, not red
        self._overlay = "message"
        now = self.kiosk.clock() if self.kiosk else dt.datetime.now(dt.UTC)  # a fault at start
        self._overlay_until = now + dt.timedelta(seconds=message.seconds)

    def _refused(self, outcome: Outcome, state: State) -> None:
        message = messages.refusal(outcome, self._local_now())
        if state in MARK_MODES:
            self.screen("batch").said(
                tr._("✘ {headline}: {body}").format(headline=message.headline, body=message.body)
            )
        elif state == State.STOCKTAKE:
            self.screen("stocktake").refused(message)
        elif state == State.PIN and outcome.reason == "wrong_pin":
            self.screen("pin").wrong(message)
        else:
            if outcome.reason == "stocktake_closed":
                self.screen("supervisor").show()  # its stocktake button goes
            self._message(message)

    def _ended(self, outcome: Outcome) -> None:
        """A session or menu ended: nothing of whoever was here stays on any screen. A child
        who is done (a touch, a quiet spell after a book, the last book they may take) gets
        the receipt for a few seconds; not after the long wait for a first book (they have
        gone), nor after another card (the next child is standing there)."""
        session = self._made("session")
        name = session.child if session else ""
        self._supervisor_page = "supervisor"
        self._close_overlay()
        self._forget_everyone()
        if outcome.patron and outcome.reason in RECEIPT_REASONS:
            self.screen("receipt").show(name, outcome.receipt)
            self._overlay = "receipt"
            self._overlay_until = self.kiosk.clock() + dt.timedelta(seconds=RECEIPT_SECONDS)
        self._switched_at = None
        self.set_language(self.default_language)
        self._check_closed(force=True)
        Clock.schedule_once(lambda _dt: give_back_free_memory(), FREED_SECONDS)

    def _supervisor(self, outcome: Outcome) -> None:
        self._close_overlay()
        menu = self.screen("supervisor")
        if outcome.name:
            menu.helper = outcome.name
        if outcome.reason in ("batch_return", "mark_damaged", "mark_lost"):
            self.screen("batch").start(outcome.reason)
        elif outcome.reason == State.STOCKTAKE:
            self.screen("stocktake").start(self.library.stocktake())
        else:
            self._supervisor_page = "supervisor"
            menu.show()

    # -- time ----------------------------------------------------------------------------------

    def _local_now(self) -> dt.datetime:
        return self.kiosk.clock().astimezone(self.kiosk.tz)

    def _refresh_idle(self) -> None:
        if self.kiosk is None or self.library is None:
            if self.snapshot is not None:
                kept = self.snapshot
                self.screen("idle").show(kept.arrivals, kept.popular, kept.league)
            return
        now = self.kiosk.clock()
        if self._showcase_at and (now - self._showcase_at).total_seconds() < (
            SHOWCASE_REFRESH_SECONDS
        ):
            return
        self._showcase_at = now
        self.screen("idle").show(*_panel_lines(self.library.idle(now)))

    def _check_closed(self, *, force: bool = False) -> None:
        if self.kiosk is None or self.library is None:
            return
        now = self.kiosk.clock()
        if (
            not force
            and self._checked_closed_at
            and 0 <= (now - self._checked_closed_at).total_seconds() < CLOSED_CHECK_SECONDS
        ):
            return
        self._checked_closed_at = now
        self._idle_light = self.kiosk.idle_light()
        self.closed = self._idle_light == Light.CLOSED
        if self.closed or self._made("closed"):
            opening = self.library.opening(now)
            self.screen("closed").show(opening.next_opening, opening.next_grades, self._local_now())
        if self.state == State.IDLE and not self._overlay:
            self.tone = messages.TONE_OF_LIGHT[self._idle_light].value
            self._settle()

    def _update_countdown(self) -> None:
        left = self.kiosk.seconds_left() if self.kiosk else None
        state = self.state
        student = state in (State.SESSION, State.CHOICE)
        warn_from = COUNTDOWN_FROM if student else MENU_COUNTDOWN_FROM
        if left is None or state == State.IDLE or left > warn_from:
            self.countdown, self.countdown_share = "", 0.0
            return
        n = max(1, math.ceil(left))
        session = self._made("session")
        if state == State.CHOICE:
            text = tr.n_(
                "Back to your books in {n} second.", "Back to your books in {n} seconds.", n
            )
        elif state == State.SESSION and session is not None and session.took_books:
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
        self.countdown_share = left / warn_from

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
            if self.current in ("pin", "find"):
                self.screen(self.current).back()
            self.typed = self.typed[:-1]
            return True
        if key in ENTER_KEYS:
            if self.current == "pin":
                self.screen("pin").ok()
            elif self.typed:
                code, self.typed = self.typed, ""
                # ":done", ":pin 1234"...: the touches of headless mode work typed here too.
                self._answer(lambda: handle_line(self.kiosk, code.encode()))
            return True
        return False

    def _on_textinput(self, _window: Any, text: str) -> None:
        match self.current:
            case "enroll":
                return
            case "pin":
                for ch in text:
                    if ch.isdigit():
                        self.screen("pin").digit(ch)
            case "find":
                self.screen("find").type(text)  # the first letters of a name, or characters
            case _:
                self.typed = (self.typed + text)[-64:]


def _panel_lines(
    panels: IdlePanels,
) -> tuple[list[str], list[tuple[str, int]], list[tuple[str, int, int]]]:
    """The idle screen's lists as it shows them (and as they are kept for the next start)."""
    return (
        [b.title for b in panels.arrivals],
        [(b.title, b.loans) for b in panels.popular],
        [(c.class_name, c.borrowed, c.students) for c in panels.league],
    )
