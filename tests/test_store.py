"""The SQLite file: connection settings, upgrades with a backup first, kiosk.toml."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, MetaData, Table, create_engine, select, text
from sqlalchemy.orm import Session

from kiosk import config, outbox
from kiosk.cli import open_data
from kiosk.config import ConfigError
from kiosk.models import Copy, Event, Loan, Patron, Setting, UtcDateTime
from kiosk.store import PAGE_CACHE_KIB, Store
from tests.conftest import TUESDAY_LUNCH, add_library, kiosk_at_version


def policy(**values: str) -> str:
    """[policies.student] as in kiosk.toml, with some values changed."""
    fields = dict(max_loans="2", loan_days="14", max_renewals="1", overdue_block_days="7")
    lines = (f"{k} = {v}" for k, v in (fields | values).items())
    return "[policies.student]\n" + "\n".join(lines) + "\n"


def test_every_connection_has_the_durability_settings(store: Store) -> None:
    with store.read() as db:
        pragma = {
            name: db.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 5000,
    }


def test_every_connection_keeps_a_small_page_cache(store: Store) -> None:
    """The kiosk runs on a Pi with 1 GB: SQLite's default 2 MB of pages per connection, filled
    by a day of scans, would be most of what the kiosk's memory grows by."""
    with store.read() as db:
        read = db.execute(text("PRAGMA cache_size")).scalar()
    with store.write() as db:
        written = db.execute(text("PRAGMA cache_size")).scalar()
    with store.transaction() as scan:
        scanned = scan.execute("PRAGMA cache_size").fetchone()[0]
    assert read == written == scanned == -PAGE_CACHE_KIB


def test_write_transaction_takes_the_lock_up_front(store: Store) -> None:
    with store.write() as db:
        db.execute(text("SELECT count(*) FROM loans"))  # a read first, as the rules do
        other = sqlite3.connect(store.path, timeout=0.05)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()


def test_half_transaction_is_never_seen(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as db:
        db.add(Loan(copy_id=1, patron_id=1, lent_at=TUESDAY_LUNCH, due_date=TUESDAY_LUNCH.date()))
        db.flush()
        raise RuntimeError("power cut")
    with store.read() as db:
        assert db.query(Loan).count() == 0


NEXT_VERSION = """
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"


def upgrade():
    with op.batch_alter_table("loans") as batch:
        batch.add_column(sa.Column("note", sa.String(), nullable=False, server_default=""))
"""


def test_upgrade_keeps_every_loan_and_backs_up_first(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A kiosk in the field with loans on it meets a new version of the software whose
    # schema changes a table (SQLite's batch mode: copy, move, drop).
    import kiosk.store as store_module

    with store.write() as db:
        db.add(Loan(copy_id=1, patron_id=1, lent_at=TUESDAY_LUNCH, due_date=TUESDAY_LUNCH.date()))
    head = store.revision()
    newer = tmp_path / "migrations"
    shutil.copytree(store_module.MIGRATIONS, newer)
    (newer / "versions" / "9999_note.py").write_text(NEXT_VERSION.format(head=head))
    monkeypatch.setattr(store_module, "MIGRATIONS", newer)

    backup = store.migrate()
    assert backup is not None and backup.exists()
    assert store.revision() == "9999"
    with sqlite3.connect(backup) as old:
        assert old.execute("SELECT count(*) FROM loans").fetchone() == (1,)
    with store.read() as db:
        assert db.execute(text("SELECT count(*), max(note) FROM loans")).one() == (1, "")
    assert store.migrate() is None  # already up to date: no second backup


def test_a_pi_left_with_the_usual_hostname_still_gets_a_name_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only the hostname is faked: this machine's cannot be changed by a test.
    monkeypatch.setattr(config.socket, "gethostname", lambda: "raspberrypi")
    ids = Path("/etc/machine-id")
    machine_id = ids.read_text(encoding="ascii").strip() if ids.exists() else ""
    assert config.machine_name() == (
        f"raspberrypi-{machine_id[:6]}" if machine_id else "raspberrypi"
    )
    monkeypatch.setattr(config.socket, "gethostname", lambda: "Library-North.school.lan")
    assert config.machine_name() == "library-north"
    assert config.KioskSettings(name=" Desk 2 ").name == "Desk 2"  # kiosk.toml's wins


def test_first_start_writes_commented_kiosk_toml(tmp_path: Path) -> None:
    store, cfg = open_data(tmp_path / "kiosk")
    store.close()
    written = (tmp_path / "kiosk" / "kiosk.toml").read_text(encoding="utf-8")
    assert "# Seconds a student has, after scanning the card" in written
    assert cfg.kiosk.session_timeout_seconds == 30
    assert cfg.kiosk.walk_away_seconds == 8
    assert cfg.kiosk.name == config.machine_name() != ""  # each kiosk its own name
    assert cfg.policies["student"].max_loans == 2
    assert len(cfg.timetable.window) == 2


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[kiosk]\nsession_timeout_seconds = -1\n", "kiosk.session_timeout_seconds"),
        ("[kiosk]\nlanguage = 'fr'\n", "kiosk.language"),
        ("[kiosk\n", "not valid TOML"),
        ("[kiosk]\ntimezone = 'Mars/Olympus'\n", "unknown time zone"),
        (
            "[[timetable.window]]\nweekdays=['mon']\nopens='14:00'\ncloses='13:00'\n",
            "closes must be later than opens",
        ),
        ("[kiosk]\nsesion_timeout_seconds = 3\n", "sesion_timeout_seconds"),
        # Values no school means, some of which would stop every loan (a date past 9999).
        (policy(loan_days="3000000"), "policies.student.loan_days: Input should be less"),
        (policy(loan_days="0"), "policies.student.loan_days: Input should be greater"),
        (policy(max_loans="1000000"), "policies.student.max_loans"),
        (policy(max_loans="true"), "policies.student.max_loans: Input should be a valid"),
        (policy(max_renewals="500"), "policies.student.max_renewals"),
        (policy(overdue_block_days="99999999"), "policies.student.overdue_block_days"),
        ("[timetable]\nclosed_dates = [9999-12-31]\n", "timetable.closed_dates.0"),
        ("[timetable]\nweek_a_starts = 1026-08-31\n", "timetable.week_a_starts"),
        ("[kiosk]\nforget_returned_after_days = 1000000000\n", "forget_returned_after_days"),
        ("[kiosk]\nsync_warning_minutes = 1e300\n", "kiosk.sync_warning_minutes"),
        ("[kiosk]\npin_lockout_minutes = 1000000000\n", "kiosk.pin_lockout_minutes"),
        ("[kiosk]\nsession_timeout_seconds = 1e300\n", "kiosk.session_timeout_seconds"),
    ],
)
def test_bad_kiosk_toml_says_what_is_wrong(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "kiosk.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as info:
        config.load(tmp_path)
    assert "kiosk.toml" in str(info.value)


def test_the_office_takes_only_rules_a_school_could_mean(tmp_path: Path) -> None:
    """The same check as kiosk.toml's, where the librarian enters the rules for every kiosk."""
    rules = tmp_path / "rules.toml"
    rules.write_text(policy(loan_days="3000000"), encoding="utf-8")
    office = [sys.executable, "-m", "sync.server.cli", "--data", str(tmp_path / "office")]
    refused = subprocess.run([*office, "rules", str(rules)], capture_output=True, text=True)
    assert refused.returncode == 1
    assert "policies.student.loan_days: Input should be less than or equal to 365" in refused.stderr
    rules.write_text(policy(loan_days="21"), encoding="utf-8")
    taken = subprocess.run([*office, "rules", str(rules)], capture_output=True, text=True)
    assert taken.returncode == 0, taken.stderr


def test_the_newest_schema_version_is_known_without_loading_alembic(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    from kiosk.store import alembic_config, head_revision

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()

    Store.open(tmp_path / "kiosk.db").close()  # made and brought up to date once
    started = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from kiosk.store import Store; "
            f"Store.open({str(tmp_path / 'kiosk.db')!r}).close(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert started.stdout.strip() == "[]"  # an everyday start loads no migration machinery


def test_an_upgraded_kiosk_keeps_the_latest_time_it_was_told_was_right(tmp_path: Path) -> None:
    # Before version 0005 the latest time seen was written with every event. A kiosk whose
    # clock ran a year ahead and was then confirmed right kept events a year ahead; after the
    # upgrade they must not count against the clock again.
    from kiosk import clock

    store = kiosk_at_version(tmp_path / "kiosk.db", "0004")
    ahead = TUESDAY_LUNCH.replace(year=TUESDAY_LUNCH.year + 1)
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO events (seq, uuid, type, at, clock, payload) "
                "VALUES (1, 'u1', 'visit', :at, 'ok', '{}')"
            ),
            {"at": ahead.astimezone(dt.UTC).replace(tzinfo=None)},
        )
        conn.execute(
            text("INSERT INTO settings (key, value) VALUES ('clock.latest_seen', :at)"),
            {"at": TUESDAY_LUNCH.isoformat()},  # confirmed right afterwards
        )
    store.migrate()
    with store.read() as db:
        assert clock.latest_seen(db) == TUESDAY_LUNCH
    store.close()


def test_an_upgraded_kiosk_that_syncs_forgets_the_returns_the_office_has(tmp_path: Path) -> None:
    # Before version 0006 such loans were forgotten at the end of the next session; from now
    # on as the office acknowledges them, so the ones acknowledged already are forgotten once.
    store = kiosk_at_version(tmp_path / "kiosk.db", "0005")
    with Session(store.engine) as db, db.begin():  # the tables of 0005 are today's
        add_library(db)
        db.add(Setting(key="sync.enrolled", value="http://office"))
        db.flush()
        ann = db.scalar(select(Patron.id).where(Patron.card == "S1"))
        copies = db.scalars(select(Copy).order_by(Copy.id).limit(2)).all()
        for seq, (loan, copy, acked) in enumerate(
            (("L-acked", copies[0], TUESDAY_LUNCH), ("L-pending", copies[1], None)), start=1
        ):
            db.add(
                Loan(
                    id=loan,
                    copy_id=copy.id,
                    patron_id=ann,
                    lent_at=TUESDAY_LUNCH,
                    due_date=TUESDAY_LUNCH.date(),
                    returned_at=TUESDAY_LUNCH,
                )
            )
            db.add(
                Event(
                    seq=seq, uuid=loan, type="return", at=TUESDAY_LUNCH, clock="ok",
                    payload={"loan": loan}, acked_at=acked,
                )
            )  # fmt: skip
    store.migrate()
    with store.read() as db:
        linked = dict(db.execute(text("SELECT id, patron_id FROM loans")).all())
    assert linked == {"L-acked": None, "L-pending": ann}  # the office has only the first return
    store.close()


@pytest.mark.parametrize(
    ("acknowledged", "waiting"),
    [((1, 2), (3, 4)), ((), (1, 2, 3, 4)), ((1, 2, 3, 4), ()), ((), ())],
    ids=["some", "none-yet", "all", "no-events"],
)
def test_an_upgraded_kiosk_sends_exactly_the_events_the_office_lacks(
    tmp_path: Path, acknowledged: tuple[int, ...], waiting: tuple[int, ...]
) -> None:
    # Version 0008 finds the events waiting for the office by their sequence, after the highest
    # one acknowledged, instead of through an index of acknowledgement times.
    from sync import replica

    store = kiosk_at_version(tmp_path / "kiosk.db", "0007")
    with Session(store.engine) as db, db.begin():
        for seq in (*acknowledged, *waiting):
            db.add(
                Event(
                    seq=seq, uuid=f"U{seq}", type="checkout", at=TUESDAY_LUNCH, clock="ok",
                    payload={"loan": f"L{seq}"},
                    acked_at=TUESDAY_LUNCH if seq in acknowledged else None,
                )
            )  # fmt: skip
    store.migrate()
    with store.read() as db:
        start = replica.first_unacked(db) or replica.last_seq(db) + 1
        sent = [event.seq for event in replica.events_from(db, start, None)]
        assert (sent, outbox.pending(db)) == (list(waiting), len(waiting))
        # Kept: when the office acknowledged each event.
        assert db.scalars(select(Event.seq).where(Event.acked_at.is_not(None))).all() == list(
            acknowledged
        )
    con = sqlite3.connect(store.path)
    indexes = [
        name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
    ]
    con.close()
    store.close()
    assert "ix_events_acked_at" not in indexes


def test_times_are_stored_as_sqlalchemy_wrote_them_before(tmp_path: Path) -> None:
    """UtcDateTime formats a time for SQLite itself (it is quicker): a file written by an older
    version, through SQLAlchemy's own formatting, must compare and sort with the new times."""
    engine = create_engine(f"sqlite:///{tmp_path / 'times.db'}")
    table = Table("times", MetaData(), Column("now", UtcDateTime), Column("before", DateTime))
    table.metadata.create_all(engine)
    moments = [
        dt.datetime(2026, 11, 24, 5, 45, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 24, 13, 45, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        dt.datetime(987, 1, 2, 3, 4, 5, 999999, tzinfo=dt.UTC),
    ]
    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            [{"now": m, "before": m.astimezone(dt.UTC).replace(tzinfo=None)} for m in moments],
        )
        same = conn.scalars(select(table.c.now == table.c.before)).all()
        read = conn.scalars(select(table.c.now).order_by(table.c.now)).all()
    engine.dispose()
    assert same == [1, 1, 1]
    assert read == sorted(moments)


def test_an_upgraded_kiosk_writes_fewer_pages_per_scan_and_keeps_every_record(
    tmp_path: Path,
) -> None:
    # Version 0007 drops what nothing reads and every scan wrote: an index of loans by copy,
    # open loans in the index of returned ones, the index of event uuids, a copy's last_borrowed.
    store = kiosk_at_version(tmp_path / "kiosk.db", "0006")
    with Session(store.engine) as db, db.begin():
        add_library(db)
        db.flush()
        copy = db.scalars(select(Copy).order_by(Copy.id)).first()
        for n, returned in enumerate((TUESDAY_LUNCH, None)):
            db.add(
                Loan(
                    id=f"L{n}", copy_id=copy.id, patron_id=1, lent_at=TUESDAY_LUNCH,
                    due_date=TUESDAY_LUNCH.date(), returned_at=returned,
                )
            )  # fmt: skip
            db.add(
                Event(
                    seq=n + 1, uuid=f"U{n}", type="checkout", at=TUESDAY_LUNCH, clock="ok",
                    payload={"loan": f"L{n}"}, acked_at=returned,
                )
            )  # fmt: skip
        db.execute(text("UPDATE copies SET last_borrowed = '2026-11-24'"))
    with store.read() as db:
        before = [
            db.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all() for t in ("loans", "events")
        ]
        copies = db.execute(text("SELECT id, barcode, status, shelf FROM copies")).all()
    store.migrate()
    con = sqlite3.connect(store.path)
    indexes = dict(con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
    loans, events = (
        con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in ("loans", "events")
    )
    kept = con.execute("SELECT id, barcode, status, shelf FROM copies").fetchall()
    columns = [row[1] for row in con.execute("PRAGMA table_info(copies)")]
    con.close()
    store.close()
    assert [loans, events] == [[tuple(r) for r in rows] for rows in before]
    assert kept == [tuple(r) for r in copies]
    assert "last_borrowed" not in columns
    assert "ix_loans_copy_id" not in indexes
    assert not any(name.startswith("sqlite_autoindex_events") for name in indexes)
    assert "one_open_loan_per_copy" in indexes
    assert indexes["returned_still_linked"].endswith(
        "WHERE patron_id IS NOT NULL AND returned_at IS NOT NULL"
    )


def test_the_upgraded_schema_is_the_models_schema(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from kiosk.models import Base

    store = Store.open(tmp_path / "kiosk.db")
    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    store.close()
    assert differences == []
