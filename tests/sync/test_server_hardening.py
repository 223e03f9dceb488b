"""A stranger, a broken kiosk or a careless librarian gets a clear answer from the office, and
a refused request changes nothing: the real server on loopback, its database compared row by
row before and after."""

from __future__ import annotations

import copy
import datetime as dt
import http.client
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from kiosk.models import Event
from sync import replica, wire
from sync.server.db import database_url
from sync.server.models import Loan, Setting
from tests.sync.support import KioskUnderTest, Office, enrolled

NOW = dt.datetime(2026, 11, 24, 5, 45, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def shared_office(tmp_path_factory: pytest.TempPathFactory, library) -> Iterator[Office]:
    """One server (SQLite) for the tests of requests it refuses: each enrolls a kiosk of its
    own, and a refused request changes nothing, whatever the tests before it did."""
    data = tmp_path_factory.mktemp("hardening") / "office"
    server = library(data, database_url(data, None)).start()
    yield server
    server.stop()


def token_of(kiosk: KioskUnderTest) -> str:
    return (kiosk.folder / "sync-token").read_text().strip()


def kiosk_events(kiosk: KioskUnderTest) -> list[dict]:
    with kiosk.store.read() as db:
        return [replica.to_wire(e).model_dump(mode="json") for e in db.scalars(select(Event))]


def push(office: Office, token: str, body: dict) -> requests.Response:
    return requests.post(
        f"{office.url}/api/v1/push",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def body_with(events: list[dict], **fields) -> dict:
    return {"sent_at": NOW.isoformat(), "events": events, **fields}


# -- item 5: each event's payload checked by its type, before anything is written ---------------


def test_a_bad_payload_is_refused_by_its_event_and_nothing_is_stored(
    sqlite_office: Office, make_kiosk
) -> None:
    kiosk = enrolled(sqlite_office, make_kiosk)
    kiosk.lend("S1", "B001")
    kiosk.engine.touch("done")
    kiosk.scan("H1")  # a supervisor's card: a session started, a PIN asked
    good = kiosk_events(kiosk)
    checkout = next(i for i, e in enumerate(good) if e["type"] == "checkout")
    status = {**good[0], "seq": len(good) + 1, "uuid": str(uuid.uuid4()), "type": "copy_status",
              "payload": {"copy": "B002", "status": "damaged", "by": "H1"}}  # fmt: skip
    spoilt = [
        ("checkout", checkout, {"patron": {"card": "S1"}}),
        ("checkout", checkout, {"patron": ["S1"]}),
        ("checkout", checkout, {"override_by": {"who": "H1"}}),
        ("checkout", checkout, {"due": 20261209}),
        ("checkout", checkout, {"loan": None}),
        ("checkout", checkout, {"patron": "S\x001"}),  # PostgreSQL refuses a NUL in text
        ("copy_status", len(good), {"status": ["lost"]}),
        ("copy_status", len(good), {"status": "burnt"}),
    ]
    before = sqlite_office.snapshot()
    for kind, index, change in spoilt:
        events = copy.deepcopy([*good, status])
        events[index]["payload"].update(change)
        reply = push(sqlite_office, token_of(kiosk), body_with(events))
        assert reply.status_code == 422, (change, reply.text)
        detail = reply.json()["detail"]
        assert f"events.{index}.payload" in detail and f"not a valid {kind} event" in detail
        assert sqlite_office.snapshot() == before  # not even the good events of the batch

    reply = push(sqlite_office, token_of(kiosk), body_with([*good, status]))
    assert reply.status_code == 200 and reply.json()["stored"] == len(good) + 1


@pytest.mark.parametrize(
    "change",
    [
        {"sent_at": "9999-12-31T23:59:59+00:00"},
        {"sent_at": "0001-01-01T00:00:00+00:00"},
        {"waiting": True},
        {"acked_seq": False},
        {"acked_seq": 2**80},
        {"waiting": "3"},
        {"events": [{"seq": 1}] * (wire.MAX_BATCH + 1)},
    ],
)
def test_wire_types_are_strict(shared_office: Office, make_kiosk, change: dict) -> None:
    kiosk = enrolled(shared_office, make_kiosk)
    kiosk.lend("S1", "B001")
    before = shared_office.snapshot()
    reply = push(shared_office, token_of(kiosk), body_with(kiosk_events(kiosk)) | change)
    assert reply.status_code == 422, reply.text
    assert shared_office.snapshot() == before


def test_an_event_time_out_of_this_world_is_refused(shared_office: Office, make_kiosk) -> None:
    kiosk = enrolled(shared_office, make_kiosk)
    kiosk.lend("S1", "B001")
    events = kiosk_events(kiosk)
    events[0]["at"] = "9999-12-31T23:59:59+00:00"
    before = shared_office.snapshot()
    reply = push(shared_office, token_of(kiosk), body_with(events))
    assert reply.status_code == 422 and "events.0.at" in reply.json()["detail"]
    assert shared_office.snapshot() == before


def test_a_new_kind_of_event_is_kept_not_refused(sqlite_office: Office, make_kiosk) -> None:
    kiosk = enrolled(sqlite_office, make_kiosk)
    future = {"seq": 1, "uuid": str(uuid.uuid4()), "type": "shelf_checked", "at": NOW.isoformat(),
              "clock": "ok", "payload": {"shelf": "A3", "copies": ["B001", "B002"]}}  # fmt: skip
    reply = push(sqlite_office, token_of(kiosk), body_with([future]))
    assert reply.status_code == 200 and reply.json()["highest_seq"] == 1
    not_an_object = {**future, "seq": 2, "uuid": str(uuid.uuid4()), "payload": ["A3"]}
    assert push(sqlite_office, token_of(kiosk), body_with([not_an_object])).status_code == 422


# -- item 6: bodies limited, errors without the input --------------------------------------------


def test_a_huge_body_is_refused_before_it_is_read(shared_office: Office) -> None:
    host, port = "127.0.0.1", shared_office.port
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.putrequest("POST", "/api/v1/enroll")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(50 * 2**20))
    connection.endheaders(b'{"code": "' + b"A" * 1000)  # the other 50 MB never leave
    reply = connection.getresponse()
    assert reply.status == 413
    assert len(reply.read()) < 100
    connection.close()

    chunks = (b"[" + b"1," * 2**19 for _ in range(20))  # 20 MB without a Content-Length
    reply = requests.post(
        f"{shared_office.url}/api/v1/push",
        data=chunks,
        headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
        timeout=60,
    )
    assert reply.status_code == 413


def test_errors_never_echo_the_input(sqlite_office: Office, make_kiosk) -> None:
    kiosk = enrolled(sqlite_office, make_kiosk)
    kiosk.lend("S1", "B001")
    junk = "Z" * 200_000
    events = kiosk_events(kiosk)
    for event in events:
        event["payload"]["patron"] = {"junk": junk}
    enroll = f"{sqlite_office.url}/api/v1/enroll"
    as_json = {"Content-Type": "application/json"}
    replies = [
        requests.post(enroll, json={"code": junk, "name": junk}, timeout=30),
        requests.post(enroll, data=junk, headers=as_json, timeout=30),
        push(sqlite_office, token_of(kiosk), body_with(events)),
    ]
    for reply in replies:
        assert reply.status_code == 422
        assert "ZZZZ" not in reply.text and len(reply.content) < 2000, reply.text[:300]


# -- item 7: an acknowledgement the office never gave -------------------------------------------


def test_an_acknowledgement_never_sent_is_refused_and_changes_nothing(
    sqlite_office: Office, make_kiosk
) -> None:
    kiosk = enrolled(sqlite_office, make_kiosk, sync=True)
    kiosk.lend("S1", "B001")
    kiosk.client.sync()
    _seq, proof = acknowledgement(kiosk)
    before = sqlite_office.snapshot()
    for acked in ({"acked_seq": 2**40}, {"acked_seq": 2**40, "acked_proof": proof},
                  {"acked_seq": 2**40, "acked_proof": "0" * 64}):  # fmt: skip
        reply = push(sqlite_office, token_of(kiosk), body_with([], **acked))
        assert reply.status_code == 409 and "never acknowledged" in reply.json()["detail"]
    assert sqlite_office.snapshot() == before  # the database keeps its identity
    report = kiosk.client.sync()
    assert not report.reset and report.pulled == 0  # no kiosk has to take a full copy


def acknowledgement(kiosk: KioskUnderTest) -> tuple[int, str | None]:
    with kiosk.store.read() as db:
        return replica.last_acknowledgement(db)


# -- item 13: guessing enrolment codes ------------------------------------------------------------


def test_enrolment_codes_cannot_be_guessed_quickly(sqlite_office: Office) -> None:
    url = f"{sqlite_office.url}/api/v1/enroll"
    for n in range(5):
        reply = requests.post(url, json={"code": f"WRONG-{n:04d}", "name": "x"}, timeout=30)
        assert reply.status_code == 403
    code = sqlite_office.enroll_code()
    before = sqlite_office.snapshot()
    reply = requests.post(url, json={"code": code, "name": "kiosk-a"}, timeout=30)
    assert reply.status_code == 429 and int(reply.headers["Retry-After"]) > 0
    assert "too many wrong enrolment codes" in reply.json()["detail"]
    assert sqlite_office.snapshot() == before  # the good code is still unused
    sqlite_office.stop()
    assert "enrolment code: 5 failed tries from 127.0.0.1" in sqlite_office.log.read_text()
    sqlite_office.start()  # a restart forgets: the code works
    reply = requests.post(url, json={"code": code, "name": "kiosk-a"}, timeout=30)
    assert reply.status_code == 200


# -- item 14: the description says what the server does -------------------------------------------


def test_the_openapi_description_names_the_statuses_the_server_answers(
    shared_office: Office,
) -> None:
    spec = requests.get(f"{shared_office.url}/openapi.json", timeout=30).json()
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            codes = set(operation["responses"])
            assert "400" not in codes, path
            assert {"401", "422"} <= codes or path.endswith("/enroll"), (path, codes)
    reply = requests.post(
        f"{shared_office.url}/api/v1/enroll",
        data="{not json",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert reply.status_code == 422 and "not JSON" in reply.json()["detail"]
    reply = requests.get(f"{shared_office.url}/api/v1/changes", params={"curser": "x"},
                         headers={"Authorization": "Bearer x"}, timeout=30)  # fmt: skip
    assert reply.status_code == 422 and "curser" in reply.json()["detail"]
    schema = spec["components"]["schemas"]["PushRequest"]["properties"]
    assert schema["waiting"]["type"] == "integer"


# -- the ledger: what the office does with each kind of event ------------------------------------


def office_loan(office: Office, copy_code: str) -> list[Loan]:
    database = office.database()
    with database.read() as session:
        found = list(
            session.scalars(select(Loan).where(Loan.copy_code == copy_code).order_by(Loan.lent_at))
        )
    database.close()
    return found


def test_the_office_applies_renewals_undos_and_implicit_returns(office: Office, make_kiosk) -> None:
    kiosk = enrolled(office, make_kiosk, sync=True)
    kiosk.scan("S1", "B002")
    assert kiosk.engine.touch("undo")[0].kind.value == "undone"  # B002: not this book
    kiosk.scan("B001")
    kiosk.engine.touch("done")
    kiosk.clock.advance(days=7)  # a week later the reader asks for more time
    assert kiosk.scan("S1", "B001")[-1].reason == "already_yours"  # return or renew?
    assert kiosk.engine.touch("renew")[0].kind.value == "renewed"
    kiosk.engine.touch("done")
    kiosk.lend("S2", "B001")  # S1 gave it to S2 without scanning it in
    kiosk.client.sync()

    [undone] = office_loan(office, "B002")
    assert undone.undone and undone.returned_at is not None
    first, second = office_loan(office, "B001")
    assert (first.patron_card, first.renewals, first.due_date) == ("S1", 1, dt.date(2026, 12, 15))
    assert first.implicit_return and first.returned_at is not None and not first.undone
    assert (second.patron_card, second.returned_at, second.implicit_return) == ("S2", None, False)
    loans = office.ok("loans")
    assert "B001" in loans and "B002" not in loans


def test_events_after_a_missing_one_are_held_back_and_listed(
    sqlite_office: Office, make_kiosk
) -> None:
    kiosk = enrolled(sqlite_office, make_kiosk)
    kiosk.lend("S1", "B001", "B002")
    events = kiosk_events(kiosk)
    reply = push(sqlite_office, token_of(kiosk), body_with(events[2:]))  # the first two lost
    assert reply.json()["gaps"] == [[1, 2]] and reply.json()["highest_seq"] == 0
    [line] = map(json.loads, sqlite_office.ok("kiosks", "--json").splitlines())
    assert line["events_held_back"] == len(events) - 2
    assert "held back for missing ones" in sqlite_office.ok("kiosks")
    assert sqlite_office.ok("loans") == "no books are on loan\n"  # nothing applied out of order

    reply = push(sqlite_office, token_of(kiosk), body_with(events[:2]))
    assert reply.json()["highest_seq"] == len(events)
    [line] = map(json.loads, sqlite_office.ok("kiosks", "--json").splitlines())
    assert line["events_held_back"] == 0
    assert {loan.copy_code for loan in office_loan(sqlite_office, "B001")} == {"B001"}


# -- item 8: a sentence, not a traceback ---------------------------------------------------------


def test_library_server_commands_say_what_to_do(
    sqlite_office: Office, make_kiosk, tmp_path: Path
) -> None:
    binary = tmp_path / "rules.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    code, _out, err = sqlite_office.command("rules", str(binary))
    assert code == 1 and "not a text file in UTF-8" in err

    kiosk = enrolled(sqlite_office, make_kiosk, sync=True)
    kiosk.lend("S1", "B001")
    from sync import bundle

    events = tmp_path / "events.json"
    bundle.export_events(kiosk.store, events, NOW)
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    code, _out, err = sqlite_office.command(
        "import-bundle", str(events), "--reply", str(not_a_folder / "reply.json")
    )
    assert code == 1 and "the events are stored (" in err and "--reply" in err
    assert [loan.patron_card for loan in office_loan(sqlite_office, "B001")] == ["S1"]
    code, out, _err = sqlite_office.command(
        "import-bundle", str(events), "--reply", str(tmp_path / "reply.json")
    )
    assert code == 0 and out.startswith("0 new events stored")  # not stored twice
    assert (tmp_path / "reply.json").exists()

    sqlite_office.ok("revoke", "kiosk-a")
    code, _out, err = sqlite_office.command("export-bundle", "kiosk-a", str(tmp_path / "x.json"))
    assert code == 1 and "was revoked" in err and "Traceback" not in err


def test_database_identity_survives_a_refused_push(shared_office: Office, make_kiosk) -> None:
    kiosk = enrolled(shared_office, make_kiosk)
    database = shared_office.database()
    with database.read() as session:
        identity = session.get(Setting, "database_id").value
    database.close()
    push(shared_office, token_of(kiosk), body_with([], acked_seq=5))
    database = shared_office.database()
    with database.read() as session:
        assert session.get(Setting, "database_id").value == identity
    database.close()
