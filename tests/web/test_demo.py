"""`library-server demo` (what `make demo` runs beside the kiosk): a semester played once into a
folder of its own, an office a librarian signs in to with the login it prints, its overview
showing the played semester; a second start shows the same semester without playing it again."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from sync.server.db import Database, database_url
from sync.server.models import Loan

pytestmark = pytest.mark.slow

ADDRESS = re.compile(r"office of the demo school: (http://127\.0\.0\.1:\d+)")
LOGIN = re.compile(r"sign in as '([^']+)', password '([^']+)'")


@contextmanager
def demo(data: Path) -> Iterator[tuple[str, str, str, list[str]]]:
    """The demo's office, started as `make demo` does but without the kiosk's window: its
    address, login and what it said before it was ready."""
    command = [sys.executable, "-m", "sync.server.cli", "--data", str(data), "demo"]
    process = subprocess.Popen(
        [*command, "--no-kiosk", "--small", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    said: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:  # ends if the process does
            said.append(line)
            if found := ADDRESS.search(line):
                login = LOGIN.search(process.stdout.readline())
                assert login, said
                yield found.group(1), login.group(1), login.group(2), said
                break
        else:
            pytest.fail("the demo office did not start:\n" + "".join(said))
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_the_demo_office_shows_a_played_semester_with_the_login_it_prints(
    tmp_path: Path, page: Page
) -> None:
    with demo(tmp_path) as (url, name, password, said):
        assert any("Playing a semester" in line for line in said)
        database = Database.open(database_url(tmp_path / "demo", None))
        with database.read() as session:
            lent = session.scalar(select(func.count()).select_from(Loan))
        database.close()
        assert lent and lent > 10

        page.goto(f"{url}/login")
        page.get_by_label("Name").fill(name)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("[data-figure=semester-loans]")).to_be_visible()
        shown = int(page.locator("[data-figure=semester-loans]").inner_text())
        assert 0 < shown <= lent  # the students' loans of the semester, teachers' apart

    with demo(tmp_path) as (url, _name, _password, said):
        assert not any("Playing" in line for line in said)  # played once, shown again
        page.goto(f"{url}/")
        expect(page.locator("[data-figure=semester-loans]")).to_have_text(str(shown))
