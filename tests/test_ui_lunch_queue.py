"""A lunch queue of 30 students through the real app, headless (kiosk/ui/lunch.py): card,
book, walk away. On every frame drawn once a child has been handed over (the next child has
scanned a card, or the receipt has gone), nothing of that child is on the screen."""

from __future__ import annotations

from pathlib import Path

from kiosk import cli
from kiosk.engine import Kiosk, State
from kiosk.models import Event
from kiosk.ui.driver import headless_environment
from tests.conftest import TUESDAY_LUNCH, TZ, FakeClock
from tests.test_ui import require_font

headless_environment()


def test_a_lunch_queue_of_30_never_shows_one_child_to_the_next(tmp_path: Path) -> None:
    require_font()
    from kivy.core.window import Window
    from sqlalchemy import select

    from kiosk.ui import lunch
    from kiosk.ui.driver import Driver

    cli._make_demo(tmp_path / "demo")
    store, cfg = cli.open_data(tmp_path / "demo")
    clock = FakeClock(TUESDAY_LUNCH)
    kiosk = Kiosk(store, cfg.kiosk, clock=clock, tz=TZ)
    queue = lunch.make_queue(kiosk)
    assert len({c.name for c in queue}) == 30
    driver = Driver.shared(kiosk)

    gone: list[lunch.Child] = []
    frames: list[str] = []
    seen: list[str] = []

    def check_frame(*_args: object) -> None:
        texts = driver.text()
        frames.append(driver.screen)
        for child in gone:
            if child.name in texts:
                seen.append(f"{child.name} on {driver.screen} after leaving: {texts!r}")
            # The idle screen's lists of new and popular books are the library's, not a
            # child's: a title there says nothing of who borrowed it.
            for title in child.titles if driver.screen != "idle" else ():
                if title in texts:
                    seen.append(f"{child.name}'s {title} on {driver.screen}: {texts!r}")

    # Every frame drawn, and after every step also the frame left on the screen (Kivy draws
    # nothing new when nothing changed, and what is on the screen stays there).
    def step(count: int = 1) -> None:
        for _ in range(count):
            original_frames()
            check_frame()

    original_frames = driver.frames
    driver.frames = step  # type: ignore[method-assign]
    Window.bind(on_flip=check_frame)
    try:
        lunch.run(driver, queue, handed_over=gone.append)
    finally:
        Window.unbind(on_flip=check_frame)
        driver.frames = original_frames  # type: ignore[method-assign]
        store.close()
    assert seen == []
    assert {c.name for c in gone} == {c.name for c in queue}  # every child was checked
    assert len(frames) > 300 and {"session", "receipt", "choice", "idle"} <= set(frames)
    assert kiosk.state == State.IDLE and driver.screen == "idle"

    with store.read() as db:
        events = db.scalars(select(Event).where(Event.type == "session_ended"))
        ended = [e.payload["reason"] for e in events]
    ways = [c.way for c in queue]
    # How each session ended, as the children did it (the last one walked away).
    assert ended[-30:].count("all_taken") == ways.count("all_taken")
    assert ended[-30:].count("next_card") == ways.count("next_card")
    assert ended[-30:].count("done") == ways.count("done")
