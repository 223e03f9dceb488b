"""The office database: SQLite in the data folder by default, or PostgreSQL by URL."""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from kiosk.store import sqlite_engine
from sync.server.models import Setting

MIGRATIONS = Path(__file__).with_name("migrations")
DATABASE_ID = "database_id"
# Signs the office's acknowledgements to kiosks; kept when the identity changes, and in backups.
ACK_KEY = "ack_key"
# Many kiosks may push at once; a writer waits this long for SQLite's lock rather than failing.
SQLITE_BUSY_MS = 60_000
# PostgreSQL: writers take this advisory lock so change versions commit in the order they are
# numbered and a kiosk's cursor never passes a change still being written.
WRITER_LOCK = 0x4C494252


def database_url(data_dir: Path, url: str | None) -> str:
    """The URL given, else the SQLite file in the data folder."""
    if url:
        return url
    return f"sqlite:///{Path(data_dir).resolve() / 'library-server.db'}"


class Database:
    """The office's records; ``write()`` transactions are serialised, ``read()`` ones are not."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.engine: Engine = sqlite_engine(self.url, SQLITE_BUSY_MS)
            self._writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        else:
            self.engine = create_engine(self.url, pool_size=10, max_overflow=40)
            self._writer = self.engine

    @classmethod
    def open(cls, url: str) -> Database:
        db = cls(url)
        db.migrate()
        return db

    @contextmanager
    def write(self) -> Iterator[Session]:
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            if not self.is_sqlite:
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK})
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def migrate(self) -> None:
        """Create or upgrade the schema, and give a new database its identity."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        head = ScriptDirectory.from_config(config).get_current_head()
        if self.revision() != head:
            with self._writer.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        with self.write() as session:
            if session.get(Setting, DATABASE_ID) is None:
                session.add(Setting(key=DATABASE_ID, value=str(uuid.uuid4())))
            if session.get(Setting, ACK_KEY) is None:
                session.add(Setting(key=ACK_KEY, value=secrets.token_hex(32)))

    def database_id(self, session: Session) -> str:
        row = session.get(Setting, DATABASE_ID)
        assert row is not None, "migrate() gives every database an identity"
        return row.value

    def ack_proof(self, session: Session, kiosk_id: int, seq: int) -> str:
        """The office's signature of "kiosk *kiosk_id* holds everything up to *seq* here"."""
        key = session.get(Setting, ACK_KEY)
        assert key is not None, "migrate() gives every database its key"
        return hmac.new(key.value.encode(), f"{kiosk_id}:{seq}".encode(), "sha256").hexdigest()

    def new_identity(self, session: Session) -> str:
        """Give the database a new identity: every kiosk then takes a fresh full copy."""
        row = session.get(Setting, DATABASE_ID)
        assert row is not None
        row.value = str(uuid.uuid4())
        return row.value
