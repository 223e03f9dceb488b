"""Batches applied in bulk: the office applies a pushed batch, and the kiosk a pulled page, as
a whole; a bad event anywhere in a batch changes nothing, and every event counts exactly once
however batches overlap. Real server process on loopback, SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid

import pytest
import requests
from sqlalchemy import func, select

from kiosk import settings
from kiosk.models import Copy, CopyStatus, Loan, Patron, Title
from kiosk.store import Store, get_setting
from sync import replica, wire
from sync.client import OfficeUnreachable
from sync.server import models as office_models
from sync.server.db import Database
from sync.server.services import catalogue, changes, classlists, kiosks, ledger
from tests.sync.support import KioskUnderTest, Office, enrolled
from tests.sync.test_sync_faults import (
    assert_agree,
    open_loans_at_office,
    push_raw,
    wire_events,
)


def office_counts(office: Office) -> dict[str, int]:
    database = office.database()
    with database.read() as session:
        counts = {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (
                office_models.Event,
                office_models.Loan,
                office_models.Change,
                office_models.Conflict,
            )
        }
        counts["max_version"] = session.scalar(select(func.max(office_models.Change.version))) or 0
    database.close()
    return counts


def post(office: Office, kiosk: KioskUnderTest, events: list[dict]) -> requests.Response:
    return requests.post(
        f"{office.url}/api/v1/push",
        json={"sent_at": kiosk.clock().isoformat(), "events": events},
        headers={"Authorization": f"Bearer {replica.load_token(kiosk.store)}"},
        timeout=30,
    )


def test_a_batch_with_a_bad_event_in_the_middle_changes_nothing(office: Office, make_kiosk) -> None:
    kiosk = enrolled(office, make_kiosk, sync=True)
    for card, book in (("S1", "B001"), ("S2", "B002"), ("S5", "B003")):
        kiosk.lend(card, book)
    batch = wire_events(kiosk)
    before = office_counts(office)
    middle = len(batch) // 2
    garbled = dict(batch[middle], payload={"loan": 42})  # no event of any kind looks so
    reply = post(office, kiosk, [*batch[:middle], garbled, *batch[middle + 1 :]])
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.json()["detail"]
    assert office_counts(office) == before
    assert open_loans_at_office(office) == {}

    # A sequence number the office holds with another event, after new ones: refused whole.
    reply = post(office, kiosk, [*batch, dict(batch[0], uuid=str(uuid.uuid4()))])
    assert reply.status_code == 409
    assert office_counts(office) == before

    kiosk.client.sync()
    assert open_loans_at_office(office) == {"B001": "S1", "B002": "S2", "B003": "S5"}
    assert_agree(office, kiosk)


def test_a_copy_lent_returned_and_lent_again_in_one_batch(office: Office, make_kiosk) -> None:
    kiosk = enrolled(office, make_kiosk, sync=True)
    other = enrolled(office, make_kiosk, "kiosk-b", sync=True)
    kiosk.lend("S1", "B001", "B002")
    kiosk.scan("B001")  # back, with no session open
    kiosk.lend("S2", "B001")
    kiosk.scan("B002")
    kiosk.lend("S5", "B002")
    batch = wire_events(kiosk)
    reply = push_raw(office, kiosk, batch)  # all of it in one batch
    assert reply["stored"] == len(batch) and reply["conflicts"] == []
    assert open_loans_at_office(office) == {"B001": "S2", "B002": "S5"}
    database = office.database()
    with database.read() as session:
        loans = session.scalars(
            select(office_models.Loan).order_by(office_models.Loan.lent_at)
        ).all()
        assert [(loan.copy_code, loan.patron_card, loan.returned_at is None) for loan in loans] == [
            ("B001", "S1", False),
            ("B002", "S1", False),
            ("B001", "S2", True),
            ("B002", "S5", True),
        ]
        statuses = session.scalars(
            select(office_models.Copy.status).where(
                office_models.Copy.barcode.in_(["B001", "B002"])
            )
        ).all()
        assert statuses == [CopyStatus.ON_LOAN, CopyStatus.ON_LOAN]
    database.close()
    # What the other kiosk pulls is the newest state of each row, the change log's one entry.
    other.client.sync()
    kiosk.client.sync()
    assert_agree(office, kiosk, other)


def test_overlapping_batches_count_each_event_once(office: Office, make_kiosk) -> None:
    kiosk = enrolled(office, make_kiosk, sync=True)
    for card, book in (("S1", "B001"), ("S2", "B002"), ("S5", "B003"), ("T1", "B004")):
        kiosk.lend(card, book)
    batch = wire_events(kiosk)
    half = len(batch) // 2
    first = push_raw(office, kiosk, batch[: half + 2])
    # A retry that overlaps what the office holds, with one event twice in the same request.
    second = push_raw(office, kiosk, [*batch[half:], batch[-1]])
    assert first["stored"] + second["stored"] == len(batch)
    assert second["highest_seq"] == batch[-1]["seq"]
    assert office_counts(office)["events"] == len(batch)
    assert open_loans_at_office(office) == {"B001": "S1", "B002": "S2", "B003": "S5", "B004": "T1"}
    database = office.database()
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(office_models.Loan)) == 4
    database.close()
    kiosk.client.sync()
    assert_agree(office, kiosk)


def test_unlabelled_copies_each_find_their_own_at_the_kiosk(office: Office, make_kiosk) -> None:
    # The kiosk and the office each hold two copies of 红楼梦 known by ISBN only.
    kiosk = enrolled(office, make_kiosk, sync=True)
    database = office.database()
    with database.read() as session:
        office_ids = set(
            session.scalars(
                select(office_models.Copy.id)
                .join(office_models.Title)
                .where(office_models.Title.isbn == "9787020002207")
            )
        )
    database.close()
    unlabelled = select(Copy).join(Title).where(Title.isbn == "9787020002207")
    with kiosk.store.read() as db:
        copies = db.scalars(unlabelled).all()
        assert len(copies) == 2
        assert {c.server_id for c in copies} == office_ids

    office.ok("mark-copy", "9787020002207", "lost")  # the first of them
    kiosk.client.sync()
    with kiosk.store.read() as db:
        statuses = sorted(c.status for c in db.scalars(unlabelled))
    assert statuses == [CopyStatus.AVAILABLE, CopyStatus.LOST]


def test_a_big_page_is_applied_whole_and_lends_to_students_it_brings(
    office: Office, make_kiosk, tmp_path
) -> None:
    kiosk = enrolled(office, make_kiosk, library=False)
    lender = enrolled(office, make_kiosk, "kiosk-b", sync=True)
    books = "barcode,title,author\n" + "".join(f"N{n:03d},New {n},Author\n" for n in range(300))
    students = "card,name,class,grade\n" + "".join(f"K{n:03d},Kid {n},4-1,4\n" for n in range(50))
    (tmp_path / "many-books.csv").write_text(books, encoding="utf-8")
    (tmp_path / "many-students.csv").write_text(students, encoding="utf-8")
    office.ok("import-books", str(tmp_path / "many-books.csv"))
    office.ok("import-students", str(tmp_path / "many-students.csv"))
    lender.client.sync()
    lender.lend("K007", "N007")
    lender.client.sync()

    report = kiosk.client.sync()  # a fresh kiosk: titles, copies, students and the loan at once
    assert report.pulled >= 300 * 2 + 50 + 1
    with kiosk.store.read() as db:
        loan = db.scalar(select(Loan).where(Loan.returned_at.is_(None)))
        assert loan is not None
        assert (loan.copy.code, loan.patron.card if loan.patron else None) == ("N007", "K007")
        assert loan.copy.title.title == "New 7"
        assert db.scalar(select(func.count()).select_from(Copy)) >= 300
    outcomes = kiosk.scan("K008", "N008")
    assert [o.kind.value for o in outcomes] == ["session_started", "checked_out"]


def test_a_page_with_a_garbled_row_is_refused_whole_and_the_pull_resumes_once_mended(
    office: Office, make_kiosk
) -> None:
    kiosk = enrolled(office, make_kiosk, library=False, sync=True)
    with kiosk.store.read() as db:
        cursor = get_setting(db, settings.CURSOR)
        titles = db.scalar(select(func.count()).select_from(Title))
    database = office.database()
    whole = {"id": 90001, "title": "Whole", "added_on": "2026-11-20"}
    with database.write() as session:  # as an office with a fault of its own might write them
        changes.record_change(session, "title", "90001", whole)
        changes.record_change(session, "title", "90002", {"id": 90002, "title": "Half"})
    with pytest.raises(OfficeUnreachable, match=r"cannot apply.*added_on"):
        kiosk.client.sync()
    with kiosk.store.read() as db:  # nothing of the page, and the pull starts there again
        assert get_setting(db, settings.CURSOR) == cursor
        assert db.scalar(select(func.count()).select_from(Title)) == titles

    with database.write() as session:
        half = {"id": 90002, "title": "Half", "added_on": "2026-11-21"}
        changes.record_change(session, "title", "90002", half)
    database.close()
    assert kiosk.client.sync().pulled == 2
    with kiosk.store.read() as db:
        pulled = db.scalars(select(Title.title).where(Title.server_id >= 90001)).all()
    assert sorted(pulled) == ["Half", "Whole"]


LOAN = "0b5e8a51-4d8e-4a8e-9f3c-2b7d9c1e6a42"


@pytest.mark.parametrize(
    "lent_at",
    [
        dt.datetime(2026, 11, 24, 5, 45, tzinfo=dt.UTC),  # on the second: formats differ
        dt.datetime(2026, 11, 24, 5, 45, 1, 17198, tzinfo=dt.UTC),  # as the office writes it
        dt.datetime(2026, 11, 24, 13, 45, 1, 17198, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    ],
    ids=["on-the-second", "utc", "utc+8"],
)
def test_pulled_times_are_stored_as_the_kiosk_stores_its_own(tmp_path, lent_at) -> None:
    # A page's rows go to the database without the ORM: a loan's times must still be written
    # as the kiosk writes its own, or the kiosk's queries by time would miss it.
    store = Store.open(tmp_path / "kiosk.db")
    loan = {"id": LOAN, "copy_id": 9, "patron": None, "lent_at": lent_at.isoformat()}
    page = [
        wire.Change(version=1, kind="title", key="7", data={"id": 7, "title": "Tide",
                                                            "added_on": "2026-11-01"}),
        wire.Change(version=2, kind="copy", key="9", data={"id": 9, "barcode": "T1",
                                                           "title_id": 7, "status": "on_loan"}),
        wire.Change(version=3, kind="loan", key=LOAN, data=loan | {"due_date": "2026-12-08"}),
    ]  # fmt: skip
    with store.write() as db:
        replica.apply_changes(db, page, dt.date(2026, 11, 24))
    with store.read() as db:
        assert db.scalar(select(func.count()).where(Loan.lent_at == lent_at)) == 1
        assert db.scalar(select(func.count()).where(Loan.lent_at < lent_at)) == 0
        assert db.scalar(select(func.count()).where(Title.added_on == dt.date(2026, 11, 1))) == 1
    store.close()


def test_a_page_of_new_rows_is_stored_as_the_orm_stores_the_same_rows(tmp_path) -> None:
    # A page of new rows is written as text, dates and times as the office sent them put in
    # the kiosk's own form: every value must be what the ORM would have stored, byte for byte.
    lent_at = dt.datetime(2026, 11, 24, 13, 45, 1, 17198, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    returned_at = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)  # on the second
    page = [
        wire.Change(version=1, kind="title", key="7", data={
            "id": 7, "isbn": "9780000000002", "title": "Tide", "author": "A. Author",
            "publisher": "Press", "year": 2001, "classification": "551", "added_on": "2026-11-01"}),
        wire.Change(version=2, kind="title", key="8", data={
            "id": 8, "title": "Bare", "added_on": "20261102"}),  # ISO 8601's short form
        wire.Change(version=3, kind="copy", key="9", data={
            "id": 9, "barcode": "T1", "title_id": 7, "status": "on_loan", "shelf": "A"}),
        wire.Change(version=4, kind="copy", key="10", data={
            "id": 10, "barcode": "T2", "title_id": 8, "status": "available"}),
        wire.Change(version=5, kind="patron", key="K1", data={
            "card": "K1", "name": "Kid", "kind": "student", "class_name": "4-1", "grade": 4,
            "active": True, "compensation_due": True, "pin_hash": None}),
        wire.Change(version=6, kind="loan", key=LOAN, data={
            "id": LOAN, "copy_id": 9, "patron": "K1", "lent_at": lent_at.isoformat(),
            "due_date": "2026-12-08", "returned_at": None, "renewals": 1, "lent_where": "hall",
            "implicit_return": False}),
        wire.Change(version=7, kind="loan", key=str(uuid.UUID(int=1)), data={
            "id": str(uuid.UUID(int=1)), "copy_id": 10, "patron": None,
            "lent_at": lent_at.isoformat(), "due_date": "2026-12-01",
            "returned_at": returned_at.isoformat(), "renewals": 0, "lent_where": "",
            "implicit_return": True}),
    ]  # fmt: skip
    pulled = Store.open(tmp_path / "pulled.db")
    with pulled.write() as db:
        replica.apply_changes(db, page, dt.date(2026, 11, 24))

    by_orm = Store.open(tmp_path / "orm.db")
    with by_orm.write() as db:
        tide = Title(
            id=1,
            server_id=7,
            isbn="9780000000002",
            title="Tide",
            author="A. Author",
            publisher="Press",
            year=2001,
            classification="551",
            added_on=dt.date(2026, 11, 1),
        )
        bare = Title(id=2, server_id=8, title="Bare", added_on=dt.date(2026, 11, 2))
        kid = Patron(
            id=1,
            card="K1",
            name="Kid",
            kind="student",
            class_name="4-1",
            grade=4,
            active=True,
            compensation_due=True,
        )
        db.add_all([tide, bare, kid])
        db.flush()
        db.add_all(
            [
                Copy(id=1, server_id=9, barcode="T1", title_id=1, status="on_loan", shelf="A"),
                Copy(id=2, server_id=10, barcode="T2", title_id=2, status="available"),
            ]
        )
        db.flush()
        db.add_all([
            Loan(id=LOAN, copy_id=1, patron_id=1, patron_class="4-1", patron_grade=4,
                 lent_at=lent_at, due_date=dt.date(2026, 12, 8), renewals=1, lent_where="hall",
                 implicit_return=False),
            Loan(id=str(uuid.UUID(int=1)), copy_id=2, lent_at=lent_at,
                 due_date=dt.date(2026, 12, 1), returned_at=returned_at, implicit_return=True),
        ])  # fmt: skip

    def stored(store: Store) -> dict[str, list[tuple]]:
        with sqlite3.connect(store.path) as raw:
            return {
                table: raw.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
                for table in ("titles", "copies", "patrons", "loans")
            }

    assert stored(pulled) == stored(by_orm)
    assert stored(pulled)["loans"][0][5] == "2026-11-24 05:45:01.017198"  # in UTC, as text
    pulled.close()
    by_orm.close()


@pytest.mark.parametrize(
    ("field", "value"),
    [("lent_at", "2026-11-24T05:45:00"), ("lent_at", "yesterday"), ("due_date", "2026-13-01")],
)
def test_a_page_with_a_naive_or_garbled_time_is_refused_whole(tmp_path, field, value) -> None:
    store = Store.open(tmp_path / "kiosk.db")
    loan = {"id": LOAN, "copy_id": 9, "patron": None, "lent_at": "2026-11-24T05:45:00+00:00",
            "due_date": "2026-12-08"}  # fmt: skip
    page = [
        wire.Change(version=1, kind="title", key="7", data={"id": 7, "title": "Tide",
                                                            "added_on": "2026-11-01"}),
        wire.Change(version=2, kind="loan", key=LOAN, data=loan | {field: value}),
    ]  # fmt: skip
    with pytest.raises(replica.PageError, match="garbles"), store.write() as db:
        replica.apply_changes(db, page, dt.date(2026, 11, 24))
    with store.read() as db:
        assert db.scalar(select(func.count()).select_from(Title)) == 0
    store.close()


@pytest.mark.parametrize("holding", [False, True], ids=["new-page", "page-to-merge"])
@pytest.mark.parametrize(
    ("field", "value"), [("id", {"n": 9}), ("barcode", ["T1"]), ("title_id", [7])]
)
def test_a_page_with_a_list_or_object_for_a_value_is_refused_whole(
    tmp_path, holding, field, value
) -> None:
    # An office with a fault of its own: the kiosk says which field, and keeps nothing of it.
    store = Store.open(tmp_path / "kiosk.db")
    tide = {"id": 7, "title": "Tide", "added_on": "2026-11-01"}
    title = wire.Change(version=1, kind="title", key="7", data=tide)
    if holding:  # the page then speaks of a row the kiosk holds: merged, not written as new
        with store.write() as db:
            replica.apply_changes(db, [title], dt.date(2026, 11, 24))
    copy = {"id": 9, "barcode": "T1", "title_id": 7, "status": "available"}
    page = [title, wire.Change(version=2, kind="copy", key="9", data=copy | {field: value})]
    refused = pytest.raises(replica.PageError, match=f"garbles one: {field} is not a number")
    with refused, store.write() as db:
        replica.apply_changes(db, page, dt.date(2026, 11, 24))
    with store.read() as db:
        assert db.scalar(select(func.count()).select_from(Title)) == int(holding)
        assert db.scalar(select(func.count()).select_from(Copy)) == 0
    store.close()


def test_a_page_of_hundreds_of_new_rows_is_stored_as_the_same_rows_one_a_page(tmp_path) -> None:
    # A big page's rows go in statements of many rows each (and the rest one a statement): every
    # row must land whole, in its own columns, with the ids it would have had coming alone.
    lent_at = dt.datetime(2026, 11, 24, 5, 45, 1, 17198, tzinfo=dt.UTC)
    page = [
        wire.Change(version=n, kind="title", key=str(n), data={
            "id": n, "isbn": f"978{n:010d}" if n % 3 else None, "title": f"Title {n}",
            "author": f"Author {n % 7}", "publisher": "", "year": 1990 + n % 30 if n % 2 else None,
            "classification": "", "added_on": "2026-11-01"})
        for n in range(1, 252)
    ] + [
        wire.Change(version=1000 + n, kind="copy", key=str(n), data={
            "id": n, "barcode": f"B{n:04d}", "title_id": n, "status": "available",
            "shelf": f"S{n % 5}"})
        for n in range(1, 252)
    ] + [
        wire.Change(version=2000 + n, kind="patron", key=f"K{n:03d}", data={
            "card": f"K{n:03d}", "name": f"Kid {n}", "kind": "student", "class_name": "4-1",
            "grade": 4, "active": n % 9 != 0, "compensation_due": n % 11 == 0, "pin_hash": None})
        for n in range(1, 130)
    ] + [
        wire.Change(version=3000 + n, kind="loan", key=str(uuid.UUID(int=n)), data={
            "id": str(uuid.UUID(int=n)), "copy_id": n, "patron": f"K{n % 129 + 1:03d}",
            "lent_at": (lent_at + dt.timedelta(minutes=n)).isoformat(), "due_date": "2026-12-08",
            "returned_at": (lent_at + dt.timedelta(days=1)).isoformat() if n % 2 else None,
            "renewals": n % 3, "lent_where": "hall", "implicit_return": n % 4 == 1})
        for n in range(1, 201)
    ]  # fmt: skip

    def stored(store: Store) -> dict[str, list[tuple]]:
        with sqlite3.connect(store.path) as raw:
            return {
                table: raw.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
                for table in ("titles", "copies", "patrons", "loans")
            }

    whole, alone = Store.open(tmp_path / "whole.db"), Store.open(tmp_path / "alone.db")
    with whole.write() as db:
        replica.apply_changes(db, page, dt.date(2026, 11, 24))
    for change in page:
        with alone.write() as db:
            replica.apply_changes(db, [change], dt.date(2026, 11, 24))
    rows = stored(whole)
    assert [len(rows[table]) for table in rows] == [251, 251, 129, 200]
    assert rows == stored(alone)
    assert rows["loans"][-1][:5] == (str(uuid.UUID(int=200)), 200, 72, "4-1", 4)  # lent to K072
    whole.close()
    alone.close()


def test_a_big_batch_is_stored_as_the_same_rows_one_event_a_batch(tmp_path) -> None:
    # Hundreds of events, loans and change-log entries: more than one statement of rows each
    # (SQLite takes 999 values a statement), and the rows after the last whole statement.
    now = dt.datetime(2026, 11, 24, 5, 45, tzinfo=dt.UTC)
    books = ["barcode,title,author", *(f"C{n:04d},Title {n},Author {n % 7}" for n in range(400))]
    (tmp_path / "books.csv").write_text("\n".join(books) + "\n", encoding="utf-8")
    students = ["card,name,class,grade", *(f"P{n:03d},Student {n},3-1,3" for n in range(50))]
    (tmp_path / "students.csv").write_text("\n".join(students) + "\n", encoding="utf-8")
    loans = [(str(uuid.uuid4()), f"C{n:04d}", f"P{n % 50:03d}") for n in range(345)]
    payloads = [
        wire.Checkout(loan=loan, copy=copy, patron=card, due=now.date(), where="hall")
        for loan, copy, card in loans
    ]
    payloads += [
        wire.Return(loan=loan, copy=copy, patron=card, late_days=0)
        for loan, copy, card in loans[::2]
    ]
    events = [
        wire.WireEvent.model_validate(
            dict(
                seq=seq,
                uuid=str(uuid.uuid4()),
                type=payload.event_type,
                clock="ok",
                at=now + dt.timedelta(seconds=seq, microseconds=seq),
                payload=payload.as_json(),
            )
        )
        for seq, payload in enumerate(payloads, start=1)
    ]
    tables = []
    for batch in (len(events), 1):
        database = Database.open(f"sqlite:///{tmp_path / f'office-{batch}.db'}")
        with database.write() as session:
            catalogue.import_books(session, tmp_path / "books.csv")
            classlists.import_file(session, tmp_path / "students.csv", today=now.date())
            kiosk, _ = kiosks.enroll(session, kiosks.new_enroll_code(session), "hall")
        for start in range(0, len(events), batch):
            with database.write() as session:
                kiosk = session.merge(kiosk)
                reply = ledger.receive_events(
                    database,
                    session,
                    kiosk,
                    events[start : start + batch],
                    acked_seq=0,
                    acked_proof=None,
                    waiting=0,
                    offset=2.5,
                )
                assert reply.stored == len(events[start : start + batch])
                assert reply.conflicts == []
        with database.read() as session:
            connection = session.connection()
            tables.append(
                [
                    connection.exec_driver_sql(sql).all()
                    for sql in (
                        "SELECT kiosk_id, seq, uuid, type, at, corrected_at, clock, payload,"
                        " applied FROM events ORDER BY seq",
                        "SELECT * FROM loans ORDER BY id",
                        "SELECT * FROM copies ORDER BY id",
                        "SELECT kind, key, data FROM changes ORDER BY kind, key",
                    )
                ]
            )
        database.close()
    big, one_a_batch = tables
    assert [len(rows) for rows in big[:3]] == [len(events), len(loans), 400]
    assert big == one_a_batch
    assert big[0][0][4:6] == ("2026-11-24 05:45:01.000001", "2026-11-24 05:45:03.500001")
