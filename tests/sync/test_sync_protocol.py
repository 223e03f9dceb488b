"""Kiosk and office over loopback: enrolment, push, pull, rules, revocation, clock.

Every test runs against a real ``library-server`` process, once on SQLite and once on a real
PostgreSQL (see tests/sync/support.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import stat
from pathlib import Path

import pytest
import requests
from sqlalchemy import delete, func, select

from kiosk.cli import main as kiosk_main
from kiosk.cli import open_data
from kiosk.models import (
    ClosedDate,
    Copy,
    CopyStatus,
    Event,
    Loan,
    OpeningWindow,
    Patron,
    Policy,
)
from kiosk.settings import CURSOR, ENROLLED, OFFICE_RULES
from kiosk.store import get_setting, set_setting
from sync import client as sync_client
from sync import replica, wire
from sync.client import OfficeRefused
from sync.server import models as office_models
from tests.conftest import TIMETABLE
from tests.sync.support import Office, enrolled, free_port


def office_loans(office: Office) -> list[dict]:
    return [json.loads(line) for line in office.ok("loans", "--json").splitlines()]


# -- enrolment -------------------------------------------------------------------------------


def test_enrolment_gives_a_private_token_and_the_code_works_once(
    office: Office, make_kiosk
) -> None:
    code = office.enroll_code()
    kiosk = make_kiosk()
    kiosk_id = kiosk.client.enroll(office.url, code, "kiosk-a")
    token_file = kiosk.folder / "sync-token"
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    token = token_file.read_text().strip()
    with kiosk.store.read() as db:
        assert get_setting(db, ENROLLED) == office.url
    # The office keeps only a hash of the token.
    database = office.database()
    with database.read() as session:
        row = session.get(office_models.Kiosk, kiosk_id)
        assert row is not None and token not in row.token_hash
    database.close()

    other = make_kiosk("kiosk-b")
    with pytest.raises(OfficeRefused, match="unknown, used or expired"):
        other.client.enroll(office.url, code, "kiosk-b")
    assert not (other.folder / "sync-token").exists()


def test_kiosk_commands_enroll_sync_and_status(
    office: Office, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "cli-kiosk"
    code = office.enroll_code()
    # The address as `library-server serve` prints it for `kiosk enroll`: no http:// needed.
    address = office.url.removeprefix("http://")
    assert kiosk_main(["--data", str(folder), "enroll", address, code]) == 0
    assert f"of {office.url};" in capsys.readouterr().out
    assert kiosk_main(["--data", str(folder), "sync"]) == 0
    out = capsys.readouterr().out
    assert "pulled" in out and "0 events waiting" in out
    store, _cfg = open_data(folder)
    with store.read() as db:
        assert db.scalar(select(func.count()).select_from(Copy)) == 13
        assert db.scalar(select(Patron.active).where(Patron.card == "GONE")) is False
    store.close()
    # A second enrolment with the used code is refused with the office's reason.
    assert kiosk_main(["--data", str(tmp_path / "other"), "enroll", office.url, code]) == 1
    assert "used or expired" in capsys.readouterr().err


def test_kiosk_sync_shows_progress_for_a_big_pull(
    office: Office, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = "".join(f"BIG{n:05d},Big Library {n}\n" for n in range(2100))
    (tmp_path / "big.csv").write_text("barcode,title\n" + rows, encoding="utf-8")
    office.ok("import-books", str(tmp_path / "big.csv"))
    folder = tmp_path / "big-kiosk"
    assert kiosk_main(["--data", str(folder), "enroll", office.url, office.enroll_code()]) == 0
    capsys.readouterr()
    assert kiosk_main(["--data", str(folder), "sync"]) == 0
    captured = capsys.readouterr()
    assert "100%" in captured.err and "changes" in captured.err  # the bar, finished
    assert "pulled 4" in captured.out  # 4,2xx changes: the library and the big delivery


def test_kiosk_sync_says_why_it_cannot(
    office: Office, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "lonely"
    assert kiosk_main(["--data", str(folder), "sync"]) == 1
    assert "not enrolled" in capsys.readouterr().err
    assert kiosk_main(["--data", str(folder), "enroll", office.url, office.enroll_code()]) == 0
    office.stop()
    assert kiosk_main(["--data", str(folder), "sync"]) == 1
    said = capsys.readouterr().err
    assert f"nothing answers at {office.url}: is `library-server serve` running" in said
    assert kiosk_main(["--data", str(folder), "sync-status"]) == 0
    assert f"last error: nothing answers at {office.url}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("address", "sentence"),
    [
        ("127.0.0.1:{port}", "nothing answers at http://127.0.0.1:{port}: is"),  # a wrong port
        ("no-such-office.invalid", "no computer called no-such-office.invalid can be found"),
        ("ftp://office-pc", "'ftp://office-pc' is not an office address"),
    ],
)
def test_a_wrong_office_address_is_told_in_a_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], address: str, sentence: str
) -> None:
    port = free_port()  # nothing listens there
    address, sentence = address.format(port=port), sentence.format(port=port)
    assert kiosk_main(["--data", str(tmp_path / "k"), "enroll", address, "CODE"]) == 1
    said = capsys.readouterr().err
    assert sentence in said
    for jargon in ("HTTPConnectionPool", "urllib3", "Errno", "Traceback", "adapters"):
        assert jargon not in said


# -- push ------------------------------------------------------------------------------------


def test_loans_reach_the_office_and_events_are_acknowledged(office: Office, make_kiosk) -> None:
    kiosk = enrolled(office, make_kiosk)
    kiosk.lend("S1", "B001", "B002")
    report = kiosk.client.sync()
    assert report.conflicts == []
    loans = {loan["copy"]: loan for loan in office_loans(office)}
    assert set(loans) == {"B001", "B002"}
    assert loans["B001"]["patron"] == "S1" and loans["B001"]["name"] == "小明"
    assert loans["B001"]["where"] == "kiosk-a" and loans["B001"]["due"] == "2026-12-09"
    with kiosk.store.read() as db:
        state = replica.status(db)
        assert state.pending == 0 and state.last_sync is not None
        assert db.scalar(select(func.count()).where(Event.acked_at.is_(None))) == 0

    # A return: the office closes the loan, and the kiosk, now acknowledged, forgets who had it.
    kiosk.scan("B001")
    kiosk.client.sync()
    assert [loan["copy"] for loan in office_loans(office)] == ["B002"]
    kiosk.scan("S2")
    kiosk.engine.touch("done")
    with kiosk.store.read() as db:
        returned = db.scalar(select(Loan).where(Loan.returned_at.is_not(None)))
        assert returned is not None and returned.patron_id is None


def test_pushing_in_batches_keeps_order_and_nothing_is_doubled(
    office: Office, make_kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sync.client

    monkeypatch.setattr(sync.client, "PUSH_BATCH", 3)
    kiosk = enrolled(office, make_kiosk)
    for copy in ("B001", "B002", "B003", "B004"):
        kiosk.lend("T1", copy)
    with kiosk.store.read() as db:
        total = db.scalar(select(func.max(Event.seq)))
    report = kiosk.client.sync()
    assert report.sent == total and report.stored == total
    again = kiosk.client.sync()
    assert again.sent == 0 and again.stored == 0
    database = office.database()
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(office_models.Event)) == total
        assert session.scalar(select(office_models.Kiosk.applied_seq)) == total
    database.close()
    assert len(office_loans(office)) == 4


# -- pull ------------------------------------------------------------------------------------


def test_new_books_students_and_status_changes_come_down(
    office: Office, make_kiosk, tmp_path: Path
) -> None:
    kiosk = enrolled(office, make_kiosk)
    kiosk.client.sync()
    (tmp_path / "new-books.csv").write_text("barcode,title\nN001,New Arrival\n", encoding="utf-8")
    (tmp_path / "new-students.csv").write_text("card,name,class,grade\nS9,小新,3-2,3\n")
    office.ok("import-books", str(tmp_path / "new-books.csv"))
    office.ok("import-students", str(tmp_path / "new-students.csv"))
    office.ok("mark-copy", "B005", "lost")
    report = kiosk.client.sync()
    assert report.pulled == 4  # a title, a copy, a patron, a status
    outcomes = kiosk.scan("S9", "N001", "B005")
    assert [o.kind.value for o in outcomes] == ["session_started", "checked_out", "refused"], [
        o.reason for o in outcomes
    ]
    assert outcomes[-1].reason == "not_for_loan"


def test_pull_comes_in_pages_with_progress(
    office: Office, make_kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sync.client

    monkeypatch.setattr(sync.client, "PULL_PAGE", 5)
    kiosk = enrolled(office, make_kiosk, library=False)
    seen: list[tuple[int, int]] = []
    report = kiosk.client.sync(progress=lambda done, total: seen.append((done, total)))
    assert report.pulled == seen[-1][0] == seen[-1][1]
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert len(seen) == -(-report.pulled // 5)
    with kiosk.store.read() as db:
        assert db.scalar(select(func.count()).select_from(Copy)) == 13
        assert db.scalar(select(Copy.status).where(Copy.barcode == "REF1")) == "reference"


def test_progress_of_a_pull_counts_what_the_office_changes_meanwhile(
    office: Office, make_kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sync.client

    monkeypatch.setattr(sync.client, "PULL_PAGE", 5)
    kiosk = enrolled(office, make_kiosk, library=False)
    seen: list[tuple[int, int]] = []

    def librarian_works_meanwhile(done: int, total: int) -> None:
        if not seen:  # after the first page: a copy the kiosk has, and one it has not yet
            office.ok("mark-copy", "B001", "lost")
            office.ok("mark-copy", "B009", "damaged")
        seen.append((done, total))

    report = kiosk.client.sync(progress=librarian_works_meanwhile)
    # The bar's end moved on for the changes made meanwhile, and ends at what was pulled.
    assert seen[0][1] < seen[-1][1]
    assert report.pulled == seen[-1][0] == seen[-1][1]
    with kiosk.store.read() as db:
        assert db.scalar(select(Copy.status).where(Copy.barcode == "B001")) == "lost"
        assert db.scalar(select(Copy.status).where(Copy.barcode == "B009")) == "damaged"
    assert kiosk.client.sync().pulled == 0  # nothing left behind


def test_office_rules_replace_the_kiosk_file_and_survive_a_restart(
    office: Office, make_kiosk, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        "[policies.student]\nmax_loans = 1\nloan_days = 7\nmax_renewals = 0\n"
        "overdue_block_days = 3\n\n[timetable]\nclosed_dates = [2026-11-24]\n",
        encoding="utf-8",
    )
    office.ok("rules", str(rules))
    kiosk = enrolled(office, make_kiosk)
    kiosk.client.sync()
    started = kiosk.scan("S1")
    assert started[-1].detail.get("blocked") == "closed"  # today is closed at the office
    kiosk.close()
    store, _cfg = open_data(kiosk.folder)  # kiosk.toml is applied, then the office's rules
    with store.read() as db:
        assert db.get(Policy, "student").max_loans == 1
    store.close()
    bad = tmp_path / "bad.toml"
    bad.write_text("[policies.student]\nmax_loans = -1\n", encoding="utf-8")
    code, _out, err = office.command("rules", str(bad))
    assert code == 1 and "max_loans" in err


def test_office_rules_count_from_the_kiosks_next_scan(
    office: Office, make_kiosk, tmp_path: Path
) -> None:
    """The kiosk keeps the rules in memory between scans: new ones pulled from the office
    count from the very next scan, with no restart."""
    kiosk = enrolled(office, make_kiosk, sync=True)
    started = kiosk.scan("S1")[-1]
    assert started.kind == "session_started" and started.may_borrow == 2
    school = TIMETABLE[TIMETABLE.index("[policies.student]") :]  # kiosk.toml's rules
    rules = tmp_path / "rules.toml"
    rules.write_text(school.replace("max_loans = 2", "max_loans = 1"), encoding="utf-8")
    office.ok("rules", str(rules))
    kiosk.client.sync()
    lent = kiosk.scan("B001")
    assert lent[0].kind == "checked_out" and lent[0].may_borrow == 0, lent
    closed = school.replace("closed_dates = [2026-12-08]", "closed_dates = [2026-11-24]")
    rules.write_text(closed, encoding="utf-8")
    office.ok("rules", str(rules))
    kiosk.client.sync()
    assert kiosk.scan("S2")[-1].detail.get("blocked") == "closed"  # today is closed now


def test_rules_no_school_means_never_stop_a_kiosk(office: Office, make_kiosk) -> None:
    """An office of an older version may hold rules this kiosk no longer takes: the kiosk keeps
    its own, syncs on, lends, and starts again."""
    from sync.server.services.changes import record_change

    rules = {
        "policies": {
            "student": dict(max_loans=2, loan_days=3_000_000, max_renewals=1, overdue_block_days=7)
        },
        "timetable": {"week_a_starts": None, "closed_dates": [], "window": []},
    }
    database = office.database()
    with database.write() as session:
        record_change(session, "rules", "all", rules)  # as an office with no bounds stored it
    database.close()
    kiosk = enrolled(office, make_kiosk)
    report = kiosk.client.sync()
    assert report.pulled > 0
    with kiosk.store.read() as db:
        assert db.get(Policy, "student").loan_days == 14  # kiosk.toml's
        assert get_setting(db, OFFICE_RULES) is None
    kiosk.scan("S1")
    assert kiosk.scan("B001")[-1].kind == "checked_out"

    with kiosk.store.write() as db:  # stored by a kiosk of an older version
        set_setting(db, OFFICE_RULES, json.dumps(rules))
    kiosk.close()
    store, _cfg = open_data(kiosk.folder)
    with store.read() as db:
        assert db.get(Policy, "student").loan_days == 14
    store.close()


def test_a_kiosk_not_yet_updated_takes_a_newer_office_s_rules_but_its_new_settings(
    office: Office, make_kiosk, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newer office sends settings this kiosk does not know (a new rule, a new kind of
    reader): the kiosk takes the rules it knows, leaves out the rest and says so in its log
    once; a wrong value of a setting it knows still has it keep its own rules."""
    from sync.server.services.changes import record_change

    student = dict(max_loans=1, loan_days=7, max_renewals=0, overdue_block_days=3)
    newer = {
        "policies": {
            "student": {**student, "fine_per_day_cents": 10},
            "parent": {**student, "may_renew_online": True},
        },
        "timetable": {
            "week_a_starts": None,
            "closed_dates": [],
            "window": [{"weekdays": ["tue"], "opens": "13:30", "closes": "14:20", "room": "二楼"}],
        },
        "holiday_reading": {"books": 5},
    }
    database = office.database()
    with database.write() as session:
        record_change(session, "rules", "all", newer)
    database.close()
    monkeypatch.setattr(replica, "_ignored_settings", set())  # as in a kiosk just started
    kiosk = enrolled(office, make_kiosk)
    with caplog.at_level(logging.WARNING, logger="sync.replica"):
        kiosk.client.sync()
    with kiosk.store.read() as db:
        assert db.get(Policy, "student").max_loans == 1  # the office's rules, taken
        assert json.loads(get_setting(db, OFFICE_RULES) or "{}") == newer  # kept whole
    (warned,) = [r.getMessage() for r in caplog.records if "does not know" in r.getMessage()]
    for name in ("policies.student.fine_per_day_cents", "policies.parent", "holiday_reading",
                 "timetable.window.0.room"):  # fmt: skip
        assert name in warned
    kiosk.scan("S1")
    lent, ended = kiosk.scan("B001")
    assert lent.kind == "checked_out" and lent.may_borrow == 0  # one book, as the office says
    assert ended.kind == "session_ended"

    caplog.clear()
    kiosk.close()
    with caplog.at_level(logging.WARNING, logger="sync.replica"):
        store, _cfg = open_data(kiosk.folder)  # started again: the same rules, no new warning
    with store.read() as db:
        assert db.get(Policy, "student").max_loans == 1
    store.close()
    assert not [r for r in caplog.records if "does not know" in r.getMessage()]

    # A wrong value of a known setting beside new ones: the kiosk keeps the rules it had.
    wrong = {**newer, "policies": {"student": {**student, "loan_days": 0, "fine": 1}}}
    database = office.database()
    with database.write() as session:
        record_change(session, "rules", "all", wrong)
    database.close()
    again = enrolled(office, make_kiosk, "kiosk-b")
    again.client.sync()
    with again.store.read() as db:
        assert db.get(Policy, "student").max_loans == 2  # kiosk.toml's
        assert get_setting(db, OFFICE_RULES) is None


def test_a_loan_at_one_kiosk_shows_at_the_other(office: Office, make_kiosk) -> None:
    a = enrolled(office, make_kiosk, "kiosk-a")
    b = enrolled(office, make_kiosk, "kiosk-b")
    a.client.sync()
    b.client.sync()
    a.lend("S1", "B001")
    a.client.sync()
    b.client.sync()
    with b.store.read() as db:
        loan = db.scalar(select(Loan).where(Loan.returned_at.is_(None)))
        assert loan is not None and loan.patron.card == "S1" and loan.copy.barcode == "B001"
        assert db.scalar(select(Copy.status).where(Copy.barcode == "B001")) == "on_loan"
    # Returned at kiosk b: the office and kiosk a hear of it.
    b.scan("B001")
    b.client.sync()
    a.client.sync()
    assert office_loans(office) == []
    with a.store.read() as db:
        assert db.scalar(select(Copy.status).where(Copy.barcode == "B001")) == "available"
        assert db.scalar(select(func.count()).where(Loan.returned_at.is_(None))) == 0


# -- who may call ----------------------------------------------------------------------------


def test_unauthenticated_and_revoked_kiosks_change_nothing(office: Office, make_kiosk) -> None:
    kiosk = enrolled(office, make_kiosk)
    kiosk.lend("S1", "B001")
    with kiosk.store.read() as db:
        events = [replica.to_wire(e).model_dump(mode="json") for e in db.scalars(select(Event))]
    body = {"sent_at": dt.datetime.now(dt.UTC).isoformat(), "events": events}
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
        reply = requests.post(f"{office.url}/api/v1/push", json=body, headers=headers, timeout=30)
        assert reply.status_code == 401 and reply.json()["detail"]
    assert office_loans(office) == []

    assert "revoked" in office.ok("revoke", "kiosk-a")
    with pytest.raises(OfficeRefused, match="revoked at the office"):
        kiosk.client.sync()
    assert office_loans(office) == []
    with kiosk.store.read() as db:
        state = replica.status(db)
        assert state.pending > 0 and "revoked" in (state.last_error or "")
    assert "REVOKED" in office.ok("kiosks")


def test_a_revoked_kiosk_enrolled_again_carries_on_without_doubles(
    office: Office, make_kiosk
) -> None:
    kiosk = enrolled(office, make_kiosk)
    kiosk.lend("S1", "B001")
    kiosk.client.sync()
    office.ok("revoke", "kiosk-a")
    kiosk.lend("S2", "B002")  # lent while the kiosk is refused
    with pytest.raises(OfficeRefused):
        kiosk.client.sync()
    kiosk.client.enroll(office.url, office.enroll_code(), "kiosk-a")
    report = kiosk.client.sync()
    assert not report.reset  # nothing at the office was lost
    with kiosk.store.read() as db:
        total = db.scalar(select(func.count()).select_from(Event))
        assert replica.status(db).pending == 0
    database = office.database()
    with database.read() as session:
        held = session.scalar(select(func.count()).select_from(office_models.Event))
    database.close()
    assert held == total  # each event once, whichever enrolment brought it
    assert sorted(loan["copy"] for loan in office_loans(office)) == ["B001", "B002"]


# -- clock -----------------------------------------------------------------------------------


def test_clock_offset_is_measured_warned_and_corrects_event_times(
    office: Office, make_kiosk, clock
) -> None:
    real = dt.datetime.now(dt.UTC)
    clock.set(real - dt.timedelta(minutes=10))  # the kiosk runs ten minutes slow
    kiosk = enrolled(office, make_kiosk)
    with kiosk.store.write() as db:  # open all day, whatever the real time of this test
        db.execute(delete(ClosedDate))
        for day in range(7):
            db.add(OpeningWindow(weekday=day, opens=dt.time(0, 0), closes=dt.time(23, 59, 59)))
    kiosk.lend("T1", "B001")
    report = kiosk.client.sync()
    assert report.clock_offset_seconds == pytest.approx(600, abs=30)
    with kiosk.store.read() as db:
        assert "off the office's" in (replica.status(db).clock_warning or "")
    line = json.loads(office.ok("kiosks", "--json").splitlines()[0])
    assert line["clock_offset_seconds"] == pytest.approx(600, abs=30)
    assert line["warning"].startswith("clock off by +")
    [loan] = office_loans(office)
    lent_at = dt.datetime.fromisoformat(loan["lent_at"])
    assert abs((lent_at - real).total_seconds()) < 60  # corrected to office time

    # A kiosk clock that went backwards is a warning at the office too.
    clock.set(clock.now - dt.timedelta(hours=1))
    outcomes = kiosk.scan("T1", "B002")
    assert outcomes[0].reason == "clock_backwards"  # the supervisor's warning on the kiosk
    kiosk.client.sync()
    line = json.loads(office.ok("kiosks", "--json").splitlines()[0])
    assert "backwards" in line["warning"]
    # Set right again (past every time it has seen): the warning goes once new events say so.
    clock.set(real + dt.timedelta(minutes=1))
    kiosk.lend("T1", "B003")
    kiosk.client.sync()
    line = json.loads(office.ok("kiosks", "--json").splitlines()[0])
    assert "backwards" not in line["warning"]


def test_the_office_clock_decides_whether_a_kiosk_lends(office: Office, make_kiosk, clock) -> None:
    """A kiosk set a year ahead lends by that year only until it meets the office; once its
    clock is right, the office's word clears the year-ahead times it had seen."""
    real = dt.datetime.now(dt.UTC)
    clock.set(real + dt.timedelta(days=364))
    kiosk = enrolled(office, make_kiosk)
    with kiosk.store.write() as db:  # open all day, whatever the real time of this test
        db.execute(delete(ClosedDate))
        for day in range(7):
            db.add(OpeningWindow(weekday=day, opens=dt.time(0, 0), closes=dt.time(23, 59, 59)))
    kiosk.lend("T1", "B001")  # nothing yet tells the kiosk its clock is wrong
    kiosk.client.sync()
    fault, started = kiosk.scan("T1")
    assert fault.reason == "clock_wrong" and started.detail["blocked"] == "clock_wrong"
    assert kiosk.scan("B002")[-1].reason == "clock_wrong"
    kiosk.engine.touch("done")

    clock.set(real + dt.timedelta(minutes=1))  # set right, behind every time it has seen:
    assert kiosk.scan("T1")[-1].detail["blocked"] == "clock_wrong"  # the office's last word
    kiosk.engine.touch("done")
    kiosk.client.sync()  # the office finds it right, and what the kiosk had seen is forgotten
    kiosk.lend("T1", "B002")
    with kiosk.store.read() as db:
        assert db.scalars(select(Event.clock).order_by(Event.seq.desc())).first() == "ok"
    assert kiosk.engine.clock_state == "ok"


def test_a_kiosk_copy_status_mark_reaches_the_office(office: Office, make_kiosk) -> None:
    kiosk = enrolled(office, make_kiosk)
    kiosk.client.sync()
    from kiosk import rules
    from kiosk.clock import read_clock
    from tests.conftest import TZ

    with kiosk.store.transaction() as tx:
        copy = rules.find_copy(tx, "B003")
        assert copy is not None
        moment = read_clock(tx.session, kiosk.clock(), TZ)
        rules.mark_copy(tx, moment, copy, CopyStatus.DAMAGED, by="H1")
    kiosk.client.sync()
    database = office.database()
    with database.read() as session:
        status = session.scalar(
            select(office_models.Copy.status).where(office_models.Copy.barcode == "B003")
        )
    database.close()
    assert status == "damaged"


def test_server_process_answers_on_loopback_with_its_openapi(office: Office) -> None:
    spec = requests.get(f"{office.url}/openapi.json", timeout=30).json()
    assert {"/api/v1/enroll", "/api/v1/push", "/api/v1/changes"} <= set(spec["paths"])
    reply = requests.get(f"{office.url}/api/v1/changes", timeout=30)
    assert reply.status_code == 401
    assert "enroll" in reply.json()["detail"]
    assert "X-Server-Time" in reply.headers


def test_each_page_of_changes_says_at_its_start_where_the_next_begins(
    sqlite_office: Office, make_kiosk
) -> None:
    # The kiosk asks for the next page as a page begins to arrive, before reading it whole:
    # the office's pages must begin with their cursor and whether more follow, or every page
    # of a pull would wait for the one before it to be read.
    kiosk = enrolled(sqlite_office, make_kiosk)
    token = replica.load_token(kiosk.store)
    cursor, pages = None, 0
    while True:
        reply = requests.get(
            f"{sqlite_office.url}/api/v1/changes",
            params={"limit": "2", **({"cursor": cursor} if cursor else {})},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        page = wire.ChangesPage.model_validate_json(reply.content)
        pages += 1
        assert sync_client._next_cursor(reply.content) == (page.cursor if page.more else None)
        if not page.more:
            break
        cursor = page.cursor
    assert pages > 2
    kiosk.client.sync()  # a whole pull, read ahead, leaves the kiosk where the office is
    with kiosk.store.read() as db:
        assert get_setting(db, CURSOR) == page.cursor
