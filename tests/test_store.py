"""The SQLite file: connection settings, upgrades with a backup first, kiosk.toml."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from kiosk import config
from kiosk.cli import open_data
from kiosk.config import ConfigError
from kiosk.models import Loan
from kiosk.store import Store
from tests.conftest import TUESDAY_LUNCH


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
    ],
)
def test_bad_kiosk_toml_says_what_is_wrong(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "kiosk.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as info:
        config.load(tmp_path)
    assert "kiosk.toml" in str(info.value)
