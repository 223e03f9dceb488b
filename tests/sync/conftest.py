"""Fixtures of the sync and server tests: a real office server process and kiosks."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from sync.server.db import Database, database_url
from tests.conftest import FakeClock, require
from tests.sync.support import KioskUnderTest, Office, PostgresCluster, pg_admin, pg_bin


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster | None]:
    if pg_bin("initdb") is None or pg_bin("pg_ctl") is None:
        yield None
        return
    cluster = PostgresCluster()
    cluster.start()
    yield cluster
    cluster.stop()


# On PostgreSQL every server test runs again: with the slow tests (`make test`, CI), so that
# `make test-fast` stays quick.
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The office database: each server test runs on SQLite and on a real PostgreSQL."""
    if request.param == "sqlite":
        (tmp_path / "office").mkdir(exist_ok=True)
        return database_url(tmp_path / "office", None)
    cluster = request.getfixturevalue("postgres")
    require("postgresql", cluster is not None, "the office server's tests on PostgreSQL")
    return cluster.new_database()


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path, str], Office]:
    """``library(data, db_url)``: an office (not started) whose new database at *db_url* holds
    the conftest library, as the librarian's commands load it (Office.load_library). They run
    once for each kind of database; each office gets a copy, with an identity of its own."""
    loaded: dict[str, Office] = {}

    def office_with_library(data: Path, db_url: str) -> Office:
        url = make_url(db_url)
        kind = url.get_backend_name()
        if kind not in loaded:
            folder = tmp_path_factory.mktemp(f"library-{kind}")
            if kind == "sqlite":
                template = database_url(folder, None)
            else:  # a database of the same cluster
                name = f"library_{uuid.uuid4().hex[:12]}"
                pg_admin(url, f'CREATE DATABASE "{name}"')
                template = url.set(database=name).render_as_string(hide_password=False)
            loaded[kind] = Office(folder, template)
            loaded[kind].load_library(folder)
        data.mkdir(parents=True, exist_ok=True)
        return Office(data, db_url).copy_records(loaded[kind])

    return office_with_library


@pytest.fixture
def office_records(tmp_path: Path, db_url: str, library) -> Office:
    """The office's records with the conftest library, on SQLite and on PostgreSQL; its
    server not started."""
    return library(tmp_path / "office", db_url)


@pytest.fixture
def database(office_records: Office) -> Iterator[Database]:
    """The office's database with the conftest library (students S1 and S2 in 3-1, S5 in 5-2,
    the small librarian H1 in 6-1, the teacher T1, GONE removed), imported by its commands."""
    opened = office_records.database()
    yield opened
    opened.close()


@pytest.fixture
def office(office_records: Office) -> Iterator[Office]:
    """``library-server serve`` on loopback with the conftest library, on SQLite and on
    PostgreSQL."""
    office_records.start()
    yield office_records
    office_records.stop()


@pytest.fixture
def sqlite_office(tmp_path: Path, library) -> Iterator[Office]:
    """The server with the conftest library on SQLite only, for what is the same on both."""
    data = tmp_path / "office"
    server = library(data, database_url(data, None)).start()
    yield server
    server.stop()


@pytest.fixture
def make_kiosk(tmp_path: Path, clock: FakeClock) -> Iterator:
    made: list[KioskUnderTest] = []

    def make(name: str = "kiosk-a", *, library: bool = True, own_clock: bool = False):
        kiosk = KioskUnderTest(
            tmp_path / name, FakeClock(clock.now) if own_clock else clock, library=library
        )
        made.append(kiosk)
        return kiosk

    yield make
    for kiosk in made:
        kiosk.close()
