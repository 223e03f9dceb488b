"""Fixtures of the sync and server tests: a real office server process and kiosks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.server.db import database_url
from tests.conftest import FakeClock, require
from tests.sync.support import KioskUnderTest, Office, PostgresCluster, pg_bin


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


@pytest.fixture
def office(tmp_path: Path, db_url: str) -> Iterator[Office]:
    data = tmp_path / "office"
    data.mkdir(exist_ok=True)
    server = Office(data, db_url)
    server.load_library(tmp_path)
    server.start()
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
