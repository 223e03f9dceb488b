"""The office's schema is made by its alembic migrations, on SQLite and on PostgreSQL, and
matches the models; the kiosk's new migration keeps its rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from kiosk.models import Copy, Title
from sync.server.db import Database
from sync.server.models import Base
from tests.conftest import kiosk_at_version


def test_migrations_make_the_schema_of_the_models(db_url: str) -> None:
    database = Database.open(db_url)
    try:
        with database.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        with database.read() as session:
            first = database.database_id(session)
        database.migrate()  # opening again changes nothing, the identity included
        with database.read() as session:
            assert database.database_id(session) == first
    finally:
        database.close()


def test_each_database_has_an_identity_of_its_own(tmp_path: Path) -> None:
    ids = set()
    for name in ("a", "b"):
        database = Database.open(f"sqlite:///{tmp_path / name}.db")
        with database.read() as session:
            ids.add(database.database_id(session))
        database.close()
    assert len(ids) == 2


def test_kiosk_upgrade_to_office_ids_keeps_the_catalogue(tmp_path: Path) -> None:
    store = kiosk_at_version(tmp_path / "kiosk.db", "0001")
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO titles (id, title, author, publisher, classification, subjects, "
            "reading_level, language, added_on) VALUES (1, 'Old Book', '', '', '', '', '', '', "
            f"'{dt.date(2026, 9, 1)}')"
        )
        conn.exec_driver_sql(
            "INSERT INTO copies (id, barcode, title_id, status, shelf) "
            "VALUES (1, 'B1', 1, 'available', '')"
        )
    backup = store.migrate()
    assert backup is not None and backup.exists()
    assert {c["name"] for c in inspect(store.engine).get_columns("copies")} >= {"server_id"}
    with store.read() as db:
        copy = db.scalar(select(Copy))
        assert (copy.barcode, copy.server_id, copy.title.title) == ("B1", None, "Old Book")
        assert db.scalar(select(Title.server_id)) is None
    store.close()
