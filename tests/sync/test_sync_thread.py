"""The kiosk's background sync thread against a real server process on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from kiosk.cli import open_data
from sync import replica
from sync.client import SyncThread
from sync.kiosk_cli import start_background_sync
from tests.sync.support import KioskUnderTest, Office


def eventually(check: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def loans_at_office(office: Office) -> list[str]:
    return [json.loads(line)["copy"] for line in office.ok("loans", "--json").splitlines()]


@pytest.mark.slow
def test_background_sync_sends_soon_and_backs_off_while_the_office_is_away(
    office: Office, make_kiosk
) -> None:
    kiosk: KioskUnderTest = make_kiosk()
    kiosk.client.enroll(office.url, office.enroll_code(), "kiosk-a")
    thread = SyncThread(kiosk.client, period=60, poll=0.1, max_backoff=0.5).start()
    try:
        kiosk.lend("S1", "B001")
        assert eventually(lambda: loans_at_office(office) == ["B001"])

        office.stop()  # the office PC is switched off; the kiosk goes on lending
        kiosk.lend("S2", "B002")
        assert eventually(lambda: thread.last_error is not None)
        assert f"nothing answers at {office.url}" in (thread.last_error or "")
        with kiosk.store.read() as db:
            assert replica.status(db).pending > 0

        office.start()  # back on: the thread gets through by itself
        assert eventually(lambda: sorted(loans_at_office(office)) == ["B001", "B002"], 40)
        assert eventually(lambda: thread.last_error is None)
        with kiosk.store.read() as db:
            assert replica.status(db).pending == 0
    finally:
        thread.stop()


def test_background_sync_stops_for_a_revoked_kiosk(office: Office, make_kiosk) -> None:
    kiosk: KioskUnderTest = make_kiosk()
    kiosk.client.enroll(office.url, office.enroll_code(), "kiosk-a")
    office.ok("revoke", "kiosk-a")
    thread = SyncThread(kiosk.client, period=60, poll=0.1, max_backoff=0.5).start()
    assert eventually(lambda: not thread._thread.is_alive())
    assert "revoked" in (thread.last_error or "")


def test_kiosk_run_starts_sync_only_once_enrolled(office: Office, tmp_path) -> None:
    store, _cfg = open_data(tmp_path / "k")
    try:
        assert start_background_sync(store) is None  # a standalone kiosk stays standalone
    finally:
        store.close()
    from kiosk.cli import main as kiosk_main

    assert (
        kiosk_main(["--data", str(tmp_path / "k"), "enroll", office.url, office.enroll_code()]) == 0
    )
    store, _cfg = open_data(tmp_path / "k")
    thread = start_background_sync(store)
    try:
        assert thread is not None
        assert eventually(lambda: thread.last_report is not None)
        assert thread.last_report.pulled > 0
    finally:
        if thread is not None:
            thread.stop()
        store.close()
