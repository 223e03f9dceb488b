"""The touchscreen's link to the office as `kiosk run` wires it (kiosk/cli.py), against the real
office server on loopback: the first run's "connect to the office server" and the helpers'
"sync now", with the real sync client behind the buttons."""

from __future__ import annotations

import pytest

from kiosk.cli import _office_link
from kiosk.engine import Kiosk
from kiosk.models import Setting
from kiosk.settings import ENROLLED, SETUP_DONE
from kiosk.store import Store, get_setting
from tests.conftest import FakeClock
from tests.sync.support import Office
from tests.test_ui import kiosk_fixture, open_menu, scan, ui_fixture  # noqa: F401 - fixtures


@pytest.fixture(name="office")
def office_on_sqlite(sqlite_office: Office) -> Office:
    """The office on SQLite: the office on PostgreSQL is the sync tests' business."""
    return sqlite_office


def test_the_first_run_connects_to_the_office_with_its_one_time_code(
    ui, kiosk: Kiosk, store: Store, office: Office
) -> None:
    ui.app.enroll = _office_link(kiosk)["enroll"]
    with store.write() as db:
        db.delete(db.get(Setting, SETUP_DONE))
    ui.start_over(kiosk)
    try:
        ui.press("中文")
        ui.press("连接办公室服务器")
        page = ui.app.screen("enroll")
        page.address.text, page.code.text = office.url, "NOT-A-CODE"
        ui.press("连接")
        assert ui.wait_for(lambda: "连接失败：" in ui.text(), timeout=30)
        assert ui.screen == "enroll"
        page.code.text = office.enroll_code()
        ui.press("连接")
        assert ui.wait_for(lambda: ui.screen == "idle", timeout=30)
        with store.read() as db:
            assert get_setting(db, ENROLLED) == office.url
        assert "test-kiosk" in office.ok("kiosks")  # by the name in its kiosk.toml
    finally:
        ui.app.enroll = None


def test_sync_now_in_the_helpers_menu_takes_the_loans_to_the_office(
    ui, kiosk: Kiosk, clock: FakeClock, office: Office
) -> None:
    link = _office_link(kiosk)
    link["enroll"](office.url, office.enroll_code())
    ui.app.sync_now, ui.app.clock_off = link["sync_now"], link["clock_off"]
    try:
        scan(ui, clock, "S1")
        scan(ui, clock, "B001")
        ui.press("完成")
        ui.app.dismiss()
        assert "B001" not in office.ok("loans")
        open_menu(ui, clock)
        ui.press("马上同步")
        assert ui.wait_for(lambda: "已与办公室同步。" in ui.text(), timeout=30)
        assert "还有0条记录没有同步到办公室。" in ui.text()
        assert "B001" in office.ok("loans")

        office.stop()  # the office PC is switched off: the helper is told, nothing is lost
        ui.press("马上同步")
        assert ui.wait_for(lambda: "连不上办公室：" in ui.text(), timeout=60)
        assert ui.screen == "supervisor"
    finally:
        ui.app.sync_now = ui.app.clock_off = None
