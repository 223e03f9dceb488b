"""Faults between kiosk and office, each ending with both agreeing, nothing lost or doubled.

A real server process on loopback (SQLite and PostgreSQL); the dropped connection goes
through a real TCP relay that cuts the reply after the office has answered.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import func, select

from kiosk import settings
from kiosk.models import Copy, Event, Loan, Patron
from kiosk.store import get_setting, set_setting
from sync import replica, wire
from sync.client import OfficeUnreachable
from sync.server import models as office_models
from tests.sync.support import DroppingProxy, KioskUnderTest, Office, enrolled


def office_events(office: Office) -> list[tuple[int, int, str]]:
    database = office.database()
    with database.read() as session:
        rows = session.execute(
            select(
                office_models.Event.kiosk_id, office_models.Event.seq, office_models.Event.uuid
            ).order_by(office_models.Event.kiosk_id, office_models.Event.seq)
        ).all()
    database.close()
    return [tuple(r) for r in rows]


def kiosk_events(kiosk: KioskUnderTest) -> list[tuple[int, str]]:
    with kiosk.store.read() as db:
        return [tuple(r) for r in db.execute(select(Event.seq, Event.uuid).order_by(Event.seq))]


def open_loans_at_office(office: Office) -> dict[str, str]:
    lines = office.ok("loans", "--json").splitlines()
    return {row["copy"]: row["patron"] for row in map(json.loads, lines)}


def open_loans_at_kiosk(kiosk: KioskUnderTest) -> dict[str, str]:
    with kiosk.store.read() as db:
        loans = db.scalars(select(Loan).where(Loan.returned_at.is_(None)))
        return {loan.copy.code: loan.patron.card for loan in loans if loan.patron}


def assert_agree(office: Office, *kiosks: KioskUnderTest) -> None:
    """Every kiosk event at the office exactly once, all acknowledged, the same open loans."""
    held = office_events(office)
    assert len(held) == len(set(held))
    for kiosk in kiosks:
        with kiosk.store.read() as db:
            assert replica.status(db).pending == 0
            kiosk_id = int(get_setting(db, settings.KIOSK_ID) or 0)
        assert [(seq, uuid) for k, seq, uuid in held if k == kiosk_id] == kiosk_events(kiosk)
    expected = open_loans_at_office(office)
    for kiosk in kiosks:
        assert open_loans_at_kiosk(kiosk) == expected


def push_raw(office: Office, kiosk: KioskUnderTest, events: list[dict]) -> dict:
    token = replica.load_token(kiosk.store)
    body = {"sent_at": kiosk.clock().isoformat(), "events": events}
    reply = requests.post(
        f"{office.url}/api/v1/push",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def wire_events(kiosk: KioskUnderTest) -> list[dict]:
    with kiosk.store.read() as db:
        return [
            replica.to_wire(e).model_dump(mode="json")
            for e in db.scalars(select(Event).where(Event.acked_at.is_(None)).order_by(Event.seq))
        ]


def test_the_same_batch_sent_twice_is_stored_once(office: Office, make_kiosk) -> None:
    kiosk = enrolled(office, make_kiosk, sync=True)
    kiosk.lend("S1", "B001", "B002")
    batch = wire_events(kiosk)
    first = push_raw(office, kiosk, batch)
    second = push_raw(office, kiosk, batch)
    assert first["stored"] == len(batch) and second["stored"] == 0
    assert first["highest_seq"] == second["highest_seq"] == batch[-1]["seq"]
    assert open_loans_at_office(office) == {"B001": "S1", "B002": "S1"}
    kiosk.client.sync()
    assert_agree(office, kiosk)


def test_a_sequence_number_reused_with_another_event_is_refused(office: Office, make_kiosk) -> None:
    kiosk = enrolled(office, make_kiosk, sync=True)
    kiosk.lend("S1", "B001")
    batch = wire_events(kiosk)
    push_raw(office, kiosk, batch)
    impostor = dict(batch[-1], uuid=str(uuid.uuid4()))  # a kiosk database put back from a copy
    token = replica.load_token(kiosk.store)
    reply = requests.post(
        f"{office.url}/api/v1/push",
        json={"sent_at": kiosk.clock().isoformat(), "events": [impostor]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert reply.status_code == 409 and "enroll it again" in reply.json()["detail"]
    assert len(office_events(office)) == len(batch)


def test_batches_out_of_order_wait_for_the_gap_to_fill(office: Office, make_kiosk) -> None:
    kiosk = enrolled(office, make_kiosk, sync=True)
    kiosk.lend("S1", "B001")
    kiosk.scan("B001")  # returned: the return must not be applied before the checkout
    batch = wire_events(kiosk)
    early, late = batch[:2], batch[2:]
    reply = push_raw(office, kiosk, late)
    assert reply["highest_seq"] == 0
    assert reply["gaps"] == [[early[0]["seq"], early[-1]["seq"]]]
    assert reply["stored"] == len(late)
    assert open_loans_at_office(office) == {}
    reply = push_raw(office, kiosk, early)
    assert reply["highest_seq"] == late[-1]["seq"] and reply["gaps"] == []
    database = office.database()
    with database.read() as session:
        loan = session.scalar(select(office_models.Loan))
        assert loan is not None and loan.returned_at is not None
        assert session.scalar(select(func.count()).select_from(office_models.Conflict)) == 0
    database.close()
    kiosk.client.sync()
    assert_agree(office, kiosk)


def test_reply_lost_after_the_office_committed(office: Office, make_kiosk) -> None:
    kiosk = enrolled(office, make_kiosk, sync=True)
    proxy = DroppingProxy(office.port)
    with kiosk.store.write() as db:
        set_setting(db, settings.ENROLLED, proxy.url)
    try:
        kiosk.lend("S1", "B001")
        proxy.drop_next = 10  # more than the client's own retries: this sync fails
        with pytest.raises(OfficeUnreachable):
            kiosk.client.sync()
        assert proxy.dropped >= 1
        assert open_loans_at_office(office) == {"B001": "S1"}  # committed at the office
        with kiosk.store.read() as db:
            assert replica.status(db).pending > 0  # the kiosk never heard so

        kiosk.lend("S2", "B002")
        proxy.drop_next = 1  # one reply lost: the client's retry gets the answer
        report = kiosk.client.sync()
        # The office committed the batch whose reply was lost; the retry found it all there.
        assert report.stored == 0 and report.acknowledged > 0
        assert_agree(office, kiosk)
        assert len(office_events(office)) == len(kiosk_events(kiosk))
    finally:
        proxy.close()


@pytest.mark.slow
def test_server_killed_in_the_middle_of_a_batch(
    office: Office, make_kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sync.client

    monkeypatch.setattr(sync.client, "PUSH_BATCH", 1000)
    kiosk = enrolled(office, make_kiosk, sync=True)
    kiosk.lend("S1", "B001")
    from kiosk import outbox
    from kiosk.clock import read_clock
    from tests.conftest import TZ

    with kiosk.store.transaction() as tx:  # a long day of sessions: a big first batch
        moment = read_clock(tx.session, kiosk.clock(), TZ)
        for n in range(6000):
            outbox.append(tx, moment, wire.SessionStarted, patron=f"S{n % 5}")
    kiosk.lend("S2", "B002")

    failed: list[Exception] = []

    def sync() -> None:
        try:
            kiosk.client.sync()
        except OfficeUnreachable as exc:
            failed.append(exc)

    worker = threading.Thread(target=sync)
    worker.start()
    deadline = time.monotonic() + 30
    while not office_events(office) and time.monotonic() < deadline:
        time.sleep(0.005)
    office.kill()  # the first batch is in; the next is on its way or being written
    worker.join(60)
    assert failed, "the sync should have lost its office"
    partial = office_events(office)
    assert 0 < len(partial) < len(kiosk_events(kiosk))
    assert len(partial) % 1000 == 0  # whole batches only: nothing of the killed one
    office.start()
    kiosk.client.sync()
    assert_agree(office, kiosk)
    assert open_loans_at_office(office) == {"B001": "S1", "B002": "S2"}


@pytest.mark.slow
def test_server_gone_in_the_middle_of_a_pull(
    office: Office, make_kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sync.client

    monkeypatch.setattr(sync.client, "PULL_PAGE", 5)
    kiosk = make_kiosk("kiosk-a", library=False)
    kiosk.client.enroll(office.url, office.enroll_code(), "kiosk-a")

    def power_cut_after_first_page(done: int, total: int) -> None:
        if done == 5:
            office.kill()

    with pytest.raises(OfficeUnreachable):
        kiosk.client.sync(progress=power_cut_after_first_page)
    with kiosk.store.read() as db:
        cursor = get_setting(db, settings.CURSOR) or ""
        held = {
            "patron": db.scalar(select(func.count()).select_from(Patron)),
            "copy": db.scalar(select(func.count()).select_from(Copy)),
        }
    # Whole pages and their cursor were kept together (the first, and the next if it came
    # before the office went); nothing after the cursor.
    _, version = wire.split_cursor(cursor)
    database = office.database()
    with database.read() as session:
        kinds = session.scalars(
            select(office_models.Change.kind).where(office_models.Change.version <= version)
        ).all()
    database.close()
    assert len(kinds) in (5, 10)
    assert held == {kind: kinds.count(kind) for kind in held}
    assert held["copy"] < 13
    office.start()
    report = kiosk.client.sync()
    assert report.pulled > 0 and not report.reset
    with kiosk.store.read() as db:
        assert db.scalar(select(func.count()).select_from(Copy)) == 13
        assert db.scalar(select(func.count()).select_from(Patron)) == 6


def test_server_restored_from_a_backup(office: Office, make_kiosk, tmp_path) -> None:
    kiosk = enrolled(office, make_kiosk, sync=True)
    kiosk.lend("S1", "B001")
    kiosk.client.sync()
    office.backup()
    # After the backup: more loans reach the office, and a new book comes down.
    kiosk.lend("S2", "B002")
    (tmp_path / "after.csv").write_text("barcode,title\nLATE1,After The Backup\n")
    office.ok("import-books", str(tmp_path / "after.csv"))
    kiosk.client.sync()
    office.restore()  # the office PC's disk died; yesterday's backup is put back
    (tmp_path / "restored.csv").write_text("barcode,title\nNEW1,Bought Since\n")
    office.ok("import-books", str(tmp_path / "restored.csv"))

    report = kiosk.client.sync()
    assert report.reset  # a fresh full copy, not a silent skip of changes
    assert report.stored > 0  # the events the backup lacked were sent again
    assert open_loans_at_office(office) == {"B001": "S1", "B002": "S2"}
    assert_agree(office, kiosk)
    with kiosk.store.read() as db:
        from kiosk.models import Copy

        assert db.scalar(select(Copy).where(Copy.barcode == "NEW1")) is not None


def test_two_kiosks_lend_the_same_copy_offline(office: Office, make_kiosk, clock) -> None:
    a = enrolled(office, make_kiosk, "kiosk-a", sync=True)
    b = enrolled(office, make_kiosk, "kiosk-b", sync=True)
    a.lend("S1", "B001")  # at 13:45
    clock.advance(minutes=10)
    b.lend("S2", "B001")  # at 13:55: the book came back without a scan and went out again
    b.client.sync()  # the later checkout arrives first
    a.client.sync()
    assert open_loans_at_office(office) == {"B001": "S2"}
    conflicts = [json.loads(line) for line in office.ok("conflicts", "--json").splitlines()]
    assert [c["kind"] for c in conflicts] == ["lent_twice"]
    database = office.database()
    with database.read() as session:
        earlier = session.scalar(
            select(office_models.Loan).where(office_models.Loan.patron_card == "S1")
        )
        assert earlier.implicit_return and earlier.not_overdue
        later = session.scalar(
            select(office_models.Loan).where(office_models.Loan.patron_card == "S2")
        )
        assert earlier.returned_at == later.lent_at
    database.close()
    a.client.sync()
    b.client.sync()
    assert_agree(office, a, b)


def test_two_kiosks_same_copy_ordered_by_corrected_time_not_kiosk_clocks(
    office: Office, make_kiosk, clock
) -> None:
    fast = make_kiosk("kiosk-fast", own_clock=True)
    fast.clock.advance(minutes=30)  # this kiosk's clock runs half an hour fast
    fast.client.enroll(office.url, office.enroll_code(), "kiosk-fast")
    fast.client.sync()
    slow = enrolled(office, make_kiosk, "kiosk-slow", sync=True)
    fast.lend("S1", "B001")  # first in truth, though its clock says 14:15
    fast.client.sync()
    slow.lend("S2", "B001")  # later in truth, though its clock says 13:45
    slow.client.sync()
    assert open_loans_at_office(office) == {"B001": "S2"}
    fast.client.sync()
    assert_agree(office, fast, slow)


def test_two_kiosks_same_copy_either_arrival_order_same_result(
    office: Office, make_kiosk, clock
) -> None:
    a = enrolled(office, make_kiosk, "kiosk-a", sync=True)
    b = enrolled(office, make_kiosk, "kiosk-b", sync=True)
    a.lend("S1", "B001")
    clock.advance(minutes=10)
    b.lend("S2", "B001")
    a.client.sync()  # the earlier checkout arrives first this time
    b.client.sync()
    a.client.sync()
    assert open_loans_at_office(office) == {"B001": "S2"}
    assert_agree(office, a, b)
    kinds = [json.loads(line)["kind"] for line in office.ok("conflicts", "--json").splitlines()]
    assert kinds == ["lent_twice"]


def test_dates_are_iso_and_times_aware_at_the_office(office: Office, make_kiosk) -> None:
    kiosk = enrolled(office, make_kiosk, sync=True)
    kiosk.lend("S1", "B001")
    kiosk.client.sync()
    [loan] = [json.loads(line) for line in office.ok("loans", "--json").splitlines()]
    assert dt.datetime.fromisoformat(loan["lent_at"]).tzinfo is not None
